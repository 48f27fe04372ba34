/* bench-settings - the cost of reading global settings: the per-key read
 * services did before the snapshot (settings_get_int was settings_get,
 * strtoll, free) beside settings_current() and a member read; and the
 * refresh after another connection's commit. Times are CPU time of the
 * process (the machines these run on are shared). Run by
 * bench/settings/run.sh. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db.h"
#include "fsutil.h"
#include "settings.h"

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);   /* the machine is shared */
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* old_get_int - settings_get_int as it was (src/lib-config/settings.c
 * before the snapshot) */
static int64_t
old_get_int(struct db *db, const char *key, int64_t def)
{
	const char *err;
	char *v;
	int64_t r = def;

	if (settings_get(db, key, &v, &err) == 0) {
		char *end;
		long long x = strtoll(v, &end, 10);
		if (*v != '\0' && *end == '\0')
			r = x;
	}
	free(v);
	return r;
}

int
main(int argc, char **argv)
{
	const char *err;
	struct db *db, *other;
	long n = argc > 2 ? atol(argv[2]) : 200000;
	volatile int64_t sink = 0;

	if (argc < 2 || db_open(argv[1], true, &db, &err) < 0 ||
	    db_open(argv[1], true, &other, &err) < 0) {
		fprintf(stderr, "usage: bench-settings DATA-ROOT [N]\n");
		return 1;
	}
	/* a few stored rows, as a configured server has */
	settings_set(db, "server.hostname", "mx.example.test", &err);
	settings_set(db, "smtp.relay_networks", "10.0.0.0/8", &err);
	settings_set(db, "smtp.max_message_size", "25", &err);

	double t0 = now();
	for (long i = 0; i < n; i++)
		sink += old_get_int(db, "smtp.max_message_size", 51200);
	double per_key = (now() - t0) / n * 1e9;

	t0 = now();
	for (long i = 0; i < n; i++)
		sink += settings_current(db)->smtp_max_message_size;
	double snap = (now() - t0) / n * 1e9;

	/* one SMTP message's reads in smtpd: session start (timeout, size,
	 * relay networks, session time, DNS checks), MAIL, RCPT, DATA */
	static const char *const keys[] = {
		"smtp.timeout", "smtp.max_message_size", "smtp.max_session_time",
		"smtp.check_loopback", "smtp.dns_timeout", "smtp.spf",
		"smtp.max_recipients", "srs.max_age", "smtp.data_timeout",
		"smtp.require_tls_for_auth",
	};
	size_t nk = sizeof(keys) / sizeof(keys[0]);
	long m = n / 10;
	t0 = now();
	for (long i = 0; i < m; i++)
		for (size_t k = 0; k < nk; k++)
			sink += old_get_int(db, keys[k], 0);
	double msg_old = (now() - t0) / m * 1e6;
	t0 = now();
	for (long i = 0; i < m; i++) {
		const struct settings *st = settings_current(db);
		sink += st->smtp_timeout + st->smtp_max_message_size +
		    st->smtp_max_session_time + st->smtp_check_loopback +
		    st->smtp_dns_timeout + st->smtp_spf + st->smtp_max_recipients +
		    st->srs_max_age + st->smtp_data_timeout +
		    st->smtp_require_tls_for_auth;
	}
	double msg_new = (now() - t0) / m * 1e6;

	/* a commit by another connection before each read: the rows are
	 * read again (and found equal, so the snapshot is kept) */
	db_exec(other, &err, "CREATE TABLE IF NOT EXISTS bench_t (x INTEGER)", "");
	long r = n / 100;
	double commit = 0;
	t0 = now();
	for (long i = 0; i < r; i++) {
		double c0 = now();
		db_exec(other, &err, "INSERT INTO bench_t VALUES (1)", "");
		commit += now() - c0;
		sink += settings_current(db)->smtp_max_message_size;
	}
	double refresh = ((now() - t0) - commit) / r * 1e9;

	printf("per-key read (settings_get_int before)   %8.0f ns\n", per_key);
	printf("settings_current() + member, unchanged    %8.0f ns\n", snap);
	printf("settings_current() after another commit   %8.0f ns\n", refresh);
	printf("10 reads of one SMTP message, per key      %8.2f us\n", msg_old);
	printf("the same from one snapshot                 %8.2f us\n", msg_new);
	db_exec(other, &err, "DROP TABLE bench_t", "");
	db_close(&other);
	db_close(&db);
	return sink == 42;
}
