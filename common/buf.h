/* A growable byte buffer, always NUL-terminated so text replies can be parsed in place.
 * Owner: whoever holds the struct; buf_free() releases the memory and leaves an empty buffer. */
#ifndef SNAPFS_BUF_H
#define SNAPFS_BUF_H

#include <stddef.h>

struct buf {
	char *data;   /* NULL or len+1 bytes, data[len] == 0 */
	size_t len;
	size_t cap;
};

#define BUF_INIT { NULL, 0, 0 }

int buf_grow(struct buf *b, size_t extra);               /* 0 or -ENOMEM */
int buf_add(struct buf *b, const void *p, size_t n);
int buf_adds(struct buf *b, const char *s);
int buf_addf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_reset(struct buf *b);                          /* len = 0, keeps memory */
void buf_free(struct buf *b);
char *buf_detach(struct buf *b);                        /* caller owns the string; b becomes empty */
/* Append the whole file at path: 0, -errno, or -EFBIG once b would pass max bytes. */
int buf_read_file(struct buf *b, const char *path, size_t max);

#endif
