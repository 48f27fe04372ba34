#ifndef POSTERN_IMAPD_FETCH_H
#define POSTERN_IMAPD_FETCH_H

/* fetch - FETCH (cmd-fetch.c), sent while the client reads it */

#include "content.h"
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
/* fetch_message - the FETCH response of the view's message idx with the
 * attributes f, into out, \Seen untouched (NOTIFY's MessageNew); 0, or
 * -1 when its file is gone */
int fetch_message(struct session *s, size_t idx, const struct imap_fetch *f,
		  struct buf *out);

/* fetch_section - the bytes (*p_r, *len_r: in c or tmp) a BODY[...] or
 * BINARY[...] item names in the loaded message c; -1 for an unknown
 * Content-Transfer-Encoding (BINARY) */
int fetch_section(struct content *c, const struct imap_fetch_item *it,
		  struct buf *tmp, const char **p_r, size_t *len_r);

#endif
