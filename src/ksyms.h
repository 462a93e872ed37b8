/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Kernel symbolizer: /proc/kallsyms read once into an address-sorted table of
 * function symbols with their module and an estimated size, so a stack
 * address resolves to "func+0xoff [module]" with one binary search, and an
 * address past the end of a function stays unresolved instead of being
 * attributed to the function before it.
 */
#ifndef __KLEAK_KSYMS_H
#define __KLEAK_KSYMS_H

#include <stddef.h>
#include <linux/types.h>

/*
 * Upper bound on a function's estimated size. The largest function of a
 * 6.18 x86_64 kernel is about 20 KiB; anything further than this from the
 * previous function symbol is treated as lying outside kernel text (end
 * markers such as _etext, the last function of a module).
 */
#define KSYM_MAX_SIZE (256 * 1024)

struct ksym {
	__u64 addr;
	/* distance to the next symbol of any kind, capped at KSYM_MAX_SIZE */
	__u64 size;
	const char *name;
	/* NULL for vmlinux */
	const char *module;
};

struct ksyms;

/*
 * Reads /proc/kallsyms. Returns NULL with errno set on failure; errno is
 * EPERM when every address reads as zero (kptr_restrict or not root), ENODATA
 * when the file holds no function symbol and EINVAL on a malformed line.
 */
struct ksyms *ksyms__load(void);
/* Same as ksyms__load() from a file in kallsyms format. */
struct ksyms *ksyms__load_file(const char *path);
/* Same from len bytes of kallsyms text in buf (malloc'ed, at most 4 GiB), which it takes over. */
struct ksyms *ksyms__parse(char *buf, size_t len);
/* NULL-safe. Every struct ksym and string handed out dies with ks. */
void ksyms__free(struct ksyms *ks);

/*
 * The function containing addr and addr's offset into it (off may be NULL),
 * or NULL when addr is below the first function or past the estimated end of
 * the function before it. Of several symbols at one address, global ones win
 * over local ones, then the earlier line in the file.
 */
const struct ksym *ksyms__map_addr(const struct ksyms *ks, __u64 addr, __u64 *off);
/* The lowest-addressed function symbol called name, or NULL. Linear: for rare use. */
const struct ksym *ksyms__get_symbol(const struct ksyms *ks, const char *name);
/*
 * Writes "func+0x1a" or "func+0x1a [module]" into buf. Returns 0, -ENOENT
 * when addr is unresolved (buf untouched) or -ENOSPC when the text did not
 * fit (buf holds it truncated, NUL-terminated, if len > 0).
 */
int ksyms__format(const struct ksyms *ks, __u64 addr, char *buf, size_t len);

#endif /* __KLEAK_KSYMS_H */
