#ifndef POSTERN_PASSWD_H
#define POSTERN_PASSWD_H

#include <stdbool.h>

/* Password hashes are crypt(3) strings: yescrypt ($y$, default), bcrypt
 * ($2b$/$2y$), SHA-512-crypt ($6$). Dovecot scheme prefixes such as
 * {BLF-CRYPT}, {SHA512-CRYPT} and {CRYPT} are accepted on import. */

/* passwd_scheme_valid - "yescrypt", "bcrypt" or "sha512-crypt". */
bool passwd_scheme_valid(const char *scheme);
/* passwd_hash - hash with the scheme; new string or NULL with error. */
char *passwd_hash(const char *password, const char *scheme,
		  const char **error_r);
/* passwd_verify - true when password matches hash (constant time). */
bool passwd_verify(const char *password, const char *hash);
/* passwd_import_hash - normalize an imported hash (strip a Dovecot
 * {SCHEME} prefix); NULL with an error if it is not a crypt hash we take. */
char *passwd_import_hash(const char *hash, const char **error_r);

#endif
