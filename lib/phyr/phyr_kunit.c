// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit tests of the phyr descriptor: merging, iteration and slicing, the
 * aligned-block helper, rejection of malformed input, the struct page
 * helper, the builders and provider lifetime. One case per behaviour P1-P10
 * of the design; the tables below hold the ranges and end in a sentinel.
 */

#include <kunit/test.h>
#include <linux/bvec.h>
#include <linux/gfp.h>
#include <linux/irqflags.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/panic.h>
#include <linux/pci-p2pdma.h>
#include <linux/phyr.h>
#include <linux/preempt.h>
#include <linux/scatterlist.h>
#include <linux/sizes.h>
#include <linux/slab.h>

MODULE_DESCRIPTION("KUnit tests for phyr");
MODULE_LICENSE("GPL");

#define ATTRS_RAM_WC	PHYR_ATTRS_CONST(0, PHYR_CACHE_WC, PHYR_CC_SHARED)
#define ATTRS_MMIO_WC	PHYR_ATTRS_CONST(PHYR_ATTR_MMIO, PHYR_CACHE_WC, \
					 PHYR_CC_SHARED)
#define ATTRS_MMIO_IDE	PHYR_ATTRS_CONST(PHYR_ATTR_MMIO, PHYR_CACHE_UC, \
					 PHYR_CC_IDE)
#define ATTRS_MMIO_T1	PHYR_ATTRS_CONST(PHYR_ATTR_MMIO | PHYR_ATTR_NO_CPU_MAP, \
					 PHYR_CACHE_UC, PHYR_CC_PRIVATE)
#define ATTRS_PRIV	PHYR_ATTRS_CONST(PHYR_ATTR_NO_CPU_MAP, PHYR_CACHE_WB, \
					 PHYR_CC_SHARED)
#define ATTRS_PRIV_MMIO	PHYR_ATTRS_CONST(PHYR_ATTR_MMIO | PHYR_ATTR_NO_CPU_MAP, \
					 PHYR_CACHE_UC, PHYR_CC_SHARED)

/* Fake providers: no device behind them, the phyr never looks. */
static struct p2pdma_provider bar_a = { .bus_offset = 0x100000000ULL };
static struct p2pdma_provider bar_b;

static const struct phyr_provider p2p_a = {
	.kind = PHYR_PROVIDER_P2P,
	.p2p = &bar_a,
};

static const struct phyr_provider p2p_b = {
	.kind = PHYR_PROVIDER_P2P,
	.p2p = &bar_b,
};

static const struct phyr_provider priv_a = {
	.kind = PHYR_PROVIDER_PRIVATE,
	.priv = { .interconnect_id = 7 },
};

/* A second "RAM" provider: there must be only &phyr_provider_ram. */
static const struct phyr_provider fake_ram = {
	.kind = PHYR_PROVIDER_RAM,
};

static const struct phyr_provider bad_kind = {
	.kind = 42,
};

#define RAM	(&phyr_provider_ram)

struct phyr_test_range {
	const struct phyr_provider *provider;
	u32 attrs;
	phys_addr_t paddr;
	size_t len;
};

/* Ranges and slices in these tables end at the first zero length. */
#define PHYR_TEST_MAX	8

KUNIT_DEFINE_ACTION_WRAPPER(phyr_free_action, phyr_free, struct phyr *);
KUNIT_DEFINE_ACTION_WRAPPER(put_page_action, put_page, struct page *);
KUNIT_DEFINE_ACTION_WRAPPER(sg_free_table_action, sg_free_table,
			    struct sg_table *);

static struct phyr *phyr_kunit_alloc(struct kunit *test)
{
	struct phyr *phyr = phyr_alloc(GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, phyr);
	KUNIT_ASSERT_EQ(test, 0,
			kunit_add_action_or_reset(test, phyr_free_action, phyr));
	return phyr;
}

/* Free @page (a compound page if of higher order) when the test ends. */
static void phyr_kunit_own_page(struct kunit *test, struct page *page)
{
	KUNIT_ASSERT_NOT_NULL(test, page);
	KUNIT_ASSERT_EQ(test, 0,
			kunit_add_action_or_reset(test, put_page_action, page));
}

static void phyr_kunit_own_sgt(struct kunit *test, struct sg_table *sgt)
{
	KUNIT_ASSERT_EQ(test, 0,
			kunit_add_action_or_reset(test, sg_free_table_action, sgt));
}

/* Check the invariant written next to struct phyr. */
static void phyr_kunit_check_invariant(struct kunit *test,
				       const struct phyr *phyr)
{
	unsigned int c, r, next = 0;
	u64 total = 0;

	KUNIT_EXPECT_LE(test, phyr->nr_chunks, phyr->max_chunks);
	KUNIT_EXPECT_LE(test, phyr->nr_ranges, phyr->max_ranges);
	for (c = 0; c < phyr->nr_chunks; c++) {
		const struct phyr_chunk *chunk = &phyr->chunks[c];
		phys_addr_t lo = PHYS_ADDR_MAX, hi = 0;
		bool aligned = true;
		u64 chunk_len = 0;

		KUNIT_EXPECT_EQ(test, chunk->first, next);
		KUNIT_EXPECT_GE(test, chunk->nr_ranges, 1);
		if (c)
			KUNIT_EXPECT_TRUE(test,
					  chunk->provider != chunk[-1].provider ||
					  chunk->attrs != chunk[-1].attrs);
		for (r = chunk->first; r < chunk->first + chunk->nr_ranges; r++) {
			const struct phys_vec *pv = &phyr->ranges[r];

			KUNIT_EXPECT_NE(test, pv->len, 0);
			KUNIT_EXPECT_LE(test, pv->len - 1, PHYS_ADDR_MAX - pv->paddr);
			if (r > chunk->first) {
				KUNIT_EXPECT_FALSE(test, pv[-1].paddr + pv[-1].len ==
						   pv->paddr && pv->paddr);
				if (!PAGE_ALIGNED(pv[-1].paddr + pv[-1].len) ||
				    !PAGE_ALIGNED(pv->paddr))
					aligned = false;
			}
			lo = min(lo, pv->paddr);
			hi = max(hi, pv->paddr + (pv->len - 1));
			chunk_len += pv->len;
		}
		KUNIT_EXPECT_EQ(test, chunk->len, chunk_len);
		/*
		 * BEHAVIOURS: P1, P8: the builders keep what mapping decides per
		 * chunk, the extent and the interior page alignment, exact.
		 */
		KUNIT_EXPECT_TRUE(test, chunk->flags & PHYR_CHUNK_EXTENT);
		KUNIT_EXPECT_EQ(test, chunk->lo, lo);
		KUNIT_EXPECT_EQ(test, chunk->hi, hi);
		KUNIT_EXPECT_EQ(test, !!(chunk->flags & PHYR_CHUNK_ALIGNED),
				aligned);
		total += chunk_len;
		next += chunk->nr_ranges;
	}
	KUNIT_EXPECT_EQ(test, next, phyr->nr_ranges);
	KUNIT_EXPECT_EQ(test, total, phyr->len);
}

static void phyr_kunit_build(struct kunit *test, struct phyr *phyr,
			     const struct phyr_test_range *r)
{
	for (; r->len; r++)
		KUNIT_ASSERT_EQ(test, 0, phyr_append(phyr, r->provider, r->attrs,
						     r->paddr, r->len, GFP_KERNEL));
	phyr_kunit_check_invariant(test, phyr);
}

/* Iterate a slice and expect exactly the pieces of @exp. */
static void phyr_kunit_expect_slice(struct kunit *test, const struct phyr *phyr,
				    u64 offset, u64 len,
				    const struct phyr_test_range *exp)
{
	struct phyr_iter iter;
	struct phyr_seg seg;
	unsigned int n = 0;
	u64 sum = 0;

	KUNIT_ASSERT_EQ(test, 0, phyr_iter_start(&iter, phyr, offset, len));
	phyr_for_each_seg(&seg, &iter) {
		KUNIT_ASSERT_NE_MSG(test, exp[n].len, 0,
				    "slice %llx+%llx: extra piece %pa+%zx",
				    offset, len, &seg.paddr, seg.len);
		KUNIT_EXPECT_PTR_EQ(test, seg.provider, exp[n].provider);
		KUNIT_EXPECT_EQ(test, seg.attrs, exp[n].attrs);
		KUNIT_EXPECT_EQ(test, seg.paddr, exp[n].paddr);
		KUNIT_EXPECT_EQ(test, seg.len, exp[n].len);
		sum += seg.len;
		n++;
	}
	KUNIT_EXPECT_EQ_MSG(test, exp[n].len, 0, "slice %llx+%llx: piece %u missing",
			    offset, len, n);
	KUNIT_EXPECT_EQ(test, sum, len);
}

/* A copy of a phyr's content, to prove a failed call changed nothing. */
static struct phyr *phyr_kunit_copy(struct kunit *test, const struct phyr *phyr)
{
	struct phyr *copy = kunit_kzalloc(test, sizeof(*copy), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, copy);
	*copy = *phyr;
	copy->chunks = kunit_kmalloc_array(test, phyr->nr_chunks + 1,
					   sizeof(*phyr->chunks), GFP_KERNEL);
	copy->ranges = kunit_kmalloc_array(test, phyr->nr_ranges + 1,
					   sizeof(*phyr->ranges), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, copy->chunks);
	KUNIT_ASSERT_NOT_NULL(test, copy->ranges);
	memcpy(copy->chunks, phyr->chunks, phyr->nr_chunks * sizeof(*phyr->chunks));
	memcpy(copy->ranges, phyr->ranges, phyr->nr_ranges * sizeof(*phyr->ranges));
	return copy;
}

/* Same chunks and same ranges; capacities may differ. */
static void phyr_kunit_expect_equal(struct kunit *test, const struct phyr *a,
				    const struct phyr *b)
{
	unsigned int i;

	KUNIT_ASSERT_EQ(test, a->nr_chunks, b->nr_chunks);
	KUNIT_ASSERT_EQ(test, a->nr_ranges, b->nr_ranges);
	KUNIT_EXPECT_EQ(test, a->len, b->len);
	for (i = 0; i < a->nr_chunks; i++) {
		KUNIT_EXPECT_PTR_EQ(test, a->chunks[i].provider, b->chunks[i].provider);
		KUNIT_EXPECT_EQ(test, a->chunks[i].attrs, b->chunks[i].attrs);
		KUNIT_EXPECT_EQ(test, a->chunks[i].first, b->chunks[i].first);
		KUNIT_EXPECT_EQ(test, a->chunks[i].nr_ranges, b->chunks[i].nr_ranges);
		KUNIT_EXPECT_EQ(test, a->chunks[i].len, b->chunks[i].len);
		KUNIT_EXPECT_EQ(test, a->chunks[i].flags, b->chunks[i].flags);
		KUNIT_EXPECT_EQ(test, a->chunks[i].lo, b->chunks[i].lo);
		KUNIT_EXPECT_EQ(test, a->chunks[i].hi, b->chunks[i].hi);
	}
	for (i = 0; i < a->nr_ranges; i++) {
		KUNIT_EXPECT_EQ(test, a->ranges[i].paddr, b->ranges[i].paddr);
		KUNIT_EXPECT_EQ(test, a->ranges[i].len, b->ranges[i].len);
	}
}

struct phyr_merge_case {
	const char *name;
	struct phyr_test_range in[PHYR_TEST_MAX];
	struct phyr_test_range out[PHYR_TEST_MAX];
	unsigned int nr_chunks;
};

static const struct phyr_merge_case phyr_merge_cases[] = {
	{ "adjacent RAM merges",
	  { { RAM, PHYR_ATTRS_RAM, 0x1000, 0x1000 },
	    { RAM, PHYR_ATTRS_RAM, 0x2000, 0x3000 },
	    { RAM, PHYR_ATTRS_RAM, 0x5000, 0x10 } },
	  { { RAM, PHYR_ATTRS_RAM, 0x1000, 0x4010 } }, 1 },
	{ "adjacent, other cache mode",
	  { { RAM, PHYR_ATTRS_RAM, 0x1000, 0x1000 },
	    { RAM, ATTRS_RAM_WC, 0x2000, 0x1000 } },
	  { { RAM, PHYR_ATTRS_RAM, 0x1000, 0x1000 },
	    { RAM, ATTRS_RAM_WC, 0x2000, 0x1000 } }, 2 },
	{ "adjacent, other confidential state",
	  { { &p2p_a, PHYR_ATTRS_MMIO, 0x1000, 0x1000 },
	    { &p2p_a, ATTRS_MMIO_IDE, 0x2000, 0x1000 },
	    { &p2p_a, ATTRS_MMIO_T1, 0x3000, 0x1000 } },
	  { { &p2p_a, PHYR_ATTRS_MMIO, 0x1000, 0x1000 },
	    { &p2p_a, ATTRS_MMIO_IDE, 0x2000, 0x1000 },
	    { &p2p_a, ATTRS_MMIO_T1, 0x3000, 0x1000 } }, 3 },
	{ "adjacent, other MMIO bit",
	  { { &priv_a, ATTRS_PRIV, 0x1000, 0x1000 },
	    { &priv_a, ATTRS_PRIV_MMIO, 0x2000, 0x1000 } },
	  { { &priv_a, ATTRS_PRIV, 0x1000, 0x1000 },
	    { &priv_a, ATTRS_PRIV_MMIO, 0x2000, 0x1000 } }, 2 },
	{ "adjacent, other provider",
	  { { &p2p_a, PHYR_ATTRS_MMIO, 0x1000, 0x1000 },
	    { &p2p_b, PHYR_ATTRS_MMIO, 0x2000, 0x1000 } },
	  { { &p2p_a, PHYR_ATTRS_MMIO, 0x1000, 0x1000 },
	    { &p2p_b, PHYR_ATTRS_MMIO, 0x2000, 0x1000 } }, 2 },
	{ "gap: same chunk, new range, then merge",
	  { { &p2p_a, ATTRS_MMIO_WC, 0x1000, 0x1000 },
	    { &p2p_a, ATTRS_MMIO_WC, 0x4000, 0x1000 },
	    { &p2p_a, ATTRS_MMIO_WC, 0x5000, 0x800 } },
	  { { &p2p_a, ATTRS_MMIO_WC, 0x1000, 0x1000 },
	    { &p2p_a, ATTRS_MMIO_WC, 0x4000, 0x1800 } }, 1 },
	{ "adjacent before, not after: no merge",
	  { { RAM, PHYR_ATTRS_RAM, 0x2000, 0x1000 },
	    { RAM, PHYR_ATTRS_RAM, 0x1000, 0x1000 } },
	  { { RAM, PHYR_ATTRS_RAM, 0x2000, 0x1000 },
	    { RAM, PHYR_ATTRS_RAM, 0x1000, 0x1000 } }, 1 },
	{ "top of the address space, then 0: no merge",
	  { { &priv_a, ATTRS_PRIV, PHYS_ADDR_MAX - 0xfff, 0x1000 },
	    { &priv_a, ATTRS_PRIV, 0, 0x1000 } },
	  { { &priv_a, ATTRS_PRIV, PHYS_ADDR_MAX - 0xfff, 0x1000 },
	    { &priv_a, ATTRS_PRIV, 0, 0x1000 } }, 1 },
	{ "only the last chunk merges",
	  { { RAM, PHYR_ATTRS_RAM, 0x1000, 0x1000 },
	    { &p2p_a, PHYR_ATTRS_MMIO, 0x9000, 0x1000 },
	    { RAM, PHYR_ATTRS_RAM, 0x2000, 0x1000 } },
	  { { RAM, PHYR_ATTRS_RAM, 0x1000, 0x1000 },
	    { &p2p_a, PHYR_ATTRS_MMIO, 0x9000, 0x1000 },
	    { RAM, PHYR_ATTRS_RAM, 0x2000, 0x1000 } }, 3 },
	{ NULL }
};

/* BEHAVIOURS: P1 */
static void phyr_test_merge(struct kunit *test)
{
	const struct phyr_merge_case *mc;
	const struct phyr_test_range *r;
	unsigned int nr_ranges;

	for (mc = phyr_merge_cases; mc->name; mc++) {
		struct phyr *phyr = phyr_kunit_alloc(test);

		kunit_info(test, "%s\n", mc->name);
		phyr_kunit_build(test, phyr, mc->in);
		for (nr_ranges = 0, r = mc->out; r->len; r++)
			nr_ranges++;
		KUNIT_EXPECT_EQ(test, phyr->nr_chunks, mc->nr_chunks);
		KUNIT_EXPECT_EQ(test, phyr->nr_ranges, nr_ranges);
		phyr_kunit_expect_slice(test, phyr, 0, phyr_len(phyr), mc->out);
	}
}

/* Nothing here merges: iteration must give the table back as is. */
static const struct phyr_test_range phyr_test_mixed[] = {
	{ RAM, PHYR_ATTRS_RAM, 0x10000, 0x3000 },
	{ RAM, PHYR_ATTRS_RAM, 0x20000, 0x1000 },
	{ &p2p_a, PHYR_ATTRS_MMIO, 0x80000000, 0x2000 },
	{ &priv_a, ATTRS_PRIV, 0x5000, 0x800 },
	{ RAM, ATTRS_RAM_WC, 0x14000, 0x1 },
	{ &p2p_b, ATTRS_MMIO_IDE, 0x90000000, 0x10000 },
	{ &p2p_b, ATTRS_MMIO_IDE, 0x90020000, 0x10000 },
	{ NULL }
};

/* BEHAVIOURS: P2 */
static void phyr_test_iterate(struct kunit *test)
{
	struct phyr *phyr = phyr_kunit_alloc(test);
	const struct phyr_test_range *r;
	u64 sum = 0;

	phyr_kunit_build(test, phyr, phyr_test_mixed);
	for (r = phyr_test_mixed; r->len; r++)
		sum += r->len;
	KUNIT_EXPECT_EQ(test, phyr_len(phyr), sum);
	KUNIT_EXPECT_EQ(test, phyr->nr_ranges, ARRAY_SIZE(phyr_test_mixed) - 1);
	KUNIT_EXPECT_EQ(test, phyr->nr_chunks, 5);
	phyr_kunit_expect_slice(test, phyr, 0, sum, phyr_test_mixed);

	/* An empty phyr yields nothing, and only the empty slice exists. */
	phyr_destroy(phyr);
	KUNIT_EXPECT_EQ(test, phyr_len(phyr), 0);
	phyr_kunit_expect_slice(test, phyr, 0, 0,
				&phyr_test_mixed[ARRAY_SIZE(phyr_test_mixed) - 1]);
}

/* BEHAVIOURS: P2 */
static void phyr_test_reserve(struct kunit *test)
{
	struct phyr *phyr = phyr_kunit_alloc(test);
	struct phyr_chunk *chunks;
	struct phys_vec *ranges;

	/*
	 * After phyr_reserve(), appending that many ranges in that many
	 * chunks does not realloc, and nothing more is reserved.
	 */
	KUNIT_ASSERT_EQ(test, 0, phyr_reserve(phyr, 5, 7, GFP_KERNEL));
	KUNIT_EXPECT_EQ(test, phyr->max_chunks, 5);
	KUNIT_EXPECT_EQ(test, phyr->max_ranges, 7);
	chunks = phyr->chunks;
	ranges = phyr->ranges;
	phyr_kunit_build(test, phyr, phyr_test_mixed);
	KUNIT_EXPECT_PTR_EQ(test, phyr->chunks, chunks);
	KUNIT_EXPECT_PTR_EQ(test, phyr->ranges, ranges);
	KUNIT_EXPECT_EQ(test, -ENOMEM, phyr_reserve(phyr, 1, UINT_MAX, GFP_KERNEL));
	phyr_kunit_expect_slice(test, phyr, 0, phyr_len(phyr), phyr_test_mixed);
}

struct phyr_slice_case {
	u64 offset;
	u64 len;
	int ret;
	struct phyr_test_range out[PHYR_TEST_MAX];
};

/* Over the first four ranges of phyr_test_mixed, 0x6800 bytes. */
static const struct phyr_slice_case phyr_slice_cases[] = {
	/* inside one range */
	{ 0x100, 0x200, 0, { { RAM, PHYR_ATTRS_RAM, 0x10100, 0x200 } } },
	/* spanning two ranges of a chunk */
	{ 0x2800, 0x1000, 0,
	  { { RAM, PHYR_ATTRS_RAM, 0x12800, 0x800 },
	    { RAM, PHYR_ATTRS_RAM, 0x20000, 0x800 } } },
	/* spanning chunks */
	{ 0x3800, 0x1000, 0,
	  { { RAM, PHYR_ATTRS_RAM, 0x20800, 0x800 },
	    { &p2p_a, PHYR_ATTRS_MMIO, 0x80000000, 0x800 } } },
	/* ending exactly at a range boundary */
	{ 0x1000, 0x2000, 0, { { RAM, PHYR_ATTRS_RAM, 0x11000, 0x2000 } } },
	/* ending exactly at a chunk boundary */
	{ 0x3000, 0x1000, 0, { { RAM, PHYR_ATTRS_RAM, 0x20000, 0x1000 } } },
	/* starting at a boundary */
	{ 0x3000, 0x1800, 0,
	  { { RAM, PHYR_ATTRS_RAM, 0x20000, 0x1000 },
	    { &p2p_a, PHYR_ATTRS_MMIO, 0x80000000, 0x800 } } },
	{ 0x6000, 0x800, 0, { { &priv_a, ATTRS_PRIV, 0x5000, 0x800 } } },
	/* the whole phyr */
	{ 0, 0x6800, 0,
	  { { RAM, PHYR_ATTRS_RAM, 0x10000, 0x3000 },
	    { RAM, PHYR_ATTRS_RAM, 0x20000, 0x1000 },
	    { &p2p_a, PHYR_ATTRS_MMIO, 0x80000000, 0x2000 },
	    { &priv_a, ATTRS_PRIV, 0x5000, 0x800 } } },
	/* the last byte */
	{ 0x67ff, 1, 0, { { &priv_a, ATTRS_PRIV, 0x57ff, 1 } } },
	/* empty slices, at the end included */
	{ 0x100, 0, 0, { } },
	{ 0x6800, 0, 0, { } },
	/* past the end */
	{ 0x6000, 0x1000, -ERANGE },
	{ 0x6800, 1, -ERANGE },
	{ 0x7000, 0, -ERANGE },
	{ 0, 0x6801, -ERANGE },
	/* offset + len overflows */
	{ U64_MAX, 2, -ERANGE },
	{ 1, U64_MAX, -ERANGE },
	{ U64_MAX, 0, -ERANGE },
	{ .ret = 1 }
};

/* BEHAVIOURS: P3 */
static void phyr_test_slice(struct kunit *test)
{
	struct phyr *phyr = phyr_kunit_alloc(test);
	const struct phyr_slice_case *sc;
	unsigned int i;

	for (i = 0; i < 4; i++)
		KUNIT_ASSERT_EQ(test, 0, phyr_append(phyr, phyr_test_mixed[i].provider,
						     phyr_test_mixed[i].attrs,
						     phyr_test_mixed[i].paddr,
						     phyr_test_mixed[i].len,
						     GFP_KERNEL));
	KUNIT_ASSERT_EQ(test, phyr_len(phyr), 0x6800);

	for (sc = phyr_slice_cases; sc->ret != 1; sc++) {
		struct phyr_iter iter;

		if (sc->ret) {
			KUNIT_EXPECT_EQ_MSG(test, sc->ret,
					    phyr_iter_start(&iter, phyr, sc->offset, sc->len),
					    "slice %llx+%llx", sc->offset, sc->len);
			continue;
		}
		phyr_kunit_expect_slice(test, phyr, sc->offset, sc->len, sc->out);
	}
}

/*
 * A phyr in .rodata: the iterator only reads it. Its arrays are const too;
 * the casts only satisfy the type of struct phyr.
 */
static const struct phyr_chunk phyr_test_ro_chunks[] = {
	{ .provider = RAM, .attrs = PHYR_ATTRS_RAM, .first = 0,
	  .nr_ranges = 2, .len = 0x3000 },
	{ .provider = &p2p_a, .attrs = PHYR_ATTRS_MMIO, .first = 2,
	  .nr_ranges = 1, .len = 0x1000 },
};

static const struct phys_vec phyr_test_ro_ranges[] = {
	{ 0x1000, 0x1000 }, { 0x3000, 0x2000 }, { 0x80000000, 0x1000 },
};

static const struct phyr phyr_test_ro = {
	.chunks = (struct phyr_chunk *)phyr_test_ro_chunks,
	.ranges = (struct phys_vec *)phyr_test_ro_ranges,
	.nr_chunks = 2, .max_chunks = 2,
	.nr_ranges = 3, .max_ranges = 3,
	.len = 0x4000,
};

static const struct phyr_test_range phyr_test_ro_slice[] = {
	{ RAM, PHYR_ATTRS_RAM, 0x1800, 0x800 },
	{ RAM, PHYR_ATTRS_RAM, 0x3000, 0x2000 },
	{ &p2p_a, PHYR_ATTRS_MMIO, 0x80000000, 0x400 },
	{ NULL }
};

/*
 * The loop P4 is about, out of line so that its machine code can be read:
 * tools/testing/phyr/cross.sh disassembles it in the arm64 and riscv
 * builds and fails on any call or indirect branch in it, which no test
 * that runs the loop could see (the rig's KUnit fault-injection suite
 * shows that it allocates nothing).
 */
static noinline unsigned int phyr_test_iter_loop(struct phyr_iter *iter,
						 struct phyr_seg *segs,
						 unsigned int max)
{
	unsigned int n = 0;

	while (n < max && phyr_iter_next(iter, &segs[n]))
		n++;
	return n;
}

/* BEHAVIOURS: P4 */
static void phyr_test_iterate_atomic(struct kunit *test)
{
	struct phyr_seg segs[PHYR_TEST_MAX];
	struct phyr_iter iter;
	bool tainted = test_taint(TAINT_WARN);
	unsigned long flags;
	unsigned int n = 0, i;
	int ret;

	/*
	 * With interrupts and preemption off, CONFIG_DEBUG_ATOMIC_SLEEP
	 * splats on any sleeping allocation or lock, and the phyr lives in
	 * .rodata, so iteration can neither allocate into it nor write it.
	 * The providers have no callbacks: there is nothing to call
	 * indirectly. Results are checked only once back in process
	 * context, as a failing KUNIT_EXPECT allocates. The atomic-sleep
	 * splat taints the kernel, which fails the test below.
	 */
	local_irq_save(flags);
	preempt_disable();
	ret = phyr_iter_start(&iter, &phyr_test_ro, 0x800, 0x2c00);
	if (!ret)
		n = phyr_test_iter_loop(&iter, segs, ARRAY_SIZE(segs));
	preempt_enable();
	local_irq_restore(flags);

	if (!tainted)
		KUNIT_EXPECT_FALSE_MSG(test, test_taint(TAINT_WARN),
				       "iteration slept or warned in atomic context");
	KUNIT_ASSERT_EQ(test, ret, 0);
	KUNIT_ASSERT_EQ(test, n, ARRAY_SIZE(phyr_test_ro_slice) - 1);
	for (i = 0; i < n; i++) {
		KUNIT_EXPECT_PTR_EQ(test, segs[i].provider,
				    phyr_test_ro_slice[i].provider);
		KUNIT_EXPECT_EQ(test, segs[i].attrs, phyr_test_ro_slice[i].attrs);
		KUNIT_EXPECT_EQ(test, segs[i].paddr, phyr_test_ro_slice[i].paddr);
		KUNIT_EXPECT_EQ(test, segs[i].len, phyr_test_ro_slice[i].len);
	}
	KUNIT_EXPECT_EQ(test, iter.remaining, 0);
}

/* Phyr offsets: R0 0-4M, R1 4M-6M, R2 6M-7M, R3 7M-8M, R4 8M-10M, R5 10M+16. */
static const struct phyr_test_range phyr_test_blocks[] = {
	/* phys - offset is 2M but not 4M aligned */
	{ RAM, PHYR_ATTRS_RAM, 0x00200000, SZ_4M },
	/* phys - offset is only 4K aligned */
	{ RAM, PHYR_ATTRS_RAM, 0x10001000, SZ_2M },
	/* 2M aligned, but only 1M long ... */
	{ RAM, PHYR_ATTRS_RAM, 0x40000000, SZ_1M },
	/* ... and physically followed by a range with other attributes */
	{ RAM, ATTRS_RAM_WC, 0x40100000, SZ_1M },
	{ &p2p_a, PHYR_ATTRS_MMIO, 0x8000000000ULL, SZ_2M },
	/* odd addresses: only 1 byte blocks */
	{ &priv_a, ATTRS_PRIV, 0x3, 0x10 },
	{ NULL }
};

struct phyr_block_case {
	u64 offset;
	size_t max_len;
	int ret;
	struct phyr_test_range block;
};

static const struct phyr_block_case phyr_block_cases[] = {
	/* R0: start, middle, end; PUD-sized request gets 2M */
	{ 0, SZ_2M, 0, { RAM, PHYR_ATTRS_RAM, 0x200000, SZ_2M } },
	{ 0x123456, SZ_2M, 0, { RAM, PHYR_ATTRS_RAM, 0x200000, SZ_2M } },
	{ 0x3fffff, SZ_2M, 0, { RAM, PHYR_ATTRS_RAM, 0x400000, SZ_2M } },
	{ 0x3fffff, SZ_1G, 0, { RAM, PHYR_ATTRS_RAM, 0x400000, SZ_2M } },
	{ 0x3fffff, SZ_4K, 0, { RAM, PHYR_ATTRS_RAM, 0x5ff000, SZ_4K } },
	{ 0x3fffff, 1, 0, { RAM, PHYR_ATTRS_RAM, 0x5fffff, 1 } },
	/* R1: phys misaligned relative to offset */
	{ 0x400000, SZ_2M, 0, { RAM, PHYR_ATTRS_RAM, 0x10001000, SZ_4K } },
	{ 0x4ff123, SZ_2M, 0, { RAM, PHYR_ATTRS_RAM, 0x10100000, SZ_4K } },
	{ 0x5fffff, SZ_2M, 0, { RAM, PHYR_ATTRS_RAM, 0x10200000, SZ_4K } },
	/* R2: the range ends before a 2M block would */
	{ 0x600000, SZ_2M, 0, { RAM, PHYR_ATTRS_RAM, 0x40000000, SZ_1M } },
	{ 0x6fffff, SZ_2M, 0, { RAM, PHYR_ATTRS_RAM, 0x40000000, SZ_1M } },
	/* R3: physically adjacent to R2, other attributes: no crossing */
	{ 0x700000, SZ_2M, 0, { RAM, ATTRS_RAM_WC, 0x40100000, SZ_1M } },
	{ 0x7fffff, SZ_2M, 0, { RAM, ATTRS_RAM_WC, 0x40100000, SZ_1M } },
	/* R4: P2P, whole 2M, and a 4K block in the middle */
	{ 0x900000, SZ_2M, 0, { &p2p_a, PHYR_ATTRS_MMIO, 0x8000000000ULL, SZ_2M } },
	{ 0x900000, SZ_4K, 0, { &p2p_a, PHYR_ATTRS_MMIO, 0x8000100000ULL, SZ_4K } },
	/* R5 */
	{ 0xa00005, SZ_2M, 0, { &priv_a, ATTRS_PRIV, 0x8, 1 } },
	{ 0xa0000f, SZ_2M, 0, { &priv_a, ATTRS_PRIV, 0x12, 1 } },
	/* past the end, bad sizes */
	{ 0xa00010, SZ_2M, -ERANGE },
	{ U64_MAX, SZ_2M, -ERANGE },
	{ 0, 0, -EINVAL },
	{ 0, SZ_2M + SZ_4K, -EINVAL },
	{ .ret = 1 }
};

/* BEHAVIOURS: P5 */
static void phyr_test_aligned_block(struct kunit *test)
{
	struct phyr *phyr = phyr_kunit_alloc(test);
	const struct phyr_block_case *bc;

	phyr_kunit_build(test, phyr, phyr_test_blocks);
	KUNIT_ASSERT_EQ(test, phyr->nr_chunks, 4);
	KUNIT_ASSERT_EQ(test, phyr->nr_ranges, 6);

	for (bc = phyr_block_cases; bc->ret != 1; bc++) {
		struct phyr_seg block = {};
		int ret = phyr_aligned_block(phyr, bc->offset, bc->max_len, &block);

		KUNIT_EXPECT_EQ_MSG(test, ret, bc->ret, "offset %llx max %zx",
				    bc->offset, bc->max_len);
		if (ret || bc->ret)
			continue;
		KUNIT_EXPECT_PTR_EQ(test, block.provider, bc->block.provider);
		KUNIT_EXPECT_EQ(test, block.attrs, bc->block.attrs);
		KUNIT_EXPECT_EQ_MSG(test, block.paddr, bc->block.paddr,
				    "offset %llx max %zx", bc->offset, bc->max_len);
		KUNIT_EXPECT_EQ_MSG(test, block.len, bc->block.len,
				    "offset %llx max %zx", bc->offset, bc->max_len);
	}
}

enum phyr_bad_op {
	BAD_APPEND,
	BAD_PAGES,
	BAD_NO_PAGES,
	BAD_BVECS,
	BAD_SGTABLE,
};

struct phyr_bad_case {
	const char *name;
	/* Appended, successfully, before the bad call. */
	struct phyr_test_range before[PHYR_TEST_MAX];
	enum phyr_bad_op op;
	struct phyr_test_range bad;
	int ret;
};

#define TOP	PHYS_ADDR_MAX
#define HALF	BIT_ULL(63)
#define QUARTER	BIT_ULL(62)

static const struct phyr_bad_case phyr_bad_cases[] = {
	{ "zero length", { { RAM, PHYR_ATTRS_RAM, 0x1000, 0x1000 } },
	  BAD_APPEND, { RAM, PHYR_ATTRS_RAM, 0x2000, 0 }, -EINVAL },
	{ "zero length, empty phyr", { },
	  BAD_APPEND, { &p2p_a, PHYR_ATTRS_MMIO, 0, 0 }, -EINVAL },
	{ "wraps at the top", { { RAM, PHYR_ATTRS_RAM, 0x1000, 0x1000 } },
	  BAD_APPEND, { RAM, PHYR_ATTRS_RAM, TOP - 0xfff, 0x1001 }, -EOVERFLOW },
	{ "wraps far", { { &p2p_a, PHYR_ATTRS_MMIO, 0x1000, 0x1000 } },
	  BAD_APPEND, { &p2p_a, PHYR_ATTRS_MMIO, TOP, SIZE_MAX }, -EOVERFLOW },
	{ "wraps after merging", { { &priv_a, ATTRS_PRIV, TOP - 0x1fff, 0x1000 } },
	  BAD_APPEND, { &priv_a, ATTRS_PRIV, TOP - 0xfff, 0x1001 }, -EOVERFLOW },
	{ "total overflows across appends",
	  { { &priv_a, ATTRS_PRIV, 0, QUARTER },
	    { &priv_a, ATTRS_PRIV, 0, QUARTER },
	    { &priv_a, ATTRS_PRIV, 0, QUARTER } },
	  BAD_APPEND, { &priv_a, ATTRS_PRIV, 0, QUARTER }, -EOVERFLOW },
	{ "total overflows when merging",
	  { { &priv_a, ATTRS_PRIV, 0, HALF } },
	  BAD_APPEND, { &priv_a, ATTRS_PRIV, HALF, HALF }, -EOVERFLOW },
	{ "total overflows in a new chunk",
	  { { &priv_a, ATTRS_PRIV, 0, HALF } },
	  BAD_APPEND, { &p2p_a, PHYR_ATTRS_MMIO, HALF, HALF }, -EOVERFLOW },
	{ "unknown attribute bit", { { RAM, PHYR_ATTRS_RAM, 0x1000, 0x1000 } },
	  BAD_APPEND, { RAM, PHYR_ATTRS_RAM | BIT(6), 0x2000, 0x1000 }, -EINVAL },
	{ "high attribute bit", { },
	  BAD_APPEND, { &p2p_a, PHYR_ATTRS_MMIO | BIT(31), 0x2000, 0x1000 }, -EINVAL },
	{ "bad cache mode", { { RAM, PHYR_ATTRS_RAM, 0x1000, 0x1000 } },
	  BAD_APPEND, { RAM, PHYR_ATTR_CACHE, 0x2000, 0x1000 }, -EINVAL },
	{ "bad confidential state", { { RAM, PHYR_ATTRS_RAM, 0x1000, 0x1000 } },
	  BAD_APPEND, { RAM, PHYR_ATTR_CC, 0x2000, 0x1000 }, -EINVAL },
	{ "RAM with MMIO", { { RAM, PHYR_ATTRS_RAM, 0x1000, 0x1000 } },
	  BAD_APPEND, { RAM, PHYR_ATTR_MMIO, 0x2000, 0x1000 }, -EINVAL },
	{ "a second RAM provider", { { RAM, PHYR_ATTRS_RAM, 0x1000, 0x1000 } },
	  BAD_APPEND, { &fake_ram, PHYR_ATTRS_RAM, 0x2000, 0x1000 }, -EINVAL },
	{ "P2P without MMIO", { { &p2p_a, PHYR_ATTRS_MMIO, 0x1000, 0x1000 } },
	  BAD_APPEND, { &p2p_a, PHYR_ATTRS_RAM, 0x2000, 0x1000 }, -EINVAL },
	{ "private without NO_CPU_MAP", { { &priv_a, ATTRS_PRIV, 0x1000, 0x1000 } },
	  BAD_APPEND, { &priv_a, 0, 0x2000, 0x1000 }, -EINVAL },
	{ "T=1 without NO_CPU_MAP", { { &p2p_a, PHYR_ATTRS_MMIO, 0x1000, 0x1000 } },
	  BAD_APPEND, { &p2p_a, ATTRS_MMIO_T1 & ~PHYR_ATTR_NO_CPU_MAP, 0x2000, 0x1000 },
	  -EINVAL },
	{ "NULL provider", { { RAM, PHYR_ATTRS_RAM, 0x1000, 0x1000 } },
	  BAD_APPEND, { NULL, PHYR_ATTRS_RAM, 0x2000, 0x1000 }, -EINVAL },
	{ "unknown provider kind", { },
	  BAD_APPEND, { &bad_kind, PHYR_ATTRS_MMIO, 0x2000, 0x1000 }, -EINVAL },
	/* builders: .bad.paddr/.len select the fault, see phyr_kunit_bad_call() */
	{ "pages: zero length", { }, BAD_PAGES, { .paddr = 0, .len = 0 }, -EINVAL },
	{ "pages: no pages", { }, BAD_NO_PAGES, { .paddr = 0x10, .len = 1 }, -EINVAL },
	{ "pages: offset beyond a page", { },
	  BAD_PAGES, { .paddr = PAGE_SIZE, .len = 1 }, -EINVAL },
	{ "pages: length beyond the pages", { },
	  BAD_PAGES, { .paddr = 1, .len = 2 * PAGE_SIZE }, -EINVAL },
	/* The first page fits, the second overflows the total. */
	{ "pages: total overflows",
	  { { &priv_a, ATTRS_PRIV, 0, SIZE_MAX - 0x10 - PAGE_SIZE - 0x10 } },
	  BAD_PAGES, { .paddr = 0, .len = 2 * PAGE_SIZE }, -EOVERFLOW },
	{ "bvecs: none", { }, BAD_BVECS, { .len = 0 }, -EINVAL },
	{ "bvecs: an empty one", { }, BAD_BVECS, { .len = 1 }, -EINVAL },
	{ "sgtable: an empty entry", { }, BAD_SGTABLE, { .len = 1 }, -EINVAL },
	{ NULL }
};

/*
 * Make a builder fail after it appended a range that extends the phyr's
 * last range and a range of its own, so that the rollback is exercised.
 */
static int phyr_kunit_bad_call(struct kunit *test, struct phyr *phyr,
			       const struct phyr_bad_case *bc,
			       struct page **pages)
{
	const struct phyr_test_range *bad = &bc->bad;
	struct bio_vec bvecs[3];
	struct sg_table *sgt;
	struct scatterlist *sg;

	switch (bc->op) {
	case BAD_APPEND:
		return phyr_append(phyr, bad->provider, bad->attrs, bad->paddr,
				   bad->len, GFP_KERNEL);
	case BAD_PAGES:
		return phyr_append_pages(phyr, pages, 2, bad->paddr, bad->len,
					 GFP_KERNEL);
	case BAD_NO_PAGES:
		return phyr_append_pages(phyr, pages, 0, bad->paddr, bad->len,
					 GFP_KERNEL);
	case BAD_BVECS:
		bvec_set_page(&bvecs[0], pages[0], PAGE_SIZE, 0);
		bvec_set_page(&bvecs[1], pages[1], 0x100, 0);
		bvec_set_page(&bvecs[2], pages[1], 0, 0x100);
		return phyr_append_bvecs(phyr, bvecs, bad->len ? 3 : 0, GFP_KERNEL);
	case BAD_SGTABLE:
		sgt = kunit_kzalloc(test, sizeof(*sgt), GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, sgt);
		KUNIT_ASSERT_EQ(test, 0, sg_alloc_table(sgt, 3, GFP_KERNEL));
		phyr_kunit_own_sgt(test, sgt);
		sg = sgt->sgl;
		sg_set_page(sg, pages[0], PAGE_SIZE, 0);
		sg = sg_next(sg);
		sg_set_page(sg, pages[1], 0x100, 0);
		sg = sg_next(sg);
		sg_set_page(sg, pages[1], 0, 0x100);
		return phyr_append_sgtable(phyr, sgt, GFP_KERNEL);
	}
	return 0;
}

/* BEHAVIOURS: P6 */
static void phyr_test_malformed(struct kunit *test)
{
	const struct phyr_bad_case *bc;
	struct page *pages[2];
	struct phyr *top;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(pages); i++) {
		pages[i] = alloc_page(GFP_KERNEL);
		phyr_kunit_own_page(test, pages[i]);
	}

	for (bc = phyr_bad_cases; bc->name; bc++) {
		struct phyr *phyr = phyr_kunit_alloc(test);
		struct phyr *before;

		kunit_info(test, "%s\n", bc->name);
		phyr_kunit_build(test, phyr, bc->before);
		/* Let the builders extend the last range before failing. */
		if (bc->op != BAD_APPEND)
			KUNIT_ASSERT_EQ(test, 0,
					phyr_append(phyr, RAM, PHYR_ATTRS_RAM,
						    page_to_phys(pages[0]) - 0x10,
						    0x10, GFP_KERNEL));
		before = phyr_kunit_copy(test, phyr);
		KUNIT_EXPECT_EQ_MSG(test, phyr_kunit_bad_call(test, phyr, bc, pages),
				    bc->ret, "%s", bc->name);
		phyr_kunit_expect_equal(test, phyr, before);
		phyr_kunit_check_invariant(test, phyr);
	}

	/* The largest ranges that do not wrap are accepted. */
	top = phyr_kunit_alloc(test);
	KUNIT_EXPECT_EQ(test, 0, phyr_append(top, &priv_a, ATTRS_PRIV,
					     TOP - 0xfff, 0x1000, GFP_KERNEL));
	KUNIT_EXPECT_EQ(test, phyr_len(top), 0x1000);
	phyr_destroy(top);
	KUNIT_EXPECT_EQ(test, 0, phyr_append(top, &priv_a, ATTRS_PRIV,
					     0, SIZE_MAX, GFP_KERNEL));
	KUNIT_EXPECT_EQ(test, phyr_len(top), SIZE_MAX);
}

/* BEHAVIOURS: P7 */
static void phyr_test_seg_page(struct kunit *test)
{
	struct phyr *phyr = phyr_kunit_alloc(test);
	struct phyr_seg seg, block;
	struct phyr_iter iter;
	struct page *page;

	page = alloc_pages(GFP_KERNEL | __GFP_COMP, 1);
	phyr_kunit_own_page(test, page);

	KUNIT_ASSERT_EQ(test, 0, phyr_append(phyr, RAM, PHYR_ATTRS_RAM,
					     page_to_phys(page) + 0x10,
					     2 * PAGE_SIZE - 0x10, GFP_KERNEL));
	KUNIT_ASSERT_EQ(test, 0, phyr_append(phyr, &p2p_a, PHYR_ATTRS_MMIO,
					     0x80000000, PAGE_SIZE, GFP_KERNEL));
	KUNIT_ASSERT_EQ(test, 0, phyr_append(phyr, &priv_a, ATTRS_PRIV,
					     0x1000, PAGE_SIZE, GFP_KERNEL));

	/* RAM: the page round-trips, in the first and in the second page. */
	KUNIT_ASSERT_EQ(test, 0, phyr_iter_start(&iter, phyr, 0, 1));
	KUNIT_ASSERT_TRUE(test, phyr_iter_next(&iter, &seg));
	KUNIT_EXPECT_PTR_EQ(test, phyr_seg_page(&seg), page);
	KUNIT_EXPECT_EQ(test, page_to_phys(phyr_seg_page(&seg)) + 0x10, seg.paddr);
	KUNIT_ASSERT_EQ(test, 0, phyr_iter_start(&iter, phyr, PAGE_SIZE, 1));
	KUNIT_ASSERT_TRUE(test, phyr_iter_next(&iter, &seg));
	KUNIT_EXPECT_PTR_EQ(test, phyr_seg_page(&seg), page + 1);
	KUNIT_EXPECT_EQ(test, page_to_phys(phyr_seg_page(&seg)) + 0x10, seg.paddr);
	KUNIT_ASSERT_EQ(test, 0, phyr_aligned_block(phyr, PAGE_SIZE, PAGE_SIZE,
						    &block));
	KUNIT_EXPECT_PTR_EQ(test, phyr_seg_page(&block), page + 1);

	/* MMIO and private memory: no page; a warning is printed. */
	KUNIT_ASSERT_EQ(test, 0, phyr_iter_start(&iter, phyr, 2 * PAGE_SIZE - 0x10,
						 2 * PAGE_SIZE));
	KUNIT_ASSERT_TRUE(test, phyr_iter_next(&iter, &seg));
	KUNIT_EXPECT_PTR_EQ(test, seg.provider, &p2p_a);
	KUNIT_EXPECT_NULL(test, phyr_seg_page(&seg));
	KUNIT_ASSERT_TRUE(test, phyr_iter_next(&iter, &seg));
	KUNIT_EXPECT_PTR_EQ(test, seg.provider, &priv_a);
	KUNIT_EXPECT_NULL(test, phyr_seg_page(&seg));
}

#define P8_NR_PAGES	6
#define P8_OFFSET	0x100
#define P8_TAIL		0x80

/* BEHAVIOURS: P8 */
static void phyr_test_builders(struct kunit *test)
{
	struct phyr *from_pages = phyr_kunit_alloc(test);
	struct phyr *from_bvecs = phyr_kunit_alloc(test);
	struct phyr *from_mp_bvecs = phyr_kunit_alloc(test);
	struct phyr *from_sgt = phyr_kunit_alloc(test);
	struct phyr *from_sgt_pages = phyr_kunit_alloc(test);
	struct phyr *expect = phyr_kunit_alloc(test);
	size_t len = P8_NR_PAGES * PAGE_SIZE - P8_OFFSET - P8_TAIL;
	struct page *pages[P8_NR_PAGES], *big, *sep[2];
	struct bio_vec bvecs[P8_NR_PAGES], mp_bvecs[3];
	struct sg_table *sgt, *sgt_pages;
	struct scatterlist *sg;
	unsigned int i, r;
	size_t left;

	/* An order-2 block for contiguity, between two separate pages. */
	big = alloc_pages(GFP_KERNEL | __GFP_COMP, 2);
	phyr_kunit_own_page(test, big);
	for (i = 0; i < ARRAY_SIZE(sep); i++) {
		sep[i] = alloc_page(GFP_KERNEL);
		phyr_kunit_own_page(test, sep[i]);
	}
	pages[0] = sep[0];
	for (i = 0; i < 4; i++)
		pages[1 + i] = big + i;
	pages[5] = sep[1];

	/* The expected phyr: one append per page piece, by hand. */
	for (i = 0, left = len; i < P8_NR_PAGES; i++) {
		size_t off = i ? 0 : P8_OFFSET;
		size_t piece = min_t(size_t, left, PAGE_SIZE - off);

		KUNIT_ASSERT_EQ(test, 0, phyr_append(expect, RAM, PHYR_ATTRS_RAM,
						     page_to_phys(pages[i]) + off,
						     piece, GFP_KERNEL));
		left -= piece;
	}
	/* The order-2 block is one range, whatever its neighbours. */
	for (r = 0; r < expect->nr_ranges; r++) {
		const struct phys_vec *pv = &expect->ranges[r];

		if (pv->paddr <= page_to_phys(big) &&
		    pv->paddr + pv->len >= page_to_phys(big) + 4 * PAGE_SIZE)
			break;
	}
	KUNIT_EXPECT_LT(test, r, expect->nr_ranges);
	KUNIT_EXPECT_LE(test, expect->nr_ranges, 3);
	KUNIT_EXPECT_EQ(test, expect->nr_chunks, 1);
	KUNIT_EXPECT_EQ(test, phyr_len(expect), len);

	KUNIT_ASSERT_EQ(test, 0, phyr_append_pages(from_pages, pages, P8_NR_PAGES,
						   P8_OFFSET, len, GFP_KERNEL));
	phyr_kunit_expect_equal(test, from_pages, expect);

	/* One bio_vec per page... */
	for (i = 0, left = len; i < P8_NR_PAGES; i++) {
		size_t off = i ? 0 : P8_OFFSET;
		size_t piece = min_t(size_t, left, PAGE_SIZE - off);

		bvec_set_page(&bvecs[i], pages[i], piece, off);
		left -= piece;
	}
	KUNIT_ASSERT_EQ(test, 0, phyr_append_bvecs(from_bvecs, bvecs, P8_NR_PAGES,
						   GFP_KERNEL));
	phyr_kunit_expect_equal(test, from_bvecs, expect);

	/* ... and multi-page bio_vecs, as the block layer builds them. */
	bvec_set_page(&mp_bvecs[0], sep[0], PAGE_SIZE - P8_OFFSET, P8_OFFSET);
	bvec_set_page(&mp_bvecs[1], big, 4 * PAGE_SIZE, 0);
	bvec_set_page(&mp_bvecs[2], sep[1], PAGE_SIZE - P8_TAIL, 0);
	KUNIT_ASSERT_EQ(test, 0, phyr_append_bvecs(from_mp_bvecs, mp_bvecs, 3,
						   GFP_KERNEL));
	phyr_kunit_expect_equal(test, from_mp_bvecs, expect);

	/* An sg_table with one entry per page... */
	sgt = kunit_kzalloc(test, sizeof(*sgt), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, sgt);
	KUNIT_ASSERT_EQ(test, 0, sg_alloc_table(sgt, P8_NR_PAGES, GFP_KERNEL));
	phyr_kunit_own_sgt(test, sgt);
	for_each_sgtable_sg(sgt, sg, i)
		sg_set_page(sg, bvecs[i].bv_page, bvecs[i].bv_len,
			    bvecs[i].bv_offset);
	KUNIT_ASSERT_EQ(test, 0, phyr_append_sgtable(from_sgt, sgt, GFP_KERNEL));
	phyr_kunit_expect_equal(test, from_sgt, expect);

	/* ... and one from sg_alloc_table_from_pages(), which merges too. */
	sgt_pages = kunit_kzalloc(test, sizeof(*sgt_pages), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, sgt_pages);
	KUNIT_ASSERT_EQ(test, 0, sg_alloc_table_from_pages(sgt_pages, pages,
							   P8_NR_PAGES, P8_OFFSET,
							   len, GFP_KERNEL));
	phyr_kunit_own_sgt(test, sgt_pages);
	KUNIT_ASSERT_EQ(test, 0, phyr_append_sgtable(from_sgt_pages, sgt_pages,
						     GFP_KERNEL));
	phyr_kunit_expect_equal(test, from_sgt_pages, expect);

	/* Appending to a non-empty phyr continues its last range. */
	phyr_destroy(from_pages);
	KUNIT_ASSERT_EQ(test, 0, phyr_append_pages(from_pages, pages, 3,
						   P8_OFFSET, 2 * PAGE_SIZE,
						   GFP_KERNEL));
	KUNIT_ASSERT_EQ(test, 0, phyr_append_pages(from_pages, pages + 2,
						   P8_NR_PAGES - 2, P8_OFFSET,
						   len - 2 * PAGE_SIZE, GFP_KERNEL));
	phyr_kunit_expect_equal(test, from_pages, expect);
	phyr_kunit_check_invariant(test, from_pages);
}

/*
 * BEHAVIOURS: P2, P8 - phyr_append_pages() leaves no slack: into an empty
 * phyr it builds in one pass, room for one range per page, and gives back
 * what the runs did not use; onto a non-empty phyr it grows by exactly its
 * runs; into a phyr reserved for it, it allocates nothing and keeps the
 * reservation.
 */
static void phyr_test_builder_pages_sizes(struct kunit *test)
{
	struct phyr *phyr = phyr_kunit_alloc(test);
	struct page *big = alloc_pages(GFP_KERNEL | __GFP_COMP, 3);
	struct page *pages[8], *rev[2];
	struct phys_vec *ranges;
	unsigned int i;

	phyr_kunit_own_page(test, big);
	for (i = 0; i < ARRAY_SIZE(pages); i++)
		pages[i] = big + i;
	rev[0] = big + 5;
	rev[1] = big + 4;

	KUNIT_ASSERT_EQ(test, 0, phyr_append_pages(phyr, pages, 8, 0,
						   8 * PAGE_SIZE, GFP_KERNEL));
	KUNIT_EXPECT_EQ(test, phyr->nr_ranges, 1);
	KUNIT_EXPECT_EQ(test, phyr->max_ranges, 1);
	KUNIT_EXPECT_EQ(test, phyr->max_chunks, 1);
	KUNIT_EXPECT_EQ(test, phyr->ranges[0].paddr, page_to_phys(big));
	KUNIT_EXPECT_EQ(test, phyr->ranges[0].len, 8 * PAGE_SIZE);

	/* Two pages in reverse order: two runs, neither continues the last. */
	KUNIT_ASSERT_EQ(test, 0, phyr_append_pages(phyr, rev, 2, 0,
						   2 * PAGE_SIZE, GFP_KERNEL));
	KUNIT_EXPECT_EQ(test, phyr->nr_ranges, 3);
	KUNIT_EXPECT_EQ(test, phyr->max_ranges, 3);
	KUNIT_EXPECT_EQ(test, phyr->max_chunks, 1);
	KUNIT_EXPECT_EQ(test, phyr->ranges[1].paddr, page_to_phys(big + 5));
	KUNIT_EXPECT_EQ(test, phyr->ranges[2].paddr, page_to_phys(big + 4));
	phyr_kunit_check_invariant(test, phyr);

	phyr_destroy(phyr);
	KUNIT_ASSERT_EQ(test, 0, phyr_reserve(phyr, 1, 8, GFP_KERNEL));
	ranges = phyr->ranges;
	KUNIT_ASSERT_EQ(test, 0, phyr_append_pages(phyr, pages + 1, 7, 0x10,
						   7 * PAGE_SIZE - 0x20,
						   GFP_KERNEL));
	KUNIT_EXPECT_PTR_EQ(test, phyr->ranges, ranges);
	KUNIT_EXPECT_EQ(test, phyr->max_ranges, 8);
	KUNIT_EXPECT_EQ(test, phyr->nr_ranges, 1);
	KUNIT_EXPECT_EQ(test, phyr->ranges[0].paddr, page_to_phys(big + 1) + 0x10);
	KUNIT_EXPECT_EQ(test, phyr->ranges[0].len, 7 * PAGE_SIZE - 0x20);
	phyr_kunit_check_invariant(test, phyr);
}

static const struct phyr_test_range phyr_test_providers[] = {
	{ RAM, PHYR_ATTRS_RAM, 0x100000, 0x2000 },
	{ &p2p_a, PHYR_ATTRS_MMIO, 0xfe000000, 0x4000 },
	{ &p2p_a, PHYR_ATTRS_MMIO, 0xfe008000, 0x1000 },
	/* contiguous, same attributes, but another device's BAR */
	{ &p2p_b, PHYR_ATTRS_MMIO, 0xfe009000, 0x1000 },
	{ &priv_a, ATTRS_PRIV, 0x0, 0x3000 },
	{ &p2p_b, ATTRS_MMIO_T1, 0xfd000000, 0x1000 },
	{ RAM, PHYR_ATTRS_RAM, 0x200000, 0x1000 },
	{ NULL }
};

static const struct phyr_test_range phyr_test_providers_slice[] = {
	{ RAM, PHYR_ATTRS_RAM, 0x101fff, 0x1 },
	{ &p2p_a, PHYR_ATTRS_MMIO, 0xfe000000, 0x4000 },
	{ &p2p_a, PHYR_ATTRS_MMIO, 0xfe008000, 0x1000 },
	{ &p2p_b, PHYR_ATTRS_MMIO, 0xfe009000, 0x1000 },
	{ &priv_a, ATTRS_PRIV, 0x0, 0x3000 },
	{ &p2p_b, ATTRS_MMIO_T1, 0xfd000000, 0x1 },
	{ NULL }
};

/* BEHAVIOURS: P9 */
static void phyr_test_mixed_providers(struct kunit *test)
{
	struct phyr *phyr = phyr_kunit_alloc(test);
	unsigned int c;

	phyr_kunit_build(test, phyr, phyr_test_providers);
	KUNIT_ASSERT_EQ(test, phyr->nr_chunks, 6);
	KUNIT_EXPECT_EQ(test, phyr->chunks[0].provider->kind, PHYR_PROVIDER_RAM);
	KUNIT_EXPECT_EQ(test, phyr->chunks[1].provider->kind, PHYR_PROVIDER_P2P);
	KUNIT_EXPECT_EQ(test, phyr->chunks[2].provider->kind, PHYR_PROVIDER_P2P);
	KUNIT_EXPECT_EQ(test, phyr->chunks[3].provider->kind,
			PHYR_PROVIDER_PRIVATE);
	KUNIT_EXPECT_EQ(test, phyr->chunks[1].nr_ranges, 2);
	for (c = 0; c < phyr->nr_chunks; c++)
		KUNIT_EXPECT_EQ(test, phyr->chunks[c].nr_ranges, c == 1 ? 2 : 1);

	phyr_kunit_expect_slice(test, phyr, 0, phyr_len(phyr), phyr_test_providers);
	phyr_kunit_expect_slice(test, phyr, 0x1fff, 0x9002,
				phyr_test_providers_slice);
}

/* BEHAVIOURS: P10 */
static void phyr_test_provider_lifetime(struct kunit *test)
{
	static struct p2pdma_provider bar4 = { .bus_offset = 0x10000 };
	struct phyr_provider *provider, saved;
	struct phyr *phyr, on_stack;
	struct phyr_iter iter;
	struct phyr_seg seg;

	provider = kzalloc_obj(*provider, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, provider);
	phyr_provider_init_p2p(provider, &bar4);
	memcpy(&saved, provider, sizeof(saved));

	phyr = phyr_alloc(GFP_KERNEL);
	if (!phyr)
		kfree(provider);
	KUNIT_ASSERT_NOT_NULL(test, phyr);
	phyr_init(&on_stack);
	KUNIT_EXPECT_EQ(test, 0, phyr_append(phyr, provider, PHYR_ATTRS_MMIO,
					     0xe0000000, 0x1000, GFP_KERNEL));
	KUNIT_EXPECT_EQ(test, 0, phyr_append(phyr, provider, PHYR_ATTRS_MMIO,
					     0xe0002000, 0x1000, GFP_KERNEL));
	KUNIT_EXPECT_EQ(test, 0, phyr_append(phyr, RAM, PHYR_ATTRS_RAM,
					     0x1000, 0x1000, GFP_KERNEL));
	KUNIT_EXPECT_EQ(test, 0, phyr_append(&on_stack, provider, ATTRS_MMIO_IDE,
					     0xe0000000, 0x1000, GFP_KERNEL));
	KUNIT_EXPECT_EQ(test, 0, phyr_iter_start(&iter, phyr, 0, phyr_len(phyr)));
	phyr_for_each_seg(&seg, &iter)
		;
	KUNIT_EXPECT_EQ(test, 0, phyr_aligned_block(phyr, 0, SZ_2M, &seg));

	/* Building, iterating and slicing never wrote to the provider. */
	KUNIT_EXPECT_EQ(test, 0, memcmp(provider, &saved, sizeof(saved)));
	KUNIT_EXPECT_EQ(test, phyr_provider_ram.kind, PHYR_PROVIDER_RAM);

	/* The exporter goes first: freeing must not touch the provider. */
	kfree(provider);
	phyr_destroy(&on_stack);
	phyr_free(phyr);
	KUNIT_EXPECT_EQ(test, phyr_len(&on_stack), 0);
	KUNIT_EXPECT_NULL(test, on_stack.chunks);
	phyr_free(NULL);
}

static struct kunit_case phyr_test_cases[] = {
	KUNIT_CASE(phyr_test_merge),
	KUNIT_CASE(phyr_test_iterate),
	KUNIT_CASE(phyr_test_reserve),
	KUNIT_CASE(phyr_test_slice),
	KUNIT_CASE(phyr_test_iterate_atomic),
	KUNIT_CASE(phyr_test_aligned_block),
	KUNIT_CASE(phyr_test_malformed),
	KUNIT_CASE(phyr_test_seg_page),
	KUNIT_CASE(phyr_test_builders),
	KUNIT_CASE(phyr_test_builder_pages_sizes),
	KUNIT_CASE(phyr_test_mixed_providers),
	KUNIT_CASE(phyr_test_provider_lifetime),
	{}
};

static struct kunit_suite phyr_test_suite = {
	.name = "phyr",
	.test_cases = phyr_test_cases,
};

kunit_test_suite(phyr_test_suite);
