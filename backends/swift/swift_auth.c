/* Swift authentication (swift_auth.h): the credentials, TempAuth v1 and Keystone requests, and the
 * cached token renewed before it expires or after a 401; the replies are read in swift_auth_reply.c. */
#include "backends/swift/swift_auth.h"
#include "common/buf.h"
#include "backends/http.h"
#include "backends/secret.h"
#include "common/why.h"
#include "common/log.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define AUTH_DEADLINE_S 60
#define RENEW_MARGIN_S 300

struct sw_auth {
	pthread_mutex_t lock;
	struct http *http;
	enum sw_auth_kind kind;   /* how to renew; SW_AUTH_TOKEN: cannot */
	char *auth_url;
	char *auth_host;             /* scheme://host:port of auth_url, for messages */
	char *user, *key;
	const char *cred_keys;       /* the secret keys to check when auth is refused */
	char *tenant_id, *tenant_name;                  /* v2; v3 project fallbacks */
	char *user_domain_name, *user_domain_id;
	char *project_name, *project_id, *project_domain_name, *project_domain_id;
	char *region, *iface;
	char *fixed_url;             /* OS_STORAGE_URL or --endpoint: wins over the catalog */
	char *token, *url;
	time_t renew_at;             /* 0: never (no expiry known) */
	char who[512];
};

/* ---------- set-up ---------- */

static char *dup_or_null(const char *s)
{
	return s && *s ? strdup(s) : NULL;
}

static void strip_slash(char *s)
{
	size_t n = s ? strlen(s) : 0;

	while (n > 1 && s[n - 1] == '/')
		s[--n] = 0;
}

static int auth_version(const struct secret *s, const char *url)
{
	const char *v = secret_need(s, "OS_IDENTITY_API_VERSION");

	if (!v)
		v = secret_need(s, "OS_AUTH_VERSION");
	if (v)
		return atoi(v);
	if (strstr(url, "/v3"))
		return 3;
	if (strstr(url, "/v2"))
		return 2;
	if (strstr(url, "/v1"))
		return 1;
	if (secret_need(s, "OS_USER_DOMAIN_NAME") || secret_need(s, "OS_USER_DOMAIN_ID") ||
	    secret_need(s, "OS_PROJECT_NAME") || secret_need(s, "OS_PROJECT_DOMAIN_NAME") ||
	    secret_need(s, "OS_PROJECT_ID"))
		return 3;
	return 2;
}

void sw_auth_free(struct sw_auth *a)
{
	if (!a)
		return;
	pthread_mutex_destroy(&a->lock);
	free(a->auth_url);
	free(a->auth_host);
	free(a->user);
	if (a->key)
		memset(a->key, 0, strlen(a->key));
	free(a->key);
	free(a->tenant_id);
	free(a->tenant_name);
	free(a->user_domain_name);
	free(a->user_domain_id);
	free(a->project_name);
	free(a->project_id);
	free(a->project_domain_name);
	free(a->project_domain_id);
	free(a->region);
	free(a->iface);
	free(a->fixed_url);
	if (a->token)
		memset(a->token, 0, strlen(a->token));
	free(a->token);
	free(a->url);
	free(a);
}

int sw_auth_new(struct sw_auth **out, struct http *h, const struct secret *s, const char *region,
		   const char *storage_url, char **why)
{
	const char *st_auth = secret_need(s, "ST_AUTH"), *os_url = secret_need(s, "OS_AUTH_URL");
	const char *tok = secret_need(s, "OS_AUTH_TOKEN"), *surl = secret_need(s, "OS_STORAGE_URL");
	const char *user, *key, *miss = NULL;
	struct sw_auth *a;
	int rc = -ENOMEM;

	*out = NULL;
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	pthread_mutex_init(&a->lock, NULL);
	a->http = h;
	if (storage_url && *storage_url)
		surl = storage_url;
	if (st_auth) {
		a->kind = SW_AUTH_V1;
		a->auth_url = strdup(st_auth);
		user = secret_need(s, "ST_USER");
		key = secret_need(s, "ST_KEY");
		miss = !user ? "ST_USER" : !key ? "ST_KEY" : NULL;
		a->cred_keys = "ST_USER and ST_KEY";
	} else if (os_url) {
		int v = auth_version(s, os_url);

		a->kind = v == 1 ? SW_AUTH_V1 : v == 3 ? SW_AUTH_V3 : SW_AUTH_V2;
		a->auth_url = strdup(os_url);
		user = secret_need(s, "OS_USERNAME");
		key = secret_need(s, "OS_PASSWORD");
		miss = !user ? "OS_USERNAME" : !key ? "OS_PASSWORD" : NULL;
		a->cred_keys = "OS_USERNAME, OS_PASSWORD and the project keys";
		if (!miss && a->kind == SW_AUTH_V2 && !secret_need(s, "OS_TENANT_ID") &&
		    !secret_need(s, "OS_TENANT_NAME"))
			miss = "OS_TENANT_NAME (or OS_TENANT_ID)";
	} else if (tok && surl) {
		a->kind = SW_AUTH_TOKEN;
		user = key = NULL;
	} else {
		why_set(why, "swift: no credentials: put ST_AUTH, ST_USER and ST_KEY (TempAuth), or OS_AUTH_URL, "
			"OS_USERNAME, OS_PASSWORD and the project keys (Keystone), or OS_STORAGE_URL and "
			"OS_AUTH_TOKEN in --secret-dir");
		rc = -EINVAL;
		goto err;
	}
	if (miss) {
		why_set(why, "swift: %s is missing: put it in --secret-dir (or the environment)", miss);
		rc = -EINVAL;
		goto err;
	}
	if (a->kind != SW_AUTH_TOKEN && (!a->auth_url || !(a->user = strdup(user)) || !(a->key = strdup(key))))
		goto err;
	strip_slash(a->auth_url);
	a->tenant_id = dup_or_null(secret_need(s, "OS_TENANT_ID"));
	a->tenant_name = dup_or_null(secret_need(s, "OS_TENANT_NAME"));
	a->user_domain_name = dup_or_null(secret_need(s, "OS_USER_DOMAIN_NAME"));
	a->user_domain_id = dup_or_null(secret_need(s, "OS_USER_DOMAIN_ID"));
	a->project_name = dup_or_null(secret_need(s, "OS_PROJECT_NAME"));
	a->project_id = dup_or_null(secret_need(s, "OS_PROJECT_ID"));
	a->project_domain_name = dup_or_null(secret_need(s, "OS_PROJECT_DOMAIN_NAME"));
	a->project_domain_id = dup_or_null(secret_need(s, "OS_PROJECT_DOMAIN_ID"));
	a->region = dup_or_null(region && *region ? region : secret_need(s, "OS_REGION_NAME"));
	a->iface = dup_or_null(secret_need(s, "OS_INTERFACE"));
	if (!a->iface)
		a->iface = dup_or_null(secret_need(s, "OS_ENDPOINT_TYPE"));
	if (a->iface) {
		/* v2 style "publicURL" names the same thing as v3's "public" */
		char *u = strstr(a->iface, "URL");

		if (u)
			*u = 0;
	}
	a->fixed_url = dup_or_null(surl);
	strip_slash(a->fixed_url);
	if (tok && surl) {
		/* a ready token is used first; credentials, when there are some, renew it */
		a->token = strdup(tok);
		a->url = strdup(a->fixed_url);
		if (!a->token || !a->url)
			goto err;
	}
	if (a->kind != SW_AUTH_TOKEN) {
		const char *hp = strstr(a->auth_url, "://"), *e;

		hp = hp ? hp + 3 : a->auth_url;
		e = hp + strcspn(hp, "/?");
		if (asprintf(&a->auth_host, "%.*s", (int)(e - a->auth_url), a->auth_url) < 0) {
			a->auth_host = NULL;
			goto err;
		}
	}
	if (a->kind == SW_AUTH_TOKEN)
		snprintf(a->who, sizeof(a->who), "the OS_AUTH_TOKEN");
	else
		snprintf(a->who, sizeof(a->who), "user %s (%s at %s)", a->user,
			 a->kind == SW_AUTH_V1 ? "TempAuth" : a->kind == SW_AUTH_V2 ? "Keystone v2" :
			 "Keystone v3", a->auth_host);
	*out = a;
	return 0;
err:
	if (rc == -ENOMEM && why && !*why)
		why_set(why, "swift: out of memory");
	sw_auth_free(a);
	return rc;
}

enum sw_auth_kind sw_auth_kind(const struct sw_auth *a)
{
	return a->kind;
}

const char *sw_auth_who(const struct sw_auth *a)
{
	return a->who;
}

/* ---------- authenticating ---------- */

/* A transport failure or an unexpected status, as one line. */
static int auth_fail(struct sw_auth *a, int rc, const struct http_resp *resp, char **why)
{
	if (rc) {
		why_set(why, "cannot reach the auth URL at %s: %s", a->auth_host,
			resp->error[0] ? resp->error : strerror(-rc));
		return rc;
	}
	if (resp->status == 401 || resp->status == 403) {
		why_set(why, "authentication failed for %s: HTTP %ld, check %s", a->who, resp->status,
			a->cred_keys);
		return -EACCES;
	}
	if (resp->status == 404) {
		why_set(why, "the auth URL at %s answered 404: check its path and the auth version", a->auth_host);
		return -EINVAL;
	}
	why_set(why, "the auth URL at %s answered HTTP %ld", a->auth_host, resp->status);
	return http_errno(resp->status) ? http_errno(resp->status) : -EIO;
}

static void req_init(struct http_req *r, const char *method, const char *url, const char *const *hdrs)
{
	memset(r, 0, sizeof(*r));
	r->method = method;
	r->url = url;
	r->headers = hdrs;
	r->body_fd = -1;
	r->deadline_s = AUTH_DEADLINE_S;
}

static int auth_v1(struct sw_auth *a, char **token, char **url, time_t *expires, char **why)
{
	struct http_resp resp = HTTP_RESP_INIT;
	struct http_req req;
	char *hu = NULL, *hk = NULL, *exp = NULL;
	const char *hdrs[3];
	int rc = -ENOMEM;

	if (asprintf(&hu, "X-Auth-User: %s", a->user) < 0 || asprintf(&hk, "X-Auth-Key: %s", a->key) < 0)
		goto out;
	hdrs[0] = hu;
	hdrs[1] = hk;
	hdrs[2] = NULL;
	req_init(&req, "GET", a->auth_url, hdrs);
	rc = http_do(a->http, &req, &resp);
	if (rc || resp.status / 100 != 2) {
		rc = auth_fail(a, rc, &resp, why);
		goto out;
	}
	*token = http_header(&resp, "X-Auth-Token");
	if (!*token)
		*token = http_header(&resp, "X-Storage-Token");
	*url = http_header(&resp, "X-Storage-Url");
	if (!*token || !*url || !**token || !**url) {
		why_set(why, "the auth reply from %s has no X-Auth-Token or X-Storage-Url", a->auth_host);
		rc = -EIO;
		goto out;
	}
	exp = http_header(&resp, "X-Auth-Token-Expires");
	*expires = exp ? time(NULL) + strtol(exp, NULL, 10) : 0;
out:
	if (hk) {
		memset(hk, 0, strlen(hk));
		free(hk);
	}
	free(hu);
	free(exp);
	http_resp_free(&resp);
	return rc;
}

/* {"name": n} or {"id": i}, for domains and projects */
static json_t *name_or_id(const char *name, const char *id)
{
	if (id)
		return json_pack("{s:s}", "id", id);
	return json_pack("{s:s}", "name", name);
}

static char *v3_body(struct sw_auth *a)
{
	json_t *user, *root, *scope = NULL;
	const char *pname = a->project_name ? a->project_name : a->tenant_name;
	const char *pid = a->project_id ? a->project_id : a->tenant_id;
	char *s;

	/* Keystone's built-in domain has the id "default": the usual case when no domain is named */
	user = json_pack("{s:s, s:o, s:s}", "name", a->user, "domain",
			 name_or_id(a->user_domain_name, a->user_domain_name || a->user_domain_id ?
				    a->user_domain_id : "default"),
			 "password", a->key);
	if (pid) {
		scope = json_pack("{s:{s:s}}", "project", "id", pid);
	} else if (pname) {
		const char *dn = a->project_domain_name, *di = a->project_domain_id;

		if (!dn && !di) {
			dn = a->user_domain_name;
			di = a->user_domain_id;
		}
		scope = json_pack("{s:{s:s, s:o}}", "project", "name", pname, "domain",
				  name_or_id(dn, dn || di ? di : "default"));
	}
	root = json_pack("{s:{s:{s:[s], s:{s:o}}}}", "auth", "identity", "methods", "password", "password",
			 "user", user);
	if (!root)
		return NULL;
	if (scope)
		json_object_set_new(json_object_get(root, "auth"), "scope", scope);
	s = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	return s;
}

static char *v2_body(struct sw_auth *a)
{
	json_t *root = json_pack("{s:{s:{s:s, s:s}}}", "auth", "passwordCredentials", "username", a->user,
				 "password", a->key);
	char *s;

	if (!root)
		return NULL;
	if (a->tenant_id)
		json_object_set_new(json_object_get(root, "auth"), "tenantId", json_string(a->tenant_id));
	else if (a->tenant_name)
		json_object_set_new(json_object_get(root, "auth"), "tenantName", json_string(a->tenant_name));
	s = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	return s;
}

/* v2: POST {auth_url}/tokens (/v2.0 added when the URL has no version); v3: POST .../v3/auth/tokens */
static int auth_keystone(struct sw_auth *a, int v3, char **token, char **url, time_t *expires,
			 char **why)
{
	static const char *const hdrs[] = { "Content-Type: application/json", "Accept: application/json", NULL };
	struct http_resp resp = HTTP_RESP_INIT;
	struct http_req req;
	char *body = v3 ? v3_body(a) : v2_body(a), *turl = NULL;
	const char *ver = v3 ? "/v3" : "/v2.0";
	size_t ul = strlen(a->auth_url), vl = strlen(ver);
	int has_ver = ul >= vl && !strcmp(a->auth_url + ul - vl, ver);
	int rc = -ENOMEM;

	if (!body || asprintf(&turl, "%s%s%s", a->auth_url, has_ver ? "" : ver,
			      v3 ? "/auth/tokens" : "/tokens") < 0) {
		turl = NULL;
		goto out;
	}
	req_init(&req, "POST", turl, hdrs);
	req.body = body;
	req.body_len = strlen(body);
	rc = http_do(a->http, &req, &resp);
	if (rc || resp.status / 100 != 2) {
		rc = auth_fail(a, rc, &resp, why);
		goto out;
	}
	if (v3) {
		*token = http_header(&resp, "X-Subject-Token");
		if (!*token || !**token) {
			why_set(why, "the Keystone v3 reply from %s has no X-Subject-Token", a->auth_host);
			rc = -EIO;
			goto out;
		}
		rc = sw_parse_v3(resp.body.data, resp.body.len, a->region, a->iface, url, expires, why);
	} else {
		rc = sw_parse_v2(resp.body.data, resp.body.len, a->region, a->iface, token, url, expires,
				    why);
	}
out:
	if (body) {
		memset(body, 0, strlen(body));
		free(body);
	}
	free(turl);
	http_resp_free(&resp);
	return rc;
}

static int authenticate(struct sw_auth *a, char **why)
{
	char *token = NULL, *url = NULL, *err = NULL;
	time_t expires = 0, now = time(NULL);
	int rc;

	if (a->kind == SW_AUTH_V1)
		rc = auth_v1(a, &token, &url, &expires, &err);
	else
		rc = auth_keystone(a, a->kind == SW_AUTH_V3, &token, &url, &expires, &err);
	if (rc) {
		why_set(why, "swift: %s", err ? err : strerror(-rc));
		log_debug("swift: authentication as %s failed: %s", a->who, err ? err : strerror(-rc));
		goto out;
	}
	if (a->fixed_url) {
		free(url);
		url = strdup(a->fixed_url);
		if (!url) {
			rc = -ENOMEM;
			goto out;
		}
	}
	strip_slash(url);
	if (a->token)
		memset(a->token, 0, strlen(a->token));
	free(a->token);
	free(a->url);
	a->token = token;
	a->url = url;
	token = url = NULL;
	a->renew_at = 0;
	if (expires > now) {
		time_t life = expires - now, margin = life / 4 < RENEW_MARGIN_S ? life / 4 : RENEW_MARGIN_S;

		a->renew_at = expires - margin;
	} else if (expires) {
		a->renew_at = now;   /* already expired by our clock: use it once, renew next time */
	}
	log_info("swift: authenticated as %s; storage URL %s%s", a->who, a->url,
		 a->renew_at ? "" : " (no expiry given)");
out:
	free(err);
	free(token);
	free(url);
	return rc;
}

int sw_auth_get(struct sw_auth *a, char **token, char **storage_url, char **why)
{
	int rc = 0;

	*token = *storage_url = NULL;
	pthread_mutex_lock(&a->lock);
	if (!a->token || (a->renew_at && time(NULL) >= a->renew_at && a->kind != SW_AUTH_TOKEN)) {
		if (a->kind == SW_AUTH_TOKEN) {
			why_set(why, "swift: the OS_AUTH_TOKEN was refused and there are no credentials to renew it");
			rc = -EACCES;
			goto out;
		}
		rc = authenticate(a, why);
		if (rc)
			goto out;
	}
	*token = strdup(a->token);
	*storage_url = strdup(a->url);
	if (!*token || !*storage_url) {
		free(*token);
		free(*storage_url);
		*token = *storage_url = NULL;
		rc = -ENOMEM;
	}
out:
	pthread_mutex_unlock(&a->lock);
	return rc;
}

int sw_auth_invalidate(struct sw_auth *a, const char *token)
{
	int rc = 0;

	pthread_mutex_lock(&a->lock);
	if (a->token && token && !strcmp(a->token, token)) {
		if (a->kind == SW_AUTH_TOKEN) {
			rc = -EACCES;
		} else {
			memset(a->token, 0, strlen(a->token));
			free(a->token);
			a->token = NULL;
		}
	}
	pthread_mutex_unlock(&a->lock);
	return rc;
}
