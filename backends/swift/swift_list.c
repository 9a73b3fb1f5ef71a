/* Swift listings: JSON pages with prefix, delimiter and marker; and the segment sets no manifest uses. */
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

/* ---------- list ---------- */

#define EMPTY_MD5 "d41d8cd98f00b204e9800998ecf8427e"   /* the MD5 of no bytes */

struct page_state {
	const char *prefix;
	size_t plen;
	unsigned limit, count;
	list_fn fn;
	void *arg;
	char *last;       /* marker for the next page */
	size_t entries;
	int real_sizes;   /* the main container: manifests are listed with sizes not their data's */
	int manifests;    /* only entries that may be manifests: with an slo_etag, or 0 bytes */
};

/* One listing page: call fn per entry. Returns 0, 1 when fn or the limit stopped it, or -errno. */
static int list_page(struct sw *sw, const char *body, size_t len, struct page_state *ps)
{
	json_error_t err;
	json_t *root = json_loadb(body ? body : "", len, 0, &err), *e;
	size_t i;
	int rc = 0;

	ps->entries = 0;
	if (!json_is_array(root)) {
		log_warn("swift: malformed container listing");
		json_decref(root);
		return -EIO;
	}
	json_array_foreach(root, i, e) {
		const char *sub = json_string_value(json_object_get(e, "subdir"));
		const char *name = sub ? sub : json_string_value(json_object_get(e, "name"));
		struct obj_info oi;

		if (!name || strncmp(name, ps->prefix, ps->plen)) {
			log_warn("swift: malformed container listing entry");
			rc = -EIO;
			break;
		}
		ps->entries++;
		free(ps->last);
		ps->last = strdup(name);
		if (!ps->last) {
			rc = -ENOMEM;
			break;
		}
		memset(&oi, 0, sizeof(oi));
		if (sub) {
			oi.is_dir = 1;
		} else {
			json_t *by = json_object_get(e, "bytes");
			const char *etag = json_string_value(json_object_get(e, "slo_etag"));

			if (!json_is_integer(by) || json_integer_value(by) < 0) {
				log_warn("swift: container listing entry without a size");
				rc = -EIO;
				break;
			}
			oi.size = (uint64_t)json_integer_value(by);
			if (ps->manifests && !etag && (oi.size || (*name && name[strlen(name) - 1] == '/')))
				continue;
			oi.mtime = swift_parse_time(json_string_value(json_object_get(e, "last_modified")));
			sw_set_etag(oi.etag, sizeof(oi.etag), etag ? etag : json_string_value(json_object_get(e, "hash")));
			/* A manifest is listed with its own bytes, not its data's: a DLO with 0 (Swift, RGW), an
			 * SLO on RGW with the manifest's size and the MD5 of nothing. Such an entry is asked
			 * (HEAD) for its real size before anyone is shown it. */
			if (ps->real_sizes && !etag && *name && name[strlen(name) - 1] != '/' &&
			    (!oi.size || !strcmp(oi.etag, EMPTY_MD5))) {
				struct sw_objkind k;

				rc = sw_head(sw, name, &k);
				if (!rc && k.exists && k.size != oi.size) {
					log_debug("swift: %s is listed with %llu bytes, holds %llu", name,
						  (unsigned long long)oi.size, (unsigned long long)k.size);
					oi.size = k.size;
				}
				sw_objkind_free(&k);
				if (rc)
					break;
			}
		}
		/* the listed folder's own marker arrives as "": callers tell an empty folder by it */
		if (ps->fn(ps->arg, name + ps->plen, &oi) || (ps->limit && ++ps->count >= ps->limit)) {
			rc = 1;
			break;
		}
	}
	json_decref(root);
	return rc;
}

/* List container cont (encoded) below prefix; fn per entry. */
int sw_list_cont(struct sw *sw, const char *cont_enc, const char *prefix, int delim, unsigned limit,
		     int manifests, list_fn fn, void *arg)
{
	struct page_state ps = { .prefix = prefix, .plen = strlen(prefix), .limit = limit, .fn = fn, .arg = arg,
				 .manifests = manifests };
	char *eprefix = enc_uri(prefix, 0);
	unsigned page = sw->page ? sw->page : sw->listing_limit;
	int rc = 0;

	/* whatever this mount makes now: a DLO may be there from a cluster without SLO, or from a store
	 * (Ceph RGW) whose SLOs cannot be managed, found out only at the first upload; other clients
	 * write SLOs and DLOs too */
	ps.real_sizes = !manifests && !strcmp(cont_enc, sw->cont_enc);
	if (!eprefix)
		return -ENOMEM;
	for (;;) {
		struct http_resp resp = HTTP_RESP_INIT;
		struct http_req req;
		char *emarker = enc_uri(ps.last ? ps.last : "", 0), *path = NULL, lim[32] = "";

		if (sw->page)
			snprintf(lim, sizeof(lim), "&limit=%u", sw->page);
		if (!emarker || asprintf(&path, "/%s?format=json&prefix=%s%s%s%s%s", cont_enc, eprefix,
					 delim ? "&delimiter=%2F" : "", ps.last ? "&marker=" : "",
					 emarker, lim) < 0) {
			free(emarker);
			rc = -ENOMEM;
			break;
		}
		free(emarker);
		sw_req_init(&req, "GET", NULL);
		rc = sw_do(sw, &req, path, &resp);
		free(path);
		if (!rc && resp.status == 204) {
			http_resp_free(&resp);
			break;    /* an empty container answers 204 with no body */
		}
		if (!rc && resp.status != 200)
			rc = sw_fail("list", prefix, &resp);
		if (!rc)
			rc = list_page(sw, resp.body.data, resp.body.len, &ps);
		http_resp_free(&resp);
		if (rc || ps.entries < page)
			break;
	}
	free(ps.last);
	free(eprefix);
	return rc < 0 ? rc : 0;
}

int sw_list(struct backend *b, const char *prefix, int delim, unsigned limit, list_fn fn, void *arg)
{
	struct sw *sw = b->priv;

	return sw_list_cont(sw, sw->cont_enc, prefix, delim, limit, 0, fn, arg);
}

struct names_arg {
	const char *cont;
	const char *prefix;
	struct sw_strv *out;
};

static int add_name(void *arg, const char *name, const struct obj_info *oi)
{
	struct names_arg *na = arg;
	char *p = NULL;
	int rc;

	if (asprintf(&p, "%s/%s%s", na->cont, na->prefix, name) < 0)
		return 1;
	rc = sw_strv_add(na->out, p);
	free(p);
	return rc ? 1 : 0;
}

int sw_list_names(struct sw *sw, const char *cont, const char *prefix, struct sw_strv *out)
{
	struct names_arg na = { cont, prefix, out };
	char *enc = enc_uri(cont, 0);
	int rc;

	if (!enc)
		return -ENOMEM;
	rc = sw_list_cont(sw, enc, prefix, 0, 0, 0, add_name, &na);
	free(enc);
	return rc == -ENOENT ? 0 : rc;
}

/* ---------- uploads in progress and orphan segments ---------- */

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
