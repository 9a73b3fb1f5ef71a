#include "common/crypto.h"

#include <ctype.h>
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void sha256(const void *p, size_t n, unsigned char out[32])
{
	unsigned int len = 32;

	EVP_Digest(p, n, out, &len, EVP_sha256(), NULL);
}

void hmac_sha256(const void *key, size_t klen, const void *p, size_t n, unsigned char out[32])
{
	unsigned int len = 32;

	HMAC(EVP_sha256(), key, (int)klen, p, n, out, &len);
}

void hex_encode(const unsigned char *p, size_t n, char *out)
{
	static const char hx[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hx[p[i] >> 4];
		out[2 * i + 1] = hx[p[i] & 15];
	}
	out[2 * n] = 0;
}

void sha256_hex_take(const char *v, char out[65])
{
	out[0] = 0;
	if (v && strlen(v) == 64 && !v[strspn(v, "0123456789abcdef")])
		memcpy(out, v, 65);
}

void md5_b64_to_hex(const char *v, char out[33])
{
	size_t n = 0;
	unsigned char *raw = v ? base64_decode(v, &n) : NULL;

	out[0] = 0;
	if (raw && n == 16)
		hex_encode(raw, n, out);
	free(raw);
}

char *base64_encode(const void *p, size_t n)
{
	char *out = malloc(4 * ((n + 2) / 3) + 1);

	if (out)
		EVP_EncodeBlock((unsigned char *)out, p, (int)n);
	return out;
}

char *base64url_encode(const void *p, size_t n)
{
	char *s = base64_encode(p, n);
	size_t len;

	if (!s)
		return NULL;
	len = strlen(s);
	while (len && s[len - 1] == '=')
		s[--len] = 0;
	for (char *c = s; *c; c++) {
		if (*c == '+')
			*c = '-';
		else if (*c == '/')
			*c = '_';
	}
	return s;
}

unsigned char *base64_decode(const char *s, size_t *outlen)
{
	size_t n = strlen(s), pad = 0;
	unsigned char *out;
	int len;

	if (n % 4)
		return NULL;
	out = malloc(n / 4 * 3 + 1);
	if (!out)
		return NULL;
	len = EVP_DecodeBlock(out, (const unsigned char *)s, (int)n);
	if (len < 0) {
		free(out);
		return NULL;
	}
	if (n && s[n - 1] == '=')
		pad++;
	if (n > 1 && s[n - 2] == '=')
		pad++;
	*outlen = (size_t)len - pad;
	return out;
}

int digest_fd(const char *algo, int fd, off_t off, uint64_t len, unsigned char *out, unsigned *outlen)
{
	const EVP_MD *md = EVP_get_digestbyname(algo);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	size_t bufsz = 1 << 20;
	char *buf = malloc(bufsz);
	int rc = 0;

	if (!md || !ctx || !buf) {
		rc = -ENOMEM;
		goto out;
	}
	EVP_DigestInit_ex(ctx, md, NULL);
	while (len) {
		size_t want = len < bufsz ? (size_t)len : bufsz;
		ssize_t n = pread(fd, buf, want, off);

		if (n < 0) {
			rc = -errno;
			goto out;
		}
		if (n == 0) {
			rc = -EIO;   /* the spool is shorter than the part: never sign a short body */
			goto out;
		}
		EVP_DigestUpdate(ctx, buf, (size_t)n);
		off += n;
		len -= (uint64_t)n;
	}
	EVP_DigestFinal_ex(ctx, out, outlen);
out:
	EVP_MD_CTX_free(ctx);
	free(buf);
	return rc;
}

char *uri_encode(const char *s, int keep_slash)
{
	static const char hx[] = "0123456789ABCDEF";
	char *out = malloc(strlen(s) * 3 + 1), *o = out;

	if (!out)
		return NULL;
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		if ((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
		    *c == '-' || *c == '_' || *c == '.' || *c == '~' || (keep_slash && *c == '/')) {
			*o++ = (char)*c;
		} else {
			*o++ = '%';
			*o++ = hx[*c >> 4];
			*o++ = hx[*c & 15];
		}
	}
	*o = 0;
	return out;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

size_t uri_decode(const char *s, size_t n, int plus_space, char *out)
{
	size_t j = 0;

	for (size_t i = 0; i < n; i++) {
		int hi, lo;

		if (s[i] == '%' && i + 2 < n && (hi = hexval((unsigned char)s[i + 1])) >= 0 &&
		    (lo = hexval((unsigned char)s[i + 2])) >= 0) {
			out[j++] = (char)(hi * 16 + lo);
			i += 2;
		} else {
			out[j++] = plus_space && s[i] == '+' ? ' ' : s[i];
		}
	}
	out[j] = 0;
	return j;
}
