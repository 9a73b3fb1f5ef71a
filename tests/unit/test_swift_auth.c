/* Swift auth: Keystone v2 and v3 token replies and service catalogs, shaped after the public Identity
 * API reference (region and interface selection, a catalog without object-store, malformed JSON),
 * the timestamps Keystone writes, and which credential set the secret keys select. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "backends/secret.h"
#include "backends/swift/swift_auth.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* POST /v2.0/tokens reply: two regions, object-store and compute */
static const char v2_reply[] =
	"{\"access\": {"
	"  \"token\": {\"issued_at\": \"2014-01-30T15:30:58.819584\", \"expires\": \"2014-01-31T15:30:58Z\","
	"    \"id\": \"aaaaa-bbbbb-ccccc-dddd\","
	"    \"tenant\": {\"description\": null, \"enabled\": true, \"id\": \"fc394f2ab2df4114bde39905f800dc57\","
	"      \"name\": \"demo\"}},"
	"  \"serviceCatalog\": ["
	"    {\"endpoints\": [{\"adminURL\": \"http://23.253.72.207:8774/v2/fc39\", \"region\": \"RegionOne\","
	"      \"internalURL\": \"http://23.253.72.207:8774/v2/fc39\", \"id\": \"2dad48f09e2a447a9bf852bcd93548ef\","
	"      \"publicURL\": \"http://23.253.72.207:8774/v2/fc39\"}],"
	"     \"endpoints_links\": [], \"type\": \"compute\", \"name\": \"nova\"},"
	"    {\"endpoints\": ["
	"      {\"adminURL\": \"http://10.0.0.1:8080\", \"region\": \"RegionOne\","
	"       \"internalURL\": \"http://10.0.0.1:8080/v1/AUTH_fc39\", \"id\": \"1\","
	"       \"publicURL\": \"https://swift-one.example.com/v1/AUTH_fc39\"},"
	"      {\"adminURL\": \"http://10.0.1.1:8080\", \"region\": \"RegionTwo\","
	"       \"internalURL\": \"http://10.0.1.1:8080/v1/AUTH_fc39\", \"id\": \"2\","
	"       \"publicURL\": \"https://swift-two.example.com/v1/AUTH_fc39\"}],"
	"     \"endpoints_links\": [], \"type\": \"object-store\", \"name\": \"swift\"}],"
	"  \"user\": {\"username\": \"demo\", \"roles_links\": [], \"id\": \"9a6590b2ab024747bc2167c4e064d00d\","
	"    \"roles\": [{\"name\": \"Member\"}], \"name\": \"demo\"},"
	"  \"metadata\": {\"is_admin\": 0, \"roles\": [\"9fe2ff9ee4384b1894a90878d3e92bab\"]}}}";

/* POST /v3/auth/tokens reply body (the token itself is in X-Subject-Token) */
static const char v3_reply[] =
	"{\"token\": {"
	"  \"methods\": [\"password\"], \"expires_at\": \"2015-11-06T15:32:17.893769Z\","
	"  \"issued_at\": \"2015-11-06T14:32:17.893797Z\", \"audit_ids\": [\"ZzZwkUflQfygX7pdYDBCQQ\"],"
	"  \"user\": {\"domain\": {\"id\": \"default\", \"name\": \"Default\"},"
	"    \"id\": \"423f19a4ac1e4f48bbb4180756e6eb6c\", \"name\": \"admin\", \"password_expires_at\": null},"
	"  \"project\": {\"domain\": {\"id\": \"default\", \"name\": \"Default\"},"
	"    \"id\": \"a6944d763bf64ee6a275f1263fae0352\", \"name\": \"admin\"},"
	"  \"is_domain\": false,"
	"  \"catalog\": ["
	"    {\"endpoints\": [{\"region_id\": \"RegionOne\", \"url\": \"http://example.com/identity\","
	"       \"region\": \"RegionOne\", \"interface\": \"public\","
	"       \"id\": \"068d1b359ee84b438266cb736d81de97\"}],"
	"     \"type\": \"identity\", \"id\": \"050726f278654128aba89757ae25910c\", \"name\": \"keystone\"},"
	"    {\"endpoints\": ["
	"      {\"region_id\": \"RegionOne\", \"url\": \"http://10.0.0.5:8080/v1/AUTH_a694\","
	"       \"region\": \"RegionOne\","
	"       \"interface\": \"internal\", \"id\": \"a1\"},"
	"      {\"region_id\": \"RegionOne\", \"url\": \"https://one.example.com/v1/AUTH_a694\","
	"       \"region\": \"RegionOne\", \"interface\": \"public\", \"id\": \"a2\"},"
	"      {\"region_id\": \"RegionOne\", \"url\": \"http://10.0.0.5:8080\", \"region\": \"RegionOne\","
	"       \"interface\": \"admin\", \"id\": \"a3\"},"
	"      {\"region_id\": \"east\", \"url\": \"https://east.example.com/v1/AUTH_a694\", \"region\": \"east\","
	"       \"interface\": \"public\", \"id\": \"b2\"}],"
	"     \"type\": \"object-store\", \"id\": \"5c2b\", \"name\": \"swift\"}],"
	"  \"roles\": [{\"id\": \"51cc68287d524c759f47c811e6463340\", \"name\": \"admin\"}]}}";

static const char v3_no_swift[] =
	"{\"token\": {\"expires_at\": \"2015-11-06T15:32:17.893769Z\", \"catalog\": ["
	"  {\"endpoints\": [{\"region_id\": \"RegionOne\", \"url\": \"http://example.com/identity\","
	"   \"region\": \"RegionOne\", \"interface\": \"public\", \"id\": \"1\"}],"
	"   \"type\": \"identity\", \"id\": \"2\", \"name\": \"keystone\"}]}}";

static void test_v2_default_region(void **state)
{
	char *tok = NULL, *url = NULL, *why = NULL;
	time_t exp;

	(void)state;
	assert_int_equal(sw_parse_v2(v2_reply, strlen(v2_reply), NULL, NULL, &tok, &url, &exp, &why), 0);
	assert_string_equal(tok, "aaaaa-bbbbb-ccccc-dddd");
	assert_string_equal(url, "https://swift-one.example.com/v1/AUTH_fc39");
	assert_int_equal(exp, sw_parse_time("2014-01-31T15:30:58Z"));
	assert_true(exp > 0);
	assert_null(why);
	free(tok);
	free(url);
}

static void test_v2_region_and_interface(void **state)
{
	char *tok = NULL, *url = NULL, *why = NULL;
	time_t exp;

	(void)state;
	assert_int_equal(sw_parse_v2(v2_reply, strlen(v2_reply), "RegionTwo", NULL, &tok, &url, &exp, &why), 0);
	assert_string_equal(url, "https://swift-two.example.com/v1/AUTH_fc39");
	free(tok);
	free(url);
	assert_int_equal(sw_parse_v2(v2_reply, strlen(v2_reply), "RegionTwo", "internal", &tok, &url, &exp,
					&why), 0);
	assert_string_equal(url, "http://10.0.1.1:8080/v1/AUTH_fc39");
	free(tok);
	free(url);
}

static void test_v2_missing_region(void **state)
{
	char *tok = NULL, *url = NULL, *why = NULL;
	time_t exp;

	(void)state;
	assert_int_equal(sw_parse_v2(v2_reply, strlen(v2_reply), "Mars", NULL, &tok, &url, &exp, &why), -ENOENT);
	assert_null(tok);
	assert_null(url);
	assert_non_null(why);
	/* one line that names the region asked for and the ones there are */
	assert_non_null(strstr(why, "Mars"));
	assert_non_null(strstr(why, "RegionOne"));
	assert_non_null(strstr(why, "RegionTwo"));
	assert_null(strchr(why, '\n'));
	free(why);
}

static void test_v2_malformed(void **state)
{
	static const char *const bad[] = {
		"", "not json", "{\"access\": ", "[1,2]", "{\"access\": {}}",
		"{\"access\": {\"token\": {\"id\": 42}, \"serviceCatalog\": []}}",
		"{\"access\": {\"token\": {\"id\": \"t\"}, \"serviceCatalog\": {}}}",
		"{\"access\": {\"token\": {\"id\": \"t\"}}}",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *tok = NULL, *url = NULL, *why = NULL;
		time_t exp;

		assert_int_equal(sw_parse_v2(bad[i], strlen(bad[i]), NULL, NULL, &tok, &url, &exp, &why), -EIO);
		assert_null(tok);
		assert_null(url);
		assert_non_null(why);
		free(why);
	}
}

static void test_v3_catalog(void **state)
{
	char *url = NULL, *why = NULL;
	time_t exp;

	(void)state;
	assert_int_equal(sw_parse_v3(v3_reply, strlen(v3_reply), NULL, NULL, &url, &exp, &why), 0);
	assert_string_equal(url, "https://one.example.com/v1/AUTH_a694");   /* public, not internal */
	assert_int_equal(exp, sw_parse_time("2015-11-06T15:32:17Z"));
	free(url);
	assert_int_equal(sw_parse_v3(v3_reply, strlen(v3_reply), "east", NULL, &url, &exp, &why), 0);
	assert_string_equal(url, "https://east.example.com/v1/AUTH_a694");
	free(url);
	assert_int_equal(sw_parse_v3(v3_reply, strlen(v3_reply), "RegionOne", "internal", &url, &exp, &why), 0);
	assert_string_equal(url, "http://10.0.0.5:8080/v1/AUTH_a694");
	free(url);
	/* east has no internal endpoint */
	assert_int_equal(sw_parse_v3(v3_reply, strlen(v3_reply), "east", "internal", &url, &exp, &why), -ENOENT);
	assert_null(url);
	assert_non_null(strstr(why, "east"));
	free(why);
}

static void test_v3_no_object_store(void **state)
{
	char *url = NULL, *why = NULL;
	time_t exp;

	(void)state;
	assert_int_equal(sw_parse_v3(v3_no_swift, strlen(v3_no_swift), "RegionOne", NULL, &url, &exp, &why),
			 -ENOENT);
	assert_null(url);
	assert_non_null(why);
	assert_non_null(strstr(why, "object-store"));
	free(why);
}

static void test_v3_malformed(void **state)
{
	static const char *const bad[] = {
		"", "{", "null", "{\"token\": \"x\"}", "{\"token\": {\"catalog\": 7}}", "{\"tokens\": {}}",
		"{\"token\": {\"catalog\": [{\"type\": \"object-store\", \"endpoints\": [{\"interface\": \"public\"}]}]}}",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *url = NULL, *why = NULL;
		time_t exp;
		int rc = sw_parse_v3(bad[i], strlen(bad[i]), NULL, NULL, &url, &exp, &why);

		/* an endpoint without a url is no endpoint: -ENOENT; anything else here is malformed */
		assert_true(rc == -EIO || (i == 6 && rc == -ENOENT));
		assert_null(url);
		assert_non_null(why);
		free(why);
	}
}

static void test_times(void **state)
{
	(void)state;
	assert_int_equal(sw_parse_time("1970-01-01T00:00:00Z"), 0);   /* the epoch itself reads as 0 */
	assert_int_equal(sw_parse_time("2015-11-06T15:32:17Z"), 1446823937);
	assert_int_equal(sw_parse_time("2015-11-06T15:32:17.893769Z"), 1446823937);
	assert_int_equal(sw_parse_time("2015-11-06T15:32:17"), 1446823937);
	assert_int_equal(sw_parse_time("2015-11-06T16:32:17+01:00"), 1446823937);
	assert_int_equal(sw_parse_time("2015-11-06T14:32:17.5-01:00"), 1446823937);
	assert_int_equal(sw_parse_time("2015-11-06"), 0);
	assert_int_equal(sw_parse_time("yesterday"), 0);
	assert_int_equal(sw_parse_time("2015-11-06T15:32:17Zjunk"), 0);
	assert_int_equal(sw_parse_time(NULL), 0);
}

/* A secret from key=value pairs (no files needed). */
static struct secret *mk_secret(const char *const *kv)
{
	struct secret *s = calloc(1, sizeof(*s));
	unsigned n = 0;

	while (kv[2 * n])
		n++;
	s->kv = calloc(n, sizeof(*s->kv));
	s->n = n;
	for (unsigned i = 0; i < n; i++) {
		s->kv[i].key = strdup(kv[2 * i]);
		s->kv[i].val = strdup(kv[2 * i + 1]);
	}
	return s;
}

static void free_secret(struct secret *s)
{
	secret_free(s);
	free(s);
}

static void test_credential_sets(void **state)
{
	static const char *const v1[] = { "ST_AUTH", "http://127.0.0.1:1/auth/v1.0", "ST_USER", "test:tester",
					  "ST_KEY", "sekrit-key-value", NULL };
	static const char *const v1_nokey[] = { "ST_AUTH", "http://127.0.0.1:1/auth/v1.0", "ST_USER", "t:t", NULL };
	static const char *const v2[] = { "OS_AUTH_URL", "http://127.0.0.1:1/v2.0", "OS_USERNAME", "demo",
					  "OS_PASSWORD", "pw-very-secret", "OS_TENANT_NAME", "demo", NULL };
	static const char *const v2_notenant[] = { "OS_AUTH_URL", "http://127.0.0.1:1/v2.0", "OS_USERNAME", "demo",
						   "OS_PASSWORD", "pw-very-secret", NULL };
	static const char *const v3[] = { "OS_AUTH_URL", "http://127.0.0.1:1/identity", "OS_USERNAME", "admin",
					  "OS_PASSWORD", "pw-very-secret", "OS_USER_DOMAIN_NAME", "Default",
					  "OS_PROJECT_NAME", "admin", "OS_PROJECT_DOMAIN_NAME", "Default",
					  "OS_REGION_NAME", "RegionOne", NULL };
	static const char *const tok[] = { "OS_STORAGE_URL", "http://127.0.0.1:1/v1/AUTH_x", "OS_AUTH_TOKEN",
					   "tk-secret-token", NULL };
	static const char *const none[] = { NULL };
	struct {
		const char *const *kv;
		int rc;
		enum sw_auth_kind kind;
		const char *why_has;
	} cases[] = {
		{ v1, 0, SW_AUTH_V1, NULL },
		{ v1_nokey, -EINVAL, 0, "ST_KEY" },
		{ v2, 0, SW_AUTH_V2, NULL },
		{ v2_notenant, -EINVAL, 0, "OS_TENANT_NAME" },
		{ v3, 0, SW_AUTH_V3, NULL },
		{ tok, 0, SW_AUTH_TOKEN, NULL },
		{ none, -EINVAL, 0, "ST_AUTH" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct secret *s = mk_secret(cases[i].kv);
		struct sw_auth *a = NULL;
		char *why = NULL;
		int rc = sw_auth_new(&a, NULL, s, NULL, NULL, &why);

		assert_int_equal(rc, cases[i].rc);
		if (!rc) {
			assert_non_null(a);
			assert_int_equal(sw_auth_kind(a), cases[i].kind);
			/* the description names the user, never a secret */
			assert_null(strstr(sw_auth_who(a), "secret"));
			assert_null(strstr(sw_auth_who(a), "sekrit"));
			sw_auth_free(a);
		} else {
			assert_null(a);
			assert_non_null(why);
			assert_non_null(strstr(why, cases[i].why_has));
			assert_null(strchr(why, '\n'));
		}
		free(why);
		free_secret(s);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v2_default_region),
		cmocka_unit_test(test_v2_region_and_interface),
		cmocka_unit_test(test_v2_missing_region),
		cmocka_unit_test(test_v2_malformed),
		cmocka_unit_test(test_v3_catalog),
		cmocka_unit_test(test_v3_no_object_store),
		cmocka_unit_test(test_v3_malformed),
		cmocka_unit_test(test_times),
		cmocka_unit_test(test_credential_sets),
	};

	/* the environment is the fallback of every secret key: keep it out of these cases */
	for (const char *const *k = (const char *const[]){ "ST_AUTH", "ST_USER", "ST_KEY", "OS_AUTH_URL",
		"OS_USERNAME", "OS_PASSWORD", "OS_TENANT_NAME", "OS_TENANT_ID", "OS_PROJECT_NAME", "OS_PROJECT_ID",
		"OS_USER_DOMAIN_NAME", "OS_PROJECT_DOMAIN_NAME", "OS_REGION_NAME", "OS_STORAGE_URL", "OS_AUTH_TOKEN",
		"OS_IDENTITY_API_VERSION", "OS_AUTH_VERSION", "OS_INTERFACE", "OS_ENDPOINT_TYPE", NULL }; *k; k++)
		unsetenv(*k);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
