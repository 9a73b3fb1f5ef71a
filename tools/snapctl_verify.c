/* snapctl verify: is this backup intact? Every object of the snapshots asked for is read back from the
 * store and compared with the checksums the store holds (snapctl_vobj.c); one line per object, a
 * summary with the throughput, and an exit status a script can trust. */
#include "tools/snapctl_verify.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (8u << 20)    /* bytes per ranged GET */

struct item {
	const struct sc_snap *sn;
	const char *name;
	char *key;
	struct vr_obj o;
};

struct progress {
	int on;
	uint64_t done, total;
	double start, last;
	const char *what;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void bar_clear(struct progress *pg)
{
	if (pg->on)
		fputs("\r\033[K", stderr);
}

static void bar_draw(struct progress *pg, int force)
{
	char a[32], b[32], r[32];
	double t = now(), el = t - pg->start;
	int fill = pg->total ? (int)(30 * pg->done / pg->total) : 30;

	if (!pg->on || (!force && t - pg->last < 0.2))
		return;
	pg->last = t;
	fprintf(stderr, "\r\033[K[%.*s%*s] %3d%%  %s of %s  %s/s  %s", fill, "##############################",
		30 - fill, "", pg->total ? (int)(100 * pg->done / pg->total) : 100,
		sc_human(pg->done, a, sizeof(a)), sc_human(pg->total, b, sizeof(b)),
		sc_human(el > 0 ? (uint64_t)(pg->done / el) : 0, r, sizeof(r)), pg->what ? pg->what : "");
	fflush(stderr);
}

static void on_bytes(void *arg, uint64_t n)
{
	struct progress *pg = arg;

	pg->done += n;
	bar_draw(pg, 0);
}

static const char *res_word(enum vr_result r, int json)
{
	static const char *const w[] = { "ok", "MISMATCH", "NO-CHECKSUM", "ERROR" };
	static const char *const j[] = { "ok", "mismatch", "no-checksum", "error" };

	return json ? j[r] : w[r];
}

static int usage_err(void)
{
	fputs("usage: snapctl verify SOURCE NAMESPACE/DATABASE/SNAPSHOT | --all [NAMESPACE[/DATABASE]] "
	      "(see snapctl verify --help)\n", stderr);
	return 2;
}

int cmd_verify(int argc, char **argv, const struct sc_opts *o)
{
	char *ns = NULL, *db = NULL, *snap = NULL, hb[32], rb[32];
	struct sc_snaps s = { 0 };
	struct sc_store st = { 0 };
	struct vr_pool *pool = NULL;
	struct item *it = NULL;
	struct progress pg = { 0 };
	size_t n = 0, cnt[4] = { 0 };
	uint64_t bytes = 0;
	double el;
	int rc = 1;

	if (argc < 1 || argc > 2 || (!o->all && argc != 2))
		return usage_err();
	if (argc == 2 && sc_parse_snap_ref(argv[1], o->all ? 0 : 3, &ns, &db, o->all ? NULL : &snap))
		return 2;
	if (sc_store_open(&st, argv[0], o))
		goto out;
	rc = sc_snaps_collect(&st, ns, db, snap, 1, 0, &s);
	if (rc) {
		rc = sc_fail("listing %s: %s", argv[0], strerror(-rc));
		goto out;
	}
	rc = 1;
	if (!s.n) {
		sc_fail("no snapshot %s%s in %s", argc == 2 ? "under " : "", argc == 2 ? argv[1] : "", argv[0]);
		goto out;
	}
	for (size_t i = 0; i < s.n; i++)
		n += s.v[i].nf;
	it = calloc(n ? n : 1, sizeof(*it));
	if (!it) {
		sc_fail("out of memory");
		goto out;
	}
	n = 0;
	for (size_t i = 0; i < s.n; i++) {
		const struct sc_snap *sn = &s.v[i];

		if (sn->uploads && !o->json)
			fprintf(stderr, "note: %s/%s/%s has %u upload%s in progress: its objects are checked as "
				"they are now\n", sn->ns, sn->db, sn->name, sn->uploads, sn->uploads == 1 ? "" : "s");
		for (size_t j = 0; j < sn->nf; j++) {
			const char *name = sn->f[j].name;
			char *rel;

			if (name[strlen(name) - 1] == '/')
				continue;     /* a folder marker */
			if (asprintf(&rel, "%s/%s/%s/%s/%s", SC_ROOT, sn->ns, sn->db, sn->name, name) < 0)
				rel = NULL;
			it[n].key = rel ? source_key(&st.src, rel) : NULL;
			free(rel);
			if (!it[n].key) {
				sc_fail("out of memory");
				goto out;
			}
			it[n].sn = sn;
			it[n].name = name;
			pg.total += sn->f[j].oi.size;
			n++;
		}
	}
	if (!n) {
		sc_fail("%s holds no objects: nothing to verify", argc == 2 ? argv[1] : argv[0]);
		goto out;
	}
	if (vr_pool_new(&pool, &st, o->jobs, CHUNK)) {
		sc_fail("cannot start %u readers: out of resources", o->jobs);
		goto out;
	}
	pg.on = !o->json && isatty(STDERR_FILENO);
	pg.start = now();
	for (size_t i = 0; i < n; i++) {
		struct item *x = &it[i];

		pg.what = x->name;
		bar_draw(&pg, 1);
		if (vr_check(pool, x->key, o->part_size, &x->o, on_bytes, &pg)) {
			bar_clear(&pg);
			sc_fail("out of memory");
			goto out;
		}
		cnt[x->o.res]++;
		if (x->o.res == VR_OK || x->o.res == VR_BAD || x->o.res == VR_NOSUM)
			bytes += x->o.size;
		if (o->json)
			continue;
		bar_clear(&pg);
		printf("%-11s  %s/%s/%s/%s  %s  %s\n", res_word(x->o.res, 0), x->sn->ns, x->sn->db, x->sn->name,
		       x->name, sc_human(x->o.size, hb, sizeof(hb)), x->o.res == VR_OK ? x->o.how : x->o.detail);
		fflush(stdout);
	}
	bar_clear(&pg);
	el = now() - pg.start;
	rc = cnt[VR_BAD] || cnt[VR_ERR] ? 1 : cnt[VR_NOSUM] ? 3 : 0;
	if (o->json) {
		json_t *j = json_object(), *arr = json_array();

		for (size_t i = 0; j && arr && i < n; i++) {
			struct item *x = &it[i];
			char ref[1024];

			snprintf(ref, sizeof(ref), "%s/%s/%s", x->sn->ns, x->sn->db, x->sn->name);
			json_array_append_new(arr, json_pack("{s:s, s:s, s:I, s:s, s:s, s:s, s:s}", "snapshot", ref,
							     "name", x->name, "size", (json_int_t)x->o.size,
							     "result", res_word(x->o.res, 1), "checked", x->o.how,
							     "detail", x->o.detail, "sha256", x->o.sha256));
		}
		if (j) {
			json_object_set_new(j, "objects", arr);
			json_object_set_new(j, "summary", json_pack(
				"{s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:f, s:I, s:b}", "objects", (json_int_t)n,
				"ok", (json_int_t)cnt[VR_OK], "mismatched", (json_int_t)cnt[VR_BAD],
				"no_checksum", (json_int_t)cnt[VR_NOSUM], "unreadable", (json_int_t)cnt[VR_ERR],
				"bytes", (json_int_t)bytes, "seconds", el,
				"bytes_per_second", el > 0 ? bytes / el : 0.0, "parallel_reads", (json_int_t)o->jobs,
				"intact", rc == 0));
		}
		if (!j || json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER))
			rc = sc_fail("out of memory");
		fputc('\n', stdout);
		json_decref(j);
		goto out;
	}
	printf("%zu object%s, %s read in %.1f s (%s/s, %u parallel reads): %zu ok, %zu mismatched, "
	       "%zu without a checksum to compare, %zu unreadable\n", n, n == 1 ? "" : "s",
	       sc_human(bytes, hb, sizeof(hb)), el, sc_human(el > 0 ? (uint64_t)(bytes / el) : bytes, rb, sizeof(rb)),
	       o->jobs, cnt[VR_OK], cnt[VR_BAD], cnt[VR_NOSUM], cnt[VR_ERR]);
	if (rc == 1)
		fprintf(stderr, "snapctl: NOT intact: %zu object%s damaged or unreadable\n", cnt[VR_BAD] + cnt[VR_ERR],
			cnt[VR_BAD] + cnt[VR_ERR] == 1 ? "" : "s");
	else if (rc == 3)
		fprintf(stderr, "snapctl: read whole, but %zu object%s had no checksum to compare\n", cnt[VR_NOSUM],
			cnt[VR_NOSUM] == 1 ? "" : "s");
out:
	vr_pool_free(pool);
	for (size_t i = 0; it && i < n; i++)
		free(it[i].key);
	free(it);
	sc_snaps_free(&s);
	if (st.url)
		sc_store_close(&st);
	free(ns);
	free(db);
	free(snap);
	return rc;
}
