/* The write check at mount. A store can refuse the one request that makes a chunked upload visible
 * (CompleteMultipartUpload, Put Block List, a resumable session's final chunk, an SLO manifest)
 * while it takes every part before it; a dump would then fail at close(), hours in. So before the
 * daemon forks, a few bytes go through the very code path a big file takes, as a hidden object
 * beside the kubedb/ tree, which is read back and deleted at once: a few requests. */
#include "backends/probe.h"
#include "common/crypto.h"
#include "common/encode.h"
#include "common/why.h"
#include "common/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define PROBE_NAME ".snapfs-probe-"

static const char body[] = "snapfs write check: this object is deleted right after it is made\n";

static const char *step_name(enum probe_step s)
{
	switch (s) {
	case PROBE_BEGIN: return "starting a chunked upload of";
	case PROBE_PART: return "uploading part 1 of";
	case PROBE_COMMIT: return "committing the chunked upload of";
	case PROBE_STAT: return "reading back";
	case PROBE_REMOVE: return "deleting";
	}
	return "?";
}

/* End a step: on failure, *why names it with the store's own words (the first warning its code
 * logged in the step), or errno's when it logged none. */
static int step_end(enum probe_step s, const char *key, int rc, enum probe_step *failed, char **why)
{
	char *said = log_capture_end();

	if (rc) {
		*failed = s;
		why_set(why, "write check: %s %s failed: %s", step_name(s), key, said ? said : strerror(-rc));
	}
	free(said);
	return rc;
}

int probe_upload(struct backend *b, const char *key, enum probe_step *failed, char **why)
{
	const struct backend_ops *ops = b->ops;
	struct upload *up = NULL;
	struct obj_info oi;
	unsigned char md[32];
	char hex[65];
	size_t len = sizeof(body) - 1;
	struct part p = { .n = 1, .obj_off = 0, .len = len, .fd_off = 0 };
	int rc;

	p.fd = memfd_create("snapfs-probe", MFD_CLOEXEC);
	rc = p.fd < 0 ? -errno : 0;
	if (!rc && write(p.fd, body, len) != (ssize_t)len)
		rc = -EIO;   /* a memory file takes a few bytes whole or not at all */
	if (rc) {
		*failed = PROBE_BEGIN;
		why_set(why, "write check: no memory file for the test bytes: %s", strerror(-rc));
		goto out;
	}
	crypto_sha256(body, len, md);
	enc_hex(md, sizeof(md), hex);

	log_capture_begin();
	rc = step_end(PROBE_BEGIN, key, ops->upload_begin(b, key, 0, &up), failed, why);
	if (rc)
		goto out;
	log_capture_begin();
	rc = step_end(PROBE_PART, key, ops->upload_part(up, &p), failed, why);
	if (rc) {
		ops->upload_abort(up);
		goto out;
	}
	log_capture_begin();
	rc = step_end(PROBE_COMMIT, key, ops->upload_commit(up, 1, hex), failed, why);
	if (rc) {
		/* a store that keeps a refused commit's upload open leaves it to us: abort it */
		if (ops->commit_again)
			ops->upload_abort(up);
		/* a commit whose reply was lost may have made the object after all */
		ops->remove(b, &key, 1);
		goto out;
	}
	log_capture_begin();
	rc = ops->stat(b, key, &oi);
	if (!rc && oi.size != len) {
		log_warn("the committed object has %llu bytes, not the %zu sent", (unsigned long long)oi.size, len);
		rc = -EIO;
	}
	rc = step_end(PROBE_STAT, key, rc, failed, why);
	if (rc) {
		ops->remove(b, &key, 1);   /* whatever it is, it is ours */
		goto out;
	}
	log_capture_begin();
	rc = step_end(PROBE_REMOVE, key, ops->remove(b, &key, 1), failed, why);
out:
	if (p.fd >= 0)
		close(p.fd);
	return rc;
}

int backend_probe(struct backend *b, char **why)
{
	unsigned char rnd[8];
	char name[sizeof(PROBE_NAME) + 2 * sizeof(rnd)], *key;
	struct timespec t0, t1;
	enum probe_step failed;
	int rc;

	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
		return why_fail(why, -EIO, "write check: no random name: %s", strerror(errno));
	memcpy(name, PROBE_NAME, sizeof(PROBE_NAME) - 1);
	enc_hex(rnd, sizeof(rnd), name + sizeof(PROBE_NAME) - 1);
	key = source_key(b->conf->src, name);
	if (!key)
		return why_fail(why, -ENOMEM, "write check: out of memory");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = b->ops->probe ? b->ops->probe(b, key, why) : probe_upload(b, key, &failed, why);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (!rc)
		log_info("write check: %s took a chunked upload of %s, its commit and delete in %ld ms", b->ops->scheme,
			 key, (long)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000));
	free(key);
	return rc;
}
