/* swift://container/prefix: OpenStack Swift with TempAuth or Keystone (swift_auth.c).
 *
 * Small files are one PUT. Bigger ones are uploaded as segments into the hidden container
 * "<container>_segments" (made on demand), named "<key>/<upload id>/<part, 8 digits>" so that a rewrite
 * never touches the segments of the object it replaces, several in flight; the commit writes a Static
 * Large Object manifest, or a Dynamic Large Object (X-Object-Manifest) where /info says SLO is off.
 * More parts than one manifest may list (max_manifest_segments) go into sub-manifests that the top
 * manifest lists (Swift nests SLOs), so the part cap is not the store's 1000. An append lists the old
 * manifest's entries first, or copies the old plain object into the segment area as segment 0.
 *
 * Remove reads each key's HEAD: plain objects (and disowned manifests, below) go in one bulk-delete
 * request where /info offers it; a manifest is deleted first, then the segments it owns. Bulk delete
 * has no ?multipart-manifest=delete mode, and that mode would not honour the ownership rule below.
 *
 * Segment ownership. Every manifest owns the segments it lists, so removing it removes them
 * too, and replacing it (put, commit, copy onto it) deletes the old segments
 * the new object does not list. The one exception is a copy: copy(A, B) of a manifest copies the
 * manifest only (no data moves) and hands the segments to B; A is then marked
 * X-Object-Meta-Snapfs-Disowned, and removing or replacing a disowned manifest deletes the manifest
 * alone. Rename is copy then remove, so the segments end up owned by exactly one manifest. The order
 * is chosen so a crash never loses data: the copy is made first, then the source disowned (a failure
 * there removes the copy again); at worst segments leak, they are never deleted under a live manifest.
 * A disowned manifest is copied by value (a server-side copy of its bytes), so no chain of sharers
 * arises. Callers that keep both A and B after a copy must delete B last.
 */
#include "backends/swift/swift_priv.h"
#include "common/buf.h"
#include "common/crypto.h"
#include "common/encode.h"
#include "backends/objver.h"
#include "backends/secret.h"
#include "backends/swift/swift_auth.h"
#include "common/why.h"
#include "common/log.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <unistd.h>

/* ---------- open ---------- */

static void sw_free(struct sw *sw)
{
	if (!sw)
		return;
	sw_auth_free(sw->auth);
	http_free(sw->http);
	free(sw->container);
	free(sw->cont_enc);
	free(sw->segc);
	free(sw->segc_enc);
	pthread_mutex_destroy(&sw->seg_lock);
	free(sw);
}

/* GET /info at the cluster's root: is SLO on, is bulk delete on, and their limits. A cluster that
 * hides /info is taken to have SLO (the common case) and no bulk delete. */
static void read_info(struct sw *sw)
{
	struct http_resp resp = HTTP_RESP_INIT;
	struct http_req req;
	char *tok = NULL, *base = NULL, *url = NULL, *v1;
	json_t *root = NULL, *slo, *bulk, *sw_info;
	json_error_t err;

	sw->slo = 1;
	sw->bulk = 0;
	sw->max_segments = SW_MAX_SEGMENTS;
	sw->listing_limit = 10000;
	if (sw_auth_get(sw->auth, &tok, &base, NULL))
		goto out;
	/* the cluster root: the storage URL up to its "/v1/", else up to the path */
	v1 = strstr(base, "/v1/");
	if (!v1) {
		const char *host = strstr(base, "://");

		v1 = host ? strchr(host + 3, '/') : NULL;
		if (!v1)
			v1 = base + strlen(base);
	}
	if (asprintf(&url, "%.*s/info", (int)(v1 - base), base) < 0) {
		url = NULL;
		goto out;
	}
	sw_req_init(&req, "GET", NULL);
	req.deadline_s = SW_OPEN_DEADLINE_S;
	if (sw_do(sw, &req, url, &resp) || resp.status != 200)
		goto out;
	root = json_loadb(resp.body.data, resp.body.len, 0, &err);
	if (!json_is_object(root)) {
		log_warn("swift: /info is not JSON; assuming SLO and no bulk delete");
		goto out;
	}
	slo = json_object_get(root, "slo");
	bulk = json_object_get(root, "bulk_delete");
	sw_info = json_object_get(root, "swift");
	sw->slo = slo != NULL;
	if (json_integer_value(json_object_get(slo, "max_manifest_segments")) > 0)
		sw->max_segments = (unsigned)json_integer_value(json_object_get(slo, "max_manifest_segments"));
	if (bulk) {
		json_int_t m = json_integer_value(json_object_get(bulk, "max_deletes_per_request"));

		sw->bulk = 1;
		sw->bulk_max = m > 0 ? (unsigned)(m < 10000 ? m : 10000) : 1000;
	}
	if (json_integer_value(json_object_get(sw_info, "container_listing_limit")) > 0)
		sw->listing_limit = (unsigned)json_integer_value(json_object_get(sw_info, "container_listing_limit"));
out:
	log_info("swift: large objects as %s, %s delete", sw->slo ? "SLO" : "DLO (SLO is off)",
		 sw->bulk ? "bulk" : "per-object");
	json_decref(root);
	free(tok);
	free(base);
	free(url);
	http_resp_free(&resp);
}

static int check_container(struct sw *sw, char **why)
{
	struct http_resp resp = HTTP_RESP_INIT;
	struct http_req req;
	char *path = NULL, *tok = NULL, *base = NULL, *err = NULL;
	int rc;

	/* authenticate first: its errors (credentials, region, reachability) are the clearest */
	rc = sw_auth_get(sw->auth, &tok, &base, &err);
	if (rc) {
		why_set(why, "%s", err ? err : strerror(-rc));
		goto out;
	}
	if (asprintf(&path, "/%s", sw->cont_enc) < 0) {
		path = NULL;
		rc = -ENOMEM;
		goto out;
	}
	sw_req_init(&req, "HEAD", NULL);
	req.deadline_s = SW_OPEN_DEADLINE_S;
	rc = sw_do(sw, &req, path, &resp);
	if (rc) {
		why_set(why, "swift: cannot reach the storage URL %s: %s", base, resp.error[0] ? resp.error :
			strerror(-rc));
		goto out;
	}
	if (resp.status / 100 == 2)
		goto out;
	rc = http_errno(resp.status) ? http_errno(resp.status) : -EIO;
	if (resp.status == 404)
		why_set(why, "swift: container '%s' does not exist in %s (create it first)", sw->container, base);
	else if (resp.status == 401 || resp.status == 403)
		why_set(why, "swift: %s may not read container '%s' at %s (HTTP %ld)",
			sw_auth_who(sw->auth), sw->container, base, resp.status);
	else
		why_set(why, "swift: checking container '%s' at %s: HTTP %ld", sw->container, base, resp.status);
out:
	free(err);
	free(tok);
	free(base);
	free(path);
	http_resp_free(&resp);
	return rc;
}

static int sw_open(struct backend *b, const struct backend_conf *conf, char **why)
{
	struct http_conf hc = { 0 };
	unsigned max_seg_knob = 0;
	const char *pg;
	struct sw *sw;
	int rc = -ENOMEM;

	*why = NULL;
	if (!conf->src->bucket || !*conf->src->bucket || strchr(conf->src->bucket, '/')) {
		why_set(why, "swift: SOURCE needs a container: swift://CONTAINER[/PREFIX]");
		return -EINVAL;
	}
	sw = calloc(1, sizeof(*sw));
	if (!sw)
		return -ENOMEM;
	pthread_mutex_init(&sw->seg_lock, NULL);
	sw->container = strdup(conf->src->bucket);
	sw->cont_enc = enc_uri(conf->src->bucket, 0);
	if (asprintf(&sw->segc, "%s%s", conf->src->bucket, SW_SEG_SUFFIX) < 0)
		sw->segc = NULL;
	sw->segc_enc = sw->segc ? enc_uri(sw->segc, 0) : NULL;
	if (!sw->container || !sw->cont_enc || !sw->segc || !sw->segc_enc)
		goto err;
	/* a test knob: small listing pages exercise the marker pagination cheaply */
	pg = getenv("SNAPFS_SWIFT_PAGE");
	if (pg && *pg)
		sw->page = (unsigned)strtoul(pg, NULL, 10);
	/* and few segments per manifest exercise the nesting without thousands of parts */
	pg = getenv("SNAPFS_SWIFT_MAX_SEGMENTS");
	if (pg && *pg)
		max_seg_knob = (unsigned)strtoul(pg, NULL, 10);
	hc.ca_pem = secret_get(conf->secret, "CA_CERT_DATA");
	hc.timeout_s = conf->timeout_s;
	hc.retries = conf->retries;
	sw->retries = conf->retries;
	rc = http_new(&sw->http, &hc, why);
	if (rc)
		goto err;
	rc = sw_auth_new(&sw->auth, sw->http, conf->secret, conf->region, conf->endpoint, why);
	if (rc)
		goto err;
	rc = check_container(sw, why);
	if (rc)
		goto err;
	read_info(sw);
	if (max_seg_knob > 1 && max_seg_knob < sw->max_segments)
		sw->max_segments = max_seg_knob;
	log_info("swift: container %s as %s", sw->container, sw_auth_who(sw->auth));
	sw->conf = conf;
	b->priv = sw;
	return 0;
err:
	if (!*why)
		why_set(why, "swift: %s", strerror(-rc));
	sw_free(sw);
	return rc;
}

static void sw_close(struct backend *b)
{
	sw_free(b->priv);
	b->priv = NULL;
}

/* ---------- stat, read, put ---------- */

static int sw_stat(struct backend *b, const char *key, struct obj_info *out)
{
	struct sw_objkind k;
	int rc = sw_head(b->priv, key, &k);

	if (rc)
		return rc;
	if (!k.exists)
		return -ENOENT;
	memset(out, 0, sizeof(*out));
	out->size = k.size;
	out->mtime = k.mtime;
	snprintf(out->etag, sizeof(out->etag), "%s", k.etag);
	memcpy(out->sha256, k.sha256, sizeof(out->sha256));
	/* a manifest's ETag is over its segments' ETags, not the bytes */
	if (!k.slo && !k.dlo && strlen(k.etag) == 32 && !k.etag[strspn(k.etag, "0123456789abcdef")])
		memcpy(out->md5, k.etag, 33);
	sw_objkind_free(&k);
	return 0;
}

/* A manifest (SLO, DLO) answers a condition in its own way, or not at all: its version is held by
 * comparing the ETag each reply names. A plain object takes If-Match. */
static ssize_t sw_read_ver(struct backend *b, const char *key, struct obj_ver *v, uint64_t off, size_t len,
			   void *buf)
{
	struct sw *sw = b->priv;
	struct http_resp resp = HTTP_RESP_INIT;
	struct http_req req;
	char range[80], cond[OBJ_VER_TAG_MAX + 16], *path = NULL;
	const char *hdrs[] = { range, NULL, NULL, NULL };
	int nh = 1;
	ssize_t rc = -ENOMEM;

	if (!len)
		return 0;
	path = sw_obj_path(sw->cont_enc, key, NULL);
	if (!path)
		goto out;
	snprintf(range, sizeof(range), "Range: bytes=%llu-%llu", (unsigned long long)off,
		 (unsigned long long)(off + len - 1));
	/* the tag of a manifest is kept with a '~' in front: compared, never sent */
	if (v && v->known && v->tag[0] && v->tag[0] != '~') {
		objver_cond(v, "If-Match", cond, sizeof(cond));
		hdrs[nh++] = cond;
	}
	if (sw->fresh_reads)
		hdrs[nh++] = "Connection: close";
	sw_req_init(&req, "GET", hdrs);
	req.out = buf;
	req.out_cap = len;
	rc = sw_do(sw, &req, path, &resp);
	if (rc)
		goto out;
	if (resp.status == 412) {
		rc = -ESTALE;   /* replaced since the handle's first read */
	} else if (resp.status == 416 || resp.status == 200 || resp.status == 206) {
		rc = resp.status == 416 ? 0 : (ssize_t)resp.out_len;
		if (v) {
			struct obj_ver got = { 0 };
			char *slo = http_header(&resp, "X-Static-Large-Object");
			char *dlo = http_header(&resp, "X-Object-Manifest");
			int manifest = slo || dlo;

			free(slo);
			free(dlo);
			objver_check(&got, &resp, "ETag");
			if (manifest && got.tag[0] && strlen(got.tag) + 1 < sizeof(got.tag)) {
				memmove(got.tag + 1, got.tag, strlen(got.tag) + 1);
				got.tag[0] = '~';
			}
			if (!v->known)
				*v = got;
			else if ((got.tag[0] && v->tag[0] && strcmp(got.tag, v->tag)) ||
				 (got.size != UINT64_MAX && v->size != UINT64_MAX && got.size != v->size))
				rc = -ESTALE;
		}
	} else {
		rc = resp.status == 404 ? -ENOENT : sw_fail("read", key, &resp);
	}
out:
	free(path);
	http_resp_free(&resp);
	return rc;
}

static ssize_t sw_read(struct backend *b, const char *key, uint64_t off, size_t len, void *buf)
{
	return sw_read_ver(b, key, NULL, off, len, buf);
}

static int sw_put(struct backend *b, const char *key, int fd, off_t fd_off, uint64_t len, const char *sha256)
{
	struct sw *sw = b->priv;
	struct sw_strv old = { 0 };
	struct sw_objkind k;
	char *path = sw_obj_path(sw->cont_enc, key, NULL), *sh = NULL;
	const char *hdrs[] = { "Content-Type: application/octet-stream", NULL, NULL, NULL };
	int rc = -ENOMEM;

	memset(&k, 0, sizeof(k));
	if (!path)
		return -ENOMEM;
	/* a folder marker "x/" follows Swift's convention (consoles and rclone show it as a folder) */
	if (*key && key[strlen(key) - 1] == '/')
		hdrs[0] = "Content-Type: application/directory";
	rc = sw_sha256_header(sha256, &sh);
	if (rc)
		goto out;
	hdrs[1] = sh ? sh : sw_create_only(sw, key);
	hdrs[2] = sh ? sw_create_only(sw, key) : NULL;
	/* what this replaces: a manifest's segments go once the new object is in place (a folder
	 * marker "x/" is never a manifest of ours: no need to look) */
	rc = *key && key[strlen(key) - 1] == '/' ? 0 : sw_head(sw, key, &k);
	if (!rc)
		rc = sw_owned_segments(sw, key, &k, &old);
	if (rc == -ENODATA) {
		log_warn("swift: %s replaces a large object whose segments the server does not list; they stay",
			 key);
		rc = 0;
	}
	if (rc)
		goto out;
	rc = sw_put_path(sw, path, key, hdrs, fd, fd_off, len, NULL, 0);
	if (rc == -EEXIST && sw_create_only(sw, key) && sha256) {
		struct sw_objkind now;

		/* an attempt whose reply was lost may have made it: then the object is ours */
		if (!sw_head(sw, key, &now) && now.exists && now.size == len && !strcmp(now.sha256, sha256))
			rc = 0;
		sw_objkind_free(&now);
	}
	if (!rc && old.n)
		sw_drop_replaced(sw, key, &old, NULL);
out:
	sw_objkind_free(&k);
	sw_strv_free(&old);
	free(path);
	free(sh);
	return rc;
}

/* ---------- remove, copy ---------- */

struct rm_job {
	struct sw *sw;
	const char *const *keys;
	pthread_mutex_t lock;
	struct sw_strv plain;     /* "container/key" for one bulk request */
};

/* One key: a manifest that owns segments takes them along; anything else joins the bulk list. */
static int rm_one(void *arg, size_t i)
{
	struct rm_job *j = arg;
	struct sw *sw = j->sw;
	const char *key = j->keys[i];
	struct sw_strv segs = { 0 };
	struct sw_objkind k;
	char *p = NULL;
	int rc;

	rc = sw_head(sw, key, &k);
	if (rc || !k.exists)
		goto out;
	if (k.disowned || (!k.slo && !k.dlo)) {
		if (asprintf(&p, "%s/%s", sw->container, key) < 0) {
			p = NULL;
			rc = -ENOMEM;
			goto out;
		}
		if (sw->bulk) {
			pthread_mutex_lock(&j->lock);
			rc = sw_strv_add(&j->plain, p);
			pthread_mutex_unlock(&j->lock);
		} else {
			char *one[] = { p };

			rc = sw_delete_paths(sw, one, 1);
		}
		goto out;
	}
	/* manifest first, then its segments: a failure between leaves no manifest with holes */
	rc = sw_owned_segments(sw, key, &k, &segs);
	if (rc == -ENODATA) {
		rc = sw_delete_slo(sw, key);   /* segments only the server knows: it deletes them */
		goto out;
	}
	if (!rc && asprintf(&p, "%s/%s", sw->container, key) < 0) {
		p = NULL;
		rc = -ENOMEM;
	}
	if (!rc) {
		char *one[] = { p };

		rc = sw_delete_paths(sw, one, 1);
	}
	if (!rc)
		rc = sw_delete_paths(sw, segs.v, segs.n);
out:
	free(p);
	sw_strv_free(&segs);
	sw_objkind_free(&k);
	return rc;
}

static int sw_remove(struct backend *b, const char *const *keys, size_t n)
{
	struct rm_job j = { .sw = b->priv, .keys = keys };
	int rc, rc2;

	pthread_mutex_init(&j.lock, NULL);
	rc = sw_par_for(n, rm_one, &j);
	rc2 = sw_delete_paths(j.sw, j.plain.v, j.plain.n);
	sw_strv_free(&j.plain);
	pthread_mutex_destroy(&j.lock);
	return rc ? rc : rc2;
}

/* POST metadata onto an object (replaces its user metadata); hdr2 may be NULL. */
static int post_meta(struct sw *sw, const char *key, const char *hdr, const char *hdr2)
{
	const char *hdrs[] = { hdr, hdr2, NULL };
	struct http_resp resp = HTTP_RESP_INIT;
	struct http_req req;
	char *path = sw_obj_path(sw->cont_enc, key, NULL);
	int rc = -ENOMEM;

	if (!path)
		return -ENOMEM;
	sw_req_init(&req, "POST", hdrs);
	rc = sw_do(sw, &req, path, &resp);
	if (!rc && resp.status / 100 != 2)
		rc = sw_fail("POST", key, &resp);
	free(path);
	http_resp_free(&resp);
	return rc;
}

/* Segment ownership across copies: see the comment at the top of this file. */
static int sw_copy(struct backend *b, const char *from, const char *to)
{
	struct sw *sw = b->priv;
	struct sw_objkind src = { 0 }, dst = { 0 };
	struct sw_strv old = { 0 }, keep = { 0 };
	char *dest = NULL, *sh = NULL;
	int rc, manifest;

	if (!strcmp(from, to))
		return 0;
	rc = sw_head(sw, from, &src);
	if (!rc && !src.exists)
		rc = -ENOENT;
	if (!rc)
		rc = sw_head(sw, to, &dst);
	if (!rc)
		rc = sw_owned_segments(sw, to, &dst, &old);
	if (rc == -ENODATA) {
		log_warn("swift: %s replaces a large object whose segments the server does not list; they stay",
			 to);
		rc = 0;
	}
	if (rc)
		goto out;
	manifest = (src.slo || src.dlo) && !src.disowned;
	if (manifest)
		rc = sw_owned_segments(sw, from, &src, &keep);
	if (!rc && asprintf(&dest, "%s/%s", sw->container, to) < 0) {
		dest = NULL;
		rc = -ENOMEM;
	}
	/* the whole-object digest travels with the bytes (a rename keeps it) */
	if (!rc && src.sha256[0])
		rc = sw_sha256_header(src.sha256, &sh);
	if (rc)
		goto out;
	/* fresh metadata: the copy must not inherit a disowned mark. A DLO's copy is a new manifest
	 * over the same prefix: Ceph RGW copies a DLO with fresh metadata as an empty object. */
	if (manifest && src.dlo && src.dlo_manifest)
		rc = sw_put_dlo(sw, to, src.dlo_manifest, sh);
	else
		rc = sw_copy_obj(sw, from, dest, manifest, 1, sh, NULL, 0);
	if (rc)
		goto out;
	if (manifest) {
		/* a POST replaces all user metadata: the digest is set again */
		rc = post_meta(sw, from, SW_DISOWNED ": 1", sh);
		if (rc) {
			/* both would own the segments: take the copy back (the manifest alone) */
			char *one[] = { dest };

			log_warn("swift: copy %s -> %s: cannot hand the segments over: %s", from, to,
				 strerror(-rc));
			sw_delete_paths(sw, one, 1);
			goto out;
		}
	}
	if (old.n)
		sw_drop_replaced(sw, to, &old, &keep);
out:
	sw_objkind_free(&src);
	sw_objkind_free(&dst);
	sw_strv_free(&old);
	sw_strv_free(&keep);
	free(dest);
	free(sh);
	return rc;
}

const struct backend_ops swift_backend_ops = {
	.scheme = "swift",
	.min_part = 1ull << 20,
	.max_part = 5ull << 30,
	.max_parts = SW_MAX_PARTS,
	.parts_any_order = 1,
	.open = sw_open,
	.close = sw_close,
	.stat = sw_stat,
	.list = sw_list,
	.read = sw_read,
	.read_ver = sw_read_ver,
	.put = sw_put,
	.upload_begin = sw_upload_begin,
	.upload_part = sw_upload_part,
	.upload_commit = sw_upload_commit,
	.upload_abort = sw_upload_abort,
	.commit_again = 1,
	.upload_release = sw_upload_release,
	.upload_finish = sw_upload_finish,
	.upload_token = sw_upload_token,
	.upload_forget = sw_upload_forget,
	.remove = sw_remove,
	.copy = sw_copy,
	.list_uploads = sw_list_uploads,
	.probe = sw_probe,
};
