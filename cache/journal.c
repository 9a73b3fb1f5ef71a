#include "cache/journal.h"
#include "backends/backend.h"
#include "common/log.h"

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
	char *source;
	pthread_mutex_t lock;
	uint64_t next;
	char dir[4096];
	struct journal_closed *closed;   /* left by a previous daemon, handed out by journal_closed_next */
	size_t nclosed, taken;
};

static uint32_t journal_fnv(const char *a, const char *b)
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
static int journal_read_record(int dfd, const char *name, char **key, char **token)
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
		*key = *token = NULL;   /* the callers free them too */
		return -ENOMEM;
	}
	return 0;
}

/* --- closed files waiting for their upload (--async-close) ----------------------------------------- */

static int journal_ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a > b && !strcmp(s + a - b, suffix);
}

int journal_parse_closed(const char *buf, size_t len, struct journal_closed *out)
{
	const char *line[4], *end = buf + len, *p = buf;
	size_t llen[4];
	char num[24], *e;

	memset(out, 0, sizeof(*out));
	for (int i = 0; i < 4; i++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));

		if (!nl || nl == p)
			return -EINVAL;   /* torn (the crash came while it was written) or malformed */
		line[i] = p;
		llen[i] = (size_t)(nl - p);
		p = nl + 1;
	}
	if (p != end || memchr(buf, 0, len) || line[1][0] != '/' || llen[2] >= sizeof(num) ||
	    llen[3] >= sizeof(out->name) || memchr(line[3], '/', llen[3]))
		return -EINVAL;
	memcpy(num, line[2], llen[2]);
	num[llen[2]] = 0;
	errno = 0;
	out->size = strtoull(num, &e, 10);
	if (errno || *e || num[0] < '0' || num[0] > '9')
		return -EINVAL;
	memcpy(out->name, line[3], llen[3]);
	out->name[llen[3]] = 0;
	if (!journal_ends_with(out->name, ".spool"))
		return -EINVAL;
	out->name[llen[3] - strlen(".spool")] = 0;
	out->key = strndup(line[0], llen[0]);
	out->path = strndup(line[1], llen[1]);
	if (!out->key || !out->path) {
		free(out->key);
		free(out->path);
		return -ENOMEM;
	}
	return 0;
}

/* Keep each whole record whose spool holds its data; drop torn records and spools with no record. */
static void journal_recover_closed(struct journal *j)
{
	DIR *d = opendir(j->dir);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		struct journal_closed rec, *grown;
		char buf[16384], spool[80];
		struct stat st;
		ssize_t n;
		int fd;

		if (!journal_ends_with(de->d_name, ".cl"))
			continue;
		fd = openat(j->dfd, de->d_name, O_RDONLY | O_CLOEXEC);
		n = fd >= 0 ? read(fd, buf, sizeof(buf)) : -1;
		if (fd >= 0)
			close(fd);
		if (n < 0 || journal_parse_closed(buf, (size_t)n, &rec)) {
			log_warn("crash journal: dropped the torn record %s (its file was not closed yet)", de->d_name);
			unlinkat(j->dfd, de->d_name, 0);
			continue;
		}
		snprintf(spool, sizeof(spool), "%s.spool", rec.name);
		if (strncmp(de->d_name, rec.name, strlen(rec.name)) || fstatat(j->dfd, spool, &st, 0) ||
		    (uint64_t)st.st_size < rec.size) {
			log_warn("crash journal: %s has no complete data in the cache dir (%s): dropped", rec.path,
				 de->d_name);
			unlinkat(j->dfd, de->d_name, 0);
			free(rec.key);
			free(rec.path);
			continue;
		}
		grown = realloc(j->closed, (j->nclosed + 1) * sizeof(*grown));
		if (!grown) {
			free(rec.key);
			free(rec.path);
			continue;   /* stays on disk for the next mount */
		}
		j->closed = grown;
		j->closed[j->nclosed++] = rec;
	}
	rewinddir(d);
	while ((de = readdir(d))) {
		char rec[80];
		size_t len = strlen(de->d_name);

		if (!journal_ends_with(de->d_name, ".spool") || len - strlen(".spool") + 4 > sizeof(rec))
			continue;
		snprintf(rec, sizeof(rec), "%.*s.cl", (int)(len - strlen(".spool")), de->d_name);
		if (faccessat(j->dfd, rec, F_OK, 0))
			unlinkat(j->dfd, de->d_name, 0);   /* a crash before its record was written: never closed */
	}
	closedir(d);
	if (j->nclosed)
		log_info("crash journal: %zu closed file(s) still to upload", j->nclosed);
}

int journal_closed_next(struct journal *j, struct journal_closed *out, int *fd)
{
	while (j->taken < j->nclosed) {
		struct journal_closed *rec = &j->closed[j->taken++];
		char spool[80];

		snprintf(spool, sizeof(spool), "%s.spool", rec->name);
		*fd = openat(j->dfd, spool, O_RDWR | O_CLOEXEC);
		if (*fd >= 0) {
			*out = *rec;
			return 0;
		}
		log_error("%s: cannot open its data in the cache dir: %s (kept for the next mount)", rec->path,
			  strerror(errno));
		free(rec->key);
		free(rec->path);
	}
	return -ENOENT;
}

static int journal_fsync_dir(struct journal *j)
{
	return fsync(j->dfd) ? -errno : 0;
}

int journal_closed_add(struct journal *j, const char *key, const char *path, uint64_t size, int fd,
		       char name[64])
{
	char proc[64], file[80];
	uint64_t id;
	int rfd = -1, rc;
	FILE *f = NULL;

	pthread_mutex_lock(&j->lock);
	id = ++j->next;
	pthread_mutex_unlock(&j->lock);
	snprintf(name, 64, "%llu-%d", (unsigned long long)id, (int)getpid());
	/* the data first: a record must never name bytes that are not on the disk */
	if (fsync(fd))
		return -errno;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	snprintf(file, sizeof(file), "%s.spool", name);
	if (linkat(AT_FDCWD, proc, j->dfd, file, AT_SYMLINK_FOLLOW))
		return -errno;   /* a spool that cannot be named (no O_TMPFILE): close synchronously */
	snprintf(file, sizeof(file), "%s.cl", name);
	rfd = openat(j->dfd, file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	f = rfd >= 0 ? fdopen(rfd, "w") : NULL;
	if (!f) {
		rc = -errno;
		goto fail;
	}
	fprintf(f, "%s\n%s\n%llu\n%s.spool\n", key, path, (unsigned long long)size, name);
	if (fflush(f) || fsync(fileno(f))) {
		rc = -errno;
		goto fail;
	}
	fclose(f);
	f = NULL;
	rfd = -1;
	rc = journal_fsync_dir(j);
	if (rc)
		goto fail;
	return 0;
fail:
	if (f)
		fclose(f);
	else if (rfd >= 0)
		close(rfd);
	journal_closed_done(j, name);
	return rc ? rc : -EIO;
}

void journal_closed_done(struct journal *j, const char *name)
{
	char file[80];

	/* the record first: a spool without a record is dropped at the next mount, never uploaded */
	snprintf(file, sizeof(file), "%s.cl", name);
	unlinkat(j->dfd, file, 0);
	snprintf(file, sizeof(file), "%s.spool", name);
	unlinkat(j->dfd, file, 0);
}

/* --- commits that kept failing ----------------------------------------------------------------------- */

int journal_parse_failed(const char *buf, size_t len, struct journal_failed *out)
{
	char *line[7], *copy, *p, *e;
	int rc = -EINVAL;

	memset(out, 0, sizeof(*out));
	if (memchr(buf, 0, len) || !(copy = strndup(buf, len)))
		return memchr(buf, 0, len) ? -EINVAL : -ENOMEM;
	p = copy;
	for (int i = 0; i < 7; i++) {
		char *nl = strchr(p, '\n');

		if (!nl || (nl == p && i < 6))
			goto out;
		*nl = 0;
		line[i] = p;
		p = nl + 1;
	}
	if (*p || line[3][0] != '/' || line[4][0] < '0' || line[4][0] > '9' || line[5][0] < '0' ||
	    line[5][0] > '9')
		goto out;
	errno = 0;
	out->size = strtoull(line[4], &e, 10);
	if (errno || *e)
		goto out;
	out->at = (time_t)strtoll(line[5], &e, 10);
	if (errno || *e)
		goto out;
	out->key = strdup(line[0]);
	out->token = strdup(line[1]);
	out->source = strdup(line[2]);
	out->path = strdup(line[3]);
	out->why = strdup(line[6]);
	rc = out->key && out->token && out->source && out->path && out->why ? 0 : -ENOMEM;
	if (rc)
		journal_failed_free(out);
out:
	free(copy);
	return rc;
}

void journal_failed_free(struct journal_failed *f)
{
	free(f->key);
	free(f->token);
	free(f->source);
	free(f->path);
	free(f->why);
	f->key = f->token = f->source = f->path = f->why = NULL;
}

int journal_fail(struct journal *j, uint64_t id, const char *path, uint64_t size, const char *why)
{
	char up[64], tmp[96], failed[80], *key = NULL, *token = NULL;
	FILE *f = NULL;
	int fd, rc;

	snprintf(up, sizeof(up), "%llu-%d.up", (unsigned long long)id, (int)getpid());
	snprintf(failed, sizeof(failed), "%llu-%d.failed", (unsigned long long)id, (int)getpid());
	snprintf(tmp, sizeof(tmp), "%s.tmp", failed);
	rc = journal_read_record(j->dfd, up, &key, &token);
	if (rc)
		return rc;
	if (strchr(path, '\n') || strchr(why, '\n')) {
		rc = -EINVAL;
		goto out;
	}
	fd = openat(j->dfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!f) {
		rc = -errno;
		if (fd >= 0)
			close(fd);
		goto out;
	}
	fprintf(f, "%s\n%s\n%s\n%s\n%llu\n%lld\n%s\n", key, token, j->source, path, (unsigned long long)size,
		(long long)time(NULL), why);
	rc = fflush(f) || fsync(fileno(f)) ? -errno : 0;
	fclose(f);
	/* the failed record replaces the crash record in one step: no moment without either */
	if (!rc && renameat(j->dfd, tmp, j->dfd, failed))
		rc = -errno;
	if (!rc && unlinkat(j->dfd, up, 0))
		rc = -errno;
	if (!rc)
		rc = journal_fsync_dir(j);
	if (rc)
		unlinkat(j->dfd, tmp, 0);
out:
	free(key);
	free(token);
	return rc;
}

static int journal_failed_in_dir(const char *dir, int (*fn)(void *, const struct journal_failed *), void *arg)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int rc = 0;

	if (!d)
		return 0;
	while (!rc && (de = readdir(d))) {
		struct journal_failed f;
		char buf[16384], file[4200];
		size_t nl = strlen(de->d_name);
		ssize_t n;
		int fd;

		if (!journal_ends_with(de->d_name, ".failed") || nl >= sizeof(f.file))
			continue;
		snprintf(file, sizeof(file), "%s/%s", dir, de->d_name);
		fd = open(file, O_RDONLY | O_CLOEXEC);
		n = fd >= 0 ? read(fd, buf, sizeof(buf)) : -1;
		if (fd >= 0)
			close(fd);
		if (n <= 0 || journal_parse_failed(buf, (size_t)n, &f))
			continue;
		memcpy(f.file, de->d_name, nl + 1);
		snprintf(f.dir, sizeof(f.dir), "%s", dir);
		rc = fn(arg, &f);
		journal_failed_free(&f);
	}
	closedir(d);
	return rc;
}

int journal_failed_foreach(struct journal *j, const char *cache_dir,
			   int (*fn)(void *arg, const struct journal_failed *f), void *arg)
{
	struct dirent *de;
	DIR *d;
	int rc = 0;

	if (j)
		return journal_failed_in_dir(j->dir, fn, arg);
	d = opendir(cache_dir);
	if (!d)
		return -errno;
	while (!rc && (de = readdir(d))) {
		char dir[4096];

		if (strncmp(de->d_name, "journal-", 8))
			continue;
		snprintf(dir, sizeof(dir), "%s/%s", cache_dir, de->d_name);
		rc = journal_failed_in_dir(dir, fn, arg);
	}
	closedir(d);
	return rc;
}

static int journal_log_kept(void *arg, const struct journal_failed *f)
{
	(*(unsigned *)arg)++;
	log_warn("crash journal: kept the failed commit of %s (%s): its upload stays in the store; "
		 "`snapctl retry` stores it, `snapctl discard` drops it", f->path, f->why);
	return 0;
}

static void journal_recover(struct journal *j, struct backend *be)
{
	DIR *d = opendir(j->dir);
	struct dirent *de;
	unsigned n = 0;

	if (!d)
		return;
	while ((de = readdir(d))) {
		char *key = NULL, *token = NULL;
		int rc;

		uint64_t seen = strtoull(de->d_name, NULL, 10);

		if (seen > j->next)
			j->next = seen;   /* a new record never takes an old name (a container's pid repeats) */
		if (journal_ends_with(de->d_name, ".failed.tmp"))
			unlinkat(j->dfd, de->d_name, 0);   /* torn before it replaced its crash record */
		if (!journal_ends_with(de->d_name, ".up"))
			continue;   /* a .failed record is kept: its data is what a retry stores */
		rc = journal_read_record(j->dfd, de->d_name, &key, &token);
		if (rc == -ENOENT)
			continue;   /* gone since the listing */
		if (rc && rc != -EINVAL) {
			/* unread (no memory, an I/O error), not torn: the next mount tries it again */
			log_warn("crash journal: could not read %s: %s (kept for the next mount)", de->d_name,
				 strerror(-rc));
			continue;
		}
		if (!rc && be->ops->upload_forget) {
			rc = be->ops->upload_forget(be, key, token);
			if (rc == -EINVAL || rc == -EOPNOTSUPP) {
				/* no later mount could do better with it: say so once and drop it */
				log_warn("crash journal: the unfinished upload of %s left by a crash cannot be "
					 "discarded (%s): record dropped", key,
					 rc == -EINVAL ? "malformed record" : "the store cannot do it");
			} else if (rc == -ENOENT) {
				log_info("crash journal: nothing is left of the upload of %s (it was finished or "
					 "discarded before the crash)", key);
			} else if (rc) {
				log_warn("could not discard the unfinished upload of %s left by a crash: %s "
					 "(kept for the next mount)", key, strerror(-rc));
				free(key);
				free(token);
				continue;
			} else {
				log_info("recovered: discarded the unfinished upload of %s (left by a crash)", key);
				n++;
			}
		}
		unlinkat(j->dfd, de->d_name, 0);
		free(key);
		free(token);
	}
	closedir(d);
	if (n)
		log_info("crash recovery: %u unfinished upload(s) discarded, no partial object published", n);
	n = 0;
	journal_failed_in_dir(j->dir, journal_log_kept, &n);
	if (n)
		log_warn("crash journal: %u failed commit(s) kept (snapctl failed lists them)", n);
	journal_recover_closed(j);
}

int journal_open(struct journal **out, const char *cache_dir, const char *source, const char *mountpoint,
		 struct backend *be, char **why)
{
	struct journal *j = calloc(1, sizeof(*j));
	int lfd, rc;

	if (!j)
		return -ENOMEM;
	snprintf(j->dir, sizeof(j->dir), "%s/journal-%08x", cache_dir, journal_fnv(source, mountpoint));
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
	j->source = strdup(source);
	if (!j->source) {
		rc = -ENOMEM;
		goto fail;   /* lfd stays open: the lock goes with the failed process */
	}
	journal_recover(j, be);
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
	free(j->source);
	for (size_t i = j->taken; i < j->nclosed; i++) {
		free(j->closed[i].key);
		free(j->closed[i].path);
	}
	free(j->closed);
	free(j);
}

uint64_t journal_add(struct journal *j, const char *key, const char *token)
{
	char name[64];
	uint64_t id;
	int fd;
	FILE *f;

	if (strchr(key, '\n') || strchr(token, '\n')) {
		errno = EINVAL;   /* a record is two lines: it could not be read back */
		goto fail;
	}
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
	/* the name too: a record lost with its directory entry would leave the upload nobody knows of */
	if (journal_fsync_dir(j)) {
		int e = errno;

		unlinkat(j->dfd, name, 0);
		errno = e;
		goto fail;
	}
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
