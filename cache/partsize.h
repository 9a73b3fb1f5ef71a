/* The part cutter's schedule: how big part n of a file of unknown final size is, so that a stream of any
 * length up to SNAPFS_MAX_FILE fits in the store's part cap without knowing the length in advance. */
#ifndef SNAPFS_PARTSIZE_H
#define SNAPFS_PARTSIZE_H

#include <stdint.h>

#define MIB (1024ULL * 1024)
#define SNAPFS_MAX_FILE (5ULL << 40)   /* 5 TiB: the largest object S3 and GCS accept */

struct part_plan {
	uint64_t base;      /* the user's --part-size, rounded to whole MiB and clamped to the store */
	uint64_t min_part;  /* store minimum (0: none) */
	uint64_t max_part;  /* store maximum (0: none) */
	unsigned max_parts; /* store cap on the part count (0: none) */
	unsigned tier;      /* parts per size step; sizes double each step */
};

/* Fill plan for a store's limits. Returns 0, or -EINVAL with *why when the limits are unusable. A store
 * that cannot hold 5 TiB at all gets its own maximum: see part_plan_capacity(). */
int part_plan_init(struct part_plan *plan, uint64_t want, uint64_t min_part, uint64_t max_part,
		   unsigned max_parts, const char **why);
/* Size of part n (1-based). */
uint64_t part_size_of(const struct part_plan *plan, unsigned n);
/* The largest object the plan can hold within max_parts (UINT64_MAX when unbounded). */
uint64_t part_plan_capacity(const struct part_plan *plan);

#endif
