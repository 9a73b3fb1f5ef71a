/* Azure block lists: what Get Block List says of a blob (its committed blocks, and whose uncommitted
 * blocks it holds), and Put Block List, the one request that makes blocks a blob. */
#include "backends/azure/azure_priv.h"
#include "backends/xml.h"
#include "common/buf.h"
#include "common/encode.h"
#include "common/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void az_blocks_free(struct az_blocks *bl)
{
	for (size_t i = 0; i < bl->ncommitted; i++)
		free(bl->committed[i]);
	free(bl->committed);
	for (size_t i = 0; i < bl->nours; i++)
		free(bl->ours[i]);
	free(bl->ours);
	free(bl->etag);
	memset(bl, 0, sizeof(*bl));
}

static int add_id(char ***v, size_t *n, char *id)
{
	char **grown = realloc(*v, (*n + 1) * sizeof(*grown));

	if (!grown) {
		free(id);
		return -ENOMEM;
	}
	*v = grown;
	(*v)[(*n)++] = id;
	return 0;
}

/* Block ids are base64 of "snapfs-<tag>-<kind><5 digits>": the 24-byte "snapfs-<tag>-" is exactly the
 * first 32 characters of the id, so ours are told apart without decoding. */
int az_get_blocks(struct az *az, const char *key, const char *tag, struct az_blocks *bl)
{
	const char *hdrs[] = { AZ_VER_HDR, NULL };
	struct http_resp resp = HTTP_RESP_INIT;
	struct http_req req;
	char raw[32], *mine = NULL, *url;
	xmlDocPtr doc = NULL;
	xmlNodePtr root, n;
	int rc = -ENOMEM;

	memset(bl, 0, sizeof(*bl));
	url = az_blob_url(az, key, tag ? "comp=blocklist&blocklisttype=all" :
				     "comp=blocklist&blocklisttype=committed");
	if (tag) {
		snprintf(raw, sizeof(raw), "snapfs-%s-", tag);
		mine = enc_b64(raw, 24);
	}
	if (!url || (tag && !mine))
		goto out;
	az_req_init(az, &req, "GET", url, hdrs);
	rc = http_do(az->http, &req, &resp);
	if (rc)
		goto out;
	if (resp.status != 200) {
		rc = resp.status == 404 ? -ENOENT : az_fail("get block list of", key, &resp);
		goto out;
	}
	bl->etag = http_header(&resp, "ETag");
	doc = xml_parse(resp.body.data, resp.body.len);
	root = doc ? xmlDocGetRootElement(doc) : NULL;
	if (!root || strcmp((const char *)root->name, "BlockList")) {
		log_warn("azure: get block list of %s: malformed reply", key);
		rc = -EIO;
		goto out;
	}
	for (n = xml_child(xml_child(root, "CommittedBlocks"), "Block"); n; n = xml_next(n, "Block")) {
		char *id = xml_child_text(n, "Name"), *sz = xml_child_text(n, "Size");

		if (!id || !sz) {
			free(id);
			free(sz);
			rc = -EIO;
			goto out;
		}
		bl->committed_bytes += strtoull(sz, NULL, 10);
		free(sz);
		if (strlen(id) != AZ_ID_LEN)
			bl->odd_ids = 1;
		rc = add_id(&bl->committed, &bl->ncommitted, id);
		if (rc)
			goto out;
	}
	for (n = xml_child(xml_child(root, "UncommittedBlocks"), "Block"); n && tag; n = xml_next(n, "Block")) {
		char *id = xml_child_text(n, "Name");

		if (id && strlen(id) == AZ_ID_LEN && !strncmp(id, mine, 32)) {
			rc = add_id(&bl->ours, &bl->nours, id);
			if (rc)
				goto out;
		} else {
			bl->foreign++;
			free(id);
		}
	}
	rc = 0;
out:
	if (rc)
		az_blocks_free(bl);
	xmlFreeDoc(doc);
	free(mine);
	free(url);
	http_resp_free(&resp);
	return rc;
}

int az_put_blocks(struct az *az, const char *key, const char *const *hdrs, char *const *committed, size_t nc,
		  char *const *uncommitted, size_t nu, struct http_resp *resp)
{
	struct http_req req;
	struct buf body = BUF_INIT;
	char *url = az_blob_url(az, key, "comp=blocklist");
	int rc = -ENOMEM;

	if (!url)
		goto out;
	rc = buf_adds(&body, "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>");
	for (size_t i = 0; i < nc && !rc; i++)
		rc = buf_addf(&body, "<Committed>%s</Committed>", committed[i]);
	for (size_t i = 0; i < nu && !rc; i++)
		rc = buf_addf(&body, "<Uncommitted>%s</Uncommitted>", uncommitted[i]);
	if (!rc)
		rc = buf_adds(&body, "</BlockList>");
	if (rc)
		goto out;
	az_req_init(az, &req, "PUT", url, hdrs);
	req.body = body.data;
	req.body_len = body.len;
	rc = http_do(az->http, &req, resp);
out:
	buf_free(&body);
	free(url);
	return rc;
}
