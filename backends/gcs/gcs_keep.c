/* GCS uploads named outside the process: the crash journal's token (the session URI, and an append's
 * temporary), the discard after a crash, and a failed commit kept for `snapctl retry`.
 *
 * Keeping a commit: a session lives a week, but the final request must carry the object's last bytes
 * (the unaligned end of the last part, held in memory: the cache has released them), the total and
 * the CRC32C of the whole object, and an append must compose after the base generation it saw. None
 * of that is in the session or the token, so upload_release writes it to a small commit record object
 * under .snapfs/tmp/, named after the session URI; upload_finish reads it, asks the session what it
 * kept (a lost reply: it made the object already) and sends the rest, with the CRC32C GCS checks. When
 * the record cannot be written the commit cannot be kept honestly: the session is cancelled, and the
 * later retry finds the upload gone. */
#include "backends/gcs/gcs_priv.h"
#include "backends/gcs/crc32c.h"
#include "common/crypto.h"
#include "common/encode.h"
#include "common/log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REC_MAGIC "snapfs-gcs-commit 1"
#define REC_HEAD_MAX 512

/* The record of a session: "<tmp_prefix>commit-<32 hex of the SHA-256 of its URI>". */
static char *record_name(const struct gcs *g, const char *uri)
{
	unsigned char d[32];
	char hex[65], *name = NULL;

	crypto_sha256(uri, strlen(uri), d);
	enc_hex(d, 16, hex);
	if (asprintf(&name, "%scommit-%s", g->tmp_prefix, hex) < 0)
		name = NULL;
	return name;
}

/* "<tmp_prefix>append-<16 hex>", as gcs_upload_begin names it */
static int is_append_tmp(const struct gcs *g, const char *name)
{
	size_t plen = strlen(g->tmp_prefix);

	if (strncmp(name, g->tmp_prefix, plen) || strncmp(name + plen, "append-", 7))
		return 0;
	name += plen + 7;
	return strlen(name) == 16 && strspn(name, "0123456789abcdef") == 16;
}

/* A journal line is data from disk: the bearer token goes only to this store's own endpoint, and only
 * an append temporary of ours may be deleted. "URI" or "URI TEMP" into malloc'd *uri and *tmp (in
 * the same allocation; free *uri only). */
static int token_parse(const struct gcs *g, const char *token, char **uri, char **tmp)
{
	size_t alen = strlen(g->api);
	char *u = strdup(token), *t;

	*uri = *tmp = NULL;
	if (!u)
		return -ENOMEM;
	t = strchr(u, ' ');
	if (t)
		*t++ = 0;
	if (strncmp(u, g->api, alen) || u[alen] != '/' || strpbrk(u, "\t\r\n") ||
	    (t && !is_append_tmp(g, t))) {
		free(u);
		return -EINVAL;
	}
	*uri = u;
	*tmp = t;
	return 0;
}

/* For the crash journal: the session URI, and for an append the temporary it writes ("URI TEMP"). */
char *gcs_upload_token(struct upload *up)
{
	char *t = NULL;

	if (up->base && asprintf(&t, "%s %s", up->session, up->target) < 0)
		return NULL;
	return up->base ? t : strdup(up->session);
}

/* After a crash, or `snapctl discard` of a kept commit: cancel the session (DELETE on its URI), drop an
 * append's temporary and a commit record. A session that already made its object says so to a status
 * query (200/201): then there is nothing to cancel. */
int gcs_upload_forget(struct backend *b, const char *key, const char *token)
{
	static const char *const status_hdrs[] = { "Content-Range: bytes */*", NULL };
	struct gcs *g = b->priv;
	struct http_resp resp = HTTP_RESP_INIT;
	struct http_req req;
	char *uri = NULL, *tmp = NULL;
	int rc = token_parse(g, token, &uri, &tmp);

	if (rc)
		return rc;
	gcs_req_init(&req, "DELETE", uri, NULL);
	rc = gcs_do(g, &req, &resp);
	if (rc)
		goto out;
	/* 499 is the answer to a cancel; 404/410: the session was gone already */
	if (resp.status == 404 || resp.status == 410) {
		rc = -ENOENT;
	} else if (resp.status != 499 && resp.status / 100 != 2) {
		http_resp_free(&resp);
		resp = (struct http_resp)HTTP_RESP_INIT;
		gcs_req_init(&req, "PUT", uri, status_hdrs);
		rc = gcs_do(g, &req, &resp);
		if (!rc && resp.status != 200 && resp.status != 201)
			rc = gcs_fail("cancel upload", key, &resp);
		if (rc)
			goto out;
		rc = -ENOENT;   /* the session made its object before the crash */
	}
	if (tmp) {
		int trc = gcs_remove_one(g, tmp);

		if (trc)
			rc = trc;
	}
	/* and the commit record of a kept commit */
	if (rc == 0 || rc == -ENOENT) {
		char *rec = record_name(g, uri);
		int rrc = rec ? gcs_remove_one(g, rec) : -ENOMEM;

		if (rrc)
			rc = rrc;
		free(rec);
	}
out:
	http_resp_free(&resp);
	free(uri);
	return rc;
}

/* The record: one line of what the final request and the compose need, then the bytes only this
 * process had (at most one unaligned part end). */
static int record_write(struct upload *up, const char *name)
{
	struct gcs *g = up->g;
	struct http_resp resp = HTTP_RESP_INIT;
	struct http_req req;
	char hash[64], crcb[9], *enc = enc_uri(name, 0), *url = NULL;
	const char *hdrs[] = { "Content-Type: application/octet-stream", hash, NULL };
	unsigned char *body = NULL;
	int n, rc = -ENOMEM;

	body = malloc(REC_HEAD_MAX + up->tail_len);
	if (!body || !enc)
		goto out;
	n = snprintf((char *)body, REC_HEAD_MAX, "%s total=%" PRIu64 " crc=%08" PRIx32 " base=%" PRIu64
		     " base_crc=%08" PRIx32 " base_gen=%s sha=%s\n", REC_MAGIC, up->total, up->crc, up->base,
		     up->base_crc, up->base_gen[0] ? up->base_gen : "-", up->sha[0] ? up->sha : "-");
	if (n <= 0 || n >= REC_HEAD_MAX) {
		rc = -EINVAL;
		goto out;
	}
	if (up->tail_len)
		memcpy(body + n, up->tail, up->tail_len);
	crc32c_base64(crc32c_update(0, body, (size_t)n + up->tail_len), crcb);
	snprintf(hash, sizeof(hash), "X-Goog-Hash: crc32c=%s", crcb);
	if (asprintf(&url, "%s/upload/storage/v1/b/%s/o?uploadType=media&name=%s", g->api, g->bucket_enc,
		     enc) < 0) {
		url = NULL;
		goto out;
	}
	gcs_req_init(&req, "POST", url, hdrs);
	req.body = body;
	req.body_len = (size_t)n + up->tail_len;
	rc = gcs_do(g, &req, &resp);
	if (!rc && resp.status != 200 && resp.status != 201)
		rc = gcs_fail("write the commit record of", up->key, &resp);
out:
	http_resp_free(&resp);
	free(url);
	free(enc);
	free(body);
	return rc;
}

/* A commit that kept failing, kept for later: the session stays open (it lives a week) and the record
 * holds what finishing it needs. Without a record it cannot be finished honestly: it is discarded. */
int gcs_upload_release(struct upload *up)
{
	char *name;
	int rc;

	if (!up)
		return -ENOENT;
	if (up->dead) {
		gcs_upload_free(up);
		return -ENOENT;
	}
	name = record_name(up->g, up->session);
	rc = name ? record_write(up, name) : -ENOMEM;
	if (rc) {
		log_error("gcs: %s: the failed commit cannot be kept: its commit record could not be stored "
			  "(%s), and the last %zu bytes of the upload were only in this process; its session is "
			  "cancelled", up->key, strerror(-rc), up->tail_len);
		gcs_upload_abort(up);
	} else {
		log_info("gcs: %s: its session is kept open with a commit record (%zu bytes not yet sent)",
			 up->key, up->tail_len);
		gcs_upload_free(up);
	}
	free(name);
	return rc;
}

/* Parse a record read back; the tail bytes follow the line. */
static int record_parse(struct upload *up, const unsigned char *buf, size_t len)
{
	const char *nl = memchr(buf, '\n', len < REC_HEAD_MAX ? len : REC_HEAD_MAX);
	char line[REC_HEAD_MAX], bgen[32], sha[65];
	unsigned long long total, base;
	unsigned crc, bcrc;
	size_t n;

	if (!nl)
		return -EIO;
	n = (size_t)(nl - (const char *)buf);
	memcpy(line, buf, n);
	line[n] = 0;
	if (strncmp(line, REC_MAGIC " ", strlen(REC_MAGIC) + 1) ||
	    sscanf(line + strlen(REC_MAGIC), " total=%llu crc=%8x base=%llu base_crc=%8x base_gen=%31s sha=%64s",
		   &total, &crc, &base, &bcrc, bgen, sha) != 6)
		return -EIO;
	up->tail_len = len - n - 1;
	/* an append's token names its temporary; its record, the base */
	if (up->tail_len > total || up->tail_len >= GCS_ALIGN || !base != !up->base ||
	    (base && !strcmp(bgen, "-")))
		return -EIO;
	up->base = base;
	up->total = total;
	up->crc = crc;
	up->base_crc = bcrc;
	snprintf(up->base_gen, sizeof(up->base_gen), "%s", base ? bgen : "");
	snprintf(up->sha, sizeof(up->sha), "%s", strcmp(sha, "-") ? sha : "");
	up->tail = malloc(up->tail_len + 1);
	if (!up->tail)
		return -ENOMEM;
	memcpy(up->tail, nl + 1, up->tail_len);
	up->sent = total - up->tail_len;
	return 0;
}

static int record_read(struct backend *b, struct upload *up, const char *name)
{
	struct obj_info oi;
	unsigned char *buf = NULL;
	ssize_t got;
	int rc = gcs_get_meta(b->priv, name, &oi, NULL, NULL);

	if (rc)
		return rc;
	if (oi.size > REC_HEAD_MAX + GCS_ALIGN)
		return -EIO;
	buf = malloc(oi.size + 1);
	if (!buf)
		return -ENOMEM;
	got = gcs_read(b, name, 0, oi.size, buf);
	rc = got < 0 ? (int)got : (uint64_t)got != oi.size ? -EIO : record_parse(up, buf, oi.size);
	free(buf);
	return rc;
}

/* `snapctl retry`, or the next mount: the upload is rebuilt from its token and record, and committed
 * as a failed commit is tried again (the session says what it has, the rest is sent). -ENOENT: the
 * session is gone (cancelled, expired, or refused for good), nothing to finish. */
int gcs_upload_finish(struct backend *b, const char *key, const char *token)
{
	struct gcs *g = b->priv;
	struct upload *up = NULL;
	char *uri = NULL, *tmp = NULL, *rec = NULL;
	int rc = token_parse(g, token, &uri, &tmp);

	if (rc)
		return rc;
	rec = record_name(g, uri);
	up = gcs_upload_new(g, key, tmp ? 1 : 0);
	if (!rec || !up || !(up->session = strdup(uri)) || !(up->target = strdup(tmp ? tmp : key))) {
		rc = -ENOMEM;
		goto out;
	}
	rc = record_read(b, up, rec);
	if (rc == -EIO)
		log_error("gcs: %s: its commit record %s is malformed", key, rec);
	if (rc == -ENOENT) {
		log_error("gcs: %s: no commit record (%s): the failed commit was not kept", key, rec);
		gcs_session_cancel(up);
	}
	if (rc)
		goto out;
	up->tries = 1;    /* the resume step first: ask the session what it has */
	rc = gcs_upload_commit(up, 0, NULL);
	if (!rc)
		up = NULL;    /* committed and freed */
	if (rc == -ESTALE)
		rc = -ENOENT; /* nothing of it is left to commit */
	if ((!rc || rc == -ENOENT) && gcs_remove_one(g, rec))
		log_warn("gcs: could not remove the commit record %s", rec);
out:
	if (up)
		gcs_upload_free(up);
	free(rec);
	free(uri);
	return rc;
}
