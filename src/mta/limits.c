/* limits - outbound abuse limits in the MTA (limits.h) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "directory.h"
#include "limits.h"
#include "log.h"
#include "queue.h"
#include "sendlimit.h"
#include "settings.h"
#include "xalloc.h"

static struct sendlimit *sl;    /* per process, opened at first use */

/* alert - a notice to the administrator, queued as local mail */
static void
alert(struct filter_ctx *ctx, const char *key, const char *why,
      bool suspended)
{
	struct queue_env env;
	struct buf msg;
	char id[QUEUE_ID_MAX + 1], date[64];
	const char *err = NULL;
	time_t now = time(NULL);
	struct tm tm;
	char *host = settings_hostname(ctx->db);
	char *to = xstrdup(settings_current(ctx->db)->limits_alert);

	if (*to == '\0') {
		free(to);
		to = xasprintf("postmaster@%s", host);
	}
	queue_new_id(id);
	queue_env_init(&env, id);
	env.arrival = now;
	queue_env_set(&env.sender, "");
	queue_env_set(&env.client_addr, "local");
	env.bulk = true;
	queue_env_add_rcpt(&env, to, NULL, 0);
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	buf_init(&msg, 0);
	buf_printf(&msg, "From: Postern <postmaster@%s>\r\nTo: <%s>\r\n"
	    "Subject: Outbound limit reached: %s\r\nDate: %s\r\n"
	    "Message-ID: <%s.limits@%s>\r\nAuto-Submitted: auto-generated\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n\r\n"
	    "Postern holds outgoing mail of %s:\r\n%s.\r\n\r\n"
	    "%s"
	    "The held messages are in bad mail with a reason starting\r\n"
	    "\"held:\" (postern queue list). Check the account; then\r\n"
	    "'postern queue release ID' sends a message on and\r\n"
	    "'postern queue delete ID --yes' removes it.\r\n"
	    "Limits: postern config get limits.mailbox_messages (and\r\n"
	    "limits.*); counts: postern sendlimit list.\r\n", host, to, key,
	    date, id, host, key, why, suspended ? "Sending of this mailbox is "
	    "suspended: all its mail is held until\r\n'postern sendlimit "
	    "unsuspend NAME@PO'.\r\n\r\n" : "");
	char *qpath = queue_path(ctx->queue_root, "smtp", QUEUE_INBOUND);
	struct queue_writer *w = queue_writer_open(qpath, id, &err);
	if (w == NULL || queue_writer_write(w, msg.data, msg.len) < 0 ||
	    queue_writer_commit(&w, &env, &err) < 0) {
		if (w != NULL)
			queue_writer_abort(&w);
		log_warnx("%s: limits: cannot queue the notice to %s: %s",
		    ctx->env->id, to, err ? err : "write failed");
	} else {
		log_info("%s: limits: notice %s to <%s>", ctx->env->id, id, to);
	}
	free(qpath);
	buf_free(&msg);
	queue_env_free(&env);
	free(to);
	free(host);
}

enum filter_result
limits_run(struct filter_ctx *ctx)
{
	static __thread char reason[512];
	const struct queue_env *env = ctx->env;
	const char *err = NULL;
	char *why = NULL;
	int which;
	time_t now = time(NULL);
	struct dir_mailbox mb;

	if (strcmp(ctx->conn, "smtp") != 0 || env->auth_user == NULL ||
	    env->auth_user[0] == '\0')
		return FILTER_CONTINUE;
	/* the login may be any address of the mailbox: count its name */
	int found = dir_login_lookup(ctx->db, env->auth_user, &mb, &err);
	if (found < 0) {
		log_warnx("%s: limits: %s: %s (deferred)", env->id,
		    env->auth_user, err);
		ctx->reason = "outbound limits: directory lookup failed";
		return FILTER_DEFER;
	}
	if (found == 0)
		return FILTER_CONTINUE;  /* gone: routing decides (no sender) */
	if (sl == NULL && sendlimit_open(db_root(ctx->db), &sl, &err) < 0) {
		log_warnx("%s: limits: not counted: %s", env->id, err);
		return FILTER_CONTINUE;
	}
	char *who = xasprintf("%s@%s", mb.name, mb.postoffice);
	struct sendlimit_limits l;
	sendlimit_limits_get(ctx->db, &l);
	size_t rcpts = 0;
	for (size_t i = 0; i < env->nrcpts; i++)
		if (env->rcpts[i].status != RCPT_DELIVERED &&
		    env->rcpts[i].status != RCPT_FAILED)
			rcpts++;
	/* an item the administrator released with 'postern sendlimit
	 * release' is counted but not held again */
	bool released = sendlimit_released(sl, env->id);
	int r = sendlimit_take(sl, released ? NULL : &l, who, rcpts, now, &why,
	    &which);
	if (r <= 0) {
		if (r < 0)
			log_warnx("%s: limits: not counted: %s", env->id, why);
		else if (released)
			log_info("%s: limits: released by the administrator",
			    env->id);
		free(why);
		free(who);
		return FILTER_CONTINUE;
	}
	bool suspended = which == SENDLIMIT_SUSPENDED;
	if (which == SENDLIMIT_MAILBOX &&
	    settings_current(ctx->db)->limits_suspend != 0 &&
	    sendlimit_suspend(sl, who, why, now) == 0) {
		suspended = true;
		log_warnx("limits: sending of %s suspended: %s", who, why);
	}
	char *key = which == SENDLIMIT_POSTOFFICE ?
	    xasprintf("post office %s", mb.postoffice) : xstrdup(who);
	if (sendlimit_alert_due(sl, key, now))
		alert(ctx, key, why, suspended);
	log_warnx("%s: held for %s: %s", env->id, who, why);
	snprintf(reason, sizeof(reason), "%s%s", LIMITS_HELD, why);
	ctx->reason = reason;
	free(key);
	free(why);
	free(who);
	return FILTER_REJECT;
}
