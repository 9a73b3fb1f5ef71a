/* s3://bucket/prefix: AWS S3 and S3-compatible stores (MinIO, Ceph RGW, s3rver, GCS interoperability),
 * signed with SigV4. Small files are one PutObject; bigger ones are multipart uploads whose parts go up
 * in parallel and become visible only at CompleteMultipartUpload. An append carries the existing
 * object into the new upload with UploadPartCopy, so its bytes never travel through us. */
#include "backends/backend.h"
#include "common/buf.h"
#include "common/crypto.h"
#include "common/encode.h"
#include "backends/http.h"
#include "backends/objver.h"
#include "backends/s3/s3_priv.h"
#include "backends/secret.h"
#include "backends/s3/sigv4.h"
#include "common/why.h"
#include "common/log.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define MIB (1024ULL * 1024)
#define GIB (1024ULL * MIB)
#define S3_MAX_PART (5 * GIB)
#define S3_MAX_PARTS 10000
#define S3_DELETE_BATCH 1000
#define S3_OPEN_DEADLINE_S 15
#define S3_COMMIT_TRIES 4

struct s3 {
	struct http *http;
	struct sigv4_cred cred;
	char *access_key, *secret_key, *token, *region;
	char *bucket;
	char *endpoint;        /* as the user sees it, for messages: "http://127.0.0.1:4568" */
	char *base;            /* URL up to the bucket: "http://h:p/bucket" or "https://bucket.h" */
	char *copy_source;     /* "/bucket/" for x-amz-copy-source */
	int virt;              /* virtual-host style: the bucket is in the host name */
	int slow_s;            /* low-speed timeout for server-side work: completing, copying */
	int no_batch_delete;   /* the server said NotImplemented to DeleteObjects */
	int no_part_copy;      /* ... to UploadPartCopy: copy through a temporary file */
	int told_no_abort;
	const struct backend_conf *conf;
};

struct upload {
	struct s3 *s3;
	char *key;
	char *url;             /* the object URL, without a query */
	char *id;              /* UploadId, URL-encoded for the query */
	unsigned nbase;        /* parts 1..nbase hold the copied base object */
	uint64_t bytes;        /* in all parts uploaded so far (atomic) */
	pthread_mutex_t lock;
	char **etags;          /* by S3 part number - 1 */
	size_t cap;
};

/* ---------- requests ---------- */

struct sign_ctx {
	struct s3 *s3;
	const char *hash;
};

static int s3_sign(void *arg, const struct http_req *req, struct curl_slist **hdrs)
{
	struct sign_ctx *sc = arg;

	return sigv4_sign_http(&sc->s3->cred, req, sc->hash, time(NULL), hdrs);
}

struct call {
	const char *method;
	const char *url;
	const char *const *headers;
	const void *body;        /* memory body (hashed into the signature) */
	size_t body_len;
	int fd;                  /* >= 0: a file range, sent as UNSIGNED-PAYLOAD */
	off_t fd_off;
	uint64_t fd_len;
	void *out;
	size_t out_cap;
	int deadline_s;
	int slow;                /* the server may think long before it answers (assembling, copying) */
	int once;                /* no retries: the caller decides */
};

static int s3_call(struct s3 *s3, const struct call *c, struct http_resp *resp)
{
	char hex[65];
	struct sign_ctx sc = { s3, SIGV4_EMPTY_SHA256 };
	struct http_req req = {
		.method = c->method, .url = c->url, .headers = c->headers, .body = c->body,
		.body_len = c->body_len, .body_fd = -1, .out = c->out, .out_cap = c->out_cap,
		.sign = s3_sign, .sign_arg = &sc, .deadline_s = c->deadline_s, .no_retry = c->once,
	};

	if (c->slow)
		req.slow_s = s3->slow_s;

	if (c->fd >= 0 && c->fd_len) {
		req.body_fd = c->fd;
		req.body_off = c->fd_off;
		req.body_fd_len = c->fd_len;
		/* a part is streamed from the spool: hashing it first would read it twice */
		sc.hash = SIGV4_UNSIGNED;
	} else if (c->body_len) {
		unsigned char d[32];

		crypto_sha256(c->body, c->body_len, d);
		enc_hex(d, 32, hex);
		sc.hash = hex;
	}
	return http_do(s3->http, &req, resp);
}

/* URL of key (NULL: the bucket) with an optional query ("uploads", "partNumber=1&uploadId=..."). */
static char *s3_url(const struct s3 *s3, const char *key, const char *query)
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

/* errno for a finished request: transport errors as they are, else by status and error code. Logs
 * what the server said when it is not a plain "not found". */
static int s3_result(const char *what, const char *key, int rc, struct http_resp *resp)
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

/* ---------- open ---------- */

static void s3_free(struct s3 *s3)
{
	if (!s3)
		return;
	http_free(s3->http);
	free(s3->access_key);
	if (s3->secret_key)
		explicit_bzero(s3->secret_key, strlen(s3->secret_key));
	free(s3->secret_key);
	if (s3->token)
		explicit_bzero(s3->token, strlen(s3->token));
	free(s3->token);
	free(s3->region);
	free(s3->bucket);
	free(s3->endpoint);
	free(s3->base);
	free(s3->copy_source);
	free(s3);
}

static int ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && !strcasecmp(s + a - b, suffix);
}

/* A bucket name that can be a DNS label for virtual-host style (no dots: TLS wildcards break). */
static int dns_bucket(const char *b)
{
	size_t n = strlen(b);

	if (n < 3 || n > 63)
		return 0;
	for (const char *c = b; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-'))
			return 0;
	return b[0] != '-' && b[n - 1] != '-';
}

static int remaining_s(time_t start)
{
	int left = S3_OPEN_DEADLINE_S - (int)(time(NULL) - start);

	return left > 1 ? left : 1;
}

/* GetBucketLocation through the global endpoint (signed for us-east-1), as KubeDB does for AWS. */
static int find_region(struct s3 *s3, const char *scheme, time_t start, char **why)
{
	char *url = NULL, *r = NULL, code[S3_CODE_MAX] = "";
	struct http_resp resp = HTTP_RESP_INIT;
	struct call c = { .method = "GET", .fd = -1 };
	int rc;

	if (asprintf(&url, "%s://s3.amazonaws.com/%s?location", scheme, s3->bucket) < 0)
		return -ENOMEM;
	s3->cred.region = "us-east-1";
	c.url = url;
	c.deadline_s = remaining_s(start) / 2 + 1;
	rc = s3_call(s3, &c, &resp);
	if (!rc && resp.status == 200) {
		rc = s3_parse_location(resp.body.data, resp.body.len, &r);
		if (rc)
			why_set(why, "cannot read the location of bucket '%s': malformed reply", s3->bucket);
	} else if (!rc) {
		/* without s3:GetBucketLocation the region still shows in a header of the refusal */
		r = http_header(&resp, "x-amz-bucket-region");
		if (!r) {
			s3_parse_error(resp.body.data, resp.body.len, code, NULL);
			rc = -ENOENT;
		}
	}
	if (rc == -ENOENT || (!rc && !r)) {
		log_warn("s3: cannot find the region of bucket '%s' (HTTP %ld %s); using us-east-1",
			 s3->bucket, resp.status, code);
		r = strdup("us-east-1");
		rc = r ? 0 : -ENOMEM;
	} else if (rc && !(why && *why)) {
		why_set(why, "cannot reach s3.amazonaws.com to find the region of bucket '%s': %s",
			s3->bucket, resp.error[0] ? resp.error : strerror(-rc));
	}
	http_resp_free(&resp);
	free(url);
	if (rc)
		return rc;
	free(s3->region);
	s3->region = r;
	s3->cred.region = r;
	return 0;
}

static int no_entry(void *arg, const char *key, const struct obj_info *oi)
{
	return 0;
}

/* ListObjectsV2 max-keys=1 below the prefix: the bucket exists, the keys work and may list. */
static int check_bucket(struct s3 *s3, const struct backend_conf *conf, time_t start, char **why)
{
	struct http_resp resp = HTTP_RESP_INIT;
	struct call c = { .method = "GET", .fd = -1 };
	char code[S3_CODE_MAX] = "", *msg = NULL, *q = NULL, *url = NULL, *pfx = NULL, *next = NULL;
	const char *p = conf->src->prefix ? conf->src->prefix : "";
	int rc;

	if (asprintf(&pfx, "%s%s", p, *p ? "/" : "") < 0)
		return -ENOMEM;
	q = enc_uri(pfx, 0);
	free(pfx);
	if (!q)
		return -ENOMEM;
	pfx = q;
	if (asprintf(&q, "list-type=2&max-keys=1&prefix=%s", pfx) < 0)
		q = NULL;
	free(pfx);
	url = q ? s3_url(s3, NULL, q) : NULL;
	free(q);
	if (!url)
		return -ENOMEM;
	c.url = url;
	c.deadline_s = remaining_s(start);
	rc = s3_call(s3, &c, &resp);
	if (rc) {
		why_set(why, "cannot reach %s: %s", s3->endpoint, resp.error[0] ? resp.error : strerror(-rc));
		goto out;
	}
	if (resp.status == 200) {
		rc = s3_parse_list(resp.body.data, resp.body.len, no_entry, NULL, &next);
		if (rc == -EIO) {
			why_set(why, "%s does not answer like an S3 service (HTTP 200 with a reply that "
				"is not a bucket listing)", s3->endpoint);
		}
		free(next);
		goto out;
	}
	s3_parse_error(resp.body.data, resp.body.len, code, &msg);
	if (!strcmp(code, "NoSuchBucket") || (resp.status == 404 && !code[0])) {
		rc = -ENOENT;
		why_set(why, "bucket '%s' does not exist at %s", s3->bucket, s3->endpoint);
	} else if (resp.status == 301 || !strcmp(code, "PermanentRedirect") ||
		   !strcmp(code, "AuthorizationHeaderMalformed")) {
		char *r = http_header(&resp, "x-amz-bucket-region");

		rc = -EINVAL;
		if (r)
			why_set(why, "bucket '%s' is in region %s, not %s: pass --region %s", s3->bucket, r,
				s3->region, r);
		else
			why_set(why, "bucket '%s' is not in region %s at %s (%s): pass the bucket's --region",
				s3->bucket, s3->region, s3->endpoint, code[0] ? code : "redirect");
		free(r);
	} else if (resp.status == 403 || resp.status == 401) {
		rc = -EACCES;
		if (!strcmp(code, "InvalidAccessKeyId") || !strcmp(code, "SignatureDoesNotMatch") ||
		    !strcmp(code, "InvalidToken") || !strcmp(code, "ExpiredToken") || !code[0])
			why_set(why, "access denied for AWS_ACCESS_KEY_ID=%s: check the secret (%s)",
				s3->access_key, code[0] ? code : "HTTP 403");
		else
			why_set(why, "access denied for AWS_ACCESS_KEY_ID=%s: check the secret and the "
				"bucket policy (%s: cannot list bucket '%s')", s3->access_key, code,
				s3->bucket);
	} else {
		rc = http_errno(resp.status);
		why_set(why, "%s answered HTTP %ld%s%s for bucket '%s'", s3->endpoint, resp.status,
			code[0] ? " " : "", code, s3->bucket);
	}
out:
	if (rc)
		log_debug("s3: mount check: HTTP %ld %s %s", resp.status, code, msg ? msg : "");
	free(msg);
	free(url);
	http_resp_free(&resp);
	return rc;
}

static int s3_open(struct backend *b, const struct backend_conf *conf, char **why)
{
	const char *ak = secret_need(conf->secret, "AWS_ACCESS_KEY_ID");
	const char *sk = secret_need(conf->secret, "AWS_SECRET_ACCESS_KEY");
	const char *tok = secret_need(conf->secret, "AWS_SESSION_TOKEN");
	const char *ca = secret_need(conf->secret, "CA_CERT_DATA");
	const char *ep = conf->endpoint && *conf->endpoint ? conf->endpoint : NULL;
	const char *scheme = "https", *hostpart;
	struct http_conf hc = { 0 };
	time_t start = time(NULL);
	struct s3 *s3;
	char *host = NULL, *path = NULL;
	int rc = -ENOMEM, is_aws, virt;
	size_t hlen;

	*why = NULL;
	if (!ak || !sk) {
		why_set(why, "%s%s%s missing: put %s in --secret-dir or the environment",
			!ak ? "AWS_ACCESS_KEY_ID" : "", !ak && !sk ? " and " : "",
			!sk ? "AWS_SECRET_ACCESS_KEY" : "", !ak && !sk ? "them" : "it");
		return -EINVAL;
	}
	if (!conf->src->bucket || !*conf->src->bucket) {
		why_set(why, "s3:// needs a bucket: s3://BUCKET[/PREFIX]");
		return -EINVAL;
	}
	s3 = calloc(1, sizeof(*s3));
	if (!s3)
		return -ENOMEM;
	s3->access_key = strdup(ak);
	s3->secret_key = strdup(sk);
	s3->token = tok ? strdup(tok) : NULL;
	s3->bucket = strdup(conf->src->bucket);
	if (!s3->access_key || !s3->secret_key || (tok && !s3->token) || !s3->bucket)
		goto err;

	/* endpoint: "", "host[:port]", "http(s)://host[:port][/path]" */
	hostpart = ep ? ep : "s3.amazonaws.com";
	if (!strncasecmp(hostpart, "http://", 7)) {
		scheme = "http";
		hostpart += 7;
	} else if (!strncasecmp(hostpart, "https://", 8)) {
		hostpart += 8;
	} else if (strstr(hostpart, "://")) {
		why_set(why, "--endpoint %s: only http:// and https:// endpoints are supported", ep);
		rc = -EINVAL;
		goto err;
	}
	hlen = strcspn(hostpart, "/?#");
	if (!hlen) {
		why_set(why, "--endpoint %s: no host name", ep);
		rc = -EINVAL;
		goto err;
	}
	host = strndup(hostpart, hlen);
	path = strdup(hostpart + hlen);
	if (!host || !path)
		goto err;
	path[strcspn(path, "?#")] = 0;
	while (*path && path[strlen(path) - 1] == '/')
		path[strlen(path) - 1] = 0;
	{
		/* host without a port, for the AWS test */
		char *h = strndup(host, strcspn(host, ":"));

		if (!h)
			goto err;
		is_aws = !ep || ends_with(h, ".amazonaws.com");
		free(h);
	}
	if (asprintf(&s3->endpoint, "%s://%s%s", scheme, host, path) < 0) {
		s3->endpoint = NULL;
		goto err;
	}
	if (conf->addressing && !strcmp(conf->addressing, "virtual"))
		virt = 1;
	else if (conf->addressing && !strcmp(conf->addressing, "path"))
		virt = 0;
	else if (conf->addressing && *conf->addressing) {
		why_set(why, "--addressing %s: use path or virtual", conf->addressing);
		rc = -EINVAL;
		goto err;
	} else {
		/* AWS prefers virtual hosts; custom endpoints (MinIO, RGW, emulators) expect paths */
		virt = is_aws && dns_bucket(s3->bucket);
	}
	s3->virt = virt;
	if (virt && !dns_bucket(s3->bucket))
		log_warn("s3: bucket '%s' is not a plain DNS label; virtual-host addressing may fail "
			 "TLS checks", s3->bucket);
	if ((virt && asprintf(&s3->base, "%s://%s.%s%s", scheme, s3->bucket, host, path) < 0) ||
	    (!virt && asprintf(&s3->base, "%s://%s%s/%s", scheme, host, path, s3->bucket) < 0)) {
		s3->base = NULL;
		goto err;
	}
	if (asprintf(&s3->copy_source, "/%s/", s3->bucket) < 0) {
		s3->copy_source = NULL;
		goto err;
	}

	hc.ca_pem = ca;
	hc.timeout_s = conf->timeout_s;
	/* S3 keeps a slow CompleteMultipartUpload or copy alive with whitespace; emulators assemble the
	 * parts silently (s3rver needs seconds per GiB) */
	s3->slow_s = (conf->timeout_s > 0 ? conf->timeout_s : 30) * 10;
	hc.retries = conf->retries;
	if (ca && !strcmp(scheme, "http"))
		log_info("s3: CA_CERT_DATA is not used for the http:// endpoint %s", s3->endpoint);
	rc = http_new(&s3->http, &hc, why);
	if (rc)
		goto err;

	s3->cred.access_key = s3->access_key;
	s3->cred.secret_key = s3->secret_key;
	s3->cred.session_token = s3->token;
	s3->cred.service = "s3";
	if (conf->region && *conf->region) {
		s3->region = strdup(conf->region);
		if (!s3->region) {
			rc = -ENOMEM;
			goto err;
		}
	} else if (is_aws) {
		rc = find_region(s3, scheme, start, why);
		if (rc)
			goto err;
		if (!ep) {
			/* the regional endpoint: the global one redirects buckets of other regions */
			char *nb = NULL;

			if ((virt && asprintf(&nb, "https://%s.s3.%s.amazonaws.com", s3->bucket,
					      s3->region) < 0) ||
			    (!virt && asprintf(&nb, "https://s3.%s.amazonaws.com/%s", s3->region,
					       s3->bucket) < 0)) {
				rc = -ENOMEM;
				goto err;
			}
			free(s3->base);
			s3->base = nb;
		}
	} else {
		s3->region = strdup("us-east-1");
		if (!s3->region) {
			rc = -ENOMEM;
			goto err;
		}
	}
	s3->cred.region = s3->region;
	rc = check_bucket(s3, conf, start, why);
	if (rc)
		goto err;
	log_info("s3: bucket '%s' at %s, region %s, %s style, key id %s", s3->bucket, s3->endpoint,
		 s3->region, virt ? "virtual-host" : "path", s3->access_key);
	free(host);
	free(path);
	s3->conf = conf;
	b->priv = s3;
	return 0;
err:
	if (rc == -ENOMEM && !*why)
		why_set(why, "out of memory");
	free(host);
	free(path);
	s3_free(s3);
	return rc;
}

static void s3_close(struct backend *b)
{
	s3_free(b->priv);
	b->priv = NULL;
}

/* ---------- reading ---------- */

static int s3_stat(struct backend *b, const char *key, struct obj_info *out)
{
	struct s3 *s3 = b->priv;
	struct http_resp resp = HTTP_RESP_INIT;
	struct call c = { .method = "HEAD", .fd = -1 };
	char *url, *v;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!*key)
		return -ENOENT;   /* the bucket root is no object */
	url = s3_url(s3, key, NULL);
	if (!url)
		return -ENOMEM;
	c.url = url;
	rc = s3_result("HEAD", key, s3_call(s3, &c, &resp), &resp);
	if (rc)
		goto out;
	v = http_header(&resp, "Content-Length");
	if (!v || !*v || strspn(v, "0123456789") != strlen(v)) {
		log_warn("s3 HEAD %s: no usable Content-Length", key);
		rc = -EIO;
	} else {
		out->size = strtoull(v, NULL, 10);
	}
	free(v);
	v = http_header(&resp, "Last-Modified");
	if (v)
		out->mtime = http_date(v);
	free(v);
	v = http_header(&resp, "ETag");
	if (v) {
		const char *e = v + (*v == '"');
		size_t n = strcspn(e, "\"");

		if (n >= sizeof(out->etag))
			n = sizeof(out->etag) - 1;
		memcpy(out->etag, e, n);
		out->etag[n] = 0;
	}
	free(v);
	v = http_header(&resp, "x-amz-meta-snapfs-sha256");
	crypto_sha256_take(v, out->sha256);
	free(v);
	/* a single-request object's ETag is its MD5, unless a KMS key or the customer's key encrypted it */
	v = http_header(&resp, "x-amz-server-side-encryption-customer-algorithm");
	if (!v)
		v = http_header(&resp, "x-amz-server-side-encryption");
	if ((!v || strcmp(v, "aws:kms")) && strlen(out->etag) == 32 && !out->etag[strspn(out->etag, "0123456789abcdef")])
		memcpy(out->md5, out->etag, 33);
	free(v);
out:
	http_resp_free(&resp);
	free(url);
	return rc;
}

struct list_ctx {
	const char *prefix;
	size_t plen;
	unsigned limit, count;
	list_fn fn;
	void *arg;
};

static int list_one(void *arg, const char *key, const struct obj_info *oi)
{
	struct list_ctx *l = arg;

	if (strncmp(key, l->prefix, l->plen))
		return 0;   /* not below what we asked for: a confused server */
	if (l->fn(l->arg, key + l->plen, oi))
		return 1;
	return l->limit && ++l->count >= l->limit;
}

static int s3_list(struct backend *b, const char *prefix, int delim, unsigned limit, list_fn fn, void *arg)
{
	struct s3 *s3 = b->priv;
	struct list_ctx l = { prefix, strlen(prefix), limit, 0, fn, arg };
	char *token = NULL, *pfx = enc_uri(prefix, 0);
	int rc = 0;

	if (!pfx)
		return -ENOMEM;
	for (;;) {
		struct http_resp resp = HTTP_RESP_INIT;
		struct call c = { .method = "GET", .fd = -1 };
		char *q = NULL, *tok = token ? enc_uri(token, 0) : NULL, *url = NULL, *next = NULL;
		/* full pages even with a limit: emulators that do not list in key order (s3rver walks
		 * its folders) then still give the first keys, as each page is sorted here */
		unsigned max = 1000;

		if ((token && !tok) ||
		    asprintf(&q, "list-type=2&max-keys=%u&prefix=%s%s%s%s", max, pfx,
			     delim ? "&delimiter=%2F" : "", tok ? "&continuation-token=" : "",
			     tok ? tok : "") < 0)
			q = NULL;
		free(tok);
		url = q ? s3_url(s3, NULL, q) : NULL;
		free(q);
		if (!url) {
			rc = -ENOMEM;
			break;
		}
		c.url = url;
		rc = s3_result("LIST", prefix, s3_call(s3, &c, &resp), &resp);
		if (!rc) {
			rc = s3_parse_list(resp.body.data, resp.body.len, list_one, &l, &next);
			if (rc == -EIO)
				log_warn("s3 LIST %s: malformed reply", prefix);
		}
		http_resp_free(&resp);
		free(url);
		free(token);
		token = next;
		if (rc || !token)
			break;
	}
	free(token);
	free(pfx);
	return rc < 0 ? rc : 0;
}

/* Content-Range: bytes 0-0/0 */
static int empty_range(const struct http_resp *resp)
{
	char *v = http_header(resp, "Content-Range"), *slash = v ? strrchr(v, '/') : NULL;
	int empty = slash && !strcmp(slash, "/0");

	free(v);
	return empty;
}

static ssize_t s3_read_ver(struct backend *b, const char *key, struct obj_ver *v, uint64_t off, size_t len,
			   void *buf)
{
	struct s3 *s3 = b->priv;
	struct http_resp resp = HTTP_RESP_INIT;
	char range[64], cond[sizeof(v->tag) + 16];
	const char *hdrs[] = { range, NULL, NULL };
	struct call c = { .method = "GET", .fd = -1, .headers = hdrs, .out = buf, .out_cap = len };
	char *url;
	ssize_t rc;

	if (!len)
		return 0;
	snprintf(range, sizeof(range), "Range: bytes=%llu-%llu", (unsigned long long)off,
		 (unsigned long long)(off + len - 1));
	objver_cond(v, "If-Match", cond, sizeof(cond));
	if (cond[0])
		hdrs[1] = cond;
	url = s3_url(s3, key, NULL);
	if (!url)
		return -ENOMEM;
	c.url = url;
	rc = s3_call(s3, &c, &resp);
	if (!rc && resp.status == 412) {
		rc = -ESTALE;   /* replaced since the handle's first read */
	} else if (!rc && resp.status == 416) {
		rc = v ? objver_check(v, &resp, "ETag") : 0;   /* at or past the end */
	} else if (rc == -EIO && resp.status == 206 && empty_range(&resp)) {
		rc = 0;   /* an emulator's 206 for an empty object announces a byte it never sends */
	} else {
		rc = s3_result("GET", key, (int)rc, &resp);
		if (!rc && resp.status == 200 && off) {
			/* the whole object instead of the range: the bytes are not the ones asked for */
			log_warn("s3 GET %s: the server ignored the Range header", key);
			rc = -EIO;
		} else if (!rc) {
			rc = v ? objver_check(v, &resp, "ETag") : 0;
			if (!rc)
				rc = (ssize_t)resp.out_len;
		}
	}
	http_resp_free(&resp);
	free(url);
	return rc;
}

static ssize_t s3_read(struct backend *b, const char *key, uint64_t off, size_t len, void *buf)
{
	return s3_read_ver(b, key, NULL, off, len, buf);
}

/* ---------- writing ---------- */

/* Content-MD5 of a spool range: the store refuses a part damaged on the way (BadDigest). */
static char *md5_header(int fd, off_t off, uint64_t len)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	char *b64, *h = NULL;

	if (crypto_digest_fd("md5", fd, off, len, md, &mdlen))
		return NULL;
	b64 = enc_b64(md, mdlen);
	if (b64 && asprintf(&h, "Content-MD5: %s", b64) < 0)
		h = NULL;
	free(b64);
	return h;
}

/* Send a request whose body carries Content-MD5: a 400 BadDigest means the bytes were damaged on the
 * way, so send them again (a few times). */
static int call_verified(struct s3 *s3, struct call *c, struct http_resp *resp, const char *what,
			 const char *key)
{
	int rc;

	for (int attempt = 0;; attempt++) {
		rc = s3_call(s3, c, resp);
		if (rc || resp->status != 400 || attempt >= 3 || !resp->body.data ||
		    !strstr(resp->body.data, "<Code>BadDigest</Code>"))
			return rc;
		log_warn("s3 %s %s: damaged in transit (BadDigest), sending it again", what, key);
		http_resp_free(resp);
		*resp = (struct http_resp)HTTP_RESP_INIT;
	}
}

/* A write-once mount creates objects only where none is (folder markers may be made again). */
static int s3_create_only(const struct s3 *s3, const char *key)
{
	size_t n = strlen(key);

	return s3->conf && s3->conf->create_only && n && key[n - 1] != '/';
}

static int s3_put(struct backend *b, const char *key, int fd, off_t fd_off, uint64_t len, const char *sha256)
{
	struct s3 *s3 = b->priv;
	struct http_resp resp = HTTP_RESP_INIT;
	struct call c = { .method = "PUT", .fd = fd, .fd_off = fd_off, .fd_len = len };
	char *url = s3_url(s3, key, NULL), *md5h = NULL, meta[128];
	const char *hdrs[4] = { NULL, NULL, NULL, NULL };
	int rc = -ENOMEM, n = 0, once = s3_create_only(s3, key);

	if (!url)
		goto out;
	if (len > S3_MAX_PART)
		log_warn("s3 PUT %s: %llu bytes is beyond S3's 5 GiB single-request limit", key,
			 (unsigned long long)len);
	if (len) {
		md5h = md5_header(fd, fd_off, len);
		if (!md5h) {
			rc = -EIO;
			goto out;
		}
		hdrs[n++] = md5h;
	}
	/* multipart uploads take metadata only at their start, before the digest exists: there the
	 * parts' Content-MD5 and the ETag check at completion stand in for it */
	if (sha256) {
		snprintf(meta, sizeof(meta), "x-amz-meta-snapfs-sha256: %s", sha256);
		hdrs[n++] = meta;
	}
	if (once)
		hdrs[n++] = "If-None-Match: *";
	c.url = url;
	c.headers = hdrs;
	rc = s3_result("PUT", key, call_verified(s3, &c, &resp, "PUT", key), &resp);
	if (rc == -EEXIST && once && sha256) {
		/* an attempt whose reply was lost may have made it: then the object is ours */
		struct obj_info oi;

		if (!s3_stat(b, key, &oi) && oi.size == len && !strcmp(oi.sha256, sha256))
			rc = 0;
	}
out:
	http_resp_free(&resp);
	free(url);
	free(md5h);
	return rc;
}

static int up_set_etag(struct upload *up, unsigned pn, char *etag)
{
	int rc = 0;

	pthread_mutex_lock(&up->lock);
	if (pn > up->cap) {
		size_t cap = up->cap ? up->cap : 16;
		char **n;

		while (cap < pn)
			cap *= 2;
		n = realloc(up->etags, cap * sizeof(*n));
		if (!n) {
			rc = -ENOMEM;
			goto out;
		}
		memset(n + up->cap, 0, (cap - up->cap) * sizeof(*n));
		up->etags = n;
		up->cap = cap;
	}
	free(up->etags[pn - 1]);
	up->etags[pn - 1] = etag;
	etag = NULL;
out:
	pthread_mutex_unlock(&up->lock);
	free(etag);
	return rc;
}

static void up_free(struct upload *up)
{
	if (!up)
		return;
	for (size_t i = 0; i < up->cap; i++)
		free(up->etags[i]);
	free(up->etags);
	free(up->key);
	free(up->url);
	free(up->id);
	pthread_mutex_destroy(&up->lock);
	free(up);
}

static char *up_url(const struct upload *up, unsigned pn)
{
	char *u;
	int n = pn ? asprintf(&u, "%s?partNumber=%u&uploadId=%s", up->url, pn, up->id)
		   : asprintf(&u, "%s?uploadId=%s", up->url, up->id);

	return n < 0 ? NULL : u;
}

/* UploadPart pn from a file range; its ETag is kept for the commit. */
static int put_part(struct upload *up, unsigned pn, int fd, off_t off, uint64_t len)
{
	struct s3 *s3 = up->s3;
	struct http_resp resp = HTTP_RESP_INIT;
	struct call c = { .method = "PUT", .fd = fd, .fd_off = off, .fd_len = len };
	char *url, *etag, *md5h = NULL;
	const char *hdrs[2] = { NULL, NULL };
	int rc;

	url = up_url(up, pn);
	if (!url)
		return -ENOMEM;
	c.url = url;
	if (len) {
		md5h = md5_header(fd, off, len);
		if (!md5h) {
			free(url);
			return -EIO;
		}
		hdrs[0] = md5h;
		c.headers = hdrs;
	}
	rc = s3_result("UploadPart", up->key, call_verified(s3, &c, &resp, "UploadPart", up->key), &resp);
	if (!rc) {
		etag = http_header(&resp, "ETag");
		if (!etag || !*etag) {
			log_warn("s3 UploadPart %s part %u: no ETag in the reply", up->key, pn);
			free(etag);
			rc = -EIO;
		} else {
			rc = up_set_etag(up, pn, etag);
		}
	}
	if (!rc)
		__atomic_add_fetch(&up->bytes, len, __ATOMIC_RELAXED);
	http_resp_free(&resp);
	free(url);
	free(md5h);
	return rc;
}

/* For servers without UploadPartCopy (s3rver): bring the range here through an unlinked temporary
 * file and upload it as an ordinary part. */
static int copy_part_here(struct upload *up, const char *from, unsigned pn, uint64_t off, uint64_t len)
{
	struct backend be = { .priv = up->s3 };
	const char *dir = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/var/tmp";
	size_t chunk = 8 * MIB;
	char *buf = malloc(chunk);
	uint64_t done = 0;
	int fd, rc = 0;

	if (!buf)
		return -ENOMEM;
	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		log_error("s3: no temporary file in %s to copy %s through: %s", dir, from, strerror(errno));
		free(buf);
		return rc;
	}
	while (done < len) {
		size_t want = len - done < chunk ? (size_t)(len - done) : chunk;
		ssize_t n = s3_read(&be, from, off + done, want, buf);

		if (n < 0) {
			rc = (int)n;
			break;
		}
		if ((size_t)n != want) {
			rc = -EIO;   /* the object shrank under us */
			break;
		}
		if (pwrite(fd, buf, want, (off_t)done) != (ssize_t)want) {
			rc = errno ? -errno : -EIO;
			break;
		}
		done += want;
	}
	free(buf);
	if (!rc)
		rc = put_part(up, pn, fd, 0, len);
	close(fd);
	return rc;
}

/* UploadPartCopy of [off, off+len) of source key `from` as part pn. A 200 reply may still carry an
 * <Error> document: retry the ones S3 documents as transient. */
static int copy_part(struct upload *up, const char *from, unsigned pn, uint64_t off, uint64_t len)
{
	struct s3 *s3 = up->s3;
	char *src_enc = enc_uri(from, 1), *src = NULL, *range = NULL, *url = up_url(up, pn), *etag = NULL;
	char code[S3_CODE_MAX] = "";
	int rc = -ENOMEM;

	if (__atomic_load_n(&s3->no_part_copy, __ATOMIC_RELAXED)) {
		rc = copy_part_here(up, from, pn, off, len);
		goto out;
	}
	if (!src_enc || !url || asprintf(&src, "x-amz-copy-source: %s%s", s3->copy_source, src_enc) < 0 ||
	    asprintf(&range, "x-amz-copy-source-range: bytes=%llu-%llu", (unsigned long long)off,
		     (unsigned long long)(off + len - 1)) < 0)
		goto out;
	for (int t = 0; t < S3_COMMIT_TRIES; t++) {
		const char *hdrs[] = { src, range, NULL };
		struct http_resp resp = HTTP_RESP_INIT;
		struct call c = { .method = "PUT", .url = url, .headers = hdrs, .fd = -1, .slow = 1 };

		rc = s3_result("UploadPartCopy", up->key, s3_call(s3, &c, &resp), &resp);
		if (!rc) {
			rc = s3_parse_result(resp.body.data, resp.body.len, "CopyPartResult", &etag, code);
			if (!rc && (!etag || !*etag))
				rc = -EIO;
			if (rc)
				log_warn("s3 UploadPartCopy %s part %u: %s", up->key, pn,
					 code[0] ? code : "malformed reply");
		}
		http_resp_free(&resp);
		if (rc != -EAGAIN)
			break;
		http_backoff(s3->http, t);
	}
	if (rc == -EAGAIN)
		rc = -EIO;
	if (rc == -ENOTSUP) {
		log_info("s3: the server has no UploadPartCopy; appends copy the old bytes through a "
			 "temporary file");
		__atomic_store_n(&s3->no_part_copy, 1, __ATOMIC_RELAXED);
		rc = copy_part_here(up, from, pn, off, len);
	} else if (!rc) {
		rc = up_set_etag(up, pn, etag);
		etag = NULL;
		if (!rc)
			__atomic_add_fetch(&up->bytes, len, __ATOMIC_RELAXED);
	}
out:
	free(etag);
	free(src_enc);
	free(src);
	free(range);
	free(url);
	return rc;
}

static int s3_begin(struct s3 *s3, const char *key, struct upload **out)
{
	struct http_resp resp = HTTP_RESP_INIT;
	struct call c = { .method = "POST", .fd = -1 };
	struct upload *up;
	char *url = NULL, *id = NULL;
	int rc = -ENOMEM;

	*out = NULL;
	up = calloc(1, sizeof(*up));
	if (!up)
		return -ENOMEM;
	pthread_mutex_init(&up->lock, NULL);
	up->s3 = s3;
	up->key = strdup(key);
	up->url = s3_url(s3, key, NULL);
	url = s3_url(s3, key, "uploads");
	if (!up->key || !up->url || !url)
		goto err;
	c.url = url;
	rc = s3_result("CreateMultipartUpload", key, s3_call(s3, &c, &resp), &resp);
	if (rc)
		goto err;
	rc = s3_parse_upload_id(resp.body.data, resp.body.len, &id);
	if (rc) {
		log_warn("s3 CreateMultipartUpload %s: malformed reply", key);
		goto err;
	}
	up->id = enc_uri(id, 0);
	free(id);
	if (!up->id) {
		rc = -ENOMEM;
		goto err;
	}
	http_resp_free(&resp);
	free(url);
	*out = up;
	return 0;
err:
	http_resp_free(&resp);
	free(url);
	up_free(up);
	return rc;
}

static void s3_abort(struct upload *up);

static int s3_upload_begin(struct backend *b, const char *key, uint64_t base, struct upload **out)
{
	struct s3 *s3 = b->priv;
	uint64_t *off = NULL, *len = NULL;
	struct upload *up = NULL;
	unsigned n = 0;
	int rc;

	if (base) {
		struct obj_info oi;

		/* the object must still be the one the caller measured */
		rc = s3_stat(b, key, &oi);
		if (rc)
			return rc;
		if (oi.size != base) {
			log_warn("s3: %s is %llu bytes, not the %llu to append to", key,
				 (unsigned long long)oi.size, (unsigned long long)base);
			return -EIO;
		}
		if (base < 5 * MIB)
			return -EINVAL;   /* copied parts but the last need 5 MiB: the caller re-uploads */
		n = s3_split(base, S3_MAX_PART, NULL, NULL);
		off = calloc(n, sizeof(*off));
		len = calloc(n, sizeof(*len));
		if (!off || !len) {
			rc = -ENOMEM;
			goto out;
		}
		s3_split(base, S3_MAX_PART, off, len);
	}
	rc = s3_begin(s3, key, &up);
	for (unsigned i = 0; i < n && !rc; i++)
		rc = copy_part(up, key, i + 1, off[i], len[i]);
	if (rc && up) {
		s3_abort(up);
		up = NULL;
	}
	if (up)
		up->nbase = n;
	*out = up;
out:
	free(off);
	free(len);
	return rc;
}

static int s3_upload_part(struct upload *up, const struct part *p)
{
	if (!p->n || up->nbase + p->n > S3_MAX_PARTS || p->len > S3_MAX_PART)
		return -EINVAL;
	return put_part(up, up->nbase + p->n, p->fd, p->fd_off, p->len);
}

int s3_multipart_etag(char *const *etags, unsigned n, char *out, size_t cap)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	char hex[2 * EVP_MAX_MD_SIZE + 1];
	int rc = -EINVAL;

	if (!ctx)
		return -ENOMEM;
	if (!n || !EVP_DigestInit_ex(ctx, EVP_md5(), NULL))
		goto out;
	for (unsigned i = 0; i < n; i++) {
		const char *e = etags[i] ? etags[i] : "";
		unsigned char bin[16];

		e += *e == '"';
		/* a plain MD5 in hex, maybe quoted; anything else (SSE-KMS, another scheme) cannot be
		 * combined */
		if (strspn(e, "0123456789abcdefABCDEF") != 32 || (e[32] && strcmp(e + 32, "\"")))
			goto out;
		for (int j = 0; j < 16; j++) {
			unsigned v;

			sscanf(e + 2 * j, "%2x", &v);
			bin[j] = (unsigned char)v;
		}
		if (!EVP_DigestUpdate(ctx, bin, sizeof(bin)))
			goto out;
	}
	if (!EVP_DigestFinal_ex(ctx, md, &mdlen))
		goto out;
	enc_hex(md, mdlen, hex);
	rc = snprintf(out, cap, "%s-%u", hex, n) < (int)cap ? 0 : -EINVAL;
out:
	EVP_MD_CTX_free(ctx);
	return rc;
}

/* A retried CompleteMultipartUpload answered NoSuchUpload: an earlier attempt may have completed it
 * and lost only the reply, or the upload may be gone for another reason (aborted, expired) while an
 * older object of the same size stays. Only the multipart ETag tells them apart: S3 (and RGW, whose
 * completion reply carries an empty ETag; HEAD gives the right one) names an object made of parts by
 * the MD5 of the parts' MD5s and the part count. */
static int completed_before(struct upload *up, unsigned total)
{
	struct backend be = { .priv = up->s3 };
	uint64_t want_size = __atomic_load_n(&up->bytes, __ATOMIC_RELAXED);
	struct obj_info oi;
	char want[64];
	int rc;

	pthread_mutex_lock(&up->lock);
	rc = total <= up->cap ? s3_multipart_etag(up->etags, total, want, sizeof(want)) : -EIO;
	pthread_mutex_unlock(&up->lock);
	if (rc) {
		log_warn("s3: the upload of %s is gone, and its parts' ETags are no MD5s to tell whether "
			 "it completed: taken as NOT completed", up->key);
		return -EIO;
	}
	rc = s3_stat(&be, up->key, &oi);
	if (rc || oi.size != want_size || strcasecmp(oi.etag, want)) {
		log_warn("s3: the upload of %s is gone and the object is not the upload (%s, ETag \"%s\", "
			 "%llu bytes; the upload's \"%s\", %llu bytes)", up->key, rc ? strerror(-rc) : "found",
			 rc ? "" : oi.etag, (unsigned long long)oi.size, want, (unsigned long long)want_size);
		return -EIO;
	}
	log_info("s3: %s was completed by an attempt whose reply was lost (ETag %s)", up->key, want);
	return 0;
}

static int s3_complete(struct upload *up, unsigned total)
{
	struct s3 *s3 = up->s3;
	char *body = NULL, *url = NULL, code[S3_CODE_MAX] = "";
	int rc;

	pthread_mutex_lock(&up->lock);
	rc = total > up->cap ? -EIO : 0;
	for (unsigned i = 0; !rc && i < total; i++) {
		if (!up->etags[i]) {
			log_error("s3: %s: part %u was never uploaded", up->key, i + 1);
			rc = -EIO;
		}
	}
	if (!rc) {
		body = s3_complete_body(up->etags, total);
		if (!body)
			rc = -ENOMEM;
	}
	pthread_mutex_unlock(&up->lock);
	url = rc ? NULL : up_url(up, 0);
	if (!rc && !url)
		rc = -ENOMEM;
	for (int t = 0; !rc && t < S3_COMMIT_TRIES; t++) {
		const char *hdrs[] = { "Content-Type: application/xml",
				       s3_create_only(s3, up->key) ? "If-None-Match: *" : NULL, NULL };
		struct http_resp resp = HTTP_RESP_INIT;
		struct call c = { .method = "POST", .url = url, .headers = hdrs, .body = body,
				  .body_len = strlen(body), .fd = -1, .slow = 1 };

		rc = s3_result("CompleteMultipartUpload", up->key, s3_call(s3, &c, &resp), &resp);
		/* NoSuchUpload even on what looks like a first attempt: libcurl itself sends a request
		 * again when a reused connection dies before any reply */
		/* and a write-once refusal may be of our own completion, whose reply was lost */
		if (rc == -ENOENT || (rc == -EEXIST && hdrs[1])) {
			int was = rc;

			rc = completed_before(up, total);
			if (rc && was == -EEXIST) {
				log_warn("s3: %s: another writer created it first: not replaced (write-once)",
					 up->key);
				rc = -EEXIST;
			}
		}
		if (!rc && resp.status >= 200 && resp.status < 300) {
			/* 200 is sent before the work is done; the verdict is the document */
			rc = s3_parse_result(resp.body.data, resp.body.len, "CompleteMultipartUploadResult",
					     NULL, code);
			if (rc)
				log_warn("s3 CompleteMultipartUpload %s: %s", up->key,
					 code[0] ? code : "malformed reply");
		}
		http_resp_free(&resp);
		if (rc != -EAGAIN)
			break;
		http_backoff(s3->http, t);
		rc = 0;
		if (t + 1 == S3_COMMIT_TRIES)
			rc = -EIO;
	}
	free(body);
	free(url);
	return rc;
}

/* A failure leaves up open (commit_again): the caller commits again, aborts or releases it. */
static int s3_upload_commit(struct upload *up, unsigned nparts, const char *sha256)
{
	int rc = s3_complete(up, up->nbase + nparts);

	(void)sha256;
	if (!rc)
		up_free(up);
	return rc;
}

static void s3_abort(struct upload *up)
{
	struct http_resp resp = HTTP_RESP_INIT;
	struct call c = { .method = "DELETE", .fd = -1 };
	char *url;
	int rc;

	if (!up)
		return;
	url = up_url(up, 0);
	if (url) {
		c.url = url;
		rc = s3_call(up->s3, &c, &resp);
		if (!rc && (resp.status == 405 || resp.status == 501)) {
			/* s3rver has no AbortMultipartUpload; its parts were never visible anyway */
			if (!__atomic_exchange_n(&up->s3->told_no_abort, 1, __ATOMIC_RELAXED))
				log_warn("s3: the server cannot abort multipart uploads (HTTP %ld)",
					 resp.status);
			rc = 0;
		}
		rc = rc ? s3_result("AbortMultipartUpload", up->key, rc, &resp) : 0;
		if (!rc && resp.status >= 300 && resp.status != 405 && resp.status != 501)
			rc = s3_result("AbortMultipartUpload", up->key, 0, &resp);
		if (rc && rc != -ENOENT)
			log_error("s3: could not abort the upload of %s; its parts stay billed until a "
				  "lifecycle rule removes them", up->key);
	}
	http_resp_free(&resp);
	free(url);
	up_free(up);
}

static void s3_upload_abort(struct upload *up)
{
	s3_abort(up);
}

/* For the crash journal: the UploadId (already URL-encoded) names the multipart upload. */
static char *s3_upload_token(struct upload *up)
{
	return strdup(up->id);
}

/* a journal line is data from disk: it must be an encoded UploadId, nothing that alters the URL */
static int token_ok(const char *token)
{
	return *token && strlen(token) <= 1024 &&
	       !token[strspn(token, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789%-._~")];
}

static void s3_upload_release(struct upload *up)
{
	up_free(up);
}

static int add_part(void *arg, unsigned pn, const char *etag, uint64_t size)
{
	struct upload *up = arg;
	char *e = strdup(etag);

	/* the size too: a NoSuchUpload on the commit is then told apart as in s3_complete */
	__atomic_add_fetch(&up->bytes, size, __ATOMIC_RELAXED);
	return e ? up_set_etag(up, pn, e) : -ENOMEM;
}

/* A kept upload, committed later: ListParts names every part the store holds (numbers and ETags),
 * and they must be 1..n without a gap, as this upload made them, to be completed as they are. */
static int s3_upload_finish(struct backend *b, const char *key, const char *token)
{
	struct s3 *s3 = b->priv;
	struct upload *up;
	char *marker = NULL;
	unsigned n = 0;
	int rc = -ENOMEM;

	if (!token_ok(token))
		return -EINVAL;
	up = calloc(1, sizeof(*up));
	if (!up)
		return -ENOMEM;
	pthread_mutex_init(&up->lock, NULL);
	up->s3 = s3;
	up->key = strdup(key);
	up->id = strdup(token);
	up->url = s3_url(s3, key, NULL);
	if (!up->key || !up->id || !up->url)
		goto out;
	do {
		struct http_resp resp = HTTP_RESP_INIT;
		struct call c = { .method = "GET", .fd = -1 };
		char *url = NULL, *next = NULL;

		if (asprintf(&url, "%s?%s%s%suploadId=%s", up->url, marker ? "part-number-marker=" : "",
			     marker ? marker : "", marker ? "&" : "", up->id) < 0) {
			rc = -ENOMEM;
			break;
		}
		c.url = url;
		rc = s3_result("ListParts", key, s3_call(s3, &c, &resp), &resp);
		if (!rc)
			rc = s3_parse_parts(resp.body.data, resp.body.len, add_part, up, &n, &next);
		http_resp_free(&resp);
		free(url);
		free(marker);
		marker = next;
	} while (!rc && marker);
	free(marker);
	if (rc)
		goto out;
	for (unsigned i = 0; i < n; i++) {
		if (i >= up->cap || !up->etags[i]) {
			log_error("s3: the kept upload of %s lacks part %u: it cannot be completed", key, i + 1);
			rc = -EIO;
			goto out;
		}
	}
	if (!n) {
		log_error("s3: the kept upload of %s holds no part", key);
		rc = -EIO;
		goto out;
	}
	rc = s3_complete(up, n);
out:
	up_free(up);
	return rc;
}

/* After a crash: AbortMultipartUpload from the key and UploadId alone. NoSuchUpload (-ENOENT) means
 * it was completed or aborted before the crash: nothing to do either way. */
static int s3_upload_forget(struct backend *b, const char *key, const char *token)
{
	struct s3 *s3 = b->priv;
	struct http_resp resp = HTTP_RESP_INIT;
	struct call c = { .method = "DELETE", .fd = -1 };
	char *obj = NULL, *url = NULL;
	int rc;

	if (!token_ok(token))
		return -EINVAL;
	obj = s3_url(s3, key, NULL);
	if (!obj || asprintf(&url, "%s?uploadId=%s", obj, token) < 0) {
		url = NULL;
		rc = -ENOMEM;
		goto out;
	}
	c.url = url;
	rc = s3_call(s3, &c, &resp);
	if (!rc && (resp.status == 405 || resp.status == 501)) {
		log_warn("s3: the server cannot abort multipart uploads (HTTP %ld): the parts of %s stay "
			 "until a lifecycle rule removes them", resp.status, key);
		rc = -EOPNOTSUPP;   /* no later mount could do better */
		goto out;
	}
	rc = s3_result("AbortMultipartUpload", key, rc, &resp);
out:
	http_resp_free(&resp);
	free(obj);
	free(url);
	return rc;
}

/* ---------- deleting, copying ---------- */

static int delete_one(struct s3 *s3, const char *key)
{
	struct http_resp resp = HTTP_RESP_INIT;
	struct call c = { .method = "DELETE", .fd = -1 };
	char *url = s3_url(s3, key, NULL);
	int rc;

	if (!url)
		return -ENOMEM;
	c.url = url;
	rc = s3_result("DELETE", key, s3_call(s3, &c, &resp), &resp);
	http_resp_free(&resp);
	free(url);
	return rc == -ENOENT ? 0 : rc;
}

/* DeleteObjects. Sending it again is safe: keys an earlier attempt already deleted come back as
 * deleted (or NoSuchKey, which counts as done), so a reply lost after the server acted (s3rver may
 * answer 500 once it has deleted everything) and keys the server failed for a moment are retried. */
static int delete_batch(struct s3 *s3, const char *const *keys, size_t n)
{
	char *body = s3_delete_body(keys, n), *url = s3_url(s3, NULL, "delete"), *b64 = NULL, *md5h = NULL;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	int rc = -ENOMEM;

	if (!body || !url)
		goto out;
	/* DeleteObjects demands Content-MD5 (or a checksum header) */
	EVP_Digest(body, strlen(body), md, &mdlen, EVP_md5(), NULL);
	b64 = enc_b64(md, mdlen);
	if (!b64 || asprintf(&md5h, "Content-MD5: %s", b64) < 0) {
		md5h = NULL;
		goto out;
	}
	for (int t = 0; t < S3_COMMIT_TRIES; t++) {
		const char *hdrs[] = { md5h, "Content-Type: application/xml", NULL };
		struct call c = { .method = "POST", .url = url, .headers = hdrs, .body = body,
				  .body_len = strlen(body), .fd = -1 };
		struct http_resp resp = HTTP_RESP_INIT;
		char code[S3_CODE_MAX] = "", *bad = NULL;

		/* the first failure goes again at once, before the backoff of the usual retries: the
		 * request is idempotent and the reply is often lost after the work was done (s3rver
		 * answers 500 when two of its deletes race to remove the folder they emptied) */
		c.once = 1;
		rc = s3_call(s3, &c, &resp);
		if (rc || http_retryable(resp.status)) {
			http_resp_free(&resp);
			resp = (struct http_resp)HTTP_RESP_INIT;
			c.once = 0;
			rc = s3_call(s3, &c, &resp);
		}
		rc = s3_result("DeleteObjects", keys[0], rc, &resp);
		if (!rc) {
			rc = s3_parse_delete(resp.body.data, resp.body.len, code, &bad);
			if (rc)
				log_warn("s3 DeleteObjects: %s%s%s", code[0] ? code : "malformed reply",
					 bad ? " for " : "", bad ? bad : "");
		}
		free(bad);
		http_resp_free(&resp);
		if (rc != -EAGAIN)
			break;
		rc = -EIO;   /* unless a later try goes through */
		if (t + 1 < S3_COMMIT_TRIES)
			http_backoff(s3->http, t);
	}
out:
	free(body);
	free(url);
	free(b64);
	free(md5h);
	return rc;
}

static int s3_remove(struct backend *b, const char *const *keys, size_t n)
{
	struct s3 *s3 = b->priv;
	int rc = 0;

	for (size_t i = 0; i < n && !rc; i += S3_DELETE_BATCH) {
		size_t cnt = n - i < S3_DELETE_BATCH ? n - i : S3_DELETE_BATCH;

		if (cnt > 1 && !__atomic_load_n(&s3->no_batch_delete, __ATOMIC_RELAXED)) {
			rc = delete_batch(s3, keys + i, cnt);
			if (rc != -ENOTSUP)
				continue;
			log_info("s3: the server has no DeleteObjects; deleting one key at a time");
			__atomic_store_n(&s3->no_batch_delete, 1, __ATOMIC_RELAXED);
			rc = 0;
		}
		for (size_t j = 0; j < cnt && !rc; j++)
			rc = delete_one(s3, keys[i + j]);
	}
	return rc;
}

static int copy_small(struct s3 *s3, const char *from, const char *to)
{
	char *src_enc = enc_uri(from, 1), *src = NULL, *url = s3_url(s3, to, NULL), code[S3_CODE_MAX] = "";
	int rc = -ENOMEM;

	if (!src_enc || !url || asprintf(&src, "x-amz-copy-source: %s%s", s3->copy_source, src_enc) < 0) {
		src = NULL;
		goto out;
	}
	for (int t = 0; t < S3_COMMIT_TRIES; t++) {
		const char *hdrs[] = { src, NULL };
		struct http_resp resp = HTTP_RESP_INIT;
		struct call c = { .method = "PUT", .url = url, .headers = hdrs, .fd = -1, .slow = 1 };

		rc = s3_result("CopyObject", from, s3_call(s3, &c, &resp), &resp);
		if (!rc) {
			rc = s3_parse_result(resp.body.data, resp.body.len, "CopyObjectResult", NULL, code);
			if (rc)
				log_warn("s3 CopyObject %s -> %s: %s", from, to,
					 code[0] ? code : "malformed reply");
		}
		http_resp_free(&resp);
		if (rc != -EAGAIN)
			break;
		http_backoff(s3->http, t);
	}
	if (rc == -EAGAIN)
		rc = -EIO;
out:
	free(src_enc);
	free(src);
	free(url);
	return rc;
}

static int s3_copy(struct backend *b, const char *from, const char *to)
{
	struct s3 *s3 = b->priv;
	struct obj_info oi;
	struct upload *up;
	uint64_t *off, *len;
	unsigned n;
	int rc;

	rc = s3_stat(b, from, &oi);
	if (rc)
		return rc;
	if (oi.size <= S3_MAX_PART)
		return copy_small(s3, from, to);
	/* CopyObject stops at 5 GiB: a multipart upload of copied ranges */
	n = s3_split(oi.size, S3_MAX_PART, NULL, NULL);
	off = calloc(n, sizeof(*off));
	len = calloc(n, sizeof(*len));
	if (!off || !len) {
		rc = -ENOMEM;
		goto out;
	}
	s3_split(oi.size, S3_MAX_PART, off, len);
	rc = s3_begin(s3, to, &up);
	if (rc)
		goto out;
	for (unsigned i = 0; i < n && !rc; i++)
		rc = copy_part(up, from, i + 1, off[i], len[i]);
	if (rc) {
		s3_abort(up);
		goto out;
	}
	up->nbase = n;
	rc = s3_upload_commit(up, 0, NULL);
	if (rc)
		s3_abort(up);
out:
	free(off);
	free(len);
	return rc;
}

/* ---------- uploads in progress ---------- */

static int s3_list_uploads(struct backend *b, const char *prefix, list_fn fn, void *arg)
{
	struct s3 *s3 = b->priv;
	struct list_ctx l = { prefix, strlen(prefix), 0, 0, fn, arg };
	char *pfx = enc_uri(prefix, 0), *kmark = NULL, *imark = NULL;
	int rc = 0;

	if (!pfx)
		return -ENOMEM;
	for (;;) {
		struct http_resp resp = HTTP_RESP_INIT;
		struct call c = { .method = "GET", .fd = -1 };
		char *q = NULL, *url = NULL, *ek = kmark ? enc_uri(kmark, 0) : NULL;
		char *ei = imark ? enc_uri(imark, 0) : NULL, *nk = NULL, *ni = NULL;

		if ((kmark && !ek) || (imark && !ei) ||
		    asprintf(&q, "uploads&prefix=%s%s%s%s%s", pfx, ek ? "&key-marker=" : "", ek ? ek : "",
			     ei ? "&upload-id-marker=" : "", ei ? ei : "") < 0)
			q = NULL;
		free(ek);
		free(ei);
		url = q ? s3_url(s3, NULL, q) : NULL;
		free(q);
		if (!url) {
			rc = -ENOMEM;
			break;
		}
		c.url = url;
		rc = s3_call(s3, &c, &resp);
		if (!rc && resp.status == 501) {
			rc = -ENOTSUP;   /* s3rver: the store cannot tell */
		} else {
			rc = s3_result("ListMultipartUploads", prefix, rc, &resp);
			if (!rc)
				rc = s3_parse_uploads(resp.body.data, resp.body.len, list_one, &l, &nk, &ni);
		}
		http_resp_free(&resp);
		free(url);
		free(kmark);
		free(imark);
		kmark = nk;
		imark = ni;
		if (rc || !kmark)
			break;
	}
	free(kmark);
	free(imark);
	free(pfx);
	return rc < 0 ? rc : 0;
}

const struct backend_ops s3_backend_ops = {
	.scheme = "s3",
	.min_part = 5 * MIB,
	.max_part = S3_MAX_PART,
	.max_parts = S3_MAX_PARTS,
	.parts_any_order = 1,
	.commit_no_digest = 1,
	.open = s3_open,
	.close = s3_close,
	.stat = s3_stat,
	.list = s3_list,
	.read = s3_read,
	.read_ver = s3_read_ver,
	.put = s3_put,
	.upload_begin = s3_upload_begin,
	.upload_part = s3_upload_part,
	.upload_commit = s3_upload_commit,
	.upload_abort = s3_upload_abort,
	.commit_again = 1,
	.upload_release = s3_upload_release,
	.upload_finish = s3_upload_finish,
	.upload_token = s3_upload_token,
	.upload_forget = s3_upload_forget,
	.remove = s3_remove,
	.copy = s3_copy,
	.list_uploads = s3_list_uploads,
};
