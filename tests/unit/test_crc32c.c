/* CRC-32C against published values: the standard check value (0xE3069283 for "123456789"), the
 * RFC 3720 appendix B.4 vectors (32 bytes of zeros, of ones, ascending, descending), and the base64
 * big-endian forms Google Cloud Storage prints (empty object "AAAAAA==", "hello world" "yZRlqg==",
 * the quick brown fox "ImIEBA=="). The sliced tables and the SSE4.2 path must agree at every length
 * and alignment, and a CRC continued over pieces must equal the CRC of the whole. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "backends/gcs/crc32c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static uint32_t crc_of(const void *p, size_t n)
{
	return crc32c_update(0, p, n);
}

static void test_check_value(void **st)
{
	(void)st;
	assert_int_equal(crc_of("123456789", 9), 0xE3069283u);
	assert_int_equal(crc32c_update_sw(0, "123456789", 9), 0xE3069283u);
	assert_int_equal(crc_of("", 0), 0);
}

static void test_rfc3720(void **st)
{
	unsigned char b[32];

	(void)st;
	memset(b, 0, sizeof(b));
	assert_int_equal(crc_of(b, 32), 0x8A9136AAu);
	memset(b, 0xff, sizeof(b));
	assert_int_equal(crc_of(b, 32), 0x62A8AB43u);
	for (int i = 0; i < 32; i++)
		b[i] = (unsigned char)i;
	assert_int_equal(crc_of(b, 32), 0x46DD794Eu);
	for (int i = 0; i < 32; i++)
		b[i] = (unsigned char)(31 - i);
	assert_int_equal(crc_of(b, 32), 0x113FDB5Cu);
}

static void test_gcs_base64(void **st)
{
	static const char fox[] = "The quick brown fox jumps over the lazy dog";
	char out[9];
	uint32_t v;

	(void)st;
	crc32c_base64(crc_of("", 0), out);
	assert_string_equal(out, "AAAAAA==");
	crc32c_base64(crc_of("hello world", 11), out);
	assert_string_equal(out, "yZRlqg==");
	crc32c_base64(crc_of(fox, strlen(fox)), out);
	assert_string_equal(out, "ImIEBA==");
	crc32c_base64(0xE3069283u, out);
	assert_string_equal(out, "4waSgw==");
	assert_int_equal(crc32c_from_base64("4waSgw==", &v), 0);
	assert_int_equal(v, 0xE3069283u);
	assert_int_equal(crc32c_from_base64("ImIEBA==", &v), 0);
	assert_int_equal(v, 0x22620404u);
	/* not 4 bytes, not base64, spare bits set */
	assert_int_equal(crc32c_from_base64("4waSgw=", &v), -22);
	assert_int_equal(crc32c_from_base64("4waSgwAA", &v), -22);
	assert_int_equal(crc32c_from_base64("4wa*gw==", &v), -22);
	assert_int_equal(crc32c_from_base64("4waSgx==", &v), -22);
	assert_int_equal(crc32c_from_base64(NULL, &v), -22);
}

/* every length 0..300 at every alignment 0..7, and pieces of random sizes: one answer */
static void test_paths_agree(void **st)
{
	size_t n = 1 << 20;
	unsigned char *b = malloc(n + 8);
	uint32_t whole, pieces = 0;
	size_t at = 0;

	(void)st;
	assert_non_null(b);
	srandom(42);
	for (size_t i = 0; i < n + 8; i++)
		b[i] = (unsigned char)random();
	for (size_t off = 0; off < 8; off++)
		for (size_t len = 0; len <= 300; len++)
			assert_int_equal(crc32c_update(0, b + off, len), crc32c_update_sw(0, b + off, len));
	whole = crc_of(b, n);
	assert_int_equal(whole, crc32c_update_sw(0, b, n));
	while (at < n) {
		size_t k = (size_t)random() % 70000;

		if (k > n - at)
			k = n - at;
		pieces = crc32c_update(pieces, b + at, k);
		at += k;
	}
	assert_int_equal(pieces, whole);
	free(b);
}

static void test_fd(void **st)
{
	char path[] = "/tmp/test_crc32c.XXXXXX";
	int fd = mkstemp(path);
	size_t n = 300 * 1024 + 7;
	unsigned char *b = malloc(n);
	uint32_t c = 0;

	(void)st;
	assert_true(fd >= 0);
	unlink(path);
	assert_non_null(b);
	for (size_t i = 0; i < n; i++)
		b[i] = (unsigned char)(i * 31 + 7);
	assert_int_equal(write(fd, b, n), (ssize_t)n);
	assert_int_equal(crc32c_fd(&c, fd, 0, n), 0);
	assert_int_equal(c, crc_of(b, n));
	/* a range, continued from an earlier CRC */
	c = crc_of(b, 1000);
	assert_int_equal(crc32c_fd(&c, fd, 1000, n - 1000), 0);
	assert_int_equal(c, crc_of(b, n));
	/* past the end of the file: -EIO, the CRC untouched */
	c = 5;
	assert_int_equal(crc32c_fd(&c, fd, n - 10, 20), -5);
	assert_int_equal(c, 5);
	close(fd);
	free(b);
}

/* the CRC of a composed object from the CRCs of its two parts, at many split points */
static void test_combine(void **st)
{
	size_t n = 70000;
	unsigned char *b = malloc(n);
	static const size_t cuts[] = { 0, 1, 2, 3, 7, 8, 9, 255, 256, 4096, 65537, 69999, 70000 };

	(void)st;
	assert_non_null(b);
	for (size_t i = 0; i < n; i++)
		b[i] = (unsigned char)(i * 131 + i / 7);
	for (size_t k = 0; k < sizeof(cuts) / sizeof(cuts[0]); k++) {
		size_t c = cuts[k];

		assert_int_equal(crc32c_combine(crc_of(b, c), crc_of(b + c, n - c), n - c), crc_of(b, n));
	}
	assert_int_equal(crc32c_combine(crc_of((const unsigned char *)"1234", 4),
					crc_of((const unsigned char *)"56789", 5), 5), 0xE3069283u);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check_value),
		cmocka_unit_test(test_rfc3720),
		cmocka_unit_test(test_gcs_base64),
		cmocka_unit_test(test_paths_agree),
		cmocka_unit_test(test_fd),
		cmocka_unit_test(test_combine),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
