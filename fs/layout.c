#include "fs/layout.h"

#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

int layout_depth(const char *path)
{
	int d = 0;

	for (const char *p = path; *p; p++)
		if (*p == '/' && p[1] && p[1] != '/')
			d++;
	return d;
}

static int dns_name(const char *name, int dots)
{
	size_t n = strlen(name);

	if (n == 0 || n > 63)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		int alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');

		if (alnum)
			continue;
		if ((c == '-' || (dots && c == '.')) && i > 0 && i < n - 1)
			continue;
		return 0;
	}
	return !strstr(name, "..");
}

int layout_ns_name(const char *name)
{
	return dns_name(name, 0);
}

int layout_obj_name(const char *name)
{
	return dns_name(name, 1);
}

int layout_visible(int depth, const char *name, int is_dir)
{
	if (!*name || !strcmp(name, ".") || !strcmp(name, "..") || strlen(name) > 255 || strchr(name, '/'))
		return 0;
	switch (depth) {
	case 1:
		return is_dir && !strcmp(name, LAYOUT_ROOT);
	case 2:
	case 3:
	case 4:
		/* show what other tools stored even if the name is odd: listing must not hide data */
		return is_dir;
	default:
		return 1;
	}
}

const char *layout_unshowable(const char *comp, size_t len)
{
	if (!len)
		return "an empty path component (two '/' in a row)";
	if ((len == 1 && comp[0] == '.') || (len == 2 && comp[0] == '.' && comp[1] == '.'))
		return "a path component '.' or '..'";
	if (len > 255)
		return "a path component longer than 255 bytes";
	return NULL;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void layout_unreachable(char *const *keys, size_t n, void (*fn)(void *arg, const char *key, const char *why),
			void *arg)
{
	for (size_t i = 0; i < n; i++) {
		const char *k = keys[i], *c = k, *slash;
		const char *why = NULL;
		size_t klen = strlen(k);

		/* a marker "x/" ends in an empty component that is its folder, not a name */
		while (!why && (slash = strchr(c, '/')) && (size_t)(slash - k) < klen) {
			char prefix[4096];
			const char *want = prefix;
			size_t plen = (size_t)(slash - k);

			why = layout_unshowable(c, (size_t)(slash - c));
			/* a file named like the folder above this key: the folder cannot be reached */
			if (!why && plen < sizeof(prefix)) {
				memcpy(prefix, k, plen);
				prefix[plen] = 0;
				if (bsearch(&want, keys, n, sizeof(*keys), cmp_str))
					why = "below a name that is also a file";
			}
			c = slash + 1;
			if (slash[1] == 0)
				break;
		}
		if (!why && *c)
			why = layout_unshowable(c, strlen(c));
		if (why)
			fn(arg, k, why);
	}
}

int layout_check_create(const char *path, int is_dir, char *whybuf, size_t whylen)
{
	int depth = layout_depth(path);
	const char *name = strrchr(path, '/');
	static const char *const level[] = { "", "", "namespace", "database", "snapshot" };

	name = name ? name + 1 : path;
	if (strlen(name) > 255) {
		snprintf(whybuf, whylen, "%s: name longer than 255 bytes", path);
		return -ENAMETOOLONG;
	}
	switch (depth) {
	case 0:
		snprintf(whybuf, whylen, "the mount root cannot be changed");
		return -EPERM;
	case 1:
		snprintf(whybuf, whylen, "%s: only %s/ lives at the mount root", path, LAYOUT_ROOT);
		return !strcmp(name, LAYOUT_ROOT) ? -EEXIST : -EPERM;
	case 2:
	case 3:
	case 4:
		if (!is_dir) {
			snprintf(whybuf, whylen, "%s: files go inside %s/NAMESPACE/DATABASE/SNAPSHOT/", path,
				 LAYOUT_ROOT);
			return -EPERM;
		}
		if (depth == 2 ? !layout_ns_name(name) : !layout_obj_name(name)) {
			snprintf(whybuf, whylen,
				 "%s: '%s' is not a valid Kubernetes %s name (lowercase letters, digits, '-'%s; "
				 "at most 63; alphanumeric at both ends)",
				 path, name, level[depth], depth == 2 ? "" : ", '.'");
			return -EINVAL;
		}
		return 0;
	default:
		return 0;
	}
}
