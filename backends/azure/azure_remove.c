/* Deleting blobs: Blob Batch (256 Delete Blob sub-requests per POST), or Delete Blob one by one, in
 * parallel, on a service that refuses batches. */
#include "backends/azure/azure_priv.h"
#include "backends/azure/azure_sign.h"
#include "common/buf.h"
#include "common/crypto.h"
#include "common/encode.h"
#include "common/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

static int del_one(struct az *az, const char *rel)
{
	const char *hdrs[] = { AZ_VER_HDR, "x-ms-delete-snapshots: include", NULL };
	struct http_resp resp = HTTP_RESP_INIT;
	struct http_req req;
	char *key = az_key(az, rel), *url = NULL;
	int rc = -ENOMEM;

	if (!key || !(url = az_blob_url(az, key, NULL)))
		goto out;
	az_req_init(az, &req, "DELETE", url, hdrs);
	rc = http_do(az->http, &req, &resp);
	if (!rc && resp.status != 202 && resp.status != 200 && resp.status != 404)
		rc = az_fail("delete", key, &resp);
out:
	free(key);
	free(url);
	http_resp_free(&resp);
	return rc;
}

struct del_job {
	struct az *az;
	const char *const *keys;
	size_t n;
	size_t next;
	int rc;
	pthread_mutex_t lock;
};

static void *del_worker(void *arg)
{
	struct del_job *j = arg;

	for (;;) {
		size_t i;
		int rc;

		pthread_mutex_lock(&j->lock);
		i = j->next++;
		pthread_mutex_unlock(&j->lock);
		if (i >= j->n)
			break;
		rc = del_one(j->az, j->keys[i]);
		if (rc) {
			pthread_mutex_lock(&j->lock);
			if (!j->rc)
				j->rc = rc;
			pthread_mutex_unlock(&j->lock);
		}
	}
	return NULL;
}

/* Delete Blob per key, several at once: the fallback where Blob Batch is refused. */
static int del_parallel(struct az *az, const char *const *keys, size_t n)
{
	struct del_job j = { az, keys, n, 0, 0, PTHREAD_MUTEX_INITIALIZER };
	pthread_t th[AZ_DEL_THREADS];
	size_t nt = n < AZ_DEL_THREADS ? n : AZ_DEL_THREADS, started = 0;

	if (n <= 1)
		return n ? del_one(az, keys[0]) : 0;
	for (; started < nt; started++)
		if (pthread_create(&th[started], NULL, del_worker, &j))
			break;
	if (!started)
		del_worker(&j);
	for (size_t i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	pthread_mutex_destroy(&j.lock);
	return j.rc;
}

/* One signed DELETE sub-request of a batch. */
static int batch_part(struct az *az, struct buf *body, const char *boundary, size_t id, const char *key,
		      const char *date)
{
	const char *hdrs[] = { date, "x-ms-delete-snapshots: include", "Content-Length: 0", NULL };
	struct az_sig_in in = { "DELETE", az->account, NULL, hdrs, -1 };
	char *url = az_blob_url(az, key, NULL), *sts = NULL, *sig = NULL;
	const char *path;
	int rc = -ENOMEM;

	if (!url)
		goto out;
	in.url = url;
	path = strchr(strstr(url, "://") + 3, '/');
	sts = az_string_to_sign(&in);
	if (!sts || !(sig = az_signature(az->key, az->klen, sts)))
		goto out;
	rc = buf_addf(body, "--%s\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n"
		      "Content-ID: %zu\r\n\r\nDELETE %s HTTP/1.1\r\n%s\r\nx-ms-delete-snapshots: include\r\n"
		      "Authorization: SharedKey %s:%s\r\nContent-Length: 0\r\n\r\n",
		      boundary, id, path, date, az->account, sig);
out:
	free(url);
	free(sts);
	free(sig);
	return rc;
}

/* The sub-responses: one "HTTP/1.1 NNN" line per key, each 202 or 404. Returns 0, -errno of the first
 * failed delete, or -EIO for a reply that does not account for every key. */
static int batch_statuses(const struct http_resp *resp, size_t n)
{
	const char *p = resp->body.data;
	size_t seen = 0;
	int rc = 0;

	for (; p && (p = strstr(p, "HTTP/1.1 ")); p += 9) {
		long st = strtol(p + 9, NULL, 10);

		if (p != resp->body.data && p[-1] != '\n')
			continue;
		seen++;
		if (st != 202 && st != 200 && st != 404 && !rc)
			rc = http_errno(st) ? http_errno(st) : -EIO;
	}
	if (!rc && seen != n)
		rc = -EIO;
	return rc;
}

/* Blob Batch: up to 256 Delete Blob sub-requests in one POST. Returns 1 when the service refuses batches
 * (the caller deletes one by one), else 0 or -errno. */
static int del_batch(struct az *az, const char *const *keys, size_t n)
{
	char boundary[48], ctype[96], date[64], *url = NULL, *code = NULL;
	const char *hdrs[] = { AZ_VER_HDR, ctype, NULL };
	struct http_resp resp = HTTP_RESP_INIT;
	struct buf body = BUF_INIT;
	struct http_req req;
	unsigned char rnd[8];
	char hex[17];
	int rc = -ENOMEM;

	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
		return 1;
	enc_hex(rnd, sizeof(rnd), hex);
	snprintf(boundary, sizeof(boundary), "batch_snapfs_%s", hex);
	snprintf(ctype, sizeof(ctype), "Content-Type: multipart/mixed; boundary=%s", boundary);
	az_date_header(date, sizeof(date));
	for (size_t i = 0; i < n; i++) {
		char *k = az_key(az, keys[i]);

		rc = k ? batch_part(az, &body, boundary, i, k, date) : -ENOMEM;
		free(k);
		if (rc)
			goto out;
	}
	rc = buf_addf(&body, "--%s--\r\n", boundary);
	if (rc || asprintf(&url, "%s/%s?restype=container&comp=batch", az->base, az->container) < 0) {
		url = NULL;
		rc = -ENOMEM;
		goto out;
	}
	az_req_init(az, &req, "POST", url, hdrs);
	req.body = body.data;
	req.body_len = body.len;
	rc = http_do(az->http, &req, &resp);
	if (rc)
		goto out;
	if (resp.status == 202) {
		rc = batch_statuses(&resp, n);
		if (rc)
			log_warn("azure: batch delete of %zu blobs: %s", n, strerror(-rc));
		goto out;
	}
	code = az_err_code(&resp);
	if (resp.status == 401 || resp.status == 403) {
		rc = az_fail("batch delete in", az->container, &resp);
		goto out;
	}
	log_debug("azure: Blob Batch refused (HTTP %ld %s): deleting one by one", resp.status, code);
	rc = 1;
out:
	free(code);
	free(url);
	buf_free(&body);
	http_resp_free(&resp);
	return rc;
}

/* Blob Batch in chunks of 256 (Delete Blob one by one, in parallel, where batches are refused). */
int az_remove(struct backend *b, const char *const *keys, size_t n)
{
	struct az *az = b->priv;
	int rc = 0;

	if (n == 1)
		return del_one(az, keys[0]);
	for (size_t i = 0; i < n && !rc; i += AZ_BATCH_MAX) {
		size_t m = n - i < AZ_BATCH_MAX ? n - i : AZ_BATCH_MAX;

		if (!atomic_load(&az->no_batch)) {
			rc = del_batch(az, keys + i, m);
			if (rc != 1)
				continue;
			atomic_store(&az->no_batch, 1);
		}
		rc = del_parallel(az, keys + i, m);
	}
	return rc;
}
