/* remove - what a destructive command would remove, counted before it
 * asks (cli_confirm) and printed after it is done (cli_removed) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "directory.h"
#include "remove.h"
#include "store.h"
#include "../deliver/postdeliver.h"

/* count - one count(*) query with an integer parameter into o as key */
static int
count(struct cli *cli, json_t *o, const char *key, const char *sql, int64_t id)
{
	const char *err;
	int64_t n;

	if (db_query_int(cli->db, &n, 0, &err, sql, "i", id) < 0)
		return cli_error(EXIT_FAIL, "%s", err);
	cli_removal_count(o, key, (long long)n);
	return 0;
}

/* count_postoffice - domains, mailboxes, groups, lists, messages, bytes */
static int
count_postoffice(struct cli *cli, int64_t id, bool keep_data, json_t *o)
{
	const char *err = NULL;
	int64_t bytes = 0, msgs = 0;
	int r;

	if ((r = count(cli, o, "domains", "SELECT count(*) FROM domain WHERE "
	    "postoffice_id = ?", id)) != 0 ||
	    (r = count(cli, o, "mailboxes", "SELECT count(*) FROM mailbox WHERE "
	    "postoffice_id = ?", id)) != 0 ||
	    (r = count(cli, o, "groups", "SELECT count(*) FROM grp WHERE "
	    "postoffice_id = ?", id)) != 0 ||
	    (r = count(cli, o, "lists", "SELECT count(*) FROM list WHERE "
	    "postoffice_id = ?", id)) != 0)
		return r;
	if (keep_data)
		return 0;
	if (usage_postoffice_bytes(cli->db, id, &bytes, &msgs, &err) < 0)
		return cli_error(EXIT_FAIL, "%s", err ? err : "counting the messages");
	cli_removal_count(o, "messages", msgs);
	cli_removal_count(o, "bytes", bytes);
	return 0;
}

/* count_mailbox - addresses, redirects, messages, bytes */
static int
count_mailbox(struct cli *cli, int64_t id, bool keep_data, json_t *o)
{
	struct dir_mailbox mb;
	const char *err = NULL;
	int64_t bytes = 0, msgs = 0;
	int r;

	if ((r = count(cli, o, "addresses", "SELECT count(*) FROM address WHERE "
	    "kind = 'mailbox' AND target_id = ?", id)) != 0)
		return r;
	if (keep_data)
		return 0;
	if (dir_mailbox_get(cli->db, id, &mb, &err) != 1)
		return cli_error(EXIT_FAIL, "%s", err ? err : "no such mailbox");
	char *root = dir_mailbox_path(cli->db, &mb);
	/* a mailbox never delivered to has no store yet: nothing to count */
	if (access(root, F_OK) == 0 &&
	    store_quota_usage(root, &bytes, &msgs, &err) < 0) {
		free(root);
		return cli_error(EXIT_FAIL, "%s", err ? err : "counting the messages");
	}
	free(root);
	cli_removal_count(o, "messages", msgs);
	cli_removal_count(o, "bytes", bytes);
	return 0;
}

int
cli_removal_of(struct cli *cli, enum adm_kind kind, const char *ident,
	       bool keep_data, json_t **removal_r)
{
	const char *err;
	int64_t id;
	int r;

	*removal_r = NULL;
	if ((r = adm_object_id(cli->db, kind, ident, &id, &err)) < 0)
		return cli_adm_exit(r, err);
	json_t *o = cli_removal_new(adm_kind_name(kind), ident);
	switch (kind) {
	case ADM_POSTOFFICE:
		r = count_postoffice(cli, id, keep_data, o);
		break;
	case ADM_DOMAIN:
		if ((r = count(cli, o, "addresses", "SELECT count(*) FROM address "
		    "WHERE domain_id = ? AND kind NOT IN ('group', 'list')", id)) == 0 &&
		    (r = count(cli, o, "groups", "SELECT count(*) FROM address WHERE "
		    "domain_id = ? AND kind = 'group'", id)) == 0)
			r = count(cli, o, "lists", "SELECT count(*) FROM list WHERE "
			    "domain_id = ?", id);
		break;
	case ADM_MAILBOX:
		r = count_mailbox(cli, id, keep_data, o);
		break;
	case ADM_GROUP:
		r = count(cli, o, "members", "SELECT count(*) FROM grp_member WHERE "
		    "group_id = ?", id);
		break;
	case ADM_LIST:
		r = count(cli, o, "members", "SELECT count(*) FROM list_member WHERE "
		    "list_id = ?", id);
		break;
	}
	if (r != 0) {
		json_decref(o);
		return r;
	}
	*removal_r = o;
	return 0;
}

int
cli_delete_object(struct cli *cli, enum adm_kind kind, const char *ident,
		  const struct cli_args *a)
{
	bool keep = cli_flag(a, "keep-data");
	const char *err;
	json_t *o;
	int r;

	if ((r = cli_removal_of(cli, kind, ident, keep, &o)) != 0)
		return r;
	if ((r = cli_confirm(cli, a, o)) != 0) {
		json_decref(o);
		return r;
	}
	switch (kind) {
	case ADM_POSTOFFICE: r = adm_postoffice_del(cli->db, ident, keep, &err); break;
	case ADM_DOMAIN: r = adm_domain_del(cli->db, ident, &err); break;
	case ADM_MAILBOX: r = adm_mailbox_del(cli->db, ident, keep, &err); break;
	case ADM_GROUP: r = adm_group_del(cli->db, ident, &err); break;
	case ADM_LIST: r = adm_list_del(cli->db, ident, &err); break;
	}
	if (r != ADM_OK) {
		json_decref(o);
		return cli_adm_exit(r, err);
	}
	cli_removed(cli, o);
	return 0;
}
