/* GCS whole-object puts: a small object in one multipart/related request with its CRC32C and SHA-256
 * in the metadata part, a bigger one as a session with one final request straight from the cache. */
#include "backends/gcs/gcs_priv.h"
#include "backends/gcs/crc32c.h"
#include "common/encode.h"
#include "common/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

/* A small object in one multipart/related request: a JSON part with its metadata (name, CRC32C, the
 * SHA-256) and the bytes, built in one buffer (at most GCS_INLINE_MAX). */
static int put_inline(struct gcs *g, const char *key, int fd, off_t fd_off, uint64_t len, const char *sha256)
{
	static const char meta_hdr[] = "Content-Type: application/json; charset=UTF-8\r\n\r\n";
	static const char media_hdr[] = "Content-Type: application/octet-stream\r\n\r\n";
	struct http_resp resp = HTTP_RESP_INIT;
	struct http_req req;
	const char *hdrs[] = { NULL, NULL };
	char bnd[48], ctype[96], crcb[9], gen[32], metagen[32], *meta = NULL, *url = NULL, *head = NULL;
	unsigned char *buf = NULL, rnd[16];
	size_t room, hlen, tlen, done = 0;
	uint32_t crc;
	json_t *j;
	int rc = -ENOMEM;

	/* the JSON part is at most the key escaped (6 bytes a byte), the SHA-256 and a few names */
	room = 512 + 6 * strlen(key) + 2 * sizeof(bnd);
	buf = malloc(room + len + sizeof(bnd) + 16);
	if (!buf)
		goto out;
	while (done < len) {
		ssize_t got = pread(fd, buf + room + done, (size_t)(len - done), fd_off + (off_t)done);

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			rc = got < 0 ? -errno : -EIO;
			log_error("gcs: put %s: reading the cache: %s", key, strerror(-rc));
			goto out;
		}
		done += (size_t)got;
	}
	crc = crc32c_update(0, buf + room, (size_t)len);
	crc32c_base64(crc, crcb);
	j = json_pack("{s:s, s:s, s:s}", "name", key, "contentType", "application/octet-stream", "crc32c", crcb);
	if (!gcs_add_sha(j, sha256))
		meta = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (!meta)
		goto out;
	/* a boundary that occurs in neither part */
	for (unsigned n = 0;; n++) {
		if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd)) {
			memset(rnd, 0x5a, sizeof(rnd));
			memcpy(rnd, &n, sizeof(n));
		}
		memcpy(bnd, "snapfs_", 7);
		enc_hex(rnd, sizeof(rnd), bnd + 7);
		if (!strstr(meta, bnd) && !memmem(buf + room, (size_t)len, bnd, strlen(bnd)))
			break;
	}
	if (asprintf(&head, "--%s\r\n%s%s\r\n--%s\r\n%s", bnd, meta_hdr, meta, bnd, media_hdr) < 0) {
		head = NULL;
		goto out;
	}
	hlen = strlen(head);
	if (hlen > room) {
		rc = -ENAMETOOLONG;
		goto out;
	}
	memcpy(buf + room - hlen, head, hlen);
	tlen = (size_t)snprintf((char *)buf + room + len, sizeof(bnd) + 16, "\r\n--%s--\r\n", bnd);
	snprintf(ctype, sizeof(ctype), "Content-Type: multipart/related; boundary=%s", bnd);
	hdrs[0] = ctype;
	if (asprintf(&url, "%s/upload/storage/v1/b/%s/o?uploadType=multipart%s", g->api, g->bucket_enc,
		     gcs_create_only_q(g, key)) < 0) {
		url = NULL;
		goto out;
	}
	gcs_req_init(&req, "POST", url, hdrs);
	req.body = buf + room - hlen;
	req.body_len = hlen + (size_t)len + tlen;
	rc = gcs_do(g, &req, &resp);
	if (rc)
		goto out;
	if (resp.status == 200 || resp.status == 201) {
		rc = gcs_check_made(key, &resp, len, crc, gen, metagen);
		if (rc == -EBADMSG && gen[0])
			gcs_unmake(g, key, gen);
	} else if (gcs_hash_refused(&resp)) {
		char *m = gcs_err_msg(&resp);

		log_warn("gcs: put %s: the store refused the bytes for their checksum (%s)", key, m ? m : "?");
		free(m);
		rc = -EBADMSG;
	} else {
		rc = gcs_fail("put", key, &resp);
		if (rc == -EEXIST && *gcs_create_only_q(g, key)) {
			struct obj_info oi;
			uint32_t have;

			/* an attempt whose reply was lost may have made it: then the object is ours */
			if (sha256 && !gcs_get_meta(g, key, &oi, NULL, &have) && oi.size == len && have == crc &&
			    !strcmp(oi.sha256, sha256))
				rc = 0;
		}
	}
out:
	http_resp_free(&resp);
	free(url);
	free(head);
	free(meta);
	free(buf);
	return rc;
}

/* A whole object too big to hold in memory: a session whose metadata carries the SHA-256 from the
 * start, and one final request straight from the cache with the CRC32C. */
static int put_session(struct gcs *g, const char *key, int fd, off_t fd_off, uint64_t len, const char *sha256)
{
	struct upload *up = gcs_upload_new(g, key, 0);
	struct gcs_span s = { fd, fd_off, NULL, 0, len };
	int rc = -ENOMEM;

	if (!up || !(up->target = strdup(key)))
		goto out;
	rc = crc32c_fd(&up->crc, fd, fd_off, len);
	if (rc) {
		log_error("gcs: put %s: reading the cache: %s", key, strerror(-rc));
		goto out;
	}
	rc = gcs_session_open(up, sha256);
	if (!rc)
		rc = gcs_session_finalize(up, &s);
out:
	if (up)
		gcs_upload_free(up);
	return rc;
}

/* A bad checksum here means bytes changed on the way; the cache still has them all, so send again. */
int gcs_put(struct backend *b, const char *key, int fd, off_t fd_off, uint64_t len, const char *sha256)
{
	struct gcs *g = b->priv;
	int rc;

	for (int tries = 0;; tries++) {
		if (len <= GCS_INLINE_MAX)
			rc = put_inline(g, key, fd, fd_off, len, sha256);
		else
			rc = put_session(g, key, fd, fd_off, len, sha256);
		if (rc != -EBADMSG || tries >= g->retries)
			break;
		log_warn("gcs: put %s: sending it again", key);
	}
	return rc == -EBADMSG ? -EIO : rc;
}
