/* Write-once mounts (--write-once): a committed object in a snapshot is never replaced, truncated or
 * appended to; with --no-delete nothing is removed either. The check here asks the store itself (not the
 * metadata cache), so an object another node committed counts too; the store's conditional create
 * (backend_conf.create_only) closes the window between this check and the upload where it is offered. */
#ifndef SNAPFS_WRITEONCE_H
#define SNAPFS_WRITEONCE_H

#include "fs/snapfs.h"

/* 0 when path (store key key) may be written; -EPERM, with one log line naming op, when it is a committed
 * object of a write-once mount; another -errno when the store cannot tell (refused too). */
int wo_check_write(struct snapfs *s, const char *path, const char *key, const char *op);
/* 0, or -EPERM with one log line when the mount is --no-delete. */
int wo_check_delete(struct snapfs *s, const char *path, const char *op);
/* At mount, for --write-once: whether the store honours a conditional create, probed with a scratch
 * object written twice; sets s->bconf.create_only and says at info level (or warn, for the fallback). */
void wo_probe(struct snapfs *s);

#endif
