/* Azure SharedKey: the string-to-sign is built from the request exactly as it goes on the wire, so the
 * signer sees the same URL and header strings the http layer sends. */
#include "backends/azure/azure_sign.h"
#include "common/buf.h"
#include "common/crypto.h"
#include "common/encode.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The standard headers in the order SharedKey signs them; Content-Length is handled apart. */
static const char *const std_hdrs[] = {
	"Content-Encoding", "Content-Language", "Content-Length", "Content-MD5", "Content-Type", "Date",
	"If-Modified-Since", "If-Match", "If-None-Match", "If-Unmodified-Since", "Range",
};

struct kv {
	char *k;
	char *v;
};

static void kv_free(struct kv *a, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(a[i].k);
		free(a[i].v);
	}
	free(a);
}

static int kv_cmp(const void *a, const void *b)
{
	const struct kv *x = a, *y = b;
	int c = strcmp(x->k, y->k);

	return c ? c : strcmp(x->v, y->v);
}

/* The value of header name in hdrs ("Name: value"), trimmed, or NULL; *len gets its length. */
static const char *hdr_find(const char *const *hdrs, const char *name, size_t *len)
{
	size_t nl = strlen(name);

	for (size_t i = 0; hdrs && hdrs[i]; i++) {
		const char *h = hdrs[i], *v, *e;

		if (strncasecmp(h, name, nl) || h[nl] != ':')
			continue;
		v = h + nl + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		e = v + strlen(v);
		while (e > v && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
			e--;
		*len = (size_t)(e - v);
		return v;
	}
	return NULL;
}

/* Append a header value with runs of whitespace folded to one space. */
static int add_folded(struct buf *b, const char *v, size_t n)
{
	int rc = 0;

	for (size_t i = 0; i < n && !rc; i++) {
		if (v[i] == ' ' || v[i] == '\t' || v[i] == '\r' || v[i] == '\n') {
			while (i + 1 < n && (v[i + 1] == ' ' || v[i + 1] == '\t' || v[i + 1] == '\r' ||
					     v[i + 1] == '\n'))
				i++;
			rc = buf_add(b, " ", 1);
		} else {
			rc = buf_add(b, &v[i], 1);
		}
	}
	return rc;
}

/* Percent-decode s[0..n) ('+' is a space, as the service's form decoding has it). Malloc'd. */
static char *pct_decode(const char *s, size_t n)
{
	char *out = malloc(n + 1);

	if (out)
		enc_uri_decode(s, n, 1, out);
	return out;
}

/* Start of the path in an absolute URL ("scheme://host[:port]/path?query"); NULL if none. */
static const char *url_path(const char *url)
{
	const char *p = strstr(url, "://");

	if (!p)
		return NULL;
	return strchr(p + 3, '/');
}

char *az_canon_resource(const char *account, const char *url)
{
	const char *path = url_path(url), *q;
	struct buf b = BUF_INIT;
	struct kv *kv = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;

	if (!path)
		return NULL;
	q = strchr(path, '?');
	rc |= buf_addf(&b, "/%s", account);
	rc |= buf_add(&b, path, q ? (size_t)(q - path) : strlen(path));
	if (!q || !q[1])
		goto out;
	for (const char *p = q + 1; *p;) {
		const char *amp = strchr(p, '&'), *eq;
		size_t len = amp ? (size_t)(amp - p) : strlen(p);

		eq = memchr(p, '=', len);
		if (len) {
			if (n == cap) {
				struct kv *nk = realloc(kv, (cap = cap ? 2 * cap : 8) * sizeof(*kv));

				if (!nk) {
					rc = -1;
					goto out;
				}
				kv = nk;
			}
			kv[n].k = pct_decode(p, eq ? (size_t)(eq - p) : len);
			kv[n].v = pct_decode(eq ? eq + 1 : p + len, eq ? len - (size_t)(eq - p) - 1 : 0);
			n++;
			if (!kv[n - 1].k || !kv[n - 1].v) {
				rc = -1;
				goto out;
			}
			for (char *c = kv[n - 1].k; *c; c++)
				*c = (char)tolower((unsigned char)*c);
		}
		p += len;
		if (*p == '&')
			p++;
	}
	/* sorted by name, then value: repeated names become one line with their values in order */
	if (n)
		qsort(kv, n, sizeof(*kv), kv_cmp);
	for (size_t i = 0; i < n; i++) {
		if (i && !strcmp(kv[i].k, kv[i - 1].k))
			rc |= buf_addf(&b, ",%s", kv[i].v);
		else
			rc |= buf_addf(&b, "\n%s:%s", kv[i].k, kv[i].v);
	}
out:
	kv_free(kv, n);
	if (rc) {
		buf_free(&b);
		return NULL;
	}
	if (!b.data)
		return strdup("");
	return buf_detach(&b);
}

/* The x-ms- headers: lowercase names, sorted, "name:value\n" each. */
static int canon_headers(struct buf *b, const char *const *hdrs)
{
	struct kv *kv = NULL;
	size_t n = 0, cnt = 0;
	int rc = 0;

	for (size_t i = 0; hdrs && hdrs[i]; i++)
		cnt++;
	kv = calloc(cnt + 1, sizeof(*kv));
	if (!kv)
		return -1;
	for (size_t i = 0; i < cnt; i++) {
		const char *h = hdrs[i], *colon = strchr(h, ':'), *v;
		size_t vl;

		if (!colon || strncasecmp(h, "x-ms-", 5))
			continue;
		kv[n].k = strndup(h, (size_t)(colon - h));
		if (!kv[n].k) {
			rc = -1;
			goto out;
		}
		for (char *c = kv[n].k; *c; c++)
			*c = (char)tolower((unsigned char)*c);
		/* trailing blanks of the name ("x-ms-foo :") are not part of it */
		for (size_t l = strlen(kv[n].k); l && kv[n].k[l - 1] == ' '; l--)
			kv[n].k[l - 1] = 0;
		v = colon + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		vl = strlen(v);
		while (vl && strchr(" \t\r\n", v[vl - 1]))
			vl--;
		{
			struct buf fv = BUF_INIT;

			rc = add_folded(&fv, v, vl);
			kv[n].v = rc ? NULL : (fv.data ? buf_detach(&fv) : strdup(""));
			buf_free(&fv);
		}
		n++;
		if (!kv[n - 1].v) {
			rc = -1;
			goto out;
		}
	}
	if (n)
		qsort(kv, n, sizeof(*kv), kv_cmp);
	for (size_t i = 0; i < n; i++)
		rc |= buf_addf(b, "%s:%s\n", kv[i].k, kv[i].v);
out:
	kv_free(kv, n);
	return rc ? -1 : 0;
}

char *az_string_to_sign(const struct az_sig_in *in)
{
	struct buf b = BUF_INIT;
	char *res = NULL;
	int rc = 0;

	rc |= buf_addf(&b, "%s\n", in->method);
	for (size_t i = 0; i < sizeof(std_hdrs) / sizeof(std_hdrs[0]); i++) {
		size_t len = 0;
		const char *v = hdr_find(in->headers, std_hdrs[i], &len);

		if (!strcmp(std_hdrs[i], "Content-Length")) {
			size_t vl;
			const char *ver = hdr_find(in->headers, "x-ms-version", &vl);
			/* since 2015-02-21 a zero length signs as empty; before, as "0" */
			int old = ver && vl == 10 && strncmp(ver, "2015-02-21", 10) < 0;

			if (v && !(len == 1 && *v == '0' && !old))
				rc |= buf_add(&b, v, len);
			else if (!v && in->content_length > 0)
				rc |= buf_addf(&b, "%lld", (long long)in->content_length);
			else if (!v && in->content_length == 0 && old)
				rc |= buf_adds(&b, "0");
		} else if (v) {
			rc |= buf_add(&b, v, len);
		}
		rc |= buf_add(&b, "\n", 1);
	}
	if (rc || canon_headers(&b, in->headers))
		goto fail;
	res = az_canon_resource(in->account, in->url);
	if (!res || buf_adds(&b, res))
		goto fail;
	free(res);
	return buf_detach(&b);
fail:
	free(res);
	buf_free(&b);
	return NULL;
}

char *az_signature(const unsigned char *key, size_t klen, const char *sts)
{
	unsigned char mac[32];

	crypto_hmac_sha256(key, klen, sts, strlen(sts), mac);
	return enc_b64(mac, sizeof(mac));
}
