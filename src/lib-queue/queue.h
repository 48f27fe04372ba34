#ifndef POSTERN_QUEUE_H
#define POSTERN_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "buf.h"

/* Connector queues (manual 3.4; blueprint "Queues and durability").
 *
 * Layout under the queue root (setting path.queue):
 *   <conn>/inbound/{tmp,new,cur}/    written by connector <conn>, read by the MTA
 *   <conn>/outgoing/{tmp,new,cur}/   written by the MTA, read by connector <conn>
 *   badmail/                         quarantine: item files + <id>.reason
 *   pickup/                          files dropped by other programs (MTA)
 * with <conn> one of "smtp", "sf" (post office), "ls" (list server),
 * "pr" (POP retrieval).
 *
 * An item is <id>.msg (the message, exactly as received, CRLF lines) and
 * <id>.env (the envelope, text below). Writers create both in tmp/, fsync
 * them, rename the .msg into new/, then the .env, then fsync new/: the .env
 * is the commit record, consumers only look for .env files, and a .msg
 * without its .env is an orphan that queue_recover() removes. A consumer
 * claims an item by renaming both into cur/; queue_recover() at start moves
 * cur/ back to new/ (a crash mid-processing redelivers: duplicates are
 * possible, loss is not). An item is done when the consumer has made its
 * result durable elsewhere and calls queue_item_done().
 *
 * The queue id (16 hex digits: seconds, then random) is given at first
 * contact and kept when the MTA moves or splits an item, so one id follows
 * a message through every log. A split copy gets ".<n>" appended. */

#define QUEUE_ID_LEN 16
#define QUEUE_ID_MAX 40          /* with a split suffix */
#define QUEUE_ENV_MAX (4 * 1024 * 1024)

enum queue_dir { QUEUE_INBOUND, QUEUE_OUTGOING };

/* DSN NOTIFY flags (RFC 3461) */
#define DSN_NOTIFY_NEVER   0x01
#define DSN_NOTIFY_SUCCESS 0x02
#define DSN_NOTIFY_FAILURE 0x04
#define DSN_NOTIFY_DELAY   0x08

enum rcpt_status {
	RCPT_PENDING = 0,    /* not yet handled */
	RCPT_DELIVERED,      /* done */
	RCPT_DEFERRED,       /* temporary failure, retry at next_attempt */
	RCPT_FAILED,         /* permanent failure, to be bounced */
};

struct queue_rcpt {
	char *address;            /* forward path, as given */
	char *orcpt;              /* DSN ORCPT (addr-type;xtext) or NULL */
	unsigned notify;          /* DSN_NOTIFY_* ; 0: not given */
	enum rcpt_status status;
	int attempts;
	time_t next_attempt;
	char *last_error;         /* last reply or reason, or NULL */
	char *extra;              /* connector-specific text (route), or NULL */
};

struct queue_env {
	char id[QUEUE_ID_MAX + 1];
	time_t arrival;
	char *sender;             /* reverse path; "" for the null sender <> */
	char *auth_user;          /* authenticated submitter or NULL */
	char *origin;             /* the post office (name) a message made
				   * here comes from: the mailbox whose
				   * Sieve script or auto responder wrote
				   * it, the list, the system notice's
				   * sender; NULL otherwise (and in
				   * envelopes of version 1) */
	char *client_addr;        /* numeric IP or "local" */
	int relay_net;            /* the client was in smtp.relay_networks
				   * when smtpd took the message: 1, 0;
				   * -1 not recorded (envelopes before
				   * version 3, other writers) */
	char *client_helo;
	char *body_type;          /* "7BIT", "8BITMIME", "BINARYMIME" or NULL */
	bool smtputf8;
	char *envid;              /* DSN ENVID or NULL */
	char *ret;                /* DSN RET: "FULL", "HDRS" or NULL */
	int hops;                 /* Received headers counted at entry */
	bool bulk;                /* bounce, auto reply, list mail: never bounce */
	time_t delay_notified;    /* when a delay notice went out, or 0 */
	struct queue_rcpt *rcpts;
	size_t nrcpts;
};

/* queue_new_id - a fresh queue id into out (QUEUE_ID_MAX + 1 bytes). */
void queue_new_id(char *out);

/* queue_env_* - envelopes in memory; add_rcpt copies its strings. */
void queue_env_init(struct queue_env *env, const char *id);
void queue_env_free(struct queue_env *env);
struct queue_rcpt *queue_env_add_rcpt(struct queue_env *env,
				      const char *address, const char *orcpt,
				      unsigned notify);
void queue_env_set(char **field, const char *value);
/* queue_env_format / queue_env_parse - the text form (versioned, one
 * record per line, values %-escaped). parse is bounded and strict: -1
 * with an error for anything malformed. */
void queue_env_format(const struct queue_env *env, struct buf *out);
int queue_env_parse(const char *data, size_t len, struct queue_env *env,
		    const char **error_r);

/* queue_path - "<queue root>/<conn>/<inbound|outgoing>" (new string). */
char *queue_path(const char *root, const char *conn, enum queue_dir dir);
/* queue_ensure - create the tmp/new/cur directories of a queue. */
int queue_ensure(const char *qpath);

/* Writing an item. The message may be streamed in pieces. */
struct queue_writer;
/* queue_writer_open - start an item in qpath/tmp with env->id. */
struct queue_writer *queue_writer_open(const char *qpath, const char *id,
				       const char **error_r);
int queue_writer_write(struct queue_writer *w, const void *data, size_t len);
/* queue_writer_size - message bytes written so far. */
off_t queue_writer_size(struct queue_writer *w);
/* queue_writer_path - the message file being written (in tmp/), for a
 * content scan before the commit (smtpd's antivirus). */
const char *queue_writer_path(const struct queue_writer *w);
/* queue_writer_commit - fsync the message, write and fsync the envelope,
 * rename both into new/, fsync new/. Only after it returns 0 may the
 * server say it has the message. Frees w either way. */
int queue_writer_commit(struct queue_writer **w, const struct queue_env *env,
			const char **error_r);
/* queue_writer_abort - remove the partial item; frees w. */
void queue_writer_abort(struct queue_writer **w);

/* queue_put_file - put an item whose message is the existing file msg
 * (hard link if possible, else copy) with a new envelope, durably. Used
 * by the MTA to move and split items between queues. */
int queue_put_file(const char *qpath, const char *msg_path,
		   const struct queue_env *env, const char **error_r);

/* Group commit (the MTA's batches): the items of a batch are written
 * into their queues' tmp/ without a sync each, then queue_batch_commit
 * makes them durable together: an fdatasync per envelope (their writes
 * were started at once, so they share the journal commit), the renames
 * into new/ (message, then envelope, as queue_put_file), and one fsync
 * per new/ directory for the whole batch. The promise is queue_put_file's:
 * an entry is in new/ and on stable storage once the commit reports its
 * tag committed, and only then may the caller retire what it came from.
 * A tag is the caller's unit (one inbound item, several entries). */
struct queue_batch;
struct queue_batch *queue_batch_new(void);
/* queue_batch_put_file - queue_put_file's writes, staged: the message
 * hard linked (or copied and fsynced) and the envelope written into
 * qpath/tmp; the batch holds the envelope open until the commit. */
int queue_batch_put_file(struct queue_batch *b, int tag, const char *qpath,
			 const char *msg_path, const struct queue_env *env,
			 const char **error_r);
/* queue_batch_drop - remove the staged entries of tag (its unit failed
 * before the commit; nothing of it appears in new/). */
void queue_batch_drop(struct queue_batch *b, int tag);
/* queue_batch_size - entries staged and not dropped */
size_t queue_batch_size(const struct queue_batch *b);
/* Retire journal: what makes a batch's end atomic for a crash of the
 * process. Between the first file a batch moves into place and the last
 * item it retires, a kill -9 would leave every item of the batch claimed
 * with its result already out: all of them would be done twice. So the
 * consumer lists, before the first move, each item it will retire
 * (simply removed, its result complete) with the moves that make its
 * result visible, in <qpath>/cur/retire.<pid>; queue_recover first
 * completes such a journal: the moves not made yet are made (their data
 * was synced before the journal was written), the target directories
 * fsynced, and an item is retired only when each of its moves is found
 * made (a file that left its target since, taken by the next consumer or
 * moved to cur/ by a mail client (maildir moves), counts as made when the
 * journal says so). A journal that cannot be read, or an item whose moves
 * cannot be verified, leaves those items to be done again: a duplicate,
 * never a loss. The journal needs no fsync: a power loss that takes it
 * also takes nothing the items' results need. */
struct queue_journal;
/* queue_journal_new - a journal for items of qpath (written by
 * queue_journal_write into qpath/cur/retire.<pid>) */
struct queue_journal *queue_journal_new(const char *qpath);
/* queue_journal_item - the next moves belong to item id */
void queue_journal_item(struct queue_journal *j, const char *id);
/* queue_journal_move - from (a synced file) is renamed to to. gone_ok:
 * to may be gone afterwards without proof (the next queue's consumer
 * took it: only when from's directory was fsynced before the journal
 * was written); maildir: to is <folder>/new/<name>, and a
 * <folder>/cur/<name>:<flags> proves the move too. */
void queue_journal_move(struct queue_journal *j, const char *from,
			const char *to, bool gone_ok, bool maildir);
/* queue_journal_write - write it (no fsync); 0, or -1 (the batch goes on
 * without: crash duplicates possible, never a loss) */
int queue_journal_write(struct queue_journal *j, const char **error_r);
/* queue_journal_free - remove the journal file (its items are retired)
 * and free j */
void queue_journal_free(struct queue_journal **j);

/* queue_batch_commit - make every staged entry durable in new/; the
 * number of entries that failed (each taken back, logged by the caller
 * through queue_batch_ok and the error of the last failure in error_r).
 * With a journal (NULL: none), the entries of the tags that have an item
 * in tag_items (NULL: that tag's unit is not simply retired) are listed
 * in it for that item, after the envelopes and the tmp/ directories are
 * synced and before the first move. */
size_t queue_batch_commit(struct queue_batch *b, struct queue_journal *jr,
			  const char *const *tag_items, size_t ntags,
			  const char **error_r);
/* queue_batch_ok - after the commit: every entry of tag is durable in
 * new/ (true for a tag with no entries) */
bool queue_batch_ok(const struct queue_batch *b, int tag);
/* queue_batch_free - frees b; entries still staged are removed. */
void queue_batch_free(struct queue_batch **b);

/* Consuming. */
struct queue_item {
	char id[QUEUE_ID_MAX + 1];
	char *qpath;
	char *msg_path;           /* in cur/ once claimed */
	char *env_path;
	struct queue_env env;
};
/* queue_recover - at consumer start: complete the retire journals in
 * cur/ (above), move cur/ back to new/, remove orphans and stale tmp
 * files older than an hour. */
int queue_recover(const char *qpath);
/* queue_scan - ids of the committed items in new/, oldest first (by id);
 * *ids_r is an array of strings (free each and the array). */
int queue_scan(const char *qpath, char ***ids_r, size_t *n_r);
/* queue_claim - move item id from new/ to cur/ and load its envelope.
 * 1 claimed, 0 gone (another consumer took it), -1 error (a corrupt item
 * is moved to bad mail by the caller with queue_item_badmail). */
int queue_claim(const char *qpath, const char *id, struct queue_item *item,
		const char **error_r);
/* queue_item_update - rewrite the envelope of a claimed item durably
 * (outgoing retries keep per-recipient state in it). */
int queue_item_update(struct queue_item *item, const char **error_r);
/* queue_item_release - give a claimed item back to new/ (to retry later). */
int queue_item_release(struct queue_item *item, const char **error_r);
/* queue_item_done - remove a claimed item; its result is durable elsewhere. */
int queue_item_done(struct queue_item *item, const char **error_r);
/* queue_item_badmail - move a claimed item to <root>/badmail with a
 * .reason file; never silently away. */
int queue_item_badmail(struct queue_item *item, const char *root,
		       const char *reason, const char **error_r);
void queue_item_free(struct queue_item *item);

/* queue_env_ino - the inode of the envelope of item id waiting in new/,
 * 0 if there is none. Every rewrite (queue_item_update) gives a new inode,
 * so a consumer that keeps an item's next try in memory compares it with
 * the inode it released the item with: a change means someone (`postern
 * queue retry`) rewrote the envelope and the item is due by its own times.
 * (The inode it recorded is still in use, so a new file cannot get it.) */
ino_t queue_env_ino(const char *qpath, const char *id);

/* Wake-up: an inotify watch on new/ of a queue, integrated with libevent by
 * the caller (queue_watch_fd is readable when items arrive; call
 * queue_watch_drain then scan). A periodic scan stays as the fallback for
 * shared file systems. */
int queue_watch_open(const char *qpath);
void queue_watch_drain(int fd);

#endif
