/* pickup - inject the messages other programs drop in <queue root>/pickup/
 *
 * The convention (also in docs/ARCHITECTURE.md "Pickup directory"):
 *  - a file is an RFC 5322 message, LF or CRLF line ends;
 *  - write it under a name starting with '.' and rename it into place, or
 *    write it in place: it is taken when closed (inotify) or when it has
 *    not changed for 2 seconds; names starting with '.' are ignored;
 *  - the envelope comes from the header: recipients from the
 *    X-Postern-Recipients: fields when present (comma separated
 *    addresses, removed from the message), else from To:, Cc: and Bcc:
 *    (Bcc: removed); the sender from Return-Path: (removed; "<>" is the
 *    null sender), else the first From: address;
 *  - the MTA writes it durably as a new item of the smtp inbound queue
 *    (client "local", which may relay; its origin is the post office of
 *    the sender's domain, see envcopy.h) with a Received: header and a new
 *    queue id, and only then removes the file. A file it cannot use goes
 *    to bad mail with the reason.
 * The pickup event program (setting mta.pickup_event) runs as
 * "program pickupfile PICKUP" on the file before it is queued (progevent.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "envcopy.h"
#include "fsutil.h"
#include "log.h"
#include "msghdr.h"
#include "mta.h"
#include "progevent.h"
#include "queue.h"
#include "settings.h"
#include "strutil.h"
#include "xalloc.h"

#define PICKUP_MIN_AGE 2
#define PICKUP_DROP_MAX 256

struct pickup_hdr {
	char **to;                 /* To, Cc, Bcc */
	size_t nto;
	char **xr;                 /* X-Postern-Recipients */
	size_t nxr;
	bool have_xr;
	char *return_path;
	char *from;
	int received;
	size_t drop[PICKUP_DROP_MAX][2];   /* raw ranges left out */
	size_t ndrop;
	bool too_many_drops;
};

/* hdr_drop - remember a field to leave out of the queued copy */
static void
hdr_drop(struct pickup_hdr *h, const struct msghdr_field *f)
{
	if (h->ndrop >= PICKUP_DROP_MAX) {
		h->too_many_drops = true;
		return;
	}
	h->drop[h->ndrop][0] = f->raw_start;
	h->drop[h->ndrop][1] = f->raw_end;
	h->ndrop++;
}

/* on_field - collect what the envelope needs */
static void
on_field(void *ctx, const struct msghdr_field *f)
{
	struct pickup_hdr *h = ctx;

	if (str_eq_ci(f->name, "To") || str_eq_ci(f->name, "Cc")) {
		msghdr_addresses(f->value, &h->to, &h->nto);
	} else if (str_eq_ci(f->name, "Bcc")) {
		msghdr_addresses(f->value, &h->to, &h->nto);
		hdr_drop(h, f);
	} else if (str_eq_ci(f->name, "X-Postern-Recipients")) {
		h->have_xr = true;
		msghdr_addresses(f->value, &h->xr, &h->nxr);
		hdr_drop(h, f);
	} else if (str_eq_ci(f->name, "Return-Path")) {
		if (h->return_path == NULL)
			h->return_path = xstrdup(f->value);
		hdr_drop(h, f);
	} else if (str_eq_ci(f->name, "From")) {
		if (h->from == NULL)
			h->from = xstrdup(f->value);
	} else if (str_eq_ci(f->name, "Received")) {
		h->received++;
	}
}

/* pickup_sender - the reverse path: Return-Path, else From; "" if none */
static char *
pickup_sender(const struct pickup_hdr *h)
{
	char **v = NULL;
	size_t n = 0;
	char *s;

	if (h->return_path != NULL) {
		if (strstr(h->return_path, "<>") != NULL)
			return xstrdup("");
		msghdr_addresses(h->return_path, &v, &n);
	}
	if (n == 0 && h->from != NULL)
		msghdr_addresses(h->from, &v, &n);
	s = xstrdup(n > 0 ? v[0] : "");
	msghdr_addresses_free(v, n);
	return s;
}

/* crlf_append - append data with every line end made CRLF */
static void
crlf_append(struct buf *out, const char *d, size_t len, bool *eightbit)
{
	size_t i, start = 0;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)d[i];
		if (c >= 0x80)
			*eightbit = true;
		if (c != '\r' && c != '\n')
			continue;
		buf_append(out, d + start, i - start);
		buf_append(out, "\r\n", 2);
		if (c == '\r' && i + 1 < len && d[i + 1] == '\n')
			i++;
		start = i + 1;
	}
	buf_append(out, d + start, len - start);
}

/* mta_badmail_file - quarantine a loose file with its reason */
int
mta_badmail_file(struct mta *m, const char *path, const char *id,
		 const char *reason)
{
	char *dir = path_join(m->qroot, "badmail");
	char *msg = xasprintf("%s/%s.msg", dir, id);
	char *why = xasprintf("%s/%s.reason", dir, id);
	char *text = xasprintf("%s\n", reason);
	int ret = -1;

	if (mkdir_p(dir, 0700) < 0 || rename(path, msg) < 0) {
		log_warn("cannot move %s to bad mail", path);
		goto out;
	}
	if (file_write_atomic(why, text, strlen(text), 0600) < 0)
		log_warn("cannot write %s", why);
	fsync_dir(dir);
	fsync_parent(path);
	workers_count(&m->n->badmail, 1);
	ret = 0;
out:
	free(dir);
	free(msg);
	free(why);
	free(text);
	return ret;
}

/* rcpt_seen - whether address is already among the envelope's */
static bool
rcpt_seen(const struct queue_env *env, const char *address)
{
	for (size_t i = 0; i < env->nrcpts; i++)
		if (str_eq_ci(env->rcpts[i].address, address))
			return true;
	return false;
}

/* pickup_file - inject one file; 0 done (queued or quarantined), -1 to
 * retry later */
static int
pickup_file(struct mta *m, const char *name)
{
	char *path = path_join(m->pickup, name);
	char id[QUEUE_ID_MAX + 1];
	struct pickup_hdr h;
	struct msghdr_parser p;
	struct buf data, out;
	struct queue_env env;
	struct stat st;
	const char *err = NULL;
	char *qpath = NULL, *sender = NULL, *host = NULL, *reason = NULL;
	size_t used, body;
	bool eightbit = false;
	int ret = 0;

	memset(&h, 0, sizeof(h));
	buf_init(&data, 0);
	buf_init(&out, 0);
	queue_new_id(id);
	queue_env_init(&env, id);
	if (lstat(path, &st) < 0) {
		ret = errno == ENOENT ? 0 : -1;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		reason = xstrdup("not a regular file");
		goto bad;
	}
	int64_t max = settings_current(m->svc->db)->smtp_max_message_size * 1024;
	if (st.st_size > max) {
		reason = xasprintf("larger than smtp.max_message_size (%lld bytes)",
		    (long long)max);
		goto bad;
	}
	data.max = (size_t)max + 1;
	if (file_read(path, &data) < 0) {
		if (errno == ENOENT)
			goto out;
		if (errno == EFBIG) {
			reason = xstrdup("larger than smtp.max_message_size");
			goto bad;
		}
		log_warn("pickup: cannot read %s", path);
		ret = -1;
		goto out;
	}

	msghdr_parser_init(&p, 0, on_field, &h);
	int r = msghdr_parser_feed(&p, data.data, data.len, &used, &err);
	if (r == 0) {
		msghdr_parser_finish(&p);
		used = data.len;
	}
	msghdr_parser_deinit(&p);
	if (r < 0) {
		reason = xasprintf("unusable header: %s", err);
		goto bad;
	}
	if (h.too_many_drops) {
		reason = xstrdup("too many Bcc/X-Postern-Recipients/Return-Path fields");
		goto bad;
	}
	body = used;

	char **list = h.have_xr ? h.xr : h.to;
	size_t nlist = h.have_xr ? h.nxr : h.nto;
	for (size_t i = 0; i < nlist; i++) {
		char local[LOCALPART_MAX_LEN + 2], dom[DOMAIN_MAX_LEN + 2];
		if (strlen(list[i]) > ADDRESS_MAX_LEN ||
		    address_split(list[i], local, sizeof(local), dom,
		    sizeof(dom), &err) < 0) {
			log_warnx("pickup %s: recipient <%s> ignored: %s", name,
			    list[i], err);
			continue;
		}
		if (!rcpt_seen(&env, list[i]))
			queue_env_add_rcpt(&env, list[i], NULL, 0);
	}
	if (env.nrcpts == 0) {
		reason = xstrdup(h.have_xr ? "no valid address in X-Postern-Recipients" :
		    "no recipients: no valid address in To, Cc, Bcc or "
		    "X-Postern-Recipients");
		goto bad;
	}
	sender = pickup_sender(&h);

	/* the queued copy: our Received, the header without the dropped
	 * fields, the body; CRLF line ends throughout */
	host = settings_hostname(m->svc->db);
	char date[64];
	time_t now = time(NULL);
	struct tm tm;
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000",
	    gmtime_r(&now, &tm));
	buf_printf(&out, "Received: from pickup (file %s)\r\n\tby %s (Postern) "
	    "id %s;\r\n\t%s\r\n", name, host, id, date);
	size_t pos = 0;
	for (size_t i = 0; i < h.ndrop; i++) {
		if (h.drop[i][0] > pos)
			crlf_append(&out, data.data + pos, h.drop[i][0] - pos,
			    &eightbit);
		pos = h.drop[i][1];
	}
	if (body > pos)
		crlf_append(&out, data.data + pos, body - pos, &eightbit);
	if (used == data.len && (data.len == 0 ||
	    (data.data[data.len - 1] != '\n'))) {
		/* all header, no blank line: end it */
		if (data.len > 0)
			buf_append(&out, "\r\n", 2);
		buf_append(&out, "\r\n", 2);
	} else {
		crlf_append(&out, data.data + body, data.len - body, &eightbit);
		if (data.len > body && data.data[data.len - 1] != '\n' &&
		    data.data[data.len - 1] != '\r')
			buf_append(&out, "\r\n", 2);
	}

	env.arrival = now;
	queue_env_set(&env.sender, sender);
	queue_env_set(&env.client_addr, "local");
	queue_env_set(&env.client_helo, "pickup");
	/* whoever may write the pickup directory may send as any hosted
	 * address: the file's origin is its sender's post office (so DKIM
	 * signs only with a domain of that one; docs/SECURITY.md) */
	env_origin_of_address(m->svc->db, &env, sender);
	if (eightbit)
		queue_env_set(&env.body_type, "8BITMIME");
	env.hops = h.received + 1;

	/* the pickup event (manual 5.5.6): the pickup file itself, before
	 * it is queued and removed, so a crash during the event only picks
	 * it up (and runs the event) again; bounded by delivery.event_timeout */
	char *event = xstrdup(settings_current(m->svc->db)->mta_pickup_event);
	if (*str_trim(event) != '\0')
		progevent_run("pickup event", id, str_trim(event), path, "PICKUP",
		    (int)settings_current(m->svc->db)->delivery_event_timeout);
	free(event);

	qpath = queue_path(m->qroot, "smtp", QUEUE_INBOUND);
	struct queue_writer *w = queue_writer_open(qpath, id, &err);
	if (w == NULL) {
		log_warnx("pickup %s: %s", name, err);
		ret = -1;
		goto out;
	}
	if (queue_writer_write(w, out.data, out.len) < 0) {
		log_warn("pickup %s: writing the queue item", name);
		queue_writer_abort(&w);
		ret = -1;
		goto out;
	}
	if (queue_writer_commit(&w, &env, &err) < 0) {
		log_warnx("pickup %s: %s", name, err);
		ret = -1;
		goto out;
	}
	/* committed: now the file may go */
	if (unlink(path) < 0 && errno != ENOENT)
		log_warn("pickup: cannot remove %s (it will be injected again)", path);
	fsync_dir(m->pickup);
	workers_count(&m->n->picked_up, 1);
	log_info("%s: picked up %s: from=<%s> nrcpt=%zu size=%zu", id, name,
	    sender, env.nrcpts, out.len);
	goto out;
bad:
	log_warnx("%s: pickup %s to bad mail: %s", id, name, reason);
	if (mta_badmail_file(m, path, id, reason) < 0)
		ret = -1;
out:
	msghdr_addresses_free(h.to, h.nto);
	msghdr_addresses_free(h.xr, h.nxr);
	free(h.return_path);
	free(h.from);
	queue_env_free(&env);
	buf_free(&data);
	buf_free(&out);
	free(sender);
	free(host);
	free(reason);
	free(qpath);
	free(path);
	return ret;
}

/* pickup_scan - inject named files, or every file old enough */
void
pickup_scan(struct mta *m, char **names, size_t n)
{
	if (names != NULL) {
		for (size_t i = 0; i < n; i++)
			if (pickup_file(m, names[i]) < 0)
				m->hold_until = time(NULL) + MTA_SCAN_INTERVAL;
		return;
	}
	DIR *d = opendir(m->pickup);
	if (d == NULL) {
		log_warn("cannot open %s", m->pickup);
		return;
	}
	char **todo = NULL;
	size_t ntodo = 0;
	time_t now = time(NULL);
	struct dirent *de;
	while ((de = readdir(d)) != NULL && ntodo < 10000) {
		struct stat st;
		if (de->d_name[0] == '.')
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (now - st.st_mtime < PICKUP_MIN_AGE)
			continue;   /* maybe still being written */
		todo = xreallocarray(todo, ntodo + 1, sizeof(*todo));
		todo[ntodo++] = xstrdup(de->d_name);
	}
	closedir(d);
	for (size_t i = 0; i < ntodo; i++) {
		pickup_file(m, todo[i]);
		free(todo[i]);
	}
	free(todo);
}

/* pickup_on_event - files were closed or moved into pickup/ */
void
pickup_on_event(evutil_socket_t fd, short what, void *arg)
{
	struct mta *m = arg;
	char evbuf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
	char **names = NULL;
	size_t n = 0;
	ssize_t len;
	(void)what;

	while ((len = read(fd, evbuf, sizeof(evbuf))) > 0) {
		for (char *p = evbuf; p < evbuf + len;) {
			struct inotify_event *ev = (struct inotify_event *)p;
			if (ev->len > 0 && ev->name[0] != '.' && n < 1000 &&
			    (ev->mask & (IN_CLOSE_WRITE | IN_MOVED_TO))) {
				names = xreallocarray(names, n + 1, sizeof(*names));
				names[n++] = xstrdup(ev->name);
			}
			p += sizeof(*ev) + ev->len;
		}
	}
	if (n > 0 && time(NULL) >= m->hold_until)
		pickup_scan(m, names, n);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* pickup_init - the directory and its inotify watch */
int
pickup_init(struct mta *m)
{
	m->pickup = path_join(m->qroot, "pickup");
	if (mkdir_p(m->pickup, 0770) < 0) {
		log_warn("cannot create %s", m->pickup);
		return -1;
	}
	m->pickup_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (m->pickup_fd < 0 || inotify_add_watch(m->pickup_fd, m->pickup,
	    IN_CLOSE_WRITE | IN_MOVED_TO) < 0) {
		log_warn("inotify on %s (the %d s scan remains)", m->pickup,
		    MTA_SCAN_INTERVAL);
		return 0;
	}
	m->pickup_ev = event_new(m->svc->base, m->pickup_fd,
	    EV_READ | EV_PERSIST, pickup_on_event, m);
	event_add(m->pickup_ev, NULL);
	return 0;
}
