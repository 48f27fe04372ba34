/* verdict - the content filters' settings and decisions */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clamd.h"
#include "directory.h"
#include "settings.h"
#include "verdict.h"

int
verdict_postoffice_choice(struct db *db, const char *address,
			  const char *field)
{
	struct dir_route route;
	const char *err;
	char *v = NULL;
	int r = -1;

	if (dir_resolve(db, address, &route, &err) != DIR_RESOLVE_LOCAL ||
	    route.postoffice_id <= 0)
		return -1;
	if (dir_object_field(db, "postoffice", route.postoffice_id, field, &v,
	    &err) == 0 && v != NULL) {
		if (strcmp(v, "on") == 0)
			r = 1;
		else if (strcmp(v, "off") == 0)
			r = 0;
	}
	free(v);
	return r;
}

void
av_config_load(struct db *db, const struct queue_env *env,
	       struct av_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	char *clamd = settings_get_str(db, "antivirus.clamd");
	snprintf(cfg->clamd, sizeof(cfg->clamd), "%s", clamd);
	free(clamd);
	if (cfg->clamd[0] == '\0')
		return;
	cfg->timeout_ms = settings_get_int(db, "antivirus.timeout", 30) * 1000;
	cfg->stream_max = (off_t)settings_get_int(db, "antivirus.stream_max",
	    25600) * 1024;
	char *fail = settings_get_str(db, "antivirus.on_failure");
	cfg->pass_on_failure = strcmp(fail, "pass") == 0;
	free(fail);
	cfg->at_smtp = settings_get_int(db, "antivirus.at_smtp", 1) != 0;
	bool global = settings_get_int(db, "antivirus.scan", 1) != 0;
	if (env == NULL || env->nrcpts == 0) {
		cfg->enabled = global;
		return;
	}
	for (size_t i = 0; i < env->nrcpts; i++) {
		int c = verdict_postoffice_choice(db, env->rcpts[i].address,
		    "antivirus");
		/* on, or inherit (or not hosted here) with the global on */
		if (c == 1 || (c < 0 && global)) {
			cfg->enabled = true;
			return;
		}
	}
}

void
av_scan_fd(const struct av_config *cfg, int fd, struct av_result *res)
{
	const char *err = NULL;

	memset(res, 0, sizeof(*res));
	enum clamd_result r = clamd_scan_fd(cfg->clamd, fd, cfg->stream_max,
	    cfg->timeout_ms, res->virus, sizeof(res->virus), &res->partial,
	    &err);
	switch (r) {
	case CLAMD_CLEAN:
		res->verdict = AV_CLEAN;
		break;
	case CLAMD_FOUND:
		res->verdict = AV_VIRUS;
		break;
	case CLAMD_ERROR:
		snprintf(res->error, sizeof(res->error), "%s",
		    err ? err : "clamd failed");
		res->verdict = cfg->pass_on_failure ? AV_UNSCANNED_PASS :
		    AV_UNSCANNED_DEFER;
		break;
	}
}

void
av_scan_file(const struct av_config *cfg, const char *path,
	     struct av_result *res)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		memset(res, 0, sizeof(*res));
		snprintf(res->error, sizeof(res->error), "open %s: %s", path,
		    strerror(errno));
		res->verdict = cfg->pass_on_failure ? AV_UNSCANNED_PASS :
		    AV_UNSCANNED_DEFER;
		return;
	}
	av_scan_fd(cfg, fd, res);
	close(fd);
}

void
av_reason(const struct av_result *res, char *out, size_t outlen)
{
	switch (res->verdict) {
	case AV_VIRUS:
		snprintf(out, outlen, "virus found: %s%s", res->virus,
		    res->partial ? " (in the first antivirus.stream_max bytes)" : "");
		break;
	case AV_CLEAN:
		snprintf(out, outlen, "clean%s", res->partial ?
		    " (only the first antivirus.stream_max bytes scanned)" : "");
		break;
	default:
		snprintf(out, outlen, "virus scanner unavailable: %s", res->error);
		break;
	}
}
