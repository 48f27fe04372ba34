#ifndef POSTERN_ADMIN_BRANDING_H
#define POSTERN_ADMIN_BRANDING_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "db.h"

/* branding - a post office's logos (manual 5.3.6 "may brand"): the login
 * logo (the web admin's and webmail's login pages) and the banner logo
 * (their headers). Files under <root>/branding/<post office>/ named
 * <kind>.<png|jpg|svg>, written atomically; removed with the post
 * office. PNG, JPEG or SVG of at most BRAND_MAX bytes; an SVG with
 * script, event handlers, javascript: URLs, foreign objects or external
 * references is refused, and httpd serves every logo with nosniff and a
 * sandboxing Content-Security-Policy besides. */

#define BRAND_MAX (256 * 1024)

/* the kinds: "login", "banner" */
extern const char *const brand_kinds[];

struct brand_info {
	bool set;
	const char *type;       /* "image/png", "image/jpeg", "image/svg+xml" */
	size_t size;
	time_t updated;
	char path[4096];
};

/* brand_kind_valid - "login" or "banner" */
bool brand_kind_valid(const char *kind);
/* brand_get - what post office po has as kind (info->set false: none) */
void brand_get(const char *root, const char *po, const char *kind,
	       struct brand_info *info);
/* brand_check - data of type is a logo we keep: 0, or -1 with *why_r */
int brand_check(const char *type, const unsigned char *data, size_t len,
		const char **why_r);
/* brand_put - check and store data as po's kind (replacing it): 0, or -1
 * with *error_r */
int brand_put(const char *root, const char *po, const char *kind,
	      const char *type, const unsigned char *data, size_t len,
	      const char **error_r);
/* brand_remove - remove po's kind (kind NULL: every logo of po): 0 or -1 */
int brand_remove(const char *root, const char *po, const char *kind);
/* brand_postoffice_of - the post office a login names: the domain after
 * its last '@' (a hosted domain's post office) or a post office of that
 * name; without '@' the login itself as a post office's name. 1 found
 * (po_r), 0 none, -1 store error. The mailbox part is never looked at. */
int brand_postoffice_of(struct db *db, const char *login, char *po_r,
			size_t size, const char **error_r);
/* brand_login_postoffice - the post office a name typed at the login
 * page names (the logos' brand_postoffice_of and oidc_offered): a hosted
 * domain's post office (*disabled_r: the domain is disabled), else a
 * post office of that name (case folded). 1 found (po_r), 0 none, -1
 * store error. */
int brand_login_postoffice(struct db *db, const char *name, char *po_r,
			   size_t size, bool *disabled_r,
			   const char **error_r);

#endif
