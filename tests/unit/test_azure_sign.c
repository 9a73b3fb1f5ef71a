/* SharedKey signing against the worked examples of Microsoft's "Authorize with Shared Key" page (the
 * string-to-sign of a Get Container Metadata request and the canonicalized-resource examples), plus
 * the edge cases the Blob backend relies on. Signatures with the published Azurite development key
 * were computed once with Python's hmac module, an implementation independent of ours. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "backends/azure/azure_sign.h"
#include "common/crypto.h"
#include "common/encode.h"

static const char dev_key_b64[] =
	"Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

static void expect_sts(const char *method, const char *account, const char *url, const char *const *hdrs,
		       int64_t clen, const char *want)
{
	struct az_sig_in in = { method, account, url, hdrs, clen };
	char *sts = az_string_to_sign(&in);

	assert_non_null(sts);
	assert_string_equal(sts, want);
	free(sts);
}

static void expect_sig(const char *sts, const char *want)
{
	size_t klen;
	unsigned char *key = enc_b64_decode(dev_key_b64, &klen);
	char *sig;

	assert_non_null(key);
	assert_int_equal(klen, 64);
	sig = az_signature(key, klen, sts);
	assert_non_null(sig);
	assert_string_equal(sig, want);
	free(sig);
	free(key);
}

static void expect_res(const char *account, const char *url, const char *want)
{
	char *r = az_canon_resource(account, url);

	assert_non_null(r);
	assert_string_equal(r, want);
	free(r);
}

/* The documented string-to-sign for Get Container Metadata, version 2015-02-21. */
static void test_doc_container_metadata(void **st)
{
	const char *hdrs[] = { "x-ms-version: 2015-02-21", "x-ms-date: Fri, 26 Jun 2015 23:39:12 GMT", NULL };
	const char *want = "GET\n\n\n\n\n\n\n\n\n\n\n\n"
			   "x-ms-date:Fri, 26 Jun 2015 23:39:12 GMT\nx-ms-version:2015-02-21\n"
			   "/myaccount/mycontainer\ncomp:metadata\nrestype:container\ntimeout:20";

	(void)st;
	expect_sts("GET", "myaccount",
		   "https://myaccount.blob.core.windows.net/mycontainer"
		   "?restype=container&comp=metadata&timeout=20",
		   hdrs, -1, want);
	expect_sig(want, "1u9lui2jDxj0+fpbHjQ5m5NnastJRSYM+PSmfi8TXx4=");
}

/* The documented canonicalized-resource examples. */
static void test_doc_resources(void **st)
{
	(void)st;
	expect_res("myaccount",
		   "http://myaccount.blob.core.windows.net/mycontainer?restype=container&comp=metadata",
		   "/myaccount/mycontainer\ncomp:metadata\nrestype:container");
	/* repeated parameter: one line, values sorted and comma-separated */
	expect_res("myaccount",
		   "http://myaccount.blob.core.windows.net/mycontainer?restype=container&comp=list"
		   "&include=snapshots&include=metadata&include=uncommittedblobs",
		   "/myaccount/mycontainer\ncomp:list\ninclude:metadata,snapshots,uncommittedblobs"
		   "\nrestype:container");
	/* the secondary location signs with the primary account name */
	expect_res("myaccount", "https://myaccount-secondary.blob.core.windows.net/mycontainer/myblob",
		   "/myaccount/mycontainer/myblob");
	/* the emulator's path style repeats the account: it is part of the URI path */
	expect_res("devstoreaccount1",
		   "http://127.0.0.1:10000/devstoreaccount1/mycontainer?restype=container",
		   "/devstoreaccount1/devstoreaccount1/mycontainer\nrestype:container");
}

/* Create Container on Azurite as the backend sends it: PUT, no body, Content-Length empty. */
static void test_zero_length_put(void **st)
{
	const char *hdrs[] = { "x-ms-date: Wed, 25 Nov 2026 12:00:00 GMT", "x-ms-version: 2023-11-03", NULL };
	const char *want = "PUT\n\n\n\n\n\n\n\n\n\n\n\n"
			   "x-ms-date:Wed, 25 Nov 2026 12:00:00 GMT\nx-ms-version:2023-11-03\n"
			   "/devstoreaccount1/devstoreaccount1/kubedb\nrestype:container";
	const char *old[] = { "x-ms-date: Wed, 25 Nov 2026 12:00:00 GMT", "x-ms-version: 2009-09-19", NULL };
	const char *explicit0[] = { "Content-Length: 0", "x-ms-version: 2023-11-03", NULL };

	(void)st;
	expect_sts("PUT", "devstoreaccount1",
		   "http://127.0.0.1:10000/devstoreaccount1/kubedb?restype=container", hdrs, 0, want);
	expect_sig(want, "t4Xe1PT7UTUXykTQIVhqO526K/7z6xSZQwFTNBNgSgs=");
	/* before 2015-02-21 a zero length was signed as "0" */
	expect_sts("PUT", "a", "http://h/c", old, 0,
		   "PUT\n\n\n0\n\n\n\n\n\n\n\n\n"
		   "x-ms-date:Wed, 25 Nov 2026 12:00:00 GMT\nx-ms-version:2009-09-19\n/a/c");
	/* an explicit Content-Length: 0 header is empty too */
	expect_sts("PUT", "a", "http://h/c", explicit0, 0,
		   "PUT\n\n\n\n\n\n\n\n\n\n\n\nx-ms-version:2023-11-03\n/a/c");
}

/* A Put Block with a body: length, type and MD5 in their slots; x-ms- headers lowercased, sorted, folded. */
static void test_standard_and_ms_headers(void **st)
{
	const char *hdrs[] = {
		"X-MS-Version: 2023-11-03", "Content-Type: application/octet-stream",
		"x-ms-blob-type: BlockBlob",
		"Content-MD5: 1B2M2Y8AsgTpgAmY7PhCfg==", "x-ms-date:   Wed, 25 Nov 2026 12:00:00 GMT  ",
		"x-ms-meta-note: a   b\t c", "Range: bytes=0-9", "If-Match: \"0x1\"", "Host: ignored", NULL,
	};

	(void)st;
	expect_sts("PUT", "acct", "https://acct.blob.core.windows.net/c/dir/file.sql", hdrs, 1048576,
		   "PUT\n\n\n1048576\n1B2M2Y8AsgTpgAmY7PhCfg==\napplication/octet-stream\n\n\n\"0x1\"\n\n\n"
		   "bytes=0-9\n"
		   "x-ms-blob-type:BlockBlob\nx-ms-date:Wed, 25 Nov 2026 12:00:00 GMT\n"
		   "x-ms-meta-note:a b c\nx-ms-version:2023-11-03\n/acct/c/dir/file.sql");
}

/* Names are signed as they are encoded in the path; query values are signed decoded. */
static void test_encoded_names(void **st)
{
	(void)st;
	expect_res("acct", "https://acct.blob.core.windows.net/c/a%20b/%C3%A9t%C3%A9.sql?comp=block"
		   "&blockid=c25hcGZzMDAwMDAx%3D%3D",
		   "/acct/c/a%20b/%C3%A9t%C3%A9.sql\nblockid:c25hcGZzMDAwMDAx==\ncomp:block");
	/* List Blobs: upper-case names lowercased, sorted; an encoded marker and prefix decoded; an empty
	 * delimiter value kept */
	expect_res("acct", "http://127.0.0.1:1/acct/c?restype=container&comp=list&Prefix=kubedb%2Fns%2F"
		   "&delimiter=%2F&marker=2%21a%2Bb&maxresults=5&x=",
		   "/acct/acct/c\ncomp:list\ndelimiter:/\nmarker:2!a+b\nmaxresults:5\nprefix:kubedb/ns/\n"
		   "restype:container\nx:");
	/* a bare host gets "/" */
	expect_res("acct", "https://acct.blob.core.windows.net/?comp=list", "/acct/\ncomp:list");
}

static void test_bad_input(void **st)
{
	struct az_sig_in in = { "GET", "a", "not a url", NULL, -1 };

	(void)st;
	assert_null(az_string_to_sign(&in));
	assert_null(az_canon_resource("a", "http://hostonly"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_doc_container_metadata),
		cmocka_unit_test(test_doc_resources),
		cmocka_unit_test(test_zero_length_put),
		cmocka_unit_test(test_standard_and_ms_headers),
		cmocka_unit_test(test_encoded_names),
		cmocka_unit_test(test_bad_input),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
