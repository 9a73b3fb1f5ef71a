/* What is at a mount path, shared by the operations (fs/ops*.c): store keys, resolving, forgetting. */
#ifndef SNAPFS_RESOLVE_H
#define SNAPFS_RESOLVE_H

#include "cache/meta.h"

struct snapfs;

/* The store key of a mount path ("/kubedb/a" -> "[prefix/]kubedb/a"), malloc'd. */
char *sfs_path_key(struct snapfs *s, const char *path);
/* The store key of a folder: sfs_path_key + "/" ("" + prefix for the root) */
char *sfs_dir_key(struct snapfs *s, const char *path);
/* What is at path: a file (with size), a folder, or nothing (META_NONE). Uses and fills the metadata
 * cache; open files being written count with their current size. 0 or -errno (store errors). */
int sfs_resolve(struct snapfs *s, const char *path, struct meta_entry *out);
/* The same; *cached is 1 when the answer came from the metadata cache (it may predate what another
 * client did since), 0 when it was asked of the store or known without asking. */
int sfs_resolve_cached(struct snapfs *s, const char *path, struct meta_entry *out, int *cached);
/* Does the store hold anything for the folder at path (its marker, or objects below it)? 1, 0 or
 * -errno. */
int sfs_folder_in_store(struct snapfs *s, const char *path);
/* Wait until no delete of path, or of anything below it, is still queued: 0, or -EIO if one failed. */
int sfs_settle(struct snapfs *s, const char *path);
/* Forget what the cache knows of path and of its parent folder listing. */
void sfs_forget(struct snapfs *s, const char *path);

#endif
