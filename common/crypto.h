/* Digests the signers and the integrity checks share, over OpenSSL's EVP interface. */
#ifndef SNAPFS_CRYPTO_H
#define SNAPFS_CRYPTO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

void crypto_sha256(const void *p, size_t n, unsigned char out[32]);
void crypto_hmac_sha256(const void *key, size_t klen, const void *p, size_t n, unsigned char out[32]);
/* Checksums a store reports, into struct obj_info's fields: v (may be NULL) is copied when it is
 * 64 lower-case hex digits, else out is ""; a base64 MD5 becomes lower-case hex, else out is "". */
void crypto_sha256_take(const char *v, char out[65]);
void crypto_md5_b64_to_hex(const char *v, char out[33]);

/* Digest of a byte range of a file, read in chunks (parts can be GiBs): algo "md5", "sha256". */
int crypto_digest_fd(const char *algo, int fd, off_t off, uint64_t len, unsigned char *out, unsigned *outlen);

#endif
