/* envcopy - build envelopes from others (split, forward) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "directory.h"
#include "envcopy.h"
#include "netaddr.h"
#include "settings.h"
#include "xalloc.h"

/* env_copy_meta - all fields but id and recipients */
void
env_copy_meta(struct queue_env *dst, const struct queue_env *src)
{
	dst->arrival = src->arrival;
	queue_env_set(&dst->sender, src->sender);
	queue_env_set(&dst->auth_user, src->auth_user);
	queue_env_set(&dst->origin, src->origin);
	queue_env_set(&dst->client_addr, src->client_addr);
	queue_env_set(&dst->client_helo, src->client_helo);
	dst->relay_net = src->relay_net;
	queue_env_set(&dst->body_type, src->body_type);
	dst->smtputf8 = src->smtputf8;
	queue_env_set(&dst->envid, src->envid);
	queue_env_set(&dst->ret, src->ret);
	dst->hops = src->hops;
	dst->bulk = src->bulk;
	dst->delay_notified = src->delay_notified;
}

/* env_copy_rcpt - append a copy of one recipient */
struct queue_rcpt *
env_copy_rcpt(struct queue_env *dst, const struct queue_rcpt *r)
{
	struct queue_rcpt *n = queue_env_add_rcpt(dst, r->address, r->orcpt,
	    r->notify);
	n->status = r->status;
	n->attempts = r->attempts;
	n->next_attempt = r->next_attempt;
	queue_env_set(&n->last_error, r->last_error);
	queue_env_set(&n->extra, r->extra);
	return n;
}

/* env_split_id - the id of the n-th part of a split item */
char *
env_split_id(char *out, const char *id, unsigned n)
{
	int len = snprintf(out, QUEUE_ID_MAX + 1, "%s.%u", id, n);
	if (len < 0 || len > QUEUE_ID_MAX)
		queue_new_id(out);
	return out;
}

/* env_from_here - authenticated, local or from a relay network */
bool
env_from_here(struct db *db, const struct queue_env *env)
{
	if (env->auth_user != NULL && env->auth_user[0] != '\0')
		return true;
	if (env->client_addr == NULL)
		return false;
	if (strcmp(env->client_addr, "local") == 0)
		return true;
	if (env->relay_net >= 0)
		return env->relay_net == 1;   /* smtpd's verdict */
	/* not recorded (an envelope queued before version 3) */
	const char *nets = settings_current(db)->smtp_relay_networks;
	bool ok = netaddr_in_list(env->client_addr, nets);
	return ok;
}

/* env_origin_of_address - the post office hosting the address's domain */
void
env_origin_of_address(struct db *db, struct queue_env *env,
		      const char *address)
{
	const char *at = address != NULL ? strrchr(address, '@') : NULL;
	const char *err = NULL;
	struct dir_domain d;

	queue_env_set(&env->origin, NULL);
	if (at != NULL && dir_domain_get(db, at + 1, &d, &err) == 1)
		queue_env_set(&env->origin, d.postoffice);
}

/* env_origin - the post office an item from here originated in */
int
env_origin(struct db *db, const struct queue_env *env, int64_t *po_r,
	   const char **why_r)
{
	const char *err = NULL;

	*po_r = 0;
	if (env->origin != NULL) {
		struct dir_postoffice po;
		if (dir_postoffice_get(db, env->origin, &po, &err) != 1) {
			*why_r = "its post office of origin is gone";
			return -1;
		}
		*po_r = po.id;
		return 1;
	}
	if (env->auth_user != NULL && env->auth_user[0] != '\0') {
		struct dir_mailbox mb;
		if (dir_login_lookup(db, env->auth_user, &mb, &err) != 1) {
			*why_r = "its submitter is gone";
			return -1;
		}
		*po_r = mb.postoffice_id;
		return 1;
	}
	if (env->client_addr != NULL && strcmp(env->client_addr, "local") != 0 &&
	    env_from_here(db, env))
		return 0;
	*why_r = env->client_addr != NULL &&
	    strcmp(env->client_addr, "local") == 0 ?
	    "made here without a post office of origin" :
	    "not from here";
	return -1;
}
