#ifndef POSTERN_PAMAUTH_H
#define POSTERN_PAMAUTH_H

/* pamauth - "integrated authentication" (manual 5.3.3): a post office
 * with pam_enabled checks its mailboxes' passwords with the PAM service
 * pam_service (the mailbox name is the PAM user). Each check runs on a
 * thread of its own and is waited for at most auth.pam_timeout seconds:
 * a module that hangs makes that login fail, not the service. A thread
 * that outlives its wait ends when its module returns; while
 * PAMAUTH_STUCK_MAX of them are still running, PAM logins are refused.
 * The service runs unprivileged: modules that need root (pam_unix for
 * other users' shadow entries) cannot work; sssd, LDAP or a PAM service
 * of the administrator's choosing can. */

#define PAMAUTH_STUCK_MAX 8

/* pamauth_check - 1 accepted (authenticate and account), 0 refused, -1
 * error (no PAM, timeout). */
int pamauth_check(const char *service, const char *user, const char *password,
		  int timeout_s, const char **error_r);

#endif
