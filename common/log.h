/* Logging: stderr in the foreground, a file with --log-file, syslog once daemonized.
 * Never pass a secret to these functions; backends log key ids at most. */
#ifndef SNAPFS_LOG_H
#define SNAPFS_LOG_H

enum log_level { LOG_LVL_ERROR = 0, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

int log_parse_level(const char *s);                 /* -1 if unknown */
void log_setup(enum log_level lvl, const char *file, int use_syslog);
int log_enabled(enum log_level lvl);
void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A failed mount's one-line reason: "snapfs: LINE" on stderr, and in --log-file too at any --log-level
 * (a mount started by a script or a kubelet may show only the log file). */
void log_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A mount-time check (the store probe) gives the store's own words in its one-line failure. Between
 * log_capture_begin and log_capture_end, this thread's warnings and errors still reach a log file but
 * not stderr, and the first of them, at any --log-level, is kept: log_capture_end hands it back
 * (malloc'd; NULL when none came). */
void log_capture_begin(void);
char *log_capture_end(void);

#define log_error(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) do { if (log_enabled(LOG_LVL_DEBUG)) log_msg(LOG_LVL_DEBUG, __VA_ARGS__); } while (0)

#endif
