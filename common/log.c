#include "common/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>

static enum log_level cur_level = LOG_LVL_INFO;
static FILE *log_fp;
static int log_syslog;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static const char *const names[] = { "error", "warn", "info", "debug" };
static __thread int capturing;
static __thread char *captured;

int log_parse_level(const char *s)
{
	for (int i = 0; i < 4; i++)
		if (!strcasecmp(s, names[i]))
			return i;
	if (!strcasecmp(s, "warning"))
		return LOG_LVL_WARN;
	return -1;
}

void log_setup(enum log_level lvl, const char *file, int use_syslog)
{
	cur_level = lvl;
	if (file) {
		FILE *fp = fopen(file, "a");

		if (fp) {
			setvbuf(fp, NULL, _IOLBF, 0);
			log_fp = fp;
		}
	}
	log_syslog = use_syslog && !log_fp;
	if (log_syslog)
		openlog("snapfs", LOG_PID, LOG_DAEMON);
}

int log_enabled(enum log_level lvl)
{
	return lvl <= cur_level;
}

/* The line to the log file or stderr (not syslog); the caller holds log_lock. */
static void emit(enum log_level lvl, const char *line, int to_stderr)
{
	if (log_fp) {
		char ts[32];
		struct timespec now;
		struct tm tm;

		clock_gettime(CLOCK_REALTIME, &now);
		gmtime_r(&now.tv_sec, &tm);
		strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
		fprintf(log_fp, "%s.%03ldZ %s: %s\n", ts, now.tv_nsec / 1000000, names[lvl], line);
	} else if (to_stderr) {
		fprintf(stderr, "snapfs: %s%s\n", lvl <= LOG_LVL_WARN ? (lvl ? "warning: " : "error: ") : "", line);
	}
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
	int catch = capturing && lvl <= LOG_LVL_WARN;
	char line[2048];
	va_list ap;

	if (!log_enabled(lvl) && !catch)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (catch && !captured)
		captured = strdup(line);
	if (!log_enabled(lvl))
		return;
	if (log_syslog) {
		syslog(prio[lvl], "%s", line);
		return;
	}
	pthread_mutex_lock(&log_lock);
	emit(lvl, line, !catch);
	pthread_mutex_unlock(&log_lock);
}

void log_fatal(const char *fmt, ...)
{
	char line[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&log_lock);
	fprintf(stderr, "snapfs: %s\n", line);
	if (log_fp)
		emit(LOG_LVL_ERROR, line, 0);
	pthread_mutex_unlock(&log_lock);
}

void log_capture_begin(void)
{
	free(captured);
	captured = NULL;
	capturing = 1;
}

char *log_capture_end(void)
{
	char *line = captured;

	captured = NULL;
	capturing = 0;
	return line;
}
