#include "cache/rfile.h"
#include "backends/backend.h"
#include "cache/pool.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define MIN_WINDOW (128 * 1024)

enum slot_state { SLOT_EMPTY, SLOT_LOADING, SLOT_READY };

struct slot {
	enum slot_state state;
	uint64_t start;
	size_t len;        /* bytes valid once READY */
	size_t want;
	char *data;        /* max_window bytes, allocated on first use */
	unsigned long used;
};

struct rfile {
	struct backend *be;
	struct pool *prefetch;
	char *key;
	uint64_t size;
	size_t max_window, window;
	uint64_t next_seq;     /* where a sequential reader goes next */
	unsigned long clock;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned jobs;         /* background fetches running */
	struct slot s[2];
};

int rfile_open(struct backend *be, struct pool *prefetch, const char *key, uint64_t size, size_t max_window,
	       struct rfile **out)
{
	struct rfile *rf = calloc(1, sizeof(*rf));

	if (!rf)
		return -ENOMEM;
	rf->key = strdup(key);
	if (!rf->key) {
		free(rf);
		return -ENOMEM;
	}
	rf->be = be;
	rf->prefetch = prefetch;
	rf->size = size;
	rf->max_window = max_window < MIN_WINDOW ? MIN_WINDOW : max_window;
	rf->window = MIN_WINDOW * 8 < rf->max_window ? MIN_WINDOW * 8 : rf->max_window;
	pthread_mutex_init(&rf->lock, NULL);
	pthread_cond_init(&rf->cond, NULL);
	*out = rf;
	return 0;
}

void rfile_close(struct rfile *rf)
{
	pthread_mutex_lock(&rf->lock);
	while (rf->jobs)
		pthread_cond_wait(&rf->cond, &rf->lock);
	pthread_mutex_unlock(&rf->lock);
	for (int i = 0; i < 2; i++)
		free(rf->s[i].data);
	pthread_cond_destroy(&rf->cond);
	pthread_mutex_destroy(&rf->lock);
	free(rf->key);
	free(rf);
}

/* Fill slot s (marked LOADING by the caller, lock dropped). Returns 0 or -errno. */
static int fetch(struct rfile *rf, struct slot *s)
{
	size_t got = 0;
	int rc = 0;

	while (got < s->want) {
		ssize_t n = rf->be->ops->read(rf->be, rf->key, s->start + got, s->want - got, s->data + got);

		if (n < 0) {
			rc = (int)n;
			break;
		}
		if (n == 0)
			break;   /* the object is shorter than at open: serve what is there */
		got += (size_t)n;
	}
	pthread_mutex_lock(&rf->lock);
	s->len = got;
	s->state = rc ? SLOT_EMPTY : SLOT_READY;
	pthread_cond_broadcast(&rf->cond);
	pthread_mutex_unlock(&rf->lock);
	return rc;
}

struct pf_job {
	struct rfile *rf;
	struct slot *s;
};

static void prefetch_job(void *arg)
{
	struct pf_job *j = arg;
	struct rfile *rf = j->rf;

	fetch(rf, j->s);
	pthread_mutex_lock(&rf->lock);
	rf->jobs--;
	pthread_cond_broadcast(&rf->cond);
	pthread_mutex_unlock(&rf->lock);
	free(j);
}

static struct slot *find(struct rfile *rf, uint64_t off)
{
	for (int i = 0; i < 2; i++) {
		struct slot *s = &rf->s[i];

		if (s->state == SLOT_LOADING && off >= s->start && off < s->start + s->want)
			return s;
		if (s->state == SLOT_READY && off >= s->start && off < s->start + s->len)
			return s;
	}
	return NULL;
}

/* The slot to reuse: never a loading one; the least recently used otherwise. NULL if both load. */
static struct slot *victim(struct rfile *rf, const struct slot *keep)
{
	struct slot *best = NULL;

	for (int i = 0; i < 2; i++) {
		struct slot *s = &rf->s[i];

		if (s == keep || s->state == SLOT_LOADING)
			continue;
		if (!best || s->used < best->used)
			best = s;
	}
	return best;
}

/* Prepare s for [start, start+want): caller holds the lock. */
static int arm(struct rfile *rf, struct slot *s, uint64_t start, size_t want)
{
	if (!s->data) {
		s->data = malloc(rf->max_window);
		if (!s->data)
			return -ENOMEM;
	}
	s->state = SLOT_LOADING;
	s->start = start;
	s->want = want;
	s->len = 0;
	s->used = ++rf->clock;
	return 0;
}

static size_t clamp(const struct rfile *rf, uint64_t start, size_t want)
{
	if (start >= rf->size)
		return 0;
	return rf->size - start < want ? (size_t)(rf->size - start) : want;
}

/* After serving a sequential read that ended in slot cur, start fetching the window after it. */
static void maybe_prefetch(struct rfile *rf, struct slot *cur)
{
	uint64_t next = cur->start + cur->want;
	size_t want = clamp(rf, next, rf->window);
	struct slot *s;
	struct pf_job *j;

	if (!rf->prefetch || !want || find(rf, next))
		return;
	s = victim(rf, cur);
	if (!s || arm(rf, s, next, want))
		return;
	j = malloc(sizeof(*j));
	if (!j) {
		s->state = SLOT_EMPTY;
		return;
	}
	j->rf = rf;
	j->s = s;
	rf->jobs++;
	if (pool_submit(rf->prefetch, prefetch_job, j)) {
		rf->jobs--;
		s->state = SLOT_EMPTY;
		free(j);
	}
}

ssize_t rfile_read(struct rfile *rf, void *buf, size_t len, uint64_t off)
{
	size_t done = 0;
	int rc = 0, seq;

	pthread_mutex_lock(&rf->lock);
	if (off >= rf->size)
		goto out;
	if (len > rf->size - off)
		len = (size_t)(rf->size - off);
	/* near where the last read ended counts as sequential: the kernel sends read-ahead requests
	 * concurrently and slightly out of order */
	seq = off == rf->next_seq || (off > rf->next_seq && off - rf->next_seq <= 2 * rf->window) ||
	      (off < rf->next_seq && rf->next_seq - off <= 2 * rf->window);
	if (seq) {
		if (rf->window < rf->max_window)
			rf->window = rf->window * 2 > rf->max_window ? rf->max_window : rf->window * 2;
	} else {
		rf->window = MIN_WINDOW;
	}
	while (done < len) {
		uint64_t pos = off + done;
		struct slot *s = find(rf, pos);

		if (!s) {
			size_t want = seq ? rf->window : (len - done > MIN_WINDOW ? len - done : MIN_WINDOW);

			if (want > rf->max_window)
				want = rf->max_window;
			want = clamp(rf, pos, want);
			s = victim(rf, NULL);
			if (!s) {
				pthread_cond_wait(&rf->cond, &rf->lock);
				continue;
			}
			rc = arm(rf, s, pos, want);
			if (rc)
				break;
			pthread_mutex_unlock(&rf->lock);
			rc = fetch(rf, s);
			pthread_mutex_lock(&rf->lock);
			if (rc)
				break;
			continue;
		}
		if (s->state == SLOT_LOADING) {
			pthread_cond_wait(&rf->cond, &rf->lock);
			continue;
		}
		size_t n = s->start + s->len - pos;

		if (n > len - done)
			n = len - done;
		memcpy((char *)buf + done, s->data + (pos - s->start), n);
		s->used = ++rf->clock;
		done += n;
		if (s->len < s->want && pos + n == s->start + s->len)
			break;   /* short object */
		if (seq && done == len)
			maybe_prefetch(rf, s);
	}
	rf->next_seq = off + done;
out:
	pthread_mutex_unlock(&rf->lock);
	return done ? (ssize_t)done : rc;
}
