/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * --ustack (fp): the user stack walked in BPF, every step proven. From the
 * user registers the system call (or fault) entered the kernel with, each
 * frame is placed in its binary (ubinary.bpf.h), and the caller's frame is
 * found by the call frame information (CFI) of the code at that address:
 * where the canonical frame address (CFA) is (sp or rbp plus an offset),
 * the return address at CFA - 8, where the caller's rbp was saved. The CFI
 * comes from each binary's .eh_frame, compiled by userspace into rows
 * (src/ucfi.c) and looked up here by binary search: glibc's system-call
 * wrappers, built without frame pointers, unwind as exactly as code built
 * with them (whose CFI says "CFA = rbp + 16"), and a chain is cut, and
 * counted, where its next frame cannot be proven: no executable mapping,
 * outside the binary's text, no CFI there, the binary's CFI not loaded yet
 * (userspace is asked for it), or the stack unreadable.
 *
 * Loops run in global functions (non-static, __noinline), which the
 * verifier checks once each, with scalar arguments, whatever the state of
 * their callers: inlined, the per-frame loop was verified again for every
 * path through the allocation programs, past the 1,000,000-instruction
 * limit on 5.10 and 6.1.
 */
#ifndef __UWALK_BPF_H
#define __UWALK_BPF_H

#include <vmlinux.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include "kleak.h"
#include "ubinary.bpf.h"

/*
 * --ustack, either mode. Before 6.8 the verifier checks every global
 * function, called or not: those that use a ring buffer return first
 * without --ustack, so that their use is dead code where the ring buffer
 * map was not created (a kernel without it).
 */
const volatile bool ustack_on;
/* --ustack-depth in bytes of struct kleak_uframe */
const volatile __u32 ustack_bytes = KLEAK_MAX_USTACK_DEPTH * sizeof(struct kleak_uframe);

/* mappings a walk remembers: a stack goes through a few binaries, back and forth */
#define UWALK_MAPS	4
/*
 * The user stack is read in windows of this many bytes: a
 * bpf_probe_read_user() costs much the same whatever its size (one a frame
 * was most of a frame's cost), and the words of several frames are in one
 */
#define UWALK_WIN	512

/* One walk's state, per CPU (3 KiB, off the 512-byte BPF stack). */
struct uwalk {
	struct kleak_ustack u;	/* the frames proven so far: the ustacks map's value */
	__u64 ip, sp, bp;
	__u64 hash;
	__u32 bp_known;		/* the CFI said where the caller's rbp is */
	__u32 n_maps;
	__u32 cut;		/* the STAT_USTACK_CUT_* that stopped the walk, 0: none */
	__u32 more;		/* a proven frame past --ustack-depth */
	__u32 learn_dropped;
	__u32 cur;		/* maps[] index uwalk_place() fills, for uwalk_file() */
	__u64 site_hash;	/* the stored stack's hash, for the site (ustack_walk_site()) */
	/*
	 * Whose mappings maps[] holds, and their generation (umaps_gen()): the
	 * next walk of the same process on this CPU starts from them while it
	 * has not changed its mappings since
	 */
	__u64 memo_mm;
	__u64 memo_start;
	__u64 memo_gen;
	struct umapping maps[UWALK_MAPS];
	struct kleak_ubin bins[UWALK_MAPS];	/* nrows 0: CFI not loaded */
	/* the user stack at [win_lo, win_lo + win_len), read at once */
	__u64 win_lo;
	__u64 win_len;
	__u8 win[UWALK_WIN + 8];
	/* the user registers, read at once (x86_64's struct pt_regs is 168 bytes) */
	__u64 regs[32];
};

/* Register r of the copy of struct pt_regs in w, at its CO-RE offset. */
#define REG(w, r) ((w)->regs[(bpf_core_field_offset(struct pt_regs, r) / 8) & 31])

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct uwalk);
	__uint(max_entries, 1);
} uwalk_buf SEC(".maps");

/* The CFI rows of every binary learned (see kleak.h); userspace writes them. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct kleak_ucfi_rows);
	__uint(max_entries, 1);	/* sized by the loader with --ustack */
	__uint(map_flags, BPF_F_MMAPABLE);	/* written in place by kleak (src/ulearn.c) */
} urows SEC(".maps");

/* build ID -> its rows in urows; present once userspace compiled them */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct kleak_build_id);
	__type(value, struct kleak_ubin);
	__uint(max_entries, 1);	/* sized by the loader with --ustack */
} ubins SEC(".maps");

/* build ID -> when its rows were last asked for: at most once a second */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct kleak_build_id);
	__type(value, __u64);
	__uint(max_entries, 1024);
} ulearn_pending SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1);	/* sized by the loader with --ustack */
} ulearn SEC(".maps");

#define UWALK_CONTINUE	0
#define UWALK_END	1
#define UWALK_NEW_FILE	2
#define UWALK_PLACE	3

/* x86_64's THREAD_SIZE without KASAN, where the task does not say its stack's size */
#define THREAD_SIZE_DEFAULT	16384

/*
 * The user registers at kernel entry, at the top of the current task's
 * kernel stack (x86_64 pads nothing above them): task_pt_regs(), read in
 * every set (bpf_task_pt_regs() is 5.15).
 */
static __always_inline struct pt_regs *cur_user_regs(void)
{
	struct task_struct *task = (void *)bpf_get_current_task();
	__u64 base = (__u64)BPF_CORE_READ(task, stack), size = THREAD_SIZE_DEFAULT;
	__u32 pages = 0;

	if (bpf_core_field_exists(task->stack_vm_area))
		pages = BPF_CORE_READ(task, stack_vm_area, nr_pages);
	if (pages)
		size = (__u64)pages << 12;
	return (void *)(base + size - bpf_core_type_size(struct pt_regs));
}

/* The rule of the row at or before pc in rows [first, first + nrows) of element elem; 0 if none. */
static __always_inline __u32 urow_find(__u32 elem, __u32 first, __u32 nrows, __u64 pc)
{
	struct kleak_ucfi_rows *rows = bpf_map_lookup_elem(&urows, &elem);
	__u32 lo = first, hi = first + nrows, mid, i;
	__u64 r;

	if (!rows || !nrows || first >= KLEAK_UCFI_ROWS || nrows > KLEAK_UCFI_ROWS - first)
		return 0;
	/* the last row whose pc is at or below pc: 18 halvings of 2^18 rows */
	for (i = 0; i < 20 && lo + 1 < hi; i++) {
		mid = lo + (hi - lo) / 2;
		if ((rows->row[mid & (KLEAK_UCFI_ROWS - 1)] >> 32) <= pc)
			lo = mid;
		else
			hi = mid;
	}
	r = rows->row[lo & (KLEAK_UCFI_ROWS - 1)];
	return (r >> 32) <= pc ? (__u32)r : 0;
}

/* The user stack's word at addr, through the window; false where it cannot be read. */
static __always_inline bool uwalk_read(struct uwalk *w, __u64 addr, __u64 *val)
{
	__u64 off = addr - w->win_lo, len;

	if (addr < w->win_lo || off > w->win_len - 8 || w->win_len < 8) {
		/* to the end of addr's page at most: the stack may end there */
		len = 4096 - (addr & 4095);
		if (len > UWALK_WIN)
			len = UWALK_WIN;
		if (len < 8)
			len = 8;
		w->win_len = 0;
		/* bounded again next to the call: 6.1's verifier lost the clamp's bound */
		barrier_var(len);
		if (len > UWALK_WIN || bpf_probe_read_user(w->win, len, (void *)addr))
			return false;
		w->win_lo = addr;
		w->win_len = len;
		off = 0;
	}
	*val = *(__u64 *)&w->win[off & (UWALK_WIN - 1)];
	return true;
}

/* Asks userspace for the CFI of m's binary, once a second at most. */
static __always_inline void ulearn_request(struct uwalk *w, const struct umapping *m)
{
	__u64 now = bpf_ktime_get_ns(), *last = bpf_map_lookup_elem(&ulearn_pending, &m->id);
	struct kleak_ulearn *ev;

	if (last && now - *last < 1000000000ULL)
		return;
	bpf_map_update_elem(&ulearn_pending, &m->id, &now, BPF_ANY);
	ev = bpf_ringbuf_reserve(&ulearn, sizeof(*ev), 0);
	if (!ev) {
		w->learn_dropped++;
		return;
	}
	ev->tgid = bpf_get_current_pid_tgid() >> 32;
	ev->pad = 0;
	ev->start = m->start;
	ev->end = m->end;
	ev->dev = m->dev;
	ev->ino = m->ino;
	__builtin_memcpy(ev->build_id, m->id.id, sizeof(ev->build_id));
	ev->pad2 = 0;
	bpf_ringbuf_submit(ev, 0);
}

/*
 * The mapping that holds the walk's ip, found with its binary among those
 * the walk remembers (for uwalk_frame()); UWALK_CONTINUE, UWALK_NEW_FILE,
 * or UWALK_END with w->cut saying why. A global function (verified once),
 * called by the walk itself, not by uwalk_frame(): the BPF stacks of nested
 * calls add up, within 512 bytes.
 */
__noinline int uwalk_place(void)
{
	__u32 zero = 0, m;
	struct uwalk *w = bpf_map_lookup_elem(&uwalk_buf, &zero);
	struct kleak_ubin *bin;
	int err;

	if (!w)
		return UWALK_END;
	m = w->n_maps & (UWALK_MAPS - 1);
	err = umapping_of(w->ip, &w->maps[m]);
	if (err == UBIN_NEW_FILE) {
		w->cur = m;
		return UWALK_NEW_FILE;
	}
	if (err) {
		w->cut = err == UBIN_NOT_TEXT ? STAT_USTACK_CUT_NOT_TEXT : STAT_USTACK_CUT_NO_BINARY;
		return UWALK_END;
	}
	bin = bpf_map_lookup_elem(&ubins, &w->maps[m].id);
	w->bins[m].elem = bin ? bin->elem : 0;
	w->bins[m].first = bin ? bin->first : 0;
	w->bins[m].nrows = bin ? bin->nrows : 0;
	w->n_maps++;
	return UWALK_CONTINUE;
}

/* The first page of the file uwalk_place() met, into ufiles. A global function. */
__noinline int uwalk_file(void)
{
	__u32 zero = 0;
	struct uwalk *w = bpf_map_lookup_elem(&uwalk_buf, &zero);

	return w ? ufile_parse(w->maps[w->cur & (UWALK_MAPS - 1)].file) : 0;
}

/*
 * Frame i of the walk: kept, and the caller's registers found.
 * UWALK_CONTINUE, UWALK_PLACE where no mapping the walk remembers holds it
 * (uwalk_place(), then again), or UWALK_END with w->cut saying why (0: the
 * outermost frame). Frame --ustack-depth is only checked to be there
 * (w->more). A global function.
 */
__noinline int uwalk_frame(__u32 i)
{
	__u32 zero = 0, m, slot, rule, depth = ustack_bytes / sizeof(struct kleak_uframe);
	struct uwalk *w = bpf_map_lookup_elem(&uwalk_buf, &zero);
	struct kleak_uframe *f;
	struct kleak_ubin *bin;
	struct umapping *map;
	__u64 off, cfa, ra = 0, bp = 0;
	__s32 bp_off;
	int j;

	if (!w || !ustack_on)
		return UWALK_END;
	for (m = 0; m < UWALK_MAPS; m++)
		if (m < w->n_maps && w->maps[m].start <= w->ip && w->ip < w->maps[m].end)
			break;
	if (m == UWALK_MAPS)
		return UWALK_PLACE;
	m &= UWALK_MAPS - 1;
	/* a binary not loaded when the mapping was met: loaded by now? */
	if (!w->bins[m].nrows) {
		bin = bpf_map_lookup_elem(&ubins, &w->maps[m].id);
		if (bin)
			w->bins[m] = *bin;
	}
	map = &w->maps[m];
	off = w->ip - map->start + map->pgoff;
	/* in an executable mapping, but not in its file's code: no return address */
	if (off < map->text_lo || off >= map->text_hi) {
		w->cut = STAT_USTACK_CUT_NOT_TEXT;
		return UWALK_END;
	}
	if (i >= depth || i >= KLEAK_MAX_USTACK_DEPTH) {
		w->more = 1;
		return UWALK_END;
	}
	f = &w->u.frames[i & (KLEAK_MAX_USTACK_DEPTH - 1)];
	f->status = KLEAK_UFRAME_VALID;
	__builtin_memcpy(f->build_id, map->id.id, sizeof(f->build_id));
	f->offset = off;
	w->u.nframes = i + 1;
	/* FNV-1a over the frame's words, finished as the kernel stacks' hash (ustack_get()) */
	for (j = 0; j < sizeof(*f) / sizeof(__u64); j++)
		w->hash = (w->hash ^ ((__u64 *)f)[j]) * 0x100000001b3ULL;
	if (!w->bins[m].nrows) {
		ulearn_request(w, map);
		w->cut = STAT_USTACK_CUT_NOT_LEARNED;
		return UWALK_END;
	}
	/* a return address's call is the byte before it; frame 0 is exact */
	rule = urow_find(w->bins[m].elem, w->bins[m].first, w->bins[m].nrows, i ? off - 1 : off);
	if (rule & KLEAK_UCFI_RA_UNDEF)
		return UWALK_END;
	slot = rule & KLEAK_UCFI_CFA_MASK;
	if (!slot || (slot == KLEAK_UCFI_CFA_BP && !w->bp_known)) {
		w->cut = STAT_USTACK_CUT_NO_CFI;
		return UWALK_END;
	}
	cfa = (slot == KLEAK_UCFI_CFA_SP ? w->sp : w->bp) +
	      (__u64)(rule >> KLEAK_UCFI_CFA_OFF_SHIFT) * 8;
	if (!uwalk_read(w, cfa - 8, &ra)) {
		w->cut = STAT_USTACK_CUT_FAULT;
		return UWALK_END;
	}
	switch ((rule >> KLEAK_UCFI_BP_SHIFT) & 3) {
	case KLEAK_UCFI_BP_SAME:
		break;
	case KLEAK_UCFI_BP_AT:
		/* 11 bits, signed, in words */
		bp_off = (__s32)(rule << (32 - KLEAK_UCFI_CFA_OFF_SHIFT)) >>
			 (32 - KLEAK_UCFI_CFA_OFF_SHIFT + KLEAK_UCFI_BP_OFF_SHIFT);
		w->bp_known = uwalk_read(w, cfa + bp_off * 8, &bp);
		w->bp = bp;
		break;
	default:
		w->bp_known = 0;
	}
	w->sp = cfa;
	w->ip = ra;
	/* a zero return address ends a chain too (a thread's first frame) */
	return ra ? UWALK_CONTINUE : UWALK_END;
}

/*
 * Walks the current task's user stack into uwalk_buf: w->u, w->hash, and
 * why it stopped. The number of frames; 0 where not even the first could be
 * placed. Inlined in ustack_walk_site(), a global function: its loop is
 * verified once, and the calls it makes are the third and last level.
 */
static __always_inline int uwalk_run(void)
{
	struct task_struct *task = (void *)bpf_get_current_task();
	struct mm_struct *mm = BPF_CORE_READ(task, mm);
	__u64 gen = 0, start = BPF_CORE_READ(task, group_leader, start_time);
	struct pt_regs *regs = cur_user_regs();
	__u32 zero = 0, i, size;
	struct uwalk *w;
	bool has_gen;
	int r;

	w = bpf_map_lookup_elem(&uwalk_buf, &zero);
	if (!w)
		return 0;
	has_gen = umaps_gen(mm, &gen);
	w->u.tgid = bpf_get_current_pid_tgid() >> 32;
	w->u.nframes = 0;
	/* the same process, its mappings unchanged since the walk that found them */
	if (!has_gen || w->memo_mm != (__u64)mm || w->memo_start != start || w->memo_gen != gen) {
		w->n_maps = 0;
		w->memo_mm = (__u64)mm;
		w->memo_start = start;
		w->memo_gen = gen;
	}
	w->cut = 0;
	w->more = 0;
	w->learn_dropped = 0;
	w->hash = 0xcbf29ce484222325ULL;
	w->win_len = 0;
	/*
	 * Not from user mode: a thread that never returns to user space
	 * (io_uring's). In execve the registers may be the old image's while
	 * the mappings are the new one's: no stack of either, a walk failed.
	 */
	size = bpf_core_type_size(struct pt_regs);
	if (size > sizeof(w->regs) || bpf_probe_read_kernel(w->regs, size, regs) ||
	    (REG(w, cs) & 3) != 3 || BPF_CORE_READ_BITFIELD_PROBED(task, in_execve))
		return 0;
	w->ip = REG(w, ip);
	w->sp = REG(w, sp);
	w->bp = REG(w, bp);
	w->bp_known = 1;
	for (i = 0; i <= KLEAK_MAX_USTACK_DEPTH; i++) {
		r = uwalk_frame(i);
		if (r == UWALK_PLACE) {
			r = uwalk_place();
			/* a file met for the first time: its build ID read, then placed again */
			if (r == UWALK_NEW_FILE) {
				uwalk_file();
				r = uwalk_place();
			}
			if (r == UWALK_CONTINUE)
				r = uwalk_frame(i);
		}
		if (r != UWALK_CONTINUE)
			break;
	}
	return w->u.nframes;
}

#endif /* __UWALK_BPF_H */
