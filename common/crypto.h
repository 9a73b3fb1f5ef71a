/* Digests and encodings the signers share, over OpenSSL's EVP interface. */
#ifndef SNAPFS_CRYPTO_H
#define SNAPFS_CRYPTO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

void sha256(const void *p, size_t n, unsigned char out[32]);
void hmac_sha256(const void *key, size_t klen, const void *p, size_t n, unsigned char out[32]);
void hex_encode(const unsigned char *p, size_t n, char *out);   /* out: 2n+1 bytes, lowercase */
/* base64 of n bytes into a malloc'd string (NULL on ENOMEM) */
char *base64_encode(const void *p, size_t n);
char *base64url_encode(const void *p, size_t n);                /* no padding (JWT) */
/* decode into a malloc'd buffer, *outlen set; NULL if malformed */
unsigned char *base64_decode(const char *s, size_t *outlen);
/* Checksums a store reports, into struct obj_info's fields: v (may be NULL) is copied when it is
 * 64 lower-case hex digits, else out is ""; a base64 MD5 becomes lower-case hex, else out is "". */
void sha256_hex_take(const char *v, char out[65]);
void md5_b64_to_hex(const char *v, char out[33]);

/* Digest of a byte range of a file, read in chunks (parts can be GiBs): algo "md5", "sha256". */
int digest_fd(const char *algo, int fd, off_t off, uint64_t len, unsigned char *out, unsigned *outlen);
/* Percent-encode per RFC 3986 (unreserved kept); keep_slash keeps '/'. Malloc'd. */
char *uri_encode(const char *s, int keep_slash);
/* Percent-decode s[0..n) into out (n + 1 bytes; out may be s): a '%' without two hex digits stays as it is,
 * plus_space reads '+' as a space (form encoding). Returns the decoded length, which an encoded NUL puts
 * past strlen(out). */
size_t uri_decode(const char *s, size_t n, int plus_space, char *out);

#endif
