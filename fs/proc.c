#include "fs/snapfs.h"

#include <stdio.h>
#include <string.h>

pid_t tgid_of(pid_t pid)
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
