#ifndef POSTERN_IMAPD_SEARCH_H
#define POSTERN_IMAPD_SEARCH_H

/* search - the SEARCH matcher (cmd-search.c), run in slices, which SORT
 * and THREAD (cmd-sort.c) share */

#include "imapd.h"

/* SEARCH, SORT and THREAD run in slices (search_start) so
 * that a search over a large folder does not hold the event loop */
/* search_load_fn - SORT/THREAD: what match number k (view index idx)
 * needs, between slices like the matching */
typedef void search_load_fn(struct session *s, void *arg, size_t k,
			    size_t idx);
/* search_finish_fn - the answer: idx the view indexes (ascending) of the
 * n matches, maxmod the highest modseq among them. s NULL: the session
 * is gone, only free arg. */
typedef void search_finish_fn(struct session *s, const char *tag, bool uid,
			      const struct imap_search *srch,
			      const size_t *idx, size_t n, uint64_t maxmod,
			      void *arg);
/* search_start - match srch (taken over: *srch is cleared) on the view,
 * then load (may be NULL) each match, then finish. Answered at once when
 * it fits in one slice; else the session is suspended until it is. */
void search_start(struct session *s, const char *tag, bool uid,
		  struct imap_search *srch, search_load_fn *load,
		  search_finish_fn *finish, void *arg);
/* search_job_free - the session goes: drop its search (finish gets s
 * NULL) */
void search_job_free(struct search_job **j);

#endif
