/* grace - expunged messages readable a while longer (see grace.h) */
#include <fcntl.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "grace.h"
#include "view.h"
#include "xalloc.h"

struct grace {
	int64_t mbox;
	uint32_t uidvalidity, uid;
	char *folder;
	int fd;
	time_t until;           /* monotonic seconds */
};

static struct grace *held;
static size_t nheld;

static time_t
mono_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec;
}

static void
drop(size_t i)
{
	close(held[i].fd);
	free(held[i].folder);
	held[i] = held[--nheld];
}

/* prune - close what is past its grace */
static void
prune(void)
{
	time_t now = mono_now();

	for (size_t i = 0; i < nheld; )
		if (held[i].until <= now)
			drop(i);
		else
			i++;
}

/* grace_max - GRACE_MAX, or a quarter of the descriptor limit: the
 * sessions' sockets and the store's files come first */
static size_t
grace_max(void)
{
	static size_t max;
	struct rlimit rl;

	if (max == 0) {
		max = GRACE_MAX;
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
		    rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur / 4 < max)
			max = (size_t)rl.rlim_cur / 4;
	}
	return max;
}

static void
hold_one(struct session *s, uint32_t uid, time_t until)
{
	struct store_msg m;
	const char *err;

	if (nheld >= grace_max())
		return;
	memset(&m, 0, sizeof(m));
	if (store_msg_get(s->folder, uid, &m, &err) != 1)
		return;
	int fd = store_msg_open(s->folder, &m, &err);
	store_msg_clear(&m);
	if (fd < 0)
		return;
	held = xreallocarray(held, nheld + 1, sizeof(*held));
	held[nheld++] = (struct grace){ .mbox = s->mailbox_id,
	    .uidvalidity = s->uidvalidity, .uid = uid,
	    .folder = xstrdup(store_folder_name(s->folder)), .fd = fd,
	    .until = until };
}

/* grace_hold - see grace.h */
void
grace_hold(struct session *s, const uint32_t *uids, size_t n)
{
	time_t until = mono_now() + GRACE_SECONDS;

	if (s->folder == NULL)
		return;
	prune();
	/* only when another session of the process has the folder open:
	 * nobody else could read the files */
	bool shared = false;
	for (struct session *o = s->d->list; o != NULL && !shared; o = o->next)
		shared = o != s && o->folder != NULL &&
		    o->mailbox_id == s->mailbox_id &&
		    strcmp(store_folder_name(o->folder),
		    store_folder_name(s->folder)) == 0;
	if (!shared)
		return;
	if (uids != NULL) {
		for (size_t i = 0; i < n; i++)
			hold_one(s, uids[i], until);
		return;
	}
	for (size_t i = 0; i < s->nmsgs; i++)
		if ((s->msgs[i].flags & STORE_DELETED) && !s->msgs[i].gone)
			hold_one(s, s->msgs[i].uid, until);
}

/* grace_open - see grace.h */
int
grace_open(struct session *s, uint32_t uid)
{
	prune();
	for (size_t i = 0; i < nheld; i++)
		if (held[i].uid == uid && held[i].mbox == s->mailbox_id &&
		    held[i].uidvalidity == s->uidvalidity &&
		    strcmp(held[i].folder, store_folder_name(s->folder)) == 0)
		{
			/* a dup shares the offset: rewind it (one loop
			 * thread reads these) */
			int fd = fcntl(held[i].fd, F_DUPFD_CLOEXEC, 0);
			if (fd >= 0)
				lseek(fd, 0, SEEK_SET);
			return fd;
		}
	return -1;
}
