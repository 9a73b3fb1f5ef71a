/* snapctl: list, inspect and delete KubeDB snapshots straight in the store (no mount needed), and watch the
 * uploads of a running mount. The store is reached through the same backend table as the daemon. */
#ifndef SNAPCTL_H
#define SNAPCTL_H

#include "backends/backend.h"
#include "backends/secret.h"

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define SC_ROOT "kubedb"
#define STATUS_PATH "/.snapfs/status"
/* wal-g's WAL archive lives beside the snapshots of a database: not a snapshot */
#define SC_ARCHIVE "archive"

struct sc_opts {
	const char *secret_dir, *endpoint, *region, *addressing;
	int timeout_s, retries;
	int json;        /* -o json */
	int yes;         /* rm: no question */
	int force;       /* rm: even while uploads run */
	int all;         /* ls: the WAL archive folders too */
	int watch;       /* status: redraw until interrupted */
	int count;       /* status --watch: stop after this many screens (0: never) */
	double interval; /* status --watch: seconds between screens */
	int max_wait_s;  /* wait: give up after this long (0: never) */
	unsigned jobs;   /* verify: parallel ranged GETs */
	uint64_t part_size; /* verify: the mount's --part-size, for multipart ETags (0: its default) */
	int dry_run;     /* prune: only say what would go (the default without --yes) */
	int keep[4];     /* prune: --keep-last, --keep-daily, --keep-weekly, --keep-monthly (-1: not given) */
	const char *cache_dir; /* failed, retry, discard: the mount's --cache-dir */
};

struct sc_store {
	char *url;
	struct source src;
	struct secret sec;
	struct backend_conf conf;
	struct backend b;
	const struct backend_ops *ops;
	int opened;
};

/* Parse SOURCE, load the secret, open the backend. Prints the one-line reason and returns 1 on failure. */
int sc_store_open(struct sc_store *st, const char *url, const struct sc_opts *o);
void sc_store_close(struct sc_store *st);
/* "s3:bucket", "local:/dir" as kubedb describe shows a store; "bucket/prefix/key" or "/dir/key" for a key */
void sc_store_name(const struct sc_store *st, char *buf, size_t cap);
char *sc_object_path(const struct sc_store *st, const char *key);

struct sc_file {
	char *name;        /* relative to the snapshot folder */
	struct obj_info oi;
};

struct sc_snap {
	char *ns, *db, *name;
	unsigned files;
	uint64_t size;
	time_t mtime;
	unsigned uploads;          /* uploads in progress below it */
	uint64_t upload_bytes;
	struct sc_file *f;         /* with want_files: objects, then markers */
	size_t nf;
	struct sc_file *up;        /* with want_files: uploads in progress */
	size_t nup;
};

struct sc_snaps {
	struct sc_snap *v;
	size_t n, cap;
	int uploads_known;         /* the store can tell uploads in progress */
};

/* The snapshots below kubedb/[ns/[db/[snap/]]] (NULLs for the levels not given), sorted by namespace,
 * database and name. want_files keeps every key. Returns 0 or -errno. */
int sc_snaps_collect(struct sc_store *st, const char *ns, const char *db, const char *snap, int want_files,
		     int with_archive, struct sc_snaps *out);
void sc_snaps_free(struct sc_snaps *s);
/* The one snapshot "NS/DB/SNAP" (ref) in the store url names, with its files, in s->v[0]. Returns 0, 1 with
 * the reason printed, or 2 for a malformed ref; the caller frees st, ns, db, snap and s whatever it returns. */
int sc_snap_find(const char *url, const char *ref, const struct sc_opts *o, struct sc_store *st, char **ns,
		 char **db, char **snap, struct sc_snaps *s);
/* Delete every object of sn (collected with its files) and check none is left; 0, or 1 with the reason printed. */
int sc_snap_delete(struct sc_store *st, const struct sc_snap *sn);
const char *sc_snap_status(const struct sc_snaps *s, const struct sc_snap *sn);
/* The keys of a snapshot (collected with want_files) that no mount can show, with the reason
 * (fs/layout.c: layout_unreachable): fn per key; returns how many, or -ENOMEM. */
int sc_snap_unreachable(const struct sc_snap *sn, void (*fn)(void *arg, const char *key, const char *why),
			void *arg);
/* "demo/pg/snap1" -> parts; 0 or 1 with a message printed */
int sc_parse_snap_ref(const char *ref, int need, char **ns, char **db, char **snap);

/* formatting */
const char *sc_human(uint64_t n, char *buf, size_t cap);
const char *sc_time(time_t t, char *buf, size_t cap);
int sc_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* commands: argc/argv start at the command's first argument */
int cmd_ls(int argc, char **argv, const struct sc_opts *o);
int cmd_describe(int argc, char **argv, const struct sc_opts *o);
int cmd_rm(int argc, char **argv, const struct sc_opts *o);
int cmd_status(int argc, char **argv, const struct sc_opts *o);
int cmd_wait(int argc, char **argv, const struct sc_opts *o);
int cmd_verify(int argc, char **argv, const struct sc_opts *o);
int cmd_prune(int argc, char **argv, const struct sc_opts *o);
int cmd_failed(int argc, char **argv, const struct sc_opts *o);
int cmd_retry(int argc, char **argv, const struct sc_opts *o);
int cmd_discard(int argc, char **argv, const struct sc_opts *o);

/* The status document of the mount at mnt (MOUNTPOINT/.snapfs/status), malloc'd; NULL with *err set. */
char *sc_read_status(const char *mnt, int *err);

#endif
