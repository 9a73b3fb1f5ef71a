/* GCS requests: the OAuth2 bearer token on every request (a refused token is dropped and the request
 * made once more), the JSON API's error replies, object resources (objects.get), what an upload's reply
 * says it made, deletes of one generation and the snapfs-sha256 custom metadata. The bottom of
 * backends/gcs/: everything else here builds on it. */
#include "backends/gcs/gcs_priv.h"
#include "backends/gcs/crc32c.h"
#include "backends/gcs/oauth2.h"
#include "common/crypto.h"
#include "common/encode.h"
#include "common/log.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *gcs_create_only_q(const struct gcs *g, const char *key)
{
	size_t n = strlen(key);

	return g->conf && g->conf->create_only && n && key[n - 1] != '/' ? "&ifGenerationMatch=0" : "";
}

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
int gcs_do(struct gcs *g, struct http_req *req, struct http_resp *resp)
{
	struct signer s = { g, NULL };
	int rc;

	req->sign = sign_bearer;
	/* cppcheck-suppress autoVariables ; cleared before this returns */
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

void gcs_req_init(struct http_req *req, const char *method, const char *url, const char *const *hdrs)
{
	memset(req, 0, sizeof(*req));
	req->method = method;
	req->url = url;
	req->headers = hdrs;
	req->body_fd = -1;
}

/* The message of a JSON API error reply, malloc'd ("HTTP 403" when there is none). */
char *gcs_err_msg(const struct http_resp *resp)
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
int gcs_fail(const char *what, const char *key, const struct http_resp *resp)
{
	char *m = gcs_err_msg(resp);

	log_error("gcs: %s %s: %s", what, key, m ? m : "?");
	free(m);
	return resp->status / 100 == 2 ? -EIO : http_errno(resp->status);
}

char *gcs_obj_url(const struct gcs *g, const char *key, const char *suffix)
{
	char *enc = enc_uri(key, 0), *url = NULL;

	if (enc && asprintf(&url, "%s/storage/v1/b/%s/o/%s%s", g->api, g->bucket_enc, enc, suffix) < 0)
		url = NULL;
	free(enc);
	return url;
}

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
int gcs_obj_from_json(json_t *o, struct obj_info *out)
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

json_t *gcs_reply_json(const struct http_resp *resp)
{
	json_t *j = json_loadb(resp->body.data ? resp->body.data : "", resp->body.len, 0, NULL);

	if (j && !json_is_object(j)) {
		json_decref(j);
		j = NULL;
	}
	return j;
}

/* Send req and take a 200 reply's JSON object into *j (NULL when the body is none); a 404 is -ENOENT. */
int gcs_do_json(struct gcs *g, struct http_req *req, const char *op, const char *key, json_t **j)
{
	struct http_resp resp = HTTP_RESP_INIT;
	int rc = gcs_do(g, req, &resp);

	*j = NULL;
	if (!rc && resp.status != 200)
		rc = resp.status == 404 ? -ENOENT : gcs_fail(op, key, &resp);
	else if (!rc)
		*j = gcs_reply_json(&resp);
	http_resp_free(&resp);
	return rc;
}

/* objects.get: metadata of key, its generation if gen is not NULL, its CRC32C if crc is not NULL. */
int gcs_get_meta(struct gcs *g, const char *key, struct obj_info *out, char gen[32], uint32_t *crc)
{
	struct http_req req;
	char *url = gcs_obj_url(g, key, "");
	json_t *j = NULL, *gv;
	int rc = -ENOMEM;

	if (!url)
		goto out;
	gcs_req_init(&req, "GET", url, NULL);
	rc = gcs_do_json(g, &req, "stat", key, &j);
	if (rc)
		goto out;
	rc = j ? gcs_obj_from_json(j, out) : -EIO;
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

/* GCS refuses an upload whose bytes do not match the checksum sent with it: 400, with a message that
 * names the hash ("Provided CRC32C \"...\" doesn't match calculated CRC32C \"...\"."). */
int gcs_hash_refused(const struct http_resp *resp)
{
	char *m;
	int yes;

	if (resp->status != 400)
		return 0;
	m = gcs_err_msg(resp);
	yes = m && (strstr(m, "CRC32C") || strstr(m, "MD5"));
	free(m);
	return yes;
}

/* What an upload's reply says about the object it made: its size and CRC32C must be what was sent.
 * gen/metagen are filled in whenever the reply names them, even when the check fails, so the caller
 * can delete exactly that generation. -EBADMSG: the object exists with other bytes. */
int gcs_check_made(const char *key, const struct http_resp *resp, uint64_t size, uint32_t crc,
		      char gen[32], char metagen[32])
{
	json_t *j = gcs_reply_json(resp), *v;
	struct obj_info oi;
	uint32_t have;
	int rc = 0;

	gen[0] = metagen[0] = 0;
	if (!j || gcs_obj_from_json(j, &oi)) {
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
		log_error("gcs: upload %s: the server made %llu bytes of %llu", key, GCS_ULL(oi.size), GCS_ULL(size));
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
	url = gcs_obj_url(g, key, sfx);
	if (!url)
		return rc;
	gcs_req_init(&req, "DELETE", url, NULL);
	rc = gcs_do(g, &req, &resp);
	if (!rc && resp.status != 204 && resp.status != 200 && resp.status != 404)
		rc = gcs_fail("delete", key, &resp);
	http_resp_free(&resp);
	free(url);
	return rc;
}

int gcs_remove_one(struct gcs *g, const char *key)
{
	return delete_obj(g, key, NULL);
}

/* An upload made an object that is not what was sent: take it away again, so a failed close()
 * never leaves a published object behind. */
void gcs_unmake(struct gcs *g, const char *key, const char *gen)
{
	if (delete_obj(g, key, gen))
		log_error("gcs: %s: could not delete the bad generation %s", key, gen);
	else
		log_warn("gcs: %s: deleted generation %s, which did not match what was sent", key, gen);
}

/* {"metadata": {"snapfs-sha256": SHA}} into the object resource j (sha256 may be NULL: nothing). */
int gcs_add_sha(json_t *j, const char *sha256)
{
	if (!j)
		return -ENOMEM;
	if (sha256 && json_object_set_new(j, "metadata", json_pack("{s:s}", GCS_SHA_KEY, sha256)))
		return -ENOMEM;
	return 0;
}

/* METHOD url with the JSON document j as its body (j is taken: freed here, may be NULL when building it
 * failed); extra: one more header or NULL. 0 with resp filled, or -errno. */
int gcs_send_json(struct gcs *g, const char *method, const char *url, const char *extra, json_t *j,
		  struct http_resp *resp)
{
	const char *hdrs[] = { "Content-Type: application/json; charset=UTF-8", extra, NULL };
	char *body = j ? json_dumps(j, JSON_COMPACT) : NULL;
	struct http_req req;
	int rc = -ENOMEM;

	json_decref(j);
	if (body && url) {
		gcs_req_init(&req, method, url, hdrs);
		req.body = body;
		req.body_len = strlen(body);
		rc = gcs_do(g, &req, resp);
	}
	free(body);
	return rc;
}

/* Record the SHA-256 on exactly the generation and metageneration a streamed session made (its
 * metadata was fixed before the bytes were known). A newer write by someone else fails the
 * preconditions (412) and is left alone. A failure is only logged: the object is complete and its
 * CRC32C was checked; the SHA-256 is the extra that lets a restore verify end to end. */
void gcs_patch_sha(struct gcs *g, const char *key, const char *gen, const char *metagen,
		   const char *sha256)
{
	struct http_resp resp = HTTP_RESP_INIT;
	char sfx[128], *url;
	json_t *j = json_object();
	int rc;

	if (!gen[0]) {
		json_decref(j);
		return;
	}
	snprintf(sfx, sizeof(sfx), "?ifGenerationMatch=%s%s%s", gen, metagen[0] ? "&ifMetagenerationMatch=" : "",
		 metagen);
	url = gcs_obj_url(g, key, sfx);
	if (gcs_add_sha(j, sha256)) {
		json_decref(j);
		j = NULL;
	}
	rc = gcs_send_json(g, "PATCH", url, NULL, j, &resp);
	if (rc == -ENOMEM) {
		log_warn("gcs: %s: out of memory recording its SHA-256", key);
	} else if (rc || resp.status != 200) {
		char *m = gcs_err_msg(&resp);

		log_warn("gcs: %s: stored, but its SHA-256 could not be recorded as metadata (%s)", key,
			 resp.status ? (m ? m : "?") : (resp.error[0] ? resp.error : "no reply"));
		free(m);
	}
	http_resp_free(&resp);
	free(url);
}
