/* S3 XML: the request bodies we send and the replies we read. */
#include "backends/s3/s3_priv.h"
#include "common/buf.h"
#include "backends/xml.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MIB (1024ULL * 1024)

static xmlNodePtr root_named(xmlDocPtr doc, const char *name)
{
	xmlNodePtr r = doc ? xmlDocGetRootElement(doc) : NULL;

	return r && !strcmp((const char *)r->name, name) ? r : NULL;
}

static void copy_code(char code[S3_CODE_MAX], const char *c)
{
	snprintf(code, S3_CODE_MAX, "%s", c ? c : "");
}

int s3_parse_error(const char *body, size_t len, char code[S3_CODE_MAX], char **msg)
{
	xmlDocPtr doc = xml_parse(body, len);
	xmlNodePtr r = root_named(doc, "Error");
	char *c;

	if (msg)
		*msg = NULL;
	code[0] = 0;
	if (!r) {
		xmlFreeDoc(doc);
		return -ENOENT;
	}
	c = xml_child_text(r, "Code");
	copy_code(code, c);
	free(c);
	if (msg)
		*msg = xml_child_text(r, "Message");
	xmlFreeDoc(doc);
	return 0;
}

int s3_code_errno(const char *code)
{
	static const struct {
		const char *code;
		int err;
	} map[] = {
		{ "NoSuchKey", -ENOENT }, { "NoSuchBucket", -ENOENT }, { "NoSuchUpload", -ENOENT },
		{ "AccessDenied", -EACCES }, { "InvalidAccessKeyId", -EACCES },
		{ "SignatureDoesNotMatch", -EACCES }, { "AllAccessDisabled", -EACCES },
		{ "ExpiredToken", -EACCES }, { "InvalidToken", -EACCES },
		{ "NotImplemented", -ENOTSUP }, { "EntityTooLarge", -EFBIG }, { "EntityTooSmall", -EINVAL },
		{ "InvalidPart", -EIO }, { "InvalidPartOrder", -EIO }, { "QuotaExceeded", -EDQUOT },
		{ "PreconditionFailed", -EEXIST },
	};

	for (size_t i = 0; code && i < sizeof(map) / sizeof(map[0]); i++)
		if (!strcmp(code, map[i].code))
			return map[i].err;
	return 0;
}

/* Where the sorted Contents and CommonPrefixes of a page are merged. */
struct ent {
	char *key;
	struct obj_info oi;
};

static int ent_cmp(const void *a, const void *b)
{
	return strcmp(((const struct ent *)a)->key, ((const struct ent *)b)->key);
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;

	if (!s || !*s || *s == '-')
		return -EIO;
	errno = 0;
	*out = strtoull(s, &end, 10);
	return errno || *end ? -EIO : 0;
}

static void set_etag(struct obj_info *oi, const char *e)
{
	size_t n;

	if (!e)
		return;
	if (*e == '"')
		e++;
	n = strcspn(e, "\"");
	if (n >= sizeof(oi->etag))
		n = sizeof(oi->etag) - 1;
	memcpy(oi->etag, e, n);
	oi->etag[n] = 0;
}

static int is_true(const char *s)
{
	return s && !strcasecmp(s, "true");
}

int s3_parse_list(const char *body, size_t len, s3_entry_fn fn, void *arg, char **next)
{
	xmlDocPtr doc = xml_parse(body, len);
	xmlNodePtr r = root_named(doc, "ListBucketResult"), n;
	struct ent *e = NULL;
	size_t ne = 0, cap = 0;
	char *t = NULL;
	int rc = 0;

	*next = NULL;
	if (!r) {
		rc = -EIO;
		goto out;
	}
	for (n = r->children; n; n = n->next) {
		int dir;
		char *key, *s;

		if (n->type != XML_ELEMENT_NODE)
			continue;
		dir = !strcmp((const char *)n->name, "CommonPrefixes");
		if (!dir && strcmp((const char *)n->name, "Contents"))
			continue;
		key = xml_child_text(n, dir ? "Prefix" : "Key");
		if (!key) {
			rc = -EIO;
			goto out;
		}
		if (ne == cap) {
			struct ent *ne2;

			cap = cap ? cap * 2 : 64;
			ne2 = realloc(e, cap * sizeof(*e));
			if (!ne2) {
				free(key);
				rc = -ENOMEM;
				goto out;
			}
			e = ne2;
		}
		memset(&e[ne], 0, sizeof(e[ne]));
		e[ne].key = key;
		e[ne].oi.is_dir = dir;
		ne++;
		if (dir)
			continue;
		s = xml_child_text(n, "Size");
		rc = parse_u64(s, &e[ne - 1].oi.size);
		free(s);
		if (rc)
			goto out;
		s = xml_child_text(n, "LastModified");
		e[ne - 1].oi.mtime = s ? s3_parse_iso8601(s) : 0;
		free(s);
		s = xml_child_text(n, "ETag");
		set_etag(&e[ne - 1].oi, s);
		free(s);
	}
	t = xml_child_text(r, "IsTruncated");
	if (is_true(t)) {
		*next = xml_child_text(r, "NextContinuationToken");
		if (!*next || !**next) {
			/* a truncated page we cannot continue would silently hide keys */
			free(*next);
			*next = NULL;
			rc = -EIO;
			goto out;
		}
	}
	if (ne)
		qsort(e, ne, sizeof(*e), ent_cmp);
	for (size_t i = 0; i < ne; i++) {
		if (fn(arg, e[i].key, &e[i].oi)) {
			rc = 1;
			break;
		}
	}
out:
	if (rc < 0) {
		free(*next);
		*next = NULL;
	}
	for (size_t i = 0; i < ne; i++)
		free(e[i].key);
	free(e);
	free(t);
	xmlFreeDoc(doc);
	return rc;
}

int s3_parse_uploads(const char *body, size_t len, s3_entry_fn fn, void *arg, char **next_key,
		     char **next_id)
{
	xmlDocPtr doc = xml_parse(body, len);
	xmlNodePtr r = root_named(doc, "ListMultipartUploadsResult"), n;
	char *t = NULL;
	int rc = 0;

	*next_key = *next_id = NULL;
	if (!r) {
		rc = -EIO;
		goto out;
	}
	for (n = xml_child(r, "Upload"); n; n = xml_next(n, "Upload")) {
		struct obj_info oi = { 0 };
		char *key = xml_child_text(n, "Key"), *s = xml_child_text(n, "Initiated");

		if (!key) {
			free(s);
			rc = -EIO;
			goto out;
		}
		oi.mtime = s ? s3_parse_iso8601(s) : 0;
		free(s);
		rc = fn(arg, key, &oi);
		free(key);
		if (rc) {
			rc = 1;
			goto out;
		}
	}
	t = xml_child_text(r, "IsTruncated");
	if (is_true(t)) {
		*next_key = xml_child_text(r, "NextKeyMarker");
		*next_id = xml_child_text(r, "NextUploadIdMarker");
		if (!*next_key || !**next_key) {
			rc = -EIO;
			goto out;
		}
	}
out:
	if (rc < 0) {
		free(*next_key);
		free(*next_id);
		*next_key = *next_id = NULL;
	}
	free(t);
	xmlFreeDoc(doc);
	return rc;
}

int s3_parse_parts(const char *body, size_t len, int (*fn)(void *, unsigned, const char *, uint64_t),
		   void *arg, unsigned *max_pn, char **next)
{
	xmlDocPtr doc = xml_parse(body, len);
	xmlNodePtr r = root_named(doc, "ListPartsResult"), n;
	char *t = NULL;
	int rc = 0;

	*next = NULL;
	if (!r) {
		rc = -EIO;
		goto out;
	}
	for (n = xml_child(r, "Part"); n && !rc; n = xml_next(n, "Part")) {
		char *pn = xml_child_text(n, "PartNumber"), *etag = xml_child_text(n, "ETag");
		char *sz = xml_child_text(n, "Size");
		uint64_t num = 0, size = 0;

		if (!pn || !etag || !*etag || parse_u64(pn, &num) || !num || num > 10000 ||
		    (sz && parse_u64(sz, &size)))
			rc = -EIO;
		else
			rc = fn(arg, (unsigned)num, etag, size);
		if (!rc && num > *max_pn)
			*max_pn = (unsigned)num;
		free(pn);
		free(etag);
		free(sz);
	}
	if (rc)
		goto out;
	t = xml_child_text(r, "IsTruncated");
	if (is_true(t)) {
		*next = xml_child_text(r, "NextPartNumberMarker");
		if (!*next || !**next || strspn(*next, "0123456789") != strlen(*next))
			rc = -EIO;
	}
out:
	if (rc) {
		free(*next);
		*next = NULL;
	}
	free(t);
	xmlFreeDoc(doc);
	return rc;
}

int s3_parse_upload_id(const char *body, size_t len, char **id)
{
	xmlDocPtr doc = xml_parse(body, len);
	xmlNodePtr r = root_named(doc, "InitiateMultipartUploadResult");

	*id = r ? xml_child_text(r, "UploadId") : NULL;
	xmlFreeDoc(doc);
	if (*id && **id)
		return 0;
	free(*id);
	*id = NULL;
	return -EIO;
}

int s3_parse_result(const char *body, size_t len, const char *root, char **etag, char code[S3_CODE_MAX])
{
	xmlDocPtr doc = xml_parse(body, len);
	xmlNodePtr r;
	int rc = -EIO;

	code[0] = 0;
	if (etag)
		*etag = NULL;
	if (!doc)
		return -EIO;
	r = root_named(doc, root);
	if (r) {
		if (etag)
			*etag = xml_child_text(r, "ETag");
		rc = 0;
	} else if ((r = root_named(doc, "Error"))) {
		char *c = xml_child_text(r, "Code");

		copy_code(code, c);
		free(c);
		if (!strcmp(code, "InternalError") || !strcmp(code, "SlowDown") ||
		    !strcmp(code, "ServiceUnavailable"))
			rc = -EAGAIN;
		else
			rc = s3_code_errno(code) ? s3_code_errno(code) : -EIO;
	}
	xmlFreeDoc(doc);
	return rc;
}

int s3_parse_delete(const char *body, size_t len, char code[S3_CODE_MAX], char **bad_key)
{
	xmlDocPtr doc = xml_parse(body, len);
	xmlNodePtr r = root_named(doc, "DeleteResult"), n;
	int rc = 0;

	code[0] = 0;
	*bad_key = NULL;
	if (!r) {
		xmlFreeDoc(doc);
		return -EIO;
	}
	for (n = xml_child(r, "Error"); n; n = xml_next(n, "Error")) {
		char *c = xml_child_text(n, "Code");

		if (c && !strcmp(c, "NoSuchKey")) {
			free(c);
			continue;
		}
		copy_code(code, c);
		free(c);
		*bad_key = xml_child_text(n, "Key");
		rc = s3_code_errno(code);
		if (!rc || rc == -ENOENT)
			rc = -EIO;
		/* S3 may fail single keys of a batch for a moment: the whole batch can be sent again */
		if (!strcmp(code, "InternalError") || !strcmp(code, "SlowDown") ||
		    !strcmp(code, "ServiceUnavailable"))
			rc = -EAGAIN;
		break;
	}
	xmlFreeDoc(doc);
	return rc;
}

int s3_parse_location(const char *body, size_t len, char **region)
{
	xmlDocPtr doc = xml_parse(body, len);
	xmlNodePtr r = root_named(doc, "LocationConstraint");
	char *v;

	*region = NULL;
	if (!r) {
		xmlFreeDoc(doc);
		return -EIO;
	}
	v = xml_text(r);
	xmlFreeDoc(doc);
	if (!v)
		return -ENOMEM;
	if (!*v || !strcmp(v, "US")) {
		free(v);
		v = strdup("us-east-1");
	} else if (!strcmp(v, "EU")) {
		free(v);
		v = strdup("eu-west-1");
	}
	*region = v;
	return v ? 0 : -ENOMEM;
}

static int add_escaped(struct buf *b, const char *s)
{
	int rc = 0;

	for (; *s && !rc; s++) {
		switch (*s) {
		case '&': rc = buf_adds(b, "&amp;"); break;
		case '<': rc = buf_adds(b, "&lt;"); break;
		case '>': rc = buf_adds(b, "&gt;"); break;
		case '"': rc = buf_adds(b, "&quot;"); break;
		case '\'': rc = buf_adds(b, "&apos;"); break;
		case '\r': rc = buf_adds(b, "&#13;"); break;
		case '\n': rc = buf_adds(b, "&#10;"); break;
		default: rc = buf_add(b, s, 1); break;
		}
	}
	return rc;
}

char *s3_delete_body(const char *const *keys, size_t n)
{
	struct buf b = BUF_INIT;
	int rc = buf_adds(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Delete><Quiet>true</Quiet>");

	for (size_t i = 0; i < n && !rc; i++) {
		rc = buf_adds(&b, "<Object><Key>");
		if (!rc)
			rc = add_escaped(&b, keys[i]);
		if (!rc)
			rc = buf_adds(&b, "</Key></Object>");
	}
	if (!rc)
		rc = buf_adds(&b, "</Delete>");
	if (rc) {
		buf_free(&b);
		return NULL;
	}
	return buf_detach(&b);
}

char *s3_complete_body(char *const *etags, size_t n)
{
	struct buf b = BUF_INIT;
	int rc = buf_adds(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CompleteMultipartUpload>");

	for (size_t i = 0; i < n && !rc; i++) {
		rc = buf_addf(&b, "<Part><PartNumber>%zu</PartNumber><ETag>", i + 1);
		if (!rc)
			rc = add_escaped(&b, etags[i]);
		if (!rc)
			rc = buf_adds(&b, "</ETag></Part>");
	}
	if (!rc)
		rc = buf_adds(&b, "</CompleteMultipartUpload>");
	if (rc) {
		buf_free(&b);
		return NULL;
	}
	return buf_detach(&b);
}

time_t s3_parse_iso8601(const char *s)
{
	struct tm tm = { 0 };
	const char *end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);

	if (!end)
		return 0;
	return timegm(&tm);
}

unsigned s3_split(uint64_t size, uint64_t max, uint64_t *off, uint64_t *len)
{
	uint64_t n, each;

	if (!size || !max)
		return 0;
	n = (size + max - 1) / max;
	each = (size + n - 1) / n;
	/* whole MiB where that still leaves a non-empty last range within max */
	if (n > 1 && (each + MIB - 1) / MIB * MIB <= max && (each + MIB - 1) / MIB * MIB * (n - 1) < size)
		each = (each + MIB - 1) / MIB * MIB;
	for (uint64_t i = 0; off && i < n; i++) {
		off[i] = i * each;
		len[i] = i + 1 < n ? each : size - i * each;
	}
	return (unsigned)n;
}
