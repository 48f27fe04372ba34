/* queue - connector queue items: durable write, claim by rename, recovery */
#include <dirent.h>
#include <stdarg.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crashpoint.h"
#include "fsutil.h"
#include "queue.h"
#include "strutil.h"
#include "xalloc.h"

/* the envelope's first line. Version 2 added "origin" (the post office a
 * locally generated message comes from); version 1 envelopes, queued
 * before it, are still read and have none (their mail goes out unsigned).
 * Version 3 added "relaynet" (smtpd's verdict on smtp.relay_networks);
 * older envelopes read as not recorded (-1). */
#define ENV_MAGIC "POSTERN-ENV 3"
#define ENV_MAGIC_V2 "POSTERN-ENV 2"
#define ENV_MAGIC_V1 "POSTERN-ENV 1"
#define ORPHAN_AGE (3600)
#define TMP_AGE (24 * 3600)

static __thread char queue_err[512];  /* per thread: smtpd commits on workers */

static int
qfail(const char **error_r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int
qfail(const char **error_r, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	vsnprintf(queue_err, sizeof(queue_err), fmt, ap);
	va_end(ap);
	if (errno != 0) {
		n = strlen(queue_err);
		snprintf(queue_err + n, sizeof(queue_err) - n, ": %s", strerror(errno));
	}
	*error_r = queue_err;
	return -1;
}

void
queue_new_id(char *out)
{
	uint32_t r;

	random_bytes(&r, sizeof(r));
	snprintf(out, QUEUE_ID_MAX + 1, "%08lX%08X",
	    (unsigned long)(time(NULL) & 0xffffffffUL), r);
}

static bool
id_valid(const char *id)
{
	size_t len = strlen(id);

	if (len < 1 || len > QUEUE_ID_MAX)
		return false;
	for (const char *p = id; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'A' && *p <= 'F') ||
		    (*p >= 'a' && *p <= 'f') || *p == '.'))
			return false;
	return id[0] != '.';
}

/* ---- envelopes ---- */

void
queue_env_init(struct queue_env *env, const char *id)
{
	memset(env, 0, sizeof(*env));
	if (id != NULL)
		snprintf(env->id, sizeof(env->id), "%s", id);
	env->arrival = time(NULL);
	env->relay_net = -1;
	env->sender = xstrdup("");
}

void
queue_env_set(char **field, const char *value)
{
	free(*field);
	*field = value ? xstrdup(value) : NULL;
}

static void
rcpt_free(struct queue_rcpt *r)
{
	free(r->address);
	free(r->orcpt);
	free(r->last_error);
	free(r->extra);
}

void
queue_env_free(struct queue_env *env)
{
	free(env->sender);
	free(env->auth_user);
	free(env->origin);
	free(env->client_addr);
	free(env->client_helo);
	free(env->body_type);
	free(env->envid);
	free(env->ret);
	for (size_t i = 0; i < env->nrcpts; i++)
		rcpt_free(&env->rcpts[i]);
	free(env->rcpts);
	memset(env, 0, sizeof(*env));
}

struct queue_rcpt *
queue_env_add_rcpt(struct queue_env *env, const char *address,
		   const char *orcpt, unsigned notify)
{
	struct queue_rcpt *r;

	env->rcpts = xreallocarray(env->rcpts, env->nrcpts + 1, sizeof(*r));
	r = &env->rcpts[env->nrcpts++];
	memset(r, 0, sizeof(*r));
	r->address = xstrdup(address);
	r->orcpt = orcpt ? xstrdup(orcpt) : NULL;
	r->notify = notify;
	return r;
}

/* put_value - " =escaped" for a value, " -" for none */
static void
put_value(struct buf *out, const char *v)
{
	static const char hex[] = "0123456789ABCDEF";

	if (v == NULL) {
		buf_puts(out, " -");
		return;
	}
	buf_puts(out, " =");
	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		if (*p <= 0x20 || *p == '%' || *p == 0x7f) {
			buf_putc(out, '%');
			buf_putc(out, hex[*p >> 4]);
			buf_putc(out, hex[*p & 15]);
		} else {
			buf_putc(out, (char)*p);
		}
	}
}

void
queue_env_format(const struct queue_env *env, struct buf *out)
{
	buf_puts(out, ENV_MAGIC "\n");
	buf_printf(out, "id =%s\n", env->id);
	buf_printf(out, "arrival %lld\n", (long long)env->arrival);
	buf_puts(out, "sender");
	put_value(out, env->sender ? env->sender : "");
	buf_puts(out, "\nauth");
	put_value(out, env->auth_user);
	buf_puts(out, "\norigin");
	put_value(out, env->origin);
	buf_puts(out, "\nclient");
	put_value(out, env->client_addr);
	put_value(out, env->client_helo);
	if (env->relay_net >= 0)
		buf_printf(out, "\nrelaynet %d", env->relay_net ? 1 : 0);
	buf_puts(out, "\nbody");
	put_value(out, env->body_type);
	buf_printf(out, "\nsmtputf8 %d\nenvid", env->smtputf8 ? 1 : 0);
	put_value(out, env->envid);
	buf_puts(out, "\nret");
	put_value(out, env->ret);
	buf_printf(out, "\nhops %d\nbulk %d\ndelay-notified %lld\n", env->hops,
	    env->bulk ? 1 : 0, (long long)env->delay_notified);
	for (size_t i = 0; i < env->nrcpts; i++) {
		const struct queue_rcpt *r = &env->rcpts[i];
		buf_puts(out, "rcpt");
		put_value(out, r->address);
		put_value(out, r->orcpt);
		buf_printf(out, " %u %d %d %lld", r->notify, (int)r->status,
		    r->attempts, (long long)r->next_attempt);
		put_value(out, r->last_error);
		put_value(out, r->extra);
		buf_putc(out, '\n');
	}
	buf_puts(out, "end\n");
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* take_value - parse one " =value" or " -" token from *p; 0 ok, -1 bad */
static int
take_value(const char **p, const char *end, char **out)
{
	const char *s = *p;
	struct buf b;

	*out = NULL;
	if (s >= end || *s != ' ')
		return -1;
	s++;
	if (s < end && *s == '-' && (s + 1 == end || s[1] == ' ')) {
		*p = s + 1;
		return 0;
	}
	if (s >= end || *s != '=')
		return -1;
	s++;
	buf_init(&b, QUEUE_ENV_MAX);
	while (s < end && *s != ' ') {
		char c = *s;
		if (c == '%') {
			int h, l;
			if (end - s < 3 || (h = hexval(s[1])) < 0 || (l = hexval(s[2])) < 0 ||
			    (h == 0 && l == 0)) {
				buf_free(&b);
				return -1;
			}
			c = (char)(h * 16 + l);
			s += 3;
		} else {
			s++;
		}
		buf_putc(&b, c);
	}
	*p = s;
	*out = buf_steal(&b);
	return 0;
}

static int
take_int(const char **p, const char *end, long long min, long long max,
	 long long *out)
{
	const char *s = *p;
	char num[24];
	size_t n = 0;

	if (s >= end || *s != ' ')
		return -1;
	s++;
	while (s < end && *s != ' ' && n < sizeof(num) - 1)
		num[n++] = *s++;
	num[n] = '\0';
	if (parse_long(num, min, max, out) < 0)
		return -1;
	*p = s;
	return 0;
}

int
queue_env_parse(const char *data, size_t len, struct queue_env *env,
		const char **error_r)
{
	const char *p = data, *end = data + len;
	size_t lineno = 0;
	bool ended = false, v1 = false, v2 = false;
	long long v;

	queue_env_init(env, NULL);
	if (len > QUEUE_ENV_MAX) {
		errno = 0;
		return qfail(error_r, "envelope larger than %d bytes", QUEUE_ENV_MAX);
	}
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		const char *s;
		char *a = NULL, *b = NULL;
		lineno++;
		if (nl == NULL || ended)
			goto bad;
		if (lineno == 1) {
			/* both magics have the same length */
			if ((size_t)(le - p) != strlen(ENV_MAGIC))
				goto bad;
			v1 = memcmp(p, ENV_MAGIC_V1, strlen(ENV_MAGIC_V1)) == 0;
			v2 = memcmp(p, ENV_MAGIC_V2, strlen(ENV_MAGIC_V2)) == 0;
			if (!v1 && !v2 &&
			    memcmp(p, ENV_MAGIC, strlen(ENV_MAGIC)) != 0)
				goto bad;
			p = nl + 1;
			continue;
		}
		s = memchr(p, ' ', (size_t)(le - p));
		size_t klen = s ? (size_t)(s - p) : (size_t)(le - p);
		char key[20];
		if (klen >= sizeof(key))
			goto bad;
		memcpy(key, p, klen);
		key[klen] = '\0';
		s = p + klen;
		if (strcmp(key, "end") == 0) {
			if (s != le)
				goto bad;
			ended = true;
		} else if (strcmp(key, "id") == 0) {
			if (take_value(&s, le, &a) < 0 || a == NULL || !id_valid(a))
				goto badv;
			snprintf(env->id, sizeof(env->id), "%s", a);
			free(a);
		} else if (strcmp(key, "arrival") == 0) {
			if (take_int(&s, le, 0, LLONG_MAX / 2, &v) < 0)
				goto bad;
			env->arrival = (time_t)v;
		} else if (strcmp(key, "sender") == 0) {
			if (take_value(&s, le, &a) < 0 || a == NULL)
				goto badv;
			free(env->sender);
			env->sender = a;
		} else if (strcmp(key, "auth") == 0) {
			if (take_value(&s, le, &a) < 0)
				goto badv;
			free(env->auth_user);
			env->auth_user = a;
		} else if (strcmp(key, "origin") == 0 && !v1) {
			if (take_value(&s, le, &a) < 0)
				goto badv;
			free(env->origin);
			env->origin = a;
		} else if (strcmp(key, "client") == 0) {
			if (take_value(&s, le, &a) < 0 || take_value(&s, le, &b) < 0)
				goto badv;
			free(env->client_addr);
			free(env->client_helo);
			env->client_addr = a;
			env->client_helo = b;
		} else if (strcmp(key, "relaynet") == 0 && !v1 && !v2) {
			if (take_int(&s, le, 0, 1, &v) < 0)
				goto bad;
			env->relay_net = (int)v;
		} else if (strcmp(key, "body") == 0) {
			if (take_value(&s, le, &a) < 0)
				goto badv;
			free(env->body_type);
			env->body_type = a;
		} else if (strcmp(key, "smtputf8") == 0) {
			if (take_int(&s, le, 0, 1, &v) < 0)
				goto bad;
			env->smtputf8 = v != 0;
		} else if (strcmp(key, "envid") == 0) {
			if (take_value(&s, le, &a) < 0)
				goto badv;
			free(env->envid);
			env->envid = a;
		} else if (strcmp(key, "ret") == 0) {
			if (take_value(&s, le, &a) < 0)
				goto badv;
			free(env->ret);
			env->ret = a;
		} else if (strcmp(key, "hops") == 0) {
			if (take_int(&s, le, 0, 100000, &v) < 0)
				goto bad;
			env->hops = (int)v;
		} else if (strcmp(key, "bulk") == 0) {
			if (take_int(&s, le, 0, 1, &v) < 0)
				goto bad;
			env->bulk = v != 0;
		} else if (strcmp(key, "delay-notified") == 0) {
			if (take_int(&s, le, 0, LLONG_MAX / 2, &v) < 0)
				goto bad;
			env->delay_notified = (time_t)v;
		} else if (strcmp(key, "rcpt") == 0) {
			long long notify, status, attempts, next;
			char *err = NULL, *extra = NULL;
			if (take_value(&s, le, &a) < 0 || a == NULL ||
			    take_value(&s, le, &b) < 0 ||
			    take_int(&s, le, 0, 15, &notify) < 0 ||
			    take_int(&s, le, RCPT_PENDING, RCPT_FAILED, &status) < 0 ||
			    take_int(&s, le, 0, 1000000, &attempts) < 0 ||
			    take_int(&s, le, 0, LLONG_MAX / 2, &next) < 0 ||
			    take_value(&s, le, &err) < 0 || take_value(&s, le, &extra) < 0) {
				free(err);
				free(extra);
				goto badv;
			}
			if (env->nrcpts >= 100000) {
				free(err);
				free(extra);
				goto badv;
			}
			struct queue_rcpt *r = queue_env_add_rcpt(env, a, b, (unsigned)notify);
			r->status = (enum rcpt_status)status;
			r->attempts = (int)attempts;
			r->next_attempt = (time_t)next;
			r->last_error = err;
			r->extra = extra;
			free(a);
			free(b);
			a = b = NULL;
		} else {
			goto bad;
		}
		if (s != le)
			goto bad;
		p = nl + 1;
		continue;
badv:
		free(a);
		free(b);
bad:
		errno = 0;
		queue_env_free(env);
		return qfail(error_r, "malformed envelope at line %zu", lineno);
	}
	if (!ended || env->id[0] == '\0') {
		errno = 0;
		queue_env_free(env);
		return qfail(error_r, "truncated envelope (no end line or no id)");
	}
	return 0;
}

/* ---- layout ---- */

char *
queue_path(const char *root, const char *conn, enum queue_dir dir)
{
	return xasprintf("%s/%s/%s", root, conn,
	    dir == QUEUE_INBOUND ? "inbound" : "outgoing");
}

int
queue_ensure(const char *qpath)
{
	static const char *const subs[] = { "tmp", "new", "cur" };

	for (size_t i = 0; i < 3; i++) {
		char *p = path_join(qpath, subs[i]);
		int r = mkdir_p(p, 0750);
		free(p);
		if (r < 0)
			return -1;
	}
	return 0;
}

static char *
item_file(const char *qpath, const char *sub, const char *id, const char *ext)
{
	return xasprintf("%s/%s/%s.%s", qpath, sub, id, ext);
}

/* write_env_file - format env into path (O_EXCL unless replace) and fsync */
static int
write_env_file(const char *path, const struct queue_env *env, bool replace,
	       const char **error_r)
{
	struct buf b;
	int fd, r = 0;

	buf_init(&b, 0);
	queue_env_format(env, &b);
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (replace ? O_TRUNC : O_EXCL),
	    0640);
	if (fd < 0) {
		buf_free(&b);
		return qfail(error_r, "create %s", path);
	}
	if (write_full(fd, b.data, b.len) < 0 || fsync(fd) < 0) {
		r = qfail(error_r, "write %s", path);
		close(fd);
		unlink(path);
		buf_free(&b);
		return r;
	}
	if (close(fd) < 0) {
		r = qfail(error_r, "close %s", path);
		unlink(path);
	}
	buf_free(&b);
	return r;
}

/* Group fsync of a new/ directory for writers on several threads
 * (smtpd's commit threads): a writer whose renames are done takes a
 * ticket; the first fsync of the directory that starts after that covers
 * it, so while one runs, the writers that arrive wait for the next one,
 * which one of them makes for all. A failed fsync fails every ticket it
 * was to cover. */
#define GSYNC_DIRS 8
struct gsync {
	char *dir;
	uint64_t ticket;         /* last ticket given */
	uint64_t done;           /* every ticket up to this is covered */
	uint64_t fail_upto;      /* tickets up to this had a failed fsync */
	bool running;
};
static pthread_mutex_t gsync_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gsync_cond = PTHREAD_COND_INITIALIZER;
static struct gsync gsyncs[GSYNC_DIRS];

/* group_fsync_dir - fsync_dir(dir) for a writer whose changes in dir are
 * made, shared with the writers of other threads; 0 or -1 */
static int
group_fsync_dir(const char *dir)
{
	struct gsync *g = NULL;
	uint64_t t;
	int r;

	pthread_mutex_lock(&gsync_lock);
	for (size_t i = 0; i < GSYNC_DIRS && g == NULL; i++)
		if (gsyncs[i].dir != NULL && strcmp(gsyncs[i].dir, dir) == 0)
			g = &gsyncs[i];
	for (size_t i = 0; i < GSYNC_DIRS && g == NULL; i++)
		if (gsyncs[i].dir == NULL) {
			g = &gsyncs[i];
			g->dir = xstrdup(dir);
		}
	if (g == NULL) {
		/* more directories than slots: on its own */
		pthread_mutex_unlock(&gsync_lock);
		return fsync_dir(dir);
	}
	t = ++g->ticket;
	for (;;) {
		if (g->done >= t) {
			r = 0;
			if (t <= g->fail_upto) {
				r = -1;
				errno = EIO;   /* the fsync another writer made */
			}
			break;
		}
		if (!g->running) {
			uint64_t target = g->ticket;
			g->running = true;
			pthread_mutex_unlock(&gsync_lock);
			r = fsync_dir(dir);
			int saved = errno;
			pthread_mutex_lock(&gsync_lock);
			g->running = false;
			g->done = target;
			if (r < 0)
				g->fail_upto = target;
			pthread_cond_broadcast(&gsync_cond);
			errno = r < 0 && saved == 0 ? EIO : saved;
			break;
		}
		pthread_cond_wait(&gsync_cond, &gsync_lock);
	}
	pthread_mutex_unlock(&gsync_lock);
	return r;
}

/* publish - rename tmp/<id>.msg and tmp/<id>.env into new/, then fsync. */
static int
publish(const char *qpath, const char *id, const char **error_r)
{
	char *tm = item_file(qpath, "tmp", id, "msg"), *te = item_file(qpath, "tmp", id, "env");
	char *nm = item_file(qpath, "new", id, "msg"), *ne = item_file(qpath, "new", id, "env");
	char *newdir = path_join(qpath, "new");
	int r = 0;

	if (rename(tm, nm) < 0) {
		r = qfail(error_r, "rename %s", tm);
		unlink(tm);
		unlink(te);
	} else if (rename(te, ne) < 0) {
		r = qfail(error_r, "rename %s", te);
		unlink(nm);
		unlink(te);
	} else if (group_fsync_dir(newdir) < 0) {
		/* the item may not survive a power loss: take it back so the
		 * client is not told it is safe */
		r = qfail(error_r, "fsync %s", newdir);
		unlink(ne);
		unlink(nm);
	}
	free(tm);
	free(te);
	free(nm);
	free(ne);
	free(newdir);
	return r;
}

struct queue_writer {
	char *qpath;
	char id[QUEUE_ID_MAX + 1];
	char *msg_tmp;
	int fd;
	off_t size;
	bool failed;
	int saved_errno;
};

struct queue_writer *
queue_writer_open(const char *qpath, const char *id, const char **error_r)
{
	struct queue_writer *w;

	if (!id_valid(id)) {
		errno = 0;
		qfail(error_r, "invalid queue id '%s'", id);
		return NULL;
	}
	if (queue_ensure(qpath) < 0) {
		qfail(error_r, "create queue %s", qpath);
		return NULL;
	}
	w = xcalloc(1, sizeof(*w));
	w->qpath = xstrdup(qpath);
	snprintf(w->id, sizeof(w->id), "%s", id);
	w->msg_tmp = item_file(qpath, "tmp", id, "msg");
	w->fd = open(w->msg_tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (w->fd < 0) {
		qfail(error_r, "create %s", w->msg_tmp);
		free(w->msg_tmp);
		free(w->qpath);
		free(w);
		return NULL;
	}
	return w;
}

int
queue_writer_write(struct queue_writer *w, const void *data, size_t len)
{
	if (w->failed)
		return -1;
	if (write_full(w->fd, data, len) < 0) {
		w->failed = true;
		w->saved_errno = errno;
		return -1;
	}
	w->size += (off_t)len;
	return 0;
}

off_t
queue_writer_size(struct queue_writer *w)
{
	return w->size;
}

const char *
queue_writer_path(const struct queue_writer *w)
{
	return w->msg_tmp;
}

static void
writer_free(struct queue_writer *w)
{
	if (w->fd >= 0)
		close(w->fd);
	free(w->msg_tmp);
	free(w->qpath);
	free(w);
}

void
queue_writer_abort(struct queue_writer **wp)
{
	struct queue_writer *w = *wp;

	if (w == NULL)
		return;
	unlink(w->msg_tmp);
	writer_free(w);
	*wp = NULL;
}

int
queue_writer_commit(struct queue_writer **wp, const struct queue_env *env,
		    const char **error_r)
{
	struct queue_writer *w = *wp;
	char *env_tmp;
	int r;

	*wp = NULL;
	if (strcmp(env->id, w->id) != 0) {
		errno = 0;
		qfail(error_r, "envelope id %s does not match item %s", env->id, w->id);
		unlink(w->msg_tmp);
		writer_free(w);
		return -1;
	}
	if (w->failed) {
		errno = w->saved_errno;
		qfail(error_r, "write %s", w->msg_tmp);
		unlink(w->msg_tmp);
		writer_free(w);
		return -1;
	}
	if (fsync(w->fd) < 0 || close(w->fd) < 0) {
		w->fd = -1;
		qfail(error_r, "fsync %s", w->msg_tmp);
		unlink(w->msg_tmp);
		writer_free(w);
		return -1;
	}
	w->fd = -1;
	env_tmp = item_file(w->qpath, "tmp", w->id, "env");
	r = write_env_file(env_tmp, env, false, error_r);
	free(env_tmp);
	if (r < 0) {
		unlink(w->msg_tmp);
		writer_free(w);
		return -1;
	}
	r = publish(w->qpath, w->id, error_r);
	writer_free(w);
	return r;
}

static int
copy_file(const char *from, const char *to)
{
	char chunk[65536];
	int in, out, saved;
	ssize_t n;

	in = open(from, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -1;
	out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (out < 0) {
		saved = errno;
		close(in);
		errno = saved;
		return -1;
	}
	while ((n = read(in, chunk, sizeof(chunk))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (write_full(out, chunk, (size_t)n) < 0) {
			n = -1;
			break;
		}
	}
	if (n == 0 && fsync(out) < 0)
		n = -1;
	saved = errno;
	close(in);
	if (close(out) < 0 && n == 0)
		n = -1;
	if (n < 0) {
		unlink(to);
		errno = saved;
		return -1;
	}
	return 0;
}

int
queue_put_file(const char *qpath, const char *msg_path,
	       const struct queue_env *env, const char **error_r)
{
	char *tm, *te;
	int r;

	if (!id_valid(env->id)) {
		errno = 0;
		return qfail(error_r, "invalid queue id '%s'", env->id);
	}
	if (queue_ensure(qpath) < 0)
		return qfail(error_r, "create queue %s", qpath);
	tm = item_file(qpath, "tmp", env->id, "msg");
	te = item_file(qpath, "tmp", env->id, "env");
	/* a hard link shares the already durable message; across file
	 * systems, a copy */
	unlink(tm);
	if (link(msg_path, tm) < 0 && copy_file(msg_path, tm) < 0) {
		r = qfail(error_r, "link %s to %s", msg_path, tm);
		free(tm);
		free(te);
		return r;
	}
	unlink(te);
	if (write_env_file(te, env, false, error_r) < 0) {
		unlink(tm);
		free(tm);
		free(te);
		return -1;
	}
	free(tm);
	free(te);
	return publish(qpath, env->id, error_r);
}

/* ---- retire journal ---- */

#define JOURNAL_MAGIC "POSTERN-RETIRE 1"
#define JOURNAL_MAX (16 * 1024 * 1024)

struct queue_journal {
	char *path;
	struct buf text;
	size_t item_at;      /* offset of the current item's line */
	size_t nmoves;       /* moves of the current item */
	char cur_id[QUEUE_ID_MAX + 1];
	bool written;
};

struct queue_journal *
queue_journal_new(const char *qpath)
{
	struct queue_journal *j = xcalloc(1, sizeof(*j));

	j->path = xasprintf("%s/cur/retire.%ld", qpath, (long)getpid());
	buf_init(&j->text, JOURNAL_MAX);
	buf_puts(&j->text, JOURNAL_MAGIC "\n");
	return j;
}

/* journal_close_item - the count of the current item's moves */
static void
journal_close_item(struct queue_journal *j)
{
	if (j->cur_id[0] == '\0')
		return;
	buf_printf(&j->text, "end %zu\n", j->nmoves);
	j->cur_id[0] = '\0';
}

void
queue_journal_item(struct queue_journal *j, const char *id)
{
	journal_close_item(j);
	snprintf(j->cur_id, sizeof(j->cur_id), "%s", id);
	j->nmoves = 0;
	buf_puts(&j->text, "item");
	put_value(&j->text, id);
	buf_putc(&j->text, '\n');
}

void
queue_journal_move(struct queue_journal *j, const char *from, const char *to,
		   bool gone_ok, bool maildir)
{
	buf_printf(&j->text, "move %d %d", gone_ok ? 1 : 0, maildir ? 1 : 0);
	put_value(&j->text, from);
	put_value(&j->text, to);
	buf_putc(&j->text, '\n');
	j->nmoves++;
}

int
queue_journal_write(struct queue_journal *j, const char **error_r)
{
	char *tmp = xasprintf("%s.tmp", j->path);
	int fd, r = 0;

	journal_close_item(j);
	/* a rename: a crash leaves the whole journal or none */
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0 || write_full(fd, j->text.data, j->text.len) < 0 ||
	    close(fd) < 0 || rename(tmp, j->path) < 0) {
		r = qfail(error_r, "write %s", j->path);
		unlink(tmp);
	} else {
		j->written = true;
	}
	free(tmp);
	return r;
}

void
queue_journal_free(struct queue_journal **jp)
{
	struct queue_journal *j = *jp;

	if (j == NULL)
		return;
	if (j->written)
		unlink(j->path);
	buf_free(&j->text);
	free(j->path);
	free(j);
	*jp = NULL;
}

/* maildir_moved_on - a <folder>/cur/<name>:<flags> for to =
 * <folder>/new/<name> (a mail client took the message to cur/) */
static bool
maildir_moved_on(const char *to)
{
	const char *slash = strrchr(to, '/');
	bool found = false;

	if (slash == NULL || slash - to < 4 || strncmp(slash - 4, "/new", 4) != 0)
		return false;
	const char *name = slash + 1;
	size_t nl = strlen(name);
	char *cur = xasprintf("%.*s/cur", (int)(slash - 4 - to), to);
	DIR *d = opendir(cur);
	if (d != NULL) {
		struct dirent *e;
		while (!found && (e = readdir(d)) != NULL)
			found = strncmp(e->d_name, name, nl) == 0 &&
			    (e->d_name[nl] == '\0' || e->d_name[nl] == ':');
		closedir(d);
	}
	free(cur);
	return found;
}

struct jitem {
	char *id;
	bool ok;             /* its end line seen, every move proven */
	bool unproven;       /* a move neither made nor provably made */
};

/* journal_recover - complete one journal file: see queue.h */
static void
journal_recover(const char *qpath, const char *path)
{
	struct buf b;
	struct dirset dirs = { 0 };
	struct jitem *items = NULL;
	size_t nitems = 0;

	buf_init(&b, JOURNAL_MAX);
	if (file_read(path, &b) < 0 || b.len < strlen(JOURNAL_MAGIC) + 1 ||
	    memcmp(b.data, JOURNAL_MAGIC "\n", strlen(JOURNAL_MAGIC) + 1) != 0)
		goto out;
	const char *p = b.data + strlen(JOURNAL_MAGIC) + 1, *end = b.data + b.len;
	struct jitem *it = NULL;
	size_t nmoves = 0;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *s;
		char *a = NULL, *c = NULL;
		if (nl == NULL)
			break;
		if (strncmp(p, "item ", 5) == 0) {
			s = p + 4;
			if (take_value(&s, nl, &a) < 0 || a == NULL || s != nl ||
			    !id_valid(a)) {
				free(a);
				break;
			}
			items = xreallocarray(items, nitems + 1, sizeof(*items));
			it = &items[nitems++];
			it->id = a;
			it->ok = false;    /* until its end line */
			it->unproven = false;
			nmoves = 0;
		} else if (strncmp(p, "move ", 5) == 0 && it != NULL &&
		    nl - p > 9 && (p[5] == '0' || p[5] == '1') && p[6] == ' ' &&
		    (p[7] == '0' || p[7] == '1')) {
			bool gone_ok = p[5] == '1', maildir = p[7] == '1';
			s = p + 8;
			if (take_value(&s, nl, &a) < 0 || a == NULL ||
			    take_value(&s, nl, &c) < 0 || c == NULL || s != nl) {
				free(a);
				free(c);
				break;
			}
			/* the moves of one item are made in order, each
			 * whatever happened to the one before: the item is
			 * retired only if every one is proven */
			bool made;
			if (access(a, F_OK) == 0)
				made = rename(a, c) == 0;
			else
				made = access(c, F_OK) == 0 || gone_ok ||
				    (maildir && maildir_moved_on(c));
			if (made) {
				char *dir = xstrdup(c), *sl = strrchr(dir, '/');
				if (sl != NULL) {
					*sl = '\0';
					dirset_add(&dirs, dir);
				}
				free(dir);
			}
			nmoves++;
			if (!made)
				it->unproven = true;
			free(a);
			free(c);
		} else if (strncmp(p, "end ", 4) == 0 && it != NULL) {
			char num[24];
			size_t n = (size_t)(nl - p - 4);
			long long want;
			if (n == 0 || n >= sizeof(num))
				break;
			memcpy(num, p + 4, n);
			num[n] = '\0';
			if (parse_long(num, 0, 1000000, &want) < 0)
				break;
			it->ok = (size_t)want == nmoves && !it->unproven;
			it = NULL;
		} else {
			break;
		}
		p = nl + 1;
	}
	/* the results durable before any item goes */
	if (dirset_fsync(&dirs) == 0) {
		for (size_t i = 0; i < nitems; i++) {
			if (!items[i].ok)
				continue;
			char *ce = item_file(qpath, "cur", items[i].id, "env");
			char *cm = item_file(qpath, "cur", items[i].id, "msg");
			unlink(ce);
			unlink(cm);
			free(ce);
			free(cm);
		}
	}
out:
	for (size_t i = 0; i < nitems; i++)
		free(items[i].id);
	free(items);
	dirset_free(&dirs);
	buf_free(&b);
	unlink(path);
}

/* journal_recover_all - every retire journal in qpath/cur */
static void
journal_recover_all(const char *qpath)
{
	char *cur = path_join(qpath, "cur");
	DIR *d = opendir(cur);
	struct dirent *e;
	char **paths = NULL;
	size_t n = 0;

	if (d != NULL) {
		while ((e = readdir(d)) != NULL) {
			if (strncmp(e->d_name, "retire.", 7) != 0)
				continue;
			paths = xreallocarray(paths, n + 1, sizeof(*paths));
			paths[n++] = path_join(cur, e->d_name);
		}
		closedir(d);
	}
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(paths[i]);
		if (len > 4 && strcmp(paths[i] + len - 4, ".tmp") == 0)
			unlink(paths[i]);   /* never complete */
		else
			journal_recover(qpath, paths[i]);
		free(paths[i]);
	}
	free(paths);
	free(cur);
}

/* ---- group commit ---- */

enum qb_state { QB_STAGED, QB_SYNCED, QB_PUBLISHED, QB_FAILED, QB_DROPPED };

struct qb_entry {
	int tag;
	char *qpath;
	char id[QUEUE_ID_MAX + 1];
	int env_fd;               /* open until the commit's fdatasync */
	enum qb_state state;
	size_t dir;               /* index of qpath/new in the dirset */
};

struct queue_batch {
	struct qb_entry *e;
	size_t n;
	char err[512];
};

struct queue_batch *
queue_batch_new(void)
{
	return xcalloc(1, sizeof(struct queue_batch));
}

/* qb_unstage - remove an entry's files from tmp/ (or new/ once published) */
static void
qb_unstage(struct qb_entry *e, const char *sub)
{
	char *m = item_file(e->qpath, sub, e->id, "msg");
	char *v = item_file(e->qpath, sub, e->id, "env");

	/* the envelope first: it is the commit record */
	unlink(v);
	unlink(m);
	free(m);
	free(v);
	if (e->env_fd >= 0)
		close(e->env_fd);
	e->env_fd = -1;
}

int
queue_batch_put_file(struct queue_batch *b, int tag, const char *qpath,
		     const char *msg_path, const struct queue_env *env,
		     const char **error_r)
{
	struct buf text;
	struct qb_entry *e;
	char *tm, *te;
	int fd, r = 0;

	if (!id_valid(env->id)) {
		errno = 0;
		return qfail(error_r, "invalid queue id '%s'", env->id);
	}
	for (size_t i = 0; i < b->n; i++)
		if (b->e[i].state == QB_STAGED && strcmp(b->e[i].id, env->id) == 0 &&
		    strcmp(b->e[i].qpath, qpath) == 0) {
			errno = 0;
			return qfail(error_r, "item %s is in this batch already",
			    env->id);
		}
	if (queue_ensure(qpath) < 0)
		return qfail(error_r, "create queue %s", qpath);
	tm = item_file(qpath, "tmp", env->id, "msg");
	te = item_file(qpath, "tmp", env->id, "env");
	unlink(tm);
	unlink(te);
	/* a hard link shares the already durable message; across file
	 * systems, a copy (fsynced by copy_file) */
	if (link(msg_path, tm) < 0 && copy_file(msg_path, tm) < 0) {
		r = qfail(error_r, "link %s to %s", msg_path, tm);
		goto out;
	}
	buf_init(&text, 0);
	queue_env_format(env, &text);
	fd = open(te, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (fd < 0 || write_full(fd, text.data, text.len) < 0) {
		r = qfail(error_r, "write %s", te);
		if (fd >= 0)
			close(fd);
		unlink(te);
		unlink(tm);
		buf_free(&text);
		goto out;
	}
	buf_free(&text);
	sync_start(fd);
	b->e = xreallocarray(b->e, b->n + 1, sizeof(*b->e));
	e = &b->e[b->n++];
	memset(e, 0, sizeof(*e));
	e->tag = tag;
	e->qpath = xstrdup(qpath);
	snprintf(e->id, sizeof(e->id), "%s", env->id);
	e->env_fd = fd;
	e->state = QB_STAGED;
out:
	free(tm);
	free(te);
	return r;
}

void
queue_batch_drop(struct queue_batch *b, int tag)
{
	for (size_t i = 0; i < b->n; i++) {
		struct qb_entry *e = &b->e[i];
		if (e->tag == tag && e->state == QB_STAGED) {
			qb_unstage(e, "tmp");
			e->state = QB_DROPPED;
		}
	}
}

size_t
queue_batch_size(const struct queue_batch *b)
{
	size_t n = 0;

	for (size_t i = 0; i < b->n; i++)
		if (b->e[i].state == QB_STAGED)
			n++;
	return n;
}

/* qb_fail - an entry that cannot be committed; its tag's other entries
 * fail with it (the caller retries the whole unit) */
static void
qb_fail(struct queue_batch *b, struct qb_entry *e, const char *what)
{
	snprintf(b->err, sizeof(b->err), "%s %s/%s: %s", what, e->qpath,
	    e->id, strerror(errno));
	for (size_t i = 0; i < b->n; i++) {
		struct qb_entry *o = &b->e[i];
		if (o->tag != e->tag)
			continue;
		if (o->state == QB_STAGED || o->state == QB_SYNCED)
			qb_unstage(o, "tmp");
		else if (o->state == QB_PUBLISHED)
			qb_unstage(o, "new");
		if (o->state != QB_DROPPED)
			o->state = QB_FAILED;
	}
}

/* journal_fill - jr lists every unit of tag_items none of whose entries
 * failed, with the moves of its entries into new/ */
static void
journal_fill(struct queue_journal *jr, const struct queue_batch *b,
	     const char *const *tag_items, size_t ntags)
{
	buf_reset(&jr->text);
	jr->cur_id[0] = '\0';
	buf_puts(&jr->text, JOURNAL_MAGIC "\n");
	for (size_t t = 0; t < ntags; t++) {
		bool whole = tag_items[t] != NULL;
		for (size_t i = 0; whole && i < b->n; i++)
			if (b->e[i].tag == (int)t && b->e[i].state == QB_FAILED)
				whole = false;
		if (!whole)
			continue;
		queue_journal_item(jr, tag_items[t]);
		for (size_t i = 0; i < b->n; i++) {
			const struct qb_entry *e = &b->e[i];
			if (e->tag != (int)t || (e->state != QB_SYNCED &&
			    e->state != QB_PUBLISHED))
				continue;
			char *tm = item_file(e->qpath, "tmp", e->id, "msg");
			char *te = item_file(e->qpath, "tmp", e->id, "env");
			char *nm = item_file(e->qpath, "new", e->id, "msg");
			char *ne = item_file(e->qpath, "new", e->id, "env");
			queue_journal_move(jr, tm, nm, true, false);
			queue_journal_move(jr, te, ne, true, false);
			free(tm);
			free(te);
			free(nm);
			free(ne);
		}
	}
}

size_t
queue_batch_commit(struct queue_batch *b, struct queue_journal *jr,
		   const char *const *tag_items, size_t ntags,
		   const char **error_r)
{
	struct dirset dirs = { 0 };
	size_t failed = 0;

	b->err[0] = '\0';
	crashpoint("queue.batch.staged");
	/* 1. the envelopes' data (the messages are durable already) */
	for (size_t i = 0; i < b->n; i++) {
		struct qb_entry *e = &b->e[i];
		if (e->state != QB_STAGED)
			continue;
		if (fdatasync(e->env_fd) < 0 || close(e->env_fd) < 0) {
			e->env_fd = -1;
			qb_fail(b, e, "sync");
			continue;
		}
		e->env_fd = -1;
		e->state = QB_SYNCED;
	}
	crashpoint("queue.batch.synced");
	/* the retire journal, once the staged names are durable too: its
	 * recovery may take a file gone from tmp/ for moved (and taken by
	 * the next consumer) only if it cannot have lost its name there */
	if (jr != NULL) {
		struct dirset tmps = { 0 };
		const char *jerr;
		for (size_t i = 0; i < b->n; i++)
			if (b->e[i].state == QB_SYNCED) {
				char *t = path_join(b->e[i].qpath, "tmp");
				dirset_add(&tmps, t);
				free(t);
			}
		if (dirset_fsync(&tmps) == 0) {
			journal_fill(jr, b, tag_items, ntags);
			(void)queue_journal_write(jr, &jerr);
		}
		dirset_free(&tmps);
		crashpoint("queue.batch.journaled");
	}
	/* 2. into new/: message, then envelope (the commit record) */
	for (size_t i = 0; i < b->n; i++) {
		struct qb_entry *e = &b->e[i];
		if (e->state != QB_SYNCED)
			continue;
		char *tm = item_file(e->qpath, "tmp", e->id, "msg");
		char *te = item_file(e->qpath, "tmp", e->id, "env");
		char *nm = item_file(e->qpath, "new", e->id, "msg");
		char *ne = item_file(e->qpath, "new", e->id, "env");
		if (rename(tm, nm) < 0) {
			qb_fail(b, e, "publish");
		} else if (rename(te, ne) < 0) {
			int saved = errno;
			unlink(nm);
			errno = saved;
			qb_fail(b, e, "publish");
		} else {
			char *newdir = path_join(e->qpath, "new");
			e->dir = dirset_add(&dirs, newdir);
			free(newdir);
			e->state = QB_PUBLISHED;
		}
		free(tm);
		free(te);
		free(nm);
		free(ne);
	}
	crashpoint("queue.batch.published");
	/* 3. one fsync per new/ directory for the whole batch */
	if (dirset_fsync(&dirs) > 0) {
		/* those items may not survive a power loss: take them back,
		 * so that what they came from is not retired */
		for (size_t i = 0; i < b->n; i++) {
			struct qb_entry *e = &b->e[i];
			if (e->state == QB_PUBLISHED && dirs.err[e->dir] != 0) {
				errno = dirs.err[e->dir];
				qb_fail(b, e, "fsync new/ of");
			}
		}
	}
	dirset_free(&dirs);
	for (size_t i = 0; i < b->n; i++)
		if (b->e[i].state == QB_FAILED)
			failed++;
	if (failed > 0 && jr != NULL && jr->written) {
		/* the failed units are taken back: out of the journal */
		const char *jerr;
		journal_fill(jr, b, tag_items, ntags);
		if (queue_journal_write(jr, &jerr) < 0) {
			unlink(jr->path);
			jr->written = false;
		}
	}
	*error_r = b->err;
	crashpoint("queue.batch.committed");
	return failed;
}

bool
queue_batch_ok(const struct queue_batch *b, int tag)
{
	for (size_t i = 0; i < b->n; i++)
		if (b->e[i].tag == tag && b->e[i].state != QB_PUBLISHED &&
		    b->e[i].state != QB_DROPPED)
			return false;
	return true;
}

void
queue_batch_free(struct queue_batch **bp)
{
	struct queue_batch *b = *bp;

	if (b == NULL)
		return;
	for (size_t i = 0; i < b->n; i++) {
		struct qb_entry *e = &b->e[i];
		if (e->state == QB_STAGED || e->state == QB_SYNCED)
			qb_unstage(e, "tmp");
		free(e->qpath);
	}
	free(b->e);
	free(b);
	*bp = NULL;
}

/* ---- consuming ---- */

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* list_ext - ids of files with extension ext in qpath/sub */
static int
list_ext(const char *qpath, const char *sub, const char *ext, char ***ids_r,
	 size_t *n_r)
{
	char *dir = path_join(qpath, sub);
	DIR *d = opendir(dir);
	struct dirent *e;
	char **ids = NULL;
	size_t n = 0, elen = strlen(ext);

	free(dir);
	*ids_r = NULL;
	*n_r = 0;
	if (d == NULL)
		return errno == ENOENT ? 0 : -1;
	while ((e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);
		if (len <= elen + 1 || e->d_name[len - elen - 1] != '.' ||
		    strcmp(e->d_name + len - elen, ext) != 0)
			continue;
		char *id = xstrndup(e->d_name, len - elen - 1);
		if (!id_valid(id)) {
			free(id);
			continue;
		}
		ids = xreallocarray(ids, n + 1, sizeof(char *));
		ids[n++] = id;
	}
	closedir(d);
	if (n > 1)
		qsort(ids, n, sizeof(char *), cmp_str);
	*ids_r = ids;
	*n_r = n;
	return 0;
}

static void
free_ids(char **ids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
}

int
queue_scan(const char *qpath, char ***ids_r, size_t *n_r)
{
	return list_ext(qpath, "new", "env", ids_r, n_r);
}

static bool
older_than(const char *path, time_t age)
{
	struct stat st;

	return stat(path, &st) == 0 && time(NULL) - st.st_mtime > age;
}

int
queue_recover(const char *qpath)
{
	char **ids;
	size_t n;
	int r = 0;

	if (queue_ensure(qpath) < 0)
		return -1;
	/* batches a crash cut short: completed, their items retired */
	journal_recover_all(qpath);
	/* claimed items go back to new/: message first, then envelope */
	if (list_ext(qpath, "cur", "env", &ids, &n) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		char *cm = item_file(qpath, "cur", ids[i], "msg");
		char *ce = item_file(qpath, "cur", ids[i], "env");
		char *nm = item_file(qpath, "new", ids[i], "msg");
		char *ne = item_file(qpath, "new", ids[i], "env");
		if ((rename(cm, nm) < 0 && errno != ENOENT) || rename(ce, ne) < 0)
			r = -1;
		free(cm);
		free(ce);
		free(nm);
		free(ne);
	}
	free_ids(ids, n);
	/* a message left in cur/ without its envelope was done */
	if (list_ext(qpath, "cur", "msg", &ids, &n) == 0) {
		for (size_t i = 0; i < n; i++) {
			char *ce = item_file(qpath, "cur", ids[i], "env");
			char *cm = item_file(qpath, "cur", ids[i], "msg");
			if (access(ce, F_OK) < 0)
				unlink(cm);
			free(ce);
			free(cm);
		}
		free_ids(ids, n);
	}
	/* orphans: a message in new/ whose envelope never came (a writer
	 * died between the two renames; it never answered 250) */
	if (list_ext(qpath, "new", "msg", &ids, &n) == 0) {
		for (size_t i = 0; i < n; i++) {
			char *ne = item_file(qpath, "new", ids[i], "env");
			char *nm = item_file(qpath, "new", ids[i], "msg");
			if (access(ne, F_OK) < 0 && older_than(nm, ORPHAN_AGE))
				unlink(nm);
			free(ne);
			free(nm);
		}
		free_ids(ids, n);
	}
	/* stale partial writes */
	char *tmp = path_join(qpath, "tmp");
	DIR *d = opendir(tmp);
	if (d != NULL) {
		struct dirent *e;
		while ((e = readdir(d)) != NULL) {
			if (e->d_name[0] == '.')
				continue;
			char *p = path_join(tmp, e->d_name);
			if (older_than(p, TMP_AGE))
				unlink(p);
			free(p);
		}
		closedir(d);
	}
	free(tmp);
	char *cur = path_join(qpath, "cur"), *nw = path_join(qpath, "new");
	fsync_dir(cur);
	fsync_dir(nw);
	free(cur);
	free(nw);
	return r;
}

int
queue_claim(const char *qpath, const char *id, struct queue_item *item,
	    const char **error_r)
{
	char *ne, *nm;
	struct buf b;
	int r;

	memset(item, 0, sizeof(*item));
	if (!id_valid(id)) {
		errno = 0;
		return qfail(error_r, "invalid queue id '%s'", id);
	}
	ne = item_file(qpath, "new", id, "env");
	nm = item_file(qpath, "new", id, "msg");
	snprintf(item->id, sizeof(item->id), "%s", id);
	item->qpath = xstrdup(qpath);
	item->env_path = item_file(qpath, "cur", id, "env");
	item->msg_path = item_file(qpath, "cur", id, "msg");
	if (rename(ne, item->env_path) < 0) {
		int gone = errno == ENOENT;
		r = gone ? 0 : qfail(error_r, "claim %s", ne);
		free(ne);
		free(nm);
		queue_item_free(item);
		return r;
	}
	free(ne);
	if (rename(nm, item->msg_path) < 0 && access(item->msg_path, F_OK) < 0) {
		r = qfail(error_r, "item %s has no message file", id);
		free(nm);
		return r;
	}
	free(nm);
	buf_init(&b, QUEUE_ENV_MAX);
	if (file_read(item->env_path, &b) < 0) {
		buf_free(&b);
		return qfail(error_r, "read %s", item->env_path);
	}
	r = queue_env_parse(b.data ? b.data : "", b.len, &item->env, error_r);
	buf_free(&b);
	if (r < 0)
		return -1;
	if (strcmp(item->env.id, id) != 0) {
		errno = 0;
		return qfail(error_r, "envelope of %s names id %s", id, item->env.id);
	}
	return 1;
}

int
queue_item_update(struct queue_item *item, const char **error_r)
{
	char *tmp = xasprintf("%s.new", item->env_path);
	int r;

	unlink(tmp);
	r = write_env_file(tmp, &item->env, true, error_r);
	if (r == 0 && rename(tmp, item->env_path) < 0)
		r = qfail(error_r, "rename %s", tmp);
	if (r == 0) {
		char *cur = path_join(item->qpath, "cur");
		if (fsync_dir(cur) < 0)
			r = qfail(error_r, "fsync %s", cur);
		free(cur);
	} else {
		unlink(tmp);
	}
	free(tmp);
	return r;
}

ino_t
queue_env_ino(const char *qpath, const char *id)
{
	char *p = item_file(qpath, "new", id, "env");
	struct stat st;
	ino_t ino = stat(p, &st) == 0 ? st.st_ino : 0;

	free(p);
	return ino;
}

int
queue_item_release(struct queue_item *item, const char **error_r)
{
	char *nm = item_file(item->qpath, "new", item->id, "msg");
	char *ne = item_file(item->qpath, "new", item->id, "env");
	char *newdir = path_join(item->qpath, "new");
	int r = 0;

	if (rename(item->msg_path, nm) < 0)
		r = qfail(error_r, "release %s", item->msg_path);
	else if (rename(item->env_path, ne) < 0)
		r = qfail(error_r, "release %s", item->env_path);
	else
		fsync_dir(newdir);
	free(nm);
	free(ne);
	free(newdir);
	return r;
}

int
queue_item_done(struct queue_item *item, const char **error_r)
{
	int r = 0;

	/* the envelope is the commit record: it goes first. No fsync of the
	 * directory: the item's result is already durable elsewhere, and a
	 * removal lost to a power failure only brings the item back, which
	 * gives a duplicate, never a loss (a killed process loses nothing:
	 * the kernel has the unlink). That saves one fsync per message on
	 * every hop. */
	if (unlink(item->env_path) < 0 && errno != ENOENT)
		r = qfail(error_r, "remove %s", item->env_path);
	else if (unlink(item->msg_path) < 0 && errno != ENOENT)
		r = qfail(error_r, "remove %s", item->msg_path);
	return r;
}

int
queue_item_badmail(struct queue_item *item, const char *root,
		   const char *reason, const char **error_r)
{
	char *dir = path_join(root, "badmail");
	char *bm = xasprintf("%s/%s.msg", dir, item->id);
	char *be = xasprintf("%s/%s.env", dir, item->id);
	char *br = xasprintf("%s/%s.reason", dir, item->id);
	char *text = xasprintf("%s\n", reason);
	int r = 0;

	if (mkdir_p(dir, 0750) < 0)
		r = qfail(error_r, "create %s", dir);
	/* the reason first, so a message in bad mail always has one */
	else if (file_write_atomic(br, text, strlen(text), 0640) < 0)
		r = qfail(error_r, "write %s", br);
	else if (rename(item->msg_path, bm) < 0 && errno != ENOENT)
		r = qfail(error_r, "move %s to bad mail", item->msg_path);
	else if (rename(item->env_path, be) < 0 && errno != ENOENT)
		r = qfail(error_r, "move %s to bad mail", item->env_path);
	else
		fsync_dir(dir);
	free(dir);
	free(bm);
	free(be);
	free(br);
	free(text);
	return r;
}

void
queue_item_free(struct queue_item *item)
{
	free(item->qpath);
	free(item->msg_path);
	free(item->env_path);
	queue_env_free(&item->env);
	item->qpath = item->msg_path = item->env_path = NULL;
}

int
queue_watch_open(const char *qpath)
{
	char *newdir = path_join(qpath, "new");
	int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);

	if (fd >= 0 && inotify_add_watch(fd, newdir,
	    IN_MOVED_TO | IN_CLOSE_WRITE | IN_CREATE) < 0) {
		close(fd);
		fd = -1;
	}
	free(newdir);
	return fd;
}

void
queue_watch_drain(int fd)
{
	char buf[4096];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}
