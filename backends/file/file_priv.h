/* file:// backend internals shared by file.c (objects), file_list.c (listing) and file_upload.c
 * (chunked uploads). Keys are paths relative to the directory; a key ending in '/' is a folder marker,
 * which on a local volume is simply a directory. */
#ifndef SNAPFS_FILE_PRIV_H
#define SNAPFS_FILE_PRIV_H

#include "backends/backend.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The backend's own folder at the root of the volume: temp files of uploads in progress live in
 * FB_HIDDEN/tmp so a rename publishes them (same filesystem) and listings never show them. */
#define FB_HIDDEN ".snapfs"

struct fb {
	char *root;     /* the absolute directory */
	int dfd;        /* the directory, every key is resolved relative to it */
	int tmpfd;      /* FB_HIDDEN/tmp */
	atomic_int warned_link; /* a symlink in the volume was logged at warning level */
	const struct backend_conf *conf;
};

static inline struct fb *fb_of(struct backend *b)
{
	return b->priv;
}

/* 0 if key is a relative path that stays inside the directory: no leading '/', no empty, "." or ".."
 * component, not the hidden folder. A trailing '/' (folder marker) is allowed. -EINVAL otherwise. */
int fb_key_check(const char *key);
int fb_is_marker(const char *key);
/* Every path below is resolved beneath the directory without following any symlink (file_path.c). */
/* open(2) of path ("" or "." for the directory itself, "a/b/" a directory): -ELOOP on a symlink */
int fb_open(struct fb *fb, const char *path, int flags);
/* The directory holding key, opened as fb_open does (created with its parents when create is set), and
 * the key's last component in leaf[256] (a marker's directory name, without the '/'). */
int fb_open_parent(struct fb *fb, const char *key, int create, char *leaf);
/* openat of the directory name in at, never a symlink (-ELOOP) */
int fb_open_dir(int at, const char *name);
/* mkdir -p of the folders of key (and of key itself when it is a marker "a/b/"). */
int fb_mkdirs(struct fb *fb, const char *key);
/* The error to report for key: -ENOTDIR is -ENOENT (no such key), a symlink met on the way (-ELOOP,
 * -EXDEV) is -ELOOP, logged once per mount. */
int fb_refuse(struct fb *fb, const char *key, int err);
/* set by tests: resolve as on kernels without openat2 */
extern atomic_int fb_openat2_off;
/* Copy len bytes between files: copy_file_range, falling back to pread/pwrite. A source shorter than
 * len is -EIO (a spool that lost bytes must not become a short object). */
int fb_copy_range(int in, off_t in_off, int out, off_t out_off, uint64_t len);
/* Create a new temp file in FB_HIDDEN/tmp named "<kind>-<random>"; name gets the file name. */
int fb_tmp_create(struct fb *fb, const char *kind, char *name, size_t cap, int *fdp);
/* fsync the temp file, rename it to key (creating parents), fsync the key's directory. */
/* fsync the folder pfd a rename just put key into; its failure is -EIO, logged as what it is: the
 * object (done as what says) is in place, its name's durability unknown */
int fb_sync_dir(int pfd, const char *key, const char *what);
/* The extended attribute that holds a file's whole-object SHA-256 (hex), when the cache layer knew it. */
#define FB_XATTR_SHA256 "user.snapfs.sha256"
int fb_publish(struct fb *fb, int tfd, const char *tname, const char *key, const char *sha256);
/* size, mtime and a validator (mtime and size, like nginx's ETag) of a file or folder */
struct stat;
void fb_fill_info(const struct stat *st, struct obj_info *oi);

/* Is the temp file name in FB_HIDDEN/tmp held by a live writer (its lock)? 1 yes, 0 no (left by a crash),
 * -errno (gone). */
int fb_tmp_alive(struct fb *fb, const char *name, struct stat *st);
/* Remove temp files and sidecars that crashed writers left behind more than a day ago. */
void fb_sweep_tmp(struct fb *fb);

int fb_list(struct backend *b, const char *prefix, int delim, unsigned limit, list_fn fn, void *arg);

int fb_upload_begin(struct backend *b, const char *key, uint64_t base, struct upload **up);
int fb_upload_part(struct upload *up, const struct part *p);
int fb_upload_commit(struct upload *up, unsigned nparts, const char *sha256);
void fb_upload_abort(struct upload *up);
int fb_list_uploads(struct backend *b, const char *prefix, list_fn fn, void *arg);
char *fb_upload_token(struct upload *up);
int fb_upload_forget(struct backend *b, const char *key, const char *token);

#endif
