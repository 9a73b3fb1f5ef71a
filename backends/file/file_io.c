/* file:// writes: copying byte ranges, temp files in FB_HIDDEN/tmp, and publishing one by rename
 * with the fsyncs that make it whole or absent after a crash. */
#include "backends/file/file_priv.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#define COPY_CHUNK (1 << 20)

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
