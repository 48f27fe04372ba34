/* prstore - the UIDL state and staged items of POP retrieval (prstore.h) */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "fsutil.h"
#include "log.h"
#include "prstore.h"
#include "xalloc.h"

static int
strp_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

bool
prstore_has(const struct prstore *s, const char *uidl)
{
	return s->nu > 0 && bsearch(&uidl, s->u, s->nu, sizeof(*s->u),
	    strp_cmp) != NULL;
}

void
prstore_insert(struct prstore *s, const char *uidl)
{
	if (prstore_has(s, uidl))
		return;
	s->u = xreallocarray(s->u, s->nu + 1, sizeof(*s->u));
	size_t i = s->nu;
	while (i > 0 && strcmp(s->u[i - 1], uidl) > 0) {
		s->u[i] = s->u[i - 1];
		i--;
	}
	s->u[i] = xstrdup(uidl);
	s->nu++;
}

void
prstore_free(struct prstore *s)
{
	if (s->fd >= 0)
		close(s->fd);
	for (size_t i = 0; i < s->nu; i++)
		free(s->u[i]);
	free(s->u);
	for (size_t i = 0; i < s->nin; i++)
		free(s->in[i].uidl);
	free(s->in);
	free(s->path);
	memset(s, 0, sizeof(*s));
	s->fd = -1;
}

/* prstore_load - read <statedir>/<id>.uidl and open it for appending */
int
prstore_load(const char *statedir, int64_t id, struct prstore *s,
	     const char **error_r)
{
	struct buf b;

	memset(s, 0, sizeof(*s));
	s->fd = -1;
	s->path = xasprintf("%s/%lld.uidl", statedir, (long long)id);
	buf_init(&b, 256 * 1024 * 1024);
	if (file_read(s->path, &b) < 0 && errno != ENOENT) {
		buf_free(&b);
		*error_r = "cannot read the UIDL state";
		return -1;
	}
	char *save = NULL;
	for (char *l = strtok_r(b.data ? b.data : (char *)"", "\n", &save);
	    l != NULL; l = strtok_r(NULL, "\n", &save)) {
		if (l[0] == 'u' && l[1] == ' ' && strlen(l + 2) < PR_UIDL_MAX) {
			s->u = xreallocarray(s->u, s->nu + 1, sizeof(*s->u));
			s->u[s->nu++] = xstrdup(l + 2);
		} else if (l[0] == 'i' && l[1] == ' ') {
			char *sp = strchr(l + 2, ' ');
			if (sp == NULL || sp - (l + 2) > QUEUE_ID_MAX)
				continue;
			s->in = xreallocarray(s->in, s->nin + 1, sizeof(*s->in));
			snprintf(s->in[s->nin].qid, sizeof(s->in[s->nin].qid), "%.*s",
			    (int)(sp - (l + 2)), l + 2);
			s->in[s->nin++].uidl = xstrdup(sp + 1);
		}
	}
	buf_free(&b);
	if (s->nu > 1) {
		qsort(s->u, s->nu, sizeof(*s->u), strp_cmp);
		size_t k = 1;   /* drop repeats */
		for (size_t i = 1; i < s->nu; i++) {
			if (strcmp(s->u[i], s->u[k - 1]) == 0)
				free(s->u[i]);
			else
				s->u[k++] = s->u[i];
		}
		s->nu = k;
	}
	s->fd = open(s->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (s->fd < 0) {
		*error_r = "cannot open the UIDL state";
		return -1;
	}
	return 0;
}

/* prstore_append - one record, durably */
int
prstore_append(struct prstore *s, const char *line)
{
	if (write_full(s->fd, line, strlen(line)) < 0 || fdatasync(s->fd) < 0)
		return -1;
	return 0;
}

/* prstore_rewrite - keep only the UIDLs in keep (still on the server) */
void
prstore_rewrite(struct prstore *s, char **keep, size_t nkeep)
{
	struct buf b;
	buf_init(&b, 0);
	for (size_t i = 0; i < nkeep; i++)
		if (prstore_has(s, keep[i]))
			buf_printf(&b, "u %s\n", keep[i]);
	if (file_write_atomic(s->path, b.data ? b.data : "", b.len, 0640) < 0)
		log_warn("%s: cannot rewrite", s->path);
	else {
		/* the appending descriptor must follow the new file */
		close(s->fd);
		s->fd = open(s->path, O_WRONLY | O_APPEND | O_CLOEXEC);
	}
	buf_free(&b);
}

/* ---------------------------------------------------- staged items */

/* prstore_stage_move - hand a staged item to the MTA: rename the message, then
 * the envelope (the commit), into pr/inbound/new. A move cut in half (the
 * message moved, the envelope not) is finished here too. */
int
prstore_stage_move(const char *staged, const char *inbound,
		   const char *qid)
{
	char *sm = xasprintf("%s/new/%s.msg", staged, qid);
	char *se = xasprintf("%s/new/%s.env", staged, qid);
	char *im = xasprintf("%s/new/%s.msg", inbound, qid);
	char *ie = xasprintf("%s/new/%s.env", inbound, qid);
	char *dir = xasprintf("%s/new", inbound);
	int r = 0;

	if (rename(sm, im) < 0 && errno != ENOENT)
		r = -1;
	if (r == 0 && access(im, F_OK) != 0)
		r = -1;   /* neither here nor there: leave it */
	if (r == 0 && rename(se, ie) < 0)
		r = -1;
	if (r == 0 && fsync_dir(dir) < 0)
		r = -1;
	if (r < 0)
		log_warn("%s: cannot move the fetched item to %s", qid, inbound);
	free(sm);
	free(se);
	free(im);
	free(ie);
	free(dir);
	return r;
}

/* prstore_stage_recover - after a crash: remember the UIDL of every staged item
 * from its intent, then move it on */
void
prstore_stage_recover(const char *staged, const char *inbound,
		      struct prstore *s)
{
	for (size_t i = 0; i < s->nin; i++) {
		char *se = xasprintf("%s/new/%s.env", staged, s->in[i].qid);
		if (access(se, F_OK) == 0) {
			if (!prstore_has(s, s->in[i].uidl)) {
				char *line = xasprintf("u %s\n", s->in[i].uidl);
				if (prstore_append(s, line) == 0)
					prstore_insert(s, s->in[i].uidl);
				free(line);
			}
			log_info("%s: recovered a fetched message (uidl %s)",
			    s->in[i].qid, s->in[i].uidl);
			prstore_stage_move(staged, inbound, s->in[i].qid);
		}
		free(se);
	}
}

/* prstore_stage_flush - move every committed staged item (their UIDLs are
 * remembered: prstore_stage_recover ran for every account first) */
void
prstore_stage_flush(const char *staged, const char *inbound)
{
	char *dir = xasprintf("%s/new", staged);
	DIR *d = opendir(dir);
	struct dirent *de;
	char **ids = NULL;
	size_t n = 0;

	if (d != NULL) {
		while ((de = readdir(d)) != NULL) {
			size_t l = strlen(de->d_name);
			if (l > 4 && l - 4 <= QUEUE_ID_MAX &&
			    strcmp(de->d_name + l - 4, ".env") == 0) {
				ids = xreallocarray(ids, n + 1, sizeof(*ids));
				ids[n++] = xstrndup(de->d_name, l - 4);
			}
		}
		closedir(d);
	}
	for (size_t i = 0; i < n; i++) {
		prstore_stage_move(staged, inbound, ids[i]);
		free(ids[i]);
	}
	free(ids);
	free(dir);
}
