// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The allocs table's geometry and placement (kleak.h, alloc_place.h): sizes
 * for any --max-allocs, neighbours sharing first buckets, and a table that
 * holds --max-allocs records of slab-like addresses through churn.
 */
#include <stdlib.h>
#include "alloc_place.h"
#include "loader.h"
#include "test.h"

void test_alloc_geometry(void)
{
	static const __u64 max_allocs[] = { 1, 16, 100, 384, 524288, 1000000, 1 << 26 };
	__u32 groups, shift, buckets;
	size_t i;

	for (i = 0; i < sizeof(max_allocs) / sizeof(max_allocs[0]); i++) {
		buckets = tracer__alloc_geometry(max_allocs[i], &groups, &shift);
		ASSERT_EQ(buckets, groups << shift, "buckets");
		ASSERT_GE((__u64)buckets * KLEAK_BUCKET_SLOTS, max_allocs[i] * 2, "twice the slots");
		/* past one group, never more than a group over */
		if (shift == KLEAK_GROUP_SHIFT)
			ASSERT_LT((__u64)(groups - 1) << shift,
				  (max_allocs[i] * 2 + KLEAK_BUCKET_SLOTS - 1) / KLEAK_BUCKET_SLOTS,
				  "last group needed");
	}
	buckets = tracer__alloc_geometry(16, &groups, &shift);
	ASSERT_EQ(buckets, 8, "--max-allocs 16: buckets");
	buckets = tracer__alloc_geometry(524288, &groups, &shift);
	ASSERT_EQ(shift, KLEAK_GROUP_SHIFT, "default: a full group");
	ASSERT_EQ(buckets, 174848, "default: buckets");
}

void test_alloc_neighbours(void)
{
	const __u64 region = 0xffff888123450000ULL & ~((1ULL << KLEAK_REGION_SHIFT) - 1);
	__u32 groups, shift, n = tracer__alloc_geometry(524288, &groups, &shift), b0, w;
	__u64 off;

	b0 = kleak_bucket_of(region, 0, groups, shift);
	ASSERT_EQ(b0 % (1U << shift), 0, "a region starts a group");
	for (off = 0; off < 1ULL << KLEAK_REGION_SHIFT; off += 64)
		if (!ASSERT_EQ(kleak_bucket_of(region + off, 0, groups, shift),
			       b0 + (__u32)(off >> KLEAK_WINDOW_SHIFT), "256 bytes per first bucket"))
			return;
	for (w = 0; w < KLEAK_BUCKET_WAYS; w++)
		for (off = 0; off < 1ULL << 30; off += 4160)
			if (!ASSERT_LT(kleak_bucket_of(0xffff888000000000ULL + off, w, groups, shift),
				       n, "in the table"))
				return;
}

/* xorshift64*: the same sequence every run */
static __u64 next_rand(__u64 *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dULL;
}

/*
 * A slab-like address: objects of one of a few sizes, carved in order from
 * slabs at distinct pages, so that small objects crowd their first buckets.
 */
struct slabs {
	__u64 base[8], next[8], end[8], pages, seed;
};

static __u64 next_addr(struct slabs *s)
{
	static const __u32 size[8] = { 16, 32, 64, 128, 192, 512, 1024, 4096 };
	__u32 c = next_rand(&s->seed) % 8;
	__u32 slab = size[c] < 512 ? 4096 : 32768;
	__u64 a;

	if (s->next[c] == s->end[c]) {
		/* an odd multiplier permutes page numbers: no page twice */
		s->base[c] = 0xffff888000000000ULL +
			     ((s->pages++ * 0x9e3779b1ULL) % (1ULL << 26)) * 32768;
		s->next[c] = s->base[c];
		s->end[c] = s->base[c] + slab / size[c] * size[c];
	}
	a = s->next[c];
	s->next[c] += size[c];
	return a;
}

struct churn_result {
	__u64 placed, unrecorded, in_first, spilled_left;
};

/*
 * Holds `live` records in a table sized for max_allocs: fills up to it,
 * then frees a random record per new one for `ops` more, then frees all.
 */
static bool churn(__u64 max_allocs, __u64 live, __u64 ops, struct churn_result *r)
{
	struct slabs s = { .seed = 0x9d2c5680a1b2c3d4ULL };
	struct kleak_bucket *buckets, *b;
	__u32 groups, shift, n, slot;
	bool ok = false;
	__u64 *addrs, i, j;

	memset(r, 0, sizeof(*r));
	n = tracer__alloc_geometry(max_allocs, &groups, &shift);
	buckets = calloc(n, sizeof(*buckets));
	addrs = calloc(live, sizeof(*addrs));
	if (!ASSERT_OK_PTR(buckets, "buckets") || !ASSERT_OK_PTR(addrs, "addrs"))
		goto out;
	for (i = 0; i < live + ops; i++) {
		j = i < live ? i : next_rand(&s.seed) % live;
		if (addrs[j] && !ASSERT_TRUE(alloc_place_forget(buckets, groups, shift, addrs[j]),
					     "freed"))
			goto out;
		addrs[j] = next_addr(&s);
		b = alloc_place(buckets, groups, shift, addrs[j], &slot);
		r->placed++;
		if (!b) {
			r->unrecorded++;
			addrs[j] = 0;
			continue;
		}
		b->addr[slot] = addrs[j];
		r->in_first += b == &buckets[kleak_bucket_of(addrs[j], 0, groups, shift)];
	}
	for (j = 0; j < live; j++)
		if (addrs[j] && !ASSERT_TRUE(alloc_place_forget(buckets, groups, shift, addrs[j]),
					     "freed at the end"))
			goto out;
	for (i = 0; i < n; i++)
		r->spilled_left += buckets[i].spilled;
	ok = true;
out:
	free(buckets);
	free(addrs);
	return ok;
}

void test_alloc_balance(void)
{
	struct churn_result r;

	/* as many records as --max-allocs, half of them objects of 128 bytes or less */
	if (!churn(100000, 100000, 400000, &r))
		return;
	ASSERT_EQ(r.unrecorded, 0, "unrecorded at --max-allocs");
	ASSERT_EQ(r.spilled_left, 0, "spill counts back to 0");
	/* they stay with their neighbours less as regions share groups */
	ASSERT_GT(r.in_first * 100 / r.placed, 25, "% in first buckets");
}

void test_alloc_light_load(void)
{
	struct churn_result r;

	/* a leak hunt's usual table, a few records among many slots: one bucket per free */
	if (!churn(100000, 5000, 100000, &r))
		return;
	ASSERT_EQ(r.unrecorded, 0, "unrecorded");
	ASSERT_GT(r.in_first * 100 / r.placed, 80, "% in first buckets");
}
