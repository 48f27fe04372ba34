/* sieve-store - the Sieve scripts of a mailbox: <root>/sieve/<name>.sieve
 * and <root>/sieve/active (the active script's name), shared by deliver,
 * ManageSieve and `postern filter`. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "fsutil.h"
#include "sieve.h"
#include "xalloc.h"

#define SUFFIX ".sieve"

int
sieve_name_check(const char *name, const char **error_r)
{
	size_t len = strlen(name);

	if (len == 0 || len > SIEVE_NAME_MAX) {
		*error_r = "script name empty or too long";
		return -1;
	}
	if (name[0] == '.' || strcmp(name, "active") == 0) {
		*error_r = "script name may not start with '.'";
		return -1;
	}
	for (const char *p = name; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f || *p == '/') {
			*error_r = "script name with '/' or a control character";
			return -1;
		}
	return 0;
}

/* give - to the owner of the mailbox root when we run as root */
static void
give(const char *root, const char *path)
{
	struct stat st;
	if (geteuid() == 0 && stat(root, &st) == 0)
		(void)!chown(path, st.st_uid, st.st_gid);
}

static char *
sieve_dir(const char *root)
{
	return xasprintf("%s/sieve", root);
}

static int
ensure_dir(const char *root, const char **error_r)
{
	char *d = sieve_dir(root);
	int r = 0;
	if (mkdir(d, 0750) == 0) {
		give(root, d);
	} else if (errno != EEXIST) {
		*error_r = "cannot create the sieve directory";
		r = -1;
	}
	free(d);
	return r;
}

static char *
script_path(const char *root, const char *name)
{
	return xasprintf("%s/sieve/%s" SUFFIX, root, name);
}

static int
write_file(const char *root, const char *path, const char *data, size_t len,
	   const char **error_r)
{
	if (file_write_atomic(path, data, len, 0640) < 0) {
		*error_r = "cannot write the script";
		return -1;
	}
	give(root, path);
	return 0;
}

int
sieve_store_put(const char *root, const char *name, const char *text,
		size_t len, char **cerror_r, const char **error_r)
{
	*cerror_r = NULL;
	if (sieve_name_check(name, error_r) < 0)
		return -1;
	struct sieve_script *s = sieve_compile(text, len, cerror_r);
	if (s == NULL) {
		*error_r = "syntax error";
		return -1;
	}
	sieve_script_free(&s);
	if (ensure_dir(root, error_r) < 0)
		return -1;
	char *path = script_path(root, name);
	int r = write_file(root, path, text, len, error_r);
	free(path);
	return r;
}

int
sieve_store_get(const char *root, const char *name, char **text_r,
		size_t *len_r, const char **error_r)
{
	struct buf b;

	*text_r = NULL;
	if (sieve_name_check(name, error_r) < 0)
		return -1;
	char *path = script_path(root, name);
	buf_init(&b, SIEVE_SCRIPT_MAX + 1);
	int r = file_read(path, &b);
	free(path);
	if (r < 0) {
		*error_r = errno == ENOENT ? "no such script" : "cannot read the script";
		buf_free(&b);
		return -1;
	}
	*len_r = b.len;
	buf_putc(&b, '\0');
	*text_r = buf_steal(&b);
	if (*text_r == NULL)
		*text_r = xstrdup("");
	return 0;
}

static char *
active_name(const char *root)
{
	struct buf b;
	char *path = xasprintf("%s/sieve/active", root);
	char *name = NULL;

	buf_init(&b, 4096);
	if (file_read(path, &b) == 0 && b.len > 0) {
		name = xstrndup(b.data, b.len);
		name[strcspn(name, "\r\n")] = '\0';
		const char *e;
		if (sieve_name_check(name, &e) < 0) {
			free(name);
			name = NULL;
		}
	}
	buf_free(&b);
	free(path);
	return name;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
sieve_store_list(const char *root, char ***names_r, size_t *n_r,
		 char **active_r, const char **error_r)
{
	char *d = sieve_dir(root);
	DIR *dir = opendir(d);
	struct dirent *de;

	*names_r = NULL;
	*n_r = 0;
	if (active_r != NULL)
		*active_r = NULL;
	free(d);
	if (dir == NULL) {
		if (errno == ENOENT)
			return 0;
		*error_r = "cannot read the sieve directory";
		return -1;
	}
	while ((de = readdir(dir)) != NULL && *n_r < 10000) {
		size_t l = strlen(de->d_name);
		const char *e;
		if (l <= strlen(SUFFIX) || strcmp(de->d_name + l - strlen(SUFFIX),
		    SUFFIX) != 0)
			continue;
		char *name = xstrndup(de->d_name, l - strlen(SUFFIX));
		if (sieve_name_check(name, &e) < 0) {
			free(name);
			continue;
		}
		*names_r = xreallocarray(*names_r, *n_r + 1, sizeof(**names_r));
		(*names_r)[(*n_r)++] = name;
	}
	closedir(dir);
	if (*n_r > 1)
		qsort(*names_r, *n_r, sizeof(**names_r), cmp_str);
	if (active_r != NULL) {
		*active_r = active_name(root);
		/* an active mark without its script marks nothing */
		bool found = false;
		for (size_t i = 0; *active_r && i < *n_r; i++)
			if (strcmp((*names_r)[i], *active_r) == 0)
				found = true;
		if (!found) {
			free(*active_r);
			*active_r = NULL;
		}
	}
	return 0;
}

void
sieve_store_list_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

int
sieve_store_activate(const char *root, const char *name, const char **error_r)
{
	char *path = xasprintf("%s/sieve/active", root);
	int r = 0;

	if (name == NULL || *name == '\0') {
		if (unlink(path) < 0 && errno != ENOENT) {
			*error_r = "cannot deactivate";
			r = -1;
		}
		free(path);
		return r;
	}
	char *sp = NULL;
	struct stat st;
	if (sieve_name_check(name, error_r) < 0)
		r = -1;
	else if (stat((sp = script_path(root, name)), &st) < 0) {
		*error_r = "no such script";
		r = -1;
	} else if (ensure_dir(root, error_r) < 0) {
		r = -1;
	} else {
		r = write_file(root, path, name, strlen(name), error_r);
	}
	free(sp);
	free(path);
	return r;
}

int
sieve_store_delete(const char *root, const char *name, const char **error_r)
{
	if (sieve_name_check(name, error_r) < 0)
		return -1;
	char *act = active_name(root);
	bool active = act != NULL && strcmp(act, name) == 0;
	free(act);
	if (active) {
		*error_r = "the script is active";
		return -1;
	}
	char *path = script_path(root, name);
	int r = unlink(path);
	if (r < 0)
		*error_r = errno == ENOENT ? "no such script" : "cannot delete";
	else
		(void)fsync_parent(path);
	free(path);
	return r < 0 ? -1 : 0;
}

int
sieve_store_rename(const char *root, const char *from, const char *to,
		   const char **error_r)
{
	struct stat st;
	int r = -1;

	if (sieve_name_check(from, error_r) < 0 || sieve_name_check(to, error_r) < 0)
		return -1;
	char *a = script_path(root, from), *b = script_path(root, to);
	char *act = active_name(root);
	if (stat(a, &st) < 0)
		*error_r = "no such script";
	else if (stat(b, &st) == 0)
		*error_r = "a script of that name exists";
	else if (rename(a, b) < 0)
		*error_r = "cannot rename";
	else {
		(void)fsync_parent(b);
		r = 0;
		if (act != NULL && strcmp(act, from) == 0)
			r = sieve_store_activate(root, to, error_r);
	}
	free(act);
	free(a);
	free(b);
	return r;
}

int
sieve_store_active(const char *root, char **text_r, size_t *len_r,
		   char **name_r, const char **error_r)
{
	char *name = active_name(root);

	*text_r = NULL;
	if (name_r != NULL)
		*name_r = NULL;
	if (name == NULL)
		return 0;
	if (sieve_store_get(root, name, text_r, len_r, error_r) < 0) {
		bool missing = strcmp(*error_r, "no such script") == 0;
		free(name);
		return missing ? 0 : -1;
	}
	if (name_r != NULL)
		*name_r = name;
	else
		free(name);
	return 1;
}

long long
sieve_store_usage(const char *root)
{
	char *d = sieve_dir(root);
	long long n = dir_size(d);
	free(d);
	return n < 0 ? 0 : n;
}
