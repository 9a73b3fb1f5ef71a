/* What /proc says of the process behind a FUSE request: its thread group, and whether it is dying. */
#include "fs/snapfs.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

pid_t proc_tgid_of(pid_t pid)
{
	char path[64], line[256];
	pid_t tgid = pid;
	FILE *f;

	/* FUSE reports the calling thread; the opener test compares processes */
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return pid;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "Tgid:", 5)) {
			int v;

			if (sscanf(line + 5, "%d", &v) == 1)
				tgid = v;
			break;
		}
	}
	fclose(f);
	return tgid;
}

int proc_died_failing(pid_t tid, char *why, size_t n)
{
	char path[64], buf[4096];
	unsigned long long flags = 0;
	long long code = 0;
	const char *p;
	ssize_t len;
	int fd, field;

	/* PF_EXITING: the task is in do_exit(), closing its files; its exit code is already set */
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len <= 0)
		return 0;
	buf[len] = 0;
	p = strrchr(buf, ')');   /* the command name may hold spaces and parentheses */
	if (!p)
		return 0;
	for (field = 2; *p && field < 52;) {
		p++;
		if (*p == ' ') {
			field++;
			if (field == 9)
				flags = strtoull(p + 1, NULL, 10);
			else if (field == 52)
				code = strtoll(p + 1, NULL, 10);
		}
	}
	if (field < 52 || !(flags & 0x4) || !code)
		return 0;
	if (code & 0x7f)
		snprintf(why, n, "its writer (pid %d) was killed by signal %lld", (int)tid, code & 0x7f);
	else
		snprintf(why, n, "its writer (pid %d) exited with status %lld", (int)tid, (code >> 8) & 0xff);
	return 1;
}
