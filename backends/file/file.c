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

#define COPY_CHUNK (1 << 20)

int fb_is_marker(const char *key)
{
	size_t n = strlen(key);

	return n && key[n - 1] == '/';
}

int fb_key_check(const char *key)
{
	const char *c = key, *end;
	size_t n;

	if (!*key || *key == '/' || strlen(key) >= 4096)
		return -EINVAL;
	for (;;) {
		end = strchrnul(c, '/');
		n = (size_t)(end - c);
		if (!*end && !n)
			break;          /* after a trailing '/' */
		if (!n || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.') || n > 255)
			return -EINVAL;
		if (c == key && n == strlen(FB_HIDDEN) && !memcmp(c, FB_HIDDEN, n))
			return -EINVAL;
		if (!*end)
			break;
		c = end + 1;
	}
	return 0;
}

int fb_copy_range(int in, off_t in_off, int out, off_t out_off, uint64_t len)
{
	char *bounce = NULL;
	int rc = 0;

	while (len) {
		size_t want = len > (1ULL << 30) ? (size_t)1 << 30 : (size_t)len;
		ssize_t n = copy_file_range(in, &in_off, out, &out_off, want, 0);

		if (n > 0) {
			len -= (uint64_t)n;
			continue;
		}
		if (n == 0)
			return -EIO;
		if (errno == EINTR)
			continue;
		if (errno != EXDEV && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP &&
		    errno != EBADF && errno != ETXTBSY)
			return -errno;
		break;  /* not supported between these two files: copy by hand */
	}
	while (len) {
		size_t want = len > COPY_CHUNK ? COPY_CHUNK : (size_t)len, done = 0;
		ssize_t n;

		if (!bounce && !(bounce = malloc(COPY_CHUNK)))
			return -ENOMEM;
		n = pread(in, bounce, want, in_off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = n ? -errno : -EIO;
			goto out;
		}
		while (done < (size_t)n) {
			ssize_t w = pwrite(out, bounce + done, (size_t)n - done, out_off + (off_t)done);

			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				rc = w ? -errno : -EIO;
				goto out;
			}
			done += (size_t)w;
		}
		in_off += n;
		out_off += n;
		len -= (uint64_t)n;
	}
out:
	free(bounce);
	return rc;
}

int fb_tmp_create(struct fb *fb, const char *kind, char *name, size_t cap, int *fdp)
{
	static atomic_uint seq;

	for (int tries = 0; tries < 16; tries++) {
		uint64_t r = 0;
		int fd;

		if (getrandom(&r, sizeof(r), 0) != sizeof(r))
			r = (uint64_t)getpid() << 32 | (uint64_t)time(NULL);
		snprintf(name, cap, "%s-%016llx-%u", kind, (unsigned long long)r, atomic_fetch_add(&seq, 1));
		fd = openat(fb->tmpfd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd >= 0) {
			/* held while the temp file is in use, so others can tell it from one a crash left
			 * behind (flock reaches NFS servers as a POSIX lock) */
			flock(fd, LOCK_EX | LOCK_NB);
			*fdp = fd;
			return 0;
		}
		if (errno != EEXIST)
			return -errno;
	}
	return -EEXIST;
}

/* fsync of the folder a rename put key into. A failure comes after the rename: the new name is visible,
 * whole, but may not survive a crash (then the folder holds the old version or the new one, both whole).
 * Reporting success could let a dump vanish with exit status 0; so the operation fails (EIO, the writer
 * redoes it), with a log line saying what the store shows. */
int fb_sync_dir(int pfd, const char *key, const char *what)
{
	if (!fsync(pfd))
		return 0;
	log_error("file: %s: %s, but the fsync of its folder failed (%s): the store shows it now, yet it may "
		  "not survive a crash; reported as failed", key, what, strerror(errno));
	return -EIO;
}

/* Rename the temp file tname to leaf in folder pfd and fsync the folder. Until that fsync is done the old
 * version stays reachable under the temp name (RENAME_EXCHANGE), so that a failed fsync can be undone:
 * the old version (or the absence) is put back, and "NOT stored; the object was left as it was before"
 * is what the store shows. A file system that cannot swap (NFS) gets a plain rename, which cannot be
 * undone: then the log says the new version is in place. On success the old version is unlinked. */
static int publish_at(struct fb *fb, const char *tname, int pfd, const char *leaf, const char *key)
{
	struct stat st;
	int swapped = 0, fresh = 0, err;

	/* a write-once mount's conditional create: the name must be free */
	if (fb->conf && fb->conf->create_only) {
		if (renameat2(fb->tmpfd, tname, pfd, leaf, RENAME_NOREPLACE))
			return -errno;
		fresh = 1;
	} else if (!fstatat(pfd, leaf, &st, AT_SYMLINK_NOFOLLOW) && S_ISREG(st.st_mode) &&
	    !renameat2(fb->tmpfd, tname, pfd, leaf, RENAME_EXCHANGE))
		swapped = 1;
	else if (!renameat2(fb->tmpfd, tname, pfd, leaf, RENAME_NOREPLACE))
		fresh = 1;
	else if (renameat(fb->tmpfd, tname, pfd, leaf))
		return -errno;
	if (!fsync(pfd)) {
		if (swapped)
			unlinkat(fb->tmpfd, tname, 0);   /* the old version */
		return 0;
	}
	err = errno;
	if ((swapped && !renameat2(fb->tmpfd, tname, pfd, leaf, RENAME_EXCHANGE)) ||
	    (fresh && !renameat(pfd, leaf, fb->tmpfd, tname))) {
		fsync(pfd);
		log_error("file: %s: the fsync of its folder failed (%s): the new version was taken back, the "
			  "store shows what it held before", key, strerror(err));
		return -EIO;
	}
	log_error("file: %s: published whole, but the fsync of its folder failed (%s): the store shows it "
		  "now, yet it may not survive a crash; reported as failed", key, strerror(err));
	return -EIO;
}

int fb_publish(struct fb *fb, int tfd, const char *tname, const char *key, const char *sha256)
{
	char leaf[256];
	int pfd, rc;

	/* the digest rides with the inode, so a rename keeps it; a file system without user xattrs
	 * (an old tmpfs) stores the object without it */
	if (sha256 && fsetxattr(tfd, FB_XATTR_SHA256, sha256, strlen(sha256), 0))
		log_debug("file: %s: no %s: %s", key, FB_XATTR_SHA256, strerror(errno));
	/* the data must be on disk before the name is, or a crash could leave a complete-looking object
	 * with missing bytes */
	if (fsync(tfd))
		return -errno;
	pfd = fb_open_parent(fb, key, 1, leaf);
	if (pfd < 0)
		return fb_refuse(fb, key, pfd);
	rc = publish_at(fb, tname, pfd, leaf, key);
	close(pfd);
	return rc;
}

void fb_fill_info(const struct stat *st, struct obj_info *oi)
{
	memset(oi, 0, sizeof(*oi));
	oi->size = S_ISREG(st->st_mode) ? (uint64_t)st->st_size : 0;
	oi->mtime = st->st_mtime;
	/* a weak validator like nginx's: changes whenever the file does */
	snprintf(oi->etag, sizeof(oi->etag), "%llx.%lx-%llx", (unsigned long long)st->st_mtim.tv_sec,
		 (unsigned long)st->st_mtim.tv_nsec, (unsigned long long)st->st_size);
}

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
