/* Write-once snapshots: see writeonce.h. */
#include "fs/writeonce.h"
#include "fs/layout.h"
#include "fs/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

void wo_probe(struct snapfs *s)
{
	unsigned char rnd[8];
	char rel[96], *key = NULL;
	int fd = s->devnull, rc1 = -EIO, rc2 = -EIO;

	if (!s->cfg.write_once || s->cfg.read_only)
		return;
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		memset(rnd, 0, sizeof(rnd));
	snprintf(rel, sizeof(rel), ".snapfs-write-once-probe-%02x%02x%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1],
		 rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
	key = source_key(&s->src, rel);
	if (key && fd >= 0) {
		s->bconf.create_only = 1;
		rc1 = s->be.ops->put(&s->be, key, fd, 0, 0, NULL);
		if (!rc1)
			rc2 = s->be.ops->put(&s->be, key, fd, 0, 0, NULL);
		s->be.ops->remove(&s->be, (const char *const *)&key, 1);
	}
	s->bconf.create_only = !rc1 && rc2 == -EEXIST;
	if (s->bconf.create_only)
		log_info("write-once: committed objects are never replaced; the store's conditional create "
			 "keeps two writers of one name from both winning");
	else
		log_warn("write-once: the %s store does not honour a conditional create (%s): each open for "
			 "writing is checked against the store instead, and two writers racing for one new name "
			 "could both write it", s->src.scheme, rc1 ? strerror(-rc1) : rc2 ? strerror(-rc2) :
			 "a second create replaced the first");
	free(key);
}
