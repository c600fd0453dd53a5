// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit tests of phyr DMA mapping (lib/phyr/dma.c) and its sg_table compat
 * (lib/phyr/sgt.c), for kunit_device_register() devices on dma-direct.
 * Probes on the DMA API's own dma_map_phys/dma_unmap_phys tracepoints count
 * what each test's devices map and unmap, and with which attributes (every
 * test checks the balance, so a leak fails the test); nothing in lib/phyr
 * is stubbed. One case per behaviour; the cases that need the rig's PCI
 * switch or IOMMU skip elsewhere (the M12 unwind case is in the rig, where
 * a small IOVA space makes the DMA API fail half-way for real).
 */

#include <kunit/device.h>
#include <kunit/test-bug.h>
#include <kunit/test.h>
#include <linux/atomic.h>
#include <linux/dma-direct.h>
#include <linux/dma-mapping.h>
#include <linux/err.h>
#include <linux/iommu-dma.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/pci-p2pdma.h>
#include <linux/phyr-dma.h>
#include <linux/scatterlist.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/swiotlb.h>
#include <trace/events/dma.h>

MODULE_DESCRIPTION("KUnit tests for phyr DMA mapping");
MODULE_LICENSE("GPL");

#define ATTRS_PRIV	PHYR_ATTRS_CONST(PHYR_ATTR_NO_CPU_MAP, PHYR_CACHE_WB, \
					 PHYR_CC_SHARED)
#define RAM		(&phyr_provider_ram)

static const struct phyr_provider priv_7 = {
	.kind = PHYR_PROVIDER_PRIVATE,
	.priv = { .interconnect_id = 7 },
};

/* A P2P provider whose device never registered P2PDMA: reachable by nobody. */
static const struct phyr_provider p2p_nodev = {
	.kind = PHYR_PROVIDER_P2P,
	.p2p = NULL,
};

/* What the DMA API mapped for the devices of one test, from its tracepoints. */
struct phyr_dma_test {
	spinlock_t	lock;		/* the counters: probes run on any CPU */
	unsigned int	maps;
	unsigned int	unmaps;
	unsigned int	mmio_maps;	/* with DMA_ATTR_MMIO */
	u64		mapped;		/* bytes */
	u64		unmapped;	/* bytes */
};

/* The test running on this CPU's task, if one of ours: devices are theirs. */
static struct phyr_dma_test *phyr_dma_test_current(struct device *dev)
{
	struct kunit *test = kunit_get_current_test();

	if (!test || !dev->bus || strcmp(dev->bus->name, "kunit"))
		return NULL;
	return test->priv;
}

static void phyr_dma_test_probe_map(void *data, struct device *dev,
				    phys_addr_t phys_addr, dma_addr_t dma_addr,
				    size_t size, enum dma_data_direction dir,
				    unsigned long attrs)
{
	struct phyr_dma_test *t = phyr_dma_test_current(dev);

	if (!t || dma_addr == DMA_MAPPING_ERROR)
		return;
	spin_lock(&t->lock);
	t->maps++;
	t->mapped += size;
	if (attrs & DMA_ATTR_MMIO)
		t->mmio_maps++;
	spin_unlock(&t->lock);
}

static void phyr_dma_test_probe_unmap(void *data, struct device *dev,
				      dma_addr_t addr, size_t size,
				      enum dma_data_direction dir,
				      unsigned long attrs)
{
	struct phyr_dma_test *t = phyr_dma_test_current(dev);

	if (!t)
		return;
	spin_lock(&t->lock);
	t->unmaps++;
	t->unmapped += size;
	spin_unlock(&t->lock);
}

static void phyr_dma_test_exit(struct kunit *test)
{
	unregister_trace_dma_unmap_phys(phyr_dma_test_probe_unmap, NULL);
	unregister_trace_dma_map_phys(phyr_dma_test_probe_map, NULL);
	tracepoint_synchronize_unregister();
}

static int phyr_dma_test_init(struct kunit *test)
{
	struct phyr_dma_test *t;
	int ret;

	t = kunit_kzalloc(test, sizeof(*t), GFP_KERNEL);
	if (!t)
		return -ENOMEM;
	spin_lock_init(&t->lock);
	test->priv = t;
	ret = register_trace_dma_map_phys(phyr_dma_test_probe_map, NULL);
	if (ret)
		return ret;
	ret = register_trace_dma_unmap_phys(phyr_dma_test_probe_unmap, NULL);
	if (ret)
		unregister_trace_dma_map_phys(phyr_dma_test_probe_map, NULL);
	return ret;
}

/* Nothing the library mapped is left mapped. */
static void phyr_dma_expect_balanced(struct kunit *test)
{
	struct phyr_dma_test *t = test->priv;

	KUNIT_EXPECT_EQ_MSG(test, t->maps, t->unmaps,
			    "%u maps, %u unmaps", t->maps, t->unmaps);
	KUNIT_EXPECT_EQ(test, t->mapped, t->unmapped);
}

KUNIT_DEFINE_ACTION_WRAPPER(kfree_action, kfree, const void *);

/* dma-direct with nothing that bounces: addresses are computed, not copied. */
static bool phyr_dma_is_plain_direct(struct device *dev)
{
	return !use_dma_iommu(dev) && !is_swiotlb_active(dev);
}

/*
 * A DMA-capable device with @mask, @max_seg and @boundary (0: the DMA
 * API's defaults, no dma_parms).
 */
static struct device *phyr_dma_test_dev(struct kunit *test, u64 mask,
					unsigned int max_seg,
					unsigned long boundary)
{
	struct device_dma_parameters *parms;
	struct device *dev;

	static atomic_t nr_devs = ATOMIC_INIT(0);
	const char *name;
	int ret;

	/* A device's name is its driver's: one name per device. */
	name = kasprintf(GFP_KERNEL, "phyr-dma-test-%d",
			 atomic_inc_return(&nr_devs));
	KUNIT_ASSERT_NOT_NULL(test, name);
	ret = kunit_add_action_or_reset(test, kfree_action, (void *)name);
	KUNIT_ASSERT_EQ(test, ret, 0);
	dev = kunit_device_register(test, name);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, dev);
	dev->dma_mask = &dev->coherent_dma_mask;
	*dev->dma_mask = mask;
	if (max_seg || boundary) {
		parms = kunit_kzalloc(test, sizeof(*parms), GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, parms);
		parms->max_segment_size = max_seg;
		parms->segment_boundary_mask = boundary;
		dev->dma_parms = parms;
	}
	return dev;
}

KUNIT_DEFINE_ACTION_WRAPPER(phyr_free_action, phyr_free, struct phyr *);
KUNIT_DEFINE_ACTION_WRAPPER(sg_free_table_action, sg_free_table,
			    struct sg_table *);

static struct phyr *phyr_dma_test_phyr(struct kunit *test)
{
	struct phyr *phyr = phyr_alloc(GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, phyr);
	KUNIT_ASSERT_EQ(test,
			kunit_add_action_or_reset(test, phyr_free_action, phyr),
			0);
	return phyr;
}

static void phyr_dma_test_append(struct kunit *test, struct phyr *phyr,
				 const struct phyr_provider *provider,
				 u32 attrs, phys_addr_t paddr, size_t len)
{
	KUNIT_ASSERT_EQ(test, phyr_append(phyr, provider, attrs, paddr, len,
					  GFP_KERNEL), 0);
}

/* Physically contiguous RAM, freed when the test ends. */
static phys_addr_t phyr_dma_test_ram(struct kunit *test, size_t len)
{
	void *buf = kunit_kzalloc(test, len, GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, buf);
	return virt_to_phys(buf);
}

static const struct phyr_dma_params *
phyr_dma_test_params(struct kunit *test, struct device *dev, u32 ic)
{
	struct phyr_dma_params *p = kunit_kzalloc(test, sizeof(*p), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, p);
	*p = (struct phyr_dma_params){
		.dev = dev,
		.dir = DMA_TO_DEVICE,
		.interconnect_id = ic,
	};
	return p;
}

static void phyr_dma_test_ram_map(struct kunit *test)
{
	struct device *dev = phyr_dma_test_dev(test, DMA_BIT_MASK(64), 0, 0);
	struct phyr *phyr = phyr_dma_test_phyr(test);
	struct phyr_dma_test *t = test->priv;
	phys_addr_t a = phyr_dma_test_ram(test, SZ_4K);
	phys_addr_t b = phyr_dma_test_ram(test, SZ_4K);
	phys_addr_t c = phyr_dma_test_ram(test, SZ_16K);
	struct phyr_dma_map *map;

	phyr_dma_test_append(test, phyr, RAM, PHYR_ATTRS_RAM, a, SZ_4K);
	phyr_dma_test_append(test, phyr, RAM, PHYR_ATTRS_RAM, b + 512, 1024);
	phyr_dma_test_append(test, phyr, RAM, PHYR_ATTRS_RAM, c, SZ_16K);

	/* BEHAVIOURS: M1 */
	KUNIT_EXPECT_EQ(test, phyr_dma_map_type(RAM, dev, 0), PHYR_MAP_DMA);
	map = phyr_dma_map_create(phyr, 0, phyr_len(phyr),
				  phyr_dma_test_params(test, dev, 0),
				  GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, map);
	KUNIT_ASSERT_EQ(test, map->nr_vecs, 3);
	KUNIT_EXPECT_EQ(test, t->maps, 3);
	KUNIT_EXPECT_EQ(test, map->vecs[0].dma_addr, phys_to_dma(dev, a));
	KUNIT_EXPECT_EQ(test, map->vecs[0].len, SZ_4K);
	KUNIT_EXPECT_EQ(test, map->vecs[1].dma_addr, phys_to_dma(dev, b + 512));
	KUNIT_EXPECT_EQ(test, map->vecs[1].len, 1024);
	KUNIT_EXPECT_EQ(test, map->vecs[2].dma_addr, phys_to_dma(dev, c));
	KUNIT_EXPECT_EQ(test, map->vecs[2].len, SZ_16K);
	KUNIT_EXPECT_EQ(test, map->vecs[2].flags, 0);
	KUNIT_EXPECT_FALSE(test, dma_use_iova(&map->state.iova));
	phyr_dma_map_destroy(map);
	KUNIT_EXPECT_EQ(test, t->unmaps, 3);
	phyr_dma_expect_balanced(test);
}

static void phyr_dma_test_private(struct kunit *test)
{
	struct device *dev = phyr_dma_test_dev(test, DMA_BIT_MASK(64), 0, 0);
	struct phyr *phyr = phyr_dma_test_phyr(test);
	struct phyr *p2p = phyr_dma_test_phyr(test);
	struct phyr_dma_test *t = test->priv;
	phys_addr_t a = phyr_dma_test_ram(test, SZ_4K);
	struct phyr_dma_map *map;

	phyr_dma_test_append(test, phyr, RAM, PHYR_ATTRS_RAM, a, SZ_4K);
	phyr_dma_test_append(test, phyr, &priv_7, ATTRS_PRIV, 0x7000, SZ_8K);

	/* BEHAVIOURS: M5 */
	KUNIT_EXPECT_EQ(test, phyr_dma_map_type(&priv_7, dev, 0),
			PHYR_MAP_NOT_SUPPORTED);
	KUNIT_EXPECT_EQ(test, phyr_dma_map_type(&priv_7, dev, 8),
			PHYR_MAP_NOT_SUPPORTED);
	KUNIT_EXPECT_EQ(test, phyr_dma_map_type(&priv_7, dev, 7),
			PHYR_MAP_PRIVATE);
	map = phyr_dma_map_create(phyr, 0, phyr_len(phyr),
				  phyr_dma_test_params(test, dev, 0),
				  GFP_KERNEL);
	KUNIT_EXPECT_EQ(test, PTR_ERR(map), -EREMOTE);
	map = phyr_dma_map_create(phyr, 0, phyr_len(phyr),
				  phyr_dma_test_params(test, dev, 8),
				  GFP_KERNEL);
	KUNIT_EXPECT_EQ(test, PTR_ERR(map), -EREMOTE);
	/* Refused before anything was mapped, the RAM before it included. */
	KUNIT_EXPECT_EQ(test, t->maps, 0);

	map = phyr_dma_map_create(phyr, 0, phyr_len(phyr),
				  phyr_dma_test_params(test, dev, 7),
				  GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, map);
	KUNIT_ASSERT_EQ(test, map->nr_vecs, 2);
	KUNIT_EXPECT_EQ(test, map->vecs[1].dma_addr, 0x7000);
	KUNIT_EXPECT_EQ(test, map->vecs[1].len, SZ_8K);
	KUNIT_EXPECT_EQ(test, map->vecs[1].flags, PHYR_DMA_VEC_PRIVATE);
	phyr_dma_map_destroy(map);

	/* BEHAVIOURS: M4 (a P2P provider this device cannot reach) */
	phyr_dma_test_append(test, p2p, &p2p_nodev, PHYR_ATTRS_MMIO,
			     0x80000000, SZ_4K);
	KUNIT_EXPECT_EQ(test, phyr_dma_map_type(&p2p_nodev, dev, 0),
			PHYR_MAP_NOT_SUPPORTED);
	map = phyr_dma_map_create(p2p, 0, SZ_4K,
				  phyr_dma_test_params(test, dev, 0),
				  GFP_KERNEL);
	KUNIT_EXPECT_EQ(test, PTR_ERR(map), -EREMOTEIO);
	phyr_dma_expect_balanced(test);
}

/* A range as a test appended it: what the oracle below reads. */
struct phyr_dma_test_piece {
	phys_addr_t	paddr;
	u64		len;
	bool		priv;	/* a private interconnect address, as is */
};

/*
 * BEHAVIOURS: M7, M11 - the segments a slice must give, computed by the
 * test from the ranges it appended and the device's limits, never by the
 * iterator or the list under test: each range's piece of the slice, RAM at
 * phys_to_dma() and a private interconnect range at its own address, cut
 * after the max segment size (dma_get_max_seg_size(), at most 2 GiB,
 * rounded down to a page when it is one or more) and before each segment
 * boundary (dma_get_seg_boundary()). Fills at most @max of @out; returns
 * the number of segments.
 */
static unsigned int phyr_dma_test_oracle(struct device *dev,
					 const struct phyr_dma_test_piece *r,
					 unsigned int nr, u64 offset, u64 len,
					 struct phyr_dma_vec *out,
					 unsigned int max)
{
	u64 max_seg = min_t(u64, dma_get_max_seg_size(dev), SZ_2G);
	u64 boundary = dma_get_seg_boundary(dev);
	unsigned int i, n = 0;

	if (max_seg >= PAGE_SIZE)
		max_seg = round_down(max_seg, PAGE_SIZE);
	for (i = 0; i < nr && len; i++) {
		u64 skip = min(offset, r[i].len);
		u64 piece = min(r[i].len - skip, len);
		u64 addr = r[i].priv ? r[i].paddr + skip :
				       phys_to_dma(dev, r[i].paddr + skip);

		offset -= skip;
		len -= piece;
		while (piece) {
			u64 seg = min(piece, max_seg);

			/* The last byte before the next boundary. */
			if (boundary != ~0ULL)
				seg = min(seg, (addr | boundary) - addr + 1);
			if (n < max)
				out[n] = (struct phyr_dma_vec){
					.dma_addr = addr,
					.len = seg,
					.flags = r[i].priv ?
						 PHYR_DMA_VEC_PRIVATE : 0,
				};
			n++;
			addr += seg;
			piece -= seg;
		}
	}
	return n;
}

/*
 * @got (@n of them) are the oracle's @want (@nr): the same addresses and
 * lengths; private segments marked private, RAM ones neither IOVA, bus
 * address, MMIO nor private (dma-direct: mapped one by one or computed).
 */
static void phyr_dma_test_expect_vecs(struct kunit *test, const char *what,
				      unsigned int s,
				      const struct phyr_dma_vec *got,
				      unsigned int n,
				      const struct phyr_dma_vec *want,
				      unsigned int nr)
{
	const u32 not_ram = PHYR_DMA_VEC_IOVA | PHYR_DMA_VEC_BUS_ADDR |
			    PHYR_DMA_VEC_MMIO | PHYR_DMA_VEC_PRIVATE;
	unsigned int i;

	KUNIT_EXPECT_EQ_MSG(test, n, nr, "%s, slice %u: segments", what, s);
	for (i = 0; i < min(n, nr); i++) {
		KUNIT_EXPECT_EQ_MSG(test, got[i].dma_addr, want[i].dma_addr,
				    "%s, slice %u, segment %u", what, s, i);
		KUNIT_EXPECT_EQ_MSG(test, got[i].len, want[i].len,
				    "%s, slice %u, segment %u", what, s, i);
		if (want[i].flags & PHYR_DMA_VEC_PRIVATE)
			KUNIT_EXPECT_EQ_MSG(test, got[i].flags,
					    PHYR_DMA_VEC_PRIVATE,
					    "%s, slice %u, segment %u", what,
					    s, i);
		else
			KUNIT_EXPECT_EQ_MSG(test, got[i].flags & not_ram, 0,
					    "%s, slice %u, segment %u", what,
					    s, i);
	}
}

/* Slices of the M7 phyr: offset, length; ends at a zero length. */
static const struct {
	u64 offset;
	u64 len;
} phyr_dma_test_slices[] = {
	{ 0, 0 },	/* the whole phyr, filled in by the test */
	{ 100, 5000 },
	{ SZ_4K - 1, 2 },
	{ SZ_4K + 300, SZ_16K },
	{ 0, 1 },
	{ 0, 0 },
};

static void phyr_dma_test_iter_list(struct kunit *test)
{
	struct device *dev = phyr_dma_test_dev(test, DMA_BIT_MASK(64), 3000,
					       SZ_4K - 1);
	const struct phyr_dma_params *params;
	struct phyr *phyr = phyr_dma_test_phyr(test);
	struct phyr_dma_vec *vecs, *want, vec;
	struct phyr_dma_iter iter;
	struct phyr_dma_map *map;
	phys_addr_t a = phyr_dma_test_ram(test, SZ_8K);
	phys_addr_t b = phyr_dma_test_ram(test, SZ_32K);
	const struct phyr_dma_test_piece pieces[] = {
		{ a + 100, 7000 },
		{ 0x1ff00, 600, true },
		{ b + 1000, 30000 },
	};
	unsigned int i, n, nr, s;
	u64 offset, len, sum;
	int ret;

	phyr_dma_test_append(test, phyr, RAM, PHYR_ATTRS_RAM, a + 100, 7000);
	phyr_dma_test_append(test, phyr, &priv_7, ATTRS_PRIV, 0x1ff00, 600);
	phyr_dma_test_append(test, phyr, RAM, PHYR_ATTRS_RAM, b + 1000, 30000);
	params = phyr_dma_test_params(test, dev, 7);
	vecs = kunit_kcalloc(test, 128, sizeof(*vecs), GFP_KERNEL);
	want = kunit_kcalloc(test, 128, sizeof(*want), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, vecs);
	KUNIT_ASSERT_NOT_NULL(test, want);

	for (s = 0; !s || phyr_dma_test_slices[s].len; s++) {
		offset = phyr_dma_test_slices[s].offset;
		len = s ? phyr_dma_test_slices[s].len : phyr_len(phyr);

		/* BEHAVIOURS: M7 */
		KUNIT_ASSERT_EQ(test, phyr_dma_iter_start(&iter, phyr, offset,
							  len, params), 0);
		n = 0;
		sum = 0;
		while ((ret = phyr_dma_iter_next(&iter, &vec)) > 0) {
			KUNIT_ASSERT_LT(test, n, 128);
			vecs[n++] = vec;
			sum += vec.len;
		}
		KUNIT_ASSERT_EQ(test, ret, 0);
		KUNIT_EXPECT_EQ(test, sum, len);

		/* Both against the test's own segments, not each other. */
		nr = phyr_dma_test_oracle(dev, pieces, ARRAY_SIZE(pieces),
					  offset, len, want, 128);
		KUNIT_ASSERT_LE(test, nr, 128);
		phyr_dma_test_expect_vecs(test, "iterator", s, vecs, n, want,
					  nr);
		map = phyr_dma_map_create(phyr, offset, len, params,
					  GFP_KERNEL);
		KUNIT_ASSERT_NOT_ERR_OR_NULL(test, map);
		phyr_dma_test_expect_vecs(test, "list", s, map->vecs,
					  map->nr_vecs, want, nr);
		phyr_dma_map_destroy(map);

		for (i = 0; i < n; i++)
			phyr_dma_unmap_vec(dev, &vecs[i], params->dir,
					   params->attrs);
		phyr_dma_unmap_state(dev, &iter.state, params->dir,
				     params->attrs);
	}
	phyr_dma_expect_balanced(test);
}

static void phyr_dma_test_bound(struct kunit *test)
{
	struct device *dev = phyr_dma_test_dev(test, DMA_BIT_MASK(64), 0, 0);
	struct phyr *phyr = phyr_dma_test_phyr(test);
	struct phyr_dma_test *t = test->priv;
	phys_addr_t a = phyr_dma_test_ram(test, SZ_4K);
	struct phyr_dma_map *map;

	phyr_dma_test_append(test, phyr, RAM, PHYR_ATTRS_RAM, a, SZ_4K);
	map = phyr_dma_map_create(phyr, 0, SZ_4K,
				  phyr_dma_test_params(test, dev, 0),
				  GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, map);

	/*
	 * BEHAVIOURS: M8, M18: the mapping names its device, and destroying
	 * it takes no device and cannot fail: it unmaps through the device
	 * it was made for.
	 */
	KUNIT_EXPECT_PTR_EQ(test, map->dev, dev);
	KUNIT_EXPECT_EQ(test, t->maps, 1);
	phyr_dma_map_destroy(map);
	KUNIT_EXPECT_EQ(test, t->unmaps, 1);
	phyr_dma_expect_balanced(test);
}

static void phyr_dma_test_mask(struct kunit *test)
{
	struct device *dev = phyr_dma_test_dev(test, DMA_BIT_MASK(64), 0, 0);
	struct phyr *phyr = phyr_dma_test_phyr(test);
	struct phyr_dma_test *t = test->priv;
	phys_addr_t x = phyr_dma_test_ram(test, SZ_4K);
	phys_addr_t y = phyr_dma_test_ram(test, SZ_4K);
	phys_addr_t lo = min(x, y), hi = max(x, y);
	struct phyr_dma_map *map;
	struct phyr_dma_iter iter;

	if (is_swiotlb_active(dev))
		kunit_skip(test, "swiotlb may bounce RAM beyond the mask here; UML runs this");
	phyr_dma_test_append(test, phyr, RAM, PHYR_ATTRS_RAM, lo, SZ_4K);
	phyr_dma_test_append(test, phyr, RAM, PHYR_ATTRS_RAM, hi, SZ_4K);

	/* BEHAVIOURS: M10 (the second range is beyond the mask) */
	*dev->dma_mask = phys_to_dma(dev, hi) + SZ_2K;
	map = phyr_dma_map_create(phyr, 0, phyr_len(phyr),
				  phyr_dma_test_params(test, dev, 0),
				  GFP_KERNEL);
	KUNIT_EXPECT_EQ(test, PTR_ERR(map), -EIO);
	KUNIT_EXPECT_EQ(test, phyr_dma_iter_start(&iter, phyr, 0,
						  phyr_len(phyr),
						  phyr_dma_test_params(test, dev, 0)),
			-EIO);
	KUNIT_EXPECT_EQ(test, t->maps, 0);

	/* Only the range below the mask. */
	map = phyr_dma_map_create(phyr, 0, SZ_4K,
				  phyr_dma_test_params(test, dev, 0),
				  GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, map);
	phyr_dma_map_destroy(map);
	phyr_dma_expect_balanced(test);
}

static void phyr_dma_test_limits(struct kunit *test)
{
	static const struct {
		unsigned int max_seg;
		unsigned long boundary;
	} limits[] = {
		{ 3000, SZ_4K - 1 },
		{ SZ_4K, SZ_8K - 1 },
		{ 512, SZ_64K - 1 },
		{ 0, SZ_4K - 1 },	/* default max segment size */
		{ 0, 0 },		/* no dma_parms: 64 KiB, no boundary */
	};
	struct phyr *phyr = phyr_dma_test_phyr(test);
	phys_addr_t a = phyr_dma_test_ram(test, SZ_128K);
	phys_addr_t b = phyr_dma_test_ram(test, SZ_4K);
	const struct phyr_dma_test_piece pieces[] = {
		{ a + 100, SZ_128K - 200 },
		{ b + 1, 4000 },
	};
	unsigned int l, i, max_seg, nr;
	struct phyr_dma_vec *want;
	unsigned long boundary;
	struct phyr_dma_map *map;
	struct device *dev;
	u64 sum;

	want = kunit_kcalloc(test, 512, sizeof(*want), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, want);

	phyr_dma_test_append(test, phyr, RAM, PHYR_ATTRS_RAM, a + 100,
			     SZ_128K - 200);
	phyr_dma_test_append(test, phyr, RAM, PHYR_ATTRS_RAM, b + 1, 4000);

	for (l = 0; l < ARRAY_SIZE(limits); l++) {
		dev = phyr_dma_test_dev(test, DMA_BIT_MASK(64),
					limits[l].max_seg, limits[l].boundary);
		max_seg = dma_get_max_seg_size(dev);
		boundary = dma_get_seg_boundary(dev);
		map = phyr_dma_map_create(phyr, 0, phyr_len(phyr),
					  phyr_dma_test_params(test, dev, 0),
					  GFP_KERNEL);
		KUNIT_ASSERT_NOT_ERR_OR_NULL(test, map);

		/* BEHAVIOURS: M11 */
		sum = 0;
		for (i = 0; i < map->nr_vecs; i++) {
			const struct phyr_dma_vec *v = &map->vecs[i];

			KUNIT_EXPECT_GT(test, v->len, 0);
			KUNIT_EXPECT_LE_MSG(test, v->len, max_seg,
					    "limits %u vec %u", l, i);
			KUNIT_EXPECT_EQ_MSG(test, v->dma_addr | boundary,
					    (v->dma_addr + v->len - 1) | boundary,
					    "limits %u vec %u crosses", l, i);
			sum += v->len;
		}
		KUNIT_EXPECT_EQ(test, sum, phyr_len(phyr));
		KUNIT_EXPECT_EQ(test, map->vecs[0].dma_addr,
				phys_to_dma(dev, a + 100));
		KUNIT_EXPECT_EQ(test, map->vecs[map->nr_vecs - 1].dma_addr +
				map->vecs[map->nr_vecs - 1].len,
				phys_to_dma(dev, b + 4001));
		nr = phyr_dma_test_oracle(dev, pieces, ARRAY_SIZE(pieces), 0,
					  phyr_len(phyr), want, 512);
		KUNIT_ASSERT_LE(test, nr, 512);
		phyr_dma_test_expect_vecs(test, "limits", l, map->vecs,
					  map->nr_vecs, want, nr);
		phyr_dma_map_destroy(map);
	}
	phyr_dma_expect_balanced(test);
}

static void phyr_dma_test_sgt(struct kunit *test)
{
	struct device *dev = phyr_dma_test_dev(test, DMA_BIT_MASK(64), 2048,
					       SZ_4K - 1);
	struct phyr *phyr = phyr_dma_test_phyr(test);
	struct phyr_dma_test *t = test->priv;
	phys_addr_t a = phyr_dma_test_ram(test, SZ_16K);
	phys_addr_t b = phyr_dma_test_ram(test, SZ_4K);
	struct scatterlist *sg;
	struct sg_table *sgt;
	dma_addr_t next = 0;
	unsigned int i, n = 0;
	u64 sum = 0;

	phyr_dma_test_append(test, phyr, RAM, PHYR_ATTRS_RAM, a + 10, 12000);
	phyr_dma_test_append(test, phyr, RAM, PHYR_ATTRS_RAM, b, 3000);

	/* BEHAVIOURS: C1 */
	sgt = phyr_dma_map_sgt(phyr, 5, phyr_len(phyr) - 5,
			       phyr_dma_test_params(test, dev, 0), GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, sgt);
	/* No CPU side at all, as upstream's dma_buf_phys_vec_to_sgt(). */
	KUNIT_EXPECT_EQ(test, sgt->orig_nents, 0);
	KUNIT_EXPECT_EQ(test, sgt->nents, t->maps - t->unmaps);
	next = phys_to_dma(dev, a + 15);
	for_each_sgtable_dma_sg(sgt, sg, i) {
		/* The second range starts a new run of addresses. */
		if (i && sg_dma_address(sg) == phys_to_dma(dev, b))
			next = sg_dma_address(sg);
		KUNIT_EXPECT_EQ(test, next, sg_dma_address(sg));
		KUNIT_EXPECT_LE(test, sg_dma_len(sg), 2048);
		KUNIT_EXPECT_EQ(test, sg_dma_address(sg) >> 12,
				(sg_dma_address(sg) + sg_dma_len(sg) - 1) >> 12);
		/* BEHAVIOURS: C2 (a DMA side only, no made-up page) */
		KUNIT_EXPECT_NULL(test, sg_page(sg));
		/* Without NEED_SG_DMA_LENGTH, sg_dma_len() is sg->length. */
		if (IS_ENABLED(CONFIG_NEED_SG_DMA_LENGTH))
			KUNIT_EXPECT_EQ(test, sg->length, 0);
		KUNIT_EXPECT_FALSE(test, sg_dma_is_bus_address(sg));
		next = sg_dma_address(sg) + sg_dma_len(sg);
		sum += sg_dma_len(sg);
		n++;
	}
	KUNIT_EXPECT_EQ(test, n, sgt->nents);
	KUNIT_EXPECT_EQ(test, sum, phyr_len(phyr) - 5);
	KUNIT_EXPECT_EQ(test, next, phys_to_dma(dev, b + 3000));

	phyr_dma_unmap_sgt(sgt);
	phyr_dma_expect_balanced(test);
}

#if IS_ENABLED(CONFIG_PCI_P2PDMA)
/* The rig's NVMe and an edu under the same PCI switch, or NULL. */
static struct pci_dev *phyr_dma_test_switch_pair(struct pci_dev **client)
{
	struct pci_dev *nvme, *edu = NULL;

	nvme = pci_get_class(PCI_CLASS_STORAGE_EXPRESS, NULL);
	if (!nvme)
		return NULL;
	while ((edu = pci_get_device(0x1234, 0x11e8, edu))) {
		struct pci_dev *up = pci_upstream_bridge(edu);

		/* Below a switch's downstream port, as the NVMe is. */
		if (up && pci_pcie_type(up) == PCI_EXP_TYPE_DOWNSTREAM) {
			*client = edu;	/* pci_get_device()'s reference */
			return nvme;
		}
	}
	pci_dev_put(nvme);
	return NULL;
}
#endif

static void phyr_dma_test_sgt_bus_addr(struct kunit *test)
{
#if IS_ENABLED(CONFIG_PCI_P2PDMA)
	struct pci_dev *provider, *client = NULL;
	struct phyr_provider p2p;
	struct scatterlist *sg;
	struct sg_table *sgt;
	struct phyr *phyr;
	phys_addr_t paddr;
	dma_addr_t next;
	unsigned int i;

	provider = phyr_dma_test_switch_pair(&client);
	if (!provider)
		kunit_skip(test, "no NVMe and edu under one PCI switch (the rig has them)");

	phyr = phyr_dma_test_phyr(test);
	KUNIT_ASSERT_EQ(test, phyr_provider_init_pci_bar(&p2p, provider, 0), 0);
	paddr = pci_resource_start(provider, 0);
	phyr_dma_test_append(test, phyr, &p2p, PHYR_ATTRS_MMIO, paddr, SZ_8K);
	KUNIT_EXPECT_EQ(test, phyr_dma_map_type(&p2p, &client->dev, 0),
			PHYR_MAP_BUS_ADDR);
	sgt = phyr_dma_map_sgt(phyr, 0, SZ_8K,
			       phyr_dma_test_params(test, &client->dev, 0),
			       GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, sgt);

	/* BEHAVIOURS: C2, M2 (bus addresses, marked, no page) */
	next = paddr + p2p.p2p->bus_offset;
	for_each_sgtable_dma_sg(sgt, sg, i) {
		KUNIT_EXPECT_TRUE(test, sg_dma_is_bus_address(sg));
		KUNIT_EXPECT_NULL(test, sg_page(sg));
		KUNIT_EXPECT_EQ(test, sg_dma_address(sg), next);
		next += sg_dma_len(sg);
	}
	KUNIT_EXPECT_EQ(test, next, paddr + p2p.p2p->bus_offset + SZ_8K);
	phyr_dma_unmap_sgt(sgt);
	pci_dev_put(client);
	pci_dev_put(provider);
#else
	kunit_skip(test, "needs CONFIG_PCI_P2PDMA and the rig's PCI switch");
#endif
}

static void phyr_dma_test_one_iova(struct kunit *test)
{
#if IS_ENABLED(CONFIG_IOMMU_DMA) && IS_ENABLED(CONFIG_PCI)
	struct phyr *phyr = phyr_dma_test_phyr(test);
	const struct phyr_dma_params *params;
	struct phyr_dma_vec vec;
	struct phyr_dma_iter iter;
	struct phyr_dma_map *map;
	struct pci_dev *edu;
	unsigned int i, n = 0;
	dma_addr_t next;
	int ret;

	edu = pci_get_device(0x1234, 0x11e8, NULL);
	if (!edu)
		kunit_skip(test, "no edu device (the rig has one)");
	if (!use_dma_iommu(&edu->dev)) {
		pci_dev_put(edu);
		kunit_skip(test, "the edu device is not behind iommu-dma in this boot");
	}
	for (i = 0; i < 3; i++)
		phyr_dma_test_append(test, phyr, RAM, PHYR_ATTRS_RAM,
				     phyr_dma_test_ram(test, SZ_4K), SZ_4K);
	params = phyr_dma_test_params(test, &edu->dev, 0);

	/* BEHAVIOURS: M6 (one IOVA for three discontiguous pages) */
	map = phyr_dma_map_create(phyr, 0, phyr_len(phyr), params, GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, map);
	KUNIT_EXPECT_TRUE(test, dma_use_iova(&map->state.iova));
	next = map->vecs[0].dma_addr;
	for (i = 0; i < map->nr_vecs; i++) {
		KUNIT_EXPECT_EQ(test, map->vecs[i].dma_addr, next);
		KUNIT_EXPECT_EQ(test, map->vecs[i].flags, PHYR_DMA_VEC_IOVA);
		next += map->vecs[i].len;
	}
	KUNIT_EXPECT_EQ(test, next - map->vecs[0].dma_addr, 3 * SZ_4K);

	/* BEHAVIOURS: M7 (the IOVA path) */
	KUNIT_ASSERT_EQ(test, phyr_dma_iter_start(&iter, phyr, 0, phyr_len(phyr),
						  params), 0);
	while ((ret = phyr_dma_iter_next(&iter, &vec)) > 0) {
		KUNIT_ASSERT_LT(test, n, map->nr_vecs);
		KUNIT_EXPECT_EQ(test, vec.len, map->vecs[n].len);
		KUNIT_EXPECT_EQ(test, vec.dma_addr - iter.state.iova.addr,
				map->vecs[n].dma_addr - map->state.iova.addr);
		n++;
	}
	KUNIT_EXPECT_EQ(test, ret, 0);
	KUNIT_EXPECT_EQ(test, n, map->nr_vecs);
	phyr_dma_unmap_state(&edu->dev, &iter.state, params->dir,
			     params->attrs);
	phyr_dma_map_destroy(map);
	pci_dev_put(edu);
#else
	kunit_skip(test, "needs iommu-dma and the rig's edu device");
#endif
}

static void phyr_dma_test_sgt_private(struct kunit *test)
{
	struct device *dev = phyr_dma_test_dev(test, DMA_BIT_MASK(64), 0, 0);
	struct phyr *phyr = phyr_dma_test_phyr(test);
	struct phyr_dma_test *t = test->priv;
	phys_addr_t a = phyr_dma_test_ram(test, SZ_4K);
	struct sg_table *sgt;

	phyr_dma_test_append(test, phyr, RAM, PHYR_ATTRS_RAM, a, SZ_4K);
	phyr_dma_test_append(test, phyr, &priv_7, ATTRS_PRIV, 0x7000, SZ_4K);

	/* BEHAVIOURS: C3 (even for an importer on that interconnect) */
	sgt = phyr_dma_map_sgt(phyr, 0, phyr_len(phyr),
			       phyr_dma_test_params(test, dev, 7), GFP_KERNEL);
	KUNIT_EXPECT_EQ(test, PTR_ERR(sgt), -EREMOTE);
	sgt = phyr_dma_map_sgt(phyr, 0, phyr_len(phyr),
			       phyr_dma_test_params(test, dev, 0), GFP_KERNEL);
	KUNIT_EXPECT_EQ(test, PTR_ERR(sgt), -EREMOTE);
	KUNIT_EXPECT_EQ(test, t->maps, 0);

	/* The RAM before it still converts. */
	sgt = phyr_dma_map_sgt(phyr, 0, SZ_4K,
			       phyr_dma_test_params(test, dev, 0), GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, sgt);
	phyr_dma_unmap_sgt(sgt);
	phyr_dma_expect_balanced(test);
}

static void phyr_dma_test_dma_mapped(struct kunit *test)
{
	static const struct {
		dma_addr_t dma_addr;
		unsigned int len;
	} legacy[] = {
		{ 0x100000, SZ_4K },
		{ 0x101000, SZ_4K },	/* contiguous: merges */
		{ 0x200000, 512 },
	};
	struct device *dev = phyr_dma_test_dev(test, DMA_BIT_MASK(64), 0, 0);
	struct phyr *phyr = phyr_dma_test_phyr(test);
	struct phyr_dma_test *t = test->priv;
	const struct phyr_dma_params *params;
	struct phyr_dma_iter dma_iter;
	struct scatterlist *sg;
	struct phyr_iter iter;
	struct phyr_seg seg;
	struct sg_table *sgt;
	unsigned int i;

	sgt = kunit_kzalloc(test, sizeof(*sgt), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, sgt);
	KUNIT_ASSERT_EQ(test, sg_alloc_table(sgt, ARRAY_SIZE(legacy),
					     GFP_KERNEL), 0);
	KUNIT_ASSERT_EQ(test,
			kunit_add_action_or_reset(test, sg_free_table_action,
						  sgt),
			0);
	for_each_sgtable_sg(sgt, sg, i) {
		sg_dma_address(sg) = legacy[i].dma_addr;
		sg_dma_len(sg) = legacy[i].len;
	}

	/* BEHAVIOURS: C4 */
	KUNIT_ASSERT_EQ(test, phyr_from_dma_sgtable(phyr, sgt, dev,
						    GFP_KERNEL), 0);
	KUNIT_EXPECT_PTR_EQ(test, phyr->dma_dev, dev);
	KUNIT_EXPECT_EQ(test, phyr_len(phyr), SZ_8K + 512);

	/* Iteration yields the DMA addresses. */
	KUNIT_ASSERT_EQ(test, phyr_iter_start(&iter, phyr, 0, phyr_len(phyr)),
			0);
	KUNIT_ASSERT_TRUE(test, phyr_iter_next(&iter, &seg));
	KUNIT_EXPECT_PTR_EQ(test, seg.provider, &phyr_provider_dma_mapped);
	KUNIT_EXPECT_EQ(test, seg.paddr, 0x100000);
	KUNIT_EXPECT_EQ(test, seg.len, SZ_8K);
	KUNIT_ASSERT_TRUE(test, phyr_iter_next(&iter, &seg));
	KUNIT_EXPECT_EQ(test, seg.paddr, 0x200000);
	KUNIT_EXPECT_EQ(test, seg.len, 512);
	KUNIT_EXPECT_FALSE(test, phyr_iter_next(&iter, &seg));

	/* Never mapped a second time, by any entry point. */
	params = phyr_dma_test_params(test, dev, 0);
	KUNIT_EXPECT_EQ(test,
			PTR_ERR(phyr_dma_map_create(phyr, 0, SZ_4K, params,
						    GFP_KERNEL)),
			-EALREADY);
	KUNIT_EXPECT_EQ(test,
			phyr_dma_iter_start(&dma_iter, phyr, 0, SZ_4K, params),
			-EALREADY);
	KUNIT_EXPECT_EQ(test,
			PTR_ERR(phyr_dma_map_sgt(phyr, 0, SZ_4K, params,
						 GFP_KERNEL)),
			-EALREADY);
	KUNIT_EXPECT_EQ(test, t->maps, 0);
	/* Nor extended with CPU physical addresses. */
	KUNIT_EXPECT_EQ(test, phyr_append(phyr, RAM, PHYR_ATTRS_RAM, 0x1000,
					  SZ_4K, GFP_KERNEL), -EINVAL);
	/* A phyr that is not empty cannot become DMA-mapped. */
	KUNIT_EXPECT_EQ(test, phyr_from_dma_sgtable(phyr, sgt, dev,
						    GFP_KERNEL), -EINVAL);
}

static void phyr_dma_test_8g(struct kunit *test)
{
	struct device *dev = phyr_dma_test_dev(test, DMA_BIT_MASK(64),
					       UINT_MAX, 0);
	struct phyr *phyr = phyr_dma_test_phyr(test);
	struct phyr *back = phyr_dma_test_phyr(test);
	const phys_addr_t base = 1ULL << 40;
	struct scatterlist *sg;
	struct phyr_iter iter;
	struct sg_table *sgt;
	struct phyr_seg seg;
	unsigned int i;
	u64 sum = 0;

	if (!IS_ENABLED(CONFIG_PHYS_ADDR_T_64BIT) ||
	    !IS_ENABLED(CONFIG_ARCH_DMA_ADDR_T_64BIT))
		kunit_skip(test, "needs 64-bit physical and DMA addresses");
	if (!phyr_dma_is_plain_direct(dev))
		kunit_skip(test, "needs plain dma-direct (no bounce, no IOMMU); UML runs this");

	/*
	 * Far above RAM: coherent dma-direct maps it as identity and touches
	 * no byte of it, so nothing needs to be behind it.
	 */
	phyr_dma_test_append(test, phyr, RAM, PHYR_ATTRS_RAM, base, SZ_8G);
	phyr_dma_test_append(test, phyr, RAM, PHYR_ATTRS_RAM, base + SZ_16G,
			     SZ_1G);

	/* BEHAVIOURS: C5, C6 */
	sgt = phyr_dma_map_sgt(phyr, 0, phyr_len(phyr),
			       phyr_dma_test_params(test, dev, 0), GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, sgt);
	/*
	 * A max segment size of UINT_MAX: 8 GiB in page-aligned 2 GiB
	 * segments, then 1 GiB; never 4G-1, 4G-1 and 2 bytes.
	 */
	KUNIT_EXPECT_EQ(test, sgt->nents, 5);
	for_each_sgtable_dma_sg(sgt, sg, i) {
		KUNIT_EXPECT_GT(test, sg_dma_len(sg), 0);
		KUNIT_EXPECT_TRUE_MSG(test, PAGE_ALIGNED(sg_dma_len(sg)),
				      "entry %u: %u bytes", i, sg_dma_len(sg));
		sum += sg_dma_len(sg);
	}
	KUNIT_EXPECT_EQ(test, sum, SZ_8G + SZ_1G);
	KUNIT_EXPECT_EQ(test, sg_dma_address(sgt->sgl), base);

	/* And back: the DMA-contiguous 8 GiB becomes one range again. */
	KUNIT_ASSERT_EQ(test, phyr_from_dma_sgtable(back, sgt, dev, GFP_KERNEL),
			0);
	KUNIT_EXPECT_EQ(test, phyr_len(back), SZ_8G + SZ_1G);
	KUNIT_ASSERT_EQ(test, phyr_iter_start(&iter, back, 0, phyr_len(back)),
			0);
	KUNIT_ASSERT_TRUE(test, phyr_iter_next(&iter, &seg));
	KUNIT_EXPECT_EQ(test, seg.paddr, base);
	KUNIT_EXPECT_EQ(test, seg.len, SZ_8G);

	phyr_dma_unmap_sgt(sgt);
	phyr_dma_expect_balanced(test);
}

/*
 * A max segment size that is not a multiple of the page size (0x10800):
 * every entry but a range's last is still a whole number of pages.
 */
static void phyr_dma_test_page_aligned(struct kunit *test)
{
	struct device *dev = phyr_dma_test_dev(test, DMA_BIT_MASK(64),
					       SZ_64K + SZ_2K, 0);
	struct phyr *phyr = phyr_dma_test_phyr(test);
	phys_addr_t a = phyr_dma_test_ram(test, SZ_256K);
	struct scatterlist *sg;
	struct sg_table *sgt;
	unsigned int i;

	phyr_dma_test_append(test, phyr, RAM, PHYR_ATTRS_RAM, a, SZ_256K);

	/* BEHAVIOURS: C6 */
	sgt = phyr_dma_map_sgt(phyr, 0, phyr_len(phyr),
			       phyr_dma_test_params(test, dev, 0), GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, sgt);
	KUNIT_EXPECT_EQ(test, sgt->nents, 4);
	for_each_sgtable_dma_sg(sgt, sg, i)
		KUNIT_EXPECT_EQ_MSG(test, sg_dma_len(sg), SZ_64K, "entry %u", i);
	phyr_dma_unmap_sgt(sgt);
	phyr_dma_expect_balanced(test);
}

/* Confidential (T=1) RAM: no generic entry point maps any of it. */
static void phyr_dma_test_cc_private(struct kunit *test)
{
	struct device *dev = phyr_dma_test_dev(test, DMA_BIT_MASK(64), 0, 0);
	struct phyr *phyr = phyr_dma_test_phyr(test);
	struct phyr_dma_test *t = test->priv;
	const struct phyr_dma_params *params;
	struct phyr_dma_iter iter;
	struct phyr_dma_map *map;
	struct sg_table *sgt;

	phyr_dma_test_append(test, phyr, RAM, PHYR_ATTRS_RAM,
			     phyr_dma_test_ram(test, SZ_4K), SZ_4K);
	phyr_dma_test_append(test, phyr, RAM,
			     PHYR_ATTRS(PHYR_ATTR_NO_CPU_MAP, PHYR_CACHE_WB,
					PHYR_CC_PRIVATE),
			     phyr_dma_test_ram(test, SZ_4K), SZ_4K);
	params = phyr_dma_test_params(test, dev, 0);

	/* BEHAVIOURS: M17 (the shared RAM before it is not mapped either) */
	map = phyr_dma_map_create(phyr, 0, phyr_len(phyr), params, GFP_KERNEL);
	KUNIT_EXPECT_EQ(test, PTR_ERR(map), -EACCES);
	sgt = phyr_dma_map_sgt(phyr, 0, phyr_len(phyr), params, GFP_KERNEL);
	KUNIT_EXPECT_EQ(test, PTR_ERR(sgt), -EACCES);
	KUNIT_EXPECT_EQ(test, phyr_dma_iter_start(&iter, phyr, SZ_4K, 1, params),
			-EACCES);
	KUNIT_EXPECT_EQ(test, t->maps, 0);
}

/* After any error of phyr_dma_iter_start(), the iterator is defined. */
static void phyr_dma_test_iter_error_state(struct kunit *test)
{
	struct device *dev = phyr_dma_test_dev(test, DMA_BIT_MASK(64), 0, 0);
	struct phyr *phyr = phyr_dma_test_phyr(test);
	struct phyr *mapped = phyr_dma_test_phyr(test);
	const struct phyr_dma_params *params;
	struct phyr_dma_iter iter;
	struct phyr_dma_vec vec;
	struct sg_table *sgt;

	phyr_dma_test_append(test, phyr, RAM, PHYR_ATTRS_RAM,
			     phyr_dma_test_ram(test, SZ_4K), SZ_4K);
	/* Freed after the test function: not on its stack. */
	sgt = kunit_kzalloc(test, sizeof(*sgt), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, sgt);
	KUNIT_ASSERT_EQ(test, sg_alloc_table(sgt, 1, GFP_KERNEL), 0);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test,
							sg_free_table_action,
							sgt), 0);
	sg_dma_address(sgt->sgl) = 0x100000;
	sg_dma_len(sgt->sgl) = SZ_4K;
	KUNIT_ASSERT_EQ(test, phyr_from_dma_sgtable(mapped, sgt, dev,
						    GFP_KERNEL), 0);
	params = phyr_dma_test_params(test, dev, 0);

	/*
	 * BEHAVIOURS: M18: a caller that always tears down after start,
	 * as upstream's "blk-mq-dma: always initialize dma state" expects,
	 * finds nothing mapped and nothing to yield, whatever the stack held.
	 */
	memset(&iter, 0xa5, sizeof(iter));
	KUNIT_EXPECT_EQ(test, phyr_dma_iter_start(&iter, mapped, 0, SZ_4K,
						  params), -EALREADY);
	KUNIT_EXPECT_FALSE(test, dma_use_iova(&iter.state.iova));
	KUNIT_EXPECT_EQ(test, phyr_dma_iter_next(&iter, &vec), 0);
	phyr_dma_unmap_state(dev, &iter.state, params->dir, params->attrs);

	memset(&iter, 0xa5, sizeof(iter));
	KUNIT_EXPECT_EQ(test, phyr_dma_iter_start(&iter, phyr, SZ_4K, 1,
						  params), -ERANGE);
	KUNIT_EXPECT_FALSE(test, dma_use_iova(&iter.state.iova));
	KUNIT_EXPECT_EQ(test, phyr_dma_iter_next(&iter, &vec), 0);
	phyr_dma_unmap_state(dev, &iter.state, params->dir, params->attrs);
}

/*
 * A device as a driver leaves it: dma_set_mask_and_coherent() is where the
 * DMA API decides whether the device must sync (dma_need_unmap()).
 */
static struct device *phyr_dma_test_driver_dev(struct kunit *test)
{
	struct device *dev = phyr_dma_test_dev(test, DMA_BIT_MASK(64), 0, 0);

	KUNIT_ASSERT_EQ(test, dma_set_mask_and_coherent(dev, DMA_BIT_MASK(64)),
			0);
	return dev;
}

/*
 * Does phyr compute dma-direct addresses for @dev itself? Only where
 * upstream says no unmap is needed, nothing bounces and nothing
 * translates but dma-direct: what kunit-uml.sh's no-debug run (the bench
 * kernel) has, and the DMA_API_DEBUG run has not.
 */
static bool phyr_dma_test_fast(struct device *dev)
{
	return phyr_dma_is_plain_direct(dev) && !dma_need_unmap(dev);
}

/* Map @phyr whole, as a list and streaming, and check both agree. */
static struct phyr_dma_map *phyr_dma_test_map_both(struct kunit *test,
						   struct phyr *phyr,
						   struct device *dev)
{
	const struct phyr_dma_params *params = phyr_dma_test_params(test, dev,
								    0);
	struct phyr_dma_vec vecs[8];
	struct phyr_dma_iter iter;
	struct phyr_dma_map *map;
	int i, n;

	map = phyr_dma_map_create(phyr, 0, phyr_len(phyr), params, GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, map);
	KUNIT_ASSERT_EQ(test, phyr_dma_iter_start(&iter, phyr, 0,
						  phyr_len(phyr), params), 0);
	n = phyr_dma_iter_fill(&iter, vecs, ARRAY_SIZE(vecs));
	/* BEHAVIOURS: M7 (the batch iterator too) */
	KUNIT_EXPECT_EQ(test, n, map->nr_vecs);
	for (i = 0; i < min_t(int, n, map->nr_vecs); i++) {
		KUNIT_EXPECT_EQ(test, vecs[i].dma_addr, map->vecs[i].dma_addr);
		KUNIT_EXPECT_EQ(test, vecs[i].len, map->vecs[i].len);
		KUNIT_EXPECT_EQ(test, vecs[i].flags, map->vecs[i].flags);
	}
	KUNIT_EXPECT_EQ(test, phyr_dma_iter_fill(&iter, vecs, ARRAY_SIZE(vecs)),
			0);
	phyr_dma_unmap_vecs(dev, vecs, max(n, 0), params->dir, params->attrs);
	phyr_dma_unmap_state(dev, &iter.state, params->dir, params->attrs);
	return map;
}

/*
 * The dma-direct fast path: for a device that needs no unmap, RAM gets
 * its bus address computed with no DMA API call, and nothing is unmapped;
 * for one that does (DMA_API_DEBUG, which wants to see every mapping),
 * each segment is one dma_map_phys() and one dma_unmap_phys().
 */
static void phyr_dma_test_direct(struct kunit *test)
{
	struct device *dev = phyr_dma_test_driver_dev(test);
	struct phyr *phyr = phyr_dma_test_phyr(test);
	struct phyr_dma_test *t = test->priv;
	phys_addr_t a = phyr_dma_test_ram(test, SZ_4K);
	phys_addr_t b = phyr_dma_test_ram(test, SZ_4K);
	phys_addr_t c = phyr_dma_test_ram(test, SZ_16K);
	bool fast = phyr_dma_test_fast(dev);
	struct phyr_dma_map *map;
	unsigned int i, maps;

	phyr_dma_test_append(test, phyr, RAM, PHYR_ATTRS_RAM, a, SZ_4K);
	phyr_dma_test_append(test, phyr, RAM, PHYR_ATTRS_RAM, b + 512, 1024);
	phyr_dma_test_append(test, phyr, RAM, PHYR_ATTRS_RAM, c, SZ_16K);
	kunit_info(test, "%s\n", fast ? "dma-direct, no unmap needed: addresses computed" :
		   "the device needs unmaps: dma_map_phys() per segment");

	/* BEHAVIOURS: M1 (no unmap is needed, and none is made) */
	map = phyr_dma_test_map_both(test, phyr, dev);
	KUNIT_ASSERT_EQ(test, map->nr_vecs, 3);
	maps = t->maps;
	KUNIT_EXPECT_EQ(test, maps, fast ? 0 : 2 * 3);
	KUNIT_EXPECT_EQ(test, map->vecs[1].len, 1024);
	if (!is_swiotlb_force_bounce(dev)) {
		KUNIT_EXPECT_EQ(test, map->vecs[0].dma_addr,
				phys_to_dma(dev, a));
		KUNIT_EXPECT_EQ(test, map->vecs[1].dma_addr,
				phys_to_dma(dev, b + 512));
		KUNIT_EXPECT_EQ(test, map->vecs[2].dma_addr,
				phys_to_dma(dev, c));
	}
	for (i = 0; i < map->nr_vecs; i++)
		KUNIT_EXPECT_EQ(test, map->vecs[i].flags,
				fast ? PHYR_DMA_VEC_DIRECT : 0);
	phyr_dma_map_destroy(map);
	KUNIT_EXPECT_EQ(test, t->unmaps, fast ? 0 : maps);
	phyr_dma_expect_balanced(test);
}

/*
 * A device that must sync (what dma_set_mask() leaves for a non-coherent
 * device, and the first swiotlb bounce for any): every segment goes
 * through dma_map_phys() and dma_unmap_phys(), so that the cache
 * maintenance is done, whatever the configuration.
 */
static void phyr_dma_test_direct_sync(struct kunit *test)
{
	struct device *dev = phyr_dma_test_driver_dev(test);
	struct phyr *phyr = phyr_dma_test_phyr(test);
	struct phyr_dma_test *t = test->priv;
	struct phyr_dma_map *map;

	if (!IS_ENABLED(CONFIG_DMA_NEED_SYNC))
		kunit_skip(test, "no DMA sync on this architecture");
	dev_clear_dma_skip_sync(dev);
	phyr_dma_test_append(test, phyr, RAM, PHYR_ATTRS_RAM,
			     phyr_dma_test_ram(test, SZ_4K), SZ_4K);
	phyr_dma_test_append(test, phyr, RAM, PHYR_ATTRS_RAM,
			     phyr_dma_test_ram(test, SZ_8K), SZ_8K);

	/* BEHAVIOURS: M1, M14 (cache maintenance covers the mapped bytes) */
	KUNIT_EXPECT_TRUE(test, dma_need_unmap(dev));
	map = phyr_dma_test_map_both(test, phyr, dev);
	KUNIT_ASSERT_EQ(test, map->nr_vecs, 2);
	KUNIT_EXPECT_EQ(test, t->maps, 2 * 2);
	KUNIT_EXPECT_EQ(test, map->vecs[0].flags, 0);
	KUNIT_EXPECT_EQ(test, map->vecs[1].flags, 0);
	phyr_dma_map_destroy(map);
	KUNIT_EXPECT_EQ(test, t->unmaps, 2 * 2);
	KUNIT_EXPECT_EQ(test, t->unmapped, 2 * (SZ_4K + SZ_8K));
	phyr_dma_expect_balanced(test);
}

/*
 * The DMA mask is checked once per chunk, on the chunk's extent: a chunk
 * within it takes the fast path, a chunk reaching beyond it does not, and
 * its ranges go through dma_map_phys(), which checks (and, with swiotlb,
 * bounces) each; a range beyond the mask fails the map.
 */
static void phyr_dma_test_direct_mask(struct kunit *test)
{
	struct device *dev = phyr_dma_test_driver_dev(test);
	struct phyr *phyr = phyr_dma_test_phyr(test);
	struct phyr_dma_test *t = test->priv;
	phys_addr_t p[3], x;
	struct phyr_dma_map *map;
	bool fast;
	int i, j;

	if (is_swiotlb_active(dev))
		kunit_skip(test, "swiotlb may bounce RAM beyond the mask here; UML runs this");
	for (i = 0; i < 3; i++)
		p[i] = phyr_dma_test_ram(test, SZ_4K);
	for (i = 0; i < 3; i++)
		for (j = i + 1; j < 3; j++)
			if (p[j] < p[i]) {
				x = p[i];
				p[i] = p[j];
				p[j] = x;
			}
	*dev->dma_mask = phys_to_dma(dev, p[2]) + SZ_2K;
	fast = phyr_dma_test_fast(dev);

	/* A chunk within the mask, then one whose second range is not. */
	phyr_dma_test_append(test, phyr, RAM, PHYR_ATTRS_RAM, p[0], SZ_4K);
	phyr_dma_test_append(test, phyr, RAM,
			     PHYR_ATTRS(0, PHYR_CACHE_WC, PHYR_CC_SHARED),
			     p[1], SZ_4K);
	phyr_dma_test_append(test, phyr, RAM,
			     PHYR_ATTRS(0, PHYR_CACHE_WC, PHYR_CC_SHARED),
			     p[2], SZ_4K);

	/* BEHAVIOURS: M10 */
	map = phyr_dma_map_create(phyr, 0, phyr_len(phyr),
				  phyr_dma_test_params(test, dev, 0),
				  GFP_KERNEL);
	KUNIT_EXPECT_EQ(test, PTR_ERR(map), -EIO);
	KUNIT_EXPECT_EQ(test, t->maps, 0);

	/* The slice below the mask: the second chunk's part is mapped. */
	map = phyr_dma_map_create(phyr, 0, 2 * SZ_4K,
				  phyr_dma_test_params(test, dev, 0),
				  GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, map);
	KUNIT_ASSERT_EQ(test, map->nr_vecs, 2);
	KUNIT_EXPECT_EQ(test, map->vecs[0].flags,
			fast ? PHYR_DMA_VEC_DIRECT : 0);
	KUNIT_EXPECT_EQ(test, map->vecs[1].flags, 0);
	KUNIT_EXPECT_EQ(test, map->vecs[1].dma_addr, phys_to_dma(dev, p[1]));
	KUNIT_EXPECT_EQ(test, t->maps, fast ? 1 : 2);
	phyr_dma_map_destroy(map);
	/* BEHAVIOURS: M1: unmapped when, and only when, the device needs it */
	if (dma_need_unmap(dev))
		phyr_dma_expect_balanced(test);
	else
		KUNIT_EXPECT_EQ(test, t->unmaps, 0);
}

static struct kunit_case phyr_dma_test_cases[] = {
	KUNIT_CASE(phyr_dma_test_ram_map),
	KUNIT_CASE(phyr_dma_test_private),
	KUNIT_CASE(phyr_dma_test_iter_list),
	KUNIT_CASE(phyr_dma_test_bound),
	KUNIT_CASE(phyr_dma_test_mask),
	KUNIT_CASE(phyr_dma_test_limits),
	KUNIT_CASE(phyr_dma_test_sgt),
	KUNIT_CASE(phyr_dma_test_sgt_bus_addr),
	KUNIT_CASE(phyr_dma_test_one_iova),
	KUNIT_CASE(phyr_dma_test_sgt_private),
	KUNIT_CASE(phyr_dma_test_dma_mapped),
	KUNIT_CASE(phyr_dma_test_8g),
	KUNIT_CASE(phyr_dma_test_page_aligned),
	KUNIT_CASE(phyr_dma_test_cc_private),
	KUNIT_CASE(phyr_dma_test_iter_error_state),
	KUNIT_CASE(phyr_dma_test_direct),
	KUNIT_CASE(phyr_dma_test_direct_sync),
	KUNIT_CASE(phyr_dma_test_direct_mask),
	{}
};

static struct kunit_suite phyr_dma_test_suite = {
	.name = "phyr_dma",
	.init = phyr_dma_test_init,
	.exit = phyr_dma_test_exit,
	.test_cases = phyr_dma_test_cases,
};

kunit_test_suite(phyr_dma_test_suite);
