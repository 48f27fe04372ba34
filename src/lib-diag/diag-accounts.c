/* diag-accounts - the checks of authentication and of the post
 * offices (diag.h) */
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
