/* Folders and names: mkdir, rmdir, unlink, rename. */
#include "cache/delq.h"
#include "cache/dirlist.h"
#include "cache/fresh.h"
#include "fs/layout.h"
#include "common/log.h"
#include "fs/handle.h"
#include "fs/ops.h"
#include "fs/resolve.h"
#include "fs/snapfs.h"
#include "fs/writeonce.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define BATCH 1000

static int refuse(const char *op, const char *path, int is_dir)
{
	char why[512];
	int rc = layout_check_create(path, is_dir, why, sizeof(why));

	if (rc && rc != -EEXIST)
		log_warn("%s refused: %s", op, why);
	return rc;
}

int sfs_mkdir(struct snapfs *s, const struct sfs_caller *who, const char *path, mode_t mode)
{
	struct meta_entry e;
	char *dk = NULL;
	int rc, cached;

	(void)mode;
	if (s->cfg.read_only)
		return -EROFS;
	rc = refuse("mkdir", path, 1);
	if (rc)
		return rc;
	rc = sfs_resolve_cached(s, path, &e, &cached);
	if (rc)
		return rc;
	if (e.kind != META_NONE)
		return -EEXIST;
	/* a marker only for a folder that would not exist without it: a cached "nothing there" may
	 * predate objects another client wrote below it (an answer just asked, or a new name in a
	 * folder this mount made, is not asked twice: tar -x makes a tree of folders) */
	rc = cached ? sfs_folder_in_store(s, path) : 0;
	if (rc > 0)
		meta_put(s->meta, path, META_DIR, 0, s->started);   /* there after all */
	if (rc)
		return rc < 0 ? rc : -EEXIST;
	dk = sfs_dir_key(s, path);
	if (!dk)
		return -ENOMEM;
	/* an empty folder is a zero-byte "name/" marker, the convention of s3fs and the consoles */
	rc = s->be.ops->put(&s->be, dk, s->devnull, 0, 0, NULL);
	free(dk);
	if (rc)
		return rc;
	dirlist_changed(s->lists);
	meta_put(s->meta, path, META_DIR, 0, time(NULL));
	fresh_made(s->fresh, path);
	return 0;
}

struct collect {
	char **keys;
	size_t n, cap;
	const char *prefix;   /* prepended to each listed name */
	int limit_err;
};

static int collect_key(void *arg, const char *name, const struct obj_info *oi)
{
	struct collect *c = arg;
	char *k;

	(void)oi;
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 256;
		char **p = realloc(c->keys, cap * sizeof(*p));

		if (!p) {
			c->limit_err = -ENOMEM;
			return 1;
		}
		c->keys = p;
		c->cap = cap;
	}
	if (asprintf(&k, "%s%s", c->prefix, name) < 0) {
		c->limit_err = -ENOMEM;
		return 1;
	}
	c->keys[c->n++] = k;
	return 0;
}

static void collect_free(struct collect *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->keys[i]);
	free(c->keys);
	memset(c, 0, sizeof(*c));
}

/* Every key below the folder (recursively), its own marker included. */
static int list_tree(struct snapfs *s, const char *dk, struct collect *c)
{
	int rc;

	c->prefix = dk;
	rc = s->be.ops->list(&s->be, dk, 0, 0, collect_key, c);
	return rc ? rc : c->limit_err;
}

static int remove_keys(struct snapfs *s, char **keys, size_t n)
{
	for (size_t i = 0; i < n; i += BATCH) {
		size_t cnt = n - i < BATCH ? n - i : BATCH;
		int rc = s->be.ops->remove(&s->be, (const char *const *)keys + i, cnt);

		if (rc)
			return rc;
	}
	return 0;
}

struct open_under {
	const char *dir;
	int found;
};

static void find_open_under(void *arg, const struct wf_status *st)
{
	struct open_under *ou = arg;
	size_t n = strlen(ou->dir);

	if (!st->unlinked && !strncmp(st->path, ou->dir, n) && st->path[n] == '/')
		ou->found = 1;
}

int sfs_rmdir(struct snapfs *s, const struct sfs_caller *who, const char *path)
{
	struct collect c = { 0 };
	struct open_under ou = { .dir = path };
	char *dk = NULL;
	int rc, depth = layout_depth(path);

	if (s->cfg.read_only)
		return -EROFS;
	if (depth <= 1 || !strncmp(path, SFS_STATUS_DIR, strlen(SFS_STATUS_DIR)))
		return depth == 0 ? -EBUSY : -EPERM;
	stage_foreach(&s->stage, find_open_under, &ou);
	if (ou.found)
		return -ENOTEMPTY;
	rc = wo_check_delete(s, path, "rmdir");
	if (rc)
		return rc;
	fresh_drop_tree(s->fresh, path);
	/* `rm -r` unlinked the files: their deletes must be done (or have failed) before the folder
	 * is looked at, so the objects are gone when rmdir returns */
	rc = sfs_settle(s, path);
	if (rc) {
		log_error("rmdir %s: deletes below it failed; the folder keeps those objects", path);
		meta_drop_tree(s->meta, path);
		return rc;
	}
	dk = sfs_dir_key(s, path);
	if (!dk)
		return -ENOMEM;
	c.prefix = "";
	rc = s->be.ops->list(&s->be, dk, 1, 3, collect_key, &c);
	if (!rc)
		rc = c.limit_err;
	if (rc)
		goto out;
	for (size_t i = 0; i < c.n; i++) {
		if (*c.keys[i]) {
			rc = -ENOTEMPTY;   /* anything but the folder's own marker */
			goto out;
		}
	}
	/* nothing listed: a folder that was only a prefix went away with its last object */
	if (c.n)
		rc = s->be.ops->remove(&s->be, (const char *const *)&dk, 1);
	dirlist_changed(s->lists);
	meta_drop_tree(s->meta, path);
out:
	collect_free(&c);
	free(dk);
	return rc;
}

/* A file still open for writing: its data is dropped at close instead of published, and what the
 * store holds under its name (an earlier version) goes now. */
static int unlink_open(struct snapfs *s, struct wfile *wf, const char *key, const char *path)
{
	int rc;

	wf_unlink(wf);
	wf_close(wf);
	rc = s->be.ops->remove(&s->be, &key, 1);
	sfs_forget(s, path);
	return rc == -ENOENT ? 0 : rc;
}

/* unlink returns once the delete is queued: the file is gone from the mount at once and the queue
 * deletes it with others in one request (`rm -r` sends one unlink per file). */
int sfs_unlink(struct snapfs *s, const struct sfs_caller *who, const char *path)
{
	struct meta_entry e;
	struct wfile *wf;
	char *key;
	int rc;

	if (s->cfg.read_only)
		return -EROFS;
	key = sfs_path_key(s, path);
	if (!key)
		return -ENOMEM;
	/* a last release still publishing it lands first; this delete comes after */
	if (stage_wait_released(&s->stage, key))
		meta_drop(s->meta, path);
	wf = wf_find_any(&s->stage, key);
	if (wf) {
		rc = unlink_open(s, wf, key, path);
	} else {
		rc = sfs_resolve(s, path, &e);
		if (!rc && e.kind != META_FILE)
			rc = e.kind == META_DIR ? -EISDIR : -ENOENT;
		if (!rc)
			rc = wo_check_delete(s, path, "unlink");
		if (!rc)
			rc = delq_add(s->delq, key, path);
		if (!rc)
			meta_put(s->meta, path, META_NONE, 0, 0);
	}
	if (!rc) {
		/* a folder that was only a prefix vanishes with its last object; `rm -r` still has to
		 * rmdir it, so it stays a folder here for a while (until that rmdir) */
		char *parent = strdup(path), *slash = parent ? strrchr(parent, '/') : NULL;

		if (slash && slash != parent) {
			*slash = 0;
			meta_put_ttl(s->meta, parent, META_DIR, 0, s->started, 60 * 1000);
		}
		free(parent);
	}
	free(key);
	return rc;
}

static int rename_file(struct snapfs *s, const char *fk, const char *tk)
{
	int rc;

	if (s->be.ops->move)
		return s->be.ops->move(&s->be, fk, tk);
	rc = s->be.ops->copy(&s->be, fk, tk);
	if (!rc)
		rc = s->be.ops->remove(&s->be, &fk, 1);
	return rc;
}

/* A folder rename waits for the uploads below either side and refuses while a file there is open
 * (its commit would land under the old name). */
static int quiesce_folders(struct snapfs *s, const char *from, const char *to)
{
	char *fdk = sfs_dir_key(s, from), *tdk = sfs_dir_key(s, to);
	int rc = -ENOMEM;

	if (fdk && tdk) {
		rc = stage_quiesce_under(&s->stage, fdk);
		if (!rc)
			rc = stage_quiesce_under(&s->stage, tdk);
		if (rc == -EBUSY)
			log_warn("rename refused: a file under %s or %s is open for writing", from, to);
	}
	free(fdk);
	free(tdk);
	return rc;
}

static void wait_released(struct snapfs *s, const char *path)
{
	char *key = sfs_path_key(s, path);

	if (key && stage_wait_released(&s->stage, key))
		meta_drop(s->meta, path);
	free(key);
}

/* A file. Either side closed and still uploading in the background is waited for, so that upload never
 * lands after the rename. An open target is replaced: its writer's data is discarded at its close, as
 * a local file system drops an unlinked file's. An open source goes on being written under its new
 * name, where its commit lands. */
static int rename_one(struct snapfs *s, const char *from, const char *to, const char *fk, const char *tk)
{
	struct wfile *twf = wf_find_any(&s->stage, tk), *swf;
	int rc = 0, old_obj;

	if (twf) {
		if (wf_queued(twf))
			rc = wf_sync(twf);
		else
			wf_unlink(twf);
		wf_close(twf);
		if (rc)
			return rc;
	}
	swf = wf_find_any(&s->stage, fk);
	if (swf && wf_queued(swf)) {
		rc = wf_sync(swf);
		wf_close(swf);
		if (rc)
			return rc;
		swf = NULL;
	}
	if (!swf)
		return rename_file(s, fk, tk);
	rc = wf_rename(swf, tk, to, &old_obj);
	if (!rc) {
		sfs_handles_renamed(s, swf, to);
		if (old_obj == WF_OLD_MOVE)
			rc = rename_file(s, fk, tk);
		else if (old_obj == WF_OLD_DROP && (rc = s->be.ops->remove(&s->be, &fk, 1)) == -ENOENT)
			rc = 0;
	} else if (rc == -EBUSY) {
		log_warn("rename refused: %s is open for writing (an append, or its upload started over an "
			 "existing object); rename it after it is closed", from);
	}
	wf_close(swf);
	return rc;
}

static int is_marker(const char *key)
{
	size_t n = strlen(key);

	return n && key[n - 1] == '/';
}

/* A folder: every key below it is copied to the new prefix, then the old ones go in batches; on a
 * store with an atomic move (file://) each object moves instead, then the folder markers, deepest
 * first, so emptied folders go too. A failure part way leaves every object whole, in one place or
 * the other. */
static int rename_tree(struct snapfs *s, const char *from, const char *to)
{
	struct collect c = { 0 };
	char *fdk = sfs_dir_key(s, from), *tdk = sfs_dir_key(s, to);
	size_t flen;
	int rc;

	if (!fdk || !tdk) {
		rc = -ENOMEM;
		goto out;
	}
	flen = strlen(fdk);
	rc = list_tree(s, fdk, &c);
	if (rc)
		goto out;
	for (int pass = 0; pass < 2; pass++) {
		for (size_t j = 0; j < c.n; j++) {
			/* pass 0: objects in order; pass 1 (move only): markers, deepest first */
			size_t i = pass ? c.n - 1 - j : j;
			char *nk;

			if (s->be.ops->move && is_marker(c.keys[i]) != pass)
				continue;
			if (asprintf(&nk, "%s%s", tdk, c.keys[i] + flen) < 0) {
				rc = -ENOMEM;
				goto out;
			}
			rc = s->be.ops->move ? s->be.ops->move(&s->be, c.keys[i], nk)
					     : s->be.ops->copy(&s->be, c.keys[i], nk);
			free(nk);
			if (rc) {
				log_error("rename %s -> %s: %s: %s", from, to, c.keys[i], strerror(-rc));
				goto out;
			}
		}
		if (!s->be.ops->move)
			break;
	}
	if (!s->be.ops->move)
		rc = remove_keys(s, c.keys, c.n);
out:
	collect_free(&c);
	free(fdk);
	free(tdk);
	return rc;
}

/* Every valid NAMESPACE/DATABASE/SNAPSHOT folder exists implicitly, so `mv snap1 snap2` sees snap2 as a
 * folder and asks to move snap1 into it (snap2/snap1). When snap2 holds nothing in the store, that is
 * never what the user meant (a snapshot inside a snapshot has no place in the layout): rename to
 * snap2 itself. */
static int implicit_target(struct snapfs *s, const char *from, const char *to, char (*out)[4096])
{
	int fd = layout_depth(from), td = layout_depth(to);
	const char *fb = strrchr(from, '/'), *tb = strrchr(to, '/');
	int rc;

	if (fd < 2 || fd > 4 || td != fd + 1 || strcmp(fb, tb))
		return 0;
	if ((size_t)(tb - to) >= sizeof(*out))
		return 0;
	memcpy(*out, to, (size_t)(tb - to));
	(*out)[tb - to] = 0;
	rc = sfs_folder_in_store(s, *out);
	return rc == 0;
}

int sfs_rename(struct snapfs *s, const struct sfs_caller *who, const char *from, const char *to,
	       unsigned int flags)
{
	struct meta_entry fe, te;
	char *fk = NULL, *tk = NULL, retarget[4096];
	int rc;

	if (s->cfg.read_only)
		return -EROFS;
	if (flags & ~RENAME_NOREPLACE)
		return -EINVAL;
	/* a last release still publishing either side lands first */
	wait_released(s, from);
	wait_released(s, to);
	rc = sfs_resolve(s, from, &fe);
	if (rc)
		return rc;
	if (fe.kind == META_NONE)
		return -ENOENT;
	if (layout_depth(from) <= 1)
		return -EPERM;
	if (fe.kind == META_DIR && implicit_target(s, from, to, &retarget))
		to = retarget;
	if (fe.kind == META_DIR && (rc = quiesce_folders(s, from, to)))
		return rc;
	/* nothing the rename lists or writes may still have a delete queued */
	rc = sfs_settle(s, from);
	if (!rc)
		rc = sfs_settle(s, to);
	if (rc)
		return rc;
	rc = refuse("rename", to, fe.kind == META_DIR);
	if (rc)
		return rc == -EEXIST ? -EPERM : rc;
	rc = sfs_resolve(s, to, &te);
	if (rc)
		return rc;
	if (te.kind == META_DIR && layout_depth(to) <= 4) {
		/* an implicit layout folder with nothing in the store is not there to replace */
		rc = sfs_folder_in_store(s, to);
		if (rc < 0)
			return rc;
		if (!rc)
			te.kind = META_NONE;
	}
	if (te.kind != META_NONE && (flags & RENAME_NOREPLACE))
		return -EEXIST;
	if (te.kind == META_DIR && fe.kind != META_DIR)
		return -EISDIR;
	if (te.kind == META_FILE && fe.kind == META_DIR)
		return -ENOTDIR;
	/* a move removes its source; onto an object it replaces that one */
	rc = wo_check_delete(s, from, "rename");
	if (!rc && te.kind == META_FILE) {
		char *k = sfs_path_key(s, to);

		rc = k ? wo_check_write(s, to, k, "rename onto") : -ENOMEM;
		free(k);
	}
	if (rc)
		return rc;
	fk = sfs_path_key(s, from);
	tk = sfs_path_key(s, to);
	if (!fk || !tk) {
		rc = -ENOMEM;
		goto out;
	}
	if (fe.kind == META_FILE) {
		rc = rename_one(s, from, to, fk, tk);
	} else {
		struct collect c = { 0 };
		char *tdk = sfs_dir_key(s, to);

		if (!tdk) {
			rc = -ENOMEM;
			goto out;
		}
		c.prefix = "";
		rc = s->be.ops->list(&s->be, tdk, 1, 3, collect_key, &c);
		for (size_t i = 0; !rc && i < c.n; i++)
			if (*c.keys[i])
				rc = -ENOTEMPTY;   /* POSIX: a folder replaces only an empty one */
		collect_free(&c);
		free(tdk);
		if (!rc)
			rc = rename_tree(s, from, to);
	}
out:
	dirlist_changed(s->lists);
	meta_drop_tree(s->meta, from);
	meta_drop_tree(s->meta, to);
	fresh_drop_tree(s->fresh, from);
	fresh_drop_tree(s->fresh, to);
	free(fk);
	free(tk);
	return rc;
}
