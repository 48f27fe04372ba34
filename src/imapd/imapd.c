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

static void
refuse(struct service_listener *l, int fd, const char *text)
{
	/* on the implicit TLS port the client expects a handshake: close */
	if (strcmp(l->name, "imaps") != 0) {
		ssize_t n = write(fd, text, strlen(text));
		(void)n;
	}
	close(fd);
}

static void
imapd_accept(struct service *svc, struct service_listener *l, int fd,
	     const struct sockaddr *sa, socklen_t salen)
{
	char addr[64];
	int per_ip = (int)settings_get_int(svc->db, "imap.max_connections_per_ip",
	    50);

	sockaddr_ntop(sa, addr, sizeof(addr));
	if (strcmp(l->name, "imaps") == 0 && imapd.tls == NULL) {
		log_warnx("connection from [%s] on imaps refused: no TLS "
		    "certificate", addr);
		close(fd);
		return;
	}
	if (!service_conn_acquire(svc, sa, per_ip)) {
		log_warnx("connection from [%s] refused: "
		    "imap.max_connections_per_ip (%d) reached", addr, per_ip);
		refuse(l, fd, "* BYE [UNAVAILABLE] Too many connections from your "
		    "address\r\n");
		return;
	}
	session_start(&imapd, l, fd, sa, salen);
}

static int
imapd_init(struct service *svc)
{
	const char *err;

	imapd.svc = svc;
	imapd.tls = tls_server_ctx(svc, &err);
	if (imapd.tls == NULL)
		log_warnx("no TLS: %s; STARTTLS is not offered and imaps refuses "
		    "connections", err);
	if (auth_init(&imapd, &err) < 0) {
		log_warnx("%s", err);
		return -1;
	}
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

static void
imapd_shutdown(struct service *svc)
{
	session_free_all(&imapd);
	auth_shutdown();
	writer_shutdown();  /* finishes the writes already started */
	if (imapd.notify_ev != NULL)
		event_free(imapd.notify_ev);
	imapd.notify_ev = NULL;
	store_notify_free(&imapd.notify);
	if (imapd.tls != NULL)
		SSL_CTX_free(imapd.tls);
	imapd.tls = NULL;
}

int
main(int argc, char **argv)
{
	static const char *const listeners[] = { "imap", "imaps", NULL };
	static const struct service_def def = {
		.name = "imapd",
		.listeners = listeners,
		.init = imapd_init,
		.accept = imapd_accept,
		.shutdown = imapd_shutdown,
		.processes_setting = "imap.processes",
	};

	return service_main(argc, argv, &def);
}
