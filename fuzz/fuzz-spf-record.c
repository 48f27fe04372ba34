/* fuzz-spf-record - SPF records as they come from DNS TXT (RFC 7208):
 * the parser, then macro expansion of every domain-spec it accepted
 * (with a sender and HELO taken from the input too). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../src/smtpd/spf-record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct spf_record rec;
	char *txt = malloc(size + 1);
	const char *err;
	char out[SPF_DOMAIN_MAX + 1];
	struct sockaddr_in6 v6;
	struct sockaddr_in v4;

	memcpy(txt, data, size);
	txt[size] = '\0';
	memset(&v4, 0, sizeof(v4));
	v4.sin_family = AF_INET;
	inet_pton(AF_INET, "192.0.2.3", &v4.sin_addr);
	memset(&v6, 0, sizeof(v6));
	v6.sin6_family = AF_INET6;
	inet_pton(AF_INET6, "2001:db8::cb01", &v6.sin6_addr);
	/* the record is also the "sender": hostile macro values */
	struct spf_macro_ctx ctx = {
		.sender = txt, .local = txt, .sender_domain = "example.com",
		.domain = "example.com", .ip = (struct sockaddr *)&v4,
		.helo = txt, .validated = NULL,
	};
	if (spf_record_parse(txt, &rec, &err) == 0) {
		if (rec.nterms > SPF_TERMS_MAX)
			abort();
		for (size_t i = 0; i < rec.nterms; i++) {
			const struct spf_term *t = &rec.terms[i];
			if (t->cidr4 < 0 || t->cidr4 > 32 || t->cidr6 < 0 ||
			    t->cidr6 > 128)
				abort();
			if (t->domain == NULL)
				continue;
			ctx.ip = (i % 2) ? (struct sockaddr *)&v6 :
			    (struct sockaddr *)&v4;
			if (spf_macro_expand(t->domain, t->domain_len, &ctx, out,
			    sizeof(out), &err) == 0 && strlen(out) > SPF_DOMAIN_MAX)
				abort();
		}
		if (rec.redirect != NULL &&
		    spf_macro_expand(rec.redirect, rec.redirect_len, &ctx, out,
		    sizeof(out), &err) == 0 && strlen(out) > SPF_DOMAIN_MAX)
			abort();
	}
	/* the whole input as one domain-spec */
	if (spf_macro_expand(txt, size, &ctx, out, sizeof(out), &err) == 0 &&
	    strlen(out) > SPF_DOMAIN_MAX)
		abort();
	free(txt);
	return 0;
}
