/* twofactor - app passwords, TOTP, recovery codes (twofactor.h) */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#ifdef HAVE_QRENCODE
#include <qrencode.h>
#endif

#include "admin.h"
#include "buf.h"
#include "fsutil.h"
#include "loginsec.h"
#include "passkey.h"
#include "passwd.h"
#include "settings.h"
#include "strutil.h"
#include "twofactor.h"
#include "xalloc.h"

#define TOTP_KEY_LEN 20        /* 160 bits, RFC 4226's recommendation */
#define TOTP_STEP 30
#define TOTP_DIGITS 6
#define SEAL_KEY_LEN 32
#define GCM_IV 12
#define GCM_TAG 16
#define TWOFACTOR_MAX_WRONG 10
#define TWOFACTOR_WINDOW (15 * 60)
#define MAIL_CODE_TTL (10 * 60)
#define MAIL_CODE_GAP 60
#define MAIL_CODE_PER_HOUR 5

static int
mailbox_id(struct db *db, const char *ident, int64_t *id_r,
	   const char **error_r)
{
	return adm_object_id(db, ADM_MAILBOX, ident, id_r, error_r);
}

int
tf_app_password_add(struct db *db, const char *ident, const char *name,
		    char **password_r, const char **error_r)
{
	int64_t id, n;
	int r;

	*password_r = NULL;
	if (name == NULL || *name == '\0' || strlen(name) > LOGINSEC_NAME_MAX) {
		*error_r = "an app password needs a name of 1 to 64 characters";
		return ADM_INVALID;
	}
	for (const char *c = name; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f) {
			*error_r = "an app password name has no control "
			    "characters";
			return ADM_INVALID;
		}
	if ((r = mailbox_id(db, ident, &id, error_r)) != ADM_OK)
		return r;
	if (db_query_int(db, &n, 0, error_r, "SELECT count(*) FROM "
	    "app_password WHERE mailbox_id = ?", "i", id) < 0)
		return ADM_FAIL;
	if (n >= LOGINSEC_APP_PASSWORDS) {
		*error_r = "this mailbox has 20 app passwords already: remove "
		    "one first";
		return ADM_INVALID;
	}
	const char *scheme = settings_text(settings_current(db), SETTING_password_scheme);
	char *pw = random_password(LOGINSEC_APP_PASSWORD_LEN);
	char *hash = passwd_hash(pw, *scheme ? scheme : "yescrypt", error_r);
	if (hash == NULL) {
		explicit_bzero(pw, strlen(pw));
		free(pw);
		return ADM_FAIL;
	}
	r = db_exec(db, error_r, "INSERT INTO app_password (mailbox_id, name, "
	    "hash, created) VALUES (?, ?, ?, ?)", "itti", id, name, hash,
	    (int64_t)time(NULL));
	free(hash);
	if (r < 0) {
		explicit_bzero(pw, strlen(pw));
		free(pw);
		if (db_last_error(db) == DB_ECONSTRAINT) {
			*error_r = "this mailbox has an app password of that "
			    "name already";
			return ADM_EXISTS;
		}
		return ADM_FAIL;
	}
	*password_r = pw;
	return ADM_OK;
}

int
tf_app_password_remove(struct db *db, const char *ident, const char *name,
		       const char **error_r)
{
	int64_t id;
	int r;

	if ((r = mailbox_id(db, ident, &id, error_r)) != ADM_OK)
		return r;
	if (db_exec(db, error_r, "DELETE FROM app_password WHERE mailbox_id = ? "
	    "AND name = ?", "it", id, name) < 0)
		return ADM_FAIL;
	if (db_changes(db) == 0) {
		*error_r = "no app password of that name";
		return ADM_NOTFOUND;
	}
	return ADM_OK;
}

int
tf_reset(struct db *db, const char *ident, const char **error_r)
{
	int64_t id;
	int r;

	if ((r = mailbox_id(db, ident, &id, error_r)) != ADM_OK)
		return r;
	if (db_exec(db, error_r, "DELETE FROM totp WHERE mailbox_id = ?", "i",
	    id) < 0 || db_exec(db, error_r, "DELETE FROM recovery_code WHERE "
	    "mailbox_id = ?", "i", id) < 0 || db_exec(db, error_r, "DELETE "
	    "FROM remembered_device WHERE mailbox_id = ?", "i", id) < 0 ||
	    db_exec(db, error_r, "DELETE FROM mail_code WHERE mailbox_id = ?",
	    "i", id) < 0)
		return ADM_FAIL;
	return ADM_OK;
}

int
tf_status(struct db *db, int64_t id, struct tf_status *st,
	  const char **error_r)
{
	int64_t enrolled = 0, admin_set = 0;
	char *type = NULL, *addr = NULL;

	memset(st, 0, sizeof(*st));
	if (loginsec_twofactor_mode(db, id, st->challenge, error_r) < 0 ||
	    db_query_int(db, &enrolled, 0, error_r, "SELECT enrolled FROM "
	    "totp WHERE mailbox_id = ?", "i", id) < 0 ||
	    db_query_int(db, &st->recovery_codes_left, 0, error_r, "SELECT "
	    "count(*) FROM recovery_code WHERE mailbox_id = ? AND used = 0",
	    "i", id) < 0 ||
	    db_query_int(db, &st->app_passwords, 0, error_r, "SELECT count(*) "
	    "FROM app_password WHERE mailbox_id = ?", "i", id) < 0 ||
	    db_query_int(db, &st->remembered_devices, 0, error_r, "SELECT "
	    "count(*) FROM remembered_device WHERE mailbox_id = ? AND expires "
	    ">= strftime('%s', 'now')", "i", id) < 0 ||
	    db_query_int(db, &st->passkeys, 0, error_r, "SELECT count(*) FROM "
	    "passkey WHERE mailbox_id = ?", "i", id) < 0 ||
	    db_query_text(db, &type, error_r, "SELECT twofactor_type FROM "
	    "mailbox WHERE id = ?", "i", id) < 0 ||
	    db_query_text(db, &addr, error_r, "SELECT twofactor_address FROM "
	    "mailbox WHERE id = ?", "i", id) < 0 ||
	    db_query_int(db, &admin_set, 0, error_r, "SELECT "
	    "twofactor_challenge <> 'inherit' AND twofactor_self = 0 FROM "
	    "mailbox WHERE id = ?", "i", id) < 0) {
		free(type);
		free(addr);
		return -1;
	}
	st->totp_enrolled = enrolled != 0;
	st->admin_set = admin_set != 0;
	snprintf(st->type, sizeof(st->type), "%s", type != NULL && *type ?
	    type : "totp");
	snprintf(st->code_address, sizeof(st->code_address), "%s",
	    addr != NULL ? addr : "");
	free(type);
	free(addr);
	return 0;
}

uint32_t
tf_totp(const unsigned char *key, size_t keylen, uint64_t step, int digits)
{
	unsigned char msg[8], md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	uint32_t mod = 1;

	for (int i = 7; i >= 0; i--) {
		msg[i] = (unsigned char)(step & 0xff);
		step >>= 8;
	}
	HMAC(EVP_sha1(), key, (int)keylen, msg, sizeof(msg), md, &mdlen);
	/* RFC 4226 5.3: dynamic truncation */
	unsigned off = md[mdlen - 1] & 0x0f;
	uint32_t bin = ((uint32_t)(md[off] & 0x7f) << 24) |
	    ((uint32_t)md[off + 1] << 16) | ((uint32_t)md[off + 2] << 8) |
	    md[off + 3];
	for (int i = 0; i < digits; i++)
		mod *= 10;
	OPENSSL_cleanse(md, sizeof(md));
	return bin % mod;
}

void
tf_base32(const unsigned char *in, size_t n, char *out, size_t size)
{
	static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
	size_t o = 0;
	unsigned buf = 0;
	int bits = 0;

	for (size_t i = 0; i < n; i++) {
		buf = (buf << 8) | in[i];
		bits += 8;
		while (bits >= 5 && o + 1 < size) {
			out[o++] = alpha[(buf >> (bits - 5)) & 31];
			bits -= 5;
		}
	}
	if (bits > 0 && o + 1 < size)
		out[o++] = alpha[(buf << (5 - bits)) & 31];
	out[o] = '\0';
}

/* seal_key - the data root's TOTP sealing key, made on first use. 0/-1 */
static int
seal_key(struct db *db, unsigned char key[SEAL_KEY_LEN], bool make,
	 const char **error_r)
{
	char *path = path_join(db_root(db), "config/totp.key");
	struct buf b;
	int r = -1;

	buf_init(&b, 256);
	if (file_read(path, &b) == 0 && b.len == SEAL_KEY_LEN) {
		memcpy(key, b.data, SEAL_KEY_LEN);
		r = 0;
	} else if (make && (b.len == 0 || errno == ENOENT)) {
		/* aside, then linked into place: a concurrent maker's wins */
		char *tmp = xasprintf("%s.%ld", path, (long)getpid());
		random_bytes(key, SEAL_KEY_LEN);
		if (file_write_atomic(tmp, key, SEAL_KEY_LEN, 0600) == 0 &&
		    (link(tmp, path) == 0 || errno == EEXIST)) {
			buf_free(&b);
			buf_init(&b, 256);
			if (file_read(path, &b) == 0 && b.len == SEAL_KEY_LEN) {
				memcpy(key, b.data, SEAL_KEY_LEN);
				r = 0;
			}
		}
		unlink(tmp);
		free(tmp);
	}
	if (r < 0)
		*error_r = "the TOTP key (config/totp.key) cannot be read or "
		    "made";
	if (b.data != NULL)
		OPENSSL_cleanse(b.data, b.len);
	buf_free(&b);
	free(path);
	return r;
}

/* seal - AES-256-GCM of the secret as hex iv|tag|ciphertext (new string) */
static char *
seal(const unsigned char key[SEAL_KEY_LEN], const unsigned char *secret,
     size_t n, int64_t mailbox)
{
	unsigned char iv[GCM_IV], tag[GCM_TAG], ct[64];
	int len = 0, fl = 0;
	char aad[32];
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();

	if (c == NULL || n > sizeof(ct))
		abort();
	random_bytes(iv, sizeof(iv));
	/* bound to its mailbox: a row copied to another mailbox fails */
	snprintf(aad, sizeof(aad), "totp:%lld", (long long)mailbox);
	if (EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, iv) != 1 ||
	    EVP_EncryptUpdate(c, NULL, &len, (unsigned char *)aad,
	    (int)strlen(aad)) != 1 ||
	    EVP_EncryptUpdate(c, ct, &len, secret, (int)n) != 1 ||
	    EVP_EncryptFinal_ex(c, ct + len, &fl) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, GCM_TAG, tag) != 1)
		abort();
	EVP_CIPHER_CTX_free(c);
	char *out = xmalloc(2 * (GCM_IV + GCM_TAG + n) + 1), *o = out;
	for (size_t i = 0; i < GCM_IV; i++, o += 2)
		snprintf(o, 3, "%02x", iv[i]);
	for (size_t i = 0; i < GCM_TAG; i++, o += 2)
		snprintf(o, 3, "%02x", tag[i]);
	for (size_t i = 0; i < n; i++, o += 2)
		snprintf(o, 3, "%02x", ct[i]);
	return out;
}

static int
unhex(const char *s, unsigned char *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (unsigned char)v;
	}
	return 0;
}

/* unseal - the secret of a sealed string into out; its length or -1 */
static int
unseal(const unsigned char key[SEAL_KEY_LEN], const char *s,
       unsigned char *out, size_t size, int64_t mailbox)
{
	size_t hl = strlen(s);
	unsigned char iv[GCM_IV], tag[GCM_TAG], ct[64];
	char aad[32];
	int len = 0, fl = 0, ok;

	if (hl % 2 != 0 || hl / 2 <= GCM_IV + GCM_TAG ||
	    hl / 2 - GCM_IV - GCM_TAG > sizeof(ct) ||
	    hl / 2 - GCM_IV - GCM_TAG > size)
		return -1;
	size_t n = hl / 2 - GCM_IV - GCM_TAG;
	if (unhex(s, iv, GCM_IV) < 0 || unhex(s + 2 * GCM_IV, tag, GCM_TAG) < 0 ||
	    unhex(s + 2 * (GCM_IV + GCM_TAG), ct, n) < 0)
		return -1;
	snprintf(aad, sizeof(aad), "totp:%lld", (long long)mailbox);
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	if (c == NULL)
		return -1;
	ok = EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, iv) == 1 &&
	    EVP_DecryptUpdate(c, NULL, &len, (unsigned char *)aad,
	    (int)strlen(aad)) == 1 &&
	    EVP_DecryptUpdate(c, out, &len, ct, (int)n) == 1 &&
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, GCM_TAG, tag) == 1 &&
	    EVP_DecryptFinal_ex(c, out + len, &fl) == 1;
	EVP_CIPHER_CTX_free(c);
	if (!ok) {
		OPENSSL_cleanse(out, size);
		return -1;
	}
	return (int)n;
}

/* code_hash - hex SHA-256 of a recovery code, normalized */
static void
code_hash(const char *code, char out[65])
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	char norm[TWOFACTOR_CODE_MAX + 1];
	size_t n = 0;

	for (const char *c = code; *c && n < TWOFACTOR_CODE_MAX; c++)
		if (*c != '-' && *c != ' ')
			norm[n++] = (char)toupper((unsigned char)*c);
	norm[n] = '\0';
	SHA256((unsigned char *)norm, n, md);
	for (size_t i = 0; i < sizeof(md); i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* qr_svg - the otpauth URI as an SVG QR code (new string), or NULL */
static char *
qr_svg(const char *uri)
{
#ifdef HAVE_QRENCODE
	QRcode *q = QRcode_encodeString(uri, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
	struct buf b;
	const int quiet = 4, px = 4;

	if (q == NULL)
		return NULL;
	int w = q->width + 2 * quiet;
	buf_init(&b, 1 << 20);
	buf_printf(&b, "<svg xmlns=\"http://www.w3.org/2000/svg\" "
	    "viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" "
	    "shape-rendering=\"crispEdges\"><rect width=\"%d\" height=\"%d\" "
	    "fill=\"#fff\"/><path fill=\"#000\" d=\"", w, w, w * px, w * px, w,
	    w);
	for (int y = 0; y < q->width; y++)
		for (int x = 0; x < q->width; x++)
			if (q->data[y * q->width + x] & 1)
				buf_printf(&b, "M%d %dh1v1h-1z", x + quiet,
				    y + quiet);
	buf_printf(&b, "\"/></svg>");
	QRcode_free(q);
	return buf_steal(&b);
#else
	(void)uri;
	return NULL;
#endif
}

/* uri_escape - percent-encode for the otpauth label and issuer */
static void
uri_escape(const char *s, char *out, size_t size)
{
	size_t o = 0;

	for (; *s && o + 4 < size; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
		    c == '@')
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, size - o, "%%%02X", c);
	}
	out[o] = '\0';
}

static json_t *
problem_json(int status, const char *type, const char *detail)
{
	return json_pack("{s:s,s:i,s:s}", "type", type, "status", status,
	    "detail", detail);
}

/* enrolment - the answer asking to enrol the pending secret */
static json_t *
enrolment(const struct dir_mailbox *mb, const unsigned char *secret,
	  size_t n, bool wrong)
{
	char b32[64], label[300], issuer[] = "Postern", uri[512];
	char who[NAME_MAX_LEN * 2 + 2];

	tf_base32(secret, n, b32, sizeof(b32));
	snprintf(who, sizeof(who), "%s@%s", mb->name, mb->postoffice);
	uri_escape(who, label, sizeof(label));
	snprintf(uri, sizeof(uri), "otpauth://totp/%s:%s?secret=%s&issuer=%s&"
	    "algorithm=SHA1&digits=%d&period=%d", issuer, label, b32, issuer,
	    TOTP_DIGITS, TOTP_STEP);
	json_t *o = problem_json(401, "urn:postern:error:totpEnrolment",
	    wrong ? "That code is not right. Scan the code into your "
	    "authenticator app and send the code it shows." : "Two-factor "
	    "login is on for this mailbox: scan the code into an "
	    "authenticator app and send the code it shows.");
	char *svg = qr_svg(uri);
	json_object_set_new(o, "secret", json_string(b32));
	json_object_set_new(o, "otpauthUri", json_string(uri));
	if (svg != NULL)
		json_object_set_new(o, "qrSvg", json_string(svg));
	free(svg);
	OPENSSL_cleanse(b32, sizeof(b32));
	OPENSSL_cleanse(uri, sizeof(uri));
	return o;
}

/* code_step - the step of now-1..now+1 whose code is code, or -1 */
static int64_t
code_step(const unsigned char *secret, size_t n, const char *code)
{
	int64_t now = (int64_t)time(NULL) / TOTP_STEP;
	char want[16];

	if (strlen(code) != TOTP_DIGITS ||
	    strspn(code, "0123456789") != TOTP_DIGITS)
		return -1;
	for (int64_t s = now - 1; s <= now + 1; s++) {
		snprintf(want, sizeof(want), "%0*u", TOTP_DIGITS,
		    tf_totp(secret, n, (uint64_t)s, TOTP_DIGITS));
		if (CRYPTO_memcmp(want, code, TOTP_DIGITS) == 0)
			return s;
	}
	return -1;
}

/* make_recovery - new recovery codes (replacing any), as a JSON array */
static json_t *
make_recovery(struct db *db, int64_t mid, const char **error_r)
{
	json_t *a = json_array();
	char hash[65];

	if (db_exec(db, error_r, "DELETE FROM recovery_code WHERE mailbox_id = ?",
	    "i", mid) < 0) {
		json_decref(a);
		return NULL;
	}
	for (int i = 0; i < TWOFACTOR_RECOVERY_CODES; i++) {
		unsigned char raw[10];
		char b32[20], code[24];
		random_bytes(raw, sizeof(raw));
		tf_base32(raw, sizeof(raw), b32, sizeof(b32));  /* 16 chars */
		snprintf(code, sizeof(code), "%.4s-%.4s-%.4s-%.4s", b32, b32 + 4,
		    b32 + 8, b32 + 12);
		code_hash(code, hash);
		if (db_exec(db, error_r, "INSERT INTO recovery_code (mailbox_id, "
		    "hash) VALUES (?, ?)", "it", mid, hash) < 0) {
			json_decref(a);
			return NULL;
		}
		json_array_append_new(a, json_string(code));
	}
	return a;
}

/* challenged - does this login need the second factor? 1, 0, -1 */
static int
challenged(struct db *db, const struct dir_mailbox *mb, const char *mode,
	   const char *addr, const char **error_r)
{
	char cc[3];
	const char *err;

	if (strcmp(mode, "always") == 0)
		return 1;
	/* manual 5.5.9: another address (country) than the last web
	 * login's */
	if (strcmp(mode, "new_ip") == 0) {
		int r = loginsec_as_last(db, mb->id, "web", addr, NULL,
		    error_r);
		return r < 0 ? -1 : !r;
	}
	if (strcmp(mode, "new_country") == 0) {
		if (loginsec_country_of(db, addr, cc, &err) <= 0)
			return 1;   /* no country known: ask */
		int r = loginsec_as_last(db, mb->id, "web", NULL, cc, error_r);
		return r < 0 ? -1 : !r;
	}
	return 0;
}

void
tf_mask_address(const char *a, char *out, size_t size)
{
	const char *at = strrchr(a, '@');
	size_t local = at != NULL ? (size_t)(at - a) : strlen(a);

	snprintf(out, size, "%.*s***%s", local > 0 ? 1 : 0, a,
	    at != NULL ? at : "");
}

/* mail_code_hash - hex SHA-256 of a mailed code, bound to its mailbox */
static void
mail_code_hash(int64_t mailbox, const char *code, char out[65])
{
	char b[TWOFACTOR_CODE_MAX + 32];

	snprintf(b, sizeof(b), "mail:%lld:%s", (long long)mailbox, code);
	code_hash(b, out);
	OPENSSL_cleanse(b, sizeof(b));
}

/* mail_code_send - mail a new code to to, unless one went out less than
 * MAIL_CODE_GAP seconds ago (still valid) or MAIL_CODE_PER_HOUR went
 * out this hour: 1 sent, 0 not (the earlier one stands), -1 error */
static int
mail_code_send(struct db *db, const struct dir_mailbox *mb, const char *to,
	       tf_mail_fn *mail, const char **error_r)
{
	int64_t now = (int64_t)time(NULL), sent = 0, window = 0, sends = 0;
	int64_t expires = 0;

	if (mail == NULL) {
		*error_r = "codes by mail cannot be sent from here";
		return -1;
	}
	if (db_exec(db, error_r, "INSERT OR IGNORE INTO mail_code (mailbox_id) "
	    "VALUES (?)", "i", mb->id) < 0 ||
	    db_query_int(db, &sent, 0, error_r, "SELECT sent FROM mail_code "
	    "WHERE mailbox_id = ?", "i", mb->id) < 0 ||
	    db_query_int(db, &expires, 0, error_r, "SELECT expires FROM "
	    "mail_code WHERE mailbox_id = ?", "i", mb->id) < 0 ||
	    db_query_int(db, &window, 0, error_r, "SELECT window FROM mail_code "
	    "WHERE mailbox_id = ?", "i", mb->id) < 0 ||
	    db_query_int(db, &sends, 0, error_r, "SELECT sends FROM mail_code "
	    "WHERE mailbox_id = ?", "i", mb->id) < 0)
		return -1;
	if (now - window >= 3600) {
		window = now;
		sends = 0;
	}
	if ((now - sent < MAIL_CODE_GAP && expires > now) ||
	    sends >= MAIL_CODE_PER_HOUR)
		return 0;
	uint32_t v;
	char code[16], hash[65], text[600];
	random_bytes(&v, sizeof(v));
	snprintf(code, sizeof(code), "%08u", v % 100000000u);
	mail_code_hash(mb->id, code, hash);
	/* the row first: a code that is mailed is always one we know */
	if (db_exec(db, error_r, "UPDATE mail_code SET hash = ?, expires = ?, "
	    "sent = ?, window = ?, sends = ? WHERE mailbox_id = ?", "tiiiii",
	    hash, now + MAIL_CODE_TTL, now, window, sends + 1, mb->id) < 0)
		return -1;
	snprintf(text, sizeof(text), "Your Postern login code for %s@%s is:\n"
	    "\n    %s\n\nIt works once, for %d minutes. If you did not just log "
	    "in, someone knows your password: change it.\n", mb->name,
	    mb->postoffice, code, MAIL_CODE_TTL / 60);
	int r = mail(db, to, "Your login code", text, error_r);
	OPENSSL_cleanse(code, sizeof(code));
	OPENSSL_cleanse(text, sizeof(text));
	return r < 0 ? -1 : 1;
}

/* mail_code_take - is code the mailbox's pending mailed code? It is used
 * up when it is. 1, 0, -1 */
static int
mail_code_take(struct db *db, int64_t mailbox, const char *code,
	       const char **error_r)
{
	char hash[65];

	if (strlen(code) != 8 || strspn(code, "0123456789") != 8)
		return 0;
	mail_code_hash(mailbox, code, hash);
	if (db_exec(db, error_r, "UPDATE mail_code SET hash = '', expires = 0 "
	    "WHERE mailbox_id = ? AND hash = ? AND expires >= ?", "iti",
	    mailbox, hash, (int64_t)time(NULL)) < 0)
		return -1;
	return db_changes(db) == 1;
}

int
tf_web_login(struct db *db, const struct dir_mailbox *mb, const char *addr,
	     const char *code, int passkey, tf_mail_fn *mail, int *status_r,
	     json_t **answer_r, bool *failed_r, const char **error_r)
{
	unsigned char key[SEAL_KEY_LEN], secret[TOTP_KEY_LEN + 16];
	char mode[16], *sealed = NULL, cc[3] = "", *mtype = NULL, *maddr = NULL;
	const char *err;
	int64_t enrolled = 0, last = 0;
	int n = -1, r = -1;

	*answer_r = NULL;
	*failed_r = false;
	*status_r = 401;
	if (code == NULL)
		code = "";
	if (loginsec_twofactor_mode(db, mb->id, mode, error_r) < 0)
		return -1;
	if (strcmp(mode, "never") == 0 || passkey == 1)
		goto ok;
	/* a mailbox with passkeys or codes by mail is enrolled: no TOTP
	 * needed */
	if (db_query_text(db, &mtype, error_r, "SELECT twofactor_type FROM "
	    "mailbox WHERE id = ?", "i", mb->id) < 0 || db_query_text(db,
	    &maddr, error_r, "SELECT twofactor_address FROM mailbox WHERE id = "
	    "?", "i", mb->id) < 0)
		goto out;
	bool by_mail = mtype != NULL && strcmp(mtype, "smtp") == 0 &&
	    maddr != NULL && *maddr != '\0';
	bool pk = passkey_count(db, mb->id) > 0 || by_mail;
	if (db_query_text(db, &sealed, error_r, "SELECT secret FROM totp WHERE "
	    "mailbox_id = ?", "i", mb->id) < 0 ||
	    db_query_int(db, &enrolled, 0, error_r, "SELECT enrolled FROM totp "
	    "WHERE mailbox_id = ?", "i", mb->id) < 0 ||
	    db_query_int(db, &last, 0, error_r, "SELECT last_step FROM totp "
	    "WHERE mailbox_id = ?", "i", mb->id) < 0)
		goto out;
	if (enrolled || pk) {
		int c = challenged(db, mb, mode, addr, error_r);
		if (c < 0)
			goto out;
		if (c == 0)
			goto ok;
	}
	if (passkey == 0) {
		*failed_r = true;
		goto refused;
	}
	if (sealed == NULL && pk)
		n = 0;   /* passkeys or mail codes only */
	else if (seal_key(db, key, sealed == NULL, error_r) < 0)
		goto out;
	else if (sealed != NULL) {
		n = unseal(key, sealed, secret, sizeof(secret), mb->id);
		if (n < 0) {
			*error_r = "the TOTP secret cannot be unsealed (another "
			    "config/totp.key?); reset the mailbox's two-factor";
			goto out;
		}
	} else {
		/* first login since two-factor came on: a pending secret */
		n = TOTP_KEY_LEN;
		random_bytes(secret, TOTP_KEY_LEN);
		sealed = seal(key, secret, TOTP_KEY_LEN, mb->id);
		if (db_exec(db, error_r, "INSERT INTO totp (mailbox_id, secret, "
		    "created) VALUES (?, ?, ?)", "iti", mb->id, sealed,
		    (int64_t)time(NULL)) < 0)
			goto out;
	}
	/* codes guessed from many addresses: TWOFACTOR_MAX_WRONG wrong
	 * ones per mailbox in TWOFACTOR_WINDOW lock its code checks */
	int64_t wrong = 0;
	if (*code != '\0' && db_query_int(db, &wrong, 0, error_r, "SELECT "
	    "coalesce(sum(count), 0) FROM login_failure WHERE mailbox_id = ? "
	    "AND reason = 'wrong second factor' AND last >= ?", "ii", mb->id,
	    (int64_t)time(NULL) - TWOFACTOR_WINDOW) < 0)
		goto out;
	if (wrong >= TWOFACTOR_MAX_WRONG) {
		*failed_r = true;
		*status_r = 429;
		*answer_r = problem_json(429, "urn:postern:error:"
		    "secondFactorLocked", "Too many wrong codes for this "
		    "mailbox; try again later.");
		r = 0;
		goto out;
	}
	if (*code == '\0' && by_mail) {
		char masked[TWOFACTOR_MASKED_MAX];
		int sent = mail_code_send(db, mb, maddr, mail, error_r);
		if (sent < 0)
			goto out;
		tf_mask_address(maddr, masked, sizeof(masked));
		*answer_r = problem_json(401, "urn:postern:error:"
		    "secondFactorRequired", sent ? "A login code was mailed to "
		    "you: send it as \"code\" (or use your passkey or a "
		    "recovery code)." : "A login code was mailed to you a "
		    "moment ago: send it as \"code\" (or use your passkey or "
		    "a recovery code).");
		json_object_set_new(*answer_r, "codeSentTo", json_string(masked));
		r = 0;
		goto out;
	}
	if (*code == '\0') {
		*answer_r = enrolled || pk ? problem_json(401,
		    "urn:postern:error:secondFactorRequired", pk ? "Use your "
		    "passkey (\"passkey\"), or send the code of your "
		    "authenticator app or a recovery code as \"code\"." :
		    "Send the code of your authenticator app (or a recovery "
		    "code) as \"code\".") : enrolment(mb, secret, (size_t)n,
		    false);
		r = 0;
		goto out;
	}
	if (by_mail) {
		int m = mail_code_take(db, mb->id, code, error_r);
		if (m < 0)
			goto out;
		if (m > 0)
			goto ok;
	}
	int64_t step = n > 0 ? code_step(secret, (size_t)n, code) : -1;
	if (step >= 0) {
		/* each code once: only a step after the last one used */
		if (db_exec(db, error_r, "UPDATE totp SET last_step = ?, "
		    "enrolled = 1 WHERE mailbox_id = ? AND last_step < ?", "iii",
		    step, mb->id, step) < 0)
			goto out;
		if (db_changes(db) == 1) {
			if (!enrolled) {
				json_t *rc = make_recovery(db, mb->id, error_r);
				if (rc == NULL)
					goto out;
				*answer_r = json_pack("{s:o}", "recoveryCodes", rc);
			}
			goto ok;
		}
	} else if ((enrolled || pk) && strlen(code) <= TWOFACTOR_CODE_MAX) {
		char hash[65];
		code_hash(code, hash);
		if (db_exec(db, error_r, "UPDATE recovery_code SET used = ? "
		    "WHERE mailbox_id = ? AND hash = ? AND used = 0", "iit",
		    (int64_t)time(NULL), mb->id, hash) < 0)
			goto out;
		if (db_changes(db) == 1)
			goto ok;
	}
	*failed_r = true;
refused:;
	char who[NAME_MAX_LEN * 2 + 2];
	snprintf(who, sizeof(who), "%s@%s", mb->name, mb->postoffice);
	loginsec_record_failure(db, who, mb->id,
	    &(struct dir_client){ "web", addr }, NULL, "wrong second factor");
	*answer_r = enrolled || pk ? problem_json(401,
	    "urn:postern:error:secondFactorFailed", passkey == 0 ? "The "
	    "passkey was not accepted." : "That code is not right or was "
	    "used already.") : enrolment(mb, secret, (size_t)n, true);
	r = 0;
	goto out;
ok:
	(void)loginsec_country_of(db, addr, cc, &err);
	loginsec_record_ok(db, mb->id, &(struct dir_client){ "web", addr }, cc);
	*status_r = 200;
	r = 1;
out:
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(secret, sizeof(secret));
	free(sealed);
	free(mtype);
	free(maddr);
	return r;
}

/* ------------------------------------------ the user's own enrolment */

int
tf_self_enrol(struct db *db, const struct dir_mailbox *mb, json_t **answer_r,
	      const char **error_r)
{
	unsigned char key[SEAL_KEY_LEN], secret[TOTP_KEY_LEN];
	int r = -1;

	*answer_r = NULL;
	if (seal_key(db, key, true, error_r) < 0)
		return -1;
	random_bytes(secret, sizeof(secret));
	char *sealed = seal(key, secret, sizeof(secret), mb->id);
	/* a new pending secret replaces an unconfirmed one */
	if (db_exec(db, error_r, "DELETE FROM totp WHERE mailbox_id = ?", "i",
	    mb->id) == 0 && db_exec(db, error_r, "INSERT INTO totp (mailbox_id, "
	    "secret, created) VALUES (?, ?, ?)", "iti", mb->id, sealed,
	    (int64_t)time(NULL)) == 0) {
		json_t *o = enrolment(mb, secret, sizeof(secret), false);
		json_object_del(o, "type");
		json_object_del(o, "status");
		json_object_del(o, "detail");
		*answer_r = o;
		r = 0;
	}
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(secret, sizeof(secret));
	free(sealed);
	return r;
}

int
tf_self_confirm(struct db *db, int64_t mailbox_id, const char *code,
		json_t **answer_r, const char **error_r)
{
	unsigned char key[SEAL_KEY_LEN], secret[TOTP_KEY_LEN + 16];
	char *sealed = NULL;
	int64_t enrolled = 0, wrong = 0;
	bool outer;
	int n, r = -1;

	*answer_r = NULL;
	if (db_query_text(db, &sealed, error_r, "SELECT secret FROM totp WHERE "
	    "mailbox_id = ?", "i", mailbox_id) < 0 ||
	    db_query_int(db, &enrolled, 0, error_r, "SELECT enrolled FROM totp "
	    "WHERE mailbox_id = ?", "i", mailbox_id) < 0 ||
	    db_query_int(db, &wrong, 0, error_r, "SELECT coalesce(sum(count), 0) "
	    "FROM login_failure WHERE mailbox_id = ? AND reason = 'wrong second "
	    "factor' AND last >= ?", "ii", mailbox_id, (int64_t)time(NULL) -
	    TWOFACTOR_WINDOW) < 0)
		goto out;
	if (sealed == NULL || enrolled) {
		*error_r = "start the enrolment first (action enrol)";
		r = 0;
		goto out;
	}
	if (wrong >= TWOFACTOR_MAX_WRONG) {
		*error_r = "too many wrong codes for this mailbox; try again later";
		r = 0;
		goto out;
	}
	if (seal_key(db, key, false, error_r) < 0)
		goto out;
	if ((n = unseal(key, sealed, secret, sizeof(secret), mailbox_id)) < 0) {
		*error_r = "the pending TOTP secret cannot be unsealed: enrol again";
		goto out;
	}
	int64_t step = code_step(secret, (size_t)n, code);
	if (step < 0) {
		*error_r = "that code is not right: send the 6 digits your "
		    "authenticator app shows now";
		r = 0;
		goto out;
	}
	if (adm_tx_begin(db, &outer, error_r) != ADM_OK)
		goto out;
	json_t *codes = NULL;
	bool ok = db_exec(db, error_r, "UPDATE totp SET enrolled = 1, last_step "
	    "= ? WHERE mailbox_id = ?", "ii", step, mailbox_id) == 0 &&
	    db_exec(db, error_r, "UPDATE mailbox SET twofactor_challenge = "
	    "'always', twofactor_self = 1 WHERE id = ?", "i", mailbox_id) == 0 &&
	    (codes = make_recovery(db, mailbox_id, error_r)) != NULL;
	if (adm_tx_end(db, outer, ok, error_r) != ADM_OK || !ok) {
		json_decref(codes);
		goto out;
	}
	*answer_r = json_pack("{s:s,s:o}", "challenge", "always",
	    "recoveryCodes", codes);
	r = 1;
out:
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(secret, sizeof(secret));
	free(sealed);
	return r;
}

int
tf_self_disable(struct db *db, int64_t mailbox_id, const char **error_r)
{
	bool outer;

	if (adm_tx_begin(db, &outer, error_r) != ADM_OK)
		return -1;
	bool ok = db_exec(db, error_r, "UPDATE mailbox SET twofactor_challenge = "
	    "'inherit', twofactor_self = 0 WHERE id = ?", "i", mailbox_id) == 0 &&
	    db_exec(db, error_r, "DELETE FROM totp WHERE mailbox_id = ?", "i",
	    mailbox_id) == 0 && db_exec(db, error_r, "DELETE FROM recovery_code "
	    "WHERE mailbox_id = ?", "i", mailbox_id) == 0;
	if (adm_tx_end(db, outer, ok, error_r) != ADM_OK || !ok)
		return -1;
	return 0;
}

/* ---------------------------------------------------- remembered devices */

int
tf_key_mac(struct db *db, const char *purpose, const char *text,
	   char out[65], const char **error_r)
{
	unsigned char key[SEAL_KEY_LEN], dk[EVP_MAX_MD_SIZE], md[EVP_MAX_MD_SIZE];
	unsigned int dl = 0, ml = 0;

	if (seal_key(db, key, true, error_r) < 0)
		return -1;
	HMAC(EVP_sha256(), key, sizeof(key), (const unsigned char *)purpose,
	    strlen(purpose), dk, &dl);
	HMAC(EVP_sha256(), dk, (int)dl, (const unsigned char *)text,
	    strlen(text), md, &ml);
	for (unsigned i = 0; i < 32 && i < ml; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(dk, sizeof(dk));
	return 0;
}

/* device_mac - hex HMAC-SHA256 of text under the remembered devices'
 * key: 0 or -1 */
static int
device_mac(struct db *db, const char *text, char out[65],
	   const char **error_r)
{
	return tf_key_mac(db, "postern remembered device", text, out, error_r);
}

char *
tf_device_make(struct db *db, int64_t mailbox_id, const char *client,
	       const char *user_agent, int *max_age_r, const char **error_r)
{
	int64_t days = settings_current(db)->auth_remember_device_days;
	int64_t now = (int64_t)time(NULL);
	unsigned char raw[32], md[SHA256_DIGEST_LENGTH];
	char secret[65], hash[65], mac[65], text[128];

	if (days <= 0)
		return NULL;
	random_bytes(raw, sizeof(raw));
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(secret + 2 * i, 3, "%02x", raw[i]);
	SHA256((unsigned char *)secret, 64, md);
	for (size_t i = 0; i < sizeof(md); i++)
		snprintf(hash + 2 * i, 3, "%02x", md[i]);
	int64_t expires = now + days * 86400;
	snprintf(text, sizeof(text), "%lld.%lld.%s", (long long)mailbox_id,
	    (long long)expires, secret);
	if (device_mac(db, text, mac, error_r) < 0 ||
	    db_exec(db, error_r, "INSERT INTO remembered_device (mailbox_id, "
	    "hash, created, expires, client, user_agent) VALUES (?, ?, ?, ?, "
	    "?, ?)", "itiitt", mailbox_id, hash, now, expires, client,
	    user_agent) < 0) {
		OPENSSL_cleanse(secret, sizeof(secret));
		OPENSSL_cleanse(text, sizeof(text));
		return NULL;
	}
	char *cookie = xasprintf("%s.%s", text, mac);
	OPENSSL_cleanse(secret, sizeof(secret));
	OPENSSL_cleanse(text, sizeof(text));
	*max_age_r = (int)(days * 86400);
	return cookie;
}

int
tf_device_check(struct db *db, int64_t mailbox_id, const char *cookie,
		const char **error_r)
{
	char text[128], mac[65], hash[65];
	unsigned char md[SHA256_DIGEST_LENGTH];
	long long mid, expires;
	int n = 0;

	if (cookie == NULL || strlen(cookie) > 200 ||
	    sscanf(cookie, "%lld.%lld.%n", &mid, &expires, &n) != 2 || n == 0)
		return 0;
	const char *secret = cookie + n, *dot = strchr(secret, '.');
	if (dot == NULL || dot - secret != 64 || strlen(dot + 1) != 64 ||
	    mid != mailbox_id || expires < (long long)time(NULL))
		return 0;
	snprintf(text, sizeof(text), "%.*s", (int)(dot - cookie), cookie);
	if (device_mac(db, text, mac, error_r) < 0)
		return -1;
	/* signed: a forged cookie costs no lookup */
	if (CRYPTO_memcmp(mac, dot + 1, 64) != 0)
		return 0;
	SHA256((const unsigned char *)secret, 64, md);
	for (size_t i = 0; i < sizeof(md); i++)
		snprintf(hash + 2 * i, 3, "%02x", md[i]);
	/* revocable: the row must still be there */
	if (db_exec(db, error_r, "UPDATE remembered_device SET last_used = ? "
	    "WHERE mailbox_id = ? AND hash = ? AND expires >= ?", "iiti",
	    (int64_t)time(NULL), mailbox_id, hash, (int64_t)time(NULL)) < 0)
		return -1;
	return db_changes(db) == 1;
}

int
tf_device_forget(struct db *db, int64_t mailbox_id, int *n_r,
		 const char **error_r)
{
	if (db_exec(db, error_r, "DELETE FROM remembered_device WHERE "
	    "mailbox_id = ?", "i", mailbox_id) < 0)
		return ADM_FAIL;
	*n_r = db_changes(db);
	return ADM_OK;
}
