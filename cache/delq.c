#include "cache/delq.h"
#include "backends/backend.h"
#include "cache/dirlist.h"
#include "cache/meta.h"
#include "common/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NBUCKETS 4096
#define BATCH 1000       /* keys per remove(): S3 DeleteObjects takes 1,000 */
#define LINGER_MS 5      /* how long a batch waits for more keys: a lone delete is barely delayed */
#define LOG_KEYS 10      /* failed keys named one by one, per batch */

enum dstate { D_QUEUED, D_RUNNING, D_FAILED, D_DONE };
/* done keys remembered at most while listings run (then the oldest go: a listing is never that long) */
#define DONE_CAP 100000

/* One key: in the hash from delq_add until its delete succeeds (or its failure is reported). */
struct dent {
	struct dent *hnext;   /* hash chain */
	struct dent *qnext;   /* the queue, oldest first (D_QUEUED); the done list (D_DONE) */
	enum dstate state;
	unsigned long batch;  /* D_DONE: the number of the batch that deleted it */
	char *path;           /* the mount path, for the metadata cache */
	char key[];
};

struct delq {
	pthread_mutex_t lock;
	pthread_cond_t work;     /* to the thread: keys queued, someone waits, or stop */
	pthread_cond_t done;     /* from the thread: a batch finished */
	struct backend *be;
	struct meta *meta;
	struct dirlist *lists;
	unsigned cap;
	unsigned queued;         /* on the queue */
	unsigned pending;        /* queued or running; read without the lock by delq_has */
	unsigned nfailed;        /* D_FAILED entries kept for delq_wait */
	unsigned waiters;
	int stop;
	struct dent *head, **tail;
	/* Deleted keys a listing still in flight may bring back (it was answered before the delete):
	 * kept while a listing runs that began before their batch finished. */
	unsigned long batches;   /* batches finished */
	unsigned listings;       /* listings in flight (delq_list_begin .. end) */
	unsigned ndone;
	struct dent *done_head, **done_tail;
	pthread_t thread;
	struct dent *b[NBUCKETS];
	/* the batch being deleted (the thread's own) */
	struct dent *ents[BATCH];
	const char *keys[BATCH];
	int rcs[BATCH];          /* each key's outcome */
};

static unsigned delq_hash(const char *s)
{
	uint32_t h = 2166136261u;   /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h % NBUCKETS;
}

static struct dent *delq_find(struct delq *q, const char *key)
{
	struct dent *e = q->b[delq_hash(key)];

	while (e && strcmp(e->key, key))
		e = e->hnext;
	return e;
}

static void delq_forget(struct delq *q, struct dent *e)
{
	struct dent **pp = &q->b[delq_hash(e->key)];

	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	free(e->path);
	free(e);
}

/* key is path itself or below "path/" (n = strlen(path); "" holds everything) */
static int delq_under(const char *key, const char *path, size_t n)
{
	return !strncmp(key, path, n) && (!n || key[n] == 0 || key[n] == '/');
}

static void delq_set_pending(struct delq *q, unsigned v)
{
	__atomic_store_n(&q->pending, v, __ATOMIC_RELEASE);
}

/* The first key of a batch waits LINGER_MS for company, unless the batch is full, someone waits
 * for it, or the queue stops. While `rm -r` unlinks, later keys gather during the requests. */
static void delq_linger(struct delq *q)
{
	struct timespec until;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_nsec += LINGER_MS * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	while (q->queued < BATCH && !q->waiters && !q->stop)
		if (pthread_cond_timedwait(&q->work, &q->lock, &until) == ETIMEDOUT)
			break;
}

static size_t delq_take_batch(struct delq *q)
{
	size_t n = 0;

	while (q->head && n < BATCH) {
		struct dent *e = q->head;

		q->head = e->qnext;
		e->state = D_RUNNING;
		q->ents[n] = e;
		q->keys[n++] = e->key;
	}
	if (!q->head)
		q->tail = &q->head;
	q->queued -= (unsigned)n;
	return n;
}

/* Forget the done keys no listing in flight can still bring back (all of them when none runs). */
static void delq_purge_done(struct delq *q)
{
	while (q->done_head && (!q->listings || q->ndone > DONE_CAP)) {
		struct dent *e = q->done_head;

		q->done_head = e->qnext;
		q->ndone--;
		delq_forget(q, e);
	}
	if (!q->done_head)
		q->done_tail = &q->done_head;
}

/* remove() failed for the batch without saying which keys went: the store is asked about each (one
 * failing key must not fail the others). A key still there, or that cannot be asked about, failed. */
static void delq_sort_out(struct delq *q, size_t n, int rc)
{
	for (size_t i = 0; i < n; i++) {
		struct obj_info oi;
		int st = rc ? q->be->ops->stat(q->be, q->keys[i], &oi) : -ENOENT;

		q->rcs[i] = st == -ENOENT ? 0 : rc;
	}
}

/* A failed key is reported and shows again as the store has it (its cache entry dropped);
 * delq_wait tells the failure to a waiter. */
static void delq_finish_batch(struct delq *q, size_t n)
{
	size_t nfail = 0;

	for (size_t i = 0; i < n; i++) {
		struct dent *e = q->ents[i];
		int rc = q->rcs[i];

		if (!rc) {
			if (!q->listings) {
				delq_forget(q, e);
				continue;
			}
			e->state = D_DONE;
			e->batch = q->batches + 1;
			e->qnext = NULL;
			*q->done_tail = e;
			q->done_tail = &e->qnext;
			q->ndone++;
			continue;
		}
		if (nfail++ < LOG_KEYS)
			log_error("delete of %s failed: %s; the object may still be in the store", e->key,
				  strerror(-rc));
		if (q->meta)
			meta_drop(q->meta, e->path);
		if (q->nfailed >= q->cap) {
			delq_forget(q, e);   /* bounded: a waiter still finds the object in its listing */
			continue;
		}
		e->state = D_FAILED;
		q->nfailed++;
	}
	if (nfail > LOG_KEYS)
		log_error("... and %zu more deletes of the same batch failed", nfail - LOG_KEYS);
	q->batches++;
	delq_purge_done(q);
	delq_set_pending(q, q->pending - (unsigned)n);
}

static void *delq_worker(void *arg)
{
	struct delq *q = arg;

	pthread_mutex_lock(&q->lock);
	for (;;) {
		size_t n;
		int rc;

		while (!q->head && !q->stop)
			pthread_cond_wait(&q->work, &q->lock);
		if (!q->head)
			break;   /* stopped, and everything queued is done */
		delq_linger(q);
		n = delq_take_batch(q);
		pthread_mutex_unlock(&q->lock);
		log_debug("deleting %zu object%s (%s first)", n, n == 1 ? "" : "s", q->keys[0]);
		rc = q->be->ops->remove(q->be, q->keys, n);
		delq_sort_out(q, n, rc == -ENOENT ? 0 : rc);
		/* before the keys leave the queue (which hides them from listings), and outside its lock:
		 * readdir holds the listing lock while it asks the queue */
		dirlist_changed(q->lists);
		pthread_mutex_lock(&q->lock);
		delq_finish_batch(q, n);
		pthread_cond_broadcast(&q->done);
	}
	pthread_mutex_unlock(&q->lock);
	return NULL;
}

int delq_new(struct delq **out, struct backend *be, struct meta *meta, struct dirlist *lists, unsigned cap)
{
	struct delq *q = calloc(1, sizeof(*q));
	pthread_condattr_t ca;
	int rc;

	*out = NULL;
	if (!q)
		return -ENOMEM;
	q->be = be;
	q->meta = meta;
	q->lists = lists;
	q->cap = cap ? cap : 1;
	q->tail = &q->head;
	q->done_tail = &q->done_head;
	pthread_mutex_init(&q->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&q->work, &ca);
	pthread_condattr_destroy(&ca);
	pthread_cond_init(&q->done, NULL);
	rc = pthread_create(&q->thread, NULL, delq_worker, q);
	if (rc) {
		pthread_cond_destroy(&q->work);
		pthread_cond_destroy(&q->done);
		pthread_mutex_destroy(&q->lock);
		free(q);
		return -rc;
	}
	*out = q;
	return 0;
}

void delq_free(struct delq *q)
{
	if (!q)
		return;
	pthread_mutex_lock(&q->lock);
	if (q->pending)
		log_info("finishing %u queued delete(s) before exit", q->pending);
	q->stop = 1;
	pthread_cond_broadcast(&q->work);
	pthread_cond_broadcast(&q->done);
	pthread_mutex_unlock(&q->lock);
	pthread_join(q->thread, NULL);
	for (unsigned i = 0; i < NBUCKETS; i++)
		while (q->b[i])
			delq_forget(q, q->b[i]);
	pthread_cond_destroy(&q->work);
	pthread_cond_destroy(&q->done);
	pthread_mutex_destroy(&q->lock);
	free(q);
}

int delq_add(struct delq *q, const char *key, const char *path)
{
	struct dent *e;
	int rc = 0;

	pthread_mutex_lock(&q->lock);
	while (q->pending >= q->cap && !q->stop)
		pthread_cond_wait(&q->done, &q->lock);   /* bounded memory: unlink waits */
	if (q->stop) {
		rc = -ESHUTDOWN;
		goto out;
	}
	e = delq_find(q, key);
	if (e && e->state == D_DONE)
		e = NULL;   /* deleted before (and made again since): a new entry; the old one is purged */
	if (e && e->state != D_FAILED)
		goto out;   /* already on its way */
	if (e) {
		q->nfailed--;   /* deleted again after a failure: a new try */
	} else {
		size_t kl = strlen(key) + 1;

		e = malloc(sizeof(*e) + kl);
		if (!e || !(e->path = strdup(path))) {
			free(e);
			rc = -ENOMEM;
			goto out;
		}
		memcpy(e->key, key, kl);
		e->hnext = q->b[delq_hash(key)];
		q->b[delq_hash(key)] = e;
	}
	e->state = D_QUEUED;
	e->qnext = NULL;
	*q->tail = e;
	q->tail = &e->qnext;
	delq_set_pending(q, q->pending + 1);
	if (++q->queued == 1 || q->queued == BATCH)
		pthread_cond_signal(&q->work);
out:
	pthread_mutex_unlock(&q->lock);
	return rc;
}

int delq_has(struct delq *q, const char *key)
{
	struct dent *e;
	int has;

	if (!q || !__atomic_load_n(&q->pending, __ATOMIC_ACQUIRE))
		return 0;   /* the common case: nothing queued, no lock taken */
	pthread_mutex_lock(&q->lock);
	e = delq_find(q, key);
	has = e && (e->state == D_QUEUED || e->state == D_RUNNING);
	pthread_mutex_unlock(&q->lock);
	return has;
}

unsigned long delq_list_begin(struct delq *q)
{
	unsigned long since;

	if (!q)
		return 0;
	pthread_mutex_lock(&q->lock);
	q->listings++;
	since = q->batches;
	pthread_mutex_unlock(&q->lock);
	return since;
}

void delq_list_end(struct delq *q)
{
	if (!q)
		return;
	pthread_mutex_lock(&q->lock);
	q->listings--;
	delq_purge_done(q);
	pthread_mutex_unlock(&q->lock);
}

int delq_hides(struct delq *q, const char *key, unsigned long since)
{
	int hide = 0;

	if (!q)
		return 0;
	pthread_mutex_lock(&q->lock);
	/* every entry of a key: a done one and a new queued one may both be there */
	for (struct dent *e = q->b[delq_hash(key)]; e && !hide; e = e->hnext)
		if (!strcmp(e->key, key))
			hide = e->state == D_QUEUED || e->state == D_RUNNING ||
			       (e->state == D_DONE && e->batch > since);
	pthread_mutex_unlock(&q->lock);
	return hide;
}

/* 1 while a delete of path or below it is queued or running; then 0, or -EIO after forgetting the
 * failures among them (reported once). */
static int delq_busy_under(struct delq *q, const char *path, size_t n)
{
	int rc = 0;

	if (!q->pending && !q->nfailed)
		return 0;
	for (unsigned i = 0; i < NBUCKETS; i++)
		for (struct dent *e = q->b[i]; e; e = e->hnext)
			if ((e->state == D_QUEUED || e->state == D_RUNNING) && delq_under(e->key, path, n))
				return 1;
	for (unsigned i = 0; i < NBUCKETS && q->nfailed; i++) {
		for (struct dent *e = q->b[i], *next; e; e = next) {
			next = e->hnext;
			if (e->state == D_FAILED && delq_under(e->key, path, n)) {
				delq_forget(q, e);
				q->nfailed--;
				rc = -EIO;
			}
		}
	}
	return rc;
}

int delq_wait(struct delq *q, const char *key)
{
	size_t n = strlen(key);
	int rc;

	if (!q)
		return 0;
	pthread_mutex_lock(&q->lock);
	q->waiters++;
	pthread_cond_signal(&q->work);   /* nobody lingers while someone waits */
	while ((rc = delq_busy_under(q, key, n)) > 0)
		pthread_cond_wait(&q->done, &q->lock);
	q->waiters--;
	pthread_mutex_unlock(&q->lock);
	return rc;
}
