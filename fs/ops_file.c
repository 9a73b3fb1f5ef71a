#include "cache/rfile.h"
#include "fs/layout.h"
#include "common/log.h"
#include "fs/ops.h"
#include "fs/snapfs.h"
#include "fs/writeonce.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

enum hkind { H_READ, H_WRITE, H_STATUS, H_DIR };

/* One per open(): fi->fh. A write handle shares the file's wfile with every other writer; a read
 * handle of a file being written reads through that wfile too. */
struct handle {
	enum hkind kind;
	struct wfile *wf;
	struct rfile *rf;
	pid_t opener;        /* the process that opened: only its flush publishes */
	int flushed;         /* the opener closed a descriptor of it: it may be done with it */
	char *path;          /* at open: libfuse passes NULL paths to ops that have the handle */
	char *doc;           /* status document */
	int stale_logged;    /* a read found the object replaced (logged once) */
	size_t doc_len;
	struct handle *prev, *next;   /* every open handle, so a daemon stopped with files open still
				       * owns them (the kernel never releases those) */
};

static pthread_mutex_t handles_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t handle_gone = PTHREAD_COND_INITIALIZER;   /* a handle was released */
static struct handle *handles;

static struct handle *H(struct fuse_file_info *fi)
{
	return (struct handle *)(uintptr_t)fi->fh;
}

const char *handle_path(struct fuse_file_info *fi)
{
	return fi && H(fi) ? H(fi)->path : NULL;
}

int handle_attr(struct fuse_file_info *fi, uint64_t *size, time_t *mtime)
{
	struct handle *h = H(fi);

	if (!h || !h->wf)
		return 0;
	return wf_getattr(h->wf, size, mtime);
}

static int new_handle(const char *path, struct fuse_file_info *fi, enum hkind kind, struct handle **out)
{
	struct handle *h = calloc(1, sizeof(*h));

	if (!h)
		return -ENOMEM;
	h->path = strdup(path);
	if (!h->path) {
		free(h);
		return -ENOMEM;
	}
	h->kind = kind;
	h->opener = tgid_of(fuse_get_context()->pid);
	pthread_mutex_lock(&handles_lock);
	h->next = handles;
	if (handles)
		handles->prev = h;
	handles = h;
	pthread_mutex_unlock(&handles_lock);
	fi->fh = (uintptr_t)h;
	*out = h;
	return 0;
}

/* One writer per path: the opener of another process's write handle of key (0: none). Caller holds
 * handles_lock. */
static struct handle *writer_elsewhere_locked(const char *key, pid_t me)
{
	for (struct handle *h = handles; h; h = h->next)
		if (h->kind == H_WRITE && h->opener != me && h->wf && !strcmp(wf_key(h->wf), key) &&
		    !wf_unlinked(h->wf))   /* removed or replaced while open: no longer this path's */
			return h;
	return NULL;
}

/* A second process writing into the same stream could publish it half-written: refused (EBUSY). A
 * handle whose opener has closed a descriptor of it may just be waiting for its release, which the
 * kernel sends after close() returns (`: > f; cat x >> f`, pg_dumpall -f handing the file to
 * pg_dump): such a handle gets a second to go. One never closed (a writer at work; the shell's
 * open/dup2/close counts as a close, so pg_dumpall > f falls here after that second) is refused. */
static int refuse_second_writer(const char *path, const char *key, const char *what)
{
	pid_t me = tgid_of(fuse_get_context()->pid), other = 0;
	struct timespec until;
	struct handle *h;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 1;
	pthread_mutex_lock(&handles_lock);
	while ((h = writer_elsewhere_locked(key, me))) {
		if (!h->flushed || pthread_cond_timedwait(&handle_gone, &handles_lock, &until) == ETIMEDOUT) {
			h = writer_elsewhere_locked(key, me);
			other = h ? h->opener : 0;
			break;
		}
	}
	pthread_mutex_unlock(&handles_lock);
	if (!other)
		return 0;
	log_warn("%s refused: %s is being written by pid %d (one writer per file); pid %d gets EBUSY", what,
		 path, (int)other, (int)me);
	return -EBUSY;
}

void handles_renamed(struct wfile *wf, const char *path)
{
	pthread_mutex_lock(&handles_lock);
	for (struct handle *h = handles; h; h = h->next) {
		char *p;

		if (h->wf != wf || !(p = strdup(path)))
			continue;
		free(h->path);
		h->path = p;
	}
	pthread_mutex_unlock(&handles_lock);
}

/* After a commit or a failure the kernel's cached attributes (a size or a time the writer set) are
 * not the store's any more: drop them, so the next stat asks, and tar's stat before and after a read
 * agree. */
static void kernel_forget(const char *path)
{
	if (path)
		fuse_invalidate_path(fuse_get_context()->fuse, path);
}

static void free_handle(struct handle *h)
{
	pthread_mutex_lock(&handles_lock);
	if (h->prev)
		h->prev->next = h->next;
	else
		handles = h->next;
	if (h->next)
		h->next->prev = h->prev;
	pthread_cond_broadcast(&handle_gone);
	pthread_mutex_unlock(&handles_lock);
	free(h->doc);
	free(h->path);
	free(h);
}

static int open_status(struct fuse_file_info *fi)
{
	struct handle *h;
	int rc;

	if ((fi->flags & O_ACCMODE) != O_RDONLY)
		return -EACCES;
	rc = new_handle(STATUS_FILE, fi, H_STATUS, &h);
	if (rc)
		return rc;
	h->doc = status_json(sfs(), &h->doc_len);
	if (!h->doc) {
		free_handle(h);
		return -ENOMEM;
	}
	fi->direct_io = 1;   /* generated: its size changes from read to read */
	return 0;
}

/* Open for writing: shared staging for the object, created empty or over the existing one. */
static int open_write(const char *path, struct fuse_file_info *fi, int creating)
{
	struct snapfs *s = sfs();
	struct meta_entry e = { 0 };
	struct obj_info oi = { 0 };
	struct handle *h = NULL;
	char *key = NULL;
	int rc;

	if (s->cfg.read_only)
		return -EROFS;
	key = path_key(path);
	if (!key)
		return -ENOMEM;
	/* a previous writer still publishing at its release (close returned before it) finishes
	 * first, and what it stored is what this open builds on */
	if (stage_wait_released(&s->stage, key))
		meta_drop(s->meta, path);
	rc = refuse_second_writer(path, key, "open for writing");
	if (!rc)
		rc = wo_check_write(s, path, key, "open for writing");
	if (rc)
		goto out;
	rc = resolve(path, &e);
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
	settle(path);
	rc = new_handle(path, fi, H_WRITE, &h);
	if (rc)
		goto out;
	oi.size = e.size;
	oi.mtime = e.mtime;
	rc = wf_open(&s->stage, key, path, e.kind == META_FILE ? &oi : NULL,
		     creating || (fi->flags & O_TRUNC) || e.kind == META_NONE, &h->wf);
	if (rc) {
		free_handle(h);
		goto out;
	}
	meta_drop(s->meta, path);
out:
	free(key);
	return rc;
}

int op_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	(void)mode;
	return open_write(path, fi, 1);
}

int op_open(const char *path, struct fuse_file_info *fi)
{
	struct snapfs *s = sfs();
	struct meta_entry e;
	struct handle *h;
	struct wfile *wf;
	char *key;
	int rc;

	if (!strcmp(path, STATUS_FILE))
		return open_status(fi);
	if ((fi->flags & O_ACCMODE) != O_RDONLY)
		return open_write(path, fi, 0);
	key = path_key(path);
	if (!key)
		return -ENOMEM;
	rc = new_handle(path, fi, H_READ, &h);
	if (rc)
		goto out;
	wf = wf_find_any(&s->stage, key);
	if (wf) {
		h->wf = wf;   /* being written, or closed and uploading: read what is staged */
		goto out;
	}
	rc = resolve(path, &e);
	if (!rc && e.kind != META_FILE)
		rc = e.kind == META_DIR ? -EISDIR : -ENOENT;
	if (!rc)
		rc = rfile_open(&s->be, s->prefetch, key, e.size, (size_t)s->cfg.read_ahead, &h->rf);
	if (!rc && meta_replaced(s->meta, path)) {
		/* the kernel may hold an older size: read around its page cache, up to the object's end */
		fi->direct_io = 1;
		rfile_size_from_object(h->rf);
	}
	if (rc) {
		free_handle(h);
		goto out;
	}
out:
	free(key);
	return rc;
}

int op_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct handle *h = H(fi);
	ssize_t n;

	(void)path;
	if (h->kind == H_STATUS) {
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
		 * one reads the new version whole */
		if (!h->stale_logged++)
			log_error("%s changed in the store while it was read: read fails (EIO); open it again",
				  h->path);
		meta_set_replaced(sfs()->meta, h->path);
		n = -EIO;
	}
	return (int)n;
}

int op_write(const char *path, const char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct handle *h = H(fi);

	(void)path;
	if (!h->wf || h->kind != H_WRITE)
		return -EBADF;
	return (int)wf_write(h->wf, buf, size, (uint64_t)off);
}

int op_flush(const char *path, struct fuse_file_info *fi)
{
	struct handle *h = H(fi);
	int rc;

	if (h->kind != H_WRITE)
		return 0;
	/* `pg_dumpall > f` runs a pg_dump per database that shares the descriptor; each one's exit
	 * flushes. Only the opener's close publishes; the others learn of a failure. */
	pid_t tid = fuse_get_context()->pid;
	char why[128];

	if (tgid_of(tid) != h->opener)
		return wf_error(h->wf);
	pthread_mutex_lock(&handles_lock);
	h->flushed = 1;
	pthread_mutex_unlock(&handles_lock);
	/* The opener's descriptor also closes when it dies: a writer killed by a signal, or exiting
	 * with a failure, did not finish its file. Nothing is published, now or at release. */
	if (proc_died_failing(tid, why, sizeof(why))) {
		wf_fail(h->wf, -EIO, why);
		rc = -EIO;
	} else {
		rc = wf_flush(h->wf);
	}
	forget(h->path);
	kernel_forget(h->path);
	return rc;
}

int op_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	struct handle *h = H(fi);

	(void)path;
	(void)datasync;
	/* a reader's fsync of a closed file still uploading waits for the store too */
	return h->wf && (h->kind == H_WRITE || wf_queued(h->wf)) ? wf_sync(h->wf) : 0;
}

int op_release(const char *path, struct fuse_file_info *fi)
{
	struct handle *h = H(fi);

	(void)path;
	if (h->wf) {
		int rc = wf_close(h->wf);

		if (rc && h->kind == H_WRITE)
			log_error("%s: closed with an error; the object was not stored", h->path);
		if (h->kind == H_WRITE) {
			forget(h->path);
			kernel_forget(h->path);
		}
	}
	if (h->rf)
		rfile_close(h->rf);
	free_handle(h);
	return 0;
}

int op_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	struct snapfs *s = sfs();
	struct meta_entry e;
	struct obj_info oi = { 0 };
	struct wfile *wf = NULL;
	char *key;
	int rc;

	if (size < 0)
		return -EINVAL;
	if (s->cfg.read_only)
		return -EROFS;
	if (fi && H(fi)->wf && H(fi)->kind == H_WRITE)
		return wf_truncate(H(fi)->wf, (uint64_t)size);
	if (!path)
		path = handle_path(fi);
	if (!path)
		return -EBADF;
	key = path_key(path);
	if (!key)
		return -ENOMEM;
	stage_wait_released(&s->stage, key);
	rc = refuse_second_writer(path, key, "truncate");
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
		rc = resolve(path, &e);
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
	forget(path);
out:
	free(key);
	return rc;
}

int op_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi)
{
	struct snapfs *s = sfs();
	struct wfile *wf = fi && H(fi)->kind == H_WRITE ? H(fi)->wf : NULL;
	char *key;

	/* objects take their time from the store; a file being written keeps the time asked for until
	 * it is stored */
	if (wf) {
		if (tv[1].tv_nsec != UTIME_OMIT)
			wf_set_mtime(wf, tv[1].tv_nsec == UTIME_NOW ? time(NULL) : tv[1].tv_sec);
		return 0;
	}
	if (!path)
		path = handle_path(fi);
	if (!path)
		return 0;
	key = path_key(path);
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
int op_opendir(const char *path, struct fuse_file_info *fi)
{
	struct handle *h;

	return new_handle(path, fi, H_DIR, &h);
}

int op_releasedir(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	free_handle(H(fi));
	return 0;
}
