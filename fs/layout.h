/* The KubeDB layout rules: the mount root holds only kubedb/; below it NAMESPACE/DATABASE/SNAPSHOT/
 * (Kubernetes names), then any files and folders. Everything the fs layer creates is checked here. */
#ifndef SNAPFS_LAYOUT_H
#define SNAPFS_LAYOUT_H

#include <stddef.h>

#define LAYOUT_ROOT "kubedb"

/* Number of components: "/" 0, "/kubedb" 1, "/kubedb/ns" 2, ... */
int layout_depth(const char *path);
/* May an entry be created at path (is_dir: a folder)? 0, or -EPERM (wrong place) / -EINVAL (bad name)
 * / -ENAMETOOLONG, with a one-line explanation in why (static text or written into whybuf). */
int layout_check_create(const char *path, int is_dir, char *whybuf, size_t whylen);
/* A Kubernetes namespace name (RFC 1123 label: a-z 0-9 '-', alphanumeric at both ends, <= 63). */
int layout_ns_name(const char *name);
/* A database or snapshot name: as a label, but '.' allowed too (<= 63). */
int layout_obj_name(const char *name);
/* Depth at which a path component may be shown: a listed store key whose component is not a valid
 * name for its level (or a file where a folder belongs) is hidden from the tree. */
int layout_visible(int depth, const char *name, int is_dir);
/* Why no file system can show a path component of a store key ("" between two '/', "." or "..",
 * over 255 bytes): a short reason, or NULL when it can be shown. */
const char *layout_unshowable(const char *comp, size_t len);
/* Every key of a set (sorted by strcmp, relative to one folder) that no mount can reach: fn(arg, key,
 * why) per key, with a path component as above, or below a name that is also a file ("a" and "a/b":
 * "a" is the file, a/b cannot be reached). Folder markers ("x/") count as the folder x. */
void layout_unreachable(char *const *keys, size_t n, void (*fn)(void *arg, const char *key, const char *why),
			void *arg);

#endif
