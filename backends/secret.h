/* Credentials from --secret-dir: one file per key, as a Kubernetes Secret volume or
 * `kubectl create secret generic --from-file` lays them out. Values are never logged. */
#ifndef SNAPFS_SECRET_H
#define SNAPFS_SECRET_H

struct secret_kv {
	char *key;
	char *val;
};

struct secret {
	struct secret_kv *kv;
	unsigned n;
};

/* Load every regular file of dir (NULL: an empty secret). One trailing newline (or CRLF) is trimmed,
 * at debug level without the value. Files readable by group/others draw a warning.
 * On error returns -errno and sets *why. */
int secret_load(struct secret *s, const char *dir, char **why);
void secret_free(struct secret *s);
/* The value of key from the secret dir, else from the environment, else NULL. */
const char *secret_get(const struct secret *s, const char *key);
/* Like secret_get but an empty value counts as missing. */
const char *secret_need(const struct secret *s, const char *key);

#endif
