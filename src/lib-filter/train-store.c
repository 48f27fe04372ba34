/* train-store - what IMAP moves into and out of Junk teaches rspamd: the
 * one call imapd makes (COPY/MOVE), queued for the MTA (train.c) */
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "log.h"
#include "settings.h"
#include "store.h"
#include "train-store.h"
#include "verdict.h"
#include "xalloc.h"

#define LEARN_MAX 100   /* messages of one command */

static bool
is_junk(const char *name)
{
	return strcasecmp(name, "Junk") == 0;
}

void
spam_learn_copy(struct db *db, struct store_folder *from, const char *to,
		const uint32_t *uids, size_t n)
{
	const char *src = store_folder_name(from), *err;
	bool spam = is_junk(to) && !is_junk(src);
	bool ham = is_junk(src) && !is_junk(to) && strcasecmp(to, "Trash") != 0;

	if (!spam && !ham)
		return;
	const char *ctl = settings_current(db)->spam_rspamd_controller;
	bool on = *ctl != '\0';
	if (!on)
		return;
	if (n > LEARN_MAX) {
		log_info("spam training: %zu messages moved; the first %d are "
		    "learned", n, LEARN_MAX);
		n = LEARN_MAX;
	}
	for (size_t i = 0; i < n; i++) {
		struct store_msg m;
		if (store_msg_get(from, uids[i], &m, &err) != 1)
			continue;
		char *path = store_msg_path(from, &m);
		if (spam_learn_request(db, path, spam, &err) < 0)
			log_warnx("spam training: %s", err);
		free(path);
		store_msg_clear(&m);
	}
}
