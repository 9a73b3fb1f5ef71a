/* Tokens of uploads named by a random id, as the crash journal keeps them (uptoken.h). */
#include "backends/uptoken.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *uptoken_make(const char *id, size_t n)
{
	char *t = NULL;

	if (!n)
		return strdup(id);
	if (asprintf(&t, "%s+%zu", id, n) < 0)
		return NULL;
	return t;
}

int uptoken_parse(const char *token, size_t max, char id[17], size_t *n)
{
	const char *plus = token + 16;
	char *end;
	unsigned long v = 0;

	if (strlen(token) < 16 || strspn(token, "0123456789abcdef") != 16)
		return -EINVAL;
	if (*plus) {
		if (*plus != '+' || plus[1] < '1' || plus[1] > '9' || strlen(plus + 1) > 9)
			return -EINVAL;
		v = strtoul(plus + 1, &end, 10);
		if (*end || v > max)
			return -EINVAL;
	}
	memcpy(id, token, 16);
	id[16] = 0;
	*n = v;
	return 0;
}
