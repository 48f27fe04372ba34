/* tls - OpenSSL contexts: server with SNI certificates, client */
#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>

#include "fsutil.h"
#include "log.h"
#include "settings.h"
#include "tls.h"
#include "xalloc.h"

#define SNI_CACHE_MAX 256

struct sni_entry {
	char name[256];
	SSL_CTX *ctx;       /* NULL: no certificate for this name */
	time_t checked;
};

static SSL_CTX *server_ctx;
static char *cert_dir;
static struct sni_entry sni_cache[SNI_CACHE_MAX];
static size_t sni_count;
static bool sni_frozen;     /* tls_server_preload: no file looked at again */

static SSL_CTX *
new_ctx(const char *crt, const char *key, const char **error_r)
{
	static char err[512];
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	*error_r = err;
	if (ctx == NULL) {
		snprintf(err, sizeof(err), "SSL_CTX_new failed");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (SSL_CTX_use_certificate_chain_file(ctx, crt) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		unsigned long e = ERR_get_error();
		snprintf(err, sizeof(err), "cannot load certificate %s / key %s: %s",
		    crt, key, ERR_error_string(e, NULL));
		ERR_clear_error();
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

static bool
sni_name_ok(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > 253 || name[0] == '.')
		return false;
	for (const char *p = name; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-')
			return false;
	return strstr(name, "..") == NULL;
}

static SSL_CTX *
sni_lookup(const char *name)
{
	char lower[256], *crt, *key;
	const char *err;
	time_t now = time(NULL);
	struct sni_entry *e = NULL;

	snprintf(lower, sizeof(lower), "%s", name);
	for (char *p = lower; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	for (size_t i = 0; i < sni_count; i++)
		if (strcmp(sni_cache[i].name, lower) == 0) {
			e = &sni_cache[i];
			break;
		}
	if (e != NULL && (now - e->checked < 60 || sni_frozen))
		return e->ctx;
	if (sni_frozen)
		return NULL;
	if (e == NULL) {
		if (sni_count == SNI_CACHE_MAX) {
			/* full: forget the oldest look-up */
			size_t oldest = 0;
			for (size_t i = 1; i < sni_count; i++)
				if (sni_cache[i].checked < sni_cache[oldest].checked)
					oldest = i;
			e = &sni_cache[oldest];
			SSL_CTX_free(e->ctx);
		} else {
			e = &sni_cache[sni_count++];
		}
		memset(e, 0, sizeof(*e));
		snprintf(e->name, sizeof(e->name), "%s", lower);
	}
	e->checked = now;
	crt = xasprintf("%s/%s.crt", cert_dir, lower);
	key = xasprintf("%s/%s.key", cert_dir, lower);
	if (access(crt, R_OK) == 0 && access(key, R_OK) == 0) {
		SSL_CTX *ctx = new_ctx(crt, key, &err);
		if (ctx == NULL)
			log_warnx("SNI %s: %s", lower, err);
		else {
			SSL_CTX_free(e->ctx);
			e->ctx = ctx;
		}
	} else if (e->ctx != NULL) {
		SSL_CTX_free(e->ctx);
		e->ctx = NULL;
	}
	free(crt);
	free(key);
	return e->ctx;
}

static int
on_servername(SSL *ssl, int *alert, void *arg)
{
	const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	SSL_CTX *ctx;

	if (name == NULL || !sni_name_ok(name))
		return SSL_TLSEXT_ERR_OK;
	ctx = sni_lookup(name);
	if (ctx != NULL)
		SSL_set_SSL_CTX(ssl, ctx);
	return SSL_TLSEXT_ERR_OK;
}

SSL_CTX *
tls_server_ctx(struct service *svc, const char **error_r)
{
	char *crt, *key;

	if (server_ctx != NULL)
		return server_ctx;
	crt = xstrdup(service_settings(svc)->tls_cert);
	key = xstrdup(service_settings(svc)->tls_key);
	if (*crt == '\0') {
		free(crt);
		crt = path_join(svc->root, "certs/default.crt");
	}
	if (*key == '\0') {
		free(key);
		key = path_join(svc->root, "certs/default.key");
	}
	server_ctx = new_ctx(crt, key, error_r);
	free(crt);
	free(key);
	if (server_ctx == NULL)
		return NULL;
	free(cert_dir);
	cert_dir = path_join(svc->root, "certs");
	SSL_CTX_set_tlsext_servername_callback(server_ctx, on_servername);
	return server_ctx;
}

int
tls_server_preload(void)
{
	int n = 0;

	if (cert_dir == NULL)
		return 0;
	DIR *d = opendir(cert_dir);
	struct dirent *de;
	while (d != NULL && (de = readdir(d)) != NULL &&
	    sni_count < SNI_CACHE_MAX) {
		size_t len = strlen(de->d_name);
		if (len <= 4 || strcmp(de->d_name + len - 4, ".crt") != 0)
			continue;
		char name[256];
		snprintf(name, sizeof(name), "%.*s", (int)(len - 4), de->d_name);
		if (strcmp(name, "default") == 0 || !sni_name_ok(name))
			continue;
		if (sni_lookup(name) != NULL)
			n++;
	}
	if (d != NULL)
		closedir(d);
	sni_frozen = true;
	return n;
}

SSL_CTX *
tls_client_ctx(void)
{
	static SSL_CTX *ctx;

	if (ctx != NULL)
		return ctx;
	ctx = SSL_CTX_new(TLS_client_method());
	if (ctx == NULL)
		return NULL;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
	return ctx;
}

const char *
tls_describe(SSL *ssl, char *out, size_t size)
{
	snprintf(out, size, "%s %s", SSL_get_version(ssl),
	    SSL_CIPHER_get_name(SSL_get_current_cipher(ssl)));
	return out;
}
