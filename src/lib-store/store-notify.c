/* store-notify - change notification for IDLE: one inotify per process */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store.h"
#include "store-private.h"
#include "xalloc.h"

#define NOTIFY_FILE "postern-notify"
#define WATCH_WDS 3

struct notify_sub {
	int handle;            /* 0: free slot */
	int wd[WATCH_WDS];
	int nwd;
	store_notify_cb *cb;
	void *ctx;
	bool hit;
};

struct wd_ref {
	int wd;
	int refs;
};

struct store_notify {
	int fd;
	struct notify_sub *subs;
	size_t nsubs;
	struct wd_ref *wds;
	size_t nwds;
	int next_handle;
};

/* store_touch_notify - tell watchers of the folder in dir that its index
 * changed (flags, expunges, appends) */
void
store_touch_notify(const char *dir)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/" NOTIFY_FILE, dir);
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return;
	(void)futimens(fd, NULL);
	close(fd);
}

struct store_notify *
store_notify_create(const char **error_r)
{
	struct store_notify *n;
	int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);

	if (fd < 0) {
		store_seterr(error_r, "inotify: %s", strerror(errno));
		return NULL;
	}
	n = xcalloc(1, sizeof(*n));
	n->fd = fd;
	return n;
}

void
store_notify_free(struct store_notify **np)
{
	struct store_notify *n = *np;

	if (n == NULL)
		return;
	close(n->fd);
	free(n->subs);
	free(n->wds);
	free(n);
	*np = NULL;
}

int
store_notify_fd(const struct store_notify *n)
{
	return n->fd;
}

static void
wd_ref(struct store_notify *n, int wd)
{
	for (size_t i = 0; i < n->nwds; i++)
		if (n->wds[i].wd == wd) {
			n->wds[i].refs++;
			return;
		}
	n->wds = xreallocarray(n->wds, n->nwds + 1, sizeof(*n->wds));
	n->wds[n->nwds++] = (struct wd_ref){ wd, 1 };
}

static void
wd_unref(struct store_notify *n, int wd)
{
	for (size_t i = 0; i < n->nwds; i++)
		if (n->wds[i].wd == wd) {
			if (--n->wds[i].refs == 0) {
				inotify_rm_watch(n->fd, wd);
				n->wds[i] = n->wds[--n->nwds];
			}
			return;
		}
}

/* store_notify_watch - call cb when the folder changes */
int
store_notify_watch(struct store_notify *n, struct store_folder *f,
		   store_notify_cb *cb, void *ctx, const char **error_r)
{
	const char *dir = store_folder_dir(f);
	char path[4096];
	struct notify_sub *s = NULL;
	static const struct {
		const char *sub;
		uint32_t mask;
	} w[WATCH_WDS] = {
		{ "new", IN_CREATE | IN_MOVED_TO },
		{ "cur", IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE },
		{ NOTIFY_FILE, IN_ATTRIB | IN_MODIFY },
	};

	store_touch_notify(dir);
	for (size_t i = 0; i < n->nsubs; i++)
		if (n->subs[i].handle == 0)
			s = &n->subs[i];
	if (s == NULL) {
		n->subs = xreallocarray(n->subs, n->nsubs + 1, sizeof(*n->subs));
		s = &n->subs[n->nsubs++];
	}
	memset(s, 0, sizeof(*s));
	for (int i = 0; i < WATCH_WDS; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, w[i].sub);
		s->wd[i] = inotify_add_watch(n->fd, path, w[i].mask);
		if (s->wd[i] < 0) {
			store_seterr(error_r, "inotify %s: %s", path,
			    strerror(errno));
			for (int j = 0; j < i; j++)
				wd_unref(n, s->wd[j]);
			return -1;
		}
		wd_ref(n, s->wd[i]);
		s->nwd = i + 1;
	}
	s->cb = cb;
	s->ctx = ctx;
	s->handle = ++n->next_handle;
	return s->handle;
}

/* store_notify_watch_account - call cb when the account's folder set or
 * its index changes: a folder made, deleted or renamed (its directory),
 * any commit (the index's write-ahead log: subscriptions, in any
 * process) */
int
store_notify_watch_account(struct store_notify *n, struct store *st,
			   store_notify_cb *cb, void *ctx, const char **error_r)
{
	struct notify_sub *s = NULL;

	for (size_t i = 0; i < n->nsubs; i++)
		if (n->subs[i].handle == 0)
			s = &n->subs[i];
	if (s == NULL) {
		n->subs = xreallocarray(n->subs, n->nsubs + 1, sizeof(*n->subs));
		s = &n->subs[n->nsubs++];
	}
	memset(s, 0, sizeof(*s));
	s->wd[0] = inotify_add_watch(n->fd, st->root, IN_CREATE | IN_DELETE |
	    IN_MOVED_FROM | IN_MOVED_TO | IN_MODIFY | IN_ONLYDIR);
	if (s->wd[0] < 0)
		return store_seterr(error_r, "inotify %s: %s", st->root,
		    strerror(errno)), -1;
	wd_ref(n, s->wd[0]);
	s->nwd = 1;
	s->cb = cb;
	s->ctx = ctx;
	s->handle = ++n->next_handle;
	return s->handle;
}

void
store_notify_unwatch(struct store_notify *n, int handle)
{
	for (size_t i = 0; i < n->nsubs; i++) {
		struct notify_sub *s = &n->subs[i];
		if (s->handle != handle)
			continue;
		for (int j = 0; j < s->nwd; j++)
			wd_unref(n, s->wd[j]);
		s->handle = 0;
		return;
	}
}

/* store_notify_dispatch - read events and run each touched callback once */
void
store_notify_dispatch(struct store_notify *n)
{
	char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool any = false;

	for (int rounds = 0; rounds < 64; rounds++) {
		ssize_t len = read(n->fd, buf, sizeof(buf));
		if (len <= 0)
			break;
		for (char *p = buf; p < buf + len;) {
			struct inotify_event *ev = (struct inotify_event *)p;
			for (size_t i = 0; i < n->nsubs; i++) {
				struct notify_sub *s = &n->subs[i];
				if (s->handle == 0)
					continue;
				for (int j = 0; j < s->nwd; j++)
					if (s->wd[j] == ev->wd) {
						s->hit = true;
						any = true;
					}
			}
			p += sizeof(*ev) + ev->len;
		}
	}
	if (!any)
		return;
	/* callbacks may unwatch: walk by handle */
	for (size_t i = 0; i < n->nsubs; i++) {
		struct notify_sub *s = &n->subs[i];
		if (s->handle == 0 || !s->hit)
			continue;
		s->hit = false;
		s->cb(s->ctx);
	}
}
