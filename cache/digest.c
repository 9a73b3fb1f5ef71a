#include "cache/digest.h"
#include "common/log.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FEED_CHUNK (1024 * 1024)

void digest_restart(struct digest *d)
{
	if (d->ctx && !EVP_DigestInit_ex(d->ctx, EVP_sha256(), NULL)) {
		EVP_MD_CTX_free(d->ctx);
		d->ctx = NULL;
	}
	d->off = 0;
	d->broken = 0;
}

void digest_feed(struct digest *d, int fd, uint64_t from, uint64_t end)
{
	char *buf = NULL;

	if (d->broken || end <= from)
		return;
	if (from != d->off) {
		d->broken = 1;
		return;
	}
	if (!d->ctx) {
		d->ctx = EVP_MD_CTX_new();
		if (!d->ctx || !EVP_DigestInit_ex(d->ctx, EVP_sha256(), NULL))
			goto fail;
	}
	buf = malloc(FEED_CHUNK);
	if (!buf)
		goto fail;
	while (from < end) {
		size_t want = end - from < FEED_CHUNK ? (size_t)(end - from) : FEED_CHUNK;
		ssize_t n = pread(fd, buf, want, (off_t)from);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto fail;
		if (n == 0) {
			memset(buf, 0, want);   /* past the spool's end (a truncate that grew) reads as zeros */
			n = (ssize_t)want;
		}
		if (!EVP_DigestUpdate(d->ctx, buf, (size_t)n))
			goto fail;
		from += (uint64_t)n;
	}
	d->off = end;
	free(buf);
	return;
fail:
	/* a missing digest loses no data; the object is stored without its metadata */
	log_debug("whole-file digest given up: %s", strerror(errno ? errno : EIO));
	free(buf);
	d->broken = 1;
}

int digest_final(struct digest *d, uint64_t size, char out[65])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned len = 0;
	int rc = -1;

	if (size == 0 && !d->broken && !d->off) {
		/* an empty file never fed anything */
		if (!d->ctx && !(d->ctx = EVP_MD_CTX_new()))
			return -1;
		if (!EVP_DigestInit_ex(d->ctx, EVP_sha256(), NULL))
			return -1;
	}
	if (d->broken || !d->ctx || d->off != size)
		goto out;
	if (!EVP_DigestFinal_ex(d->ctx, md, &len) || len != 32)
		goto out;
	for (unsigned i = 0; i < len; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[64] = 0;
	rc = 0;
out:
	d->broken = 1;   /* finished: a new digest needs digest_restart */
	return rc;
}

void digest_free(struct digest *d)
{
	EVP_MD_CTX_free(d->ctx);
	d->ctx = NULL;
}
