/* Writing: PutObject for a small file; for a big one the multipart upload in progress (struct upload):
 * CreateMultipartUpload, UploadPart from the spool (signed by its SHA-256: s3_req.c), UploadPartCopy
 * of an appended-to object's old bytes (or a copy through a temporary file where the server has
 * none), and abort. The commit is in s3_commit.c. */
#include "backends/s3/s3_priv.h"
#include "backends/http.h"
#include "common/crypto.h"
#include "common/encode.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Send a request whose body is signed by its SHA-256: a 400 XAmzContentSHA256Mismatch (or BadDigest,
 * from a store that checks another digest) means the bytes were damaged on the way, so send them again
 * (a few times). */
static int call_verified(struct s3 *s3, struct s3_req *c, struct http_resp *resp, const char *what,
			 const char *key)
{
	int rc;

	for (int attempt = 0;; attempt++) {
		rc = s3_call(s3, c, resp);
		if (rc || resp->status != 400 || attempt >= 3 || !resp->body.data ||
		    (!strstr(resp->body.data, "<Code>XAmzContentSHA256Mismatch</Code>") &&
		     !strstr(resp->body.data, "<Code>BadDigest</Code>")))
			return rc;
		log_warn("s3 %s %s: damaged in transit (the store's digest differs), sending it again", what,
			 key);
		http_resp_free(resp);
		*resp = (struct http_resp)HTTP_RESP_INIT;
	}
}


int s3_put(struct backend *b, const char *key, int fd, off_t fd_off, uint64_t len, const char *sha256)
{
	struct s3 *s3 = b->priv;
	struct http_resp resp = HTTP_RESP_INIT;
	struct s3_req c = { .method = "PUT", .fd = fd, .fd_off = fd_off, .fd_len = len };
	char *url = s3_url(s3, key, NULL), meta[128];
	const char *hdrs[3] = { NULL, NULL, NULL };
	int rc = -ENOMEM, n = 0, once = s3_create_only(s3, key);

	if (!url)
		goto out;
	if (len > S3_MAX_PART)
		log_warn("s3 PUT %s: %llu bytes is beyond S3's 5 GiB single-request limit", key,
			 (unsigned long long)len);
	/* the body is the whole object: its digest signs it, so the store checks the bytes against the
	 * digest that goes into the metadata, with no second pass over them */
	c.fd_sha256 = sha256;
	/* multipart uploads take metadata only at their start, before the digest exists: there each
	 * part's signed SHA-256 and the ETag check at completion stand in for it */
	if (sha256) {
		snprintf(meta, sizeof(meta), "x-amz-meta-snapfs-sha256: %s", sha256);
		hdrs[n++] = meta;
	}
	if (once)
		hdrs[n++] = "If-None-Match: *";
	c.url = url;
	c.headers = hdrs;
	rc = s3_result("PUT", key, call_verified(s3, &c, &resp, "PUT", key), &resp);
	if (rc == -EEXIST && once && sha256) {
		/* an attempt whose reply was lost may have made it: then the object is ours */
		struct obj_info oi;

		if (!s3_stat(b, key, &oi) && oi.size == len && !strcmp(oi.sha256, sha256))
			rc = 0;
	}
out:
	http_resp_free(&resp);
	free(url);
	return rc;
}

int s3_up_set_etag(struct upload *up, unsigned pn, char *etag)
{
	int rc = 0;

	pthread_mutex_lock(&up->lock);
	if (pn > up->cap) {
		size_t cap = up->cap ? up->cap : 16;
		char **n;

		while (cap < pn)
			cap *= 2;
		n = realloc(up->etags, cap * sizeof(*n));
		if (!n) {
			rc = -ENOMEM;
			goto out;
		}
		memset(n + up->cap, 0, (cap - up->cap) * sizeof(*n));
		up->etags = n;
		up->cap = cap;
	}
	free(up->etags[pn - 1]);
	up->etags[pn - 1] = etag;
	etag = NULL;
out:
	pthread_mutex_unlock(&up->lock);
	free(etag);
	return rc;
}

struct upload *s3_up_new(struct s3 *s3, const char *key, const char *id)
{
	struct upload *up = calloc(1, sizeof(*up));

	if (!up)
		return NULL;
	pthread_mutex_init(&up->lock, NULL);
	up->s3 = s3;
	up->key = strdup(key);
	up->url = s3_url(s3, key, NULL);
	up->id = id ? strdup(id) : NULL;
	if (!up->key || !up->url || (id && !up->id)) {
		s3_up_free(up);
		return NULL;
	}
	return up;
}

void s3_up_free(struct upload *up)
{
	if (!up)
		return;
	for (size_t i = 0; i < up->cap; i++)
		free(up->etags[i]);
	free(up->etags);
	free(up->key);
	free(up->url);
	free(up->id);
	pthread_mutex_destroy(&up->lock);
	free(up);
}

char *s3_up_url(const struct upload *up, unsigned pn)
{
	char *u;
	int n = pn ? asprintf(&u, "%s?partNumber=%u&uploadId=%s", up->url, pn, up->id)
		   : asprintf(&u, "%s?uploadId=%s", up->url, up->id);

	return n < 0 ? NULL : u;
}

/* UploadPart pn from a file range; its ETag is kept for the commit. */
static int put_part(struct upload *up, unsigned pn, int fd, off_t off, uint64_t len)
{
	struct s3 *s3 = up->s3;
	struct http_resp resp = HTTP_RESP_INIT;
	struct s3_req c = { .method = "PUT", .fd = fd, .fd_off = off, .fd_len = len };
	char *url, *etag;
	int rc;

	url = s3_up_url(up, pn);
	if (!url)
		return -ENOMEM;
	c.url = url;
	rc = s3_result("UploadPart", up->key, call_verified(s3, &c, &resp, "UploadPart", up->key), &resp);
	if (!rc) {
		etag = http_header(&resp, "ETag");
		if (!etag || !*etag) {
			log_warn("s3 UploadPart %s part %u: no ETag in the reply", up->key, pn);
			free(etag);
			rc = -EIO;
		} else {
			rc = s3_up_set_etag(up, pn, etag);
		}
	}
	if (!rc)
		__atomic_add_fetch(&up->bytes, len, __ATOMIC_RELAXED);
	http_resp_free(&resp);
	free(url);
	return rc;
}

/* For servers without UploadPartCopy (s3rver): bring the range here through an unlinked temporary
 * file and upload it as an ordinary part. */
static int copy_part_here(struct upload *up, const char *from, unsigned pn, uint64_t off, uint64_t len)
{
	struct backend be = { .priv = up->s3 };
	const char *tmpdir = getenv("TMPDIR");
	const char *dir = tmpdir && *tmpdir ? tmpdir : "/var/tmp";
	size_t chunk = 8 * S3_MIB;
	char *buf = malloc(chunk);
	uint64_t done = 0;
	int fd, rc = 0;

	if (!buf)
		return -ENOMEM;
	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		log_error("s3: no temporary file in %s to copy %s through: %s", dir, from, strerror(errno));
		free(buf);
		return rc;
	}
	while (done < len) {
		size_t want = len - done < chunk ? (size_t)(len - done) : chunk;
		ssize_t n = s3_read(&be, from, off + done, want, buf);

		if (n < 0) {
			rc = (int)n;
			break;
		}
		if ((size_t)n != want) {
			rc = -EIO;   /* the object shrank under us */
			break;
		}
		if (pwrite(fd, buf, want, (off_t)done) != (ssize_t)want) {
			rc = errno ? -errno : -EIO;
			break;
		}
		done += want;
	}
	free(buf);
	if (!rc)
		rc = put_part(up, pn, fd, 0, len);
	close(fd);
	return rc;
}

/* UploadPartCopy of [off, off+len) of source key `from` as part pn. A 200 reply may still carry an
 * <Error> document: the ones S3 documents as transient are retried (s3_req.result). */
int s3_copy_part(struct upload *up, const char *from, unsigned pn, uint64_t off, uint64_t len)
{
	struct s3 *s3 = up->s3;
	char *src_enc = enc_uri(from, 1), *src = NULL, *range = NULL, *url = s3_up_url(up, pn), *etag = NULL;
	const char *hdrs[3] = { NULL, NULL, NULL };
	struct s3_req c = { .method = "PUT", .url = url, .headers = hdrs, .fd = -1, .slow = 1,
			    .result = "CopyPartResult" };
	int rc = -ENOMEM;

	if (__atomic_load_n(&s3->no_part_copy, __ATOMIC_RELAXED)) {
		rc = copy_part_here(up, from, pn, off, len);
		goto out;
	}
	if (!src_enc || !url || asprintf(&src, "x-amz-copy-source: %s%s", s3->copy_source, src_enc) < 0 ||
	    asprintf(&range, "x-amz-copy-source-range: bytes=%llu-%llu", (unsigned long long)off,
		     (unsigned long long)(off + len - 1)) < 0)
		goto out;
	hdrs[0] = src;
	hdrs[1] = range;
	rc = s3_call_result(s3, &c, "UploadPartCopy", up->key, &etag);
	if (!rc && (!etag || !*etag)) {
		log_warn("s3 UploadPartCopy %s part %u: no ETag in the reply", up->key, pn);
		rc = -EIO;
	}
	if (rc == -ENOTSUP) {
		log_info("s3: the server has no UploadPartCopy; appends copy the old bytes through a "
			 "temporary file");
		__atomic_store_n(&s3->no_part_copy, 1, __ATOMIC_RELAXED);
		rc = copy_part_here(up, from, pn, off, len);
	} else if (!rc) {
		rc = s3_up_set_etag(up, pn, etag);
		etag = NULL;
		if (!rc)
			__atomic_add_fetch(&up->bytes, len, __ATOMIC_RELAXED);
	}
out:
	free(etag);
	free(src_enc);
	free(src);
	free(range);
	free(url);
	return rc;
}

int s3_begin(struct s3 *s3, const char *key, struct upload **out)
{
	struct http_resp resp = HTTP_RESP_INIT;
	struct s3_req c = { .method = "POST", .fd = -1 };
	struct upload *up;
	char *url = NULL, *id = NULL;
	int rc = -ENOMEM;

	*out = NULL;
	up = s3_up_new(s3, key, NULL);
	if (!up)
		return -ENOMEM;
	url = s3_url(s3, key, "uploads");
	if (!url)
		goto err;
	c.url = url;
	rc = s3_result("CreateMultipartUpload", key, s3_call(s3, &c, &resp), &resp);
	if (rc)
		goto err;
	rc = s3_parse_upload_id(resp.body.data, resp.body.len, &id);
	if (rc) {
		log_warn("s3 CreateMultipartUpload %s: malformed reply", key);
		goto err;
	}
	up->id = enc_uri(id, 0);
	free(id);
	if (!up->id) {
		rc = -ENOMEM;
		goto err;
	}
	http_resp_free(&resp);
	free(url);
	*out = up;
	return 0;
err:
	http_resp_free(&resp);
	free(url);
	s3_up_free(up);
	return rc;
}

int s3_upload_begin(struct backend *b, const char *key, uint64_t base, struct upload **out)
{
	struct s3 *s3 = b->priv;
	uint64_t *off = NULL, *len = NULL;
	struct upload *up = NULL;
	unsigned n = 0;
	int rc;

	if (base) {
		struct obj_info oi;

		/* the object must still be the one the caller measured */
		rc = s3_stat(b, key, &oi);
		if (rc)
			return rc;
		if (oi.size != base) {
			log_warn("s3: %s is %llu bytes, not the %llu to append to", key,
				 (unsigned long long)oi.size, (unsigned long long)base);
			return -EIO;
		}
		if (base < 5 * S3_MIB)
			return -EINVAL;   /* copied parts but the last need 5 MiB: the caller re-uploads */
		n = s3_split(base, S3_MAX_PART, NULL, NULL);
		off = calloc(n, sizeof(*off));
		len = calloc(n, sizeof(*len));
		if (!off || !len) {
			rc = -ENOMEM;
			goto out;
		}
		s3_split(base, S3_MAX_PART, off, len);
	}
	rc = s3_begin(s3, key, &up);
	for (unsigned i = 0; i < n && !rc; i++)
		rc = s3_copy_part(up, key, i + 1, off[i], len[i]);
	if (rc && up) {
		s3_abort(up);
		up = NULL;
	}
	if (up)
		up->nbase = n;
	*out = up;
out:
	free(off);
	free(len);
	return rc;
}

int s3_upload_part(struct upload *up, const struct part *p)
{
	if (!p->n || up->nbase + p->n > S3_MAX_PARTS || p->len > S3_MAX_PART)
		return -EINVAL;
	return put_part(up, up->nbase + p->n, p->fd, p->fd_off, p->len);
}

void s3_abort(struct upload *up)
{
	struct http_resp resp = HTTP_RESP_INIT;
	struct s3_req c = { .method = "DELETE", .fd = -1 };
	char *url;
	int rc;

	if (!up)
		return;
	url = s3_up_url(up, 0);
	if (url) {
		c.url = url;
		rc = s3_call(up->s3, &c, &resp);
		if (!rc && (resp.status == 405 || resp.status == 501)) {
			/* s3rver has no AbortMultipartUpload; its parts were never visible anyway */
			if (!__atomic_exchange_n(&up->s3->told_no_abort, 1, __ATOMIC_RELAXED))
				log_warn("s3: the server cannot abort multipart uploads (HTTP %ld)",
					 resp.status);
			rc = 0;
		}
		rc = rc ? s3_result("AbortMultipartUpload", up->key, rc, &resp) : 0;
		if (!rc && resp.status >= 300 && resp.status != 405 && resp.status != 501)
			rc = s3_result("AbortMultipartUpload", up->key, 0, &resp);
		if (rc && rc != -ENOENT)
			log_error("s3: could not abort the upload of %s; its parts stay billed until a "
				  "lifecycle rule removes them", up->key);
	}
	http_resp_free(&resp);
	free(url);
	s3_up_free(up);
}

void s3_upload_abort(struct upload *up)
{
	s3_abort(up);
}

/* For the crash journal: the UploadId (already URL-encoded) names the multipart upload. */
char *s3_upload_token(struct upload *up)
{
	return strdup(up->id);
}


int s3_upload_release(struct upload *up)
{
	s3_up_free(up);
	return 0;
}
