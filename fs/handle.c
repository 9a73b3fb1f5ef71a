/* The open handles: see handle.h. */
#include "fs/handle.h"
#include "cache/stage.h"
#include "common/log.h"
#include "fs/snapfs.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct sfs_handle *sfs_handle_of(struct fuse_file_info *fi)
{
	return (struct sfs_handle *)(uintptr_t)fi->fh;
}

const char *sfs_handle_path(struct fuse_file_info *fi)
{
	return fi && sfs_handle_of(fi) ? sfs_handle_of(fi)->path : NULL;
}

int sfs_handle_attr(struct fuse_file_info *fi, uint64_t *size, time_t *mtime)
{
	struct sfs_handle *h = sfs_handle_of(fi);

	if (!h || !h->wf)
		return 0;
	return wf_getattr(h->wf, size, mtime);
}

int sfs_handle_error(struct fuse_file_info *fi)
{
	struct sfs_handle *h = sfs_handle_of(fi);

	return h && h->wf && h->kind == SFS_H_WRITE ? wf_error(h->wf) : 0;
}

int sfs_handle_new(struct snapfs *s, const struct sfs_caller *who, const char *path, struct fuse_file_info *fi,
		   enum sfs_hkind kind, struct sfs_handle **out)
{
	struct sfs_handle *h = calloc(1, sizeof(*h));
	char *p = strdup(path);

	if (!h || !p) {
		free(h);
		free(p);
		return -ENOMEM;
	}
	h->path = p;
	h->kind = kind;
	h->opener = proc_tgid_of(who->pid);
	pthread_mutex_lock(&s->handles_lock);
	h->seq = ++s->handle_seq;
	h->next = s->handles;
	if (s->handles)
		s->handles->prev = h;
	s->handles = h;
	pthread_mutex_unlock(&s->handles_lock);
	fi->fh = (uintptr_t)h;
	*out = h;
	return 0;
}

void sfs_handle_set_wf(struct snapfs *s, struct sfs_handle *h, struct wfile *wf)
{
	pthread_mutex_lock(&s->handles_lock);
	h->wf = wf;
	pthread_mutex_unlock(&s->handles_lock);
}

/* Is h a write handle of this path? A handle being released may have lost its staged file already
 * (sfs_release): its own path says. Caller holds s->handles_lock. */
static int writes_path_locked(struct sfs_handle *h, const char *path, const char *key, uint64_t before)
{
	if (h->kind != SFS_H_WRITE)
		return 0;
	if (h->releasing)
		return h->path && !strcmp(h->path, path);
	/* still being opened (no staged file yet): a writer of its path for every opener listed after
	 * it, so of two opens at once exactly the first passes */
	if (!h->wf)
		return h->seq < before && h->path && !strcmp(h->path, path);
	/* removed or replaced while open: no longer this path's */
	return !strcmp(wf_key(h->wf), key) && !wf_unlinked(h->wf);
}

/* One writer per path: the opener of another process's write handle of key (0: none). Caller holds
 * s->handles_lock. */
static struct sfs_handle *writer_elsewhere_locked(struct snapfs *s, const char *path, const char *key, pid_t me,
						    uint64_t before)
{
	for (struct sfs_handle *h = s->handles; h; h = h->next)
		if (h->opener != me && writes_path_locked(h, path, key, before))
			return h;
	return NULL;
}

/* This process's own handle of key, its descriptor closed: the release is on the way (the kernel
 * sends it after close() returns, and with its writeback cache only after flushing the times), and
 * an empty file is published only then. Caller holds s->handles_lock. */
static struct sfs_handle *own_closed_locked(struct snapfs *s, const char *path, const char *key, pid_t me)
{
	for (struct sfs_handle *h = s->handles; h; h = h->next)
		if (h->opener == me && h->flushed && writes_path_locked(h, path, key, UINT64_MAX))
			return h;
	return NULL;
}

/* A second process writing into the same stream could publish it half-written: refused (EBUSY). A
 * handle whose opener has closed a descriptor of it may just be waiting for its release, which the
 * kernel sends after close() returns (`: > f; cat x >> f`, pg_dumpall -f handing the file to
 * pg_dump): such a handle gets a second to go. One never closed (a writer at work; the shell's
 * open/dup2/close counts as a close, so pg_dumpall > f falls here after that second) is refused. */
int sfs_refuse_second_writer(struct snapfs *s, const struct sfs_caller *who, const char *path, const char *key,
			     const char *what, const struct sfs_handle *mine)
{
	uint64_t before = mine ? mine->seq : UINT64_MAX;
	pid_t me = proc_tgid_of(who->pid), other = 0;
	struct timespec until;
	struct sfs_handle *h;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 1;
	pthread_mutex_lock(&s->handles_lock);
	/* `: > f; echo x >> f` in one shell: the append must build on the truncated file, not on the
	 * object before it (its release gets the same second; a descriptor still open elsewhere in the
	 * process just costs that second) */
	while (own_closed_locked(s, path, key, me) &&
	       pthread_cond_timedwait(&s->handle_gone, &s->handles_lock, &until) != ETIMEDOUT)
		;
	while ((h = writer_elsewhere_locked(s, path, key, me, before))) {
		if (!h->flushed || pthread_cond_timedwait(&s->handle_gone, &s->handles_lock, &until) == ETIMEDOUT) {
			h = writer_elsewhere_locked(s, path, key, me, before);
			other = h ? h->opener : 0;
			break;
		}
	}
	pthread_mutex_unlock(&s->handles_lock);
	if (!other)
		return 0;
	log_warn("%s refused: %s is being written by pid %d (one writer per file); pid %d gets EBUSY", what,
		 path, (int)other, (int)me);
	return -EBUSY;
}

void sfs_handles_renamed(struct snapfs *s, struct wfile *wf, const char *path)
{
	pthread_mutex_lock(&s->handles_lock);
	for (struct sfs_handle *h = s->handles; h; h = h->next) {
		char *p;

		if (h->wf != wf || !(p = strdup(path)))
			continue;
		free(h->path);
		h->path = p;
	}
	pthread_mutex_unlock(&s->handles_lock);
}

void sfs_handle_releasing(struct snapfs *s, struct sfs_handle *h)
{
	pthread_mutex_lock(&s->handles_lock);
	h->releasing = 1;
	pthread_mutex_unlock(&s->handles_lock);
}

void sfs_handle_flushed(struct snapfs *s, struct sfs_handle *h)
{
	pthread_mutex_lock(&s->handles_lock);
	h->flushed = 1;
	pthread_mutex_unlock(&s->handles_lock);
}

void sfs_handle_free(struct snapfs *s, struct sfs_handle *h)
{
	pthread_mutex_lock(&s->handles_lock);
	if (h->prev)
		h->prev->next = h->next;
	else
		s->handles = h->next;
	if (h->next)
		h->next->prev = h->prev;
	pthread_cond_broadcast(&s->handle_gone);
	pthread_mutex_unlock(&s->handles_lock);
	free(h->doc);
	free(h->path);
	free(h);
}

