/* Recent folder listings. `rm -r` opens each folder twice in a row (once to see whether it is empty,
 * once to walk it) and every open would list the store again: a listing of 1,000 objects costs as
 * much as deleting them. A complete listing is kept for a short time (at most a second) and only
 * while nothing changed through the mount: every change, once it is in the store, bumps a
 * generation that makes every kept listing stale. */
#ifndef SNAPFS_DIRLIST_H
#define SNAPFS_DIRLIST_H

#include "backends/backend.h"

struct dirlist;
struct dirlist_rec;

/* ttl_ms 0: nothing is kept */
struct dirlist *dirlist_new(unsigned ttl_ms);
void dirlist_free(struct dirlist *d);
/* Something changed in the store through the mount (publish, delete, mkdir, rmdir, rename). NULL ok. */
void dirlist_changed(struct dirlist *d);
/* Feed the kept listing of path to fn (as list() would): 1 if there was a fresh one, else 0. */
int dirlist_replay(struct dirlist *d, const char *path, list_fn fn, void *arg);
/* Record a listing of path while it comes from the store: begin (NULL: nothing will be kept), add
 * each entry, end (kept only if complete and nothing changed since begin; frees r). */
struct dirlist_rec *dirlist_begin(struct dirlist *d, const char *path);
void dirlist_add(struct dirlist_rec *r, const char *name, const struct obj_info *oi);
void dirlist_end(struct dirlist *d, struct dirlist_rec *r, int complete);

#endif
