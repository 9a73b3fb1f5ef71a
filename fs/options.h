/* The command line: `snapfs SOURCE MOUNTPOINT [--option value]...`, and the same options as
 * `-o name=value` (dashes or underscores) so an fstab line or mount.snapfs can carry them. */
#ifndef SNAPFS_OPTIONS_H
#define SNAPFS_OPTIONS_H

#include <stdint.h>
#include <stdio.h>

struct config {
	char *source;
	char *mountpoint;
	char *secret_dir;
	char *endpoint;
	char *region;
	char *addressing;
	char *cache_dir;
	char *log_file;
	char *pid_file;
	uint64_t cache_size;
	uint64_t part_size;
	uint64_t read_ahead;
	unsigned uploads;
	unsigned meta_ttl_ms;
	int timeout_s;
	int retries;
	int commit_retry_s;
	int log_level;
	int foreground;
	int debug;
	int allow_other;
	int allow_root;
	int read_only;
	int no_probe;
	int async_close;
	int writeback_cache;
	int write_once;
	int no_delete;
	int help;
	int version;
	char *fuse_opts;   /* pass-through mount options for FUSE, comma-separated, or NULL */
};

/* Parse argv into cfg (defaults first). 0, or -EINVAL with a malloc'd one-line *why. */
int options_parse(int argc, char **argv, struct config *cfg, char **why);
void options_free(struct config *cfg);
/* "64M", "1G", "512k", "1048576" -> bytes; -EINVAL if malformed */
int options_parse_size(const char *s, uint64_t *out);
void options_usage(FILE *f);

#endif
