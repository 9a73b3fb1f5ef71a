#include "cache/meta.h"
#include "common/strtab.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define NBUCKETS 8192
#define MAX_ENTRIES 200000

struct ment {
	struct strtab_node n;   /* first: a node is its entry; n.key is path */
	struct meta_entry e;
	int replaced;   /* see meta_set_replaced */
	uint64_t expires_ms;
	char path[];
};

struct meta {
	pthread_mutex_t lock;
	unsigned ttl_ms;
	struct strtab t;
	uint64_t gen;   /* moved on by every drop (meta_gen) */
};

static uint64_t meta_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static struct ment *meta_find_locked(struct meta *m, const char *path)
{
	return (struct ment *)strtab_get(&m->t, path);
}

/* A new entry for path, in the table, zeroed; NULL when out of memory. */
static struct ment *meta_add_locked(struct meta *m, const char *path)
{
	struct ment *e = malloc(sizeof(*e) + strlen(path) + 1);

	if (!e)
		return NULL;
	memset(e, 0, sizeof(*e));
	strcpy(e->path, path);
	e->n.key = e->path;
	strtab_add(&m->t, &e->n);
	return e;
}

static void meta_free_node(struct strtab_node *n)
{
	free(n);
}

struct meta *meta_new(unsigned ttl_ms)
{
	struct meta *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	if (strtab_init(&m->t, NBUCKETS)) {
		free(m);
		return NULL;
	}
	pthread_mutex_init(&m->lock, NULL);
	m->ttl_ms = ttl_ms;
	return m;
}

void meta_free(struct meta *m)
{
	if (!m)
		return;
	strtab_drain(&m->t, NULL, NULL, meta_free_node);
	strtab_destroy(&m->t);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

int meta_get(struct meta *m, const char *path, struct meta_entry *out)
{
	uint64_t now = meta_now_ms();
	struct ment *e;
	int hit = 0;

	pthread_mutex_lock(&m->lock);
	e = meta_find_locked(m, path);
	if (e && e->expires_ms > now) {
		*out = e->e;
		hit = 1;
	}
	pthread_mutex_unlock(&m->lock);
	return hit;
}

void meta_put(struct meta *m, const char *path, enum meta_kind kind, uint64_t size, time_t mtime)
{
	meta_put_ttl(m, path, kind, size, mtime, m->ttl_ms);
}

static void meta_put_locked(struct meta *m, const char *path, enum meta_kind kind, uint64_t size,
			    time_t mtime, unsigned ttl_ms)
{
	struct ment *e;

	e = meta_find_locked(m, path);
	if (!e) {
		if (m->t.count >= MAX_ENTRIES)   /* crude but bounded: a cache, not a store */
			strtab_drain(&m->t, NULL, NULL, meta_free_node);
		e = meta_add_locked(m, path);
		if (!e)
			return;
	} else if (e->e.kind == META_FILE && kind == META_FILE && e->e.size != size) {
		e->replaced = 1;   /* shown with another size before, fresh or not */
	}
	e->e.kind = kind;
	e->e.size = size;
	e->e.mtime = mtime;
	e->expires_ms = meta_now_ms() + ttl_ms;
}

void meta_put_ttl(struct meta *m, const char *path, enum meta_kind kind, uint64_t size, time_t mtime,
		  unsigned ttl_ms)
{
	if (!ttl_ms)
		return;
	pthread_mutex_lock(&m->lock);
	meta_put_locked(m, path, kind, size, mtime, ttl_ms);
	pthread_mutex_unlock(&m->lock);
}

uint64_t meta_gen(struct meta *m)
{
	uint64_t g;

	pthread_mutex_lock(&m->lock);
	g = m->gen;
	pthread_mutex_unlock(&m->lock);
	return g;
}

void meta_put_since(struct meta *m, uint64_t gen, const char *path, enum meta_kind kind, uint64_t size,
		    time_t mtime)
{
	if (!m->ttl_ms)
		return;
	pthread_mutex_lock(&m->lock);
	if (m->gen == gen)
		meta_put_locked(m, path, kind, size, mtime, m->ttl_ms);
	pthread_mutex_unlock(&m->lock);
}


void meta_drop(struct meta *m, const char *path)
{
	pthread_mutex_lock(&m->lock);
	m->gen++;
	free(strtab_take(&m->t, path));
	pthread_mutex_unlock(&m->lock);
}

void meta_set_replaced(struct meta *m, const char *path)
{
	struct ment *e;

	pthread_mutex_lock(&m->lock);
	m->gen++;
	e = meta_find_locked(m, path);
	if (e)
		e->expires_ms = 0;   /* and ask the store again */
	else
		e = meta_add_locked(m, path);
	if (e)
		e->replaced = 1;
	pthread_mutex_unlock(&m->lock);
}

int meta_replaced(struct meta *m, const char *path)
{
	struct ment *e;
	int r;

	pthread_mutex_lock(&m->lock);
	e = meta_find_locked(m, path);
	r = e && e->replaced;
	pthread_mutex_unlock(&m->lock);
	return r;
}

struct meta_under {
	const char *path;
	size_t n;
};

/* the entry is the folder u->path or below it */
static int meta_is_under(const struct strtab_node *node, void *arg)
{
	const struct meta_under *u = arg;
	const char *p = node->key;

	return !strncmp(p, u->path, u->n) && (p[u->n] == 0 || p[u->n] == '/');
}

void meta_drop_tree(struct meta *m, const char *path)
{
	struct meta_under u = { path, strlen(path) };

	pthread_mutex_lock(&m->lock);
	m->gen++;
	strtab_drain(&m->t, meta_is_under, &u, meta_free_node);
	pthread_mutex_unlock(&m->lock);
}
