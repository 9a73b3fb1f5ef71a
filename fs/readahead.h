/* The kernel's read-ahead for the mount: FUSE caps it at the block-device default (128 KiB) whatever
 * the daemon asks for at init, so the mount's bdi is raised through sysfs (root only). */
#ifndef SNAPFS_READAHEAD_H
#define SNAPFS_READAHEAD_H

/* One FUSE request's worth (max_write and max_pages are 1 MiB too): a read-ahead comes as one request. */
#define SNAPFS_READAHEAD_KIB 1024

/* "MAJ:MIN" of the filesystem mounted last at mountpoint, from a mountinfo text; 0 or -ENOENT. */
int readahead_mountinfo_dev(const char *mountinfo, const char *mountpoint, char *dev, unsigned devlen);
/* Set the mount's kernel read-ahead to kib. 0 or -errno; the mount works either way. */
int readahead_set(const char *mountpoint, unsigned kib);

/* Set another of the mount's bdi attributes in sysfs (max_bytes: its share of dirty pages). */
int readahead_bdi_set(const char *mountpoint, const char *attr, unsigned long long v);

#endif
