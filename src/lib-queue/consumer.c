/* consumer - the queue consumers' skeleton: pass, watch, timer, worker */
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "consumer.h"
#include "db.h"
#include "log.h"
#include "xalloc.h"
#include "workers.h"

/* consumer_pass - scan, claim, quarantine the corrupt, hand over */
int consumer_pass(struct consumer *c)
{
	char **ids = NULL;
	size_t n = 0, held = 0;

	if (queue_scan(c->qpath, &ids, &n) < 0) {
		log_warnx("%s: scan failed", c->qpath);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		struct queue_item item;
		const char *err = NULL;
		int r;

		if (worker_stop || (c->skip != NULL && c->skip(c->ctx, ids[i]))) {
			free(ids[i]);
			continue;
		}
		memset(&item, 0, sizeof(item));
		r = queue_claim(c->qpath, ids[i], &item, &err);
		if (r < 0) {
			char *reason = xasprintf("corrupt queue item: %s",
						 err ? err : "unreadable");

			log_warnx("%s: %s in %s", ids[i], reason, c->name);
			if ((item.msg_path != NULL || item.env_path != NULL) &&
			    queue_item_badmail(&item, c->qroot, reason, &err) < 0)
				log_warnx("%s: cannot move to bad mail: %s",
					  ids[i], err);
			free(reason);
			if (c->corrupt != NULL)
				c->corrupt(c->ctx, ids[i]);
		} else if (r > 0) {
			c->handle(c->ctx, &item);
			held++;
		}
		queue_item_free(&item);
		free(ids[i]);
		if (c->flush != NULL && held >= (c->batch ? c->batch : 1)) {
			c->flush(c->ctx);
			held = 0;
		}
	}
	free(ids);
	if (c->flush != NULL && held > 0)
		c->flush(c->ctx);
	return 0;
}

static void run_pass(struct consumer *c)
{
	if (c->pass != NULL)
		c->pass(c->ctx);
	else
		consumer_pass(c);
}

static void on_watch(evutil_socket_t fd, short what, void *arg)
{
	(void)what;
	queue_watch_drain(fd);
	run_pass(arg);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct consumer *c = arg;

	(void)fd;
	(void)what;
	if (c->tick != NULL)
		c->tick(c->ctx);
	else
		run_pass(c);
}

static void on_first(evutil_socket_t fd, short what, void *arg)
{
	struct consumer *c = arg;

	if (c->first_tick)
		on_timer(fd, what, arg);
	else
		run_pass(c);
}

/* consumer_start - watch, timer, first pass */
int consumer_start(struct consumer *c, struct event_base *base, int interval)
{
	struct timeval tv = { interval, 0 }, now = { 0, 0 };

	c->watch_ev = NULL;
	c->watch_fd = queue_watch_open(c->qpath);
	if (c->watch_fd >= 0) {
		c->watch_ev = event_new(base, c->watch_fd, EV_READ | EV_PERSIST,
					on_watch, c);
		if (c->watch_ev != NULL)
			event_add(c->watch_ev, NULL);
	} else {
		log_warn("inotify on %s (the %d s scan remains)", c->qpath,
			 interval);
	}
	c->timer_ev = NULL;
	if (interval <= 0)
		return 0;
	c->timer_ev = event_new(base, -1, EV_PERSIST, on_timer, c);
	if (c->timer_ev == NULL) {
		log_warnx("%s: cannot make the scan timer", c->qpath);
		return -1;
	}
	event_add(c->timer_ev, &tv);
	event_base_once(base, -1, EV_TIMEOUT, on_first, c, &now);
	return 0;
}

/* consumer_stop - watch and timer away */
void consumer_stop(struct consumer *c)
{
	if (c->watch_ev != NULL)
		event_free(c->watch_ev);
	c->watch_ev = NULL;
	if (c->watch_fd >= 0)
		close(c->watch_fd);
	c->watch_fd = -1;
	if (c->timer_ev != NULL)
		event_free(c->timer_ev);
	c->timer_ev = NULL;
}

/* consumer_worker_service - the worker's service: its own database */
struct service *
consumer_worker_service(const struct service *svc, pid_t parent)
{
	static struct service wsvc;
	struct db *db = NULL;
	const char *err = NULL;

	worker_setup(parent);
	if (db_open(svc->root, false, &db, &err) < 0) {
		log_warnx("worker: cannot open the config store: %s", err);
		_exit(1);
	}
	wsvc = *svc;
	wsvc.db = db;
	return &wsvc;
}

/* consumer_worker_loop - a worker's own watches and poll loop */
void consumer_worker_loop(struct consumer **cs, size_t n, int interval)
{
	struct pollfd pfd[CONSUMER_MAX];

	if (n > CONSUMER_MAX)
		n = CONSUMER_MAX;
	for (size_t i = 0; i < n; i++) {
		struct consumer *c = cs[i];

		/* the inherited events and inotify descriptor are the
		 * parent's */
		c->watch_ev = c->timer_ev = NULL;
		if (c->watch_fd >= 0)
			close(c->watch_fd);
		c->watch_fd = queue_watch_open(c->qpath);
		pfd[i].fd = c->watch_fd;   /* < 0: poll ignores it */
		pfd[i].events = POLLIN;
		pfd[i].revents = 0;
	}
	while (!worker_stop) {
		int r = poll(pfd, (nfds_t)n, interval * 1000);

		if (worker_hup) {
			worker_hup = 0;
			log_reopen();
		}
		for (size_t i = 0; i < n && !worker_stop; i++) {
			/* a timeout (or an error) scans every queue */
			if (r > 0 && !(pfd[i].revents & POLLIN))
				continue;
			if (r > 0)
				queue_watch_drain(pfd[i].fd);
			run_pass(cs[i]);
		}
	}
}
