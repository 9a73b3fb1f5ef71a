/* libcurl behind one small interface: a pool of easy handles, one CA policy, one retry policy. */
#include "backends/http.h"
#include "common/log.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BACKOFF_CAP_MS 20000u
#define POOL_KEEP 64            /* idle handles kept; more are closed on release */
#define ERR_BODY_MAX (1 << 20)  /* an error document is small; do not buffer a huge one */
#define CA_FILE_MAX (16 << 20)

#define POOLED_SOCKS 4

struct pooled {
	CURL *c;
	struct pooled *next;
	/* the connections' sockets this handle opened and has not closed (ack_now) */
	curl_socket_t socks[POOLED_SOCKS];
	unsigned nsocks;
};

struct http {
	struct http_conf conf;
	char *ca_blob;          /* system bundle + CA_CERT_DATA, or NULL: curl's default store */
	size_t ca_blob_len;
	CURLSH *share;
	pthread_mutex_t share_lock[CURL_LOCK_DATA_LAST];
	pthread_mutex_t pool_lock;
	struct pooled *idle;
	unsigned nidle;
};

/* State of one attempt, shared by the curl callbacks. */
struct xfer {
	CURL *c;
	const struct http_req *req;
	struct http_resp *resp;
	uint64_t body_total;
	uint64_t sent;          /* request body bytes handed to curl */
	long status;            /* from the last status line seen (1xx lines are skipped) */
	int rd_err;             /* -errno from pread */
	int overflow;           /* a 2xx body did not fit req->out */
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc;

static void global_init(void)
{
	global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void share_lock(CURL *c, curl_lock_data d, curl_lock_access a, void *arg)
{
	struct http *h = arg;

	if ((unsigned)d < CURL_LOCK_DATA_LAST)
		pthread_mutex_lock(&h->share_lock[d]);
}

static void share_unlock(CURL *c, curl_lock_data d, void *arg)
{
	struct http *h = arg;

	if ((unsigned)d < CURL_LOCK_DATA_LAST)
		pthread_mutex_unlock(&h->share_lock[d]);
}

static void set_why(char **why, const char *fmt, const char *arg)
{
	if (why && asprintf(why, fmt, arg) < 0)
		*why = NULL;
}

/* Number of certificates in a PEM bundle (0: none or malformed). */
static int pem_count(const char *pem, size_t len)
{
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	X509 *x;
	int n = 0;

	if (!bio)
		return 0;
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL))) {
		X509_free(x);
		n++;
	}
	BIO_free(bio);
	return n;
}

/* CURLOPT_CAINFO_BLOB replaces the CA file for some TLS backends, so the blob carries the system
 * bundle too: CA_CERT_DATA adds trust, it never takes the public CAs away. */
static int build_ca_blob(struct http *h, const char *pem, char **why)
{
	struct buf b = BUF_INIT;
	char *deflt = NULL;
	CURL *c;
	int rc;

	if (pem_count(pem, strlen(pem)) == 0) {
		set_why(why, "CA_CERT_DATA holds no PEM certificate%s", "");
		return -EINVAL;
	}
	c = curl_easy_init();
	if (!c)
		return -ENOMEM;
	if (curl_easy_getinfo(c, CURLINFO_CAINFO, &deflt) == CURLE_OK && deflt) {
		rc = buf_read_file(&b, deflt, CA_FILE_MAX);
		if (rc)
			log_warn("cannot read the system CA bundle %s: %s; trusting CA_CERT_DATA only", deflt,
				 strerror(-rc));
		if (rc == -ENOMEM) {
			curl_easy_cleanup(c);
			buf_free(&b);
			return rc;
		}
		if (rc)
			buf_reset(&b);
	}
	curl_easy_cleanup(c);
	if (b.len && b.data[b.len - 1] != '\n' && buf_adds(&b, "\n"))
		goto nomem;
	if (buf_adds(&b, pem) || buf_adds(&b, "\n"))
		goto nomem;
	h->ca_blob_len = b.len;
	h->ca_blob = buf_detach(&b);
	return 0;
nomem:
	buf_free(&b);
	return -ENOMEM;
}

int http_new(struct http **out, const struct http_conf *conf, char **why)
{
	struct http *h;
	int rc = -ENOMEM;

	*out = NULL;
	pthread_once(&global_once, global_init);
	if (global_rc != CURLE_OK) {
		set_why(why, "libcurl: %s", curl_easy_strerror(global_rc));
		return -EIO;
	}
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->conf = *conf;
	h->conf.ca_pem = NULL;
	if (h->conf.timeout_s <= 0)
		h->conf.timeout_s = 60;
	if (h->conf.retries < 0)
		h->conf.retries = 0;
	if (!h->conf.backoff_ms)
		h->conf.backoff_ms = 200;
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&h->share_lock[i], NULL);
	pthread_mutex_init(&h->pool_lock, NULL);
	if (conf->ca_pem && *conf->ca_pem) {
		rc = build_ca_blob(h, conf->ca_pem, why);
		if (rc)
			goto err;
	}
	/* DNS and TLS sessions are shared between threads. Connections are not: libcurl does not
	 * support sharing its connection cache between concurrent threads, and a pooled handle keeps
	 * its own connections open across requests anyway. */
	h->share = curl_share_init();
	if (!h->share)
		goto err;
	if (curl_share_setopt(h->share, CURLSHOPT_LOCKFUNC, share_lock) ||
	    curl_share_setopt(h->share, CURLSHOPT_UNLOCKFUNC, share_unlock) ||
	    curl_share_setopt(h->share, CURLSHOPT_USERDATA, h) ||
	    curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) ||
	    curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION)) {
		set_why(why, "libcurl: cannot set up a share handle%s", "");
		rc = -EIO;
		goto err;
	}
	*out = h;
	return 0;
err:
	http_free(h);
	return rc;
}

void http_free(struct http *h)
{
	if (!h)
		return;
	while (h->idle) {
		struct pooled *p = h->idle;

		h->idle = p->next;
		curl_easy_cleanup(p->c);
		free(p);
	}
	if (h->share)
		curl_share_cleanup(h->share);
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_destroy(&h->share_lock[i]);
	pthread_mutex_destroy(&h->pool_lock);
	if (h->ca_blob)
		free(h->ca_blob);
	free(h);
}

/* A server that writes a response's headers and its body apart with Nagle on (Ceph RGW: listings,
 * DeleteObjects results, GETs) sends the body only once the headers are ACKed, and on a kept-alive
 * connection Linux delays that ACK by 40 ms or more: ACK them at once. A mkdir on RGW took 89 ms,
 * two listings of 45 ms each, 43 ms of which between the headers and the body (strace; nstat: two
 * delayed ACKs per listing). curl cannot name the socket a transfer uses (CURLINFO_ACTIVESOCKET
 * answers only between transfers), so every socket of the handle gets it: one or two. */
static void ack_now(CURL *c)
{
	struct pooled *p = NULL;
	int one = 1;

	if (curl_easy_getinfo(c, CURLINFO_PRIVATE, (char **)&p) != CURLE_OK || !p)
		return;
	for (unsigned i = 0; i < p->nsocks; i++)
		(void)setsockopt(p->socks[i], IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
}

static int on_sockopt(void *arg, curl_socket_t fd, curlsocktype purpose)
{
	struct pooled *p = arg;

	if (purpose == CURLSOCKTYPE_IPCXN && p->nsocks < POOLED_SOCKS)
		p->socks[p->nsocks++] = fd;
	return CURL_SOCKOPT_OK;
}

static int on_closesocket(void *arg, curl_socket_t fd)
{
	struct pooled *p = arg;

	for (unsigned i = 0; i < p->nsocks; i++)
		if (p->socks[i] == fd) {
			p->socks[i] = p->socks[--p->nsocks];
			break;
		}
	return close(fd);
}

/* set again after every curl_easy_reset: the handle's connections outlive its options */
static void pool_hooks(struct pooled *p)
{
	curl_easy_setopt(p->c, CURLOPT_PRIVATE, (char *)p);
	curl_easy_setopt(p->c, CURLOPT_SOCKOPTFUNCTION, on_sockopt);
	curl_easy_setopt(p->c, CURLOPT_SOCKOPTDATA, p);
	curl_easy_setopt(p->c, CURLOPT_CLOSESOCKETFUNCTION, on_closesocket);
	curl_easy_setopt(p->c, CURLOPT_CLOSESOCKETDATA, p);
}

static struct pooled *pool_get(struct http *h)
{
	struct pooled *p;

	pthread_mutex_lock(&h->pool_lock);
	p = h->idle;
	if (p) {
		h->idle = p->next;
		h->nidle--;
	}
	pthread_mutex_unlock(&h->pool_lock);
	if (p) {
		/* forgets options, keeps the handle's open connections */
		curl_easy_reset(p->c);
		pool_hooks(p);
		return p;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->c = curl_easy_init();
	if (!p->c) {
		free(p);
		return NULL;
	}
	pool_hooks(p);
	return p;
}

static void pool_put(struct http *h, struct pooled *p, int keep)
{
	if (keep) {
		pthread_mutex_lock(&h->pool_lock);
		if (h->nidle < POOL_KEEP) {
			p->next = h->idle;
			h->idle = p;
			h->nidle++;
			p = NULL;
		}
		pthread_mutex_unlock(&h->pool_lock);
	}
	if (p) {
		curl_easy_cleanup(p->c);
		free(p);
	}
}

static size_t on_read(char *dst, size_t size, size_t nmemb, void *arg)
{
	struct xfer *x = arg;
	const struct http_req *req = x->req;
	uint64_t left = x->body_total - x->sent;
	size_t want = size * nmemb;
	ssize_t n;

	if (want > left)
		want = (size_t)left;
	if (!want)
		return 0;
	if (req->body_fd < 0) {
		memcpy(dst, (const char *)req->body + x->sent, want);
		x->sent += want;
		return want;
	}
	do {
		n = pread(req->body_fd, dst, want, req->body_off + (off_t)x->sent);
	} while (n < 0 && errno == EINTR);
	if (n <= 0) {
		/* a spool shorter than announced must not be sent as a short body */
		x->rd_err = n < 0 ? -errno : -EIO;
		return CURL_READFUNC_ABORT;
	}
	x->sent += (uint64_t)n;
	return (size_t)n;
}

/* curl rewinds the body when it must send it again (auth, a redirect, a reused dead connection). */
static int on_seek(void *arg, curl_off_t off, int origin)
{
	struct xfer *x = arg;

	if (origin != SEEK_SET || off < 0 || (uint64_t)off > x->body_total)
		return CURL_SEEKFUNC_FAIL;
	x->sent = (uint64_t)off;
	return CURL_SEEKFUNC_OK;
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *arg)
{
	struct xfer *x = arg;
	size_t n = size * nmemb;

	if (n > 5 && !strncmp(p, "HTTP/", 5)) {
		ack_now(x->c);
		/* a new response (after 100 Continue, say): keep only the final one's headers */
		const char *sp = memchr(p, ' ', n);

		buf_reset(&x->resp->headers);
		x->status = sp ? strtol(sp + 1, NULL, 10) : 0;
	}
	if (buf_add(&x->resp->headers, p, n))
		return 0;
	return n;
}

static size_t on_write(char *p, size_t size, size_t nmemb, void *arg)
{
	struct xfer *x = arg;
	const struct http_req *req = x->req;
	struct http_resp *resp = x->resp;
	size_t n = size * nmemb;

	if (req->out && x->status >= 200 && x->status < 300) {
		if (n > req->out_cap - resp->out_len) {
			x->overflow = 1;
			return 0;
		}
		memcpy((char *)req->out + resp->out_len, p, n);
		resp->out_len += n;
		return n;
	}
	if (req->out && resp->body.len + n > ERR_BODY_MAX)
		return n;   /* the start of an error document is enough */
	if (buf_add(&resp->body, p, n))
		return 0;
	return n;
}

static int has_header(const struct curl_slist *l, const char *name)
{
	size_t n = strlen(name);

	for (; l; l = l->next)
		if (!strncasecmp(l->data, name, n) && l->data[n] == ':')
			return 1;
	return 0;
}

/* curl error -> errno and whether another attempt may help */
static int curl_errno(CURLcode cc, int *retry)
{
	*retry = 0;
	switch (cc) {
	case CURLE_OPERATION_TIMEDOUT:
		*retry = 1;
		return -ETIMEDOUT;
	case CURLE_COULDNT_CONNECT:
		*retry = 1;
		return -ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		*retry = 1;
		return -EHOSTUNREACH;
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_SSL_CONNECT_ERROR:
		*retry = 1;
		return -EIO;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
		return -EINVAL;
	default:
		return -EIO;   /* certificate problems, callbacks that failed, ...: the same again */
	}
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static const char *method_of(const struct http_req *req)
{
	return req->method ? req->method : "GET";
}

/* One attempt on handle c. Returns 0 with resp->status set, or -errno with *retry. */
static int attempt(struct http *h, CURL *c, const struct http_req *req, struct http_resp *resp,
		   long max_ms, int *retry)
{
	const char *method = method_of(req);
	struct curl_slist *hdrs = NULL, *tmp;
	struct xfer x = { .c = c, .req = req, .resp = resp };
	int has_body = req->body_fd >= 0 || req->body_len;
	char errbuf[CURL_ERROR_SIZE] = "";
	CURLcode cc;
	int rc = 0;

	*retry = 0;
	x.body_total = req->body_fd >= 0 ? req->body_fd_len : req->body_len;
	buf_reset(&resp->body);
	buf_reset(&resp->headers);
	resp->out_len = 0;
	resp->status = 0;
	resp->error[0] = 0;

	for (const char *const *hp = req->headers; hp && *hp; hp++) {
		tmp = curl_slist_append(hdrs, *hp);
		if (!tmp) {
			rc = -ENOMEM;
			goto out;
		}
		hdrs = tmp;
	}
	if (req->sign) {
		rc = req->sign(req->sign_arg, req, &hdrs);
		if (rc)
			goto out;
	}
	/* no 100-continue round trip; and no form content type curl would invent for a POST body */
	tmp = curl_slist_append(hdrs, "Expect:");
	if (!tmp) {
		rc = -ENOMEM;
		goto out;
	}
	hdrs = tmp;
	if (!strcmp(method, "POST") && !has_header(hdrs, "Content-Type")) {
		tmp = curl_slist_append(hdrs, "Content-Type:");
		if (!tmp) {
			rc = -ENOMEM;
			goto out;
		}
		hdrs = tmp;
	}

	curl_easy_setopt(c, CURLOPT_URL, req->url);
	/* keys come from listings and may hold "." or ".." segments: sent as built, never resolved, or
	 * a delete of "a/b/../x" would reach "a/x" (the request is signed over the same literal path) */
	curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(c, CURLOPT_SHARE, h->share);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)h->conf.timeout_s);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME,
			 (long)(req->slow_s > 0 ? req->slow_s : h->conf.timeout_s));
	if (max_ms > 0) {
		curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, max_ms);
		if (max_ms / 1000 < h->conf.timeout_s)
			curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, max_ms);
	}
	curl_easy_setopt(c, CURLOPT_BUFFERSIZE, 512L * 1024);
	curl_easy_setopt(c, CURLOPT_UPLOAD_BUFFERSIZE, 512L * 1024);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &x);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &x);
	curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
	curl_easy_setopt(c, CURLOPT_READDATA, &x);
	curl_easy_setopt(c, CURLOPT_SEEKFUNCTION, on_seek);
	curl_easy_setopt(c, CURLOPT_SEEKDATA, &x);
	if (h->conf.insecure) {
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	} else if (h->ca_blob) {
		struct curl_blob blob = { h->ca_blob, h->ca_blob_len, CURL_BLOB_NOCOPY };

		curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &blob);
	}

	if (!strcmp(method, "GET")) {
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	} else if (!strcmp(method, "HEAD")) {
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	} else if (!strcmp(method, "POST")) {
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x.body_total);
	} else if (!strcmp(method, "PUT") || has_body) {
		curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)x.body_total);
		if (strcmp(method, "PUT"))
			curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	} else {
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	}

	cc = curl_easy_perform(c);
	if (cc == CURLE_OK) {
		long code = 0;

		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
		resp->status = code ? code : x.status;
		goto out;
	}
	if (x.rd_err) {
		rc = x.rd_err;
		snprintf(resp->error, sizeof(resp->error), "reading the request body: %s", strerror(-rc));
		goto out;
	}
	if (x.overflow) {
		rc = -EIO;
		snprintf(resp->error, sizeof(resp->error), "reply longer than the %zu bytes asked for",
			 req->out_cap);
		goto out;
	}
	rc = curl_errno(cc, retry);
	resp->status = x.status;   /* what the broken reply had announced, for callers' diagnosis */
	snprintf(resp->error, sizeof(resp->error), "%s", errbuf[0] ? errbuf : curl_easy_strerror(cc));
out:
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
	curl_slist_free_all(hdrs);
	return rc;
}

static void http_backoff(const struct http *h, int attempt);

int http_do(struct http *h, const struct http_req *req, struct http_resp *resp)
{
	int tries = req->no_retry ? 1 : req->tries > 0 ? req->tries : h->conf.retries + 1;
	uint64_t deadline = req->deadline_s > 0 ? now_ms() + (uint64_t)req->deadline_s * 1000 : 0;
	struct pooled *p;
	int rc = -EIO, retry = 0;

	resp->attempts = 0;
	p = pool_get(h);
	if (!p)
		return -ENOMEM;
	for (int n = 0; n < tries; n++) {
		long max_ms = 0;

		if (deadline) {
			uint64_t now = now_ms();

			if (now >= deadline) {
				if (n)
					break;
				max_ms = 1;
			} else {
				max_ms = (long)(deadline - now);
			}
		}
		resp->attempts++;
		rc = attempt(h, p->c, req, resp, max_ms, &retry);
		if (rc == 0) {
			log_debug("http %s %.*s -> %ld", method_of(req), (int)strcspn(req->url, "?"),
				  req->url, resp->status);
			enum http_verdict v = req->judge ? req->judge(req->judge_arg, req, resp) : HTTP_POLICY;

			if (v == HTTP_FINAL || (v == HTTP_POLICY && !http_retryable(resp->status)))
				break;
			retry = 1;
		} else {
			log_debug("http %s %.*s: %s", method_of(req), (int)strcspn(req->url, "?"), req->url,
				  resp->error);
		}
		if (!retry || n + 1 == tries)
			break;
		if (rc) {
			/* a broken connection: start the next attempt on a fresh one */
			pool_put(h, p, 0);
			p = pool_get(h);
			if (!p)
				return -ENOMEM;
		}
		if (deadline) {
			/* do not sleep past the deadline */
			uint64_t now = now_ms();

			if (now >= deadline)
				break;
		}
		http_backoff(h, n);
	}
	pool_put(h, p, rc == 0);
	return rc;
}

void http_resp_free(struct http_resp *resp)
{
	buf_free(&resp->body);
	buf_free(&resp->headers);
}

char *http_header(const struct http_resp *resp, const char *name)
{
	size_t nlen = strlen(name);
	const char *p = resp->headers.data;

	if (!p)
		return NULL;
	while (*p) {
		const char *eol = strchr(p, '\n'), *v, *e;

		if (!eol)
			eol = p + strlen(p);
		if ((size_t)(eol - p) > nlen && !strncasecmp(p, name, nlen) && p[nlen] == ':') {
			v = p + nlen + 1;
			e = eol;
			while (v < e && (*v == ' ' || *v == '\t'))
				v++;
			while (e > v && (e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n'))
				e--;
			return strndup(v, (size_t)(e - v));
		}
		p = *eol ? eol + 1 : eol;
	}
	return NULL;
}

int http_errno(long status)
{
	if (status >= 200 && status < 300)
		return 0;
	switch (status) {
	case 404:
		return -ENOENT;
	case 401:
	case 403:
		return -EACCES;
	case 409:
		return -EBUSY;
	case 412:
		return -EEXIST;
	case 416:
		return -ERANGE;
	case 413:
	case 507:
		return -ENOSPC;
	default:
		return -EIO;
	}
}

int http_retryable(long status)
{
	return (status >= 500 && status <= 599) || status == 408 || status == 429;
}

static uint64_t rand64(void)
{
	static __thread uint64_t s;

	if (!s) {
		if (getrandom(&s, sizeof(s), GRND_NONBLOCK) != sizeof(s))
			s = (uint64_t)now_ms() ^ (uint64_t)pthread_self();
		s |= 1;
	}
	/* xorshift64*: jitter needs spread, not secrecy */
	s ^= s >> 12;
	s ^= s << 25;
	s ^= s >> 27;
	return s * 2685821657736338717ull;
}

unsigned http_backoff_ms(const struct http *h, int attempt)
{
	uint64_t cap = h && h->conf.backoff_ms ? h->conf.backoff_ms : 200;

	for (int i = 0; i < attempt && cap < BACKOFF_CAP_MS; i++)
		cap *= 2;
	if (cap > BACKOFF_CAP_MS)
		cap = BACKOFF_CAP_MS;
	return (unsigned)(rand64() % (cap + 1));
}

/* the one sleep between attempts: every retry of every store goes through http_do's loop */
static void http_backoff(const struct http *h, int attempt)
{
	unsigned ms = http_backoff_ms(h, attempt);
	struct timespec ts;

	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000;
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

time_t http_date(const char *s)
{
	struct tm tm = { 0 };

	if (!s || !strptime(s, "%a, %d %b %Y %H:%M:%S", &tm))
		return 0;
	return timegm(&tm);
}
