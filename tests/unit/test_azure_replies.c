/* The Azure backend against replies a real service would rarely give: malformed or truncated XML,
 * error documents, retryable statuses. A scripted HTTP server on 127.0.0.1 answers each request in
 * turn and keeps what it was sent, so the tests also check the requests (SharedKey header, x-ms-date,
 * the List Blobs marker). Azurite covers the well-formed cases in tests/azure. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "backends/backend.h"
#include "backends/secret.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

extern const struct backend_ops azure_backend_ops;

#define KEY_B64 "c2VjcmV0LWtleS1mb3ItdGVzdHM="
#define MAXREQ 8

struct canned {
	int status;
	const char *headers;   /* extra header lines, each ending in \r\n */
	const char *body;
};

struct srv {
	int lfd, port, n;
	_Atomic int served;
	const struct canned *script;
	char req[MAXREQ][4096];
	pthread_t th;
};

static void *serve(void *arg)
{
	struct srv *s = arg;

	while (s->served < s->n) {
		const struct canned *c = &s->script[s->served];
		char *rq = s->req[s->served < MAXREQ ? s->served : MAXREQ - 1], out[8192], *cl, *end;
		size_t got = 0, need;
		int fd = accept(s->lfd, NULL, NULL);
		ssize_t r;

		if (fd < 0)
			break;
		/* the head, then as much body as Content-Length says (drained, not kept) */
		while (!(end = got ? strstr(rq, "\r\n\r\n") : NULL) && got < 4095 &&
		       (r = read(fd, rq + got, 4095 - got)) > 0) {
			got += (size_t)r;
			rq[got] = 0;
		}
		cl = strcasestr(rq, "\r\nContent-Length:");
		need = cl ? strtoul(cl + 17, NULL, 10) : 0;
		if (end) {
			/* keep what fits of the body (commit bodies are small), drain the rest */
			size_t have = got - (size_t)(end + 4 - rq);
			char sink[4096];

			while (have < need && got < 4095 && (r = read(fd, rq + got, 4095 - got)) > 0) {
				got += (size_t)r;
				have += (size_t)r;
				rq[got] = 0;
			}
			while (have < need && (r = read(fd, sink, sizeof(sink))) > 0)
				have += (size_t)r;
		}
		snprintf(out, sizeof(out),
			 "HTTP/1.1 %d X\r\nConnection: close\r\n%sContent-Length: %zu\r\n\r\n%s",
			 c->status, c->headers ? c->headers : "", c->body ? strlen(c->body) : 0,
			 c->body && strncmp(rq, "HEAD ", 5) ? c->body : "");
		/* counted before the reply goes out: the client may look as soon as it has it */
		s->served++;
		if (write(fd, out, strlen(out)) < 0)
			break;
		close(fd);
	}
	return NULL;
}

static void srv_start(struct srv *s, const struct canned *script, int n)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);

	memset(s, 0, sizeof(*s));
	s->script = script;
	s->n = n;
	s->lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(s->lfd >= 0);
	assert_int_equal(bind(s->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(s->lfd, 16), 0);
	assert_int_equal(getsockname(s->lfd, (struct sockaddr *)&a, &al), 0);
	s->port = ntohs(a.sin_port);
	assert_int_equal(pthread_create(&s->th, NULL, serve, s), 0);
}

static void srv_stop(struct srv *s)
{
	shutdown(s->lfd, SHUT_RDWR);
	close(s->lfd);
	pthread_join(s->th, NULL);
}

struct fixture {
	struct srv srv;
	struct source src;
	struct secret sec;
	struct secret_kv kv[2];
	struct backend_conf conf;
	struct backend b;
	char ep[64];
	char *why;
};

/* Serve script, open azure://box (the first reply answers the container check). */
static int fx_open(struct fixture *f, const struct canned *script, int n, int retries)
{
	memset(f, 0, sizeof(*f));
	srv_start(&f->srv, script, n);
	snprintf(f->ep, sizeof(f->ep), "http://127.0.0.1:%d/acct", f->srv.port);
	f->src.scheme = "azure";
	f->src.bucket = "box";
	f->src.prefix = "";
	f->kv[0] = (struct secret_kv){ "AZURE_ACCOUNT_NAME", "acct" };
	f->kv[1] = (struct secret_kv){ "AZURE_ACCOUNT_KEY", KEY_B64 };
	f->sec.kv = f->kv;
	f->sec.n = 2;
	f->conf = (struct backend_conf){ &f->src, &f->sec, f->ep, NULL, NULL, 5, retries, 0 };
	f->b.ops = &azure_backend_ops;
	f->b.conf = &f->conf;
	return azure_backend_ops.open(&f->b, &f->conf, &f->why);
}

static void fx_close(struct fixture *f)
{
	if (f->b.priv)
		azure_backend_ops.close(&f->b);
	srv_stop(&f->srv);
	free(f->why);
}

static const struct canned ok_container = { 200, NULL, NULL };

static void test_open_wrong_key(void **st)
{
	const struct canned script[] = {
		{ 403, "x-ms-error-code: AuthenticationFailed\r\n",
		  "<?xml version=\"1.0\"?><Error><Code>AuthenticationFailed</Code></Error>" },
	};
	struct fixture f;

	(void)st;
	assert_int_equal(fx_open(&f, script, 1, 0), -EACCES);
	assert_non_null(f.why);
	assert_non_null(strstr(f.why, "authentication failed for AZURE_ACCOUNT_NAME=acct: "
				      "check AZURE_ACCOUNT_KEY"));
	assert_null(strstr(f.why, KEY_B64));
	assert_null(strchr(f.why, '\n'));
	/* the check request itself: signed with SharedKey, dated, versioned */
	assert_non_null(strstr(f.srv.req[0], "GET /acct/box?restype=container HTTP/1.1"));
	assert_non_null(strstr(f.srv.req[0], "Authorization: SharedKey acct:"));
	assert_non_null(strstr(f.srv.req[0], "x-ms-date: "));
	assert_non_null(strstr(f.srv.req[0], "x-ms-version: "));
	fx_close(&f);
}

static void test_open_missing_container(void **st)
{
	const struct canned script[] = {
		{ 404, NULL, "<?xml version=\"1.0\"?><Error><Code>ContainerNotFound</Code></Error>" },
	};
	struct fixture f;

	(void)st;
	assert_int_equal(fx_open(&f, script, 1, 0), -ENOENT);
	assert_non_null(strstr(f.why, "container 'box' does not exist"));
	fx_close(&f);
}

static void test_open_retries_server_busy(void **st)
{
	const struct canned script[] = {
		{ 503, "x-ms-error-code: ServerBusy\r\n", "<Error><Code>ServerBusy</Code></Error>" },
		{ 500, NULL, "<Error><Code>InternalError</Code></Error>" },
		ok_container,
	};
	struct fixture f;

	(void)st;
	assert_int_equal(fx_open(&f, script, 3, 3), 0);
	assert_int_equal(f.srv.served, 3);
	fx_close(&f);
}

static int count_entry(void *arg, const char *name, const struct obj_info *oi)
{
	char *seen = arg;

	strcat(seen, name);
	strcat(seen, oi->is_dir ? "(d)" : "");
	strcat(seen, ",");
	return 0;
}

static void test_list_pages(void **st)
{
	const struct canned script[] = {
		ok_container,
		{ 200, NULL, "<?xml version=\"1.0\" encoding=\"utf-8\"?>"
			     "<EnumerationResults><Prefix>a/</Prefix><Blobs><Blob><Name>a/</Name><Properties><Content-Length>0</Content-Length>"
			     "</Properties></Blob>"
			     "<Blob><Name>a/x</Name><Properties><Content-Length>5</Content-Length>"
			     "<Last-Modified>Wed, 25 Nov 2026 12:00:00 GMT</Last-Modified><Etag>0x8</Etag>"
			     "</Properties></Blob>"
			     "<BlobPrefix><Name>a/sub/</Name></BlobPrefix></Blobs>"
			     "<NextMarker>2!m y</NextMarker>"
			     "</EnumerationResults>" },
		{ 200, NULL, "<?xml version=\"1.0\"?><EnumerationResults><Blobs><Blob>"
			     "<Name Encoded=\"true\">a/%01z</Name>"
			     "<Properties><Content-Length>7</Content-Length></Properties></Blob></Blobs>"
			     "<NextMarker/></EnumerationResults>" },
	};
	struct fixture f;
	char seen[256] = "";

	(void)st;
	assert_int_equal(fx_open(&f, script, 3, 0), 0);
	assert_int_equal(azure_backend_ops.list(&f.b, "a/", 1, 0, count_entry, seen), 0);
	/* name order within a page, the prefix's own folder marker first as ""; the marker of page 1
	 * goes back encoded */
	assert_string_equal(seen, ",sub/(d),x,\001z,");
	assert_non_null(strstr(f.srv.req[1], "prefix=a%2F"));
	assert_non_null(strstr(f.srv.req[1], "delimiter=%2F"));
	assert_non_null(strstr(f.srv.req[2], "marker=2%21m%20y"));
	fx_close(&f);
}

static void expect_list_eio(const char *body)
{
	const struct canned script[] = { ok_container, { 200, NULL, body } };
	struct fixture f;
	char seen[256] = "";

	assert_int_equal(fx_open(&f, script, 2, 0), 0);
	assert_int_equal(azure_backend_ops.list(&f.b, "", 0, 0, count_entry, seen), -EIO);
	fx_close(&f);
}

static void test_list_malformed(void **st)
{
	(void)st;
	expect_list_eio("<EnumerationResults><Blobs><Blob><Name>x</Name>");             /* truncated */
	expect_list_eio("not xml at all");
	expect_list_eio("<?xml version=\"1.0\"?><Error><Code>Odd</Code></Error>");         /* wrong root */
	/* a blob without its length */
	expect_list_eio("<EnumerationResults><Blobs><Blob><Name>x</Name></Blob></Blobs>"
			"</EnumerationResults>");
	expect_list_eio("");                                                            /* empty 200 */
}

static void test_read_statuses(void **st)
{
	const struct canned script[] = {
		ok_container,
		{ 416, "x-ms-error-code: InvalidRange\r\n", "<Error><Code>InvalidRange</Code></Error>" },
		{ 404, "x-ms-error-code: BlobNotFound\r\n", "<Error><Code>BlobNotFound</Code></Error>" },
		{ 206, NULL, "hello" },
	};
	struct fixture f;
	char buf[16];

	(void)st;
	assert_int_equal(fx_open(&f, script, 4, 0), 0);
	assert_int_equal(azure_backend_ops.read(&f.b, "k", 100, 10, buf), 0);
	assert_int_equal(azure_backend_ops.read(&f.b, "k", 0, 10, buf), -ENOENT);
	assert_int_equal(azure_backend_ops.read(&f.b, "k", 3, 10, buf), 5);
	assert_memory_equal(buf, "hello", 5);
	assert_non_null(strstr(f.srv.req[1], "x-ms-range: bytes=100-109"));
	fx_close(&f);
}

static void test_block_list_malformed(void **st)
{
	const struct canned script[] = {
		ok_container,
		{ 200, NULL, "<?xml version=\"1.0\"?><BlockList><CommittedBlocks><Block><Name>abc" },
	};
	struct fixture f;
	struct upload *up = NULL;

	(void)st;
	assert_int_equal(fx_open(&f, script, 2, 0), 0);
	assert_int_equal(azure_backend_ops.upload_begin(&f.b, "k", 100, &up), -EIO);
	assert_null(up);
	assert_non_null(strstr(f.srv.req[1], "comp=blocklist&blocklisttype=committed"));
	fx_close(&f);
}

static void test_commit_names_old_blocks_first(void **st)
{
	/* a base of two committed blocks of ours (ids of 40 characters), then one new part */
	const struct canned script[] = {
		ok_container,
		{ 200, "ETag: \"0x42\"\r\n",
		  "<?xml version=\"1.0\"?><BlockList><CommittedBlocks>"
		  "<Block><Name>AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA1</Name><Size>4</Size></Block>"
		  "<Block><Name>AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA2</Name><Size>6</Size></Block>"
		  "</CommittedBlocks><UncommittedBlocks/></BlockList>" },
		{ 201, NULL, NULL },
		{ 201, NULL, NULL },
	};
	struct fixture f;
	struct upload *up = NULL;
	struct part p = { 1, 10, 3, -1, 0 };
	FILE *spool = tmpfile();

	(void)st;
	assert_non_null(spool);
	assert_int_equal(fwrite("new", 1, 3, spool), 3);
	fflush(spool);
	p.fd = fileno(spool);
	assert_int_equal(fx_open(&f, script, 4, 0), 0);
	assert_int_equal(azure_backend_ops.upload_begin(&f.b, "k", 10, &up), 0);
	assert_int_equal(azure_backend_ops.upload_part(up, &p), 0);
	assert_int_equal(azure_backend_ops.upload_commit(up, 1, NULL), 0);
	fclose(spool);
	assert_non_null(strstr(f.srv.req[2], "comp=block&blockid="));
	assert_non_null(strstr(f.srv.req[2], "\r\n\r\nnew"));
	assert_non_null(strstr(f.srv.req[3], "comp=blocklist"));
	/* old blocks first and in order, as committed; then the new part, as uncommitted */
	assert_non_null(strstr(f.srv.req[3], "<BlockList><Committed>AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA1"
				       "</Committed><Committed>AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA2"
				       "</Committed>"
				       "<Uncommitted>"));
	/* the commit may not graft onto a newer blob than the one whose blocks it names */
	assert_non_null(strstr(f.srv.req[3], "If-Match: \"0x42\""));
	fx_close(&f);
}

/* block ids of the upload with tag 0123456789abcdef: "snapfs-<tag>-b00001" etc. in base64 */
#define ID_B1 "c25hcGZzLTAxMjM0NTY3ODlhYmNkZWYtYjAwMDAx"
#define ID_P1 "c25hcGZzLTAxMjM0NTY3ODlhYmNkZWYtcDAwMDAx"
#define ID_P2 "c25hcGZzLTAxMjM0NTY3ODlhYmNkZWYtcDAwMDAy"
#define ID_P3 "c25hcGZzLTAxMjM0NTY3ODlhYmNkZWYtcDAwMDAz"
#define ID_OTHER "c25hcGZzLWZlZGNiYTk4NzY1NDMyMTAtcDAwMDAx"   /* another upload's */
#define BLK(id) "<Block><Name>" ID_##id "</Name><Size>3</Size></Block>"

/* A kept commit finished from the token alone: the upload's own uncommitted blocks (ids "snapfs-<tag>-
 * <kind><n>"), listed in any order and beside another upload's, are committed base copies first, then
 * parts, by number; an append's token names the base's committed blocks, which go first. An upload
 * the service no longer holds whole (a part missing) is not committed; one it does not hold at all is
 * gone (-ENOENT); a token from a damaged journal line is refused before any request. */
static void test_finish(void **st)
{
	const struct canned script[] = {
		ok_container,
		{ 200, "ETag: \"0x7\"\r\n",
		  "<?xml version=\"1.0\"?><BlockList><CommittedBlocks>"
		  "<Block><Name>AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA1</Name><Size>4</Size></Block>"
		  "</CommittedBlocks><UncommittedBlocks>"
		  BLK(P3)
		  BLK(OTHER)
		  BLK(P1)
		  BLK(B1)
		  BLK(P2)
		  "</UncommittedBlocks></BlockList>" },
		{ 201, NULL, NULL },
		{ 200, NULL,
		  "<?xml version=\"1.0\"?><BlockList><CommittedBlocks/><UncommittedBlocks>"
		  BLK(P1)
		  BLK(P3)
		  "</UncommittedBlocks></BlockList>" },
		{ 404, "x-ms-error-code: BlobNotFound\r\n", NULL },
	};
	struct fixture f;

	(void)st;
	assert_int_equal(fx_open(&f, script, 5, 0), 0);
	assert_int_equal(azure_backend_ops.upload_finish(&f.b, "k", "0123456789abcdef+1"), 0);
	assert_non_null(strstr(f.srv.req[1], "comp=blocklist&blocklisttype=all"));
	assert_non_null(strstr(f.srv.req[2], "<BlockList><Committed>AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA1</Committed>"
				       "<Uncommitted>" ID_B1 "</Uncommitted><Uncommitted>" ID_P1 "</Uncommitted>"
				       "<Uncommitted>" ID_P2 "</Uncommitted><Uncommitted>" ID_P3 "</Uncommitted></BlockList>"));
	assert_non_null(strstr(f.srv.req[2], "If-Match: \"0x7\""));
	assert_int_equal(azure_backend_ops.upload_finish(&f.b, "k", "0123456789abcdef"), -EIO);
	assert_int_equal(azure_backend_ops.upload_finish(&f.b, "k", "0123456789abcdef"), -ENOENT);
	assert_int_equal(azure_backend_ops.upload_finish(&f.b, "k", "0123456789abcdef+x"), -EINVAL);
	assert_int_equal(azure_backend_ops.upload_finish(&f.b, "k", "../etc"), -EINVAL);
	assert_int_equal(f.srv.served, 5);
	fx_close(&f);
}

static void test_batch_delete(void **st)
{
	const struct canned script[] = {
		ok_container,
		/* every sub-request accounted for: one deleted, one already gone */
		{ 202, "Content-Type: multipart/mixed; boundary=batchresponse_1\r\n",
		  "--batchresponse_1\r\nContent-Type: application/http\r\nContent-ID: 0\r\n\r\n"
		  "HTTP/1.1 202 Accepted\r\nx-ms-delete-type-permanent: true\r\n\r\n"
		  "--batchresponse_1\r\nContent-Type: application/http\r\nContent-ID: 1\r\n\r\n"
		  "HTTP/1.1 404 The specified blob does not exist.\r\nx-ms-error-code: BlobNotFound\r\n\r\n"
		  "--batchresponse_1--\r\n" },
		/* one sub-request refused */
		{ 202, "Content-Type: multipart/mixed; boundary=b\r\n",
		  "--b\r\nContent-ID: 0\r\n\r\nHTTP/1.1 202 Accepted\r\n\r\n"
		  "--b\r\nContent-ID: 1\r\n\r\nHTTP/1.1 403 Forbidden\r\n\r\n--b--\r\n" },
		/* a reply that forgets a key */
		{ 202, "Content-Type: multipart/mixed; boundary=b\r\n",
		  "--b\r\nContent-ID: 0\r\n\r\nHTTP/1.1 202 Accepted\r\n\r\n--b--\r\n" },
		/* a store without Blob Batch: Delete Blob one by one from then on */
		{ 400, "x-ms-error-code: FeatureNotSupported\r\n",
		  "<Error><Code>FeatureNotSupported</Code></Error>" },
		{ 202, NULL, NULL },
		{ 404, NULL, NULL },
		{ 202, NULL, NULL },
		{ 202, NULL, NULL },
	};
	const char *keys[] = { "a/x y", "a/gone" };
	struct fixture f;

	(void)st;
	assert_int_equal(fx_open(&f, script, 9, 0), 0);
	assert_int_equal(azure_backend_ops.remove(&f.b, keys, 2), 0);
	/* one POST with a signed DELETE per key, the path as the blob URL has it */
	assert_non_null(strstr(f.srv.req[1], "POST /acct/box?restype=container&comp=batch HTTP/1.1"));
	assert_non_null(strstr(f.srv.req[1], "Content-Type: multipart/mixed; boundary=batch_"));
	assert_non_null(strstr(f.srv.req[1], "Content-ID: 0\r\n\r\nDELETE /acct/box/a/x%20y HTTP/1.1\r\n"));
	assert_non_null(strstr(f.srv.req[1], "Content-ID: 1\r\n\r\nDELETE /acct/box/a/gone HTTP/1.1\r\n"));
	assert_non_null(strstr(f.srv.req[1], "Authorization: SharedKey acct:"));
	assert_int_equal(azure_backend_ops.remove(&f.b, keys, 2), -EACCES);
	assert_int_equal(azure_backend_ops.remove(&f.b, keys, 2), -EIO);
	assert_int_equal(azure_backend_ops.remove(&f.b, keys, 2), 0);
	assert_int_equal(azure_backend_ops.remove(&f.b, keys, 2), 0);
	assert_int_equal(f.srv.served, 9);
	fx_close(&f);
}

/* Abort drops the blocks of a name that has no committed blob, and never deletes a committed blob. */
static void test_abort(void **st)
{
	const struct canned script[] = {
		ok_container,
		{ 200, NULL, NULL },    /* HEAD: a committed blob of that name exists (an overwrite) */
		{ 404, "x-ms-error-code: BlobNotFound\r\n", NULL },   /* HEAD: only uncommitted blocks */
		{ 202, NULL, NULL },    /* DELETE */
	};
	struct fixture f;
	struct upload *up = NULL;

	(void)st;
	assert_int_equal(fx_open(&f, script, 4, 0), 0);
	assert_int_equal(azure_backend_ops.upload_begin(&f.b, "old", 0, &up), 0);
	azure_backend_ops.upload_abort(up);
	assert_int_equal(f.srv.served, 2);
	assert_non_null(strstr(f.srv.req[1], "HEAD /acct/box/old HTTP/1.1"));
	assert_int_equal(azure_backend_ops.upload_begin(&f.b, "new", 0, &up), 0);
	azure_backend_ops.upload_abort(up);
	assert_int_equal(f.srv.served, 4);
	assert_non_null(strstr(f.srv.req[2], "HEAD /acct/box/new HTTP/1.1"));
	assert_non_null(strstr(f.srv.req[3], "DELETE /acct/box/new HTTP/1.1"));
	fx_close(&f);
}

/* Bodies carry Content-MD5; bytes the service found damaged on the way are sent again. */
static void test_put_md5_resend(void **st)
{
	const struct canned script[] = {
		ok_container,
		{ 400, "x-ms-error-code: Md5Mismatch\r\n", "<Error><Code>Md5Mismatch</Code></Error>" },
		{ 201, NULL, NULL },
		{ 400, "x-ms-error-code: InvalidBlockList\r\n", "<Error><Code>InvalidBlockList</Code></Error>" },
	};
	struct fixture f;
	FILE *spool = tmpfile();

	(void)st;
	assert_non_null(spool);
	assert_int_equal(fwrite("hello", 1, 5, spool), 5);
	fflush(spool);
	assert_int_equal(fx_open(&f, script, 4, 2), 0);
	assert_int_equal(azure_backend_ops.put(&f.b, "k", fileno(spool), 0, 5, NULL), 0);
	assert_non_null(strstr(f.srv.req[1], "Content-MD5: XUFAKrxLKna5cZ2REBfFkg=="));
	assert_non_null(strstr(f.srv.req[2], "Content-MD5: XUFAKrxLKna5cZ2REBfFkg=="));
	/* any other 400 is final */
	assert_int_equal(azure_backend_ops.put(&f.b, "k", fileno(spool), 0, 5, NULL), -EIO);
	assert_int_equal(f.srv.served, 4);
	fclose(spool);
	fx_close(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_wrong_key),
		cmocka_unit_test(test_open_missing_container),
		cmocka_unit_test(test_open_retries_server_busy),
		cmocka_unit_test(test_list_pages),
		cmocka_unit_test(test_list_malformed),
		cmocka_unit_test(test_read_statuses),
		cmocka_unit_test(test_block_list_malformed),
		cmocka_unit_test(test_commit_names_old_blocks_first),
		cmocka_unit_test(test_finish),
		cmocka_unit_test(test_batch_delete),
		cmocka_unit_test(test_abort),
		cmocka_unit_test(test_put_md5_resend),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
