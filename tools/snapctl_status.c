/* snapctl status: the uploads of a running mount, from its read-only MOUNTPOINT/.snapfs/status document. */
#include "tools/snapctl.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BAR 24

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = 1;
}

/* The whole document; the virtual file may claim any size, so read to EOF. */
char *sc_read_status(const char *mnt, int *err)
{
	char *path, *buf = NULL;
	size_t len = 0, cap = 0;
	int fd;

	*err = 0;
	if (asprintf(&path, "%s%s", mnt, STATUS_PATH) < 0) {
		*err = ENOMEM;
		return NULL;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	free(path);
	if (fd < 0) {
		*err = errno;
		return NULL;
	}
	for (;;) {
		ssize_t n;

		if (len + 4096 + 1 > cap) {
			char *nb = realloc(buf, cap = cap ? cap * 2 : 16384);

			if (!nb) {
				*err = ENOMEM;
				goto fail;
			}
			buf = nb;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*err = errno;
			goto fail;
		}
		if (!n)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (!buf)
		buf = calloc(1, 1);
	else
		buf[len] = 0;
	return buf;
fail:
	close(fd);
	free(buf);
	return NULL;
}

static uint64_t num(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	if (json_is_integer(v))
		return json_integer_value(v) < 0 ? 0 : (uint64_t)json_integer_value(v);
	if (json_is_real(v))
		return json_real_value(v) < 0 ? 0 : (uint64_t)json_real_value(v);
	return 0;
}

static const char *str(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

static const char *age(time_t started, char *buf, size_t cap)
{
	long s = started ? (long)(time(NULL) - started) : 0;

	if (s < 0)
		s = 0;
	if (s >= 3600)
		snprintf(buf, cap, "%ldh%02ldm", s / 3600, s / 60 % 60);
	else if (s >= 60)
		snprintf(buf, cap, "%ldm%02lds", s / 60, s % 60);
	else
		snprintf(buf, cap, "%lds", s);
	return buf;
}

static void draw(json_t *doc, const char *mnt, int bars)
{
	json_t *ups = json_object_get(doc, "uploads"), *cache = json_object_get(doc, "cache"),
	       *tot = json_object_get(doc, "totals"), *u;
	char a[32], b[32], c[32], d[32];
	size_t i, wp = 4;

	printf("snapfs %s on %s: %s (up %s)\n", str(doc, "version"), mnt, str(doc, "source"),
	       age(time(NULL) - (time_t)num(doc, "uptime_s"), d, sizeof(d)));
	printf("cache: %s used of %s (peak %s), %llu writer%s waiting\n",
	       sc_human(num(cache, "used"), a, sizeof(a)), sc_human(num(cache, "limit"), b, sizeof(b)),
	       sc_human(num(cache, "peak"), c, sizeof(c)), (unsigned long long)num(cache, "writers_waiting"),
	       num(cache, "writers_waiting") == 1 ? "" : "s");
	printf("files: %llu committed, %llu failed, %s uploaded\n", (unsigned long long)num(tot, "committed"),
	       (unsigned long long)num(tot, "failed"), sc_human(num(tot, "bytes_uploaded"), a, sizeof(a)));
	/* cppcheck-suppress unknownMacro ; jansson's, and cppcheck does not read system headers */
	json_array_foreach(json_object_get(doc, "failed_commits"), i, u)
		printf("NOT stored, upload kept: %s (%s, %s): %s; `snapctl retry` or `snapctl discard`\n",
		       str(u, "path"), sc_human(num(u, "bytes"), a, sizeof(a)), sc_time((time_t)num(u, "at"), b,
		       sizeof(b)), str(u, "reason"));
	if (!json_array_size(ups)) {
		printf("no uploads in progress\n");
		return;
	}
	json_array_foreach(ups, i, u)
		if (strlen(str(u, "path")) > wp)
			wp = strlen(str(u, "path"));
	printf("%-*s  %10s  %10s  %9s  %5s  %12s  %-10s  %7s  %s\n", (int)wp, "FILE", "WRITTEN", "UPLOADED",
	       "IN-FLIGHT", "DONE", "RATE", "STATE", "AGE", "ERROR");
	json_array_foreach(ups, i, u) {
		char rate[40];

		snprintf(rate, sizeof(rate), "%s/s", sc_human(num(u, "rate_bps"), a, sizeof(a)));
		printf("%-*s  %10s  %10s  %9llu  %5llu  %12s  %-10s  %7s  %s\n", (int)wp, str(u, "path"),
		       sc_human(num(u, "bytes_written"), b, sizeof(b)),
		       sc_human(num(u, "bytes_uploaded"), c, sizeof(c)),
		       (unsigned long long)num(u, "parts_in_flight"),
		       (unsigned long long)num(u, "parts_done"), rate, str(u, "state"),
		       age((time_t)num(u, "started"), d, sizeof(d)),
		       *str(u, "error") ? str(u, "error") : "");
	}
	if (!bars)
		return;
	/* the final size of a stream is unknown: the bar shows how much of what was written is stored */
	printf("\n");
	json_array_foreach(ups, i, u) {
		uint64_t w = num(u, "bytes_written"), up = num(u, "bytes_uploaded");
		unsigned fill = w ? (unsigned)((up > w ? w : up) * BAR / w) : 0;
		unsigned pct = w ? (unsigned)(up * 100 / w) : 0;
		char bar[BAR + 1];

		memset(bar, '=', fill);
		memset(bar + fill, ' ', BAR - fill);
		if (fill < BAR && fill)
			bar[fill - 1] = '>';
		bar[BAR] = 0;
		printf("[%s] %3u%%  %s of %s stored  %s\n", bar, pct > 100 ? 100 : pct,
		       sc_human(up, a, sizeof(a)), sc_human(w, b, sizeof(b)), str(u, "path"));
	}
}

int cmd_status(int argc, char **argv, const struct sc_opts *o)
{
	int tty = isatty(STDOUT_FILENO), frames = 0, err;
	struct sigaction sa = { 0 };

	if (argc != 1) {
		fputs("usage: snapctl status MOUNTPOINT [--watch] (see snapctl status --help)\n", stderr);
		return 2;
	}
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	for (;;) {
		char *text = sc_read_status(argv[0], &err);
		json_error_t je;
		json_t *doc;

		if (!text)
			return sc_fail("%s is not a running snapfs mount (%s%s: %s)", argv[0], argv[0],
				       STATUS_PATH, strerror(err));
		if (o->json && !o->watch) {
			fputs(text, stdout);
			free(text);
			return 0;
		}
		doc = json_loads(text, 0, &je);
		free(text);
		if (!json_is_object(doc)) {
			json_decref(doc);
			return sc_fail("%s%s: not a status document (%s)", argv[0], STATUS_PATH, je.text);
		}
		if (o->watch && tty)
			printf("\033[H\033[J");
		if (o->json) {
			json_dumpf(doc, stdout, JSON_COMPACT);
			putchar('\n');
		} else {
			draw(doc, argv[0], o->watch);
		}
		json_decref(doc);
		fflush(stdout);
		frames++;
		if (!o->watch || stop || (o->count && frames >= o->count))
			break;
		{
			struct timespec ts = { (time_t)o->interval,
					       (long)((o->interval - (double)(time_t)o->interval) * 1e9) };

			nanosleep(&ts, NULL);
		}
		if (stop)
			break;
		if (!tty && !o->json)
			printf("\n");
	}
	return 0;
}
