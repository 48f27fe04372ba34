/* envcopy - build envelopes from others (split, forward) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "envcopy.h"
#include "netaddr.h"
#include "settings.h"

/* env_copy_meta - all fields but id and recipients */
void
env_copy_meta(struct queue_env *dst, const struct queue_env *src)
{
	dst->arrival = src->arrival;
	queue_env_set(&dst->sender, src->sender);
	queue_env_set(&dst->auth_user, src->auth_user);
	queue_env_set(&dst->client_addr, src->client_addr);
	queue_env_set(&dst->client_helo, src->client_helo);
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
	char *nets = settings_get_str(db, "smtp.relay_networks");
	bool ok = netaddr_in_list(env->client_addr, nets);
	free(nets);
	return ok;
}
