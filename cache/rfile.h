/* Read path of committed objects: RFILE_SLOTS windows per open handle. A sequential reader gets
 * windows that grow from 1 MiB to the maximum, and the windows after the one being read are fetched
 * in parallel on the prefetch pool (one ranged GET each), so a cold `cat` runs at the store's speed;
 * a random reader gets small exact fetches. Memory per open handle: at most RFILE_SLOTS x max_window
 * (buffers are allocated on first use, and only the bytes fetched are touched). */
#ifndef SNAPFS_RFILE_H
#define SNAPFS_RFILE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define RFILE_SLOTS 4

struct backend;
struct pool;
struct rfile;

/* key: the object; size: its size at open (reads stop there). max_window: bytes per fetch at most.
 * prefetch: the pool that runs read-ahead (NULL: none, every fetch is in the reader's thread). */
int rfile_open(struct backend *be, struct pool *prefetch, const char *key, uint64_t size, size_t max_window,
	       struct rfile **out);
/* The kernel does not hold a size for this handle (direct I/O): the first read takes the object's. */
void rfile_size_from_object(struct rfile *rf);
/* Bytes read, 0 at the end, or -errno: -ESTALE once the object is not the version the handle began
 * with (or not the size it had at open), for good. */
ssize_t rfile_read(struct rfile *rf, void *buf, size_t len, uint64_t off);
/* Waits for the handle's fetches in flight, then frees it. */
void rfile_close(struct rfile *rf);

#endif
