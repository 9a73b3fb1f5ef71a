/* The delete queue against a fake store: batches of at most 1,000 keys, a lone delete goes by itself,
 * queued keys count as gone, waiters see their deletes done or failed (EIO, once), a full queue makes
 * the adder wait, and freeing the queue deletes what is still queued. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include <unistd.h>

#include "backends/backend.h"
#include "cache/delq.h"
#include "cache/meta.h"

/* A fake store, not tests/unit/lib_fault_backend.h: remove() is held at a gate so that keys stay queued
 * while the test looks, batch sizes are recorded, and stat answers by name after a failed batch. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int gate_closed;      /* remove() blocks while set */
static int fail_with;        /* remove() returns this */
static size_t calls, removed, biggest;
static char last_key[64];

static int fake_remove(struct backend *b, const char *const *keys, size_t n)
{
	(void)b;
	pthread_mutex_lock(&lock);
	while (gate_closed)
		pthread_cond_wait(&cond, &lock);
	calls++;
	if (!fail_with)
		removed += n;
	if (n > biggest)
		biggest = n;
	snprintf(last_key, sizeof(last_key), "%s", keys[n - 1]);
	pthread_mutex_unlock(&lock);
	return fail_with;
}

/* after a failed batch the queue asks about each key: those named "gone" were deleted all the same */
static int fake_stat(struct backend *b, const char *key, struct obj_info *out)
{
	(void)b;
	memset(out, 0, sizeof(*out));
	return strstr(key, "gone") ? -ENOENT : 0;
}

static const struct backend_ops fake_ops = { .scheme = "fake", .remove = fake_remove, .stat = fake_stat };
static struct backend fake = { .ops = &fake_ops };

static void reset(int closed, int err)
{
	pthread_mutex_lock(&lock);
	gate_closed = closed;
	fail_with = err;
	calls = removed = biggest = 0;
	last_key[0] = 0;
	pthread_mutex_unlock(&lock);
}

static void open_gate(void)
{
	pthread_mutex_lock(&lock);
	gate_closed = 0;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
}

static size_t get(size_t *v)
{
	size_t x;

	pthread_mutex_lock(&lock);
	x = *v;
	pthread_mutex_unlock(&lock);
	return x;
}

static void add_n(struct delq *q, const char *dir, int n)
{
	char key[64];

	for (int i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "%s/f%d", dir, i);
		assert_int_equal(delq_add(q, key, key), 0);
	}
}

static void test_batches(void **st)
{
	struct delq *q;

	(void)st;
	reset(1, 0);
	assert_int_equal(delq_new(&q, &fake, NULL, NULL, 10000), 0);
	add_n(q, "p/snap", 2500);   /* the gate holds the first batch: the rest piles up */
	assert_true(delq_has(q, "p/snap/f0"));
	assert_true(delq_has(q, "p/snap/f2499"));
	assert_false(delq_has(q, "p/snap/f2500"));
	open_gate();
	assert_int_equal(delq_wait(q, "p/snap"), 0);
	assert_int_equal(get(&removed), 2500);
	assert_true(get(&biggest) <= 1000);
	assert_true(get(&calls) <= 6);
	assert_false(delq_has(q, "p/snap/f0"));
	delq_free(q);
}

static void test_lone_delete_goes_alone(void **st)
{
	struct delq *q;
	int n;

	(void)st;
	reset(0, 0);
	assert_int_equal(delq_new(&q, &fake, NULL, NULL, 10), 0);
	assert_int_equal(delq_add(q, "p/one", "/one"), 0);
	/* nobody waits for it: it still goes, after a few ms */
	for (n = 0; n < 600 && get(&removed) < 1; n++)
		usleep(50 * 1000);
	assert_int_equal(get(&removed), 1);
	assert_string_equal(last_key, "p/one");
	delq_free(q);
}

struct waiter {
	struct delq *q;
	const char *key;
	int rc, done;
};

static void *wait_thread(void *arg)
{
	struct waiter *w = arg;

	w->rc = delq_wait(w->q, w->key);
	__atomic_store_n(&w->done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

static void test_wait_covers_the_folder_only(void **st)
{
	struct delq *q;
	struct waiter other = { .key = "p/snap1" }, mine = { .key = "p/snap" };
	pthread_t t1, t2;

	(void)st;
	reset(1, 0);
	assert_int_equal(delq_new(&q, &fake, NULL, NULL, 100), 0);
	add_n(q, "p/snap", 3);
	other.q = mine.q = q;
	pthread_create(&t1, NULL, wait_thread, &other);
	pthread_join(t1, NULL);   /* p/snap1 is another folder: nothing to wait for */
	assert_int_equal(other.rc, 0);
	pthread_create(&t2, NULL, wait_thread, &mine);
	usleep(100 * 1000);
	assert_int_equal(__atomic_load_n(&mine.done, __ATOMIC_SEQ_CST), 0);
	open_gate();
	pthread_join(t2, NULL);
	assert_int_equal(mine.rc, 0);
	assert_int_equal(get(&removed), 3);
	delq_free(q);
}

static void test_failure_is_reported_once(void **st)
{
	struct delq *q;
	struct meta *m = meta_new(60000);
	struct meta_entry e;

	(void)st;
	reset(0, -EIO);
	meta_put(m, "/ns/db/snap/f0", META_NONE, 0, 0);
	assert_int_equal(delq_new(&q, &fake, m, NULL, 100), 0);
	assert_int_equal(delq_add(q, "k/ns/db/snap/f0", "/ns/db/snap/f0"), 0);
	assert_int_equal(delq_wait(q, "k/ns/db/snap"), -EIO);
	/* the object exists again: not hidden, and what the cache said about it is gone */
	assert_false(delq_has(q, "k/ns/db/snap/f0"));
	assert_int_equal(meta_get(m, "/ns/db/snap/f0", &e), 0);
	assert_int_equal(delq_wait(q, "k/ns/db/snap"), 0);
	/* deleting it again is a new try, which may succeed */
	reset(0, 0);
	assert_int_equal(delq_add(q, "k/ns/db/snap/f0", "/ns/db/snap/f0"), 0);
	assert_int_equal(delq_wait(q, "k/ns/db/snap/f0"), 0);
	assert_int_equal(get(&removed), 1);
	delq_free(q);
	meta_free(m);
}

/* One key of a batch fails: the others, gone from the store, are not reported with it. */
static void test_one_failure_fails_only_itself(void **st)
{
	struct delq *q;

	(void)st;
	reset(1, -EIO);
	assert_int_equal(delq_new(&q, &fake, NULL, NULL, 100), 0);
	assert_int_equal(delq_add(q, "k/a/gone1", "/a/gone1"), 0);
	assert_int_equal(delq_add(q, "k/a/stuck", "/a/stuck"), 0);
	assert_int_equal(delq_add(q, "k/b/gone2", "/b/gone2"), 0);
	open_gate();
	assert_int_equal(delq_wait(q, "k/b"), 0);      /* its key went: no failure to report */
	assert_int_equal(delq_wait(q, "k/a/gone1"), 0);
	assert_int_equal(delq_wait(q, "k/a"), -EIO);   /* only the key still there failed */
	delq_free(q);
}

struct adder {
	struct delq *q;
	int done;
};

static void *add_thread(void *arg)
{
	struct adder *a = arg;

	assert_int_equal(delq_add(a->q, "p/full/last", "/last"), 0);
	__atomic_store_n(&a->done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

static void test_full_queue_waits(void **st)
{
	struct adder a = { 0 };
	pthread_t t;

	(void)st;
	reset(1, 0);
	assert_int_equal(delq_new(&a.q, &fake, NULL, NULL, 10), 0);
	add_n(a.q, "p/full", 10);
	pthread_create(&t, NULL, add_thread, &a);
	usleep(100 * 1000);
	assert_int_equal(__atomic_load_n(&a.done, __ATOMIC_SEQ_CST), 0);   /* 10 of 10: it waits */
	open_gate();
	pthread_join(t, NULL);
	assert_int_equal(a.done, 1);
	assert_int_equal(delq_wait(a.q, "p/full"), 0);
	assert_int_equal(get(&removed), 11);
	delq_free(a.q);
}

static void test_free_drains(void **st)
{
	struct delq *q;

	(void)st;
	reset(0, 0);
	assert_int_equal(delq_new(&q, &fake, NULL, NULL, 5000), 0);
	add_n(q, "p/exit", 1500);
	delq_free(q);   /* no wait: freeing deletes what is queued */
	assert_int_equal(get(&removed), 1500);
}

/* A listing sent before a batch finished may still hold its keys: they stay hidden from that listing
 * (and from one sent while the delete was queued), not from one sent after; once no listing runs,
 * nothing is remembered. */
static void test_listing_in_flight_keeps_deleted_hidden(void **st)
{
	struct waiter w = { .key = "p/snap" };
	unsigned long before, after;
	struct delq *q;

	(void)st;
	reset(1, 0);
	assert_int_equal(delq_new(&q, &fake, NULL, NULL, 100), 0);
	assert_int_equal(delq_add(q, "p/snap/a", "/a"), 0);
	before = delq_list_begin(q);          /* sent while the delete waits at the gate */
	assert_int_equal(delq_hides(q, "p/snap/a", before), 1);
	assert_int_equal(delq_hides(q, "p/snap/b", before), 0);
	open_gate();
	w.q = q;
	wait_thread(&w);
	assert_int_equal(w.rc, 0);
	assert_int_equal(delq_has(q, "p/snap/a"), 0);          /* the delete is done */
	assert_int_equal(delq_hides(q, "p/snap/a", before), 1); /* but that listing may hold it */
	after = delq_list_begin(q);
	assert_int_equal(delq_hides(q, "p/snap/a", after), 0); /* a listing sent afterwards is the store */
	delq_list_end(q);
	delq_list_end(q);
	assert_int_equal(delq_hides(q, "p/snap/a", before), 0); /* forgotten with the listings */
	/* deleted again after it was made again: a new delete, queued and hidden as any */
	before = delq_list_begin(q);
	assert_int_equal(delq_add(q, "p/snap/a", "/a"), 0);
	assert_int_equal(delq_hides(q, "p/snap/a", before), 1);
	assert_int_equal(delq_wait(q, "p/snap"), 0);
	delq_list_end(q);
	delq_free(q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_batches),
		cmocka_unit_test(test_lone_delete_goes_alone),
		cmocka_unit_test(test_wait_covers_the_folder_only),
		cmocka_unit_test(test_failure_is_reported_once),
		cmocka_unit_test(test_one_failure_fails_only_itself),
		cmocka_unit_test(test_full_queue_waits),
		cmocka_unit_test(test_free_drains),
		cmocka_unit_test(test_listing_in_flight_keeps_deleted_hidden),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
