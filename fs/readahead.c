#include "fs/readahead.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MOUNTINFO_MAX (4 << 20)

static int oct(char c)
{
	return c >= '0' && c <= '7';
}

/* mountinfo writes ' ', '\t', '\n' and '\\' in paths as \ooo octal */
static int path_eq(const char *field, size_t flen, const char *path)
{
	size_t i = 0;

	while (i < flen) {
		char c = field[i];

		if (c == '\\' && flen - i >= 4 && oct(field[i + 1]) && oct(field[i + 2]) && oct(field[i + 3])) {
			c = (char)((field[i + 1] - '0') * 64 + (field[i + 2] - '0') * 8 + (field[i + 3] - '0'));
			i += 4;
		} else {
			i++;
		}
		if (*path++ != c)
			return 0;
	}
	return *path == 0;
}

int mountinfo_dev(const char *mi, const char *mountpoint, char *dev, unsigned devlen)
{
	int found = 0;

	/* id parent MAJ:MIN root mountpoint ...: the last match is the mount on top */
	for (const char *line = mi; *line;) {
		const char *eol = strchr(line, '\n'), *f[5];
		int n = 0;

		if (!eol)
			eol = line + strlen(line);
		for (const char *p = line; p < eol && n < 5;) {
			while (p < eol && *p == ' ')
				p++;
			if (p < eol)
				f[n++] = p;
			while (p < eol && *p != ' ')
				p++;
		}
		if (n == 5) {
			size_t dlen = strcspn(f[2], " ");
			size_t mlen = strcspn(f[4], " \n");

			if (path_eq(f[4], mlen, mountpoint) && dlen < devlen) {
				memcpy(dev, f[2], dlen);
				dev[dlen] = 0;
				found = 1;
			}
		}
		line = *eol ? eol + 1 : eol;
	}
	return found ? 0 : -ENOENT;
}

static int read_all(const char *path, char **out)
{
	size_t len = 0, cap = 65536;
	char *b = malloc(cap);
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = 0;

	if (!b || fd < 0) {
		rc = fd < 0 ? -errno : -ENOMEM;
		goto out;
	}
	for (;;) {
		ssize_t n;

		if (cap - len < 2) {
			char *nb = cap < MOUNTINFO_MAX ? realloc(b, cap * 2) : NULL;

			if (!nb) {
				rc = -ENOMEM;
				goto out;
			}
			b = nb;
			cap *= 2;
		}
		n = read(fd, b + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	b[len] = 0;
	*out = b;
	b = NULL;
out:
	if (fd >= 0)
		close(fd);
	free(b);
	return rc;
}

int readahead_set(const char *mountpoint, unsigned kib)
{
	char dev[32], path[96], val[16], *mi = NULL;
	int rc = read_all("/proc/self/mountinfo", &mi), fd, len;

	if (!rc)
		rc = mountinfo_dev(mi, mountpoint, dev, sizeof(dev));
	free(mi);
	if (rc)
		return rc;
	snprintf(path, sizeof(path), "/sys/class/bdi/%s/read_ahead_kb", dev);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	errno = 0;
	len = snprintf(val, sizeof(val), "%u\n", kib);
	if (write(fd, val, (size_t)len) != len)
		rc = errno ? -errno : -EIO;
	close(fd);
	return rc;
}
