/* The HTTP layer: status mapping, header lookup and retry decisions without a network, then real
 * requests against tests/unit/http_server.py (a real HTTP/1.1 server on 127.0.0.1, plain and TLS). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "common/crypto.h"
#include "common/encode.h"
#include "backends/http.h"
#include "tests/unit/lib_reply_server.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char tmpdir[256];
static struct reply_server plain, tls;
static char *cert_pem;

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *p;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	p = calloc(1, (size_t)n + 1);
	if (p && fread(p, 1, (size_t)n, f) != (size_t)n) {
		free(p);
		p = NULL;
	}
	fclose(f);
	return p;
}

static int setup_all(void **state)
{
	char cmd[1024], cert[300], key[300];

	snprintf(tmpdir, sizeof(tmpdir), "%s/test_http.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(cert, sizeof(cert), "%s/cert.pem", tmpdir);
	snprintf(key, sizeof(key), "%s/key.pem", tmpdir);
	snprintf(cmd, sizeof(cmd),
		 "openssl req -x509 -newkey rsa:2048 -nodes -keyout %s -out %s -days 1 -subj /CN=127.0.0.1 "
		 "-addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1", key, cert);
	if (system(cmd) != 0)
		return -1;
	cert_pem = slurp(cert);
	if (!cert_pem)
		return -1;
	if (reply_server_start(&plain, "http_server.py", NULL) ||
	    reply_server_start(&tls, "http_server.py", (const char *const[]){ "--tls", cert, key, NULL }))
		return -1;
	return 0;
}

static int teardown_all(void **state)
{
	char cmd[300];

	reply_server_stop(&plain);
	reply_server_stop(&tls);
	free(cert_pem);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		return -1;
	return 0;
}

static struct http *mk(int retries, int timeout_s)
{
	struct http_conf conf = { .retries = retries, .timeout_s = timeout_s, .backoff_ms = 5 };
	struct http *h = NULL;
	char *why = NULL;

	assert_int_equal(http_new(&h, &conf, &why), 0);
	assert_null(why);
	return h;
}

static char *url(const struct reply_server *s, const char *path)
{
	static __thread char u[256];

	snprintf(u, sizeof(u), "%s://127.0.0.1:%d%s", s == &tls ? "https" : "http", s->port, path);
	return u;
}

/* --- without a network --- */

static void test_errno(void **state)
{
	assert_int_equal(http_errno(200), 0);
	assert_int_equal(http_errno(204), 0);
	assert_int_equal(http_errno(206), 0);
	assert_int_equal(http_errno(404), -ENOENT);
	assert_int_equal(http_errno(401), -EACCES);
	assert_int_equal(http_errno(403), -EACCES);
	assert_int_equal(http_errno(409), -EBUSY);
	assert_int_equal(http_errno(412), -EEXIST);
	assert_int_equal(http_errno(416), -ERANGE);
	assert_int_equal(http_errno(413), -ENOSPC);
	assert_int_equal(http_errno(507), -ENOSPC);
	assert_int_equal(http_errno(400), -EIO);
	assert_int_equal(http_errno(500), -EIO);
	assert_int_equal(http_errno(503), -EIO);
	assert_int_equal(http_errno(301), -EIO);
	assert_int_equal(http_errno(0), -EIO);
}

static void test_retryable(void **state)
{
	long yes[] = { 500, 502, 503, 504, 599, 408, 429 };
	long no[] = { 200, 204, 301, 400, 401, 403, 404, 409, 412, 416, 499, 600 };

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		assert_true(http_retryable(yes[i]));
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		assert_false(http_retryable(no[i]));
}

static void test_header_lookup(void **state)
{
	struct http_resp r = HTTP_RESP_INIT;
	char *v;

	assert_null(http_header(&r, "ETag"));
	assert_int_equal(buf_adds(&r.headers, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
				  "x-amz-request-id:   abc def  \r\nETag: \"0123\"\r\nEmpty:\r\n\r\n"), 0);
	v = http_header(&r, "X-Amz-Request-Id");
	assert_string_equal(v, "abc def");
	free(v);
	v = http_header(&r, "etag");
	assert_string_equal(v, "\"0123\"");
	free(v);
	v = http_header(&r, "Empty");
	assert_string_equal(v, "");
	free(v);
	assert_null(http_header(&r, "Content"));      /* a prefix of a name is not the name */
	assert_null(http_header(&r, "Length"));
	assert_null(http_header(&r, "Missing"));
	http_resp_free(&r);
}

static long ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

static void test_backoff(void **state)
{
	struct http_conf conf = { .retries = 1, .timeout_s = 5, .backoff_ms = 100 };
	struct http *h;
	unsigned mx[12] = { 0 }, lo[12];
	char *why = NULL;

	assert_int_equal(http_new(&h, &conf, &why), 0);
	for (int a = 0; a < 12; a++)
		lo[a] = ~0u;
	/* full jitter: uniform in [0, min(20 s, 100 ms * 2^attempt)] */
	for (int i = 0; i < 2000; i++) {
		for (int a = 0; a < 12; a++) {
			unsigned d = http_backoff_ms(h, a), cap = a < 8 ? 100u << a : 20000;

			assert_true(d <= cap);
			if (d > mx[a])
				mx[a] = d;
			if (d < lo[a])
				lo[a] = d;
		}
	}
	for (int a = 0; a < 12; a++) {
		unsigned cap = a < 8 ? 100u << a : 20000;

		/* spread over the whole range, not a fixed delay */
		assert_true(mx[a] >= cap * 9 / 10);
		assert_true(lo[a] <= cap / 10);
	}
	http_free(h);
}

static void test_bad_ca(void **state)
{
	struct http_conf conf = { .ca_pem = "not a certificate", .retries = 0, .timeout_s = 5 };
	struct http *h = NULL;
	char *why = NULL;

	assert_int_equal(http_new(&h, &conf, &why), -EINVAL);
	assert_null(h);
	assert_non_null(why);
	assert_non_null(strstr(why, "CA_CERT_DATA"));
	free(why);
}

/* --- against the real server --- */

static int sign_calls;

static int sign_count(void *arg, const struct http_req *req, struct curl_slist **hdrs)
{
	struct curl_slist *l = curl_slist_append(*hdrs, "X-Signed: yes");

	__atomic_add_fetch(&sign_calls, 1, __ATOMIC_SEQ_CST);
	if (!l)
		return -ENOMEM;
	*hdrs = l;
	return 0;
}

static int sign_fail(void *arg, const struct http_req *req, struct curl_slist **hdrs)
{
	return -EACCES;
}

static long count_of(struct http *h, const char *id)
{
	char path[64];
	struct http_req req = { .method = "GET", .body_fd = -1 };
	struct http_resp r = HTTP_RESP_INIT;
	long n;

	snprintf(path, sizeof(path), "/count/%s", id);
	req.url = url(&plain, path);
	assert_int_equal(http_do(h, &req, &r), 0);
	assert_int_equal(r.status, 200);
	n = atol(r.body.data);
	http_resp_free(&r);
	return n;
}

static void test_get(void **state)
{
	struct http *h = mk(2, 5);
	struct http_req req = { .method = "GET", .url = url(&plain, "/ok"), .body_fd = -1 };
	struct http_resp r = HTTP_RESP_INIT;
	char *v;

	assert_int_equal(http_do(h, &req, &r), 0);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.attempts, 1);
	assert_string_equal(r.body.data, "hello");
	v = http_header(&r, "X-Test");
	assert_string_equal(v, "spaced value");
	free(v);
	/* the same handle again: the reply of the first request must not leak into the second */
	req.url = url(&plain, "/nothing");
	assert_int_equal(http_do(h, &req, &r), 0);
	assert_int_equal(r.status, 404);
	assert_non_null(strstr(r.body.data, "NoSuchKey"));
	assert_null(strstr(r.body.data, "hello"));
	http_resp_free(&r);
	http_free(h);
}

/* Keys come from listings, so they may hold "." and ".." segments: libcurl must not resolve them, or a
 * rename or delete of "a/b/c/../x" would act on "a/b/x". The request line must carry the path as built. */
static void test_dot_segments(void **state)
{
	static const char *const paths[] = { "/line/kubedb/a/b/c/../x", "/line/kubedb/./a/../../x",
					     "/line/kubedb/a/..", "/line/kubedb/a/." };
	struct http *h = mk(0, 5);

	(void)state;
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		struct http_req req = { .method = "DELETE", .url = url(&plain, paths[i]), .body_fd = -1 };
		struct http_resp r = HTTP_RESP_INIT;
		char want[128];

		snprintf(want, sizeof(want), "DELETE %s HTTP/1.1", paths[i]);
		assert_int_equal(http_do(h, &req, &r), 0);
		assert_int_equal(r.status, 200);
		assert_string_equal(r.body.data, want);
		http_resp_free(&r);
	}
	http_free(h);
}

static void test_retry_status(void **state)
{
	struct http *h = mk(3, 5);
	struct http_req req = { .method = "GET", .body_fd = -1, .sign = sign_count };
	struct http_resp r = HTTP_RESP_INIT;

	/* 503 twice, then 200: three attempts, each signed afresh */
	sign_calls = 0;
	req.url = url(&plain, "/status/a/503/2");
	assert_int_equal(http_do(h, &req, &r), 0);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.attempts, 3);
	assert_int_equal(sign_calls, 3);
	assert_string_equal(r.body.data, "done");
	assert_int_equal(count_of(h, "a"), 3);

	/* 429 and 408 are retried too */
	req.url = url(&plain, "/status/b/429/1");
	assert_int_equal(http_do(h, &req, &r), 0);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.attempts, 2);
	req.url = url(&plain, "/status/c/408/1");
	assert_int_equal(http_do(h, &req, &r), 0);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.attempts, 2);

	/* exhausted: the last attempt's status, retries + 1 attempts */
	req.url = url(&plain, "/status/d/500/100");
	assert_int_equal(http_do(h, &req, &r), 0);
	assert_int_equal(r.status, 500);
	assert_int_equal(r.attempts, 4);
	assert_int_equal(count_of(h, "d"), 4);
	assert_non_null(strstr(r.body.data, "Busy"));
	http_resp_free(&r);
	http_free(h);
}

static void test_no_retry(void **state)
{
	struct http *h = mk(3, 5);
	struct http_req req = { .method = "GET", .body_fd = -1 };
	struct http_resp r = HTTP_RESP_INIT;
	static const char *const codes[] = { "400", "401", "403", "404", "409", "412" };

	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		char path[64], id[16];

		snprintf(id, sizeof(id), "n%s", codes[i]);
		snprintf(path, sizeof(path), "/status/%s/%s/5", id, codes[i]);
		req.url = url(&plain, path);
		assert_int_equal(http_do(h, &req, &r), 0);
		assert_int_equal(r.status, atol(codes[i]));
		assert_int_equal(r.attempts, 1);
		assert_int_equal(count_of(h, id), 1);
	}
	/* a caller that retries itself gets one attempt even for a 503 */
	req.no_retry = 1;
	req.url = url(&plain, "/status/nr/503/5");
	assert_int_equal(http_do(h, &req, &r), 0);
	assert_int_equal(r.status, 503);
	assert_int_equal(r.attempts, 1);
	/* a signer error ends the request at once */
	req.no_retry = 0;
	req.sign = sign_fail;
	req.url = url(&plain, "/ok");
	assert_int_equal(http_do(h, &req, &r), -EACCES);
	assert_int_equal(r.attempts, 1);
	http_resp_free(&r);
	http_free(h);
}

static enum http_verdict judge_400_retry(void *arg, const struct http_req *req, const struct http_resp *resp)
{
	(*(int *)arg)++;
	return resp->status == 400 ? HTTP_RETRY : HTTP_POLICY;
}

static enum http_verdict judge_final(void *arg, const struct http_req *req, const struct http_resp *resp)
{
	(*(int *)arg)++;
	return HTTP_FINAL;
}

/* a request's judge: retries a reply the general policy would not, or stops one it would retry */
static void test_judge(void **state)
{
	struct http *h = mk(3, 5);
	int seen = 0;
	struct http_req req = { .method = "GET", .body_fd = -1, .judge = judge_400_retry, .judge_arg = &seen };
	struct http_resp r = HTTP_RESP_INIT;

	req.url = url(&plain, "/status/j400/400/2");
	assert_int_equal(http_do(h, &req, &r), 0);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.attempts, 3);
	assert_int_equal(seen, 3);
	/* the judge's retries count against the same budget */
	seen = 0;
	req.url = url(&plain, "/status/j400b/400/9");
	assert_int_equal(http_do(h, &req, &r), 0);
	assert_int_equal(r.status, 400);
	assert_int_equal(r.attempts, 4);
	/* HTTP_POLICY from the judge: 503 still retried by the general policy */
	seen = 0;
	req.url = url(&plain, "/status/j503/503/1");
	assert_int_equal(http_do(h, &req, &r), 0);
	assert_int_equal(r.status, 200);
	assert_int_equal(seen, 2);
	/* HTTP_FINAL: a 503 taken as the answer */
	seen = 0;
	req.judge = judge_final;
	req.url = url(&plain, "/status/jfin/503/5");
	assert_int_equal(http_do(h, &req, &r), 0);
	assert_int_equal(r.status, 503);
	assert_int_equal(r.attempts, 1);
	assert_int_equal(seen, 1);
	/* .tries: a request's own budget */
	req.judge = NULL;
	req.tries = 2;
	req.url = url(&plain, "/status/jtries/503/5");
	assert_int_equal(http_do(h, &req, &r), 0);
	assert_int_equal(r.status, 503);
	assert_int_equal(r.attempts, 2);
	http_resp_free(&r);
	http_free(h);
}

static void test_reset(void **state)
{
	struct http *h = mk(3, 5);
	struct http_req req = { .method = "GET", .body_fd = -1, .url = url(&plain, "/reset/r1/2") };
	struct http_resp r = HTTP_RESP_INIT;

	assert_int_equal(http_do(h, &req, &r), 0);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.attempts, 3);
	assert_int_equal(count_of(h, "r1"), 3);

	/* out of retries: a transport error, not a status */
	req.url = url(&plain, "/reset/r2/100");
	assert_int_equal(http_do(h, &req, &r), -EIO);
	assert_int_equal(r.attempts, 4);
	assert_int_not_equal(r.error[0], 0);
	http_resp_free(&r);
	http_free(h);
}

static void test_refused(void **state)
{
	struct http *h = mk(2, 5);
	struct http_req req = { .method = "GET", .body_fd = -1, .url = "http://127.0.0.1:1/x" };
	struct http_resp r = HTTP_RESP_INIT;

	assert_int_equal(http_do(h, &req, &r), -ECONNREFUSED);
	assert_int_equal(r.attempts, 3);
	assert_int_not_equal(r.error[0], 0);
	http_resp_free(&r);
	http_free(h);
}

static void test_stall(void **state)
{
	struct http *h = mk(0, 1);
	struct http_req req = { .method = "GET", .body_fd = -1, .url = url(&plain, "/stall/60") };
	struct http_resp r = HTTP_RESP_INIT;
	struct timespec t0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(http_do(h, &req, &r), -ETIMEDOUT);
	assert_true(ms_since(&t0) < 15000);   /* 1 s of silence, with room for a loaded machine */
	http_resp_free(&r);
	http_free(h);

	/* a deadline bounds the whole call, retries included */
	h = mk(5, 30);
	req.deadline_s = 1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(http_do(h, &req, &r), -ETIMEDOUT);
	assert_true(ms_since(&t0) < 15000);   /* without the deadline: 6 x 30 s */
	http_resp_free(&r);
	http_free(h);
}

static void test_out_buffer(void **state)
{
	struct http *h = mk(1, 5);
	char out[64];
	struct http_req req = { .method = "GET", .body_fd = -1, .out = out, .out_cap = sizeof(out) };
	struct http_resp r = HTTP_RESP_INIT;

	req.url = url(&plain, "/ok");
	assert_int_equal(http_do(h, &req, &r), 0);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.out_len, 5);
	assert_memory_equal(out, "hello", 5);
	assert_int_equal(r.body.len, 0);

	req.url = url(&plain, "/big/64");
	assert_int_equal(http_do(h, &req, &r), 0);
	assert_int_equal(r.out_len, 64);

	/* longer than asked for: an error, never an overrun */
	req.url = url(&plain, "/big/65");
	assert_int_equal(http_do(h, &req, &r), -EIO);
	assert_int_equal(r.attempts, 1);

	/* an error reply goes to the body, not to the caller's buffer */
	memset(out, 0, sizeof(out));
	req.url = url(&plain, "/missing");
	assert_int_equal(http_do(h, &req, &r), 0);
	assert_int_equal(r.status, 404);
	assert_int_equal(r.out_len, 0);
	assert_non_null(strstr(r.body.data, "NoSuchKey"));
	assert_int_equal(out[0], 0);
	http_resp_free(&r);
	http_free(h);
}

/* the server's JSON account of what it received */
static json_t *echo(struct http *h, struct http_req *req, struct http_resp *r)
{
	json_t *j;

	req->url = url(&plain, "/echo");
	assert_int_equal(http_do(h, req, r), 0);
	assert_int_equal(r->status, 200);
	j = json_loads(r->body.data, 0, NULL);
	assert_non_null(j);
	return j;
}

static void test_bodies(void **state)
{
	struct http *h = mk(1, 5);
	struct http_req req = { .body_fd = -1 };
	struct http_resp r = HTTP_RESP_INIT;
	unsigned char d[32];
	char hex[65];
	json_t *j;

	/* PUT from memory */
	req.method = "PUT";
	req.body = "abc";
	req.body_len = 3;
	j = echo(h, &req, &r);
	crypto_sha256("abc", 3, d);
	enc_hex(d, 32, hex);
	assert_string_equal(json_string_value(json_object_get(j, "method")), "PUT");
	assert_int_equal(json_integer_value(json_object_get(j, "len")), 3);
	assert_string_equal(json_string_value(json_object_get(j, "sha256")), hex);
	assert_true(json_is_null(json_object_get(j, "expect")));
	json_decref(j);

	/* POST: no invented form content type */
	req.method = "POST";
	j = echo(h, &req, &r);
	assert_string_equal(json_string_value(json_object_get(j, "method")), "POST");
	assert_int_equal(json_integer_value(json_object_get(j, "len")), 3);
	assert_true(json_is_null(json_object_get(j, "ctype")));
	json_decref(j);

	/* PUT with no body at all: Content-Length 0 */
	req.method = "PUT";
	req.body = NULL;
	req.body_len = 0;
	j = echo(h, &req, &r);
	assert_int_equal(json_integer_value(json_object_get(j, "len")), 0);
	json_decref(j);

	/* other methods, with and without a body */
	req.method = "DELETE";
	j = echo(h, &req, &r);
	assert_string_equal(json_string_value(json_object_get(j, "method")), "DELETE");
	json_decref(j);
	req.method = "PATCH";
	req.body = "xy";
	req.body_len = 2;
	j = echo(h, &req, &r);
	assert_string_equal(json_string_value(json_object_get(j, "method")), "PATCH");
	assert_int_equal(json_integer_value(json_object_get(j, "len")), 2);
	json_decref(j);

	/* the signer's headers arrive */
	req.method = "POST";
	req.sign = sign_count;
	j = echo(h, &req, &r);
	assert_string_equal(json_string_value(json_object_get(j, "signed")), "yes");
	json_decref(j);

	/* HEAD: headers, no body */
	req = (struct http_req){ .method = "HEAD", .body_fd = -1, .url = url(&plain, "/ok") };
	assert_int_equal(http_do(h, &req, &r), 0);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body.len, 0);
	{
		char *v = http_header(&r, "Content-Length");

		assert_string_equal(v, "5");
		free(v);
	}
	http_resp_free(&r);
	http_free(h);
}

static int spool(size_t len)
{
	char path[300];
	unsigned s = 12345;
	char *p = malloc(len);
	int fd;

	snprintf(path, sizeof(path), "%s/spool.XXXXXX", tmpdir);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	for (size_t i = 0; i < len; i++)
		p[i] = (char)(rand_r(&s) >> 7);
	assert_int_equal(write(fd, p, len), (ssize_t)len);
	free(p);
	return fd;
}

static void test_file_body(void **state)
{
	struct http *h = mk(2, 5);
	int fd = spool(3 << 20);
	struct http_req req = { .method = "PUT", .body_fd = fd, .body_off = 12345, .body_fd_len = (2 << 20) + 7 };
	struct http_resp r = HTTP_RESP_INIT;
	unsigned char d[32];
	unsigned dl;
	char hex[65];
	json_t *j;

	assert_int_equal(crypto_digest_fd("sha256", fd, 12345, (2 << 20) + 7, d, &dl), 0);
	enc_hex(d, 32, hex);
	j = echo(h, &req, &r);
	assert_int_equal(json_integer_value(json_object_get(j, "len")), (2 << 20) + 7);
	assert_string_equal(json_string_value(json_object_get(j, "sha256")), hex);
	json_decref(j);

	/* POST of a file range */
	req.method = "POST";
	j = echo(h, &req, &r);
	assert_string_equal(json_string_value(json_object_get(j, "sha256")), hex);
	json_decref(j);

	/* resent after a reset (by curl itself on a reused connection, or by our retry): the body
	 * starts again from its first byte */
	req.method = "PUT";
	req.url = url(&plain, "/reset/fr/1");
	assert_int_equal(http_do(h, &req, &r), 0);
	assert_int_equal(r.status, 200);
	assert_true(r.attempts <= 2);
	j = json_loads(r.body.data, 0, NULL);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "sha256")), hex);
	json_decref(j);
	assert_int_equal(count_of(h, "fr"), 2);

	/* the spool is shorter than announced: an error, no retry, no hang */
	req.url = url(&plain, "/echo");
	req.body_off = (3 << 20) - 10;
	req.body_fd_len = 100;
	assert_int_equal(http_do(h, &req, &r), -EIO);
	assert_int_equal(r.attempts, 1);

	/* a bad descriptor */
	req.body_fd = 9999;
	req.body_off = 0;
	assert_int_equal(http_do(h, &req, &r), -EBADF);
	http_resp_free(&r);
	http_free(h);
	close(fd);
}

static void test_tls(void **state)
{
	struct http_conf conf = { .retries = 2, .timeout_s = 5, .backoff_ms = 5 };
	struct http_req req = { .method = "GET", .body_fd = -1, .url = url(&tls, "/ok") };
	struct http_resp r = HTTP_RESP_INIT;
	struct http *h;
	char *why = NULL;

	/* an unknown CA: refused, and not retried (the same certificate comes again) */
	assert_int_equal(http_new(&h, &conf, &why), 0);
	assert_int_equal(http_do(h, &req, &r), -EIO);
	assert_int_equal(r.attempts, 1);
	assert_non_null(strcasestr(r.error, "certificate"));
	http_free(h);

	/* CA_CERT_DATA makes it trusted */
	conf.ca_pem = cert_pem;
	assert_int_equal(http_new(&h, &conf, &why), 0);
	assert_int_equal(http_do(h, &req, &r), 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body.data, "hello");
	http_free(h);

	/* only an explicit insecure option skips verification */
	conf.ca_pem = NULL;
	conf.insecure = 1;
	assert_int_equal(http_new(&h, &conf, &why), 0);
	assert_int_equal(http_do(h, &req, &r), 0);
	assert_int_equal(r.status, 200);
	http_free(h);
	http_resp_free(&r);
}

struct thr {
	struct http *h;
	int ok;
};

static void *hammer(void *arg)
{
	struct thr *t = arg;
	char out[16] = { 0 };

	for (int i = 0; i < 25; i++) {
		struct http_req req = { .method = "GET", .body_fd = -1, .url = url(&plain, "/ok"),
					.out = i % 2 ? out : NULL, .out_cap = sizeof(out) };
		struct http_resp r = HTTP_RESP_INIT;

		if (http_do(t->h, &req, &r) == 0 && r.status == 200 &&
		    (i % 2 ? r.out_len == 5 && !memcmp(out, "hello", 5) : !strcmp(r.body.data, "hello")))
			t->ok++;
		http_resp_free(&r);
	}
	return NULL;
}

static void test_threads(void **state)
{
	struct http *h = mk(2, 5);
	pthread_t tid[8];
	struct thr t[8];

	for (int i = 0; i < 8; i++) {
		t[i] = (struct thr){ .h = h };
		assert_int_equal(pthread_create(&tid[i], NULL, hammer, &t[i]), 0);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(tid[i], NULL);
		assert_int_equal(t[i].ok, 25);
	}
	http_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_errno),
		cmocka_unit_test(test_retryable),
		cmocka_unit_test(test_header_lookup),
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_bad_ca),
		cmocka_unit_test(test_get),
		cmocka_unit_test(test_dot_segments),
		cmocka_unit_test(test_retry_status),
		cmocka_unit_test(test_no_retry),
		cmocka_unit_test(test_judge),
		cmocka_unit_test(test_reset),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_stall),
		cmocka_unit_test(test_out_buffer),
		cmocka_unit_test(test_bodies),
		cmocka_unit_test(test_file_body),
		cmocka_unit_test(test_tls),
		cmocka_unit_test(test_threads),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
