/* The kubedb layout rules: where entries may be created and which names are Kubernetes names. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "fs/layout.h"

static void test_depth(void **st)
{
	(void)st;
	assert_int_equal(layout_depth("/"), 0);
	assert_int_equal(layout_depth("/kubedb"), 1);
	assert_int_equal(layout_depth("/kubedb/demo"), 2);
	assert_int_equal(layout_depth("/kubedb/demo/pg/snap/dumpfile.sql"), 5);
	assert_int_equal(layout_depth("/kubedb/demo/pg/snap/a/b/c"), 7);
}

static void test_names(void **st)
{
	(void)st;
	assert_true(layout_ns_name("demo"));
	assert_true(layout_ns_name("team-a1"));
	assert_true(layout_ns_name("a"));
	assert_false(layout_ns_name(""));
	assert_false(layout_ns_name("Demo"));
	assert_false(layout_ns_name("-demo"));
	assert_false(layout_ns_name("demo-"));
	assert_false(layout_ns_name("de.mo"));        /* namespaces are labels: no dots */
	assert_false(layout_ns_name("de_mo"));
	assert_true(layout_ns_name("a23456789012345678901234567890123456789012345678901234567890123"));
	assert_false(layout_ns_name("a234567890123456789012345678901234567890123456789012345678901234"));
	assert_true(layout_obj_name("script-postgres"));
	assert_true(layout_obj_name("pg-20240101-120000"));
	assert_true(layout_obj_name("my.db"));
	assert_false(layout_obj_name("my..db"));
	assert_false(layout_obj_name(".db"));
	assert_false(layout_obj_name("db."));
	assert_false(layout_obj_name("inst snap"));
}

static void test_create(void **st)
{
	char why[512];

	(void)st;
	assert_int_equal(layout_check_create("/foo", 0, why, sizeof(why)), -EPERM);
	assert_non_null(strstr(why, "only kubedb/"));
	assert_int_equal(layout_check_create("/kubedb", 1, why, sizeof(why)), -EEXIST);
	assert_int_equal(layout_check_create("/kubedb/file.sql", 0, why, sizeof(why)), -EPERM);
	assert_int_equal(layout_check_create("/kubedb/demo", 1, why, sizeof(why)), 0);
	assert_int_equal(layout_check_create("/kubedb/Demo", 1, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "namespace"));
	assert_int_equal(layout_check_create("/kubedb/demo/pg/dump.sql", 0, why, sizeof(why)), -EPERM);
	assert_non_null(strstr(why, "NAMESPACE/DATABASE/SNAPSHOT"));
	assert_int_equal(layout_check_create("/kubedb/demo/pg_x", 1, why, sizeof(why)), -EINVAL);
	assert_int_equal(layout_check_create("/kubedb/demo/pg/snap.1", 1, why, sizeof(why)), 0);
	assert_int_equal(layout_check_create("/kubedb/demo/pg/snap/dumpfile.sql", 0, why, sizeof(why)), 0);
	assert_int_equal(layout_check_create("/kubedb/demo/pg/snap/Any Name (1).txt", 0, why, sizeof(why)), 0);
	assert_int_equal(layout_check_create("/kubedb/demo/pg/snap/sub", 1, why, sizeof(why)), 0);
}

static void test_visible(void **st)
{
	(void)st;
	assert_true(layout_visible(1, "kubedb", 1));
	assert_false(layout_visible(1, "other", 1));
	assert_false(layout_visible(1, "kubedb", 0));
	assert_true(layout_visible(2, "demo", 1));
	assert_false(layout_visible(2, "stray.txt", 0));    /* a file where a namespace belongs */
	assert_true(layout_visible(5, "dumpfile.sql", 0));
	assert_false(layout_visible(5, "", 0));
	assert_false(layout_visible(5, "..", 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_depth),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_create),
		cmocka_unit_test(test_visible),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
