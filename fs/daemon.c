/* fuse_daemonize lets the parent exit as soon as the child has forked, so a script that runs
 * `snapfs ... && cat pidfile` raced the pid file, and a start-up failure after the fork still exited 0. */
#include "fs/daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void parent_wait(int rfd)
{
	char msg[512];
	size_t len = 0;
	ssize_t n;

	/* a status byte, then the reason of a failure, until the child closes its end */
	while (len < sizeof(msg) - 1) {
		n = read(rfd, msg + len, sizeof(msg) - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	msg[len] = 0;
	if (len && msg[0] == 1)
		_exit(0);
	if (len > 1)
		fprintf(stderr, "snapfs: %s\n", msg + 1);
	else
		fprintf(stderr, "snapfs: the daemon ended during start-up (see its log)\n");
	_exit(1);
}

int daemon_fork(int foreground, int *fd)
{
	int p[2], nul;
	pid_t pid;

	*fd = -1;
	if (foreground)
		return 0;
	if (pipe2(p, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid < 0) {
		int e = errno;

		close(p[0]);
		close(p[1]);
		return -e;
	}
	if (pid > 0) {
		close(p[1]);
		parent_wait(p[0]);
	}
	close(p[0]);
	if (setsid() < 0 || chdir("/")) {
		/* the parent reports the failure through its exit status */
		_exit(1);
	}
	nul = open("/dev/null", O_RDWR);
	if (nul >= 0) {
		dup2(nul, 0);
		dup2(nul, 1);
		dup2(nul, 2);
		if (nul > 2)
			close(nul);
	}
	*fd = p[1];
	return 0;
}

void daemon_ready(int *fd, int ok, const char *why)
{
	char msg[512];
	int n;

	if (*fd < 0)
		return;
	n = snprintf(msg, sizeof(msg), "%c%s", ok ? 1 : 0, ok || !why ? "" : why);
	if (n > (int)sizeof(msg) - 1)
		n = (int)sizeof(msg) - 1;
	/* one write under PIPE_BUF: all or nothing */
	while (write(*fd, msg, (size_t)n) < 0 && errno == EINTR)
		;
	close(*fd);
	*fd = -1;
}
