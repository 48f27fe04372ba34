#ifndef POSTERN_CHAT_STORE_H
#define POSTERN_CHAT_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* chat-store - the chat service's state, apart from the config store
 * (lib-chat: xmppd, postern chat and the admin API use it): a SQLite
 * database (WAL) at <data root>/chat/chat.db holding each user's roster
 * items with their subscription states (RFC 6121 2, 3) and the messages
 * kept for users who were offline (RFC 6121 8.5.2.1.1). Owners are bare
 * user names "mailbox@postoffice" (lower case), so that the chat state of
 * a mailbox follows its name, as its Maildir does. */

#define CHAT_OFFLINE_MAX 1000      /* messages kept for one offline user */
#define CHAT_ROSTER_MAX 2000       /* roster rows of one user */

enum chat_sub {
	CHAT_SUB_NONE = 0,
	CHAT_SUB_TO = 1,          /* the owner sees the contact's presence */
	CHAT_SUB_FROM = 2,        /* the contact sees the owner's */
	CHAT_SUB_BOTH = 3,
};

struct roster_item {
	char *jid;                /* bare JID of the contact */
	char *name;               /* "" when none */
	char *groups;             /* group names, '\n' separated; "" none */
	int sub;                  /* enum chat_sub bits */
	bool ask;                 /* our subscribe request is pending */
	bool pending_in;          /* the contact asked to see us */
	bool listed;              /* in the roster (not only a pending
				   * request from someone not in it) */
	bool stored;              /* a row exists (not only the shared group) */
};

struct chat_store;

int chat_store_open(const char *root, struct chat_store **cs_r,
		    const char **error_r);
/* chat_store_close - flush and close */
void chat_store_close(struct chat_store **cs);
/* chat_store_batch - from now on the writes go into one transaction per
 * batch: the first write of a batch opens it and calls fn(ctx), which
 * must see that chat_store_flush runs soon (xmppd: once per turn of its
 * event loop). Without it every write commits on its own. */
void chat_store_batch(struct chat_store *cs, void (*fn)(void *ctx),
		      void *ctx);
/* chat_store_flush - commit the open batch (synchronous=FULL: on disk on
 * return); 0, or -1 when the commit failed (the batch is rolled back) */
int chat_store_flush(struct chat_store *cs, const char **error_r);

/* chat_roster_load - every stored item of owner (*items_r freed with
 * chat_roster_free). 0 or -1. */
int chat_roster_load(struct chat_store *cs, const char *owner,
		     struct roster_item **items_r, size_t *n_r,
		     const char **error_r);
/* chat_roster_get - one item: 1 found, 0 none (item zeroed), -1 */
int chat_roster_get(struct chat_store *cs, const char *owner, const char *jid,
		    struct roster_item *item, const char **error_r);
/* chat_roster_count - rows of owner, or -1 */
int chat_roster_count(struct chat_store *cs, const char *owner,
		      const char **error_r);
/* chat_roster_put - insert or replace */
int chat_roster_put(struct chat_store *cs, const char *owner,
		    const struct roster_item *item, const char **error_r);
int chat_roster_delete(struct chat_store *cs, const char *owner,
		       const char *jid, const char **error_r);
void chat_roster_item_clear(struct roster_item *item);
void chat_roster_free(struct roster_item **items, size_t n);

/* chat_offline_add - keep a stanza for owner (durable on return, or at
 * chat_store_flush when batching); 0,
 * 1 when owner already has CHAT_OFFLINE_MAX messages (not kept), -1 */
int chat_offline_add(struct chat_store *cs, const char *owner,
		     const char *stanza, const char **error_r);
/* chat_offline_each - call fn for each kept stanza of owner, oldest
 * first, then delete those rows (a crash between the two delivers them
 * twice, never loses them). 0 or -1. */
int chat_offline_each(struct chat_store *cs, const char *owner,
		      void (*fn)(void *ctx, const char *stanza, int64_t stamp),
		      void *ctx, const char **error_r);

/* Blocking (XEP-0191): the JIDs (full, bare or domain) a user blocks. */
#define CHAT_BLOCK_MAX 1000
/* chat_block_list - owner's blocked JIDs (free each and the array) */
int chat_block_list(struct chat_store *cs, const char *owner, char ***jids_r,
		    size_t *n_r, const char **error_r);
/* chat_block_set - add (add true) or remove jid; jid NULL with add false
 * removes every one. 0, 1 when the list is full (add), -1. */
int chat_block_set(struct chat_store *cs, const char *owner, const char *jid,
		   bool add, const char **error_r);
/* chat_blocked - whether owner blocks the entity full (a full JID: its
 * bare JID and domain match too). 1 yes, 0 no, -1. */
int chat_blocked(struct chat_store *cs, const char *owner, const char *full,
		 const char **error_r);

/* vCards (XEP-0054): one serialised vCard element per user. */
int chat_vcard_get(struct chat_store *cs, const char *owner, char **xml_r,
		   const char **error_r);
int chat_vcard_set(struct chat_store *cs, const char *owner, const char *xml,
		   const char **error_r);

/* Message archive (XEP-0313): each user's messages, sent and received,
 * the newest CHAT_ARCHIVE_MAX kept. */
#define CHAT_ARCHIVE_MAX 10000
int chat_archive_add(struct chat_store *cs, const char *owner,
		     const char *with, const char *stanza, int64_t *id_r,
		     const char **error_r);
struct chat_archive_query {
	const char *with;          /* bare JID or NULL */
	int64_t start, end;        /* seconds; 0: open */
	int64_t after, before;     /* ids; 0: none; before -1: the last page */
	int max;
};
/* chat_archive_find - the page of q in id order: fn per row; the total
 * matching rows (paging aside) in *count_r; *complete_r when no rows
 * remain beyond the page in the paging direction. 0 or -1. */
int chat_archive_find(struct chat_store *cs, const char *owner,
		      const struct chat_archive_query *q,
		      void (*fn)(void *ctx, int64_t id, int64_t stamp,
				 const char *stanza),
		      void *ctx, int64_t *count_r, bool *complete_r,
		      const char **error_r);

/* PEP (XEP-0163): nodes of a user (at most CHAT_PEP_NODES_MAX) with
 * their access model and item bound, items newest last. */
#define CHAT_PEP_NODES_MAX 64
#define CHAT_PEP_ITEMS_MAX 256    /* max_items of one node ("max") */
struct pep_node {
	char access[16];          /* "presence", "open", "whitelist" */
	int max_items;
};
/* chat_pep_node_get - 1 found, 0 none, -1 */
int chat_pep_node_get(struct chat_store *cs, const char *owner,
		      const char *node, struct pep_node *n,
		      const char **error_r);
/* chat_pep_publish - store item_id on node (created with cfg, or its
 * configuration replaced), keeping the newest cfg->max_items; 0, 1 when
 * owner already has CHAT_PEP_NODES_MAX nodes, -1 */
int chat_pep_publish(struct chat_store *cs, const char *owner,
		     const char *node, const struct pep_node *cfg,
		     const char *item_id, const char *xml,
		     const char **error_r);
/* chat_pep_items - the newest max items of node, oldest first, to fn */
int chat_pep_items(struct chat_store *cs, const char *owner, const char *node,
		   int max, void (*fn)(void *ctx, const char *id,
				       const char *xml),
		   void *ctx, const char **error_r);
/* chat_pep_retract, chat_pep_delete - 1 removed, 0 nothing there, -1 */
int chat_pep_retract(struct chat_store *cs, const char *owner,
		     const char *node, const char *item_id,
		     const char **error_r);
int chat_pep_delete(struct chat_store *cs, const char *owner,
		    const char *node, const char **error_r);
/* chat_pep_last - the last item of each of owner's nodes */
int chat_pep_last(struct chat_store *cs, const char *owner,
		  void (*fn)(void *ctx, const char *node, const char *access,
			     const char *id, const char *xml),
		  void *ctx, const char **error_r);
/* chat_pep_owners - the owners of post office po that have nodes (free
 * each and the array) */
int chat_pep_owners(struct chat_store *cs, const char *po, char ***owners_r,
		    size_t *n_r, const char **error_r);

/* Persistent chat rooms (XEP-0045): the room, its affiliations by owner
 * ("mailbox@postoffice"); its messages are archive rows whose owner is
 * the room's JID. */
struct muc_row {
	const char *jid;
	int64_t po_id;
	const char *name, *subject;
	bool members_only;
	const char *password;     /* a crypt(3) hash, "" none */
};
int chat_muc_put(struct chat_store *cs, const struct muc_row *r,
		 const char **error_r);
/* chat_muc_delete - the room, its affiliations and its archive */
int chat_muc_delete(struct chat_store *cs, const char *jid,
		    const char **error_r);
/* chat_muc_load - every stored room to fn (the row's strings live for
 * the call only) */
int chat_muc_load(struct chat_store *cs,
		  void (*fn)(void *ctx, const struct muc_row *r), void *ctx,
		  const char **error_r);
/* chat_muc_aff_set - "owner", "admin", "member", "outcast"; NULL removes */
int chat_muc_aff_set(struct chat_store *cs, const char *room,
		     const char *owner, const char *aff, const char **error_r);
int chat_muc_aff_load(struct chat_store *cs, const char *room,
		      void (*fn)(void *ctx, const char *owner,
				 const char *aff),
		      void *ctx, const char **error_r);

/* chat_store_changed - whether another connection (the CLI) committed
 * since the last call (PRAGMA data_version; the first call says no) */
bool chat_store_changed(struct chat_store *cs);
/* chat_archive_prune - archive rows (users' and rooms') older than
 * before (seconds): their number in *n_r. 0 or -1. */
int chat_archive_prune(struct chat_store *cs, int64_t before, int64_t *n_r,
		       const char **error_r);
/* chat_archive_stats - rows, the oldest stamp (0: none) and owners */
int chat_archive_stats(struct chat_store *cs, int64_t *count_r,
		       int64_t *oldest_r, int64_t *owners_r,
		       const char **error_r);
/* chat_archive_older - archive rows older than before (0 on error) */
int64_t chat_archive_older(struct chat_store *cs, int64_t before);
/* chat_muc_archived - a room's archived messages (0 on error) */
int64_t chat_muc_archived(struct chat_store *cs, const char *room);

/* External contacts (guest.h): an outside address invited by a user
 * gets a chat login of its own, "guest~<hex>" on the inviter's domain,
 * until the invitation expires or is revoked. */
struct chat_guest {
	char *owner;              /* "guest~<hex>@<post office>" */
	char *jid;                /* "guest~<hex>@<inviter's domain>" */
	int64_t po_id;
	char *inviter;            /* owner of the inviting mailbox */
	char *inviter_jid;        /* its bare JID */
	char *address;            /* the outside address invited */
	char *secret;             /* SHA-256 (hex) of the password */
	int64_t created, expires; /* seconds */
	int64_t ended;            /* 0 while active */
	char *reason;             /* "revoked", "expired"; "" active */
	bool announced;           /* xmppd applied the last change */
};
void chat_guest_clear(struct chat_guest *g);
void chat_guest_free(struct chat_guest **g, size_t n);
/* chat_guest_add - a new invitation (owner unique). 0 or -1. */
int chat_guest_add(struct chat_store *cs, const struct chat_guest *g,
		   const char **error_r);
/* chat_guest_get - by owner: 1 found, 0 none, -1 */
int chat_guest_get(struct chat_store *cs, const char *owner,
		   struct chat_guest *g, const char **error_r);
/* chat_guest_list - the invitations of inviter (NULL: all), oldest
 * first. 0 or -1. */
int chat_guest_list(struct chat_store *cs, const char *inviter,
		    struct chat_guest **g_r, size_t *n_r,
		    const char **error_r);
/* chat_guest_active - inviter's invitations not ended nor expired at
 * now, or -1 */
int chat_guest_active(struct chat_store *cs, const char *inviter,
		      int64_t now, const char **error_r);
/* chat_guest_recent - inviter's invitations created since 'since',
 * ended or not, or -1 */
int chat_guest_recent(struct chat_store *cs, const char *inviter,
		      int64_t since, const char **error_r);
/* chat_guest_end - end an active invitation ("revoked", "expired"): the
 * inviter's roster item and what the guest kept (roster, offline
 * messages, archive, vCard, PEP, blocklist) go; xmppd closes the guest's
 * streams when it sees it (chat_guest_due). 1 ended, 0 not active or
 * none, -1. */
int chat_guest_end(struct chat_store *cs, const char *owner,
		   const char *reason, int64_t now, const char **error_r);
/* chat_guest_due - for xmppd: ends the invitations expired at now, then
 * returns (and marks applied) every row changed since the last call:
 * new ones (ended 0) and ended ones. 0 or -1. */
int chat_guest_due(struct chat_store *cs, int64_t now,
		   struct chat_guest **g_r, size_t *n_r,
		   const char **error_r);
/* chat_guest_prune - forget invitations ended before 'before' */
int chat_guest_prune(struct chat_store *cs, int64_t before,
		     const char **error_r);

#endif
