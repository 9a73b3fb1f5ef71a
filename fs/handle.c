/* The open handles: see handle.h. */
#include "fs/handle.h"
#include "cache/stage.h"
#include "common/log.h"
#include "fs/snapfs.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t handles_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t handle_gone = PTHREAD_COND_INITIALIZER;   /* a handle was released */
static struct sfs_handle *handles;

struct sfs_handle *sfs_handle_of(struct fuse_file_info *fi)
{
	return (struct sfs_handle *)(uintptr_t)fi->fh;
}

const char *handle_path(struct fuse_file_info *fi)
{
	return fi && sfs_handle_of(fi) ? sfs_handle_of(fi)->path : NULL;
}

int handle_attr(struct fuse_file_info *fi, uint64_t *size, time_t *mtime)
{
	struct sfs_handle *h = sfs_handle_of(fi);

	if (!h || !h->wf)
		return 0;
	return wf_getattr(h->wf, size, mtime);
}

int sfs_handle_new(const char *path, struct fuse_file_info *fi, enum sfs_hkind kind, struct sfs_handle **out)
{
	struct sfs_handle *h = calloc(1, sizeof(*h));

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
static struct sfs_handle *writer_elsewhere_locked(const char *key, pid_t me)
{
	for (struct sfs_handle *h = handles; h; h = h->next)
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
int sfs_refuse_second_writer(const char *path, const char *key, const char *what)
{
	pid_t me = tgid_of(fuse_get_context()->pid), other = 0;
	struct timespec until;
	struct sfs_handle *h;

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
	for (struct sfs_handle *h = handles; h; h = h->next) {
		char *p;

		if (h->wf != wf || !(p = strdup(path)))
			continue;
		free(h->path);
		h->path = p;
	}
	pthread_mutex_unlock(&handles_lock);
}

void sfs_handle_flushed(struct sfs_handle *h)
{
	pthread_mutex_lock(&handles_lock);
	h->flushed = 1;
	pthread_mutex_unlock(&handles_lock);
}

void sfs_handle_free(struct sfs_handle *h)
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

