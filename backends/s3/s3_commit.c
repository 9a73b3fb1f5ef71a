/* Completing a multipart upload (CompleteMultipartUpload), and telling from the multipart ETag whether
 * an attempt whose reply was lost completed it; a kept upload completed later from ListParts (after a
 * failed commit or a crash), or aborted from its UploadId alone. */
#include "backends/s3/s3_priv.h"
#include "backends/http.h"
#include "common/encode.h"
#include "common/log.h"

#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int s3_multipart_etag(char *const *etags, unsigned n, char *out, size_t cap)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	char hex[2 * EVP_MAX_MD_SIZE + 1];
	int rc = -EINVAL;

	if (!ctx)
		return -ENOMEM;
	if (!n || !EVP_DigestInit_ex(ctx, EVP_md5(), NULL))
		goto out;
	for (unsigned i = 0; i < n; i++) {
		const char *e = etags[i] ? etags[i] : "";
		unsigned char bin[16];

		e += *e == '"';
		/* a plain MD5 in hex, maybe quoted; anything else (SSE-KMS, another scheme) cannot be
		 * combined */
		if (strspn(e, "0123456789abcdefABCDEF") != 32 || (e[32] && strcmp(e + 32, "\"")))
			goto out;
		for (int j = 0; j < 16; j++) {
			unsigned v;

			sscanf(e + 2 * j, "%2x", &v);
			bin[j] = (unsigned char)v;
		}
		if (!EVP_DigestUpdate(ctx, bin, sizeof(bin)))
			goto out;
	}
	if (!EVP_DigestFinal_ex(ctx, md, &mdlen))
		goto out;
	enc_hex(md, mdlen, hex);
	rc = snprintf(out, cap, "%s-%u", hex, n) < (int)cap ? 0 : -EINVAL;
out:
	EVP_MD_CTX_free(ctx);
	return rc;
}

/* A retried CompleteMultipartUpload answered NoSuchUpload: an earlier attempt may have completed it
 * and lost only the reply, or the upload may be gone for another reason (aborted, expired) while an
 * older object of the same size stays. Only the multipart ETag tells them apart: S3 (and RGW, whose
 * completion reply carries an empty ETag; HEAD gives the right one) names an object made of parts by
 * the MD5 of the parts' MD5s and the part count. */
static int completed_before(struct upload *up, unsigned total)
{
	struct backend be = { .priv = up->s3 };
	uint64_t want_size = __atomic_load_n(&up->bytes, __ATOMIC_RELAXED);
	struct obj_info oi;
	char want[64];
	int rc;

	pthread_mutex_lock(&up->lock);
	rc = total <= up->cap ? s3_multipart_etag(up->etags, total, want, sizeof(want)) : -EIO;
	pthread_mutex_unlock(&up->lock);
	if (rc) {
		log_warn("s3: the upload of %s is gone, and its parts' ETags are no MD5s to tell whether "
			 "it completed: taken as NOT completed", up->key);
		return -EIO;
	}
	rc = s3_stat(&be, up->key, &oi);
	if (rc || oi.size != want_size || strcasecmp(oi.etag, want)) {
		log_warn("s3: the upload of %s is gone and the object is not the upload (%s, ETag \"%s\", "
			 "%llu bytes; the upload's \"%s\", %llu bytes)", up->key, rc ? strerror(-rc) : "found",
			 rc ? "" : oi.etag, (unsigned long long)oi.size, want, (unsigned long long)want_size);
		return -EIO;
	}
	log_info("s3: %s was completed by an attempt whose reply was lost (ETag %s)", up->key, want);
	return 0;
}

static int s3_complete(struct upload *up, unsigned total)
{
	struct s3 *s3 = up->s3;
	struct http_resp resp = HTTP_RESP_INIT;
	char *body = NULL, *url = NULL, code[S3_CODE_MAX] = "";
	const char *hdrs[] = { "Content-Type: application/xml", NULL, NULL };
	struct s3_req c = { .method = "POST", .headers = hdrs, .fd = -1, .slow = 1,
			    .result = "CompleteMultipartUploadResult" };
	int rc;

	pthread_mutex_lock(&up->lock);
	rc = total > up->cap ? -EIO : 0;
	for (unsigned i = 0; !rc && i < total; i++) {
		if (!up->etags[i]) {
			log_error("s3: %s: part %u was never uploaded", up->key, i + 1);
			rc = -EIO;
		}
	}
	if (!rc) {
		body = s3_complete_body(up->etags, total);
		if (!body)
			rc = -ENOMEM;
	}
	pthread_mutex_unlock(&up->lock);
	url = rc ? NULL : s3_up_url(up, 0);
	if (!rc && !url)
		rc = -ENOMEM;
	if (rc)
		goto out;
	hdrs[1] = s3_create_only(s3, up->key) ? "If-None-Match: *" : NULL;
	c.url = url;
	c.body = body;
	c.body_len = strlen(body);
	rc = s3_result("CompleteMultipartUpload", up->key, s3_call(s3, &c, &resp), &resp);
	/* NoSuchUpload even on what looks like a first attempt: libcurl itself sends a request again
	 * when a reused connection dies before any reply */
	/* and a write-once refusal may be of our own completion, whose reply was lost */
	if (rc == -ENOENT || (rc == -EEXIST && hdrs[1])) {
		int was = rc;

		rc = completed_before(up, total);
		if (rc && was == -EEXIST) {
			log_warn("s3: %s: another writer created it first: not replaced (write-once)", up->key);
			rc = -EEXIST;
		}
	}
	if (!rc && resp.status >= 200 && resp.status < 300) {
		/* 200 is sent before the work is done; the verdict is the document */
		rc = s3_parse_result(resp.body.data, resp.body.len, c.result, NULL, code);
		if (rc)
			log_warn("s3 CompleteMultipartUpload %s: %s", up->key, code[0] ? code : "malformed reply");
		if (rc == -EAGAIN)
			rc = -EIO;   /* still an <Error> after the last try */
	}
out:
	http_resp_free(&resp);
	free(body);
	free(url);
	return rc;
}

/* A failure leaves up open (commit_again): the caller commits again, aborts or releases it. */
int s3_upload_commit(struct upload *up, unsigned nparts, const char *sha256)
{
	int rc = s3_complete(up, up->nbase + nparts);

	(void)sha256;
	if (!rc)
		s3_up_free(up);
	return rc;
}

/* a journal line is data from disk: it must be an encoded UploadId, nothing that alters the URL */
static int token_ok(const char *token)
{
	return *token && strlen(token) <= 1024 &&
	       !token[strspn(token, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789%-._~")];
}

static int add_part(void *arg, unsigned pn, const char *etag, uint64_t size)
{
	struct upload *up = arg;
	char *e = strdup(etag);

	/* the size too: a NoSuchUpload on the commit is then told apart as in s3_complete */
	__atomic_add_fetch(&up->bytes, size, __ATOMIC_RELAXED);
	return e ? s3_up_set_etag(up, pn, e) : -ENOMEM;
}

/* A kept upload, committed later: ListParts names every part the store holds (numbers and ETags),
 * and they must be 1..n without a gap, as this upload made them, to be completed as they are. */
int s3_upload_finish(struct backend *b, const char *key, const char *token)
{
	struct s3 *s3 = b->priv;
	struct upload *up;
	char *marker = NULL;
	unsigned n = 0;
	int rc = -ENOMEM;

	if (!token_ok(token))
		return -EINVAL;
	up = s3_up_new(s3, key, token);
	if (!up)
		return -ENOMEM;
	do {
		struct http_resp resp = HTTP_RESP_INIT;
		struct s3_req c = { .method = "GET", .fd = -1 };
		char *url = NULL, *next = NULL;

		if (asprintf(&url, "%s?%s%s%suploadId=%s", up->url, marker ? "part-number-marker=" : "",
			     marker ? marker : "", marker ? "&" : "", up->id) < 0) {
			rc = -ENOMEM;
			break;
		}
		c.url = url;
		rc = s3_result("ListParts", key, s3_call(s3, &c, &resp), &resp);
		if (!rc)
			rc = s3_parse_parts(resp.body.data, resp.body.len, add_part, up, &n, &next);
		http_resp_free(&resp);
		free(url);
		free(marker);
		marker = next;
	} while (!rc && marker);
	free(marker);
	if (rc)
		goto out;
	for (unsigned i = 0; i < n; i++) {
		if (i >= up->cap || !up->etags[i]) {
			log_error("s3: the kept upload of %s lacks part %u: it cannot be completed", key, i + 1);
			rc = -EIO;
			goto out;
		}
	}
	if (!n) {
		log_error("s3: the kept upload of %s holds no part", key);
		rc = -EIO;
		goto out;
	}
	rc = s3_complete(up, n);
out:
	s3_up_free(up);
	return rc;
}

/* After a crash: AbortMultipartUpload from the key and UploadId alone. NoSuchUpload (-ENOENT) means
 * it was completed or aborted before the crash: nothing to do either way. */
int s3_upload_forget(struct backend *b, const char *key, const char *token)
{
	struct s3 *s3 = b->priv;
	struct http_resp resp = HTTP_RESP_INIT;
	struct s3_req c = { .method = "DELETE", .fd = -1 };
	char *obj = NULL, *url = NULL;
	int rc;

	if (!token_ok(token))
		return -EINVAL;
	obj = s3_url(s3, key, NULL);
	if (!obj || asprintf(&url, "%s?uploadId=%s", obj, token) < 0) {
		url = NULL;
		rc = -ENOMEM;
		goto out;
	}
	c.url = url;
	rc = s3_call(s3, &c, &resp);
	if (!rc && (resp.status == 405 || resp.status == 501)) {
		log_warn("s3: the server cannot abort multipart uploads (HTTP %ld): the parts of %s stay "
			 "until a lifecycle rule removes them", resp.status, key);
		rc = -EOPNOTSUPP;   /* no later mount could do better */
		goto out;
	}
	rc = s3_result("AbortMultipartUpload", key, rc, &resp);
out:
	http_resp_free(&resp);
	free(obj);
	free(url);
	return rc;
}
