/* fuzz-sasl - the SASL helpers that read what a client sends in AUTH
 * (smtpd, pop3d and imapd share them): base64 decoding into a bounded
 * buffer, the PLAIN split, and xtext (AUTH=/ORCPT= parameters). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp-parser.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf b;
	const char *authz, *authc, *pw;

	/* a small bound, so that appends past max are exercised */
	buf_init(&b, 64);
	if (smtp_base64_decode((const char *)data, size, &b) == 0) {
		char *msg = malloc(b.len + 1);
		if (b.len > 0)
			memcpy(msg, b.data, b.len);
		msg[b.len] = '\0';
		int r = smtp_sasl_plain(msg, b.len, &authz, &authc, &pw);
		if (r == 0) {
			/* the pointers stay inside msg, and the password runs
			 * to its end: no NUL cuts it short */
			(void)strlen(authz);
			(void)strlen(authc);
			if (pw + strlen(pw) != msg + b.len)
				__builtin_trap();
		} else if (r != -1 && r != SMTP_SASL_NUL) {
			__builtin_trap();
		}
		free(msg);
	}
	buf_reset(&b);
	/* the raw bytes as a decoded PLAIN message too */
	char *raw = malloc(size + 1);
	if (size > 0)
		memcpy(raw, data, size);
	raw[size] = '\0';
	(void)smtp_sasl_plain(raw, size, &authz, &authc, &pw);
	free(raw);
	if (smtp_xtext_valid((const char *)data, size))
		(void)smtp_xtext_decode((const char *)data, size, &b);
	buf_free(&b);
	return 0;
}
