/* The file system's operations, each with the state and the caller explicit: ops.c holds the FUSE table,
 * whose thin wrappers read fuse_get_context() once and call these. Split by concern: ops_dir.c (lookup,
 * listing, statfs), ops_tree.c (folders, unlink, rename), ops_file.c (open files: the write-back and
 * read paths); below them resolve.c (what is at a path) and handle.c (the open handles).
 * Arguments after (s, who) are FUSE's own, and so are the results: 0, a count, or -errno. */
#ifndef SNAPFS_OPS_H
#define SNAPFS_OPS_H

#include <fuse.h>

#include "fs/snapfs.h"

#define SFS_STATUS_DIR "/.snapfs"
#define SFS_STATUS_FILE "/.snapfs/status"

extern const struct fuse_operations sfs_fuse_ops;

int sfs_getattr(struct snapfs *s, const struct sfs_caller *who, const char *path, struct stat *st,
		struct fuse_file_info *fi);
int sfs_readdir(struct snapfs *s, const struct sfs_caller *who, const char *path, void *buf,
		fuse_fill_dir_t filler,
		off_t off, struct fuse_file_info *fi, enum fuse_readdir_flags flags);
int sfs_statfs(struct snapfs *s, const struct sfs_caller *who, const char *path, struct statvfs *sv);

int sfs_mkdir(struct snapfs *s, const struct sfs_caller *who, const char *path, mode_t mode);
int sfs_rmdir(struct snapfs *s, const struct sfs_caller *who, const char *path);
int sfs_unlink(struct snapfs *s, const struct sfs_caller *who, const char *path);
int sfs_rename(struct snapfs *s, const struct sfs_caller *who, const char *from, const char *to,
	       unsigned int flags);

int sfs_opendir(struct snapfs *s, const struct sfs_caller *who, const char *path, struct fuse_file_info *fi);
int sfs_releasedir(struct snapfs *s, const struct sfs_caller *who, const char *path, struct fuse_file_info *fi);
int sfs_create(struct snapfs *s, const struct sfs_caller *who, const char *path, mode_t mode,
	       struct fuse_file_info *fi);
int sfs_open(struct snapfs *s, const struct sfs_caller *who, const char *path, struct fuse_file_info *fi);
int sfs_read(struct snapfs *s, const struct sfs_caller *who, const char *path, char *buf, size_t size, off_t off,
	     struct fuse_file_info *fi);
int sfs_write(struct snapfs *s, const struct sfs_caller *who, const char *path, const char *buf, size_t size,
	      off_t off, struct fuse_file_info *fi);
int sfs_flush(struct snapfs *s, const struct sfs_caller *who, const char *path, struct fuse_file_info *fi);
int sfs_fsync(struct snapfs *s, const struct sfs_caller *who, const char *path, int datasync,
	      struct fuse_file_info *fi);
int sfs_release(struct snapfs *s, const struct sfs_caller *who, const char *path, struct fuse_file_info *fi);
int sfs_truncate(struct snapfs *s, const struct sfs_caller *who, const char *path, off_t size,
		 struct fuse_file_info *fi);
int sfs_utimens(struct snapfs *s, const struct sfs_caller *who, const char *path, const struct timespec tv[2],
		struct fuse_file_info *fi);

#endif
