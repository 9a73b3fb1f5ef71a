/* The daemon's state, and who calls: every operation below the FUSE wrappers (fs/ops.c) takes both
 * explicitly, so a unit test can drive them in-process without a mount. */
#ifndef SNAPFS_SNAPFS_H
#define SNAPFS_SNAPFS_H

#include "backends/backend.h"
#include "backends/secret.h"
#include "cache/meta.h"
#include "cache/space.h"
#include "cache/stage.h"
#include "fs/options.h"

#include <pthread.h>
#include <sys/types.h>
#include <time.h>

struct delq;
struct dirlist;
struct pool;
struct fuse;
struct sfs_handle;

struct snapfs {
	struct config cfg;
	struct source src;
	struct secret secret;
	struct backend_conf bconf;
	struct backend be;
	int be_open;
	struct space space;
	struct pool *uploads;      /* part uploads */
	struct pool *prefetch;     /* read-ahead */
	struct stage_ctx stage;
	int stage_ready;
	struct journal *journal;
	struct meta *meta;
	struct dirlist *lists;     /* recent folder listings */
	struct fresh *fresh;       /* folders this mount made: names it never met are absent */
	struct delq *delq;         /* deletes on their way to the store (unlink) */
	struct notifier *notify;   /* --writeback-cache: tells the kernel of a failed file; NULL else */
	int devnull;               /* an empty body for folder markers */
	uid_t uid;
	gid_t gid;
	time_t started;
	/* every open handle, so a daemon stopped with files open still owns them (the kernel never
	 * releases those), and one writer per path can be enforced */
	pthread_mutex_t handles_lock;
	pthread_cond_t handle_gone;   /* a handle was released */
	struct sfs_handle *handles;
	uint64_t handle_seq;          /* the last handle's number (sfs_handle.seq) */
};

/* Who asks for an operation: what fuse_get_context() says of the request. */
struct sfs_caller {
	pid_t pid;            /* the calling thread (FUSE reports threads, not processes) */
	uid_t uid;
	gid_t gid;
	struct fuse *fuse;    /* to drop the kernel's cached attributes of a path; NULL: none (tests) */
};

/* fs/start.c: the cache space, staging, crash journal (records a crash left are handled now) and the
 * metadata caches of a mount whose store is open (s->be) and whose s->cfg is parsed: 0, or -errno with
 * a malloc'd one-line *why (NULL: out of memory). sfs_free frees them (after sfs_stop); safe after a
 * partial sfs_prepare. */
int sfs_prepare(struct snapfs *s, char **why);
void sfs_free(struct snapfs *s);
/* fs/start.c: the threads and queues the operations need, started after the daemon forked and before
 * FUSE serves: 0, or -errno with a one-line *why (static text). sfs_stop drains and stops them (every
 * queued part and delete runs first) and names the files still open; safe after a partial start. */
int sfs_start(struct snapfs *s, const char **why);
void sfs_stop(struct snapfs *s);

/* fs/status.c: the JSON document behind MOUNTPOINT/.snapfs/status, malloc'd */
char *status_json(struct snapfs *s, size_t *len);

/* fs/proc.c: the thread group (process) of a thread id, or pid itself if unknown */
pid_t proc_tgid_of(pid_t pid);
/* 1 if thread tid is exiting (its files are being closed by its death) with a signal or a non-zero
 * status, described in why: such a close is not the end of a successful write. */
int proc_died_failing(pid_t tid, char *why, size_t n);

#endif
