#include "backends/gcs/oauth2.h"
#include "common/crypto.h"
#include "common/encode.h"
#include "backends/http.h"
#include "common/why.h"
#include "common/log.h"

#include <errno.h>
#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY_NAME "GOOGLE_SERVICE_ACCOUNT_JSON_KEY"
#define DEFAULT_TOKEN_URI "https://oauth2.googleapis.com/token"
#define JWT_LIFETIME 3600
#define REFRESH_MARGIN 300

static int get_str(json_t *root, const char *name, int required, char **out, char **why)
{
	json_t *v = json_object_get(root, name);

	*out = NULL;
	if (!v || json_is_null(v)) {
		if (required)
			return why_fail(why, -EINVAL, KEY_NAME ": the key file has no \"%s\"", name);
		return 0;
	}
	if (!json_is_string(v) || (required && !json_string_length(v)))
		return why_fail(why, -EINVAL, KEY_NAME ": \"%s\" is not a non-empty string", name);
	*out = strdup(json_string_value(v));
	return *out ? 0 : -ENOMEM;
}

static EVP_PKEY *load_pem(const char *pem)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *k;

	if (!bio)
		return NULL;
	k = PEM_read_bio_PrivateKey(bio, NULL, NULL, (void *)"");
	BIO_free(bio);
	return k;
}

int oauth2_key_parse(const char *json, struct oauth2_key *out, char **why)
{
	json_error_t err;
	json_t *root, *type;
	char *pem = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	/* the parser's message quotes the input near the error: report the position only */
	root = json_loads(json, JSON_REJECT_DUPLICATES, &err);
	if (!root)
		return why_fail(why, -EINVAL, KEY_NAME " is not valid JSON (line %d, column %d); expected the "
				"service-account key file from the Google Cloud console", err.line, err.column);
	if (!json_is_object(root)) {
		rc = why_fail(why, -EINVAL, KEY_NAME " is not a JSON object; expected a service-account key "
			      "file");
		goto out;
	}
	type = json_object_get(root, "type");
	if (type && (!json_is_string(type) || strcmp(json_string_value(type), "service_account"))) {
		rc = why_fail(why, -EINVAL, KEY_NAME ": \"type\" is not \"service_account\"; only "
			      "service-account keys are supported");
		goto out;
	}
	if ((rc = get_str(root, "client_email", 1, &out->client_email, why)) ||
	    (rc = get_str(root, "private_key_id", 0, &out->private_key_id, why)) ||
	    (rc = get_str(root, "token_uri", 0, &out->token_uri, why)) ||
	    (rc = get_str(root, "private_key", 1, &pem, why)))
		goto out;
	if (!out->private_key_id && !(out->private_key_id = strdup(""))) {
		rc = -ENOMEM;
		goto out;
	}
	if (!out->token_uri && !(out->token_uri = strdup(DEFAULT_TOKEN_URI))) {
		rc = -ENOMEM;
		goto out;
	}
	if (strncmp(out->token_uri, "https://", 8) && strncmp(out->token_uri, "http://", 7)) {
		rc = why_fail(why, -EINVAL, KEY_NAME ": \"token_uri\" is not an http(s) URL");
		goto out;
	}
	out->pkey = load_pem(pem);
	if (!out->pkey) {
		rc = why_fail(why, -EINVAL, KEY_NAME " (key id %s): \"private_key\" is not a PEM private key",
			      out->private_key_id);
		goto out;
	}
	if (EVP_PKEY_get_base_id(out->pkey) != EVP_PKEY_RSA) {
		rc = why_fail(why, -EINVAL, KEY_NAME " (key id %s): \"private_key\" is not an RSA key (RS256 "
			      "needs one)", out->private_key_id);
		goto out;
	}
	rc = 0;
out:
	if (pem) {
		OPENSSL_cleanse(pem, strlen(pem));
		free(pem);
	}
	json_decref(root);
	if (rc)
		oauth2_key_free(out);
	return rc;
}

void oauth2_key_free(struct oauth2_key *k)
{
	free(k->client_email);
	free(k->private_key_id);
	free(k->token_uri);
	EVP_PKEY_free(k->pkey);
	memset(k, 0, sizeof(*k));
}

static char *json_b64url(json_t *j)
{
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
	char *enc;

	if (!s)
		return NULL;
	enc = enc_b64url(s, strlen(s));
	free(s);
	return enc;
}

int oauth2_jwt(const struct oauth2_key *k, const char *scope, time_t now, char **out)
{
	json_t *hdr = NULL, *claims = NULL;
	char *h64 = NULL, *c64 = NULL, *s64 = NULL, *input = NULL;
	unsigned char *sig = NULL;
	size_t siglen = 0;
	EVP_MD_CTX *md = NULL;
	int rc = -ENOMEM;

	*out = NULL;
	hdr = json_pack("{s:s, s:s}", "alg", "RS256", "typ", "JWT");
	if (hdr && k->private_key_id[0])
		json_object_set_new(hdr, "kid", json_string(k->private_key_id));
	claims = json_pack("{s:s, s:s, s:s, s:I, s:I}", "iss", k->client_email, "scope", scope,
			   "aud", k->token_uri, "iat", (json_int_t)now,
			   "exp", (json_int_t)now + JWT_LIFETIME);
	h64 = json_b64url(hdr);
	c64 = json_b64url(claims);
	if (!h64 || !c64 || asprintf(&input, "%s.%s", h64, c64) < 0) {
		input = NULL;
		goto out;
	}
	md = EVP_MD_CTX_new();
	if (!md)
		goto out;
	rc = -EIO;
	if (EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, k->pkey) != 1 ||
	    EVP_DigestSign(md, NULL, &siglen, (const unsigned char *)input, strlen(input)) != 1)
		goto out;
	rc = -ENOMEM;
	sig = malloc(siglen);
	if (!sig)
		goto out;
	rc = -EIO;
	if (EVP_DigestSign(md, sig, &siglen, (const unsigned char *)input, strlen(input)) != 1)
		goto out;
	rc = -ENOMEM;
	s64 = enc_b64url(sig, siglen);
	if (!s64 || asprintf(out, "%s.%s", input, s64) < 0) {
		*out = NULL;
		goto out;
	}
	rc = 0;
out:
	EVP_MD_CTX_free(md);
	json_decref(hdr);
	json_decref(claims);
	free(h64);
	free(c64);
	free(s64);
	free(input);
	free(sig);
	return rc;
}

int oauth2_parse_token_reply(long status, const char *body, char **token, long *ttl_s, char **why)
{
	json_t *root = json_loads(body ? body : "", 0, NULL);
	json_t *tok, *ttl, *err, *desc;
	int rc;

	*token = NULL;
	if (status != 200) {
		err = root ? json_object_get(root, "error") : NULL;
		desc = root ? json_object_get(root, "error_description") : NULL;
		rc = status == 400 || status == 401 || status == 403 ? -EACCES : -EIO;
		if (json_is_string(err) && json_is_string(desc))
			why_fail(why, rc, "HTTP %ld: %s: %s", status, json_string_value(err),
				 json_string_value(desc));
		else if (json_is_string(err))
			why_fail(why, rc, "HTTP %ld: %s", status, json_string_value(err));
		else
			why_fail(why, rc, "HTTP %ld with no OAuth2 error in the reply", status);
		goto out;
	}
	rc = -EIO;
	tok = root ? json_object_get(root, "access_token") : NULL;
	ttl = root ? json_object_get(root, "expires_in") : NULL;
	if (!json_is_string(tok) || !json_string_length(tok) || !json_is_integer(ttl) ||
	    json_integer_value(ttl) <= 0) {
		why_fail(why, rc, "malformed token reply (no access_token or expires_in)");
		goto out;
	}
	/* the token goes into a header line: refuse anything that could break it */
	for (const char *c = json_string_value(tok); *c; c++) {
		if ((unsigned char)*c <= ' ' || *c == 0x7f) {
			why_fail(why, rc, "malformed token reply (control characters in access_token)");
			goto out;
		}
	}
	*token = strdup(json_string_value(tok));
	if (!*token) {
		rc = -ENOMEM;
		goto out;
	}
	*ttl_s = (long)json_integer_value(ttl);
	rc = 0;
out:
	json_decref(root);
	return rc;
}

struct oauth2 {
	struct oauth2_key key;
	char *scope;
	struct http *http;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	char *token;            /* NULL: none yet or invalidated */
	int64_t fresh_until;    /* monotonic ms: refresh from here on */
	int64_t valid_until;    /* monotonic ms: never use it after this */
	int refreshing;
};

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int oauth2_new(struct oauth2 **out, struct oauth2_key *key, const char *scope, struct http *h)
{
	struct oauth2 *o = calloc(1, sizeof(*o));

	if (!o || !(o->scope = strdup(scope))) {
		free(o);
		return -ENOMEM;
	}
	o->key = *key;
	memset(key, 0, sizeof(*key));
	o->http = h;
	pthread_mutex_init(&o->mu, NULL);
	pthread_cond_init(&o->cv, NULL);
	*out = o;
	return 0;
}

void oauth2_free(struct oauth2 *o)
{
	if (!o)
		return;
	oauth2_key_free(&o->key);
	free(o->scope);
	free(o->token);
	pthread_mutex_destroy(&o->mu);
	pthread_cond_destroy(&o->cv);
	free(o);
}

const struct oauth2_key *oauth2_get_key(const struct oauth2 *o)
{
	return &o->key;
}

/* One jwt-bearer exchange at token_uri; runs without the lock held. */
static int fetch(struct oauth2 *o, char **token, long *ttl, char **why)
{
	static const char *const hdrs[] = { "Content-Type: application/x-www-form-urlencoded",
					     "Accept: application/json", NULL };
	struct http_resp resp = HTTP_RESP_INIT;
	struct http_req req;
	char *jwt = NULL, *body = NULL, *reason = NULL;
	int rc;

	rc = oauth2_jwt(&o->key, o->scope, time(NULL), &jwt);
	if (rc) {
		why_fail(why, rc, "cannot sign the JWT assertion with key id %s", o->key.private_key_id);
		goto out;
	}
	/* the JWT is base64url and dots: nothing to percent-encode */
	if (asprintf(&body, "grant_type=urn%%3Aietf%%3Aparams%%3Aoauth%%3Agrant-type%%3Ajwt-bearer"
		     "&assertion=%s", jwt) < 0) {
		body = NULL;
		rc = -ENOMEM;
		goto out;
	}
	memset(&req, 0, sizeof(req));
	req.method = "POST";
	req.url = o->key.token_uri;
	req.headers = hdrs;
	req.body = body;
	req.body_len = strlen(body);
	req.body_fd = -1;
	rc = http_do(o->http, &req, &resp);
	if (rc) {
		why_fail(why, rc, "token endpoint %s unreachable: %s", o->key.token_uri, strerror(-rc));
		goto out;
	}
	rc = oauth2_parse_token_reply(resp.status, resp.body.data, token, ttl, &reason);
	if (rc)
		why_fail(why, rc, "%s %s for %s (key id %s): %s", rc == -EACCES ? "token refused by" :
			 "no token from", o->key.token_uri, o->key.client_email, o->key.private_key_id,
			 reason ? reason : "?");
	else
		log_debug("oauth2: new access token for %s (key id %s), valid %lds", o->key.client_email,
			  o->key.private_key_id, *ttl);
out:
	http_resp_free(&resp);
	free(reason);
	free(jwt);
	free(body);
	return rc;
}

int oauth2_token(struct oauth2 *o, char **token, char **why)
{
	char *fresh = NULL;
	long ttl = 0;
	int64_t now;
	int rc;

	*token = NULL;
	pthread_mutex_lock(&o->mu);
	for (;;) {
		now = mono_ms();
		if (o->token && now < o->fresh_until)
			goto copy;
		if (!o->refreshing)
			break;
		/* someone is refreshing: an old token that is still valid will do meanwhile */
		if (o->token && now < o->valid_until)
			goto copy;
		pthread_cond_wait(&o->cv, &o->mu);
	}
	o->refreshing = 1;
	pthread_mutex_unlock(&o->mu);

	rc = fetch(o, &fresh, &ttl, why);

	pthread_mutex_lock(&o->mu);
	o->refreshing = 0;
	pthread_cond_broadcast(&o->cv);
	if (rc) {
		/* a failed refresh: keep an old token while it is still valid */
		if (o->token && mono_ms() < o->valid_until) {
			log_warn("oauth2: token refresh failed (%s); the current token is still valid",
				 why && *why ? *why : strerror(-rc));
			if (why) {
				free(*why);
				*why = NULL;
			}
			goto copy;
		}
		pthread_mutex_unlock(&o->mu);
		return rc;
	}
	free(o->token);
	o->token = fresh;
	/* refresh 5 minutes early, or at half time for short-lived tokens */
	o->valid_until = now + 1000 * (int64_t)(ttl - (ttl > 20 ? 10 : 1));
	o->fresh_until = now + 1000 * (int64_t)ttl - (ttl < 2 * REFRESH_MARGIN ? 500 * (int64_t)ttl :
								  1000 * REFRESH_MARGIN);
copy:
	*token = strdup(o->token);
	pthread_mutex_unlock(&o->mu);
	return *token ? 0 : -ENOMEM;
}

void oauth2_invalidate(struct oauth2 *o, const char *token)
{
	pthread_mutex_lock(&o->mu);
	if (o->token && token && !strcmp(o->token, token)) {
		log_info("oauth2: access token refused by the server; fetching a new one");
		free(o->token);
		o->token = NULL;
	}
	pthread_mutex_unlock(&o->mu);
}
