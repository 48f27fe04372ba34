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
#include "settings.h"
#include "strutil.h"
#include "xalloc.h"

#define BOOL(n, d, h) { n, NULL, FT_BOOL, d, 0, 1, NULL, h, 0 }
#define TEXT(n, h) { n, NULL, FT_TEXT, "", 0, 1000, NULL, h, 0 }
/* settings of features not built yet (FIELD_UNBUILT) */
#define BOOL_UNBUILT(n, d, h) { n, NULL, FT_BOOL, d, 0, 1, NULL, h, FIELD_UNBUILT }
#define TEXT_UNBUILT(n, h) { n, NULL, FT_TEXT, "", 0, 1000, NULL, h, FIELD_UNBUILT }

const struct field_def settings_fields[] = {
#define SETTING_STR(id, name, type, def, min, max, flags, help) \
	{ name, NULL, type, def, min, max, NULL, help, flags },
#define SETTING_INT(id, name, type, def, min, max, flags, help) \
	{ name, NULL, type, def, min, max, NULL, help, flags },
#define SETTING_BOOL(id, name, def, flags, help) \
	{ name, NULL, FT_BOOL, def, 0, 1, NULL, help, flags },
#define SETTING_CHOICE_TEXT(e, text) "|" text
#define SETTING_ENUM(id, name, def, choices, flags, help) \
	{ name, NULL, FT_ENUM, def, 0, 0, \
	  ("" choices(SETTING_CHOICE_TEXT)) + 1, help, flags },
#include "settings-fields.def"
#undef SETTING_CHOICE_TEXT
	{ NULL, NULL, 0, NULL, 0, 0, NULL, NULL, 0 }
};
/* row id - 1 of settings_fields[] is enum setting_id id */
_Static_assert(sizeof(settings_fields) / sizeof(settings_fields[0]) ==
    SETTING_END, "settings-fields.def and settings_fields[] differ");

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
