/* The service-account JWT: key parsing, the assertion's shape, its RS256 signature checked with the
 * public half of a key made here, token replies, and the errors a malformed key file gives. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/crypto.h"
#include "common/encode.h"
#include "backends/gcs/oauth2.h"

#include <errno.h>
#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCOPE "https://www.googleapis.com/auth/devstorage.read_write"
#define TOKEN_URI "http://127.0.0.1:1/token"

static EVP_PKEY *rsa_key;

static char *pem_of(EVP_PKEY *k)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data, *out;
	long n;

	assert_non_null(bio);
	assert_int_equal(PEM_write_bio_PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL), 1);
	n = BIO_get_mem_data(bio, &data);
	out = strndup(data, (size_t)n);
	BIO_free(bio);
	return out;
}

/* A key file as the console makes it, with pem as private_key (NULL: left out). */
static char *key_json(const char *pem, const char *email, const char *type)
{
	json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s}", "project_id", "demo", "private_key_id", "kid-123",
			      "client_id", "1234", "auth_uri", "https://accounts.example/auth",
			      "token_uri", TOKEN_URI);
	char *s;

	if (type)
		json_object_set_new(j, "type", json_string(type));
	if (pem)
		json_object_set_new(j, "private_key", json_string(pem));
	if (email)
		json_object_set_new(j, "client_email", json_string(email));
	s = json_dumps(j, 0);
	json_decref(j);
	return s;
}

static unsigned char *b64url_decode(const char *s, size_t n, size_t *outlen)
{
	char *std = calloc(1, n + 4);
	unsigned char *out;
	size_t i;

	for (i = 0; i < n; i++) {
		assert_true(s[i] != '+' && s[i] != '/' && s[i] != '=');
		std[i] = s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i];
	}
	while (i % 4)
		std[i++] = '=';
	out = enc_b64_decode(std, outlen);
	free(std);
	return out;
}

static json_t *part_json(const char *s, size_t n)
{
	size_t len;
	unsigned char *raw = b64url_decode(s, n, &len);
	json_t *j;

	assert_non_null(raw);
	j = json_loadb((const char *)raw, len, 0, NULL);
	free(raw);
	assert_non_null(j);
	return j;
}

static int setup(void **state)
{
	rsa_key = EVP_RSA_gen(2048);
	return rsa_key ? 0 : -1;
}

static int teardown(void **state)
{
	EVP_PKEY_free(rsa_key);
	return 0;
}

static void parse_good(struct oauth2_key *k)
{
	char *pem = pem_of(rsa_key);
	char *js = key_json(pem, "backup@demo.iam.gserviceaccount.com", "service_account");
	char *why = NULL;

	assert_int_equal(oauth2_key_parse(js, k, &why), 0);
	assert_null(why);
	free(pem);
	free(js);
}

static void test_key_parse(void **state)
{
	struct oauth2_key k;

	parse_good(&k);
	assert_string_equal(k.client_email, "backup@demo.iam.gserviceaccount.com");
	assert_string_equal(k.private_key_id, "kid-123");
	assert_string_equal(k.token_uri, TOKEN_URI);
	assert_non_null(k.pkey);
	oauth2_key_free(&k);
}

static void test_base64url(void **state)
{
	static const struct { const char *in; size_t n; const char *out; } v[] = {
		{ "", 0, "" }, { "f", 1, "Zg" }, { "fo", 2, "Zm8" }, { "foo", 3, "Zm9v" },
		{ "\xfb\xff", 2, "-_8" }, { "\xfb\xef\xbe", 3, "----" }, { "\xff\xff\xff", 3, "____" },
	};

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		char *s = enc_b64url(v[i].in, v[i].n);

		assert_string_equal(s, v[i].out);
		free(s);
	}
}

static void test_jwt_shape(void **state)
{
	struct oauth2_key k;
	const time_t now = 1700000000;
	char *jwt = NULL, *d1, *d2;
	json_t *h, *c;

	parse_good(&k);
	assert_int_equal(oauth2_jwt(&k, SCOPE, now, &jwt), 0);
	d1 = strchr(jwt, '.');
	assert_non_null(d1);
	d2 = strchr(d1 + 1, '.');
	assert_non_null(d2);
	assert_null(strchr(d2 + 1, '.'));

	h = part_json(jwt, (size_t)(d1 - jwt));
	assert_string_equal(json_string_value(json_object_get(h, "alg")), "RS256");
	assert_string_equal(json_string_value(json_object_get(h, "typ")), "JWT");
	assert_string_equal(json_string_value(json_object_get(h, "kid")), "kid-123");
	assert_int_equal(json_object_size(h), 3);

	c = part_json(d1 + 1, (size_t)(d2 - d1 - 1));
	assert_string_equal(json_string_value(json_object_get(c, "iss")),
			    "backup@demo.iam.gserviceaccount.com");
	assert_string_equal(json_string_value(json_object_get(c, "scope")), SCOPE);
	assert_string_equal(json_string_value(json_object_get(c, "aud")), TOKEN_URI);
	assert_true(json_is_integer(json_object_get(c, "iat")));
	assert_int_equal(json_integer_value(json_object_get(c, "iat")), now);
	assert_int_equal(json_integer_value(json_object_get(c, "exp")), now + 3600);
	assert_int_equal(json_object_size(c), 5);
	json_decref(h);
	json_decref(c);
	free(jwt);
	oauth2_key_free(&k);
}

/* Verify with a key that holds only the public half, as the token endpoint does. */
static int verify(const char *jwt)
{
	const char *d2 = strrchr(jwt, '.');
	unsigned char *der = NULL, *sig;
	const unsigned char *p;
	EVP_PKEY *pub;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	size_t siglen;
	int derlen, ok;

	derlen = i2d_PUBKEY(rsa_key, &der);
	assert_true(derlen > 0);
	p = der;
	pub = d2i_PUBKEY(NULL, &p, derlen);
	assert_non_null(pub);
	sig = b64url_decode(d2 + 1, strlen(d2 + 1), &siglen);
	assert_non_null(sig);
	assert_int_equal(siglen, 256);
	assert_int_equal(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pub), 1);
	ok = EVP_DigestVerify(md, sig, siglen, (const unsigned char *)jwt, (size_t)(d2 - jwt));
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(pub);
	OPENSSL_free(der);
	free(sig);
	return ok == 1;
}

static void test_jwt_signature(void **state)
{
	struct oauth2_key k;
	char *jwt = NULL;
	char *mid;

	parse_good(&k);
	assert_int_equal(oauth2_jwt(&k, SCOPE, 1700000000, &jwt), 0);
	assert_true(verify(jwt));
	/* one changed claim byte: the signature no longer holds */
	mid = strchr(jwt, '.') + 5;
	*mid = *mid == 'A' ? 'B' : 'A';
	assert_false(verify(jwt));
	free(jwt);
	oauth2_key_free(&k);
}

static void expect_bad(const char *json, const char *needle)
{
	struct oauth2_key k;
	char *why = NULL;

	assert_int_equal(oauth2_key_parse(json, &k, &why), -EINVAL);
	assert_non_null(why);
	if (!strstr(why, needle))
		fail_msg("reason '%s' lacks '%s'", why, needle);
	assert_null(strchr(why, '\n'));
	/* never quote key material */
	assert_null(strstr(why, "MII"));
	assert_null(strstr(why, "PRIVATE KEY"));
	assert_null(k.pkey);
	assert_null(k.client_email);
	free(why);
}

static void test_malformed_keys(void **state)
{
	char *pem = pem_of(rsa_key);
	char *js, *cut;
	EVP_PKEY *ec;

	expect_bad("", "not valid JSON");
	expect_bad("{\"private_key\": \"-----BEGIN PRIVATE KEY-----\\nMIIE", "not valid JSON");
	expect_bad("[1,2]", "not a JSON object");
	expect_bad("{\"type\":\"service_account\",\"type\":\"x\"}", "not valid JSON");

	js = key_json(pem, NULL, "service_account");
	expect_bad(js, "\"client_email\"");
	free(js);
	js = key_json(NULL, "a@b", "service_account");
	expect_bad(js, "\"private_key\"");
	free(js);
	js = key_json(pem, "a@b", "authorized_user");
	expect_bad(js, "service_account");
	free(js);

	/* a PEM cut in half */
	cut = strdup(pem);
	cut[strlen(cut) / 2] = 0;
	js = key_json(cut, "a@b", NULL);
	expect_bad(js, "not a PEM private key");
	free(js);
	free(cut);
	js = key_json("not a key", "a@b", NULL);
	expect_bad(js, "kid-123");
	free(js);

	/* an EC key cannot sign RS256 */
	ec = EVP_EC_gen("P-256");
	assert_non_null(ec);
	cut = pem_of(ec);
	js = key_json(cut, "a@b", NULL);
	expect_bad(js, "not an RSA key");
	free(js);
	free(cut);
	EVP_PKEY_free(ec);
	free(pem);
}

static void test_token_reply(void **state)
{
	char *tok = NULL, *why = NULL;
	long ttl = 0;

	assert_int_equal(oauth2_parse_token_reply(200, "{\"access_token\":\"ya29.abc\",\"expires_in\":3599,"
						  "\"token_type\":\"Bearer\"}", &tok, &ttl, &why), 0);
	assert_string_equal(tok, "ya29.abc");
	assert_int_equal(ttl, 3599);
	free(tok);

	assert_int_equal(oauth2_parse_token_reply(400, "{\"error\":\"invalid_grant\",\"error_description\":"
						  "\"Invalid JWT Signature.\"}", &tok, &ttl, &why), -EACCES);
	assert_null(tok);
	assert_string_equal(why, "HTTP 400: invalid_grant: Invalid JWT Signature.");
	free(why);
	why = NULL;

	assert_int_equal(oauth2_parse_token_reply(200, "{\"expires_in\":3599}", &tok, &ttl, &why), -EIO);
	free(why);
	why = NULL;
	assert_int_equal(oauth2_parse_token_reply(200, "<html>", &tok, &ttl, &why), -EIO);
	free(why);
	why = NULL;
	assert_int_equal(oauth2_parse_token_reply(200, "{\"access_token\":\"a\\r\\nX-Evil: 1\","
						  "\"expires_in\":60}", &tok, &ttl, &why), -EIO);
	free(why);
	why = NULL;
	assert_int_equal(oauth2_parse_token_reply(200, "{\"access_token\":\"a\",\"expires_in\":\"60\"}",
						  &tok, &ttl, &why), -EIO);
	free(why);
	why = NULL;
	assert_int_equal(oauth2_parse_token_reply(503, "", &tok, &ttl, &why), -EIO);
	free(why);
	assert_null(tok);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_parse),
		cmocka_unit_test(test_base64url),
		cmocka_unit_test(test_jwt_shape),
		cmocka_unit_test(test_jwt_signature),
		cmocka_unit_test(test_malformed_keys),
		cmocka_unit_test(test_token_reply),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
