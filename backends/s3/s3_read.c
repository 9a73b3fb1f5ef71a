/* Reading S3 objects: HEAD for an object's size, date, ETag and digest; ranged GET, optionally
 * bound to the version a handle first read (If-Match). */
#include "backends/s3/s3_priv.h"
#include "backends/http.h"
#include "backends/objver.h"
#include "common/crypto.h"
#include "common/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int s3_stat(struct backend *b, const char *key, struct obj_info *out)
{
	struct s3 *s3 = b->priv;
	struct http_resp resp = HTTP_RESP_INIT;
	struct s3_req c = { .method = "HEAD", .fd = -1 };
	char *url, *v;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!*key)
		return -ENOENT;   /* the bucket root is no object */
	url = s3_url(s3, key, NULL);
	if (!url)
		return -ENOMEM;
	c.url = url;
	rc = s3_result("HEAD", key, s3_call(s3, &c, &resp), &resp);
	if (rc)
		goto out;
	v = http_header(&resp, "Content-Length");
	if (!v || !*v || strspn(v, "0123456789") != strlen(v)) {
		log_warn("s3 HEAD %s: no usable Content-Length", key);
		rc = -EIO;
	} else {
		out->size = strtoull(v, NULL, 10);
	}
	free(v);
	v = http_header(&resp, "Last-Modified");
	if (v)
		out->mtime = http_date(v);
	free(v);
	v = http_header(&resp, "ETag");
	if (v) {
		const char *e = v + (*v == '"');
		size_t n = strcspn(e, "\"");

		if (n >= sizeof(out->etag))
			n = sizeof(out->etag) - 1;
		memcpy(out->etag, e, n);
		out->etag[n] = 0;
	}
	free(v);
	v = http_header(&resp, "x-amz-meta-snapfs-sha256");
	crypto_sha256_take(v, out->sha256);
	free(v);
	/* a single-request object's ETag is its MD5, unless a KMS key or the customer's key encrypted it */
	v = http_header(&resp, "x-amz-server-side-encryption-customer-algorithm");
	if (!v)
		v = http_header(&resp, "x-amz-server-side-encryption");
	if ((!v || strcmp(v, "aws:kms")) && strlen(out->etag) == 32 && !out->etag[strspn(out->etag, "0123456789abcdef")])
		memcpy(out->md5, out->etag, 33);
	free(v);
out:
	http_resp_free(&resp);
	free(url);
	return rc;
}

/* Content-Range: bytes 0-0/0 */
static int empty_range(const struct http_resp *resp)
{
	char *v = http_header(resp, "Content-Range"), *slash = v ? strrchr(v, '/') : NULL;
	int empty = slash && !strcmp(slash, "/0");

	free(v);
	return empty;
}

ssize_t s3_read_ver(struct backend *b, const char *key, struct obj_ver *v, uint64_t off, size_t len,
			   void *buf)
{
	struct s3 *s3 = b->priv;
	struct http_resp resp = HTTP_RESP_INIT;
	char range[64], cond[OBJ_VER_TAG_MAX + 16];
	const char *hdrs[] = { range, NULL, NULL };
	struct s3_req c = { .method = "GET", .fd = -1, .headers = hdrs, .out = buf, .out_cap = len };
	char *url;
	ssize_t rc;

	if (!len)
		return 0;
	snprintf(range, sizeof(range), "Range: bytes=%llu-%llu", (unsigned long long)off,
		 (unsigned long long)(off + len - 1));
	objver_cond(v, "If-Match", cond, sizeof(cond));
	if (cond[0])
		hdrs[1] = cond;
	url = s3_url(s3, key, NULL);
	if (!url)
		return -ENOMEM;
	c.url = url;
	rc = s3_call(s3, &c, &resp);
	if (!rc && resp.status == 412) {
		rc = -ESTALE;   /* replaced since the handle's first read */
	} else if (!rc && resp.status == 416) {
		rc = v ? objver_check(v, &resp, "ETag") : 0;   /* at or past the end */
	} else if (rc == -EIO && resp.status == 206 && empty_range(&resp)) {
		rc = 0;   /* an emulator's 206 for an empty object announces a byte it never sends */
	} else {
		rc = s3_result("GET", key, (int)rc, &resp);
		if (!rc && resp.status == 200 && off) {
			/* the whole object instead of the range: the bytes are not the ones asked for */
			log_warn("s3 GET %s: the server ignored the Range header", key);
			rc = -EIO;
		} else if (!rc) {
			rc = v ? objver_check(v, &resp, "ETag") : 0;
			if (!rc)
				rc = (ssize_t)resp.out_len;
		}
	}
	http_resp_free(&resp);
	free(url);
	return rc;
}

ssize_t s3_read(struct backend *b, const char *key, uint64_t off, size_t len, void *buf)
{
	return s3_read_ver(b, key, NULL, off, len, buf);
}

