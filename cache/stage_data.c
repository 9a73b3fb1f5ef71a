/* A staged file's data: write (with the per-file throttle and the shared cache space it reserves),
 * read, and truncate, into and out of its spool; an existing object's head is copied in when a change
 * needs it. Parts are cut from here as the contiguous data grows (cache/stage_part.c). */
#include "cache/space.h"
#include "common/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cache/stage_priv.h"

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

