/* Cache accounting: the limit holds, a full cache makes writers wait (not fail), and a request
 * larger than the whole cache fails at once. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <unistd.h>

#include "cache/space.h"

static struct space sp;
static int got_it;

static void *waiter(void *arg)
{
	(void)arg;
	assert_int_equal(space_reserve(&sp, 60), 0);
	__atomic_store_n(&got_it, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

static void test_backpressure(void **st)
{
	pthread_t t;

	(void)st;
	space_init(&sp, 100);
	got_it = 0;
	assert_int_equal(space_reserve(&sp, 70), 0);
	assert_int_equal(space_try_reserve(&sp, 40), -EAGAIN);
	assert_int_equal(space_reserve(&sp, 101), -ENOSPC);
	pthread_create(&t, NULL, waiter, NULL);
	usleep(100 * 1000);
	assert_int_equal(__atomic_load_n(&got_it, __ATOMIC_SEQ_CST), 0);   /* waits: 70 + 60 > 100 */
	assert_int_equal(sp.waiting, 1);
	space_release(&sp, 50);
	pthread_join(t, NULL);
	assert_int_equal(got_it, 1);
	assert_int_equal(space_used(&sp), 80);
	assert_true(sp.peak <= 100);
	assert_int_equal(space_reserve_wait(&sp, 30, 50, 0), -ETIMEDOUT);
	assert_int_equal(space_used(&sp), 80);
	/* headroom: 10 bytes fit, but not while 15 must stay free */
	assert_int_equal(space_reserve_wait(&sp, 10, 50, 15), -ETIMEDOUT);
	assert_int_equal(space_reserve_wait(&sp, 10, 50, 5), 0);
	space_release(&sp, 10);
	space_force(&sp, 30);
	assert_int_equal(space_used(&sp), 110);
	space_release(&sp, 500);   /* over-release clamps at zero */
	assert_int_equal(space_used(&sp), 0);
	space_destroy(&sp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backpressure),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
