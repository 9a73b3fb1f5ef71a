/* snapctl verify, one object: read it back with parallel ranged GETs, recompute its SHA-256 (and the
 * MD5, CRC32C or multipart ETag where that is what the store holds) and compare with what stat() tells. */
#include "tools/snapctl_verify.h"
#include "backends/gcs/crc32c.h"
#include "common/crypto.h"
#include "common/encode.h"
#include "cache/partsize.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_LAYOUTS 8   /* multipart layouts tried against one ETag */

enum { SLOT_FREE, SLOT_WANT, SLOT_BUSY, SLOT_DONE };

struct slot {
	int state;
	uint64_t off;
	size_t len;
	ssize_t got;
	unsigned char *buf;
};

struct vr_pool {
	pthread_mutex_t mu;
	pthread_cond_t work, done;
	struct sc_store *st;
	const char *key;       /* the object being read; changes only while no slot is wanted or busy */
	struct slot *slots;
	unsigned nslots, nth;
	size_t chunk;
	int stop;
	pthread_t *th;
};

static void *reader(void *arg)
{
	struct vr_pool *p = arg;

	pthread_mutex_lock(&p->mu);
	while (!p->stop) {
		struct slot *s = NULL;

		for (unsigned i = 0; i < p->nslots && !s; i++)
			if (p->slots[i].state == SLOT_WANT)
				s = &p->slots[i];
		if (!s) {
			pthread_cond_wait(&p->work, &p->mu);
			continue;
		}
		s->state = SLOT_BUSY;
		pthread_mutex_unlock(&p->mu);
		ssize_t got = p->st->ops->read(&p->st->b, p->key, s->off, s->len, s->buf);
		pthread_mutex_lock(&p->mu);
		s->got = got;
		s->state = SLOT_DONE;
		pthread_cond_broadcast(&p->done);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

int vr_pool_new(struct vr_pool **out, struct sc_store *st, unsigned jobs, size_t chunk)
{
	struct vr_pool *p = calloc(1, sizeof(*p));
	int rc = -ENOMEM;

	*out = NULL;
	if (!p)
		return -ENOMEM;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->done, NULL);
	p->st = st;
	p->chunk = chunk;
	/* twice as many buffers as readers: the next chunks arrive while one is hashed */
	p->nslots = jobs * 2;
	p->slots = calloc(p->nslots, sizeof(*p->slots));
	p->th = calloc(jobs, sizeof(*p->th));
	if (!p->slots || !p->th)
		goto fail;
	for (unsigned i = 0; i < p->nslots; i++)
		if (!(p->slots[i].buf = malloc(chunk)))
			goto fail;
	for (; p->nth < jobs; p->nth++) {
		rc = -pthread_create(&p->th[p->nth], NULL, reader, p);
		if (rc)
			goto fail;
	}
	*out = p;
	return 0;
fail:
	vr_pool_free(p);
	return rc ? rc : -ENOMEM;
}

void vr_pool_free(struct vr_pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->mu);
	for (unsigned i = 0; i < p->nth; i++)
		pthread_join(p->th[i], NULL);
	for (unsigned i = 0; p->slots && i < p->nslots; i++)
		free(p->slots[i].buf);
	free(p->slots);
	free(p->th);
	pthread_cond_destroy(&p->work);
	pthread_cond_destroy(&p->done);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

/* ---------- the digests ---------- */

/* One guess at how a multipart object was cut: S3's ETag is the MD5 of its parts' MD5s, "-N". */
struct layout {
	struct part_plan plan;
	EVP_MD_CTX *part, *all;
	unsigned n;            /* parts finished */
	uint64_t left;         /* bytes still to come in the current part */
	uint64_t base;         /* the plan's first part size, for the report */
};

struct sums {
	EVP_MD_CTX *sha, *md5;
	int crc_on;
	uint32_t crc;
	struct layout lay[MAX_LAYOUTS];
	unsigned nlay;
	uint64_t size;
};

static unsigned parts_for(const struct part_plan *plan, uint64_t size)
{
	uint64_t sum = 0;
	unsigned n = 0;

	do {
		sum += part_size_of(plan, ++n);
	} while (sum < size && n <= 10000);
	return n;
}

static void lay_feed(struct layout *l, const unsigned char *p, size_t len)
{
	while (len) {
		size_t take = len < l->left ? len : (size_t)l->left;
		unsigned char md[EVP_MAX_MD_SIZE];
		unsigned mlen;

		EVP_DigestUpdate(l->part, p, take);
		p += take;
		len -= take;
		l->left -= take;
		if (!l->left) {
			EVP_DigestFinal_ex(l->part, md, &mlen);
			EVP_DigestUpdate(l->all, md, mlen);
			EVP_DigestInit_ex(l->part, EVP_md5(), NULL);
			l->n++;
			l->left = part_size_of(&l->plan, l->n + 1);
		}
	}
}

/* The ETag the layout gives, "hex-N", for the size fed (the last part may be short). */
static void lay_final(struct layout *l, uint64_t size, char *out, size_t cap)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	char hex[2 * EVP_MAX_MD_SIZE + 1];
	unsigned mlen;
	uint64_t full = part_size_of(&l->plan, l->n + 1);

	if (l->left != full || !size) {   /* a part begun and not finished: the last one */
		EVP_DigestFinal_ex(l->part, md, &mlen);
		EVP_DigestUpdate(l->all, md, mlen);
		l->n++;
	}
	EVP_DigestFinal_ex(l->all, md, &mlen);
	enc_hex(md, mlen, hex);
	snprintf(out, cap, "%.32s-%u", hex, l->n);
}

/* A multipart ETag "hex-N": the layouts that cut size into N parts. snapfs's own schedule for the store
 * with the part size given (8 MiB by default) comes first; when it does not give N parts, even sizes in
 * whole MiB that do (another writer's). Returns 1 when snapfs's schedule is among them. */
static int add_layouts(struct sums *s, const struct sc_store *st, uint64_t want_part, uint64_t size, unsigned n)
{
	const struct backend_ops *ops = st->ops;
	struct part_plan plan;
	const char *why;
	int ours = 0;

	if (!part_plan_init(&plan, want_part, ops->min_part, ops->max_part, ops->max_parts, &why) &&
	    parts_for(&plan, size) == n) {
		s->lay[s->nlay++].plan = plan;
		ours = 1;
	}
	if (!ours && n >= 1) {
		uint64_t mib = (size + (uint64_t)n * MIB - 1) / ((uint64_t)n * MIB);

		for (; s->nlay < MAX_LAYOUTS && mib * MIB >= ops->min_part / 2; mib++) {
			memset(&plan, 0, sizeof(plan));
			plan.base = mib ? mib * MIB : MIB;
			if (parts_for(&plan, size) != n)
				break;
			s->lay[s->nlay++].plan = plan;
			if (n == 1)
				break;     /* one part: every size is the same layout */
		}
	}
	for (unsigned i = 0; i < s->nlay; i++) {
		struct layout *l = &s->lay[i];

		l->part = EVP_MD_CTX_new();
		l->all = EVP_MD_CTX_new();
		if (!l->part || !l->all)
			return -ENOMEM;
		EVP_DigestInit_ex(l->part, EVP_md5(), NULL);
		EVP_DigestInit_ex(l->all, EVP_md5(), NULL);
		l->left = part_size_of(&l->plan, 1);
		l->base = l->left;
	}
	return ours;
}

static void sums_free(struct sums *s)
{
	EVP_MD_CTX_free(s->sha);
	EVP_MD_CTX_free(s->md5);
	for (unsigned i = 0; i < s->nlay; i++) {
		EVP_MD_CTX_free(s->lay[i].part);
		EVP_MD_CTX_free(s->lay[i].all);
	}
}

static void sums_feed(struct sums *s, const unsigned char *p, size_t n)
{
	if (s->sha)
		EVP_DigestUpdate(s->sha, p, n);
	if (s->md5)
		EVP_DigestUpdate(s->md5, p, n);
	if (s->crc_on)
		s->crc = crc32c_update(s->crc, p, n);
	for (unsigned i = 0; i < s->nlay; i++)
		lay_feed(&s->lay[i], p, n);
}

/* "d41d...-3" -> 3; 0 when etag is no multipart ETag */
static unsigned multipart_count(const char *etag)
{
	const char *dash = strchr(etag, '-');
	char *end;
	unsigned long n;

	if (!dash || dash - etag != 32 || strspn(etag, "0123456789abcdefABCDEF") != 32)
		return 0;
	n = strtoul(dash + 1, &end, 10);
	return *end || !n || n > 10000 ? 0 : (unsigned)n;
}

/* ---------- reading ---------- */

/* Read the object through the pool into the digests; 0, or -errno with o->detail set. */
static int read_all(struct vr_pool *p, const char *key, struct vr_obj *o, struct sums *s, vr_progress_fn prog,
		    void *parg)
{
	uint64_t nchunks = (o->size + p->chunk - 1) / p->chunk, issued = 0, h = 0;
	int rc = 0;

	pthread_mutex_lock(&p->mu);
	p->key = key;
	while (h < nchunks && !rc) {
		struct slot *sl;

		for (; issued < nchunks && issued - h < p->nslots; issued++) {
			sl = &p->slots[issued % p->nslots];
			sl->off = issued * p->chunk;
			sl->len = o->size - sl->off < p->chunk ? (size_t)(o->size - sl->off) : p->chunk;
			sl->state = SLOT_WANT;
			pthread_cond_broadcast(&p->work);
		}
		sl = &p->slots[h % p->nslots];
		while (sl->state != SLOT_DONE)
			pthread_cond_wait(&p->done, &p->mu);
		pthread_mutex_unlock(&p->mu);
		if (sl->got < 0) {
			rc = (int)sl->got;
			snprintf(o->detail, sizeof(o->detail), "read at %llu: %s", (unsigned long long)sl->off,
				 strerror(-rc));
		} else if ((size_t)sl->got != sl->len) {
			rc = -EIO;
			snprintf(o->detail, sizeof(o->detail), "the object ends at %llu, %llu bytes were listed "
				 "(changed while being read?)", (unsigned long long)(sl->off + sl->got),
				 (unsigned long long)o->size);
		} else {
			sums_feed(s, sl->buf, sl->len);
			if (prog)
				prog(parg, sl->len);
		}
		pthread_mutex_lock(&p->mu);
		sl->state = SLOT_FREE;
		h++;
	}
	/* a failure leaves reads in flight: let them land before the slots are reused */
	for (unsigned i = 0; i < p->nslots; i++) {
		while (p->slots[i].state == SLOT_WANT || p->slots[i].state == SLOT_BUSY) {
			if (p->slots[i].state == SLOT_WANT)
				p->slots[i].state = SLOT_FREE;
			else
				pthread_cond_wait(&p->done, &p->mu);
		}
		p->slots[i].state = SLOT_FREE;
	}
	pthread_mutex_unlock(&p->mu);
	return rc;
}

static void add_how(struct vr_obj *o, const char *what)
{
	size_t n = strlen(o->how);

	snprintf(o->how + n, sizeof(o->how) - n, "%s%s", n ? "+" : "", what);
}

static void mismatch(struct vr_obj *o, const char *what, const char *want, const char *got)
{
	o->res = VR_BAD;
	snprintf(o->detail, sizeof(o->detail), "%s mismatch: the store holds %s, the bytes give %s", what, want,
		 got);
}

int vr_check(struct vr_pool *p, const char *key, uint64_t want_part, struct vr_obj *o, vr_progress_fn prog,
	     void *parg)
{
	struct sc_store *st = p->st;
	struct obj_info oi, again;
	struct sums s;
	unsigned char md[EVP_MAX_MD_SIZE];
	char hex[2 * EVP_MAX_MD_SIZE + 1], etag[80];
	unsigned mlen, nparts;
	int rc, ours = 0;

	memset(&s, 0, sizeof(s));
	o->res = VR_ERR;
	o->how[0] = o->detail[0] = o->sha256[0] = 0;
	rc = st->ops->stat(&st->b, key, &oi);
	if (rc) {
		snprintf(o->detail, sizeof(o->detail), "stat: %s", rc == -ENOENT ? "gone" : strerror(-rc));
		return 0;
	}
	o->size = oi.size;
	nparts = !strcmp(st->src.scheme, "s3") ? multipart_count(oi.etag) : 0;
	/* the SHA-256 costs a CPU at disk speed: where it is not what is compared, it is worked out only
	 * when nothing else is (a digest for the user to compare by hand) */
	if (oi.sha256[0] || (!oi.md5[0] && !oi.crc32c[0] && !nparts)) {
		s.sha = EVP_MD_CTX_new();
		if (!s.sha || !EVP_DigestInit_ex(s.sha, EVP_sha256(), NULL))
			goto nomem;
	}
	if (oi.md5[0]) {
		s.md5 = EVP_MD_CTX_new();
		if (!s.md5 || !EVP_DigestInit_ex(s.md5, EVP_md5(), NULL))
			goto nomem;
	}
	s.crc_on = oi.crc32c[0] != 0;
	if (nparts) {
		ours = add_layouts(&s, st, want_part, oi.size, nparts);
		if (ours < 0)
			goto nomem;
	}
	rc = read_all(p, key, o, &s, prog, parg);
	if (rc)
		goto out;
	if (s.sha) {
		EVP_DigestFinal_ex(s.sha, md, &mlen);
		enc_hex(md, mlen, o->sha256);
	}
	o->res = VR_OK;
	if (oi.sha256[0]) {
		if (strcmp(oi.sha256, o->sha256))
			mismatch(o, "SHA-256", oi.sha256, o->sha256);
		else
			add_how(o, "sha256");
	}
	if (s.md5 && o->res == VR_OK) {
		EVP_DigestFinal_ex(s.md5, md, &mlen);
		enc_hex(md, mlen, hex);
		if (strcmp(oi.md5, hex))
			mismatch(o, "MD5", oi.md5, hex);
		else
			add_how(o, "md5");
	}
	if (s.crc_on && o->res == VR_OK) {
		char crc[9];

		crc32c_base64(s.crc, crc);
		if (strcmp(oi.crc32c, crc))
			mismatch(o, "CRC32C", oi.crc32c, crc);
		else
			add_how(o, "crc32c");
	}
	if (nparts && o->res == VR_OK) {
		char first[80] = "";
		int hit = 0;

		for (unsigned i = 0; i < s.nlay && !hit; i++) {
			lay_final(&s.lay[i], oi.size, etag, sizeof(etag));
			if (!i)
				memcpy(first, etag, sizeof(first));
			hit = !strcasecmp(etag, oi.etag);
		}
		if (hit) {
			snprintf(hex, sizeof(hex), "multipart-etag(%u parts)", nparts);
			add_how(o, hex);
		} else if (ours && !o->how[0]) {
			/* the layout snapfs cuts gives the part count the ETag names: the bytes differ */
			mismatch(o, "multipart ETag (snapfs's part sizes)", oi.etag, first);
		} else if (!o->how[0]) {
			snprintf(o->detail, sizeof(o->detail), "no checksum to compare (a multipart ETag of %u "
				 "parts of unknown sizes; --part-size names the mount's)", nparts);
		}
	}
	if (o->res == VR_OK && !o->how[0]) {
		o->res = VR_NOSUM;
		if (!o->detail[0])
			snprintf(o->detail, sizeof(o->detail), "no checksum to compare");
	}
	/* a mismatch on an object replaced while it was read is no damage */
	if (o->res == VR_BAD && !st->ops->stat(&st->b, key, &again) &&
	    (again.size != oi.size || strcmp(again.etag, oi.etag) || again.mtime != oi.mtime)) {
		o->res = VR_ERR;
		snprintf(o->detail, sizeof(o->detail), "the object changed while being read: verify again");
	}
	goto out;
nomem:
	rc = -ENOMEM;
	snprintf(o->detail, sizeof(o->detail), "out of memory");
out:
	sums_free(&s);
	return rc == -ENOMEM ? rc : 0;
}
