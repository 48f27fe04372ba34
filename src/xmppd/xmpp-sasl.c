/* xmpp-sasl - SASL on client streams (RFC 6120 6): PLAIN checked by
 * the auth pool with throttling and a delay per failure, EXTERNAL for
 * webmail sessions over WebSocket, login revocation (part of xmppd,
 * xmppd-int.h) */
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
sasl_send(struct xsess *s, const char *what)
{
	char *x = xasprintf("<%s xmlns='" NS_SASL "'/>", what);

	xsess_send_raw(s, x);
	free(x);
}

/* sasl_failure_xml - <failure/> with a condition and an optional text
 * (new string) */
static char *
sasl_failure_xml(const char *cond, const char *text)
{
	struct buf b;

	buf_init(&b, 0);
	buf_printf(&b, "<failure xmlns='" NS_SASL "'><%s/>", cond);
	if (text != NULL) {
		buf_puts(&b, "<text xml:lang='en'>");
		xml_escape(&b, text);
		buf_puts(&b, "</text>");
	}
	buf_puts(&b, "</failure>");
	return buf_steal(&b);
}

static void
sasl_failure(struct xsess *s, const char *cond, const char *text)
{
	char *x = sasl_failure_xml(cond, text);

	xsess_send_raw(s, x);
	free(x);
}

static void
on_delay(evutil_socket_t fd, short what, void *arg)
{
	struct xsess *s = arg;

	(void)fd;
	(void)what;
	s->busy = false;
	xsess_send_raw(s, s->delay_xml);
	xfree(&s->delay_xml);
	if (s->auth_failures >= MAX_AUTH_FAILURES) {
		stream_error(s, "policy-violation", "too many failed logins");
		return;
	}
	xmpp_sess_input(s);
}

/* login_failed - count the failure, answer after a delay */
static void
login_failed(struct xsess *s, const char *cond, const char *text)
{
	throttle_failed(xsrv.svc, (struct sockaddr *)&s->c->sa);
	s->auth_failures++;
	free(s->delay_xml);
	s->delay_xml = sasl_failure_xml(cond, text);
	s->busy = true;
	if (s->delay_ev == NULL)
		s->delay_ev = evtimer_new(xsrv.svc->base, on_delay, s);
	struct timeval tv = { 0, FAIL_DELAY_MS * 1000 };
	evtimer_add(s->delay_ev, &tv);
}

static void
on_revoked(void *ctx)
{
	struct xsess *s = ctx;

	log_info("xmpp %s: credentials revoked, closing",
	    s->full ? s->full : s->owner);
	stream_error(s, "not-authorized", "your credentials were changed or "
	    "revoked; log in again");
}

/* on_web_expiry - a stream signed in by a webmail session (SASL
 * EXTERNAL, websocket.c) at the time that session expires: nothing
 * writes the config store then, so the revocation sweep would not look;
 * check now, and again at the new expiry if the webmail was used
 * meanwhile */
static void web_watch(struct xsess *s);

static void
on_web_expiry(evutil_socket_t fd, short what, void *arg)
{
	struct xsess *s = arg;

	(void)fd;
	(void)what;
	if (s->reg == NULL)
		return;
	if (service_login_valid(&s->reg))
		web_watch(s);
	else
		on_revoked(s);
}

/* web_watch - arm the expiry timer of s's webmail session */
static void
web_watch(struct xsess *s)
{
	const char *err;
	int64_t until, now = time(NULL);
	int r = dir_web_session_current(xsrv.svc->db, s->web_session,
	    s->mailbox_id, now, &until, &err);

	if (r < 0) {
		/* look again in a minute */
		log_warnx("xmpp c%" PRIu64 " web session %" PRId64 ": %s",
		    s->c != NULL ? s->c->id : 0, s->web_session, err);
		until = now + 60;
	} else if (r == 0) {
		until = now;    /* gone already: the check says goodbye */
	}
	if (s->web_ev == NULL)
		s->web_ev = evtimer_new(xsrv.svc->base, on_web_expiry, s);
	struct timeval tv = { (time_t)(until > now ? until - now : 0), 0 };
	evtimer_add(s->web_ev, &tv);
}

static void login_success(struct xsess *s);

/* xmpp_login_done - the answer of the password check */
void
xmpp_login_done(void *ctx, enum dir_auth_result r, const struct dir_mailbox *mb,
	   const char *err)
{
	struct xsess *s = ctx;
	int limit;

	s->auth_req = NULL;
	s->busy = false;
	switch (r) {
	case DIR_AUTH_OK:
		break;
	case DIR_AUTH_FAILED:
		log_info("xmpp c%" PRIu64 " %s: login failed", s->c->id,
		    s->c->addr);
		login_failed(s, "not-authorized", NULL);
		return;
	case DIR_AUTH_DISABLED:
		log_info("xmpp c%" PRIu64 " %s: login refused: disabled",
		    s->c->id, s->c->addr);
		sasl_failure(s, "account-disabled", "this mailbox is disabled");
		xmpp_sess_input(s);
		return;
	case DIR_AUTH_PREVENTED:
		log_info("xmpp c%" PRIu64 " %s: login refused: authentication "
		    "prevented", s->c->id, s->c->addr);
		sasl_failure(s, "account-disabled", "logins are not allowed "
		    "for this mailbox");
		xmpp_sess_input(s);
		return;
	default:
		log_warnx("xmpp c%" PRIu64 " authenticate: %s", s->c->id,
		    err ? err : "error");
		sasl_failure(s, "temporary-auth-failure", NULL);
		xmpp_sess_input(s);
		return;
	}
	if (mb->postoffice_id != s->po_id) {
		/* the password is right, but for a user of another post
		 * office: this domain's users only */
		log_info("xmpp c%" PRIu64 " %s: login refused: %s@%s is not a "
		    "user of %s", s->c->id, s->c->addr, mb->name,
		    mb->postoffice, s->domain);
		login_failed(s, "not-authorized", NULL);
		return;
	}
	limit = (int)settings_current(xsrv.svc->db)->xmpp_max_userip_connections;
	if (!service_login_start(xsrv.svc, &s->reg,
	    (struct sockaddr *)&s->c->sa, mb, limit, on_revoked, s)) {
		log_info("xmpp c%" PRIu64 " %s: login refused: over "
		    "xmpp.max_userip_connections (%d)", s->c->id, s->c->addr,
		    limit);
		sasl_failure(s, "temporary-auth-failure", "too many sessions "
		    "of this user from your address");
		xmpp_sess_input(s);
		return;
	}
	s->local = xstrdup(mb->name);
	str_lower(s->local);
	s->owner = xasprintf("%s@%s", s->local, mb->postoffice);
	str_lower(s->owner);
	s->mailbox_id = mb->id;
	s->bare = xasprintf("%s@%s", s->local, s->domain);
	if (DIR_CREDENTIAL_IS_WEB(mb->credential))
		web_watch(s);
	login_success(s);
}

/* login_success - s->local, owner and bare are set: logged in */
static void
login_success(struct xsess *s)
{
	throttle_ok(xsrv.svc, (struct sockaddr *)&s->c->sa);
	s->authed = true;
	log_info("xmpp c%" PRIu64 " %s: login %s%s", s->c->id, s->c->addr,
	    s->bare, s->c->tls ? " (TLS)" : "");
	sasl_send(s, "success");
	xconn_set_timeout(s->c, (int)settings_current(xsrv.svc->db)->xmpp_idle_timeout);
	xmpp_stream_restart(s);
	xmpp_sess_input(s);
}

/* sasl_plain - a PLAIN message, base64 (RFC 4616, RFC 6120 6.4.2) */
static void
sasl_plain(struct xsess *s, const char *b64)
{
	struct buf msg;
	const char *authzid, *authcid, *pass;
	char *login;
	int r;

	s->sasl_wait = false;
	buf_init(&msg, PLAIN_MAX);
	if (strcmp(b64, "=") == 0)
		b64 = "";
	if (smtp_base64_decode(b64, strlen(b64), &msg) < 0 || msg.len == 0) {
		buf_free(&msg);
		sasl_failure(s, "incorrect-encoding", NULL);
		return;
	}
	r = smtp_sasl_plain(msg.data, msg.len, &authzid, &authcid, &pass);
	if (r == SMTP_SASL_NUL || r < 0 || *authcid == '\0') {
		explicit_bzero(msg.data, msg.len);
		buf_free(&msg);
		if (r == SMTP_SASL_NUL)
			login_failed(s, "not-authorized", NULL);
		else
			sasl_failure(s, "malformed-request", NULL);
		return;
	}
	if (throttle_blocked(xsrv.svc, (struct sockaddr *)&s->c->sa)) {
		explicit_bzero(msg.data, msg.len);
		buf_free(&msg);
		log_info("xmpp c%" PRIu64 " %s: login refused: too many "
		    "failures", s->c->id, s->c->addr);
		login_failed(s, "temporary-auth-failure", "too many failed "
		    "logins from your address; try again later");
		return;
	}
	/* the authcid is the JID's local part (a mailbox name, or with
	 * '@' an address when the post office allows address logins) */
	if (strchr(authcid, '@') != NULL)
		login = xstrdup(authcid);
	else
		login = xasprintf("%s@%s", authcid, s->po);
	if (*authzid != '\0') {
		/* only as oneself: the bare JID being logged in as */
		char *want = strchr(authcid, '@') ? xstrdup(authcid) :
		    xasprintf("%s@%s", authcid, s->domain);
		bool same = str_eq_ci(authzid, want);
		free(want);
		if (!same) {
			explicit_bzero(msg.data, msg.len);
			buf_free(&msg);
			free(login);
			sasl_failure(s, "invalid-authzid", NULL);
			return;
		}
	}
	/* an external contact (guest.c): the chat store, not the directory */
	bool guest_ok;
	if (guest_login(s, authcid, pass, &guest_ok)) {
		explicit_bzero(msg.data, msg.len);
		buf_free(&msg);
		free(login);
		if (guest_ok)
			login_success(s);
		else {
			log_info("xmpp c%" PRIu64 " %s: guest login failed",
			    s->c->id, s->c->addr);
			login_failed(s, "not-authorized", NULL);
		}
		return;
	}
	s->busy = true;
	/* with the client: login security (loginsec.h) takes only app
	 * passwords for a two-factor mailbox and applies country policies */
	s->auth_req = auth_pool_submit_client(xsrv.auth, login, pass,
	    &(struct dir_client){ "xmpp", s->c->addr }, xmpp_login_done, s);
	explicit_bzero(msg.data, msg.len);
	buf_free(&msg);
	free(login);
}

void
xmpp_sasl_stanza(struct xsess *s, struct xml_node *n)
{
	char *text = xml_node_text(n);

	if (strcmp(n->name, "abort") == 0) {
		s->sasl_wait = false;
		sasl_failure(s, "aborted", NULL);
	} else if (strcmp(n->name, "response") == 0) {
		if (!s->sasl_wait)
			sasl_failure(s, "malformed-request", "no exchange "
			    "under way");
		else
			sasl_plain(s, text);
	} else if (strcmp(n->name, "auth") == 0) {
		const char *mech = xml_node_attr(n, "mechanism");
		if (mech != NULL && strcmp(mech, "EXTERNAL") == 0 &&
		    s->websocket)
			websocket_sasl_external(s, text);
		else if (!xmpp_plaintext_ok(s))
			sasl_failure(s, "encryption-required", "start TLS "
			    "first");
		else if (mech == NULL || strcmp(mech, "PLAIN") != 0)
			sasl_failure(s, "invalid-mechanism", "PLAIN only: "
			    "passwords are stored hashed (no SCRAM secrets)");
		else if (*text == '\0') {
			s->sasl_wait = true;
			xsess_send_raw(s, "<challenge xmlns='" NS_SASL "'/>");
		} else
			sasl_plain(s, text);
	} else
		stream_error(s, "unsupported-stanza-type", NULL);
	explicit_bzero(text, strlen(text));
	free(text);
}
