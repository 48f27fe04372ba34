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
#include "queue-private.h"

static __thread char queue_err[512];  /* per thread: smtpd commits on workers */

/* qfail - see queue-private.h */
int
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

bool
q_id_valid(const char *id)
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

/* q_put_value - " =escaped" for a value, " -" for none */
void
q_put_value(struct buf *out, const char *v)
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
	q_put_value(out, env->sender ? env->sender : "");
	buf_puts(out, "\nauth");
	q_put_value(out, env->auth_user);
	buf_puts(out, "\norigin");
	q_put_value(out, env->origin);
	buf_puts(out, "\nclient");
	q_put_value(out, env->client_addr);
	q_put_value(out, env->client_helo);
	if (env->relay_net >= 0)
		buf_printf(out, "\nrelaynet %d", env->relay_net ? 1 : 0);
	buf_puts(out, "\nbody");
	q_put_value(out, env->body_type);
	buf_printf(out, "\nsmtputf8 %d\nenvid", env->smtputf8 ? 1 : 0);
	q_put_value(out, env->envid);
	buf_puts(out, "\nret");
	q_put_value(out, env->ret);
	buf_printf(out, "\nhops %d\nbulk %d\ndelay-notified %lld\n", env->hops,
	    env->bulk ? 1 : 0, (long long)env->delay_notified);
	for (size_t i = 0; i < env->nrcpts; i++) {
		const struct queue_rcpt *r = &env->rcpts[i];
		buf_puts(out, "rcpt");
		q_put_value(out, r->address);
		q_put_value(out, r->orcpt);
		buf_printf(out, " %u %d %d %lld", r->notify, (int)r->status,
		    r->attempts, (long long)r->next_attempt);
		q_put_value(out, r->last_error);
		q_put_value(out, r->extra);
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

/* q_take_value - parse one " =value" or " -" token from *p; 0 ok, -1 bad */
int
q_take_value(const char **p, const char *end, char **out)
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
			if (q_take_value(&s, le, &a) < 0 || a == NULL || !q_id_valid(a))
				goto badv;
			snprintf(env->id, sizeof(env->id), "%s", a);
			free(a);
		} else if (strcmp(key, "arrival") == 0) {
			if (take_int(&s, le, 0, LLONG_MAX / 2, &v) < 0)
				goto bad;
			env->arrival = (time_t)v;
		} else if (strcmp(key, "sender") == 0) {
			if (q_take_value(&s, le, &a) < 0 || a == NULL)
				goto badv;
			free(env->sender);
			env->sender = a;
		} else if (strcmp(key, "auth") == 0) {
			if (q_take_value(&s, le, &a) < 0)
				goto badv;
			free(env->auth_user);
			env->auth_user = a;
		} else if (strcmp(key, "origin") == 0 && !v1) {
			if (q_take_value(&s, le, &a) < 0)
				goto badv;
			free(env->origin);
			env->origin = a;
		} else if (strcmp(key, "client") == 0) {
			if (q_take_value(&s, le, &a) < 0 || q_take_value(&s, le, &b) < 0)
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
			if (q_take_value(&s, le, &a) < 0)
				goto badv;
			free(env->body_type);
			env->body_type = a;
		} else if (strcmp(key, "smtputf8") == 0) {
			if (take_int(&s, le, 0, 1, &v) < 0)
				goto bad;
			env->smtputf8 = v != 0;
		} else if (strcmp(key, "envid") == 0) {
			if (q_take_value(&s, le, &a) < 0)
				goto badv;
			free(env->envid);
			env->envid = a;
		} else if (strcmp(key, "ret") == 0) {
			if (q_take_value(&s, le, &a) < 0)
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
			if (q_take_value(&s, le, &a) < 0 || a == NULL ||
			    q_take_value(&s, le, &b) < 0 ||
			    take_int(&s, le, 0, 15, &notify) < 0 ||
			    take_int(&s, le, RCPT_PENDING, RCPT_FAILED, &status) < 0 ||
			    take_int(&s, le, 0, 1000000, &attempts) < 0 ||
			    take_int(&s, le, 0, LLONG_MAX / 2, &next) < 0 ||
			    q_take_value(&s, le, &err) < 0 || q_take_value(&s, le, &extra) < 0) {
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

char *
q_item_file(const char *qpath, const char *sub, const char *id, const char *ext)
{
	return xasprintf("%s/%s/%s.%s", qpath, sub, id, ext);
}

/* q_write_env_file - format env into path (O_EXCL unless replace) and fsync */
int
q_write_env_file(const char *path, const struct queue_env *env, bool replace,
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

/* q_publish - rename tmp/<id>.msg and tmp/<id>.env into new/, then fsync. */
int
q_publish(const char *qpath, const char *id, const char **error_r)
{
	char *tm = q_item_file(qpath, "tmp", id, "msg"), *te = q_item_file(qpath, "tmp", id, "env");
	char *nm = q_item_file(qpath, "new", id, "msg"), *ne = q_item_file(qpath, "new", id, "env");
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

	if (!q_id_valid(id)) {
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
	w->msg_tmp = q_item_file(qpath, "tmp", id, "msg");
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
	env_tmp = q_item_file(w->qpath, "tmp", w->id, "env");
	r = q_write_env_file(env_tmp, env, false, error_r);
	free(env_tmp);
	if (r < 0) {
		unlink(w->msg_tmp);
		writer_free(w);
		return -1;
	}
	r = q_publish(w->qpath, w->id, error_r);
	writer_free(w);
	return r;
}

int
q_copy_file(const char *from, const char *to)
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

	if (!q_id_valid(env->id)) {
		errno = 0;
		return qfail(error_r, "invalid queue id '%s'", env->id);
	}
	if (queue_ensure(qpath) < 0)
		return qfail(error_r, "create queue %s", qpath);
	tm = q_item_file(qpath, "tmp", env->id, "msg");
	te = q_item_file(qpath, "tmp", env->id, "env");
	/* a hard link shares the already durable message; across file
	 * systems, a copy */
	unlink(tm);
	if (link(msg_path, tm) < 0 && q_copy_file(msg_path, tm) < 0) {
		r = qfail(error_r, "link %s to %s", msg_path, tm);
		free(tm);
		free(te);
		return r;
	}
	unlink(te);
	if (q_write_env_file(te, env, false, error_r) < 0) {
		unlink(tm);
		free(tm);
		free(te);
		return -1;
	}
	free(tm);
	free(te);
	return q_publish(qpath, env->id, error_r);
}
