/* cmd-maint - maintenance actions: email users, delete INBOX messages,
 * the default welcome message (see cmd-maint.h) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cmd-maint.h"
#include "directory.h"
#include "fsutil.h"
#include "maint.h"
#include "settings.h"
#include "store.h"
#include "strutil.h"
#include "xalloc.h"

#define MAINT_BODY_MAX (1024 * 1024)

/* mailboxes_of - the mailboxes selected: one (NAME@PO), a post office's,
 * or all; exit code */
static int
mailboxes_of(struct cli *cli, const char *po, const char *one, bool all,
	     struct dir_mailbox **mbs_r, size_t *n_r)
{
	const char *err = NULL;
	struct dir_mailbox *v = NULL;
	size_t n = 0;

	*mbs_r = NULL;
	*n_r = 0;
	if (one != NULL) {
		const char *at = strrchr(one, '@');
		char name[NAME_MAX_LEN + 1];
		if (at == NULL || (size_t)(at - one) > NAME_MAX_LEN)
			return cli_usage("'%s' is not NAME@POSTOFFICE", one);
		memcpy(name, one, (size_t)(at - one));
		name[at - one] = '\0';
		v = xcalloc(1, sizeof(*v));
		int r = dir_mailbox_find(cli->db, at + 1, name, v, &err);
		if (r <= 0) {
			free(v);
			return r < 0 ? cli_error(EXIT_FAIL, "%s", err) :
			    cli_error(EXIT_NOTFOUND, "no mailbox %s", one);
		}
		*mbs_r = v;
		*n_r = 1;
		return 0;
	}
	if (po != NULL) {
		struct dir_postoffice p;
		int r = dir_postoffice_get(cli->db, po, &p, &err);
		if (r <= 0)
			return r < 0 ? cli_error(EXIT_FAIL, "%s", err) :
			    cli_error(EXIT_NOTFOUND, "no post office %s", po);
	} else if (!all) {
		return cli_usage("give --postoffice PO, --mailbox NAME@PO or --all");
	}
	struct db_stmt *st = db_query(cli->db, &err, "SELECT m.id FROM mailbox m "
	    "JOIN postoffice p ON p.id = m.postoffice_id WHERE ? IS NULL OR "
	    "p.name = ? ORDER BY p.name, m.name", "tt", po, po);
	if (st == NULL)
		return cli_error(EXIT_FAIL, "%s", err);
	while (db_step(st, NULL) == DB_ROW) {
		v = xreallocarray(v, n + 1, sizeof(*v));
		if (dir_mailbox_get(cli->db, db_col_int(st, 0), &v[n],
		    &err) == 1)
			n++;
	}
	db_stmt_free(&st);
	*mbs_r = v;
	*n_r = n;
	return 0;
}

/* cmd_maint_email - email every user of a post office, or one */
int
cmd_maint_email(struct cli *cli, const char *kind, int argc, char **argv)
{
	static const char *const opts[] = { "subject=", "body-file=", "from=",
	    NULL };
	struct cli_args a;
	struct dir_mailbox *mbs = NULL;
	size_t n = 0, ok = 0;
	struct buf body;
	const char *err = NULL;
	int r;

	if ((r = cli_parse(argc, argv, opts, &a)) != 0)
		return r;
	const char *subject = cli_opt(&a, "subject"), *bf = cli_opt(&a, "body-file");
	const char *from = cli_opt(&a, "from");
	if (a.help || a.npos != 1 || subject == NULL || bf == NULL) {
		printf("usage: postern %s email %s --subject S --body-file F "
		    "[--from ADDRESS]\n", kind, strcmp(kind, "mailbox") == 0 ?
		    "NAME@PO" : "PO");
		return a.help ? 0 : EXIT_USAGE;
	}
	char *fa = NULL;
	if (from != NULL && (fa = address_normalize(from, &err)) == NULL)
		return cli_usage("--from '%s': %s", from, err);
	free(fa);
	buf_init(&body, MAINT_BODY_MAX);
	if (file_read(bf, &body) < 0) {
		buf_free(&body);
		return cli_error(EXIT_USAGE, "cannot read %s (at most 1 MB)", bf);
	}
	if ((r = cli_open(cli)) != 0 ||
	    (r = mailboxes_of(cli, strcmp(kind, "postoffice") == 0 ? a.pos[0] : NULL,
	    strcmp(kind, "mailbox") == 0 ? a.pos[0] : NULL, false, &mbs, &n)) != 0) {
		buf_free(&body);
		return r;
	}
	for (size_t i = 0; i < n; i++) {
		struct buf m;
		char *to = maint_mailbox_address(cli->db, &mbs[i]);
		buf_init(&m, 0);
		maint_message(cli->db, &m, from, to, subject, body.data, body.len);
		if (maint_put_inbox(cli->db, &mbs[i], &m, &err) < 0)
			fprintf(stderr, "postern: %s@%s: %s\n", mbs[i].name,
			    mbs[i].postoffice, err ? err : "error");
		else
			ok++;
		buf_free(&m);
		free(to);
	}
	if (cli->json) {
		json_t *o = json_object();
		json_object_set_new(o, "sent", json_integer((json_int_t)ok));
		json_object_set_new(o, "failed", json_integer((json_int_t)(n - ok)));
		cli_json_print(o);
	} else {
		printf("sent to %zu mailbox%s\n", ok, ok == 1 ? "" : "es");
	}
	free(mbs);
	buf_free(&body);
	return ok == n ? 0 : EXIT_PARTIAL;
}

/* parse_date - YYYY-MM-DD (UTC midnight) */
static int
parse_date(const char *s, time_t *t_r)
{
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	const char *end = strptime(s, "%Y-%m-%d", &tm);
	if (end == NULL || *end != '\0')
		return -1;
	*t_r = timegm(&tm);
	return 0;
}

/* cmd_messages - postern messages delete ... */
int
cmd_messages(struct cli *cli, int argc, char **argv)
{
	static const char *const opts[] = { "postoffice=", "mailbox=", "all",
	    "older-than=", "before=", "everything", CLI_YES_OPTION, NULL };
	struct cli_args a;
	struct dir_mailbox *mbs = NULL;
	size_t n = 0, total = 0, failed = 0;
	const char *err = NULL;
	time_t cutoff = 0;
	int r;

	if ((r = cli_parse(argc, argv, opts, &a)) != 0)
		return r;
	const char *po = cli_opt(&a, "postoffice"), *mb = cli_opt(&a, "mailbox");
	const char *older = cli_opt(&a, "older-than"), *before = cli_opt(&a, "before");
	bool all = cli_flag(&a, "all"), every = cli_flag(&a, "everything");
	if (a.help || a.npos != 1 || strcmp(a.pos[0], "delete") != 0) {
		printf("usage: postern messages delete --postoffice PO | --mailbox "
		    "NAME@PO | --all\n"
		    "                               --older-than DAYS | --before "
		    "YYYY-MM-DD | --everything [--yes]\n\n"
		    "Deletes INBOX messages (manual 5.3.9.7) by their arrival time,\n"
		    "through the mailbox index: IMAP sessions see them expunged and\n"
		    "the quota usage goes down. It counts what it will delete and\n"
		    "asks first, or needs --yes without a terminal.\n");
		return a.help ? 0 : EXIT_USAGE;
	}
	if ((po != NULL) + (mb != NULL) + all != 1)
		return cli_usage("give exactly one of --postoffice, --mailbox, --all");
	if ((older != NULL) + (before != NULL) + every != 1)
		return cli_usage("give exactly one of --older-than, --before, "
		    "--everything");
	if (older != NULL) {
		long long days;
		if (parse_long(older, 0, 100000, &days) < 0)
			return cli_usage("--older-than takes a number of days");
		cutoff = time(NULL) - (time_t)days * 86400;
	} else if (before != NULL && parse_date(before, &cutoff) < 0) {
		return cli_usage("--before takes a date YYYY-MM-DD");
	}
	if ((r = cli_open(cli)) != 0 ||
	    (r = mailboxes_of(cli, po, mb, all, &mbs, &n)) != 0)
		return r;
	/* say what goes and ask (or --yes) before anything is expunged */
	size_t would = 0, in = 0;
	int64_t would_bytes = 0, bytes = 0;
	for (size_t i = 0; i < n; i++) {
		char *root = dir_mailbox_path(cli->db, &mbs[i]);
		size_t k = 0;
		if (access(root, F_OK) == 0 &&
		    maint_inbox_delete(root, cutoff, every, true, &k, &bytes, &err) == 0 &&
		    k > 0) {
			would += k;
			would_bytes += bytes;
			in++;
		}
		free(root);
	}
	char *what = xasprintf("INBOX messages of %s", po ? po : mb ? mb :
	    "every post office");
	char *which = every ? xstrdup("(all)") : older ?
	    xasprintf("(older than %s days)", older) :
	    xasprintf("(before %s)", before);
	json_t *removal = cli_removal_new(what, which);
	free(what);
	free(which);
	cli_removal_count(removal, "messages", (long long)would);
	cli_removal_count(removal, "bytes", would_bytes);
	cli_removal_count(removal, "mailboxes", (long long)in);
	if (would > 0 && (r = cli_confirm(cli, &a, removal)) != 0) {
		json_decref(removal);
		free(mbs);
		return r;
	}
	json_decref(removal);
	json_t *arr = cli->json ? json_array() : NULL;
	for (size_t i = 0; i < n; i++) {
		char *root = dir_mailbox_path(cli->db, &mbs[i]);
		size_t k = 0;
		if (access(root, F_OK) != 0) {
			free(root);
			continue;   /* never delivered to */
		}
		if (maint_inbox_delete(root, cutoff, every, false, &k, &bytes, &err) < 0) {
			fprintf(stderr, "postern: %s@%s: %s\n", mbs[i].name,
			    mbs[i].postoffice, err ? err : "error");
			failed++;
		} else if (k > 0) {
			total += k;
			if (arr != NULL) {
				json_t *o = json_object();
				char *id = xasprintf("%s@%s", mbs[i].name, mbs[i].postoffice);
				json_object_set_new(o, "mailbox", json_string(id));
				json_object_set_new(o, "deleted", json_integer((json_int_t)k));
				json_array_append_new(arr, o);
				free(id);
			} else {
				printf("%s@%s: %zu deleted\n", mbs[i].name,
				    mbs[i].postoffice, k);
			}
		}
		free(root);
	}
	if (arr != NULL) {
		json_t *o = json_object();
		json_object_set_new(o, "deleted", json_integer((json_int_t)total));
		json_object_set_new(o, "mailboxes", arr);
		cli_json_print(o);
	} else {
		printf("%zu message%s deleted\n", total, total == 1 ? "" : "s");
	}
	free(mbs);
	return failed ? EXIT_PARTIAL : 0;
}

/* cli_welcome_deliver - see cmd-maint.h */
int
cli_welcome_deliver(struct cli *cli, const char *postoffice,
		    const char *mailbox)
{
	const char *err = NULL;

	if (maint_welcome_deliver(cli->db, postoffice, mailbox, &err) < 0) {
		fprintf(stderr, "postern: the welcome message of %s@%s: %s\n",
		    mailbox, postoffice, err ? err : "error");
		return -1;
	}
	return 0;
}

/* cmd_welcome - postern welcome show | set --file F | clear */
int
cmd_welcome(struct cli *cli, int argc, char **argv)
{
	static const char *const opts[] = { "file=", NULL };
	struct cli_args a;
	const char *err = NULL;
	int r;

	if ((r = cli_parse(argc, argv, opts, &a)) != 0)
		return r;
	const char *verb = a.npos ? a.pos[0] : NULL;
	if (a.help || verb == NULL || a.npos != 1) {
		printf("usage: postern welcome show | set --file F | clear\n\n"
		    "The default message put into the INBOX of each new mailbox\n"
		    "(manual 5.3.9.9; setting welcome.message). F is a message\n"
		    "(header, blank line, body) or plain text (sent with the\n"
		    "subject \"Welcome\").\n");
		return a.help ? 0 : EXIT_USAGE;
	}
	if ((r = cli_open(cli)) != 0)
		return r;
	if (strcmp(verb, "show") == 0) {
		const char *t = settings_current(cli->db)->welcome_message;
		if (cli->json) {
			json_t *o = json_object();
			json_object_set_new(o, "message", json_string(t));
			cli_json_print(o);
		} else {
			fputs(t, stdout);
			if (*t != '\0' && t[strlen(t) - 1] != '\n')
				putchar('\n');
		}
		return 0;
	}
	if (strcmp(verb, "clear") == 0)
		return settings_unset(cli->db, "welcome.message", &err) < 0 ?
		    cli_error(EXIT_FAIL, "%s", err) : 0;
	if (strcmp(verb, "set") == 0) {
		const char *f = cli_opt(&a, "file");
		struct buf b;
		if (f == NULL)
			return cli_usage("usage: postern welcome set --file F");
		buf_init(&b, 262144);
		if (file_read(f, &b) < 0) {
			buf_free(&b);
			return cli_error(EXIT_USAGE, "cannot read %s (at most 256 KB)", f);
		}
		r = settings_set(cli->db, "welcome.message", b.data ? b.data : "", &err);
		buf_free(&b);
		return r < 0 ? cli_error(EXIT_USAGE, "%s", err) : 0;
	}
	return cli_usage("usage: postern welcome show | set --file F | clear");
}
