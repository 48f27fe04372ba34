/* srs-forward - the SRS sender of forwarded mail (srs-forward.h) */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "directory.h"
#include "log.h"
#include "settings.h"
#include "srs.h"
#include "srs-forward.h"
#include "xalloc.h"

int
srs_forward_hosted(struct db *db, const char *address)
{
	const char *at = strrchr(address, '@'), *err;
	struct dir_domain dom;

	if (at == NULL)
		return 1;       /* a bare name cannot leave */
	int r = dir_domain_get(db, at + 1, &dom, &err);
	if (r < 0)
		log_warnx("directory: %s", err);
	return r;
}

int
srs_forward_sender(struct db *db, const char *qid, const char *sender,
		   const char *forwarder, char *out, size_t outlen)
{
	const char *err;
	char *domain, *key;
	int r;

	if (sender == NULL || *sender == '\0' ||
	    !settings_current(db)->srs_enabled)
		return 0;
	r = srs_forward_hosted(db, sender);
	if (r != 0)
		return r < 0 ? -1 : 0;
	domain = xstrdup(settings_current(db)->srs_domain);
	if (*domain == '\0' && forwarder != NULL) {
		const char *at = strrchr(forwarder, '@');
		free(domain);
		domain = xstrdup(at != NULL ? at + 1 : "");
	}
	if (*domain == '\0') {
		log_info("%s: forward not rewritten with SRS: no srs.domain and "
		    "no forwarding address", qid);
		free(domain);
		return 0;
	}
	key = settings_secret(db, "srs.secret", &err);
	if (key == NULL) {
		log_warnx("%s: srs.secret: %s", qid, err);
		free(domain);
		return -1;
	}
	r = srs_forward(key, strlen(key), sender, domain, time(NULL), out,
	    outlen, &err);
	explicit_bzero(key, strlen(key));
	free(key);
	if (r < 0)
		log_info("%s: forward not rewritten with SRS: <%s>: %s", qid,
		    sender, err);
	free(domain);
	return r < 0 ? 0 : 1;
}
