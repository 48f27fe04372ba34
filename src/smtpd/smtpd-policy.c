/* smtpd-policy - who may send what to whom: MAIL FROM (SPF, the sender
 * policy of submitted mail, its header checks) and RCPT TO (relaying,
 * DNS block lists, postmaster, SRS bounces, quotas, local recipients) */
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

/* --- sender policy of submitted mail -------------------------------------
 * An authenticated client (not from smtp.relay_networks) may use as MAIL
 * FROM, From: and Sender: only the addresses dir_send_as allows its
 * mailbox (post office and mailbox setting send_as); the null sender is
 * allowed (MDNs and DSNs made by clients), its From: is still checked.
 * Mail from authenticated and relay-network clients without Date: or
 * Message-ID: gets them here (RFC 6409 8.2, 8.3). */

/* sender_allowed - whether the login may send as address; *error_r
 * set (and false) when the directory could not tell */
bool
sender_allowed(struct session *s, const char *address, bool *error_r)
{
	const char *err;
	int r = dir_send_as(s->db, s->auth_mailbox, address, &err);

	*error_r = r < 0;
	if (r < 0)
		log_error("%s: directory: %s", s->sid, err);
	return r > 0;
}

/* header_field - one header field of submitted mail */
static void
header_field(void *ctx, const struct msghdr_field *f)
{
	struct session *s = ctx;

	if (strcasecmp(f->name, "Date") == 0) {
		s->tx.has_date = true;
	} else if (strcasecmp(f->name, "Message-ID") == 0) {
		s->tx.has_msgid = true;
	} else if (s->tx.hp_from_check && s->tx.bad_from == NULL &&
	    !s->tx.hp_lookup_failed && (strcasecmp(f->name, "From") == 0 ||
	    strcasecmp(f->name, "Sender") == 0)) {
		char **list = NULL;
		size_t n = 0;
		bool failed;
		msghdr_addresses(f->value, &list, &n);
		for (size_t i = 0; i < n; i++) {
			if (!sender_allowed(s, list[i], &failed)) {
				if (failed)
					s->tx.hp_lookup_failed = true;
				else
					s->tx.bad_from = xasprintf("%s: %s", f->name, list[i]);
				break;
			}
		}
		msghdr_addresses_free(list, n);
	}
}

/* header_policy_reset - forget the header of the last message */
void
header_policy_reset(struct session *s)
{
	if (s->tx.hp_on)
		msghdr_parser_deinit(&s->tx.hp);
	s->tx.hp_on = s->tx.hp_done = s->tx.hp_failed = false;
	s->tx.hp_from_check = s->tx.hp_add_fields = false;
	s->tx.has_date = s->tx.has_msgid = s->tx.hp_lookup_failed = false;
	free(s->tx.bad_from);
	s->tx.bad_from = NULL;
}

/* header_policy_start - at DATA/BDAT: parse the header of submitted mail */
void
header_policy_start(struct session *s)
{
	header_policy_reset(s);
	s->tx.hp_from_check = s->auth_user != NULL && !s->relay_net;
	s->tx.hp_add_fields = s->auth_user != NULL || s->relay_net;
	if (!s->tx.hp_from_check && !s->tx.hp_add_fields)
		return;
	msghdr_parser_init(&s->tx.hp, 0, header_field, s);
	s->tx.hp_on = true;
}

/* header_missing_fields - Date: and Message-ID: the message lacks */
static void
header_missing_fields(struct session *s, struct buf *b)
{
	if (!s->tx.hp_add_fields)
		return;
	if (!s->tx.has_date) {
		char date[64];
		time_t now = time(NULL);
		struct tm tm;
		gmtime_r(&now, &tm);
		strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
		buf_printf(b, "Date: %s\r\n", date);
	}
	if (!s->tx.has_msgid)
		buf_printf(b, "Message-ID: <%s.%lld@%s>\r\n", s->tx.env.id,
		    (long long)time(NULL), s->sd->hostname);
	if (!s->tx.has_date || !s->tx.has_msgid)
		log_info("%s: %s: added%s%s", s->sid, s->tx.env.id,
		    s->tx.has_date ? "" : " Date:", s->tx.has_msgid ? "" : " Message-ID:");
}

/* header_policy_feed - the message bytes from offset before of s->tx.out
 * were just added: parse them, and at the end of the header put the
 * missing fields in front of the blank line */
void
header_policy_feed(struct session *s, size_t before)
{
	size_t used;
	const char *err;

	if (!s->tx.hp_on || s->tx.hp_done || s->tx.hp_failed)
		return;
	int r = msghdr_parser_feed(&s->tx.hp, s->tx.out.data + before,
	    s->tx.out.len - before, &used, &err);
	if (r < 0) {
		log_info("%s: %s: header not checked: %s", s->sid, s->tx.env.id, err);
		s->tx.hp_failed = true;
		return;
	}
	if (r == 0)
		return;
	s->tx.hp_done = true;
	size_t end = before + used;     /* after the blank line (CRLF) */
	if (end < 2 || s->tx.out.data[end - 2] != '\r' || s->tx.out.data[end - 1] != '\n')
		return;     /* a bare LF: the message is refused at its end */
	struct buf add;
	buf_init(&add, 0);
	header_missing_fields(s, &add);
	if (add.len > 0) {
		size_t tail = s->tx.out.len - (end - 2);
		char *rest = xmalloc(tail);
		memcpy(rest, s->tx.out.data + end - 2, tail);
		buf_truncate(&s->tx.out, end - 2);
		buf_append(&s->tx.out, add.data, add.len);
		buf_append(&s->tx.out, rest, tail);
		free(rest);
	}
	buf_free(&add);
}

/* header_policy_finish - the message is complete: a header without a
 * body gets its missing fields at the end. Returns false after replying
 * a refusal (From:/Sender: not the login's). */
bool
header_policy_finish(struct session *s, int *code_r, const char **enh_r,
		     char *text, size_t textlen)
{
	if (!s->tx.hp_on)
		return true;
	if (!s->tx.hp_done && !s->tx.hp_failed) {
		msghdr_parser_finish(&s->tx.hp);
		s->tx.hp_done = true;
		if (s->tx.out.len == 0 || s->tx.out.data[s->tx.out.len - 1] == '\n')
			header_missing_fields(s, &s->tx.out);
	}
	if (!s->tx.hp_from_check)
		return true;
	if (s->tx.hp_lookup_failed) {
		*code_r = 451; *enh_r = "4.3.0";
		snprintf(text, textlen, "Temporary lookup failure");
		return false;
	}
	if (s->tx.bad_from != NULL) {
		*code_r = 550; *enh_r = "5.7.1";
		snprintf(text, textlen, "Sender address rejected: %s is not owned "
		    "by user %s", s->tx.bad_from, s->auth_user);
		return false;
	}
	if (s->tx.hp_failed) {
		*code_r = 552; *enh_r = "5.3.4";
		snprintf(text, textlen, "Header section too large to check its "
		    "From: and Sender: (at most %d bytes)", MSGHDR_HEADER_MAX);
		return false;
	}
	return true;
}

/* spf_check_start - SPF (RFC 7208) of the sender of unauthenticated mail
 * from outside smtp.relay_networks; recorded in Received-SPF, never a
 * reason to refuse */
void
spf_check_start(struct session *s)
{
	const struct settings *st = settings_current(s->db);

	if (s->sd->dns == NULL || s->auth_user != NULL || s->relay_net ||
	    !st->smtp_spf)
		return;
	if (smtpd_is_loopback((struct sockaddr *)&s->ss) &&
	    !st->smtp_check_loopback)
		return;
	/* the ptr mechanism needs the client's confirmed name: wait for it */
	if (s->checks != NULL && !checks_finished(s->checks)) {
		s->tx.spf_wait = true;
		return;
	}
	const char *validated = s->checks != NULL ?
	    checks_rdns(s->checks) : NULL;
	s->tx.spf = spf_start(s->sd->dns, s->sd->svc->base,
	    (struct sockaddr *)&s->ss, s->tx.env.sender, s->helo, validated,
	    (int)st->smtp_dns_timeout, spf_checked, s);
	if (spf_done(s->tx.spf))
		log_info("%s: %s: spf=%s: %s", s->sid, s->tx.env.id,
		    spf_result_name(spf_result(s->tx.spf)), spf_reason(s->tx.spf));
}

void
cmd_mail(struct session *s, const char *args)
{
	struct smtp_path path;
	struct smtp_params prm;
	const char *rest, *err;

	if (s->helo == NULL) {
		session_reply(s, 503, "5.5.1", "Send EHLO or HELO first");
		session_error(s);
		return;
	}
	if (s->in_tx) {
		session_reply(s, 503, "5.5.1", "Nested MAIL command");
		session_error(s);
		return;
	}
	if (s->submission && s->auth_user == NULL) {
		session_reply(s, 530, "5.7.0", "Authentication required");
		session_error(s);
		return;
	}
	if (!auth_still_valid(s))
		return;
	if (smtp_path_parse(args, true, false, &path, &rest, &err) < 0) {
		session_reply(s, 501, "5.1.7", "Bad sender address: %s", err);
		session_error(s);
		return;
	}
	switch (smtp_params_parse(rest, SMTP_PARAMS_MAIL, &prm, &err)) {
	case SMTP_PARAMS_OK:
		break;
	case SMTP_PARAMS_INVALID:
		session_reply(s, 501, "5.5.4", "%s", err);
		session_error(s);
		return;
	case SMTP_PARAMS_UNKNOWN:
		session_reply(s, 555, "5.5.4", "%s", err);
		session_error(s);
		return;
	}
	if (!s->esmtp && (prm.has_size || prm.body || prm.smtputf8 ||
	    prm.ret[0] || prm.envid[0] || prm.has_auth)) {
		session_reply(s, 555, "5.5.4", "ESMTP parameters need EHLO");
		session_error(s);
		return;
	}
	if (path.utf8 && !prm.smtputf8) {
		session_reply(s, 553, "5.6.7", "Non-ASCII sender address needs SMTPUTF8");
		session_error(s);
		return;
	}
	s->max_size = (uint64_t)settings_current(s->db)->smtp_max_message_size * 1024;
	if (prm.has_size && prm.size > s->max_size) {
		session_reply(s, 552, "5.3.4", "Message size exceeds fixed maximum message size");
		return;
	}
	if (s->auth_user != NULL && !s->relay_net && !path.null) {
		/* the domain as the address map keeps it (A-labels) */
		char alabel[IDN_DOMAIN_MAX + 1];
		char address[SMTP_PATH_MAX + IDN_DOMAIN_MAX + 2];
		const char *at = strrchr(path.address, '@');
		if (at != NULL && !path.literal &&
		    idn_to_ascii(path.domain, alabel, sizeof(alabel), &err) == 0)
			snprintf(address, sizeof(address), "%.*s@%s",
			    (int)(at - path.address), path.address, alabel);
		else
			snprintf(address, sizeof(address), "%s", path.address);
		bool failed;
		if (!sender_allowed(s, address, &failed)) {
			if (failed) {
				session_reply(s, 451, "4.3.0", "Temporary lookup failure");
				return;
			}
			log_info("%s: sender <%s> refused: not owned by user %s",
			    s->sid, path.address, s->auth_user);
			session_reply(s, 553, "5.7.1", "<%s>: Sender address rejected: not "
			    "owned by user %s", path.address, s->auth_user);
			session_error(s);
			return;
		}
	}
	s->max_rcpts = (int)settings_current(s->db)->smtp_max_recipients;
	char id[QUEUE_ID_MAX + 1];
	queue_new_id(id);
	queue_env_init(&s->tx.env, id);
	s->in_tx = true;
	queue_env_set(&s->tx.env.sender, path.null ? "" : path.address);
	/* the domain in A-label form for lookups (RFC 6531: an SMTPUTF8
	 * sender may give U-labels); the address itself is kept as given */
	if (idn_to_ascii(path.domain, s->tx.sender_domain, sizeof(s->tx.sender_domain),
	    &err) < 0)
		s->tx.sender_domain[0] = '\0';
	queue_env_set(&s->tx.env.auth_user, s->auth_user);
	queue_env_set(&s->tx.env.client_addr, s->addr);
	s->tx.env.relay_net = s->relay_net ? 1 : 0;
	queue_env_set(&s->tx.env.client_helo, s->helo);
	queue_env_set(&s->tx.env.body_type, prm.body == SMTP_BODY_7BIT ? "7BIT" :
	    prm.body == SMTP_BODY_8BITMIME ? "8BITMIME" :
	    prm.body == SMTP_BODY_BINARYMIME ? "BINARYMIME" : NULL);
	s->tx.env.smtputf8 = prm.smtputf8;
	s->tx.declared_size = prm.has_size ? prm.size : 0;
	queue_env_set(&s->tx.env.envid, prm.envid[0] ? prm.envid : NULL);
	queue_env_set(&s->tx.env.ret, prm.ret[0] ? prm.ret : NULL);
	log_info("%s: %s: from=<%s> size=%llu%s%s", s->sid, id, s->tx.env.sender,
	    (unsigned long long)prm.size, prm.smtputf8 ? " smtputf8" : "",
	    prm.body ? (prm.body == SMTP_BODY_7BIT ? " body=7BIT" :
	    prm.body == SMTP_BODY_8BITMIME ? " body=8BITMIME" :
	    " body=BINARYMIME") : "");
	spf_check_start(s);
	session_reply(s, 250, "2.1.0", "Ok");
}

/* is_postmaster - <postmaster> or postmaster@domain (RFC 5321 4.5.1) */
static bool
is_postmaster(const struct smtp_path *path)
{
	const char *at = strrchr(path->address, '@');
	size_t len = at != NULL ? (size_t)(at - path->address) :
	    strlen(path->address);

	return len == 10 && strncasecmp(path->address, "postmaster", 10) == 0;
}

/* dnsbl_refused - a client listed by a DNS block list may only write to
 * postmaster (so that it can ask to be let in); AUTH and
 * smtp.relay_networks are exempt. Refused at RCPT, not at connect: that
 * is when the postmaster exception can be told. */
static bool
dnsbl_refused(struct session *s, const struct smtp_path *path)
{
	const struct checks_zone *z;

	if (s->checks == NULL || s->auth_user != NULL || s->relay_net)
		return false;
	z = checks_listed(s->checks);
	if (z == NULL)
		return false;
	if (is_postmaster(path)) {
		log_info("%s: %s: client [%s] listed by %s, but to=<%s> is the "
		    "postmaster: accepted", s->sid, s->tx.env.id, s->addr, z->zone,
		    path->address);
		return false;
	}
	log_info("%s: %s: refused to=<%s>: client [%s] listed by %s (%s)%s%s",
	    s->sid, s->tx.env.id, path->address, s->addr, z->zone, z->code,
	    z->reason[0] ? ": " : "", z->reason);
	session_reply(s, 554, "5.7.1", "Service unavailable; client [%s] blocked using "
	    "%s%s%s", s->addr, z->zone, z->reason[0] ? "; " : "", z->reason);
	return true;
}

/* policy_pending - DNS answers the next RCPT must wait for */
bool
policy_pending(const struct session *s)
{
	return (s->checks != NULL && !checks_finished(s->checks)) ||
	    s->tx.spf_wait || (s->tx.spf != NULL && !spf_done(s->tx.spf));
}

/* relay_allowed - may this client send to domains not hosted here */
static bool
relay_allowed(struct session *s)
{
	return s->auth_user != NULL || s->relay_net;
}

/* rcpt_srs - a bounce (or reply) to an SRS address made by deliver is
 * taken if its hash is ours and it is not older than srs.max_age; it is
 * queued as it is, and the MTA sends it on to the original sender. 1
 * taken, 0 not an SRS0 address, -1 after replying a refusal. */
static int
rcpt_srs(struct session *s, const char *address)
{
	const char *err;
	char orig[SRS_ADDRESS_MAX + 1];
	char *key = settings_secret(s->db, "srs.secret", &err);

	if (key == NULL) {
		log_error("%s: srs.secret: %s", s->sid, err);
		session_reply(s, 451, "4.3.0", "Temporary lookup failure");
		return -1;
	}
	int days = (int)(settings_current(s->db)->srs_max_age / 86400);
	enum srs_result r = srs_reverse(key, strlen(key), address, time(NULL),
	    days, orig, sizeof(orig), &err);
	explicit_bzero(key, strlen(key));
	free(key);
	if (r == SRS_NOT_SRS)
		return 0;
	if (r != SRS_OK) {
		log_info("%s: %s: refused to=<%s>: %s", s->sid, s->tx.env.id,
		    address, err);
		session_reply(s, 550, "5.1.1", "<%s>: Recipient address rejected: %s",
		    address, err);
		session_error(s);
		return -1;
	}
	log_info("%s: %s: to=<%s> is the SRS address of <%s>", s->sid,
	    s->tx.env.id, address, orig);
	return 1;
}

/* rcpt_quota - a mailbox that is full, or that a message of the size
 * given in MAIL FROM would overfill, is refused now, not bounced after
 * the message is accepted (backscatter to forged senders). The usage is
 * the deliver path's: maildirsize (lib-store quota). 0, or -1 after
 * replying. */
static int
rcpt_quota(struct session *s, const struct dir_route *route,
	   const char *address)
{
	struct dir_mailbox mb;
	const char *err;
	int64_t bytes, count;

	if (route->kind != DIR_KIND_MAILBOX)
		return 0;
	if (dir_mailbox_get(s->db, route->target_id, &mb, &err) <= 0 ||
	    mb.quota_kb <= 0 || (mb.redirect_enabled && !mb.redirect_keep_copy))
		return 0;
	char *root = dir_mailbox_path(s->db, &mb);
	int r = store_quota_usage(root, &bytes, &count, &err);
	free(root);
	if (r < 0) {
		/* deliver decides then */
		log_warnx("%s: quota of <%s> not known: %s", s->sid, address, err);
		return 0;
	}
	int64_t limit = mb.quota_kb * 1024;
	if (bytes >= limit) {
		log_info("%s: %s: refused to=<%s>: mailbox full (%lld of %lld KB)",
		    s->sid, s->tx.env.id, address, (long long)(bytes / 1024),
		    (long long)mb.quota_kb);
		session_reply(s, 452, "4.2.2", "<%s>: Mailbox full", address);
		return -1;
	}
	if (s->tx.declared_size > 0 &&
	    (uint64_t)bytes + s->tx.declared_size > (uint64_t)limit) {
		log_info("%s: %s: refused to=<%s>: %llu bytes would pass the "
		    "quota (%lld of %lld KB used)", s->sid, s->tx.env.id, address,
		    (unsigned long long)s->tx.declared_size, (long long)(bytes / 1024),
		    (long long)mb.quota_kb);
		session_reply(s, 552, "5.2.2", "<%s>: Mailbox full: the message would "
		    "exceed its quota", address);
		return -1;
	}
	return 0;
}

/* rcpt_local - a recipient in a hosted domain: known, enabled, not over
 * quota. 0, or -1 after replying. */
static int
rcpt_local(struct session *s, const char *address)
{
	struct dir_route route;
	const char *err;

	switch (dir_resolve(s->db, address, &route, &err)) {
	case DIR_RESOLVE_ERROR:
		log_error("%s: directory: %s", s->sid, err);
		session_reply(s, 451, "4.3.0", "Temporary lookup failure");
		return -1;
	case DIR_RESOLVE_UNKNOWN:
	case DIR_RESOLVE_REMOTE:
		log_info("%s: %s: unknown recipient <%s>", s->sid, s->tx.env.id,
		    address);
		session_reply(s, 550, "5.1.1", "<%s>: Recipient address rejected: "
		    "User unknown", address);
		session_error(s);
		return -1;
	case DIR_RESOLVE_LOCAL:
		break;
	}
	if (route.disabled) {
		session_reply(s, 550, "5.2.1", "<%s>: Mailbox disabled", address);
		session_error(s);
		return -1;
	}
	return rcpt_quota(s, &route, address);
}

void
cmd_rcpt(struct session *s, const char *args)
{
	struct smtp_path path;
	struct smtp_params prm;
	const char *rest, *err;
	char address[SMTP_PATH_MAX + 64];

	if (!s->in_tx) {
		session_reply(s, 503, "5.5.1", "Need MAIL command first");
		session_error(s);
		return;
	}
	if ((int)s->tx.env.nrcpts >= s->max_rcpts) {
		session_reply(s, 452, "4.5.3", "Too many recipients");
		return;
	}
	if (smtp_path_parse(args, false, true, &path, &rest, &err) < 0) {
		session_reply(s, 501, "5.1.3", "Bad recipient address: %s", err);
		session_error(s);
		return;
	}
	switch (smtp_params_parse(rest, SMTP_PARAMS_RCPT, &prm, &err)) {
	case SMTP_PARAMS_OK:
		break;
	case SMTP_PARAMS_INVALID:
		session_reply(s, 501, "5.5.4", "%s", err);
		session_error(s);
		return;
	case SMTP_PARAMS_UNKNOWN:
		session_reply(s, 555, "5.5.4", "%s", err);
		session_error(s);
		return;
	}
	if (path.utf8 && !s->tx.env.smtputf8) {
		session_reply(s, 553, "5.6.7", "Non-ASCII recipient address needs SMTPUTF8");
		session_error(s);
		return;
	}
	if (dnsbl_refused(s, &path))
		return;
	/* <postmaster> alone (RFC 5321 4.1.1.3, always accepted): the
	 * postmaster of server.hostname when that domain is hosted, else of
	 * the first hosted domain */
	if (path.domain[0] == '\0') {
		char *pm = NULL;
		if (db_query_text(s->db, &pm, &err, "SELECT name FROM domain "
		    "ORDER BY lower(name) = lower(?) DESC, id LIMIT 1", "t",
		    s->sd->hostname) < 0) {
			log_error("%s: directory: %s", s->sid, err);
			session_reply(s, 451, "4.3.0", "Temporary lookup failure");
			return;
		}
		if (pm == NULL) {
			session_reply(s, 550, "5.1.1", "<postmaster>: no hosted domain");
			session_error(s);
			return;
		}
		snprintf(address, sizeof(address), "postmaster@%s", pm);
		snprintf(path.domain, sizeof(path.domain), "%s", pm);
		free(pm);
	} else {
		snprintf(address, sizeof(address), "%s", path.address);
	}
	/* a domain in UTF-8 (SMTPUTF8, RFC 6531) is matched and queued in
	 * its A-label form (IDNA2008): the address map keeps A-labels, and
	 * the MTA and smtp-out look up what is queued. The local part stays
	 * as given. */
	if (!path.literal && idn_has_utf8(path.domain)) {
		char alabel[IDN_DOMAIN_MAX + 1];
		if (idn_to_ascii(path.domain, alabel, sizeof(alabel), &err) < 0) {
			session_reply(s, 553, "5.1.2", "Bad recipient address: invalid "
			    "internationalized domain name (%s)", err);
			session_error(s);
			return;
		}
		char *at = strrchr(address, '@');
		if (at != NULL)
			snprintf(at + 1, sizeof(address) - (size_t)(at + 1 - address),
			    "%s", alabel);
		snprintf(path.domain, sizeof(path.domain), "%s", alabel);
	}

	struct dir_domain dom;
	int dr = path.literal ? 0 : dir_domain_get(s->db, path.domain, &dom, &err);
	if (dr < 0) {
		log_error("%s: directory: %s", s->sid, err);
		session_reply(s, 451, "4.3.0", "Temporary lookup failure");
		return;
	}
	const char *kind = "local";
	if (dr == 0) {
		if (!relay_allowed(s)) {
			log_info("%s: %s: relay denied to=<%s> from [%s]", s->sid,
			    s->tx.env.id, address, s->addr);
			session_reply(s, 554, "5.7.1", "<%s>: Relay access denied", address);
			session_error(s);
			return;
		}
		kind = "relay";
	} else {
		char *smarthost = NULL;
		if (dir_object_field(s->db, "domain", dom.id, "smarthost",
		    &smarthost, &err) < 0) {
			log_error("%s: directory: %s", s->sid, err);
			session_reply(s, 451, "4.3.0", "Temporary lookup failure");
			return;
		}
		bool relay_domain = smarthost != NULL && *smarthost != '\0';
		free(smarthost);
		if (dom.disabled || dom.postoffice_disabled) {
			session_reply(s, 550, "5.2.1", "<%s>: Domain disabled, mail not accepted",
			    address);
			session_error(s);
			return;
		}
		if (relay_domain) {
			/* manual 5.4.2 "act as smart host": all of the domain's mail
			 * goes on to that host, optionally only from our users */
			char *only = NULL;
			if (dir_object_field(s->db, "domain", dom.id,
			    "smarthost_auth_only", &only, &err) < 0) {
				log_error("%s: directory: %s", s->sid, err);
				session_reply(s, 451, "4.3.0", "Temporary lookup failure");
				return;
			}
			bool auth_only = only != NULL && strcmp(only, "1") == 0;
			free(only);
			if (auth_only && !relay_allowed(s)) {
				session_reply(s, 554, "5.7.1", "<%s>: Relay access denied "
				    "(authenticated users only)", address);
				session_error(s);
				return;
			}
			kind = "smarthost";
		} else {
			int sr = srs_is_srs(address) ? rcpt_srs(s, address) : 0;
			if (sr < 0)
				return;
			if (sr > 0)
				kind = "srs";
			else if (rcpt_local(s, address) < 0)
				return;
		}
		if (s->tx.sender_domain[0] != '\0') {
			int bl = dir_sender_blacklisted(s->db, dom.id, s->tx.sender_domain,
			    &err);
			if (bl < 0) {
				log_error("%s: directory: %s", s->sid, err);
				session_reply(s, 451, "4.3.0", "Temporary lookup failure");
				return;
			}
			if (bl > 0) {
				log_info("%s: %s: sender domain %s blacklisted by %s",
				    s->sid, s->tx.env.id, s->tx.sender_domain, path.domain);
				session_reply(s, 550, "5.7.1", "<%s>: Sender domain %s is not "
				    "accepted by this domain", address, s->tx.sender_domain);
				return;
			}
		}
	}
	unsigned notify = 0;
	if (prm.notify & SMTP_NOTIFY_NEVER)
		notify |= DSN_NOTIFY_NEVER;
	if (prm.notify & SMTP_NOTIFY_SUCCESS)
		notify |= DSN_NOTIFY_SUCCESS;
	if (prm.notify & SMTP_NOTIFY_FAILURE)
		notify |= DSN_NOTIFY_FAILURE;
	if (prm.notify & SMTP_NOTIFY_DELAY)
		notify |= DSN_NOTIFY_DELAY;
	/* the same recipient twice gets one copy */
	for (size_t i = 0; i < s->tx.env.nrcpts; i++) {
		if (strcasecmp(s->tx.env.rcpts[i].address, address) == 0) {
			session_reply(s, 250, "2.1.5", "Ok (duplicate recipient)");
			return;
		}
	}
	queue_env_add_rcpt(&s->tx.env, address, prm.orcpt[0] ? prm.orcpt : NULL,
	    notify);
	log_debug("%s: %s: to=<%s> (%s)", s->sid, s->tx.env.id, address, kind);
	session_reply(s, 250, "2.1.5", "Ok");
}

