#ifndef POSTERN_CLI_H
#define POSTERN_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "admin.h"
#include "db.h"

/* Exit codes of postern (documented in `postern --help` and the README). */
enum cli_exit {
	EXIT_OK_ = 0,
	EXIT_FAIL = 1,       /* the operation failed */
	EXIT_USAGE = 2,      /* bad command line, name or value */
	EXIT_NOTFOUND = 3,   /* the object does not exist */
	EXIT_EXISTS = 4,     /* it exists already or conflicts */
	EXIT_PARTIAL = 5,    /* some rows of an import failed */
	EXIT_NOROOT = 6,     /* no usable data root */
	EXIT_BUSY = 7,       /* the config database is locked */
};

struct cli {
	char *root;
	bool json;
	struct db *db;
};

/* One parsed command line: positional words, --options and key=value. */
#define CLI_MAX_ARGS 64
struct cli_args {
	const char *pos[CLI_MAX_ARGS];
	size_t npos;
	const char *opt_name[CLI_MAX_ARGS];
	const char *opt_value[CLI_MAX_ARGS];  /* NULL for a flag */
	size_t nopt;
	bool help;
};

/* An option a command accepts: "name" takes no value, "name=" takes one. */
int cli_parse(int argc, char **argv, const char *const *options,
	      struct cli_args *a);
const char *cli_opt(const struct cli_args *a, const char *name);
bool cli_flag(const struct cli_args *a, const char *name);

/* cli_open - open the data root's database (exit code on failure). */
int cli_open(struct cli *cli);
int cli_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int cli_error(int status, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* cli_adm_exit - report an adm_status failure, give the exit code. */
int cli_adm_exit(int status, const char *error);

/* Output: a table for people, JSON for scripts. */
struct cli_table;
struct cli_table *cli_table_new(size_t ncols, const char *const *headers);
void cli_table_row(struct cli_table *t, const char *const *cells);
void cli_table_print(struct cli_table *t);
void cli_table_free(struct cli_table **t);
void cli_json_print(json_t *j);   /* steals the reference */

/* cli_print_query - step a query, printing each row (table or JSON with
 * the given keys); finalizes st. */
int cli_print_query(struct cli *cli, struct db_stmt *st, size_t ncols,
		    const char *const *hdr, const char *const *keys);

/* Destructive commands (docs: README "Administering"). A removal is a
 * JSON object: "removed" (what: "post office", "mailbox"...), "name",
 * then counts in the order people read them ("mailboxes", "messages",
 * "bytes"...). cli_confirm says what will go and asks on a terminal;
 * without one it needs --yes ("yes" in the command's options). Returns 0
 * to go ahead, else an exit code (2: no terminal and no --yes, 1: the
 * answer was no). cli_removed prints what was done (text or --json) and
 * takes the reference. */
#define CLI_YES_OPTION "yes"
json_t *cli_removal_new(const char *what, const char *name);
void cli_removal_count(json_t *o, const char *key, long long n);
int cli_confirm(struct cli *cli, const struct cli_args *a, json_t *removal);
void cli_removed(struct cli *cli, json_t *removal);

/* cli_created - after an add: with --json, print the new object (its
 * settings, "name" and "id"; "password" when one was generated); nothing
 * for people. An exit code. */
int cli_created(struct cli *cli, enum adm_kind kind, const char *ident,
		const char *generated_password);

/* Generic object commands driven by the field tables. */
int cli_object_show(struct cli *cli, enum adm_kind kind, const char *ident);
int cli_object_set(struct cli *cli, enum adm_kind kind, const char *ident,
		   const struct cli_args *a, size_t first);
void cli_fields_help(const struct field_def *fields);
/* cli_object_json - the fields of one row as a JSON object. */
json_t *cli_object_json(struct cli *cli, enum adm_kind kind, int64_t id);

/* The commands. argv[0] is the command word. */
int cmd_init(struct cli *cli, int argc, char **argv);
int cmd_config(struct cli *cli, int argc, char **argv);
int cmd_postoffice(struct cli *cli, int argc, char **argv);
int cmd_domain(struct cli *cli, int argc, char **argv);
int cmd_dkim(struct cli *cli, int argc, char **argv);
int cmd_dmarc(struct cli *cli, int argc, char **argv);
int cmd_sendlimit(struct cli *cli, int argc, char **argv);
int cmd_tls(struct cli *cli, int argc, char **argv);
int cmd_mailbox(struct cli *cli, int argc, char **argv);
int cmd_address(struct cli *cli, int argc, char **argv);
int cmd_group(struct cli *cli, int argc, char **argv);
int cmd_list(struct cli *cli, int argc, char **argv);
int cmd_popretrieval(struct cli *cli, int argc, char **argv);
int cmd_users(struct cli *cli, int argc, char **argv);
int cmd_status(struct cli *cli, int argc, char **argv);
int cmd_token(struct cli *cli, int argc, char **argv);
int cmd_db(struct cli *cli, int argc, char **argv);
int cmd_cluster(struct cli *cli, int argc, char **argv);
int cmd_queue(struct cli *cli, int argc, char **argv);
int cmd_track(struct cli *cli, int argc, char **argv);
int cmd_filter(struct cli *cli, int argc, char **argv);
int cmd_diag(struct cli *cli, int argc, char **argv);
int cmd_chat(struct cli *cli, int argc, char **argv);   /* cmd-chat.c */

#endif
