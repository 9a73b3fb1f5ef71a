/* Shared by the libFuzzer targets: quiet logging, and a list callback that touches what it is given. */
#ifndef SNAPFS_FUZZ_COMMON_H
#define SNAPFS_FUZZ_COMMON_H

#include "backends/backend.h"
#include "common/log.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Parsers log what they refuse; at millions of inputs a second only errors may print. */
static inline void fuzz_quiet(void)
{
	log_setup(LOG_LVL_ERROR, NULL, 0);
}

/* Reads every byte of the name and info so ASan sees a dangling or unterminated one. */
static inline int fuzz_entry(void *arg, const char *name, const struct obj_info *oi)
{
	size_t *sum = arg;

	*sum += strlen(name) + oi->size + (size_t)oi->is_dir + strlen(oi->etag);
	return 0;
}

/* A NUL-terminated copy of the input, for parsers that take C strings. */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (s) {
		memcpy(s, data, size);
		s[size] = 0;
	}
	return s;
}

#endif
