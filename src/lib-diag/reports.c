/* reports - what the daily DMARC and TLS-RPT reports share between
 * `postern dmarc|tls report` and the admin API's DmarcReport/query and
 * TlsReport/query (reports.h) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "reports.h"
#include "settings.h"
#include "xalloc.h"

#define DNS_WAIT_SECS 15

int
report_day(const char *date, char day[16], time_t *begin_r)
{
	struct tm tm;
	time_t begin;

	memset(&tm, 0, sizeof(tm));
	if (date != NULL) {
		char *e = strptime(date, "%Y-%m-%d", &tm);
		if (e == NULL || *e != '\0')
			return -1;
		begin = timegm(&tm);
	} else {
		begin = time(NULL) / 86400 * 86400 - 86400;
	}
	gmtime_r(&begin, &tm);
	strftime(day, 16, "%Y-%m-%d", &tm);
	*begin_r = timegm(&tm);
	return 0;
}

char *
report_from(struct db *db, const char *setting)
{
	char *from = xstrdup(settings_text(settings_current(db), settings_id(setting)));

	if (*from == '\0') {
		char *host = settings_hostname(db);
		free(from);
		from = xasprintf("postmaster@%s", host);
		free(host);
	}
	return from;
}

/* the _smtp._tls lookup, on a private loop */
struct txt_wait {
	struct event_base *base;
	bool done;
	enum dns_status st;
	char **txt;
	size_t n;
	char *error;
};

static void
txt_cb(void *ctx, enum dns_status st, char *const *txt, size_t n,
       const char *error)
{
	struct txt_wait *w = ctx;

	w->done = true;
	w->st = st;
	w->n = n;
	w->txt = xcalloc(n ? n : 1, sizeof(char *));
	for (size_t i = 0; i < n; i++)
		w->txt[i] = xstrdup(txt[i]);
	w->error = error ? xstrdup(error) : NULL;
	event_base_loopbreak(w->base);
}

static void
on_deadline(evutil_socket_t fd, short what, void *arg)
{
	event_base_loopbreak(arg);
}

/* report_tlsrpt_lookup - see reports.h; the domain's TLS-RPT record: 1 found (rec), 0 none, -1
 * unusable (why) */
int
report_tlsrpt_lookup(struct dns_resolver *res, struct event_base *base,
	   const char *domain, struct tlsrpt_record *rec, char *why,
	   size_t wsize)
{
	struct txt_wait w = { .base = base };
	char *name = xasprintf("_smtp._tls.%s", domain);
	struct timeval tv = { DNS_WAIT_SECS, 0 };
	int found = 0, rc;

	/* a timer of its own: a loopexit left pending would cut the next
	 * domain's lookup short */
	struct event *deadline = evtimer_new(base, on_deadline, base);
	dns_lookup_txt(res, name, txt_cb, &w);
	evtimer_add(deadline, &tv);
	event_base_dispatch(base);
	event_free(deadline);
	if (!w.done) {
		dns_cancel(res, &w);
		snprintf(why, wsize, "%s: no answer in %d s", name, DNS_WAIT_SECS);
		free(name);
		return -1;
	}
	rc = 0;
	if (w.st == DNS_TEMPFAIL) {
		snprintf(why, wsize, "%s: %s", name, w.error ? w.error :
		    "lookup failed");
		rc = -1;
	}
	for (size_t i = 0; rc == 0 && i < w.n; i++) {
		struct tlsrpt_record one;
		const char *err = NULL;
		int r = tlsrpt_record_parse(w.txt[i], &one, &err);
		if (r < 0) {
			snprintf(why, wsize, "%s: record ignored: %s", name, err);
			rc = -1;
		} else if (r == 1) {
			*rec = one;
			found++;
		}
	}
	if (rc == 0 && found > 1) {
		snprintf(why, wsize, "%s: %d TLSRPTv1 records: none used "
		    "(RFC 8460 3)", name, found);
		rc = -1;
	} else if (rc == 0 && found == 1) {
		rc = 1;
	} else if (rc == 0) {
		snprintf(why, wsize, "%s: no TLSRPTv1 record", name);
	}
	for (size_t i = 0; i < w.n; i++)
		free(w.txt[i]);
	free(w.txt);
	free(w.error);
	free(name);
	return rc;
}

