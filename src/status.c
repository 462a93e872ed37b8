// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The status line on a terminal's stderr. It is drawn from the stats map
 * alone (one lookup a second): outstanding objects are the records made
 * less those freed or retired, so no report has to be built to show it.
 * The line is cut to the terminal's width, since a wrapped line could not
 * be erased with one carriage return.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include "model.h"
#include "snapshot.h"
#include "status.h"

/* carriage return, then erase to the end of the line (ECMA-48 EL) */
#define ERASE_LINE "\r\033[K"

struct status {
	const struct env *env;
	const struct tracer *t;
	__u64 start_ns;
	__u64 last_ns;		/* when last_events was read */
	__u64 last_events;
	bool drawn;
};

struct status *status__new(const struct env *env, const struct tracer *t, __u64 start_ns)
{
	struct status *st;

	if (!isatty(STDERR_FILENO) || env->trace || env->command || env->verbose)
		return NULL;
	st = calloc(1, sizeof(*st));
	if (!st)
		return NULL;
	st->env = env;
	st->t = t;
	st->start_ns = start_ns;
	/* the maps are new: every counter was 0 when tracing began */
	st->last_ns = start_ns;
	return st;
}

/* M:SS under an hour, H:MM:SS from there */
static void fmt_time(__u64 s, char *buf, size_t len)
{
	if (s < 3600)
		snprintf(buf, len, "%llu:%02llu", (unsigned long long)(s / 60),
			 (unsigned long long)(s % 60));
	else
		snprintf(buf, len, "%llu:%02llu:%02llu", (unsigned long long)(s / 3600),
			 (unsigned long long)(s / 60 % 60), (unsigned long long)(s % 60));
}

/* "1:40 left", "next report in 3 s" or "Ctrl-C to stop", from the options */
static void fmt_left(const struct env *env, __u64 elapsed_s, char *buf, size_t len)
{
	__u64 end = env->duration_s ? env->duration_s : env->interval_s * env->count;
	char t[32];

	if (end) {
		fmt_time(end > elapsed_s ? end - elapsed_s : 0, t, sizeof(t));
		snprintf(buf, len, "%s left", t);
	} else if (env->interval_s) {
		snprintf(buf, len, "next report in %llu s",
			 (unsigned long long)(env->interval_s - elapsed_s % env->interval_s));
	} else {
		snprintf(buf, len, "Ctrl-C to stop");
	}
}

static unsigned int term_width(void)
{
	struct winsize ws;

	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) || !ws.ws_col)
		return 80;
	return ws.ws_col;
}

/* Appends ", field" to line if the line stays shorter than width; else drops it. */
static void add_field(char *line, size_t size, unsigned int width, const char *field)
{
	size_t len = strlen(line), add = strlen(field) + 2;

	if (len + add < width && len + add < size)
		snprintf(line + len, size - len, ", %s", field);
}

void status__update(struct status *st)
{
	char line[256], field[64], t[32];
	struct model m = {};
	const __u64 *c = m.stats;
	__u64 now, elapsed_s, rate = 0, records, k;
	unsigned int width;

	if (!st || snapshot__read_stats(st->t, m.stats))
		return;
	now = tracer__now_ns();
	elapsed_s = (now - st->start_ns) / 1000000000ULL;
	if (now > st->last_ns && c[STAT_ALLOC_EVENTS] >= st->last_events)
		rate = (c[STAT_ALLOC_EVENTS] - st->last_events) * 1000000000ULL /
		       (now - st->last_ns);
	st->last_ns = now;
	st->last_events = c[STAT_ALLOC_EVENTS];
	/* per-CPU counters read one after another may disagree by an event: never wrap */
	records = c[STAT_ALLOCS] > c[STAT_FREES] + c[STAT_REALLOC_RETIRED] ?
		  c[STAT_ALLOCS] - c[STAT_FREES] - c[STAT_REALLOC_RETIRED] : 0;
	k = st->env->sample_rate > 1 ? st->env->sample_rate : 1;
	width = term_width();

	/* the fields by importance: those that do not fit the terminal are left out */
	fmt_time(elapsed_s, t, sizeof(t));
	snprintf(line, sizeof(line), "kleak: %s elapsed", t);
	if (strlen(line) >= width)
		line[width - 1] = '\0';
	fmt_left(st->env, elapsed_s, field, sizeof(field));
	add_field(line, sizeof(line), width, field);
	snprintf(field, sizeof(field), "%s%llu outstanding", k > 1 ? "~" : "",
		 (unsigned long long)(records * k));
	add_field(line, sizeof(line), width, field);
	snprintf(field, sizeof(field), "%llu lost", (unsigned long long)model__not_seen_events(&m));
	add_field(line, sizeof(line), width, field);
	snprintf(field, sizeof(field), "%llu events/s", (unsigned long long)rate);
	add_field(line, sizeof(line), width, field);
	snprintf(field, sizeof(field), "allocs map %.1f%%",
		 st->env->max_allocs ? 100.0 * records / st->env->max_allocs : 0.0);
	add_field(line, sizeof(line), width, field);
	fprintf(stderr, ERASE_LINE "%s", line);
	fflush(stderr);
	st->drawn = true;
}

void status__clear(struct status *st)
{
	if (!st || !st->drawn)
		return;
	fputs(ERASE_LINE, stderr);
	fflush(stderr);
	st->drawn = false;
}

void status__free(struct status *st)
{
	status__clear(st);
	free(st);
}
