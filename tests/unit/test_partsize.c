/* The part cutter's schedule: every store's cap holds a 5 TiB stream of unknown length. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "cache/partsize.h"

static uint64_t sum_parts(const struct part_plan *p, unsigned n)
{
	uint64_t t = 0;

	for (unsigned i = 1; i <= n; i++)
		t += part_size_of(p, i);
	return t;
}

static void test_s3(void **st)
{
	struct part_plan p;
	const char *why = NULL;

	(void)st;
	/* S3: 5 MiB minimum, 5 GiB maximum, 10,000 parts */
	assert_int_equal(part_plan_init(&p, 8 * MIB, 5 * MIB, 5ULL << 30, 10000, &why), 0);
	assert_int_equal(part_size_of(&p, 1), 8 * MIB);
	assert_int_equal(part_size_of(&p, 1000), 8 * MIB);
	assert_int_equal(part_size_of(&p, 1001), 16 * MIB);
	assert_true(sum_parts(&p, 10000) >= SNAPFS_MAX_FILE);
	for (unsigned i = 1; i <= 10000; i++) {
		uint64_t sz = part_size_of(&p, i);

		assert_true(sz >= 5 * MIB && sz <= 5ULL << 30);
		assert_int_equal(sz % MIB, 0);   /* 256 KiB alignment for GCS follows */
	}
	/* a part size under the minimum is raised to it, and further until 10,000 parts reach 5 TiB */
	assert_int_equal(part_plan_init(&p, 1 * MIB, 5 * MIB, 5ULL << 30, 10000, &why), 0);
	assert_true(part_size_of(&p, 1) >= 5 * MIB);
	assert_int_equal(part_size_of(&p, 1) % MIB, 0);
	assert_true(part_plan_capacity(&p) >= SNAPFS_MAX_FILE);
}

static void test_azure_and_unbounded(void **st)
{
	struct part_plan p;
	const char *why = NULL;

	(void)st;
	/* Azure: 50,000 blocks of at most 4000 MiB */
	assert_int_equal(part_plan_init(&p, 8 * MIB, 0, 4000 * MIB, 50000, &why), 0);
	assert_true(part_plan_capacity(&p) >= SNAPFS_MAX_FILE);
	assert_int_equal(part_size_of(&p, 1), 8 * MIB);
	/* file://: no limits, the size never changes */
	assert_int_equal(part_plan_init(&p, 8 * MIB, 0, 0, 0, &why), 0);
	assert_int_equal(part_size_of(&p, 1), 8 * MIB);
	assert_int_equal(part_size_of(&p, 1000000), 8 * MIB);
	assert_true(part_plan_capacity(&p) == UINT64_MAX);
}

static void test_small_cap(void **st)
{
	struct part_plan p;
	const char *why = NULL;

	(void)st;
	/* Swift SLO: 1000 segments of at most 5 GiB hold 5000 GiB at most: the plan reaches the store's own
	 * ceiling and never exceeds the segment maximum */
	assert_int_equal(part_plan_init(&p, 8 * MIB, 1 * MIB, 5ULL << 30, 1000, &why), 0);
	for (unsigned i = 1; i <= 1000; i++)
		assert_true(part_size_of(&p, i) <= 5ULL << 30);
	assert_true(part_plan_capacity(&p) >= 4000ULL << 30);
	/* the first part never exceeds the maximum, even when the cap cannot reach 5 TiB */
	assert_int_equal(part_plan_init(&p, 8 * MIB, 1 * MIB, 5ULL << 30, 1000, &why), 0);
	assert_true(part_size_of(&p, 1) <= 5ULL << 30);
	assert_int_equal(part_plan_init(&p, 8 * MIB, 1 * MIB, 100 * MIB, 10, &why), 0);
	assert_int_equal(part_size_of(&p, 1), 100 * MIB);
	/* a maximum under 1 MiB cannot be cut */
	assert_int_equal(part_plan_init(&p, 8 * MIB, 0, 512 * 1024, 10, &why), -22);
	assert_non_null(why);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_s3),
		cmocka_unit_test(test_azure_and_unbounded),
		cmocka_unit_test(test_small_cap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
