/* diag-checks - the checks that read files, processes and the config store */
#include <ctype.h>
#include <dirent.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <ares.h>
#include <event2/event.h>
#include <idn2.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include "dataroot.h"
#include "diag-private.h"
#include "directory.h"
#include "fsutil.h"
#include "netaddr.h"
#include "postern-config.h"
#include "queue.h"
#include "settings.h"
#include "sieve.h"
#include "store.h"
#include "strutil.h"
#include "xalloc.h"

/* age_text - "3d4h", "2h5m", "40s" */
static void
age_text(long long s, char *out, size_t size)
{
	if (s < 0)
		s = 0;
	if (s >= 86400)
		snprintf(out, size, "%lldd%lldh", s / 86400, s % 86400 / 3600);
	else if (s >= 3600)
		snprintf(out, size, "%lldh%lldm", s / 3600, s % 3600 / 60);
	else if (s >= 60)
		snprintf(out, size, "%lldm%llds", s / 60, s % 60);
	else
		snprintf(out, size, "%llds", s);
}

/* ------------------------------------------------------------ versions */

void
diag_check_versions(struct diag_report *rep, struct db *db)
{
	struct diag_section *s = diag_section(rep, DIAG_S_VERSION);
	struct utsname u;
	char host[256];

	diag_add(s, DIAG_INFO, "Postern", NULL, "%s", POSTERN_VERSION);
	diag_add(s, DIAG_INFO, "OpenSSL", NULL, "%s", OpenSSL_version(OPENSSL_VERSION));
	diag_add(s, DIAG_INFO, "SQLite", NULL, "%s", db_sqlite_version());
	diag_add(s, DIAG_INFO, "libevent", NULL, "%s", event_get_version());
	diag_add(s, DIAG_INFO, "c-ares", NULL, "%s", ares_version(NULL));
	diag_add(s, DIAG_INFO, "Jansson", NULL, "%s", jansson_version_str());
	diag_add(s, DIAG_INFO, "libidn2", NULL, "%s", idn2_check_version(NULL));
	if (uname(&u) == 0)
		diag_add(s, DIAG_INFO, "Kernel", NULL, "%s %s %s", u.sysname,
		    u.release, u.machine);
	if (gethostname(host, sizeof(host)) < 0)
		snprintf(host, sizeof(host), "?");
	host[sizeof(host) - 1] = '\0';
	char *set = xstrdup(settings_current(db)->server_hostname);
	if (*set == '\0')
		diag_add(s, DIAG_WARNING, "Host name (server.hostname)",
		    "set it to the name the MX records point to: postern config set server.hostname mail.example.com",
		    "not set; the system host name '%s' is used", host);
	else if (strchr(set, '.') == NULL)
		diag_add(s, DIAG_WARNING, "Host name (server.hostname)",
		    "use a fully qualified domain name (RFC 5321 4.1.1.1 EHLO)",
		    "%s (not fully qualified)", set);
	else
		diag_add(s, DIAG_OK, "Host name (server.hostname)", NULL, "%s (system: %s)",
		    set, host);
	free(set);
}

/* ------------------------------------------------------ data and config */

/* check_path - a directory or file of the data root against the modes of
 * docs/SECURITY.md: missing is an error, wider than documented or another
 * owner a warning */
static void
check_path(struct diag_section *s, const char *label, const char *path,
	   bool dir, mode_t want, uid_t owner)
{
	struct stat st;
	char check[256];

	snprintf(check, sizeof(check), "%s", label);
	if (stat(path, &st) < 0) {
		diag_add(s, DIAG_ERROR, check, "postern init -d DIR recreates missing parts",
		    "%s: %s", path, strerror(errno));
		return;
	}
	if (dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode)) {
		diag_add(s, DIAG_ERROR, check, NULL, "%s is not a %s", path,
		    dir ? "directory" : "regular file");
		return;
	}
	mode_t mode = st.st_mode & 07777;
	if ((mode & ~want & 0777) != 0) {
		char adv[128];
		snprintf(adv, sizeof(adv), "chmod %04o %s (docs/SECURITY.md)",
		    (unsigned)want, path);
		diag_add(s, DIAG_WARNING, check, adv, "mode %04o, documented %04o",
		    (unsigned)mode, (unsigned)want);
	} else if (st.st_uid != owner) {
		diag_add(s, DIAG_WARNING, check,
		    "services run as the data root's owner: chown -R it to that user",
		    "owned by uid %u, the data root by uid %u", (unsigned)st.st_uid,
		    (unsigned)owner);
	} else {
		diag_add(s, DIAG_OK, check, NULL, "mode %04o, uid %u", (unsigned)mode,
		    (unsigned)st.st_uid);
	}
}

/* check_cert - one certificate and its key: readable, in its validity
 * period and not within 30 days of its end, the key its own */
static void
check_cert(struct diag_section *s, const char *crt, const char *key)
{
	char check[512];
	const char *base = strrchr(crt, '/');
	FILE *f;

	snprintf(check, sizeof(check), "Certificate %s", base ? base + 1 : crt);
	if ((f = fopen(crt, "r")) == NULL) {
		diag_add(s, DIAG_ERROR, check, "the TLS services cannot start without it",
		    "%s: %s", crt, strerror(errno));
		return;
	}
	X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (x == NULL) {
		diag_add(s, DIAG_ERROR, check, NULL, "%s: not a PEM certificate", crt);
		return;
	}
	char subject[256] = "", until[64] = "?";
	X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName,
	    subject, sizeof(subject));
	const ASN1_TIME *na = X509_get0_notAfter(x), *nb = X509_get0_notBefore(x);
	struct tm tm;
	if (ASN1_TIME_to_tm(na, &tm) == 1)
		strftime(until, sizeof(until), "%Y-%m-%d %H:%M UTC", &tm);
	int days = 0, secs = 0;
	if (X509_cmp_current_time(na) <= 0)
		diag_add(s, DIAG_ERROR, check,
		    "clients refuse an expired certificate: install a new one",
		    "CN=%s expired on %s", subject, until);
	else if (X509_cmp_current_time(nb) >= 0)
		diag_add(s, DIAG_ERROR, check, "check the system clock or the certificate",
		    "CN=%s is not valid yet", subject);
	else if (ASN1_TIME_diff(&days, &secs, NULL, na) == 1 && days < 30)
		diag_add(s, DIAG_WARNING, check, "renew the certificate",
		    "CN=%s expires in %d day(s), on %s", subject, days, until);
	else
		diag_add(s, DIAG_OK, check, NULL, "CN=%s, valid until %s", subject, until);

	snprintf(check, sizeof(check), "Private key %s", (base = strrchr(key, '/')) ? base + 1 : key);
	struct stat st;
	if ((f = fopen(key, "r")) == NULL) {
		diag_add(s, DIAG_ERROR, check, NULL, "%s: %s", key, strerror(errno));
		X509_free(x);
		return;
	}
	EVP_PKEY *pk = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	bool wide = fstat(fileno(f), &st) == 0 && (st.st_mode & 077) != 0;
	fclose(f);
	if (pk == NULL)
		diag_add(s, DIAG_ERROR, check, NULL, "%s: not a PEM private key", key);
	else if (X509_check_private_key(x, pk) != 1)
		diag_add(s, DIAG_ERROR, check, "install the key the certificate was issued for",
		    "does not match the certificate");
	else if (wide)
		diag_add(s, DIAG_WARNING, check, "chmod 0600 the key (docs/SECURITY.md)",
		    "matches the certificate, but mode %04o lets others read it",
		    (unsigned)(st.st_mode & 07777));
	else
		diag_add(s, DIAG_OK, check, NULL, "matches the certificate");
	ERR_clear_error();
	EVP_PKEY_free(pk);
	X509_free(x);
}

static int
str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* dir_names - the names in dir ending in suffix (sorted; free each and
 * the array); -1 when dir cannot be read */
static int
dir_names(const char *dir, const char *suffix, char ***names_r, size_t *n_r)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0, sl = strlen(suffix);
	char **names = NULL;

	*names_r = NULL;
	*n_r = 0;
	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);
		if (de->d_name[0] == '.' || l < sl || strcmp(de->d_name + l - sl, suffix) != 0)
			continue;
		names = xreallocarray(names, n + 1, sizeof(*names));
		names[n++] = xstrdup(de->d_name);
	}
	closedir(d);
	if (n > 0)
		qsort(names, n, sizeof(*names), str_cmp);
	*names_r = names;
	*n_r = n;
	return 0;
}

static void
names_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* Ownership walk: every file and directory the services write must be
 * the data root owner's (a store folder made by root defers every
 * delivery). Bounded: at most OWNER_WALK_MAX entries, OWNER_WALK_DEPTH
 * levels, the first OWNER_WALK_SHOW offenders named. */
#define OWNER_WALK_MAX 500000
#define OWNER_WALK_DEPTH 24
#define OWNER_WALK_SHOW 5

struct owner_walk {
	uid_t owner;
	size_t seen, wrong;
	bool truncated;
	struct buf first;   /* the first offenders, "; " separated */
};

/* owner_walk_dir - check the entries under path, recursively */
static void
owner_walk_dir(struct owner_walk *w, const char *path, int depth)
{
	DIR *d;
	struct dirent *e;

	if (depth > OWNER_WALK_DEPTH || (d = opendir(path)) == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		struct stat st;
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (w->seen >= OWNER_WALK_MAX) {
			w->truncated = true;
			break;
		}
		w->seen++;
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		char *p = path_join(path, e->d_name);
		/* run/empty: the pre-login processes' chroot is root's on
		 * purpose (lib-service/login.h) */
		bool jail = depth == 0 && strcmp(e->d_name, "empty") == 0 &&
		    S_ISDIR(st.st_mode) && st.st_uid == 0 &&
		    strcmp(path + strlen(path) - (strlen(path) >= 4 ? 4 : 0),
		    "/run") == 0;
		if (st.st_uid != w->owner && !jail) {
			if (w->wrong++ < OWNER_WALK_SHOW)
				buf_printf(&w->first, "%s%s (uid %u)", w->first.len ? "; " : "",
				    p, (unsigned)st.st_uid);
		}
		if (S_ISDIR(st.st_mode))
			owner_walk_dir(w, p, depth + 1);
		free(p);
	}
	closedir(d);
}

/* check_owners - the ownership walk over the parts the services write */
static void
check_owners(struct diag_section *s, const char *root, const char *store,
	     const char *queue, uid_t owner)
{
	struct owner_walk w = { .owner = owner };
	const char *rel[] = { "config", "certs", "log", "run" };

	buf_init(&w.first, 8192);
	for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
		char *p = path_join(root, rel[i]);
		owner_walk_dir(&w, p, 0);
		free(p);
	}
	owner_walk_dir(&w, store, 0);
	owner_walk_dir(&w, queue, 0);
	if (w.wrong > 0)
		diag_add(s, DIAG_ERROR, "Ownership",
		    "the services run as the data root's owner and cannot use "
		    "these (deliveries wait, IMAP/POP3 fail): chown -R OWNER: the "
		    "data root; run postern as root or as that user, never as a "
		    "third one",
		    "%zu of %zu%s entries not owned by uid %u, the data root's "
		    "owner: %s%s", w.wrong, w.seen, w.truncated ? " checked" : "",
		    (unsigned)owner, w.first.data, w.wrong > OWNER_WALK_SHOW ?
		    "; ..." : "");
	else
		diag_add(s, w.truncated ? DIAG_INFO : DIAG_OK, "Ownership", NULL,
		    "%zu entries owned by uid %u%s", w.seen, (unsigned)owner,
		    w.truncated ? " (the walk stops there)" : "");
	buf_free(&w.first);
}

void
diag_check_data(struct diag_report *rep, struct db *db, const char *root)
{
	struct diag_section *s = diag_section(rep, DIAG_S_DATA);
	struct stat st;
	const char *err;

	if (stat(root, &st) < 0) {
		diag_add(s, DIAG_ERROR, "Data root", NULL, "%s: %s", root, strerror(errno));
		return;
	}
	if (!S_ISDIR(st.st_mode)) {
		diag_add(s, DIAG_ERROR, "Data root", NULL, "%s: not a directory", root);
		return;
	}
	uid_t owner = st.st_uid;
	diag_add(s, (st.st_mode & 002) ? DIAG_WARNING : DIAG_OK, "Data root",
	    (st.st_mode & 002) ? "no other user may write to the data root" : NULL,
	    "%s, mode %04o, uid %u%s", root, (unsigned)(st.st_mode & 07777),
	    (unsigned)owner, owner == 0 ? " (root: services keep root)" : "");

	char *store = settings_store_path(db), *queue = settings_queue_path(db);
	static const struct { const char *rel, *label; bool dir; mode_t mode; } paths[] = {
		{ "config", "config/", true, 0750 },
		{ "certs", "certs/", true, 0700 },
		{ NULL, "store/", true, 0750 },
		{ NULL, "queue/", true, 0750 },
		{ "log", "log/", true, 0750 },
		{ "run", "run/", true, 0750 },
		{ "host.conf", "host.conf", false, 0640 },
	};
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		char *p = paths[i].rel != NULL ? path_join(root, paths[i].rel) : NULL;
		const char *path = p != NULL ? p : strcmp(paths[i].label, "store/") == 0 ?
		    store : queue;
		check_path(s, paths[i].label, path, paths[i].dir, paths[i].mode, owner);
		free(p);
	}

	/* room for mail: the store and the queues */
	const char *spaces[2][2] = { { "Disk space (store)", store }, { "Disk space (queue)", queue } };
	for (size_t i = 0; i < 2; i++) {
		struct statvfs vfs;
		if (statvfs(spaces[i][1], &vfs) < 0) {
			diag_add(s, DIAG_WARNING, spaces[i][0], NULL, "%s: %s", spaces[i][1],
			    strerror(errno));
			continue;
		}
		unsigned long long fr = (unsigned long long)vfs.f_bavail * vfs.f_frsize;
		unsigned long long tot = (unsigned long long)vfs.f_blocks * vfs.f_frsize;
		double pct = tot ? 100.0 * (double)fr / (double)tot : 100.0;
		double ipct = vfs.f_files ? 100.0 * (double)vfs.f_favail / (double)vfs.f_files : 100.0;
		enum diag_status ds = pct < 2 || ipct < 2 ? DIAG_ERROR :
		    pct < 10 || ipct < 10 ? DIAG_WARNING : DIAG_OK;
		diag_add(s, ds, spaces[i][0], ds != DIAG_OK ?
		    "free space: a full disk makes smtpd refuse mail (452) and deliveries wait" : NULL,
		    "%.1f GB free of %.1f GB (%.0f%%), %.0f%% of inodes free",
		    (double)fr / 1e9, (double)tot / 1e9, pct, ipct);
	}

	/* the config store itself */
	struct db_stmt *q = db_query(db, &err, "PRAGMA quick_check", "");
	if (q == NULL) {
		diag_add(s, DIAG_ERROR, "Config store integrity", NULL, "%s", err);
	} else {
		struct buf res;
		buf_init(&res, 4096);
		while (db_step(q, NULL) == DB_ROW)
			buf_printf(&res, "%s%s", res.len ? "; " : "",
			    db_col_text(q, 0));
		db_stmt_free(&q);
		bool ok = res.data != NULL && strcmp(res.data, "ok") == 0;
		diag_add(s, ok ? DIAG_OK : DIAG_ERROR, "Config store integrity",
		    ok ? NULL : "restore config/postern.db from a backup",
		    "PRAGMA quick_check: %s", res.data ? res.data : "no answer");
		buf_free(&res);
	}
	int64_t ver = -1;
	if (db_query_int(db, &ver, -1, &err, "PRAGMA user_version", "") < 0)
		diag_add(s, DIAG_ERROR, "Config store schema", NULL, "%s", err);
	else if (ver != DB_SCHEMA_VERSION)
		diag_add(s, DIAG_ERROR, "Config store schema",
		    "run this version's postern once as the data root's owner to migrate",
		    "version %lld, this build expects %d", (long long)ver, DB_SCHEMA_VERSION);
	else
		diag_add(s, DIAG_OK, "Config store schema", NULL, "version %lld", (long long)ver);

	/* the store directory of every post office */
	q = db_query(db, &err, "SELECT name FROM postoffice ORDER BY name", "");
	size_t npo = 0, bad = 0;
	while (q != NULL && db_step(q, NULL) == DB_ROW) {
		char *name = xstrdup(db_col_text(q, 0));
		char check[300];
		str_lower(name);
		char *p = path_join(store, name);
		snprintf(check, sizeof(check), "Store of post office %s",
		    db_col_text(q, 0));
		npo++;
		int sr = stat(p, &st);
		if (sr < 0 || !S_ISDIR(st.st_mode)) {
			diag_add(s, DIAG_ERROR, check,
			    "mail to its mailboxes cannot be delivered", "%s: %s", p,
			    sr < 0 ? strerror(errno) : "not a directory");
			bad++;
		} else if (st.st_uid != owner) {
			diag_add(s, DIAG_ERROR, check, "chown -R it to the data root's owner",
			    "%s owned by uid %u, the data root by uid %u", p,
			    (unsigned)st.st_uid, (unsigned)owner);
			bad++;
		}
		free(p);
		free(name);
	}
	db_stmt_free(&q);
	if (bad == 0)
		diag_add(s, DIAG_OK, "Post office stores", NULL,
		    "%zu post office director%s present, owned by uid %u", npo,
		    npo == 1 ? "y" : "ies", (unsigned)owner);
	check_owners(s, root, store, queue, owner);

	/* certificates: the default one (tls.cert/tls.key) and the SNI ones */
	char *crt = xstrdup(settings_current(db)->tls_cert), *key = xstrdup(settings_current(db)->tls_key);
	char *certs = path_join(root, "certs");
	char *dcrt = *crt ? xstrdup(crt) : path_join(certs, "default.crt");
	char *dkey = *key ? xstrdup(key) : path_join(certs, "default.key");
	check_cert(s, dcrt, dkey);
	char **names;
	size_t n;
	if (dir_names(certs, ".crt", &names, &n) == 0) {
		for (size_t i = 0; i < n; i++) {
			char *c = path_join(certs, names[i]);
			if (strcmp(c, dcrt) != 0) {
				char *k = xasprintf("%.*s.key", (int)(strlen(c) - 4), c);
				check_cert(s, c, k);
				free(k);
			}
			free(c);
		}
		names_free(names, n);
	}
	free(dcrt);
	free(dkey);
	free(certs);
	free(crt);
	free(key);
	free(store);
	free(queue);
}

/* ------------------------------------------------------------ services */

void
diag_check_services(struct diag_report *rep, const char *root)
{
	struct diag_section *s = diag_section(rep, DIAG_S_SERVICES);
	char *list = NULL;
	const char *err;
	bool running;

	if (dataroot_host_services(root, &list, &err) < 0) {
		diag_add(s, DIAG_WARNING, "host.conf", "write 'services = ...' into host.conf",
		    "%s; posternd runs every service", err);
		list = xstrdup(DATAROOT_ALL_SERVICES);
	} else {
		diag_add(s, DIAG_INFO, "host.conf services", NULL, "%s", str_trim(list));
	}
	json_t *st = diag_services_status(root, &running);
	json_t *pd = json_object_get(st, "posternd");
	if (!running) {
		diag_add(s, DIAG_ERROR, "posternd", "start it: systemctl start postern, or posternd -d DIR",
		    "not running (no lock on run/posternd.pid)");
	} else {
		diag_add(s, DIAG_OK, "posternd", NULL, "running, pid %lld, version %s",
		    (long long)json_integer_value(json_object_get(pd, "pid")),
		    json_string_value(json_object_get(pd, "version")) ?
		    json_string_value(json_object_get(pd, "version")) : "?");
	}
	json_t *svcs = json_object_get(st, "services");
	char *save = NULL;
	for (char *t = strtok_r(list, " \t,", &save); t != NULL;
	     t = strtok_r(NULL, " \t,", &save)) {
		char check[128];
		json_t *svc = NULL, *v;
		size_t i;
		snprintf(check, sizeof(check), "Service %s", t);
		json_array_foreach(svcs, i, v) {
			const char *nm = json_string_value(json_object_get(v, "name"));
			if (nm != NULL && strcmp(nm, t) == 0)
				svc = v;
		}
		if (!running) {
			diag_add(s, DIAG_ERROR, check, NULL, "not running (posternd is not running)");
			continue;
		}
		if (svc == NULL) {
			diag_add(s, DIAG_ERROR, check, "restart posternd to run it",
			    "named in host.conf, not run by posternd");
			continue;
		}
		const char *state = json_string_value(json_object_get(svc, "state"));
		const char *note = json_string_value(json_object_get(svc, "note"));
		json_int_t pid = json_integer_value(json_object_get(svc, "pid"));
		json_int_t restarts = json_integer_value(json_object_get(svc, "restarts"));
		struct buf listen;
		size_t j;
		json_t *l;
		buf_init(&listen, 0);
		json_array_foreach(json_object_get(svc, "listen"), j, l)
			buf_printf(&listen, " %s", json_string_value(l) ? json_string_value(l) : "");
		state = state ? state : "?";
		bool alive = pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
		char adv[160];
		snprintf(adv, sizeof(adv), "see log/%s.log", t);
		if (strcmp(state, "not-built") == 0)
			diag_add(s, DIAG_WARNING, check, "this build has no such program", "%s", state);
		else if ((strcmp(state, "running") == 0 || strcmp(state, "idle") == 0) && alive)
			diag_add(s, restarts > 0 ? DIAG_WARNING : DIAG_OK, check,
			    restarts > 0 ? adv : NULL, "%s, pid %lld, %lld restart(s)%s%s",
			    state, (long long)pid, (long long)restarts,
			    listen.len ? ", listening" : "", listen.data ? listen.data : "");
		else
			diag_add(s, DIAG_ERROR, check, adv, "%s%s, pid %lld%s%s", state,
			    pid > 0 && !alive ? " (process gone)" : "", (long long)pid,
			    note && *note ? ": " : "", note ? note : "");
		buf_free(&listen);
	}
	json_decref(st);
	free(list);
}

/* ---------------------------------------------------- host TCP/IP */

char **
diag_local_addrs(size_t *n_r)
{
	struct ifaddrs *ifa = NULL;
	char **v = NULL;
	size_t n = 0;

	*n_r = 0;
	if (getifaddrs(&ifa) < 0)
		return NULL;
	for (struct ifaddrs *i = ifa; i != NULL; i = i->ifa_next) {
		char ip[64];
		if (i->ifa_addr == NULL || (i->ifa_flags & IFF_LOOPBACK) ||
		    (i->ifa_addr->sa_family != AF_INET && i->ifa_addr->sa_family != AF_INET6))
			continue;
		sockaddr_ntop(i->ifa_addr, ip, sizeof(ip));
		if (n == 64)
			break;
		v = xreallocarray(v, n + 1, sizeof(*v));
		v[n++] = xstrdup(ip);
	}
	freeifaddrs(ifa);
	*n_r = n;
	return v;
}

void
diag_check_host(struct diag_report *rep, struct db *db)
{
	struct diag_section *s = diag_section(rep, DIAG_S_HOST);
	size_t n;
	char **addrs = diag_local_addrs(&n);
	struct buf b;

	buf_init(&b, 0);
	for (size_t i = 0; i < n; i++)
		buf_printf(&b, "%s%s", i ? ", " : "", addrs[i]);
	diag_add(s, n > 0 ? DIAG_INFO : DIAG_WARNING, "Interface addresses",
	    n > 0 ? NULL : "no address but loopback: other hosts cannot reach this one",
	    "%s", n > 0 ? b.data : "loopback only");
	names_free(addrs, n);
	buf_free(&b);

	/* the resolver the services use */
	char *hosts = xstrdup(settings_current(db)->dns_hosts);
	if (*hosts != '\0') {
		diag_add(s, DIAG_INFO, "Resolver", NULL, "dns.hosts: %s", hosts);
	} else {
		buf_init(&b, 65536);
		if (file_read("/etc/resolv.conf", &b) < 0) {
			diag_add(s, DIAG_ERROR, "Resolver", "set dns.hosts or write /etc/resolv.conf",
			    "/etc/resolv.conf: %s", strerror(errno));
		} else {
			struct buf ns;
			buf_init(&ns, 0);
			for (char *save = NULL, *l = strtok_r(b.data ? b.data : (char *)"", "\n", &save);
			     l != NULL; l = strtok_r(NULL, "\n", &save)) {
				l = str_trim(l);
				if (str_has_prefix(l, "nameserver"))
					buf_printf(&ns, " %s", str_trim(l + 10));
			}
			diag_add(s, ns.len ? DIAG_INFO : DIAG_ERROR, "Resolver",
			    ns.len ? NULL : "set dns.hosts or name a server in /etc/resolv.conf",
			    "/etc/resolv.conf:%s", ns.len ? ns.data : " no nameserver");
			buf_free(&ns);
		}
		buf_free(&b);
	}
	free(hosts);
}

/* --------------------------------------------------------------- queues */

static const char *const queue_conns[] = { "smtp", "sf", "ls", "pr" };

/* queue_stats - committed items of a queue (new/ and cur/), the oldest
 * arrival; with fn, each envelope is handed over */
typedef void queue_env_fn(void *ctx, const struct queue_env *env);
static size_t
queue_stats(const char *qpath, time_t *oldest_r, queue_env_fn *fn, void *ctx)
{
	static const char *const subs[] = { "new", "cur" };
	size_t count = 0;

	*oldest_r = 0;
	for (size_t k = 0; k < 2; k++) {
		char *dir = path_join(qpath, subs[k]), **names;
		size_t n;
		if (dir_names(dir, ".env", &names, &n) < 0) {
			free(dir);
			continue;
		}
		for (size_t i = 0; i < n; i++) {
			char *p = path_join(dir, names[i]);
			struct buf b;
			struct queue_env env;
			const char *err;
			struct stat st;
			time_t t = stat(p, &st) == 0 ? st.st_mtime : 0;
			buf_init(&b, QUEUE_ENV_MAX);
			/* queue_env_parse initialises env itself: init it only
			 * when there is nothing to parse (twice leaked the id) */
			bool read = file_read(p, &b) == 0 && b.data != NULL;
			if (!read)
				queue_env_init(&env, "");
			else if (queue_env_parse(b.data, b.len, &env, &err) == 0) {
				if (env.arrival > 0)
					t = env.arrival;
				if (fn != NULL)
					fn(ctx, &env);
			}
			queue_env_free(&env);
			buf_free(&b);
			free(p);
			if (t > 0 && (*oldest_r == 0 || t < *oldest_r))
				*oldest_r = t;
			count++;
		}
		names_free(names, n);
		free(dir);
	}
	return count;
}

/* count_files - entries of dir ending in suffix, -1 if it cannot be read */
static long
count_files(const char *dir, const char *suffix)
{
	char **names;
	size_t n;

	if (dir_names(dir, suffix, &names, &n) < 0)
		return -1;
	names_free(names, n);
	return (long)n;
}

void
diag_check_queues(struct diag_report *rep, struct db *db)
{
	struct diag_section *s = diag_section(rep, DIAG_S_QUEUES);
	char *qroot = settings_queue_path(db);
	int64_t notice = settings_current(db)->queue_delay_notice_after;
	time_t now = time(NULL);

	for (size_t c = 0; c < sizeof(queue_conns) / sizeof(queue_conns[0]); c++)
		for (int d = 0; d < 2; d++) {
			char *qp = queue_path(qroot, queue_conns[c], d ? QUEUE_OUTGOING : QUEUE_INBOUND);
			char check[64];
			struct stat st;
			time_t oldest;
			snprintf(check, sizeof(check), "%s/%s", queue_conns[c],
			    d ? "outgoing" : "inbound");
			if (stat(qp, &st) < 0) {
				/* made by its services when they first start */
				diag_add(s, errno == ENOENT ? DIAG_INFO : DIAG_ERROR, check, NULL,
				    "%s: %s", qp, errno == ENOENT ?
				    "not created yet (its services make it at start)" : strerror(errno));
				free(qp);
				continue;
			}
			size_t n = queue_stats(qp, &oldest, NULL, NULL);
			free(qp);
			if (n == 0) {
				diag_add(s, DIAG_OK, check, NULL, "empty");
				continue;
			}
			char age[32];
			age_text((long long)(now - oldest), age, sizeof(age));
			bool old = notice > 0 && oldest > 0 && now - oldest > notice;
			diag_add(s, old ? DIAG_WARNING : DIAG_INFO, check,
			    old ? "items older than queue.delay_notice_after: is the service "
			    "that reads this queue running? (postern queue list)" : NULL,
			    "%zu item(s), oldest %s", n, age);
		}

	char *p = path_join(qroot, "badmail");
	long n = count_files(p, ".reason");
	free(p);
	if (n < 0)
		diag_add(s, DIAG_INFO, "Bad mail", NULL, "none (%s/badmail not created yet)", qroot);
	else
		diag_add(s, n > 0 ? DIAG_WARNING : DIAG_OK, "Bad mail",
		    n > 0 ? "look at them with postern queue list badmail; release or delete" : NULL,
		    "%ld item(s)", n);
	p = path_join(qroot, "pickup");
	n = count_files(p, "");
	free(p);
	diag_add(s, n > 0 ? DIAG_INFO : DIAG_OK, "Pickup directory", NULL,
	    n < 0 ? "missing" : "%ld file(s) waiting", n);
	p = path_join(qroot, "ls/held");
	n = count_files(p, ".info");
	free(p);
	diag_add(s, n > 0 ? DIAG_INFO : DIAG_OK, "Held list posts",
	    n > 0 ? "moderators: postern list held|approve|reject" : NULL,
	    "%ld post(s) waiting for moderation", n < 0 ? 0 : n);
	free(qroot);
}

/* ------------------------------------------------ filters, antivirus */

/* check_program - an event program setting: absolute, executable */
static void
check_program(struct diag_section *s, const char *check, const char *program)
{
	char *words = xstrdup(program), *save = NULL;
	char *first = strtok_r(words, " \t", &save);
	struct stat st;

	if (first == NULL)
		diag_add(s, DIAG_INFO, check, NULL, "none");
	else if (first[0] != '/')
		diag_add(s, DIAG_ERROR, check, "give the program's absolute path",
		    "%s: not an absolute path (never run)", first);
	else if (stat(first, &st) < 0)
		diag_add(s, DIAG_ERROR, check, NULL, "%s: %s", first, strerror(errno));
	else if (!S_ISREG(st.st_mode) || access(first, X_OK) < 0)
		diag_add(s, DIAG_ERROR, check, "chmod +x it", "%s: not executable", first);
	else
		diag_add(s, DIAG_OK, check, NULL, "%s", program);
	free(words);
}

void
diag_check_mta(struct diag_report *rep, struct db *db)
{
	struct diag_section *s = diag_section(rep, DIAG_S_MTA);
	const char *err;
	int64_t total = 0, enabled = 0;

	if (db_query_int(db, &total, 0, &err, "SELECT count(*) FROM global_filter", "") < 0 ||
	    db_query_int(db, &enabled, 0, &err, "SELECT count(*) FROM global_filter WHERE enabled <> 0", "") < 0)
		diag_add(s, DIAG_ERROR, "Global filters", NULL, "%s", err);
	else
		diag_add(s, DIAG_INFO, "Global filters", NULL, "%lld rule(s), %lld enabled",
		    (long long)total, (long long)enabled);

	/* the Sieve scripts of every mailbox */
	struct db_stmt *q = db_query(db, &err, "SELECT p.name, m.name FROM mailbox m "
	    "JOIN postoffice p ON p.id = m.postoffice_id", "");
	size_t mailboxes = 0, with = 0, active = 0, broken = 0;
	while (q != NULL && db_step(q, NULL) == DB_ROW) {
		char *mb = dir_mailbox_path_names(db, db_col_text(q, 0),
		    db_col_text(q, 1));
		char *sroot = path_join(mb, "sieve"), **names = NULL, *act = NULL;
		size_t n = 0;
		struct stat st;
		mailboxes++;
		if (stat(sroot, &st) == 0) {
			if (sieve_store_list(sroot, &names, &n, &act, &err) < 0)
				broken++;
			else {
				with += n > 0;
				active += act != NULL;
				sieve_store_list_free(names, n);
			}
		}
		free(act);
		free(sroot);
		free(mb);
	}
	db_stmt_free(&q);
	diag_add(s, broken ? DIAG_WARNING : DIAG_INFO, "Sieve filters", NULL,
	    "%zu of %zu mailbox(es) have scripts, %zu active%s", with, mailboxes,
	    active, broken ? " (some script stores unreadable)" : "");

	char *pick = xstrdup(settings_current(db)->mta_pickup_event);
	check_program(s, "Pickup event (mta.pickup_event)", pick);
	free(pick);
	q = db_query(db, &err, "SELECT DISTINCT delivery_event_program FROM mailbox "
	    "WHERE delivery_event_enabled <> 0 AND delivery_event_program != '' "
	    "ORDER BY 1 LIMIT 50", "");
	size_t nprog = 0;
	while (q != NULL && db_step(q, NULL) == DB_ROW) {
		check_program(s, "Delivery event program",
		    db_col_text(q, 0));
		nprog++;
	}
	db_stmt_free(&q);
	if (nprog == 0)
		diag_add(s, DIAG_INFO, "Delivery event programs", NULL, "none enabled");
	diag_check_content(s, db);
}

/* --------------------------------------------------------- outgoing */

struct dest {
	char *domain;
	size_t pending, deferred, failed;
	time_t oldest;
	char *last_error;
	time_t last_error_when;
};

struct dests {
	struct dest *d;
	size_t n;
};

static void
collect_dest(void *ctx, const struct queue_env *env)
{
	struct dests *ds = ctx;

	for (size_t i = 0; i < env->nrcpts; i++) {
		const struct queue_rcpt *r = &env->rcpts[i];
		if (r->status == RCPT_DELIVERED)
			continue;
		const char *at = strrchr(r->address, '@');
		const char *dom = at ? at + 1 : r->address;
		struct dest *d = NULL;
		for (size_t k = 0; k < ds->n; k++)
			if (str_eq_ci(ds->d[k].domain, dom))
				d = &ds->d[k];
		if (d == NULL) {
			ds->d = xreallocarray(ds->d, ds->n + 1, sizeof(*ds->d));
			d = &ds->d[ds->n++];
			memset(d, 0, sizeof(*d));
			d->domain = xstrdup(dom);
			str_lower(d->domain);
		}
		if (r->status == RCPT_DEFERRED)
			d->deferred++;
		else if (r->status == RCPT_FAILED)
			d->failed++;
		else
			d->pending++;
		if (d->oldest == 0 || env->arrival < d->oldest)
			d->oldest = env->arrival;
		/* the latest attempt's error: next_attempt follows the attempt */
		if (r->last_error != NULL && *r->last_error != '\0' &&
		    (d->last_error == NULL || r->next_attempt >= d->last_error_when)) {
			free(d->last_error);
			d->last_error = xstrdup(r->last_error);
			d->last_error_when = r->next_attempt;
		}
	}
}

static int
dest_cmp(const void *a, const void *b)
{
	return strcmp(((const struct dest *)a)->domain, ((const struct dest *)b)->domain);
}

void
diag_check_outgoing(struct diag_report *rep, struct db *db)
{
	struct diag_section *s = diag_section(rep, DIAG_S_OUT);
	const char *err;

	char *sh = xstrdup(settings_current(db)->smarthost_host);
	if (*sh != '\0') {
		bool auth = settings_current(db)->smarthost_auth != 0;
		char *user = xstrdup(settings_current(db)->smarthost_user);
		diag_add(s, auth && *user == '\0' ? DIAG_WARNING : DIAG_INFO,
		    "Smart host (smarthost.host)",
		    auth && *user == '\0' ? "set smarthost.user and smarthost.password" : NULL,
		    "all outbound mail goes through %s%s%s", sh,
		    auth ? ", authenticating as " : ", without authentication",
		    auth ? (*user ? user : "(no user set)") : "");
		free(user);
	} else {
		diag_add(s, DIAG_INFO, "Smart host (smarthost.host)", NULL,
		    "none: outbound mail goes to each domain's MX");
	}
	free(sh);
	int64_t npo = 0, ndom = 0;
	db_query_int(db, &npo, 0, &err, "SELECT count(*) FROM postoffice WHERE smarthost != ''", "");
	db_query_int(db, &ndom, 0, &err, "SELECT count(*) FROM domain WHERE smarthost != ''", "");
	diag_add(s, DIAG_INFO, "Smart hosts of post offices and domains", NULL,
	    "%lld post office(s), %lld domain(s)", (long long)npo, (long long)ndom);
	int64_t port = settings_current(db)->smtp_out_port;
	diag_add(s, port == 25 ? DIAG_OK : DIAG_WARNING, "Remote port (smtp.out_port)",
	    port == 25 ? NULL : "mail exchangers listen on 25: postern config unset smtp.out_port",
	    "%lld", (long long)port);
	int64_t ot = settings_current(db)->smtp_out_timeout;
	diag_add(s, DIAG_INFO, "Timeouts (smtp.out_timeout)", NULL, "%s",
	    ot == 0 ? "RFC 5321 values" : "capped (tests only)");
	char *rs = xstrdup(settings_current(db)->queue_retry_schedule);
	diag_add(s, DIAG_INFO, "Retry schedule", NULL, "%s; bounce after %lld h, delay notice after %lld h",
	    rs, (long long)settings_current(db)->queue_bounce_after / 3600,
	    (long long)settings_current(db)->queue_delay_notice_after / 3600);
	free(rs);

	/* the outbound queue per destination domain */
	struct diag_section *sq = diag_section(rep, DIAG_S_OUTQ);
	char *qroot = settings_queue_path(db);
	char *qp = queue_path(qroot, "smtp", QUEUE_OUTGOING);
	struct dests ds = { NULL, 0 };
	time_t oldest;
	size_t n = queue_stats(qp, &oldest, collect_dest, &ds);
	time_t now = time(NULL);
	if (n == 0)
		diag_add(sq, DIAG_OK, "Outbound queue (smtp/outgoing)", NULL, "empty");
	else
		diag_add(sq, DIAG_INFO, "Outbound queue (smtp/outgoing)", NULL,
		    "%zu item(s) for %zu domain(s)", n, ds.n);
	if (ds.n > 0)
		qsort(ds.d, ds.n, sizeof(*ds.d), dest_cmp);
	for (size_t i = 0; i < ds.n; i++) {
		struct dest *d = &ds.d[i];
		char check[300], age[32];
		snprintf(check, sizeof(check), "Destination %s", d->domain);
		age_text((long long)(now - d->oldest), age, sizeof(age));
		diag_add(sq, d->last_error != NULL ? DIAG_WARNING : DIAG_INFO, check,
		    d->last_error != NULL ? "postern queue list smtp/outgoing; postern queue retry" : NULL,
		    "%zu recipient(s) waiting, %zu deferred, oldest %s%s%s", d->pending + d->failed,
		    d->deferred, age, d->last_error ? "; last error: " : "",
		    d->last_error ? d->last_error : "");
		free(d->domain);
		free(d->last_error);
	}
	free(ds.d);
	free(qp);
	free(qroot);
}

/* ------------------------------------------------------ authentication */

/* hash_scheme - the crypt(3) scheme of a stored hash and whether it is
 * weak (what `users import` may bring in) */
static const char *
hash_scheme(const char *h, bool *weak_r)
{
	*weak_r = false;
	if (*h == '\0')
		return "none";
	if (strncmp(h, "$y$", 3) == 0 || strncmp(h, "$7$", 3) == 0)
		return "yescrypt";
	if (strncmp(h, "$2b$", 4) == 0 || strncmp(h, "$2y$", 4) == 0 ||
	    strncmp(h, "$2a$", 4) == 0)
		return "bcrypt";
	if (strncmp(h, "$6$", 3) == 0)
		return "sha512-crypt";
	*weak_r = true;
	if (strncmp(h, "$5$", 3) == 0)
		return "sha256-crypt";
	if (strncmp(h, "$1$", 3) == 0)
		return "md5-crypt";
	if (h[0] == '{')
		return "plain or unknown {SCHEME}";
	if (strlen(h) == 13)
		return "DES crypt";
	return "unknown";
}

void
diag_check_auth(struct diag_report *rep, struct db *db)
{
	struct diag_section *s = diag_section(rep, DIAG_S_AUTH);
	const char *err;

	char *scheme = xstrdup(settings_text(settings_current(db), SETTING_password_scheme));
	diag_add(s, DIAG_OK, "Password scheme (password.scheme)", NULL, "%s", scheme);
	free(scheme);

	struct db_stmt *q = db_query(db, &err, "SELECT p.name, m.name, m.password_hash "
	    "FROM mailbox m JOIN postoffice p ON p.id = m.postoffice_id "
	    "ORDER BY p.name, m.name", "");
	if (q == NULL) {
		diag_add(s, DIAG_ERROR, "Password hashes", NULL, "%s", err);
		return;
	}
	struct scheme_count { const char *name; size_t n; } counts[8];
	size_t ncounts = 0, nweak = 0, nnone = 0;
	struct buf weak;
	buf_init(&weak, 0);
	while (db_step(q, NULL) == DB_ROW) {
		bool w;
		const char *sc = hash_scheme(db_col_text(q, 2), &w);
		size_t k;
		for (k = 0; k < ncounts && strcmp(counts[k].name, sc) != 0; k++)
			;
		if (k == ncounts && ncounts < 8)
			counts[ncounts++] = (struct scheme_count){ sc, 0 };
		if (k < ncounts)
			counts[k].n++;
		if (strcmp(sc, "none") == 0)
			nnone++;
		if (w && nweak++ < 10)
			buf_printf(&weak, "%s%s@%s (%s)", weak.len ? ", " : "",
			    db_col_text(q, 1),
			    db_col_text(q, 0), sc);
	}
	db_stmt_free(&q);
	struct buf sum;
	buf_init(&sum, 0);
	for (size_t k = 0; k < ncounts; k++)
		buf_printf(&sum, "%s%zu %s", k ? ", " : "", counts[k].n, counts[k].name);
	diag_add(s, DIAG_INFO, "Password hashes", NULL, "%s", sum.data ? sum.data : "no mailboxes");
	buf_free(&sum);
	if (nweak > 0)
		diag_add(s, DIAG_WARNING, "Weak password hashes",
		    "set new passwords (postern mailbox passwd): they are hashed with password.scheme",
		    "%zu mailbox(es): %s%s", nweak, weak.data, nweak > 10 ? ", ..." : "");
	else
		diag_add(s, DIAG_OK, "Weak password hashes", NULL, "none");
	buf_free(&weak);
	if (nnone > 0)
		diag_add(s, DIAG_INFO, "Mailboxes without a password", NULL,
		    "%zu (they cannot log in)", nnone);

	int64_t maxf = settings_current(db)->auth_max_failures;
	diag_add(s, maxf > 100 ? DIAG_WARNING : DIAG_OK, "Login throttling (auth.max_failures)",
	    maxf > 100 ? "a lower value slows password guessing" : NULL,
	    "an address is throttled after %lld failed logins", (long long)maxf);

	/* AUTH in the clear: only where require_tls_for_auth is off, and only
	 * listeners other clients can reach */
	bool tls_only = settings_current(db)->smtp_require_tls_for_auth != 0;
	static const char *const lst[] = { "smtp", "submission" };
	struct buf open;
	buf_init(&open, 0);
	for (size_t i = 0; i < 2; i++) {
		char key[64], *v;
		struct netaddr *a = NULL;
		size_t n = 0;
		snprintf(key, sizeof(key), "%s.listen", lst[i]);
		v = xstrdup(settings_text(settings_current(db), settings_id(key)));
		if (netaddr_parse_list(v, &a, &n, &err) == 0)
			for (size_t k = 0; k < n; k++) {
				bool loop = strncmp(a[k].host, "127.", 4) == 0 ||
				    strcmp(a[k].host, "::1") == 0;
				if (!loop)
					buf_printf(&open, " %s=%s:%d", lst[i], a[k].host, a[k].port);
			}
		free(a);
		free(v);
	}
	if (!tls_only && open.len > 0)
		diag_add(s, DIAG_WARNING, "SMTP AUTH without TLS",
		    "postern config set smtp.require_tls_for_auth yes",
		    "passwords may be sent in the clear on%s", open.data);
	else
		diag_add(s, DIAG_OK, "SMTP AUTH without TLS", NULL, "%s",
		    tls_only ? "refused (smtp.require_tls_for_auth)" :
		    "allowed, on loopback listeners only");
	buf_free(&open);
	diag_add(s, DIAG_OK, "IMAP and POP3 passwords without TLS", NULL,
	    "refused except from loopback clients (LOGINDISABLED)");
}

/* ------------------------------------------------------- post offices */

void
diag_check_postoffices(struct diag_report *rep, struct db *db)
{
	struct diag_section *s = diag_section(rep, DIAG_S_PO);
	const char *err;
	struct db_stmt *q = db_query(db, &err, "SELECT p.id, p.name, p.disabled, "
	    "(SELECT count(*) FROM domain d WHERE d.postoffice_id = p.id), "
	    "(SELECT count(*) FROM domain d WHERE d.postoffice_id = p.id AND d.disabled <> 0), "
	    "(SELECT count(*) FROM mailbox m WHERE m.postoffice_id = p.id), "
	    "(SELECT count(*) FROM mailbox m WHERE m.postoffice_id = p.id AND m.disabled <> 0), "
	    "(SELECT count(*) FROM mailbox m WHERE m.postoffice_id = p.id AND "
	    " m.name = 'postmaster'), "
	    "(SELECT count(*) FROM grp g WHERE g.postoffice_id = p.id), "
	    "(SELECT count(*) FROM list l WHERE l.postoffice_id = p.id) "
	    "FROM postoffice p ORDER BY p.name", "");
	size_t npo = 0;

	while (q != NULL && db_step(q, NULL) == DB_ROW) {
		const char *name = db_col_text(q, 1);
		bool disabled = db_col_int(q, 2) != 0;
		int64_t ndom = db_col_int(q, 3), ddom = db_col_int(q, 4);
		int64_t nmb = db_col_int(q, 5), dmb = db_col_int(q, 6);
		int64_t pm = db_col_int(q, 7);
		char check[300];
		snprintf(check, sizeof(check), "Post office %s", name);
		npo++;
		enum diag_status st = disabled ? DIAG_INFO : DIAG_OK;
		const char *adv = NULL;
		if (pm == 0) {
			st = DIAG_ERROR;
			adv = "RFC 5321 4.5.1 wants postmaster: postern mailbox add postmaster@PO";
		} else if (ndom == 0 && !disabled) {
			st = DIAG_WARNING;
			adv = "no domain routes mail here: postern domain add DOMAIN --postoffice PO";
		}
		diag_add(s, st, check, adv,
		    "%s%lld domain(s)%s, %lld mailbox(es)%s, %lld group(s), %lld list(s), "
		    "postmaster mailbox %s", disabled ? "DISABLED; " : "",
		    (long long)ndom, ddom ? " (some disabled)" : "", (long long)nmb,
		    dmb ? " (some disabled)" : "", (long long)db_col_int(q, 8),
		    (long long)db_col_int(q, 9), pm ? "present" : "MISSING");
		if (ddom > 0 || dmb > 0)
			diag_add(s, DIAG_INFO, check, NULL, "disabled: %lld domain(s), %lld mailbox(es)",
			    (long long)ddom, (long long)dmb);
	}
	db_stmt_free(&q);
	if (npo == 0)
		diag_add(s, DIAG_WARNING, "Post offices", "postern postoffice add NAME", "none");

	/* mailboxes over 90% of their quota, from maildirsize */
	q = db_query(db, &err, "SELECT p.name, m.name, m.quota_kb FROM mailbox m "
	    "JOIN postoffice p ON p.id = m.postoffice_id WHERE m.quota_kb > 0 "
	    "ORDER BY p.name, m.name", "");
	size_t nq = 0, over = 0;
	while (q != NULL && db_step(q, NULL) == DB_ROW) {
		const char *po = db_col_text(q, 0);
		const char *mb = db_col_text(q, 1);
		int64_t quota = db_col_int(q, 2), bytes = 0, count = 0;
		char *path = dir_mailbox_path_names(db, po, mb), check[300];
		nq++;
		snprintf(check, sizeof(check), "Mailbox %s@%s", mb, po);
		if (store_quota_usage(path, &bytes, &count, &err) < 0)
			diag_add(s, DIAG_WARNING, check, NULL, "usage unknown: %s", err);
		else if (bytes * 10 >= quota * 1024 * 9) {
			over++;
			diag_add(s, DIAG_WARNING, check,
			    "raise its quota or have the user delete mail",
			    "%lld%% of its quota used (%lld of %lld KB)",
			    (long long)(bytes * 100 / (quota * 1024)), (long long)(bytes / 1024),
			    (long long)quota);
		}
		free(path);
	}
	db_stmt_free(&q);
	diag_add(s, over ? DIAG_WARNING : DIAG_OK, "Mailboxes over 90% of quota", NULL,
	    "%zu of %zu with a quota", over, nq);

	/* lists without an owner, groups without members */
	q = db_query(db, &err, "SELECT address FROM list WHERE owner = '' ORDER BY address", "");
	while (q != NULL && db_step(q, NULL) == DB_ROW)
		diag_add(s, DIAG_WARNING, "List without owner",
		    "postern list set LIST owner=ADDRESS: moderation and bounces need one",
		    "%s", db_col_text(q, 0));
	db_stmt_free(&q);
	q = db_query(db, &err, "SELECT g.address FROM grp g WHERE NOT EXISTS "
	    "(SELECT 1 FROM grp_member gm WHERE gm.group_id = g.id) ORDER BY g.address", "");
	while (q != NULL && db_step(q, NULL) == DB_ROW)
		diag_add(s, DIAG_WARNING, "Group without members",
		    "mail to it goes nowhere: postern group member add", "%s",
		    db_col_text(q, 0));
	db_stmt_free(&q);

	/* addresses whose target is gone */
	q = db_query(db, &err, "SELECT a.address, a.kind FROM address a WHERE "
	    "(a.kind = 'mailbox' AND NOT EXISTS (SELECT 1 FROM mailbox m WHERE m.id = a.target_id)) OR "
	    "(a.kind = 'group' AND NOT EXISTS (SELECT 1 FROM grp g WHERE g.id = a.target_id)) OR "
	    "(a.kind = 'list' AND NOT EXISTS (SELECT 1 FROM list l WHERE l.id = a.target_id)) OR "
	    "(a.kind = 'redirect' AND a.target = '') ORDER BY a.address", "");
	size_t dangling = 0;
	while (q != NULL && db_step(q, NULL) == DB_ROW) {
		dangling++;
		diag_add(s, DIAG_ERROR, "Address with a missing target",
		    "delete the address or recreate its target",
		    "%s (%s)", db_col_text(q, 0),
		    db_col_text(q, 1));
	}
	db_stmt_free(&q);
	if (dangling == 0)
		diag_add(s, DIAG_OK, "Addresses", NULL, "every address points to an existing target");
}
