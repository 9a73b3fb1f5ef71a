/* Resolving keys beneath the store directory without ever following a symlink. A symlink planted in the
 * volume (by anyone who can write there) must not let the daemon, often root, read, write or delete
 * outside it: every path is opened with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS), or, on kernels
 * before 5.6, one component at a time with O_NOFOLLOW. Directories are then used through their fd, so a
 * symlink swapped in after the check is not followed either. */
#include "backends/file/file_priv.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

atomic_int fb_openat2_off;

int fb_refuse(struct fb *fb, const char *key, int err)
{
	if (err == -ENOTDIR)
		return -ENOENT;         /* a file where a folder of the key should be: no such key */
	if (err != -ELOOP && err != -EXDEV)
		return err;
	/* once per mount at warning level: a listing may meet the same link many times */
	if (!atomic_exchange(&fb->warned_link, 1))
		log_warn("file: %s: a symlink in the store directory, not followed (%s); further ones are "
			 "logged at debug level", key, fb->root);
	else
		log_debug("file: %s: a symlink, not followed", key);
	return -ELOOP;
}

int fb_open_dir(int at, const char *name)
{
	int fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;

	if (fd >= 0)
		return fd;
	/* O_NOFOLLOW | O_DIRECTORY on a link says ENOTDIR */
	if (errno == ENOTDIR && !fstatat(at, name, &st, AT_SYMLINK_NOFOLLOW) && S_ISLNK(st.st_mode))
		return -ELOOP;
	return -errno;
}

/* The directory dir[0..len) ("" for the root), one component at a time, each opened with O_NOFOLLOW;
 * missing ones are created when create is set. */
static int walk_dirs(struct fb *fb, const char *dir, size_t len, int create)
{
	int fd = openat(fb->dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	size_t i = 0;

	if (fd < 0)
		return -errno;
	while (i < len) {
		char comp[256];
		size_t n = 0;
		int nfd;

		while (i + n < len && dir[i + n] != '/')
			n++;
		if (n >= sizeof(comp)) {
			close(fd);
			return -ENAMETOOLONG;
		}
		memcpy(comp, dir + i, n);
		comp[n] = 0;
		i += n + 1;
		if (!n)
			continue;
		nfd = fb_open_dir(fd, comp);
		if (nfd == -ENOENT && create) {
			if (mkdirat(fd, comp, 0755) && errno != EEXIST) {
				nfd = -errno;
				close(fd);
				return nfd;
			}
			nfd = fb_open_dir(fd, comp);
		}
		if (nfd < 0) {
			close(fd);
			return nfd;
		}
		close(fd);
		fd = nfd;
	}
	return fd;
}

/* path's last component (a marker's directory name without its '/') into leaf, the length of the folders
 * before it into *dirlen; 1 when path ends in '/', -EINVAL when there is no last component */
static int split(const char *path, size_t *dirlen, char *leaf)
{
	size_t n = strlen(path), start;
	int marker = 0;

	while (n > 1 && path[n - 1] == '/') {
		n--;
		marker = 1;
	}
	start = n;
	while (start && path[start - 1] != '/')
		start--;
	if (n == start || n - start > 255)
		return -EINVAL;
	memcpy(leaf, path + start, n - start);
	leaf[n - start] = 0;
	*dirlen = start ? start - 1 : 0;
	return marker;
}

int fb_open(struct fb *fb, const char *path, int flags)
{
	char leaf[256];
	struct stat st;
	size_t dirlen;
	int pfd, fd, err, marker;

	if (!*path)
		path = ".";
	if (!atomic_load(&fb_openat2_off)) {
		struct open_how how = {
			/* no O_NOFOLLOW: with O_DIRECTORY it would make a trailing link ENOTDIR, not
			 * ELOOP as RESOLVE_NO_SYMLINKS does */
			.flags = (uint64_t)(flags | O_CLOEXEC),
			.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS,
		};

		for (int tries = 0; tries < 8; tries++) {
			fd = (int)syscall(SYS_openat2, fb->dfd, path, &how, sizeof(how));
			if (fd >= 0)
				return fd;
			if (errno != EAGAIN && errno != EINTR)
				break;
		}
		if (errno != ENOSYS && errno != EPERM)   /* EPERM: a seccomp filter that does not know it */
			return -errno;
		atomic_store(&fb_openat2_off, 1);
		log_debug("file: no openat2, resolving keys one component at a time");
	}
	marker = split(path, &dirlen, leaf);
	if (marker < 0)
		return marker;
	pfd = walk_dirs(fb, path, dirlen, 0);
	if (pfd < 0)
		return pfd;
	fd = openat(pfd, leaf, flags | (marker ? O_DIRECTORY : 0) | O_NOFOLLOW | O_CLOEXEC);
	err = errno;
	if (fd < 0 && err == ENOTDIR && (marker || (flags & O_DIRECTORY)) &&
	    !fstatat(pfd, leaf, &st, AT_SYMLINK_NOFOLLOW) && S_ISLNK(st.st_mode))
		err = ELOOP;    /* as fb_open_dir */
	close(pfd);
	return fd < 0 ? -err : fd;
}

int fb_open_parent(struct fb *fb, const char *key, int create, char *leaf)
{
	char dir[4096];
	size_t dirlen;
	int fd, rc = split(key, &dirlen, leaf);

	if (rc < 0)
		return rc;
	if (dirlen >= sizeof(dir))
		return -ENAMETOOLONG;
	memcpy(dir, key, dirlen);
	dir[dirlen] = 0;
	fd = fb_open(fb, dir, O_RDONLY | O_DIRECTORY);
	if (fd == -ENOENT && create)
		fd = walk_dirs(fb, dir, dirlen, 1);
	return fd;
}

int fb_mkdirs(struct fb *fb, const char *key)
{
	char leaf[256];
	int pfd = fb_open_parent(fb, key, 1, leaf), rc = 0;

	if (pfd < 0)
		return pfd;
	if (fb_is_marker(key) && mkdirat(pfd, leaf, 0755)) {
		struct stat st;

		/* an existing directory is fine, an existing symlink is not */
		if (errno != EEXIST)
			rc = -errno;
		else if (fstatat(pfd, leaf, &st, AT_SYMLINK_NOFOLLOW))
			rc = -errno;
		else if (S_ISLNK(st.st_mode))
			rc = -ELOOP;
		else if (!S_ISDIR(st.st_mode))
			rc = -EEXIST;
	}
	close(pfd);
	return rc;
}
