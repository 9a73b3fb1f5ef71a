/* The HTTP layer every network backend uses: libcurl with connection reuse, one CA policy, timeouts,
 * and the single retry policy (5xx, 408, 429, SlowDown, resets and timeouts are retried with exponential
 * backoff and full jitter; other 4xx are not). Backends build requests and read replies; they never
 * touch curl options themselves. */
#ifndef SNAPFS_HTTP_H
#define SNAPFS_HTTP_H

#include "common/buf.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

struct curl_slist;

struct http_conf {
	const char *ca_pem;     /* extra PEM bundle to trust (CA_CERT_DATA) or NULL: the system store */
	int insecure;           /* never set by default; only an explicit user option */
	int timeout_s;          /* abort a transfer that moves < 1 byte/s... for this long; also connect timeout */
	int retries;            /* attempts after the first */
	unsigned backoff_ms;    /* first backoff (doubles each retry, capped at 20 s, full jitter); 0: 200 */
};

struct http;   /* a pool of reusable connections; thread-safe: any thread may call http_do */

int http_new(struct http **out, const struct http_conf *conf, char **why);
void http_free(struct http *h);

struct http_req;
struct http_resp;

/* A request's own say on a reply, after each attempt that got one (any status). Some stores answer
 * 200 with an error inside (S3 CompleteMultipartUpload, UploadPartCopy) or name a retryable fault in a
 * 400 (Azure Md5Mismatch); the request's judge reads the reply and the one loop in http_do retries. */
enum http_verdict {
	HTTP_POLICY = 0,   /* the general policy decides: 5xx, 408, 429 retried, anything else final */
	HTTP_RETRY,        /* retry this reply (backoff, re-sign), within the same attempt budget */
	HTTP_FINAL,        /* this reply is the answer, whatever its status */
};
typedef enum http_verdict (*http_judge_fn)(void *arg, const struct http_req *req,
					   const struct http_resp *resp);

/* Called before every attempt (retries re-sign: dates and tokens change). Append the auth headers
 * to *hdrs with curl_slist_append. Return 0 or -errno (which ends the request without retry). */
typedef int (*http_sign_fn)(void *arg, const struct http_req *req, struct curl_slist **hdrs);

struct http_req {
	const char *method;            /* "GET", "PUT", "POST", "DELETE", "HEAD", "COPY" ... */
	const char *url;               /* complete and already percent-encoded */
	const char *const *headers;    /* "Name: value" strings, NULL-terminated; may be NULL */
	/* Request body: from memory (body, body_len), or a byte range of a file (body_fd >= 0), which is
	 * streamed with pread so a part of any size costs no memory. Neither: no body (Content-Length 0
	 * for PUT/POST). */
	const void *body;
	size_t body_len;
	int body_fd;                   /* -1 when unused: set it! 0 is a valid fd */
	off_t body_off;
	uint64_t body_fd_len;
	/* Response body: into resp->body (out == NULL), or straight into a caller buffer of out_cap
	 * bytes (ranged reads; a 2xx reply longer than out_cap is an error -EIO). Error replies (status
	 * >= 300) always go to resp->body so the backend can read the error document. */
	void *out;
	size_t out_cap;
	http_sign_fn sign;
	void *sign_arg;
	int no_retry;                  /* the caller retries itself (e.g. a resumable upload) */
	/* Extensions (zero keeps the old behaviour). */
	int deadline_s;                /* the whole call, retries included, ends within this (0: none);
					* mount-time checks use it to fail fast */
	int slow_s;                    /* low-speed timeout for this request instead of conf.timeout_s
					* (0: that one): for replies a server may think over for long,
					* such as completing a multipart upload */
	http_judge_fn judge;           /* NULL: the general policy alone */
	void *judge_arg;
	int tries;                     /* attempts in all instead of conf.retries + 1 (0: that) */
};

struct http_resp {
	long status;                   /* HTTP status of the last attempt */
	struct buf body;               /* reply body (see http_req.out) */
	size_t out_len;                /* bytes stored in req->out */
	struct buf headers;            /* raw reply header lines of the last attempt */
	int attempts;
	char error[256];               /* transport error text of the last attempt; "" when a reply came */
};

#define HTTP_RESP_INIT { 0, BUF_INIT, 0, BUF_INIT, 0, "" }

/* Perform req with the retry policy. Returns 0 when a reply arrived (any status: check
 * resp->status; after retries it is the last attempt's), or -errno when no reply could be had
 * (-ETIMEDOUT, -ECONNREFUSED, -EHOSTUNREACH for DNS, -EIO otherwise). resp must be initialised
 * with HTTP_RESP_INIT; it is reset on each attempt. */
int http_do(struct http *h, const struct http_req *req, struct http_resp *resp);
void http_resp_free(struct http_resp *resp);

/* Value of a reply header (case-insensitive name), malloc'd, trimmed; NULL if absent. */
char *http_header(const struct http_resp *resp, const char *name);

/* The one mapping of HTTP status to errno: 2xx 0, 404 -ENOENT, 401/403 -EACCES, 409 -EBUSY,
 * 412 -EEXIST, 416 -ERANGE (callers of ranged reads treat it as end of object), 507/413 -ENOSPC,
 * anything else -EIO. */
int http_errno(long status);

/* Is this status retried by the policy (500-599, 408, 429)? Exposed for callers with no_retry. */
int http_retryable(long status);

/* An HTTP date (Last-Modified: "Wed, 25 Nov 2026 16:21:20 GMT") as time_t; 0 if NULL or malformed. */
time_t http_date(const char *s);

/* The delay http_backoff would sleep: uniform in [0, min(20 s, first * 2^attempt)] ms. */
unsigned http_backoff_ms(const struct http *h, int attempt);

#endif
