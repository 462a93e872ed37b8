// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * ksyms against tests/fixtures/kallsyms: a hand-written file with aliases,
 * data symbols, a gap after the last kernel function, two modules and lines
 * out of order; then against the running kernel's /proc/kallsyms.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "ksyms.h"
#include "test.h"

#define FIXTURE "tests/fixtures/kallsyms"
#define FIXTURE_HIDDEN "tests/fixtures/kallsyms-hidden"

#define STEXT 0xffffffff81000000ULL
#define KMALLOC_FIX 0xffffffff81001000ULL
#define KFREE_FIX 0xffffffff81001100ULL
#define WEAK_FIX 0xffffffff81001180ULL
#define BEFORE_DATA 0xffffffff81001200ULL
#define LOCAL_TABLE 0xffffffff81001300ULL
#define AFTER_DATA 0xffffffff81001400ULL
#define LAST_BEFORE_GAP 0xffffffff81001600ULL
#define START_RODATA 0xffffffff82000000ULL
#define XFS_ALLOC_FIX 0xffffffffc0001000ULL
#define XFS_FREE_FIX 0xffffffffc0001200ULL
#define XFS_DATA 0xffffffffc0001300ULL
#define IB_REGISTER_DEVICE 0xffffffffc0010000ULL
#define IB_DEALLOC 0xffffffffc0010400ULL

static struct ksyms *load_fixture(void)
{
	struct ksyms *ks = ksyms__load_file(FIXTURE);

	ASSERT_OK_PTR(ks, "ksyms__load_file " FIXTURE);
	return ks;
}

/* Checks that addr maps to name at off; returns the symbol or NULL. */
static const struct ksym *check_map(const struct ksyms *ks, __u64 addr, const char *name,
				    __u64 exp_off)
{
	const struct ksym *sym;
	__u64 off = ~0ULL;

	sym = ksyms__map_addr(ks, addr, &off);
	if (!ASSERT_OK_PTR(sym, name))
		return NULL;
	ASSERT_STREQ(sym->name, name, "name");
	ASSERT_EQ(off, exp_off, name);
	return sym;
}

void test_ksyms_lookup(void)
{
	struct ksyms *ks = load_fixture();
	const struct ksym *sym;

	if (!ks)
		return;
	sym = check_map(ks, KMALLOC_FIX, "kmalloc_fix", 0);
	if (sym) {
		ASSERT_EQ(sym->addr, KMALLOC_FIX, "kmalloc_fix addr");
		ASSERT_EQ(sym->size, 0x100, "kmalloc_fix size");
		ASSERT_NULL(sym->module, "kmalloc_fix module");
	}
	check_map(ks, KMALLOC_FIX + 0xff, "kmalloc_fix", 0xff);
	check_map(ks, KFREE_FIX + 0x1a, "kfree_fix", 0x1a);
	check_map(ks, WEAK_FIX + 0x7f, "weak_fix", 0x7f);
	/* The global _stext wins over the local alias listed before it. */
	check_map(ks, STEXT + 0x10, "_stext", 0x10);
	sym = ksyms__get_symbol(ks, "startup_64_alias");
	if (ASSERT_OK_PTR(sym, "get startup_64_alias"))
		ASSERT_EQ(sym->addr, STEXT, "startup_64_alias addr");
	/* A data symbol at the same address does not shrink the function. */
	sym = check_map(ks, AFTER_DATA + 0x1ff, "after_data", 0x1ff);
	if (sym)
		ASSERT_EQ(sym->size, 0x200, "after_data size");
	ASSERT_OK_PTR(ksyms__map_addr(ks, KFREE_FIX, NULL), "off may be NULL");
	ksyms__free(ks);
}

void test_ksyms_bounds(void)
{
	struct ksyms *ks = load_fixture();
	const struct ksym *sym;

	if (!ks)
		return;
	ASSERT_NULL(ksyms__map_addr(ks, STEXT - 1, NULL), "below first symbol");
	ASSERT_NULL(ksyms__map_addr(ks, 0, NULL), "zero (absolute symbol dropped)");
	/* before_data ends where the data symbol after it starts. */
	check_map(ks, BEFORE_DATA + 0xff, "before_data", 0xff);
	ASSERT_NULL(ksyms__map_addr(ks, LOCAL_TABLE, NULL), "data symbol");
	ASSERT_NULL(ksyms__map_addr(ks, LOCAL_TABLE + 0x10, NULL), "inside data");
	/* Nothing for 15 MiB after last_before_gap: its size is capped. */
	sym = check_map(ks, LAST_BEFORE_GAP + KSYM_MAX_SIZE - 1, "last_before_gap",
			KSYM_MAX_SIZE - 1);
	if (sym)
		ASSERT_EQ(sym->size, KSYM_MAX_SIZE, "last_before_gap size");
	ASSERT_NULL(ksyms__map_addr(ks, LAST_BEFORE_GAP + KSYM_MAX_SIZE, NULL),
		    "past last_before_gap");
	ASSERT_NULL(ksyms__map_addr(ks, START_RODATA - 8, NULL), "end of the gap");
	ASSERT_NULL(ksyms__map_addr(ks, START_RODATA + 0x48, NULL), "rodata");
	/* The last symbol of the file has no next one: capped too. */
	check_map(ks, IB_DEALLOC + KSYM_MAX_SIZE - 1, "ib_dealloc", KSYM_MAX_SIZE - 1);
	ASSERT_NULL(ksyms__map_addr(ks, IB_DEALLOC + KSYM_MAX_SIZE, NULL), "past ib_dealloc");
	ASSERT_NULL(ksyms__map_addr(ks, ~0ULL, NULL), "top of address space");
	ksyms__free(ks);
}

void test_ksyms_modules(void)
{
	struct ksyms *ks = load_fixture();
	const struct ksym *a, *f, *ib;

	if (!ks)
		return;
	a = check_map(ks, XFS_ALLOC_FIX + 0x10, "xfs_alloc_fix", 0x10);
	f = check_map(ks, XFS_FREE_FIX + 0xff, "xfs_free_fix", 0xff);
	ib = check_map(ks, IB_REGISTER_DEVICE + 0x3ff, "ib_register_device", 0x3ff);
	if (a && f && ib) {
		ASSERT_STREQ(a->module, "xfs", "xfs_alloc_fix module");
		ASSERT_TRUE(a->module == f->module, "module name shared");
		ASSERT_EQ(a->size, 0x200, "xfs_alloc_fix size");
		ASSERT_STREQ(ib->module, "ib_core", "ib_register_device module");
	}
	ASSERT_NULL(ksyms__map_addr(ks, XFS_DATA, NULL), "module data");
	ASSERT_NULL(ksyms__map_addr(ks, XFS_ALLOC_FIX - 1, NULL), "below module text");
	ksyms__free(ks);
}

void test_ksyms_get_symbol(void)
{
	struct ksyms *ks = load_fixture();
	const struct ksym *sym;

	if (!ks)
		return;
	sym = ksyms__get_symbol(ks, "xfs_free_fix");
	if (ASSERT_OK_PTR(sym, "xfs_free_fix")) {
		ASSERT_EQ(sym->addr, XFS_FREE_FIX, "xfs_free_fix addr");
		ASSERT_STREQ(sym->module, "xfs", "xfs_free_fix module");
	}
	ASSERT_NULL(ksyms__get_symbol(ks, "local_table"), "data symbol");
	ASSERT_NULL(ksyms__get_symbol(ks, "fixed_percpu_data"), "absolute symbol");
	ASSERT_NULL(ksyms__get_symbol(ks, "kmalloc"), "missing symbol");
	ksyms__free(ks);
}

void test_ksyms_format(void)
{
	struct ksyms *ks = load_fixture();
	char buf[64];
	int err;

	if (!ks)
		return;
	err = ksyms__format(ks, KMALLOC_FIX, buf, sizeof(buf));
	if (ASSERT_OK(err, "format kmalloc_fix"))
		ASSERT_STREQ(buf, "kmalloc_fix+0x0", "kmalloc_fix text");
	err = ksyms__format(ks, KFREE_FIX + 0x1a, buf, sizeof(buf));
	if (ASSERT_OK(err, "format kfree_fix"))
		ASSERT_STREQ(buf, "kfree_fix+0x1a", "kfree_fix text");
	err = ksyms__format(ks, XFS_FREE_FIX + 0x1a, buf, sizeof(buf));
	if (ASSERT_OK(err, "format xfs_free_fix"))
		ASSERT_STREQ(buf, "xfs_free_fix+0x1a [xfs]", "xfs_free_fix text");
	err = ksyms__format(ks, IB_REGISTER_DEVICE, buf, sizeof(buf));
	if (ASSERT_OK(err, "format ib_register_device"))
		ASSERT_STREQ(buf, "ib_register_device+0x0 [ib_core]", "ib_register_device text");

	strcpy(buf, "untouched");
	err = ksyms__format(ks, LOCAL_TABLE, buf, sizeof(buf));
	ASSERT_EQ(err, -ENOENT, "format unresolved");
	ASSERT_STREQ(buf, "untouched", "unresolved buf");

	err = ksyms__format(ks, XFS_FREE_FIX + 0x1a, buf, 10);
	ASSERT_EQ(err, -ENOSPC, "format short buffer");
	ASSERT_STREQ(buf, "xfs_free_", "truncated text");
	ksyms__free(ks);
}

void test_ksyms_errors(void)
{
	char path[] = "/tmp/kleak-kallsyms-XXXXXX";
	static const char bad[] = "ffffffff81000000 T ok\nnot-an-address T bad\n";
	struct ksyms *ks;
	int fd;

	errno = 0;
	ks = ksyms__load_file(FIXTURE_HIDDEN);
	ASSERT_NULL(ks, "hidden loads");
	ASSERT_EQ(errno, EPERM, "hidden errno");
	ksyms__free(ks);

	errno = 0;
	ks = ksyms__load_file("tests/fixtures/no-such-file");
	ASSERT_NULL(ks, "missing loads");
	ASSERT_EQ(errno, ENOENT, "missing errno");
	ksyms__free(ks);

	errno = 0;
	ks = ksyms__load_file("/dev/null");
	ASSERT_NULL(ks, "empty loads");
	ASSERT_EQ(errno, ENODATA, "empty errno");
	ksyms__free(ks);

	fd = mkstemp(path);
	if (!ASSERT_GE(fd, 0, "mkstemp"))
		return;
	if (ASSERT_EQ(write(fd, bad, sizeof(bad) - 1), (ssize_t)sizeof(bad) - 1, "write")) {
		errno = 0;
		ks = ksyms__load_file(path);
		ASSERT_NULL(ks, "malformed loads");
		ASSERT_EQ(errno, EINVAL, "malformed errno");
		ksyms__free(ks);
	}
	close(fd);
	unlink(path);

	ksyms__free(NULL);
}

/* Finds name's address with a plain scan, independent of ksyms.c. */
static bool kallsyms_addr(const char *name, __u64 *addr)
{
	char line[512], sym[256], type;
	unsigned long long a;
	bool found = false;
	FILE *f;

	f = fopen("/proc/kallsyms", "r");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%llx %c %255s", &a, &type, sym) == 3 && !strcmp(sym, name)) {
			*addr = a;
			found = true;
		}
	}
	fclose(f);
	return found;
}

void test_ksyms_proc(void)
{
	struct ksyms *ks;
	char buf[128];
	__u64 addr;
	int err;

	ks = ksyms__load();
	if (!ks && (errno == EPERM || errno == EACCES || errno == ENOENT)) {
		test__skip("/proc/kallsyms: %s", strerror(errno));
		return;
	}
	if (!ASSERT_OK_PTR(ks, "ksyms__load"))
		return;
	if (!ASSERT_TRUE(kallsyms_addr("kfree", &addr), "kfree in /proc/kallsyms"))
		goto cleanup;
	err = ksyms__format(ks, addr, buf, sizeof(buf));
	if (ASSERT_OK(err, "format kfree"))
		ASSERT_STREQ(buf, "kfree+0x0", "kfree text");
	err = ksyms__format(ks, addr + 4, buf, sizeof(buf));
	if (ASSERT_OK(err, "format kfree+4"))
		ASSERT_STREQ(buf, "kfree+0x4", "kfree+4 text");
	ASSERT_NULL(ksyms__map_addr(ks, 0, NULL), "address 0");

cleanup:
	ksyms__free(ks);
}
