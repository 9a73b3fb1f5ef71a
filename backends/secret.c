#include "backends/secret.h"
#include "common/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SECRET_MAX (1 << 20)

static int read_small(int dfd, const char *name, char **out)
{
	char *p = NULL;
	size_t len = 0;
	ssize_t n;
	int fd, rc = 0;

	fd = openat(dfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	p = malloc(SECRET_MAX + 1);
	if (!p) {
		rc = -ENOMEM;
		goto out;
	}
	while (len < SECRET_MAX && (n = read(fd, p + len, SECRET_MAX - len)) > 0)
		len += (size_t)n;
	if (n < 0) {
		rc = -errno;
		goto out;
	}
	p[len] = 0;
	if (strlen(p) != len) {
		rc = -EINVAL;   /* a NUL inside a key file is never a credential */
		goto out;
	}
	/* `echo KEY > file` leaves a newline that would break every signature: trim one */
	if (len && p[len - 1] == '\n') {
		p[--len] = 0;
		if (len && p[len - 1] == '\r')
			p[--len] = 0;
		log_debug("secret %s: trimmed a trailing newline", name);
	}
	*out = p;
	p = NULL;
out:
	free(p);
	close(fd);
	return rc;
}

int secret_load(struct secret *s, const char *dir, char **why)
{
	struct dirent *de;
	DIR *d = NULL;
	int dfd = -1, rc = 0;

	memset(s, 0, sizeof(*s));
	if (!dir)
		return 0;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		rc = -errno;
		if (why && asprintf(why, "--secret-dir %s: %s", dir, strerror(errno)) < 0)
			*why = NULL;
		return rc;
	}
	d = fdopendir(dfd);
	if (!d) {
		rc = -errno;
		close(dfd);
		return rc;
	}
	while ((de = readdir(d))) {
		struct secret_kv *kv;
		struct stat st;
		char *val = NULL;

		/* Kubernetes volumes hold ..data and ..2024_xx symlinked dirs: skip dot entries */
		if (de->d_name[0] == '.')
			continue;
		if (fstatat(dfd, de->d_name, &st, 0) || !S_ISREG(st.st_mode))
			continue;
		rc = read_small(dfd, de->d_name, &val);
		if (rc) {
			if (why && asprintf(why, "secret %s/%s: %s", dir, de->d_name,
					    rc == -EINVAL ? "not a text value" : strerror(-rc)) < 0)
				*why = NULL;
			goto out;
		}
		if (st.st_mode & 0044)
			log_warn("secret file %s/%s is readable by other users (mode %03o)", dir, de->d_name,
				 (unsigned)(st.st_mode & 0777));
		kv = realloc(s->kv, (s->n + 1) * sizeof(*kv));
		if (!kv) {
			free(val);
			rc = -ENOMEM;
			goto out;
		}
		s->kv = kv;
		kv[s->n].key = strdup(de->d_name);
		kv[s->n].val = val;
		if (!kv[s->n].key) {
			free(val);
			rc = -ENOMEM;
			goto out;
		}
		s->n++;
	}
out:
	closedir(d);
	if (rc)
		secret_free(s);
	return rc;
}

void secret_free(struct secret *s)
{
	for (unsigned i = 0; i < s->n; i++) {
		/* wipe values so they do not linger in freed heap */
		if (s->kv[i].val)
			explicit_bzero(s->kv[i].val, strlen(s->kv[i].val));
		free(s->kv[i].key);
		free(s->kv[i].val);
	}
	free(s->kv);
	s->kv = NULL;
	s->n = 0;
}

const char *secret_get(const struct secret *s, const char *key)
{
	for (unsigned i = 0; s && i < s->n; i++)
		if (!strcmp(s->kv[i].key, key))
			return s->kv[i].val;
	return getenv(key);
}

const char *secret_need(const struct secret *s, const char *key)
{
	const char *v = secret_get(s, key);

	return v && *v ? v : NULL;
}
