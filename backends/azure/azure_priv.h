/* What the Azure Blob backend's files share: the account, the request helpers, the fixed limits. */
#ifndef SNAPFS_AZURE_PRIV_H
#define SNAPFS_AZURE_PRIV_H

#include "backends/backend.h"
#include "backends/http.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

/* A fixed service version: recent enough for 4000 MiB blocks and 5000 MiB Put Blob, and one the
 * emulator accepts. */
#define AZ_VERSION "2023-11-03"
#define AZ_VER_HDR "x-ms-version: " AZ_VERSION
/* Block ids: base64 of "snapfs-" + 16 hex tag + "-" + kind + 5 digits, 30 bytes -> 40 characters
 * without padding; every id of a blob must have the same length. */
#define AZ_ID_RAW 30
#define AZ_ID_LEN 40
#define AZ_COPY_CHUNK ((size_t)16 << 20)
#define AZ_DEL_THREADS 8
#define AZ_BATCH_MAX 256   /* sub-requests per Blob Batch */
#define AZ_OPEN_DEADLINE_S 20
#define AZ_MAX_BLOCKS 50000   /* committed blocks per blob */

struct az {
	struct http *http;
	char *account;
	unsigned char *key;
	size_t klen;
	char *base;       /* endpoint up to the container: "https://acct.blob.core.windows.net" or
			   * "http://127.0.0.1:PORT/devstoreaccount1" (path style) */
	char *container;
	unsigned maxresults;  /* List Blobs page size; 0: the service default (5,000) */
	atomic_int no_batch;  /* the service refused Blob Batch once: delete one by one */
	int retries;      /* --retries, also for bodies the service found damaged (Md5Mismatch) */
	const struct backend_conf *conf;
};


struct upload {
	struct az *az;
	char *key;        /* full blob name */
	char *url;
	char tag[17];
	char **old_ids;   /* committed blocks of the base object, kept first in the new list */
	size_t n_old;
	unsigned n_copied;  /* blocks holding a copy of a base that had no reusable blocks */
	char *if_match;   /* ETag of the base object: the commit must not overwrite a newer blob */
};

/* azure_req.c: requests */
void az_date_header(char *out, size_t len);   /* "x-ms-date: ..." */
void az_req_init(struct az *az, struct http_req *r, const char *method, const char *url,
		 const char *const *hdrs);
char *az_err_code(const struct http_resp *resp);
int az_fail(const char *what, const char *key, const struct http_resp *resp);
char *az_blob_url(const struct az *az, const char *key, const char *query);
char *az_key(const struct az *az, const char *rel);
void az_set_etag(struct obj_info *oi, const char *etag);
/* PUT a body (a file range, or memory when mem is set) with its Content-MD5, so the service refuses
 * bytes damaged on the way; such a refusal (400 Md5Mismatch) is sent again like a 5xx. hdrs: at most 6,
 * NULL-terminated. Returns 0 with resp->status set, or -errno. */
int az_put_body(struct az *az, const char *url, const char *const *hdrs, int fd, off_t fd_off,
		const void *mem, uint64_t len, struct http_resp *resp);
/* A write-once mount creates blobs only where none is (If-None-Match: *); folder markers may be made again. */
int az_create_only(const struct az *az, const char *key);

/* azure_blocks.c: what Get Block List says of a blob */
struct az_blocks {
	char **committed;         /* committed block ids, in order */
	size_t ncommitted;
	uint64_t committed_bytes;
	int odd_ids;              /* a committed id of another length than ours: not ours to name */
	char **ours;              /* uncommitted blocks carrying the tag asked for, as listed */
	size_t nours;
	unsigned foreign;         /* uncommitted blocks without it */
	char *etag;               /* the blob's ETag (NULL when no blob is committed) */
};
/* Get Block List of key: the committed blocks (tag NULL), or all with the uncommitted ones sorted
 * by tag. 0, -ENOENT when the name has neither, or -errno; *bl is freed on error. */
int az_get_blocks(struct az *az, const char *key, const char *tag, struct az_blocks *bl);
void az_blocks_free(struct az_blocks *bl);
/* Put Block List: committed ids, then uncommitted ones, with hdrs (Content-Type and conditions).
 * 0 with resp->status set, or -errno. */
int az_put_blocks(struct az *az, const char *key, const char *const *hdrs, char *const *committed, size_t nc,
		  char *const *uncommitted, size_t nu, struct http_resp *resp);

/* azure_read.c: ranged reads, held to v's version when v is set */
ssize_t az_read_ver(struct backend *b, const char *rel, struct obj_ver *v, uint64_t off, size_t len, void *buf);
ssize_t az_read(struct backend *b, const char *rel, uint64_t off, size_t len, void *buf);

/* azure_list.c */
int az_list(struct backend *b, const char *rel, int delim, unsigned limit, list_fn fn, void *arg);
int az_list_uploads(struct backend *b, const char *prefix, list_fn fn, void *arg);

/* azure_upload.c */
int az_upload_begin(struct backend *b, const char *rel, uint64_t base, struct upload **out);
int az_upload_part(struct upload *up, const struct part *p);
/* Metadata names must be C identifiers, so the digest is snapfs_sha256 on Azure. */
#define AZ_META_SHA256 "x-ms-meta-snapfs_sha256"
int az_upload_commit(struct upload *up, unsigned nparts, const char *sha256);
void az_upload_abort(struct upload *up);
char *az_upload_token(struct upload *up);
int az_upload_forget(struct backend *b, const char *rel, const char *token);

/* a commit that kept failing, kept for `snapctl retry`: release frees up and leaves its blocks
 * uncommitted in the blob (azure_upload.c); finish commits them later from the token alone
 * (azure_kept.c) */
int az_upload_release(struct upload *up);
int az_upload_finish(struct backend *b, const char *rel, const char *token);

/* azure_remove.c */
int az_remove(struct backend *b, const char *const *keys, size_t n);

#endif
