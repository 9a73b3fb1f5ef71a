/* Holding a reader to one version of an object over HTTP: what a ranged GET's reply says about the
 * version it came from, and the condition that asks the store for that version only. */
#ifndef SNAPFS_OBJVER_H
#define SNAPFS_OBJVER_H

#include "backends/backend.h"
#include "backends/http.h"

#include <stddef.h>

/* "If-Match: <tag>" (or "<name>: <tag>" for a store's own header) into buf when v holds a version
 * with a tag; "" otherwise. */
void objver_cond(const struct obj_ver *v, const char *name, char *buf, size_t cap);
/* A 2xx or 416 reply to a ranged GET: its version tag (the value of header hdr) and the object's
 * size (Content-Range's total, or Content-Length of a 200). The first reply of a handle (!v->known)
 * fills v; a later one from another version gives -ESTALE. 0 otherwise. */
int objver_check(struct obj_ver *v, const struct http_resp *resp, const char *hdr);

#endif
