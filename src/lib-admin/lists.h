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
/* adm_list_member_bounce - count a bounce of an active member of list
 * list_id at time now (Mailman's scoring): a count whose last bounce is
 * older than stale_after seconds starts again from 0. At the list's
 * bounce_limit the member is not disabled but probed: *probe_r is set to
 * now (recorded as probe_sent) when a probe must be sent, i.e. when none
 * was sent within stale_after; else 0. *count_r is the new count (0: the
 * member is not active, nothing counted). ADM_NOTFOUND when the address
 * is not a member. */
int adm_list_member_bounce(struct db *db, int64_t list_id, const char *member,
			   time_t now, time_t stale_after, int *count_r,
			   time_t *probe_r, const char **error_r);
/* adm_list_member_probe_failed - the probe sent to member at time sent
 * bounced: the member is disabled. ADM_NOTFOUND when no such probe is
 * pending (another was sent since, or the member is gone or disabled). */
int adm_list_member_probe_failed(struct db *db, int64_t list_id,
				 const char *member, time_t sent,
				 const char **error_r);

#endif
