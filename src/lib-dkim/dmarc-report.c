/* dmarc-report - DMARC aggregate report rows and XML (dmarc-report.h) */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dmarc-report.h"
#include "fsutil.h"
#include "xalloc.h"

#define ROW_FIELDS 19

static const char *
pol(enum dmarc_policy p)
{
	return p == DMARC_P_UNSET ? "-" : dmarc_policy_name(p);
}

static enum dmarc_policy
pol_parse(const char *s)
{
	if (strcmp(s, "none") == 0)
		return DMARC_P_NONE;
	if (strcmp(s, "quarantine") == 0)
		return DMARC_P_QUARANTINE;
	if (strcmp(s, "reject") == 0)
		return DMARC_P_REJECT;
	return DMARC_P_UNSET;
}

/* clean - a value fit for a field: no tab, no line end, no control */
static void
put(struct buf *out, const char *s)
{
	buf_putc(out, '\t');
	for (; *s != '\0'; s++)
		buf_putc(out, (unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s);
}

void
dmarc_report_format(const struct dmarc_report_row *r, struct buf *out)
{
	char when[32], pct[8];

	snprintf(when, sizeof(when), "%lld", (long long)r->when);
	snprintf(pct, sizeof(pct), "%d", r->rec.pct);
	buf_puts(out, "1");
	put(out, when);
	put(out, r->source_ip);
	put(out, r->header_from);
	put(out, r->policy_domain);
	put(out, r->envelope_from);
	put(out, pol(r->rec.p));
	put(out, pol(r->rec.sp));
	put(out, pol(r->rec.np));
	put(out, r->rec.adkim_strict ? "s" : "r");
	put(out, r->rec.aspf_strict ? "s" : "r");
	put(out, r->rec.testing ? "y" : "n");
	put(out, pct);
	put(out, pol(r->dis));
	put(out, r->dkim_pass ? "pass" : "fail");
	put(out, r->spf_pass ? "pass" : "fail");
	put(out, r->spf_result);
	put(out, r->dkim);
	buf_putc(out, '\t');
	for (size_t i = 0; i < r->rec.nrua; i++) {
		if (i > 0)
			buf_putc(out, ' ');
		for (const char *s = r->rec.rua[i]; *s != '\0'; s++)
			buf_putc(out, (unsigned char)*s <= 0x20 || *s == 0x7f ?
			    '?' : *s);
	}
	buf_putc(out, '\n');
}

/* copy - field f into dst of size; -1 if it does not fit */
static int
copy(char *dst, size_t size, const char *f, size_t len)
{
	if (len >= size)
		return -1;
	memcpy(dst, f, len);
	dst[len] = '\0';
	return 0;
}

int
dmarc_report_parse(const char *line, size_t len, struct dmarc_report_row *r)
{
	const char *f[ROW_FIELDS];
	size_t fl[ROW_FIELDS], n = 0, start = 0;
	char tmp[DMARC_URI_MAX * DMARC_URIS_MAX + 64];

	memset(r, 0, sizeof(*r));
	if (len > DMARC_ROW_MAX || memchr(line, '\n', len) != NULL ||
	    memchr(line, '\0', len) != NULL)
		return -1;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && line[i] != '\t')
			continue;
		if (n == ROW_FIELDS)
			return -1;
		f[n] = line + start;
		fl[n++] = i - start;
		start = i + 1;
	}
	if (n != ROW_FIELDS || fl[0] != 1 || f[0][0] != '1')
		return -1;
	if (copy(tmp, 32, f[1], fl[1]) < 0)
		return -1;
	char *e;
	errno = 0;
	long long when = strtoll(tmp, &e, 10);
	if (*e != '\0' || e == tmp || errno != 0 || when < 0)
		return -1;
	r->when = (time_t)when;
	if (copy(r->source_ip, sizeof(r->source_ip), f[2], fl[2]) < 0 ||
	    copy(r->header_from, sizeof(r->header_from), f[3], fl[3]) < 0 ||
	    copy(r->policy_domain, sizeof(r->policy_domain), f[4], fl[4]) < 0 ||
	    fl[4] == 0 ||
	    copy(r->envelope_from, sizeof(r->envelope_from), f[5], fl[5]) < 0)
		return -1;
	enum dmarc_policy *ps[] = { &r->rec.p, &r->rec.sp, &r->rec.np };
	for (int k = 0; k < 3; k++) {
		if (copy(tmp, 16, f[6 + k], fl[6 + k]) < 0)
			return -1;
		*ps[k] = pol_parse(tmp);
	}
	r->rec.adkim_strict = fl[9] == 1 && f[9][0] == 's';
	r->rec.aspf_strict = fl[10] == 1 && f[10][0] == 's';
	r->rec.testing = fl[11] == 1 && f[11][0] == 'y';
	if (copy(tmp, 8, f[12], fl[12]) < 0)
		return -1;
	r->rec.pct = atoi(tmp);
	if (r->rec.pct < -1 || r->rec.pct > 100)
		return -1;
	if (copy(tmp, 16, f[13], fl[13]) < 0)
		return -1;
	r->dis = pol_parse(tmp);
	r->dkim_pass = fl[14] == 4 && memcmp(f[14], "pass", 4) == 0;
	r->spf_pass = fl[15] == 4 && memcmp(f[15], "pass", 4) == 0;
	if (copy(r->spf_result, sizeof(r->spf_result), f[16], fl[16]) < 0 ||
	    copy(r->dkim, sizeof(r->dkim), f[17], fl[17]) < 0 ||
	    copy(tmp, sizeof(tmp), f[18], fl[18]) < 0)
		return -1;
	for (char *s = tmp, *sp; *s != '\0' && r->rec.nrua < DMARC_URIS_MAX;
	    s = sp) {
		sp = strchr(s, ' ');
		size_t l = sp ? (size_t)(sp - s) : strlen(s);
		if (l > 0 && l < DMARC_URI_MAX) {
			memcpy(r->rec.rua[r->rec.nrua], s, l);
			r->rec.rua[r->rec.nrua++][l] = '\0';
		}
		sp = sp ? sp + 1 : s + l;
	}
	return 0;
}

char *
dmarc_report_path(const char *root, const char *day)
{
	return xasprintf("%s/dmarc/%s.tsv", root, day);
}

int
dmarc_report_append(const char *root, const struct dmarc_report_row *row,
		    const char **error_r)
{
	struct buf b;
	int rc;

	buf_init(&b, DMARC_ROW_MAX + 1);
	dmarc_report_format(row, &b);
	if (b.len > DMARC_ROW_MAX) {
		*error_r = "the row is too long";
		rc = -1;
	} else {
		rc = file_append_day(root, "dmarc", row->when, b.data, b.len,
		    error_r);
	}
	buf_free(&b);
	return rc;
}

/* xml_text - character data, escaped */
static void
xml_text(struct buf *out, const char *s)
{
	for (; *s != '\0'; s++) {
		switch (*s) {
		case '<': buf_puts(out, "&lt;"); break;
		case '>': buf_puts(out, "&gt;"); break;
		case '&': buf_puts(out, "&amp;"); break;
		case '"': buf_puts(out, "&quot;"); break;
		default:
			if ((unsigned char)*s >= 0x20 || *s == '\t')
				buf_putc(out, *s);
		}
	}
}

static void
elem(struct buf *out, const char *indent, const char *name, const char *v)
{
	buf_printf(out, "%s<%s>", indent, name);
	xml_text(out, v);
	buf_printf(out, "</%s>\n", name);
}

/* same_group - rows counted together */
static bool
same_group(const struct dmarc_report_row *a, const struct dmarc_report_row *b)
{
	return strcmp(a->source_ip, b->source_ip) == 0 && a->dis == b->dis &&
	    a->dkim_pass == b->dkim_pass && a->spf_pass == b->spf_pass &&
	    strcmp(a->header_from, b->header_from) == 0 &&
	    strcmp(a->envelope_from, b->envelope_from) == 0 &&
	    strcmp(a->spf_result, b->spf_result) == 0 &&
	    strcmp(a->dkim, b->dkim) == 0;
}

void
dmarc_report_xml(const struct dmarc_report_meta *m,
		 const struct dmarc_report_row *rows, size_t n,
		 struct buf *out)
{
	char num[32];
	bool *done = xcalloc(n + 1, sizeof(bool));
	const struct dmarc_report_row *last = n > 0 ? &rows[n - 1] : NULL;

	buf_puts(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<feedback xmlns=\"urn:ietf:params:xml:ns:dmarc-2.0\">\n"
	    "  <version>1.0</version>\n  <report_metadata>\n");
	elem(out, "    ", "org_name", m->org_name);
	elem(out, "    ", "email", m->email);
	elem(out, "    ", "report_id", m->report_id);
	buf_puts(out, "    <date_range>\n");
	snprintf(num, sizeof(num), "%lld", (long long)m->begin);
	elem(out, "      ", "begin", num);
	snprintf(num, sizeof(num), "%lld", (long long)m->end);
	elem(out, "      ", "end", num);
	buf_puts(out, "    </date_range>\n  </report_metadata>\n"
	    "  <policy_published>\n");
	if (last != NULL) {
		elem(out, "    ", "domain", last->policy_domain);
		elem(out, "    ", "discovery_method", "treewalk");
		elem(out, "    ", "adkim", last->rec.adkim_strict ? "s" : "r");
		elem(out, "    ", "aspf", last->rec.aspf_strict ? "s" : "r");
		elem(out, "    ", "p", pol(last->rec.p));
		if (last->rec.sp != DMARC_P_UNSET)
			elem(out, "    ", "sp", pol(last->rec.sp));
		if (last->rec.np != DMARC_P_UNSET)
			elem(out, "    ", "np", pol(last->rec.np));
		elem(out, "    ", "testing", last->rec.testing ? "y" : "n");
	}
	buf_puts(out, "  </policy_published>\n");
	for (size_t i = 0; i < n; i++) {
		const struct dmarc_report_row *r = &rows[i];
		size_t count = 0;

		if (done[i])
			continue;
		for (size_t k = i; k < n; k++)
			if (!done[k] && same_group(r, &rows[k])) {
				done[k] = true;
				count++;
			}
		buf_puts(out, "  <record>\n    <row>\n");
		elem(out, "      ", "source_ip", r->source_ip);
		snprintf(num, sizeof(num), "%zu", count);
		elem(out, "      ", "count", num);
		buf_puts(out, "      <policy_evaluated>\n");
		elem(out, "        ", "disposition", pol(r->dis == DMARC_P_UNSET ?
		    DMARC_P_NONE : r->dis));
		elem(out, "        ", "dkim", r->dkim_pass ? "pass" : "fail");
		elem(out, "        ", "spf", r->spf_pass ? "pass" : "fail");
		buf_puts(out, "      </policy_evaluated>\n    </row>\n"
		    "    <identifiers>\n");
		if (r->envelope_from[0] != '\0')
			elem(out, "      ", "envelope_from", r->envelope_from);
		elem(out, "      ", "header_from", r->header_from);
		buf_puts(out, "    </identifiers>\n    <auth_results>\n");
		/* "d:result d:result" */
		char dk[sizeof(r->dkim)];
		snprintf(dk, sizeof(dk), "%s", r->dkim);
		for (char *s = dk, *sp; *s != '\0'; s = sp) {
			sp = strchr(s, ' ');
			if (sp != NULL)
				*sp++ = '\0';
			else
				sp = s + strlen(s);
			char *colon = strrchr(s, ':');
			if (colon == NULL)
				continue;
			*colon = '\0';
			buf_puts(out, "      <dkim>\n");
			elem(out, "        ", "domain", s);
			elem(out, "        ", "result", colon + 1);
			buf_puts(out, "      </dkim>\n");
		}
		buf_puts(out, "      <spf>\n");
		elem(out, "        ", "domain", r->envelope_from);
		elem(out, "        ", "scope", "mfrom");
		elem(out, "        ", "result", r->spf_result[0] ? r->spf_result :
		    "none");
		buf_puts(out, "      </spf>\n    </auth_results>\n  </record>\n");
	}
	buf_puts(out, "</feedback>\n");
	free(done);
}

static int
by_domain(const void *a, const void *b)
{
	const struct dmarc_report_row *x = a, *y = b;
	int c = strcmp(x->policy_domain, y->policy_domain);
	if (c != 0)
		return c;
	return x->when < y->when ? -1 : x->when > y->when;
}

/* row_parse - file_rows' parser of a row */
static int
row_parse(const char *line, size_t len, void *row)
{
	return dmarc_report_parse(line, len, row);
}

int
dmarc_report_day(const char *root, const char *day,
		 struct dmarc_report_row **rows_r, size_t *n_r, size_t *bad_r)
{
	char *path = dmarc_report_path(root, day);
	void *rows;
	int r = file_rows(path, DMARC_DAY_ROWS_MAX, 600, sizeof(**rows_r),
	    row_parse, by_domain, &rows, n_r, bad_r);

	free(path);
	*rows_r = rows;
	return r;
}

void
dmarc_report_make(const char *host, const char *from, const char *day,
		  time_t begin, const struct dmarc_report_row *rows, size_t n,
		  struct buf *xml, char **report_id_r, char **file_name_r)
{
	const char *domain = rows[0].policy_domain;
	char *rid = xasprintf("%s.%s@%s", day, domain, host);
	struct dmarc_report_meta m = { host, from, rid, begin, begin + 86399 };

	dmarc_report_xml(&m, rows, n, xml);
	*report_id_r = rid;
	*file_name_r = xasprintf("%s!%s!%lld!%lld.xml", host, domain,
	    (long long)begin, (long long)begin + 86399);
}
