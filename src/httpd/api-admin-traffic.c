/* api-admin-traffic - Traffic/get: messages in, out, delivered and
 * bounced per minute and the queue lengths over the last day, from the
 * ring posternd samples once a minute (traffic.h). A SYSADMIN's: the
 * counters are the server's, every post office's mail together, so an
 * ADMIN would learn the others' traffic from them.
 *
 * Traffic/get {minutes?: 1 to 1440 (default 1440)}: list holds one
 * {id: "traffic", start (unix time of the first minute), step: 60,
 * minutes, series {in, out, delivered, bounced: one number or null per
 * minute}, queues {label: one length or null per minute}, totals (the
 * counters since they were made)}. The last minute is the current one,
 * counted up to now. null: no sample (posternd was not running). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "api-admin.h"
#include "qadmin.h"
#include "traffic.h"
#include "xalloc.h"

static const struct traffic_slot *
slot_of(const struct traffic_slot *ring, int64_t minute)
{
	const struct traffic_slot *s = &ring[minute % TRAFFIC_SLOTS];

	return s->minute == minute ? s : NULL;
}

static void
traffic_get(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct api_ctx *c = ctx;
	json_t *m = json_object_get(args, "minutes");
	int64_t minutes = TRAFFIC_SLOTS;
	uint64_t now_c[TRAFFIC_NCOUNTERS];
	size_t nq = 0;

	if (!api_account_ok(args, error_r))
		return;
	if (!api_sysadmin_all(c->actor)) {
		*error_r = jmap_error("forbidden", "the traffic counters are the "
		    "server's, every post office's mail: they are for a "
		    "SYSADMIN");
		return;
	}
	if (m != NULL && !json_is_null(m)) {
		if (!json_is_integer(m) || json_integer_value(m) < 1 ||
		    json_integer_value(m) > TRAFFIC_SLOTS) {
			*error_r = jmap_error_props("invalidArguments", "minutes "
			    "is an integer of 1 to 1440", "minutes", NULL);
			return;
		}
		minutes = json_integer_value(m);
	}
	struct traffic_slot *ring = xcalloc(TRAFFIC_SLOTS, sizeof(*ring));
	const char *root = db_root(c->db);
	(void)traffic_ring_read(root, ring);
	bool have_now = traffic_read(root, now_c) == 0;
	int64_t cur = (int64_t)time(NULL) / 60, first = cur - minutes + 1;
	json_t *series = json_object(), *queues = json_object();
	json_t *totals = json_object();

	while (nq < TRAFFIC_NQUEUES && qadm_labels[nq] != NULL)
		nq++;
	for (size_t k = 0; traffic_names[k] != NULL; k++) {
		json_t *a = json_array();
		for (int64_t t = first; t <= cur; t++) {
			const struct traffic_slot *s = slot_of(ring, t);
			const struct traffic_slot *n = t < cur ?
			    slot_of(ring, t + 1) : NULL;
			/* the newest sampled minute runs up to now: the
			 * current one, or the one before while posternd has
			 * not sampled the new minute yet (otherwise what came
			 * since the last sample vanished for that moment) */
			bool last = t == cur || (t == cur - 1 && n == NULL);
			uint64_t to;
			if (s == NULL || (!last && n == NULL) ||
			    (last && !have_now)) {
				json_array_append_new(a, json_null());
				continue;
			}
			to = last ? now_c[k] : n->counters[k];
			/* counters only grow; less is a new file: unknown */
			json_array_append_new(a, to >= s->counters[k] ?
			    json_integer((json_int_t)(to - s->counters[k])) :
			    json_null());
		}
		json_object_set_new(series, traffic_names[k], a);
		json_object_set_new(totals, traffic_names[k],
		    json_integer((json_int_t)now_c[k]));
	}
	for (size_t q = 0; q < nq; q++) {
		json_t *a = json_array();
		for (int64_t t = first; t <= cur; t++) {
			const struct traffic_slot *s = slot_of(ring, t);
			json_array_append_new(a, s != NULL && s->queues[q] >= 0 ?
			    json_integer(s->queues[q]) : json_null());
		}
		json_object_set_new(queues, qadm_labels[q], a);
	}
	free(ring);
	json_t *o = json_pack("{s:s,s:I,s:i,s:I,s:o,s:o,s:o}", "id", "traffic",
	    "start", (json_int_t)first * 60, "step", 60, "minutes",
	    (json_int_t)minutes, "series", series, "queues", queues, "totals",
	    totals);
	char state[32];
	snprintf(state, sizeof(state), "%lld", (long long)cur);
	*result_r = json_pack("{s:s,s:s,s:[o],s:[]}", "accountId", API_ACCOUNT,
	    "state", state, "list", o, "notFound");
}

const struct jmap_method api_traffic_methods[] = {
	{ "Traffic/get", API_CAPABILITY, traffic_get },
	{ NULL, NULL, NULL },
};
