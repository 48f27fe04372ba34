#ifndef POSTERN_LOGIN_MSG_H
#define POSTERN_LOGIN_MSG_H

#include <stddef.h>
#include <stdint.h>

/* login-msg - the messages between a pre-login process and its main
 * process (login.h), version 1: a header { u8 version, u8 type, u16
 * nfields, u32 id (host order: both ends are one program) } and nfields
 * fields of { u16 length (big endian), bytes }, exactly, in one datagram
 * of at most LOGIN_MSG_MAX bytes. */

#define LOGIN_MSG_VERSION 1
#define LOGIN_MSG_MAX 8192
#define LOGIN_MSG_FIELDS 64
#define LOGIN_MSG_HEADER 8

struct login_msg {
	uint8_t type;
	uint32_t id;
	size_t n;
	const char *f[LOGIN_MSG_FIELDS];   /* point into the datagram */
	size_t len[LOGIN_MSG_FIELDS];
	int fd;                            /* passed with it, or -1 */
};

/* login_msg_pack - the message into out (LOGIN_MSG_MAX bytes): its
 * length, or 0 when the fields do not fit (or are over
 * LOGIN_MSG_FIELDS) */
size_t login_msg_pack(unsigned char *out, uint8_t type, uint32_t id,
		      size_t n, const char *const *f, const size_t *len);
/* login_msg_parse - a datagram of len bytes into m (fd untouched): 0, or
 * -1 unless the version is 1, the count at most LOGIN_MSG_FIELDS and the
 * lengths end exactly at len */
int login_msg_parse(const unsigned char *buf, size_t len,
		    struct login_msg *m);

#endif
