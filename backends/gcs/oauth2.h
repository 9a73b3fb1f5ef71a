/* OAuth2 for a Google service account: the JSON key, the RS256-signed JWT assertion, and a cached
 * access token that is refreshed before it expires (RFC 7523 jwt-bearer grant at the key's token_uri).
 * The private key and the access token are never logged; the key id and client email may be. */
#ifndef SNAPFS_OAUTH2_H
#define SNAPFS_OAUTH2_H

#include <time.h>

struct http;
typedef struct evp_pkey_st EVP_PKEY;

struct oauth2_key {
	char *client_email;
	char *private_key_id;   /* "" when the key file has none */
	char *token_uri;
	EVP_PKEY *pkey;         /* RSA */
};

/* Parse a service-account JSON key. On error returns -EINVAL and sets *why to a one-line reason
 * that never quotes the key material. */
int oauth2_key_parse(const char *json, struct oauth2_key *out, char **why);
void oauth2_key_free(struct oauth2_key *k);

/* The signed assertion "header.claims.signature" for scope, issued at now, valid for an hour. */
int oauth2_jwt(const struct oauth2_key *k, const char *scope, time_t now, char **out);

/* Parse a token endpoint reply (status and body). 200: *token and *ttl_s set. Otherwise -EACCES
 * (refused, *why says why, quoting Google's error code and description) or -EIO (malformed). */
int oauth2_parse_token_reply(long status, const char *body, char **token, long *ttl_s, char **why);

struct oauth2;   /* a token cache; thread-safe */

/* Takes ownership of *key (its fields are moved out and *key is left empty). */
int oauth2_new(struct oauth2 **out, struct oauth2_key *key, const char *scope, struct http *h);
void oauth2_free(struct oauth2 *o);

/* A valid access token (malloc'd). Refreshes when less than 5 minutes (or half the token's lifetime,
 * whichever is less) is left; only one
 * thread refreshes at a time while the others keep using a token that is still valid. On failure
 * returns -errno and, if why is not NULL, a one-line reason. */
int oauth2_token(struct oauth2 *o, char **token, char **why);

/* The server refused token (401): drop it so the next oauth2_token() fetches a new one. A token
 * that was already replaced is ignored, so many threads seeing the same 401 cause one refresh. */
void oauth2_invalidate(struct oauth2 *o, const char *token);

const struct oauth2_key *oauth2_get_key(const struct oauth2 *o);

#endif
