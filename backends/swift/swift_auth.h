/* OpenStack Swift authentication: TempAuth v1 (ST_AUTH, ST_USER, ST_KEY), Keystone v2 and v3 password
 * auth (OS_AUTH_URL, OS_USERNAME, OS_PASSWORD, tenant/project and domains, OS_REGION_NAME), or a ready
 * OS_STORAGE_URL + OS_AUTH_TOKEN. The result is a token and the account's storage URL, cached and
 * renewed before it expires or when a request met 401. Passwords, keys and tokens are never logged. */
#ifndef SNAPFS_SWIFT_AUTH_H
#define SNAPFS_SWIFT_AUTH_H

#include <stddef.h>
#include <time.h>

struct http;
struct secret;

enum sw_auth_kind { SW_AUTH_TOKEN, SW_AUTH_V1, SW_AUTH_V2, SW_AUTH_V3 };

struct sw_auth;   /* thread-safe */

/* Read the credentials (secret dir, then environment). region overrides OS_REGION_NAME and
 * storage_url (--endpoint) overrides the catalog. Nothing is sent yet. On error -EINVAL and *why
 * names the missing key. */
int sw_auth_new(struct sw_auth **out, struct http *h, const struct secret *s, const char *region,
		   const char *storage_url, char **why);
void sw_auth_free(struct sw_auth *a);
enum sw_auth_kind sw_auth_kind(const struct sw_auth *a);
/* "user test:tester at http://..." for messages: names the user and URL, never a secret */
const char *sw_auth_who(const struct sw_auth *a);

/* A valid token and the storage URL (both malloc'd). Authenticates when there is none yet or it
 * expires within a margin. why (may be NULL) gets a one-line reason on failure: -EACCES bad
 * credentials, -ENOENT no object-store endpoint in the region, -EHOSTUNREACH/-ECONNREFUSED/-ETIMEDOUT
 * auth URL unreachable, -EIO malformed reply. */
int sw_auth_get(struct sw_auth *a, char **token, char **storage_url, char **why);
/* A request carrying token met 401: forget it so the next sw_auth_get authenticates again (a
 * token that was already replaced is left alone). Returns 0 if a new one can be had, -EACCES when
 * the token was given ready-made and there are no credentials to renew it with. */
int sw_auth_invalidate(struct sw_auth *a, const char *token);

/* Reply parsers, exposed for the unit tests. region NULL or "": the first endpoint of the wanted
 * interface ("public", "internal", "admin"). On error -EIO (malformed) or -ENOENT (no object-store
 * endpoint there) and *why says which. */
int sw_parse_v2(const char *body, size_t len, const char *region, const char *iface, char **token,
		   char **url, time_t *expires, char **why);
int sw_parse_v3(const char *body, size_t len, const char *region, const char *iface, char **url,
		   time_t *expires, char **why);
/* "2015-11-06T15:32:17.893769Z", "2015-11-06T15:32:17Z", "...+00:00" -> UTC seconds; 0 if malformed */
time_t sw_parse_time(const char *s);

#endif
