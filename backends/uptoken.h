/* The crash journal's token of a chunked upload for stores that name their pieces after a random id
 * (Azure's block tag, Swift's segment uid): 16 hex digits, then "+N" when the upload extends N pieces
 * of the object it appends to, so a kept commit can be finished later from the token alone. */
#ifndef SNAPFS_UPTOKEN_H
#define SNAPFS_UPTOKEN_H

#include <stddef.h>

/* "<id>" or "<id>+<n>" (n >= 1), malloc'd; NULL on ENOMEM. */
char *uptoken_make(const char *id, size_t n);
/* A journal line is data from disk: 0 with id (16 hex digits and a NUL) and *n set for a token
 * uptoken_make could have made with n <= max, else -EINVAL. */
int uptoken_parse(const char *token, size_t max, char id[17], size_t *n);

#endif
