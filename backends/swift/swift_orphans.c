/* Swift uploads in progress and orphan segments: the segment sets of ours that no manifest of the
 * container uses. */
#include "backends/swift/swift_priv.h"
#include "common/buf.h"
#include "common/crypto.h"
#include "common/encode.h"
#include "backends/secret.h"
#include "backends/swift/swift_auth.h"
#include "common/log.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <unistd.h>

/* One segment set "<key>/<uid>/..." of ours (uid: 16 hex digits) in the segment container. */
struct segset {
	char *key, *uid;
	uint64_t bytes;
};

struct scan {
	struct sw *sw;
	const char *prefix;
	struct segset *v;
	size_t n, cap;
	int err;
};

static int is_uid(const char *s, size_t n)
{
	if (n != 16)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

static int scan_seg(void *arg, const char *name, const struct obj_info *oi)
{
	struct scan *sc = arg;
	char *full = NULL, *last, *uid;
	struct segset *cur;

	if (asprintf(&full, "%s%s", sc->prefix, name) < 0)
		goto nomem;
	last = strrchr(full, '/');
	if (!last || last == full)
		goto skip;
	*last = 0;
	uid = strrchr(full, '/');
	if (!uid || !is_uid(uid + 1, strlen(uid + 1)))
		goto skip;   /* not a segment name of ours (another tool's layout) */
	*uid++ = 0;
	cur = sc->n ? &sc->v[sc->n - 1] : NULL;
	if (cur && !strcmp(cur->key, full) && !strcmp(cur->uid, uid)) {
		cur->bytes += oi->size;
		goto skip;
	}
	if (sc->n == sc->cap) {
		size_t cap = sc->cap ? sc->cap * 2 : 16;
		struct segset *v = realloc(sc->v, cap * sizeof(*v));

		if (!v)
			goto nomem;
		sc->v = v;
		sc->cap = cap;
	}
	cur = &sc->v[sc->n];
	cur->key = strdup(full);
	cur->uid = strdup(uid);
	cur->bytes = oi->size;
	if (!cur->key || !cur->uid) {
		free(cur->key);
		free(cur->uid);
		goto nomem;
	}
	sc->n++;
skip:
	free(full);
	return 0;
nomem:
	free(full);
	sc->err = -ENOMEM;
	return 1;
}

/* Every manifest of the container: the segments they use, and the DLO prefixes. */
struct refs {
	struct sw *sw;
	struct sw_strv segs, dlo;
	int err;
};

static int scan_obj(void *arg, const char *name, const struct obj_info *oi)
{
	struct refs *r = arg;
	struct sw *sw = r->sw;
	struct sw_objkind k;
	size_t len = strlen(name);

	/* the listing passes only what may be a manifest (an slo_etag, or 0 bytes listed) */
	if (oi->is_dir || !len || name[len - 1] == '/')
		return 0;
	if (sw_head(sw, name, &k)) {
		r->err = -EIO;
		return 1;
	}
	if (k.slo) {
		k.disowned = 0;   /* used all the same */
		r->err = sw_owned_segments(sw, name, &k, &r->segs);
	} else if (k.dlo && k.dlo_manifest) {
		r->err = sw_strv_add(&r->dlo, k.dlo_manifest);
	}
	sw_objkind_free(&k);
	return r->err ? 1 : 0;
}

/* Segment sets below prefix that no manifest of the container uses: uploads in progress, or left
 * by a crash. Every manifest of the container is read (not only those below prefix), so a set a
 * renamed object uses elsewhere is never reported. */
int sw_list_uploads(struct backend *b, const char *prefix, list_fn fn, void *arg)
{
	struct sw *sw = b->priv;
	struct scan sc = { .sw = sw, .prefix = prefix };
	struct refs r = { .sw = sw };
	size_t plen = strlen(prefix);
	int rc;

	rc = sw_list_cont(sw, sw->segc_enc, prefix, 0, 0, 0, scan_seg, &sc);
	if (rc == -ENOENT)
		rc = 0;   /* no segment container yet */
	if (!rc)
		rc = sc.err;
	if (rc || !sc.n)
		goto out;
	rc = sw_list_cont(sw, sw->cont_enc, "", 0, 0, 1, scan_obj, &r);
	if (!rc)
		rc = r.err;
	for (size_t i = 0; !rc && i < sc.n; i++) {
		char *set = NULL;
		int used = 0;
		struct obj_info oi;

		if (asprintf(&set, "%s/%s/%s/", sw->segc, sc.v[i].key, sc.v[i].uid) < 0) {
			rc = -ENOMEM;
			break;
		}
		for (size_t j = 0; j < r.segs.n && !used; j++)
			used = !strncmp(r.segs.v[j], set, strlen(set));
		for (size_t j = 0; j < r.dlo.n && !used; j++)
			used = !strncmp(r.dlo.v[j], set, strlen(r.dlo.v[j])) ||
			       !strncmp(set, r.dlo.v[j], strlen(set));
		free(set);
		if (used || strncmp(sc.v[i].key, prefix, plen))
			continue;
		memset(&oi, 0, sizeof(oi));
		oi.size = sc.v[i].bytes;
		if (fn(arg, sc.v[i].key + plen, &oi))
			break;
	}
out:
	for (size_t i = 0; i < sc.n; i++) {
		free(sc.v[i].key);
		free(sc.v[i].uid);
	}
	free(sc.v);
	sw_strv_free(&r.segs);
	sw_strv_free(&r.dlo);
	return rc;
}
