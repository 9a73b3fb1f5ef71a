/* Logging: stderr in the foreground, a file with --log-file, syslog once daemonized.
 * Never pass a secret to these functions; backends log key ids at most. */
#ifndef SNAPFS_LOG_H
#define SNAPFS_LOG_H

enum log_level { LOG_LVL_ERROR = 0, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

int log_parse_level(const char *s);                 /* -1 if unknown */
void log_setup(enum log_level lvl, const char *file, int use_syslog);
int log_enabled(enum log_level lvl);
void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) do { if (log_enabled(LOG_LVL_DEBUG)) log_msg(LOG_LVL_DEBUG, __VA_ARGS__); } while (0)

#endif
