#ifndef POSTERN_LISTSERV_H
#define POSTERN_LISTSERV_H

/* The list server's own state and the helpers its files share (private
 * to src/listserv): listserv.c (the service, posts, notices),
 * subscribe.c (requests, confirmations, unsubscription), moderate.c
 * (held posts), bounces.c (mail to the bounce addresses, probes);
 * bounce.c reads DSNs, posting.c stages a post's copies, listmsg.c
 * builds them. Each function is described where it is defined. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "buf.h"
#include "consumer.h"
#include "directory.h"
#include "listkey.h"
#include "queue.h"
#include "service.h"

#define LS_SCAN_INTERVAL 2
#define LS_RETRY 60
#define LS_PENDING_MAX 4096
#define LS_EXPIRE_INTERVAL 10       /* seconds between expiry runs */
#define LS_CONFIRM_INTERVAL 3600    /* one confirmation per address, list
				       and kind within this time */

struct ls {
	struct service *svc;
	char *qroot;
	char *qpath;          /* ls/outgoing: what we consume */
	char *inbound;        /* ls/inbound: copies and notices */
	char *held;
	char *pending;
	char *posting;        /* ls/posting: copies staged (posting.h) */
	unsigned char secret[LIST_SECRET_LEN];
	struct consumer c;    /* ls/outgoing: watch, timer, passes */
	time_t retry_at;      /* items released for a retry wait until then */
	bool waiting;         /* this pass: retry_at not reached */
	time_t expired_at;    /* last expiry run (held posts, confirmations) */
	unsigned long posted, copies, held_n, bounced, notices;
	unsigned long bounces_counted, disabled;
};

struct list_row {
	int64_t id;
	char *name, *address, *domain, *owner, *description, *prefix, *footer;
	char *postoffice;   /* its post office: the origin of its mail */
	bool moderated, members_only, disabled, reply_to_list, verp;
	char list_id[300];
};

/* listserv.c */
int ls_list_find(struct db *db, const char *address, struct list_row *l,
		 const char **error_r);
char *ls_aux(const struct list_row *l, const char *suffix, const char *tag);
int ls_commit_msg(struct ls *s, const struct list_row *l, const char *id,
		  const char *sender, const char *rcpt, bool bulk,
		  const char *data, size_t len);
int ls_notice_send_from(struct ls *s, const struct list_row *l, const char *tag,
			const char *to, const char *subject,
			const char *reply_to, const char *body);
int ls_notice_send(struct ls *s, const struct list_row *l, const char *to,
		   const char *subject, const char *reply_to, const char *body);
int ls_members(struct ls *s, const struct list_row *l, bool active_only,
	       struct dir_strings *out);
bool ls_is_member(struct ls *s, const struct list_row *l, const char *address);
int ls_post_copies(struct ls *s, const struct list_row *l, const char *msg,
		   size_t len, const char *base);
void ls_from_addresses(const struct buf *msg, struct dir_strings *out);
bool ls_is_owner(const struct list_row *l, const char *sender,
		 const struct dir_strings *from);
int ls_owner_forward(struct ls *s, struct queue_item *item,
		     const struct list_row *l);
void ls_list_row_free(struct list_row *l);
void ls_token_new(char *out);
int ls_msg_read(const char *path, struct buf *b);

/* subscribe.c */
int ls_request_sub(struct ls *s, const struct list_row *l, const char *address,
		   bool sub);
int ls_confirm(struct ls *s, const struct list_row *l, const char *tok);
int ls_unsubscribe_key(struct ls *s, const struct list_row *l, const char *key);
bool ls_auto_submitted(const struct buf *msg);
int ls_human_request(const struct queue_item *item, const struct list_row *l);
int ls_subject_word(const struct buf *msg);
int ls_request(struct ls *s, struct queue_item *item, const struct list_row *l,
	       const char *tag);
void ls_pending_expire(struct ls *s);

/* moderate.c */
int ls_hold(struct ls *s, struct queue_item *item, const struct list_row *l,
	    const struct buf *msg, const struct dir_strings *from,
	    const char *base);
int ls_decide(struct ls *s, const struct list_row *lin, const char *tok,
	      bool approve, const char *by);
void ls_held_scan(struct ls *s);
void ls_held_expire(struct ls *s);

/* bounces.c */
void ls_owner_notice(struct ls *s, const struct list_row *l,
		     const char *subject, const char *body);
int ls_bounces(struct ls *s, struct queue_item *item, const struct list_row *l,
	       const char *tag);

#endif
