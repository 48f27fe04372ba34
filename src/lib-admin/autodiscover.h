#ifndef POSTERN_ADMIN_AUTODISCOVER_H
#define POSTERN_ADMIN_AUTODISCOVER_H

#include <stdbool.h>
#include <stddef.h>

#include "db.h"

/* Autodiscover entries of a domain (manual 5.4.5; table autodiscover):
 * which servers mail clients should use for the domain's addresses. The
 * HTTP service answers Outlook autodiscover and Thunderbird autoconfig
 * from them; a domain without entries gets the derived ones (below).
 *
 * protocol: imap, pop3 or smtp; security: tls (implicit, 993/995/465),
 * starttls (143/110/587) or none. */

struct adm_autodiscover {
	char *protocol;
	char *host;
	int port;
	char *security;
};

/* adm_autodiscover_list - the entries of domain in the order clients
 * should prefer them (imap, pop3, smtp; tls first). ADM_NOTFOUND: no
 * such domain. */
int adm_autodiscover_list(struct db *db, const char *domain,
			  struct adm_autodiscover **v_r, size_t *n_r,
			  const char **error_r);
/* adm_autodiscover_add - one entry; port 0: the protocol's port for the
 * security (993 for imap/tls ...). */
int adm_autodiscover_add(struct db *db, const char *domain,
			 const char *protocol, const char *host, int port,
			 const char *security, const char **error_r);
/* adm_autodiscover_del - entries of protocol (host NULL: any host, port
 * 0: any port); ADM_NOTFOUND when none matched. */
int adm_autodiscover_del(struct db *db, const char *domain,
			 const char *protocol, const char *host, int port,
			 const char **error_r);
/* adm_autodiscover_derive - the entries this server offers: one per
 * listener setting that is set (imaps, imap, pop3s, pop3, smtps,
 * submission) with its port, on host server.hostname. */
void adm_autodiscover_derive(struct db *db, struct adm_autodiscover **v_r,
			     size_t *n_r);
/* adm_autodiscover_detect - replace the entries of domain with the
 * derived ones (manual 5.4.5 "Detect..."); *n_r: how many. */
int adm_autodiscover_detect(struct db *db, const char *domain, size_t *n_r,
			    const char **error_r);
void adm_autodiscover_free(struct adm_autodiscover *v, size_t n);

/* adm_autodiscover_login - the login a mail client should use for email,
 * an address of a domain of post office postoffice (new string): the
 * address itself when allow_address_login is set, else the mailbox the
 * address belongs to (sales@acme.test on mailbox bob: "bob@acme", the
 * login that works), else local-part@postoffice. Catch-all routes do not
 * count: they would name another person's mailbox. */
char *adm_autodiscover_login(struct db *db, const char *email,
			     const char *postoffice, bool address_login);

#endif
