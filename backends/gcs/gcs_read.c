/* GCS reads: objects.get for stat, ranged media downloads held to one generation. */
#include "backends/gcs/gcs_priv.h"
#include "backends/objver.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int gcs_stat(struct backend *b, const char *key, struct obj_info *out)
{
	return gcs_get_meta(b->priv, key, out, NULL, NULL);
}

ssize_t gcs_read_ver(struct backend *b, const char *key, struct obj_ver *v, uint64_t off, size_t len,
			    void *buf)
{
	struct gcs *g = b->priv;
	struct http_resp resp = HTTP_RESP_INIT;
	struct http_req req;
	char range[80], q[OBJ_VER_TAG_MAX + 40], *url;
	const char *hdrs[] = { range, NULL };
	ssize_t rc;

	if (!len)
		return 0;
	/* the generation read first: ifGenerationMatch answers 412 once the object is another one */
	if (v && v->known && v->tag[0])
		snprintf(q, sizeof(q), "?alt=media&ifGenerationMatch=%s", v->tag);
	else
		snprintf(q, sizeof(q), "?alt=media");
	url = gcs_obj_url(g, key, q);
	if (!url)
		return -ENOMEM;
	snprintf(range, sizeof(range), "Range: bytes=%llu-%llu", GCS_ULL(off), GCS_ULL(off + len - 1));
	gcs_req_init(&req, "GET", url, hdrs);
	req.out = buf;
	req.out_cap = len;
	rc = gcs_do(g, &req, &resp);
	if (rc)
		goto out;
	if (resp.status == 206 || (resp.status == 200 && off == 0))
		rc = v && (rc = objver_check(v, &resp, "X-Goog-Generation")) ? rc : (ssize_t)resp.out_len;
	else if (resp.status == 412)
		rc = -ESTALE;
	else if (resp.status == 416)
		rc = v ? objver_check(v, &resp, "X-Goog-Generation") : 0;  /* at or past the end, or empty */
	else if (resp.status == 404)
		rc = -ENOENT;
	else
		rc = gcs_fail("read", key, &resp);
out:
	http_resp_free(&resp);
	free(url);
	return rc;
}

ssize_t gcs_read(struct backend *b, const char *key, uint64_t off, size_t len, void *buf)
{
	return gcs_read_ver(b, key, NULL, off, len, buf);
}
