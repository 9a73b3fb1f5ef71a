/* Publishing a staged file: the rest of its data as the last part(s) and the store's commit, or one
 * put for a small file, then the move to its new name if it was renamed while its upload was open.
 * Used by a synchronous close (cache/stage.c) and the background upload of a closed one
 * (cache/stage_keep.c). */
#include "cache/digest.h"
#include "common/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cache/stage_priv.h"

/* Renamed while its upload was open: the object was committed under the upload's key, and now takes
 * its name (an atomic move where the store has one). Caller holds wlock. */
static int wf_move_home(struct wfile *wf)
{
	struct backend *be = wf->ctx->be;
	const char *from = wf->ukey;
	int rc;

	if (!from)
		return 0;
	if (be->ops->move) {
		rc = be->ops->move(be, from, wf->key);
	} else {
		rc = be->ops->copy(be, from, wf->key);
		if (!rc)
			rc = be->ops->remove(be, &from, 1);
	}
	if (rc) {
		log_error("%s: stored under its old key %s, but moving it to its new name failed: %s", wf->path,
			  from, strerror(-rc));
		return rc;
	}
	free(wf->ukey);
	wf->ukey = NULL;
	return 0;
}

/* Publish: the rest of the data as the last part(s), then the store's commit. Caller holds wlock. */
int wf_publish(struct wfile *wf)
{
	const struct backend_ops *ops = wf->ctx->be->ops;
	struct backend *be = wf->ctx->be;
	char sha[65];
	const char *hex;
	uint64_t size;
	int rc = 0;

	pthread_mutex_lock(&wf->lock);
	size = wf->size;
	pthread_mutex_unlock(&wf->lock);
	wf_digest_to(wf, size);
	hex = digest_final(&wf->dg, size, sha) ? NULL : sha;
	wf->kept = 0;
	pthread_mutex_lock(&wf->lock);
	if (!wf->up && !wf->base && size <= part_size_of(&wf->ctx->plan, 1)) {
		pthread_mutex_unlock(&wf->lock);
		rc = ops->put(be, wf_store_key(wf), wf->spool, 0, size, hex);
		if (rc)
			log_error("%s: upload failed: %s", wf->path, strerror(-rc));
		return rc ? rc : wf_move_home(wf);
	}
	pthread_mutex_unlock(&wf->lock);
	if (!wf->up) {
		rc = wf_begin(wf);
		if (rc)
			return rc;
	}
	pthread_mutex_lock(&wf->lock);
	while (!wf->err && wf->cut < size) {
		uint64_t psz = part_size_of(&wf->ctx->plan, wf->next_part);

		rc = wf_queue_part(wf, size - wf->cut < psz ? size - wf->cut : psz);
		if (rc)
			break;
	}
	wf_settle_locked(wf);
	if (!rc && wf->err)
		rc = wf->err;
	pthread_mutex_unlock(&wf->lock);
	if (rc)
		return rc;
	/* an open upload always has a part: it is opened for a full part, or here with size > base */
	if (!wf->nsubmitted) {
		log_error("%s: no data for the upload", wf->path);
		return -EIO;
	}
	rc = wf_commit_upload(wf, hex, &wf->kept);
	return rc ? rc : wf_move_home(wf);
}

