/* libFuzzer: the GCS JSON API reply parsers (an objects.list page, an object resource), the OAuth2
 * token reply and the service-account key (oauth2.h), reached through backends/gcs/gcs_priv.h. */
#include "fuzz_common.h"

#include "backends/gcs/gcs_priv.h"
#include "backends/gcs/oauth2.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *j = json_loadb((const char *)data, size, 0, NULL);
	char *cstr, *tok = NULL, *why = NULL;
	size_t sum = 0;
	long ttl = 0;

	if (json_is_object(j)) {
		static const char *const prefixes[] = { "", "kubedb/" };

		for (size_t i = 0; i < 2; i++) {
			struct gcs_lister l = { .prefix = prefixes[i], .plen = strlen(prefixes[i]), .fn = fuzz_entry,
					    .arg = &sum, .limit = i ? 2 : 0 };
			char *next = NULL;

			gcs_list_page(&l, j, &next);
			free(next);
		}
		{
			struct obj_info oi;

			if (!gcs_obj_from_json(j, &oi))
				sum += oi.size + strlen(oi.etag);
		}
	}
	json_decref(j);
	cstr = fuzz_cstr(data, size);
	if (cstr) {
		for (long st = 200; st <= 400; st += 200) {
			if (!oauth2_parse_token_reply(st, cstr, &tok, &ttl, &why))
				sum += strlen(tok) + (size_t)ttl;
			free(tok);
			free(why);
			tok = why = NULL;
		}
		/* the service-account key file is input too (a secret file anyone may have mangled) */
		if (strstr(cstr, "private_key")) {
			struct oauth2_key k;

			memset(&k, 0, sizeof(k));
			if (!oauth2_key_parse(cstr, &k, &why))
				sum += k.client_email ? strlen(k.client_email) : 0;
			oauth2_key_free(&k);
			free(why);
		}
		free(cstr);
	}
	(void)sum;
	return 0;
}
