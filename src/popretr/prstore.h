#ifndef POSTERN_POPRETR_PRSTORE_H
#define POSTERN_POPRETR_PRSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "queue.h"

/* The storage of POP retrieval (the protocol is in popretr.c):
 *
 * <queue>/pr/state/<account>.uidl, appended and fdatasync'ed record by
 * record: "i <queue id> <uidl>" (the intent, before a message is staged)
 * and "u <uidl>" (remembered: never fetched again); rewritten after a
 * session to the UIDLs still on the server.
 * <queue>/pr/fetched: a staging queue (queue.h) the MTA does not read;
 * an item is moved into pr/inbound by two renames, message then envelope,
 * and a move cut in half is finished by the next one. */

#define PR_UIDL_MAX 71

struct prstore {
	char *path;
	int fd;
	char **u;             /* remembered UIDLs, sorted */
	size_t nu;
	struct intent { char qid[QUEUE_ID_MAX + 1]; char *uidl; } *in;
	size_t nin;
};

/* prstore_load - read <statedir>/<id>.uidl and open it for appending;
 * 0, or -1 with error_r */
int prstore_load(const char *statedir, int64_t id, struct prstore *s,
		 const char **error_r);
void prstore_free(struct prstore *s);
/* prstore_has - whether uidl is remembered */
bool prstore_has(const struct prstore *s, const char *uidl);
/* prstore_insert - remember uidl in memory (after prstore_append) */
void prstore_insert(struct prstore *s, const char *uidl);
/* prstore_append - one record line, durably; 0 or -1 */
int prstore_append(struct prstore *s, const char *line);
/* prstore_rewrite - keep only the remembered UIDLs among keep */
void prstore_rewrite(struct prstore *s, char **keep, size_t nkeep);

/* prstore_stage_move - hand the staged item qid to the MTA; 0 or -1 */
int prstore_stage_move(const char *staged, const char *inbound,
		       const char *qid);
/* prstore_stage_recover - after a crash: remember the UIDL of every
 * staged item of s from its intent, then move it on */
void prstore_stage_recover(const char *staged, const char *inbound,
			   struct prstore *s);
/* prstore_stage_flush - move every committed staged item (call after
 * prstore_stage_recover of every account) */
void prstore_stage_flush(const char *staged, const char *inbound);

#endif
