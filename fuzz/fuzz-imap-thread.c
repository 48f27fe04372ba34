/* fuzz-imap-thread - base subject extraction, Message-ID lists and both
 * threading algorithms. Each input line is one message:
 * "subject|message-id|references|date" (missing fields are empty).
 * The base subject is also checked against the former quadratic
 * extraction kept here as the reference: the linear one must give the
 * same text and reply flag. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap-thread.h"
#include "xalloc.h"

#define REF_MAX_SUBJECT 4096   /* the reference is quadratic: short ones */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


/* ref_blob_end - subj-blob = "[" *BLOBCHAR "]" *WSP at w[p]: the index after
 * it, or 0 */
static size_t
ref_blob_end(const char *w, size_t p, size_t end)
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

/* ref_refwd_end - subj-refwd = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":"
 * at w[p]: the index after it, or 0 */
static size_t
ref_refwd_end(const char *w, size_t p, size_t end)
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
	size_t b = ref_blob_end(w, q, end);
	if (b != 0)
		q = b;
	if (q < end && w[q] == ':')
		return q + 1;
	return 0;
}

/* ref_base_subject - the base subject as imap-thread.c computed it
 * before it was made linear: each leading blob removed one at a time,
 * the run after it scanned again each time (quadratic) */
static void
ref_base_subject(const char *s, size_t len, struct buf *out, bool *reply_r)
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
			size_t q = start, b;
			while ((b = ref_blob_end(w, q, end)) != 0)
				q = b;
			size_t r = ref_refwd_end(w, q, end);
			if (r != 0) {
				start = r;
				reply = true;
				continue;
			}
			/* a leading blob, unless nothing would be left */
			b = ref_blob_end(w, start, end);
			if (b != 0 && b < end) {
				start = b;
				continue;
			}
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

#define MAX_MSGS 512

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = malloc(size + 1), *save = NULL;
	struct imap_thread_msg *m = calloc(MAX_MSGS, sizeof(*m));
	struct buf *subj = calloc(MAX_MSGS, sizeof(*subj)), id, out;
	char **ids = calloc(MAX_MSGS, sizeof(char *));
	char ***refs = calloc(MAX_MSGS, sizeof(char **));
	size_t n = 0;

	memcpy(in, data, size);
	in[size] = '\0';
	buf_init(&id, 0);
	buf_init(&out, 0);
	for (char *line = strtok_r(in, "\n", &save); line != NULL && n < MAX_MSGS;
	    line = strtok_r(NULL, "\n", &save)) {
		char *f[4] = { line, "", "", "" };
		for (int k = 1; k < 4; k++) {
			char *bar = strchr(f[k - 1], '|');
			if (bar == NULL)
				break;
			*bar = '\0';
			f[k] = bar + 1;
		}
		buf_init(&subj[n], 0);
		imap_base_subject(f[0], strlen(f[0]), &subj[n], &m[n].reply);
		buf_putc(&subj[n], '\0');
		if (strlen(f[0]) <= REF_MAX_SUBJECT) {
			struct buf want;
			bool want_reply;
			buf_init(&want, 0);
			ref_base_subject(f[0], strlen(f[0]), &want, &want_reply);
			buf_putc(&want, '\0');
			if (strcmp(want.data, subj[n].data) != 0 ||
			    want_reply != m[n].reply) {
				fprintf(stderr, "base subject of \"%s\": \"%s\" "
				    "%d, reference \"%s\" %d\n", f[0],
				    subj[n].data, m[n].reply, want.data,
				    want_reply);
				abort();
			}
			buf_free(&want);
		}
		m[n].subject = subj[n].data;
		m[n].id = (uint32_t)n + 1;
		m[n].sent = strtoll(f[3], NULL, 10);
		const char *p = f[1];
		if (imap_msgid_next(&p, &id) == 1) {
			buf_putc(&id, '\0');
			ids[n] = strdup(id.data);
			m[n].msgid = ids[n];
		}
		p = f[2];
		refs[n] = calloc(IMAP_THREAD_MAX_REFS + 8, sizeof(char *));
		size_t k = 0;
		while (k < IMAP_THREAD_MAX_REFS + 8 && imap_msgid_next(&p, &id) == 1) {
			buf_putc(&id, '\0');
			refs[n][k++] = strdup(id.data);
		}
		m[n].refs = (const char *const *)refs[n];
		m[n].nrefs = k;
		n++;
	}
	imap_thread(IMAP_THREAD_REFERENCES, m, n, &out);
	buf_reset(&out);
	imap_thread(IMAP_THREAD_ORDEREDSUBJECT, m, n, &out);
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; k < m[i].nrefs; k++)
			free(refs[i][k]);
		free(refs[i]);
		free(ids[i]);
		buf_free(&subj[i]);
	}
	buf_free(&id);
	buf_free(&out);
	free(refs);
	free(ids);
	free(subj);
	free(m);
	free(in);
	return 0;
}
