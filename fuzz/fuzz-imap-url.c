/* fuzz-imap-url - IMAP URLs (lib-imap): the URLs of CATENATE
 * (imap-url.c) and the URLAUTH URLs of GENURLAUTH, URLFETCH and BURL
 * (imap-urlauth.c, with and without a token; the EXPIRE date-time): any
 * input parses or is refused with an error text; what parses keeps the
 * invariants the callers rely on (a mailbox, a UID, no brackets in the
 * section; an owner and host; the rump a prefix of the URL ending in the
 * access identifier; a token only of hex digits). */
#include <assert.h>
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap-url.h"
#include "imap-urlauth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
url_check(const struct imap_url *u)
{
	assert(u->mailbox != NULL && u->uid != 0);
	assert(u->section == NULL || strpbrk(u->section, "[]") == NULL);
	assert(!u->partial_len || u->length > 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	struct imap_url u;
	struct imap_urlauth a;
	const char *err = NULL;

	memcpy(s, data, size);
	s[size] = '\0';
	if (imap_url_parse(s, &u, &err) == 0)
		url_check(&u);
	else
		assert(err != NULL);
	imap_url_free(&u);
	for (int need = 0; need < 2; need++) {
		err = NULL;
		if (imap_urlauth_parse(s, need, &a, &err) == 0) {
			url_check(&a.url);
			assert(a.owner != NULL && a.owner[0] != '\0');
			assert(a.host != NULL && a.host[0] != '\0');
			assert(a.rump_len <= strlen(s));
			assert(a.have_token == (need == 1));
			assert((a.access_user != NULL) ==
			    (a.access == IMAP_URLAUTH_SUBMIT ||
			    a.access == IMAP_URLAUTH_USER));
			for (const char *t = a.token; *t; t++)
				assert(isxdigit((unsigned char)*t));
			assert(s[a.rump_len] == '\0' || s[a.rump_len] == ':');
			/* the token of any key and the check never fail */
			unsigned char key[IMAP_URLAUTH_KEY_LEN] = { 1 };
			char tok[IMAP_URLAUTH_TOKEN_LEN + 1];
			imap_urlauth_token(key, s, a.rump_len, tok);
			assert(strlen(tok) == IMAP_URLAUTH_TOKEN_LEN);
			(void)imap_urlauth_verify(&a, s, key);
		} else {
			assert(err != NULL);
		}
		imap_urlauth_free(&a);
	}
	(void)imap_urlauth_datetime(s, size);
	free(s);
	return 0;
}
