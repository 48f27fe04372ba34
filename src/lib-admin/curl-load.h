#ifndef POSTERN_CURL_LOAD_H
#define POSTERN_CURL_LOAD_H

/* curl-load - libcurl, opened the first time Postern makes an outside
 * HTTP request (OpenID Connect, TLS-RPT reports), not linked: libcurl
 * brings about 30 libraries (Kerberos, LDAP, SSH, RTMP, GnuTLS...) that
 * every `postern` run and the web server would otherwise map, relocate
 * and (under LeakSanitizer) scan for nothing. outhttp.c and oidc.c call
 * curl_* as usual through the macros below. Only src/lib-admin includes
 * this. */

#include <stdbool.h>
/* the option type checks are macros named like the functions */
#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>

/* each function's pointer is p_<name>: a member named like a
 * function-like macro confuses cppcheck's preprocessor */
#define CURL_FUNCS(X) \
	X(curl_easy_cleanup) X(curl_easy_escape) X(curl_easy_getinfo) \
	X(curl_easy_init) X(curl_easy_perform) X(curl_easy_setopt) \
	X(curl_easy_strerror) X(curl_free) X(curl_global_init) \
	X(curl_slist_append) X(curl_slist_free_all)

struct curl_api {
#define CURL_MEMBER(f) __typeof__(f) *p_##f;
	CURL_FUNCS(CURL_MEMBER)
#undef CURL_MEMBER
};

extern struct curl_api curl_api;

/* curl_load - dlopen libcurl.so.4 and curl_global_init, once (thread
 * safe); false when it is missing (the reason: curl_load_error) */
bool curl_load(void);
const char *curl_load_error(void);

#ifndef CURL_LOAD_SELF
/* the two ways in: a handle, or an escape without one */
#define curl_easy_init() (curl_load() ? curl_api.p_curl_easy_init() : NULL)
#define curl_easy_escape(h, s, n) \
	(curl_load() ? curl_api.p_curl_easy_escape((h), (s), (n)) : NULL)
/* the rest is only reached with a handle (so libcurl is loaded) */
#define curl_easy_cleanup (curl_api.p_curl_easy_cleanup)
#undef curl_easy_getinfo    /* curl.h's three-argument check */
#define curl_easy_getinfo (curl_api.p_curl_easy_getinfo)
#define curl_easy_perform (curl_api.p_curl_easy_perform)
#undef curl_easy_setopt
#define curl_easy_setopt (curl_api.p_curl_easy_setopt)
#define curl_easy_strerror (curl_api.p_curl_easy_strerror)
#define curl_free (curl_api.p_curl_free)
#define curl_slist_append (curl_api.p_curl_slist_append)
#define curl_slist_free_all (curl_api.p_curl_slist_free_all)
#endif

#endif
