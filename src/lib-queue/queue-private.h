#ifndef POSTERN_QUEUE_PRIVATE_H
#define POSTERN_QUEUE_PRIVATE_H

/* queue-private - what the files of the queue share: queue.c (envelopes,
 * layout), queue-journal.c (the retire journal, group commit) and
 * queue-consume.c (consuming) */

#include <dirent.h>
#include <stdarg.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "crashpoint.h"
#include "fsutil.h"
#include "queue.h"
#include "strutil.h"
#include "xalloc.h"

/* the envelope's first line. Version 2 added "origin" (the post office a
 * locally generated message comes from); version 1 envelopes, queued
 * before it, are still read and have none (their mail goes out unsigned).
 * Version 3 added "relaynet" (smtpd's verdict on smtp.relay_networks);
 * older envelopes read as not recorded (-1). */
#define ENV_MAGIC "POSTERN-ENV 3"
#define ENV_MAGIC_V2 "POSTERN-ENV 2"
#define ENV_MAGIC_V1 "POSTERN-ENV 1"
#define ORPHAN_AGE (3600)
#define TMP_AGE (24 * 3600)

/* qfail - *error_r: the message (with errno's text when errno is set),
 * in a per-thread buffer; -1 */
int qfail(const char **error_r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

bool q_id_valid(const char *id);

/* q_put_value - " =escaped" for a value, " -" for none */
void q_put_value(struct buf *out, const char *v);

/* q_take_value - parse one " =value" or " -" token from *p; 0 ok, -1 bad */
int q_take_value(const char **p, const char *end, char **out);

char *q_item_file(const char *qpath, const char *sub, const char *id, const char *ext);

/* q_write_env_file - format env into path (O_EXCL unless replace) and fsync */
int q_write_env_file(const char *path, const struct queue_env *env, bool replace,
	       const char **error_r);

/* q_publish - rename tmp/<id>.msg and tmp/<id>.env into new/, then fsync. */
int q_publish(const char *qpath, const char *id, const char **error_r);

int q_copy_file(const char *from, const char *to);

/* q_journal_recover_all - every retire journal in qpath/cur */
void q_journal_recover_all(const char *qpath);

#endif
