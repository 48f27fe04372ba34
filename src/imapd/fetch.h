#ifndef POSTERN_IMAPD_FETCH_H
#define POSTERN_IMAPD_FETCH_H

/* fetch - FETCH (cmd-fetch.c), sent while the client reads it */

#include "imapd.h"

/* a FETCH in progress: responses are produced while the client reads
 * them, so that FETCH 1:* BODY[] never queues the whole folder */
struct fetch_job {
	char *tag;
	struct imap_fetch f;
	size_t *idx;
	size_t n, pos;
	bool *seen_now;
	bool uid, use_changedsince, vanished, unknown_cte;
	uint64_t changedsince;
};

/* fetch_continue - send more of the FETCH in progress; true when done
 * (tagged reply sent, job freed), false when waiting for the client */
bool fetch_continue(struct session *s);
void fetch_job_free(struct fetch_job **j);

#endif
