/* Listing a directory tree the way an object store lists keys: by string prefix, in byte order of the
 * full key, common prefixes "sub/" with a delimiter, every key below the prefix without one. */
#include "backends/file/file_priv.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct ent {
	char *name;        /* as a key component: "sub/" for a directory */
	struct stat st;
};

struct lctx {
	struct fb *fb;
	const char *prefix;
	size_t plen;
	int delim;
	unsigned limit, count;
	list_fn fn;
	void *arg;
};

static int ent_cmp(const void *a, const void *b)
{
	return strcmp(((const struct ent *)a)->name, ((const struct ent *)b)->name);
}

static void ents_free(struct ent *e, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(e[i].name);
	free(e);
}

/* The entries of directory dir ("" or "a/b/") whose names start with npfx, sorted as keys. A missing
 * directory has no entries. */
static int read_dir(struct lctx *c, const char *dir, const char *npfx, struct ent **out, size_t *nout)
{
	size_t n = 0, cap = 0, nplen = strlen(npfx);
	struct ent *e = NULL;
	struct dirent *de;
	DIR *d;
	int fd, rc = 0;

	*out = NULL;
	*nout = 0;
	fd = fb_open(c->fb, dir, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return fd == -ENOENT || fd == -ENOTDIR ? 0 : fb_refuse(c->fb, dir, fd);
	d = fdopendir(fd);
	if (!d) {
		rc = -errno;
		close(fd);
		return rc;
	}
	while ((errno = 0, de = readdir(d))) {
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") || strncmp(de->d_name, npfx, nplen))
			continue;
		if (!*dir && !strcmp(de->d_name, FB_HIDDEN))
			continue;
		if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW))
			continue;   /* gone meanwhile */
		if (S_ISLNK(st.st_mode)) {
			char key[4096];

			/* never followed: it could point anywhere, outside the volume too */
			snprintf(key, sizeof(key), "%s%s", dir, de->d_name);
			fb_refuse(c->fb, key, -ELOOP);
			continue;
		}
		if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
			continue;
		if (n == cap) {
			struct ent *ne = realloc(e, (cap = cap ? cap * 2 : 64) * sizeof(*e));

			if (!ne) {
				rc = -ENOMEM;
				goto out;
			}
			e = ne;
		}
		e[n].st = st;
		e[n].name = malloc(strlen(de->d_name) + 2);
		if (!e[n].name) {
			rc = -ENOMEM;
			goto out;
		}
		strcpy(e[n].name, de->d_name);
		if (S_ISDIR(st.st_mode))
			strcat(e[n].name, "/");
		n++;
	}
	if (errno)
		rc = -errno;
out:
	closedir(d);
	if (rc) {
		ents_free(e, n);
		return rc;
	}
	/* "a.txt" < "a/" < "a0": compared with the slash, a depth-first walk is in full-key order */
	if (n)
		qsort(e, n, sizeof(*e), ent_cmp);
	*out = e;
	*nout = n;
	return 0;
}

/* returns 1 when the caller asked to stop (or the limit is reached), 0 to go on, -errno */
static int walk(struct lctx *c, const char *dir, const char *npfx)
{
	struct ent *e;
	size_t n;
	int rc = read_dir(c, dir, npfx, &e, &n);

	if (rc)
		return rc;
	for (size_t i = 0; i < n && !rc; i++) {
		int is_dir = S_ISDIR(e[i].st.st_mode);
		size_t dlen = strlen(dir), klen = dlen + strlen(e[i].name);
		struct obj_info oi;
		char *key = malloc(klen + 1);

		if (!key) {
			rc = -ENOMEM;
			break;
		}
		memcpy(key, dir, dlen);
		strcpy(key + dlen, e[i].name);
		fb_fill_info(&e[i].st, &oi);
		/* with a delimiter a directory is a common prefix; without, it is its own marker object */
		oi.is_dir = is_dir && c->delim;
		if (c->fn(c->arg, key + c->plen, &oi))
			rc = 1;
		else if (c->limit && ++c->count >= c->limit)
			rc = 1;
		else if (is_dir && !c->delim)
			rc = walk(c, key, "");
		free(key);
	}
	ents_free(e, n);
	return rc;
}

/* Listing "a/b/" in a store shows the folder's own marker "a/b/" first, as the name "": callers test
 * whether a folder exists that way. Here every directory is its own marker. */
static int self_marker(struct lctx *c, const char *dir)
{
	struct obj_info oi;
	struct stat st;
	int fd = fb_open(c->fb, dir, O_RDONLY | O_DIRECTORY), rc = 0;

	if (fd < 0)
		return fd == -ENOENT || fd == -ENOTDIR ? 0 : fb_refuse(c->fb, dir, fd);
	if (fstat(fd, &st))
		rc = -errno;
	close(fd);
	if (rc)
		return rc;
	fb_fill_info(&st, &oi);
	if (c->fn(c->arg, "", &oi) || (c->limit && ++c->count >= c->limit))
		return 1;
	return 0;
}

int fb_list(struct backend *b, const char *prefix, int delim, unsigned limit, list_fn fn, void *arg)
{
	struct lctx c = { fb_of(b), prefix, strlen(prefix), delim, limit, 0, fn, arg };
	const char *slash = strrchr(prefix, '/');
	char *dir;
	int rc;

	if (*prefix == '/')
		return -EINVAL;
	/* "a/b/sn" lists directory "a/b/" for names starting with "sn" */
	dir = strndup(prefix, slash ? (size_t)(slash - prefix + 1) : 0);
	if (!dir)
		return -ENOMEM;
	rc = *dir ? fb_key_check(dir) : 0;
	if (!rc && slash && !slash[1])
		rc = self_marker(&c, dir);
	if (!rc)
		rc = walk(&c, dir, slash ? slash + 1 : prefix);
	free(dir);
	return rc < 0 ? rc : 0;
}
