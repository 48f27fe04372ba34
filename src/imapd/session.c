/* session - one IMAP connection: input framing, command dispatch, the
 * non-mailbox commands (CAPABILITY, LOGIN, AUTHENTICATE, STARTTLS, ID,
 * ENABLE, IDLE, LOGOUT) */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>

#include "directory.h"
#include "fetch.h"
#include "fsutil.h"
#include "imapd.h"
#include "log.h"
#include "login.h"
#include "logins.h"
#include "netaddr.h"
#include "notify.h"
#include "search.h"
#include "settings.h"
#include "throttle.h"
#include "tls.h"
#include "view.h"
#include "xalloc.h"

static void on_read(struct conn *c);

/* session_write - queue bytes for the client */
void
session_write(struct session *s, const void *data, size_t len)
{
	if (s->bev != NULL)
		bufferevent_write(s->bev, data, len);
}

/* session_printf - queue a formatted response */
void
session_printf(struct session *s, const char *fmt, ...)
{
	va_list ap;

	if (s->bev == NULL)
		return;
	va_start(ap, fmt);
	evbuffer_add_vprintf(bufferevent_get_output(s->bev), fmt, ap);
	va_end(ap);
}

/* session_tagged - "<tag> <status> <text>\r\n" */
void
session_tagged(struct session *s, const char *tag, const char *status,
	       const char *fmt, ...)
{
	va_list ap;

	if (s->bev == NULL)
		return;
	/* CONTEXT=SEARCH: what the command changed, before its end */
	if (s->sctx != NULL && s->state == ST_SELECTED)
		search_ctx_refresh(s);
	struct evbuffer *out = bufferevent_get_output(s->bev);
	evbuffer_add_printf(out, "%s %s ", tag, status);
	va_start(ap, fmt);
	evbuffer_add_vprintf(out, fmt, ap);
	va_end(ap);
	evbuffer_add(out, "\r\n", 2);
}

/* plaintext_ok - whether a password may be sent on this connection: over
 * TLS, from a loopback client (auth.loopback_secure, as Dovecot treats
 * localhost), or anywhere with imap.allow_plaintext_auth */
static bool
plaintext_ok(struct session *s)
{
	/* also in the pre-login process, which has no database */
	const struct settings *st = service_settings(s->d->svc);

	if (s->c->tls || st->imap_allow_plaintext_auth)
		return true;
	return sockaddr_is_loopback((struct sockaddr *)&s->ss) &&
	    st->auth_loopback_secure;
}

/* plaintext_refuse - NO [PRIVACYREQUIRED] to a password sent in clear */
static bool
plaintext_refuse(struct session *s, const char *tag)
{
	if (plaintext_ok(s))
		return false;
	log_info("%s: plaintext login refused from [%s]: no TLS", s->sid,
	    s->addr);
	session_tagged(s, tag, "NO", "[PRIVACYREQUIRED] Plaintext "
	    "authentication is disabled on non-TLS connections: use STARTTLS "
	    "or IMAPS");
	return true;
}

/* session_capability - the capability list for the session's state */
const char *
session_capability(struct session *s)
{
	static char cap[600];

	snprintf(cap, sizeof(cap), "IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID "
	    "ENABLE IDLE%s%s%s",
	    !s->c->tls && s->d->tls != NULL && s->state == ST_NOAUTH ?
	    " STARTTLS" : "",
	    s->state != ST_NOAUTH ? "" : plaintext_ok(s) ? " AUTH=PLAIN" :
	    " LOGINDISABLED",
	    s->state == ST_NOAUTH ? "" : " NAMESPACE UNSELECT UIDPLUS MULTIAPPEND CATENATE MOVE "
	    "CHILDREN SPECIAL-USE LIST-EXTENDED LIST-STATUS CONDSTORE QRESYNC ESEARCH "
	    "OBJECTID NOTIFY CONTEXT=SEARCH CONTEXT=SORT "
	    "BINARY STATUS=SIZE QUOTA QUOTA=RES-STORAGE SORT SORT=DISPLAY ESORT PARTIAL "
	    "THREAD=ORDEREDSUBJECT THREAD=REFERENCES UTF8=ACCEPT URLAUTH URLAUTH=BINARY");
	return cap;
}

/* session_free - release everything the session holds */
static void
session_free(struct session *s)
{
	fetch_job_free(&s->job);
	search_job_free(&s->sjob);
	writer_forget(s);
	notify_free(s);
	session_deselect(s);
	imapd_mbox_put(s->d, &s->mbox);
	service_login_end(&s->reg);
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		s->d->list = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	imap_parser_free(&s->parser);
	free(s->pending_tag);
	free(s->auth_tag);
	free(s->user);
	free(s);
}

/* on_teardown - the connection goes: free the session, or, when a handler
 * of it is still running (session_hold), once that handler is done. The
 * connection is gone either way: s->c and s->bev are cleared, nothing
 * more is read or sent. */
static void
on_teardown(struct conn *c)
{
	struct session *s = c->ctx;

	if (s == NULL)
		return;
	c->ctx = NULL;
	s->c = NULL;
	s->bev = NULL;
	s->in = IN_CLOSING;
	s->state = ST_LOGOUT;
	if (s->hold > 0) {
		s->gone = true;
		return;
	}
	session_free(s);
}

/* session_hold - see imapd.h */
void
session_hold(struct session *s)
{
	s->hold++;
}

/* session_release - see imapd.h */
bool
session_release(struct session *s)
{
	if (--s->hold > 0 || !s->gone)
		return true;
	session_free(s);
	return false;
}

/* session_close - say nothing more; the connection layer frees the
 * connection once the output is out (on_teardown), possibly at once: the
 * caller holds s (session_hold) or touches it no more */
static void
session_close(struct session *s)
{
	s->in = IN_CLOSING;
	s->state = ST_LOGOUT;
	if (s->c != NULL)
		conn_close(s->c, 10);
}

/* ---- commands without a mailbox ------------------------------------ */

static void
cmd_capability(struct session *s, const char *tag, const struct imap_arg *a,
	       size_t n, bool uid)
{
	session_printf(s, "* CAPABILITY %s\r\n", session_capability(s));
	session_tagged(s, tag, "OK", "CAPABILITY completed");
}

static void
cmd_logout(struct session *s, const char *tag, const struct imap_arg *a,
	   size_t n, bool uid)
{
	session_printf(s, "* BYE Logging out\r\n");
	session_tagged(s, tag, "OK", "LOGOUT completed");
	session_close(s);
}

static void
cmd_id(struct session *s, const char *tag, const struct imap_arg *a,
       size_t n, bool uid)
{
	if (n != 1 || (a[0].type != IMAP_ARG_LIST && !imap_arg_is_atom(&a[0], "NIL"))) {
		session_tagged(s, tag, "BAD", "Syntax: ID (params) or ID NIL");
		return;
	}
	session_printf(s, "* ID (\"name\" \"Postern\" \"version\" \"0.1.0\")\r\n");
	session_tagged(s, tag, "OK", "ID completed");
}

static void
cmd_enable(struct session *s, const char *tag, const struct imap_arg *a,
	   size_t n, bool uid)
{
	struct buf en;

	if (n == 0) {
		session_tagged(s, tag, "BAD", "Syntax: ENABLE capability...");
		return;
	}
	buf_init(&en, 0);
	for (size_t i = 0; i < n; i++) {
		if (imap_arg_is_atom(&a[i], "CONDSTORE") && !s->condstore) {
			s->condstore = true;
			buf_puts(&en, " CONDSTORE");
		} else if (imap_arg_is_atom(&a[i], "QRESYNC") && !s->qresync) {
			/* QRESYNC implies CONDSTORE (RFC 7162 3.2.3) */
			s->qresync = true;
			s->condstore = true;
			buf_puts(&en, " QRESYNC");
		} else if (imap_arg_is_atom(&a[i], "UTF8=ACCEPT") && !s->utf8) {
			/* mailbox names in UTF-8, APPEND's UTF8 data */
			s->utf8 = true;
			buf_puts(&en, " UTF8=ACCEPT");
		} else if (imap_arg_is_atom(&a[i], "IMAP4rev2") && !s->rev2) {
			/* IMAP4rev2 has UTF-8 mailbox names (RFC 9051 5.1;
			 * RFC 9755: it includes all of UTF8=ACCEPT) */
			s->rev2 = true;
			s->utf8 = true;
			buf_puts(&en, " IMAP4rev2");
		}
	}
	session_printf(s, "* ENABLED%s\r\n", en.data ? en.data : "");
	buf_free(&en);
	session_tagged(s, tag, "OK", "ENABLE completed");
}

/* login_nul - a NUL byte in a user name or password (a literal may hold
 * one): a failed login, counted like one; cut at the NUL, the password
 * could match a shorter one */
static void login_handed(struct conn *c, bool ok, const char *text);

static void
login_nul(struct session *s, const char *tag)
{
	if (login_side(s->d->svc)) {
		/* the post-login process counts it, as any failed login */
		free(s->auth_tag);
		s->auth_tag = xasprintf("%s ", tag);
		login_submit(s->c, "", 1, "", 0, tag, login_handed);
		return;
	}
	throttle_failed(s->d->svc, (struct sockaddr *)&s->ss);
	log_info("%s: login failed from [%s]: NUL byte in the user name or "
	    "password", s->sid, s->addr);
	session_tagged(s, tag, "NO", "[AUTHENTICATIONFAILED] Authentication "
	    "failed");
}

static void login_checked(struct conn *c, enum dir_auth_result r,
			  const struct dir_mailbox *mb, const char *err);

/* login - hand the credentials to the password pool (conn_auth); reading
 * stops until the answer is in (login_checked) */
static void
login(struct session *s, const char *tag, const char *user, const char *pass)
{
	if (login_side(s->d->svc)) {
		/* pre-login process: the post-login process checks the
		 * password, opens the mailbox and answers (login.h); the tag
		 * goes with it for the tagged answer */
		if (strlen(tag) >= sizeof(((struct login_request *)NULL)->extra)) {
			session_tagged(s, tag, "BAD", "Tag too long");
			return;
		}
		free(s->auth_tag);
		s->auth_tag = xasprintf("%s %s", tag, user);
		login_submit(s->c, user, strlen(user), pass, strlen(pass), tag,
		    login_handed);
		return;
	}
	if (throttle_blocked(s->d->svc, (struct sockaddr *)&s->ss)) {
		log_info("%s: login refused from [%s]: too many failures", s->sid,
		    s->addr);
		session_tagged(s, tag, "NO", "[UNAVAILABLE] Too many failed logins "
		    "from your address, try again later");
		return;
	}
	/* "tag login": a tag holds no space */
	free(s->auth_tag);
	s->auth_tag = xasprintf("%s %s", tag, user);
	conn_auth(s->c, user, pass, login_checked);
}

/* on_revoked - the mailbox's password changed, or it (or its post office)
 * was disabled or deleted: BYE now, even in IDLE or inside a FETCH */
static void
on_revoked(void *ctx)
{
	struct session *s = ctx;

	if (s->in == IN_CLOSING)
		return;
	log_info("%s: %s: credentials revoked, closing", s->sid, s->user);
	fetch_job_free(&s->job);
	session_printf(s, "* BYE [UNAVAILABLE] Your credentials were changed "
	    "or revoked; log in again\r\n");
	session_close(s);
}

/* login_register - count the login per mailbox and address
 * (imap.max_userip_connections) and have it revoked with the mailbox's
 * credentials; false after answering */
static bool
login_register(struct session *s, const char *tag, const struct dir_mailbox *mb)
{
	int limit = (int)service_settings(s->d->svc)->imap_max_userip_connections;

	if (service_login_start(s->d->svc, &s->reg, (struct sockaddr *)&s->ss,
	    mb, limit, on_revoked, s))
		return true;
	log_info("%s: login of %s@%s from [%s] refused: over "
	    "imap.max_userip_connections (%d)", s->sid, mb->name, mb->postoffice,
	    s->addr, limit);
	session_tagged(s, tag, "NO", "[LIMIT] Too many sessions of this mailbox "
	    "from your address (at most %d)", limit);
	return false;
}

/* login_finish - the answer of the password check */
static void
login_finish(struct session *s, const char *tag, const char *user,
	     enum dir_auth_result r, const struct dir_mailbox *mb,
	     const char *err)
{
	switch (r) {
	case DIR_AUTH_OK:
		break;
	case DIR_AUTH_FAILED:
		throttle_failed(s->d->svc, (struct sockaddr *)&s->ss);
		log_info("%s: login failed for %s from [%s]", s->sid, user, s->addr);
		session_tagged(s, tag, "NO", "[AUTHENTICATIONFAILED] "
		    "Authentication failed");
		return;
	case DIR_AUTH_DISABLED:
		log_info("%s: login of disabled mailbox %s", s->sid, user);
		session_tagged(s, tag, "NO", "[AUTHORIZATIONFAILED] This mailbox "
		    "is disabled");
		return;
	case DIR_AUTH_PREVENTED:
		log_info("%s: login of %s prevented (prevent-authentication)",
		    s->sid, user);
		session_tagged(s, tag, "NO", "[CONTACTADMIN] Logins to this "
		    "mailbox are not allowed; contact your administrator");
		return;
	default:
		log_warnx("%s: authentication error: %s", s->sid, err ? err : "?");
		session_tagged(s, tag, "NO", "[UNAVAILABLE] Temporary failure, try "
		    "again later");
		return;
	}
	char *root = dir_mailbox_path(s->d->svc->db, mb);
	s->mbox = imapd_mbox_get(s->d, mb->id, root, &err);
	free(root);
	if (s->mbox == NULL) {
		log_warnx("%s: cannot open the store of %s@%s: %s", s->sid, mb->name,
		    mb->postoffice, err);
		session_tagged(s, tag, "NO", "[UNAVAILABLE] Mailbox store not "
		    "available, try again later");
		return;
	}
	if (!login_register(s, tag, mb)) {
		imapd_mbox_put(s->d, &s->mbox);
		return;
	}
	throttle_ok(s->d->svc, (struct sockaddr *)&s->ss);
	s->parser.max_line = IMAP_MAX_LINE;
	s->parser.max_literal = IMAP_MAX_LITERAL;
	/* a large APPEND goes to an unnamed file beside the store, which
	 * the store links into place: memory stays small however many
	 * messages are in flight */
	char *spill = path_join(s->mbox->root, "tmp");
	imap_parser_spill(&s->parser, spill, IMAP_SPILL_MIN, IMAP_MAX_MEMORY);
	free(spill);
	s->mailbox_id = mb->id;
	s->user = xasprintf("%s@%s", mb->name, mb->postoffice);
	s->state = ST_AUTH;
	conn_logged_in(s->c);
	log_info("%s: login %s from [%s]%s", s->sid, s->user, s->addr,
	    s->c->tls ? " (TLS)" : "");
	session_tagged(s, tag, "OK", "[CAPABILITY %s] Logged in",
	    session_capability(s));
}

static void
cmd_login(struct session *s, const char *tag, const struct imap_arg *a,
	  size_t n, bool uid)
{
	if (n != 2 || imap_arg_astring(&a[0]) == NULL ||
	    imap_arg_astring(&a[1]) == NULL) {
		session_tagged(s, tag, "BAD", "Syntax: LOGIN user password");
		return;
	}
	if (plaintext_refuse(s, tag))
		return;
	if (strlen(a[0].str) != a[0].len || strlen(a[1].str) != a[1].len) {
		login_nul(s, tag);
		return;
	}
	login(s, tag, a[0].str, a[1].str);
}

static int
b64val(int c)
{
	if (c >= 'A' && c <= 'Z') return c - 'A';
	if (c >= 'a' && c <= 'z') return c - 'a' + 26;
	if (c >= '0' && c <= '9') return c - '0' + 52;
	if (c == '+') return 62;
	if (c == '/') return 63;
	return -1;
}

/* base64_decode - strict enough for SASL; -1 if malformed */
static int
base64_decode(const char *s, struct buf *out)
{
	unsigned acc = 0;
	int bits = 0;
	size_t len = strlen(s), pad = 0;

	if (len % 4 != 0)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '=') {
			pad++;
			continue;
		}
		int v = b64val((unsigned char)s[i]);
		if (v < 0 || pad > 0)
			return -1;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (buf_putc(out, (char)((acc >> bits) & 0xff)) < 0)
				return -1;
		}
	}
	return pad <= 2 ? 0 : -1;
}

/* auth_plain - an RFC 4616 PLAIN response */
static void
auth_plain(struct session *s, const char *tag, const char *resp)
{
	struct buf dec;

	if (strcmp(resp, "*") == 0) {
		session_tagged(s, tag, "BAD", "Authentication cancelled");
		return;
	}
	buf_init(&dec, 2048);
	if (base64_decode(strcmp(resp, "=") == 0 ? "" : resp, &dec) < 0) {
		buf_free(&dec);
		session_tagged(s, tag, "BAD", "Invalid base64 data");
		return;
	}
	/* authzid NUL authcid NUL passwd */
	const char *d = dec.data ? dec.data : "";
	const char *n1 = memchr(d, '\0', dec.len);
	const char *n2 = n1 ? memchr(n1 + 1, '\0', dec.len - (size_t)(n1 + 1 - d)) : NULL;
	if (n2 != NULL && n2 != n1 + 1 && memchr(n2 + 1, '\0',
	    dec.len - (size_t)(n2 + 1 - d)) != NULL) {
		/* a NUL in the password */
		explicit_bzero(dec.data, dec.len);
		buf_free(&dec);
		login_nul(s, tag);
		return;
	}
	if (n1 == NULL || n2 == NULL) {
		explicit_bzero(dec.data, dec.len);
		buf_free(&dec);
		session_tagged(s, tag, "BAD", "Invalid PLAIN response");
		return;
	}
	if (n1 != d && strcmp(d, n1 + 1) != 0) {
		explicit_bzero(dec.data, dec.len);
		buf_free(&dec);
		session_tagged(s, tag, "NO", "[AUTHORIZATIONFAILED] Proxy "
		    "authorization is not supported");
		return;
	}
	login(s, tag, n1 + 1, n2 + 1);
	explicit_bzero(dec.data, dec.len);
	buf_free(&dec);
}

static void
cmd_authenticate(struct session *s, const char *tag, const struct imap_arg *a,
		 size_t n, bool uid)
{
	if (n < 1 || n > 2 || a[0].type != IMAP_ARG_ATOM ||
	    (n == 2 && imap_arg_astring(&a[1]) == NULL)) {
		session_tagged(s, tag, "BAD", "Syntax: AUTHENTICATE mechanism "
		    "[initial-response]");
		return;
	}
	if (strcasecmp(a[0].str, "PLAIN") != 0) {
		session_tagged(s, tag, "NO", "Unsupported mechanism (PLAIN only)");
		return;
	}
	if (plaintext_refuse(s, tag))
		return;
	if (n == 2) {
		auth_plain(s, tag, a[1].str);
		return;
	}
	session_printf(s, "+ \r\n");
	s->pending_tag = xstrdup(tag);
	s->in = IN_AUTH;
}

static void
cmd_starttls(struct session *s, const char *tag, const struct imap_arg *a,
	     size_t n, bool uid)
{
	if (n != 0) {
		session_tagged(s, tag, "BAD", "Syntax: STARTTLS");
		return;
	}
	if (s->c->tls) {
		session_tagged(s, tag, "BAD", "TLS is already active");
		return;
	}
	if (s->d->tls == NULL) {
		session_tagged(s, tag, "NO", "TLS is not available");
		return;
	}
	session_tagged(s, tag, "OK", "Begin TLS negotiation now");
	s->in = IN_STARTTLS;
	/* nothing pipelined after STARTTLS may be taken as a command */
	conn_starttls(s->c);
}

/* tls_started - STARTTLS: TLS is on; the parser starts afresh */
static void
tls_started(struct conn *c)
{
	struct session *s = c->ctx;

	s->bev = c->bev;
	imap_parser_reset(&s->parser);
	s->in = IN_CMD;
}

/* on_change - the store says the selected folder changed (IDLE) */
static void
on_change(void *ctx)
{
	struct session *s = ctx;

	if (s->in == IN_IDLE && s->state == ST_SELECTED) {
		if (s->bev != NULL && evbuffer_get_length(
		    bufferevent_get_output(s->bev)) > SESSION_OUTPUT_HIGH) {
			/* the client does not read its IDLE updates: queue no
			 * more; the view keeps what changed and reports it
			 * all at once when the output has drained (on_write) */
			s->idle_deferred = true;
			return;
		}
		s->idle_deferred = false;
		if (s->idle_r != NULL)
			view_compact_sync(s);
		else
			view_sync(s, true, NULL, 0);
	}
}

static void
cmd_idle(struct session *s, const char *tag, const struct imap_arg *a,
	 size_t n, bool uid)
{
	const char *err;

	if (n != 0) {
		session_tagged(s, tag, "BAD", "Syntax: IDLE");
		return;
	}
	if (s->state == ST_SELECTED) {
		view_compact(s); /* reports what changed, keeps the UIDs only */
		if (s->d->notify != NULL && s->notify_handle <= 0) {
			s->notify_handle = store_notify_watch(s->d->notify, s->folder,
			    on_change, s, &err);
			if (s->notify_handle < 0)
				log_warnx("%s: cannot watch the folder: %s", s->sid, err);
		}
	}
	session_printf(s, "+ idling\r\n");
	s->pending_tag = xstrdup(tag);
	s->in = IN_IDLE;
}

/* idle_done - the line that ends IDLE */
static void
idle_done(struct session *s, const char *line)
{
	char *tag = s->pending_tag;

	s->pending_tag = NULL;
	s->in = IN_CMD;
	if (s->notify_handle > 0) {
		store_notify_unwatch(s->d->notify, s->notify_handle);
		s->notify_handle = 0;
	}
	if (s->state == ST_SELECTED)
		view_expand(s);
	if (strcasecmp(line, "DONE") != 0)
		session_tagged(s, tag, "BAD", "Expected DONE");
	else
		session_tagged(s, tag, "OK", "IDLE terminated");
	free(tag);
}

/* ---- dispatch ------------------------------------------------------ */

enum { C_ANY, C_NOAUTH, C_AUTH, C_SELECTED };

static const struct command {
	const char *name;
	cmd_fn *fn;
	int state;
	bool uid;            /* valid after UID */
} commands[] = {
	{ "CAPABILITY", cmd_capability, C_ANY, false },
	{ "NOOP", cmd_noop, C_ANY, false },
	{ "LOGOUT", cmd_logout, C_ANY, false },
	{ "ID", cmd_id, C_ANY, false },
	{ "STARTTLS", cmd_starttls, C_NOAUTH, false },
	{ "LOGIN", cmd_login, C_NOAUTH, false },
	{ "AUTHENTICATE", cmd_authenticate, C_NOAUTH, false },
	{ "ENABLE", cmd_enable, C_AUTH, false },
	{ "SELECT", cmd_select, C_AUTH, false },
	{ "EXAMINE", cmd_examine, C_AUTH, false },
	{ "CREATE", cmd_create, C_AUTH, false },
	{ "DELETE", cmd_delete, C_AUTH, false },
	{ "RENAME", cmd_rename, C_AUTH, false },
	{ "SUBSCRIBE", cmd_subscribe, C_AUTH, false },
	{ "UNSUBSCRIBE", cmd_unsubscribe, C_AUTH, false },
	{ "LIST", cmd_list, C_AUTH, false },
	{ "LSUB", cmd_lsub, C_AUTH, false },
	{ "NAMESPACE", cmd_namespace, C_AUTH, false },
	{ "STATUS", cmd_status, C_AUTH, false },
	{ "APPEND", cmd_append, C_AUTH, false },
	{ "IDLE", cmd_idle, C_AUTH, false },
	{ "NOTIFY", cmd_notify, C_AUTH, false },
	{ "GETQUOTA", cmd_getquota, C_AUTH, false },
	{ "GETQUOTAROOT", cmd_getquotaroot, C_AUTH, false },
	{ "SETQUOTA", cmd_setquota, C_AUTH, false },
	{ "GENURLAUTH", cmd_genurlauth, C_AUTH, false },
	{ "RESETKEY", cmd_resetkey, C_AUTH, false },
	{ "URLFETCH", cmd_urlfetch, C_AUTH, false },
	{ "CHECK", cmd_check, C_SELECTED, false },
	{ "CLOSE", cmd_close, C_SELECTED, false },
	{ "UNSELECT", cmd_unselect, C_SELECTED, false },
	{ "EXPUNGE", cmd_expunge, C_SELECTED, true },
	{ "SEARCH", cmd_search, C_SELECTED, true },
	{ "CANCELUPDATE", cmd_cancelupdate, C_SELECTED, false },
	{ "SORT", cmd_sort, C_SELECTED, true },
	{ "THREAD", cmd_thread, C_SELECTED, true },
	{ "FETCH", cmd_fetch, C_SELECTED, true },
	{ "STORE", cmd_store, C_SELECTED, true },
	{ "COPY", cmd_copy, C_SELECTED, true },
	{ "MOVE", cmd_move, C_SELECTED, true },
};

static void
bad_command(struct session *s, const char *tag, const char *text)
{
	session_tagged(s, tag, "BAD", "%s", text);
	if (++s->bad >= IMAP_MAX_BAD) {
		log_info("%s: too many bad commands from [%s]", s->sid, s->addr);
		session_printf(s, "* BYE Too many invalid commands\r\n");
		session_close(s);
	}
}

static void
dispatch(struct session *s)
{
	const char *tag = s->parser.tag, *name = s->parser.cmd;
	const struct imap_arg *args = s->parser.args;
	size_t nargs = s->parser.nargs;
	bool uid = false;

	if (strcmp(name, "UID") == 0) {
		if (nargs == 0 || args[0].type != IMAP_ARG_ATOM) {
			bad_command(s, tag, "Syntax: UID command arguments");
			return;
		}
		uid = true;
		name = args[0].str;
		args++;
		nargs--;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		const struct command *c = &commands[i];
		if (strcasecmp(c->name, name) != 0)
			continue;
		if (uid && !c->uid)
			break;
		if (c->state == C_NOAUTH && s->state != ST_NOAUTH) {
			bad_command(s, tag, "Already authenticated");
			return;
		}
		if (c->state == C_AUTH && s->state == ST_NOAUTH) {
			bad_command(s, tag, "Log in first");
			return;
		}
		if (c->state == C_SELECTED && s->state != ST_SELECTED) {
			bad_command(s, tag, "No mailbox selected");
			return;
		}
		c->fn(s, tag, args, nargs, uid);
		return;
	}
	bad_command(s, tag, "Unknown command");
}

/* read_line - a CRLF line for AUTHENTICATE/IDLE; NULL if not complete */
static char *
read_line(struct session *s, struct evbuffer *in, bool *toolong,
	  size_t *len_r)
{
	size_t len = 0;
	char *line = evbuffer_readln(in, &len, EVBUFFER_EOL_CRLF);

	*len_r = len;
	*toolong = false;
	if (line == NULL && evbuffer_get_length(in) > 8192)
		*toolong = true;
	return line;
}

/* ack_now - acknowledge what was read at once. A command is incomplete
 * (typically a literal without its closing CRLF): clients such as
 * Python's imaplib send the literal and the CRLF in two writes, and with
 * Nagle's algorithm the CRLF waits for our ACK, which Linux delays by
 * up to 40 ms. Each APPEND would cost 40 ms of idle waiting. */
static void
ack_now(struct session *s)
{
	int one = 1;
	int fd = bufferevent_getfd(s->c->bev);

	if (fd >= 0)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one,
		    sizeof(one));
}

/* read_commands - run what the client sent. A command may close the
 * connection, which the layer may free at once (on_teardown): after each
 * step s->in is checked before c is touched again; s itself is held by
 * on_read. */
static void
read_commands(struct session *s, struct conn *c)
{
	struct evbuffer *in = conn_input(c);

	/* imap.login_timeout bounds the whole time before a login, not only
	 * a silence: the layer's login deadline */
	for (int guard = 0; guard < 1000; guard++) {
		if (s->in == IN_CLOSING || s->in == IN_STARTTLS)
			return;
		if (c->in_auth)
			return;   /* a login is checked: later commands wait */
		if (s->job != NULL || s->wjob != NULL || s->sjob != NULL) {
			/* a FETCH is being sent, a write
			 * done on a worker or a search run in slices: later
			 * commands wait */
			conn_suspend(c);
			return;
		}
		/* a client that sends commands but does not read the
		 * answers: stop reading until it catches up */
		if (conn_out_full(c))
			return;
		if (evbuffer_get_length(in) == 0)
			break;
		if (s->in == IN_AUTH || s->in == IN_IDLE) {
			bool toolong;
			size_t len;
			char *line = read_line(s, in, &toolong, &len);
			if (line == NULL) {
				if (toolong) {
					session_printf(s, "* BYE Line too long\r\n");
					session_close(s);
					return;
				}
				break;
			}
			if (s->in == IN_IDLE) {
				idle_done(s, line);
			} else {
				char *tag = s->pending_tag;
				s->pending_tag = NULL;
				s->in = IN_CMD;
				if (strlen(line) != len)
					login_nul(s, tag);
				else
					auth_plain(s, tag, line);
				free(tag);
				explicit_bzero(line, len);
			}
			free(line);
			continue;
		}
		struct evbuffer_iovec v;
		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			break;
		size_t used = 0;
		int r = imap_parser_feed(&s->parser, v.iov_base, v.iov_len, &used);
		evbuffer_drain(in, used);
		switch (r) {
		case IMAP_PARSE_MORE:
			break;
		case IMAP_PARSE_CONTINUE:
			session_printf(s, "+ OK\r\n");
			break;
		case IMAP_PARSE_DONE:
			if (strcmp(s->parser.cmd, "LOGIN") != 0 &&
			    strcmp(s->parser.cmd, "AUTHENTICATE") != 0)
				log_debug("%s: %s %s", s->sid, s->parser.tag,
				    s->parser.cmd);
			dispatch(s);
			if (s->in == IN_CLOSING)
				return;
			imap_parser_reset(&s->parser);
			break;
		case IMAP_PARSE_ERROR: {
			bool fatal = s->parser.fatal;
			const char *tag = imap_parser_tag(&s->parser);
			if (fatal) {
				/* RFC 7888 4: a non-synchronizing literal over
				 * the limit gets a tagged BAD [TOOBIG]; its data
				 * is on the way and cannot be framed, so the
				 * connection ends */
				log_info("%s: %s from [%s]: closing", s->sid,
				    s->parser.error, s->addr);
				session_tagged(s, tag, "BAD", "%s", s->parser.error);
				session_printf(s, "* BYE %s\r\n", s->parser.error);
				session_close(s);
				return;
			}
			bad_command(s, tag, s->parser.error);
			if (s->in == IN_CLOSING)
				return;
			imap_parser_reset(&s->parser);
			break;
		}
		}
	}
	if (s->in == IN_CMD && evbuffer_get_length(in) == 0 &&
	    !imap_parser_busy(&s->parser))
		imap_parser_reset(&s->parser); /* hold no large buffers idle */
	else if (s->in == IN_CMD)
		ack_now(s);
}

static void
on_read(struct conn *c)
{
	struct session *s = c->ctx;

	session_hold(s);
	read_commands(s, c);
	(void)session_release(s);
}

/* on_drained - the output has left: a FETCH goes on, IDLE updates held
 * back are sent */
static void
on_drained(struct conn *c)
{
	struct session *s = c->ctx;

	session_hold(s);
	if (s->job != NULL) {
		/* done: go on with the commands that waited */
		if (fetch_continue(s) && s->in != IN_CLOSING) {
			imap_parser_reset(&s->parser);
			session_resume(s);
		}
	} else if (s->idle_deferred) {
		s->idle_deferred = false;
		if (s->in == IN_IDLE)
			on_change(s); /* the IDLE updates held back */
	}
	(void)session_release(s);
}

/* on_timeout - imap.login_timeout from connect, imap.idle_timeout after */
static bool
on_timeout(struct conn *c, enum conn_timeout why)
{
	struct session *s = c->ctx;

	fetch_job_free(&s->job);
	session_printf(s, "* BYE Autologout; idle for too long\r\n");
	s->in = IN_CLOSING;
	s->state = ST_LOGOUT;
	return true;
}

/* adopted_answer - post-login process, a login handed over (login.h)
 * answered: logged in, the pre-login process proxies the client to us
 * from now on; else the answer goes back to it (the session goes on
 * there) and this connection ends */
static void
adopted_answer(struct session *s)
{
	struct service *svc = s->d->svc;
	uint32_t id = s->handoff_id;

	s->handoff_id = 0;
	if (s->c == NULL)
		return;   /* the client went meanwhile */
	if (s->state != ST_NOAUTH) {
		login_result(svc, id, true, NULL);
		session_resume(s);
		return;
	}
	/* the tagged NO goes back to the pre-login process, where the
	 * session goes on */
	s->in = IN_CLOSING;
	s->state = ST_LOGOUT;
	login_result_queued(svc, id, s->c);
}

/* login_handed - pre-login process: the post-login process's answer to a
 * login; ok: the connection is proxied to it (it sent the tagged OK),
 * nothing more is parsed here; else its answer (the tagged NO) goes to
 * the client and the session goes on */
static void
login_handed(struct conn *c, bool ok, const char *text)
{
	struct session *s = c->ctx;
	char *tag = s->auth_tag;

	s->auth_tag = NULL;
	if (ok) {
		s->state = ST_LOGOUT;
	} else if (text != NULL && *text != '\0') {
		conn_write(c, text, strlen(text));
	} else {
		*strchr(tag, ' ') = '\0';
		session_tagged(s, tag, "NO", "[UNAVAILABLE] Temporary failure, "
		    "try again later");
	}
	free(tag);
	if (!ok)
		session_resume(s);
}

/* login_checked - the answer of the password check, on the loop */
static void
login_checked(struct conn *c, enum dir_auth_result r,
	      const struct dir_mailbox *mb, const char *err)
{
	struct session *s = c->ctx;
	char *tag = s->auth_tag;
	char *user = strchr(tag, ' ');

	s->auth_tag = NULL;
	*user++ = '\0';
	session_hold(s);
	login_finish(s, tag, user, r, mb, err);
	free(tag);
	if (s->handoff_id != 0)
		adopted_answer(s);
	else
		session_resume(s);
	(void)session_release(s);
}

/* session_suspend - see imapd.h */
void
session_suspend(struct session *s)
{
	if (s->c != NULL)
		conn_suspend(s->c);
}

/* session_resume - see imapd.h */
void
session_resume(struct session *s)
{
	if (s->in == IN_CLOSING || s->c == NULL)
		return;
	/* go on with what the client sent meanwhile */
	conn_resume(s->c);
}

/* session_new - the session of c, in the login state */
static struct session *
session_new(struct conn *c)
{
	struct imapd *d = conn_server_ctx(c->srv);
	struct session *s = xcalloc(1, sizeof(*s));

	c->ctx = s;
	s->c = c;
	s->bev = c->bev;
	s->d = d;
	s->next = d->list;
	if (d->list != NULL)
		d->list->prev = s;
	d->list = s;
	memcpy(&s->ss, &c->sa, sizeof(s->ss));
	snprintf(s->addr, sizeof(s->addr), "%s", c->addr);
	snprintf(s->sid, sizeof(s->sid), "%s", c->sid);
	/* tight limits until login: no large buffer for a stranger */
	imap_parser_init(&s->parser, IMAP_PREAUTH_LINE, IMAP_PREAUTH_LITERAL,
	    IMAP_MAX_DEPTH);
	return s;
}

/* session_open - a new connection (conn_ops.open) */
static void
session_open(struct conn *c)
{
	struct session *s = session_new(c);

	session_printf(s, "* OK [CAPABILITY %s] Postern IMAP4 ready\r\n",
	    session_capability(s));
}

/* session_adopt - see imapd.h */
void
session_adopt(struct service *svc, const struct login_request *r)
{
	struct imapd *d = conn_server_ctx(svc->conns);
	struct conn *c = conn_adopt(d->conns, r->fd, (struct sockaddr *)&r->sa,
	    r->salen, r->sid, r->tls_info);

	if (c == NULL) {
		login_result(svc, r->id, false, *r->extra != '\0' ?
		    "* BYE [UNAVAILABLE] Temporary failure, try again later\r\n" :
		    "");
		return;
	}
	struct session *s = session_new(c);
	s->handoff_id = r->id;
	session_hold(s);
	if (r->nul)
		login_nul(s, r->extra);
	else
		login(s, r->extra, r->user, r->password);
	/* answered at once (throttled, no password threads): no check runs */
	if (s->handoff_id != 0 && (s->c == NULL || !s->c->in_auth))
		adopted_answer(s);
	(void)session_release(s);
}

const struct conn_ops session_ops = {
	.open = session_open,
	.read = on_read,
	.drained = on_drained,
	.timeout = on_timeout,
	.tls_started = tls_started,
	.teardown = on_teardown,
};
