/* fields - the tables of every setting, and their validation */
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "fields.h"
#include "loginsec.h"
#include "milterspec.h"
#include "netaddr.h"
#include "strutil.h"
#include "xalloc.h"

#define BOOL(n, d, h) { n, NULL, FT_BOOL, d, 0, 1, NULL, h, 0 }
#define TEXT(n, h) { n, NULL, FT_TEXT, "", 0, 1000, NULL, h, 0 }
/* settings of features not built yet (FIELD_UNBUILT) */
#define BOOL_UNBUILT(n, d, h) { n, NULL, FT_BOOL, d, 0, 1, NULL, h, FIELD_UNBUILT }
#define TEXT_UNBUILT(n, h) { n, NULL, FT_TEXT, "", 0, 1000, NULL, h, FIELD_UNBUILT }
#define LISTEN(svc, d) { svc ".listen", NULL, FT_LISTEN, d, 0, 0, NULL, \
	"addresses the " svc " service listens on: addr:port[,addr:port...]", 0 }

const struct field_def settings_fields[] = {
	{ "server.hostname", NULL, FT_TEXT, "", 0, 253, NULL,
	  "domain name this server announces in EHLO, Received and bounces (manual 4.2); empty: the system host name", 0 },
	{ "dns.hosts", NULL, FT_TEXT, "", 0, 1000, NULL,
	  "DNS servers for outbound lookups, space separated ip[:port] (manual 4.2); empty: /etc/resolv.conf", 0 },
	{ "path.store", NULL, FT_TEXT, "", 0, 1000, NULL,
	  "message store repository (manual 5.2.2); empty: <data root>/store", 0 },
	{ "path.queue", NULL, FT_TEXT, "", 0, 1000, NULL,
	  "connector queues and bad-mail quarantine (manual 5.2.2); empty: <data root>/queue", 0 },
	{ "mailbox.default_quota", NULL, FT_SIZE, "0", 0, LLONG_MAX / 2, NULL,
	  "quota of new mailboxes created by the CLI and web admin (manual 5.2.3); 0: unlimited", FIELD_UNLIMITED0 },
	BOOL("mailbox.auto_address", "1",
	     "create name@domain for every domain of the post office with each new mailbox (manual 5.2.3)"),
	{ "mailbox.list_sizes", NULL, FT_ENUM, "cached", 0, 0, "exact|cached|none",
	  "how 'mailbox list' finds sizes: exact (walk the store), cached (refreshed when older than mailbox.size_cache_age), none (manual 5.2.3)", 0 },
	{ "mailbox.size_cache_age", NULL, FT_DURATION, "1200", 0, 86400 * 365, NULL,
	  "age after which a cached mailbox size is recalculated", 0 },
	{ "password.scheme", NULL, FT_ENUM, "yescrypt", 0, 0, "yescrypt|bcrypt|sha512-crypt",
	  "hash for new passwords; all three are accepted for login and import (manual 5.2.4)", 0 },
	/* password policy (issue 12; adm_password_check in lib-admin) */
	{ "password.min_length", NULL, FT_INT, "8", 1, 1024, NULL,
	  "fewest characters in a new password (post offices may set their own password_min_length)", 0 },
	BOOL("password.reject_names", "1",
	     "refuse a new password that contains the mailbox name or the post office name (3 characters or more)"),
	{ "footer.scope", NULL, FT_ENUM, "none", 0, 0, "none|global|postoffice|postoffice+global",
	  "which footers are added to mail leaving for external addresses (manual 5.2.5)", 0 },
	{ "footer.text", NULL, FT_TEXT, "", 0, 65536, NULL, "global footer, plain text", FIELD_MULTILINE },
	{ "footer.html", NULL, FT_TEXT, "", 0, 65536, NULL, "global footer, HTML", FIELD_MULTILINE },
	{ "welcome.message", NULL, FT_TEXT, "", 0, 262144, NULL,
	  "default message put into each new mailbox (manual 5.3.9.9; postern welcome set)", FIELD_MULTILINE },
	LISTEN("smtp", "0.0.0.0:25"),
	LISTEN("submission", "0.0.0.0:587"),
	LISTEN("smtps", "0.0.0.0:465"),
	LISTEN("pop3", "0.0.0.0:110"),
	LISTEN("pop3s", "0.0.0.0:995"),
	LISTEN("imap", "0.0.0.0:143"),
	LISTEN("imaps", "0.0.0.0:993"),
	LISTEN("http", "0.0.0.0:80"),
	LISTEN("https", "0.0.0.0:443"),
	LISTEN("managesieve", "0.0.0.0:4190"),
	LISTEN("xmpp", "0.0.0.0:5222"),
	LISTEN("xmpps", "0.0.0.0:5223"),
	/* XEP-0065 SOCKS5 proxy of xmppd; empty: off (Prosody's is 5000) */
	LISTEN("xmpp-proxy", ""),
	LISTEN("xmpp-server", ""),
	{ "smtp.max_message_size", NULL, FT_SIZE, "51200", 1, 4LL * 1024 * 1024, NULL,
	  "largest message accepted (SIZE)", 0 },
	{ "smtp.max_recipients", NULL, FT_INT, "500", 1, 100000, NULL,
	  "recipients per message", 0 },
	{ "smtp.max_connections", NULL, FT_INT, "1000", 1, 1000000, NULL,
	  "concurrent inbound SMTP connections", 0 },
	{ "smtp.max_connections_per_ip", NULL, FT_INT, "100", 1, 100000, NULL,
	  "concurrent inbound SMTP connections from one client address (an office behind one NAT address shares it; smtp.max_userip_connections limits each account)", 0 },
	{ "smtp.timeout", NULL, FT_DURATION, "300", 10, 3600, NULL,
	  "idle time allowed between SMTP commands and within DATA; a command line must also be complete within it", 0 },
	{ "smtp.data_timeout", NULL, FT_DURATION, "1200", 10, 86400, NULL,
	  "longest time for one whole message (DATA, or BDAT from the first chunk to the last), however often bytes arrive; then 421 4.4.2 and close", 0 },
	{ "smtp.max_session_time", NULL, FT_DURATION, "3600", 10, 604800, NULL,
	  "longest an SMTP session may last in all; then 421 4.4.2 and close (a message being committed is answered first)", 0 },
	{ "smtp.relay_networks", NULL, FT_TEXT, "", 0, 4000, NULL,
	  "networks allowed to relay without AUTH, space separated CIDR; empty: none, not even loopback", 0 },
	{ "smtp.require_tls_for_auth", NULL, FT_BOOL, "1", 0, 1, NULL,
	  "offer AUTH only over TLS", 0 },
	{ "smtp.notification_address", NULL, FT_ADDRESS, "", 0, 0, NULL,
	  "system notification address (sender of bounces and notices); empty: postmaster@<server.hostname>", 0 },
	{ "smtp.dnsbl", NULL, FT_TEXT, "", 0, 1000, NULL,
	  "DNS block lists checked for inbound clients, space separated zones (at most 8); a listed client gets 554 5.7.1 at RCPT, except to postmaster; AUTH and smtp.relay_networks are exempt", 0 },
	{ "smtp.dns_timeout", NULL, FT_DURATION, "10", 1, 120, NULL,
	  "longest wait for a client's DNS checks (block lists, reverse DNS) before its first RCPT goes on; what has not answered counts as not listed / unknown", 0 },
	/* sender policy (issue 11: submission binds the sender to the login)
	 * and SRS for forwarded mail */
	{ "srs.enabled", NULL, FT_BOOL, "1", 0, 1, NULL,
	  "rewrite the envelope sender of mail forwarded from an outside sender to outside addresses (redirects, groups) with SRS, so it passes SPF at the next hop; bounces to the SRS address go back to the original sender", 0 },
	{ "srs.domain", NULL, FT_TEXT, "", 0, 253, NULL,
	  "domain of SRS addresses (it must be hosted here); empty: the domain of the forwarding address", 0 },
	{ "srs.max_age", NULL, FT_DURATION, "1814400", 86400, 86400 * 365, NULL,
	  "SRS addresses older than this (whole days) are refused at RCPT (postsrsd: 21 days)", 0 },
	{ "srs.secret", NULL, FT_TEXT, "", 0, 200, NULL,
	  "key of the SRS hashes; empty: a random key is stored here at first use (changing it invalidates SRS addresses handed out)", FIELD_SECRET },
	BOOL("dkim.sign", "1",
	     "the server-wide DKIM switch (manual 5.4.4): sign outgoing mail of the domains with dkim_enabled"),
	BOOL("dkim.verify", "0",
	     "verify DKIM signatures of mail from outside (MTA) into an Authentication-Results field (RFC 8601); each signature costs a DNS lookup"),
	BOOL("dmarc.verify", "0",
	     "evaluate DMARC (RFC 9989) of mail from outside from the SPF and DKIM results (DKIM is verified for it) into Authentication-Results; each message costs DNS lookups of _dmarc records"),
	BOOL("dmarc.enforce", "0",
	     "act on DMARC failures: p=reject puts the message in bad mail (never a bounce), p=quarantine delivers it to Junk; off: results are only recorded"),
	BOOL("dmarc.reports", "1",
	     "record DMARC results of domains asking for aggregate reports (rua) for 'postern dmarc report'"),
	{ "dmarc.report_from", NULL, FT_TEXT, "", 0, 254, NULL,
	  "sender of DMARC aggregate reports; empty: postmaster@<server.hostname>", 0 },
	{ "limits.mailbox_messages", NULL, FT_INT, "300", 0, 1000000, NULL,
	  "outbound abuse limit: messages a mailbox may submit (SMTP AUTH, webmail, JMAP) per hour; over it the rest is held in the queue (bad mail, 'held'); 0: none", FIELD_UNLIMITED0 },
	{ "limits.mailbox_recipients", NULL, FT_INT, "1000", 0, 10000000, NULL,
	  "outbound abuse limit: recipients of a mailbox's submissions per hour; 0: none", FIELD_UNLIMITED0 },
	{ "limits.postoffice_messages", NULL, FT_INT, "3000", 0, 10000000, NULL,
	  "outbound abuse limit: messages the mailboxes of one post office may submit per hour; 0: none", FIELD_UNLIMITED0 },
	{ "limits.postoffice_recipients", NULL, FT_INT, "10000", 0, 100000000, NULL,
	  "outbound abuse limit: recipients of one post office's submissions per hour; 0: none", FIELD_UNLIMITED0 },
	BOOL("limits.suspend", "0",
	     "on a mailbox's breach of an outbound limit, suspend its sending until 'postern sendlimit unsuspend' (its mail is held)"),
	{ "limits.alert", NULL, FT_TEXT, "", 0, 254, NULL,
	  "address alerted (at most once an hour per mailbox or post office) when an outbound limit holds mail; empty: postmaster@<server.hostname>", 0 },
	BOOL("mta_sts.enabled", "0",
	     "MTA-STS (RFC 8461) for MX delivery: fetch, cache and apply the policies of recipient domains (enforce: only the policy's MX hosts, TLS with a valid certificate; testing: logged)"),
	{ "mta_sts.ca_file", NULL, FT_TEXT, "", 0, 1024, NULL,
	  "CA certificates (PEM file) that MTA-STS policy hosts and MX certificates are verified with; empty: the system's", 0 },
	{ "mta_sts.port", NULL, FT_INT, "443", 1, 65535, NULL,
	  "TCP port of the MTA-STS policy hosts (443; another only for tests)", 0 },
	{ "mta_sts.publish", NULL, FT_ENUM, "off", 0, 0, "off|none|testing|enforce",
	  "MTA-STS policy mode httpd serves for hosted domains at https://mta-sts.<domain>/.well-known/mta-sts.txt; off: none served", 0 },
	{ "mta_sts.publish_mx", NULL, FT_TEXT, "", 0, 1000, NULL,
	  "mx lines of the published MTA-STS policy (space separated host names or *.domain); empty: server.hostname", 0 },
	{ "mta_sts.publish_max_age", NULL, FT_INT, "604800", 86400, 31557600, NULL,
	  "max_age of the published MTA-STS policy, seconds", 0 },
	BOOL("dane.enabled", "0",
	     "DANE (RFC 7672) for MX delivery: TLSA records of MX hosts authenticate their TLS certificates; turn it on only when dns.hosts (or /etc/resolv.conf) is a DNSSEC-validating resolver reached over loopback or a trusted link, whose AD bit is believed"),
	BOOL("tlsrpt.enabled", "1",
	     "record the results of TLS sessions with an MTA-STS or DANE policy (RFC 8460) for 'postern tls report'"),
	{ "tlsrpt.report_from", NULL, FT_TEXT, "", 0, 254, NULL,
	  "sender of TLS-RPT aggregate reports; empty: postmaster@<server.hostname>", 0 },
	BOOL("reports.daily", "1",
	     "posternd sends the DMARC and TLS-RPT aggregate reports of each day after it ends (postern dmarc report --send, postern tls report --send; up to 7 days late after a stop)"),
	{ "reports.keep_days", NULL, FT_INT, "31", 1, 3650, NULL, "days the DMARC and TLS-RPT row files (dmarc/<day>.tsv, tlsrpt/<day>.tsv) are kept; posternd's daily job removes older ones after the day's reports were sent", 0 },
	{ "tlsrpt.ca_file", NULL, FT_TEXT, "", 0, 1024, NULL,
	  "CA certificates (PEM file) that the hosts of https: TLS-RPT rua addresses are verified with; empty: the system's", 0 },
	{ "tlsrpt.publish_rua", NULL, FT_TEXT, "", 0, 1000, NULL,
	  "rua of the _smtp._tls TXT record 'postern tls dns' prints for hosted domains (comma separated mailto:/https: URIs); empty: mailto:postmaster@<domain>", 0 },
	BOOL("arc.verify", "0",
	     "verify the ARC chain (RFC 8617) of mail from outside into Authentication-Results (arc=pass/fail/none); needed by arc.seal"),
	BOOL("arc.seal", "0",
	     "ARC-seal mail from outside that lists, redirects and groups send on, with the DKIM key of the forwarding domain (dkim_enabled, active selector)"),
	{ "arc.trusted_sealers", NULL, FT_TEXT, "", 0, 1000, NULL,
	  "domains, space separated, whose ARC seal (arc=pass) overrides a DMARC failure: the message is delivered, not rejected or quarantined", 0 },
	BOOL("smtp.spf", "1",
	     "check SPF (RFC 7208) of the MAIL FROM domain (HELO for the null sender) of unauthenticated mail from outside smtp.relay_networks and record it in Received-SPF; never rejects"),
	BOOL("smtp.check_loopback", "0",
	     "run the DNS checks for loopback clients too (127.0.0.0/8, ::1; for tests)"),
	{ "smtp.out_port", NULL, FT_INT, "25", 1, 65535, NULL,
	  "TCP port of remote mail exchangers for outbound delivery (MX records carry no port; other values are for tests)", 0 },
	{ "smtp.out_timeout", NULL, FT_DURATION, "0", 0, 3600, NULL,
	  "cap on every outbound SMTP timeout (connect, commands, data); 0: the RFC 5321 4.5.3.2 values", 0 },
	{ "queue.retry_schedule", NULL, FT_TEXT, "5m 10m 30m 1h 2h 4h", 1, 1000, NULL,
	  "delays between outbound delivery attempts; the last repeats", 0 },
	{ "queue.bounce_after", NULL, FT_DURATION, "108000", 60, 86400 * 30, NULL,
	  "give up and return mail to its sender after this time (manual 2.3: 30 hours)", 0 },
	{ "queue.delay_notice_after", NULL, FT_DURATION, "14400", 0, 86400 * 30, NULL,
	  "tell the sender of a delay after this time; 0: never", 0 },
	{ "smarthost.host", NULL, FT_HOSTPORT, "", 0, 0, NULL,
	  "send all outbound mail through this host[:port]; empty: deliver by MX", 0 },
	BOOL("smarthost.auth", "0", "authenticate to the smart host"),
	TEXT("smarthost.user", "user name for the smart host"),
	{ "smarthost.password", NULL, FT_TEXT, "", 0, 1000, NULL,
	  "password for the smart host (kept in the config store: it must be sent)", FIELD_SECRET },
	BOOL("delivery.event_on_bulk", "0",
	     "run delivery events on bulk/system messages too (manual 5.5.6)"),
	{ "delivery.event_timeout", NULL, FT_DURATION, "30", 1, 3600, NULL,
	  "longest a delivery event program may run", 0 },
	{ "delivery.workers", NULL, FT_INT, "4", 1, 64, NULL,
	  "processes of the post office connector and the MTA working the queues in parallel (read at start)", 0 },
	{ "delivery.batch", NULL, FT_INT, "32", 1, 256, NULL,
	  "queue items the post office connector and the MTA each commit together, sharing their fsyncs (group commit; each staged file is held open until the commit); 1: one by one (read at start)", 0 },
	{ "list.unsubscribe_url", NULL, FT_TEXT, "", 0, 500, NULL,
	  "https URL of the one-click unsubscribe endpoint (RFC 8058); empty: http.public_url + /list/unsubscribe when that is set, else mailto only", 0 },
	{ "http.public_url", NULL, FT_TEXT, "", 0, 500, NULL,
	  "base URL clients reach the HTTP service at (https://mail.example.com), for the links it hands out (list one-click unsubscribe); empty: none", 0 },
	{ "http.max_connections_per_ip", NULL, FT_INT, "20", 1, 100000, NULL,
	  "concurrent HTTP connections from one client address", 0 },
	{ "http.request_timeout", NULL, FT_DURATION, "30", 1, 3600, NULL,
	  "longest time to receive one whole request (line, header, body): slow clients (slowloris) are closed", 0 },
	{ "http.idle_timeout", NULL, FT_DURATION, "60", 1, 3600, NULL,
	  "close keep-alive HTTP connections idle this long between requests", 0 },
	{ "http.max_body", NULL, FT_SIZE, "1024", 1, 1024 * 1024, NULL,
	  "largest request body the HTTP service takes (413 above)", 0 },
	{ "http.max_upload", NULL, FT_SIZE, "51200", 1, 4 * 1024 * 1024, NULL,
	  "largest JMAP blob upload (maxSizeUpload), written to a temporary file as it arrives (413 above)", 0 },
	{ "http.session_idle", NULL, FT_DURATION, "1800", 60, 86400 * 7, NULL,
	  "a web admin session unused this long ends (the user logs in again)", 0 },
	{ "http.session_max", NULL, FT_DURATION, "43200", 300, 86400 * 30, NULL,
	  "a web admin session ends this long after its login, used or not", 0 },
	{ "list.held_expire", NULL, FT_DURATION, "1209600", 0, 86400 * 365, NULL,
	  "posts held for a list's moderator and not decided within this time are discarded, their posters told; 0: kept until decided", 0 },
	{ "list.confirm_expire", NULL, FT_DURATION, "604800", 1, 86400 * 365, NULL,
	  "unanswered subscription and unsubscription confirmations expire after this time (their tokens stop working)", 0 },
	{ "list.bounce_stale_after", NULL, FT_DURATION, "604800", 1, 86400 * 365, NULL,
	  "a list member's bounces older than this are forgotten, and a probe unanswered this long may be sent again (Mailman's bounce_info_stale_after)", 0 },
	{ "popretr.interval", NULL, FT_DURATION, "300", 10, 86400, NULL,
	  "how often POP retrieval fetches every enabled account (manual 5.5.8)", 0 },
	{ "popretr.workers", NULL, FT_INT, "4", 1, 64, NULL,
	  "POP retrieval accounts fetched at the same time, each in its own process", 0 },
	{ "popretr.timeout", NULL, FT_DURATION, "60", 1, 3600, NULL,
	  "longest a remote POP3 server may stay silent (connect, greeting, each reply) before the retrieval fails", 0 },
	{ "popretr.max_run_time", NULL, FT_DURATION, "3600", 5, 86400, NULL,
	  "a retrieval still running after this time is killed (safe: nothing is lost or fetched twice)", 0 },
	{ "mta.pickup_event", NULL, FT_TEXT, "", 0, 1000, NULL,
	  "program the MTA runs for each message it picks up; empty: none", 0 },
	{ "imap.processes", NULL, FT_INT, "1", 1, 64, NULL,
	  "IMAP server processes sharing the listeners (read at start); per-address limits, login throttling and IDLE notifications work across them. Disk flushes already run on worker threads, so 1 is usually enough", 0 },
	{ "imap.max_connections_per_ip", NULL, FT_INT, "200", 1, 100000, NULL,
	  "concurrent IMAP connections from one client address, logged in or not (an office behind one NAT address shares it; imap.max_userip_connections limits each mailbox)", 0 },
	{ "imap.login_timeout", NULL, FT_DURATION, "60", 5, 3600, NULL,
	  "close IMAP connections that do not log in within this time", 0 },
	{ "imap.idle_timeout", NULL, FT_DURATION, "1800", 5, 86400, NULL,
	  "close logged-in IMAP connections silent this long (IDLE included)", 0 },
	{ "mailbox.max_folders", NULL, FT_INT, "1000", 1, 1000000, NULL,
	  "folders one mailbox may have, INBOX included: IMAP CREATE (and RENAME of INBOX) past it gets NO [LIMIT], a Sieve fileinto into a missing folder keeps the message in INBOX; each folder costs four directories and index rows outside the quota", 0 },
	{ "pop3.max_connections_per_ip", NULL, FT_INT, "100", 1, 100000, NULL,
	  "concurrent POP3 connections from one client address, logged in or not (an office behind one NAT address shares it; pop3.max_userip_connections limits each mailbox)", 0 },
	{ "pop3.login_timeout", NULL, FT_DURATION, "60", 2, 3600, NULL,
	  "close POP3 connections that do not log in within this time", 0 },
	{ "pop3.idle_timeout", NULL, FT_DURATION, "600", 600, 86400, NULL,
	  "close logged-in POP3 connections silent this long (RFC 1939: at least 10 minutes)", 0 },
	BOOL("imap.allow_plaintext_auth", "0",
	     "allow LOGIN and AUTHENTICATE PLAIN without TLS from any address; by default only TLS connections and loopback clients may send a password (LOGINDISABLED otherwise)"),
	BOOL("pop3.allow_plaintext_auth", "0",
	     "allow USER/PASS and AUTH PLAIN without TLS from any address; by default only TLS connections and loopback clients may send a password"),
	BOOL("auth.loopback_secure", "1",
	     "count loopback clients (127.0.0.0/8, ::1) as secure for plaintext logins, as Dovecot does; 0 treats them as remote (tests of the policy)"),
	{ "auth.max_failures", NULL, FT_INT, "10", 1, 100000, NULL,
	  "failed logins from one address before it is throttled", 0 },
	/* logged-in sessions per mailbox and client address (lib-service
	 * logins.c; Dovecot's mail_max_userip_connections) */
	{ "imap.max_userip_connections", NULL, FT_INT, "10", 1, 100000, NULL,
	  "logged-in IMAP sessions of one mailbox from one client address (all IMAP processes together); a login over it gets NO [LIMIT]", 0 },
	{ "pop3.max_userip_connections", NULL, FT_INT, "10", 1, 100000, NULL,
	  "logged-in POP3 sessions of one mailbox from one client address; a login over it gets -ERR [IN-USE]", 0 },
	{ "smtp.max_userip_connections", NULL, FT_INT, "10", 1, 100000, NULL,
	  "SMTP sessions authenticated (AUTH) as one mailbox from one client address; an AUTH over it gets 454 4.7.0", 0 },
	{ "tls.cert", NULL, FT_TEXT, "", 0, 1000, NULL,
	  "default certificate (PEM); empty: <data root>/certs/default.crt", 0 },
	{ "tls.key", NULL, FT_TEXT, "", 0, 1000, NULL,
	  "default private key (PEM); empty: <data root>/certs/default.key", 0 },
	/* xmppd (issue 18) */
	{ "xmpp.max_connections_per_ip", NULL, FT_INT, "100", 1, 100000, NULL,
	  "concurrent XMPP connections from one client address, logged in or not", 0 },
	{ "xmpp.max_userip_connections", NULL, FT_INT, "10", 1, 100000, NULL,
	  "logged-in XMPP streams of one user from one client address; a login over it gets SASL <temporary-auth-failure/>", 0 },
	{ "xmpp.login_timeout", NULL, FT_DURATION, "60", 5, 3600, NULL,
	  "close XMPP connections silent this long before they log in", 0 },
	{ "xmpp.idle_timeout", NULL, FT_DURATION, "3600", 60, 86400, NULL,
	  "close logged-in XMPP streams silent this long (clients keep theirs alive with pings or white space)", 0 },
	BOOL("xmpp.allow_plaintext_auth", "0",
	     "allow SASL PLAIN without TLS from any address; by default only TLS connections and loopback clients may send a password"),
	{ "xmpp.archive_days", NULL, FT_INT, "0", 0, 36500, NULL,
	  "chat archive messages (XEP-0313, users' and rooms') older than this many days are removed (hourly, by xmppd); 0: kept (up to 10000 per user)", 0 },
	/* external contacts (xmppd guest.h) */
	{ "xmpp.guests_per_user", NULL, FT_INT, "10", 0, 1000, NULL,
	  "active chat invitations of outside addresses (external contacts, temporary logins) one user may have; 0: nobody may invite", 0 },
	{ "xmpp.guest_days", NULL, FT_INT, "7", 1, 90, NULL,
	  "days a chat invitation of an outside address lasts when the inviter does not say", 0 },
	{ "xmpp.guest_url", NULL, FT_TEXT, "", 0, 500, NULL,
	  "web chat page given in invitation mails to outside addresses (beside the xmpp: link); empty: none", 0 },
	{ "xmpp.proxy_host", NULL, FT_TEXT, "", 0, 253, NULL,
	  "host name or address chat clients reach the SOCKS5 proxy at when xmpp-proxy.listen is a wildcard address; empty: server.hostname", 0 },
	/* server-to-server federation (xmppd s2s.c, dialback.c) */
	{ "xmpp.federation_domains", NULL, FT_TEXT, "", 0, 4000, NULL,
	  "domains of ours whose users may chat with other XMPP servers (federation, RFC 6120 server-to-server; needs xmpp-server.listen): space separated, * for all; empty: none, remote addresses get <remote-server-not-found/>", 0 },
	{ "xmpp.s2s_max_connections", NULL, FT_INT, "100", 1, 10000, NULL,
	  "server-to-server connections at once, incoming and outgoing; past it new ones are refused", 0 },
	{ "xmpp.s2s_queue_max", NULL, FT_INT, "100", 1, 10000, NULL,
	  "stanzas kept for a remote domain while its connection is being made; past it they are answered <resource-constraint/>", 0 },
	{ "xmpp.s2s_stanza_max", NULL, FT_SIZE, "256", 16, 4096, NULL,
	  "largest stanza a remote server may send (past it the stream ends with <policy-violation/>)", 0 },
	{ "xmpp.s2s_timeout", NULL, FT_DURATION, "60", 5, 3600, NULL,
	  "time to connect to a remote server and authenticate (dialback); then waiting stanzas get <remote-server-timeout/>", 0 },
	{ "xmpp.s2s_idle_timeout", NULL, FT_DURATION, "600", 30, 86400, NULL,
	  "server-to-server connections with no traffic this long are closed (made again when needed)", 0 },
	{ "xmpp.dialback_secret", NULL, FT_TEXT, "", 0, 200, NULL,
	  "key of server dialback (XEP-0220, XEP-0185); empty: a random key is stored here at first use", FIELD_SECRET },
	/* XEP-0215 STUN/TURN for calls (xmppd turn.c; coturn with use-auth-secret) */
	{ "chat.turn.host", NULL, FT_TEXT, "", 0, 253, NULL,
	  "host name or address of the STUN/TURN server (coturn) chat clients use for calls; empty: none offered", 0 },
	{ "chat.turn.port", NULL, FT_INT, "3478", 1, 65535, NULL,
	  "port of the STUN/TURN server (UDP and TCP)", 0 },
	{ "chat.turn.ttl", NULL, FT_DURATION, "86400", 60, 604800, NULL,
	  "lifetime of the TURN credentials chat clients are given", 0 },
	{ "chat.turn.secret", NULL, FT_TEXT, "", 0, 200, NULL,
	  "shared secret of TURN credentials: coturn's static-auth-secret (with use-auth-secret); empty: a random one is stored here at first use", FIELD_SECRET },
	/* XEP-0363 HTTP file upload (lib-config/chatupload.h) */
	{ "xmpp.upload_max_size", NULL, FT_SIZE, "10240", 1, 1024 * 1024, NULL,
	  "largest file a chat upload slot is given for (at most http.max_upload, which the HTTP service takes; the body streams to a file)", 0 },
	{ "xmpp.upload_quota", NULL, FT_SIZE, "102400", 0, LLONG_MAX / 2, NULL,
	  "chat uploads one mailbox may keep in all; 0: no limit", 0 },
	{ "xmpp.upload_url", NULL, FT_TEXT, "", 0, 500, NULL,
	  "base URL of chat uploads; empty: http.public_url + /chat/upload (without either, no upload service)", 0 },
	{ "xmpp.upload_secret", NULL, FT_TEXT, "", 0, 200, NULL,
	  "key of chat upload slots; empty: a random key is stored here at first use (changing it invalidates slots handed out)", FIELD_SECRET },
	{ "log.level", NULL, FT_ENUM, "info", 0, 0, "error|warning|info|debug",
	  "least severe log level written", 0 },
	/* login security (issue 17; lib-config/loginsec.h) */
	{ "auth.twofactor_mode", NULL, FT_ENUM, "never", 0, 0, "never|always|new_ip|new_country",
	  "default two-factor challenge of mailboxes whose post office says inherit (5.5.9); any but never: web logins ask for a TOTP code and mail protocols take only app passwords", 0 },
	{ "auth.policy_mode", NULL, FT_ENUM, "off", 0, 0, "off|block|allow",
	  "global country restriction for every login (5.3.7): block the listed countries, or allow only them (needs auth.geoip_db)", 0 },
	{ "auth.policy_countries", NULL, FT_TEXT, "", 0, 1000, NULL,
	  "ISO 3166 country codes of auth.policy_mode, comma separated", FIELD_COUNTRIES },
	{ "auth.geoip_db", NULL, FT_TEXT, "", 0, 1000, NULL,
	  "country database (MaxMind DB format: DB-IP Lite country or GeoLite2-Country .mmdb) for country policies, 'new country' and the login record; empty: none", 0 },
	{ "auth.pam_timeout", NULL, FT_DURATION, "10", 1, 300, NULL,
	  "longest a PAM check may take before the login is refused", 0 },
	{ "auth.login_record_days", NULL, FT_INT, "90", 1, 3650, NULL,
	  "days the login record (postern mailbox logins, failed-logins) keeps an address after its last login", 0 },
	BOOL("auth.new_country_mail", "1",
	     "mail a mailbox when it is logged in to from a country it has not been used from before (needs auth.geoip_db)"),
	/* passkeys (WebAuthn; lib-admin/passkey.h) */
	BOOL("auth.passkey_login", "1",
	     "allow passwordless web login with a passkey (user verification required); passkeys as a second factor work either way"),
	{ "auth.remember_device_days", NULL, FT_INT, "0", 0, 365, NULL,
	  "days a browser may skip the second factor after a login that asked for it to be remembered (a signed, revocable device cookie); 0: never remembered", 0 },
	{ "auth.passkey_rp_id", NULL, FT_TEXT, "", 0, 253, NULL,
	  "WebAuthn relying party id (a domain name) of passkeys; empty: the host name the browser used. Changing it makes existing passkeys unusable", 0 },
	/* content security (issue 19; src/lib-filter, docs/CONTENT-SECURITY.md) */
	{ "antivirus.clamd", NULL, FT_TEXT, "", 0, 1000, NULL,
	  "clamd's socket: a unix socket path (/run/clamav/clamd.ctl) or host:port; empty: no virus scanning", 0 },
	BOOL("antivirus.scan", "1",
	     "scan mail entering the system when antivirus.clamd is set; a post office's field antivirus overrides it for mail to its addresses"),
	{ "antivirus.timeout", NULL, FT_DURATION, "30", 1, 600, NULL,
	  "longest one scan may take (connect, send, answer); then antivirus.on_failure applies", 0 },
	{ "antivirus.stream_max", NULL, FT_SIZE, "25600", 1, 4LL * 1024 * 1024, NULL,
	  "clamd's StreamMaxLength (clamd.conf): at most this much of a message is sent to clamd; a longer one is scanned in its first part", 0 },
	{ "antivirus.on_failure", NULL, FT_ENUM, "defer", 0, 0, "defer|pass",
	  "when clamd cannot scan (down, slow, garbage): defer (SMTP 451 4.7.1, the MTA keeps the item and retries) or pass the mail unscanned", 0 },
	BOOL("antivirus.at_smtp", "1",
	     "smtpd scans mail from SMTP clients before its 250 and rejects a virus (554 5.7.1); off: the MTA scans after the 250 and quarantines"),
	{ "antivirus.notify", NULL, FT_ADDRESS, "", 0, 0, NULL,
	  "address told of every quarantined message besides its local recipients; empty: the recipients only", 0 },
	{ "milter.list", NULL, FT_TEXT, "", 0, 4000, NULL,
	  "milters the MTA runs, in order, on mail entering the system, separated by commas: ADDRESS[;timeout=DURATION][;default=tempfail|accept|reject], ADDRESS unix:/path or inet:host:port", FIELD_MILTERS },
	{ "spam.rspamd", NULL, FT_HOSTPORT, "", 0, 0, NULL,
	  "rspamd's normal worker host:port: the MTA asks /checkv2 about mail entering the system; empty: no rspamd", 0 },
	{ "spam.rspamd_controller", NULL, FT_HOSTPORT, "", 0, 0, NULL,
	  "rspamd's controller host:port for training (learnspam/learnham when a user moves mail into or out of Junk); empty: no training", 0 },
	{ "spam.rspamd_password", NULL, FT_TEXT, "", 0, 1000, NULL,
	  "the controller's password, if it asks for one", FIELD_SECRET },
	{ "spam.timeout", NULL, FT_DURATION, "30", 1, 600, NULL,
	  "longest one rspamd check may take; then the mail passes unchecked (logged)", 0 },
	BOOL("spam.at_smtp", "1",
	     "smtpd asks rspamd before its 250 and refuses mail reaching the reject score (550 5.7.1); off: the MTA asks after the 250 and quarantines it"),
	{ "spam.junk_score", NULL, FT_INT, "6", 1, 1000, NULL,
	  "mail scoring at least this goes to the recipient's Junk folder", 0 },
	{ "spam.reject_score", NULL, FT_INT, "15", 0, 1000, NULL,
	  "mail scoring at least this is refused (quarantined when it cannot be refused); 0: never", FIELD_UNLIMITED0 },
	{ NULL, NULL, 0, NULL, 0, 0, NULL, NULL, 0 }
};

const struct field_def postoffice_fields[] = {
	BOOL("disabled", "0", "post office is disabled: no mail in, no logins"),
	BOOL("allow_address_login", "0",
	     "mailboxes may log in with any of their e-mail addresses (manual 5.5.9)"),
	{ "footer_text", NULL, FT_TEXT, "", 0, 65536, NULL, "post office footer, plain text (5.3.4)", FIELD_MULTILINE },
	{ "footer_html", NULL, FT_TEXT, "", 0, 65536, NULL, "post office footer, HTML (5.3.4)", FIELD_MULTILINE },
	BOOL("usage_notify", "0", "enable usage notifications (5.3.5)"),
	{ "usage_threshold", "usage_threshold_kb", FT_SIZE, "0", 0, LLONG_MAX / 2, NULL,
	  "disk space allotted to the post office; crossing it sends one notification", 0 },
	TEXT("usage_notify_mailbox", "mailbox notified when the threshold is reached"),
	BOOL("webadmin_enabled", "1", "web administration for this post office (5.3.6)"),
	BOOL("webadmin_edit_mailboxes", "1", "web admins can create and edit mailboxes"),
	{ "webadmin_max_mailboxes", NULL, FT_INT, "0", 0, 10000000, NULL, "most mailboxes; 0: unlimited", FIELD_UNLIMITED0 },
	{ "webadmin_max_mailbox_size", "webadmin_max_mailbox_kb", FT_SIZE, "0", 0, LLONG_MAX / 2, NULL,
	  "largest mailbox quota a web admin may set; 0: unlimited", FIELD_UNLIMITED0 },
	{ "webadmin_default_mailbox_size", "webadmin_default_mailbox_kb", FT_SIZE, "0", 0, LLONG_MAX / 2, NULL,
	  "quota of mailboxes created in web admin; 0: unlimited", FIELD_UNLIMITED0 },
	BOOL("webadmin_select_size", "1", "web admins can choose a quota up to the default"),
	BOOL("webadmin_edit_lists", "1", "web admins can create and edit lists"),
	{ "webadmin_max_lists", NULL, FT_INT, "0", 0, 10000000, NULL, "most lists; 0: unlimited", FIELD_UNLIMITED0 },
	{ "webadmin_max_list_addresses", NULL, FT_INT, "0", 0, 10000000, NULL, "most addresses per list; 0: unlimited", FIELD_UNLIMITED0 },
	BOOL("webadmin_edit_domains", "0", "web admins can add, edit and remove domains"),
	BOOL("webadmin_brand", "0", "web admins can brand webmail and web admin"),
	{ "smarthost", NULL, FT_HOSTPORT, "", 0, 0, NULL,
	  "route all outbound mail of this post office through host[:port] (5.3.3)", 0 },
	BOOL("smarthost_auth", "0", "the smart host requires authentication"),
	TEXT("smarthost_user", "user name for the smart host"),
	{ "smarthost_password", NULL, FT_TEXT, "", 0, 1000, NULL, "password for the smart host", FIELD_SECRET },
	BOOL("pam_enabled", "0", "authenticate mailboxes against PAM (integrated authentication, 5.3.3): the mailbox name is the PAM user; PAM or the Postern password"),
	{ "pam_service", NULL, FT_TEXT, "postern", 1, 255, NULL, "PAM service name (/etc/pam.d/NAME)", 0 },
	BOOL("pam_autocreate", "0", "create a mailbox on the first successful PAM login of an unknown NAME@PO"),
	BOOL("pam_only", "0", "never fall back to the Postern password"),
	{ "authpolicy_mode", NULL, FT_ENUM, "off", 0, 0, "off|block|allow",
	  "country restrictions for logins (5.3.7): block the listed countries, or allow only them; applies together with auth.policy_mode", 0 },
	{ "authpolicy_countries", NULL, FT_TEXT, "", 0, 1000, NULL, "ISO 3166 country codes, comma separated", FIELD_COUNTRIES },
	BOOL("oauth_enabled", "0", "webmail login through an OpenID Connect provider (5.3.8): /jmap/mail/oidc/start?postoffice=NAME; maps to a mailbox by verified e-mail address"),
	TEXT("oauth_issuer", "OpenID Connect issuer URL (https; its /.well-known/openid-configuration is read)"),
	TEXT("oauth_client_id", "OpenID Connect client id registered at the provider"),
	{ "oauth_client_secret", NULL, FT_TEXT, "", 0, 1000, NULL, "OpenID Connect client secret (client_secret_basic)", FIELD_SECRET },
	/* password policy (issue 12; adm_password_check in lib-admin) */
	{ "password_min_length", NULL, FT_INT, "0", 0, 1024, NULL,
	  "fewest characters in a new password of this post office; 0: the global password.min_length", 0 },
	{ "password_reject_names", NULL, FT_ENUM, "global", 0, 0, "global|yes|no",
	  "refuse passwords containing the mailbox or post office name; global: password.reject_names", 0 },
	{ "send_as", NULL, FT_ENUM, "own", 0, 0, "own|postoffice|any",
	  "which sender addresses (MAIL FROM, From:, Sender:) authenticated mailboxes may use: own (their addresses, and groups/lists with members_send_as), postoffice (any address of the post office's domains), any (no check)", 0 },
	{ "twofactor_mode", NULL, FT_ENUM, "inherit", 0, 0, "inherit|never|always|new_ip|new_country",
	  "default two-factor challenge of the post office's mailboxes (5.5.9); inherit: the setting auth.twofactor_mode", 0 },
	/* content security (issue 19) */
	{ "antivirus", NULL, FT_ENUM, "inherit", 0, 0, "inherit|on|off",
	  "scan mail to this post office's addresses for viruses; inherit: the setting antivirus.scan", 0 },
	{ "spam_filter", NULL, FT_ENUM, "inherit", 0, 0, "inherit|on|off",
	  "check mail to this post office's addresses with rspamd (spam.rspamd); inherit: on when spam.rspamd is set", 0 },
	{ "spam_junk_score", NULL, FT_INT, "0", 0, 1000, NULL,
	  "score from which mail goes to Junk; 0: the setting spam.junk_score", 0 },
	{ "spam_reject_score", NULL, FT_INT, "0", 0, 1000, NULL,
	  "score from which mail is refused; 0: the setting spam.reject_score", 0 },
	{ NULL, NULL, 0, NULL, 0, 0, NULL, NULL, 0 }
};

const struct field_def domain_fields[] = {
	BOOL("disabled", "0", "stop mail to the domain (5.4.2)"),
	TEXT("abuse_address", "mailbox or address for abuse@ (default: the postmaster target)"),
	TEXT("postmaster_address", "mailbox or address for postmaster@ (default: the postmaster mailbox)"),
	TEXT("catchall_address", "mailbox or address receiving mail for unknown addresses"),
	{ "smarthost", NULL, FT_HOSTPORT, "", 0, 0, NULL,
	  "act as smart host: relay all mail for this domain to host[:port] (5.4.2)", 0 },
	BOOL("smarthost_auth_only", "0", "only relay mail for this domain from authenticated users"),
	BOOL("dkim_enabled", "0", "sign outgoing messages (5.4.4)"),
	{ "dkim_algorithm", NULL, FT_ENUM, "rsa-sha256", 0, 0, "rsa-sha256|ed25519-sha256", "signing algorithm", 0 },
	{ "dkim_header_canon", NULL, FT_ENUM, "relaxed", 0, 0, "relaxed|simple", "header canonicalization", 0 },
	{ "dkim_body_canon", NULL, FT_ENUM, "relaxed", 0, 0, "relaxed|simple", "body canonicalization", 0 },
	{ "dkim_body_limit", NULL, FT_INT, "0", 0, 1LL << 40, NULL, "body hash length limit (l=); 0: none", FIELD_UNLIMITED0 },
	BOOL("dkim_identity", "0", "include the user identity (i=)"),
	{ NULL, NULL, 0, NULL, 0, 0, NULL, NULL, 0 }
};

const struct field_def mailbox_fields[] = {
	{ "type", NULL, FT_ENUM, "USER", 0, 0, "USER|ADMIN|SYSADMIN",
	  "access level: ADMIN administers its post office, SYSADMIN everything (5.5.3)", 0 },
	{ "quota", "quota_kb", FT_SIZE, "0", 0, LLONG_MAX / 2, NULL,
	  "size limit; mail that would pass it bounces; 0: unlimited", FIELD_UNLIMITED0 },
	BOOL("disabled", "0", "mailbox cannot be accessed and its addresses are inactive"),
	BOOL("prevent_auth", "0", "prevent the user from authenticating to any service"),
	TEXT("friendly_name", "display name for webmail and auto responder replies (5.5.4)"),
	{ "reply_to", NULL, FT_ADDRESS, "", 0, 0, NULL, "reply-to address for auto responders", 0 },
	BOOL("redirect_enabled", "0", "redirect all mail to the redirect addresses (5.5.5)"),
	BOOL("redirect_keep_copy", "0", "keep a copy of redirected mail in the mailbox"),
	BOOL("autoresponder_enabled", "0", "send an auto reply to senders (5.5.6)"),
	TEXT("autoresponder_subject", "subject of the auto reply"),
	{ "autoresponder_body", NULL, FT_TEXT, "", 0, 65536, NULL, "text of the auto reply", FIELD_MULTILINE },
	{ "autoresponder_html", NULL, FT_TEXT, "", 0, 65536, NULL, "HTML form of the auto reply, sent beside the text (a safe subset of HTML: lib/htmlsafe.h)", FIELD_MULTILINE },
	{ "autoresponder_start", NULL, FT_TIME, "0", 0, 0, NULL, "reply only from this time (YYYY-MM-DD[ HH:MM] UTC); 0: always", 0 },
	{ "autoresponder_end", NULL, FT_TIME, "0", 0, 0, NULL, "reply only until this time; 0: no end", 0 },
	{ "autoresponder_period_h", NULL, FT_INT, "24", 0, 24 * 365, NULL, "hours before the same sender gets another reply", 0 },
	BOOL("delivery_event_enabled", "0", "run a program for each delivered message (5.5.6)"),
	{ "delivery_event_program", NULL, FT_TEXT, "", 0, 1000, NULL, "program run as: program messagefile connectortype", 0 },
	{ "authpolicy_mode", NULL, FT_ENUM, "off", 0, 0, "off|block|allow", "country restrictions for logins (5.5.9); applies together with the post office's and the global one", 0 },
	{ "authpolicy_countries", NULL, FT_TEXT, "", 0, 1000, NULL, "ISO 3166 country codes, comma separated", FIELD_COUNTRIES },
	{ "twofactor_mode", "twofactor_challenge", FT_ENUM, "inherit", 0, 0, "inherit|never|always|new_ip|new_country",
	  "when a web login asks for a TOTP code (5.5.9); any but never: mail protocols take only app passwords; inherit: the post office's twofactor_mode", 0 },
	{ "twofactor_type", NULL, FT_ENUM, "totp", 0, 0, "totp|smtp", "the second factor of the web login: a TOTP app, or smtp: a code sent by mail to twofactor_address (passkeys and recovery codes work with either)", 0 },
	{ "twofactor_address", NULL, FT_ADDRESS, "", 0, 0, NULL, "where login codes are mailed (twofactor_type smtp)", 0 },
	{ "send_as", NULL, FT_ENUM, "inherit", 0, 0, "inherit|own|postoffice|any",
	  "sender addresses this mailbox may use when authenticated; inherit: the post office's send_as", 0 },
	{ NULL, NULL, 0, NULL, 0, 0, NULL, NULL, 0 }
};

const struct field_def group_fields[] = {
	{ "name", NULL, FT_TEXT, "", 1, 200, NULL, "descriptive name of the group (5.6.2)", 0 },
	BOOL("disabled", "0", "mail to the group bounces as an invalid address"),
	BOOL("members_send_as", "0", "mailboxes that are members may send as the group address"),
	{ NULL, NULL, 0, NULL, 0, 0, NULL, NULL, 0 }
};

const struct field_def list_fields[] = {
	{ "owner", NULL, FT_ADDRESS, "", 0, 0, NULL, "list owner e-mail, also the moderator (5.7.3)", 0 },
	BOOL("moderated", "0", "posts are held for the moderator"),
	BOOL("members_only", "0", "only members may post"),
	BOOL("disabled", "0", "nobody can post; posts bounce"),
	TEXT("description", "what the list is about"),
	{ "subject_prefix", NULL, FT_TEXT, "", 0, 100, NULL, "prefix added to the subject of posts, e.g. [team]", 0 },
	{ "footer", NULL, FT_TEXT, "", 0, 65536, NULL, "text appended to posts", FIELD_MULTILINE },
	BOOL("reply_to_list", "0", "set Reply-To to the list address"),
	BOOL("verp", "0", "variable envelope return path per member"),
	{ "bounce_limit", NULL, FT_INT, "5", 1, 1000, NULL, "bounces (within list.bounce_stale_after of each other) before a member is sent a probe; it is disabled when the probe bounces", 0 },
	BOOL("members_send_as", "0", "mailboxes that are members may send as the list address"),
	{ NULL, NULL, 0, NULL, 0, 0, NULL, NULL, 0 }
};

/* countries_parse - "de, fr" to "DE,FR"; two-letter codes only */
static char *
countries_parse(const char *input, const char **error_r)
{
	struct buf b;

	if (loginsec_countries_valid(input, error_r) < 0)
		return NULL;
	buf_init(&b, 0);
	buf_puts(&b, "");
	for (const char *p = input; *p;) {
		size_t n = strcspn(p, ", ");
		if (n == 2)
			buf_printf(&b, "%s%c%c", b.len ? "," : "",
			    toupper((unsigned char)p[0]),
			    toupper((unsigned char)p[1]));
		p += n;
		while (*p == ',' || *p == ' ')
			p++;
	}
	return buf_steal(&b);
}

const struct field_def *
field_find(const struct field_def *defs, const char *name)
{
	for (; defs->name != NULL; defs++)
		if (strcmp(defs->name, name) == 0)
			return defs;
	return NULL;
}

long long
parse_duration(const char *s)
{
	char *end;
	long long v, mul = 1;

	if (s == NULL || !isdigit((unsigned char)*s))
		return -1;
	v = strtoll(s, &end, 10);
	switch (*end) {
	case '\0': case 's': mul = 1; break;
	case 'm': mul = 60; break;
	case 'h': mul = 3600; break;
	case 'd': mul = 86400; break;
	default: return -1;
	}
	if (*end != '\0' && end[1] != '\0')
		return -1;
	if (v > LLONG_MAX / 86400 / 1000)
		return -1;
	return v * mul;
}

static long long
parse_time(const char *s)
{
	struct tm tm;
	const char *end;

	if (strcmp(s, "0") == 0 || *s == '\0')
		return 0;
	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%Y-%m-%d %H:%M", &tm);
	if (end == NULL || *end != '\0') {
		memset(&tm, 0, sizeof(tm));
		end = strptime(s, "%Y-%m-%dT%H:%M", &tm);
	}
	if (end == NULL || *end != '\0') {
		memset(&tm, 0, sizeof(tm));
		end = strptime(s, "%Y-%m-%d", &tm);
	}
	if (end == NULL || *end != '\0')
		return -1;
	return (long long)timegm(&tm);
}

bool
field_is_numeric(const struct field_def *f)
{
	return f->type == FT_BOOL || f->type == FT_INT || f->type == FT_SIZE ||
	    f->type == FT_DURATION || f->type == FT_TIME;
}

/* range_error - "expected WHAT from MIN to MAX" in the form people type
 * (a buffer of this thread, valid until the next call) */
static const char *
range_error(const struct field_def *f, const char *what)
{
	static __thread char msg[300];
	char lo[32], hi[32];

	snprintf(lo, sizeof(lo), "%lld", f->min);
	snprintf(hi, sizeof(hi), "%lld", f->max);
	char *flo = f->min == 0 ? xstrdup("0") : field_format(f, lo);
	char *fhi = field_format(f, hi);
	if (f->max >= LLONG_MAX / 4 && f->min == 0)
		snprintf(msg, sizeof(msg), "expected %s%s", what,
		    (f->flags & FIELD_UNLIMITED0) ? " (0 or 'unlimited': no limit)" : "");
	else if (f->max >= LLONG_MAX / 4)
		snprintf(msg, sizeof(msg), "expected %s of %s or more%s", what, flo,
		    (f->flags & FIELD_UNLIMITED0) ? " (0 or 'unlimited': no limit)" : "");
	else
		snprintf(msg, sizeof(msg), "expected %s from %s to %s%s", what, flo,
		    fhi, (f->flags & FIELD_UNLIMITED0) ?
		    " (0 or 'unlimited': no limit)" : "");
	free(flo);
	free(fhi);
	return msg;
}

char *
field_parse(const struct field_def *f, const char *input, const char **error_r)
{
	static __thread char msg[300];
	long long v;
	bool b;

	switch (f->type) {
	case FT_BOOL:
		if (parse_bool(input, &b) < 0) {
			*error_r = "expected yes or no";
			return NULL;
		}
		return xstrdup(b ? "1" : "0");
	case FT_INT:
		if (strcmp(input, "unlimited") == 0 && (f->flags & FIELD_UNLIMITED0))
			input = "0";
		if (parse_long(input, f->min, f->max, &v) < 0) {
			*error_r = range_error(f, "a whole number");
			return NULL;
		}
		return xasprintf("%lld", v);
	case FT_SIZE:
		if (strcmp(input, "unlimited") == 0 && (f->flags & FIELD_UNLIMITED0))
			input = "0";
		v = parse_size_kb(input, 'M');
		if (v < 0 || v < f->min || v > f->max) {
			*error_r = range_error(f, "a size in MB (or with K, M, G)");
			return NULL;
		}
		return xasprintf("%lld", v);
	case FT_DURATION:
		v = parse_duration(input);
		if (v < 0 || v < f->min || v > f->max) {
			*error_r = range_error(f, "a duration (90s, 15m, 30h, 2d)");
			return NULL;
		}
		return xasprintf("%lld", v);
	case FT_TIME:
		v = parse_time(input);
		if (v < 0) {
			*error_r = "expected YYYY-MM-DD or 'YYYY-MM-DD HH:MM' (UTC), or 0";
			return NULL;
		}
		return xasprintf("%lld", v);
	case FT_TEXT:
		if ((long long)strlen(input) > (f->max ? f->max : 1000) ||
		    (long long)strlen(input) < f->min) {
			snprintf(msg, sizeof(msg), "expected text of %lld to %lld bytes",
			    f->min, f->max ? f->max : 1000);
			*error_r = msg;
			return NULL;
		}
		if (!(f->flags & FIELD_MULTILINE) && strpbrk(input, "\r\n") != NULL) {
			*error_r = "text must be a single line";
			return NULL;
		}
		if (f->flags & FIELD_COUNTRIES)
			return countries_parse(input, error_r);
		if (f->flags & FIELD_MILTERS) {
			struct milter_spec *specs;
			size_t nspecs;
			if (milter_spec_parse(input, &specs, &nspecs, error_r) < 0)
				return NULL;
			milter_spec_free(specs, nspecs);
		}
		return xstrdup(input);
	case FT_ENUM: {
		size_t len = strlen(input);
		for (const char *c = f->choices; c != NULL; ) {
			const char *bar = strchr(c, '|');
			size_t clen = bar ? (size_t)(bar - c) : strlen(c);
			if (clen == len && strncasecmp(c, input, len) == 0)
				return xstrndup(c, clen);
			c = bar ? bar + 1 : NULL;
		}
		snprintf(msg, sizeof(msg), "not one of the allowed values: %s",
		    f->choices);
		for (char *p = msg; *p; p++)
			if (*p == '|')
				*p = ',';
		*error_r = msg;
		return NULL;
	}
	case FT_ADDRESS: {
		if (*input == '\0')
			return xstrdup("");
		char *a = address_normalize(input, error_r);
		return a;
	}
	case FT_HOSTPORT: {
		char host[256];
		const char *colon;
		if (*input == '\0')
			return xstrdup("");
		if (input[0] == '[') {
			const char *rb = strchr(input, ']');
			if (rb == NULL || (rb[1] != '\0' && rb[1] != ':')) {
				*error_r = "expected host[:port]";
				return NULL;
			}
			colon = rb[1] == ':' ? rb + 1 : NULL;
		} else {
			colon = strchr(input, ':');
			size_t hl = colon ? (size_t)(colon - input) : strlen(input);
			if (hl == 0 || hl >= sizeof(host)) {
				*error_r = "expected host[:port]";
				return NULL;
			}
			memcpy(host, input, hl);
			host[hl] = '\0';
			for (char *p = host; *p; p++)
				if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-') {
					*error_r = "host has a character that is not allowed";
					return NULL;
				}
		}
		if (colon != NULL && parse_long(colon + 1, 1, 65535, &v) < 0) {
			*error_r = "port must be 1-65535";
			return NULL;
		}
		return xstrdup(input);
	}
	case FT_LISTEN: {
		struct netaddr *list;
		size_t n;
		if (netaddr_parse_list(input, &list, &n, error_r) < 0)
			return NULL;
		struct buf out;
		buf_init(&out, 0);
		for (size_t i = 0; i < n; i++) {
			char one[96];
			netaddr_format(&list[i], one, sizeof(one));
			buf_printf(&out, "%s%s", i ? "," : "", one);
		}
		free(list);
		return buf_steal(&out);
	}
	}
	*error_r = "internal: unknown field type";
	return NULL;
}

char *
field_format(const struct field_def *f, const char *stored)
{
	long long v = strtoll(stored, NULL, 10);

	if ((f->flags & FIELD_SECRET) && *stored != '\0')
		return xstrdup("********");
	if ((f->flags & FIELD_UNLIMITED0) && field_is_numeric(f) && v == 0)
		return xstrdup("unlimited");
	switch (f->type) {
	case FT_BOOL:
		return xstrdup(v ? "yes" : "no");
	case FT_SIZE:
		if (v % (1024 * 1024) == 0 && v != 0)
			return xasprintf("%lld GB", v / (1024 * 1024));
		if (v % 1024 == 0)
			return xasprintf("%lld MB", v / 1024);
		return xasprintf("%lld KB", v);
	case FT_DURATION:
		if (v != 0 && v % 86400 == 0)
			return xasprintf("%lldd", v / 86400);
		if (v != 0 && v % 3600 == 0)
			return xasprintf("%lldh", v / 3600);
		if (v != 0 && v % 60 == 0)
			return xasprintf("%lldm", v / 60);
		return xasprintf("%llds", v);
	case FT_TIME: {
		if (v == 0)
			return xstrdup("0");
		time_t t = (time_t)v;
		struct tm tm;
		char out[32];
		gmtime_r(&t, &tm);
		strftime(out, sizeof(out), "%Y-%m-%d %H:%M", &tm);
		return xstrdup(out);
	}
	default:
		return xstrdup(stored);
	}
}

const char *
field_json_name(const struct field_def *f)
{
	static __thread char name[96];   /* httpd calls it on worker threads */

	if (f->type == FT_SIZE) {
		snprintf(name, sizeof(name), "%s_kb", f->name);
		return name;
	}
	if (f->type == FT_DURATION) {
		snprintf(name, sizeof(name), "%s_s", f->name);
		return name;
	}
	return f->name;
}
