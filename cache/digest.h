/* The whole-file SHA-256 of a file being written, fed from the spool in object order just before each
 * part leaves (so the bytes are still there), and handed to the store at commit as metadata. */
#ifndef SNAPFS_DIGEST_H
#define SNAPFS_DIGEST_H

#include <stdint.h>

struct digest {
	void *ctx;       /* EVP_MD_CTX; NULL until the first byte */
	uint64_t off;    /* bytes [0, off) are in the hash */
	int broken;      /* a byte below off changed, or the start is not ours: no digest this time */
};

/* Hash spool bytes [from, end) where from must be d->off; a gap or an overlap breaks the digest. */
void digest_feed(struct digest *d, int fd, uint64_t from, uint64_t end);
/* Start again from byte 0 (the file was emptied, or its head loaded into the spool). */
void digest_restart(struct digest *d);
/* The hex digest of [0, size) into out[65]; 0, or -1 when there is none (broken, or not all hashed).
 * The state is finished either way: feed nothing more before digest_restart. */
int digest_final(struct digest *d, uint64_t size, char out[65]);
void digest_free(struct digest *d);

#endif
