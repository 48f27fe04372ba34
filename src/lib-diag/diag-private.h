#ifndef POSTERN_DIAG_PRIVATE_H
#define POSTERN_DIAG_PRIVATE_H

#include "diag.h"

/* Section names, in the manual's words (4.4.1). */
#define DIAG_S_VERSION   "Version information"
#define DIAG_S_DATA      "Configuration and data"
#define DIAG_S_SERVICES  "System services"
#define DIAG_S_QUEUES    "Queue status"
#define DIAG_S_HOST      "Host TCP/IP settings"
#define DIAG_S_MTA       "Message filtering/antivirus"
#define DIAG_S_SMTP      "SMTP configuration"
#define DIAG_S_RELAY     "SMTP relay settings"
#define DIAG_S_BINDINGS  "SMTP inbound bindings"
#define DIAG_S_OUT       "SMTP outgoing configuration"
#define DIAG_S_OUTQ      "SMTP outgoing queue status"
#define DIAG_S_DNS       "DNS resolution"
#define DIAG_S_PTR       "Host IP reverse lookup"
#define DIAG_S_DOMAINS   "Hosted domain resolution"
#define DIAG_S_AUTH      "Authentication"
#define DIAG_S_PO        "Post office status"

/* diag-checks.c: what the files and the config store tell */
void diag_check_versions(struct diag_report *rep, struct db *db);
void diag_check_data(struct diag_report *rep, struct db *db, const char *root);
void diag_check_services(struct diag_report *rep, const char *root);
void diag_check_queues(struct diag_report *rep, struct db *db);
void diag_check_host(struct diag_report *rep, struct db *db);
/* diag_local_addrs - the numeric addresses of this host's interfaces,
 * loopback left out (new strings; free each and the array) */
char **diag_local_addrs(size_t *n_r);
void diag_check_mta(struct diag_report *rep, struct db *db);
void diag_check_outgoing(struct diag_report *rep, struct db *db);
void diag_check_auth(struct diag_report *rep, struct db *db);
void diag_check_login_security(struct diag_report *rep, struct db *db);
void diag_check_postoffices(struct diag_report *rep, struct db *db);
/* diag-smtp.c: listeners, relay settings, the open-relay probe */
void diag_check_smtp(struct diag_report *rep, struct db *db,
		     const struct diag_options *o);
/* diag_ip_private - whether a numeric address is loopback, RFC 1918,
 * shared, link-local or unique-local (not reachable from the internet) */
bool diag_ip_private(const char *ip);
/* diag-dns.c: DNS servers, the host name, hosted domains */
void diag_check_dns(struct diag_report *rep, struct db *db,
		    const struct diag_options *o);
/* diag-content.c: the content filters (clamd, milters, rspamd) and the
 * quarantine, in the MTA's section */
void diag_check_content(struct diag_section *s, struct db *db);

/* the helpers of the checks' files (diag-checks.c, diag-queues.c,
 * diag-accounts.c) */
/* diag_age_text - "3d4h", "2h5m", "40s" */
void diag_age_text(long long s, char *out, size_t size);
/* diag_dir_names - the names in dir ending in suffix (sorted; free each
 * and the array); -1 when dir cannot be read */
int diag_dir_names(const char *dir, const char *suffix, char ***names_r,
		   size_t *n_r);
void diag_names_free(char **names, size_t n);

#endif
