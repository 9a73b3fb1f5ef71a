#include "cache/dirlist.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SLOTS 4              /* folders kept at once: a few readers side by side */
#define MAX_ENTRIES 100000   /* a bigger folder is listed every time (bounded memory) */

struct lent {
	char *name;
	uint64_t size;
	time_t mtime;
	int is_dir;
};

struct dirlist_rec {
	char *path;
	unsigned long gen;     /* of the mount when the listing began */
	uint64_t expires_ms;
	int broken;            /* out of memory or too big: not kept */
	size_t n, cap;
	struct lent *e;
};

struct dirlist {
	pthread_mutex_t lock;
	unsigned ttl_ms;
	unsigned long gen;
	struct dirlist_rec *slot[SLOTS];
};

static uint64_t dirlist_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void dirlist_rec_free(struct dirlist_rec *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++)
		free(r->e[i].name);
	free(r->e);
	free(r->path);
	free(r);
}

struct dirlist *dirlist_new(unsigned ttl_ms)
{
	struct dirlist *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	pthread_mutex_init(&d->lock, NULL);
	d->ttl_ms = ttl_ms;
	return d;
}

static void dirlist_drop_all(struct dirlist *d)
{
	for (int i = 0; i < SLOTS; i++) {
		dirlist_rec_free(d->slot[i]);
		d->slot[i] = NULL;
	}
}

void dirlist_free(struct dirlist *d)
{
	if (!d)
		return;
	dirlist_drop_all(d);
	pthread_mutex_destroy(&d->lock);
	free(d);
}

void dirlist_changed(struct dirlist *d)
{
	if (!d)
		return;
	pthread_mutex_lock(&d->lock);
	d->gen++;
	dirlist_drop_all(d);
	pthread_mutex_unlock(&d->lock);
}

int dirlist_replay(struct dirlist *d, const char *path, list_fn fn, void *arg)
{
	uint64_t now = dirlist_now_ms();
	int found = 0;

	if (!d)
		return 0;
	pthread_mutex_lock(&d->lock);
	for (int i = 0; i < SLOTS && !found; i++) {
		struct dirlist_rec *r = d->slot[i];

		if (!r || r->gen != d->gen || r->expires_ms <= now || strcmp(r->path, path))
			continue;
		found = 1;
		/* under the lock: fn fills a reply buffer and the metadata cache, and never comes back here */
		for (size_t j = 0; j < r->n; j++) {
			struct obj_info oi = { .size = r->e[j].size, .mtime = r->e[j].mtime, .is_dir = r->e[j].is_dir };

			if (fn(arg, r->e[j].name, &oi))
				break;
		}
	}
	pthread_mutex_unlock(&d->lock);
	return found;
}

struct dirlist_rec *dirlist_begin(struct dirlist *d, const char *path)
{
	struct dirlist_rec *r;

	if (!d || !d->ttl_ms)
		return NULL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->path = strdup(path);
	if (!r->path) {
		free(r);
		return NULL;
	}
	pthread_mutex_lock(&d->lock);
	r->gen = d->gen;
	pthread_mutex_unlock(&d->lock);
	return r;
}

void dirlist_add(struct dirlist_rec *r, const char *name, const struct obj_info *oi)
{
	struct lent *e;

	if (!r || r->broken)
		return;
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 64;

		e = cap <= MAX_ENTRIES ? realloc(r->e, cap * sizeof(*e)) : NULL;
		if (!e) {
			r->broken = 1;
			return;
		}
		r->e = e;
		r->cap = cap;
	}
	e = &r->e[r->n];
	e->name = strdup(name);
	if (!e->name) {
		r->broken = 1;
		return;
	}
	e->size = oi->size;
	e->mtime = oi->mtime;
	e->is_dir = oi->is_dir;
	r->n++;
}

void dirlist_end(struct dirlist *d, struct dirlist_rec *r, int complete)
{
	int victim = 0;

	if (!r)
		return;
	if (!complete || r->broken) {
		dirlist_rec_free(r);
		return;
	}
	pthread_mutex_lock(&d->lock);
	if (r->gen != d->gen) {
		pthread_mutex_unlock(&d->lock);
		dirlist_rec_free(r);   /* something changed while it was listed: it may be stale already */
		return;
	}
	r->expires_ms = dirlist_now_ms() + d->ttl_ms;
	/* the same folder's slot, else an empty one, else the one that expires first */
	for (int i = 0; i < SLOTS; i++) {
		struct dirlist_rec *s = d->slot[i];

		if (!s || !strcmp(s->path, r->path)) {
			victim = i;
			break;
		}
		if (s->expires_ms < d->slot[victim]->expires_ms)
			victim = i;
	}
	dirlist_rec_free(d->slot[victim]);
	d->slot[victim] = r;
	pthread_mutex_unlock(&d->lock);
}
