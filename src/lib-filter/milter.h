#ifndef POSTERN_MILTER_H
#define POSTERN_MILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "milterspec.h"
#include "queue.h"

/* milter - the MTA side of the Sendmail milter protocol, version 6, as
 * Postfix speaks it (its milter8.c): option negotiation, macros, connect,
 * helo, envfrom, envrcpt, data, header, eoh, body, end of message, and
 * the answers accept, continue, reject, tempfail, discard, replycode,
 * progress and skip, with the modifications addheader, chgheader,
 * insheader, replbody, addrcpt(_par), delrcpt, chgfrom and quarantine.
 *
 * The MTA runs the milters of the setting milter.list on mail entering
 * the system, after smtpd's 250 (Postfix's non_smtpd_milters): a reject
 * then cannot reach the client, so it quarantines (never a bounce to a
 * possibly forged sender). Each milter has a timeout for each answer and
 * a default action for when it cannot be reached or fails mid-message
 * (disconnects, times out, answers garbage): tempfail (the MTA keeps the
 * item and retries), accept (this milter is skipped) or reject.
 *
 * A packet is a 4-byte network-order length, a command byte and its
 * data; no packet of ours or of a milter may pass MILTER_PACKET_MAX. */

#define MILTER_VERSION 6
#define MILTER_PACKET_MAX (1024 * 1024)
#define MILTER_CHUNK 65535
#define MILTER_MAX_MODS 10000
#define MILTER_MAX_PROGRESS 1000   /* "progress" answers to one command */

/* One answer of a milter, parsed (milter_reply_parse). Strings point
 * into the packet given to the parser. */
enum milter_reply_kind {
	MR_ACCEPT = 'a', MR_CONTINUE = 'c', MR_DISCARD = 'd', MR_REJECT = 'r',
	MR_TEMPFAIL = 't', MR_REPLYCODE = 'y', MR_PROGRESS = 'p', MR_SKIP = 's',
	MR_ADDHEADER = 'h', MR_CHGHEADER = 'm', MR_INSHEADER = 'i',
	MR_REPLBODY = 'b', MR_ADDRCPT = '+', MR_DELRCPT = '-',
	MR_ADDRCPT_PAR = '2', MR_QUARANTINE = 'q', MR_CHGFROM = 'e',
	MR_OPTNEG = 'O', MR_SETSYMLIST = 'l',
};

struct milter_reply {
	enum milter_reply_kind kind;
	uint32_t index;           /* chgheader, insheader */
	const char *name;         /* header name; address (rcpt, from) */
	const char *value;        /* header value; smtp reply; esmtp args;
				   * quarantine reason */
	const uint8_t *data;      /* replbody chunk */
	size_t len;
	uint32_t version, actions, protocol;   /* optneg */
};

/* milter_frame - a packet at the start of data: 1 with *plen_r (the
 * length field's value) when complete, 0 when more bytes are needed, -1
 * for a length of 0 or over MILTER_PACKET_MAX. */
int milter_frame(const uint8_t *data, size_t len, uint32_t *plen_r,
		 const char **error_r);
/* milter_reply_parse - one packet (command byte and data, the length
 * field taken off); 0 or -1 for an unknown command or malformed data. */
int milter_reply_parse(const uint8_t *pkt, size_t len, struct milter_reply *r,
		       const char **error_r);

/* The modifications a milter asked for, in order, applied after its end
 * of message. */
struct milter_hdrop {
	char kind;                /* 'h' add, 'm' change/delete, 'i' insert */
	uint32_t index;
	char *name, *value;
};

struct milter_mods {
	struct milter_hdrop *hdr;
	size_t nhdr;
	bool body_replaced;
	struct buf body;          /* the new body (CRLF lines) */
	char **addrcpt, **delrcpt;
	size_t naddrcpt, ndelrcpt;
	char *chgfrom;            /* new envelope sender or NULL */
	char *quarantine;         /* reason or NULL */
};

void milter_mods_init(struct milter_mods *m);
void milter_mods_free(struct milter_mods *m);
/* milter_mods_add - record one modification reply; -1 past the limits. */
int milter_mods_add(struct milter_mods *m, const struct milter_reply *r,
		    const char **error_r);
/* milter_header_apply - the header block hdr (fields and the blank line,
 * CRLF) with the header modifications of m, into out. Values get CRLF
 * line ends and folded lines a leading tab. */
void milter_header_apply(const char *hdr, size_t len,
			 const struct milter_mods *m, struct buf *out);

/* The outcome of running the milters of a list over one message. */
enum milter_outcome {
	MILTER_OK = 0,            /* go on (modifications applied) */
	MILTER_TEMPFAIL,          /* defer the item */
	MILTER_REJECT,            /* reject (after the 250: quarantine) */
	MILTER_DISCARD,           /* drop on purpose */
	MILTER_QUARANTINE,        /* a milter's quarantine answer */
};

struct milter_msg {
	const char *id;           /* queue id (macro i) */
	const char *hostname;     /* our name (macro j) */
	struct queue_env *env;    /* sender, recipients: may be changed */
	const char *path;         /* the message file */
	const char *tmpdir;       /* where a changed message is written */
	char *new_path;           /* set when the message was changed */
	char reason[512];         /* for the log: which milter, what */
};

/* milter_run_all - the milters in order; each sees the message as the
 * ones before it left it. */
enum milter_outcome milter_run_all(const struct milter_spec *v, size_t n,
				   struct milter_msg *msg);
/* filter_header_rewrite - the message src with prepend (whole CRLF
 * lines) above its header and the fields named in strip (NULL ended)
 * taken out, written to a new file in dir, fsynced (the spam verdict's
 * headers; a milter's header changes go through milter_header_apply). */
int filter_header_rewrite(const char *src, const char *dir, const char *id,
			  const char *prepend, const char *const *strip,
			  char **new_path_r, const char **error_r);
/* milter_probe - connect and negotiate options, then quit (diag). */
int milter_probe(const struct milter_spec *m, const char **error_r);

#endif
