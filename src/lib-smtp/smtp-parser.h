#ifndef POSTERN_SMTP_PARSER_H
#define POSTERN_SMTP_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* The server side of SMTP as a set of small bounded parsers (RFC 5321,
 * ESMTP extensions). Nothing here does I/O or logs: smtpd feeds bytes in
 * and formats replies out.
 *
 * Line limits (be explicit, RFC 5321 4.5.3.1.4 and its extensions):
 *   SMTP_LINE_CMD_MAX     512  every command line, verb and CRLF included
 *   SMTP_LINE_PARAMS_MAX 2048  MAIL and RCPT: 512 plus room for ESMTP
 *                              parameters (RFC 5321 4.5.3.1.4 allows each
 *                              extension to add; DSN ORCPT/ENVID, SIZE,
 *                              BODY, SMTPUTF8, AUTH= all fit)
 *   SMTP_LINE_BURL_MAX   4112  BURL: an IMAP URL of up to 4096 octets
 *                              (lib-imap's IMAP_URL_MAX) and " LAST"
 *   SMTP_LINE_AUTH_MAX  12288  AUTH with an initial response and the SASL
 *                              continuation lines (RFC 4954 4)
 * The line reader buffers up to SMTP_LINE_AUTH_MAX; smtp_command_parse
 * then applies the limit of the verb. */
#define SMTP_LINE_CMD_MAX 512
#define SMTP_LINE_PARAMS_MAX 2048
#define SMTP_LINE_BURL_MAX 4112
#define SMTP_LINE_AUTH_MAX 12288
#define SMTP_TEXT_LINE_MAX 1000 /* RFC 5321 4.5.3.1.6, CRLF included */
#define SMTP_PATH_MAX 256       /* RFC 5321 4.5.3.1.3, brackets included */
#define SMTP_XTEXT_MAX 500

/* --- command lines ----------------------------------------------------- */

enum smtp_line_result {
	SMTP_LINE_MORE = 0,       /* need more input; all of it consumed */
	SMTP_LINE_OK = 1,         /* a line in r->line (no CRLF) */
	SMTP_LINE_TOO_LONG = -1,  /* over max: skipped up to its LF */
	SMTP_LINE_BARE_LF = -2,   /* ended by LF without CR: not executed */
	SMTP_LINE_NUL = -3,       /* contains a NUL byte: not executed */
};

struct smtp_line_reader {
	struct buf line;
	size_t max;       /* bytes of a line, CRLF included */
	bool overflow;    /* skipping the rest of an over-long line */
	bool nul;
};

void smtp_line_init(struct smtp_line_reader *r, size_t max);
void smtp_line_free(struct smtp_line_reader *r);
/* smtp_line_feed - consume input up to and including the next LF. Sets
 * *consumed_r; a line is complete only at LF (a CR before it is removed).
 * Lines longer than max are skipped to their end and reported once. */
enum smtp_line_result smtp_line_feed(struct smtp_line_reader *r,
				     const void *data, size_t len,
				     size_t *consumed_r);

enum smtp_verb {
	SMTP_CMD_UNKNOWN = 0,
	SMTP_CMD_HELO, SMTP_CMD_EHLO, SMTP_CMD_MAIL, SMTP_CMD_RCPT,
	SMTP_CMD_DATA, SMTP_CMD_BDAT, SMTP_CMD_RSET, SMTP_CMD_NOOP,
	SMTP_CMD_QUIT, SMTP_CMD_VRFY, SMTP_CMD_EXPN, SMTP_CMD_HELP,
	SMTP_CMD_STARTTLS, SMTP_CMD_AUTH,
	SMTP_CMD_BURL,             /* RFC 4468 */
};

struct smtp_command {
	enum smtp_verb verb;
	const char *name;   /* canonical verb name, or "UNKNOWN" */
	const char *args;   /* after the verb (and "FROM:"/"TO:"), spaces
			       skipped; points into the line */
};

/* smtp_command_parse - split a line into verb and arguments. -1 with an
 * error (and the reply code in *code_r) for an over-long line of its verb
 * (500), a MAIL/RCPT without FROM:/TO: (501), 8-bit bytes in a verb. An
 * unknown verb is 0 with SMTP_CMD_UNKNOWN. */
int smtp_command_parse(const char *line, size_t len, struct smtp_command *cmd,
		       int *code_r, const char **error_r);

/* --- paths and parameters ---------------------------------------------- */

struct smtp_path {
	bool null;                    /* <> */
	bool utf8;                    /* contains non-ASCII (needs SMTPUTF8) */
	bool quoted;                  /* the local part is a quoted string */
	bool literal;                 /* the domain is an address literal */
	char address[SMTP_PATH_MAX];  /* local@domain as given, no brackets;
					 "" for <>, "postmaster" alone */
	char domain[SMTP_PATH_MAX];   /* lowercased (ASCII); "" if none */
};

/* smtp_path_parse - a Reverse-path / Forward-path "<...>" (RFC 5321 4.1.2)
 * with a source route (ignored, 4.1.1.3), a dot-string or quoted local
 * part, a domain or address literal. allow_null: accept "<>";
 * allow_postmaster: accept "<postmaster>" without a domain. UTF-8 (RFC
 * 6531) is accepted when well formed and flagged in p->utf8. *rest_r
 * points after '>' (the parameters). -1 with an error. */
int smtp_path_parse(const char *s, bool allow_null, bool allow_postmaster,
		    struct smtp_path *p, const char **rest_r,
		    const char **error_r);

enum smtp_body { SMTP_BODY_NONE = 0, SMTP_BODY_7BIT, SMTP_BODY_8BITMIME,
		 SMTP_BODY_BINARYMIME };

struct smtp_params {
	/* MAIL */
	bool has_size;
	uint64_t size;
	enum smtp_body body;
	bool smtputf8;
	char ret[5];                      /* "FULL", "HDRS" or "" */
	char envid[101];                  /* xtext as given, or "" */
	bool has_auth;
	char auth[SMTP_XTEXT_MAX + 1];    /* AUTH= xtext as given */
	/* RCPT */
	unsigned notify;                  /* SMTP_NOTIFY_* */
	char orcpt[SMTP_XTEXT_MAX + 1];   /* addr-type;xtext as given, or "" */
};

#define SMTP_NOTIFY_NEVER   0x01
#define SMTP_NOTIFY_SUCCESS 0x02
#define SMTP_NOTIFY_FAILURE 0x04
#define SMTP_NOTIFY_DELAY   0x08

enum smtp_params_kind { SMTP_PARAMS_MAIL, SMTP_PARAMS_RCPT };

enum smtp_params_result {
	SMTP_PARAMS_OK = 0,
	SMTP_PARAMS_INVALID = -1,   /* bad syntax or value: 501 5.5.4 */
	SMTP_PARAMS_UNKNOWN = -2,   /* not recognised here: 555 5.5.4 */
};

/* smtp_params_parse - the esmtp-params after a path: SIZE, BODY,
 * SMTPUTF8, RET, ENVID, AUTH for MAIL; NOTIFY, ORCPT for RCPT (RFC 1870,
 * 6152, 3030, 6531, 3461, 4954). A repeated keyword is invalid. */
enum smtp_params_result smtp_params_parse(const char *s,
					  enum smtp_params_kind kind,
					  struct smtp_params *p,
					  const char **error_r);

/* xtext (RFC 3461 4): chars '!'..'~' but '+' and '=', and "+XX". */
bool smtp_xtext_valid(const char *s, size_t len);
/* smtp_xtext_decode - append the decoded text; -1 on bad xtext. */
int smtp_xtext_decode(const char *s, size_t len, struct buf *out);
void smtp_xtext_encode(const void *data, size_t len, struct buf *out);

/* smtp_bdat_parse - "<size> [LAST]" (RFC 3030). -1 with an error. */
int smtp_bdat_parse(const char *args, uint64_t *size_r, bool *last_r,
		    const char **error_r);

/* --- SASL helpers -------------------------------------------------------- */

/* smtp_base64_decode - decode base64 (no line breaks; padding required);
 * -1 on bad input. Appends to out (bounded by out->max). */
int smtp_base64_decode(const char *s, size_t len, struct buf *out);
void smtp_base64_encode(const void *data, size_t len, struct buf *out);
/* smtp_sasl_plain - split a decoded PLAIN message (RFC 4616)
 * authzid NUL authcid NUL passwd into pointers into msg (NUL terminated in
 * place). -1 if malformed; SMTP_SASL_NUL when the password holds a NUL
 * byte (the caller counts a failed login: cut at the NUL, it could match a
 * shorter password). */
#define SMTP_SASL_NUL (-2)
int smtp_sasl_plain(char *msg, size_t len, const char **authzid_r,
		    const char **authcid_r, const char **passwd_r);

/* --- replies ------------------------------------------------------------- */

/* smtp_reply - append "<code> <enh> <text>\r\n". enh may be NULL. The text
 * is cleaned: CR, LF and control bytes become '?'. A text containing
 * "\n" separators yields a multi-line reply ("250-a", "250 b"). */
void smtp_reply(struct buf *out, int code, const char *enh,
		const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif
