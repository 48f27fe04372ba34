/* chat-upload - the HTTP side of XMPP file upload (XEP-0363): the PUT of
 * a slot xmppd handed out, and the GET of what it holds (the slot's
 * form: lib-config/chatupload.h).
 *
 * PUT: the key must sign the mailbox, slot, name, size and expiry of
 * the URL, the slot must not have expired, the body must be exactly the
 * slot's size, the mailbox's uploads must stay within xmpp.upload_quota
 * and the slot must not have been used (its directory is made once).
 * Refusals: 403 (key, expiry), 400 (size, malformed URL), 507 (quota),
 * 409 (used), 413 (over http.max_upload, by httpd). All of them but a
 * chunked body of the wrong size are given by admit(), when the header
 * block is in, before a byte of the body is read (and before 100
 * Continue); the body then streams into httpd's temporary file
 * (body_fd), and the job copies it into place, fsynced before 201
 * Created; the quota and the slot are checked again under the
 * mailbox's lock.
 *
 * GET/HEAD: the file with its type when harmless (images, audio, video,
 * plain text), else application/octet-stream as an attachment; always
 * nosniff and a sandboxing Content-Security-Policy, so an uploaded page
 * runs nothing on our origin.
 *
 * Neither way is a body held in memory: the PUT's is a file (up to
 * http.max_upload, which caps xmpp.upload_max_size), the GET's is sent
 * from the file. The work runs on httpd's work pool. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "buf.h"
#include "chatupload.h"
#include "fsutil.h"
#include "http-form.h"
#include "httpd.h"
#include "log.h"
#include "url.h"
#include "xalloc.h"

struct upload_job {
	struct httpd_job j;            /* first */
	bool put;
	int64_t mailbox_id;
	char slot[CHATUPLOAD_SLOT_LEN + 1];
	char name[CHATUPLOAD_NAME_MAX + 1];
	uint64_t size;
	int64_t expires;
	char key[CHATUPLOAD_KEY_LEN + 1];
	char type[128];                /* the PUT's Content-Type */
	int body_fd;                   /* the PUT's body (httpd's file) */
	uint64_t body_len;
	char *root;
};

static void
upload_free(struct httpd_job *j)
{
	struct upload_job *u = (struct upload_job *)j;

	if (u->body_fd >= 0)
		close(u->body_fd);
	free(u->root);
	http_response_free(&j->resp);
	free(u);
}

static void
answer(struct httpd_job *j, int status, const char *text)
{
	j->resp.status = status;
	http_response_field(&j->resp, "Content-Type",
	    "text/plain; charset=utf-8");
	http_response_field(&j->resp, "X-Content-Type-Options", "nosniff");
	http_response_field(&j->resp, "Cache-Control", "no-store");
	buf_reset(&j->resp.body);
	buf_puts(&j->resp.body, text);
	buf_puts(&j->resp.body, "\n");
}

/* type_ok - a media type shown inline: one that runs nothing */
static bool
type_inline(const char *t)
{
	static const char *const ok[] = { "image/png", "image/jpeg",
	    "image/gif", "image/webp", "text/plain", "audio/", "video/",
	    NULL };

	for (const char *const *p = ok; *p; p++) {
		size_t n = strlen(*p);
		if ((*p)[n - 1] == '/' ? strncmp(t, *p, n) == 0 :
		    strcmp(t, *p) == 0)
			return true;
	}
	return false;
}

static bool
type_token(const char *t)
{
	int slashes = 0;

	if (*t == '\0' || strlen(t) >= 100)
		return false;
	for (; *t; t++) {
		if (*t == '/')
			slashes++;
		else if (!((*t >= 'a' && *t <= 'z') || (*t >= '0' && *t <= '9') ||
		    *t == '.' || *t == '+' || *t == '-'))
			return false;
	}
	return slashes == 1;
}

static void
put_run(struct upload_job *u, struct db *db)
{
	struct httpd_job *j = &u->j;
	char want[CHATUPLOAD_KEY_LEN + 1];
	const char *err;

	if (db == NULL) {
		answer(j, 503, "The service is not available.");
		return;
	}
	if (chatupload_key(db, u->mailbox_id, u->slot, u->name, u->size,
	    u->expires, want, &err) < 0) {
		log_warnx("chat upload: %s", err);
		answer(j, 503, "The service is not available.");
		return;
	}
	if (strlen(u->key) != CHATUPLOAD_KEY_LEN ||
	    CRYPTO_memcmp(want, u->key, CHATUPLOAD_KEY_LEN) != 0) {
		snprintf(j->note, sizeof(j->note), "bad key");
		answer(j, 403, "This upload slot is not valid.");
		return;
	}
	if ((int64_t)time(NULL) > u->expires) {
		snprintf(j->note, sizeof(j->note), "slot expired");
		answer(j, 403, "This upload slot has expired.");
		return;
	}
	if (u->body_fd < 0 || u->body_len != u->size) {
		snprintf(j->note, sizeof(j->note), "%" PRIu64 " bytes for a "
		    "slot of %" PRIu64, u->body_len, u->size);
		answer(j, 400, "The body is not the size the slot was given "
		    "for.");
		return;
	}
	char *dir = chatupload_dir(u->root, u->mailbox_id);
	char *lock = path_join(dir, ".lock");
	char *sdir = path_join(dir, u->slot);
	char *file = path_join(sdir, u->name);
	char *tfile = xasprintf("%s.type", sdir);
	int fd = -1;
	uint64_t quota = chatupload_quota(db);

	if (mkdir_p(dir, 0700) < 0 || (fd = open(lock, O_RDWR | O_CREAT |
	    O_CLOEXEC, 0600)) < 0 || flock(fd, LOCK_EX) < 0) {
		log_warnx("chat upload: %s: %s", dir, strerror(errno));
		answer(j, 500, "The file could not be stored.");
		goto out;
	}
	/* under the mailbox's lock: two PUTs at once cannot both pass */
	if (quota > 0 && chatupload_used(u->root, u->mailbox_id) + u->size >
	    quota) {
		snprintf(j->note, sizeof(j->note), "over quota");
		answer(j, 507, "Your upload quota is used up.");
		goto out;
	}
	if (mkdir(sdir, 0700) < 0) {
		if (errno == EEXIST) {
			snprintf(j->note, sizeof(j->note), "slot used");
			answer(j, 409, "This upload slot was used already.");
		} else {
			log_warnx("chat upload: %s: %s", sdir, strerror(errno));
			answer(j, 500, "The file could not be stored.");
		}
		goto out;
	}
	if ((u->type[0] != '\0' && file_write_atomic(tfile, u->type,
	    strlen(u->type), 0600) < 0) || file_copy_atomic(file, u->body_fd,
	    u->body_len, 0600) < 0) {
		log_warnx("chat upload: %s: %s", file, strerror(errno));
		answer(j, 500, "The file could not be stored.");
		goto out;
	}
	snprintf(j->note, sizeof(j->note), "mailbox %" PRId64 " slot %s: %"
	    PRIu64 " bytes", u->mailbox_id, u->slot, u->size);
	answer(j, 201, "Stored.");
out:
	if (fd >= 0)
		close(fd);       /* the lock goes with it */
	free(dir);
	free(lock);
	free(sdir);
	free(file);
	free(tfile);
}

static void
get_run(struct upload_job *u)
{
	struct httpd_job *j = &u->j;
	char *dir = chatupload_dir(u->root, u->mailbox_id);
	char *sdir = path_join(dir, u->slot);
	char *file = path_join(sdir, u->name);
	char *tfile = xasprintf("%s.type", sdir);
	struct buf t;
	struct stat st;
	int fd = open(file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	buf_init(&t, 128);
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		if (fd >= 0)
			close(fd);
		answer(j, 404, "There is no such file.");
		goto out;
	}
	/* sent from the file by httpd, never held here */
	buf_reset(&j->resp.body);
	j->resp.body_file = true;
	j->resp.body_fd = fd;
	j->resp.body_off = 0;
	j->resp.body_len = (size_t)st.st_size;
	const char *type = "application/octet-stream";
	if (file_read(tfile, &t) == 0 && buf_putc(&t, '\0') == 0 &&
	    type_token(t.data) && type_inline(t.data))
		type = t.data;
	j->resp.status = 200;
	http_response_field(&j->resp, "Content-Type", "%s", type);
	struct buf cd;
	buf_init(&cd, 0);
	url_encode(&cd, u->name);
	http_response_field(&j->resp, "Content-Disposition",
	    "%s; filename*=UTF-8''%s", strcmp(type,
	    "application/octet-stream") == 0 ? "attachment" : "inline",
	    cd.data);
	buf_free(&cd);
	http_response_field(&j->resp, "X-Content-Type-Options", "nosniff");
	http_response_field(&j->resp, "Content-Security-Policy",
	    "default-src 'none'; sandbox");
	http_response_field(&j->resp, "Cache-Control", "private");
	/* XEP-0363 11: web clients fetch from another origin */
	http_response_field(&j->resp, "Access-Control-Allow-Origin", "*");
out:
	buf_free(&t);
	free(dir);
	free(sdir);
	free(file);
	free(tfile);
}

static void
upload_run(struct httpd_job *j, struct db *db)
{
	struct upload_job *u = (struct upload_job *)j;

	if (u->put)
		put_run(u, db);
	else
		get_run(u);
}

/* slot_parse - the PUT URL's parts into u: 0, 404 (path) or 403 */
static int
slot_parse(const struct http_request *req, struct upload_job *u)
{
	struct http_form f = { 0 };
	const char *err;
	uint64_t exp;
	const char *key = NULL;

	if (!chatupload_path_parse(req->path + strlen(CHATUPLOAD_PATH),
	    &u->mailbox_id, u->slot, u->name))
		return 404;
	bool ok = req->query != NULL && http_form_parse(req->query,
	    strlen(req->query), &f, &err) == 0 &&
	    chatupload_number(http_form_get(&f, "size"), &u->size) &&
	    chatupload_number(http_form_get(&f, "expires"), &exp) &&
	    (key = http_form_get(&f, "key")) != NULL &&
	    strlen(key) == CHATUPLOAD_KEY_LEN;
	if (ok) {
		u->expires = (int64_t)exp;
		memcpy(u->key, key, CHATUPLOAD_KEY_LEN + 1);
	}
	http_form_free(&f);
	return ok ? 0 : 403;
}

/* admit - a PUT's header block: every check that needs no body, before
 * httpd reads or stores any of it (httpd_route_opt.admit) */
static int
admit(struct service *svc, const struct http_request *req, const char **why_r)
{
	struct upload_job u = { 0 };
	char want[CHATUPLOAD_KEY_LEN + 1];
	const char *err;
	uint64_t declared;

	int r = slot_parse(req, &u);
	if (r != 0) {
		*why_r = r == 404 ? "there is no such file" :
		    "this upload slot is not valid";
		return r;
	}
	if (chatupload_key(svc->db, u.mailbox_id, u.slot, u.name, u.size,
	    u.expires, want, &err) < 0) {
		log_warnx("chat upload: %s", err);
		*why_r = "the service is not available";
		return 503;
	}
	if (CRYPTO_memcmp(want, u.key, CHATUPLOAD_KEY_LEN) != 0) {
		*why_r = "this upload slot is not valid";
		return 403;
	}
	if ((int64_t)time(NULL) > u.expires) {
		*why_r = "this upload slot has expired";
		return 403;
	}
	const char *cl = http_request_field(req, "content-length");
	if (cl != NULL && (!chatupload_number(cl, &declared) ||
	    declared != u.size) && !(strcmp(cl, "0") == 0 && u.size == 0)) {
		*why_r = "the body is not the size the slot was given for";
		return 400;
	}
	if (u.size > chatupload_max(svc->db)) {
		*why_r = "the file is larger than chat uploads may be";
		return 413;
	}
	uint64_t quota = chatupload_quota(svc->db);
	if (quota > 0 && chatupload_used(svc->root, u.mailbox_id) + u.size >
	    quota) {
		*why_r = "your upload quota is used up";
		return 507;
	}
	char *dir = chatupload_dir(svc->root, u.mailbox_id);
	char *sdir = path_join(dir, u.slot);
	struct stat st;
	r = stat(sdir, &st) == 0 ? 409 : 0;
	free(dir);
	free(sdir);
	if (r != 0)
		*why_r = "this upload slot was used already";
	return r;
}

static void
chat_upload(struct httpd_req *rq, struct http_response *resp)
{
	const struct http_request *req = rq->req;
	struct upload_job *u = xcalloc(1, sizeof(*u));

	u->put = strcmp(req->method, "PUT") == 0;
	u->body_fd = -1;
	if (!u->put && !chatupload_path_parse(req->path +
	    strlen(CHATUPLOAD_PATH), &u->mailbox_id, u->slot, u->name)) {
		upload_free(&u->j);
		httpd_error(resp, 404, "There is no such file.");
		return;
	}
	if (u->put) {
		int r = slot_parse(req, u);
		if (r != 0) {
			upload_free(&u->j);
			httpd_error(resp, r, r == 404 ? "There is no such "
			    "file." : "This upload slot is not valid.");
			rq->note = "bad slot URL";
			return;
		}
		const char *ct = http_request_field(req, "content-type");
		if (ct != NULL) {
			size_t n = strcspn(ct, "; \t");
			if (n < sizeof(u->type)) {
				for (size_t i = 0; i < n; i++)
					u->type[i] = (char)(ct[i] >= 'A' &&
					    ct[i] <= 'Z' ? ct[i] + 32 : ct[i]);
				u->type[n] = '\0';
				if (!type_token(u->type))
					u->type[0] = '\0';
			}
		}
		/* streamed to a file by httpd as it arrived */
		u->body_fd = rq->body_fd;
		u->body_len = rq->body_len;
		rq->body_fd = -1;
	}
	u->root = xstrdup(rq->svc->root);
	u->j.run = upload_run;
	u->j.free = upload_free;
	httpd_defer(rq, &u->j);
}

const struct httpd_route chat_upload_routes[] = {
	{ CHATUPLOAD_PATH, true, "GET, HEAD, PUT", chat_upload },
	{ NULL, false, NULL, NULL },
};

const struct httpd_route_opt chat_upload_route_opts[] = {
	{ chat_upload, true, NULL, admit },
	{ NULL, false, NULL, NULL },
};
