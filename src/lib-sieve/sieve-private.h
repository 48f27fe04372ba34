#ifndef POSTERN_SIEVE_PRIVATE_H
#define POSTERN_SIEVE_PRIVATE_H

/* The compiled form of a script, shared by sieve-parse.c (builds it) and
 * sieve-run.c (runs it). */

#include "sieve.h"

#define EXT_FILEINTO   0x0001u
#define EXT_ENVELOPE   0x0002u
#define EXT_REJECT     0x0004u
#define EXT_EREJECT    0x0008u
#define EXT_VACATION   0x0010u
#define EXT_IMAP4FLAGS 0x0020u
#define EXT_COPY       0x0040u
#define EXT_BODY       0x0080u
#define EXT_RELATIONAL 0x0100u
#define EXT_VARIABLES  0x0200u
#define EXT_SUBADDRESS 0x0400u
#define EXT_NUMERIC    0x0800u
#define EXT_NOAUTOREPLY 0x1000u  /* vnd.postern.noautoreply */

enum sv_op {
	OP_IF, OP_ELSIF, OP_ELSE, OP_REQUIRE, OP_STOP, OP_KEEP, OP_DISCARD,
	OP_FILEINTO, OP_REDIRECT, OP_REJECT, OP_EREJECT, OP_VACATION,
	OP_SETFLAG, OP_ADDFLAG, OP_REMOVEFLAG, OP_SET, OP_NOAUTOREPLY,
	/* tests */
	OP_ADDRESS, OP_ENVELOPE, OP_HEADER, OP_EXISTS, OP_SIZE, OP_ALLOF,
	OP_ANYOF, OP_NOT, OP_TRUE, OP_FALSE, OP_BODY, OP_STRING, OP_HASFLAG,
};

enum { M_IS = 1, M_CONTAINS, M_MATCHES, M_VALUE, M_COUNT };
enum { C_OCTET = 1, C_CASEMAP, C_NUMERIC };
enum { A_ALL = 1, A_LOCAL, A_DOMAIN, A_USER, A_DETAIL };
enum { B_RAW = 1, B_TEXT, B_CONTENT };
enum { R_GT, R_GE, R_LT, R_LE, R_EQ, R_NE };
enum { ARG_STRS, ARG_NUM, ARG_TAG };

/* set modifiers, in RFC 5229 4.1 order of names */
#define MOD_LOWER      0x01u
#define MOD_UPPER      0x02u
#define MOD_LOWERFIRST 0x04u
#define MOD_UPPERFIRST 0x08u
#define MOD_QUOTEWILD  0x10u
#define MOD_LENGTH     0x20u

struct sv_strlist {
	char **v;
	size_t n;
	bool is_list;            /* written as [...] */
};

struct sv_arg {
	int kind;                /* ARG_* */
	int line, col;
	struct sv_strlist sl;
	uint64_t num;
	char *tag;
};

/* resolved arguments; the pointers point into the node's args */
struct sv_spec {
	int match, relop, comp, addrpart, transform, sizeop;
	struct sv_strlist *p[2];     /* positional string lists in order */
	struct sv_strlist *ctypes;   /* body :content */
	struct sv_strlist *flags;    /* keep/fileinto :flags */
	struct sv_strlist *flagvars; /* imap4flags variable names */
	uint64_t num;                /* size */
	bool copy, mime, seconds_set;
	uint64_t seconds;
	const char *subject, *from, *handle, *reason;
	struct sv_strlist *addresses;
	unsigned mods;
};

struct sv_node {
	char *name;
	int line, col;
	int op;
	struct sv_arg *args;
	size_t nargs;
	struct sv_node **tests;
	size_t ntests;
	bool test_list;
	struct sv_node **block;
	size_t nblock;
	bool has_block;
	struct sv_spec sp;
};

struct sieve_script {
	struct sv_node **cmds;
	size_t ncmds;
	unsigned exts;
};

#endif
