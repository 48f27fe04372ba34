/* fuzz-imap-thread - base subject extraction, Message-ID lists and both
 * threading algorithms. Each input line is one message:
 * "subject|message-id|references|date" (missing fields are empty). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap-thread.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
