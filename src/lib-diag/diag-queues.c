/* diag-queues - the checks of the queues, the content filters and
 * antivirus, and outgoing mail (diag.h) */
#include <ctype.h>
#include <dirent.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include <ares.h>
#include <event2/event.h>
#include <idn2.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include "dataroot.h"
#include "diag-private.h"
#include "directory.h"
#include "fsutil.h"
#include "netaddr.h"
#include "postern-config.h"
#include "queue.h"
#include "settings.h"
#include "sieve.h"
#include "store.h"
#include "strutil.h"
#include "xalloc.h"

/* --------------------------------------------------------------- queues */

static const char *const queue_conns[] = { "smtp", "sf", "ls", "pr" };

/* queue_stats - committed items of a queue (new/ and cur/), the oldest
 * arrival; with fn, each envelope is handed over */
typedef void queue_env_fn(void *ctx, const struct queue_env *env);
static size_t
queue_stats(const char *qpath, time_t *oldest_r, queue_env_fn *fn, void *ctx)
{
	static const char *const subs[] = { "new", "cur" };
	size_t count = 0;

	*oldest_r = 0;
	for (size_t k = 0; k < 2; k++) {
		char *dir = path_join(qpath, subs[k]), **names;
		size_t n;
		if (diag_dir_names(dir, ".env", &names, &n) < 0) {
			free(dir);
			continue;
		}
		for (size_t i = 0; i < n; i++) {
			char *p = path_join(dir, names[i]);
			struct buf b;
			struct queue_env env;
			const char *err;
			struct stat st;
			time_t t = stat(p, &st) == 0 ? st.st_mtime : 0;
			buf_init(&b, QUEUE_ENV_MAX);
			/* queue_env_parse initialises env itself: init it only
			 * when there is nothing to parse (twice leaked the id) */
			bool read = file_read(p, &b) == 0 && b.data != NULL;
			if (!read)
				queue_env_init(&env, "");
			else if (queue_env_parse(b.data, b.len, &env, &err) == 0) {
				if (env.arrival > 0)
					t = env.arrival;
				if (fn != NULL)
					fn(ctx, &env);
			}
			queue_env_free(&env);
			buf_free(&b);
			free(p);
			if (t > 0 && (*oldest_r == 0 || t < *oldest_r))
				*oldest_r = t;
			count++;
		}
		diag_names_free(names, n);
		free(dir);
	}
	return count;
}

/* count_files - entries of dir ending in suffix, -1 if it cannot be read */
static long
count_files(const char *dir, const char *suffix)
{
	char **names;
	size_t n;

	if (diag_dir_names(dir, suffix, &names, &n) < 0)
		return -1;
	diag_names_free(names, n);
	return (long)n;
}

void
diag_check_queues(struct diag_report *rep, struct db *db)
{
	struct diag_section *s = diag_section(rep, DIAG_S_QUEUES);
	char *qroot = settings_queue_path(db);
	int64_t notice = settings_current(db)->queue_delay_notice_after;
	time_t now = time(NULL);

	for (size_t c = 0; c < sizeof(queue_conns) / sizeof(queue_conns[0]); c++)
		for (int d = 0; d < 2; d++) {
			char *qp = queue_path(qroot, queue_conns[c], d ? QUEUE_OUTGOING : QUEUE_INBOUND);
			char check[64];
			struct stat st;
			time_t oldest;
			snprintf(check, sizeof(check), "%s/%s", queue_conns[c],
			    d ? "outgoing" : "inbound");
			if (stat(qp, &st) < 0) {
				/* made by its services when they first start */
				diag_add(s, errno == ENOENT ? DIAG_INFO : DIAG_ERROR, check, NULL,
				    "%s: %s", qp, errno == ENOENT ?
				    "not created yet (its services make it at start)" : strerror(errno));
				free(qp);
				continue;
			}
			size_t n = queue_stats(qp, &oldest, NULL, NULL);
			free(qp);
			if (n == 0) {
				diag_add(s, DIAG_OK, check, NULL, "empty");
				continue;
			}
			char age[32];
			diag_age_text((long long)(now - oldest), age, sizeof(age));
			bool old = notice > 0 && oldest > 0 && now - oldest > notice;
			diag_add(s, old ? DIAG_WARNING : DIAG_INFO, check,
			    old ? "items older than queue.delay_notice_after: is the service "
			    "that reads this queue running? (postern queue list)" : NULL,
			    "%zu item(s), oldest %s", n, age);
		}

	char *p = path_join(qroot, "badmail");
	long n = count_files(p, ".reason");
	free(p);
	if (n < 0)
		diag_add(s, DIAG_INFO, "Bad mail", NULL, "none (%s/badmail not created yet)", qroot);
	else
		diag_add(s, n > 0 ? DIAG_WARNING : DIAG_OK, "Bad mail",
		    n > 0 ? "look at them with postern queue list badmail; release or delete" : NULL,
		    "%ld item(s)", n);
	p = path_join(qroot, "pickup");
	n = count_files(p, "");
	free(p);
	diag_add(s, n > 0 ? DIAG_INFO : DIAG_OK, "Pickup directory", NULL,
	    n < 0 ? "missing" : "%ld file(s) waiting", n);
	p = path_join(qroot, "ls/held");
	n = count_files(p, ".info");
	free(p);
	diag_add(s, n > 0 ? DIAG_INFO : DIAG_OK, "Held list posts",
	    n > 0 ? "moderators: postern list held|approve|reject" : NULL,
	    "%ld post(s) waiting for moderation", n < 0 ? 0 : n);
	free(qroot);
}

/* ------------------------------------------------ filters, antivirus */

/* check_program - an event program setting: absolute, executable */
static void
check_program(struct diag_section *s, const char *check, const char *program)
{
	char *words = xstrdup(program), *save = NULL;
	char *first = strtok_r(words, " \t", &save);
	struct stat st;

	if (first == NULL)
		diag_add(s, DIAG_INFO, check, NULL, "none");
	else if (first[0] != '/')
		diag_add(s, DIAG_ERROR, check, "give the program's absolute path",
		    "%s: not an absolute path (never run)", first);
	else if (stat(first, &st) < 0)
		diag_add(s, DIAG_ERROR, check, NULL, "%s: %s", first, strerror(errno));
	else if (!S_ISREG(st.st_mode) || access(first, X_OK) < 0)
		diag_add(s, DIAG_ERROR, check, "chmod +x it", "%s: not executable", first);
	else
		diag_add(s, DIAG_OK, check, NULL, "%s", program);
	free(words);
}

void
diag_check_mta(struct diag_report *rep, struct db *db)
{
	struct diag_section *s = diag_section(rep, DIAG_S_MTA);
	const char *err;
	int64_t total = 0, enabled = 0;

	if (db_query_int(db, &total, 0, &err, "SELECT count(*) FROM global_filter", "") < 0 ||
	    db_query_int(db, &enabled, 0, &err, "SELECT count(*) FROM global_filter WHERE enabled <> 0", "") < 0)
		diag_add(s, DIAG_ERROR, "Global filters", NULL, "%s", err);
	else
		diag_add(s, DIAG_INFO, "Global filters", NULL, "%lld rule(s), %lld enabled",
		    (long long)total, (long long)enabled);

	/* the Sieve scripts of every mailbox */
	struct db_stmt *q = db_query(db, &err, "SELECT p.name, m.name FROM mailbox m "
	    "JOIN postoffice p ON p.id = m.postoffice_id", "");
	size_t mailboxes = 0, with = 0, active = 0, broken = 0;
	while (q != NULL && db_step(q, NULL) == DB_ROW) {
		char *mb = dir_mailbox_path_names(db, db_col_text(q, 0),
		    db_col_text(q, 1));
		char *sroot = path_join(mb, "sieve"), **names = NULL, *act = NULL;
		size_t n = 0;
		struct stat st;
		mailboxes++;
		if (stat(sroot, &st) == 0) {
			if (sieve_store_list(sroot, &names, &n, &act, &err) < 0)
				broken++;
			else {
				with += n > 0;
				active += act != NULL;
				sieve_store_list_free(names, n);
			}
		}
		free(act);
		free(sroot);
		free(mb);
	}
	db_stmt_free(&q);
	diag_add(s, broken ? DIAG_WARNING : DIAG_INFO, "Sieve filters", NULL,
	    "%zu of %zu mailbox(es) have scripts, %zu active%s", with, mailboxes,
	    active, broken ? " (some script stores unreadable)" : "");

	char *pick = xstrdup(settings_current(db)->mta_pickup_event);
	check_program(s, "Pickup event (mta.pickup_event)", pick);
	free(pick);
	q = db_query(db, &err, "SELECT DISTINCT delivery_event_program FROM mailbox "
	    "WHERE delivery_event_enabled <> 0 AND delivery_event_program != '' "
	    "ORDER BY 1 LIMIT 50", "");
	size_t nprog = 0;
	while (q != NULL && db_step(q, NULL) == DB_ROW) {
		check_program(s, "Delivery event program",
		    db_col_text(q, 0));
		nprog++;
	}
	db_stmt_free(&q);
	if (nprog == 0)
		diag_add(s, DIAG_INFO, "Delivery event programs", NULL, "none enabled");
	diag_check_content(s, db);
}

/* --------------------------------------------------------- outgoing */

struct dest {
	char *domain;
	size_t pending, deferred, failed;
	time_t oldest;
	char *last_error;
	time_t last_error_when;
};

struct dests {
	struct dest *d;
	size_t n;
};

static void
collect_dest(void *ctx, const struct queue_env *env)
{
	struct dests *ds = ctx;

	for (size_t i = 0; i < env->nrcpts; i++) {
		const struct queue_rcpt *r = &env->rcpts[i];
		if (r->status == RCPT_DELIVERED)
			continue;
		const char *at = strrchr(r->address, '@');
		const char *dom = at ? at + 1 : r->address;
		struct dest *d = NULL;
		for (size_t k = 0; k < ds->n; k++)
			if (str_eq_ci(ds->d[k].domain, dom))
				d = &ds->d[k];
		if (d == NULL) {
			ds->d = xreallocarray(ds->d, ds->n + 1, sizeof(*ds->d));
			d = &ds->d[ds->n++];
			memset(d, 0, sizeof(*d));
			d->domain = xstrdup(dom);
			str_lower(d->domain);
		}
		if (r->status == RCPT_DEFERRED)
			d->deferred++;
		else if (r->status == RCPT_FAILED)
			d->failed++;
		else
			d->pending++;
		if (d->oldest == 0 || env->arrival < d->oldest)
			d->oldest = env->arrival;
		/* the latest attempt's error: next_attempt follows the attempt */
		if (r->last_error != NULL && *r->last_error != '\0' &&
		    (d->last_error == NULL || r->next_attempt >= d->last_error_when)) {
			free(d->last_error);
			d->last_error = xstrdup(r->last_error);
			d->last_error_when = r->next_attempt;
		}
	}
}

static int
dest_cmp(const void *a, const void *b)
{
	return strcmp(((const struct dest *)a)->domain, ((const struct dest *)b)->domain);
}

void
diag_check_outgoing(struct diag_report *rep, struct db *db)
{
	struct diag_section *s = diag_section(rep, DIAG_S_OUT);
	const char *err;

	char *sh = xstrdup(settings_current(db)->smarthost_host);
	if (*sh != '\0') {
		bool auth = settings_current(db)->smarthost_auth != 0;
		char *user = xstrdup(settings_current(db)->smarthost_user);
		diag_add(s, auth && *user == '\0' ? DIAG_WARNING : DIAG_INFO,
		    "Smart host (smarthost.host)",
		    auth && *user == '\0' ? "set smarthost.user and smarthost.password" : NULL,
		    "all outbound mail goes through %s%s%s", sh,
		    auth ? ", authenticating as " : ", without authentication",
		    auth ? (*user ? user : "(no user set)") : "");
		free(user);
	} else {
		diag_add(s, DIAG_INFO, "Smart host (smarthost.host)", NULL,
		    "none: outbound mail goes to each domain's MX");
	}
	free(sh);
	int64_t npo = 0, ndom = 0;
	db_query_int(db, &npo, 0, &err, "SELECT count(*) FROM postoffice WHERE smarthost != ''", "");
	db_query_int(db, &ndom, 0, &err, "SELECT count(*) FROM domain WHERE smarthost != ''", "");
	diag_add(s, DIAG_INFO, "Smart hosts of post offices and domains", NULL,
	    "%lld post office(s), %lld domain(s)", (long long)npo, (long long)ndom);
	int64_t port = settings_current(db)->smtp_out_port;
	diag_add(s, port == 25 ? DIAG_OK : DIAG_WARNING, "Remote port (smtp.out_port)",
	    port == 25 ? NULL : "mail exchangers listen on 25: postern config unset smtp.out_port",
	    "%lld", (long long)port);
	int64_t ot = settings_current(db)->smtp_out_timeout;
	diag_add(s, DIAG_INFO, "Timeouts (smtp.out_timeout)", NULL, "%s",
	    ot == 0 ? "RFC 5321 values" : "capped (tests only)");
	char *rs = xstrdup(settings_current(db)->queue_retry_schedule);
	diag_add(s, DIAG_INFO, "Retry schedule", NULL, "%s; bounce after %lld h, delay notice after %lld h",
	    rs, (long long)settings_current(db)->queue_bounce_after / 3600,
	    (long long)settings_current(db)->queue_delay_notice_after / 3600);
	free(rs);

	/* the outbound queue per destination domain */
	struct diag_section *sq = diag_section(rep, DIAG_S_OUTQ);
	char *qroot = settings_queue_path(db);
	char *qp = queue_path(qroot, "smtp", QUEUE_OUTGOING);
	struct dests ds = { NULL, 0 };
	time_t oldest;
	size_t n = queue_stats(qp, &oldest, collect_dest, &ds);
	time_t now = time(NULL);
	if (n == 0)
		diag_add(sq, DIAG_OK, "Outbound queue (smtp/outgoing)", NULL, "empty");
	else
		diag_add(sq, DIAG_INFO, "Outbound queue (smtp/outgoing)", NULL,
		    "%zu item(s) for %zu domain(s)", n, ds.n);
	if (ds.n > 0)
		qsort(ds.d, ds.n, sizeof(*ds.d), dest_cmp);
	for (size_t i = 0; i < ds.n; i++) {
		struct dest *d = &ds.d[i];
		char check[300], age[32];
		snprintf(check, sizeof(check), "Destination %s", d->domain);
		diag_age_text((long long)(now - d->oldest), age, sizeof(age));
		diag_add(sq, d->last_error != NULL ? DIAG_WARNING : DIAG_INFO, check,
		    d->last_error != NULL ? "postern queue list smtp/outgoing; postern queue retry" : NULL,
		    "%zu recipient(s) waiting, %zu deferred, oldest %s%s%s", d->pending + d->failed,
		    d->deferred, age, d->last_error ? "; last error: " : "",
		    d->last_error ? d->last_error : "");
		free(d->domain);
		free(d->last_error);
	}
	free(ds.d);
	free(qp);
	free(qroot);
}
