// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * --ustack=dwarf's mmap event records, built as the kernel writes them
 * (sample_id_all with the time last): an executable mapping with the
 * kernel's build ID and without, a process's fork and exit against a
 * thread's, an exec, and records cut short or of a wrong size; then applied
 * to the mappings.
 */
#include <linux/perf_event.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include "mmap_events.h"
#include "test.h"

struct rec {
	size_t len;
	__u8 buf[256];
};

static void put(struct rec *r, const void *p, size_t n)
{
	memcpy(r->buf + r->len, p, n);
	r->len += n;
}

static void put32(struct rec *r, __u32 v)
{
	put(r, &v, sizeof(v));
}

static void put64(struct rec *r, __u64 v)
{
	put(r, &v, sizeof(v));
}

/* Ends the record with its time and sets its header. */
static void finish(struct rec *r, __u32 type, __u16 misc, __u64 time)
{
	struct perf_event_header h = { .type = type, .misc = misc };

	put64(r, time);
	h.size = r->len;
	memcpy(r->buf, &h, sizeof(h));
}

static void mmap2(struct rec *r, __u32 pid, __u64 addr, const char *path, const __u8 *id,
		  __u64 time)
{
	char name[16] = {};

	r->len = sizeof(struct perf_event_header);
	put32(r, pid);
	put32(r, pid);
	put64(r, addr);
	put64(r, 0x1000);
	put64(r, 0);
	if (id) {
		/* build_id_size, two reserved fields, the ID padded to 20 */
		put32(r, 20);
		put(r, id, 20);
	} else {
		put32(r, 0xfe);
		put32(r, 1);
		put64(r, 42);
		put64(r, 0);
	}
	put32(r, PROT_READ | PROT_EXEC);
	put32(r, MAP_PRIVATE);
	strcpy(name, path);
	put(r, name, sizeof(name));
	finish(r, PERF_RECORD_MMAP2, id ? PERF_RECORD_MISC_MMAP_BUILD_ID : 0, time);
}

/* PERF_RECORD_FORK or _EXIT */
static void task(struct rec *r, __u32 type, __u32 pid, __u32 ppid, __u32 tid, __u64 time)
{
	r->len = sizeof(struct perf_event_header);
	put32(r, pid);
	put32(r, ppid);
	put32(r, tid);
	put32(r, ppid);
	put64(r, time);
	finish(r, type, 0, time);
}

static int fake_read(__u32 tgid, const struct umaps_line *l, struct ubin *bin)
{
	memset(bin, 0, sizeof(*bin));
	memset(bin->id, 0x11, sizeof(bin->id));
	bin->id_len = 20;
	bin->has_loads = true;
	bin->fd = -1;
	return 0;
}

void test_mmap_events_parse(void)
{
	__u8 id[20];
	struct mmap_record m;
	struct rec r;

	memset(id, 0x5a, sizeof(id));
	mmap2(&r, 7, 0x400000, "/bin/x", id, 100);
	if (ASSERT_OK(mmap_events__parse(r.buf, r.len, &m), "mmap2 with a build ID")) {
		ASSERT_EQ(m.type, (__u32)PERF_RECORD_MMAP2, "type");
		ASSERT_EQ(m.pid, 7U, "pid");
		ASSERT_EQ(m.time, 100ULL, "time, the record's last word");
		ASSERT_TRUE(m.line.start == 0x400000 && m.line.end == 0x401000, "range");
		ASSERT_TRUE(m.line.build_id_len == 20 && !memcmp(m.line.build_id, id, 20),
			    "the kernel's build ID");
		ASSERT_TRUE(m.line.path_len == 6 && !memcmp(m.line.path, "/bin/x", 6), "path");
		ASSERT_EQ(m.line.inode, 0ULL, "no inode with a build ID");
	}
	mmap2(&r, 7, 0x400000, "/bin/x", NULL, 100);
	if (ASSERT_OK(mmap_events__parse(r.buf, r.len, &m), "mmap2 without"))
		ASSERT_TRUE(!m.line.build_id_len && m.line.inode == 42 &&
			    m.line.dev == (0xfeULL << 32 | 1), "device and inode instead");
	ASSERT_EQ(mmap_events__parse(r.buf, r.len - 1, &m), -EINVAL, "a size not the header's");
	ASSERT_EQ(mmap_events__parse(r.buf, 8, &m), -EINVAL, "a header alone");
	mmap2(&r, 7, 0x400000, "[vdso]", NULL, 100);
	ASSERT_EQ(mmap_events__parse(r.buf, r.len, &m), -ENOENT, "not a file");
	task(&r, PERF_RECORD_FORK, 8, 7, 8, 200);
	ASSERT_TRUE(!mmap_events__parse(r.buf, r.len, &m) && m.pid == 8 && m.ppid == 7,
		    "a process forked");
	task(&r, PERF_RECORD_FORK, 7, 7, 9, 200);
	ASSERT_EQ(mmap_events__parse(r.buf, r.len, &m), -ENOENT, "a thread: no new process");
	task(&r, PERF_RECORD_EXIT, 7, 1, 9, 300);
	ASSERT_EQ(mmap_events__parse(r.buf, r.len, &m), -ENOENT, "a thread's exit");
	task(&r, PERF_RECORD_EXIT, 7, 1, 7, 300);
	ASSERT_TRUE(!mmap_events__parse(r.buf, r.len, &m) && m.type == PERF_RECORD_EXIT &&
		    m.pid == 7, "the process's exit");
	r.len = sizeof(struct perf_event_header);
	put32(&r, 7);
	put32(&r, 7);
	put(&r, "x\0\0\0\0\0\0", 8);
	finish(&r, PERF_RECORD_COMM, PERF_RECORD_MISC_COMM_EXEC, 400);
	ASSERT_TRUE(!mmap_events__parse(r.buf, r.len, &m) && m.type == PERF_RECORD_COMM,
		    "an exec");
	((struct perf_event_header *)r.buf)->size += 8;
	ASSERT_EQ(mmap_events__parse(r.buf, r.len, &m), -EINVAL, "a size past the buffer");
}

void test_mmap_events_apply(void)
{
	struct umaps *u = umaps__new();
	struct mmap_record m;
	__u8 id[20];
	struct rec r;

	if (!ASSERT_OK_PTR(u, "umaps__new"))
		return;
	memset(id, 0x5a, sizeof(id));
	mmap2(&r, 7, 0x400000, "/bin/x", id, 100);
	ASSERT_OK(mmap_events__parse(r.buf, r.len, &m) ||
		  mmap_events__apply(u, &m, fake_read), "mmap2");
	ASSERT_TRUE(umaps__find(u, 7, 0x400800) && umaps__find(u, 7, 0x400800)->has_build_id,
		    "mapped, its binary by build ID");
	task(&r, PERF_RECORD_FORK, 8, 7, 8, 200);
	ASSERT_OK(mmap_events__parse(r.buf, r.len, &m) ||
		  mmap_events__apply(u, &m, fake_read), "fork");
	ASSERT_OK_PTR(umaps__find(u, 8, 0x400800), "the child's copy");
	task(&r, PERF_RECORD_EXIT, 8, 7, 8, 300);
	ASSERT_OK(mmap_events__parse(r.buf, r.len, &m) ||
		  mmap_events__apply(u, &m, fake_read), "exit");
	umaps__reap(u, 301, NULL, NULL);
	ASSERT_NULL(umaps__find(u, 8, 0x400800), "the child reaped after its exit");
	ASSERT_OK_PTR(umaps__find(u, 7, 0x400800), "the parent kept");
	umaps__free(u);
}
