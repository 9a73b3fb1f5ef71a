/* A store opened from its SOURCE string, as the daemon, snapctl and the conformance check all do it. */
#ifndef SNAPFS_OPEN_H
#define SNAPFS_OPEN_H

#include "backends/backend.h"
#include "backends/secret.h"

/* The store options that come with a SOURCE (snapfs's and snapctl's --secret-dir, --endpoint, ...). */
struct backend_opts {
	const char *secret_dir;   /* NULL: an empty secret */
	const char *endpoint, *region, *addressing;
	int timeout_s, retries;
};

/* Open the store url names: parse it into *src, load the secret dir into *sec, find the store's
 * backend, fill *conf (pointing at *src and *sec, which must outlive b) and open b through it.
 * 0, or -errno with a malloc'd one-line *why; then nothing is left to free, and b->ops is set only
 * when the store itself refused to open (a reason the daemon words as "cannot mount SOURCE: ..."). */
int backend_open_source(const char *url, const struct backend_opts *o, struct source *src, struct secret *sec,
			struct backend_conf *conf, struct backend *b, char **why);

#endif
