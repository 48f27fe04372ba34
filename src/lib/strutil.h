#ifndef POSTERN_STRUTIL_H
#define POSTERN_STRUTIL_H

#include <stdbool.h>
#include <stddef.h>

#define NAME_MAX_LEN 64         /* post office, mailbox, group names */
#define DOMAIN_MAX_LEN 253
#define LOCALPART_MAX_LEN 64
#define ADDRESS_MAX_LEN 254

void str_lower(char *s);
char *str_trim(char *s);
bool str_has_prefix(const char *s, const char *prefix);
bool str_eq_ci(const char *a, const char *b);
/* mem_contains_ci - whether needle[0..nl) occurs in hay[0..hl), ASCII
 * letters compared without case (other bytes as they are). Linear time
 * (Knuth-Morris-Pratt): O(hl + nl) whatever the text, where a naive
 * search costs hl * nl on "aaa...ab" in "aaa...a". An empty needle is
 * found everywhere. */
bool mem_contains_ci(const char *hay, size_t hl, const char *needle,
		     size_t nl);

/* name_check - a post office, mailbox, group or list name: 1..64 bytes of
 * [A-Za-z0-9._-], not starting with '.' or '-', no "..". 0 or -1. */
int name_check(const char *name, const char **error_r);
/* domain_check - a DNS host name of LDH labels (IDNs in A-label form). */
int domain_check(const char *domain, const char **error_r);
/* localpart_check - an unquoted RFC 5321 local part (dot-atom, UTF-8 ok). */
int localpart_check(const char *local, const char **error_r);
/* address_split - split "local@domain" (copying into the given buffers,
 * domain lowercased); -1 with an error if either part is invalid. */
int address_split(const char *addr, char *local, size_t local_size,
		  char *domain, size_t domain_size, const char **error_r);
/* address_normalize - lowercased copy of a valid address, or NULL. */
char *address_normalize(const char *addr, const char **error_r);

/* random_password - len characters of [A-Za-z0-9] from the OS random
 * source, returned in a new string. */
char *random_password(size_t len);
/* random_bytes - fill from getrandom(); never fails (fatal if it must). */
void random_bytes(void *p, size_t n);

/* parse_size_mb - parse an integer with optional unit suffix K, M, G
 * (default unit: MB) into kilobytes; -1 on bad input. */
long long parse_size_kb(const char *s, char default_unit);
int parse_long(const char *s, long long min, long long max, long long *out);
int parse_bool(const char *s, bool *out);

#endif
