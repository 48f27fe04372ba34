/* fuzz-listmsg - a list post's copy (listserv): header rewriting, subject
 * prefix, footer into text/plain or multipart/mixed bodies, List-Id loop
 * check, on any message */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "listmsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *msg = (const char *)data, *err;
	struct listmsg m;
	struct listmsg_opts o = {
		.list_address = "news@acme.test", .description = "News",
		.subject_prefix = "[news]", .footer = size & 1 ? "foot\n" : "f\xc3\xa9",
		.reply_to_list = (size & 2) != 0,
	};

	if (listmsg_prepare(msg, size, &o, &m, &err) == 0) {
		struct buf out;
		buf_init(&out, 0);
		listmsg_copy(&m, "news-unsubscribe+00@acme.test",
		    size & 4 ? "https://x.test/u" : NULL, &out);
		if (out.len < m.head.len + m.body.len)
			__builtin_trap();
		buf_free(&out);
		listmsg_free(&m);
	}
	(void)listmsg_has_list_id(msg, size, "news.acme.test");
	free(listmsg_header_value(msg, size, "Subject"));
	return 0;
}
