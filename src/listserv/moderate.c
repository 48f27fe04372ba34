/* moderate - posts held for the moderator: the request, the decision
 * (by mail or `postern list approve|reject`), expiry (listserv.h) */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "admin.h"
#include "fsutil.h"
#include "listmsg.h"
#include "lists.h"
#include "listserv.h"
#include "log.h"
#include "posting.h"
#include "settings.h"
#include "strutil.h"
#include "xalloc.h"

/* ls_hold - keep a post for the moderator and ask the owner */
int
ls_hold(struct ls *s, struct queue_item *item, const struct list_row *l,
	const struct buf *msg, const struct dir_strings *from, const char *base)
{
	char tok[LIST_TOKEN_LEN + 1];
	const char *err = NULL;

	ls_token_new(tok);
	char *mpath = xasprintf("%s/%s.msg", s->held, tok);
	char *ipath = xasprintf("%s/%s.info", s->held, tok);
	char *subject = listmsg_header_value(msg->data, msg->len, "Subject");
	struct list_held h = {
		.list = l->address, .sender = item->env.sender,
		.queue_id = (char *)base, .held = time(NULL),
		.from = from->n > 0 ? from->v[0] : (char *)"",
		.subject = subject != NULL ? subject : (char *)"",
	};
	char *info = list_held_format(&h);
	int r = -1;
	if (file_write_atomic(mpath, msg->data, msg->len, 0640) < 0)
		err = "message";
	else if (file_write_atomic(ipath, info, strlen(info), 0640) < 0)
		err = "record";
	else
		r = 0;
	if (r < 0) {
		log_warn("%s: %s: cannot hold the post (%s)", item->id, l->address, err);
		unlink(mpath);
		goto out;
	}
	log_info("%s: %s: held for moderation, token %s", item->id, l->address, tok);
	s->held_n++;
	if (*l->owner == '\0') {
		log_warnx("%s: %s: moderated list without an owner: use postern "
		    "list approve", item->id, l->address);
		goto out;
	}
	char *approve_tag = xasprintf("approve-%s", tok);
	char *reject_tag = xasprintf("reject-%s", tok);
	char *approve = ls_aux(l, "-request", approve_tag);
	char *reject = ls_aux(l, "-request", reject_tag);
	char *subj = xasprintf("%s post from %s awaits approval [%s]", l->address,
	    h.from, tok);
	char *body = xasprintf(
	    "A post to the moderated list %s is held for your approval.\n\n"
	    "  From:    %s\n  Sender:  %s\n  Subject: %s\n  Token:   %s\n\n"
	    "To approve it, reply to this message (it goes to\n  %s)\n"
	    "To reject it, send a message to\n  %s\n"
	    "or run: postern list approve|reject %s %s\n",
	    l->address, h.from, *h.sender ? h.sender : "<>", h.subject, tok,
	    approve, reject, l->address, tok);
	/* the held post is durable: a lost request leaves it for the CLI */
	ls_notice_send(s, l, l->owner, subj, approve, body);
	free(body);
	free(subj);
	free(approve);
	free(reject);
	free(approve_tag);
	free(reject_tag);
out:
	free(info);
	free(subject);
	free(mpath);
	free(ipath);
	return r;
}

/* ls_decide - act on the moderator's decision about held post tok */
int
ls_decide(struct ls *s, const struct list_row *lin, const char *tok,
	  bool approve, const char *by)
{
	struct list_held h;
	struct list_row lbuf, *l = NULL;
	const char *err = NULL;
	int r = 0;

	if (list_held_read(s->held, tok, &h) != 1) {
		log_info("moderation %s by %s: no such held post", tok, by);
		return 0;
	}
	if (lin != NULL) {
		if (strcasecmp(h.list, lin->address) != 0) {
			log_info("moderation %s by %s: held for another list", tok, by);
			list_held_free(&h);
			return 0;
		}
		l = (struct list_row *)lin;
	} else {
		int f = ls_list_find(s->svc->db, h.list, &lbuf, &err);
		if (f < 0) {
			list_held_free(&h);
			return -1;
		}
		if (f > 0)
			l = &lbuf;
	}
	char *mpath = xasprintf("%s/%s.msg", s->held, tok);
	if (approve && l != NULL) {
		struct buf msg;
		if (ls_msg_read(mpath, &msg) < 0) {
			log_warn("moderation %s: cannot read the held post", tok);
			r = -1;
		} else {
			r = ls_post_copies(s, l, msg.data, msg.len, h.queue_id);
		}
		buf_free(&msg);
	} else if (l != NULL && *h.sender != '\0') {
		char *subj = xasprintf("Your post to %s was rejected", l->address);
		char *body = xasprintf("The moderator of %s rejected your post\n"
		    "  Subject: %s\n", l->address, h.subject);
		ls_notice_send(s, l, h.sender, subj, NULL, body);
		free(subj);
		free(body);
	}
	if (r == 0) {
		static const char *const ext[] = { "info", "msg", "approve", "reject" };
		log_info("%s: %s: held post %s %s by %s", h.queue_id, h.list, tok,
		    approve ? "approved" : "rejected", by);
		for (size_t i = 0; i < 4; i++) {
			char *p = xasprintf("%s/%s.%s", s->held, tok, ext[i]);
			unlink(p);
			free(p);
		}
		fsync_dir(s->held);
		if (approve)
			posting_remove(s->posting, h.queue_id);
	}
	free(mpath);
	if (l == &lbuf)
		ls_list_row_free(&lbuf);
	list_held_free(&h);
	return r;
}

/* ls_held_scan - act on the decisions the CLI left in held/ */
void
ls_held_scan(struct ls *s)
{
	DIR *d = opendir(s->held);
	struct dirent *de;
	char **pending = NULL;
	size_t n = 0;

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		const char *dot = strchr(de->d_name, '.');
		if (dot == NULL || dot - de->d_name != LIST_TOKEN_LEN)
			continue;
		if (strcmp(dot, ".approve") == 0 || strcmp(dot, ".reject") == 0) {
			pending = xreallocarray(pending, n + 1, sizeof(*pending));
			pending[n++] = xstrdup(de->d_name);
		}
	}
	closedir(d);
	for (size_t i = 0; i < n; i++) {
		char tok[LIST_TOKEN_LEN + 1];
		memcpy(tok, pending[i], LIST_TOKEN_LEN);
		tok[LIST_TOKEN_LEN] = '\0';
		bool approve = strcmp(pending[i] + LIST_TOKEN_LEN, ".approve") == 0;
		char *info = xasprintf("%s/%s.info", s->held, tok);
		if (access(info, F_OK) != 0) {
			/* decided already (both files were left): drop it */
			char *p = xasprintf("%s/%s", s->held, pending[i]);
			unlink(p);
			free(p);
		} else {
			ls_decide(s, NULL, tok, approve, "postern list");
		}
		free(info);
		free(pending[i]);
	}
	free(pending);
}

/* ls_held_expire - held posts not decided within list.held_expire are
 * discarded, and their posters told (never the null sender) */
void
ls_held_expire(struct ls *s)
{
	time_t age = (time_t)settings_current(s->svc->db)->list_held_expire;
	DIR *d;
	struct dirent *de;
	char **toks = NULL;
	size_t n = 0;
	time_t now = time(NULL);

	if (age <= 0 || (d = opendir(s->held)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);
		if (l != LIST_TOKEN_LEN + 5 || strcmp(de->d_name + LIST_TOKEN_LEN,
		    ".info") != 0)
			continue;
		toks = xreallocarray(toks, n + 1, sizeof(*toks));
		toks[n++] = xstrndup(de->d_name, LIST_TOKEN_LEN);
	}
	closedir(d);
	for (size_t i = 0; i < n; i++) {
		struct list_held h;
		struct list_row l;
		const char *err = NULL;
		char *dec[2] = { xasprintf("%s/%s.approve", s->held, toks[i]),
		    xasprintf("%s/%s.reject", s->held, toks[i]) };
		bool decided = access(dec[0], F_OK) == 0 || access(dec[1], F_OK) == 0;
		if (!decided && list_held_read(s->held, toks[i], &h) == 1 &&
		    now - h.held > age) {
			int f = ls_list_find(s->svc->db, h.list, &l, &err);
			if (f > 0 && *h.sender != '\0') {
				char *subj = xasprintf("Your post to %s expired", h.list);
				char *body = xasprintf("Your post to the moderated list %s "
				    "was not approved within\n%lld days and has been "
				    "discarded.\n  Subject: %s\n", h.list,
				    (long long)(age / 86400), h.subject);
				ls_notice_send(s, &l, h.sender, subj, NULL, body);
				free(subj);
				free(body);
			}
			if (f > 0)
				ls_list_row_free(&l);
			if (f >= 0) {
				/* the record first: without it the message is junk */
				char *ip = xasprintf("%s/%s.info", s->held, toks[i]);
				char *mp = xasprintf("%s/%s.msg", s->held, toks[i]);
				unlink(ip);
				unlink(mp);
				fsync_dir(s->held);
				free(ip);
				free(mp);
				log_info("%s: %s: held post %s expired undecided: discarded%s",
				    h.queue_id, h.list, toks[i], *h.sender ?
				    ", the poster told" : "");
			}
			list_held_free(&h);
		} else if (!decided) {
			list_held_free(&h);
		}
		free(dec[0]);
		free(dec[1]);
		free(toks[i]);
	}
	free(toks);
}
