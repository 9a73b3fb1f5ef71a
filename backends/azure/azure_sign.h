/* Azure Storage SharedKey signing (Blob service, version 2009-09-19 and later). Pure functions, no I/O,
 * so the unit tests can check them against the documented strings-to-sign. */
#ifndef SNAPFS_AZURE_SIGN_H
#define SNAPFS_AZURE_SIGN_H

#include <stddef.h>
#include <stdint.h>

struct az_sig_in {
	const char *method;          /* "GET", "PUT", ... */
	const char *account;         /* storage account name */
	const char *url;             /* complete, percent-encoded URL as sent */
	const char *const *headers;  /* "Name: value" strings as sent (x-ms-date and x-ms-version among
				      * them), NULL-terminated; may be NULL */
	int64_t content_length;      /* body length; -1 when the request has no body at all */
};

/* The string-to-sign: verb, the fixed standard header list, canonicalized x-ms- headers, canonicalized
 * resource ("/" account path, then sorted "\nname:v1,v2" query parameters). Malloc'd; NULL on ENOMEM
 * or a URL without a path. */
char *az_string_to_sign(const struct az_sig_in *in);

/* base64(HMAC-SHA256(key, sts)) with the already base64-decoded account key. Malloc'd or NULL. */
char *az_signature(const unsigned char *key, size_t klen, const char *sts);

/* The canonicalized resource alone (exposed for tests). Malloc'd or NULL. */
char *az_canon_resource(const char *account, const char *url);

#endif
