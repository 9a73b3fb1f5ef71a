/* The OAuth2 token cache under threads, against the GCS test server (tests/servers/gcs_server.py,
 * which verifies each RS256 assertion): tokens are refreshed ahead of expiry by one thread while the
 * others keep working, a 401 storm (every thread invalidating the same token) costs one refresh, and
 * a failing token endpoint is survived while the current token is still valid. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "backends/http.h"
#include "backends/gcs/oauth2.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define EMAIL "token-test@demo.iam.gserviceaccount.com"
#define SCOPE "https://www.googleapis.com/auth/devstorage.read_write"
#define TTL 6

static struct {
	pid_t server;
	char dir[256];
	char url[64];
	struct http *http;
	struct oauth2 *auth;
} T;

static int free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int s = socket(AF_INET, SOCK_STREAM, 0), port;

	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) || getsockname(s, (struct sockaddr *)&a, &len))
		return -1;
	port = ntohs(a.sin_port);
	close(s);
	return port;
}

static long get_status(const char *path, const char *token, long *stat_out, const char *stat_name)
{
	struct http_resp resp = HTTP_RESP_INIT;
	struct http_req req = { .method = "GET", .body_fd = -1 };
	char url[160], auth[256];
	const char *hdrs[] = { auth, NULL };
	long st;

	snprintf(url, sizeof(url), "%s%s", T.url, path);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token ? token : "");
	req.url = url;
	req.headers = token ? hdrs : NULL;
	if (http_do(T.http, &req, &resp)) {
		http_resp_free(&resp);
		return -1;
	}
	st = resp.status;
	if (stat_out) {
		json_t *j = json_loads(resp.body.data ? resp.body.data : "", 0, NULL);

		*stat_out = (long)json_integer_value(json_object_get(j, stat_name));
		json_decref(j);
	}
	http_resp_free(&resp);
	return st;
}

static long tokens_issued(void)
{
	long n = -1;

	assert_int_equal(get_status("/_test/stats", NULL, &n, "tokens_issued"), 200);
	return n;
}

static int setup(void **state)
{
	const char *src = getenv("SNAPFS_SRC"), *tmp = getenv("TMPDIR");
	EVP_PKEY *k = EVP_RSA_gen(2048);
	struct http_conf hc = { .timeout_s = 10, .retries = 2, .backoff_ms = 50 };
	struct oauth2_key key;
	char path[320], port_s[16], *pem = NULL, *js, *why = NULL;
	size_t pemlen = 0;
	FILE *f;
	int port = free_port();

	if (!src || !k || port < 0)
		return -1;
	snprintf(T.dir, sizeof(T.dir), "%s/snapfs-token-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(T.dir))
		return -1;
	snprintf(path, sizeof(path), "%s/pub.pem", T.dir);
	f = fopen(path, "w");
	if (!f || !PEM_write_PUBKEY(f, k))
		return -1;
	fclose(f);
	snprintf(T.url, sizeof(T.url), "http://127.0.0.1:%d", port);
	snprintf(port_s, sizeof(port_s), "%d", port);
	T.server = fork();
	if (T.server == 0) {
		char script[512], data[320], ttl[8];

		snprintf(script, sizeof(script), "%s/tests/servers/gcs_server.py", src);
		snprintf(data, sizeof(data), "%s/data", T.dir);
		snprintf(ttl, sizeof(ttl), "%d", TTL);
		if (!freopen("/dev/null", "w", stdout))
			_exit(127);
		execl("/usr/bin/python3", "python3", script, "--port", port_s, "--data", data,
		      "--bucket", "kubedb", "--public-key", path, "--client-email", EMAIL,
		      "--token-ttl", ttl, (char *)NULL);
		_exit(127);
	}
	if (http_new(&T.http, &hc, &why))
		return -1;
	for (int i = 0; i < 100 && get_status("/_test/stats", NULL, NULL, NULL) != 200; i++)
		usleep(100 * 1000);

	{
		BIO *bio = BIO_new(BIO_s_mem());
		char *data;

		PEM_write_bio_PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL);
		pemlen = (size_t)BIO_get_mem_data(bio, &data);
		pem = strndup(data, pemlen);
		BIO_free(bio);
	}
	snprintf(path, sizeof(path), "%s/token", T.url);
	{
		json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s}", "type", "service_account",
				      "client_email", EMAIL, "private_key_id", "kid-threads",
				      "private_key", pem, "token_uri", path);

		js = json_dumps(j, 0);
		json_decref(j);
	}
	free(pem);
	EVP_PKEY_free(k);
	if (oauth2_key_parse(js, &key, &why))
		return -1;
	free(js);
	return oauth2_new(&T.auth, &key, SCOPE, T.http);
}

static int teardown(void **state)
{
	char cmd[320];

	oauth2_free(T.auth);
	http_free(T.http);
	if (T.server > 0) {
		kill(T.server, SIGTERM);
		waitpid(T.server, NULL, 0);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", T.dir);
	return system(cmd) == 0 ? 0 : -1;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static atomic_int bad, used;

static void *worker(void *arg)
{
	double end = *(double *)arg;

	while (now_s() < end) {
		char *tok = NULL;

		if (oauth2_token(T.auth, &tok, NULL)) {
			atomic_fetch_add(&bad, 1);
			break;
		}
		/* the token must still be good when it is used */
		if (get_status("/storage/v1/b/kubedb", tok, NULL, NULL) != 200)
			atomic_fetch_add(&bad, 1);
		atomic_fetch_add(&used, 1);
		free(tok);
		usleep(20 * 1000);
	}
	return NULL;
}

static void test_refresh_ahead(void **state)
{
	pthread_t th[8];
	double end = now_s() + 1.5 * TTL;
	long before = tokens_issued(), issued;

	for (int i = 0; i < 8; i++)
		pthread_create(&th[i], NULL, worker, &end);
	for (int i = 0; i < 8; i++)
		pthread_join(th[i], NULL);
	issued = tokens_issued() - before;
	assert_int_equal(atomic_load(&bad), 0);
	assert_true(atomic_load(&used) > 50);
	/* refreshed at half-life: about 1.5 * 2 + 1 tokens, never one per thread */
	if (issued < 3 || issued > 6)
		fail_msg("%ld tokens for %d uses in %.0f s with a %d s lifetime", issued, atomic_load(&used),
			 1.5 * TTL, TTL);
}

static void *invalidator(void *arg)
{
	char **out = arg;

	/* no cmocka asserts off the main thread: a failure shows as a NULL token */
	oauth2_invalidate(T.auth, out[0]);
	if (oauth2_token(T.auth, &out[1], NULL))
		out[1] = NULL;
	return NULL;
}

static void test_invalidate_storm(void **state)
{
	pthread_t th[8];
	char *old = NULL, *got[8][2];
	long before;

	assert_int_equal(oauth2_token(T.auth, &old, NULL), 0);
	before = tokens_issued();
	for (int i = 0; i < 8; i++) {
		got[i][0] = old;
		pthread_create(&th[i], NULL, invalidator, got[i]);
	}
	for (int i = 0; i < 8; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(tokens_issued() - before, 1);
	for (int i = 0; i < 8; i++) {
		assert_non_null(got[i][1]);
		assert_string_not_equal(got[i][1], old);
		assert_string_equal(got[i][1], got[0][1]);
	}
	for (int i = 0; i < 8; i++)
		free(got[i][1]);
	free(old);
}

static void set_fault(const char *json)
{
	struct http_resp resp = HTTP_RESP_INIT;
	struct http_req req = { .method = "POST", .body_fd = -1 };
	char url[160];

	snprintf(url, sizeof(url), "%s/_test/faults", T.url);
	req.url = url;
	req.body = json;
	req.body_len = strlen(json);
	assert_int_equal(http_do(T.http, &req, &resp), 0);
	assert_int_equal(resp.status, 200);
	http_resp_free(&resp);
}

/* The token endpoint fails: a token past its refresh point but still valid keeps working; once it
 * has expired the failure is reported, with the endpoint's status; then a refresh works again. */
static void test_refresh_failure(void **state)
{
	char *t1 = NULL, *t2 = NULL, *why = NULL;
	double t0;

	assert_int_equal(oauth2_token(T.auth, &t1, NULL), 0);
	oauth2_invalidate(T.auth, t1);
	free(t1);
	t0 = now_s();
	assert_int_equal(oauth2_token(T.auth, &t1, NULL), 0);
	set_fault("{\"fail\": 1000, \"status\": 503, \"match\": \"POST /token\"}");
	/* refreshed at half of the 6 s lifetime (3 s), usable for 5 s */
	usleep((useconds_t)((t0 + 3.3 - now_s()) * 1e6));
	assert_int_equal(oauth2_token(T.auth, &t2, &why), 0);
	assert_null(why);
	assert_string_equal(t1, t2);
	free(t2);
	usleep((useconds_t)((t0 + 5.5 - now_s()) * 1e6));
	assert_int_not_equal(oauth2_token(T.auth, &t2, &why), 0);
	assert_null(t2);
	assert_non_null(why);
	if (!strstr(why, "503") || !strstr(why, "kid-threads"))
		fail_msg("reason '%s' lacks the status or the key id", why);
	free(why);
	set_fault("{\"fail\": 0}");
	assert_int_equal(oauth2_token(T.auth, &t2, NULL), 0);
	assert_string_not_equal(t1, t2);
	assert_int_equal(get_status("/storage/v1/b/kubedb", t2, NULL, NULL), 200);
	free(t1);
	free(t2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refresh_ahead),
		cmocka_unit_test(test_invalidate_storm),
		cmocka_unit_test(test_refresh_failure),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
