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
 * object, or by an objects.patch on exactly the generation a streamed session made.
 *
 * This file opens and closes the backend and holds its ops table; gcs_priv.h lists the other files. */
#include "backends/gcs/gcs_priv.h"
#include "backends/gcs/oauth2.h"
#include "backends/secret.h"
#include "common/encode.h"
#include "common/log.h"
#include "common/why.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GCS_SCOPE "https://www.googleapis.com/auth/devstorage.read_write"
#define GCS_DEFAULT_ENDPOINT "https://storage.googleapis.com"
#define GCS_OPEN_DEADLINE_S 60

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
	gcs_req_init(&req, "GET", url, NULL);
	req.deadline_s = GCS_OPEN_DEADLINE_S;
	rc = gcs_do(g, &req, &resp);
	if (rc) {
		why_fail(why, rc, "gcs: cannot reach %s: %s", g->api,
			 resp.error[0] ? resp.error : strerror(-rc));
		goto out;
	}
	if (resp.status == 200) {
		json_t *j = gcs_reply_json(&resp);

		rc = j ? 0 : why_fail(why, -EIO, "gcs: %s answered buckets.get with no bucket resource",
				      g->api);
		json_decref(j);
		goto out;
	}
	m = gcs_err_msg(&resp);
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
	.commit_again = 1,
	.upload_release = gcs_upload_release,
	.upload_finish = gcs_upload_finish,
	.upload_token = gcs_upload_token,
	.upload_forget = gcs_upload_forget,
	.remove = gcs_remove,
	.copy = gcs_copy,
	.move = NULL,
	.list_uploads = NULL,
	.statfs = NULL,
};
