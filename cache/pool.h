/* A fixed set of worker threads that run jobs in FIFO order: the parallel part uploads. */
#ifndef SNAPFS_POOL_H
#define SNAPFS_POOL_H

typedef void (*job_fn)(void *arg);

struct pool;

int pool_new(struct pool **out, unsigned threads);
/* Queue fn(arg). Never fails once the pool exists (the job node is preallocated by the caller's
 * memory: -ENOMEM only). */
int pool_submit(struct pool *p, job_fn fn, void *arg);
/* Run every queued job, then stop and free the threads. */
void pool_free(struct pool *p);

#endif
