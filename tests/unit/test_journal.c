/* The crash journal: closed-file records (--async-close), parsing with the torn-record rule, and a
 * round trip through a daemon that goes away (a child process) and the next mount's recovery; upload
 * records and what the next mount does with each answer of the store's discard. */
#include <dirent.h>
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
#include <sys/wait.h>
#include <unistd.h>

#include "backends/backend.h"
#include "cache/journal.h"

extern const struct backend_ops file_backend_ops;

static int parse(const char *text, struct journal_closed *out)
{
	return journal_parse_closed(text, strlen(text), out);
}

static void test_parse(void **state)
{
	struct journal_closed r;

	(void)state;
	assert_int_equal(parse("kubedb/a/b/c/d.sql\n/kubedb/a/b/c/d.sql\n1234\n7-99.spool\n", &r), 0);
	assert_string_equal(r.key, "kubedb/a/b/c/d.sql");
	assert_string_equal(r.path, "/kubedb/a/b/c/d.sql");
	assert_int_equal(r.size, 1234);
	assert_string_equal(r.name, "7-99");
	free(r.key);
	free(r.path);
	assert_int_equal(parse("k\n/p\n0\n1-1.spool\n", &r), 0);
	assert_int_equal(r.size, 0);
	free(r.key);
	free(r.path);
	/* torn: the crash came while it was written */
	assert_int_equal(parse("k\n/p\n1234\n7-99.spool", &r), -EINVAL);
	assert_int_equal(parse("k\n/p\n12", &r), -EINVAL);
	assert_int_equal(parse("", &r), -EINVAL);
	/* malformed */
	assert_int_equal(parse("k\np\n1\n1-1.spool\n", &r), -EINVAL);          /* path not absolute */
	assert_int_equal(parse("k\n/p\n-1\n1-1.spool\n", &r), -EINVAL);         /* size */
	assert_int_equal(parse("k\n/p\n1x\n1-1.spool\n", &r), -EINVAL);
	assert_int_equal(parse("k\n/p\n1\n../x.spool\n", &r), -EINVAL);        /* a name, not a path */
	assert_int_equal(parse("k\n/p\n1\n1-1.up\n", &r), -EINVAL);
	assert_int_equal(parse("k\n/p\n1\n1-1.spool\nmore\n", &r), -EINVAL);    /* trailing data */
	assert_int_equal(parse("\n/p\n1\n1-1.spool\n", &r), -EINVAL);           /* empty key */
	assert_int_equal(journal_parse_closed("k\n/p\n1\n1-1.spool\n\0", 19, &r), -EINVAL);
}

static int count(const char *dir, const char *suffix)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d))) {
		size_t a = strlen(de->d_name), b = strlen(suffix);

		if (a > b && !strcmp(de->d_name + a - b, suffix))
			n++;
	}
	closedir(d);
	return n;
}

static void put(const char *dir, const char *name, const char *text)
{
	char p[600];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_round_trip(void **state)
{
	struct backend be = { .ops = &file_backend_ops };
	struct journal_closed rec;
	struct journal *j = NULL;
	char root[64] = "/tmp/snapfs-unit-journal.XXXXXX", jdir[400], cmd[512], buf[64], *why = NULL;
	int fd, status;
	pid_t pid;
	DIR *d;
	struct dirent *de;

	(void)state;
	assert_non_null(mkdtemp(root));
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* the daemon that crashes: one closed file recorded, then it exits holding the lock */
		char name[64];

		if (journal_open(&j, root, "file:///x", "/mnt", &be, &why))
			_exit(1);
		fd = open(root, O_TMPFILE | O_RDWR, 0600);
		if (fd < 0 || write(fd, "hello, store", 12) != 12)
			_exit(2);
		if (journal_closed_add(j, "kubedb/a/b/c/f", "/kubedb/a/b/c/f", 12, fd, name))
			_exit(3);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	d = opendir(root);
	assert_non_null(d);
	jdir[0] = 0;
	while ((de = readdir(d)))
		if (!strncmp(de->d_name, "journal-", 8))
			snprintf(jdir, sizeof(jdir), "%s/%s", root, de->d_name);
	closedir(d);
	assert_true(jdir[0]);
	assert_int_equal(count(jdir, ".cl"), 1);
	assert_int_equal(count(jdir, ".spool"), 1);
	/* what a crash at other moments leaves: a torn record, a record without its data, a spool
	 * whose record was never written */
	put(jdir, "90-1.cl", "kubedb/torn\n/kubedb/to");
	put(jdir, "91-1.cl", "kubedb/nodata\n/kubedb/nodata\n5\n91-1.spool\n");
	put(jdir, "92-1.spool", "orphan");
	put(jdir, "93-1.cl", "kubedb/short\n/kubedb/short\n50\n93-1.spool\n");
	put(jdir, "93-1.spool", "only ten b");

	assert_int_equal(journal_open(&j, root, "file:///x", "/mnt", &be, &why), 0);
	assert_int_equal(journal_closed_next(j, &rec, &fd), 0);
	assert_string_equal(rec.key, "kubedb/a/b/c/f");
	assert_string_equal(rec.path, "/kubedb/a/b/c/f");
	assert_int_equal(rec.size, 12);
	assert_int_equal(pread(fd, buf, sizeof(buf), 0), 12);
	assert_memory_equal(buf, "hello, store", 12);
	close(fd);
	assert_int_equal(journal_closed_next(j, &rec, &fd) == 0 ? 1 : 0, 0);
	/* only the whole record and its spool are left */
	assert_int_equal(count(jdir, ".cl"), 1);
	assert_int_equal(count(jdir, ".spool"), 1);
	journal_closed_done(j, rec.name);
	free(rec.key);
	free(rec.path);
	assert_int_equal(count(jdir, ".cl"), 0);
	assert_int_equal(count(jdir, ".spool"), 0);
	journal_close(j);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	assert_int_equal(system(cmd), 0);
}

/* A store whose discard answers by key, counting its calls: each of upload_forget's answers, success
 * included, for uploads no real store holds (tests/unit/lib_fault_backend.h only makes real calls fail). */
static int forgets[5];
static const char *const fkeys[5] = { "k/ok", "k/gone", "k/fail", "k/bad", "k/nosup" };

static int fake_forget(struct backend *b, const char *key, const char *token)
{
	static const int rcs[5] = { 0, -ENOENT, -EIO, -EINVAL, -EOPNOTSUPP };

	(void)b;
	for (int i = 0; i < 5; i++) {
		if (!strcmp(key, fkeys[i])) {
			assert_string_equal(token, "tok-en");
			forgets[i]++;
			return rcs[i];
		}
	}
	fail_msg("unexpected key %s", key);
	return -EIO;
}

static const struct backend_ops fake_ops = { .scheme = "fake", .upload_forget = fake_forget };

static char *journal_dir(const char *root)
{
	static char jdir[400];
	struct dirent *de;
	DIR *d = opendir(root);

	jdir[0] = 0;
	assert_non_null(d);
	while ((de = readdir(d)))
		if (!strncmp(de->d_name, "journal-", 8))
			snprintf(jdir, sizeof(jdir), "%s/%s", root, de->d_name);
	closedir(d);
	assert_true(jdir[0]);
	return jdir;
}

/* Upload records left by a crash: the next mount discards each through the store; a record whose
 * discard failed stays for the mount after, one the store can never act on is dropped. */
static void test_upload_records(void **state)
{
	struct backend be = { .ops = &fake_ops };
	struct journal *j = NULL;
	char root[64] = "/tmp/snapfs-unit-journal.XXXXXX", cmd[512], *why = NULL;
	int status;
	pid_t pid;

	(void)state;
	assert_non_null(mkdtemp(root));
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* the daemon that crashes with five uploads open */
		if (journal_open(&j, root, "fake://x", "/mnt", &be, &why))
			_exit(1);
		for (int i = 0; i < 5; i++)
			if (!journal_add(j, fkeys[i], "tok-en"))
				_exit(2);
		if (journal_add(j, "k/new\nline", "tok-en") || journal_add(j, "k/x", "to\nken"))
			_exit(3);   /* a record that could not be read back is refused */
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(count(journal_dir(root), ".up"), 5);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* the next daemon: one discard per record */
		if (journal_open(&j, root, "fake://x", "/mnt", &be, &why))
			_exit(1);
		for (int i = 0; i < 5; i++)
			if (forgets[i] != 1)
				_exit(10 + i);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	/* only the record whose discard failed is left, and the mount after tries it again */
	assert_int_equal(count(journal_dir(root), ".up"), 1);
	assert_int_equal(journal_open(&j, root, "fake://x", "/mnt", &be, &why), 0);
	assert_int_equal(forgets[0] + forgets[1] + forgets[3] + forgets[4], 0);
	assert_int_equal(forgets[2], 1);
	assert_int_equal(count(journal_dir(root), ".up"), 1);
	journal_close(j);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	assert_int_equal(system(cmd), 0);
}

static int pfailed(const char *text, struct journal_failed *out)
{
	return journal_parse_failed(text, strlen(text), out);
}

static int collect_failed(void *arg, const struct journal_failed *f)
{
	struct journal_failed *out = arg;

	assert_null(out->key);   /* exactly one */
	out->key = strdup(f->key);
	out->token = strdup(f->token);
	out->source = strdup(f->source);
	out->path = strdup(f->path);
	out->why = strdup(f->why);
	out->size = f->size;
	return 0;
}

/* A commit that kept failing: its record becomes a failed one, which the next mount keeps (no discard
 * is asked of the store) and which snapctl finds from the cache dir alone. */
static void test_failed_records(void **state)
{
	struct backend be = { .ops = &fake_ops };
	struct journal_failed f = { 0 };
	struct journal *j = NULL;
	char root[64] = "/tmp/snapfs-unit-journal.XXXXXX", cmd[512], *why = NULL;
	int status;
	pid_t pid;

	(void)state;
	assert_int_equal(pfailed("k\nt\ns3://b\n/p\n1\n2\nwhy\n", &f), 0);
	assert_string_equal(f.why, "why");
	journal_failed_free(&f);
	/* torn, or a path that is no mount path: refused */
	assert_int_equal(pfailed("k\nt\ns3://b\n/p\n1\n2\nwhy", &f), -EINVAL);
	assert_int_equal(pfailed("k\nt\ns3://b\np\n1\n2\nwhy\n", &f), -EINVAL);
	assert_non_null(mkdtemp(root));
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		uint64_t id;

		if (journal_open(&j, root, "fake://x", "/mnt", &be, &why))
			_exit(1);
		id = journal_add(j, "k/kept", "tok-kept");
		if (!id || journal_fail(j, id, "/kubedb/a/b/c/f", 42, "the store refused the commit"))
			_exit(2);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(count(journal_dir(root), ".up"), 0);
	assert_int_equal(count(journal_dir(root), ".failed"), 1);
	/* the next mount: fake_forget fails the test for any key it does not know, k/kept included */
	assert_int_equal(journal_open(&j, root, "fake://x", "/mnt", &be, &why), 0);
	assert_int_equal(count(journal_dir(root), ".failed"), 1);
	assert_int_equal(journal_failed_foreach(j, NULL, collect_failed, &f), 0);
	journal_close(j);
	assert_string_equal(f.key, "k/kept");
	assert_string_equal(f.token, "tok-kept");
	assert_string_equal(f.source, "fake://x");
	assert_string_equal(f.path, "/kubedb/a/b/c/f");
	assert_string_equal(f.why, "the store refused the commit");
	assert_int_equal(f.size, 42);
	journal_failed_free(&f);
	/* and from the cache dir alone, as snapctl reads it */
	assert_int_equal(journal_failed_foreach(NULL, root, collect_failed, &f), 0);
	assert_string_equal(f.key, "k/kept");
	journal_failed_free(&f);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_upload_records),
		cmocka_unit_test(test_failed_records),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
