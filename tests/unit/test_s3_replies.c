/* The S3 backend's reply parsing and request bodies, with replies shaped as S3 documents them, and the
 * hostile ones: anything malformed is -EIO, never a crash; a 200 that carries an <Error> is an error. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "backends/http.h"
#include "backends/s3/s3_priv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIB (1024ULL * 1024)
#define GIB (1024 * MIB)
#define HDR "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"

struct seen {
	char names[16][128];
	struct obj_info oi[16];
	int n, stop_at;
};

static int collect(void *arg, const char *key, const struct obj_info *oi)
{
	struct seen *s = arg;

	if (s->n < 16) {
		snprintf(s->names[s->n], sizeof(s->names[0]), "%s", key);
		s->oi[s->n] = *oi;
	}
	s->n++;
	return s->stop_at && s->n >= s->stop_at;
}

static int parse_list(const char *xml, struct seen *s, char **next)
{
	return s3_parse_list(xml, strlen(xml), collect, s, next);
}

static void test_list_page(void **state)
{
	/* Contents and CommonPrefixes come in two sorted runs: callers get one sorted sequence */
	const char *xml = HDR "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
		"<Name>kubedb</Name><Prefix>p/</Prefix><KeyCount>4</KeyCount><MaxKeys>4</MaxKeys>"
		"<Delimiter>/</Delimiter><IsTruncated>true</IsTruncated>"
		"<Contents><Key>p/a.sql</Key><LastModified>2026-11-25T16:21:20.000Z</LastModified>"
		"<ETag>&quot;9b2cf535f27731c974343645a3985328&quot;</ETag><Size>5368709120</Size>"
		"<StorageClass>STANDARD</StorageClass></Contents>"
		"<Contents><Key>p/c&amp;d.sql</Key><LastModified>2026-11-25T16:21:21.000Z</LastModified>"
		"<ETag>\"abc-3\"</ETag><Size>0</Size></Contents>"
		"<CommonPrefixes><Prefix>p/b/</Prefix></CommonPrefixes>"
		"<CommonPrefixes><Prefix>p/e/</Prefix></CommonPrefixes>"
		"<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>"
		"</ListBucketResult>";
	struct seen s = { 0 };
	char *next = NULL;

	assert_int_equal(parse_list(xml, &s, &next), 0);
	assert_int_equal(s.n, 4);
	assert_string_equal(s.names[0], "p/a.sql");
	assert_string_equal(s.names[1], "p/b/");
	assert_string_equal(s.names[2], "p/c&d.sql");
	assert_string_equal(s.names[3], "p/e/");
	assert_false(s.oi[0].is_dir);
	assert_true(s.oi[1].is_dir);
	assert_true(s.oi[0].size == 5 * GIB);
	assert_int_equal(s.oi[0].mtime, 1795623680);
	assert_string_equal(s.oi[0].etag, "9b2cf535f27731c974343645a3985328");
	assert_string_equal(s.oi[2].etag, "abc-3");
	assert_string_equal(next, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
	free(next);

	/* the callback stops the walk */
	memset(&s, 0, sizeof(s));
	s.stop_at = 2;
	assert_int_equal(parse_list(xml, &s, &next), 1);
	assert_int_equal(s.n, 2);
	free(next);
}

static void test_list_last_page(void **state)
{
	struct seen s = { 0 };
	char *next = (char *)1;

	assert_int_equal(parse_list(HDR "<ListBucketResult><Name>b</Name><IsTruncated>false</IsTruncated>"
				    "</ListBucketResult>", &s, &next), 0);
	assert_int_equal(s.n, 0);
	assert_null(next);
}

static void test_list_malformed(void **state)
{
	static const char *const bad[] = {
		"",
		"not xml at all",
		HDR "<ListBucketResult><Contents><Key>a</Key><Size>1</Size></Contents>",       /* cut short */
		HDR "<Error><Code>InternalError</Code></Error>",                                /* not a listing */
		HDR "<ListBucketResult><Contents><Size>1</Size></Contents></ListBucketResult>",  /* no key */
		HDR "<ListBucketResult><Contents><Key>a</Key><Size>-1</Size></Contents></ListBucketResult>",
		HDR "<ListBucketResult><Contents><Key>a</Key><Size>12x</Size></Contents></ListBucketResult>",
		HDR "<ListBucketResult><Contents><Key>a</Key></Contents></ListBucketResult>",    /* no size */
		HDR "<ListBucketResult><CommonPrefixes></CommonPrefixes></ListBucketResult>",
		/* truncated, but nothing to continue from: keys would silently go missing */
		HDR "<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>",
		HDR "<ListBucketResult><IsTruncated>true</IsTruncated><NextContinuationToken></NextContinuationToken>"
		"</ListBucketResult>",
		/* an entity bomb must not expand */
		HDR "<!DOCTYPE x [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">]>"
		"<ListBucketResult><Contents><Key>&b;</Key><Size>x</Size></Contents></ListBucketResult>",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct seen s = { 0 };
		char *next = NULL;

		print_message("  case %zu\n", i);
		assert_int_equal(s3_parse_list(bad[i], strlen(bad[i]), collect, &s, &next), -EIO);
		assert_null(next);
	}
}

static void test_error_doc(void **state)
{
	const char *xml = HDR "<Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message>"
		"<BucketName>nope</BucketName><RequestId>4442587FB7D0A2F9</RequestId></Error>";
	char code[S3_CODE_MAX], *msg = NULL;

	assert_int_equal(s3_parse_error(xml, strlen(xml), code, &msg), 0);
	assert_string_equal(code, "NoSuchBucket");
	assert_string_equal(msg, "The specified bucket does not exist");
	free(msg);
	assert_int_equal(s3_parse_error("", 0, code, &msg), -ENOENT);
	assert_null(msg);
	assert_string_equal(code, "");
	assert_int_equal(s3_parse_error("<html>502</html>", 16, code, NULL), -ENOENT);

	assert_int_equal(s3_code_errno("NoSuchKey"), -ENOENT);
	assert_int_equal(s3_code_errno("NoSuchUpload"), -ENOENT);
	assert_int_equal(s3_code_errno("AccessDenied"), -EACCES);
	assert_int_equal(s3_code_errno("SignatureDoesNotMatch"), -EACCES);
	assert_int_equal(s3_code_errno("InvalidAccessKeyId"), -EACCES);
	assert_int_equal(s3_code_errno("NotImplemented"), -ENOTSUP);
	assert_int_equal(s3_code_errno("EntityTooLarge"), -EFBIG);
	assert_int_equal(s3_code_errno("SomethingNew"), 0);
	assert_int_equal(s3_code_errno(NULL), 0);
}

static void test_upload_id(void **state)
{
	const char *xml = HDR "<InitiateMultipartUploadResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
		"<Bucket>kubedb</Bucket><Key>a/b</Key>"
		"<UploadId>VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA</UploadId>"
		"</InitiateMultipartUploadResult>";
	char *id = NULL;

	assert_int_equal(s3_parse_upload_id(xml, strlen(xml), &id), 0);
	assert_string_equal(id, "VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA");
	free(id);
	assert_int_equal(s3_parse_upload_id("<InitiateMultipartUploadResult/>", 32, &id), -EIO);
	assert_null(id);
	assert_int_equal(s3_parse_upload_id("<InitiateMultipartUploadResult><UploadId></UploadId>"
					    "</InitiateMultipartUploadResult>", 84, &id), -EIO);
	assert_int_equal(s3_parse_upload_id("garbage", 7, &id), -EIO);
}

/* CompleteMultipartUpload and the copies answer 200 before their work is done: the verdict is the body */
static void test_result_or_error(void **state)
{
	const char *ok = HDR "<CompleteMultipartUploadResult><Location>http://x/kubedb/a</Location>"
		"<Bucket>kubedb</Bucket><Key>a</Key><ETag>\"3858f62230ac3c915f300c664312c11f-9\"</ETag>"
		"</CompleteMultipartUploadResult>";
	const char *busy = HDR "<Error><Code>InternalError</Code><Message>We encountered an internal error. "
		"Please try again.</Message></Error>";
	const char *part = HDR "<Error><Code>InvalidPart</Code><Message>One or more of the specified parts "
		"could not be found.</Message></Error>";
	const char *copy = HDR "<CopyPartResult><LastModified>2009-10-28T22:32:00.000Z</LastModified>"
		"<ETag>\"9b2cf535f27731c974343645a3985328\"</ETag></CopyPartResult>";
	char code[S3_CODE_MAX], *etag = NULL;

	assert_int_equal(s3_parse_result(ok, strlen(ok), "CompleteMultipartUploadResult", &etag, code), 0);
	assert_string_equal(etag, "\"3858f62230ac3c915f300c664312c11f-9\"");
	free(etag);
	assert_int_equal(s3_parse_result(busy, strlen(busy), "CompleteMultipartUploadResult", NULL, code), -EAGAIN);
	assert_string_equal(code, "InternalError");
	assert_int_equal(s3_parse_result(part, strlen(part), "CompleteMultipartUploadResult", NULL, code), -EIO);
	assert_string_equal(code, "InvalidPart");
	assert_int_equal(s3_parse_result(copy, strlen(copy), "CopyPartResult", &etag, code), 0);
	assert_string_equal(etag, "\"9b2cf535f27731c974343645a3985328\"");
	free(etag);
	/* the wrong document, an empty body (a connection cut after the 200), garbage */
	assert_int_equal(s3_parse_result(copy, strlen(copy), "CopyObjectResult", &etag, code), -EIO);
	assert_null(etag);
	assert_int_equal(s3_parse_result("", 0, "CompleteMultipartUploadResult", NULL, code), -EIO);
	assert_int_equal(s3_parse_result("   \n  ", 6, "CompleteMultipartUploadResult", NULL, code), -EIO);
	assert_int_equal(s3_parse_result("<CompleteMultipartUploadResult>", 31, "CompleteMultipartUploadResult",
					 NULL, code), -EIO);
}

static void test_delete_result(void **state)
{
	const char *fine = HDR "<DeleteResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"></DeleteResult>";
	const char *missing = HDR "<DeleteResult><Error><Key>gone</Key><Code>NoSuchKey</Code>"
		"<Message>The specified key does not exist.</Message></Error></DeleteResult>";
	const char *denied = HDR "<DeleteResult><Deleted><Key>a</Key></Deleted><Error><Key>gone</Key>"
		"<Code>NoSuchKey</Code></Error><Error><Key>locked/x</Key><Code>AccessDenied</Code>"
		"<Message>Access Denied</Message></Error></DeleteResult>";
	const char *odd = HDR "<DeleteResult><Error><Key>k</Key><Code>InternalError</Code></Error></DeleteResult>";
	char code[S3_CODE_MAX], *bad = NULL;

	assert_int_equal(s3_parse_delete(fine, strlen(fine), code, &bad), 0);
	assert_null(bad);
	assert_int_equal(s3_parse_delete(missing, strlen(missing), code, &bad), 0);
	assert_null(bad);
	assert_int_equal(s3_parse_delete(denied, strlen(denied), code, &bad), -EACCES);
	assert_string_equal(code, "AccessDenied");
	assert_string_equal(bad, "locked/x");
	free(bad);
	assert_int_equal(s3_parse_delete(odd, strlen(odd), code, &bad), -EAGAIN);   /* sent again */
	free(bad);
	assert_int_equal(s3_parse_delete("", 0, code, &bad), -EIO);
	assert_int_equal(s3_parse_delete("<Error><Code>NotImplemented</Code></Error>", 42, code, &bad), -EIO);
}

static void test_uploads(void **state)
{
	const char *xml = HDR "<ListMultipartUploadsResult><Bucket>kubedb</Bucket><KeyMarker></KeyMarker>"
		"<NextKeyMarker>p/b</NextKeyMarker><NextUploadIdMarker>id2</NextUploadIdMarker>"
		"<IsTruncated>true</IsTruncated>"
		"<Upload><Key>p/a</Key><UploadId>id1</UploadId><Initiated>2010-11-10T20:48:33.000Z</Initiated></Upload>"
		"<Upload><Key>p/b</Key><UploadId>id2</UploadId><Initiated>2010-11-10T20:49:33.000Z</Initiated></Upload>"
		"</ListMultipartUploadsResult>";
	struct seen s = { 0 };
	char *nk = NULL, *ni = NULL;

	assert_int_equal(s3_parse_uploads(xml, strlen(xml), collect, &s, &nk, &ni), 0);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.names[1], "p/b");
	assert_int_equal(s.oi[0].mtime, 1289422113);
	assert_string_equal(nk, "p/b");
	assert_string_equal(ni, "id2");
	free(nk);
	free(ni);
	assert_int_equal(s3_parse_uploads("<x/>", 4, collect, &s, &nk, &ni), -EIO);
	assert_int_equal(s3_parse_uploads("<ListMultipartUploadsResult><IsTruncated>true</IsTruncated>"
					  "</ListMultipartUploadsResult>", 89, collect, &s, &nk, &ni), -EIO);
	assert_null(nk);
	assert_null(ni);
}

static unsigned part_sum, part_n;

static int count_part(void *arg, unsigned pn, const char *etag, uint64_t size)
{
	(void)arg;
	assert_true(etag[0] == '"');
	part_sum += pn;
	part_n++;
	return size == 5242880 || size == 100 ? 0 : -EIO;
}

/* ListParts, as `snapctl retry` reads a kept upload */
static void test_parts(void **state)
{
	const char *xml = HDR "<ListPartsResult><Bucket>kubedb</Bucket><Key>k</Key><UploadId>u</UploadId>"
		"<NextPartNumberMarker>2</NextPartNumberMarker><IsTruncated>true</IsTruncated>"
		"<Part><PartNumber>1</PartNumber><ETag>&quot;a&quot;</ETag><Size>5242880</Size></Part>"
		"<Part><PartNumber>2</PartNumber><ETag>\"b\"</ETag><Size>100</Size></Part></ListPartsResult>";
	const char *no_etag = "<ListPartsResult><Part><PartNumber>1</PartNumber></Part></ListPartsResult>";
	const char *zero = "<ListPartsResult><Part><PartNumber>0</PartNumber><ETag>x</ETag></Part></ListPartsResult>";
	const char *no_marker = "<ListPartsResult><IsTruncated>true</IsTruncated></ListPartsResult>";
	unsigned max = 0;
	char *next = NULL;

	(void)state;
	assert_int_equal(s3_parse_parts(xml, strlen(xml), count_part, NULL, &max, &next), 0);
	assert_int_equal(part_n, 2);
	assert_int_equal(part_sum, 3);
	assert_int_equal(max, 2);
	assert_string_equal(next, "2");
	free(next);
	assert_int_equal(s3_parse_parts(no_etag, strlen(no_etag), count_part, NULL, &max, &next), -EIO);
	assert_int_equal(s3_parse_parts(zero, strlen(zero), count_part, NULL, &max, &next), -EIO);
	assert_int_equal(s3_parse_parts(no_marker, strlen(no_marker), count_part, NULL, &max, &next), -EIO);
	assert_null(next);
	assert_int_equal(s3_parse_parts("<x/>", 4, count_part, NULL, &max, &next), -EIO);
}

static void test_location(void **state)
{
	static const struct {
		const char *xml, *region;
	} cases[] = {
		{ HDR "<LocationConstraint xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">eu-central-1"
		      "</LocationConstraint>", "eu-central-1" },
		{ HDR "<LocationConstraint xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"/>", "us-east-1" },
		{ "<LocationConstraint>EU</LocationConstraint>", "eu-west-1" },
		{ "<LocationConstraint>US</LocationConstraint>", "us-east-1" },
	};
	char *r = NULL;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(s3_parse_location(cases[i].xml, strlen(cases[i].xml), &r), 0);
		assert_string_equal(r, cases[i].region);
		free(r);
	}
	assert_int_equal(s3_parse_location("<Error/>", 8, &r), -EIO);
	assert_null(r);
}

static void test_bodies(void **state)
{
	const char *keys[] = { "a/b.sql", "x&y<z>\"'.txt", "" };
	char *etags[] = { "\"e1\"", "\"e2\"" };
	char *d = s3_delete_body(keys, 3), *c = s3_complete_body(etags, 2);

	assert_string_equal(d, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Delete><Quiet>true</Quiet>"
			       "<Object><Key>a/b.sql</Key></Object>"
			       "<Object><Key>x&amp;y&lt;z&gt;&quot;&apos;.txt</Key></Object>"
			       "<Object><Key></Key></Object></Delete>");
	assert_string_equal(c, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CompleteMultipartUpload>"
			       "<Part><PartNumber>1</PartNumber><ETag>&quot;e1&quot;</ETag></Part>"
			       "<Part><PartNumber>2</PartNumber><ETag>&quot;e2&quot;</ETag></Part>"
			       "</CompleteMultipartUpload>");
	free(d);
	free(c);
}

static void test_dates(void **state)
{
	assert_int_equal(s3_parse_iso8601("2026-11-25T16:21:20.000Z"), 1795623680);
	assert_int_equal(s3_parse_iso8601("2026-11-25T16:21:20Z"), 1795623680);
	assert_int_equal(s3_parse_iso8601("yesterday"), 0);
	assert_int_equal(http_date("Wed, 25 Nov 2026 16:21:20 GMT"), 1795623680);
	assert_int_equal(http_date("garbage"), 0);
}

/* UploadPartCopy ranges: at most 5 GiB each, all but the last equal, none below 5 MiB */
static void test_split(void **state)
{
	uint64_t off[8], len[8];
	static const uint64_t sizes[] = { 5 * MIB, 5 * GIB, 5 * GIB + 1, 10 * GIB + 7, 23 * GIB + 12345 };

	assert_int_equal(s3_split(0, 5 * GIB, off, len), 0);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		unsigned n = s3_split(sizes[i], 5 * GIB, off, len);
		uint64_t total = 0;

		assert_int_equal(n, (sizes[i] + 5 * GIB - 1) / (5 * GIB));
		assert_int_equal(s3_split(sizes[i], 5 * GIB, NULL, NULL), n);
		for (unsigned j = 0; j < n; j++) {
			assert_true(off[j] == total);
			assert_true(len[j] <= 5 * GIB);
			assert_true(len[j] >= 5 * MIB);
			if (j + 1 < n)
				assert_true(len[j] == len[0]);
			total += len[j];
		}
		assert_true(total == sizes[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_list_page),
		cmocka_unit_test(test_list_last_page),
		cmocka_unit_test(test_list_malformed),
		cmocka_unit_test(test_error_doc),
		cmocka_unit_test(test_upload_id),
		cmocka_unit_test(test_result_or_error),
		cmocka_unit_test(test_delete_result),
		cmocka_unit_test(test_uploads),
		cmocka_unit_test(test_parts),
		cmocka_unit_test(test_location),
		cmocka_unit_test(test_bodies),
		cmocka_unit_test(test_dates),
		cmocka_unit_test(test_split),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
