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
/* diag_age_text - "3d4h", "2h5m", "40s" */
void
diag_age_text(long long s, char *out, size_t size)
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

/* diag_dir_names - the names in dir ending in suffix (sorted; free each and
 * the array); -1 when dir cannot be read */
int
diag_dir_names(const char *dir, const char *suffix, char ***names_r, size_t *n_r)
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

void
diag_names_free(char **names, size_t n)
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
	char *integrity;
	if (db_integrity(db, &integrity, &err) < 0) {
		diag_add(s, DIAG_ERROR, "Config store integrity", NULL, "%s", err);
	} else {
		bool ok = strcmp(integrity, "ok") == 0;
		diag_add(s, ok ? DIAG_OK : DIAG_ERROR, "Config store integrity",
		    ok ? NULL : "restore config/postern.db from a backup",
		    "%s: %s", db_is_postgresql(db) ? "PostgreSQL answers (its "
		    "own checks: pg_amcheck)" : "PRAGMA quick_check", integrity);
		free(integrity);
	}
	struct db_stmt *q;
	int64_t ver = -1;
	if (db_schema_version(db, &ver, &err) < 0)
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
	if (diag_dir_names(certs, ".crt", &names, &n) == 0) {
		for (size_t i = 0; i < n; i++) {
			char *c = path_join(certs, names[i]);
			if (strcmp(c, dcrt) != 0) {
				char *k = xasprintf("%.*s.key", (int)(strlen(c) - 4), c);
				check_cert(s, c, k);
				free(k);
			}
			free(c);
		}
		diag_names_free(names, n);
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
	diag_names_free(addrs, n);
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
