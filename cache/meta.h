/* Metadata cache: what getattr learned about a path (a file with its size, a folder, or nothing there),
 * kept for --meta-ttl so `ls -l` of a 5,000-object snapshot costs one listing, not 5,000 HEADs. Objects
 * written by other clients appear once the entry expires. */
#ifndef SNAPFS_META_H
#define SNAPFS_META_H

#include <stdint.h>
#include <time.h>

enum meta_kind { META_NONE = 0, META_FILE, META_DIR };

struct meta_entry {
	enum meta_kind kind;
	uint64_t size;
	time_t mtime;
};

struct meta;

struct meta *meta_new(unsigned ttl_ms);
void meta_free(struct meta *m);
/* 1 and *out filled on a fresh hit, 0 on a miss */
int meta_get(struct meta *m, const char *path, struct meta_entry *out);
void meta_put(struct meta *m, const char *path, enum meta_kind kind, uint64_t size, time_t mtime);
/* The same with a lifetime of its own (a folder emptied by unlink stays until its rmdir). */
void meta_put_ttl(struct meta *m, const char *path, enum meta_kind kind, uint64_t size, time_t mtime,
		  unsigned ttl_ms);
void meta_drop(struct meta *m, const char *path);
/* The cache's generation: every drop (meta_drop, meta_drop_tree, meta_set_replaced) moves it on. A
 * lookup that asks the store reads it first and keeps the answer with meta_put_since, which keeps
 * nothing if a drop came in between: the answer may predate the commit or the delete that drop stood
 * for (a getattr's HEAD sent before a release published the file would bring its old size back). */
uint64_t meta_gen(struct meta *m);
void meta_put_since(struct meta *m, uint64_t gen, const char *path, enum meta_kind kind, uint64_t size,
		    time_t mtime);
/* A file whose size changed in the store behind the mount's back: the kernel may hold the old size
 * for as long as it keeps the inode (with its writeback cache it never takes a new one), so reads
 * of it must not trust that size. Set by meta_put when a file's size changes, or by hand; cleared
 * by meta_drop (the mount's own writes set the kernel's size). Expiry does not clear it. */
void meta_set_replaced(struct meta *m, const char *path);
int meta_replaced(struct meta *m, const char *path);
/* Forget path and everything below it (rename and removal of folders). */
void meta_drop_tree(struct meta *m, const char *path);

#endif
