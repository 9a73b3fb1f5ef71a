/* Open files: open, read, write, flush, fsync, release, truncate, utimens (the write-back and read
 * paths); the handle list is fs/handle.c. */
#include "cache/rfile.h"
#include "fs/layout.h"
#include "common/log.h"
#include "fs/handle.h"
#include "fs/notify.h"
#include "fs/ops.h"
#include "fs/resolve.h"
#include "fs/snapfs.h"
#include "fs/writeonce.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* After a commit or a failure the kernel's cached attributes (a size or a time the writer set) are
 * not the store's any more: drop them, so the next stat asks, and tar's stat before and after a read
 * agree. */
static void kernel_forget(const struct sfs_caller *who, const char *path)
{
	if (path && who->fuse)
		fuse_invalidate_path(who->fuse, path);
}

static int open_status(struct snapfs *s, const struct sfs_caller *who, struct fuse_file_info *fi)
{
	struct sfs_handle *h;
	int rc;

	if ((fi->flags & O_ACCMODE) != O_RDONLY)
		return -EACCES;
	rc = sfs_handle_new(s, who, SFS_STATUS_FILE, fi, SFS_H_STATUS, &h);
	if (rc)
		return rc;
	h->doc = status_json(s, &h->doc_len);
	if (!h->doc) {
		sfs_handle_free(s, h);
		return -ENOMEM;
	}
	fi->direct_io = 1;   /* generated: its size changes from read to read */
	return 0;
}

/* Open for writing: shared staging for the object, created empty or over the existing one. */
static int open_write(struct snapfs *s, const struct sfs_caller *who, const char *path,
		      struct fuse_file_info *fi, int creating)
{
	struct meta_entry e = { 0 };
	struct obj_info oi = { 0 };
	struct sfs_handle *h = NULL;
	struct wfile *wf = NULL;
	char *key = NULL;
	int rc;

	if (s->cfg.read_only)
		return -EROFS;
	key = sfs_path_key(s, path);
	if (!key)
		return -ENOMEM;
	/* a previous writer still publishing at its release (close returned before it) finishes
	 * first, and what it stored is what this open builds on */
	if (stage_wait_released(&s->stage, key))
		meta_drop(s->meta, path);
	/* listed first, then checked: of two opens at once one sees the other (writes_path_locked) */
	rc = sfs_handle_new(s, who, path, fi, SFS_H_WRITE, &h);
	if (rc)
		goto out;
	rc = sfs_refuse_second_writer(s, who, path, key, "open for writing", h);
	if (!rc)
		rc = wo_check_write(s, path, key, "open for writing");
	if (rc)
		goto out;
	rc = sfs_resolve(s, path, &e);
	if (rc)
		goto out;
	if (e.kind == META_DIR) {
		if (layout_depth(path) <= 4)
			log_warn("create refused: %s: files go inside kubedb/NAMESPACE/DATABASE/SNAPSHOT/", path);
		rc = -EISDIR;
		goto out;
	}
	if (e.kind == META_NONE || creating) {
		char why[512];

		rc = layout_check_create(path, 0, why, sizeof(why));
		if (rc) {
			log_warn("create refused: %s", why);
			goto out;
		}
	} else if (layout_depth(path) < 5) {
		rc = -EPERM;
		goto out;
	}
	/* a delete still queued for this name must not take the new file with it (a failed one does
	 * not matter: the new file replaces the object) */
	sfs_settle(s, path);
	oi.size = e.size;
	oi.mtime = e.mtime;
	rc = wf_open(&s->stage, key, path, e.kind == META_FILE ? &oi : NULL,
		     creating || (fi->flags & O_TRUNC) || e.kind == META_NONE, &wf);
	if (rc)
		goto out;
	sfs_handle_set_wf(s, h, wf);
	meta_drop(s->meta, path);
out:
	if (rc && h)
		sfs_handle_free(s, h);
	free(key);
	return rc;
}

int sfs_create(struct snapfs *s, const struct sfs_caller *who, const char *path, mode_t mode,
	       struct fuse_file_info *fi)
{
	(void)mode;
	return open_write(s, who, path, fi, 1);
}

int sfs_open(struct snapfs *s, const struct sfs_caller *who, const char *path, struct fuse_file_info *fi)
{
	struct meta_entry e;
	struct sfs_handle *h;
	struct wfile *wf;
	char *key;
	int rc;

	if (!strcmp(path, SFS_STATUS_FILE))
		return open_status(s, who, fi);
	if ((fi->flags & O_ACCMODE) != O_RDONLY)
		return open_write(s, who, path, fi, 0);
	key = sfs_path_key(s, path);
	if (!key)
		return -ENOMEM;
	rc = sfs_handle_new(s, who, path, fi, SFS_H_READ, &h);
	if (rc)
		goto out;
	wf = wf_find_any(&s->stage, key);
	if (wf) {
		sfs_handle_set_wf(s, h, wf);   /* being written, or closed and uploading: read what is staged */
		goto out;
	}
	rc = sfs_resolve(s, path, &e);
	if (!rc && e.kind != META_FILE)
		rc = e.kind == META_DIR ? -EISDIR : -ENOENT;
	if (!rc)
		rc = rfile_open(&s->be, s->prefetch, key, e.size, (size_t)s->cfg.read_ahead, &h->rf);
	/* The kernel may hold an older size: read around its page cache, up to the object's end. With
	 * its writeback cache it never takes a size from the daemon for an inode it holds, so every
	 * read goes around (a longer object replaced by another client would read short). */
	if (!rc && (s->cfg.writeback_cache || meta_replaced(s->meta, path))) {
		fi->direct_io = 1;
		rfile_size_from_object(h->rf);
	}
	if (rc) {
		sfs_handle_free(s, h);
		goto out;
	}
out:
	free(key);
	return rc;
}

int sfs_read(struct snapfs *s, const struct sfs_caller *who, const char *path, char *buf, size_t size,
	     off_t off, struct fuse_file_info *fi)
{
	struct sfs_handle *h = sfs_handle_of(fi);
	ssize_t n;

	(void)path;
	if (h->kind == SFS_H_STATUS) {
		if ((size_t)off >= h->doc_len)
			return 0;
		if (size > h->doc_len - (size_t)off)
			size = h->doc_len - (size_t)off;
		memcpy(buf, h->doc + off, size);
		return (int)size;
	}
	if (h->wf)
		return (int)wf_read(h->wf, buf, size, (uint64_t)off);
	n = rfile_read(h->rf, buf, size, (uint64_t)off);
	if (n == -ESTALE) {
		/* never two versions spliced, never zeros for a shorter one: this open fails, the next
		 * one reads the new version whole; reads of one handle run in parallel (async reads) */
		if (!__atomic_exchange_n(&h->stale_logged, 1, __ATOMIC_RELAXED))
			log_error("%s changed in the store while it was read: read fails (EIO); open it again",
				  h->path);
		meta_set_replaced(s->meta, h->path);
		n = -EIO;
	}
	return (int)n;
}

int sfs_write(struct snapfs *s, const struct sfs_caller *who, const char *path, const char *buf,
	      size_t size, off_t off, struct fuse_file_info *fi)
{
	struct sfs_handle *h = sfs_handle_of(fi);
	ssize_t n;

	(void)path;
	if (!h->wf || h->kind != SFS_H_WRITE)
		return -EBADF;
	n = wf_write(h->wf, buf, size, (uint64_t)off);
	/* With the writeback cache this WRITE is the kernel's, not the writer's: make the writer's next
	 * write() refresh the attributes, which fails (sfs_getattr) */
	if (n < 0 && s->notify && !__atomic_exchange_n(&h->fail_told, 1, __ATOMIC_RELAXED))
		notify_inval(s->notify, h->path);
	return (int)n;
}

int sfs_flush(struct snapfs *s, const struct sfs_caller *who, const char *path, struct fuse_file_info *fi)
{
	struct sfs_handle *h = sfs_handle_of(fi);
	int rc;

	if (h->kind != SFS_H_WRITE)
		return 0;
	/* `pg_dumpall > f` runs a pg_dump per database that shares the descriptor; each one's exit
	 * flushes. Only the opener's close publishes; the others learn of a failure. */
	pid_t tid = who->pid;
	char why[128];

	if (proc_tgid_of(tid) != h->opener)
		return wf_error(h->wf);
	sfs_handle_flushed(s, h);
	/* The opener's descriptor also closes when it dies: a writer killed by a signal, or exiting
	 * with a failure, did not finish its file. Nothing is published, now or at release. */
	if (proc_died_failing(tid, why, sizeof(why))) {
		wf_fail(h->wf, -EIO, why);
		rc = -EIO;
	} else {
		rc = wf_flush(h->wf);
	}
	sfs_forget(s, h->path);
	kernel_forget(who, h->path);
	return rc;
}

int sfs_fsync(struct snapfs *s, const struct sfs_caller *who, const char *path, int datasync,
	      struct fuse_file_info *fi)
{
	struct sfs_handle *h = sfs_handle_of(fi);

	(void)path;
	(void)datasync;
	/* a reader's fsync of a closed file still uploading waits for the store too */
	return h->wf && (h->kind == SFS_H_WRITE || wf_queued(h->wf)) ? wf_sync(h->wf) : 0;
}

int sfs_release(struct snapfs *s, const struct sfs_caller *who, const char *path, struct fuse_file_info *fi)
{
	struct sfs_handle *h = sfs_handle_of(fi);

	(void)path;
	if (h->wf) {
		int rc;

		sfs_handle_releasing(s, h);
		rc = wf_close(h->wf);

		if (rc && h->kind == SFS_H_WRITE)
			log_error("%s: closed with an error; the object was not stored", h->path);
		if (h->kind == SFS_H_WRITE) {
			sfs_forget(s, h->path);
			kernel_forget(who, h->path);
		}
	}
	if (h->rf)
		rfile_close(h->rf);
	sfs_handle_free(s, h);
	return 0;
}

int sfs_truncate(struct snapfs *s, const struct sfs_caller *who, const char *path, off_t size,
		 struct fuse_file_info *fi)
{
	struct meta_entry e;
	struct obj_info oi = { 0 };
	struct wfile *wf = NULL;
	char *key;
	int rc;

	if (size < 0)
		return -EINVAL;
	if (s->cfg.read_only)
		return -EROFS;
	if (fi && sfs_handle_of(fi)->wf && sfs_handle_of(fi)->kind == SFS_H_WRITE)
		return wf_truncate(sfs_handle_of(fi)->wf, (uint64_t)size);
	if (!path)
		path = sfs_handle_path(fi);
	if (!path)
		return -EBADF;
	key = sfs_path_key(s, path);
	if (!key)
		return -ENOMEM;
	stage_wait_released(&s->stage, key);
	rc = sfs_refuse_second_writer(s, who, path, key, "truncate", NULL);
	if (rc)
		goto out;
	wf = wf_find(&s->stage, key);
	if (wf) {
		rc = wf_truncate(wf, (uint64_t)size);
		wf_close(wf);
		goto out;
	}
	/* truncate(1) on a closed object: stage it, change it, publish it */
	rc = wo_check_write(s, path, key, "truncate");
	if (!rc)
		rc = sfs_resolve(s, path, &e);
	if (rc)
		goto out;
	if (e.kind != META_FILE) {
		rc = e.kind == META_DIR ? -EISDIR : -ENOENT;
		goto out;
	}
	oi.size = e.size;
	rc = wf_open(&s->stage, key, path, &oi, size == 0, &wf);
	if (rc)
		goto out;
	rc = wf_truncate(wf, (uint64_t)size);
	if (!rc)
		rc = wf_commit(wf);
	wf_close(wf);
	sfs_forget(s, path);
out:
	free(key);
	return rc;
}

int sfs_utimens(struct snapfs *s, const struct sfs_caller *who, const char *path,
		const struct timespec tv[2], struct fuse_file_info *fi)
{
	struct wfile *wf = fi && sfs_handle_of(fi)->kind == SFS_H_WRITE ? sfs_handle_of(fi)->wf : NULL;
	char *key;

	/* objects take their time from the store; a file being written keeps the time asked for until
	 * it is stored */
	if (wf) {
		if (tv[1].tv_nsec != UTIME_OMIT)
			wf_set_mtime(wf, tv[1].tv_nsec == UTIME_NOW ? time(NULL) : tv[1].tv_sec);
		return 0;
	}
	if (!path)
		path = sfs_handle_path(fi);
	if (!path)
		return 0;
	key = sfs_path_key(s, path);
	if (!key)
		return -ENOMEM;
	wf = wf_find(&s->stage, key);
	free(key);
	if (wf) {
		if (tv[1].tv_nsec != UTIME_OMIT)
			wf_set_mtime(wf, tv[1].tv_nsec == UTIME_NOW ? time(NULL) : tv[1].tv_sec);
		wf_close(wf);
	}
	return 0;
}

/* readdir gets a NULL path (nullpath_ok): the folder's path travels in a handle */
int sfs_opendir(struct snapfs *s, const struct sfs_caller *who, const char *path, struct fuse_file_info *fi)
{
	struct sfs_handle *h;

	return sfs_handle_new(s, who, path, fi, SFS_H_DIR, &h);
}

int sfs_releasedir(struct snapfs *s, const struct sfs_caller *who, const char *path, struct fuse_file_info *fi)
{
	(void)path;
	sfs_handle_free(s, sfs_handle_of(fi));
	return 0;
}
