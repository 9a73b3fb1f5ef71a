/* Cache space accounting: the bytes staged on local disk for all open files never exceed the limit.
 * A writer that needs room waits until uploads free some (back-pressure); it never gets ENOSPC because
 * the cache is busy. */
#ifndef SNAPFS_SPACE_H
#define SNAPFS_SPACE_H

#include <pthread.h>
#include <stdint.h>

struct space {
	pthread_mutex_t lock;
	pthread_cond_t freed;
	uint64_t limit;
	uint64_t used;
	uint64_t peak;
	unsigned waiting;     /* writers blocked right now (for status) */
	uint64_t releases;    /* bumped by every release: tells a stalled writer whether room came and went */
	uint64_t kicks;       /* bumped by space_kick: a waiter's terms may have changed */
};

void space_init(struct space *s, uint64_t limit);
void space_destroy(struct space *s);
/* Take n bytes, waiting while the cache is full. -ENOSPC at once if n alone exceeds the limit
 * (a whole-file staging larger than the cache can never fit). */
int space_reserve(struct space *s, uint64_t n);
/* Like space_reserve but gives up after ms milliseconds with -ETIMEDOUT, and leaves keep bytes free
 * (for the requests that let the others make progress); -EAGAIN when space_kick was called meanwhile,
 * so the caller can work out keep again. */
int space_reserve_wait(struct space *s, uint64_t n, unsigned ms, uint64_t keep);
/* Wake the waiters of space_reserve_wait with -EAGAIN (a file's write frontier moved). */
void space_kick(struct space *s);
/* Take n bytes even over the limit (a writer that would otherwise deadlock). */
void space_force(struct space *s, uint64_t n);
/* The release count now: read it before a wait, hand it to space_force_stalled after. */
uint64_t space_releases(struct space *s);
/* space_force, but only if nothing was released since space_releases() returned gen: a release that
 * another waiter took first is progress, not a stall. 0, or -EAGAIN to wait again. */
int space_force_stalled(struct space *s, uint64_t n, uint64_t gen);
/* Take n bytes only if free now: 0 or -EAGAIN. */
int space_try_reserve(struct space *s, uint64_t n);
void space_release(struct space *s, uint64_t n);
uint64_t space_used(struct space *s);

/* The figures the status shows, read together under the lock (writers change them under it). */
struct space_stats {
	uint64_t used;
	uint64_t peak;
	unsigned waiting;
};
void space_stats(struct space *s, struct space_stats *out);

#endif
