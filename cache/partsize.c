#include "cache/partsize.h"

#include <errno.h>

static uint64_t part_round_mib(uint64_t v)
{
	return (v + MIB - 1) / MIB * MIB;
}

uint64_t part_size_of(const struct part_plan *plan, unsigned n)
{
	unsigned step = plan->tier ? (n - 1) / plan->tier : 0;
	uint64_t sz = plan->base;

	/* doubling, capped by the store maximum; step < 64 keeps the shift defined */
	while (step-- && sz < (1ULL << 62)) {
		sz *= 2;
		if (plan->max_part && sz >= plan->max_part)
			break;
	}
	if (plan->max_part && sz > plan->max_part)
		sz = plan->max_part / MIB * MIB;
	return sz;
}

uint64_t part_plan_capacity(const struct part_plan *plan)
{
	uint64_t total = 0;

	if (!plan->max_parts)
		return UINT64_MAX;
	/* sum tier by tier: at most a few dozen steps */
	for (unsigned n = 1; n <= plan->max_parts; n += plan->tier ? plan->tier : plan->max_parts) {
		unsigned cnt = plan->tier ? plan->tier : plan->max_parts;

		if (n + cnt - 1 > plan->max_parts)
			cnt = plan->max_parts - n + 1;
		total += part_size_of(plan, n) * cnt;
	}
	return total;
}

int part_plan_init(struct part_plan *plan, uint64_t want, uint64_t min_part, uint64_t max_part,
		   unsigned max_parts, const char **why)
{
	plan->min_part = min_part;
	plan->max_part = max_part;
	plan->max_parts = max_parts;
	plan->base = part_round_mib(want ? want : 8 * MIB);
	if (plan->base < min_part)
		plan->base = part_round_mib(min_part);
	if (max_part && plan->base > max_part)
		plan->base = max_part / MIB * MIB;
	if (!plan->base) {
		*why = "the store's largest part is under 1 MiB";
		return -EINVAL;
	}
	/* ten size steps over the part cap: with 8 MiB parts and 10,000 parts that is
	 * 1000 x (8+16+...+4096) MiB = 8 TiB, so any stream up to 5 TiB fits */
	plan->tier = max_parts ? (max_parts >= 10 ? max_parts / 10 : 1) : 0;
	if (part_plan_capacity(plan) < SNAPFS_MAX_FILE) {
		/* a store with few parts (Swift's 1000 segments): start bigger */
		while (part_plan_capacity(plan) < SNAPFS_MAX_FILE &&
		       (!max_part || plan->base < max_part / MIB * MIB))
			plan->base *= 2;
		if (max_part && plan->base > max_part / MIB * MIB)
			plan->base = max_part / MIB * MIB;
		/* the store itself cannot hold 5 TiB in one object (Swift SLO: 1000 x 5 GiB): the
		 * caller warns with part_plan_capacity() */
	}
	return 0;
}
