/* The threads the operations need (part uploads, read-ahead, the delete queue, background uploads of
 * closed files): started after the daemon forked, before FUSE serves, so a failure fails the start-up
 * with its reason instead of exiting from inside FUSE; stopped after the FUSE loop ended. */
#include "cache/delq.h"
#include "cache/pool.h"
#include "cache/rfile.h"
#include "fs/snapfs.h"

#include <errno.h>

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
