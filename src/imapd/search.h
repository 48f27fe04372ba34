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
 * n matches, maxmod the highest modseq among them (srch may be taken
 * over: cleared). s NULL: the session is gone, only free arg. */
typedef void search_finish_fn(struct session *s, const char *tag, bool uid,
			      struct imap_search *srch,
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

/* CONTEXT=SEARCH, CONTEXT=SORT (RFC 5267): SEARCH or SORT RETURN
 * (UPDATE ...) keeps its result up to date while the folder stays
 * selected. */
#define SEARCH_CONTEXTS_MAX 5   /* live contexts per session */
struct search_ctx;
struct sort_ctx;
/* search_ctx_keep - keep the result of a SEARCH or SORT with UPDATE: srch
 * taken over, ret its RETURN options, idx the view indexes of its nres
 * matches (ascending), sort a SORT's order (sort_live_*, taken over).
 * False when the session has SEARCH_CONTEXTS_MAX already: the client was
 * told with NOUPDATE (RFC 5267 4.2), nothing was taken. */
bool search_ctx_keep(struct session *s, const char *tag, bool uid,
		     struct imap_search *srch, unsigned ret,
		     const size_t *idx, size_t nres, struct sort_ctx *sort);
/* a kept SORT's order (cmd-sort.c): sort_live_add loads the keys of view
 * index idx and inserts it, sort_live_remove takes uid out; both give the
 * 1-based position (0: uid was not there); sort_live_uid the uid at a
 * 0-based position */
size_t sort_live_add(struct session *s, struct sort_ctx *c, size_t idx);
size_t sort_live_remove(struct sort_ctx *c, uint32_t uid);
uint32_t sort_live_uid(const struct sort_ctx *c, size_t pos);
void sort_live_free(struct sort_ctx *c);
/* search_ctx_refresh - tell each live context what the view's changes
 * (flags, new messages: modseq above what the context saw) added to or
 * removed from its result: ESEARCH ADDTO/REMOVEFROM */
void search_ctx_refresh(struct session *s);
/* search_ctx_expunged - the view dropped uids (seqs: their sequence
 * numbers before): REMOVEFROM for the contexts that held them */
void search_ctx_expunged(struct session *s, const uint32_t *uids,
			 const uint32_t *seqs, size_t n);
/* search_ctx_free_all - the folder is left: every context ends */
void search_ctx_free_all(struct session *s);
cmd_fn cmd_cancelupdate;

#endif
