/* Block blob uploads: one Put Block per part (any order, several at once), Put Block List at commit;
 * an append names the base blob's committed blocks first, so the old bytes are kept without a copy. */
#include "azure_priv.h"
#include "buf.h"
#include "crypto.h"
#include "xml.h"
#include "../fs/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

/* base64 id of block n of kind 'p' (a part) or 'b' (a copy of the base object) */
static int block_id(const struct upload *up, char kind, unsigned n, char out[AZ_ID_LEN + 1])
{
	char raw[AZ_ID_RAW + 1], *b64;

	if (n > 99999)
		return -EFBIG;
	snprintf(raw, sizeof(raw), "snapfs-%s-%c%05u", up->tag, kind, n);
	b64 = base64_encode(raw, AZ_ID_RAW);
	if (!b64)
		return -ENOMEM;
	memcpy(out, b64, AZ_ID_LEN + 1);
	free(b64);
	return 0;
}

/* Put Block from a file range or from memory. */
static int put_block(struct upload *up, const char *id, int fd, off_t fd_off, const void *mem, uint64_t len)
{
	struct az *az = up->az;
	const char *hdrs[] = { AZ_VER_HDR, NULL };
	struct http_resp resp = HTTP_RESP_INIT;
	char *eid = uri_encode(id, 0), *url = NULL, *q = NULL;
	int rc = -ENOMEM;

	if (!eid || asprintf(&q, "comp=block&blockid=%s", eid) < 0 || !(url = az_blob_url(az, up->key, q)))
		goto out;
	rc = az_put_body(az, url, hdrs, fd, fd_off, mem, len, &resp);
	if (!rc && resp.status != 201)
		rc = az_fail("put block of", up->key, &resp);
out:
	free(eid);
	free(q);
	free(url);
	http_resp_free(&resp);
	return rc;
}

static void upload_free(struct upload *up)
{
	if (!up)
		return;
	for (size_t i = 0; i < up->n_old; i++)
		free(up->old_ids[i]);
	free(up->old_ids);
	free(up->key);
	free(up->url);
	free(up->if_match);
	free(up);
}

/* The committed blocks of the base object, if they are ours to name (same id length) and add up to
 * exactly base bytes. Returns 0 with up->old_ids set, 1 when the base has to be copied, or -errno. */
static int base_blocks(struct upload *up, uint64_t base)
{
	struct az *az = up->az;
	const char *hdrs[] = { AZ_VER_HDR, NULL };
	struct http_resp resp = HTTP_RESP_INIT;
	struct http_req req;
	char *url = az_blob_url(az, up->key, "comp=blocklist&blocklisttype=committed");
	xmlDocPtr doc = NULL;
	xmlNodePtr cb;
	uint64_t sum = 0;
	size_t cnt = 0;
	int rc = -ENOMEM;

	if (!url)
		goto out;
	az_req_init(az, &req, "GET", url, hdrs);
	rc = http_do(az->http, &req, &resp);
	if (rc)
		goto out;
	if (resp.status != 200) {
		rc = resp.status == 404 ? -ENOENT : az_fail("get block list of", up->key, &resp);
		goto out;
	}
	up->if_match = http_header(&resp, "ETag");
	doc = xml_parse(resp.body.data, resp.body.len);
	if (!doc || !xmlDocGetRootElement(doc) ||
	    strcmp((const char *)xmlDocGetRootElement(doc)->name, "BlockList")) {
		log_warn("azure: get block list of %s: malformed reply", up->key);
		rc = -EIO;
		goto out;
	}
	cb = xml_child(xmlDocGetRootElement(doc), "CommittedBlocks");
	for (xmlNodePtr n = xml_child(cb, "Block"); n; n = xml_next(n, "Block"))
		cnt++;
	up->old_ids = calloc(cnt ? cnt : 1, sizeof(*up->old_ids));
	if (!up->old_ids)
		goto out;
	rc = 0;
	for (xmlNodePtr n = xml_child(cb, "Block"); n; n = xml_next(n, "Block")) {
		char *id = xml_child_text(n, "Name"), *sz = xml_child_text(n, "Size");

		if (!id || !sz) {
			free(id);
			free(sz);
			rc = -EIO;
			goto out;
		}
		sum += strtoull(sz, NULL, 10);
		free(sz);
		up->old_ids[up->n_old++] = id;
		if (strlen(id) != AZ_ID_LEN)
			rc = 1;     /* another writer's ids: ours could not sit beside them */
	}
	if (!rc && (!cnt || sum != base))
		rc = 1;
	if (rc == 1 && cnt && sum != base)
		log_warn("azure: %s: committed blocks hold %llu bytes, expected %llu: re-sending the base",
			 up->key, (unsigned long long)sum, (unsigned long long)base);
out:
	xmlFreeDoc(doc);
	free(url);
	http_resp_free(&resp);
	return rc;
}

/* The base object has no blocks we can name (it was written with one Put Blob, or by another tool):
 * send its bytes again as our own blocks. Put Block From URL would copy server-side, but the emulator
 * does not implement it and a same-account source would need a SAS; the cache layer only Put-Blobs
 * files smaller than one part, so this costs at most about one part of traffic in practice. */
static int copy_base(struct upload *up, uint64_t base)
{
	struct backend fake = { NULL, up->az, NULL };
	size_t chunk = base < AZ_COPY_CHUNK ? (size_t)base : AZ_COPY_CHUNK;
	char *buf = malloc(chunk ? chunk : 1);
	uint64_t off = 0;
	int rc = 0;

	if (!buf)
		return -ENOMEM;
	for (unsigned n = 1; off < base; n++) {
		size_t want = base - off < chunk ? (size_t)(base - off) : chunk;
		ssize_t got = az_read(&fake, up->key, off, want, buf);
		char id[AZ_ID_LEN + 1];

		if (got < 0) {
			rc = (int)got;
			goto out;
		}
		if ((size_t)got != want) {
			rc = -EIO;   /* the base is shorter than the cache layer thinks */
			goto out;
		}
		rc = block_id(up, 'b', n, id);
		if (!rc)
			rc = put_block(up, id, -1, 0, buf, want);
		if (rc)
			goto out;
		off += want;
		up->n_copied = n;
	}
out:
	free(buf);
	return rc;
}

int az_upload_begin(struct backend *b, const char *rel, uint64_t base, struct upload **out)
{
	struct az *az = b->priv;
	struct upload *up = calloc(1, sizeof(*up));
	unsigned char rnd[8];
	int rc = -ENOMEM;

	*out = NULL;
	if (!up)
		return -ENOMEM;
	up->az = az;
	up->key = az_key(az, rel);
	if (!up->key || !(up->url = az_blob_url(az, up->key, NULL)))
		goto err;
	/* a fresh tag per upload: ids never collide with blocks of an earlier or concurrent upload */
	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd)) {
		rc = -EIO;
		goto err;
	}
	hex_encode(rnd, sizeof(rnd), up->tag);
	if (base) {
		rc = base_blocks(up, base);
		if (rc == 1) {
			for (size_t i = 0; i < up->n_old; i++)
				free(up->old_ids[i]);
			up->n_old = 0;
			rc = copy_base(up, base);
		}
		if (rc)
			goto err;
	}
	log_debug("azure: upload %s begins (tag %s, %zu base blocks kept, %u copied)", up->key, up->tag,
		  up->n_old, up->n_copied);
	*out = up;
	return 0;
err:
	upload_free(up);
	return rc;
}

int az_upload_part(struct upload *up, const struct part *p)
{
	char id[AZ_ID_LEN + 1];
	int rc = block_id(up, 'p', p->n, id);

	if (rc)
		return rc;
	return put_block(up, id, p->fd, p->fd_off, NULL, p->len);
}

/* Is the blob's committed block list exactly the one this commit sent? Our ids carry the upload's random
 * tag, so only our own Put Block List can have made it. 1 yes, 0 no, -errno when it cannot be told. */
static int commit_landed(struct upload *up, unsigned nparts)
{
	const char *hdrs[] = { AZ_VER_HDR, NULL };
	struct http_resp resp = HTTP_RESP_INIT;
	struct http_req req;
	char *url = az_blob_url(up->az, up->key, "comp=blocklist&blocklisttype=committed");
	size_t i = 0, want = up->n_old + up->n_copied + nparts;
	xmlDocPtr doc = NULL;
	int rc = -ENOMEM;

	if (!url)
		goto out;
	az_req_init(up->az, &req, "GET", url, hdrs);
	rc = http_do(up->az->http, &req, &resp);
	if (rc)
		goto out;
	if (resp.status != 200) {
		rc = resp.status == 404 ? 0 : -EIO;
		goto out;
	}
	doc = xml_parse(resp.body.data, resp.body.len);
	if (!doc || !xmlDocGetRootElement(doc)) {
		rc = -EIO;
		goto out;
	}
	rc = 1;
	for (xmlNodePtr n = xml_child(xml_child(xmlDocGetRootElement(doc), "CommittedBlocks"), "Block");
	     n && rc == 1; n = xml_next(n, "Block"), i++) {
		char *name = xml_child_text(n, "Name"), id[AZ_ID_LEN + 1];

		if (i >= want)
			rc = 0;
		else if (i < up->n_old)
			rc = name && !strcmp(name, up->old_ids[i]);
		else if (block_id(up, i < up->n_old + up->n_copied ? 'b' : 'p',
				  (unsigned)(i < up->n_old + up->n_copied ? i - up->n_old + 1 :
					     i - up->n_old - up->n_copied + 1), id))
			rc = -ENOMEM;
		else
			rc = name && !strcmp(name, id);
		free(name);
	}
	if (rc == 1 && i != want)
		rc = 0;
out:
	xmlFreeDoc(doc);
	free(url);
	http_resp_free(&resp);
	return rc;
}

int az_upload_commit(struct upload *up, unsigned nparts, const char *sha256)
{
	struct az *az = up->az;
	char im[128] = "", meta[128];
	const char *hdrs[] = { AZ_VER_HDR, "Content-Type: application/xml",
			       "x-ms-blob-content-type: application/octet-stream", NULL, NULL, NULL, NULL };
	int h = 3;
	struct http_resp resp = HTTP_RESP_INIT;
	struct http_req req;
	struct buf body = BUF_INIT;
	char *url = az_blob_url(az, up->key, "comp=blocklist"), id[AZ_ID_LEN + 1];
	int rc = -ENOMEM;

	if (up->if_match) {
		snprintf(im, sizeof(im), "If-Match: %s", up->if_match);
		hdrs[h++] = im;
	}
	/* Put Block List sets the blob's metadata afresh: an append (no digest) drops a stale one */
	if (sha256) {
		snprintf(meta, sizeof(meta), AZ_META_SHA256 ": %s", sha256);
		hdrs[h++] = meta;
	}
	if (az_create_only(az, up->key))
		hdrs[h++] = "If-None-Match: *";
	if (!url)
		goto out;
	rc = buf_adds(&body, "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>");
	for (size_t i = 0; i < up->n_old && !rc; i++)
		rc = buf_addf(&body, "<Committed>%s</Committed>", up->old_ids[i]);
	for (unsigned n = 1; n <= up->n_copied && !rc; n++) {
		rc = block_id(up, 'b', n, id);
		if (!rc)
			rc = buf_addf(&body, "<Uncommitted>%s</Uncommitted>", id);
	}
	for (unsigned n = 1; n <= nparts && !rc; n++) {
		rc = block_id(up, 'p', n, id);
		if (!rc)
			rc = buf_addf(&body, "<Uncommitted>%s</Uncommitted>", id);
	}
	if (!rc)
		rc = buf_adds(&body, "</BlockList>");
	if (rc)
		goto out;
	az_req_init(az, &req, "PUT", url, hdrs);
	req.body = body.data;
	req.body_len = body.len;
	rc = http_do(az->http, &req, &resp);
	if (!rc && resp.status != 201) {
		char *code = az_err_code(&resp);
		int again = resp.status == 412 || resp.status == 409 ||
			    (resp.status == 400 && code && !strcmp(code, "InvalidBlockList"));

		free(code);
		rc = az_fail("put block list of", up->key, &resp);
		/* the same refusals meet the retry of a commit that landed but lost its reply: the blob
		 * then changed (412 on an append's If-Match) and our blocks are no longer uncommitted
		 * (InvalidBlockList). Only the committed list itself tells the two apart. */
		if (again && commit_landed(up, nparts) == 1) {
			log_info("azure: %s was committed by an attempt whose reply was lost", up->key);
			rc = 0;
		} else if (az_create_only(az, up->key) && (resp.status == 412 || resp.status == 409)) {
			rc = -EEXIST;   /* write-once: another writer made it first */
		} else if (resp.status == 412) {
			rc = -EIO;   /* the base object changed under us: never graft onto a newer blob */
		}
	}
	if (!rc)
		log_debug("azure: committed %s: %zu + %u + %u blocks", up->key, up->n_old, up->n_copied,
			  nparts);
out:
	buf_free(&body);
	free(url);
	http_resp_free(&resp);
	upload_free(up);
	return rc;
}

/* Uncommitted blocks cannot be deleted one by one; they are invisible, dropped by the next commit of that
 * blob name, and garbage-collected by the service (a week on Azure). Nothing is committed here, so no
 * blob appears. When no committed blob has this name (HEAD says 404), the blocks are also dropped now:
 * Delete Blob on a name that has only uncommitted blocks removes them (what azcopy does after a failed
 * transfer). A committed blob of that name (an append's base, or the old version of an overwrite) is
 * never deleted: its stray blocks go with its next commit. The window between the HEAD and the DELETE
 * is the only race, and it needs another writer committing the same name in those milliseconds. */
void az_upload_abort(struct upload *up)
{
	struct az *az;
	const char *hdrs[] = { AZ_VER_HDR, NULL };
	struct http_resp resp = HTTP_RESP_INIT;
	struct http_req req;

	if (!up)
		return;
	az = up->az;
	log_debug("azure: upload %s aborted (tag %s)", up->key, up->tag);
	if (up->n_old || up->if_match)
		goto out;       /* an append: the base blob exists */
	az_req_init(az, &req, "HEAD", up->url, hdrs);
	if (http_do(az->http, &req, &resp) || resp.status != 404)
		goto out;
	http_resp_free(&resp);
	resp = (struct http_resp)HTTP_RESP_INIT;
	az_req_init(az, &req, "DELETE", up->url, hdrs);
	if (!http_do(az->http, &req, &resp) && resp.status / 100 != 2 && resp.status != 404)
		log_debug("azure: dropping the blocks of %s: HTTP %ld", up->key, resp.status);
out:
	http_resp_free(&resp);
	upload_free(up);
}
