/* scan - the MTA's content filters on lib-filter: antivirus, milters,
 * rspamd */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "buf.h"
#include "milter.h"
#include "rspamd.h"
#include "scan.h"
#include "settings.h"
#include "verdict.h"
#include "xalloc.h"

/* entering - mail from outside (SMTP, POP retrieval, pickup) */
static bool
entering(const struct filter_ctx *ctx)
{
	return strcmp(ctx->conn, "smtp") == 0 || strcmp(ctx->conn, "pr") == 0 ||
	    strcmp(ctx->conn, "pickup") == 0;
}

/* scan_antivirus_run - clamd; a virus quarantines the item */
enum filter_result
scan_antivirus_run(struct filter_ctx *ctx)
{
	struct av_config cfg;
	struct av_result res;

	if (!entering(ctx) || ctx->released)
		return FILTER_CONTINUE;
	av_config_load(ctx->db, ctx->env, &cfg);
	if (!cfg.enabled)
		return FILTER_CONTINUE;
	/* smtpd scanned what its clients sent before it answered 250 */
	if (cfg.at_smtp && strcmp(ctx->conn, "smtp") == 0 &&
	    ctx->env->client_addr != NULL &&
	    strcmp(ctx->env->client_addr, "local") != 0)
		return FILTER_CONTINUE;
	av_scan_file(&cfg, ctx->new_msg_path ? ctx->new_msg_path :
	    ctx->msg_path, &res);
	av_reason(&res, ctx->reason_buf, sizeof(ctx->reason_buf));
	switch (res.verdict) {
	case AV_CLEAN:
		log_info("%s: antivirus: %s", ctx->env->id, ctx->reason_buf);
		return FILTER_CONTINUE;
	case AV_UNSCANNED_PASS:
		log_warnx("%s: antivirus: %s; passed unscanned "
		    "(antivirus.on_failure pass)", ctx->env->id, ctx->reason_buf);
		return FILTER_CONTINUE;
	case AV_UNSCANNED_DEFER:
		ctx->reason = ctx->reason_buf;
		return FILTER_DEFER;
	case AV_VIRUS:
		break;
	}
	ctx->reason = ctx->reason_buf;
	return FILTER_QUARANTINE;
}

/* scan_milter_run - the milters of milter.list (lib-filter/milter.h) */
enum filter_result
scan_milter_run(struct filter_ctx *ctx)
{
	struct milter_spec *v = NULL;
	size_t n = 0;
	const char *err;

	if (!entering(ctx) || ctx->released)
		return FILTER_CONTINUE;
	const char *list = settings_current(ctx->db)->milter_list;
	if (*list == '\0') {
		return FILTER_CONTINUE;
	}
	if (milter_spec_parse(list, &v, &n, &err) < 0) {
		snprintf(ctx->reason_buf, sizeof(ctx->reason_buf),
		    "milter.list: %s", err);
		ctx->reason = ctx->reason_buf;
		return FILTER_DEFER;
	}
	char *host = settings_hostname(ctx->db);
	char *tmpdir = xasprintf("%s/smtp/inbound/tmp", ctx->queue_root);
	struct milter_msg msg = { .id = ctx->env->id, .hostname = host,
	    .env = ctx->env, .tmpdir = tmpdir,
	    .path = ctx->new_msg_path ? ctx->new_msg_path : ctx->msg_path };
	enum milter_outcome out = milter_run_all(v, n, &msg);
	milter_spec_free(v, n);
	free(host);
	free(tmpdir);
	if (msg.new_path != NULL) {
		/* the milters changed the message: it replaces ours */
		if (ctx->new_msg_path != NULL) {
			unlink(ctx->new_msg_path);
			free(ctx->new_msg_path);
		}
		ctx->new_msg_path = msg.new_path;
	}
	snprintf(ctx->reason_buf, sizeof(ctx->reason_buf), "%s", msg.reason);
	ctx->reason = ctx->reason_buf;
	switch (out) {
	case MILTER_OK:
		if (msg.reason[0] != '\0')
			log_warnx("%s: %s", ctx->env->id, msg.reason);
		ctx->reason = NULL;
		return FILTER_CONTINUE;
	case MILTER_TEMPFAIL:
		return FILTER_DEFER;
	case MILTER_DISCARD:
		return FILTER_DISCARD;
	case MILTER_REJECT:
		/* after the 250 a reject cannot reach the client: held */
		return FILTER_QUARANTINE;
	case MILTER_QUARANTINE:
		return FILTER_QUARANTINE;
	}
	return FILTER_DEFER;
}

/* the verdict fields we write; any such field arriving from outside is
 * taken out first (deliver trusts X-Spam-Score for the Junk folder) */
static const char *const spam_fields[] = { "X-Spam-Score", "X-Spam-Status",
    "X-Spam-Flag", "X-Spam-Symbols", "X-Spam-Action", NULL };

/* scan_spam_run - the spam verdict (lib-filter verdict.h spam_verdict)
 * as header fields: smtpd's, made before its 250 (spam.at_smtp), or
 * rspamd's /checkv2 asked now; the reject score quarantines (after the
 * 250); Junk is deliver's */
enum filter_result
scan_spam_run(struct filter_ctx *ctx)
{
	struct spam_config cfg;
	struct spam_result res;
	const char *err;

	if (!entering(ctx) || ctx->released)
		return FILTER_CONTINUE;
	char *smtpd_fields = strcmp(ctx->conn, "smtp") == 0 ?
	    spam_fields_take(ctx->queue_root, ctx->env->id) : NULL;
	spam_config_load(ctx->db, ctx->env, &cfg);
	if (!cfg.enabled) {
		free(smtpd_fields);
		return FILTER_CONTINUE;
	}
	const char *src = ctx->new_msg_path ? ctx->new_msg_path : ctx->msg_path;
	struct buf pre;
	buf_init(&pre, 0);
	if (smtpd_fields != NULL) {
		/* smtpd asked before its 250 (empty: rspamd did not answer,
		 * the mail passes unchecked) */
		buf_puts(&pre, smtpd_fields);
		free(smtpd_fields);
	} else if (rspamd_check(cfg.rspamd, cfg.timeout_ms, src, ctx->env, &res,
	    &err) < 0) {
		/* no verdict: the mail passes, without forged fields */
		log_warnx("%s: spam check: %s; passed unchecked", ctx->env->id,
		    err);
	} else {
		log_info("%s: spam check: score=%.2f required=%.2f action=%s "
		    "symbols=%s", ctx->env->id, res.score, res.required,
		    res.action, res.symbols);
		if (spam_verdict(&cfg, &res, &pre, ctx->reason_buf,
		    sizeof(ctx->reason_buf))) {
			ctx->reason = ctx->reason_buf;
			buf_free(&pre);
			return FILTER_QUARANTINE;
		}
	}
	char *tmpdir = xasprintf("%s/smtp/inbound/tmp", ctx->queue_root);
	char *path;
	if (filter_header_rewrite(src, tmpdir, ctx->env->id,
	    pre.data ? pre.data : "", spam_fields, &path, &err) < 0) {
		buf_free(&pre);
		free(tmpdir);
		ctx->reason = "cannot write the message with the spam verdict";
		return FILTER_DEFER;
	}
	buf_free(&pre);
	free(tmpdir);
	if (ctx->new_msg_path != NULL) {
		unlink(ctx->new_msg_path);
		free(ctx->new_msg_path);
	}
	ctx->new_msg_path = path;
	return FILTER_CONTINUE;
}
