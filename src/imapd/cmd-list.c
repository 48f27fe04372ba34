/* cmd-list - LIST/LSUB (LIST-EXTENDED, SPECIAL-USE, LIST-STATUS),
 * STATUS, NAMESPACE */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap-match.h"
#include "imap-spec.h"
#include "imapd.h"
#include "log.h"
#include "view.h"
#include "xalloc.h"

/* LIST patterns. A folder name is at most STORE_FOLDER_MAX octets, so a
 * longer pattern can only match through its wildcards; 1000 octets of
 * reference + pattern leave room for any name with some wildcards, and
 * keep the matching of a LIST (pattern / 64 word operations per name
 * octet, per folder) small. RFC 5258 clients send a few patterns. */
#define LIST_PATTERN_MAX 1000u   /* octets of reference + one pattern */
#define LIST_PATTERNS_MAX 32u    /* patterns of one LIST */

/* list_patterns_compile - the matchers of a LIST's patterns (reference
 * prepended, UTF-8 turned into modified UTF-7 after ENABLE UTF8=ACCEPT,
 * INBOX case folded); NULL with a text for the BAD reply in err (size
 * errsize) when a limit is passed */
static struct imap_match **
list_patterns_compile(struct session *s, const char *ref,
		      const struct imap_arg *pv, size_t pn, char *err,
		      size_t errsize)
{
	struct imap_match **m;
	struct buf pat;
	size_t rl = strlen(ref);

	if (pn > LIST_PATTERNS_MAX) {
		snprintf(err, errsize, "Too many LIST patterns (%zu, at most %u)",
		    pn, LIST_PATTERNS_MAX);
		return NULL;
	}
	for (size_t p = 0; p < pn; p++) {
		const char *ps = imap_arg_astring(&pv[p]);
		if (ps != NULL && rl + strlen(ps) > LIST_PATTERN_MAX) {
			snprintf(err, errsize, "LIST pattern too long (%zu octets "
			    "with the reference, at most %u)", rl + strlen(ps),
			    LIST_PATTERN_MAX);
			return NULL;
		}
	}
	m = xcalloc(pn + 1, sizeof(*m));
	buf_init(&pat, 0);
	for (size_t p = 0; p < pn; p++) {
		const char *ps = imap_arg_astring(&pv[p]);
		if (ps == NULL)
			continue;   /* a list in a list matches nothing */
		buf_reset(&pat);
		buf_puts(&pat, ref);
		buf_puts(&pat, ps);
		if (s->utf8 && pat.data != NULL) {
			/* a UTF-8 pattern against the stored names */
			struct buf m7;
			buf_init(&m7, 0);
			if (imap_utf8_to_mutf7(pat.data, &m7) == 0) {
				buf_reset(&pat);
				if (m7.len > 0)
					buf_append(&pat, m7.data, m7.len);
			}
			buf_free(&m7);
		}
		if (pat.len >= 5 && strncasecmp(pat.data, "INBOX", 5) == 0 &&
		    (pat.len == 5 || pat.data[5] == '.'))
			memcpy(pat.data, "INBOX", 5);
		m[p] = imap_match_compile(pat.data ? pat.data : "", pat.len, '.');
	}
	buf_free(&pat);
	return m;
}

static void
list_patterns_free(struct imap_match **m, size_t pn)
{
	for (size_t p = 0; p < pn; p++)
		imap_match_free(&m[p]);
	free(m);
}

/* status_items - "(MESSAGES n ...)" of a folder; -1 if it cannot open */
static int
status_items(struct session *s, const char *name, const struct imap_arg *items,
	     struct buf *out, const char **error_r)
{
	struct store_folder *f;
	struct store_folder_status st;
	bool own = false;

	if (s->state == ST_SELECTED && strcmp(store_folder_name(s->folder), name) == 0) {
		f = s->folder;
	} else {
		f = store_folder_open(s->mbox->st, name, error_r);
		if (f == NULL)
			return -1;
		own = true;
	}
	if (store_sync(f, error_r) < 0 || store_folder_status(f, &st, error_r) < 0) {
		if (own)
			store_folder_close(&f);
		return -1;
	}
	if (own)
		store_folder_close(&f);
	buf_putc(out, '(');
	for (size_t i = 0; i < items->count; i++) {
		const struct imap_arg *it = &items->list[i];
		if (i > 0)
			buf_putc(out, ' ');
		if (imap_arg_is_atom(it, "MESSAGES"))
			buf_printf(out, "MESSAGES %u", st.messages);
		else if (imap_arg_is_atom(it, "UIDNEXT"))
			buf_printf(out, "UIDNEXT %u", st.uidnext);
		else if (imap_arg_is_atom(it, "UIDVALIDITY"))
			buf_printf(out, "UIDVALIDITY %u", st.uidvalidity);
		else if (imap_arg_is_atom(it, "UNSEEN"))
			buf_printf(out, "UNSEEN %u", st.unseen);
		else if (imap_arg_is_atom(it, "RECENT"))
			/* not claimed yet, plus ours when it is selected */
			buf_printf(out, "RECENT %zu", (size_t)st.recent +
			    (own ? 0 : session_recent_count(s)));
		else if (imap_arg_is_atom(it, "DELETED"))
			buf_printf(out, "DELETED %u", st.deleted);
		else if (imap_arg_is_atom(it, "SIZE"))
			buf_printf(out, "SIZE %llu", (unsigned long long)st.size);
		else if (imap_arg_is_atom(it, "HIGHESTMODSEQ")) {
			buf_printf(out, "HIGHESTMODSEQ %llu",
			    (unsigned long long)st.highestmodseq);
			s->condstore = true;
		} else if (imap_arg_is_atom(it, "MAILBOXID")) {
			buf_printf(out, "MAILBOXID (%s)", st.mailboxid);
		} else {
			*error_r = "Unknown STATUS item";
			return -2;
		}
	}
	buf_putc(out, ')');
	return 0;
}

static bool
status_items_valid(const struct imap_arg *items)
{
	static const char *const ok[] = { "MESSAGES", "UIDNEXT", "UIDVALIDITY",
	    "UNSEEN", "RECENT", "DELETED", "SIZE", "HIGHESTMODSEQ", "MAILBOXID",
	    NULL };

	if (items->type != IMAP_ARG_LIST || items->count == 0)
		return false;
	for (size_t i = 0; i < items->count; i++) {
		bool found = false;
		for (size_t k = 0; ok[k] != NULL; k++)
			if (imap_arg_is_atom(&items->list[i], ok[k]))
				found = true;
		if (!found)
			return false;
	}
	return true;
}

void
cmd_status(struct session *s, const char *tag, const struct imap_arg *a,
	   size_t n, bool uid)
{
	char name[STORE_FOLDER_MAX + 1];
	const char *err;
	struct buf out;

	if (n != 2 || !status_items_valid(&a[1])) {
		session_tagged(s, tag, "BAD", "Syntax: STATUS mailbox (items)");
		return;
	}
	if (mailbox_name(s, &a[0], name, sizeof(name), &err) == NULL) {
		session_tagged(s, tag, "NO", "%s", err);
		return;
	}
	if (store_folder_exists(s->mbox->st, name) != 1) {
		session_tagged(s, tag, "NO", "[NONEXISTENT] No such mailbox");
		return;
	}
	buf_init(&out, 0);
	buf_puts(&out, "* STATUS ");
	quote_name(s, &out, name);
	buf_putc(&out, ' ');
	if (status_items(s, name, &a[1], &out, &err) < 0) {
		buf_free(&out);
		folder_refuse(s, tag, "STATUS", name, err);
		return;
	}
	buf_puts(&out, "\r\n");
	session_write(s, out.data, out.len);
	buf_free(&out);
	session_tagged(s, tag, "OK", "STATUS completed");
}

static const char *
special_use_name(unsigned su)
{
	if (su & STORE_SU_SENT) return "\\Sent";
	if (su & STORE_SU_DRAFTS) return "\\Drafts";
	if (su & STORE_SU_TRASH) return "\\Trash";
	if (su & STORE_SU_JUNK) return "\\Junk";
	if (su & STORE_SU_ARCHIVE) return "\\Archive";
	return NULL;
}

/* one name LIST or LSUB may show: a folder, a subscription of a name
 * that does not exist (any more), or the implicit parent of either */
struct list_entry {
	char *name;
	unsigned special_use;
	bool exists, subscribed, has_children, match;
};

static int
list_entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct list_entry *)a)->name,
	    ((const struct list_entry *)b)->name);
}

static struct list_entry *
list_entry_find(struct list_entry *le, size_t n, const char *name)
{
	struct list_entry key = { .name = (char *)name };

	return bsearch(&key, le, n, sizeof(*le), list_entry_cmp);
}

static void
list_entries_free(struct list_entry *le, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(le[i].name);
	free(le);
}

/* list_entry_add - name, unless it is there already; keeps le sorted */
static struct list_entry *
list_entry_add(struct list_entry **le, size_t *n, const char *name)
{
	struct list_entry *e = list_entry_find(*le, *n, name);

	if (e != NULL)
		return e;
	*le = xreallocarray(*le, *n + 1, sizeof(**le));
	size_t at = 0;
	while (at < *n && strcmp((*le)[at].name, name) < 0)
		at++;
	memmove(&(*le)[at + 1], &(*le)[at], (*n - at) * sizeof(**le));
	memset(&(*le)[at], 0, sizeof(**le));
	(*le)[at].name = xstrdup(name);
	(*n)++;
	return &(*le)[at];
}

/* list_entries - the folders, the subscriptions and their implicit
 * parents, sorted by name */
static int
list_entries(struct session *s, struct list_entry **le_r, size_t *n_r,
	     const char **error_r)
{
	struct store_folder_info *fl;
	size_t nf, ns = 0, n = 0;
	char **subs = NULL;
	struct list_entry *le = NULL;

	if (store_folder_list(s->mbox->st, &fl, &nf, error_r) < 0)
		return -1;
	if (store_subscriptions(s->mbox->st, &subs, &ns, error_r) < 0) {
		store_folder_list_free(fl, nf);
		return -1;
	}
	le = xcalloc(nf + ns + 1, sizeof(*le));
	for (size_t i = 0; i < nf; i++) {
		le[n].name = xstrdup(fl[i].name);
		le[n].special_use = fl[i].special_use;
		le[n].exists = true;
		le[n].subscribed = fl[i].subscribed;
		le[n].has_children = fl[i].has_children;
		n++;
	}
	store_folder_list_free(fl, nf);
	qsort(le, n, sizeof(*le), list_entry_cmp);
	for (size_t i = 0; i < ns; i++) {
		list_entry_add(&le, &n, subs[i])->subscribed = true;
		free(subs[i]);
	}
	free(subs);
	/* the implicit parents of every name */
	size_t nreal = n;
	char **names = xcalloc(nreal + 1, sizeof(*names));
	for (size_t i = 0; i < nreal; i++)
		names[i] = xstrdup(le[i].name);
	for (size_t i = 0; i < nreal; i++) {
		char *dot;
		while ((dot = strrchr(names[i], '.')) != NULL) {
			*dot = '\0';
			if (names[i][0] == '\0')
				break;
			struct list_entry *p = list_entry_add(&le, &n, names[i]);
			p->has_children = p->has_children || !p->exists;
		}
		free(names[i]);
	}
	free(names);
	*le_r = le;
	*n_r = n;
	return 0;
}

/* list_descendant - whether entry f has a descendant that the selection
 * takes (subscribed, or existing) but no pattern matched */
static bool
list_descendant(const struct list_entry *le, size_t n, size_t f,
		bool subscribed)
{
	size_t l = strlen(le[f].name);

	for (size_t i = 0; i < n; i++)
		if (i != f && strncmp(le[i].name, le[f].name, l) == 0 &&
		    le[i].name[l] == '.' && !le[i].match &&
		    (subscribed ? le[i].subscribed : le[i].exists))
			return true;
	return false;
}

/* list - LIST and LSUB (RFC 3501 6.3.8/9, RFC 5258, 6154, 5819) */
static void
list(struct session *s, const char *tag, const struct imap_arg *a, size_t n,
     bool lsub)
{
	bool sel_subscribed = lsub, sel_special = false, recursive = false;
	bool extended = false;
	bool ret_subscribed = false, ret_children = true, ret_special = true;
	const struct imap_arg *status = NULL;
	size_t i = 0;
	const char *err;

	if (!lsub && i < n && a[i].type == IMAP_ARG_LIST) {
		for (size_t k = 0; k < a[i].count; k++) {
			const struct imap_arg *o = &a[i].list[k];
			if (imap_arg_is_atom(o, "SUBSCRIBED"))
				sel_subscribed = true;
			else if (imap_arg_is_atom(o, "SPECIAL-USE"))
				sel_special = true;
			else if (imap_arg_is_atom(o, "RECURSIVEMATCH"))
				recursive = true;
			else if (!imap_arg_is_atom(o, "REMOTE")) {
				session_tagged(s, tag, "BAD", "Unknown LIST selection "
				    "option");
				return;
			}
		}
		/* RECURSIVEMATCH needs a selection option it can apply
		 * to, SUBSCRIBED (RFC 5258 3) */
		if (recursive && !sel_subscribed) {
			session_tagged(s, tag, "BAD", "RECURSIVEMATCH without "
			    "SUBSCRIBED");
			return;
		}
		extended = true;
		i++;
	}
	if (n < i + 2 || imap_arg_astring(&a[i]) == NULL) {
		session_tagged(s, tag, "BAD", "Syntax: LIST reference pattern");
		return;
	}
	const char *ref = a[i].str;
	const struct imap_arg *pats = &a[i + 1];
	i += 2;
	if (!lsub && i < n) {
		if (!imap_arg_is_atom(&a[i], "RETURN") || i + 1 >= n ||
		    a[i + 1].type != IMAP_ARG_LIST || i + 2 != n) {
			session_tagged(s, tag, "BAD", "Syntax: LIST ... RETURN (options)");
			return;
		}
		const struct imap_arg *r = &a[i + 1];
		for (size_t k = 0; k < r->count; k++) {
			const struct imap_arg *o = &r->list[k];
			if (imap_arg_is_atom(o, "SUBSCRIBED"))
				ret_subscribed = true;
			else if (imap_arg_is_atom(o, "CHILDREN"))
				ret_children = true;
			else if (imap_arg_is_atom(o, "SPECIAL-USE"))
				ret_special = true;
			else if (imap_arg_is_atom(o, "STATUS") && k + 1 < r->count &&
			    status_items_valid(&r->list[k + 1]))
				status = &r->list[++k];
			else {
				session_tagged(s, tag, "BAD", "Unknown LIST return option");
				return;
			}
		}
		extended = true;
	} else if (i != n) {
		session_tagged(s, tag, "BAD", "Syntax: LIST reference pattern");
		return;
	}
	if (sel_subscribed && !lsub)
		ret_subscribed = true;

	/* the patterns: one astring or a list of them */
	const struct imap_arg *pv = pats->type == IMAP_ARG_LIST ? pats->list : pats;
	size_t pn = pats->type == IMAP_ARG_LIST ? pats->count : 1;
	if (pn == 0) {
		session_tagged(s, tag, "BAD", "Empty pattern list");
		return;
	}
	if (pn == 1 && imap_arg_astring(&pv[0]) != NULL && pv[0].str[0] == '\0') {
		/* LIST "" "": the hierarchy delimiter */
		session_printf(s, "* %s (\\Noselect) \".\" \"\"\r\n",
		    lsub ? "LSUB" : "LIST");
		session_tagged(s, tag, "OK", "%s completed", lsub ? "LSUB" : "LIST");
		return;
	}
	char perr[128];
	struct imap_match **pm = list_patterns_compile(s, ref, pv, pn, perr,
	    sizeof(perr));
	if (pm == NULL) {
		session_tagged(s, tag, "BAD", "%s", perr);
		return;
	}
	if (pats->type == IMAP_ARG_LIST)
		extended = true;
	struct list_entry *le;
	size_t nle;
	if (list_entries(s, &le, &nle, &err) < 0) {
		list_patterns_free(pm, pn);
		folder_refuse(s, tag, lsub ? "LSUB" : "LIST", "", err);
		return;
	}
	for (size_t f = 0; f < nle; f++) {
		bool match = false;
		size_t nl = strlen(le[f].name);
		for (size_t p = 0; p < pn && !match; p++)
			match = pm[p] != NULL && imap_match(pm[p], le[f].name, nl);
		le[f].match = match;
	}
	struct buf out;
	buf_init(&out, 0);
	for (size_t f = 0; f < nle; f++) {
		const struct list_entry *e = &le[f];
		if (!e->match || (sel_special && e->special_use == 0))
			continue;
		bool eligible = sel_subscribed ? e->subscribed : e->exists;
		bool parent_only = false;  /* listed for a descendant */
		if (!eligible) {
			/* a descendant selected but not matched: the
			 * implicit parent (RFC 3501 6.3.8/9), or CHILDINFO
			 * with RECURSIVEMATCH (RFC 5258 3.5) */
			if (sel_subscribed && !lsub && !recursive)
				continue;
			if (!list_descendant(le, nle, f, sel_subscribed))
				continue;
			parent_only = true;
		}
		buf_reset(&out);
		buf_printf(&out, "* %s (", lsub ? "LSUB" : "LIST");
		size_t mark = out.len;
#define ATTR(x) buf_printf(&out, "%s%s", out.len > mark ? " " : "", (x))
		if (lsub && parent_only)
			ATTR("\\Noselect");
		else if (!e->exists && (extended || sel_subscribed))
			ATTR("\\NonExistent");
		else if (!e->exists)
			ATTR("\\Noselect");
		if (ret_children && !(lsub && parent_only))
			ATTR(e->has_children ? "\\HasChildren" :
			    "\\HasNoChildren");
		if (ret_subscribed && e->subscribed && !lsub)
			ATTR("\\Subscribed");
		const char *su = special_use_name(e->special_use);
		if (ret_special && su != NULL)
			ATTR(su);
#undef ATTR
		buf_puts(&out, ") \".\" ");
		quote_name(s, &out, e->name);
		if (parent_only && !lsub && sel_subscribed)
			buf_puts(&out, " (\"CHILDINFO\" (\"SUBSCRIBED\"))");
		buf_puts(&out, "\r\n");
		if (status != NULL && e->exists) {
			size_t before = out.len;
			buf_puts(&out, "* STATUS ");
			quote_name(s, &out, e->name);
			buf_putc(&out, ' ');
			if (status_items(s, e->name, status, &out, &err) < 0)
				buf_truncate(&out, before);
			else
				buf_puts(&out, "\r\n");
		}
		session_write(s, out.data, out.len);
	}
	buf_free(&out);
	list_patterns_free(pm, pn);
	list_entries_free(le, nle);
	session_tagged(s, tag, "OK", "%s completed", lsub ? "LSUB" : "LIST");
}

void
cmd_list(struct session *s, const char *tag, const struct imap_arg *a,
	 size_t n, bool uid)
{
	list(s, tag, a, n, false);
}

void
cmd_lsub(struct session *s, const char *tag, const struct imap_arg *a,
	 size_t n, bool uid)
{
	list(s, tag, a, n, true);
}

void
cmd_namespace(struct session *s, const char *tag, const struct imap_arg *a,
	      size_t n, bool uid)
{
	session_printf(s, "* NAMESPACE ((\"\" \".\")) NIL NIL\r\n");
	session_tagged(s, tag, "OK", "NAMESPACE completed");
}
