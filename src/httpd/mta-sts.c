/* mta-sts - the MTA-STS policy (RFC 8461 3.2) of hosted domains at
 * https://mta-sts.<domain>/.well-known/mta-sts.txt, from the settings
 * mta_sts.publish (mode), mta_sts.publish_mx and mta_sts.publish_max_age */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "directory.h"
#include "httpd.h"
#include "mtasts.h"
#include "settings.h"
#include "xalloc.h"

static void
policy(struct httpd_req *rq, struct http_response *resp)
{
	struct db *db = rq->svc->db;
	const char *h = rq->req->host, *err = NULL;
	char domain[256];
	struct dir_domain dom;

	size_t n = h != NULL ? strcspn(h, ":") : 0;
	if (n <= 8 || strncasecmp(h, "mta-sts.", 8) != 0 ||
	    n - 8 >= sizeof(domain)) {
		httpd_error(resp, 404, "Ask mta-sts.<domain>.");
		return;
	}
	snprintf(domain, sizeof(domain), "%.*s", (int)(n - 8), h + 8);
	char *mode = xstrdup(settings_text(settings_current(db), SETTING_mta_sts_publish));
	int r = strcmp(mode, "off") != 0 && mode[0] != '\0' ?
	    dir_domain_get(db, domain, &dom, &err) : 0;
	if (r <= 0) {
		free(mode);
		httpd_error(resp, r < 0 ? 503 : 404, r < 0 ? "Try again later." :
		    "No MTA-STS policy is published for this domain here.");
		return;
	}
	char *mx = xstrdup(settings_current(db)->mta_sts_publish_mx);
	if (mx[0] == '\0') {
		free(mx);
		mx = settings_hostname(db);
	}
	struct buf b;
	buf_init(&b, MTASTS_POLICY_MAX);
	if (mtasts_policy_text(mode, mx, settings_current(db)->mta_sts_publish_max_age, &b, &err) < 0) {
		httpd_error(resp, 500, "The MTA-STS settings make no valid "
		    "policy (mta_sts.publish_mx).");
	} else {
		resp->status = 200;
		http_response_field(resp, "Content-Type", "text/plain");
		buf_reset(&resp->body);
		buf_append(&resp->body, b.data, b.len);
		rq->note = "mta-sts";
	}
	buf_free(&b);
	free(mx);
	free(mode);
}

const struct httpd_route mta_sts_routes[] = {
	{ "/.well-known/mta-sts.txt", false, "GET, HEAD", policy },
	{ NULL, false, NULL, NULL },
};
