/* pamauth - a password checked by PAM, bounded in time (pamauth.h) */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef HAVE_PAM
#include <security/pam_appl.h>
#endif

#include "pamauth.h"
#include "xalloc.h"

#ifdef HAVE_PAM
struct pam_job {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int refs;                  /* the waiter and the PAM thread */
	bool done;
	bool abandoned;            /* the waiter gave up: counted in stuck */
	int result;
	char *service, *user, *password;
};

/* PAM threads that outlived their waiter (a hung module) */
static atomic_int stuck;

static void
job_unref(struct pam_job *j)
{
	pthread_mutex_lock(&j->mu);
	bool last = --j->refs == 0;
	pthread_mutex_unlock(&j->mu);
	if (!last)
		return;
	free(j->service);
	free(j->user);
	explicit_bzero(j->password, strlen(j->password));
	free(j->password);
	pthread_mutex_destroy(&j->mu);
	pthread_cond_destroy(&j->cv);
	free(j);
}

/* conv - answer the password to hidden prompts, nothing to others */
static int
conv(int n, const struct pam_message **msg, struct pam_response **resp,
     void *data)
{
	struct pam_job *j = data;
	struct pam_response *r;

	if (n <= 0 || n > PAM_MAX_NUM_MSG)
		return PAM_CONV_ERR;
	r = calloc((size_t)n, sizeof(*r));
	if (r == NULL)
		return PAM_BUF_ERR;
	for (int i = 0; i < n; i++) {
		if (msg[i]->msg_style == PAM_PROMPT_ECHO_OFF) {
			r[i].resp = strdup(j->password);
			if (r[i].resp == NULL)
				goto fail;
		} else if (msg[i]->msg_style == PAM_PROMPT_ECHO_ON) {
			r[i].resp = strdup(j->user);
			if (r[i].resp == NULL)
				goto fail;
		}
	}
	*resp = r;
	return PAM_SUCCESS;
fail:
	for (int i = 0; i < n; i++) {
		if (r[i].resp != NULL) {
			explicit_bzero(r[i].resp, strlen(r[i].resp));
			free(r[i].resp);
		}
	}
	free(r);
	return PAM_BUF_ERR;
}

static void *
pam_thread(void *arg)
{
	struct pam_job *j = arg;
	struct pam_conv c = { conv, j };
	pam_handle_t *h = NULL;
	int r = pam_start(j->service, j->user, &c, &h);

	if (r == PAM_SUCCESS)
		r = pam_authenticate(h, PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK);
	if (r == PAM_SUCCESS)
		r = pam_acct_mgmt(h, PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK);
	if (h != NULL)
		pam_end(h, r);
	pthread_mutex_lock(&j->mu);
	j->result = r == PAM_SUCCESS ? 1 : 0;
	j->done = true;
	if (j->abandoned)
		atomic_fetch_sub(&stuck, 1);
	pthread_cond_signal(&j->cv);
	pthread_mutex_unlock(&j->mu);
	job_unref(j);
	return NULL;
}

int
pamauth_check(const char *service, const char *user, const char *password,
	      int timeout_s, const char **error_r)
{
	struct pam_job *j;
	pthread_attr_t attr;
	pthread_t t;
	struct timespec until;
	int r = 0;

	if (atomic_load(&stuck) >= PAMAUTH_STUCK_MAX) {
		*error_r = "too many PAM checks hang: refused until they end";
		return -1;
	}
	j = xcalloc(1, sizeof(*j));
	pthread_mutex_init(&j->mu, NULL);
	pthread_cond_init(&j->cv, NULL);
	j->refs = 2;
	j->service = xstrdup(service);
	j->user = xstrdup(user);
	j->password = xstrdup(password);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &attr, pam_thread, j) != 0) {
		pthread_attr_destroy(&attr);
		j->refs = 1;
		job_unref(j);
		*error_r = "cannot start a PAM check";
		return -1;
	}
	pthread_attr_destroy(&attr);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += timeout_s;
	pthread_mutex_lock(&j->mu);
	while (!j->done && r != ETIMEDOUT)
		r = pthread_cond_timedwait(&j->cv, &j->mu, &until);
	bool done = j->done;
	int result = j->result;
	if (!done) {
		j->abandoned = true;
		atomic_fetch_add(&stuck, 1);
	}
	pthread_mutex_unlock(&j->mu);
	if (!done) {
		/* the thread goes on alone; it frees the job when the module
		 * returns, if ever */
		*error_r = "the PAM check did not answer in time "
		    "(auth.pam_timeout)";
		job_unref(j);
		return -1;
	}
	job_unref(j);
	return result;
}
#else
int
pamauth_check(const char *service, const char *user, const char *password,
	      int timeout_s, const char **error_r)
{
	(void)service;
	(void)user;
	(void)password;
	(void)timeout_s;
	*error_r = "this Postern was built without PAM (libpam0g-dev)";
	return -1;
}
#endif
