/* Can this store's SLOs be managed? Deleting, replacing or appending to an SLO needs its manifest back
 * (?multipart-manifest=get) to know the segments it owns. Swift gives it; Ceph RGW 16 accepts SLO
 * manifests but answers that GET with an empty body, so its SLOs' segments could never be found again.
 * One tiny SLO in the segment container (never seen through the mount) tells which; where the manifest
 * does not come back, large objects are DLOs, whose segment prefix HEAD shows. */
#include "backends/swift/swift_priv.h"
#include "common/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define PROBE_BODY "snapfs"

/* PUT a small in-memory body at an encoded path; 0 on a 2xx */
static int probe_put(struct sw *sw, const char *path, const char *body, long *status)
{
	static const char *const hdrs[] = { "Content-Type: application/octet-stream", NULL };
	struct http_resp resp = HTTP_RESP_INIT;
	struct http_req req;
	int rc;

	sw_req_init(&req, "PUT", hdrs);
	req.body = body;
	req.body_len = strlen(body);
	rc = sw_do(sw, &req, path, &resp);
	*status = resp.status;
	if (!rc && resp.status / 100 != 2)
		rc = -EIO;
	http_resp_free(&resp);
	return rc;
}

/* the manifest at path, read back: a JSON list of one entry naming seg ("container/object"). A GET
 * that fails (no answer, or not 200) proves nothing: taken as yes, the common case. */
static int probe_readback(struct sw *sw, const char *path, const char *seg)
{
	struct http_resp resp = HTTP_RESP_INIT;
	struct http_req req;
	json_t *m = NULL;
	const char *name;
	int ok = 1;

	sw_req_init(&req, "GET", NULL);
	if (sw_do(sw, &req, path, &resp) || resp.status != 200) {
		log_warn("swift: the SLO probe could not read its manifest back (HTTP %ld); assuming SLO",
			 resp.status);
		goto out;
	}
	m = json_loadb(resp.body.data ? resp.body.data : "", resp.body.len, 0, NULL);
	name = json_string_value(json_object_get(json_array_get(m, 0), "name"));
	while (name && *name == '/')
		name++;
	ok = json_array_size(m) == 1 && name && !strcmp(name, seg);
out:
	json_decref(m);
	http_resp_free(&resp);
	return ok;
}

static void probe_delete(struct sw *sw, const char *path)
{
	struct http_resp resp = HTTP_RESP_INIT;
	struct http_req req;

	sw_req_init(&req, "DELETE", NULL);
	if (sw_do(sw, &req, path, &resp) || (resp.status / 100 != 2 && resp.status != 404))
		log_warn("swift: could not delete the probe object %s (HTTP %ld)", path, resp.status);
	http_resp_free(&resp);
}

int sw_slo_probe(struct sw *sw)
{
	unsigned char rnd[6];
	char uid[16], *seg = NULL, *man = NULL, *seg_path = NULL, *man_path = NULL, *man_put = NULL;
	char *man_get = NULL;
	char *body = NULL;
	long status = 0;
	int ok = 1;   /* what nothing was learned means: SLO, the common case */

	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
		return 1;
	snprintf(uid, sizeof(uid), "%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5]);
	/* not "<key>/<16 hex digits>/": list_uploads never takes it for an upload in progress */
	if (asprintf(&seg, ".snapfs-probe-%s/seg", uid) < 0)
		seg = NULL;
	if (asprintf(&man, ".snapfs-probe-%s/manifest", uid) < 0)
		man = NULL;
	if (!seg || !man)
		goto out;
	seg_path = sw_obj_path(sw->segc_enc, seg, NULL);
	man_path = sw_obj_path(sw->segc_enc, man, NULL);
	man_put = sw_obj_path(sw->segc_enc, man, "multipart-manifest=put");
	man_get = sw_obj_path(sw->segc_enc, man, "multipart-manifest=get");
	if (!seg_path || !man_path || !man_put || !man_get)
		goto out;
	if (asprintf(&body, "[{\"path\":\"/%s/%s\",\"size_bytes\":%zu}]", sw->segc, seg, strlen(PROBE_BODY)) < 0) {
		body = NULL;
		goto out;
	}
	if (probe_put(sw, seg_path, PROBE_BODY, &status))
		goto out;   /* the store's trouble is not an SLO matter: let the upload meet it */
	if (!probe_put(sw, man_put, body, &status)) {
		char *want = NULL;

		if (asprintf(&want, "%s/%s", sw->segc, seg) >= 0)
			ok = probe_readback(sw, man_get, want);
		free(want);
		/* a plain DELETE: the manifest only, the segment is deleted below */
		probe_delete(sw, man_path);
	} else if (status / 100 == 4) {
		log_info("swift: the store refused an SLO manifest (HTTP %ld)", status);
		ok = 0;
	} else {
		/* no answer, or a server error after the retries: nothing learned */
		log_warn("swift: the SLO probe's manifest failed (HTTP %ld); assuming SLO", status);
	}
	probe_delete(sw, seg_path);
out:
	free(seg);
	free(man);
	free(seg_path);
	free(man_path);
	free(man_put);
	free(man_get);
	free(body);
	return ok;
}
