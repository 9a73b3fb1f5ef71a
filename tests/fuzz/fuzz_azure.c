/* libFuzzer: the Azure List Blobs page parser. It is static in backends/azure/azure_list.c, so this target
 * compiles that file into itself (the rest of the core comes from the fuzz archive). Exposing the page
 * parser in azure_priv.h would let this include a header instead. */
#include "fuzz_common.h"

#include "backends/azure/azure_list.c"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* the prefix length the listing asked for: names shorter than it must be refused */
	static const size_t plens[] = { 0, 7, 23 };
	size_t sum = 0;

	for (size_t i = 0; i < sizeof(plens) / sizeof(plens[0]); i++) {
		unsigned count = 0;
		char *next = NULL;

		list_page((const char *)data, size, plens[i], i == 2 ? 3 : 0, &count, fuzz_entry, &sum, &next);
		free(next);
	}
	return 0;
}
