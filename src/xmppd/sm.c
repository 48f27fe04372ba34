/* sm - stream management (XEP-0198): acks, hibernation of a dropped
 * resumable session, resumption, unacknowledged stanzas to offline
 * storage (part of xmppd, xmppd-int.h) */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "buf.h"
#include "db.h"
#include "directory.h"
#include "fsutil.h"
#include "guest.h"
#include "log.h"
#include "settings.h"
#include "smtp-parser.h"
#include "throttle.h"
#include "tls.h"
#include "xalloc.h"
#include "xmppd.h"
#include "xmppd-int.h"

static void
sm_failed(struct xsess *s, const char *cond)
{
	char *x = xasprintf("<failed xmlns='" NS_SM "'><%s xmlns='"
	    NS_STANZAS "'/></failed>", cond);

	xsess_send_raw(s, x);
	free(x);
}

/* sm_ack - the client handled h stanzas: forget them; false after a
 * stream error for a count we never sent */
static bool
sm_ack(struct xsess *s, const char *hs)
{
	long long h;

	if (hs == NULL || parse_long(hs, 0, UINT32_MAX, &h) < 0) {
		stream_error(s, "bad-format", "h must be a number");
		return false;
	}
	/* counts wrap at 2^32 (XEP-0198 4) */
	uint32_t n = (uint32_t)h - s->acked;
	if (n > s->h_out - s->acked) {
		stream_error(s, "undefined-condition", "handled-count-too-high");
		return false;
	}
	for (uint32_t i = 0; i < n; i++)
		free(s->unacked[i]);
	memmove(s->unacked, s->unacked + n,
	    (s->h_out - s->acked - n) * sizeof(char *));
	s->acked += n;
	return true;
}

static void
sm_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct xsess *s = arg;

	(void)fd;
	(void)what;
	if (s->hibernating || s->dead) {
		log_info("xmpp %s: not resumed: ending the session", s->full);
		xmpp_sess_free(s);
		return;
	}
	xmpp_sess_input(s);          /* a resumed stream's pipelined input */
}

static void
sm_timer(struct xsess *s, int secs)
{
	struct timeval tv = { secs, 0 };

	if (s->sm_ev == NULL)
		s->sm_ev = evtimer_new(xsrv.svc->base, sm_on_timer, s);
	evtimer_add(s->sm_ev, &tv);
}

void
xmpp_sm_end_later(struct xsess *s)
{
	s->dead = true;
	sm_timer(s, 0);
}

/* xmpp_sm_hibernate - the connection of a resumable stream dropped: keep the
 * session (still available, stanzas queued) for SM_RESUME_SECS */
void
xmpp_sm_hibernate(struct xsess *s)
{
	log_info("xmpp c%" PRIu64 " %s: connection lost; resumable for %d s",
	    s->c->id, s->full, SM_RESUME_SECS);
	xconn_free(&s->c);
	xml_stream_free(&s->xs);
	s->hibernating = true;
	sm_timer(s, SM_RESUME_SECS);
}

static void
free_shell(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	free(arg);
}

/* xmpp_sm_resume - XEP-0198 5: the new stream s (logged in, not bound) takes
 * over the session previd of the same user */
void
xmpp_sm_resume(struct xsess *s, struct xml_node *n)
{
	const char *previd = xml_node_attr(n, "previd");
	struct xuser *u = xuser_find(s->owner);
	struct xsess *old = NULL;
	struct timeval zero = { 0, 0 };
	char *x;

	for (struct xsess *t = u ? u->sessions : NULL; t != NULL; t = t->unext)
		if (t->sm_resume && !t->dead && previd != NULL &&
		    strcmp(t->sm_id, previd) == 0)
			old = t;
	if (old == NULL) {
		sm_failed(s, "item-not-found");
		return;
	}
	if (!sm_ack(old, xml_node_attr(n, "h")))
		return;
	if (old->c != NULL) {
		/* the client came back before we saw the old connection go */
		xconn_free(&old->c);
		xml_stream_free(&old->xs);
	}
	log_info("xmpp c%" PRIu64 " %s: resumed (%u stanzas to resend)",
	    s->c->id, old->full, old->h_out - old->acked);
	/* the connection, parser and stream move to the old session; the
	 * new one's login registration goes (the old one's stays) */
	old->c = s->c;
	old->c->ctx = old;
	old->xs = s->xs;
	old->header_sent = true;
	old->hibernating = false;
	s->c = NULL;
	s->xs = NULL;
	service_login_end(&s->reg);
	xmpp_store_flush();
	x = xasprintf("<resumed xmlns='" NS_SM "' previd='%s' h='%u'/>",
	    old->sm_id, old->h_in);
	xsess_send_raw(old, x);
	free(x);
	for (uint32_t i = 0; i < old->h_out - old->acked; i++)
		xsess_send_raw(old, old->unacked[i]);
	xsess_send_raw(old, "<r xmlns='" NS_SM "'/>");
	xconn_set_timeout(old->c, (int)settings_current(xsrv.svc->db)->xmpp_idle_timeout);
	sm_timer(old, 0);       /* then its input, already buffered */
	/* the shell: out of the lists now, freed once its input loop has
	 * returned */
	s->dead = true;
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		xsrv.sessions = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	if (s->delay_ev != NULL)
		event_free(s->delay_ev);
	if (s->web_ev != NULL)
		event_free(s->web_ev);
	free(s->delay_xml);
	free(s->domain);
	free(s->local);
	free(s->owner);
	free(s->bare);
	free(s->full);
	free(s->resource);
	free(s->guest_of);
	event_base_once(xsrv.svc->base, -1, EV_TIMEOUT, free_shell, s, &zero);
}

void
xmpp_sm_nonza(struct xsess *s, struct xml_node *n)
{
	if (strcmp(n->name, "r") == 0 && s->sm) {
		/* what <a/> counts as handled is on disk first */
		xmpp_store_flush();
		char *x = xasprintf("<a xmlns='" NS_SM "' h='%u'/>", s->h_in);
		xsess_send_raw(s, x);
		free(x);
	} else if (strcmp(n->name, "a") == 0 && s->sm) {
		sm_ack(s, xml_node_attr(n, "h"));
	} else if (strcmp(n->name, "enable") == 0) {
		if (s->state != XS_BOUND || s->sm) {
			sm_failed(s, "unexpected-request");
			return;
		}
		const char *r = xml_node_attr(n, "resume");
		unsigned char rnd[16];
		random_bytes(rnd, sizeof(rnd));
		for (size_t i = 0; i < sizeof(rnd); i++)
			snprintf(s->sm_id + 2 * i, 3, "%02x", rnd[i]);
		s->sm = true;
		s->sm_resume = r != NULL && (strcmp(r, "true") == 0 ||
		    strcmp(r, "1") == 0);
		char *x = s->sm_resume ? xasprintf("<enabled xmlns='" NS_SM
		    "' id='%s' resume='true' max='%d'/>", s->sm_id,
		    SM_RESUME_SECS) : xstrdup("<enabled xmlns='" NS_SM "'/>");
		xsess_send_raw(s, x);
		free(x);
	} else if (strcmp(n->name, "resume") == 0) {
		if (s->state != XS_AUTHED) {
			sm_failed(s, "unexpected-request");
			return;
		}
		xmpp_sm_resume(s, n);
	} else
		stream_error(s, "unsupported-stanza-type", NULL);
}

/* xmpp_sm_store_unacked - a session ends with messages the client never
 * acknowledged: they go to offline storage rather than being lost */
void
xmpp_sm_store_unacked(struct xsess *s)
{
	const char *err;

	for (uint32_t i = 0; i < s->h_out - s->acked; i++) {
		const char *x = s->unacked[i];
		if (strncmp(x, "<message", 8) == 0 &&
		    strstr(x, NS_CARBONS) == NULL &&
		    strstr(x, "type='error'") == NULL &&
		    strstr(x, "type='groupchat'") == NULL &&
		    strstr(x, "type='headline'") == NULL &&
		    chat_offline_add(xsrv.store, s->owner, x, &err) < 0)
			log_warnx("xmpp %s: offline store: %s", s->owner, err);
		free(s->unacked[i]);
	}
	free(s->unacked);
	s->unacked = NULL;
	s->acked = s->h_out;
}
