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
	int rc, over = 0;

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
	over = resp.status == 200 || !http_retryable(resp.status);
	if (resp.status != 200) {
		rc = gcs_fail("compose", up->key, &resp);
		if (resp.status == 412 && composed_before(up)) {
			log_info("gcs: %s was composed by an attempt whose reply was lost", up->key);
			rc = 0;
		} else if (resp.status == 412) {
			rc = -ESTALE;   /* the base is another generation now: no later try can compose */
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
	/* a compose that may succeed when the commit is tried again needs its temporary */
	if (over && gcs_remove_one(g, up->target))
		log_warn("gcs: could not remove the temporary %s", up->target);
	http_resp_free(&resp);
	free(url);
	return rc;
}

/* The session's final request. After a commit that failed, the resume step comes first: the session
 * tells what it kept (308 and its Range) or that it made the object already (a lost reply), and only
 * the rest is sent. */
static int finish_session(struct upload *up)
{
	struct gcs_span s = { -1, 0, up->tail, up->total - up->tail_len, up->tail_len };
	int rc;

	if (up->tries++) {
		rc = gcs_session_query(up, up->total, 1);
		if (rc == 1)
			return 0;
		if (rc)
			return rc;
	}
	return gcs_span_send(up, &s, 1);
}

/* A failure leaves up open (commit_again): the caller commits again, aborts or releases it, except
 * when no later try can succeed (the store refused the bytes for their checksum or made other ones,
 * the session is gone, the base changed): then nothing is left open and the answer is -ESTALE. */
int gcs_upload_commit(struct upload *up, unsigned nparts, const char *sha256)
{
	int rc = 0;

	(void)nparts;
	if (up->dead)
		return -ESTALE;
	if (up->base && !up->sent && !up->tail_len && !up->total) {
		/* nothing new after the base: the object is already what it should be */
		gcs_session_cancel(up);
		gcs_upload_free(up);
		return 0;
	}
	if (!up->total)
		up->total = up->sent + up->tail_len;
	if (sha256)
		snprintf(up->sha, sizeof(up->sha), "%s", sha256);
	if (!up->made) {
		rc = finish_session(up);
		if (rc == -EBADMSG || rc == -ENOENT) {
			if (up->gen[0])
				gcs_unmake(up->g, up->target, up->gen);
			else
				gcs_session_cancel(up);
			up->dead = 1;
			return -ESTALE;
		}
		if (rc)
			return rc;
		up->made = 1;
	}
	if (up->base) {
		rc = compose_append(up, up->sha[0] ? up->sha : NULL);
		if (rc == -ESTALE)
			up->dead = 1;
		if (rc)
			return rc;
	} else if (up->sha[0]) {
		gcs_patch_sha(up->g, up->key, up->gen, up->metagen, up->sha);
	}
	gcs_upload_free(up);
	return 0;
}

/* Whatever the upload left in the store goes: the open session, or the temporary a finished
 * session of an append made. */
void gcs_upload_abort(struct upload *up)
{
	if (!up)
		return;
	if (up->made && up->base) {
		if (gcs_remove_one(up->g, up->target))
			log_warn("gcs: could not remove the temporary %s", up->target);
	} else if (!up->dead) {
		gcs_session_cancel(up);
	}
	gcs_upload_free(up);
}
