/* authres - DKIM verification into Authentication-Results (authres.h) */
#include <ctype.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "authres.h"
#include "dkim.h"
#include "dns.h"
#include "envcopy.h"
#include "fsutil.h"
#include "log.h"
#include "mime.h"
#include "msghdr.h"
#include "settings.h"
#include "strutil.h"
#include "xalloc.h"

#define DNS_WAIT 15   /* seconds: a bound on top of c-ares' own timeouts */

struct txt_wait {
	bool done;
	enum dns_status status;
	char *record;
};

static void
on_txt(void *ctx, enum dns_status status, char *const *txt, size_t n,
       const char *error)
{
	struct txt_wait *w = ctx;

	w->done = true;
	w->status = status;
	/* several records: the first that looks like a DKIM key */
	for (size_t i = 0; status == DNS_OK && i < n && w->record == NULL; i++)
		if (strncmp(txt[i], "v=DKIM1", 7) == 0 || strstr(txt[i], "p=") != NULL)
			w->record = xstrdup(txt[i]);
}

/* key_lookup - the key record of s._domainkey.d, waiting for the answer */
static enum dns_status
key_lookup(const char *servers, const char *selector, const char *domain,
	   char **record_r)
{
	struct txt_wait w = { false, DNS_TEMPFAIL, NULL };
	struct event_base *base = event_base_new();
	const char *err = NULL;
	struct dns_resolver *r;
	char *name;

	*record_r = NULL;
	if (base == NULL)
		return DNS_TEMPFAIL;
	r = dns_resolver_new(base, servers, 3000, 2, &err);
	if (r == NULL) {
		event_base_free(base);
		return DNS_TEMPFAIL;
	}
	name = xasprintf("%s._domainkey.%s", selector, domain);
	dns_lookup_txt(r, name, on_txt, &w);
	time_t end = time(NULL) + DNS_WAIT;
	while (!w.done && time(NULL) < end)
		event_base_loop(base, EVLOOP_ONCE);
	dns_resolver_free(&r);
	event_base_free(base);
	free(name);
	if (!w.done)
		return DNS_TEMPFAIL;
	if (w.status == DNS_OK && w.record == NULL)
		w.status = DNS_NOTFOUND;
	*record_r = w.record;
	return w.status;
}

/* reason - a comment for the result: printable, no parentheses */
static void
reason(struct buf *out, const char *why)
{
	buf_puts(out, " (");
	for (; *why != '\0'; why++)
		buf_putc(out, (*why == '(' || *why == ')' || (unsigned char)*why < 0x20 ||
		    (unsigned char)*why > 0x7e) ? ' ' : *why);
	buf_putc(out, ')');
}

/* safe_value - a property value RFC 8601 can carry unquoted */
static bool
safe_value(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && strchr(".-_+/=@", *s) == NULL)
			return false;
	return true;
}

/* verify_all - the resinfo list for the message */
static void
verify_all(struct db *db, const char *msg, size_t len, struct buf *out)
{
	struct dkim_hdr *h = xcalloc(1, sizeof(*h));
	const char *herr;
	int scan = dkim_hdr_scan(msg, len, h, &herr);
	size_t n = dkim_count(msg, len);
	char *servers;

	free(h);
	if (scan < 0) {
		/* over the limits of dkim.h: not verified */
		buf_puts(out, ";\r\n\tdkim=permerror");
		reason(out, herr);
		return;
	}
	if (n == 0) {
		buf_puts(out, ";\r\n\tdkim=none");
		return;
	}
	servers = settings_get_str(db, "dns.hosts");
	for (size_t i = 0; i < n && i < AUTHRES_MAX_SIGS; i++) {
		struct dkim_sig sig;
		const char *why = NULL;
		char *record = NULL;
		enum dkim_result res;

		if (dkim_sig_at(msg, len, i, &sig, &why) < 0) {
			buf_puts(out, ";\r\n\tdkim=permerror");
			reason(out, why);
			continue;
		}
		switch (key_lookup(servers, sig.selector, sig.domain, &record)) {
		case DNS_OK:
			res = dkim_verify(msg, len, i, record, NULL, &why);
			break;
		case DNS_TEMPFAIL:
			res = DKIM_TEMPERROR;
			why = "key lookup failed";
			break;
		default:
			res = DKIM_PERMERROR;
			why = "no key record";
			break;
		}
		free(record);
		buf_printf(out, ";\r\n\tdkim=%s", dkim_result_name(res));
		if (res != DKIM_PASS && why != NULL)
			reason(out, why);
		if (safe_value(sig.domain))
			buf_printf(out, " header.d=%s", sig.domain);
		if (safe_value(sig.selector))
			buf_printf(out, " header.s=%s", sig.selector);
		buf_printf(out, " header.a=%s", dkim_alg_name(sig.alg));
		/* RFC 6008: the first 8 characters of b= tell signatures apart */
		struct buf b64;
		buf_init(&b64, 0);
		dkim_b64_encode(sig.b, sig.b_len, &b64);
		if (b64.len >= 8) {
			b64.data[8] = '\0';
			buf_printf(out, " header.b=\"%s\"", b64.data);
		}
		buf_free(&b64);
	}
	free(servers);
}

/* Authentication-Results fields claiming our authserv-id, to remove:
 * found with msghdr, without the DKIM field count limit, so no number of
 * filler fields hides one */
struct strip {
	const char *id;
	size_t *start, *end;
	size_t n, cap;
};

static void
strip_field(void *ctx, const struct msghdr_field *f)
{
	struct strip *s = ctx;
	size_t il = strlen(s->id);

	if (strcasecmp(f->name, "Authentication-Results") != 0)
		return;
	const char *v = mime_skip_cfws(f->value);
	if (strncasecmp(v, s->id, il) != 0)
		return;
	v += il;
	if (*v != ';' && *v != '\0' && *v != ' ' && *v != '\t' && *v != '(')
		return;   /* a longer name, not ours */
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 8;
		s->start = xreallocarray(s->start, s->cap, sizeof(size_t));
		s->end = xreallocarray(s->end, s->cap, sizeof(size_t));
	}
	s->start[s->n] = f->raw_start;
	s->end[s->n] = f->raw_end;
	s->n++;
}

enum filter_result
authres_run(struct filter_ctx *ctx)
{
	struct buf msg, out;
	const char *err;
	char *host, *path;
	size_t removed = 0;

	if (strcmp(ctx->conn, "smtp") != 0 && strcmp(ctx->conn, "pr") != 0)
		return FILTER_CONTINUE;
	if (settings_get_int(ctx->db, "dkim.verify", 0) == 0 ||
	    env_from_here(ctx->db, ctx->env))
		return FILTER_CONTINUE;
	const char *src = ctx->new_msg_path ? ctx->new_msg_path : ctx->msg_path;
	buf_init(&msg, AUTHRES_MSG_MAX);
	if (file_read(src, &msg) < 0) {
		buf_free(&msg);
		log_info("%s: DKIM: not verified (message over %d MB or unreadable)",
		    ctx->env->id, AUTHRES_MSG_MAX >> 20);
		return FILTER_CONTINUE;
	}
	host = settings_hostname(ctx->db);
	buf_init(&out, 0);
	buf_printf(&out, "Authentication-Results: %s", host);
	verify_all(ctx->db, msg.data, msg.len, &out);
	buf_puts(&out, "\r\n");
	char *line = xstrndup(out.data, out.len - 2);
	for (char *q; (q = strstr(line, "\r\n\t")) != NULL;)
		memmove(q, q + 2, strlen(q + 2) + 1);
	for (char *q = line; *q != '\0'; q++)
		if (*q == '\t')
			*q = ' ';
	log_info("%s: %s", ctx->env->id, line);
	free(line);
	/* the message without A-R fields in our name */
	struct strip st = { host, NULL, NULL, 0, 0 };
	struct msghdr_parser hp;
	size_t used, pos = 0;
	msghdr_parser_init(&hp, msg.len + 1, strip_field, &st);
	int hr = msghdr_parser_feed(&hp, msg.data, msg.len, &used, &err);
	if (hr == 0)
		msghdr_parser_finish(&hp);
	msghdr_parser_deinit(&hp);
	if (hr < 0) {
		/* a field over 64 KB: we could not vouch that none claims
		 * to be ours */
		free(st.start);
		free(st.end);
		free(host);
		buf_free(&out);
		buf_free(&msg);
		ctx->reason = "a header field too long to check for forged "
		    "Authentication-Results";
		return FILTER_REJECT;
	}
	for (size_t i = 0; i < st.n; i++) {
		buf_append(&out, msg.data + pos, st.start[i] - pos);
		pos = st.end[i];
		removed++;
	}
	free(st.start);
	free(st.end);
	buf_append(&out, msg.data + pos, msg.len - pos);
	buf_free(&msg);
	if (removed > 0)
		log_info("%s: removed %zu Authentication-Results field(s) claiming "
		    "to be ours (%s)", ctx->env->id, removed, host);
	free(host);

	char rnd[6];
	random_bytes(rnd, sizeof(rnd));
	path = xasprintf("%s/smtp/inbound/tmp/%s.authres.%02x%02x%02x%02x%02x%02x",
	    ctx->queue_root, ctx->env->id, (unsigned char)rnd[0],
	    (unsigned char)rnd[1], (unsigned char)rnd[2], (unsigned char)rnd[3],
	    (unsigned char)rnd[4], (unsigned char)rnd[5]);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (fd < 0 || write_full(fd, out.data, out.len) < 0 || fsync(fd) < 0) {
		if (fd >= 0)
			close(fd);
		unlink(path);
		free(path);
		buf_free(&out);
		ctx->reason = "cannot write the message with Authentication-Results";
		return FILTER_DEFER;
	}
	close(fd);
	buf_free(&out);
	if (ctx->new_msg_path != NULL) {
		unlink(ctx->new_msg_path);
		free(ctx->new_msg_path);
	}
	ctx->new_msg_path = path;
	return FILTER_CONTINUE;
}
