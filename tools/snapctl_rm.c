/* snapctl rm: delete one snapshot, the prefix kubedb/NS/DB/SNAP/ with its slash, through batch deletes. */
#include "tools/snapctl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BATCH 1000    /* S3 DeleteObjects takes at most 1000 keys */

/* Objects first, then folder markers deepest first: a directory-backed store (file://) drops a folder
 * only once it is empty. */
static int removal_order(const void *a, const void *b)
{
	const char *x = *(const char *const *)a, *y = *(const char *const *)b;
	size_t lx = strlen(x), ly = strlen(y);
	int mx = lx && x[lx - 1] == '/', my = ly && y[ly - 1] == '/';

	if (mx != my)
		return mx - my;
	if (mx && lx != ly)
		return lx > ly ? -1 : 1;
	return strcmp(x, y);
}

static int confirm(const char *what)
{
	char line[64];

	fprintf(stderr, "Delete %s? [y/N] ", what);
	fflush(stderr);
	if (!fgets(line, sizeof(line), stdin))
		return 0;
	return !strcmp(line, "y\n") || !strcmp(line, "Y\n") || !strcmp(line, "yes\n") || !strcmp(line, "y") ||
	       !strcmp(line, "yes");
}

struct left {
	unsigned objects;
	char first[256];
};

static int count_left(void *arg, const char *name, const struct obj_info *oi)
{
	struct left *l = arg;
	size_t n = strlen(name);

	if (!n || name[n - 1] == '/')
		return 0;     /* folder markers, the snapshot's own ("") included */
	if (!l->objects++)
		snprintf(l->first, sizeof(l->first), "%s", name);
	return 0;
}

int sc_snap_delete(struct sc_store *st, const struct sc_snap *sn)
{
	char *rel, *base = NULL, **keys = NULL;
	struct left left = { 0 };
	size_t nk = 0;
	int rc;

	if (asprintf(&rel, "%s/%s/%s/%s/", SC_ROOT, sn->ns, sn->db, sn->name) < 0)
		rel = NULL;
	base = rel ? source_key(&st->src, rel) : NULL;
	free(rel);
	if (!base) {
		rc = sc_fail("out of memory");
		goto out;
	}
	keys = calloc(sn->nf + 1, sizeof(*keys));
	if (!keys) {
		rc = sc_fail("out of memory");
		goto out;
	}
	for (size_t i = 0; i < sn->nf; i++)
		if (asprintf(&keys[nk], "%s%s", base, sn->f[i].name) >= 0)
			nk++;
	keys[nk++] = strdup(base);     /* the snapshot folder's own marker, where there is one */
	if (!keys[nk - 1] || nk != sn->nf + 1) {
		rc = sc_fail("out of memory");
		goto out;
	}
	qsort(keys, nk, sizeof(*keys), removal_order);
	for (size_t done = 0; done < nk; done += BATCH) {
		size_t n = nk - done < BATCH ? nk - done : BATCH;

		rc = st->ops->remove(&st->b, (const char *const *)keys + done, n);
		if (rc) {
			rc = sc_fail("deleting %s/%s/%s from %s: %s (%zu of %zu keys done)", sn->ns, sn->db, sn->name,
				     st->url, strerror(-rc), done, nk);
			goto out;
		}
	}
	/* what a listing still shows (a writer that was still at work, a store that lags) is an error */
	rc = st->ops->list(&st->b, base, 0, 0, count_left, &left);
	if (rc) {
		rc = sc_fail("after deleting %s/%s/%s: listing: %s", sn->ns, sn->db, sn->name, strerror(-rc));
		goto out;
	}
	if (left.objects) {
		rc = sc_fail("after deleting %s/%s/%s: %u object%s still listed (first: %s)", sn->ns, sn->db, sn->name,
			     left.objects, left.objects == 1 ? " is" : "s are", left.first);
		goto out;
	}
	rc = 0;
out:
	for (size_t i = 0; keys && i < nk; i++)
		free(keys[i]);
	free(keys);
	free(base);
	return rc;
}

int cmd_rm(int argc, char **argv, const struct sc_opts *o)
{
	char *ns = NULL, *db = NULL, *snap = NULL, what[1024], b[64];
	struct sc_snaps s = { 0 };
	struct sc_store st = { 0 };
	struct sc_snap *sn;
	int rc = 1;

	if (argc != 2) {
		fputs("usage: snapctl rm SOURCE NAMESPACE/DATABASE/SNAPSHOT [--yes] "
		      "(see snapctl rm --help)\n", stderr);
		return 2;
	}
	rc = sc_snap_find(argv[0], argv[1], o, &st, &ns, &db, &snap, &s);
	if (rc)
		goto out;
	sn = &s.v[0];
	if (sn->uploads && !o->force) {
		rc = sc_fail("snapshot %s/%s/%s has %u upload%s in progress (%s): a dump may still be "
			     "running; wait, or pass --force", ns, db, snap, sn->uploads,
			     sn->uploads == 1 ? "" : "s", sn->nup ? sn->up[0].name : "?");
		goto out;
	}
	snprintf(what, sizeof(what), "snapshot %s/%s/%s (%u file%s, %s) from %s", ns, db, snap, sn->files,
		 sn->files == 1 ? "" : "s", sc_human(sn->size, b, sizeof(b)), argv[0]);
	if (!o->yes && !confirm(what)) {
		fprintf(stderr, "Nothing deleted.\n");
		rc = 1;
		goto out;
	}
	rc = sc_snap_delete(&st, sn);
	if (rc)
		goto out;
	printf("deleted snapshot %s/%s/%s: %u file%s, %s\n", ns, db, snap, sn->files,
	       sn->files == 1 ? "" : "s", sc_human(sn->size, b, sizeof(b)));
	rc = 0;
out:
	sc_snaps_free(&s);
	if (st.url)
		sc_store_close(&st);
	free(ns);
	free(db);
	free(snap);
	return rc;
}
