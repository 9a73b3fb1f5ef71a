/* GCS deletes (one request per object) and copies (objects.rewrite, called again until done). */
#include "backends/gcs/gcs_priv.h"
#include "common/encode.h"
#include "common/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int gcs_remove(struct backend *b, const char *const *keys, size_t n)
{
	int rc = 0;

	for (size_t i = 0; i < n; i++) {
		int r = gcs_remove_one(b->priv, keys[i]);

		if (r && !rc)
			rc = r;
	}
	return rc;
}

/* One objects.rewrite call: 0 when the copy is done, 1 with *token set when it needs another call. */
static int rewrite_step(struct gcs *g, const char *from, const char *url, char **token)
{
	struct http_req req;
	json_t *j, *done, *tok;
	struct obj_info oi;
	int rc;

	gcs_req_init(&req, "POST", url, NULL);
	rc = gcs_do_json(g, &req, "copy", from, &j);
	if (rc)
		return rc;
	done = json_object_get(j, "done");
	tok = json_object_get(j, "rewriteToken");
	rc = -EIO;
	if (json_is_true(done) && !gcs_obj_from_json(json_object_get(j, "resource"), &oi))
		rc = 0;
	else if (json_is_false(done) && json_is_string(tok) && json_string_length(tok))
		rc = (*token = strdup(json_string_value(tok))) ? 1 : -ENOMEM;
	if (rc == -EIO)
		log_error("gcs: copy %s: malformed rewrite reply", from);
	json_decref(j);
	return rc;
}

/* objects.rewrite, called again with the rewriteToken until done (big objects take several calls). */
int gcs_copy(struct backend *b, const char *from, const char *to)
{
	struct gcs *g = b->priv;
	char *fenc = enc_uri(from, 0), *tenc = enc_uri(to, 0), *token = NULL, *url = NULL;
	int rc = fenc && tenc ? 1 : -ENOMEM;

	while (rc == 1) {
		char *tk = NULL;

		free(url);
		url = NULL;
		if (token && !(tk = enc_uri(token, 0))) {
			rc = -ENOMEM;
			break;
		}
		free(token);
		token = NULL;
		if (asprintf(&url, "%s/storage/v1/b/%s/o/%s/rewriteTo/b/%s/o/%s%s%s", g->api, g->bucket_enc,
			     fenc, g->bucket_enc, tenc, tk ? "?rewriteToken=" : "", tk ? tk : "") < 0) {
			url = NULL;
			rc = -ENOMEM;
		} else {
			rc = rewrite_step(g, from, url, &token);
		}
		free(tk);
	}
	free(token);
	free(url);
	free(fenc);
	free(tenc);
	return rc;
}
