#ifndef POSTERN_ADMIN_LISTKEY_H
#define POSTERN_ADMIN_LISTKEY_H

#include <stdbool.h>
#include <stdint.h>

#include "db.h"
#include "lists.h"

/* The per-member unsubscribe keys of the lists, shared by the list server
 * (which puts them in each copy's List-Unsubscribe: the mailto address
 * <list>-unsubscribe+KEY@ and the RFC 8058 https link) and the HTTP
 * service (which checks the link's key before unsubscribing).
 *
 * key = the first 10 bytes (LIST_TOKEN_LEN hex digits) of HMAC-SHA256
 * over "unsub:<list id>:<member, lower case>" under the 32 random bytes
 * of <queue root>/ls/secret, made once by whichever reads it first. */

#define LIST_SECRET_LEN 32
#define LIST_UNSUBSCRIBE_PATH "/list/unsubscribe"

/* list_secret_load - read the secret, making it when there is none (two
 * processes making it at once agree: the first link wins). 0 or -1. */
int list_secret_load(struct db *db, unsigned char secret[LIST_SECRET_LEN],
		     const char **error_r);
/* list_member_key - the key of member of list list_id into out
 * (LIST_TOKEN_LEN + 1 bytes) */
void list_member_key(const unsigned char secret[LIST_SECRET_LEN],
		     int64_t list_id, const char *member, char *out);
/* list_member_key_ok - whether key is member's key (constant time) */
bool list_member_key_ok(const unsigned char secret[LIST_SECRET_LEN],
			int64_t list_id, const char *member, const char *key);
/* list_unsubscribe_base - the one-click endpoint: setting
 * list.unsubscribe_url, else http.public_url (when it is an http or
 * https URL) + LIST_UNSUBSCRIBE_PATH, else NULL (mailto only). New
 * string. */
char *list_unsubscribe_base(struct db *db);
/* list_unsubscribe_url - base?list=L&member=M&key=K with each value
 * percent-encoded (new string) */
char *list_unsubscribe_url(const char *base, const char *list,
			   const char *member, const char *key);

#endif
