/* guest-invite - invitations of external contacts, shared by xmppd, httpd and
 * the CLI (guest.h) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "buf.h"
#include "directory.h"
#include "guest.h"
#include "notice.h"
#include "settings.h"
#include "strutil.h"
#include "xalloc.h"

#define PASSWORD_LEN 20            /* of 31 symbols: 99 bits */

bool
guest_is_local(const char *local)
{
	return local != NULL && strncmp(local, GUEST_PREFIX,
	    sizeof(GUEST_PREFIX) - 1) == 0;
}

char *
guest_secret_hash(const char *password)
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	char *hex = xmalloc(2 * sizeof(md) + 1);

	SHA256((const unsigned char *)password, strlen(password), md);
	for (size_t i = 0; i < sizeof(md); i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	return hex;
}

bool
guest_secret_ok(const char *password, const char *hash)
{
	char *h = guest_secret_hash(password);
	bool ok = strlen(hash) == strlen(h) &&
	    CRYPTO_memcmp(h, hash, strlen(h)) == 0;

	free(h);
	return ok;
}

/* password_new - PASSWORD_LEN symbols without look-alikes (0/o, 1/l/i) */
static void
password_new(char *out)
{
	static const char sym[] = "abcdefghjkmnpqrstuvwxyz23456789";
	size_t i = 0;

	while (i < PASSWORD_LEN) {
		unsigned char b;
		random_bytes(&b, 1);
		if (b >= 248)     /* 8 * 31: no bias */
			continue;
		out[i++] = sym[b % 31];
	}
	out[i] = '\0';
}

/* address_check - one plain outside address */
static int
address_check(struct db *db, const char *address, const char **error_r)
{
	const char *at = strrchr(address, '@');
	struct dir_domain d;
	const char *err;

	if (strlen(address) > GUEST_ADDRESS_MAX || at == NULL ||
	    at == address || strpbrk(address, " \t\r\n<>,;\"()[]\\") != NULL) {
		*error_r = "not one plain mail address (name@domain)";
		return -1;
	}
	char *local = xstrndup(address, (size_t)(at - address));
	int r = localpart_check(local, &err) < 0 || domain_check(at + 1,
	    &err) < 0 ? -1 : 0;
	free(local);
	if (r < 0) {
		*error_r = "not one plain mail address (name@domain)";
		return -1;
	}
	if (dir_domain_get(db, at + 1, &d, &err) > 0) {
		*error_r = "that address is on a domain of this server: add its "
		    "user as a contact instead";
		return -1;
	}
	return 0;
}

/* mail_text - the invitation (new string) */
static char *
mail_text(struct db *db, const struct guest_inviter *inv,
	  const struct chat_guest *g, const char *password)
{
	char until[64];
	struct tm tm;
	time_t t = (time_t)g->expires;
	struct buf b;
	char *host = settings_hostname(db);
	const char *url = settings_current(db)->xmpp_guest_url;

	gmtime_r(&t, &tm);
	strftime(until, sizeof(until), "%Y-%m-%d %H:%M UTC", &tm);
	buf_init(&b, 0);
	buf_printf(&b, "%s invites you to chat.\n\n"
	    "Sign in with an XMPP (Jabber) chat client with this temporary "
	    "login:\n\n"
	    "  Chat address: %s\n"
	    "  Password:     %s\n"
	    "  Server:       %s\n"
	    "  Valid until:  %s\n\n"
	    "Then write to %s, or open this link in your chat client:\n\n"
	    "  xmpp:%s?message\n\n", inv->jid, g->jid, password, host, until,
	    inv->jid, inv->jid);
	if (*url != '\0')
		buf_printf(&b, "Or chat in your browser:\n\n  %s\n\n", url);
	buf_puts(&b, "You can chat with the person who invited you only. "
	    "The login stops working when the invitation expires or is "
	    "withdrawn.\n\nIf you did not expect this message, ignore it.\n");
	free(host);
	return buf_steal(&b);
}

int
guest_invite(struct db *db, struct chat_store *cs,
	     const struct guest_inviter *inv, const char *address, int days,
	     struct chat_guest *g_r, bool *internal_r, const char **error_r)
{
	static char err_buf[300];
	char password[PASSWORD_LEN + 1];
	unsigned char rnd[5];
	char hex[11];
	const char *err;
	int64_t now = (int64_t)time(NULL);
	int64_t limit = settings_current(db)->xmpp_guests_per_user;

	memset(g_r, 0, sizeof(*g_r));
	*internal_r = false;
	if (limit <= 0) {
		*error_r = "external contacts are off on this server "
		    "(xmpp.guests_per_user 0)";
		return -1;
	}
	if (days < 1 || days > GUEST_DAYS_MAX) {
		*error_r = "the invitation lasts 1 to 90 days";
		return -1;
	}
	if (address_check(db, address, error_r) < 0)
		return -1;
	int n = chat_guest_active(cs, inv->owner, now, &err);
	if (n < 0) {
		*internal_r = true;
		*error_r = err;
		return -1;
	}
	if (n >= limit) {
		snprintf(err_buf, sizeof(err_buf), "you have %d active "
		    "invitations, the most allowed (xmpp.guests_per_user): "
		    "revoke one first", n);
		*error_r = err_buf;
		return -1;
	}
	/* revoking and inviting again sends mail too: a day's invitations
	 * are bounded as well (the mail's text is ours, its address the
	 * inviter's: no relay, but no flood either) */
	int recent = chat_guest_recent(cs, inv->owner, now - 86400, &err);
	if (recent >= 2 * limit) {
		snprintf(err_buf, sizeof(err_buf), "you sent %d invitations in "
		    "the last 24 hours, the most allowed (twice "
		    "xmpp.guests_per_user): try again later", recent);
		*error_r = err_buf;
		return -1;
	}
	/* forget invitations long over; a failure here costs nothing */
	(void)chat_guest_prune(cs, now - (int64_t)GUEST_KEEP_DAYS * 86400,
	    &err);

	random_bytes(rnd, sizeof(rnd));
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
	password_new(password);
	struct chat_guest g = {
		.owner = xasprintf(GUEST_PREFIX "%s@%s", hex, inv->postoffice),
		.jid = xasprintf(GUEST_PREFIX "%s@%s", hex, inv->domain),
		.po_id = inv->po_id,
		.inviter = xstrdup(inv->owner),
		.inviter_jid = xstrdup(inv->jid),
		.address = xstrdup(address),
		.secret = guest_secret_hash(password),
		.created = now,
		.expires = now + (int64_t)days * 86400,
		.reason = xstrdup(""),
	};
	str_lower(g.owner);
	str_lower(g.jid);
	/* each in the other's roster: subscribed both ways */
	struct roster_item mine = { .jid = g.jid, .name = g.address,
	    .groups = "Guests", .sub = CHAT_SUB_BOTH, .listed = true };
	struct roster_item theirs = { .jid = g.inviter_jid, .name = "",
	    .groups = "", .sub = CHAT_SUB_BOTH, .listed = true };
	if (chat_guest_add(cs, &g, &err) < 0 ||
	    chat_roster_put(cs, g.inviter, &mine, &err) < 0 ||
	    chat_roster_put(cs, g.owner, &theirs, &err) < 0 ||
	    chat_store_flush(cs, &err) < 0) {
		explicit_bzero(password, sizeof(password));
		chat_guest_clear(&g);
		*internal_r = true;
		*error_r = err;
		return -1;
	}
	char *text = mail_text(db, inv, &g, password);
	char *subject = xasprintf("%s invites you to chat", inv->jid);
	int r = notice_send(db, address, subject, text, &err);
	explicit_bzero(password, sizeof(password));
	explicit_bzero(text, strlen(text));
	free(text);
	free(subject);
	if (r < 0) {
		/* no mail, no login: withdrawn at once */
		snprintf(err_buf, sizeof(err_buf), "the invitation mail could "
		    "not be queued: %s", err);
		(void)chat_guest_end(cs, g.owner, "revoked", now, &err);
		(void)chat_store_flush(cs, &err);
		chat_guest_clear(&g);
		*internal_r = true;
		*error_r = err_buf;
		return -1;
	}
	*g_r = g;
	return 0;
}
