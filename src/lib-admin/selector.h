#ifndef POSTERN_ADMIN_SELECTOR_H
#define POSTERN_ADMIN_SELECTOR_H

#include <stdbool.h>

#include <jansson.h>

#include "db.h"

/* DKIM selectors of a domain (manual 5.4.4), table dkim_selector. A
 * selector is a key pair: the private key stays in the config store (see
 * docs/SECURITY.md), the public key is published as the TXT record
 * <selector>._domainkey.<domain> (`postern dkim dns`). At most one
 * selector of a domain is active: smtp-out signs with it when the domain
 * has dkim_enabled. Activating one deactivates the others; the first
 * selector added to a domain is made active. Inactive selectors stay for
 * verifiers of mail signed before (as long as their record stays in DNS).
 * Every call is one transaction, like admin.h. */

struct adm_selector_spec {
	const char *algorithm;      /* NULL: the domain's dkim_algorithm */
	int bits;                   /* RSA: 1024, 2048, 4096; 0: 2048 */
	bool test;                  /* t=y in the record */
	const char *granularity;    /* g= (a local part) or NULL */
	const char *notes;          /* for people, not published; or NULL */
	bool activate;              /* make it the active one */
	const char *private_key;    /* PEM of an existing key to import (a
				     * move from another server), NULL: a
				     * new key pair; algorithm and bits
				     * come from it */
};

/* adm_selector_add - generate a key pair and store the selector */
int adm_selector_add(struct db *db, const char *domain, const char *selector,
		     const struct adm_selector_spec *spec, const char **error_r);
/* adm_selector_activate - the one active selector of its domain */
int adm_selector_activate(struct db *db, const char *domain,
			  const char *selector, const char **error_r);
/* adm_selector_set - test_mode (yes/no), granularity or notes */
int adm_selector_set(struct db *db, const char *domain, const char *selector,
		     const char *field, const char *value, const char **error_r);
int adm_selector_del(struct db *db, const char *domain, const char *selector,
		     const char **error_r);
/* adm_selector_id - the row id (ADM_NOTFOUND when there is none) */
int adm_selector_id(struct db *db, const char *domain, const char *selector,
		    int64_t *id_r, const char **error_r);
/* adm_selector_valid - a selector name (RFC 6376 3.1: dot-separated
 * labels of letters, digits and hyphens) */
bool adm_selector_valid(const char *selector);
/* adm_selector_json - a selector of domain as the CLI and the web admin
 * show it: {domain, selector, algorithm, bits, active, test_mode,
 * granularity, notes, created, dns_name, record (the TXT record's text),
 * zone (it in zone file syntax)}; the private key is never read.
 * selector NULL: the active one; "*": an array of every selector. */
int adm_selector_json(struct db *db, const char *domain, const char *selector,
		      json_t **v_r, const char **error_r);

#endif
