#include "cache/space.h"

#include <errno.h>
#include <time.h>

/* caller holds s->lock */
static void space_take_locked(struct space *s, uint64_t n)
{
	s->used += n;
	if (s->used > s->peak)
		s->peak = s->used;
}

void space_init(struct space *s, uint64_t limit)
{
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->freed, NULL);
	s->limit = limit;
	s->used = s->peak = 0;
	s->waiting = 0;
	s->releases = s->kicks = 0;
}

void space_destroy(struct space *s)
{
	pthread_cond_destroy(&s->freed);
	pthread_mutex_destroy(&s->lock);
}

int space_reserve(struct space *s, uint64_t n)
{
	if (n > s->limit)
		return -ENOSPC;
	pthread_mutex_lock(&s->lock);
	s->waiting++;
	while (s->used + n > s->limit)
		pthread_cond_wait(&s->freed, &s->lock);
	s->waiting--;
	space_take_locked(s, n);
	pthread_mutex_unlock(&s->lock);
	return 0;
}

int space_try_reserve(struct space *s, uint64_t n)
{
	int rc = -EAGAIN;

	pthread_mutex_lock(&s->lock);
	if (s->used + n <= s->limit) {
		space_take_locked(s, n);
		rc = 0;
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

void space_release(struct space *s, uint64_t n)
{
	pthread_mutex_lock(&s->lock);
	s->used = n > s->used ? 0 : s->used - n;
	s->releases++;
	pthread_cond_broadcast(&s->freed);
	pthread_mutex_unlock(&s->lock);
}

/* One counter of s, read under its lock. */
static uint64_t space_read(struct space *s, const uint64_t *counter)
{
	uint64_t v;

	pthread_mutex_lock(&s->lock);
	v = *counter;
	pthread_mutex_unlock(&s->lock);
	return v;
}

uint64_t space_used(struct space *s)
{
	return space_read(s, &s->used);
}

void space_stats(struct space *s, struct space_stats *out)
{
	pthread_mutex_lock(&s->lock);
	out->used = s->used;
	out->peak = s->peak;
	out->waiting = s->waiting;
	pthread_mutex_unlock(&s->lock);
}

int space_reserve_wait(struct space *s, uint64_t n, unsigned ms, uint64_t keep)
{
	struct timespec until;
	uint64_t limit = keep < s->limit ? s->limit - keep : 0, kicks;
	int rc = 0;

	if (n > s->limit)
		return -ENOSPC;
	if (n > limit)
		limit = n;   /* a lone request larger than the headroom still fits an empty cache */
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&s->lock);
	kicks = s->kicks;
	s->waiting++;
	while (s->used + n > limit && !rc) {
		rc = pthread_cond_timedwait(&s->freed, &s->lock, &until) == ETIMEDOUT ? -ETIMEDOUT : 0;
		if (s->kicks != kicks)
			rc = -EAGAIN;
	}
	if (s->used + n <= limit) {
		rc = 0;
		space_take_locked(s, n);
	}
	s->waiting--;
	pthread_mutex_unlock(&s->lock);
	return rc;
}

void space_force(struct space *s, uint64_t n)
{
	pthread_mutex_lock(&s->lock);
	space_take_locked(s, n);
	pthread_mutex_unlock(&s->lock);
}

uint64_t space_releases(struct space *s)
{
	return space_read(s, &s->releases);
}

int space_force_stalled(struct space *s, uint64_t n, uint64_t gen)
{
	int rc = -EAGAIN;

	pthread_mutex_lock(&s->lock);
	if (s->releases == gen) {
		space_take_locked(s, n);
		rc = 0;
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

void space_kick(struct space *s)
{
	pthread_mutex_lock(&s->lock);
	if (s->waiting) {
		s->kicks++;
		pthread_cond_broadcast(&s->freed);
	}
	pthread_mutex_unlock(&s->lock);
}
