/* Between the staging layer (cache/stage.c) and its background uploads of closed files
 * (cache/stage_async.c): not for anyone else. */
#ifndef SNAPFS_STAGE_ASYNC_H
#define SNAPFS_STAGE_ASYNC_H

#include "cache/stage.h"

/* Queue a closed file whose reference now belongs to the queue. recovered: closed before a restart. */
void stage_async_push(struct stage_ctx *c, struct wfile *wf, int recovered);
/* One upload attempt: 0 when stored (or dropped: it was deleted); -errno with every byte kept. */
int wf_async_upload(struct wfile *wf);
/* A closed file from the journal, as a queued wfile with the queue's reference; NULL on ENOMEM. */
struct wfile *wf_adopt(struct stage_ctx *c, const char *key, const char *path, int fd, uint64_t size,
		       const char *rec);

/* cache/stage_wf.c */
const char *wf_path(const struct wfile *wf);
/* Let go of a queued file's reference (the queue's, after its upload or its drop). */
void wf_put_queued(struct wfile *wf);

#endif
