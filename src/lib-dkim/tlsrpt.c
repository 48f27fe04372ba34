/* tlsrpt - TLS-RPT (RFC 8460): report rows, the _smtp._tls record, the
 * JSON aggregate report */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "fsutil.h"
#include "mailto.h"
#include "tlsrpt.h"
#include "xalloc.h"

#define ROW_VERSION "1"

static const char *const results[] = {
	"success",
	/* 4.3.1 negotiation failures */
	"starttls-not-supported", "certificate-host-mismatch",
	"certificate-expired", "certificate-not-trusted", "validation-failure",
	/* 4.3.2 policy failures */
	"tlsa-invalid", "dnssec-invalid", "dane-required",
	"sts-policy-fetch-error", "sts-policy-invalid", "sts-webpki-invalid",
	NULL
};

bool
tlsrpt_result_valid(const char *s)
{
	for (size_t i = 0; results[i] != NULL; i++)
		if (strcmp(s, results[i]) == 0)
			return true;
	return false;
}

const char *
tlsrpt_policy_name(enum tlsrpt_policy t)
{
	switch (t) {
	case TLSRPT_STS:
		return "sts";
	case TLSRPT_TLSA:
		return "tlsa";
	default:
		return "no-policy-found";
	}
}

/* put - a value in printable ASCII: tabs and line ends as spaces, other
 * bytes as '?' (the report is JSON: text only) */
static void
put(struct buf *out, const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		buf_putc(out, c == '\t' || c == '\n' || c == '\r' ? ' ' :
		    c < 0x20 || c >= 0x7f ? '?' : (char)c);
	}
}

void
tlsrpt_row_format(const struct tlsrpt_row *r, struct buf *out)
{
	buf_printf(out, ROW_VERSION "\t%lld\t%s\t", (long long)r->when,
	    tlsrpt_policy_name(r->type));
	put(out, r->domain);
	buf_putc(out, '\t');
	put(out, r->policy);
	buf_putc(out, '\t');
	put(out, r->mx);
	buf_putc(out, '\t');
	put(out, r->sending_ip);
	buf_putc(out, '\t');
	put(out, r->receiving_ip);
	buf_putc(out, '\t');
	put(out, r->result);
	buf_putc(out, '\t');
	put(out, r->detail);
	buf_putc(out, '\n');
}

/* field - the next tab separated field into out (size); -1 if too long */
static int
field(const char **p, const char *end, char *out, size_t size, bool last)
{
	const char *t = memchr(*p, '\t', (size_t)(end - *p));

	if (last) {
		if (t != NULL)
			return -1;
		t = end;
	} else if (t == NULL) {
		return -1;
	}
	size_t l = (size_t)(t - *p);
	if (l >= size)
		return -1;
	for (size_t i = 0; i < l; i++)     /* as put() writes them */
		if ((unsigned char)(*p)[i] < 0x20 || (unsigned char)(*p)[i] >= 0x7f)
			return -1;
	memcpy(out, *p, l);
	out[l] = '\0';
	*p = t + (last ? 0 : 1);
	return 0;
}

int
tlsrpt_row_parse(const char *line, size_t len, struct tlsrpt_row *r)
{
	const char *p = line, *end = line + len;
	char ver[4], when[24], type[24];

	memset(r, 0, sizeof(*r));
	if (len > TLSRPT_ROW_MAX)
		return -1;
	if (field(&p, end, ver, sizeof(ver), false) < 0 ||
	    strcmp(ver, ROW_VERSION) != 0 ||
	    field(&p, end, when, sizeof(when), false) < 0 ||
	    field(&p, end, type, sizeof(type), false) < 0 ||
	    field(&p, end, r->domain, sizeof(r->domain), false) < 0 ||
	    field(&p, end, r->policy, sizeof(r->policy), false) < 0 ||
	    field(&p, end, r->mx, sizeof(r->mx), false) < 0 ||
	    field(&p, end, r->sending_ip, sizeof(r->sending_ip), false) < 0 ||
	    field(&p, end, r->receiving_ip, sizeof(r->receiving_ip), false) < 0 ||
	    field(&p, end, r->result, sizeof(r->result), false) < 0 ||
	    field(&p, end, r->detail, sizeof(r->detail), true) < 0)
		return -1;
	char *e;
	errno = 0;
	long long w = strtoll(when, &e, 10);
	if (errno != 0 || *e != '\0' || e == when || w < 0)
		return -1;
	r->when = (time_t)w;
	if (strcmp(type, "sts") == 0)
		r->type = TLSRPT_STS;
	else if (strcmp(type, "tlsa") == 0)
		r->type = TLSRPT_TLSA;
	else if (strcmp(type, "no-policy-found") == 0)
		r->type = TLSRPT_NOPOLICY;
	else
		return -1;
	if (r->domain[0] == '\0' || !tlsrpt_result_valid(r->result))
		return -1;
	return 0;
}

char *
tlsrpt_path(const char *root, const char *day)
{
	return xasprintf("%s/tlsrpt/%s.tsv", root, day);
}

int
tlsrpt_append(const char *root, const struct tlsrpt_row *row,
	      const char **error_r)
{
	struct buf b;
	int rc;

	buf_init(&b, TLSRPT_ROW_MAX + 1);
	tlsrpt_row_format(row, &b);
	if (b.len > TLSRPT_ROW_MAX) {
		*error_r = "the row is too long";
		rc = -1;
	} else {
		rc = file_append_day(root, "tlsrpt", row->when, b.data, b.len,
		    error_r);
	}
	buf_free(&b);
	return rc;
}

/* -- the record ------------------------------------------------------- */

/* uri_ok - a mailto: with an address, or an https: URI; no spaces,
 * commas or semicolons (RFC 8460 3: those are %-encoded) */
static bool
uri_ok(const char *u, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)u[i] <= ' ' || (unsigned char)u[i] >= 0x7f ||
		    u[i] == ';' || u[i] == ',')
			return false;
	if (len > 7 && strncasecmp(u, "mailto:", 7) == 0) {
		const char *at = memchr(u + 7, '@', len - 7);
		return at != NULL && at > u + 7 && at < u + len - 1;
	}
	return len > 8 && strncasecmp(u, "https://", 8) == 0;
}

int
tlsrpt_record_parse(const char *txt, struct tlsrpt_record *rec,
		    const char **error_r)
{
	size_t len = strlen(txt);
	const char *p = txt, *end = txt + len;
	bool first = true, have_rua = false;

	memset(rec, 0, sizeof(*rec));
	/* RFC 8460 3: "v=TLSRPTv1" first, exactly */
	if (len < 10 || strncmp(txt, "v=TLSRPTv1", 10) != 0 ||
	    (len > 10 && txt[10] != ';' && txt[10] != ' ' && txt[10] != '\t'))
		return 0;
	if (len > TLSRPT_RECORD_MAX) {
		*error_r = "record over 2048 bytes";
		return -1;
	}
	while (p < end) {
		const char *semi = memchr(p, ';', (size_t)(end - p));
		const char *fe = semi ? semi : end;
		const char *a = p, *b = fe;

		while (a < b && (*a == ' ' || *a == '\t'))
			a++;
		while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
			b--;
		p = semi ? semi + 1 : end;
		if (first) {
			first = false;
			continue;      /* v=TLSRPTv1, checked above */
		}
		if (a == b)
			continue;      /* "; ;" or a trailing ";" */
		const char *eq = memchr(a, '=', (size_t)(b - a));
		if (eq == NULL) {
			*error_r = "a field without '='";
			return -1;
		}
		size_t klen = (size_t)(eq - a);
		while (klen > 0 && (a[klen - 1] == ' ' || a[klen - 1] == '\t'))
			klen--;
		if (klen != 3 || strncmp(a, "rua", 3) != 0)
			continue;      /* other fields are ignored (ext) */
		if (have_rua) {
			*error_r = "more than one rua field";
			return -1;
		}
		have_rua = true;
		const char *u = eq + 1;
		while (u < b) {
			const char *comma = memchr(u, ',', (size_t)(b - u));
			const char *ue = comma ? comma : b;
			const char *x = u, *y = ue;

			while (x < y && (*x == ' ' || *x == '\t'))
				x++;
			while (y > x && (y[-1] == ' ' || y[-1] == '\t'))
				y--;
			if (!uri_ok(x, (size_t)(y - x))) {
				*error_r = "rua: a URI that is neither mailto: "
				    "with an address nor https:";
				return -1;
			}
			if ((size_t)(y - x) >= TLSRPT_URI_MAX) {
				*error_r = "rua: a URI over 255 bytes";
				return -1;
			}
			if (rec->nrua == TLSRPT_RUA_MAX) {
				*error_r = "rua: more than 8 URIs";
				return -1;
			}
			if (strncasecmp(x, "mailto:", 7) == 0) {
				if (!mailto_uri_decode(x, (size_t)(y - x),
				    rec->rua[rec->nrua], TLSRPT_URI_MAX)) {
					*error_r = "rua: a mailto: URI whose "
					    "%-decoded address is not a valid "
					    "mailbox";
					return -1;
				}
			} else {
				memcpy(rec->rua[rec->nrua], x, (size_t)(y - x));
				rec->rua[rec->nrua][y - x] = '\0';
			}
			rec->nrua++;
			u = comma ? comma + 1 : b;
		}
	}
	if (!have_rua || rec->nrua == 0) {
		*error_r = "no rua";
		return -1;
	}
	return 1;
}

/* -- the report --------------------------------------------------------- */

static void
iso_time(time_t t, char out[32])
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* same_policy - rows under one policy entry */
static bool
same_policy(const struct tlsrpt_row *a, const struct tlsrpt_row *b)
{
	return a->type == b->type && strcmp(a->policy, b->policy) == 0;
}

static json_t *
policy_strings(const char *policy)
{
	json_t *a = json_array();
	const char *p = policy;

	while (*p != '\0') {
		const char *bar = strchr(p, '|');
		size_t l = bar ? (size_t)(bar - p) : strlen(p);
		if (l > 0)
			json_array_append_new(a, json_stringn(p, l));
		p += l + (bar ? 1 : 0);
	}
	return a;
}

char *
tlsrpt_report_json(const struct tlsrpt_meta *m, const struct tlsrpt_row *rows,
		   size_t n)
{
	json_t *root = json_object(), *policies = json_array();
	char b[32], e[32];
	bool *done = xcalloc(n ? n : 1, sizeof(bool));

	iso_time(m->begin, b);
	iso_time(m->end, e);
	json_object_set_new(root, "organization-name", json_string(m->org_name));
	json_object_set_new(root, "date-range", json_pack("{s:s, s:s}",
	    "start-datetime", b, "end-datetime", e));
	json_object_set_new(root, "contact-info", json_string(m->contact));
	json_object_set_new(root, "report-id", json_string(m->report_id));
	for (size_t i = 0; i < n; i++) {
		if (done[i])
			continue;
		const struct tlsrpt_row *r = &rows[i];
		json_t *pol = json_object(), *mxs = json_array();
		json_t *fails = json_array();
		json_int_t ok = 0, bad = 0;

		json_object_set_new(pol, "policy-type",
		    json_string(tlsrpt_policy_name(r->type)));
		json_object_set_new(pol, "policy-string", policy_strings(r->policy));
		json_object_set_new(pol, "policy-domain", json_string(r->domain));
		for (size_t k = i; k < n; k++) {
			const struct tlsrpt_row *x = &rows[k];
			if (done[k] || !same_policy(r, x) ||
			    strcasecmp(r->domain, x->domain) != 0)
				continue;
			done[k] = true;
			if (x->mx[0] != '\0') {
				bool seen = false;
				for (size_t j = 0; j < json_array_size(mxs); j++)
					if (strcasecmp(json_string_value(
					    json_array_get(mxs, j)), x->mx) == 0)
						seen = true;
				if (!seen)
					json_array_append_new(mxs, json_string(x->mx));
			}
			if (strcmp(x->result, "success") == 0) {
				ok++;
				continue;
			}
			bad++;
			/* the failure's group: result, MX, addresses, detail */
			json_t *f = NULL;
			for (size_t j = 0; j < json_array_size(fails); j++) {
				json_t *g = json_array_get(fails, j);
				const char *gm = json_string_value(json_object_get(g,
				    "receiving-mx-hostname"));
				const char *gi = json_string_value(json_object_get(g,
				    "receiving-ip"));
				const char *gs = json_string_value(json_object_get(g,
				    "sending-mta-ip"));
				if (strcmp(json_string_value(json_object_get(g,
				    "result-type")), x->result) == 0 &&
				    strcmp(gm ? gm : "", x->mx) == 0 &&
				    strcmp(gi ? gi : "", x->receiving_ip) == 0 &&
				    strcmp(gs ? gs : "", x->sending_ip) == 0) {
					f = g;
					break;
				}
			}
			if (f != NULL) {
				json_t *c = json_object_get(f, "failed-session-count");
				json_integer_set(c, json_integer_value(c) + 1);
				continue;
			}
			f = json_object();
			json_object_set_new(f, "result-type", json_string(x->result));
			if (x->sending_ip[0])
				json_object_set_new(f, "sending-mta-ip",
				    json_string(x->sending_ip));
			if (x->mx[0])
				json_object_set_new(f, "receiving-mx-hostname",
				    json_string(x->mx));
			if (x->receiving_ip[0])
				json_object_set_new(f, "receiving-ip",
				    json_string(x->receiving_ip));
			json_object_set_new(f, "failed-session-count",
			    json_integer(1));
			if (x->detail[0])
				json_object_set_new(f, "failure-reason-code",
				    json_string(x->detail));
			json_array_append_new(fails, f);
		}
		if (json_array_size(mxs) > 0)
			json_object_set_new(pol, "mx-host", mxs);
		else
			json_decref(mxs);
		json_t *ent = json_object();
		json_object_set_new(ent, "policy", pol);
		json_object_set_new(ent, "summary", json_pack("{s:I, s:I}",
		    "total-successful-session-count", ok,
		    "total-failure-session-count", bad));
		if (json_array_size(fails) > 0)
			json_object_set_new(ent, "failure-details", fails);
		else
			json_decref(fails);
		json_array_append_new(policies, ent);
	}
	json_object_set_new(root, "policies", policies);
	free(done);
	char *s = json_dumps(root, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
	json_decref(root);
	if (s == NULL)
		abort();       /* out of memory: as xmalloc */
	return s;
}

static int
by_domain(const void *a, const void *b)
{
	const struct tlsrpt_row *x = a, *y = b;
	int c = strcasecmp(x->domain, y->domain);
	if (c != 0)
		return c;
	return x->when < y->when ? -1 : x->when > y->when;
}

/* row_parse - file_rows' parser of a row */
static int
row_parse(const char *line, size_t len, void *row)
{
	return tlsrpt_row_parse(line, len, row);
}

int
tlsrpt_day(const char *root, const char *day, struct tlsrpt_row **rows_r,
	   size_t *n_r, size_t *bad_r)
{
	char *path = tlsrpt_path(root, day);
	void *rows;
	int r = file_rows(path, TLSRPT_DAY_ROWS_MAX, TLSRPT_ROW_MAX / 4,
	    sizeof(**rows_r), row_parse, by_domain, &rows, n_r, bad_r);

	free(path);
	*rows_r = rows;
	return r;
}

char *
tlsrpt_report_make(const char *host, const char *from, const char *day,
		   time_t begin, const struct tlsrpt_row *rows, size_t n,
		   char **report_id_r, char **file_name_r)
{
	const char *domain = rows[0].domain;
	char *rid = xasprintf("%s.%s@%s", day, domain, host);
	struct tlsrpt_meta m = { host, from, rid, begin, begin + 86399 };
	char *js = tlsrpt_report_json(&m, rows, n);

	*report_id_r = rid;
	*file_name_r = xasprintf("%s!%s!%lld!%lld.json.gz", host, domain,
	    (long long)begin, (long long)begin + 86399);
	return js;
}
