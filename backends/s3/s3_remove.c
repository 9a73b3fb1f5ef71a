/* Deleting: DeleteObjects in batches of up to 1000 keys, one DELETE per key on servers without it. A
 * key already gone counts as deleted. */
#include "backends/s3/s3_priv.h"
#include "backends/http.h"
#include "common/encode.h"
#include "common/log.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int delete_one(struct s3 *s3, const char *key)
{
	struct http_resp resp = HTTP_RESP_INIT;
	struct s3_req c = { .method = "DELETE", .fd = -1 };
	char *url = s3_url(s3, key, NULL);
	int rc;

	if (!url)
		return -ENOMEM;
	c.url = url;
	rc = s3_result("DELETE", key, s3_call(s3, &c, &resp), &resp);
	http_resp_free(&resp);
	free(url);
	return rc == -ENOENT ? 0 : rc;
}

/* DeleteObjects. Sending it again is safe: keys an earlier attempt already deleted come back as
 * deleted (or NoSuchKey, which counts as done), so a reply lost after the server acted (s3rver may
 * answer 500 once it has deleted everything) and keys the server failed for a moment are retried. */
static int delete_batch(struct s3 *s3, const char *const *keys, size_t n)
{
	char *body = s3_delete_body(keys, n), *url = s3_url(s3, NULL, "delete"), *b64 = NULL, *md5h = NULL;
	const char *hdrs[] = { NULL, "Content-Type: application/xml", NULL };
	/* a failure goes once more beyond --retries: the request is idempotent and the reply is often
	 * lost after the work was done (s3rver answers 500 when two of its deletes race to remove the
	 * folder they emptied) */
	struct s3_req c = { .method = "POST", .headers = hdrs, .fd = -1, .result = "DeleteResult",
			    .once_more = 1 };
	struct http_resp resp = HTTP_RESP_INIT;
	char code[S3_CODE_MAX] = "", *bad = NULL;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	int rc = -ENOMEM;

	if (!body || !url)
		goto out;
	/* DeleteObjects demands Content-MD5 (or a checksum header) */
	EVP_Digest(body, strlen(body), md, &mdlen, EVP_md5(), NULL);
	b64 = enc_b64(md, mdlen);
	if (!b64 || asprintf(&md5h, "Content-MD5: %s", b64) < 0) {
		md5h = NULL;
		goto out;
	}
	hdrs[0] = md5h;
	c.url = url;
	c.body = body;
	c.body_len = strlen(body);
	rc = s3_result("DeleteObjects", keys[0], s3_call(s3, &c, &resp), &resp);
	if (!rc) {
		rc = s3_parse_delete(resp.body.data, resp.body.len, code, &bad);
		if (rc)
			log_warn("s3 DeleteObjects: %s%s%s", code[0] ? code : "malformed reply", bad ? " for " : "",
				 bad ? bad : "");
		if (rc == -EAGAIN)
			rc = -EIO;   /* some keys still failed after the last try */
	}
out:
	http_resp_free(&resp);
	free(bad);
	free(body);
	free(url);
	free(b64);
	free(md5h);
	return rc;
}

int s3_remove(struct backend *b, const char *const *keys, size_t n)
{
	struct s3 *s3 = b->priv;
	int rc = 0;

	for (size_t i = 0; i < n && !rc; i += S3_DELETE_BATCH) {
		size_t cnt = n - i < S3_DELETE_BATCH ? n - i : S3_DELETE_BATCH;

		if (cnt > 1 && !__atomic_load_n(&s3->no_batch_delete, __ATOMIC_RELAXED)) {
			rc = delete_batch(s3, keys + i, cnt);
			if (rc != -ENOTSUP)
				continue;
			log_info("s3: the server has no DeleteObjects; deleting one key at a time");
			__atomic_store_n(&s3->no_batch_delete, 1, __ATOMIC_RELAXED);
			rc = 0;
		}
		for (size_t j = 0; j < cnt && !rc; j++)
			rc = delete_one(s3, keys[i + j]);
	}
	return rc;
}
