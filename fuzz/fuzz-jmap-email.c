/* fuzz-jmap-email - the JMAP mail parsers (jmap-email.c): the input's
 * first line is an Email/query filter (JSON), the rest a message. The
 * filter is parsed and matched against the message, and the message is
 * rendered as an Email with every property, every header form and all
 * body values, as Email/get and Email/parse do; a first line that is a
 * JSON object is also composed into a message as Email/set create does,
 * and that message rendered again. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jmap-email.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
blob(void *ctx, const char *id, struct buf *out)
{
	(void)ctx;
	if (strcmp(id, "U1") != 0)
		return 0;
	buf_puts(out, "attached\r\nbytes");
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *d = (const char *)data;
	const char *nl = memchr(d, '\n', size);
	size_t flen = nl != NULL ? (size_t)(nl - d) : size;
	const char *msg = nl != NULL ? nl + 1 : "";
	size_t mlen = nl != NULL ? size - flen - 1 : 0;
	json_error_t jerr;
	json_t *err = NULL;
	struct je_filter *f = NULL;

	json_t *fv = json_loadb(d, flen, 0, &jerr);
	if (je_filter_parse(fv, &f, &err) == 0) {
		struct je_match m = { .mailbox_id = "f1", .keywords = "$seen x",
		    .size = mlen, .received = 1, .data = msg, .len = mlen };
		(void)je_filter_match(f, &m);
		je_filter_free(&f);
	} else if (err == NULL)
		__builtin_trap();
	json_decref(err);
	/* the same line as the properties of an Email/set create */
	if (json_is_object(fv)) {
		struct buf out;
		const char *why, *prop = NULL;
		buf_init(&out, 0);
		if (je_compose(fv, blob, NULL, "fuzz.test", &out, &why, &prop) == 0) {
			struct je_props cp = { .fetch_all = true };
			struct je_meta cm = { .blob_id = "B" };
			json_decref(je_email(out.data != NULL ? out.data : "", out.len,
			    &cm, &cp));
		} else if (why == NULL)
			__builtin_trap();
		buf_free(&out);
	}
	json_decref(fv);

	json_t *props = json_pack("[s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,"
	    "s,s,s]", "id", "blobId", "messageId", "inReplyTo", "references",
	    "sender", "from", "to", "cc", "bcc", "replyTo", "subject", "sentAt",
	    "hasAttachment", "preview", "bodyStructure", "bodyValues",
	    "textBody", "htmlBody", "attachments", "headers",
	    "header:From:asAddresses:all", "header:Subject:asText",
	    "header:List-Post:asURLs", "header:X-A:asGroupedAddresses");
	json_t *bprops = json_pack("[s,s,s,s,s,s,s,s,s]", "partId", "blobId",
	    "headers", "name", "type", "charset", "disposition", "cid",
	    "subParts");
	struct je_props p = { .props = props, .body_props = bprops,
	    .fetch_all = true, .max_body_value_bytes = 100 };
	struct je_meta meta = { .id = "m1u1", .blob_id = "Bm1u1", .size = mlen };
	err = NULL;
	if (!je_props_check(props, bprops, &err))
		__builtin_trap();
	json_t *e = je_email(msg, mlen, &meta, &p);
	char *s = json_dumps(e, JSON_COMPACT);
	if (s == NULL)
		__builtin_trap();
	free(s);
	json_decref(e);
	struct buf b;
	buf_init(&b, 0);
	je_thread_root(msg, mlen, &b);
	buf_reset(&b);
	(void)je_part_blob(msg, mlen, "1-2", &b);
	buf_free(&b);
	json_decref(props);
	json_decref(bprops);
	return 0;
}
