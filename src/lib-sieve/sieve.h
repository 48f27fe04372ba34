#ifndef POSTERN_SIEVE_H
#define POSTERN_SIEVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Sieve mail filtering (RFC 5228) with the extensions fileinto, envelope,
 * reject and ereject (RFC 5429), vacation (RFC 5230), imap4flags (RFC
 * 5232), copy (RFC 3894), body (RFC 5173), relational (RFC 5231),
 * variables (RFC 5229), subaddress (RFC 5233), the comparator
 * i;ascii-numeric (RFC 4790, for relational) and Postern's own
 * vnd.postern.noautoreply: its command "noautoreply;" (no arguments)
 * keeps the mailbox's auto responder from answering this message (the
 * webmail's rules editor writes it; sieve_result.no_autoreply).
 *
 * sieve_compile() lexes, parses and checks a script into a tree; every
 * error names its place as "line:col: message". sieve_execute() runs the
 * tree over one message and returns the actions to take; it performs
 * nothing itself (the caller files, forwards, rejects, replies). A
 * library: it does not log.
 *
 * Bounds: the script (SIEVE_SCRIPT_MAX), nesting of blocks and tests
 * (SIEVE_DEPTH_MAX), strings in a list (SIEVE_LIST_MAX), one string
 * (SIEVE_STRING_MAX), actions (SIEVE_ACTIONS_MAX), redirects
 * (SIEVE_REDIRECTS_MAX), variables (SIEVE_VARS_MAX) and the work done by
 * one run (SIEVE_STEPS_MAX tests and commands, SIEVE_WORK_MAX byte
 * comparisons while matching): past them the run fails and keeps. */

#define SIEVE_SCRIPT_MAX (1024 * 1024)
#define SIEVE_DEPTH_MAX 32
#define SIEVE_LIST_MAX 1024
#define SIEVE_STRING_MAX (256 * 1024)
#define SIEVE_ACTIONS_MAX 64
#define SIEVE_REDIRECTS_MAX 4
#define SIEVE_VARS_MAX 128
#define SIEVE_VAR_VALUE_MAX 4096
#define SIEVE_STEPS_MAX 100000
#define SIEVE_WORK_MAX 200000000L      /* byte comparisons of one run */
#define SIEVE_BODY_MAX (1024 * 1024)   /* body bytes searched by "body" */
#define SIEVE_NAME_MAX 128             /* script name (ManageSieve, CLI) */

struct sieve_script;

/* sieve_extensions - the capability string: every extension a script may
 * require, space separated. */
const char *sieve_extensions(void);

/* sieve_compile - check and compile a script. NULL on error with
 * *error_r a new string "line:col: message". */
struct sieve_script *sieve_compile(const char *text, size_t len,
				   char **error_r);
void sieve_script_free(struct sieve_script **s);

/* What the script looks at. The message is the bytes as delivered
 * (header and body, CRLF or LF). */
struct sieve_message {
	const char *data;
	size_t len;
	const char *env_from;    /* envelope sender, "" for <> */
	const char *env_to;      /* envelope recipient (this mailbox) */
};

enum sieve_action_kind {
	SIEVE_ACT_KEEP,          /* into INBOX (explicit or implicit) */
	SIEVE_ACT_FILEINTO,      /* into folder */
	SIEVE_ACT_REDIRECT,      /* to address */
	SIEVE_ACT_REJECT,        /* refuse with reason (reject, ereject) */
	SIEVE_ACT_VACATION,      /* reply */
};

struct sieve_vacation {
	char *subject;           /* NULL: the default */
	char *from;              /* NULL: the recipient */
	char *handle;            /* for the :days tracking */
	char **addresses;        /* :addresses */
	size_t naddresses;
	bool mime;               /* reason is a MIME entity */
	uint64_t seconds;        /* :days (or :seconds) in seconds */
};

struct sieve_action {
	enum sieve_action_kind kind;
	char *arg;               /* folder, address or reason; NULL for keep */
	unsigned int flags;      /* STORE_* system flags for keep/fileinto */
	char *keywords;          /* other flags, space separated, or NULL */
	bool ereject;
	struct sieve_vacation vac;
};

struct sieve_result {
	struct sieve_action *actions;
	size_t nactions;
	bool discarded;          /* discard ran (logged by the caller) */
	bool no_autoreply;       /* noautoreply ran: no auto responder */
};

/* sieve_execute - run script over msg. 0 with the actions in *res (the
 * implicit keep among them when nothing cancelled it), or -1 with
 * *error_r (a new string) for a run-time error: then res holds only a
 * keep (RFC 5228 2.10.6). Free res with sieve_result_free. */
int sieve_execute(const struct sieve_script *s, const struct sieve_message *msg,
		  struct sieve_result *res, char **error_r);
void sieve_result_free(struct sieve_result *res);

/* sieve_flags_parse - split imap4flags flag names into STORE_* system
 * flags (\Seen ...) and a space separated keyword string (new string or
 * NULL); keywords that are not IMAP atoms are dropped. */
void sieve_flags_parse(const char *list, unsigned int *flags_r,
		       char **keywords_r);

/* ------------------------------------------------------ script storage */

/* Scripts of a mailbox live in <mailbox root>/sieve/: "<name>.sieve" each,
 * and "active" holding the active script's name (no file: none active).
 * Names: 1..SIEVE_NAME_MAX bytes, no '/', no control characters, not
 * starting with '.'. Writes are atomic (temporary file, fsync, rename).
 * When run as root the files are given to the owner of the mailbox root.
 * All return 0 or -1 with *error_r (static text), unless said. */

/* sieve_name_check - 0 if name may name a script. */
int sieve_name_check(const char *name, const char **error_r);
/* sieve_store_put - check the script (compile error: -1 and *cerror_r, a
 * new string "line:col: message") and store it under name. */
int sieve_store_put(const char *root, const char *name, const char *text,
		    size_t len, char **cerror_r, const char **error_r);
/* sieve_store_get - the script text (new string, length in *len_r);
 * 0 found, -1 with *error_r "no such script" or an I/O error. */
int sieve_store_get(const char *root, const char *name, char **text_r,
		    size_t *len_r, const char **error_r);
/* sieve_store_list - every script name, sorted (free each and the
 * array), and the active one in *active_r (new string or NULL). */
int sieve_store_list(const char *root, char ***names_r, size_t *n_r,
		     char **active_r, const char **error_r);
void sieve_store_list_free(char **names, size_t n);
/* sieve_store_activate - make name active; NULL or "" deactivates. */
int sieve_store_activate(const char *root, const char *name,
			 const char **error_r);
/* sieve_store_delete - delete a script; the active one is refused. */
int sieve_store_delete(const char *root, const char *name,
		       const char **error_r);
/* sieve_store_rename - rename (the active mark follows); refused when
 * the new name exists. */
int sieve_store_rename(const char *root, const char *from, const char *to,
		       const char **error_r);
/* sieve_store_active - the active script's text: 1 found (new string),
 * 0 none active, -1 error. name_r (may be NULL) gets its name. */
int sieve_store_active(const char *root, char **text_r, size_t *len_r,
		       char **name_r, const char **error_r);
/* sieve_store_usage - bytes used by the scripts (HAVESPACE). */
long long sieve_store_usage(const char *root);

#endif
