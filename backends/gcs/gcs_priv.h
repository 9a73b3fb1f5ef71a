/* What the GCS backend's files share: the bucket, an upload in progress, and the functions each file
 * offers the ones above it. Layers inside backends/gcs/, bottom up: gcs_req.c (requests, tokens, JSON
 * error replies, object resources, deletes, metadata) <- gcs_session.c (resumable sessions) <-
 * gcs_upload.c, gcs_put.c, gcs_list.c, gcs_read.c, gcs_remove.c <- gcs_keep.c (uploads named by their
 * token: crash discard, kept commits) <- gcs.c (open, close, the ops table). */
#ifndef SNAPFS_GCS_PRIV_H
#define SNAPFS_GCS_PRIV_H

#include "backends/backend.h"
#include "backends/http.h"

#include <jansson.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define GCS_ALIGN (256 * 1024ULL)
#define GCS_TMP_DIR ".snapfs/tmp/"    /* below the source prefix, outside the kubedb/ layout */
#define GCS_INLINE_MAX (8ULL << 20)   /* a put up to this size is one multipart request, built in memory */
#define GCS_SHA_KEY "snapfs-sha256"
#define GCS_ULL(x) ((unsigned long long)(x))

struct oauth2;

struct gcs {
	struct http *http;
	struct oauth2 *auth;
	char *api;          /* endpoint, no trailing '/' */
	char *bucket;
	char *bucket_enc;
	char *tmp_prefix;   /* full key prefix for append temporaries */
	unsigned page;      /* maxResults per list call */
	int retries;        /* failed attempts a chunk may take before the upload fails */
	const struct backend_conf *conf;
};

struct upload {
	struct gcs *g;
	char *key;          /* the object the commit makes */
	char *target;       /* what the session writes: key, or a temporary to compose after base */
	char *session;      /* session URI (Location of the POST) */
	uint64_t base;
	char base_gen[32];  /* generation of the base object: the compose must see that one */
	uint32_t base_crc;  /* and its CRC32C, to recognise the composed object */
	uint64_t sent;      /* bytes of the session the server has persisted */
	unsigned char *tail;/* the unaligned end of the last part, sent with the total at commit */
	size_t tail_len;
	uint32_t crc;       /* CRC32C of every byte given to the session so far (tail included) */
	char gen[32];       /* generation and metageneration of the object the final request made */
	char metagen[32];
	/* the commit, which may be tried again (commit_again) */
	uint64_t total;     /* the object's bytes in the session, fixed at the first commit */
	char sha[65];       /* the SHA-256 the commit was given, "" if none */
	unsigned tries;     /* final requests made so far */
	int made;           /* the session made its object (an append: its temporary) */
	int dead;           /* nothing of the upload is left to commit */
	pthread_mutex_t lock;   /* parts come one at a time; this keeps a misbehaving caller safe */
};

/* gcs_req.c: requests with the bearer token, error replies, object resources */
/* A write-once mount creates objects only where none is (ifGenerationMatch=0): the query suffix. */
const char *gcs_create_only_q(const struct gcs *g, const char *key);
int gcs_do(struct gcs *g, struct http_req *req, struct http_resp *resp);
void gcs_req_init(struct http_req *req, const char *method, const char *url, const char *const *hdrs);
char *gcs_err_msg(const struct http_resp *resp);
int gcs_fail(const char *what, const char *key, const struct http_resp *resp);
char *gcs_obj_url(const struct gcs *g, const char *key, const char *suffix);
int gcs_obj_from_json(json_t *o, struct obj_info *out);
json_t *gcs_reply_json(const struct http_resp *resp);
int gcs_do_json(struct gcs *g, struct http_req *req, const char *op, const char *key, json_t **j);
int gcs_get_meta(struct gcs *g, const char *key, struct obj_info *out, char gen[32], uint32_t *crc);
int gcs_hash_refused(const struct http_resp *resp);
int gcs_check_made(const char *key, const struct http_resp *resp, uint64_t size, uint32_t crc, char gen[32],
		   char metagen[32]);
int gcs_remove_one(struct gcs *g, const char *key);
void gcs_unmake(struct gcs *g, const char *key, const char *gen);
int gcs_add_sha(json_t *j, const char *sha256);
int gcs_send_json(struct gcs *g, const char *method, const char *url, const char *extra, json_t *j,
		  struct http_resp *resp);
void gcs_patch_sha(struct gcs *g, const char *key, const char *gen, const char *metagen, const char *sha256);

/* gcs_session.c: resumable sessions */
/* Bytes [from, from+len) of the session, read from fd at fd_off or from mem. */
struct gcs_span {
	int fd;
	off_t fd_off;
	const unsigned char *mem;
	uint64_t from, len;
};
int gcs_session_open(struct upload *up, const char *sha256);
int gcs_session_query(struct upload *up, uint64_t total, int final);
int gcs_span_send(struct upload *up, const struct gcs_span *s, int final);
void gcs_session_cancel(struct upload *up);
int gcs_session_finalize(struct upload *up, const struct gcs_span *s);
struct upload *gcs_upload_new(struct gcs *g, const char *key, uint64_t base);
void gcs_upload_free(struct upload *up);

/* gcs_list.c; the page parser is exposed for the fuzz target */
struct gcs_lister {
	const char *prefix;
	size_t plen;
	list_fn fn;
	void *arg;
	unsigned limit, seen;
	int stop;
};
int gcs_list_page(struct gcs_lister *l, json_t *j, char **next);
int gcs_list(struct backend *b, const char *prefix, int delim, unsigned limit, list_fn fn, void *arg);

/* gcs_read.c */
int gcs_stat(struct backend *b, const char *key, struct obj_info *out);
ssize_t gcs_read_ver(struct backend *b, const char *key, struct obj_ver *v, uint64_t off, size_t len,
		     void *buf);
ssize_t gcs_read(struct backend *b, const char *key, uint64_t off, size_t len, void *buf);

/* gcs_put.c */
int gcs_put(struct backend *b, const char *key, int fd, off_t fd_off, uint64_t len, const char *sha256);

/* gcs_upload.c */
int gcs_upload_begin(struct backend *b, const char *key, uint64_t base, struct upload **out);
int gcs_upload_part(struct upload *up, const struct part *p);
int gcs_upload_commit(struct upload *up, unsigned nparts, const char *sha256);
void gcs_upload_abort(struct upload *up);

/* gcs_keep.c: an upload named by its token (crash journal, kept commits) */
char *gcs_upload_token(struct upload *up);
int gcs_upload_forget(struct backend *b, const char *key, const char *token);
int gcs_upload_release(struct upload *up);
int gcs_upload_finish(struct backend *b, const char *key, const char *token);

/* gcs_remove.c */
int gcs_remove(struct backend *b, const char *const *keys, size_t n);
int gcs_copy(struct backend *b, const char *from, const char *to);

#endif
