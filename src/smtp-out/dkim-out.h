#ifndef POSTERN_SMTPOUT_DKIM_H
#define POSTERN_SMTPOUT_DKIM_H

#include "db.h"
#include "queue.h"

/* DKIM signing of what smtp-out sends (manual 5.4.4). A queue item is
 * signed once per delivery attempt, when its first transaction starts
 * (so that SIZE= counts the field), over the message file as the MTA
 * queued it (footers included); every transaction of the attempt sends
 * the same field. The signing
 * domain (d=):
 *  - a list copy or notice (envelope sender <list>-bounces@ or another
 *    address of a list here): the list's domain, whatever the From (the
 *    list server changed the message and re-sent it: like Google Groups
 *    or Mailman behind a signing MTA, the list signs as itself);
 *  - otherwise the domain of the From field's (first) address, which DMARC
 *    aligns on, when it is hosted here; for an authenticated submission
 *    only a domain of the submitter's own post office.
 * Only mail that originated here is signed: an authenticated submission,
 * a local program (client "local": pickup, deliver, listserv) or a client
 * of smtp.relay_networks; a forward of outside mail is not. Setting
 * dkim.sign (default on) is the server-wide switch of the manual. The domain
 * needs dkim_enabled and an active selector (a domain without one is
 * logged once, not per message). Keys are cached per domain and reloaded
 * when the active selector or its key changes. */

struct dkim_out;
struct dkim_out *dkim_out_new(void);
void dkim_out_free(struct dkim_out **o);

/* dkim_out_field - the DKIM-Signature field to send before the message
 * of item, or NULL when it goes unsigned. *cache holds the result for
 * the item's next transactions (free it with the item). */
const char *dkim_out_field(struct dkim_out *o, struct db *db,
			   const struct queue_item *item, char **cache);

#endif
