/* What the operations need besides the store: the staging, crash journal and caches (sfs_prepare, before
 * the daemon forks), then the threads (part uploads, read-ahead, the delete queue, background uploads of
 * closed files: sfs_start, after the fork and before FUSE serves, so a failure fails the start-up with
 * its reason instead of exiting from inside FUSE); stopped after the FUSE loop ended. The daemon
 * (fs/main.c) and the in-process tests (tests/unit/test_ops.c) set a mount up the same way. */
#include "cache/delq.h"
#include "cache/dirlist.h"
#include "cache/fresh.h"
#include "cache/journal.h"
#include "cache/pool.h"
#include "cache/rfile.h"
#include "fs/snapfs.h"

#include <errno.h>
#include <stdlib.h>

int sfs_prepare(struct snapfs *s, char **why)
{
	int rc;

	space_init(&s->space, s->cfg.cache_size);
	rc = stage_init(&s->stage, &s->be, &s->space, NULL, s->cfg.cache_dir, s->cfg.part_size, s->cfg.uploads, why);
	if (rc)
		return rc;
	rc = journal_open(&s->journal, s->cfg.cache_dir, s->cfg.source, s->cfg.mountpoint, &s->be, why);
	if (rc)
		return rc;
	s->stage.journal = s->journal;
	s->stage.commit_retry_s = s->cfg.commit_retry_s;
	if (s->cfg.async_close)
		s->stage.async_limit = s->cfg.cache_size / 2;
	s->meta = meta_new(s->cfg.meta_ttl_ms);
	/* listings are kept only long enough for back-to-back readers (rm -r), like the kernel's entries */
	s->lists = dirlist_new(s->cfg.meta_ttl_ms < 1000 ? s->cfg.meta_ttl_ms : 1000);
	s->fresh = fresh_new(s->cfg.meta_ttl_ms);
	if (!s->meta || !s->lists || (s->cfg.meta_ttl_ms && !s->fresh))
		return -ENOMEM;
	return 0;
}

void sfs_free(struct snapfs *s)
{
	journal_close(s->journal);
	s->journal = NULL;
	if (s->stage.cache_dir) {
		stage_destroy(&s->stage);
		space_destroy(&s->space);
		s->stage.cache_dir = NULL;
	}
	meta_free(s->meta);
	dirlist_free(s->lists);
	fresh_free(s->fresh);
	s->meta = NULL;
	s->lists = NULL;
	s->fresh = NULL;
}

/* keys whose delete is queued at most; unlink waits beyond (about 2 MB) */
#define DELQ_CAP 10000

int sfs_start(struct snapfs *s, const char **why)
{
	pthread_mutex_init(&s->handles_lock, NULL);
	pthread_cond_init(&s->handle_gone, NULL);
	/* read-ahead: two files at full depth at once */
	if (pool_new(&s->uploads, s->cfg.uploads * 2 + 2) || pool_new(&s->prefetch, 2 * RFILE_SLOTS)) {
		*why = "cannot start worker threads";
		return -EAGAIN;
	}
	if (delq_new(&s->delq, &s->be, s->meta, s->lists, DELQ_CAP)) {
		*why = "cannot start the delete thread";
		return -EAGAIN;
	}
	s->stage.pool = s->uploads;
	if (stage_async_start(&s->stage)) {
		*why = "cannot start the background upload thread";
		return -EAGAIN;
	}
	s->stage_ready = 1;
	return 0;
}

void sfs_stop(struct snapfs *s)
{
	/* closed files still uploading get one last attempt; the rest stay for the next mount */
	stage_async_stop(&s->stage);
	/* the pools run every queued part before they stop: nothing in flight is dropped */
	pool_free(s->uploads);
	pool_free(s->prefetch);
	s->uploads = s->prefetch = NULL;
	s->stage.pool = NULL;
	/* files still open: named, their uploads aborted; nothing incomplete is published */
	if (s->stage_ready)
		stage_shutdown(&s->stage);
	s->stage_ready = 0;
	/* deletes still queued are done before exit: unlink promised them */
	delq_free(s->delq);
	s->delq = NULL;
}
