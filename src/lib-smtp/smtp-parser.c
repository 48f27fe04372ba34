/* smtp-parser - SMTP command lines, paths, ESMTP parameters, xtext, SASL
 * helpers and replies (server side) */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smtp-parser.h"

/* --- command lines ----------------------------------------------------- */

void
smtp_line_init(struct smtp_line_reader *r, size_t max)
{
	memset(r, 0, sizeof(*r));
	r->max = max;
	buf_init(&r->line, max + 1);
}

void
smtp_line_free(struct smtp_line_reader *r)
{
	buf_free(&r->line);
}

enum smtp_line_result
smtp_line_feed(struct smtp_line_reader *r, const void *data, size_t len,
	       size_t *consumed_r)
{
	const char *p = data;
	const char *lf = memchr(p, '\n', len);
	size_t n = lf != NULL ? (size_t)(lf - p) + 1 : len;

	*consumed_r = n;
	if (!r->overflow) {
		if (memchr(p, '\0', lf != NULL ? n - 1 : n) != NULL)
			r->nul = true;
		if (r->line.len + n > r->max || buf_append(&r->line, p, n) < 0) {
			r->overflow = true;
			buf_reset(&r->line);
		}
	}
	if (lf == NULL)
		return SMTP_LINE_MORE;
	if (r->overflow) {
		r->overflow = false;
		r->nul = false;
		return SMTP_LINE_TOO_LONG;
	}
	/* the line ends at LF: strip it, and the CR before it */
	buf_truncate(&r->line, r->line.len - 1);
	bool cr = r->line.len > 0 && r->line.data[r->line.len - 1] == '\r';
	if (cr)
		buf_truncate(&r->line, r->line.len - 1);
	if (r->nul) {
		r->nul = false;
		buf_reset(&r->line);
		return SMTP_LINE_NUL;
	}
	if (!cr) {
		buf_reset(&r->line);
		return SMTP_LINE_BARE_LF;
	}
	return SMTP_LINE_OK;
}

static const struct {
	const char *name;
	enum smtp_verb verb;
	size_t max;
} verbs[] = {
	{ "HELO", SMTP_CMD_HELO, SMTP_LINE_CMD_MAX },
	{ "EHLO", SMTP_CMD_EHLO, SMTP_LINE_CMD_MAX },
	{ "MAIL", SMTP_CMD_MAIL, SMTP_LINE_PARAMS_MAX },
	{ "RCPT", SMTP_CMD_RCPT, SMTP_LINE_PARAMS_MAX },
	{ "DATA", SMTP_CMD_DATA, SMTP_LINE_CMD_MAX },
	{ "BDAT", SMTP_CMD_BDAT, SMTP_LINE_CMD_MAX },
	{ "RSET", SMTP_CMD_RSET, SMTP_LINE_CMD_MAX },
	{ "NOOP", SMTP_CMD_NOOP, SMTP_LINE_CMD_MAX },
	{ "QUIT", SMTP_CMD_QUIT, SMTP_LINE_CMD_MAX },
	{ "VRFY", SMTP_CMD_VRFY, SMTP_LINE_CMD_MAX },
	{ "EXPN", SMTP_CMD_EXPN, SMTP_LINE_CMD_MAX },
	{ "HELP", SMTP_CMD_HELP, SMTP_LINE_CMD_MAX },
	{ "STARTTLS", SMTP_CMD_STARTTLS, SMTP_LINE_CMD_MAX },
	{ "AUTH", SMTP_CMD_AUTH, SMTP_LINE_AUTH_MAX },
	{ "BURL", SMTP_CMD_BURL, SMTP_LINE_BURL_MAX },
};

int
smtp_command_parse(const char *line, size_t len, struct smtp_command *cmd,
		   int *code_r, const char **error_r)
{
	size_t vlen = 0;

	memset(cmd, 0, sizeof(*cmd));
	cmd->name = "UNKNOWN";
	cmd->args = "";
	*code_r = 500;
	while (vlen < len && line[vlen] != ' ')
		vlen++;
	for (size_t i = 0; i < vlen; i++) {
		if (!isalnum((unsigned char)line[i])) {
			*code_r = 500;
			*error_r = "Syntax error, command unrecognized";
			return -1;
		}
	}
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		if (strlen(verbs[i].name) == vlen &&
		    strncasecmp(line, verbs[i].name, vlen) == 0) {
			cmd->verb = verbs[i].verb;
			cmd->name = verbs[i].name;
			if (len + 2 > verbs[i].max) {
				*error_r = "Line too long";
				return -1;
			}
			break;
		}
	}
	if (cmd->verb == SMTP_CMD_UNKNOWN && len + 2 > SMTP_LINE_CMD_MAX) {
		*error_r = "Line too long";
		return -1;
	}
	const char *a = line + vlen;
	while (*a == ' ')
		a++;
	if (cmd->verb == SMTP_CMD_MAIL || cmd->verb == SMTP_CMD_RCPT) {
		const char *kw = cmd->verb == SMTP_CMD_MAIL ? "FROM:" : "TO:";
		size_t kl = strlen(kw);
		if (strncasecmp(a, kw, kl) != 0) {
			*code_r = 501;
			*error_r = cmd->verb == SMTP_CMD_MAIL ?
			    "Syntax: MAIL FROM:<address>" : "Syntax: RCPT TO:<address>";
			return -1;
		}
		a += kl;
		/* tolerated, as most servers do: "MAIL FROM: <x>" */
		while (*a == ' ')
			a++;
	}
	cmd->args = a;
	return 0;
}

/* --- paths ----------------------------------------------------------------- */

static bool
is_atext(unsigned char c)
{
	/* c != 0: strchr() finds the terminator */
	return isalnum(c) || (c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* utf8_len - length of a well-formed UTF-8 sequence of a non-ASCII char at
 * s (RFC 3629), or 0 */
static size_t
utf8_len(const unsigned char *s)
{
	size_t n;
	unsigned cp;

	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* skip_route - "@a,@b:" (RFC 5321 4.1.2 A-d-l), ignored (4.1.1.3) */
static int
skip_route(const char **sp)
{
	const char *s = *sp;

	if (*s != '@')
		return 0;
	for (;;) {
		if (*s != '@')
			return -1;
		s++;
		size_t n = 0;
		while (isalnum((unsigned char)s[n]) || s[n] == '-' || s[n] == '.')
			n++;
		if (n == 0)
			return -1;
		s += n;
		if (*s == ',') {
			s++;
			continue;
		}
		if (*s == ':') {
			*sp = s + 1;
			return 0;
		}
		return -1;
	}
}

/* parse_domain - Domain (with UTF-8 U-labels) or address-literal; returns
 * its length, or 0 if malformed */
static size_t
parse_domain(const unsigned char *s, struct smtp_path *p)
{
	size_t i = 0;

	if (s[0] == '[') {
		while (s[i] != '\0' && s[i] != ']') {
			if (s[i] < 0x21 || s[i] > 0x7e || s[i] == '[' || s[i] == '\\') {
				if (i > 0)
					return 0;
			}
			i++;
		}
		if (s[i] != ']' || i < 2)
			return 0;
		p->literal = true;
		return i + 1;
	}
	for (;;) {
		size_t label = 0;
		while (s[i] != '\0') {
			if (isalnum(s[i]) || (s[i] == '-' && label > 0)) {
				i++;
				label++;
			} else if (s[i] >= 0x80) {
				size_t n = utf8_len(s + i);
				if (n == 0)
					return 0;
				p->utf8 = true;
				i += n;
				label += n;
			} else {
				break;
			}
		}
		if (label == 0 || s[i - 1] == '-' || label > 63)
			return 0;
		if (s[i] != '.')
			return i;
		i++;
	}
}

int
smtp_path_parse(const char *str, bool allow_null, bool allow_postmaster,
		struct smtp_path *p, const char **rest_r, const char **error_r)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, local_len;

	memset(p, 0, sizeof(*p));
	if (*s != '<') {
		*error_r = "Syntax error in address: missing '<'";
		return -1;
	}
	s++;
	if (*s == '>') {
		if (!allow_null) {
			*error_r = "Null address not allowed here";
			return -1;
		}
		p->null = true;
		*rest_r = (const char *)s + 1;
		return 0;
	}
	const char *r = (const char *)s;
	if (skip_route(&r) < 0) {
		*error_r = "Syntax error in source route";
		return -1;
	}
	s = (const unsigned char *)r;
	/* local part */
	if (s[0] == '"') {
		p->quoted = true;
		i = 1;
		for (;;) {
			if (s[i] == '"')
				break;
			if (s[i] == '\\') {
				if (s[i + 1] < 0x20 || s[i + 1] > 0x7e) {
					*error_r = "Syntax error in quoted local part";
					return -1;
				}
				i += 2;
			} else if (s[i] >= 0x20 && s[i] <= 0x7e) {
				i++;
			} else if (s[i] >= 0x80) {
				size_t n = utf8_len(s + i);
				if (n == 0) {
					*error_r = "Invalid UTF-8 in address";
					return -1;
				}
				p->utf8 = true;
				i += n;
			} else {
				*error_r = "Syntax error in quoted local part";
				return -1;
			}
		}
		i++;
	} else {
		bool dot_ok = false;
		for (;;) {
			if (is_atext(s[i])) {
				i++;
				dot_ok = true;
			} else if (s[i] >= 0x80) {
				size_t n = utf8_len(s + i);
				if (n == 0) {
					*error_r = "Invalid UTF-8 in address";
					return -1;
				}
				p->utf8 = true;
				i += n;
				dot_ok = true;
			} else if (s[i] == '.' && dot_ok) {
				i++;
				dot_ok = false;
			} else {
				break;
			}
		}
		if (i == 0 || !dot_ok) {
			*error_r = "Syntax error in local part";
			return -1;
		}
	}
	local_len = i;
	if (local_len > 64 + (p->quoted ? 2 : 0)) {
		*error_r = "Local part too long";
		return -1;
	}
	if (s[i] == '>' && !p->quoted && allow_postmaster &&
	    local_len == 10 && strncasecmp((const char *)s, "postmaster", 10) == 0) {
		memcpy(p->address, s, 10);
		p->address[10] = '\0';
		*rest_r = (const char *)s + 11;
		return 0;
	}
	if (s[i] != '@') {
		*error_r = "Syntax error in address: missing '@domain'";
		return -1;
	}
	i++;
	size_t dl = parse_domain(s + i, p);
	if (dl == 0 || dl > 255) {
		*error_r = "Syntax error in domain";
		return -1;
	}
	size_t total = i + dl;
	if (s[total] != '>') {
		*error_r = "Syntax error in address: missing '>'";
		return -1;
	}
	if (total + 2 > SMTP_PATH_MAX) {
		*error_r = "Address too long";
		return -1;
	}
	memcpy(p->address, s, total);
	p->address[total] = '\0';
	memcpy(p->domain, s + i, dl);
	p->domain[dl] = '\0';
	for (char *c = p->domain; *c; c++)
		if ((unsigned char)*c < 0x80)
			*c = (char)tolower((unsigned char)*c);
	*rest_r = (const char *)s + total + 1;
	return 0;
}

/* --- parameters ------------------------------------------------------------ */

bool
smtp_xtext_valid(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '+') {
			if (i + 2 >= len)
				return false;
			if (!isxdigit((unsigned char)s[i + 1]) ||
			    !isxdigit((unsigned char)s[i + 2]) ||
			    islower((unsigned char)s[i + 1]) ||
			    islower((unsigned char)s[i + 2]))
				return false;
			i += 2;
		} else if (c < '!' || c > '~' || c == '=') {
			return false;
		}
	}
	return true;
}

static int
hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 :
	    c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int
smtp_xtext_decode(const char *s, size_t len, struct buf *out)
{
	if (!smtp_xtext_valid(s, len))
		return -1;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (c == '+') {
			c = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
			i += 2;
		}
		if (buf_putc(out, c) < 0)
			return -1;
	}
	return 0;
}

void
smtp_xtext_encode(const void *data, size_t len, struct buf *out)
{
	const unsigned char *p = data;

	for (size_t i = 0; i < len; i++) {
		if (p[i] < '!' || p[i] > '~' || p[i] == '+' || p[i] == '=')
			buf_printf(out, "+%02X", p[i]);
		else
			buf_putc(out, (char)p[i]);
	}
}

/* copy_value - a bounded copy of a parameter value */
static int
copy_value(char *dst, size_t size, const char *v, size_t len)
{
	if (len >= size)
		return -1;
	memcpy(dst, v, len);
	dst[len] = '\0';
	return 0;
}

static int
parse_notify(const char *v, size_t len, unsigned *notify_r)
{
	unsigned n = 0;
	size_t i = 0;

	while (i < len) {
		size_t j = i;
		while (j < len && v[j] != ',')
			j++;
		size_t w = j - i;
		if (w == 5 && strncasecmp(v + i, "NEVER", 5) == 0)
			n |= SMTP_NOTIFY_NEVER;
		else if (w == 7 && strncasecmp(v + i, "SUCCESS", 7) == 0)
			n |= SMTP_NOTIFY_SUCCESS;
		else if (w == 7 && strncasecmp(v + i, "FAILURE", 7) == 0)
			n |= SMTP_NOTIFY_FAILURE;
		else if (w == 5 && strncasecmp(v + i, "DELAY", 5) == 0)
			n |= SMTP_NOTIFY_DELAY;
		else
			return -1;
		i = j + 1;
		if (j < len && i == len)
			return -1;    /* trailing comma */
	}
	/* NEVER stands alone (RFC 3461 4.1) */
	if (n == 0 || ((n & SMTP_NOTIFY_NEVER) && n != SMTP_NOTIFY_NEVER))
		return -1;
	*notify_r = n;
	return 0;
}

enum smtp_params_result
smtp_params_parse(const char *s, enum smtp_params_kind kind,
		  struct smtp_params *p, const char **error_r)
{
	static char err[160];
	unsigned seen = 0;

	memset(p, 0, sizeof(*p));
	if (*s != '\0' && *s != ' ') {
		*error_r = "Syntax error after address";
		return SMTP_PARAMS_INVALID;
	}
	for (;;) {
		while (*s == ' ')
			s++;
		if (*s == '\0')
			return SMTP_PARAMS_OK;
		const char *kw = s;
		while (*s != '\0' && *s != ' ' && *s != '=')
			s++;
		size_t kl = (size_t)(s - kw);
		const char *v = NULL;
		size_t vl = 0;
		if (*s == '=') {
			v = ++s;
			while (*s != '\0' && *s != ' ')
				s++;
			vl = (size_t)(s - v);
		}
		for (size_t i = 0; i < kl; i++) {
			if (!isalnum((unsigned char)kw[i]) && kw[i] != '-') {
				*error_r = "Syntax error in parameters";
				return SMTP_PARAMS_INVALID;
			}
		}
		if (kl == 0) {
			*error_r = "Syntax error in parameters";
			return SMTP_PARAMS_INVALID;
		}
		for (size_t i = 0; v != NULL && i < vl; i++) {
			if ((unsigned char)v[i] < 0x21 || v[i] == 0x7f) {
				*error_r = "Syntax error in parameter value";
				return SMTP_PARAMS_INVALID;
			}
		}
#define KW(name) (kl == strlen(name) && strncasecmp(kw, name, kl) == 0)
		unsigned bit;
		if (kind == SMTP_PARAMS_MAIL && KW("SIZE")) {
			bit = 0x01;
			char *end;
			if (v == NULL || vl == 0 || vl > 20 || !isdigit((unsigned char)*v)) {
				*error_r = "Bad SIZE parameter";
				return SMTP_PARAMS_INVALID;
			}
			char num[24];
			memcpy(num, v, vl);
			num[vl] = '\0';
			p->size = strtoull(num, &end, 10);
			if (*end != '\0') {
				*error_r = "Bad SIZE parameter";
				return SMTP_PARAMS_INVALID;
			}
			p->has_size = true;
		} else if (kind == SMTP_PARAMS_MAIL && KW("BODY")) {
			bit = 0x02;
			if (v != NULL && vl == 4 && strncasecmp(v, "7BIT", 4) == 0)
				p->body = SMTP_BODY_7BIT;
			else if (v != NULL && vl == 8 && strncasecmp(v, "8BITMIME", 8) == 0)
				p->body = SMTP_BODY_8BITMIME;
			else if (v != NULL && vl == 10 && strncasecmp(v, "BINARYMIME", 10) == 0)
				p->body = SMTP_BODY_BINARYMIME;
			else {
				*error_r = "Bad BODY parameter (7BIT, 8BITMIME or BINARYMIME)";
				return SMTP_PARAMS_INVALID;
			}
		} else if (kind == SMTP_PARAMS_MAIL && KW("SMTPUTF8")) {
			bit = 0x04;
			if (v != NULL) {
				*error_r = "SMTPUTF8 takes no value";
				return SMTP_PARAMS_INVALID;
			}
			p->smtputf8 = true;
		} else if (kind == SMTP_PARAMS_MAIL && KW("RET")) {
			bit = 0x08;
			if (v != NULL && vl == 4 && (strncasecmp(v, "FULL", 4) == 0 ||
			    strncasecmp(v, "HDRS", 4) == 0)) {
				for (int i = 0; i < 4; i++)
					p->ret[i] = (char)toupper((unsigned char)v[i]);
				p->ret[4] = '\0';
			} else {
				*error_r = "Bad RET parameter (FULL or HDRS)";
				return SMTP_PARAMS_INVALID;
			}
		} else if (kind == SMTP_PARAMS_MAIL && KW("ENVID")) {
			bit = 0x10;
			if (v == NULL || vl == 0 || !smtp_xtext_valid(v, vl) ||
			    copy_value(p->envid, sizeof(p->envid), v, vl) < 0) {
				*error_r = "Bad ENVID parameter";
				return SMTP_PARAMS_INVALID;
			}
		} else if (kind == SMTP_PARAMS_MAIL && KW("AUTH")) {
			bit = 0x20;
			if (v == NULL || vl == 0 || !smtp_xtext_valid(v, vl) ||
			    copy_value(p->auth, sizeof(p->auth), v, vl) < 0) {
				*error_r = "Bad AUTH parameter";
				return SMTP_PARAMS_INVALID;
			}
			p->has_auth = true;
		} else if (kind == SMTP_PARAMS_RCPT && KW("NOTIFY")) {
			bit = 0x40;
			if (v == NULL || parse_notify(v, vl, &p->notify) < 0) {
				*error_r = "Bad NOTIFY parameter";
				return SMTP_PARAMS_INVALID;
			}
		} else if (kind == SMTP_PARAMS_RCPT && KW("ORCPT")) {
			bit = 0x80;
			const char *semi = v != NULL ? memchr(v, ';', vl) : NULL;
			if (semi == NULL || semi == v ||
			    !smtp_xtext_valid(semi + 1, vl - (size_t)(semi + 1 - v)) ||
			    semi + 1 == v + vl ||
			    copy_value(p->orcpt, sizeof(p->orcpt), v, vl) < 0) {
				*error_r = "Bad ORCPT parameter (addr-type;xtext)";
				return SMTP_PARAMS_INVALID;
			}
			for (const char *c = v; c < semi; c++) {
				if (!isalnum((unsigned char)*c) && *c != '-') {
					*error_r = "Bad ORCPT address type";
					return SMTP_PARAMS_INVALID;
				}
			}
		} else {
			snprintf(err, sizeof(err), "Unsupported parameter %.*s",
			    (int)(kl > 40 ? 40 : kl), kw);
			*error_r = err;
			return SMTP_PARAMS_UNKNOWN;
		}
#undef KW
		if (seen & bit) {
			*error_r = "Parameter given twice";
			return SMTP_PARAMS_INVALID;
		}
		seen |= bit;
	}
}

int
smtp_bdat_parse(const char *args, uint64_t *size_r, bool *last_r,
		const char **error_r)
{
	const char *s = args;
	uint64_t n = 0;

	*last_r = false;
	if (!isdigit((unsigned char)*s)) {
		*error_r = "Syntax: BDAT <size> [LAST]";
		return -1;
	}
	for (; isdigit((unsigned char)*s); s++) {
		if (n > (UINT64_MAX - 9) / 10) {
			*error_r = "BDAT size too large";
			return -1;
		}
		n = n * 10 + (uint64_t)(*s - '0');
	}
	while (*s == ' ')
		s++;
	if (strncasecmp(s, "LAST", 4) == 0) {
		s += 4;
		while (*s == ' ')
			s++;
		*last_r = true;
	}
	if (*s != '\0') {
		*error_r = "Syntax: BDAT <size> [LAST]";
		return -1;
	}
	*size_r = n;
	return 0;
}

/* --- SASL helpers ------------------------------------------------------- */

static int
b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int
smtp_base64_decode(const char *s, size_t len, struct buf *out)
{
	if (len % 4 != 0)
		return -1;
	for (size_t i = 0; i < len; i += 4) {
		int v[4];
		int pad = 0;
		for (int j = 0; j < 4; j++) {
			unsigned char c = (unsigned char)s[i + j];
			if (c == '=' && i + 4 == len && j >= 2) {
				v[j] = 0;
				pad++;
			} else if (pad > 0 || (v[j] = b64val(c)) < 0) {
				return -1;
			}
		}
		unsigned w = (unsigned)v[0] << 18 | (unsigned)v[1] << 12 |
		    (unsigned)v[2] << 6 | (unsigned)v[3];
		char o[3] = { (char)(w >> 16), (char)(w >> 8), (char)w };
		if (buf_append(out, o, (size_t)(3 - pad)) < 0)
			return -1;
	}
	return 0;
}

void
smtp_base64_encode(const void *data, size_t len, struct buf *out)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *p = data;

	for (size_t i = 0; i < len; i += 3) {
		unsigned w = (unsigned)p[i] << 16;
		if (i + 1 < len)
			w |= (unsigned)p[i + 1] << 8;
		if (i + 2 < len)
			w |= p[i + 2];
		char o[4] = { tab[(w >> 18) & 63], tab[(w >> 12) & 63],
		    i + 1 < len ? tab[(w >> 6) & 63] : '=',
		    i + 2 < len ? tab[w & 63] : '=' };
		buf_append(out, o, 4);
	}
}

int
smtp_sasl_plain(char *msg, size_t len, const char **authzid_r,
		const char **authcid_r, const char **passwd_r)
{
	if (msg == NULL || len == 0)
		return -1;    /* nothing decoded (memchr of NULL is undefined) */
	char *nul1 = memchr(msg, '\0', len);
	if (nul1 == NULL)
		return -1;
	char *nul2 = memchr(nul1 + 1, '\0', len - (size_t)(nul1 + 1 - msg));
	if (nul2 == NULL)
		return -1;
	if (nul2 == nul1 + 1)
		return -1;    /* empty authcid */
	/* the password runs to the end: no third NUL */
	if (memchr(nul2 + 1, '\0', len - (size_t)(nul2 + 1 - msg)) != NULL)
		return SMTP_SASL_NUL;
	*authzid_r = msg;
	*authcid_r = nul1 + 1;
	*passwd_r = nul2 + 1;
	/* msg must have a NUL at len: the caller's buffer does */
	return msg[len] == '\0' ? 0 : -1;
}

/* --- replies -------------------------------------------------------------- */

void
smtp_reply(struct buf *out, int code, const char *enh, const char *fmt, ...)
{
	struct buf text;
	va_list ap;

	buf_init(&text, 0);
	va_start(ap, fmt);
	buf_vprintf(&text, fmt, ap);
	va_end(ap);
	const char *p = text.data;
	for (;;) {
		const char *nl = strchr(p, '\n');
		size_t n = nl != NULL ? (size_t)(nl - p) : strlen(p);
		buf_printf(out, "%03d%c", code, nl != NULL ? '-' : ' ');
		if (enh != NULL)
			buf_printf(out, "%s ", enh);
		for (size_t i = 0; i < n; i++) {
			unsigned char c = (unsigned char)p[i];
			buf_putc(out, c < 0x20 || c == 0x7f ? '?' : (char)c);
		}
		buf_puts(out, "\r\n");
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	buf_free(&text);
}
