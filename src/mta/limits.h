#ifndef POSTERN_MTA_LIMITS_H
#define POSTERN_MTA_LIMITS_H

#include "filter.h"

/* Outbound abuse limits (issue 19 item 5), a filter of the MTA chain
 * (filter.h): every item from the SMTP connector's inbound queue with an
 * authenticated submitter (SMTP AUTH, webmail, JMAP) is counted against
 * the limits.* settings (lib-queue sendlimit.h: messages and recipients
 * per hour of the mailbox and of its post office). Over a limit, or
 * from a mailbox whose sending is suspended, the item is held: it goes
 * to bad mail with a reason starting "held:" (postern queue shows it
 * as state "held"; 'postern queue release ID' sends it on, counted
 * again), never bounced. The administrator (limits.alert) gets one
 * notice per hour per mailbox or post office; with limits.suspend a
 * mailbox over its own limit is suspended (everything it sends is held)
 * until 'postern sendlimit unsuspend'. A broken limits database lets
 * mail pass (logged): the limits never lose mail. */

#define LIMITS_HELD "held: "

enum filter_result limits_run(struct filter_ctx *ctx);

#endif
