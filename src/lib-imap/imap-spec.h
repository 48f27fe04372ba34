#ifndef POSTERN_IMAP_SPEC_H
#define POSTERN_IMAP_SPEC_H

/* Parsers of the structured arguments of FETCH, SEARCH and STORE, from
 * the argument trees imap-parser gives. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "imap-parser.h"
#include "imap-thread.h"

/* ---- FETCH --------------------------------------------------------- */

enum imap_fetch_type {
	IMAP_FETCH_FLAGS,
	IMAP_FETCH_INTERNALDATE,
	IMAP_FETCH_RFC822_SIZE,
	IMAP_FETCH_ENVELOPE,
	IMAP_FETCH_BODYSTRUCTURE,
	IMAP_FETCH_BODY,           /* BODY without a section */
	IMAP_FETCH_SECTION,        /* BODY[...] BODY.PEEK[...] RFC822* */
	IMAP_FETCH_BINARY,         /* BINARY[...] BINARY.PEEK[...] */
	IMAP_FETCH_BINARY_SIZE,
	IMAP_FETCH_UID,
	IMAP_FETCH_MODSEQ,
	IMAP_FETCH_EMAILID,        /* RFC 8474 OBJECTID */
	IMAP_FETCH_THREADID,
};

enum imap_section_spec {
	IMAP_SECTION_ALL,          /* BODY[] or BODY[1.2] */
	IMAP_SECTION_HEADER,
	IMAP_SECTION_HEADER_FIELDS,
	IMAP_SECTION_HEADER_FIELDS_NOT,
	IMAP_SECTION_TEXT,
	IMAP_SECTION_MIME,
};

#define IMAP_SECTION_MAX_PATH 32

struct imap_fetch_item {
	enum imap_fetch_type type;
	bool peek;
	unsigned path[IMAP_SECTION_MAX_PATH];
	size_t npath;
	enum imap_section_spec spec;
	char **fields;             /* NULL terminated for HEADER.FIELDS */
	size_t nfields;
	bool partial;
	uint32_t offset, length;
	char *name;                /* as the response names it: "BODY[1]<0>" */
};

struct imap_fetch {
	struct imap_fetch_item *items;
	size_t n;
	bool sets_seen;            /* a non-peek body fetch */
	bool wants_body;           /* needs the message file */
};

/* imap_fetch_parse - the FETCH attribute argument (atom, macro or list).
 * 0 or -1 with *error_r. */
int imap_fetch_parse(const struct imap_arg *arg, struct imap_fetch *f,
		     const char **error_r);
void imap_fetch_free(struct imap_fetch *f);

/* ---- SEARCH -------------------------------------------------------- */

enum imap_search_type {
	IMAP_SEARCH_ALL,
	IMAP_SEARCH_AND,           /* sub[] all match (a parenthesized list) */
	IMAP_SEARCH_OR,            /* sub[0] or sub[1] */
	IMAP_SEARCH_NOT,           /* not sub[0] */
	IMAP_SEARCH_FLAG,          /* num = STORE-like flag bit, neg */
	IMAP_SEARCH_KEYWORD,       /* str, neg */
	IMAP_SEARCH_NEW,
	IMAP_SEARCH_OLD,
	IMAP_SEARCH_RECENT,
	IMAP_SEARCH_HEADER,        /* str = field, str2 = substring */
	IMAP_SEARCH_BODY,          /* str */
	IMAP_SEARCH_TEXT,          /* str */
	IMAP_SEARCH_BEFORE,        /* date (internal date, day granularity) */
	IMAP_SEARCH_ON,
	IMAP_SEARCH_SINCE,
	IMAP_SEARCH_SENTBEFORE,    /* Date: header */
	IMAP_SEARCH_SENTON,
	IMAP_SEARCH_SENTSINCE,
	IMAP_SEARCH_LARGER,        /* num */
	IMAP_SEARCH_SMALLER,
	IMAP_SEARCH_SEQSET,        /* set */
	IMAP_SEARCH_UID,           /* set */
	IMAP_SEARCH_MODSEQ,        /* num */
	IMAP_SEARCH_EMAILID,       /* str (RFC 8474) */
	IMAP_SEARCH_THREADID,      /* str */
};

/* flag bits for IMAP_SEARCH_FLAG (same values as lib-store's) */
#define IMAP_FLAG_SEEN      0x01u
#define IMAP_FLAG_ANSWERED  0x02u
#define IMAP_FLAG_FLAGGED   0x04u
#define IMAP_FLAG_DELETED   0x08u
#define IMAP_FLAG_DRAFT     0x10u

struct imap_search_key {
	enum imap_search_type type;
	bool neg;                  /* for FLAG/KEYWORD: UNSEEN etc. */
	char *str, *str2;
	uint64_t num;
	int date;                  /* y*10000 + m*100 + d */
	struct imap_seqset set;
	struct imap_search_key *sub;
	size_t nsub;
};

/* Limits of a SEARCH (also SORT and THREAD criteria). Each string key
 * (BODY, TEXT, HEADER, FROM, SUBJECT...) costs one pass over every
 * message it is tried on, so a command of thousands of them on a large
 * folder would keep imapd busy for minutes; no client builds more than
 * a handful. A string is what a user types or a Message-ID: 4096 octets
 * leave room for any of them (the substring search is linear anyway). */
#define IMAP_SEARCH_STRING_MAX  4096u
#define IMAP_SEARCH_MAX_STRINGS 64u

#define IMAP_SEARCH_RET_MIN   0x01u
#define IMAP_SEARCH_RET_MAX   0x02u
#define IMAP_SEARCH_RET_ALL   0x04u
#define IMAP_SEARCH_RET_COUNT 0x08u
#define IMAP_SEARCH_RET_PARTIAL 0x10u  /* RFC 9394 */
#define IMAP_SEARCH_RET_UPDATE 0x20u   /* RFC 5267 CONTEXT=SEARCH */

/* imap_partial - RETURN (PARTIAL lo:hi): the results at positions lo..hi
 * (1 the first), or with last -lo:-hi counted from the end (1 the
 * last); text is the range as the client sent it, for the answer */
struct imap_partial {
	uint32_t lo, hi;
	bool last;
	char text[24];
};

/* imap_partial_slice - the part [*from, *to) of nres results a PARTIAL
 * range selects (empty: *from == *to) */
void imap_partial_slice(const struct imap_partial *p, size_t nres,
			size_t *from, size_t *to);

struct imap_search {
	struct imap_search_key root;   /* an AND of the keys */
	unsigned ret;                  /* RETURN (...) options */
	struct imap_partial partial;   /* IMAP_SEARCH_RET_PARTIAL */
	bool esearch;                  /* RETURN was given */
	bool uses_modseq;
};

/* imap_search_parse - the arguments after SEARCH: [RETURN (...)]
 * [CHARSET x] keys. Charsets other than UTF-8/US-ASCII fail with
 * *badcharset_r set. 0 or -1 with *error_r. */
int imap_search_parse(const struct imap_arg *args, size_t n,
		      struct imap_search *s, bool *badcharset_r,
		      const char **error_r);
void imap_search_free(struct imap_search *s);

/* ---- SORT and THREAD (RFC 5256, RFC 5957 DISPLAY, RFC 5267 ESORT) -- */

enum imap_sort_key {
	IMAP_SORT_ARRIVAL,         /* internal date */
	IMAP_SORT_CC,              /* mailbox of the first Cc address */
	IMAP_SORT_DATE,            /* sent date (internal date when none) */
	IMAP_SORT_FROM,
	IMAP_SORT_SIZE,
	IMAP_SORT_SUBJECT,         /* base subject */
	IMAP_SORT_TO,
	IMAP_SORT_DISPLAYFROM,     /* display name, else the address */
	IMAP_SORT_DISPLAYTO,
};

#define IMAP_SORT_MAX_KEYS 16

struct imap_sort {
	struct {
		enum imap_sort_key key;
		bool reverse;
	} keys[IMAP_SORT_MAX_KEYS];
	size_t n;
	unsigned ret;              /* ESORT RETURN (IMAP_SEARCH_RET_*) */
	struct imap_partial partial; /* IMAP_SEARCH_RET_PARTIAL */
	bool esort;
};

/* imap_sort_parse - the arguments after SORT: [RETURN (...)] (criteria)
 * charset search-keys; the keys into *srch (free with imap_search_free
 * when 0 is returned). Charsets other than UTF-8/US-ASCII fail with
 * *badcharset_r set. 0 or -1 with *error_r. */
int imap_sort_parse(const struct imap_arg *args, size_t n,
		    struct imap_sort *sort, struct imap_search *srch,
		    bool *badcharset_r, const char **error_r);
/* imap_thread_parse - the arguments after THREAD: algorithm charset
 * search-keys. As imap_sort_parse. */
int imap_thread_parse(const struct imap_arg *args, size_t n,
		      enum imap_thread_alg *alg_r, struct imap_search *srch,
		      bool *badcharset_r, const char **error_r);

/* imap_flags_parse - a flag list or a single flag for STORE/APPEND:
 * system flags to *flags_r (IMAP_FLAG_*), keywords space separated to
 * *keywords_r (new string). \Recent and unknown \flags fail. */
int imap_flags_parse(const struct imap_arg *arg, unsigned *flags_r,
		     char **keywords_r, const char **error_r);

#endif
