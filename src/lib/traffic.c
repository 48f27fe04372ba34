/* traffic - the services' message counters and their per-minute ring
 * (traffic.h) */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "traffic.h"
#include "xalloc.h"

#define COUNTERS_MAGIC "PTCNT001"
#define RING_MAGIC "PTRING01"

const char *const traffic_names[] = { "in", "out", "delivered", "bounced",
	NULL };

/* the counters file: a magic and the counters */
struct counters_file {
	char magic[8];
	uint64_t c[TRAFFIC_NCOUNTERS];
};

/* the ring file: this header, then TRAFFIC_SLOTS slots */
struct ring_header {
	char magic[8];
	uint32_t slots, slot_size;
};

static struct counters_file *mapped;

/* counters_map - root's counters file mapped shared (made if missing),
 * or NULL */
static struct counters_file *
counters_map(const char *root, bool create)
{
	char *path = xasprintf("%s/run/traffic.counters", root);
	int fd = open(path, (create ? O_RDWR | O_CREAT : O_RDONLY) | O_CLOEXEC,
	    0640);
	struct counters_file *f = NULL;
	struct stat st;

	free(path);
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) == 0 && create &&
	    (size_t)st.st_size < sizeof(*f) &&
	    ftruncate(fd, sizeof(*f)) == 0)
		st.st_size = sizeof(*f);
	if ((size_t)st.st_size >= sizeof(*f)) {
		f = mmap(NULL, sizeof(*f), create ? PROT_READ | PROT_WRITE :
		    PROT_READ, MAP_SHARED, fd, 0);
		if (f == MAP_FAILED)
			f = NULL;
	}
	close(fd);
	if (f != NULL && create && memcmp(f->magic, COUNTERS_MAGIC, 8) != 0) {
		/* new (zeroed) or another format: start from zero */
		memset(f->c, 0, sizeof(f->c));
		memcpy(f->magic, COUNTERS_MAGIC, 8);
	}
	if (f != NULL && !create && memcmp(f->magic, COUNTERS_MAGIC, 8) != 0) {
		munmap(f, sizeof(*f));
		f = NULL;
	}
	return f;
}

int
traffic_open(const char *root)
{
	if (mapped == NULL)
		mapped = counters_map(root, true);
	return mapped != NULL ? 0 : -1;
}

void
traffic_add(enum traffic_counter c, uint64_t n)
{
	if (mapped != NULL && c < TRAFFIC_NCOUNTERS)
		__atomic_add_fetch(&mapped->c[c], n, __ATOMIC_RELAXED);
}

int
traffic_read(const char *root, uint64_t counters[TRAFFIC_NCOUNTERS])
{
	struct counters_file *f = counters_map(root, false);

	if (f == NULL) {
		memset(counters, 0, TRAFFIC_NCOUNTERS * sizeof(*counters));
		return -1;
	}
	for (size_t i = 0; i < TRAFFIC_NCOUNTERS; i++)
		counters[i] = __atomic_load_n(&f->c[i], __ATOMIC_RELAXED);
	munmap(f, sizeof(*f));
	return 0;
}

static char *
ring_path(const char *root)
{
	return xasprintf("%s/run/traffic.ring", root);
}

int
traffic_sample(const char *root, int64_t minute,
	       const int64_t queues[TRAFFIC_NQUEUES])
{
	struct ring_header h;
	struct traffic_slot s = { 0 };
	char *path = ring_path(root);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
	int rc = -1;

	free(path);
	if (fd < 0 || minute <= 0)
		goto out;
	/* a new file or another format: a fresh ring */
	if (pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h) ||
	    memcmp(h.magic, RING_MAGIC, 8) != 0 || h.slots != TRAFFIC_SLOTS ||
	    h.slot_size != sizeof(s)) {
		memset(&h, 0, sizeof(h));
		memcpy(h.magic, RING_MAGIC, 8);
		h.slots = TRAFFIC_SLOTS;
		h.slot_size = sizeof(s);
		if (ftruncate(fd, 0) < 0 || ftruncate(fd, sizeof(h) +
		    (off_t)TRAFFIC_SLOTS * sizeof(s)) < 0 ||
		    pwrite(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h))
			goto out;
	}
	off_t at = sizeof(h) + (off_t)(minute % TRAFFIC_SLOTS) * sizeof(s);
	/* the minute is sampled already (posternd restarted within it): the
	 * counters at its start stay */
	if (pread(fd, &s, sizeof(s), at) == (ssize_t)sizeof(s) &&
	    s.minute == minute && s.seal == minute) {
		rc = 0;
		goto out;
	}
	memset(&s, 0, sizeof(s));
	s.minute = minute;
	traffic_read(root, s.counters);
	memcpy(s.queues, queues, sizeof(s.queues));
	s.seal = minute;
	if (pwrite(fd, &s, sizeof(s), at) == (ssize_t)sizeof(s))
		rc = 0;
out:
	if (fd >= 0)
		close(fd);
	return rc;
}

int
traffic_ring_read(const char *root, struct traffic_slot *slots)
{
	struct ring_header h;
	char *path = ring_path(root);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t size = (size_t)TRAFFIC_SLOTS * sizeof(*slots);
	int rc = -1;

	free(path);
	memset(slots, 0, size);
	if (fd < 0)
		return -1;
	if (pread(fd, &h, sizeof(h), 0) == (ssize_t)sizeof(h) &&
	    memcmp(h.magic, RING_MAGIC, 8) == 0 && h.slots == TRAFFIC_SLOTS &&
	    h.slot_size == sizeof(*slots) &&
	    pread(fd, slots, size, sizeof(h)) == (ssize_t)size) {
		rc = 0;
		/* a slot being written (or a torn one) counts as empty */
		for (size_t i = 0; i < TRAFFIC_SLOTS; i++)
			if (slots[i].seal != slots[i].minute ||
			    slots[i].minute % TRAFFIC_SLOTS != (int64_t)i)
				memset(&slots[i], 0, sizeof(slots[i]));
	} else
		memset(slots, 0, size);
	close(fd);
	return rc;
}
