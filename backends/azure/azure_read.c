/* Azure Blob ranged reads (Get Blob with x-ms-range), optionally held to one version by its ETag. */
#include "backends/azure/azure_priv.h"
#include "backends/objver.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

ssize_t az_read_ver(struct backend *b, const char *rel, struct obj_ver *v, uint64_t off, size_t len,
			   void *buf)
{
	struct az *az = b->priv;
	struct http_resp resp = HTTP_RESP_INIT;
	struct http_req req;
	char range[80], cond[OBJ_VER_TAG_MAX + 16], *key = NULL, *url = NULL;
	const char *hdrs[] = { AZ_VER_HDR, range, NULL, NULL };
	ssize_t rc = -ENOMEM;

	if (!len)
		return 0;
	key = az_key(az, rel);
	if (!key || !(url = az_blob_url(az, key, NULL)))
		goto out;
	snprintf(range, sizeof(range), "x-ms-range: bytes=%llu-%llu", (unsigned long long)off,
		 (unsigned long long)(off + len - 1));
	objver_cond(v, "If-Match", cond, sizeof(cond));
	if (cond[0])
		hdrs[2] = cond;
	az_req_init(az, &req, "GET", url, hdrs);
	req.out = buf;
	req.out_cap = len;
	rc = http_do(az->http, &req, &resp);
	if (rc)
		goto out;
	if (resp.status == 412)
		rc = -ESTALE;   /* replaced since the handle's first read */
	else if (resp.status == 416)
		rc = v ? objver_check(v, &resp, "ETag") : 0;     /* at or past the end (or an empty blob) */
	else if (resp.status == 200 || resp.status == 206)
		rc = v && (rc = objver_check(v, &resp, "ETag")) ? rc : (ssize_t)resp.out_len;
	else
		rc = resp.status == 404 ? -ENOENT : az_fail("read", key, &resp);
out:
	free(key);
	free(url);
	http_resp_free(&resp);
	return rc;
}

ssize_t az_read(struct backend *b, const char *rel, uint64_t off, size_t len, void *buf)
{
	return az_read_ver(b, rel, NULL, off, len, buf);
}
