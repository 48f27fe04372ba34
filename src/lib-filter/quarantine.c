/* quarantine - held mail: move in, list, release, delete, notice */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "directory.h"
#include "fsutil.h"
#include "mime.h"
#include "quarantine.h"
#include "settings.h"
#include "xalloc.h"

static _Thread_local char q_err[512];

static int
qerr(const char **error_r, const char *what, const char *path)
{
	snprintf(q_err, sizeof(q_err), "%s %s: %s", what, path, strerror(errno));
	*error_r = q_err;
	return -1;
}

/* id_ok - a queue id as we make them (hex, dots of split copies) */
static bool
id_ok(const char *id)
{
	size_t n = strlen(id);
	if (n == 0 || n > QUEUE_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)id[i]) && id[i] != '.')
			return false;
	return id[0] != '.';
}

static char *
qfile(const char *qroot, const char *id, const char *ext)
{
	return xasprintf("%s/quarantine/%s.%s", qroot, id, ext);
}

/* one_line - text with its line breaks and controls made spaces */
static void
one_line(struct buf *b, const char *s)
{
	for (; *s; s++)
		buf_putc(b, iscntrl((unsigned char)*s) ? ' ' : *s);
}

int
quarantine_item(struct queue_item *item, const char *qroot, const char *conn,
		const char *reason, const char **error_r)
{
	char *dir = path_join(qroot, "quarantine");
	char *info = qfile(qroot, item->id, "info");
	char *msg = qfile(qroot, item->id, "msg");
	char *env = qfile(qroot, item->id, "env");
	struct buf b;
	int r = 0;

	buf_init(&b, 0);
	buf_printf(&b, "conn %s\ntime %lld\nreason ", conn, (long long)time(NULL));
	one_line(&b, reason);
	buf_putc(&b, '\n');
	if (mkdir_p(dir, 0750) < 0)
		r = qerr(error_r, "create", dir);
	else if (file_write_atomic(info, b.data, b.len, 0640) < 0)
		r = qerr(error_r, "write", info);
	else if (rename(item->msg_path, msg) < 0)
		r = qerr(error_r, "move into the quarantine", item->msg_path);
	else if (rename(item->env_path, env) < 0)
		r = qerr(error_r, "move into the quarantine", item->env_path);
	else
		fsync_dir(dir);
	buf_free(&b);
	free(dir);
	free(info);
	free(msg);
	free(env);
	return r;
}

/* read_small - a whole small file (new string) or NULL */
static char *
read_small(const char *path, size_t max, size_t *len_r)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	struct buf b;
	buf_init(&b, max);
	char chunk[8192];
	ssize_t n;
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		if (buf_append(&b, chunk, (size_t)n) < 0) {
			n = -1;
			break;
		}
	close(fd);
	if (n < 0) {
		buf_free(&b);
		return NULL;
	}
	if (len_r != NULL)
		*len_r = b.len;
	return buf_steal(&b);
}

/* info_field - "key value" line of an info file (new string or NULL) */
static char *
info_field(const char *info, const char *key)
{
	size_t kl = strlen(key);
	for (const char *p = info; p != NULL && *p; ) {
		const char *e = strchr(p, '\n');
		size_t l = e ? (size_t)(e - p) : strlen(p);
		if (l > kl && strncmp(p, key, kl) == 0 && p[kl] == ' ')
			return xstrndup(p + kl + 1, l - kl - 1);
		p = e ? e + 1 : NULL;
	}
	return NULL;
}

static int
load_entry(const char *qroot, const char *id, struct quarantine_entry *e,
	   struct queue_env *env_r, const char **error_r)
{
	char *ip = qfile(qroot, id, "info"), *ep = qfile(qroot, id, "env");
	char *mp = qfile(qroot, id, "msg");
	size_t elen = 0;
	char *info = read_small(ip, 65536, NULL);
	char *envtxt = read_small(ep, QUEUE_ENV_MAX, &elen);
	struct queue_env env;
	struct stat st;
	int r = -1;

	memset(e, 0, sizeof(*e));
	snprintf(e->id, sizeof(e->id), "%s", id);
	memset(&env, 0, sizeof(env));   /* queue_env_parse initialises it */
	if (info == NULL || envtxt == NULL || stat(mp, &st) < 0) {
		snprintf(q_err, sizeof(q_err), "%s: no such quarantined message", id);
		*error_r = q_err;
	} else if (queue_env_parse(envtxt, elen, &env, error_r) < 0) {
		;
	} else {
		char *t = info_field(info, "time");
		e->conn = info_field(info, "conn");
		e->reason = info_field(info, "reason");
		e->when = t ? (time_t)strtoll(t, NULL, 10) : st.st_mtime;
		free(t);
		if (e->conn == NULL)
			e->conn = xstrdup("smtp");
		if (e->reason == NULL)
			e->reason = xstrdup("");
		e->size = st.st_size;
		e->sender = xstrdup(env.sender ? env.sender : "");
		struct buf rb;
		buf_init(&rb, 0);
		for (size_t i = 0; i < env.nrcpts; i++)
			buf_printf(&rb, "%s%s", i ? "," : "", env.rcpts[i].address);
		e->rcpts = buf_steal(&rb);
		r = 0;
	}
	if (r == 0 && env_r != NULL)
		*env_r = env;
	else
		queue_env_free(&env);
	free(ip);
	free(ep);
	free(mp);
	free(info);
	free(envtxt);
	return r;
}

static void
entry_free(struct quarantine_entry *e)
{
	free(e->conn);
	free(e->reason);
	free(e->sender);
	free(e->rcpts);
}

static int
cmp_entry(const void *a, const void *b)
{
	const struct quarantine_entry *x = a, *y = b;
	if (x->when != y->when)
		return x->when < y->when ? -1 : 1;
	return strcmp(x->id, y->id);
}

int
quarantine_list(const char *qroot, struct quarantine_entry **v_r, size_t *n_r,
		const char **error_r)
{
	char *dir = path_join(qroot, "quarantine");
	DIR *d = opendir(dir);
	struct quarantine_entry *v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;

	*v_r = NULL;
	*n_r = 0;
	if (d == NULL) {
		int e = errno;
		free(dir);
		if (e == ENOENT)
			return 0;
		errno = e;
		return qerr(error_r, "open", "the quarantine");
	}
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);
		if (l < 6 || strcmp(de->d_name + l - 5, ".info") != 0)
			continue;
		char id[QUEUE_ID_MAX + 1];
		if (l - 5 > QUEUE_ID_MAX)
			continue;
		memcpy(id, de->d_name, l - 5);
		id[l - 5] = '\0';
		if (!id_ok(id))
			continue;
		struct quarantine_entry e;
		const char *err;
		if (load_entry(qroot, id, &e, NULL, &err) < 0) {
			entry_free(&e);
			continue;   /* being released or written */
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			v = xreallocarray(v, cap, sizeof(*v));
		}
		v[n++] = e;
	}
	closedir(d);
	free(dir);
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_entry);
	*v_r = v;
	*n_r = n;
	return 0;
}

void
quarantine_list_free(struct quarantine_entry *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		entry_free(&v[i]);
	free(v);
}

char *
quarantine_msg_path(const char *qroot, const char *id)
{
	return id_ok(id) ? qfile(qroot, id, "msg") : NULL;
}

char *
quarantine_header(const char *qroot, const char *id, size_t max)
{
	char *path = quarantine_msg_path(qroot, id);
	FILE *f = path ? fopen(path, "r") : NULL;
	struct buf b;
	char line[1000];

	free(path);
	if (f == NULL)
		return NULL;
	buf_init(&b, 0);
	while (fgets(line, sizeof(line), f) != NULL && strcmp(line, "\r\n") != 0
	    && strcmp(line, "\n") != 0 && b.len + strlen(line) <= max)
		buf_puts(&b, line);
	fclose(f);
	buf_putc(&b, '\0');
	return buf_steal(&b);
}

/* jstr - a JSON string; bytes that are not UTF-8 become '?' */
static json_t *
jstr(const char *s)
{
	json_t *j = json_string(s ? s : "");
	if (j != NULL)
		return j;
	char *c = xstrdup(s);
	for (char *p = c; *p; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	j = json_string(c);
	free(c);
	return j;
}

json_t *
quarantine_entry_json(const char *qroot, const struct quarantine_entry *e)
{
	struct buf raw, subj;
	char *h = quarantine_header(qroot, e->id, 64 * 1024);
	json_t *o = json_object();

	buf_init(&raw, 0);
	buf_init(&subj, 0);
	if (h != NULL && mime_header_get(h, 0, strlen(h), "Subject", &raw) == 1)
		mime_decode_words(raw.data, raw.len, &subj);
	buf_putc(&subj, '\0');
	free(h);
	json_object_set_new(o, "id", json_string(e->id));
	json_object_set_new(o, "time", json_integer((json_int_t)e->when));
	json_object_set_new(o, "from", jstr(e->conn));
	json_object_set_new(o, "sender", jstr(e->sender));
	json_object_set_new(o, "recipients", jstr(e->rcpts));
	json_object_set_new(o, "size", json_integer((json_int_t)e->size));
	json_object_set_new(o, "reason", jstr(e->reason));
	json_object_set_new(o, "subject", jstr(subj.data));
	buf_free(&raw);
	buf_free(&subj);
	return o;
}

/* remove_files - info last: an entry without it is not listed */
static void
remove_files(const char *qroot, const char *id)
{
	static const char *const ext[] = { "env", "msg", "info" };
	for (size_t i = 0; i < 3; i++) {
		char *p = qfile(qroot, id, ext[i]);
		unlink(p);
		free(p);
	}
	char *dir = path_join(qroot, "quarantine");
	fsync_dir(dir);
	free(dir);
}

int
quarantine_release(const char *qroot, const char *id, const char **error_r)
{
	struct quarantine_entry e;
	struct queue_env env;
	int r = -1;

	if (!id_ok(id)) {
		*error_r = "not a queue id";
		return -1;
	}
	if (load_entry(qroot, id, &e, &env, error_r) < 0) {
		entry_free(&e);
		return -1;
	}
	/* where the item came from: pickup files were committed to smtp */
	const char *conn = e.conn;
	if (strcmp(conn, "sf") != 0 && strcmp(conn, "ls") != 0 &&
	    strcmp(conn, "pr") != 0)
		conn = "smtp";
	char *rdir = xasprintf("%s/quarantine/released", qroot);
	char *marker = xasprintf("%s/%s", rdir, id);
	char *qpath = queue_path(qroot, conn, QUEUE_INBOUND);
	char *msg = qfile(qroot, id, "msg");
	if (mkdir_p(rdir, 0750) < 0)
		qerr(error_r, "create", rdir);
	else if (file_write_atomic(marker, "", 0, 0640) < 0)
		qerr(error_r, "write", marker);
	else if (queue_ensure(qpath) < 0)
		qerr(error_r, "create", qpath);
	else if (queue_put_file(qpath, msg, &env, error_r) == 0) {
		remove_files(qroot, id);
		r = 0;
	}
	if (r < 0)
		unlink(marker);
	free(rdir);
	free(marker);
	free(qpath);
	free(msg);
	queue_env_free(&env);
	entry_free(&e);
	return r;
}

int
quarantine_delete(const char *qroot, const char *id, const char **error_r)
{
	if (!id_ok(id)) {
		*error_r = "not a queue id";
		return -1;
	}
	char *ip = qfile(qroot, id, "info");
	struct stat st;
	int ok = stat(ip, &st) == 0;
	free(ip);
	if (!ok) {
		snprintf(q_err, sizeof(q_err), "%s: no such quarantined message", id);
		*error_r = q_err;
		return -1;
	}
	remove_files(qroot, id);
	return 0;
}

bool
quarantine_take_release(const char *qroot, const char *id)
{
	char base[QUEUE_ID_MAX + 1];
	/* a split copy (<id>.<n>) was released as its own id */
	snprintf(base, sizeof(base), "%s", id);
	char *marker = xasprintf("%s/quarantine/released/%s", qroot, base);
	bool yes = unlink(marker) == 0;
	free(marker);
	return yes;
}

int
quarantine_notice(struct db *db, const char *qroot,
		  const struct queue_env *env, const char *reason,
		  const char **error_r)
{
	struct queue_env out;
	char id[QUEUE_ID_MAX + 1];
	char *host = settings_hostname(db);
	const char *admin = settings_current(db)->antivirus_notify;
	struct buf m;
	const char *err;
	int r = 0;

	queue_new_id(id);
	queue_env_init(&out, id);
	out.arrival = time(NULL);
	queue_env_set(&out.sender, "");
	queue_env_set(&out.client_addr, "local");
	out.bulk = true;
	for (size_t i = 0; i < env->nrcpts; i++) {
		struct dir_route route;
		if (dir_resolve(db, env->rcpts[i].address, &route, &err) ==
		    DIR_RESOLVE_LOCAL)
			queue_env_add_rcpt(&out, env->rcpts[i].address, NULL, 0);
	}
	if (*admin != '\0')
		queue_env_add_rcpt(&out, admin, NULL, 0);
	if (out.nrcpts == 0)
		goto done;
	char date[64];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	buf_init(&m, 0);
	buf_printf(&m, "From: Mail Delivery System <MAILER-DAEMON@%s>\r\n"
	    "To: undisclosed-recipients:;\r\n"
	    "Subject: A message to you was quarantined\r\n"
	    "Date: %s\r\nMessage-ID: <%s.quarantine@%s>\r\n"
	    "Auto-Submitted: auto-generated\r\nMIME-Version: 1.0\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n\r\n"
	    "A message addressed to you was held back by this server's "
	    "content filters\r\nand was not delivered.\r\n\r\n"
	    "Queue id:  %s\r\nSender:    <", host, date, id, host, env->id);
	one_line(&m, env->sender ? env->sender : "");
	buf_puts(&m, ">\r\nReason:    ");
	one_line(&m, reason);
	buf_printf(&m, "\r\n\r\nAn administrator can release it with:\r\n"
	    "  postern quarantine release %s\r\n", env->id);
	char *qpath = queue_path(qroot, "sf", QUEUE_INBOUND);
	struct queue_writer *w = NULL;
	if (queue_ensure(qpath) < 0)
		r = qerr(error_r, "create", qpath);
	else if ((w = queue_writer_open(qpath, id, error_r)) == NULL)
		r = -1;
	else {
		queue_writer_write(w, m.data, m.len);
		r = queue_writer_commit(&w, &out, error_r);
	}
	free(qpath);
	buf_free(&m);
done:
	queue_env_free(&out);
	free(host);
	return r;
}
