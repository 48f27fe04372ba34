#ifndef POSTERN_CHATUPLOAD_H
#define POSTERN_CHATUPLOAD_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "db.h"

/* chatupload - XMPP HTTP file upload (XEP-0363), shared by xmppd, which
 * hands out slots, and httpd, which takes the PUT and serves the GET.
 *
 * A slot is a capability: xmppd signs (HMAC-SHA-256, key
 * xmpp.upload_secret) the mailbox id, a random slot id, the file name,
 * the size and an expiry; httpd checks the key and takes exactly that
 * many bytes once. No state is shared but the key and the files:
 *   <data root>/chat/upload/<mailbox id>/<slot id>/<file name>
 * The URLs (base: xmpp.upload_url, else http.public_url +
 * /chat/upload):
 *   PUT <base>/<mailbox id>/<slot id>/<name>?size=N&expires=T&key=K
 *   GET <base>/<mailbox id>/<slot id>/<name>
 * A slot's directory is made by its one PUT: a second PUT (a slot
 * reused) finds it and is refused. The quota (xmpp.upload_quota) counts
 * the files under the mailbox's directory. */

#define CHATUPLOAD_PATH "/chat/upload/"
#define CHATUPLOAD_NAME_MAX 200      /* bytes of a file name (a temporary
				      * name adds to it within NAME_MAX) */
#define CHATUPLOAD_SLOT_LEN 32       /* hex digits of a slot id */
#define CHATUPLOAD_KEY_LEN 64        /* hex digits of a key */
#define CHATUPLOAD_SLOT_SECS 300     /* a slot is good this long */

/* chatupload_name_ok - a file name fit for a slot: 1 to
 * CHATUPLOAD_NAME_MAX bytes, no '/' or '\', no control characters, not
 * "." or ".." */
bool chatupload_name_ok(const char *name);
/* chatupload_number - 1 to 18 decimal digits, nothing else (sizes,
 * expiry times) */
bool chatupload_number(const char *t, uint64_t *n_r);
/* chatupload_slot_ok - 32 lower-case hex digits */
bool chatupload_slot_ok(const char *slot);
/* chatupload_path_parse - "<mailbox id>/<slot id>/<name>" (a decoded
 * URL path after CHATUPLOAD_PATH) into its parts; false when malformed */
bool chatupload_path_parse(const char *path, int64_t *mailbox_id_r,
			   char slot[CHATUPLOAD_SLOT_LEN + 1],
			   char name[CHATUPLOAD_NAME_MAX + 1]);
/* chatupload_key - the key of a slot into key (CHATUPLOAD_KEY_LEN + 1);
 * -1 with an error when the secret cannot be read or made */
int chatupload_key(struct db *db, int64_t mailbox_id, const char *slot,
		   const char *name, uint64_t size, int64_t expires,
		   char key[CHATUPLOAD_KEY_LEN + 1], const char **error_r);
/* chatupload_dir - <root>/chat/upload/<mailbox id> (new string) */
char *chatupload_dir(const char *root, int64_t mailbox_id);
/* chatupload_max - the largest file a slot is given for, in bytes:
 * xmpp.upload_max_size, at most the HTTP service's http.max_upload
 * (the PUT streams to a file like other uploads) */
uint64_t chatupload_max(struct db *db);
/* chatupload_quota - xmpp.upload_quota in bytes (0: no limit) */
uint64_t chatupload_quota(struct db *db);
/* chatupload_used - bytes of a mailbox's uploads (0 when none) */
uint64_t chatupload_used(const char *root, int64_t mailbox_id);
/* chatupload_base - the URL base without a trailing '/' (new string),
 * or NULL when neither xmpp.upload_url nor http.public_url is set */
char *chatupload_base(struct db *db);

#endif
