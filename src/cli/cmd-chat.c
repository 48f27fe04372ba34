/* cmd-chat - postern chat: the XMPP service's rooms, sessions and
 * archive (issue 18). Rooms and the archive are rows of the chat store
 * (<data root>/chat/chat.db, src/lib-chat/chat-store.c); xmppd sees a
 * change within a second (PRAGMA data_version) and applies it to the
 * live rooms. Sessions and live rooms come from xmppd's state file
 * <data root>/run/xmpp-state.json, rewritten within a second of a
 * change. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chat-store.h"
#include "cli.h"
#include "directory.h"
#include "fsutil.h"
#include "guest.h"
#include "settings.h"
#include "strutil.h"
#include "xalloc.h"
#include "xmppstate.h"

#define ROOM_LOCAL_MAX 256

static int
chat_help(int code)
{
	printf("usage: postern chat sessions\n"
	    "       postern chat rooms\n"
	    "       postern chat room create ROOM@conference.DOMAIN --owner "
	    "MAILBOX@PO\n"
	    "                                [--name TEXT] [--members-only]\n"
	    "       postern chat room destroy ROOM@conference.DOMAIN [--yes]\n"
	    "       postern chat archive\n"
	    "       postern chat archive prune --days N [--yes]\n"
	    "       postern chat guest invite ADDRESS --by USER@DOMAIN "
	    "[--days N]\n"
	    "       postern chat guest list [--by USER@DOMAIN]\n"
	    "       postern chat guest revoke GUEST-JID\n\n"
	    "sessions: the XMPP streams bound now (from the running xmppd).\n"
	    "rooms: persistent rooms (chat store) and live ones, with their\n"
	    "occupants. room create makes a persistent room owned by a mailbox\n"
	    "of the domain's post office; room destroy removes a room, its\n"
	    "affiliations and its archive (occupants are told). xmppd applies\n"
	    "both within a second. archive: messages kept (XEP-0313) and the\n"
	    "retention (postern config set xmpp.archive_days N; 0 keeps them);\n"
	    "archive prune removes messages older than N days now.\n"
	    "guest invite: an external contact for the user USER@DOMAIN (a\n"
	    "mailbox of DOMAIN's post office): ADDRESS gets a mail with a\n"
	    "temporary chat login guest~...@DOMAIN, valid N days (default\n"
	    "xmpp.guest_days); the guest chats with that user only. guest\n"
	    "list: invitations (ended ones for 30 days); guest revoke ends one\n"
	    "now (the guest's streams are closed within a second).\n");
	return code;
}

/* state_load - xmppd's state file, when xmppd runs */
static json_t *
state_load(struct cli *cli)
{
	return adm_xmpp_state(cli->root);
}

static int
store_open(struct cli *cli, struct chat_store **cs)
{
	const char *err;

	if (chat_store_open(cli->root, cs, &err) < 0)
		return cli_error(EXIT_FAIL, "%s", err);
	return 0;
}

static void
stamp_text(int64_t t, char *out, size_t n)
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (t <= 0 || gmtime_r(&tt, &tm) == NULL)
		snprintf(out, n, "-");
	else
		strftime(out, n, "%Y-%m-%d %H:%M:%S", &tm);
}

static int
sessions(struct cli *cli)
{
	json_t *st = state_load(cli);

	if (st == NULL)
		return cli_error(EXIT_FAIL, "xmppd is not running (no current "
		    "run/xmpp-state.json)");
	json_t *a = json_object_get(st, "sessions");
	if (cli->json) {
		cli_json_print(json_incref(a));
		json_decref(st);
		return 0;
	}
	static const char *const hdr[] = { "JID", "MAILBOX", "ADDRESS",
	    "SINCE (UTC)", "TLS", "AVAILABLE" };
	struct cli_table *t = cli_table_new(6, hdr);
	size_t i;
	json_t *e;
	json_array_foreach(a, i, e) {
		char since[32];
		stamp_text(json_integer_value(json_object_get(e, "since")),
		    since, sizeof(since));
		const char *row[] = {
			json_string_value(json_object_get(e, "jid")),
			json_string_value(json_object_get(e, "mailbox")),
			json_string_value(json_object_get(e, "address")),
			since,
			json_is_true(json_object_get(e, "tls")) ? "yes" : "no",
			json_is_true(json_object_get(e, "hibernating")) ?
			    "resumable" : json_is_true(json_object_get(e,
			    "available")) ? "yes" : "no",
		};
		cli_table_row(t, row);
	}
	cli_table_print(t);
	cli_table_free(&t);
	json_decref(st);
	return 0;
}

struct rooms_ctx {
	struct chat_store *cs;
	json_t *list;
};

static void
room_aff(void *ctx, const char *owner, const char *aff)
{
	json_t *o = ctx;

	if (strcmp(aff, "owner") == 0)
		json_array_append_new(json_object_get(o, "owners"),
		    json_string(owner));
	else if (strcmp(aff, "member") == 0 || strcmp(aff, "admin") == 0)
		json_object_set_new(o, "members", json_integer(
		    json_integer_value(json_object_get(o, "members")) + 1));
}

static void
room_row(void *ctx, const struct muc_row *r)
{
	struct rooms_ctx *rc = ctx;
	const char *err;
	json_t *o = json_pack("{s:s,s:b,s:i,s:s,s:b,s:b,s:[],s:i,s:I}",
	    "jid", r->jid, "persistent", 1, "occupants", 0, "name",
	    r->name ? r->name : "", "members_only", r->members_only,
	    "password", r->password != NULL && *r->password != '\0',
	    "owners", "members", 0, "messages",
	    (json_int_t)chat_muc_archived(rc->cs, r->jid));

	if (chat_muc_aff_load(rc->cs, r->jid, room_aff, o, &err) < 0)
		fprintf(stderr, "postern: %s\n", err);
	json_array_append_new(rc->list, o);
}

static int
rooms(struct cli *cli)
{
	struct chat_store *cs;
	const char *err;
	int r;

	if ((r = store_open(cli, &cs)) != 0)
		return r;
	struct rooms_ctx rc = { cs, json_array() };
	if (chat_muc_load(cs, room_row, &rc, &err) < 0) {
		chat_store_close(&cs);
		json_decref(rc.list);
		return cli_error(EXIT_FAIL, "%s", err);
	}
	chat_store_close(&cs);
	/* the live rooms: occupants, and the temporary ones */
	json_t *st = state_load(cli);
	size_t i, k;
	json_t *e, *o;
	json_array_foreach(st ? json_object_get(st, "rooms") : NULL, i, e) {
		const char *jid = json_string_value(json_object_get(e, "jid"));
		json_t *found = NULL;
		json_array_foreach(rc.list, k, o)
			if (strcmp(json_string_value(json_object_get(o, "jid")),
			    jid) == 0)
				found = o;
		if (found == NULL) {
			found = json_pack("{s:s,s:b,s:i,s:s,s:b,s:b,s:[],s:i,"
			    "s:i}", "jid", jid, "persistent", 0, "occupants", 0,
			    "name", "", "members_only", 0, "password", 0,
			    "owners", "members", 0, "messages", 0);
			json_array_append_new(rc.list, found);
		}
		json_object_set(found, "occupants", json_object_get(e,
		    "occupants"));
	}
	json_decref(st);
	if (cli->json) {
		cli_json_print(rc.list);
		return 0;
	}
	static const char *const hdr[] = { "ROOM", "PERSISTENT", "OCCUPANTS",
	    "MEMBERS-ONLY", "PASSWORD", "OWNERS", "MESSAGES" };
	struct cli_table *t = cli_table_new(7, hdr);
	json_array_foreach(rc.list, i, o) {
		char occ[24], msgs[24];
		struct buf owners;
		buf_init(&owners, 0);
		json_t *w;
		json_array_foreach(json_object_get(o, "owners"), k, w) {
			if (k > 0)
				buf_puts(&owners, ",");
			buf_puts(&owners, json_string_value(w));
		}
		snprintf(occ, sizeof(occ), "%lld", (long long)
		    json_integer_value(json_object_get(o, "occupants")));
		snprintf(msgs, sizeof(msgs), "%lld", (long long)
		    json_integer_value(json_object_get(o, "messages")));
		const char *row[] = {
			json_string_value(json_object_get(o, "jid")),
			json_is_true(json_object_get(o, "persistent")) ? "yes" :
			    "no",
			occ,
			json_is_true(json_object_get(o, "members_only")) ?
			    "yes" : "no",
			json_is_true(json_object_get(o, "password")) ? "yes" :
			    "no",
			owners.len > 0 ? owners.data : "-",
			msgs,
		};
		cli_table_row(t, row);
		buf_free(&owners);
	}
	cli_table_print(t);
	cli_table_free(&t);
	json_decref(rc.list);
	return 0;
}

/* room_jid - ROOM@conference.DOMAIN, lower-cased into jid; the domain's
 * directory row */
static int
room_jid(struct cli *cli, const char *arg, char **jid_r, struct dir_domain *d)
{
	const char *at = strchr(arg, '@');
	const char *err;
	static const char prefix[] = "conference.";

	if (at == NULL || at == arg || (size_t)(at - arg) > ROOM_LOCAL_MAX ||
	    strncasecmp(at + 1, prefix, sizeof(prefix) - 1) != 0)
		return cli_usage("'%s' is not a room JID ROOM@conference.DOMAIN",
		    arg);
	for (const char *p = arg; p < at; p++)
		/* RFC 7622 3.3.1: not in a localpart */
		if ((unsigned char)*p <= ' ' || strchr("\"&'/:<>@", *p) != NULL ||
		    *p == 0x7f)
			return cli_usage("'%s': a room name without spaces, "
			    "control characters or \"&'/:<>@", arg);
	const char *dom = at + 1 + sizeof(prefix) - 1;
	int r = dir_domain_get(cli->db, dom, d, &err);
	if (r < 0)
		return cli_error(EXIT_FAIL, "%s", err);
	if (r == 0)
		return cli_error(EXIT_NOTFOUND, "no domain '%s' here", dom);
	*jid_r = xstrdup(arg);
	str_lower(*jid_r);
	return 0;
}

struct find_ctx {
	const char *jid;
	bool found;
};

static void
find_row(void *ctx, const struct muc_row *r)
{
	struct find_ctx *f = ctx;

	if (strcmp(r->jid, f->jid) == 0)
		f->found = true;
}

static void
no_flush(void *ctx)
{
	(void)ctx;
}

static int
room_create(struct cli *cli, const struct cli_args *a)
{
	const char *owner = cli_opt(a, "owner"), *err;
	struct dir_domain d;
	struct dir_mailbox mb;
	struct chat_store *cs;
	char *jid = NULL;
	int r;

	if (a->npos != 3 || owner == NULL)
		return cli_usage("usage: postern chat room create "
		    "ROOM@conference.DOMAIN --owner MAILBOX@PO [--name TEXT] "
		    "[--members-only]");
	const char *name = cli_opt(a, "name") ? cli_opt(a, "name") : "";
	if (strlen(name) > 256)
		return cli_usage("--name: at most 256 bytes");
	if ((r = room_jid(cli, a->pos[2], &jid, &d)) != 0)
		return r;
	const char *oat = strchr(owner, '@');
	char *mname = oat ? xstrndup(owner, (size_t)(oat - owner)) : NULL;
	if (oat == NULL || strcasecmp(oat + 1, d.postoffice) != 0 ||
	    (r = dir_mailbox_find(cli->db, d.postoffice, mname, &mb, &err)) ==
	    0) {
		free(mname);
		free(jid);
		return cli_error(EXIT_NOTFOUND, "--owner '%s' is not a mailbox "
		    "of post office '%s' (MAILBOX@%s)", owner, d.postoffice,
		    d.postoffice);
	}
	free(mname);
	if (r < 0) {
		free(jid);
		return cli_error(EXIT_FAIL, "%s", err);
	}
	if ((r = store_open(cli, &cs)) != 0) {
		free(jid);
		return r;
	}
	struct find_ctx f = { jid, false };
	if (chat_muc_load(cs, find_row, &f, &err) < 0 || f.found) {
		r = f.found ? cli_error(EXIT_EXISTS, "room %s exists", jid) :
		    cli_error(EXIT_FAIL, "%s", err);
		chat_store_close(&cs);
		free(jid);
		return r;
	}
	char *o = xasprintf("%s@%s", mb.name, mb.postoffice);
	str_lower(o);
	struct muc_row row = { jid, d.postoffice_id, name, "",
	    cli_flag(a, "members-only"), "" };
	/* one transaction: xmppd sees the room with its owner */
	chat_store_batch(cs, no_flush, NULL);
	if (chat_muc_put(cs, &row, &err) < 0 || chat_muc_aff_set(cs, jid, o,
	    "owner", &err) < 0 || chat_store_flush(cs, &err) < 0)
		r = cli_error(EXIT_FAIL, "%s", err);
	else if (cli->json)
		cli_json_print(json_pack("{s:s,s:s,s:s,s:b}", "jid", jid, "owner",
		    o, "name", name, "members_only", row.members_only));
	chat_store_close(&cs);
	free(o);
	free(jid);
	return r;
}

static int
room_destroy(struct cli *cli, const struct cli_args *a)
{
	struct dir_domain d;
	struct chat_store *cs;
	const char *err;
	char *jid = NULL;
	int r;

	if (a->npos != 3)
		return cli_usage("usage: postern chat room destroy "
		    "ROOM@conference.DOMAIN [--yes]");
	if ((r = room_jid(cli, a->pos[2], &jid, &d)) != 0)
		return r;
	if ((r = store_open(cli, &cs)) != 0) {
		free(jid);
		return r;
	}
	struct find_ctx f = { jid, false };
	if (chat_muc_load(cs, find_row, &f, &err) < 0 || !f.found) {
		r = !f.found ? cli_error(EXIT_NOTFOUND, "no persistent room %s "
		    "(a temporary room goes with its last occupant)", jid) :
		    cli_error(EXIT_FAIL, "%s", err);
		goto out;
	}
	json_t *o = cli_removal_new("chat room", jid);
	cli_removal_count(o, "messages", (long long)chat_muc_archived(cs, jid));
	if ((r = cli_confirm(cli, a, o)) != 0) {
		json_decref(o);
		goto out;
	}
	chat_store_batch(cs, no_flush, NULL);
	if (chat_muc_delete(cs, jid, &err) < 0 || chat_store_flush(cs, &err) <
	    0) {
		json_decref(o);
		r = cli_error(EXIT_FAIL, "%s", err);
		goto out;
	}
	cli_removed(cli, o);
out:
	chat_store_close(&cs);
	free(jid);
	return r;
}

static int
archive(struct cli *cli, const struct cli_args *a)
{
	struct chat_store *cs;
	const char *err;
	int64_t count = 0, oldest = 0, owners = 0;
	int r;

	if (a->npos == 1) {
		if ((r = store_open(cli, &cs)) != 0)
			return r;
		if (chat_archive_stats(cs, &count, &oldest, &owners, &err) < 0) {
			chat_store_close(&cs);
			return cli_error(EXIT_FAIL, "%s", err);
		}
		chat_store_close(&cs);
		int64_t days = settings_current(cli->db)->xmpp_archive_days;
		char when[32];
		stamp_text(oldest, when, sizeof(when));
		if (cli->json)
			cli_json_print(json_pack("{s:I,s:I,s:s,s:I}", "messages",
			    (json_int_t)count, "owners", (json_int_t)owners,
			    "oldest", oldest > 0 ? when : "", "retention_days",
			    (json_int_t)days));
		else {
			printf("messages: %lld (of %lld users and rooms)\n"
			    "oldest: %s UTC\n", (long long)count,
			    (long long)owners, when);
			if (days > 0)
				printf("retention: %lld days (xmpp.archive_days)\n",
				    (long long)days);
			else
				printf("retention: kept (xmpp.archive_days 0; at "
				    "most %d per user)\n", CHAT_ARCHIVE_MAX);
		}
		return 0;
	}
	if (a->npos != 2 || strcmp(a->pos[1], "prune") != 0)
		return cli_usage("usage: postern chat archive [prune --days N "
		    "[--yes]]");
	long long days;
	const char *dv = cli_opt(a, "days");
	if (dv == NULL || parse_long(dv, 0, 36500, &days) < 0)
		return cli_usage("--days N: a number of days, 0 to 36500");
	int64_t before = (int64_t)time(NULL) - (int64_t)days * 86400, n;
	if ((r = store_open(cli, &cs)) != 0)
		return r;
	char *what = xasprintf("messages older than %lld days", days);
	json_t *o = cli_removal_new("chat archive", what);
	free(what);
	cli_removal_count(o, "messages", (long long)chat_archive_older(cs,
	    before));
	if ((r = cli_confirm(cli, a, o)) != 0) {
		json_decref(o);
		chat_store_close(&cs);
		return r;
	}
	if (chat_archive_prune(cs, before, &n, &err) < 0) {
		json_decref(o);
		chat_store_close(&cs);
		return cli_error(EXIT_FAIL, "%s", err);
	}
	/* what went (xmppd may have added or pruned meanwhile) */
	json_object_set_new(o, "messages", json_integer((json_int_t)n));
	cli_removed(cli, o);
	chat_store_close(&cs);
	return 0;
}

/* inviter_find - --by USER@DOMAIN: a mailbox of the domain's post
 * office; *jid_r and *owner_r new strings */
static int
inviter_find(struct cli *cli, const char *by, char **jid_r, char **owner_r,
	     struct dir_domain *d)
{
	const char *at = by != NULL ? strchr(by, '@') : NULL;
	struct dir_mailbox mb;
	const char *err;
	int r;

	if (at == NULL || at == by)
		return cli_usage("--by USER@DOMAIN: the inviting user's chat "
		    "address");
	if ((r = dir_domain_get(cli->db, at + 1, d, &err)) <= 0)
		return r < 0 ? cli_error(EXIT_FAIL, "%s", err) :
		    cli_error(EXIT_NOTFOUND, "no domain '%s' here", at + 1);
	char *local = xstrndup(by, (size_t)(at - by));
	r = dir_mailbox_find(cli->db, d->postoffice, local, &mb, &err);
	free(local);
	if (r <= 0)
		return r < 0 ? cli_error(EXIT_FAIL, "%s", err) :
		    cli_error(EXIT_NOTFOUND, "'%s' is not a mailbox of post "
		    "office '%s'", by, d->postoffice);
	*jid_r = xasprintf("%s@%s", mb.name, d->name);
	*owner_r = xasprintf("%s@%s", mb.name, mb.postoffice);
	str_lower(*jid_r);
	str_lower(*owner_r);
	return 0;
}

static int
guest_invite_cmd(struct cli *cli, const struct cli_args *a)
{
	struct dir_domain d;
	struct chat_store *cs;
	struct chat_guest g;
	char *jid = NULL, *owner = NULL;
	const char *err;
	bool internal;
	long long days = settings_current(cli->db)->xmpp_guest_days;
	const char *dv = cli_opt(a, "days");
	int r;

	if (a->npos != 3)
		return cli_usage("usage: postern chat guest invite ADDRESS --by "
		    "USER@DOMAIN [--days N]");
	if (dv != NULL && parse_long(dv, 1, GUEST_DAYS_MAX, &days) < 0)
		return cli_usage("--days N: 1 to %d", GUEST_DAYS_MAX);
	if ((r = inviter_find(cli, cli_opt(a, "by"), &jid, &owner, &d)) != 0)
		return r;
	if ((r = store_open(cli, &cs)) != 0)
		goto out;
	struct guest_inviter inv = { owner, jid, d.name, d.postoffice,
	    d.postoffice_id };
	chat_store_batch(cs, no_flush, NULL);
	if (guest_invite(cli->db, cs, &inv, a->pos[2], (int)days, &g,
	    &internal, &err) < 0) {
		r = cli_error(internal ? EXIT_FAIL : EXIT_USAGE, "%s", err);
		chat_store_close(&cs);
		goto out;
	}
	chat_store_close(&cs);
	char until[32];
	stamp_text(g.expires, until, sizeof(until));
	if (cli->json)
		cli_json_print(json_pack("{s:s,s:s,s:s,s:s}", "jid", g.jid,
		    "address", g.address, "inviter", jid, "expires", until));
	else
		printf("invited %s as %s, contact of %s until %s UTC (the login "
		    "is in the mail queued to %s)\n", g.address, g.jid, jid,
		    until, g.address);
	chat_guest_clear(&g);
out:
	free(jid);
	free(owner);
	return r;
}

static int
guest_list_cmd(struct cli *cli, const struct cli_args *a)
{
	struct dir_domain d;
	struct chat_store *cs;
	struct chat_guest *g;
	size_t n;
	char *jid = NULL, *owner = NULL;
	const char *err;
	int r;

	if (a->npos != 2)
		return cli_usage("usage: postern chat guest list [--by "
		    "USER@DOMAIN]");
	if (cli_opt(a, "by") != NULL && (r = inviter_find(cli, cli_opt(a,
	    "by"), &jid, &owner, &d)) != 0)
		return r;
	if ((r = store_open(cli, &cs)) != 0)
		goto out;
	if (chat_guest_list(cs, owner, &g, &n, &err) < 0) {
		r = cli_error(EXIT_FAIL, "%s", err);
		chat_store_close(&cs);
		goto out;
	}
	chat_store_close(&cs);
	int64_t now = (int64_t)time(NULL);
	json_t *list = json_array();
	for (size_t i = 0; i < n; i++) {
		char created[32], until[32];
		stamp_text(g[i].created, created, sizeof(created));
		stamp_text(g[i].expires, until, sizeof(until));
		json_array_append_new(list, json_pack("{s:s,s:s,s:s,s:s,s:s,"
		    "s:s}", "jid", g[i].jid, "address", g[i].address,
		    "inviter", g[i].inviter_jid, "created", created, "expires",
		    until, "status", g[i].ended ? g[i].reason :
		    g[i].expires <= now ? "expired" : "active"));
	}
	chat_guest_free(&g, n);
	if (cli->json)
		cli_json_print(list);
	else {
		static const char *const hdr[] = { "GUEST", "ADDRESS",
		    "INVITED BY", "CREATED (UTC)", "EXPIRES (UTC)", "STATUS" };
		struct cli_table *t = cli_table_new(6, hdr);
		size_t i;
		json_t *o;
		json_array_foreach(list, i, o) {
			const char *row[] = {
				json_string_value(json_object_get(o, "jid")),
				json_string_value(json_object_get(o, "address")),
				json_string_value(json_object_get(o, "inviter")),
				json_string_value(json_object_get(o, "created")),
				json_string_value(json_object_get(o, "expires")),
				json_string_value(json_object_get(o, "status")),
			};
			cli_table_row(t, row);
		}
		cli_table_print(t);
		cli_table_free(&t);
		json_decref(list);
	}
out:
	free(jid);
	free(owner);
	return r;
}

static int
guest_revoke_cmd(struct cli *cli, const struct cli_args *a)
{
	struct chat_store *cs;
	struct chat_guest *g;
	size_t n;
	const char *err;
	int r, ended = 0;

	if (a->npos != 3)
		return cli_usage("usage: postern chat guest revoke GUEST-JID");
	if ((r = store_open(cli, &cs)) != 0)
		return r;
	if (chat_guest_list(cs, NULL, &g, &n, &err) < 0) {
		chat_store_close(&cs);
		return cli_error(EXIT_FAIL, "%s", err);
	}
	chat_store_batch(cs, no_flush, NULL);
	for (size_t i = 0; i < n && ended >= 0; i++)
		if (strcasecmp(g[i].jid, a->pos[2]) == 0 && g[i].ended == 0) {
			int e = chat_guest_end(cs, g[i].owner, "revoked",
			    (int64_t)time(NULL), &err);
			ended = e < 0 ? -1 : ended + e;
		}
	chat_guest_free(&g, n);
	if (ended < 0 || chat_store_flush(cs, &err) < 0)
		r = cli_error(EXIT_FAIL, "%s", err);
	else if (ended == 0)
		r = cli_error(EXIT_NOTFOUND, "no active invitation '%s' (see "
		    "postern chat guest list)", a->pos[2]);
	else if (cli->json)
		cli_json_print(json_pack("{s:s,s:s}", "jid", a->pos[2],
		    "status", "revoked"));
	else
		printf("revoked %s (its chat streams close within a second)\n",
		    a->pos[2]);
	chat_store_close(&cs);
	return r;
}

int
cmd_chat(struct cli *cli, int argc, char **argv)
{
	static const char *const opts[] = { "owner=", "name=", "members-only",
		"days=", "by=", CLI_YES_OPTION, NULL };
	struct cli_args a;
	const char *verb;
	int r;

	if ((r = cli_parse(argc, argv, opts, &a)) != 0)
		return r;
	verb = a.npos > 0 ? a.pos[0] : NULL;
	if (a.help || verb == NULL)
		return chat_help(a.help ? 0 : EXIT_USAGE);
	if ((r = cli_open(cli)) != 0)
		return r;
	if (strcmp(verb, "sessions") == 0 && a.npos == 1)
		return sessions(cli);
	if (strcmp(verb, "rooms") == 0 && a.npos == 1)
		return rooms(cli);
	if (strcmp(verb, "room") == 0 && a.npos >= 2 &&
	    strcmp(a.pos[1], "create") == 0)
		return room_create(cli, &a);
	if (strcmp(verb, "room") == 0 && a.npos >= 2 &&
	    strcmp(a.pos[1], "destroy") == 0)
		return room_destroy(cli, &a);
	if (strcmp(verb, "archive") == 0)
		return archive(cli, &a);
	if (strcmp(verb, "guest") == 0 && a.npos >= 2) {
		if (strcmp(a.pos[1], "invite") == 0)
			return guest_invite_cmd(cli, &a);
		if (strcmp(a.pos[1], "list") == 0)
			return guest_list_cmd(cli, &a);
		if (strcmp(a.pos[1], "revoke") == 0)
			return guest_revoke_cmd(cli, &a);
	}
	return cli_usage("unknown chat command '%s' (see postern chat --help)",
	    verb);
}
