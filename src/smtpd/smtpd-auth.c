/* smtpd-auth - SMTP AUTH (RFC 4954: PLAIN and LOGIN): the password is
 * checked on the connection layer's pool (conn_auth), off the loop;
 * failures counted per session and per address (throttle.c), logins per
 * mailbox and address (logins.c), revoked with the credentials */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "checks.h"
#include "commit.h"
#include "db.h"
#include "directory.h"
#include "idn.h"
#include "log.h"
#include "logins.h"
#include "msghdr.h"
#include "netaddr.h"
#include "queue.h"
#include "settings.h"
#include "smtp-data.h"
#include "smtp-parser.h"
#include "smtpd-session.h"
#include "smtpd.h"
#include "spf.h"
#include "srs.h"
#include "store.h"
#include "strutil.h"
#include "throttle.h"
#include "xalloc.h"

/* auth_failed_count - after a failed AUTH: hang up after too many */
static void
auth_failed_count(struct session *s)
{
	if (++s->auth_failures >= MAX_AUTH_FAILURES) {
		session_reply(s, 421, "4.7.0", "%s Too many authentication failures",
		    s->sd->hostname);
		session_close(s);
		return;
	}
	session_error(s);
}

/* on_revoked - the mailbox's password changed, or it (or its post office)
 * was disabled or deleted: 421 and close, after the message being
 * committed, if any, is answered (it was accepted before) */
void
on_revoked(void *ctx)
{
	struct session *s = ctx;

	log_info("%s: %s: credentials revoked, closing", s->sid, s->auth_user);
	if (s->state == S_CLOSING || s->state == S_STARTTLS)
		return;     /* the handshake forgets the AUTH anyway */
	if (s->state == S_COMMIT) {
		s->revoked = true;
		return;
	}
	auth_revoked_close(s);
}

/* auth_revoked_close - 421 4.7.0 and close (a transaction not committed
 * is dropped) */
void
auth_revoked_close(struct session *s)
{
	tx_reset(s);
	session_reply(s, 421, "4.7.0", "%s Your credentials were changed or revoked; "
	    "closing", s->sd->hostname);
	session_close(s);
}

/* auth_register - count the AUTH per mailbox and address
 * (smtp.max_userip_connections) and have it revoked with the mailbox's
 * credentials; false after replying */
static bool
auth_register(struct session *s, const struct dir_mailbox *mb)
{
	int limit = (int)settings_current(s->db)->smtp_max_userip_connections;

	service_login_end(&s->auth_reg);
	if (service_login_start(s->sd->svc, &s->auth_reg,
	    (struct sockaddr *)&s->ss, mb, limit, on_revoked, s))
		return true;
	log_info("%s: auth refused: %s@%s over smtp.max_userip_connections (%d) "
	    "from [%s]", s->sid, mb->name, mb->postoffice, limit, s->addr);
	session_reply(s, 454, "4.7.0", "Too many sessions of this account from your "
	    "address (at most %d), try again later", limit);
	return false;
}

/* auth_still_valid - before a message: a session whose credentials were
 * revoked since its AUTH sends nothing more (421, closed); true when it
 * may go on (or did not authenticate) */
bool
auth_still_valid(struct session *s)
{
	if (s->auth_user == NULL || service_login_valid(&s->auth_reg))
		return true;
	log_info("%s: %s: credentials revoked, refusing MAIL", s->sid,
	    s->auth_user);
	auth_revoked_close(s);
	return false;
}

static void auth_checked(struct conn *c, enum dir_auth_result ar,
			 const struct dir_mailbox *mb, const char *err);

/* auth_check - hand the credentials to the password pool (conn_auth):
 * the hash runs off the event loop; auth_checked answers */
static void
auth_check(struct session *s, const char *login_raw, const char *password)
{
	char login[256];

	s->state = S_CMD;
	/* the login goes to the log: no control bytes, bounded */
	snprintf(login, sizeof(login), "%s", login_raw);
	for (char *c = login; *c; c++) {
		if ((unsigned char)*c < 0x20 || *c == 0x7f) {
			session_reply(s, 501, "5.5.2", "Malformed user name");
			session_error(s);
			return;
		}
	}
	if (throttle_blocked(s->sd->svc, (struct sockaddr *)&s->ss)) {
		log_warnx("%s: auth refused: too many failures from [%s] "
		    "(auth.max_failures)", s->sid, s->addr);
		session_reply(s, 454, "4.7.0", "Too many failed logins from your address, "
		    "try again later");
		session_error(s);
		return;
	}
	free(s->auth_checking);
	s->auth_checking = xstrdup(login);
	s->state = S_PASSWORD;
	conn_auth(s->c, login, password, auth_checked);
}

/* auth_checked - the answer of the password check, on the loop */
static void
auth_checked(struct conn *c, enum dir_auth_result ar,
	     const struct dir_mailbox *mb, const char *err)
{
	struct session *s = c->ctx;
	const char *mech = s->mech == MECH_PLAIN ? "PLAIN" : "LOGIN";
	const char *login = s->auth_checking;

	s->state = S_CMD;
	if (ar == DIR_AUTH_OK)
		throttle_ok(s->sd->svc, (struct sockaddr *)&s->ss);
	else if (ar != DIR_AUTH_ERROR)
		throttle_failed(s->sd->svc, (struct sockaddr *)&s->ss);
	switch (ar) {
	case DIR_AUTH_OK:
		if (!auth_register(s, mb))
			break;
		free(s->auth_user);
		s->auth_user = xasprintf("%s@%s", mb->name, mb->postoffice);
		s->auth_mailbox = mb->id;
		log_info("%s: auth ok: user=%s login=%s mech=%s", s->sid,
		    s->auth_user, login, mech);
		session_reply(s, 235, "2.7.0", "Authentication successful");
		break;
	case DIR_AUTH_ERROR:
		log_error("%s: auth: directory: %s", s->sid, err ? err : "?");
		session_reply(s, 454, "4.7.0", "Temporary authentication failure");
		break;
	case DIR_AUTH_FAILED:
		log_info("%s: auth failed: login=%s mech=%s from [%s]", s->sid,
		    login, mech, s->addr);
		session_reply(s, 535, "5.7.8", "Authentication credentials invalid");
		auth_failed_count(s);
		break;
	case DIR_AUTH_DISABLED:
		log_info("%s: auth refused: login=%s disabled", s->sid, login);
		session_reply(s, 535, "5.7.8", "Authentication refused: account disabled");
		auth_failed_count(s);
		break;
	case DIR_AUTH_PREVENTED:
		log_info("%s: auth refused: login=%s may not authenticate", s->sid,
		    login);
		session_reply(s, 535, "5.7.8", "Authentication refused for this account");
		auth_failed_count(s);
		break;
	}
	xfree(&s->auth_checking);
	conn_resume(c);     /* what the client pipelined meanwhile */
}

/* auth_nul - a NUL byte in the user name or password: a failed login,
 * counted like one (cut at the NUL, a password could match a shorter
 * one) */
static void
auth_nul(struct session *s)
{
	s->state = S_CMD;
	throttle_failed(s->sd->svc, (struct sockaddr *)&s->ss);
	log_info("%s: auth failed: NUL byte in the user name or password from "
	    "[%s]", s->sid, s->addr);
	session_reply(s, 535, "5.7.8", "Authentication credentials invalid");
	auth_failed_count(s);
}

/* auth_response - one SASL response (base64, "=" for empty, "*" cancels) */
void
auth_response(struct session *s, const char *line)
{
	struct buf dec;

	if (strcmp(line, "*") == 0) {
		s->state = S_CMD;
		free(s->auth_login);
		s->auth_login = NULL;
		session_reply(s, 501, "5.7.0", "Authentication cancelled");
		session_error(s);
		return;
	}
	buf_init(&dec, 8192);
	if (strcmp(line, "=") != 0 &&
	    smtp_base64_decode(line, strlen(line), &dec) < 0) {
		s->state = S_CMD;
		buf_free(&dec);
		session_reply(s, 501, "5.5.2", "Invalid base64 data");
		session_error(s);
		return;
	}
	if (s->mech == MECH_PLAIN) {
		const char *authz, *authc, *pw;
		int pr = smtp_sasl_plain(dec.data, dec.len, &authz, &authc, &pw);
		if (pr == SMTP_SASL_NUL) {
			auth_nul(s);
		} else if (pr < 0) {
			s->state = S_CMD;
			session_reply(s, 501, "5.5.2", "Malformed PLAIN response");
			session_error(s);
		} else if (*authz != '\0' && strcmp(authz, authc) != 0) {
			s->state = S_CMD;
			log_info("%s: auth refused: %s may not act as %s", s->sid,
			    authc, authz);
			session_reply(s, 535, "5.7.8", "Authorization identity refused");
			session_error(s);
		} else {
			auth_check(s, authc, pw);
		}
	} else if (s->auth_step == 0) {
		if (dec.len > 0 && memchr(dec.data, '\0', dec.len) != NULL) {
			auth_nul(s);
		} else if (dec.len == 0) {
			s->state = S_CMD;
			session_reply(s, 501, "5.5.2", "Malformed user name");
			session_error(s);
		} else {
			free(s->auth_login);
			s->auth_login = xstrdup(dec.data);
			s->auth_step = 1;
			session_reply(s, 334, NULL, "UGFzc3dvcmQ6");
		}
	} else {
		if (dec.len > 0 && memchr(dec.data, '\0', dec.len) != NULL) {
			auth_nul(s);
		} else {
			auth_check(s, s->auth_login, dec.data);
		}
		free(s->auth_login);
		s->auth_login = NULL;
	}
	explicit_bzero(dec.data, dec.len);
	buf_free(&dec);
}

void
cmd_auth(struct session *s, const char *args)
{
	char mech[32];
	size_t n = strcspn(args, " ");

	if (!s->esmtp) {
		session_reply(s, 503, "5.5.1", "Send EHLO first");
		session_error(s);
		return;
	}
	if (s->auth_user != NULL) {
		session_reply(s, 503, "5.5.1", "Already authenticated");
		session_error(s);
		return;
	}
	if (s->in_tx) {
		session_reply(s, 503, "5.5.1", "AUTH not allowed during a mail transaction");
		session_error(s);
		return;
	}
	if (!s->c->tls && settings_current(s->db)->smtp_require_tls_for_auth) {
		session_reply(s, 538, "5.7.11", "Encryption required for requested "
		    "authentication mechanism (use STARTTLS)");
		session_error(s);
		return;
	}
	if (n == 0 || n >= sizeof(mech)) {
		session_reply(s, 501, "5.5.4", "Syntax: AUTH mechanism [initial-response]");
		session_error(s);
		return;
	}
	memcpy(mech, args, n);
	mech[n] = '\0';
	const char *ir = args + n;
	while (*ir == ' ')
		ir++;
	if (strcasecmp(mech, "PLAIN") == 0)
		s->mech = MECH_PLAIN;
	else if (strcasecmp(mech, "LOGIN") == 0)
		s->mech = MECH_LOGIN;
	else {
		session_reply(s, 504, "5.5.4", "Unrecognized authentication mechanism");
		session_error(s);
		return;
	}
	s->auth_step = 0;
	s->state = S_AUTH;
	if (*ir != '\0') {
		auth_response(s, ir);
		return;
	}
	session_reply(s, 334, NULL, "%s", s->mech == MECH_PLAIN ? "" : "VXNlcm5hbWU6");
}

