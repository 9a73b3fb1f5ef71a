/* snapctl: the command line, the shared options and opening a store. */
#include "tools/snapctl.h"
#include "backends/open.h"
#include "common/log.h"
#include "fs/options.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CRED_HELP \
	"Store options (as for snapfs):\n" \
	"  --secret-dir DIR     credentials, one file per key (a Kubernetes Secret volume)\n" \
	"  --endpoint URL       the store's endpoint (MinIO, Azurite, a private S3)\n" \
	"  --region REGION      the store's region (S3)\n" \
	"  --addressing path|virtual   S3 bucket addressing\n" \
	"  --timeout SECONDS    a request that moves no data this long fails (default 30)\n" \
	"  --retries N          retries of a failed request (default 3)\n" \
	"  --log-level LEVEL    error, warn, info or debug (default error; logs never show secrets)\n"

static const struct cmd {
	const char *name;
	int (*fn)(int, char **, const struct sc_opts *);
	const char *usage;
} cmds[] = {
	{ "ls", cmd_ls,
	  "usage: snapctl ls SOURCE [NAMESPACE[/DATABASE]] [-o table|json] [--all] [store options]\n"
	  "List the snapshots in the store (kubedb/NAMESPACE/DATABASE/SNAPSHOT/), read directly from it:\n"
	  "NAME, NAMESPACE, DATABASE, FILES, SIZE, LAST-MODIFIED and STATUS. STATUS is Running while an\n"
	  "upload below the snapshot is in progress (as the store reports unfinished multipart uploads),\n"
	  "Succeeded when it holds complete objects only, Empty when it holds none.\n"
	  "  -o, --output json    one JSON array for scripts\n"
	  "  --all                also the WAL archive folders (kubedb/NS/DB/archive/)\n" },
	{ "describe", cmd_describe,
	  "usage: snapctl describe SOURCE NAMESPACE/DATABASE/SNAPSHOT [-o table|json] [store options]\n"
	  "Show one snapshot: its store, object path, status, and every file with its size, time and\n"
	  "checksum or ETag, and the uploads still in progress.\n"
	  "  -o, --output json    one JSON object for scripts\n" },
	{ "rm", cmd_rm,
	  "usage: snapctl rm SOURCE NAMESPACE/DATABASE/SNAPSHOT [--yes] [--force] [store options]\n"
	  "Delete a snapshot: every object below kubedb/NS/DB/SNAPSHOT/ (with the slash: snap1 never takes\n"
	  "snap10 along), through the store's batch delete. Asks first; the answer is read from stdin.\n"
	  "  -y, --yes            do not ask\n"
	  "  --force              delete even while uploads into the snapshot are in progress\n" },
	{ "verify", cmd_verify,
	  "usage: snapctl verify SOURCE NAMESPACE/DATABASE/SNAPSHOT [-o table|json] [--jobs N] [store options]\n"
	  "       snapctl verify SOURCE --all [NAMESPACE[/DATABASE]] ...\n"
	  "Is this backup intact? Read every object of the snapshot back from the store (no mount needed),\n"
	  "recompute its SHA-256 and compare it with the snapfs-sha256 the store keeps beside it; where there\n"
	  "is none, with what the store holds: the MD5 (S3 and Swift ETags, Azure Content-MD5, GCS md5Hash),\n"
	  "GCS's CRC32C, or an S3 multipart ETag rebuilt from the part MD5s with snapfs's part sizes. One line\n"
	  "per object: ok, MISMATCH (damaged), NO-CHECKSUM (read whole, nothing to compare with) or ERROR\n"
	  "(unreadable); then the totals and the throughput. A progress bar on a terminal.\n"
	  "Exit status: 0 every object checked out; 1 an object is damaged or unreadable; 3 none is, but some\n"
	  "had no checksum to compare; 2 bad usage.\n"
	  "  --all                every snapshot in the store, or below NAMESPACE or NAMESPACE/DATABASE\n"
	  "  -j, --jobs N         parallel ranged GETs of 8 MiB (default 4)\n"
	  "  --part-size SIZE     the mount's --part-size, for S3 multipart ETags (default 8M, as snapfs's)\n"
	  "  -o, --output json    one JSON object: every object's result, and a summary\n" },
	{ "prune", cmd_prune,
	  "usage: snapctl prune SOURCE NAMESPACE/DATABASE --keep-last N | --keep-daily N | --keep-weekly N |\n"
	  "       --keep-monthly N ... [--yes] [-o table|json] [store options]\n"
	  "Retention as restic's forget: the database's snapshots, newest first, are kept by the rules given:\n"
	  "--keep-last N the N newest; --keep-daily N the newest of each of the last N days that have one;\n"
	  "--keep-weekly N of ISO weeks; --keep-monthly N of months (UTC). A snapshot's time is the one in a\n"
	  "KubeDB name ({db}-YYYYMMDD-HHMMSS, UTC), else its newest object's. Prints every snapshot, keep or\n"
	  "delete, and the rules that keep it. Deletes only with --yes (a dry run otherwise); never a snapshot\n"
	  "with an upload in progress (listed again right before it goes), never the WAL archive/ folder.\n"
	  "  --keep-last N, --keep-daily N, --keep-weekly N, --keep-monthly N   at least one is required\n"
	  "  -y, --yes            delete what no rule keeps\n"
	  "  --dry-run            only show it, even with --yes (the default without --yes)\n"
	  "  -o, --output json    one JSON array: name, time, time_from, action, kept_by\n" },
	{ "status", cmd_status,
	  "usage: snapctl status MOUNTPOINT [--watch] [--interval SECONDS] [--count N] [-o table|json]\n"
	  "The uploads in progress in a running snapfs mount, from its read-only MOUNTPOINT/.snapfs/status:\n"
	  "file, bytes written, bytes uploaded, parts in flight and done, rate, state and errors.\n"
	  "  -w, --watch          redraw with progress bars until interrupted\n"
	  "  --interval SECONDS   time between screens (default 1)\n"
	  "  --count N            stop after N screens\n"
	  "  -o, --output json    the status document as it is\n" },
	{ "wait", cmd_wait,
	  "usage: snapctl wait FILE [--max-wait SECONDS] [-o json]\n"
	  "Wait until FILE, in a running snapfs mount, is stored, and say how its last write ended (from the\n"
	  "mount's .snapfs/status): exit 0 once it is stored, 1 if it was NOT stored (the reason is printed),\n"
	  "3 if --max-wait ran out first, 2 if FILE is not in a snapfs mount. `pg_dumpall > FILE && snapctl\n"
	  "wait FILE` fails when the dump did not reach the store, whatever the shell saw.\n"
	  "  --max-wait SECONDS   give up after this long (default: wait as long as it takes)\n"
	  "  -o, --output json    the outcome as one JSON object\n" },
	{ "failed", cmd_failed,
	  "usage: snapctl failed [SOURCE] [--cache-dir DIR] [-o json]\n"
	  "The commits a mount with this --cache-dir kept after the store refused them for its whole\n"
	  "--commit-retry: each file's upload stays open in the store until `snapctl retry` stores it or\n"
	  "`snapctl discard` drops it. Read from the cache dir: the mount may be running or stopped.\n"
	  "  --cache-dir DIR      the mount's --cache-dir (default /var/cache/snapfs)\n"
	  "  -o, --output json    one JSON array\n" },
	{ "retry", cmd_retry,
	  "usage: snapctl retry SOURCE PATH... | --all [--cache-dir DIR] [store options]\n"
	  "Commit the kept uploads of these files (PATH as the mount shows it below its root, or the\n"
	  "key): exit 0 when every one is stored whole, 1 if one is not (its record stays). A file\n"
	  "stored again after its commit failed is not replaced by the older data unless --force.\n"
	  "  --cache-dir DIR      the mount's --cache-dir (default /var/cache/snapfs)\n"
	  "  --all                every failed commit of SOURCE\n" },
	{ "discard", cmd_discard,
	  "usage: snapctl discard SOURCE PATH... | --all [--cache-dir DIR] [store options]\n"
	  "Abort the kept uploads of these files: nothing of them stays in the store; the object stays\n"
	  "as it was before the failed write.\n"
	  "  --cache-dir DIR      the mount's --cache-dir (default /var/cache/snapfs)\n"
	  "  --all                every failed commit of SOURCE\n" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: snapctl COMMAND [ARGS] [options]\n\n"
		   "Commands:\n"
		   "  ls SOURCE [NS[/DB]]         list snapshots, read from the store\n"
		   "  describe SOURCE NS/DB/SNAP  one snapshot's files, sizes and checksums\n"
		   "  rm SOURCE NS/DB/SNAP        delete a snapshot (asks unless --yes)\n"
		   "  verify SOURCE NS/DB/SNAP    read a snapshot back and check its checksums (--all)\n"
		   "  prune SOURCE NS/DB --keep-* delete old snapshots by retention rules (dry run unless --yes)\n"
		   "  status MOUNTPOINT           uploads in progress in a running mount (--watch)\n"
		   "  wait FILE                   exit 0 once FILE is stored, 1 if it was not\n"
		   "  failed [SOURCE]             commits the store refused, kept (--cache-dir)\n"
		   "  retry|discard SOURCE PATH   store or drop a kept failed commit\n\n"
		   "SOURCE: file:///dir | s3://BUCKET[/PREFIX] | gs://BUCKET[/PREFIX] |\n"
		   "        azure://CONTAINER[/PREFIX] | swift://CONTAINER[/PREFIX]\n\n"
		   CRED_HELP
		   "\n`snapctl COMMAND --help` explains each command.\n");
}

int sc_fail(const char *fmt, ...)
{
	va_list ap;

	fputs("snapctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

const char *sc_human(uint64_t n, char *buf, size_t cap)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	double v = (double)n;
	int u = 0;

	while (v >= 1024 && u < 5) {
		v /= 1024;
		u++;
	}
	if (!u)
		snprintf(buf, cap, "%llu B", (unsigned long long)n);
	else
		snprintf(buf, cap, "%.1f %s", v, unit[u]);
	return buf;
}

const char *sc_time(time_t t, char *buf, size_t cap)
{
	struct tm tm;

	if (!t || !gmtime_r(&t, &tm))
		snprintf(buf, cap, "-");
	else
		strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}

int sc_store_open(struct sc_store *st, const char *url, const struct sc_opts *o)
{
	struct backend_opts bo = { .secret_dir = o->secret_dir, .endpoint = o->endpoint, .region = o->region,
				   .addressing = o->addressing, .timeout_s = o->timeout_s, .retries = o->retries };
	char *why = NULL;
	int rc;

	memset(st, 0, sizeof(*st));
	st->url = strdup(url);
	rc = backend_open_source(url, &bo, &st->src, &st->sec, &st->conf, &st->b, &why);
	if (rc) {
		sc_fail("%s", why ? why : strerror(-rc));
		free(why);
		return 1;
	}
	st->ops = st->b.ops;
	st->opened = 1;
	return 0;
}

void sc_store_close(struct sc_store *st)
{
	if (st->opened)
		st->ops->close(&st->b);
	secret_free(&st->sec);
	source_free(&st->src);
	free(st->url);
	memset(st, 0, sizeof(*st));
}

void sc_store_name(const struct sc_store *st, char *buf, size_t cap)
{
	const char *s = st->src.scheme;

	if (!strcmp(s, "file"))
		snprintf(buf, cap, "local:%s", st->src.path);
	else
		snprintf(buf, cap, "%s:%s", s, st->src.bucket);
}

char *sc_object_path(const struct sc_store *st, const char *key)
{
	char *p;

	if (asprintf(&p, "%s%s%s", st->src.path ? st->src.path : st->src.bucket,
		     st->src.path && !strcmp(st->src.path, "/") ? "" : "/", key) < 0)
		return NULL;
	return p;
}

int main(int argc, char **argv)
{
	enum { O_SECRET = 256, O_ENDPOINT, O_REGION, O_ADDR, O_TIMEOUT, O_RETRIES, O_LOG, O_FORCE, O_ALL,
	       O_INTERVAL, O_COUNT, O_MAX_WAIT, O_PART_SIZE, O_KEEP_LAST, O_KEEP_DAILY, O_KEEP_WEEKLY,
	       O_KEEP_MONTHLY, O_DRY_RUN, O_CACHE_DIR };
	static const struct option lopts[] = {
		{ "secret-dir", required_argument, NULL, O_SECRET },
		{ "endpoint", required_argument, NULL, O_ENDPOINT },
		{ "region", required_argument, NULL, O_REGION },
		{ "addressing", required_argument, NULL, O_ADDR },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "retries", required_argument, NULL, O_RETRIES },
		{ "log-level", required_argument, NULL, O_LOG },
		{ "output", required_argument, NULL, 'o' },
		{ "yes", no_argument, NULL, 'y' },
		{ "force", no_argument, NULL, O_FORCE },
		{ "all", no_argument, NULL, O_ALL },
		{ "watch", no_argument, NULL, 'w' },
		{ "interval", required_argument, NULL, O_INTERVAL },
		{ "count", required_argument, NULL, O_COUNT },
		{ "max-wait", required_argument, NULL, O_MAX_WAIT },
		{ "jobs", required_argument, NULL, 'j' },
		{ "part-size", required_argument, NULL, O_PART_SIZE },
		{ "keep-last", required_argument, NULL, O_KEEP_LAST },
		{ "keep-daily", required_argument, NULL, O_KEEP_DAILY },
		{ "keep-weekly", required_argument, NULL, O_KEEP_WEEKLY },
		{ "keep-monthly", required_argument, NULL, O_KEEP_MONTHLY },
		{ "dry-run", no_argument, NULL, O_DRY_RUN },
		{ "cache-dir", required_argument, NULL, O_CACHE_DIR },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	struct sc_opts o = { .timeout_s = 30, .retries = 3, .interval = 1, .jobs = 4, .keep = { -1, -1, -1, -1 } };
	const struct cmd *cmd = NULL;
	int c, help = 0, lvl = LOG_LVL_ERROR;
	char *end;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
		printf("snapctl %s\n", SNAPFS_VERSION);
		return 0;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		if (argc > 2)
			for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
				if (!strcmp(argv[2], cmds[i].name))
					return fputs(cmds[i].usage, stdout) < 0;
		usage(stdout);
		return 0;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[1], cmds[i].name))
			cmd = &cmds[i];
	if (!cmd) {
		sc_fail("unknown command '%s'; try snapctl --help", argv[1]);
		return 2;
	}
	argc--;
	argv++;
	while ((c = getopt_long(argc, argv, "o:yj:whV", lopts, NULL)) != -1) {
		switch (c) {
		case O_SECRET: o.secret_dir = optarg; break;
		case O_ENDPOINT: o.endpoint = optarg; break;
		case O_CACHE_DIR: o.cache_dir = optarg; break;
		case O_REGION: o.region = optarg; break;
		case O_ADDR:
			if (strcmp(optarg, "path") && strcmp(optarg, "virtual"))
				return sc_fail("--addressing: '%s' is not path or virtual", optarg) + 1;
			o.addressing = optarg;
			break;
		case O_TIMEOUT:
		case O_RETRIES:
		case O_MAX_WAIT:
		case O_COUNT: {
			long v = strtol(optarg, &end, 10);

			if (*end || end == optarg || v < 0 || v > 100000)
				return sc_fail("'%s' is not a valid number here", optarg) + 1;
			if (c == O_TIMEOUT)
				o.timeout_s = (int)v;
			else if (c == O_RETRIES)
				o.retries = (int)v;
			else if (c == O_MAX_WAIT)
				o.max_wait_s = (int)v;
			else
				o.count = (int)v;
			break;
		}
		case 'j':
		case O_KEEP_LAST:
		case O_KEEP_DAILY:
		case O_KEEP_WEEKLY:
		case O_KEEP_MONTHLY: {
			long v = strtol(optarg, &end, 10);

			if (*end || end == optarg || v < (c == 'j') || v > (c == 'j' ? 64 : 100000))
				return sc_fail("%s: '%s' is not a valid number%s", c == 'j' ? "--jobs" : "--keep-*",
					       optarg, c == 'j' ? " (1 to 64)" : "") + 1;
			if (c == 'j')
				o.jobs = (unsigned)v;
			else
				o.keep[c - O_KEEP_LAST] = (int)v;
			break;
		}
		case O_PART_SIZE:
			if (options_parse_size(optarg, &o.part_size) || o.part_size < (1u << 20))
				return sc_fail("--part-size: '%s' is not a size of 1M or more", optarg) + 1;
			break;
		case O_DRY_RUN: o.dry_run = 1; break;
		case O_INTERVAL:
			o.interval = strtod(optarg, &end);
			if (*end || end == optarg || o.interval < 0.05 || o.interval > 3600)
				return sc_fail("--interval: '%s' is not a number of seconds", optarg) + 1;
			break;
		case O_LOG:
			lvl = log_parse_level(optarg);
			if (lvl < 0)
				return sc_fail("--log-level: '%s' is not one of error, warn, info, debug",
					       optarg) + 1;
			break;
		case 'o':
			if (!strcmp(optarg, "json"))
				o.json = 1;
			else if (strcmp(optarg, "table") && strcmp(optarg, "wide"))
				return sc_fail("-o: '%s' is not table or json", optarg) + 1;
			break;
		case 'y': o.yes = 1; break;
		case O_FORCE: o.force = 1; break;
		case O_ALL: o.all = 1; break;
		case 'w': o.watch = 1; break;
		case 'h': help = 1; break;
		case 'V': printf("snapctl %s\n", SNAPFS_VERSION); return 0;
		default:
			fputs(cmd->usage, stderr);
			return 2;
		}
	}
	if (help) {
		fputs(cmd->usage, stdout);
		if (strcmp(cmd->name, "status") && strcmp(cmd->name, "wait") && strcmp(cmd->name, "failed"))
			fputs(CRED_HELP, stdout);
		return 0;
	}
	log_setup((enum log_level)lvl, NULL, 0);
	return cmd->fn(argc - optind, argv + optind, &o);
}
