/* api-admin-reports - the daily aggregate reports and the DNS records
 * of outbound trust, through the code `postern dmarc report`, `postern
 * tls report` and `postern tls dns` run (lib-dkim dmarc-report.h and
 * tlsrpt.h: the day's rows and the report bodies; lib-diag reports.h:
 * the day, the sender, the _smtp._tls lookup; publish.h: the records;
 * diag.h: whether they are published):
 *   DmarcReport/query {date?}      the day's reports, one per policy domain
 *   DmarcReport/get {date?, ids}   their XML
 *   TlsReport/query {date?, lookup?}  one per recipient domain; lookup:
 *                                  where it goes (the _smtp._tls record)
 *   TlsReport/get {date?, ids}     their JSON
 *   TlsRecord/get {ids?, check?}   what each hosted domain publishes;
 *                                  check: the DNS checks of postern diag
 * The reports are a SYSADMIN's: they describe mail of every post office
 * (DMARC: inbound from other domains, TLS-RPT: outbound to them). An
 * ADMIN reads the records of its own post office's domains. Nothing here
 * changes anything: sending stays with posternd's daily run and the CLI. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "api.h"
#include "api-admin.h"
#include "diag.h"
#include "directory.h"
#include "dmarc-report.h"
#include "publish.h"
#include "reports.h"
#include "settings.h"
#include "tlsrpt.h"
#include "xalloc.h"

#define LOOKUP_BUDGET_S 20   /* all _smtp._tls lookups of one request */

/* reports_args - the account, the actor (SYSADMIN over all) and the day */
static bool
reports_args(struct api_ctx *c, json_t *args, char day[16], time_t *begin,
	     json_t **error_r)
{
	json_t *d = json_object_get(args, "date");

	if (!api_account_ok(args, error_r))
		return false;
	if (!api_sysadmin_all(c->actor)) {
		*error_r = jmap_error("forbidden", "the aggregate reports cover "
		    "every post office's mail: they are for a SYSADMIN");
		return false;
	}
	if ((d != NULL && !json_is_string(d)) || report_day(d != NULL ?
	    json_string_value(d) : NULL, day, begin) < 0) {
		*error_r = jmap_error_props("invalidArguments", "date is a UTC "
		    "day YYYY-MM-DD (default: yesterday)", "date", NULL);
		return false;
	}
	return true;
}

/* wanted_ids - ids of a /get: an array of strings, or NULL with the error */
static json_t *
wanted_ids(json_t *args, json_t **error_r)
{
	json_t *ids = json_object_get(args, "ids"), *v;
	size_t i;

	if (!json_is_array(ids) || json_array_size(ids) > 100) {
		*error_r = jmap_error_props("invalidArguments", "ids: 1 to 100 "
		    "domains", "ids", NULL);
		return NULL;
	}
	json_array_foreach(ids, i, v)
		if (!json_is_string(v)) {
			*error_r = jmap_error_props("invalidArguments", "ids are "
			    "domain names", "ids", NULL);
			return NULL;
		}
	return ids;
}

static bool
in_ids(json_t *ids, const char *domain)
{
	json_t *v;
	size_t i;

	json_array_foreach(ids, i, v)
		if (strcasecmp(json_string_value(v), domain) == 0)
			return true;
	return false;
}

static json_t *
not_found(json_t *ids, json_t *list)
{
	json_t *nf = json_array(), *v, *o;
	size_t i, k;

	json_array_foreach(ids, i, v) {
		bool hit = false;
		json_array_foreach(list, k, o)
			if (strcasecmp(json_string_value(json_object_get(o, "id")),
			    json_string_value(v)) == 0)
				hit = true;
		if (!hit)
			json_array_append(nf, v);
	}
	return nf;
}

/* reports_result - a /get's {state, day, list, notFound} or a /query's
 * {day, <counted>: n, skipped, total, list} */
static json_t *
reports_result(bool get, const char *day, const char *counted, size_t n,
	       size_t bad, json_t *list, json_t *ids)
{
	if (get)
		return json_pack("{s:s,s:s,s:s,s:o,s:o}", "accountId", API_ACCOUNT,
		    "state", "0", "day", day, "list", list, "notFound",
		    not_found(ids, list));
	return json_pack("{s:s,s:s,s:I,s:I,s:I,s:o}", "accountId", API_ACCOUNT,
	    "day", day, counted, (json_int_t)n, "skipped", (json_int_t)bad,
	    "total", (json_int_t)json_array_size(list), "list", list);
}

/* -- DMARC ---------------------------------------------------------------- */

static void
dmarc_common(void *ctx, json_t *args, bool get, json_t **result_r,
	     json_t **error_r)
{
	struct api_ctx *c = ctx;
	struct dmarc_report_row *rows;
	size_t n, bad;
	char day[16];
	time_t begin;
	json_t *ids = NULL;

	if (!reports_args(c, args, day, &begin, error_r) ||
	    (get && (ids = wanted_ids(args, error_r)) == NULL))
		return;
	if (dmarc_report_day(db_root(c->db), day, &rows, &n, &bad) < 0) {
		*error_r = jmap_error("serverFail", "the DMARC results of %s "
		    "cannot be read", day);
		return;
	}
	char *host = settings_hostname(c->db);
	char *from = report_from(c->db, "dmarc.report_from");
	json_t *list = json_array();
	for (size_t i = 0; i < n;) {
		size_t k = i, pass = 0, quarantined = 0, rejected = 0;
		while (k < n && strcmp(rows[k].policy_domain,
		    rows[i].policy_domain) == 0) {
			pass += rows[k].dkim_pass || rows[k].spf_pass;
			quarantined += rows[k].dis == DMARC_P_QUARANTINE;
			rejected += rows[k].dis == DMARC_P_REJECT;
			k++;
		}
		const char *domain = rows[i].policy_domain;
		if (get && !in_ids(ids, domain)) {
			i = k;
			continue;
		}
		const struct dmarc_report_row *last = &rows[k - 1];
		json_t *rua = json_array();
		for (size_t u = 0; u < last->rec.nrua; u++)
			json_array_append_new(rua, json_string(last->rec.rua[u]));
		struct buf xml;
		char *rid, *fname;
		buf_init(&xml, 0);
		dmarc_report_make(host, from, day, begin, rows + i, k - i, &xml,
		    &rid, &fname);
		json_t *o = json_pack("{s:s,s:s,s:I,s:I,s:I,s:I,s:o,s:s,s:s}",
		    "id", domain, "domain", domain, "messages", (json_int_t)(k - i),
		    "dmarcPass", (json_int_t)pass, "quarantined",
		    (json_int_t)quarantined, "rejected", (json_int_t)rejected,
		    "rua", rua, "reportId", rid, "fileName", fname);
		if (get)
			json_object_set_new(o, "xml", json_stringn(xml.data ?
			    xml.data : "", xml.len));
		json_array_append_new(list, o);
		buf_free(&xml);
		free(rid);
		free(fname);
		i = k;
	}
	free(rows);
	free(host);
	free(from);
	*result_r = reports_result(get, day, "rows", n, bad, list, ids);
}

static void
dmarc_query(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	dmarc_common(ctx, args, false, result_r, error_r);
}

static void
dmarc_get(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	dmarc_common(ctx, args, true, result_r, error_r);
}

/* -- TLS-RPT ------------------------------------------------------------- */

/* tls_rua - where the domain's report goes: {rua: [...]} or {noReport:
 * why}, looked up while the request's budget lasts */
static void
tls_rua(struct db *db, struct event_base **base, struct dns_resolver **res,
	time_t deadline, const char *domain, json_t *o)
{
	struct tlsrpt_record rec;
	char why[400];
	const char *err = NULL;

	if (time(NULL) >= deadline) {
		json_object_set_new(o, "noReport", json_string("not looked up: "
		    "the lookups of this request took too long"));
		return;
	}
	if (*base == NULL && (*base = event_base_new()) != NULL) {
		char *servers = xstrdup(settings_current(db)->dns_hosts);
		*res = dns_resolver_new(*base, servers, 3000, 2, &err);
		free(servers);
	}
	if (*res == NULL) {
		json_object_set_new(o, "noReport", json_sprintf("no resolver: %s",
		    err ? err : "?"));
		return;
	}
	int r = report_tlsrpt_lookup(*res, *base, domain, &rec, why, sizeof(why));
	if (r <= 0) {
		json_object_set_new(o, "noReport", json_string(why));
		return;
	}
	json_t *rua = json_array();
	for (size_t u = 0; u < rec.nrua; u++)
		json_array_append_new(rua, json_string(rec.rua[u]));
	json_object_set_new(o, "rua", rua);
}

static void
tls_common(void *ctx, json_t *args, bool get, json_t **result_r,
	   json_t **error_r)
{
	struct api_ctx *c = ctx;
	struct tlsrpt_row *rows;
	size_t n, bad;
	char day[16];
	time_t begin;
	json_t *ids = NULL, *lookup = json_object_get(args, "lookup");

	if (!reports_args(c, args, day, &begin, error_r) ||
	    (get && (ids = wanted_ids(args, error_r)) == NULL))
		return;
	if (lookup != NULL && !json_is_boolean(lookup)) {
		*error_r = jmap_error_props("invalidArguments", "lookup is true "
		    "or false", "lookup", NULL);
		return;
	}
	if (tlsrpt_day(db_root(c->db), day, &rows, &n, &bad) < 0) {
		*error_r = jmap_error("serverFail", "the TLS sessions of %s "
		    "cannot be read", day);
		return;
	}
	char *host = settings_hostname(c->db);
	char *from = report_from(c->db, "tlsrpt.report_from");
	struct event_base *base = NULL;
	struct dns_resolver *res = NULL;
	time_t deadline = time(NULL) + LOOKUP_BUDGET_S;
	json_t *list = json_array();
	for (size_t i = 0; i < n;) {
		size_t k = i, ok = 0;
		while (k < n && strcasecmp(rows[k].domain, rows[i].domain) == 0) {
			ok += strcmp(rows[k].result, "success") == 0;
			k++;
		}
		const char *domain = rows[i].domain;
		if (get && !in_ids(ids, domain)) {
			i = k;
			continue;
		}
		char *rid, *fname;
		char *js = tlsrpt_report_make(host, from, day, begin, rows + i,
		    k - i, &rid, &fname);
		json_t *o = json_pack("{s:s,s:s,s:I,s:I,s:I,s:s,s:s}", "id",
		    domain, "domain", domain, "sessions", (json_int_t)(k - i),
		    "successful", (json_int_t)ok, "failed", (json_int_t)(k - i - ok),
		    "reportId", rid, "fileName", fname);
		if (get)
			json_object_set_new(o, "report", json_loads(js, 0, NULL));
		if (json_is_true(lookup))
			tls_rua(c->db, &base, &res, deadline, domain, o);
		json_array_append_new(list, o);
		free(js);
		free(rid);
		free(fname);
		i = k;
	}
	if (res != NULL)
		dns_resolver_free(&res);
	if (base != NULL)
		event_base_free(base);
	free(rows);
	free(host);
	free(from);
	*result_r = reports_result(get, day, "sessions", n, bad, list, ids);
}

static void
tls_query(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	tls_common(ctx, args, false, result_r, error_r);
}

static void
tls_get(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	tls_common(ctx, args, true, result_r, error_r);
}

/* -- the records to publish ----------------------------------------------- */

/* record - {name, type, record} with, when checked, the diag item of the
 * same check name: status, found, advice */
static json_t *
record(const char *name, const char *type, const char *rdata,
       const struct diag_report *rep, const char *check)
{
	json_t *o = json_pack("{s:s,s:s,s:s}", "name", name, "type", type,
	    "record", rdata);

	for (size_t s = 0; rep != NULL && s < rep->nsections; s++)
		for (size_t i = 0; i < rep->sections[s]->nitems; i++) {
			const struct diag_item *it = &rep->sections[s]->items[i];
			if (strcasecmp(it->check, check) != 0)
				continue;
			json_object_set_new(o, "status", json_string(
			    diag_status_name(it->status)));
			json_object_set_new(o, "found", json_string(it->value ?
			    it->value : ""));
			if (it->advice != NULL)
				json_object_set_new(o, "advice",
				    json_string(it->advice));
		}
	return o;
}

static void
tlsrecord_get(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct api_ctx *c = ctx;
	json_t *ids = json_object_get(args, "ids"), *check = json_object_get(args,
	    "check");
	struct diag_report rep;
	bool checked = false;
	const char *err = NULL;

	if (!api_account_ok(args, error_r))
		return;
	if (ids != NULL && !json_is_null(ids) && wanted_ids(args, error_r) == NULL)
		return;
	if (check != NULL && !json_is_boolean(check)) {
		*error_r = jmap_error_props("invalidArguments", "check is true or "
		    "false", "check", NULL);
		return;
	}
	if (json_is_true(check)) {
		/* the DNS checks of `postern diag`, nothing that connects */
		struct diag_options o;
		diag_options_default(&o);
		o.network = false;
		diag_run(c->db, db_root(c->db), &o, &rep);
		checked = true;
	}
	json_t *list = json_array();
	struct db_stmt *q = db_query(c->db, &err, "SELECT name, postoffice_id FROM "
	    "domain WHERE disabled = 0 ORDER BY name", "");
	while (q != NULL && db_step(q, NULL) == DB_ROW) {
		const char *domain = db_col_text(q, 0);
		if (!api_po_visible(c->actor, db_col_int(q, 1)) ||
		    (json_is_array(ids) && !in_ids(ids, domain)))
			continue;
		struct publish_records p;
		char chk[340];
		publish_records(c->db, domain, &p);
		json_t *recs = json_array();
		if (p.sts && p.sts_error[0] == '\0') {
			snprintf(chk, sizeof(chk), "MTA-STS %s", p.sts_name);
			json_array_append_new(recs, record(p.sts_name, "TXT",
			    p.sts_txt, checked ? &rep : NULL, chk));
		}
		snprintf(chk, sizeof(chk), "TLS-RPT %s", p.rpt_name);
		json_array_append_new(recs, record(p.rpt_name, "TXT", p.rpt_txt,
		    checked ? &rep : NULL, chk));
		json_t *o = json_pack("{s:s,s:o}", "id", domain, "records", recs);
		if (p.sts && p.sts_error[0] != '\0')
			json_object_set_new(o, "mtaStsError", json_string(
			    p.sts_error));
		json_array_append_new(list, o);
	}
	db_stmt_free(&q);
	/* the server's own TLSA record, the same for every domain */
	struct publish_records p;
	json_t *tlsa;
	publish_records(c->db, "", &p);
	if (p.tlsa) {
		char chk[340];
		snprintf(chk, sizeof(chk), "DANE %s", p.tlsa_name);
		tlsa = record(p.tlsa_name, "TLSA", p.tlsa_rdata, checked ? &rep :
		    NULL, chk);
	} else {
		tlsa = json_pack("{s:s}", "error", p.tlsa_error);
	}
	if (checked)
		diag_report_free(&rep);
	*result_r = json_pack("{s:s,s:s,s:o,s:o,s:o,s:b}", "accountId",
	    API_ACCOUNT, "state", "0", "list", list, "notFound",
	    json_is_array(ids) ? not_found(ids, list) : json_array(), "tlsa",
	    tlsa, "checked", checked);
}

const struct jmap_method api_reports_methods[] = {
	{ "DmarcReport/query", API_CAPABILITY, dmarc_query },
	{ "DmarcReport/get", API_CAPABILITY, dmarc_get },
	{ "TlsReport/query", API_CAPABILITY, tls_query },
	{ "TlsReport/get", API_CAPABILITY, tls_get },
	{ "TlsRecord/get", API_CAPABILITY, tlsrecord_get },
	{ NULL, NULL, NULL },
};
