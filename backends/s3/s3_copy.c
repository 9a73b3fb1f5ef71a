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
	char *src_enc = enc_uri(from, 1), *src = NULL, *url = s3_url(s3, to, NULL);
	const char *hdrs[2] = { NULL, NULL };
	struct s3_req c = { .method = "PUT", .url = url, .headers = hdrs, .fd = -1, .slow = 1,
			    .result = "CopyObjectResult" };
	int rc = -ENOMEM;

	if (!src_enc || !url || asprintf(&src, "x-amz-copy-source: %s%s", s3->copy_source, src_enc) < 0) {
		src = NULL;
		goto out;
	}
	hdrs[0] = src;
	rc = s3_call_result(s3, &c, "CopyObject", from, NULL);
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

