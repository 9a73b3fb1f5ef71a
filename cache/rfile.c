#include "cache/rfile.h"
#include "backends/backend.h"
#include "cache/pool.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define MIN_WINDOW (128 * 1024)      /* a random read fetches at least this */
#define START_WINDOW (1024 * 1024)   /* a sequential run's first window; each next one doubles */
/* The kernel's read-ahead requests (1 MiB, two or so in flight) arrive slightly out of order: a read
 * this close to where the last one ended, or to the windows its run has armed, is still sequential. */
#define SEQ_SLACK (4u << 20)
/* A window that ended this little before the reader is kept a while: a late request may want it. */
#define KEEP_BEHIND (2u << 20)

enum slot_state { SLOT_EMPTY, SLOT_LOADING, SLOT_READY };

struct slot {
	struct rfile *rf;  /* the owner, for the prefetch job */
	enum slot_state state;
	uint64_t start;
	size_t len;        /* bytes valid once READY */
	size_t served;     /* bytes handed out of it (a sequential reader takes each once) */
	size_t want;
	char *data;        /* max_window bytes, allocated on first use */
	unsigned long used;
	unsigned epoch;    /* of the version it was armed for */
};

struct rfile {
	struct backend *be;
	struct pool *prefetch;
	char *key;
	uint64_t size;         /* at open; lowered if the object turns out shorter (no read_ver) */
	/* One version (read_ver): pinned by the first fetch, which runs alone; every later fetch asks
	 * for that version only. A size other than the one at open, or another version later, makes
	 * the handle stale: the kernel holds the size from open, and bytes past a shorter version's end
	 * would read as zeros. A reader that has had no byte yet starts again on the new version. */
	struct obj_ver ver;
	int pinning;           /* the pinning fetch is running: others wait */
	int stale;             /* -ESTALE for good */
	int size_hint;         /* rfile_size_from_object: the size at open is a guess */
	unsigned epoch;        /* bumped by a restart: slots of the old version are dropped */
	uint64_t served;       /* bytes handed to the reader so far */
	size_t max_window, window;
	uint64_t next_seq;     /* where the last read ended */
	uint64_t run_start;    /* where the current sequential run began */
	uint64_t run_end;      /* the end of the furthest window armed since (0: none yet) */
	unsigned long clock;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned jobs;         /* background fetches queued or running */
	struct slot s[RFILE_SLOTS];
};

static size_t rfile_min_sz(size_t a, size_t b)
{
	return a < b ? a : b;
}

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
	rf->window = rfile_min_sz(START_WINDOW, rf->max_window);
	for (int i = 0; i < RFILE_SLOTS; i++)
		rf->s[i].rf = rf;
	pthread_mutex_init(&rf->lock, NULL);
	pthread_cond_init(&rf->cond, NULL);
	*out = rf;
	return 0;
}

void rfile_size_from_object(struct rfile *rf)
{
	rf->size_hint = 1;
	rf->size = UINT64_MAX;
}

void rfile_close(struct rfile *rf)
{
	pthread_mutex_lock(&rf->lock);
	while (rf->jobs)
		pthread_cond_wait(&rf->cond, &rf->lock);
	pthread_mutex_unlock(&rf->lock);
	for (int i = 0; i < RFILE_SLOTS; i++)
		free(rf->s[i].data);
	pthread_cond_destroy(&rf->cond);
	pthread_mutex_destroy(&rf->lock);
	free(rf->key);
	free(rf);
}

/* Fill slot s (marked LOADING by the caller, lock dropped). job: a prefetch job ends with it.
 * Returns 0 or -errno. */
static int rfile_fetch(struct rfile *rf, struct slot *s, int job)
{
	const struct backend_ops *ops = rf->be->ops;
	struct obj_ver v;
	size_t got = 0;
	int rc = 0, eof = 0, pin;

	pthread_mutex_lock(&rf->lock);
	v = rf->ver;
	pin = ops->read_ver && !v.known;
	pthread_mutex_unlock(&rf->lock);
	/* the bytes land in the slot straight from the transfer: no staging copy */
	while (got < s->want) {
		ssize_t n = ops->read_ver ? ops->read_ver(rf->be, rf->key, &v, s->start + got, s->want - got,
							  s->data + got)
					  : ops->read(rf->be, rf->key, s->start + got, s->want - got, s->data + got);

		if (n < 0) {
			rc = (int)n;
			break;
		}
		if (n == 0) {
			eof = 1;
			break;
		}
		got += (size_t)n;
	}
	pthread_mutex_lock(&rf->lock);
	if (pin) {
		rf->pinning = 0;
		if (v.known) {
			rf->ver = v;
			if (rf->size_hint && v.size != UINT64_MAX)
				rf->size = v.size;
			else if (v.size != UINT64_MAX && v.size != rf->size)
				rc = -ESTALE;   /* not the size the reader was told at open */
		}
	}
	if (s->epoch != rf->epoch && !rc)
		rc = -EAGAIN;   /* armed for a version the handle left: its bytes are not wanted */
	if (rc == -ESTALE && s->epoch == rf->epoch)
		rf->stale = 1;
	s->len = got;
	s->state = rc ? SLOT_EMPTY : SLOT_READY;
	/* the object is shorter than at open: serve what is there, ask for nothing past it (a store
	 * without versions); a version whose size was checked cannot end early */
	if (eof && s->start + got < rf->size && !rc) {
		if (ops->read_ver && rf->ver.size != UINT64_MAX && !rf->size_hint)
			s->state = SLOT_EMPTY, rc = -EIO;
		else
			rf->size = s->start + got;
	}
	if (job)
		rf->jobs--;
	pthread_cond_broadcast(&rf->cond);
	pthread_mutex_unlock(&rf->lock);
	return rc;
}

static void rfile_prefetch_job(void *arg)
{
	struct slot *s = arg;

	rfile_fetch(s->rf, s, 1);
}

static struct slot *rfile_find(struct rfile *rf, uint64_t off)
{
	for (int i = 0; i < RFILE_SLOTS; i++) {
		struct slot *s = &rf->s[i];

		if (s->epoch != rf->epoch)
			continue;   /* of a version the handle left */
		if (s->state == SLOT_LOADING && off >= s->start && off < s->start + s->want)
			return s;
		if (s->state == SLOT_READY && off >= s->start && off < s->start + s->len)
			return s;
	}
	return NULL;
}

/* A slot a reader at off may still want: ahead of it within reach, and just behind it or, in the
 * current run, not yet read through (requests of a larger kernel read-ahead come back for it). */
static int rfile_live(const struct rfile *rf, const struct slot *s, uint64_t off)
{
	return s->state == SLOT_READY && s->start < off + (uint64_t)RFILE_SLOTS * rf->max_window &&
	       (s->start + s->len + KEEP_BEHIND > off || (s->start >= rf->run_start && s->served < s->len));
}

/* The slot to reuse for a reader at off: never a loading one; one it no longer wants, least recently
 * used first; for read-ahead (demand 0) nothing else, for the reader itself (demand 1) any. */
static struct slot *rfile_victim(struct rfile *rf, uint64_t off, int demand)
{
	struct slot *best = NULL;
	int best_live = 1;

	for (int i = 0; i < RFILE_SLOTS; i++) {
		struct slot *s = &rf->s[i];
		int l;

		if (s->state == SLOT_LOADING)
			continue;
		l = rfile_live(rf, s, off);
		if (l && !demand)
			continue;
		if (!best || (best_live && !l) || (l == best_live && s->used < best->used)) {
			best = s;
			best_live = l;
		}
	}
	return best;
}

/* Prepare s for [start, start+want): caller holds the lock. */
static int rfile_arm(struct rfile *rf, struct slot *s, uint64_t start, size_t want)
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
	s->served = 0;
	s->used = ++rf->clock;
	s->epoch = rf->epoch;
	if (start + want > rf->run_end)
		rf->run_end = start + want;
	return 0;
}

/* want bytes at start, cut at the end of the object and where a window held already begins. */
static size_t rfile_clamp(const struct rfile *rf, uint64_t start, size_t want)
{
	if (start >= rf->size)
		return 0;
	if (rf->size - start < want)
		want = (size_t)(rf->size - start);
	for (int i = 0; i < RFILE_SLOTS; i++) {
		const struct slot *s = &rf->s[i];

		if (s->state != SLOT_EMPTY && s->start > start && s->start - start < want)
			want = (size_t)(s->start - start);
	}
	return want;
}

static void rfile_grow(struct rfile *rf)
{
	rf->window = rfile_min_sz(rf->window * 2, rf->max_window);
}

/* A sequential read at off has asked for everything up to end: start fetching the windows after it,
 * in parallel, as far ahead as twice what the run has read so far (so a short read of the head of a
 * file costs little) and as free slots allow (which bounds memory). A read that overtook others
 * (off past where the run had read to) leaves a gap behind it: that is fetched first. */
static void rfile_ahead(struct rfile *rf, uint64_t off, uint64_t end)
{
	uint64_t run = end > rf->run_start ? end - rf->run_start : 0;
	uint64_t limit = end + (run * 2 > START_WINDOW ? run * 2 : START_WINDOW);
	uint64_t at = off > rf->next_seq && rf->next_seq > rf->run_start ? rf->next_seq : end;

	if (!rf->prefetch || (rf->be->ops->read_ver && !rf->ver.known))
		return;   /* the version is not pinned yet: one fetch first */
	for (;;) {
		struct slot *s;
		size_t want;

		while ((s = rfile_find(rf, at)))
			at = s->start + (s->state == SLOT_LOADING ? s->want : s->len);
		if (at >= limit)
			break;
		want = rfile_clamp(rf, at, rf->window);
		if (!want)
			break;
		s = rfile_victim(rf, off, 0);
		if (!s || rfile_arm(rf, s, at, want))
			break;
		rf->jobs++;
		if (pool_submit(rf->prefetch, rfile_prefetch_job, s)) {
			rf->jobs--;
			s->state = SLOT_EMPTY;
			break;
		}
		at += want;
		rfile_grow(rf);
	}
}

/* The version changed before the reader had a byte: drop what was fetched and pin again, once. */
static int rfile_restart(struct rfile *rf)
{
	if (rf->served || rf->epoch)
		return 0;
	rf->epoch++;
	rf->stale = 0;
	memset(&rf->ver, 0, sizeof(rf->ver));
	for (int i = 0; i < RFILE_SLOTS; i++)
		if (rf->s[i].state == SLOT_READY)
			rf->s[i].state = SLOT_EMPTY;
	return 1;
}

static int rfile_near(uint64_t a, uint64_t b)
{
	return (a > b ? a - b : b - a) <= SEQ_SLACK;
}

/* A larger kernel read-ahead (read_ahead_kb of a few MiB) has several requests in flight that land
 * anywhere in the windows ahead: one inside the current run is part of it, not a jump that would
 * restart the run with small windows and fetch its bytes again. */
static int rfile_in_run(const struct rfile *rf, uint64_t off)
{
	return rf->run_end && off >= rf->run_start && off < rf->run_end + SEQ_SLACK;
}

ssize_t rfile_read(struct rfile *rf, void *buf, size_t len, uint64_t off)
{
	size_t done = 0;
	int rc = 0, seq;

	pthread_mutex_lock(&rf->lock);
	if (rf->stale && !rfile_restart(rf)) {
		rc = -ESTALE;
		goto out;
	}
	if (off >= rf->size)
		goto out;
	if (len > rf->size - off)
		len = (size_t)(rf->size - off);
	seq = rfile_near(off, rf->next_seq) || rfile_in_run(rf, off);
	if (!seq) {
		rf->run_start = off;
		rf->run_end = 0;
		rf->window = rfile_min_sz(START_WINDOW, rf->max_window);
	}
	while (done < len) {
		uint64_t pos = off + done;
		struct slot *s;

		if (pos >= rf->size)
			break;   /* the object turned out shorter */
		if (rf->stale) {
			rc = -ESTALE;
			if (!done && rfile_restart(rf))
				continue;
			break;
		}
		s = rfile_find(rf, pos);
		if (!s && rf->pinning) {
			pthread_cond_wait(&rf->cond, &rf->lock);   /* the version is being pinned */
			continue;
		}
		if (!s) {
			/* sequential: a whole window; random: what was asked, a little at least */
			size_t want = seq ? rf->window : (len - done > MIN_WINDOW ? len - done : MIN_WINDOW);

			want = rfile_clamp(rf, pos, rfile_min_sz(want, rf->max_window));
			s = rfile_victim(rf, off, 1);
			if (!s) {
				pthread_cond_wait(&rf->cond, &rf->lock);
				continue;
			}
			rc = rfile_arm(rf, s, pos, want);
			if (rc)
				break;
			if (rf->be->ops->read_ver && !rf->ver.known)
				rf->pinning = 1;
			if (seq) {
				rfile_grow(rf);
				rfile_ahead(rf, off, off + len);
			}
			pthread_mutex_unlock(&rf->lock);
			rc = rfile_fetch(rf, s, 0);
			pthread_mutex_lock(&rf->lock);
			if (rc == -EAGAIN || (rc == -ESTALE && !done && rfile_restart(rf))) {
				rc = 0;
				continue;
			}
			if (rc)
				break;
			continue;
		}
		if (s->state == SLOT_LOADING) {
			pthread_cond_wait(&rf->cond, &rf->lock);
			continue;
		}
		size_t n = rfile_min_sz(s->start + s->len - pos, len - done);

		memcpy((char *)buf + done, s->data + (pos - s->start), n);
		s->served += n;
		s->used = ++rf->clock;
		done += n;
	}
	rf->served += done;
	if (seq && done)
		rfile_ahead(rf, off, off + len);
	if (!seq || off + done > rf->next_seq)
		rf->next_seq = off + done;
out:
	pthread_mutex_unlock(&rf->lock);
	return done ? (ssize_t)done : rc;
}
