/* S3 backend internals shared by s3.c (requests) and s3_xml.c (request bodies and reply parsing),
 * exposed for the unit tests. Every parser treats the reply as hostile: anything unexpected is -EIO. */
#ifndef SNAPFS_S3_PRIV_H
#define SNAPFS_S3_PRIV_H

#include "backends/backend.h"

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define S3_CODE_MAX 64

/* An S3 <Error> document: 0 with code (and *msg, malloc'd, may be NULL) filled, -ENOENT if the body
 * is not one. msg may be NULL. */
int s3_parse_error(const char *body, size_t len, char code[S3_CODE_MAX], char **msg);

/* One ListObjectsV2 page: fn gets every object and common prefix, merged in key order, with the
 * full key (is_dir set for prefixes). Returns 0, 1 when fn asked to stop, or -EIO for a malformed
 * reply (including a truncated page without a continuation token). *next is malloc'd or NULL. */
typedef int (*s3_entry_fn)(void *arg, const char *key, const struct obj_info *oi);
int s3_parse_list(const char *body, size_t len, s3_entry_fn fn, void *arg, char **next);

/* ListMultipartUploads page: fn(key, oi with mtime = Initiated). *next_key and *next_id are set
 * (malloc'd) when the page is truncated. */
int s3_parse_uploads(const char *body, size_t len, s3_entry_fn fn, void *arg, char **next_key,
		     char **next_id);

/* One ListPartsResult page: fn(arg, part number, ETag, size) for each part; *max_pn grows to the
 * highest part number seen; *next (malloc'd) is the next page's marker when truncated. -EIO when
 * malformed (a part without number or ETag, a truncated page without a marker). */
int s3_parse_parts(const char *body, size_t len, int (*fn)(void *, unsigned, const char *, uint64_t),
		   void *arg, unsigned *max_pn, char **next);
/* InitiateMultipartUploadResult -> UploadId (malloc'd) */
int s3_parse_upload_id(const char *body, size_t len, char **id);
/* CopyObjectResult / CopyPartResult / CompleteMultipartUploadResult, which S3 may replace by an
 * <Error> document in a 200 reply. 0 and *etag (malloc'd, may be NULL) when root is there; -EAGAIN
 * with code set for an <Error> worth retrying (InternalError, SlowDown, ServiceUnavailable);
 * -EACCES/-ENOENT/-EIO by the error code; -EIO when malformed. etag may be NULL. */
int s3_parse_result(const char *body, size_t len, const char *root, char **etag, char code[S3_CODE_MAX]);
/* DeleteResult: 0 when every <Error> is NoSuchKey (or there is none); else the errno of the first
 * other error, with its code and key (malloc'd) for the log. */
int s3_parse_delete(const char *body, size_t len, char code[S3_CODE_MAX], char **bad_key);
/* GetBucketLocation: "" and "US" -> us-east-1, "EU" -> eu-west-1. */
int s3_parse_location(const char *body, size_t len, char **region);

/* Request bodies (malloc'd, NULL on ENOMEM). */
char *s3_delete_body(const char *const *keys, size_t n);
/* <CompleteMultipartUpload> from etags[0..n) for parts 1..n */
char *s3_complete_body(char *const *etags, size_t n);

/* The ETag of an object completed from parts with these ETags (plain MD5s, quoted or not): the MD5 of
 * their binary MD5s and "-n", unquoted, into out. -EINVAL when a part's ETag is no MD5. */
int s3_multipart_etag(char *const *etags, unsigned n, char *out, size_t cap);

/* errno for an S3 error code, or 0 when the code says nothing beyond the status */
int s3_code_errno(const char *code);

time_t s3_parse_iso8601(const char *s);     /* 2026-11-25T16:21:20.000Z; 0 if malformed */

/* Split [0, size) into the fewest ranges of at most max bytes, all but the last equal and 1 MiB
 * aligned when possible (each copied part but the last must be >= 5 MiB). Returns the count; the
 * i-th range is [off[i], off[i] + len[i]). With off == NULL only counts. */
unsigned s3_split(uint64_t size, uint64_t max, uint64_t *off, uint64_t *len);

#endif
