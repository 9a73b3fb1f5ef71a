/* snapfs: mount an object store as kubedb/NAMESPACE/DATABASE/SNAPSHOT/ files.
 * The store is opened and checked before the daemon forks, so a bad secret or a missing bucket fails
 * the mount command itself with a one-line reason. */
#include "backends/open.h"
#include "common/log.h"
#include "fs/daemon.h"
#include "fs/notify.h"
#include "fs/ops.h"
#include "fs/readahead.h"
#include "fs/snapfs.h"
#include "fs/writeonce.h"

#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <fuse_lowlevel.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A failed mount: one line on stderr, and in --log-file whatever its level */
static int die(const char *what, const char *why)
{
	log_fatal("%s%s%s", what, why ? ": " : "", why ? why : "");
	return 1;
}

static int mkdir_p(const char *dir)
{
	char tmp[PATH_MAX];

	if (snprintf(tmp, sizeof(tmp), "%s", dir) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(tmp, 0700) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, 0700) && errno != EEXIST)
		return -errno;
	return 0;
}

/* The cache dir must exist and take a spool file: better to learn now than at the first write. */
static int check_cache_dir(const char *dir, char **why)
{
	int rc = mkdir_p(dir), fd;

	if (!rc) {
		fd = open(dir, O_TMPFILE | O_RDWR, 0600);
		if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
			char t[PATH_MAX];

			snprintf(t, sizeof(t), "%s/probe.XXXXXX", dir);
			fd = mkstemp(t);
			if (fd >= 0)
				unlink(t);
		}
		if (fd < 0)
			rc = -errno;
		else
			close(fd);
	}
	if (rc && asprintf(why, "--cache-dir %s is not usable: %s", dir, strerror(-rc)) < 0)
		*why = NULL;
	return rc;
}

static int build_fuse_args(struct snapfs *s, struct fuse_args *args, const char *argv0)
{
	char *o = NULL, *fsname = NULL;
	int rc = -ENOMEM;

	if (fuse_opt_add_arg(args, argv0))
		return -ENOMEM;
	/* the source shows in /proc/mounts and df: a URL never carries a secret. libfuse splits -o at
	 * commas: escaped (a backslash before ',' and '\\'), a comma in SOURCE stays part of the name
	 * instead of adding mount options (s3://b/x,allow_other,suid,dev) */
	if (asprintf(&fsname, "fsname=%s", s->cfg.source) < 0) {
		fsname = NULL;
		goto out;
	}
	if (fuse_opt_add_opt_escaped(&o, fsname) || fuse_opt_add_opt(&o, "subtype=snapfs") ||
	    (s->cfg.allow_other && fuse_opt_add_opt(&o, "allow_other")) ||
	    (s->cfg.allow_root && fuse_opt_add_opt(&o, "allow_root")) ||
	    (s->cfg.read_only && fuse_opt_add_opt(&o, "ro")) ||
	    (s->cfg.fuse_opts && fuse_opt_add_opt(&o, s->cfg.fuse_opts)) ||
	    fuse_opt_add_arg(args, "-o") || fuse_opt_add_arg(args, o))
		goto out;
	rc = 0;
out:
	free(fsname);
	free(o);
	return rc;
}

/* Two parts' worth, at least 16 MiB: the kernel keeps the writer that close to the daemon, and
 * hands over whole parts while the previous ones upload (64 MiB was no faster for pg_dumpall on
 * RGW: 2.5-4.2 s against 2.9-3.3 s, same rounds). */
static unsigned long long wb_dirty_bytes(const struct config *cfg)
{
	unsigned long long v = 2 * cfg->part_size;

	return v < (16ULL << 20) ? 16ULL << 20 : v;
}

static void write_pid_file(const char *path)
{
	FILE *f = fopen(path, "we");

	if (!f) {
		log_warn("cannot write pid file %s: %s", path, strerror(errno));
		return;
	}
	fprintf(f, "%d\n", (int)getpid());
	fclose(f);
}

int main(int argc, char **argv)
{
	static struct snapfs S;
	struct snapfs *s = &S;
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct fuse_loop_config *loop = NULL;
	struct fuse *f = NULL;
	char *why = NULL, *real = NULL;
	const char *fail = NULL;
	struct backend_opts bo;
	int rc, ret = 1, mounted = 0, ready = -1;

	if (options_parse(argc, argv, &s->cfg, &why)) {
		die(why ? why : "out of memory", NULL);
		ret = 2;
		goto out;
	}
	if (s->cfg.help) {
		options_usage(stdout);
		ret = 0;
		goto out;
	}
	if (s->cfg.version) {
		printf("snapfs %s (libfuse %d)\n", SNAPFS_VERSION, fuse_version());
		ret = 0;
		goto out;
	}
	log_setup(s->cfg.log_level, s->cfg.log_file, 0);
	s->started = time(NULL);
	s->uid = getuid();
	s->gid = getgid();
	s->devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	bo = (struct backend_opts){
		.secret_dir = s->cfg.secret_dir, .endpoint = s->cfg.endpoint, .region = s->cfg.region,
		.addressing = s->cfg.addressing, .timeout_s = s->cfg.timeout_s, .retries = s->cfg.retries,
	};

	real = realpath(s->cfg.mountpoint, NULL);
	if (!real) {
		ret = die(s->cfg.mountpoint, strerror(errno));
		goto out;
	}
	free(s->cfg.mountpoint);
	s->cfg.mountpoint = real;

	rc = backend_open_source(s->cfg.source, &bo, &s->src, &s->secret, &s->bconf, &s->be, &why);
	if (rc && s->be.ops) {
		log_fatal("cannot mount %s: %s", s->cfg.source, why ? why : strerror(-rc));
		goto out;
	}
	if (rc) {
		ret = die(why ? why : "bad SOURCE", NULL);
		goto out;
	}
	s->be_open = 1;
	wo_probe(s);
	if (check_cache_dir(s->cfg.cache_dir, &why)) {
		ret = die(why ? why : "cache dir", NULL);
		goto out;
	}
	if (sfs_prepare(s, &why)) {
		ret = die(why ? why : "out of memory", NULL);
		goto out;
	}
	if (s->cfg.cache_size < 2 * s->stage.plan.base) {
		log_fatal("--cache-size %llu MiB is too small for %llu MiB parts: give it at least %llu MiB",
			(unsigned long long)(s->cfg.cache_size >> 20), (unsigned long long)(s->stage.plan.base >> 20),
			(unsigned long long)(2 * s->stage.plan.base >> 20));
		goto out;
	}
	/* a store that refuses the commit big files need fails the mount now, not a dump's close() */
	if (!s->cfg.read_only && !s->cfg.no_probe && (rc = backend_probe(&s->be, &why))) {
		log_fatal("cannot mount %s: %s", s->cfg.source, why ? why : strerror(-rc));
		goto out;
	}
	if (build_fuse_args(s, &args, argv[0])) {
		ret = die("out of memory", NULL);
		goto out;
	}
	f = fuse_new(&args, &sfs_fuse_ops, sizeof(sfs_fuse_ops), s);
	if (!f) {
		ret = die("cannot set up FUSE", "check the mount options");
		goto out;
	}
	if (fuse_mount(f, s->cfg.mountpoint)) {
		ret = die("cannot mount on", s->cfg.mountpoint);
		goto out;
	}
	mounted = 1;
	/* 1 MiB kernel read-ahead (conn->max_readahead alone cannot raise it): a sequential reader's
	 * requests come 1 MiB at a time instead of 128-256 KiB */
	rc = readahead_set(s->cfg.mountpoint, SNAPFS_READAHEAD_KIB);
	if (rc)
		log_info("kernel read-ahead left at its default: %s", strerror(-rc));
	/* With the kernel's writeback cache, what a writer wrote but the daemon has not seen is at
	 * most this much: a failed upload reaches write() while the writer is still that far from its
	 * end, and a dump no bigger reaches the store (or fails) only at close. */
	if (s->cfg.writeback_cache &&
	    (rc = readahead_bdi_set(s->cfg.mountpoint, "max_bytes", wb_dirty_bytes(&s->cfg))))
		log_warn("--writeback-cache: the kernel's dirty bytes for the mount stay unbounded: %s",
			 strerror(-rc));
	if ((rc = daemon_fork(s->cfg.foreground, &ready))) {
		ret = die("cannot daemonize", strerror(-rc));
		goto out;
	}
	if (!s->cfg.foreground && !s->cfg.log_file)
		log_setup(s->cfg.log_level, NULL, 1);
	if (s->cfg.pid_file)
		write_pid_file(s->cfg.pid_file);
	/* threads start here, after the daemon forked, and before FUSE serves a request */
	if (sfs_start(s, &fail)) {
		ret = die(fail, NULL);
		daemon_ready(&ready, 0, fail);
		goto out;
	}
	if (s->cfg.writeback_cache && (rc = notify_start(&s->notify, f))) {
		ret = die("cannot start the notification thread", strerror(-rc));
		daemon_ready(&ready, 0, "cannot start the notification thread");
		goto out;
	}
	if (fuse_set_signal_handlers(fuse_get_session(f))) {
		log_error("cannot install signal handlers");
		goto out;
	}
	loop = fuse_loop_cfg_create();
	if (!loop)
		goto out;
	fuse_loop_cfg_set_max_threads(loop, 32);
	fuse_loop_cfg_set_idle_threads(loop, 8);
	/* the mount command returns now: the pid file exists and the daemon serves */
	daemon_ready(&ready, 1, NULL);
	rc = fuse_loop_mt(f, loop);
	fuse_remove_signal_handlers(fuse_get_session(f));
	/* > 0: ended by SIGTERM/SIGINT/SIGHUP, an orderly unmount like fusermount3 -u */
	ret = rc < 0 ? 1 : 0;
	if (rc < 0)
		log_error("the FUSE loop ended with an error: %s", strerror(-rc));
	else if (rc > 0)
		log_info("signal %d: unmounting", rc);
out:
	daemon_ready(&ready, 0, NULL);
	/* before the unmount closes the FUSE descriptor the notifications are written to */
	notify_stop(s->notify);
	s->notify = NULL;
	if (mounted)
		fuse_unmount(f);
	/* uploads and deletes still queued run first; files still open are named, nothing is published */
	sfs_stop(s);
	if (f)
		fuse_destroy(f);
	fuse_opt_free_args(&args);
	if (loop)
		fuse_loop_cfg_destroy(loop);
	sfs_free(s);
	if (s->be_open)
		s->be.ops->close(&s->be);
	secret_free(&s->secret);
	source_free(&s->src);
	if (s->cfg.pid_file && mounted)
		unlink(s->cfg.pid_file);
	options_free(&s->cfg);
	free(why);
	if (s->devnull >= 0)
		close(s->devnull);
	return ret;
}
