/* daily - the once-a-day work posternd starts: the aggregate reports of
 * the days before today (DMARC, RFC 9990; TLS-RPT, RFC 8460). */
#ifndef POSTERN_DAILY_H
#define POSTERN_DAILY_H

#include <stdbool.h>
#include <sys/types.h>
#include <time.h>

/* daily_init - root: the data root; cli: the postern command to run.
 * The first start of a data root (no run/daily.day yet) records
 * yesterday as done: reports begin with the first whole day posternd
 * ran. */
void daily_init(const char *root, const char *cli);

/* daily_tick - each second: when a day (at most the last 7) has ended
 * since the last run, reports.daily is on and that day has rows, start
 * one job process that runs 'postern dmarc report --date D --send' and
 * 'postern tls report --date D --send' (output in log/daily.log) and
 * records each day done in run/daily.day. A failed job is tried again
 * an hour later. */
void daily_tick(time_t now);

/* daily_reaped - the job process pid ended with status: true when pid
 * was the job */
bool daily_reaped(pid_t pid, int status, time_t now);

void daily_free(void);

#endif
