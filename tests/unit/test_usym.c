// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * User frames to symbols (usym.c) in this test binary's own code: through
 * the binary's path when it still has the build ID that ran, never through
 * another build at that path (said replaced), and through debuginfo under a
 * debug directory of the test's own, named by a short build ID's own length.
 */
#include <fcntl.h>
#include <link.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "test.h"
#include "usym.h"

/* The file offset of this binary's code at addr. */
static bool offset_of(const void *addr, const struct elf_loads *loads, __u64 *off)
{
	__u64 vaddr = (uintptr_t)addr - _r_debug.r_map->l_addr;
	__u32 i;

	for (i = 0; i < loads->n; i++)
		if (vaddr >= loads->seg[i].vaddr && vaddr - loads->seg[i].vaddr < loads->seg[i].size) {
			*off = vaddr - loads->seg[i].vaddr + loads->seg[i].offset;
			return true;
		}
	return false;
}

/* This binary as a ubin mapped from path, of build ID id. */
static bool self_bin(struct ubin *bin, const char *path)
{
	memset(bin, 0, sizeof(*bin));
	bin->fd = -1;
	bin->path = (char *)path;
	bin->id_len = buildid__of_file("/proc/self/exe", bin->id, &bin->loads);
	bin->has_loads = bin->id_len > 0;
	return bin->has_loads;
}

void test_usym_path_and_replaced(void)
{
	struct model_uframe f = {};
	struct usym *u = usym__new("/nonexistent-debug");
	struct ubin bin;
	__u64 off;

	if (!ASSERT_OK_PTR(u, "usym__new") || !ASSERT_TRUE(self_bin(&bin, "/proc/self/exe"), "self") ||
	    !ASSERT_TRUE(offset_of(test_usym_path_and_replaced, &bin.loads, &off), "offset"))
		goto out;
	ASSERT_OK(usym__resolve(u, bin.id, &bin, off, false, &f), "resolve");
	ASSERT_TRUE(f.sym && !strncmp(f.sym, "test_usym_path_and_replaced+0x", 30),
		    "named through the path that has the build ID that ran");
	ASSERT_TRUE(!f.replaced, "not replaced");
	free(f.sym);
	free(f.srcline);
	memset(&f, 0, sizeof(f));
	/* another build ran: the file at the path is not it */
	bin.id[0] ^= 0xff;
	ASSERT_OK(usym__resolve(u, bin.id, &bin, off, false, &f), "resolve another build");
	ASSERT_NULL(f.sym, "never named from the file that replaced it");
	ASSERT_TRUE(f.replaced, "said replaced");
out:
	free(f.sym);
	free(f.srcline);
	usym__free(u);
}

/* Writes this binary to path with its build-ID note cut to 8 bytes. */
static bool write_short_id_copy(const char *path, const __u8 id[KLEAK_BUILD_ID_SIZE])
{
	__u8 note[16 + KLEAK_BUILD_ID_SIZE] = { 4, 0, 0, 0, KLEAK_BUILD_ID_SIZE, 0, 0, 0, 3, 0, 0, 0,
						 'G', 'N', 'U', 0 };
	char *img = NULL, *at;
	size_t cap = 0, len = 0, n;
	bool ok = false;
	FILE *f = fopen("/proc/self/exe", "r");

	if (!f)
		return false;
	do {
		if (len == cap && !(img = realloc(img, cap += 1 << 20)))
			break;
		n = fread(img + len, 1, cap - len, f);
		len += n;
	} while (n);
	fclose(f);
	memcpy(note + 16, id, KLEAK_BUILD_ID_SIZE);
	at = img ? memmem(img, len, note, sizeof(note)) : NULL;
	if (at) {
		/* descsz 8: the rest of the note's bytes are past its end */
		at[4] = 8;
		f = fopen(path, "w");
		ok = f && fwrite(img, 1, len, f) == len;
		if (f)
			ok &= !fclose(f);
	}
	free(img);
	return ok;
}

void test_usym_short_build_id(void)
{
	char dir[] = "/tmp/kleak-debug-XXXXXX", hex[17], ids[64], sub[80], file[128];
	struct model_uframe f = {};
	struct usym *u = NULL;
	struct ubin bin;
	__u64 off;
	int i;

	if (!ASSERT_OK_PTR(mkdtemp(dir), "mkdtemp"))
		return;
	if (!ASSERT_TRUE(self_bin(&bin, "/nonexistent/binary"), "self") ||
	    !ASSERT_TRUE(offset_of(test_usym_short_build_id, &bin.loads, &off), "offset"))
		goto out_dir;
	for (i = 0; i < 8; i++)
		sprintf(hex + 2 * i, "%02x", bin.id[i]);
	snprintf(ids, sizeof(ids), "%s/.build-id", dir);
	snprintf(sub, sizeof(sub), "%s/%.2s", ids, hex);
	snprintf(file, sizeof(file), "%s/%s.debug", sub, hex + 2);
	if (!ASSERT_OK(mkdir(ids, 0700), "mkdir") || !ASSERT_OK(mkdir(sub, 0700), "mkdir"))
		goto out;
	if (!ASSERT_TRUE(write_short_id_copy(file, bin.id), "a copy with an 8-byte build ID"))
		goto out;
	/* the frame's ID as the kernel gives it: zero-padded to 20 bytes */
	memset(bin.id + 8, 0, KLEAK_BUILD_ID_SIZE - 8);
	bin.id_len = 8;
	u = usym__new(dir);
	if (!ASSERT_OK_PTR(u, "usym__new"))
		goto out;
	ASSERT_OK(usym__resolve(u, bin.id, &bin, off, false, &f), "resolve");
	ASSERT_TRUE(f.sym && !strncmp(f.sym, "test_usym_short_build_id+0x", 27),
		    "named through debuginfo under its 8-byte build ID's name");
	ASSERT_TRUE(!f.replaced, "not replaced: no file at the path");
out:
	free(f.sym);
	free(f.srcline);
	usym__free(u);
	unlink(file);
	rmdir(sub);
	rmdir(ids);
out_dir:
	rmdir(dir);
}
