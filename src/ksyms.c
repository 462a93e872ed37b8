// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Kernel symbolizer; see ksyms.h. The file is read whole into one buffer;
 * while lines are parsed, the names worth keeping (functions and modules)
 * are packed to the front of that same buffer, which then shrinks to become
 * the string arena. Data symbols are kept only as addresses: they end the
 * function before them. Absolute symbols are dropped, as their values are
 * constants or per-CPU offsets, not locations in kernel text.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "ksyms.h"

#define KALLSYMS_PATH "/proc/kallsyms"
#define READ_CHUNK (1024 * 1024)
#define MAX_MODULES UINT16_MAX

enum raw_kind {
	RAW_FUNC,
	RAW_BOUND,
};

/* One line of the file while loading: 16 bytes, so the sort stays cheap. */
struct raw_sym {
	__u64 addr;
	/* arena offset of the name; file order for functions */
	__u32 name_off;
	/* 0 for vmlinux, else index + 1 into the module table */
	__u16 mod;
	__u8 kind;
	/* 0 global, 1 local: among aliases the global name is shown */
	__u8 rank;
};

struct ksyms {
	struct ksym *syms;
	size_t sym_cnt;
	char *strs;
};

/* Load-time state: the buffer being parsed, which is also the growing arena. */
struct loader {
	char *buf;
	size_t len;
	/* arena end; never overtakes the line being parsed */
	size_t arena_len;
	struct raw_sym *raw;
	size_t raw_cnt;
	size_t raw_cap;
	__u32 *mods;
	size_t mod_cnt;
	size_t mod_cap;
	size_t last_mod;
	bool any_nonzero;
	/* lines came in address order */
	bool sorted;
};

static int read_file(const char *path, char **bufp, size_t *lenp)
{
	size_t cap = READ_CHUNK, len = 0;
	char *buf = NULL, *tmp;
	ssize_t n;
	int fd, err;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	buf = malloc(cap + 1);
	if (!buf) {
		err = -ENOMEM;
		goto cleanup;
	}
	for (;;) {
		if (len == cap) {
			cap *= 2;
			tmp = realloc(buf, cap + 1);
			if (!tmp) {
				err = -ENOMEM;
				goto cleanup;
			}
			buf = tmp;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0) {
			err = -errno;
			if (err == -EINTR)
				continue;
			goto cleanup;
		}
		if (n == 0)
			break;
		len += n;
	}
	/* Offsets into the buffer are kept as __u32. */
	if (len > UINT32_MAX) {
		err = -EFBIG;
		goto cleanup;
	}
	buf[len] = '\0';
	close(fd);
	*bufp = buf;
	*lenp = len;
	return 0;

cleanup:
	free(buf);
	close(fd);
	return err;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Copies s (n bytes) to the arena end and returns its offset. */
static __u32 loader__arena_add(struct loader *ld, const char *s, size_t n)
{
	__u32 off = ld->arena_len;

	memmove(ld->buf + off, s, n);
	ld->buf[off + n] = '\0';
	ld->arena_len += n + 1;
	return off;
}

/* Returns the 1-based index of module mod (n bytes), adding it when new. */
static int loader__intern_module(struct loader *ld, const char *mod, size_t n)
{
	const char *m;
	size_t i;
	__u32 *tmp;

	/* A module's lines are contiguous, so the last hit nearly always matches. */
	for (i = 0; i < ld->mod_cnt; i++) {
		size_t k = (ld->last_mod + i) % ld->mod_cnt;

		m = ld->buf + ld->mods[k];
		if (strncmp(m, mod, n) == 0 && m[n] == '\0') {
			ld->last_mod = k;
			return k + 1;
		}
	}
	if (ld->mod_cnt == MAX_MODULES)
		return -E2BIG;
	if (ld->mod_cnt == ld->mod_cap) {
		ld->mod_cap = ld->mod_cap ? ld->mod_cap * 2 : 64;
		tmp = realloc(ld->mods, ld->mod_cap * sizeof(*tmp));
		if (!tmp)
			return -ENOMEM;
		ld->mods = tmp;
	}
	ld->mods[ld->mod_cnt] = loader__arena_add(ld, mod, n);
	ld->last_mod = ld->mod_cnt;
	return ++ld->mod_cnt;
}

static struct raw_sym *loader__new_raw(struct loader *ld)
{
	struct raw_sym *tmp;

	if (ld->raw_cnt == ld->raw_cap) {
		ld->raw_cap = ld->raw_cap ? ld->raw_cap * 2 : 16384;
		tmp = realloc(ld->raw, ld->raw_cap * sizeof(*tmp));
		if (!tmp)
			return NULL;
		ld->raw = tmp;
	}
	return &ld->raw[ld->raw_cnt++];
}

static int raw_cmp(const void *a, const void *b)
{
	const struct raw_sym *x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	if (x->rank != y->rank)
		return x->rank < y->rank ? -1 : 1;
	if (x->name_off != y->name_off)
		return x->name_off < y->name_off ? -1 : 1;
	return 0;
}

/*
 * Parses "ADDR TYPE NAME[\t[MODULE]]" in [p, end). The arena end is at or
 * before p, so copying a name and then a module there never overwrites text
 * still to be read.
 */
static int loader__parse_line(struct loader *ld, const char *p, const char *end)
{
	const char *name, *mod = NULL;
	size_t name_len, mod_len = 0;
	struct raw_sym *rs;
	__u64 addr = 0;
	int d, ndig = 0, mod_idx = 0;
	char type;

	while (p < end && (d = hex_digit(*p)) >= 0) {
		if (++ndig > 16)
			return -EINVAL;
		addr = addr << 4 | d;
		p++;
	}
	if (!ndig || end - p < 3 || p[0] != ' ' || p[2] != ' ')
		return -EINVAL;
	type = p[1];
	p += 3;
	name = p;
	while (p < end && *p != ' ' && *p != '\t')
		p++;
	name_len = p - name;
	if (!name_len)
		return -EINVAL;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (p < end) {
		if (*p != '[' || end[-1] != ']' || end - p < 3)
			return -EINVAL;
		mod = p + 1;
		mod_len = end - 1 - mod;
	}

	if (addr)
		ld->any_nonzero = true;
	if (type == 'a' || type == 'A')
		return 0;
	rs = loader__new_raw(ld);
	if (!rs)
		return -ENOMEM;
	rs->addr = addr;
	if (type && strchr("tTwW", type)) {
		rs->kind = RAW_FUNC;
		rs->rank = type == 't' || type == 'w';
		/* Before the module: the arena end may reach into this name. */
		rs->name_off = loader__arena_add(ld, name, name_len);
	} else {
		rs->kind = RAW_BOUND;
		rs->rank = 0;
		rs->name_off = 0;
	}
	if (mod) {
		mod_idx = loader__intern_module(ld, mod, mod_len);
		if (mod_idx < 0)
			return mod_idx;
	}
	rs->mod = mod_idx;
	if (ld->raw_cnt > 1 && ld->raw[ld->raw_cnt - 2].addr > addr)
		ld->sorted = false;
	return 0;
}

static int loader__parse(struct loader *ld)
{
	char *p = ld->buf, *end = ld->buf + ld->len, *eol;
	int err;

	while (p < end) {
		eol = memchr(p, '\n', end - p);
		if (!eol)
			eol = end;
		if (eol > p) {
			err = loader__parse_line(ld, p, eol);
			if (err)
				return err;
		}
		p = eol + 1;
	}
	return 0;
}

/* Orders each run of equal addresses in raw, already sorted by address. */
static void sort_aliases(struct raw_sym *raw, size_t cnt)
{
	struct raw_sym tmp;
	size_t i, j;

	/* Insertion sort: alias runs are a handful of symbols at most. */
	for (i = 1; i < cnt; i++) {
		tmp = raw[i];
		for (j = i; j > 0 && raw_cmp(&raw[j - 1], &tmp) > 0; j--)
			raw[j] = raw[j - 1];
		raw[j] = tmp;
	}
}

/* Turns the sorted raw lines into the final table over the shrunk arena. */
static int ksyms__build(struct ksyms *ks, const struct loader *ld)
{
	size_t i, next = 0, cnt = 0;
	struct ksym *sym;

	for (i = 0; i < ld->raw_cnt; i++)
		cnt += ld->raw[i].kind == RAW_FUNC;
	if (!cnt)
		return -ENODATA;
	ks->syms = malloc(cnt * sizeof(*ks->syms));
	if (!ks->syms)
		return -ENOMEM;

	for (i = 0; i < ld->raw_cnt; i++) {
		const struct raw_sym *rs = &ld->raw[i];

		if (rs->kind != RAW_FUNC)
			continue;
		/* The first symbol of any kind at a higher address ends this one. */
		if (next < i)
			next = i;
		while (next < ld->raw_cnt && ld->raw[next].addr == rs->addr)
			next++;
		sym = &ks->syms[ks->sym_cnt++];
		sym->addr = rs->addr;
		sym->size = KSYM_MAX_SIZE;
		if (next < ld->raw_cnt && ld->raw[next].addr - rs->addr < KSYM_MAX_SIZE)
			sym->size = ld->raw[next].addr - rs->addr;
		sym->name = ks->strs + rs->name_off;
		sym->module = rs->mod ? ks->strs + ld->mods[rs->mod - 1] : NULL;
	}
	return 0;
}

struct ksyms *ksyms__parse(char *buf, size_t len)
{
	struct loader ld = { .sorted = true, .buf = buf, .len = len };
	struct ksyms *ks;
	char *arena;
	int err;

	ks = calloc(1, sizeof(*ks));
	if (!ks) {
		free(buf);
		return NULL;
	}
	err = loader__parse(&ld);
	if (err)
		goto cleanup;
	if (!ld.any_nonzero && ld.raw_cnt) {
		err = -EPERM;
		goto cleanup;
	}

	/* The arena now fits in the buffer's head; give the rest back. */
	arena = realloc(ld.buf, ld.arena_len ? ld.arena_len : 1);
	if (arena)
		ld.buf = arena;
	ks->strs = ld.buf;
	ld.buf = NULL;

	/*
	 * /proc/kallsyms lists vmlinux by address, modules in load and symbol
	 * table order. Without modules only the aliases need ordering, which
	 * saves a full sort (about 10 ms for 120k symbols).
	 */
	if (ld.sorted)
		sort_aliases(ld.raw, ld.raw_cnt);
	else
		qsort(ld.raw, ld.raw_cnt, sizeof(*ld.raw), raw_cmp);
	err = ksyms__build(ks, &ld);

cleanup:
	free(ld.buf);
	free(ld.raw);
	free(ld.mods);
	if (err) {
		ksyms__free(ks);
		errno = -err;
		return NULL;
	}
	return ks;
}

struct ksyms *ksyms__load_file(const char *path)
{
	size_t len = 0;
	char *buf = NULL;
	int err;

	err = read_file(path, &buf, &len);
	if (err) {
		errno = -err;
		return NULL;
	}
	return ksyms__parse(buf, len);
}

struct ksyms *ksyms__load(void)
{
	return ksyms__load_file(KALLSYMS_PATH);
}

void ksyms__free(struct ksyms *ks)
{
	if (!ks)
		return;
	free(ks->syms);
	free(ks->strs);
	free(ks);
}

const struct ksym *ksyms__map_addr(const struct ksyms *ks, __u64 addr, __u64 *off)
{
	size_t lo = 0, hi = ks->sym_cnt, mid;
	const struct ksym *sym;

	/* Find the first symbol above addr; the one before it may contain addr. */
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (ks->syms[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return NULL;
	sym = &ks->syms[lo - 1];
	/* Aliases are sorted best first: show the first name at this address. */
	while (sym > ks->syms && sym[-1].addr == sym->addr)
		sym--;
	if (addr - sym->addr >= sym->size)
		return NULL;
	if (off)
		*off = addr - sym->addr;
	return sym;
}

const struct ksym *ksyms__get_symbol(const struct ksyms *ks, const char *name)
{
	size_t i;

	for (i = 0; i < ks->sym_cnt; i++) {
		if (strcmp(ks->syms[i].name, name) == 0)
			return &ks->syms[i];
	}
	return NULL;
}

int ksyms__format(const struct ksyms *ks, __u64 addr, char *buf, size_t len)
{
	const struct ksym *sym;
	__u64 off;
	int n;

	sym = ksyms__map_addr(ks, addr, &off);
	if (!sym)
		return -ENOENT;
	if (sym->module)
		n = snprintf(buf, len, "%s+0x%" PRIx64 " [%s]", sym->name, (uint64_t)off,
			     sym->module);
	else
		n = snprintf(buf, len, "%s+0x%" PRIx64, sym->name, (uint64_t)off);
	if (n < 0)
		return -errno;
	return (size_t)n < len ? 0 : -ENOSPC;
}
