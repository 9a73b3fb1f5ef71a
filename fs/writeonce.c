/* Write-once snapshots: see writeonce.h. */
#include "fs/writeonce.h"
#include "fs/layout.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <unistd.h>

int wo_check_write(struct snapfs *s, const char *path, const char *key, const char *op)
{
	struct obj_info oi;
	int rc;

	if (!s->cfg.write_once)
		return 0;
	rc = s->be.ops->stat(&s->be, key, &oi);
	if (rc == -ENOENT)
		return 0;
	if (rc) {
		log_error("write-once: %s %s refused: the store cannot say whether it holds it: %s", op, path,
			  strerror(-rc));
		return rc;
	}
	log_warn("write-once: %s %s refused: a committed object is never replaced or appended to", op, path);
	return -EPERM;
}

int wo_check_delete(struct snapfs *s, const char *path, const char *op)
{
	if (!s->cfg.no_delete)
		return 0;
	log_warn("no-delete: %s %s refused: this mount removes nothing", op, path);
	return -EPERM;
}

/* A part of one byte through an upload onto key, which exists: 0 if the commit replaced it, -EEXIST if the
 * store refused, another -errno if the probe could not tell. */
static int probe_parts(struct snapfs *s, const char *key)
{
	struct upload *up = NULL;
	struct part p = { .n = 1, .obj_off = 0, .len = 1, .fd_off = 0 };
	int rc;

	p.fd = memfd_create("snapfs-probe", MFD_CLOEXEC);
	if (p.fd < 0)
		return -errno;
	rc = write(p.fd, "x", 1) == 1 ? 0 : -EIO;
	if (!rc)
		rc = s->be.ops->upload_begin(&s->be, key, 0, &up);
	if (!rc) {
		rc = s->be.ops->upload_part(up, &p);
		if (rc)
			s->be.ops->upload_abort(up);
		else if ((rc = s->be.ops->upload_commit(up, 1, NULL)) && s->be.ops->commit_again)
			s->be.ops->upload_abort(up);   /* a refused commit leaves the upload open */
	}
	close(p.fd);
	return rc;
}

void wo_probe(struct snapfs *s)
{
	unsigned char rnd[8];
	char rel[96], *key = NULL;
	const char *why = NULL;
	int fd = s->devnull, rc1 = -EIO, rc2 = -EIO, rc3 = -EIO;

	if (!s->cfg.write_once || s->cfg.read_only)
		return;
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		memset(rnd, 0, sizeof(rnd));
	snprintf(rel, sizeof(rel), ".snapfs-write-once-probe-%02x%02x%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1],
		 rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
	key = source_key(&s->src, rel);
	/* created twice in one request, then once more through an upload in parts (a store may honour
	 * the condition on one and not the other: Ceph RGW 16 ignores it at CompleteMultipartUpload) */
	if (key && fd >= 0) {
		s->bconf.create_only = 1;
		rc1 = s->be.ops->put(&s->be, key, fd, 0, 0, NULL);
		if (!rc1)
			rc2 = s->be.ops->put(&s->be, key, fd, 0, 0, NULL);
		if (rc2 == -EEXIST)
			rc3 = probe_parts(s, key);
		s->be.ops->remove(&s->be, (const char *const *)&key, 1);
	}
	s->bconf.create_only = !rc1 && rc2 == -EEXIST;
	if (s->bconf.create_only && rc3 == -EEXIST) {
		log_info("write-once: committed objects are never replaced; the store's conditional create "
			 "keeps two writers of one name from both winning");
	} else if (s->bconf.create_only) {
		/* still sent: it guards every file that fits in one request */
		log_warn("write-once: the %s store honours a conditional create for an object written in one "
			 "request, not for one uploaded in parts (%s): large files are checked against the store "
			 "at open, and two writers racing for one new name could both write it", s->src.scheme,
			 rc3 ? strerror(-rc3) : "a second create replaced the first");
	} else {
		why = rc1 ? strerror(-rc1) : rc2 ? strerror(-rc2) : "a second create replaced the first";
		log_warn("write-once: the %s store does not honour a conditional create (%s): each open for "
			 "writing is checked against the store instead, and two writers racing for one new name "
			 "could both write it", s->src.scheme, why);
	}
	free(key);
}
