/* azure://container/prefix: Azure Blob Storage (and Azurite) with SharedKey. Small files are one Put Blob;
 * bigger ones are block blobs: one Put Block per part, several in flight, Put Block List at commit.
 * Uncommitted blocks are never visible: a blob appears only when its block list is committed, and the
 * service garbage-collects blocks that are never committed (after a week on Azure), so an aborted
 * upload leaves nothing behind that a reader or a listing could see. */
#include "backends/azure/azure_priv.h"
#include "backends/azure/azure_sign.h"
#include "common/buf.h"
#include "common/crypto.h"
#include "common/encode.h"
#include "backends/objver.h"
#include "backends/secret.h"
#include "common/why.h"
#include "backends/xml.h"
#include "common/log.h"

#include <curl/curl.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---------- open ---------- */

static void az_free(struct az *az)
{
	if (!az)
		return;
	http_free(az->http);
	free(az->account);
	if (az->key)
		memset(az->key, 0, az->klen);
	free(az->key);
	free(az->base);
	free(az->container);
	free(az);
}

/* Get Container Properties: reachable, credentials right, container there. */
static int az_check(struct az *az, char **why)
{
	const char *hdrs[] = { AZ_VER_HDR, NULL };
	struct http_resp resp = HTTP_RESP_INIT;
	struct http_req req;
	char *url = NULL, *code = NULL;
	int rc;

	if (asprintf(&url, "%s/%s?restype=container", az->base, az->container) < 0)
		return -ENOMEM;
	az_req_init(az, &req, "GET", url, hdrs);
	req.deadline_s = AZ_OPEN_DEADLINE_S;
	rc = http_do(az->http, &req, &resp);
	if (rc) {
		why_set(why, "azure: cannot reach %s: %s", az->base,
			resp.error[0] ? resp.error : strerror(-rc));
		goto out;
	}
	if (resp.status / 100 == 2)
		goto out;
	code = az_err_code(&resp);
	rc = http_errno(resp.status);
	if (resp.status == 403 || resp.status == 401)
		why_set(why, "azure: authentication failed for AZURE_ACCOUNT_NAME=%s: "
			"check AZURE_ACCOUNT_KEY (%ld %s)", az->account, resp.status, code);
	else if (resp.status == 404 && !strcmp(code, "ContainerNotFound"))
		why_set(why, "azure: container '%s' does not exist in account %s", az->container,
			az->account);
	else if (resp.status == 404)
		why_set(why, "azure: %s has no container '%s' (404 %s): check --endpoint and "
			"AZURE_ACCOUNT_NAME=%s", az->base, az->container, code, az->account);
	else if (resp.status == 400 && !strcmp(code, "InvalidResourceName"))
		why_set(why, "azure: '%s' is not a valid container name (3-63 lowercase letters, digits "
			"and '-')", az->container);
	else
		why_set(why, "azure: checking container '%s' at %s: HTTP %ld %s", az->container, az->base,
			resp.status, code);
	if (resp.status == 400)
		rc = -EINVAL;
out:
	free(code);
	free(url);
	http_resp_free(&resp);
	return rc;
}

static int az_open(struct backend *b, const struct backend_conf *conf, char **why)
{
	const char *name, *key, *ep = conf->endpoint, *mr;
	struct http_conf hc = { 0 };
	struct az *az;
	int rc = -ENOMEM;

	*why = NULL;
	name = secret_need(conf->secret, "AZURE_ACCOUNT_NAME");
	key = secret_need(conf->secret, "AZURE_ACCOUNT_KEY");
	if (!name || !key) {
		why_set(why, "azure: %s is missing: put it in --secret-dir (or the environment)",
			!name ? "AZURE_ACCOUNT_NAME" : "AZURE_ACCOUNT_KEY");
		return -EINVAL;
	}
	az = calloc(1, sizeof(*az));
	if (!az)
		return -ENOMEM;
	az->key = enc_b64_decode(key, &az->klen);
	if (!az->key || !az->klen) {
		why_set(why, "azure: AZURE_ACCOUNT_KEY for AZURE_ACCOUNT_NAME=%s is not valid base64 "
			"(copy the key from the storage account's access keys)", name);
		rc = -EINVAL;
		goto err;
	}
	az->account = strdup(name);
	az->container = strdup(conf->src->bucket ? conf->src->bucket : "");
	if (!az->account || !az->container)
		goto err;
	if (ep && *ep) {
		if (strncmp(ep, "http://", 7) && strncmp(ep, "https://", 8)) {
			why_set(why, "azure: --endpoint '%s' must start with http:// or https://", ep);
			rc = -EINVAL;
			goto err;
		}
		az->base = strdup(ep);
	} else if (asprintf(&az->base, "https://%s.blob.core.windows.net", name) < 0) {
		az->base = NULL;
	}
	if (!az->base)
		goto err;
	for (size_t l = strlen(az->base); l > 8 && az->base[l - 1] == '/'; l--)
		az->base[l - 1] = 0;
	/* a test knob: small List Blobs pages exercise the marker pagination cheaply */
	mr = getenv("SNAPFS_AZURE_MAXRESULTS");
	if (mr && *mr) {
		az->maxresults = (unsigned)strtoul(mr, NULL, 10);
		log_info("azure: List Blobs pages of %u (SNAPFS_AZURE_MAXRESULTS)", az->maxresults);
	}
	hc.ca_pem = secret_get(conf->secret, "CA_CERT_DATA");
	hc.timeout_s = conf->timeout_s;
	hc.retries = conf->retries;
	az->retries = conf->retries;
	rc = http_new(&az->http, &hc, why);
	if (rc)
		goto err;
	rc = az_check(az, why);
	if (rc)
		goto err;
	log_info("azure: account %s, container %s at %s", az->account, az->container, az->base);
	az->conf = conf;
	b->priv = az;
	return 0;
err:
	if (!*why && rc == -ENOMEM)
		why_set(why, "azure: out of memory");
	az_free(az);
	return rc;
}

static void az_close(struct backend *b)
{
	az_free(b->priv);
	b->priv = NULL;
}

/* ---------- stat, read, put, copy ---------- */

static int az_stat(struct backend *b, const char *rel, struct obj_info *out)
{
	struct az *az = b->priv;
	const char *hdrs[] = { AZ_VER_HDR, NULL };
	struct http_resp resp = HTTP_RESP_INIT;
	struct http_req req;
	char *key = az_key(az, rel), *url = NULL, *v;
	int rc = -ENOMEM;

	if (!key || !(url = az_blob_url(az, key, NULL)))
		goto out;
	az_req_init(az, &req, "HEAD", url, hdrs);
	rc = http_do(az->http, &req, &resp);
	if (rc)
		goto out;
	if (resp.status != 200) {
		rc = resp.status == 404 ? -ENOENT : az_fail("stat", key, &resp);
		goto out;
	}
	memset(out, 0, sizeof(*out));
	v = http_header(&resp, "Content-Length");
	out->size = v ? strtoull(v, NULL, 10) : 0;
	free(v);
	v = http_header(&resp, "Last-Modified");
	out->mtime = http_date(v);
	free(v);
	v = http_header(&resp, "ETag");
	az_set_etag(out, v);
	free(v);
	v = http_header(&resp, "Content-MD5");
	crypto_md5_b64_to_hex(v, out->md5);
	free(v);
	v = http_header(&resp, AZ_META_SHA256);
	crypto_sha256_take(v, out->sha256);
	free(v);
out:
	free(key);
	free(url);
	http_resp_free(&resp);
	return rc;
}



static int az_put(struct backend *b, const char *rel, int fd, off_t fd_off, uint64_t len, const char *sha256)
{
	struct az *az = b->priv;
	const char *hdrs[] = { AZ_VER_HDR, "x-ms-blob-type: BlockBlob",
			       "Content-Type: application/octet-stream", NULL, NULL, NULL };
	struct http_resp resp = HTTP_RESP_INIT;
	char *key = az_key(az, rel), *url = NULL, meta[128];
	int rc = -ENOMEM;

	if (!key || !(url = az_blob_url(az, key, NULL)))
		goto out;
	if (sha256) {
		snprintf(meta, sizeof(meta), AZ_META_SHA256 ": %s", sha256);
		hdrs[3] = meta;
	}
	if (az_create_only(az, key))
		hdrs[sha256 ? 4 : 3] = "If-None-Match: *";
	rc = az_put_body(az, url, hdrs, fd, fd_off, NULL, len, &resp);
	if (!rc && resp.status != 201) {
		rc = az_fail("put", key, &resp);
		if (az_create_only(az, key) && (resp.status == 409 || resp.status == 412)) {
			struct obj_info oi;

			/* an attempt whose reply was lost may have made it: then the blob is ours */
			rc = sha256 && !az_stat(b, rel, &oi) && oi.size == len && !strcmp(oi.sha256, sha256) ?
				     0 : -EEXIST;
		}
	}
out:
	free(key);
	free(url);
	http_resp_free(&resp);
	return rc;
}

/* Copy Blob, then wait for x-ms-copy-status to say success (same-account copies usually are at once). */
static int az_copy(struct backend *b, const char *from, const char *to)
{
	struct az *az = b->priv;
	char *fk = az_key(az, from), *tk = az_key(az, to), *furl = NULL, *turl = NULL, *src = NULL;
	const char *hdrs[] = { AZ_VER_HDR, NULL, NULL };
	struct http_resp resp = HTTP_RESP_INIT;
	struct http_req req;
	char *st = NULL;
	int rc = -ENOMEM;

	if (!fk || !tk || !(furl = az_blob_url(az, fk, NULL)) || !(turl = az_blob_url(az, tk, NULL)) ||
	    asprintf(&src, "x-ms-copy-source: %s", furl) < 0) {
		src = NULL;
		goto out;
	}
	hdrs[1] = src;
	az_req_init(az, &req, "PUT", turl, hdrs);
	rc = http_do(az->http, &req, &resp);
	if (rc)
		goto out;
	if (resp.status != 202 && resp.status != 201) {
		rc = resp.status == 404 ? -ENOENT : az_fail("copy to", tk, &resp);
		goto out;
	}
	st = http_header(&resp, "x-ms-copy-status");
	for (unsigned wait_ms = 100; st && !strcmp(st, "pending");
	     wait_ms = wait_ms < 2000 ? wait_ms * 2 : 2000) {
		const char *h2[] = { AZ_VER_HDR, NULL };

		usleep(wait_ms * 1000);
		free(st);
		st = NULL;
		http_resp_free(&resp);
		resp = (struct http_resp)HTTP_RESP_INIT;
		az_req_init(az, &req, "HEAD", turl, h2);
		rc = http_do(az->http, &req, &resp);
		if (rc)
			goto out;
		if (resp.status != 200) {
			rc = az_fail("copy status of", tk, &resp);
			goto out;
		}
		st = http_header(&resp, "x-ms-copy-status");
	}
	if (st && strcmp(st, "success")) {
		char *d = http_header(&resp, "x-ms-copy-status-description");

		log_warn("azure: copy %s -> %s: %s (%s)", fk, tk, st, d ? d : "");
		free(d);
		rc = -EIO;
	}
out:
	free(st);
	free(fk);
	free(tk);
	free(furl);
	free(turl);
	free(src);
	http_resp_free(&resp);
	return rc;
}

const struct backend_ops azure_backend_ops = {
	.scheme = "azure",
	.min_part = 0,
	.max_part = (uint64_t)4000 << 20,
	.max_parts = 50000,
	.parts_any_order = 1,
	.open = az_open,
	.close = az_close,
	.stat = az_stat,
	.list = az_list,
	.read = az_read,
	.read_ver = az_read_ver,
	.put = az_put,
	.upload_begin = az_upload_begin,
	.upload_part = az_upload_part,
	.upload_commit = az_upload_commit,
	.upload_abort = az_upload_abort,
	.commit_again = 1,
	.upload_release = az_upload_release,
	.upload_finish = az_upload_finish,
	.upload_token = az_upload_token,
	.upload_forget = az_upload_forget,
	.remove = az_remove,
	.copy = az_copy,
	.move = NULL,
	.list_uploads = az_list_uploads,
	.statfs = NULL,
};
