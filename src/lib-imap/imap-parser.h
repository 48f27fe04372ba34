#ifndef POSTERN_IMAP_PARSER_H
#define POSTERN_IMAP_PARSER_H

/* The IMAP command reader (RFC 3501/9051 syntax, RFC 7888 LITERAL+,
 * RFC 3516 literal8): incremental and bounded. Bytes go in as they
 * arrive; the parser keeps the text lines of a command and each literal's
 * data apart, checks every announced literal against the limit before any
 * allocation, and tokenizes the command once its last line is in.
 *
 *   r = imap_parser_feed(p, data, len, &used);
 *   IMAP_PARSE_MORE      everything used, need more input
 *   IMAP_PARSE_CONTINUE  a synchronizing literal: send "+ ..." and go on
 *   IMAP_PARSE_DONE      p->tag, p->cmd, p->args hold the command
 *   IMAP_PARSE_ERROR     p->error; p->fatal means close the connection
 *                        (the client will send bytes we cannot frame)
 * After DONE or ERROR call imap_parser_reset() before feeding more. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "buf.h"

enum imap_arg_type {
	IMAP_ARG_ATOM,
	IMAP_ARG_STRING,    /* quoted */
	IMAP_ARG_LITERAL,
	IMAP_ARG_LIST,
};

struct imap_arg {
	enum imap_arg_type type;
	char *str;          /* NUL terminated (literals may hold NULs);
			     * "" for a literal kept in a file */
	size_t len;         /* 0 for a literal kept in a file */
	bool literal8;
	/* a literal spilled to a file (imap_parser_spill): its data is in
	 * fd, an unnamed file, file_len bytes; nul says whether any byte
	 * is NUL. The parser closes fd at reset: a command that keeps the
	 * data longer dup()s it. */
	bool in_file;
	bool nul;
	int fd;
	uint64_t file_len;
	struct imap_arg *list;
	size_t count;
};

enum imap_parse_result {
	IMAP_PARSE_ERROR = -1,
	IMAP_PARSE_MORE = 0,
	IMAP_PARSE_DONE = 1,
	IMAP_PARSE_CONTINUE = 2,
};

#define IMAP_MAX_LITERALS 64
#define IMAP_MAX_SPILLED 16  /* literals in files per command: descriptors */

/* one literal being read: in memory, or spilled to an unnamed file */
struct imap_lit {
	struct buf data;
	int fd;              /* -1: in data */
	uint64_t size;       /* bytes written to fd */
	bool nul;            /* a NUL byte was seen (fd only) */
};

struct imap_parser {
	size_t max_line;     /* one text line */
	size_t max_literal;  /* the literals of one command, together */
	unsigned max_depth;  /* list nesting */
	/* literals held in memory, together, for one command (0: up to
	 * max_literal). APPEND's literals go to a file in spill_dir when
	 * they are spill_min bytes or more, or would pass max_memory; the
	 * other commands' get [TOOBIG] past max_memory. */
	size_t max_memory;
	size_t spill_min;
	char *spill_dir;     /* NULL: never spill (before login) */

	struct buf line;     /* text lines, literals replaced by markers */
	struct imap_lit *lits; /* grown on demand: an idle session has none */
	size_t nlits, lits_cap;
	size_t seg_start;    /* start of the current line in line */
	size_t lit_left;
	size_t lit_total;    /* literal bytes of this command so far */
	size_t mem_total;    /* of which held in memory */
	size_t nspilled;     /* literals of this command in files */
	bool in_literal;
	bool skipping;       /* discarding the rest of a bad line */
	const char *spill_error; /* a spill file failed: the literal's
				  * bytes are read and dropped, the command
				  * is refused at its end */

	char *tag;
	char *cmd;
	struct imap_arg *args;
	size_t nargs;
	const char *error;
	bool fatal;
};

void imap_parser_init(struct imap_parser *p, size_t max_line,
		      size_t max_literal, unsigned max_depth);
/* imap_parser_reset - drop the last command (keeps limits, releases
 * large buffers so an idle connection holds little memory). */
void imap_parser_reset(struct imap_parser *p);
void imap_parser_free(struct imap_parser *p);
/* imap_parser_spill - from now on keep APPEND literals of min bytes or
 * more (and any that would pass max_memory in memory) in unnamed files
 * in dir (O_TMPFILE; a named file unlinked at once where the file system
 * lacks it), so that nothing is left behind when the client goes away
 * and the store can link the file into place (store_append_msg.fd).
 * dir should be on the store's file system: the mailbox's tmp/. */
void imap_parser_spill(struct imap_parser *p, const char *dir, size_t min,
		       size_t max_memory);

int imap_parser_feed(struct imap_parser *p, const char *data, size_t len,
		     size_t *used_r);
/* imap_parser_tag - the tag of the command being read, for a tagged BAD
 * after an error ("*" when none could be read). Static or internal. */
const char *imap_parser_tag(struct imap_parser *p);
/* imap_parser_busy - whether part of a command is buffered. */
bool imap_parser_busy(const struct imap_parser *p);

/* imap_arg_astring - the text of an atom/string/literal, NULL for a list */
const char *imap_arg_astring(const struct imap_arg *a);
bool imap_arg_is_atom(const struct imap_arg *a, const char *name);

/* Sequence sets: ranges with '*' as IMAP_SEQ_STAR (resolve by the caller;
 * 0 is no valid number, 4294967295 is a valid UID). */
#define IMAP_SEQ_STAR 0u
struct imap_range {
	uint32_t lo, hi;
};
struct imap_seqset {
	struct imap_range *r;
	size_t n;
};
int imap_seqset_parse(const char *s, struct imap_seqset *set,
		      const char **error_r);
/* imap_seqset_contains - with '*' standing for star */
bool imap_seqset_contains(const struct imap_seqset *set, uint32_t v,
			  uint32_t star);
void imap_seqset_free(struct imap_seqset *set);
/* imap_seqset_format - append "1:3,5" for sorted values */
void imap_seqset_format(struct buf *out, const uint32_t *v, size_t n);

/* mailbox names: modified UTF-7 (RFC 3501 5.1.3) <-> UTF-8; -1 if bad */
int imap_mutf7_to_utf8(const char *in, struct buf *out);
int imap_utf8_to_mutf7(const char *in, struct buf *out);

/* dates: "1-Feb-1994" (SEARCH) and date-time "01-Feb-1994 21:10:00 +0100" */
int imap_date_parse(const char *s, int *y, int *m, int *d);
int imap_datetime_parse(const char *s, time_t *t_r, int *tz_r);
void imap_datetime_format(struct buf *out, time_t t, int tz_min);

#endif
