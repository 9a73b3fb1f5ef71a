/* CRC-32C: tables sliced by 8 (about 1-2 GB/s), or the SSE4.2 crc32 instruction where the CPU has it
 * (several times faster). Both give the same values; the unit test holds them to each other. */
#include "backends/gcs/crc32c.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <nmmintrin.h>
#define CRC32C_HW 1
#endif

#define POLY 0x82F63B78u   /* 0x1EDC6F41 bit-reversed */
#define FD_BLOCK (128 * 1024)

static uint32_t tab[8][256];
static pthread_once_t tab_once = PTHREAD_ONCE_INIT;
static int use_hw;

static void tab_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ POLY : c >> 1;
		tab[0][i] = c;
	}
	for (int t = 1; t < 8; t++)
		for (int i = 0; i < 256; i++)
			tab[t][i] = (tab[t - 1][i] >> 8) ^ tab[0][tab[t - 1][i] & 0xff];
#ifdef CRC32C_HW
	__builtin_cpu_init();
	use_hw = __builtin_cpu_supports("sse4.2");
#endif
}

uint32_t crc32c_update_sw(uint32_t crc, const void *p, size_t n)
{
	const unsigned char *b = p;
	uint32_t c = ~crc;

	pthread_once(&tab_once, tab_init);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	while (n >= 8) {
		uint64_t w;

		memcpy(&w, b, 8);
		w ^= c;
		c = tab[7][w & 0xff] ^ tab[6][(w >> 8) & 0xff] ^ tab[5][(w >> 16) & 0xff] ^
		    tab[4][(w >> 24) & 0xff] ^ tab[3][(w >> 32) & 0xff] ^ tab[2][(w >> 40) & 0xff] ^
		    tab[1][(w >> 48) & 0xff] ^ tab[0][w >> 56];
		b += 8;
		n -= 8;
	}
#endif
	while (n--)
		c = (c >> 8) ^ tab[0][(c ^ *b++) & 0xff];
	return ~c;
}

#ifdef CRC32C_HW
__attribute__((target("sse4.2"))) static uint32_t crc32c_hw(uint32_t crc, const void *p, size_t n)
{
	const unsigned char *b = p;
	uint64_t c = ~crc;

	while (n >= 8) {
		uint64_t w;

		memcpy(&w, b, 8);
		c = _mm_crc32_u64(c, w);
		b += 8;
		n -= 8;
	}
	while (n--)
		c = _mm_crc32_u8((uint32_t)c, *b++);
	return ~(uint32_t)c;
}
#endif

uint32_t crc32c_update(uint32_t crc, const void *p, size_t n)
{
	pthread_once(&tab_once, tab_init);
#ifdef CRC32C_HW
	if (use_hw)
		return crc32c_hw(crc, p, n);
#endif
	return crc32c_update_sw(crc, p, n);
}

int crc32c_fd(uint32_t *crc, int fd, off_t off, uint64_t len)
{
	unsigned char *buf = len ? malloc(len < FD_BLOCK ? len : FD_BLOCK) : NULL;
	uint32_t c = *crc;
	int rc = 0;

	if (len && !buf)
		return -ENOMEM;
	while (len) {
		size_t want = len < FD_BLOCK ? (size_t)len : FD_BLOCK;
		ssize_t got = pread(fd, buf, want, off);

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			rc = got < 0 ? -errno : -EIO;
			break;
		}
		c = crc32c_update(c, buf, (size_t)got);
		off += got;
		len -= (uint64_t)got;
	}
	free(buf);
	if (!rc)
		*crc = c;
	return rc;
}

/* GF(2) matrix times vector, and the square of a matrix: a 32x32 bit matrix is 32 columns of 32 bits */
static uint32_t gf2_times(const uint32_t *mat, uint32_t vec)
{
	uint32_t sum = 0;

	for (; vec; vec >>= 1, mat++)
		if (vec & 1)
			sum ^= *mat;
	return sum;
}

static void gf2_square(uint32_t *sq, const uint32_t *mat)
{
	for (int n = 0; n < 32; n++)
		sq[n] = gf2_times(mat, mat[n]);
}

uint32_t crc32c_combine(uint32_t crc1, uint32_t crc2, uint64_t len2)
{
	uint32_t even[32], odd[32], row = 1;

	if (!len2)
		return crc1;
	/* the operator for one zero bit, then for 2, 4, ... zero bits by squaring; crc1 is shifted
	 * through len2 zero bytes, then crc2 is added (the conditioning cancels, as in zlib) */
	odd[0] = POLY;
	for (int n = 1; n < 32; n++, row <<= 1)
		odd[n] = row;
	gf2_square(even, odd);     /* 2 zero bits */
	gf2_square(odd, even);     /* 4 zero bits */
	do {
		gf2_square(even, odd);   /* the first pass: 1 zero byte */
		if (len2 & 1)
			crc1 = gf2_times(even, crc1);
		len2 >>= 1;
		if (!len2)
			break;
		gf2_square(odd, even);
		if (len2 & 1)
			crc1 = gf2_times(odd, crc1);
		len2 >>= 1;
	} while (len2);
	return crc1 ^ crc2;
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void crc32c_base64(uint32_t crc, char out[9])
{
	/* 4 bytes: two full groups of 6 bits x 4, the last group has 8 bits, padded "==" */
	uint32_t hi = crc >> 8;        /* first three bytes */
	unsigned lo = crc & 0xff;      /* the fourth */

	out[0] = b64[(hi >> 18) & 63];
	out[1] = b64[(hi >> 12) & 63];
	out[2] = b64[(hi >> 6) & 63];
	out[3] = b64[hi & 63];
	out[4] = b64[lo >> 2];
	out[5] = b64[(lo & 3) << 4];
	out[6] = '=';
	out[7] = '=';
	out[8] = 0;
}

int crc32c_from_base64(const char *s, uint32_t *crc)
{
	char want[9];
	const char *at;
	uint32_t v = 0;

	if (!s || strlen(s) != 8 || strcmp(s + 6, "=="))
		return -EINVAL;
	for (int i = 0; i < 6; i++) {
		at = s[i] ? strchr(b64, s[i]) : NULL;
		if (!at)
			return -EINVAL;
		v = i < 5 ? (v << 6) | (uint32_t)(at - b64) : (v << 2) | (uint32_t)((at - b64) >> 4);
	}
	/* the two spare bits of the last character must be zero: re-encode and compare */
	crc32c_base64(v, want);
	if (strcmp(want, s))
		return -EINVAL;
	*crc = v;
	return 0;
}
