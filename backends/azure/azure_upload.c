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
	struct az_blocks bl;
	int rc = az_get_blocks(up->az, up->key, NULL, &bl);

	if (rc)
		return rc;
	up->if_match = bl.etag;
	up->old_ids = bl.committed;
	up->n_old = bl.ncommitted;
	bl.etag = NULL;
	bl.committed = NULL;
	bl.ncommitted = 0;
	rc = bl.odd_ids || !up->n_old || bl.committed_bytes != base;
	if (up->n_old && bl.committed_bytes != base)
		log_warn("azure: %s: committed blocks hold %llu bytes, expected %llu: re-sending the base",
			 up->key, (unsigned long long)bl.committed_bytes, (unsigned long long)base);
	az_blocks_free(&bl);
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

/* The new blocks of a commit, base copies then parts, as ids in one allocation (free *ids). */
static int new_ids(const struct upload *up, unsigned nparts, char ***ids)
{
	size_t n = up->n_copied + nparts;
	char **v = malloc(n * (sizeof(char *) + AZ_ID_LEN + 1) + 1);
	char *room;
	int rc = 0;

	if (!v)
		return -ENOMEM;
	room = (char *)(v + n);
	for (size_t i = 0; i < n && !rc; i++) {
		v[i] = room + i * (AZ_ID_LEN + 1);
		rc = i < up->n_copied ? block_id(up, 'b', (unsigned)i + 1, v[i]) :
					block_id(up, 'p', (unsigned)(i - up->n_copied) + 1, v[i]);
	}
	if (rc)
		free(v);
	else
		*ids = v;
	return rc;
}

/* Is the blob's committed block list exactly the one this commit sent? Our ids carry the upload's random
 * tag, so only our own Put Block List can have made it. 1 yes, 0 no, -errno when it cannot be told. */
static int commit_landed(struct upload *up, char *const *ids, size_t nids)
{
	struct az_blocks bl;
	int rc = az_get_blocks(up->az, up->key, NULL, &bl);

	if (rc)
		return rc == -ENOENT ? 0 : rc;
	rc = bl.ncommitted == up->n_old + nids;
	for (size_t i = 0; i < bl.ncommitted && rc == 1; i++)
		rc = !strcmp(bl.committed[i], i < up->n_old ? up->old_ids[i] : ids[i - up->n_old]);
	az_blocks_free(&bl);
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
	char **ids = NULL;
	int rc;

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
	rc = new_ids(up, nparts, &ids);
	if (rc)
		goto out;
	rc = az_put_blocks(az, up->key, hdrs, up->old_ids, up->n_old, ids, up->n_copied + nparts, &resp);
	if (!rc && resp.status != 201) {
		char *code = az_err_code(&resp);
		int again = resp.status == 412 || resp.status == 409 ||
			    (resp.status == 400 && code && !strcmp(code, "InvalidBlockList"));

		free(code);
		rc = az_fail("put block list of", up->key, &resp);
		/* the same refusals meet the retry of a commit that landed but lost its reply: the blob
		 * then changed (412 on an append's If-Match) and our blocks are no longer uncommitted
		 * (InvalidBlockList). Only the committed list itself tells the two apart. */
		if (again && commit_landed(up, ids, up->n_copied + nparts) == 1) {
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
	free(ids);
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

int az_upload_release(struct upload *up)
{
	log_info("azure: upload %s kept uncommitted (tag %s)", up->key, up->tag);
	upload_free(up);
	return 0;
}
