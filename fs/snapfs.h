/* The daemon's state, shared by the FUSE operations (fuse_get_context()->private_data). */
#ifndef SNAPFS_SNAPFS_H
#define SNAPFS_SNAPFS_H

#include "backends/backend.h"
#include "backends/secret.h"
#include "cache/meta.h"
#include "cache/space.h"
#include "cache/stage.h"
#include "fs/options.h"

#include <sys/types.h>
#include <time.h>

struct delq;
struct dirlist;
struct pool;

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
	int devnull;               /* an empty body for folder markers */
	uid_t uid;
	gid_t gid;
	time_t started;
};

struct fuse_operations;
extern const struct fuse_operations snapfs_ops;

/* fs/status.c: the JSON document behind MOUNTPOINT/.snapfs/status, malloc'd */
char *status_json(struct snapfs *s, size_t *len);

/* fs/proc.c: the thread group (process) of a thread id, or pid itself if unknown */
pid_t tgid_of(pid_t pid);
/* 1 if thread tid is exiting (its files are being closed by its death) with a signal or a non-zero
 * status, described in why: such a close is not the end of a successful write. */
int proc_died_failing(pid_t tid, char *why, size_t n);

#endif
