#ifndef POSTERN_XMPPD_H
#define POSTERN_XMPPD_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>
#include <openssl/ssl.h>

#include "authpool.h"
#include "chat-store.h"
#include "conn.h"
#include "logins.h"
#include "service.h"
#include "strutil.h"
#include "xml-stream.h"

/* xmppd - the XMPP client service (RFC 6120, 6121). xmppd.c holds the
 * stream (negotiation, STARTTLS, SASL PLAIN, resource binding, stream
 * errors); im.c the instant messaging on top (rosters, subscriptions,
 * presence, messages, the server's own IQs); chat-store.c what outlives
 * a session; conn.c the sockets. */

#define NS_CLIENT "jabber:client"
#define NS_STREAMS "urn:ietf:params:xml:ns:xmpp-streams"
#define NS_STANZAS "urn:ietf:params:xml:ns:xmpp-stanzas"
#define NS_TLS "urn:ietf:params:xml:ns:xmpp-tls"
#define NS_SASL "urn:ietf:params:xml:ns:xmpp-sasl"
#define NS_BIND "urn:ietf:params:xml:ns:xmpp-bind"
#define NS_SESSION "urn:ietf:params:xml:ns:xmpp-session"
#define NS_ROSTER "jabber:iq:roster"
#define NS_PING "urn:xmpp:ping"
#define NS_DISCO_INFO "http://jabber.org/protocol/disco#info"
#define NS_DISCO_ITEMS "http://jabber.org/protocol/disco#items"
#define NS_DELAY "urn:xmpp:delay"
#define NS_CARBONS "urn:xmpp:carbons:2"
#define NS_FORWARD "urn:xmpp:forward:0"
#define NS_HINTS "urn:xmpp:hints"
#define NS_BLOCKING "urn:xmpp:blocking"
#define NS_BLOCKING_ERRORS "urn:xmpp:blocking:errors"
#define NS_CSI "urn:xmpp:csi:0"

#define NS_SM "urn:xmpp:sm:3"
#define NS_VCARD "vcard-temp"
#define NS_MAM "urn:xmpp:mam:2"
#define NS_RSM "http://jabber.org/protocol/rsm"
#define NS_DATA "jabber:x:data"
#define NS_SID "urn:xmpp:sid:0"
#define NS_PUBSUB "http://jabber.org/protocol/pubsub"
#define NS_GUEST "urn:postern:chat:guest:0"
#define NS_COMMANDS "http://jabber.org/protocol/commands"
#define GUEST_NODE "urn:postern:chat:guest:invite"   /* XEP-0050 */
#define NS_EXTDISCO "urn:xmpp:extdisco:2"   /* XEP-0215 */
#define NS_PUBSUB_OWNER "http://jabber.org/protocol/pubsub#owner"
#define MAM_MAX_PAGE 100          /* RSM <max/> is capped there */

#define CSI_HELD_MAX 256          /* presences held for an inactive client */

#define JID_PART_MAX 1023         /* RFC 7622 3.1: each part */
#define SM_QUEUE_MAX 1000         /* XEP-0198: stanzas sent, not acked */
#define SM_RESUME_SECS 300        /* a dropped stream waits this long */
#define SM_REQUEST_EVERY 5        /* <r/> after so many unacked stanzas */

enum xsess_state {
	XS_WAIT_HEADER,           /* before the client's stream header */
	XS_PREAUTH,               /* features sent, not logged in */
	XS_AUTHED,                /* logged in, not bound */
	XS_BOUND,                 /* a resource: stanzas flow */
};

struct xuser;

struct xsess {
	struct xsess *prev, *next;      /* every session */
	struct xsess *unext;            /* the user's bound sessions */
	struct xuser *user;             /* once bound */
	struct xconn *c;
	struct xml_stream *xs;
	enum xsess_state state;
	bool header_sent;               /* our stream header is out */
	bool authed;                    /* SASL succeeded */
	bool busy;                      /* a password check or delay */
	bool sasl_wait;                 /* PLAIN without initial response */
	bool dead;                      /* closing: send nothing more */
	bool freeing;
	int auth_failures;
	time_t login_by;                /* monotonic s: xmpp.login_timeout */
	char *domain;                   /* the stream's 'to' */
	int64_t po_id;                  /* its post office */
	char po[NAME_MAX_LEN + 1];
	char *local;                    /* mailbox name, once authed */
	char *owner;                    /* "mailbox@postoffice" */
	int64_t mailbox_id;
	char *bare;                     /* local@domain */
	char *full;                     /* local@domain/resource */
	char *resource;
	struct auth_req *auth_req;
	struct service_login *reg;
	struct event *delay_ev;
	char *delay_xml;                /* a SASL failure sent late */
	/* RFC 6121 4 */
	bool available;
	bool interested;                /* requested the roster */
	int priority;
	struct xml_node *presence;      /* the last broadcast presence */
	/* XEPs */
	bool carbons;                   /* XEP-0280 enabled */
	bool blocklist_wanted;          /* XEP-0191: asked for the list */
	bool inactive;                  /* XEP-0352 */
	struct xml_node **held;         /* presences held while inactive */
	size_t nheld;
	/* XEP-0198 stream management */
	bool sm;                        /* enabled */
	bool sm_resume;                 /* resumable */
	bool hibernating;               /* the connection dropped: waiting */
	char sm_id[33];
	uint32_t h_in;                  /* stanzas handled from the client */
	uint32_t h_out;                 /* stanzas sent to it */
	uint32_t acked;                 /* ... and acknowledged */
	char **unacked;                 /* h_out - acked serialised stanzas */
	struct event *sm_ev;            /* resumption deadline; kicks */
	/* XEP-0115 (pep.c) */
	const struct caps *caps;        /* verified features, shared */
	char *caps_wait;                /* id of our disco#info query */
	char *caps_ver;                 /* the hash it should give */
	time_t bound_at;                /* wall clock */
	/* an external contact (guest.c) */
	bool guest;
	char *guest_of;                 /* the inviter's owner */
	int64_t guest_expires;          /* wall clock */
	/* RFC 7395 (websocket.c) */
	bool websocket;                 /* a browser's, through httpd */
	int64_t web_mailbox;            /* its webmail session's mailbox:
					 * SASL EXTERNAL; 0 none */
	int64_t web_session;            /* ... and that session's row */
	struct event *web_ev;           /* logged in by it: its expiry */
	int64_t web_touched;            /* last time it counted as use */
};

/* a user with bound sessions */
struct xuser {
	struct xuser *next;
	char *owner;                    /* "mailbox@postoffice" */
	int64_t po_id;
	struct xsess *sessions;
	char *photo;                    /* XEP-0153 hash, "" none; NULL
					 * not known yet (pep.c) */
};

struct xmpp_server {
	struct service *svc;
	SSL_CTX *ssl;
	const char *tls_error;
	struct auth_pool *auth;
	struct chat_store *store;
	struct event *flush_ev;         /* commits the store's batch */
	struct xsess *sessions;
	struct xuser *users;
	struct event *tick_ev;          /* once a second (xmppd.c on_tick) */
	bool state_dirty;               /* run/xmpp-state.json to rewrite */
};

extern struct xmpp_server xsrv;

/* --- xmppd.c ---------------------------------------------------------- */
/* xsess_send - serialise and queue a stanza; a client leaving too much
 * unread is closed (its session is then dead) */
void xsess_send(struct xsess *s, const struct xml_node *n);
void xsess_send_raw(struct xsess *s, const char *xml);
/* xsess_send_stanza_text - a serialised stanza (counted and kept for
 * XEP-0198 like xsess_send's) */
void xsess_send_stanza_text(struct xsess *s, const char *xml);
/* stream_error - the RFC 6120 4.9 stream error, then close */
void stream_error(struct xsess *s, const char *cond, const char *text);
struct xuser *xuser_find(const char *owner);
/* xmpp_session_new - a session on connection c (made by the caller
 * with xmpp_session_input and xmpp_session_end as its callbacks and the
 * session as ctx): the parser, the login deadline, the session list */
void xmpp_session_start(struct xsess *s, const char *listener);
void xmpp_session_input(void *ctx);
void xmpp_session_end(void *ctx, enum xconn_end why);
/* xsess_login_result - the answer of a login check (a password's, or
 * websocket.c's SASL EXTERNAL) */
void xsess_login_result(void *ctx, enum dir_auth_result r,
			const struct dir_mailbox *mb, const char *err);
/* xmpp_store_flush - commit the chat store's open batch now (before
 * telling a client its stanzas are safe: XEP-0198 <a/>) */
void xmpp_store_flush(void);

/* --- im.c ------------------------------------------------------------- */

/* a JID split into parts (lower-cased local and domain, RFC 7622
 * without the full PRECIS profiles) */
struct jid {
	char *local, *domain, *resource;
};
/* jid_parse - 0, or -1 for a malformed JID */
int jid_parse(const char *s, struct jid *j);
void jid_clear(struct jid *j);
/* jid_bare - "local@domain" or "domain" (new string) */
char *jid_bare(const struct jid *j);

/* im_stanza - a stanza from a bound session (consumes n) */
void im_stanza(struct xsess *s, struct xml_node *n);
/* im_session_gone - a bound session ends: unavailable presence */
void im_session_gone(struct xsess *s);
/* im_csi - XEP-0352 <active/> or <inactive/>: held presences leave on
 * <active/> */
void im_csi(struct xsess *s, bool active);
/* im_deliver - a copy of n to session t, from 'from' (when not NULL),
 * addressed to t's full JID when set_to; held for an inactive client
 * when it is an availability presence (XEP-0352) */
void im_deliver(struct xsess *t, const struct xml_node *n, const char *from,
		bool set_to);
/* im_may_see - whether viewer's user is subscribed to target's presence
 * (colleagues always; nobody blocked either way) */
bool im_may_see(struct xsess *viewer, struct xsess *target);
/* im_stanza_error - answer n with a stanza error (RFC 6120 8.3) */
void im_stanza_error(struct xsess *s, const struct xml_node *n,
		     const char *type, const char *cond, const char *text);

/* im_component_domain - whether domain is <prefix><a domain of ours>
 * (conference., upload., proxy.): its post office */
bool im_component_domain(const char *domain, const char *prefix,
			 int64_t *po_r);
/* im_error_from - im_stanza_error answering from 'from' (a service) */
void im_error_from(struct xsess *s, const struct xml_node *n, const char *from,
		   const char *type, const char *cond, const char *text);
/* im_result_from - an empty IQ result to iq, from 'from', to s */
struct xml_node *im_result_from(struct xsess *s, const struct xml_node *iq,
				const char *from);

/* im_owner_of - the owner ("mailbox@postoffice") of a bare JID of a
 * local user (new string) and its post office, or NULL (for a guest
 * too: rooms and PEP do not address guests) */
char *im_owner_of(const char *jid, int64_t *po_r);

/* im_roster_push - a changed (or removed) item of owner's roster to
 * its interested sessions (RFC 6121 2.1.6) */
void im_roster_push(const char *owner, const struct roster_item *it,
		    bool remove);
/* im_domain_remote - whether a domain is not served here (nor one of
 * our services') */
bool im_domain_remote(const char *domain);
/* im_resolve_forget - forget the cached routing answers (the directory
 * or the guests changed) */
void im_resolve_forget(void);

/* --- guest.c (guest.h: external contacts) ------------------------------ */
/* guest_login - a SASL PLAIN login whose authcid names a guest: false
 * when it does not (the directory's login goes on); else true, and
 * *ok_r whether the password is right for an invitation in force on
 * this domain (the session then is the guest's) */
bool guest_login(struct xsess *s, const char *authcid, const char *pass,
		 bool *ok_r);
/* guest_iq - an IQ of NS_GUEST to the server: invite, list, revoke */
void guest_iq(struct xsess *s, struct xml_node *iq, struct xml_node *q);
/* guest_command - a XEP-0050 command IQ to the server (from: its
 * address), node GUEST_NODE: the invitation as a data form, by
 * guest_iq's road; guest_command_items - the commands node's items
 * (disco#items, node NS_COMMANDS); guest_command_info - the command
 * node's disco#info */
void guest_command(struct xsess *s, struct xml_node *iq, struct xml_node *cmd,
		   const char *from);
void guest_command_items(struct xsess *s, struct xml_node *q);
void guest_command_info(struct xml_node *q);
/* im_form_value - the value of a data form field of x (new string; ""
 * without a value), NULL when absent */
char *im_form_value(const struct xml_node *x, const char *var);
/* guest_sync - apply invitations that changed, expired or were revoked
 * (roster pushes to inviters, guests' streams closed); each second */
void guest_sync(void);

/* --- pep.c ------------------------------------------------------------ */
struct caps;
/* pep_presence - after an available presence of s: its capabilities
 * (XEP-0115: a hash we do not know is asked of the client and verified)
 * and, when initial, the last items it wants (XEP-0163 4.3.2) */
void pep_presence(struct xsess *s, struct xml_node *p, bool initial);
/* pep_vcard_update - XEP-0153: the user's vCard photo hash added to an
 * available presence that carries none */
void pep_vcard_update(struct xsess *s, struct xml_node *p);
/* pep_photo_hash - SHA-1 hex of a vCard's photo, "" without (new) */
char *pep_photo_hash(const char *vcard_xml);
/* pep_iq_answer - a result or error answering our caps query: true when
 * it was one (consumed) */
bool pep_iq_answer(struct xsess *s, struct xml_node *iq);
/* pep_iq - a pubsub request to the account owner (a bare JID, or no 'to'
 * for one's own; own: s is that user) */
void pep_iq(struct xsess *s, struct xml_node *iq, struct xml_node *ps,
	    const char *owner, int64_t owner_po, const char *to, bool own);
/* pep_disco_account - PEP's identity and features for an account */
void pep_disco_account(struct xml_node *q);
void pep_session_gone(struct xsess *s);

/* --- muc.c ------------------------------------------------------------ */
/* muc_domain - whether domain is conference.<a domain of ours>; its
 * post office */
bool muc_domain(const char *domain, int64_t *po_r);
void muc_presence(struct xsess *s, struct xml_node *p, const struct jid *to,
		  int64_t po);
void muc_message(struct xsess *s, struct xml_node *m, const struct jid *to,
		 int64_t po);
void muc_iq(struct xsess *s, struct xml_node *iq, struct xml_node *payload,
	    const struct jid *to, int64_t po);
/* muc_remote - a remote user's stanza to the service or a room
 * (federation; n's domains proven by s2s.c) */
void muc_remote(struct xml_node *n, const struct jid *from,
		const struct jid *to, int64_t po);
/* muc_bounce - a room's stanza to the remote occupant to could not be
 * delivered: the occupant leaves (333) at the next muc_sweep (each
 * second) */
void muc_bounce(const struct jid *room, const char *to);
void muc_sweep(void);
/* muc_init - the persistent rooms from the chat store; muc_shutdown -
 * forget every room (memory only) */
int muc_init(void);
void muc_shutdown(void);
/* muc_sync - the administrator changed the chat store (postern chat
 * room create/destroy): rooms added to it come, rooms gone from it are
 * destroyed (occupants told) */
void muc_sync(void);
/* muc_rooms_json - the live rooms into array a (state file) */
void muc_rooms_json(json_t *a);
/* muc_session_gone - leave every room */
void muc_session_gone(struct xsess *s);

/* --- upload.c --------------------------------------------------------- */
/* upload_domain - whether domain is upload.<a domain of ours>; its post
 * office */
bool upload_domain(const char *domain, int64_t *po_r);
/* upload_iq - an IQ to the upload service (XEP-0363 slots) */
void upload_iq(struct xsess *s, struct xml_node *iq, struct xml_node *payload,
	       const struct jid *to, int64_t po);

/* --- websocket.c ----------------------------------------------------- */
/* XMPP over WebSocket (RFC 7395): httpd upgrades a browser's request
 * and relays the connection over a unix socket in run/; here the
 * frames become the stream the TCP sessions read and write. */
/* websocket_init - the unix socket (a failure is logged: chat over TCP
 * goes on without it); 0, or -1 */
int websocket_init(struct service *svc);
void websocket_shutdown(void);
/* websocket_sasl_external - SASL EXTERNAL on a WebSocket stream whose
 * browser has a webmail session (authzid: base64, "=" or empty) */
void websocket_sasl_external(struct xsess *s, const char *b64);
/* websocket_activity - a stanza of a stream signed in by a webmail
 * session: the user's own (not an answer) counts as use of that
 * session (its last_seen, at most once a minute), as the webmail's
 * requests do */
void websocket_activity(struct xsess *s, const struct xml_node *n);

/* --- s2s.c, dialback.c, federate.c: federation ------------------------ */
/* s2s_init - the resolver and dialback key; s2s_shutdown - close every
 * server-to-server stream; s2s_sweep - each second: failed links */
int s2s_init(struct service *svc);
void s2s_shutdown(void);
void s2s_sweep(void);
/* s2s_accept - a connection on the xmpp-server listener */
void s2s_accept(struct service *svc, int fd, const struct sockaddr *sa,
		socklen_t salen);
/* s2s_send - a stanza from our domain to a remote one: sent on the
 * authorized link, queued while it is made, or bounced (consumes n) */
void s2s_send(const char *from_domain, const char *to_domain,
	      struct xml_node *n);
/* s2s_verified - the authoritative server's answer to our db:verify
 * for the incoming stream in_serial */
void s2s_verified(uint64_t in_serial, const char *remote, const char *local,
		  bool valid);
int dialback_init(void);
/* dialback_key - XEP-0185 key (new string); dialback_check - whether a
 * key is ours */
char *dialback_key(const char *receiving, const char *originating,
		   const char *id);
bool dialback_check(const char *receiving, const char *originating,
		    const char *id, const char *key);
/* im_item_load - owner's roster item for jid (1), or a new one with
 * just the JID (0), -1 error (logged); im_item_save - store it and,
 * when push and listed, push it to owner's interested sessions (po_id:
 * owner's post office, -1 when unknown) */
int im_item_load(const char *owner, const char *jid, struct roster_item *it);
void im_item_save(const char *owner, int64_t po_id, struct roster_item *it,
		  bool push);
/* im_archive_one - XEP-0313: m in owner's archive with the bare JID peer;
 * with by (that archive's JID), m then carries its <stanza-id/> (any
 * one by a client removed first) */
void im_archive_one(const char *owner, struct xml_node *m, const char *peer,
		    const char *by);
/* im_offline_store - message m from the JID from kept for owner (RFC
 * 6121 8.5.2.1.1: with a XEP-0203 delay): 0 kept, 1 storage full, -1
 * error (logged) */
int im_offline_store(const char *owner, const struct xml_node *m,
		     const char *from);
/* im_carbon_eligible - XEP-0280 6: whether message m (of type) is
 * copied; im_carbons_sent - copies (<sent/>) of s's message to its
 * user's other resources with carbons on; im_carbons_received - copies
 * (<received/>) to the recipient's resources with carbons on that did
 * not get m (direct: the session that did, or NULL when m went to the
 * bare JID's available resources of non-negative priority) */
bool im_carbon_eligible(const struct xml_node *m, const char *type);
void im_carbons_sent(struct xsess *s, const struct xml_node *m);
void im_carbons_received(struct xuser *u, const struct xml_node *m,
			 const struct xsess *direct);
/* federate_enabled - whether our domain federates
 * (xmpp.federation_domains); federate_remote - whether a domain is
 * someone else's */
bool federate_enabled(const char *domain);
bool federate_remote(const char *domain);
/* federate_out - a local session's stanza to a remote JID (DEST_REMOTE
 * in im.c): to s2s, or refused when federation is off */
void federate_out(struct xsess *s, struct xml_node *n, const struct jid *to);
/* federate_subscription - a subscription stanza to a remote contact */
void federate_subscription(struct xsess *s, const char *type,
			   const char *contact);
/* federate_presence - a broadcast presence to remote subscribers (and
 * probes of remote contacts when initial) */
void federate_presence(struct xsess *s, const struct xml_node *p,
		       bool initial);
/* federate_incoming - a proven remote stanza for a local JID (consumes) */
void federate_incoming(struct xml_node *n);
/* federate_send_from - a stanza built here from one of our JIDs (a
 * user's, a room's) to a remote one (consumes n) */
void federate_send_from(const char *from, const char *to, struct xml_node *n);
/* federate_bounce - the error of a stanza that could not leave, to its
 * local sender */
void federate_bounce(const struct xml_node *n, const char *cond,
		     const char *text);

/* --- turn.c: XEP-0215 STUN/TURN services (coturn's REST credentials) -- */
bool turn_enabled(void);
/* turn_credentials - user name "<expires>:<user>" and its password,
 * base64(HMAC-SHA1(chat.turn.secret, name)) (new strings); 0 or -1 */
int turn_credentials(const char *user, time_t expires, char **name_r,
		     char **password_r);
void turn_iq(struct xsess *s, struct xml_node *iq, struct xml_node *payload,
	     const char *from);

/* --- socks5.c --------------------------------------------------------- */
/* proxy_domain - whether domain is proxy.<a domain of ours>; its post
 * office */
bool proxy_domain(const char *domain, int64_t *po_r);
/* proxy_enabled - whether the xmpp-proxy listener is bound */
bool proxy_enabled(void);
/* proxy_iq - an IQ to the proxy (XEP-0065 streamhost, activation) */
void proxy_iq(struct xsess *s, struct xml_node *iq, struct xml_node *payload,
	      const struct jid *to, int64_t po);
/* proxy_accept - a connection on the xmpp-proxy listener */
void proxy_accept(struct service *svc, int fd, const struct sockaddr *sa,
		  socklen_t salen);
/* proxy_shutdown - close every proxy connection */
void proxy_shutdown(void);

#endif
