#ifndef POSTERN_DIAG_H
#define POSTERN_DIAG_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "buf.h"
#include "db.h"

/* The diagnostic report (manual 4.4.1, `postern diag`): the manual's
 * classes of checks that apply on Linux, each a section of items
 * {check, status, value, advice}. The CLI prints it as text, HTML or
 * JSON; a web admin can show the same report.
 *
 * Every check looks at the real thing: files and modes under the data
 * root, the config store, run/status.json and the processes, the queue
 * directories, the SMTP listeners (a connection and a live open-relay
 * probe from loopback, never a DATA), and DNS through lib-dns with the
 * servers of dns.hosts. Network checks are bounded: only the configured
 * listener addresses (a wildcard is tried on loopback) and DNS servers,
 * a timeout per connection and query and a bound on all DNS work. */

enum diag_status {
	DIAG_OK = 0,
	DIAG_INFO,
	DIAG_WARNING,
	DIAG_ERROR,
};

struct diag_item {
	char *check;       /* what was checked */
	enum diag_status status;
	char *value;       /* what was found */
	char *advice;      /* what to do, or NULL */
};

struct diag_section {
	char *name;
	struct diag_item *items;
	size_t nitems;
};

struct diag_report {
	char *root;
	long long generated;    /* time(NULL) when made */
	struct diag_section **sections;   /* stable: checks keep pointers */
	size_t nsections;
};

struct diag_options {
	bool dns;               /* the DNS checks (default true) */
	bool network;           /* connections to the listeners (default true) */
	int dns_timeout_ms;     /* per query try; 0: 2000 */
	int dns_total_ms;       /* all DNS work; 0: 15000 */
	int connect_timeout_ms; /* per SMTP conversation step; 0: 5000 */
};

/* diag_options_default - every check, the default bounds. */
void diag_options_default(struct diag_options *o);

/* diag_run - run every check against the data root root with its open
 * database db; fills rep (free with diag_report_free). Never fails: what
 * cannot be checked is an item of its own. */
void diag_run(struct db *db, const char *root, const struct diag_options *o,
	      struct diag_report *rep);
void diag_report_free(struct diag_report *rep);

/* Building a report (the checks, and tests). */
struct diag_section *diag_section(struct diag_report *rep, const char *name);
void diag_add(struct diag_section *s, enum diag_status status,
	      const char *check, const char *advice, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

const char *diag_status_name(enum diag_status st);
/* diag_count - items of a status in the whole report. */
size_t diag_count(const struct diag_report *rep, enum diag_status st);

/* Rendering (diag-render.c). */
void diag_render_text(const struct diag_report *rep, struct buf *out);
/* diag_render_html - one self-contained page: inline style, no scripts,
 * no external resources, every value escaped. */
void diag_render_html(const struct diag_report *rep, struct buf *out);
json_t *diag_render_json(const struct diag_report *rep);

/* diag_services_status - run/status.json merged with each running
 * service's own run/<name>.json (newer: posternd rewrites status.json only
 * once a second); *running_r: whether posternd holds its pid file lock.
 * NULL when there is no readable status. Shared with `postern status`. */
json_t *diag_services_status(const char *root, bool *running_r);

#endif
