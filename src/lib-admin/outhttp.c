/* outhttp - requests to outside web servers (outhttp.h) */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "curl-load.h"

#include "outhttp.h"

void
outhttp_init(void)
{
	(void)curl_load();
}

bool
outhttp_url_allowed(const char *url)
{
	char host[64];
	struct in_addr a4;

	if (strncasecmp(url, "https://", 8) == 0)
		return url[8] != '\0';
	if (strncasecmp(url, "http://", 7) != 0)
		return false;
	const char *h = url + 7;
	if (h[0] == '[' && strchr(h, ']') == NULL)
		return false;
	size_t n = h[0] == '[' ? strcspn(h, "]") + 1 : strcspn(h, ":/?#");
	if (n == 0 || n >= sizeof(host) || (h[n] != '\0' && h[n] != ':' &&
	    h[n] != '/'))
		return false;
	memcpy(host, h, n);
	host[n] = '\0';
	if (strcasecmp(host, "localhost") == 0 || strcmp(host, "[::1]") == 0)
		return true;
	return inet_pton(AF_INET, host, &a4) == 1 &&
	    (ntohl(a4.s_addr) >> 24) == 127;
}

/* the answer's body is not wanted: read and dropped */
static size_t
on_discard(char *p, size_t size, size_t n, void *ctx)
{
	(void)p;
	(void)ctx;
	return size * n;
}

int
outhttp_post(const char *url, const char *ctype, const void *body,
	     size_t len, const char *ca_file, long timeout, char *why,
	     size_t whysize)
{
	CURL *c;
	struct curl_slist *h = NULL;
	char hdr[128];
	long status = 0;
	CURLcode cr;

	if (!outhttp_url_allowed(url)) {
		snprintf(why, whysize, "not an https URL (plain http only to a "
		    "loopback address)");
		return -1;
	}
	outhttp_init();
	if ((c = curl_easy_init()) == NULL) {
		snprintf(why, whysize, "%s", curl_load() ? "out of memory" :
		    curl_load_error());
		return -1;
	}
	snprintf(hdr, sizeof(hdr), "Content-Type: %s", ctype);
	h = curl_slist_append(h, hdr);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, timeout);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "Postern");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	if (ca_file != NULL && *ca_file != '\0')
		curl_easy_setopt(c, CURLOPT_CAINFO, ca_file);
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_discard);
	cr = curl_easy_perform(c);
	if (cr == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	if (cr != CURLE_OK) {
		snprintf(why, whysize, "%s", curl_easy_strerror(cr));
		return -1;
	}
	if (status < 200 || status > 299) {
		snprintf(why, whysize, "HTTP status %ld", status);
		return -1;
	}
	return 0;
}
