#include "fs/readahead.h"
#include "common/buf.h"

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

int readahead_mountinfo_dev(const char *mi, const char *mountpoint, char *dev, unsigned devlen)
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

int readahead_set(const char *mountpoint, unsigned kib)
{
	return readahead_bdi_set(mountpoint, "read_ahead_kb", kib);
}

int readahead_bdi_set(const char *mountpoint, const char *attr, unsigned long long v)
{
	char dev[32], path[128], val[24];
	struct buf mi = BUF_INIT;
	int rc = buf_read_file(&mi, "/proc/self/mountinfo", MOUNTINFO_MAX), fd, len;

	if (!rc && mi.data)
		rc = readahead_mountinfo_dev(mi.data, mountpoint, dev, sizeof(dev));
	else if (!rc)
		rc = -ENOENT;   /* an empty mountinfo holds no mount */
	buf_free(&mi);
	if (rc)
		return rc;
	snprintf(path, sizeof(path), "/sys/class/bdi/%s/%s", dev, attr);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	errno = 0;
	len = snprintf(val, sizeof(val), "%llu\n", v);
	if (write(fd, val, (size_t)len) != len)
		rc = errno ? -errno : -EIO;
	close(fd);
	return rc;
}
