/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The BPF side's record() and forget() (bpf/kleak.bpf.c) without their
 * atomics, on an allocs table in user memory: for the bench that fills a
 * map as kleak would and for the tests of the table's balance.
 */
#ifndef __KLEAK_ALLOC_PLACE_H
#define __KLEAK_ALLOC_PLACE_H

#include <stdbool.h>
#include "kleak.h"

/* Free slots among b's first `slots`; *first_free is the lowest, or `slots`. */
static inline __u32 alloc_place_free(const struct kleak_bucket *b, __u32 slots, __u32 *first_free)
{
	__u32 i, n = 0;

	*first_free = slots;
	for (i = 0; i < slots; i++) {
		if (b->addr[i])
			continue;
		if (!n++)
			*first_free = i;
	}
	return n;
}

/*
 * The bucket and *slot where record() puts addr among groups << shift
 * buckets, a spill counted; NULL when all three buckets are full.
 */
static inline struct kleak_bucket *alloc_place(struct kleak_bucket *buckets, __u32 groups,
					       __u32 shift, __u64 addr, __u32 *slot)
{
	struct kleak_bucket *first = &buckets[kleak_bucket_of(addr, 0, groups, shift)];
	struct kleak_bucket *b1 = &buckets[kleak_bucket_of(addr, 1, groups, shift)];
	struct kleak_bucket *b2 = &buckets[kleak_bucket_of(addr, 2, groups, shift)];
	__u32 n1, n2, s1, s2;

	if (alloc_place_free(first, KLEAK_FIRST_SLOTS, slot))
		return first;
	n1 = alloc_place_free(b1, KLEAK_BUCKET_SLOTS, &s1);
	n2 = alloc_place_free(b2, KLEAK_BUCKET_SLOTS, &s2);
	if (!n1 && !n2)
		return alloc_place_free(first, KLEAK_BUCKET_SLOTS, slot) ? first : NULL;
	if (n2 > n1) {
		b1 = b2;
		s1 = s2;
	}
	/* a record back in its first bucket is found there: not a spill */
	if (b1 != first)
		first->spilled++;
	*slot = s1;
	return b1;
}

/* Frees addr's slot as forget() does; false when addr is not in the table. */
static inline bool alloc_place_forget(struct kleak_bucket *buckets, __u32 groups, __u32 shift,
				      __u64 addr)
{
	struct kleak_bucket *first = &buckets[kleak_bucket_of(addr, 0, groups, shift)], *b;
	__u32 w, i;

	for (w = 0; w < KLEAK_BUCKET_WAYS; w++) {
		b = &buckets[kleak_bucket_of(addr, w, groups, shift)];
		for (i = 0; i < KLEAK_BUCKET_SLOTS; i++) {
			if (b->addr[i] != addr)
				continue;
			b->addr[i] = 0;
			if (b != first)
				first->spilled--;
			return true;
		}
		if (!w && !first->spilled)
			return false;
	}
	return false;
}

#endif /* __KLEAK_ALLOC_PLACE_H */
