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
#define IMAP_PREAUTH_LINE   8192          /* limits before login */
#define IMAP_PREAUTH_LITERAL 8192
#define IMAP_MAX_BAD        20            /* bad commands before closing */
#define IMAP_TIMEOUT_PREAUTH 60
#define IMAP_TIMEOUT_AUTH   1800          /* also IDLE: RFC 2177 29 min */
#define VIEW_STATUS_EVERY   10            /* seconds between full checks */

/* a mailbox index shared by the sessions of one process */
struct imapd_mbox {
	struct imapd_mbox *next;
	int64_t id;
	char *root;
	struct store *st;
	int refs;
	bool checkpointing;       /* a WAL checkpoint job is out (writer.c) */
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

/* one message of the selected folder as this session sees it */
struct view_msg {
	uint32_t uid;
	uint32_t flags;
	uint64_t modseq;
	uint64_t size;
	time_t idate;
	char *kw;           /* NULL: no keywords */
	bool gone;          /* expunged, not reported yet */
};

#define FETCH_OUTPUT_HIGH (256u << 10) /* pause a FETCH above this */
#define SESSION_OUTPUT_HIGH (1u << 20) /* stop reading commands above */

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

enum session_state { ST_NOAUTH, ST_AUTH, ST_SELECTED, ST_LOGOUT };
enum session_input { IN_CMD, IN_AUTH, IN_IDLE, IN_STARTTLS, IN_CLOSING };

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
	uint32_t status_messages;
	int notify_handle;
	struct imap_range *recent_r; /* UIDs this session has as \Recent,
					ascending, merged */
	size_t nrecent_r;
	struct fetch_job *job;      /* a FETCH being sent */
	char *auth_tag;             /* a login being checked (conn_auth) */
	struct write_job *wjob;     /* a store write on a worker (writer.c) */
	struct search_job *sjob;    /* a SEARCH/SORT/THREAD in slices */

	bool condstore, qresync, rev2;
	bool utf8;                 /* ENABLE UTF8=ACCEPT (RFC 6855) */
};

/* session.c */
/* session_free_all - end every session (shutdown) */
void session_free_all(struct imapd *d);
/* session_ops - an IMAP session on the connection layer */
extern const struct conn_ops session_ops;
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
/* mailbox_quota_kb - the quota of the logged-in mailbox now (0: none) */
int64_t mailbox_quota_kb(struct session *s);

/* cmd-message.c */
cmd_fn cmd_fetch, cmd_store, cmd_search, cmd_copy, cmd_move, cmd_expunge,
    cmd_check, cmd_noop;

/* cmd-sort.c: SORT (RFC 5256, 5957 DISPLAY, 5267 ESORT) and THREAD */
cmd_fn cmd_sort, cmd_thread;
/* cmd-message.c: SEARCH, SORT and THREAD run in slices (search_start) so
 * that a search over a large folder does not hold the event loop */
struct search_job;
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
/* view_header - append the header block of message idx (CRLF line ends;
 * through the header cache); -1 if it is gone */
int view_header(struct session *s, size_t idx, struct buf *out);
/* view_load - fill the view of a freshly selected folder */
int view_load(struct session *s, const char **error_r);
/* view_sync - pick up changes and report them (EXISTS, EXPUNGE, FETCH
 * FLAGS); expunges held back when allow_expunge is false. silent_uids
 * (sorted, may be NULL) are left out of FETCH reports. */
void view_sync(struct session *s, bool allow_expunge,
	       const uint32_t *silent_uids, size_t nsilent);
void view_free(struct session *s);
/* view_compact - entering IDLE: keep only the UIDs (after reporting what
 * changed); view_compact_sync reports changes in that state, view_expand
 * rebuilds the full view when IDLE ends, reporting what changed meanwhile */
void view_compact(struct session *s);
void view_compact_sync(struct session *s);
void view_expand(struct session *s);
/* report_flags - "* n FETCH (UID u FLAGS (...) [MODSEQ (m)])" */
void report_flags(struct session *s, size_t idx);
/* vanished_earlier - QRESYNC: "* VANISHED (EARLIER) uids" of the UID set
 * (NULL: any) expunged after modseq */
void vanished_earlier(struct session *s, const char *set, uint64_t modseq);
/* fetch_continue - send more of the FETCH in progress; true when done
 * (tagged reply sent, job freed), false when waiting for the client */
bool fetch_continue(struct session *s);
void fetch_job_free(struct fetch_job **j);
/* flags_format - "(\Seen \Recent kw ...)"; recent adds \Recent */
void flags_format(struct buf *out, unsigned flags, const char *kw,
		  bool recent);
/* session_recent - whether uid is \Recent in this session (never for an
 * IMAP4rev2 session: RFC 9051 removed it); session_recent_count - how
 * many messages of the view are; recent_forget - drop the set (the
 * folder is left) */
bool session_recent(const struct session *s, uint32_t uid);
size_t session_recent_count(const struct session *s);
void recent_forget(struct session *s);

#endif
