#include "common/crypto.h"
#include "common/encode.h"

#include <ctype.h>
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void crypto_sha256(const void *p, size_t n, unsigned char out[32])
{
	unsigned int len = 32;

	EVP_Digest(p, n, out, &len, EVP_sha256(), NULL);
}

void crypto_hmac_sha256(const void *key, size_t klen, const void *p, size_t n, unsigned char out[32])
{
	unsigned int len = 32;

	HMAC(EVP_sha256(), key, (int)klen, p, n, out, &len);
}

void crypto_sha256_take(const char *v, char out[65])
{
	out[0] = 0;
	if (v && strlen(v) == 64 && !v[strspn(v, "0123456789abcdef")])
		memcpy(out, v, 65);
}

void crypto_md5_b64_to_hex(const char *v, char out[33])
{
	size_t n = 0;
	unsigned char *raw = v ? enc_b64_decode(v, &n) : NULL;

	out[0] = 0;
	if (raw && n == 16)
		enc_hex(raw, n, out);
	free(raw);
}

int crypto_digest_fd(const char *algo, int fd, off_t off, uint64_t len, unsigned char *out, unsigned *outlen)
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
