#include "cache/journal.h"
#include "backends/backend.h"
#include "fs/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

struct journal {
	int dfd;
	pthread_mutex_t lock;
	uint64_t next;
	char dir[4096];
};

static uint32_t fnv(const char *a, const char *b)
{
	uint32_t h = 2166136261u;

	for (; *a; a++)
		h = (h ^ (unsigned char)*a) * 16777619u;
	h = (h ^ 0) * 16777619u;
	for (; *b; b++)
		h = (h ^ (unsigned char)*b) * 16777619u;
	return h;
}

/* A record is "key\ntoken\n". */
static int read_record(int dfd, const char *name, char **key, char **token)
{
	char buf[16384];
	ssize_t n;
	char *nl1, *nl2;
	int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EINVAL;
	buf[n] = 0;
	nl1 = strchr(buf, '\n');
	nl2 = nl1 ? strchr(nl1 + 1, '\n') : NULL;
	if (!nl1 || !nl2)
		return -EINVAL;   /* torn by the crash itself: nothing left the cache before it was whole */
	*nl1 = *nl2 = 0;
	*key = strdup(buf);
	*token = strdup(nl1 + 1);
	if (!*key || !*token) {
		free(*key);
		free(*token);
		return -ENOMEM;
	}
	return 0;
}

static void recover(struct journal *j, struct backend *be)
{
	DIR *d = opendir(j->dir);
	struct dirent *de;
	unsigned n = 0;

	if (!d)
		return;
	while ((de = readdir(d))) {
		char *key = NULL, *token = NULL;
		int rc;

		if (!strstr(de->d_name, ".up"))
			continue;
		rc = read_record(j->dfd, de->d_name, &key, &token);
		if (!rc && be->ops->upload_forget) {
			rc = be->ops->upload_forget(be, key, token);
			if (rc && rc != -ENOENT) {
				log_warn("could not discard the unfinished upload of %s left by a crash: %s "
					 "(kept for the next mount)", key, strerror(-rc));
				free(key);
				free(token);
				continue;
			}
			log_info("discarded the unfinished upload of %s left by a crash", key);
			n++;
		}
		unlinkat(j->dfd, de->d_name, 0);
		free(key);
		free(token);
	}
	closedir(d);
	if (n)
		log_info("crash recovery: %u unfinished upload(s) discarded, no partial object published", n);
}

int journal_open(struct journal **out, const char *cache_dir, const char *source, const char *mountpoint,
		 struct backend *be, char **why)
{
	struct journal *j = calloc(1, sizeof(*j));
	int lfd, rc;

	if (!j)
		return -ENOMEM;
	snprintf(j->dir, sizeof(j->dir), "%s/journal-%08x", cache_dir, fnv(source, mountpoint));
	if (mkdir(j->dir, 0700) && errno != EEXIST) {
		rc = -errno;
		goto fail;
	}
	j->dfd = open(j->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (j->dfd < 0) {
		rc = -errno;
		goto fail;
	}
	/* one daemon per journal: the lock lives as long as the descriptor */
	lfd = openat(j->dfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lfd < 0 || flock(lfd, LOCK_EX | LOCK_NB)) {
		rc = lfd < 0 ? -errno : -EBUSY;
		if (lfd >= 0)
			close(lfd);
		close(j->dfd);
		if (asprintf(why, "the cache dir %s is in use by another snapfs mounting %s on %s", cache_dir, source,
			     mountpoint) < 0)
			*why = NULL;
		free(j);
		return rc;
	}
	/* lfd stays open (and locked) until exit: it is never closed on purpose */
	pthread_mutex_init(&j->lock, NULL);
	recover(j, be);
	*out = j;
	return 0;
fail:
	if (asprintf(why, "cache dir %s: %s", j->dir, strerror(-rc)) < 0)
		*why = NULL;
	free(j);
	return rc;
}

void journal_close(struct journal *j)
{
	if (!j)
		return;
	close(j->dfd);
	pthread_mutex_destroy(&j->lock);
	free(j);
}

uint64_t journal_add(struct journal *j, const char *key, const char *token)
{
	char name[64];
	uint64_t id;
	int fd;
	FILE *f;

	pthread_mutex_lock(&j->lock);
	id = ++j->next;
	pthread_mutex_unlock(&j->lock);
	snprintf(name, sizeof(name), "%llu-%d.up", (unsigned long long)id, (int)getpid());
	fd = openat(j->dfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		goto fail;
	f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		goto fail;
	}
	fprintf(f, "%s\n%s\n", key, token);
	if (fflush(f) || fsync(fileno(f))) {
		fclose(f);
		goto fail;
	}
	fclose(f);
	return id;
fail:
	log_warn("%s: could not record the upload in the crash journal: %s", key, strerror(errno));
	return 0;
}

void journal_done(struct journal *j, uint64_t id)
{
	char name[64];

	snprintf(name, sizeof(name), "%llu-%d.up", (unsigned long long)id, (int)getpid());
	unlinkat(j->dfd, name, 0);
}
