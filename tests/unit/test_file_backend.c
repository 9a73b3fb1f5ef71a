/* The file:// backend's own rules, the ones the generic conformance check (tests/conformance) cannot see
 * from outside: keys never escape the directory, the hidden folder stays hidden, temp files never show,
 * uploads in progress are reported from their sidecars, and open() explains a bad directory. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "backends/backend.h"
#include "backends/secret.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern const struct backend_ops file_backend_ops;

struct fx {
	char dir[64];
	struct source src;
	struct secret sec;
	struct backend_conf conf;
	struct backend b;
	int spool;
};

static int rm_rf(const char *dir)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char url[96], *why = NULL, sp[] = "/tmp/test_file_spool.XXXXXX";

	strcpy(f->dir, "/tmp/test_file_backend.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(url, sizeof(url), "file://%s", f->dir);
	assert_int_equal(source_parse(url, &f->src, &why), 0);
	f->conf = (struct backend_conf){ &f->src, &f->sec, NULL, NULL, NULL, 30, 0, 0 };
	f->b.ops = &file_backend_ops;
	f->b.conf = &f->conf;
	assert_int_equal(file_backend_ops.open(&f->b, &f->conf, &why), 0);
	f->spool = mkstemp(sp);
	assert_true(f->spool >= 0);
	unlink(sp);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	file_backend_ops.close(&f->b);
	source_free(&f->src);
	close(f->spool);
	rm_rf(f->dir);
	free(f);
	return 0;
}

static int put_str(struct fx *f, const char *key, const char *s)
{
	off_t at = lseek(f->spool, 0, SEEK_END);

	assert_int_equal(pwrite(f->spool, s, strlen(s), at), (ssize_t)strlen(s));
	return file_backend_ops.put(&f->b, key, f->spool, at, strlen(s), NULL);
}

static int path_exists(struct fx *f, const char *rel)
{
	char p[256];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%s", f->dir, rel);
	return !lstat(p, &st);
}

static int count_dir(const char *dir)
{
	char cmd[160];
	FILE *p;
	int n = -1;

	snprintf(cmd, sizeof(cmd), "ls -A '%s' | wc -l", dir);
	p = popen(cmd, "r");
	if (p && fscanf(p, "%d", &n) != 1)
		n = -1;
	if (p)
		pclose(p);
	return n;
}

static void test_bad_keys(void **state)
{
	static const char *const bad[] = { "", "/abs", "a/../../etc/passwd", "..", "a/..", "a//b", "./a",
					   "a/./b", ".snapfs/tmp/x", ".snapfs", ".snapfs/" };
	struct fx *f = *state;
	struct obj_info oi;
	struct upload *up;
	char buf[8];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(file_backend_ops.stat(&f->b, bad[i], &oi), -EINVAL);
		assert_int_equal(file_backend_ops.read(&f->b, bad[i], 0, sizeof(buf), buf), -EINVAL);
		assert_int_equal(put_str(f, bad[i], "x"), -EINVAL);
		assert_int_equal(file_backend_ops.upload_begin(&f->b, bad[i], 0, &up), -EINVAL);
		assert_int_equal(file_backend_ops.remove(&f->b, &bad[i], 1), -EINVAL);
		assert_int_equal(file_backend_ops.copy(&f->b, "x", bad[i]), -EINVAL);
		assert_int_equal(file_backend_ops.move(&f->b, bad[i], "y"), -EINVAL);
	}
	/* names that merely contain dots are fine */
	assert_int_equal(put_str(f, "a/..b/c..", "ok"), 0);
	assert_int_equal(file_backend_ops.stat(&f->b, "a/..b/c..", &oi), 0);
	assert_int_equal(oi.size, 2);
	assert_int_equal(put_str(f, ".snapfsx", "ok"), 0);
	/* a listing below the hidden folder is refused too */
	assert_int_equal(file_backend_ops.list(&f->b, ".snapfs/tmp/", 1, 0, NULL, NULL), -EINVAL);
	assert_int_equal(file_backend_ops.list(&f->b, "/x", 1, 0, NULL, NULL), -EINVAL);
}

struct names {
	char v[16][64];
	int dir[16];
	int n;
};

static int collect(void *arg, const char *name, const struct obj_info *oi)
{
	struct names *l = arg;

	if (l->n < 16) {
		snprintf(l->v[l->n], sizeof(l->v[0]), "%s", name);
		l->dir[l->n++] = oi->is_dir;
	}
	return 0;
}

static void test_hidden_folder(void **state)
{
	struct fx *f = *state;
	struct names l = { 0 };

	assert_int_equal(put_str(f, "x", "1"), 0);
	assert_true(path_exists(f, ".snapfs/tmp"));
	assert_int_equal(file_backend_ops.list(&f->b, "", 1, 0, collect, &l), 0);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.v[0], "x");
	memset(&l, 0, sizeof(l));
	assert_int_equal(file_backend_ops.list(&f->b, "", 0, 0, collect, &l), 0);
	assert_int_equal(l.n, 1);
	memset(&l, 0, sizeof(l));
	assert_int_equal(file_backend_ops.list(&f->b, ".sn", 1, 0, collect, &l), 0);
	assert_int_equal(l.n, 0);
}

static void test_markers(void **state)
{
	struct fx *f = *state;
	struct names l = { 0 };
	struct obj_info oi;
	const char *k[3];
	char buf[4];

	/* a marker is a directory; "d" alone is a prefix, not an object */
	assert_int_equal(put_str(f, "d/e/", ""), 0);
	assert_true(path_exists(f, "d/e"));
	assert_int_equal(put_str(f, "d/f/", "not empty"), -EINVAL);
	assert_int_equal(file_backend_ops.stat(&f->b, "d/e/", &oi), 0);
	assert_int_equal(oi.size, 0);
	assert_int_equal(file_backend_ops.stat(&f->b, "d/e", &oi), -ENOENT);
	assert_int_equal(file_backend_ops.read(&f->b, "d/e/", 0, sizeof(buf), buf), 0);
	assert_int_equal(file_backend_ops.read(&f->b, "d/e", 0, sizeof(buf), buf), -ENOENT);

	/* recursive listings show every folder as its marker, so a prefix can be removed key by key */
	assert_int_equal(put_str(f, "d/e/g", "g"), 0);
	assert_int_equal(file_backend_ops.list(&f->b, "d/", 0, 0, collect, &l), 0);
	assert_int_equal(l.n, 3);
	assert_string_equal(l.v[0], "");     /* the listed folder's own marker, as a store lists it */
	assert_string_equal(l.v[1], "e/");
	assert_int_equal(l.dir[1], 0);
	assert_string_equal(l.v[2], "e/g");
	/* an empty folder exists: its marker is listed (how the fs layer tells) */
	memset(&l, 0, sizeof(l));
	assert_int_equal(put_str(f, "d/empty/", ""), 0);
	assert_int_equal(file_backend_ops.list(&f->b, "d/empty/", 1, 1, collect, &l), 0);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.v[0], "");
	memset(&l, 0, sizeof(l));
	assert_int_equal(file_backend_ops.list(&f->b, "d/none/", 1, 1, collect, &l), 0);
	assert_int_equal(l.n, 0);
	k[0] = "d/empty/";
	assert_int_equal(file_backend_ops.remove(&f->b, k, 1), 0);

	/* a marker with files below stays until they are gone, in one batch or in two */
	k[0] = "d/e/";
	assert_int_equal(file_backend_ops.remove(&f->b, k, 1), 0);
	assert_true(path_exists(f, "d/e/g"));
	k[0] = "d/";
	k[1] = "d/e/";
	k[2] = "d/e/g";
	assert_int_equal(file_backend_ops.remove(&f->b, k, 3), 0);
	assert_false(path_exists(f, "d"));

	/* copy and move of a marker make the folder; move drops the old one when it is empty */
	assert_int_equal(put_str(f, "m/", ""), 0);
	assert_int_equal(file_backend_ops.copy(&f->b, "m/", "m2/"), 0);
	assert_true(path_exists(f, "m2"));
	assert_int_equal(file_backend_ops.move(&f->b, "m/", "m3/x/"), 0);
	assert_false(path_exists(f, "m"));
	assert_true(path_exists(f, "m3/x"));
	assert_int_equal(file_backend_ops.copy(&f->b, "m2/", "file"), -EINVAL);
	assert_int_equal(file_backend_ops.copy(&f->b, "nope/", "n2/"), -ENOENT);
	/* a file cannot stand where a folder is */
	assert_true(put_str(f, "m2", "x") < 0);
}

static void test_put_leaves_no_temp(void **state)
{
	struct fx *f = *state;
	char tmp[128];

	assert_int_equal(put_str(f, "kubedb/ns/db/snap/dump.sql", "SELECT 1;\n"), 0);
	assert_true(path_exists(f, "kubedb/ns/db/snap/dump.sql"));
	snprintf(tmp, sizeof(tmp), "%s/.snapfs/tmp", f->dir);
	assert_int_equal(count_dir(tmp), 0);
	assert_int_equal(count_dir(f->dir), 2);   /* .snapfs and kubedb */
	/* a spool shorter than promised fails and publishes nothing */
	assert_int_equal(file_backend_ops.put(&f->b, "short", f->spool, 0, 1 << 20, NULL), -EIO);
	assert_false(path_exists(f, "short"));
	assert_int_equal(count_dir(tmp), 0);
}

static void test_upload_sidecar(void **state)
{
	struct fx *f = *state;
	struct names l = { 0 };
	struct upload *up, *up2;
	struct part p = { 1, 0, 5, 0, 0 };
	char tmp[128], buf[16];

	p.fd = f->spool;
	assert_int_equal(pwrite(f->spool, "hello world", 11, 0), 11);
	assert_int_equal(file_backend_ops.upload_begin(&f->b, "kubedb/a/b/s1/dump", 0, &up), 0);
	assert_int_equal(file_backend_ops.upload_begin(&f->b, "kubedb/a/b/s10/dump", 0, &up2), 0);
	assert_int_equal(file_backend_ops.upload_part(up, &p), 0);
	assert_int_equal(file_backend_ops.list_uploads(&f->b, "kubedb/a/b/s1/", collect, &l), 0);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.v[0], "dump");
	memset(&l, 0, sizeof(l));
	assert_int_equal(file_backend_ops.list_uploads(&f->b, "kubedb/", collect, &l), 0);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.v[0], "a/b/s1/dump");
	assert_string_equal(l.v[1], "a/b/s10/dump");
	/* nothing is visible until the commit, and the temp files never show in a listing */
	assert_false(path_exists(f, "kubedb"));
	assert_int_equal(file_backend_ops.upload_commit(up, 1, NULL), 0);
	assert_int_equal(file_backend_ops.read(&f->b, "kubedb/a/b/s1/dump", 0, sizeof(buf), buf), 5);
	assert_memory_equal(buf, "hello", 5);
	file_backend_ops.upload_abort(up2);
	assert_false(path_exists(f, "kubedb/a/b/s10"));
	snprintf(tmp, sizeof(tmp), "%s/.snapfs/tmp", f->dir);
	assert_int_equal(count_dir(tmp), 0);
	memset(&l, 0, sizeof(l));
	assert_int_equal(file_backend_ops.list_uploads(&f->b, "", collect, &l), 0);
	assert_int_equal(l.n, 0);
}

static void test_append_rules(void **state)
{
	struct fx *f = *state;
	struct upload *up;
	struct part p = { 1, 2, 3, 0, 6 };
	char buf[32];

	p.fd = f->spool;
	assert_int_equal(pwrite(f->spool, "hello world", 11, 0), 11);
	assert_int_equal(put_str(f, "obj", "0123456789"), 0);
	/* the base must exist and be at least as long as claimed */
	assert_int_equal(file_backend_ops.upload_begin(&f->b, "none", 4, &up), -ENOENT);
	assert_int_equal(file_backend_ops.upload_begin(&f->b, "obj", 11, &up), -ESTALE);
	/* a shorter base keeps only base bytes; parts may not land inside it */
	assert_int_equal(file_backend_ops.upload_begin(&f->b, "obj", 4, &up), 0);
	assert_int_equal(file_backend_ops.upload_part(up, &p), -EINVAL);
	p.obj_off = 4;
	assert_int_equal(file_backend_ops.upload_part(up, &p), 0);
	/* the old object stays readable as it was until the commit */
	assert_int_equal(file_backend_ops.read(&f->b, "obj", 0, sizeof(buf), buf), 10);
	assert_int_equal(file_backend_ops.upload_commit(up, 1, NULL), 0);
	assert_int_equal(file_backend_ops.read(&f->b, "obj", 0, sizeof(buf), buf), 7);
	assert_memory_equal(buf, "0123wor", 7);
}

/* A writer that dies mid-upload leaves a temp file nobody will complete: list_uploads must not call it
 * in progress forever, and the next open() clears it once it is old. */
static void test_crashed_upload(void **state)
{
	struct fx *f = *state;
	struct names l = { 0 };
	char tmp[128], side[256], c;
	int ready[2];
	pid_t pid;

	assert_int_equal(pipe(ready), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		struct upload *up;
		struct part p = { 1, 0, 5, f->spool, 0 };

		assert_int_equal(pwrite(f->spool, "hello", 5, 0), 5);
		if (file_backend_ops.upload_begin(&f->b, "kubedb/a/b/s/dump", 0, &up) ||
		    file_backend_ops.upload_part(up, &p))
			_exit(1);
		if (write(ready[1], "r", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(ready[1]);
	assert_int_equal(read(ready[0], &c, 1), 1);
	close(ready[0]);
	assert_int_equal(file_backend_ops.list_uploads(&f->b, "kubedb/", collect, &l), 0);
	assert_int_equal(l.n, 1);     /* alive: another process holds it */
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	memset(&l, 0, sizeof(l));
	assert_int_equal(file_backend_ops.list_uploads(&f->b, "kubedb/", collect, &l), 0);
	assert_int_equal(l.n, 0);     /* its writer is gone */
	assert_false(path_exists(f, "kubedb"));

	/* a fresh leftover stays (it might be a writer on another host without working locks); one older
	 * than a day goes at the next open */
	snprintf(tmp, sizeof(tmp), "%s/.snapfs/tmp", f->dir);
	assert_int_equal(count_dir(tmp), 2);
	file_backend_ops.close(&f->b);
	assert_int_equal(file_backend_ops.open(&f->b, &f->conf, &(char *){ NULL }), 0);
	assert_int_equal(count_dir(tmp), 2);
	snprintf(side, sizeof(side), "find '%s' -type f -exec touch -d '2 days ago' {} +", tmp);
	assert_int_equal(system(side), 0);
	file_backend_ops.close(&f->b);
	assert_int_equal(file_backend_ops.open(&f->b, &f->conf, &(char *){ NULL }), 0);
	assert_int_equal(count_dir(tmp), 0);
}

struct par {
	struct fx *f;
	struct upload *up;
	unsigned first;
};

static void *par_worker(void *arg)
{
	struct par *w = arg;

	for (unsigned i = w->first; i < 64; i += 4) {
		struct part p = { i + 1, (uint64_t)i * 4096, 4096, w->f->spool, (off_t)i * 4096 };

		if (file_backend_ops.upload_part(w->up, &p))
			return (void *)1;
	}
	return NULL;
}

static void test_parallel_parts(void **state)
{
	struct fx *f = *state;
	unsigned char *data = malloc(64 * 4096), *back = malloc(64 * 4096);
	struct par w[4];
	pthread_t th[4];
	struct upload *up;
	void *res;

	for (size_t i = 0; i < 64 * 4096; i++)
		data[i] = (unsigned char)(i * 31 + i / 4096);
	assert_int_equal(pwrite(f->spool, data, 64 * 4096, 0), 64 * 4096);
	assert_int_equal(file_backend_ops.upload_begin(&f->b, "par", 0, &up), 0);
	for (unsigned i = 0; i < 4; i++) {
		w[i] = (struct par){ f, up, 3 - i };
		pthread_create(&th[i], NULL, par_worker, &w[i]);
	}
	for (unsigned i = 0; i < 4; i++) {
		pthread_join(th[i], &res);
		assert_null(res);
	}
	assert_int_equal(file_backend_ops.upload_commit(up, 64, NULL), 0);
	assert_int_equal(file_backend_ops.read(&f->b, "par", 0, 64 * 4096, back), 64 * 4096);
	assert_memory_equal(back, data, 64 * 4096);
	free(data);
	free(back);
}

/* Symlinks in the volume are never followed, whichever way keys are resolved (openat2, or one
 * component at a time as on kernels before 5.6): every operation reaching through one is -ELOOP, a
 * listing leaves them out, and the files they point to stay as they were. */
extern atomic_int fb_openat2_off;

static void read_outside(const char *path, char *buf, size_t cap)
{
	FILE *fp = fopen(path, "r");
	size_t n = fp ? fread(buf, 1, cap - 1, fp) : 0;

	buf[n] = 0;
	if (fp)
		fclose(fp);
}

static void symlinks(struct fx *f)
{
	char out[96], p[256], q[256], buf[64];
	struct names l = { 0 };
	struct obj_info oi;
	struct upload *up;
	struct part pt = { 1, 0, 5, 0, 0 };
	const char *k[2];

	snprintf(out, sizeof(out), "%s.out", f->dir);
	rm_rf(out);
	assert_int_equal(mkdir(out, 0755), 0);
	snprintf(p, sizeof(p), "%s/victim", out);
	assert_int_equal(system(strcat(strcpy(q, "echo precious > "), p)), 0);
	assert_int_equal(put_str(f, "s/f", "real"), 0);
	snprintf(p, sizeof(p), "%s/s/sub", f->dir);
	assert_int_equal(symlink(out, p), 0);
	snprintf(p, sizeof(p), "%s/s/leak", f->dir);
	snprintf(q, sizeof(q), "%s/victim", out);
	assert_int_equal(symlink(q, p), 0);
	snprintf(p, sizeof(p), "%s/lnk", f->dir);
	assert_int_equal(symlink(out, p), 0);

	assert_int_equal(file_backend_ops.stat(&f->b, "s/leak", &oi), -ELOOP);
	assert_int_equal(file_backend_ops.stat(&f->b, "s/sub/victim", &oi), -ELOOP);
	assert_int_equal(file_backend_ops.stat(&f->b, "s/sub/", &oi), -ELOOP);
	assert_int_equal(file_backend_ops.stat(&f->b, "lnk/victim", &oi), -ELOOP);
	assert_int_equal(file_backend_ops.read(&f->b, "s/leak", 0, sizeof(buf), buf), -ELOOP);
	assert_int_equal(file_backend_ops.read(&f->b, "s/sub/victim", 0, sizeof(buf), buf), -ELOOP);
	assert_int_equal(file_backend_ops.read(&f->b, "lnk/", 0, sizeof(buf), buf), -ELOOP);
	/* writes */
	assert_int_equal(put_str(f, "s/sub/new", "x"), -ELOOP);
	assert_int_equal(put_str(f, "s/sub/victim", "x"), -ELOOP);
	assert_int_equal(put_str(f, "lnk/deeper/new", "x"), -ELOOP);
	assert_int_equal(put_str(f, "s/sub/dir/", ""), -ELOOP);
	assert_int_equal(put_str(f, "s/sub/", ""), -ELOOP);
	assert_int_equal(file_backend_ops.upload_begin(&f->b, "s/leak", 2, &up), -ELOOP);
	pt.fd = f->spool;
	assert_int_equal(pwrite(f->spool, "hello", 5, 0), 5);
	assert_int_equal(file_backend_ops.upload_begin(&f->b, "s/sub/up", 0, &up), 0);
	assert_int_equal(file_backend_ops.upload_part(up, &pt), 0);
	assert_int_equal(file_backend_ops.upload_commit(up, 1, NULL), -ELOOP);
	/* copies and renames, either side */
	assert_int_equal(file_backend_ops.copy(&f->b, "s/leak", "s/copy"), -ELOOP);
	assert_int_equal(file_backend_ops.copy(&f->b, "s/f", "s/sub/copy"), -ELOOP);
	assert_int_equal(file_backend_ops.move(&f->b, "s/sub/victim", "s/taken"), -ELOOP);
	assert_int_equal(file_backend_ops.move(&f->b, "s/leak", "s/taken"), -ELOOP);
	assert_int_equal(file_backend_ops.move(&f->b, "s/f", "s/sub/moved"), -ELOOP);
	assert_int_equal(file_backend_ops.move(&f->b, "s/f", "lnk/moved"), -ELOOP);
	assert_int_equal(file_backend_ops.move(&f->b, "s/sub/", "s/sub2/"), -ELOOP);
	assert_true(path_exists(f, "s/f"));
	/* listings: the links are not there, and listing through one fails */
	assert_int_equal(file_backend_ops.list(&f->b, "", 0, 0, collect, &l), 0);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.v[0], "s/");
	assert_string_equal(l.v[1], "s/f");
	memset(&l, 0, sizeof(l));
	assert_int_equal(file_backend_ops.list(&f->b, "s/", 1, 0, collect, &l), 0);
	assert_int_equal(l.n, 2);       /* the marker "" and f */
	assert_int_equal(file_backend_ops.list(&f->b, "s/sub/", 1, 0, collect, &l), -ELOOP);
	assert_int_equal(file_backend_ops.list(&f->b, "lnk/", 0, 0, collect, &l), -ELOOP);
	/* deletes: nothing through a link; a link named as a key is removed as the link only */
	k[0] = "s/sub/victim";
	assert_int_equal(file_backend_ops.remove(&f->b, k, 1), -ELOOP);
	k[0] = "lnk/";
	assert_int_equal(file_backend_ops.remove(&f->b, k, 1), 0);
	k[0] = "s/leak";
	assert_int_equal(file_backend_ops.remove(&f->b, k, 1), 0);
	assert_false(path_exists(f, "s/leak"));
	/* outside: as it was, nothing added */
	read_outside(q, buf, sizeof(buf));
	assert_string_equal(buf, "precious\n");
	assert_int_equal(count_dir(out), 1);
	rm_rf(out);
}

static void test_symlinks(void **state)
{
	atomic_store(&fb_openat2_off, 0);
	symlinks(*state);
}

static void test_symlinks_no_openat2(void **state)
{
	atomic_store(&fb_openat2_off, 1);
	symlinks(*state);
	atomic_store(&fb_openat2_off, 0);
}

/* fsync of a folder failing after the rename (a dying disk, an NFS server gone): the new name may not
 * survive a crash, so the write fails (EIO) and is never silently done; the publish is undone, so the
 * store shows what it held before, as the cache layer's "NOT stored" says. A rename is reported as
 * failed though done. This program's fsync stands in for libc's to inject the failure. */
static int fail_dir_fsync;

int fsync(int fd)
{
	struct stat st;

	if (fail_dir_fsync && !fstat(fd, &st) && S_ISDIR(st.st_mode)) {
		errno = EIO;
		return -1;
	}
	return (int)syscall(SYS_fsync, fd);
}

static void test_dir_fsync_fails(void **state)
{
	struct fx *f = *state;
	struct part p = { 1, 0, 4, 0, 0 };
	struct upload *up;
	char buf[16], tmp[128];

	p.fd = f->spool;
	assert_int_equal(put_str(f, "s/k", "old"), 0);
	fail_dir_fsync = 1;
	/* over an old version: the old one is put back */
	assert_int_equal(put_str(f, "s/k", "new!"), -EIO);
	assert_int_equal(file_backend_ops.read(&f->b, "s/k", 0, sizeof(buf), buf), 3);
	assert_memory_equal(buf, "old", 3);
	/* a new name: absent again */
	assert_int_equal(put_str(f, "s/n", "new"), -EIO);
	assert_false(path_exists(f, "s/n"));
	assert_int_equal(pwrite(f->spool, "part", 4, 0), 4);
	assert_int_equal(file_backend_ops.upload_begin(&f->b, "s/k", 0, &up), 0);
	assert_int_equal(file_backend_ops.upload_part(up, &p), 0);
	assert_int_equal(file_backend_ops.upload_commit(up, 1, NULL), -EIO);
	assert_int_equal(file_backend_ops.read(&f->b, "s/k", 0, sizeof(buf), buf), 3);
	assert_memory_equal(buf, "old", 3);
	/* a rename is not undone: done, but reported as failed */
	assert_int_equal(file_backend_ops.move(&f->b, "s/k", "s/v"), -EIO);
	assert_true(path_exists(f, "s/v"));
	fail_dir_fsync = 0;
	snprintf(tmp, sizeof(tmp), "%s/.snapfs/tmp", f->dir);
	assert_int_equal(count_dir(tmp), 0);
	/* and when the fsync works, an overwrite leaves no old version behind in the temp folder */
	assert_int_equal(put_str(f, "s/v", "again"), 0);
	assert_int_equal(file_backend_ops.read(&f->b, "s/v", 0, sizeof(buf), buf), 5);
	assert_memory_equal(buf, "again", 5);
	assert_int_equal(count_dir(tmp), 0);
}

static void test_open_errors(void **state)
{
	struct source src = { 0 };
	struct secret sec = { 0 };
	struct backend_conf conf = { &src, &sec, NULL, NULL, NULL, 30, 0, 0 };
	struct backend b = { &file_backend_ops, NULL, &conf };
	char *why = NULL, dir[] = "/tmp/test_file_open.XXXXXX", path[64];
	int fd;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/missing", dir);
	src.path = path;
	assert_int_equal(file_backend_ops.open(&b, &conf, &why), -ENOENT);
	assert_non_null(strstr(why, "does not exist"));
	assert_null(strchr(why, '\n'));
	free(why);

	snprintf(path, sizeof(path), "%s/file", dir);
	fd = open(path, O_CREAT | O_WRONLY, 0644);
	close(fd);
	assert_int_equal(file_backend_ops.open(&b, &conf, &why), -ENOTDIR);
	assert_non_null(strstr(why, "not a directory"));
	free(why);

	src.path = (char *)"relative/dir";
	assert_int_equal(file_backend_ops.open(&b, &conf, &why), -EINVAL);
	free(why);
	rm_rf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bad_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hidden_folder, setup, teardown),
		cmocka_unit_test_setup_teardown(test_markers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_put_leaves_no_temp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_upload_sidecar, setup, teardown),
		cmocka_unit_test_setup_teardown(test_append_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parallel_parts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crashed_upload, setup, teardown),
		cmocka_unit_test_setup_teardown(test_symlinks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_symlinks_no_openat2, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dir_fsync_fails, setup, teardown),
		cmocka_unit_test(test_open_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
