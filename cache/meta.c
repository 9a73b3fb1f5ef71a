#include "cache/meta.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define NBUCKETS 8192
#define MAX_ENTRIES 200000

struct ment {
	struct ment *next;
	struct meta_entry e;
	int replaced;   /* see meta_set_replaced */
	uint64_t expires_ms;
	char path[];
};

struct meta {
	pthread_mutex_t lock;
	unsigned ttl_ms;
	unsigned count;
	struct ment *b[NBUCKETS];
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static unsigned hash(const char *s)
{
	uint32_t h = 2166136261u;   /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h % NBUCKETS;
}

struct meta *meta_new(unsigned ttl_ms)
{
	struct meta *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	pthread_mutex_init(&m->lock, NULL);
	m->ttl_ms = ttl_ms;
	return m;
}

static void clear_locked(struct meta *m)
{
	for (unsigned i = 0; i < NBUCKETS; i++) {
		while (m->b[i]) {
			struct ment *e = m->b[i];

			m->b[i] = e->next;
			free(e);
		}
	}
	m->count = 0;
}

void meta_free(struct meta *m)
{
	if (!m)
		return;
	clear_locked(m);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

int meta_get(struct meta *m, const char *path, struct meta_entry *out)
{
	unsigned h = hash(path);
	uint64_t now = now_ms();
	int hit = 0;

	pthread_mutex_lock(&m->lock);
	for (struct ment *e = m->b[h]; e; e = e->next) {
		if (!strcmp(e->path, path)) {
			if (e->expires_ms > now) {
				*out = e->e;
				hit = 1;
			}
			break;
		}
	}
	pthread_mutex_unlock(&m->lock);
	return hit;
}

void meta_put(struct meta *m, const char *path, enum meta_kind kind, uint64_t size, time_t mtime)
{
	meta_put_ttl(m, path, kind, size, mtime, m->ttl_ms);
}

void meta_put_ttl(struct meta *m, const char *path, enum meta_kind kind, uint64_t size, time_t mtime,
		  unsigned ttl_ms)
{
	unsigned h = hash(path);
	struct ment *e;

	if (!ttl_ms)
		return;
	pthread_mutex_lock(&m->lock);
	for (e = m->b[h]; e; e = e->next)
		if (!strcmp(e->path, path))
			break;
	if (!e) {
		if (m->count >= MAX_ENTRIES)
			clear_locked(m);   /* crude but bounded: a cache, not a store */
		e = malloc(sizeof(*e) + strlen(path) + 1);
		if (!e)
			goto out;
		strcpy(e->path, path);
		e->next = m->b[h];
		m->b[h] = e;
		m->count++;
		e->replaced = 0;
	} else if (e->e.kind == META_FILE && kind == META_FILE && e->e.size != size) {
		e->replaced = 1;   /* shown with another size before, fresh or not */
	}
	e->e.kind = kind;
	e->e.size = size;
	e->e.mtime = mtime;
	e->expires_ms = now_ms() + ttl_ms;
out:
	pthread_mutex_unlock(&m->lock);
}

void meta_drop(struct meta *m, const char *path)
{
	unsigned h = hash(path);

	pthread_mutex_lock(&m->lock);
	for (struct ment **pp = &m->b[h]; *pp; pp = &(*pp)->next) {
		if (!strcmp((*pp)->path, path)) {
			struct ment *e = *pp;

			*pp = e->next;
			free(e);
			m->count--;
			break;
		}
	}
	pthread_mutex_unlock(&m->lock);
}

static struct ment *find_locked(struct meta *m, const char *path)
{
	struct ment *e = m->b[hash(path)];

	while (e && strcmp(e->path, path))
		e = e->next;
	return e;
}

void meta_set_replaced(struct meta *m, const char *path)
{
	struct ment *e;

	pthread_mutex_lock(&m->lock);
	e = find_locked(m, path);
	if (e) {
		e->replaced = 1;
		e->expires_ms = 0;   /* and ask the store again */
	} else if ((e = malloc(sizeof(*e) + strlen(path) + 1))) {
		memset(e, 0, sizeof(*e));
		strcpy(e->path, path);
		e->replaced = 1;
		e->next = m->b[hash(path)];
		m->b[hash(path)] = e;
		m->count++;
	}
	pthread_mutex_unlock(&m->lock);
}

int meta_replaced(struct meta *m, const char *path)
{
	struct ment *e;
	int r;

	pthread_mutex_lock(&m->lock);
	e = find_locked(m, path);
	r = e && e->replaced;
	pthread_mutex_unlock(&m->lock);
	return r;
}

void meta_drop_tree(struct meta *m, const char *path)
{
	size_t n = strlen(path);

	pthread_mutex_lock(&m->lock);
	for (unsigned i = 0; i < NBUCKETS; i++) {
		for (struct ment **pp = &m->b[i]; *pp;) {
			struct ment *e = *pp;

			if (!strncmp(e->path, path, n) && (e->path[n] == 0 || e->path[n] == '/')) {
				*pp = e->next;
				free(e);
				m->count--;
			} else {
				pp = &e->next;
			}
		}
	}
	pthread_mutex_unlock(&m->lock);
}
