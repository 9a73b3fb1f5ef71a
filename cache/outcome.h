/* The last outcomes of write sessions (stored, or NOT stored and why), kept for the status document
 * so that a failure the writer could not see (a shell redirect never checks close) is still shown,
 * and `snapctl wait` can tell a script how its file ended. */
#ifndef SNAPFS_OUTCOME_H
#define SNAPFS_OUTCOME_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

#define OUTCOME_KEEP 128

struct outcome {
	char path[1024];
	char reason[256];   /* "" when stored */
	uint64_t bytes;
	time_t at;
	uint64_t seq;       /* 1, 2, ... in the order they happened */
	int stored;
};

struct outcomes {
	pthread_mutex_t lock;
	struct outcome ring[OUTCOME_KEEP];
	uint64_t seq;       /* outcomes recorded so far */
};

void outcome_init(struct outcomes *o);
void outcome_destroy(struct outcomes *o);
/* reason: NULL when stored */
void outcome_record(struct outcomes *o, const char *path, uint64_t bytes, const char *reason);
/* The kept outcomes, newest first. */
void outcome_foreach(struct outcomes *o, void (*fn)(void *arg, const struct outcome *oc), void *arg);

#endif
