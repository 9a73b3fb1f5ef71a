/* The failure-injecting store: see fault_backend.h. */
#include "tests/unit/lib_fault_backend.h"
#include "backends/secret.h"

#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct rule {
	enum fault_op op;
	unsigned long from, until;   /* the calls [from, until) of op fail; until 0: every one from `from` */
	int rc;
	struct rule *next;
};

struct fault {
	char root[256];              /* holds store/ and scratch/ */
	char dir[300], scratch[300];
	struct source src;
	struct secret sec;
	struct backend_conf conf;
	struct backend inner;        /* the real file:// store */
	struct backend_ops ops;      /* the wrapper's table: file://'s limits, the functions below */
	struct backend outer;        /* what the code under test calls */
	pthread_mutex_t lock;        /* the counters and the rules */
	unsigned long calls[FAULT_NOPS], failed[FAULT_NOPS];
	struct rule *rules;
};

/* An upload of the wrapper: the store's own, and the fault it counts against. */
struct fault_upload {
	struct fault *f;
	struct upload *up;
};

static const char *const op_names[FAULT_NOPS] = {
	"stat", "list", "read", "put", "upload_begin", "upload_part", "upload_commit", "upload_abort", "remove",
	"copy", "move",
};

static const struct {
	const char *name;
	int err;
} errs[] = {
	{ "EIO", EIO }, { "ENOSPC", ENOSPC }, { "EEXIST", EEXIST }, { "ENOENT", ENOENT }, { "EACCES", EACCES },
	{ "EPERM", EPERM }, { "ETIMEDOUT", ETIMEDOUT }, { "ESTALE", ESTALE }, { "EAGAIN", EAGAIN },
	{ "ECONNRESET", ECONNRESET },
};

static struct fault *F(struct backend *b)
{
	return b->priv;
}

/* Count a call of op: 0 to let it through, or the error a rule says it returns. */
static int hit(struct fault *f, enum fault_op op)
{
	unsigned long n;
	int rc = 0;

	pthread_mutex_lock(&f->lock);
	n = ++f->calls[op];
	for (struct rule *r = f->rules; r; r = r->next)
		if (r->op == op && n >= r->from && (!r->until || n < r->until))
			rc = r->rc;
	if (rc)
		f->failed[op]++;
	pthread_mutex_unlock(&f->lock);
	return rc;
}

static int w_stat(struct backend *b, const char *key, struct obj_info *out)
{
	int rc = hit(F(b), FAULT_STAT);

	return rc ? rc : F(b)->inner.ops->stat(&F(b)->inner, key, out);
}

static int w_list(struct backend *b, const char *prefix, int delim, unsigned limit, list_fn fn, void *arg)
{
	int rc = hit(F(b), FAULT_LIST);

	return rc ? rc : F(b)->inner.ops->list(&F(b)->inner, prefix, delim, limit, fn, arg);
}

static ssize_t w_read(struct backend *b, const char *key, uint64_t off, size_t len, void *buf)
{
	int rc = hit(F(b), FAULT_READ);

	return rc ? rc : F(b)->inner.ops->read(&F(b)->inner, key, off, len, buf);
}

static ssize_t w_read_ver(struct backend *b, const char *key, struct obj_ver *v, uint64_t off, size_t len,
			  void *buf)
{
	int rc = hit(F(b), FAULT_READ);

	return rc ? rc : F(b)->inner.ops->read_ver(&F(b)->inner, key, v, off, len, buf);
}

static int w_put(struct backend *b, const char *key, int fd, off_t fd_off, uint64_t len, const char *sha256)
{
	int rc = hit(F(b), FAULT_PUT);

	return rc ? rc : F(b)->inner.ops->put(&F(b)->inner, key, fd, fd_off, len, sha256);
}

static int w_upload_begin(struct backend *b, const char *key, uint64_t base, struct upload **up)
{
	struct fault_upload *fu;
	int rc = hit(F(b), FAULT_UPLOAD_BEGIN);

	if (rc)
		return rc;
	fu = calloc(1, sizeof(*fu));
	if (!fu)
		return -ENOMEM;
	fu->f = F(b);
	rc = F(b)->inner.ops->upload_begin(&F(b)->inner, key, base, &fu->up);
	if (rc) {
		free(fu);
		return rc;
	}
	*up = (struct upload *)fu;
	return 0;
}

static int w_upload_part(struct upload *up, const struct part *p)
{
	struct fault_upload *fu = (struct fault_upload *)up;
	int rc = hit(fu->f, FAULT_UPLOAD_PART);

	return rc ? rc : fu->f->inner.ops->upload_part(fu->up, p);
}

static int w_upload_commit(struct upload *up, unsigned nparts, const char *sha256)
{
	struct fault_upload *fu = (struct fault_upload *)up;
	const struct backend_ops *in = fu->f->inner.ops;
	int rc = hit(fu->f, FAULT_UPLOAD_COMMIT);

	if (rc) {
		/* refused: the upload stays open only where the store's contract says so */
		if (in->commit_again)
			return rc;
		in->upload_abort(fu->up);
		free(fu);
		return rc;
	}
	rc = in->upload_commit(fu->up, nparts, sha256);
	if (!rc || !in->commit_again)
		free(fu);
	return rc;
}

static void w_upload_abort(struct upload *up)
{
	struct fault_upload *fu = (struct fault_upload *)up;

	hit(fu->f, FAULT_UPLOAD_ABORT);   /* counted; an abort cannot fail */
	fu->f->inner.ops->upload_abort(fu->up);
	free(fu);
}

static int w_upload_release(struct upload *up)
{
	struct fault_upload *fu = (struct fault_upload *)up;
	int rc = fu->f->inner.ops->upload_release(fu->up);

	free(fu);
	return rc;
}

static int w_upload_finish(struct backend *b, const char *key, const char *token)
{
	return F(b)->inner.ops->upload_finish(&F(b)->inner, key, token);
}

static char *w_upload_token(struct upload *up)
{
	struct fault_upload *fu = (struct fault_upload *)up;

	return fu->f->inner.ops->upload_token(fu->up);
}

static int w_upload_forget(struct backend *b, const char *key, const char *token)
{
	return F(b)->inner.ops->upload_forget(&F(b)->inner, key, token);
}

static int w_remove(struct backend *b, const char *const *keys, size_t n)
{
	int rc = hit(F(b), FAULT_REMOVE);

	return rc ? rc : F(b)->inner.ops->remove(&F(b)->inner, keys, n);
}

static int w_copy(struct backend *b, const char *from, const char *to)
{
	int rc = hit(F(b), FAULT_COPY);

	return rc ? rc : F(b)->inner.ops->copy(&F(b)->inner, from, to);
}

static int w_move(struct backend *b, const char *from, const char *to)
{
	int rc = hit(F(b), FAULT_MOVE);

	return rc ? rc : F(b)->inner.ops->move(&F(b)->inner, from, to);
}

static int w_list_uploads(struct backend *b, const char *prefix, list_fn fn, void *arg)
{
	return F(b)->inner.ops->list_uploads(&F(b)->inner, prefix, fn, arg);
}

static int w_statfs(struct backend *b, uint64_t *total, uint64_t *avail)
{
	return F(b)->inner.ops->statfs(&F(b)->inner, total, avail);
}

/* The wrapper's table: the store's limits and flags, a wrapper wherever the store has the operation. */
static void wrap_ops(struct backend_ops *o, const struct backend_ops *in)
{
	*o = (struct backend_ops){
		.scheme = in->scheme, .min_part = in->min_part, .max_part = in->max_part,
		.max_parts = in->max_parts, .parts_any_order = in->parts_any_order,
		.commit_no_digest = in->commit_no_digest, .commit_again = in->commit_again,
		.stat = w_stat, .list = w_list, .read = w_read, .put = w_put, .upload_begin = w_upload_begin,
		.upload_part = w_upload_part, .upload_commit = w_upload_commit, .upload_abort = w_upload_abort,
		.remove = w_remove, .copy = w_copy,
	};
	o->read_ver = in->read_ver ? w_read_ver : NULL;
	o->move = in->move ? w_move : NULL;
	o->upload_release = in->upload_release ? w_upload_release : NULL;
	o->upload_finish = in->upload_finish ? w_upload_finish : NULL;
	o->upload_token = in->upload_token ? w_upload_token : NULL;
	o->upload_forget = in->upload_forget ? w_upload_forget : NULL;
	o->list_uploads = in->list_uploads ? w_list_uploads : NULL;
	o->statfs = in->statfs ? w_statfs : NULL;
}

int fault_open(struct fault **out, struct backend **be)
{
	const char *tmp = getenv("TMPDIR");
	struct fault *f = calloc(1, sizeof(*f));
	char url[320], *why = NULL;
	int rc;

	if (!f)
		return -ENOMEM;
	pthread_mutex_init(&f->lock, NULL);
	snprintf(f->root, sizeof(f->root), "%s/snapfs-fault.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(f->root)) {
		rc = -errno;
		free(f);
		return rc;
	}
	snprintf(f->dir, sizeof(f->dir), "%s/store", f->root);
	snprintf(f->scratch, sizeof(f->scratch), "%s/scratch", f->root);
	if (mkdir(f->dir, 0700) || mkdir(f->scratch, 0700)) {
		rc = -errno;
		fault_close(f);
		return rc;
	}
	snprintf(url, sizeof(url), "file://%s", f->dir);
	f->inner.ops = backend_find("file");
	rc = f->inner.ops ? source_parse(url, &f->src, &why) : -ENOSYS;
	if (!rc) {
		f->conf = (struct backend_conf){ .src = &f->src, .secret = &f->sec, .timeout_s = 5 };
		f->inner.conf = &f->conf;
		rc = f->inner.ops->open(&f->inner, &f->conf, &why);
	}
	free(why);
	if (rc) {
		f->inner.ops = NULL;
		fault_close(f);
		return rc;
	}
	wrap_ops(&f->ops, f->inner.ops);
	f->outer = (struct backend){ .ops = &f->ops, .priv = f, .conf = &f->conf };
	*out = f;
	*be = &f->outer;
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

void fault_close(struct fault *f)
{
	if (!f)
		return;
	if (f->inner.ops)
		f->inner.ops->close(&f->inner);
	source_free(&f->src);
	fault_clear(f);
	nftw(f->root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

const char *fault_dir(const struct fault *f)
{
	return f->dir;
}

const char *fault_scratch(const struct fault *f)
{
	return f->scratch;
}

void fault_at(struct fault *f, enum fault_op op, unsigned nth, unsigned times, int rc)
{
	struct rule *r = calloc(1, sizeof(*r));

	if (!r)
		abort();   /* a test that cannot set its fault must not pass */
	pthread_mutex_lock(&f->lock);
	r->op = op;
	r->from = f->calls[op] + (nth ? nth : 1);
	r->until = times ? r->from + times : 0;
	r->rc = rc;
	r->next = f->rules;
	f->rules = r;
	pthread_mutex_unlock(&f->lock);
}

/* One rule "op[#N][=ERR][*[K]]" of a script; 0 or -EINVAL. */
static int parse_rule(const char *s, enum fault_op *op, unsigned *nth, unsigned *times, int *rc)
{
	size_t n = strcspn(s, "#=*");
	char *end;
	int i;

	for (i = 0; i < FAULT_NOPS; i++)
		if (strlen(op_names[i]) == n && !strncmp(s, op_names[i], n))
			break;
	if (i == FAULT_NOPS)
		return -EINVAL;
	*op = (enum fault_op)i;
	*nth = 1;
	*times = 1;
	*rc = -EIO;
	s += n;
	if (*s == '#') {
		*nth = (unsigned)strtoul(s + 1, &end, 10);
		if (end == s + 1 || !*nth)
			return -EINVAL;
		s = end;
	}
	if (*s == '=') {
		size_t m = strcspn(++s, "*");
		unsigned k;

		for (k = 0; k < sizeof(errs) / sizeof(errs[0]); k++)
			if (strlen(errs[k].name) == m && !strncmp(s, errs[k].name, m))
				break;
		if (k < sizeof(errs) / sizeof(errs[0])) {
			*rc = -errs[k].err;
		} else {
			long v = strtol(s, &end, 10);

			if (end != s + m || !v)
				return -EINVAL;
			*rc = v < 0 ? (int)v : -(int)v;
		}
		s += m;
	}
	if (*s == '*') {
		*times = s[1] ? (unsigned)strtoul(s + 1, &end, 10) : 0;
		if (s[1] && (*end || !*times))
			return -EINVAL;
		s = s[1] ? end : s + 1;
	}
	return *s ? -EINVAL : 0;
}

int fault_script(struct fault *f, const char *script)
{
	char *copy = strdup(script), *save = NULL, *tok;
	struct { enum fault_op op; unsigned nth, times; int rc; } r[32];
	int n = 0, rc = 0;

	if (!copy)
		return -ENOMEM;
	/* every rule is read before any is set: a script with a typo sets nothing */
	for (tok = strtok_r(copy, ",; \t\n", &save); tok && !rc; tok = strtok_r(NULL, ",; \t\n", &save)) {
		if (n == (int)(sizeof(r) / sizeof(r[0])))
			rc = -EINVAL;
		else
			rc = parse_rule(tok, &r[n].op, &r[n].nth, &r[n].times, &r[n].rc);
		n++;
	}
	free(copy);
	if (rc)
		return rc;
	for (int i = 0; i < n; i++)
		fault_at(f, r[i].op, r[i].nth, r[i].times, r[i].rc);
	return 0;
}

void fault_clear(struct fault *f)
{
	pthread_mutex_lock(&f->lock);
	while (f->rules) {
		struct rule *r = f->rules;

		f->rules = r->next;
		free(r);
	}
	pthread_mutex_unlock(&f->lock);
}

static unsigned counter(struct fault *f, const unsigned long *v)
{
	unsigned long n;

	pthread_mutex_lock(&f->lock);
	n = *v;
	pthread_mutex_unlock(&f->lock);
	return (unsigned)n;
}

unsigned fault_calls(struct fault *f, enum fault_op op)
{
	return counter(f, &f->calls[op]);
}

unsigned fault_failed(struct fault *f, enum fault_op op)
{
	return counter(f, &f->failed[op]);
}

int fault_peek(struct fault *f, const char *key, char **data, uint64_t *len)
{
	struct obj_info oi;
	uint64_t got = 0;
	char *buf;
	int rc = f->inner.ops->stat(&f->inner, key, &oi);

	if (rc)
		return rc;
	*len = oi.size;
	if (!data)
		return 0;
	buf = malloc(oi.size + 1);
	if (!buf)
		return -ENOMEM;
	while (got < oi.size) {
		ssize_t n = f->inner.ops->read(&f->inner, key, got, (size_t)(oi.size - got), buf + got);

		if (n <= 0) {
			free(buf);
			return n < 0 ? (int)n : -EIO;
		}
		got += (uint64_t)n;
	}
	buf[got] = 0;
	*data = buf;
	return 0;
}
