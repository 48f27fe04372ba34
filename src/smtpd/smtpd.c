/* smtpd - the inbound SMTP connector: listeners, limits, sessions */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commit.h"
#include "log.h"
#include "queue.h"
#include "settings.h"
#include "smtpd.h"
#include "tls.h"
#include "xalloc.h"

/* commits in flight at once: enough for the journal to group the flushes
 * of many concurrent sessions */
#define COMMIT_THREADS 32

static struct smtpd smtpd;

/* the connection layer: limits, TLS, timeouts (lib-service/conn.h) */
static const struct conn_def smtpd_conn = {
	.sid_letter = 's',
	.protocol = "smtp",
	.tls_listener = "smtps",
	.limit_setting = SETTING_smtp_max_connections_per_ip,
	.total_setting = SETTING_smtp_max_connections,
	.idle_timeout_setting = SETTING_smtp_timeout,
	.in_high = 256 * 1024,      /* input buffered by libevent at most */
	.out_high = 64 * 1024,      /* replies queued: stop reading commands */
	.ops = &session_ops,
};

static void
smtpd_accept(struct service *svc, struct service_listener *l, int fd,
	     const struct sockaddr *sa, socklen_t salen)
{
	smtpd_dns_reload(&smtpd);
	conn_accept(smtpd.conns, l, fd, sa, salen);
}

/* smtpd_dns_reload - follow dns.hosts; the old resolver goes only when no
 * lookup of it is out (sessions' checks hold it until they finish) */
void
smtpd_dns_reload(struct smtpd *sd)
{
	char *servers = xstrdup(settings_current(sd->svc->db)->dns_hosts);
	struct dns_resolver *r;
	const char *err;

	if ((sd->dns_servers != NULL && strcmp(servers, sd->dns_servers) == 0) ||
	    (sd->dns != NULL && dns_pending(sd->dns) > 0)) {
		free(servers);
		return;
	}
	r = dns_resolver_new(sd->svc->base, servers, 2000, 2, &err);
	if (r == NULL)
		log_error("DNS resolver (dns.hosts '%s'): %s; no DNS block list "
		    "or reverse DNS checks", servers, err);
	dns_resolver_free(&sd->dns);
	sd->dns = r;
	free(sd->dns_servers);
	sd->dns_servers = servers;   /* a bad value is not retried */
}

static int
smtpd_init(struct service *svc)
{
	smtpd.svc = svc;
	smtpd.hostname = settings_hostname(svc->db);
	smtpd.qroot = settings_queue_path(svc->db);
	smtpd.qpath = queue_path(smtpd.qroot, "smtp", QUEUE_INBOUND);
	if (queue_ensure(smtpd.qpath) < 0) {
		log_warn("cannot create the queue %s", smtpd.qpath);
		return -1;
	}
	smtpd.conns = conn_server_new(svc, &smtpd_conn, &smtpd);
	smtpd.tls = conn_server_tls(smtpd.conns);
	char *busy = xasprintf("421 4.7.0 %s Too many connections from your "
	    "address, try again later\r\n", smtpd.hostname);
	char *full = xasprintf("421 4.7.0 %s Too many connections, try again "
	    "later\r\n", smtpd.hostname);
	conn_server_busy_text(smtpd.conns, busy, full);
	free(busy);
	free(full);
	smtpd_dns_reload(&smtpd);
	if (commit_pool_start(svc->base, COMMIT_THREADS) < 0) {
		log_warn("cannot start the commit threads");
		return -1;
	}
	log_info("inbound queue %s, host name %s", smtpd.qpath, smtpd.hostname);
	return 0;
}

static void
smtpd_shutdown(struct service *svc)
{
	/* nothing was promised for messages in progress: their clients
	 * retry; partial queue items are removed. Commits in flight finish
	 * (and are answered if the reply can still get out). */
	commit_pool_stop();
	session_shutdown_all(&smtpd);
	conn_server_free(&smtpd.conns);
	dns_resolver_free(&smtpd.dns);
}

int
main(int argc, char **argv)
{
	static const char *const listeners[] = { "smtp", "submission", "smtps",
	    NULL };
	static const struct service_def def = {
		.name = "smtpd",
		.listeners = listeners,
		.init = smtpd_init,
		.accept = smtpd_accept,
		.shutdown = smtpd_shutdown,
	};
	int rc = service_main(argc, argv, &def);

	free(smtpd.hostname);
	free(smtpd.qpath);
	free(smtpd.qroot);
	free(smtpd.dns_servers);
	return rc;
}
