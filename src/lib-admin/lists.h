#ifndef POSTERN_ADMIN_LISTS_H
#define POSTERN_ADMIN_LISTS_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "db.h"

/* The list server's files, shared by the list server (src/listserv) and the
 * CLI (`postern list held|approve|reject`), and the list changes the list
 * server makes (bounce counting).
 *
 * Under <queue root>/ls/ (setting path.queue):
 *   held/<token>.msg      a post held for the moderator (the message)
 *   held/<token>.info     its record, written last (the commit record):
 *                         "v1", list address, envelope sender, queue id,
 *                         time held, From, Subject; one per line
 *   held/<token>.approve  the moderator's decision, left by the CLI for
 *   held/<token>.reject   the list server, which acts on it and removes
 *                         the files
 *   pending/<token>       a subscription change waiting for confirmation:
 *                         "v1", "sub" or "unsub", list address, address,
 *                         time asked
 *   secret                32 random bytes: keys the per-member
 *                         unsubscribe addresses
 * Tokens are 20 lower-case hex digits (80 random bits). */

#define LIST_TOKEN_LEN 20
#define LIST_TEXT_MAX 200      /* From and Subject kept in held records */

struct list_held {
	char token[LIST_TOKEN_LEN + 1];
	char *list;
	char *sender;
	char *queue_id;
	time_t held;
	char *from;
	char *subject;
};

/* list_token_valid - 20 lower-case hex digits */
bool list_token_valid(const char *token);
/* list_dir - "<queue root>/ls/<sub>" (new string) */
char *list_dir(struct db *db, const char *sub);
/* list_held_read - load held/<token>.info: 1 read, 0 none, -1 malformed */
int list_held_read(const char *held_dir, const char *token,
		   struct list_held *h);
void list_held_free(struct list_held *h);
/* list_held_format - the .info text (new string); strings are cut and
 * cleaned of line ends */
char *list_held_format(const struct list_held *h);

/* adm_list_held - the posts held for list (address), oldest first;
 * *v_r is an array of *n_r records (free each with list_held_free). */
int adm_list_held(struct db *db, const char *list, struct list_held **v_r,
		  size_t *n_r, const char **error_r);
/* adm_list_moderate - approve or reject a held post of list: leaves the
 * decision for the list server (ADM_NOTFOUND: no such held post). */
int adm_list_moderate(struct db *db, const char *list, const char *token,
		      bool approve, const char **error_r);
/* adm_list_member_bounce - count a bounce of member of list list_id; at
 * the list's bounce_limit the member is disabled (*disabled_r). Returns
 * ADM_NOTFOUND when the address is not a member. */
int adm_list_member_bounce(struct db *db, int64_t list_id, const char *member,
			   bool *disabled_r, const char **error_r);

#endif
