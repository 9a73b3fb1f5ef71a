/* Swift chunked uploads: one segment per part under "<key>/<uid>/" in the segment container (a base
 * copied first), aborting, and the token that names them for the crash journal; committing them is
 * swift_commit.c. */
#include "backends/swift/swift_priv.h"
#include "backends/uptoken.h"
#include "common/buf.h"
#include "common/crypto.h"
#include "common/encode.h"
#include "backends/secret.h"
#include "backends/swift/swift_auth.h"
#include "common/log.h"

#include <curl/curl.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <unistd.h>

/* ---------- chunked upload ---------- */

/* "<key>/<uid>/<n, 8 digits>" below the segment container, decoded */
char *sw_seg_name(const struct upload *up, unsigned n)
{
	char *s = NULL;

	if (asprintf(&s, "%s/%s/%08u", up->key, up->uid, n) < 0)
		return NULL;
	return s;
}

static int ensure_seg_container(struct sw *sw)
{
	struct http_resp resp = HTTP_RESP_INIT;
	struct http_req req;
	char *path = NULL;
	int rc = 0;

	pthread_mutex_lock(&sw->seg_lock);
	if (sw->seg_ready)
		goto out;
	if (asprintf(&path, "/%s", sw->segc_enc) < 0) {
		path = NULL;
		rc = -ENOMEM;
		goto out;
	}
	sw_req_init(&req, "PUT", NULL);
	rc = sw_do(sw, &req, path, &resp);
	if (!rc && resp.status / 100 != 2)
		rc = sw_fail("create segment container", sw->segc, &resp);
	if (!rc && sw->slo && !sw_slo_probe(sw)) {
		log_info("swift: the store does not give an SLO's manifest back: large objects as DLO");
		sw->slo = 0;
		sw->fresh_reads = 1;
	}
	if (!rc)
		sw->seg_ready = 1;
out:
	pthread_mutex_unlock(&sw->seg_lock);
	free(path);
	http_resp_free(&resp);
	return rc;
}

int sw_upload_new(struct sw *sw, const char *key, struct upload **out)
{
	struct upload *up;
	int rc = ensure_seg_container(sw);

	*out = NULL;
	if (rc)
		return rc;
	up = calloc(1, sizeof(*up));
	if (!up)
		return -ENOMEM;
	pthread_mutex_init(&up->lock, NULL);
	up->sw = sw;
	up->dlo = !sw->slo;   /* SLO where the store gives a manifest back, else DLO */
	up->key = strdup(key);
	if (!up->key) {
		sw_upload_free(up);
		return -ENOMEM;
	}
	*out = up;
	return 0;
}

void sw_upload_free(struct upload *up)
{
	if (!up)
		return;
	json_decref(up->base_list);
	pthread_mutex_destroy(&up->lock);
	free(up->segs);
	free(up->key);
	free(up);
}

/* A DLO manifest at key: an empty object whose X-Object-Manifest names prefix ("container/prefix",
 * decoded): every object under it, in name order, is the content. sha_hdr (or NULL) is set on it. */
int sw_put_dlo(struct sw *sw, const char *key, const char *prefix, const char *sha_hdr)
{
	char *path = sw_obj_path(sw->cont_enc, key, NULL), *menc = enc_uri(prefix, 1), *mh = NULL;
	int rc = -ENOMEM;

	if (path && menc && asprintf(&mh, "X-Object-Manifest: %s", menc) >= 0) {
		const char *cond = sw_create_only(sw, key);
		const char *hdrs[] = { mh, "Content-Type: application/octet-stream", sha_hdr ? sha_hdr : cond,
				       sha_hdr ? cond : NULL, NULL };

		rc = sw_put_path(sw, path, key, hdrs, -1, 0, 0, NULL, 0);
		free(mh);
	}
	free(path);
	free(menc);
	return rc;
}

/* Copy the segments of a DLO base (prefix: "container/prefix") to "<key>/<uid>/00000000.<i>": they
 * sort before segment 1, in their order. A copy of the DLO itself would do on Swift, which copies
 * the joined bytes, but Ceph RGW copies the manifest object alone (an empty object, or a DLO again). */
static int copy_dlo_base(struct upload *up, const char *prefix)
{
	struct sw *sw = up->sw;
	struct sw_strv names = { 0 };
	const char *slash = strchr(prefix, '/');
	char *cont = slash ? strndup(prefix, (size_t)(slash - prefix)) : NULL;
	int rc = cont ? 0 : -EIO;

	if (!rc)
		rc = sw_list_names(sw, cont, slash + 1, &names);
	for (size_t i = 0; i < names.n && !rc; i++) {
		char *name = NULL, *path = NULL, *src = enc_uri(names.v[i], 1), *ch = NULL;

		if (!src || asprintf(&name, "%s/%s/00000000.%08zu", up->key, up->uid, i) < 0 ||
		    !(path = sw_obj_path(sw->segc_enc, name, NULL)) || asprintf(&ch, "X-Copy-From: %s", src) < 0) {
			ch = NULL;
			rc = -ENOMEM;
		} else {
			const char *hdrs[] = { ch, NULL };
			struct http_resp resp = HTTP_RESP_INIT;
			struct http_req req;

			sw_req_init(&req, "PUT", hdrs);
			rc = sw_do(sw, &req, path, &resp);
			if (!rc && resp.status / 100 != 2)
				rc = sw_fail("copy segment", names.v[i], &resp);
			http_resp_free(&resp);
		}
		free(name);
		free(path);
		free(src);
		free(ch);
	}
	if (!rc)
		up->base_nsegs = names.n;
	sw_strv_free(&names);
	free(cont);
	return rc;
}

int sw_upload_begin(struct backend *b, const char *key, uint64_t base, struct upload **out)
{
	struct sw *sw = b->priv;
	struct upload *up;
	unsigned char rnd[8];
	struct sw_objkind k = { 0 };
	int rc;

	*out = NULL;
	rc = sw_upload_new(sw, key, &up);
	if (rc)
		return rc;
	up->base = base;
	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd)) {
		rc = -EIO;
		goto err;
	}
	/* time first: a listing of the segment area shows the upload sets in the order they began */
	snprintf(up->uid, sizeof(up->uid), "%08llx", (unsigned long long)time(NULL));
	enc_hex(rnd, sizeof(rnd) / 2, up->uid + 8);
	if (base) {
		rc = sw_head(sw, key, &k);
		if (rc)
			goto err;
		if (!k.exists || k.size != base) {
			log_warn("swift: append to %s: the object is %s, expected %llu bytes", key,
				 k.exists ? "a different size" : "gone", (unsigned long long)base);
			rc = k.exists ? -ESTALE : -ENOENT;
			goto err;
		}
		if (k.slo && !k.disowned && !up->dlo) {
			/* its segments are listed first in the new manifest: no bytes move */
			rc = sw_slo_manifest(sw, key, &up->base_list);
		} else if (k.dlo && k.dlo_manifest && up->dlo) {
			rc = copy_dlo_base(up, k.dlo_manifest);
		} else {
			/* a plain object (or a DLO, or one whose segments another copy owns): its bytes
			 * become segment 0, copied inside the cluster */
			char *seg = sw_seg_name(up, 0), *dest = NULL;

			if (!seg || asprintf(&dest, "%s/%s", sw->segc, seg) < 0) {
				dest = NULL;
				rc = -ENOMEM;
			} else {
				rc = sw_copy_obj(sw, key, dest, 0, 1, NULL, up->base_etag, sizeof(up->base_etag));
			}
			free(seg);
			free(dest);
			if (!rc)
				up->base_copied = 1;
		}
		if (rc)
			goto err;
	}
	sw_objkind_free(&k);
	log_debug("swift: upload %s of %s begins (base %llu)", up->uid, key, (unsigned long long)base);
	*out = up;
	return 0;
err:
	sw_objkind_free(&k);
	sw_upload_free(up);
	return rc;
}

int sw_upload_part(struct upload *up, const struct part *p)
{
	static const char *const hdrs[] = { "Content-Type: application/octet-stream", NULL };
	struct sw *sw = up->sw;
	char *seg = sw_seg_name(up, p->n), *path = NULL, etag[40] = "";
	int rc = -ENOMEM;

	if (!p->n)
		return -EINVAL;
	if (!seg || !(path = sw_obj_path(sw->segc_enc, seg, NULL)))
		goto out;
	rc = sw_put_path(sw, path, seg, hdrs, p->fd, p->fd_off, p->len, etag, sizeof(etag));
	if (rc)
		goto out;
	pthread_mutex_lock(&up->lock);
	if (p->n >= up->cap) {
		unsigned cap = up->cap ? up->cap : 64;
		struct seg *s;

		while (cap <= p->n)
			cap *= 2;
		s = realloc(up->segs, cap * sizeof(*s));
		if (!s) {
			rc = -ENOMEM;
		} else {
			memset(s + up->cap, 0, (cap - up->cap) * sizeof(*s));
			up->segs = s;
			up->cap = cap;
		}
	}
	if (!rc) {
		up->segs[p->n].size = p->len;
		up->segs[p->n].done = 1;
		snprintf(up->segs[p->n].etag, sizeof(up->segs[p->n].etag), "%s", etag);
	}
	pthread_mutex_unlock(&up->lock);
out:
	free(seg);
	free(path);
	return rc;
}

/* Delete every segment this upload made (segment 0 too), found by listing so that a part whose
 * reply was lost goes as well. */
int sw_drop_upload_segments(struct upload *up)
{
	struct sw *sw = up->sw;
	struct sw_strv names = { 0 };
	char *prefix = NULL;
	int rc;

	if (asprintf(&prefix, "%s/%s/", up->key, up->uid) < 0)
		return -ENOMEM;
	rc = sw_list_names(sw, sw->segc, prefix, &names);
	if (!rc)
		rc = sw_delete_paths(sw, names.v, names.n);
	if (rc)
		log_warn("swift: upload %s of %s: %zu segments could not be deleted: %s", up->uid, up->key,
			 names.n, strerror(-rc));
	sw_strv_free(&names);
	free(prefix);
	return rc;
}

void sw_upload_abort(struct upload *up)
{
	if (!up)
		return;
	sw_drop_upload_segments(up);
	sw_upload_free(up);
}

/* For the crash journal: the upload's uid names its segments, "<key>/<uid>/..." in the segment
 * container. */
char *sw_upload_token(struct upload *up)
{
	/* an append listing the base's SLO entries first names how many: a kept commit finished later
	 * must find exactly those in the manifest it extends */
	return uptoken_make(up->uid, json_array_size(up->base_list));
}

int sw_upload_release(struct upload *up)
{
	log_info("swift: upload %s of %s kept: its segments stay for `snapctl retry`", up->uid, up->key);
	sw_upload_free(up);
	return 0;
}

/* After a crash: delete the upload's segments, unless the object's manifest lists them (the commit
 * landed and only the journal record outlived it). */
int sw_upload_forget(struct backend *b, const char *key, const char *token)
{
	struct sw *sw = b->priv;
	struct sw_strv owned = { 0 }, names = { 0 };
	struct sw_objkind k = { 0 };
	char *prefix = NULL, *mine = NULL, uid[17];
	size_t n_base;
	int rc;

	rc = uptoken_parse(token, SW_MAX_BASE_ENTRIES, uid, &n_base);
	if (rc)
		return rc;
	if (asprintf(&prefix, "%s/%s/", key, uid) < 0 || asprintf(&mine, "%s/%s", sw->segc, prefix) < 0) {
		rc = -ENOMEM;
		goto out;
	}
	rc = sw_head(sw, key, &k);
	if (!rc)
		rc = sw_owned_segments(sw, key, &k, &owned);
	if (rc)
		goto out;
	for (size_t i = 0; i < owned.n; i++) {
		if (!strncmp(owned.v[i], mine, strlen(mine))) {
			log_info("swift: %s was committed before the crash: its segments stay", key);
			rc = -ENOENT;
			goto out;
		}
	}
	rc = sw_list_names(sw, sw->segc, prefix, &names);
	if (!rc)
		rc = names.n ? sw_delete_paths(sw, names.v, names.n) : -ENOENT;
out:
	sw_objkind_free(&k);
	sw_strv_free(&owned);
	sw_strv_free(&names);
	free(prefix);
	free(mine);
	return rc;
}
