/* Server-side copy: CopyObject up to 5 GiB, a multipart upload of copied ranges beyond. */
#include "backends/s3/s3_priv.h"
#include "backends/http.h"
#include "common/encode.h"
#include "common/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int copy_small(struct s3 *s3, const char *from, const char *to)
{
	char *src_enc = enc_uri(from, 1), *src = NULL, *url = s3_url(s3, to, NULL), code[S3_CODE_MAX] = "";
	int rc = -ENOMEM;

	if (!src_enc || !url || asprintf(&src, "x-amz-copy-source: %s%s", s3->copy_source, src_enc) < 0) {
		src = NULL;
		goto out;
	}
	for (int t = 0; t < S3_COMMIT_TRIES; t++) {
		const char *hdrs[] = { src, NULL };
		struct http_resp resp = HTTP_RESP_INIT;
		struct s3_req c = { .method = "PUT", .url = url, .headers = hdrs, .fd = -1, .slow = 1 };

		rc = s3_result("CopyObject", from, s3_call(s3, &c, &resp), &resp);
		if (!rc) {
			rc = s3_parse_result(resp.body.data, resp.body.len, "CopyObjectResult", NULL, code);
			if (rc)
				log_warn("s3 CopyObject %s -> %s: %s", from, to,
					 code[0] ? code : "malformed reply");
		}
		http_resp_free(&resp);
		if (rc != -EAGAIN)
			break;
		http_backoff(s3->http, t);
	}
	if (rc == -EAGAIN)
		rc = -EIO;
out:
	free(src_enc);
	free(src);
	free(url);
	return rc;
}

int s3_copy(struct backend *b, const char *from, const char *to)
{
	struct s3 *s3 = b->priv;
	struct obj_info oi;
	struct upload *up;
	uint64_t *off, *len;
	unsigned n;
	int rc;

	rc = s3_stat(b, from, &oi);
	if (rc)
		return rc;
	if (oi.size <= S3_MAX_PART)
		return copy_small(s3, from, to);
	/* CopyObject stops at 5 GiB: a multipart upload of copied ranges */
	n = s3_split(oi.size, S3_MAX_PART, NULL, NULL);
	off = calloc(n, sizeof(*off));
	len = calloc(n, sizeof(*len));
	if (!off || !len) {
		rc = -ENOMEM;
		goto out;
	}
	s3_split(oi.size, S3_MAX_PART, off, len);
	rc = s3_begin(s3, to, &up);
	if (rc)
		goto out;
	for (unsigned i = 0; i < n && !rc; i++)
		rc = s3_copy_part(up, from, i + 1, off[i], len[i]);
	if (rc) {
		s3_abort(up);
		goto out;
	}
	up->nbase = n;
	rc = s3_upload_commit(up, 0, NULL);
	if (rc)
		s3_abort(up);
out:
	free(off);
	free(len);
	return rc;
}

