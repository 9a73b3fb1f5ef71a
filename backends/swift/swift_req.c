/* Swift requests: the token on every request (renewed on 401), object kinds, manifests, and PUTs
 * checked by their MD5. */
#include "backends/swift/swift_priv.h"
#include "common/buf.h"
#include "common/crypto.h"
#include "common/encode.h"
#include "backends/secret.h"
#include "backends/swift/swift_auth.h"
#include "common/log.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <unistd.h>

/* ---------- requests ---------- */

/* State of one logical request: the token the last attempt carried, so a 401 renews that one. */
struct call {
	struct sw *sw;
	char *token;
	int auth_rc;
};

static int sw_sign(void *arg, const struct http_req *req, struct curl_slist **hdrs)
{
	struct call *c = arg;
	char *tok = NULL, *url = NULL, *h = NULL, *why = NULL;
	struct curl_slist *tmp;
	int rc;

	rc = sw_auth_get(c->sw->auth, &tok, &url, &why);
	if (rc) {
		log_warn("%s", why ? why : "swift: authentication failed");
		free(why);
		c->auth_rc = rc;
		return rc;
	}
	free(url);
	if (asprintf(&h, "X-Auth-Token: %s", tok) < 0) {
		free(tok);
		return -ENOMEM;
	}
	tmp = curl_slist_append(*hdrs, h);
	memset(h, 0, strlen(h));
	free(h);
	if (!tmp) {
		free(tok);
		return -ENOMEM;
	}
	*hdrs = tmp;
	free(c->token);
	c->token = tok;
	return 0;
}

/* Perform req on path ("/container/object?query", encoded) below the storage URL, or on an absolute
 * URL when path starts with "http". A 401 renews the token and tries once more. */
int sw_do(struct sw *sw, struct http_req *req, const char *path, struct http_resp *resp)
{
	struct call c = { .sw = sw };
	int rc = 0;

	for (int round = 0; round < 2; round++) {
		char *tok = NULL, *base = NULL, *url = NULL, *why = NULL;

		if (strncmp(path, "http", 4)) {
			rc = sw_auth_get(sw->auth, &tok, &base, &why);
			if (rc) {
				log_warn("%s", why ? why : "swift: authentication failed");
				free(why);
				break;
			}
			free(tok);
			if (asprintf(&url, "%s%s", base, path) < 0)
				url = NULL;
			free(base);
			if (!url) {
				rc = -ENOMEM;
				break;
			}
		}
		req->url = url ? url : path;
		req->sign = sw_sign;
		/* cppcheck-suppress autoVariables ; cleared before this returns */
		req->sign_arg = &c;
		c.auth_rc = 0;
		rc = http_do(sw->http, req, resp);
		free(url);
		req->url = NULL;
		if (rc == 0 && resp->status == 401 && round == 0 && c.token) {
			if (sw_auth_invalidate(sw->auth, c.token))
				break;
			log_info("swift: token refused (401), authenticating again");
			http_resp_free(resp);
			*resp = (struct http_resp)HTTP_RESP_INIT;
			continue;
		}
		break;
	}
	free(c.token);
	/* c dies here: leave no pointer to it in the caller's request */
	req->sign = NULL;
	req->sign_arg = NULL;
	return rc;
}

void sw_req_init(struct http_req *r, const char *method, const char *const *hdrs)
{
	memset(r, 0, sizeof(*r));
	r->method = method;
	r->headers = hdrs;
	r->body_fd = -1;
}

/* "/container/key?query" with the key percent-encoded */
char *sw_obj_path(const char *cont_enc, const char *key, const char *query)
{
	char *enc = enc_uri(key, 1), *p = NULL;

	if (!enc)
		return NULL;
	if (asprintf(&p, "/%s/%s%s%s", cont_enc, enc, query ? "?" : "", query ? query : "") < 0)
		p = NULL;
	free(enc);
	return p;
}

int sw_fail(const char *what, const char *key, const struct http_resp *resp)
{
	const char *b = resp->body.data ? resp->body.data : "";
	size_t n = strcspn(b, "\r\n");

	log_warn("swift: %s %s: HTTP %ld %.*s", what, key, resp->status, (int)(n < 200 ? n : 200), b);
	return http_errno(resp->status) ? http_errno(resp->status) : -EIO;
}

/* an ETag header's value without its quotes ("" if absent) */
void sw_set_etag(char *dst, size_t cap, const char *etag)
{
	size_t n;

	if (!etag) {
		*dst = 0;
		return;
	}
	if (*etag == '"')
		etag++;
	n = strcspn(etag, "\"");
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, etag, n);
	dst[n] = 0;
}

/* Run fn(arg, i) for i in [0, n) on up to SW_THREADS threads; the first error wins. */
struct par {
	int (*fn)(void *arg, size_t i);
	void *arg;
	size_t n;
	atomic_size_t next;
	atomic_int rc;
};

static void *par_worker(void *arg)
{
	struct par *p = arg;
	size_t i;

	while ((i = atomic_fetch_add(&p->next, 1)) < p->n) {
		int rc = p->fn(p->arg, i);

		if (rc) {
			int zero = 0;

			atomic_compare_exchange_strong(&p->rc, &zero, rc);
		}
	}
	return NULL;
}

int sw_par_for(size_t n, int (*fn)(void *, size_t), void *arg)
{
	struct par p = { .fn = fn, .arg = arg, .n = n };
	pthread_t th[SW_THREADS];
	size_t nt = n < SW_THREADS ? n : SW_THREADS, started = 0;

	atomic_init(&p.next, 0);
	atomic_init(&p.rc, 0);
	if (n > 1)
		for (; started < nt; started++)
			if (pthread_create(&th[started], NULL, par_worker, &p))
				break;
	if (!started)
		par_worker(&p);
	for (size_t i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	return atomic_load(&p.rc);
}

/* ---------- a list of strings ---------- */

int sw_strv_add(struct sw_strv *s, const char *str)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		char **v = realloc(s->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n] = strdup(str);
	if (!s->v[s->n])
		return -ENOMEM;
	s->n++;
	return 0;
}

int sw_strv_has(const struct sw_strv *s, const char *str)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->v[i], str))
			return 1;
	return 0;
}

void sw_strv_free(struct sw_strv *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

/* ---------- what an object is ---------- */

void sw_objkind_free(struct sw_objkind *k)
{
	free(k->dlo_manifest);
	memset(k, 0, sizeof(*k));
}

/* HEAD: size, mtime, etag, and whether the object is a manifest (and whose segments it holds). */
int sw_head(struct sw *sw, const char *key, struct sw_objkind *k)
{
	struct http_resp resp = HTTP_RESP_INIT;
	struct http_req req;
	char *path = sw_obj_path(sw->cont_enc, key, NULL), *v;
	int rc = -ENOMEM;

	memset(k, 0, sizeof(*k));
	if (!path)
		return -ENOMEM;
	sw_req_init(&req, "HEAD", NULL);
	rc = sw_do(sw, &req, path, &resp);
	if (rc)
		goto out;
	if (resp.status == 404) {
		rc = 0;
		goto out;
	}
	if (resp.status / 100 != 2) {
		rc = sw_fail("HEAD", key, &resp);
		goto out;
	}
	k->exists = 1;
	v = http_header(&resp, "Content-Length");
	k->size = v ? strtoull(v, NULL, 10) : 0;
	free(v);
	v = http_header(&resp, "Last-Modified");
	k->mtime = http_date(v);
	free(v);
	v = http_header(&resp, "ETag");
	sw_set_etag(k->etag, sizeof(k->etag), v);
	free(v);
	v = http_header(&resp, "X-Static-Large-Object");
	k->slo = v && !strcasecmp(v, "true");
	free(v);
	k->dlo_manifest = http_header(&resp, "X-Object-Manifest");
	if (k->dlo_manifest) {
		enc_uri_decode(k->dlo_manifest, strlen(k->dlo_manifest), 0, k->dlo_manifest);
		k->dlo = !k->slo;
		/* this store holds DLOs: from now on reads close their connection (see fresh_reads) */
		if (k->dlo)
			sw->fresh_reads = 1;
	}
	v = http_header(&resp, SW_DISOWNED);
	k->disowned = v && *v;
	free(v);
	v = http_header(&resp, SW_SHA256);
	if (v && strlen(v) == 64 && !v[strspn(v, "0123456789abcdef")])
		strcpy(k->sha256, v);
	free(v);
out:
	free(path);
	http_resp_free(&resp);
	return rc;
}

/* An SLO manifest at an encoded path ("/container/object"): raw, the PUT format {path, etag,
 * size_bytes[, range]}; else the GET format {name, hash, bytes[, sub_slo]}. A new JSON list. */
int sw_slo_get(struct sw *sw, const char *opath, int raw, json_t **out)
{
	struct http_resp resp = HTTP_RESP_INIT;
	struct http_req req;
	const char *field = raw ? "path" : "name";
	char *path = NULL;
	json_error_t err;
	int rc = -ENOMEM;

	*out = NULL;
	if (asprintf(&path, "%s?multipart-manifest=get%s", opath, raw ? "&format=raw" : "") < 0)
		return -ENOMEM;
	sw_req_init(&req, "GET", NULL);
	rc = sw_do(sw, &req, path, &resp);
	if (rc)
		goto out;
	if (resp.status / 100 != 2) {
		rc = resp.status == 404 ? -ENOENT : sw_fail("GET manifest", opath, &resp);
		goto out;
	}
	if (!resp.body.len) {
		/* RGW answers an SLO's manifest GET with 200 and no body: the segments are not shown */
		log_debug("swift: the server shows no manifest for %s", opath);
		rc = -ENODATA;
		goto out;
	}
	*out = json_loadb(resp.body.data ? resp.body.data : "", resp.body.len, 0, &err);
	if (!*out || !json_is_array(*out)) {
		log_warn("swift: the manifest %s is not a JSON list", opath);
		rc = -EIO;
		goto bad;
	}
	for (size_t i = 0; i < json_array_size(*out); i++) {
		json_t *e = json_array_get(*out, i);

		if (!json_is_string(json_object_get(e, field))) {
			log_warn("swift: the manifest %s has an entry without a %s", opath, field);
			rc = -EIO;
			goto bad;
		}
	}
	goto out;
bad:
	json_decref(*out);
	*out = NULL;
out:
	free(path);
	http_resp_free(&resp);
	return rc;
}

int sw_slo_manifest(struct sw *sw, const char *key, json_t **out)
{
	char *path = sw_obj_path(sw->cont_enc, key, NULL);
	int rc = path ? sw_slo_get(sw, path, 1, out) : -ENOMEM;

	free(path);
	return rc;
}

int sw_sha256_header(const char *sha256, char **out)
{
	*out = NULL;
	if (!sha256)
		return 0;
	if (strlen(sha256) != 64 || sha256[strspn(sha256, "0123456789abcdef")]) {
		log_warn("swift: a malformed SHA-256 was handed over; the object is stored without it");
		return 0;
	}
	return asprintf(out, SW_SHA256 ": %s", sha256) < 0 ? (*out = NULL, -ENOMEM) : 0;
}

/* MD5 of a body as lower-case hex (33 bytes) */
static int body_md5(int fd, off_t fd_off, uint64_t len, char *hex)
{
	unsigned char md[64];
	unsigned mdlen = 0;
	int rc;

	if (!len) {
		strcpy(hex, "d41d8cd98f00b204e9800998ecf8427e");
		return 0;
	}
	rc = crypto_digest_fd("md5", fd, fd_off, len, md, &mdlen);
	if (!rc && mdlen != 16)
		rc = -EIO;
	if (!rc)
		enc_hex(md, 16, hex);
	return rc;
}

/* What a PUT's reply says of its body: 0 stored as sent, else why it must be sent again. */
struct put_check {
	const struct sw *sw;
	const char *what, *want;
	const char *damage;
};

static enum http_verdict sw_put_judge(void *arg, const struct http_req *req, const struct http_resp *resp)
{
	struct put_check *pc = arg;
	char got[80], *v;

	(void)req;
	pc->damage = NULL;
	if (resp->status == 201) {
		v = http_header(resp, "ETag");
		sw_set_etag(got, sizeof(got), v);
		free(v);
		/* no ETag in the reply: nothing to compare (Swift checked ours) */
		if (!pc->want || !*got || !strcasecmp(got, pc->want))
			return HTTP_FINAL;
		pc->damage = "the stored object's ETag is not the one sent";
	} else if (resp->status == 422) {
		pc->damage = "Swift refused the body: it does not match its ETag (422)";
	} else {
		return HTTP_POLICY;
	}
	if (resp->attempts <= pc->sw->retries)
		log_warn("swift: PUT %s: %s: damaged on the way, sending it again", pc->what, pc->damage);
	return HTTP_RETRY;
}

int sw_put_checked(struct sw *sw, struct http_req *req, const char *path, const char *what, const char *want,
		   struct http_resp *resp)
{
	struct put_check pc = { sw, what, want, NULL };
	int rc;

	req->judge = sw_put_judge;
	req->judge_arg = &pc;
	req->tries = sw->retries + 1;
	rc = sw_do(sw, req, path, resp);
	req->judge = NULL;
	req->judge_arg = NULL;
	if (rc)
		return rc;
	if (pc.damage) {
		log_warn("swift: PUT %s: %s; given up after %d attempts", what, pc.damage, resp->attempts);
		return -EIO;
	}
	return resp->status == 201 ? 0 : sw_fail("PUT", what, resp);
}

int sw_put_path(struct sw *sw, const char *path, const char *what, const char *const *hdrs, int fd,
		    off_t fd_off, uint64_t len, char *etag, size_t ecap)
{
	struct http_resp resp = HTTP_RESP_INIT;
	struct http_req req;
	const char *all[SW_MAX_HDRS + 2];
	char md5[33], eh[48];
	size_t n = 0;
	int rc;

	rc = body_md5(fd, fd_off, len, md5);
	if (rc)
		return rc;
	snprintf(eh, sizeof(eh), "ETag: %s", md5);
	for (; hdrs && hdrs[n] && n < SW_MAX_HDRS; n++)
		all[n] = hdrs[n];
	all[n++] = eh;
	all[n] = NULL;
	sw_req_init(&req, "PUT", all);
	if (len) {
		req.body_fd = fd;
		req.body_off = fd_off;
		req.body_fd_len = len;
	}
	rc = sw_put_checked(sw, &req, path, what, md5, &resp);
	if (!rc && etag)
		snprintf(etag, ecap, "%s", md5);
	http_resp_free(&resp);
	return rc;
}

/* Server-side copy of an object to "container/object" (decoded dest); manifest: copy the manifest
 * itself, not the bytes; meta_hdr (or NULL) is set on the copy. *etag gets the new object's ETag. */
int sw_copy_obj(struct sw *sw, const char *key, const char *dest, int manifest, int fresh_meta,
		    const char *meta_hdr, char *etag, size_t ecap)
{
	struct http_resp resp = HTTP_RESP_INIT;
	struct http_req req;
	char *path = sw_obj_path(sw->cont_enc, key, manifest ? "multipart-manifest=get" : NULL);
	char *denc = enc_uri(dest, 1), *dh = NULL, *v;
	const char *hdrs[4] = { NULL };
	size_t nh = 1;
	int rc = -ENOMEM;

	if (!path || !denc || asprintf(&dh, "Destination: %s", denc) < 0) {
		dh = NULL;
		goto out;
	}
	hdrs[0] = dh;
	if (fresh_meta)
		hdrs[nh++] = "X-Fresh-Metadata: true";
	if (meta_hdr)
		hdrs[nh++] = meta_hdr;
	sw_req_init(&req, "COPY", hdrs);
	rc = sw_do(sw, &req, path, &resp);
	if (rc)
		goto out;
	if (resp.status / 100 != 2) {
		rc = resp.status == 404 ? -ENOENT : sw_fail("COPY", key, &resp);
		goto out;
	}
	if (etag) {
		v = http_header(&resp, "ETag");
		sw_set_etag(etag, ecap, v);
		free(v);
	}
out:
	free(path);
	free(denc);
	free(dh);
	http_resp_free(&resp);
	return rc;
}
