/* store-filename - Maildir file names: unique names, S= W= sizes, flags */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "fsutil.h"
#include "store.h"
#include "store-private.h"
#include "strutil.h"
#include "xalloc.h"

/* store_unique_name - a new Maildir base name (without ,S= ,W=) */
char *
store_unique_name(void)
{
	static unsigned long counter;
	char host[256], clean[256];
	struct timeval tv;
	uint32_t rnd;
	size_t j = 0;

	if (gethostname(host, sizeof(host)) < 0)
		strcpy(host, "localhost");
	host[sizeof(host) - 1] = '\0';
	for (size_t i = 0; host[i] != '\0' && j < sizeof(clean) - 5; i++) {
		/* Maildir: '/' -> \057, ':' -> \072; ',' would clash with ,S= */
		if (host[i] == '/' || host[i] == ':' || host[i] == ',')
			clean[j++] = '_';
		else
			clean[j++] = host[i];
	}
	clean[j] = '\0';
	gettimeofday(&tv, NULL);
	random_bytes(&rnd, sizeof(rnd));
	return xasprintf("%lld.M%06ldP%ldQ%luR%08" PRIx32 ".%s",
	    (long long)tv.tv_sec, (long)tv.tv_usec, (long)getpid(),
	    __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED), rnd, clean);
}

/* store_flags_letters - Maildir info letters (sorted) of flags */
void
store_flags_letters(unsigned int flags, char out[8])
{
	size_t i = 0;

	if (flags & STORE_DRAFT)
		out[i++] = 'D';
	if (flags & STORE_FLAGGED)
		out[i++] = 'F';
	if (flags & STORE_ANSWERED)
		out[i++] = 'R';
	if (flags & STORE_SEEN)
		out[i++] = 'S';
	if (flags & STORE_DELETED)
		out[i++] = 'T';
	out[i] = '\0';
}

/* store_name_parse - sizes and flags from a Maildir file name: S= and W=
 * (-1 if absent), flags from ":2,". */
void
store_name_parse(const char *name, int64_t *size_r, int64_t *vsize_r,
		 unsigned int *flags_r)
{
	const char *colon = strchr(name, ':');
	size_t baselen = colon ? (size_t)(colon - name) : strlen(name);

	*size_r = -1;
	*vsize_r = -1;
	*flags_r = 0;
	for (const char *p = name; p < name + baselen; p++) {
		if (*p != ',' || p + 3 > name + baselen || p[2] != '=')
			continue;
		char *end;
		long long v = strtoll(p + 3, &end, 10);
		if (end == p + 3 || v < 0)
			continue;
		if (p[1] == 'S')
			*size_r = v;
		else if (p[1] == 'W')
			*vsize_r = v;
	}
	if (colon != NULL && strncmp(colon, ":2,", 3) == 0) {
		for (const char *p = colon + 3; *p != '\0'; p++) {
			switch (*p) {
			case 'D': *flags_r |= STORE_DRAFT; break;
			case 'F': *flags_r |= STORE_FLAGGED; break;
			case 'R': *flags_r |= STORE_ANSWERED; break;
			case 'S': *flags_r |= STORE_SEEN; break;
			case 'T': *flags_r |= STORE_DELETED; break;
			default: break;
			}
		}
	}
}
/* store_maildir_make - create dir with cur/ new/ tmp/ (0 if they exist) */
int
store_maildir_make(const char *dir)
{
	static const char *const subs[] = { "cur", "new", "tmp" };
	char p[4096];

	for (size_t i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, subs[i]);
		if (access(p, F_OK) == 0)
			continue;
		if (mkdir_p(p, 0700) < 0)
			return -1;
	}
	return 0;
}

/* store_mtime_ns - a path's mtime in ns, -2 when stat fails */
int64_t
store_mtime_ns(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return -2;
	return (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
}

/* store_name_base - the base of a Maildir name (before ":") */
char *
store_name_base(const char *name)
{
	const char *c = strchr(name, ':');

	return c ? xstrndup(name, (size_t)(c - name)) : xstrdup(name);
}

/* vsize_of - the CRLF size of a file (reads it) */
int64_t
store_file_vsize(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char b[65536], last = '\0';
	int64_t v = 0;
	ssize_t n;

	if (fd < 0)
		return -1;
	while ((n = read(fd, b, sizeof(b))) > 0) {
		for (ssize_t i = 0; i < n; i++) {
			if (b[i] == '\n' && (i > 0 ? b[i - 1] : last) != '\r')
				v++;
		}
		last = b[n - 1];
		v += n;
	}
	close(fd);
	return v;
}

