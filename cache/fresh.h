/* Folders this mount made. A folder it created was empty then, so a name in it that the mount has
 * never resolved, listed or created is absent: a create there (tar -x, mongodump) need not ask the
 * store for the key, the key's folder marker and a listing before its PUT. The knowledge lasts
 * --meta-ttl after the mount last used the folder, as cached answers do; every name the mount meets
 * in the folder is remembered, so such a name goes to the store as before. */
#ifndef SNAPFS_FRESH_H
#define SNAPFS_FRESH_H

struct fresh;

/* ttl_ms 0: nothing is kept */
struct fresh *fresh_new(unsigned ttl_ms);
void fresh_free(struct fresh *f);
/* dir was just made by this mount, empty. NULL f: no-op (also below). */
void fresh_made(struct fresh *f, const char *dir);
/* 1 when path's folder was made by this mount and path's name was never met: it is absent. Either
 * way the name is met from now on (the caller may create it). */
int fresh_absent(struct fresh *f, const char *path);
/* path's name was seen (listed) in its folder. */
void fresh_note(struct fresh *f, const char *path);
/* dir and every folder below it are no longer known (rmdir, rename). */
void fresh_drop_tree(struct fresh *f, const char *dir);

#endif
