/* A hash table of string keys with chained buckets, over nodes its user embeds in its own entries:
 * the table keeps the buckets, the user allocates and frees the entries. Not locked: the user's lock
 * guards it. */
#ifndef SNAPFS_STRTAB_H
#define SNAPFS_STRTAB_H

struct strtab_node {
	struct strtab_node *next;
	const char *key;   /* the entry's own copy, as long as it is in the table */
};

struct strtab {
	struct strtab_node **b;
	unsigned nbuckets;
	unsigned count;
};

/* 0, or -ENOMEM. */
int strtab_init(struct strtab *t, unsigned nbuckets);
/* Frees the buckets; the table must be empty (strtab_drain first). */
void strtab_destroy(struct strtab *t);
/* The node of key, or NULL. */
struct strtab_node *strtab_get(const struct strtab *t, const char *key);
/* Add n (n->key set; no node of that key in the table): it is found first from now on. */
void strtab_add(struct strtab *t, struct strtab_node *n);
/* Take the node of key out of the table and return it (NULL: none). */
struct strtab_node *strtab_take(struct strtab *t, const char *key);
/* Take out every node for which match says 1 (NULL match: all) and hand it to drop. */
void strtab_drain(struct strtab *t, int (*match)(const struct strtab_node *n, void *arg), void *arg,
		  void (*drop)(struct strtab_node *n));

#endif
