/* Azure crash recovery: the token that names an upload's blocks, and dropping them after a crash. */
#include "backends/azure/azure_priv.h"
#include "backends/uptoken.h"
#include "common/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* For the crash journal: the tag names every block this upload puts. */
char *az_upload_token(struct upload *up)
{
	/* an append that keeps the base's committed blocks names how many: a kept commit finished
	 * later must find exactly those first */
	return uptoken_make(up->tag, up->n_old);
}

/* Put Block List of exactly the committed blocks bl names (none: an empty blob), under the condition
 * cond; every uncommitted block of the blob goes. props: headers that keep the blob's properties and
 * metadata. On 201, *etag (may be NULL) gets the new ETag. */
static int commit_list(struct az *az, const char *key, const struct az_blocks *bl, const char *cond,
		       char *const *props, size_t nprops, char **etag)
{
	struct http_resp resp = HTTP_RESP_INIT;
	const char **hdrs = calloc(nprops + 4, sizeof(*hdrs));
	size_t h = 0;
	int rc = -ENOMEM;

	if (!hdrs)
		goto out;
	hdrs[h++] = AZ_VER_HDR;
	hdrs[h++] = "Content-Type: application/xml";
	hdrs[h++] = cond;
	for (size_t i = 0; i < nprops; i++)
		hdrs[h++] = props[i];
	rc = az_put_blocks(az, key, hdrs, bl->committed, bl->ncommitted, NULL, 0, &resp);
	if (!rc && resp.status != 201) {
		char *code = az_err_code(&resp);

		/* the blob changed (or appeared) meanwhile; a 412 for a lease is a failure like any other */
		if (code && ((resp.status == 412 && !strcmp(code, "ConditionNotMet")) ||
			     (resp.status == 409 && !strcmp(code, "BlobAlreadyExists"))))
			rc = -EEXIST;
		else if ((rc = az_fail("put block list of", key, &resp)) == -EEXIST)
			rc = -EBUSY;   /* 412 maps to -EEXIST, which here means the condition above only */
		free(code);
	}
	if (!rc && etag)
		*etag = http_header(&resp, "ETag");
out:
	free(hdrs);
	http_resp_free(&resp);
	return rc;
}

/* The reply headers of HEAD that Put Block List would otherwise reset, as request headers that set them
 * again: metadata as it is, content properties under their x-ms-blob- names. */
static int keep_props(const struct http_resp *head, char ***out, size_t *n)
{
	static const char *const map[][2] = {
		{ "Content-Type", "x-ms-blob-content-type" }, { "Content-Encoding", "x-ms-blob-content-encoding" },
		{ "Content-Language", "x-ms-blob-content-language" }, { "Content-MD5", "x-ms-blob-content-md5" },
		{ "Content-Disposition", "x-ms-blob-content-disposition" }, { "Cache-Control", "x-ms-blob-cache-control" },
	};
	const char *p = head->headers.data, *end = p ? p + head->headers.len : NULL;
	char **v = calloc(64 + sizeof(map) / sizeof(map[0]), sizeof(*v));
	size_t k = 0;

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		char *val = http_header(head, map[i][0]);

		if (val && asprintf(&v[k], "%s: %s", map[i][1], val) >= 0)
			k++;
		free(val);
	}
	/* metadata: every "x-ms-meta-NAME: value" line, as sent back (at most 64) */
	while (p && p < end && k < 64 + sizeof(map) / sizeof(map[0])) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);

		while (len && (p[len - 1] == '\r' || p[len - 1] == ' '))
			len--;
		if (len > 10 && !strncasecmp(p, "x-ms-meta-", 10) && memchr(p, ':', len))
			v[k++] = strndup(p, len);
		p = nl ? nl + 1 : end;
	}
	for (size_t i = 0; i < k; i++) {
		if (!v[i]) {
			for (size_t j = 0; j < k; j++)
				free(v[j]);
			free(v);
			return -ENOMEM;
		}
	}
	*out = v;
	*n = k;
	return 0;
}

/* After a crash: get rid of the blocks this upload put. Uncommitted blocks cannot be deleted one by one;
 * a Put Block List drops every uncommitted block of the blob, so:
 * - no committed blob of that name: commit an empty list only if none appeared (If-None-Match: *),
 *   then delete exactly that empty blob (If-Match);
 * - a committed blob: commit its own committed list again under If-Match, with its properties and
 *   metadata, which leaves its bytes as they are (only when the blocks add up to its size: a blob made by
 *   one Put Blob lists no blocks, and its blocks stay for its next commit or the service's expiry).
 * Blocks of another upload in progress beside ours are never dropped: that upload's commit drops ours. */
int az_upload_forget(struct backend *b, const char *rel, const char *token)
{
	struct az *az = b->priv;
	const char *hdrs[] = { AZ_VER_HDR, NULL, NULL };
	struct http_resp resp = HTTP_RESP_INIT;
	struct http_req req;
	struct az_blocks bl = { 0 };
	char *key = az_key(az, rel), *url = NULL, *etag = NULL, *type = NULL, *len = NULL, cond[160];
	char **props = NULL, tag[17];
	size_t nprops = 0, n_old;
	int rc = -ENOMEM;

	rc = uptoken_parse(token, AZ_MAX_BLOCKS, tag, &n_old);
	if (rc)
		goto out;
	if (!key || !(url = az_blob_url(az, key, NULL)))
		goto out;
	rc = az_get_blocks(az, key, tag, &bl);
	if (!rc && !bl.nours)
		rc = -ENOENT;   /* committed before the crash, dropped by a later commit, or expired */
	if (rc)
		goto out;
	if (bl.foreign) {
		log_info("azure: %s has blocks of another upload in progress: ours go with its commit", key);
		rc = -ENOENT;
		goto out;
	}
	az_req_init(az, &req, "HEAD", url, hdrs);
	rc = http_do(az->http, &req, &resp);
	if (rc)
		goto out;
	if (resp.status == 404) {
		az_blocks_free(&bl);
		rc = commit_list(az, key, &bl, "If-None-Match: *", NULL, 0, &etag);
		if (rc == -EEXIST) {
			rc = 0;   /* a blob was committed meanwhile: its commit dropped our blocks */
			goto out;
		}
		if (rc)
			goto out;
		if (!etag) {
			log_warn("azure: %s: no ETag for the empty blob that dropped the blocks", key);
			rc = -EIO;
			goto out;
		}
		snprintf(cond, sizeof(cond), "If-Match: %s", etag);
		hdrs[1] = cond;
		http_resp_free(&resp);
		resp = (struct http_resp)HTTP_RESP_INIT;
		az_req_init(az, &req, "DELETE", url, hdrs);
		rc = http_do(az->http, &req, &resp);
		if (!rc && resp.status / 100 != 2 && resp.status != 404 && resp.status != 412)
			rc = az_fail("delete the empty blob", key, &resp);
		goto out;
	}
	if (resp.status != 200) {
		rc = az_fail("stat", key, &resp);
		goto out;
	}
	etag = http_header(&resp, "ETag");
	type = http_header(&resp, "x-ms-blob-type");
	len = http_header(&resp, "Content-Length");
	if (!etag || !len || strtoull(len, NULL, 10) != bl.committed_bytes || (type && strcmp(type, "BlockBlob"))) {
		log_warn("azure: %s is not made of blocks that can be named again: the blocks of the crashed "
			 "upload stay until its next commit or the service drops them (7 days)", key);
		rc = -EAGAIN;
		goto out;
	}
	rc = keep_props(&resp, &props, &nprops);
	if (rc)
		goto out;
	snprintf(cond, sizeof(cond), "If-Match: %s", etag);
	rc = commit_list(az, key, &bl, cond, props, nprops, NULL);
	if (rc == -EEXIST)
		rc = 0;   /* the blob changed meanwhile: that commit dropped our blocks */
out:
	for (size_t i = 0; i < nprops; i++)
		free(props[i]);
	free(props);
	az_blocks_free(&bl);
	http_resp_free(&resp);
	free(key);
	free(url);
	free(etag);
	free(type);
	free(len);
	return rc;
}
