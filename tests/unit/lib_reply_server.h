/* For unit tests of a backend against a scripted reply server (a Python script of tests/unit/ that
 * prints its port on stdout, then answers on 127.0.0.1 until its stdin closes): start and stop it,
 * fill the secret the backend reads, open the backend on it. tests/unit/lib_*.c are linked into
 * every unit test. */
#ifndef SNAPFS_TESTS_LIB_REPLY_SERVER_H
#define SNAPFS_TESTS_LIB_REPLY_SERVER_H

#include "backends/backend.h"
#include "backends/secret.h"

#include <sys/types.h>

struct reply_server {
	pid_t pid;
	int in;      /* the server's stdin: closing it stops the server */
	int port;
};

/* python3 $SNAPFS_SRC/tests/unit/SCRIPT ARGS... (args NULL-terminated, or NULL for none): 0 once it
 * told its port, -1 if it did not start */
int reply_server_start(struct reply_server *s, const char *script, const char *const *args);
/* closes its stdin and waits for it; nothing when it never started */
void reply_server_stop(struct reply_server *s);

/* sec holds the pairs of kv ("KEY", "value", ..., NULL) */
void reply_secret_set(struct secret *sec, const char *const *kv);

/* be->ops = ops, be->conf = conf, then ops->open; why printed on failure. Returns what open did. */
int reply_backend_open(struct backend *be, const struct backend_ops *ops, const struct backend_conf *conf);

#endif
