/* MOUNTPOINT/.snapfs/status: the uploads in progress, the last outcomes and the kept commits, as JSON. */
#include "fs/snapfs.h"
#include "cache/journal.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static void add_upload(void *arg, const struct wf_status *st)
{
	json_t *arr = arg;
	json_t *o = json_pack("{s:s, s:I, s:I, s:i, s:i, s:s, s:I, s:f}", "path", st->path, "bytes_written",
			      (json_int_t)st->size, "bytes_uploaded", (json_int_t)st->uploaded, "parts_in_flight",
			      (int)st->inflight, "parts_done", (int)st->parts_done, "state", st->state, "started",
			      (json_int_t)st->started, "rate_bps", st->rate_bps);

	if (!o)
		return;
	if (st->err)
		json_object_set_new(o, "error", json_string(strerror(st->err < 0 ? -st->err : st->err)));
	json_array_append_new(arr, o);
}

static void add_outcome(void *arg, const struct outcome *oc)
{
	json_t *o = json_pack("{s:s, s:s, s:I, s:I, s:I}", "path", oc->path, "result", oc->stored ? "stored" : "failed",
			      "bytes", (json_int_t)oc->bytes, "at", (json_int_t)oc->at, "seq", (json_int_t)oc->seq);

	if (!o)
		return;
	if (!oc->stored)
		json_object_set_new(o, "reason", json_string(oc->reason));
	json_array_append_new(arg, o);
}

/* A commit that kept failing, kept in the crash journal until `snapctl retry` or `discard`. */
static int add_kept(void *arg, const struct journal_failed *f)
{
	json_t *o = json_pack("{s:s, s:s, s:I, s:I, s:s}", "path", f->path, "key", f->key, "bytes",
			      (json_int_t)f->size, "at", (json_int_t)f->at, "reason", f->why);

	if (o)
		json_array_append_new(arg, o);
	return 0;
}

char *status_json(struct snapfs *s, size_t *len)
{
	json_t *root, *uploads = json_array(), *recent = json_array(), *kept = json_array();
	struct space_stats sp;
	char *out = NULL;

	if (!uploads || !recent || !kept) {
		json_decref(uploads);
		json_decref(recent);
		json_decref(kept);
		return NULL;
	}
	if (s->stage_ready) {
		stage_foreach(&s->stage, add_upload, uploads);
		outcome_foreach(&s->stage.outcomes, add_outcome, recent);
	}
	if (s->journal)
		journal_failed_foreach(s->journal, NULL, add_kept, kept);
	space_stats(&s->space, &sp);
	root = json_pack("{s:s, s:s, s:I, s:o, s:o, s:{s:b, s:I, s:i}, s:{s:I, s:I, s:I, s:i}, s:{s:I, s:I, s:I}}", "version",
			 SNAPFS_VERSION, "source", s->cfg.source, "uptime_s", (json_int_t)(time(NULL) - s->started),
			 "uploads", uploads, "recent", recent, "async_close", "enabled", s->stage.async_limit != 0, "limit",
			 (json_int_t)s->stage.async_limit, "closed_waiting",
			 (int)(s->stage_ready ? stage_async_waiting(&s->stage) : 0), "cache", "used", (json_int_t)sp.used, "limit",
			 (json_int_t)s->space.limit, "peak", (json_int_t)sp.peak, "writers_waiting",
			 (int)sp.waiting, "totals", "committed",
			 (json_int_t)__atomic_load_n(&s->stage.committed, __ATOMIC_RELAXED), "failed",
			 (json_int_t)__atomic_load_n(&s->stage.failed, __ATOMIC_RELAXED), "bytes_uploaded",
			 (json_int_t)__atomic_load_n(&s->stage.bytes_uploaded, __ATOMIC_RELAXED));
	if (!root) {
		json_decref(kept);
		return NULL;
	}
	json_object_set_new(root, "failed_commits", kept);
	out = json_dumps(root, JSON_INDENT(2));
	json_decref(root);
	if (out) {
		size_t n = strlen(out);
		char *p = realloc(out, n + 2);

		if (p) {
			out = p;
			out[n++] = '\n';
			out[n] = 0;
		}
		*len = n;
	}
	return out;
}
