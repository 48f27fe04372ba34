/* imap-urlauth-check - who may use a URLAUTH URL (see imap-urlauth-check.h) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "imap-urlauth-check.h"
#include "settings.h"

/* imap_urlauth_host_ours - see imap-urlauth-check.h */
int
imap_urlauth_host_ours(struct db *db, const char *host, const char **error_r)
{
	struct dir_domain d;
	char *me = settings_hostname(db);
	bool same = strcasecmp(host, me) == 0;

	free(me);
	if (same)
		return 1;
	if (strlen(host) > DOMAIN_MAX_LEN)
		return 0;
	int r = dir_domain_get(db, host, &d, error_r);
	if (r != 0)
		return r < 0 ? -1 : !d.disabled && !d.postoffice_disabled;
	/* a post office's name: the realm of user@postoffice logins */
	struct dir_postoffice po;
	if (strlen(host) > NAME_MAX_LEN)
		return 0;
	r = dir_postoffice_get(db, host, &po, error_r);
	return r == 1 ? !po.disabled : r;
}

/* imap_urlauth_owner - see imap-urlauth-check.h */
int
imap_urlauth_owner(struct db *db, const struct imap_urlauth *u,
		   struct dir_mailbox *mb, const char **error_r)
{
	char login[ADDRESS_MAX_LEN + 1];

	/* RFC 5092 3.2 / RFC 4467 3: the URL names a server; one of
	 * another server is not ours to resolve, whoever its user is */
	int h = imap_urlauth_host_ours(db, u->host, error_r);
	if (h <= 0)
		return h;
	if (strchr(u->owner, '@') != NULL) {
		if (strlen(u->owner) >= sizeof(login))
			return 0;
		strcpy(login, u->owner);
	} else if ((size_t)snprintf(login, sizeof(login), "%s@%s", u->owner,
	    u->host) >= sizeof(login)) {
		return 0;
	}
	int r = dir_login_lookup(db, login, mb, error_r);
	if (r == 1 && (mb->disabled || mb->postoffice_disabled))
		return 0;
	return r;
}

/* imap_urlauth_allowed - see imap-urlauth-check.h */
int
imap_urlauth_allowed(struct db *db, const struct imap_urlauth *u,
		     int64_t requester, bool submit, const char **error_r)
{
	struct dir_mailbox mb;
	int r;

	switch (u->access) {
	case IMAP_URLAUTH_ANONYMOUS:
		return 1;
	case IMAP_URLAUTH_AUTHUSER:
		return requester != 0;
	case IMAP_URLAUTH_SUBMIT:
	case IMAP_URLAUTH_USER:
		if (requester == 0 ||
		    submit != (u->access == IMAP_URLAUTH_SUBMIT))
			return 0;
		if (strlen(u->access_user) > ADDRESS_MAX_LEN)
			return 0;
		r = dir_login_lookup(db, u->access_user, &mb, error_r);
		if (r != 1)
			return r;
		return mb.id == requester;
	}
	return 0;
}

/* imap_urlauth_check_folder - see imap-urlauth-check.h */
int
imap_urlauth_check_folder(struct store_folder *f,
			  const struct imap_urlauth *u, const char *url,
			  time_t now, const char **error_r)
{
	unsigned char key[STORE_URLAUTH_KEY_LEN];
	struct store_folder_status st;

	if (u->expire != 0 && now >= u->expire) {
		*error_r = "URL expired";
		return 0;
	}
	if (u->url.uidvalidity != 0) {
		if (store_folder_status(f, &st, error_r) < 0)
			return -1;
		if (st.uidvalidity != u->url.uidvalidity) {
			*error_r = "UIDVALIDITY changed";
			return 0;
		}
	}
	int r = store_urlauth_key(f, false, key, error_r);
	if (r <= 0) {
		if (r == 0)
			*error_r = "No URLAUTH key for the mailbox";
		return r;
	}
	bool ok = imap_urlauth_verify(u, url, key);
	OPENSSL_cleanse(key, sizeof(key));
	if (!ok)
		*error_r = "Wrong URLAUTH token";
	return ok ? 1 : 0;
}
