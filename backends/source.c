#include "backends/backend.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(char **why, const char *url, const char *what)
{
	if (why && asprintf(why, "SOURCE '%s': %s", url, what) < 0)
		*why = NULL;
	return -EINVAL;
}

/* Drop leading and trailing slashes and collapse runs of them: "/a//b/" -> "a/b". */
static char *clean_prefix(const char *p)
{
	char *out = malloc(strlen(p) + 1), *o = out;

	if (!out)
		return NULL;
	for (; *p; p++) {
		if (*p == '/' && (o == out || o[-1] == '/'))
			continue;
		*o++ = *p;
	}
	if (o > out && o[-1] == '/')
		o--;
	*o = 0;
	return out;
}

int source_parse(const char *url, struct source *out, char **why)
{
	const char *sep = strstr(url, "://"), *rest, *slash;
	int rc = -ENOMEM;

	memset(out, 0, sizeof(*out));
	if (!sep || sep == url)
		return fail(why, url, "not a URL; expected file:///dir, s3://bucket[/prefix], gs://bucket[/prefix], "
				      "azure://container[/prefix] or swift://container[/prefix]");
	out->scheme = strndup(url, (size_t)(sep - url));
	if (!out->scheme)
		goto err;
	for (char *c = out->scheme; *c; c++)
		if (*c >= 'A' && *c <= 'Z')
			*c = (char)(*c - 'A' + 'a');
	if (!backend_scheme_known(out->scheme)) {
		rc = fail(why, url, "unknown store; use file://, s3://, gs://, azure:// or swift://");
		goto err;
	}
	rest = sep + 3;
	if (!strcmp(out->scheme, "file")) {
		if (rest[0] != '/') {
			rc = fail(why, url, "file:// needs an absolute directory, e.g. file:///var/backups");
			goto err;
		}
		out->path = clean_prefix(rest);
		if (!out->path)
			goto err;
		/* clean_prefix dropped the leading '/': put it back */
		char *abs = malloc(strlen(out->path) + 2);
		if (!abs)
			goto err;
		sprintf(abs, "/%s", out->path);
		free(out->path);
		out->path = abs;
		out->prefix = strdup("");
		if (!out->prefix)
			goto err;
		return 0;
	}
	slash = strchr(rest, '/');
	out->bucket = slash ? strndup(rest, (size_t)(slash - rest)) : strdup(rest);
	if (!out->bucket)
		goto err;
	if (!*out->bucket) {
		rc = fail(why, url, "the bucket or container name is empty");
		goto err;
	}
	for (const char *c = out->bucket; *c; c++) {
		if ((unsigned char)*c <= ' ' || *c == '?' || *c == '#' || *c == '%' || *c == '\\') {
			rc = fail(why, url, "the bucket or container name has a character no store allows");
			goto err;
		}
	}
	out->prefix = clean_prefix(slash ? slash + 1 : "");
	if (!out->prefix)
		goto err;
	return 0;
err:
	source_free(out);
	return rc;
}

void source_free(struct source *s)
{
	free(s->scheme);
	free(s->bucket);
	free(s->prefix);
	free(s->path);
	memset(s, 0, sizeof(*s));
}

char *source_key(const struct source *s, const char *rel)
{
	char *k;

	while (*rel == '/')
		rel++;
	if (!s->prefix || !*s->prefix)
		return strdup(rel);
	if (asprintf(&k, "%s/%s", s->prefix, rel) < 0)
		return NULL;
	return k;
}
