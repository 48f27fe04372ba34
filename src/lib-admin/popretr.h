#ifndef POSTERN_ADMIN_POPRETR_H
#define POSTERN_ADMIN_POPRETR_H

#include <stdbool.h>
#include <stdint.h>

#include "db.h"

/* POP retrieval accounts (manual 5.5.8; table pop_account): mail of a
 * remote POP3 mailbox fetched into a local mailbox by the popretr
 * service. The password is stored as given: it must be sent. */

struct adm_pop_spec {
	const char *mailbox;        /* "name@postoffice" */
	const char *host;
	int port;                   /* 0: 110, or 995 with tls "tls" */
	const char *username;
	const char *password;
	bool apop;
	const char *tls;            /* "none", "starttls", "tls"; NULL: starttls */
	bool leave_on_server;
};

/* adm_pop_add - a new account; its id in *id_r. */
int adm_pop_add(struct db *db, const struct adm_pop_spec *spec, int64_t *id_r,
		const char **error_r);
int adm_pop_del(struct db *db, int64_t id, const char **error_r);
/* adm_pop_set_enabled - switch an account on or off. */
int adm_pop_set_enabled(struct db *db, int64_t id, bool enabled,
			const char **error_r);
/* adm_pop_status - record the outcome of a run (the service). */
int adm_pop_status(struct db *db, int64_t id, int64_t when, const char *status,
		   const char **error_r);

/* adm_pop_run - ask the popretr service to fetch account id now (0:
 * every account): it looks for the empty files <queue>/pr/run.all and
 * run.<id> every second. ADM_OK, ADM_NOTFOUND (no account id), or
 * ADM_FAIL with *error_r. */
int adm_pop_run(struct db *db, int64_t id, const char **error_r);

#endif
