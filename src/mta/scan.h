#ifndef POSTERN_MTA_SCAN_H
#define POSTERN_MTA_SCAN_H

#include "filter.h"

/* scan - the MTA's content filters (issue 19; lib-filter): antivirus
 * (clamd), milters and rspamd, for mail entering the system (smtp and pr
 * inbound, pickup). Mail smtpd already scanned before its 250
 * (antivirus.at_smtp) is not scanned again; an item released from the
 * quarantine passes them all once. */
enum filter_result scan_antivirus_run(struct filter_ctx *ctx);
enum filter_result scan_milter_run(struct filter_ctx *ctx);
enum filter_result scan_spam_run(struct filter_ctx *ctx);

#endif
