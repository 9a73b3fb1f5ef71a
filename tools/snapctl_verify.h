/* snapctl verify: the object checker (snapctl_vobj.c) and the command (snapctl_verify.c). */
#ifndef SNAPCTL_VERIFY_H
#define SNAPCTL_VERIFY_H

#include "tools/snapctl.h"

#include <pthread.h>

enum vr_result {
	VR_OK,      /* every checksum the store holds matches the bytes */
	VR_BAD,     /* one does not: the object is damaged */
	VR_NOSUM,   /* read whole, but the store holds nothing to compare with */
	VR_ERR,     /* could not be read whole */
};

struct vr_obj {
	uint64_t size;
	enum vr_result res;
	char how[96];       /* what matched: "sha256+md5", "multipart-etag(3 parts)" */
	char detail[320];   /* for anything but VR_OK: what and why */
	char sha256[65];    /* of the bytes read; "" when not read whole, or when the store holds no SHA-256
			     * but another checksum (then that is what is worked out) */
};

/* Readers of ranged GETs shared by every object of a run: jobs threads, chunk bytes per GET. */
struct vr_pool;
int vr_pool_new(struct vr_pool **out, struct sc_store *st, unsigned jobs, size_t chunk);
void vr_pool_free(struct vr_pool *p);

/* Called after each chunk is hashed with its length. */
typedef void (*vr_progress_fn)(void *arg, uint64_t bytes);

/* Check the object at key (full store key); want_part: the mount's --part-size (0: the default) for a
 * multipart ETag. Fills o; returns 0, or -ENOMEM. */
int vr_check(struct vr_pool *p, const char *key, uint64_t want_part, struct vr_obj *o, vr_progress_fn prog,
	     void *parg);

#endif
