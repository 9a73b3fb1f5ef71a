/* Folders this mount made: a name never met there is absent once, then met; a name listed or met is
 * never absent; the knowledge ends with rmdir/rename of the folder (or one above it) and with time;
 * a folder not made by the mount knows nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <cmocka.h>
#include <unistd.h>

#include "cache/fresh.h"

static void test_made_folder(void **state)
{
	struct fresh *f = fresh_new(5000);

	(void)state;
	assert_int_equal(fresh_absent(f, "/k/ns/db/s/dir/a"), 0);   /* not made here: ask the store */
	fresh_made(f, "/k/ns/db/s/dir");
	assert_int_equal(fresh_absent(f, "/k/ns/db/s/dir/a"), 1);
	assert_int_equal(fresh_absent(f, "/k/ns/db/s/dir/a"), 0);   /* met: maybe created since */
	fresh_note(f, "/k/ns/db/s/dir/b");
	assert_int_equal(fresh_absent(f, "/k/ns/db/s/dir/b"), 0);
	assert_int_equal(fresh_absent(f, "/k/ns/db/s/dir/sub/x"), 0);   /* a folder below: not made */
	assert_int_equal(fresh_absent(f, "/k/ns/db/s/dirx/c"), 0);
	fresh_made(f, "/k/ns/db/s/dir/sub");
	fresh_drop_tree(f, "/k/ns/db/s/dir");
	assert_int_equal(fresh_absent(f, "/k/ns/db/s/dir/c"), 0);
	assert_int_equal(fresh_absent(f, "/k/ns/db/s/dir/sub/c"), 0);
	fresh_made(f, "/k/ns/db/s/d2");
	fresh_drop_tree(f, "/k/ns/db/s/d");   /* a sibling whose name is a prefix: d2 stays */
	assert_int_equal(fresh_absent(f, "/k/ns/db/s/d2/c"), 1);
	fresh_free(f);
}

static void test_expiry_off_and_many(void **state)
{
	struct fresh *f = fresh_new(100), *off = fresh_new(0);
	char dir[64];

	(void)state;
	fresh_made(f, "/a/dir");
	usleep(150 * 1000);
	assert_int_equal(fresh_absent(f, "/a/dir/x"), 0);
	fresh_made(off, "/a/dir");
	assert_int_equal(fresh_absent(off, "/a/dir/x"), 0);
	assert_int_equal(fresh_absent(NULL, "/a/dir/x"), 0);
	/* more folders than it keeps: the oldest are forgotten (never answered wrongly) */
	for (int i = 0; i < 100; i++) {
		snprintf(dir, sizeof(dir), "/a/d%03d", i);
		fresh_made(f, dir);
	}
	assert_int_equal(fresh_absent(f, "/a/d099/x"), 1);
	fresh_free(f);
	fresh_free(off);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_made_folder),
		cmocka_unit_test(test_expiry_off_and_many),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
