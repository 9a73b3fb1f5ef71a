/* Read path: one read-ahead window pair per open handle. A sequential reader gets windows that double
 * up to the maximum, and the next window is fetched in the background while the current one is read,
 * so a cold `cat` runs at the store's speed; a random reader gets small exact fetches. */
#ifndef SNAPFS_RFILE_H
#define SNAPFS_RFILE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct backend;
struct pool;
struct rfile;

/* key: the object; size: its size at open (reads stop there). max_window: bytes per fetch at most. */
int rfile_open(struct backend *be, struct pool *prefetch, const char *key, uint64_t size, size_t max_window,
	       struct rfile **out);
ssize_t rfile_read(struct rfile *rf, void *buf, size_t len, uint64_t off);
void rfile_close(struct rfile *rf);

#endif
