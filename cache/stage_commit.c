/* The store's final commit of a chunked upload, retried for --commit-retry seconds; a commit that
 * still fails is kept (the upload stays open in the store, its crash record becomes a failed one)
 * where the store can finish it later from the record alone, so a refused commit costs no data. */
#include "cache/stage_priv.h"
#include "cache/journal.h"
#include "common/log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BACKOFF_FIRST_MS 500
#define BACKOFF_MAX_MS 8000

static double wf_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Worth another try: not when the upload is gone, the request itself is wrong, or the object it
 * appends to changed meanwhile (-ESTALE). */
static int wf_retryable(int rc)
{
	return rc != -ENOENT && rc != -EINVAL && rc != -ENOMEM && rc != -ESTALE;
}

/* Can this failed commit be kept for `snapctl retry`? The store must finish an upload from its
 * token alone; the upload must be recorded; a renamed file's upload (under its old key) and an
 * --async-close file (its spool is kept and uploaded again anyway) are not kept. */
static int wf_keepable(const struct wfile *wf, int rc)
{
	const struct backend_ops *ops = wf->ctx->be->ops;

	return wf_retryable(rc) && ops->upload_release && ops->upload_finish && wf->jid && wf->ctx->journal &&
	       !wf->ukey && !wf->rec[0];
}

int wf_commit_upload(struct wfile *wf, const char *hex, int *kept)
{
	const struct backend_ops *ops = wf->ctx->be->ops;
	struct upload *up = wf->up;
	double end = wf_now_s() + wf->ctx->commit_retry_s;
	unsigned delay = BACKOFF_FIRST_MS, tries = 1;
	int rc;

	*kept = 0;
	rc = ops->upload_commit(up, wf->nsubmitted, hex);
	/* a store without commit_again has aborted and freed the upload on failure */
	/* the last try comes when the window ends: the window is what the store is given */
	while (rc && ops->commit_again && wf_retryable(rc) && wf_now_s() < end) {
		double left = end - wf_now_s();
		unsigned ms = left * 1000 < delay ? (unsigned)(left * 1000) : delay;

		log_warn("%s: completing the upload failed (%s): trying again in %.1f s", wf->path,
			 strerror(-rc), ms / 1000.0);
		usleep(ms * 1000);
		delay = delay * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : delay * 2;
		tries++;
		rc = ops->upload_commit(up, wf->nsubmitted, hex);
	}
	if (!rc) {
		if (tries > 1)
			log_info("%s: the upload completed at try %u", wf->path, tries);
		goto done;
	}
	log_error("%s: completing the upload failed after %u tr%s: %s", wf->path, tries,
		  tries > 1 ? "ies" : "y", strerror(-rc));
	if (ops->commit_again) {
		if (wf_keepable(wf, rc)) {
			char why[200];
			int krc, jrc;

			/* the store first: a store that cannot keep this upload (GCS without its commit
			 * record) has aborted it, and the file must not be listed as kept */
			krc = ops->upload_release(up);
			if (krc) {
				log_error("%s: the failed commit could not be kept in the store (%s): its upload "
					  "is discarded", wf->path, strerror(-krc));
				goto done;
			}
			snprintf(why, sizeof(why), "the store refused the commit %u times in %d s (%s)", tries,
				 wf->ctx->commit_retry_s, strerror(-rc));
			jrc = journal_fail(wf->ctx->journal, wf->jid, wf->path, wf->size, why);
			if (jrc) {
				/* the record of the upload in progress stays: the next mount discards it as
				 * a crash's leftover, so nothing is left open in the store for good */
				log_error("%s: could not keep the failed commit in the crash journal (%s): the "
					  "next mount discards its upload", wf->path, strerror(-jrc));
			} else {
				*kept = 1;
				log_error("%s: its upload is kept in the store: `snapctl retry` stores it, "
					  "`snapctl discard` drops it", wf->path);
			}
			wf->jid = 0;   /* either record outlives the file: nothing for journal_done */
			goto done;
		}
		ops->upload_abort(up);
	}
done:
	pthread_mutex_lock(&wf->lock);
	wf->up = NULL;
	pthread_mutex_unlock(&wf->lock);
	wf_journal_done(wf);
	return rc == -ESTALE ? -EIO : rc;
}
