#ifndef POSTERN_LISTSERV_POSTING_H
#define POSTERN_LISTSERV_POSTING_H

#include <stddef.h>
#include <time.h>

/* The copies of one post (one per member), staged and then handed to the
 * MTA at once, so a crash mid-post neither loses a member's copy nor
 * gives a member two:
 *
 *   <queue root>/ls/posting/<base>/{tmp,new,cur}  the copies, committed
 *                                  as queue items (queue.h) while staged
 *   <queue root>/ls/posting/<base>/complete       written (durably) once
 *                                  every copy is staged: the commit record
 *
 * 1. copies are committed into the posting directory, which the MTA does
 *    not read; a crash here leaves no "complete": the next attempt wipes
 *    the directory and stages again (nothing was handed over);
 * 2. "complete" is written;
 * 3. each copy is moved by rename into ls/inbound/new (message, then
 *    envelope: the MTA takes an item by its envelope), then ls/inbound/new
 *    is fsynced; a crash here is finished by the next attempt, which sees
 *    "complete" and moves what is left, so a copy is moved exactly once;
 * 4. only when the post's queue item (or held post) is gone is the
 *    posting directory removed; what a crash leaves between 3 and 4 is
 *    complete and empty, and goes after POSTING_GC_AGE.
 * <base> is a queue id (hex digits and dots): the post's item id (with
 * ".<k>" for its k-th recipient when it has several). */

#define POSTING_GC_AGE 86400

enum posting_state {
	POSTING_NONE = 0,
	POSTING_PARTIAL,      /* staging cut short: start over */
	POSTING_COMPLETE,     /* every copy staged: hand over what is left */
};

/* posting_state - where the post <base> under dir (<queue>/ls/posting)
 * stands. */
enum posting_state posting_state(const char *dir, const char *base);
/* posting_begin - an empty posting directory for base (a partial one is
 * wiped); returns its queue path (new string) or NULL. */
char *posting_begin(const char *dir, const char *base, const char **error_r);
/* posting_complete - write the commit record durably; 0 or -1. */
int posting_complete(const char *dir, const char *base, const char **error_r);
/* posting_hand_over - move every staged copy into the queue inbound (its
 * new/), then fsync inbound/new; *moved_r counts the copies moved by this
 * call. 0, or -1 (what is left is moved by the next call). */
int posting_hand_over(const char *dir, const char *base, const char *inbound,
		      size_t *moved_r, const char **error_r);
/* posting_remove - the posting directory of base, once its post is done. */
void posting_remove(const char *dir, const char *base);
/* posting_gc - remove posting directories left by crashes: complete and
 * empty, or partial, and untouched for max_age seconds. */
void posting_gc(const char *dir, time_t max_age);

#endif
