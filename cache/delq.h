/* The delete queue: unlink returns at once and a background thread deletes the queued keys in
 * batches (one backend remove() of up to 1,000 keys: one DeleteObjects on S3), so `rm -r` of a
 * snapshot costs a few requests instead of one per file. Until a delete is confirmed its key is
 * "queued": the mount shows it as gone. Operations that could see or reuse such a key (rmdir,
 * rename, create) wait for it first with delq_wait(), which also reports a delete that failed. */
#ifndef SNAPFS_DELQ_H
#define SNAPFS_DELQ_H

struct backend;
struct dirlist;
struct meta;

struct delq;

/* cap: keys queued or being deleted at most (delq_add waits beyond it). meta and lists may be NULL:
 * a delete that fails drops its path from meta, so the object shows again as the store has it; every
 * batch done makes the kept listings stale. */
int delq_new(struct delq **out, struct backend *be, struct meta *meta, struct dirlist *lists, unsigned cap);
/* Deletes everything still queued, then stops the thread and frees. NULL is fine. */
void delq_free(struct delq *q);
/* Queue the delete of key; path is its mount path (for the metadata cache). Waits while full. */
int delq_add(struct delq *q, const char *key, const char *path);
/* 1 if key is queued or being deleted (the mount must not show it), else 0. */
int delq_has(struct delq *q, const char *key);
/* A listing of the store is about to be sent: returns a mark for delq_hides. A listing answered
 * before a delete finished may still hold the deleted key; until delq_list_end, the queue remembers
 * keys deleted since the mark. */
unsigned long delq_list_begin(struct delq *q);
void delq_list_end(struct delq *q);
/* 1 if a listing begun at mark since must not show key: its delete is queued, running, or finished
 * after the listing began. */
int delq_hides(struct delq *q, const char *key, unsigned long since);
/* Wait until no delete of key, or of a key below "key/", is queued or running. -EIO if one of
 * them failed since it was queued (each failure is reported to one waiter), else 0. */
int delq_wait(struct delq *q, const char *key);

#endif
