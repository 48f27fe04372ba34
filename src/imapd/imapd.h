#ifndef POSTERN_IMAPD_H
#define POSTERN_IMAPD_H

/* imapd - the IMAP4rev1/IMAP4rev2 service (RFC 3501, RFC 9051) on the
 * message store (lib-store). One process, one libevent loop, one small
 * struct per connection: no thread per client, and buffers released
 * between commands so that thousands of IDLE clients stay cheap. */

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <event2/bufferevent.h>
#include <openssl/ssl.h>

#include "buf.h"
#include "conn.h"
#include "directory.h"
#include "imap-parser.h"
#include "imap-spec.h"
#include "service.h"
#include "store.h"
#include "workpool.h"

#define IMAP_MAX_LINE       65536         /* one command line */
#define IMAP_MAX_LITERAL    (64u << 20)   /* one literal (APPEND) */
#define IMAP_SPILL_MIN      (256u << 10)  /* APPEND literals from this size
					     go to a file in the mailbox's
					     tmp/, not memory */
#define IMAP_MAX_MEMORY     (1u << 20)    /* literals of one command held
					     in memory, together */
#define IMAP_MAX_DEPTH      16            /* list nesting */
#define IMAP_PREAUTH_LINE   40960         /* limits before login: room for
					     ID with 30 pairs of 1024-octet
					     values (RFC 2971) */
#define IMAP_PREAUTH_LITERAL 8192
#define IMAP_MAX_BAD        20            /* bad commands before closing */
#define VIEW_STATUS_EVERY   10            /* seconds between full checks */

/* a mailbox index shared by the sessions of one process */
struct imapd_mbox {
	struct imapd_mbox *next;
	int64_t id;
	char *root;
	struct store *st;
	int refs;
	bool checkpointing;       /* a WAL checkpoint job is out (writer.c) */
	/* STOREs of its sessions, committed together on a writer thread
	 * (writer.c): the ones queued while a group is out go in the next */
	struct write_job *flags_q, **flags_tail;
	bool flags_busy;
};

struct imapd {
	struct service *svc;
	SSL_CTX *tls;
	struct store_notify *notify;
	struct event *notify_ev;
	struct imapd_mbox *mboxes;
	struct session *list;       /* every session */
	struct conn_server *conns;  /* the connection layer (conn.h) */
};

#define FETCH_OUTPUT_HIGH (256u << 10) /* pause a FETCH above this */
#define SESSION_OUTPUT_HIGH (1u << 20) /* stop reading commands above */


enum session_state { ST_NOAUTH, ST_AUTH, ST_SELECTED, ST_LOGOUT };
enum session_input { IN_CMD, IN_AUTH, IN_IDLE, IN_STARTTLS, IN_CLOSING };

struct view_msg;    /* view.h */
struct fetch_job;   /* fetch.h */
struct search_job;  /* search.h */

struct session {
	struct session *prev, *next;
	struct imapd *d;
	struct conn *c;          /* the connection (lib-service/conn.h) */
	struct bufferevent *bev; /* c's, kept current across STARTTLS */
	struct sockaddr_storage ss;
	char addr[64];           /* the client's, copied from c */
	char sid[24];
	bool idle_deferred;      /* IDLE updates held back until the client
				    reads what is queued (on_change) */
	enum session_state state;
	enum session_input in;
	struct imap_parser parser;
	char *pending_tag;      /* AUTHENTICATE / IDLE */
	int bad;

	/* authenticated */
	int64_t mailbox_id;
	char *user;
	struct imapd_mbox *mbox;
	struct service_login *reg;  /* logins.h: limit and revocation */

	/* selected */
	struct store_folder *folder;
	bool readonly;
	struct view_msg *msgs;
	size_t nmsgs;
	size_t ngone;           /* msgs expunged but not reported yet */
	struct imap_range *idle_r; /* IDLE: the compact view, UID ranges
				      (msgs is NULL meanwhile) */
	size_t nidle_r, nidle;     /* ranges, messages */
	time_t status_checked;  /* last full folder status check */
	uint32_t uidvalidity, uidnext;
	uint64_t highestmodseq;
	uint64_t view_modseq;   /* the folder's modseq (store_folder_modseq)
				   the view was last synced at */
	uint32_t status_messages;
	int notify_handle;
	struct imap_range *recent_r; /* UIDs this session has as \Recent,
					ascending, merged */
	size_t nrecent_r;
	bool recent_retry;          /* a claim found the index busy: again
				     * at the next sync */
	struct fetch_job *job;      /* a FETCH being sent */
	char *auth_tag;             /* a login being checked (conn_auth) */
	uint32_t handoff_id;        /* post-login process: the login handed
				       over (login.h), until answered */
	struct write_job *wjob;     /* a store write on a worker (writer.c) */
	struct search_job *sjob;    /* a SEARCH/SORT/THREAD in slices */
	struct notify_set *notify;  /* NOTIFY SET (notify.c), NULL */
	struct search_ctx *sctx;    /* live SEARCH RETURN (UPDATE) results */
	size_t nsctx;

	char *kw_known;            /* keywords sent in * FLAGS, " k1 k2" */
	int hold;                  /* handlers running on s (session_hold) */
	bool gone;                 /* the connection is freed: s goes when
				      the last hold is released */
	bool condstore, qresync, rev2;
	bool utf8;                 /* ENABLE UTF8=ACCEPT (RFC 6855) */
};

/* session.c */
/* session_ops - an IMAP session on the connection layer */
extern const struct conn_ops session_ops;
struct login_request;
/* session_adopt - post-login process: a login handed over by the
 * pre-login process (login_def.adopt): check it, answer it (login.h) */
void session_adopt(struct service *svc, const struct login_request *r);
void session_printf(struct session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void session_write(struct session *s, const void *data, size_t len);
void session_tagged(struct session *s, const char *tag, const char *status,
		    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
const char *session_capability(struct session *s);

/* session_suspend - read no further command (a worker has the current
 * one); session_resume - its answer is sent: go on with what the client
 * sent meanwhile. Call resume from an event callback, never from a
 * command handler. */
void session_suspend(struct session *s);
void session_resume(struct session *s);
/* session_hold - s stays allocated while a handler runs, even if the
 * connection is closed and freed under it; session_release - the handler
 * is done: false if s is gone now (freed, touch it no more) */
void session_hold(struct session *s);
bool session_release(struct session *s);

/* writer.c: store writes on worker threads */
struct write_job;
int writer_init(struct imapd *d, const char **error_r);
void writer_shutdown(void);
/* writer_append - APPEND (n > 1: MULTIAPPEND, all or none) of msgs
 * (copied) to folder on a worker thread; the session is suspended until
 * the tagged answer is sent: OK [APPENDUID] only once the messages are
 * on stable storage */
void writer_append(struct session *s, const char *tag, const char *folder,
		   const struct store_append_msg *msgs, size_t n,
		   int64_t quota_kb);
/* writer_copy - COPY or MOVE uids of the selected folder to folder `to`
 * on a worker thread, then the answer (COPYUID, MOVE's expunges); the
 * session is suspended meanwhile */
void writer_copy(struct session *s, const char *tag, const char *to,
		 const uint32_t *uids, size_t n, bool move, bool uid,
		 int64_t quota_kb);
/* writer_store - STORE's change of uids (of the selected folder) on a
 * worker thread, in one write transaction with the other STOREs of the
 * mailbox's sessions queued meanwhile; then store_reply. kw NULL: keep
 * the keywords. The session is suspended meanwhile. */
void writer_store(struct session *s, const char *tag, const uint32_t *uids,
		  size_t n, enum store_flag_op op, unsigned flags,
		  const char *kw, uint64_t unchanged, bool uid, bool silent);
/* writer_expunge - EXPUNGE (n 0: every \Deleted message) or UID EXPUNGE
 * of uids of the selected folder, grouped as writer_store; then
 * expunge_reply (cmd-copy.c) */
void writer_expunge(struct session *s, const char *tag, const uint32_t *uids,
		    size_t n);
/* writer_seen - the implicit \Seen of a FETCH of BODY[] (RFC 3501
 * 6.4.5) on uids, grouped as writer_store; then fetch_seen_done goes on
 * with the FETCH job j (taken over; freed if the session goes). */
void writer_seen(struct session *s, struct fetch_job *j, const uint32_t *uids,
		 size_t n);
/* fetch_seen_done - the \Seen of j written (rc 0: the view's messages
 * get it, their FETCH responses carry FLAGS) or not (rc -1, err): j is
 * sent (cmd-fetch.c) */
void fetch_seen_done(struct session *s, struct fetch_job *j, int rc,
		     const char *err);
void expunge_reply(struct session *s, const char *tag, int rc,
		   const char *err);
/* store_reply - the rest of STORE once the change is committed: rc of
 * store_flags_update, the UIDs that failed UNCHANGEDSINCE (cmd-store.c) */
void store_reply(struct session *s, const char *tag, bool uid, bool silent,
		 uint64_t unchanged, const uint32_t *uids, size_t nu, int rc,
		 uint32_t *failed, size_t nfailed, const char *err);
/* writer_checkpoint - checkpoint the index of m on a writer thread (its
 * fsyncs off the loop); holds a reference to m meanwhile */
void writer_checkpoint(struct imapd *d, struct imapd_mbox *m);
/* writer_forget - the session goes: drop the answer of its job */
void writer_forget(struct session *s);

/* imapd.c: shared mailbox indexes (login throttling: lib-service throttle.c) */
struct imapd_mbox *imapd_mbox_get(struct imapd *d, int64_t id,
				  const char *root, const char **error_r);
void imapd_mbox_put(struct imapd *d, struct imapd_mbox **m);

/* commands: tag, arguments; each sends its tagged reply */
typedef void cmd_fn(struct session *s, const char *tag,
		    const struct imap_arg *args, size_t nargs, bool uid);

/* cmd-mailbox.c */
cmd_fn cmd_select, cmd_examine, cmd_create, cmd_delete, cmd_rename,
    cmd_subscribe, cmd_unsubscribe, cmd_list, cmd_lsub, cmd_namespace,
    cmd_status, cmd_append, cmd_getquota, cmd_getquotaroot, cmd_setquota,
    cmd_unselect, cmd_close;
/* mailbox_name - the store folder name (modified UTF-7) of a client
 * mailbox argument (UTF-8 after ENABLE UTF8=ACCEPT; INBOX case folded);
 * NULL with *error_r if invalid. */
const char *mailbox_name(struct session *s, const struct imap_arg *a,
			 char *out, size_t size, const char **error_r);
void session_deselect(struct session *s);
/* quote_name - a store folder name as the session writes it (modified
 * UTF-7, or UTF-8 after ENABLE UTF8=ACCEPT) */
void quote_name(struct session *s, struct buf *out, const char *name);
/* folder_refuse - the NO of a failed folder change (cmd): the store's
 * texts about the name go to the client, any other failure is logged and
 * answered without its text (it may name server paths) */
void folder_refuse(struct session *s, const char *tag, const char *cmd,
		   const char *name, const char *err);
/* mailbox_quota_kb - the quota of the logged-in mailbox now (0: none) */
int64_t mailbox_quota_kb(struct session *s);

/* the selected folder: view.c (the session's view, change reports),
 * content.c (message files, header cache), cmd-fetch.c, cmd-store.c,
 * cmd-search.c (SEARCH, and the sliced matcher SORT and THREAD share:
 * search.h), cmd-copy.c (COPY, MOVE, EXPUNGE, CHECK, NOOP). Their
 * internal interfaces live in view.h, content.h, fetch.h and search.h,
 * which include this header, never the other way round. */
cmd_fn cmd_fetch, cmd_store, cmd_search, cmd_copy, cmd_move, cmd_expunge,
    cmd_check, cmd_noop;

/* cmd-urlauth.c: URLAUTH (RFC 4467), URLFETCH BINARY (RFC 5524) */
cmd_fn cmd_genurlauth, cmd_resetkey, cmd_urlfetch;

/* cmd-sort.c: SORT (RFC 5256, 5957 DISPLAY, 5267 ESORT) and THREAD */
cmd_fn cmd_sort, cmd_thread;

#endif
