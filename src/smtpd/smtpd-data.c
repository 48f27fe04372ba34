/* smtpd-data - the message: DATA and BDAT, the Received header, the
 * queue item written as it comes and committed off the loop; 250 only
 * once the item is durable */
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
#include "imap-url.h"
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
#include "traffic.h"
#include "xalloc.h"

/* --- message writing ----------------------------------------------------- */

/* scan_headers - count Received: fields of the header section */
void
scan_headers(struct session *s, const char *p, size_t n)
{
	for (size_t i = 0; i < n && !s->tx.hdr_done; i++) {
		char c = p[i];
		if (c == '\n') {
			if (s->tx.hdr_linelen == 0 ||
			    (s->tx.hdr_linelen == 1 && s->tx.hdr_prefix[0] == '\r'))
				s->tx.hdr_done = true;
			s->tx.hdr_linelen = 0;
			continue;
		}
		if (s->tx.hdr_linelen < sizeof(s->tx.hdr_prefix)) {
			s->tx.hdr_prefix[s->tx.hdr_linelen++] = c;
			if (s->tx.hdr_linelen == sizeof(s->tx.hdr_prefix) &&
			    strncasecmp(s->tx.hdr_prefix, "Received:", 9) == 0)
				s->tx.hops++;
		} else {
			s->tx.hdr_linelen++;
		}
	}
}

/* flush_out - hand buffered message bytes to the queue writer; a message
 * smaller than MEM_MAX waits in memory for the commit worker */
void
flush_out(struct session *s, bool force)
{
	const char *err;

	if (s->tx.out.len == 0)
		return;
	if (s->tx.write_failed) {
		buf_reset(&s->tx.out);
		return;
	}
	if (s->tx.qw == NULL) {
		if (s->tx.out.len < MEM_MAX)
			return;
		s->tx.qw = queue_writer_open(s->sd->qpath, s->tx.env.id, &err);
		if (s->tx.qw == NULL) {
			s->tx.write_failed = true;
			snprintf(s->tx.write_error, sizeof(s->tx.write_error), "%s", err);
			buf_reset(&s->tx.out);
			return;
		}
	} else if (!force && s->tx.out.len < WRITE_CHUNK) {
		return;
	}
	if (s->tx.qw != NULL && !s->tx.write_failed &&
	    queue_writer_write(s->tx.qw, s->tx.out.data, s->tx.out.len) < 0) {
		s->tx.write_failed = true;
		snprintf(s->tx.write_error, sizeof(s->tx.write_error), "%s",
		    strerror(errno));
	}
	buf_reset(&s->tx.out);
}

/* received_header - RFC 5321 4.4 trace field of this hop */
static void
received_header(struct session *s, struct buf *b)
{
	char date[64];
	time_t now = time(NULL);
	struct tm tm;
	const char *proto;

	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	if (s->tx.env.smtputf8)
		proto = s->c->tls ? (s->auth_user ? "UTF8SMTPSA" : "UTF8SMTPS") :
		    (s->auth_user ? "UTF8SMTPA" : "UTF8SMTP");
	else if (s->esmtp)
		proto = s->c->tls ? (s->auth_user ? "ESMTPSA" : "ESMTPS") :
		    (s->auth_user ? "ESMTPA" : "ESMTP");
	else
		proto = "SMTP";
	/* RFC 5321 4.4: the name the client gave, then its forward-confirmed
	 * reverse DNS name ("unknown" without one) and address */
	const char *rdns = s->checks != NULL ? checks_rdns(s->checks) : NULL;
	if (rdns == NULL && s->checks == NULL &&
	    smtpd_is_loopback((struct sockaddr *)&s->ss))
		rdns = "localhost";
	if (s->tx.spf != NULL && spf_done(s->tx.spf)) {
		/* RFC 7208 9.1: above our Received */
		char *spf = spf_header(s->tx.spf, s->sd->hostname);
		buf_printf(b, "%s\r\n", spf);
		free(spf);
	}
	buf_printf(b, "Received: from %s (%s [%s])\r\n\tby %s (Postern) with %s "
	    "id %s", s->helo, rdns != NULL ? rdns : "unknown", s->addr,
	    s->sd->hostname, proto, s->tx.env.id);
	if (s->c->tls)
		buf_printf(b, "\r\n\t(%s)", s->c->tls_info);
	if (s->tx.env.nrcpts == 1)
		buf_printf(b, "\r\n\tfor <%s>", s->tx.env.rcpts[0].address);
	buf_printf(b, ";\r\n\t%s\r\n", date);
}

static void commit_done(struct commit_job *job);

/* scan_refused - the content scan before the 250 said no: 554 for a
 * virus, 451 when clamd could not scan (antivirus.on_failure defer), 550
 * for spam (lib-filter verdict.h spam_verdict); nothing was queued */
static void
scan_refused(struct session *s, const struct commit_job *job)
{
	const struct av_result *res = &job->av_res;
	char why[300];

	av_reason(res, why, sizeof(why));
	if (!job->av_refused) {
		log_info("%s: %s: refused: 550 5.7.1 %s; symbols=%s", s->sid,
		    s->tx.env.id, job->spam_reason, job->spam_res.symbols);
		session_reply(s, 550, "5.7.1", "Message refused as spam "
		    "(score %.2f)", job->spam_res.score);
	} else if (res->verdict == AV_VIRUS) {
		log_info("%s: %s: refused: 554 5.7.1 %s", s->sid, s->tx.env.id,
		    why);
		session_reply(s, 554, "5.7.1", "Message refused: %s", why);
	} else {
		log_warnx("%s: %s: deferred: 451 4.7.1 %s (antivirus.on_failure "
		    "defer)", s->sid, s->tx.env.id, why);
		session_reply(s, 451, "4.7.1", "Virus scanner unavailable, "
		    "try again later");
	}
	tx_reset(s);
}

/* message_open - start the message (its queue item is created when it
 * outgrows memory, or by the commit worker) */
static bool
message_open(struct session *s)
{
	struct timeval tv = { settings_current(s->db)->smtp_data_timeout,
	    0 };

	evtimer_add(s->data_ev, &tv);
	buf_reset(&s->tx.out);
	received_header(s, &s->tx.out);
	s->tx.msg_size = 0;
	s->tx.hops = 1;    /* ours */
	s->tx.hdr_done = false;
	s->tx.hdr_linelen = 0;
	header_policy_start(s);
	return true;
}

/* message_finish - commit the item and answer; 250 only once durable */
void
message_finish(struct session *s, unsigned data_flags)
{
	const char *bad = NULL;
	int code = 0;
	const char *enh = NULL;
	int hcode = 0;
	const char *henh = NULL;
	char htext[SMTP_PATH_MAX + 200];
	bool header_ok = header_policy_finish(s, &hcode, &henh, htext,
	    sizeof(htext));

	if (s->tx.qw != NULL)
		flush_out(s, true);
	if (data_flags & (SMTP_DATA_BARE_LF | SMTP_DATA_BARE_CR)) {
		code = 550; enh = "5.6.11";
		bad = "Message refused: bare CR or LF in message text (lines must end with CRLF)";
	} else if (s->tx.too_big || (data_flags & SMTP_DATA_TOO_BIG)) {
		code = 552; enh = "5.3.4";
		bad = "Message size exceeds fixed maximum message size";
	} else if (data_flags & SMTP_DATA_LONG_LINE) {
		code = 550; enh = "5.5.2";
		bad = "Message refused: text line longer than 1000 octets";
	} else if (s->tx.hops > MAX_HOPS) {
		code = 554; enh = "5.4.6";
		bad = "Too many hops (Received headers): mail loop?";
	} else if (!header_ok) {
		code = hcode; enh = henh;
		bad = htext;
	} else if (s->tx.write_failed) {
		log_error("%s: %s: writing the queue item failed: %s", s->sid,
		    s->tx.env.id, s->tx.write_error);
		code = 452; enh = "4.3.1";
		bad = "Insufficient system storage, try again later";
	}
	if (code != 0) {
		log_info("%s: %s: refused: %d %s %s", s->sid, s->tx.env.id, code, enh, bad);
		session_reply(s, code, enh, "%s", bad);
		tx_reset(s);
		return;
	}
	evtimer_del(s->data_ev);    /* the commit is ours to wait for */
	s->tx.env.hops = s->tx.hops;
	s->tx.env.arrival = time(NULL);
	s->commit_size = (s->tx.qw != NULL ? queue_writer_size(s->tx.qw) : 0) +
	    (off_t)s->tx.out.len;
	/* the commit waits for the disk: on a worker, input held meanwhile */
	memset(&s->job, 0, sizeof(s->job));
	s->job.arg = s;
	s->job.qpath = s->sd->qpath;
	s->job.qw = s->tx.qw;
	s->tx.qw = NULL;
	s->job.data = &s->tx.out;
	s->job.env = &s->tx.env;
	s->job.done = commit_done;
	av_config_load(s->db, &s->tx.env, &s->job.av);
	s->job.av.enabled = s->job.av.enabled && s->job.av.at_smtp;
	spam_config_load(s->db, &s->tx.env, &s->job.spam);
	s->job.spam.enabled = s->job.spam.enabled && s->job.spam.at_smtp;
	s->job.qroot = s->sd->qroot;
	s->state = S_COMMIT;
	conn_suspend(s->c);
	commit_submit(&s->job);
}

/* commit_done - the commit came back: now, and only now, say 250 */
static void
commit_done(struct commit_job *job)
{
	struct session *s = job->arg;
	off_t size = s->commit_size;

	s->state = S_CMD;
	if (job->rc == COMMIT_REFUSED && !s->dead) {
		scan_refused(s, job);
		goto resume;
	}
	if (job->rc == COMMIT_REFUSED) {
		session_free(s);
		return;
	}
	if (job->rc < 0) {
		log_error("%s: %s: cannot commit queue item: %s", s->sid, s->tx.env.id,
		    job->error);
		if (s->dead) {
			session_free(s);
			return;
		}
		session_reply(s, 452, "4.3.1", "Insufficient system storage, try again later");
		tx_reset(s);
		goto resume;
	}
	struct buf rcpts;
	buf_init(&rcpts, 0);
	for (size_t i = 0; i < s->tx.env.nrcpts; i++)
		buf_printf(&rcpts, "%s<%s>", i ? "," : "", s->tx.env.rcpts[i].address);
	log_info("%s: %s: accepted from=<%s> to=%s size=%lld nrcpt=%zu%s%s",
	    s->sid, s->tx.env.id, s->tx.env.sender, rcpts.data, (long long)size,
	    s->tx.env.nrcpts, s->auth_user ? " auth=" : "",
	    s->auth_user ? s->auth_user : "");
	buf_free(&rcpts);
	if (job->av.enabled) {
		char why[300];
		av_reason(&job->av_res, why, sizeof(why));
		if (job->av_res.verdict == AV_UNSCANNED_PASS)
			log_warnx("%s: %s: antivirus: %s; passed unscanned "
			    "(antivirus.on_failure pass)", s->sid,
			    s->tx.env.id, why);
		else
			log_info("%s: %s: antivirus: %s", s->sid, s->tx.env.id,
			    why);
	}
	if (job->spam_rc > 0)
		log_info("%s: %s: spam check: score=%.2f required=%.2f "
		    "action=%s symbols=%s", s->sid, s->tx.env.id,
		    job->spam_res.score, job->spam_res.required,
		    job->spam_res.action, job->spam_res.symbols);
	else if (job->spam_rc < 0)
		log_warnx("%s: %s: spam check: %s; passed unchecked", s->sid,
		    s->tx.env.id, job->spam_reason);
	traffic_add(TRAFFIC_IN, 1);
	if (s->dead) {
		/* durable, but the client is gone: it may send it again */
		log_info("%s: %s: client left before the reply", s->sid, s->tx.env.id);
		session_free(s);
		return;
	}
	session_reply(s, 250, "2.0.0", "Ok: queued as %s", s->tx.env.id);
	tx_reset(s);
	s->junk = 0;
resume:
	if (s->expired) {
		/* the session time ran out during the commit */
		session_timeout(s);
		return;
	}
	if (s->revoked) {
		auth_revoked_close(s);
		return;
	}
	conn_resume(s->c);
}

/* tx_ready - a transaction with recipients; replies if not */
static bool
tx_ready(struct session *s, int *code_r, const char **enh_r,
	 const char **text_r)
{
	if (!s->in_tx) {
		*code_r = 503; *enh_r = "5.5.1"; *text_r = "Need MAIL command first";
		return false;
	}
	if (s->tx.env.nrcpts == 0) {
		*code_r = 554; *enh_r = "5.5.1"; *text_r = "No valid recipients";
		return false;
	}
	return true;
}

void
cmd_data(struct session *s, const char *args)
{
	int code;
	const char *enh, *text;

	if (*args != '\0') {
		session_reply(s, 501, "5.5.4", "Syntax: DATA");
		session_error(s);
		return;
	}
	if (!tx_ready(s, &code, &enh, &text)) {
		session_reply(s, code, enh, "%s", text);
		session_error(s);
		return;
	}
	if (s->tx.bdat_mode || (s->tx.env.body_type != NULL &&
	    strcmp(s->tx.env.body_type, "BINARYMIME") == 0)) {
		session_reply(s, 503, "5.5.1", "Use BDAT for this transaction");
		session_error(s);
		return;
	}
	if (!message_open(s))
		return;
	smtp_data_init(&s->tx.dr, s->max_size);
	s->state = S_DATA;
	session_reply(s, 354, NULL, "End data with <CR><LF>.<CR><LF>");
}

void
cmd_bdat(struct session *s, const char *args)
{
	uint64_t size;
	bool last;
	const char *err, *enh, *text;
	int code;

	if (smtp_bdat_parse(args, &size, &last, &err) < 0) {
		/* the chunk size is unknown: the stream cannot be trusted */
		session_reply(s, 501, "5.5.4", "%s", err);
		log_warnx("%s: bad BDAT (%s), closing", s->sid, err);
		session_close(s);
		return;
	}
	s->tx.bdat_left = size;
	s->tx.bdat_last = last;
	s->tx.bdat_err_code = 0;
	s->state = S_BDAT;
	if (!tx_ready(s, &code, &enh, &text)) {
		s->tx.bdat_err_code = code;
		snprintf(s->tx.bdat_err, sizeof(s->tx.bdat_err), "%s %s", enh, text);
	} else if (!s->tx.bdat_mode) {
		if (!message_open(s)) {
			/* message_open replied: swallow the chunk silently */
			s->tx.bdat_err_code = -1;
			tx_reset(s);
		} else {
			s->tx.bdat_mode = true;
		}
	}
	/* a chunk of 0 octets is finished by the read loop we are called
	 * from (never recurse into it: it may free the session) */
}

/* cmd_burl - BURL url [LAST] (RFC 4468): the next chunk of the message
 * is what the URLAUTH URL names (smtpd-burl.c); mixes with BDAT */
void
cmd_burl(struct session *s, const char *args)
{
	const char *sp = strchr(args, ' ');
	size_t ul = sp ? (size_t)(sp - args) : strlen(args);
	bool last = false;
	const char *enh, *text;
	int code;

	if (sp != NULL) {
		while (*sp == ' ')
			sp++;
		if (strcasecmp(sp, "LAST") != 0)
			ul = 0;
		last = true;
	}
	if (ul == 0 || ul > IMAP_URL_MAX) {
		session_reply(s, 501, "5.5.4", ul ? "URL too long" :
		    "Syntax: BURL imap-url [LAST]");
		session_error(s);
		return;
	}
	if (s->auth_user == NULL) {
		session_reply(s, 530, "5.7.0", "Authentication required for BURL");
		session_error(s);
		return;
	}
	if (!tx_ready(s, &code, &enh, &text)) {
		session_reply(s, code, enh, "%s", text);
		session_error(s);
		return;
	}
	if (!s->tx.bdat_mode) {
		if (!message_open(s)) {
			tx_reset(s);
			return;
		}
		s->tx.bdat_mode = true;
	}
	if (s->tx.burl_urls >= BURL_MAX_URLS) {
		tx_reset(s);
		session_reply(s, 552, "5.3.4", "Too many BURL URLs for one "
		    "message (at most %d)", BURL_MAX_URLS);
		return;
	}
	s->tx.burl_urls++;
	char *url = xstrndup(args, ul);
	struct buf data;
	buf_init(&data, 0);
	if (burl_fetch(s, url, &data, &code, &text) < 0) {
		/* nothing of a failed BURL is kept: the transaction ends */
		tx_reset(s);
		session_reply(s, code, code == 454 ? "4.6.6" : code == 552 ?
		    "5.3.4" : "5.6.6", "IMAP URL resolution failed: %s", text);
		buf_free(&data);
		free(url);
		return;
	}
	free(url);
	s->tx.msg_size += data.len;
	if (s->tx.msg_size > s->max_size)
		s->tx.too_big = true;
	if (!s->tx.too_big && data.len > 0) {
		size_t before = s->tx.out.len;
		buf_append(&s->tx.out, data.data, data.len);
		if (!s->tx.hdr_done)
			scan_headers(s, s->tx.out.data + before, data.len);
		header_policy_feed(s, before);
		flush_out(s, false);
	}
	buf_free(&data);
	if (s->tx.too_big || last) {
		message_finish(s, 0);
		return;
	}
	flush_out(s, false);
	session_reply(s, 250, "2.0.0", "%llu octets received",
	    (unsigned long long)s->tx.msg_size);
}

/* bdat_chunk_done - the last byte of a chunk was read */
void
bdat_chunk_done(struct session *s)
{
	s->state = S_CMD;
	if (s->tx.bdat_err_code != 0) {
		if (s->tx.bdat_err_code > 0)
			session_reply(s, s->tx.bdat_err_code, NULL, "%s", s->tx.bdat_err);
		session_error(s);
		return;
	}
	if (s->tx.too_big) {
		message_finish(s, 0);    /* replies 552 and resets */
		return;
	}
	if (s->tx.bdat_last) {
		message_finish(s, 0);
		return;
	}
	flush_out(s, false);
	session_reply(s, 250, "2.0.0", "%llu octets received",
	    (unsigned long long)s->tx.msg_size);
}

