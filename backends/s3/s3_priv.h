/* What the S3 backend's files share: the bucket's state, the upload in progress, the request helpers
 * (s3_req.c), each file's functions, and the reply parsers and request bodies (s3_xml.c), which the
 * unit tests use too. Every parser treats the reply as hostile: anything unexpected is -EIO.
 * Files, bottom up: s3_xml.c, sigv4.c; s3_req.c; s3_read.c, s3_list.c, s3_remove.c; s3_upload.c;
 * s3_commit.c; s3_copy.c; s3.c (open, close, the ops table). */
#ifndef SNAPFS_S3_PRIV_H
#define SNAPFS_S3_PRIV_H

#include "backends/backend.h"
#include "backends/http.h"
#include "backends/objver.h"
#include "backends/s3/sigv4.h"

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#define S3_MIB (1024ULL * 1024)
#define S3_GIB (1024ULL * S3_MIB)
#define S3_MAX_PART (5 * S3_GIB)
#define S3_MAX_PARTS 10000
#define S3_DELETE_BATCH 1000
#define S3_COMMIT_TRIES 4

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

struct s3 {
	struct http *http;
	struct sigv4_cred cred;
	char *access_key, *secret_key, *token, *region;
	char *bucket;
	char *endpoint;        /* as the user sees it, for messages: "http://127.0.0.1:4568" */
	char *base;            /* URL up to the bucket: "http://h:p/bucket" or "https://bucket.h" */
	char *copy_source;     /* "/bucket/" for x-amz-copy-source */
	int virt;              /* virtual-host style: the bucket is in the host name */
	int slow_s;            /* low-speed timeout for server-side work: completing, copying */
	int retries;           /* --retries: what the HTTP policy allows after a first attempt */
	int no_batch_delete;   /* the server said NotImplemented to DeleteObjects */
	int no_part_copy;      /* ... to UploadPartCopy: copy through a temporary file */
	int told_no_abort;
	const struct backend_conf *conf;
};

struct upload {
	struct s3 *s3;
	char *key;
	char *url;             /* the object URL, without a query */
	char *id;              /* UploadId, URL-encoded for the query */
	unsigned nbase;        /* parts 1..nbase hold the copied base object */
	uint64_t bytes;        /* in all parts uploaded so far (atomic) */
	pthread_mutex_t lock;
	char **etags;          /* by S3 part number - 1 */
	size_t cap;
};

/* s3_req.c: one signed request */
struct s3_req {
	const char *method;
	const char *url;
	const char *const *headers;
	const void *body;        /* memory body (hashed into the signature) */
	size_t body_len;
	int fd;                  /* >= 0: a file range, signed by its SHA-256 */
	off_t fd_off;
	uint64_t fd_len;
	const char *fd_sha256;   /* that SHA-256 in lowercase hex when the caller has it, else computed */
	void *out;
	size_t out_cap;
	int deadline_s;
	int slow;                /* the server may think long before it answers (assembling, copying) */
	/* The root of the result document a 2xx reply must carry ("CompleteMultipartUploadResult",
	 * "CopyPartResult", "CopyObjectResult", "DeleteResult"). S3 may send the 200 before the work and
	 * put an <Error> in its place: one S3 documents as transient is tried again, up to S3_COMMIT_TRIES
	 * attempts, besides the --retries the policy gives a 5xx. The caller still reads the document. */
	const char *result;
	int once_more;           /* a failed first attempt goes once more beyond --retries: an idempotent
				  * request whose reply is often lost after the work was done */
};
int s3_call(struct s3 *s3, const struct s3_req *c, struct http_resp *resp);
/* URL of key (NULL: the bucket) with an optional query ("uploads", "partNumber=1&uploadId=..."). */
char *s3_url(const struct s3 *s3, const char *key, const char *query);
/* URL of the bucket with query, which it frees; NULL when query is NULL (a failed asprintf) or on ENOMEM */
char *s3_bucket_url(const struct s3 *s3, char *query);
/* errno for a finished request: transport errors as they are, else by status and error code. Logs
 * what the server said when it is not a plain "not found". */
int s3_result(const char *what, const char *key, int rc, struct http_resp *resp);
/* s3_call for a request whose 2xx reply carries a result document (c->result): 0, with *etag (malloc'd,
 * may be NULL; etag may be NULL) read from it; the reply's errno (s3_result); or -EIO for an <Error>
 * in its place that was not transient or still came after the last try. */
int s3_call_result(struct s3 *s3, struct s3_req *c, const char *what, const char *key, char **etag);
/* A write-once mount creates objects only where none is (folder markers may be made again). */
int s3_create_only(const struct s3 *s3, const char *key);

/* s3_read.c */
int s3_stat(struct backend *b, const char *key, struct obj_info *out);
ssize_t s3_read_ver(struct backend *b, const char *key, struct obj_ver *v, uint64_t off, size_t len,
		    void *buf);
ssize_t s3_read(struct backend *b, const char *key, uint64_t off, size_t len, void *buf);

/* s3_list.c */
int s3_list(struct backend *b, const char *prefix, int delim, unsigned limit, list_fn fn, void *arg);
int s3_list_uploads(struct backend *b, const char *prefix, list_fn fn, void *arg);

/* s3_remove.c */
int s3_remove(struct backend *b, const char *const *keys, size_t n);

/* s3_upload.c */
int s3_put(struct backend *b, const char *key, int fd, off_t fd_off, uint64_t len, const char *sha256);
int s3_up_set_etag(struct upload *up, unsigned pn, char *etag);   /* takes etag */
/* an upload of key with no part yet; id (already URL-encoded) may be NULL; NULL on ENOMEM */
struct upload *s3_up_new(struct s3 *s3, const char *key, const char *id);
void s3_up_free(struct upload *up);
char *s3_up_url(const struct upload *up, unsigned pn);            /* pn 0: no partNumber */
/* CreateMultipartUpload of key: *out, with no part yet */
int s3_begin(struct s3 *s3, const char *key, struct upload **out);
/* UploadPartCopy of [off, off+len) of `from` as part pn (through a temporary file where the server
 * has no UploadPartCopy) */
int s3_copy_part(struct upload *up, const char *from, unsigned pn, uint64_t off, uint64_t len);
/* AbortMultipartUpload, then frees up */
void s3_abort(struct upload *up);
int s3_upload_begin(struct backend *b, const char *key, uint64_t base, struct upload **out);
int s3_upload_part(struct upload *up, const struct part *p);
void s3_upload_abort(struct upload *up);
char *s3_upload_token(struct upload *up);
int s3_upload_release(struct upload *up);

/* s3_commit.c */
int s3_upload_commit(struct upload *up, unsigned nparts, const char *sha256);
int s3_upload_finish(struct backend *b, const char *key, const char *token);
int s3_upload_forget(struct backend *b, const char *key, const char *token);

/* s3_copy.c */
int s3_copy(struct backend *b, const char *from, const char *to);

#endif
