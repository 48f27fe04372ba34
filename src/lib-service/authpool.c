/* authpool - dir_authenticate on a workpool's threads (see authpool.h) */
#include <stdlib.h>
#include <string.h>

#include "authpool.h"
#include "db.h"
#include "workpool.h"
#include "xalloc.h"

struct auth_pool {
	struct workpool *wp;
	char *root;
	bool freeing;               /* auth_pool_free: no more callbacks */
};

struct auth_req {
	struct work work;           /* first: the pool's job */
	struct auth_pool *pool;
	char *login;
	char *password;
	char *protocol, *addr;      /* the dir_client, or NULL */
	auth_done_cb *cb;
	void *ctx;
	bool cancelled;             /* written and read on the loop only */
	enum dir_auth_result result;
	struct dir_mailbox mb;
	char *error;
};

/* each worker thread's own connection to the config store, opened at its
 * first check and closed as the thread ends */
static __thread struct db *thread_db;

static void
thread_end(void)
{
	if (thread_db != NULL)
		db_close(&thread_db);
}

static void
req_free(struct auth_req *r)
{
	free(r->login);
	free(r->protocol);
	free(r->addr);
	if (r->password != NULL) {
		explicit_bzero(r->password, strlen(r->password));
		free(r->password);
	}
	free(r->error);
	free(r);
}

/* req_run - one check (worker thread) */
static void
req_run(struct work *w)
{
	struct auth_req *r = (struct auth_req *)w;
	const char *err = NULL;

	/* opened at the first check, and again after a failed open (a
	 * PostgreSQL store that was down comes back) */
	if (thread_db == NULL) {
		if (db_open(r->pool->root, false, &thread_db, &err) < 0)
			thread_db = NULL;
	}
	if (thread_db == NULL) {
		r->result = DIR_AUTH_ERROR;
		r->error = xasprintf("config store unavailable: %s",
		    err != NULL ? err : "?");
	} else {
		err = NULL;
		struct dir_client c = { r->protocol, r->addr };
		r->result = dir_authenticate_client(thread_db, r->login,
		    r->password, r->protocol != NULL ? &c : NULL, &r->mb, &err);
		if (r->result == DIR_AUTH_ERROR)
			r->error = xstrdup(err ? err : "error");
	}
	explicit_bzero(r->password, strlen(r->password));
}

/* req_done - on the loop: the callback, unless the session went away,
 * the pool is stopping or the check never ran */
static void
req_done(struct work *w)
{
	struct auth_req *r = (struct auth_req *)w;

	if (!r->cancelled && !r->pool->freeing && !w->skipped)
		r->cb(r->ctx, r->result, &r->mb, r->error);
	req_free(r);
}

struct auth_pool *
auth_pool_create(struct event_base *base, const char *root, int threads,
		 const char **error_r)
{
	struct auth_pool *p = xcalloc(1, sizeof(*p));

	p->root = xstrdup(root);
	p->wp = workpool_create(base, threads, thread_end, error_r);
	if (p->wp == NULL) {
		free(p->root);
		free(p);
		return NULL;
	}
	return p;
}

struct auth_req *
auth_pool_submit(struct auth_pool *p, const char *login, const char *password,
		 auth_done_cb *cb, void *ctx)
{
	return auth_pool_submit_client(p, login, password, NULL, cb, ctx);
}

struct auth_req *
auth_pool_submit_client(struct auth_pool *p, const char *login,
			const char *password, const struct dir_client *client,
			auth_done_cb *cb, void *ctx)
{
	struct auth_req *r = xcalloc(1, sizeof(*r));

	r->work.run = req_run;
	r->work.done = req_done;
	r->pool = p;
	r->login = xstrdup(login);
	r->password = xstrdup(password);
	if (client != NULL) {
		r->protocol = xstrdup(client->protocol ? client->protocol : "");
		r->addr = client->addr ? xstrdup(client->addr) : NULL;
	}
	r->cb = cb;
	r->ctx = ctx;
	workpool_submit(p->wp, &r->work);
	return r;
}

void
auth_req_cancel(struct auth_pool *p, struct auth_req *r)
{
	(void)p;
	r->cancelled = true;   /* freed by req_done */
}

void
auth_pool_free(struct auth_pool **pp)
{
	struct auth_pool *p = *pp;

	if (p == NULL)
		return;
	p->freeing = true;
	workpool_free(&p->wp, false);   /* each job's req_done frees it */
	free(p->root);
	free(p);
	*pp = NULL;
}
