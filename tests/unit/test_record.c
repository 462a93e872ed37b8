// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Saved-run files: round trip, the committed fixtures, and every way a file
 * can be wrong (truncated at each byte, a byte changed at each offset, wrong
 * version, not a run file, malformed records), each of which must fail with
 * exactly one error line and no model. Version 1 files (tcp.run, files.run,
 * written by kleak before format 2) are read as they are and never
 * rewritten; KLEAK_REGEN_FIXTURES=1 rewrites the version 2 fixture
 * record-v2.run from the model built here. Also the quoting of the command
 * line a run keeps (opts__join_args), checked against /bin/sh.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include "opts.h"
#include "record.h"
#include "test.h"

/* version 1, as kleak wrote them before format 2 */
#define FIX_TCP "tests/fixtures/tcp.run"
#define FIX_FILES "tests/fixtures/files.run"
/* version 2, written by this kleak */
#define FIX_V2 "tests/fixtures/record-v2.run"
/* version 2 with what a newer writer may add (docs/record-format.md), by hand */
#define FIX_V2_NEWER "tests/fixtures/record-v2-newer.run"

static void set_str(char **dst, const char *s)
{
	*dst = s ? strdup(s) : NULL;
}

static struct model_site *add_site(struct model *m, __u32 kind, const char *cache, __u64 size,
				   __s64 count, const char *const *syms, const __u64 *addrs,
				   size_t n)
{
	struct model_site *s = model__add_site(m);
	size_t i;

	if (!s)
		return NULL;
	s->kind = kind;
	snprintf(s->cache, sizeof(s->cache), "%s", cache);
	s->obj_size = size;
	s->count = count;
	s->bytes = count * (__s64)size;
	s->allocs = count + 3;
	s->ctx[KLEAK_CTX_TASK] = count;
	s->frames = calloc(n ? n : 1, sizeof(*s->frames));
	for (i = 0; i < n; i++) {
		s->frames[i].addr = addrs[i];
		set_str(&s->frames[i].sym, syms[i]);
	}
	s->n_frames = n;
	s->ages_ms = calloc(count ? count : 1, sizeof(__u32));
	for (i = 0; i < (size_t)count; i++)
		s->ages_ms[i] = 5000 - 10 * i;
	s->n_ages = count;
	snprintf(s->comms[0].comm, KLEAK_COMM_LEN, "%s", "workload");
	s->comms[0].count = count;
	s->n_comms = 1;
	return s;
}

static void set_meta(struct model *m, const char *host, const char *cmd)
{
	set_str(&m->meta.version, "0.1.0");
	set_str(&m->meta.kernel, "6.1.0-13-amd64");
	set_str(&m->meta.hostname, host);
	set_str(&m->meta.boot_id, "3f1c0a52-9a1e-4c55-8a0e-2b7f9f0d6c11");
	set_str(&m->meta.cmdline, cmd);
	set_str(&m->meta.filters, "");
	set_str(&m->meta.attach, "tp_btf");
	m->meta.start_s = 1700000000;
	m->meta.end_s = 1700000030;
	m->meta.sample_rate = 1;
}

/* TCP sockets held: sk_prot_alloc on the TCP cache, plus a site shared with files. */
static struct model *build_tcp(void)
{
	static const char *const sk[] = {
		"sk_prot_alloc+0x3a", "sk_alloc+0x31", "inet_create+0x10e",
		"__sock_create+0x14e", "__sys_socket+0x61", "__x64_sys_socket+0x16",
		"do_syscall_64+0x5d",
	};
	static const __u64 sk_addr[] = {
		0xffffffff8a9c1b2a, 0xffffffff8a9c3d51, 0xffffffff8ab1e0fe,
		0xffffffff8a9b7c3e, 0xffffffff8a9b8e41, 0xffffffff8a9b8f26,
		0xffffffff8b01a3cd,
	};
	static const char *const skb[] = {
		"__alloc_skb+0x88", "tcp_stream_alloc_skb+0x30", "tcp_sendmsg_locked+0x44c",
		NULL, "tcp_sendmsg+0x2c",
	};
	static const __u64 skb_addr[] = {
		0xffffffff8a9cd078, 0xffffffff8aa6e230, 0xffffffff8aa6f44c,
		0xffffffffc0ffee00, 0xffffffff8aa6f82c,
	};
	static const char *const seq[] = {
		"seq_open+0x2d", "single_open+0x4e", "do_dentry_open+0x1f2 [xfs]",
	};
	static const __u64 seq_addr[] = { 0xffffffff8a7d102d, 0xffffffff8a7d1a4e, 0xffffffffc1000df2 };
	struct model *m = model__new();
	struct model_site *s;

	if (!m)
		return NULL;
	set_meta(m, "alpha", "kleak -w tcp.run -- sh -c 'nc -z\thost 80\n'");
	/* its fixture was saved with its addresses, as every run before format 3 */
	m->meta.raw_addresses = true;
	s = add_site(m, KLEAK_SITE_CACHE, "TCP", 2304, 4, sk, sk_addr, 7);
	s->ctx[KLEAK_CTX_SOFTIRQ] = 1;
	s->retired = 1;
	s->retired_bytes = 2304;
	s->trend = calloc(3, sizeof(__s64));
	s->trend[0] = 1;
	s->trend[1] = -2;
	s->trend[2] = 4;
	s->n_trend = 3;
	add_site(m, KLEAK_SITE_KMALLOC, "kmalloc-2k", 2048, 3, skb, skb_addr, 5);
	add_site(m, KLEAK_SITE_KMALLOC, "kmalloc-192", 192, 2, seq, seq_addr, 3);
	s = add_site(m, KLEAK_SITE_CACHE, "TCP", 2304, 1, NULL, NULL, 0);
	s->stack_err = -EFAULT;
	snprintf(model__add_slab(m)->name, 64, "TCP");
	m->slabs[0].active_start = 40;
	m->slabs[0].active_end = 45;
	m->stats[STAT_ALLOC_EVENTS] = 1200;
	m->stats[STAT_ALLOCS] = 15;
	m->stats[STAT_FREES] = 5;
	m->stats[STAT_STACK_FAULT] = 1;
	m->unresolved_frames = 1;
	m->recursion_misses = 2;
	return m;
}

/* Open files held: alloc_empty_file on filp, twice at different offsets. */
static struct model *build_files(void)
{
	static const char *const filp[] = {
		"alloc_empty_file+0x4f", "path_openat+0x47", "do_filp_open+0xaf",
		"do_sys_openat2+0x9b", "__x64_sys_openat+0x55", "do_syscall_64+0x5d",
	};
	static const char *const filp2[] = {
		"alloc_empty_file+0x61", "path_openat+0x47", "do_filp_open+0xaf",
		"do_sys_openat2+0x9b", "__x64_sys_openat+0x55", "do_syscall_64+0x5d",
	};
	static const __u64 filp_addr[] = {
		0xffffffffa12f3c4f, 0xffffffffa1308a47, 0xffffffffa130b0af,
		0xffffffffa12ef19b, 0xffffffffa12ef655, 0xffffffffa1a1a3cd,
	};
	static const char *const seq[] = {
		"seq_open+0x31", "single_open+0x4e", "do_dentry_open+0x1f2 [xfs]",
	};
	static const __u64 seq_addr[] = { 0xffffffffa0dd1031, 0xffffffffa0dd1a4e, 0xffffffffc2000df2 };
	struct model *m = model__new();
	struct model_site *s;

	if (!m)
		return NULL;
	set_meta(m, "beta", "kleak -w files.run -- ./open-files 10");
	add_site(m, KLEAK_SITE_CACHE, "filp", 256, 7, filp, filp_addr, 6);
	s = add_site(m, KLEAK_SITE_CACHE, "filp", 256, 3, filp2, filp_addr, 6);
	snprintf(s->comms[1].comm, KLEAK_COMM_LEN, "%s", "open files");
	s->comms[1].count = 1;
	s->n_comms = 2;
	add_site(m, KLEAK_SITE_KMALLOC, "kmalloc-192", 192, 5, seq, seq_addr, 3);
	m->stats[STAT_ALLOC_EVENTS] = 800;
	m->stats[STAT_ALLOCS] = 15;
	m->stats[STAT_ALLOC_MAP_FULL] = 2;
	return m;
}

static bool str_eq(const char *a, const char *b)
{
	return a && b ? !strcmp(a, b) : a == b;
}

/*
 * The TCP run as this kleak saves it: its report options (a command run,
 * so --older 0; -T 5, an --exclude) and a merged cache.
 */
static struct model *build_v2(void)
{
	struct model *m = build_tcp();
	struct model_merged *g;

	if (!m)
		return NULL;
	m->meta.report_saved = true;
	m->meta.older_ms = 0;
	m->meta.top = 5;
	m->meta.caches = true;
	set_str(&m->meta.exclude, "\\[xfs\\]|seq_open");
	m->meta.cache = NULL;
	g = model__add_merged(m, "TCP");
	model_merged__add_alias(g, "tcp_bind2_bucket");
	model_merged__add_alias(g, "a\\b c");
	return m;
}

/* Field by field; names the first difference. */
static bool model_equal(const struct model *a, const struct model *b)
{
	size_t i, j;

#define SAME(cond, what) if (!ASSERT_TRUE(cond, what)) return false
	SAME(str_eq(a->meta.version, b->meta.version), "meta.version");
	SAME(str_eq(a->meta.kernel, b->meta.kernel), "meta.kernel");
	SAME(str_eq(a->meta.hostname, b->meta.hostname), "meta.hostname");
	SAME(str_eq(a->meta.boot_id, b->meta.boot_id), "meta.boot_id");
	SAME(str_eq(a->meta.cmdline, b->meta.cmdline), "meta.cmdline");
	SAME(str_eq(a->meta.filters, b->meta.filters), "meta.filters");
	SAME(str_eq(a->meta.attach, b->meta.attach), "meta.attach");
	SAME(a->meta.start_s == b->meta.start_s && a->meta.end_s == b->meta.end_s &&
	     a->meta.sample_rate == b->meta.sample_rate &&
	     a->meta.interval_s == b->meta.interval_s, "meta numbers");
	SAME(a->meta.report_saved == b->meta.report_saved, "meta.report_saved");
	SAME(!a->meta.report_saved ||
	     (a->meta.older_ms == b->meta.older_ms && a->meta.top == b->meta.top &&
	      a->meta.caches == b->meta.caches && str_eq(a->meta.exclude, b->meta.exclude) &&
	      str_eq(a->meta.cache, b->meta.cache)), "meta report options");
	SAME(a->n_merged == b->n_merged, "n_merged");
	for (i = 0; i < a->n_merged; i++) {
		SAME(!strcmp(a->merged[i].name, b->merged[i].name) &&
		     a->merged[i].n_aliases == b->merged[i].n_aliases, "merged cache");
		for (j = 0; j < a->merged[i].n_aliases; j++)
			SAME(!strcmp(a->merged[i].aliases[j], b->merged[i].aliases[j]),
			     "merged alias");
	}
	SAME(!memcmp(a->stats, b->stats, sizeof(a->stats)), "stats");
	SAME(a->recursion_misses == b->recursion_misses, "recursion_misses");
	SAME(a->unresolved_frames == b->unresolved_frames, "unresolved_frames");
	SAME(a->books_kept == b->books_kept && a->outstanding == b->outstanding, "books");
	SAME(a->n_slabs == b->n_slabs, "n_slabs");
	for (i = 0; i < a->n_slabs; i++)
		SAME(!memcmp(&a->slabs[i], &b->slabs[i], sizeof(a->slabs[i])), "slab");
	SAME(a->n_sites == b->n_sites, "n_sites");
	for (i = 0; i < a->n_sites; i++) {
		const struct model_site *x = &a->sites[i], *y = &b->sites[i];

		SAME(x->kind == y->kind && !strcmp(x->cache, y->cache) &&
		     x->obj_size == y->obj_size && x->stack_err == y->stack_err &&
		     x->count == y->count && x->bytes == y->bytes && x->allocs == y->allocs &&
		     x->retired == y->retired && x->retired_bytes == y->retired_bytes,
		     "site totals");
		SAME(!memcmp(x->ctx, y->ctx, sizeof(x->ctx)), "site ctx");
		SAME(x->n_comms == y->n_comms, "site n_comms");
		for (j = 0; j < x->n_comms; j++)
			SAME(!strcmp(x->comms[j].comm, y->comms[j].comm) &&
			     x->comms[j].count == y->comms[j].count, "site comm");
		SAME(x->n_frames == y->n_frames, "site n_frames");
		for (j = 0; j < x->n_frames; j++)
			SAME(x->frames[j].addr == y->frames[j].addr &&
			     str_eq(x->frames[j].sym, y->frames[j].sym), "site frame");
		SAME(x->n_ages == y->n_ages && (!x->n_ages ||
		     !memcmp(x->ages_ms, y->ages_ms, x->n_ages * sizeof(__u32))), "site ages");
		SAME(x->n_trend == y->n_trend && (!x->n_trend ||
		     !memcmp(x->trend, y->trend, x->n_trend * sizeof(__s64))), "site trend");
	}
#undef SAME
	return true;
}

static char tmpdir[64];

static const char *tmp_setup(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/kleak-test-XXXXXX");
	return mkdtemp(tmpdir);
}

static void tmp_cleanup(void)
{
	struct dirent *e;
	char path[320];
	DIR *d = opendir(tmpdir);

	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.' && (!e->d_name[1] || !strcmp(e->d_name, "..")))
			continue;
		snprintf(path, sizeof(path), "%s/%s", tmpdir, e->d_name);
		unlink(path);
	}
	if (d)
		closedir(d);
	rmdir(tmpdir);
}

static size_t dir_entries(const char *dir)
{
	struct dirent *e;
	size_t n = 0;
	DIR *d = opendir(dir);

	while (d && (e = readdir(d)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	if (d)
		closedir(d);
	return n;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (!fseek(f, 0, SEEK_END) && (n = ftell(f)) >= 0 && !fseek(f, 0, SEEK_SET)) {
		buf = malloc(n + 1);
		if (buf && fread(buf, 1, n, f) == (size_t)n) {
			buf[n] = '\0';
			*len = n;
		} else {
			free(buf);
			buf = NULL;
		}
	}
	fclose(f);
	return buf;
}

static bool spill(const char *path, const char *buf, size_t len)
{
	FILE *f = fopen(path, "w");
	bool ok;

	if (!f)
		return false;
	ok = fwrite(buf, 1, len, f) == len;
	return !fclose(f) && ok;
}

/*
 * record__read() with stderr captured: returns its result, sets *lines to
 * the number of stderr lines and copies the first into msg.
 */
static int read_captured(const char *path, struct model **m, int *lines, char *msg, size_t sz)
{
	char cap[320];
	int fd, saved, err, c;
	FILE *f;

	snprintf(cap, sizeof(cap), "%s/stderr", tmpdir);
	fd = open(cap, O_RDWR | O_CREAT | O_TRUNC, 0600);
	fflush(stderr);
	saved = dup(2);
	dup2(fd, 2);
	err = record__read(path, m);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	close(fd);
	*lines = 0;
	msg[0] = '\0';
	f = fopen(cap, "r");
	if (f) {
		if (!fgets(msg, sz, f))
			msg[0] = '\0';
		rewind(f);
		while ((c = getc(f)) != EOF)
			*lines += c == '\n';
		fclose(f);
	}
	unlink(cap);
	return err;
}

/* Expects a clean failure: an error, no model, one stderr line containing want. */
static bool expect_fail(const char *path, int want_err, const char *want, const char *what)
{
	struct model *m = (struct model *)1;
	char msg[512];
	int lines, err;

	err = read_captured(path, &m, &lines, msg, sizeof(msg));
	if (!ASSERT_NULL(m, what))
		return false;
	if (want_err && !ASSERT_EQ(err, want_err, what))
		return false;
	if (!ASSERT_TRUE(err < 0, what) || !ASSERT_EQ(lines, 1, what))
		return false;
	if (want && !ASSERT_TRUE(strstr(msg, want) != NULL, what)) {
		printf("  message: %s", msg);
		return false;
	}
	return ASSERT_TRUE(strstr(msg, path) != NULL, "message names the file");
}

/* Builds a run file of a version from body (after the header) with a correct end line. */
static bool make_run_v(const char *path, int version, const char *body, size_t n_sites)
{
	char *buf;
	uLong crc;
	bool ok;
	int len;

	len = asprintf(&buf, "kleak-run %d\n%s", version, body);
	if (len < 0)
		return false;
	crc = crc32(crc32(0L, Z_NULL, 0), (const Bytef *)buf, len);
	free(buf);
	len = asprintf(&buf, "kleak-run %d\n%send %zu %08lx\n", version, body, n_sites,
		       (unsigned long)crc);
	if (len < 0)
		return false;
	ok = spill(path, buf, len);
	free(buf);
	return ok;
}

static bool make_run(const char *path, const char *body, size_t n_sites)
{
	return make_run_v(path, 1, body, n_sites);
}

#define META_OK                                                                          \
	"meta version 0.1.0\nmeta kernel 6.1\nmeta hostname h\nmeta boot_id -\n"         \
	"meta cmdline kleak\nmeta filters \\e\nmeta attach tp_btf\nmeta start_s 1\n"    \
	"meta end_s 2\nmeta sample_rate 1\nmeta interval_s 0\n"

void test_record_roundtrip(void)
{
	struct model *m = NULL, *back = NULL;
	struct model_site *s;
	char path[128];
	size_t i;

	if (!ASSERT_OK_PTR(tmp_setup(), "mkdtemp"))
		return;
	m = build_tcp();
	if (!ASSERT_OK_PTR(m, "build_tcp"))
		goto out;
	/* strings the escaping must carry: NULL, empty, "-", backslash, bytes 1 and 0xff */
	free(m->meta.filters);
	set_str(&m->meta.filters, "-");
	free(m->meta.attach);
	m->meta.attach = NULL;
	free(m->meta.version);
	set_str(&m->meta.version, "");
	free(m->meta.hostname);
	set_str(&m->meta.hostname, "a\\b \\s\x01\xff\r\x7f-");
	/* more ages than fit one line, and extreme values */
	s = &m->sites[2];
	free(s->ages_ms);
	s->n_ages = 3 * RECORD_VALUES_PER_LINE + 1;
	s->ages_ms = calloc(s->n_ages, sizeof(__u32));
	for (i = 0; i < s->n_ages; i++)
		s->ages_ms[i] = i ? 100000 - i : UINT32_MAX;
	s->count = INT64_MIN;
	s->bytes = INT64_MAX;
	s->allocs = UINT64_MAX;
	m->meta.interval_s = 10;
	snprintf(path, sizeof(path), "%s/run.kleak", tmpdir);
	if (!ASSERT_OK(record__write(m, path), "record__write"))
		goto out;
	ASSERT_EQ(dir_entries(tmpdir), (size_t)1, "no temporary file left");
	/* and once more over the existing file */
	if (!ASSERT_OK(record__write(m, path), "record__write over"))
		goto out;
	ASSERT_EQ(dir_entries(tmpdir), (size_t)1, "no temporary file left");
	if (!ASSERT_OK(record__read(path, &back), "record__read"))
		goto out;
	model_equal(m, back);
out:
	model__free(m);
	model__free(back);
	tmp_cleanup();
}

void test_record_empty_model(void)
{
	struct model *m = model__new(), *back = NULL;
	char path[128];

	if (!ASSERT_OK_PTR(tmp_setup(), "mkdtemp"))
		return;
	snprintf(path, sizeof(path), "%s/empty.kleak", tmpdir);
	if (ASSERT_OK(record__write(m, path), "record__write") &&
	    ASSERT_OK(record__read(path, &back), "record__read"))
		model_equal(m, back);
	model__free(m);
	model__free(back);
	tmp_cleanup();
}

static void check_fixture(const char *path, struct model *(*build)(void), bool regen)
{
	struct model *m = build(), *back = NULL;

	if (regen && getenv("KLEAK_REGEN_FIXTURES"))
		ASSERT_OK(record__write(m, path), "regenerate fixture");
	if (ASSERT_OK(record__read(path, &back), path))
		model_equal(m, back);
	model__free(m);
	model__free(back);
}

void test_record_fixtures(void)
{
	check_fixture(FIX_TCP, build_tcp, false);
	check_fixture(FIX_FILES, build_files, false);
	check_fixture(FIX_V2, build_v2, true);
}

void test_record_write_error(void)
{
	struct model *m = model__new();
	char path[128];
	int lines = 0, fd, saved, err;

	if (!ASSERT_OK_PTR(tmp_setup(), "mkdtemp"))
		return;
	snprintf(path, sizeof(path), "%s/stderr", tmpdir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	fflush(stderr);
	saved = dup(2);
	dup2(fd, 2);
	snprintf(path, sizeof(path), "%s/no/such/dir/run.kleak", tmpdir);
	err = record__write(m, path);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	lseek(fd, 0, SEEK_SET);
	{
		char buf[512];
		ssize_t n = read(fd, buf, sizeof(buf) - 1);

		buf[n > 0 ? n : 0] = '\0';
		for (n = 0; buf[n]; n++)
			lines += buf[n] == '\n';
		ASSERT_TRUE(strstr(buf, "failed to write run") && strstr(buf, path), "message");
	}
	close(fd);
	ASSERT_EQ(err, -ENOENT, "record__write into a missing directory");
	ASSERT_EQ(lines, 1, "one error line");
	model__free(m);
	tmp_cleanup();
}

/* Every proper prefix of a valid file is refused, with one line, no model. */
void test_record_truncated(void)
{
	char path[128], what[64];
	size_t len, n;
	char *buf;

	if (!ASSERT_OK_PTR(tmp_setup(), "mkdtemp"))
		return;
	buf = slurp(FIX_TCP, &len);
	if (!ASSERT_OK_PTR(buf, "read " FIX_TCP))
		goto out;
	snprintf(path, sizeof(path), "%s/cut.kleak", tmpdir);
	for (n = 0; n < len; n++) {
		snprintf(what, sizeof(what), "truncated at byte %zu", n);
		if (!spill(path, buf, n) || !expect_fail(path, 0, NULL, what))
			break;
	}
	ASSERT_EQ(n, len, "all truncation points refused");
	/* the messages themselves, at three kinds of cut */
	spill(path, buf, 0);
	expect_fail(path, -EINVAL, "empty file", "empty");
	spill(path, buf, 5);
	expect_fail(path, -EBADMSG, "truncated at line 1 (no end marker)", "inside the header");
	spill(path, buf, strchr(strchr(buf, '\n') + 1, '\n') + 1 - buf);
	expect_fail(path, -EBADMSG, "truncated at line 3 (no end marker)", "after line 2");
	spill(path, buf, len - 1);
	expect_fail(path, -EBADMSG, "no end marker", "last newline missing");
out:
	free(buf);
	tmp_cleanup();
}

/* Any byte changed anywhere before the end line is a checksum mismatch. */
void test_record_corrupt(void)
{
	char path[128], what[64];
	size_t len, n, end;
	char *buf;

	if (!ASSERT_OK_PTR(tmp_setup(), "mkdtemp"))
		return;
	buf = slurp(FIX_FILES, &len);
	if (!ASSERT_OK_PTR(buf, "read " FIX_FILES))
		goto out;
	snprintf(path, sizeof(path), "%s/flip.kleak", tmpdir);
	end = strstr(buf, "\nend ") - buf + 1;
	/* byte 0 to the header's newline is the header check's business */
	for (n = strchr(buf, '\n') - buf + 1; n < len; n++) {
		buf[n] ^= 0x04;
		snprintf(what, sizeof(what), "byte %zu changed", n);
		if (!spill(path, buf, len) ||
		    !expect_fail(path, n + 1 < end ? -EBADMSG : 0,
				 n + 1 < end ? "checksum mismatch (file corrupt)" : NULL, what)) {
			buf[n] ^= 0x04;
			break;
		}
		buf[n] ^= 0x04;
	}
	ASSERT_EQ(n, len, "all changed bytes refused");
	/* trailing data after the end line */
	buf = realloc(buf, len + 2);
	memcpy(buf + len, "x\n", 2);
	spill(path, buf, len + 2);
	expect_fail(path, -EBADMSG, "no end marker", "data after the end line");
out:
	free(buf);
	tmp_cleanup();
}

void test_record_header(void)
{
	char path[128];
	size_t len;
	char *buf;

	if (!ASSERT_OK_PTR(tmp_setup(), "mkdtemp"))
		return;
	snprintf(path, sizeof(path), "%s/h.kleak", tmpdir);
	buf = slurp(FIX_TCP, &len);
	if (!ASSERT_OK_PTR(buf, "read " FIX_TCP))
		goto out;
	buf[10] = '7';
	spill(path, buf, len);
	expect_fail(path, -ENOTSUP,
		    "unsupported format version 7 (this kleak reads versions 1 to 3)", "version 7");
	buf[10] = '0';
	spill(path, buf, len);
	expect_fail(path, -ENOTSUP, "unsupported format version 0", "version 0");
	spill(path, "kleak-run 12345678901234567890\n", 31);
	expect_fail(path, -EINVAL, "not a kleak run file", "version overflow");
	spill(path, "kleak-run x\nend 0 00000000\n", 26);
	expect_fail(path, -EINVAL, "not a kleak run file", "version not a number");
	spill(path, "# shell script\necho hi\n", 23);
	expect_fail(path, -EINVAL, "not a kleak run file", "text file");
	spill(path, "\x7f" "ELF\x02\x01\x01\0\0\0\0", 12);
	expect_fail(path, -EINVAL, "not a kleak run file", "binary file");
	expect_fail(tmpdir, -EINVAL, "not a regular file", "directory");
	snprintf(path, sizeof(path), "%s/missing.kleak", tmpdir);
	expect_fail(path, -ENOENT, "No such file or directory", "missing file");
out:
	free(buf);
	tmp_cleanup();
}

/* Files with a correct checksum and a wrong record: each names its line. */
void test_record_bad_records(void)
{
	static const struct {
		const char *body;
		size_t n_sites;
		const char *want;
	} cases[] = {
		{ META_OK "site cache TCP 2304 0 1 2304 1 0 0 0 0\nctx 1 0 0 0\n", 1,
		  "line 13: bad site record" },
		{ META_OK "site cache TCP 2304 0 1x 2304 1 0 0 0 0 0\nctx 1 0 0 0\n", 1,
		  "line 13: bad site record" },
		{ META_OK "site cache TCP 2304 0 1 2304 -1 0 0 0 0 0\nctx 1 0 0 0\n", 1,
		  "line 13: bad site record" },
		{ META_OK "site cache TCP 2304 0 1 2304 18446744073709551616 0 0 0 0 0\n", 1,
		  "line 13: bad site record" },
		{ META_OK "site cache TCP 2304 0 1 2304 +1 0 0 0 0 0\n", 1,
		  "line 13: bad site record" },
		{ META_OK "site cache TCP 2304 0 1 2304  1 0 0 0 0 0\n", 1,
		  "line 13: empty field" },
		{ META_OK "site cache TCP\t2304 0 1 2304 1 0 0 0 0 0\n", 1,
		  "line 13: control byte" },
		{ META_OK "site slab TCP 2304 0 1 2304 1 0 0 0 0 0\n", 1,
		  "line 13: bad site record" },
		{ META_OK "site cache 0123456789012345678901234567890123 1 0 1 1 1 0 0 0 0 0\n",
		  1, "line 13: bad site record" },
		{ META_OK "site cache TCP 2304 0 1 2304 1 0 0 128 0 0\n", 1,
		  "line 13: bad site record" },
		{ META_OK "site cache TCP 2304 0 1 2304 1 0 0 0 0 0\n", 1,
		  "line 13: site without ctx record" },
		{ META_OK "site cache TCP 2304 0 1 2304 1 0 0 1 0 0\nctx 1 0 0 0\n", 1,
		  "line 13: site announced 1 frames, found 0" },
		{ META_OK "site cache TCP 2304 0 1 2304 1 0 0 0 0 2\nctx 1 0 0 0\ntrend -1\n"
		  "stat frees_matched 1\n", 1, "line 13: site announced 2 trend values, found 1" },
		{ META_OK "site cache TCP 2304 0 1 2304 1 0 0 0 0 0\nctx 1 0 0 0\n"
		  "frame 0xffff -\n", 1, "line 15: more frames than the site announced" },
		{ META_OK "site cache TCP 2304 0 1 2304 1 0 0 1 0 0\nctx 1 0 0 0\n"
		  "frame ffff -\n", 1, "line 15: bad frame record" },
		{ META_OK "site cache TCP 2304 0 1 2304 1 0 0 1 0 0\nctx 1 0 0 0\n"
		  "frame 0xffff a\\qb\n", 1, "line 15: bad frame record" },
		{ META_OK "site cache TCP 2304 0 1 2304 1 0 0 1 0 0\nctx 1 0 0 0\n"
		  "frame 0xffff a\\x00\n", 1, "line 15: bad frame record" },
		{ META_OK "site cache TCP 2304 0 1 2304 1 0 0 0 67108864 0\nctx 1 0 0 0\n"
		  "ages 5\n", 1, "line 13: site announced 67108864 ages, found 1" },
		{ META_OK "site cache TCP 2304 0 1 2304 1 0 0 0 2 0\nctx 1 0 0 0\n"
		  "ages 5 6\n", 1, "line 15: ages not sorted oldest first" },
		{ META_OK "site cache TCP 2304 0 1 2304 1 0 0 0 1 0\nctx 1 0 0 0\n"
		  "ages 5 4\n", 1, "line 15: more ages values than the site announced" },
		{ META_OK "site cache TCP 2304 0 1 2304 1 0 0 0 1 0\nctx 1 0 0 0\n"
		  "ages 4294967296\n", 1, "line 15: bad ages record" },
		{ META_OK "site cache TCP 2304 0 1 2304 1 0 0 0 0 0\nctx 1 0 0 0\n"
		  "comm a 1\ncomm b 1\ncomm c 1\ncomm d 1\n", 1, "line 18: too many comm records" },
		{ META_OK "site cache TCP 2304 0 1 2304 1 0 0 0 0 0\nctx 1 0 0 0\n"
		  "comm 0123456789abcdef 1\n", 1, "line 15: bad comm record" },
		{ META_OK, 1, "end record counts 1 sites, the file holds 0" },
		{ META_OK "meta kernel 6.2\n", 0, "line 13: duplicate meta key 'kernel'" },
		{ "meta version 0.1.0\n", 0, "meta key 'kernel' missing" },
		{ META_OK "meta colour blue\n", 0, "line 13: unknown meta key 'colour'" },
		{ META_OK "stat allocs_recorded 1\nstat allocs_recorded 2\n", 0,
		  "line 14: duplicate stat" },
		{ META_OK "stat allocs_recorded -1\n", 0, "line 13: bad stat record" },
		{ META_OK "meta\n", 0, "line 13: bad meta record" },
		{ META_OK "frame 0xffff -\n", 0, "line 13: unexpected record 'frame'" },
		{ META_OK "end 0 00000000\n", 0, "line 13: unexpected record 'end'" },
		{ META_OK "slab TCP 1\n", 0, "line 13: bad slab record" },
		{ META_OK "recursion_misses 1\nrecursion_misses 1\n", 0,
		  "line 14: duplicate recursion_misses record" },
		{ META_OK "sites 1\n", 0, "line 13: unexpected record 'sites'" },
	};
	char path[128], what[32];
	size_t i;

	if (!ASSERT_OK_PTR(tmp_setup(), "mkdtemp"))
		return;
	snprintf(path, sizeof(path), "%s/bad.kleak", tmpdir);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(what, sizeof(what), "case %zu", i);
		if (ASSERT_TRUE(make_run(path, cases[i].body, cases[i].n_sites), "make_run"))
			expect_fail(path, 0, cases[i].want, what);
	}
	/* the end line itself, checksum aside */
	spill(path, "kleak-run 1\nend 0 0000000g\n", 27);
	expect_fail(path, -EINVAL, "line 2: bad end record", "end crc not hex");
	spill(path, "kleak-run 1\nend  0 00000000\n", 28);
	expect_fail(path, -EINVAL, "line 2: bad end record", "end double space");
	tmp_cleanup();
}

/* A counter of a newer kleak is skipped with a warning, the rest is read. */
void test_record_unknown_stat(void)
{
	struct model *m = NULL;
	char path[128], msg[256];
	int lines;

	if (!ASSERT_OK_PTR(tmp_setup(), "mkdtemp"))
		return;
	snprintf(path, sizeof(path), "%s/newer.kleak", tmpdir);
	if (ASSERT_TRUE(make_run(path, META_OK "stat allocs_recorded 9\nstat teleported 3\n", 0),
			"make_run") &&
	    ASSERT_OK(read_captured(path, &m, &lines, msg, sizeof(msg)), "record__read")) {
		ASSERT_EQ(m->stats[STAT_ALLOCS], (__u64)9, "known stat kept");
		ASSERT_EQ(lines, 1, "one warning line");
		ASSERT_TRUE(strstr(msg, "warning") && strstr(msg, "1 counters unknown"), "warning");
		ASSERT_NULL(m->meta.boot_id, "'-' reads as NULL");
		ASSERT_STREQ(m->meta.filters, "", "'\\e' reads as empty");
	}
	model__free(m);
	tmp_cleanup();
}

/* A version 1 file reads without report options; saved again, it is version 2 and still so. */
void test_record_v1_to_v2(void)
{
	struct model *v1 = NULL, *back = NULL;
	char path[128], *buf = NULL;
	size_t len;

	if (!ASSERT_OK_PTR(tmp_setup(), "mkdtemp"))
		return;
	if (!ASSERT_OK(record__read(FIX_TCP, &v1), "read version 1"))
		goto out;
	ASSERT_TRUE(!v1->meta.report_saved, "version 1 keeps no report options");
	ASSERT_EQ(v1->n_merged, (size_t)0, "version 1 keeps no merged caches");
	snprintf(path, sizeof(path), "%s/again.kleak", tmpdir);
	if (!ASSERT_OK(record__write(v1, path), "write it again"))
		goto out;
	buf = slurp(path, &len);
	if (!ASSERT_OK_PTR(buf, "read back"))
		goto out;
	ASSERT_TRUE(!strncmp(buf, "kleak-run 3\n", 12), "written as the current version, 3");
	ASSERT_NULL(strstr(buf, "\nmeta older_ms "), "no report options made up");
	if (ASSERT_OK(record__read(path, &back), "read version 2"))
		model_equal(v1, back);
out:
	free(buf);
	model__free(v1);
	model__free(back);
	tmp_cleanup();
}

/* Report options and merged caches survive; a cache with many aliases takes several lines. */
void test_record_v2_roundtrip(void)
{
	struct model *m = build_v2(), *back = NULL;
	struct model_merged *g;
	char path[128], name[32], *buf = NULL, *p;
	size_t len, lines = 0;
	int i;

	if (!ASSERT_OK_PTR(tmp_setup(), "mkdtemp") || !ASSERT_OK_PTR(m, "build_v2"))
		goto out;
	m->meta.caches = false;
	m->meta.older_ms = UINT64_MAX;
	set_str(&m->meta.cache, "TCP");
	g = model__add_merged(m, "kmalloc-64");
	for (i = 0; i < RECORD_VALUES_PER_LINE + 6; i++) {
		snprintf(name, sizeof(name), "alias-%03d", i);
		model_merged__add_alias(g, name);
	}
	snprintf(path, sizeof(path), "%s/v2.kleak", tmpdir);
	if (!ASSERT_OK(record__write(m, path), "record__write"))
		goto out;
	buf = slurp(path, &len);
	if (!ASSERT_OK_PTR(buf, "read back"))
		goto out;
	for (p = buf; (p = strstr(p, "\nmerged kmalloc-64 ")); p++)
		lines++;
	ASSERT_EQ(lines, (size_t)2, "70 aliases on two lines");
	ASSERT_TRUE(strstr(buf, "\nmeta exclude \\\\[xfs\\\\]|seq_open\n") != NULL, "exclude kept");
	if (ASSERT_OK(record__read(path, &back), "record__read"))
		model_equal(m, back);
out:
	free(buf);
	model__free(m);
	model__free(back);
	tmp_cleanup();
}

/*
 * What a newer kleak adds within version 2 (#14 object classes, #15 user
 * frames, as docs/record-format.md plans them) is skipped with one warning,
 * inside a site too, and the rest reads as this kleak wrote it.
 */
void test_record_v2_newer(void)
{
	struct model *want = build_v2(), *m = NULL;
	char msg[512];
	int lines;

	if (!ASSERT_OK_PTR(tmp_setup(), "mkdtemp"))
		goto out;
	if (ASSERT_OK(read_captured(FIX_V2_NEWER, &m, &lines, msg, sizeof(msg)), "record__read")) {
		model_equal(want, m);
		ASSERT_EQ(lines, 1, "one warning line");
		ASSERT_TRUE(strstr(msg, "warning") && strstr(msg, "1 meta keys") &&
			    strstr(msg, "records (ubinary, classified, class, uframe, uframes)"),
			    "warning names what was skipped");
	}
	if (msg[0] && !strstr(msg, "uframes"))
		printf("  message: %s", msg);
out:
	model__free(want);
	model__free(m);
	tmp_cleanup();
}

/* Version 2's own rules, and version 1 refusing what only version 2 has. */
void test_record_v2_bad_records(void)
{
#define REPORT_OK "meta older_ms 0\nmeta top 5\nmeta caches 1\nmeta exclude -\nmeta cache -\n"
	static const struct {
		int version;
		const char *body;
		const char *want;
		int err;
	} cases[] = {
		{ 1, META_OK "meta older_ms 0\n", "line 13: unknown meta key 'older_ms'", -EINVAL },
		{ 1, META_OK "merged TCP tcp_bind2_bucket\n", "line 13: unexpected record 'merged'",
		  -EINVAL },
		{ 1, META_OK "ustack fp\n", "line 13: unexpected record 'ustack'", -EINVAL },
		{ 2, META_OK "meta older_ms 0\nmeta top 5\n",
		  "meta key 'caches' missing (the report options come together)", -EINVAL },
		{ 2, META_OK "meta older_ms 0\nmeta top 5\nmeta caches 2\n",
		  "line 15: bad meta record", -EINVAL },
		{ 2, META_OK REPORT_OK "meta top 6\n", "line 18: duplicate meta key 'top'",
		  -EINVAL },
		{ 2, "meta version 0.1.0\n" REPORT_OK, "meta key 'kernel' missing", -EINVAL },
		{ 2, META_OK "merged TCP\n", "line 13: bad merged record", -EINVAL },
		{ 2, META_OK "merged TCP a a\n", "line 13: duplicate alias 'a' of TCP", -EINVAL },
		{ 2, META_OK "merged TCP a\nmerged TCP b a\n",
		  "line 14: duplicate alias 'a' of TCP", -EINVAL },
		{ 2, META_OK "merged 0123456789012345678901234567890123 a\n",
		  "line 13: bad merged record", -EINVAL },
		{ 2, META_OK "merged TCP -\n", "line 13: bad merged record", -EINVAL },
		{ 2, META_OK "requires page_sites\n",
		  "written by a newer kleak: it requires 'page_sites'", -ENOTSUP },
		{ 2, META_OK "stat allocs_recorded 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 "
		  "20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39 40 41 42 43 44 45 "
		  "46 47 48 49 50 51 52 53 54 55 56 57 58 59 60 61 62 63 64 65 66 67\n",
		  "line 13: too many fields", -EINVAL },
		{ 2, META_OK "frame 0xffff -\n", "line 13: unexpected record 'frame'", -EINVAL },
	};
	struct model *m = NULL;
	char path[128], what[32];
	size_t i;

	if (!ASSERT_OK_PTR(tmp_setup(), "mkdtemp"))
		return;
	snprintf(path, sizeof(path), "%s/bad.kleak", tmpdir);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(what, sizeof(what), "case %zu", i);
		if (ASSERT_TRUE(make_run_v(path, cases[i].version, cases[i].body, 0), "make_run"))
			expect_fail(path, cases[i].err, cases[i].want, what);
	}
	/* a version 2 file without the report options (a version 1 run saved again) */
	if (ASSERT_TRUE(make_run_v(path, 2, META_OK "merged TCP b a\n", 0), "make_run") &&
	    ASSERT_OK(record__read(path, &m), "version 2 without report options")) {
		ASSERT_TRUE(!m->meta.report_saved, "none kept");
		ASSERT_TRUE(m->n_merged == 1 && m->merged[0].n_aliases == 2 &&
			    !strcmp(m->merged[0].aliases[0], "a"), "merged aliases, sorted");
	}
	model__free(m);
	tmp_cleanup();
#undef REPORT_OK
}

/*
 * Version 3's object classes: a site's held values (one per age) and
 * examples read back, --held-by keeps one class's ages, and the records a
 * reader must refuse are refused. Version 2 files skip the same lines.
 */
void test_record_v3_classes(void)
{
#define SITE3 "site cache task_struct 5888 0 3 17664 3 0 0 0 3 0\nctx 3 0 0 0\nages 30 20 10\n"
	static const char good[] = META_OK "classified task_struct\\sfilp -\n" SITE3
		"held 1 3 3\nobject reaped 12 12 -1 0 1500 kwl -\n"
		"object live 11 11 -1 0 -1 kwl \\x2d\n";
	static const struct {
		const char *body;
		const char *want;
	} cases[] = {
		{ META_OK SITE3 "held 1 3\n", "line 13: site has 3 ages and 2 held values" },
		{ META_OK SITE3 "held 1 3 3 3\n", "more held values than the site announced ages" },
		{ META_OK SITE3 "held 1 10 3\n", "line 16: bad held record" },
		{ META_OK SITE3 "object stolen 1 1 -1 0 -1 kwl -\n", "line 16: bad object record" },
		{ META_OK SITE3 "object fd 1 1 -2 0 -1 kwl -\n", "line 16: bad object record" },
		{ META_OK SITE3 "object fd 1 1 3 0 -1 kwl\n", "line 16: bad object record" },
		{ META_OK "classified a b\nclassified a b\n", "line 14: bad classified record" },
		{ META_OK "classified a\n", "line 13: bad classified record" },
	};
	struct model *m = NULL;
	char path[128], what[32];
	size_t i;

	if (!ASSERT_OK_PTR(tmp_setup(), "mkdtemp"))
		return;
	snprintf(path, sizeof(path), "%s/v3.kleak", tmpdir);
	if (ASSERT_TRUE(make_run_v(path, 3, good, 1), "make_run") &&
	    ASSERT_OK(record__read(path, &m), "version 3 with classes")) {
		const struct model_site *s = &m->sites[0];

		ASSERT_STREQ(m->held_kinds, "task_struct filp", "classified kinds");
		ASSERT_NULL(m->held_missing, "nothing missing");
		ASSERT_TRUE(s->held && s->n_held[HELD_LIVE] == 1 && s->n_held[HELD_REAPED] == 2,
			    "held counted per class");
		ASSERT_TRUE(s->n_examples == 2 && s->examples[0].held == HELD_REAPED &&
			    s->examples[0].pid == 12 && s->examples[0].last_ran_ms == 1500 &&
			    !s->examples[0].desc && !strcmp(s->examples[1].desc, "-"),
			    "examples read back");
		ASSERT_EQ(model__keep_held(m, HELD_REAPED), (size_t)0, "no site removed");
		ASSERT_TRUE(m->n_sites == 1 && s->count == 2 && s->n_ages == 2 &&
			    s->ages_ms[0] == 20 && s->n_examples == 1, "--held-by keeps its ages");
		ASSERT_EQ(model__keep_held(m, HELD_LIVE), (size_t)1, "the site has no live left");
	}
	model__free(m);
	m = NULL;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(what, sizeof(what), "case %zu", i);
		if (ASSERT_TRUE(make_run_v(path, 3, cases[i].body, strstr(cases[i].body, "site ") ?
					   1 : 0), "make_run"))
			expect_fail(path, -EINVAL, cases[i].want, what);
	}
	/* a version 2 reader's rules: the same lines are a newer kleak's, skipped */
	if (ASSERT_TRUE(make_run_v(path, 2, good, 1), "make_run") &&
	    ASSERT_OK(record__read(path, &m), "version 2 with the lines")) {
		ASSERT_TRUE(!m->held_kinds && !m->sites[0].held && !m->sites[0].n_examples,
			    "skipped in version 2");
	}
	model__free(m);
	tmp_cleanup();
#undef SITE3
}

/*
 * The classes version 3 gained later (mapped, merged): a file holding them
 * requires their features, so that a reader knowing only the first classes
 * refuses it in one line; a mapped example's range comes on a mapping line.
 */
void test_record_v3_mapped(void)
{
#define SITE2 "site cache filp 192 0 3 576 3 0 0 0 3 0\nctx 3 0 0 0\nages 30 20 10\n"
	static const char good[] = "requires held-mapped\nrequires held-merged\n" META_OK
		"classified filp -\n" SITE2 "held 8 9 4\n"
		"object mapped 7 7 -1 2 -1 \\e /usr/lib/libc.so.6\nmapping 0x7f0000 0x7f2000\n"
		"object fd 7 7 3 1 -1 \\e /dev/null\n";
	static const struct {
		const char *body;
		const char *want;
	} cases[] = {
		{ META_OK SITE2 "held 4 4 4\nobject fd 7 7 3 1 -1 \\e -\nmapping 0x1 0x2\n",
		  "line 18: bad mapping record" },
		{ META_OK SITE2 "held 8 8 8\nobject mapped 7 7 -1 1 -1 \\e -\nmapping 0x2 0x1\n",
		  "line 18: bad mapping record" },
		{ META_OK SITE2 "mapping 0x1 0x2\n", "line 16: bad mapping record" },
	};
	struct model *m = NULL, *back = NULL;
	char path[128], what[32], *text;
	size_t i, len;

	if (!ASSERT_OK_PTR(tmp_setup(), "mkdtemp"))
		return;
	snprintf(path, sizeof(path), "%s/mapped.kleak", tmpdir);
	if (ASSERT_TRUE(make_run_v(path, 3, good, 1), "make_run") &&
	    ASSERT_OK(record__read(path, &m), "version 3 with mapped and merged")) {
		const struct model_site *s = &m->sites[0];

		ASSERT_TRUE(s->n_held[HELD_MAPPED] == 1 && s->n_held[HELD_MERGED] == 1 &&
			    s->n_held[HELD_FD] == 1, "held counted per class");
		ASSERT_TRUE(s->n_examples == 2 && s->examples[0].held == HELD_MAPPED &&
			    s->examples[0].map_start == 0x7f0000 &&
			    s->examples[0].map_end == 0x7f2000 && !s->examples[1].map_end,
			    "the mapping belongs to the mapped example");
		/* written again: the same requires lines, the same mapping */
		ASSERT_OK(record__write(m, path), "record__write");
		text = slurp(path, &len);
		ASSERT_TRUE(text && strstr(text, "kleak-run 3\nrequires held-mapped\n"
					     "requires held-merged\nmeta ") &&
			    strstr(text, "/usr/lib/libc.so.6\nmapping 0x7f0000 0x7f2000\n"),
			    "requires and mapping lines written");
		free(text);
		if (ASSERT_OK(record__read(path, &back), "read back"))
			ASSERT_TRUE(back->sites[0].examples[0].map_end == 0x7f2000, "round trip");
		/* only the classes a file holds are required */
		model__keep_held(m, HELD_FD);
		ASSERT_OK(record__write(m, path), "record__write fd only");
		text = slurp(path, &len);
		ASSERT_TRUE(text && !strstr(text, "requires"), "nothing required");
		free(text);
	}
	model__free(m);
	model__free(back);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(what, sizeof(what), "case %zu", i);
		if (ASSERT_TRUE(make_run_v(path, 3, cases[i].body, 1), "make_run"))
			expect_fail(path, -EINVAL, cases[i].want, what);
	}
	if (ASSERT_TRUE(make_run_v(path, 3, "requires held-fancier\n" META_OK, 0), "make_run"))
		expect_fail(path, -ENOTSUP, "it requires 'held-fancier', which this kleak does not "
			    "know", "an unknown feature");
	tmp_cleanup();
#undef SITE2
}

/* opts__join_args() of argv, read back by /bin/sh, gives argv. */
static bool shell_reads_back(char *const argv[], int argc, const char *want)
{
	char *joined = opts__join_args(argc, argv), *cmd = NULL, out[512];
	size_t n = 0, got;
	bool ok = false;
	FILE *p;
	int i;

	if (!ASSERT_OK_PTR(joined, "opts__join_args"))
		return false;
	if (want && !ASSERT_STREQ(joined, want, "quoted as expected"))
		goto out;
	/* printf with no argument still prints its format once */
	if (!argc) {
		ok = true;
		goto out;
	}
	/* each word the shell reads, NUL-terminated */
	if (asprintf(&cmd, "printf '%%s\\0' %s", joined) < 0)
		goto out;
	p = popen(cmd, "r");
	if (!ASSERT_OK_PTR(p, "popen"))
		goto out;
	got = fread(out, 1, sizeof(out), p);
	pclose(p);
	for (i = 0; i < argc; i++) {
		if (!ASSERT_TRUE(n + strlen(argv[i]) < got && !strcmp(out + n, argv[i]),
				 "the shell reads the argument back")) {
			printf("  argument %d: '%s' from %s\n", i, argv[i], joined);
			goto out;
		}
		n += strlen(argv[i]) + 1;
	}
	ok = ASSERT_EQ(n, got, "no more words");
out:
	free(cmd);
	free(joined);
	return ok;
}

void test_record_cmdline_quoting(void)
{
	char *plain[] = { "kleak", "-c", "sleep", "-w", "/tmp/b.run", "--top=3", "a@b%c+d,e:f" };
	char *cmd[] = { "kleak", "-c", "sleep 25 & true" };
	char *quote[] = { "kleak", "--", "sh", "-c", "echo 'it''s' \"$HOME\" `id` $(id) \\ ;" };
	char *odd[] = { "kleak", "", "~root", "#x", "a\tb\nc", "caf\xc3\xa9", "*", "!", "'" };
	char *none[] = { NULL };

	shell_reads_back(plain, 7, "kleak -c sleep -w /tmp/b.run --top=3 a@b%c+d,e:f");
	shell_reads_back(cmd, 3, "kleak -c 'sleep 25 & true'");
	shell_reads_back(quote, 5,
			 "kleak -- sh -c 'echo '\\''it'\\'''\\''s'\\'' \"$HOME\" `id` $(id) \\ ;'");
	shell_reads_back(odd, 9, NULL);
	shell_reads_back(none, 0, "");
}

/* Without --raw-addresses a saved run names frames by symbol only (format 3). */
void test_record_no_raw_addresses(void)
{
	struct model *m = build_tcp(), *back = NULL;
	char path[128], *buf = NULL;
	size_t len, i, j;

	if (!ASSERT_OK_PTR(tmp_setup(), "mkdtemp") || !ASSERT_OK_PTR(m, "build_tcp"))
		goto out;
	m->meta.raw_addresses = false;
	snprintf(path, sizeof(path), "%s/noraw.kleak", tmpdir);
	if (!ASSERT_OK(record__write(m, path), "record__write"))
		goto out;
	buf = slurp(path, &len);
	if (!ASSERT_OK_PTR(buf, "read back"))
		goto out;
	ASSERT_NULL(strstr(buf, "0xffffffff"), "no kernel address in the file");
	ASSERT_TRUE(strstr(buf, "\nframe 0x0 sk_prot_alloc+0x3a\n") != NULL, "frames by symbol");
	if (!ASSERT_OK(record__read(path, &back), "record__read"))
		goto out;
	ASSERT_TRUE(!back->meta.raw_addresses, "read back without addresses");
	ASSERT_EQ(back->n_sites, m->n_sites, "sites");
	for (i = 0; i < back->n_sites && i < m->n_sites; i++)
		for (j = 0; j < back->sites[i].n_frames; j++)
			ASSERT_TRUE(!back->sites[i].frames[j].addr &&
				    (!m->sites[i].frames[j].sym) == (!back->sites[i].frames[j].sym),
				    "frame symbol kept, address not");
out:
	free(buf);
	model__free(m);
	model__free(back);
	tmp_cleanup();
}
