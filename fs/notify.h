/* Drops the kernel's cached attributes of a path from a thread of its own (--writeback-cache): the
 * notification also waits for the file's pages in writeback, whose WRITE requests the FUSE thread
 * that found the failure must answer first. */
#ifndef SNAPFS_NOTIFY_H
#define SNAPFS_NOTIFY_H

struct fuse;
struct notifier;

/* 0, or -errno (no thread). */
int notify_start(struct notifier **out, struct fuse *f);
/* Queue path (copied): the writer's next write() asks for the attributes again and gets the file's
 * sticky error. Best effort: nothing happens if memory runs out. */
void notify_inval(struct notifier *n, const char *path);
/* Stop the thread (what is queued is dropped: the mount is going away) and free n; a thread stuck
 * in the kernel for 5 s is left to end at the unmount, with n. NULL is fine. */
void notify_stop(struct notifier *n);

#endif
