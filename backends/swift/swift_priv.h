/* What the Swift backend's files share (swift.c, swift_req.c, swift_list.c,
 * swift_segs.c, swift_orphans.c, swift_upload.c, swift_commit.c, swift_kept.c): the
 * backend state, request helpers, the object kinds (plain, SLO, DLO, disowned) and deleting. */
#ifndef SNAPFS_SWIFT_PRIV_H
#define SNAPFS_SWIFT_PRIV_H

#include "backends/backend.h"
#include "backends/http.h"

#include <jansson.h>
#include <pthread.h>
#include <string.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define SW_OPEN_DEADLINE_S 30
#define SW_THREADS 8
#define SW_SEG_SUFFIX "_segments"
#define SW_DISOWNED "X-Object-Meta-Snapfs-Disowned"
/* the whole object's SHA-256 (hex), as the cache layer computed it, for verifying a restore */
#define SW_SHA256 "X-Object-Meta-Snapfs-Sha256"
#define SW_MAX_SEGMENTS 1000
/* Parts per object: more than one manifest holds are nested into sub-manifests at commit */
#define SW_MAX_PARTS 10000
/* entries of a base manifest an append may list first (nested manifests hold many more segments) */
#define SW_MAX_BASE_ENTRIES 1000000

struct sw {
	struct http *http;
	struct sw_auth *auth;
	char *container, *cont_enc;
	char *segc, *segc_enc;      /* the segment container */
	int slo, bulk;
	int retries;                /* resends of a body Swift received damaged (422) */
	unsigned bulk_max;          /* deletes per bulk request */
	unsigned max_segments;      /* SLO max_manifest_segments */
	unsigned listing_limit;     /* the server's page size */
	unsigned page;              /* test knob: a smaller page asked for (0: server default) */
	pthread_mutex_t seg_lock;
	int seg_ready;
	/* Ceph RGW 16 sends one byte past a DLO range that ends inside a segment, which a reused
	 * connection would take for the start of the next reply: once a DLO was seen here (HEAD) or
	 * the SLO probe failed (RGW), reads close their connection */
	int fresh_reads;
	const struct backend_conf *conf;
};

/* A write-once mount creates objects only where none is: the header for a PUT of key, or NULL (folder
 * markers may be made again). */
static inline const char *sw_create_only(const struct sw *sw, const char *key)
{
	size_t n = strlen(key);

	return sw->conf && sw->conf->create_only && n && key[n - 1] != '/' ? "If-None-Match: *" : NULL;
}

/* a list of strings ("container/object" paths mostly) */
struct sw_strv {
	char **v;
	size_t n, cap;
};

/* what HEAD says an object is */
struct sw_objkind {
	int exists;
	int slo, dlo, disowned;
	uint64_t size;
	time_t mtime;
	char etag[80];
	char sha256[65];      /* SW_SHA256, "" when absent */
	char *dlo_manifest;   /* X-Object-Manifest, decoded "container/prefix" */
};

/* swift_req.c: requests */
/* Perform req on path ("/container/object?query", encoded) below the storage URL, or on an absolute
 * URL; a 401 renews the token and tries once more. */
int sw_do(struct sw *sw, struct http_req *req, const char *path, struct http_resp *resp);
void sw_req_init(struct http_req *r, const char *method, const char *const *hdrs);
char *sw_obj_path(const char *cont_enc, const char *key, const char *query);   /* "/cont/key?query" */
int sw_fail(const char *what, const char *key, const struct http_resp *resp);    /* log; -errno */
void sw_set_etag(char *dst, size_t cap, const char *etag);
/* fn(arg, i) for i in [0, n) on up to SW_THREADS threads; the first error wins */
int sw_par_for(size_t n, int (*fn)(void *, size_t), void *arg);
int sw_strv_add(struct sw_strv *s, const char *str);
int sw_strv_has(const struct sw_strv *s, const char *str);
void sw_strv_free(struct sw_strv *s);
int sw_head(struct sw *sw, const char *key, struct sw_objkind *k);   /* k->exists 0 on 404 */
void sw_objkind_free(struct sw_objkind *k);
/* GET the SLO manifest at an encoded object path: raw (format=raw, "path" entries) or as stored
 * ("name" entries). -ENODATA when the server shows none (RGW). */
int sw_slo_get(struct sw *sw, const char *opath, int raw, json_t **out);
int sw_slo_manifest(struct sw *sw, const char *key, json_t **out);     /* raw entries */
/* swift_delete.c */
int sw_delete_paths(struct sw *sw, char *const *paths, size_t n);       /* bulk where offered */
int sw_delete_slo(struct sw *sw, const char *key);   /* ?multipart-manifest=delete: manifest and segments */
/* swift_probe.c: 1 when an SLO put in the segment container gives its manifest back, else 0 */
int sw_slo_probe(struct sw *sw);
/* swift_upload.c: a DLO manifest at key over prefix ("container/prefix", decoded) */
int sw_put_dlo(struct sw *sw, const char *key, const char *prefix, const char *sha_hdr);
/* PUT bytes from a file range (or an empty body) with "ETag: <MD5>": Swift refuses a body damaged on
 * the way (422), which is sent again up to sw->retries times, and the reply's ETag must be that MD5.
 * *etag (may be NULL) gets the MD5. hdrs: at most SW_MAX_HDRS. */
#define SW_MAX_HDRS 6
int sw_put_path(struct sw *sw, const char *path, const char *what, const char *const *hdrs, int fd,
		off_t fd_off, uint64_t len, char *etag, size_t ecap);
/* The resend loop of a PUT (req carries its ETag header): 201 with the reply's ETag equal to want
 * (NULL: not compared) is success; 422 or another ETag are sent again, up to sw->retries times. */
int sw_put_checked(struct sw *sw, struct http_req *req, const char *path, const char *what, const char *want,
		   struct http_resp *resp);
/* *out = "X-Object-Meta-Snapfs-Sha256: <hex>" (malloc'd), or NULL when sha256 is NULL or not 64 hex
 * digits (logged). 0 or -ENOMEM. */
int sw_sha256_header(const char *sha256, char **out);
/* meta_hdr: a header for the copy (metadata), or NULL */
int sw_copy_obj(struct sw *sw, const char *key, const char *dest, int manifest, int fresh_meta,
		const char *meta_hdr, char *etag, size_t ecap);

/* swift_list.c */
int sw_list_cont(struct sw *sw, const char *cont_enc, const char *prefix, int delim, unsigned limit,
		 int manifests, list_fn fn, void *arg);
int sw_list_names(struct sw *sw, const char *cont, const char *prefix, struct sw_strv *out);
int sw_list(struct backend *b, const char *prefix, int delim, unsigned limit, list_fn fn, void *arg);

/* swift_segs.c: the segments a manifest owns ("container/object"), nested ones too; none when
 * disowned. -ENODATA: an SLO whose manifest the server does not show (RGW): only the server can
 * delete them (sw_delete_slo). */
int sw_owned_segments(struct sw *sw, const char *key, const struct sw_objkind *k, struct sw_strv *out);
void sw_drop_replaced(struct sw *sw, const char *key, struct sw_strv *old, const struct sw_strv *keep);

/* swift_orphans.c: segment sets no manifest uses (uploads in progress, or left by a crash) */
int sw_list_uploads(struct backend *b, const char *prefix, list_fn fn, void *arg);

/* swift_upload.c */
struct seg {
	uint64_t size;
	int done;
	char etag[40];
};

struct upload {
	struct sw *sw;
	char *key;
	char uid[24];
	uint64_t base;
	int dlo;                /* commit a DLO manifest */
	json_t *base_list;      /* SLO base: the old manifest's entries, listed first */
	int base_copied;        /* the old bytes were copied to segment 0 */
	size_t base_nsegs;      /* or a DLO base's segments, to "00000000.<i>" */
	char base_etag[40];
	pthread_mutex_t lock;
	struct seg *segs;       /* index n (1-based) */
	unsigned cap;
};

/* a new upload of key (no uid yet), after the segment container is made and the SLO-or-DLO choice
 * taken (once per mount) */
int sw_upload_new(struct sw *sw, const char *key, struct upload **out);
void sw_upload_free(struct upload *up);
/* a commit that kept failing: release frees up, its segments stay under "<key>/<uid>/"; finish
 * (swift_kept.c) commits them later from the token alone */
int sw_upload_release(struct upload *up);
int sw_upload_finish(struct backend *b, const char *key, const char *token);
int sw_upload_begin(struct backend *b, const char *key, uint64_t base, struct upload **out);
int sw_upload_part(struct upload *up, const struct part *p);
/* "<key>/<uid>/<n, 8 digits>" below the segment container, decoded; malloc'd */
char *sw_seg_name(const struct upload *up, unsigned n);
/* delete every segment of the upload, found by listing (a part whose reply was lost too) */
int sw_drop_upload_segments(struct upload *up);
/* swift_commit.c */
int sw_upload_commit(struct upload *up, unsigned nparts, const char *sha256);
/* swift_upload.c */
void sw_upload_abort(struct upload *up);
char *sw_upload_token(struct upload *up);
int sw_upload_forget(struct backend *b, const char *key, const char *token);

/* swift_write_check.c: the write check at mount (SLO, else DLO) */
int sw_probe(struct backend *b, const char *key, char **why);

#endif
