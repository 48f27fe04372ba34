/* subscribe - subscription requests by mail, their confirmation, and
 * unsubscription through List-Unsubscribe (listserv.h, manual 5.7) */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "admin.h"
#include "fsutil.h"
#include "listmsg.h"
#include "lists.h"
#include "listserv.h"
#include "log.h"
#include "settings.h"
#include "strutil.h"
#include "xalloc.h"

/* pending_write - a subscription change waiting for its confirmation */
static int
pending_write(struct ls *s, const struct list_row *l, const char *kind,
	      const char *address, char *tok)
{
	ls_token_new(tok);
	char *path = xasprintf("%s/%s", s->pending, tok);
	char *data = xasprintf("v1\n%s\n%s\n%s\n%lld\n", kind, l->address,
	    address, (long long)time(NULL));
	int r = file_write_atomic(path, data, strlen(data), 0640);
	if (r < 0)
		log_warn("%s: cannot record a pending request", l->address);
	free(path);
	free(data);
	return r;
}

/* sent_marker - pending/r<20 hex>: its time is when the last
 * confirmation of this kind for address on list l was sent (new string) */
static char *
sent_marker(struct ls *s, const struct list_row *l, const char *kind,
	    const char *address)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char hex[LIST_TOKEN_LEN + 1];
	char *key = xasprintf("%lld\n%s\n%s", (long long)l->id, kind, address);
	str_lower(key);
	EVP_Digest(key, strlen(key), md, &mdlen, EVP_sha256(), NULL);
	for (size_t i = 0; i < LIST_TOKEN_LEN / 2; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	free(key);
	return xasprintf("%s/r%s", s->pending, hex);
}

/* ls_request_sub - a subscription (or unsubscription) request of address;
 * at most one confirmation per address, list and kind an hour, so the
 * list cannot be used to flood somebody with confirmations */
int
ls_request_sub(struct ls *s, const struct list_row *l, const char *address,
	       bool sub)
{
	char tok[LIST_TOKEN_LEN + 1];
	struct stat st;

	if (!sub && !ls_is_member(s, l, address)) {
		log_info("%s: unsubscribe request from <%s>, not a member: ignored",
		    l->address, address);
		return 0;
	}
	char *marker = sent_marker(s, l, sub ? "sub" : "unsub", address);
	if (stat(marker, &st) == 0 && time(NULL) - st.st_mtime <
	    LS_CONFIRM_INTERVAL) {
		log_info("%s: %s request from <%s>: a confirmation was sent less "
		    "than an hour ago: not sent again", l->address, sub ?
		    "subscribe" : "unsubscribe", address);
		free(marker);
		return 0;
	}
	if (pending_write(s, l, sub ? "sub" : "unsub", address, tok) < 0) {
		free(marker);
		return -1;
	}
	char *confirm = ls_aux(l, "-confirm", tok);
	char *subj = xasprintf("confirm %s", tok);
	char *body = xasprintf(
	    "We received a request to %s %s %s the list %s.\n\n"
	    "To confirm, reply to this message, or send a message to\n  %s\n\n"
	    "If you did not ask for this, ignore this message: nothing changes.\n",
	    sub ? "subscribe" : "unsubscribe", address, sub ? "to" : "from",
	    l->address, confirm);
	log_info("%s: %s request from <%s>, confirmation %s", l->address,
	    sub ? "subscribe" : "unsubscribe", address, tok);
	int r = ls_notice_send(s, l, address, subj, confirm, body);
	if (r == 0 && file_write_atomic(marker, "", 0, 0640) < 0)
		log_warn("%s: cannot write %s", l->address, marker);
	free(marker);
	free(body);
	free(subj);
	free(confirm);
	return r;
}

/* ls_confirm - apply the pending request with token tok */
int
ls_confirm(struct ls *s, const struct list_row *l, const char *tok)
{
	struct buf b;
	char *lines[5];
	size_t n = 0;
	const char *err = NULL;
	int r;

	if (!list_token_valid(tok)) {
		log_info("%s: confirmation with a malformed token ignored", l->address);
		return 0;
	}
	char *path = xasprintf("%s/%s", s->pending, tok);
	buf_init(&b, LS_PENDING_MAX);
	if (file_read(path, &b) < 0) {
		log_info("%s: confirmation %s: no such request (done or expired)",
		    l->address, tok);
		free(path);
		buf_free(&b);
		return 0;
	}
	for (char *p = b.data; n < 5 && p != NULL && *p != '\0'; n++) {
		char *nl = strchr(p, '\n');
		if (nl == NULL)
			break;
		*nl = '\0';
		lines[n] = p;
		p = nl + 1;
	}
	if (n != 5 || strcmp(lines[0], "v1") != 0 ||
	    strcasecmp(lines[2], l->address) != 0) {
		log_info("%s: confirmation %s is not for this list", l->address, tok);
		free(path);
		buf_free(&b);
		return 0;
	}
	const char *addr = lines[3];
	bool sub = strcmp(lines[1], "sub") == 0;
	if (sub) {
		r = adm_list_member_add(s->svc->db, l->address, addr, NULL, &err);
		if (r == ADM_EXISTS) {
			/* a disabled member comes back */
			r = db_exec(s->svc->db, &err, "UPDATE list_member SET status = "
			    "'active', bounces = 0, bounce_last = 0, probe_sent = 0 WHERE "
			    "list_id = ? AND address = ?",
			    "it", l->id, addr) < 0 ? ADM_FAIL : ADM_OK;
		}
	} else {
		r = adm_list_member_del(s->svc->db, l->address, addr, &err);
		if (r == ADM_NOTFOUND)
			r = ADM_OK;
	}
	if (r != ADM_OK) {
		log_warnx("%s: confirmation %s: %s", l->address, tok, err);
		free(path);
		buf_free(&b);
		return r == ADM_INVALID ? 0 : -1;
	}
	unlink(path);
	log_info("%s: <%s> %s (confirmed %s)", l->address, addr,
	    sub ? "subscribed" : "unsubscribed", tok);
	char *subj = xasprintf("%s %s", sub ? "Welcome to" : "You have left",
	    l->address);
	char *post_addr = l->address;
	char *leave = ls_aux(l, "-unsubscribe", NULL);
	char *body = sub ? xasprintf("You are now a member of %s.\nPost to %s;"
	    " to leave, send a message to %s.\n", l->address, post_addr, leave) :
	    xasprintf("You are no longer a member of %s.\n", l->address);
	ls_notice_send(s, l, addr, subj, NULL, body);
	free(body);
	free(leave);
	free(subj);
	free(path);
	buf_free(&b);
	return 0;
}

/* ls_unsubscribe_key - unsubscribe the member whose key is key */
int
ls_unsubscribe_key(struct ls *s, const struct list_row *l, const char *key)
{
	struct dir_strings mem;
	const char *err;
	int r = 0;

	if (ls_members(s, l, false, &mem) < 0)
		return -1;
	for (size_t i = 0; i < mem.n; i++) {
		if (!list_member_key_ok(s->secret, l->id, mem.v[i], key))
			continue;
		int a = adm_list_member_del(s->svc->db, l->address, mem.v[i], &err);
		if (a != ADM_OK && a != ADM_NOTFOUND) {
			log_warnx("%s: unsubscribe <%s>: %s", l->address, mem.v[i], err);
			r = -1;
			break;
		}
		log_info("%s: <%s> unsubscribed (List-Unsubscribe)", l->address,
		    mem.v[i]);
		char *subj = xasprintf("You have left %s", l->address);
		char *body = xasprintf("You are no longer a member of %s.\n",
		    l->address);
		ls_notice_send(s, l, mem.v[i], subj, NULL, body);
		free(subj);
		free(body);
		dir_strings_free(&mem);
		return 0;
	}
	log_info("%s: unsubscribe key %s matches no member: ignored", l->address, key);
	dir_strings_free(&mem);
	return r;
}

/* subject_command - the command word and its argument in a subject
 * ("Re: confirm 0123..." -> "confirm", "0123...") */
static void
subject_command(const char *subject, char *cmd, size_t csize, char *arg,
		size_t asize)
{
	static const char *const cmds[] = { "subscribe", "unsubscribe", "confirm",
		"approve", "reject", "help" };
	char *copy = xstrdup(subject != NULL ? subject : ""), *save = NULL;
	*cmd = *arg = '\0';
	for (char *w = strtok_r(copy, " \t:[]()<>,", &save); w != NULL;
	    w = strtok_r(NULL, " \t:[]()<>,", &save)) {
		if (*cmd != '\0') {
			snprintf(arg, asize, "%s", w);
			break;
		}
		for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
			if (strcasecmp(w, cmds[i]) == 0)
				snprintf(cmd, csize, "%s", cmds[i]);
	}
	str_lower(arg);
	free(copy);
}

/* ls_auto_submitted - whether msg is automatic (RFC 3834 Auto-Submitted
 * other than "no", or Precedence bulk, junk or list): no commands, so an
 * auto responder answering a confirmation cannot confirm it */
bool
ls_auto_submitted(const struct buf *msg)
{
	char *v = listmsg_header_value(msg->data, msg->len, "Auto-Submitted");
	bool a = v != NULL && strncasecmp(str_trim(v), "no", 2) != 0;
	free(v);
	if (!a && (v = listmsg_header_value(msg->data, msg->len,
	    "Precedence")) != NULL) {
		const char *t = str_trim(v);
		a = strcasecmp(t, "bulk") == 0 || strcasecmp(t, "junk") == 0 ||
		    strcasecmp(t, "list") == 0;
		free(v);
	}
	return a;
}

/* ls_human_request - whether a command mail (to -subscribe, -unsubscribe,
 * -confirm) comes from a person: not the null sender, not automatic.
 * 1 act on it, 0 ignore it (logged), -1 retry later */
int
ls_human_request(const struct queue_item *item, const struct list_row *l)
{
	const char *sender = item->env.sender ? item->env.sender : "";
	struct buf msg;
	int r = 1;

	if (*sender == '\0') {
		log_info("%s: %s: request with the null sender ignored", item->id,
		    l->address);
		return 0;
	}
	if (ls_msg_read(item->msg_path, &msg) < 0) {
		log_warn("%s: cannot read the message", item->id);
		r = -1;
	} else if (ls_auto_submitted(&msg)) {
		log_info("%s: %s: automatic request (Auto-Submitted or Precedence) "
		    "ignored", item->id, l->address);
		r = 0;
	}
	buf_free(&msg);
	return r;
}

/* ls_subject_word - the subject of msg when it is only "subscribe" or
 * "unsubscribe" (a request sent to the list address by mistake,
 * Mailman's administrivia): 1 subscribe, 2 unsubscribe, else 0 */
int
ls_subject_word(const struct buf *msg)
{
	char *v = listmsg_header_value(msg->data, msg->len, "Subject");
	int r = 0;
	if (v != NULL) {
		const char *t = str_trim(v);
		r = strcasecmp(t, "subscribe") == 0 ? 1 :
		    strcasecmp(t, "unsubscribe") == 0 ? 2 : 0;
	}
	free(v);
	return r;
}

/* ls_request - mail to <name>-request[+tag]@ */
int
ls_request(struct ls *s, struct queue_item *item, const struct list_row *l,
	   const char *tag)
{
	const char *sender = item->env.sender ? item->env.sender : "";
	char cmd[16], arg[64];
	struct buf msg;
	struct dir_strings from;
	int r = 0;

	if (ls_msg_read(item->msg_path, &msg) < 0) {
		buf_free(&msg);
		return -1;
	}
	ls_from_addresses(&msg, &from);
	if (*sender == '\0' || ls_auto_submitted(&msg)) {
		log_info("%s: %s: automatic mail to the request address ignored",
		    item->id, l->address);
		goto out;
	}
	if (tag != NULL && (str_has_prefix(tag, "approve-") ||
	    str_has_prefix(tag, "reject-"))) {
		snprintf(cmd, sizeof(cmd), "%s", tag[0] == 'a' ? "approve" : "reject");
		snprintf(arg, sizeof(arg), "%s", strchr(tag, '-') + 1);
	} else {
		char *subject = listmsg_header_value(msg.data, msg.len, "Subject");
		subject_command(subject, cmd, sizeof(cmd), arg, sizeof(arg));
		free(subject);
	}
	if (strcmp(cmd, "approve") == 0 || strcmp(cmd, "reject") == 0) {
		if (!ls_is_owner(l, sender, &from)) {
			log_info("%s: %s: %s from <%s>, not the owner: ignored",
			    item->id, l->address, cmd, sender);
			goto out;
		}
		char *by = xasprintf("<%s> by mail", sender);
		r = ls_decide(s, l, arg, strcmp(cmd, "approve") == 0, by);
		free(by);
	} else if (strcmp(cmd, "subscribe") == 0 || strcmp(cmd, "unsubscribe") == 0) {
		r = ls_request_sub(s, l, sender, strcmp(cmd, "subscribe") == 0);
	} else if (strcmp(cmd, "confirm") == 0) {
		r = ls_confirm(s, l, arg);
	} else {
		char *sub = ls_aux(l, "-subscribe", NULL);
		char *uns = ls_aux(l, "-unsubscribe", NULL);
		char *req = ls_aux(l, "-request", NULL);
		char *body = xasprintf("List %s%s%s\n\nTo subscribe, send a message to "
		    "%s\nTo unsubscribe, send a message to %s\nOr write \"subscribe\" "
		    "or \"unsubscribe\" in the subject of a message to %s.\n"
		    "Each request is confirmed by a reply to the message you get.\n",
		    l->address, *l->description ? ": " : "", l->description, sub, uns,
		    req);
		char *subj = xasprintf("Help for %s", l->address);
		r = ls_notice_send(s, l, sender, subj, NULL, body);
		free(subj);
		free(body);
		free(sub);
		free(uns);
		free(req);
	}
out:
	dir_strings_free(&from);
	buf_free(&msg);
	return r;
}

/* ls_pending_expire - confirmations not answered within list.confirm_expire
 * go (their tokens no longer work) */
void
ls_pending_expire(struct ls *s)
{
	DIR *d = opendir(s->pending);
	struct dirent *de;
	time_t now = time(NULL);
	time_t age = (time_t)settings_current(s->svc->db)->list_confirm_expire;

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		struct stat st;
		bool marker = de->d_name[0] == 'r' &&
		    list_token_valid(de->d_name + 1);
		if (!marker && !list_token_valid(de->d_name))
			continue;
		char *p = xasprintf("%s/%s", s->pending, de->d_name);
		if (stat(p, &st) == 0 && now - st.st_mtime > (marker ?
		    LS_CONFIRM_INTERVAL : age)) {
			if (!marker)
				log_info("confirmation %s expired", de->d_name);
			unlink(p);
		}
		free(p);
	}
	closedir(d);
}
