/* s3://bucket/prefix: AWS S3 and S3-compatible stores (MinIO, Ceph RGW, s3rver, GCS interoperability),
 * signed with SigV4. Small files are one PutObject; bigger ones are multipart uploads whose parts go up
 * in parallel and become visible only at CompleteMultipartUpload. An append carries the existing
 * object into the new upload with UploadPartCopy, so its bytes never travel through us.
 * This file opens a bucket (endpoint, addressing style, region, a first listing that checks the keys),
 * closes it, and holds the ops table; the operations are in the other s3_*.c files (s3_priv.h). */
#include "backends/backend.h"
#include "backends/http.h"
#include "backends/s3/s3_priv.h"
#include "backends/s3/sigv4.h"
#include "backends/secret.h"
#include "common/encode.h"
#include "common/log.h"
#include "common/why.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define S3_OPEN_DEADLINE_S 15

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
	struct s3_req c = { .method = "GET", .fd = -1 };
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
	struct s3_req c = { .method = "GET", .fd = -1 };
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
	url = s3_bucket_url(s3, q);
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
	s3->retries = conf->retries > 0 ? conf->retries : 0;
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

const struct backend_ops s3_backend_ops = {
	.scheme = "s3",
	.min_part = 5 * S3_MIB,
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
