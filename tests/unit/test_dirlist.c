/* Recent listings: a complete listing is replayed as it came, a change through the mount (before or
 * during the listing) makes it stale, an incomplete one is never kept, and it expires. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include <unistd.h>

#include "cache/dirlist.h"

struct seen {
	int n;
	char names[8][32];
	uint64_t sizes[8];
};

static int collect(void *arg, const char *name, const struct obj_info *oi)
{
	struct seen *s = arg;

	if (s->n < 8) {
		snprintf(s->names[s->n], sizeof(s->names[0]), "%s", name);
		s->sizes[s->n] = oi->size;
	}
	s->n++;
	return 0;
}

static void record(struct dirlist *d, const char *path, int complete, int change_midway)
{
	struct dirlist_rec *r = dirlist_begin(d, path);
	struct obj_info a = { .size = 10 }, b = { .is_dir = 1 };

	dirlist_add(r, "a.sql", &a);
	if (change_midway)
		dirlist_changed(d);
	dirlist_add(r, "sub/", &b);
	dirlist_end(d, r, complete);
}

static void test_replay_and_staleness(void **st)
{
	struct dirlist *d = dirlist_new(60000);
	struct seen s = { 0 };

	(void)st;
	assert_int_equal(dirlist_replay(d, "/k/ns/db/snap", collect, &s), 0);
	record(d, "/k/ns/db/snap", 1, 0);
	assert_int_equal(dirlist_replay(d, "/k/ns/db/snap", collect, &s), 1);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.names[0], "a.sql");
	assert_int_equal(s.sizes[0], 10);
	assert_string_equal(s.names[1], "sub/");
	assert_int_equal(dirlist_replay(d, "/k/ns/db/other", collect, &s), 0);
	dirlist_changed(d);
	assert_int_equal(dirlist_replay(d, "/k/ns/db/snap", collect, &s), 0);
	/* a change while the store was being listed: not kept */
	record(d, "/k/ns/db/snap", 1, 1);
	assert_int_equal(dirlist_replay(d, "/k/ns/db/snap", collect, &s), 0);
	/* an incomplete listing: not kept */
	record(d, "/k/ns/db/snap", 0, 0);
	assert_int_equal(dirlist_replay(d, "/k/ns/db/snap", collect, &s), 0);
	/* more folders than slots: the newest stay */
	for (int i = 0; i < 6; i++) {
		char p[32];

		snprintf(p, sizeof(p), "/k/ns/db/s%d", i);
		record(d, p, 1, 0);
	}
	assert_int_equal(dirlist_replay(d, "/k/ns/db/s5", collect, &s), 1);
	dirlist_free(d);
}

static void test_expiry_and_off(void **st)
{
	struct dirlist *d = dirlist_new(50), *off = dirlist_new(0);
	struct seen s = { 0 };

	(void)st;
	record(d, "/x", 1, 0);
	assert_int_equal(dirlist_replay(d, "/x", collect, &s), 1);
	usleep(120 * 1000);
	assert_int_equal(dirlist_replay(d, "/x", collect, &s), 0);
	assert_null(dirlist_begin(off, "/x"));
	record(off, "/x", 1, 0);
	assert_int_equal(dirlist_replay(off, "/x", collect, &s), 0);
	dirlist_free(d);
	dirlist_free(off);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_replay_and_staleness),
		cmocka_unit_test(test_expiry_and_off),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
