/* CompleteMultipartUpload whose reply is lost (tests/unit/s3_commit.py): the retry answers NoSuchUpload,
 * and only the multipart ETag ("MD5 of the parts' MD5s"-N) may decide whether the upload completed. An
 * older object of the same size, or an upload that vanished without completing, must be -EIO; a completed
 * upload (also on a server whose completion reply has an empty ETag, as Ceph RGW's) is stored.
 * And the completion's retries: a 200 whose document is a transient <Error> is sent again up to 4
 * attempts in all, a 503 up to --retries (3 here) times more, each counted apart. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "backends/backend.h"
#include "backends/s3/s3_priv.h"
#include "backends/secret.h"
#include "tests/unit/lib_reply_server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern const struct backend_ops s3_backend_ops;

static struct reply_server srv;
static char endpoint[64];
static struct secret sec;
static struct source src;
static struct backend_conf conf;
static struct backend be;
static int spool = -1;

static int setup(void **state)
{
	char sp[] = "/tmp/test_s3_commit.XXXXXX";
	int rc;

	(void)state;
	for (const char *const *k = (const char *const[]){ "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
							   "AWS_SESSION_TOKEN", "AWS_REGION", NULL }; *k; k++)
		unsetenv(*k);
	if (reply_server_start(&srv, "s3_commit.py", NULL))
		return -1;
	snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%d", srv.port);
	reply_secret_set(&sec, (const char *const[]){ "AWS_ACCESS_KEY_ID", "AKID",
						      "AWS_SECRET_ACCESS_KEY", "secret", NULL });
	src.scheme = "s3";
	src.bucket = "b";
	src.prefix = "";
	conf = (struct backend_conf){ &src, &sec, endpoint, NULL, NULL, 5, 3, 0 };
	rc = reply_backend_open(&be, &s3_backend_ops, &conf);
	spool = mkstemp(sp);
	if (spool < 0)
		return -1;
	unlink(sp);
	return rc ? -1 : 0;
}

static int teardown(void **state)
{
	(void)state;
	if (be.priv)
		s3_backend_ops.close(&be);
	secret_free(&sec);
	close(spool);
	reply_server_stop(&srv);
	return 0;
}

/* three parts of 1000 bytes of fill, then the commit's result */
static int upload3(const char *key, char fill)
{
	char buf[3000];
	struct upload *up;
	int rc;

	memset(buf, fill, sizeof(buf));
	buf[0] = 'X';   /* not every part alike */
	assert_int_equal(pwrite(spool, buf, sizeof(buf), 0), (ssize_t)sizeof(buf));
	rc = s3_backend_ops.upload_begin(&be, key, 0, &up);
	if (rc)
		return rc;
	for (unsigned i = 0; i < 3; i++) {
		struct part p = { i + 1, (uint64_t)i * 1000, 1000, spool, (off_t)i * 1000 };

		assert_int_equal(s3_backend_ops.upload_part(up, &p), 0);
	}
	rc = s3_backend_ops.upload_commit(up, 3, NULL);
	if (rc)
		s3_backend_ops.upload_abort(up);   /* commit_again: a failed commit leaves it open */
	return rc;
}

static void put_str(const char *key, char fill, size_t len)
{
	char buf[3000];

	memset(buf, fill, len);
	assert_int_equal(pwrite(spool, buf, len, 0), (ssize_t)len);
	assert_int_equal(s3_backend_ops.put(&be, key, spool, 0, len, NULL), 0);
}

static void test_etag_formula(void **state)
{
	char *const plain[] = { "0cc175b9c0f1b6a831c399e269772661", "\"92eb5ffee6ae2fec3ad71c777531578f\"" };
	char *const kms[] = { "0cc175b9c0f1b6a831c399e269772661", "\"not-an-md5\"" };
	char out[64];

	(void)state;
	/* the parts of "a" and "b", computed independently with Python's hashlib */
	assert_int_equal(s3_multipart_etag(plain, 2, out, sizeof(out)), 0);
	assert_string_equal(out, "96e024ba2074fe77e8e965ba43a704be-2");
	assert_int_equal(s3_multipart_etag(kms, 2, out, sizeof(out)), -EINVAL);
	assert_int_equal(s3_multipart_etag(plain, 0, out, sizeof(out)), -EINVAL);
}

static void test_lost_reply_completed(void **state)
{
	struct obj_info oi;

	(void)state;
	assert_int_equal(upload3("s/lost-1", 'n'), 0);
	assert_int_equal(s3_backend_ops.stat(&be, "s/lost-1", &oi), 0);
	assert_int_equal(oi.size, 3000);
}

static void test_vanished_over_same_size(void **state)
{
	struct obj_info old, now;

	(void)state;
	/* an older object of exactly the upload's size: its size alone would pass */
	put_str("s/vanished-1", 'o', 3000);
	assert_int_equal(s3_backend_ops.stat(&be, "s/vanished-1", &old), 0);
	assert_int_equal(upload3("s/vanished-1", 'n'), -EIO);
	assert_int_equal(s3_backend_ops.stat(&be, "s/vanished-1", &now), 0);
	assert_int_equal(now.size, 3000);
	assert_string_equal(now.etag, old.etag);
}

static void test_vanished_absent(void **state)
{
	struct obj_info oi;

	(void)state;
	assert_int_equal(upload3("s/vanished-2", 'n'), -EIO);
	assert_int_equal(s3_backend_ops.stat(&be, "s/vanished-2", &oi), -ENOENT);
}

static void test_empty_etag_reply(void **state)
{
	struct obj_info oi;

	(void)state;
	assert_int_equal(upload3("s/rgw-1", 'n'), 0);
	assert_int_equal(s3_backend_ops.stat(&be, "s/rgw-1", &oi), 0);
	assert_int_equal(oi.size, 3000);
}

/* key's upload commits with want (0 or -EIO), and the object is there whole or absent */
static void commit_gives(const char *key, int want)
{
	struct obj_info oi;

	assert_int_equal(upload3(key, 'n'), want);
	assert_int_equal(s3_backend_ops.stat(&be, key, &oi), want ? -ENOENT : 0);
	if (!want)
		assert_int_equal(oi.size, 3000);
}

/* 200 with InternalError inside: 4 attempts in all */
static void test_error_in_200_retried(void **state)
{
	(void)state;
	commit_gives("s/flaky-3-0-a", 0);
	commit_gives("s/flaky-4-0-b", -EIO);
}

/* 503 SlowDown: the policy's first attempt and --retries 3 more */
static void test_busy_retried(void **state)
{
	(void)state;
	commit_gives("s/flaky-0-3-a", 0);
	commit_gives("s/flaky-0-4-b", -EIO);
}

/* both kinds in one completion, 5 attempts: neither eats the other's count */
static void test_error_and_busy_apart(void **state)
{
	(void)state;
	commit_gives("s/flaky-2-2-a", 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_etag_formula),
		cmocka_unit_test(test_lost_reply_completed),
		cmocka_unit_test(test_vanished_over_same_size),
		cmocka_unit_test(test_vanished_absent),
		cmocka_unit_test(test_empty_etag_reply),
		cmocka_unit_test(test_error_in_200_retried),
		cmocka_unit_test(test_busy_retried),
		cmocka_unit_test(test_error_and_busy_apart),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
