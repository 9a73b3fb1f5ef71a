/* The FUSE operations, split by concern: ops.c (lookup, listing, the table), ops_tree.c (folders,
 * unlink, rename), ops_file.c (open files: the write-back and read paths); below them resolve.c (what
 * is at a path) and handle.c (the open handles), which they share. */
#ifndef SNAPFS_OPS_H
#define SNAPFS_OPS_H

#include <fuse.h>

#include "cache/meta.h"

#define STATUS_DIR "/.snapfs"
#define STATUS_FILE "/.snapfs/status"

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

#endif
