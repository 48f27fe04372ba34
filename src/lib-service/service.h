#ifndef POSTERN_SERVICE_H
#define POSTERN_SERVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "db.h"
#include "settings.h"
#include "netaddr.h"
#include "settings.h"

/* The skeleton every service process runs on (Postfix's single_server,
 * in spirit): parse -d DIR, log to <root>/log/<name>.log, bind the
 * listeners named in the config store, drop root to the data root's owner,
 * run a libevent loop, report its state for `postern status`, stop
 * cleanly on SIGTERM. */

struct service;
struct conn_server;

/* One bound listener: the setting it came from ("smtp" for smtp.listen),
 * its address and socket. */
struct service_listener {
	const char *name;
	struct netaddr addr;
	int fd;
	struct evconnlistener *ev;
	struct service *svc;
};

struct service_def {
	const char *name;               /* "smtpd": log file, status */
	const char *const *listeners;   /* setting prefixes, NULL terminated */
	/* init - after binding and dropping privileges; -1 aborts start */
	int (*init)(struct service *svc);
	/* accept - a new connection on a listener (fd non-blocking) */
	void (*accept)(struct service *svc, struct service_listener *l, int fd,
		       const struct sockaddr *sa, socklen_t salen);
	/* shutdown - on SIGTERM, before the loop ends; may be NULL */
	void (*shutdown)(struct service *svc);
	/* processes_setting - the setting giving how many processes serve
	 * the listeners (pre-forked after binding, each with its own event
	 * loop and database connection, so one blocked on a disk flush does
	 * not stall the others); SETTING_NONE: one process */
	enum setting_id processes_setting;
	/* login - a pre-login process takes the listeners (login.h:
	 * privilege separation); NULL: the service's own process */
	const struct login_def *login;
};

struct service {
	const struct service_def *def;
	char *root;
	struct db *db;
	struct event_base *base;
	struct service_listener *listeners;
	size_t nlisteners;
	time_t started;
	bool stopping;
	bool state_reported;
	int worker;                     /* 0: the main process, else 1..n-1 */
	pid_t *workers;                 /* the main process's worker pids */
	size_t nworkers;
	void *ctx;                      /* the service's own state */
	struct conn_server *conns;      /* conn.h: the connection layer */
	struct login_proc *login;       /* login.h: the pre-login process
					 * (main side) or its own state */
	/* the pre-login process has no database: the settings it reads,
	 * "name", "value" pairs sent by the main process */
	char **snap;
	size_t nsnap;
	struct settings *snap_st;       /* built from snap on first use */
};

/* service_main - run a service; returns the process exit code. */
int service_main(int argc, char **argv, const struct service_def *def);
/* service_set_state - report state ("running", "idle", ...) and a note to
 * <root>/run/<name>.json, which posternd merges into `postern status`. */
void service_set_state(struct service *svc, const char *state,
		       const char *note);
/* service_settings - the settings snapshot (settings.h): the config
 * store's, or in a pre-login process (no database) the one built from
 * what the main process sent (login.h); the rules of settings_current
 * for how long it may be held */
const struct settings *service_settings(struct service *svc);
/* service_log_level - the log level of log.level (debug with
 * POSTERN_DEBUG in the environment) */
void service_log_level(const struct settings *st);
/* service_stop - leave the event loop after the current callbacks. */
void service_stop(struct service *svc);

/* Per client address connection counting (with processes_setting above
 * 1 the processes count together, in shared memory: addrtab.c). acquire
 * returns false when the address already holds limit connections. */
bool service_conn_acquire(struct service *svc, const struct sockaddr *sa,
			  int limit);
void service_conn_release(struct service *svc, const struct sockaddr *sa);
size_t service_conn_total(struct service *svc);
/* service_count_acquire - the same counters under any key shorter than
 * ADDRTAB_KEY_MAX (logins.c counts a mailbox's sessions from one address
 * so); not in service_conn_total. limit 0: no limit. */
bool service_count_acquire(struct service *svc, const char *key, int limit);
void service_count_release(struct service *svc, const char *key);

#endif
