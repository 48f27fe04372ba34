/* fuzz-sieve - the Sieve lexer, parser and checker; scripts that compile
 * are run over a fixed message */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sieve.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char msg[] =
	"From: \"A\" <a+b@example.org>\r\n"
	"To: x@example.com, (c) y@example.net\r\n"
	"Subject: =?UTF-8?B?w6k=?= hi [tag]\r\n"
	"Content-Type: multipart/mixed; boundary=z\r\n"
	"\r\n--z\r\nContent-Type: text/plain\r\n\r\nbody text\r\n--z--\r\n";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *err = NULL;
	struct sieve_script *s = sieve_compile((const char *)data, size, &err);

	if (s == NULL) {
		if (err == NULL || strchr(err, ':') == NULL)
			__builtin_trap();   /* every error names line:col */
		free(err);
		return 0;
	}
	struct sieve_message m = { msg, sizeof(msg) - 1, "a@example.org",
	    "x+d@example.com" };
	struct sieve_result res;
	if (sieve_execute(s, &m, &res, &err) < 0)
		free(err);
	sieve_result_free(&res);
	sieve_script_free(&s);
	return 0;
}
