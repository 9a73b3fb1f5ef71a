/* The FUSE operations, split by concern: ops.c (lookup, listing, the table), ops_tree.c (folders,
 * unlink, rename), ops_file.c (open files: the write-back and read paths). */
#ifndef SNAPFS_OPS_H
#define SNAPFS_OPS_H

#include <fuse.h>

#include "cache/meta.h"

#define STATUS_DIR "/.snapfs"
#define STATUS_FILE "/.snapfs/status"

/* What is at path: a file (with size), a folder, or nothing (META_NONE). Uses and fills the metadata
 * cache; open files being written count with their current size. 0 or -errno (store errors). */
int resolve(const char *path, struct meta_entry *out);
/* Does the store hold anything for the folder at path (its marker, or objects below it)? 1, 0 or
 * -errno. */
int folder_in_store(const char *path);
/* Wait for the queued deletes of path and below it (fs/ops_tree.c): 0, or -EIO if one failed. */
int settle(const char *path);
/* Forget what the cache knows of path and of its parent folder listing. */
void forget(const char *path);

int op_mkdir(const char *path, mode_t mode);
int op_rmdir(const char *path);
int op_unlink(const char *path);
int op_rename(const char *from, const char *to, unsigned int flags);

int op_opendir(const char *path, struct fuse_file_info *fi);
int op_releasedir(const char *path, struct fuse_file_info *fi);
int op_create(const char *path, mode_t mode, struct fuse_file_info *fi);
int op_open(const char *path, struct fuse_file_info *fi);
int op_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi);
int op_write(const char *path, const char *buf, size_t size, off_t off, struct fuse_file_info *fi);
int op_flush(const char *path, struct fuse_file_info *fi);
int op_fsync(const char *path, int datasync, struct fuse_file_info *fi);
int op_release(const char *path, struct fuse_file_info *fi);
int op_truncate(const char *path, off_t size, struct fuse_file_info *fi);
int op_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi);
/* The path a handle was opened with (libfuse passes NULL paths to ops that have a handle). */
const char *handle_path(struct fuse_file_info *fi);
/* If fi is an open handle being written, its size and mtime: 1; else 0. */
int handle_attr(struct fuse_file_info *fi, uint64_t *size, time_t *mtime);
struct wfile;
/* Every handle of wf now has path (a rename of the open file). */
void handles_renamed(struct wfile *wf, const char *path);

#endif
