/* The write check for Swift: segments and an SLO manifest, as a big file goes. A store that takes the
 * segments but refuses the manifest (a proxy without the slo middleware that still says it has it, a
 * gateway that turns ours down) is asked for a DLO instead; if that is taken, big files are DLOs on
 * this mount rather than failing at close(). */
#include "backends/swift/swift_priv.h"
#include "backends/probe.h"
#include "common/why.h"
#include "common/log.h"

#include <stdlib.h>
#include <string.h>

/* the store's words in a probe's one-line failure (what follows "failed: ") */
static const char *reason(const char *why)
{
	const char *r = why ? strstr(why, "failed: ") : NULL;

	return r ? r + strlen("failed: ") : why ? why : "?";
}

int sw_probe(struct backend *b, const char *key, char **why)
{
	struct sw *sw = b->priv;
	enum probe_step failed;
	char *slo_why = NULL;
	int rc = probe_upload(b, key, &failed, why);

	if (!rc || failed != PROBE_COMMIT || !sw->slo)
		return rc;
	slo_why = *why;
	*why = NULL;
	sw->slo = 0;
	rc = probe_upload(b, key, &failed, why);
	if (rc) {
		char *dlo_why = *why;

		*why = NULL;
		why_set(why, "%s (as a DLO; as an SLO: %s)", dlo_why ? dlo_why : strerror(-rc), reason(slo_why));
		free(dlo_why);
	} else {
		log_warn("swift: large objects are DLOs on this mount: the store refused the SLO manifest (%s)",
			 reason(slo_why));
	}
	free(slo_why);
	return rc;
}
