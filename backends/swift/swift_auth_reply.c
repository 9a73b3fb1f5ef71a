/* Keystone's token replies (v2.0 access, v3 token and catalog) and its timestamps, read without I/O
 * (swift_auth.h): the unit and fuzz tests drive these directly. */
#include "backends/swift/swift_auth.h"
#include "common/buf.h"
#include "common/why.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

time_t sw_parse_time(const char *s)
{
	struct tm tm;
	const char *p;
	time_t t;

	if (!s)
		return 0;
	memset(&tm, 0, sizeof(tm));
	p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!p)
		return 0;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++)
			;
	t = timegm(&tm);
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int hh, mm, used = 0;

		/* exactly "+HH:MM": a shorter offset must not walk past the end */
		if (sscanf(p + 1, "%2d:%2d%n", &hh, &mm, &used) != 2 || used != 5)
			return 0;
		t += (*p == '+' ? -1 : 1) * (time_t)(hh * 3600 + mm * 60);
		p += 6;
	}
	return *p ? 0 : t;
}

static const char *jstr(json_t *o, const char *name)
{
	json_t *v = json_object_get(o, name);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Append ", name" to a list of regions seen, for the error message. */
static void note_region(struct buf *seen, const char *r)
{
	if (!r)
		r = "(none)";
	if (seen->len && strstr(seen->data, r))
		return;
	buf_addf(seen, "%s%s", seen->len ? ", " : "", r);
}

/* The object-store endpoint from a catalog (v2 serviceCatalog or v3 catalog). */
static int pick_endpoint(json_t *catalog, int v3, const char *region, const char *iface, char **url,
			 char **why)
{
	struct buf seen = BUF_INIT;
	char v2key[32];
	int found_service = 0, rc = -ENOENT;
	size_t i, j;
	json_t *svc, *ep;

	if (!json_is_array(catalog)) {
		why_set(why, "the token reply has no service catalog");
		return -EIO;
	}
	if (!iface || !*iface)
		iface = "public";
	snprintf(v2key, sizeof(v2key), "%sURL", iface);
	json_array_foreach(catalog, i, svc) {
		const char *type = jstr(svc, "type");
		json_t *eps = json_object_get(svc, "endpoints");

		if (!type || strcmp(type, "object-store"))
			continue;
		found_service = 1;
		if (!json_is_array(eps))
			continue;
		json_array_foreach(eps, j, ep) {
			const char *r = jstr(ep, "region"), *rid = jstr(ep, "region_id"), *u;

			if (v3) {
				const char *in = jstr(ep, "interface");

				if (!in || strcmp(in, iface))
					continue;
				u = jstr(ep, "url");
			} else {
				u = jstr(ep, v2key);
			}
			if (!u || !*u)
				continue;
			note_region(&seen, r ? r : rid);
			if (region && *region && !(r && !strcmp(r, region)) && !(rid && !strcmp(rid, region)))
				continue;
			*url = strdup(u);
			rc = *url ? 0 : -ENOMEM;
			goto out;
		}
	}
	if (!found_service)
		why_set(why, "the service catalog has no object-store (Swift) endpoint");
	else if (region && *region)
		why_set(why, "no %s object-store endpoint in region %s (the catalog has: %s)", iface, region,
			seen.len ? seen.data : "none");
	else
		why_set(why, "the service catalog has no %s object-store endpoint", iface);
out:
	buf_free(&seen);
	return rc;
}

static json_t *parse_json(const char *body, size_t len, char **why)
{
	json_error_t err;
	json_t *root = body ? json_loadb(body, len, 0, &err) : NULL;

	if (!root || !json_is_object(root)) {
		why_set(why, "the token reply is not a JSON object%s", root ? "" : " (malformed JSON)");
		json_decref(root);
		return NULL;
	}
	return root;
}

int sw_parse_v2(const char *body, size_t len, const char *region, const char *iface, char **token,
		   char **url, time_t *expires, char **why)
{
	json_t *root = parse_json(body, len, why), *access, *tok;
	const char *id;
	int rc = -EIO;

	*token = *url = NULL;
	*expires = 0;
	if (!root)
		return -EIO;
	access = json_object_get(root, "access");
	tok = json_object_get(access, "token");
	id = jstr(tok, "id");
	if (!id || !*id) {
		why_set(why, "the Keystone v2 reply has no access.token.id");
		goto out;
	}
	rc = pick_endpoint(json_object_get(access, "serviceCatalog"), 0, region, iface, url, why);
	if (rc)
		goto out;
	*token = strdup(id);
	if (!*token) {
		rc = -ENOMEM;
		goto out;
	}
	*expires = sw_parse_time(jstr(tok, "expires"));
out:
	if (rc) {
		free(*url);
		*url = NULL;
	}
	json_decref(root);
	return rc;
}

int sw_parse_v3(const char *body, size_t len, const char *region, const char *iface, char **url,
		   time_t *expires, char **why)
{
	json_t *root = parse_json(body, len, why), *tok;
	int rc = -EIO;

	*url = NULL;
	*expires = 0;
	if (!root)
		return -EIO;
	tok = json_object_get(root, "token");
	if (!json_is_object(tok)) {
		why_set(why, "the Keystone v3 reply has no token object");
		goto out;
	}
	rc = pick_endpoint(json_object_get(tok, "catalog"), 1, region, iface, url, why);
	if (rc)
		goto out;
	*expires = sw_parse_time(jstr(tok, "expires_at"));
out:
	json_decref(root);
	return rc;
}
