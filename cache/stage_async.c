/* The background side of --async-close: one thread uploads closed files in the order they closed. A
 * file whose upload fails stays queued, safe in the cache dir, and is tried again with backoff while
 * the others go on; none is ever dropped. */
#include "cache/journal.h"
#include "cache/stage_async.h"
#include "common/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define AQ_BACKOFF_MAX_S 60

struct aq_item {
	struct wfile *wf;
	time_t next_try;
	unsigned tries;
	int recovered;
	struct aq_item *next;
};

struct asyncq {
	pthread_t tid;
	pthread_mutex_t lock;
	pthread_cond_t more;
	struct aq_item *head;
	struct aq_item *left;   /* not stored when the queue stopped */
	unsigned waiting;       /* queued, and the one uploading */
	int stopping;
};

static void aq_append(struct asyncq *q, struct aq_item *it)
{
	struct aq_item **pp = &q->head;

	while (*pp)
		pp = &(*pp)->next;
	it->next = NULL;
	*pp = it;
}

/* The next file due (the earliest, first closed first), waiting for it; NULL once stopping and
 * empty. When stopping, every file is due at once: one last attempt each. Caller holds q->lock. */
static struct aq_item *aq_next(struct asyncq *q)
{
	for (;;) {
		struct aq_item **best = NULL, *it;
		struct timespec until = { 0 };

		for (struct aq_item **pp = &q->head; *pp; pp = &(*pp)->next)
			if (!best || (*pp)->next_try < (*best)->next_try)
				best = pp;
		if (!best) {
			if (q->stopping)
				return NULL;
			pthread_cond_wait(&q->more, &q->lock);
			continue;
		}
		if (q->stopping || (*best)->next_try <= time(NULL)) {
			it = *best;
			*best = it->next;
			return it;
		}
		until.tv_sec = (*best)->next_try;
		pthread_cond_timedwait(&q->more, &q->lock, &until);
	}
}

static void *aq_worker(void *arg)
{
	struct stage_ctx *c = arg;
	struct asyncq *q = c->aq;

	pthread_mutex_lock(&q->lock);
	for (;;) {
		struct aq_item *it = aq_next(q);
		unsigned delay;
		int rc;

		if (!it)
			break;
		pthread_mutex_unlock(&q->lock);
		rc = wf_async_upload(it->wf);
		if (!rc) {
			if (it->recovered)
				log_info("uploaded %s, closed before a restart", wf_path(it->wf));
			wf_put_queued(it->wf);   /* the queue's reference */
			free(it);
			pthread_mutex_lock(&q->lock);
			q->waiting--;
			continue;
		}
		pthread_mutex_lock(&q->lock);
		it->tries++;
		if (q->stopping) {
			it->next = q->left;
			q->left = it;
			continue;
		}
		delay = it->tries > 6 ? AQ_BACKOFF_MAX_S : 1u << (it->tries - 1);
		if (delay > AQ_BACKOFF_MAX_S)
			delay = AQ_BACKOFF_MAX_S;
		log_error("%s: upload after close failed (%s); the file is safe in the cache dir, next try in %u s",
			  wf_path(it->wf), strerror(-rc), delay);
		it->next_try = time(NULL) + delay;
		aq_append(q, it);
	}
	pthread_mutex_unlock(&q->lock);
	return NULL;
}

void stage_async_push(struct stage_ctx *c, struct wfile *wf, int recovered)
{
	struct asyncq *q = c->aq;
	struct aq_item *it = q ? calloc(1, sizeof(*it)) : NULL;

	if (!it) {
		/* no background thread (a unit test) or no memory: upload now, once */
		if (wf_async_upload(wf))
			log_error("%s: NOT uploaded; it stays in the cache dir for the next mount", wf_path(wf));
		else
			wf_put_queued(wf);
		return;
	}
	it->wf = wf;
	it->recovered = recovered;
	it->next_try = time(NULL);
	pthread_mutex_lock(&q->lock);
	aq_append(q, it);
	q->waiting++;
	pthread_cond_signal(&q->more);
	pthread_mutex_unlock(&q->lock);
}

int stage_async_start(struct stage_ctx *c)
{
	struct asyncq *q = calloc(1, sizeof(*q));
	struct journal_closed rec;
	int fd, rc;

	if (!q)
		return -ENOMEM;
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->more, NULL);
	c->aq = q;
	rc = pthread_create(&q->tid, NULL, aq_worker, c);
	if (rc) {
		c->aq = NULL;
		pthread_cond_destroy(&q->more);
		pthread_mutex_destroy(&q->lock);
		free(q);
		return -rc;
	}
	while (c->journal && journal_closed_next(c->journal, &rec, &fd) == 0) {
		struct wfile *wf = wf_adopt(c, rec.key, rec.path, fd, rec.size, rec.name);

		if (wf) {
			log_info("%s: closed before a restart (%llu bytes in the cache dir): uploading it", rec.path,
				 (unsigned long long)rec.size);
			stage_async_push(c, wf, 1);
		} else {
			close(fd);
			log_error("%s: out of memory: it stays in the cache dir for the next mount", rec.path);
		}
		free(rec.key);
		free(rec.path);
	}
	return 0;
}

void stage_async_stop(struct stage_ctx *c)
{
	struct asyncq *q = c->aq;

	if (!q)
		return;
	pthread_mutex_lock(&q->lock);
	q->stopping = 1;
	if (q->waiting)
		log_info("unmount: %u closed file(s) not uploaded yet: one last attempt each", q->waiting);
	pthread_cond_broadcast(&q->more);
	pthread_mutex_unlock(&q->lock);
	pthread_join(q->tid, NULL);
	while (q->left) {
		struct aq_item *it = q->left;

		q->left = it->next;
		log_error("%s: NOT uploaded yet: it stays in the cache dir, and the next mount with this --cache-dir "
			  "uploads it", wf_path(it->wf));
		free(it);
	}
	c->aq = NULL;
	pthread_cond_destroy(&q->more);
	pthread_mutex_destroy(&q->lock);
	free(q);
}

unsigned stage_async_waiting(struct stage_ctx *c)
{
	struct asyncq *q = c->aq;
	unsigned n;

	if (!q)
		return 0;
	pthread_mutex_lock(&q->lock);
	n = q->waiting;
	pthread_mutex_unlock(&q->lock);
	return n;
}
