/* A failure-injecting store for unit tests: the real file:// backend in a fresh temp dir, wrapped so that
 * chosen calls fail. A fault is set by a countdown (fault_at: the Nth call of an operation from now
 * fails, for a number of calls) or by a script of such rules, e.g.
 *     "upload_part#3=EIO"      the 3rd upload_part from now returns -EIO (once)
 *     "upload_commit=ENOSPC"   the next upload_commit returns -ENOSPC (once)
 *     "remove=EIO*"            every remove from now on returns -EIO
 *     "put#2=EEXIST*3"         the 2nd, 3rd and 4th put return -EEXIST
 * Rules are separated by ',', ';' or blanks. A failing call does nothing in the store (a refused
 * upload_commit aborts the upload, as file:// does for a commit that fails). Every call is counted,
 * per operation, whether it failed or not; the counters and the rules are safe across threads. */
#ifndef SNAPFS_FAULT_BACKEND_H
#define SNAPFS_FAULT_BACKEND_H

#include "backends/backend.h"

enum fault_op {
	FAULT_STAT, FAULT_LIST, FAULT_READ, FAULT_PUT, FAULT_UPLOAD_BEGIN, FAULT_UPLOAD_PART,
	FAULT_UPLOAD_COMMIT, FAULT_UPLOAD_ABORT, FAULT_REMOVE, FAULT_COPY, FAULT_MOVE, FAULT_NOPS
};

struct fault;

/* A new store in a fresh directory below $TMPDIR (or /tmp), opened and wrapped: *be is what the code
 * under test uses (b->ops, b->conf, valid until fault_close). 0 or -errno. */
int fault_open(struct fault **out, struct backend **be);
/* Close the store and remove its directory and the scratch one. NULL is fine. */
void fault_close(struct fault *f);
/* The store's directory (an object of key K is the file DIR/K). */
const char *fault_dir(const struct fault *f);
/* An empty directory beside the store, removed by fault_close too: a cache dir for the code under test. */
const char *fault_scratch(const struct fault *f);

/* From the nth call of op from now (1: the next one), times calls return rc (a negative errno);
 * times 0: every call from then on. Adds to the rules already set. */
void fault_at(struct fault *f, enum fault_op op, unsigned nth, unsigned times, int rc);
/* Rules as in the comment at the top. 0, or -EINVAL for a script it cannot read (nothing set). */
int fault_script(struct fault *f, const char *script);
/* Drop every rule (the counters stay). */
void fault_clear(struct fault *f);

/* Calls of op so far, and how many of them were made to fail. */
unsigned fault_calls(struct fault *f, enum fault_op op);
unsigned fault_failed(struct fault *f, enum fault_op op);

/* What the store holds at key, read around the faults and the counters: 0 and its bytes (malloc'd,
 * *len of them), -ENOENT, or another -errno. data may be NULL to ask for the size only. */
int fault_peek(struct fault *f, const char *key, char **data, uint64_t *len);

#endif
