/* A commit that kept failing, finished later (`snapctl retry`, after a restart too) from the blob's name
 * and the upload's token alone: its blocks stay uncommitted in the blob, each id naming the upload's tag,
 * its kind (a base copy 'b' or a part 'p') and its number, so Get Block List gives back the whole list. */
#include "backends/azure/azure_priv.h"
#include "backends/uptoken.h"
#include "common/encode.h"
#include "common/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* an uncommitted block of ours, with its decoded id "snapfs-<tag>-<kind><5 digits>" */
struct kept_block {
	char *id;
	char raw[AZ_ID_RAW + 1];
};

static int by_raw(const void *a, const void *b)
{
	return strcmp(((const struct kept_block *)a)->raw, ((const struct kept_block *)b)->raw);
}

/* Our blocks in commit order (base copies, then parts, each by number), into ids; -EIO when the kinds
 * or numbers have a gap (a block the service dropped) or there is no part at all. */
static int order_blocks(const char *key, char **ours, size_t n, char **ids)
{
	struct kept_block *kb = calloc(n ? n : 1, sizeof(*kb));
	unsigned nb = 0, np = 0;
	int rc = 0;

	if (!kb)
		return -ENOMEM;
	for (size_t i = 0; i < n && !rc; i++) {
		size_t len = 0;
		unsigned char *raw = enc_b64_decode(ours[i], &len);

		if (!raw)
			rc = -ENOMEM;
		else if (len != AZ_ID_RAW)
			rc = -EIO;
		else
			memcpy(kb[i].raw, raw, AZ_ID_RAW);
		free(raw);
		kb[i].id = ours[i];
	}
	if (!rc)
		qsort(kb, n, sizeof(*kb), by_raw);
	for (size_t i = 0; i < n && !rc; i++) {
		const char *kind = kb[i].raw + AZ_ID_RAW - 6;
		unsigned num = (unsigned)strtoul(kind + 1, NULL, 10);

		if (*kind == 'b' && !np && num == nb + 1)
			nb++;
		else if (*kind == 'p' && num == np + 1)
			np++;
		else
			rc = -EIO;
		ids[i] = kb[i].id;
	}
	if (!rc && !np)
		rc = -EIO;
	if (rc == -EIO)
		log_error("azure: the kept upload of %s is not whole (%zu blocks, %u base copies, %u parts in "
			  "order): it cannot be committed", key, n, nb, np);
	free(kb);
	return rc;
}

int az_upload_finish(struct backend *b, const char *rel, const char *token)
{
	struct az *az = b->priv;
	const char *hdrs[] = { AZ_VER_HDR, "Content-Type: application/xml",
			       "x-ms-blob-content-type: application/octet-stream", NULL, NULL, NULL };
	struct http_resp resp = HTTP_RESP_INIT;
	struct az_blocks bl = { 0 };
	char *key = az_key(az, rel), tag[17], im[160], **ids = NULL;
	size_t n_old;
	int h = 3, rc;

	rc = uptoken_parse(token, AZ_MAX_BLOCKS, tag, &n_old);
	if (rc)
		goto out;
	rc = key ? az_get_blocks(az, key, tag, &bl) : -ENOMEM;
	if (!rc && !bl.nours)
		rc = -ENOENT;   /* committed, discarded, dropped by a later commit, or expired */
	if (rc)
		goto out;
	if (n_old && (bl.ncommitted != n_old || !bl.etag)) {
		log_error("azure: %s changed since its append began (%zu committed blocks, expected %zu): the "
			  "kept upload cannot be committed onto it", key, bl.ncommitted, n_old);
		rc = -ESTALE;
		goto out;
	}
	ids = calloc(bl.nours, sizeof(*ids));
	rc = ids ? order_blocks(key, bl.ours, bl.nours, ids) : -ENOMEM;
	if (rc)
		goto out;
	if (n_old) {
		snprintf(im, sizeof(im), "If-Match: %s", bl.etag);
		hdrs[h++] = im;
	}
	if (az_create_only(az, key))
		hdrs[h++] = "If-None-Match: *";
	rc = az_put_blocks(az, key, hdrs, bl.committed, n_old, ids, bl.nours, &resp);
	if (!rc && resp.status != 201) {
		rc = az_fail("put block list of", key, &resp);
		if (resp.status == 412 || resp.status == 409)
			rc = az_create_only(az, key) ? -EEXIST : -ESTALE;
	}
	if (!rc)
		log_info("azure: committed the kept upload of %s: %zu + %zu blocks", key, n_old, bl.nours);
out:
	free(ids);
	az_blocks_free(&bl);
	http_resp_free(&resp);
	free(key);
	return rc;
}
