// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The stack formats on small models: frame names root first with the cache
 * on top, modules told apart from kleak's own bracketed frames, and a pprof
 * profile decoded back (zlib, then protobuf-c's own unpacker) to the
 * numbers, locations, mappings and labels it was written with.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "export.h"
#include "profile.pb-c.h"
#include "test.h"

static struct model *small_model(void)
{
	static const char *const syms[] = {
		"kmalloc_trace+0x26/0xa0", "seq_open+0x2d/0x90", "do_dentry_open+0x1f2/0x400 [xfs]",
	};
	struct model *m = model__new();
	struct model_site *s;
	size_t i;

	if (!m || !(s = model__add_site(m)))
		return NULL;
	snprintf(s->cache, sizeof(s->cache), "kmalloc-192");
	s->obj_size = 192;
	s->count = 2;
	s->bytes = 384;
	s->ctx[KLEAK_CTX_SOFTIRQ] = 2;
	s->n_comms = 1;
	snprintf(s->comms[0].comm, sizeof(s->comms[0].comm), "cat");
	s->comms[0].count = 2;
	s->frames = calloc(3, sizeof(*s->frames));
	if (!s->frames)
		return NULL;
	for (i = 0; i < 3; i++) {
		s->frames[i].addr = 0xffffffff81000000ULL + i * 0x100;
		s->frames[i].sym = strdup(syms[i]);
	}
	s->n_frames = 3;
	m->meta.start_s = 1700000000;
	m->meta.end_s = 1700000030;
	return m;
}

void test_export_frames(void)
{
	struct model *m = small_model();
	char **names;
	size_t len = 0;
	const char *mod;
	int n;

	if (!ASSERT_OK_PTR(m, "model"))
		return;
	n = export__frames(&m->sites[0], -1, &names);
	if (!ASSERT_EQ(n, 4, "frames and the cache"))
		goto out;
	ASSERT_STREQ(names[0], "do_dentry_open [xfs]", "root first, module kept");
	ASSERT_STREQ(names[2], "kmalloc_trace", "offsets dropped");
	ASSERT_STREQ(names[3], "[cache kmalloc-192]", "the cache on top");
	mod = export__module(names[0], &len);
	ASSERT_TRUE(mod && len == 3 && !strncmp(mod, "xfs", 3), "module of a frame");
	ASSERT_TRUE(!export__module(names[3], &len), "the cache frame has no module");
	ASSERT_TRUE(!export__module("[stack not captured: x]", &len), "nor a lost stack");
	export__free_frames(names, n);
	n = export__frames(&m->sites[0], HELD_REAPED, &names);
	if (ASSERT_EQ(n, 5, "frames, the cache and the class"))
		ASSERT_STREQ(names[4], "[held by reaped]", "the class above the cache");
	ASSERT_TRUE(n < 5 || !export__module(names[4], &len), "the class frame has no module");
	export__free_frames(names, n);
	m->sites[0].stack_err = -EFAULT;
	n = export__frames(&m->sites[0], -1, &names);
	if (ASSERT_EQ(n, 2, "a lost stack is one frame and the cache"))
		ASSERT_TRUE(!strncmp(names[0], "[stack not captured: ", 21), "named as lost");
	export__free_frames(names, n);
out:
	model__free(m);
}

/* gunzip of buf, as pprof readers do. */
static uint8_t *gunzip(const char *buf, size_t len, size_t *out_len)
{
	size_t cap = 1 << 20;
	uint8_t *out = malloc(cap);
	z_stream z = {};

	if (!out || inflateInit2(&z, 15 + 16))
		return NULL;
	z.next_in = (uint8_t *)buf;
	z.avail_in = len;
	z.next_out = out;
	z.avail_out = cap;
	if (inflate(&z, Z_FINISH) != Z_STREAM_END) {
		inflateEnd(&z);
		free(out);
		return NULL;
	}
	*out_len = z.total_out;
	inflateEnd(&z);
	return out;
}

static const char *str(const Perftools__Profiles__Profile *p, __s64 i)
{
	return i >= 0 && (size_t)i < p->n_string_table ? p->string_table[i] : "(out of range)";
}

void test_export_pprof(void)
{
	struct model *m = small_model();
	struct export_stack st = { .count = { 2 }, .bytes = { 384 } };
	struct export_set x = { .run = { m }, .n = 1, .stacks = &st };
	Perftools__Profiles__Profile *p = NULL;
	char *buf = NULL, labels[256] = "";
	size_t len = 0, raw_len = 0, i;
	uint8_t *raw = NULL;
	FILE *f;

	if (!ASSERT_OK_PTR(m, "model"))
		return;
	st.site = &m->sites[0];
	st.m = m;
	f = open_memstream(&buf, &len);
	if (!ASSERT_OK_PTR(f, "memstream"))
		goto out;
	ASSERT_OK(pprof__write(&x, f), "pprof__write");
	fclose(f);
	raw = gunzip(buf, len, &raw_len);
	if (!ASSERT_OK_PTR(raw, "gzip"))
		goto out;
	p = perftools__profiles__profile__unpack(NULL, raw_len, raw);
	if (!ASSERT_OK_PTR(p, "profile.proto"))
		goto out;
	ASSERT_STREQ(str(p, 0), "", "string 0 is empty");
	if (!ASSERT_EQ(p->n_sample_type, 2, "two sample types"))
		goto out;
	ASSERT_STREQ(str(p, p->sample_type[0]->type), "objects", "objects/count");
	ASSERT_STREQ(str(p, p->sample_type[1]->unit), "bytes", "space/bytes");
	ASSERT_EQ(p->time_nanos, 1700000000LL * 1000000000LL, "time of the run");
	ASSERT_EQ(p->duration_nanos, 30LL * 1000000000LL, "its length");
	if (!ASSERT_EQ(p->n_sample, 1, "one sample") ||
	    !ASSERT_EQ(p->sample[0]->n_location_id, 4, "four locations"))
		goto out;
	ASSERT_EQ(p->sample[0]->value[0], 2, "objects");
	ASSERT_EQ(p->sample[0]->value[1], 384, "bytes");
	/* leaf first: the cache, then kmalloc_trace at its address in [kernel] */
	ASSERT_EQ(p->location[p->sample[0]->location_id[0] - 1]->mapping_id, 0, "cache unmapped");
	ASSERT_EQ(p->location[p->sample[0]->location_id[1] - 1]->address, 0xffffffff81000000ULL,
		  "allocator frame's address");
	ASSERT_EQ(p->n_mapping, 2, "[kernel] and [xfs]");
	for (i = 0; i < p->n_mapping; i++)
		if (!strcmp(str(p, p->mapping[i]->filename), "[xfs]"))
			ASSERT_EQ(p->mapping[i]->memory_start, 0xffffffff81000200ULL, "xfs range");
	for (i = 0; i < p->sample[0]->n_label; i++) {
		const Perftools__Profiles__Label *l = p->sample[0]->label[i];

		snprintf(labels + strlen(labels), sizeof(labels) - strlen(labels), "%s=%s ",
			 str(p, l->key), l->str ? str(p, l->str) : "#");
	}
	ASSERT_STREQ(labels, "cache=kmalloc-192 object_size=# comm=cat context=softirq ", "labels");
out:
	if (p)
		perftools__profiles__profile__free_unpacked(p, NULL);
	free(raw);
	free(buf);
	model__free(m);
}

/*
 * A row split per class (export__add_row()): a report's classes carry its
 * count and bytes whole; a diff's runs each split by their own classes, the
 * objects counted but not classified (a kernel total above the objects
 * read) as unknown, a run holding less than nothing left unknown; a run not
 * classified leaves the row whole.
 */
void test_export_split_held(void)
{
	struct model *m = small_model();
	struct export_stack st[HELD_MAX * 3];
	struct export_set x = { .run = { m }, .stacks = st };
	__s64 a[HELD_MAX] = { [HELD_FD] = 3, [HELD_MAPPED] = 1 };
	__s64 b[HELD_MAX] = { [HELD_FD] = 1, [HELD_NO_FD] = 2 };
	const __s64 *report[1] = { a }, *diff[2] = { a, b }, *half[2] = { a, NULL };
	__s64 count[2] = { 4, 0 }, bytes[2] = { 768, 0 };
	size_t i;

	if (!ASSERT_OK_PTR(m, "model"))
		return;
	export__add_row(&x, &m->sites[0], m, count, bytes, report);
	if (ASSERT_EQ(x.n, (size_t)2, "one stack per class of the report"))
		ASSERT_TRUE(st[0].split && st[0].held == HELD_FD && st[0].count[0] == 3 &&
			    st[0].bytes[0] == 576 && st[1].held == HELD_MAPPED &&
			    st[1].count[0] == 1 && st[1].bytes[0] == 192, "fd 3, mapped 1");
	x.n = 0;
	x.diff = true;
	count[0] = 5;		/* one object more than the classes: unknown */
	bytes[0] = 960;
	count[1] = -2;		/* B freed more than it made here */
	bytes[1] = -384;
	export__add_row(&x, &m->sites[0], m, count, bytes, diff);
	if (ASSERT_EQ(x.n, (size_t)3, "fd, mapped and unknown")) {
		ASSERT_TRUE(st[0].held == HELD_FD && st[0].count[0] == 3 && st[0].count[1] == 0,
			    "A's fd, none of B's");
		ASSERT_TRUE(st[1].held == HELD_MAPPED && st[1].count[0] == 1, "A's mapped");
		ASSERT_TRUE(st[2].held == HELD_UNKNOWN && st[2].count[0] == 1 &&
			    st[2].bytes[0] == 192 && st[2].count[1] == -2 && st[2].bytes[1] == -384,
			    "the rest of each run unknown");
	}
	for (i = 0, count[0] = count[1] = bytes[0] = bytes[1] = 0; i < x.n; i++) {
		count[0] += st[i].count[0];
		count[1] += st[i].count[1];
		bytes[0] += st[i].bytes[0];
		bytes[1] += st[i].bytes[1];
	}
	ASSERT_TRUE(count[0] == 5 && bytes[0] == 960 && count[1] == -2 && bytes[1] == -384,
		    "the split keeps each run's totals");
	x.n = 0;
	export__add_row(&x, &m->sites[0], m, count, bytes, half);
	ASSERT_TRUE(x.n == 1 && !st[0].split && st[0].count[0] == 5, "a run not classified: whole");
	model__free(m);
}
