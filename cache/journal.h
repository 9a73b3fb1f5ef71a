/* The crash journal: every chunked upload in progress is recorded in the cache dir (key and the
 * store's upload token) before its first part leaves, and forgotten at commit or abort. After a crash
 * (kill -9, power loss) the next mount with the same cache dir discards what the records name, so
 * no half-uploaded parts stay on the store to pay for, and only snapfs's own uploads are touched. */
#ifndef SNAPFS_JOURNAL_H
#define SNAPFS_JOURNAL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct backend;
struct journal;

/* Open (create) the journal of this store + mount point under cache_dir, lock it against a second
 * daemon, and discard the uploads a previous daemon left. 0 or -errno with *why. */
int journal_open(struct journal **out, const char *cache_dir, const char *source, const char *mountpoint,
		 struct backend *be, char **why);
void journal_close(struct journal *j);
/* Record an upload; returns its id (0 if it could not be recorded: the upload goes on, unrecorded). */
uint64_t journal_add(struct journal *j, const char *key, const char *token);
void journal_done(struct journal *j, uint64_t id);

/* A commit that kept failing (the store refused it for the whole --commit-retry window): the upload
 * stays open in the store, and its record becomes NAME.failed ("key\ntoken\nsource\npath\nsize\n
 * time\nwhy\n"), which no mount discards: `snapctl retry` commits it from the record, `snapctl
 * discard` aborts it (both take the record's own lock, so they work beside a running mount). */
struct journal_failed {
	char *key, *token, *source, *path, *why;
	uint64_t size;
	time_t at;
	char file[80];     /* NAME.failed in dir */
	char dir[4096];    /* the journal dir holding it */
};

/* Turn the record of upload id into a failed one. 0 or -errno (the record then stays as it was). */
int journal_fail(struct journal *j, uint64_t id, const char *path, uint64_t size, const char *why);
/* Every failed record in this journal (j) or in every journal under cache_dir (j NULL): fn gets each,
 * parsed; a record it cannot parse is skipped. Stops when fn returns non-zero (returned). */
int journal_failed_foreach(struct journal *j, const char *cache_dir,
			   int (*fn)(void *arg, const struct journal_failed *f), void *arg);
/* Parse a failed record (for tests): 0, or -EINVAL. */
int journal_parse_failed(const char *buf, size_t len, struct journal_failed *out);
void journal_failed_free(struct journal_failed *f);

/* Asynchronous close (--async-close): a closed file waiting for its upload. The spool is made durable
 * and hard-linked into the journal as NAME.spool, then the record NAME.cl ("key\npath\nsize\nspool\n")
 * is written and synced, so the next mount can upload what a crash or an unmount left behind. */
struct journal_closed {
	char *key, *path;
	uint64_t size;
	char name[64];     /* NAME: the record is NAME.cl, the data NAME.spool */
};

/* Record the closed file whose data is in fd; fills name. 0 or -errno (the file is then closed the
 * synchronous way). */
int journal_closed_add(struct journal *j, const char *key, const char *path, uint64_t size, int fd,
		       char name[64]);
/* The file is stored (or was deleted): drop the record, then its spool. */
void journal_closed_done(struct journal *j, const char *name);
/* After journal_open: the closed files a previous daemon left, one at a time; 0 with *out filled
 * (the caller frees key and path), -ENOENT when there are no more. *fd: the spool, opened. */
int journal_closed_next(struct journal *j, struct journal_closed *out, int *fd);
/* Parse a closed record (for tests): 0, or -EINVAL when it is torn or malformed. */
int journal_parse_closed(const char *buf, size_t len, struct journal_closed *out);

#endif
