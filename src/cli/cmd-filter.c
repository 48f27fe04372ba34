/* cmd-filter - postern filter: the Sieve scripts of a mailbox (lib-sieve
 * script store, shared with ManageSieve and deliver) */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cmd-gfilter.h"
#include "directory.h"
#include "fsutil.h"
#include "sieve.h"
#include "xalloc.h"

#define DEFAULT_NAME "postern"

/* read_script - FILE or "-" (stdin) into b; exit code or 0 */
static int
read_script(const char *path, struct buf *b)
{
	buf_init(b, SIEVE_SCRIPT_MAX + 1);
	if (strcmp(path, "-") == 0) {
		char chunk[65536];
		ssize_t n;
		while ((n = read(0, chunk, sizeof(chunk))) > 0)
			if (buf_append(b, chunk, (size_t)n) < 0) {
				errno = EFBIG;
				n = -1;
				break;
			}
		if (n == 0)
			return 0;
	} else if (file_read(path, b) == 0) {
		return 0;
	}
	if (errno == EFBIG) {
		fprintf(stderr, "1:1: script larger than %d bytes\n",
		    SIEVE_SCRIPT_MAX);
		return EXIT_USAGE;
	}
	return cli_error(EXIT_FAIL, "%s: %s", path, strerror(errno));
}

/* mailbox_root - the store root of NAME@PO; exit code or 0 */
static int
mailbox_root(struct cli *cli, const char *ident, char **root_r)
{
	struct dir_mailbox mb;
	const char *err = NULL;
	const char *at = strrchr(ident, '@');

	if (at == NULL || at == ident || at[1] == '\0')
		return cli_usage("a mailbox is NAME@POSTOFFICE, not %s", ident);
	char *name = xstrndup(ident, (size_t)(at - ident));
	int r = dir_mailbox_find(cli->db, at + 1, name, &mb, &err);
	free(name);
	if (r < 0)
		return cli_error(EXIT_FAIL, "%s", err ? err : "directory error");
	if (r == 0)
		return cli_error(EXIT_NOTFOUND, "no mailbox %s", ident);
	*root_r = dir_mailbox_path(cli->db, &mb);
	return 0;
}

static int
usage(bool help)
{
	printf("usage: postern filter set NAME@PO FILE [--name SCRIPT] [--inactive]\n"
	    "       postern filter show NAME@PO [--name SCRIPT]\n"
	    "       postern filter check FILE\n"
	    "       postern filter list NAME@PO\n"
	    "       postern filter activate NAME@PO SCRIPT\n"
	    "       postern filter deactivate NAME@PO\n"
	    "       postern filter delete NAME@PO SCRIPT\n\n"
	    "Mailbox filters in Sieve (RFC 5228) with the extensions:\n  %s\n"
	    "A mailbox holds several scripts (also edited over ManageSieve), one\n"
	    "active. 'set' checks the script (errors as line:col: message, exit\n"
	    "2), stores it (name \"" DEFAULT_NAME "\" by default; FILE - reads\n"
	    "standard input) and makes it active. 'show' prints the active\n"
	    "script.\n", sieve_extensions());
	return help ? 0 : EXIT_USAGE;
}

int
cmd_filter(struct cli *cli, int argc, char **argv)
{
	static const char *const opts[] = { "name=", "inactive", NULL };
	struct cli_args a;
	const char *err = NULL;
	char *root = NULL;
	int r;

	/* global MTA filters: their own options (cmd-gfilter.c) */
	if (argc > 1 && strcmp(argv[1], "global") == 0)
		return cmd_filter_global(cli, argc - 1, argv + 1);
	if ((r = cli_parse(argc, argv, opts, &a)) != 0)
		return r;
	const char *verb = a.npos ? a.pos[0] : NULL;
	if (a.help || verb == NULL)
		return usage(a.help);
	if (strcmp(verb, "check") == 0) {
		struct buf b;
		char *cerr = NULL;
		if (a.npos != 2)
			return cli_usage("usage: postern filter check FILE");
		if ((r = read_script(a.pos[1], &b)) != 0) {
			buf_free(&b);
			return r;
		}
		struct sieve_script *s = sieve_compile(b.data ? b.data : "", b.len,
		    &cerr);
		buf_free(&b);
		if (s == NULL) {
			fprintf(stderr, "%s\n", cerr);
			free(cerr);
			return EXIT_USAGE;
		}
		sieve_script_free(&s);
		printf("%s: ok\n", a.pos[1]);
		return 0;
	}
	if (a.npos < 2)
		return usage(false);
	if ((r = cli_open(cli)) != 0)
		return r;
	if ((r = mailbox_root(cli, a.pos[1], &root)) != 0)
		return r;
	const char *name = cli_opt(&a, "name") ? cli_opt(&a, "name") : DEFAULT_NAME;

	if (strcmp(verb, "set") == 0 && a.npos == 3) {
		struct buf b;
		char *cerr = NULL;
		if ((r = read_script(a.pos[2], &b)) != 0) {
			buf_free(&b);
			goto out;
		}
		if (sieve_store_put(root, name, b.data ? b.data : "", b.len, &cerr,
		    &err) < 0) {
			if (cerr != NULL) {
				fprintf(stderr, "%s\n", cerr);
				free(cerr);
				r = EXIT_USAGE;
			} else {
				r = cli_error(EXIT_FAIL, "%s", err);
			}
			buf_free(&b);
			goto out;
		}
		buf_free(&b);
		if (!cli_flag(&a, "inactive") &&
		    sieve_store_activate(root, name, &err) < 0) {
			r = cli_error(EXIT_FAIL, "%s", err);
			goto out;
		}
		printf("script %s of %s stored%s\n", name, a.pos[1],
		    cli_flag(&a, "inactive") ? "" : " and active");
	} else if (strcmp(verb, "show") == 0 && a.npos == 2) {
		char *text = NULL, *active = NULL;
		size_t len = 0;
		if (cli_opt(&a, "name") != NULL) {
			if (sieve_store_get(root, name, &text, &len, &err) < 0) {
				r = cli_error(EXIT_NOTFOUND, "%s: %s", name, err);
				goto out;
			}
		} else {
			int x = sieve_store_active(root, &text, &len, &active, &err);
			if (x < 0) {
				r = cli_error(EXIT_FAIL, "%s", err);
				goto out;
			}
			if (x == 0) {
				r = cli_error(EXIT_NOTFOUND, "%s has no active filter",
				    a.pos[1]);
				goto out;
			}
		}
		if (cli->json) {
			json_t *j = json_object();
			json_object_set_new(j, "name", json_string(active ? active : name));
			json_object_set_new(j, "script", json_stringn(text, len));
			cli_json_print(j);
		} else {
			fwrite(text, 1, len, stdout);
			if (len > 0 && text[len - 1] != '\n')
				putchar('\n');
		}
		free(text);
		free(active);
	} else if (strcmp(verb, "list") == 0 && a.npos == 2) {
		char **names = NULL, *active = NULL;
		size_t n = 0;
		if (sieve_store_list(root, &names, &n, &active, &err) < 0) {
			r = cli_error(EXIT_FAIL, "%s", err);
			goto out;
		}
		json_t *arr = cli->json ? json_array() : NULL;
		for (size_t i = 0; i < n; i++) {
			bool act = active && strcmp(active, names[i]) == 0;
			if (arr) {
				json_t *o = json_object();
				json_object_set_new(o, "name", json_string(names[i]));
				json_object_set_new(o, "active", json_boolean(act));
				json_array_append_new(arr, o);
			} else {
				printf("%s%s\n", names[i], act ? " (active)" : "");
			}
		}
		if (arr)
			cli_json_print(arr);
		sieve_store_list_free(names, n);
		free(active);
	} else if (strcmp(verb, "activate") == 0 && a.npos == 3) {
		if (sieve_store_activate(root, a.pos[2], &err) < 0)
			r = cli_error(EXIT_NOTFOUND, "%s: %s", a.pos[2], err);
	} else if (strcmp(verb, "deactivate") == 0 && a.npos == 2) {
		if (sieve_store_activate(root, NULL, &err) < 0)
			r = cli_error(EXIT_FAIL, "%s", err);
	} else if (strcmp(verb, "delete") == 0 && a.npos == 3) {
		if (sieve_store_delete(root, a.pos[2], &err) < 0)
			r = cli_error(strcmp(err, "no such script") == 0 ?
			    EXIT_NOTFOUND : EXIT_FAIL, "%s: %s", a.pos[2], err);
	} else {
		r = usage(false);
	}
out:
	free(root);
	return r;
}
