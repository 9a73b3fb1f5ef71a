/* The FUSE operations table: thin wrappers that read the request's context once and call the
 * state-explicit operations (fs/ops.h), and the connection's settings at init. */
#include "fs/ops.h"
#include "common/log.h"
#include "fs/readahead.h"

static int op_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	/* objects carry no modes: accepted and ignored so that cp -p and tar do not fail */
	(void)path;
	(void)mode;
	(void)fi;
	return 0;
}

static int op_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi)
{
	(void)path;
	(void)uid;
	(void)gid;
	(void)fi;
	return 0;
}

/* The request's state and caller, read once per operation: nothing below these wrappers asks FUSE. */
static struct snapfs *ctx(struct sfs_caller *who)
{
	struct fuse_context *c = fuse_get_context();

	*who = (struct sfs_caller){ .pid = c->pid, .uid = c->uid, .gid = c->gid, .fuse = c->fuse };
	return c->private_data;
}

/* op_NAME(PARAMS): the FUSE operation, calling sfs_NAME(state, caller, ARGS...) */
#define OP(name, params, ...)                                            \
	static int op_##name params                                      \
	{                                                                \
		struct sfs_caller who;                                   \
		return sfs_##name(ctx(&who), &who, __VA_ARGS__);         \
	}

OP(getattr, (const char *path, struct stat *st, struct fuse_file_info *fi), path, st, fi)
OP(readdir, (const char *path, void *buf, fuse_fill_dir_t filler, off_t off, struct fuse_file_info *fi,
	     enum fuse_readdir_flags flags), path, buf, filler, off, fi, flags)
OP(statfs, (const char *path, struct statvfs *sv), path, sv)
OP(mkdir, (const char *path, mode_t mode), path, mode)
OP(rmdir, (const char *path), path)
OP(unlink, (const char *path), path)
OP(rename, (const char *from, const char *to, unsigned int flags), from, to, flags)
OP(opendir, (const char *path, struct fuse_file_info *fi), path, fi)
OP(releasedir, (const char *path, struct fuse_file_info *fi), path, fi)
OP(create, (const char *path, mode_t mode, struct fuse_file_info *fi), path, mode, fi)
OP(open, (const char *path, struct fuse_file_info *fi), path, fi)
OP(read, (const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi), path, buf, size, off, fi)
OP(write, (const char *path, const char *buf, size_t size, off_t off, struct fuse_file_info *fi), path, buf, size,
   off, fi)
OP(flush, (const char *path, struct fuse_file_info *fi), path, fi)
OP(fsync, (const char *path, int datasync, struct fuse_file_info *fi), path, datasync, fi)
OP(release, (const char *path, struct fuse_file_info *fi), path, fi)
OP(truncate, (const char *path, off_t size, struct fuse_file_info *fi), path, size, fi)
OP(utimens, (const char *path, const struct timespec tv[2], struct fuse_file_info *fi), path, tv, fi)

static void *op_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	struct snapfs *s = fuse_get_context()->private_data;
	double ttl = s->cfg.meta_ttl_ms / 1000.0;

	/* The kernel's own caches stay short: ours knows about uploads in progress. */
	cfg->entry_timeout = ttl < 1.0 ? ttl : 1.0;
	cfg->attr_timeout = ttl < 1.0 ? ttl : 1.0;
	cfg->negative_timeout = 0;
	cfg->use_ino = 0;
	/* unlink of an open file really unlinks (the open handle keeps its staging; nothing is stored at
	 * close) instead of libfuse's rename to .fuse_hidden, which an object store cannot do cheaply */
	cfg->hard_remove = 1;
	/* ops on an open file that was unlinked come with a NULL path: they use the handle */
	cfg->nullpath_ok = 1;
	/* No kernel writeback cache by default: without it each write() reaches the daemon and returns
	 * the file's sticky EIO at once. That costs a round trip per write(): dd bs=1M loses nothing,
	 * but glibc's stdio sizes its buffer min(BUFSIZ, st_blksize), so pg_dump sends 8 KiB writes
	 * whatever st_blksize says (strace), and a dump takes about twice as long. --writeback-cache
	 * trades that for a failure seen at the writer's next write() after the daemon meets it
	 * (fs/notify.c, sfs_getattr), and none in the last bytes the kernel holds (fs/main.c bounds them). */
	if (s->cfg.writeback_cache && (conn->capable & FUSE_CAP_WRITEBACK_CACHE))
		conn->want |= FUSE_CAP_WRITEBACK_CACHE;
	else
		conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	if (conn->capable & FUSE_CAP_ASYNC_READ)
		conn->want |= FUSE_CAP_ASYNC_READ;
	if (conn->capable & FUSE_CAP_READDIRPLUS)
		conn->want |= FUSE_CAP_READDIRPLUS;
	conn->max_write = 1 << 20;
	conn->max_readahead = SNAPFS_READAHEAD_KIB << 10;
	conn->max_background = 16;
	conn->congestion_threshold = 12;
	/* the threads started before FUSE served (fs/start.c): nothing here can fail */
	if (s->stage.async_limit)
		log_info("asynchronous close for files up to %llu MiB", (unsigned long long)(s->stage.async_limit >> 20));
	log_info("mounted %s on %s", s->cfg.source, s->cfg.mountpoint);
	return s;
}

static void op_destroy(void *data)
{
	struct snapfs *s = data;

	/* fs/main.c stopped the threads (sfs_stop) once the loop ended */
	log_info("unmounted %s", s->cfg.mountpoint);
}

const struct fuse_operations sfs_fuse_ops = {
	.init = op_init,
	.destroy = op_destroy,
	.getattr = op_getattr,
	.opendir = op_opendir,
	.readdir = op_readdir,
	.releasedir = op_releasedir,
	.statfs = op_statfs,
	.mkdir = op_mkdir,
	.rmdir = op_rmdir,
	.unlink = op_unlink,
	.rename = op_rename,
	.create = op_create,
	.open = op_open,
	.read = op_read,
	.write = op_write,
	.flush = op_flush,
	.fsync = op_fsync,
	.release = op_release,
	.truncate = op_truncate,
	.utimens = op_utimens,
	.chmod = op_chmod,
	.chown = op_chown,
};
