/* The scripted reply server of the backends' unit tests, and opening a backend on it
 * (lib_reply_server.h). */
#include "tests/unit/lib_reply_server.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int reply_server_start(struct reply_server *s, const char *script, const char *const *args)
{
	const char *dir = getenv("SNAPFS_SRC"), *argv[8] = { "python3" };
	char path[1024], line[32] = "";
	unsigned argc = 2;
	int to[2], from[2];
	size_t got = 0;
	ssize_t n;

	s->pid = 0;
	s->in = -1;
	s->port = 0;
	snprintf(path, sizeof(path), "%s/tests/unit/%s", dir ? dir : ".", script);
	argv[1] = path;
	while (args && *args && argc < 7)
		argv[argc++] = *args++;
	if (pipe2(to, O_CLOEXEC) || pipe2(from, O_CLOEXEC))
		return -1;
	s->pid = fork();
	if (s->pid < 0)
		return -1;
	if (s->pid == 0) {
		dup2(to[0], 0);
		dup2(from[1], 1);
		execvp("python3", (char *const *)argv);
		_exit(127);
	}
	close(to[0]);
	close(from[1]);
	s->in = to[1];
	while (got < sizeof(line) - 1 && (n = read(from[0], line + got, 1)) == 1 && line[got] != '\n')
		got++;
	close(from[0]);
	s->port = atoi(line);
	return s->port > 0 ? 0 : -1;
}

void reply_server_stop(struct reply_server *s)
{
	if (s->pid > 0) {
		close(s->in);
		waitpid(s->pid, NULL, 0);
		s->pid = 0;
	}
}

void reply_secret_set(struct secret *sec, const char *const *kv)
{
	unsigned n = 0;

	while (kv[2 * n])
		n++;
	sec->n = n;
	sec->kv = calloc(n, sizeof(*sec->kv));
	for (unsigned i = 0; sec->kv && i < n; i++) {
		sec->kv[i].key = strdup(kv[2 * i]);
		sec->kv[i].val = strdup(kv[2 * i + 1]);
	}
}

int reply_backend_open(struct backend *be, const struct backend_ops *ops, const struct backend_conf *conf)
{
	char *why = NULL;
	int rc;

	be->ops = ops;
	be->conf = conf;
	rc = ops->open(be, conf, &why);
	if (rc)
		fprintf(stderr, "open: %s\n", why ? why : "?");
	free(why);
	return rc;
}
