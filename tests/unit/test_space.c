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

/* A stalled writer may go over the limit only if nothing was freed while it waited: room that another
 * waiter took in the meantime is progress, and forcing then would overshoot for nothing. */
static void test_force_only_when_stalled(void **state)
{
	struct space s2;
	uint64_t gen;

	(void)state;
	space_init(&s2, 100);
	assert_int_equal(space_reserve(&s2, 90), 0);
	gen = space_releases(&s2);
	space_release(&s2, 20);                        /* room came ... */
	assert_int_equal(space_reserve(&s2, 20), 0);   /* ... and another writer took it */
	assert_int_equal(space_force_stalled(&s2, 30, gen), -EAGAIN);
	assert_int_equal(space_used(&s2), 90);
	assert_int_equal(s2.peak, 90);
	gen = space_releases(&s2);
	assert_int_equal(space_force_stalled(&s2, 30, gen), 0);   /* a real stall: nothing moved */
	assert_int_equal(space_used(&s2), 120);
	space_release(&s2, 120);
	space_destroy(&s2);
}

static struct space kicked;
static int kick_rc = 1;

static void *kick_waiter(void *arg)
{
	(void)arg;
	__atomic_store_n(&kick_rc, space_reserve_wait(&kicked, 50, 5000, 0), __ATOMIC_SEQ_CST);
	return NULL;
}

/* A waiter whose terms changed (its write became the gap filler) hears of it at once, not after its
 * timeout; a kick with nobody waiting is a no-op. */
static void test_kick(void **state)
{
	pthread_t t;

	(void)state;
	space_init(&kicked, 100);
	space_kick(&kicked);
	assert_int_equal(kicked.kicks, 0);
	assert_int_equal(space_reserve(&kicked, 80), 0);
	pthread_create(&t, NULL, kick_waiter, NULL);
	while (!__atomic_load_n(&kicked.waiting, __ATOMIC_SEQ_CST))
		usleep(1000);
	space_kick(&kicked);
	pthread_join(t, NULL);
	assert_int_equal(kick_rc, -EAGAIN);
	assert_int_equal(space_used(&kicked), 80);   /* nothing taken */
	space_release(&kicked, 80);
	space_destroy(&kicked);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backpressure),
		cmocka_unit_test(test_force_only_when_stalled),
		cmocka_unit_test(test_kick),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
