/* AWS Signature Version 4 (header form): canonical request, string to sign, signing key and the
 * Authorization header, for S3 and S3-compatible stores. */
#ifndef SNAPFS_SIGV4_H
#define SNAPFS_SIGV4_H

#include "common/buf.h"

#include <stddef.h>
#include <time.h>

struct curl_slist;
struct http_req;

#define SIGV4_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define SIGV4_UNSIGNED "UNSIGNED-PAYLOAD"

struct sigv4_cred {
	const char *access_key;
	const char *secret_key;
	const char *session_token;   /* AWS_SESSION_TOKEN for temporary credentials, or NULL */
	const char *region;
	const char *service;         /* "s3" */
};

/* A request as it goes on the wire. */
struct sigv4_req {
	const char *method;
	const char *path;            /* percent-encoded once, exactly as sent: "/bucket/a%20b" */
	const char *query;           /* as sent, without the '?'; NULL or "" for none */
	const char *const *headers;  /* "Name: value", NULL-terminated: every header to sign, host and
				      * x-amz-date included; names in any case, duplicates allowed */
	const char *payload_hash;    /* lowercase hex SHA-256 of the body, or SIGV4_UNSIGNED */
	const char *amz_date;        /* "20150830T123600Z" (its first 8 characters date the scope) */
};

/* The canonical request; signed_headers gets "host;x-amz-date;...". 0 or -ENOMEM/-EINVAL. */
int sigv4_canonical_request(const struct sigv4_req *r, struct buf *out, struct buf *signed_headers);
/* "AWS4-HMAC-SHA256\n<date>\n<scope>\n<hex sha256 of the canonical request>" */
int sigv4_string_to_sign(const struct sigv4_cred *c, const struct sigv4_req *r, struct buf *out);
/* kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date8), region), service), "aws4_request") */
void sigv4_signing_key(const char *secret, const char *date8, const char *region, const char *service,
		       unsigned char key[32]);
/* The complete Authorization header value, malloc'd into *out. */
int sigv4_authorization(const struct sigv4_cred *c, const struct sigv4_req *r, char **out);
/* t as "YYYYMMDDTHHMMSSZ" (UTC) */
void sigv4_amz_date(time_t t, char out[17]);

/* Sign an HTTP request for the HTTP layer's sign callback: appends Host, x-amz-date,
 * x-amz-content-sha256, x-amz-security-token (with a session token) and Authorization to *hdrs,
 * signing these and every non-empty header of req->headers. payload_hash as in sigv4_req. */
int sigv4_sign_http(const struct sigv4_cred *c, const struct http_req *req, const char *payload_hash,
		    time_t now, struct curl_slist **hdrs);

#endif
