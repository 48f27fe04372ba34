/* diag - the diagnostic report: sections, items, the service status */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "diag.h"
#include "diag-private.h"
#include "fsutil.h"
#include "xalloc.h"

void
diag_options_default(struct diag_options *o)
{
	memset(o, 0, sizeof(*o));
	o->dns = true;
	o->network = true;
	o->dns_timeout_ms = 2000;
	o->dns_total_ms = 15000;
	o->connect_timeout_ms = 5000;
}

struct diag_section *
diag_section(struct diag_report *rep, const char *name)
{
	for (size_t i = 0; i < rep->nsections; i++)
		if (strcmp(rep->sections[i]->name, name) == 0)
			return rep->sections[i];
	rep->sections = xreallocarray(rep->sections, rep->nsections + 1,
	    sizeof(*rep->sections));
	struct diag_section *s = xcalloc(1, sizeof(*s));
	rep->sections[rep->nsections++] = s;
	s->name = xstrdup(name);
	return s;
}

/* utf8_clean - a copy of s with every byte that is not part of valid
 * UTF-8, and every control character but newline and tab, as '?': values
 * come from files and the network, and JSON and HTML want text */
static char *
utf8_clean(const char *s)
{
	size_t len = strlen(s), i = 0;
	char *o = xmalloc(len + 1), *p = o;

	while (i < len) {
		unsigned char c = (unsigned char)s[i];
		size_t n = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 && c >= 0xc2 ? 2 :
		    (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 && c <= 0xf4 ? 4 : 0;
		bool ok = n > 0 && i + n <= len;
		for (size_t k = 1; ok && k < n; k++)
			ok = ((unsigned char)s[i + k] & 0xc0) == 0x80;
		if (ok && n == 3) {
			unsigned char c1 = (unsigned char)s[i + 1];
			ok = !(c == 0xe0 && c1 < 0xa0) && !(c == 0xed && c1 >= 0xa0);
		} else if (ok && n == 4) {
			unsigned char c1 = (unsigned char)s[i + 1];
			ok = !(c == 0xf0 && c1 < 0x90) && !(c == 0xf4 && c1 >= 0x90);
		}
		if (!ok || (n == 1 && ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f))) {
			*p++ = '?';
			i++;
			continue;
		}
		memcpy(p, s + i, n);
		p += n;
		i += n;
	}
	*p = '\0';
	return o;
}

void
diag_add(struct diag_section *s, enum diag_status status, const char *check,
	 const char *advice, const char *fmt, ...)
{
	struct buf b;
	va_list ap;

	buf_init(&b, 0);
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	s->items = xreallocarray(s->items, s->nitems + 1, sizeof(*s->items));
	struct diag_item *it = &s->items[s->nitems++];
	it->check = utf8_clean(check);
	it->status = status;
	it->value = utf8_clean(b.data != NULL ? b.data : "");
	it->advice = advice != NULL && *advice != '\0' ? utf8_clean(advice) : NULL;
	buf_free(&b);
}

const char *
diag_status_name(enum diag_status st)
{
	switch (st) {
	case DIAG_OK: return "ok";
	case DIAG_INFO: return "info";
	case DIAG_WARNING: return "warning";
	case DIAG_ERROR: return "error";
	}
	return "?";
}

size_t
diag_count(const struct diag_report *rep, enum diag_status st)
{
	size_t n = 0;

	for (size_t i = 0; i < rep->nsections; i++)
		for (size_t j = 0; j < rep->sections[i]->nitems; j++)
			if (rep->sections[i]->items[j].status == st)
				n++;
	return n;
}

void
diag_report_free(struct diag_report *rep)
{
	for (size_t i = 0; i < rep->nsections; i++) {
		struct diag_section *s = rep->sections[i];
		for (size_t j = 0; j < s->nitems; j++) {
			free(s->items[j].check);
			free(s->items[j].value);
			free(s->items[j].advice);
		}
		free(s->items);
		free(s->name);
		free(s);
	}
	free(rep->sections);
	free(rep->root);
	memset(rep, 0, sizeof(*rep));
}

/* merge_reports - each running service's own report (run/<name>.json)
 * when its pid matches the one posternd started */
static void
merge_reports(const char *root, json_t *services)
{
	size_t i;
	json_t *svc;

	json_array_foreach(services, i, svc) {
		const char *name = json_string_value(json_object_get(svc, "name"));
		json_int_t pid = json_integer_value(json_object_get(svc, "pid"));
		json_error_t jerr;
		struct buf b;

		if (name == NULL || pid <= 0 || strchr(name, '/') != NULL)
			continue;
		char *path = xasprintf("%s/run/%s.json", root, name);
		buf_init(&b, 65536);
		json_t *rep = file_read(path, &b) == 0 ?
		    json_loadb(b.data ? b.data : "", b.len, 0, &jerr) : NULL;
		buf_free(&b);
		free(path);
		if (rep != NULL && json_integer_value(json_object_get(rep, "pid")) == pid) {
			json_t *state = json_object_get(rep, "state");
			json_t *note = json_object_get(rep, "note");
			json_t *listen = json_object_get(rep, "listen");
			if (json_is_string(state))
				json_object_set(svc, "state", state);
			if (json_is_string(note) && *json_string_value(note) != '\0')
				json_object_set(svc, "note", note);
			if (json_is_array(listen))
				json_object_set(svc, "listen", listen);
			json_t *names = json_object_get(rep, "listeners");
			if (json_is_array(names))
				json_object_set(svc, "listeners", names);
		}
		json_decref(rep);
	}
}

json_t *
diag_services_status(const char *root, bool *running_r)
{
	struct buf b;
	json_error_t jerr;

	*running_r = false;
	char *path = path_join(root, "run/status.json");
	buf_init(&b, 16 * 1024 * 1024);
	int r = file_read(path, &b);
	free(path);
	json_t *st = r == 0 ? json_loadb(b.data ? b.data : "", b.len, 0, &jerr) : NULL;
	buf_free(&b);
	if (st != NULL && !json_is_object(st)) {
		json_decref(st);
		st = NULL;
	}
	json_int_t pid = st ? json_integer_value(json_object_get(
	    json_object_get(st, "posternd"), "pid")) : 0;
	/* posternd holds a lock on its pid file while it runs: that survives
	 * stale files, zombies and reused PIDs */
	char *pidpath = path_join(root, "run/posternd.pid");
	int lfd = open(pidpath, O_RDONLY | O_CLOEXEC);
	free(pidpath);
	if (lfd >= 0) {
		*running_r = flock(lfd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK;
		close(lfd);
	}
	*running_r = *running_r && pid > 0;
	if (*running_r)
		merge_reports(root, json_object_get(st, "services"));
	return st;
}

void
diag_run(struct db *db, const char *root, const struct diag_options *o,
	 struct diag_report *rep)
{
	memset(rep, 0, sizeof(*rep));
	rep->root = xstrdup(root);
	rep->generated = (long long)time(NULL);
	/* the manual's order (4.4.1) */
	diag_check_versions(rep, db);
	diag_check_data(rep, db, root);
	diag_check_services(rep, root);
	diag_check_queues(rep, db);
	diag_check_host(rep, db);
	diag_check_mta(rep, db);
	diag_check_smtp(rep, db, o);
	diag_check_outgoing(rep, db);
	diag_check_dns(rep, db, o);
	diag_check_auth(rep, db);
	diag_check_login_security(rep, db);   /* diag-login.c */
	diag_check_postoffices(rep, db);
}
