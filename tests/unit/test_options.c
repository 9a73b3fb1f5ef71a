/* Command-line and -o option parsing, and sizes. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "fs/options.h"

static int parse(struct config *c, char **why, int argc, char **argv)
{
	return options_parse(argc, argv, c, why);
}

static void test_sizes(void **st)
{
	uint64_t v;

	(void)st;
	assert_int_equal(options_parse_size("64M", &v), 0);
	assert_int_equal(v, 64ULL << 20);
	assert_int_equal(options_parse_size("1G", &v), 0);
	assert_int_equal(v, 1ULL << 30);
	assert_int_equal(options_parse_size("512k", &v), 0);
	assert_int_equal(v, 512ULL << 10);
	assert_int_equal(options_parse_size("2GiB", &v), 0);
	assert_int_equal(v, 2ULL << 30);
	assert_int_equal(options_parse_size("1048576", &v), 0);
	assert_int_equal(v, 1048576);
	assert_int_equal(options_parse_size("", &v), -EINVAL);
	assert_int_equal(options_parse_size("-1M", &v), -EINVAL);
	assert_int_equal(options_parse_size("12X", &v), -EINVAL);
	assert_int_equal(options_parse_size("99999999999T", &v), -EINVAL);
}

static void test_defaults_and_long(void **st)
{
	char *argv[] = { "snapfs", "s3://kubedb/team-a", "/mnt/x", "--secret-dir", "/s", "--endpoint=http://h:1",
			 "--cache-size", "256M", "--part-size", "16M", "--uploads", "8", "--log-level", "debug",
			 "-f", NULL };
	struct config c;
	char *why = NULL;

	(void)st;
	assert_int_equal(parse(&c, &why, 15, argv), 0);
	assert_string_equal(c.source, "s3://kubedb/team-a");
	assert_string_equal(c.mountpoint, "/mnt/x");
	assert_string_equal(c.secret_dir, "/s");
	assert_string_equal(c.endpoint, "http://h:1");
	assert_int_equal(c.cache_size, 256ULL << 20);
	assert_int_equal(c.part_size, 16ULL << 20);
	assert_int_equal(c.uploads, 8);
	assert_int_equal(c.log_level, LOG_LVL_DEBUG);
	assert_int_equal(c.foreground, 1);
	assert_int_equal(c.meta_ttl_ms, 5000);
	assert_string_equal(c.cache_dir, "/var/cache/snapfs");
	options_free(&c);
}

static void test_dash_o(void **st)
{
	/* what mount(8) hands mount.snapfs from an fstab line */
	char *argv[] = { "snapfs", "file:///srv/b", "/mnt/x", "-o",
			 "rw,nosuid,nodev,_netdev,secret_dir=/etc/snap,cache-size=2G,meta_ttl=2,allow_other", NULL };
	struct config c;
	char *why = NULL;

	(void)st;
	assert_int_equal(parse(&c, &why, 5, argv), 0);
	assert_string_equal(c.secret_dir, "/etc/snap");
	assert_int_equal(c.cache_size, 2ULL << 30);
	assert_int_equal(c.meta_ttl_ms, 2000);
	assert_int_equal(c.allow_other, 1);
	assert_non_null(c.fuse_opts);
	assert_non_null(strstr(c.fuse_opts, "nosuid"));
	assert_null(strstr(c.fuse_opts, "_netdev"));   /* mount(8)'s word, not FUSE's */
	options_free(&c);
}

static void test_errors(void **st)
{
	struct config c;
	char *why = NULL;
	char *a1[] = { "snapfs", "file:///a", NULL };
	char *a2[] = { "snapfs", "file:///a", "/m", "--bogus", NULL };
	char *a3[] = { "snapfs", "file:///a", "/m", "--cache-size", "lots", NULL };
	char *a4[] = { "snapfs", "file:///a", "/m", "-o", "frobnicate=1", NULL };
	char *a5[] = { "snapfs", "file:///a", "/m", "--uploads", "0", NULL };
	char *a6[] = { "snapfs", "file:///a", "/m", "--addressing", "sideways", NULL };
	char *a7[] = { "snapfs", "file:///a", "/m", "--endpoint", NULL };

	(void)st;
	assert_int_equal(parse(&c, &why, 2, a1), -EINVAL);
	assert_non_null(strstr(why, "usage"));
	free(why);
	options_free(&c);
	assert_int_equal(parse(&c, &why, 4, a2), -EINVAL);
	assert_non_null(strstr(why, "--bogus"));
	free(why);
	options_free(&c);
	assert_int_equal(parse(&c, &why, 5, a3), -EINVAL);
	assert_non_null(strstr(why, "lots"));
	free(why);
	options_free(&c);
	assert_int_equal(parse(&c, &why, 5, a4), -EINVAL);
	assert_non_null(strstr(why, "frobnicate"));
	free(why);
	options_free(&c);
	assert_int_equal(parse(&c, &why, 5, a5), -EINVAL);
	free(why);
	options_free(&c);
	assert_int_equal(parse(&c, &why, 5, a6), -EINVAL);
	free(why);
	options_free(&c);
	assert_int_equal(parse(&c, &why, 4, a7), -EINVAL);
	assert_non_null(strstr(why, "needs a value"));
	free(why);
	options_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_defaults_and_long),
		cmocka_unit_test(test_dash_o),
		cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
