/* SOURCE URLs: every scheme, prefixes with extra slashes, the file:// rules, and the errors a user sees. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "backends/backend.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void parse_ok(const char *url, const char *scheme, const char *bucket, const char *prefix,
		     const char *path)
{
	struct source s;
	char *why = NULL;

	assert_int_equal(source_parse(url, &s, &why), 0);
	assert_null(why);
	assert_string_equal(s.scheme, scheme);
	if (bucket)
		assert_string_equal(s.bucket, bucket);
	else
		assert_null(s.bucket);
	assert_string_equal(s.prefix, prefix);
	if (path)
		assert_string_equal(s.path, path);
	else
		assert_null(s.path);
	source_free(&s);
	assert_null(s.scheme);
}

/* returns the reason so the caller can check it names the problem */
static char *parse_bad(const char *url)
{
	struct source s;
	char *why = NULL;

	assert_int_equal(source_parse(url, &s, &why), -EINVAL);
	assert_non_null(why);
	assert_null(strchr(why, '\n'));
	assert_non_null(strstr(why, url));
	assert_null(s.scheme);
	assert_null(s.bucket);
	assert_null(s.prefix);
	assert_null(s.path);
	return why;
}

static void test_schemes(void **state)
{
	parse_ok("s3://kubedb", "s3", "kubedb", "", NULL);
	parse_ok("gs://bkt/team-a", "gs", "bkt", "team-a", NULL);
	parse_ok("azure://container/x/y", "azure", "container", "x/y", NULL);
	parse_ok("swift://c", "swift", "c", "", NULL);
	parse_ok("file:///var/backups", "file", NULL, "", "/var/backups");
	/* the scheme is case-insensitive, bucket and prefix are not */
	parse_ok("S3://Bucket/Pre", "s3", "Bucket", "Pre", NULL);
}

static void test_prefix_slashes(void **state)
{
	parse_ok("s3://b/", "s3", "b", "", NULL);
	parse_ok("s3://b//", "s3", "b", "", NULL);
	parse_ok("s3://b/a/", "s3", "b", "a", NULL);
	parse_ok("s3://b//a//b///", "s3", "b", "a/b", NULL);
	parse_ok("gs://b/team-a/x.y/z", "gs", "b", "team-a/x.y/z", NULL);
}

static void test_file_paths(void **state)
{
	char *why;

	parse_ok("file:///", "file", NULL, "", "/");
	parse_ok("file:///tmp//a/", "file", NULL, "", "/tmp/a");
	parse_ok("file:////srv/x", "file", NULL, "", "/srv/x");
	why = parse_bad("file://relative/dir");
	assert_non_null(strstr(why, "absolute"));
	free(why);
	free(parse_bad("file://"));
}

static void test_bad_urls(void **state)
{
	char *why;

	why = parse_bad("kubedb");
	assert_non_null(strstr(why, "not a URL"));
	free(why);
	free(parse_bad("://x"));
	why = parse_bad("ftp://host/x");
	assert_non_null(strstr(why, "unknown store"));
	free(why);
	why = parse_bad("s3://");
	assert_non_null(strstr(why, "empty"));
	free(why);
	why = parse_bad("s3:///prefix");
	assert_non_null(strstr(why, "empty"));
	free(why);
	free(parse_bad("s3://bad bucket/x"));
	free(parse_bad("s3://b%41/x"));
	free(parse_bad("s3://b?x=1"));
	free(parse_bad("azure://c#frag"));
}

static void test_source_key(void **state)
{
	struct source s;
	char *why = NULL, *k;

	assert_int_equal(source_parse("s3://b/team-a", &s, &why), 0);
	k = source_key(&s, "kubedb/ns/db/snap/f");
	assert_string_equal(k, "team-a/kubedb/ns/db/snap/f");
	free(k);
	k = source_key(&s, "//kubedb/x/");
	assert_string_equal(k, "team-a/kubedb/x/");
	free(k);
	k = source_key(&s, "");
	assert_string_equal(k, "team-a/");
	free(k);
	source_free(&s);

	assert_int_equal(source_parse("s3://b", &s, &why), 0);
	k = source_key(&s, "/kubedb/x");
	assert_string_equal(k, "kubedb/x");
	free(k);
	k = source_key(&s, "");
	assert_string_equal(k, "");
	free(k);
	source_free(&s);

	assert_int_equal(source_parse("file:///data/vol", &s, &why), 0);
	k = source_key(&s, "kubedb/a");
	assert_string_equal(k, "kubedb/a");
	free(k);
	source_free(&s);
	source_free(&s);   /* twice is harmless */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_schemes),
		cmocka_unit_test(test_prefix_slashes),
		cmocka_unit_test(test_file_paths),
		cmocka_unit_test(test_bad_urls),
		cmocka_unit_test(test_source_key),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
