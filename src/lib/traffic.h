#ifndef POSTERN_TRAFFIC_H
#define POSTERN_TRAFFIC_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

/* traffic - the message counters the services keep and the per-minute
 * samples of them that the web admin plots.
 *
 * Counters: <root>/run/traffic.counters, a small file every service
 * process maps shared and adds to with atomic adds (traffic_add): they
 * only grow, across restarts of the services. posternd samples them once
 * a minute, with the queue lengths, into <root>/run/traffic.ring: one
 * slot per minute of the last day (TRAFFIC_SLOTS), slot = minute modulo
 * TRAFFIC_SLOTS, so the file never grows (about 190 KB). A slot holds the
 * counters as they were at the start of its minute; the messages of a
 * minute are the next slot's counters minus its own. */

enum traffic_counter {
	TRAFFIC_IN,          /* messages smtpd accepted (250 after DATA) */
	TRAFFIC_OUT,         /* recipients a remote server accepted (smtp-out) */
	TRAFFIC_DELIVERED,   /* recipients delivered to a mailbox (deliver) */
	TRAFFIC_BOUNCED,     /* recipients failed for good (deliver, smtp-out) */
	TRAFFIC_NCOUNTERS = 8
};

/* the queues sampled: connector x inbound|outgoing (new/ and cur/), then
 * bad mail */
#define TRAFFIC_NQUEUES 12
#define TRAFFIC_SLOTS 1440

struct traffic_slot {
	int64_t minute;                       /* unix time / 60; 0: empty */
	uint64_t counters[TRAFFIC_NCOUNTERS];
	int64_t queues[TRAFFIC_NQUEUES];      /* -1: not sampled */
	int64_t seal;                         /* == minute when complete */
};

/* traffic_names - the counters' names ("in", "out", "delivered",
 * "bounced"), NULL after the last used one */
extern const char *const traffic_names[];

/* traffic_open - map root's counters file (made if missing) for
 * traffic_add in this process and the ones it forks: 0, or -1 (the
 * counters are then not kept; traffic_add does nothing) */
int traffic_open(const char *root);
/* traffic_add - add n to counter c (cheap: one atomic add) */
void traffic_add(enum traffic_counter c, uint64_t n);
/* traffic_read - the counters now: 0, or -1 when there is no file */
int traffic_read(const char *root, uint64_t counters[TRAFFIC_NCOUNTERS]);

/* traffic_sample - store the counters now and queues (the queue lengths,
 * TRAFFIC_NQUEUES of them) as the slot of minute `minute`: 0 or -1 */
int traffic_sample(const char *root, int64_t minute,
		   const int64_t queues[TRAFFIC_NQUEUES]);
/* traffic_ring_read - the complete slots of the ring into
 * slots[TRAFFIC_SLOTS] (others zeroed): 0, or -1 when there is none */
int traffic_ring_read(const char *root, struct traffic_slot *slots);

#endif
