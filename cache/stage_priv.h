/* Inside the staging layer: the open file's state, shared by the cache/stage*.c files (listed below,
 * top to bottom). Not for anyone else.
 *
 * LOCKS, in the order they may be taken (a lock is only taken while holding those above it):
 *   1. wf->wlock    one writer, part cutter or committer of a file at a time; held across blocking
 *                   work (store reads, the put, upload begin and commit, digests, journal writes;
 *                   the background upload holds it for its whole attempt). Never two files' at once.
 *   2. ctx->lock    the list of files and their references (wf->refs); wf->unlinked and wf->stored are
 *                   written under it too, so a lookup sees them. c->gone is its condition.
 *   3. wf->lock     the file's fields; never held while blocking on the store (wf->cond is its
 *                   condition: parts done, the frontier moved, a commit landed, an upload attempt ended).
 *   4. leaves, taken under any of the above and holding nothing else: space->lock (wf_release_locked),
 *      pool->lock (wf_pump submits parts), outcomes->lock (outcome_record), journal->lock (a record's
 *      id), the async queue's q->lock (nothing of a file is held when it is taken).
 * So ctx->lock is never taken under wf->lock: wf_lock_quiet drops wf->lock before it takes ctx->lock
 * again. Part uploads run in the pool with no lock held and take only wf->lock to report. The one
 * store request under ctx->lock is stage_shutdown's upload_abort, at unmount.
 *
 * STATES of a staged file: enum wf_state below names the current one (wf_state_locked); they are
 * not one field because some flags are marks that cross states (unlinked, async, doomed, kept).
 *   IDLE         nothing staged since open or the last commit (!dirty). Data: the store's object, if
 *                any; spool empty. No upload. getattr: the store's. write/truncate -> STREAMING or
 *                STAGING; the last close frees it; rename: the caller moves the object.
 *   STREAMING    dirty, mode WF_STREAM: [base, cut) went out as parts (acknowledged ones punched from
 *                the spool, unless async), [cut, size) is in the spool; the upload is open once the
 *                first full part is cut. getattr: staged (size, mtime here). A write below cut with an
 *                upload open fails (-EINVAL); one before any upload, or a truncate to a non-zero size,
 *                -> STAGING (a truncate to 0 starts over here); flush or the last close -> COMMITTING;
 *                a failed part or write -> FAILED; the last close of an async file -> QUEUED.
 *   STAGING      dirty, mode WF_WHOLE: the whole file in the spool (the object's head copied in when
 *                rewritten in the middle), no eager parts (also an async file paused after a failed
 *                part). Moves on as STREAMING, its parts all cut at commit.
 *   COMMITTING   committing, not queued: wf_publish under wlock (last parts, the commit or one put).
 *                getattr: staged. unlink and rename wait for it. Success -> IDLE (base = size, the
 *                spool reset); failure -> FAILED (kept: the upload stays in the store for snapctl retry).
 *   FAILED       err set, not queued: sticky; nothing is published; the upload is aborted and the
 *                spool dropped at the next flush or close, which fail with EIO (counted once:
 *                reported). getattr: the store's. An async file that is not doomed (wf_fail) starts
 *                its upload over instead (wf_async_restart), at its next change (back to STREAMING or
 *                STAGING) or in the background after its close.
 *   QUEUED       queued, not stored, no attempt running: an async file's last handle closed; the
 *                queue holds its reference. Data: the whole file in the spool, named by a closed
 *                record in the journal (wf->rec); an upload may be open from eager parts. getattr:
 *                staged; readers find it, a new writer of the name waits for STORED. The queue's
 *                attempt -> UPLOADING_CLOSED.
 *   UPLOADING_CLOSED  queued, committing: wf_async_upload under wlock. Success -> STORED; failure ->
 *                QUEUED again (failures++, wakes fsync waiters with EIO; tried again with backoff).
 *   STORED       queued and stored: in the store, record dropped; readers still holding it read the
 *                store, the spool stays until the last reference goes (then freed); lookups skip it.
 * unlinked marks a file in any state: lookups skip it, a commit publishes nothing and aborts the
 * upload, a queued one is dropped (its record goes at the unlink), one that was uploading is removed
 * from the store after it lands. */
#ifndef SNAPFS_STAGE_PRIV_H
#define SNAPFS_STAGE_PRIV_H

#include "cache/stage.h"
#include "cache/digest.h"

#include <pthread.h>
#include <stdint.h>
#include <time.h>

/* Out-of-order writes ahead of the contiguous frontier (the kernel's writeback may send pages in any
 * order): remembered so the frontier can jump over them once the gap fills. */
#define WF_MAX_EXT 64
#define DL_CHUNK (8 * MIB)
/* how far FUSE writeback requests overtake each other: max_background x max_write (fs/ops.c) */
#define WF_HEADROOM (16 * MIB)

struct extent {
	uint64_t start, end;
};

struct wfile {
	struct stage_ctx *ctx;
	struct wfile *next;          /* ctx->files */
	char *key, *path;            /* the name; changed by a rename under ctx->lock and lock */
	char *ukey;                  /* renamed while its upload was open: the upload's key, moved to key
				      * once committed (NULL: key). Guarded by wlock */
	char *retired[8];            /* names before renames: other threads may still be logging them */
	unsigned nretired;
	unsigned refs;               /* guarded by ctx->lock */

	pthread_mutex_t wlock;       /* one writer/committer at a time: held across blocking work */
	pthread_mutex_t lock;        /* the fields below; never held while blocking on the store */
	pthread_cond_t cond;         /* inflight changes */

	int spool;                   /* object offset == spool offset */
	enum wf_mode mode;
	uint64_t obj_size;           /* the committed object's size (0: none) */
	int obj_exists;
	uint64_t size;               /* logical size */
	uint64_t base;               /* [0, base) stays in the store and is carried into the upload */
	uint64_t cut;                /* parts cover [base, cut) */
	uint64_t seq_end;            /* everything in [cut, seq_end) has been written */
	struct extent ext[WF_MAX_EXT];
	unsigned next_ext;
	uint64_t reserved;           /* cache space this file holds */
	uint64_t claimed;            /* writes past wf_throttle, not yet in reserved */
	unsigned writing;            /* writes past wf_throttle, not yet done (staged and cut) */
	int dirty;
	int written;                 /* a write or truncate since open or the last commit */
	int unlinked;
	int committing;
	int err;                     /* sticky: the first failure of a part, a write or the writer */
	int reported;                /* the failure was logged and counted */
	int doomed;                  /* wf_fail: never published, not even by an --async-close retry */
	struct upload *up;
	unsigned next_part, nsubmitted, inflight, parts_done;
	struct part *pending;        /* cut but not yet submitted (in-order stores, or pool limit) */
	unsigned npending, cap_pending;
	uint64_t uploaded;
	time_t mtime, started;
	uint64_t jid;                /* crash journal record of the open upload (0: none) */
	int kept;                    /* the last commit failed and its upload was kept (stage_commit.c) */
	char *tail;                  /* the committed object's last partial page, [tail_off, base) */
	uint64_t tail_off;
	struct digest dg;            /* whole-file SHA-256 of [0, cut); guarded by wlock */

	/* --async-close (guarded by lock; queued and stored also by ctx->lock) */
	int async;                   /* the whole file stays in the spool (no punching) and its close
				      * returns once the data is safe in the cache dir */
	int paused;                  /* eager parts stopped after an upload failure: all go at close */
	int queued;                  /* closed: the background upload owns it, with one reference */
	int stored;                  /* the background upload is done: found no more */
	unsigned failures;           /* failed background attempts, for fsync waiters */
	char rec[64];                /* its closed record in the crash journal ("": none) */
};

/* The states of the table above, as stage_foreach reports them. */
enum wf_state {
	WF_S_IDLE, WF_S_STREAMING, WF_S_STAGING, WF_S_COMMITTING, WF_S_FAILED, WF_S_QUEUED,
	WF_S_UPLOADING_CLOSED, WF_S_STORED
};

/* The current state, from the flags. Caller holds wf->lock. */
static inline enum wf_state wf_state_locked(const struct wfile *wf)
{
	return wf->queued ? (wf->stored ? WF_S_STORED : wf->committing ? WF_S_UPLOADING_CLOSED : WF_S_QUEUED)
	       : wf->err ? WF_S_FAILED : wf->committing ? WF_S_COMMITTING
	       : !wf->dirty ? WF_S_IDLE : wf->mode == WF_STREAM ? WF_S_STREAMING : WF_S_STAGING;
}

struct part_job {
	struct wfile *wf;
	struct part p;
};

/* The staging files, each calling only those below it:
 *   cache/stage.c          the public entry points for a file's life (open, flush, close, rename...)
 *   cache/stage_data.c     the public entry points for its data (write, read, truncate)
 *   cache/stage_async.c    the background queue of closed --async-close files
 *   cache/stage_keep.c     an --async-close file: kept whole, persisted at close, uploaded from the queue
 *   cache/stage_publish.c  the last parts and the commit (or one put) of a file
 *   cache/stage_commit.c   the store's commit of a chunked upload, retried, kept on failure
 *   cache/stage_part.c     cutting, submitting and settling parts; the crash-journal records
 *   cache/stage_wf.c       a wfile's allocation, references, names, cache space and spool blocks, failure
 * Caller conventions as at their definitions. */

/* cache/stage_wf.c */
/* Where the upload or put goes: the key the upload was opened under, else the name. Caller holds wlock. */
const char *wf_store_key(const struct wfile *wf);
/* A new wfile of one reference for key, with its spool (owned from then on); NULL when out of memory
 * (the caller still owns spool). Not yet in the stage's list. */
struct wfile *wf_new(struct stage_ctx *c, const char *key, const char *path, int spool);
void wf_discard(struct wfile *wf);
void wf_free(struct wfile *wf);
void wf_release_locked(struct wfile *wf, uint64_t n);
void wf_spool_drop(struct wfile *wf, uint64_t off, uint64_t len);

/* cache/stage_part.c */
void wf_digest_to(struct wfile *wf, uint64_t end);
int wf_queue_part(struct wfile *wf, uint64_t len);
int wf_begin(struct wfile *wf);
int wf_cut_ready(struct wfile *wf);
void wf_settle_locked(struct wfile *wf);
void wf_journal_done(struct wfile *wf);
void wf_closed_done(struct wfile *wf);
void wf_reset(struct wfile *wf, int aborted);

/* cache/stage_commit.c: the upload's commit, retried for commit_retry_s; on failure it is kept
 * (*kept set) or aborted. wf->up is gone either way. Caller holds wlock, nothing in flight. */
int wf_commit_upload(struct wfile *wf, const char *hex, int *kept);

/* cache/stage_publish.c */
int wf_publish(struct wfile *wf);

/* cache/stage_keep.c, for cache/stage.c */
void wf_async_restart(struct wfile *wf, int whole);
void wf_async_off(struct wfile *wf, const char *why);
int wf_async_persist(struct wfile *wf);
void wf_async_ready(struct wfile *wf);
int wf_async_failed(struct wfile *wf);
void wf_async_check_size(struct wfile *wf);

#endif
