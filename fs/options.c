#include "fs/options.h"
#include "common/log.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum opt_type { T_STR, T_SIZE, T_UINT, T_INT, T_FLAG, T_LEVEL, T_SECONDS_MS };

struct opt {
	const char *name;
	enum opt_type type;
	size_t off;
	const char *help;
};

#define O(f) offsetof(struct config, f)
static const struct opt opts[] = {
	{ "secret-dir", T_STR, O(secret_dir), "DIR      credentials, one file per key (a Kubernetes Secret volume)" },
	{ "endpoint", T_STR, O(endpoint), "URL        the store's endpoint (S3-compatible, Azurite, a GCS test server)" },
	{ "region", T_STR, O(region), "REGION       the store's region (S3; found with GetBucketLocation on AWS)" },
	{ "addressing", T_STR, O(addressing), "path|virtual  S3 bucket addressing (path for custom endpoints)" },
	{ "cache-dir", T_STR, O(cache_dir), "DIR     write-back staging (default /var/cache/snapfs)" },
	{ "cache-size", T_SIZE, O(cache_size), "SIZE   staging space all open files share (default 1G)" },
	{ "part-size", T_SIZE, O(part_size), "SIZE    first part size; grows to fit 5 TiB in the part cap (default 8M)" },
	{ "uploads", T_UINT, O(uploads), "N          parts in flight per file (default 4)" },
	{ "read-ahead", T_SIZE, O(read_ahead), "SIZE   largest read-ahead window; an open file holds up to 4 (default 8M)" },
	{ "meta-ttl", T_SECONDS_MS, O(meta_ttl_ms), "SECONDS  how long listings and sizes are trusted (default 5)" },
	{ "timeout", T_INT, O(timeout_s), "SECONDS     a request that moves no data this long fails (default 30)" },
	{ "retries", T_INT, O(retries), "N          retries of a failed request, with backoff (default 5)" },
	{ "commit-retry", T_INT, O(commit_retry_s), "SECONDS  a refused final commit is tried again this long, then\n"
	  "                       kept for `snapctl retry` (S3; default 60)" },
	{ "log-level", T_LEVEL, O(log_level), "LEVEL   error, warn, info or debug (default info)" },
	{ "log-file", T_STR, O(log_file), "FILE     log here instead of stderr/syslog" },
	{ "pid-file", T_STR, O(pid_file), "FILE     write the daemon's pid here" },
	{ "allow-other", T_FLAG, O(allow_other), "       let other users use the mount (needs user_allow_other)" },
	{ "allow-root", T_FLAG, O(allow_root), "        let root use the mount" },
	{ "read-only", T_FLAG, O(read_only), "         mount read-only" },
	{ "no-probe", T_FLAG, O(no_probe), "          skip the write check at mount (a tiny upload of a hidden\n"
	  "                       object, committed as big files are, then deleted)" },
	{ "async-close", T_FLAG, O(async_close), "       close returns once the data is safe in --cache-dir;\n"
	  "                       the upload goes on in the background (after a crash or an\n"
	  "                       unmount: at the next mount). Files up to half --cache-size;\n"
	  "                       fsync still waits for the store" },
	{ "writeback-cache", T_FLAG, O(writeback_cache), "   the kernel gathers small writes (pg_dump's 8 KiB) into large\n"
	  "                       ones: dumps about twice as fast; a failed upload reaches\n"
	  "                       write() up to a second later, and one in the last dirty\n"
	  "                       MiB only `snapctl wait` (see the README)" },
	{ "write-once", T_FLAG, O(write_once), "        a committed object in a snapshot is never replaced or\n"
	  "                       appended to (EPERM); the store's conditional create where offered" },
	{ "no-delete", T_FLAG, O(no_delete), "         nothing is removed through the mount (EPERM)" },
	{ "foreground", T_FLAG, O(foreground), "        stay in the foreground (-f)" },
	{ "debug", T_FLAG, O(debug), "             foreground with debug logs (-d)" },
	{ "help", T_FLAG, O(help), "              this text (-h)" },
	{ "version", T_FLAG, O(version), "           the version (-V)" },
};

/* Mount options FUSE understands, handed through as they are. */
static const char *const fuse_pass[] = { "rw", "dev", "nodev", "suid", "nosuid", "exec", "noexec", "atime",
					  "noatime", "relatime", "default_permissions", "auto_unmount", NULL };
/* mount(8)'s and fstab's own words: they mean nothing to FUSE. */
static const char *const mount_words[] = { "defaults", "auto", "noauto", "user", "nouser", "users", "_netdev",
					    "nofail", NULL };

static int in_list(const char *const *list, const char *p, size_t n)
{
	for (int i = 0; list[i]; i++)
		if (strlen(list[i]) == n && !strncmp(p, list[i], n))
			return 1;
	return 0;
}

void options_usage(FILE *f)
{
	fprintf(f, "usage: snapfs SOURCE MOUNTPOINT [options]\n\n"
		   "SOURCE: file:///dir | s3://BUCKET[/PREFIX] | gs://BUCKET[/PREFIX] |\n"
		   "        azure://CONTAINER[/PREFIX] | swift://CONTAINER[/PREFIX]\n\n"
		   "The mount shows MOUNTPOINT/kubedb/NAMESPACE/DATABASE/SNAPSHOT/ files, stored under\n"
		   "[PREFIX/]kubedb/... in the store. Options (also as -o name=value,...):\n");
	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
		fprintf(f, "  --%s %s\n", opts[i].name, opts[i].help);
	fprintf(f, "  -o OPTS             comma-separated name=value list of the above, and FUSE mount options\n"
		   "  -f, -d, -h, -V      foreground, debug, help, version\n");
}

int options_parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	if (!s || !*s || *s == '-')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -EINVAL;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	case 't': case 'T': shift = 40; end++; break;
	case 0: break;
	default: return -EINVAL;
	}
	if (*end == 'i' || *end == 'I')
		end++;
	if (*end == 'b' || *end == 'B')
		end++;
	if (*end || (shift && v > (~0ULL >> shift)))
		return -EINVAL;
	*out = (uint64_t)v << shift;
	return 0;
}

static int fail(char **why, const char *fmt, const char *a, const char *b)
{
	if (asprintf(why, fmt, a, b) < 0)
		*why = NULL;
	return -EINVAL;
}

static const struct opt *find_opt(const char *name, size_t len)
{
	char norm[64];

	if (len >= sizeof(norm))
		return NULL;
	for (size_t i = 0; i < len; i++)
		norm[i] = name[i] == '_' ? '-' : name[i];
	norm[len] = 0;
	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
		if (!strcmp(opts[i].name, norm))
			return &opts[i];
	return NULL;
}

static int set_opt(struct config *cfg, const struct opt *o, const char *val, char **why)
{
	char *base = (char *)cfg + o->off;
	char *end;
	long v;
	uint64_t sz;

	if (o->type == T_FLAG) {
		if (val)
			return fail(why, "option %s takes no value (got '%s')", o->name, val);
		*(int *)base = 1;
		return 0;
	}
	if (!val)
		return fail(why, "option --%s needs a value%s", o->name, "");
	switch (o->type) {
	case T_STR:
		free(*(char **)base);
		*(char **)base = strdup(val);
		return *(char **)base ? 0 : -ENOMEM;
	case T_SIZE:
		if (options_parse_size(val, &sz) || !sz)
			return fail(why, "--%s: '%s' is not a size (like 64M or 1G)", o->name, val);
		*(uint64_t *)base = sz;
		return 0;
	case T_UINT:
	case T_INT:
	case T_SECONDS_MS:
		errno = 0;
		v = strtol(val, &end, 10);
		if (errno || end == val || *end || v < 0 || v > 100000 || (o->type == T_UINT && v == 0))
			return fail(why, "--%s: '%s' is not a valid number here", o->name, val);
		if (o->type == T_UINT)
			*(unsigned *)base = (unsigned)v;
		else if (o->type == T_SECONDS_MS)
			*(unsigned *)base = (unsigned)v * 1000;
		else
			*(int *)base = (int)v;
		return 0;
	case T_LEVEL:
		v = log_parse_level(val);
		if (v < 0)
			return fail(why, "--%s: '%s' is not one of error, warn, info, debug", o->name, val);
		*(int *)base = (int)v;
		return 0;
	case T_FLAG:
		break;
	}
	return -EINVAL;
}

static int add_fuse_opt(struct config *cfg, const char *o, size_t len)
{
	size_t have = cfg->fuse_opts ? strlen(cfg->fuse_opts) : 0;
	char *p = realloc(cfg->fuse_opts, have + len + 2);

	if (!p)
		return -ENOMEM;
	if (have)
		p[have++] = ',';
	memcpy(p + have, o, len);
	p[have + len] = 0;
	cfg->fuse_opts = p;
	return 0;
}

/* -o a=b,c,d=e */
static int parse_o(struct config *cfg, const char *list, char **why)
{
	const char *p = list;

	while (*p) {
		const char *comma = strchr(p, ','), *end = comma ? comma : p + strlen(p);
		const char *eq = memchr(p, '=', (size_t)(end - p));
		size_t nlen = (size_t)((eq ? eq : end) - p);
		const struct opt *o = nlen ? find_opt(p, nlen) : NULL;
		int rc = 0;

		if (o) {
			char *val = eq ? strndup(eq + 1, (size_t)(end - eq - 1)) : NULL;

			if (eq && !val)
				return -ENOMEM;
			rc = set_opt(cfg, o, val, why);
			free(val);
		} else if (nlen == 2 && !strncmp(p, "ro", 2)) {
			cfg->read_only = 1;
		} else if (in_list(fuse_pass, p, nlen)) {
			rc = add_fuse_opt(cfg, p, (size_t)(end - p));
		} else if (nlen && !in_list(mount_words, p, nlen)) {
			char *name = strndup(p, nlen);

			rc = fail(why, "unknown mount option '%s'%s; see snapfs --help", name ? name : "?", "");
			free(name);
		}
		if (rc)
			return rc;
		p = comma ? comma + 1 : end;
	}
	return 0;
}

int options_parse(int argc, char **argv, struct config *cfg, char **why)
{
	int npos = 0, rc;

	memset(cfg, 0, sizeof(*cfg));
	cfg->cache_size = 1ULL << 30;
	cfg->part_size = 8ULL << 20;
	cfg->read_ahead = 8ULL << 20;
	cfg->uploads = 4;
	cfg->meta_ttl_ms = 5000;
	cfg->timeout_s = 30;
	cfg->retries = 5;
	cfg->commit_retry_s = 60;
	cfg->log_level = LOG_LVL_INFO;
	*why = NULL;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "-f")) {
			cfg->foreground = 1;
		} else if (!strcmp(a, "-d")) {
			cfg->debug = cfg->foreground = 1;
		} else if (!strcmp(a, "-h")) {
			cfg->help = 1;
		} else if (!strcmp(a, "-V")) {
			cfg->version = 1;
		} else if (!strcmp(a, "-o") || !strncmp(a, "-o", 2)) {
			const char *list = a[2] ? a + 2 : (i + 1 < argc ? argv[++i] : NULL);

			if (!list)
				return fail(why, "-o needs a list of options%s%s", "", "");
			rc = parse_o(cfg, list, why);
			if (rc)
				return rc;
		} else if (!strncmp(a, "--", 2) && a[2]) {
			const char *eq = strchr(a + 2, '=');
			size_t nlen = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
			const struct opt *o = find_opt(a + 2, nlen);
			const char *val = eq ? eq + 1 : NULL;

			if (!o)
				return fail(why, "unknown option '%s'%s; see snapfs --help", a, "");
			if (!eq && o->type != T_FLAG) {
				if (i + 1 >= argc)
					return fail(why, "option %s needs a value%s", a, "");
				val = argv[++i];
			}
			rc = set_opt(cfg, o, val, why);
			if (rc)
				return rc;
		} else if (a[0] == '-' && a[1]) {
			return fail(why, "unknown option '%s'%s; see snapfs --help", a, "");
		} else if (npos == 0) {
			cfg->source = strdup(a);
			npos++;
		} else if (npos == 1) {
			cfg->mountpoint = strdup(a);
			npos++;
		} else {
			return fail(why, "unexpected argument '%s'%s; usage: snapfs SOURCE MOUNTPOINT [options]", a, "");
		}
	}
	if (cfg->debug)
		cfg->log_level = LOG_LVL_DEBUG;
	if (cfg->help || cfg->version)
		return 0;
	if (npos < 2)
		return fail(why, "usage: snapfs SOURCE MOUNTPOINT [options]%s%s (see --help)", "", "");
	if (cfg->addressing && strcmp(cfg->addressing, "path") && strcmp(cfg->addressing, "virtual"))
		return fail(why, "--addressing: '%s' is not path or virtual%s", cfg->addressing, "");
	if (!cfg->cache_dir)
		cfg->cache_dir = strdup("/var/cache/snapfs");
	if (!cfg->source || !cfg->mountpoint || !cfg->cache_dir)
		return -ENOMEM;
	return 0;
}

void options_free(struct config *cfg)
{
	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		if (opts[i].type == T_STR) {
			char **p = (char **)((char *)cfg + opts[i].off);

			free(*p);
			*p = NULL;
		}
	}
	free(cfg->source);
	free(cfg->mountpoint);
	free(cfg->fuse_opts);
	memset(cfg, 0, sizeof(*cfg));
}
