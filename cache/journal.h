/* The crash journal: every chunked upload in progress is recorded in the cache dir (key and the
 * store's upload token) before its first part leaves, and forgotten at commit or abort. After a crash
 * (kill -9, power loss) the next mount with the same cache dir discards what the records name, so
 * no half-uploaded parts stay on the store to pay for, and only snapfs's own uploads are touched. */
#ifndef SNAPFS_JOURNAL_H
#define SNAPFS_JOURNAL_H

#include <stdint.h>

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

#endif
