/* cmd-usage - postern postoffice usage NAME (manual 5.3.5): the post
 * office's usage as deliver sees it (the sum of its mailboxes'
 * maildirsize), its threshold and whether the notice went out */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cmd-usage.h"
#include "../deliver/postdeliver.h"
#include "xalloc.h"

/* cli_postoffice_usage - print the usage figure */
int
cli_postoffice_usage(struct cli *cli, const char *name)
{
	struct dir_postoffice po;
	const char *err = NULL;
	int64_t bytes = 0, count = 0, threshold = 0, notify = 0, notified = 0;
	int r = dir_postoffice_get(cli->db, name, &po, &err);

	if (r <= 0) {
		fprintf(stderr, "postern: %s\n", r < 0 ? err : "no such post office");
		return r < 0 ? 1 : EXIT_USAGE;
	}
	if (usage_postoffice_bytes(cli->db, po.id, &bytes, &count, &err) < 0 ||
	    db_query_int(cli->db, &threshold, 0, &err, "SELECT usage_threshold_kb "
	    "FROM postoffice WHERE id = ?", "i", po.id) < 0 ||
	    db_query_int(cli->db, &notify, 0, &err, "SELECT usage_notify "
	    "FROM postoffice WHERE id = ?", "i", po.id) < 0 ||
	    db_query_int(cli->db, &notified, 0, &err, "SELECT usage_notified "
	    "FROM postoffice WHERE id = ?", "i", po.id) < 0) {
		fprintf(stderr, "postern: %s\n", err ? err : "error");
		return 1;
	}
	if (cli->json) {
		json_t *o = json_object();
		json_object_set_new(o, "postoffice", json_string(po.name));
		json_object_set_new(o, "usage_bytes", json_integer(bytes));
		json_object_set_new(o, "usage_kb", json_integer((bytes + 1023) / 1024));
		json_object_set_new(o, "messages", json_integer(count));
		json_object_set_new(o, "usage_notify", json_boolean(notify != 0));
		json_object_set_new(o, "usage_threshold_kb", json_integer(threshold));
		json_object_set_new(o, "usage_notified", json_boolean(notified != 0));
		cli_json_print(o);
	} else {
		printf("post office %s: %lld KB in %lld messages", po.name,
		    (long long)((bytes + 1023) / 1024), (long long)count);
		if (notify && threshold > 0)
			printf("; threshold %lld KB (%lld%%)%s\n", (long long)threshold,
			    (long long)(bytes / 1024 * 100 / threshold),
			    notified ? "; notified" : "");
		else
			printf("; no usage notification\n");
	}
	return 0;
}
