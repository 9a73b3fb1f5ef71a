/* The open-file side of --async-close: keeping a file whole in its spool, making it safe in the cache
 * dir at close, restarting its upload after a failure, and the background upload of a closed file
 * (driven by cache/stage_async.c). */
#include "cache/stage_priv.h"
#include "cache/journal.h"
#include "cache/space.h"
#include "cache/stage_async.h"
#include "common/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* --- asynchronous close ---------------------------------------------------------------------------- */

/* An async file's upload failed (a part, its start or its commit): every byte is still in the spool, so
 * the upload starts over later instead of failing the file. whole: no eager parts until close (the
 * store is having trouble; the writer should not wait on it). Caller holds wlock, not lock. */
void wf_async_restart(struct wfile *wf, int whole)
{
	struct upload *up;

	pthread_mutex_lock(&wf->lock);
	wf_settle_locked(wf);
	up = wf->up;
	wf->up = NULL;
	if (!wf->doomed)
		wf->err = 0;   /* a failed part is tried again; a failed writer never */
	wf->cut = 0;
	wf->npending = 0;
	wf->next_part = 1;
	wf->nsubmitted = wf->parts_done = 0;
	wf->uploaded = 0;
	if (whole && wf->mode == WF_STREAM) {
		wf->mode = WF_WHOLE;
		wf->paused = 1;
	}
	pthread_mutex_unlock(&wf->lock);
	if (up)
		wf->ctx->be->ops->upload_abort(up);
	wf_journal_done(wf);
}

/* The file turns into a normal synchronous one for the rest of its life: what is uploaded leaves the
 * cache, and close waits for the store and reports its errors. Caller holds wlock, not lock. */
void wf_async_off(struct wfile *wf, const char *why)
{
	uint64_t drop = 0;
	int err;

	pthread_mutex_lock(&wf->lock);
	wf_settle_locked(wf);
	err = wf->err;
	pthread_mutex_unlock(&wf->lock);
	if (err)
		wf_async_restart(wf, 0);   /* the spool is still whole: start clean rather than fail */
	pthread_mutex_lock(&wf->lock);
	if (!wf->async) {
		pthread_mutex_unlock(&wf->lock);
		return;
	}
	wf->async = 0;
	if (wf->paused) {
		wf->mode = WF_STREAM;
		wf->paused = 0;
	}
	if (!wf->base && wf->cut) {
		drop = wf->cut;   /* acknowledged: nothing is in flight after the settle */
		wf_spool_drop(wf, 0, drop);
		wf_release_locked(wf, drop);
	}
	pthread_mutex_unlock(&wf->lock);
	wf_closed_done(wf);
	log_debug("%s: %s: closed synchronously from now on (%llu uploaded bytes left the cache)", wf->path, why,
		  (unsigned long long)drop);
}

/* Make the data safe in the cache dir: the spool synced and named in the journal with a record of the
 * closed file. 0 (or already), or -errno. Caller holds wlock, not lock. */
int wf_async_persist(struct wfile *wf)
{
	char rec[64];
	uint64_t size;
	int rc;

	pthread_mutex_lock(&wf->lock);
	size = wf->size;
	rc = wf->rec[0] ? 1 : 0;
	pthread_mutex_unlock(&wf->lock);
	if (rc)
		return 0;
	if (!wf->ctx->journal)
		return -ENOTSUP;
	rc = journal_closed_add(wf->ctx->journal, wf->key, wf->path, size, wf->spool, rec);
	if (rc)
		return rc;
	pthread_mutex_lock(&wf->lock);
	memcpy(wf->rec, rec, sizeof(rec));
	pthread_mutex_unlock(&wf->lock);
	return 0;
}

/* Before a change to an async file: a failed upload starts over, and a closed record goes (the file
 * is being written again; the next close records it anew). Caller holds wlock, not lock. */
void wf_async_ready(struct wfile *wf)
{
	int async, err;

	pthread_mutex_lock(&wf->lock);
	async = wf->async;
	err = wf->err;
	pthread_mutex_unlock(&wf->lock);
	if (!async)
		return;
	if (err)
		wf_async_restart(wf, 1);
	wf_closed_done(wf);
}

/* Eager parts of an async file failed, or could not start: not the writer's problem, since the spool
 * keeps everything and the upload after close sends it. 1 if so. Caller holds wlock, not lock. */
int wf_async_failed(struct wfile *wf)
{
	int async;

	pthread_mutex_lock(&wf->lock);
	async = wf->async;
	pthread_mutex_unlock(&wf->lock);
	if (!async)
		return 0;
	log_warn("%s: uploading while writing failed: the whole file is uploaded after close", wf->path);
	wf_async_restart(wf, 1);
	return 1;
}

/* After a change: an async file that outgrew the limit turns synchronous. Caller holds wlock. */
void wf_async_check_size(struct wfile *wf)
{
	int over;

	pthread_mutex_lock(&wf->lock);
	over = wf->async && wf->size > wf->ctx->async_limit;
	pthread_mutex_unlock(&wf->lock);
	if (over)
		wf_async_off(wf, "larger than the asynchronous close limit");
}

/* --- the background side of an asynchronous close (called by cache/stage_async.c) ------------------ */

int wf_async_upload(struct wfile *wf)
{
	struct stage_ctx *c = wf->ctx;
	int rc = 0, unlinked, err;

	pthread_mutex_lock(&wf->wlock);
	pthread_mutex_lock(&wf->lock);
	unlinked = wf->unlinked;
	err = wf->err;
	wf->committing = !unlinked;
	pthread_mutex_unlock(&wf->lock);
	if (unlinked) {
		wf_reset(wf, 1);
		log_info("%s: deleted before its upload: dropped", wf->path);
		goto done;
	}
	if (err)
		wf_async_restart(wf, 0);   /* a part that failed while it was written: start over */
	rc = wf_publish(wf);
	if (rc) {
		wf_async_restart(wf, 0);
		pthread_mutex_lock(&wf->lock);
		wf->committing = 0;
		wf->failures++;
		pthread_cond_broadcast(&wf->cond);
		pthread_mutex_unlock(&wf->lock);
		pthread_mutex_unlock(&wf->wlock);
		return rc;
	}
	pthread_mutex_lock(&wf->lock);
	/* readers that hold it read the store from now on; the spool stays until the last one closes
	 * (a reader may be in the middle of a read from it) */
	wf->obj_exists = 1;
	wf->obj_size = wf->base = wf->cut = wf->seq_end = wf->size;
	wf->dirty = wf->written = 0;
	unlinked = wf->unlinked;
	wf_release_locked(wf, wf->reserved);
	pthread_mutex_unlock(&wf->lock);
	wf_journal_done(wf);
	wf_closed_done(wf);
	__atomic_add_fetch(&c->committed, 1, __ATOMIC_RELAXED);
	outcome_record(&c->outcomes, wf->path, wf->size, NULL);
	log_info("%s: stored, %llu bytes (closed before)", wf->path, (unsigned long long)wf->size);
	if (unlinked) {
		/* deleted while it uploaded: the delete must win */
		const char *key = wf->key;

		if (c->be->ops->remove(c->be, &key, 1))
			log_error("%s: deleted while it uploaded, and the delete of the stored object failed", wf->path);
	}
done:
	pthread_mutex_lock(&c->lock);
	pthread_mutex_lock(&wf->lock);
	wf->stored = 1;
	wf->committing = 0;
	pthread_cond_broadcast(&wf->cond);
	pthread_mutex_unlock(&wf->lock);
	pthread_cond_broadcast(&c->gone);   /* a writer of the same name waits for this */
	pthread_mutex_unlock(&c->lock);
	pthread_mutex_unlock(&wf->wlock);
	return 0;
}

struct wfile *wf_adopt(struct stage_ctx *c, const char *key, const char *path, int fd, uint64_t size,
		       const char *rec)
{
	struct wfile *wf = wf_new(c, key, path, fd);   /* its one reference: the background upload's */

	if (!wf)
		return NULL;
	wf->size = wf->seq_end = size;
	wf->dirty = 1;
	wf->async = wf->queued = 1;
	snprintf(wf->rec, sizeof(wf->rec), "%s", rec);
	/* it is on the disk already: counted, even over the limit, so new writers leave it room */
	space_force(c->space, size);
	wf->reserved = size;
	pthread_mutex_lock(&c->lock);
	wf->next = c->files;
	c->files = wf;
	pthread_mutex_unlock(&c->lock);
	return wf;
}
