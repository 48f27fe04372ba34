/* pop3-auth - dir_authenticate on worker threads */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db.h"
#include "pop3-auth.h"
#include "strutil.h"
#include "xalloc.h"

struct auth_req {
	struct auth_req *next;
	char *login;
	char *password;
	auth_done_cb *cb;
	void *ctx;
	bool cancelled;
	enum dir_auth_result result;
	struct dir_mailbox mb;
	char *error;
};

struct auth_pool {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct auth_req *todo, **todo_tail;
	struct auth_req *done;
	bool stopping;
	int pipe[2];
	struct event *ev;
	pthread_t *threads;
	int nthreads;
	char *root;
};

static void
req_free(struct auth_req *r)
{
	free(r->login);
	if (r->password != NULL) {
		explicit_bzero(r->password, strlen(r->password));
		free(r->password);
	}
	free(r->error);
	free(r);
}

/* worker - take requests, check them, hand them back */
static void *
worker(void *arg)
{
	struct auth_pool *p = arg;
	struct db *db = NULL;
	const char *err;

	if (db_open(p->root, false, &db, &err) < 0)
		db = NULL;
	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (p->todo == NULL && !p->stopping)
			pthread_cond_wait(&p->wake, &p->lock);
		if (p->stopping)
			break;
		struct auth_req *r = p->todo;
		p->todo = r->next;
		if (p->todo == NULL)
			p->todo_tail = &p->todo;
		pthread_mutex_unlock(&p->lock);

		err = NULL;
		if (db == NULL) {
			r->result = DIR_AUTH_ERROR;
			r->error = xstrdup("config store unavailable");
		} else {
			r->result = dir_authenticate(db, r->login, r->password,
			    &r->mb, &err);
			if (r->result == DIR_AUTH_ERROR)
				r->error = xstrdup(err ? err : "error");
		}
		explicit_bzero(r->password, strlen(r->password));

		pthread_mutex_lock(&p->lock);
		r->next = p->done;
		p->done = r;
		pthread_mutex_unlock(&p->lock);
		(void)!write(p->pipe[1], "x", 1);
		pthread_mutex_lock(&p->lock);
	}
	pthread_mutex_unlock(&p->lock);
	if (db != NULL)
		db_close(&db);
	return NULL;
}

/* on_done - in the loop: run the callbacks of finished requests */
static void
on_done(evutil_socket_t fd, short what, void *arg)
{
	struct auth_pool *p = arg;
	char b[64];
	struct auth_req *list, *rev = NULL;

	(void)what;
	while (read(fd, b, sizeof(b)) > 0)
		;
	pthread_mutex_lock(&p->lock);
	list = p->done;
	p->done = NULL;
	pthread_mutex_unlock(&p->lock);
	while (list != NULL) { /* oldest first */
		struct auth_req *n = list->next;
		list->next = rev;
		rev = list;
		list = n;
	}
	while (rev != NULL) {
		struct auth_req *n = rev->next;
		/* cancelled is only written by the loop thread */
		if (!rev->cancelled)
			rev->cb(rev->ctx, rev->result, &rev->mb, rev->error);
		req_free(rev);
		rev = n;
	}
}

struct auth_pool *
auth_pool_create(struct event_base *base, const char *root, int threads,
		 const char **error_r)
{
	struct auth_pool *p = xcalloc(1, sizeof(*p));

	if (pipe2(p->pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
		*error_r = strerror(errno);
		free(p);
		return NULL;
	}
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->wake, NULL);
	p->todo_tail = &p->todo;
	p->root = xstrdup(root);
	p->ev = event_new(base, p->pipe[0], EV_READ | EV_PERSIST, on_done, p);
	event_add(p->ev, NULL);
	p->threads = xcalloc((size_t)threads, sizeof(pthread_t));
	for (int i = 0; i < threads; i++) {
		if (pthread_create(&p->threads[i], NULL, worker, p) != 0)
			break;
		p->nthreads++;
	}
	if (p->nthreads == 0) {
		*error_r = "cannot start authentication threads";
		auth_pool_free(&p);
		return NULL;
	}
	return p;
}

struct auth_req *
auth_pool_submit(struct auth_pool *p, const char *login, const char *password,
		 auth_done_cb *cb, void *ctx)
{
	struct auth_req *r = xcalloc(1, sizeof(*r));

	r->login = xstrdup(login);
	r->password = xstrdup(password);
	r->cb = cb;
	r->ctx = ctx;
	pthread_mutex_lock(&p->lock);
	*p->todo_tail = r;
	p->todo_tail = &r->next;
	pthread_cond_signal(&p->wake);
	pthread_mutex_unlock(&p->lock);
	return r;
}

void
auth_req_cancel(struct auth_pool *p, struct auth_req *r)
{
	(void)p;
	r->cancelled = true; /* freed by on_done, or by auth_pool_free */
}

void
auth_pool_free(struct auth_pool **pp)
{
	struct auth_pool *p = *pp;

	if (p == NULL)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	pthread_cond_broadcast(&p->wake);
	pthread_mutex_unlock(&p->lock);
	for (int i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	for (struct auth_req *r = p->todo, *n; r != NULL; r = n) {
		n = r->next;
		req_free(r);
	}
	for (struct auth_req *r = p->done, *n; r != NULL; r = n) {
		n = r->next;
		req_free(r);
	}
	if (p->ev != NULL)
		event_free(p->ev);
	close(p->pipe[0]);
	close(p->pipe[1]);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->wake);
	free(p->threads);
	free(p->root);
	free(p);
	*pp = NULL;
}
