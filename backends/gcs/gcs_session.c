/* GCS resumable sessions: start one, ask it what it holds (PUT with Content-Range: bytes * / *), send a
 * span of it in 256 KiB-aligned chunks resumed from what the server reports, finish it with the whole
 * session's CRC32C, cancel it. An upload (gcs_upload.c) and a big put (gcs_put.c) are sessions. */
#include "backends/gcs/gcs_priv.h"
#include "backends/gcs/crc32c.h"
#include "common/encode.h"
#include "common/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Start a session; sha256 (or NULL) becomes the object's metadata, which a session fixes here. */
int gcs_session_open(struct upload *up, const char *sha256)
{
	struct gcs *g = up->g;
	struct http_resp resp = HTTP_RESP_INIT;
	char *enc = enc_uri(up->target, 0), *url = NULL;
	json_t *j = json_pack("{s:s}", "contentType", "application/octet-stream");
	int rc;

	if (gcs_add_sha(j, sha256)) {
		json_decref(j);
		j = NULL;
	}
	if (!enc || asprintf(&url, "%s/upload/storage/v1/b/%s/o?uploadType=resumable&name=%s%s", g->api,
			     g->bucket_enc, enc, up->base ? "" : gcs_create_only_q(g, up->key)) < 0)
		url = NULL;
	rc = gcs_send_json(g, "POST", url, "X-Upload-Content-Type: application/octet-stream", j, &resp);
	if (rc)
		goto out;
	if (resp.status != 200 && resp.status != 201) {
		rc = gcs_fail("start upload", up->key, &resp);
		goto out;
	}
	up->session = http_header(&resp, "Location");
	if (!up->session || (strncmp(up->session, "http://", 7) && strncmp(up->session, "https://", 8))) {
		log_error("gcs: start upload %s: no session URI in the reply", up->key);
		rc = -EIO;
	}
out:
	http_resp_free(&resp);
	free(url);
	free(enc);
	return rc;
}

/* "Range: bytes=0-N" of a 308: how much the server has (0 without the header). */
static int persisted_of(const struct http_resp *resp, uint64_t *out)
{
	char *r = http_header(resp, "Range"), *end;
	unsigned long long a, z;
	int rc = 0;

	*out = 0;
	if (!r)
		return 0;
	errno = 0;
	if (strncmp(r, "bytes=", 6) || (a = strtoull(r + 6, &end, 10), *end != '-') ||
	    (z = strtoull(end + 1, &end, 10), *end) || errno || a != 0)
		rc = -EIO;
	else
		*out = z + 1;
	free(r);
	return rc;
}

/* Checks a final reply: the object the session made has the size and CRC32C we sent. */
static int check_final(struct upload *up, const struct http_resp *resp, uint64_t total)
{
	return gcs_check_made(up->key, resp, total, up->crc, up->gen, up->metagen);
}

/* Ask the session what it has (PUT, Content-Range: bytes * / *). Sets up->sent; 1 when the upload
 * turns out to be complete already. */
int gcs_session_query(struct upload *up, uint64_t total, int final)
{
	static const char *const hdrs[] = { "Content-Range: bytes */*", NULL };
	struct http_resp resp = HTTP_RESP_INIT;
	struct http_req req;
	uint64_t have;
	int rc;

	gcs_req_init(&req, "PUT", up->session, hdrs);
	rc = gcs_do(up->g, &req, &resp);
	if (rc)
		goto out;
	if (resp.status == 308) {
		rc = persisted_of(&resp, &have);
		if (!rc)
			up->sent = have;
	} else if ((resp.status == 200 || resp.status == 201) && final) {
		rc = check_final(up, &resp, total);
		if (!rc) {
			up->sent = total;
			rc = 1;
		}
	} else {
		rc = gcs_fail("upload status", up->key, &resp);
		if (resp.status == 404 || resp.status == 410)
			rc = -ENOENT;   /* the session is gone (cancelled or expired) */
	}
out:
	http_resp_free(&resp);
	return rc;
}

/* Send a span; with final, it ends the upload at from+len bytes (len may be 0) and carries the CRC32C
 * of the whole session (X-Goog-Hash), which the server checks before it makes the object. Resumes from
 * what the server reports after a short write or a broken connection, up to conf->retries failed
 * attempts. -EBADMSG: the server refused the bytes for their checksum, or made other bytes. */
int gcs_span_send(struct upload *up, const struct gcs_span *s, int final)
{
	uint64_t end = s->from + s->len, cur;
	struct http_resp resp = HTTP_RESP_INIT;
	struct http_req req;
	char cr[96], hash[64], crcb[9];
	const char *hdrs[] = { cr, final ? hash : NULL, NULL };
	int fails = 0, rc = 0;

	crc32c_base64(up->crc, crcb);
	snprintf(hash, sizeof(hash), "X-Goog-Hash: crc32c=%s", crcb);
	for (;;) {
		cur = up->sent;
		if (cur < s->from || cur > end) {
			log_error("gcs: upload %s: the server has %llu bytes, this chunk is %llu-%llu",
				  up->key, GCS_ULL(cur), GCS_ULL(s->from), GCS_ULL(end));
			rc = -EIO;
			break;
		}
		if (cur == end && !final)
			break;
		if (cur == end)
			snprintf(cr, sizeof(cr), "Content-Range: bytes */%llu", GCS_ULL(end));
		else if (final)
			snprintf(cr, sizeof(cr), "Content-Range: bytes %llu-%llu/%llu", GCS_ULL(cur),
				 GCS_ULL(end) - 1, GCS_ULL(end));
		else
			snprintf(cr, sizeof(cr), "Content-Range: bytes %llu-%llu/*", GCS_ULL(cur),
				 GCS_ULL(end) - 1);
		gcs_req_init(&req, "PUT", up->session, hdrs);
		if (cur < end) {
			if (s->mem) {
				req.body = s->mem + (cur - s->from);
				req.body_len = (size_t)(end - cur);
			} else {
				req.body_fd = s->fd;
				req.body_off = s->fd_off + (off_t)(cur - s->from);
				req.body_fd_len = end - cur;
			}
		}
		/* a chunk is never simply sent again: the server may have kept part of it */
		req.no_retry = 1;
		rc = gcs_do(up->g, &req, &resp);
		if (!rc && resp.status == 308) {
			uint64_t have;

			rc = persisted_of(&resp, &have);
			if (rc)
				break;
			if (have <= cur && ++fails > up->g->retries) {
				log_error("gcs: upload %s: no progress at byte %llu", up->key, GCS_ULL(cur));
				rc = -EIO;
				break;
			}
			up->sent = have;
			if (have < end)
				log_debug("gcs: upload %s: the server kept %llu of %llu bytes; sending the "
					  "rest",
					  up->key, GCS_ULL(have - cur), GCS_ULL(end - cur));
			continue;
		}
		if (!rc && (resp.status == 200 || resp.status == 201)) {
			if (!final) {
				log_error("gcs: upload %s: the server ended the upload early", up->key);
				rc = -EIO;
				break;
			}
			rc = check_final(up, &resp, end);
			if (!rc)
				up->sent = end;
			break;
		}
		if (!rc && final && gcs_hash_refused(&resp)) {
			/* the bytes the server holds are not the ones read from the spool: a chunk was
			 * changed on the way. Earlier chunks are gone from the spool, so this is final. */
			char *m = gcs_err_msg(&resp);

			log_error("gcs: upload %s: the store refused the object for its checksum (%s): bytes "
				  "were changed on the way",
				  up->key, m ? m : "?");
			free(m);
			rc = -EBADMSG;
			break;
		}
		if (!rc && !http_retryable(resp.status)) {
			long st = resp.status;
			int sync;

			if (st == 401 || st == 403 || st == 404 || st == 410 || st == 499 ||
			    ++fails > up->g->retries) {
				rc = gcs_fail("upload chunk", up->key, &resp);
				break;
			}
			/* Out of step with the session? A request resent under us (libcurl replays a request
			 * whose reused connection died) lands after the server kept part of the first try.
			 * Resynchronise once from the server's offset; a real refusal keeps the offset. */
			sync = gcs_session_query(up, end, final);
			if (sync == 1) {
				rc = 0;
				break;
			}
			if (sync || up->sent == cur) {
				rc = sync == -EBADMSG ? sync : gcs_fail("upload chunk", up->key, &resp);
				break;
			}
			log_warn("gcs: upload %s: the session has %llu bytes, not %llu; going on from there",
				 up->key, GCS_ULL(up->sent), GCS_ULL(cur));
			rc = 0;
			continue;
		}
		/* a broken connection, a timeout or a 5xx/429: the resume step asks what arrived, then
		 * the loop goes on from there. It does not sleep here: the status query is an ordinary
		 * request, which http_do's one policy retries and paces while the server is in trouble. */
		if (++fails > up->g->retries) {
			if (!rc)
				rc = gcs_fail("upload chunk", up->key, &resp);
			break;
		}
		log_warn("gcs: upload %s: chunk at %llu interrupted (%s); asking the server what it has",
			 up->key, GCS_ULL(cur), rc ? (resp.error[0] ? resp.error : strerror(-rc)) :
			 "a retryable status");
		rc = gcs_session_query(up, end, final);
		if (rc == 1) {
			rc = 0;
			break;
		}
		if (rc)
			break;
	}
	http_resp_free(&resp);
	return rc;
}

void gcs_session_cancel(struct upload *up)
{
	struct http_resp resp = HTTP_RESP_INIT;
	struct http_req req;

	gcs_req_init(&req, "DELETE", up->session, NULL);
	/* 499 is the documented answer to a cancel; 404/410: already gone */
	if (!gcs_do(up->g, &req, &resp) && resp.status != 499 && resp.status != 404 && resp.status != 410 &&
	    resp.status / 100 != 2)
		gcs_fail("cancel upload", up->key, &resp);
	http_resp_free(&resp);
}

/* The final request: the last bytes (maybe none) and the whole session's CRC32C. On failure the
 * session is cancelled, or, when it made an object anyway that is not what was sent, that object is
 * deleted again: a failed commit leaves neither a session nor an object. */
int gcs_session_finalize(struct upload *up, const struct gcs_span *s)
{
	int rc = gcs_span_send(up, s, 1);

	if (rc && up->gen[0])
		gcs_unmake(up->g, up->target, up->gen);
	else if (rc)
		gcs_session_cancel(up);
	return rc;
}

void gcs_upload_free(struct upload *up)
{
	pthread_mutex_destroy(&up->lock);
	free(up->key);
	free(up->target);
	free(up->session);
	free(up->tail);
	free(up);
}

struct upload *gcs_upload_new(struct gcs *g, const char *key, uint64_t base)
{
	struct upload *up = calloc(1, sizeof(*up));

	if (!up)
		return NULL;
	pthread_mutex_init(&up->lock, NULL);
	up->g = g;
	up->base = base;
	up->key = strdup(key);
	if (!up->key) {
		gcs_upload_free(up);
		return NULL;
	}
	return up;
}
