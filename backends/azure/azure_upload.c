/* Block blob uploads: one Put Block per part (any order, several at once), Put Block List at commit;
 * an append names the base blob's committed blocks first, so the old bytes are kept without a copy. */
#include "backends/azure/azure_priv.h"
#include "common/buf.h"
#include "common/crypto.h"
#include "common/encode.h"
#include "backends/xml.h"
#include "common/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

/* base64 id of block n of kind 'p' (a part) or 'b' (a copy of the base object) */
static int block_id(const struct upload *up, char kind, unsigned n, char out[AZ_ID_LEN + 1])
{
	char raw[AZ_ID_RAW + 1], *b64;

	if (n > 99999)
		return -EFBIG;
	snprintf(raw, sizeof(raw), "snapfs-%s-%c%05u", up->tag, kind, n);
	b64 = enc_b64(raw, AZ_ID_RAW);
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
	char *eid = enc_uri(id, 0), *url = NULL, *q = NULL;
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
	enc_hex(rnd, sizeof(rnd), up->tag);
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
			rc = -ESTALE;   /* the base object changed under us: never graft onto a newer blob */
		}
	}
	if (!rc)
		log_debug("azure: committed %s: %zu + %u + %u blocks", up->key, up->n_old, up->n_copied,
			  nparts);
out:
	buf_free(&body);
	free(url);
	http_resp_free(&resp);
	if (!rc)
		upload_free(up);   /* commit_again: a failure leaves up open, its blocks uncommitted */
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

/* ---------- crash recovery ---------- */

/* For the crash journal: the tag names every block this upload puts. */
char *az_upload_token(struct upload *up)
{
	return strdup(up->tag);
}

/* What Get Block List says of a blob: its committed blocks, and whether uncommitted ones are ours. */
struct blocks {
	char **committed;
	size_t ncommitted;
	uint64_t committed_bytes;
	unsigned ours, foreign;   /* uncommitted blocks with / without our tag */
};

static void blocks_free(struct blocks *bl)
{
	for (size_t i = 0; i < bl->ncommitted; i++)
		free(bl->committed[i]);
	free(bl->committed);
}

/* Block ids are base64 of "snapfs-<tag>-<kind><5 digits>": the 24-byte "snapfs-<tag>-" is exactly the
 * first 32 characters of the id, so ours are told apart without decoding. */
static int get_blocks(struct az *az, const char *key, const char *tag, struct blocks *bl)
{
	const char *hdrs[] = { AZ_VER_HDR, NULL };
	struct http_resp resp = HTTP_RESP_INIT;
	struct http_req req;
	char raw[32], *mine = NULL, *url = az_blob_url(az, key, "comp=blocklist&blocklisttype=all");
	xmlDocPtr doc = NULL;
	xmlNodePtr root, n;
	int rc = -ENOMEM;

	snprintf(raw, sizeof(raw), "snapfs-%s-", tag);
	mine = enc_b64(raw, 24);
	if (!url || !mine)
		goto out;
	az_req_init(az, &req, "GET", url, hdrs);
	rc = http_do(az->http, &req, &resp);
	if (rc)
		goto out;
	if (resp.status != 200) {
		rc = resp.status == 404 ? -ENOENT : az_fail("get block list of", key, &resp);
		goto out;
	}
	doc = xml_parse(resp.body.data, resp.body.len);
	root = doc ? xmlDocGetRootElement(doc) : NULL;
	if (!root || strcmp((const char *)root->name, "BlockList")) {
		log_warn("azure: get block list of %s: malformed reply", key);
		rc = -EIO;
		goto out;
	}
	for (n = xml_child(xml_child(root, "CommittedBlocks"), "Block"); n; n = xml_next(n, "Block")) {
		char *id = xml_child_text(n, "Name"), *sz = xml_child_text(n, "Size"), **grown = NULL;

		rc = id && sz ? 0 : -EIO;
		if (!rc && !(grown = realloc(bl->committed, (bl->ncommitted + 1) * sizeof(*grown))))
			rc = -ENOMEM;
		if (rc) {
			free(id);
			free(sz);
			goto out;
		}
		bl->committed = grown;
		bl->committed[bl->ncommitted++] = id;
		bl->committed_bytes += strtoull(sz, NULL, 10);
		free(sz);
	}
	for (n = xml_child(xml_child(root, "UncommittedBlocks"), "Block"); n; n = xml_next(n, "Block")) {
		char *id = xml_child_text(n, "Name");

		if (id && strlen(id) == AZ_ID_LEN && !strncmp(id, mine, 32))
			bl->ours++;
		else
			bl->foreign++;
		free(id);
	}
	rc = 0;
out:
	xmlFreeDoc(doc);
	free(mine);
	free(url);
	http_resp_free(&resp);
	return rc;
}

/* Put Block List of exactly the committed blocks bl names (none: an empty blob), under the condition
 * cond; every uncommitted block of the blob goes. props: headers that keep the blob's properties and
 * metadata. On 201, *etag (may be NULL) gets the new ETag. */
static int commit_list(struct az *az, const char *key, const struct blocks *bl, const char *cond,
		       char *const *props, size_t nprops, char **etag)
{
	struct http_resp resp = HTTP_RESP_INIT;
	struct http_req req;
	struct buf body = BUF_INIT;
	const char **hdrs = calloc(nprops + 4, sizeof(*hdrs));
	char *url = az_blob_url(az, key, "comp=blocklist");
	size_t h = 0;
	int rc = -ENOMEM;

	if (!hdrs || !url)
		goto out;
	hdrs[h++] = AZ_VER_HDR;
	hdrs[h++] = "Content-Type: application/xml";
	hdrs[h++] = cond;
	for (size_t i = 0; i < nprops; i++)
		hdrs[h++] = props[i];
	rc = buf_adds(&body, "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>");
	for (size_t i = 0; i < bl->ncommitted && !rc; i++)
		rc = buf_addf(&body, "<Committed>%s</Committed>", bl->committed[i]);
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
	buf_free(&body);
	free(hdrs);
	free(url);
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
	struct blocks bl = { 0 };
	char *key = az_key(az, rel), *url = NULL, *etag = NULL, *type = NULL, *len = NULL, cond[160];
	char **props = NULL;
	size_t nprops = 0;
	int rc = -ENOMEM;

	/* a journal line is data from disk: it must be a tag as az_upload_begin makes them */
	if (strlen(token) != 16 || strspn(token, "0123456789abcdef") != 16) {
		rc = -EINVAL;
		goto out;
	}
	if (!key || !(url = az_blob_url(az, key, NULL)))
		goto out;
	rc = get_blocks(az, key, token, &bl);
	if (!rc && !bl.ours)
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
		blocks_free(&bl);
		bl = (struct blocks){ 0 };
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
	blocks_free(&bl);
	http_resp_free(&resp);
	free(key);
	free(url);
	free(etag);
	free(type);
	free(len);
	return rc;
}
