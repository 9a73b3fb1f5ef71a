/* Azure Blob requests every operation builds on: SharedKey signing, the request skeleton, blob URLs and
 * keys, the service's error codes, and a PUT of a body guarded by its Content-MD5. */
#include "backends/azure/azure_priv.h"
#include "backends/azure/azure_sign.h"
#include "backends/xml.h"
#include "common/crypto.h"
#include "common/encode.h"
#include "common/log.h"

#include <curl/curl.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>


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
	struct az_sig_in in;
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
	sts = az_string_to_sign(&in);
	if (!sts)
		goto out;
	sig = az_signature(az->key, az->klen, sts);
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

/* A body the service received damaged is sent again like a 5xx: Azure says 400 Md5Mismatch, the
 * emulator 400 InvalidOperation "Provided contentMD5 doesn't match". */
static enum http_verdict az_damaged_judge(void *arg, const struct http_req *req, const struct http_resp *resp)
{
	const struct az *az = arg;
	char *code;
	int damaged;

	if (resp->status != 400)
		return HTTP_POLICY;
	code = az_err_code(resp);
	damaged = code && (!strcmp(code, "Md5Mismatch") ||
			   (!strcmp(code, "InvalidOperation") && resp->body.data &&
			    strcasestr(resp->body.data, "md5")));
	free(code);
	if (!damaged)
		return HTTP_FINAL;
	if (resp->attempts <= az->retries)
		log_warn("azure: %.*s: the service received damaged bytes (MD5 mismatch): sending again",
			 (int)strcspn(req->url, "?"), req->url);
	return HTTP_RETRY;
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

	/* all[] has room for 6 of the caller's headers, Content-MD5 and the NULL: a seventh is a bug
	 * here, never a header silently left off */
	for (; hdrs[n]; n++) {
		if (n == 6)
			return -EINVAL;
		all[n] = hdrs[n];
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
	req.judge = az_damaged_judge;
	req.judge_arg = az;
	req.tries = az->retries + 1;
	return http_do(az->http, &req, resp);
}

int az_create_only(const struct az *az, const char *key)
{
	size_t n = strlen(key);

	return az->conf && az->conf->create_only && n && key[n - 1] != '/';
}
