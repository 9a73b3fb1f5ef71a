#include "cache/outcome.h"

#include <stdio.h>
#include <string.h>

void outcome_init(struct outcomes *o)
{
	memset(o, 0, sizeof(*o));
	pthread_mutex_init(&o->lock, NULL);
}

void outcome_destroy(struct outcomes *o)
{
	pthread_mutex_destroy(&o->lock);
}

void outcome_record(struct outcomes *o, const char *path, uint64_t bytes, const char *reason)
{
	struct outcome *oc;

	pthread_mutex_lock(&o->lock);
	oc = &o->ring[o->seq % OUTCOME_KEEP];
	oc->seq = ++o->seq;
	snprintf(oc->path, sizeof(oc->path), "%s", path);
	snprintf(oc->reason, sizeof(oc->reason), "%s", reason ? reason : "");
	oc->stored = reason == NULL;
	oc->bytes = bytes;
	oc->at = time(NULL);
	pthread_mutex_unlock(&o->lock);
}

void outcome_foreach(struct outcomes *o, void (*fn)(void *arg, const struct outcome *oc), void *arg)
{
	pthread_mutex_lock(&o->lock);
	for (uint64_t i = 0; i < OUTCOME_KEEP && i < o->seq; i++)
		fn(arg, &o->ring[(o->seq - 1 - i) % OUTCOME_KEEP]);
	pthread_mutex_unlock(&o->lock);
}
