// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The --ustack parsers over buffers: /proc/PID/maps lines (well-formed,
 * pseudo mappings, malformed and cut short) and build IDs from ELF images
 * (this test binary's own, a copy without its note, not ELF at all); the
 * mappings' tables: forks, execs, exits, files not the ones mapped; the
 * binaries kept open.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "buildid.h"
#include "test.h"
#include "umaps.h"

void test_umaps_parse_line(void)
{
	static const char line[] = "7f0e1c228000-7f0e1c3bd000 r-xp 00028000 fe:01 1312 "
				   "/usr/lib/x86_64-linux-gnu/libc.so.6\n";
	static const char *const bad[] = {
		"", "7f0e1c228000", "7f0e1c228000-", "zz-10 r-xp 0 fe:01 1 /x",
		"10-20 r-x 0 fe:01 1 /x", "20-10 r-xp 0 fe:01 1 /x", "10-20 r-xp", "10-20 r-xp 0",
		"10-20 r-xp 0 fe:01", "10000000000000000-10000000000000001 r-xp 0 fe:01 1 /x",
		"10-20 r-xp 0 fe01 1 /x", "10-20 r-xp 0 fe:01 1x /x", "10-20 r-xp 0 fe:01 -1 /x",
	};
	struct umaps_line l;
	size_t i;

	if (!ASSERT_OK(umaps__parse_line(line, strlen(line), &l), "libc line"))
		return;
	ASSERT_EQ(l.start, 0x7f0e1c228000ULL, "start");
	ASSERT_EQ(l.end, 0x7f0e1c3bd000ULL, "end");
	ASSERT_EQ(l.pgoff, 0x28000ULL, "pgoff");
	ASSERT_EQ(l.dev, 0xfeULL << 32 | 1, "device");
	ASSERT_EQ(l.inode, 1312ULL, "inode");
	ASSERT_TRUE(l.exec, "executable");
	ASSERT_TRUE(l.path && l.path_len == strlen("/usr/lib/x86_64-linux-gnu/libc.so.6") &&
		    !strncmp(l.path, "/usr/lib/x86_64-linux-gnu/libc.so.6", l.path_len), "path");
	ASSERT_OK(umaps__parse_line("7ffd-7ffe r-xp 00000000 00:00 0 [vdso]", 38, &l), "vdso");
	ASSERT_NULL(l.path, "a pseudo mapping is no file");
	ASSERT_OK(umaps__parse_line("1000-2000 rw-p 00000000 00:00 0", 31, &l), "anonymous");
	ASSERT_TRUE(!l.exec && !l.path, "anonymous, not executable");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ASSERT_EQ(umaps__parse_line(bad[i], strlen(bad[i]), &l), -EINVAL, bad[i]);
	/* the length bounds the parse: a line cut before its path has none */
	ASSERT_OK(umaps__parse_line(line, strlen(line) - 36, &l), "cut before the path");
	ASSERT_NULL(l.path, "no path past the length");
}

/* A binary of build ID "bbb...b" for the file "/b", read without a file. */
static int fake_read(__u32 tgid, const struct umaps_line *l, struct ubin *bin)
{
	memset(bin, 0, sizeof(*bin));
	memset(bin->id, l->path[1], KLEAK_BUILD_ID_SIZE);
	bin->id_len = KLEAK_BUILD_ID_SIZE;
	bin->has_loads = true;
	bin->dev = l->dev;
	bin->inode = l->inode;
	bin->fd = -1;
	return 0;
}

void test_umaps_tables(void)
{
	static const char text[] = "1000-2000 r--p 00000000 fe:01 1 /a\n"
				   "2000-3000 r-xp 00001000 fe:01 1 /a\n"
				   "5000-6000 r-xp 00000000 fe:01 2 /b\n"
				   "7000-8000 r-xp 00000000 00:00 0 [vdso]";
	struct umaps *u = umaps__new();
	const struct umap *m;
	const struct ubin *b;
	__u8 id[KLEAK_BUILD_ID_SIZE];

	if (!ASSERT_OK_PTR(u, "umaps__new"))
		return;
	ASSERT_OK(umaps__add_text(u, 42, text, strlen(text), fake_read), "add");
	m = umaps__find(u, 42, 0x2abc);
	ASSERT_TRUE(m && !strcmp(m->path, "/a") && m->pgoff == 0x1000, "ip in /a's text");
	ASSERT_NULL(umaps__find(u, 42, 0x1800), "not executable: not kept");
	ASSERT_NULL(umaps__find(u, 42, 0x7800), "[vdso]: not a file");
	ASSERT_NULL(umaps__find(u, 43, 0x2abc), "another process");
	memset(id, 'b', sizeof(id));
	b = umaps__binary_of(u, id);
	ASSERT_TRUE(b && !strcmp(b->path, "/b"), "binary by build ID");
	ASSERT_EQ(umaps__add_text(u, 43, "junk\n", 5, NULL), -EINVAL, "bad text");
	umaps__free(u);
}

/* mmap events: a fork copies the parent's mappings, a mapping replaces what it overlaps. */
void test_umaps_events(void)
{
	static const char text[] = "2000-3000 r-xp 00001000 fe:01 1 /a";
	struct umaps_line l = {
		.start = 0x2800, .end = 0x4000, .dev = 0xfeULL << 32 | 1, .inode = 2,
		.exec = true, .path = "/b", .path_len = 2,
	};
	struct umaps *u = umaps__new();
	const struct umap *m;
	size_t n;
	__u32 gen;

	if (!ASSERT_OK_PTR(u, "umaps__new"))
		return;
	ASSERT_OK(umaps__add_text(u, 10, text, strlen(text), fake_read), "parent");
	ASSERT_OK(umaps__fork(u, 10, 11, 100), "fork");
	m = umaps__find(u, 11, 0x2100);
	ASSERT_TRUE(m && !strcmp(m->path, "/a"), "the child has the parent's mapping");
	ASSERT_OK(umaps__add_mapping(u, 11, &l, 200, fake_read), "mmap over it");
	ASSERT_OK_PTR(umaps__proc(u, 11, &n, &gen), "the child's mappings");
	ASSERT_EQ(n, (size_t)1, "the overlapped mapping replaced");
	m = umaps__find(u, 11, 0x2900);
	ASSERT_TRUE(m && !strcmp(m->path, "/b"), "the new mapping");
	ASSERT_NULL(umaps__find(u, 11, 0x2100), "the old one gone");
	m = umaps__find(u, 10, 0x2100);
	ASSERT_TRUE(m && !strcmp(m->path, "/a"), "the parent keeps its own");
	/* the child's own later event, read first from another CPU: an older fork keeps off */
	ASSERT_OK(umaps__fork(u, 10, 11, 150), "a fork read late");
	m = umaps__find(u, 11, 0x2900);
	ASSERT_TRUE(m && !strcmp(m->path, "/b"), "the child's own mapping stays");
	ASSERT_OK(umaps__exec(u, 11, 300), "exec");
	ASSERT_NULL(umaps__find(u, 11, 0x2900), "no mapping after exec");
	umaps__free(u);
}

static char *slurp_self(size_t *len)
{
	FILE *f = fopen("/proc/self/exe", "r");
	char *buf = NULL;
	size_t cap = 0;

	if (!f)
		return NULL;
	*len = 0;
	for (;;) {
		if (*len == cap) {
			cap = cap ? cap * 2 : 1 << 20;
			buf = realloc(buf, cap);
			if (!buf)
				break;
		}
		size_t n = fread(buf + *len, 1, cap - *len, f);
		if (!n)
			break;
		*len += n;
	}
	fclose(f);
	return buf;
}

void test_buildid_of_buf(void)
{
	__u8 id[KLEAK_BUILD_ID_SIZE], again[KLEAK_BUILD_ID_SIZE], zero[KLEAK_BUILD_ID_SIZE] = {};
	char hex[2 * KLEAK_BUILD_ID_SIZE + 1], *img, *p;
	struct elf_loads loads;
	size_t len, i;
	__u64 va;

	img = slurp_self(&len);
	if (!ASSERT_OK_PTR(img, "read /proc/self/exe"))
		return;
	ASSERT_EQ(buildid__of_buf(img, len, id, &loads), KLEAK_BUILD_ID_SIZE,
		  "this binary's build ID, its length");
	ASSERT_TRUE(memcmp(id, zero, sizeof(id)), "not zero");
	ASSERT_EQ(buildid__of_file("/proc/self/exe", again, NULL), KLEAK_BUILD_ID_SIZE,
		  "the same from the file");
	ASSERT_TRUE(!memcmp(id, again, sizeof(id)), "equal");
	ASSERT_GT(loads.n, 0U, "load segments");
	ASSERT_TRUE(buildid__offset_to_vaddr(&loads, loads.seg[0].offset, &va) &&
		    va == loads.seg[0].vaddr, "first segment's offset");
	buildid__hex(id, hex);
	ASSERT_EQ(strlen(hex), (size_t)40, "hex length");
	/* every image cut short or with its note's owner broken reads no ID, and no further */
	for (i = 0; i < 64 && i < len; i += 7)
		buildid__of_buf(img, i, again, NULL);
	/* every note owned by "GNU" (the ABI tag, the properties, the build ID) renamed */
	for (p = img; (p = memmem(p, len - (p - img), "GNU", 4)); p += 4)
		p[0] = 'X';
	ASSERT_EQ(buildid__of_buf(img, len, again, NULL), -ENOENT, "no GNU note");
	ASSERT_EQ(buildid__of_buf((char[]){ "not an ELF image" }, 16, again, NULL), -EINVAL,
		  "not ELF");
	free(img);
}

/* A file at the mapping's path that is not the one mapped (another build, another inode). */
static int stale_read(__u32 tgid, const struct umaps_line *l, struct ubin *bin)
{
	memset(bin, 0, sizeof(*bin));
	bin->fd = -1;
	return -ESTALE;
}

static __u32 reaped[4];
static size_t n_reaped;

static void on_reap(void *ctx, __u32 tgid)
{
	/* its mappings are still there when it is given */
	if (umaps__find(ctx, tgid, 0x2100) && n_reaped < 4)
		reaped[n_reaped++] = tgid;
}

/* Exits: a process is forgotten only once a sample later than its exit is read. */
void test_umaps_exit_reap(void)
{
	static const char text[] = "2000-3000 r-xp 00001000 fe:01 1 /a";
	struct umaps *u = umaps__new();

	if (!ASSERT_OK_PTR(u, "umaps__new"))
		return;
	ASSERT_OK(umaps__add_text(u, 10, text, strlen(text), fake_read), "parent");
	ASSERT_OK(umaps__fork(u, 10, 11, 100), "fork");
	umaps__exit(u, 11, 200);
	n_reaped = 0;
	umaps__reap(u, 150, on_reap, u);
	ASSERT_EQ(n_reaped, (size_t)0, "a sample before the exit reaps nothing");
	ASSERT_OK_PTR(umaps__find(u, 11, 0x2100), "the child kept");
	umaps__reap(u, 250, on_reap, u);
	ASSERT_TRUE(n_reaped == 1 && reaped[0] == 11, "the child given, its mappings there");
	ASSERT_NULL(umaps__find(u, 11, 0x2100), "the child forgotten");
	ASSERT_OK_PTR(umaps__find(u, 10, 0x2100), "the parent, alive, kept");
	ASSERT_EQ(umaps__n_procs(u), (size_t)1, "one process left");
	/* the id used again: a new process, not the old one's mappings */
	umaps__exit(u, 10, 300);
	ASSERT_OK(umaps__exec(u, 10, 310), "the id reused");
	umaps__reap(u, 400, on_reap, u);
	ASSERT_EQ(umaps__n_procs(u), (size_t)1, "the new process kept");
	umaps__free(u);
}

/* A path that holds another file: said, never read; the kernel's build ID still names it. */
void test_umaps_stale(void)
{
	struct umaps_line l = {
		.start = 0x1000, .end = 0x2000, .exec = true, .path = "/r", .path_len = 2,
		.inode = 7,
	};
	struct umaps *u = umaps__new();
	const struct umap *m;
	const struct ubin *b;

	if (!ASSERT_OK_PTR(u, "umaps__new"))
		return;
	ASSERT_OK(umaps__add_mapping(u, 20, &l, 1, stale_read), "no build ID from the kernel");
	m = umaps__find(u, 20, 0x1800);
	ASSERT_TRUE(m && m->replaced && !m->has_build_id, "said replaced, no build ID read");
	l.start = 0x3000;
	l.end = 0x4000;
	l.build_id_len = 8;
	memset(l.build_id, 0xab, 8);
	ASSERT_OK(umaps__add_mapping(u, 20, &l, 2, stale_read), "the kernel's build ID");
	m = umaps__find(u, 20, 0x3800);
	ASSERT_TRUE(m && m->replaced && m->has_build_id && !memcmp(m->build_id, l.build_id, 20),
		    "the kernel's build ID, replaced on disk");
	b = umaps__binary_of(u, l.build_id);
	ASSERT_TRUE(b && !b->has_loads && b->fd < 0 && b->id_len == 8 && !strcmp(b->path, "/r"),
		    "the binary known by build ID, without a file");
	umaps__free(u);
}

/* The open descriptors of this process. */
static size_t open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	size_t n = 0;

	while (d && readdir(d))
		n++;
	if (d)
		closedir(d);
	return n;
}

/* Binaries are kept open up to UBINS_MAX_KEPT; past it, closed. */
void test_ubins_kept(void)
{
	struct ubins *b = ubins__new();
	struct ubin bin = { .path = "/x" };
	const struct ubin *got;
	size_t i, before = open_fds();

	if (!ASSERT_OK_PTR(b, "ubins__new"))
		return;
	for (i = 0; i < UBINS_MAX_KEPT + 10; i++) {
		memset(bin.id, 0, sizeof(bin.id));
		memcpy(bin.id, &i, sizeof(i));
		bin.fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		got = ubins__add(b, &bin);
		if (!ASSERT_OK_PTR(got, "add"))
			break;
	}
	ASSERT_EQ(open_fds(), before + UBINS_MAX_KEPT, "kept up to the cap, the rest closed");
	i = 3;
	memcpy(bin.id, &i, sizeof(i));
	got = ubins__find(b, bin.id);
	ASSERT_TRUE(got && got->fd >= 0, "found by build ID, kept");
	i = UBINS_MAX_KEPT + 5;
	memcpy(bin.id, &i, sizeof(i));
	ASSERT_TRUE(ubins__find(b, bin.id) && ubins__find(b, bin.id)->fd < 0,
		    "past the cap: known, not kept");
	i = 3;
	memcpy(bin.id, &i, sizeof(i));
	bin.fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	ASSERT_TRUE(ubins__add(b, &bin) == got, "the same build ID again: the one there");
	ASSERT_EQ(open_fds(), before + UBINS_MAX_KEPT, "its second descriptor closed");
	ubins__free(b);
	ASSERT_EQ(open_fds(), before, "every descriptor closed");
}
