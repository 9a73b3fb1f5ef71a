#include "cache/fresh.h"
#include "common/strtab.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_DIRS 32
#define NBUCKETS 256

struct fname {
	struct strtab_node n;   /* first: a node is its name; n.key is name */
	char name[];
};

struct fdir {
	char *path;
	uint64_t expires_ms;
	struct strtab names;
};

struct fresh {
	pthread_mutex_t lock;
	unsigned ttl_ms;
	struct fdir *d[MAX_DIRS];
};

static uint64_t fresh_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void fresh_free_node(struct strtab_node *n)
{
	free(n);
}

static void fresh_dir_free(struct fdir *d)
{
	if (!d)
		return;
	if (d->names.b) {
		strtab_drain(&d->names, NULL, NULL, fresh_free_node);
		strtab_destroy(&d->names);
	}
	free(d->path);
	free(d);
}

struct fresh *fresh_new(unsigned ttl_ms)
{
	struct fresh *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	pthread_mutex_init(&f->lock, NULL);
	f->ttl_ms = ttl_ms;
	return f;
}

void fresh_free(struct fresh *f)
{
	if (!f)
		return;
	for (unsigned i = 0; i < MAX_DIRS; i++)
		fresh_dir_free(f->d[i]);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

/* the live record of path's folder (expired ones are freed on the way); *name: path's last part */
static struct fdir *fresh_parent_of(struct fresh *f, const char *path, const char **name)
{
	const char *slash = strrchr(path, '/');
	size_t len;
	uint64_t now = fresh_now_ms();

	if (!slash)
		return NULL;
	len = (size_t)(slash - path);
	*name = slash + 1;
	for (unsigned i = 0; i < MAX_DIRS; i++) {
		struct fdir *d = f->d[i];

		if (!d)
			continue;
		if (d->expires_ms <= now) {
			fresh_dir_free(d);
			f->d[i] = NULL;
			continue;
		}
		if (strlen(d->path) == len && !memcmp(d->path, path, len))
			return d;
	}
	return NULL;
}

/* 1 if name was met before; else remembers it (0), or -1 out of memory */
static int fresh_meet(struct fdir *d, const char *name)
{
	struct fname *n;
	size_t len = strlen(name);

	if (strtab_get(&d->names, name))
		return 1;
	n = malloc(sizeof(*n) + len + 1);
	if (!n)
		return -1;
	memcpy(n->name, name, len + 1);
	n->n.key = n->name;
	strtab_add(&d->names, &n->n);
	return 0;
}

void fresh_made(struct fresh *f, const char *dir)
{
	struct fdir *d;
	unsigned slot = 0;
	uint64_t oldest = UINT64_MAX;

	if (!f || !f->ttl_ms)
		return;
	fresh_drop_tree(f, dir);
	d = calloc(1, sizeof(*d));
	if (!d || !(d->path = strdup(dir)) || strtab_init(&d->names, NBUCKETS)) {
		fresh_dir_free(d);
		return;
	}
	pthread_mutex_lock(&f->lock);
	d->expires_ms = fresh_now_ms() + f->ttl_ms;
	for (unsigned i = 0; i < MAX_DIRS; i++) {
		uint64_t e = f->d[i] ? f->d[i]->expires_ms : 0;

		if (e < oldest) {
			oldest = e;
			slot = i;
		}
	}
	fresh_dir_free(f->d[slot]);   /* a free slot, or the record closest to expiring */
	f->d[slot] = d;
	pthread_mutex_unlock(&f->lock);
}

int fresh_absent(struct fresh *f, const char *path)
{
	struct fdir *d;
	const char *name;
	int absent = 0;

	if (!f)
		return 0;
	pthread_mutex_lock(&f->lock);
	d = fresh_parent_of(f, path, &name);
	if (d) {
		int met = fresh_meet(d, name);

		if (met < 0) {
			/* a name it cannot remember must not be taken for absent next time */
			for (unsigned i = 0; i < MAX_DIRS; i++)
				if (f->d[i] == d)
					f->d[i] = NULL;
			fresh_dir_free(d);
		} else {
			absent = !met;
			d->expires_ms = fresh_now_ms() + f->ttl_ms;
		}
	}
	pthread_mutex_unlock(&f->lock);
	return absent;
}

void fresh_note(struct fresh *f, const char *path)
{
	(void)fresh_absent(f, path);
}

void fresh_drop_tree(struct fresh *f, const char *dir)
{
	size_t len = strlen(dir);

	if (!f)
		return;
	pthread_mutex_lock(&f->lock);
	for (unsigned i = 0; i < MAX_DIRS; i++) {
		struct fdir *d = f->d[i];

		if (d && !strncmp(d->path, dir, len) && (d->path[len] == 0 || d->path[len] == '/')) {
			fresh_dir_free(d);
			f->d[i] = NULL;
		}
	}
	pthread_mutex_unlock(&f->lock);
}
