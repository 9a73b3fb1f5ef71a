/* The parts of a streamed file: cutting the spool into parts in object order (feeding the whole-file
 * digest on the way), opening the upload, submitting parts within the per-file limit, and settling
 * what a finished part frees. The open/close path is in cache/stage.c, the data path in
 * cache/stage_data.c. */
#include "cache/digest.h"
#include "cache/journal.h"
#include "cache/pool.h"
#include "cache/stage.h"
#include "common/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cache/stage_priv.h"

static void wf_part_done(void *arg);

/* Submit pending parts while the per-file limit allows. Caller holds wf->lock. */
static void wf_pump(struct wfile *wf)
{
	while (wf->npending && wf->inflight < wf->ctx->uploads) {
		struct part_job *j = malloc(sizeof(*j));

		if (!j) {
			if (!wf->err)
				wf->err = -ENOMEM;
			wf->npending = 0;
			return;
		}
		j->wf = wf;
		j->p = wf->pending[0];
		memmove(wf->pending, wf->pending + 1, --wf->npending * sizeof(*wf->pending));
		wf->inflight++;
		if (pool_submit(wf->ctx->pool, wf_part_done, j)) {
			wf->inflight--;
			free(j);
			if (!wf->err)
				wf->err = -ENOMEM;
			return;
		}
	}
}

static void wf_part_done(void *arg)
{
	struct part_job *j = arg;
	struct wfile *wf = j->wf;
	const struct backend_ops *ops = wf->ctx->be->ops;
	int rc = 0;

	pthread_mutex_lock(&wf->lock);
	if (wf->err)
		rc = -ECANCELED;   /* an earlier part failed: do not spend bandwidth on this one */
	pthread_mutex_unlock(&wf->lock);
	if (!rc)
		rc = ops->upload_part(wf->up, &j->p);

	pthread_mutex_lock(&wf->lock);
	wf->inflight--;
	if (rc) {
		if (!wf->err) {
			wf->err = rc;
			log_error("%s: upload of part %u (%llu bytes at %llu) failed: %s", wf->path, j->p.n,
				  (unsigned long long)j->p.len, (unsigned long long)j->p.obj_off,
				  strerror(-rc));
		}
	} else {
		wf->uploaded += j->p.len;
		wf->parts_done++;
		if (!wf->async) {
			/* an async file keeps every byte: an upload that fails later starts over */
			wf_spool_drop(wf, (uint64_t)j->p.fd_off, j->p.len);
			wf_release_locked(wf, j->p.len);
		}
		__atomic_add_fetch(&wf->ctx->bytes_uploaded, j->p.len, __ATOMIC_RELAXED);
	}
	if (wf->err)
		wf->npending = 0;   /* nothing more will be sent */
	else
		wf_pump(wf);
	pthread_cond_broadcast(&wf->cond);
	pthread_mutex_unlock(&wf->lock);
	free(j);
}

/* Feed the digest up to end, from cut: parts leave in object order, so this sees every byte once,
 * before its part can be acknowledged and punched out of the spool. Caller holds wlock, not lock. */
void wf_digest_to(struct wfile *wf, uint64_t end)
{
	uint64_t base, cut;
	int multipart;

	pthread_mutex_lock(&wf->lock);
	base = wf->base;
	cut = wf->cut;
	multipart = wf->up || end > part_size_of(&wf->ctx->plan, 1);
	pthread_mutex_unlock(&wf->lock);
	if (base) {
		wf->dg.broken = 1;   /* an append: the head stays in the store, unseen */
		return;
	}
	if (cut == 0)
		digest_restart(&wf->dg);
	if (multipart && wf->ctx->be->ops->commit_no_digest) {
		/* it would be thrown away: each part's own digest stands in (a second hash of every byte
		 * costs the daemon about 0.7 s of CPU per GiB, on cores shared with the writer) */
		wf->dg.broken = 1;
		return;
	}
	digest_feed(&wf->dg, wf->spool, cut, end);
}

/* Queue [cut, cut+len) as the next part. Caller holds wf->lock and has an upload open. */
int wf_queue_part(struct wfile *wf, uint64_t len)
{
	struct part p = {
		.n = wf->next_part, .obj_off = wf->cut, .len = len, .fd = wf->spool, .fd_off = (off_t)wf->cut,
	};
	unsigned max = wf->ctx->plan.max_parts;

	if (max && wf->base)
		max = max > 1 + wf->base / (5ULL << 30) ? max - 1 - (unsigned)(wf->base / (5ULL << 30)) : 1;
	if (max && p.n > max) {
		log_error("%s: beyond the store's %u-part limit", wf->path, wf->ctx->plan.max_parts);
		return -EFBIG;
	}
	if (wf->npending == wf->cap_pending) {
		unsigned cap = wf->cap_pending ? wf->cap_pending * 2 : 8;
		struct part *np = realloc(wf->pending, cap * sizeof(*np));

		if (!np)
			return -ENOMEM;
		wf->pending = np;
		wf->cap_pending = cap;
	}
	wf->pending[wf->npending++] = p;
	wf->next_part++;
	wf->nsubmitted++;
	wf->cut += len;
	if (wf->seq_end < wf->cut)
		wf->seq_end = wf->cut;
	wf_pump(wf);
	return 0;
}

/* Open the store's chunked upload. Caller holds wlock, not lock. */
int wf_begin(struct wfile *wf)
{
	const struct backend_ops *ops = wf->ctx->be->ops;
	struct upload *up = NULL;
	int rc;

	rc = ops->upload_begin(wf->ctx->be, wf_store_key(wf), wf->base, &up);
	if (rc) {
		log_error("%s: cannot start the upload: %s", wf->path, strerror(-rc));
		return rc;
	}
	if (wf->ctx->journal && ops->upload_token) {
		char *token = ops->upload_token(up);

		if (token) {
			wf->jid = journal_add(wf->ctx->journal, wf->key, token);
			free(token);
		}
	}
	pthread_mutex_lock(&wf->lock);
	wf->up = up;
	wf->next_part = 1;
	wf->nsubmitted = wf->parts_done = 0;
	pthread_mutex_unlock(&wf->lock);
	return 0;
}

/* Cut every full part the contiguous data allows (stream mode). Caller holds wlock, not lock. */
int wf_cut_ready(struct wfile *wf)
{
	int rc = 0;

	for (;;) {
		uint64_t psz;

		pthread_mutex_lock(&wf->lock);
		psz = part_size_of(&wf->ctx->plan, wf->next_part ? wf->next_part : 1);
		if (wf->mode != WF_STREAM || wf->err || wf->seq_end < wf->cut + psz) {
			pthread_mutex_unlock(&wf->lock);
			return wf->err ? -EIO : 0;
		}
		if (!wf->up) {
			pthread_mutex_unlock(&wf->lock);
			rc = wf_begin(wf);
			if (rc)
				return rc;
			continue;
		}
		pthread_mutex_unlock(&wf->lock);
		wf_digest_to(wf, wf->cut + psz);
		pthread_mutex_lock(&wf->lock);
		rc = wf_queue_part(wf, psz);
		pthread_mutex_unlock(&wf->lock);
		if (rc)
			return rc;
	}
}

/* Wait until no part is in flight. Caller holds wlock and wf->lock. */
void wf_settle_locked(struct wfile *wf)
{
	while (wf->inflight || (wf->npending && !wf->err))
		pthread_cond_wait(&wf->cond, &wf->lock);
}

void wf_journal_done(struct wfile *wf)
{
	if (wf->jid)
		journal_done(wf->ctx->journal, wf->jid);
	wf->jid = 0;
}

/* Drop the closed record: the file is stored, deleted, or being written again. */
void wf_closed_done(struct wfile *wf)
{
	char rec[64];

	pthread_mutex_lock(&wf->lock);
	memcpy(rec, wf->rec, sizeof(rec));
	wf->rec[0] = 0;
	pthread_mutex_unlock(&wf->lock);
	if (rec[0])
		journal_closed_done(wf->ctx->journal, rec);
}

/* Forget the upload and every staged byte: after an abort, a failure or a commit. Caller holds
 * wlock, not lock; nothing is in flight. */
void wf_reset(struct wfile *wf, int aborted)
{
	struct upload *up;

	pthread_mutex_lock(&wf->lock);
	up = wf->up;
	wf->up = NULL;
	wf->npending = 0;
	wf->next_part = 1;
	wf->nsubmitted = 0;
	wf_spool_drop(wf, 0, wf->size);
	if (ftruncate(wf->spool, 0))
		log_debug("%s: truncate spool: %s", wf->path, strerror(errno));
	wf_release_locked(wf, wf->reserved);
	pthread_mutex_unlock(&wf->lock);
	free(wf->tail);   /* the base changes with a commit or an abort */
	wf->tail = NULL;
	if (up && aborted)
		wf->ctx->be->ops->upload_abort(up);
	wf_journal_done(wf);
	wf_closed_done(wf);
}
