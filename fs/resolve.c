/* What is at a mount path, shared by the operations: the store key of a path, resolving a path to a
 * file, a folder or nothing (the metadata cache, the files being written, the queued deletes, then
 * the store), and forgetting what the caches know of it. */
#include "fs/resolve.h"
#include "cache/delq.h"
#include "cache/dirlist.h"
#include "cache/fresh.h"
#include "fs/layout.h"
#include "fs/snapfs.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

char *sfs_path_key(struct snapfs *s, const char *path)
{
	return source_key(&s->src, path);
}

char *sfs_dir_key(struct snapfs *s, const char *path)
{
	char *k = sfs_path_key(s, path), *d;

	if (!k)
		return NULL;
	if (!*k) {
		free(k);
		return strdup("");   /* the store root without a prefix */
	}
	if (asprintf(&d, "%s/", k) < 0)
		d = NULL;
	free(k);
	return d;
}

static int any_entry(void *arg, const char *name, const struct obj_info *oi)
{
	(void)name;
	(void)oi;
	*(int *)arg = 1;
	return 1;
}

int sfs_folder_in_store(struct snapfs *s, const char *path)
{
	char *dk = sfs_dir_key(s, path);
	int found = 0, rc;

	if (!dk)
		return -ENOMEM;
	rc = s->be.ops->list(&s->be, dk, 1, 1, any_entry, &found);
	if (!rc && !found) {
		/* a store that does not list a folder's own marker under its prefix */
		struct obj_info oi;

		found = s->be.ops->stat(&s->be, dk, &oi) == 0;
	}
	free(dk);
	return rc ? rc : found;
}

void sfs_forget(struct snapfs *s, const char *path)
{
	if (path)
		meta_drop(s->meta, path);
	dirlist_changed(s->lists);
}

int sfs_resolve(struct snapfs *s, const char *path, struct meta_entry *out)
{
	int cached;

	return sfs_resolve_cached(s, path, out, &cached);
}

int sfs_resolve_cached(struct snapfs *s, const char *path, struct meta_entry *out, int *cached)
{
	int depth = layout_depth(path), rc;
	struct obj_info oi;
	uint64_t gen;
	struct wfile *wf;
	char *key;

	memset(out, 0, sizeof(*out));
	*cached = 0;
	if (depth <= 1) {
		out->kind = depth == 0 || !strcmp(path + 1, LAYOUT_ROOT) ? META_DIR : META_NONE;
		out->mtime = s->started;
		return 0;
	}
	if (depth <= 4) {
		/* NAMESPACE/DATABASE/SNAPSHOT folders with valid names always exist, so that
		 * `pg_dumpall > kubedb/ns/db/snap/dumpfile.sql` needs no mkdir, as in an object store */
		const char *name = strrchr(path, '/') + 1;

		if (depth == 2 ? layout_ns_name(name) : layout_obj_name(name)) {
			out->kind = META_DIR;
			out->mtime = s->started;
			return 0;
		}
	}
	key = sfs_path_key(s, path);
	if (!key)
		return -ENOMEM;
	wf = wf_find_any(&s->stage, key);
	if (wf) {
		/* a file that failed shows what the store holds, not the bytes that never got there; one
		 * already stored too (the same answer before and after its last handle goes) */
		int staged = wf_getattr(wf, &out->size, &out->mtime);

		wf_close(wf);
		if (staged) {
			out->kind = META_FILE;
			free(key);
			return 0;
		}
		out->size = 0;
		out->mtime = 0;
	}
	if (delq_has(s->delq, key)) {
		free(key);
		return 0;   /* unlinked, its delete still on the way: gone already */
	}
	gen = meta_gen(s->meta);   /* before the answer: a drop from now on voids it */
	if (meta_get(s->meta, path, out)) {
		free(key);
		*cached = 1;
		return 0;
	}
	if (fresh_absent(s->fresh, path)) {
		free(key);   /* a new name in a folder this mount made: nothing to ask the store */
		meta_put_since(s->meta, gen, path, META_NONE, 0, 0);
		return 0;
	}
	rc = depth >= 5 ? s->be.ops->stat(&s->be, key, &oi) : -ENOENT;
	free(key);
	if (rc == 0) {
		out->kind = META_FILE;
		out->size = oi.size;
		out->mtime = oi.mtime;
	} else if (rc == -ENOENT) {
		rc = sfs_folder_in_store(s, path);
		if (rc < 0)
			return rc;
		out->kind = rc ? META_DIR : META_NONE;
		out->mtime = s->started;
		rc = 0;
	} else {
		return rc;
	}
	meta_put_since(s->meta, gen, path, out->kind, out->size, out->mtime);
	return 0;
}

/* Wait until no delete of path, or of anything below it, is still queued: what rmdir and rename
 * list must be the store after those deletes, and a new object must not meet a stale delete.
 * -EIO if one of those deletes failed. */
int sfs_settle(struct snapfs *s, const char *path)
{
	char *key;
	int rc;

	if (!s->delq)
		return 0;
	key = sfs_path_key(s, path);
	if (!key)
		return -ENOMEM;
	rc = delq_wait(s->delq, key);
	free(key);
	return rc;
}
