/* Going to the background so that the mount command's exit status means "the mount serves": the
 * parent waits until the daemon says it is ready (pid file written, threads started) or failed. */
#ifndef SNAPFS_DAEMON_H
#define SNAPFS_DAEMON_H

/* In the background (foreground 0): fork; the parent never returns (it exits 0 once the child calls
 * daemon_ready(fd, 1), 1 if it calls daemon_ready(fd, 0) or dies first). The child starts a session,
 * moves to /, puts /dev/null on 0, 1, 2 and returns 0 with *fd to report on. In the foreground: returns
 * 0 with *fd = -1. -errno when the fork cannot be made. */
int daemon_fork(int foreground, int *fd);
/* Tell the waiting parent how start-up ended, once (why: the one-line reason of a failure, which the
 * parent prints, as the child's stderr is /dev/null by then); *fd becomes -1. No-op when *fd < 0. */
void daemon_ready(int *fd, int ok, const char *why);

#endif
