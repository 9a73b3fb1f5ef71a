/* snapctl failed / retry / discard: the commits a mount kept after the store refused them for the whole
 * --commit-retry window. Each lives as a record in the mount's crash journal (cache/journal.h) with the
 * key and the store's upload token; retry commits the upload from them, discard aborts it. A record is
 * locked while it is worked on, so this runs beside a running mount as well as after one stopped. */
#include "tools/snapctl.h"
#include "cache/journal.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#define DEFAULT_CACHE_DIR "/var/cache/snapfs"

struct pick {
	const char *source;        /* NULL: every store */
	char **want;               /* paths or keys; none: --all */
	int nwant, all;
	struct sc_store *st;
	const struct sc_opts *o;
	int discard;
	unsigned matched, done, failed;
	json_t *arr;               /* failed -o json */
};

/* "s3://b/p/" and "s3://b/p" name the same store */
static int same_source(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	while (la > 1 && a[la - 1] == '/')
		la--;
	while (lb > 1 && b[lb - 1] == '/')
		lb--;
	return la == lb && !strncmp(a, b, la);
}

static int wanted(const struct pick *pk, const struct journal_failed *f)
{
	if (pk->source && !same_source(pk->source, f->source))
		return 0;
	if (pk->all)
		return 1;
	for (int i = 0; i < pk->nwant; i++) {
		const char *w = pk->want[i];

		if (!strcmp(w, f->key) || !strcmp(w, f->path) || (w[0] != '/' && !strcmp(w, f->path + 1)))
			return 1;
	}
	return 0;
}

static int list_one(void *arg, const struct journal_failed *f)
{
	struct pick *pk = arg;
	char a[32], b[32];

	if (!wanted(pk, f))
		return 0;
	pk->matched++;
	if (pk->arr) {
		json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:I, s:s, s:s}", "source", f->source, "path", f->path,
				      "key", f->key, "bytes", (json_int_t)f->size, "at", (json_int_t)f->at, "reason",
				      f->why, "record", f->file);

		if (o)
			json_array_append_new(pk->arr, o);
		return 0;
	}
	printf("%s  %s  %s  %s  %s\n", sc_time(f->at, a, sizeof(a)), f->source, f->path,
	       sc_human(f->size, b, sizeof(b)), f->why);
	return 0;
}

/* The file was written again and stored after its commit failed: a retry must not bring back the
 * older data over it. (The store's clock decides; the record's time is this machine's.) */
static int newer(struct pick *pk, const struct journal_failed *f)
{
	struct obj_info oi;

	return !pk->o->force && !pk->st->ops->stat(&pk->st->b, f->key, &oi) && oi.mtime >= f->at;
}

/* Retry or discard one record, under its lock; the record goes once nothing of it is left to do. */
static int act_one(void *arg, const struct journal_failed *f)
{
	struct pick *pk = arg;
	struct backend *be = &pk->st->b;
	char file[4200];
	int fd, rc;

	if (!wanted(pk, f))
		return 0;
	pk->matched++;
	snprintf(file, sizeof(file), "%s/%s", f->dir, f->file);
	fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB)) {
		fprintf(stderr, "snapctl: %s: %s\n", f->path,
			fd < 0 ? "its record is gone (handled meanwhile)" : "another snapctl is at it");
		if (fd >= 0)
			close(fd);
		pk->failed++;
		return 0;
	}
	if (access(file, F_OK)) {   /* handled by the one that held the lock before us */
		close(fd);
		return 0;
	}
	if (pk->discard) {
		rc = be->ops->upload_forget ? be->ops->upload_forget(be, f->key, f->token) : -EOPNOTSUPP;
		if (rc == -ENOENT)
			rc = 0;   /* nothing of it left: the record has nothing more to do */
	} else if (newer(pk, f)) {
		fprintf(stderr, "snapctl: %s: the store holds a version written after this commit failed: "
			"not replaced (`snapctl discard` drops this one)\n", f->path);
		close(fd);
		pk->failed++;
		return 0;
	} else {
		rc = be->ops->upload_finish ? be->ops->upload_finish(be, f->key, f->token) : -EOPNOTSUPP;
	}
	if (!rc || (!pk->discard && rc == -ENOENT)) {
		int dfd;

		unlink(file);
		dfd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd >= 0) {
			fsync(dfd);
			close(dfd);
		}
	}
	close(fd);
	if (!rc) {
		pk->done++;
		printf("%s: %s\n", f->path, pk->discard ? "discarded, nothing of its upload is left" :
			"stored");
	} else {
		pk->failed++;
		if (rc == -ENOENT)
			fprintf(stderr, "snapctl: %s: NOT stored: its upload is gone from the store (aborted or "
				"expired); the record was dropped\n", f->path);
		else
			fprintf(stderr, "snapctl: %s: %s failed: %s (the record is kept)\n", f->path,
				pk->discard ? "discarding" : "storing", strerror(-rc));
	}
	return 0;
}

int cmd_failed(int argc, char **argv, const struct sc_opts *o)
{
	const char *dir = o->cache_dir ? o->cache_dir : DEFAULT_CACHE_DIR;
	struct pick pk = { .source = argc > 0 ? argv[0] : NULL, .all = 1, .o = o };
	int rc;

	if (argc > 1)
		return sc_fail("usage: snapctl failed [SOURCE] [--cache-dir DIR] [-o json]") + 1;
	if (o->json && !(pk.arr = json_array()))
		return sc_fail("out of memory");
	rc = journal_failed_foreach(NULL, dir, list_one, &pk);
	if (rc) {
		json_decref(pk.arr);
		return sc_fail("--cache-dir %s: %s", dir, strerror(-rc));
	}
	if (pk.arr) {
		char *s = json_dumps(pk.arr, JSON_INDENT(2));

		json_decref(pk.arr);
		if (!s)
			return sc_fail("out of memory");
		printf("%s\n", s);
		free(s);
	} else if (!pk.matched) {
		printf("no failed commit kept in %s\n", dir);
	}
	return 0;
}

static int act(int argc, char **argv, const struct sc_opts *o, int discard)
{
	const char *dir = o->cache_dir ? o->cache_dir : DEFAULT_CACHE_DIR;
	struct sc_store st;
	struct pick pk = { .o = o, .discard = discard, .st = &st, .all = o->all };
	int rc;

	if (argc < 1 || (argc < 2 && !o->all) || (argc > 1 && o->all))
		return sc_fail("usage: snapctl %s SOURCE PATH... | --all [--cache-dir DIR] [store options]",
			       discard ? "discard" : "retry") + 1;
	pk.source = argv[0];
	pk.want = argv + 1;
	pk.nwant = argc - 1;
	if (sc_store_open(&st, argv[0], o))
		return 1;
	rc = journal_failed_foreach(NULL, dir, act_one, &pk);
	sc_store_close(&st);
	if (rc)
		return sc_fail("--cache-dir %s: %s", dir, strerror(-rc));
	if (!pk.matched && o->all)
		printf("no failed commit of %s kept in %s\n", argv[0], dir);
	else if (!pk.matched)
		return sc_fail("no failed commit of %s kept in %s matches", argv[0], dir);
	return pk.failed ? 1 : 0;
}

int cmd_retry(int argc, char **argv, const struct sc_opts *o)
{
	return act(argc, argv, o, 0);
}

int cmd_discard(int argc, char **argv, const struct sc_opts *o)
{
	return act(argc, argv, o, 1);
}
