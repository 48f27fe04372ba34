/* api-admin-diag - Diagnostic/get (the report of `postern diag`, manual
 * 4.4.1, from lib-diag) and Track/get (one message's path through every
 * service from their logs and where it is queued now, the code of
 * `postern track`). A SYSADMIN's: the logs and the report cover every
 * post office. Both run on a worker thread: the report's network and DNS
 * checks are bounded by lib-diag (a timeout per step and 15 s for all
 * DNS work), a track reads each log up to TRACK_LOG_MAX. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "api-admin.h"
#include "diag.h"
#include "qadmin.h"
#include "settings.h"
#include "xalloc.h"

#define TRACK_LOG_MAX (64 * 1024 * 1024)   /* per log file, in httpd */
#define TRACK_KEY_MAX 320

static bool
sysadmin_only(struct api_ctx *c, const char *what, json_t **error_r)
{
	if (api_sysadmin_all(c->actor))
		return true;
	*error_r = jmap_error("forbidden", "%s covers every post office: it is "
	    "for a SYSADMIN", what);
	return false;
}

/* Diagnostic/get {dns?: bool, network?: bool}: list holds one report
 * {id: "report", generated, errors, warnings, sections: [{name, items:
 * [{check, status, value, advice}]}]} */
static void
diagnostic_get(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct api_ctx *c = ctx;
	struct diag_options o;
	struct diag_report rep;
	json_t *dns = json_object_get(args, "dns");
	json_t *net = json_object_get(args, "network");

	if (!api_account_ok(args, error_r) ||
	    !sysadmin_only(c, "the diagnostic report", error_r))
		return;
	if ((dns != NULL && !json_is_boolean(dns)) ||
	    (net != NULL && !json_is_boolean(net))) {
		*error_r = jmap_error_props("invalidArguments", "dns and network "
		    "are true or false", dns != NULL && !json_is_boolean(dns) ?
		    "dns" : "network", NULL);
		return;
	}
	diag_options_default(&o);
	if (dns != NULL)
		o.dns = json_is_true(dns);
	if (net != NULL)
		o.network = json_is_true(net);
	diag_run(c->db, db_root(c->db), &o, &rep);
	json_t *r = diag_render_json(&rep);
	diag_report_free(&rep);
	json_object_del(r, "root");
	json_object_set_new(r, "id", json_string("report"));
	*result_r = json_pack("{s:s,s:s,s:[o],s:[]}", "accountId", API_ACCOUNT,
	    "state", "0", "list", r, "notFound");
}

/* Track/get {ids: [key]}: each key a queue id, a Message-ID or an
 * address; each found one {id: key, ids, log, queued} */
static void
track_get(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct api_ctx *c = ctx;
	json_t *ids, *v;
	const char *err;
	size_t i;

	if (!api_get_ids(c, args, &ids, error_r) ||
	    !sysadmin_only(c, "message tracking", error_r))
		return;
	if (ids == NULL || json_array_size(ids) > 10) {
		*error_r = jmap_error_props("invalidArguments", "ids: one to ten "
		    "queue ids, Message-IDs or addresses to track", "ids", NULL);
		return;
	}
	json_array_foreach(ids, i, v)
		if (json_string_length(v) == 0 || json_string_length(v) >
		    TRACK_KEY_MAX) {
			*error_r = jmap_error_props("invalidArguments", "a key to "
			    "track is 1 to 320 characters", "ids", NULL);
			return;
		}
	char *qroot = settings_queue_path(c->db);
	json_t *list = json_array(), *nf = json_array();
	json_array_foreach(ids, i, v) {
		json_t *t = qadm_track(db_root(c->db), qroot, json_string_value(v),
		    TRACK_LOG_MAX, &err);
		if (t == NULL || (json_array_size(json_object_get(t, "log")) == 0 &&
		    json_array_size(json_object_get(t, "queued")) == 0)) {
			json_decref(t);
			json_array_append(nf, v);
			continue;
		}
		json_object_set(t, "id", v);
		json_array_append_new(list, t);
	}
	free(qroot);
	*result_r = json_pack("{s:s,s:s,s:o,s:o}", "accountId", API_ACCOUNT,
	    "state", "0", "list", list, "notFound", nf);
}

const struct jmap_method api_diag_methods[] = {
	{ "Diagnostic/get", API_CAPABILITY, diagnostic_get },
	{ "Track/get", API_CAPABILITY, track_get },
	{ NULL, NULL, NULL },
};
