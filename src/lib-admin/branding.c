/* branding - a post office's login and banner logos (branding.h) */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "branding.h"
#include "directory.h"
#include "fsutil.h"
#include "strutil.h"
#include "xalloc.h"

const char *const brand_kinds[] = { "login", "banner", NULL };

static const struct {
	const char *type, *ext;
} types[] = {
	{ "image/png", "png" },
	{ "image/jpeg", "jpg" },
	{ "image/svg+xml", "svg" },
	{ NULL, NULL },
};

bool
brand_kind_valid(const char *kind)
{
	for (size_t i = 0; kind != NULL && brand_kinds[i] != NULL; i++)
		if (strcmp(kind, brand_kinds[i]) == 0)
			return true;
	return false;
}

/* po_dir - <root>/branding/<po in lower case>, or NULL for a name that
 * cannot be a post office's */
static char *
po_dir(const char *root, const char *po)
{
	if (po == NULL || *po == '\0' || *po == '.' || strlen(po) > NAME_MAX_LEN ||
	    strchr(po, '/') != NULL)
		return NULL;
	char *lower = xstrdup(po);
	str_lower(lower);
	char *p = xasprintf("%s/branding/%s", root, lower);
	free(lower);
	return p;
}

void
brand_get(const char *root, const char *po, const char *kind,
	  struct brand_info *info)
{
	char *dir = po_dir(root, po);
	struct stat st;

	memset(info, 0, sizeof(*info));
	if (dir == NULL || !brand_kind_valid(kind)) {
		free(dir);
		return;
	}
	for (size_t i = 0; types[i].type != NULL; i++) {
		snprintf(info->path, sizeof(info->path), "%s/%s.%s", dir, kind,
		    types[i].ext);
		if (stat(info->path, &st) == 0 && S_ISREG(st.st_mode)) {
			info->set = true;
			info->type = types[i].type;
			info->size = (size_t)st.st_size;
			info->updated = st.st_mtime;
			break;
		}
	}
	if (!info->set)
		info->path[0] = '\0';
	free(dir);
}

/* svg_safe - an SVG image with nothing active in it: no script, event
 * handler, javascript: or data: URL, foreign object, or reference to
 * anything outside it (an <img> shows an SVG without running scripts or
 * loading, but the same URL opened on its own would) */
static int
svg_safe(const unsigned char *data, size_t len, const char **why_r)
{
	static const char *const banned[] = { "<script", "javascript:",
	    "<foreignobject", "<iframe", "<embed", "<object", "<!entity",
	    "xlink:href=\"http", "xlink:href='http", "href=\"http", "href='http",
	    "href=\"//", "href='//", "url(http", "url(//", "@import", "data:",
	    "<use", "<animate", "<set", "<handler", "<listener", NULL };
	char *low = xmalloc(len + 1);
	size_t i;
	int r = 0;

	for (i = 0; i < len; i++) {
		if (data[i] == '\0') {
			free(low);
			*why_r = "an SVG image is text: this one holds a NUL";
			return -1;
		}
		low[i] = (char)tolower(data[i]);
	}
	low[len] = '\0';
	const char *p = low;
	while (isspace((unsigned char)*p))
		p++;
	if (strncmp(p, "\xef\xbb\xbf", 3) == 0)
		p += 3;
	if (strstr(low, "<svg") == NULL || (*p != '<')) {
		*why_r = "not an SVG image (no <svg> element)";
		r = -1;
	}
	for (i = 0; r == 0 && banned[i] != NULL; i++)
		if (strstr(low, banned[i]) != NULL) {
			*why_r = "the SVG image holds script, an event handler, "
			    "a foreign object or an outside reference: save it "
			    "as plain SVG, or as PNG";
			r = -1;
		}
	/* on...= attributes: an event handler (after a space, a quote or a
	 * slash: <svg/onload=...> is one too) */
	for (p = low; r == 0 && (p = strstr(p, "on")) != NULL; p += 2) {
		if (p == low || isalnum((unsigned char)p[-1]) || p[-1] == '-' ||
		    p[-1] == '_' || p[-1] == ':' || p[-1] == '.')
			continue;
		const char *q = p + 2;
		while (isalpha((unsigned char)*q))
			q++;
		while (isspace((unsigned char)*q))
			q++;
		if (q > p + 2 && *q == '=') {
			*why_r = "the SVG image holds an event handler (on...=): "
			    "save it as plain SVG, or as PNG";
			r = -1;
		}
	}
	free(low);
	return r;
}

int
brand_check(const char *type, const unsigned char *data, size_t len,
	    const char **why_r)
{
	if (len == 0) {
		*why_r = "the image is empty";
		return -1;
	}
	if (len > BRAND_MAX) {
		*why_r = "a logo is at most 256 KB";
		return -1;
	}
	if (type == NULL) {
		*why_r = "the type is image/png, image/jpeg or image/svg+xml";
		return -1;
	}
	if (strcmp(type, "image/png") == 0) {
		if (len < 8 || memcmp(data, "\x89PNG\r\n\x1a\n", 8) != 0) {
			*why_r = "not a PNG image";
			return -1;
		}
		return 0;
	}
	if (strcmp(type, "image/jpeg") == 0) {
		if (len < 3 || memcmp(data, "\xff\xd8\xff", 3) != 0) {
			*why_r = "not a JPEG image";
			return -1;
		}
		return 0;
	}
	if (strcmp(type, "image/svg+xml") == 0)
		return svg_safe(data, len, why_r);
	*why_r = "the type is image/png, image/jpeg or image/svg+xml";
	return -1;
}

int
brand_put(const char *root, const char *po, const char *kind,
	  const char *type, const unsigned char *data, size_t len,
	  const char **error_r)
{
	char *dir = po_dir(root, po);
	const char *ext = NULL;
	int r = -1;

	if (dir == NULL || !brand_kind_valid(kind)) {
		free(dir);
		*error_r = "no such post office or logo";
		return -1;
	}
	if (brand_check(type, data, len, error_r) < 0) {
		free(dir);
		return -1;
	}
	for (size_t i = 0; types[i].type != NULL; i++)
		if (strcmp(types[i].type, type) == 0)
			ext = types[i].ext;
	if (ext == NULL) {              /* brand_check knows every type */
		free(dir);
		*error_r = "unsupported logo type";
		return -1;
	}
	char *path = xasprintf("%s/%s.%s", dir, kind, ext);
	if (mkdir_p(dir, 0750) < 0 || file_write_atomic(path, data, len,
	    0640) < 0)
		*error_r = "cannot write the logo";
	else {
		r = 0;
		/* the same logo in another type goes */
		for (size_t i = 0; types[i].type != NULL; i++) {
			if (strcmp(types[i].ext, ext) == 0)
				continue;
			char *old = xasprintf("%s/%s.%s", dir, kind, types[i].ext);
			if (unlink(old) < 0 && errno != ENOENT)
				r = -1;
			free(old);
		}
		if (r < 0)
			*error_r = "cannot remove the former logo";
	}
	free(path);
	free(dir);
	return r;
}

int
brand_remove(const char *root, const char *po, const char *kind)
{
	char *dir = po_dir(root, po);
	int r = 0;

	if (dir == NULL)
		return -1;
	if (kind == NULL)
		r = rm_rf(dir);
	else
		for (size_t i = 0; types[i].type != NULL; i++) {
			char *p = xasprintf("%s/%s.%s", dir, kind, types[i].ext);
			if (unlink(p) < 0 && errno != ENOENT)
				r = -1;
			free(p);
		}
	free(dir);
	return r;
}

/* brand_login_postoffice - see branding.h */
int
brand_login_postoffice(struct db *db, const char *name, char *po_r,
		       size_t size, bool *disabled_r, const char **error_r)
{
	char lower[DOMAIN_MAX_LEN + 1];
	struct dir_domain d;
	struct dir_postoffice p;
	size_t n;

	*disabled_r = false;
	if (name == NULL || *name == '\0' || strlen(name) >= sizeof(lower))
		return 0;
	for (n = 0; name[n] != '\0'; n++)
		lower[n] = (char)tolower((unsigned char)name[n]);
	lower[n] = '\0';
	/* a domain of a post office, else a post office's own name */
	int r = dir_domain_get(db, lower, &d, error_r);
	if (r < 0)
		return -1;
	if (r > 0) {
		snprintf(po_r, size, "%s", d.postoffice);
		*disabled_r = d.disabled;
		return 1;
	}
	if (strlen(lower) > NAME_MAX_LEN)
		return 0;
	r = dir_postoffice_get(db, lower, &p, error_r);
	if (r > 0)
		snprintf(po_r, size, "%s", p.name);
	return r;
}

int
brand_postoffice_of(struct db *db, const char *login, char *po_r, size_t size,
		    const char **error_r)
{
	const char *at = login != NULL ? strrchr(login, '@') : NULL;
	bool disabled;

	return brand_login_postoffice(db, at != NULL ? at + 1 : login, po_r,
	    size, &disabled, error_r);
}
