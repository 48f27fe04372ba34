#ifndef POSTERN_STORE_H
#define POSTERN_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* The message store: Maildir++ per mailbox, plus an index Postern owns.
 *
 * Layout of a mailbox root (dir_mailbox_path()):
 *   cur/ new/ tmp/           the INBOX (Maildir++ root)
 *   .Sent/ .Drafts/ ...      folders: "." + the IMAP name as the client
 *                            sends it (modified UTF-7, RFC 3501 5.1.3);
 *                            the IMAP hierarchy separator is '.', as in
 *                            Maildir++: "Work.Projects" is .Work.Projects/
 *                            Names with '/', a leading '.', "..", empty
 *                            levels or control characters are refused.
 *   maildirsize              Maildir++ quota file: incremental usage
 *   postern-index.db         the index: SQLite (WAL), one per mailbox, one
 *                            table row per folder and per message
 *   subscriptions            not used: subscriptions live in the index
 *
 * Message files are named "<sec>.M<usec>P<pid>Q<n>R<rand>.<host>,S=<bytes>,
 * W=<crlf bytes>" (Maildir++ / Dovecot style) in new/, and get ":2,<flags>"
 * when the index moves them to cur/. The file holds the message as
 * delivered (bytes unchanged); W= is its size with every line ending CRLF,
 * which is what IMAP RFC822.SIZE and POP3 sizes report.
 *
 * Deliveries (store_deliver) touch only tmp/, new/ and maildirsize, never
 * the index: a session picks new mail up at its next store_sync, which
 * gives the next UIDs in delivery order and moves the files to cur/. A
 * delivery with keywords takes the road of APPEND instead (the index is
 * where keywords live): cur/ and the index at once. Every road stages
 * the file in tmp/ the same way (store-save.c), and every UID is given in
 * one place, when a file in cur/ is indexed (store-sync.c). Files
 * put into new/ or cur/ by other tools, and files removed behind the
 * index's back, are noticed by store_sync too (cur/ is rescanned when its
 * mtime differs from the one recorded after Postern's own changes). A
 * missing or unreadable index is rebuilt from the files (new UIDVALIDITY,
 * flags from the file names). A file another program puts into new/
 * without ",W=" in its name gets ",S=,W=" added when it moves to cur/ and
 * is added to maildirsize; files removed behind our back are subtracted.
 * maildirsize starts with "0S": the quota itself lives in the config
 * store (mailbox quota), the file only keeps the usage.
 *
 * Concurrency: every change runs in one SQLite IMMEDIATE transaction (a
 * mailbox-wide write lock; readers are never blocked, WAL); deliveries need
 * no lock (Maildir). The POP3 maildrop lock is a separate flock on
 * <root>/postern-pop3.lock.
 */

/* system flags */
#define STORE_SEEN      0x01u
#define STORE_ANSWERED  0x02u
#define STORE_FLAGGED   0x04u
#define STORE_DELETED   0x08u
#define STORE_DRAFT     0x10u
#define STORE_FLAGS_ALL 0x1fu

#define STORE_FOLDER_MAX 512   /* bytes of an IMAP folder name (buffers) */
#define STORE_FOLDER_NAME_MAX 254 /* bytes of a folder name as stored
				   * (modified UTF-7, the whole hierarchy):
				   * its directory "." + name is one path
				   * component, at most NAME_MAX (255) */
#define STORE_KEYWORDS_MAX 1024 /* bytes of the keyword list of a message */

/* ---------------------------------------------------------------- delivery */

enum store_deliver_result {
	STORE_DELIVER_ERROR = -1,      /* temporary: I/O error; retry later */
	STORE_DELIVER_OK = 0,
	STORE_DELIVER_OVER_QUOTA = 1,  /* permanent for this message size */
	STORE_DELIVER_NO_FOLDER = 2,   /* folder does not exist (and not
					* create_folder) or bad folder name */
};

struct store_delivery {
	const char *folder;      /* NULL or "INBOX": the inbox */
	bool create_folder;      /* create folder when missing (fileinto) */
	const void *prefix;      /* bytes written before the message, e.g.
				  * Return-Path: and Delivered-To: lines */
	size_t prefix_len;
	const void *data;        /* the message, or NULL to read src_fd */
	size_t len;
	int src_fd;              /* when data is NULL: read from here (its
				  * current offset) to EOF */
	unsigned int flags;      /* STORE_* flags to set (Sieve imap4flags) */
	const char *keywords;    /* NULL or "": none; else IMAP keywords,
				  * space separated (Sieve imap4flags):
				  * they live in the index only, so such a
				  * delivery goes into cur/ and the index at
				  * once (as an APPEND does) */
	int64_t quota_kb;        /* 0: no quota; else refuse if the mailbox
				  * usage plus the message passes it */
	size_t max_folders;      /* 0: none; else a missing folder is not
				  * made (STORE_DELIVER_NO_FOLDER) when the
				  * mailbox has this many already */
	struct store_batch *batch; /* NULL: durable at return; else staged
				  * in this batch (store_batch_commit) */
	int batch_tag;           /* the caller's unit the delivery belongs to */
};

/* store_delivery_init - zero d with src_fd -1. */
void store_delivery_init(struct store_delivery *d);
/* store_deliver - durably write one message into a mailbox: tmp/ -> fsync
 * -> rename into new/ -> fsync new/, then add its size to maildirsize.
 * When it returns STORE_DELIVER_OK the message is on stable storage and
 * the caller may remove its queue item. The quota is checked before any
 * byte is written. filename_r (may be NULL) receives the new file's base
 * name (new string). */
enum store_deliver_result store_deliver(const char *mailbox_root,
					const struct store_delivery *d,
					char **filename_r,
					const char **error_r);

/* Group commit of deliveries (the post office connector's batches). With
 * d->batch set, store_deliver writes the message into the folder's tmp/
 * and starts its writeback, but neither fsyncs nor moves it: it returns
 * STORE_DELIVER_OK with the name the file will have in new/.
 * store_batch_commit then makes every staged file durable together: an
 * fdatasync each (their writes were started at once, so they share the
 * journal commit), the renames into new/, one fsync per new/ directory
 * for the whole batch, and the usage of each mailbox (maildirsize) once.
 * Only a delivery whose tag the commit reports committed (store_batch_ok)
 * is on stable storage, and only then may the caller retire its queue
 * item; a tag with a failed file has all its files removed (the caller
 * retries the unit). The quota check of a staged delivery counts the
 * files staged before it for the same mailbox. A delivery with keywords
 * (into cur/ and the index at once) is not staged: it is durable when
 * store_deliver returns, as without a batch. */
struct store_batch;
struct store_batch *store_batch_new(void);
/* store_batch_size - files staged and not yet committed */
size_t store_batch_size(const struct store_batch *b);
/* store_batch_commit - make the staged files durable in new/; the number
 * of files that failed (the last error in error_r). before (NULL: none)
 * runs when the files' data is durable and before the first is moved,
 * and again (after: true) if a file failed afterwards: the caller's
 * retire journal (queue.h), built with store_batch_moves. */
size_t store_batch_commit(struct store_batch *b,
			  void (*before)(void *ctx, bool after), void *ctx,
			  const char **error_r);
/* store_batch_moves - for each file of tag still to be or already moved
 * into new/: fn(ctx, path in tmp/, path in new/); false when a file of
 * tag failed (nothing is called then) */
bool store_batch_moves(const struct store_batch *b, int tag,
		       void (*fn)(void *ctx, const char *tmp,
				  const char *final), void *ctx);
/* store_batch_ok - after the commit: every file of tag is in new/ and on
 * stable storage (true for a tag without files) */
bool store_batch_ok(const struct store_batch *b, int tag);
/* store_batch_free - frees b; files still staged are removed. */
void store_batch_free(struct store_batch **b);

/* ------------------------------------------------------------------ quota */

/* store_mailbox_size - THE size of a mailbox, walked on disk: the bytes
 * of its message files as delivered (S=, else the file size) in cur/ and
 * new/ of the INBOX and of every folder, and their number. Not counted:
 * the index and its WAL, maildirsize, tmp/, Sieve scripts, any other
 * file. The quota (maildirsize, store_quota_usage) keeps this same figure
 * incrementally, and `postern mailbox list --sizes exact` shows it: a
 * change of definition is made here, for both (docs/ARCHITECTURE.md). */
int store_mailbox_size(const char *mailbox_root, int64_t *bytes_r,
		       int64_t *count_r, const char **error_r);
/* store_quota_usage - the mailbox usage in bytes and messages, from
 * maildirsize (recalculated by one walk of the tree only when that file is
 * missing or damaged). 0 or -1. */
int store_quota_usage(const char *mailbox_root, int64_t *bytes_r,
		      int64_t *count_r, const char **error_r);
/* store_quota_check - whether a message of msg_size bytes fits:
 * 1 it fits (or quota_kb is 0), 0 over quota, -1 error. */
int store_quota_check(const char *mailbox_root, int64_t quota_kb,
		      int64_t msg_size, const char **error_r);
/* store_quota_add - record a change of usage (bytes, messages; negative
 * when removing). Appends one line to maildirsize (atomic O_APPEND write);
 * compacts the file when it passes 5120 bytes, without walking the tree. */
int store_quota_add(const char *mailbox_root, int64_t bytes, int64_t count,
		    const char **error_r);

/* ---------------------------------------------------------------- mailbox */

struct store;          /* one open mailbox (its index) */
struct store_folder;   /* one open folder of it */

/* store_library_init - call first in main(), before anything opens an
 * SQLite database: turns off SQLite's page cache pre-allocation (about
 * 75 KB per connection), which is most of what an open mailbox costs when
 * thousands of idle sessions hold one. Harmless (no effect) if called
 * later. */
void store_library_init(void);

/* store_open - open the index of a mailbox, creating the Maildir, the
 * index and the default folders (Sent, Drafts, Trash, Junk, Archive) when
 * missing; a damaged index is moved aside and rebuilt. NULL on error. */
struct store *store_open(const char *mailbox_root, const char **error_r);
void store_close(struct store **st);
const char *store_root(const struct store *st);
/* store_writes_begin - one write transaction (BEGIN IMMEDIATE) for the
 * store writes on st that follow, until store_writes_commit: each write's
 * own transaction is a savepoint in it (a failed one is undone alone),
 * and the folders' watchers are told at the commit. Many small writes
 * take the write lock and write the WAL once (imapd's STOREs of every
 * session of a mailbox, writer.c). store_writes_commit: -1 with *error_r
 * if the commit failed (then nothing of the batch is kept). */
int store_writes_begin(struct store *st, const char **error_r);
/* store_writes_try - store_writes_begin unless another connection holds
 * the write lock: 1 begun, 0 busy (nothing begun), -1 error */
int store_writes_try(struct store *st, const char **error_r);
int store_writes_commit(struct store *st, const char **error_r);
/* store_checkpoint_by - the caller checkpoints the index's WAL: cb(ctx)
 * is called after a commit that leaves it over 1000 pages, instead of
 * SQLite checkpointing (and fsyncing) inside that commit. cb should have
 * store_checkpoint run on another connection of the index, off the
 * thread that must not block (imapd: a writer thread). cb NULL: SQLite
 * checkpoints inline again. */
void store_checkpoint_by(struct store *st, void (*cb)(void *ctx), void *ctx);
/* store_checkpoint - copy the WAL into the index (PASSIVE: never waits
 * for readers or writers); fsyncs. 0 or -1. */
int store_checkpoint(struct store *st, const char **error_r);

/* special-use attributes (RFC 6154) */
#define STORE_SU_SENT    0x01u
#define STORE_SU_DRAFTS  0x02u
#define STORE_SU_TRASH   0x04u
#define STORE_SU_JUNK    0x08u
#define STORE_SU_ARCHIVE 0x10u

struct store_folder_info {
	char *name;              /* IMAP name: "INBOX", "Sent", "Work.X" */
	unsigned int special_use;/* STORE_SU_* */
	bool subscribed;
	bool has_children;
	char mailboxid[24];      /* STORE_ID_MAX; "" for a folder not
				  * indexed yet (made by another tool and
				  * never opened) */
};

/* store_folder_list - every folder, INBOX first, then by name. The folder
 * dirs on disk are the truth (a dir made by another tool shows up). */
int store_folder_list(struct store *st, struct store_folder_info **list_r,
		      size_t *n_r, const char **error_r);
void store_folder_list_free(struct store_folder_info *list, size_t n);
/* store_folder_name_check - 0 if name is a valid folder name, else -1
 * with a text that names the problem (never a path: protocols may show
 * it). */
int store_folder_name_check(const char *name, const char **error_r);
/* store_folder_count - the folders of the mailbox at mailbox_root, INBOX
 * included (the folder directories on disk: what store_folder_list
 * lists). 0 or -1. */
int store_folder_count(const char *mailbox_root, size_t *n_r,
		       const char **error_r);
/* store_sync_all - store_sync of every folder (store_folder_list): what
 * an account-wide reader (JMAP: queries, changes, ids) calls first, so
 * that deliveries to folders no session has open are indexed and
 * logged. Two stats per folder when nothing changed. A new or rebuilt
 * index is synced so by store_open. 0 or -1. */
int store_sync_all(struct store *st, const char **error_r);
/* store_folder_exists - 1 yes, 0 no. */
int store_folder_exists(struct store *st, const char *name);
/* Folder changes: 0, or -1 with *error_r (e.g. "folder exists",
 * "no such folder", "cannot delete INBOX"). Rename moves the children
 * too; renaming INBOX (RFC 3501 6.3.5) creates the new folder and moves
 * every message of INBOX into it, leaving INBOX empty (its children
 * stay where they are).
 * Delete removes the folder and its messages (children are kept). */
int store_folder_create(struct store *st, const char *name,
			const char **error_r);
int store_folder_delete(struct store *st, const char *name,
			const char **error_r);
int store_folder_rename(struct store *st, const char *from, const char *to,
			const char **error_r);
int store_folder_subscribe(struct store *st, const char *name, bool on,
			   const char **error_r);
/* store_subscriptions - every subscribed name, existing or not (LSUB,
 * LIST (SUBSCRIBED)), sorted; free each and the array. */
int store_subscriptions(struct store *st, char ***names_r, size_t *n_r,
			const char **error_r);

/* ------------------------------------------------------------ messages */

struct store_msg {
	uint32_t uid;
	unsigned int flags;      /* STORE_* */
	uint64_t modseq;
	uint64_t size;           /* RFC822.SIZE: with CRLF line ends */
	uint64_t file_size;      /* bytes in the file */
	time_t internal_date;
	char *keywords;          /* space separated, "" if none */
	char *file;              /* file name in cur/ */
};

struct store_folder_status {
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint64_t highestmodseq;
	uint32_t messages;
	uint32_t unseen;         /* messages without \Seen */
	uint32_t deleted;        /* messages with \Deleted */
	uint32_t recent;         /* messages no session has claimed as
				  * \Recent yet (store_recent_claim) */
	uint64_t size;           /* sum of sizes */
	char mailboxid[24];      /* STORE_ID_MAX: RFC 8474 MAILBOXID */
};

/* store_folder_open - open a folder (after a store_sync of it). */
struct store_folder *store_folder_open(struct store *st, const char *name,
				       const char **error_r);
void store_folder_close(struct store_folder **f);
const char *store_folder_name(const struct store_folder *f);
/* store_folder_dir - the Maildir of the folder (root or root/.Name). */
const char *store_folder_dir(const struct store_folder *f);

/* store_sync - pick up changes made behind the index's back: new files in
 * new/ (given UIDs, moved to cur/), and, when cur/ changed, files added,
 * removed or renamed there. Cheap when nothing changed: two stats (new/
 * is read only when its mtime differs from the one it had when last
 * found empty, or was under a second old then). 0 or -1. */
int store_sync(struct store_folder *f, const char **error_r);
/* store_folder_modseq - the folder's highest modseq as the last
 * store_sync of f read it (no query): every change to the folder
 * (flags, expunge, new message) raises it, so a caller that saw this
 * value already has nothing new to fetch. 0 before the first sync. */
uint64_t store_folder_modseq(const struct store_folder *f);
/* store_folder_status - counters of the folder as the index has them. */
int store_folder_status(struct store_folder *f,
			struct store_folder_status *st_r,
			const char **error_r);
/* store_folder_state - store_folder_status without the counters over
 * the messages (no walk of them: uidvalidity, uidnext, highestmodseq and
 * mailboxid only, the rest 0) */
int store_folder_state(struct store_folder *f,
		       struct store_folder_status *st_r, const char **error_r);
/* store_recent_claim - \Recent (RFC 3501 2.3.2): a message is recent in
 * exactly one session, the first to select its folder after it arrived.
 * The index keeps the first UID no session has claimed; this claims every
 * UID from there to the last one given (uidnext - 1) for the caller and
 * moves the mark past them, in one transaction, so that no other session
 * gets them. With peek (EXAMINE: no change of state allowed) the range is
 * only read. The write lock is never waited for (imapd's loop calls
 * this): while another connection holds it, 2 and nothing claimed (ask
 * again later). 1 with the range in *lo_r..*hi_r, 0 nothing to claim,
 * -1. */
int store_recent_claim(struct store_folder *f, bool peek, uint32_t *lo_r,
		       uint32_t *hi_r, const char **error_r);
/* store_msgs_load - every message of the folder by ascending UID. Free
 * with store_msgs_free. */
int store_msgs_load(struct store_folder *f, struct store_msg **msgs_r,
		    size_t *n_r, const char **error_r);
/* store_msgs_view - store_msgs_load without what a view of the folder
 * does not hold: file is NULL, file_size 0, keywords NULL when there are
 * none. It reads one narrow index instead of the message rows (100,000
 * messages: a tenth of the pages). Free with store_msgs_free. */
int store_msgs_view(struct store_folder *f, struct store_msg **msgs_r,
		    size_t *n_r, const char **error_r);
/* store_msgs_changed - messages with modseq > since (CONDSTORE). */
int store_msgs_changed(struct store_folder *f, uint64_t since,
		       struct store_msg **msgs_r, size_t *n_r,
		       const char **error_r);
/* store_expunged_since - UIDs expunged with modseq > since (QRESYNC
 * VANISHED); ascending, new array in *uids_r. */
int store_expunged_since(struct store_folder *f, uint64_t since,
			 uint32_t **uids_r, size_t *n_r, const char **error_r);
void store_msgs_free(struct store_msg *msgs, size_t n);
void store_msg_clear(struct store_msg *m);
/* store_msg_get - one message by UID: 1 found, 0 not, -1 error. */
int store_msg_get(struct store_folder *f, uint32_t uid, struct store_msg *m,
		  const char **error_r);
/* store_msg_open - open the message file read-only; -1 with errno ENOENT
 * (and *error_r) if it was expunged behind our back. */
int store_msg_open(struct store_folder *f, const struct store_msg *m,
		   const char **error_r);
/* store_msg_open_expunged - the file of message uid, expunged from f
 * (of that uidvalidity) less than STORE_EXPUNGED_SECONDS ago by any
 * process: a session not told of the expunge yet still reads it (RFC
 * 2180 4.1.1). A descriptor, or -1. */
#define STORE_EXPUNGED_SECONDS 60
int store_msg_open_expunged(struct store_folder *f, uint32_t uidvalidity,
			    uint32_t uid);
/* store_msg_path - the path of the message file (new string). */
char *store_msg_path(struct store_folder *f, const struct store_msg *m);

enum store_flag_op { STORE_FLAGS_SET, STORE_FLAGS_ADD, STORE_FLAGS_REMOVE };

/* store_flags_update - change flags and keywords of the given UIDs
 * (keywords space separated, may be NULL). Messages whose flags change get
 * a new modseq. With unchanged_since != 0 (CONDSTORE) messages whose
 * modseq is higher are left alone and their UIDs returned in
 * *failed_r and *nfailed_r (may be NULL when unchanged_since is 0). */
int store_flags_update(struct store_folder *f, const uint32_t *uids,
		       size_t n, enum store_flag_op op, unsigned int flags,
		       const char *keywords, uint64_t unchanged_since,
		       uint32_t **failed_r, size_t *nfailed_r,
		       const char **error_r);
/* store_expunge - remove the given UIDs (or, uids NULL, every message
 * flagged \Deleted). The UIDs removed go to *expunged_r and *n_r (may be
 * NULL), ascending. Files are unlinked, the quota lowered, the UIDs kept
 * with their modseq for QRESYNC. */
int store_expunge(struct store_folder *f, const uint32_t *uids, size_t n,
		  uint32_t **expunged_r, size_t *n_r, const char **error_r);
/* store_append_msg - one message to append. With data NULL the message
 * is in the file fd (len bytes, read from offset 0): a file on the
 * store's file system, such as an unnamed O_TMPFILE file in the mailbox's
 * tmp/ (imapd keeps large APPEND literals so), which is linked into place
 * rather than copied (copied when it cannot be linked). The caller still
 * closes fd. */
struct store_append_msg {
	const void *data;
	size_t len;
	unsigned int flags;
	const char *keywords;    /* NULL: none */
	time_t internal_date;    /* 0: now */
	int fd;                  /* with data NULL */
};
/* store_append_one - add a message (APPEND): flags, keywords (may be
 * NULL) and internal date (0: now). Checks quota_kb (0: none): returns 1
 * if over quota. *uid_r gets its UID and *uidvalidity_r the folder's
 * (UIDPLUS). The file is written and fsynced before the index's write
 * lock is taken, and cur/ fsynced after it is released: on 0 the message
 * is on stable storage, and other writers of the mailbox never waited
 * for a flush. Blocks for the disk: imapd calls it on a worker thread (a
 * struct store per thread). 0 ok, 1 over quota, -1 error. */
int store_append_one(struct store *st, const char *folder,
		     const struct store_append_msg *m, int64_t quota_kb,
		     uint32_t *uid_r, uint32_t *uidvalidity_r,
		     const char **error_r);
/* store_append - store_append_one of a message in memory */
int store_append(struct store *st, const char *folder, const void *data,
		 size_t len, unsigned int flags, const char *keywords,
		 time_t internal_date, int64_t quota_kb, uint32_t *uid_r,
		 uint32_t *uidvalidity_r, const char **error_r);
/* store_append_multi - MULTIAPPEND (RFC 3502): n messages into one
 * folder, all or none. The files are written and fsynced first, then
 * moved in and indexed in one transaction, so that a failure at any
 * point (I/O, quota for their sum) leaves none of them; their UIDs are
 * consecutive. *uids_r gets them (new array, may be NULL). 0 ok, 1 over
 * quota, -1 error. */
int store_append_multi(struct store *st, const char *folder,
		       const struct store_append_msg *msgs, size_t n,
		       int64_t quota_kb, uint32_t **uids_r,
		       uint32_t *uidvalidity_r, const char **error_r);
/* store_copy - copy UIDs of f into folder `to` (hard link when possible),
 * keeping flags, keywords and internal dates; with move, expunge them from
 * f afterwards (RFC 6851). New UIDs in *new_uids_r (same order as the
 * source UIDs that still existed, whose UIDs go to *src_uids_r), and the
 * destination UIDVALIDITY in *uidvalidity_r. Either out array may be
 * NULL. Checks quota_kb for copies (0: none): 1 if over quota. */
int store_copy(struct store_folder *f, const uint32_t *uids, size_t n,
	       const char *to, bool move, int64_t quota_kb,
	       uint32_t **src_uids_r, uint32_t **new_uids_r, size_t *n_r,
	       uint32_t *uidvalidity_r, const char **error_r);

/* ----------------------------------------------- object ids (RFC 8474) */

/* Ids of an account (one mailbox: one index). Immutable, and made again
 * from the Maildir alone when the index is rebuilt, so that a client's
 * cache (IMAP OBJECTID, JMAP) stays valid:
 *   email id   "M" + 16 hex digits: the first 64 bits of SHA-256 of the
 *              file's Maildir base name (the name before ":2,", which
 *              flag changes never touch). COPY and MOVE within the
 *              account keep the base (the file is linked under the same
 *              base into the other folder), so they keep the id; a copy
 *              into a folder that has that base already (the same folder)
 *              gets a new base: a new email. The same email in two
 *              folders is one JMAP Email in two mailboxes.
 *   thread id  "T" + 16 hex digits of SHA-256 of the thread's root
 *              Message-ID: the first id of References, else of
 *              In-Reply-To, else the message's own Message-ID. A reply
 *              and its original share it with no state kept, in any
 *              arrival order and across rebuilds; a message with none of
 *              those fields is a thread of its own. (Subjects are not
 *              used: two "Hello"s are not one thread.)
 *   mailbox id "F" + 16 hex digits, random when the folder is first
 *              indexed, kept in the file postern-mailboxid in the
 *              folder's directory (so a RENAME keeps it and a rebuild
 *              reads it back).
 * The name holds the id, not the index, because the name is what
 * survives: a rebuild has nothing else. Content hashes were rejected
 * because two deliveries of the same bytes are two emails.
 * Ids are 17 characters of [A-Za-z0-9]: RFC 8474 objectids and JMAP
 * Ids. */
#define STORE_ID_MAX 24

/* store_id_valid - whether id has the form of this store's ids with the
 * given prefix ('M', 'T', 'F'): cheap input check for protocols */
bool store_id_valid(const char *id, char prefix);
/* store_msg_ids - the email and thread ids of a message: 1, 0 no such
 * UID, -1 error */
int store_msg_ids(struct store_folder *f, uint32_t uid,
		  char emailid[STORE_ID_MAX], char threadid[STORE_ID_MAX],
		  const char **error_r);
/* store_uids_by_id - the UIDs of folder f whose email id (thread false)
 * or thread id (thread true) is id, ascending (IMAP SEARCH EMAILID,
 * THREADID); new array, may be empty. 0 or -1. */
int store_uids_by_id(struct store_folder *f, bool thread, const char *id,
		     uint32_t **uids_r, size_t *n_r, const char **error_r);
/* store_folder_mailboxid - the mailbox id of an open folder */
const char *store_folder_mailboxid(const struct store_folder *f);
/* store_mailbox_find - the folder name of a mailbox id (new string in
 * *name_r): 1, 0 unknown, -1 error */
int store_mailbox_find(struct store *st, const char *mailboxid,
		       char **name_r, const char **error_r);

/* where one email is: a folder and its UID there, with the flags and
 * keywords of that copy (IMAP lets copies differ; JMAP shows the first) */
struct store_email_place {
	char mailboxid[STORE_ID_MAX];
	char *folder;            /* IMAP name, for store_folder_open */
	uint32_t uid;
	unsigned int flags;      /* STORE_* */
	char *keywords;          /* space separated, "" if none */
	uint64_t modseq;
};

struct store_email {
	char emailid[STORE_ID_MAX];
	char threadid[STORE_ID_MAX];
	uint64_t size;           /* RFC822.SIZE: CRLF line ends */
	time_t received;         /* internal date */
	char *path;              /* the file of the first place, to read */
	struct store_email_place *places; /* by folder row, then UID */
	size_t nplaces;
};

/* store_email_get - an email by id (JMAP Email/get): 1 found, 0 not, -1.
 * Clear with store_email_clear. */
int store_email_get(struct store *st, const char *emailid,
		    struct store_email *e, const char **error_r);
void store_email_clear(struct store_email *e);

/* URLAUTH keys (RFC 4467), one per folder, secret, in the mailbox's own
 * store (store-urlauth.c). store_urlauth_key - f's key into key: 1, or 0
 * when it has none (create: make one then), -1 on error.
 * store_urlauth_reset - a new key for f; f NULL: remove every folder's
 * key. URLs made with a previous key stop working. 0 or -1. */
#define STORE_URLAUTH_KEY_LEN 32
int store_urlauth_key(struct store_folder *f, bool create,
		      unsigned char key[STORE_URLAUTH_KEY_LEN],
		      const char **error_r);
int store_urlauth_reset(struct store *st, struct store_folder *f,
			const char **error_r);
/* store_folder_thread_counts - JMAP Mailbox totalThreads and
 * unreadThreads: the threads with an email in f, and those with an
 * email in f that is neither \Seen nor \Draft. (RFC 8621 counts a thread
 * unread when any of its emails is, wherever it is; this looks in f
 * only.) One walk of the folder's rows. 0 or -1. */
int store_folder_thread_counts(struct store_folder *f, uint32_t *threads_r,
			       uint32_t *unread_r, const char **error_r);
/* store_thread_get - the email ids of a thread, oldest first (JMAP
 * Thread/get); an unknown thread gives none. Free each and the array. */
int store_thread_get(struct store *st, const char *threadid,
		     char ***emailids_r, size_t *n_r, const char **error_r);

/* ------------------------------------------------------ the change log */

/* Every change of a message or folder row appends entries to the index's
 * change log (SQLite triggers, so that no road into the index can miss
 * one), in the same transaction as the change:
 *   Email    created when the first copy of an email id is indexed,
 *            destroyed when its last copy goes, updated otherwise (a
 *            copy added or removed: mailboxIds; flags or keywords)
 *   Mailbox  created, destroyed, updated (renamed, subscribed), or its
 *            counts changed (STORE_CHANGE_COUNTS: a message added,
 *            removed, \Seen changed)
 *   Thread   created, destroyed, updated (an email added or removed)
 * A state is "<epoch>-<seq>": the index's epoch (made with the index, so
 * a rebuilt index has another and old states cannot be calculated from)
 * and the last log entry of the type. The log keeps the newest
 * STORE_CHANGES_KEEP entries (store_open trims it once it holds a
 * quarter more); older states then cannot be calculated either. */
enum store_change_type {
	STORE_CHANGE_EMAIL = 1,
	STORE_CHANGE_MAILBOX = 2,
	STORE_CHANGE_THREAD = 3,
};
#define STORE_CHANGE_CREATED   1
#define STORE_CHANGE_UPDATED   2
#define STORE_CHANGE_DESTROYED 3
#define STORE_CHANGE_COUNTS    4   /* Mailbox: only its counts changed
					* (an update) */
#define STORE_STATE_MAX 40
#define STORE_CHANGES_KEEP 200000

/* store_state - the current state of one type (JMAP "state"). 0 or -1. */
int store_state(struct store *st, enum store_change_type type,
		char state[STORE_STATE_MAX], const char **error_r);

struct store_changes {
	char **created, **updated, **destroyed;   /* ids, sorted */
	size_t ncreated, nupdated, ndestroyed;
	char new_state[STORE_STATE_MAX];
	bool has_more;           /* max_changes reached: call again from
				  * new_state */
	bool counts_only;        /* Mailbox: every update was of counts
				  * only (JMAP updatedProperties
				  * totalEmails, unreadEmails,
				  * totalThreads, unreadThreads) */
};

/* store_changes - what changed in one type since since_state (JMAP
 * Foo/changes): an id created and destroyed in between is in neither
 * list, one created and updated only in created. max_changes (0: no
 * limit) bounds the number of ids. 1 ok (free with store_changes_free),
 * 0 cannot calculate (a state of another index, not a state, or older
 * than the trimmed log: *error_r says which; JMAP
 * cannotCalculateChanges), -1 error. */
int store_changes(struct store *st, enum store_change_type type,
		  const char *since_state, size_t max_changes,
		  struct store_changes *c, const char **error_r);
void store_changes_free(struct store_changes *c);
/* store_changes_trim - keep the newest `keep` entries of the log; states
 * before the cut cannot be calculated from any more. 0 or -1. */
int store_changes_trim(struct store *st, uint64_t keep, const char **error_r);

/* ------------------------------------------------------ the query index */

/* An account-wide sorted, filtered window (JMAP Email/query) from the
 * index's sort indexes, which cover the filters (the walk reads no
 * message row): its cost follows position + limit and the rarity of the
 * filter. bench/store/README.md, 100,000 messages: a window of 50 takes
 * 0.1-1 ms CPU; a filter nothing passes walks the whole index (about
 * 25 ms), and so does a total (37 ms). Sort keys: the internal date, the
 * RFC822 size, From (the first address's display name, else its
 * address: RFC 8621 4.4.2) and Subject (base subject); text keys are
 * RFC 2047-decoded with ASCII letters lowered. Ties go by folder and UID
 * (stable). */
enum store_sort_key {
	STORE_SORT_DATE = 0,
	STORE_SORT_SIZE,
	STORE_SORT_FROM,
	STORE_SORT_SUBJECT,
};
#define STORE_QUERY_LIMIT_MAX 10000
#define STORE_QUERY_TEXT_MAX 8

/* the header fields whose text the index holds (filters: a substring
 * of any one field of that name, ASCII letters compared caseless) */
enum store_text_field {
	STORE_TEXT_FROM = 0,
	STORE_TEXT_TO,
	STORE_TEXT_SUBJECT,
};

struct store_query {
	const char *mailboxid;   /* NULL: the whole account, each email
				  * once (its copy in the first folder) */
	unsigned int flags_all;  /* STORE_* flags it has, every one */
	unsigned int flags_none; /* STORE_* flags it has none of */
	const char *keyword;     /* NULL, or a keyword it has */
	const char *not_keyword; /* NULL, or a keyword it lacks */
	/* header text it has: a field of that name whose value (CR/LF
	 * dropped, blanks trimmed, RFC 2047 words decoded: what JMAP's
	 * filter compares) holds the string, ASCII caseless. Terms of one
	 * group (adjacent in text[]): any one of them; of the groups:
	 * every one. The walk reads each row it passes (about 0.5 us a
	 * row). */
	struct {
		enum store_text_field field;
		const char *value;
		unsigned int group;
	} text[STORE_QUERY_TEXT_MAX];
	size_t ntext;
	enum store_sort_key sort;
	bool descending;
	size_t position;         /* rows skipped */
	size_t limit;            /* at most (0 or more than the max:
				  * STORE_QUERY_LIMIT_MAX) */
	bool want_total;         /* count every match (costs a walk of
				  * them: O(matches)) */
	bool collapse;           /* one email a thread: the first in the
				  * order (JMAP collapseThreads); position,
				  * limit and total count threads, and the
				  * walk reads the rows up to the window's
				  * last thread */
};

struct store_query_row {
	char emailid[STORE_ID_MAX];
	char threadid[STORE_ID_MAX];
};

struct store_query_result {
	struct store_query_row *ids;
	size_t n;
	int64_t total;           /* -1 unless want_total */
};

/* store_query - run q. 1 ok (free with store_query_result_free), 0 no
 * such mailbox (*error_r), 2 the index cannot answer q's text filter (a
 * message of the folder, or of the account, has no header text in the
 * index: not read yet after an upgrade, or a header longer than the
 * 64 KB the store reads; the caller reads the messages), -1 error. */
int store_query(struct store *st, const struct store_query *q,
		struct store_query_result *r, const char **error_r);
void store_query_result_free(struct store_query_result *r);

/* store_text_uids - the UIDs of folder f whose header text (the index's,
 * as store_query's text filters compare it) has a field of that name
 * holding needle (ASCII caseless) into *match_r, and the UIDs the index
 * has no text of (htext != 1: the caller reads their files) into
 * *unknown_r; both ascending, the caller frees them. Any other message
 * of the folder does not match. One walk of the folder's rows (IMAP
 * SEARCH SUBJECT: about 40 ms at 100,000 messages instead of reading
 * every file). 0, or -1 with *error_r. */
int store_text_uids(struct store_folder *f, enum store_text_field field,
		    const char *needle, uint32_t **match_r, size_t *nmatch_r,
		    uint32_t **unknown_r, size_t *nunknown_r,
		    const char **error_r);

/* ----------------------------------------------------------- notification */

/* One inotify instance per process (kernels allow few per user), shared by
 * every session: a session watches its folder and is called back when a
 * delivery lands or another session changes the folder. Hook the fd into
 * the event loop (EV_READ|EV_PERSIST) and call store_notify_dispatch when
 * it is readable. The callback should then run store_sync and report. */
struct store_notify;
typedef void store_notify_cb(void *ctx);
struct store_notify *store_notify_create(const char **error_r);
void store_notify_free(struct store_notify **n);
int store_notify_fd(const struct store_notify *n);
/* store_notify_watch - watch a folder: returns a handle > 0, or -1. */
int store_notify_watch(struct store_notify *n, struct store_folder *f,
		       store_notify_cb *cb, void *ctx, const char **error_r);
/* store_notify_watch_account - watch the account: folders made, deleted,
 * renamed, and every commit to its index (subscriptions); NOTIFY's
 * MailboxName and SubscriptionChange. A handle > 0, or -1. */
int store_notify_watch_account(struct store_notify *n, struct store *st,
			       store_notify_cb *cb, void *ctx,
			       const char **error_r);
void store_notify_unwatch(struct store_notify *n, int handle);
/* store_notify_dispatch - read the pending events and call the callbacks
 * of the folders they touch (once each per dispatch). */
void store_notify_dispatch(struct store_notify *n);

#endif
