/* schema - the config store's tables, as ordered migrations */
#include <string.h>

#include "db.h"
#include "schema.h"

static const char schema_v1[] =
"CREATE TABLE setting ("
"  name TEXT PRIMARY KEY,"
"  value TEXT NOT NULL);"

/* post office: a tenant (manual 5.3) */
"CREATE TABLE postoffice ("
"  id INTEGER PRIMARY KEY,"
"  name TEXT NOT NULL UNIQUE COLLATE NOCASE,"
"  created INTEGER NOT NULL,"
"  disabled INTEGER NOT NULL DEFAULT 0,"
"  allow_address_login INTEGER NOT NULL DEFAULT 0,"          /* 5.5.9 */
"  footer_text TEXT NOT NULL DEFAULT '',"                    /* 5.3.4 */
"  footer_html TEXT NOT NULL DEFAULT '',"
"  usage_notify INTEGER NOT NULL DEFAULT 0,"                 /* 5.3.5 */
"  usage_threshold_kb INTEGER NOT NULL DEFAULT 0,"
"  usage_notify_mailbox TEXT NOT NULL DEFAULT '',"
"  usage_notified INTEGER NOT NULL DEFAULT 0,"
"  webadmin_enabled INTEGER NOT NULL DEFAULT 1,"             /* 5.3.6 */
"  webadmin_edit_mailboxes INTEGER NOT NULL DEFAULT 1,"
"  webadmin_max_mailboxes INTEGER NOT NULL DEFAULT 0,"
"  webadmin_max_mailbox_kb INTEGER NOT NULL DEFAULT 0,"
"  webadmin_default_mailbox_kb INTEGER NOT NULL DEFAULT 0,"
"  webadmin_select_size INTEGER NOT NULL DEFAULT 1,"
"  webadmin_edit_lists INTEGER NOT NULL DEFAULT 1,"
"  webadmin_max_lists INTEGER NOT NULL DEFAULT 0,"
"  webadmin_max_list_addresses INTEGER NOT NULL DEFAULT 0,"
"  webadmin_edit_domains INTEGER NOT NULL DEFAULT 0,"
"  webadmin_brand INTEGER NOT NULL DEFAULT 0,"
"  smarthost TEXT NOT NULL DEFAULT '',"                      /* 5.3.3 */
"  smarthost_auth INTEGER NOT NULL DEFAULT 0,"
"  smarthost_user TEXT NOT NULL DEFAULT '',"
"  smarthost_password TEXT NOT NULL DEFAULT '',"
"  pam_enabled INTEGER NOT NULL DEFAULT 0,"                  /* 5.3.3 */
"  pam_service TEXT NOT NULL DEFAULT 'postern',"
"  pam_autocreate INTEGER NOT NULL DEFAULT 0,"
"  pam_only INTEGER NOT NULL DEFAULT 0,"
"  authpolicy_mode TEXT NOT NULL DEFAULT 'off',"             /* 5.3.7 */
"  authpolicy_countries TEXT NOT NULL DEFAULT '',"
"  oauth_enabled INTEGER NOT NULL DEFAULT 0,"                /* 5.3.8 */
"  oauth_issuer TEXT NOT NULL DEFAULT '',"
"  oauth_client_id TEXT NOT NULL DEFAULT '',"
"  oauth_client_secret TEXT NOT NULL DEFAULT '');"

/* domain (manual 5.4) */
"CREATE TABLE domain ("
"  id INTEGER PRIMARY KEY,"
"  name TEXT NOT NULL UNIQUE COLLATE NOCASE,"
"  postoffice_id INTEGER NOT NULL REFERENCES postoffice(id) ON DELETE CASCADE,"
"  created INTEGER NOT NULL,"
"  disabled INTEGER NOT NULL DEFAULT 0,"
"  abuse_address TEXT NOT NULL DEFAULT '',"
"  postmaster_address TEXT NOT NULL DEFAULT '',"
"  catchall_address TEXT NOT NULL DEFAULT '',"
"  smarthost TEXT NOT NULL DEFAULT '',"
"  smarthost_auth_only INTEGER NOT NULL DEFAULT 0,"
"  dkim_enabled INTEGER NOT NULL DEFAULT 0,"                 /* 5.4.4 */
"  dkim_algorithm TEXT NOT NULL DEFAULT 'rsa-sha256',"
"  dkim_header_canon TEXT NOT NULL DEFAULT 'relaxed',"
"  dkim_body_canon TEXT NOT NULL DEFAULT 'relaxed',"
"  dkim_body_limit INTEGER NOT NULL DEFAULT 0,"
"  dkim_identity INTEGER NOT NULL DEFAULT 0);"
"CREATE INDEX domain_po ON domain(postoffice_id);"

"CREATE TABLE domain_blacklist ("                            /* 5.4.3 */
"  domain_id INTEGER NOT NULL REFERENCES domain(id) ON DELETE CASCADE,"
"  sender_domain TEXT NOT NULL COLLATE NOCASE,"
"  PRIMARY KEY (domain_id, sender_domain));"

"CREATE TABLE dkim_selector ("
"  id INTEGER PRIMARY KEY,"
"  domain_id INTEGER NOT NULL REFERENCES domain(id) ON DELETE CASCADE,"
"  name TEXT NOT NULL,"
"  algorithm TEXT NOT NULL DEFAULT 'rsa-sha256',"
"  key_bits INTEGER NOT NULL DEFAULT 2048,"
"  private_key TEXT NOT NULL DEFAULT '',"
"  public_key TEXT NOT NULL DEFAULT '',"
"  test_mode INTEGER NOT NULL DEFAULT 0,"
"  granularity TEXT NOT NULL DEFAULT '',"
"  notes TEXT NOT NULL DEFAULT '',"
"  active INTEGER NOT NULL DEFAULT 0,"
"  created INTEGER NOT NULL,"
"  UNIQUE (domain_id, name));"

"CREATE TABLE autodiscover ("                                /* 5.4.5 */
"  id INTEGER PRIMARY KEY,"
"  domain_id INTEGER NOT NULL REFERENCES domain(id) ON DELETE CASCADE,"
"  protocol TEXT NOT NULL,"
"  host TEXT NOT NULL,"
"  port INTEGER NOT NULL,"
"  security TEXT NOT NULL DEFAULT 'tls',"
"  UNIQUE (domain_id, protocol, host, port));"

/* mailbox (manual 5.5) */
"CREATE TABLE mailbox ("
"  id INTEGER PRIMARY KEY,"
"  postoffice_id INTEGER NOT NULL REFERENCES postoffice(id) ON DELETE CASCADE,"
"  name TEXT NOT NULL COLLATE NOCASE,"
"  created INTEGER NOT NULL,"
"  password_hash TEXT NOT NULL DEFAULT '',"
"  type TEXT NOT NULL DEFAULT 'USER' CHECK (type IN ('USER','ADMIN','SYSADMIN')),"
"  quota_kb INTEGER NOT NULL DEFAULT 0,"
"  disabled INTEGER NOT NULL DEFAULT 0,"
"  prevent_auth INTEGER NOT NULL DEFAULT 0,"
"  friendly_name TEXT NOT NULL DEFAULT '',"                  /* 5.5.4 */
"  reply_to TEXT NOT NULL DEFAULT '',"
"  redirect_enabled INTEGER NOT NULL DEFAULT 0,"             /* 5.5.5 */
"  redirect_keep_copy INTEGER NOT NULL DEFAULT 0,"
"  autoresponder_enabled INTEGER NOT NULL DEFAULT 0,"        /* 5.5.6 */
"  autoresponder_subject TEXT NOT NULL DEFAULT '',"
"  autoresponder_body TEXT NOT NULL DEFAULT '',"
"  autoresponder_start INTEGER NOT NULL DEFAULT 0,"
"  autoresponder_end INTEGER NOT NULL DEFAULT 0,"
"  autoresponder_period_h INTEGER NOT NULL DEFAULT 24,"
"  delivery_event_enabled INTEGER NOT NULL DEFAULT 0,"
"  delivery_event_program TEXT NOT NULL DEFAULT '',"
"  authpolicy_mode TEXT NOT NULL DEFAULT 'off',"             /* 5.5.9 */
"  authpolicy_countries TEXT NOT NULL DEFAULT '',"
"  twofactor_mode TEXT NOT NULL DEFAULT 'never',"
"  twofactor_type TEXT NOT NULL DEFAULT 'totp',"
"  twofactor_address TEXT NOT NULL DEFAULT '',"
"  totp_secret TEXT NOT NULL DEFAULT '',"
"  size_bytes INTEGER NOT NULL DEFAULT 0,"                   /* 5.2.3 cache */
"  size_time INTEGER NOT NULL DEFAULT 0,"
"  UNIQUE (postoffice_id, name));"

"CREATE TABLE redirect ("
"  mailbox_id INTEGER NOT NULL REFERENCES mailbox(id) ON DELETE CASCADE,"
"  address TEXT NOT NULL COLLATE NOCASE,"
"  PRIMARY KEY (mailbox_id, address));"

/* group (manual 5.6) */
"CREATE TABLE grp ("
"  id INTEGER PRIMARY KEY,"
"  postoffice_id INTEGER NOT NULL REFERENCES postoffice(id) ON DELETE CASCADE,"
"  name TEXT NOT NULL,"
"  address TEXT NOT NULL UNIQUE COLLATE NOCASE,"
"  created INTEGER NOT NULL,"
"  disabled INTEGER NOT NULL DEFAULT 0);"
"CREATE TABLE grp_member ("
"  group_id INTEGER NOT NULL REFERENCES grp(id) ON DELETE CASCADE,"
"  address TEXT NOT NULL COLLATE NOCASE,"
"  PRIMARY KEY (group_id, address));"

/* list (manual 5.7) */
"CREATE TABLE list ("
"  id INTEGER PRIMARY KEY,"
"  postoffice_id INTEGER NOT NULL REFERENCES postoffice(id) ON DELETE CASCADE,"
"  domain_id INTEGER NOT NULL REFERENCES domain(id) ON DELETE CASCADE,"
"  name TEXT NOT NULL COLLATE NOCASE,"
"  address TEXT NOT NULL UNIQUE COLLATE NOCASE,"
"  created INTEGER NOT NULL,"
"  owner TEXT NOT NULL DEFAULT '',"
"  moderated INTEGER NOT NULL DEFAULT 0,"
"  members_only INTEGER NOT NULL DEFAULT 0,"
"  disabled INTEGER NOT NULL DEFAULT 0,"
"  description TEXT NOT NULL DEFAULT '',"
"  subject_prefix TEXT NOT NULL DEFAULT '',"
"  footer TEXT NOT NULL DEFAULT '',"
"  reply_to_list INTEGER NOT NULL DEFAULT 0,"
"  verp INTEGER NOT NULL DEFAULT 0,"
"  bounce_limit INTEGER NOT NULL DEFAULT 5);"
"CREATE TABLE list_member ("
"  list_id INTEGER NOT NULL REFERENCES list(id) ON DELETE CASCADE,"
"  address TEXT NOT NULL COLLATE NOCASE,"
"  name TEXT NOT NULL DEFAULT '',"
"  status TEXT NOT NULL DEFAULT 'active',"
"  bounces INTEGER NOT NULL DEFAULT 0,"
"  created INTEGER NOT NULL,"
"  PRIMARY KEY (list_id, address));"

/* the address map: every routable local address */
"CREATE TABLE address ("
"  address TEXT PRIMARY KEY COLLATE NOCASE,"
"  postoffice_id INTEGER NOT NULL REFERENCES postoffice(id) ON DELETE CASCADE,"
"  domain_id INTEGER NOT NULL REFERENCES domain(id) ON DELETE CASCADE,"
"  kind TEXT NOT NULL CHECK (kind IN ('mailbox','group','list','redirect')),"
"  target_id INTEGER NOT NULL DEFAULT 0,"
"  target TEXT NOT NULL DEFAULT '');"
"CREATE INDEX address_target ON address(kind, target_id);"
"CREATE INDEX address_domain ON address(domain_id);"

/* POP retrieval accounts (manual 5.5.8) */
"CREATE TABLE pop_account ("
"  id INTEGER PRIMARY KEY,"
"  mailbox_id INTEGER NOT NULL REFERENCES mailbox(id) ON DELETE CASCADE,"
"  host TEXT NOT NULL,"
"  port INTEGER NOT NULL DEFAULT 110,"
"  username TEXT NOT NULL,"
"  password TEXT NOT NULL DEFAULT '',"
"  apop INTEGER NOT NULL DEFAULT 0,"
"  tls TEXT NOT NULL DEFAULT 'starttls',"
"  leave_on_server INTEGER NOT NULL DEFAULT 0,"
"  enabled INTEGER NOT NULL DEFAULT 1,"
"  last_run INTEGER NOT NULL DEFAULT 0,"
"  last_status TEXT NOT NULL DEFAULT '',"
"  created INTEGER NOT NULL);"
;

/* v2: global MTA filters (issue 5; src/mta/gfilter.c), in position order */
static const char schema_v2[] =
"CREATE TABLE global_filter ("
"  id INTEGER PRIMARY KEY,"
"  position INTEGER NOT NULL,"
"  enabled INTEGER NOT NULL DEFAULT 1,"
"  criterion TEXT NOT NULL CHECK (criterion IN ('all','sender','recipient',"
"    'header','size-over','size-under','attachment')),"
"  header TEXT NOT NULL DEFAULT '',"
"  pattern TEXT NOT NULL DEFAULT '',"
"  action TEXT NOT NULL CHECK (action IN ('add-header','redirect','copy',"
"    'quarantine','delete','reject')),"
"  argument TEXT NOT NULL DEFAULT '',"
"  created INTEGER NOT NULL);"
"CREATE INDEX global_filter_pos ON global_filter(position);"
;

/* v3: list bounce scores that decay and bounce probes (issue 6;
 * src/listserv/bounce.h): the time of a member's last counted bounce and
 * of the probe sent to it (0: none) */
static const char schema_v3[] =
"ALTER TABLE list_member ADD COLUMN bounce_last INTEGER NOT NULL DEFAULT 0;"
"ALTER TABLE list_member ADD COLUMN probe_sent INTEGER NOT NULL DEFAULT 0;"
;

/* v4: password policy per post office (issue 12; adm_password_check):
 * 0 and 'global' defer to the settings password.min_length and
 * password.reject_names */
static const char schema_v4[] =
"ALTER TABLE postoffice ADD COLUMN password_min_length INTEGER NOT NULL DEFAULT 0;"
"ALTER TABLE postoffice ADD COLUMN password_reject_names TEXT NOT NULL DEFAULT 'global';"
;

/* v5: sender policy (issue 11): which sender addresses an authenticated
 * mailbox may use, per post office and mailbox, and whether members of a
 * group or list may send as it */
static const char schema_v5[] =
"ALTER TABLE postoffice ADD COLUMN send_as TEXT NOT NULL DEFAULT 'own';"
"ALTER TABLE mailbox ADD COLUMN send_as TEXT NOT NULL DEFAULT 'inherit';"
"ALTER TABLE grp ADD COLUMN members_send_as INTEGER NOT NULL DEFAULT 0;"
"ALTER TABLE list ADD COLUMN members_send_as INTEGER NOT NULL DEFAULT 0;"
;

/* v6: web administration (issue 15; src/lib-admin/webauth.h): browser
 * sessions and API tokens, each stored as the SHA-256 of its secret;
 * mailbox name lookups for the paged, searched mailbox list */
static const char schema_v6[] =
"CREATE TABLE web_session ("
"  id INTEGER PRIMARY KEY,"
"  hash TEXT NOT NULL UNIQUE,"
"  mailbox_id INTEGER NOT NULL REFERENCES mailbox(id) ON DELETE CASCADE,"
"  created INTEGER NOT NULL,"
"  last_seen INTEGER NOT NULL,"
"  client TEXT NOT NULL DEFAULT '',"
"  user_agent TEXT NOT NULL DEFAULT '');"
"CREATE INDEX web_session_mailbox ON web_session(mailbox_id);"
"CREATE TABLE api_token ("
"  id INTEGER PRIMARY KEY,"
"  hash TEXT NOT NULL UNIQUE,"
"  mailbox_id INTEGER NOT NULL REFERENCES mailbox(id) ON DELETE CASCADE,"
"  postoffice_id INTEGER REFERENCES postoffice(id) ON DELETE CASCADE,"
"  name TEXT NOT NULL DEFAULT '',"
"  created INTEGER NOT NULL,"
"  last_used INTEGER NOT NULL DEFAULT 0,"
"  expires INTEGER NOT NULL DEFAULT 0);"
"CREATE INDEX api_token_mailbox ON api_token(mailbox_id);"
"CREATE INDEX mailbox_name ON mailbox(name);"
;

/* v7: login security (issue 17; lib-config/loginsec.h): the two-factor
 * challenge per mailbox ('inherit': the post office's, whose 'inherit' is
 * the setting auth.twofactor_mode), app passwords hashed like passwords,
 * TOTP enrolment (secret sealed with the data root's key, last time step
 * used), recovery codes (hashed), and the login record: one row per
 * mailbox, protocol and address seen, one per login name and address
 * that failed */
static const char schema_v7[] =
"ALTER TABLE mailbox ADD COLUMN twofactor_challenge TEXT NOT NULL DEFAULT 'inherit';"
"ALTER TABLE postoffice ADD COLUMN twofactor_mode TEXT NOT NULL DEFAULT 'inherit';"
"CREATE TABLE app_password ("
"  id INTEGER PRIMARY KEY,"
"  mailbox_id INTEGER NOT NULL REFERENCES mailbox(id) ON DELETE CASCADE,"
"  name TEXT NOT NULL,"
"  hash TEXT NOT NULL,"
"  created INTEGER NOT NULL,"
"  last_used INTEGER NOT NULL DEFAULT 0,"
"  last_address TEXT NOT NULL DEFAULT '',"
"  last_protocol TEXT NOT NULL DEFAULT '',"
"  UNIQUE (mailbox_id, name));"
"CREATE TABLE totp ("
"  mailbox_id INTEGER PRIMARY KEY REFERENCES mailbox(id) ON DELETE CASCADE,"
"  secret TEXT NOT NULL,"
"  enrolled INTEGER NOT NULL DEFAULT 0,"
"  last_step INTEGER NOT NULL DEFAULT 0,"
"  created INTEGER NOT NULL);"
"CREATE TABLE recovery_code ("
"  id INTEGER PRIMARY KEY,"
"  mailbox_id INTEGER NOT NULL REFERENCES mailbox(id) ON DELETE CASCADE,"
"  hash TEXT NOT NULL,"
"  used INTEGER NOT NULL DEFAULT 0);"
"CREATE INDEX recovery_code_mailbox ON recovery_code(mailbox_id);"
"CREATE TABLE login_seen ("
"  mailbox_id INTEGER NOT NULL REFERENCES mailbox(id) ON DELETE CASCADE,"
"  protocol TEXT NOT NULL,"
"  address TEXT NOT NULL,"
"  country TEXT NOT NULL DEFAULT '',"
"  first INTEGER NOT NULL,"
"  last INTEGER NOT NULL,"
"  count INTEGER NOT NULL DEFAULT 1,"
"  PRIMARY KEY (mailbox_id, protocol, address));"
"CREATE INDEX login_seen_last ON login_seen(last);"
"CREATE TABLE login_failure ("
"  login TEXT NOT NULL,"
"  address TEXT NOT NULL,"
"  mailbox_id INTEGER REFERENCES mailbox(id) ON DELETE SET NULL,"
"  protocol TEXT NOT NULL DEFAULT '',"
"  country TEXT NOT NULL DEFAULT '',"
"  reason TEXT NOT NULL DEFAULT '',"
"  first INTEGER NOT NULL,"
"  last INTEGER NOT NULL,"
"  count INTEGER NOT NULL DEFAULT 1,"
"  PRIMARY KEY (login, address));"
"CREATE INDEX login_failure_last ON login_failure(last);"
;

/* v8: passkeys (WebAuthn, issue 17; lib-admin/passkey.h): a mailbox's
 * credentials (id, public key as DER SubjectPublicKeyInfo in base64url, COSE
 * algorithm, sign counter, a name of its owner's choosing) and the
 * challenges given out (single use, with an expiry), with the mailbox
 * they were made for (0: a passwordless login, anyone's key) */
static const char schema_v8[] =
"CREATE TABLE IF NOT EXISTS passkey ("
"  id INTEGER PRIMARY KEY,"
"  mailbox_id INTEGER NOT NULL REFERENCES mailbox(id) ON DELETE CASCADE,"
"  name TEXT NOT NULL,"
"  credential_id TEXT NOT NULL UNIQUE,"
"  public_key TEXT NOT NULL,"
"  alg INTEGER NOT NULL,"
"  sign_count INTEGER NOT NULL DEFAULT 0,"
"  created INTEGER NOT NULL,"
"  last_used INTEGER NOT NULL DEFAULT 0,"
"  UNIQUE (mailbox_id, name));"
"CREATE TABLE IF NOT EXISTS passkey_challenge ("
"  challenge TEXT PRIMARY KEY,"
"  mailbox_id INTEGER NOT NULL DEFAULT 0,"
"  purpose TEXT NOT NULL,"
"  rp_id TEXT NOT NULL,"
"  expires INTEGER NOT NULL);"
"CREATE INDEX IF NOT EXISTS passkey_challenge_expires ON passkey_challenge(expires);"
;

/* v9: the webmail's identities (src/httpd/jmap-identity.c): per mailbox
 * and address its sender name, reply-to, signatures (the HTML one kept
 * only after sanitising, lib/htmlsafe.h) and which one is the default */
static const char schema_v9[] =
"CREATE TABLE identity ("
"  mailbox_id INTEGER NOT NULL REFERENCES mailbox(id) ON DELETE CASCADE,"
"  email TEXT NOT NULL COLLATE NOCASE,"
"  name TEXT NOT NULL DEFAULT '',"
"  reply_to TEXT NOT NULL DEFAULT '',"
"  text_signature TEXT NOT NULL DEFAULT '',"
"  html_signature TEXT NOT NULL DEFAULT '',"
"  is_default INTEGER NOT NULL DEFAULT 0,"
"  PRIMARY KEY (mailbox_id, email));"
;

/* content security (issue 19; `filter`'s schema version 10, renumbered at
 * merge): the post office's antivirus and spam fields */
static const char schema_v10[] =
"ALTER TABLE postoffice ADD COLUMN antivirus TEXT NOT NULL DEFAULT 'inherit';"
"ALTER TABLE postoffice ADD COLUMN spam_filter TEXT NOT NULL DEFAULT 'inherit';"
"ALTER TABLE postoffice ADD COLUMN spam_junk_score INTEGER NOT NULL DEFAULT 0;"
"ALTER TABLE postoffice ADD COLUMN spam_reject_score INTEGER NOT NULL DEFAULT 0;"
;

/* v11: login security, second round (`login2`; written as additions to
 * v8, moved here at merge so databases already at v8-v10 get them) */
static const char schema_v11[] =
/* codes sent by mail (twofactor_type smtp): the pending one per mailbox
 * (hashed, with its expiry) and the sends of the current hour */
"CREATE TABLE IF NOT EXISTS mail_code ("
"  mailbox_id INTEGER PRIMARY KEY REFERENCES mailbox(id) ON DELETE CASCADE,"
"  hash TEXT NOT NULL DEFAULT '',"
"  expires INTEGER NOT NULL DEFAULT 0,"
"  sent INTEGER NOT NULL DEFAULT 0,"
"  window INTEGER NOT NULL DEFAULT 0,"
"  sends INTEGER NOT NULL DEFAULT 0);"
/* remembered devices (auth.remember_device_days): the SHA-256 of each
 * device cookie's secret, revocable */
"CREATE TABLE IF NOT EXISTS remembered_device ("
"  id INTEGER PRIMARY KEY,"
"  mailbox_id INTEGER NOT NULL REFERENCES mailbox(id) ON DELETE CASCADE,"
"  hash TEXT NOT NULL UNIQUE,"
"  created INTEGER NOT NULL,"
"  expires INTEGER NOT NULL,"
"  last_used INTEGER NOT NULL DEFAULT 0,"
"  client TEXT NOT NULL DEFAULT '',"
"  user_agent TEXT NOT NULL DEFAULT '');"
"CREATE INDEX IF NOT EXISTS remembered_device_mailbox ON remembered_device(mailbox_id);"
;

/* v12 (`wmset`, renumbered at merge): the auto responder's HTML message,
 * sent beside its text (src/deliver/autoreply.c) */
static const char schema_v12[] =
"ALTER TABLE mailbox ADD COLUMN autoresponder_html TEXT NOT NULL DEFAULT '';"
;

/* v13: whether the mailbox's own two-factor challenge is the user's own
 * choice (their enrolment in the webmail's settings: 1) or was set by an
 * administrator (0), whom only an administrator may undo */
static const char schema_v13[] =
"ALTER TABLE mailbox ADD COLUMN twofactor_self INTEGER NOT NULL DEFAULT 0;"
;

/* v14 (admin15): a trigram index of mailbox names and display names for
 * the web admin's search (Mailbox/query filter.text): a substring search
 * of 100,000 mailboxes reads the matching rows instead of every row
 * (bench/RESULTS.md). An external-content FTS5 table kept by triggers,
 * so every road that writes mailbox rows keeps it right. */
static const char schema_v14[] =
"CREATE VIRTUAL TABLE mailbox_search USING fts5(name, friendly_name,"
"  content='mailbox', content_rowid='id', tokenize='trigram');"
"INSERT INTO mailbox_search(mailbox_search) VALUES ('rebuild');"
"CREATE TRIGGER mailbox_search_ai AFTER INSERT ON mailbox BEGIN"
"  INSERT INTO mailbox_search(rowid, name, friendly_name)"
"  VALUES (new.id, new.name, new.friendly_name); END;"
"CREATE TRIGGER mailbox_search_ad AFTER DELETE ON mailbox BEGIN"
"  INSERT INTO mailbox_search(mailbox_search, rowid, name, friendly_name)"
"  VALUES ('delete', old.id, old.name, old.friendly_name); END;"
"CREATE TRIGGER mailbox_search_au AFTER UPDATE OF name, friendly_name ON"
"  mailbox BEGIN"
"  INSERT INTO mailbox_search(mailbox_search, rowid, name, friendly_name)"
"  VALUES ('delete', old.id, old.name, old.friendly_name);"
"  INSERT INTO mailbox_search(rowid, name, friendly_name)"
"  VALUES (new.id, new.name, new.friendly_name); END;"
;

/* v15 (admin16): the web admin's mailbox list sorted by size (Mailbox/query
 * sort quota_kb, manual 5.2.3) read from an index in the page's order
 * (quota, name; the rowid breaks ties) instead of sorting 100,000 rows
 * for each page: of all post offices and of one (bench/RESULTS.md) */
static const char schema_v15[] =
"CREATE INDEX mailbox_quota ON mailbox(quota_kb, name);"
"CREATE INDEX mailbox_po_quota ON mailbox(postoffice_id, quota_kb, name);"
;

/* v16 (cluster22): the
 * nodes of a cluster on one PostgreSQL store and the mailbox leases
 * (cluster.h, docs/CLUSTER.md). A lease row is kept when released
 * (instance '') so its fence only ever grows. Made on SQLite too (one
 * schema); there the only node is the host itself and none registers. */
static const char schema_v16[] =
"CREATE TABLE node ("
"  name TEXT NOT NULL PRIMARY KEY,"
"  address TEXT NOT NULL DEFAULT '',"
"  ident TEXT NOT NULL DEFAULT '',"
"  instance TEXT NOT NULL,"
"  started INTEGER NOT NULL,"
"  heartbeat INTEGER NOT NULL);"
"CREATE TABLE mailbox_lease ("
"  mailbox_id INTEGER NOT NULL PRIMARY KEY"
"    REFERENCES mailbox(id) ON DELETE CASCADE,"
"  node TEXT NOT NULL,"
"  instance TEXT NOT NULL,"
"  fence INTEGER NOT NULL,"
"  since INTEGER NOT NULL);"
"CREATE INDEX mailbox_lease_node ON mailbox_lease(node);"
;

const struct schema_migration schema_migrations[] = {
	{ .sql = schema_v1 },
	{ .sql = schema_v2 },
	{ .sql = schema_v3 },
	{ .sql = schema_v4 },
	{ .sql = schema_v5 },
	{ .sql = schema_v6 },
	{ .sql = schema_v7 },
	{ .sql = schema_v8 },
	{ .sql = schema_v9 },
	{ .sql = schema_v10 },
	{ .sql = schema_v11 },
	{ .sql = schema_v12 },
	{ .sql = schema_v13 },
	/* SQLite's full-text tables have no PostgreSQL twin here: the
	 * searches that use them take their LIKE road on PostgreSQL
	 * (db_is_postgresql, httpd api-admin-mailbox.c) */
	{ .sql = schema_v14, .engines = SCHEMA_ENGINE_SQLITE,
	  .own_tables = "mailbox_search" },
	{ .sql = schema_v15 },
	{ .sql = schema_v16 },
};

_Static_assert(sizeof(schema_migrations) / sizeof(schema_migrations[0]) ==
    DB_SCHEMA_VERSION, "one migration per schema version");

bool
schema_migration_runs(const struct schema_migration *m, unsigned engine)
{
	return m->engines == 0 || (m->engines & engine) != 0;
}

bool
schema_table_engine_own(const char *table)
{
	for (int v = 0; v < DB_SCHEMA_VERSION; v++) {
		const char *p = schema_migrations[v].own_tables;
		if (p != NULL && strncmp(table, p, strlen(p)) == 0)
			return true;
	}
	return false;
}
