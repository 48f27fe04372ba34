/* login-msg - the pre-login process's messages (see login-msg.h) */
#include <string.h>

#include "login-msg.h"

size_t
login_msg_pack(unsigned char *out, uint8_t type, uint32_t id, size_t n,
	       const char *const *f, const size_t *len)
{
	size_t off = LOGIN_MSG_HEADER;

	if (n > LOGIN_MSG_FIELDS)
		return 0;
	out[0] = LOGIN_MSG_VERSION;
	out[1] = type;
	out[2] = (unsigned char)(n >> 8);
	out[3] = (unsigned char)n;
	memcpy(out + 4, &id, 4);
	for (size_t i = 0; i < n; i++) {
		if (len[i] > 0xffff || len[i] > LOGIN_MSG_MAX - off - 2 ||
		    off + 2 > LOGIN_MSG_MAX)
			return 0;
		out[off] = (unsigned char)(len[i] >> 8);
		out[off + 1] = (unsigned char)len[i];
		if (len[i] > 0)
			memcpy(out + off + 2, f[i], len[i]);
		off += 2 + len[i];
	}
	return off;
}

int
login_msg_parse(const unsigned char *buf, size_t len, struct login_msg *m)
{
	size_t off = LOGIN_MSG_HEADER;

	if (len < LOGIN_MSG_HEADER || len > LOGIN_MSG_MAX ||
	    buf[0] != LOGIN_MSG_VERSION)
		return -1;
	m->type = buf[1];
	m->n = (size_t)buf[2] << 8 | buf[3];
	memcpy(&m->id, buf + 4, 4);
	if (m->n > LOGIN_MSG_FIELDS)
		return -1;
	for (size_t i = 0; i < m->n; i++) {
		if (len - off < 2)
			return -1;
		m->len[i] = (size_t)buf[off] << 8 | buf[off + 1];
		off += 2;
		if (m->len[i] > len - off)
			return -1;
		m->f[i] = (const char *)buf + off;
		off += m->len[i];
	}
	return off == len ? 0 : -1;   /* an exact end */
}
