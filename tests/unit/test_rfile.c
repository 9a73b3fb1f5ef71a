/* The read path over an in-memory store that records every ranged read: a sequential reader fetches
 * ahead in parallel with growing windows and never twice; every byte is right at every offset; a
 * random reader fetches little; memory stays within RFILE_SLOTS windows; short objects and errors. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backends/backend.h"
#include "cache/pool.h"
#include "cache/rfile.h"

#define MIB (1024 * 1024)
#define MAX_REQ 4096

/* A synthetic store, not tests/unit/lib_fault_backend.h: the test measures the reader's requests (each
 * offset and length, how many overlap), slows each one down and changes the object's version under a
 * reader, none of which a failure injector over file:// can do. */
struct fake {
	pthread_mutex_t lock;
	uint64_t size;            /* what the store really holds (may differ from the size at open) */
	uint64_t fail_at;         /* a read covering this offset fails (UINT64_MAX: none) */
	unsigned delay_us;        /* per request, so fetches overlap when they can */
	unsigned n;
	uint64_t off[MAX_REQ];
	size_t len[MAX_REQ];
	uint64_t bytes;           /* everything fetched */
	unsigned inflight, max_inflight;
	uint64_t inflight_bytes, max_inflight_bytes;
	int bad;                  /* a request no reader should make (cmocka asserts only in the test thread) */
};

static struct fake F;

static unsigned char byte_at(uint64_t off)
{
	return (unsigned char)(off * 7 + (off >> 12) + (off >> 20));
}

static ssize_t fake_read(struct backend *b, const char *key, uint64_t off, size_t len, void *buf)
{
	ssize_t rc;

	(void)b;
	pthread_mutex_lock(&F.lock);
	if (strcmp(key, "obj") || !len || F.n == MAX_REQ) {
		F.bad = 1;
	} else {
		F.off[F.n] = off;
		F.len[F.n] = len;
		F.n++;
	}
	F.inflight++;
	F.inflight_bytes += len;
	if (F.inflight > F.max_inflight)
		F.max_inflight = F.inflight;
	if (F.inflight_bytes > F.max_inflight_bytes)
		F.max_inflight_bytes = F.inflight_bytes;
	pthread_mutex_unlock(&F.lock);

	if (F.delay_us) {
		struct timespec ts = { 0, (long)F.delay_us * 1000 };

		nanosleep(&ts, NULL);
	}
	if (F.fail_at >= off && F.fail_at < off + len) {
		rc = -EIO;
	} else if (off >= F.size) {
		rc = 0;
	} else {
		size_t n = F.size - off < len ? (size_t)(F.size - off) : len;

		for (size_t i = 0; i < n; i++)
			((unsigned char *)buf)[i] = byte_at(off + i);
		rc = (ssize_t)n;
	}

	pthread_mutex_lock(&F.lock);
	F.inflight--;
	F.inflight_bytes -= len;
	if (rc > 0)
		F.bytes += (uint64_t)rc;
	pthread_mutex_unlock(&F.lock);
	return rc;
}

static const struct backend_ops fake_ops = { .scheme = "fake", .read = fake_read };
static struct backend BE = { .ops = &fake_ops };

/* The same store with versions: "v<F.version>", the size F.size (F.first_pin_size, when set, is what
 * the first pin of a handle sees instead: the object changed just then). */
static int version;
static uint64_t first_pin_size;

static ssize_t fake_read_ver(struct backend *b, const char *key, struct obj_ver *v, uint64_t off, size_t len,
			     void *buf)
{
	char tag[16];

	snprintf(tag, sizeof(tag), "v%d", __atomic_load_n(&version, __ATOMIC_SEQ_CST));
	if (!v->known) {
		v->known = 1;
		strcpy(v->tag, tag);
		v->size = first_pin_size ? first_pin_size : F.size;
		first_pin_size = 0;
	} else if (strcmp(v->tag, tag)) {
		return -ESTALE;
	}
	return fake_read(b, key, off, len, buf);
}

static const struct backend_ops ver_ops = { .scheme = "fakev", .read = fake_read, .read_ver = fake_read_ver };
static struct backend VBE = { .ops = &ver_ops };

struct env {
	struct pool *pool;
};

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));

	memset(&F, 0, sizeof(F));
	pthread_mutex_init(&F.lock, NULL);
	F.fail_at = UINT64_MAX;
	F.delay_us = 2000;
	assert_int_equal(pool_new(&e->pool, 2 * RFILE_SLOTS), 0);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;

	pool_free(e->pool);
	assert_false(F.bad);
	pthread_mutex_destroy(&F.lock);
	free(e);
	return 0;
}

static int same_bytes(const unsigned char *buf, size_t len, uint64_t off)
{
	for (size_t i = 0; i < len; i++)
		if (buf[i] != byte_at(off + i))
			return 0;
	return 1;
}

static void check_bytes(const unsigned char *buf, size_t len, uint64_t off)
{
	if (!same_bytes(buf, len, off))
		fail_msg("wrong bytes in [%llu, +%zu)", (unsigned long long)off, len);
}

/* Reads [0, size) in chunks of chunk bytes; returns the bytes read. */
static uint64_t read_all(struct rfile *rf, uint64_t size, size_t chunk)
{
	unsigned char *buf = malloc(chunk);
	uint64_t off = 0;

	for (;;) {
		ssize_t n = rfile_read(rf, buf, chunk, off);

		assert_true(n >= 0);
		if (n == 0)
			break;
		check_bytes(buf, (size_t)n, off);
		off += (uint64_t)n;
		assert_true(off <= size);
	}
	free(buf);
	return off;
}

/* The length of the request that fetched offset off (requests are recorded in the order they reach
 * the store, which parallel fetches make racy: find them by offset). 0: none. */
static size_t len_at(uint64_t off)
{
	for (unsigned i = 0; i < F.n; i++)
		if (F.off[i] <= off && off < F.off[i] + F.len[i])
			return F.len[i];
	return 0;
}

static void test_sequential_fetches_ahead_in_parallel(void **state)
{
	struct env *e = *state;
	uint64_t size = 64ull * MIB + 12345;
	size_t maxw = 8 * MIB;
	struct rfile *rf;

	F.size = size;
	assert_int_equal(rfile_open(&BE, e->pool, "obj", size, maxw, &rf), 0);
	assert_int_equal(read_all(rf, size, MIB), size);
	rfile_close(rf);

	/* nothing fetched twice, nothing past the end */
	assert_int_equal(F.bytes, size);
	/* several windows in flight at once, within the slots' memory */
	assert_true(F.max_inflight >= 2);
	assert_true(F.max_inflight <= RFILE_SLOTS);
	assert_true(F.max_inflight_bytes <= (uint64_t)RFILE_SLOTS * maxw);
	/* windows start small (a reader of a file's head costs little) and grow to the maximum */
	assert_true(len_at(0) > 0 && len_at(0) <= MIB);
	for (unsigned i = 0; i < F.n; i++)
		assert_true(F.len[i] <= maxw);
	assert_int_equal(len_at(size / 2), maxw);
	/* a few dozen requests, not one per read */
	assert_true(F.n < 20);
}

/* The kernel's read-ahead requests overtake each other: pairs arrive swapped. */
static void test_out_of_order_pairs(void **state)
{
	struct env *e = *state;
	uint64_t size = 40ull * MIB;
	unsigned char *buf = malloc(MIB);
	struct rfile *rf;

	F.size = size;
	assert_int_equal(rfile_open(&BE, e->pool, "obj", size, 4 * MIB, &rf), 0);
	for (uint64_t off = 0; off < size; off += 2 * MIB) {
		assert_int_equal(rfile_read(rf, buf, MIB, off + MIB), MIB);
		check_bytes(buf, MIB, off + MIB);
		assert_int_equal(rfile_read(rf, buf, MIB, off), MIB);
		check_bytes(buf, MIB, off);
	}
	rfile_close(rf);
	free(buf);
	/* still read ahead, and nearly nothing fetched twice */
	assert_true(F.max_inflight >= 2);
	assert_true(F.bytes <= size + 2 * MIB);
}

/* A larger kernel read-ahead (read_ahead_kb 4096: blockdev --setra, a udev rule) has several 1 MiB
 * requests in flight, and they arrive up to a few MiB out of order: still one sequential run, read
 * ahead in whole windows, nothing fetched twice. */
static void test_read_ahead_spread(void **state)
{
	struct env *e = *state;
	uint64_t size = 64ull * MIB;
	static const unsigned order[] = { 5, 6, 7, 0, 1, 2, 3, 4 };
	unsigned char *buf = malloc(MIB);
	struct rfile *rf;

	F.size = size;
	assert_int_equal(rfile_open(&BE, e->pool, "obj", size, 8 * MIB, &rf), 0);
	assert_int_equal(rfile_read(rf, buf, MIB, 0), MIB);
	check_bytes(buf, MIB, 0);
	for (uint64_t base = MIB; base + 8 * MIB <= size; base += 8 * MIB) {
		for (unsigned i = 0; i < 8; i++) {
			uint64_t off = base + (uint64_t)order[i] * MIB;

			assert_int_equal(rfile_read(rf, buf, MIB, off), MIB);
			check_bytes(buf, MIB, off);
		}
	}
	rfile_close(rf);
	free(buf);
	/* whole windows read ahead, as for requests in order: few requests, nearly nothing twice */
	assert_true(F.bytes <= size + 2 * MIB);
	assert_true(F.n < 24);
}

/* Every offset and length pattern gives the stored bytes (odd sizes, window edges, the end). */
static void test_bytes_at_every_offset(void **state)
{
	struct env *e = *state;
	uint64_t size = 3 * MIB + 777;
	unsigned char *buf = malloc(300000);
	struct rfile *rf;

	F.size = size;
	F.delay_us = 0;
	assert_int_equal(rfile_open(&BE, e->pool, "obj", size, 256 * 1024, &rf), 0);
	for (size_t chunk = 1; chunk < 300000; chunk = chunk * 3 + 1) {
		for (uint64_t off = 0; off < size + 10; off += chunk * 5 + 4093) {
			ssize_t n = rfile_read(rf, buf, chunk, off);
			size_t want = off >= size ? 0 : (size - off < chunk ? (size_t)(size - off) : chunk);

			assert_int_equal(n, want);
			check_bytes(buf, want, off);
		}
	}
	/* and a whole read straight through, in odd chunks */
	assert_int_equal(read_all(rf, size, 100003), size);
	rfile_close(rf);
	free(buf);
}

static void test_random_reads_fetch_little(void **state)
{
	struct env *e = *state;
	uint64_t size = 1024ull * MIB;
	unsigned char buf[4096];
	struct rfile *rf;
	const unsigned reads = 200;

	F.size = size;
	F.delay_us = 0;
	assert_int_equal(rfile_open(&BE, e->pool, "obj", size, 8 * MIB, &rf), 0);
	for (unsigned i = 0; i < reads; i++) {
		/* scattered, each far from the last (and the first far from 0) */
		uint64_t off = (i * 37 % reads) * (size / reads) + 4 * MIB + 12345;

		assert_int_equal(rfile_read(rf, buf, sizeof(buf), off), sizeof(buf));
		check_bytes(buf, sizeof(buf), off);
	}
	rfile_close(rf);
	/* one small fetch per read (128 KiB at most), no read-ahead */
	assert_true(F.n <= reads);
	assert_true(F.bytes <= (uint64_t)reads * 128 * 1024);
	assert_int_equal(F.max_inflight, 1);
}

/* dd skip=N: a jump, then sequential again from there. */
static void test_jump_then_sequential(void **state)
{
	struct env *e = *state;
	uint64_t size = 256ull * MIB, start = 100ull * MIB + 4096;
	unsigned char *buf = malloc(MIB);
	struct rfile *rf;

	F.size = size;
	assert_int_equal(rfile_open(&BE, e->pool, "obj", size, 8 * MIB, &rf), 0);
	assert_int_equal(rfile_read(rf, buf, MIB, 0), MIB);
	check_bytes(buf, MIB, 0);
	for (uint64_t off = start; off < start + 32 * MIB; off += MIB) {
		assert_int_equal(rfile_read(rf, buf, MIB, off), MIB);
		check_bytes(buf, MIB, off);
	}
	rfile_close(rf);
	free(buf);
	/* what the head read started, plus the run and its read-ahead: far from the whole object */
	assert_true(F.bytes < 80ull * MIB);
}

/* The object is shorter than it was at open: what is there, then end of file, no endless retry. */
static void test_object_shrank(void **state)
{
	struct env *e = *state;
	struct rfile *rf;

	F.size = 5 * MIB + 10;
	assert_int_equal(rfile_open(&BE, e->pool, "obj", 20 * MIB, 8 * MIB, &rf), 0);
	assert_int_equal(read_all(rf, 20 * MIB, MIB), 5 * MIB + 10);
	rfile_close(rf);
}

static void test_error_reaches_the_reader(void **state)
{
	struct env *e = *state;
	uint64_t size = 32ull * MIB;
	unsigned char *buf = malloc(MIB);
	struct rfile *rf;
	ssize_t n = 0;
	uint64_t off;

	F.size = size;
	F.fail_at = 20ull * MIB + 5;
	assert_int_equal(rfile_open(&BE, e->pool, "obj", size, 4 * MIB, &rf), 0);
	for (off = 0; off < size; off += (uint64_t)n) {
		n = rfile_read(rf, buf, MIB, off);
		if (n <= 0)
			break;
		check_bytes(buf, (size_t)n, off);
	}
	assert_int_equal(n, -EIO);
	assert_true(off <= 20ull * MIB);
	assert_true(off >= 16ull * MIB);
	rfile_close(rf);
	free(buf);
}

/* Without a prefetch pool every fetch is the reader's own; with one, closing mid-read waits for it. */
static void test_no_pool_and_early_close(void **state)
{
	struct env *e = *state;
	uint64_t size = 24ull * MIB;
	unsigned char *buf = malloc(MIB);
	struct rfile *rf;

	F.size = size;
	F.delay_us = 0;
	assert_int_equal(rfile_open(&BE, NULL, "obj", size, 2 * MIB, &rf), 0);
	assert_int_equal(read_all(rf, size, MIB), size);
	rfile_close(rf);
	assert_int_equal(F.max_inflight, 1);

	F.delay_us = 20000;
	assert_int_equal(rfile_open(&BE, e->pool, "obj", size, 8 * MIB, &rf), 0);
	assert_int_equal(rfile_read(rf, buf, MIB, 0), MIB);
	assert_int_equal(rfile_read(rf, buf, MIB, MIB), MIB);
	rfile_close(rf);
	assert_int_equal(F.inflight, 0);
	free(buf);
}

/* Two threads on one handle, like concurrent FUSE requests: each gets the right bytes. */
struct half {
	struct rfile *rf;
	uint64_t from, to;
	int bad;
};

static void *read_half(void *arg)
{
	struct half *h = arg;
	unsigned char *buf = malloc(MIB);

	for (uint64_t off = h->from; off < h->to; off += MIB) {
		ssize_t n = rfile_read(h->rf, buf, MIB, off);

		if (n != MIB || !same_bytes(buf, MIB, off))
			h->bad = 1;
	}
	free(buf);
	return NULL;
}

static void test_two_threads(void **state)
{
	struct env *e = *state;
	uint64_t size = 64ull * MIB;
	struct half a, b;
	pthread_t ta, tb;
	struct rfile *rf;

	F.size = size;
	F.delay_us = 500;
	assert_int_equal(rfile_open(&BE, e->pool, "obj", size, 8 * MIB, &rf), 0);
	a = (struct half){ rf, 0, 32 * MIB, 0 };
	b = (struct half){ rf, 32 * MIB, 64 * MIB, 0 };
	assert_int_equal(pthread_create(&ta, NULL, read_half, &a), 0);
	assert_int_equal(pthread_create(&tb, NULL, read_half, &b), 0);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	rfile_close(rf);
	assert_false(a.bad);
	assert_false(b.bad);
	assert_true(F.max_inflight_bytes <= (uint64_t)RFILE_SLOTS * 8 * MIB);
}

/* Replaced under a reader that has its first bytes: the read fails for good, never another
 * version's bytes. */
static void test_version_change_fails_the_read(void **state)
{
	struct env *e = *state;
	static unsigned char buf[MIB];
	struct rfile *rf;
	uint64_t off = 0;
	ssize_t n = 0;

	F.size = 32 * MIB;
	version = 1;
	assert_int_equal(rfile_open(&VBE, e->pool, "obj", F.size, 2 * MIB, &rf), 0);
	assert_int_equal(rfile_read(rf, buf, MIB, 0), MIB);
	check_bytes(buf, MIB, 0);
	__atomic_store_n(&version, 2, __ATOMIC_SEQ_CST);
	for (off = MIB; off < F.size; off += (uint64_t)n) {
		n = rfile_read(rf, buf, MIB, off);
		if (n <= 0)
			break;
		check_bytes(buf, (size_t)n, off);   /* fetched before the change: the old version */
	}
	assert_int_equal(n, -ESTALE);
	assert_int_equal(rfile_read(rf, buf, MIB, off), -ESTALE);
	assert_int_equal(rfile_read(rf, buf, MIB, 0), -ESTALE);
	rfile_close(rf);
}

/* The version pinned first is not the size the reader was told at open, and it changes again before
 * a byte went out: the handle starts once more and reads the whole object. */
static void test_restart_before_the_first_byte(void **state)
{
	struct env *e = *state;
	static unsigned char buf[MIB];
	struct rfile *rf;

	F.size = 4 * MIB;
	first_pin_size = 5 * MIB;
	assert_int_equal(rfile_open(&VBE, e->pool, "obj", F.size, 2 * MIB, &rf), 0);
	for (uint64_t off = 0; off < F.size; off += MIB) {
		assert_int_equal(rfile_read(rf, buf, MIB, off), MIB);
		check_bytes(buf, MIB, off);
	}
	assert_int_equal(rfile_read(rf, buf, MIB, F.size), 0);
	rfile_close(rf);
}

/* A size at open that the object does not have: no short read, no bytes past the end, -ESTALE; with
 * rfile_size_from_object (direct I/O) the object's own size counts. */
static void test_size_other_than_at_open(void **state)
{
	struct env *e = *state;
	static unsigned char buf[MIB];
	struct rfile *rf;
	uint64_t got = 0;
	ssize_t n;

	F.size = 3 * MIB + 5;
	assert_int_equal(rfile_open(&VBE, e->pool, "obj", 4 * MIB, 2 * MIB, &rf), 0);
	assert_int_equal(rfile_read(rf, buf, MIB, 0), -ESTALE);
	rfile_close(rf);
	assert_int_equal(rfile_open(&VBE, e->pool, "obj", 4 * MIB, 2 * MIB, &rf), 0);
	rfile_size_from_object(rf);
	while ((n = rfile_read(rf, buf, MIB, got)) > 0) {
		check_bytes(buf, (size_t)n, got);
		got += (uint64_t)n;
	}
	assert_int_equal(n, 0);
	assert_int_equal(got, F.size);
	rfile_close(rf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_sequential_fetches_ahead_in_parallel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_out_of_order_pairs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_ahead_spread, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bytes_at_every_offset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_random_reads_fetch_little, setup, teardown),
		cmocka_unit_test_setup_teardown(test_jump_then_sequential, setup, teardown),
		cmocka_unit_test_setup_teardown(test_object_shrank, setup, teardown),
		cmocka_unit_test_setup_teardown(test_error_reaches_the_reader, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_pool_and_early_close, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_threads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_version_change_fails_the_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restart_before_the_first_byte, setup, teardown),
		cmocka_unit_test_setup_teardown(test_size_other_than_at_open, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
