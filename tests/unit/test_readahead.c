/* Finding the mount's device in mountinfo: escaped paths, a mount stacked on another, no match. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "fs/readahead.h"

static const char MI[] =
	"22 1 0:21 / / rw,relatime shared:1 - ext4 /dev/root rw\n"
	"40 22 0:38 / /mnt/a rw,nosuid,nodev,relatime shared:20 - fuse.snapfs s3://b rw,user_id=0\n"
	"41 22 0:39 / /mnt/with\\040space rw,relatime shared:21 - fuse.snapfs s3://c rw\n"
	"42 40 0:40 / /mnt/a rw,relatime shared:22 - fuse.snapfs s3://d rw\n"
	"43 22 0:41 / /mnt/back\\134slash rw - fuse.snapfs s3://e rw";   /* no final newline */

static void test_found(void **state)
{
	char dev[32];

	(void)state;
	assert_int_equal(readahead_mountinfo_dev(MI, "/", dev, sizeof(dev)), 0);
	assert_string_equal(dev, "0:21");
	assert_int_equal(readahead_mountinfo_dev(MI, "/mnt/with space", dev, sizeof(dev)), 0);
	assert_string_equal(dev, "0:39");
	assert_int_equal(readahead_mountinfo_dev(MI, "/mnt/back\\slash", dev, sizeof(dev)), 0);
	assert_string_equal(dev, "0:41");
}

static void test_top_mount_wins(void **state)
{
	char dev[32];

	(void)state;
	assert_int_equal(readahead_mountinfo_dev(MI, "/mnt/a", dev, sizeof(dev)), 0);
	assert_string_equal(dev, "0:40");
}

static void test_not_found(void **state)
{
	char dev[32];

	(void)state;
	assert_int_equal(readahead_mountinfo_dev(MI, "/mnt", dev, sizeof(dev)), -ENOENT);
	assert_int_equal(readahead_mountinfo_dev(MI, "/mnt/with", dev, sizeof(dev)), -ENOENT);
	assert_int_equal(readahead_mountinfo_dev(MI, "/mnt/with space/x", dev, sizeof(dev)), -ENOENT);
	assert_int_equal(readahead_mountinfo_dev("", "/", dev, sizeof(dev)), -ENOENT);
	assert_int_equal(readahead_mountinfo_dev("garbage line\n\n", "/", dev, sizeof(dev)), -ENOENT);
	/* a device name that does not fit is no match */
	assert_int_equal(readahead_mountinfo_dev(MI, "/", dev, 4), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_found),
		cmocka_unit_test(test_top_mount_wins),
		cmocka_unit_test(test_not_found),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
