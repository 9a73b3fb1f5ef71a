/* file:///dir: a locally mounted volume (local disk, NFS, GlusterFS, a PVC) as an object store. A key is a
 * file below the directory, a folder marker "x/" is a directory. Objects appear only whole: every write
 * goes to a temp file in DIR/.snapfs/tmp that is fsync'ed and renamed into place. */
#include "backends/file/file_priv.h"
#include "common/crypto.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

static int file_open(struct backend *b, const struct backend_conf *conf, char **why)
{
	const char *path = conf->src->path;
	struct fb *fb = NULL;
	int rc, hfd = -1;

	*why = NULL;
	if (!path || path[0] != '/') {
		if (asprintf(why, "file://: an absolute directory is required") < 0)
			*why = NULL;
		return -EINVAL;
	}
	fb = calloc(1, sizeof(*fb));
	if (!fb || !(fb->root = strdup(path))) {
		rc = -ENOMEM;
		goto err;
	}
	fb->dfd = fb->tmpfd = -1;
	fb->conf = conf;
	fb->dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fb->dfd < 0) {
		rc = -errno;
		if (asprintf(why, "file://%s: %s", path,
			     rc == -ENOENT ? "the directory does not exist" :
			     rc == -ENOTDIR ? "not a directory" : strerror(-rc)) < 0)
			*why = NULL;
		goto err;
	}
	if (faccessat(fb->dfd, ".", W_OK | X_OK, AT_EACCESS)) {
		rc = -errno;
		if (asprintf(why, "file://%s: the directory is not writable (%s)", path, strerror(-rc)) < 0)
			*why = NULL;
		goto err;
	}
	/* never through a symlink: uploads are renamed from there into place */
	rc = mkdirat(fb->dfd, FB_HIDDEN, 0700) && errno != EEXIST ? -errno : 0;
	if (!rc && (hfd = fb_open_dir(fb->dfd, FB_HIDDEN)) < 0)
		rc = hfd;
	if (!rc && mkdirat(hfd, "tmp", 0700) && errno != EEXIST)
		rc = -errno;
	if (!rc && (fb->tmpfd = fb_open_dir(hfd, "tmp")) < 0)
		rc = fb->tmpfd;
	if (rc) {
		if (asprintf(why, "file://%s: cannot create %s/tmp for uploads: %s", path, FB_HIDDEN,
			     strerror(-rc)) < 0)
			*why = NULL;
		goto err;
	}
	close(hfd);
	b->priv = fb;
	fb_sweep_tmp(fb);
	log_debug("file: opened %s", path);
	return 0;
err:
	if (hfd >= 0)
		close(hfd);
	if (fb) {
		if (fb->dfd >= 0)
			close(fb->dfd);
		free(fb->root);
		free(fb);
	}
	return rc;
}

static void file_close(struct backend *b)
{
	struct fb *fb = fb_of(b);

	if (!fb)
		return;
	close(fb->tmpfd);
	close(fb->dfd);
	free(fb->root);
	free(fb);
	b->priv = NULL;
}

/* lstat of key beneath the directory: a symlink is -ELOOP, never followed */
static int key_stat(struct fb *fb, const char *key, struct stat *st)
{
	char leaf[256];
	int pfd = fb_open_parent(fb, key, 0, leaf), rc = 0;

	if (pfd < 0)
		return fb_refuse(fb, key, pfd);
	if (fstatat(pfd, leaf, st, AT_SYMLINK_NOFOLLOW))
		rc = -errno;
	else if (S_ISLNK(st->st_mode))
		rc = -ELOOP;
	close(pfd);
	return rc ? fb_refuse(fb, key, rc) : 0;
}

/* The digest fb_publish recorded, into out->sha256 ("" when there is none or it cannot be read). */
static void read_sha(struct fb *fb, const char *key, struct obj_info *out)
{
	char leaf[256], v[65];
	int pfd = fb_open_parent(fb, key, 0, leaf), fd = -1;
	ssize_t n = -1;

	if (pfd >= 0)
		fd = openat(pfd, leaf, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd >= 0)
		n = fgetxattr(fd, FB_XATTR_SHA256, v, sizeof(v) - 1);
	if (n >= 0) {
		v[n] = 0;
		crypto_sha256_take(v, out->sha256);
	}
	if (fd >= 0)
		close(fd);
	if (pfd >= 0)
		close(pfd);
}

static int file_stat(struct backend *b, const char *key, struct obj_info *out)
{
	struct stat st;
	int rc = fb_key_check(key);

	if (rc || (rc = key_stat(fb_of(b), key, &st)))
		return rc;
	/* a directory is an object only as its marker "x/"; "x" alone is a prefix */
	if (fb_is_marker(key) ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode))
		return -ENOENT;
	fb_fill_info(&st, out);
	if (S_ISREG(st.st_mode))
		read_sha(fb_of(b), key, out);
	return 0;
}

/* A file's version: a replacement is a rename over it (a new inode), an edit in place changes mtime. */
static int file_ver(const struct stat *st, struct obj_ver *v)
{
	char tag[sizeof(v->tag)];

	snprintf(tag, sizeof(tag), "%llu:%lld.%09ld", (unsigned long long)st->st_ino, (long long)st->st_mtim.tv_sec,
		 st->st_mtim.tv_nsec);
	if (!v->known) {
		v->known = 1;
		v->size = (uint64_t)st->st_size;
		memcpy(v->tag, tag, sizeof(tag));
		return 0;
	}
	return strcmp(tag, v->tag) || v->size != (uint64_t)st->st_size ? -ESTALE : 0;
}

static ssize_t file_read_ver(struct backend *b, const char *key, struct obj_ver *v, uint64_t off, size_t len,
			     void *buf)
{
	struct stat st;
	size_t got = 0;
	int fd, rc = fb_key_check(key);

	if (rc)
		return rc;
	/* O_NONBLOCK: a FIFO in the volume must not hang the reader (it is no object) */
	fd = fb_open(fb_of(b), key, O_RDONLY | O_NONBLOCK);
	if (fd < 0)
		return fb_refuse(fb_of(b), key, fd);
	if (fstat(fd, &st)) {
		rc = -errno;
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		rc = fb_is_marker(key) ? 0 : -ENOENT;   /* a marker reads as an empty object */
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = -ENOENT;
		goto out;
	}
	if (v && (rc = file_ver(&st, v)))
		goto out;
	while (got < len) {
		ssize_t n = pread(fd, (char *)buf + got, len - got, (off_t)(off + got));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			goto out;
		}
		if (!n)
			break;
		got += (size_t)n;
	}
out:
	close(fd);
	return rc ? rc : (ssize_t)got;
}

static ssize_t file_read(struct backend *b, const char *key, uint64_t off, size_t len, void *buf)
{
	return file_read_ver(b, key, NULL, off, len, buf);
}

static int file_put(struct backend *b, const char *key, int fd, off_t fd_off, uint64_t len, const char *sha256)
{
	struct fb *fb = fb_of(b);
	char tname[64];
	int tfd, rc = fb_key_check(key);

	if (rc)
		return rc;
	if (fb_is_marker(key))
		return len ? -EINVAL : fb_refuse(fb, key, fb_mkdirs(fb, key));
	rc = fb_tmp_create(fb, "put", tname, sizeof(tname), &tfd);
	if (rc)
		return rc;
	rc = fb_copy_range(fd, fd_off, tfd, 0, len);
	if (!rc)
		rc = fb_publish(fb, tfd, tname, key, sha256);
	if (rc)
		unlinkat(fb->tmpfd, tname, 0);
	close(tfd);
	return rc;
}

static int depth_desc(const void *a, const void *b)
{
	const char *x = *(const char *const *)a, *y = *(const char *const *)b;
	int dx = 0, dy = 0;

	for (; *x; x++)
		dx += *x == '/';
	for (; *y; y++)
		dy += *y == '/';
	return dy - dx;
}

/* unlinkat of key in its own folder: a symlink in the key's folders is -ELOOP, one as the key itself is
 * removed as the link (the target is never touched), or for a marker -ENOENT (not a directory) */
static int unlink_key(struct fb *fb, const char *key, int flags)
{
	char leaf[256];
	int pfd = fb_open_parent(fb, key, 0, leaf), rc = 0;

	if (pfd < 0)
		return fb_refuse(fb, key, pfd);
	if (unlinkat(pfd, leaf, flags))
		rc = errno == ENOTDIR ? -ENOENT : -errno;
	close(pfd);
	return rc;
}

static int file_remove(struct backend *b, const char *const *keys, size_t n)
{
	struct fb *fb = fb_of(b);
	const char **dirs = NULL;
	size_t ndirs = 0;
	int rc = 0;

	for (size_t i = 0; i < n; i++) {
		int r = fb_key_check(keys[i]);

		if (r) {
			rc = rc ? rc : r;
			continue;
		}
		if (fb_is_marker(keys[i])) {
			if (!dirs && !(dirs = calloc(n, sizeof(*dirs))))
				return -ENOMEM;
			dirs[ndirs++] = keys[i];
			continue;
		}
		/* a directory under a file's name is no object of that name: nothing to remove */
		r = unlink_key(fb, keys[i], 0);
		if (r && r != -ENOENT && r != -EISDIR)
			rc = rc ? rc : r;
	}
	/* markers after the files, deepest first, so "a/b/" is gone before "a/" is tried */
	if (ndirs)
		qsort(dirs, ndirs, sizeof(*dirs), depth_desc);
	for (size_t i = 0; i < ndirs; i++) {
		int r = unlink_key(fb, dirs[i], AT_REMOVEDIR);

		if (r && r != -ENOENT && r != -ENOTEMPTY && r != -EEXIST)
			rc = rc ? rc : r;
	}
	free(dirs);
	return rc;
}

static int marker_pair(struct fb *fb, const char *from, const char *to)
{
	struct stat st;

	if (!fb_is_marker(to))
		return -EINVAL;
	int rc = key_stat(fb, from, &st);

	if (rc)
		return rc;
	if (!S_ISDIR(st.st_mode))
		return -ENOENT;
	return fb_refuse(fb, to, fb_mkdirs(fb, to));
}

static int file_copy(struct backend *b, const char *from, const char *to)
{
	struct fb *fb = fb_of(b);
	struct stat st;
	char tname[64];
	int sfd, tfd = -1, rc;

	if ((rc = fb_key_check(from)) || (rc = fb_key_check(to)))
		return rc;
	if (fb_is_marker(from))
		return marker_pair(fb, from, to);
	if (fb_is_marker(to))
		return -EINVAL;
	sfd = fb_open(fb, from, O_RDONLY | O_NONBLOCK);
	if (sfd < 0)
		return fb_refuse(fb, from, sfd);
	if (fstat(sfd, &st)) {
		rc = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = -ENOENT;
		goto out;
	}
	rc = fb_tmp_create(fb, "copy", tname, sizeof(tname), &tfd);
	if (rc)
		goto out;
	/* a reflink costs nothing where the filesystem shares extents (btrfs, xfs) */
	if (ioctl(tfd, FICLONE, sfd))
		rc = fb_copy_range(sfd, 0, tfd, 0, (uint64_t)st.st_size);
	if (!rc) {
		char sha[65];
		ssize_t n = fgetxattr(sfd, FB_XATTR_SHA256, sha, sizeof(sha) - 1);

		if (n > 0)
			sha[n] = 0;
		rc = fb_publish(fb, tfd, tname, to, n > 0 ? sha : NULL);
	}
	if (rc)
		unlinkat(fb->tmpfd, tname, 0);
out:
	if (tfd >= 0)
		close(tfd);
	close(sfd);
	return rc;
}

static int file_move(struct backend *b, const char *from, const char *to)
{
	struct fb *fb = fb_of(b);
	char fleaf[256], tleaf[256];
	int rc, fpfd = -1, tpfd = -1;
	struct stat st;

	if ((rc = fb_key_check(from)) || (rc = fb_key_check(to)))
		return rc;
	if (fb_is_marker(from)) {
		/* object semantics: only the marker moves; what lies below it moves key by key */
		rc = marker_pair(fb, from, to);
		if (!rc) {
			rc = unlink_key(fb, from, AT_REMOVEDIR);
			if (rc == -ENOTEMPTY || rc == -EEXIST || rc == -ENOENT)
				rc = 0;
		}
		return rc;
	}
	if (fb_is_marker(to))
		return -EINVAL;
	if ((rc = key_stat(fb, from, &st)))
		return rc;
	if (!S_ISREG(st.st_mode))
		return -ENOENT;
	/* both folders by fd: a symlink swapped in after the checks is not followed either */
	fpfd = fb_open_parent(fb, from, 0, fleaf);
	if (fpfd < 0) {
		rc = fb_refuse(fb, from, fpfd);
		goto out;
	}
	tpfd = fb_open_parent(fb, to, 1, tleaf);
	if (tpfd < 0) {
		rc = fb_refuse(fb, to, tpfd);
		goto out;
	}
	if (renameat(fpfd, fleaf, tpfd, tleaf))
		rc = -errno;
	else
		rc = fb_sync_dir(tpfd, to, "renamed");
out:
	if (fpfd >= 0)
		close(fpfd);
	if (tpfd >= 0)
		close(tpfd);
	return rc;
}

static int file_statfs(struct backend *b, uint64_t *total, uint64_t *avail)
{
	struct statvfs sv;

	if (fstatvfs(fb_of(b)->dfd, &sv))
		return -errno;
	*total = (uint64_t)sv.f_blocks * sv.f_frsize;
	*avail = (uint64_t)sv.f_bavail * sv.f_frsize;
	return 0;
}

const struct backend_ops file_backend_ops = {
	.scheme = "file",
	.min_part = 0,
	.max_part = 0,
	.max_parts = 0,
	.parts_any_order = 1,
	.open = file_open,
	.close = file_close,
	.stat = file_stat,
	.list = fb_list,
	.read = file_read,
	.read_ver = file_read_ver,
	.put = file_put,
	.upload_begin = fb_upload_begin,
	.upload_part = fb_upload_part,
	.upload_commit = fb_upload_commit,
	.upload_abort = fb_upload_abort,
	.remove = file_remove,
	.copy = file_copy,
	.move = file_move,
	.upload_token = fb_upload_token,
	.upload_forget = fb_upload_forget,
	.list_uploads = fb_list_uploads,
	.statfs = file_statfs,
};
