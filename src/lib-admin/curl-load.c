/* curl-load - libcurl on first use (curl-load.h says why) */
#define CURL_LOAD_SELF
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "curl-load.h"

struct curl_api curl_api;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static bool loaded;
static char err[300] = "libcurl was not loaded";

static void
load(void)
{
	void *h = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);

	if (h == NULL) {
		snprintf(err, sizeof(err), "libcurl cannot be loaded (install "
		    "the libcurl4 package): %s", dlerror());
		return;
	}
	/* dlsym's void * to a function pointer (POSIX allows it) by memcpy */
#define CURL_RESOLVE(f) { \
		void *p = dlsym(h, #f); \
		if (p == NULL) { \
			snprintf(err, sizeof(err), "libcurl.so.4 lacks %s", #f); \
			return; \
		} \
		memcpy(&curl_api.p_##f, &p, sizeof(p)); \
	}
	CURL_FUNCS(CURL_RESOLVE)
#undef CURL_RESOLVE
	if (curl_api.p_curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(err, sizeof(err), "libcurl cannot start");
		return;
	}
	loaded = true;
}

bool
curl_load(void)
{
	pthread_once(&once, load);
	return loaded;
}

const char *
curl_load_error(void)
{
	return err;
}
