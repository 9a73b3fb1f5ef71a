/* snapctl prune: retention for a database's snapshots with restic's `forget --keep-*` rules. A snapshot's
 * time is the one in a KubeDB name ({db}-YYYYMMDD-HHMMSS, UTC), else its newest object's. Newest first,
 * each rule keeps the newest snapshot of each of its last N periods (last: each snapshot; daily: a UTC
 * day; weekly: an ISO week; monthly: a month). Only with --yes is anything deleted; a snapshot with an
 * upload in progress is never, and the WAL archive/ folder is no snapshot. */
#include "tools/snapctl.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { R_LAST, R_DAILY, R_WEEKLY, R_MONTHLY, NRULES };

static const char *const rule_name[NRULES] = { "last", "daily", "weekly", "monthly" };

struct pick {
	struct sc_snap *sn;
	time_t t;
	int from_name;       /* the time is the one in the name */
	int running;         /* an upload in progress below it */
	int keep[NRULES];    /* the rules that keep it */
	int kept;
};

/* "{anything}-YYYYMMDD-HHMMSS" with a real UTC date and time -> *t */
static int name_time(const char *name, time_t *t)
{
	size_t n = strlen(name);
	const char *p = name + n - 15;
	struct tm tm = { 0 };
	char *end;

	if (n < 17 || p[-1] != '-' || p[8] != '-' || strspn(p, "0123456789") != 8 ||
	    strspn(p + 9, "0123456789") != 6)
		return 0;
	end = strptime(p, "%Y%m%d-%H%M%S", &tm);
	if (!end || *end)
		return 0;
	{
		struct tm norm = tm;
		time_t v = timegm(&norm);

		/* timegm takes February 31st as March 3rd: a name that is no date is no time */
		if (v == (time_t)-1 || norm.tm_mday != tm.tm_mday || norm.tm_mon != tm.tm_mon ||
		    norm.tm_hour != tm.tm_hour || norm.tm_min != tm.tm_min || norm.tm_sec != tm.tm_sec)
			return 0;
		*t = v;
	}
	return 1;
}

/* the period of rule r that t falls in, as a comparable string */
static void period(int r, time_t t, char *buf, size_t cap)
{
	static const char *const fmt[NRULES] = { NULL, "%Y-%m-%d", "%G-W%V", "%Y-%m" };
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, cap, fmt[r], &tm);
}

static int newest_first(const void *a, const void *b)
{
	const struct pick *x = a, *y = b;

	if (x->t != y->t)
		return x->t > y->t ? -1 : 1;
	return strcmp(y->sn->name, x->sn->name);
}

static void reasons(const struct pick *p, char *buf, size_t cap)
{
	size_t n = 0;

	buf[0] = 0;
	if (p->running) {
		snprintf(buf, cap, "upload in progress");
		return;
	}
	for (int r = 0; r < NRULES; r++)
		if (p->keep[r])
			n += (size_t)snprintf(buf + n, n < cap ? cap - n : 0, "%s%s", n ? ", " : "", rule_name[r]);
	if (!n)
		snprintf(buf, cap, "no rule keeps it");
}

/* Delete p's snapshot, listed afresh: an upload that began since the first listing spares it. */
static int delete_one(struct sc_store *st, const struct pick *p)
{
	struct sc_snaps s = { 0 };
	int rc = sc_snaps_collect(st, p->sn->ns, p->sn->db, p->sn->name, 1, 0, &s);

	if (rc)
		return sc_fail("listing %s/%s/%s: %s", p->sn->ns, p->sn->db, p->sn->name, strerror(-rc));
	if (!s.n) {
		rc = 0;     /* gone already */
	} else if (s.v[0].uploads) {
		rc = sc_fail("%s/%s/%s: an upload began meanwhile: not deleted", p->sn->ns, p->sn->db, p->sn->name);
	} else {
		rc = sc_snap_delete(st, &s.v[0]);
	}
	sc_snaps_free(&s);
	return rc;
}

int cmd_prune(int argc, char **argv, const struct sc_opts *o)
{
	char *ns = NULL, *db = NULL, last[NRULES][32], tb[32], why[96];
	struct sc_snaps s = { 0 };
	struct sc_store st = { 0 };
	struct pick *pk = NULL;
	int left[NRULES], any = 0, rc = 1, del = o->yes && !o->dry_run;
	size_t ndel = 0, failed = 0;

	for (int r = 0; r < NRULES; r++) {
		left[r] = o->keep[r] < 0 ? 0 : o->keep[r];
		any |= o->keep[r] >= 0;
		last[r][0] = 0;
	}
	if (argc != 2) {
		fputs("usage: snapctl prune SOURCE NAMESPACE/DATABASE --keep-last N ... [--yes] "
		      "(see snapctl prune --help)\n", stderr);
		return 2;
	}
	if (!any)
		return sc_fail("prune: no --keep-last, --keep-daily, --keep-weekly or --keep-monthly given: "
			       "nothing would be kept") + 1;
	if (sc_parse_snap_ref(argv[1], 2, &ns, &db, NULL))
		return 2;
	if (sc_store_open(&st, argv[0], o))
		goto out;
	rc = sc_snaps_collect(&st, ns, db, NULL, 0, 0, &s);
	if (rc) {
		rc = sc_fail("listing %s: %s", argv[0], strerror(-rc));
		goto out;
	}
	rc = 1;
	if (!s.n) {
		sc_fail("no snapshots of %s/%s in %s", ns, db, argv[0]);
		goto out;
	}
	pk = calloc(s.n, sizeof(*pk));
	if (!pk) {
		sc_fail("out of memory");
		goto out;
	}
	for (size_t i = 0; i < s.n; i++) {
		pk[i].sn = &s.v[i];
		pk[i].from_name = name_time(s.v[i].name, &pk[i].t);
		if (!pk[i].from_name)
			pk[i].t = s.v[i].mtime;
		pk[i].running = s.v[i].uploads > 0;
	}
	qsort(pk, s.n, sizeof(*pk), newest_first);
	/* restic's walk: newest first, a rule keeps a snapshot that opens a period it has not seen yet */
	for (size_t i = 0; i < s.n; i++) {
		struct pick *p = &pk[i];

		if (p->running) {
			p->kept = 1;     /* a dump still being written counts for no rule */
			continue;
		}
		for (int r = 0; r < NRULES; r++) {
			char per[32];

			if (!left[r])
				continue;
			if (r == R_LAST)
				snprintf(per, sizeof(per), "%zu", i);
			else
				period(r, p->t, per, sizeof(per));
			if (!strcmp(per, last[r]))
				continue;
			snprintf(last[r], sizeof(last[r]), "%s", per);
			p->keep[r] = 1;
			p->kept = 1;
			left[r]--;
		}
		ndel += !p->kept;
	}
	if (o->json) {
		json_t *arr = json_array();

		for (size_t i = 0; arr && i < s.n; i++) {
			json_t *rs = json_array();

			for (int r = 0; rs && r < NRULES; r++)
				if (pk[i].keep[r])
					json_array_append_new(rs, json_string(rule_name[r]));
			if (rs && pk[i].running)
				json_array_append_new(rs, json_string("upload in progress"));
			json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s, s:o}", "name", pk[i].sn->name,
							     "time", sc_time(pk[i].t, tb, sizeof(tb)),
							     "time_from", pk[i].from_name ? "name" : "objects",
							     "action", pk[i].kept ? "keep" : "delete", "kept_by", rs));
		}
		if (!arr || json_dumpf(arr, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER))
			sc_fail("out of memory");
		fputc('\n', stdout);
		json_decref(arr);
	} else {
		size_t w = 8;

		for (size_t i = 0; i < s.n; i++)
			if (strlen(pk[i].sn->name) > w)
				w = strlen(pk[i].sn->name);
		printf("%-6s   %-*s   %-20s   %-7s   %s\n", "ACTION", (int)w, "SNAPSHOT", "TIME", "FROM", "KEPT-BY");
		for (size_t i = 0; i < s.n; i++) {
			reasons(&pk[i], why, sizeof(why));
			printf("%-6s   %-*s   %-20s   %-7s   %s\n", pk[i].kept ? "keep" : "delete", (int)w,
			       pk[i].sn->name, sc_time(pk[i].t, tb, sizeof(tb)), pk[i].from_name ? "name" : "objects",
			       pk[i].kept ? why : "-");
		}
	}
	if (!s.uploads_known)
		fprintf(stderr, "note: %s cannot list uploads in progress; a dump still being written "
			"cannot be told from a finished one\n", argv[0]);
	if (!del) {
		fprintf(stderr, "%s/%s: %zu to keep, %zu to delete; nothing deleted (dry run: --yes deletes)\n", ns,
			db, s.n - ndel, ndel);
		rc = 0;
		goto out;
	}
	/* oldest first: an interrupted prune leaves the newer snapshots */
	for (size_t i = s.n; i-- > 0;) {
		if (pk[i].kept)
			continue;
		if (delete_one(&st, &pk[i])) {
			failed++;
			continue;
		}
		if (!o->json)
			printf("deleted %s/%s/%s\n", ns, db, pk[i].sn->name);
	}
	fprintf(stderr, "%s/%s: kept %zu, deleted %zu%s\n", ns, db, s.n - ndel, ndel - failed,
		failed ? ", some deletions FAILED (above)" : "");
	rc = failed ? 1 : 0;
out:
	free(pk);
	sc_snaps_free(&s);
	if (st.url)
		sc_store_close(&st);
	free(ns);
	free(db);
	return rc;
}
