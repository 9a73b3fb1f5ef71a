/* Lookup, listing and statfs: what a path is (getattr), what a folder holds (readdir), as the store, the
 * files being written and the queued deletes make it. */
#include "fs/ops.h"
#include "cache/delq.h"
#include "cache/dirlist.h"
#include "cache/fresh.h"
#include "common/log.h"
#include "fs/handle.h"
#include "fs/layout.h"
#include "fs/resolve.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

static void fill_stat(struct snapfs *s, struct stat *st, enum meta_kind kind, uint64_t size, time_t mtime)
{
	memset(st, 0, sizeof(*st));
	st->st_uid = s->uid;
	st->st_gid = s->gid;
	/* folders are prefixes with no time of their own: one stable time, or tar sees them "change" */
	if (kind == META_DIR)
		mtime = s->started;
	st->st_mtime = st->st_ctime = st->st_atime = mtime;
	if (kind == META_DIR) {
		st->st_mode = S_IFDIR | (s->cfg.read_only ? 0555 : 0755);
		st->st_nlink = 2;
		st->st_size = 4096;
	} else {
		st->st_mode = S_IFREG | (s->cfg.read_only ? 0444 : 0644);
		st->st_nlink = 1;
		st->st_size = (off_t)size;
		st->st_blocks = (blkcnt_t)((size + 511) / 512);
	}
	st->st_blksize = 1 << 20;
}

int sfs_getattr(struct snapfs *s, const struct sfs_caller *who, const char *path, struct stat *st,
		struct fuse_file_info *fi)
{
	struct meta_entry e;
	uint64_t size;
	time_t mtime;
	int rc;

	/* With the kernel's writeback cache a write() refreshes the attributes through the writer's
	 * handle once they are stale or dropped (fs/notify.c drops them when a write fails): that is how
	 * a failed upload reaches the writer (pg_dumpall > f) when write() itself only fills the page
	 * cache. */
	if (fi && s->cfg.writeback_cache && (rc = sfs_handle_error(fi)))
		return rc;
	if (fi && sfs_handle_attr(fi, &size, &mtime)) {
		fill_stat(s, st, META_FILE, size, mtime);
		return 0;
	}
	if (!path)
		path = sfs_handle_path(fi);
	if (!path)
		return -ENOENT;
	if (!strcmp(path, SFS_STATUS_DIR)) {
		fill_stat(s, st, META_DIR, 0, s->started);
		st->st_mode = S_IFDIR | 0555;
		return 0;
	}
	if (!strcmp(path, SFS_STATUS_FILE)) {
		size_t len = 0;
		char *doc = status_json(s, &len);

		free(doc);
		fill_stat(s, st, META_FILE, len, time(NULL));
		st->st_mode = S_IFREG | 0444;
		return 0;
	}
	rc = sfs_resolve(s, path, &e);
	if (rc)
		return rc;
	if (e.kind == META_NONE)
		return -ENOENT;
	fill_stat(s, st, e.kind, e.size, e.mtime);
	return 0;
}

/* --- readdir -------------------------------------------------------------------------------------- */

struct dir_fill {
	struct snapfs *s;
	const char *path;
	int depth;            /* of the entries */
	const char *dk;       /* the folder's key, for the queued deletes */
	void *buf;
	fuse_fill_dir_t filler;
	char **open_names;    /* files being written here, listed with their live size */
	unsigned nopen;
	struct dirlist_rec *rec;   /* the listing as the store gave it, kept for the next reader */
	unsigned long since;       /* the delete queue's mark when the listing was sent */
	uint64_t meta_gen;         /* the metadata cache's, then: a drop since voids what it lists */
	int stopped;
	char last[1024];      /* a marker and its folder can both come back: one entry */
	int last_dir;
	unsigned unreachable; /* entries of this listing no file system can show (logged) */
	char **files;         /* the file names listed so far, in the store's (strcmp) order */
	size_t nfiles, capfiles;
};

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Remember a listed file name: a folder of the same name may come later ("a", "a-1", "a/"). */
static void note_file(struct dir_fill *df, const char *nm)
{
	char *c;

	if (df->nfiles == df->capfiles) {
		size_t cap = df->capfiles ? df->capfiles * 2 : 64;
		char **v = realloc(df->files, cap * sizeof(*v));

		if (!v)
			return;   /* only the log line is lost */
		df->files = v;
		df->capfiles = cap;
	}
	c = strdup(nm);
	if (c)
		df->files[df->nfiles++] = c;
}

#define UNREACHABLE_LOGGED 10   /* per listing */

/* A key the store holds that the mount cannot show: said in the log, so a folder that will not go
 * away (rm -r: "Directory not empty") has a reason. */
static void unreachable(struct dir_fill *df, const char *name, const char *why)
{
	if (df->unreachable++ < UNREACHABLE_LOGGED)
		log_warn("%s: the store holds %s%s, which no file system can show (%s): use snapctl describe",
			 df->path, df->dk, name, why);
}

struct open_collect {
	const char *dir;
	char **names;
	unsigned n;
};

static void collect_open(void *arg, const struct wf_status *st)
{
	struct open_collect *oc = arg;
	size_t dl = strlen(oc->dir);
	char **p;

	if (st->unlinked || strncmp(st->path, oc->dir, dl) || st->path[dl] != '/' || strchr(st->path + dl + 1, '/'))
		return;
	p = realloc(oc->names, (oc->n + 1) * sizeof(*p));
	if (!p)
		return;
	oc->names = p;
	oc->names[oc->n] = strdup(st->path + dl + 1);
	if (oc->names[oc->n])
		oc->n++;
}

static int fill_one(void *arg, const char *name, const struct obj_info *oi)
{
	struct dir_fill *df = arg;
	char nm[1024], child[4096];
	size_t n = strlen(name);
	struct stat st;
	int is_dir = oi->is_dir;

	if (n >= sizeof(nm))
		return 0;
	memcpy(nm, name, n + 1);
	if (n && nm[n - 1] == '/') {
		nm[--n] = 0;
		is_dir = 1;
	}
	if (!layout_visible(df->depth, nm, is_dir)) {
		/* the folder's own marker, odd keys, names no file system can show */
		const char *why = *name ? layout_unshowable(nm, n) : NULL;

		if (why)
			unreachable(df, name, why);
		return 0;
	}
	if (!strcmp(nm, df->last)) {
		if (is_dir != df->last_dir)
			unreachable(df, name, "a file and a folder of the same name: the folder is hidden");
		return 0;
	}
	snprintf(df->last, sizeof(df->last), "%s", nm);
	df->last_dir = is_dir;
	if (!is_dir) {
		/* unlinked, its delete not confirmed yet or confirmed only after the listing was sent:
		 * the store listed it all the same */
		snprintf(child, sizeof(child), "%s%s", df->dk, nm);
		if (delq_hides(df->s->delq, child, df->since))
			return 0;
	}
	for (unsigned i = 0; i < df->nopen; i++)
		if (!strcmp(df->open_names[i], nm))
			return 0;   /* shown with its live size below */
	snprintf(child, sizeof(child), "%s/%s", strcmp(df->path, "/") ? df->path : "", nm);
	if (is_dir) {
		const char *key = nm;

		/* "a" listed before "a/" with other names between them ("a-1"): the file wins */
		if (df->nfiles && bsearch(&key, df->files, df->nfiles, sizeof(*df->files), cmp_name)) {
			unreachable(df, name, "a file and a folder of the same name: the folder is hidden");
			return 0;
		}
	} else {
		note_file(df, nm);
	}
	fill_stat(df->s, &st, is_dir ? META_DIR : META_FILE, oi->size, oi->mtime ? oi->mtime : df->s->started);
	meta_put_since(df->s->meta, df->meta_gen, child, is_dir ? META_DIR : META_FILE, oi->size, st.st_mtime);
	fresh_note(df->s->fresh, child);
	return df->filler(df->buf, nm, &st, 0, FUSE_FILL_DIR_PLUS) ? 1 : 0;
}

static int fill_rec(void *arg, const char *name, const struct obj_info *oi)
{
	struct dir_fill *df = arg;

	dirlist_add(df->rec, name, oi);
	df->stopped = fill_one(arg, name, oi);
	return df->stopped;
}

int sfs_readdir(struct snapfs *s, const struct sfs_caller *who, const char *path, void *buf, fuse_fill_dir_t filler,
		off_t off, struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	struct dir_fill df = { .s = s, .path = path, .buf = buf, .filler = filler };
	struct open_collect oc = { .dir = path };
	struct meta_entry e;
	char *dk = NULL;
	int rc;

	(void)off;
	(void)flags;
	if (!path)
		path = sfs_handle_path(fi);
	if (!path)
		return -EBADF;
	df.path = oc.dir = path;
	filler(buf, ".", NULL, 0, 0);
	filler(buf, "..", NULL, 0, 0);
	if (!strcmp(path, "/")) {
		struct stat st;

		fill_stat(s, &st, META_DIR, 0, s->started);
		filler(buf, LAYOUT_ROOT, &st, 0, FUSE_FILL_DIR_PLUS);
		return 0;
	}
	if (!strcmp(path, SFS_STATUS_DIR)) {
		filler(buf, "status", NULL, 0, 0);
		return 0;
	}
	rc = sfs_resolve(s, path, &e);
	if (rc)
		return rc;
	if (e.kind != META_DIR)
		return e.kind == META_NONE ? -ENOENT : -ENOTDIR;
	df.meta_gen = meta_gen(s->meta);
	dk = sfs_dir_key(s, path);
	if (!dk)
		return -ENOMEM;
	df.dk = dk;
	df.depth = layout_depth(path) + 1;
	stage_foreach(&s->stage, collect_open, &oc);
	df.open_names = oc.names;
	df.nopen = oc.n;
	df.since = delq_list_begin(s->delq);
	if (!dirlist_replay(s->lists, path, fill_one, &df)) {
		df.rec = dirlist_begin(s->lists, path);
		rc = s->be.ops->list(&s->be, dk, 1, 0, fill_rec, &df);
		dirlist_end(s->lists, df.rec, !rc && !df.stopped);
	}
	delq_list_end(s->delq);
	if (df.unreachable > UNREACHABLE_LOGGED)
		log_warn("%s: ... and %u more keys no file system can show", path,
			 df.unreachable - UNREACHABLE_LOGGED);
	for (size_t i = 0; i < df.nfiles; i++)
		free(df.files[i]);
	free(df.files);
	if (rc)
		log_warn("listing %s failed: %s", path, strerror(-rc));
	for (unsigned i = 0; i < oc.n && !rc; i++) {
		char child[4096];
		struct meta_entry ce;
		struct stat st;

		snprintf(child, sizeof(child), "%s/%s", path, oc.names[i]);
		if (sfs_resolve(s, child, &ce) == 0 && ce.kind == META_FILE) {
			fill_stat(s, &st, META_FILE, ce.size, ce.mtime);
			filler(buf, oc.names[i], &st, 0, FUSE_FILL_DIR_PLUS);
		}
	}
	for (unsigned i = 0; i < oc.n; i++)
		free(oc.names[i]);
	free(oc.names);
	free(dk);
	return rc;
}

int sfs_statfs(struct snapfs *s, const struct sfs_caller *who, const char *path, struct statvfs *sv)
{
	uint64_t total = 1ULL << 50, avail = 1ULL << 50;   /* an object store: 1 PiB, effectively unbounded */

	(void)path;
	if (s->be.ops->statfs)
		s->be.ops->statfs(&s->be, &total, &avail);
	memset(sv, 0, sizeof(*sv));
	sv->f_bsize = 1 << 20;
	sv->f_frsize = 4096;
	sv->f_blocks = total / 4096;
	sv->f_bfree = sv->f_bavail = avail / 4096;
	sv->f_files = sv->f_ffree = sv->f_favail = 1ULL << 30;
	sv->f_namemax = 255;
	return 0;
}
