#ifndef POSTERN_JMAP_STORE_H
#define POSTERN_JMAP_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include "buf.h"

/* jmap-store - the one adapter between the JMAP mail methods and the
 * message store (lib-store): every store call of the JMAP server is here,
 * so that it can move onto the store's account-wide ids, change log and
 * query index when they exist.
 *
 * Ids and states are the store's (store.h, "object ids" and "the change
 * log"): a Mailbox id is the folder's MAILBOXID ("F" + 16 hex digits,
 * kept by a rename), an Email id its EMAILID ("M" + 16 hex digits, kept
 * by a move and by a rebuild of the index), a Thread id its THREADID
 * ("T" + 16 hex digits, from the root Message-ID). States are the
 * store's change-log states ("<epoch>-<seq>"), and /changes reads that
 * log: cannotCalculateChanges only for a state of another (rebuilt)
 * index or older than the trimmed log. An email with copies in two
 * folders is listed once per copy by the per-folder paths (jms_msgs);
 * jms_msg_find gives its first copy. */

struct jms;

struct jms_folder {
	char *name;              /* IMAP name (modified UTF-7) */
	char id[24];             /* the store's mailbox id (STORE_ID_MAX) */
	uint32_t uidvalidity;    /* these three: jms_folder_counts */
	uint32_t uidnext;
	uint64_t modseq;
	unsigned int special_use;/* STORE_SU_* */
	bool subscribed;
	/* the counters: 0 until jms_folder_counts filled them */
	uint32_t total, unseen;
	uint64_t size;
};

struct jms_msg {
	size_t folder;           /* index into the folders */
	uint32_t uid;
	unsigned int flags;      /* STORE_* */
	char *keywords;          /* space separated */
	uint64_t size;
	time_t received;
	char id[32];             /* the Email id (the store's email id) */
	char threadid[24];       /* the store's thread id */
};

/* jms_open - the store of a mailbox root, with its folders loaded (each
 * synced: deliveries picked up). NULL on error. */
struct jms *jms_open(const char *root, int64_t quota_kb, const char **error_r);
void jms_close(struct jms **j);
size_t jms_nfolders(const struct jms *j);
const struct jms_folder *jms_folder(const struct jms *j, size_t i);
/* jms_folder_counts - fill folder i's uidvalidity, uidnext, modseq and
 * counters (once per load: they read all its messages in the index) */
int jms_folder_counts(struct jms *j, size_t i, const char **error_r);
/* jms_folder_find - the index of a Mailbox id, or -1 */
long jms_folder_find(const struct jms *j, const char *id);
/* jms_reload - load the folders again after a change */
int jms_reload(struct jms *j, const char **error_r);

/* jms_msgs - the messages of folder i (cached for the request) */
int jms_msgs(struct jms *j, size_t i, const struct jms_msg **msgs_r,
	     size_t *n_r, const char **error_r);
/* jms_msg_find - an Email id: 1 with *m_r, 0 unknown, -1 error */
int jms_msg_find(struct jms *j, const char *id, const struct jms_msg **m_r,
		 const char **error_r);
/* jms_msg_read - the message's bytes (at most max; 0: all) into out;
 * never more than out's own max (buf_init): a larger message is cut
 * there, so that it still lists and opens (with limits) */
int jms_msg_read(struct jms *j, const struct jms_msg *m, size_t max,
		 struct buf *out, const char **error_r);
/* jms_msg_fd - the message file opened read-only, or -1 */
int jms_msg_fd(struct jms *j, const struct jms_msg *m, const char **error_r);

/* jms_msg_map - the whole message, mapped read-only (no copy, no size
 * limit: a message of a 50 MB attachment is 70 MB), NUL-terminated like
 * a buf; 0 or -1. Unmap with jms_msg_unmap. */
struct jms_map {
	const char *data;
	size_t len;
	void *base;              /* the mapping, or NULL */
	struct buf copy;         /* else the bytes read (a file of whole
				  * pages has no NUL after it) */
};
int jms_msg_map(struct jms *j, const struct jms_msg *m, struct jms_map *out,
		const char **error_r);
void jms_msg_unmap(struct jms_map *map);

/* jms_state - the state string of kind 'E' (Email), 'M' (Mailbox),
 * 'T' (Thread), from the store's change log, or 'Q' (Quota) */
int jms_state(struct jms *j, char kind, struct buf *out,
	      const char **error_r);

struct jms_changes {
	json_t *created, *updated, *destroyed;   /* arrays of ids (owned) */
	char new_state[40];                      /* STORE_STATE_MAX */
	bool has_more;
	bool counts_only;        /* Mailbox: only counts changed */
};
/* jms_changes - what changed in kind ('E', 'M', 'T') since a state, at
 * most max ids (0: no limit): 1, 0 when the store's log cannot tell
 * (another index's state, not a state, older than the trimmed log:
 * *error_r says which), -1 error */
int jms_changes(struct jms *j, char kind, const char *since, size_t max,
		struct jms_changes *c, const char **error_r);
struct store_query;
/* jms_query - an Email/query window from the store's query index: the
 * Email ids into *ids_r (a new array; empty for an unknown mailbox) and
 * the total when q asks. 0, 1 when the index cannot answer q's text
 * filter (store_query: read the messages instead), -1. */
int jms_query(struct jms *j, const struct store_query *q, json_t **ids_r,
	      int64_t *total_r, const char **error_r);
/* jms_thread_counts - Mailbox totalThreads/unreadThreads of folder i */
int jms_thread_counts(struct jms *j, size_t i, uint32_t *threads_r,
		      uint32_t *unread_r, const char **error_r);
/* jms_thread_get - the Email ids of a Thread, oldest first: 1 with a new
 * array, 0 unknown, -1 error */
int jms_thread_get(struct jms *j, const char *id, json_t **emailids_r,
		   const char **error_r);

/* changes: 0 ok, -1 with *error_r (a text fit for a SetError) */
int jms_keywords_set(struct jms *j, const struct jms_msg *m,
		     unsigned int flags, const char *keywords,
		     const char **error_r);
/* jms_msg_move - move m into folder to; its new id into new_id (32).
 * With a training db (jms_train_with), a move into or out of Junk teaches
 * the spam engine as IMAP's COPY and MOVE do (lib-filter train-store.h) */
int jms_msg_move(struct jms *j, const struct jms_msg *m, size_t to,
		 char new_id[32], const char **error_r);
struct db;
void jms_train_with(struct jms *j, struct db *db);
int jms_msg_destroy(struct jms *j, const struct jms_msg *m,
		    const char **error_r);
/* jms_msg_append - a message into folder i: 0 with its id, 1 over
 * quota, -1 error */
int jms_msg_append(struct jms *j, size_t i, const void *data, size_t len,
		   unsigned int flags, const char *keywords, time_t received,
		   char id_r[32], char tid_r[24], const char **error_r);
int jms_folder_create(struct jms *j, const char *name, const char **error_r);
int jms_folder_rename(struct jms *j, size_t i, const char *to,
		      const char **error_r);
int jms_folder_delete(struct jms *j, size_t i, const char **error_r);
int jms_folder_subscribe(struct jms *j, size_t i, bool on,
			 const char **error_r);
/* jms_usage - the quota usage in bytes and the limit (0: none) */
int jms_usage(struct jms *j, int64_t *bytes_r, int64_t *limit_r,
	      const char **error_r);

/* blobs uploaded (RFC 8620 6.1): files under <root>/jmap-upload/, one
 * account's only; ids "U" + 32 hex digits; kept a day. An account holds
 * at most JMS_UPLOAD_FILES_MAX of them and JMS_UPLOAD_BYTES_MAX bytes
 * (they are outside the mailbox quota): 1 with *error_r past that. */
#define JMS_UPLOAD_FILES_MAX 1000
#define JMS_UPLOAD_BYTES_MAX (256 * 1024 * 1024)
int jms_upload(struct jms *j, const void *data, size_t len, char id_r[40],
	       const char **error_r);
/* jms_upload_file - jms_upload of the len bytes of a file (an unlinked
 * temporary one: linked into place, or copied) */
int jms_upload_file(struct jms *j, int fd, uint64_t len, char id_r[40],
		    const char **error_r);
/* jms_upload_fd - an uploaded blob opened read-only: 1, 0 not found */
int jms_upload_fd(struct jms *j, const char *id, int *fd_r,
		  const char **error_r);
/* jms_upload_read - an uploaded blob: 1 with its bytes, 0 not found */
int jms_upload_read(struct jms *j, const char *id, struct buf *out,
		    const char **error_r);

#endif
