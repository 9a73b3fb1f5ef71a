/* Swift commits: the manifest of an upload's segments (an SLO, nested past the per-manifest cap, or a
 * DLO once its listing shows every segment), a manifest stored by an attempt whose reply was lost, and a
 * writer that lost the race for the key. */
#include "backends/swift/swift_priv.h"
#include "common/encode.h"
#include "common/log.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct seg_tally {
	size_t n, nwant;
	uint64_t bytes, want;
};

static int tally_seg(void *arg, const char *name, const struct obj_info *oi)
{
	struct seg_tally *t = arg;

	(void)name;
	t->n++;
	t->bytes += oi->size;
	return 0;
}

/* A Swift container listing may lag its objects for a moment: a listing page that does not show
 * every segment yet is asked for again, with the backoff of any retry. */
static enum http_verdict tally_judge(void *arg, const struct http_req *req, const struct http_resp *resp)
{
	struct seg_tally *t = arg;
	json_t *root;
	size_t i;
	json_t *e;

	(void)req;
	t->n = 0;
	t->bytes = 0;
	if (resp->status != 200 && resp->status != 204)
		return HTTP_POLICY;
	root = resp->status == 200 ? json_loadb(resp->body.data ? resp->body.data : "", resp->body.len, 0, NULL)
				   : json_array();
	if (!json_is_array(root)) {
		json_decref(root);
		return HTTP_FINAL;    /* malformed: the caller says so */
	}
	json_array_foreach(root, i, e) {
		t->n++;
		t->bytes += (uint64_t)json_integer_value(json_object_get(e, "bytes"));
	}
	json_decref(root);
	return t->n == t->nwant && t->bytes == t->want ? HTTP_FINAL : HTTP_RETRY;
}

/* A DLO is whatever its prefix lists when read, and no store checks it at the manifest PUT: before
 * the manifest goes in, the listing must hold every segment of this upload and its bytes, no more. */
static int check_dlo_segments(struct upload *up, unsigned nparts)
{
	struct sw *sw = up->sw;
	struct seg_tally t = { 0 };
	struct http_resp resp = HTTP_RESP_INIT;
	struct http_req req;
	char *prefix = NULL, *eprefix = NULL, *path = NULL;
	int rc = -ENOMEM;

	t.want = up->base;
	t.nwant = nparts + (up->base_copied ? 1 : up->base_nsegs);
	for (unsigned n = 1; n <= nparts; n++)
		t.want += up->segs[n].size;
	if (asprintf(&prefix, "%s/%s/", up->key, up->uid) < 0) {
		prefix = NULL;
		goto out;
	}
	if (t.nwant >= sw->listing_limit) {
		/* more than one page: counted once, page by page, without asking again */
		rc = sw_list_cont(sw, sw->segc_enc, prefix, 0, 0, 0, tally_seg, &t);
		goto check;
	}
	eprefix = enc_uri(prefix, 0);
	/* one more than expected: a listing showing a stray segment too is not this upload's */
	if (!eprefix || asprintf(&path, "/%s?format=json&prefix=%s&limit=%zu", sw->segc_enc, eprefix,
				 t.nwant + 1) < 0) {
		path = NULL;
		goto out;
	}
	sw_req_init(&req, "GET", NULL);
	req.judge = tally_judge;
	req.judge_arg = &t;
	req.tries = sw->retries + 1;
	rc = sw_do(sw, &req, path, &resp);
	if (!rc && resp.status != 200 && resp.status != 204)
		rc = sw_fail("list", prefix, &resp);
check:
	if (!rc && (t.n != t.nwant || t.bytes != t.want)) {
		log_warn("swift: commit of %s: the segment listing shows %zu segments, %llu bytes; "
			 "expected %zu, %llu", up->key, t.n, (unsigned long long)t.bytes, t.nwant,
			 (unsigned long long)t.want);
		rc = -EINVAL;   /* the listing was asked again (tally_judge): the segments are not as sent */
	}
out:
	http_resp_free(&resp);
	free(path);
	free(eprefix);
	free(prefix);
	return rc;
}

/* Is the manifest at up->key now one that lists this upload's segments? 1 yes, 0 no, -errno (or a
 * disowned manifest, renamed at once: its copy may own these) when that cannot be told. */
static int still_mine(struct upload *up, const char *mine)
{
	struct sw_objkind now;
	struct sw_strv segs = { 0 };
	int rc, used = 0;

	rc = sw_head(up->sw, up->key, &now);
	if (!rc && now.disowned)
		rc = -EBUSY;
	if (!rc && now.exists)
		rc = sw_owned_segments(up->sw, up->key, &now, &segs);
	for (size_t i = 0; !rc && i < segs.n && !used; i++)
		used = !strncmp(segs.v[i], mine, strlen(mine));
	sw_objkind_free(&now);
	sw_strv_free(&segs);
	return rc ? rc : used;
}

/* Another upload of the same key has segments in the store ("<key>/<uid>/" other than ours)? */
struct other_set {
	const char *uid;
	int found;
};

static int other_set(void *arg, const char *name, const struct obj_info *oi)
{
	struct other_set *o = arg;

	(void)oi;
	if (strncmp(name, o->uid, strlen(o->uid)))
		o->found = 1;
	return o->found;
}

static int has_other(struct upload *up, const char *prefix)
{
	struct other_set o = { up->uid, 0 };

	return sw_list_cont(up->sw, up->sw->segc_enc, prefix, 1, 0, 0, other_set, &o) == 0 && o.found;
}

#define RACE_CHECKS 4
#define RACE_WAIT_MS 500

/* Two writers racing for one key: each read what it replaces before its manifest went in, so the
 * segments of the one whose manifest was overwritten at once are nobody's. A writer whose manifest is
 * not the one there after its commit lost: its segments go. While another upload of the key has
 * segments in the store, its manifest may land just after this check: looked at again a few times. */
static void drop_if_lost(struct upload *up)
{
	struct sw *sw = up->sw;
	char *mine = NULL, *prefix = NULL;
	int rc = 1;

	if (asprintf(&mine, "%s/%s/%s/", sw->segc, up->key, up->uid) < 0)
		mine = NULL;
	if (asprintf(&prefix, "%s/", up->key) < 0)
		prefix = NULL;
	for (int i = 0; mine && prefix && i < RACE_CHECKS; i++) {
		rc = still_mine(up, mine);
		if (rc <= 0)
			break;
		/* nobody else uploading this key: nothing can replace it unseen */
		if (!has_other(up, prefix))
			break;
		usleep(RACE_WAIT_MS * 1000);
	}
	if (rc == 0) {
		log_info("swift: %s was replaced by another writer as this upload committed; its segments go",
			 up->key);
		sw_drop_upload_segments(up);
	}
	free(mine);
	free(prefix);
}

/* The SLO manifest entries: the base's (or segment 0), then the new parts. A new JSON list. */
static json_t *slo_entries(struct upload *up, unsigned nparts)
{
	json_t *list = json_array();
	char *seg = NULL, *p = NULL;
	int rc = 0;

	if (!list)
		return NULL;
	for (size_t i = 0; i < json_array_size(up->base_list) && !rc; i++) {
		json_t *e = json_deep_copy(json_array_get(up->base_list, i));

		rc = !e || json_array_append_new(list, e) ? -ENOMEM : 0;
	}
	for (unsigned n = up->base_copied ? 0 : 1; n <= nparts && !rc; n++) {
		const char *etag;
		json_t *e;

		free(seg);
		free(p);
		p = NULL;
		seg = sw_seg_name(up, n);
		if (!seg || asprintf(&p, "/%s/%s", up->sw->segc, seg) < 0) {
			p = NULL;
			rc = -ENOMEM;
			break;
		}
		etag = n ? up->segs[n].etag : up->base_etag;
		/* Swift checks every listed segment's ETag (our MD5) at the manifest PUT; null: no
		 * check, only where a base copy's reply had no ETag */
		e = json_pack("{s:s, s:o, s:I}", "path", p, "etag", *etag ? json_string(etag) : json_null(),
			      "size_bytes", (json_int_t)(n ? up->segs[n].size : up->base));
		rc = !e || json_array_append_new(list, e) ? -ENOMEM : 0;
	}
	free(seg);
	free(p);
	if (rc) {
		json_decref(list);
		return NULL;
	}
	return list;
}

/* The ETag Swift gives a manifest: the MD5 of its entries' ETags in order (hex, 33 bytes). "" when an
 * entry has none or a range (counted differently): then Swift checks the segments only. */
static void slo_etag(json_t *list, char *hex)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	size_t i;

	*hex = 0;
	if (!ctx || !EVP_DigestInit_ex(ctx, EVP_md5(), NULL))
		goto out;
	for (i = 0; i < json_array_size(list); i++) {
		json_t *e = json_array_get(list, i);
		const char *etag = json_string_value(json_object_get(e, "etag"));

		if (!etag || json_object_get(e, "range") || !EVP_DigestUpdate(ctx, etag, strlen(etag)))
			break;
	}
	if (i == json_array_size(list) && EVP_DigestFinal_ex(ctx, md, &mdlen) && mdlen == 16)
		enc_hex(md, 16, hex);
out:
	EVP_MD_CTX_free(ctx);
}

/* PUT a manifest (list) at an encoded path; meta_hdr and cond (each may be NULL) are set on it; *etag gets the manifest's
 * ETag; *status (or NULL) the last HTTP status. The manifest's ETag (the MD5 of its entries' ETags) is
 * checked in the reply, not sent as a request header: Ceph RGW compares that header with a digest of
 * its own, never equal, and refuses every such manifest with 422. Swift checks each entry's ETag and
 * size against its segment either way; RGW checks the sizes. */
static int put_manifest(struct sw *sw, const char *opath, json_t *list, const char *meta_hdr, const char *cond,
			char *etag, size_t ecap, long *status)
{
	const char *hdrs[] = { "Content-Type: application/octet-stream", NULL, NULL, NULL };
	struct http_resp resp = HTTP_RESP_INIT;
	struct http_req req;
	char *body = json_dumps(list, JSON_COMPACT), *path = NULL, *v, want[33];
	int rc = -ENOMEM;

	if (!body || asprintf(&path, "%s?multipart-manifest=put", opath) < 0) {
		path = NULL;
		goto out;
	}
	slo_etag(list, want);
	if (meta_hdr)
		hdrs[1] = meta_hdr;
	if (cond)
		hdrs[meta_hdr ? 2 : 1] = cond;
	sw_req_init(&req, "PUT", hdrs);
	req.body = body;
	req.body_len = strlen(body);
	rc = sw_put_checked(sw, &req, path, opath, *want ? want : NULL, &resp);
	if (status)
		*status = resp.status;
	if (!rc && etag) {
		v = http_header(&resp, "ETag");
		sw_set_etag(etag, ecap, v);
		free(v);
	}
out:
	free(body);
	free(path);
	http_resp_free(&resp);
	return rc;
}

/* More entries than one manifest may hold: put them in sub-manifests "<key>/<uid>/m<i>" of at most
 * max_segments each (Swift nests SLOs), and return the list of those. */
static int nest_entries(struct upload *up, json_t **list)
{
	struct sw *sw = up->sw;
	size_t n = json_array_size(*list), per = sw->max_segments;
	json_t *top = json_array();
	int rc = 0;

	if (!top)
		return -ENOMEM;
	for (size_t i = 0, k = 0; i < n && !rc; i += per, k++) {
		json_t *sub = json_array(), *e;
		char *name = NULL, *p = NULL, *opath = NULL, etag[80] = "";
		json_int_t size = 0;

		for (size_t j = i; j < n && j < i + per && sub; j++) {
			e = json_array_get(*list, j);
			size += json_integer_value(json_object_get(e, "size_bytes"));
			json_array_append(sub, e);
		}
		if (!sub || asprintf(&name, "%s/%s/m%05zu", up->key, up->uid, k) < 0 ||
		    asprintf(&p, "/%s/%s", sw->segc, name) < 0 || !(opath = sw_obj_path(sw->segc_enc, name, NULL))) {
			rc = -ENOMEM;
		} else {
			rc = put_manifest(sw, opath, sub, NULL, NULL, etag, sizeof(etag), NULL);
		}
		if (!rc) {
			e = json_pack("{s:s, s:o, s:I}", "path", p, "etag", *etag ? json_string(etag) : json_null(),
				      "size_bytes", size);
			rc = !e || json_array_append_new(top, e) ? -ENOMEM : 0;
		}
		json_decref(sub);
		free(name);
		free(p);
		free(opath);
	}
	if (rc) {
		json_decref(top);
		return rc;
	}
	json_decref(*list);
	*list = top;
	return json_array_size(top) > sw->max_segments ? -EFBIG : 0;
}

/* Delete the n sub-manifests nest_entries() made ("<key>/<uid>/m<i>"), so that the upload's prefix
 * holds its segments only. */
static int drop_sub_manifests(struct upload *up, size_t n)
{
	struct sw *sw = up->sw;
	char **paths = calloc(n ? n : 1, sizeof(*paths));
	size_t k;
	int rc = 0;

	if (!paths)
		return -ENOMEM;
	/* "container/object", decoded, as sw_delete_paths() takes them */
	for (k = 0; k < n && !rc; k++)
		if (asprintf(&paths[k], "%s/%s/%s/m%05zu", sw->segc, up->key, up->uid, k) < 0) {
			paths[k] = NULL;
			rc = -ENOMEM;
		}
	if (!rc)
		rc = sw_delete_paths(sw, paths, n);
	for (k = 0; k < n; k++)
		free(paths[k]);
	free(paths);
	return rc;
}

/* A manifest PUT that failed may still have been stored (its reply lost, then the retries refused):
 * deleting the segments would leave a broken object in place of the old one. It is ours when it names
 * segments of this upload ("<segc>/<key>/<uid>/..."), which no other manifest does. */
static int manifest_is_ours(struct upload *up)
{
	struct sw_objkind now = { 0 };
	struct sw_strv segs = { 0 };
	char *mine = NULL;
	int yes = 0;

	if (asprintf(&mine, "%s/%s/%s/", up->sw->segc, up->key, up->uid) < 0)
		return 0;
	if (!sw_head(up->sw, up->key, &now) && !sw_owned_segments(up->sw, up->key, &now, &segs))
		for (size_t i = 0; i < segs.n && !yes; i++)
			yes = !strncmp(segs.v[i], mine, strlen(mine));
	if (yes)
		log_info("swift: %s: the manifest was stored by an attempt whose reply was lost", up->key);
	sw_objkind_free(&now);
	sw_strv_free(&segs);
	free(mine);
	return yes;
}

int sw_upload_commit(struct upload *up, unsigned nparts, const char *sha256)
{
	struct sw *sw = up->sw;
	struct sw_strv old = { 0 }, keep = { 0 };
	struct sw_objkind k = { 0 };
	char *path = NULL, *mprefix = NULL, *sh = NULL;
	json_t *list = NULL;
	int rc = 0;

	pthread_mutex_lock(&up->lock);
	for (unsigned n = 1; n <= nparts && !rc; n++)
		if (n >= up->cap || !up->segs[n].done)
			rc = -EINVAL;   /* the caller's mistake: no later try can mend it */
	pthread_mutex_unlock(&up->lock);
	if (rc) {
		log_warn("swift: commit of %s: not every one of %u parts was uploaded", up->key, nparts);
		goto fail;
	}
	/* what this replaces: segments the new manifest does not list go once it is in place */
	rc = sw_head(sw, up->key, &k);
	if (!rc)
		rc = sw_owned_segments(sw, up->key, &k, &old);
	if (rc)
		goto fail;
	path = sw_obj_path(sw->cont_enc, up->key, NULL);
	if (!path) {
		rc = -ENOMEM;
		goto fail;
	}
	rc = sw_sha256_header(sha256, &sh);
	if (rc)
		goto fail;
	if (!up->dlo) {
		long status = 0;
		int nested = 0;

		list = slo_entries(up, nparts);
		if (!list) {
			rc = -ENOMEM;
			goto fail;
		}
		if (json_array_size(list) > sw->max_segments) {
			nested = !up->base_list;
			rc = nest_entries(up, &list);
		}
		if (!rc)
			rc = put_manifest(sw, path, list, sh, sw_create_only(sw, up->key), NULL, 0, &status);
		if (rc && manifest_is_ours(up))
			rc = 0;
		if (rc && nested && status == 400) {
			/* Ceph RGW refuses an SLO that lists SLOs (400: it checks each entry's size
			 * against the sub-manifest object, which is its JSON). The same segments,
			 * named in order under one prefix, make a DLO once the sub-manifests go. */
			log_info("swift: %s: the store refuses nested manifests; committing a DLO", up->key);
			rc = drop_sub_manifests(up, json_array_size(list));
			up->dlo = !rc;
		} else if (rc && status == 400) {
			/* Swift refuses a manifest whose segments are missing or differ from their
			 * entries: no later try (or `snapctl retry`) can mend it, so it is not kept */
			rc = -EINVAL;
		}
		if (rc)
			goto fail;
	}
	if (up->dlo) {
		/* every object under "<key>/<uid>/" in name order: the base's (segment 0) first */
		if (asprintf(&mprefix, "%s/%s/%s/", sw->segc, up->key, up->uid) < 0) {
			mprefix = NULL;
			rc = -ENOMEM;
			goto fail;
		}
		rc = check_dlo_segments(up, nparts);
		if (!rc) {
			rc = sw_put_dlo(sw, up->key, mprefix, sh);
			if (rc && manifest_is_ours(up))
				rc = 0;
		}
		if (rc)
			goto fail;
	}
	if (old.n) {
		/* what the new version lists, read back: nested manifests included */
		struct sw_objkind now = { .exists = 1, .slo = !up->dlo, .dlo = up->dlo, .dlo_manifest = mprefix };

		if (sw_owned_segments(sw, up->key, &now, &keep))
			log_warn("swift: %s: cannot read the new manifest back; old segments kept", up->key);
		else
			sw_drop_replaced(sw, up->key, &old, &keep);
	}
	drop_if_lost(up);
	log_debug("swift: upload %s of %s committed", up->uid, up->key);
fail:   /* commit_again: the segments stay for the next try, or the caller's abort */
	json_decref(list);
	sw_objkind_free(&k);
	sw_strv_free(&old);
	sw_strv_free(&keep);
	free(path);
	free(mprefix);
	free(sh);
	if (!rc)
		sw_upload_free(up);
	return rc;
}
