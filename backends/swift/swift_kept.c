/* A commit that kept failing, finished later (`snapctl retry`, after a restart too) from the object's
 * key and the upload's token alone: its segments stay in the segment container under "<key>/<uid>/"
 * (8-digit numbers; 00000000 a copied base, 00000000.<i> a DLO base's copies), so listing them gives
 * back the whole upload, which is then committed as the mount commits (SLO, else DLO). */
#include "backends/swift/swift_priv.h"
#include "backends/uptoken.h"
#include "common/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct kept {
	struct upload *up;
	struct sw_strv subs;    /* sub-manifests "m<i>" a nested commit left: not content */
	unsigned nparts;
	int odd;                /* a name this upload would never make */
};

static int add_seg(struct kept *k, unsigned n, const struct obj_info *oi)
{
	struct upload *up = k->up;

	if (n >= up->cap) {
		unsigned cap = up->cap ? up->cap : 64;
		struct seg *s;

		while (cap <= n)
			cap *= 2;
		s = realloc(up->segs, cap * sizeof(*s));
		if (!s)
			return -ENOMEM;
		memset(s + up->cap, 0, (cap - up->cap) * sizeof(*s));
		up->segs = s;
		up->cap = cap;
	}
	up->segs[n].size = oi->size;
	up->segs[n].done = 1;
	snprintf(up->segs[n].etag, sizeof(up->segs[n].etag), "%.32s", oi->etag);
	if (n > k->nparts)
		k->nparts = n;
	return 0;
}

static int kept_seg(void *arg, const char *name, const struct obj_info *oi)
{
	struct kept *k = arg;
	struct upload *up = k->up;
	size_t digits = strspn(name, "0123456789");
	char *full = NULL;
	int rc;

	if (digits == 8 && !name[8]) {
		unsigned n = (unsigned)strtoul(name, NULL, 10);

		if (n)
			return add_seg(k, n, oi);
		up->base_copied = 1;
		up->base = oi->size;
		snprintf(up->base_etag, sizeof(up->base_etag), "%.32s", oi->etag);
		return 0;
	}
	if (digits == 8 && name[8] == '.' && !strncmp(name, "00000000", 8)) {
		up->base_nsegs++;      /* a DLO base's segment, copied */
		up->base += oi->size;
		up->dlo = 1;
		return 0;
	}
	if (name[0] == 'm' && strspn(name + 1, "0123456789") == 5 && !name[6]) {
		if (asprintf(&full, "%s/%s/%s/%s", up->sw->segc, up->key, up->uid, name) < 0)
			return -ENOMEM;
		rc = sw_strv_add(&k->subs, full);
		free(full);
		return rc;
	}
	k->odd = 1;
	return 0;
}

int sw_upload_finish(struct backend *b, const char *key, const char *token)
{
	struct sw *sw = b->priv;
	struct kept k = { 0 };
	struct upload *up;
	char *prefix = NULL;
	size_t n_base;
	int rc;

	rc = sw_upload_new(sw, key, &up);   /* SLO or DLO, as the mount would commit */
	if (rc)
		return rc;
	k.up = up;
	rc = uptoken_parse(token, SW_MAX_BASE_ENTRIES, up->uid, &n_base);
	if (rc)
		goto out;
	rc = -ENOMEM;
	if (asprintf(&prefix, "%s/%s/", key, up->uid) < 0) {
		prefix = NULL;
		goto out;
	}
	rc = sw_list_cont(sw, sw->segc_enc, prefix, 0, 0, 0, kept_seg, &k);
	if (rc)
		goto out;
	if (!k.nparts && !up->base_copied && !up->base_nsegs) {
		rc = -ENOENT;   /* committed (its manifest then owns them), discarded, or never made */
		goto out;
	}
	for (unsigned n = 1; n <= k.nparts && !k.odd; n++)
		k.odd = !up->segs[n].done;
	if (k.odd || !k.nparts || (up->base_copied && up->base_nsegs)) {
		log_error("swift: the kept upload %s of %s is not whole (%u parts): it cannot be committed",
			  up->uid, key, k.nparts);
		rc = -EIO;
		goto out;
	}
	if (n_base) {
		/* an append listing the base's entries first: the object must still be that base */
		rc = up->dlo ? -ESTALE : sw_slo_manifest(sw, key, &up->base_list);
		if (!rc && json_array_size(up->base_list) != n_base)
			rc = -ESTALE;
		if (rc) {
			log_error("swift: %s changed since its append began: the kept upload cannot be committed "
				  "onto it (%s)", key, strerror(-rc));
			goto out;
		}
		for (size_t i = 0; i < n_base; i++)
			up->base += (uint64_t)json_integer_value(json_object_get(json_array_get(up->base_list, i),
										 "size_bytes"));
	}
	/* sub-manifests of a nested try go first: a DLO would read them as content, a new nesting
	 * makes them again */
	if (k.subs.n) {
		rc = sw_delete_paths(sw, k.subs.v, k.subs.n);
		if (rc)
			goto out;
	}
	rc = sw_upload_commit(up, k.nparts, NULL);
	if (!rc) {
		up = NULL;   /* committed and freed */
		log_info("swift: committed the kept upload of %s", key);
	}
out:
	sw_upload_free(up);
	sw_strv_free(&k.subs);
	free(prefix);
	return rc;
}
