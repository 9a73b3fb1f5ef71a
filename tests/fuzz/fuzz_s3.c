/* libFuzzer: every S3 reply parser of backends/s3/s3_xml.c (s3_priv.h) on the same bytes, as a hostile
 * server could send them in any reply. */
#include "fuzz_common.h"
#include "backends/http.h"
#include "backends/s3/s3_priv.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const roots[] = { "CopyObjectResult", "CopyPartResult",
					     "CompleteMultipartUploadResult" };
	const char *body = (const char *)data;
	char code[S3_CODE_MAX], *s = NULL, *s2 = NULL, *cstr;
	size_t sum = 0;

	if (s3_parse_error(body, size, code, &s) == 0)
		sum += strlen(code) + (s ? strlen(s) : 0) + (size_t)s3_code_errno(code);
	free(s);
	s = NULL;
	s3_parse_list(body, size, fuzz_entry, &sum, &s);
	free(s);
	s = NULL;
	s3_parse_uploads(body, size, fuzz_entry, &sum, &s, &s2);
	free(s);
	free(s2);
	s = s2 = NULL;
	if (s3_parse_upload_id(body, size, &s) == 0 && s)
		sum += strlen(s);
	free(s);
	s = NULL;
	for (size_t i = 0; i < sizeof(roots) / sizeof(roots[0]); i++) {
		code[0] = 0;
		s3_parse_result(body, size, roots[i], &s, code);
		free(s);
		s = NULL;
	}
	s3_parse_delete(body, size, code, &s);
	free(s);
	s = NULL;
	if (s3_parse_location(body, size, &s) == 0 && s)
		sum += strlen(s);
	free(s);
	/* the date parsers see header values and listing fields */
	cstr = fuzz_cstr(data, size);
	if (cstr) {
		sum += (size_t)s3_parse_iso8601(cstr) + (size_t)http_date(cstr);
		free(cstr);
	}
	(void)sum;
	return 0;
}
