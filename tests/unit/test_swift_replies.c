/* The Swift backend against replies a real Swift never sends (tests/unit/swift_replies.py): malformed
 * listings and manifests, a body longer than the range asked for, a revoked ready-made token. Each must
 * give -EIO (or -EACCES), never a crash or a wrong answer. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "backends/backend.h"
#include "backends/secret.h"
#include "tests/unit/lib_reply_server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern const struct backend_ops swift_backend_ops;

static struct reply_server srv;
static char storage_url[128];
static struct secret sec;
static struct source src;
static struct backend_conf conf;
static struct backend be;

static int setup(void **state)
{
	(void)state;
	for (const char *const *k = (const char *const[]){ "ST_AUTH", "OS_AUTH_URL", NULL }; *k; k++)
		unsetenv(*k);
	if (reply_server_start(&srv, "swift_replies.py", NULL))
		return -1;
	snprintf(storage_url, sizeof(storage_url), "http://127.0.0.1:%d/v1/AUTH_t", srv.port);
	reply_secret_set(&sec, (const char *const[]){ "OS_STORAGE_URL", storage_url,
						      "OS_AUTH_TOKEN", "tok-123", NULL });
	src.scheme = "swift";
	src.bucket = "c";
	src.prefix = "";
	conf = (struct backend_conf){ &src, &sec, NULL, NULL, NULL, 5, 0, 0 };
	return reply_backend_open(&be, &swift_backend_ops, &conf) ? -1 : 0;
}

static int teardown(void **state)
{
	(void)state;
	if (be.priv)
		swift_backend_ops.close(&be);
	secret_free(&sec);
	reply_server_stop(&srv);
	return 0;
}

struct names {
	char v[8][64];
	int dir[8];
	unsigned n;
};

static int collect(void *arg, const char *name, const struct obj_info *oi)
{
	struct names *l = arg;

	if (l->n < 8) {
		snprintf(l->v[l->n], sizeof(l->v[0]), "%s", name);
		l->dir[l->n] = oi->is_dir;
	}
	l->n++;
	return 0;
}

static void test_good_listing(void **state)
{
	struct names l = { 0 };

	(void)state;
	assert_int_equal(swift_backend_ops.list(&be, "ok/", 1, 0, collect, &l), 0);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.v[0], "a");
	assert_false(l.dir[0]);
	assert_string_equal(l.v[1], "d/");
	assert_true(l.dir[1]);
}

static void test_malformed_listings(void **state)
{
	static const char *const bad[] = { "trunc/", "nosize/", "negsize/", "other/", "object/", "noname/" };

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct names l = { 0 };

		assert_int_equal(swift_backend_ops.list(&be, bad[i], 1, 0, collect, &l), -EIO);
	}
}

static void test_malformed_manifests(void **state)
{
	static const char *const bad[] = { "slo-notlist", "slo-nopath", "slo-notjson" };

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct upload *up = NULL;
		const char *k = bad[i];

		/* an append reads the old manifest; a remove reads which segments go with it */
		assert_int_equal(swift_backend_ops.upload_begin(&be, k, 2097152, &up), -EIO);
		assert_null(up);
		assert_int_equal(swift_backend_ops.remove(&be, &k, 1), -EIO);
	}
}

static void test_read_longer_than_asked(void **state)
{
	char buf[100];

	(void)state;
	assert_int_equal(swift_backend_ops.read(&be, "long", 0, sizeof(buf), buf), -EIO);
	assert_int_equal(swift_backend_ops.read(&be, "plain", 0, sizeof(buf), buf), 5);
	assert_memory_equal(buf, "hello", 5);
}

static void test_revoked_token(void **state)
{
	struct obj_info oi;

	(void)state;
	/* a ready-made token cannot be renewed: the 401 stands */
	assert_int_equal(swift_backend_ops.stat(&be, "revoked", &oi), -EACCES);
	assert_int_equal(swift_backend_ops.stat(&be, "missing", &oi), -ENOENT);
	assert_int_equal(swift_backend_ops.stat(&be, "plain", &oi), 0);
	assert_int_equal(oi.size, 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_listing),
		cmocka_unit_test(test_malformed_listings),
		cmocka_unit_test(test_malformed_manifests),
		cmocka_unit_test(test_read_longer_than_asked),
		cmocka_unit_test(test_revoked_token),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
