#ifndef POSTERN_SMTPD_SESSION_H
#define POSTERN_SMTPD_SESSION_H

/* smtpd-session - one SMTP session and its transaction, shared by the
 * files of smtpd (Postfix's smtpd satellites): session.c (the connection,
 * the command loop, HELO, STARTTLS, timeouts), smtpd-policy.c (MAIL FROM,
 * RCPT TO and the sender policy of submitted mail), smtpd-data.c (DATA,
 * BDAT, the queue item) and smtpd-auth.c (AUTH). */

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "buf.h"
#include "commit.h"
#include "conn.h"
#include "msghdr.h"
#include "queue.h"
#include "smtp-data.h"
#include "smtp-parser.h"
#include "smtpd.h"

#define MAX_ERRORS 10          /* bad commands before we hang up */
#define MAX_AUTH_FAILURES 3    /* failed AUTH in one session */
#define MAX_JUNK 100           /* NOOP, RSET, VRFY, EXPN, HELP per message:
				  beyond, each counts as an error */
#define MAX_HOPS 50            /* Received headers: a mail loop beyond */
#define WRITE_CHUNK (64 * 1024)
/* a message up to this size stays in memory until its end, and a worker
 * thread creates, writes and commits its queue item: the event loop never
 * waits on the file system for it */
#define MEM_MAX (1024 * 1024)

enum state {
	S_CMD,
	S_AUTH,             /* waiting for a SASL response line */
	S_DATA,             /* reading DATA */
	S_BDAT,             /* reading a BDAT chunk */
	S_STARTTLS,         /* 220 sent, handshake after it is flushed */
	S_COMMIT,           /* the message is being made durable */
	S_WAIT,             /* a command waits for the client's DNS checks */
	S_PASSWORD,         /* AUTH: the password is being checked */
	S_CLOSING,          /* last reply being flushed */
};

enum mech { MECH_PLAIN = 1, MECH_LOGIN };

/* smtp_tx - one mail transaction, from MAIL FROM to the end of the
 * message (DATA, or BDAT LAST), as OpenSMTPD's struct smtp_tx: what
 * tx_reset forgets; the session outlives it */
struct smtp_tx {
	struct queue_env env;
	char sender_domain[SMTP_PATH_MAX];
	uint64_t declared_size;     /* MAIL FROM SIZE=, 0 if none */
	struct spf *spf;            /* SPF of the sender */
	bool spf_wait;              /* SPF starts once the checks are in */
	struct queue_writer *qw;
	bool write_failed;
	char write_error[160];
	struct smtp_data dr;
	struct buf out;             /* message bytes waiting for the writer */
	uint64_t msg_size;
	bool too_big;
	bool bdat_mode;
	uint64_t bdat_left;
	bool bdat_last;
	int bdat_err_code;          /* nonzero: the chunk is read and refused */
	char bdat_err[200];
	unsigned burl_urls;         /* BURLs of this message so far */
	uint64_t burl_read;         /* octets of message files they read */
	/* counting Received headers of the message */
	int hops;
	bool hdr_done;
	size_t hdr_linelen;
	char hdr_prefix[9];
	/* the header of submitted mail (sender policy, RFC 6409 8) */
	bool hp_on;                 /* the header is being parsed */
	bool hp_done, hp_failed;
	bool hp_from_check;         /* From:/Sender: must be the login's */
	bool hp_add_fields;         /* add a missing Date:/Message-ID: */
	bool has_date, has_msgid;
	bool hp_lookup_failed;
	char *bad_from;             /* first From:/Sender: address refused */
	struct msghdr_parser hp;
};

/* session - one SMTP connection's state (the connection itself is the
 * layer's: lib-service/conn.h) */
struct session {
	struct session *prev, *next;    /* all sessions, for shutdown */
	struct smtpd *sd;
	struct db *db;
	struct conn *c;             /* the connection (lib-service/conn.h);
				     * NULL: gone during a commit */
	char sid[24];               /* the connection's, kept for the logs */
	struct sockaddr_storage ss;
	char addr[64];
	const char *listener;
	bool submission, smtps;
	bool relay_net;             /* client in smtp.relay_networks */
	struct checks *checks;      /* DNS block lists, reverse DNS */
	char *parked;               /* the command line waiting for them */
	char *helo;
	bool esmtp;
	char *auth_user;
	int64_t auth_mailbox;       /* its mailbox id (sender policy) */
	struct service_login *auth_reg; /* logins.h: limit and revocation */
	int errors, auth_failures;
	int junk;                   /* NOOP/RSET/VRFY/EXPN/HELP since a message */
	struct event *life_ev;      /* smtp.max_session_time */
	struct event *data_ev;      /* smtp.data_timeout of one message */
	bool expired;               /* a time limit hit during a commit */
	bool revoked;               /* credentials revoked during a commit */
	enum state state;
	enum mech mech;
	int auth_step;              /* LOGIN: 0 user, 1 password */
	char *auth_login;
	char *auth_checking;        /* the login being checked (S_PASSWORD) */
	struct smtp_line_reader lr;
	int timeout;
	time_t line_started;        /* monotonic s: first byte of a partial line */
	bool dead;                  /* gone during a commit: free after it */
	struct commit_job job;
	off_t commit_size;
	uint64_t max_size;          /* smtp.max_message_size */
	int max_rcpts;
	bool in_tx;                 /* tx holds a transaction */
	struct smtp_tx tx;
};

/* session.c */
/* session_reply - one (possibly multi-line, "\n" separated) reply */
void session_reply(struct session *s, int code, const char *enh,
		   const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* session_close - flush what is queued, then drop the connection */
void session_close(struct session *s);
/* session_error - one more bad command; true (and 421, closing) after
 * too many */
bool session_error(struct session *s);
/* session_junk - a command that moves no mail (NOOP, RSET, ...) */
void session_junk(struct session *s);
/* session_free - free a session whose connection is gone */
void session_free(struct session *s);
/* spf_checked - the SPF result of the sender is in (spf_check_start) */
void spf_checked(void *arg);
/* session_timeout - 421 and close */
void session_timeout(struct session *s);
/* session_read - the input loop (conn_ops.read) */
void session_read(struct conn *c);
/* tx_reset - forget the transaction; a started queue item is removed */
void tx_reset(struct session *s);

/* smtpd-policy.c */
/* sender_allowed - whether the logged-in user may send as address */
bool sender_allowed(struct session *s, const char *address, bool *error_r);
void header_policy_reset(struct session *s);
void header_policy_start(struct session *s);
/* header_policy_feed - the message bytes from before on in tx.out */
void header_policy_feed(struct session *s, size_t before);
bool header_policy_finish(struct session *s, int *code_r, const char **enh_r,
			  char *text, size_t size);
/* spf_check_start - SPF of the transaction's sender, when it applies */
void spf_check_start(struct session *s);
/* policy_pending - a DNS answer a command waits for is still out */
bool policy_pending(const struct session *s);
void cmd_mail(struct session *s, const char *args);
void cmd_rcpt(struct session *s, const char *args);

/* smtpd-data.c */
void scan_headers(struct session *s, const char *p, size_t n);
/* flush_out - hand buffered message bytes to the queue writer */
void flush_out(struct session *s, bool force);
/* message_finish - refuse, or commit the item and answer 250 once
 * durable */
void message_finish(struct session *s, unsigned data_flags);
void cmd_data(struct session *s, const char *args);
void cmd_bdat(struct session *s, const char *args);
/* bdat_chunk_done - a BDAT chunk is read */
void bdat_chunk_done(struct session *s);
void cmd_burl(struct session *s, const char *args);

/* smtpd-burl.c */
/* BURL's limits per message: URLs, and octets of message files read for
 * them (a whole file is read even for one part of it) */
#define BURL_MAX_URLS 64
#define BURL_READ_FACTOR 4   /* times smtp.max_message_size */
/* burl_fetch - append what a URLAUTH URL names to out (RFC 4468): 0, or
 * -1 with *code_r (554; 552 past the limits above; 454 when it may work
 * later) and *text_r */
int burl_fetch(struct session *s, const char *url, struct buf *out,
	       int *code_r, const char **text_r);

/* smtpd-auth.c */
void cmd_auth(struct session *s, const char *args);
/* auth_response - one SASL response line (S_AUTH) */
void auth_response(struct session *s, const char *line);
/* auth_still_valid - before a message: false (421, closing) when the
 * credentials were revoked since AUTH */
bool auth_still_valid(struct session *s);
/* auth_revoked_close - 421 4.7.0 and close */
void auth_revoked_close(struct session *s);

#endif
