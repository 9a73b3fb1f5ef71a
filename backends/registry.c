#include "backends/backend.h"

#include <stddef.h>
#include <string.h>

/* Weak references: a store whose file is not in this build resolves to NULL and the mount says
 * "not built", so adding a backend touches no other file. The objects are linked directly (CMake
 * object library), never through an archive that would drop unreferenced members. */
extern const struct backend_ops file_backend_ops __attribute__((weak));
extern const struct backend_ops s3_backend_ops __attribute__((weak));
extern const struct backend_ops gcs_backend_ops __attribute__((weak));
extern const struct backend_ops azure_backend_ops __attribute__((weak));
extern const struct backend_ops swift_backend_ops __attribute__((weak));

static const struct {
	const char *scheme;
	const struct backend_ops *ops;
} stores[] = {
	{ "file", &file_backend_ops },
	{ "s3", &s3_backend_ops },
	{ "gs", &gcs_backend_ops },
	{ "azure", &azure_backend_ops },
	{ "swift", &swift_backend_ops },
};

const struct backend_ops *backend_find(const char *scheme)
{
	for (size_t i = 0; i < sizeof(stores) / sizeof(stores[0]); i++)
		if (!strcmp(stores[i].scheme, scheme))
			return stores[i].ops;
	return NULL;
}

int backend_scheme_known(const char *scheme)
{
	for (size_t i = 0; i < sizeof(stores) / sizeof(stores[0]); i++)
		if (!strcmp(stores[i].scheme, scheme))
			return 1;
	return 0;
}
