/* fuzz-users - the users import path (manual 5.3.9.4): CSV records,
 * address, quota and hash detection, domain creation and the mailbox
 * rules, on a scratch data root. Each input runs inside a transaction
 * that is rolled back, so every input sees the same store. Inputs are cut
 * to 4 lines: every good row costs a password hash. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "db.h"
#include "fsutil.h"
#include "settings.h"
#include "users.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct db *db;
static char scratch[64];

static void
cleanup(void)
{
	db_close(&db);
	rm_rf(scratch);
}

static void
row_error(void *ctx, size_t line, const char *message)
{
	size_t *lines = ctx;

	if (line == 0 || line > *lines || message == NULL || *message == '\0')
		__builtin_trap();
}

static void
setup(void)
{
	char tmpl[] = "/tmp/postern-fuzz-users-XXXXXX";
	const char *err;

	if (mkdtemp(tmpl) == NULL)
		abort();
	snprintf(scratch, sizeof(scratch), "%s", tmpl);
	atexit(cleanup);
	char *cfg = path_join(tmpl, "config");
	mkdir_p(cfg, 0700);
	free(cfg);
	if (db_open(tmpl, true, &db, &err) < 0 ||
	    settings_set(db, "password.scheme", "sha512-crypt", &err) < 0 ||
	    settings_set(db, "password.min_length", "1", &err) < 0 ||
	    settings_set(db, "password.reject_names", "no", &err) < 0 ||
	    adm_postoffice_add(db, "acme", "pw", &err) != ADM_OK ||
	    adm_domain_add(db, "acme.test", "acme", &err) != ADM_OK ||
	    adm_postoffice_add(db, "other", "pw", &err) != ADM_OK ||
	    adm_domain_add(db, "other.test", "other", &err) != ADM_OK) {
		fprintf(stderr, "fuzz-users: setup failed\n");
		abort();
	}
	/* the store is scratch: mailboxes are rolled back, not their dirs */
	char *store = path_join(tmpl, "scratch-store");
	settings_set(db, "path.store", store, &err);
	free(store);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct users_import_result res;
	const char *err;
	size_t len = 0, lines = 1;
	bool outer;

	if (db == NULL)
		setup();
	/* at most 4 lines and 2 KB */
	while (len < size && len < 2048) {
		if (data[len] == '\n' && ++lines > 4)
			break;
		len++;
	}
	if (adm_tx_begin(db, &outer, &err) != ADM_OK || !outer)
		__builtin_trap();
	struct users_import_opts opts = {
		.postoffice = "acme", .quota_kb = -1, .sep = size && data[0] == '\t' ?
		    '\t' : ',', .atomic = size > 1 && data[1] == '!',
		.ctx = &lines, .row_error = row_error, .create_domains = true,
	};
	int r = users_import(db, (const char *)data, len, &opts, &res, &err);
	if (r != ADM_OK && r != ADM_INVALID)
		__builtin_trap();
	if (res.imported + res.failed != res.total && !(opts.atomic && res.failed))
		__builtin_trap();
	adm_tx_end(db, outer, false, &err);
	return 0;
}
