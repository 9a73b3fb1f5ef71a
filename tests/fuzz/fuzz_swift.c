/* libFuzzer: the Swift reply parsers: Keystone v2 and v3 token replies (swift_auth.h) and a container
 * listing page, which is static in backends/swift/swift_list.c: this target compiles that file into itself
 * (exposing the page parser in swift_priv.h would let it include a header instead). */
#include "fuzz_common.h"

#include "backends/swift/swift_list.c"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const regions[] = { NULL, "RegionOne" };
	const char *body = (const char *)data;
	size_t sum = 0;
	char *cstr;

	for (size_t i = 0; i < 2; i++) {
		char *tok = NULL, *url = NULL, *why = NULL;
		time_t exp = 0;

		sw_parse_v2(body, size, regions[i], "public", &tok, &url, &exp, &why);
		free(tok);
		free(url);
		free(why);
		url = why = NULL;
		sw_parse_v3(body, size, regions[i], i ? "internal" : "public", &url, &exp, &why);
		free(url);
		free(why);
	}
	for (int v = 0; v < 4; v++) {
		/* a listing of the container root and of a prefix, plain and of the segment scan (only
		 * manifests); dlo_sizes stays 0: it would HEAD each manifest through the (absent) connection */
		struct page_state ps = { .prefix = v & 1 ? "kubedb/" : "", .plen = v & 1 ? 7 : 0,
					 .limit = v & 1 ? 3 : 0, .fn = fuzz_entry, .arg = &sum,
					 .manifests = v >> 1 };

		list_page(NULL, body, size, &ps);
		free(ps.last);
	}
	cstr = fuzz_cstr(data, size);
	if (cstr) {
		sum += (size_t)sw_parse_time(cstr);
		free(cstr);
	}
	(void)sum;
	return 0;
}
