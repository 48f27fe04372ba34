/* cmd-sendlimit - postern sendlimit: the outbound abuse limits' counts,
 * suspended mailboxes and the release of held mail (sendlimit.h) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "db.h"
#include "directory.h"
#include "qadmin.h"
#include "admin.h"
#include "sendlimit.h"
#include "settings.h"
#include "xalloc.h"

static int
sendlimit_help(int code)
{
	printf("usage: postern sendlimit list\n"
	    "       postern sendlimit suspend MAILBOX@POSTOFFICE [--reason TEXT]\n"
	    "       postern sendlimit unsuspend MAILBOX@POSTOFFICE\n"
	    "       postern sendlimit release ID\n\n"
	    "Outbound abuse limits (settings limits.*): messages and recipients\n"
	    "a mailbox and a post office submitted in the last hour, and the\n"
	    "mailboxes whose sending is suspended. Mail over a limit is held in\n"
	    "bad mail (postern queue list: state held). 'release ID' sends a\n"
	    "held item on without holding it again (the mailbox's counts still\n"
	    "grow); 'postern queue release ID' counts it against the limits\n"
	    "again. While a mailbox is suspended all its mail is held.\n");
	return code;
}

struct list_ctx {
	json_t *arr;
	struct cli_table *t;
	size_t n;
};

static void
list_one(void *arg, const char *kind, const char *name, int64_t messages,
	 int64_t recipients, time_t suspended, const char *reason)
{
	struct list_ctx *c = arg;
	char m[32], r[32], since[32] = "";

	c->n++;
	if (suspended != 0) {
		struct tm tm;
		gmtime_r(&suspended, &tm);
		strftime(since, sizeof(since), "%Y-%m-%d %H:%M:%S", &tm);
	}
	if (c->arr != NULL) {
		json_t *o = json_pack("{s:s,s:s,s:I,s:I}", "kind", kind, "name",
		    name, "messages", (json_int_t)messages, "recipients",
		    (json_int_t)recipients);
		if (suspended != 0) {
			json_object_set_new(o, "suspended",
			    json_integer((json_int_t)suspended));
			json_object_set_new(o, "reason", json_string(reason ?
			    reason : ""));
		}
		json_array_append_new(c->arr, o);
		return;
	}
	snprintf(m, sizeof(m), "%lld", (long long)messages);
	snprintf(r, sizeof(r), "%lld", (long long)recipients);
	const char *row[] = { kind, name, m, r, since, reason ? reason : "" };
	cli_table_row(c->t, row);
}

int
cmd_sendlimit(struct cli *cli, int argc, char **argv)
{
	static const char *const opts[] = { "reason=", NULL };
	struct cli_args a;
	struct sendlimit *sl = NULL;
	const char *err = NULL;
	int r;

	if ((r = cli_parse(argc, argv, opts, &a)) != 0)
		return r;
	const char *verb = a.npos ? a.pos[0] : NULL;
	if (a.help || verb == NULL)
		return sendlimit_help(a.help ? 0 : EXIT_USAGE);
	bool list = strcmp(verb, "list") == 0;
	if (!list && strcmp(verb, "suspend") != 0 &&
	    strcmp(verb, "unsuspend") != 0 && strcmp(verb, "release") != 0)
		return cli_usage("unknown sendlimit command '%s' (see postern "
		    "sendlimit --help)", verb);
	if (a.npos != (list ? 1u : 2u))
		return cli_usage("usage: postern sendlimit %s%s", verb,
		    list ? "" : strcmp(verb, "release") == 0 ? " ID" :
		    " MAILBOX@POSTOFFICE");
	if ((r = cli_open(cli)) != 0)
		return r;
	if (sendlimit_open(db_root(cli->db), &sl, &err) < 0)
		return cli_error(EXIT_FAIL, "%s", err);
	time_t now = time(NULL);
	if (list) {
		const char *hdr[] = { "KIND", "NAME", "MESSAGES/H",
		    "RECIPIENTS/H", "SUSPENDED (UTC)", "REASON" };
		struct list_ctx c = { 0 };
		if (cli->json)
			c.arr = json_array();
		else
			c.t = cli_table_new(6, hdr);
		r = sendlimit_each(sl, now, list_one, &c);
		if (c.arr != NULL)
			cli_json_print(c.arr);
		else {
			if (c.n)
				cli_table_print(c.t);
			else
				printf("nothing sent in the last hour, nobody "
				    "suspended\n");
			cli_table_free(&c.t);
		}
		sendlimit_close(&sl);
		return r < 0 ? cli_error(EXIT_FAIL, "cannot read the counts") : 0;
	}
	const char *arg = a.pos[1];
	if (strcmp(verb, "release") == 0) {
		char *root = settings_queue_path(cli->db);
		r = qadm_sendlimit_release(root, sl, arg, now, &err);
		free(root);
		sendlimit_close(&sl);
		return r == ADM_OK ? 0 : r == ADM_NOTFOUND ? cli_error(EXIT_NOTFOUND,
		    "%s", err) : r == ADM_INVALID ? cli_usage("%s", err) :
		    cli_error(EXIT_FAIL, "%s", err);
	}
	struct dir_mailbox mb;
	if (dir_login_lookup(cli->db, arg, &mb, &err) != 1) {
		sendlimit_close(&sl);
		return cli_error(EXIT_NOTFOUND, "no mailbox %s", arg);
	}
	char *who = xasprintf("%s@%s", mb.name, mb.postoffice);
	if (strcmp(verb, "suspend") == 0) {
		const char *why = cli_opt(&a, "reason");
		r = sendlimit_suspend(sl, who, why ? why : "by the administrator",
		    now) < 0 ? cli_error(EXIT_FAIL, "cannot suspend %s", who) : 0;
	} else {
		int u = sendlimit_unsuspend(sl, who);
		r = u < 0 ? cli_error(EXIT_FAIL, "cannot unsuspend %s", who) :
		    u == 0 ? cli_error(EXIT_NOTFOUND, "%s is not suspended", who) :
		    0;
	}
	free(who);
	sendlimit_close(&sl);
	return r;
}
