#ifndef POSTERN_VERDICT_H
#define POSTERN_VERDICT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "buf.h"
#include "db.h"
#include "queue.h"
#include "rspamd.h"

/* verdict - what the content filters decide for a message and the
 * settings behind it (docs/CONTENT-SECURITY.md). The settings are read
 * on the caller's thread into a plain struct (av_config) so that the
 * scan itself may run on a worker thread without the config store
 * (smtpd scans on its commit threads). */

struct av_config {
	bool enabled;             /* clamd set and wanted for these recipients */
	char clamd[1001];
	int64_t timeout_ms;
	off_t stream_max;
	bool pass_on_failure;     /* antivirus.on_failure = pass */
	bool at_smtp;             /* antivirus.at_smtp */
};

enum av_verdict {
	AV_CLEAN = 0,
	AV_VIRUS,                 /* name in the result */
	AV_UNSCANNED_PASS,        /* scanner failed; on_failure = pass */
	AV_UNSCANNED_DEFER,       /* scanner failed; on_failure = defer */
};

struct av_result {
	enum av_verdict verdict;
	char virus[256];
	char error[256];          /* why it was not scanned */
	bool partial;             /* longer than stream_max: its first part */
};

/* av_config_load - the settings for mail to env's recipients: scanning
 * is wanted when antivirus.clamd is set and the global antivirus.scan, or
 * the field antivirus of a local recipient's post office, says so (one
 * recipient wanting it scans the message for all). */
void av_config_load(struct db *db, const struct queue_env *env,
		    struct av_config *cfg);
/* av_scan_fd / av_scan_file - scan with clamd (no database access). */
void av_scan_fd(const struct av_config *cfg, int fd, struct av_result *res);
void av_scan_file(const struct av_config *cfg, const char *path,
		  struct av_result *res);
/* av_reason - "virus found: NAME" for logs, notices and replies. */
void av_reason(const struct av_result *res, char *out, size_t outlen);

/* Spam (rspamd.h). */
struct spam_config {
	bool enabled;             /* spam.rspamd set and wanted */
	char rspamd[300];
	int64_t timeout_ms;
	double reject;            /* score refused from; 0: never */
	double junk;              /* the lowest Junk score of the recipients:
				   * X-Spam-Status says Yes from it */
	bool at_smtp;             /* spam.at_smtp: smtpd asks before its 250 */
};

/* spam_config_load - rspamd is asked about mail to env's recipients when
 * spam.rspamd is set and a local recipient's post office (spam_filter
 * inherit|on) or a non-local recipient wants it. The reject threshold is
 * the highest of the recipients' (post office spam_reject_score, else
 * spam.reject_score), none when one of them never rejects; the Junk
 * threshold (for X-Spam-Status) the lowest of theirs. */
void spam_config_load(struct db *db, const struct queue_env *env,
		      struct spam_config *cfg);
/* spam_verdict - the one place a score becomes the message's verdict
 * (smtpd before its 250, the MTA after it): the X-Spam-* fields for the
 * top of the header appended to fields (X-Spam-Score, which deliver
 * reads to file the message in each recipient's Junk by
 * spam_junk_wanted, X-Spam-Status, X-Spam-Symbols), and true when the
 * message is refused (every recipient's reject score reached; the reason
 * in reason). */
bool spam_verdict(const struct spam_config *cfg, const struct spam_result *res,
		  struct buf *fields, char *reason, size_t reasonlen);
/* The fields smtpd's check before the 250 wrote, kept for the MTA in
 * <queue root>/spamverdict/<id> (not synced: when lost, the MTA asks
 * rspamd again). An empty file: asked, no answer (the mail passes
 * unchecked). save: 0 or -1; take: the fields (new string, the file
 * removed) or NULL when there are none or they are not ours (each line
 * an X-Spam-* field, at most SPAM_FIELDS_MAX bytes); expire: remove the
 * files older than max_age seconds (their items went away). */
#define SPAM_FIELDS_MAX 4096
int spam_fields_save(const char *qroot, const char *id, const char *fields,
		     const char **error_r);
char *spam_fields_take(const char *qroot, const char *id);
void spam_fields_drop(const char *qroot, const char *id);
void spam_fields_expire(const char *qroot, time_t max_age);
/* spam_junk_wanted - whether a message with this X-Spam-Score goes to
 * the Junk folder of a mailbox of post office postoffice_id (its
 * spam_junk_score, else spam.junk_score; never with spam_filter off or
 * no spam.rspamd). */
bool spam_junk_wanted(struct db *db, int64_t postoffice_id, double score);
/* spam_learn_request - a user moved a message into (spam) or out of
 * Junk: queue a training request for the MTA (quarantine-like files
 * under <queue root>/spamtrain: the message hard linked, or copied).
 * Nothing when no controller is configured. Never blocks on rspamd:
 * 0, or -1 with an error. */
int spam_learn_request(struct db *db, const char *msg_path, bool spam,
		       const char **error_r);
/* spam_learn_run - the MTA sends the queued training requests to the
 * controller (spam.rspamd_controller); each is removed once answered
 * (logged either way). The number sent. */
int spam_learn_run(struct db *db, const char *qroot);

/* postoffice_choice - the enum field (inherit|on|off) of the post
 * office of a local recipient: 1 on, 0 off, -1 inherit or not local. */
int verdict_postoffice_choice(struct db *db, const char *address,
			      const char *field);

#endif
