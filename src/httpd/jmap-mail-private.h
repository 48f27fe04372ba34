#ifndef POSTERN_JMAP_MAIL_PRIVATE_H
#define POSTERN_JMAP_MAIL_PRIVATE_H

/* jmap-mail-private - what the files of the JMAP mail methods share:
 * jmap-mail.c (helpers, Mailbox, Thread, SearchSnippet, Quota),
 * jmap-mail-email.c (Email get, changes, set, import, parse; blobs) and
 * jmap-mail-query.c (Email/query and queryChanges) */

#include <ctype.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "http-response.h"
#include "imap-parser.h"
#include "jmap-email.h"
#include "jmap-mail.h"
#include "jmap-store.h"
#include "settings.h"
#include "store.h"
#include "xalloc.h"

#define HEADER_READ (64 * 1024)
#define MESSAGE_READ_MAX ((size_t)64 * 1024 * 1024)
#define QUERY_LIMIT_MAX 5000
#define SNIPPET_MAX 255

json_t * server_fail(struct jmap_mail_ctx *c, const char *why);

/* if_in_state - RFC 8620 5.3 ifInState: true when absent or equal */
bool if_in_state(json_t *args, struct jms *j, char kind, json_t **error_r);

/* keyword_flag - the STORE_* flag of a system keyword (any case), or 0 */
unsigned int keyword_flag(const char *kw);

/* keywords_json - the keywords of a message as {kw: true} */
json_t * keywords_json(const struct jms_msg *m);

/* keywords_line - {kw: true} to flags and a space separated list; -1 for
 * a keyword that is not an IMAP atom */
int keywords_split(json_t *kws, unsigned int *flags_r, struct buf *rest);

/* keywords_flat - the keywords of m as one lower-case space separated
 * list with the system flags as $seen... (for the filter matcher) */
char * keywords_flat(const struct jms_msg *m);

/* changes_args - sinceState and maxChanges */
bool changes_args(json_t *args, const char **since_r, json_t **error_r);

/* changes_run - a /changes method of kind ('E', 'M', 'T') from the
 * store's change log: maxChanges is passed down (hasMoreChanges with an
 * intermediate state); cannotCalculateChanges only when the log cannot
 * tell */
void changes_run(struct jmap_mail_ctx *c, struct jms *j, char kind, json_t *args,
	    const char *since, json_t **result_r, json_t **error_r);

void email_get(void *ctx, json_t *args, json_t **result_r, json_t **error_r);

void email_changes(void *ctx, json_t *args, json_t **result_r, json_t **error_r);

void email_query(void *ctx, json_t *args, json_t **result_r, json_t **error_r);

/* email_query_changes - Email/queryChanges (RFC 8620 5.6) of a query
 * the store's index serves (index_query: canCalculateChanges true): the
 * change log's created, updated and destroyed ids since the state are
 * all "removed" (5.6 allows ids that were not in the old results), and
 * those of them in the current results "added" at their index. The
 * whole result is read, so a query of more than STORE_QUERY_LIMIT_MAX
 * Emails cannot be calculated; upToId is not used. */
void email_query_changes(void *ctx, json_t *args, json_t **result_r,
		    json_t **error_r);

void email_set(void *ctx, json_t *args, json_t **result_r, json_t **error_r);

void email_import(void *ctx, json_t *args, json_t **result_r, json_t **error_r);

void email_parse(void *ctx, json_t *args, json_t **result_r, json_t **error_r);

#endif
