/* AWS Signature Version 4, from the published specification. */
#include "backends/s3/sigv4.h"
#include "common/crypto.h"
#include "common/encode.h"
#include "backends/http.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct hdr {
	char *name;      /* lowercase */
	char *value;     /* trimmed, inner runs of white space collapsed */
};

struct qparam {
	char *name;      /* encoded the canonical way */
	char *value;
};

/* Decode %XX (the wire form may encode more or less than the canonical form), then encode
 * every byte but the unreserved ones, so both sides agree on one spelling. */
static char *requote(const char *s, size_t n)
{
	char *dec = malloc(n + 1), *out;
	size_t len;

	if (!dec)
		return NULL;
	len = enc_uri_decode(s, n, 0, dec);
	if (strlen(dec) != len) {
		/* an encoded NUL: keep the wire form rather than cut the value short */
		memcpy(dec, s, n);
		dec[n] = 0;
	}
	out = enc_uri(dec, 0);
	free(dec);
	return out;
}

static int qcmp(const void *a, const void *b)
{
	const struct qparam *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : strcmp(x->value, y->value);
}

static int canonical_query(const char *q, struct buf *out)
{
	struct qparam *p = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;

	while (q && *q) {
		size_t len = strcspn(q, "&");
		const char *eq = memchr(q, '=', len);

		if (len) {
			if (n == cap) {
				struct qparam *np;

				cap = cap ? cap * 2 : 8;
				np = realloc(p, cap * sizeof(*p));
				if (!np) {
					rc = -ENOMEM;
					goto out;
				}
				p = np;
			}
			p[n].name = requote(q, eq ? (size_t)(eq - q) : len);
			p[n].value = eq ? requote(eq + 1, len - (size_t)(eq - q) - 1) : strdup("");
			n++;
			if (!p[n - 1].name || !p[n - 1].value) {
				rc = -ENOMEM;
				goto out;
			}
		}
		q += len;
		if (*q == '&')
			q++;
	}
	if (n)
		qsort(p, n, sizeof(*p), qcmp);
	for (size_t i = 0; i < n && !rc; i++)
		rc = buf_addf(out, "%s%s=%s", i ? "&" : "", p[i].name, p[i].value);
out:
	for (size_t i = 0; i < n; i++) {
		free(p[i].name);
		free(p[i].value);
	}
	free(p);
	return rc;
}

/* "Name: value" -> lowercase name and the value trimmed with white space runs made one space */
static int parse_header(const char *line, struct hdr *h)
{
	const char *colon = strchr(line, ':'), *v;
	char *o;

	if (!colon || colon == line)
		return -EINVAL;
	h->name = strndup(line, (size_t)(colon - line));
	h->value = malloc(strlen(colon) + 1);
	if (!h->name || !h->value)
		return -ENOMEM;
	for (char *c = h->name; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	o = h->value;
	for (v = colon + 1; *v; v++) {
		if (isspace((unsigned char)*v)) {
			if (o > h->value && o[-1] != ' ')
				*o++ = ' ';
		} else {
			*o++ = *v;
		}
	}
	if (o > h->value && o[-1] == ' ')
		o--;
	*o = 0;
	return 0;
}

static void free_headers(struct hdr *h, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(h[i].name);
		free(h[i].value);
	}
	free(h);
}

int sigv4_canonical_request(const struct sigv4_req *r, struct buf *out, struct buf *signed_headers)
{
	struct hdr *h = NULL;
	size_t n = 0;
	int rc;

	for (const char *const *p = r->headers; p && *p; p++)
		n++;
	h = calloc(n ? n : 1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		rc = parse_header(r->headers[i], &h[i]);
		if (rc)
			goto out;
	}
	/* insertion sort: stable, so repeated headers keep their order (their values join in it) */
	for (size_t i = 1; i < n; i++) {
		struct hdr t = h[i];
		size_t j = i;

		while (j > 0 && strcmp(h[j - 1].name, t.name) > 0) {
			h[j] = h[j - 1];
			j--;
		}
		h[j] = t;
	}
	buf_reset(out);
	buf_reset(signed_headers);
	rc = buf_addf(out, "%s\n%s\n", r->method, r->path && *r->path ? r->path : "/");
	if (!rc)
		rc = canonical_query(r->query, out);
	if (!rc)
		rc = buf_adds(out, "\n");
	for (size_t i = 0; i < n && !rc; i++) {
		if (i && !strcmp(h[i].name, h[i - 1].name)) {
			/* the previous line ends in "\n": put the joined value before it */
			out->len--;
			rc = buf_addf(out, ",%s\n", h[i].value);
			continue;
		}
		rc = buf_addf(out, "%s:%s\n", h[i].name, h[i].value);
		if (!rc)
			rc = buf_addf(signed_headers, "%s%s", signed_headers->len ? ";" : "", h[i].name);
	}
	if (!rc)
		rc = buf_addf(out, "\n%s\n%s", signed_headers->data ? signed_headers->data : "",
			      r->payload_hash);
out:
	free_headers(h, n);
	return rc;
}

int sigv4_string_to_sign(const struct sigv4_cred *c, const struct sigv4_req *r, struct buf *out)
{
	struct buf creq = BUF_INIT, sh = BUF_INIT;
	unsigned char d[32];
	char hex[65];
	int rc;

	if (!r->amz_date || strlen(r->amz_date) < 8)
		return -EINVAL;
	rc = sigv4_canonical_request(r, &creq, &sh);
	if (rc)
		goto out;
	crypto_sha256(creq.data, creq.len, d);
	enc_hex(d, 32, hex);
	buf_reset(out);
	rc = buf_addf(out, "AWS4-HMAC-SHA256\n%s\n%.8s/%s/%s/aws4_request\n%s", r->amz_date, r->amz_date,
		      c->region, c->service, hex);
out:
	buf_free(&creq);
	buf_free(&sh);
	return rc;
}

void sigv4_signing_key(const char *secret, const char *date8, const char *region, const char *service,
		       unsigned char key[32])
{
	size_t slen = strlen(secret);
	char *k = malloc(slen + 5);
	unsigned char a[32], b[32];

	if (!k) {
		memset(key, 0, 32);
		return;
	}
	memcpy(k, "AWS4", 4);
	memcpy(k + 4, secret, slen + 1);
	crypto_hmac_sha256(k, slen + 4, date8, 8, a);
	crypto_hmac_sha256(a, 32, region, strlen(region), b);
	crypto_hmac_sha256(b, 32, service, strlen(service), a);
	crypto_hmac_sha256(a, 32, "aws4_request", 12, key);
	explicit_bzero(k, slen + 4);
	explicit_bzero(a, sizeof(a));
	explicit_bzero(b, sizeof(b));
	free(k);
}

int sigv4_authorization(const struct sigv4_cred *c, const struct sigv4_req *r, char **out)
{
	struct buf creq = BUF_INIT, sh = BUF_INIT, sts = BUF_INIT;
	unsigned char key[32], sig[32];
	char date8[9], hex[65];
	int rc;

	*out = NULL;
	rc = sigv4_string_to_sign(c, r, &sts);
	if (rc)
		goto out;
	/* the signed header list comes from the same canonical form */
	rc = sigv4_canonical_request(r, &creq, &sh);
	if (rc)
		goto out;
	memcpy(date8, r->amz_date, 8);
	date8[8] = 0;
	sigv4_signing_key(c->secret_key, date8, c->region, c->service, key);
	crypto_hmac_sha256(key, 32, sts.data, sts.len, sig);
	explicit_bzero(key, sizeof(key));
	enc_hex(sig, 32, hex);
	if (asprintf(out, "AWS4-HMAC-SHA256 Credential=%s/%s/%s/%s/aws4_request, "
		     "SignedHeaders=%s, Signature=%s", c->access_key, date8, c->region, c->service,
		     sh.data ? sh.data : "", hex) < 0) {
		*out = NULL;
		rc = -ENOMEM;
	}
out:
	buf_free(&creq);
	buf_free(&sh);
	buf_free(&sts);
	return rc;
}

void sigv4_amz_date(time_t t, char out[17])
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

static int add_hdr(struct curl_slist **l, const char *line)
{
	struct curl_slist *n = curl_slist_append(*l, line);

	if (!n)
		return -ENOMEM;
	*l = n;
	return 0;
}

int sigv4_sign_http(const struct sigv4_cred *c, const struct http_req *req, const char *payload_hash,
		    time_t now, struct curl_slist **hdrs)
{
	const char *url = req->url, *host, *hend, *path, *q;
	char date[17], *path_s = NULL, *host_line = NULL, *date_line = NULL, *sha_line = NULL;
	char *tok_line = NULL, *auth = NULL, *auth_line = NULL;
	const char **list = NULL;
	size_t n = 0, nh = 0;
	int rc = -ENOMEM;

	host = strstr(url, "://");
	if (!host)
		return -EINVAL;
	host += 3;
	hend = host + strcspn(host, "/?");
	path = hend;
	q = strchr(path, '?');
	path_s = q ? strndup(path, (size_t)(q - path)) : strdup(path);
	if (!path_s)
		goto out;
	sigv4_amz_date(now, date);
	if (asprintf(&host_line, "Host: %.*s", (int)(hend - host), host) < 0 ||
	    asprintf(&date_line, "x-amz-date: %s", date) < 0 ||
	    asprintf(&sha_line, "x-amz-content-sha256: %s", payload_hash) < 0) {
		host_line = date_line = sha_line = NULL;
		goto out;
	}
	if (c->session_token && *c->session_token &&
	    asprintf(&tok_line, "x-amz-security-token: %s", c->session_token) < 0) {
		tok_line = NULL;
		goto out;
	}
	for (const char *const *p = req->headers; p && *p; p++)
		nh++;
	list = calloc(nh + 5, sizeof(*list));
	if (!list)
		goto out;
	list[n++] = host_line;
	list[n++] = date_line;
	list[n++] = sha_line;
	if (tok_line)
		list[n++] = tok_line;
	for (size_t i = 0; i < nh; i++) {
		const char *colon = strchr(req->headers[i], ':');

		/* "Name:" with no value removes a header curl would add: nothing to sign */
		if (!colon || !colon[1 + strspn(colon + 1, " \t")])
			continue;
		list[n++] = req->headers[i];
	}
	list[n] = NULL;
	{
		struct sigv4_req r = {
			.method = req->method ? req->method : "GET",
			.path = *path_s ? path_s : "/",
			.query = q ? q + 1 : NULL,
			.headers = list,
			.payload_hash = payload_hash,
			.amz_date = date,
		};

		rc = sigv4_authorization(c, &r, &auth);
		if (rc)
			goto out;
	}
	if (asprintf(&auth_line, "Authorization: %s", auth) < 0) {
		auth_line = NULL;
		rc = -ENOMEM;
		goto out;
	}
	rc = add_hdr(hdrs, host_line);
	if (!rc)
		rc = add_hdr(hdrs, date_line);
	if (!rc)
		rc = add_hdr(hdrs, sha_line);
	if (!rc && tok_line)
		rc = add_hdr(hdrs, tok_line);
	if (!rc)
		rc = add_hdr(hdrs, auth_line);
out:
	free(list);
	free(path_s);
	free(host_line);
	free(date_line);
	free(sha_line);
	free(tok_line);
	free(auth);
	free(auth_line);
	return rc;
}
