/* Encodings the stores' protocols share: hex, base64 (and its URL form), percent-encoding. */
#ifndef SNAPFS_ENCODE_H
#define SNAPFS_ENCODE_H

#include <stddef.h>

void enc_hex(const unsigned char *p, size_t n, char *out);   /* out: 2n+1 bytes, lowercase */
/* base64 of n bytes into a malloc'd string (NULL on ENOMEM) */
char *enc_b64(const void *p, size_t n);
char *enc_b64url(const void *p, size_t n);                /* no padding (JWT) */
/* decode into a malloc'd buffer, *outlen set; NULL if malformed */
unsigned char *enc_b64_decode(const char *s, size_t *outlen);
/* Percent-encode per RFC 3986 (unreserved kept); keep_slash keeps '/'. Malloc'd. */
char *enc_uri(const char *s, int keep_slash);
/* Percent-decode s[0..n) into out (n + 1 bytes; out may be s): a '%' without two hex digits stays as it is,
 * plus_space reads '+' as a space (form encoding). Returns the decoded length, which an encoded NUL puts
 * past strlen(out). */
size_t enc_uri_decode(const char *s, size_t n, int plus_space, char *out);

#endif
