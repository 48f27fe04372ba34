#ifndef POSTERN_TRAIN_STORE_H
#define POSTERN_TRAIN_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "store.h"

/* spam_learn_copy - messages uids of folder from were copied or moved to
 * folder to: into Junk they are spam, out of it (not to Trash) ham; each
 * is queued for rspamd's controller (verdict.h spam_learn_request) when
 * spam.rspamd_controller is set. Hard links only: never waits on rspamd. */
void spam_learn_copy(struct db *db, struct store_folder *from, const char *to,
		     const uint32_t *uids, size_t n);

#endif
