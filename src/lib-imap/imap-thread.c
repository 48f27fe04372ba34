/* imap-thread - base subjects, Message-ID lists and the ORDEREDSUBJECT
 * and REFERENCES threading algorithms of RFC 5256 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap-thread.h"
#include "xalloc.h"

/* imap_casemap - see imap-thread.h */
void
imap_casemap(struct buf *out, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		buf_putc(out, c);
	}
}

/* ---- base subject (RFC 5256 2.1) ------------------------------------ */

/* blob_end - subj-blob = "[" *BLOBCHAR "]" *WSP at w[p]: the index after
 * it, or 0 */
static size_t
blob_end(const char *w, size_t p, size_t end)
{
	size_t q;

	if (p >= end || w[p] != '[')
		return 0;
	for (q = p + 1; q < end && w[q] != '[' && w[q] != ']'; q++)
		;
	if (q >= end || w[q] != ']')
		return 0;
	for (q++; q < end && w[q] == ' '; q++)
		;
	return q;
}

/* refwd_end - subj-refwd = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":"
 * at w[p]: the index after it, or 0 */
static size_t
refwd_end(const char *w, size_t p, size_t end)
{
	size_t q;

	if (end - p >= 3 && strncasecmp(w + p, "fwd", 3) == 0)
		q = p + 3;
	else if (end - p >= 2 && (strncasecmp(w + p, "fw", 2) == 0 ||
	    strncasecmp(w + p, "re", 2) == 0))
		q = p + 2;
	else
		return 0;
	while (q < end && w[q] == ' ')
		q++;
	size_t b = blob_end(w, q, end);
	if (b != 0)
		q = b;
	if (q < end && w[q] == ':')
		return q + 1;
	return 0;
}

/* imap_base_subject - see imap-thread.h */
void
imap_base_subject(const char *s, size_t len, struct buf *out, bool *reply_r)
{
	char *w = xmalloc(len + 1);
	size_t n = 0, start, end;
	bool reply = false;

	/* (1) tabs and line breaks to blanks, runs of blanks to one */
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (c == '\t' || c == '\r' || c == '\n')
			c = ' ';
		if (c == ' ' && n > 0 && w[n - 1] == ' ')
			continue;
		w[n++] = c;
	}
	start = 0;
	end = n;
	for (;;) {
		/* (2) subj-trailer = "(fwd)" / WSP, repeatedly */
		for (;;) {
			if (end > start && w[end - 1] == ' ') {
				end--;
			} else if (end - start >= 5 &&
			    strncasecmp(w + end - 5, "(fwd)", 5) == 0) {
				end -= 5;
				reply = true;
			} else {
				break;
			}
		}
		/* (3), (4), repeated (5) */
		for (;;) {
			if (start < end && w[start] == ' ') {
				start++;   /* subj-leader = WSP */
				continue;
			}
			/* subj-leader = *subj-blob subj-refwd */
			size_t q = start, b, last = start;
			while ((b = blob_end(w, q, end)) != 0) {
				last = q;
				q = b;
			}
			size_t r = refwd_end(w, q, end);
			if (r != 0) {
				start = r;
				reply = true;
				continue;
			}
			/* (4) leading blobs, one at a time, while something
			 * is left: with no subj-refwd after the run, step (3)
			 * cannot match at any blob of it, so all of them go
			 * but the last if it ends the subject. Taken in one
			 * step: a subject of n blobs costs n, not n * n. */
			if (q == start)
				break;
			start = q < end ? q : last;
			if (start == last && q == end)
				break;
		}
		/* (6) "[fwd:" subject "]" */
		if (end - start >= 6 && strncasecmp(w + start, "[fwd:", 5) == 0 &&
		    w[end - 1] == ']') {
			start += 5;
			end--;
			reply = true;
			continue;
		}
		break;
	}
	imap_casemap(out, w + start, end - start);
	free(w);
	*reply_r = reply;
}

/* ---- Message IDs ----------------------------------------------------- */

/* imap_msgid_next - see imap-thread.h */
int
imap_msgid_next(const char **pp, struct buf *out)
{
	const char *p = *pp;

	for (;;) {
		const char *lt = strchr(p, '<');
		if (lt == NULL) {
			*pp = p + strlen(p);
			return 0;
		}
		buf_reset(out);
		const char *q = lt + 1;
		bool at = false, bad = false;
		size_t left = 0, right = 0;
		for (; *q != '\0' && *q != '>' && *q != '<'; q++) {
			if (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n')
				continue;
			if (*q == '@') {
				if (at)
					bad = true;
				at = true;
			} else if (at) {
				right++;
			} else {
				left++;
			}
			if (buf_putc(out, *q) < 0)
				bad = true;
		}
		if (*q == '>' && at && !bad && left > 0 && right > 0) {
			*pp = q + 1;
			return 1;
		}
		p = *q == '>' ? q + 1 : q;  /* not one: look further */
	}
}

/* ---- the thread tree ------------------------------------------------- */

struct tnode {
	int parent, child, next;   /* -1: none */
	int msg;                   /* index into msgs, -1 for a dummy */
	int64_t date;              /* sort key (a dummy: its first child's) */
	size_t seq;
};

struct tree {
	struct tnode *v;
	size_t n, cap;
	const struct imap_thread_msg *msgs;
	/* Message ID -> node, open addressing */
	const char **hkey;
	int *hval;
	size_t hcap;
};

#define ROOT 0

static int
node_new(struct tree *t, int msg)
{
	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 64;
		t->v = xreallocarray(t->v, t->cap, sizeof(*t->v));
	}
	t->v[t->n] = (struct tnode){ .parent = -1, .child = -1, .next = -1,
	    .msg = msg };
	if (msg >= 0) {
		t->v[t->n].date = t->msgs[msg].sent;
		t->v[t->n].seq = (size_t)msg;
	}
	return (int)t->n++;
}

static size_t
hash_str(const char *s)
{
	size_t h = 5381;

	for (; *s; s++)
		h = h * 33 + (unsigned char)*s;
	return h;
}

/* hash_slot - the slot of key: where it is, or the empty one for it */
static size_t
hash_slot(struct tree *t, const char *key)
{
	size_t i = hash_str(key) & (t->hcap - 1);

	while (t->hkey[i] != NULL && strcmp(t->hkey[i], key) != 0)
		i = (i + 1) & (t->hcap - 1);
	return i;
}

static void
link_child(struct tree *t, int p, int c)
{
	t->v[c].parent = p;
	t->v[c].next = t->v[p].child;
	t->v[p].child = c;
}

static void
unlink_child(struct tree *t, int c)
{
	int p = t->v[c].parent;

	if (p < 0)
		return;
	if (t->v[p].child == c) {
		t->v[p].child = t->v[c].next;
	} else {
		for (int k = t->v[p].child; k >= 0; k = t->v[k].next)
			if (t->v[k].next == c) {
				t->v[k].next = t->v[c].next;
				break;
			}
	}
	t->v[c].parent = -1;
	t->v[c].next = -1;
}

#define LOOP_WALK_MAX 4096   /* ancestors looked at for a loop check */

/* would_loop - whether making c a child of p makes a loop: c is p or one
 * of p's ancestors. A c without children cannot be an ancestor: the
 * common case (a reply threaded after its parent) costs nothing. Past
 * LOOP_WALK_MAX ancestors the link is refused as if it looped, so that a
 * hostile folder of very deep threads cannot make THREAD quadratic. */
static bool
would_loop(const struct tree *t, int p, int c)
{
	int steps = 0;

	if (p == c)
		return true;
	if (t->v[c].child < 0)
		return false;
	for (int k = p; k >= 0; k = t->v[k].parent)
		if (k == c || ++steps > LOOP_WALK_MAX)
			return true;
	return false;
}

static int
nchildren(const struct tree *t, int p)
{
	int n = 0;

	for (int k = t->v[p].child; k >= 0 && n < 2; k = t->v[k].next)
		n++;
	return n;
}

struct skey {
	int64_t date;
	size_t seq;
	int node;
};

static int
skey_cmp(const void *a, const void *b)
{
	const struct skey *x = a, *y = b;

	if (x->date != y->date)
		return x->date < y->date ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* postorder - every node below ROOT (and ROOT last), each after all of
 * its descendants; no recursion: threads can be deep */
static int *
postorder(const struct tree *t, size_t *n_r)
{
	int *order = xcalloc(t->n + 1, sizeof(int));
	int *stack = xcalloc(t->n + 1, sizeof(int));
	size_t no = 0, ns = 0;

	stack[ns++] = ROOT;
	while (ns > 0) {
		int k = stack[--ns];
		order[no++] = k;
		for (int c = t->v[k].child; c >= 0; c = t->v[c].next)
			stack[ns++] = c;
	}
	free(stack);
	/* reversed pre-order: children come before their parent */
	for (size_t i = 0; i < no / 2; i++) {
		int x = order[i];
		order[i] = order[no - 1 - i];
		order[no - 1 - i] = x;
	}
	*n_r = no;
	return order;
}

/* sort_siblings - order the children of p by sent date, then sequence;
 * a dummy sorts by its first child */
static void
sort_siblings(struct tree *t, int p, struct skey **buf, size_t *cap)
{
	size_t n = 0;

	for (int c = t->v[p].child; c >= 0; c = t->v[c].next) {
		if (n == *cap) {
			*cap = *cap ? *cap * 2 : 64;
			*buf = xreallocarray(*buf, *cap, sizeof(**buf));
		}
		(*buf)[n++] = (struct skey){ t->v[c].date, t->v[c].seq, c };
	}
	if (n > 1)
		qsort(*buf, n, sizeof(**buf), skey_cmp);
	t->v[p].child = n ? (*buf)[0].node : -1;
	for (size_t i = 0; i < n; i++)
		t->v[(*buf)[i].node].next = i + 1 < n ? (*buf)[i + 1].node : -1;
	if (t->v[p].msg < 0 && p != ROOT && n > 0) {
		t->v[p].date = t->v[(*buf)[0].node].date;
		t->v[p].seq = t->v[(*buf)[0].node].seq;
	}
}

/* sort_all - every set of siblings, the youngest first (RFC 5256 step 6) */
static void
sort_all(struct tree *t)
{
	size_t n, cap = 0;
	int *order = postorder(t, &n);
	struct skey *buf = NULL;

	for (size_t i = 0; i < n; i++)
		sort_siblings(t, order[i], &buf, &cap);
	free(buf);
	free(order);
}

/* prune - RFC 5256 REFERENCES step 3: dummies without children go,
 * dummies with children give them to their parent (to the root only if
 * there is one) */
static void
prune(struct tree *t)
{
	size_t n;
	int *order = postorder(t, &n);

	for (size_t i = 0; i < n; i++) {
		int p = order[i];
		int c = t->v[p].child, head = -1, tail = -1;
		while (c >= 0) {
			int next = t->v[c].next;
			bool keep = true;
			if (t->v[c].msg < 0) {
				int nc = nchildren(t, c);
				if (nc == 0) {
					keep = false;
				} else if (p != ROOT || nc == 1) {
					/* splice its children in here */
					keep = false;
					for (int g = t->v[c].child; g >= 0; ) {
						int gn = t->v[g].next;
						t->v[g].parent = p;
						t->v[g].next = -1;
						if (tail < 0)
							head = g;
						else
							t->v[tail].next = g;
						tail = g;
						g = gn;
					}
					t->v[c].child = -1;
				}
			}
			if (keep) {
				t->v[c].next = -1;
				if (tail < 0)
					head = c;
				else
					t->v[tail].next = c;
				tail = c;
			} else {
				t->v[c].parent = -1;
				t->v[c].next = -1;
			}
			c = next;
		}
		t->v[p].child = head;
	}
	free(order);
}

static const char *
thread_subject(const struct tree *t, int k)
{
	if (t->v[k].msg < 0)
		k = t->v[k].child;
	if (k < 0 || t->v[k].msg < 0)
		return "";
	return t->msgs[t->v[k].msg].subject;
}

static bool
is_reply(const struct tree *t, int k)
{
	return t->v[k].msg >= 0 && t->msgs[t->v[k].msg].reply;
}

/* merge_subjects - RFC 5256 REFERENCES step 5: threads under the root
 * with the same base subject are gathered */
static void
merge_subjects(struct tree *t)
{
	size_t n = 0, cap = 16;
	int *top;
	const char **skey;
	int *sval;

	for (int c = t->v[ROOT].child; c >= 0; c = t->v[c].next)
		n++;
	top = xcalloc(n + 1, sizeof(int));
	n = 0;
	for (int c = t->v[ROOT].child; c >= 0; c = t->v[c].next)
		top[n++] = c;
	while (cap < n * 2)
		cap *= 2;
	skey = xcalloc(cap, sizeof(*skey));
	sval = xcalloc(cap, sizeof(*sval));
#define SLOT(key, i) do { \
	i = hash_str(key) & (cap - 1); \
	while (skey[i] != NULL && strcmp(skey[i], key) != 0) \
		i = (i + 1) & (cap - 1); \
} while (0)
	/* (B) the subject table */
	for (size_t i = 0; i < n; i++) {
		const char *s = thread_subject(t, top[i]);
		size_t h;
		if (*s == '\0')
			continue;
		SLOT(s, h);
		if (skey[h] == NULL) {
			skey[h] = s;
			sval[h] = top[i];
			continue;
		}
		int m = sval[h];
		if (t->v[m].msg >= 0 && (t->v[top[i]].msg < 0 ||
		    (is_reply(t, m) && !is_reply(t, top[i]))))
			sval[h] = top[i];
	}
	/* (C) merge */
	for (size_t i = 0; i < n; i++) {
		int c = top[i];
		const char *s = thread_subject(t, c);
		size_t h;
		if (*s == '\0')
			continue;
		SLOT(s, h);
		int m = sval[h];
		if (m == c)
			continue;
		if (t->v[m].msg < 0 && t->v[c].msg < 0) {
			unlink_child(t, c);
			for (int g = t->v[c].child; g >= 0; ) {
				int gn = t->v[g].next;
				link_child(t, m, g);
				g = gn;
			}
			t->v[c].child = -1;
		} else if (t->v[m].msg < 0 ||
		    (is_reply(t, c) && !is_reply(t, m))) {
			unlink_child(t, c);
			link_child(t, m, c);
		} else {
			int d = node_new(t, -1);
			unlink_child(t, c);
			unlink_child(t, m);
			link_child(t, ROOT, d);
			link_child(t, d, m);
			link_child(t, d, c);
			sval[h] = d;
		}
	}
#undef SLOT
	free(skey);
	free(sval);
	free(top);
}

/* emit - the thread-list of top-level node k, without recursion */
static void
emit(const struct tree *t, int k, struct buf *out)
{
	int *stack = xcalloc(t->n + 1, sizeof(int));
	size_t ns = 0;
	int cur = k;
	bool first = true;

	stack[ns++] = k;
	buf_putc(out, '(');
	for (;;) {
		for (;;) {
			if (t->v[cur].msg >= 0) {
				buf_printf(out, first ? "%u" : " %u",
				    t->msgs[t->v[cur].msg].id);
				first = false;
			}
			if (nchildren(t, cur) != 1)
				break;
			cur = t->v[cur].child;
		}
		if (t->v[cur].child >= 0) {
			/* two or more children: one nested list each */
			if (!first)
				buf_putc(out, ' ');
			cur = t->v[cur].child;
			stack[ns++] = cur;
			buf_putc(out, '(');
			first = true;
			continue;
		}
		/* a leaf: close lists until one has a next sibling */
		for (;;) {
			int h = stack[--ns];
			buf_putc(out, ')');
			if (ns == 0) {
				free(stack);
				return;
			}
			if (t->v[h].next >= 0) {
				cur = t->v[h].next;
				stack[ns++] = cur;
				buf_putc(out, '(');
				first = true;
				break;
			}
		}
	}
}

/* ---- the algorithms -------------------------------------------------- */

static void
references(struct tree *t, size_t n)
{
	/* (1) every message's own ID first, so that references find
	 * messages later in the folder too; a duplicate ID counts for the
	 * first message only */
	t->hcap = 64;
	size_t want = n;
	for (size_t i = 0; i < n; i++)
		want += t->msgs[i].nrefs < IMAP_THREAD_MAX_REFS ?
		    t->msgs[i].nrefs : IMAP_THREAD_MAX_REFS;
	while (t->hcap < want * 2)
		t->hcap *= 2;
	t->hkey = xcalloc(t->hcap, sizeof(*t->hkey));
	t->hval = xcalloc(t->hcap, sizeof(*t->hval));
	for (size_t i = 0; i < n; i++) {
		const char *id = t->msgs[i].msgid;
		if (id == NULL || *id == '\0')
			continue;
		size_t h = hash_slot(t, id);
		if (t->hkey[h] == NULL) {
			t->hkey[h] = id;
			t->hval[h] = (int)i + 1;
		}
	}
	for (size_t i = 0; i < n; i++) {
		const struct imap_thread_msg *m = &t->msgs[i];
		size_t skip = m->nrefs > IMAP_THREAD_MAX_REFS ?
		    m->nrefs - IMAP_THREAD_MAX_REFS : 0;
		int prev = -1, me = (int)i + 1;
		/* (A) link the references as a chain, keeping links made */
		for (size_t r = skip; r < m->nrefs; r++) {
			const char *id = m->refs[r];
			if (id == NULL || *id == '\0')
				continue;
			size_t h = hash_slot(t, id);
			if (t->hkey[h] == NULL) {
				t->hkey[h] = id;
				t->hval[h] = node_new(t, -1);
			}
			int k = t->hval[h];
			if (prev >= 0 && k != prev && t->v[k].parent < 0 &&
			    !would_loop(t, prev, k))
				link_child(t, prev, k);
			prev = k;
		}
		/* (B) the last reference is the parent: replaces a link
		 * made from another message's (truncated) References. The
		 * old link goes even when the new one would make a loop
		 * (RFC 5256 step 1.B: "break it" first; Dovecot does the
		 * same), which is then not made. */
		if (prev < 0) {
			unlink_child(t, me);
		} else if (t->v[me].parent != prev) {
			unlink_child(t, me);
			if (!would_loop(t, prev, me))
				link_child(t, prev, me);
		}
	}
	/* (2) the messages without a parent go under the root */
	for (size_t k = 1; k < t->n; k++)
		if (t->v[k].parent < 0)
			link_child(t, ROOT, (int)k);
	prune(t);                 /* (3) */
	sort_all(t);              /* (4): the top level in date order */
	merge_subjects(t);        /* (5) */
	sort_all(t);              /* (6) */
}

struct osubj {
	const struct imap_thread_msg *m;
	size_t seq;
};

static int
osubj_cmp(const void *a, const void *b)
{
	const struct osubj *x = a, *y = b;
	int c = strcmp(x->m->subject, y->m->subject);

	if (c != 0)
		return c;
	if (x->m->sent != y->m->sent)
		return x->m->sent < y->m->sent ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void
orderedsubject(struct tree *t, size_t n)
{
	struct osubj *v = xcalloc(n + 1, sizeof(*v));

	for (size_t i = 0; i < n; i++)
		v[i] = (struct osubj){ &t->msgs[i], i };
	qsort(v, n, sizeof(*v), osubj_cmp);
	for (size_t i = 0; i < n; ) {
		size_t j = i + 1;
		while (j < n && strcmp(v[j].m->subject, v[i].m->subject) == 0)
			j++;
		/* the first is the root of its thread, the second its
		 * child, the rest siblings of the second */
		int head = (int)v[i].seq + 1;
		link_child(t, ROOT, head);
		for (size_t k = i + 1; k < j; k++)
			link_child(t, head, (int)v[k].seq + 1);
		i = j;
	}
	free(v);
	sort_all(t);
}

/* imap_thread - see imap-thread.h */
void
imap_thread(enum imap_thread_alg alg, const struct imap_thread_msg *msgs,
	    size_t n, struct buf *out)
{
	struct tree t = { .msgs = msgs };

	node_new(&t, -1);                 /* ROOT */
	for (size_t i = 0; i < n; i++)
		node_new(&t, (int)i);     /* message i is node i + 1 */
	if (alg == IMAP_THREAD_REFERENCES)
		references(&t, n);
	else
		orderedsubject(&t, n);
	for (int c = t.v[ROOT].child; c >= 0; c = t.v[c].next)
		emit(&t, c, out);
	free(t.hkey);
	free(t.hval);
	free(t.v);
}
