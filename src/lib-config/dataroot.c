/* dataroot - creating and finding a data root */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "dataroot.h"
#include "db.h"
#include "fsutil.h"
#include "settings.h"
#include "strutil.h"
#include "xalloc.h"

int
dataroot_host_services(const char *root, char **list_r, const char **error_r)
{
	return dataroot_host_value(root, "services", list_r, error_r);
}

int
dataroot_host_value(const char *root, const char *key, char **value_r,
		    const char **error_r)
{
	static char errbuf[PATH_MAX + 64];
	char *path = path_join(root, "host.conf");
	const char *list = "";
	struct buf b;

	*value_r = NULL;
	buf_init(&b, 65536);
	if (file_read(path, &b) < 0) {
		snprintf(errbuf, sizeof(errbuf), "cannot read %s (%s)", path,
		    strerror(errno));
		*error_r = errbuf;
		free(path);
		buf_free(&b);
		return -1;
	}
	free(path);
	for (char *line = b.data; line && *line; ) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		char *t = str_trim(line);
		/* "services = a b c"; not "services_x = ..." or comments */
		size_t k = strlen(key);
		if (str_has_prefix(t, key) &&
		    t[k + strspn(t + k, " \t")] == '=')
			list = str_trim(strchr(t, '=') + 1);
		line = nl ? nl + 1 : NULL;
	}
	*value_r = xstrdup(list);
	buf_free(&b);
	return 0;
}

char *
dataroot_resolve(const char *arg)
{
	char cwd[PATH_MAX];

	if (arg == NULL || *arg == '\0')
		arg = getenv("POSTERN_DIR");
	if (arg == NULL || *arg == '\0')
		return NULL;
	if (arg[0] == '/' || getcwd(cwd, sizeof(cwd)) == NULL)
		return xstrdup(arg);
	return path_join(cwd, arg);
}

/* owner_name - "postern (uid 998)" for messages */
static void
owner_name(uid_t uid, char *out, size_t size)
{
	struct passwd pw, *res = NULL;
	char buf[1024];

	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &res) == 0 && res != NULL)
		snprintf(out, size, "%s (uid %ld)", res->pw_name, (long)uid);
	else
		snprintf(out, size, "uid %ld", (long)uid);
}

int
dataroot_become_owner(const char *root, uid_t *uid_r, gid_t *gid_r,
		      const char **error_r)
{
	static char err[PATH_MAX + 256];
	char who[320];
	struct stat st;

	*uid_r = geteuid();
	*gid_r = getegid();
	*error_r = err;
	if (stat(root, &st) < 0)
		return 0;
	*uid_r = st.st_uid;
	*gid_r = st.st_gid;
	if (geteuid() == st.st_uid)
		return 0;
	owner_name(st.st_uid, who, sizeof(who));
	if (geteuid() != 0) {
		snprintf(err, sizeof(err), "the data root %s belongs to %s: run "
		    "this as that user (sudo -u) or as root, which acts as %s",
		    root, who, who);
		return -1;
	}
	if (setgroups(0, NULL) < 0 || setresgid(st.st_gid, st.st_gid,
	    st.st_gid) < 0 || setresuid(st.st_uid, st.st_uid, st.st_uid) < 0) {
		snprintf(err, sizeof(err), "cannot switch to %s, the owner of %s: "
		    "%s", who, root, strerror(errno));
		return -1;
	}
	(void)prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	return 1;
}

/* lookup_login - the ids of DATAROOT_LOGIN_USER; false when missing */
static bool
lookup_login(uid_t *uid_r, gid_t *gid_r)
{
	struct passwd pw, *res = NULL;
	char buf[1024];

	if (getpwnam_r(DATAROOT_LOGIN_USER, &pw, buf, sizeof(buf), &res) != 0 ||
	    res == NULL)
		return false;
	*uid_r = pw.pw_uid;
	*gid_r = pw.pw_gid;
	return true;
}

int
dataroot_login_user(bool create, uid_t *uid_r, gid_t *gid_r,
		    const char **error_r)
{
	static char err[256];

	*error_r = err;
	if (lookup_login(uid_r, gid_r))
		return 0;
	if (!create || geteuid() != 0) {
		snprintf(err, sizeof(err), "the system user %s does not exist: "
		    "`postern init` or posternd, run as root, creates it",
		    DATAROOT_LOGIN_USER);
		return -1;
	}
	/* several processes may try at once (useradd then fails on its
	 * lock or on the name): the look-up after decides, a few times */
	for (int attempt = 0; attempt < 5; attempt++) {
		pid_t pid = fork();
		if (pid < 0)
			break;
		if (pid == 0) {
			int devnull = open("/dev/null", O_RDWR);
			if (devnull >= 0) {
				(void)dup2(devnull, STDOUT_FILENO);
				(void)dup2(devnull, STDERR_FILENO);
			}
			execl("/usr/sbin/useradd", "useradd", "--system",
			    "--user-group", "--no-create-home", "--home-dir",
			    "/nonexistent", "--shell", "/usr/sbin/nologin",
			    "--comment", "Postern pre-login processes",
			    DATAROOT_LOGIN_USER, (char *)NULL);
			_exit(127);
		}
		int status;
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		if (lookup_login(uid_r, gid_r))
			return 0;
		usleep(200000);
	}
	snprintf(err, sizeof(err), "cannot create the system user %s "
	    "(/usr/sbin/useradd --system --user-group %s failed)",
	    DATAROOT_LOGIN_USER, DATAROOT_LOGIN_USER);
	return -1;
}

int
dataroot_make_cert(const char *crt_path, const char *key_path,
		   const char *hostname, const char **error_r)
{
	static char err[256];
	EVP_PKEY *key = EVP_RSA_gen(2048);
	X509 *x = NULL;
	FILE *f = NULL;
	int ok = 0;

	*error_r = err;
	if (key == NULL) {
		snprintf(err, sizeof(err), "RSA key generation failed");
		return -1;
	}
	x = X509_new();
	X509_set_version(x, 2);
	unsigned char serial[16];
	FILE *ur = fopen("/dev/urandom", "r");
	if (ur == NULL || fread(serial, 1, sizeof(serial), ur) != sizeof(serial)) {
		if (ur)
			fclose(ur);
		snprintf(err, sizeof(err), "reading /dev/urandom failed");
		goto out;
	}
	fclose(ur);
	serial[0] &= 0x7f;
	BIGNUM *bn = BN_bin2bn(serial, sizeof(serial), NULL);
	BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
	BN_free(bn);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 10L * 365 * 86400);
	X509_set_pubkey(x, key);
	X509_NAME *name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
	    (const unsigned char *)"Postern", -1, -1, 0);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)hostname, -1, -1, 0);
	X509_set_issuer_name(x, name);
	char *san = xasprintf("DNS:%s,DNS:localhost,IP:127.0.0.1,IP:::1", hostname);
	X509V3_CTX ctx;
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name, san);
	free(san);
	if (ext != NULL) {
		X509_add_ext(x, ext, -1);
		X509_EXTENSION_free(ext);
	}
	if (!X509_sign(x, key, EVP_sha256())) {
		snprintf(err, sizeof(err), "signing the certificate failed");
		goto out;
	}
	mode_t old = umask(077);
	f = fopen(key_path, "w");
	umask(old);
	if (f == NULL || !PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL)) {
		snprintf(err, sizeof(err), "writing %s: %s", key_path, strerror(errno));
		goto out;
	}
	fclose(f);
	f = fopen(crt_path, "w");
	if (f == NULL || !PEM_write_X509(f, x)) {
		snprintf(err, sizeof(err), "writing %s: %s", crt_path, strerror(errno));
		goto out;
	}
	ok = 1;
out:
	if (f != NULL)
		fclose(f);
	X509_free(x);
	EVP_PKEY_free(key);
	return ok ? 0 : -1;
}

int
dataroot_init(const char *root, const char *hostname, const char **error_r)
{
	static char err[512];
	static const char *const dirs[] = {
		"config", "store", "queue", "certs", "log", "run",
	};
	struct db *db;
	char *p;

	*error_r = err;
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		p = path_join(root, dirs[i]);
		if (mkdir_p(p, strcmp(dirs[i], "certs") == 0 ? 0700 : 0750) < 0) {
			snprintf(err, sizeof(err), "cannot create %s: %s", p,
			    strerror(errno));
			free(p);
			return -1;
		}
		free(p);
	}
	if (db_open(root, true, &db, error_r) < 0)
		return -1;
	if (hostname != NULL && settings_set(db, "server.hostname", hostname,
	    error_r) < 0) {
		snprintf(err, sizeof(err), "%s", *error_r);
		*error_r = err;
		db_close(&db);
		return -1;
	}
	char *host = settings_hostname(db);
	db_close(&db);

	p = path_join(root, "host.conf");
	if (access(p, F_OK) < 0) {
		char *text = xasprintf(
		    "# Services posternd runs on this host (space separated).\n"
		    "services = %s\n", DATAROOT_ALL_SERVICES);
		if (file_write_atomic(p, text, strlen(text), 0640) < 0) {
			snprintf(err, sizeof(err), "cannot write %s: %s", p,
			    strerror(errno));
			free(text);
			free(p);
			free(host);
			return -1;
		}
		free(text);
	}
	free(p);

	char *crt = path_join(root, "certs/default.crt");
	char *key = path_join(root, "certs/default.key");
	int r = 0;
	if (access(crt, F_OK) < 0 || access(key, F_OK) < 0) {
		r = dataroot_make_cert(crt, key, host, error_r);
		if (r < 0) {
			snprintf(err, sizeof(err), "%s", *error_r);
			*error_r = err;
		}
	}
	free(crt);
	free(key);
	free(host);
	return r;
}
