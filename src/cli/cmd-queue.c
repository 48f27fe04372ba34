/* cmd-queue - postern queue (list, show, retry, delete, release) and
 * postern track: the operator's view of the connector queues */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "cli.h"
#include "fsutil.h"
#include "qadmin.h"
#include "admin.h"
#include "queue.h"
#include "settings.h"
#include "strutil.h"
#include "xalloc.h"

struct list_ctx {
	json_t *arr;
	struct cli_table *t;
	const char *filter;   /* only this queue label, or NULL */
	size_t count;
};

static int
list_one(const struct qadm_ref *ref, void *arg)
{
	struct list_ctx *c = arg;

	if (c->filter != NULL && strcmp(c->filter, ref->label) != 0)
		return 0;
	json_t *o = qadm_item_json(ref, false);
	c->count++;
	if (c->arr != NULL) {
		json_array_append_new(c->arr, o);
		return 0;
	}
	char when[32], sz[32], nr[16];
	time_t t = json_integer_value(json_object_get(o, "arrival"));
	struct tm tm;
	json_t *rc = json_object_get(o, "recipients"), *r0 = json_array_get(rc, 0);
	const char *sender = json_string_value(json_object_get(o, "sender"));
	const char *last = json_string_value(json_object_get(r0, "last_error"));
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
	snprintf(sz, sizeof(sz), "%lld", (long long)json_integer_value(
	    json_object_get(o, "size")));
	snprintf(nr, sizeof(nr), "%zu", json_array_size(rc));
	if (last == NULL)
		last = json_string_value(json_object_get(o, "error"));
	if (last == NULL)
		last = json_string_value(json_object_get(o, "reason"));
	const char *first = json_string_value(json_object_get(r0, "address"));
	const char *state = json_is_true(json_object_get(o, "held")) ? "held" :
	    ref->state;   /* held by the outbound limits (sendlimit) */
	const char *row[] = { ref->id, ref->label, state, when,
	    sender && *sender ? sender : "<>", first ? first : "",
	    nr, sz, last ? last : "" };
	cli_table_row(c->t, row);
	json_decref(o);
	return 0;
}

static int
queue_show(struct cli *cli, const char *root, const char *id)
{
	struct qadm_ref ref;

	if (!qadm_find(root, id, &ref))
		return cli_error(EXIT_NOTFOUND, "no queue item %s", id);
	json_t *o = qadm_item_json(&ref, true);
	qadm_ref_free(&ref);
	if (cli->json) {
		cli_json_print(o);
		return 0;
	}
	const char *err = json_string_value(json_object_get(o, "error"));
	if (err != NULL) {
		json_decref(o);
		return cli_error(EXIT_FAIL, "%s: %s", id, err);
	}
#define S(k) (json_string_value(json_object_get(o, k)))
	printf("id:       %s\nqueue:    %s (%s)\nsender:   <%s>\n", id,
	    S("queue"), S("state"), S("sender"));
	printf("client:   %s %s\nauth:     %s\n", S("client") ? S("client") : "-",
	    S("client_helo") ? S("client_helo") : "",
	    S("auth_user") ? S("auth_user") : "-");
	if (S("origin") != NULL)
		printf("origin:   %s\n", S("origin"));
	if (S("reason") != NULL)
		printf("reason:   %s", S("reason"));
	size_t i;
	json_t *x;
	json_array_foreach(json_object_get(o, "recipients"), i, x) {
		const char *le = json_string_value(json_object_get(x, "last_error"));
		printf("rcpt:     %s  %s  attempts %lld%s%s\n",
		    json_string_value(json_object_get(x, "address")),
		    json_string_value(json_object_get(x, "status")),
		    (long long)json_integer_value(json_object_get(x, "attempts")),
		    le ? "  " : "", le ? le : "");
	}
	printf("\n%s", S("headers"));
#undef S
	json_decref(o);
	return 0;
}

/* queue_act - retry, delete or release one item (qadm_act); delete says
 * what is lost and asks (or --yes), like every command that removes mail */
static int
queue_act(struct cli *cli, const struct cli_args *a, const char *root,
	  const char *verb, const char *id)
{
	struct qadm_ref ref;
	json_t *removal = NULL;
	const char *err;
	int r;

	if (!qadm_find(root, id, &ref))
		return cli_error(EXIT_NOTFOUND, "no queue item %s", id);
	if (strcmp(verb, "delete") == 0 && strcmp(ref.state, "active") != 0) {
		long long size = qadm_msg_size(&ref);
		removal = cli_removal_new("queue item", id);
		cli_removal_count(removal, "messages", 1);
		cli_removal_count(removal, "bytes", size > 0 ? size : 0);
		if ((r = cli_confirm(cli, a, removal)) != 0) {
			json_decref(removal);
			qadm_ref_free(&ref);
			return r;
		}
	}
	r = qadm_act(root, &ref, verb, &err);
	qadm_ref_free(&ref);
	if (r != ADM_OK) {
		json_decref(removal);
		return cli_error(r == ADM_INVALID ? EXIT_USAGE : EXIT_FAIL, "%s",
		    err);
	}
	if (removal != NULL)
		cli_removed(cli, removal);
	return 0;
}

int
cmd_queue(struct cli *cli, int argc, char **argv)
{
	static const char *const opts[] = { "queue=", CLI_YES_OPTION, NULL };
	struct cli_args a;
	int r;

	if ((r = cli_parse(argc, argv, opts, &a)) != 0)
		return r;
	const char *verb = a.npos ? a.pos[0] : NULL;
	if (a.help || verb == NULL) {
		printf("usage: postern queue list [QUEUE]   (QUEUE: badmail, smtp/outgoing, ...;\n"
		    "                                     also --queue QUEUE)\n"
		    "       postern queue show ID\n"
		    "       postern queue retry ID     (deferred recipients: now)\n"
		    "       postern queue delete ID [--yes]   (asks on a terminal)\n"
		    "       postern queue release ID   (bad mail back to the MTA)\n\n"
		    "The connector queues (smtp, sf = post office, ls = list server,\n"
		    "pr = POP retrieval; inbound and outgoing, relative to the MTA)\n"
		    "and the bad-mail quarantine. Items a service is processing are\n"
		    "shown as active and are not changed.\n");
		return a.help ? 0 : EXIT_USAGE;
	}
	if ((r = cli_open(cli)) != 0)
		return r;
	char *root = settings_queue_path(cli->db);
	if (strcmp(verb, "list") == 0) {
		const char *hdr[] = { "ID", "QUEUE", "STATE", "ARRIVED (UTC)", "SENDER",
		    "RECIPIENT", "RCPTS", "SIZE", "LAST ERROR" };
		struct list_ctx c = { .filter = cli_opt(&a, "queue") };
		/* `queue list badmail` (what diag advises) = --queue badmail */
		if (c.filter == NULL && a.npos == 2)
			c.filter = a.pos[1];
		if (a.npos > 2 || (a.npos == 2 && cli_opt(&a, "queue") != NULL)) {
			free(root);
			return cli_usage("usage: postern queue list [QUEUE | --queue QUEUE]");
		}
		if (c.filter != NULL && !qadm_queue_valid(c.filter)) {
			free(root);
			return cli_usage("unknown queue '%s': give badmail or CONN/inbound "
			    "or CONN/outgoing with CONN one of smtp, sf, ls, pr", c.filter);
		}
		if (cli->json)
			c.arr = json_array();
		else
			c.t = cli_table_new(9, hdr);
		qadm_each(root, list_one, &c);
		if (c.arr)
			cli_json_print(c.arr);
		else {
			if (c.count)
				cli_table_print(c.t);
			else
				printf("the queues are empty\n");
			cli_table_free(&c.t);
		}
		free(root);
		return 0;
	}
	if (a.npos != 2) {
		free(root);
		return cli_usage("usage: postern queue %s ID", verb);
	}
	if (strcmp(verb, "show") == 0)
		r = queue_show(cli, root, a.pos[1]);
	else if (!strcmp(verb, "retry") || !strcmp(verb, "delete") || !strcmp(verb, "release"))
		r = queue_act(cli, &a, root, verb, a.pos[1]);
	else
		r = cli_usage("unknown queue command '%s' (see postern queue --help)", verb);
	free(root);
	return r;
}

int
cmd_track(struct cli *cli, int argc, char **argv)
{
	struct cli_args a;
	const char *err;
	int r;

	if ((r = cli_parse(argc, argv, NULL, &a)) != 0)
		return r;
	if (a.help || a.npos != 1) {
		printf("usage: postern track QUEUE-ID | MESSAGE-ID | ADDRESS\n\n"
		    "Prints a message's path through every service (smtpd, mta,\n"
		    "deliver, smtp-out, ...) from their logs, in time order, and\n"
		    "where it is now if it is still queued. A Message-ID or an\n"
		    "address finds every queue id it appears with.\n");
		return a.help ? 0 : EXIT_USAGE;
	}
	if (cli->root == NULL)
		return cli_error(EXIT_NOROOT, "no data root: give -d DIR or set POSTERN_DIR");
	const char *key = a.pos[0];
	char *qroot = cli_open(cli) == 0 ? settings_queue_path(cli->db) : NULL;
	json_t *o = qadm_track(cli->root, qroot, key, QADM_TRACK_LOG_MAX, &err);
	free(qroot);
	if (o == NULL)
		return cli_error(EXIT_NOROOT, "%s", err);
	json_t *log = json_object_get(o, "log"), *now = json_object_get(o, "queued");
	bool found = json_array_size(log) > 0 || json_array_size(now) > 0;
	size_t k;
	json_t *it;
	if (cli->json) {
		json_incref(o);
		cli_json_print(o);
	} else {
		json_array_foreach(log, k, it)
			printf("%s\n", json_string_value(it));
		json_array_foreach(now, k, it)
			printf("now: %s in %s (%s)\n",
			    json_string_value(json_object_get(it, "id")),
			    json_string_value(json_object_get(it, "queue")),
			    json_string_value(json_object_get(it, "state")));
	}
	json_decref(o);
	if (!found)
		return cli_error(EXIT_NOTFOUND, "%s not found: no log line (rotated "
		    "logs included) and no queued item mentions it", key);
	return 0;
}
