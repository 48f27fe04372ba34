/* logins - logged-in sessions: per mailbox+address counts and revocation
 * (see logins.h) */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "addrtab.h"
#include "log.h"
#include "logins.h"
#include "netaddr.h"
#include "xalloc.h"

struct service_login {
	struct service_login *prev, *next;
	struct service_login **owner;
	struct service *svc;
	int64_t mailbox_id;
	uint64_t credential;
	char key[ADDRTAB_KEY_MAX];  /* the per mailbox+address counter */
	service_revoke_cb *cb;
	void *ctx;
};

/* one service per process: the process's registrations */
static struct service_login *logins;
static struct event *sweep_ev;
static int64_t seen_version = -1;
static bool unchecked;          /* a login since the last sweep */

/* unlink - out of the list, its count released, its owner told */
static void
unlink_login(struct service_login *l)
{
	if (l->prev != NULL)
		l->prev->next = l->next;
	else
		logins = l->next;
	if (l->next != NULL)
		l->next->prev = l->prev;
	service_count_release(l->svc, l->key);
	*l->owner = NULL;
}

static int
by_mailbox(const void *a, const void *b)
{
	const struct service_login *x = *(struct service_login *const *)a;
	const struct service_login *y = *(struct service_login *const *)b;

	return x->mailbox_id < y->mailbox_id ? -1 :
	    x->mailbox_id > y->mailbox_id;
}

/* sweep - once a second: when the config store changed (or a session
 * logged in meanwhile), one check per mailbox holding sessions */
static void
sweep(evutil_socket_t fd, short what, void *arg)
{
	struct service *svc = arg;
	struct service_login **v, **gone;
	size_t n = 0, ngone = 0;
	int64_t version;
	const char *err;

	if (logins == NULL)
		return;
	if (db_data_version(svc->db, &version, &err) < 0) {
		log_warnx("revocation check: %s", err);
		return;
	}
	if (version == seen_version && !unchecked)
		return;
	seen_version = version;
	unchecked = false;
	for (struct service_login *l = logins; l != NULL; l = l->next)
		n++;
	v = xreallocarray(NULL, n, sizeof(*v));
	gone = xreallocarray(NULL, n, sizeof(*gone));
	n = 0;
	for (struct service_login *l = logins; l != NULL; l = l->next)
		v[n++] = l;
	qsort(v, n, sizeof(*v), by_mailbox);
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j < n && v[j]->mailbox_id == v[i]->mailbox_id)
			j++;
		/* one query per mailbox; sessions of it that logged in with
		 * another credential are rare (a change between two logins):
		 * ask again for those */
		uint64_t asked = v[i]->credential;
		int r = dir_login_current(svc->db, v[i]->mailbox_id, asked, &err);
		for (size_t k = i; k < j; k++) {
			int rk = r;
			if (v[k]->credential != asked)
				rk = dir_login_current(svc->db, v[k]->mailbox_id,
				    v[k]->credential, &err);
			if (rk < 0) {
				log_warnx("revocation check of mailbox %" PRId64
				    ": %s", v[k]->mailbox_id, err);
				/* try again at the next sweep */
				unchecked = true;
			} else if (rk == 0) {
				gone[ngone++] = v[k];
			}
		}
		i = j;
	}
	/* the callbacks last: they close sessions, which may end other
	 * registrations of theirs */
	for (size_t i = 0; i < ngone; i++)
		unlink_login(gone[i]);
	for (size_t i = 0; i < ngone; i++) {
		log_info("mailbox %" PRId64 ": credentials revoked: ending a "
		    "session", gone[i]->mailbox_id);
		gone[i]->cb(gone[i]->ctx);
		free(gone[i]);
	}
	free(v);
	free(gone);
}

bool
service_login_start(struct service *svc, struct service_login **owner,
		    const struct sockaddr *sa, const struct dir_mailbox *mb,
		    int limit, service_revoke_cb *cb, void *ctx)
{
	char addr[64];
	struct service_login *l;

	sockaddr_ntop(sa, addr, sizeof(addr));
	l = xcalloc(1, sizeof(*l));
	snprintf(l->key, sizeof(l->key), "m%" PRId64 "/%s", mb->id, addr);
	if (!service_count_acquire(svc, l->key, limit)) {
		free(l);
		*owner = NULL;
		return false;
	}
	if (sweep_ev == NULL) {
		struct timeval tv = { LOGINS_SWEEP_MS / 1000,
		    (LOGINS_SWEEP_MS % 1000) * 1000 };
		sweep_ev = event_new(svc->base, -1, EV_PERSIST, sweep, svc);
		event_add(sweep_ev, &tv);
	}
	l->owner = owner;
	l->svc = svc;
	l->mailbox_id = mb->id;
	l->credential = mb->credential;
	l->cb = cb;
	l->ctx = ctx;
	l->next = logins;
	if (logins != NULL)
		logins->prev = l;
	logins = l;
	*owner = l;
	/* the password may have changed while it was being checked */
	unchecked = true;
	return true;
}

void
service_login_end(struct service_login **owner)
{
	struct service_login *l = *owner;

	if (l == NULL)
		return;
	unlink_login(l);
	free(l);
}

bool
service_login_valid(struct service_login **owner)
{
	struct service_login *l = *owner;
	const char *err;
	int r;

	if (l == NULL)
		return false;
	r = dir_login_current(l->svc->db, l->mailbox_id, l->credential, &err);
	if (r < 0) {
		log_warnx("revocation check of mailbox %" PRId64 ": %s",
		    l->mailbox_id, err);
		return true;
	}
	if (r > 0)
		return true;
	log_info("mailbox %" PRId64 ": credentials revoked: ending a session",
	    l->mailbox_id);
	service_login_end(owner);
	return false;
}

void
service_logins_end_all(void)
{
	while (logins != NULL)
		service_login_end(logins->owner);
	if (sweep_ev != NULL)
		event_free(sweep_ev);
	sweep_ev = NULL;
	seen_version = -1;
	unchecked = false;
}
