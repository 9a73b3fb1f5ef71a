/* Swift listings: JSON pages with prefix, delimiter and marker. */
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
			oi.mtime = sw_parse_time(json_string_value(json_object_get(e, "last_modified")));
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
