/* jmap-email-compose - an RFC 5322 message from an Email
 * object (Email/set create, jmap-email.h) */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include "buf.h"
#include "hfield.h"
#include "jmap-email.h"
#include "jmap.h"
#include "strutil.h"
#include "xalloc.h"
#include "jmap-email-private.h"

/* ------------------------------------------------------------- compose */

#define COMPOSE_FIELD_MAX 998

/* b64 - base64 in lines of 76 */
static void
b64(const unsigned char *in, size_t len, struct buf *out)
{
	static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789+/";
	size_t col = 0;

	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < len)
			v |= in[i + 2];
		char q[4] = { t[(v >> 18) & 63], t[(v >> 12) & 63],
		    i + 1 < len ? t[(v >> 6) & 63] : '=',
		    i + 2 < len ? t[v & 63] : '=' };
		buf_append(out, q, 4);
		if ((col += 4) >= 76) {
			buf_puts(out, "\r\n");
			col = 0;
		}
	}
	if (col > 0)
		buf_puts(out, "\r\n");
}

static bool
is_ascii_text(const char *s, size_t n, bool one_line)
{
	size_t line = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x80 || c == 0 || (one_line && (c == '\r' || c == '\n')))
			return false;
		line = c == '\n' ? 0 : line + 1;
		if (line > COMPOSE_FIELD_MAX - 2)
			return false;
	}
	return true;
}

/* encoded_word - s as itself when plain ASCII, else one or more RFC 2047
 * B words */
static void
encoded_word(const char *s, struct buf *out)
{
	size_t n = strlen(s);

	if (is_ascii_text(s, n, true)) {
		buf_append(out, s, n);
		return;
	}
	for (size_t i = 0; i < n; ) {
		size_t k = n - i > 45 ? 45 : n - i;
		while (k < n - i && k > 0 && ((unsigned char)s[i + k] & 0xc0) == 0x80)
			k--;                      /* whole UTF-8 sequences */
		if (k == 0)
			k = n - i;
		struct buf w;
		buf_init(&w, 0);
		b64((const unsigned char *)s + i, k, &w);
		while (w.len > 0 && (w.data[w.len - 1] == '\n' ||
		    w.data[w.len - 1] == '\r'))
			buf_truncate(&w, w.len - 1);
		buf_printf(out, "%s=?UTF-8?B?%s?=", i ? "\r\n " : "", w.data);
		buf_free(&w);
		i += k;
	}
}

static bool
addr_valid(const char *a)
{
	const char *at = a != NULL ? strrchr(a, '@') : NULL;

	if (at == NULL || at == a || at[1] == '\0' || strlen(a) > 320)
		return false;
	for (const char *p = a; *p != '\0'; p++)
		if ((unsigned char)*p <= ' ' || strchr("<>(),;:\"\\", *p) != NULL)
			return false;
	return true;
}

/* addr_field - "Name: a <b>, ..." from EmailAddress objects */
static int
addr_field(const char *name, json_t *list, struct buf *out)
{
	size_t i;
	json_t *v;

	if (list == NULL || json_is_null(list))
		return 0;
	if (!json_is_array(list) || json_array_size(list) == 0 ||
	    json_array_size(list) > JE_ADDR_MAX)
		return -1;
	buf_printf(out, "%s: ", name);
	json_array_foreach(list, i, v) {
		const char *email = json_string_value(json_object_get(v, "email"));
		json_t *nm = json_object_get(v, "name");
		if (!addr_valid(email) || (nm != NULL && !json_is_null(nm) &&
		    !json_is_string(nm)))
			return -1;
		if (i > 0)
			buf_puts(out, ",\r\n ");
		const char *n = json_string_value(nm);
		if (n != NULL && *n != '\0') {
			if (is_ascii_text(n, strlen(n), true)) {
				buf_putc(out, '"');
				for (const char *p = n; *p != '\0'; p++) {
					if (*p == '"' || *p == '\\')
						buf_putc(out, '\\');
					buf_putc(out, *p);
				}
				buf_putc(out, '"');
			} else
				encoded_word(n, out);
			buf_printf(out, " <%s>", email);
		} else
			buf_puts(out, email);
	}
	buf_puts(out, "\r\n");
	return 0;
}

/* ids_field - "Name: <a> <b>" from a list of message ids */
static int
ids_field(const char *name, json_t *list, struct buf *out)
{
	size_t i;
	json_t *v;

	if (list == NULL || json_is_null(list))
		return 0;
	if (!json_is_array(list) || json_array_size(list) > JE_ADDR_MAX)
		return -1;
	buf_printf(out, "%s:", name);
	json_array_foreach(list, i, v) {
		const char *id = json_string_value(v);
		if (!addr_valid(id))
			return -1;
		buf_printf(out, "%s<%s>", i > 0 ? "\r\n " : " ", id);
	}
	buf_puts(out, "\r\n");
	return 0;
}

/* body_part - one leaf text part from a body part object and bodyValues */
static int
text_part(json_t *part, json_t *values, const char *want, struct buf *out)
{
	const char *pid = json_string_value(json_object_get(part, "partId"));
	const char *type = json_string_value(json_object_get(part, "type"));
	const char *val = json_string_value(json_object_get(json_object_get(
	    values, pid != NULL ? pid : ""), "value"));

	if (pid == NULL || val == NULL || (type != NULL &&
	    strcasecmp(type, want) != 0) || json_object_get(part, "blobId") != NULL)
		return -1;
	struct buf crlf;
	buf_init(&crlf, 0);
	for (const char *p = val; *p != '\0'; p++) {
		if (*p == '\n' && (p == val || p[-1] != '\r'))
			buf_putc(&crlf, '\r');
		buf_putc(&crlf, *p);
	}
	buf_printf(out, "Content-Type: %s; charset=utf-8\r\n", want);
	if (crlf.len == 0 || is_ascii_text(crlf.data, crlf.len, false)) {
		buf_puts(out, "Content-Transfer-Encoding: 7bit\r\n\r\n");
		if (crlf.len > 0)
			buf_append(out, crlf.data, crlf.len);
		if (crlf.len == 0 || crlf.data[crlf.len - 1] != '\n')
			buf_puts(out, "\r\n");
	} else {
		buf_puts(out, "Content-Transfer-Encoding: base64\r\n\r\n");
		b64((const unsigned char *)crlf.data, crlf.len, out);
	}
	buf_free(&crlf);
	return 0;
}

static void
boundary(struct buf *out, int n)
{
	unsigned char r[8];

	random_bytes(r, sizeof(r));
	buf_printf(out, "=_postern_%d_", n);
	for (size_t i = 0; i < sizeof(r); i++)
		buf_printf(out, "%02x", r[i]);
}

int
je_compose(json_t *email, je_blob_fn *blob, void *ctx, const char *host,
	   struct buf *out, const char **why_r, const char **prop_r)
{
	static const char *const known[] = { "mailboxIds", "keywords",
	    "receivedAt", "from", "sender", "replyTo", "to", "cc", "bcc",
	    "subject", "sentAt", "messageId", "inReplyTo", "references",
	    "textBody", "htmlBody", "bodyValues", "attachments", NULL };
	const char *key;
	json_t *v;
	char date[64];
	time_t now = time(NULL);

	*why_r = "invalid value";
	json_object_foreach(email, key, v) {
		bool ok = strncmp(key, "header:", 7) == 0 && json_is_string(v) &&
		    strchr(key + 7, ':') == NULL && key[7] != '\0' &&
		    strlen(key) < 80 && json_string_length(v) < COMPOSE_FIELD_MAX &&
		    is_ascii_text(json_string_value(v), json_string_length(v), true);
		for (size_t i = 0; known[i] != NULL && !ok; i++)
			ok = strcmp(known[i], key) == 0;
		for (const char *p = key + 7; ok && strncmp(key, "header:", 7) == 0 &&
		    *p != '\0'; p++)
			ok = *p > ' ' && *p < 127 && *p != ':';
		if (!ok) {
			*prop_r = key;
			*why_r = "not a property an Email can be created with (or "
			    "a header:Name that is not plain text)";
			return -1;
		}
	}
	static const struct { const char *prop, *field; } addrs[] = {
		{ "from", "From" }, { "sender", "Sender" }, { "replyTo", "Reply-To" },
		{ "to", "To" }, { "cc", "Cc" }, { "bcc", "Bcc" },
	};
	for (size_t i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++)
		if (addr_field(addrs[i].field, json_object_get(email,
		    addrs[i].prop), out) < 0) {
			*prop_r = addrs[i].prop;
			return -1;
		}
	json_t *subj = json_object_get(email, "subject");
	if (subj != NULL && !json_is_null(subj)) {
		if (!json_is_string(subj) || json_string_length(subj) > 4000) {
			*prop_r = "subject";
			return -1;
		}
		buf_puts(out, "Subject: ");
		encoded_word(json_string_value(subj), out);
		buf_puts(out, "\r\n");
	}
	const char *sent = json_string_value(json_object_get(email, "sentAt"));
	time_t st = now;
	if (sent != NULL && je_parse_date(sent, &st) < 0) {
		*prop_r = "sentAt";
		return -1;
	}
	struct tm tm;
	gmtime_r(&st, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	buf_printf(out, "Date: %s\r\n", date);
	if (json_object_get(email, "messageId") != NULL) {
		if (json_array_size(json_object_get(email, "messageId")) != 1 ||
		    ids_field("Message-ID", json_object_get(email, "messageId"),
		    out) < 0) {
			*prop_r = "messageId";
			return -1;
		}
	} else {
		unsigned char r[12];
		random_bytes(r, sizeof(r));
		buf_puts(out, "Message-ID: <");
		for (size_t i = 0; i < sizeof(r); i++)
			buf_printf(out, "%02x", r[i]);
		buf_printf(out, "@%s>\r\n", host);
	}
	if (ids_field("In-Reply-To", json_object_get(email, "inReplyTo"),
	    out) < 0) {
		*prop_r = "inReplyTo";
		return -1;
	}
	if (ids_field("References", json_object_get(email, "references"),
	    out) < 0) {
		*prop_r = "references";
		return -1;
	}
	json_object_foreach(email, key, v)
		if (strncmp(key, "header:", 7) == 0)
			buf_printf(out, "%s: %s\r\n", key + 7, json_string_value(v));
	buf_puts(out, "MIME-Version: 1.0\r\n");
	/* the body: text, html (alternative), attachments (mixed) */
	json_t *tb = json_object_get(email, "textBody");
	json_t *hb = json_object_get(email, "htmlBody");
	json_t *att = json_object_get(email, "attachments");
	json_t *values = json_object_get(email, "bodyValues");
	if ((tb != NULL && (!json_is_array(tb) || json_array_size(tb) > 1)) ||
	    (hb != NULL && (!json_is_array(hb) || json_array_size(hb) > 1)) ||
	    (att != NULL && !json_is_array(att)) ||
	    json_array_size(att) > MIME_MAX_PARTS / 2) {
		*prop_r = tb != NULL && json_array_size(tb) > 1 ? "textBody" :
		    hb != NULL && json_array_size(hb) > 1 ? "htmlBody" :
		    "attachments";
		*why_r = "textBody and htmlBody hold at most one part each";
		return -1;
	}
	struct buf text, html;
	buf_init(&text, 0);
	buf_init(&html, 0);
	int ret = 0;
	if (json_array_size(tb) == 1 && text_part(json_array_get(tb, 0), values,
	    "text/plain", &text) < 0) {
		*prop_r = "textBody";
		*why_r = "a text/plain part whose partId is in bodyValues";
		ret = -1;
	}
	if (ret == 0 && json_array_size(hb) == 1 && text_part(json_array_get(hb,
	    0), values, "text/html", &html) < 0) {
		*prop_r = "htmlBody";
		*why_r = "a text/html part whose partId is in bodyValues";
		ret = -1;
	}
	if (ret == 0 && text.len == 0 && html.len == 0)
		buf_puts(&text, "Content-Type: text/plain; charset=utf-8\r\n"
		    "Content-Transfer-Encoding: 7bit\r\n\r\n");
	struct buf main_part, bd1, bd2;
	buf_init(&main_part, 0);
	buf_init(&bd1, 0);
	buf_init(&bd2, 0);
	boundary(&bd1, 1);
	boundary(&bd2, 2);
	if (ret == 0) {
		if (text.len > 0 && html.len > 0)
			buf_printf(&main_part, "Content-Type: multipart/alternative; "
			    "boundary=\"%s\"\r\n\r\n--%s\r\n%s\r\n--%s\r\n%s\r\n--%s--\r\n",
			    bd2.data, bd2.data, text.data, bd2.data, html.data, bd2.data);
		else
			buf_puts(&main_part, text.len > 0 ? text.data : html.data);
	}
	if (ret == 0 && json_array_size(att) == 0)
		buf_append(out, main_part.data, main_part.len);
	else if (ret == 0) {
		buf_printf(out, "Content-Type: multipart/mixed; boundary=\"%s\"\r\n"
		    "\r\n--%s\r\n", bd1.data, bd1.data);
		buf_append(out, main_part.data, main_part.len);
		size_t i;
		json_array_foreach(att, i, v) {
			const char *bid = json_string_value(json_object_get(v, "blobId"));
			const char *type = json_string_value(json_object_get(v, "type"));
			const char *name = json_string_value(json_object_get(v, "name"));
			const char *disp = json_string_value(json_object_get(v,
			    "disposition"));
			const char *cid = json_string_value(json_object_get(v, "cid"));
			struct buf data;
			buf_init(&data, 0);
			if (bid == NULL || (type != NULL && (strchr(type, '/') == NULL ||
			    !is_ascii_text(type, strlen(type), true) ||
			    strpbrk(type, "\";\\ ") != NULL)) ||
			    (cid != NULL && !addr_valid(cid)) ||
			    blob(ctx, bid, &data) <= 0) {
				buf_free(&data);
				*prop_r = "attachments";
				*why_r = "an attachment needs the blobId of an uploaded "
				    "blob (and a plain type)";
				ret = -1;
				break;
			}
			buf_printf(out, "\r\n--%s\r\nContent-Type: %s\r\n", bd1.data,
			    type != NULL ? type : "application/octet-stream");
			buf_printf(out, "Content-Disposition: %s",
			    disp != NULL && strcmp(disp, "inline") == 0 ? "inline" :
			    "attachment");
			if (name != NULL) {
				buf_puts(out, ";\r\n filename=\"");
				struct buf enc;
				buf_init(&enc, 0);
				for (const char *p = name; *p != '\0'; p++)
					if (*p != '"' && *p != '\\' && *p != '\r' &&
					    *p != '\n')
						buf_putc(&enc, *p);
				if (enc.len > 0 && is_ascii_text(enc.data, enc.len, true))
					buf_append(out, enc.data, enc.len);
				else if (enc.len > 0)
					encoded_word(enc.data, out);
				buf_puts(out, "\"");
				buf_free(&enc);
			}
			buf_puts(out, "\r\n");
			if (cid != NULL)
				buf_printf(out, "Content-ID: <%s>\r\n", cid);
			buf_puts(out, "Content-Transfer-Encoding: base64\r\n\r\n");
			b64((const unsigned char *)(data.data != NULL ? data.data : ""),
			    data.len, out);
			buf_free(&data);
		}
		if (ret == 0)
			buf_printf(out, "\r\n--%s--\r\n", bd1.data);
	}
	buf_free(&text);
	buf_free(&html);
	buf_free(&main_part);
	buf_free(&bd1);
	buf_free(&bd2);
	return ret;
}
