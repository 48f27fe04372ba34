/* diag-content - the content filters in the diagnostic report: the virus
 * scanner asked for its version, the milters and rspamd listed, the
 * quarantine counted (issue 19; manual 4.4.1) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clamd.h"
#include "diag-private.h"
#include "milter.h"
#include "quarantine.h"
#include "rspamd.h"
#include "settings.h"
#include "xalloc.h"

/* check_antivirus - clamd answers VERSION within the scan timeout (at
 * most 10 s) */
static void
check_antivirus(struct diag_section *s, struct db *db)
{
	const char *clamd = settings_current(db)->antivirus_clamd;
	char *fail = xstrdup(settings_text(settings_current(db), SETTING_antivirus_on_failure));
	char ver[256];
	const char *err;

	if (*clamd == '\0') {
		diag_add(s, DIAG_INFO, "Antivirus", "postern config set "
		    "antivirus.clamd /run/clamav/clamd.ctl",
		    "off: no virus scanner (antivirus.clamd is not set)");
	} else {
		int64_t t = settings_current(db)->antivirus_timeout;
		if (t > 10)
			t = 10;
		if (clamd_version(clamd, t * 1000, ver, sizeof(ver), &err) == 0)
			diag_add(s, DIAG_OK, "Antivirus", NULL,
			    "clamd at %s answers: %s; scanning %s, %s; when it "
			    "fails: %s", clamd, ver,
			    settings_current(db)->antivirus_scan ?
			    "on by default" : "off unless a post office asks",
			    settings_current(db)->antivirus_at_smtp ?
			    "SMTP mail before the 250" : "in the MTA", fail);
		else
			diag_add(s, DIAG_ERROR, "Antivirus",
			    "start clamd (clamav-daemon) or correct "
			    "antivirus.clamd",
			    "clamd at %s does not answer: %s; meanwhile mail %s",
			    clamd, err, strcmp(fail, "pass") == 0 ?
			    "passes unscanned" : "is deferred (4xx, kept in "
			    "the queue)");
	}
	free(fail);
}

/* check_milters - each milter of milter.list parses and connects */
static void
check_milters(struct diag_section *s, struct db *db)
{
	char *list = xstrdup(settings_current(db)->milter_list);
	struct milter_spec *v = NULL;
	size_t n = 0;
	const char *err;

	if (*list == '\0') {
		diag_add(s, DIAG_INFO, "Milters", NULL, "none (milter.list)");
	} else if (milter_spec_parse(list, &v, &n, &err) < 0) {
		diag_add(s, DIAG_ERROR, "Milters", "correct milter.list",
		    "milter.list: %s (the MTA defers mail until it is fixed)", err);
	} else {
		for (size_t i = 0; i < n; i++) {
			if (milter_probe(&v[i], &err) == 0)
				diag_add(s, DIAG_OK, "Milter", NULL,
				    "%s: negotiated protocol 6 (timeout %llds, "
				    "default %s)", v[i].addr,
				    (long long)v[i].timeout_s,
				    milter_default_name(v[i].dflt));
			else
				diag_add(s, DIAG_ERROR, "Milter", NULL,
				    "%s: %s; meanwhile mail gets its default "
				    "action (%s)", v[i].addr, err,
				    milter_default_name(v[i].dflt));
		}
	}
	milter_spec_free(v, n);
	free(list);
}

/* check_rspamd - the normal worker answers /ping */
static void
check_rspamd(struct diag_section *s, struct db *db)
{
	char *rspamd = xstrdup(settings_current(db)->spam_rspamd);
	const char *err = NULL;

	if (*rspamd == '\0')
		diag_add(s, DIAG_INFO, "Spam filter (rspamd)", NULL,
		    "off (spam.rspamd is not set)");
	else if (rspamd_ping(rspamd, 10000, &err) == 0)
		diag_add(s, DIAG_OK, "Spam filter (rspamd)", NULL,
		    "rspamd at %s answers; Junk from score %lld, refused from "
		    "%lld (0: never; %s); training %s", rspamd,
		    (long long)settings_current(db)->spam_junk_score,
		    (long long)settings_current(db)->spam_reject_score,
		    settings_current(db)->spam_at_smtp ?
		    "SMTP mail before the 250" : "in the MTA, quarantined",
		    settings_is_set(db, "spam.rspamd_controller") ? "on" : "off");
	else
		diag_add(s, DIAG_ERROR, "Spam filter (rspamd)",
		    "start rspamd or correct spam.rspamd",
		    "rspamd at %s does not answer: %s; meanwhile mail passes "
		    "unchecked", rspamd, err ? err : "error");
	free(rspamd);
}

void
diag_check_content(struct diag_section *s, struct db *db)
{
	struct quarantine_entry *v;
	size_t n;
	const char *err;

	check_antivirus(s, db);
	check_milters(s, db);
	check_rspamd(s, db);
	char *qroot = settings_queue_path(db);
	if (quarantine_list(qroot, &v, &n, &err) < 0) {
		diag_add(s, DIAG_ERROR, "Quarantine", NULL, "%s", err);
	} else {
		diag_add(s, n ? DIAG_WARNING : DIAG_OK, "Quarantine",
		    n ? "postern quarantine list" : NULL,
		    "%zu message(s) held", n);
		quarantine_list_free(v, n);
	}
	free(qroot);
}
