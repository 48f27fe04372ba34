#ifndef POSTERN_MTA_GFILTER_H
#define POSTERN_MTA_GFILTER_H

#include "filter.h"

/* Global MTA filters (issue 5; manual 3.2): ordered rules in the config
 * store (table global_filter, `postern filter global add|list|del|move`),
 * run by the MTA's filter chain once per message: for items entering the
 * system (smtp and pr inbound, pickup), not for what the post office
 * connector or list server sends back (forwards, auto replies, bounces,
 * list copies: the message they derive from was filtered when it came in).
 *
 * A rule is: criterion + pattern -> action (+ argument). Every enabled
 * rule is tried in position order; every matching rule acts.
 * Criteria (patterns are shell globs, fnmatch(3), case-insensitive):
 *   all                        every message
 *   sender      GLOB           the envelope sender ("" for <>)
 *   recipient   GLOB           any recipient
 *   header      NAME + GLOB    any field NAME whose unfolded value matches
 *   size-over   SIZE           message larger than SIZE (K default; K M G)
 *   size-under  SIZE           smaller than SIZE
 *   attachment  GLOB           a MIME part's file name (Content-Disposition
 *                              filename or Content-Type name, RFC 2047
 *                              decoded)
 * Actions:
 *   add-header  "Name: value"  prepend the field (the message is rewritten;
 *                              later rules and the routes see it)
 *   redirect    ADDRESS        replace every recipient by ADDRESS
 *   copy        ADDRESS        add ADDRESS as a recipient
 *   quarantine                 to bad mail with the rule in the reason; stop
 *   delete                     drop the message (logged); stop
 *   reject                     bounce to the sender (5.7.1, DSN, queued
 *                              through sf inbound so no rule sees it); a
 *                              null sender or bulk message goes to bad
 *                              mail; stop
 * A database error defers the item (retried), never drops it. */

enum filter_result gfilter_run(struct filter_ctx *ctx);

#endif
