/* The staging layer's entry points (cache/stage.h): open, write, read, truncate, flush/commit, close,
 * unlink and rename of a file staged in the cache dir, and the walks over all of them. The lock order and
 * the states of a staged file are in cache/stage_priv.h; the work below these calls is in the other
 * cache/stage_*.c files. */
#include "cache/stage.h"
#include "cache/stage_async.h"
#include "cache/space.h"
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
	outcomes_init(&c->outcomes);
	return 0;
}

void stage_destroy(struct stage_ctx *c)
{
	outcomes_destroy(&c->outcomes);
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

/* --- space and spool ---------------------------------------------------------------------------- */

/* Is a write at off ahead of the contiguous frontier? Those may not take the last part of the room
 * (below), which stays for the write that fills the gap; otherwise requests that overtook it could fill
 * the cache and leave nothing that can be cut. Asked again whenever the frontier moves: a write that was
 * ahead when it arrived is the gap filler once its predecessor lands. NULL off: not a streamed write.
 * Caller holds wf->lock. */
static int wf_ahead_locked(const struct wfile *wf, const uint64_t *off)
{
	return off && *off > wf->seq_end;
}

/* One streaming file may hold (--uploads + 1) parts of cache: the parts in flight and the one being
 * filled. A writer that runs ahead of its uploads waits for its own parts here, so a fast writer to a
 * slow store holds the same few parts whatever the file's size, and leaves the rest of --cache-size to
 * the other files. The wait needs parts of this file in flight: a file that stages whole (nothing is
 * cut before close) or is stuck behind its own gap goes on to the shared limit. Writes ahead of the
 * frontier stop a quarter short. */
static void wf_throttle(struct wfile *wf, uint64_t n, uint64_t off)
{
	uint64_t cap, keep;
	int stuck;

	pthread_mutex_lock(&wf->lock);
	for (;;) {
		cap = part_size_of(&wf->ctx->plan, wf->next_part ? wf->next_part : 1) * wf->ctx->file_parts;
		keep = wf_ahead_locked(wf, &off) ? cap / 4 : 0;
		/* Stuck: nothing of this file in flight, queued or being written can make room. Only
		 * then one write goes over (its count keeps the others waiting); a cap that any write
		 * passes whenever the uploads drain for a moment would bound nothing. */
		stuck = !wf->inflight && !wf->npending && !wf->writing;
		if (wf->reserved + wf->claimed + n <= cap - keep || stuck || wf->err ||
		    wf->async)   /* an async file keeps all of itself by design */
			break;
		pthread_cond_wait(&wf->cond, &wf->lock);   /* a part done, or the frontier moved */
	}
	wf->claimed += n;   /* concurrent writes of this file see it before wf_reserve counts it */
	wf->writing++;
	pthread_mutex_unlock(&wf->lock);
}

/* Take n bytes of the shared cache for this file (off: where a streamed write lands, else NULL). */
static int wf_reserve(struct wfile *wf, uint64_t n, const uint64_t *off)
{
	struct space *sp = wf->ctx->space;
	int rc;

	if (!n)
		return 0;
	for (;;) {
		uint64_t gen = space_releases(sp), keep;
		int idle, ahead;

		pthread_mutex_lock(&wf->lock);
		ahead = wf_ahead_locked(wf, off);
		pthread_mutex_unlock(&wf->lock);
		keep = !ahead ? 0 : WF_HEADROOM < sp->limit / 4 ? WF_HEADROOM : sp->limit / 4;
		rc = space_reserve_wait(sp, n, 1000, keep);
		if (rc == -EAGAIN)
			continue;   /* a frontier moved: this write may be the gap filler now */
		if (rc != -ETIMEDOUT)
			break;
		/* Everyone may be holding a partial part that cannot be cut yet: a writer with nothing of
		 * its own in flight would wait forever, so it may go over the limit by this write. Only
		 * if nothing at all was freed during the wait: room that other waiters took is progress
		 * (and forcing then would push the cache over its limit for nothing). */
		pthread_mutex_lock(&wf->lock);
		idle = !wf->inflight && !wf->npending;
		pthread_mutex_unlock(&wf->lock);
		if (idle && !space_force_stalled(sp, n, gen)) {
			log_warn("%s: cache full with nothing of its own in flight: going over by %llu bytes",
				 wf->path, (unsigned long long)n);
			rc = 0;
			break;
		}
	}
	if (rc) {
		log_error("%s: needs %llu MiB of cache but --cache-size is %llu MiB", wf->path,
			  (unsigned long long)(n / MIB), (unsigned long long)(sp->limit / MIB));
		return rc;
	}
	pthread_mutex_lock(&wf->lock);
	wf->reserved += n;
	pthread_mutex_unlock(&wf->lock);
	return 0;
}

/* Copy [0, n) of the committed object into the spool (an append to a small object, or a rewrite in
 * the middle). Caller holds wlock, not lock. */
static int wf_materialize(struct wfile *wf, uint64_t n)
{
	struct backend *be = wf->ctx->be;
	char *buf = NULL;
	uint64_t off = 0;
	int rc;

	rc = wf_reserve(wf, n, NULL);
	if (rc)
		return rc;
	buf = malloc(n < DL_CHUNK ? (n ? n : 1) : DL_CHUNK);
	if (!buf) {
		rc = -ENOMEM;
		goto out;
	}
	while (off < n) {
		size_t want = n - off < DL_CHUNK ? (size_t)(n - off) : DL_CHUNK;
		ssize_t got = be->ops->read(be, wf->key, off, want, buf);

		if (got < 0) {
			rc = (int)got;
			goto out;
		}
		if (got == 0) {
			rc = -EIO;   /* the object shrank under us */
			goto out;
		}
		if (pwrite(wf->spool, buf, (size_t)got, (off_t)off) != got) {
			rc = -errno ? -errno : -EIO;
			goto out;
		}
		off += (uint64_t)got;
	}
	pthread_mutex_lock(&wf->lock);
	wf->base = wf->cut = 0;
	wf->seq_end = n;
	pthread_mutex_unlock(&wf->lock);
out:
	free(buf);
	if (rc) {
		log_error("%s: could not load the existing object into the cache: %s", wf->path, strerror(-rc));
		pthread_mutex_lock(&wf->lock);
		wf_release_locked(wf, n);
		pthread_mutex_unlock(&wf->lock);
	}
	return rc;
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

/* --- data ----------------------------------------------------------------------------------------- */

/* Bytes of [off, end) already written and staged (so rewriting them needs no new cache space).
 * Caller holds wf->lock. */
static uint64_t wf_overlap(const struct wfile *wf, uint64_t off, uint64_t end)
{
	uint64_t ov = 0;

	if (off < wf->seq_end && end > wf->cut) {
		uint64_t a = off > wf->cut ? off : wf->cut, b = end < wf->seq_end ? end : wf->seq_end;

		ov += b - a;
	}
	for (unsigned i = 0; i < wf->next_ext; i++) {
		const struct extent *e = &wf->ext[i];

		if (off < e->end && end > e->start)
			ov += (end < e->end ? end : e->end) - (off > e->start ? off : e->start);
	}
	return ov > end - off ? end - off : ov;
}

/* Record [off, end) as written and advance the contiguous frontier over it and over any extents it
 * now reaches. Extents stay disjoint. Caller holds wf->lock. */
static void wf_mark_written(struct wfile *wf, uint64_t off, uint64_t end)
{
	if (off <= wf->seq_end) {
		if (end > wf->seq_end)
			wf->seq_end = end;
	} else {
		/* ahead of the frontier (writeback requests overtake each other): merge into the set */
		for (unsigned i = 0; i < wf->next_ext;) {
			struct extent *e = &wf->ext[i];

			if (off <= e->end && end >= e->start) {
				off = off < e->start ? off : e->start;
				end = end > e->end ? end : e->end;
				*e = wf->ext[--wf->next_ext];
				continue;
			}
			i++;
		}
		if (wf->next_ext < WF_MAX_EXT)
			wf->ext[wf->next_ext++] = (struct extent){ off, end };
		/* else: the bytes are in the spool all the same and go out at commit, only not early */
	}
	for (int again = 1; again;) {
		again = 0;
		for (unsigned i = 0; i < wf->next_ext; i++) {
			if (wf->ext[i].start <= wf->seq_end) {
				if (wf->ext[i].end > wf->seq_end)
					wf->seq_end = wf->ext[i].end;
				wf->ext[i] = wf->ext[--wf->next_ext];
				again = 1;
				break;
			}
		}
	}
}

/* Before changing bytes below cut or beyond an un-carryable base: bring the file into the spool so the
 * change can be made, or refuse when parts have already left. Caller holds wlock, not lock. */
static int wf_prepare(struct wfile *wf, uint64_t off, int whole)
{
	uint64_t base, cut;
	struct upload *up;
	int rc;

	pthread_mutex_lock(&wf->lock);
	base = wf->base;
	cut = wf->cut;
	up = wf->up;
	pthread_mutex_unlock(&wf->lock);
	if (off >= cut && !(base && base < wf->ctx->plan.min_part))
		return 0;
	if (up && off < cut) {
		log_error("%s: a write at offset %llu after %llu bytes were uploaded: snapfs streams files "
			  "sequentially; rewrite the file from the start instead", wf->path,
			  (unsigned long long)off, (unsigned long long)cut);
		return -EINVAL;
	}
	if (base) {
		rc = wf_materialize(wf, base);
		if (rc)
			return rc;
	}
	pthread_mutex_lock(&wf->lock);
	if (whole || off < cut)
		wf->mode = WF_WHOLE;   /* random access: no eager parts from now on */
	pthread_mutex_unlock(&wf->lock);
	return 0;
}

/* An append through the kernel's writeback cache starts by rewriting the page that held the old end of
 * file, with the old bytes read back first. Those bytes are already the store's: skip them when they
 * are unchanged, so the append carries the object instead of staging it whole. Returns the bytes
 * skipped (0: none or a real change) or -errno. Caller holds wlock. */
static ssize_t wf_skip_tail(struct wfile *wf, const char **buf, size_t *len, uint64_t *off)
{
	struct backend *be = wf->ctx->be;
	uint64_t base, page;
	size_t n;

	pthread_mutex_lock(&wf->lock);
	base = wf->base;
	n = wf->cut == base && !wf->up ? 1 : 0;
	pthread_mutex_unlock(&wf->lock);
	page = base & ~4095ULL;
	if (!n || !base || *off >= base || *off < page || base < wf->ctx->plan.min_part)
		return 0;
	if (!wf->tail) {
		ssize_t got;

		wf->tail = malloc(4096);
		if (!wf->tail)
			return -ENOMEM;
		got = be->ops->read(be, wf->key, page, (size_t)(base - page), wf->tail);
		if (got != (ssize_t)(base - page)) {
			free(wf->tail);
			wf->tail = NULL;
			return got < 0 ? got : -EIO;
		}
		wf->tail_off = page;
	}
	n = (size_t)(base - *off) < *len ? (size_t)(base - *off) : *len;
	if (memcmp(*buf, wf->tail + (*off - wf->tail_off), n))
		return 0;
	*buf += n;
	*len -= n;
	*off += n;
	return (ssize_t)n;
}

/* wf_write past wf_throttle. */
static ssize_t wf_write_staged(struct wfile *wf, const void *data, size_t len, uint64_t off)
{
	const char *buf = data;
	size_t total = len;
	uint64_t end = off + len, fresh, frontier;
	ssize_t rc;
	int moved;

	/* Room first, outside the file's write lock: a write that fills a gap must not queue behind one
	 * that waits for the cache (writeback requests arrive slightly out of order). */
	rc = wf_reserve(wf, len, &off);
	pthread_mutex_lock(&wf->lock);
	wf->claimed -= len;
	pthread_mutex_unlock(&wf->lock);
	if (rc)
		return rc;
	pthread_mutex_lock(&wf->wlock);
	wf_async_ready(wf);
	pthread_mutex_lock(&wf->lock);
	rc = wf->err ? -EIO : 0;
	pthread_mutex_unlock(&wf->lock);
	if (rc)
		goto out;
	rc = wf_skip_tail(wf, &buf, &len, &off);
	if (rc < 0)
		goto out;
	if (rc > 0) {
		pthread_mutex_lock(&wf->lock);
		wf_release_locked(wf, (uint64_t)rc);
		pthread_mutex_unlock(&wf->lock);
		if (!len) {
			rc = (ssize_t)total;
			goto out;
		}
	}
	rc = wf_prepare(wf, off, 0);
	if (rc)
		goto out;
	for (size_t done = 0; done < len;) {
		ssize_t n = pwrite(wf->spool, buf + done, len - done, (off_t)(off + done));

		if (n < 0) {
			rc = -errno;
			log_error("%s: cache dir write failed: %s", wf->path, strerror(errno));
			/* The kernel's writeback may never hand this error to the writer: poison the file,
			 * so its close fails and the bytes written around the hole are not published. An
			 * async file first turns synchronous: its close must report this, and a restarted
			 * upload must never send the hole. */
			wf_async_off(wf, "the cache dir lost a write");
			pthread_mutex_lock(&wf->lock);
			if (!wf->err)
				wf->err = (int)rc;
			pthread_cond_broadcast(&wf->cond);
			pthread_mutex_unlock(&wf->lock);
			goto out;
		}
		done += (size_t)n;
	}
	pthread_mutex_lock(&wf->lock);
	fresh = len - wf_overlap(wf, off, end);
	wf_release_locked(wf, len - fresh);   /* a rewrite of staged bytes costs nothing more */
	if (end > wf->size)
		wf->size = end;
	frontier = wf->seq_end;
	wf_mark_written(wf, off, end);
	moved = wf->seq_end != frontier;
	if (moved)
		pthread_cond_broadcast(&wf->cond);   /* writes waiting in wf_throttle as ahead */
	wf->dirty = wf->written = 1;
	wf->mtime = time(NULL);
	pthread_mutex_unlock(&wf->lock);
	if (moved)
		space_kick(wf->ctx->space);          /* and those waiting in wf_reserve */
	len = 0;   /* the reservation now belongs to the staged bytes */
	rc = wf_cut_ready(wf);
	if (rc && wf_async_failed(wf))
		rc = 0;
	wf_async_check_size(wf);
	if (!rc)
		rc = (ssize_t)total;
out:
	if (len) {
		pthread_mutex_lock(&wf->lock);
		wf_release_locked(wf, len);
		pthread_mutex_unlock(&wf->lock);
	}
	pthread_mutex_unlock(&wf->wlock);
	return rc;
}

ssize_t wf_write(struct wfile *wf, const void *data, size_t len, uint64_t off)
{
	ssize_t rc;

	if (off + len < off || off + len > SNAPFS_MAX_FILE) {
		wf_fail(wf, -EFBIG, NULL);
		return -EFBIG;
	}
	wf_throttle(wf, len, off);
	rc = wf_write_staged(wf, data, len, off);
	pthread_mutex_lock(&wf->lock);
	wf->writing--;
	pthread_cond_broadcast(&wf->cond);   /* a throttled writer may be the one that can go on now */
	pthread_mutex_unlock(&wf->lock);
	if (rc < 0)
		wf_fail(wf, (int)rc, NULL);
	return rc;
}

ssize_t wf_read(struct wfile *wf, void *buf, size_t len, uint64_t off)
{
	struct backend *be = wf->ctx->be;
	uint64_t size, base, cut;
	size_t done = 0;

	pthread_mutex_lock(&wf->lock);
	size = wf->size;
	base = wf->base;
	cut = wf->async ? base : wf->cut;   /* an async file keeps its uploaded parts */
	pthread_mutex_unlock(&wf->lock);
	if (off >= size)
		return 0;
	if (len > size - off)
		len = (size_t)(size - off);
	while (done < len) {
		uint64_t pos = off + done;
		size_t want = len - done;
		ssize_t n;

		if (pos < base) {
			/* the committed head of an append is still the store's object */
			if (want > base - pos)
				want = (size_t)(base - pos);
			n = be->ops->read(be, wf->key, pos, want, (char *)buf + done);
		} else if (pos < cut) {
			/* uploaded and dropped from the cache: the whole read fails, as a short one would
			 * look like the end of the file */
			return -EIO;
		} else {
			n = pread(wf->spool, (char *)buf + done, want, (off_t)pos);
			if (n < 0)
				n = -errno;
			else if (n == 0) {
				/* a hole at the end of the spool reads as zeros */
				memset((char *)buf + done, 0, want);
				n = (ssize_t)want;
			}
		}
		if (n < 0)
			return done ? (ssize_t)done : n;
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

int wf_truncate(struct wfile *wf, uint64_t size)
{
	int rc = 0;

	if (size > SNAPFS_MAX_FILE)
		return -EFBIG;
	pthread_mutex_lock(&wf->wlock);
	wf_async_ready(wf);
	pthread_mutex_lock(&wf->lock);
	if (wf->err) {
		rc = -EIO;
		pthread_mutex_unlock(&wf->lock);
		goto out;
	}
	if (size == wf->size) {
		pthread_mutex_unlock(&wf->lock);
		goto out;
	}
	if (size == 0) {
		/* O_TRUNC or `> file` on an open object: start over */
		wf_settle_locked(wf);
		pthread_mutex_unlock(&wf->lock);
		wf_reset(wf, 1);
		pthread_mutex_lock(&wf->lock);
		wf->size = wf->base = wf->cut = wf->seq_end = 0;
		wf->next_ext = 0;
		wf->mode = WF_STREAM;
		wf->dirty = wf->written = 1;
		wf->mtime = time(NULL);
		pthread_mutex_unlock(&wf->lock);
		goto out;
	}
	pthread_mutex_unlock(&wf->lock);
	rc = wf_prepare(wf, size < wf->size ? size : wf->size, 1);
	if (rc)
		goto out;
	pthread_mutex_lock(&wf->lock);
	if (size > wf->size) {
		uint64_t grow = size - wf->size;

		pthread_mutex_unlock(&wf->lock);
		rc = wf_reserve(wf, grow, NULL);
		if (rc)
			goto out;
		pthread_mutex_lock(&wf->lock);
	} else {
		wf_spool_drop(wf, size, wf->size - size);
		wf_release_locked(wf, wf->size - size);
		if (wf->seq_end > size)
			wf->seq_end = size;
	}
	if (ftruncate(wf->spool, (off_t)size))
		rc = -errno;
	else {
		wf->size = size;
		wf->dirty = wf->written = 1;
		wf->mtime = time(NULL);
	}
	pthread_mutex_unlock(&wf->lock);
	wf_async_check_size(wf);
out:
	pthread_mutex_unlock(&wf->wlock);
	if (rc)
		wf_fail(wf, rc, NULL);
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
