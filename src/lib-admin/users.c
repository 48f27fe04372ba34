/* users - bulk import and export of mailboxes */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "admin.h"
#include "csv.h"
#include "directory.h"
#include "passwd.h"
#include "settings.h"
#include "strutil.h"
#include "users.h"
#include "xalloc.h"

struct import_row {
	size_t line;
	char *address;          /* normalized */
	char local[LOCALPART_MAX_LEN + 2];
	char domain[DOMAIN_MAX_LEN + 2];
	char *password;         /* plain, or NULL */
	char *hash;             /* computed or imported */
	bool generated;
	int64_t quota_kb;
	char *friendly;
	char *error;            /* parse error, if any */
	bool imported;          /* its mailbox was added (pending the commit) */
};

struct hash_job {
	struct import_row *rows;
	size_t n;
	size_t next;
	size_t done;            /* rows finished, for the progress report */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	const char *scheme;
};

static void *
hash_worker(void *arg)
{
	struct hash_job *job = arg;
	const char *err;

	for (;;) {
		pthread_mutex_lock(&job->lock);
		size_t i = job->next++;
		pthread_mutex_unlock(&job->lock);
		if (i >= job->n)
			return NULL;
		struct import_row *row = &job->rows[i];
		if (row->error == NULL && row->hash == NULL) {
			row->hash = passwd_hash(row->password, job->scheme, &err);
			if (row->hash == NULL)
				row->error = xasprintf("hashing the password: %s", err);
		}
		pthread_mutex_lock(&job->lock);
		job->done++;
		pthread_cond_signal(&job->cond);
		pthread_mutex_unlock(&job->lock);
	}
}

/* hash_rows - hash plain passwords on every core: yescrypt is slow by
 * design, and an import of thousands of users is mostly hashing. The
 * calling thread reports progress (hash_progress) while it waits. */
static void
hash_rows(struct db *db, struct import_row *rows, size_t n,
	  const struct users_import_opts *opts)
{
	struct hash_job job = { .rows = rows, .n = n };
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	pthread_t th[16];
	size_t nth = ncpu < 1 ? 1 : ncpu > 16 ? 16 : (size_t)ncpu, need = 0;

	for (size_t i = 0; i < n; i++)
		if (rows[i].error == NULL && rows[i].hash == NULL)
			need++;
	if (need == 0)
		return;
	char *scheme = xstrdup(settings_text(settings_current(db), SETTING_password_scheme));

	job.scheme = scheme;
	pthread_mutex_init(&job.lock, NULL);
	pthread_cond_init(&job.cond, NULL);
	size_t started = 0;
	for (size_t i = 0; i < nth; i++)
		if (pthread_create(&th[i], NULL, hash_worker, &job) == 0)
			started++;
	if (started == 0)
		hash_worker(&job);
	size_t reported = 0;
	pthread_mutex_lock(&job.lock);
	while (job.done < n) {
		if (opts->hash_progress != NULL && job.done >= reported + 50) {
			reported = job.done;
			pthread_mutex_unlock(&job.lock);
			opts->hash_progress(opts->ctx, reported, n);
			pthread_mutex_lock(&job.lock);
			continue;
		}
		pthread_cond_wait(&job.cond, &job.lock);
	}
	pthread_mutex_unlock(&job.lock);
	for (size_t i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	if (opts->hash_progress != NULL && n > 0)
		opts->hash_progress(opts->ctx, n, n);
	pthread_cond_destroy(&job.cond);
	pthread_mutex_destroy(&job.lock);
	free(scheme);
}

static void
row_free(struct import_row *row)
{
	free(row->address);
	if (row->password != NULL)
		explicit_bzero(row->password, strlen(row->password));
	free(row->password);
	free(row->hash);
	free(row->friendly);
	free(row->error);
}

static void
parse_row(struct import_row *row, const struct csv_record *rec,
	  const struct users_import_opts *opts)
{
	const char *err;
	char *f;

	row->line = rec->line;
	row->quota_kb = opts->quota_kb;
	f = str_trim(rec->fields[0]);
	row->address = address_normalize(f, &err);
	if (row->address == NULL) {
		/* mailbox@postoffice, the login form the export writes for a
		 * mailbox without addresses (import_row checks the post
		 * office exists) */
		const char *at = strrchr(f, '@'), *e2;
		if (at != NULL && (size_t)(at - f) < sizeof(row->local) &&
		    strlen(at + 1) < sizeof(row->domain)) {
			memcpy(row->local, f, (size_t)(at - f));
			row->local[at - f] = '\0';
			snprintf(row->domain, sizeof(row->domain), "%s", at + 1);
			str_lower(row->local);
			str_lower(row->domain);
			if (name_check(row->local, &e2) == 0 &&
			    name_check(row->domain, &e2) == 0) {
				row->address = xasprintf("%s@%s", row->local,
				    row->domain);
				goto password;
			}
		}
		row->error = xasprintf("'%s': %s", f, err);
		return;
	}
	if (address_split(row->address, row->local, sizeof(row->local),
	    row->domain, sizeof(row->domain), &err) < 0 ||
	    name_check(row->local, &err) < 0) {
		row->error = xasprintf("'%s': the mailbox name %s", row->address, err);
		return;
	}
password:
	f = rec->n > 1 ? rec->fields[1] : "";
	if (*f != '\0' && adm_password_field_is_hash(f)) {
		row->hash = passwd_import_hash(f, &err);
	} else if (*f != '\0') {
		row->password = xstrdup(f);
	} else if (opts->password != NULL) {
		row->password = xstrdup(opts->password);
	} else {
		row->password = random_password(12);
		row->generated = true;
	}
	f = rec->n > 2 ? str_trim(rec->fields[2]) : "";
	if (*f != '\0') {
		if (strcasecmp(f, "unlimited") == 0)
			row->quota_kb = 0;
		else if ((row->quota_kb = parse_size_kb(f, 'M')) < 0) {
			row->error = xasprintf("quota '%s' is not a size in MB", f);
			return;
		}
	}
	f = rec->n > 3 ? str_trim(rec->fields[3]) : "";
	if (strlen(f) > 1000) {
		row->error = xstrdup("friendly name is longer than 1000 bytes");
		return;
	}
	row->friendly = xstrdup(f);
	if (rec->n > 4)
		row->error = xasprintf("%zu fields; expected at most 4: "
		    "emailaddress,password,quota,friendly name", rec->n);
}

static int
import_row(struct db *db, struct import_row *row,
	   const struct users_import_opts *opts, const char **error_r)
{
	struct dir_domain d;
	int r;

	r = dir_domain_get(db, row->domain, &d, error_r);
	if (r < 0)
		return ADM_FAIL;
	/* name@postoffice (no such domain): the login form, which the export
	 * writes for a mailbox without any address; it comes back as a
	 * mailbox without addresses (into opts->postoffice, which may have
	 * another name than the exported one), not as a new domain named
	 * like a post office */
	int64_t is_po = 0;
	if (r == 0 && db_query_int(db, &is_po, 0, error_r, "SELECT count(*) "
	    "FROM postoffice WHERE name = ? COLLATE NOCASE", "t", row->domain) < 0)
		return ADM_FAIL;
	bool bare = r == 0 && is_po > 0;
	if (r == 0 && !bare) {
		if (!opts->create_domains) {
			db_errorf(db, error_r, "domain '%s' is not a domain of this "
			    "server: check the spelling, add it (postern domain add "
			    "%s --postoffice %s) or import with --create-domains",
			    row->domain, row->domain, opts->postoffice);
			return ADM_NOTFOUND;
		}
		if ((r = adm_domain_add(db, row->domain, opts->postoffice, error_r)) < 0)
			return r;
	} else if (!bare && strcasecmp(d.postoffice, opts->postoffice) != 0) {
		db_errorf(db, error_r, "domain '%s' belongs to post office '%s'",
		    row->domain, d.postoffice);
		return ADM_INVALID;
	}
	/* the stores are made after the commit: a row or an import that is
	 * rolled back leaves no directory behind. The automatic addresses
	 * come after the row's own, so the export names that one first. */
	struct adm_mailbox_spec spec = {
		.postoffice = opts->postoffice, .name = row->local,
		.password_hash = row->hash, .quota_kb = row->quota_kb,
		.friendly_name = row->friendly, .no_store = true,
		.no_auto_address = true,
	};
	if ((r = adm_mailbox_add(db, &spec, error_r)) < 0)
		return r;
	if (bare)
		return ADM_OK;
	char *ident = xasprintf("%s@%s", row->local, opts->postoffice);
	r = adm_address_add(db, row->address, ident, error_r);
	free(ident);
	if (r < 0)
		return r;
	/* then name@domain for the post office's other domains, as
	 * `mailbox add` does (manual 5.3) */
	if (settings_current(db)->mailbox_auto_address != 0 &&
	    db_exec(db, error_r,
	    "INSERT OR IGNORE INTO address (address, postoffice_id, domain_id, "
	    "kind, target_id) SELECT lower(?) || '@' || d.name, d.postoffice_id, "
	    "d.id, 'mailbox', m.id FROM domain d JOIN mailbox m ON m.postoffice_id "
	    "= d.postoffice_id WHERE m.postoffice_id = (SELECT id FROM postoffice "
	    "WHERE name = ?) AND m.name = ? ORDER BY d.id", "ttt", row->local,
	    opts->postoffice, row->local) < 0)
		return ADM_FAIL;
	return ADM_OK;
}

int
users_import(struct db *db, const char *data, size_t len,
	     const struct users_import_opts *opts,
	     struct users_import_result *res, const char **error_r)
{
	struct csv_record rec = { 0 };
	struct import_row *rows = NULL;
	size_t n = 0, pos = 0, line = 1;
	const char *err;
	int64_t po_id;
	int r, status = ADM_OK;

	memset(res, 0, sizeof(*res));
	/* a UTF-8 byte order mark, as spreadsheets write it */
	if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0) {
		data += 3;
		len -= 3;
	}
	if ((r = adm_object_id(db, ADM_POSTOFFICE, opts->postoffice, &po_id,
	    error_r)) < 0)
		return r;
	if (opts->quota_kb < -1) {
		db_errorf(db, error_r, "invalid default quota");
		return ADM_INVALID;
	}
	/* parse every record first, so errors are known before any change */
	for (;;) {
		r = csv_next(data, len, &pos, &line, opts->sep, &rec, &err);
		if (r == 0)
			break;
		rows = xreallocarray(rows, n + 1, sizeof(*rows));
		memset(&rows[n], 0, sizeof(rows[n]));
		if (r < 0) {
			rows[n].line = rec.line;
			rows[n].error = xstrdup(err);
			n++;
			if (pos >= len)
				break;
			continue;
		}
		/* an optional header line */
		if (n == 0 && res->total == 0 &&
		    strcasecmp(str_trim(rec.fields[0]), "emailaddress") == 0) {
			res->total = 0;
			continue;
		}
		parse_row(&rows[n], &rec, opts);
		n++;
	}
	csv_record_free(&rec);
	res->total = n;
	/* the password policy before the (slow) hashing: the rows are hashed
	 * here, so adm_mailbox_add sees only hashes */
	for (size_t i = 0; i < n; i++) {
		const char *perr;
		if (rows[i].error == NULL && rows[i].hash == NULL &&
		    rows[i].password != NULL && !rows[i].generated &&
		    adm_password_check(db, opts->postoffice, rows[i].local,
		    rows[i].password, &perr) != ADM_OK)
			rows[i].error = xasprintf("'%s': %s", rows[i].address, perr);
	}
	hash_rows(db, rows, n, opts);

	bool outer;
	if ((r = adm_tx_begin(db, &outer, error_r)) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		struct import_row *row = &rows[i];
		const char *msg = row->error;
		if (msg == NULL) {
			if (db_exec(db, error_r, "SAVEPOINT row", "") < 0) {
				r = ADM_FAIL;
				break;
			}
			r = import_row(db, row, opts, &msg);
			if (r == ADM_FAIL || r == ADM_BUSY) {
				*error_r = msg;
				break;
			}
			const char *rerr;
			if (r != ADM_OK)
				(void)db_exec(db, &rerr, "ROLLBACK TO row", "");
			(void)db_exec(db, &rerr, "RELEASE row", "");
		}
		r = ADM_OK;
		if (msg != NULL) {
			res->failed++;
			status = ADM_INVALID;
			if (opts->row_error)
				opts->row_error(opts->ctx, row->line, msg);
		} else {
			res->imported++;
			row->imported = true;
		}
		if (opts->progress && (i % 50 == 49 || i + 1 == n))
			opts->progress(opts->ctx, i + 1, n);
	}
	if (r < 0) {
		const char *e2;
		adm_tx_end(db, outer, false, &e2);
		res->imported = 0;
		goto out;
	}
	if (opts->atomic && status != ADM_OK) {
		adm_tx_end(db, outer, false, &err);
		res->imported = 0;
		r = status;
		goto out;
	}
	if ((r = adm_tx_end(db, outer, true, error_r)) < 0) {
		res->imported = 0;
		goto out;
	}
	/* only now are the mailboxes real: make their stores and hand out
	 * the generated passwords */
	for (size_t i = 0; i < n; i++) {
		if (!rows[i].imported)
			continue;
		const char *msg;
		if (adm_mailbox_make_store(db, opts->postoffice, rows[i].local,
		    &msg) < 0) {
			status = ADM_INVALID;
			if (opts->row_error)
				opts->row_error(opts->ctx, rows[i].line, msg);
		} else if (opts->created) {
			opts->created(opts->ctx, opts->postoffice, rows[i].local);
		}
		if (rows[i].generated && opts->generated)
			opts->generated(opts->ctx, rows[i].address, rows[i].password);
	}
	r = status;
out:
	for (size_t i = 0; i < n; i++)
		row_free(&rows[i]);
	free(rows);
	return r;
}

static void
put_quota(struct buf *out, int64_t kb, char sep)
{
	char tmp[32];

	if (kb == 0)
		snprintf(tmp, sizeof(tmp), "0");
	else if (kb % 1024 == 0)
		snprintf(tmp, sizeof(tmp), "%lld", (long long)(kb / 1024));
	else
		snprintf(tmp, sizeof(tmp), "%lldK", (long long)kb);
	csv_put_field(out, tmp, sep);
}

int
users_export(struct db *db, const char *postoffice, const char *fields,
	     char sep, bool header, struct buf *out, const char **error_r)
{
	char *list = xstrdup(fields ? fields : USERS_EXPORT_DEFAULT);
	char *names[32], *save = NULL;
	size_t nf = 0;
	int64_t po_id;
	int r;

	for (char *t = strtok_r(list, ",", &save); t != NULL;
	     t = strtok_r(NULL, ",", &save)) {
		t = str_trim(t);
		char pattern[sizeof(USERS_EXPORT_FIELDS) + 2];
		char needle[80];
		snprintf(pattern, sizeof(pattern), ",%s,", USERS_EXPORT_FIELDS);
		snprintf(needle, sizeof(needle), ",%s,", t);
		if (strlen(t) > 60 || strstr(pattern, needle) == NULL || nf == 32) {
			db_errorf(db, error_r, "unknown export field '%s' (fields: %s)",
			    t, USERS_EXPORT_FIELDS);
			free(list);
			return ADM_INVALID;
		}
		names[nf++] = t;
	}
	if (nf == 0) {
		free(list);
		db_errorf(db, error_r, "no export fields given");
		return ADM_INVALID;
	}
	if ((r = adm_object_id(db, ADM_POSTOFFICE, postoffice, &po_id, error_r)) < 0) {
		free(list);
		return r;
	}
	if (header) {
		for (size_t i = 0; i < nf; i++) {
			if (i)
				buf_putc(out, sep);
			buf_puts(out, names[i]);
		}
		buf_puts(out, "\r\n");
	}
	struct db_stmt *st = db_query(db, error_r,
	    "SELECT m.id, m.name, p.name, m.password_hash, m.quota_kb, "
	    "m.friendly_name, m.type, m.disabled, m.prevent_auth, m.reply_to, "
	    "m.created, (SELECT group_concat(address, ' ') FROM (SELECT a.address "
	    "AS address, (substr(a.address, 1, instr(a.address, '@') - 1) <> "
	    "lower(m.name)) AS k FROM address a WHERE a.kind = 'mailbox' AND "
	    "a.target_id = m.id ORDER BY k, a.rowid) AS s) "
	    "FROM mailbox m JOIN postoffice p ON p.id = m.postoffice_id "
	    "WHERE m.postoffice_id = ? AND m.name <> 'postmaster' ORDER BY m.name",
	    "i", po_id);
	if (st == NULL) {
		free(list);
		return ADM_FAIL;
	}
	while ((r = db_step(st, NULL)) == DB_ROW) {
#define COL(i) ((const char *)(db_col_text(st, i) ? \
	db_col_text(st, i) : ""))
		for (size_t i = 0; i < nf; i++) {
			const char *f = names[i];
			if (i)
				buf_putc(out, sep);
			if (strcmp(f, "emailaddress") == 0) {
				char first[ADDRESS_MAX_LEN + 1];
				const char *all = COL(11);
				size_t l = strcspn(all, " ");
				if (l > 0 && l < sizeof(first)) {
					memcpy(first, all, l);
					first[l] = '\0';
					csv_put_field(out, first, sep);
				} else {
					char *a = xasprintf("%s@%s", COL(1), COL(2));
					csv_put_field(out, a, sep);
					free(a);
				}
			} else if (strcmp(f, "password") == 0) {
				const char *h = COL(3);
				char *v = *h ? xasprintf("{CRYPT}%s", h) : xstrdup("");
				csv_put_field(out, v, sep);
				free(v);
			} else if (strcmp(f, "quota") == 0) {
				put_quota(out, db_col_int(st, 4), sep);
			} else if (strcmp(f, "friendly_name") == 0) {
				csv_put_field(out, COL(5), sep);
			} else if (strcmp(f, "mailbox") == 0) {
				csv_put_field(out, COL(1), sep);
			} else if (strcmp(f, "postoffice") == 0) {
				csv_put_field(out, COL(2), sep);
			} else if (strcmp(f, "addresses") == 0) {
				csv_put_field(out, COL(11), sep);
			} else if (strcmp(f, "type") == 0) {
				csv_put_field(out, COL(6), sep);
			} else if (strcmp(f, "disabled") == 0) {
				buf_puts(out, db_col_int(st, 7) ? "yes" : "no");
			} else if (strcmp(f, "prevent_auth") == 0) {
				buf_puts(out, db_col_int(st, 8) ? "yes" : "no");
			} else if (strcmp(f, "reply_to") == 0) {
				csv_put_field(out, COL(9), sep);
			} else if (strcmp(f, "created") == 0) {
				time_t t = (time_t)db_col_int(st, 10);
				struct tm tm;
				char ts[32];
				gmtime_r(&t, &tm);
				strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
				buf_puts(out, ts);
			}
#undef COL
		}
		buf_puts(out, "\r\n");
	}
	db_stmt_free(&st);
	free(list);
	if (r != DB_DONE) {
		db_fail(db, error_r, "export");
		return ADM_FAIL;
	}
	return ADM_OK;
}
