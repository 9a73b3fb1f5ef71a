/* The one interface every object store implements. fs/ and cache/ know nothing of HTTP dialects. */
#ifndef SNAPFS_BACKEND_H
#define SNAPFS_BACKEND_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

struct secret;

/* A parsed SOURCE URL: s3://bucket/prefix, gs://bucket/prefix, azure://container/prefix,
 * swift://container/prefix, file:///abs/dir. */
struct source {
	char *scheme;    /* "s3", "gs", "azure", "swift", "file" */
	char *bucket;    /* bucket or container; NULL for file:// */
	char *prefix;    /* "" or "team-a/x" with no leading or trailing '/' */
	char *path;      /* file:// only: the absolute directory */
};

/* Everything a backend may need at open time. Strings are owned by the caller and outlive the backend. */
struct backend_conf {
	const struct source *src;
	const struct secret *secret; /* never NULL; may be empty */
	const char *endpoint;        /* --endpoint or NULL */
	const char *region;          /* --region or NULL */
	const char *addressing;      /* --addressing path|virtual or NULL (backend default) */
	int timeout_s;               /* per-request low-speed timeout, seconds */
	int retries;                 /* attempts after the first for retryable errors */
	/* Write-once mounts: put() and upload_commit() of a key not ending in '/' create the object only
	 * if none is there, with the store's conditional create; -EEXIST when one is. A store that
	 * cannot ignores it (the mount probes which). */
	int create_only;
};

struct obj_info {
	uint64_t size;
	time_t mtime;
	int is_dir;      /* set by list() for common prefixes, never by stat() */
	char etag[80];   /* store checksum or ETag, "" if unknown */
	/* What the store holds about the content, filled by stat() only (snapctl verify reads it);
	 * "" where the store does not tell. */
	char sha256[65]; /* the "snapfs-sha256" metadata written at commit, lower-case hex */
	char md5[33];    /* the store's MD5 of the whole object, lower-case hex (never a multipart ETag) */
	char crc32c[9];  /* the store's CRC32C of the whole object, base64 (GCS) */
};

/* room for a version tag as the stores spell it (readers size their conditional headers by it) */
#define OBJ_VER_TAG_MAX 128

/* The version of an object a reader holds to (read_ver): the store's ETag or generation as its
 * replies spell it, and that version's size. */
struct obj_ver {
	int known;       /* 0 until the first read_ver() of a handle fills the rest */
	char tag[OBJ_VER_TAG_MAX];   /* "" when the store names no version (then only the size is compared) */
	uint64_t size;
};

/* Called once per entry by list(). name is relative to the listed prefix; with a delimiter a common
 * prefix arrives as "sub/" with is_dir set. Return non-zero to stop listing early (list returns 0). */
typedef int (*list_fn)(void *arg, const char *name, const struct obj_info *oi);

/* One part of a chunked upload. The bytes are read from fd at fd_off (the local spool), so a part of
 * any size costs no memory; obj_off is where the part lands in the final object (counting any base). */
struct part {
	unsigned n;      /* 1-based, in object order, counting new parts only: the first part after a
			  * base is n = 1 (a backend numbers its own base copy parts around them) */
	uint64_t obj_off;
	uint64_t len;
	int fd;
	off_t fd_off;
};

struct backend;
struct upload;   /* backend-private; freed by upload_commit() or upload_abort() */

struct backend_ops {
	const char *scheme;
	/* store limits the part cutter must respect */
	uint64_t min_part;     /* every part but the last is at least this big (0: none) */
	uint64_t max_part;     /* no part is bigger (0: no limit) */
	unsigned max_parts;    /* including a base object carried into an append (0: no limit) */
	int parts_any_order;   /* parts may be uploaded in any order (GCS resumable: no) */
	/* upload_commit cannot store the whole-file digest (S3 takes metadata only when a multipart
	 * upload begins): the cache layer does not compute it for such an upload */
	int commit_no_digest;
	/* The cache layer cuts every part but the last to a multiple of 1 MiB, so 256 KiB alignment
	 * (GCS) holds without a field for it. */

	/* Connect, check the bucket/container is reachable with these credentials. On failure return
	 * -errno and set *why to a malloc'd one-line reason for the user. */
	int (*open)(struct backend *b, const struct backend_conf *conf, char **why);
	void (*close)(struct backend *b);

	int (*stat)(struct backend *b, const char *key, struct obj_info *out);         /* -ENOENT */
	/* delim: list one level (common prefixes as "sub/"); 0: every key below prefix, recursively.
	 * limit: stop after this many entries (0: all). */
	int (*list)(struct backend *b, const char *prefix, int delim, unsigned limit, list_fn fn, void *arg);
	/* Read up to len bytes at off; returns bytes read (short only at end of object) or -errno. */
	ssize_t (*read)(struct backend *b, const char *key, uint64_t off, size_t len, void *buf);
	/* Optional: read() from one version. With !v->known the reply's version and size fill *v; later
	 * calls read only that version (If-Match, ifGenerationMatch or the store's equivalent, and the
	 * reply's version compared) and return -ESTALE once key holds another one. A handle never
	 * splices two versions. */
	ssize_t (*read_ver)(struct backend *b, const char *key, struct obj_ver *v, uint64_t off, size_t len,
			    void *buf);

	/* Whole small object in one request (len may be 0). sha256 (here and at upload_commit): the
	 * whole object's SHA-256 in lower-case hex, or NULL when the cache layer could not compute it
	 * (an append carries a base it never saw). The store keeps it as the object's "snapfs-sha256"
	 * metadata where it can take metadata at that point, so a restore can be verified end to end. */
	int (*put)(struct backend *b, const char *key, int fd, off_t fd_off, uint64_t len, const char *sha256);

	/* Chunked upload. base > 0: the existing object at key (exactly base bytes, at least min_part)
	 * becomes the start of the new object, and parts continue at obj_off >= base.
	 * upload_part may be called from several threads at once for different parts.
	 * upload_commit makes the object visible (nparts new parts) and frees up. When it fails, a store
	 * with commit_again set leaves up open: the caller commits again, aborts or releases it; any
	 * other store has aborted and freed it (the pre-retry contract).
	 * upload_abort discards everything uploaded and frees up. */
	int (*upload_begin)(struct backend *b, const char *key, uint64_t base, struct upload **up);
	int (*upload_part)(struct upload *up, const struct part *p);
	int (*upload_commit)(struct upload *up, unsigned nparts, const char *sha256);
	void (*upload_abort)(struct upload *up);
	int commit_again;      /* a failed upload_commit leaves up open (see above) */
	/* Optional, with commit_again, to keep a commit that kept failing: upload_release frees up and
	 * leaves the upload open in the store (0), or, when it cannot keep it so that it can be finished
	 * later, aborts it and says why (-errno); upload_finish commits it later from the key and its
	 * upload_token alone (after a restart, from snapctl), taking every part the store holds.
	 * upload_finish: 0, -ENOENT when the upload is gone, or another -errno (still kept). */
	int (*upload_release)(struct upload *up);
	int (*upload_finish)(struct backend *b, const char *key, const char *token);

	int (*remove)(struct backend *b, const char *const *keys, size_t n);  /* missing keys are not errors */
	int (*copy)(struct backend *b, const char *from, const char *to);
	/* Optional: atomic server-side move (file://); NULL means copy then remove. */
	int (*move)(struct backend *b, const char *from, const char *to);
	/* Optional: uploads in progress (open multipart uploads, uncommitted block lists, resumable
	 * sessions, orphan segments) whose key starts with prefix; fn gets the key relative to prefix and
	 * oi->size = bytes uploaded so far when known. NULL: the store cannot tell. */
	int (*list_uploads)(struct backend *b, const char *prefix, list_fn fn, void *arg);
	/* Optional, for crash recovery: a malloc'd string that names an open upload well enough to
	 * discard it later without the struct (S3 UploadId, GCS session URI, Swift segment prefix,
	 * file:// temp name); and the discard itself, from the key and that string, after a crash.
	 * upload_forget returns 0 when it discarded the upload, -ENOENT when nothing of it was left to
	 * discard (committed or discarded before the crash), -EINVAL for a token it would never have made, -EOPNOTSUPP when the store
	 * cannot discard uploads at all (both: the record is dropped), or another -errno to try again at
	 * the next mount. A store whose unfinished uploads vanish by themselves may leave both NULL. */
	char *(*upload_token)(struct upload *up);
	int (*upload_forget)(struct backend *b, const char *key, const char *token);
	/* Optional: prove at mount that the store takes a chunked upload and its commit, on key (a
	 * hidden object, deleted again), and adapt to what it takes (Swift: SLO, else DLO). NULL: the
	 * generic probe_upload (backends/probe.h) through the ops above is the proof. -errno and a
	 * one-line *why naming the step on failure. */
	int (*probe)(struct backend *b, const char *key, char **why);
	/* Optional: capacity for statfs; NULL means "unbounded". */
	int (*statfs)(struct backend *b, uint64_t *total, uint64_t *avail);
};

struct backend {
	const struct backend_ops *ops;
	void *priv;
	const struct backend_conf *conf;
};

/* backends/registry.c: the table of stores this build knows. */
const struct backend_ops *backend_find(const char *scheme);
/* "s3" -> 1 if the scheme is a known store at all (built or not) */
int backend_scheme_known(const char *scheme);

/* backends/probe.c: the write check at mount, before the daemon forks: a few bytes uploaded as one
 * part of a chunked upload of PREFIX/.snapfs-probe-<random>, committed, read back and deleted. 0, or
 * -errno with a malloc'd one-line *why (the step and the store's reason). */
int backend_probe(struct backend *b, char **why);

/* backends/source.c */
int source_parse(const char *url, struct source *out, char **why);
void source_free(struct source *s);
/* Join prefix and a relative key into a new string: ("team-a", "kubedb/x") -> "team-a/kubedb/x". */
char *source_key(const struct source *s, const char *rel);

#endif
