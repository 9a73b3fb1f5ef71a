/* SigV4 against AWS's published vectors: the aws-sig-v4-test-suite cases (credentials AKIDEXAMPLE,
 * us-east-1, service "service", 20150830T123600Z), the documented signing-key derivation, and the
 * S3 developer guide's header-signing examples (examplebucket, 20130524T000000Z). The inputs and the
 * expected values are the published ones; only paths are given in their wire (percent-encoded) form. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "common/crypto.h"
#include "common/encode.h"
#include "backends/http.h"
#include "backends/s3/sigv4.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#define AMZ "X-Amz-Date:20150830T123600Z"
#define HOST "Host:example.amazonaws.com"
#define EMPTY SIGV4_EMPTY_SHA256
#define UNRES "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
#define FORM_HASH "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e"
#define SUITE_TOKEN "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267"

static const struct sigv4_cred suite = {
	.access_key = "AKIDEXAMPLE",
	.secret_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
	.region = "us-east-1",
	.service = "service",
};

struct vec {
	const char *name;
	const char *method;
	const char *path;
	const char *query;
	const char *headers[8];
	const char *payload;        /* body, hashed here */
	const char *signed_headers;
	const char *signature;
	const char *creq;           /* the published canonical request, where checked */
};

static const struct vec vecs[] = {
	{ "get-vanilla", "GET", "/", NULL, { HOST, AMZ }, "", "host;x-amz-date",
	  "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
	  "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n" EMPTY },
	{ "get-vanilla-empty-query-key", "GET", "/", "Param1=value1", { HOST, AMZ }, "", "host;x-amz-date",
	  "a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb", NULL },
	{ "get-vanilla-query-order-key-case", "GET", "/", "Param2=value2&Param1=value1", { HOST, AMZ }, "",
	  "host;x-amz-date", "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
	  "GET\n/\nParam1=value1&Param2=value2\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
	  "host;x-amz-date\n" EMPTY },
	{ "get-vanilla-query-order-key", "GET", "/", "Param1=value2&Param1=Value1", { HOST, AMZ }, "",
	  "host;x-amz-date", "eedbc4e291e521cf13422ffca22be7d2eb8146eecf653089df300a15b2382bd1", NULL },
	{ "get-vanilla-query-order-value", "GET", "/", "Param1=value2&Param1=value1", { HOST, AMZ }, "",
	  "host;x-amz-date", "5772eed61e12b33fae39ee5e7012498b51d56abc0abb7c60486157bd471c4694", NULL },
	{ "get-vanilla-query-order-encoded", "GET", "/", "Param-3=Value3&Param=Value2&%E1%88%B4=Value1",
	  { HOST, AMZ }, "", "host;x-amz-date",
	  "371d3713e185cc334048618a97f809c9ffe339c62934c032af5a0e595648fcac", NULL },
	{ "get-vanilla-query-unreserved", "GET", "/", UNRES "=" UNRES, { HOST, AMZ }, "", "host;x-amz-date",
	  "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197", NULL },
	/* the query in raw UTF-8, as the suite's request has it: the signer must encode it */
	{ "get-vanilla-utf8-query", "GET", "/", "\xe1\x88\xb4=bar", { HOST, AMZ }, "", "host;x-amz-date",
	  "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04",
	  "GET\n/\n%E1%88%B4=bar\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
	  "host;x-amz-date\n" EMPTY },
	{ "get-vanilla-with-session-token", "GET", "/", NULL,
	  { HOST, AMZ, "X-Amz-Security-Token:" SUITE_TOKEN }, "", "host;x-amz-date;x-amz-security-token",
	  "07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8", NULL },
	{ "get-unreserved", "GET", "/" UNRES, NULL, { HOST, AMZ }, "", "host;x-amz-date",
	  "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f", NULL },
	{ "get-utf8", "GET", "/%E1%88%B4", NULL, { HOST, AMZ }, "", "host;x-amz-date",
	  "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85", NULL },
	{ "get-space", "GET", "/example%20space/", NULL, { HOST, AMZ }, "", "host;x-amz-date",
	  "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741", NULL },
	{ "get-header-key-duplicate", "GET", "/", NULL,
	  { HOST, "My-Header1:value2", "My-Header1:value2", "My-Header1:value1", AMZ }, "",
	  "host;my-header1;x-amz-date", "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea",
	  "GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value2,value2,value1\n"
	  "x-amz-date:20150830T123600Z\n\nhost;my-header1;x-amz-date\n" EMPTY },
	{ "get-header-value-multiline", "GET", "/", NULL,
	  { HOST, "My-Header1:value1\n  value2\n     value3", AMZ }, "", "host;my-header1;x-amz-date",
	  "cfd34249e4b1c8d6b91ef74165d41a32e5fab3306300901bb65a51a73575eefd", NULL },
	{ "get-header-value-order", "GET", "/", NULL,
	  { HOST, "My-Header1:value4", "My-Header1:value1", "My-Header1:value3", "My-Header1:value2", AMZ },
	  "", "host;my-header1;x-amz-date", "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01",
	  NULL },
	{ "get-header-value-trim", "GET", "/", NULL,
	  { HOST, "My-Header1: value1", "My-Header2: \"a   b   c\"", AMZ }, "",
	  "host;my-header1;my-header2;x-amz-date",
	  "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736",
	  "GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value1\nmy-header2:\"a b c\"\n"
	  "x-amz-date:20150830T123600Z\n\nhost;my-header1;my-header2;x-amz-date\n" EMPTY },
	{ "post-vanilla", "POST", "/", NULL, { HOST, AMZ }, "", "host;x-amz-date",
	  "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b", NULL },
	{ "post-vanilla-query", "POST", "/", "Param1=value1", { HOST, AMZ }, "", "host;x-amz-date",
	  "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11", NULL },
	{ "post-header-key-case", "POST", "/", NULL, { "HOST:example.amazonaws.com", "X-AMZ-DATE:20150830T123600Z" },
	  "", "host;x-amz-date", "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b", NULL },
	{ "post-header-key-sort", "POST", "/", NULL, { HOST, "My-Header1:value1", AMZ }, "",
	  "host;my-header1;x-amz-date", "c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c", NULL },
	{ "post-header-value-case", "POST", "/", NULL, { HOST, "My-Header1:VALUE1", AMZ }, "",
	  "host;my-header1;x-amz-date", "cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d", NULL },
	{ "post-x-www-form-urlencoded", "POST", "/", NULL,
	  { "Content-Type:application/x-www-form-urlencoded", HOST, AMZ }, "Param1=value1",
	  "content-type;host;x-amz-date", "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a",
	  "POST\n/\n\ncontent-type:application/x-www-form-urlencoded\nhost:example.amazonaws.com\n"
	  "x-amz-date:20150830T123600Z\n\ncontent-type;host;x-amz-date\n" FORM_HASH },
	{ "post-x-www-form-urlencoded-parameters", "POST", "/", NULL,
	  { "Content-Type:application/x-www-form-urlencoded; charset=utf8", HOST, AMZ }, "Param1=value1",
	  "content-type;host;x-amz-date", "1a72ec8f64bd914b0e42e42607c7fbce7fb2c7465f63e3092b3b0d39fa77a6fe",
	  NULL },
};

static void hash_hex(const char *s, char hex[65])
{
	unsigned char d[32];

	crypto_sha256(s, strlen(s), d);
	enc_hex(d, 32, hex);
}

static void test_suite(void **state)
{
	for (size_t i = 0; i < sizeof(vecs) / sizeof(vecs[0]); i++) {
		const struct vec *v = &vecs[i];
		char hex[65], *auth = NULL, want[512];
		struct sigv4_req r = {
			.method = v->method, .path = v->path, .query = v->query, .headers = v->headers,
			.payload_hash = hex, .amz_date = "20150830T123600Z",
		};

		print_message("  %s\n", v->name);
		hash_hex(v->payload, hex);
		if (v->creq) {
			struct buf creq = BUF_INIT, sh = BUF_INIT;

			assert_int_equal(sigv4_canonical_request(&r, &creq, &sh), 0);
			assert_string_equal(creq.data, v->creq);
			assert_string_equal(sh.data, v->signed_headers);
			buf_free(&creq);
			buf_free(&sh);
		}
		assert_int_equal(sigv4_authorization(&suite, &r, &auth), 0);
		snprintf(want, sizeof(want), "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/"
			 "aws4_request, SignedHeaders=%s, Signature=%s", v->signed_headers, v->signature);
		assert_string_equal(auth, want);
		free(auth);
	}
}

static void test_string_to_sign(void **state)
{
	const struct vec *v = &vecs[sizeof(vecs) / sizeof(vecs[0]) - 2];   /* post-x-www-form-urlencoded */
	struct buf sts = BUF_INIT;
	struct sigv4_req r = {
		.method = v->method, .path = v->path, .headers = v->headers, .payload_hash = FORM_HASH,
		.amz_date = "20150830T123600Z",
	};

	assert_string_equal(v->name, "post-x-www-form-urlencoded");
	assert_int_equal(sigv4_string_to_sign(&suite, &r, &sts), 0);
	assert_string_equal(sts.data, "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
				      "42a5e5bb34198acb3e84da4f085bb7927f2bc277ca766e6d19c73c2154021281");
	buf_free(&sts);
}

/* "Examples of how to derive a signing key for Signature Version 4" */
static void test_signing_key(void **state)
{
	unsigned char key[32];
	char hex[65];

	sigv4_signing_key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215", "us-east-1", "iam", key);
	enc_hex(key, 32, hex);
	assert_string_equal(hex, "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d");
}

/* The S3 guide's examples of signing with the Authorization header. */
static const struct sigv4_cred s3doc = {
	.access_key = "AKIAIOSFODNN7EXAMPLE",
	.secret_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
	.region = "us-east-1",
	.service = "s3",
};

#define S3HOST "Host: examplebucket.s3.amazonaws.com"
#define S3DATE "x-amz-date: 20130524T000000Z"

static void s3_case(const char *method, const char *path, const char *query, const char *const *headers,
		    const char *payload_hash, const char *signed_headers, const char *sig)
{
	struct sigv4_req r = {
		.method = method, .path = path, .query = query, .headers = headers,
		.payload_hash = payload_hash, .amz_date = "20130524T000000Z",
	};
	char *auth = NULL, want[512];

	assert_int_equal(sigv4_authorization(&s3doc, &r, &auth), 0);
	snprintf(want, sizeof(want), "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/"
		 "aws4_request, SignedHeaders=%s, Signature=%s", signed_headers, sig);
	assert_string_equal(auth, want);
	free(auth);
}

static void test_s3_examples(void **state)
{
	const char *get[] = { S3HOST, "Range: bytes=0-9", "x-amz-content-sha256: " EMPTY, S3DATE, NULL };
	const char *put[] = { S3HOST, "Date: Fri, 24 May 2013 00:00:00 GMT", S3DATE,
			      "x-amz-storage-class: REDUCED_REDUNDANCY",
			      "x-amz-content-sha256: 44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
			      NULL };
	const char *lst[] = { S3HOST, "x-amz-content-sha256: " EMPTY, S3DATE, NULL };
	char hex[65];

	hash_hex("Welcome to Amazon S3.", hex);
	assert_string_equal(hex, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
	s3_case("GET", "/test.txt", NULL, get, EMPTY, "host;range;x-amz-content-sha256;x-amz-date",
		"f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
	s3_case("PUT", "/test%24file.text", NULL, put, hex,
		"date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
		"98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
	/* a bare parameter signs as "lifecycle=" */
	s3_case("GET", "/", "lifecycle", lst, EMPTY, "host;x-amz-content-sha256;x-amz-date",
		"fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
	/* sorted, and the same however the wire spells it */
	s3_case("GET", "/", "max-keys=2&prefix=J", lst, EMPTY, "host;x-amz-content-sha256;x-amz-date",
		"34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
	s3_case("GET", "/", "prefix=%4A&max-keys=2", lst, EMPTY, "host;x-amz-content-sha256;x-amz-date",
		"34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
}

static char *find(struct curl_slist *l, const char *name)
{
	size_t n = strlen(name);

	for (; l; l = l->next)
		if (!strncasecmp(l->data, name, n) && l->data[n] == ':')
			return l->data + n + 1 + strspn(l->data + n + 1, " ");
	return NULL;
}

/* The HTTP-layer entry point: it derives host, path and query from the URL, adds the date and
 * payload headers, and signs what it adds plus the request's own headers. */
static void test_sign_http(void **state)
{
	const char *hdrs[] = { "Range: bytes=0-9", "Accept:", NULL };
	struct http_req req = { .method = "GET", .url = "https://examplebucket.s3.amazonaws.com/test.txt",
				.headers = hdrs, .body_fd = -1 };
	struct curl_slist *l = NULL;
	struct sigv4_cred tok = s3doc;
	time_t t = 1369353600;   /* 2013-05-24T00:00:00Z */
	char date[17];

	sigv4_amz_date(t, date);
	assert_string_equal(date, "20130524T000000Z");
	assert_int_equal(sigv4_sign_http(&s3doc, &req, EMPTY, t, &l), 0);
	assert_string_equal(find(l, "Host"), "examplebucket.s3.amazonaws.com");
	assert_string_equal(find(l, "x-amz-date"), "20130524T000000Z");
	assert_string_equal(find(l, "x-amz-content-sha256"), EMPTY);
	assert_null(find(l, "x-amz-security-token"));
	/* "Accept:" removes a header and is not signed */
	assert_string_equal(find(l, "Authorization"),
			    "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
			    "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
			    "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
	curl_slist_free_all(l);
	l = NULL;

	req.headers = NULL;
	req.url = "https://examplebucket.s3.amazonaws.com/?prefix=J&max-keys=2";
	assert_int_equal(sigv4_sign_http(&s3doc, &req, EMPTY, t, &l), 0);
	assert_non_null(strstr(find(l, "Authorization"),
			       "Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"));
	curl_slist_free_all(l);
	l = NULL;

	/* a port stays in the host it signs; a session token is sent and signed */
	tok.session_token = "FQoGZXIvYXdzEXAMPLE";
	req.url = "http://127.0.0.1:4568/kubedb?list-type=2&max-keys=1";
	assert_int_equal(sigv4_sign_http(&tok, &req, SIGV4_UNSIGNED, t, &l), 0);
	assert_string_equal(find(l, "Host"), "127.0.0.1:4568");
	assert_string_equal(find(l, "x-amz-content-sha256"), "UNSIGNED-PAYLOAD");
	assert_string_equal(find(l, "x-amz-security-token"), "FQoGZXIvYXdzEXAMPLE");
	assert_non_null(strstr(find(l, "Authorization"),
			       "SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token,"));
	curl_slist_free_all(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_suite),
		cmocka_unit_test(test_string_to_sign),
		cmocka_unit_test(test_signing_key),
		cmocka_unit_test(test_s3_examples),
		cmocka_unit_test(test_sign_http),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
