/* snapctl wait FILE: how the last write of FILE through a running mount ended, waited for. A shell
 * redirect never sees the commit that happens as its writer exits; this is the check a script runs
 * after it (`pg_dumpall > f && snapctl wait f`). */
#include "tools/snapctl.h"

#include <errno.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum { W_PENDING, W_STORED, W_FAILED, W_UNKNOWN };

/* The mount holding FILE and FILE's path inside it ("/kubedb/..."): the nearest folder above FILE
 * with a .snapfs/status. FILE itself may not exist (its write failed). 0 or -errno. */
static int locate(const char *file, char *mnt, size_t mcap, char *inner, size_t icap)
{
	char *a = strdup(file), *b = strdup(file), dir[PATH_MAX];
	const char *base;
	size_t n;
	int rc = -ENOENT;

	if (!a || !b) {
		rc = -ENOMEM;
		goto out;
	}
	base = basename(a);
	if (!realpath(dirname(b), dir)) {
		rc = -errno;
		goto out;
	}
	for (;;) {
		char probe[PATH_MAX + 32];
		struct stat st;

		snprintf(probe, sizeof(probe), "%s%s", dir, STATUS_PATH);
		if (!stat(probe, &st) && S_ISREG(st.st_mode))
			break;
		if (!strcmp(dir, "/"))
			goto out;
		*strrchr(dir, '/') = 0;
		if (!*dir)
			strcpy(dir, "/");
	}
	snprintf(mnt, mcap, "%s", dir);
	n = strlen(dir);
	{
		char full[PATH_MAX];

		if (!realpath(dirname(strcpy(b, file)), full)) {
			rc = -errno;
			goto out;
		}
		snprintf(inner, icap, "%s/%s", n > 1 ? full + n : full + 1, base);
		if (inner[0] != '/') {
			memmove(inner + 1, inner, strlen(inner) + 1);
			inner[0] = '/';
		}
	}
	rc = 0;
out:
	free(a);
	free(b);
	return rc;
}

static const char *jstr(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

/* What the status document says of path: its upload still running, or its newest outcome. */
static int judge(json_t *doc, const char *path, json_t **rec)
{
	json_t *v;
	size_t i;

	*rec = NULL;
	json_array_foreach(json_object_get(doc, "uploads"), i, v) {
		if (!strcmp(jstr(v, "path"), path) && strcmp(jstr(v, "state"), "stored") &&
		    strcmp(jstr(v, "state"), "idle"))
			return W_PENDING;
	}
	json_array_foreach(json_object_get(doc, "recent"), i, v) {
		if (!strcmp(jstr(v, "path"), path)) {
			*rec = v;
			return strcmp(jstr(v, "result"), "stored") ? W_FAILED : W_STORED;
		}
	}
	return W_UNKNOWN;
}

int cmd_wait(int argc, char **argv, const struct sc_opts *o)
{
	char mnt[PATH_MAX], path[PATH_MAX + 2];
	time_t start = time(NULL);
	int rc, verdict;

	if (argc != 1) {
		fputs("usage: snapctl wait FILE [--max-wait SECONDS] (see snapctl wait --help)\n", stderr);
		return 2;
	}
	rc = locate(argv[0], mnt, sizeof(mnt), path, sizeof(path));
	if (rc) {
		sc_fail("%s is not in a running snapfs mount (%s)", argv[0],
			rc == -ENOENT ? "no .snapfs/status above it" : strerror(-rc));
		return 2;
	}
	for (;;) {
		json_t *doc, *rec;
		json_error_t je;
		int err;
		char *text = sc_read_status(mnt, &err);

		if (!text) {
			sc_fail("%s: cannot read %s%s: %s", argv[0], mnt, STATUS_PATH, strerror(err));
			return 2;
		}
		doc = json_loads(text, 0, &je);
		free(text);
		if (!json_is_object(doc)) {
			json_decref(doc);
			sc_fail("%s%s: not a status document (%s)", mnt, STATUS_PATH, je.text);
			return 2;
		}
		verdict = judge(doc, path, &rec);
		if (verdict != W_PENDING) {
			struct stat st;
			int there = stat(argv[0], &st) == 0;

			if (verdict == W_UNKNOWN)
				verdict = there ? W_STORED : W_FAILED;
			if (o->json)
				printf("{\"file\": \"%s\", \"result\": \"%s\", \"reason\": \"%s\"}\n", path,
				       verdict == W_STORED ? "stored" : "failed",
				       rec ? jstr(rec, "reason") : there ? "" : "not in the store");
			else if (verdict == W_STORED)
				printf("%s: stored%s\n", argv[0], rec ? "" : " (no write of it through this mount is recorded)");
			else
				fprintf(stderr, "snapctl: %s: NOT stored: %s\n", argv[0],
					rec ? jstr(rec, "reason") : "it is not in the store, and this mount has no record of it");
			json_decref(doc);
			return verdict == W_STORED ? 0 : 1;
		}
		json_decref(doc);
		if (o->max_wait_s && time(NULL) - start >= o->max_wait_s) {
			sc_fail("%s: still being written or uploaded after %d s", argv[0], o->max_wait_s);
			return 3;
		}
		usleep(200 * 1000);
	}
}
