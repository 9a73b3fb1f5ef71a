/* Open a store from its SOURCE: see open.h. */
#include "backends/open.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int backend_open_source(const char *url, const struct backend_opts *o, struct source *src, struct secret *sec,
			struct backend_conf *conf, struct backend *b, char **why)
{
	const struct backend_ops *ops;
	int rc;

	memset(sec, 0, sizeof(*sec));
	memset(b, 0, sizeof(*b));
	*why = NULL;
	rc = source_parse(url, src, why);
	if (rc)
		return rc;
	rc = secret_load(sec, o->secret_dir, why);
	if (rc)
		goto fail;
	ops = backend_find(src->scheme);
	if (!ops) {
		rc = -EPROTONOSUPPORT;
		if (asprintf(why, "SOURCE '%s': the %s store is not built into %s", url, src->scheme,
			     program_invocation_short_name) < 0)
			*why = NULL;
		goto fail;
	}
	*conf = (struct backend_conf){
		.src = src, .secret = sec, .endpoint = o->endpoint, .region = o->region,
		.addressing = o->addressing, .timeout_s = o->timeout_s, .retries = o->retries,
	};
	b->ops = ops;
	b->conf = conf;
	rc = ops->open(b, conf, why);
	if (rc) {
		if (!*why)
			*why = strdup(strerror(-rc));
		goto fail;
	}
	return 0;
fail:
	secret_free(sec);
	source_free(src);
	return rc;
}
