/* snapctl ls and describe: what the store holds, as a table or JSON. */
#include "tools/snapctl.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NCOL 7

static json_t *snap_json(const struct sc_snaps *s, const struct sc_snap *sn)
{
	char t[32];
	int unreach = sc_snap_unreachable(sn, NULL, NULL);

	return json_pack("{s:s, s:s, s:s, s:I, s:I, s:s, s:s, s:I, s:I, s:I}", "name", sn->name,
			 "namespace", sn->ns, "database", sn->db, "files", (json_int_t)sn->files,
			 "size", (json_int_t)sn->size,
			 "last_modified", sc_time(sn->mtime, t, sizeof(t)), "status", sc_snap_status(s, sn),
			 "uploads_in_progress", (json_int_t)sn->uploads, "bytes_in_progress",
			 (json_int_t)sn->upload_bytes, "unreachable", (json_int_t)(unreach > 0 ? unreach : 0));
}

/* describe: one unreachable key */
static void print_unreachable(void *arg, const char *key, const char *why)
{
	json_t *arr = arg;

	if (arr)
		json_array_append_new(arr, json_pack("{s:s, s:s}", "name", key, "reason", why));
	else
		printf("  %s   (%s)\n", key, why);
}

static int print_json(json_t *j)
{
	int rc;

	if (!j)
		return sc_fail("out of memory");
	rc = json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(j);
	fputc('\n', stdout);
	return rc ? 1 : 0;
}

int cmd_ls(int argc, char **argv, const struct sc_opts *o)
{
	static const char *const head[NCOL] = { "NAME", "NAMESPACE", "DATABASE", "FILES", "SIZE",
						"LAST-MODIFIED", "STATUS" };
	char *ns = NULL, *db = NULL, *(*cell)[NCOL] = NULL;
	size_t w[NCOL];
	struct sc_snaps s = { 0 };
	struct sc_store st = { 0 };
	int rc = 1;

	if (argc < 1 || argc > 2) {
		fputs("usage: snapctl ls SOURCE [NAMESPACE[/DATABASE]] (see snapctl ls --help)\n", stderr);
		return 2;
	}
	if (argc == 2 && sc_parse_snap_ref(argv[1], 0, &ns, &db, NULL))
		return 2;
	if (sc_store_open(&st, argv[0], o))
		goto out;
	/* with the names: keys a mount cannot show are counted */
	rc = sc_snaps_collect(&st, ns, db, NULL, 1, o->all, &s);
	if (rc) {
		rc = sc_fail("listing %s: %s", argv[0], strerror(-rc));
		goto out;
	}
	if (o->json) {
		json_t *arr = json_array();

		for (size_t i = 0; arr && i < s.n; i++)
			json_array_append_new(arr, snap_json(&s, &s.v[i]));
		rc = print_json(arr);
		goto out;
	}
	if (!s.n) {
		fprintf(stderr, "No snapshots found in %s%s%s.\n", argv[0], argc == 2 ? " under " : "",
			argc == 2 ? argv[1] : "");
		rc = 0;
		goto out;
	}
	cell = calloc(s.n, sizeof(*cell));
	if (!cell) {
		rc = sc_fail("out of memory");
		goto out;
	}
	for (int c = 0; c < NCOL; c++)
		w[c] = strlen(head[c]);
	for (size_t i = 0; i < s.n; i++) {
		struct sc_snap *sn = &s.v[i];
		char b[64];

		cell[i][0] = strdup(sn->name);
		cell[i][1] = strdup(sn->ns);
		cell[i][2] = strdup(sn->db);
		snprintf(b, sizeof(b), "%u", sn->files);
		cell[i][3] = strdup(b);
		/* a running dump shows what is stored so far */
		cell[i][4] = strdup(sc_human(sn->size + sn->upload_bytes, b, sizeof(b)));
		cell[i][5] = strdup(sc_time(sn->mtime, b, sizeof(b)));
		cell[i][6] = strdup(sc_snap_status(&s, sn));
		for (int c = 0; c < NCOL; c++) {
			if (!cell[i][c])
				cell[i][c] = strdup("?");
			if (cell[i][c] && strlen(cell[i][c]) > w[c])
				w[c] = strlen(cell[i][c]);
		}
	}
	for (int c = 0; c < NCOL; c++)
		printf("%-*s%s", c == NCOL - 1 ? 0 : (int)w[c], head[c], c == NCOL - 1 ? "\n" : "   ");
	for (size_t i = 0; i < s.n; i++)
		for (int c = 0; c < NCOL; c++)
			printf(c == 3 || c == 4 ? "%*s%s" : "%-*s%s", c == NCOL - 1 ? 0 : (int)w[c],
			       cell[i][c] ? cell[i][c] : "?", c == NCOL - 1 ? "\n" : "   ");
	if (!s.uploads_known)
		fprintf(stderr, "note: %s cannot list uploads in progress; "
			"STATUS shows complete objects only\n", argv[0]);
	for (size_t i = 0; i < s.n; i++) {
		int u = sc_snap_unreachable(&s.v[i], NULL, NULL);

		if (u > 0)
			fprintf(stderr, "note: %s/%s/%s holds %d key%s no mount can show (snapctl describe)\n",
				s.v[i].ns, s.v[i].db, s.v[i].name, u, u == 1 ? "" : "s");
	}
	rc = 0;
out:
	if (cell)
		for (size_t i = 0; i < s.n; i++)
			for (int c = 0; c < NCOL; c++)
				free(cell[i][c]);
	free(cell);
	sc_snaps_free(&s);
	if (st.url)
		sc_store_close(&st);
	free(ns);
	free(db);
	return rc;
}

int cmd_describe(int argc, char **argv, const struct sc_opts *o)
{
	char *ns = NULL, *db = NULL, *snap = NULL, *key = NULL, *path = NULL, store[512], b[64], t[32];
	struct sc_snaps s = { 0 };
	struct sc_store st = { 0 };
	struct sc_snap *sn;
	int rc = 1;

	if (argc != 2) {
		fputs("usage: snapctl describe SOURCE NAMESPACE/DATABASE/SNAPSHOT "
		      "(see snapctl describe --help)\n", stderr);
		return 2;
	}
	rc = sc_snap_find(argv[0], argv[1], o, &st, &ns, &db, &snap, &s);
	if (rc)
		goto out;
	sn = &s.v[0];
	sc_store_name(&st, store, sizeof(store));
	if (asprintf(&key, "%s/%s/%s/%s/", SC_ROOT, ns, db, snap) < 0)
		key = NULL;
	{
		char *full = key ? source_key(&st.src, key) : NULL;

		path = full ? sc_object_path(&st, full) : NULL;
		free(full);
	}
	if (o->json) {
		json_t *j = snap_json(&s, sn), *files = json_array(), *ups = json_array();

		for (size_t i = 0; files && i < sn->nf; i++) {
			const struct obj_info *oi = &sn->f[i].oi;
			size_t n = strlen(sn->f[i].name);

			json_t *f = json_pack("{s:s, s:I, s:s, s:s, s:b}", "name", sn->f[i].name,
					      "size", (json_int_t)oi->size, "last_modified",
					      sc_time(oi->mtime, t, sizeof(t)), "etag", oi->etag,
					      "folder", n && sn->f[i].name[n - 1] == '/');

			json_array_append_new(files, f);
		}
		for (size_t i = 0; ups && i < sn->nup; i++) {
			json_t *u = json_pack("{s:s, s:I}", "name", sn->up[i].name, "bytes_uploaded",
					      (json_int_t)sn->up[i].oi.size);

			json_array_append_new(ups, u);
		}
		if (j) {
			json_object_set_new(j, "store", json_string(store));
			json_object_set_new(j, "path", json_string(path ? path : ""));
			json_object_set_new(j, "objects", files);
			json_object_set_new(j, "uploads", ups);
			json_object_set_new(j, "uploads_known", json_boolean(s.uploads_known));
			json_t *un = json_array();

			sc_snap_unreachable(sn, print_unreachable, un);
			json_object_set_new(j, "unreachable_keys", un);
		}
		rc = print_json(j);
		goto out;
	}
	printf("Name:           %s\n", sn->name);
	printf("Namespace:      %s\n", sn->ns);
	printf("Database:       %s\n", sn->db);
	printf("Store:          %s\n", store);
	printf("Path:           %s\n", path ? path : "?");
	printf("Status:         %s%s\n", sc_snap_status(&s, sn),
	       s.uploads_known ? "" : " (the store cannot list uploads in progress)");
	printf("Files:          %u\n", sn->files);
	printf("Size:           %s (%llu bytes)\n", sc_human(sn->size, b, sizeof(b)),
	       (unsigned long long)sn->size);
	printf("Last Modified:  %s\n", sc_time(sn->mtime, t, sizeof(t)));
	if (sn->nf) {
		size_t wn = 4, ws = 4;

		for (size_t i = 0; i < sn->nf; i++) {
			if (strlen(sn->f[i].name) > wn)
				wn = strlen(sn->f[i].name);
			snprintf(b, sizeof(b), "%llu", (unsigned long long)sn->f[i].oi.size);
			if (strlen(b) > ws)
				ws = strlen(b);
		}
		printf("Objects:\n  %-*s   %*s   %-20s   %s\n", (int)wn, "NAME", (int)ws, "SIZE",
		       "LAST-MODIFIED", "ETAG");
		for (size_t i = 0; i < sn->nf; i++)
			printf("  %-*s   %*llu   %-20s   %s\n", (int)wn, sn->f[i].name, (int)ws,
			       (unsigned long long)sn->f[i].oi.size, sc_time(sn->f[i].oi.mtime, t, sizeof(t)),
			       *sn->f[i].oi.etag ? sn->f[i].oi.etag : "-");
	}
	if (sc_snap_unreachable(sn, NULL, NULL) > 0) {
		printf("Unreachable through a mount:\n");
		sc_snap_unreachable(sn, print_unreachable, NULL);
	}
	if (sn->nup) {
		printf("Uploads in progress:\n");
		for (size_t i = 0; i < sn->nup; i++)
			printf("  %s   %s uploaded\n", sn->up[i].name,
			       sc_human(sn->up[i].oi.size, b, sizeof(b)));
	}
	rc = 0;
out:
	sc_snaps_free(&s);
	if (st.url)
		sc_store_close(&st);
	free(key);
	free(path);
	free(ns);
	free(db);
	free(snap);
	return rc;
}
