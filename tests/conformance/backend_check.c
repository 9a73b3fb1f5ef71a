/* backend_check: drives any backend through its ops table against a real store and checks what the
 * cache and fs layers rely on (see backends/backend.h). Prints `ok - name` / `not ok - name: detail`
 * lines and "N passed, N failed, N skipped"; exits 1 on any failure. Everything happens below a unique
 * prefix that is removed at the end. */
#include "backends/backend.h"
#include "backends/open.h"
#include "backends/secret.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MIB (1024ULL * 1024)
#define SMALL 1000

struct ctx {
	const struct backend_ops *ops;
	struct backend b;
	struct backend_conf conf;
	struct source src;
	struct secret sec;
	char root[512];          /* every key of the run starts with this; ends with '/' */
	int spool;               /* local file holding the bytes we upload */
	uint64_t spool_len;
	int passed, failed, skipped;
	/* options */
	const char *url, *secret_dir, *bad_secret_dir, *endpoint, *region, *addressing, *prefix;
	unsigned big_mib, many, threads;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#define PRINTF34 __attribute__((format(printf, 3, 4)))
static void ok(struct ctx *c, const char *name, const char *fmt, ...) PRINTF34;
static void ok(struct ctx *c, const char *name, const char *fmt, ...)
{
	va_list ap;

	c->passed++;
	printf("ok - %s", name);
	if (fmt) {
		printf(" (");
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
		printf(")");
	}
	printf("\n");
	fflush(stdout);
}

static void notok(struct ctx *c, const char *name, const char *fmt, ...) PRINTF34;
static void notok(struct ctx *c, const char *name, const char *fmt, ...)
{
	va_list ap;

	c->failed++;
	printf("not ok - %s: ", name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static void skip(struct ctx *c, const char *name, const char *why)
{
	c->skipped++;
	printf("ok - %s # SKIP %s\n", name, why);
	fflush(stdout);
}

static const char *err(int rc)
{
	static __thread char b[64];

	snprintf(b, sizeof(b), "%d (%s)", rc, strerror(rc < 0 ? -rc : rc));
	return b;
}

/* full key of rel below the run's root */
static const char *K(struct ctx *c, char *buf, size_t cap, const char *rel)
{
	snprintf(buf, cap, "%s%s", c->root, rel);
	return buf;
}
#define KEY(rel) K(c, kbuf, sizeof(kbuf), rel)

/* Deterministic bytes so a mismatch is reproducible: xorshift64 per 8-byte word. */
static void fill(unsigned char *p, size_t n, uint64_t seed)
{
	uint64_t x = seed * 0x9e3779b97f4a7c15ULL + 1;

	for (size_t i = 0; i < n; i += 8) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(p + i, &x, n - i < 8 ? n - i : 8);
	}
}

/* Append n bytes to the spool, returning their offset there. */
static off_t spool_add(struct ctx *c, const void *p, size_t n)
{
	off_t at = (off_t)c->spool_len;

	if (pwrite(c->spool, p, n, at) != (ssize_t)n) {
		perror("backend_check: spool");
		exit(2);
	}
	c->spool_len += n;
	return at;
}

static off_t spool_random(struct ctx *c, uint64_t n, uint64_t seed)
{
	unsigned char *buf = malloc(4 * MIB);
	off_t at = (off_t)c->spool_len;

	if (!buf)
		exit(2);
	for (uint64_t done = 0; done < n; done += 4 * MIB) {
		size_t k = n - done < 4 * MIB ? (size_t)(n - done) : 4 * MIB;

		fill(buf, k, seed + done);
		spool_add(c, buf, k);
	}
	free(buf);
	return at;
}

/* Compare an object with spans of the spool. Returns 0 or a description in detail. */
struct span {
	off_t off;
	uint64_t len;
};

static int verify(struct ctx *c, const char *key, const struct span *s, int ns, char *detail, size_t dcap)
{
	size_t chunk = 4 * MIB;
	unsigned char *a = malloc(chunk), *b = malloc(chunk);
	uint64_t obj = 0;
	int rc = -1;

	if (!a || !b)
		goto out;
	for (int i = 0; i < ns; i++) {
		for (uint64_t done = 0; done < s[i].len;) {
			size_t want = s[i].len - done < chunk ? (size_t)(s[i].len - done) : chunk;
			ssize_t got = c->ops->read(&c->b, key, obj, want, a);

			if (got != (ssize_t)want) {
				snprintf(detail, dcap, "read at %llu of %zu bytes gave %s",
					 (unsigned long long)obj, want,
					 got < 0 ? err((int)got) : "a short read");
				goto out;
			}
			if (pread(c->spool, b, want, s[i].off + (off_t)done) != (ssize_t)want)
				goto out;
			if (memcmp(a, b, want)) {
				size_t j = 0;

				while (a[j] == b[j])
					j++;
				snprintf(detail, dcap, "bytes differ at object offset %llu",
					 (unsigned long long)(obj + j));
				goto out;
			}
			done += want;
			obj += want;
		}
	}
	/* nothing after the expected end */
	if (c->ops->read(&c->b, key, obj, 16, a) != 0) {
		snprintf(detail, dcap, "the object is longer than the %llu bytes expected",
			 (unsigned long long)obj);
		goto out;
	}
	rc = 0;
out:
	free(a);
	free(b);
	return rc;
}

/* ---- listing helpers ---- */
struct names {
	char **v;
	struct obj_info *oi;
	size_t n, cap;
	size_t raw;             /* every entry the store gave, kept or not */
	unsigned stop_after;    /* return 1 after this many (0: never) */
	int skip_markers;       /* drop names ending in '/' without is_dir (folder markers) */
};

static int collect(void *arg, const char *name, const struct obj_info *oi)
{
	struct names *l = arg;
	size_t len = strlen(name);

	l->raw++;
	/* the listed folder's own marker ("" where the store has one) and, when asked, deeper markers */
	if (!len || (l->skip_markers && name[len - 1] == '/' && !oi->is_dir))
		goto out;
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->v = realloc(l->v, l->cap * sizeof(*l->v));
		l->oi = realloc(l->oi, l->cap * sizeof(*l->oi));
		if (!l->v || !l->oi)
			exit(2);
	}
	l->v[l->n] = strdup(name);
	l->oi[l->n] = *oi;
	l->n++;
out:
	return l->stop_after && l->n >= l->stop_after;
}

static void names_free(struct names *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	free(l->oi);
	memset(l, 0, sizeof(*l));
}

/* "a,b/(d)" for messages and comparisons */
static char *names_str(const struct names *l)
{
	size_t cap = 16;
	char *s;

	for (size_t i = 0; i < l->n; i++)
		cap += strlen(l->v[i]) + 5;
	s = calloc(1, cap);
	if (!s)
		exit(2);
	for (size_t i = 0; i < l->n; i++) {
		if (i)
			strcat(s, ",");
		strcat(s, l->v[i]);
		if (l->oi[i].is_dir)
			strcat(s, "(d)");
	}
	return s;
}

static int list(struct ctx *c, const char *prefix, int delim, unsigned limit, struct names *l)
{
	return c->ops->list(&c->b, prefix, delim, limit, collect, l);
}

static void check_list(struct ctx *c, const char *name, const char *rel, int delim, unsigned limit,
		       int skip_markers, const char *want)
{
	struct names l = { .skip_markers = skip_markers };
	char kbuf[1024];
	int rc = list(c, KEY(rel), delim, limit, &l);
	char *got = names_str(&l);

	if (rc)
		notok(c, name, "list gave %s", err(rc));
	else if (strcmp(got, want))
		notok(c, name, "listed [%s], expected [%s]", got, want);
	else
		ok(c, name, NULL);
	free(got);
	names_free(&l);
}

static int put_bytes(struct ctx *c, const char *key, const void *p, size_t n)
{
	off_t at = spool_add(c, p, n);

	return c->ops->put(&c->b, key, c->spool, at, n, NULL);
}

/* ---- the checks ---- */

static void t_small(struct ctx *c)
{
	unsigned char data[SMALL], back[SMALL + 100];
	char kbuf[1024];
	struct obj_info oi;
	off_t at;
	ssize_t n;
	int rc;

	fill(data, sizeof(data), 1);
	memcpy(data, "hello snapfs\n", 13);
	at = spool_add(c, data, sizeof(data));
	rc = c->ops->put(&c->b, KEY("small.bin"), c->spool, at, sizeof(data), NULL);
	if (rc) {
		notok(c, "put small object", "%s", err(rc));
		return;
	}
	ok(c, "put small object", NULL);

	rc = c->ops->stat(&c->b, KEY("small.bin"), &oi);
	if (rc)
		notok(c, "stat small object", "%s", err(rc));
	else if (oi.size != SMALL)
		notok(c, "stat small object", "size %llu, expected %d", (unsigned long long)oi.size, SMALL);
	else if (oi.is_dir)
		notok(c, "stat small object", "is_dir set by stat");
	else if (llabs((long long)(oi.mtime - time(NULL))) > 3600)
		notok(c, "stat small object", "mtime %lld is not about now", (long long)oi.mtime);
	else
		ok(c, "stat small object", NULL);

	n = c->ops->read(&c->b, KEY("small.bin"), 0, sizeof(back), back);
	if (n != SMALL || memcmp(back, data, SMALL))
		notok(c, "read small object whole", "got %zd bytes%s", n, n == SMALL ? " that differ" : "");
	else
		ok(c, "read small object whole", NULL);

	n = c->ops->read(&c->b, KEY("small.bin"), 100, 200, back);
	if (n != 200 || memcmp(back, data + 100, 200))
		notok(c, "read a range", "got %zd bytes%s", n, n == 200 ? " that differ" : "");
	else
		ok(c, "read a range", NULL);

	n = c->ops->read(&c->b, KEY("small.bin"), SMALL - 100, 500, back);
	if (n != 100 || memcmp(back, data + SMALL - 100, 100))
		notok(c, "read a range across the end", "got %zd bytes, expected 100", n);
	else
		ok(c, "read a range across the end", NULL);

	n = c->ops->read(&c->b, KEY("small.bin"), SMALL, 10, back);
	if (n != 0)
		notok(c, "read at the end", "got %zd, expected 0", n);
	else
		ok(c, "read at the end", NULL);

	n = c->ops->read(&c->b, KEY("small.bin"), SMALL + 5000, 10, back);
	if (n != 0)
		notok(c, "read past the end", "got %zd, expected 0", n);
	else
		ok(c, "read past the end", NULL);

	rc = put_bytes(c, KEY("empty"), "", 0);
	if (rc) {
		notok(c, "put empty object", "%s", err(rc));
	} else {
		rc = c->ops->stat(&c->b, KEY("empty"), &oi);
		n = c->ops->read(&c->b, KEY("empty"), 0, 10, back);
		if (rc || oi.size || n)
			notok(c, "put empty object", "stat %s size %llu, read %zd", err(rc),
			      (unsigned long long)oi.size, n);
		else
			ok(c, "put empty object", NULL);
	}

	/* overwrite replaces the object as a whole */
	rc = put_bytes(c, KEY("empty2"), "0123456789", 10);
	if (!rc)
		rc = put_bytes(c, KEY("empty2"), "abc", 3);
	n = c->ops->read(&c->b, KEY("empty2"), 0, 20, back);
	if (rc || n != 3 || memcmp(back, "abc", 3))
		notok(c, "overwrite an object", "put %s, read %zd bytes", err(rc), n);
	else
		ok(c, "overwrite an object", NULL);

	rc = c->ops->stat(&c->b, KEY("no/such/key"), &oi);
	if (rc != -ENOENT)
		notok(c, "stat a missing key", "gave %s, expected -ENOENT", err(rc));
	else
		ok(c, "stat a missing key", NULL);

	n = c->ops->read(&c->b, KEY("no/such/key"), 0, 10, back);
	if (n != -ENOENT)
		notok(c, "read a missing key", "gave %zd, expected -ENOENT", n);
	else
		ok(c, "read a missing key", NULL);

	rc = put_bytes(c, KEY("pfx/inner"), "x", 1);
	if (!rc)
		rc = c->ops->stat(&c->b, KEY("pfx"), &oi);
	if (rc != -ENOENT)
		notok(c, "stat of a pure prefix", "gave %s, expected -ENOENT", err(rc));
	else
		ok(c, "stat of a pure prefix", NULL);
}

struct find_any {
	unsigned n;
	char first[64];
};

static int any_fn(void *arg, const char *name, const struct obj_info *oi)
{
	struct find_any *f = arg;

	if (!f->n++)
		snprintf(f->first, sizeof(f->first), "%s", name);
	return 0;
}

static void t_list(struct ctx *c)
{
	static const char *const keys[] = { "list/a", "list/b.txt", "list/sub/c", "list/sub/d/e",
					    "list/sub.x", "list/sub0", "snap1/f", "snap10/f" };
	struct names l = { 0 };
	char kbuf[1024];
	int rc = 0;

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]) && !rc; i++)
		rc = put_bytes(c, KEY(keys[i]), keys[i], strlen(keys[i]));
	if (rc) {
		notok(c, "list: put keys", "%s", err(rc));
		return;
	}
	check_list(c, "list one level with a delimiter", "list/", 1, 0, 0, "a,b.txt,sub.x,sub/(d),sub0");
	check_list(c, "list recursively", "list/", 0, 0, 1, "a,b.txt,sub.x,sub/c,sub/d/e,sub0");
	check_list(c, "list a partial name with a delimiter", "list/sub", 1, 0, 0, ".x,/(d),0");
	check_list(c, "list a sub-prefix recursively", "list/sub/", 0, 0, 1, "c,d/e");
	check_list(c, "list a prefix with its slash (snap1 is not snap10)", "snap1/", 0, 0, 1, "f");
	/* a limit stops after that many entries (the folder's own marker counts where the store lists
	 * one); callers use it to ask "anything there?", so which entries come is not checked */
	l.skip_markers = 1;
	rc = list(c, KEY("list/"), 0, 3, &l);
	{
		static const char *const all[] = { "a", "b.txt", "sub.x", "sub/c", "sub/d/e", "sub0" };
		char *got = names_str(&l);
		size_t known = 0;

		for (size_t i = 0; i < l.n; i++)
			for (size_t j = 0; j < sizeof(all) / sizeof(all[0]); j++)
				known += !strcmp(l.v[i], all[j]);
		if (rc || l.raw != 3 || known != l.n || l.n < 2)
			notok(c, "list with a limit", "%s, %zu entries: [%s]", err(rc), l.raw, got);
		else
			ok(c, "list with a limit", NULL);
		free(got);
	}
	names_free(&l);
	check_list(c, "list a prefix that does not exist", "nothing-here/", 1, 0, 0, "");

	l.stop_after = 1;
	rc = list(c, KEY("list/"), 1, 0, &l);
	if (rc || l.n != 1)
		notok(c, "list stops when the callback says so", "rc %s, %zu entries", err(rc), l.n);
	else
		ok(c, "list stops when the callback says so", NULL);
	names_free(&l);

	rc = list(c, KEY("list/"), 1, 0, &l);
	for (size_t i = 0; !rc && i < l.n; i++) {
		if (!l.oi[i].is_dir && l.oi[i].size != strlen(l.v[i]) + strlen("list/")) {
			notok(c, "list reports sizes", "%s has size %llu", l.v[i],
			      (unsigned long long)l.oi[i].size);
			rc = 1;
		}
	}
	if (!rc)
		ok(c, "list reports sizes", NULL);
	names_free(&l);

	/* a folder marker: an empty folder made by mkdir */
	rc = put_bytes(c, KEY("list/empty/"), "", 0);
	if (rc) {
		notok(c, "folder marker: put", "%s", err(rc));
		return;
	}
	check_list(c, "folder marker is a common prefix", "list/", 1, 0, 0,
		   "a,b.txt,empty/(d),sub.x,sub/(d),sub0");
	{
		struct find_any fa = { 0 };

		/* how the fs layer tells that an empty folder exists: its own marker, listed as "" */
		rc = c->ops->list(&c->b, KEY("list/empty/"), 1, 1, any_fn, &fa);
		if (rc || fa.n != 1 || strcmp(fa.first, ""))
			notok(c, "folder marker: listing the folder shows its marker",
			      "%s, %u entries, first '%s'", err(rc), fa.n, fa.first);
		else
			ok(c, "folder marker: listing the folder shows its marker", NULL);
	}
	{
		struct obj_info oi;

		rc = c->ops->stat(&c->b, KEY("list/empty/"), &oi);
		if (rc || oi.size)
			notok(c, "folder marker: stat", "%s size %llu", err(rc), (unsigned long long)oi.size);
		else
			ok(c, "folder marker: stat", NULL);
	}
	{
		const char *k = KEY("list/empty/");

		rc = c->ops->remove(&c->b, &k, 1);
	}
	if (rc)
		notok(c, "folder marker: remove", "%s", err(rc));
	else
		check_list(c, "folder marker: remove", "list/", 1, 0, 0, "a,b.txt,sub.x,sub/(d),sub0");
}

struct many_job {
	struct ctx *c;
	atomic_uint next;
	atomic_int rc;
};

static void *many_worker(void *arg)
{
	struct many_job *j = arg;
	struct ctx *c = j->c;
	unsigned i;

	while ((i = atomic_fetch_add(&j->next, 1)) < c->many && !atomic_load(&j->rc)) {
		char rel[64], kbuf[1024];
		int rc;

		snprintf(rel, sizeof(rel), "many/k%06u", i);
		/* the spool is shared: pwrite at distinct offsets is safe, but spool_len is not; use
		 * a fixed range of it (the first bytes, written before the threads start) */
		rc = c->ops->put(&c->b, KEY(rel), c->spool, 0, i % 7, NULL);
		if (rc)
			atomic_store(&j->rc, rc);
	}
	return NULL;
}

static void t_many(struct ctx *c)
{
	struct many_job j = { .c = c };
	pthread_t th[8];
	struct names l = { .skip_markers = 1 };
	char kbuf[1024], name[64];
	double t0 = now_s();
	unsigned nth = c->threads < 8 ? c->threads : 8, lim;
	int rc;

	for (unsigned i = 0; i < nth; i++)
		pthread_create(&th[i], NULL, many_worker, &j);
	for (unsigned i = 0; i < nth; i++)
		pthread_join(th[i], NULL);
	if (j.rc) {
		notok(c, "pagination: put keys", "%s", err(j.rc));
		return;
	}
	ok(c, "pagination: put keys", "%u keys from %u threads in %.1f s", c->many, nth, now_s() - t0);

	for (int delim = 1; delim >= 0; delim--) {
		const char *what = delim ? "pagination: list every key (delimiter)" :
			"pagination: list every key (recursive)";

		rc = list(c, KEY("many/"), delim, 0, &l);
		if (rc) {
			notok(c, what, "%s", err(rc));
		} else if (l.n != c->many) {
			notok(c, what, "%zu keys listed, expected %u", l.n, c->many);
		} else {
			size_t i;

			for (i = 0; i < l.n; i++) {
				snprintf(name, sizeof(name), "k%06zu", i);
				if (strcmp(l.v[i], name) || l.oi[i].size != i % 7)
					break;
			}
			if (i < l.n)
				notok(c, what, "entry %zu is %s size %llu, expected %s size %zu", i, l.v[i],
				      (unsigned long long)l.oi[i].size, name, i % 7);
			else
				ok(c, what, NULL);
		}
		names_free(&l);
		l.skip_markers = 1;
	}
	lim = c->many / 2 + 7;
	l.skip_markers = 0;
	rc = list(c, KEY("many/"), 0, lim, &l);
	/* the folder's own marker, where the store lists one, counts toward the limit */
	if (rc || l.raw > l.n + 1 || l.raw != (lim < c->many + (l.raw - l.n) ? lim : c->many + (l.raw - l.n)))
		notok(c, "pagination: list with a limit past the first page", "%s, %zu keys", err(rc), l.n);
	else
		ok(c, "pagination: list with a limit past the first page", NULL);
	names_free(&l);
}

/* ---- chunked uploads ---- */
struct up_job {
	struct ctx *c;
	struct upload *up;
	const struct part *parts;
	unsigned nparts;
	atomic_uint next;
	atomic_int rc;
};

static void *part_worker(void *arg)
{
	struct up_job *j = arg;
	unsigned i;

	while ((i = atomic_fetch_add(&j->next, 1)) < j->nparts && !atomic_load(&j->rc)) {
		int rc = j->c->ops->upload_part(j->up, &j->parts[i]);

		if (rc)
			atomic_store(&j->rc, rc);
	}
	return NULL;
}

/* Upload the parts, from several threads unless the store wants them in order. */
static int send_parts(struct ctx *c, struct upload *up, const struct part *parts, unsigned n, unsigned *nth)
{
	struct up_job j = { .c = c, .up = up, .parts = parts, .nparts = n };
	pthread_t th[16];
	unsigned t = c->ops->parts_any_order ? c->threads : 1;

	if (t > 16)
		t = 16;
	if (t > n)
		t = n ? n : 1;
	*nth = t;
	if (t == 1) {
		part_worker(&j);
		return j.rc;
	}
	for (unsigned i = 0; i < t; i++)
		pthread_create(&th[i], NULL, part_worker, &j);
	for (unsigned i = 0; i < t; i++)
		pthread_join(th[i], NULL);
	return j.rc;
}

static uint64_t part_size(struct ctx *c, uint64_t total)
{
	uint64_t ps = 8 * MIB;

	if (ps < c->ops->min_part)
		ps = (c->ops->min_part + MIB - 1) / MIB * MIB;
	if (c->ops->max_part && ps > c->ops->max_part)
		ps = c->ops->max_part / MIB * MIB;
	while (c->ops->max_parts && (total + ps - 1) / ps > c->ops->max_parts - 1)
		ps *= 2;
	return ps;
}

/* Cut [spool_off, +len) into parts landing at obj_off. */
static unsigned cut(struct ctx *c, off_t spool_off, uint64_t len, uint64_t obj_off, uint64_t ps,
		    struct part **out)
{
	unsigned n = (unsigned)((len + ps - 1) / ps);
	struct part *p = calloc(n ? n : 1, sizeof(*p));

	if (!p)
		exit(2);
	for (unsigned i = 0; i < n; i++) {
		p[i].n = i + 1;
		p[i].obj_off = obj_off + i * ps;
		p[i].len = len - i * ps < ps ? len - i * ps : ps;
		p[i].fd = c->spool;
		p[i].fd_off = spool_off + (off_t)(i * ps);
	}
	*out = p;
	return n;
}

struct find {
	const char *name;
	int found;
	uint64_t size;
};

static int find_fn(void *arg, const char *name, const struct obj_info *oi)
{
	struct find *f = arg;

	if (!strcmp(name, f->name)) {
		f->found = 1;
		f->size = oi->size;
	}
	return 0;
}

static int listed(struct ctx *c, const char *rel, int uploads, uint64_t *size)
{
	struct find f = { rel, 0, 0 };
	int rc = uploads ? c->ops->list_uploads(&c->b, c->root, find_fn, &f) :
		c->ops->list(&c->b, c->root, 0, 0, find_fn, &f);

	if (size)
		*size = f.size;
	return rc ? rc : f.found;
}

static void t_big(struct ctx *c, struct span *base_out)
{
	uint64_t total = (uint64_t)c->big_mib * MIB, ps = part_size(c, total);
	char kbuf[1024], detail[256], name[128];
	struct upload *up = NULL;
	struct obj_info oi;
	struct part *parts;
	unsigned n, nth;
	off_t at;
	double t0;
	int rc;

	base_out->len = 0;
	at = spool_random(c, total, 42);
	n = cut(c, at, total, 0, ps, &parts);
	snprintf(name, sizeof(name), "chunked upload of %u MiB in %u parts of %llu MiB", c->big_mib, n,
		 (unsigned long long)(ps / MIB));
	t0 = now_s();
	rc = c->ops->upload_begin(&c->b, KEY("big/object.bin"), 0, &up);
	if (rc) {
		notok(c, name, "upload_begin %s", err(rc));
		goto out;
	}
	rc = send_parts(c, up, parts, n, &nth);
	if (rc) {
		notok(c, name, "upload_part %s", err(rc));
		c->ops->upload_abort(up);
		goto out;
	}
	rc = c->ops->stat(&c->b, KEY("big/object.bin"), &oi);
	if (rc != -ENOENT)
		notok(c, "no object before the commit", "stat gave %s", err(rc));
	else
		ok(c, "no object before the commit", NULL);
	rc = c->ops->upload_commit(up, n, NULL);
	if (rc) {
		notok(c, name, "upload_commit %s", err(rc));
		if (c->ops->commit_again)
			c->ops->upload_abort(up);   /* a failed commit left it open */
		goto out;
	}
	ok(c, name, "%u threads, %.0f MB/s", nth, (double)total / 1e6 / (now_s() - t0));

	rc = c->ops->stat(&c->b, KEY("big/object.bin"), &oi);
	if (rc || oi.size != total)
		notok(c, "chunked upload: stat", "%s size %llu", err(rc), (unsigned long long)oi.size);
	else
		ok(c, "chunked upload: stat", NULL);
	{
		struct span s = { at, total };

		t0 = now_s();
		if (verify(c, KEY("big/object.bin"), &s, 1, detail, sizeof(detail)))
			notok(c, "chunked upload: read back byte for byte", "%s", detail);
		else
			ok(c, "chunked upload: read back byte for byte", "%.0f MB/s",
			   (double)total / 1e6 / (now_s() - t0));
		*base_out = s;
	}
out:
	free(parts);
}

static void t_append(struct ctx *c, struct span base)
{
	uint64_t add = 9 * MIB + 12345, ps = part_size(c, base.len + add);
	char kbuf[1024], detail[256];
	struct upload *up = NULL;
	struct part *parts;
	struct span s[2];
	unsigned n, nth;
	off_t at;
	int rc;

	if (!base.len) {
		skip(c, "append to an existing object", "no base object (the chunked upload failed)");
		return;
	}
	if (base.len < c->ops->min_part) {
		skip(c, "append to an existing object", "--big-mib is below the store's minimum part");
		return;
	}
	at = spool_random(c, add, 4242);
	n = cut(c, at, add, base.len, ps, &parts);
	rc = c->ops->upload_begin(&c->b, KEY("big/object.bin"), base.len, &up);
	if (rc) {
		notok(c, "append to an existing object", "upload_begin with base %llu: %s",
		      (unsigned long long)base.len, err(rc));
		goto out;
	}
	rc = send_parts(c, up, parts, n, &nth);
	if (rc) {
		notok(c, "append to an existing object", "upload_part %s", err(rc));
		c->ops->upload_abort(up);
		goto out;
	}
	rc = c->ops->upload_commit(up, n, NULL);
	if (rc) {
		notok(c, "append to an existing object", "upload_commit %s", err(rc));
		if (c->ops->commit_again)
			c->ops->upload_abort(up);   /* a failed commit left it open */
		goto out;
	}
	s[0] = base;
	s[1].off = at;
	s[1].len = add;
	if (verify(c, KEY("big/object.bin"), s, 2, detail, sizeof(detail)))
		notok(c, "append to an existing object", "%s", detail);
	else
		ok(c, "append to an existing object", "%llu + %llu bytes in %u new parts",
		   (unsigned long long)base.len, (unsigned long long)add, n);
out:
	free(parts);
}

static void t_abort(struct ctx *c)
{
	uint64_t len = 3 * MIB + 77;
	char kbuf[1024];
	struct upload *up = NULL;
	struct obj_info oi;
	struct part *parts;
	uint64_t sz = 0;
	unsigned nth;
	off_t at = spool_random(c, len, 7);
	int rc;

	cut(c, at, len, 0, len, &parts);
	rc = c->ops->upload_begin(&c->b, KEY("up/pending.bin"), 0, &up);
	if (!rc)
		rc = send_parts(c, up, parts, 1, &nth);
	if (rc) {
		notok(c, "abort an upload", "upload %s", err(rc));
		if (up)
			c->ops->upload_abort(up);
		goto out;
	}
	if (!c->ops->list_uploads) {
		skip(c, "list_uploads shows an upload in progress", "the backend has no list_uploads");
	} else {
		rc = listed(c, "up/pending.bin", 1, &sz);
		if (rc == -ENOSYS || rc == -EOPNOTSUPP)
			skip(c, "list_uploads shows an upload in progress",
			     "the server does not implement it");
		else if (rc != 1)
			notok(c, "list_uploads shows an upload in progress", "%s",
			      rc < 0 ? err(rc) : "not listed");
		else
			ok(c, "list_uploads shows an upload in progress", "%llu bytes reported",
			   (unsigned long long)sz);
	}
	c->ops->upload_abort(up);
	rc = c->ops->stat(&c->b, KEY("up/pending.bin"), &oi);
	if (rc != -ENOENT)
		notok(c, "abort an upload", "stat after abort gave %s", err(rc));
	else if ((rc = listed(c, "up/pending.bin", 0, NULL)) != 0)
		notok(c, "abort an upload", "%s", rc < 0 ? err(rc) : "still listed");
	else
		ok(c, "abort an upload", NULL);
	if (c->ops->list_uploads) {
		rc = listed(c, "up/pending.bin", 1, NULL);
		if (rc == -ENOSYS || rc == -EOPNOTSUPP)
			skip(c, "list_uploads forgets an aborted upload", "the server does not implement it");
		else if (rc)
			notok(c, "list_uploads forgets an aborted upload", "%s",
			      rc < 0 ? err(rc) : "still listed");
		else
			ok(c, "list_uploads forgets an aborted upload", NULL);
	}
out:
	free(parts);
}

/* Crash recovery: an open upload discarded from its token alone, as the next mount does after a kill -9
 * (the struct is only freed afterwards, by an abort that then finds nothing). */
static void t_forget(struct ctx *c)
{
	const char *name = "upload_forget discards an open upload from its token";
	uint64_t len = 3 * MIB + 77;
	char kbuf[1024], *token = NULL;
	struct upload *up = NULL;
	struct obj_info oi;
	struct part *parts;
	unsigned nth;
	off_t at = spool_random(c, len, 11);
	int rc;

	if (!c->ops->upload_token || !c->ops->upload_forget) {
		skip(c, name, "the backend has no upload_token/upload_forget");
		return;
	}
	cut(c, at, len, 0, len, &parts);
	rc = c->ops->upload_begin(&c->b, KEY("up/forgotten.bin"), 0, &up);
	if (!rc)
		rc = send_parts(c, up, parts, 1, &nth);
	if (!rc && !(token = c->ops->upload_token(up)))
		rc = -ENOMEM;
	if (rc) {
		notok(c, name, "upload %s", err(rc));
		goto out;
	}
	rc = c->ops->upload_forget(&c->b, KEY("up/forgotten.bin"), token);
	if (rc == -EOPNOTSUPP) {
		skip(c, name, "the server cannot discard uploads");
		goto out;
	}
	if (rc) {
		notok(c, name, "forget: %s", err(rc));
		goto out;
	}
	rc = c->ops->stat(&c->b, KEY("up/forgotten.bin"), &oi);
	if (rc != -ENOENT) {
		notok(c, name, "stat after it gave %s", err(rc));
		goto out;
	}
	if (c->ops->list_uploads && (rc = listed(c, "up/forgotten.bin", 1, NULL)) > 0) {
		notok(c, name, "list_uploads still shows it");
		goto out;
	}
	/* the same record once more (a crash before it was removed): nothing is left */
	rc = c->ops->upload_forget(&c->b, KEY("up/forgotten.bin"), token);
	if (rc && rc != -ENOENT)
		notok(c, name, "a second forget gave %s", err(rc));
	else if (c->ops->upload_forget(&c->b, KEY("up/forgotten.bin"), "../not a token\x01") != -EINVAL)
		notok(c, name, "a malformed token was not refused with EINVAL");
	else
		ok(c, name, "the second time: %s", rc ? "nothing left" : "done again");
out:
	if (up)
		c->ops->upload_abort(up);
	free(token);
	free(parts);
}

static void t_copy_remove(struct ctx *c)
{
	unsigned char a[SMALL + 10], b[SMALL + 10];
	char kbuf[1024], k2[1024], k3[1024], k4[1024], k5[1024];
	const char *batch[5];
	struct obj_info oi;
	ssize_t n1, n2;
	int rc;

	rc = c->ops->copy(&c->b, KEY("small.bin"), K(c, k2, sizeof(k2), "copy/small-copy.bin"));
	n1 = c->ops->read(&c->b, KEY("small.bin"), 0, sizeof(a), a);
	n2 = c->ops->read(&c->b, k2, 0, sizeof(b), b);
	if (rc || n1 != SMALL || n2 != SMALL || memcmp(a, b, SMALL))
		notok(c, "copy", "copy %s, read %zd and %zd", err(rc), n1, n2);
	else
		ok(c, "copy", NULL);

	rc = c->ops->copy(&c->b, KEY("no/such/key"), K(c, k3, sizeof(k3), "copy/none"));
	if (rc != -ENOENT)
		notok(c, "copy of a missing key", "gave %s, expected -ENOENT", err(rc));
	else
		ok(c, "copy of a missing key", NULL);

	K(c, k4, sizeof(k4), "copy/moved.bin");
	if (!c->ops->move) {
		skip(c, "move", "the backend has no move (copy + remove)");
		snprintf(k4, sizeof(k4), "%s", k2);
	} else {
		rc = c->ops->move(&c->b, k2, k4);
		n2 = c->ops->read(&c->b, k4, 0, sizeof(b), b);
		if (rc || n2 != SMALL || memcmp(a, b, SMALL))
			notok(c, "move", "move %s, read %zd", err(rc), n2);
		else if ((rc = c->ops->stat(&c->b, k2, &oi)) != -ENOENT)
			notok(c, "move", "the source is still there (%s)", err(rc));
		else
			ok(c, "move", NULL);
	}

	batch[0] = strdup(KEY("small.bin"));
	batch[1] = strdup(KEY("empty"));
	batch[2] = k4;
	batch[3] = K(c, k5, sizeof(k5), "never/existed");
	batch[4] = KEY("empty2");
	rc = c->ops->remove(&c->b, batch, 5);
	if (rc) {
		notok(c, "remove a batch with a missing key", "%s", err(rc));
	} else {
		int left = 0;

		for (int i = 0; i < 5; i++)
			left += c->ops->stat(&c->b, batch[i], &oi) != -ENOENT;
		if (left)
			notok(c, "remove a batch with a missing key", "%d keys still there", left);
		else
			ok(c, "remove a batch with a missing key", NULL);
	}
	free((char *)batch[0]);
	free((char *)batch[1]);
}

static void t_statfs(struct ctx *c)
{
	uint64_t total = 0, avail = 0;
	int rc;

	if (!c->ops->statfs) {
		skip(c, "statfs", "unbounded store");
		return;
	}
	rc = c->ops->statfs(&c->b, &total, &avail);
	if (rc || avail > total || !total)
		notok(c, "statfs", "%s total %llu avail %llu", err(rc), (unsigned long long)total,
		      (unsigned long long)avail);
	else
		ok(c, "statfs", "%llu GiB free", (unsigned long long)(avail >> 30));
}

static void t_bad_secret(struct ctx *c)
{
	struct secret bad;
	struct backend b2 = { 0 };
	struct backend_conf conf = c->conf;
	char *why = NULL;
	int rc;

	rc = secret_load(&bad, c->bad_secret_dir, &why);
	if (rc) {
		notok(c, "open with wrong credentials", "cannot load %s: %s", c->bad_secret_dir,
		      why ? why : "");
		free(why);
		return;
	}
	conf.secret = &bad;
	b2.ops = c->ops;
	b2.conf = &conf;
	rc = c->ops->open(&b2, &conf, &why);
	if (!rc) {
		notok(c, "open with wrong credentials", "open succeeded");
		c->ops->close(&b2);
	} else if (!why || !*why || strchr(why, '\n')) {
		notok(c, "open with wrong credentials", "rc %s but no one-line reason", err(rc));
	} else {
		int leak = 0;

		/* the reason may name a key id, never a secret value */
		for (unsigned i = 0; i < bad.n; i++)
			if (strlen(bad.kv[i].val) >= 12 && strstr(why, bad.kv[i].val) &&
			    !strstr(bad.kv[i].key, "ID") && !strstr(bad.kv[i].key, "NAME") &&
			    !strstr(bad.kv[i].key, "USER") && !strstr(bad.kv[i].key, "URL"))
				leak = 1;
		if (leak)
			notok(c, "open with wrong credentials", "the reason shows a secret: %s", why);
		else
			ok(c, "open with wrong credentials", "%s: %s", err(rc), why);
	}
	free(why);
	secret_free(&bad);
}

/* Objects before folder markers, deeper markers first: a directory-backed store (file://) can only
 * drop a folder once it is empty, and a batch may be split. */
static int removal_order(const void *a, const void *b)
{
	const char *x = *(const char *const *)a, *y = *(const char *const *)b;
	size_t lx = strlen(x), ly = strlen(y);
	int mx = x[lx - 1] == '/', my = y[ly - 1] == '/';

	if (mx != my)
		return mx - my;
	return mx ? (int)ly - (int)lx : 0;
}

static void cleanup(struct ctx *c)
{
	struct names l = { 0 };
	const char **keys;
	size_t done = 0;
	int rc;

	rc = list(c, c->root, 0, 0, &l);
	if (rc) {
		notok(c, "cleanup", "list %s", err(rc));
		return;
	}
	keys = calloc(l.n + 1, sizeof(*keys));
	for (size_t i = 0; i < l.n; i++) {
		char *k = malloc(strlen(c->root) + strlen(l.v[i]) + 1);

		sprintf(k, "%s%s", c->root, l.v[i]);
		keys[i] = k;
	}
	keys[l.n] = c->root;    /* the prefix's own marker where the store has one */
	qsort(keys, l.n + 1, sizeof(*keys), removal_order);
	for (done = 0; done < l.n + 1 && !rc; done += 1000) {
		size_t k = l.n + 1 - done < 1000 ? l.n + 1 - done : 1000;

		rc = c->ops->remove(&c->b, keys + done, k);
	}
	for (size_t i = 0; i < l.n + 1; i++)
		if (keys[i] != c->root)
			free((char *)keys[i]);
	free(keys);
	names_free(&l);
	if (rc) {
		notok(c, "cleanup", "remove %s", err(rc));
		return;
	}
	rc = list(c, c->root, 0, 0, &l);
	if (rc || l.n)
		notok(c, "cleanup", "%s, %zu keys left", err(rc), l.n);
	else
		ok(c, "cleanup", NULL);
	names_free(&l);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: backend_check SOURCE [--secret-dir D] [--endpoint URL] [--region R]\n"
		"         [--addressing A] [--big-mib N] [--many N] [--prefix P] [--threads N]\n"
		"         [--bad-secret-dir D] [--hold SECONDS] [--debug]\n"
		"Checks a store through the snapfs backend interface, below a unique prefix that it\n"
		"removes at the end.\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "secret-dir", required_argument, NULL, 's' },
		{ "bad-secret-dir", required_argument, NULL, 'B' },
		{ "endpoint", required_argument, NULL, 'e' },
		{ "region", required_argument, NULL, 'r' },
		{ "addressing", required_argument, NULL, 'a' },
		{ "big-mib", required_argument, NULL, 'b' },
		{ "many", required_argument, NULL, 'm' },
		{ "prefix", required_argument, NULL, 'p' },
		{ "threads", required_argument, NULL, 't' },
		{ "hold", required_argument, NULL, 'H' },
		{ "debug", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct ctx ctx = { .big_mib = 24, .many = 1200, .threads = 4 }, *c = &ctx;
	char spool_path[] = "/tmp/backend_check.XXXXXX", host[64] = "host", *why = NULL;
	const char *tmpdir = getenv("TMPDIR");
	char *spool_name = NULL;
	struct span base;
	unsigned hold_s = 0;
	int o, rc;

	while ((o = getopt_long(argc, argv, "dh", opts, NULL)) != -1) {
		switch (o) {
		case 's': c->secret_dir = optarg; break;
		case 'B': c->bad_secret_dir = optarg; break;
		case 'e': c->endpoint = optarg; break;
		case 'r': c->region = optarg; break;
		case 'a': c->addressing = optarg; break;
		case 'b': c->big_mib = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'm': c->many = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'p': c->prefix = optarg; break;
		case 't': c->threads = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'H': hold_s = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'd': log_setup(LOG_LVL_DEBUG, NULL, 0); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind + 1 != argc || !c->big_mib || !c->threads) {
		usage(stderr);
		return 2;
	}
	c->url = argv[optind];
	setvbuf(stdout, NULL, _IOLBF, 0);

	rc = backend_open_source(c->url, &(struct backend_opts){ .secret_dir = c->secret_dir, .endpoint = c->endpoint,
				 .region = c->region, .addressing = c->addressing, .timeout_s = 30, .retries = 3 },
				 &c->src, &c->sec, &c->conf, &c->b, &why);
	if (rc && !c->b.ops) {
		printf("not ok - SOURCE: %s\n", why ? why : err(rc));
		free(why);
		return 1;
	}
	c->ops = c->b.ops;
	if (rc) {
		notok(c, "open", "%s", why ? why : err(rc));
		free(why);
		goto done;
	}
	ok(c, "open", "%s", c->url);
	/* --hold: outlive short-lived credentials before the first request, so renewal is exercised
	 * whatever the machine's speed */
	if (hold_s)
		sleep(hold_s);

	gethostname(host, sizeof(host));
	host[sizeof(host) - 1] = 0;
	{
		char rel[256], *k;

		snprintf(rel, sizeof(rel), "%s%ssnapfs-check-%s-%d-%lld/", c->prefix ? c->prefix : "",
			 c->prefix && *c->prefix ? "/" : "", host, (int)getpid(), (long long)time(NULL));
		k = source_key(&c->src, rel);
		snprintf(c->root, sizeof(c->root), "%s", k);
		free(k);
	}
	if (tmpdir && *tmpdir && asprintf(&spool_name, "%s/backend_check.XXXXXX", tmpdir) < 0)
		spool_name = NULL;
	c->spool = mkstemp(spool_name ? spool_name : spool_path);
	if (c->spool < 0) {
		perror("backend_check: spool file");
		return 2;
	}
	unlink(spool_name ? spool_name : spool_path);
	free(spool_name);
	/* the first bytes are shared by the many-keys threads */
	spool_add(c, "0123456789abcdef", 16);

	t_small(c);
	t_list(c);
	if (c->many)
		t_many(c);
	t_big(c, &base);
	t_append(c, base);
	t_abort(c);
	t_forget(c);
	t_copy_remove(c);
	t_statfs(c);
	if (c->bad_secret_dir)
		t_bad_secret(c);
	cleanup(c);
	close(c->spool);
	c->ops->close(&c->b);
done:
	secret_free(&c->sec);
	source_free(&c->src);
	printf("%d passed, %d failed, %d skipped\n", c->passed, c->failed, c->skipped);
	return c->failed ? 1 : 0;
}
