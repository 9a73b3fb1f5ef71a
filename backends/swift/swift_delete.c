/* Deleting Swift objects: in parallel one by one, in bulk where the cluster offers it, and an SLO with
 * its segments where only the server can name them. */
#include "backends/swift/swift_priv.h"
#include "common/encode.h"
#include "common/log.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct del_job {
	struct sw *sw;
	char *const *paths;    /* "container/object", not encoded */
};

static int del_path(void *arg, size_t i)
{
	struct del_job *j = arg;
	struct http_resp resp = HTTP_RESP_INIT;
	struct http_req req;
	const char *p = j->paths[i];
	char *enc = enc_uri(p, 1), *path = NULL;
	int rc = -ENOMEM;

	if (!enc || asprintf(&path, "/%s", enc) < 0) {
		path = NULL;
		goto out;
	}
	sw_req_init(&req, "DELETE", NULL);
	rc = sw_do(j->sw, &req, path, &resp);
	if (!rc && resp.status / 100 != 2 && resp.status != 404)
		rc = sw_fail("DELETE", p, &resp);
out:
	free(enc);
	free(path);
	http_resp_free(&resp);
	return rc;
}

int sw_delete_slo(struct sw *sw, const char *key)
{
	struct http_resp resp = HTTP_RESP_INIT;
	struct http_req req;
	char *path = sw_obj_path(sw->cont_enc, key, "multipart-manifest=delete");
	int rc = -ENOMEM;

	if (!path)
		return -ENOMEM;
	sw_req_init(&req, "DELETE", NULL);
	rc = sw_do(sw, &req, path, &resp);
	if (!rc && resp.status / 100 != 2 && resp.status != 404)
		rc = sw_fail("DELETE manifest and segments", key, &resp);
	free(path);
	http_resp_free(&resp);
	return rc;
}

/* One bulk-delete request for paths[0..n). */
static int bulk_delete(struct sw *sw, char *const *paths, size_t n)
{
	static const char *const hdrs[] = { "Content-Type: text/plain", "Accept: application/json", NULL };
	struct http_resp resp = HTTP_RESP_INIT;
	struct http_req req;
	struct buf body = BUF_INIT;
	json_error_t err;
	json_t *root = NULL, *errs;
	const char *st;
	int rc = 0;

	for (size_t i = 0; i < n && !rc; i++) {
		char *enc = enc_uri(paths[i], 1);

		rc = enc ? buf_addf(&body, "/%s\n", enc) : -ENOMEM;
		free(enc);
	}
	if (rc)
		goto out;
	sw_req_init(&req, "POST", hdrs);
	req.body = body.data;
	req.body_len = body.len;
	rc = sw_do(sw, &req, "?bulk-delete", &resp);
	if (rc)
		goto out;
	if (resp.status / 100 != 2) {
		rc = sw_fail("bulk delete", "", &resp);
		goto out;
	}
	/* the reply starts with whitespace sent while the deletes ran */
	root = json_loadb(resp.body.data ? resp.body.data : "", resp.body.len, 0, &err);
	st = root ? json_string_value(json_object_get(root, "Response Status")) : NULL;
	if (!st) {
		log_warn("swift: malformed bulk delete reply");
		rc = -EIO;
		goto out;
	}
	errs = json_object_get(root, "Errors");
	if (strncmp(st, "200", 3) || json_array_size(errs)) {
		json_t *e = json_array_get(errs, 0);

		log_warn("swift: bulk delete: %s (%zu errors, first %s: %s)", st, json_array_size(errs),
			 json_string_value(json_array_get(e, 0)) ?: "?",
			 json_string_value(json_array_get(e, 1)) ?: "?");
		rc = -EIO;
	}
out:
	json_decref(root);
	buf_free(&body);
	http_resp_free(&resp);
	return rc;
}

/* Delete objects ("container/object"): bulk where the cluster has it, else in parallel. Missing ones
 * are not errors. */
int sw_delete_paths(struct sw *sw, char *const *paths, size_t n)
{
	struct del_job j = { sw, paths };
	int rc = 0;

	if (!n)
		return 0;
	if (!sw->bulk || n == 1)
		return sw_par_for(n, del_path, &j);
	for (size_t i = 0; i < n && !rc; i += sw->bulk_max) {
		size_t cnt = n - i < sw->bulk_max ? n - i : sw->bulk_max;

		rc = bulk_delete(sw, paths + i, cnt);
	}
	return rc;
}
