/* webauth - web admin sessions and API tokens, stored hashed (webauth.h) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "admin.h"
#include "directory.h"
#include "settings.h"
#include "strutil.h"
#include "webauth.h"
#include "xalloc.h"

#define TOUCH_EVERY 60

/* secret_hash - hex SHA-256 of s into out (65 bytes) */
static void
secret_hash(const char *s, char out[SHA256_DIGEST_LENGTH * 2 + 1])
{
	unsigned char md[SHA256_DIGEST_LENGTH];

	SHA256((const unsigned char *)s, strlen(s), md);
	for (size_t i = 0; i < sizeof(md); i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

int
webauth_session_create(struct db *db, int64_t mailbox_id, const char *client,
		       const char *user_agent,
		       char id_out[WEBAUTH_SESSION_LEN + 1], int64_t *sid_r,
		       const char **error_r)
{
	unsigned char raw[32];
	char hash[SHA256_DIGEST_LENGTH * 2 + 1];
	int64_t now = time(NULL);

	random_bytes(raw, sizeof(raw));
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(id_out + 2 * i, 3, "%02x", raw[i]);
	explicit_bzero(raw, sizeof(raw));
	secret_hash(id_out, hash);
	char ua[201];
	snprintf(ua, sizeof(ua), "%s", user_agent != NULL ? user_agent : "");
	if (db_exec(db, error_r, "INSERT INTO web_session (hash, mailbox_id, "
	    "created, last_seen, client, user_agent) VALUES (?, ?, ?, ?, ?, ?)",
	    "tiiitt", hash, mailbox_id, now, now, client, ua) < 0)
		return db_last_error(db) == DB_EBUSY ? ADM_BUSY : ADM_FAIL;
	*sid_r = db_last_id(db);
	/* forget this mailbox's expired sessions while here (a mailbox
	 * has a few) */
	struct db_stmt *st = db_query(db, error_r, "SELECT id, created, "
	    "last_seen FROM web_session WHERE mailbox_id = ?", "i", mailbox_id);
	if (st == NULL)
		return ADM_OK;
	int64_t gone[64];
	size_t ngone = 0;
	while (ngone < sizeof(gone) / sizeof(gone[0]) &&
	    db_step(st, NULL) == DB_ROW)
		if (now >= dir_web_session_expires(db,
		    db_col_int(st, 1), db_col_int(st, 2)))
			gone[ngone++] = db_col_int(st, 0);
	db_stmt_free(&st);
	for (size_t i = 0; i < ngone; i++)
		(void)db_exec(db, error_r, "DELETE FROM web_session WHERE "
		    "id = ?", "i", gone[i]);
	return ADM_OK;
}

int
webauth_session_lookup(struct db *db, const char *id, int64_t now,
		       int64_t *mailbox_id_r, int64_t *sid_r,
		       const char **error_r)
{
	char hash[SHA256_DIGEST_LENGTH * 2 + 1];
	int r;

	if (strlen(id) != WEBAUTH_SESSION_LEN ||
	    strspn(id, "0123456789abcdef") != WEBAUTH_SESSION_LEN)
		return 0;
	secret_hash(id, hash);
	struct db_stmt *st = db_query(db, error_r, "SELECT id, mailbox_id, "
	    "created, last_seen FROM web_session WHERE hash = ?", "t", hash);
	if (st == NULL)
		return -1;
	if ((r = db_step(st, NULL)) != DB_ROW) {
		db_stmt_free(&st);
		return r == DB_DONE ? 0 : db_fail(db, error_r, "session");
	}
	int64_t sid = db_col_int(st, 0);
	int64_t mid = db_col_int(st, 1);
	int64_t created = db_col_int(st, 2);
	int64_t seen = db_col_int(st, 3);
	db_stmt_free(&st);
	if (now >= dir_web_session_expires(db, created, seen)) {
		(void)db_exec(db, error_r, "DELETE FROM web_session WHERE id = ?",
		    "i", sid);
		return 0;
	}
	if (now - seen >= TOUCH_EVERY)
		(void)db_exec(db, error_r, "UPDATE web_session SET last_seen = ? "
		    "WHERE id = ?", "ii", now, sid);
	*mailbox_id_r = mid;
	*sid_r = sid;
	return 1;
}

int
webauth_session_delete(struct db *db, int64_t sid, int64_t mailbox_id,
		       const char **error_r)
{
	if (db_exec(db, error_r, "DELETE FROM web_session WHERE id = ? AND "
	    "mailbox_id = ?", "ii", sid, mailbox_id) < 0)
		return ADM_FAIL;
	if (db_changes(db) == 0) {
		db_errorf(db, error_r, "no session %lld of this login",
		    (long long)sid);
		return ADM_NOTFOUND;
	}
	return ADM_OK;
}

int
webauth_token_create(struct db *db, const char *mailbox, const char *postoffice,
		     const char *name, int64_t expires,
		     char token_out[WEBAUTH_TOKEN_LEN + 1], int64_t *id_r,
		     const char **error_r)
{
	struct dir_mailbox mb;
	int64_t mid, po_id = 0;
	char hash[SHA256_DIGEST_LENGTH * 2 + 1];
	unsigned char raw[32];
	int r;

	if ((r = adm_object_id(db, ADM_MAILBOX, mailbox, &mid, error_r)) < 0)
		return r;
	if ((r = dir_mailbox_get(db, mid, &mb, error_r)) <= 0)
		return r < 0 ? ADM_FAIL : ADM_NOTFOUND;
	if (strcmp(mb.type, "SYSADMIN") != 0 && strcmp(mb.type, "ADMIN") != 0) {
		db_errorf(db, error_r, "mailbox %s is of type %s: API tokens are "
		    "for ADMIN and SYSADMIN mailboxes", mailbox, mb.type);
		return ADM_INVALID;
	}
	if (name != NULL && strlen(name) > 100) {
		db_errorf(db, error_r, "a token name has at most 100 characters");
		return ADM_INVALID;
	}
	if (postoffice != NULL && *postoffice != '\0') {
		if ((r = adm_object_id(db, ADM_POSTOFFICE, postoffice, &po_id,
		    error_r)) < 0)
			return r;
	} else if (strcmp(mb.type, "ADMIN") == 0)
		po_id = mb.postoffice_id;
	if (strcmp(mb.type, "ADMIN") == 0 && po_id != mb.postoffice_id) {
		db_errorf(db, error_r, "%s is an ADMIN of post office %s: its "
		    "tokens can only be scoped to %s", mailbox, mb.postoffice,
		    mb.postoffice);
		return ADM_INVALID;
	}
	unsigned char b64[48];
	random_bytes(raw, sizeof(raw));
	EVP_EncodeBlock(b64, raw, sizeof(raw));   /* 43 + one '=' */
	explicit_bzero(raw, sizeof(raw));
	/* base64url without padding */
	memcpy(token_out, "pt_", 3);
	for (size_t i = 0; i < WEBAUTH_TOKEN_LEN - 3; i++)
		token_out[3 + i] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' :
		    (char)b64[i];
	token_out[WEBAUTH_TOKEN_LEN] = '\0';
	explicit_bzero(b64, sizeof(b64));
	secret_hash(token_out, hash);
	if (db_exec(db, error_r, "INSERT INTO api_token (hash, mailbox_id, "
	    "postoffice_id, name, created, expires) VALUES (?, ?, ?, ?, ?, ?)",
	    "tiitii", hash, mid, po_id, name != NULL ? name : "",
	    (int64_t)time(NULL), expires) < 0)
		return ADM_FAIL;
	*id_r = db_last_id(db);
	if (po_id == 0)
		(void)db_exec(db, error_r, "UPDATE api_token SET postoffice_id = "
		    "NULL WHERE id = ?", "i", *id_r);
	return ADM_OK;
}

int
webauth_token_lookup(struct db *db, const char *token, int64_t now,
		     int64_t *mailbox_id_r, int64_t *postoffice_id_r,
		     int64_t *id_r, const char **error_r)
{
	char hash[SHA256_DIGEST_LENGTH * 2 + 1];
	int r;

	if (strlen(token) != WEBAUTH_TOKEN_LEN || strncmp(token, "pt_", 3) != 0)
		return 0;
	secret_hash(token, hash);
	struct db_stmt *st = db_query(db, error_r, "SELECT id, mailbox_id, "
	    "coalesce(postoffice_id, 0), expires, last_used FROM api_token "
	    "WHERE hash = ?", "t", hash);
	if (st == NULL)
		return -1;
	if ((r = db_step(st, NULL)) != DB_ROW) {
		db_stmt_free(&st);
		return r == DB_DONE ? 0 : db_fail(db, error_r, "token");
	}
	*id_r = db_col_int(st, 0);
	*mailbox_id_r = db_col_int(st, 1);
	*postoffice_id_r = db_col_int(st, 2);
	int64_t expires = db_col_int(st, 3);
	int64_t used = db_col_int(st, 4);
	db_stmt_free(&st);
	if (expires != 0 && now >= expires)
		return 0;
	if (now - used >= TOUCH_EVERY)
		(void)db_exec(db, error_r, "UPDATE api_token SET last_used = ? "
		    "WHERE id = ?", "ii", now, *id_r);
	return 1;
}

int
webauth_token_revoke(struct db *db, int64_t id, int64_t owner_id,
		     const char **error_r)
{
	if (db_exec(db, error_r, "DELETE FROM api_token WHERE id = ? AND "
	    "(? = 0 OR mailbox_id = ?)", "iii", id, owner_id, owner_id) < 0)
		return ADM_FAIL;
	if (db_changes(db) == 0) {
		db_errorf(db, error_r, "no token %lld%s", (long long)id,
		    owner_id ? " of this login" : "");
		return ADM_NOTFOUND;
	}
	return ADM_OK;
}
