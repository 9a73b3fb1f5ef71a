/* file:// keys: which are valid (relative, no ".."/empty component, never the hidden folder), which are
 * folder markers, and what a stat of one says as object info. The bottom of the file:// store. */
#include "backends/file/file_priv.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

int fb_is_marker(const char *key)
{
	size_t n = strlen(key);

	return n && key[n - 1] == '/';
}

int fb_key_check(const char *key)
{
	const char *c = key, *end;
	size_t n;

	if (!*key || *key == '/' || strlen(key) >= 4096)
		return -EINVAL;
	for (;;) {
		end = strchrnul(c, '/');
		n = (size_t)(end - c);
		if (!*end && !n)
			break;          /* after a trailing '/' */
		if (!n || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.') || n > 255)
			return -EINVAL;
		if (c == key && n == strlen(FB_HIDDEN) && !memcmp(c, FB_HIDDEN, n))
			return -EINVAL;
		if (!*end)
			break;
		c = end + 1;
	}
	return 0;
}

void fb_fill_info(const struct stat *st, struct obj_info *oi)
{
	memset(oi, 0, sizeof(*oi));
	oi->size = S_ISREG(st->st_mode) ? (uint64_t)st->st_size : 0;
	oi->mtime = st->st_mtime;
	/* a weak validator like nginx's: changes whenever the file does */
	snprintf(oi->etag, sizeof(oi->etag), "%llx.%lx-%llx", (unsigned long long)st->st_mtim.tv_sec,
		 (unsigned long)st->st_mtim.tv_nsec, (unsigned long long)st->st_size);
}
