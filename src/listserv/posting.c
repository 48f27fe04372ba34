/* posting - the copies of one post, staged then handed over (posting.h) */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fsutil.h"
#include "posting.h"
#include "queue.h"
#include "xalloc.h"

/* base_ok - a queue id: no path tricks */
static bool
base_ok(const char *base)
{
	size_t n = strlen(base);
	if (n == 0 || n > QUEUE_ID_MAX || base[0] == '.')
		return false;
	for (const char *p = base; *p != '\0'; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') ||
		    (*p >= 'A' && *p <= 'F') || *p == '.'))
			return false;
	return true;
}

enum posting_state
posting_state(const char *dir, const char *base)
{
	struct stat st;
	enum posting_state r = POSTING_NONE;

	if (!base_ok(base))
		return POSTING_NONE;
	char *p = xasprintf("%s/%s", dir, base);
	char *c = xasprintf("%s/%s/complete", dir, base);
	if (stat(c, &st) == 0)
		r = POSTING_COMPLETE;
	else if (stat(p, &st) == 0)
		r = POSTING_PARTIAL;
	free(p);
	free(c);
	return r;
}

char *
posting_begin(const char *dir, const char *base, const char **error_r)
{
	if (!base_ok(base)) {
		*error_r = "bad posting id";
		return NULL;
	}
	char *p = xasprintf("%s/%s", dir, base);
	if (rm_rf(p) < 0 || mkdir_p(dir, 0770) < 0 || queue_ensure(p) < 0 ||
	    fsync_dir(dir) < 0) {
		*error_r = "cannot make the posting directory";
		free(p);
		return NULL;
	}
	return p;
}

int
posting_complete(const char *dir, const char *base, const char **error_r)
{
	char *c = xasprintf("%s/%s/complete", dir, base);
	int r = file_write_atomic(c, "v1\n", 3, 0640);
	if (r < 0)
		*error_r = "cannot write the posting record";
	free(c);
	return r;
}

int
posting_hand_over(const char *dir, const char *base, const char *inbound,
		  size_t *moved_r, const char **error_r)
{
	char *src = xasprintf("%s/%s/new", dir, base);
	char *dst = xasprintf("%s/new", inbound);
	DIR *d = opendir(src);
	struct dirent *de;
	char **ids = NULL;
	size_t n = 0;
	int r = 0;

	*moved_r = 0;
	if (d == NULL) {
		free(src);
		free(dst);
		*error_r = "cannot read the posting directory";
		return -1;
	}
	/* by their envelopes, and the messages left by a move cut short */
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);
		if (l > 4 && l - 4 <= QUEUE_ID_MAX && (strcmp(de->d_name + l - 4,
		    ".env") == 0 || strcmp(de->d_name + l - 4, ".msg") == 0)) {
			char *id = xstrndup(de->d_name, l - 4);
			bool seen = false;
			for (size_t i = 0; i < n && !seen; i++)
				seen = strcmp(ids[i], id) == 0;
			if (seen) {
				free(id);
				continue;
			}
			ids = xreallocarray(ids, n + 1, sizeof(*ids));
			ids[n++] = id;
		}
	}
	closedir(d);
	for (size_t i = 0; i < n; i++) {
		char *sm = xasprintf("%s/%s.msg", src, ids[i]);
		char *se = xasprintf("%s/%s.env", src, ids[i]);
		char *dm = xasprintf("%s/%s.msg", dst, ids[i]);
		char *de2 = xasprintf("%s/%s.env", dst, ids[i]);
		if (r == 0 && rename(sm, dm) < 0 && errno != ENOENT)
			r = -1;
		if (r == 0 && access(dm, F_OK) != 0)
			r = -1;   /* the message is nowhere: leave the envelope */
		if (r == 0 && rename(se, de2) < 0)
			r = -1;
		if (r == 0)
			(*moved_r)++;
		free(sm);
		free(se);
		free(dm);
		free(de2);
		free(ids[i]);
	}
	free(ids);
	if (fsync_dir(dst) < 0)
		r = -1;
	if (r < 0)
		*error_r = "cannot move the copies into the inbound queue";
	free(src);
	free(dst);
	return r;
}

void
posting_remove(const char *dir, const char *base)
{
	if (!base_ok(base))
		return;
	char *p = xasprintf("%s/%s", dir, base);
	struct stat st;
	if (stat(p, &st) == 0)
		rm_rf(p);
	free(p);
}

/* empty_queue - no item in new/ of a posting directory */
static bool
empty_queue(const char *path)
{
	char *n = xasprintf("%s/new", path);
	DIR *d = opendir(n);
	struct dirent *de;
	bool empty = true;
	free(n);
	if (d == NULL)
		return true;
	while (empty && (de = readdir(d)) != NULL)
		empty = de->d_name[0] == '.';
	closedir(d);
	return empty;
}

void
posting_gc(const char *dir, time_t max_age)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	time_t now = time(NULL);

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		struct stat st;
		if (!base_ok(de->d_name))
			continue;
		char *p = xasprintf("%s/%s", dir, de->d_name);
		if (stat(p, &st) == 0 && S_ISDIR(st.st_mode) &&
		    now - st.st_mtime > max_age &&
		    (posting_state(dir, de->d_name) == POSTING_PARTIAL ||
		    empty_queue(p)))
			rm_rf(p);
		free(p);
	}
	closedir(d);
}
