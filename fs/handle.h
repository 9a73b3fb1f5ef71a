/* The open handles (fi->fh): one per open() or opendir(), every one of them on one list, so that one
 * writer per path can be enforced and a daemon stopped with files open still owns them. */
#ifndef SNAPFS_HANDLE_H
#define SNAPFS_HANDLE_H

#include <fuse.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

struct wfile;
struct rfile;
struct snapfs;
struct sfs_caller;

enum sfs_hkind { SFS_H_READ, SFS_H_WRITE, SFS_H_STATUS, SFS_H_DIR };

/* One per open(): fi->fh. A write handle shares the file's wfile with every other writer; a read
 * handle of a file being written reads through that wfile too. */
struct sfs_handle {
	enum sfs_hkind kind;
	struct wfile *wf;
	struct rfile *rf;
	pid_t opener;        /* the process that opened: only its flush publishes */
	int flushed;         /* the opener closed a descriptor of it: it may be done with it */
	char *path;          /* at open: libfuse passes NULL paths to ops that have the handle */
	char *doc;           /* status document */
	int stale_logged;    /* a read found the object replaced (logged once) */
	int fail_told;       /* the kernel was told to ask this file's attributes again (once) */
	int releasing;       /* sfs_release let go of wf (which may be freed): only path is left */
	uint64_t seq;        /* listing order: of two writers opening one path at once, the first wins */
	size_t doc_len;
	struct sfs_handle *prev, *next;   /* snapfs.handles */
};

struct sfs_handle *sfs_handle_of(struct fuse_file_info *fi);
/* A new handle of path in fi->fh, opened by who's process. 0 or -ENOMEM. */
int sfs_handle_new(struct snapfs *s, const struct sfs_caller *who, const char *path, struct fuse_file_info *fi,
		   enum sfs_hkind kind, struct sfs_handle **out);
void sfs_handle_free(struct snapfs *s, struct sfs_handle *h);
/* Give h its staged file, under the list's lock: other openers read h->wf there. */
void sfs_handle_set_wf(struct snapfs *s, struct sfs_handle *h, struct wfile *wf);
/* The release is about to close h->wf: from now on the handle list must not touch it. */
void sfs_handle_releasing(struct snapfs *s, struct sfs_handle *h);
/* Its opener closed a descriptor of it: it may be done with it (see sfs_refuse_second_writer). */
void sfs_handle_flushed(struct snapfs *s, struct sfs_handle *h);
/* The path a handle was opened with (libfuse passes NULL paths to ops that have a handle). */
const char *sfs_handle_path(struct fuse_file_info *fi);
/* If fi is an open handle being written, its size and mtime: 1; else 0. */
int sfs_handle_attr(struct fuse_file_info *fi, uint64_t *size, time_t *mtime);
/* -EIO if fi is a handle being written whose file has failed (the sticky error); else 0. */
int sfs_handle_error(struct fuse_file_info *fi);
/* Every handle of wf now has path (a rename of the open file). */
void sfs_handles_renamed(struct snapfs *s, struct wfile *wf, const char *path);
/* One writer per path: 0, or -EBUSY (logged, naming what was refused) when a process other than who's
 * has key open for writing. mine: the caller's own write handle, listed before this check so that two
 * openers at once cannot both pass it (NULL: none). */
int sfs_refuse_second_writer(struct snapfs *s, const struct sfs_caller *who, const char *path, const char *key,
			     const char *what, const struct sfs_handle *mine);

#endif
