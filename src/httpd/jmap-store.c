/* jmap-store - the JMAP server's adapter onto lib-store (jmap-store.h) */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fsutil.h"
#include "jmap-store.h"
#include "store.h"
#include "strutil.h"
#include "xalloc.h"

#define UPLOAD_DIR "jmap-upload"
#define UPLOAD_MAX_AGE (24 * 3600)

struct jfolder {
	struct jms_folder pub;
	struct jms_msg *msgs;      /* NULL: not loaded */
	size_t nmsgs;
};

struct jms {
	struct store *st;
	char *root;
	int64_t quota_kb;
	struct jfolder *f;
	size_t nf;
};

static const char *
seterr(const char **error_r, const char *e)
{
	if (error_r != NULL)
		*error_r = e;
	return e;
}

static void
folders_free(struct jms *j)
{
	for (size_t i = 0; i < j->nf; i++) {
		free(j->f[i].pub.name);
		for (size_t k = 0; k < j->f[i].nmsgs; k++)
			free(j->f[i].msgs[k].keywords);
		free(j->f[i].msgs);
	}
	free(j->f);
	j->f = NULL;
	j->nf = 0;
}

int
jms_reload(struct jms *j, const char **error_r)
{
	struct store_folder_info *list;
	size_t n;

	folders_free(j);
	if (store_folder_list(j->st, &list, &n, error_r) < 0)
		return -1;
	j->f = xcalloc(n > 0 ? n : 1, sizeof(*j->f));
	for (size_t i = 0; i < n; i++) {
		struct store_folder_status fs;
		struct store_folder *sf = store_folder_open(j->st, list[i].name,
		    error_r);
		if (sf == NULL)
			continue;   /* removed meanwhile */
		if (store_folder_status(sf, &fs, error_r) < 0) {
			store_folder_close(&sf);
			store_folder_list_free(list, n);
			return -1;
		}
		store_folder_close(&sf);
		struct jms_folder *p = &j->f[j->nf++].pub;
		p->name = xstrdup(list[i].name);
		snprintf(p->id, sizeof(p->id), "f%" PRIu32, fs.uidvalidity);
		p->uidvalidity = fs.uidvalidity;
		p->uidnext = fs.uidnext;
		p->modseq = fs.highestmodseq;
		p->special_use = list[i].special_use;
		p->subscribed = list[i].subscribed;
		p->total = fs.messages;
		p->unseen = fs.unseen;
		p->size = fs.size;
	}
	store_folder_list_free(list, n);
	return 0;
}

struct jms *
jms_open(const char *root, int64_t quota_kb, const char **error_r)
{
	struct store *st = store_open(root, error_r);

	if (st == NULL)
		return NULL;
	struct jms *j = xcalloc(1, sizeof(*j));
	j->st = st;
	j->root = xstrdup(root);
	j->quota_kb = quota_kb;
	if (jms_reload(j, error_r) < 0) {
		jms_close(&j);
		return NULL;
	}
	return j;
}

void
jms_close(struct jms **jp)
{
	struct jms *j = *jp;

	if (j == NULL)
		return;
	folders_free(j);
	store_close(&j->st);
	free(j->root);
	free(j);
	*jp = NULL;
}

size_t
jms_nfolders(const struct jms *j)
{
	return j->nf;
}

const struct jms_folder *
jms_folder(const struct jms *j, size_t i)
{
	return &j->f[i].pub;
}

long
jms_folder_find(const struct jms *j, const char *id)
{
	for (size_t i = 0; i < j->nf; i++)
		if (strcmp(j->f[i].pub.id, id) == 0)
			return (long)i;
	return -1;
}

int
jms_msgs(struct jms *j, size_t i, const struct jms_msg **msgs_r, size_t *n_r,
	 const char **error_r)
{
	struct jfolder *f = &j->f[i];

	if (f->msgs == NULL) {
		struct store_msg *m;
		size_t n;
		struct store_folder *sf = store_folder_open(j->st, f->pub.name,
		    error_r);
		if (sf == NULL)
			return -1;
		if (store_msgs_load(sf, &m, &n, error_r) < 0) {
			store_folder_close(&sf);
			return -1;
		}
		store_folder_close(&sf);
		f->msgs = xcalloc(n > 0 ? n : 1, sizeof(*f->msgs));
		for (size_t k = 0; k < n; k++) {
			struct jms_msg *o = &f->msgs[k];
			o->folder = i;
			o->uid = m[k].uid;
			o->flags = m[k].flags;
			o->keywords = xstrdup(m[k].keywords != NULL ?
			    m[k].keywords : "");
			o->size = m[k].file_size;
			o->received = m[k].internal_date;
			snprintf(o->id, sizeof(o->id), "m%" PRIu32 "u%" PRIu32,
			    f->pub.uidvalidity, m[k].uid);
		}
		f->nmsgs = n;
		store_msgs_free(m, n);
	}
	*msgs_r = f->msgs;
	*n_r = f->nmsgs;
	return 0;
}

/* id_parse - "m<uv>u<uid>" */
static bool
id_parse(const char *id, uint32_t *uv_r, uint32_t *uid_r)
{
	char *end;

	if (id[0] != 'm' || id[1] < '0' || id[1] > '9')
		return false;
	unsigned long long uv = strtoull(id + 1, &end, 10);
	if (*end != 'u' || end[1] < '0' || end[1] > '9' || uv > UINT32_MAX)
		return false;
	unsigned long long uid = strtoull(end + 1, &end, 10);
	if (*end != '\0' || uid > UINT32_MAX)
		return false;
	*uv_r = (uint32_t)uv;
	*uid_r = (uint32_t)uid;
	return true;
}

int
jms_msg_find(struct jms *j, const char *id, const struct jms_msg **m_r,
	     const char **error_r)
{
	uint32_t uv, uid;

	if (!id_parse(id, &uv, &uid))
		return 0;
	for (size_t i = 0; i < j->nf; i++) {
		if (j->f[i].pub.uidvalidity != uv)
			continue;
		const struct jms_msg *m;
		size_t n;
		if (jms_msgs(j, i, &m, &n, error_r) < 0)
			return -1;
		size_t lo = 0, hi = n;       /* ascending UIDs */
		while (lo < hi) {
			size_t mid = (lo + hi) / 2;
			if (m[mid].uid < uid)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo < n && m[lo].uid == uid) {
			*m_r = &m[lo];
			return 1;
		}
		return 0;
	}
	return 0;
}

/* store_msg_of - the lib-store view of m (borrowed strings) */
static struct store_folder *
folder_of(struct jms *j, const struct jms_msg *m, struct store_msg *sm,
	  const char **error_r)
{
	struct store_folder *sf = store_folder_open(j->st,
	    j->f[m->folder].pub.name, error_r);

	if (sf == NULL)
		return NULL;
	memset(sm, 0, sizeof(*sm));
	int r = store_msg_get(sf, m->uid, sm, error_r);
	if (r <= 0) {
		if (r == 0)
			seterr(error_r, "the message is gone");
		store_folder_close(&sf);
		return NULL;
	}
	return sf;
}

int
jms_msg_fd(struct jms *j, const struct jms_msg *m, const char **error_r)
{
	struct store_msg sm;
	struct store_folder *sf = folder_of(j, m, &sm, error_r);

	if (sf == NULL)
		return -1;
	int fd = store_msg_open(sf, &sm, error_r);
	store_msg_clear(&sm);
	store_folder_close(&sf);
	return fd;
}

int
jms_msg_read(struct jms *j, const struct jms_msg *m, size_t max,
	     struct buf *out, const char **error_r)
{
	int fd = jms_msg_fd(j, m, error_r);
	char b[65536];
	ssize_t n;

	if (fd < 0)
		return -1;
	if (out->max > 0 && (max == 0 || max > out->max))
		max = out->max;       /* a message past the buffer: its start */
	while ((max == 0 || out->len < max) &&
	    (n = read(fd, b, max == 0 || max - out->len > sizeof(b) ? sizeof(b) :
	    max - out->len)) > 0) {
		if (buf_append(out, b, (size_t)n) < 0) {
			close(fd);
			return seterr(error_r, "out of memory"), -1;
		}
	}
	close(fd);
	return 0;
}

/* ---------------------------------------------------------------- states */

void
jms_state_email(struct jms *j, struct buf *out)
{
	buf_reset(out);
	buf_putc(out, 'E');
	for (size_t i = 0; i < j->nf; i++)
		buf_printf(out, "%s%" PRIu32 ":%" PRIu64 ":%" PRIu32 ":%" PRIu32,
		    i ? "," : "", j->f[i].pub.uidvalidity, j->f[i].pub.modseq,
		    j->f[i].pub.uidnext, j->f[i].pub.total);
}

/* name_hash - FNV-1a of a folder's name and subscription */
static uint32_t
name_hash(const struct jms_folder *f)
{
	uint32_t h = 2166136261u;

	for (const char *p = f->name; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	return (h ^ (f->subscribed ? 1u : 0u)) * 16777619u;
}

void
jms_state_mailbox(struct jms *j, struct buf *out)
{
	buf_reset(out);
	buf_putc(out, 'M');
	for (size_t i = 0; i < j->nf; i++)
		buf_printf(out, "%s%" PRIu32 ":%" PRIu64 ":%" PRIx32, i ? "," : "",
		    j->f[i].pub.uidvalidity, j->f[i].pub.modseq,
		    name_hash(&j->f[i].pub));
}

void
jms_state_quota(struct jms *j, struct buf *out)
{
	int64_t used = 0, limit = 0;

	buf_reset(out);
	(void)jms_usage(j, &used, &limit, NULL);
	buf_printf(out, "Q%" PRId64 ":%" PRId64, used, limit);
}

struct old_folder {
	uint32_t uv, uidnext, total;
	uint64_t modseq;
	uint32_t hash;
	bool seen;
};

/* state_parse - the folders of a state string (kind 'E' or 'M'): a new
 * array, or NULL when it is not one of ours */
static struct old_folder *
state_parse(const char *s, char kind, size_t *n_r)
{
	struct old_folder *v = NULL;
	size_t n = 0;
	const char *p = s + 1;

	if (s[0] != kind)
		return NULL;
	if (*p == '\0') {
		*n_r = 0;
		return xcalloc(1, sizeof(*v));
	}
	for (;;) {
		unsigned long long a, b, c, d = 0;
		char *end;
		if (*p < '0' || *p > '9' || n >= 100000)
			goto bad;
		a = strtoull(p, &end, 10);
		if (*end != ':')
			goto bad;
		b = strtoull(end + 1, &end, 10);
		if (*end != ':')
			goto bad;
		c = strtoull(end + 1, &end, kind == 'M' ? 16 : 10);
		if (kind == 'E') {
			if (*end != ':')
				goto bad;
			d = strtoull(end + 1, &end, 10);
		}
		if (a > UINT32_MAX || c > UINT32_MAX || d > UINT32_MAX)
			goto bad;
		v = xreallocarray(v, n + 1, sizeof(*v));
		v[n] = (struct old_folder){ .uv = (uint32_t)a, .modseq = b };
		if (kind == 'E') {
			v[n].uidnext = (uint32_t)c;
			v[n].total = (uint32_t)d;
		} else
			v[n].hash = (uint32_t)c;
		n++;
		if (*end == '\0')
			break;
		if (*end != ',')
			goto bad;
		p = end + 1;
	}
	*n_r = n;
	return v;
bad:
	free(v);
	return NULL;
}

static struct old_folder *
old_find(struct old_folder *v, size_t n, uint32_t uv)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].uv == uv)
			return &v[i];
	return NULL;
}

int
jms_email_changes(struct jms *j, const char *since, json_t *created,
		  json_t *updated, json_t *destroyed, const char **error_r)
{
	size_t n;
	struct old_folder *old = state_parse(since, 'E', &n);
	int ret = 1;
	char id[32];

	if (old == NULL)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (old[i].total > 0) {
			bool there = false;
			for (size_t k = 0; k < j->nf && !there; k++)
				there = j->f[k].pub.uidvalidity == old[i].uv;
			if (!there) {
				free(old);
				return 0;   /* a folder gone with its messages */
			}
		}
	for (size_t i = 0; i < j->nf && ret > 0; i++) {
		struct jms_folder *f = &j->f[i].pub;
		struct old_folder *o = old_find(old, n, f->uidvalidity);
		if (o != NULL && o->modseq == f->modseq &&
		    o->uidnext == f->uidnext)
			continue;
		struct store_folder *sf = store_folder_open(j->st, f->name,
		    error_r);
		if (sf == NULL) {
			ret = -1;
			break;
		}
		struct store_msg *m;
		size_t nm;
		uint32_t *gone;
		size_t ngone;
		if (o == NULL) {
			if (store_msgs_load(sf, &m, &nm, error_r) < 0)
				ret = -1;
		} else if (store_msgs_changed(sf, o->modseq, &m, &nm,
		    error_r) < 0)
			ret = -1;
		if (ret < 0) {
			store_folder_close(&sf);
			break;
		}
		for (size_t k = 0; k < nm; k++) {
			snprintf(id, sizeof(id), "m%" PRIu32 "u%" PRIu32,
			    f->uidvalidity, m[k].uid);
			json_array_append_new(o == NULL || m[k].uid >= o->uidnext ?
			    created : updated, json_string(id));
		}
		store_msgs_free(m, nm);
		if (o != NULL) {
			if (store_expunged_since(sf, o->modseq, &gone, &ngone,
			    error_r) < 0)
				ret = -1;
			else {
				for (size_t k = 0; k < ngone; k++) {
					if (gone[k] >= o->uidnext)
						continue;   /* came and went */
					snprintf(id, sizeof(id), "m%" PRIu32 "u%"
					    PRIu32, f->uidvalidity, gone[k]);
					json_array_append_new(destroyed,
					    json_string(id));
				}
				free(gone);
			}
		}
		store_folder_close(&sf);
	}
	free(old);
	return ret;
}

int
jms_mailbox_changes(struct jms *j, const char *since, json_t *created,
		    json_t *updated, json_t *destroyed)
{
	size_t n;
	struct old_folder *old = state_parse(since, 'M', &n);

	if (old == NULL)
		return 0;
	for (size_t i = 0; i < j->nf; i++) {
		struct jms_folder *f = &j->f[i].pub;
		struct old_folder *o = old_find(old, n, f->uidvalidity);
		if (o == NULL)
			json_array_append_new(created, json_string(f->id));
		else {
			o->seen = true;
			if (o->modseq != f->modseq || o->hash != name_hash(f))
				json_array_append_new(updated, json_string(f->id));
		}
	}
	for (size_t i = 0; i < n; i++)
		if (!old[i].seen)
			json_array_append_new(destroyed, json_sprintf("f%" PRIu32,
			    old[i].uv));
	free(old);
	return 1;
}

/* --------------------------------------------------------------- changes */

int
jms_keywords_set(struct jms *j, const struct jms_msg *m, unsigned int flags,
		 const char *keywords, const char **error_r)
{
	struct store_folder *sf = store_folder_open(j->st,
	    j->f[m->folder].pub.name, error_r);

	if (sf == NULL)
		return -1;
	int r = store_flags_update(sf, &m->uid, 1, STORE_FLAGS_SET, flags,
	    keywords, 0, NULL, NULL, error_r);
	store_folder_close(&sf);
	return r;
}

int
jms_msg_move(struct jms *j, const struct jms_msg *m, size_t to,
	     char new_id[32], const char **error_r)
{
	struct store_folder *sf = store_folder_open(j->st,
	    j->f[m->folder].pub.name, error_r);
	uint32_t *src = NULL, *dst = NULL, uv = 0;
	size_t n = 0;

	if (sf == NULL)
		return -1;
	int r = store_copy(sf, &m->uid, 1, j->f[to].pub.name, true, 0, &src,
	    &dst, &n, &uv, error_r);
	store_folder_close(&sf);
	if (r == 0 && n == 1)
		snprintf(new_id, 32, "m%" PRIu32 "u%" PRIu32, uv, dst[0]);
	else if (r == 0)
		r = -1, seterr(error_r, "the message is gone");
	free(src);
	free(dst);
	return r;
}

int
jms_msg_destroy(struct jms *j, const struct jms_msg *m, const char **error_r)
{
	struct store_folder *sf = store_folder_open(j->st,
	    j->f[m->folder].pub.name, error_r);

	if (sf == NULL)
		return -1;
	int r = store_expunge(sf, &m->uid, 1, NULL, NULL, error_r);
	store_folder_close(&sf);
	return r;
}

int
jms_msg_append(struct jms *j, size_t i, const void *data, size_t len,
	       unsigned int flags, const char *keywords, time_t received,
	       char id_r[32], const char **error_r)
{
	uint32_t uid, uv;
	int r = store_append(j->st, j->f[i].pub.name, data, len, flags,
	    keywords, received, j->quota_kb, &uid, &uv, error_r);

	if (r == 0)
		snprintf(id_r, 32, "m%" PRIu32 "u%" PRIu32, uv, uid);
	return r;
}

int
jms_folder_create(struct jms *j, const char *name, const char **error_r)
{
	return store_folder_create(j->st, name, error_r);
}

int
jms_folder_rename(struct jms *j, size_t i, const char *to,
		  const char **error_r)
{
	return store_folder_rename(j->st, j->f[i].pub.name, to, error_r);
}

int
jms_folder_delete(struct jms *j, size_t i, const char **error_r)
{
	return store_folder_delete(j->st, j->f[i].pub.name, error_r);
}

int
jms_folder_subscribe(struct jms *j, size_t i, bool on, const char **error_r)
{
	return store_folder_subscribe(j->st, j->f[i].pub.name, on, error_r);
}

int
jms_usage(struct jms *j, int64_t *bytes_r, int64_t *limit_r,
	  const char **error_r)
{
	int64_t count;

	*limit_r = j->quota_kb * 1024;
	return store_quota_usage(j->root, bytes_r, &count, error_r);
}

/* ----------------------------------------------------------------- blobs */

/* upload_gc - remove uploads older than a day (RFC 8620 6.1: at least
 * an hour); the bytes and number of those that stay */
static void
upload_gc(const char *dir, uint64_t *bytes_r, size_t *n_r)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	time_t now = time(NULL);

	*bytes_r = 0;
	*n_r = 0;
	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		struct stat sb;
		if (e->d_name[0] != 'U' ||
		    fstatat(dirfd(d), e->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (now - sb.st_mtime > UPLOAD_MAX_AGE)
			(void)unlinkat(dirfd(d), e->d_name, 0);
		else {
			*bytes_r += (uint64_t)sb.st_size;
			(*n_r)++;
		}
	}
	closedir(d);
}

int
jms_upload(struct jms *j, const void *data, size_t len, char id_r[40],
	   const char **error_r)
{
	unsigned char rnd[16];
	char dir[4096], path[4200];

	snprintf(dir, sizeof(dir), "%s/" UPLOAD_DIR, j->root);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return seterr(error_r, "cannot make the upload directory"), -1;
	uint64_t held;
	size_t nheld;
	upload_gc(dir, &held, &nheld);
	if (nheld >= JMS_UPLOAD_FILES_MAX ||
	    held + len > (uint64_t)JMS_UPLOAD_BYTES_MAX)
		return seterr(error_r, "too many uploads are waiting (they are "
		    "kept for a day)"), 1;
	random_bytes(rnd, sizeof(rnd));
	id_r[0] = 'U';
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(id_r + 1 + 2 * i, 3, "%02x", rnd[i]);
	snprintf(path, sizeof(path), "%s/%s", dir, id_r);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	if (fd < 0)
		return seterr(error_r, "cannot store the upload"), -1;
	const char *p = data;
	size_t left = len;
	while (left > 0) {
		ssize_t n = write(fd, p, left);
		if (n <= 0) {
			close(fd);
			unlink(path);
			return seterr(error_r, "cannot store the upload"), -1;
		}
		p += n;
		left -= (size_t)n;
	}
	if (close(fd) < 0) {
		unlink(path);
		return seterr(error_r, "cannot store the upload"), -1;
	}
	return 0;
}

int
jms_upload_read(struct jms *j, const char *id, struct buf *out,
		const char **error_r)
{
	char path[4200], b[65536];
	ssize_t n;

	if (id[0] != 'U' || strlen(id) != 33 ||
	    strspn(id + 1, "0123456789abcdef") != 32)
		return 0;
	snprintf(path, sizeof(path), "%s/" UPLOAD_DIR "/%s", j->root, id);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? 0 : (seterr(error_r, "cannot read "
		    "the blob"), -1);
	while ((n = read(fd, b, sizeof(b))) > 0)
		if (buf_append(out, b, (size_t)n) < 0) {
			close(fd);
			return seterr(error_r, "blob too large"), -1;
		}
	close(fd);
	return 1;
}
