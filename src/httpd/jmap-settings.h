#ifndef POSTERN_JMAP_SETTINGS_H
#define POSTERN_JMAP_SETTINGS_H

#include <jansson.h>

#include "jmap.h"

/* jmap-settings - what a mailbox owner changes about their own account
 * from the webmail's settings, as JMAP methods under the vendor
 * capability urn:postern:settings (docs/API.md):
 *
 *   Password/change      old + new password: the post office's password
 *                        policy (adm_password_check, the CLI's), the other
 *                        web sessions end, the mail protocols' sessions
 *                        end by themselves (dir_login_current)
 *   AppPassword/get|set  the mailbox's app passwords (lib-admin
 *                        twofactor.h: the CLI's code): created ones are
 *                        shown once, revoked ones end their sessions
 *   TwoFactor/get|set    the two-factor state; enrol a TOTP app (secret,
 *                        QR code, confirmation code, recovery codes) or
 *                        turn it off where the post office does not ask
 *                        for it
 *   LoginRecord/get      the mailbox's recent logins (loginsec.h)
 *   Identity/get|changes|set  (jmap-identity.c) the mailbox's addresses
 *                        with a name, reply-to and signatures
 *
 * Everything acts on the authenticated mailbox only. What changes how
 * one logs in (app passwords, two-factor) takes a web session (the
 * cookie of a web login that passed the second factor): a client that
 * logged in with an app password cannot make itself more of them. */

#define JMAP_SETTINGS "urn:postern:settings"

extern const struct jmap_method jmap_settings_methods[];

/* jmap_settings_account_caps - add the capability to a Session's
 * account object (its accountCapabilities) */
void jmap_settings_account_caps(json_t *account);

/* jmap-identity.c; jmap_identity_id - the Identity id of an address */
void jmap_identity_id(const char *address, char out[24]);
void jmap_identity_get(void *ctx, json_t *args, json_t **result_r,
		       json_t **error_r);
void jmap_identity_changes(void *ctx, json_t *args, json_t **result_r,
			   json_t **error_r);
void jmap_identity_set(void *ctx, json_t *args, json_t **result_r,
		       json_t **error_r);

#endif
