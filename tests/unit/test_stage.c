/* Write-back staging over the real file:// backend: streamed parts, bounded cache, append onto a
 * committed object, whole-file fallback, out-of-order writeback, sticky errors with no partial object. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backends/backend.h"
#include "cache/pool.h"
#include "cache/space.h"
#include "cache/stage.h"
#include "tests/unit/lib_fault_backend.h"

struct env {
	char root[256], cache[300];
	struct fault *fault;        /* file:// in its own temp dir, failing where a test says */
	struct backend *be;
	struct space space;
	struct pool *pool;
	struct stage_ctx ctx;
};

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	char *why = NULL;

	snprintf(e->root, sizeof(e->root), "/tmp/snapfs-unit-stage.XXXXXX");
	assert_non_null(mkdtemp(e->root));
	snprintf(e->cache, sizeof(e->cache), "%s/cache", e->root);
	mkdir(e->cache, 0700);
	assert_int_equal(fault_open(&e->fault, &e->be), 0);
	space_init(&e->space, 3 * 1024 * 1024);
	assert_int_equal(pool_new(&e->pool, 4), 0);
	assert_int_equal(stage_init(&e->ctx, e->be, &e->space, e->pool, e->cache, 1024 * 1024, 2, &why), 0);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;
	char cmd[400];

	pool_free(e->pool);
	stage_destroy(&e->ctx);
	space_destroy(&e->space);
	fault_close(e->fault);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", e->root);
	assert_int_equal(system(cmd), 0);
	free(e);
	return 0;
}

static unsigned parts_seen(struct env *e)
{
	return fault_calls(e->fault, FAULT_UPLOAD_PART);
}

static void pattern(char *buf, size_t len, uint64_t off)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (char)((off + i) * 7 + ((off + i) >> 12));
}

/* The object as stored, compared with the pattern over [0, size). */
static void check_object(struct env *e, const char *key, uint64_t size)
{
	char path[600], *want, *got;
	struct stat st;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", fault_dir(e->fault), key);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal((uint64_t)st.st_size, size);
	want = malloc(size + 1);
	got = malloc(size + 1);
	pattern(want, size, 0);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, got, size, 0), (ssize_t)size);
	close(fd);
	assert_memory_equal(want, got, size);
	free(want);
	free(got);
}

static int object_exists(struct env *e, const char *key)
{
	char path[600];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", fault_dir(e->fault), key);
	return stat(path, &st) == 0;
}

static void write_range(struct wfile *wf, uint64_t off, size_t len, size_t chunk)
{
	char *buf = malloc(chunk);

	for (size_t done = 0; done < len;) {
		size_t n = len - done < chunk ? len - done : chunk;

		pattern(buf, n, off + done);
		assert_int_equal(wf_write(wf, buf, n, off + done), (ssize_t)n);
		done += n;
	}
	free(buf);
}

static void test_stream_bounded(void **state)
{
	struct env *e = *state;
	struct wfile *wf;
	uint64_t size = 20 * 1024 * 1024 + 12345;

	assert_int_equal(wf_open(&e->ctx, "kubedb/a/b/c/big", "/kubedb/a/b/c/big", NULL, 1, &wf), 0);
	write_range(wf, 0, size, 128 * 1024);
	/* parts left while writing: no object yet, and the cache never held more than its limit */
	assert_false(object_exists(e, "kubedb/a/b/c/big"));
	assert_true(parts_seen(e) >= 15);
	assert_int_equal(wf_flush(wf), 0);
	assert_int_equal(wf_close(wf), 0);
	check_object(e, "kubedb/a/b/c/big", size);
	assert_true(e->space.peak <= e->space.limit);
	assert_int_equal(space_used(&e->space), 0);
}

static void test_small_and_empty(void **state)
{
	struct env *e = *state;
	struct wfile *wf;

	/* a bare create is published at the last close, not at the opener's flush */
	assert_int_equal(wf_open(&e->ctx, "kubedb/a/b/c/empty", "/kubedb/a/b/c/empty", NULL, 1, &wf), 0);
	assert_int_equal(wf_flush(wf), 0);
	assert_false(object_exists(e, "kubedb/a/b/c/empty"));
	assert_int_equal(wf_close(wf), 0);
	check_object(e, "kubedb/a/b/c/empty", 0);
	assert_int_equal(wf_open(&e->ctx, "kubedb/a/b/c/small", "/kubedb/a/b/c/small", NULL, 1, &wf), 0);
	write_range(wf, 0, 1000, 100);
	assert_int_equal(wf_close(wf), 0);
	check_object(e, "kubedb/a/b/c/small", 1000);
	assert_int_equal(parts_seen(e), 0);   /* one put, no chunked upload */
}

static void test_append_after_commit(void **state)
{
	struct env *e = *state;
	struct obj_info oi = { 0 };
	struct wfile *wf;
	uint64_t first = 3 * 1024 * 1024 + 5, total = 7 * 1024 * 1024 + 99;

	/* pg_dumpall -f: write, close, reopen with O_APPEND, write more */
	assert_int_equal(wf_open(&e->ctx, "kubedb/a/b/c/app", "/kubedb/a/b/c/app", NULL, 1, &wf), 0);
	write_range(wf, 0, first, 65536);
	assert_int_equal(wf_close(wf), 0);
	check_object(e, "kubedb/a/b/c/app", first);
	oi.size = first;
	assert_int_equal(wf_open(&e->ctx, "kubedb/a/b/c/app", "/kubedb/a/b/c/app", &oi, 0, &wf), 0);
	write_range(wf, first, total - first, 65536);
	assert_int_equal(wf_close(wf), 0);
	check_object(e, "kubedb/a/b/c/app", total);
	/* and writes after the opener's commit on a still-open handle append too */
	assert_int_equal(wf_open(&e->ctx, "kubedb/a/b/c/app2", "/kubedb/a/b/c/app2", NULL, 1, &wf), 0);
	write_range(wf, 0, first, 65536);
	assert_int_equal(wf_flush(wf), 0);
	check_object(e, "kubedb/a/b/c/app2", first);
	write_range(wf, first, total - first, 65536);
	assert_int_equal(wf_close(wf), 0);
	check_object(e, "kubedb/a/b/c/app2", total);
}

static void test_append_rewrites_tail_page(void **state)
{
	struct env *e = *state;
	struct obj_info oi = { 0 };
	struct wfile *wf;
	uint64_t first = 3 * 1024 * 1024 + 1000, page = first & ~4095ULL, total = first + 2 * 1024 * 1024;
	size_t n = (size_t)(total - page);
	char *buf = malloc(n);
	unsigned parts;

	assert_int_equal(wf_open(&e->ctx, "kubedb/a/b/c/tail", "/kubedb/a/b/c/tail", NULL, 1, &wf), 0);
	write_range(wf, 0, first, 65536);
	assert_int_equal(wf_close(wf), 0);
	/* the kernel appends by writing the whole page that held the old end, old bytes included */
	parts = parts_seen(e);
	oi.size = first;
	assert_int_equal(wf_open(&e->ctx, "kubedb/a/b/c/tail", "/kubedb/a/b/c/tail", &oi, 0, &wf), 0);
	pattern(buf, n, page);
	assert_int_equal(wf_write(wf, buf, n, page), (ssize_t)n);
	assert_int_equal(wf_close(wf), 0);
	check_object(e, "kubedb/a/b/c/tail", total);
	/* only the new 2 MiB went out (2 parts of 1 MiB): the old object was carried, not re-uploaded */
	assert_int_equal(parts_seen(e) - parts, 2);
	/* a real change in that page is a rewrite, staged whole: this 5 MiB object does not fit the 3 MiB
	 * cache, so the write says so, the file is failed (its close too) and the object stays as it was */
	oi.size = total;
	assert_int_equal(wf_open(&e->ctx, "kubedb/a/b/c/tail", "/kubedb/a/b/c/tail", &oi, 0, &wf), 0);
	pattern(buf, 100, total - 100);
	buf[0] ^= 1;
	assert_int_equal(wf_write(wf, buf, 100, total - 100), -ENOSPC);
	assert_int_equal(wf_write(wf, buf, 100, total), -EIO);
	assert_int_equal(wf_close(wf), -EIO);
	check_object(e, "kubedb/a/b/c/tail", total);
	free(buf);
}

static void test_out_of_order_and_rewrite(void **state)
{
	struct env *e = *state;
	struct wfile *wf;
	char buf[4096];
	uint64_t size = 6 * 1024 * 1024 + 5000;

	assert_int_equal(wf_open(&e->ctx, "kubedb/a/b/c/ooo", "/kubedb/a/b/c/ooo", NULL, 1, &wf), 0);
	/* writeback may send a later page first: [64K,1M) then [0,64K), then the rest */
	write_range(wf, 65536, 1024 * 1024 - 65536, 65536);
	write_range(wf, 0, 65536, 65536);
	write_range(wf, 1024 * 1024, size - 1024 * 1024, 65536);
	/* a rewrite of the tail page (the kernel resends a page that grew) is fine */
	pattern(buf, sizeof(buf), size - 4096);
	assert_int_equal(wf_write(wf, buf, sizeof(buf), size - 4096), (ssize_t)sizeof(buf));
	/* a rewrite of bytes already uploaded is refused, not silently lost: the file fails as a whole
	 * (a later close too), and nothing is published */
	assert_int_equal(wf_write(wf, buf, sizeof(buf), 0), -EINVAL);
	assert_int_equal(wf_close(wf), -EIO);
	assert_false(object_exists(e, "kubedb/a/b/c/ooo"));
}

static void test_whole_file_fallback(void **state)
{
	struct env *e = *state;
	struct obj_info oi = { 0 };
	struct wfile *wf;
	char buf[100], got[100];
	uint64_t size = 2 * 1024 * 1024 + 300;

	assert_int_equal(wf_open(&e->ctx, "kubedb/a/b/c/rw", "/kubedb/a/b/c/rw", NULL, 1, &wf), 0);
	write_range(wf, 0, size, 65536);
	assert_int_equal(wf_close(wf), 0);
	/* open the committed object without O_TRUNC and change the middle: staged whole, then stored */
	oi.size = size;
	assert_int_equal(wf_open(&e->ctx, "kubedb/a/b/c/rw", "/kubedb/a/b/c/rw", &oi, 0, &wf), 0);
	memset(buf, 'Z', sizeof(buf));
	assert_int_equal(wf_write(wf, buf, sizeof(buf), 1000), (ssize_t)sizeof(buf));
	assert_int_equal(wf_read(wf, got, sizeof(got), 1000), (ssize_t)sizeof(got));
	assert_memory_equal(buf, got, sizeof(buf));
	assert_int_equal(wf_truncate(wf, size - 300), 0);
	assert_int_equal(wf_close(wf), 0);
	{
		char path[600], *data = malloc(size);
		int fd;

		snprintf(path, sizeof(path), "%s/kubedb/a/b/c/rw", fault_dir(e->fault));
		fd = open(path, O_RDONLY);
		assert_int_equal(pread(fd, data, size, 0), (ssize_t)(size - 300));
		close(fd);
		assert_memory_equal(data + 1000, buf, sizeof(buf));
		pattern(buf, 50, 2000);
		assert_memory_equal(data + 2000, buf, 50);
		free(data);
	}
}

static void test_sticky_error(void **state)
{
	struct env *e = *state;
	struct wfile *wf;
	char buf[65536];
	ssize_t rc = 0;

	assert_int_equal(fault_script(e->fault, "upload_part#2=EIO"), 0);
	assert_int_equal(wf_open(&e->ctx, "kubedb/a/b/c/bad", "/kubedb/a/b/c/bad", NULL, 1, &wf), 0);
	pattern(buf, sizeof(buf), 0);
	/* keep writing: once part 2 has failed, every later write reports EIO (pg_dump stops there) */
	for (uint64_t off = 0; off < 16 * 1024 * 1024 && rc >= 0; off += sizeof(buf))
		rc = wf_write(wf, buf, sizeof(buf), off);
	assert_int_equal(rc, -EIO);
	assert_int_equal(wf_error(wf), -EIO);
	assert_int_equal(wf_sync(wf), -EIO);
	assert_int_equal(wf_flush(wf), -EIO);
	assert_int_equal(wf_close(wf), -EIO);
	assert_int_equal(fault_failed(e->fault, FAULT_UPLOAD_PART), 1);
	assert_false(object_exists(e, "kubedb/a/b/c/bad"));   /* no partial object */
	assert_int_equal(space_used(&e->space), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_stream_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_small_and_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_append_after_commit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_append_rewrites_tail_page, setup, teardown),
		cmocka_unit_test_setup_teardown(test_out_of_order_and_rewrite, setup, teardown),
		cmocka_unit_test_setup_teardown(test_whole_file_fallback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sticky_error, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
