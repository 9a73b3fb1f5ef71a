#include "common/why.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static void vset(char **why, const char *fmt, va_list ap)
{
	if (!why)
		return;
	free(*why);
	if (vasprintf(why, fmt, ap) < 0)
		*why = NULL;
}

void why_set(char **why, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vset(why, fmt, ap);
	va_end(ap);
}

int why_fail(char **why, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vset(why, fmt, ap);
	va_end(ap);
	return rc;
}
