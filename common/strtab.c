/* The string-keyed hash table of common/strtab.h: FNV-1a over the key, a chain per bucket, new nodes
 * at the head of their chain. */
#include "common/strtab.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static unsigned strtab_bucket(const struct strtab *t, const char *s)
{
	uint32_t h = 2166136261u;   /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h % t->nbuckets;
}

int strtab_init(struct strtab *t, unsigned nbuckets)
{
	t->b = calloc(nbuckets, sizeof(*t->b));
	t->nbuckets = nbuckets;
	t->count = 0;
	return t->b ? 0 : -ENOMEM;
}

void strtab_destroy(struct strtab *t)
{
	free(t->b);
	t->b = NULL;
}

struct strtab_node *strtab_get(const struct strtab *t, const char *key)
{
	struct strtab_node *n = t->b[strtab_bucket(t, key)];

	while (n && strcmp(n->key, key))
		n = n->next;
	return n;
}

void strtab_add(struct strtab *t, struct strtab_node *n)
{
	struct strtab_node **head = &t->b[strtab_bucket(t, n->key)];

	n->next = *head;
	*head = n;
	t->count++;
}

struct strtab_node *strtab_take(struct strtab *t, const char *key)
{
	for (struct strtab_node **pp = &t->b[strtab_bucket(t, key)]; *pp; pp = &(*pp)->next) {
		struct strtab_node *n = *pp;

		if (!strcmp(n->key, key)) {
			*pp = n->next;
			t->count--;
			return n;
		}
	}
	return NULL;
}

void strtab_drain(struct strtab *t, int (*match)(const struct strtab_node *n, void *arg), void *arg,
		  void (*drop)(struct strtab_node *n))
{
	for (unsigned i = 0; i < t->nbuckets; i++) {
		for (struct strtab_node **pp = &t->b[i]; *pp;) {
			struct strtab_node *n = *pp;

			if (match && !match(n, arg)) {
				pp = &n->next;
				continue;
			}
			*pp = n->next;
			t->count--;
			drop(n);
		}
	}
}
