/* cmd-users - postern users import|export (manual 5.3.9.2, 5.3.9.4) */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cmd-maint.h"
#include "csv.h"
#include "fsutil.h"
#include "strutil.h"
#include "users.h"
#include "xalloc.h"

struct import_ctx {
	struct cli *cli;
	FILE *passwords;
	bool tty;
	json_t *errors;
};

static void
on_progress(void *ctx, size_t done, size_t total)
{
	struct import_ctx *c = ctx;

	if (c->tty)
		fprintf(stderr, "\rimporting: %zu/%zu", done, total);
}

static void
on_hash_progress(void *ctx, size_t done, size_t total)
{
	struct import_ctx *c = ctx;

	if (c->tty)
		fprintf(stderr, "\rhashing passwords: %zu/%zu%s", done, total,
		    done == total ? "\n" : "");
}

static void
on_row_error(void *ctx, size_t line, const char *message)
{
	struct import_ctx *c = ctx;

	if (c->tty)
		fputc('\n', stderr);
	fprintf(stderr, "postern: line %zu: %s\n", line, message);
	if (c->errors != NULL) {
		json_t *o = json_object();
		json_object_set_new(o, "line", json_integer((json_int_t)line));
		json_object_set_new(o, "error", json_string(message));
		json_array_append_new(c->errors, o);
	}
}

static void
on_generated(void *ctx, const char *address, const char *password)
{
	struct import_ctx *c = ctx;
	struct buf line;

	buf_init(&line, 0);
	csv_put_field(&line, address, ',');
	buf_putc(&line, ',');
	csv_put_field(&line, password, ',');
	buf_puts(&line, "\n");
	fwrite(line.data, 1, line.len, c->passwords ? c->passwords : stdout);
	buf_free(&line);
}

static void
on_created(void *ctx, const char *postoffice, const char *mailbox)
{
	struct import_ctx *c = ctx;

	cli_welcome_deliver(c->cli, postoffice, mailbox);
}

static int
users_help(int code)
{
	printf("usage: postern users import FILE --postoffice PO [--password PW]\n"
	    "              [--quota SIZE] [--passwords-out FILE] [--tsv] [--atomic]\n"
	    "              [--create-domains]\n"
	    "       postern users export --postoffice PO [--format csv|tsv]\n"
	    "              [--fields a,b,...] [--header] [--output FILE]\n\n"
	    "Import reads emailaddress[,password[,quota[,friendly name]]] per line\n"
	    "(manual 5.3.9.4); FILE - reads standard input. Missing passwords get\n"
	    "--password, or a random one that is written to --passwords-out (or\n"
	    "standard output) as address,password. A password that is a crypt\n"
	    "hash ({CRYPT}$y$..., $2y$..., $6$...) is kept as the hash. A row\n"
	    "whose domain is not hosted here fails, unless --create-domains adds\n"
	    "it to the post office. Bad rows are reported by line number; the\n"
	    "others import (exit 5), or none with --atomic. On a terminal it\n"
	    "shows its progress.\n\n"
	    "Export writes one line per mailbox but the postmaster (manual\n"
	    "5.3.9.2). Fields: %s;\n"
	    "default %s, which imports back unchanged.\n",
	    USERS_EXPORT_FIELDS, USERS_EXPORT_DEFAULT);
	return code;
}

static int
users_import_cmd(struct cli *cli, const struct cli_args *a)
{
	const char *po = cli_opt(a, "postoffice"), *q = cli_opt(a, "quota");
	const char *out = cli_opt(a, "passwords-out"), *err;
	struct users_import_result res;
	struct import_ctx ctx = { .cli = cli };
	struct buf data;
	long long kb = -1;
	int r;

	if (a->npos != 2 || po == NULL)
		return cli_usage("usage: postern users import FILE --postoffice PO");
	if (q != NULL && (kb = strcmp(q, "unlimited") == 0 ? 0 :
	    parse_size_kb(q, 'M')) < 0)
		return cli_usage("--quota '%s' is not a size", q);
	buf_init(&data, USERS_IMPORT_MAX_BYTES);
	if (strcmp(a->pos[1], "-") == 0 ? file_read("/dev/stdin", &data) < 0 :
	    file_read(a->pos[1], &data) < 0) {
		buf_free(&data);
		return cli_error(EXIT_USAGE, "cannot read %s: %s", a->pos[1],
		    errno == EFBIG ? "larger than 256 MB" : strerror(errno));
	}
	if ((r = cli_open(cli)) != 0) {
		buf_free(&data);
		return r;
	}
	if (out != NULL) {
		int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		ctx.passwords = fd >= 0 ? fdopen(fd, "w") : NULL;
		if (ctx.passwords == NULL) {
			buf_free(&data);
			return cli_error(EXIT_USAGE, "cannot write %s: %s", out, strerror(errno));
		}
	}
	ctx.tty = isatty(STDERR_FILENO);
	ctx.errors = cli->json ? json_array() : NULL;
	struct users_import_opts opts = {
		.postoffice = po, .password = cli_opt(a, "password"), .quota_kb = kb,
		.atomic = cli_flag(a, "atomic"),
		.create_domains = cli_flag(a, "create-domains"),
		.sep = cli_flag(a, "tsv") ? '\t' : ',',
		.ctx = &ctx, .progress = on_progress, .row_error = on_row_error,
		.hash_progress = on_hash_progress,
		.generated = on_generated, .created = on_created,
	};
	r = users_import(cli->db, data.data ? data.data : "", data.len, &opts, &res, &err);
	buf_free(&data);
	if (ctx.tty && res.total > 0)
		fputc('\n', stderr);
	if (ctx.passwords != NULL && fclose(ctx.passwords) != 0)
		fprintf(stderr, "postern: writing %s failed\n", out);
	if (r != ADM_OK && r != ADM_INVALID) {
		json_decref(ctx.errors);
		return cli_adm_exit(r, err);
	}
	if (cli->json) {
		json_t *o = json_object();
		json_object_set_new(o, "total", json_integer((json_int_t)res.total));
		json_object_set_new(o, "imported", json_integer((json_int_t)res.imported));
		json_object_set_new(o, "failed", json_integer((json_int_t)res.failed));
		json_object_set_new(o, "errors", ctx.errors);
		cli_json_print(o);
	} else {
		fprintf(stderr, "%zu imported, %zu failed%s\n", res.imported, res.failed,
		    opts.atomic && res.failed ? " (--atomic: nothing kept)" : "");
	}
	return r == ADM_OK ? 0 : EXIT_PARTIAL;
}

static int
users_export_cmd(struct cli *cli, const struct cli_args *a)
{
	const char *po = cli_opt(a, "postoffice"), *fmt = cli_opt(a, "format");
	const char *out = cli_opt(a, "output"), *err;
	struct buf b;
	char sep = ',';
	int r;

	if (po == NULL || a->npos != 1)
		return cli_usage("usage: postern users export --postoffice PO");
	if (fmt != NULL && strcmp(fmt, "tsv") == 0)
		sep = '\t';
	else if (fmt != NULL && strcmp(fmt, "csv") != 0)
		return cli_usage("--format takes csv or tsv");
	if ((r = cli_open(cli)) != 0)
		return r;
	buf_init(&b, 0);
	r = users_export(cli->db, po, cli_opt(a, "fields"), sep,
	    cli_flag(a, "header"), &b, &err);
	if (r != ADM_OK) {
		buf_free(&b);
		return cli_adm_exit(r, err);
	}
	if (out != NULL) {
		if (file_write_atomic(out, b.data ? b.data : "", b.len, 0600) < 0) {
			buf_free(&b);
			return cli_error(EXIT_FAIL, "cannot write %s: %s", out, strerror(errno));
		}
	} else {
		fwrite(b.data ? b.data : "", 1, b.len, stdout);
	}
	buf_free(&b);
	return 0;
}

int
cmd_users(struct cli *cli, int argc, char **argv)
{
	static const char *const opts[] = {
		"postoffice=", "password=", "quota=", "passwords-out=", "tsv",
		"atomic", "create-domains", "format=", "fields=", "header",
		"output=",
		"no-create-domains",   /* the default since issue 12; accepted */
		NULL
	};
	struct cli_args a;
	int r;

	if ((r = cli_parse(argc, argv, opts, &a)) != 0)
		return r;
	if (a.help || a.npos == 0)
		return users_help(a.help ? 0 : EXIT_USAGE);
	if (strcmp(a.pos[0], "import") == 0)
		return users_import_cmd(cli, &a);
	if (strcmp(a.pos[0], "export") == 0)
		return users_export_cmd(cli, &a);
	return cli_usage("unknown users command '%s' (see postern users --help)", a.pos[0]);
}
