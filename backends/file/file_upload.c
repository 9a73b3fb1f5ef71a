/* Chunked uploads into a local directory: parts land with pwrite (or copy_file_range from the spool) at
 * their object offset in a temp file in DIR/.snapfs/tmp, which the commit renames into place. A sidecar
 * "<temp>.key" names the target key so that list_uploads can report uploads in progress, as a store
 * reports its open multipart uploads. */
#include "backends/file/file_priv.h"
#include "common/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SIDECAR ".key"

struct upload {
	struct fb *fb;
	char *key;
	uint64_t base;
	int fd;
	char tname[64];
	char sname[72];
};

static void upload_free(struct upload *up, int discard)
{
	if (discard) {
		unlinkat(up->fb->tmpfd, up->tname, 0);
	}
	unlinkat(up->fb->tmpfd, up->sname, 0);
	close(up->fd);
	free(up->key);
	free(up);
}

static int write_sidecar(struct upload *up)
{
	size_t len = strlen(up->key), done = 0;
	int fd, rc = 0;

	fd = openat(up->fb->tmpfd, up->sname, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	while (done < len) {
		ssize_t n = write(fd, up->key + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = n ? -errno : -EIO;
			break;
		}
		done += (size_t)n;
	}
	close(fd);
	if (rc)
		unlinkat(up->fb->tmpfd, up->sname, 0);
	return rc;
}

/* The temp file starts as the first base bytes of the existing object. */
static int carry_base(struct upload *up)
{
	struct stat st;
	int sfd, rc = 0;

	sfd = fb_open(up->fb, up->key, O_RDONLY | O_NONBLOCK);
	if (sfd < 0)
		return fb_refuse(up->fb, up->key, sfd);
	if (fstat(sfd, &st)) {
		rc = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = -ENOENT;
		goto out;
	}
	if ((uint64_t)st.st_size < up->base) {
		log_warn("file: append to %s: the object has %lld bytes, not the expected %llu", up->key,
			 (long long)st.st_size, (unsigned long long)up->base);
		rc = -ESTALE;
		goto out;
	}
	/* a reflink shares the old extents instead of copying them (btrfs, xfs) */
	if (!ioctl(up->fd, FICLONE, sfd)) {
		if ((uint64_t)st.st_size > up->base && ftruncate(up->fd, (off_t)up->base))
			rc = -errno;
		goto out;
	}
	rc = fb_copy_range(sfd, 0, up->fd, 0, up->base);
out:
	close(sfd);
	return rc;
}

int fb_upload_begin(struct backend *b, const char *key, uint64_t base, struct upload **out)
{
	struct upload *up;
	int rc = fb_key_check(key);

	*out = NULL;
	if (rc)
		return rc;
	if (fb_is_marker(key))
		return -EINVAL;
	up = calloc(1, sizeof(*up));
	if (!up)
		return -ENOMEM;
	up->fb = fb_of(b);
	up->base = base;
	up->key = strdup(key);
	if (!up->key) {
		free(up);
		return -ENOMEM;
	}
	rc = fb_tmp_create(up->fb, "up", up->tname, sizeof(up->tname), &up->fd);
	if (rc) {
		free(up->key);
		free(up);
		return rc;
	}
	snprintf(up->sname, sizeof(up->sname), "%s" SIDECAR, up->tname);
	rc = write_sidecar(up);
	if (!rc && base)
		rc = carry_base(up);
	if (rc) {
		upload_free(up, 1);
		return rc;
	}
	*out = up;
	return 0;
}

int fb_upload_part(struct upload *up, const struct part *p)
{
	int rc;

	if (p->obj_off < up->base)
		return -EINVAL;   /* the base object is immutable within this upload */
	rc = fb_copy_range(p->fd, p->fd_off, up->fd, (off_t)p->obj_off, p->len);
	/* Start the part's writeback now, while the writer is still writing: the fsync at commit then
	 * waits for the last part only, not the whole file. Best effort; that fsync reports any error. */
	if (!rc)
		sync_file_range(up->fd, (off_t)p->obj_off, (off_t)p->len, SYNC_FILE_RANGE_WRITE);
	return rc;
}

int fb_upload_commit(struct upload *up, unsigned nparts, const char *sha256)
{
	int rc = fb_publish(up->fb, up->fd, up->tname, up->key, sha256);

	if (rc)
		log_warn("file: commit of %s failed: %s", up->key, strerror(-rc));
	upload_free(up, rc != 0);
	return rc;
}

void fb_upload_abort(struct upload *up)
{
	upload_free(up, 1);
}

int fb_tmp_alive(struct fb *fb, const char *name, struct stat *st)
{
	int fd = openat(fb->tmpfd, name, O_RDONLY | O_CLOEXEC), alive;

	if (fd < 0)
		return -errno;
	if (st && fstat(fd, st)) {
		close(fd);
		return -errno;
	}
	alive = flock(fd, LOCK_SH | LOCK_NB) && errno == EWOULDBLOCK;
	close(fd);   /* drops our lock if we got it */
	return alive;
}

#define STALE_AFTER (24 * 3600)

void fb_sweep_tmp(struct fb *fb)
{
	size_t slen = strlen(SIDECAR);
	time_t now = time(NULL);
	struct dirent *de;
	DIR *d;
	int fd = openat(fb->tmpfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(d))) {
		size_t nl = strlen(de->d_name);
		char tname[256];
		struct stat st;

		if (de->d_name[0] == '.' || nl >= sizeof(tname))
			continue;
		if (nl > slen && !strcmp(de->d_name + nl - slen, SIDECAR)) {
			/* a sidecar whose temp file is gone: the crash hit between the two unlinks */
			memcpy(tname, de->d_name, nl - slen);
			tname[nl - slen] = 0;
			if (fstatat(fb->tmpfd, tname, &st, 0) && errno == ENOENT &&
			    !fstatat(fb->tmpfd, de->d_name, &st, 0) && now - st.st_mtime > STALE_AFTER)
				unlinkat(fb->tmpfd, de->d_name, 0);
			continue;
		}
		if (fb_tmp_alive(fb, de->d_name, &st) == 0 && now - st.st_mtime > STALE_AFTER) {
			log_info("file: removing %s/tmp/%s, left by a writer that stopped %ld h ago",
				 FB_HIDDEN, de->d_name, (long)(now - st.st_mtime) / 3600);
			char side[sizeof(tname) + sizeof(SIDECAR)];

			snprintf(side, sizeof(side), "%s" SIDECAR, de->d_name);
			unlinkat(fb->tmpfd, de->d_name, 0);
			unlinkat(fb->tmpfd, side, 0);
		}
	}
	closedir(d);
}

struct pending {
	char *key;
	struct obj_info oi;
};

static int pending_cmp(const void *a, const void *b)
{
	return strcmp(((const struct pending *)a)->key, ((const struct pending *)b)->key);
}

static char *read_sidecar(int dfd, const char *name)
{
	char buf[4097];
	ssize_t n;
	int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return NULL;
	buf[n] = 0;
	return strdup(buf);
}

int fb_list_uploads(struct backend *b, const char *prefix, list_fn fn, void *arg)
{
	struct fb *fb = fb_of(b);
	struct pending *p = NULL;
	size_t n = 0, cap = 0, plen = strlen(prefix), slen = strlen(SIDECAR);
	struct dirent *de;
	DIR *d;
	int fd, rc = 0;

	fd = openat(fb->tmpfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		rc = -errno;
		close(fd);
		return rc;
	}
	while ((errno = 0, de = readdir(d))) {
		size_t nl = strlen(de->d_name);
		char tname[256];
		struct stat st;
		char *key;

		if (nl <= slen || strcmp(de->d_name + nl - slen, SIDECAR) || nl - slen >= sizeof(tname))
			continue;
		memcpy(tname, de->d_name, nl - slen);
		tname[nl - slen] = 0;
		/* no temp file: the upload committed or aborted between the two names; no lock on
		 * it: its writer crashed, nothing will ever complete it */
		if (fb_tmp_alive(fb, tname, &st) != 1)
			continue;
		key = read_sidecar(fb->tmpfd, de->d_name);
		if (!key)
			continue;
		if (strncmp(key, prefix, plen)) {
			free(key);
			continue;
		}
		if (n == cap) {
			struct pending *np = realloc(p, (cap = cap ? cap * 2 : 16) * sizeof(*p));

			if (!np) {
				free(key);
				rc = -ENOMEM;
				goto out;
			}
			p = np;
		}
		memset(&p[n].oi, 0, sizeof(p[n].oi));
		p[n].key = key;
		p[n].oi.size = (uint64_t)st.st_size;
		p[n].oi.mtime = st.st_mtime;
		n++;
	}
	if (errno)
		rc = -errno;
out:
	closedir(d);
	if (!rc && n) {
		qsort(p, n, sizeof(*p), pending_cmp);
		for (size_t i = 0; i < n; i++)
			if (fn(arg, p[i].key + plen, &p[i].oi))
				break;
	}
	for (size_t i = 0; i < n; i++)
		free(p[i].key);
	free(p);
	return rc;
}

char *fb_upload_token(struct upload *up)
{
	return strdup(up->tname);
}

/* After a crash: the temp file and its sidecar, named by the journal. */
int fb_upload_forget(struct backend *b, const char *key, const char *token)
{
	struct fb *fb = fb_of(b);
	char side[300];
	int rc = 0;

	(void)key;
	/* a journal line is data from disk: it must name a temp file, nothing else */
	if (!*token || strchr(token, '/') || token[0] == '.' || strlen(token) > 200)
		return -EINVAL;
	if (unlinkat(fb->tmpfd, token, 0) && errno != ENOENT)
		rc = -errno;
	snprintf(side, sizeof(side), "%s%s", token, SIDECAR);
	unlinkat(fb->tmpfd, side, 0);
	return rc;
}
