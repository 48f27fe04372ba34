/* popretr - the POP retrieval connector (manual 3.2, 5.5.8): fetches the
 * mail of remote POP3 mailboxes (table pop_account) into local mailboxes.
 *
 * Every popretr.interval (and at once when `postern popretrieval run`
 * leaves <queue>/pr/run.all or run.<id>), for each enabled account: connect (TLS none,
 * STLS or implicit), log in (USER/PASS or APOP), UIDL, and for each
 * message whose UIDL is not remembered: RETR, then
 *   1. an intent "i <queue id> <uidl>" is appended to the account's state
 *      file <queue>/pr/state/<account>.uidl (fsync),
 *   2. the message is committed as a queue item in <queue>/pr/fetched
 *      (a staging queue the MTA does not read), recipient the mailbox's
 *      address, null sender (a failure goes to bad mail, never back to a
 *      remote sender),
 *   3. "u <uidl>" is appended (fsync): the message is remembered,
 *   4. the item is moved by rename into pr/inbound, where the MTA routes it
 *      like any mail (filters and quotas apply in deliver),
 *   5. DELE (unless leave_on_server).
 * A kill at any point loses and duplicates nothing: before 2 committed,
 * the message is still on the server and not remembered (fetched again);
 * after 2, the next start finds the staged item, remembers its UIDL from
 * the intent and moves it (step 4 is two renames, the envelope last, and
 * a half move is finished). Remembered messages are deleted at the next
 * run when they should have been. Outcomes go to pop_account.last_run and
 * last_status (`postern popretrieval status`).
 *
 * Each account's retrieval runs in its own forked process (at most
 * popretr.workers at once, never two for one account), so the main
 * process's event loop never waits on the network: a remote server that
 * stalls holds only its own process. In that process the I/O is blocking,
 * bounded by popretr.timeout for each connect and read; the main process
 * kills (SIGKILL) a retrieval still running after popretr.max_run_time
 * (a server trickling bytes), and on SIGTERM stops every retrieval at
 * once (SIGTERM, SIGKILL after a second). Killing a retrieval is safe at
 * any point: that is the protocol above. Its outcome is then recorded by
 * the main process. A retrieval dies with the main process
 * (PR_SET_PDEATHSIG), so a restarted service never runs beside it.
 *
 * Files: this one (the dialogue, runs and retrieval processes),
 * popclient.c (a POP3 connection), pop3reply.c (the reply parser),
 * prstore.c (the UIDL state and staged items). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "buf.h"
#include "directory.h"
#include "fsutil.h"
#include "log.h"
#include "popclient.h"
#include "popretr.h"
#include "prstore.h"
#include "queue.h"
#include "service.h"
#include "settings.h"
#include "strutil.h"
#include "xalloc.h"

#define PR_TICK 1
#define PR_STOP_GRACE_MS 1000   /* SIGTERM to SIGKILL at a stop */

struct pr;

/* a retrieval running in its own process */
struct fetcher {
	struct pr *p;
	pid_t pid;
	int64_t account;
	int fd;               /* read end of its pipe: EOF when it is gone */
	struct event *ev, *limit;
	bool killed;          /* by popretr.max_run_time */
	char out[64];         /* what it reports: "fetched N" */
	size_t outlen;
};

struct pr {
	struct service *svc;
	char *qroot;
	char *inbound;        /* pr/inbound: read by the MTA */
	char *staged;         /* pr/fetched: committed, not yet handed over */
	char *statedir;       /* pr/state/<account>.uidl */
	struct event *timer;
	int timeout;          /* popretr.timeout: connect and each read */
	bool recovered;       /* the staged items of a crash were handed on */
	struct fetcher **f;   /* running retrievals */
	size_t nf;
	int64_t *asked;       /* accounts `postern popretrieval run` asked for */
	size_t nasked;
	unsigned long fetched, runs;
};

struct account {
	int64_t id, mailbox_id, last_run;
	char *host, *user, *pass, *tls;
	int port;
	bool apop, leave;
};

static void
account_free(struct account *a)
{
	free(a->host);
	free(a->user);
	free(a->pass);
	free(a->tls);
	memset(a, 0, sizeof(*a));
}

/* ------------------------------------------------------------ a run */

struct run {
	struct pr *p;
	struct account *a;
	struct popclient c;
	struct prstore st;
	char rcpt[ADDRESS_MAX_LEN + 1];
	char status[400];
	unsigned long fetched, deleted, onserver;
};

static void
run_fail(struct run *r, const char *fmt, const char *detail)
{
	snprintf(r->status, sizeof(r->status), "error: ");
	size_t l = strlen(r->status);
	snprintf(r->status + l, sizeof(r->status) - l, fmt, detail ? detail : "");
	/* the server's text, one printable line */
	for (char *s = r->status; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			*s = '?';
}

/* fetch_one - RETR, stage, remember, hand over; 0 or -1 */
static int
fetch_one(struct run *r, unsigned long n, const char *uidl)
{
	struct pr *p = r->p;
	char cmd[64], qid[QUEUE_ID_MAX + 1], date[64];
	const char *err = NULL;

	snprintf(cmd, sizeof(cmd), "RETR %lu\r\n", n);
	if (popclient_cmd(&r->c, cmd, true, &err) < 0) {
		run_fail(r, "RETR: %s", err);
		return -1;
	}
	if (!r->c.reply.ok) {
		run_fail(r, "RETR refused: %s", r->c.reply.text.data);
		return -1;
	}
	queue_new_id(qid);
	char *intent = xasprintf("i %s %s\n", qid, uidl);
	int k = prstore_append(&r->st, intent);
	free(intent);
	if (k < 0) {
		run_fail(r, "cannot write the UIDL state%s", "");
		return -1;
	}
	struct queue_env env;
	queue_env_init(&env, qid);
	queue_env_set(&env.client_addr, "local");
	queue_env_set(&env.client_helo, r->a->host);
	queue_env_add_rcpt(&env, r->rcpt, NULL, 0);
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	char *host = settings_hostname(p->svc->db);
	char *recv = xasprintf("Received: from %s (POP3 account %lld, uidl %s)\r\n"
	    "\tby %s (Postern popretr) id %s\r\n\tfor <%s>; %s\r\n", r->a->host,
	    (long long)r->a->id, uidl, host, qid, r->rcpt, date);
	free(host);
	struct queue_writer *w = queue_writer_open(p->staged, qid, &err);
	int rc = -1;
	if (w != NULL) {
		const struct buf *d = &r->c.reply.data;
		if (queue_writer_write(w, recv, strlen(recv)) < 0 ||
		    queue_writer_write(w, d->data ? d->data : "", d->len) < 0) {
			err = "write failed";
			queue_writer_abort(&w);
		} else if (queue_writer_commit(&w, &env, &err) == 0) {
			rc = 0;
		}
	}
	free(recv);
	queue_env_free(&env);
	if (rc < 0) {
		run_fail(r, "cannot queue the message: %s", err);
		return -1;
	}
	/* durable here: remember it, then hand it over */
	char *line = xasprintf("u %s\n", uidl);
	k = prstore_append(&r->st, line);
	free(line);
	if (k < 0) {
		run_fail(r, "cannot write the UIDL state%s", "");
		return -1;   /* the staged item is recovered at the next run */
	}
	prstore_insert(&r->st, uidl);
	prstore_stage_move(p->staged, p->inbound, qid);
	log_info("%s: account %lld: fetched message %lu (uidl %s, %zu bytes) for <%s>",
	    qid, (long long)r->a->id, n, uidl, r->c.reply.data.len, r->rcpt);
	r->fetched++;
	p->fetched++;
	return 0;
}

/* run_session - the POP3 dialogue of one account */
static void
run_session(struct run *r)
{
	struct account *a = r->a;
	const char *err = NULL;
	char stamp[256] = "", cmd[600];
	char **uids = NULL, **deleted = NULL;
	unsigned long *nums = NULL;
	size_t nuid = 0, ndel = 0;

	if (popclient_connect(&r->c, a->host, a->port, r->p->timeout, &err) < 0) {
		run_fail(r, "%s", err);
		return;
	}
	if (strcmp(a->tls, "tls") == 0 && popclient_tls(&r->c, a->host, &err) < 0) {
		run_fail(r, "%s", err);
		goto out;
	}
	if (popclient_reply(&r->c, false, &err) < 0) {
		run_fail(r, "greeting: %s", err);
		goto out;
	}
	if (!r->c.reply.ok) {
		run_fail(r, "the server refused the connection: %s",
		    r->c.reply.text.data);
		goto out;
	}
	(void)pop3_apop_stamp(r->c.reply.text.data ? r->c.reply.text.data : "",
	    stamp, sizeof(stamp));
	if (strcmp(a->tls, "starttls") == 0) {
		if (popclient_cmd(&r->c, "STLS\r\n", false, &err) < 0) {
			run_fail(r, "STLS: %s", err);
			goto out;
		}
		if (!r->c.reply.ok) {
			run_fail(r, "the server does not offer STLS: %s (use --tls "
			    "none or tls)", r->c.reply.text.data);
			goto out;
		}
		r->c.pos = r->c.len = 0;   /* nothing read before TLS counts */
		if (popclient_tls(&r->c, a->host, &err) < 0) {
			run_fail(r, "%s", err);
			goto out;
		}
	}
	if (a->apop) {
		unsigned char md[EVP_MAX_MD_SIZE];
		unsigned int mdlen = 0;
		char hex[2 * EVP_MAX_MD_SIZE + 1];
		if (*stamp == '\0') {
			run_fail(r, "APOP: the server greeting has no timestamp%s", "");
			goto out;
		}
		char *in = xasprintf("%s%s", stamp, a->pass);
		EVP_Digest(in, strlen(in), md, &mdlen, EVP_md5(), NULL);
		explicit_bzero(in, strlen(in));
		free(in);
		for (unsigned i = 0; i < mdlen; i++)
			snprintf(hex + 2 * i, 3, "%02x", md[i]);
		snprintf(cmd, sizeof(cmd), "APOP %s %s\r\n", a->user, hex);
		if (popclient_cmd(&r->c, cmd, false, &err) < 0) {
			run_fail(r, "APOP: %s", err);
			goto out;
		}
	} else {
		snprintf(cmd, sizeof(cmd), "USER %s\r\n", a->user);
		if (popclient_cmd(&r->c, cmd, false, &err) < 0) {
			run_fail(r, "USER: %s", err);
			goto out;
		}
		if (r->c.reply.ok) {
			snprintf(cmd, sizeof(cmd), "PASS %s\r\n", a->pass);
			int k = popclient_cmd(&r->c, cmd, false, &err);
			explicit_bzero(cmd, sizeof(cmd));
			if (k < 0) {
				run_fail(r, "PASS: %s", err);
				goto out;
			}
		}
	}
	if (!r->c.reply.ok) {
		run_fail(r, "login failed (bad user or password?): %s",
		    r->c.reply.text.data);
		goto out;
	}
	if (popclient_cmd(&r->c, "UIDL\r\n", true, &err) < 0) {
		run_fail(r, "UIDL: %s", err);
		goto out;
	}
	if (!r->c.reply.ok) {
		run_fail(r, "the server has no UIDL: %s", r->c.reply.text.data);
		goto out;
	}
	/* the listing, parsed before the reply buffer is reused */
	const char *d = r->c.reply.data.data ? r->c.reply.data.data : "";
	for (const char *e = d; *d != '\0'; d = e) {
		e = strstr(d, "\r\n");
		if (e == NULL)
			break;
		unsigned long n;
		char uid[PR_UIDL_MAX + 1];
		if (pop3_uidl_line(d, (size_t)(e - d), &n, uid, sizeof(uid)) == 0) {
			uids = xreallocarray(uids, nuid + 1, sizeof(*uids));
			nums = xreallocarray(nums, nuid + 1, sizeof(*nums));
			uids[nuid] = xstrdup(uid);
			nums[nuid++] = n;
		} else {
			log_warnx("account %lld: malformed UIDL line ignored",
			    (long long)a->id);
		}
		e += 2;
	}
	r->onserver = nuid;
	for (size_t i = 0; i < nuid && !r->p->svc->stopping; i++) {
		if (!prstore_has(&r->st, uids[i]) && fetch_one(r, nums[i], uids[i]) < 0)
			goto out;
		if (a->leave)
			continue;
		snprintf(cmd, sizeof(cmd), "DELE %lu\r\n", nums[i]);
		if (popclient_cmd(&r->c, cmd, false, &err) < 0) {
			run_fail(r, "DELE: %s", err);
			goto out;
		}
		if (r->c.reply.ok) {
			deleted = xreallocarray(deleted, ndel + 1, sizeof(*deleted));
			deleted[ndel++] = uids[i];
			r->deleted++;
		}
	}
	if (popclient_cmd(&r->c, "QUIT\r\n", false, &err) < 0 || !r->c.reply.ok) {
		run_fail(r, "QUIT: %s", err != NULL ? err : r->c.reply.text.data);
		goto out;
	}
	/* forget what the server no longer has */
	char **keep = xcalloc(nuid + 1, sizeof(*keep));
	size_t nkeep = 0;
	for (size_t i = 0; i < nuid; i++) {
		bool gone = false;
		for (size_t j = 0; j < ndel && !gone; j++)
			gone = deleted[j] == uids[i];
		if (!gone)
			keep[nkeep++] = uids[i];
	}
	prstore_rewrite(&r->st, keep, nkeep);
	free(keep);
	snprintf(r->status, sizeof(r->status), "ok: %lu fetched, %lu deleted, "
	    "%lu left on the server", r->fetched, r->deleted,
	    r->onserver - r->deleted);
out:
	popclient_close(&r->c);
	for (size_t i = 0; i < nuid; i++)
		free(uids[i]);
	free(uids);
	free(nums);
	free(deleted);
}

/* run_account - one retrieval, its outcome recorded */
static void
run_account(struct pr *p, struct account *a)
{
	struct run r;
	struct dir_strings addrs;
	const char *err = NULL;

	memset(&r, 0, sizeof(r));
	r.p = p;
	r.a = a;
	r.c.fd = -1;
	r.st.fd = -1;
	if (dir_mailbox_addresses(p->svc->db, a->mailbox_id, &addrs, &err) < 0) {
		run_fail(&r, "directory: %s", err);
	} else if (addrs.n == 0) {
		run_fail(&r, "the local mailbox has no e-mail address%s", "");
	} else {
		snprintf(r.rcpt, sizeof(r.rcpt), "%s", addrs.v[0]);
		if (prstore_load(p->statedir, a->id, &r.st, &err) < 0) {
			run_fail(&r, "%s", err);
		} else {
			prstore_stage_recover(p->staged, p->inbound, &r.st);
			run_session(&r);
		}
	}
	dir_strings_free(&addrs);
	prstore_free(&r.st);
	log_info("account %lld (%s@%s:%d): %s", (long long)a->id, a->user, a->host,
	    a->port, r.status);
	if (adm_pop_status(p->svc->db, a->id, (int64_t)time(NULL), r.status,
	    &err) < 0)
		log_warnx("account %lld: cannot record the status: %s",
		    (long long)a->id, err);
}

/* accounts_load - the enabled accounts (all, or those due) */
static int
accounts_load(struct pr *p, struct account **v_r, size_t *n_r)
{
	const char *err;
	*v_r = NULL;
	*n_r = 0;
	struct db_stmt *st = db_query(p->svc->db, &err,
	    "SELECT id, mailbox_id, last_run, host, username, password, tls, port, "
	    "apop, leave_on_server FROM pop_account WHERE enabled <> 0 ORDER BY id", "");
	if (st == NULL) {
		log_warnx("accounts: %s", err);
		return -1;
	}
	while (db_step(st, NULL) == DB_ROW) {
		struct account a;
		a.id = db_col_int(st, 0);
		a.mailbox_id = db_col_int(st, 1);
		a.last_run = db_col_int(st, 2);
		a.host = xstrdup(db_col_text(st, 3));
		a.user = xstrdup(db_col_text(st, 4));
		a.pass = xstrdup(db_col_text(st, 5));
		a.tls = xstrdup(db_col_text(st, 6));
		a.port = db_col_int(st, 7);
		a.apop = db_col_int(st, 8);
		a.leave = db_col_int(st, 9);
		*v_r = xreallocarray(*v_r, *n_r + 1, sizeof(**v_r));
		(*v_r)[(*n_r)++] = a;
	}
	db_stmt_free(&st);
	return 0;
}

/* recover_all - at start: the staged items of every account (enabled or
 * not) are remembered and handed on; what is left belongs to deleted
 * accounts and goes on as well */
static void
recover_all(struct pr *p)
{
	const char *err = NULL;
	struct db_stmt *st = db_query(p->svc->db, &err, "SELECT id FROM pop_account",
	    "");
	if (st == NULL) {
		log_warnx("accounts: %s", err);
		return;
	}
	while (db_step(st, NULL) == DB_ROW) {
		struct prstore s;
		if (prstore_load(p->statedir, db_col_int(st, 0), &s, &err) == 0)
			prstore_stage_recover(p->staged, p->inbound, &s);
		prstore_free(&s);
	}
	db_stmt_free(&st);
	prstore_stage_flush(p->staged, p->inbound);
}

/* asked_add - remember that account id was asked for (once) */
static void
asked_add(struct pr *p, int64_t id)
{
	for (size_t i = 0; i < p->nasked; i++)
		if (p->asked[i] == id)
			return;
	p->asked = xreallocarray(p->asked, p->nasked + 1, sizeof(*p->asked));
	p->asked[p->nasked++] = id;
}

/* asked_take - whether id was asked for; forgets it */
static bool
asked_take(struct pr *p, int64_t id)
{
	for (size_t i = 0; i < p->nasked; i++) {
		if (p->asked[i] == id) {
			p->asked[i] = p->asked[--p->nasked];
			return true;
		}
	}
	return false;
}

/* trigger_take - what `postern popretrieval run` asked for: it leaves
 * empty files pr/run.all or pr/run.<id> (names, not contents: the CLI may
 * run as another user). The ids go to p->asked (every enabled account of
 * v for run.all) until their retrieval starts. */
static void
trigger_take(struct pr *p, const struct account *v, size_t n)
{
	char *dir = xasprintf("%s/pr", p->qroot);
	DIR *d = opendir(dir);
	struct dirent *de;

	if (d != NULL) {
		while ((de = readdir(d)) != NULL) {
			long long id;
			if (strncmp(de->d_name, "run.", 4) != 0)
				continue;
			if (strcmp(de->d_name + 4, "all") == 0) {
				for (size_t i = 0; i < n; i++)
					asked_add(p, v[i].id);
			} else if (parse_long(de->d_name + 4, 1, INT64_MAX / 2, &id) == 0) {
				asked_add(p, id);
			} else {
				continue;
			}
			char *f = xasprintf("%s/%s", dir, de->d_name);
			unlink(f);
			free(f);
		}
		closedir(d);
	}
	free(dir);
}

/* fetcher_main - the retrieval process of one account: its own database
 * connection (none crosses a fork), default signals (a SIGTERM kills it
 * at once; the protocol makes that safe), dies with the main process */
static void
fetcher_main(struct pr *p, struct account *a, pid_t parent, int wfd)
{
	const char *err = NULL;
	char out[64];

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(0);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGHUP, SIG_IGN);
	/* the inherited connection is left alone, never closed or used */
	if (db_open(p->svc->root, false, &p->svc->db, &err) < 0) {
		log_warnx("account %lld: %s", (long long)a->id, err);
		_exit(1);
	}
	unsigned long before = p->fetched;
	run_account(p, a);
	snprintf(out, sizeof(out), "fetched %lu\n", p->fetched - before);
	(void)write_full(wfd, out, strlen(out));
	db_close(&p->svc->db);
	_exit(0);
}

static void
fetcher_free(struct fetcher *f)
{
	struct pr *p = f->p;
	for (size_t i = 0; i < p->nf; i++) {
		if (p->f[i] == f) {
			p->f[i] = p->f[--p->nf];
			break;
		}
	}
	if (f->ev != NULL)
		event_free(f->ev);
	if (f->limit != NULL)
		event_free(f->limit);
	if (f->fd >= 0)
		close(f->fd);
	free(f);
}

/* fetcher_reaped - record what became of a retrieval that did not end by
 * itself (killed, crashed) */
static void
fetcher_reaped(struct fetcher *f, int status)
{
	struct pr *p = f->p;
	const char *err = NULL;
	char why[200];
	unsigned long n = 0;

	if (sscanf(f->out, "fetched %lu", &n) == 1)
		p->fetched += n;
	if (!f->killed && WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return;
	if (f->killed)
		snprintf(why, sizeof(why), "error: stopped after popretr.max_run_time "
		    "(the server is too slow or never ends its replies)");
	else if (WIFSIGNALED(status))
		snprintf(why, sizeof(why), "error: the retrieval process died "
		    "(signal %d)", WTERMSIG(status));
	else
		snprintf(why, sizeof(why), "error: the retrieval process failed "
		    "(exit %d)", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	log_warnx("account %lld: %s", (long long)f->account, why);
	/* what it had staged is handed on now, not at the account's next run */
	struct prstore st;
	if (prstore_load(p->statedir, f->account, &st, &err) == 0)
		prstore_stage_recover(p->staged, p->inbound, &st);
	else
		log_warnx("account %lld: %s", (long long)f->account, err);
	prstore_free(&st);
	if (adm_pop_status(p->svc->db, f->account, (int64_t)time(NULL), why,
	    &err) < 0)
		log_warnx("account %lld: cannot record the status: %s",
		    (long long)f->account, err);
}

/* on_fetcher_read - its report, or EOF: it is gone */
static void
on_fetcher_read(evutil_socket_t fd, short what, void *arg)
{
	struct fetcher *f = arg;
	char b[64];
	(void)what;

	ssize_t n = read(fd, b, sizeof(b));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n > 0) {
		size_t k = (size_t)n;
		if (k > sizeof(f->out) - 1 - f->outlen)
			k = sizeof(f->out) - 1 - f->outlen;
		memcpy(f->out + f->outlen, b, k);
		f->outlen += k;
		f->out[f->outlen] = 0;
		return;
	}
	int status = 0;
	while (waitpid(f->pid, &status, 0) < 0 && errno == EINTR)
		;
	fetcher_reaped(f, status);
	fetcher_free(f);
}

/* on_fetcher_limit - popretr.max_run_time passed: kill it (safe at any
 * point); its EOF follows */
static void
on_fetcher_limit(evutil_socket_t fd, short what, void *arg)
{
	struct fetcher *f = arg;
	(void)fd;
	(void)what;
	log_warnx("account %lld: retrieval still running after "
	    "popretr.max_run_time: killed", (long long)f->account);
	f->killed = true;
	kill(f->pid, SIGKILL);
}

/* fetcher_start - fork the retrieval of account a */
static void
fetcher_start(struct pr *p, struct account *a, int max_run)
{
	int pfd[2];

	if (pipe2(pfd, O_CLOEXEC) < 0) {
		log_warn("account %lld: pipe", (long long)a->id);
		return;
	}
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		log_warn("account %lld: fork", (long long)a->id);
		close(pfd[0]);
		close(pfd[1]);
		return;
	}
	if (pid == 0) {
		close(pfd[0]);
		for (size_t i = 0; i < p->nf; i++)
			close(p->f[i]->fd);   /* only its own pipe */
		fetcher_main(p, a, parent, pfd[1]);
	}
	close(pfd[1]);
	struct fetcher *f = xcalloc(1, sizeof(*f));
	f->p = p;
	f->pid = pid;
	f->account = a->id;
	f->fd = pfd[0];
	f->ev = event_new(p->svc->base, f->fd, EV_READ | EV_PERSIST,
	    on_fetcher_read, f);
	event_add(f->ev, NULL);
	f->limit = evtimer_new(p->svc->base, on_fetcher_limit, f);
	struct timeval tv = { max_run, 0 };
	evtimer_add(f->limit, &tv);
	p->f = xreallocarray(p->f, p->nf + 1, sizeof(*p->f));
	p->f[p->nf++] = f;
	p->runs++;
	log_debug("account %lld: retrieval process %ld", (long long)a->id,
	    (long)pid);
}

static bool
fetcher_running(const struct pr *p, int64_t account)
{
	for (size_t i = 0; i < p->nf; i++)
		if (p->f[i]->account == account)
			return true;
	return false;
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct pr *p = arg;
	struct account *v;
	size_t n;
	char note[200];
	(void)fd;
	(void)what;

	if (p->svc->stopping)
		return;
	if (!p->recovered) {
		recover_all(p);
		p->recovered = true;
	}
	int64_t interval = settings_current(p->svc->db)->popretr_interval;
	size_t slots = (size_t)settings_current(p->svc->db)->popretr_workers;
	int max_run = (int)settings_current(p->svc->db)->popretr_max_run_time;
	p->timeout = (int)settings_current(p->svc->db)->popretr_timeout;
	time_t now = time(NULL);
	if (accounts_load(p, &v, &n) == 0) {
		trigger_take(p, v, n);
		/* a run asked for an account that is not enabled is dropped */
		for (size_t k = 0; k < p->nasked; k++) {
			bool known = false;
			for (size_t i = 0; i < n && !known; i++)
				known = v[i].id == p->asked[k];
			if (!known)
				p->asked[k--] = p->asked[--p->nasked];
		}
		for (size_t i = 0; i < n; i++) {
			if (p->nf < slots && !fetcher_running(p, v[i].id) &&
			    (now - v[i].last_run >= interval ||
			    asked_take(p, v[i].id)))
				fetcher_start(p, &v[i], max_run);
			account_free(&v[i]);
		}
		free(v);
	}
	snprintf(note, sizeof(note), "%lu runs, %lu messages fetched, %zu "
	    "running", p->runs, p->fetched, p->nf);
	service_set_state(p->svc, "running", note);
}

static struct pr the_pr;

static int
pr_init(struct service *svc)
{
	struct pr *p = &the_pr;

	p->svc = svc;
	svc->ctx = p;
	p->qroot = settings_queue_path(svc->db);
	p->inbound = queue_path(p->qroot, "pr", QUEUE_INBOUND);
	p->staged = xasprintf("%s/pr/fetched", p->qroot);
	p->statedir = xasprintf("%s/pr/state", p->qroot);
	p->timeout = 60;
	if (queue_ensure(p->inbound) < 0 || queue_ensure(p->staged) < 0 ||
	    queue_recover(p->staged) < 0 || mkdir_p(p->statedir, 0770) < 0) {
		log_warn("cannot prepare %s", p->staged);
		return -1;
	}
	p->timer = event_new(svc->base, -1, EV_PERSIST, on_timer, p);
	struct timeval tv = { PR_TICK, 0 };
	event_add(p->timer, &tv);
	log_info("POP retrieval: every popretr.interval, at once on %s/pr/run.*",
	    p->qroot);
	return 0;
}

/* pr_shutdown - stop every retrieval now: SIGTERM, SIGKILL after
 * PR_STOP_GRACE_MS (killing one is safe at any point) */
static void
pr_shutdown(struct service *svc)
{
	struct pr *p = svc->ctx;
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->nf; i++)
		kill(p->f[i]->pid, SIGTERM);
	for (int t = 0; p->nf > 0; t += 20) {
		for (size_t i = 0; i < p->nf; i++) {
			struct fetcher *f = p->f[i];
			int status;
			if (t >= PR_STOP_GRACE_MS)
				kill(f->pid, SIGKILL);
			pid_t w = waitpid(f->pid, &status, t >= PR_STOP_GRACE_MS ? 0 :
			    WNOHANG);
			if (w == f->pid || (w < 0 && errno == ECHILD)) {
				log_info("account %lld: retrieval stopped",
				    (long long)f->account);
				fetcher_free(f);
				break;
			}
		}
		if (t < PR_STOP_GRACE_MS)
			usleep(20000);
	}
	free(p->f);
	free(p->asked);
	if (p->timer != NULL)
		event_free(p->timer);
	free(p->qroot);
	free(p->inbound);
	free(p->staged);
	free(p->statedir);
	memset(p, 0, sizeof(*p));
	svc->ctx = NULL;
}

int
main(int argc, char **argv)
{
	static const struct service_def def = {
		.name = "popretr",
		.init = pr_init,
		.shutdown = pr_shutdown,
	};
	return service_main(argc, argv, &def);
}
