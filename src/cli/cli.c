/* cli - argument parsing, errors and output shared by every command */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "directory.h"
#include "buf.h"
#include "fields.h"
#include "xalloc.h"

int
cli_parse(int argc, char **argv, const char *const *options, struct cli_args *a)
{
	memset(a, 0, sizeof(*a));
	for (int i = 1; i < argc; i++) {
		const char *w = argv[i];
		if (strcmp(w, "--help") == 0 || strcmp(w, "-h") == 0) {
			a->help = true;
			continue;
		}
		if (strcmp(w, "--") == 0) {
			for (i++; i < argc; i++) {
				if (a->npos == CLI_MAX_ARGS)
					return cli_usage("too many arguments");
				a->pos[a->npos++] = argv[i];
			}
			break;
		}
		if (strncmp(w, "--", 2) != 0 || w[2] == '\0') {
			if (a->npos == CLI_MAX_ARGS)
				return cli_usage("too many arguments");
			a->pos[a->npos++] = w;
			continue;
		}
		const char *name = w + 2, *eq = strchr(name, '=');
		size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
		const char *const *o;
		for (o = options; o && *o; o++) {
			size_t olen = strcspn(*o, "=");
			if (olen == nlen && strncmp(*o, name, nlen) == 0)
				break;
		}
		if (o == NULL || *o == NULL)
			return cli_usage("unknown option --%.*s (see --help)", (int)nlen, name);
		if (a->nopt == CLI_MAX_ARGS)
			return cli_usage("too many options");
		a->opt_name[a->nopt] = *o;
		if ((*o)[strlen(*o) - 1] == '=') {
			if (eq != NULL)
				a->opt_value[a->nopt] = eq + 1;
			else if (i + 1 < argc)
				a->opt_value[a->nopt] = argv[++i];
			else
				return cli_usage("option --%s needs a value", name);
		} else if (eq != NULL) {
			return cli_usage("option --%.*s takes no value", (int)nlen, name);
		}
		a->nopt++;
	}
	return 0;
}

const char *
cli_opt(const struct cli_args *a, const char *name)
{
	const char *v = NULL;
	size_t len = strlen(name);

	for (size_t i = 0; i < a->nopt; i++)
		if (strncmp(a->opt_name[i], name, len) == 0 &&
		    (a->opt_name[i][len] == '=' || a->opt_name[i][len] == '\0') &&
		    a->opt_value[i] != NULL)
			v = a->opt_value[i];
	return v;
}

bool
cli_flag(const struct cli_args *a, const char *name)
{
	for (size_t i = 0; i < a->nopt; i++)
		if (strcmp(a->opt_name[i], name) == 0)
			return true;
	return false;
}

int
cli_usage(const char *fmt, ...)
{
	va_list ap;

	fputs("postern: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return EXIT_USAGE;
}

int
cli_error(int status, const char *fmt, ...)
{
	va_list ap;

	fputs("postern: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return status;
}

int
cli_adm_exit(int status, const char *error)
{
	int code;

	switch (status) {
	case ADM_OK: return EXIT_OK_;
	case ADM_INVALID: code = EXIT_USAGE; break;
	case ADM_NOTFOUND: code = EXIT_NOTFOUND; break;
	case ADM_EXISTS: code = EXIT_EXISTS; break;
	case ADM_BUSY: code = EXIT_BUSY; break;
	default: code = EXIT_FAIL; break;
	}
	return cli_error(code, "%s", error ? error : "failed");
}

int
cli_open(struct cli *cli)
{
	const char *err;

	if (cli->db != NULL)
		return 0;
	if (cli->root == NULL)
		return cli_error(EXIT_NOROOT,
		    "no data root: give -d DIR or set POSTERN_DIR");
	if (db_open(cli->root, false, &cli->db, &err) < 0) {
		if (strstr(err, "locked") != NULL)
			return cli_error(EXIT_BUSY, "%s", err);
		return cli_error(EXIT_NOROOT, "%s", err);
	}
	return 0;
}

struct cli_table {
	size_t ncols, nrows;
	char **cells;   /* (nrows + 1) * ncols, row 0 the headers */
};

struct cli_table *
cli_table_new(size_t ncols, const char *const *headers)
{
	struct cli_table *t = xcalloc(1, sizeof(*t));

	t->ncols = ncols;
	t->cells = xcalloc(ncols, sizeof(char *));
	for (size_t i = 0; i < ncols; i++)
		t->cells[i] = xstrdup(headers[i]);
	return t;
}

void
cli_table_row(struct cli_table *t, const char *const *cells)
{
	t->nrows++;
	t->cells = xreallocarray(t->cells, (t->nrows + 1) * t->ncols, sizeof(char *));
	for (size_t i = 0; i < t->ncols; i++)
		t->cells[t->nrows * t->ncols + i] = xstrdup(cells[i] ? cells[i] : "");
}

static size_t
display_width(const char *s)
{
	size_t w = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

void
cli_table_print(struct cli_table *t)
{
	size_t *width = xcalloc(t->ncols, sizeof(size_t));

	for (size_t r = 0; r <= t->nrows; r++)
		for (size_t c = 0; c < t->ncols; c++) {
			size_t w = display_width(t->cells[r * t->ncols + c]);
			if (w > width[c])
				width[c] = w;
		}
	for (size_t r = 0; r <= t->nrows; r++) {
		for (size_t c = 0; c < t->ncols; c++) {
			const char *s = t->cells[r * t->ncols + c];
			bool last = c + 1 == t->ncols;
			fputs(s, stdout);
			if (!last)
				printf("%*s", (int)(width[c] - display_width(s) + 2), "");
		}
		putchar('\n');
	}
	free(width);
}

void
cli_table_free(struct cli_table **tp)
{
	struct cli_table *t = *tp;

	if (t == NULL)
		return;
	for (size_t i = 0; i < (t->nrows + 1) * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
	*tp = NULL;
}

void
cli_json_print(json_t *j)
{
	char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

	if (s != NULL) {
		puts(s);
		free(s);
	}
	json_decref(j);
}

json_t *
cli_removal_new(const char *what, const char *name)
{
	json_t *o = json_object();

	json_object_set_new(o, "removed", json_string(what));
	json_object_set_new(o, "name", json_string(name));
	return o;
}

void
cli_removal_count(json_t *o, const char *key, long long n)
{
	json_object_set_new(o, key, json_integer(n));
}

/* removal_text - "post office acme: 2 domains, 1006 mailboxes, 5 messages,
 * 1.2 MB" (new string) */
static char *
removal_text(json_t *o)
{
	struct buf b;
	const char *key;
	json_t *v;
	bool first = true;

	buf_init(&b, 0);
	buf_printf(&b, "%s %s", json_string_value(json_object_get(o, "removed")),
	    json_string_value(json_object_get(o, "name")));
	json_object_foreach(o, key, v) {
		if (!json_is_integer(v))
			continue;
		long long n = json_integer_value(v);
		buf_puts(&b, first ? ": " : ", ");
		first = false;
		if (strcmp(key, "bytes") == 0) {
			if (n < 1024)
				buf_printf(&b, "%lld bytes", n);
			else if (n < 1024 * 1024)
				buf_printf(&b, "%.1f KB", (double)n / 1024);
			else if (n < 1024LL * 1024 * 1024)
				buf_printf(&b, "%.1f MB", (double)n / (1024 * 1024));
			else
				buf_printf(&b, "%.1f GB", (double)n / (1024 * 1024 * 1024));
			continue;
		}
		/* "mailboxes" -> "mailbox", "addresses" -> "address" */
		size_t len = strlen(key), cut = 0;
		if (n == 1 && len > 3 && (strcmp(key + len - 3, "xes") == 0 ||
		    strcmp(key + len - 4, "sses") == 0))
			cut = 2;
		else if (n == 1 && len > 1 && key[len - 1] == 's')
			cut = 1;
		buf_printf(&b, "%lld %.*s", n, (int)(len - cut), key);
		for (char *p = b.data + b.len - (len - cut); *p; p++)
			if (*p == '_')
				*p = ' ';
	}
	return buf_steal(&b);
}

int
cli_confirm(struct cli *cli, const struct cli_args *a, json_t *removal)
{
	char *text, line[64];
	(void)cli;

	if (cli_flag(a, CLI_YES_OPTION))
		return 0;
	text = removal_text(removal);
	if (!isatty(STDIN_FILENO)) {
		cli_error(EXIT_USAGE, "this deletes %s; no terminal to ask on: add "
		    "--yes to confirm", text);
		free(text);
		return EXIT_USAGE;
	}
	fprintf(stderr, "This deletes %s.\nDelete? [y/N] ", text);
	fflush(stderr);
	free(text);
	if (fgets(line, sizeof(line), stdin) == NULL ||
	    (strcmp(line, "y\n") != 0 && strcmp(line, "yes\n") != 0 &&
	    strcmp(line, "Y\n") != 0 && strcmp(line, "YES\n") != 0)) {
		fprintf(stderr, "postern: nothing deleted\n");
		return EXIT_FAIL;
	}
	return 0;
}

void
cli_removed(struct cli *cli, json_t *removal)
{
	if (cli->json) {
		cli_json_print(removal);
		return;
	}
	char *text = removal_text(removal);
	printf("deleted %s\n", text);
	free(text);
	json_decref(removal);
}

static const char *
kind_word(enum adm_kind kind)
{
	static const char *const words[] = {
		[ADM_POSTOFFICE] = "postoffice", [ADM_DOMAIN] = "domain",
		[ADM_MAILBOX] = "mailbox", [ADM_GROUP] = "group", [ADM_LIST] = "list",
	};
	return words[kind];
}

json_t *
cli_object_json(struct cli *cli, enum adm_kind kind, int64_t id)
{
	const struct field_def *fields = adm_kind_fields(kind);
	json_t *o = json_object();
	const char *err;

	for (const struct field_def *f = fields; f->name; f++) {
		char *v = NULL;
		if (dir_object_field(cli->db, kind_word(kind), id, f->name, &v,
		    &err) < 0) {
			free(v);
			continue;
		}
		if ((f->flags & FIELD_SECRET))
			json_object_set_new(o, f->name, json_boolean(*v != '\0'));
		else if (f->type == FT_BOOL)
			json_object_set_new(o, f->name, json_boolean(strtoll(v, NULL, 10)));
		else if (field_is_numeric(f))
			json_object_set_new(o, field_json_name(f),
			    json_integer(strtoll(v, NULL, 10)));
		else
			json_object_set_new(o, f->name, json_string(v));
		free(v);
	}
	return o;
}

int
cli_created(struct cli *cli, enum adm_kind kind, const char *ident,
	    const char *generated_password)
{
	const char *err;
	int64_t id;
	int r;

	if (!cli->json)
		return 0;
	if ((r = adm_object_id(cli->db, kind, ident, &id, &err)) < 0)
		return cli_adm_exit(r, err);
	json_t *o = json_object();
	json_object_set_new(o, "name", json_string(ident));
	json_object_set_new(o, "id", json_integer(id));
	json_t *fields = cli_object_json(cli, kind, id);
	json_object_update(o, fields);
	json_decref(fields);
	if (generated_password != NULL)
		json_object_set_new(o, "password", json_string(generated_password));
	cli_json_print(o);
	return 0;
}

int
cli_object_show(struct cli *cli, enum adm_kind kind, const char *ident)
{
	const struct field_def *fields = adm_kind_fields(kind);
	const char *err;
	int64_t id;
	int r;

	if ((r = adm_object_id(cli->db, kind, ident, &id, &err)) < 0)
		return cli_adm_exit(r, err);
	if (cli->json) {
		json_t *o = cli_object_json(cli, kind, id);
		json_object_set_new(o, "id", json_integer(id));
		cli_json_print(o);
		return 0;
	}
	const char *hdr[] = { "setting", "value" };
	struct cli_table *t = cli_table_new(2, hdr);
	for (const struct field_def *f = fields; f->name; f++) {
		char *v = NULL;
		if (dir_object_field(cli->db, kind_word(kind), id, f->name, &v,
		    &err) < 0) {
			free(v);
			continue;
		}
		char *shown = field_format(f, v);
		if (f->flags & FIELD_UNBUILT) {
			char *marked = xasprintf("%s (not built yet)", shown);
			free(shown);
			shown = marked;
		}
		/* one line per setting: show newlines as \n */
		for (char *p = shown; *p; p++)
			if (*p == '\n' || *p == '\r')
				*p = ' ';
		const char *row[] = { f->name, shown };
		cli_table_row(t, row);
		free(shown);
		free(v);
	}
	cli_table_print(t);
	cli_table_free(&t);
	return 0;
}

int
cli_object_set(struct cli *cli, enum adm_kind kind, const char *ident,
	       const struct cli_args *a, size_t first)
{
	const char *err;
	int r;
	bool outer;
	size_t changes = 0;

	if ((r = adm_tx_begin(cli->db, &outer, &err)) < 0)
		return cli_adm_exit(r, err);
	/* key=value words, and --key value options */
	for (size_t i = first; i < a->npos; i++) {
		const char *eq = strchr(a->pos[i], '=');
		if (eq == NULL) {
			adm_tx_end(cli->db, outer, false, &err);
			return cli_usage("expected setting=value, got '%s'", a->pos[i]);
		}
		char *key = xstrndup(a->pos[i], (size_t)(eq - a->pos[i]));
		const struct field_def *f = field_find(adm_kind_fields(kind), key);
		if (f != NULL && (f->flags & FIELD_UNBUILT))
			fprintf(stderr, "postern: note: %s is not built yet: the value "
			    "is stored but does nothing\n", key);
		r = adm_object_set(cli->db, kind, ident, key, eq + 1, &err);
		free(key);
		if (r < 0) {
			int code = cli_adm_exit(r, err);
			adm_tx_end(cli->db, outer, false, &err);
			return code;
		}
		changes++;
	}
	for (size_t i = 0; i < a->nopt; i++) {
		if (a->opt_value[i] == NULL)
			continue;
		char *key = xstrndup(a->opt_name[i], strlen(a->opt_name[i]) - 1);
		for (char *p = key; *p; p++)
			if (*p == '-')
				*p = '_';
		r = adm_object_set(cli->db, kind, ident, key, a->opt_value[i], &err);
		free(key);
		if (r < 0) {
			int code = cli_adm_exit(r, err);
			adm_tx_end(cli->db, outer, false, &err);
			return code;
		}
		changes++;
	}
	if (changes == 0) {
		adm_tx_end(cli->db, outer, false, &err);
		return cli_usage("nothing to set: give setting=value (see --help)");
	}
	if ((r = adm_tx_end(cli->db, outer, true, &err)) < 0)
		return cli_adm_exit(r, err);
	return 0;
}

void
cli_fields_help(const struct field_def *fields)
{
	printf("\nSettings (setting=value):\n");
	for (const struct field_def *f = fields; f->name; f++) {
		char *d = field_format(f, f->def);
		printf("  %-30s %s", f->name, f->help);
		if (f->type == FT_ENUM)
			printf(" [%s]", f->choices);
		printf(" (default: %s)%s\n", *d ? d : "empty",
		    (f->flags & FIELD_UNBUILT) ? " (not built yet: stored, does nothing)" : "");
		free(d);
	}
}
