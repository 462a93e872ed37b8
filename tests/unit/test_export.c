// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The stack formats on small models: frame names root first with the cache
 * on top (a merged cache with its aliases), modules told apart from kleak's
 * own bracketed frames, kernel addresses only with --raw-addresses, and a
 * pprof profile decoded back (zlib, then protobuf-c's own unpacker) to the
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
	struct export_stack st = {};
	struct model_merged *g;
	size_t len = 0;
	const char *mod;

	if (!ASSERT_OK_PTR(m, "model"))
		return;
	if (!ASSERT_OK(export__site_frames(m, &m->sites[0], false, &st), "frames") ||
	    !ASSERT_EQ(st.n_frames, 4, "frames and the cache"))
		goto out;
	ASSERT_STREQ(st.frames[0].name, "do_dentry_open [xfs]", "root first, module kept");
	ASSERT_STREQ(st.frames[2].name, "kmalloc_trace", "offsets dropped");
	ASSERT_STREQ(st.frames[3].name, "[cache kmalloc-192]", "the cache on top");
	ASSERT_TRUE(st.frames[0].code && !st.frames[3].code, "code frames and the cache");
	ASSERT_EQ(st.frames[2].addr, 0, "no kernel address unless asked");
	mod = export__module(st.frames[0].name, &len);
	ASSERT_TRUE(mod && len == 3 && !strncmp(mod, "xfs", 3), "module of a frame");
	ASSERT_TRUE(!export__module(st.frames[3].name, &len), "the cache frame has no module");
	ASSERT_TRUE(!export__module("[stack not captured: x]", &len), "nor a lost stack");
	export__free_frames(&st);
	/* --raw-addresses: the frames keep them, an unresolved one is named by it */
	free(m->sites[0].frames[1].sym);
	m->sites[0].frames[1].sym = NULL;
	if (ASSERT_OK(export__site_frames(m, &m->sites[0], true, &st), "raw frames")) {
		ASSERT_EQ(st.frames[2].addr, 0xffffffff81000000ULL, "raw address kept");
		ASSERT_STREQ(st.frames[1].name, "0xffffffff81000100", "unresolved, by address");
	}
	export__free_frames(&st);
	if (ASSERT_OK(export__site_frames(m, &m->sites[0], false, &st), "frames"))
		ASSERT_STREQ(st.frames[1].name, "?", "unresolved, no address");
	export__free_frames(&st);
	/* a merged cache is named with its aliases */
	g = model__add_merged(m, "kmalloc-192");
	if (ASSERT_OK_PTR(g, "merged") &&
	    ASSERT_OK(model_merged__add_alias(g, "ext4_io_end"), "alias") &&
	    ASSERT_OK(model_merged__add_alias(g, "bio-0"), "alias") &&
	    ASSERT_OK(export__site_frames(m, &m->sites[0], false, &st), "frames"))
		ASSERT_STREQ(st.frames[3].name, "[cache kmalloc-192 (merged: bio-0, ext4_io_end)]",
			     "aliases named");
	export__free_frames(&st);
	/* a stack of one class: the class above the cache */
	st.split = true;
	st.held = HELD_REAPED;
	if (ASSERT_OK(export__site_frames(m, &m->sites[0], false, &st), "class") &&
	    ASSERT_EQ(st.n_frames, 5, "frames, the cache and the class")) {
		ASSERT_STREQ(st.frames[4].name, "[held by reaped]", "the class above the cache");
		ASSERT_TRUE(!st.frames[4].code, "the class frame is no code");
		ASSERT_TRUE(!export__module(st.frames[4].name, &len), "the class frame has no module");
	}
	export__free_frames(&st);
	st.split = false;
	m->sites[0].stack_err = -EFAULT;
	if (ASSERT_OK(export__site_frames(m, &m->sites[0], false, &st), "lost stack") &&
	    ASSERT_EQ(st.n_frames, 2, "a lost stack is one frame and the cache"))
		ASSERT_TRUE(!strncmp(st.frames[0].name, "[stack not captured: ", 21), "named as lost");
	export__free_frames(&st);
out:
	export__free_frames(&st);
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

/* The profile of small_model() as pprof__write() writes it, decoded; raw: --raw-addresses. */
static Perftools__Profiles__Profile *profile_of(struct model *m, bool raw)
{
	struct export_stack st = { .count = { 2 }, .bytes = { 384 } };
	struct export_set x = { .run = { m }, .n = 1, .stacks = &st };
	Perftools__Profiles__Profile *p = NULL;
	size_t len = 0, raw_len = 0;
	uint8_t *unzipped = NULL;
	char *buf = NULL;
	FILE *f;

	st.site = &m->sites[0];
	st.m = m;
	if (!ASSERT_OK(export__site_frames(m, &m->sites[0], raw, &st), "frames"))
		return NULL;
	f = open_memstream(&buf, &len);
	if (ASSERT_OK_PTR(f, "memstream")) {
		ASSERT_OK(pprof__write(&x, f), "pprof__write");
		fclose(f);
		unzipped = gunzip(buf, len, &raw_len);
	}
	if (ASSERT_OK_PTR(unzipped, "gzip"))
		p = perftools__profiles__profile__unpack(NULL, raw_len, unzipped);
	ASSERT_OK_PTR(p, "profile.proto");
	export__free_frames(&st);
	free(unzipped);
	free(buf);
	return p;
}

void test_export_pprof(void)
{
	struct model *m = small_model();
	Perftools__Profiles__Profile *p = NULL;
	char labels[256] = "";
	size_t i;

	if (!ASSERT_OK_PTR(m, "model"))
		return;
	p = profile_of(m, false);
	if (!p)
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
	/* leaf first: the cache, then kmalloc_trace in [kernel], at no address */
	ASSERT_EQ(p->location[p->sample[0]->location_id[0] - 1]->mapping_id, 0, "cache unmapped");
	ASSERT_EQ(p->location[p->sample[0]->location_id[1] - 1]->address, 0,
		  "no kernel address by default");
	ASSERT_EQ(p->n_mapping, 2, "[kernel] and [xfs]");
	for (i = 0; i < p->n_mapping; i++)
		ASSERT_TRUE(!p->mapping[i]->memory_start && !p->mapping[i]->memory_limit,
			    "mappings without addresses");
	for (i = 0; i < p->sample[0]->n_label; i++) {
		const Perftools__Profiles__Label *l = p->sample[0]->label[i];

		snprintf(labels + strlen(labels), sizeof(labels) - strlen(labels), "%s=%s ",
			 str(p, l->key), l->str ? str(p, l->str) : "#");
	}
	ASSERT_STREQ(labels, "cache=kmalloc-192 object_size=# comm=cat context=softirq ", "labels");
	perftools__profiles__profile__free_unpacked(p, NULL);
	/* --raw-addresses: each location at its frame's address, mappings span them */
	p = profile_of(m, true);
	if (!p || !ASSERT_EQ(p->n_sample, 1, "one sample"))
		goto out;
	ASSERT_EQ(p->location[p->sample[0]->location_id[1] - 1]->address, 0xffffffff81000000ULL,
		  "allocator frame's address");
	for (i = 0; i < p->n_mapping; i++)
		if (!strcmp(str(p, p->mapping[i]->filename), "[xfs]"))
			ASSERT_EQ(p->mapping[i]->memory_start, 0xffffffff81000200ULL, "xfs range");
out:
	if (p)
		perftools__profiles__profile__free_unpacked(p, NULL);
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
