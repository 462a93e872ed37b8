// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Streaming JSON writer; see json.h. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include "json.h"

#define JSON_MAX_DEPTH 32

struct json_writer {
	FILE *out;
	unsigned int depth;
	/* whether the container at each depth already holds a value */
	bool has_item[JSON_MAX_DEPTH];
	/* a member name was written and its value is pending */
	bool after_name;
};

struct json_writer *jsonw_new(FILE *f)
{
	struct json_writer *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->out = f;
	return w;
}

void jsonw_destroy(struct json_writer *w)
{
	if (!w)
		return;
	fputc('\n', w->out);
	free(w);
}

/* Separator and indentation before a value or a member name. */
static void begin_item(struct json_writer *w)
{
	unsigned int i;

	if (w->after_name) {
		w->after_name = false;
		return;
	}
	if (w->depth && w->has_item[w->depth - 1])
		fputc(',', w->out);
	if (w->depth) {
		w->has_item[w->depth - 1] = true;
		fputc('\n', w->out);
		for (i = 0; i < w->depth; i++)
			fputs("  ", w->out);
	}
}

static void put_string(struct json_writer *w, const char *s)
{
	const unsigned char *p;

	fputc('"', w->out);
	for (p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(w->out, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(w->out, "\\u%04x", *p);
		else
			fputc(*p, w->out);
	}
	fputc('"', w->out);
}

static void start(struct json_writer *w, char c)
{
	begin_item(w);
	fputc(c, w->out);
	if (w->depth < JSON_MAX_DEPTH)
		w->has_item[w->depth] = false;
	w->depth++;
}

static void end(struct json_writer *w, char c)
{
	unsigned int i;

	w->depth--;
	if (w->depth < JSON_MAX_DEPTH && w->has_item[w->depth]) {
		fputc('\n', w->out);
		for (i = 0; i < w->depth; i++)
			fputs("  ", w->out);
	}
	fputc(c, w->out);
}

void jsonw_start_object(struct json_writer *w)
{
	start(w, '{');
}

void jsonw_end_object(struct json_writer *w)
{
	end(w, '}');
}

void jsonw_start_array(struct json_writer *w)
{
	start(w, '[');
}

void jsonw_end_array(struct json_writer *w)
{
	end(w, ']');
}

void jsonw_name(struct json_writer *w, const char *name)
{
	begin_item(w);
	put_string(w, name);
	fputs(": ", w->out);
	w->after_name = true;
}

void jsonw_string(struct json_writer *w, const char *s)
{
	begin_item(w);
	if (s)
		put_string(w, s);
	else
		fputs("null", w->out);
}

void jsonw_uint(struct json_writer *w, __u64 v)
{
	begin_item(w);
	fprintf(w->out, "%" PRIu64, (uint64_t)v);
}

void jsonw_int(struct json_writer *w, __s64 v)
{
	begin_item(w);
	fprintf(w->out, "%" PRId64, (int64_t)v);
}

void jsonw_float(struct json_writer *w, double v)
{
	begin_item(w);
	fprintf(w->out, "%.3f", v);
}

void jsonw_bool(struct json_writer *w, bool v)
{
	begin_item(w);
	fputs(v ? "true" : "false", w->out);
}

void jsonw_null(struct json_writer *w)
{
	begin_item(w);
	fputs("null", w->out);
}

void jsonw_string_field(struct json_writer *w, const char *name, const char *s)
{
	jsonw_name(w, name);
	jsonw_string(w, s);
}

void jsonw_uint_field(struct json_writer *w, const char *name, __u64 v)
{
	jsonw_name(w, name);
	jsonw_uint(w, v);
}

void jsonw_int_field(struct json_writer *w, const char *name, __s64 v)
{
	jsonw_name(w, name);
	jsonw_int(w, v);
}

void jsonw_float_field(struct json_writer *w, const char *name, double v)
{
	jsonw_name(w, name);
	jsonw_float(w, v);
}

void jsonw_bool_field(struct json_writer *w, const char *name, bool v)
{
	jsonw_name(w, name);
	jsonw_bool(w, v);
}
