/* One S3 request: build its URL, sign it with SigV4 (every body by its SHA-256, which the store
 * checks), send it through the HTTP layer, and turn the reply into an errno, reading the <Error>
 * document S3 sends. The other files of backends/s3/ make every request through here. */
#include "backends/s3/s3_priv.h"
#include "backends/s3/sigv4.h"
#include "backends/http.h"
#include "common/crypto.h"
#include "common/encode.h"
#include "common/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct sign_ctx {
	struct s3 *s3;
	const char *hash;
};

static int s3_sign(void *arg, const struct http_req *req, struct curl_slist **hdrs)
{
	struct sign_ctx *sc = arg;

	return sigv4_sign_http(&sc->s3->cred, req, sc->hash, time(NULL), hdrs);
}

/* What a request with a result document may still retry (s3_req.result). */
struct judge {
	const char *root;
	int inner;    /* transient <Error>s in a 2xx reply still allowed */
	int policy;   /* retryable statuses (5xx, 408, 429) still allowed */
};

/* A 2xx reply whose document is a transient <Error> instead of the result is tried again, as a
 * retryable status is; each within its own count, as S3's loops of their own had it. */
static enum http_verdict s3_judge(void *arg, const struct http_req *req, const struct http_resp *resp)
{
	struct judge *j = arg;
	char code[S3_CODE_MAX] = "", *bad = NULL;
	int rc;

	if (resp->status < 200 || resp->status >= 300) {
		if (!http_retryable(resp->status))
			return HTTP_POLICY;
		return j->policy-- > 0 ? HTTP_RETRY : HTTP_FINAL;
	}
	if (!strcmp(j->root, "DeleteResult"))
		rc = s3_parse_delete(resp->body.data, resp->body.len, code, &bad);
	else
		rc = s3_parse_result(resp->body.data, resp->body.len, j->root, NULL, code);
	free(bad);
	if (rc != -EAGAIN || j->inner-- <= 0)
		return HTTP_FINAL;
	log_warn("s3 %s %.*s: %s in a %ld reply instead of a %s: trying again", req->method,
		 (int)strcspn(req->url, "?"), req->url, code, resp->status, j->root);
	return HTTP_RETRY;
}

int s3_call(struct s3 *s3, const struct s3_req *c, struct http_resp *resp)
{
	char hex[65];
	struct sign_ctx sc = { s3, SIGV4_EMPTY_SHA256 };
	struct judge j = { c->result, S3_COMMIT_TRIES - 1, s3->retries + !!c->once_more };
	struct http_req req = {
		.method = c->method, .url = c->url, .headers = c->headers, .body = c->body,
		.body_len = c->body_len, .body_fd = -1, .out = c->out, .out_cap = c->out_cap,
		.sign = s3_sign, .sign_arg = &sc, .deadline_s = c->deadline_s,
	};

	if (c->slow)
		req.slow_s = s3->slow_s;
	if (c->result) {
		req.judge = s3_judge;
		req.judge_arg = &j;
		/* room for both counts (a lost connection, which no judge sees, may use it too) */
		req.tries = 1 + j.policy + j.inner;
	}

	if (c->fd >= 0 && c->fd_len) {
		req.body_fd = c->fd;
		req.body_off = c->fd_off;
		req.body_fd_len = c->fd_len;
		/* A body from the spool is signed by its SHA-256 too (not UNSIGNED-PAYLOAD): the store
		 * refuses one damaged on the way (XAmzContentSHA256Mismatch). It replaces Content-MD5,
		 * which the store checks the same way, at less than half the CPU (SHA extensions). */
		if (c->fd_sha256 && strlen(c->fd_sha256) == 64) {
			sc.hash = c->fd_sha256;
		} else {
			unsigned char d[32];
			unsigned dlen = 0;
			int rc = crypto_digest_fd("sha256", c->fd, c->fd_off, c->fd_len, d, &dlen);

			if (rc)
				return rc;
			enc_hex(d, 32, hex);
			sc.hash = hex;
		}
	} else if (c->body_len) {
		unsigned char d[32];

		crypto_sha256(c->body, c->body_len, d);
		enc_hex(d, 32, hex);
		sc.hash = hex;
	}
	return http_do(s3->http, &req, resp);
}

/* URL of key (NULL: the bucket) with an optional query ("uploads", "partNumber=1&uploadId=..."). */
char *s3_url(const struct s3 *s3, const char *key, const char *query)
{
	char *enc = NULL, *u;
	int n;

	if (key) {
		enc = enc_uri(key, 1);
		if (!enc)
			return NULL;
	}
	/* path style names the bucket as "/bucket"; virtual host style has "/" for it */
	n = asprintf(&u, "%s%s%s%s%s", s3->base, key || s3->virt ? "/" : "",
		     key ? enc : "", query ? "?" : "", query ? query : "");
	free(enc);
	return n < 0 ? NULL : u;
}

char *s3_bucket_url(const struct s3 *s3, char *query)
{
	char *u = query ? s3_url(s3, NULL, query) : NULL;

	free(query);
	return u;
}

/* errno for a finished request: transport errors as they are, else by status and error code. Logs
 * what the server said when it is not a plain "not found". */
int s3_result(const char *what, const char *key, int rc, struct http_resp *resp)
{
	char code[S3_CODE_MAX] = "", *msg = NULL;
	int err;

	if (rc) {
		log_warn("s3 %s %s: %s", what, key ? key : "", resp->error[0] ? resp->error : strerror(-rc));
		return rc;
	}
	if (resp->status >= 200 && resp->status < 300)
		return 0;
	s3_parse_error(resp->body.data, resp->body.len, code, &msg);
	err = s3_code_errno(code);
	if (!err)
		err = http_errno(resp->status);
	if (resp->status == 501)
		err = -ENOTSUP;
	if (err != -ENOENT)
		log_warn("s3 %s %s: HTTP %ld %s%s%s", what, key ? key : "", resp->status, code,
			 msg ? ": " : "", msg ? msg : "");
	free(msg);
	return err;
}

/* A write-once mount creates objects only where none is (folder markers may be made again). */
int s3_create_only(const struct s3 *s3, const char *key)
{
	size_t n = strlen(key);

	return s3->conf && s3->conf->create_only && n && key[n - 1] != '/';
}

int s3_call_result(struct s3 *s3, struct s3_req *c, const char *what, const char *key, char **etag)
{
	struct http_resp resp = HTTP_RESP_INIT;
	char code[S3_CODE_MAX] = "";
	int rc = s3_result(what, key, s3_call(s3, c, &resp), &resp);

	if (!rc) {
		rc = s3_parse_result(resp.body.data, resp.body.len, c->result, etag, code);
		if (rc)
			log_warn("s3 %s %s: %s", what, key, code[0] ? code : "malformed reply");
	}
	http_resp_free(&resp);
	return rc == -EAGAIN ? -EIO : rc;   /* still an <Error> after the last try */
}
