/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A streaming JSON writer in the shape of bpftool's json_writer: an opaque
 * writer, begin/end calls for containers, *_field helpers for members. Every
 * byte below 0x20, the quote and the backslash are escaped, so any comm or
 * symbol name yields valid JSON.
 */
#ifndef __KLEAK_JSON_H
#define __KLEAK_JSON_H

#include <stdbool.h>
#include <stdio.h>
#include <linux/types.h>

/*
 * The "schema_version" every JSON document kleak writes starts with
 * (docs/json-format.md). Keys are only ever added: it changes when a key's
 * meaning or type does, or one goes away.
 */
#define KLEAK_JSON_SCHEMA 1

struct json_writer;

/* Returns a writer on f, or NULL with errno set. */
struct json_writer *jsonw_new(FILE *f);
/* Ends the output with a newline; NULL-safe. Unbalanced containers are a bug. */
void jsonw_destroy(struct json_writer *w);

void jsonw_start_object(struct json_writer *w);
void jsonw_end_object(struct json_writer *w);
void jsonw_start_array(struct json_writer *w);
void jsonw_end_array(struct json_writer *w);
/* The member name of the next value, inside an object. */
void jsonw_name(struct json_writer *w, const char *name);

void jsonw_string(struct json_writer *w, const char *s);
void jsonw_uint(struct json_writer *w, __u64 v);
void jsonw_int(struct json_writer *w, __s64 v);
void jsonw_float(struct json_writer *w, double v);
void jsonw_bool(struct json_writer *w, bool v);
void jsonw_null(struct json_writer *w);

void jsonw_string_field(struct json_writer *w, const char *name, const char *s);
void jsonw_uint_field(struct json_writer *w, const char *name, __u64 v);
void jsonw_int_field(struct json_writer *w, const char *name, __s64 v);
void jsonw_float_field(struct json_writer *w, const char *name, double v);
void jsonw_bool_field(struct json_writer *w, const char *name, bool v);

#endif /* __KLEAK_JSON_H */
