/* filter - the MTA's ordered chain of global filters */
#include <stddef.h>

#include "filter.h"
#include "limits.h"
#include "authres.h"
#include "gfilter.h"
#include "scan.h"

/* The installed filters, in order. Empty until a later issue adds the
 * global filters, antivirus and spam checks (manual 3.2); each is a
 * struct filter { "name", function }. */
static const struct filter filter_chain[] = {
	{ "global", gfilter_run },   /* gfilter.h: rules of the config store */
	{ "antivirus", scan_antivirus_run }, /* scan.h: clamd (lib-filter) */
	{ "milter", scan_milter_run }, /* scan.h: milter.list (lib-filter) */
	{ "spam", scan_spam_run },   /* scan.h: rspamd (lib-filter) */
	{ "dkim", authres_run },     /* authres.h: Authentication-Results */
	{ "limits", limits_run },    /* limits.h: outbound abuse limits */
	{ NULL, NULL },
};

/* filter_chain_count - the number of installed filters */
size_t
filter_chain_count(void)
{
	size_t n = 0;
	while (filter_chain[n].run != NULL)
		n++;
	return n;
}

/* filter_chain_run - run every filter until one stops the item */
enum filter_result
filter_chain_run(struct filter_ctx *ctx, const char **filter_r)
{
	*filter_r = NULL;
	for (size_t i = 0; filter_chain[i].run != NULL; i++) {
		enum filter_result r = filter_chain[i].run(ctx);
		if (r != FILTER_CONTINUE) {
			*filter_r = filter_chain[i].name;
			if (ctx->reason == NULL)
				ctx->reason = "rejected by a filter";
			return r;
		}
	}
	return FILTER_CONTINUE;
}
