/* out-tlsrpt - TLS-RPT (RFC 8460): the result of each session with an
 * MTA-STS or DANE policy, and of each failure of the policy itself, as a
 * row of the day's file (tlsrpt.h); `postern tls report` sends them */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/bufferevent.h>
#include <openssl/x509.h>

#include "log.h"
#include "settings.h"
#include "smtp-out.h"

static bool
tlsrpt_on(struct outsvc *o)
{
	return settings_current(o->svc->db)->tlsrpt_enabled != 0;
}

static void
row_write(struct outsvc *o, struct tlsrpt_row *row)
{
	const char *err = NULL;

	row->when = time(NULL);
	if (tlsrpt_append(db_root(o->svc->db), row, &err) < 0)
		log_warnx("TLS-RPT: %s: result not recorded: %s", row->domain,
		    err);
}

static void
ip_of(const struct sockaddr_storage *ss, char *out, size_t size)
{
	out[0] = '\0';
	if (ss->ss_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr,
		    out, (socklen_t)size);
	else if (ss->ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr,
		    out, (socklen_t)size);
}

/* sts_text - the policy as RFC 8460 4.4's policy-string lines */
static void
sts_text(const struct mtasts_policy *p, struct buf *out)
{
	buf_printf(out, "version: STSv1|mode: %s", mtasts_mode_name(p->mode));
	for (size_t i = 0; i < p->nmx; i++)
		buf_printf(out, "|mx: %s", p->mx[i]);
	buf_printf(out, "|max_age: %ld", p->max_age);
}

void
tlsrpt_record(struct dest *d, enum tlsrpt_policy type, const char *result,
	      const char *detail)
{
	struct tlsrpt_row row;
	struct buf pol;

	if (d->rt.relay || !tlsrpt_on(d->o))
		return;
	if (type == TLSRPT_STS && d->sts == NULL)
		return;
	memset(&row, 0, sizeof(row));
	row.type = type;
	snprintf(row.domain, sizeof(row.domain), "%s", d->rt.domain);
	snprintf(row.mx, sizeof(row.mx), "%s", d->mxname);
	snprintf(row.result, sizeof(row.result), "%s", result);
	snprintf(row.detail, sizeof(row.detail), "%s", detail ? detail : "");
	buf_init(&pol, 0);
	if (type == TLSRPT_STS)
		sts_text(d->sts, &pol);
	else
		dane_tlsa_text(d, &pol);
	snprintf(row.policy, sizeof(row.policy), "%s", pol.data ? pol.data : "");
	buf_free(&pol);
	if (d->bev != NULL && d->state >= S_GREETING) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		evutil_socket_t fd = bufferevent_getfd(d->bev);

		ip_of(&d->cur_addr, row.receiving_ip, sizeof(row.receiving_ip));
		if (fd >= 0 && getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
			ip_of(&ss, row.sending_ip, sizeof(row.sending_ip));
	}
	row_write(d->o, &row);
}

void
tlsrpt_record_domain(struct outsvc *o, const char *domain,
		     enum tlsrpt_policy type, const char *result,
		     const char *detail)
{
	struct tlsrpt_row row;

	if (!tlsrpt_on(o))
		return;
	memset(&row, 0, sizeof(row));
	row.type = type;
	snprintf(row.domain, sizeof(row.domain), "%s", domain);
	snprintf(row.result, sizeof(row.result), "%s", result);
	snprintf(row.detail, sizeof(row.detail), "%s", detail ? detail : "");
	row_write(o, &row);
}

const char *
tlsrpt_verify_result(long v)
{
	switch (v) {
	case X509_V_ERR_HOSTNAME_MISMATCH:
		return "certificate-host-mismatch";
	case X509_V_ERR_CERT_HAS_EXPIRED:
	case X509_V_ERR_CERT_NOT_YET_VALID:
		return "certificate-expired";
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_CERT_UNTRUSTED:
		return "certificate-not-trusted";
	default:
		return "validation-failure";
	}
}
