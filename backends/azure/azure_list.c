/* List Blobs for the Azure backend: marker pagination, blobs and prefixes in name order, and the uploads
 * in progress (names that so far have only uncommitted blocks). */
#include "backends/azure/azure_priv.h"
#include "common/crypto.h"
#include "common/encode.h"
#include "backends/xml.h"
#include "common/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *node_name(xmlNodePtr n)
{
	xmlNodePtr nm = xml_child(n, "Name");
	xmlChar *enc;
	char *s;

	if (!nm)
		return NULL;
	s = xml_text(nm);
	enc = xmlGetProp(nm, (const xmlChar *)"Encoded");
	if (s && enc && !strcmp((const char *)enc, "true"))
		enc_uri_decode(s, strlen(s), 0, s);     /* a name that is not valid XML as it stands */
	xmlFree(enc);
	return s;
}

struct entry {
	char *name;
	struct obj_info oi;
};

static int entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->name, ((const struct entry *)b)->name);
}

/* One List Blobs element into e; -EIO when it lacks what every reply has. */
static int parse_entry(xmlNodePtr n, int is_prefix, size_t plen, struct entry *e)
{
	char *v;

	memset(e, 0, sizeof(*e));
	e->name = node_name(n);
	if (!e->name || strlen(e->name) < plen)
		return -EIO;   /* every name starts with the prefix we asked for */
	e->oi.is_dir = is_prefix;
	if (!is_prefix) {
		xmlNodePtr pr = xml_child(n, "Properties");

		v = xml_child_text(pr, "Content-Length");
		if (!v)
			return -EIO;
		e->oi.size = strtoull(v, NULL, 10);
		free(v);
		v = xml_child_text(pr, "Last-Modified");
		e->oi.mtime = http_date(v);
		free(v);
		v = xml_child_text(pr, "Etag");
		az_set_etag(&e->oi, v);
		free(v);
	}
	return 0;
}

/* One page: call fn for each entry in name order (Azure interleaves blobs and prefixes by name, the
 * emulator puts prefixes first); *next gets NextMarker ("" at the end). Returns 0, 1 when fn or the
 * limit stopped the listing, or -errno. */
static int list_page(const char *body, size_t len, size_t plen, unsigned limit, unsigned *count, list_fn fn,
		     void *arg, char **next)
{
	xmlDocPtr doc = xml_parse(body, len);
	xmlNodePtr root, blobs;
	struct entry *ents = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;

	*next = NULL;
	if (!doc)
		return -EIO;
	root = xmlDocGetRootElement(doc);
	if (!root || strcmp((const char *)root->name, "EnumerationResults")) {
		rc = -EIO;
		goto out;
	}
	blobs = xml_child(root, "Blobs");
	for (xmlNodePtr x = blobs ? blobs->children : NULL; x && !rc; x = x->next) {
		int is_prefix;

		if (x->type != XML_ELEMENT_NODE)
			continue;
		is_prefix = !strcmp((const char *)x->name, "BlobPrefix");
		if (!is_prefix && strcmp((const char *)x->name, "Blob"))
			continue;
		if (n == cap) {
			struct entry *ne = realloc(ents, (cap = cap ? 2 * cap : 64) * sizeof(*ents));

			if (!ne) {
				rc = -ENOMEM;
				break;
			}
			ents = ne;
		}
		rc = parse_entry(x, is_prefix, plen, &ents[n]);
		n++;
	}
	if (rc)
		goto out;
	if (n)
		qsort(ents, n, sizeof(*ents), entry_cmp);
	for (size_t i = 0; i < n && !rc; i++) {
		/* the listed folder's own marker comes first, as "": that is how callers tell an empty
		 * folder exists */
		if (fn(arg, ents[i].name + plen, &ents[i].oi) || (limit && ++*count >= limit))
			rc = 1;
	}
	if (!rc) {
		*next = xml_child_text(root, "NextMarker");
		if (!*next)
			*next = strdup("");
		if (!*next)
			rc = -ENOMEM;
	}
out:
	for (size_t i = 0; i < n; i++)
		free(ents[i].name);
	free(ents);
	xmlFreeDoc(doc);
	return rc;
}

/* List Blobs under prefix rel, every page; uncommitted: include blobs that so far have
 * only uncommitted blocks. */
static int list_ex(struct az *az, const char *rel, int delim, unsigned limit, int uncommitted, list_fn fn,
		   void *arg)
{
	const char *hdrs[] = { AZ_VER_HDR, NULL };
	char *prefix = NULL, *eprefix = NULL, *marker = strdup(""), *url = NULL;
	unsigned count = 0;
	int rc = -ENOMEM;

	while (*rel == '/')
		rel++;
	prefix = strdup(rel);
	if (!prefix || !marker || !(eprefix = enc_uri(prefix, 0))) {
		rc = -ENOMEM;
		goto out;
	}
	for (;;) {
		struct http_resp resp = HTTP_RESP_INIT;
		struct http_req req;
		char *emarker = enc_uri(marker, 0), mr[32] = "";

		if (az->maxresults)
			snprintf(mr, sizeof(mr), "&maxresults=%u", az->maxresults);
		free(url);
		url = NULL;
		if (!emarker || asprintf(&url, "%s/%s?restype=container&comp=list&prefix=%s%s%s%s%s%s",
					 az->base, az->container, eprefix, delim ? "&delimiter=%2F" : "",
					 *marker ? "&marker=" : "", emarker, mr,
					 uncommitted ? "&include=uncommittedblobs" : "") < 0) {
			free(emarker);
			url = NULL;
			rc = -ENOMEM;
			goto out;
		}
		free(emarker);
		az_req_init(az, &req, "GET", url, hdrs);
		rc = http_do(az->http, &req, &resp);
		if (!rc && resp.status != 200)
			rc = az_fail("list", prefix, &resp);
		free(marker);
		marker = NULL;
		if (!rc)
			rc = list_page(resp.body.data, resp.body.len, strlen(prefix), limit, &count, fn, arg,
				       &marker);
		if (rc == -EIO)
			log_warn("azure: list '%s': malformed List Blobs reply", prefix);
		http_resp_free(&resp);
		if (rc || !*marker)
			break;
	}
	if (rc == 1)
		rc = 0;
out:
	free(prefix);
	free(eprefix);
	free(marker);
	free(url);
	return rc;
}

int az_list(struct backend *b, const char *rel, int delim, unsigned limit, list_fn fn, void *arg)
{
	return list_ex(b->priv, rel, delim, limit, 0, fn, arg);
}

struct names {
	char **v;
	size_t n, cap;
	int err;
};

static int collect(void *arg, const char *name, const struct obj_info *oi)
{
	struct names *ns = arg;

	if (ns->n == ns->cap) {
		size_t cap = ns->cap ? 2 * ns->cap : 64;
		char **v = realloc(ns->v, cap * sizeof(*v));

		if (!v) {
			ns->err = -ENOMEM;
			return 1;
		}
		ns->v = v;
		ns->cap = cap;
	}
	ns->v[ns->n] = strdup(name);
	if (!ns->v[ns->n]) {
		ns->err = -ENOMEM;
		return 1;
	}
	ns->n++;
	return 0;
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Bytes in the uncommitted blocks of a blob; -errno on failure. */
static int64_t uncommitted_bytes(struct az *az, const char *key)
{
	const char *hdrs[] = { AZ_VER_HDR, NULL };
	struct http_resp resp = HTTP_RESP_INIT;
	struct http_req req;
	char *url = az_blob_url(az, key, "comp=blocklist&blocklisttype=uncommitted");
	xmlDocPtr doc = NULL;
	int64_t sum = -ENOMEM;

	if (!url)
		goto out;
	az_req_init(az, &req, "GET", url, hdrs);
	sum = http_do(az->http, &req, &resp);
	if (sum)
		goto out;
	if (resp.status != 200) {
		sum = resp.status == 404 ? 0 : az_fail("get block list of", key, &resp);
		goto out;
	}
	doc = xml_parse(resp.body.data, resp.body.len);
	if (!doc || !xmlDocGetRootElement(doc)) {
		sum = -EIO;
		goto out;
	}
	for (xmlNodePtr n = xml_child(xml_child(xmlDocGetRootElement(doc), "UncommittedBlocks"), "Block"); n;
	     n = xml_next(n, "Block")) {
		char *sz = xml_child_text(n, "Size");

		if (!sz) {
			sum = -EIO;
			goto out;
		}
		sum += (int64_t)strtoull(sz, NULL, 10);
		free(sz);
	}
out:
	xmlFreeDoc(doc);
	free(url);
	http_resp_free(&resp);
	return sum;
}

struct pending {
	struct az *az;
	const char *prefix;     /* the listed prefix */
	struct names committed;
	list_fn fn;
	void *arg;
	int rc;
};

static int report_pending(void *arg, const char *name, const struct obj_info *oi)
{
	struct pending *pd = arg;
	const char *np = name;
	struct obj_info o = *oi;
	char *rel = NULL, *key = NULL;
	int64_t sz;
	int stop;

	/* bsearch's base must not be NULL (glibc's nonnull), even for no names */
	if (pd->committed.n && bsearch(&np, pd->committed.v, pd->committed.n, sizeof(char *), str_cmp))
		return 0;
	if (asprintf(&rel, "%s%s", pd->prefix, name) < 0 || !(key = az_key(pd->az, rel))) {
		free(rel);
		pd->rc = -ENOMEM;
		return 1;
	}
	sz = uncommitted_bytes(pd->az, key);
	free(rel);
	free(key);
	if (sz < 0) {
		pd->rc = (int)sz;
		return 1;
	}
	o.size = (uint64_t)sz;
	stop = pd->fn(pd->arg, name, &o);
	return stop;
}

/* Uploads in progress: blobs that so far have only uncommitted blocks (the difference between a listing
 * with include=uncommittedblobs and one without), with the bytes their blocks hold. Appends in progress
 * on a committed blob are not told apart from the blob itself. */
int az_list_uploads(struct backend *b, const char *prefix, list_fn fn, void *arg)
{
	struct pending pd = { b->priv, prefix, { NULL, 0, 0, 0 }, fn, arg, 0 };
	int rc;

	while (*pd.prefix == '/')
		pd.prefix++;
	rc = list_ex(pd.az, pd.prefix, 0, 0, 0, collect, &pd.committed);
	if (!rc)
		rc = pd.committed.err;
	if (!rc) {
		if (pd.committed.n)
			qsort(pd.committed.v, pd.committed.n, sizeof(char *), str_cmp);
		rc = list_ex(pd.az, pd.prefix, 0, 0, 1, report_pending, &pd);
	}
	if (!rc)
		rc = pd.rc;
	for (size_t i = 0; i < pd.committed.n; i++)
		free(pd.committed.v[i]);
	free(pd.committed.v);
	return rc;
}
