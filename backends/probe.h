/* The write check at mount, step by step, for a store's own probe op to build on (swift_write_check.c). */
#ifndef SNAPFS_PROBE_H
#define SNAPFS_PROBE_H

#include "backends/backend.h"

enum probe_step { PROBE_BEGIN, PROBE_PART, PROBE_COMMIT, PROBE_STAT, PROBE_REMOVE };

/* A few bytes as part 1 of a chunked upload of key through b's own ops (upload_begin, upload_part,
 * upload_commit), then stat (the size must match) and remove. 0, or -errno with *failed set to the
 * step and a malloc'd one-line *why: the step and the first warning the store's code logged in it. */
int probe_upload(struct backend *b, const char *key, enum probe_step *failed, char **why);

#endif
