/* GCS listing: objects.list pages (items and prefixes merged in name order), followed by their
 * nextPageToken. */
#include "backends/gcs/gcs_priv.h"
#include "common/encode.h"
#include "common/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int emit(struct gcs_lister *l, const char *name, const struct obj_info *oi)
{
	if (strncmp(name, l->prefix, l->plen))
		return -EIO;    /* the server listed a name outside the prefix asked for */
	/* the prefix's own folder marker arrives as "": rmdir looks for it */
	if (l->fn(l->arg, name + l->plen, oi))
		l->stop = 1;
	if (l->limit && ++l->seen >= l->limit)
		l->stop = 1;
	return 0;
}

/* One page: items and prefixes merged in name order, as a listing of one level reads. */
int gcs_list_page(struct gcs_lister *l, json_t *j, char **next)
{
	json_t *items = json_object_get(j, "items"), *pfx = json_object_get(j, "prefixes");
	json_t *tok = json_object_get(j, "nextPageToken");
	size_t i = 0, k = 0, ni, np;
	int rc = 0;

	if ((items && !json_is_array(items)) || (pfx && !json_is_array(pfx)) || (tok && !json_is_string(tok)))
		return -EIO;
	ni = json_array_size(items);
	np = json_array_size(pfx);
	while (!rc && !l->stop && (i < ni || k < np)) {
		json_t *it = i < ni ? json_array_get(items, i) : NULL;
		json_t *p = k < np ? json_array_get(pfx, k) : NULL;
		const char *in = it ? json_string_value(json_object_get(it, "name")) : NULL;
		const char *pn = p ? json_string_value(p) : NULL;
		struct obj_info oi;

		if ((it && !in) || (p && !pn))
			return -EIO;
		if (in && (!pn || strcmp(in, pn) < 0)) {
			if (gcs_obj_from_json(it, &oi))
				return -EIO;
			rc = emit(l, in, &oi);
			i++;
		} else {
			memset(&oi, 0, sizeof(oi));
			oi.is_dir = 1;
			rc = emit(l, pn, &oi);
			k++;
		}
	}
	if (!rc && tok && json_string_length(tok) && !(*next = strdup(json_string_value(tok))))
		rc = -ENOMEM;
	return rc;
}

int gcs_list(struct backend *b, const char *prefix, int delim, unsigned limit, list_fn fn, void *arg)
{
	struct gcs *g = b->priv;
	struct gcs_lister l = { prefix, strlen(prefix), fn, arg, limit, 0, 0 };
	char *penc = enc_uri(prefix, 0), *token = NULL, *url = NULL;
	int rc = penc ? 0 : -ENOMEM;

	while (!rc && !l.stop) {
		struct http_resp resp = HTTP_RESP_INIT;
		struct http_req req;
		char *tenc = token ? enc_uri(token, 0) : NULL;
		unsigned want = g->page;
		json_t *j;

		if (limit && limit - l.seen < want)
			want = limit - l.seen;
		free(url);
		if ((token && !tenc) ||
		    asprintf(&url, "%s/storage/v1/b/%s/o?prefix=%s%s&maxResults=%u%s%s", g->api,
			     g->bucket_enc, penc, delim ? "&delimiter=%2F" : "", want,
			     tenc ? "&pageToken=" : "", tenc ? tenc : "") < 0) {
			url = NULL;
			free(tenc);
			rc = -ENOMEM;
			break;
		}
		free(tenc);
		free(token);
		token = NULL;
		gcs_req_init(&req, "GET", url, NULL);
		rc = gcs_do(g, &req, &resp);
		if (!rc && resp.status != 200)
			rc = gcs_fail("list", prefix, &resp);
		if (!rc) {
			j = gcs_reply_json(&resp);
			rc = j ? gcs_list_page(&l, j, &token) : -EIO;
			json_decref(j);
			if (rc == -EIO)
				log_error("gcs: list %s: malformed reply", prefix);
		}
		http_resp_free(&resp);
		if (!token)
			break;
	}
	free(token);
	free(url);
	free(penc);
	return rc;
}
