/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What the running kernel offers BPF, probed (never read off the version),
 * and the program sets kleak can load: what each needs, what each gives up,
 * and which one a kernel gets. `kleak features` prints it all.
 */
#ifndef __KLEAK_KERNEL_FEATURES_H
#define __KLEAK_KERNEL_FEATURES_H

#include <stdbool.h>
#include <stdio.h>

enum kleak_feature {
	FEAT_BTF,		/* the kernel's own BTF, /sys/kernel/btf/vmlinux */
	FEAT_EVENTS_61,		/* the 6.1+ kmem events: kmem_cache_alloc passes its cache */
	FEAT_PAGE_SLAB_CACHE,	/* struct page.slab_cache (before 5.17): names the old events' caches */
	FEAT_TRACEFS,		/* tracefs in the kernel: the classic tracepoints' event ids */
	FEAT_RAW_TP,		/* BPF_PROG_TYPE_RAW_TRACEPOINT */
	FEAT_TP_BTF,		/* tp_btf programs (5.5): the atomic sets' fork hook under --follow */
	FEAT_TP_BTF_VOID,	/* tp_btf reading a kmem event's "const void *" argument */
	FEAT_ATOMICS,		/* BPF atomics: compare-and-swap, fetch, or (5.12) */
	FEAT_TASK_STORAGE,	/* BPF_MAP_TYPE_TASK_STORAGE (5.11) */
	FEAT_TASK_BTF,		/* bpf_get_current_task_btf() (5.11) */
	FEAT_RINGBUF,		/* BPF_MAP_TYPE_RINGBUF (5.8) */
	FEAT_MMAP_ARRAY,	/* BPF_F_MMAPABLE arrays (5.5) */
	FEAT_PROBE_READ_KERNEL,	/* bpf_probe_read_kernel() (5.5) */
	FEAT_PAGE_EVENTS,	/* kmem:mm_page_alloc, mm_page_free, mm_page_free_batched: --pages */
	FEAT_VMALLOC_EVENTS,	/* vmalloc:alloc_vmap_area, free_vmap_area_noflush (6.12): --vmalloc */
	FEAT_PERCPU_EVENTS,	/* percpu:percpu_alloc_percpu, percpu_free_percpu: --percpu */
	/* fexit of alloc_vmap_area(), fentry of free_vmap_area_noflush(): --vmalloc before 6.12 */
	FEAT_VMALLOC_FENTRY,
	FEAT_PROBE_READ_USER,	/* bpf_probe_read_user() (5.5): --ustack reads user stacks */
	FEAT_VMA_TREE,		/* BTF of mm_struct's VMA tree (mm_rb, or mm_mt since 6.1): --ustack */
	/* the BPF iterators object classes walk at report time (src/classify.c) */
	FEAT_ITER_TASK,		/* task (5.8): task_struct classes, executables */
	FEAT_ITER_TASK_FILE,	/* task_file (5.8): files and sockets in fd tables */
	FEAT_ITER_TASK_VMA,	/* task_vma (5.12): files mapped into memory */
	FEAT_ITER_TCP,		/* tcp (5.9) */
	FEAT_ITER_UDP,		/* udp (5.9) */
	FEAT_ITER_UNIX,		/* unix (5.17) */
	FEAT_MAX,
};

/* What each --ustack mode needs beyond a program set (see features__ustack_missing()). */
enum kleak_ustack_mode_feat {
	USTACK_MODE_FP,
	USTACK_MODE_DWARF,
	USTACK_MODES,
};

enum kleak_set {
	SET_TP_BTF,
	SET_RAW_TP,
	SET_COMPAT,
	SET_TRACEPOINT,
	SET_MAX,
};

struct features {
	bool has[FEAT_MAX];
	char kernel[65];
	/* where the kmem events are in tracefs, NULL when it is not mounted */
	const char *tracefs_events;
	/* --btf FILE was given and parsed: CO-RE relocates against it */
	bool btf_file;
};

/*
 * Probes the running kernel. With btf_path (--btf FILE), CO-RE relocates
 * against that file: the compat set then loads without the kernel's own
 * BTF, which the other sets need (bpf_get_current_task_btf(), tp_btf).
 * Loads a few tiny programs and maps, attaches nothing, and needs CAP_BPF
 * and CAP_PERFMON (caps__missing_for_bpf()). Returns 0, or -errno after
 * one error line when btf_path cannot be parsed.
 */
int features__probe(struct features *f, const char *btf_path);

const char *features__name(enum kleak_feature feat);

struct btf;
/* Whether btf (the kernel's) has the BPF iterator FEAT_ITER_* iter; false for a NULL btf. */
bool features__has_iter(const struct btf *btf, enum kleak_feature iter);
const char *features__set_name(enum kleak_set set);
/* The set named name, or -1. */
int features__set_by_name(const char *name);

/* The first feature set needs that f lacks, or FEAT_MAX when it has them all. */
enum kleak_feature features__missing(const struct features *f, enum kleak_set set);

/*
 * The sets to try on a kernel with features f, best first, into
 * sets[SET_MAX]: those whose needs are all met, or forced alone (a set's
 * name, KLEAK_PROGRAMS's value; NULL or "" for none). Returns how many, or
 * -EINVAL (forced names no set) or -EOPNOTSUPP (forced or every set lacks
 * a feature) with the one-line reason in why[len].
 */
int features__choose(const struct features *f, const char *forced, enum kleak_set *sets,
		     char *why, size_t len);

/* features__choose() with KLEAK_PROGRAMS, the reason printed as an error. */
int features__candidates(const struct features *f, enum kleak_set *sets);

/*
 * The first feature --ustack's mode (USTACK_MODE_*) needs that f lacks, or
 * FEAT_MAX: the fp walker reads the VMA tree, the page cache and user
 * stacks, and writes its tables through an mmap-able array; dwarf mode
 * copies user stacks into a ring buffer.
 */
enum kleak_feature features__ustack_missing(const struct features *f, int mode);

/* What loading set on this kernel gives up, in a phrase; NULL for nothing. */
const char *features__gives_up(const struct features *f, enum kleak_set set);

/*
 * `kleak features`: text or JSON on out; 0, or 1 if no set can load (then
 * the reason on stderr too), or if KLEAK_PROGRAMS names no set (only that).
 */
int features__print(const struct features *f, bool json, FILE *out);

#endif /* __KLEAK_KERNEL_FEATURES_H */
