#ifndef POSTERN_CRASHPOINT_H
#define POSTERN_CRASHPOINT_H

/* crashpoint - fault injection for the crash tests: a named stage of a
 * durable sequence (a queue batch staged, synced, published...). With
 * POSTERN_CRASHPOINT=<stage>:<arm file> in the environment, reaching
 * <stage> kills the service with SIGKILL, as `kill -9` of it would (its
 * process group: the main process and its workers; only the process
 * itself when it leads no group of its own, e.g. a CLI run), provided
 * the arm file can be removed first: one death per arming, so the
 * restarted service runs on until the test arms it again. Without the
 * variable it costs one getenv per process. */
void crashpoint(const char *stage);

#endif
