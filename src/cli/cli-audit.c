/* cli-audit - the changes made with `postern` in the audit store
 * (lib-admin audit.h) beside the web admin's, with the Unix user as the
 * actor ("cli:root"), so that the audit page and Type/changes see them and
 * the types' states move (a web admin editing with ifInState then gets
 * stateMismatch after a CLI change too). One row per successful command
 * of the families below; its text is the command's arguments with
 * passwords and secret settings hidden. Each row is the one the API
 * writes for the same change: type, object, operation and post office
 * (an address added with `postern address` is an update of its mailbox,
 * as Mailbox/set addAddresses; `welcome set` an update of the setting
 * welcome.message, as Setting/set). */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "admin.h"
#include "audit.h"
#include "buf.h"
#include "cli.h"
#include "cli-audit.h"
#include "directory.h"
#include "fields.h"
#include "strutil.h"
#include "xalloc.h"

enum po_of { PO_SELF, PO_AT, PO_OPTION, PO_LOOKUP, PO_NONE, PO_SQL,
	PO_OBJOPT };

/* the mailbox (NAME@PO) and post office of an address or a POP
 * retrieval account, looked up before the command removes it */
#define ADDRESS_OWNER "SELECT m.name || '@' || p.name, p.name FROM address a " \
	"JOIN mailbox m ON a.kind = 'mailbox' AND m.id = a.target_id JOIN " \
	"postoffice p ON p.id = m.postoffice_id WHERE a.address = ?"
#define POP_OWNER "SELECT m.name || '@' || p.name, p.name FROM pop_account a " \
	"JOIN mailbox m ON m.id = a.mailbox_id JOIN postoffice p ON p.id = " \
	"m.postoffice_id WHERE a.id = ?"

static const struct audited {
	const char *cmd, *verb, *type, *op;
	enum po_of po;
	int kind;              /* enum adm_kind for PO_LOOKUP */
	const char *sub;       /* a second verb ("dkim selector add"), or NULL */
	/* PO_SQL: the object and post office from the argument; PO_OBJOPT:
	 * the object is the value of opts[0] (NAME@PO, its post office after
	 * the @) or else of opts[1] (a post office), else `fixed` */
	const char *sql;
	const char *opts[2];
	const char *fixed;     /* the object when the command names none */
} audited[] = {
	{ "postoffice", "add", "PostOffice", "create", PO_SELF, 0, NULL, NULL, { NULL, NULL }, NULL },
	{ "postoffice", "set", "PostOffice", "update", PO_SELF, 0, NULL, NULL, { NULL, NULL }, NULL },
	{ "postoffice", "set-quota", "PostOffice", "update", PO_SELF, 0, NULL, NULL, { NULL, NULL }, NULL },
	{ "postoffice", "del", "PostOffice", "destroy", PO_SELF, 0, NULL, NULL, { NULL, NULL }, NULL },
	{ "domain", "add", "Domain", "create", PO_OPTION, 0, NULL, NULL, { NULL, NULL }, NULL },
	{ "domain", "set", "Domain", "update", PO_LOOKUP, ADM_DOMAIN, NULL, NULL, { NULL, NULL }, NULL },
	{ "domain", "del", "Domain", "destroy", PO_LOOKUP, ADM_DOMAIN, NULL, NULL, { NULL, NULL }, NULL },
	{ "mailbox", "add", "Mailbox", "create", PO_AT, 0, NULL, NULL, { NULL, NULL }, NULL },
	{ "mailbox", "set", "Mailbox", "update", PO_AT, 0, NULL, NULL, { NULL, NULL }, NULL },
	{ "mailbox", "passwd", "Mailbox", "update", PO_AT, 0, NULL, NULL, { NULL, NULL }, NULL },
	{ "mailbox", "redirect", "Mailbox", "update", PO_AT, 0, NULL, NULL, { NULL, NULL }, NULL },
	{ "mailbox", "del", "Mailbox", "destroy", PO_AT, 0, NULL, NULL, { NULL, NULL }, NULL },
	{ "group", "add", "Group", "create", PO_OPTION, 0, NULL, NULL, { NULL, NULL }, NULL },
	{ "group", "set", "Group", "update", PO_LOOKUP, ADM_GROUP, NULL, NULL, { NULL, NULL }, NULL },
	{ "group", "member", "Group", "update", PO_LOOKUP, ADM_GROUP, NULL, NULL, { NULL, NULL }, NULL },
	{ "group", "del", "Group", "destroy", PO_LOOKUP, ADM_GROUP, NULL, NULL, { NULL, NULL }, NULL },
	{ "list", "add", "List", "create", PO_OPTION, 0, NULL, NULL, { NULL, NULL }, NULL },
	{ "list", "set", "List", "update", PO_LOOKUP, ADM_LIST, NULL, NULL, { NULL, NULL }, NULL },
	{ "list", "member", "List", "update", PO_LOOKUP, ADM_LIST, NULL, NULL, { NULL, NULL }, NULL },
	{ "list", "del", "List", "destroy", PO_LOOKUP, ADM_LIST, NULL, NULL, { NULL, NULL }, NULL },
	{ "config", "set", "Setting", "update", PO_NONE, 0, NULL, NULL, { NULL, NULL }, NULL },
	{ "config", "unset", "Setting", "update", PO_NONE, 0, NULL, NULL, { NULL, NULL }, NULL },
	{ "queue", "retry", "Queue", "retry", PO_NONE, 0, NULL, NULL, { NULL, NULL }, NULL },
	{ "queue", "release", "Queue", "release", PO_NONE, 0, NULL, NULL, { NULL, NULL }, NULL },
	{ "queue", "delete", "Queue", "destroy", PO_NONE, 0, NULL, NULL, { NULL, NULL }, NULL },
	{ "token", "add", "ApiToken", "create", PO_NONE, 0, NULL, NULL, { NULL, NULL }, NULL },
	{ "token", "del", "ApiToken", "destroy", PO_NONE, 0, NULL, NULL, { NULL, NULL }, NULL },
	{ "filter", "set", "MailboxFilter", "update", PO_AT, 0, NULL, NULL, { NULL, NULL }, NULL },
	{ "filter", "activate", "MailboxFilter", "update", PO_AT, 0, NULL, NULL, { NULL, NULL }, NULL },
	{ "filter", "deactivate", "MailboxFilter", "update", PO_AT, 0, NULL, NULL, { NULL, NULL }, NULL },
	{ "filter", "delete", "MailboxFilter", "update", PO_AT, 0, NULL, NULL, { NULL, NULL }, NULL },
	{ "popretrieval", "add", "Mailbox", "update", PO_AT, 0, NULL, NULL, { NULL, NULL }, NULL },
	{ "popretrieval", "del", "Mailbox", "update", PO_SQL, 0, NULL, POP_OWNER, { NULL, NULL }, NULL },
	{ "popretrieval", "delete", "Mailbox", "update", PO_SQL, 0, NULL, POP_OWNER, { NULL, NULL }, NULL },
	{ "popretrieval", "enable", "Mailbox", "update", PO_SQL, 0, NULL, POP_OWNER, { NULL, NULL }, NULL },
	{ "popretrieval", "disable", "Mailbox", "update", PO_SQL, 0, NULL, POP_OWNER, { NULL, NULL }, NULL },
	{ "address", "add", "Mailbox", "update", PO_OBJOPT, 0, NULL, NULL, { "--mailbox", NULL }, NULL },
	{ "address", "del", "Mailbox", "update", PO_SQL, 0, NULL, ADDRESS_OWNER, { NULL, NULL }, NULL },
	{ "users", "import", "Users", "import", PO_OBJOPT, 0, NULL, NULL, { NULL, "--postoffice" }, NULL },
	{ "welcome", "set", "Setting", "update", PO_OBJOPT, 0, NULL, NULL, { NULL, NULL }, "welcome.message" },
	{ "welcome", "clear", "Setting", "update", PO_OBJOPT, 0, NULL, NULL, { NULL, NULL }, "welcome.message" },
	{ "postoffice", "email", "AdminMail", "send", PO_SELF, 0, NULL, NULL, { NULL, NULL }, NULL },
	{ "mailbox", "email", "AdminMail", "send", PO_AT, 0, NULL, NULL, { NULL, NULL }, NULL },
	{ "messages", "delete", "MailboxMessage", "destroy", PO_OBJOPT, 0, NULL, NULL, { "--mailbox", "--postoffice" }, "*" },
	{ "dkim", "selector", "Domain", "update", PO_LOOKUP, ADM_DOMAIN, "add", NULL, { NULL, NULL }, NULL },
	{ "dkim", "selector", "Domain", "update", PO_LOOKUP, ADM_DOMAIN, "activate", NULL, { NULL, NULL }, NULL },
	{ "dkim", "selector", "Domain", "update", PO_LOOKUP, ADM_DOMAIN, "set", NULL, { NULL, NULL }, NULL },
	{ "dkim", "selector", "Domain", "update", PO_LOOKUP, ADM_DOMAIN, "delete", NULL, { NULL, NULL }, NULL },
};

/* secret_word - an option or key whose value is hidden */
static bool
secret_word(const char *w)
{
	while (*w == '-')
		w++;
	return strcasestr(w, "password") != NULL || strcasestr(w, "secret") != NULL ||
	    strncasecmp(w, "pass", 4) == 0 || strcasestr(w, "private") != NULL;
}

/* secret_field - a field (setting, post office... of kind) kept secret */
static bool
secret_field(const char *cmd, const char *name, size_t len)
{
	const struct field_def *defs = strcmp(cmd, "config") == 0 ?
	    settings_fields : strcmp(cmd, "postoffice") == 0 ? postoffice_fields :
	    strcmp(cmd, "domain") == 0 ? domain_fields : strcmp(cmd,
	    "mailbox") == 0 ? mailbox_fields : strcmp(cmd, "group") == 0 ?
	    group_fields : strcmp(cmd, "list") == 0 ? list_fields : NULL;
	char *n = xstrndup(name, len);
	const struct field_def *f = defs != NULL ? field_find(defs, n) : NULL;
	bool s = (f != NULL && (f->flags & FIELD_SECRET)) || secret_word(n);

	free(n);
	return s;
}

/* objopt - the object a PO_OBJOPT command names by option */
static const char *
objopt(const struct audited *w, int argc, char **argv)
{
	for (int k = 0; k < 2; k++) {
		size_t n = w->opts[k] != NULL ? strlen(w->opts[k]) : 0;
		for (int i = 1; n > 0 && i < argc; i++) {
			if (strcmp(argv[i], w->opts[k]) == 0 && i + 1 < argc)
				return argv[i + 1];
			if (strncmp(argv[i], w->opts[k], n) == 0 && argv[i][n] == '=')
				return argv[i] + n + 1;
		}
	}
	return w->fixed != NULL ? w->fixed : "";
}

void
cli_audit_begin(struct cli *cli, int argc, char **argv, uid_t user,
		struct cli_audit *a)
{
	memset(a, 0, sizeof(*a));
	if (argc < 2 || cli->root == NULL)
		return;
	for (size_t i = 0; i < sizeof(audited) / sizeof(audited[0]); i++)
		if (strcmp(argv[0], audited[i].cmd) == 0 &&
		    strcmp(argv[1], audited[i].verb) == 0 &&
		    (audited[i].sub == NULL || (argc > 3 &&
		    strcmp(argv[2], audited[i].sub) == 0)))
			a->what = &audited[i];
	if (a->what == NULL)
		return;
	/* "dkim selector add DOMAIN ...": the object after the second verb */
	int obj = a->what->sub != NULL ? 3 : 2;
	if (a->what->po != PO_OBJOPT && argc <= obj) {
		a->what = NULL;
		return;
	}
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			a->what = NULL;
			return;
		}
	const struct audited *w = a->what;
	const char *object = w->po == PO_OBJOPT ? objopt(w, argc, argv) :
	    argv[obj];
	snprintf(a->object, sizeof(a->object), "%s", object);
	/* the Unix user who ran it (the CLI acts as the data root's owner) */
	struct passwd *pw = getpwuid(user);
	snprintf(a->actor, sizeof(a->actor), "cli:%s", pw != NULL ?
	    pw->pw_name : "?");
	if (w->po == PO_SELF)
		snprintf(a->po, sizeof(a->po), "%s", object);
	else if (w->po == PO_AT && strrchr(object, '@') != NULL)
		snprintf(a->po, sizeof(a->po), "%s", strrchr(object, '@') + 1);
	else if (w->po == PO_OPTION) {
		for (int i = 3; i + 1 < argc; i++)
			if (strcmp(argv[i], "--postoffice") == 0)
				snprintf(a->po, sizeof(a->po), "%s", argv[i + 1]);
	} else if (w->po == PO_OBJOPT && object != w->fixed) {
		const char *at = strrchr(object, '@');
		snprintf(a->po, sizeof(a->po), "%s", w->opts[0] != NULL &&
		    at != NULL ? at + 1 : object);
	} else if (w->po == PO_SQL && cli_open(cli) == 0) {
		/* looked up now: after a del it is gone */
		const char *err;
		struct db_stmt *st = db_query(cli->db, &err, w->sql, "t", object);
		if (st != NULL && db_step(st, NULL) == DB_ROW) {
			snprintf(a->object, sizeof(a->object), "%s", db_col_text(st, 0));
			snprintf(a->po, sizeof(a->po), "%s", db_col_text(st, 1));
		}
		db_stmt_free(&st);
	} else if (w->po == PO_LOOKUP && cli_open(cli) == 0) {
		/* looked up now: after a destroy it is gone */
		int64_t id;
		const char *err;
		char *pn = NULL;
		if (adm_object_id(cli->db, (enum adm_kind)w->kind, object, &id,
		    &err) == 0) {
			char *sql = xasprintf("SELECT p.name FROM %s o JOIN "
			    "postoffice p ON p.id = o.postoffice_id WHERE o.id = ?",
			    adm_kind_table((enum adm_kind)w->kind));
			if (db_query_text(cli->db, &pn, &err, sql, "i", id) == 0 &&
			    pn != NULL)
				snprintf(a->po, sizeof(a->po), "%s", pn);
			free(sql);
			free(pn);
		}
	}
	str_lower(a->po);
	/* what changed: the rest of the command line, secrets hidden */
	struct buf t;
	buf_init(&t, sizeof(a->text) - 1);
	bool hide_next = false;
	if (w->sub != NULL)
		buf_printf(&t, "%s %s", w->verb, w->sub);
	/* an object found elsewhere: the whole command after its name
	 * ("add x@acme.test --mailbox bob@acme", "del 3") */
	if (w->po == PO_OBJOPT || w->po == PO_SQL)
		obj = 0;
	for (int i = obj + 1; i < argc; i++) {
		const char *v = argv[i];
		const char *eq = strchr(v, '=');
		if (t.len > 0)
			buf_puts(&t, " ");
		if (hide_next || strcmp(w->verb, "passwd") == 0) {
			buf_puts(&t, "***");
			hide_next = false;
		} else if (v[0] == '-' && v[1] == '-' && eq == NULL) {
			buf_puts(&t, v);
			hide_next = secret_word(v) && i + 1 < argc &&
			    argv[i + 1][0] != '-';
		} else if (eq != NULL && v[0] != '-' && secret_field(w->cmd, v,
		    (size_t)(eq - v))) {
			buf_append(&t, v, (size_t)(eq - v) + 1);
			buf_puts(&t, "***");
		} else if (strcmp(w->cmd, "config") == 0 && (i - obj) % 2 == 1 &&
		    secret_field("config", argv[i - 1], strlen(argv[i - 1])))
			buf_puts(&t, "***");
		else
			buf_puts(&t, v);
	}
	snprintf(a->text, sizeof(a->text), "%s", t.data != NULL ? t.data : "");
	buf_free(&t);
}

void
cli_audit_end(struct cli *cli, const struct cli_audit *a, int status)
{
	const struct audited *w = a->what;
	struct audit_entry e = { 0 };
	sqlite3 *h = NULL;
	const char *err;
	int64_t id;

	if (w == NULL || status != 0)
		return;
	e.at = time(NULL);
	e.actor = a->actor;
	e.client = "local";
	e.type = w->type;
	e.object = a->object;
	e.postoffice = a->po[0] != '\0' ? a->po : NULL;
	e.op = w->op;
	e.text = a->text;
	if (audit_open(cli->root, &h, &err) < 0 || audit_add(h, &e, &id,
	    &err) < 0)
		fprintf(stderr, "postern: warning: the change is made, but the "
		    "audit store did not record it: %s\n", err);
	audit_close(&h);
}
