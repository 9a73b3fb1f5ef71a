/* Listing: ListObjectsV2 page by page below a prefix, and ListMultipartUploads (the uploads still
 * open, for the cleanup of crashed writers). */
#include "backends/s3/s3_priv.h"
#include "backends/http.h"
#include "common/encode.h"
#include "common/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* GET the bucket with query q (freed here) into resp: 0 when a reply came, or -errno */
static int get_page(struct s3 *s3, char *q, struct http_resp *resp)
{
	char *url = s3_bucket_url(s3, q);
	struct s3_req c = { .method = "GET", .url = url, .fd = -1 };
	int rc;

	if (!url)
		return -ENOMEM;
	rc = s3_call(s3, &c, resp);
	free(url);
	return rc;
}

int s3_list(struct backend *b, const char *prefix, int delim, unsigned limit, list_fn fn, void *arg)
{
	struct s3 *s3 = b->priv;
	struct list_ctx l = { prefix, strlen(prefix), limit, 0, fn, arg };
	char *token = NULL, *pfx = enc_uri(prefix, 0);
	int rc = 0;

	if (!pfx)
		return -ENOMEM;
	for (;;) {
		struct http_resp resp = HTTP_RESP_INIT;
		char *q = NULL, *tok = token ? enc_uri(token, 0) : NULL, *next = NULL;
		/* full pages even with a limit: emulators that do not list in key order (s3rver walks
		 * its folders) then still give the first keys, as each page is sorted here */
		unsigned max = 1000;

		if ((token && !tok) ||
		    asprintf(&q, "list-type=2&max-keys=%u&prefix=%s%s%s%s", max, pfx,
			     delim ? "&delimiter=%2F" : "", tok ? "&continuation-token=" : "",
			     tok ? tok : "") < 0)
			q = NULL;
		free(tok);
		rc = s3_result("LIST", prefix, get_page(s3, q, &resp), &resp);
		if (!rc) {
			rc = s3_parse_list(resp.body.data, resp.body.len, list_one, &l, &next);
			if (rc == -EIO)
				log_warn("s3 LIST %s: malformed reply", prefix);
		}
		http_resp_free(&resp);
		free(token);
		token = next;
		if (rc || !token)
			break;
	}
	free(token);
	free(pfx);
	return rc < 0 ? rc : 0;
}

int s3_list_uploads(struct backend *b, const char *prefix, list_fn fn, void *arg)
{
	struct s3 *s3 = b->priv;
	struct list_ctx l = { prefix, strlen(prefix), 0, 0, fn, arg };
	char *pfx = enc_uri(prefix, 0), *kmark = NULL, *imark = NULL;
	int rc = 0;

	if (!pfx)
		return -ENOMEM;
	for (;;) {
		struct http_resp resp = HTTP_RESP_INIT;
		char *q = NULL, *ek = kmark ? enc_uri(kmark, 0) : NULL;
		char *ei = imark ? enc_uri(imark, 0) : NULL, *nk = NULL, *ni = NULL;

		if ((kmark && !ek) || (imark && !ei) ||
		    asprintf(&q, "uploads&prefix=%s%s%s%s%s", pfx, ek ? "&key-marker=" : "", ek ? ek : "",
			     ei ? "&upload-id-marker=" : "", ei ? ei : "") < 0)
			q = NULL;
		free(ek);
		free(ei);
		rc = get_page(s3, q, &resp);
		if (!rc && resp.status == 501) {
			rc = -ENOTSUP;   /* s3rver: the store cannot tell */
		} else {
			rc = s3_result("ListMultipartUploads", prefix, rc, &resp);
			if (!rc)
				rc = s3_parse_uploads(resp.body.data, resp.body.len, list_one, &l, &nk, &ni);
		}
		http_resp_free(&resp);
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
