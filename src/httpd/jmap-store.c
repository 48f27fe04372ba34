/* jmap-store - the JMAP server's adapter onto lib-store (jmap-store.h) */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fsutil.h"
#include "jmap-store.h"
#include "store.h"
#include "strutil.h"
#include "train-store.h"
#include "xalloc.h"

#define UPLOAD_DIR "jmap-upload"
#define UPLOAD_MAX_AGE (24 * 3600)

struct jfolder {
	struct jms_folder pub;
	struct jms_msg *msgs;      /* NULL: not loaded */
	size_t nmsgs;
	bool counted;              /* pub's counters filled (jms_folder_counts) */
};

struct jms {
	struct store *st;
	char *root;
	int64_t quota_kb;
	struct jfolder *f;
	size_t nf;
	struct jms_msg **found;    /* jms_msg_find's of unloaded folders */
	size_t nfound;
	struct db *db;             /* jms_train_with's, else NULL */
};

static const char *
seterr(const char **error_r, const char *e)
{
	if (error_r != NULL)
		*error_r = e;
	return e;
}

static void
msgs_free(struct jms_msg *m, size_t n)
{
	for (size_t k = 0; k < n; k++)
		free(m[k].keywords);
	free(m);
}

static void
folders_free(struct jms *j)
{
	for (size_t i = 0; i < j->nf; i++) {
		free(j->f[i].pub.name);
		msgs_free(j->f[i].msgs, j->f[i].nmsgs);
	}
	for (size_t i = 0; i < j->nfound; i++)
		msgs_free(j->found[i], 1);
	free(j->found);
	j->found = NULL;
	j->nfound = 0;
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
	/* names and ids only: the counters cost a pass over the folder's
	 * messages in the index (40 ms at 100,000), paid by the few calls
	 * that show them (jms_folder_counts), not by every request */
	for (size_t i = 0; i < n; i++) {
		const char *id = list[i].mailboxid;
		struct store_folder *sf = NULL;
		if (id[0] == '\0') {   /* never opened: indexed now */
			if ((sf = store_folder_open(j->st, list[i].name,
			    error_r)) == NULL)
				continue;   /* removed meanwhile */
			id = store_folder_mailboxid(sf);
		}
		struct jms_folder *p = &j->f[j->nf++].pub;
		p->name = xstrdup(list[i].name);
		snprintf(p->id, sizeof(p->id), "%s", id);
		p->special_use = list[i].special_use;
		p->subscribed = list[i].subscribed;
		store_folder_close(&sf);
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
	/* deliveries to folders no session has open: indexed and logged */
	if (store_sync_all(st, error_r) < 0 || jms_reload(j, error_r) < 0) {
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

int
jms_folder_counts(struct jms *j, size_t i, const char **error_r)
{
	struct jfolder *f = &j->f[i];
	struct store_folder_status fs;

	if (f->counted)
		return 0;
	struct store_folder *sf = store_folder_open(j->st, f->pub.name, error_r);
	if (sf == NULL)
		return -1;
	int r = store_folder_status(sf, &fs, error_r);
	store_folder_close(&sf);
	if (r < 0)
		return -1;
	f->pub.uidvalidity = fs.uidvalidity;
	f->pub.uidnext = fs.uidnext;
	f->pub.modseq = fs.highestmodseq;
	f->pub.total = fs.messages;
	f->pub.unseen = fs.unseen;
	f->pub.size = fs.size;
	f->counted = true;
	return 0;
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
		f->msgs = xcalloc(n > 0 ? n : 1, sizeof(*f->msgs));
		size_t kept = 0;
		for (size_t k = 0; k < n; k++) {
			struct jms_msg *o = &f->msgs[kept];
			/* the store's immutable ids; a message expunged
			 * since the load has none and is left out */
			int r = store_msg_ids(sf, m[k].uid, o->id, o->threadid,
			    error_r);
			if (r < 0) {
				store_folder_close(&sf);
				store_msgs_free(m, n);
				msgs_free(f->msgs, kept);
				f->msgs = NULL;
				return -1;
			}
			if (r == 0)
				continue;
			o->folder = i;
			o->uid = m[k].uid;
			o->flags = m[k].flags;
			o->keywords = xstrdup(m[k].keywords != NULL ?
			    m[k].keywords : "");
			o->size = m[k].file_size;
			o->received = m[k].internal_date;
			kept++;
		}
		store_folder_close(&sf);
		f->nmsgs = kept;
		store_msgs_free(m, n);
	}
	*msgs_r = f->msgs;
	*n_r = f->nmsgs;
	return 0;
}

/* msg_in - the message of folder i with UID uid: 1, 0 none, -1 */
static int
msg_in(struct jms *j, size_t i, uint32_t uid, const struct jms_msg **m_r,
       const char **error_r)
{
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

int
jms_msg_find(struct jms *j, const char *id, const struct jms_msg **m_r,
	     const char **error_r)
{
	struct store_email e;

	if (!store_id_valid(id, 'M'))
		return 0;
	int r = store_email_get(j->st, id, &e, error_r);
	if (r <= 0)
		return r;
	/* its first place that this request's folder list knows: from the
	 * folder's list when loaded, else from the email alone (one email
	 * needs no list of its folder) */
	r = 0;
	for (size_t p = 0; p < e.nplaces && r == 0; p++) {
		const struct store_email_place *pl = &e.places[p];
		long i = jms_folder_find(j, pl->mailboxid);
		struct stat sb;
		if (i < 0)
			continue;
		if (j->f[i].msgs != NULL || p > 0 || e.path == NULL ||
		    stat(e.path, &sb) < 0) {
			r = msg_in(j, (size_t)i, pl->uid, m_r, error_r);
			continue;
		}
		struct jms_msg *o = xcalloc(1, sizeof(*o));
		o->folder = (size_t)i;
		o->uid = pl->uid;
		o->flags = pl->flags;
		o->keywords = xstrdup(pl->keywords != NULL ? pl->keywords : "");
		o->size = (uint64_t)sb.st_size;   /* as jms_msgs: the file's */
		o->received = e.received;
		snprintf(o->id, sizeof(o->id), "%s", e.emailid);
		snprintf(o->threadid, sizeof(o->threadid), "%s", e.threadid);
		j->found = xreallocarray(j->found, j->nfound + 1,
		    sizeof(*j->found));
		j->found[j->nfound++] = o;
		*m_r = o;
		r = 1;
	}
	store_email_clear(&e);
	return r;
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
jms_msg_map(struct jms *j, const struct jms_msg *m, struct jms_map *out,
	    const char **error_r)
{
	struct stat sb;
	long page = sysconf(_SC_PAGESIZE);

	memset(out, 0, sizeof(*out));
	buf_init(&out->copy, 0);
	out->data = "";
	int fd = jms_msg_fd(j, m, error_r);
	if (fd < 0)
		return -1;
	if (fstat(fd, &sb) < 0) {
		close(fd);
		return seterr(error_r, "cannot read the message"), -1;
	}
	size_t len = (size_t)sb.st_size;
	if (len > 0 && page > 0 && len % (size_t)page != 0) {
		/* the rest of the last page reads as zeros: the NUL */
		void *p = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
		if (p != MAP_FAILED) {
			close(fd);
			out->base = p;
			out->data = p;
			out->len = len;
			return 0;
		}
	}
	char b[65536];
	ssize_t n;
	while ((n = read(fd, b, sizeof(b))) > 0)
		if (buf_append(&out->copy, b, (size_t)n) < 0) {
			close(fd);
			buf_free(&out->copy);
			return seterr(error_r, "out of memory"), -1;
		}
	close(fd);
	out->data = out->copy.data != NULL ? out->copy.data : "";
	out->len = out->copy.len;
	return 0;
}

void
jms_msg_unmap(struct jms_map *map)
{
	if (map->base != NULL)
		munmap(map->base, map->len);
	buf_free(&map->copy);
	memset(map, 0, sizeof(*map));
	map->data = "";
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

static enum store_change_type
change_type(char kind)
{
	return kind == 'E' ? STORE_CHANGE_EMAIL : kind == 'M' ?
	    STORE_CHANGE_MAILBOX : STORE_CHANGE_THREAD;
}

int
jms_state(struct jms *j, char kind, struct buf *out, const char **error_r)
{
	char state[STORE_STATE_MAX];

	buf_reset(out);
	if (kind == 'Q') {
		int64_t used = 0, limit = 0;
		(void)jms_usage(j, &used, &limit, NULL);
		buf_printf(out, "Q%" PRId64 ":%" PRId64, used, limit);
		return 0;
	}
	if (store_state(j->st, change_type(kind), state, error_r) < 0)
		return -1;
	buf_puts(out, state);
	return 0;
}

static void
ids_append(json_t *to, char **ids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		json_array_append_new(to, json_string(ids[i]));
}

int
jms_changes(struct jms *j, char kind, const char *since, size_t max,
	    struct jms_changes *c, const char **error_r)
{
	struct store_changes sc;

	memset(c, 0, sizeof(*c));
	int r = store_changes(j->st, change_type(kind), since, max, &sc,
	    error_r);
	if (r <= 0)
		return r;
	c->created = json_array();
	c->updated = json_array();
	c->destroyed = json_array();
	ids_append(c->created, sc.created, sc.ncreated);
	ids_append(c->updated, sc.updated, sc.nupdated);
	ids_append(c->destroyed, sc.destroyed, sc.ndestroyed);
	snprintf(c->new_state, sizeof(c->new_state), "%s", sc.new_state);
	c->has_more = sc.has_more;
	c->counts_only = sc.counts_only;
	store_changes_free(&sc);
	return 1;
}

int
jms_query(struct jms *j, const struct store_query *q, json_t **ids_r,
	  int64_t *total_r, const char **error_r)
{
	struct store_query_result r;

	*ids_r = json_array();
	*total_r = 0;
	int ret = store_query(j->st, q, &r, error_r);
	if (ret == 2)
		return 1;   /* the index cannot answer the text filter */
	if (ret <= 0)
		return ret < 0 ? -1 : 0;   /* 0: no such mailbox: nothing */
	for (size_t i = 0; i < r.n; i++)
		json_array_append_new(*ids_r, json_string(r.ids[i].emailid));
	*total_r = r.total;
	store_query_result_free(&r);
	return 0;
}

int
jms_thread_counts(struct jms *j, size_t i, uint32_t *threads_r,
		  uint32_t *unread_r, const char **error_r)
{
	struct store_folder *sf = store_folder_open(j->st, j->f[i].pub.name,
	    error_r);

	if (sf == NULL)
		return -1;
	int r = store_folder_thread_counts(sf, threads_r, unread_r, error_r);
	store_folder_close(&sf);
	return r;
}

int
jms_thread_get(struct jms *j, const char *id, json_t **emailids_r,
	       const char **error_r)
{
	char **ids;
	size_t n;

	*emailids_r = NULL;
	if (!store_id_valid(id, 'T'))
		return 0;
	if (store_thread_get(j->st, id, &ids, &n, error_r) < 0)
		return -1;
	if (n > 0) {
		*emailids_r = json_array();
		ids_append(*emailids_r, ids, n);
	}
	for (size_t i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
	return n > 0 ? 1 : 0;
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
	char id[32];

	if (sf == NULL)
		return -1;
	snprintf(id, sizeof(id), "%s", m->id);
	/* into or out of Junk: rspamd learns (queued, never waited on) */
	if (j->db != NULL)
		spam_learn_copy(j->db, sf, j->f[to].pub.name, &m->uid, 1);
	int r = store_copy(sf, &m->uid, 1, j->f[to].pub.name, true, 0, &src,
	    &dst, &n, &uv, error_r);
	store_folder_close(&sf);
	if (r == 0 && n == 1)
		snprintf(new_id, 32, "%s", id);   /* a move keeps the id */
	else if (r == 0)
		r = -1, seterr(error_r, "the message is gone");
	free(src);
	free(dst);
	return r;
}

void
jms_train_with(struct jms *j, struct db *db)
{
	j->db = db;
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
	       char id_r[32], char tid_r[24], const char **error_r)
{
	uint32_t uid, uv;
	char tid[STORE_ID_MAX];
	int r = store_append(j->st, j->f[i].pub.name, data, len, flags,
	    keywords, received, j->quota_kb, &uid, &uv, error_r);

	if (r != 0)
		return r;
	struct store_folder *sf = store_folder_open(j->st, j->f[i].pub.name,
	    error_r);
	if (sf == NULL)
		return -1;
	r = store_msg_ids(sf, uid, id_r, tid, error_r);
	store_folder_close(&sf);
	if (r == 0)
		seterr(error_r, "the message is gone");
	if (r <= 0)
		return -1;
	if (tid_r != NULL)
		snprintf(tid_r, 24, "%s", tid);
	return 0;
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

/* upload_place - the upload directory's room for len more bytes and a
 * new id with its path: 0, 1 full, -1 error */
static int
upload_place(struct jms *j, uint64_t len, char id_r[40], char *path,
	     size_t size, const char **error_r)
{
	unsigned char rnd[16];
	char dir[4096];

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
	snprintf(path, size, "%s/%s", dir, id_r);
	return 0;
}

/* write_all - len bytes to fd: 0 or -1 */
static int
write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
jms_upload(struct jms *j, const void *data, size_t len, char id_r[40],
	   const char **error_r)
{
	char path[4200];
	int r = upload_place(j, len, id_r, path, sizeof(path), error_r);

	if (r != 0)
		return r;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	if (fd < 0)
		return seterr(error_r, "cannot store the upload"), -1;
	if (write_all(fd, data, len) < 0 || close(fd) < 0) {
		if (fd >= 0)
			close(fd);
		unlink(path);
		return seterr(error_r, "cannot store the upload"), -1;
	}
	return 0;
}

int
jms_upload_file(struct jms *j, int fd, uint64_t len, char id_r[40],
		const char **error_r)
{
	char path[4200], proc[64];
	int r = upload_place(j, len, id_r, path, sizeof(path), error_r);

	if (r != 0)
		return r;
	/* the unlinked file gets its name: no copy (same file system) */
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if (linkat(AT_FDCWD, proc, AT_FDCWD, path, AT_SYMLINK_FOLLOW) == 0)
		return 0;
	/* another file system: copied in pieces */
	int out = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
	    O_NOFOLLOW, 0600);
	char b[65536];
	off_t off = 0;
	ssize_t n = 0;
	if (out < 0)
		return seterr(error_r, "cannot store the upload"), -1;
	while ((n = pread(fd, b, sizeof(b), off)) > 0) {
		if (write_all(out, b, (size_t)n) < 0)
			break;
		off += n;
	}
	if (n != 0 || close(out) < 0) {
		if (n != 0)
			close(out);
		unlink(path);
		return seterr(error_r, "cannot store the upload"), -1;
	}
	return 0;
}

int
jms_upload_fd(struct jms *j, const char *id, int *fd_r, const char **error_r)
{
	char path[4200];

	if (id[0] != 'U' || strlen(id) != 33 ||
	    strspn(id + 1, "0123456789abcdef") != 32)
		return 0;
	snprintf(path, sizeof(path), "%s/" UPLOAD_DIR "/%s", j->root, id);
	*fd_r = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (*fd_r < 0)
		return errno == ENOENT ? 0 : (seterr(error_r, "cannot read "
		    "the blob"), -1);
	return 1;
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
