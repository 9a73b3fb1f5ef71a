/* The segments a Swift manifest owns (SLO entries, nested ones too, or a DLO prefix's objects), and
 * dropping those of a replaced version. */
#include "backends/swift/swift_priv.h"
#include "common/encode.h"
#include "common/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Every object an SLO at an encoded path lists, nested manifests and their segments too. */
static int slo_segments(struct sw *sw, const char *opath, int depth, struct sw_strv *out)
{
	json_t *m = NULL;
	int rc;

	if (depth > 10)
		return -ELOOP;   /* Swift itself stops at 10 levels */
	rc = sw_slo_get(sw, opath, 0, &m);
	for (size_t i = 0; !rc && i < json_array_size(m); i++) {
		json_t *e = json_array_get(m, i);
		const char *p = json_string_value(json_object_get(e, "name"));

		while (*p == '/')
			p++;
		if (!sw_strv_has(out, p))
			rc = sw_strv_add(out, p);
		if (!rc && json_is_true(json_object_get(e, "sub_slo"))) {
			char *enc = enc_uri(p, 1), *sub = NULL;

			if (!enc || asprintf(&sub, "/%s", enc) < 0) {
				sub = NULL;
				rc = -ENOMEM;
			} else {
				rc = slo_segments(sw, sub, depth + 1, out);
			}
			free(enc);
			free(sub);
		}
	}
	json_decref(m);
	return rc;
}

/* The segments a manifest owns, as "container/object": SLO entries (recursively) or the DLO
 * prefix's objects. */
int sw_owned_segments(struct sw *sw, const char *key, const struct sw_objkind *k, struct sw_strv *out)
{
	int rc = 0;

	if (!k->exists || k->disowned)
		return 0;
	if (k->slo) {
		char *path = sw_obj_path(sw->cont_enc, key, NULL);

		rc = path ? slo_segments(sw, path, 0, out) : -ENOMEM;
		free(path);
	} else if (k->dlo && k->dlo_manifest) {
		char *c = strdup(k->dlo_manifest), *slash;

		if (!c)
			return -ENOMEM;
		slash = strchr(c, '/');
		if (slash) {
			*slash = 0;
			rc = sw_list_names(sw, c, slash + 1, out);
		}
		free(c);
	}
	return rc;
}

/* After key was replaced: delete the segments of its old version that the new one does not list. */
void sw_drop_replaced(struct sw *sw, const char *key, struct sw_strv *old, const struct sw_strv *keep)
{
	struct sw_strv gone = { 0 };
	int rc = 0;

	for (size_t i = 0; i < old->n && !rc; i++)
		if (!keep || !sw_strv_has(keep, old->v[i]))
			rc = sw_strv_add(&gone, old->v[i]);
	if (!rc)
		rc = sw_delete_paths(sw, gone.v, gone.n);
	if (rc)
		log_warn("swift: %s was replaced but %zu old segments could not be deleted: %s", key, gone.n,
			 strerror(-rc));
	sw_strv_free(&gone);
}
