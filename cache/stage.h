/* Write-back staging: one `struct wfile` per object being written, shared by every open handle of it.
 *
 * Bytes land in a spool file in the cache dir at their object offset (a sparse file). In stream mode a
 * part is cut as soon as the contiguous data ahead of the last cut reaches the part size, handed to
 * the upload pool, and its spool range is punched out once the store acknowledges it, so a file of any
 * size needs only (parts in flight + 1) x part size of cache. A write below what has been handed out
 * switches the file to whole-file staging while nothing has left yet, and is refused (-EINVAL) after.
 * The object becomes visible only at commit (the opener's flush or the last release), never before. */
#ifndef SNAPFS_STAGE_H
#define SNAPFS_STAGE_H

#include "backends/backend.h"
#include "cache/outcome.h"
#include "cache/partsize.h"

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

struct space;
struct pool;
struct journal;
struct asyncq;

struct stage_ctx {
	struct backend *be;
	struct space *space;
	struct pool *pool;
	struct journal *journal;   /* NULL: uploads are not recorded for crash recovery */
	struct part_plan plan;
	const char *cache_dir;
	unsigned uploads;          /* parts in flight per file (1 when the store wants order) */
	unsigned file_parts;       /* a streaming file holds at most this many parts of cache (--uploads + 1) */
	pthread_mutex_t lock;      /* guards the list and the references */
	pthread_cond_t gone;       /* a wfile left the list */
	struct wfile *files;
	uint64_t committed, failed, bytes_uploaded;
	uint64_t async_limit;      /* --async-close: files up to this size close asynchronously (0: off) */
	struct asyncq *aq;         /* their background uploads (cache/stage_async.c) */
	struct outcomes outcomes;  /* how the last write sessions ended, for status and snapctl wait */
	int commit_retry_s;        /* --commit-retry: how long a refused commit is tried again */
};

enum wf_mode { WF_STREAM, WF_WHOLE };

struct wf_status {
	char path[1024];
	uint64_t size, uploaded;
	unsigned inflight, parts_done;
	const char *state;          /* "streaming", "staging", "committing", "failed", "idle", or for a
				     * closed file: "closed, waiting", "uploading closed", "stored" */
	int queued;                 /* closed, waiting for its background upload */
	int unlinked;               /* removed or replaced while open: it has no name any more */
	int err;
	time_t started;
	double rate_bps;
};

int stage_init(struct stage_ctx *c, struct backend *be, struct space *space, struct pool *pool,
	       const char *cache_dir, uint64_t part_size, unsigned uploads, char **why);
void stage_destroy(struct stage_ctx *c);

/* The wfile of key if one is open for writing, with a new reference; NULL otherwise. */
struct wfile *wf_find(struct stage_ctx *c, const char *key);
/* Like wf_find, and also a closed file whose upload still runs in the background (--async-close):
 * for readers, getattr, unlink and rename. */
struct wfile *wf_find_any(struct stage_ctx *c, const char *key);
/* Closed and waiting for its background upload. */
int wf_queued(struct wfile *wf);
/* Open key for writing (a new reference). existing: the object's info when it exists in the store,
 * else NULL. trunc: start empty (O_TRUNC, create). path is the mount path, for logs and status. */
int wf_open(struct stage_ctx *c, const char *key, const char *path, const struct obj_info *existing,
	    int trunc, struct wfile **out);
/* Drop a reference; the last one commits what is still pending (release) and frees. Returns the
 * commit's result (which FUSE cannot pass on, but logs). */
int wf_close(struct wfile *wf);

ssize_t wf_write(struct wfile *wf, const void *buf, size_t len, uint64_t off);
ssize_t wf_read(struct wfile *wf, void *buf, size_t len, uint64_t off);
int wf_truncate(struct wfile *wf, uint64_t size);
/* Make the object complete and visible now. 0 or -EIO; a failure is sticky. */
int wf_commit(struct wfile *wf);
/* The opener's close: commit if anything was written since open or the last commit. A bare creat()
 * or O_TRUNC is published by the last release instead, so that the shell's `> f` (open, dup2, close)
 * does not publish an empty file before the command has written a byte. */
int wf_flush(struct wfile *wf);
/* fsync: wait for the parts in flight; the sticky error if one failed. Publishes nothing: a dump is
 * never visible half-written. An async file turns synchronous (its close then waits for the store); a
 * closed one waiting for its background upload is waited for (-EIO if an attempt fails meanwhile). */
int wf_sync(struct wfile *wf);
/* The error a flush by a non-opener reports: 0 or -EIO. */
int wf_error(struct wfile *wf);
/* Size and mtime of the staged file; 1 if they are what the mount shows (data not yet in the store,
 * no failure), 0 if the store's object is what counts (stored, or failed). */
int wf_getattr(struct wfile *wf, uint64_t *size, time_t *mtime);
void wf_set_mtime(struct wfile *wf, time_t mtime);
/* The object was unlinked (or replaced by a rename) while open: the data is discarded at commit
 * instead of published. A commit already in flight lands first (the caller deletes after). */
void wf_unlink(struct wfile *wf);
/* Sticky failure (err: a negative errno): every later write, fsync and close gets EIO, and nothing
 * is published; the upload is aborted at the last close. why: logged once as the reason it was not
 * stored (NULL: the commit logs it). */
void wf_fail(struct wfile *wf, int err, const char *why);
/* Wait until no file of key is being published by its last release (a close returns before that
 * release runs). 1 if it waited: what the store holds for key may have changed. */
int stage_wait_released(struct stage_ctx *c, const char *key);
/* Rename a staged file: from now on it is found, and committed, under key (once an upload is open,
 * it is committed under the old key and then moved). old_obj tells the caller what to do with the
 * old name's stored object: WF_OLD_MOVE, move it (the file has nothing unpublished), WF_OLD_DROP,
 * delete it (an earlier version the open file replaces), WF_OLD_NONE, nothing. -EBUSY for an append
 * session or an upload open over an existing object (the old name's object cannot go first). */
enum { WF_OLD_NONE, WF_OLD_MOVE, WF_OLD_DROP };
int wf_rename(struct wfile *wf, const char *key, const char *path, int *old_obj);
/* Before a folder rename: -EBUSY if a file under the key prefix is open; waits for those closed and
 * still uploading or publishing (0, or how an upload failed). */
int stage_quiesce_under(struct stage_ctx *c, const char *prefix);
const char *wf_key(const struct wfile *wf);
/* Removed (rm, or replaced by a rename) while open: its data is dropped at close. */
int wf_unlinked(struct wfile *wf);

/* Snapshot the open files for status: calls fn for each. */
void stage_foreach(struct stage_ctx *c, void (*fn)(void *arg, const struct wf_status *st), void *arg);
/* Number of wfiles alive (for the unmount wait). */
unsigned stage_active(struct stage_ctx *c);
/* At exit, after the upload pool has drained: name every file still open for writing and abort its
 * upload; nothing incomplete is published. */
void stage_shutdown(struct stage_ctx *c);

/* --- asynchronous close (cache/stage_async.c) ---
 * With async_limit set, a new or truncated file up to that size keeps all its bytes in the spool; its
 * close makes them durable in the cache dir (journal record + named spool) and returns; one background
 * thread uploads closed files in order, retrying with backoff, and never drops one that failed. A file
 * that grows past the limit, or is fsync'ed, turns synchronous for the rest of its life. */
/* Start the background thread (after the daemon forked) and queue the closed files a previous daemon
 * left in the journal. 0 or -errno. */
int stage_async_start(struct stage_ctx *c);
/* Before the upload pool stops (unmount, SIGTERM): one last attempt for every closed file right away;
 * what is not stored stays in the journal for the next mount, each named in the log. */
void stage_async_stop(struct stage_ctx *c);
/* Closed files waiting for their upload. */
unsigned stage_async_waiting(struct stage_ctx *c);

#endif
