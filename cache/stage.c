/* The staging layer's entry points (cache/stage.h) for a file's life: open, flush/commit, sync, close,
 * unlink and rename of a file staged in the cache dir, and the walks over all of them; its data (write,
 * read, truncate) is in cache/stage_data.c. The lock order and the states of a staged file are in
 * cache/stage_priv.h; the work below these calls is in the other cache/stage_*.c files. */
#include "cache/stage.h"
#include "cache/stage_async.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cache/stage_priv.h"

static int stage_spool_open(const char *dir)
{
	char tmpl[4096];
	int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

	if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
		return fd >= 0 ? fd : -errno;
	snprintf(tmpl, sizeof(tmpl), "%s/spool.XXXXXX", dir);
	fd = mkostemp(tmpl, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	unlink(tmpl);
	return fd;
}

int stage_init(struct stage_ctx *c, struct backend *be, struct space *space, struct pool *pool,
	       const char *cache_dir, uint64_t part_size, unsigned uploads, char **why)
{
	const struct backend_ops *ops = be->ops;
	const char *msg = NULL;
	uint64_t cap;
	int rc;

	memset(c, 0, sizeof(*c));
	c->be = be;
	c->space = space;
	c->pool = pool;
	c->cache_dir = cache_dir;
	c->uploads = ops->parts_any_order ? (uploads ? uploads : 1) : 1;
	c->file_parts = (uploads ? uploads : 1) + 1;
	rc = part_plan_init(&c->plan, part_size, ops->min_part, ops->max_part, ops->max_parts, &msg);
	if (rc) {
		if (asprintf(why, "%s: %s", ops->scheme, msg) < 0)
			*why = NULL;
		return rc;
	}
	cap = part_plan_capacity(&c->plan);
	if (cap < SNAPFS_MAX_FILE)
		log_warn("%s stores at most %llu GiB per object with these part limits", ops->scheme,
			 (unsigned long long)(cap >> 30));
	if (part_size && c->plan.base != part_size)
		log_info("part size %llu MiB (the store's limits adjusted --part-size)",
			 (unsigned long long)(c->plan.base / MIB));
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->gone, NULL);
	outcome_init(&c->outcomes);
	return 0;
}

void stage_destroy(struct stage_ctx *c)
{
	outcome_destroy(&c->outcomes);
	pthread_cond_destroy(&c->gone);
	pthread_mutex_destroy(&c->lock);
}

/* One flag of wf, read under its lock. */
static int wf_read_flag(struct wfile *wf, const int *flag)
{
	int v;

	pthread_mutex_lock(&wf->lock);
	v = *flag;
	pthread_mutex_unlock(&wf->lock);
	return v;
}

int wf_unlinked(struct wfile *wf)
{
	return wf_read_flag(wf, &wf->unlinked);
}

/* What a lookup wants: FIND_WRITER, a file open for writing (to share); FIND_READER, that or a
 * closed file waiting for its background upload (its bytes are only here); FIND_ANY, also a file
 * whose last handle is going away (publishing at release). */
enum { FIND_WRITER, FIND_READER, FIND_ANY };

/* Caller holds c->lock. */
static struct wfile *wf_find_locked(struct stage_ctx *c, const char *key, int how)
{
	for (struct wfile *wf = c->files; wf; wf = wf->next) {
		if (wf->unlinked || wf->stored || strcmp(wf->key, key))
			continue;
		if (how == FIND_ANY || (wf->refs && (how == FIND_READER || !wf->queued)))
			return wf;
	}
	return NULL;
}

static struct wfile *wf_find_ref(struct stage_ctx *c, const char *key, int how)
{
	struct wfile *wf;

	pthread_mutex_lock(&c->lock);
	wf = wf_find_locked(c, key, how);
	if (wf)
		wf->refs++;
	pthread_mutex_unlock(&c->lock);
	return wf;
}

struct wfile *wf_find(struct stage_ctx *c, const char *key)
{
	return wf_find_ref(c, key, FIND_WRITER);
}

struct wfile *wf_find_any(struct stage_ctx *c, const char *key)
{
	return wf_find_ref(c, key, FIND_READER);
}

int wf_queued(struct wfile *wf)
{
	return wf_read_flag(wf, &wf->queued);
}

/* --- open / close ---------------------------------------------------------------------------------- */

int wf_open(struct stage_ctx *c, const char *key, const char *path, const struct obj_info *existing,
	    int trunc, struct wfile **out)
{
	struct wfile *wf = wf_find(c, key), *other;
	int rc;

	if (wf) {
		if (trunc) {
			rc = wf_truncate(wf, 0);
			if (rc) {
				wf_close(wf);
				return rc;
			}
		}
		*out = wf;
		return 0;
	}
	rc = stage_spool_open(c->cache_dir);
	if (rc < 0) {
		log_error("cannot create a spool file in the cache dir %s: %s", c->cache_dir, strerror(-rc));
		return rc;
	}
	wf = wf_new(c, key, path, rc);
	if (!wf) {
		close(rc);
		return -ENOMEM;
	}
	if (existing && !trunc) {
		wf->obj_exists = 1;
		wf->obj_size = wf->size = wf->base = wf->cut = wf->seq_end = existing->size;
		wf->mtime = existing->mtime;
	} else {
		wf->obj_exists = existing != NULL;
		wf->dirty = 1;   /* creat() and O_TRUNC publish an empty object even with no write */
		wf->async = c->async_limit != 0;   /* the whole file is ours: it can be kept */
	}
	pthread_mutex_lock(&c->lock);
	/* the previous writer of this key is still publishing at its release: let it finish first, so
	 * that what it stores never lands after what this one stores */
	while (wf_find_locked(c, key, FIND_ANY) && !wf_find_locked(c, key, FIND_WRITER))
		pthread_cond_wait(&c->gone, &c->lock);
	other = wf_find_locked(c, key, FIND_WRITER);
	if (other) {
		/* another open of the same new file won the race: share it */
		other->refs++;
		pthread_mutex_unlock(&c->lock);
		wf_discard(wf);
		if (trunc && (rc = wf_truncate(other, 0))) {
			wf_close(other);
			return rc;
		}
		*out = other;
		return 0;
	}
	wf->next = c->files;
	c->files = wf;
	pthread_mutex_unlock(&c->lock);
	*out = wf;
	return 0;
}

/* The last handle of an async file went away: its reference becomes the background upload's. */
static void wf_handoff(struct wfile *wf)
{
	int rc;

	pthread_mutex_lock(&wf->wlock);
	rc = wf_async_persist(wf);   /* a bare creat() had no flush that did it */
	pthread_mutex_unlock(&wf->wlock);
	if (rc)
		log_warn("%s: could not record it in the crash journal (%s): uploading it from the cache all the same",
			 wf->path, strerror(-rc));
	stage_async_push(wf->ctx, wf, 0);
}

int wf_close(struct wfile *wf)
{
	struct stage_ctx *c = wf->ctx;
	int last = 0, handoff, queued, rc = 0;

	pthread_mutex_lock(&c->lock);
	pthread_mutex_lock(&wf->lock);
	handoff = wf->refs == 1 && wf->async && wf->dirty && !wf->queued && !wf->unlinked && !wf->doomed;
	if (handoff)
		wf->queued = 1;   /* writers from now on wait for its upload; readers still find it */
	else
		last = --wf->refs == 0;
	queued = wf->queued;
	pthread_mutex_unlock(&wf->lock);
	pthread_mutex_unlock(&c->lock);
	if (handoff) {
		wf_handoff(wf);
		return 0;
	}
	if (!last)
		return 0;
	if (queued) {
		/* the background upload let go (stored or dropped) and the last reader closed */
		wf_free(wf);
		return 0;
	}
	/* the last handle is gone: publish what the opener's flush did not (a descriptor that outlived
	 * its opener), or clean up after a failure */
	rc = wf_commit(wf);
	pthread_mutex_lock(&wf->wlock);
	pthread_mutex_lock(&wf->lock);
	wf_settle_locked(wf);
	pthread_mutex_unlock(&wf->lock);
	pthread_mutex_unlock(&wf->wlock);
	if (wf->up || wf->reserved)
		wf_reset(wf, 1);
	wf_free(wf);
	return rc;
}

/* Count, record for the status document and log a file that was not stored. */
static void wf_not_stored(struct wfile *wf, const char *what, int err)
{
	char why[160];

	snprintf(why, sizeof(why), "%s (%s)", what, strerror(err < 0 ? -err : err));
	__atomic_add_fetch(&wf->ctx->failed, 1, __ATOMIC_RELAXED);
	outcome_record(&wf->ctx->outcomes, wf->path, wf->size, why);
	log_error("%s: NOT stored: %s; the object was left as it was before", wf->path, why);
}

static int wf_commit_if(struct wfile *wf, int need_written)
{
	struct stage_ctx *c = wf->ctx;
	int rc = 0, unlinked;

	pthread_mutex_lock(&wf->wlock);
	pthread_mutex_lock(&wf->lock);
	unlinked = wf->unlinked;
	if (wf->async && !unlinked && !wf->doomed) {
		int skip = !wf->dirty || (need_written && !wf->written);

		pthread_mutex_unlock(&wf->lock);
		if (skip)
			goto out;
		if (need_written) {
			/* the opener's close: done once the data is safe in the cache dir */
			rc = wf_async_persist(wf);
			if (!rc) {
				pthread_mutex_lock(&wf->lock);
				wf->written = 0;
				pthread_mutex_unlock(&wf->lock);
				goto out;
			}
			log_warn("%s: cannot keep it in the cache dir (%s)", wf->path, strerror(-rc));
			wf_async_off(wf, "no asynchronous close");
		} else {
			wf_async_ready(wf);   /* published right now (truncate): a failed part starts over */
		}
		pthread_mutex_lock(&wf->lock);
	}
	if (need_written && !wf->written && !wf->err) {
		pthread_mutex_unlock(&wf->lock);
		goto out;
	}
	if (wf->err) {
		int report = !wf->reported;

		wf->reported = 1;
		wf_settle_locked(wf);
		pthread_mutex_unlock(&wf->lock);
		rc = -EIO;
		if (wf->up || wf->reserved)
			wf_reset(wf, 1);   /* abort: no partial object, no parts left to pay for */
		if (report)
			wf_not_stored(wf, "a write or an upload failed", wf->err);
		goto out;
	}
	if (!wf->dirty || unlinked) {
		wf_settle_locked(wf);
		pthread_mutex_unlock(&wf->lock);
		if (unlinked && (wf->up || wf->reserved))
			wf_reset(wf, 1);
		goto out;
	}
	wf->committing = 1;
	pthread_mutex_unlock(&wf->lock);

	rc = wf_publish(wf);

	pthread_mutex_lock(&wf->lock);
	wf->committing = 0;
	pthread_cond_broadcast(&wf->cond);   /* an unlink or rename waits for the commit to land */
	if (rc) {
		if (!wf->err)
			wf->err = rc;
		wf->reported = 1;
		pthread_mutex_unlock(&wf->lock);
		wf_reset(wf, 1);
		wf_not_stored(wf, wf->kept ? "the commit failed; its upload is kept: snapctl retry stores it"
					   : "the commit failed", rc);
		rc = -EIO;
		goto out;
	}
	wf->obj_exists = 1;
	wf->obj_size = wf->base = wf->cut = wf->seq_end = wf->size;
	wf->next_ext = 0;
	wf->dirty = 0;
	wf->written = 0;
	wf->mode = WF_STREAM;
	pthread_mutex_unlock(&wf->lock);
	wf_reset(wf, 0);
	__atomic_add_fetch(&c->committed, 1, __ATOMIC_RELAXED);
	outcome_record(&c->outcomes, wf->path, wf->size, NULL);
	log_info("%s: stored, %llu bytes", wf->path, (unsigned long long)wf->size);
out:
	pthread_mutex_unlock(&wf->wlock);
	return rc;
}

int wf_commit(struct wfile *wf)
{
	return wf_commit_if(wf, 0);
}

int wf_flush(struct wfile *wf)
{
	return wf_commit_if(wf, 1);
}

int wf_sync(struct wfile *wf)
{
	unsigned failures;
	int rc, async;

	pthread_mutex_lock(&wf->lock);
	if (wf->queued) {
		/* closed, its upload in the background: durable means stored */
		failures = wf->failures;
		while (!wf->stored && !wf->unlinked && wf->failures == failures)
			pthread_cond_wait(&wf->cond, &wf->lock);
		rc = wf->stored || wf->unlinked ? 0 : -EIO;
		pthread_mutex_unlock(&wf->lock);
		return rc;
	}
	async = wf->async;
	pthread_mutex_unlock(&wf->lock);
	if (async) {
		/* a program that asks for durability gets the synchronous close it expects */
		pthread_mutex_lock(&wf->wlock);
		wf_async_off(wf, "fsync");
		pthread_mutex_unlock(&wf->wlock);
	}
	pthread_mutex_lock(&wf->lock);
	wf_settle_locked(wf);
	rc = wf->err ? -EIO : 0;
	pthread_mutex_unlock(&wf->lock);
	return rc;
}

int wf_error(struct wfile *wf)
{
	return wf_read_flag(wf, &wf->err) ? -EIO : 0;
}

int wf_getattr(struct wfile *wf, uint64_t *size, time_t *mtime)
{
	int staged;

	pthread_mutex_lock(&wf->lock);
	*size = wf->size;
	*mtime = wf->mtime;
	staged = !wf->err && (wf->dirty || (wf->queued && !wf->stored));
	pthread_mutex_unlock(&wf->lock);
	return staged;
}

void wf_set_mtime(struct wfile *wf, time_t mtime)
{
	pthread_mutex_lock(&wf->lock);
	if (wf->dirty)   /* a stored object has the store's time */
		wf->mtime = mtime;
	pthread_mutex_unlock(&wf->lock);
}

/* Take ctx->lock and wf->lock once no commit of wf is in flight: what an unlink or a rename does must
 * come after a commit that already started, never be overtaken by it. */
static void wf_lock_quiet(struct wfile *wf)
{
	for (;;) {
		pthread_mutex_lock(&wf->ctx->lock);
		pthread_mutex_lock(&wf->lock);
		if (!wf->committing)
			return;
		pthread_mutex_unlock(&wf->ctx->lock);
		while (wf->committing)
			pthread_cond_wait(&wf->cond, &wf->lock);
		pthread_mutex_unlock(&wf->lock);
	}
}

void wf_unlink(struct wfile *wf)
{
	/* under both locks: wf_find reads it under the list lock */
	int queued;

	wf_lock_quiet(wf);
	wf->unlinked = 1;
	queued = wf->queued;
	pthread_cond_broadcast(&wf->cond);
	pthread_mutex_unlock(&wf->lock);
	pthread_mutex_unlock(&wf->ctx->lock);
	/* closed and waiting for its upload: a crash from now on must not bring it back */
	if (queued)
		wf_closed_done(wf);
}

void stage_foreach(struct stage_ctx *c, void (*fn)(void *arg, const struct wf_status *st), void *arg)
{
	pthread_mutex_lock(&c->lock);
	for (struct wfile *wf = c->files; wf; wf = wf->next) {
		static const char *const name[] = {
			[WF_S_IDLE] = "idle", [WF_S_STREAMING] = "streaming", [WF_S_STAGING] = "staging",
			[WF_S_COMMITTING] = "committing", [WF_S_FAILED] = "failed",
			[WF_S_QUEUED] = "closed, waiting", [WF_S_UPLOADING_CLOSED] = "uploading closed",
			[WF_S_STORED] = "stored",
		};
		struct wf_status st = { 0 };
		time_t now = time(NULL);

		pthread_mutex_lock(&wf->lock);
		snprintf(st.path, sizeof(st.path), "%s", wf->path);
		st.size = wf->size;
		st.uploaded = wf->uploaded;
		st.inflight = wf->inflight;
		st.parts_done = wf->parts_done;
		st.err = wf->err;
		st.started = wf->started;
		st.rate_bps = now > wf->started ? (double)wf->uploaded / (double)(now - wf->started) : 0;
		st.queued = wf->queued && !wf->stored;
		st.unlinked = wf->unlinked;
		st.state = name[wf_state_locked(wf)];
		pthread_mutex_unlock(&wf->lock);
		fn(arg, &st);
	}
	pthread_mutex_unlock(&c->lock);
}

unsigned stage_active(struct stage_ctx *c)
{
	unsigned n = 0;

	pthread_mutex_lock(&c->lock);
	for (struct wfile *wf = c->files; wf; wf = wf->next)
		n++;
	pthread_mutex_unlock(&c->lock);
	return n;
}

void stage_shutdown(struct stage_ctx *c)
{
	/* the daemon is going away with files still open (SIGTERM, a lazy unmount): their data is
	 * incomplete, so nothing is published; each is named, and its upload aborted so no parts stay
	 * behind on the store */
	pthread_mutex_lock(&c->lock);
	for (struct wfile *wf = c->files; wf; wf = wf->next) {
		struct upload *up;

		pthread_mutex_lock(&wf->lock);
		if (wf->queued) {
			/* closed: stage_async_stop named it; its record stays for the next mount */
			pthread_mutex_unlock(&wf->lock);
			continue;
		}
		wf_settle_locked(wf);
		up = wf->up;
		wf->up = NULL;
		if (wf->dirty && !wf->unlinked) {
			outcome_record(&c->outcomes, wf->path, wf->size, "still open for writing at unmount");
			log_error("%s: NOT stored: still open for writing at unmount (%llu bytes written)", wf->path,
				  (unsigned long long)wf->size);
		}
		pthread_mutex_unlock(&wf->lock);
		if (up)
			c->be->ops->upload_abort(up);
		wf_journal_done(wf);
	}
	pthread_mutex_unlock(&c->lock);
}


/* Caller holds c->lock. */
static int stage_releasing_locked(struct stage_ctx *c, const char *key)
{
	for (struct wfile *wf = c->files; wf; wf = wf->next)
		if (!wf->refs && !strcmp(wf->key, key))
			return 1;
	return 0;
}

int stage_wait_released(struct stage_ctx *c, const char *key)
{
	int waited = 0;

	pthread_mutex_lock(&c->lock);
	while (stage_releasing_locked(c, key)) {
		waited = 1;
		pthread_cond_wait(&c->gone, &c->lock);
	}
	pthread_mutex_unlock(&c->lock);
	return waited;
}

int wf_rename(struct wfile *wf, const char *key, const char *path, int *old_obj)
{
	char *k = strdup(key), *p = strdup(path);
	int rc = 0;

	*old_obj = WF_OLD_NONE;
	if (!k || !p) {
		rc = -ENOMEM;
		goto out;
	}
	pthread_mutex_lock(&wf->wlock);   /* no write, part cut or commit in the middle */
	wf_lock_quiet(wf);
	if (wf->nretired + 2 > sizeof(wf->retired) / sizeof(wf->retired[0]) || wf->queued) {
		rc = -EBUSY;
	} else if (!wf->dirty) {
		*old_obj = WF_OLD_MOVE;   /* all of it is in the store: the caller moves the object */
	} else if (wf->base || (wf->up && wf->obj_exists && !wf->ukey)) {
		/* an append carries the object stored under the old name; an upload open under the old
		 * name cannot take that name's old object away first (Azure's blocks live in it) */
		rc = -EBUSY;
	} else {
		if (wf->obj_exists && !wf->up && !wf->ukey)
			*old_obj = WF_OLD_DROP;
		if (wf->up && !wf->ukey && !(wf->ukey = strdup(wf->key)))
			rc = -ENOMEM;   /* committed under the old key, then moved to its name */
		wf->obj_exists = 0;   /* the new name's old object is replaced, never appended to */
	}
	if (!rc) {
		wf->retired[wf->nretired++] = wf->key;
		wf->retired[wf->nretired++] = wf->path;
		wf->key = k;
		wf->path = p;
		k = p = NULL;
	}
	pthread_mutex_unlock(&wf->lock);
	pthread_mutex_unlock(&wf->ctx->lock);
	pthread_mutex_unlock(&wf->wlock);
out:
	free(k);
	free(p);
	return rc;
}

int stage_quiesce_under(struct stage_ctx *c, const char *prefix)
{
	size_t n = strlen(prefix);

	for (;;) {
		struct wfile *wait_for = NULL;
		int releasing = 0, busy = 0, rc;

		pthread_mutex_lock(&c->lock);
		for (struct wfile *wf = c->files; wf && !busy; wf = wf->next) {
			if (strncmp(wf->key, prefix, n) || wf->stored || wf->unlinked)
				continue;
			if (!wf->refs) {
				releasing = 1;   /* being published by its last release */
				continue;
			}
			pthread_mutex_lock(&wf->lock);
			if (!wf->queued)
				busy = 1;        /* open: its commit would land under the old folder */
			else if (!wait_for)
				wait_for = wf;   /* closed, its upload still in the background */
			pthread_mutex_unlock(&wf->lock);
		}
		if (busy) {
			pthread_mutex_unlock(&c->lock);
			return -EBUSY;
		}
		if (wait_for) {
			wait_for->refs++;
			pthread_mutex_unlock(&c->lock);
			rc = wf_sync(wait_for);
			wf_close(wait_for);
			if (rc)
				return rc;
			continue;
		}
		if (!releasing) {
			pthread_mutex_unlock(&c->lock);
			return 0;
		}
		pthread_cond_wait(&c->gone, &c->lock);
		pthread_mutex_unlock(&c->lock);
	}
}
