/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The allocators beside slab, each opt-in (--pages, --vmalloc, --percpu):
 * their events go through the same alloc_event() and free_event() as slab's
 * (filters, stack, per-site totals, retirement), under a site kind of their
 * own. Included by kleak.bpf.c after those two; every program set has its
 * programs here, which userspace loads only for the allocators asked for.
 *
 * - pages: kmem:mm_page_alloc, paired with mm_page_free and
 *   mm_page_free_batched by the block's first page (its struct page, or
 *   its pfn for classic tracepoints). A block freed whole frees at its
 *   first page, whatever its order, compound or not. A block split after
 *   allocation (split_page(), alloc_pages_exact(), a folio split) is freed
 *   in pieces: the piece at the first page ends the record and, being of a
 *   lower order, is counted (STAT_PAGES_SPLIT); the other pieces match no
 *   record, and their pages are counted then (STAT_PAGES_SPLIT_UNPAIRED),
 *   freed before or after or kept. Nothing of a block outlives its first
 *   page's free, so splits make no phantom leaks; a block whose first page
 *   is kept while the rest is freed (alloc_pages_exact()'s tail) stays
 *   charged whole until then. The pages alloc_pages_bulk()
 *   (vmalloc's page arrays, page pools) takes off the per-CPU lists have no
 *   event (its fallback to the single-page path has one): those are not
 *   seen, and their frees match nothing.
 * - vmalloc: vmalloc:alloc_vmap_area and free_vmap_area_noflush, by the
 *   area's start, sized by the area (guard page included). Events of 6.12
 *   and later; before, fexit of alloc_vmap_area() and fentry of
 *   free_vmap_area_noflush(), the functions the events are in, where the
 *   kernel can trace them (src/kernel_features.c). A free through
 *   free_vmap_area() (an area never used) has neither and is retired when
 *   the address comes round again.
 * - percpu: percpu:percpu_alloc_percpu and percpu_free_percpu, by pointer,
 *   sized by bytes_alloc (all CPUs' copies, 5.19 and later) or size times
 *   the possible CPUs before.
 */
#ifndef __ALLOCATORS_BPF_H
#define __ALLOCATORS_BPF_H

/*
 * gfp bits, the same from 5.10 to 6.18 (an anonymous enum since 6.10, not
 * reachable by CO-RE): a movable allocation for user space, as
 * GFP_HIGHUSER_MOVABLE (anonymous memory, the page cache, tmpfs) is.
 */
#define GFP_MOVABLE_BIT		0x08
#define GFP_HARDWALL_BIT	0x100000
#define PAGE_SHIFT_X86		12

static __always_inline __u32 page_kind(__u64 gfp)
{
	return (gfp & GFP_MOVABLE_BIT) && (gfp & GFP_HARDWALL_BIT) ? KLEAK_SITE_PAGES_USER :
								   KLEAK_SITE_PAGES;
}

static __always_inline int page_alloc(void *ctx, bool ctx_record, __u64 key, __u32 order,
				      __u64 gfp, const bool compat)
{
	return alloc_event(ctx, KLEAK_SLOT_PAGE_ALLOC, 0, ctx_record, key, 1ULL << (PAGE_SHIFT_X86 + (order & 31)),
			   page_kind(gfp), order, NULL, compat);
}

/*
 * order < 0: the event does not say (mm_page_free_batched). A piece of a
 * split block ends its record; the block's other pages are counted as
 * unpaired, since they match no record whenever they are freed.
 */
static __always_inline int page_free(__u32 slot, __u64 key, int order, const bool compat)
{
	struct kleak_site_totals *t;
	struct kleak_stats *s;
	__u32 site;

	if (!free_event(slot, key, &site, compat) || order < 0)
		return 0;
	t = totals_of(site);
	if (!t || t->site.cache <= (__u64)order)
		return 0;
	s = stats_get(slot);
	if (!s)
		return 0;
	s->counters[STAT_PAGES_SPLIT]++;
	s->counters[STAT_PAGES_SPLIT_UNPAIRED] +=
		(1ULL << (t->site.cache & 31)) - (1ULL << (order & 31));
	return 0;
}

static __always_inline int vmap_alloc(void *ctx, __u64 call_site, bool ctx_record, __u64 addr,
				      __u64 size, int failed, const bool compat)
{
	return alloc_event(ctx, KLEAK_SLOT_VMAP_ALLOC, call_site, ctx_record, failed ? 0 : addr,
			   size, KLEAK_SITE_VMALLOC, size, NULL, compat);
}

static __always_inline int percpu_alloc(void *ctx, __u64 call_site, bool ctx_record, __u64 ptr,
					__u64 bytes, const bool compat)
{
	return alloc_event(ctx, KLEAK_SLOT_PERCPU_ALLOC, call_site, ctx_record,
			   ptr ? KLEAK_PERCPU_KEY(ptr) : 0, bytes, KLEAK_SITE_PERCPU, bytes, NULL,
			   compat);
}

static __always_inline int percpu_free(__u64 ptr, const bool compat)
{
	if (ptr)
		free_event(KLEAK_SLOT_PERCPU_FREE, KLEAK_PERCPU_KEY(ptr), NULL, compat);
	return 0;
}

/* A tp_btf struct page * is trusted: no arithmetic on it, so a number (as_number()). */
static __always_inline __u64 page_key(__u32 slot, const struct page *page)
{
	struct kleak_stats *s = stats_get(slot);

	return s ? as_number(s, page) : 0;
}

/* tp_btf: 6.5 and later, so percpu's 5.19 layout */

SEC("tp_btf/mm_page_alloc")
int BPF_PROG(mm_page_alloc_btf, struct page *page, unsigned int order, gfp_t gfp, int migratetype)
{
	return page_alloc(ctx, false, page_key(KLEAK_SLOT_PAGE_ALLOC, page), order, gfp, false);
}

SEC("tp_btf/mm_page_free")
int BPF_PROG(mm_page_free_btf, struct page *page, unsigned int order)
{
	return page_free(KLEAK_SLOT_PAGE_FREE, page_key(KLEAK_SLOT_PAGE_FREE, page), order, false);
}

SEC("tp_btf/mm_page_free_batched")
int BPF_PROG(mm_page_free_batched_btf, struct page *page)
{
	return page_free(KLEAK_SLOT_PAGE_FREE_BATCHED,
			 page_key(KLEAK_SLOT_PAGE_FREE_BATCHED, page), -1, false);
}

SEC("tp_btf/alloc_vmap_area")
int BPF_PROG(alloc_vmap_area_btf, unsigned long addr, unsigned long size, unsigned long align,
	     unsigned long vstart, unsigned long vend, int failed)
{
	return vmap_alloc(ctx, 0, false, addr, size, failed, false);
}

SEC("tp_btf/free_vmap_area_noflush")
int BPF_PROG(free_vmap_area_noflush_btf, unsigned long va_start)
{
	free_event(KLEAK_SLOT_VMAP_FREE, va_start, NULL, false);
	return 0;
}

SEC("tp_btf/percpu_alloc_percpu")
int BPF_PROG(percpu_alloc_percpu_btf, unsigned long call_site, bool reserved, bool is_atomic,
	     size_t size, size_t align, void *base_addr, int off, void *ptr, size_t bytes_alloc)
{
	return percpu_alloc(ctx, call_site, false, (__u64)ptr, bytes_alloc, false);
}

SEC("tp_btf/percpu_free_percpu")
int BPF_PROG(percpu_free_percpu_btf, void *base_addr, int off, void *ptr)
{
	return percpu_free((__u64)ptr, false);
}

/*
 * raw_tp: mm_page_alloc (page, order, gfp, migratetype), mm_page_free
 * (page, order), mm_page_free_batched (page), alloc_vmap_area (addr, size,
 * align, vstart, vend, failed), free_vmap_area_noflush (va_start, ...),
 * percpu_free_percpu (base_addr, off, ptr). percpu_alloc_percpu is
 * (call_site, reserved, is_atomic, size, align, base_addr, off, ptr,
 * bytes_alloc, gfp) since 5.19 and (reserved, is_atomic, size, align,
 * base_addr, off, ptr) before: its record's call_site says which.
 */
static __always_inline int on_percpu_alloc_raw(struct bpf_raw_tracepoint_args *ctx,
					       const bool compat)
{
	if (bpf_core_field_exists(struct trace_event_raw_percpu_alloc_percpu, call_site))
		return percpu_alloc(ctx, ctx->args[0], false, ctx->args[7], ctx->args[8], compat);
	return percpu_alloc(ctx, 0, false, ctx->args[6], ctx->args[2] * nr_cpus, compat);
}

#define ALLOCATORS_RAW_TP_SET(sfx, compat)						\
SEC("raw_tp/mm_page_alloc")								\
int mm_page_alloc_##sfx(struct bpf_raw_tracepoint_args *ctx)				\
{ return page_alloc(ctx, false, ctx->args[0], ctx->args[1], ctx->args[2], compat); }	\
SEC("raw_tp/mm_page_free")								\
int mm_page_free_##sfx(struct bpf_raw_tracepoint_args *ctx)				\
{ return page_free(KLEAK_SLOT_PAGE_FREE, ctx->args[0], (int)ctx->args[1], compat); }	\
SEC("raw_tp/mm_page_free_batched")							\
int mm_page_free_batched_##sfx(struct bpf_raw_tracepoint_args *ctx)			\
{ return page_free(KLEAK_SLOT_PAGE_FREE_BATCHED, ctx->args[0], -1, compat); }		\
SEC("raw_tp/alloc_vmap_area")								\
int alloc_vmap_area_##sfx(struct bpf_raw_tracepoint_args *ctx)				\
{ return vmap_alloc(ctx, 0, false, ctx->args[0], ctx->args[1], (int)ctx->args[5], compat); } \
SEC("raw_tp/free_vmap_area_noflush")							\
int free_vmap_area_noflush_##sfx(struct bpf_raw_tracepoint_args *ctx)			\
{ free_event(KLEAK_SLOT_VMAP_FREE, ctx->args[0], NULL, compat); return 0; } \
SEC("raw_tp/percpu_alloc_percpu")							\
int percpu_alloc_percpu_##sfx(struct bpf_raw_tracepoint_args *ctx)			\
{ return on_percpu_alloc_raw(ctx, compat); }						\
SEC("raw_tp/percpu_free_percpu")							\
int percpu_free_percpu_##sfx(struct bpf_raw_tracepoint_args *ctx)			\
{ return percpu_free(ctx->args[2], compat); }

ALLOCATORS_RAW_TP_SET(raw, false)
ALLOCATORS_RAW_TP_SET(compat, true)

/*
 * vmalloc without its events (before 6.12): the functions they are in,
 * alloc_vmap_area(size, align, vstart, vend, node, gfp_mask) of 5.2-6.2,
 * whose seventh slot in an fexit context is the area or an ERR_PTR(), and
 * free_vmap_area_noflush(va). The loader takes them only where the
 * kernel's BTF gives alloc_vmap_area those six arguments.
 */
#define MAX_ERRNO 4095

static __always_inline int vmap_area_alloc(void *ctx, const struct vmap_area *va,
					   const bool compat)
{
	__u64 start, end;

	if ((__u64)va >= (__u64)-MAX_ERRNO)
		return vmap_alloc(ctx, 0, false, 0, 0, 1, compat);
	start = BPF_CORE_READ(va, va_start);
	end = BPF_CORE_READ(va, va_end);
	return vmap_alloc(ctx, 0, false, start, end - start, 0, compat);
}

#define VMALLOC_FENTRY_SET(sfx, compat)							\
SEC("fexit/alloc_vmap_area")								\
int BPF_PROG(alloc_vmap_area_##sfx, unsigned long size, unsigned long align,		\
	     unsigned long vstart, unsigned long vend, int node, gfp_t gfp_mask,	\
	     struct vmap_area *va)							\
{ return vmap_area_alloc(ctx, va, compat); }						\
SEC("fentry/free_vmap_area_noflush")							\
int BPF_PROG(free_vmap_area_noflush_##sfx, struct vmap_area *va)			\
{ free_event(KLEAK_SLOT_VMAP_FREE, BPF_CORE_READ(va, va_start), NULL, compat); return 0; }

VMALLOC_FENTRY_SET(fentry, false)
VMALLOC_FENTRY_SET(fentry_compat, true)

/* classic tracepoints: pages by pfn (-1 for a failed allocation), no call sites */

SEC("tracepoint/kmem/mm_page_alloc")
int mm_page_alloc_tp(struct trace_event_raw_mm_page_alloc *ctx)
{
	__u64 pfn = BPF_CORE_READ(ctx, pfn);

	return page_alloc(ctx, true, pfn == ~0ULL ? 0 : KLEAK_PFN_KEY(pfn),
			  BPF_CORE_READ(ctx, order), BPF_CORE_READ(ctx, gfp_flags), false);
}

SEC("tracepoint/kmem/mm_page_free")
int mm_page_free_tp(struct trace_event_raw_mm_page_free *ctx)
{
	return page_free(KLEAK_SLOT_PAGE_FREE, KLEAK_PFN_KEY(BPF_CORE_READ(ctx, pfn)),
			 BPF_CORE_READ(ctx, order), false);
}

SEC("tracepoint/kmem/mm_page_free_batched")
int mm_page_free_batched_tp(struct trace_event_raw_mm_page_free_batched *ctx)
{
	return page_free(KLEAK_SLOT_PAGE_FREE_BATCHED, KLEAK_PFN_KEY(BPF_CORE_READ(ctx, pfn)), -1,
			 false);
}

SEC("tracepoint/vmalloc/alloc_vmap_area")
int alloc_vmap_area_tp(struct trace_event_raw_alloc_vmap_area *ctx)
{
	return vmap_alloc(ctx, 0, true, BPF_CORE_READ(ctx, addr), BPF_CORE_READ(ctx, size),
			  BPF_CORE_READ(ctx, failed), false);
}

SEC("tracepoint/vmalloc/free_vmap_area_noflush")
int free_vmap_area_noflush_tp(struct trace_event_raw_free_vmap_area_noflush *ctx)
{
	free_event(KLEAK_SLOT_VMAP_FREE, BPF_CORE_READ(ctx, va_start), NULL, false);
	return 0;
}

SEC("tracepoint/percpu/percpu_alloc_percpu")
int percpu_alloc_percpu_tp(struct trace_event_raw_percpu_alloc_percpu *ctx)
{
	__u64 ptr = (__u64)BPF_CORE_READ(ctx, ptr);

	if (bpf_core_field_exists(ctx->bytes_alloc))
		return percpu_alloc(ctx, 0, true, ptr, BPF_CORE_READ(ctx, bytes_alloc), false);
	return percpu_alloc(ctx, 0, true, ptr, BPF_CORE_READ(ctx, size) * nr_cpus, false);
}

SEC("tracepoint/percpu/percpu_free_percpu")
int percpu_free_percpu_tp(struct trace_event_raw_percpu_free_percpu *ctx)
{
	return percpu_free((__u64)BPF_CORE_READ(ctx, ptr), false);
}

#endif /* __ALLOCATORS_BPF_H */
