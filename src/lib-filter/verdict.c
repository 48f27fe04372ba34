/* verdict - the content filters' settings and decisions */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clamd.h"
#include "directory.h"
#include "fsutil.h"
#include "settings.h"
#include "verdict.h"
#include "xalloc.h"

int
verdict_postoffice_choice(struct db *db, const char *address,
			  const char *field)
{
	struct dir_route route;
	const char *err;
	char *v = NULL;
	int r = -1;

	if (dir_resolve(db, address, &route, &err) != DIR_RESOLVE_LOCAL ||
	    route.postoffice_id <= 0)
		return -1;
	if (dir_object_field(db, "postoffice", route.postoffice_id, field, &v,
	    &err) == 0 && v != NULL) {
		if (strcmp(v, "on") == 0)
			r = 1;
		else if (strcmp(v, "off") == 0)
			r = 0;
	}
	free(v);
	return r;
}

void
av_config_load(struct db *db, const struct queue_env *env,
	       struct av_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	const char *clamd = settings_current(db)->antivirus_clamd;
	snprintf(cfg->clamd, sizeof(cfg->clamd), "%s", clamd);
	if (cfg->clamd[0] == '\0')
		return;
	cfg->timeout_ms = settings_current(db)->antivirus_timeout * 1000;
	cfg->stream_max = (off_t)settings_current(db)->antivirus_stream_max * 1024;
	cfg->pass_on_failure = settings_current(db)->antivirus_on_failure ==
	    ANTIVIRUS_ON_FAILURE_PASS;
	cfg->at_smtp = settings_current(db)->antivirus_at_smtp != 0;
	bool global = settings_current(db)->antivirus_scan != 0;
	if (env == NULL || env->nrcpts == 0) {
		cfg->enabled = global;
		return;
	}
	for (size_t i = 0; i < env->nrcpts; i++) {
		int c = verdict_postoffice_choice(db, env->rcpts[i].address,
		    "antivirus");
		/* on, or inherit (or not hosted here) with the global on */
		if (c == 1 || (c < 0 && global)) {
			cfg->enabled = true;
			return;
		}
	}
}

void
av_scan_fd(const struct av_config *cfg, int fd, struct av_result *res)
{
	const char *err = NULL;

	memset(res, 0, sizeof(*res));
	enum clamd_result r = clamd_scan_fd(cfg->clamd, fd, cfg->stream_max,
	    cfg->timeout_ms, res->virus, sizeof(res->virus), &res->partial,
	    &err);
	switch (r) {
	case CLAMD_CLEAN:
		res->verdict = AV_CLEAN;
		break;
	case CLAMD_FOUND:
		res->verdict = AV_VIRUS;
		break;
	case CLAMD_ERROR:
		snprintf(res->error, sizeof(res->error), "%s",
		    err ? err : "clamd failed");
		res->verdict = cfg->pass_on_failure ? AV_UNSCANNED_PASS :
		    AV_UNSCANNED_DEFER;
		break;
	}
}

void
av_scan_file(const struct av_config *cfg, const char *path,
	     struct av_result *res)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		memset(res, 0, sizeof(*res));
		snprintf(res->error, sizeof(res->error), "open %s: %s", path,
		    strerror(errno));
		res->verdict = cfg->pass_on_failure ? AV_UNSCANNED_PASS :
		    AV_UNSCANNED_DEFER;
		return;
	}
	av_scan_fd(cfg, fd, res);
	close(fd);
}

void
av_reason(const struct av_result *res, char *out, size_t outlen)
{
	switch (res->verdict) {
	case AV_VIRUS:
		snprintf(out, outlen, "virus found: %s%s", res->virus,
		    res->partial ? " (in the first antivirus.stream_max bytes)" : "");
		break;
	case AV_CLEAN:
		snprintf(out, outlen, "clean%s", res->partial ?
		    " (only the first antivirus.stream_max bytes scanned)" : "");
		break;
	default:
		snprintf(out, outlen, "virus scanner unavailable: %s", res->error);
		break;
	}
}

/* po_int - an integer field of a post office; def on error or 0 */
static int64_t
po_int(struct db *db, int64_t po, const char *field, int64_t def)
{
	char *v = NULL;
	const char *err;
	int64_t r = def;

	if (po > 0 && dir_object_field(db, "postoffice", po, field, &v, &err) == 0 &&
	    v != NULL && strtoll(v, NULL, 10) > 0)
		r = strtoll(v, NULL, 10);
	free(v);
	return r;
}

void
spam_config_load(struct db *db, const struct queue_env *env,
		 struct spam_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	const char *h = settings_current(db)->spam_rspamd;
	snprintf(cfg->rspamd, sizeof(cfg->rspamd), "%s", h);
	if (cfg->rspamd[0] == '\0')
		return;
	cfg->timeout_ms = settings_current(db)->spam_timeout * 1000;
	cfg->at_smtp = settings_current(db)->spam_at_smtp != 0;
	int64_t global_reject = settings_current(db)->spam_reject_score;
	int64_t global_junk = settings_current(db)->spam_junk_score;
	double reject = 0, junk = 0;
	bool never = false;
	for (size_t i = 0; i < env->nrcpts; i++) {
		if (env->rcpts[i].status != RCPT_PENDING)
			continue;
		struct dir_route route;
		const char *err;
		int64_t po = 0;
		if (dir_resolve(db, env->rcpts[i].address, &route, &err) ==
		    DIR_RESOLVE_LOCAL)
			po = route.postoffice_id;
		if (verdict_postoffice_choice(db, env->rcpts[i].address,
		    "spam_filter") == 0)
			continue;   /* this post office does not want it */
		cfg->enabled = true;
		int64_t t = po_int(db, po, "spam_reject_score", global_reject);
		if (t <= 0)
			never = true;
		else if ((double)t > reject)
			reject = (double)t;
		int64_t jt = po_int(db, po, "spam_junk_score", global_junk);
		if (junk == 0 || (double)jt < junk)
			junk = (double)jt;
	}
	cfg->reject = never ? 0 : reject;
	cfg->junk = junk > 0 ? junk : (double)global_junk;
}

bool
spam_verdict(const struct spam_config *cfg, const struct spam_result *res,
	     struct buf *fields, char *reason, size_t reasonlen)
{
	buf_printf(fields, "X-Spam-Score: %.2f / %.2f\r\n"
	    "X-Spam-Status: %s, score=%.2f required=%.2f action=\"%s\"\r\n",
	    res->score, res->required, res->score >= cfg->junk ? "Yes" : "No",
	    res->score, res->required, res->action);
	if (res->symbols[0] != '\0')
		buf_printf(fields, "X-Spam-Symbols: %s\r\n", res->symbols);
	if (cfg->reject > 0 && res->score >= cfg->reject) {
		snprintf(reason, reasonlen, "spam: score %.2f reaches the reject "
		    "score %.0f", res->score, cfg->reject);
		return true;
	}
	return false;
}

/* fields_path - <qroot>/spamverdict/<id>, NULL for an id that is not
 * one of ours (no path separators) */
static char *
fields_path(const char *qroot, const char *id)
{
	if (*id == '\0' || strpbrk(id, "/.") != NULL || strlen(id) > QUEUE_ID_MAX)
		return NULL;
	return xasprintf("%s/spamverdict/%s", qroot, id);
}

int
spam_fields_save(const char *qroot, const char *id, const char *fields,
		 const char **error_r)
{
	static _Thread_local char e[300];
	char *path = fields_path(qroot, id), *dir;
	size_t len = strlen(fields);
	int fd = -1, r = -1;

	if (path == NULL || len > SPAM_FIELDS_MAX) {
		*error_r = "bad queue id or fields too long";
		free(path);
		return -1;
	}
	dir = xasprintf("%s/spamverdict", qroot);
	if (mkdir_p(dir, 0750) == 0)
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd >= 0 && write_full(fd, fields, len) == 0)
		r = 0;
	if (r < 0) {
		snprintf(e, sizeof(e), "%s: %s", path, strerror(errno));
		*error_r = e;
		unlink(path);
	}
	if (fd >= 0)
		close(fd);
	free(dir);
	free(path);
	return r;
}

/* fields_ours - each line "X-Spam-<name>: <printable>" CRLF */
static bool
fields_ours(const char *s)
{
	while (*s != '\0') {
		const char *eol = strstr(s, "\r\n");
		if (eol == NULL || strncmp(s, "X-Spam-", 7) != 0 ||
		    memchr(s, ':', (size_t)(eol - s)) == NULL)
			return false;
		for (const char *c = s; c < eol; c++)
			if ((unsigned char)*c < ' ' || *c == 0x7f)
				return false;
		s = eol + 2;
	}
	return true;
}

char *
spam_fields_take(const char *qroot, const char *id)
{
	char *path = fields_path(qroot, id);
	struct buf b;

	if (path == NULL)
		return NULL;
	buf_init(&b, SPAM_FIELDS_MAX);
	int r = file_read(path, &b);
	unlink(path);
	free(path);
	if (r < 0 || memchr(b.data ? b.data : "", '\0', b.len) != NULL) {
		buf_free(&b);
		return NULL;
	}
	char *s = buf_steal(&b);
	if (!fields_ours(s)) {
		free(s);
		return NULL;
	}
	return s;
}

void
spam_fields_drop(const char *qroot, const char *id)
{
	char *path = fields_path(qroot, id);

	if (path != NULL)
		unlink(path);
	free(path);
}

void
spam_fields_expire(const char *qroot, time_t max_age)
{
	char *dir = xasprintf("%s/spamverdict", qroot);
	DIR *d = opendir(dir);
	struct dirent *de;
	time_t now = time(NULL);

	while (d != NULL && (de = readdir(d)) != NULL) {
		struct stat st;
		if (de->d_name[0] == '.')
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    st.st_mtime + max_age < now)
			unlinkat(dirfd(d), de->d_name, 0);
	}
	if (d != NULL)
		closedir(d);
	free(dir);
}

bool
spam_junk_wanted(struct db *db, int64_t postoffice_id, double score)
{
	const char *h = settings_current(db)->spam_rspamd;
	bool on = *h != '\0';
	if (!on)
		return false;
	char *v = NULL;
	const char *err;
	if (dir_object_field(db, "postoffice", postoffice_id, "spam_filter", &v,
	    &err) == 0 && v != NULL && strcmp(v, "off") == 0) {
		free(v);
		return false;
	}
	free(v);
	int64_t t = po_int(db, postoffice_id, "spam_junk_score",
	    settings_current(db)->spam_junk_score);
	return score >= (double)t;
}
