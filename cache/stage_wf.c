/* The bottom of the staging layer: a staged file's life as an object (a new one, its reference
 * dropped, freed), its names, the cache space and spool blocks it gives back, and its mark as failed.
 * Everything else in cache/stage*.c builds on these. */
#include "cache/space.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cache/stage_priv.h"

const char *wf_key(const struct wfile *wf)
{
	return wf->key;
}

const char *wf_store_key(const struct wfile *wf)
{
	return wf->ukey ? wf->ukey : wf->key;
}

const char *wf_path(const struct wfile *wf)
{
	return wf->path;
}

/* caller holds wf->lock */
void wf_release_locked(struct wfile *wf, uint64_t n)
{
	if (n > wf->reserved)
		n = wf->reserved;
	wf->reserved -= n;
	space_release(wf->ctx->space, n);
}

void wf_spool_drop(struct wfile *wf, uint64_t off, uint64_t len)
{
	/* give the blocks back to the cache file system at once */
	if (len && fallocate(wf->spool, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len))
		log_debug("%s: punch hole: %s", wf->path, strerror(errno));
}

struct wfile *wf_new(struct stage_ctx *c, const char *key, const char *path, int spool)
{
	struct wfile *wf = calloc(1, sizeof(*wf));

	if (!wf)
		return NULL;
	wf->key = strdup(key);
	wf->path = strdup(path);
	if (!wf->key || !wf->path) {
		free(wf->key);
		free(wf->path);
		free(wf);
		return NULL;
	}
	wf->ctx = c;
	wf->spool = spool;
	pthread_mutex_init(&wf->wlock, NULL);
	pthread_mutex_init(&wf->lock, NULL);
	pthread_cond_init(&wf->cond, NULL);
	wf->refs = 1;
	wf->next_part = 1;
	wf->mtime = wf->started = time(NULL);
	return wf;
}

/* Free a wfile that holds no upload and no cache space. */
void wf_discard(struct wfile *wf)
{
	digest_free(&wf->dg);
	free(wf->tail);
	free(wf->ukey);
	for (unsigned i = 0; i < wf->nretired; i++)
		free(wf->retired[i]);
	close(wf->spool);
	pthread_cond_destroy(&wf->cond);
	pthread_mutex_destroy(&wf->lock);
	pthread_mutex_destroy(&wf->wlock);
	free(wf->pending);
	free(wf->key);
	free(wf->path);
	free(wf);
}

/* Take wf out of the stage's list and free it. */
void wf_free(struct wfile *wf)
{
	struct stage_ctx *c = wf->ctx;

	pthread_mutex_lock(&c->lock);
	for (struct wfile **pp = &c->files; *pp; pp = &(*pp)->next) {
		if (*pp == wf) {
			*pp = wf->next;
			break;
		}
	}
	pthread_cond_broadcast(&c->gone);
	pthread_mutex_unlock(&c->lock);
	wf_discard(wf);
}

/* Drop a reference of a closed file queued for its background upload (the queue's, once it let go):
 * the last one frees it. What wf_close does for a queued file, without its open-file side. */
void wf_put_queued(struct wfile *wf)
{
	int last;

	pthread_mutex_lock(&wf->ctx->lock);
	pthread_mutex_lock(&wf->lock);
	last = --wf->refs == 0;
	pthread_mutex_unlock(&wf->lock);
	pthread_mutex_unlock(&wf->ctx->lock);
	if (last)
		wf_free(wf);
}

/* Mark the file failed for good (doomed: not even an --async-close retry publishes it), naming why once. */
void wf_fail(struct wfile *wf, int err, const char *why)
{
	pthread_mutex_lock(&wf->lock);
	if (!wf->err)
		wf->err = err ? err : -EIO;
	wf->doomed = 1;
	if (why && !wf->reported) {
		wf->reported = 1;
		__atomic_add_fetch(&wf->ctx->failed, 1, __ATOMIC_RELAXED);
		outcome_record(&wf->ctx->outcomes, wf->path, wf->size, why);
		log_error("%s: NOT stored: %s; the object was left as it was before", wf->path, why);
	}
	pthread_cond_broadcast(&wf->cond);
	pthread_mutex_unlock(&wf->lock);
}

