#ifndef POSTERN_XMPPD_XMPPD_INT_H
#define POSTERN_XMPPD_XMPPD_INT_H

/* xmppd-int - what xmppd.c (streams, sessions, the service), xmpp-sasl.c
 * and sm.c share: one file per section of the old xmppd.c */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "xmppd.h"

#define FAIL_DELAY_MS 500        /* a failed login is answered late */
#define MAX_AUTH_FAILURES 5      /* then the stream ends */
#define PLAIN_MAX 2048           /* decoded SASL PLAIN message */

bool xmpp_plaintext_ok(struct xsess *s);
void xmpp_stream_restart(struct xsess *s);
void xmpp_sess_free(struct xsess *s);
void xmpp_sess_input(void *ctx);
void xmpp_stanza(struct xsess *s, struct xml_node *n);
void xmpp_login_done(void *ctx, enum dir_auth_result r,
		     const struct dir_mailbox *mb, const char *err);
void xmpp_sasl_stanza(struct xsess *s, struct xml_node *n);
void xmpp_sm_end_later(struct xsess *s);
void xmpp_sm_hibernate(struct xsess *s);
void xmpp_sm_nonza(struct xsess *s, struct xml_node *n);
void xmpp_sm_resume(struct xsess *s, struct xml_node *n);
void xmpp_sm_store_unacked(struct xsess *s);

#endif
