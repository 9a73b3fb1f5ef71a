/* GCS chunked uploads: a resumable session fed part by part in order (only the last part unaligned,
 * its short end kept in memory for the final request), committed with the session's CRC32C; an append
 * writes a temporary and composes it after the base generation. The crash journal's token is the
 * session URI (and an append's temporary), which is enough to cancel it after a crash. */
#include "backends/gcs/gcs_priv.h"
#include "backends/gcs/crc32c.h"
#include "common/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

int gcs_upload_begin(struct backend *b, const char *key, uint64_t base, struct upload **out)
{
	struct gcs *g = b->priv;
	struct upload *up = gcs_upload_new(g, key, base);
	int rc = -ENOMEM;

	*out = NULL;
	if (!up)
		return -ENOMEM;
	if (base) {
		struct obj_info oi;
		uint64_t rnd = 0;

		rc = gcs_get_meta(g, key, &oi, up->base_gen, &up->base_crc);
		if (rc)
			goto err;
		if (oi.size != base) {
			log_error("gcs: append to %s: it has %llu bytes, not %llu", key,
				  GCS_ULL(oi.size), GCS_ULL(base));
			rc = -ESTALE;
			goto err;
		}
		if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
			rnd = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)up;
		if (asprintf(&up->target, "%sappend-%016llx", g->tmp_prefix, GCS_ULL(rnd)) < 0) {
			up->target = NULL;
			rc = -ENOMEM;
			goto err;
		}
	} else if (!(up->target = strdup(key))) {
		rc = -ENOMEM;
		goto err;
	}
	/* the SHA-256 is not known yet: it is patched on after the final request */
	rc = gcs_session_open(up, NULL);
	if (rc)
		goto err;
	*out = up;
	return 0;
err:
	gcs_upload_free(up);
	return rc;
}

static int upload_part_locked(struct upload *up, const struct part *p)
{
	uint64_t at = p->obj_off - up->base, aligned = p->len / GCS_ALIGN * GCS_ALIGN;
	struct gcs_span s = { p->fd, p->fd_off, NULL, at, aligned };
	uint32_t crc = up->crc;
	int rc;

	/* sessions take bytes in order; only the last part may be unaligned */
	if (p->obj_off < up->base || at != up->sent || up->tail_len) {
		log_error("gcs: upload %s: part %u at %llu out of order (the session has %llu bytes%s)",
			  up->key, p->n, GCS_ULL(p->obj_off), GCS_ULL(up->sent),
			  up->tail_len ? " and an unaligned part" : "");
		return -EINVAL;
	}
	/* the CRC32C of the whole session grows part by part, in order, from the bytes in the spool;
	 * the final request carries it */
	rc = crc32c_fd(&crc, p->fd, p->fd_off, p->len);
	if (rc) {
		log_error("gcs: upload %s: reading part %u from the cache: %s", up->key, p->n, strerror(-rc));
		return rc;
	}
	if (aligned) {
		rc = gcs_span_send(up, &s, 0);
		if (rc)
			return rc == -EBADMSG ? -EIO : rc;
	}
	if (p->len > aligned) {
		size_t n = (size_t)(p->len - aligned);
		ssize_t got;

		/* the spool range is released when we return: keep the short end in memory */
		up->tail = malloc(n);
		if (!up->tail)
			return -ENOMEM;
		got = pread(p->fd, up->tail, n, p->fd_off + (off_t)aligned);
		if (got != (ssize_t)n) {
			free(up->tail);
			up->tail = NULL;
			return got < 0 ? -errno : -EIO;
		}
		up->tail_len = n;
	}
	up->crc = crc;
	return 0;
}

int gcs_upload_part(struct upload *up, const struct part *p)
{
	int rc;

	pthread_mutex_lock(&up->lock);
	rc = upload_part_locked(up, p);
	pthread_mutex_unlock(&up->lock);
	return rc;
}

/* A compose refused with 412 may be the retry of one that was carried out and lost its reply (the base
 * generation is gone then). The object is ours if it holds exactly the base and the temporary: their
 * size and the CRC32C GCS computes for a composite, which only those bytes give. */
static int composed_before(struct upload *up)
{
	struct obj_info oi;
	uint32_t crc = 0;
	char gen[32];

	if (gcs_get_meta(up->g, up->key, &oi, gen, &crc))
		return 0;
	return oi.size == up->base + up->sent && crc == crc32c_combine(up->base_crc, up->crc, up->sent);
}

/* key = base object (the generation seen at begin) + the temporary; then drop the temporary. */
static int compose_append(struct upload *up, const char *sha256)
{
	struct gcs *g = up->g;
	struct http_resp resp = HTTP_RESP_INIT;
	char *url = NULL, sfx[64];
	json_t *j;
	struct obj_info oi;
	int rc;

	snprintf(sfx, sizeof(sfx), "/compose?ifGenerationMatch=%s", up->base_gen);
	/* the destination's metadata is what this request gives: an old SHA-256 is not carried over */
	j = json_pack("{s:[{s:s, s:{s:s}}, {s:s}], s:{s:s}}", "sourceObjects", "name", up->key,
		      "objectPreconditions", "ifGenerationMatch", up->base_gen, "name", up->target,
		      "destination", "contentType", "application/octet-stream");
	if (gcs_add_sha(json_object_get(j, "destination"), sha256)) {
		json_decref(j);
		j = NULL;
	}
	url = gcs_obj_url(g, up->key, sfx);
	rc = gcs_send_json(g, "POST", url, NULL, j, &resp);
	if (rc)
		goto out;
	if (resp.status != 200) {
		rc = gcs_fail("compose", up->key, &resp);
		if (resp.status == 412 && composed_before(up)) {
			log_info("gcs: %s was composed by an attempt whose reply was lost", up->key);
			rc = 0;
		}
		goto out;
	}
	j = gcs_reply_json(&resp);
	if (!j || gcs_obj_from_json(j, &oi) || oi.size != up->base + up->sent) {
		log_error("gcs: compose %s: the reply is not the %llu-byte object expected", up->key,
			  GCS_ULL(up->base + up->sent));
		rc = -EIO;
	}
	json_decref(j);
out:
	if (gcs_remove_one(g, up->target))
		log_warn("gcs: could not remove the temporary %s", up->target);
	http_resp_free(&resp);
	free(url);
	return rc;
}

int gcs_upload_commit(struct upload *up, unsigned nparts, const char *sha256)
{
	struct gcs_span s = { -1, 0, up->tail, up->sent, up->tail_len };
	int rc;

	(void)nparts;
	if (up->base && !up->sent && !up->tail_len) {
		/* nothing new after the base: the object is already what it should be */
		gcs_session_cancel(up);
		gcs_upload_free(up);
		return 0;
	}
	rc = gcs_session_finalize(up, &s);
	if (!rc && up->base)
		rc = compose_append(up, sha256);
	else if (!rc && sha256)
		gcs_patch_sha(up->g, up->key, up->gen, up->metagen, sha256);
	gcs_upload_free(up);
	return rc == -EBADMSG ? -EIO : rc;
}

void gcs_upload_abort(struct upload *up)
{
	if (!up)
		return;
	gcs_session_cancel(up);
	gcs_upload_free(up);
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

/* For the crash journal: the session URI, and for an append the temporary it writes ("URI TEMP"). */
char *gcs_upload_token(struct upload *up)
{
	char *t = NULL;

	if (up->base && asprintf(&t, "%s %s", up->session, up->target) < 0)
		return NULL;
	return up->base ? t : strdup(up->session);
}

/* After a crash: cancel the session (DELETE on its URI) and drop an append's temporary. A session
 * that already made its object says so to a status query (200/201): then there is nothing to cancel. */
int gcs_upload_forget(struct backend *b, const char *key, const char *token)
{
	static const char *const status_hdrs[] = { "Content-Range: bytes */*", NULL };
	struct gcs *g = b->priv;
	struct http_resp resp = HTTP_RESP_INIT;
	struct http_req req;
	size_t alen = strlen(g->api);
	char *uri = strdup(token), *tmp;
	int rc = 0;

	if (!uri)
		return -ENOMEM;
	tmp = strchr(uri, ' ');
	if (tmp)
		*tmp++ = 0;
	/* a journal line is data from disk: the bearer token goes only to this store's own endpoint, and
	 * only an append temporary of ours may be deleted */
	if (strncmp(uri, g->api, alen) || uri[alen] != '/' || strpbrk(uri, "\t\r\n") ||
	    (tmp && !is_append_tmp(g, tmp))) {
		rc = -EINVAL;
		goto out;
	}
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
out:
	http_resp_free(&resp);
	free(uri);
	return rc;
}
