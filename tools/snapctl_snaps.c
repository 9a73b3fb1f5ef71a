/* Snapshots as the store holds them: keys [PREFIX/]kubedb/NS/DB/SNAP/..., grouped per snapshot, with the
 * uploads in progress below each (list_uploads) telling Running from Succeeded. */
#include "tools/snapctl.h"
#include "fs/layout.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct walk {
	struct sc_snaps *s;
	const char *pre;       /* the part of the listed prefix below kubedb/: "", "ns/", "ns/db/" */
	int uploads;           /* feeding list_uploads entries */
	int want_files;
	int with_archive;
	int err;
};

static int name_ok(const char *s, size_t n)
{
	return n && !(n == 1 && s[0] == '.') && !(n == 2 && s[0] == '.' && s[1] == '.');
}

int sc_parse_snap_ref(const char *ref, int need, char **ns, char **db, char **snap)
{
	char *out[3] = { NULL, NULL, NULL }, *copy = strdup(ref), *p, *tok;
	size_t len = copy ? strlen(copy) : 0;
	int n = 0, bad = !copy;

	if (len && copy[len - 1] == '/')
		copy[len - 1] = 0;      /* "demo/pg/" names the same as "demo/pg" */
	for (p = copy; !bad && (tok = strsep(&p, "/"));) {
		if (n == 3 || !name_ok(tok, strlen(tok)) || !(out[n++] = strdup(tok)))
			bad = 1;
	}
	if (bad || (need && n != need) || (!need && (n < 1 || n > 2))) {
		for (int i = 0; i < 3; i++)
			free(out[i]);
		free(copy);
		return sc_fail("'%s' is not %s", ref, need == 3 ? "NAMESPACE/DATABASE/SNAPSHOT" :
			       "NAMESPACE or NAMESPACE/DATABASE");
	}
	free(copy);
	*ns = out[0];
	*db = out[1];
	if (snap)
		*snap = out[2];
	else
		free(out[2]);
	return 0;
}

static struct sc_snap *find_snap(struct sc_snaps *s, const char *ns, size_t nl, const char *db, size_t dl,
				 const char *name, size_t sl)
{
	struct sc_snap *sn;

	/* keys arrive sorted, so the snapshot asked for is nearly always the last one */
	for (size_t i = s->n; i-- > 0;) {
		sn = &s->v[i];
		if (strlen(sn->ns) == nl && !memcmp(sn->ns, ns, nl) && strlen(sn->db) == dl &&
		    !memcmp(sn->db, db, dl) && strlen(sn->name) == sl && !memcmp(sn->name, name, sl))
			return sn;
	}
	if (s->n == s->cap) {
		struct sc_snap *nv = realloc(s->v, (s->cap = s->cap ? s->cap * 2 : 16) * sizeof(*nv));

		if (!nv)
			return NULL;
		s->v = nv;
	}
	sn = &s->v[s->n];
	memset(sn, 0, sizeof(*sn));
	sn->ns = strndup(ns, nl);
	sn->db = strndup(db, dl);
	sn->name = strndup(name, sl);
	if (!sn->ns || !sn->db || !sn->name) {
		free(sn->ns);
		free(sn->db);
		free(sn->name);
		return NULL;
	}
	s->n++;
	return sn;
}

static int add_file(struct sc_file **v, size_t *n, const char *name, const struct obj_info *oi)
{
	struct sc_file *nv = realloc(*v, (*n + 1) * sizeof(**v));

	if (!nv)
		return -ENOMEM;
	*v = nv;
	nv[*n].name = strdup(name);
	if (!nv[*n].name)
		return -ENOMEM;
	nv[*n].oi = *oi;
	(*n)++;
	return 0;
}

static int on_key(void *arg, const char *name, const struct obj_info *oi)
{
	struct walk *w = arg;
	char rel[4096];
	const char *c[3], *e[3], *rest;
	struct sc_snap *sn;
	int n = 0;

	if (snprintf(rel, sizeof(rel), "%s%s", w->pre, name) >= (int)sizeof(rel))
		return 0;
	/* NS/DB/SNAP/rest: fewer levels is a folder or a stray file above the snapshots */
	for (const char *p = rel; n < 3; n++) {
		const char *slash = strchr(p, '/');

		if (!slash)
			return 0;
		c[n] = p;
		e[n] = slash;
		p = slash + 1;
	}
	rest = e[2] + 1;
	for (int i = 0; i < 3; i++)
		if (!name_ok(c[i], (size_t)(e[i] - c[i])))
			return 0;
	if (!w->with_archive && (size_t)(e[2] - c[2]) == strlen(SC_ARCHIVE) &&
	    !memcmp(c[2], SC_ARCHIVE, strlen(SC_ARCHIVE)))
		return 0;
	sn = find_snap(w->s, c[0], (size_t)(e[0] - c[0]), c[1], (size_t)(e[1] - c[1]), c[2],
		       (size_t)(e[2] - c[2]));
	if (!sn) {
		w->err = -ENOMEM;
		return 1;
	}
	if (w->uploads) {
		sn->uploads++;
		sn->upload_bytes += oi->size;
		if (oi->mtime > sn->mtime)
			sn->mtime = oi->mtime;
		if (w->want_files && add_file(&sn->up, &sn->nup, rest, oi))
			w->err = -ENOMEM;
		return w->err != 0;
	}
	if (*rest && rest[strlen(rest) - 1] != '/') {
		sn->files++;
		sn->size += oi->size;
		/* the first object's time replaces a folder marker's seen before it */
		if (sn->files == 1 || oi->mtime > sn->mtime)
			sn->mtime = oi->mtime;
	} else if (!sn->files && oi->mtime > sn->mtime) {
		sn->mtime = oi->mtime;     /* an empty snapshot: when its folder was made */
	}
	if (w->want_files && *rest && add_file(&sn->f, &sn->nf, rest, oi))
		w->err = -ENOMEM;
	return w->err != 0;
}

struct unreach_count {
	void (*fn)(void *arg, const char *key, const char *why);
	void *arg;
	int n;
};

static void count_unreachable(void *arg, const char *key, const char *why)
{
	struct unreach_count *u = arg;

	u->n++;
	if (u->fn)
		u->fn(u->arg, key, why);
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int sc_snap_unreachable(const struct sc_snap *sn, void (*fn)(void *arg, const char *key, const char *why),
			void *arg)
{
	struct unreach_count u = { fn, arg, 0 };
	char **names = sn->nf ? malloc(sn->nf * sizeof(*names)) : NULL;

	if (!sn->nf)
		return 0;   /* a snapshot with only an upload in progress: nothing listed yet */
	if (!names)
		return -ENOMEM;
	for (size_t i = 0; i < sn->nf; i++)
		names[i] = sn->f[i].name;
	qsort(names, sn->nf, sizeof(*names), name_cmp);
	layout_unreachable(names, sn->nf, count_unreachable, &u);
	free(names);
	return u.n;
}

static int snap_cmp(const void *a, const void *b)
{
	const struct sc_snap *x = a, *y = b;
	int r = strcmp(x->ns, y->ns);

	if (!r)
		r = strcmp(x->db, y->db);
	return r ? r : strcmp(x->name, y->name);
}

int sc_snaps_collect(struct sc_store *st, const char *ns, const char *db, const char *snap, int want_files,
		     int with_archive, struct sc_snaps *out)
{
	struct walk w = { out, "", 0, want_files, with_archive || snap, 0 };
	char pre[1024];
	char *key;
	int rc;

	memset(out, 0, sizeof(*out));
	snprintf(pre, sizeof(pre), "%s%s%s%s%s%s", ns ? ns : "", ns ? "/" : "", db ? db : "", db ? "/" : "",
		 snap ? snap : "", snap ? "/" : "");
	w.pre = pre;
	if (asprintf(&key, "%s/%s", SC_ROOT, pre) < 0)
		return -ENOMEM;
	{
		char *full = source_key(&st->src, key);

		free(key);
		key = full;
		if (!key)
			return -ENOMEM;
	}
	/* the trailing slash keeps snap1 from matching snap10 */
	rc = st->ops->list(&st->b, key, 0, 0, on_key, &w);
	if (!rc)
		rc = w.err;
	if (!rc && st->ops->list_uploads) {
		w.uploads = 1;
		rc = st->ops->list_uploads(&st->b, key, on_key, &w);
		if (rc == -ENOSYS || rc == -EOPNOTSUPP || rc == -ENOTSUP) {
			rc = 0;     /* the server cannot tell (s3rver has no ListMultipartUploads) */
		} else if (!rc) {
			out->uploads_known = 1;
			rc = w.err;
		}
	}
	free(key);
	if (rc) {
		sc_snaps_free(out);
		return rc;
	}
	if (out->n)
		qsort(out->v, out->n, sizeof(*out->v), snap_cmp);
	return 0;
}

int sc_snap_find(const char *url, const char *ref, const struct sc_opts *o, struct sc_store *st, char **ns,
		 char **db, char **snap, struct sc_snaps *s)
{
	int rc;

	if (sc_parse_snap_ref(ref, 3, ns, db, snap))
		return 2;
	if (sc_store_open(st, url, o))
		return 1;
	rc = sc_snaps_collect(st, *ns, *db, *snap, 1, 1, s);
	if (rc)
		return sc_fail("listing %s: %s", url, strerror(-rc));
	if (!s->n)
		return sc_fail("snapshot %s/%s/%s not found in %s", *ns, *db, *snap, url);
	return 0;
}

void sc_snaps_free(struct sc_snaps *s)
{
	for (size_t i = 0; i < s->n; i++) {
		struct sc_snap *sn = &s->v[i];

		for (size_t j = 0; j < sn->nf; j++)
			free(sn->f[j].name);
		for (size_t j = 0; j < sn->nup; j++)
			free(sn->up[j].name);
		free(sn->f);
		free(sn->up);
		free(sn->ns);
		free(sn->db);
		free(sn->name);
	}
	free(s->v);
	memset(s, 0, sizeof(*s));
}

const char *sc_snap_status(const struct sc_snaps *s, const struct sc_snap *sn)
{
	if (sn->uploads)
		return "Running";
	if (sn->files)
		return "Succeeded";
	return "Empty";
}
