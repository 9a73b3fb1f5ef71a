#include "backends/objver.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void objver_cond(const struct obj_ver *v, const char *name, char *buf, size_t cap)
{
	buf[0] = 0;
	if (v && v->known && v->tag[0])
		snprintf(buf, cap, "%s: %s", name, v->tag);
}

/* The object's size from a reply: "Content-Range: bytes 0-9/123" or "bytes * /123" (416), else
 * Content-Length of a whole-object 200. 0 and *size, or -1 when the reply does not say. */
static int reply_size(const struct http_resp *resp, uint64_t *size)
{
	char *v = http_header(resp, "Content-Range"), *slash, *end;
	int rc = -1;

	if (v) {
		slash = strrchr(v, '/');
		if (slash && slash[1] != '*') {
			*size = strtoull(slash + 1, &end, 10);
			rc = end != slash + 1 && !*end ? 0 : -1;
		}
	} else if (resp->status == 200 && (v = http_header(resp, "Content-Length"))) {
		*size = strtoull(v, &end, 10);
		rc = end != v && !*end ? 0 : -1;
	}
	free(v);
	return rc;
}

int objver_check(struct obj_ver *v, const struct http_resp *resp, const char *hdr)
{
	char *tag = http_header(resp, hdr);
	uint64_t size = 0;
	int have_size = reply_size(resp, &size) == 0, rc = 0;

	if (tag && strlen(tag) >= sizeof(v->tag))
		tag[sizeof(v->tag) - 1] = 0;   /* longer than any store's: compared as cut */
	if (!v->known) {
		v->known = 1;
		snprintf(v->tag, sizeof(v->tag), "%s", tag ? tag : "");
		v->size = have_size ? size : UINT64_MAX;
		goto out;
	}
	/* a store that ignored the condition still names the version it answered from */
	if (tag && v->tag[0] && strcmp(tag, v->tag))
		rc = -ESTALE;
	if (have_size && v->size != UINT64_MAX && size != v->size)
		rc = -ESTALE;
out:
	free(tag);
	return rc;
}
