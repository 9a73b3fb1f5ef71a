/* The file system's operations in-process, through the state-explicit functions (fs/ops.h) over file://
 * and the failure-injecting store (tests/unit/lib_fault_backend.h): publishing whole at close, failures that
 * leave the previous version, one writer per path, unlink and rename of an open file, a writer killed
 * before its close; then a long random sequence checked against a model after every step (whole or
 * absent, as README "Whole or absent: the rules" says). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fs/ops.h"
#include "fs/resolve.h"
#include "fs/snapfs.h"
#include "tests/unit/lib_fault_backend.h"

#define DIR_ "/kubedb/ns/db/snap"

struct env {
	struct snapfs s;
	struct fault *fault;
	struct sfs_caller me;      /* this process, the opener of most files */
};

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	struct backend *be;
	char url[320], *why = NULL;
	const char *fail = NULL;

	assert_non_null(e);
	assert_int_equal(fault_open(&e->fault, &be), 0);
	snprintf(url, sizeof(url), "file://%s", fault_dir(e->fault));
	{
		char *argv[] = { "snapfs", url, "/mnt", "--cache-dir", (char *)fault_scratch(e->fault),
				 "--part-size", "1M", "--cache-size", "64M", "--commit-retry", "0", NULL };

		assert_int_equal(options_parse(11, argv, &e->s.cfg, &why), 0);
	}
	e->s.be = *be;
	assert_int_equal(source_parse(url, &e->s.src, &why), 0);
	e->s.started = time(NULL);
	e->s.devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_int_equal(sfs_prepare(&e->s, &why), 0);
	assert_int_equal(sfs_start(&e->s, &fail), 0);
	e->me = (struct sfs_caller){ .pid = getpid(), .uid = getuid(), .gid = getgid() };
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;

	sfs_stop(&e->s);
	sfs_free(&e->s);
	source_free(&e->s.src);
	options_free(&e->s.cfg);
	close(e->s.devnull);
	fault_close(e->fault);
	free(e);
	return 0;
}

static void fill(char *buf, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		buf[i] = (char)(seed * 31 + i * 7 + (i >> 10));
}

/* What the store holds at a mount path: 1 and its bytes equal to want[0, n), 0 when absent. */
static int stored_as(struct env *e, const char *path, const char *want, size_t n)
{
	char *data = NULL;
	uint64_t len = 0;
	int rc = fault_peek(e->fault, path + 1, &data, &len);

	if (rc == -ENOENT)
		return 0;
	assert_int_equal(rc, 0);
	assert_int_equal(len, n);
	assert_memory_equal(data, want, n);
	free(data);
	return 1;
}

static int open_w(struct env *e, const struct sfs_caller *who, const char *path, int flags,
		  struct fuse_file_info *fi)
{
	memset(fi, 0, sizeof(*fi));
	fi->flags = O_WRONLY | flags;
	return flags & O_CREAT ? sfs_create(&e->s, who, path, 0644, fi) : sfs_open(&e->s, who, path, fi);
}

/* Write n bytes in 64 KiB pieces from off: 0, or the first error. */
static int write_all(struct env *e, struct fuse_file_info *fi, const char *buf, size_t n, off_t off)
{
	for (size_t done = 0; done < n;) {
		size_t k = n - done < 65536 ? n - done : 65536;
		int rc = sfs_write(&e->s, &e->me, NULL, buf + done, k, off + (off_t)done, fi);

		if (rc < 0)
			return rc;
		assert_int_equal(rc, (int)k);
		done += k;
	}
	return 0;
}

/* open (create), write, flush, release as `cat > path` does: the flush's result */
static int put_file(struct env *e, const char *path, const char *buf, size_t n)
{
	struct fuse_file_info fi;
	int rc;

	assert_int_equal(open_w(e, &e->me, path, O_CREAT | O_TRUNC, &fi), 0);
	rc = write_all(e, &fi, buf, n, 0);
	if (!rc)
		rc = sfs_flush(&e->s, &e->me, path, &fi);
	sfs_release(&e->s, &e->me, path, &fi);
	return rc;
}

static void test_publish_whole_at_close(void **state)
{
	struct env *e = *state;
	struct fuse_file_info fi;
	size_t n = 3 * MIB + 123;
	char *buf = malloc(n);
	struct stat st;

	fill(buf, n, 1);
	assert_int_equal(open_w(e, &e->me, DIR_ "/a", O_CREAT | O_TRUNC, &fi), 0);
	assert_int_equal(write_all(e, &fi, buf, n, 0), 0);
	assert_int_equal(stored_as(e, DIR_ "/a", buf, n), 0);
	assert_int_equal(sfs_getattr(&e->s, &e->me, DIR_ "/a", &st, NULL), 0);
	assert_int_equal(st.st_size, (off_t)n);   /* the mount shows the live size meanwhile */
	/* fsync waits for the parts in flight: they have left, and still the object is not there; it
	 * appears only at the opener's close */
	assert_int_equal(sfs_fsync(&e->s, &e->me, NULL, 0, &fi), 0);
	assert_true(fault_calls(e->fault, FAULT_UPLOAD_PART) >= 2);
	assert_int_equal(stored_as(e, DIR_ "/a", buf, n), 0);
	assert_int_equal(sfs_flush(&e->s, &e->me, NULL, &fi), 0);
	assert_int_equal(sfs_release(&e->s, &e->me, NULL, &fi), 0);
	assert_int_equal(stored_as(e, DIR_ "/a", buf, n), 1);
	assert_int_equal(fault_calls(e->fault, FAULT_UPLOAD_COMMIT), 1);
	/* a small file goes in one request, whole too */
	assert_int_equal(put_file(e, DIR_ "/small", buf, 1000), 0);
	assert_int_equal(stored_as(e, DIR_ "/small", buf, 1000), 1);
	free(buf);
}

/* A failed part, a refused commit or a refused put: flush, fsync and the writes after fail with EIO,
 * and the previous version stays. */
static void test_failure_keeps_previous(void **state)
{
	static const char *const scripts[] = { "upload_part#2=EIO", "upload_commit=ENOSPC", "put=EIO" };
	struct env *e = *state;
	size_t n = 3 * MIB;
	char *v1 = malloc(n), *v2 = malloc(n);
	struct fuse_file_info fi;

	fill(v1, 1000, 1);
	fill(v2, n, 2);
	assert_int_equal(put_file(e, DIR_ "/f", v1, 1000), 0);
	for (unsigned i = 0; i < 3; i++) {
		size_t len = i == 2 ? 5000 : n;   /* a put for the small one */
		unsigned failed = 0;
		int rc;

		assert_int_equal(fault_script(e->fault, scripts[i]), 0);
		assert_int_equal(open_w(e, &e->me, DIR_ "/f", O_TRUNC, &fi), 0);
		rc = write_all(e, &fi, v2, len, 0);
		assert_true(rc == 0 || rc == -EIO);
		if (i == 0)
			assert_int_equal(sfs_fsync(&e->s, &e->me, NULL, 0, &fi), -EIO);
		assert_int_equal(sfs_flush(&e->s, &e->me, NULL, &fi), -EIO);
		assert_int_equal(sfs_fsync(&e->s, &e->me, NULL, 0, &fi), -EIO);
		assert_int_equal(sfs_write(&e->s, &e->me, NULL, v2, 10, (off_t)len, &fi), -EIO);
		assert_int_equal(sfs_release(&e->s, &e->me, NULL, &fi), 0);
		for (int op = 0; op < FAULT_NOPS; op++)
			failed += fault_failed(e->fault, (enum fault_op)op);
		assert_int_equal(failed, i + 1);
		assert_int_equal(stored_as(e, DIR_ "/f", v1, 1000), 1);
		fault_clear(e->fault);
	}
	/* and a new name that failed is absent */
	assert_int_equal(fault_script(e->fault, "upload_commit=EIO"), 0);
	assert_int_equal(put_file(e, DIR_ "/new", v2, n), -EIO);
	assert_int_equal(stored_as(e, DIR_ "/new", v2, n), 0);
	free(v1);
	free(v2);
}

static void test_second_writer_busy(void **state)
{
	struct env *e = *state;
	struct sfs_caller other = e->me;
	struct fuse_file_info fi, fi2;
	char buf[100];

	fill(buf, sizeof(buf), 3);
	other.pid = 0x3ffffff0;   /* no such process: its own thread group */
	assert_int_equal(open_w(e, &e->me, DIR_ "/w", O_CREAT | O_TRUNC, &fi), 0);
	assert_int_equal(write_all(e, &fi, buf, sizeof(buf), 0), 0);
	assert_int_equal(open_w(e, &other, DIR_ "/w", O_TRUNC, &fi2), -EBUSY);
	assert_int_equal(sfs_truncate(&e->s, &other, DIR_ "/w", 0, NULL), -EBUSY);
	/* the same process may open it again */
	assert_int_equal(open_w(e, &e->me, DIR_ "/w", 0, &fi2), 0);
	assert_int_equal(sfs_release(&e->s, &e->me, NULL, &fi2), 0);
	assert_int_equal(sfs_flush(&e->s, &e->me, NULL, &fi), 0);
	assert_int_equal(sfs_release(&e->s, &e->me, NULL, &fi), 0);
	assert_int_equal(stored_as(e, DIR_ "/w", buf, sizeof(buf)), 1);
	/* closed: the other process may write it now */
	assert_int_equal(open_w(e, &other, DIR_ "/w", O_TRUNC, &fi2), 0);
	assert_int_equal(sfs_release(&e->s, &other, NULL, &fi2), 0);
	assert_int_equal(stored_as(e, DIR_ "/w", buf, 0), 1);   /* an O_TRUNC with no data: empty */
}

/* rm of a file being written: the name and the earlier version go at once; the writer's writes and
 * close succeed, and nothing is stored. */
static void test_unlink_open(void **state)
{
	struct stat st;
	struct env *e = *state;
	size_t n = 2 * MIB + 5;
	struct fuse_file_info fi;
	char *buf = malloc(n);

	fill(buf, n, 4);
	assert_int_equal(put_file(e, DIR_ "/u", buf, 100), 0);
	assert_int_equal(open_w(e, &e->me, DIR_ "/u", O_TRUNC, &fi), 0);
	assert_int_equal(write_all(e, &fi, buf, MIB, 0), 0);
	assert_int_equal(sfs_unlink(&e->s, &e->me, DIR_ "/u"), 0);
	assert_int_equal(sfs_getattr(&e->s, &e->me, DIR_ "/u", &st, NULL), -ENOENT);
	assert_int_equal(stored_as(e, DIR_ "/u", buf, 0), 0);
	assert_int_equal(write_all(e, &fi, buf + MIB, n - MIB, MIB), 0);
	assert_int_equal(sfs_flush(&e->s, &e->me, NULL, &fi), 0);
	assert_int_equal(sfs_release(&e->s, &e->me, NULL, &fi), 0);
	assert_int_equal(stored_as(e, DIR_ "/u", buf, 0), 0);
	assert_int_equal(sfs_getattr(&e->s, &e->me, DIR_ "/u", &st, NULL), -ENOENT);
	free(buf);
}

/* mv of a file being written: the commit lands under the new name; mv onto a file being written
 * replaces it, and that writer's data is discarded at its close. */
static void test_rename_open(void **state)
{
	struct env *e = *state;
	struct fuse_file_info fi, fi2;
	size_t n = 2 * MIB + 77;
	char *buf = malloc(n), other[300];

	fill(buf, n, 5);
	fill(other, sizeof(other), 6);
	assert_int_equal(open_w(e, &e->me, DIR_ "/r1", O_CREAT | O_TRUNC, &fi), 0);
	assert_int_equal(write_all(e, &fi, buf, 1000, 0), 0);
	assert_int_equal(sfs_rename(&e->s, &e->me, DIR_ "/r1", DIR_ "/r2", 0), 0);
	assert_int_equal(write_all(e, &fi, buf + 1000, n - 1000, 1000), 0);
	assert_int_equal(sfs_flush(&e->s, &e->me, NULL, &fi), 0);
	assert_int_equal(sfs_release(&e->s, &e->me, NULL, &fi), 0);
	assert_int_equal(stored_as(e, DIR_ "/r2", buf, n), 1);
	assert_int_equal(stored_as(e, DIR_ "/r1", buf, 0), 0);

	assert_int_equal(put_file(e, DIR_ "/src", other, sizeof(other)), 0);
	assert_int_equal(open_w(e, &e->me, DIR_ "/dst", O_CREAT | O_TRUNC, &fi2), 0);
	assert_int_equal(write_all(e, &fi2, buf, 5000, 0), 0);
	assert_int_equal(sfs_rename(&e->s, &e->me, DIR_ "/src", DIR_ "/dst", 0), 0);
	assert_int_equal(write_all(e, &fi2, buf, 100, 5000), 0);
	assert_int_equal(sfs_flush(&e->s, &e->me, NULL, &fi2), 0);
	assert_int_equal(sfs_release(&e->s, &e->me, NULL, &fi2), 0);
	assert_int_equal(stored_as(e, DIR_ "/dst", other, sizeof(other)), 1);
	assert_int_equal(stored_as(e, DIR_ "/src", other, 0), 0);
	free(buf);
}

/* A writer killed with its file open: its descriptor's flush comes from a dying process, which
 * publishes nothing, then or at release; the previous version stays. */
static void test_doomed_writer(void **state)
{
	struct env *e = *state;
	struct fuse_file_info fi;
	struct sfs_caller child = e->me;
	char buf[4096];
	siginfo_t si;
	pid_t pid;

	fill(buf, sizeof(buf), 7);
	assert_int_equal(put_file(e, DIR_ "/d", buf, 10), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		alarm(60);   /* never outlives a test that failed before killing it */
		pause();
		_exit(0);
	}
	child.pid = pid;
	assert_int_equal(open_w(e, &child, DIR_ "/d", O_TRUNC, &fi), 0);
	assert_int_equal(write_all(e, &fi, buf, sizeof(buf), 0), 0);
	kill(pid, SIGKILL);
	/* dead but not reaped: /proc still tells how it ended, as it does while the kernel closes its files */
	assert_int_equal(waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT), 0);
	assert_int_equal(sfs_flush(&e->s, &child, NULL, &fi), -EIO);
	assert_int_equal(sfs_release(&e->s, &child, NULL, &fi), 0);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	assert_int_equal(stored_as(e, DIR_ "/d", buf, 10), 1);
	assert_int_equal(fault_calls(e->fault, FAULT_PUT), 1);   /* only the first version's */
}

/* truncate(1) of a closed object stages, changes and publishes it; of a file being written, it
 * changes what is staged. */
static void test_truncate(void **state)
{
	struct env *e = *state;
	struct fuse_file_info fi;
	char buf[1000];

	fill(buf, sizeof(buf), 8);
	assert_int_equal(put_file(e, DIR_ "/t", buf, sizeof(buf)), 0);
	assert_int_equal(sfs_truncate(&e->s, &e->me, DIR_ "/t", 600, NULL), 0);
	assert_int_equal(stored_as(e, DIR_ "/t", buf, 600), 1);
	assert_int_equal(open_w(e, &e->me, DIR_ "/t", 0, &fi), 0);
	assert_int_equal(sfs_truncate(&e->s, &e->me, NULL, 300, &fi), 0);
	assert_int_equal(stored_as(e, DIR_ "/t", buf, 600), 1);   /* not before the close */
	assert_int_equal(sfs_flush(&e->s, &e->me, NULL, &fi), 0);
	assert_int_equal(sfs_release(&e->s, &e->me, NULL, &fi), 0);
	assert_int_equal(stored_as(e, DIR_ "/t", buf, 300), 1);
	/* a refused commit of the truncated object keeps the one before */
	assert_int_equal(fault_script(e->fault, "put=EIO"), 0);
	assert_int_equal(sfs_truncate(&e->s, &e->me, DIR_ "/t", 100, NULL), -EIO);
	assert_int_equal(stored_as(e, DIR_ "/t", buf, 300), 1);
}

static void test_fault_script(void **state)
{
	struct env *e = *state;

	assert_int_equal(fault_script(e->fault, "upload_part#0=EIO"), -EINVAL);
	assert_int_equal(fault_script(e->fault, "uplod_part=EIO"), -EINVAL);
	assert_int_equal(fault_script(e->fault, "remove=EWHAT"), -EINVAL);
	assert_int_equal(fault_script(e->fault, "remove=EIO*x"), -EINVAL);
	{
		struct obj_info oi;
		struct backend *be = &e->s.be;
		unsigned before = fault_calls(e->fault, FAULT_STAT);

		assert_int_equal(fault_script(e->fault, "stat#2=ENOSPC*2, list=-5 ; remove*"), 0);
		assert_int_equal(be->ops->stat(be, "x", &oi), -ENOENT);
		assert_int_equal(be->ops->stat(be, "x", &oi), -ENOSPC);
		assert_int_equal(be->ops->stat(be, "x", &oi), -ENOSPC);
		assert_int_equal(be->ops->stat(be, "x", &oi), -ENOENT);
		assert_int_equal(fault_failed(e->fault, FAULT_STAT), 2);
		assert_int_equal(fault_calls(e->fault, FAULT_STAT) - before, 4);
	}
	fault_clear(e->fault);
}

/* --- the random sequence ----------------------------------------------------------------------------- */

#define NPATHS 3
#define STEPS 3000

struct model {
	char *data[NPATHS];     /* what the store must hold; NULL: absent */
	size_t len[NPATHS];
	int open;               /* the path being written (-1: none) */
	struct fuse_file_info fi;
	char *wbuf;             /* what its writer has written */
	size_t wlen;
	int unlinked;           /* removed while open: its close stores nothing */
	unsigned failed_before; /* faults injected before this session */
};

static const char *const paths[NPATHS] = { DIR_ "/m0", DIR_ "/m1", DIR_ "/m2" };

static unsigned failed_total(struct fault *f)
{
	unsigned n = 0;

	for (int op = 0; op < FAULT_NOPS; op++)
		n += fault_failed(f, (enum fault_op)op);
	return n;
}

static void check_model(struct env *e, const struct model *m, unsigned step)
{
	for (int i = 0; i < NPATHS; i++) {
		struct stat st;
		int rc;

		uint64_t len;

		if (m->data[i] ? !stored_as(e, paths[i], m->data[i], m->len[i])
			       : fault_peek(e->fault, paths[i] + 1, NULL, &len) != -ENOENT)
			fail_msg("step %u: %s is %s in the store", step, paths[i], m->data[i] ? "absent" : "there");
		if (i == m->open)
			continue;
		rc = sfs_getattr(&e->s, &e->me, paths[i], &st, NULL);
		if (m->data[i] ? rc || st.st_size != (off_t)m->len[i] : rc != -ENOENT)
			fail_msg("step %u: %s: getattr %d, size %lld", step, paths[i], rc, (long long)st.st_size);
	}
}

static void m_open(struct env *e, struct model *m, int p, unsigned r)
{
	int append = m->data[p] && r % 4 == 0;
	static const char *const faults[] = { "upload_part=EIO", "upload_commit=EIO", "put=EIO", "upload_begin=EIO" };

	assert_int_equal(open_w(e, &e->me, paths[p], append ? O_APPEND : O_CREAT | O_TRUNC, &m->fi), 0);
	m->open = p;
	m->unlinked = 0;
	m->wlen = append ? m->len[p] : 0;
	m->wbuf = malloc(m->wlen + 1);
	if (append)
		memcpy(m->wbuf, m->data[p], m->wlen);
	m->failed_before = failed_total(e->fault);
	if (r % 5 == 1)
		assert_int_equal(fault_script(e->fault, faults[(r / 5) % 4]), 0);
}

static void m_write(struct env *e, struct model *m, unsigned r)
{
	size_t n = r % 10 == 0 ? 1100 * 1024 + r % 1000 : 1 + r % 20000;
	char *p = realloc(m->wbuf, m->wlen + n);
	int rc;

	assert_non_null(p);
	m->wbuf = p;
	fill(p + m->wlen, n, r);
	rc = write_all(e, &m->fi, p + m->wlen, n, (off_t)m->wlen);
	if (rc)
		assert_int_equal(rc, -EIO);   /* a part failed: sticky from now on */
	m->wlen += n;
}

/* The opener's close: flush, then release. A failure up to the flush fails it; an empty file is
 * published by the release, whose failure no close can carry (README: the redirect's exit status). */
static void m_close(struct env *e, struct model *m)
{
	int p = m->open, rc = sfs_flush(&e->s, &e->me, NULL, &m->fi);
	unsigned at_flush = failed_total(e->fault);

	assert_int_equal(sfs_release(&e->s, &e->me, NULL, &m->fi), 0);
	fault_clear(e->fault);
	if (m->unlinked) {
		free(m->wbuf);
	} else if (failed_total(e->fault) != m->failed_before) {
		if (at_flush != m->failed_before)
			assert_int_equal(rc, -EIO);   /* never silent; the store keeps what it had */
		free(m->wbuf);
	} else {
		assert_int_equal(rc, 0);
		free(m->data[p]);
		m->data[p] = m->wbuf;
		m->len[p] = m->wlen;
	}
	m->wbuf = NULL;
	m->open = -1;
}

static void m_unlink(struct env *e, struct model *m, int p)
{
	int rc = sfs_unlink(&e->s, &e->me, paths[p]);

	if (p == m->open && !m->unlinked) {
		assert_int_equal(rc, 0);
		m->unlinked = 1;
	} else if (p == m->open) {
		assert_true(rc == 0 || rc == -ENOENT);   /* removed already */
	} else {
		assert_int_equal(rc, m->data[p] ? 0 : -ENOENT);
	}
	free(m->data[p]);
	m->data[p] = NULL;
	/* the queued delete: done before the store is looked at */
	assert_int_equal(sfs_settle(&e->s, paths[p]), 0);
}

static void m_rename(struct env *e, struct model *m, int a, int b)
{
	int rc = sfs_rename(&e->s, &e->me, paths[a], paths[b], 0);

	if (!m->data[a]) {
		assert_int_equal(rc, -ENOENT);
		return;
	}
	assert_int_equal(rc, 0);
	if (a == b)
		return;
	free(m->data[b]);
	m->data[b] = m->data[a];
	m->len[b] = m->len[a];
	m->data[a] = NULL;
}

static void test_random_sequence(void **state)
{
	struct env *e = *state;
	struct model m = { .open = -1 };
	unsigned seed = 14;   /* fixed: a failure replays */

	for (unsigned step = 0; step < STEPS; step++) {
		unsigned r = (unsigned)rand_r(&seed), what = r % 10;
		int p = (int)((r >> 8) % NPATHS), q = (int)((r >> 12) % NPATHS);

		if (m.open < 0 && what < 5)
			m_open(e, &m, p, r >> 4);
		else if (m.open >= 0 && what < 6)
			m_write(e, &m, r >> 4);
		else if (m.open >= 0 && what < 8)
			m_close(e, &m);
		else if (what == 8)
			m_unlink(e, &m, p);
		else if (p != q && m.open != p && m.open != q)
			m_rename(e, &m, p, q);
		check_model(e, &m, step);
	}
	if (m.open >= 0)
		m_close(e, &m);
	check_model(e, &m, STEPS);
	for (int i = 0; i < NPATHS; i++)
		free(m.data[i]);
}

/* every test on a store and a mount of its own */
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_publish_whole_at_close), T(test_failure_keeps_previous), T(test_second_writer_busy),
		T(test_unlink_open), T(test_rename_open), T(test_doomed_writer), T(test_truncate),
		T(test_fault_script), T(test_random_sequence),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
