/* autodiscover - mail client configuration (manual 5.4.5):
 *
 *   POST|GET /autodiscover/autodiscover.xml        Outlook (POX schema
 *       2006a; the address from the request's EMailAddress, or for GET
 *       from ?email= / ?emailaddress=); also /Autodiscover/Autodiscover.xml
 *   GET /mail/config-v1.1.xml?emailaddress=A       Thunderbird autoconfig
 *   GET /.well-known/autoconfig/mail/config-v1.1.xml[?emailaddress=A]
 *       (either without an address: the domain of the Host, autoconfig.D
 *       or D)
 *
 * The servers are the domain's autodiscover entries (lib-admin/
 * autodiscover.h, `postern domain autodiscover`), or when it has none
 * those derived from this server's listeners. A domain not hosted here
 * (or disabled) gets 404: no settings of another domain. The login name
 * is the address when the domain's post office allows address logins,
 * else the mailbox the address belongs to (adm_autodiscover_login:
 * sales@acme.test on mailbox bob gets bob@acme, the login that works),
 * else local-part@postoffice. That tells whether an address is a
 * mailbox's, and which, as SMTP's RCPT already tells who exists; catch-all
 * routes are not followed. Every value is
 * XML-escaped. For RFC 6186 SRV records see `postern domain autodiscover
 * list`. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autodiscover-xml.h"
#include "autodiscover.h"
#include "directory.h"
#include "http-form.h"
#include "httpd.h"
#include "log.h"
#include "strutil.h"
#include "xalloc.h"

struct ad_domain {
	char domain[256];
	char postoffice[256];
	bool address_login;
	struct adm_autodiscover *v;
	size_t n;
};

/* domain_load - the hosted, enabled domain and its entries: 1, 0 not
 * hosted here (404), -1 error */
static int
domain_load(struct httpd_req *rq, const char *domain, struct ad_domain *d)
{
	struct dir_domain dd;
	struct dir_postoffice po;
	const char *err;
	char lower[256];

	memset(d, 0, sizeof(*d));
	if (strlen(domain) >= sizeof(lower) || domain_check(domain, &err) < 0)
		return 0;
	snprintf(lower, sizeof(lower), "%s", domain);
	str_lower(lower);
	int r = dir_domain_get(rq->svc->db, lower, &dd, &err);
	if (r <= 0 || dd.disabled || dd.postoffice_disabled) {
		if (r < 0)
			log_warnx("autodiscover %s: %s", lower, err);
		return r < 0 ? -1 : 0;
	}
	if (dir_postoffice_get_id(rq->svc->db, dd.postoffice_id, &po, &err) <= 0)
		return -1;
	snprintf(d->domain, sizeof(d->domain), "%s", lower);
	snprintf(d->postoffice, sizeof(d->postoffice), "%s", po.name);
	d->address_login = po.allow_address_login;
	if (adm_autodiscover_list(rq->svc->db, lower, &d->v, &d->n, &err) < 0) {
		log_warnx("autodiscover %s: %s", lower, err);
		return -1;
	}
	if (d->n == 0)
		adm_autodiscover_derive(rq->svc->db, &d->v, &d->n);
	return 1;
}

/* split_address - the local part and domain of an address: 0 or -1 */
static int
split_address(const char *addr, char *local, size_t lsize, char *domain,
	      size_t dsize)
{
	const char *at = strrchr(addr, '@');

	if (at == NULL || at == addr || at[1] == '\0' ||
	    (size_t)(at - addr) >= lsize || strlen(at + 1) >= dsize)
		return -1;
	for (const char *p = addr; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f || *p == '<' ||
		    *p == '>' || *p == '"')
			return -1;
	snprintf(local, lsize, "%.*s", (int)(at - addr), addr);
	snprintf(domain, dsize, "%s", at + 1);
	return 0;
}

static void
elem(struct buf *b, const char *indent, const char *name, const char *value)
{
	buf_printf(b, "%s<%s>", indent, name);
	http_escape(b, value);
	buf_printf(b, "</%s>\n", name);
}

static void
xml_answer(struct http_response *resp, const char *type, struct buf *x)
{
	resp->status = 200;
	http_response_field(resp, "Content-Type", "%s; charset=utf-8", type);
	http_response_field(resp, "Cache-Control", "no-store");
	buf_reset(&resp->body);
	buf_append(&resp->body, x->data, x->len);
}

/* outlook_xml - the response schema of Outlook autodiscover (2006a) */
static void
outlook_xml(struct db *db, const struct ad_domain *d, const char *email,
	    struct buf *x)
{
	static const char *const types[][2] = { { "imap", "IMAP" },
	    { "pop3", "POP3" }, { "smtp", "SMTP" } };
	char *login = adm_autodiscover_login(db, email, d->postoffice,
	    d->address_login);

	buf_puts(x, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
	    "<Autodiscover xmlns=\"http://schemas.microsoft.com/exchange/"
	    "autodiscover/responseschema/2006\">\n<Response xmlns=\"http://"
	    "schemas.microsoft.com/exchange/autodiscover/outlook/"
	    "responseschema/2006a\">\n<Account>\n<AccountType>email</AccountType>\n"
	    "<Action>settings</Action>\n");
	for (size_t t = 0; t < 3; t++) {
		/* one Protocol per type: the preferred entry */
		for (size_t i = 0; i < d->n; i++) {
			const struct adm_autodiscover *e = &d->v[i];
			if (strcmp(e->protocol, types[t][0]) != 0)
				continue;
			char port[16];
			snprintf(port, sizeof(port), "%d", e->port);
			buf_puts(x, "<Protocol>\n");
			elem(x, " ", "Type", types[t][1]);
			elem(x, " ", "Server", e->host);
			elem(x, " ", "Port", port);
			elem(x, " ", "DomainRequired", "off");
			elem(x, " ", "LoginName", login);
			elem(x, " ", "SPA", "off");
			elem(x, " ", "SSL", strcmp(e->security, "none") == 0 ? "off" : "on");
			elem(x, " ", "Encryption", strcmp(e->security, "tls") == 0 ?
			    "SSL" : strcmp(e->security, "starttls") == 0 ? "TLS" : "None");
			elem(x, " ", "AuthRequired", "on");
			if (t == 2)
				elem(x, " ", "UsePOPAuth", "off");
			buf_puts(x, "</Protocol>\n");
			break;
		}
	}
	buf_puts(x, "</Account>\n</Response>\n</Autodiscover>\n");
	free(login);
}

static void
outlook(struct httpd_req *rq, struct http_response *resp)
{
	const struct http_request *req = rq->req;
	char email[AUTODISCOVER_EMAIL_MAX + 1], local[AUTODISCOVER_EMAIL_MAX + 1],
	    domain[256];
	struct ad_domain d;

	email[0] = '\0';
	if (strcmp(req->method, "POST") == 0) {
		if (autodiscover_request_email(req->body.data ? req->body.data : "",
		    req->body.len, email, sizeof(email)) < 0) {
			httpd_error(resp, 400, "An autodiscover request with an "
			    "EMailAddress is expected.");
			return;
		}
	} else {
		struct http_form q = { 0 };
		const char *err, *v = NULL;
		if (req->query != NULL && http_form_parse(req->query,
		    strlen(req->query), &q, &err) == 0) {
			v = http_form_get(&q, "emailaddress");
			if (v == NULL)
				v = http_form_get(&q, "email");
		}
		if (v != NULL && strlen(v) < sizeof(email))
			snprintf(email, sizeof(email), "%s", v);
		http_form_free(&q);
	}
	if (split_address(email, local, sizeof(local), domain, sizeof(domain)) < 0) {
		httpd_error(resp, 400, "An e-mail address is expected.");
		return;
	}
	int r = domain_load(rq, domain, &d);
	if (r <= 0) {
		httpd_error(resp, r < 0 ? 503 : 404, r < 0 ? "Try again later." :
		    "This domain is not served here.");
		return;
	}
	struct buf x;
	buf_init(&x, 0);
	outlook_xml(rq->svc->db, &d, email, &x);
	xml_answer(resp, "text/xml", &x);
	buf_free(&x);
	rq->note = "outlook";
	adm_autodiscover_free(d.v, d.n);
}

/* thunderbird_xml - clientConfig 1.1 (Thunderbird autoconfig); with
 * the address asked for, its login, else Thunderbird's placeholders */
static void
thunderbird_xml(struct db *db, const struct ad_domain *d, const char *email,
		struct buf *x)
{
	char *login = email != NULL ? adm_autodiscover_login(db, email,
	    d->postoffice, d->address_login) : d->address_login ?
	    xstrdup("%EMAILADDRESS%") :
	    xasprintf("%%EMAILLOCALPART%%@%s", d->postoffice);

	buf_puts(x, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<clientConfig version=\"1.1\">\n<emailProvider id=\"");
	http_escape(x, d->domain);
	buf_puts(x, "\">\n");
	elem(x, " ", "domain", d->domain);
	elem(x, " ", "displayName", d->domain);
	elem(x, " ", "displayShortName", d->domain);
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < d->n; i++) {
			const struct adm_autodiscover *e = &d->v[i];
			bool smtp = strcmp(e->protocol, "smtp") == 0;
			if (smtp != (pass == 1))
				continue;
			char port[16];
			snprintf(port, sizeof(port), "%d", e->port);
			buf_printf(x, " <%s type=\"%s\">\n", smtp ? "outgoingServer" :
			    "incomingServer", smtp ? "smtp" : e->protocol);
			elem(x, "  ", "hostname", e->host);
			elem(x, "  ", "port", port);
			elem(x, "  ", "socketType", strcmp(e->security, "tls") == 0 ?
			    "SSL" : strcmp(e->security, "starttls") == 0 ? "STARTTLS" :
			    "plain");
			elem(x, "  ", "authentication", "password-cleartext");
			elem(x, "  ", "username", login);
			buf_printf(x, " </%s>\n", smtp ? "outgoingServer" :
			    "incomingServer");
		}
	}
	buf_puts(x, "</emailProvider>\n</clientConfig>\n");
	free(login);
}

static void
thunderbird(struct httpd_req *rq, struct http_response *resp)
{
	const struct http_request *req = rq->req;
	char local[AUTODISCOVER_EMAIL_MAX + 1], domain[256] = "";
	struct http_form q = { 0 };
	const char *err, *email = NULL;
	struct ad_domain d;

	if (req->query != NULL && http_form_parse(req->query, strlen(req->query),
	    &q, &err) < 0) {
		httpd_error(resp, 400, "Bad query.");
		return;
	}
	email = http_form_get(&q, "emailaddress");
	if (email != NULL) {
		if (split_address(email, local, sizeof(local), domain,
		    sizeof(domain)) < 0) {
			http_form_free(&q);
			httpd_error(resp, 400, "An e-mail address is expected.");
			return;
		}
	} else if (req->host != NULL) {
		/* autoconfig.<domain>[:port] */
		const char *h = req->host;
		size_t n = strcspn(h, ":");
		if (strncasecmp(h, "autoconfig.", 11) == 0) {
			h += 11;
			n -= 11;
		}
		if (n < sizeof(domain))
			snprintf(domain, sizeof(domain), "%.*s", (int)n, h);
	}
	char *asked = email != NULL ? xstrdup(email) : NULL;
	http_form_free(&q);
	if (domain[0] == '\0') {
		free(asked);
		httpd_error(resp, 400, "Give ?emailaddress=.");
		return;
	}
	int r = domain_load(rq, domain, &d);
	if (r <= 0) {
		free(asked);
		httpd_error(resp, r < 0 ? 503 : 404, r < 0 ? "Try again later." :
		    "This domain is not served here.");
		return;
	}
	struct buf x;
	buf_init(&x, 0);
	thunderbird_xml(rq->svc->db, &d, asked, &x);
	free(asked);
	xml_answer(resp, "application/xml", &x);
	buf_free(&x);
	rq->note = "autoconfig";
	adm_autodiscover_free(d.v, d.n);
}

const struct httpd_route autodiscover_routes[] = {
	{ "/autodiscover/autodiscover.xml", false, "GET, HEAD, POST", outlook },
	{ "/Autodiscover/Autodiscover.xml", false, "GET, HEAD, POST", outlook },
	{ "/mail/config-v1.1.xml", false, "GET, HEAD", thunderbird },
	{ "/.well-known/autoconfig/mail/config-v1.1.xml", false, "GET, HEAD",
	  thunderbird },
	{ NULL, false, NULL, NULL },
};
