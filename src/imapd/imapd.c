/* imapd - the IMAP4 service: listeners, limits, shared mailbox indexes,
 * login throttling */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "directory.h"
#include "imapd.h"
#include "log.h"
#include "login.h"
#include "netaddr.h"
#include "settings.h"
#include "tls.h"
#include "xalloc.h"

static struct imapd imapd;

/* ---- shared mailbox indexes ---------------------------------------- */

/* mbox_checkpoint - the WAL of a mailbox index is long: checkpoint it on
 * a writer thread (one job at a time per mailbox) */
static void
mbox_checkpoint(void *ctx)
{
	struct imapd_mbox *m = ctx;

	if (m->checkpointing)
		return;
	m->checkpointing = true;
	writer_checkpoint(&imapd, m);
}

/* imapd_mbox_get - the open index of a mailbox, shared by its sessions */
struct imapd_mbox *
imapd_mbox_get(struct imapd *d, int64_t id, const char *root,
	       const char **error_r)
{
	for (struct imapd_mbox *m = d->mboxes; m != NULL; m = m->next)
		if (m->id == id && strcmp(m->root, root) == 0) {
			m->refs++;
			return m;
		}
	struct store *st = store_open(root, error_r);
	if (st == NULL)
		return NULL;
	struct imapd_mbox *m = xcalloc(1, sizeof(*m));
	m->id = id;
	m->root = xstrdup(root);
	m->st = st;
	m->refs = 1;
	m->next = d->mboxes;
	d->mboxes = m;
	/* the loop's commits (STORE, EXPUNGE) never checkpoint inline */
	store_checkpoint_by(st, mbox_checkpoint, m);
	return m;
}

/* imapd_mbox_put - drop a reference; the index closes with the last */
void
imapd_mbox_put(struct imapd *d, struct imapd_mbox **mp)
{
	struct imapd_mbox *m = *mp;

	*mp = NULL;
	if (m == NULL || --m->refs > 0)
		return;
	for (struct imapd_mbox **pp = &d->mboxes; *pp != NULL; pp = &(*pp)->next)
		if (*pp == m) {
			*pp = m->next;
			break;
		}
	store_close(&m->st);
	free(m->root);
	free(m);
}

/* ---- the service --------------------------------------------------- */

static void
on_notify(evutil_socket_t fd, short what, void *arg)
{
	struct imapd *d = arg;

	store_notify_dispatch(d->notify);
}

/* the connection layer: limits, TLS, timeouts (lib-service/conn.h) */
static const struct conn_def imapd_conn = {
	.sid_letter = 'i',
	.protocol = "imap",
	.tls_listener = "imaps",
	.limit_setting = SETTING_imap_max_connections_per_ip,
	.login_timeout_setting = SETTING_imap_login_timeout,
	.idle_timeout_setting = SETTING_imap_idle_timeout,
	.out_high = SESSION_OUTPUT_HIGH,
	.ops = &session_ops,
};

static int
imapd_init(struct service *svc)
{
	const char *err;

	imapd.svc = svc;
	imapd.conns = conn_server_new(svc, &imapd_conn, &imapd);
	imapd.tls = conn_server_tls(imapd.conns);
	conn_server_busy_text(imapd.conns, "* BYE [UNAVAILABLE] Too many "
	    "connections from your address\r\n", NULL);
	if (writer_init(&imapd, &err) < 0)
		log_warnx("no store write threads: %s; APPEND runs on the event "
		    "loop", err);
	imapd.notify = store_notify_create(&err);
	if (imapd.notify == NULL) {
		log_warnx("no change notification: %s; IDLE reports changes only "
		    "at the next command", err);
	} else {
		imapd.notify_ev = event_new(svc->base,
		    store_notify_fd(imapd.notify), EV_READ | EV_PERSIST, on_notify,
		    &imapd);
		event_add(imapd.notify_ev, NULL);
	}
	return 0;
}

/* imap_login_init - the pre-login process (login.h): the connection
 * layer with TLS and the not-authenticated state only; no store, no
 * write threads, no change notification */
static int
imap_login_init(struct service *svc)
{
	imapd.svc = svc;
	imapd.conns = conn_server_new(svc, &imapd_conn, &imapd);
	imapd.tls = conn_server_tls(imapd.conns);
	conn_server_busy_text(imapd.conns, "* BYE [UNAVAILABLE] Too many "
	    "connections from your address\r\n", NULL);
	return 0;
}

static void
imapd_shutdown(struct service *svc)
{
	conn_server_free(&imapd.conns);   /* every session */
	writer_shutdown();  /* finishes the writes already started */
	if (imapd.notify_ev != NULL)
		event_free(imapd.notify_ev);
	imapd.notify_ev = NULL;
	store_notify_free(&imapd.notify);
	imapd.tls = NULL;   /* tls_server_ctx's, shared */
}

int
main(int argc, char **argv)
{
	static const char *const listeners[] = { "imap", "imaps", NULL };
	/* what the not-authenticated state reads (imapd_conn and
	 * plaintext_ok in session.c) */
	static const enum setting_id login_settings[] = {
		SETTING_imap_max_connections_per_ip, SETTING_imap_login_timeout,
		SETTING_imap_idle_timeout, SETTING_imap_allow_plaintext_auth,
		SETTING_auth_loopback_secure, SETTING_NONE,
	};
	static const struct login_def login = {
		.name = "imap-login",
		.settings = login_settings,
		.init = imap_login_init,
		.adopt = session_adopt,
	};
	static const struct service_def def = {
		.name = "imapd",
		.listeners = listeners,
		.init = imapd_init,
		.accept = conn_service_accept,
		.shutdown = imapd_shutdown,
		.processes_setting = SETTING_imap_processes,
		.login = &login,
	};

	store_library_init();
	return service_main(argc, argv, &def);
}
