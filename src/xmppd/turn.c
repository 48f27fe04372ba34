/* turn - XEP-0215 external service discovery: the STUN and TURN server
 * of the installation (coturn, chat.turn.*), with short-term TURN
 * credentials in the REST API scheme coturn checks with its
 * use-auth-secret / static-auth-secret options: the user name is
 * "<expiry>:<JID>", the password base64(HMAC-SHA1(secret, user name)),
 * so nothing is stored and coturn needs only the shared secret */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "buf.h"
#include "log.h"
#include "settings.h"
#include "strutil.h"
#include "xalloc.h"
#include "xmppd.h"

/* turn_enabled - whether a TURN server is configured (chat.turn.host) */
bool
turn_enabled(void)
{
	char *host = xstrdup(settings_current(xsrv.svc->db)->chat_turn_host);
	bool on = host != NULL && host[0] != '\0';

	free(host);
	return on;
}

/* turn_credentials - the REST API credentials for user valid until
 * expires (new strings); -1 when the secret cannot be had */
int
turn_credentials(const char *user, time_t expires, char **name_r,
		 char **password_r)
{
	const char *err;
	char *secret = settings_secret(xsrv.svc->db, "chat.turn.secret", &err);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (secret == NULL) {
		log_warnx("chat.turn.secret: %s", err);
		return -1;
	}
	*name_r = xasprintf("%lld:%s", (long long)expires, user);
	HMAC(EVP_sha1(), secret, (int)strlen(secret),
	    (const unsigned char *)*name_r, strlen(*name_r), md, &mdlen);
	OPENSSL_cleanse(secret, strlen(secret));
	free(secret);
	char *b64 = xmalloc(4 * ((mdlen + 2) / 3) + 1);
	EVP_EncodeBlock((unsigned char *)b64, md, (int)mdlen);
	*password_r = b64;
	return 0;
}

/* add_services - the service elements of type (NULL: all) into q */
static void
add_services(struct xsess *s, struct xml_node *q, const char *type)
{
	char *host = xstrdup(settings_current(xsrv.svc->db)->chat_turn_host);
	int64_t port = settings_current(xsrv.svc->db)->chat_turn_port;
	int64_t ttl = settings_current(xsrv.svc->db)->chat_turn_ttl;
	char portv[16], stamp[32];
	time_t exp = time(NULL) + (time_t)ttl;
	struct tm tm;
	char *name = NULL, *pass = NULL;

	snprintf(portv, sizeof(portv), "%lld", (long long)port);
	gmtime_r(&exp, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (type == NULL || strcmp(type, "stun") == 0)
		for (int t = 0; t < 2; t++)
			xml_node_add(q, "service", "type", "stun", "host",
			    host, "port", portv, "transport", t ? "tcp" :
			    "udp", NULL);
	if ((type == NULL || strcmp(type, "turn") == 0) &&
	    turn_credentials(s->bare, exp, &name, &pass) == 0)
		for (int t = 0; t < 2; t++)
			xml_node_add(q, "service", "type", "turn", "host",
			    host, "port", portv, "transport", t ? "tcp" :
			    "udp", "username", name, "password", pass,
			    "expires", stamp, "restricted", "1", NULL);
	free(name);
	free(pass);
	free(host);
}

/* turn_iq - <services/> or <credentials/> of urn:xmpp:extdisco:2 to the
 * server */
void
turn_iq(struct xsess *s, struct xml_node *iq, struct xml_node *payload,
	const char *from)
{
	const char *type = xml_node_attr(iq, "type");

	if (!turn_enabled() || s->guest) {
		im_error_from(s, iq, from, "cancel", "service-unavailable",
		    s->guest ? NULL : "no STUN or TURN server is configured "
		    "(chat.turn.host)");
		return;
	}
	if (type == NULL || strcmp(type, "get") != 0) {
		im_error_from(s, iq, from, "cancel", "bad-request", NULL);
		return;
	}
	struct xml_node *r = im_result_from(s, iq, from);
	if (strcmp(payload->name, "services") == 0) {
		struct xml_node *q = xml_node_add(r, "services", "xmlns",
		    NS_EXTDISCO, NULL);
		add_services(s, q, xml_node_attr(payload, "type"));
	} else if (strcmp(payload->name, "credentials") == 0) {
		/* XEP-0215 3.3: for the services named */
		struct xml_node *q = xml_node_add(r, "credentials", "xmlns",
		    NS_EXTDISCO, NULL);
		add_services(s, q, "turn");
	} else {
		xml_node_free(&r);
		im_error_from(s, iq, from, "cancel", "feature-not-implemented",
		    NULL);
		return;
	}
	xsess_send(s, r);
	xml_node_free(&r);
}
