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

/* ---------- requests ---------- */

/* "x-ms-date: Wed, 25 Nov 2026 16:23:49 GMT", spelled out so no locale can change it */
void az_date_header(char *out, size_t len)
{
	static const char *const wd[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char *const mo[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	snprintf(out, len, "x-ms-date: %s, %02d %s %04d %02d:%02d:%02d GMT", wd[tm.tm_wday], tm.tm_mday,
		 mo[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static int az_sign(void *arg, const struct http_req *req, struct curl_slist **hdrs)
{
	struct az *az = arg;
	const char **all = NULL;
	char date[64], *sts = NULL, *sig = NULL, *auth = NULL;
	struct azure_sig_in in;
	struct curl_slist *tmp;
	size_t n = 0;
	int rc = -ENOMEM;

	az_date_header(date, sizeof(date));
	while (req->headers && req->headers[n])
		n++;
	all = calloc(n + 2, sizeof(*all));
	if (!all)
		goto out;
	for (size_t i = 0; i < n; i++)
		all[i] = req->headers[i];
	all[n] = date;
	in.method = req->method ? req->method : "GET";
	in.account = az->account;
	in.url = req->url;
	in.headers = all;
	in.content_length = -1;
	if (!strcmp(in.method, "PUT") || !strcmp(in.method, "POST"))
		in.content_length = req->body_fd >= 0 ? (int64_t)req->body_fd_len : (int64_t)req->body_len;
	sts = azure_string_to_sign(&in);
	if (!sts)
		goto out;
	sig = azure_signature(az->key, az->klen, sts);
	if (!sig || asprintf(&auth, "Authorization: SharedKey %s:%s", az->account, sig) < 0) {
		auth = NULL;
		goto out;
	}
	tmp = curl_slist_append(*hdrs, date);
	if (!tmp)
		goto out;
	*hdrs = tmp;
	tmp = curl_slist_append(*hdrs, auth);
	if (!tmp)
		goto out;
	*hdrs = tmp;
	rc = 0;
out:
	free(all);
	free(sts);
	free(sig);
	free(auth);
	return rc;
}

void az_req_init(struct az *az, struct http_req *r, const char *method, const char *url,
		     const char *const *hdrs)
{
	memset(r, 0, sizeof(*r));
	r->method = method;
	r->url = url;
	r->headers = hdrs;
	r->body_fd = -1;
	r->sign = az_sign;
	r->sign_arg = az;
}

/* The service's error code (x-ms-error-code, or <Error><Code> in the body); malloc'd, "" if none. */
char *az_err_code(const struct http_resp *resp)
{
	char *c = http_header(resp, "x-ms-error-code");
	xmlDocPtr doc;

	if (c)
		return c;
	doc = xml_parse(resp->body.data, resp->body.len);
	if (doc) {
		c = xml_child_text(xmlDocGetRootElement(doc), "Code");
		xmlFreeDoc(doc);
	}
	return c ? c : strdup("");
}

/* Log a failed reply once and map it to errno. */
int az_fail(const char *what, const char *key, const struct http_resp *resp)
{
	char *code = az_err_code(resp);

	log_warn("azure: %s %s: HTTP %ld %s", what, key, resp->status, code ? code : "");
	free(code);
	return http_errno(resp->status);
}

char *az_blob_url(const struct az *az, const char *key, const char *query)
{
	char *enc = enc_uri(key, 1), *url = NULL;

	if (!enc)
		return NULL;
	if (asprintf(&url, "%s/%s/%s%s%s", az->base, az->container, enc, query ? "?" : "",
		     query ? query : "") < 0)
		url = NULL;
	free(enc);
	return url;
}

/* Keys arrive whole (the caller joined the source prefix with source_key()); a stray leading '/' would
 * make an empty path segment. */
char *az_key(const struct az *az, const char *rel)
{
	while (*rel == '/')
		rel++;
	return strdup(rel);
}

/* RFC 1123 date of a reply header ("Wed, 25 Nov 2026 16:23:49 GMT"); 0 if absent or odd. */
/* HEAD quotes the ETag and List Blobs does not: store it bare so the two compare equal. */
void az_set_etag(struct obj_info *oi, const char *etag)
{
	size_t n;

	if (!etag)
		return;
	if (*etag == '"')
		etag++;
	n = strcspn(etag, "\"");
	if (n >= sizeof(oi->etag))
		n = sizeof(oi->etag) - 1;
	memcpy(oi->etag, etag, n);
	oi->etag[n] = 0;
}

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

static ssize_t az_read_ver(struct backend *b, const char *rel, struct obj_ver *v, uint64_t off, size_t len,
			   void *buf)
{
	struct az *az = b->priv;
	struct http_resp resp = HTTP_RESP_INIT;
	struct http_req req;
	char range[80], cond[sizeof(v->tag) + 16], *key = NULL, *url = NULL;
	const char *hdrs[] = { AZ_VER_HDR, range, NULL, NULL };
	ssize_t rc = -ENOMEM;

	if (!len)
		return 0;
	key = az_key(az, rel);
	if (!key || !(url = az_blob_url(az, key, NULL)))
		goto out;
	snprintf(range, sizeof(range), "x-ms-range: bytes=%llu-%llu", (unsigned long long)off,
		 (unsigned long long)(off + len - 1));
	objver_cond(v, "If-Match", cond, sizeof(cond));
	if (cond[0])
		hdrs[2] = cond;
	az_req_init(az, &req, "GET", url, hdrs);
	req.out = buf;
	req.out_cap = len;
	rc = http_do(az->http, &req, &resp);
	if (rc)
		goto out;
	if (resp.status == 412)
		rc = -ESTALE;   /* replaced since the handle's first read */
	else if (resp.status == 416)
		rc = v ? objver_check(v, &resp, "ETag") : 0;     /* at or past the end (or an empty blob) */
	else if (resp.status == 200 || resp.status == 206)
		rc = v && (rc = objver_check(v, &resp, "ETag")) ? rc : (ssize_t)resp.out_len;
	else
		rc = resp.status == 404 ? -ENOENT : az_fail("read", key, &resp);
out:
	free(key);
	free(url);
	http_resp_free(&resp);
	return rc;
}

ssize_t az_read(struct backend *b, const char *rel, uint64_t off, size_t len, void *buf)
{
	return az_read_ver(b, rel, NULL, off, len, buf);
}

int az_put_body(struct az *az, const char *url, const char *const *hdrs, int fd, off_t fd_off,
		const void *mem, uint64_t len, struct http_resp *resp)
{
	const char *all[8];
	unsigned char md5[16];
	unsigned mlen = 0;
	char md5h[48], *b64 = NULL;
	struct http_req req;
	size_t n = 0;
	int rc;

	while (hdrs[n] && n < 6) {
		all[n] = hdrs[n];
		n++;
	}
	if (len) {
		if (mem)
			rc = EVP_Digest(mem, (size_t)len, md5, &mlen, EVP_md5(), NULL) ? 0 : -EIO;
		else
			rc = crypto_digest_fd("md5", fd, fd_off, len, md5, &mlen);
		if (rc)
			return rc;
		b64 = enc_b64(md5, sizeof(md5));
		if (!b64)
			return -ENOMEM;
		snprintf(md5h, sizeof(md5h), "Content-MD5: %s", b64);
		free(b64);
		all[n++] = md5h;
	}
	all[n] = NULL;
	az_req_init(az, &req, "PUT", url, all);
	if (mem) {
		req.body = mem;
		req.body_len = (size_t)len;
	} else if (len) {
		req.body_fd = fd;
		req.body_off = fd_off;
		req.body_fd_len = len;
	}
	for (int attempt = 0;; attempt++) {
		char *code;
		int damaged;

		rc = http_do(az->http, &req, resp);
		if (rc || resp->status != 400)
			return rc;
		code = az_err_code(resp);
		/* Azure says Md5Mismatch; the emulator InvalidOperation "Provided contentMD5 doesn't match" */
		damaged = !strcmp(code, "Md5Mismatch") ||
			  (!strcmp(code, "InvalidOperation") && resp->body.data &&
			   strcasestr(resp->body.data, "md5"));
		free(code);
		if (!damaged || attempt >= az->retries)
			return 0;
		log_warn("azure: %.*s: the service received damaged bytes (MD5 mismatch): sending again",
			 (int)strcspn(url, "?"), url);
		http_backoff(az->http, attempt);
	}
}

int az_create_only(const struct az *az, const char *key)
{
	size_t n = strlen(key);

	return az->conf && az->conf->create_only && n && key[n - 1] != '/';
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
	.upload_token = az_upload_token,
	.upload_forget = az_upload_forget,
	.remove = az_remove,
	.copy = az_copy,
	.move = NULL,
	.list_uploads = az_list_uploads,
	.statfs = NULL,
};
