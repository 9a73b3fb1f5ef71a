/* gs://bucket/prefix: Google Cloud Storage over the JSON API, authorized with a service account's
 * OAuth2 token (oauth2.c). Chunked uploads are resumable sessions: every chunk but the last is a
 * multiple of 256 KiB, and after an interrupted chunk the server is asked what it kept (308 + Range)
 * and the rest is sent again. An append uploads the new bytes to a temporary object and composes.
 *
 * Integrity: every upload carries the CRC32C of the whole object, which GCS checks before it makes the
 * object (400 otherwise): a small object in the metadata part of a multipart upload, a session in an
 * X-Goog-Hash header on its final request (the resumable protocol has no per-chunk check, so a chunk
 * corrupted on the way is found only there). The SHA-256 the cache layer computes is kept as the
 * object's custom metadata "snapfs-sha256": in the multipart metadata, at session start for a whole
 * object, or by an objects.patch on exactly the generation a streamed session made. */
#include "backends/backend.h"
#include "backends/gcs/crc32c.h"
#include "common/crypto.h"
#include "common/encode.h"
#include "backends/objver.h"
#include "backends/http.h"
#include "backends/gcs/oauth2.h"
#include "backends/secret.h"
#include "common/why.h"
#include "common/log.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#define GCS_SCOPE "https://www.googleapis.com/auth/devstorage.read_write"
#define GCS_DEFAULT_ENDPOINT "https://storage.googleapis.com"
#define GCS_ALIGN (256 * 1024ULL)
#define GCS_OPEN_DEADLINE_S 60
#define GCS_TMP_DIR ".snapfs/tmp/"    /* below the source prefix, outside the kubedb/ layout */
#define GCS_INLINE_MAX (8ULL << 20)   /* a put up to this size is one multipart request, built in memory */
#define GCS_SHA_KEY "snapfs-sha256"
#define ULL(x) ((unsigned long long)(x))

struct gcs {
	struct http *http;
	struct oauth2 *auth;
	char *api;          /* endpoint, no trailing '/' */
	char *bucket;
	char *bucket_enc;
	char *tmp_prefix;   /* full key prefix for append temporaries */
	unsigned page;      /* maxResults per list call */
	int retries;        /* failed attempts a chunk may take before the upload fails */
	const struct backend_conf *conf;
};

/* A write-once mount creates objects only where none is (ifGenerationMatch=0); folder markers may be
 * made again. The query suffix for an upload of key. */
static const char *create_only_q(const struct gcs *g, const char *key)
{
	size_t n = strlen(key);

	return g->conf && g->conf->create_only && n && key[n - 1] != '/' ? "&ifGenerationMatch=0" : "";
}

struct upload {
	struct gcs *g;
	char *key;          /* the object the commit makes */
	char *target;       /* what the session writes: key, or a temporary to compose after base */
	char *session;      /* session URI (Location of the POST) */
	uint64_t base;
	char base_gen[32];  /* generation of the base object: the compose must see that one */
	uint32_t base_crc;  /* and its CRC32C, to recognise the composed object */
	uint64_t sent;      /* bytes of the session the server has persisted */
	unsigned char *tail;/* the unaligned end of the last part, sent with the total at commit */
	size_t tail_len;
	uint32_t crc;       /* CRC32C of every byte given to the session so far (tail included) */
	char gen[32];       /* generation and metageneration of the object the final request made */
	char metagen[32];
	pthread_mutex_t lock;   /* parts come one at a time; this keeps a misbehaving caller safe */
};

/* ---------- requests ---------- */

struct signer {
	struct gcs *g;
	char *token;        /* the token the last attempt carried (to invalidate it on a 401) */
};

static int sign_bearer(void *arg, const struct http_req *req, struct curl_slist **hdrs)
{
	struct signer *s = arg;
	struct curl_slist *tmp;
	char *tok = NULL, *line = NULL, *why = NULL;
	int rc;

	(void)req;
	rc = oauth2_token(s->g->auth, &tok, &why);
	if (rc) {
		log_error("gcs: no access token: %s", why ? why : strerror(-rc));
		free(why);
		return rc;
	}
	if (asprintf(&line, "Authorization: Bearer %s", tok) < 0) {
		free(tok);
		return -ENOMEM;
	}
	tmp = curl_slist_append(*hdrs, line);
	free(line);
	if (!tmp) {
		free(tok);
		return -ENOMEM;
	}
	*hdrs = tmp;
	free(s->token);
	s->token = tok;
	return 0;
}

/* http_do with the bearer token; a 401 drops the token and the request is made once more with a
 * fresh one (a token can be revoked or expire early). */
static int gcs_do(struct gcs *g, struct http_req *req, struct http_resp *resp)
{
	struct signer s = { g, NULL };
	int rc;

	req->sign = sign_bearer;
	req->sign_arg = &s;
	for (int tries = 0;; tries++) {
		rc = http_do(g->http, req, resp);
		if (rc || resp->status != 401 || tries)
			break;
		oauth2_invalidate(g->auth, s.token);
	}
	free(s.token);
	req->sign = NULL;
	req->sign_arg = NULL;
	return rc;
}

static void req_init(struct http_req *req, const char *method, const char *url, const char *const *hdrs)
{
	memset(req, 0, sizeof(*req));
	req->method = method;
	req->url = url;
	req->headers = hdrs;
	req->body_fd = -1;
}

/* The message of a JSON API error reply, malloc'd ("HTTP 403" when there is none). */
static char *err_msg(const struct http_resp *resp)
{
	json_t *root = json_loads(resp->body.data ? resp->body.data : "", 0, NULL);
	json_t *msg = json_object_get(json_object_get(root, "error"), "message");
	char *s = NULL;

	if (json_is_string(msg)) {
		if (asprintf(&s, "HTTP %ld: %s", resp->status, json_string_value(msg)) < 0)
			s = NULL;
	} else if (asprintf(&s, "HTTP %ld", resp->status) < 0) {
		s = NULL;
	}
	json_decref(root);
	return s;
}

/* Log a failed call and map its status to an errno. */
static int fail(const char *what, const char *key, const struct http_resp *resp)
{
	char *m = err_msg(resp);

	log_error("gcs: %s %s: %s", what, key, m ? m : "?");
	free(m);
	return resp->status / 100 == 2 ? -EIO : http_errno(resp->status);
}

static char *obj_url(const struct gcs *g, const char *key, const char *suffix)
{
	char *enc = enc_uri(key, 0), *url = NULL;

	if (enc && asprintf(&url, "%s/storage/v1/b/%s/o/%s%s", g->api, g->bucket_enc, enc, suffix) < 0)
		url = NULL;
	free(enc);
	return url;
}

/* ---------- object resources ---------- */

static time_t parse_rfc3339(const char *s)
{
	struct tm tm;
	const char *end;

	memset(&tm, 0, sizeof(tm));
	end = s ? strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
	if (!end)
		return 0;
	return timegm(&tm);
}

static int parse_u64(json_t *v, uint64_t *out)
{
	const char *s;
	char *end;

	/* int64 and uint64 fields arrive as JSON strings in this API */
	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		*out = (uint64_t)json_integer_value(v);
		return 0;
	}
	if (!json_is_string(v))
		return -EIO;
	s = json_string_value(v);
	if (*s < '0' || *s > '9')
		return -EIO;
	errno = 0;
	*out = strtoull(s, &end, 10);
	return *end || errno ? -EIO : 0;
}

/* An object resource into obj_info; -EIO when the reply is not one. */
static int obj_from_json(json_t *o, struct obj_info *out)
{
	json_t *md5 = json_object_get(o, "md5Hash"), *etag = json_object_get(o, "etag"), *v;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(o) || !json_is_string(json_object_get(o, "name")) ||
	    parse_u64(json_object_get(o, "size"), &out->size))
		return -EIO;
	out->mtime = parse_rfc3339(json_string_value(json_object_get(o, "updated")));
	if (json_is_string(md5)) {
		size_t n = 0;
		unsigned char *raw = enc_b64_decode(json_string_value(md5), &n);

		if (raw && n == 16)
			enc_hex(raw, n, out->etag);
		free(raw);
	}
	if (!out->etag[0] && json_is_string(etag))
		snprintf(out->etag, sizeof(out->etag), "%s", json_string_value(etag));
	crypto_md5_b64_to_hex(json_string_value(md5), out->md5);
	v = json_object_get(o, "crc32c");
	if (json_is_string(v) && json_string_length(v) == 8)
		memcpy(out->crc32c, json_string_value(v), 9);
	crypto_sha256_take(json_string_value(json_object_get(json_object_get(o, "metadata"), GCS_SHA_KEY)),
			out->sha256);
	return 0;
}

static json_t *reply_json(const struct http_resp *resp)
{
	json_t *j = json_loadb(resp->body.data ? resp->body.data : "", resp->body.len, 0, NULL);

	if (j && !json_is_object(j)) {
		json_decref(j);
		j = NULL;
	}
	return j;
}

/* Send req and take a 200 reply's JSON object into *j (NULL when the body is none); a 404 is -ENOENT. */
static int do_json(struct gcs *g, struct http_req *req, const char *op, const char *key, json_t **j)
{
	struct http_resp resp = HTTP_RESP_INIT;
	int rc = gcs_do(g, req, &resp);

	*j = NULL;
	if (!rc && resp.status != 200)
		rc = resp.status == 404 ? -ENOENT : fail(op, key, &resp);
	else if (!rc)
		*j = reply_json(&resp);
	http_resp_free(&resp);
	return rc;
}

/* objects.get: metadata of key, its generation if gen is not NULL, its CRC32C if crc is not NULL. */
static int get_meta(struct gcs *g, const char *key, struct obj_info *out, char gen[32], uint32_t *crc)
{
	struct http_req req;
	char *url = obj_url(g, key, "");
	json_t *j = NULL, *gv;
	int rc = -ENOMEM;

	if (!url)
		goto out;
	req_init(&req, "GET", url, NULL);
	rc = do_json(g, &req, "stat", key, &j);
	if (rc)
		goto out;
	rc = j ? obj_from_json(j, out) : -EIO;
	if (!rc && gen) {
		gv = json_object_get(j, "generation");
		if (json_is_string(gv) && json_string_length(gv) < 32)
			snprintf(gen, 32, "%s", json_string_value(gv));
		else
			rc = -EIO;
	}
	if (!rc && crc) {
		gv = json_object_get(j, "crc32c");
		if (!json_is_string(gv) || crc32c_from_base64(json_string_value(gv), crc))
			rc = -EIO;
	}
	if (rc)
		log_error("gcs: stat %s: malformed object resource", key);
out:
	json_decref(j);
	free(url);
	return rc;
}

static int gcs_stat(struct backend *b, const char *key, struct obj_info *out)
{
	return get_meta(b->priv, key, out, NULL, NULL);
}

/* ---------- open ---------- */

static void gcs_free(struct gcs *g)
{
	if (!g)
		return;
	oauth2_free(g->auth);
	http_free(g->http);
	free(g->api);
	free(g->bucket);
	free(g->bucket_enc);
	free(g->tmp_prefix);
	free(g);
}

/* buckets.get: the token works, the bucket is there and this account may use it. */
static int check_bucket(struct gcs *g, char **why)
{
	const struct oauth2_key *k = oauth2_get_key(g->auth);
	struct http_resp resp = HTTP_RESP_INIT;
	struct http_req req;
	char *url = NULL, *m = NULL, *tok = NULL, *reason = NULL;
	int rc;

	/* the token first, so a refused key is told apart from a missing bucket */
	rc = oauth2_token(g->auth, &tok, &reason);
	if (rc) {
		/* the reason names the account and key id */
		why_fail(why, rc, "gcs: %s", reason ? reason : strerror(-rc));
		goto out;
	}
	rc = -ENOMEM;
	if (asprintf(&url, "%s/storage/v1/b/%s", g->api, g->bucket_enc) < 0) {
		url = NULL;
		goto out;
	}
	req_init(&req, "GET", url, NULL);
	req.deadline_s = GCS_OPEN_DEADLINE_S;
	rc = gcs_do(g, &req, &resp);
	if (rc) {
		why_fail(why, rc, "gcs: cannot reach %s: %s", g->api,
			 resp.error[0] ? resp.error : strerror(-rc));
		goto out;
	}
	if (resp.status == 200) {
		json_t *j = reply_json(&resp);

		rc = j ? 0 : why_fail(why, -EIO, "gcs: %s answered buckets.get with no bucket resource",
				      g->api);
		json_decref(j);
		goto out;
	}
	m = err_msg(&resp);
	rc = http_errno(resp.status);
	if (resp.status == 404)
		why_fail(why, rc, "gcs: bucket '%s' does not exist (%s)", g->bucket, m);
	else if (resp.status == 403)
		why_fail(why, rc, "gcs: %s (key id %s) may not use bucket '%s' (%s)", k->client_email,
			 k->private_key_id, g->bucket, m);
	else if (resp.status == 401)
		why_fail(why, rc, "gcs: the access token for %s (key id %s) was refused (%s)",
			 k->client_email, k->private_key_id, m);
	else
		why_fail(why, rc, "gcs: checking bucket '%s' at %s: %s", g->bucket, g->api, m);
out:
	free(tok);
	free(reason);
	free(m);
	free(url);
	http_resp_free(&resp);
	return rc;
}

static int gcs_open(struct backend *b, const struct backend_conf *conf, char **why)
{
	const char *keyjson, *project, *ep = conf->endpoint;
	struct http_conf hc = { 0 };
	struct oauth2_key key;
	struct gcs *g;
	char *reason = NULL;
	int rc = -ENOMEM;

	*why = NULL;
	memset(&key, 0, sizeof(key));
	keyjson = secret_need(conf->secret, "GOOGLE_SERVICE_ACCOUNT_JSON_KEY");
	project = secret_need(conf->secret, "GOOGLE_PROJECT_ID");
	if (!keyjson || !project)
		return why_fail(why, -EINVAL, "gcs: %s is missing: put it in --secret-dir (or the "
				"environment)",
				!keyjson ? "GOOGLE_SERVICE_ACCOUNT_JSON_KEY" : "GOOGLE_PROJECT_ID");
	if (!conf->src->bucket || !*conf->src->bucket)
		return why_fail(why, -EINVAL, "gcs: the source names no bucket (gs://BUCKET[/PREFIX])");
	rc = oauth2_key_parse(keyjson, &key, &reason);
	if (rc) {
		why_fail(why, rc, "gcs: %s", reason ? reason : "bad key file");
		free(reason);
		return rc;
	}
	rc = -ENOMEM;
	g = calloc(1, sizeof(*g));
	if (!g)
		goto err;
	if (ep && *ep && strncmp(ep, "http://", 7) && strncmp(ep, "https://", 8)) {
		rc = why_fail(why, -EINVAL, "gcs: --endpoint '%s' must start with http:// or https://", ep);
		goto err;
	}
	g->api = strdup(ep && *ep ? ep : GCS_DEFAULT_ENDPOINT);
	g->bucket = strdup(conf->src->bucket);
	g->bucket_enc = enc_uri(conf->src->bucket, 0);
	g->tmp_prefix = source_key(conf->src, GCS_TMP_DIR);
	if (!g->api || !g->bucket || !g->bucket_enc || !g->tmp_prefix)
		goto err;
	for (size_t l = strlen(g->api); l > 8 && g->api[l - 1] == '/'; l--)
		g->api[l - 1] = 0;
	g->page = 1000;   /* the API's largest page */
	hc.ca_pem = secret_get(conf->secret, "CA_CERT_DATA");
	hc.timeout_s = conf->timeout_s;
	hc.retries = conf->retries;
	g->retries = conf->retries > 0 ? conf->retries : 0;
	rc = http_new(&g->http, &hc, why);
	if (rc)
		goto err;
	rc = oauth2_new(&g->auth, &key, GCS_SCOPE, g->http);
	if (rc)
		goto err;
	rc = check_bucket(g, why);
	if (rc)
		goto err;
	log_info("gcs: bucket %s at %s as %s (key id %s, project %s)", g->bucket, g->api,
		 oauth2_get_key(g->auth)->client_email, oauth2_get_key(g->auth)->private_key_id, project);
	g->conf = conf;
	b->priv = g;
	return 0;
err:
	if (!*why && rc == -ENOMEM)
		why_fail(why, rc, "gcs: out of memory");
	oauth2_key_free(&key);
	gcs_free(g);
	return rc;
}

static void gcs_close(struct backend *b)
{
	gcs_free(b->priv);
	b->priv = NULL;
}

/* ---------- list ---------- */

struct lister {
	const char *prefix;
	size_t plen;
	list_fn fn;
	void *arg;
	unsigned limit, seen;
	int stop;
};

static int emit(struct lister *l, const char *name, const struct obj_info *oi)
{
	if (strncmp(name, l->prefix, l->plen))
		return -EIO;    /* the server listed a name outside the prefix asked for */
	/* the prefix's own folder marker arrives as "": rmdir looks for it */
	if (l->fn(l->arg, name + l->plen, oi))
		l->stop = 1;
	if (l->limit && ++l->seen >= l->limit)
		l->stop = 1;
	return 0;
}

/* One page: items and prefixes merged in name order, as a listing of one level reads. */
static int list_page(struct lister *l, json_t *j, char **next)
{
	json_t *items = json_object_get(j, "items"), *pfx = json_object_get(j, "prefixes");
	json_t *tok = json_object_get(j, "nextPageToken");
	size_t i = 0, k = 0, ni, np;
	int rc = 0;

	if ((items && !json_is_array(items)) || (pfx && !json_is_array(pfx)) || (tok && !json_is_string(tok)))
		return -EIO;
	ni = json_array_size(items);
	np = json_array_size(pfx);
	while (!rc && !l->stop && (i < ni || k < np)) {
		json_t *it = i < ni ? json_array_get(items, i) : NULL;
		json_t *p = k < np ? json_array_get(pfx, k) : NULL;
		const char *in = it ? json_string_value(json_object_get(it, "name")) : NULL;
		const char *pn = p ? json_string_value(p) : NULL;
		struct obj_info oi;

		if ((it && !in) || (p && !pn))
			return -EIO;
		if (in && (!pn || strcmp(in, pn) < 0)) {
			if (obj_from_json(it, &oi))
				return -EIO;
			rc = emit(l, in, &oi);
			i++;
		} else {
			memset(&oi, 0, sizeof(oi));
			oi.is_dir = 1;
			rc = emit(l, pn, &oi);
			k++;
		}
	}
	if (!rc && tok && json_string_length(tok) && !(*next = strdup(json_string_value(tok))))
		rc = -ENOMEM;
	return rc;
}

static int gcs_list(struct backend *b, const char *prefix, int delim, unsigned limit, list_fn fn, void *arg)
{
	struct gcs *g = b->priv;
	struct lister l = { prefix, strlen(prefix), fn, arg, limit, 0, 0 };
	char *penc = enc_uri(prefix, 0), *token = NULL, *url = NULL;
	int rc = penc ? 0 : -ENOMEM;

	while (!rc && !l.stop) {
		struct http_resp resp = HTTP_RESP_INIT;
		struct http_req req;
		char *tenc = token ? enc_uri(token, 0) : NULL;
		unsigned want = g->page;
		json_t *j;

		if (limit && limit - l.seen < want)
			want = limit - l.seen;
		free(url);
		if ((token && !tenc) ||
		    asprintf(&url, "%s/storage/v1/b/%s/o?prefix=%s%s&maxResults=%u%s%s", g->api,
			     g->bucket_enc, penc, delim ? "&delimiter=%2F" : "", want,
			     tenc ? "&pageToken=" : "", tenc ? tenc : "") < 0) {
			url = NULL;
			free(tenc);
			rc = -ENOMEM;
			break;
		}
		free(tenc);
		free(token);
		token = NULL;
		req_init(&req, "GET", url, NULL);
		rc = gcs_do(g, &req, &resp);
		if (!rc && resp.status != 200)
			rc = fail("list", prefix, &resp);
		if (!rc) {
			j = reply_json(&resp);
			rc = j ? list_page(&l, j, &token) : -EIO;
			json_decref(j);
			if (rc == -EIO)
				log_error("gcs: list %s: malformed reply", prefix);
		}
		http_resp_free(&resp);
		if (!token)
			break;
	}
	free(token);
	free(url);
	free(penc);
	return rc;
}

/* ---------- read ---------- */

static ssize_t gcs_read_ver(struct backend *b, const char *key, struct obj_ver *v, uint64_t off, size_t len,
			    void *buf)
{
	struct gcs *g = b->priv;
	struct http_resp resp = HTTP_RESP_INIT;
	struct http_req req;
	char range[80], q[sizeof(v->tag) + 40], *url;
	const char *hdrs[] = { range, NULL };
	ssize_t rc;

	if (!len)
		return 0;
	/* the generation read first: ifGenerationMatch answers 412 once the object is another one */
	if (v && v->known && v->tag[0])
		snprintf(q, sizeof(q), "?alt=media&ifGenerationMatch=%s", v->tag);
	else
		snprintf(q, sizeof(q), "?alt=media");
	url = obj_url(g, key, q);
	if (!url)
		return -ENOMEM;
	snprintf(range, sizeof(range), "Range: bytes=%llu-%llu", ULL(off), ULL(off + len - 1));
	req_init(&req, "GET", url, hdrs);
	req.out = buf;
	req.out_cap = len;
	rc = gcs_do(g, &req, &resp);
	if (rc)
		goto out;
	if (resp.status == 206 || (resp.status == 200 && off == 0))
		rc = v && (rc = objver_check(v, &resp, "X-Goog-Generation")) ? rc : (ssize_t)resp.out_len;
	else if (resp.status == 412)
		rc = -ESTALE;
	else if (resp.status == 416)
		rc = v ? objver_check(v, &resp, "X-Goog-Generation") : 0;  /* at or past the end, or empty */
	else if (resp.status == 404)
		rc = -ENOENT;
	else
		rc = fail("read", key, &resp);
out:
	http_resp_free(&resp);
	free(url);
	return rc;
}

static ssize_t gcs_read(struct backend *b, const char *key, uint64_t off, size_t len, void *buf)
{
	return gcs_read_ver(b, key, NULL, off, len, buf);
}

/* ---------- checksums, deletes, metadata ---------- */

/* GCS refuses an upload whose bytes do not match the checksum sent with it: 400, with a message that
 * names the hash ("Provided CRC32C \"...\" doesn't match calculated CRC32C \"...\"."). */
static int hash_refused(const struct http_resp *resp)
{
	char *m;
	int yes;

	if (resp->status != 400)
		return 0;
	m = err_msg(resp);
	yes = m && (strstr(m, "CRC32C") || strstr(m, "MD5"));
	free(m);
	return yes;
}

/* What an upload's reply says about the object it made: its size and CRC32C must be what was sent.
 * gen/metagen are filled in whenever the reply names them, even when the check fails, so the caller
 * can delete exactly that generation. -EBADMSG: the object exists with other bytes. */
static int check_made(const char *key, const struct http_resp *resp, uint64_t size, uint32_t crc,
		      char gen[32], char metagen[32])
{
	json_t *j = reply_json(resp), *v;
	struct obj_info oi;
	uint32_t have;
	int rc = 0;

	gen[0] = metagen[0] = 0;
	if (!j || obj_from_json(j, &oi)) {
		log_error("gcs: upload %s: the reply is not the object just written", key);
		json_decref(j);
		return -EIO;
	}
	v = json_object_get(j, "generation");
	if (json_is_string(v) && json_string_length(v) < 32)
		snprintf(gen, 32, "%s", json_string_value(v));
	v = json_object_get(j, "metageneration");
	if (json_is_string(v) && json_string_length(v) < 32)
		snprintf(metagen, 32, "%s", json_string_value(v));
	v = json_object_get(j, "crc32c");
	if (oi.size != size) {
		log_error("gcs: upload %s: the server made %llu bytes of %llu", key, ULL(oi.size), ULL(size));
		rc = -EBADMSG;
	} else if (v && (crc32c_from_base64(json_string_value(v), &have) || have != crc)) {
		/* a store that did not check the hash sent: the object is not the bytes we had */
		char want[9];

		crc32c_base64(crc, want);
		log_error("gcs: upload %s: the server made an object with CRC32C %s; the bytes sent have %s",
			  key, json_is_string(v) ? json_string_value(v) : "(malformed)", want);
		rc = -EBADMSG;
	}
	json_decref(j);
	return rc;
}

/* objects.delete, of one generation when gen is given (a newer object by someone else stays). */
static int delete_obj(struct gcs *g, const char *key, const char *gen)
{
	struct http_resp resp = HTTP_RESP_INIT;
	struct http_req req;
	char sfx[64] = "", *url;
	int rc = -ENOMEM;

	if (gen && *gen)
		snprintf(sfx, sizeof(sfx), "?ifGenerationMatch=%s", gen);
	url = obj_url(g, key, sfx);
	if (!url)
		return rc;
	req_init(&req, "DELETE", url, NULL);
	rc = gcs_do(g, &req, &resp);
	if (!rc && resp.status != 204 && resp.status != 200 && resp.status != 404)
		rc = fail("delete", key, &resp);
	http_resp_free(&resp);
	free(url);
	return rc;
}

static int remove_one(struct gcs *g, const char *key)
{
	return delete_obj(g, key, NULL);
}

/* An upload made an object that is not what was sent: take it away again, so a failed close()
 * never leaves a published object behind. */
static void unmake(struct gcs *g, const char *key, const char *gen)
{
	if (delete_obj(g, key, gen))
		log_error("gcs: %s: could not delete the bad generation %s", key, gen);
	else
		log_warn("gcs: %s: deleted generation %s, which did not match what was sent", key, gen);
}

/* {"metadata": {"snapfs-sha256": SHA}} into the object resource j (sha256 may be NULL: nothing). */
static int add_sha(json_t *j, const char *sha256)
{
	if (!j)
		return -ENOMEM;
	if (sha256 && json_object_set_new(j, "metadata", json_pack("{s:s}", GCS_SHA_KEY, sha256)))
		return -ENOMEM;
	return 0;
}

/* Record the SHA-256 on exactly the generation and metageneration a streamed session made (its
 * metadata was fixed before the bytes were known). A newer write by someone else fails the
 * preconditions (412) and is left alone. A failure is only logged: the object is complete and its
 * CRC32C was checked; the SHA-256 is the extra that lets a restore verify end to end. */
static void patch_sha(struct gcs *g, const char *key, const char *gen, const char *metagen,
		      const char *sha256)
{
	static const char *const hdrs[] = { "Content-Type: application/json; charset=UTF-8", NULL };
	struct http_resp resp = HTTP_RESP_INIT;
	struct http_req req;
	char sfx[128], *url, *body = NULL;
	json_t *j = json_object();

	if (!gen[0])
		return;
	snprintf(sfx, sizeof(sfx), "?ifGenerationMatch=%s%s%s", gen, metagen[0] ? "&ifMetagenerationMatch=" : "",
		 metagen);
	url = obj_url(g, key, sfx);
	if (!add_sha(j, sha256))
		body = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (!url || !body) {
		log_warn("gcs: %s: out of memory recording its SHA-256", key);
		goto out;
	}
	req_init(&req, "PATCH", url, hdrs);
	req.body = body;
	req.body_len = strlen(body);
	if (gcs_do(g, &req, &resp) || resp.status != 200) {
		char *m = err_msg(&resp);

		log_warn("gcs: %s: stored, but its SHA-256 could not be recorded as metadata (%s)", key,
			 resp.status ? (m ? m : "?") : (resp.error[0] ? resp.error : "no reply"));
		free(m);
	}
out:
	http_resp_free(&resp);
	free(body);
	free(url);
}

/* ---------- resumable uploads ---------- */

/* Start a session; sha256 (or NULL) becomes the object's metadata, which a session fixes here. */
static int open_session(struct upload *up, const char *sha256)
{
	static const char *const hdrs[] = { "Content-Type: application/json; charset=UTF-8",
					     "X-Upload-Content-Type: application/octet-stream", NULL };
	struct gcs *g = up->g;
	struct http_resp resp = HTTP_RESP_INIT;
	struct http_req req;
	char *enc = enc_uri(up->target, 0), *url = NULL, *body = NULL;
	json_t *j = json_pack("{s:s}", "contentType", "application/octet-stream");
	int rc = -ENOMEM;

	if (!add_sha(j, sha256))
		body = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (!body || !enc ||
	    asprintf(&url, "%s/upload/storage/v1/b/%s/o?uploadType=resumable&name=%s%s", g->api,
		     g->bucket_enc, enc, up->base ? "" : create_only_q(g, up->key)) < 0) {
		url = NULL;
		goto out;
	}
	req_init(&req, "POST", url, hdrs);
	req.body = body;
	req.body_len = strlen(body);
	rc = gcs_do(g, &req, &resp);
	if (rc)
		goto out;
	if (resp.status != 200 && resp.status != 201) {
		rc = fail("start upload", up->key, &resp);
		goto out;
	}
	up->session = http_header(&resp, "Location");
	if (!up->session || (strncmp(up->session, "http://", 7) && strncmp(up->session, "https://", 8))) {
		log_error("gcs: start upload %s: no session URI in the reply", up->key);
		rc = -EIO;
	}
out:
	http_resp_free(&resp);
	free(body);
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
	return check_made(up->key, resp, total, up->crc, up->gen, up->metagen);
}

/* Ask the session what it has (PUT, Content-Range: bytes * / *). Sets up->sent; 1 when the upload
 * turns out to be complete already. */
static int query_session(struct upload *up, uint64_t total, int final)
{
	static const char *const hdrs[] = { "Content-Range: bytes */*", NULL };
	struct http_resp resp = HTTP_RESP_INIT;
	struct http_req req;
	uint64_t have;
	int rc;

	req_init(&req, "PUT", up->session, hdrs);
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
		rc = fail("upload status", up->key, &resp);
	}
out:
	http_resp_free(&resp);
	return rc;
}

/* Bytes [from, from+len) of the session, read from fd at fd_off or from mem. */
struct span_src {
	int fd;
	off_t fd_off;
	const unsigned char *mem;
	uint64_t from, len;
};

/* Send a span; with final, it ends the upload at from+len bytes (len may be 0) and carries the CRC32C
 * of the whole session (X-Goog-Hash), which the server checks before it makes the object. Resumes from
 * what the server reports after a short write or a broken connection, up to conf->retries failed
 * attempts. -EBADMSG: the server refused the bytes for their checksum, or made other bytes. */
static int send_span(struct upload *up, const struct span_src *s, int final)
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
				  up->key, ULL(cur), ULL(s->from), ULL(end));
			rc = -EIO;
			break;
		}
		if (cur == end && !final)
			break;
		if (cur == end)
			snprintf(cr, sizeof(cr), "Content-Range: bytes */%llu", ULL(end));
		else if (final)
			snprintf(cr, sizeof(cr), "Content-Range: bytes %llu-%llu/%llu", ULL(cur),
				 ULL(end) - 1, ULL(end));
		else
			snprintf(cr, sizeof(cr), "Content-Range: bytes %llu-%llu/*", ULL(cur),
				 ULL(end) - 1);
		req_init(&req, "PUT", up->session, hdrs);
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
				log_error("gcs: upload %s: no progress at byte %llu", up->key, ULL(cur));
				rc = -EIO;
				break;
			}
			up->sent = have;
			if (have < end)
				log_debug("gcs: upload %s: the server kept %llu of %llu bytes; sending the "
					  "rest",
					  up->key, ULL(have - cur), ULL(end - cur));
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
		if (!rc && final && hash_refused(&resp)) {
			/* the bytes the server holds are not the ones read from the spool: a chunk was
			 * changed on the way. Earlier chunks are gone from the spool, so this is final. */
			char *m = err_msg(&resp);

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
				rc = fail("upload chunk", up->key, &resp);
				break;
			}
			/* Out of step with the session? A request resent under us (libcurl replays a request
			 * whose reused connection died) lands after the server kept part of the first try.
			 * Resynchronise once from the server's offset; a real refusal keeps the offset. */
			sync = query_session(up, end, final);
			if (sync == 1) {
				rc = 0;
				break;
			}
			if (sync || up->sent == cur) {
				rc = sync == -EBADMSG ? sync : fail("upload chunk", up->key, &resp);
				break;
			}
			log_warn("gcs: upload %s: the session has %llu bytes, not %llu; going on from there",
				 up->key, ULL(up->sent), ULL(cur));
			rc = 0;
			continue;
		}
		/* a broken connection, a timeout or a 5xx/429: ask what arrived, then go on from there */
		if (++fails > up->g->retries) {
			if (!rc)
				rc = fail("upload chunk", up->key, &resp);
			break;
		}
		log_warn("gcs: upload %s: chunk at %llu interrupted (%s); asking the server what it has",
			 up->key, ULL(cur), rc ? (resp.error[0] ? resp.error : strerror(-rc)) :
			 "a retryable status");
		http_backoff(up->g->http, fails - 1);
		rc = query_session(up, end, final);
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

static void cancel_session(struct upload *up)
{
	struct http_resp resp = HTTP_RESP_INIT;
	struct http_req req;

	req_init(&req, "DELETE", up->session, NULL);
	/* 499 is the documented answer to a cancel; 404/410: already gone */
	if (!gcs_do(up->g, &req, &resp) && resp.status != 499 && resp.status != 404 && resp.status != 410 &&
	    resp.status / 100 != 2)
		fail("cancel upload", up->key, &resp);
	http_resp_free(&resp);
}

/* The final request: the last bytes (maybe none) and the whole session's CRC32C. On failure the
 * session is cancelled, or, when it made an object anyway that is not what was sent, that object is
 * deleted again: a failed commit leaves neither a session nor an object. */
static int finalize(struct upload *up, const struct span_src *s)
{
	int rc = send_span(up, s, 1);

	if (rc && up->gen[0])
		unmake(up->g, up->target, up->gen);
	else if (rc)
		cancel_session(up);
	return rc;
}

static void upload_free(struct upload *up)
{
	pthread_mutex_destroy(&up->lock);
	free(up->key);
	free(up->target);
	free(up->session);
	free(up->tail);
	free(up);
}

static struct upload *upload_new(struct gcs *g, const char *key, uint64_t base)
{
	struct upload *up = calloc(1, sizeof(*up));

	if (!up)
		return NULL;
	pthread_mutex_init(&up->lock, NULL);
	up->g = g;
	up->base = base;
	up->key = strdup(key);
	if (!up->key) {
		upload_free(up);
		return NULL;
	}
	return up;
}

static int gcs_upload_begin(struct backend *b, const char *key, uint64_t base, struct upload **out)
{
	struct gcs *g = b->priv;
	struct upload *up = upload_new(g, key, base);
	int rc = -ENOMEM;

	*out = NULL;
	if (!up)
		return -ENOMEM;
	if (base) {
		struct obj_info oi;
		uint64_t rnd = 0;

		rc = get_meta(g, key, &oi, up->base_gen, &up->base_crc);
		if (rc)
			goto err;
		if (oi.size != base) {
			log_error("gcs: append to %s: it has %llu bytes, not %llu", key,
				  ULL(oi.size), ULL(base));
			rc = -ESTALE;
			goto err;
		}
		if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
			rnd = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)up;
		if (asprintf(&up->target, "%sappend-%016llx", g->tmp_prefix, ULL(rnd)) < 0) {
			up->target = NULL;
			rc = -ENOMEM;
			goto err;
		}
	} else if (!(up->target = strdup(key))) {
		rc = -ENOMEM;
		goto err;
	}
	/* the SHA-256 is not known yet: it is patched on after the final request */
	rc = open_session(up, NULL);
	if (rc)
		goto err;
	*out = up;
	return 0;
err:
	upload_free(up);
	return rc;
}

static int upload_part_locked(struct upload *up, const struct part *p)
{
	uint64_t at = p->obj_off - up->base, aligned = p->len / GCS_ALIGN * GCS_ALIGN;
	struct span_src s = { p->fd, p->fd_off, NULL, at, aligned };
	uint32_t crc = up->crc;
	int rc;

	/* sessions take bytes in order; only the last part may be unaligned */
	if (p->obj_off < up->base || at != up->sent || up->tail_len) {
		log_error("gcs: upload %s: part %u at %llu out of order (the session has %llu bytes%s)",
			  up->key, p->n, ULL(p->obj_off), ULL(up->sent),
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
		rc = send_span(up, &s, 0);
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

static int gcs_upload_part(struct upload *up, const struct part *p)
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

	if (get_meta(up->g, up->key, &oi, gen, &crc))
		return 0;
	return oi.size == up->base + up->sent && crc == crc32c_combine(up->base_crc, up->crc, up->sent);
}

/* key = base object (the generation seen at begin) + the temporary; then drop the temporary. */
static int compose_append(struct upload *up, const char *sha256)
{
	static const char *const hdrs[] = { "Content-Type: application/json; charset=UTF-8", NULL };
	struct gcs *g = up->g;
	struct http_resp resp = HTTP_RESP_INIT;
	struct http_req req;
	char *url = NULL, *body = NULL, sfx[64];
	json_t *j;
	struct obj_info oi;
	int rc = -ENOMEM;

	snprintf(sfx, sizeof(sfx), "/compose?ifGenerationMatch=%s", up->base_gen);
	/* the destination's metadata is what this request gives: an old SHA-256 is not carried over */
	j = json_pack("{s:[{s:s, s:{s:s}}, {s:s}], s:{s:s}}", "sourceObjects", "name", up->key,
		      "objectPreconditions", "ifGenerationMatch", up->base_gen, "name", up->target,
		      "destination", "contentType", "application/octet-stream");
	if (!add_sha(json_object_get(j, "destination"), sha256))
		body = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	url = obj_url(g, up->key, sfx);
	if (!body || !url)
		goto out;
	req_init(&req, "POST", url, hdrs);
	req.body = body;
	req.body_len = strlen(body);
	rc = gcs_do(g, &req, &resp);
	if (rc)
		goto out;
	if (resp.status != 200) {
		rc = fail("compose", up->key, &resp);
		if (resp.status == 412 && composed_before(up)) {
			log_info("gcs: %s was composed by an attempt whose reply was lost", up->key);
			rc = 0;
		}
		goto out;
	}
	j = reply_json(&resp);
	if (!j || obj_from_json(j, &oi) || oi.size != up->base + up->sent) {
		log_error("gcs: compose %s: the reply is not the %llu-byte object expected", up->key,
			  ULL(up->base + up->sent));
		rc = -EIO;
	}
	json_decref(j);
out:
	if (remove_one(g, up->target))
		log_warn("gcs: could not remove the temporary %s", up->target);
	http_resp_free(&resp);
	free(url);
	free(body);
	return rc;
}

static int gcs_upload_commit(struct upload *up, unsigned nparts, const char *sha256)
{
	struct span_src s = { -1, 0, up->tail, up->sent, up->tail_len };
	int rc;

	(void)nparts;
	if (up->base && !up->sent && !up->tail_len) {
		/* nothing new after the base: the object is already what it should be */
		cancel_session(up);
		upload_free(up);
		return 0;
	}
	rc = finalize(up, &s);
	if (!rc && up->base)
		rc = compose_append(up, sha256);
	else if (!rc && sha256)
		patch_sha(up->g, up->key, up->gen, up->metagen, sha256);
	upload_free(up);
	return rc == -EBADMSG ? -EIO : rc;
}

static void gcs_upload_abort(struct upload *up)
{
	if (!up)
		return;
	cancel_session(up);
	upload_free(up);
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
static char *gcs_upload_token(struct upload *up)
{
	char *t = NULL;

	if (up->base && asprintf(&t, "%s %s", up->session, up->target) < 0)
		return NULL;
	return up->base ? t : strdup(up->session);
}

/* After a crash: cancel the session (DELETE on its URI) and drop an append's temporary. A session
 * that already made its object says so to a status query (200/201): then there is nothing to cancel. */
static int gcs_upload_forget(struct backend *b, const char *key, const char *token)
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
	req_init(&req, "DELETE", uri, NULL);
	rc = gcs_do(g, &req, &resp);
	if (rc)
		goto out;
	/* 499 is the answer to a cancel; 404/410: the session was gone already */
	if (resp.status == 404 || resp.status == 410) {
		rc = -ENOENT;
	} else if (resp.status != 499 && resp.status / 100 != 2) {
		http_resp_free(&resp);
		resp = (struct http_resp)HTTP_RESP_INIT;
		req_init(&req, "PUT", uri, status_hdrs);
		rc = gcs_do(g, &req, &resp);
		if (!rc && resp.status != 200 && resp.status != 201)
			rc = fail("cancel upload", key, &resp);
		if (rc)
			goto out;
		rc = -ENOENT;   /* the session made its object before the crash */
	}
	if (tmp) {
		int trc = remove_one(g, tmp);

		if (trc)
			rc = trc;
	}
out:
	http_resp_free(&resp);
	free(uri);
	return rc;
}

/* ---------- put ---------- */

/* A small object in one multipart/related request: a JSON part with its metadata (name, CRC32C, the
 * SHA-256) and the bytes, built in one buffer (at most GCS_INLINE_MAX). */
static int put_inline(struct gcs *g, const char *key, int fd, off_t fd_off, uint64_t len, const char *sha256)
{
	static const char meta_hdr[] = "Content-Type: application/json; charset=UTF-8\r\n\r\n";
	static const char media_hdr[] = "Content-Type: application/octet-stream\r\n\r\n";
	struct http_resp resp = HTTP_RESP_INIT;
	struct http_req req;
	const char *hdrs[] = { NULL, NULL };
	char bnd[48], ctype[96], crcb[9], gen[32], metagen[32], *meta = NULL, *url = NULL, *head = NULL;
	unsigned char *buf = NULL, rnd[16];
	size_t room, hlen, tlen, done = 0;
	uint32_t crc;
	json_t *j;
	int rc = -ENOMEM;

	/* the JSON part is at most the key escaped (6 bytes a byte), the SHA-256 and a few names */
	room = 512 + 6 * strlen(key) + 2 * sizeof(bnd);
	buf = malloc(room + len + sizeof(bnd) + 16);
	if (!buf)
		goto out;
	while (done < len) {
		ssize_t got = pread(fd, buf + room + done, (size_t)(len - done), fd_off + (off_t)done);

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			rc = got < 0 ? -errno : -EIO;
			log_error("gcs: put %s: reading the cache: %s", key, strerror(-rc));
			goto out;
		}
		done += (size_t)got;
	}
	crc = crc32c_update(0, buf + room, (size_t)len);
	crc32c_base64(crc, crcb);
	j = json_pack("{s:s, s:s, s:s}", "name", key, "contentType", "application/octet-stream", "crc32c", crcb);
	if (!add_sha(j, sha256))
		meta = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (!meta)
		goto out;
	/* a boundary that occurs in neither part */
	for (unsigned n = 0;; n++) {
		if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd)) {
			memset(rnd, 0x5a, sizeof(rnd));
			memcpy(rnd, &n, sizeof(n));
		}
		memcpy(bnd, "snapfs_", 7);
		enc_hex(rnd, sizeof(rnd), bnd + 7);
		if (!strstr(meta, bnd) && !memmem(buf + room, (size_t)len, bnd, strlen(bnd)))
			break;
	}
	if (asprintf(&head, "--%s\r\n%s%s\r\n--%s\r\n%s", bnd, meta_hdr, meta, bnd, media_hdr) < 0) {
		head = NULL;
		goto out;
	}
	hlen = strlen(head);
	if (hlen > room) {
		rc = -ENAMETOOLONG;
		goto out;
	}
	memcpy(buf + room - hlen, head, hlen);
	tlen = (size_t)snprintf((char *)buf + room + len, sizeof(bnd) + 16, "\r\n--%s--\r\n", bnd);
	snprintf(ctype, sizeof(ctype), "Content-Type: multipart/related; boundary=%s", bnd);
	hdrs[0] = ctype;
	if (asprintf(&url, "%s/upload/storage/v1/b/%s/o?uploadType=multipart%s", g->api, g->bucket_enc,
		     create_only_q(g, key)) < 0) {
		url = NULL;
		goto out;
	}
	req_init(&req, "POST", url, hdrs);
	req.body = buf + room - hlen;
	req.body_len = hlen + (size_t)len + tlen;
	rc = gcs_do(g, &req, &resp);
	if (rc)
		goto out;
	if (resp.status == 200 || resp.status == 201) {
		rc = check_made(key, &resp, len, crc, gen, metagen);
		if (rc == -EBADMSG && gen[0])
			unmake(g, key, gen);
	} else if (hash_refused(&resp)) {
		char *m = err_msg(&resp);

		log_warn("gcs: put %s: the store refused the bytes for their checksum (%s)", key, m ? m : "?");
		free(m);
		rc = -EBADMSG;
	} else {
		rc = fail("put", key, &resp);
		if (rc == -EEXIST && *create_only_q(g, key)) {
			struct obj_info oi;
			uint32_t have;

			/* an attempt whose reply was lost may have made it: then the object is ours */
			if (sha256 && !get_meta(g, key, &oi, NULL, &have) && oi.size == len && have == crc &&
			    !strcmp(oi.sha256, sha256))
				rc = 0;
		}
	}
out:
	http_resp_free(&resp);
	free(url);
	free(head);
	free(meta);
	free(buf);
	return rc;
}

/* A whole object too big to hold in memory: a session whose metadata carries the SHA-256 from the
 * start, and one final request straight from the cache with the CRC32C. */
static int put_session(struct gcs *g, const char *key, int fd, off_t fd_off, uint64_t len, const char *sha256)
{
	struct upload *up = upload_new(g, key, 0);
	struct span_src s = { fd, fd_off, NULL, 0, len };
	int rc = -ENOMEM;

	if (!up || !(up->target = strdup(key)))
		goto out;
	rc = crc32c_fd(&up->crc, fd, fd_off, len);
	if (rc) {
		log_error("gcs: put %s: reading the cache: %s", key, strerror(-rc));
		goto out;
	}
	rc = open_session(up, sha256);
	if (!rc)
		rc = finalize(up, &s);
out:
	if (up)
		upload_free(up);
	return rc;
}

/* A bad checksum here means bytes changed on the way; the cache still has them all, so send again. */
static int gcs_put(struct backend *b, const char *key, int fd, off_t fd_off, uint64_t len, const char *sha256)
{
	struct gcs *g = b->priv;
	int rc;

	for (int tries = 0;; tries++) {
		if (len <= GCS_INLINE_MAX)
			rc = put_inline(g, key, fd, fd_off, len, sha256);
		else
			rc = put_session(g, key, fd, fd_off, len, sha256);
		if (rc != -EBADMSG || tries >= g->retries)
			break;
		log_warn("gcs: put %s: sending it again", key);
	}
	return rc == -EBADMSG ? -EIO : rc;
}

/* ---------- remove, copy ---------- */

static int gcs_remove(struct backend *b, const char *const *keys, size_t n)
{
	int rc = 0;

	for (size_t i = 0; i < n; i++) {
		int r = remove_one(b->priv, keys[i]);

		if (r && !rc)
			rc = r;
	}
	return rc;
}

/* One objects.rewrite call: 0 when the copy is done, 1 with *token set when it needs another call. */
static int rewrite_step(struct gcs *g, const char *from, const char *url, char **token)
{
	struct http_req req;
	json_t *j, *done, *tok;
	struct obj_info oi;
	int rc;

	req_init(&req, "POST", url, NULL);
	rc = do_json(g, &req, "copy", from, &j);
	if (rc)
		return rc;
	done = json_object_get(j, "done");
	tok = json_object_get(j, "rewriteToken");
	rc = -EIO;
	if (json_is_true(done) && !obj_from_json(json_object_get(j, "resource"), &oi))
		rc = 0;
	else if (json_is_false(done) && json_is_string(tok) && json_string_length(tok))
		rc = (*token = strdup(json_string_value(tok))) ? 1 : -ENOMEM;
	if (rc == -EIO)
		log_error("gcs: copy %s: malformed rewrite reply", from);
	json_decref(j);
	return rc;
}

/* objects.rewrite, called again with the rewriteToken until done (big objects take several calls). */
static int gcs_copy(struct backend *b, const char *from, const char *to)
{
	struct gcs *g = b->priv;
	char *fenc = enc_uri(from, 0), *tenc = enc_uri(to, 0), *token = NULL, *url = NULL;
	int rc = fenc && tenc ? 1 : -ENOMEM;

	while (rc == 1) {
		char *tk = NULL;

		free(url);
		url = NULL;
		if (token && !(tk = enc_uri(token, 0))) {
			rc = -ENOMEM;
			break;
		}
		free(token);
		token = NULL;
		if (asprintf(&url, "%s/storage/v1/b/%s/o/%s/rewriteTo/b/%s/o/%s%s%s", g->api, g->bucket_enc,
			     fenc, g->bucket_enc, tenc, tk ? "?rewriteToken=" : "", tk ? tk : "") < 0) {
			url = NULL;
			rc = -ENOMEM;
		} else {
			rc = rewrite_step(g, from, url, &token);
		}
		free(tk);
	}
	free(token);
	free(url);
	free(fenc);
	free(tenc);
	return rc;
}

const struct backend_ops gcs_backend_ops = {
	.scheme = "gs",
	.min_part = GCS_ALIGN,
	.max_part = 5ULL << 30,
	.max_parts = 0,
	.parts_any_order = 0,
	.open = gcs_open,
	.close = gcs_close,
	.stat = gcs_stat,
	.list = gcs_list,
	.read = gcs_read,
	.read_ver = gcs_read_ver,
	.put = gcs_put,
	.upload_begin = gcs_upload_begin,
	.upload_part = gcs_upload_part,
	.upload_commit = gcs_upload_commit,
	.upload_abort = gcs_upload_abort,
	.upload_token = gcs_upload_token,
	.upload_forget = gcs_upload_forget,
	.remove = gcs_remove,
	.copy = gcs_copy,
	.move = NULL,
	.list_uploads = NULL,
	.statfs = NULL,
};
