/* The one-line reasons that open and authentication steps hand back through char **why (see backend.h). */
#ifndef SNAPFS_WHY_H
#define SNAPFS_WHY_H

/* Set *why to a malloc'd reason, freeing the one it held; a NULL why asks for none. */
void why_set(char **why, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The same, returning rc: `return why_fail(why, -EINVAL, ...)`. */
int why_fail(char **why, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
