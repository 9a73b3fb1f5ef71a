#include "fs/notify.h"
#include "common/log.h"

#include <fuse.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct note {
	struct note *next;
	char path[];
};

struct notifier {
	struct fuse *fuse;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct note *head, *tail;
	int stop;
};

static void *notify_main(void *arg)
{
	struct notifier *n = arg;

	pthread_mutex_lock(&n->lock);
	for (;;) {
		struct note *e;

		while (!n->head && !n->stop)
			pthread_cond_wait(&n->cond, &n->lock);
		if (n->stop)
			break;
		e = n->head;
		n->head = e->next;
		if (!n->head)
			n->tail = NULL;
		pthread_mutex_unlock(&n->lock);
		/* -ENOENT when the kernel has forgotten the path: nothing cached, nothing to drop */
		fuse_invalidate_path(n->fuse, e->path);
		free(e);
		pthread_mutex_lock(&n->lock);
	}
	pthread_mutex_unlock(&n->lock);
	return NULL;
}

int notify_start(struct notifier **out, struct fuse *f)
{
	struct notifier *n = calloc(1, sizeof(*n));
	int rc;

	*out = NULL;
	if (!n)
		return -ENOMEM;
	n->fuse = f;
	pthread_mutex_init(&n->lock, NULL);
	pthread_cond_init(&n->cond, NULL);
	rc = pthread_create(&n->thread, NULL, notify_main, n);
	if (rc) {
		pthread_cond_destroy(&n->cond);
		pthread_mutex_destroy(&n->lock);
		free(n);
		return -rc;
	}
	*out = n;
	return 0;
}

void notify_inval(struct notifier *n, const char *path)
{
	size_t len = strlen(path) + 1;
	struct note *e = malloc(sizeof(*e) + len);

	if (!e)
		return;
	e->next = NULL;
	memcpy(e->path, path, len);
	pthread_mutex_lock(&n->lock);
	if (n->tail)
		n->tail->next = e;
	else
		n->head = e;
	n->tail = e;
	pthread_cond_signal(&n->cond);
	pthread_mutex_unlock(&n->lock);
}

void notify_stop(struct notifier *n)
{
	struct timespec until;

	if (!n)
		return;
	pthread_mutex_lock(&n->lock);
	n->stop = 1;
	pthread_cond_signal(&n->cond);
	pthread_mutex_unlock(&n->lock);
	/* A notification can wait in the kernel for WRITE requests that no FUSE thread serves any
	 * more (the loop ended on a signal); the unmount that follows ends them. Until then the thread
	 * keeps n: it is left to finish alone. */
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 5;
	if (pthread_timedjoin_np(n->thread, NULL, &until)) {
		log_warn("a kernel notification is still waiting; unmounting without it");
		pthread_detach(n->thread);
		return;
	}
	while (n->head) {
		struct note *e = n->head;

		n->head = e->next;
		free(e);
	}
	pthread_cond_destroy(&n->cond);
	pthread_mutex_destroy(&n->lock);
	free(n);
}
