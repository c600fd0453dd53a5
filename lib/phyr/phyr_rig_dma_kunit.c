// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests of the DMA pieces phyr maps with, on the real devices of the
 * project's QEMU rig (tools/testing/phyr/qemu_configs/phyr_rig.py): the P2P
 * map type of a (provider, client) pair, one IOVA for many ranges under
 * intel-iommu with its IOTLB flushes counted, and the rig's edu DMA
 * engines copying data through such mappings.
 *
 * The rig boots twice (tools/testing/phyr/check.sh): once with intel-iommu
 * translating, once with swiotlb=force and an identity domain. A test
 * that needs one of them skips in the other and says why.
 *
 * Lines starting with "phyr-rig: " are for the human report
 * (tools/testing/phyr/report.sh).
 */

#include <kunit/device.h>
#include <kunit/test.h>
#include <linux/bvec.h>
#include <linux/dma-buf.h>
#include <linux/dma-buf-mapping.h>
#include <linux/dma-mapping.h>
#include <linux/dma-resv.h>
#include <linux/io.h>
#include <linux/iommu.h>
#include <linux/iopoll.h>
#include <linux/kprobes.h>
#include <linux/mm.h>
#include <linux/pci.h>
#include <linux/pci-p2pdma.h>
#include <linux/phyr.h>
#include <linux/phyr-dma.h>
#include <linux/scatterlist.h>
#include <linux/sizes.h>
#include <linux/swiotlb.h>

#include "phyr_rig_common.h"

/*
 * QEMU's edu device (docs/specs/edu.rst in QEMU): BAR 0 holds registers; a
 * DMA copies between a bus address and the device's 4 KiB buffer, which
 * sits at device address 0x40000. QEMU only looks at the low 28 bits of a
 * bus address, so the tests set that DMA mask and check every address.
 */
#define PCI_VENDOR_ID_EDU	0x1234
#define PCI_DEVICE_ID_EDU	0x11e8
#define EDU_REG_IDENT		0x00
#define EDU_IDENT_MAGIC		0xed
#define EDU_REG_DMA_SRC		0x80
#define EDU_REG_DMA_DST		0x88
#define EDU_REG_DMA_COUNT	0x90
#define EDU_REG_DMA_CMD		0x98
#define EDU_CMD_START		BIT(0)
#define EDU_CMD_TO_RAM		BIT(1)
#define EDU_BUF_ADDR		0x40000
#define EDU_BUF_LEN		SZ_4K
/*
 * QEMU 7.2's edu refuses (hw_error(), which kills QEMU) a DMA that ends at
 * the very end of its buffer: it wants the end strictly inside. Copy in
 * 2 KiB chunks, each of which still crosses a boundary between two pieces.
 */
#define EDU_DMA_CHUNK		SZ_2K
#define EDU_DMA_MASK		DMA_BIT_MASK(28)
/* QEMU runs an edu DMA 100 ms (virtual time) after the start command. */
#define EDU_DMA_TIMEOUT_US	(5 * USEC_PER_SEC)

/* True when @dev is translated by iommu-dma (not identity, not direct). */
static bool rig_behind_iommu_dma(struct device *dev)
{
	struct iommu_domain *domain = iommu_get_domain_for_dev(dev);

	return domain && iommu_is_dma_domain(domain);
}

/* The edu under the PCIe switch, or the one on its own root port. */
static struct pci_dev *rig_get_edu(struct kunit *test, bool under_switch)
{
	struct pci_dev *pdev = NULL;

	while ((pdev = pci_get_device(PCI_VENDOR_ID_EDU, PCI_DEVICE_ID_EDU,
				      pdev))) {
		struct pci_dev *up = pci_upstream_bridge(pdev);
		bool switched = up && pci_pcie_type(up) == PCI_EXP_TYPE_DOWNSTREAM;

		if (switched == under_switch)
			return phyr_rig_hold(test, pdev);
	}
	kunit_skip(test, "no edu device (PCI 1234:11e8) %s: not in the rig",
		   under_switch ? "under a switch" : "on a root port");
	return NULL;
}

static const char *rig_map_type_name(enum phyr_map_type type)
{
	switch (type) {
	case PHYR_MAP_NOT_SUPPORTED:
		return "NOT_SUPPORTED";
	case PHYR_MAP_DMA:
		return "DMA";
	case PHYR_MAP_BUS_ADDR:
		return "BUS_ADDR";
	case PHYR_MAP_THRU_HOST_BRIDGE:
		return "THRU_HOST_BRIDGE";
	case PHYR_MAP_PRIVATE:
		return "PRIVATE";
	}
	return "?";
}

static void rig_expect_map_type(struct kunit *test,
				const struct phyr_provider *provider,
				struct device *client, enum phyr_map_type want)
{
	const char *owner = dev_name(provider->p2p->owner);
	enum phyr_map_type got;

	got = phyr_dma_map_type(provider, client, 0);
	rig_info(test, "map type %s -> %s: %s", owner, dev_name(client),
		 rig_map_type_name(got));
	KUNIT_EXPECT_EQ_MSG(test, got, want, "%s -> %s: got %s, want %s",
			    owner, dev_name(client), rig_map_type_name(got),
			    rig_map_type_name(want));
}

/* A P2P provider for BAR @bar of @pdev (P2PDMA registered on the way). */
static struct phyr_provider *rig_bar_provider(struct kunit *test,
					      struct pci_dev *pdev, int bar)
{
	struct phyr_provider *prov = kunit_kzalloc(test, sizeof(*prov),
						   GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, prov);
	KUNIT_ASSERT_EQ(test, phyr_provider_init_pci_bar(prov, pdev, bar), 0);
	return prov;
}

static u32 rig_zero_word(u64 bar_off, u64 off)
{
	return 0;
}

/* The P2P provider of the BAR holding the NVMe's CMB. */
static struct phyr_provider *rig_cmb_provider(struct kunit *test,
					      struct pci_dev *nvme)
{
	int bar;

	phyr_rig_p2pmem_alloc(test, nvme, PAGE_SIZE, rig_zero_word, &bar);
	return rig_bar_provider(test, nvme, bar);
}

static void phyr_rig_dma_map_type(struct kunit *test)
{
	struct pci_dev *nvme = phyr_rig_get_nvme(test);
	struct pci_dev *ivshmem = phyr_rig_find_ivshmem(test);
	struct pci_dev *edu_sw = rig_get_edu(test, true);
	struct pci_dev *edu_rp = rig_get_edu(test, false);
	struct phyr_provider *cmb, *bar, unregistered;
	struct p2pdma_provider fake;
	struct device *kdev;

	cmb = rig_cmb_provider(test, nvme);
	/* BEHAVIOURS: M2, E4 (NVMe CMB and edu under one switch) */
	rig_expect_map_type(test, cmb, &edu_sw->dev, PHYR_MAP_BUS_ADDR);
	/* BEHAVIOURS: M3, E4 (across the host bridge) */
	rig_expect_map_type(test, cmb, &edu_rp->dev,
			    PHYR_MAP_THRU_HOST_BRIDGE);

	/*
	 * Upstream's opt-in: a BAR of a device that never registered its
	 * P2PDMA state (pcim_p2pdma_init()) is reachable by nobody.
	 */
	if (!rcu_access_pointer(ivshmem->p2pdma)) {
		fake = (struct p2pdma_provider){ .owner = &ivshmem->dev };
		phyr_provider_init_p2p(&unregistered, &fake);
		rig_expect_map_type(test, &unregistered, &edu_sw->dev,
				    PHYR_MAP_NOT_SUPPORTED);
	}
	/* BEHAVIOURS: M2 */
	bar = rig_bar_provider(test, ivshmem, PHYR_RIG_IVSHMEM_BAR);
	rig_expect_map_type(test, bar, &edu_sw->dev, PHYR_MAP_BUS_ADDR);
	rig_expect_map_type(test, bar, &edu_rp->dev, PHYR_MAP_THRU_HOST_BRIDGE);
	/* Decided once, then upstream's cache answers. */
	rig_expect_map_type(test, bar, &edu_rp->dev, PHYR_MAP_THRU_HOST_BRIDGE);

	/* BEHAVIOURS: M4 (a client that cannot reach a PCI BAR at all) */
	kdev = kunit_device_register(test, "phyr-rig-dma");
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, kdev);
	rig_expect_map_type(test, cmb, kdev, PHYR_MAP_NOT_SUPPORTED);
	rig_expect_map_type(test, bar, kdev, PHYR_MAP_NOT_SUPPORTED);
}

/*
 * IOTLB flushes, counted where intel-iommu does them: iotlb_sync_map
 * (needed in caching mode, as in the rig) flushes through
 * cache_tag_flush_range_np(), iotlb_sync through cache_tag_flush_range().
 * Only calls made by the test's own task, outside softirq, count, so that
 * another task's DMA cannot change the numbers, nor can the flush queue's
 * timer, which flushes in softirq context, perhaps on the test's CPU and
 * while it is current (the rig's other devices are idle: no interrupt
 * handler maps or unmaps). Not in_task(): a kprobe handler runs in the
 * int3 trap's NMI-like context, which keeps the softirq count of the
 * context it interrupted.
 */
static struct task_struct *rig_flush_task;
static atomic_t rig_map_flushes, rig_unmap_flushes;

static int rig_map_flush_pre(struct kprobe *kp, struct pt_regs *regs)
{
	if (!in_serving_softirq() && current == READ_ONCE(rig_flush_task))
		atomic_inc(&rig_map_flushes);
	return 0;
}

static int rig_unmap_flush_pre(struct kprobe *kp, struct pt_regs *regs)
{
	if (!in_serving_softirq() && current == READ_ONCE(rig_flush_task))
		atomic_inc(&rig_unmap_flushes);
	return 0;
}

/*
 * The prot of the last IOMMU map of the test's task, where every map of
 * 7.3 goes (dma_iova_link() and iommu_dma_map_phys() alike), and what the
 * last dma_iova_destroy() was asked to unlink.
 */
static int rig_map_prot;
static unsigned long rig_destroy_attrs;
static size_t rig_destroy_len;

static int rig_map_pages_pre(struct kprobe *kp, struct pt_regs *regs)
{
	if (current == READ_ONCE(rig_flush_task))
		WRITE_ONCE(rig_map_prot, regs_get_kernel_argument(regs, 4));
	return 0;
}

static int rig_destroy_pre(struct kprobe *kp, struct pt_regs *regs)
{
	if (current == READ_ONCE(rig_flush_task)) {
		WRITE_ONCE(rig_destroy_len, regs_get_kernel_argument(regs, 2));
		WRITE_ONCE(rig_destroy_attrs, regs_get_kernel_argument(regs, 4));
	}
	return 0;
}

static struct kprobe rig_map_pages_probe = {
	.symbol_name = "iommu_map_nosync",
	.pre_handler = rig_map_pages_pre,
};

static struct kprobe rig_destroy_probe = {
	.symbol_name = "dma_iova_destroy",
	.pre_handler = rig_destroy_pre,
};

static struct kprobe rig_map_flush_probe = {
	.symbol_name = "cache_tag_flush_range_np",
	.pre_handler = rig_map_flush_pre,
};

static struct kprobe rig_unmap_flush_probe = {
	.symbol_name = "cache_tag_flush_range",
	.pre_handler = rig_unmap_flush_pre,
};

static void rig_flush_probes_off(void *unused)
{
	WRITE_ONCE(rig_flush_task, NULL);
	unregister_kprobe(&rig_destroy_probe);
	unregister_kprobe(&rig_map_pages_probe);
	unregister_kprobe(&rig_unmap_flush_probe);
	unregister_kprobe(&rig_map_flush_probe);
}

static struct kprobe *const rig_probes[] = {
	&rig_map_flush_probe, &rig_unmap_flush_probe, &rig_map_pages_probe,
	&rig_destroy_probe,
};

static void rig_flush_probes_on(struct kunit *test)
{
	unsigned int i;
	int ret = 0;

	if (!IS_ENABLED(CONFIG_KPROBES) || !IS_ENABLED(CONFIG_INTEL_IOMMU))
		kunit_skip(test, "needs CONFIG_KPROBES and CONFIG_INTEL_IOMMU");
	for (i = 0; i < ARRAY_SIZE(rig_probes); i++) {
		/* A kprobe is registered afresh from a clean struct. */
		rig_probes[i]->addr = NULL;
		rig_probes[i]->flags = 0;
		ret = register_kprobe(rig_probes[i]);
		if (ret)
			break;
	}
	if (ret)
		while (i--)
			unregister_kprobe(rig_probes[i]);
	KUNIT_ASSERT_EQ_MSG(test, ret, 0, "kprobe %s",
			    rig_probes[i]->symbol_name);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test,
							rig_flush_probes_off,
							NULL), 0);
	atomic_set(&rig_map_flushes, 0);
	atomic_set(&rig_unmap_flushes, 0);
	WRITE_ONCE(rig_map_prot, 0);
	WRITE_ONCE(rig_destroy_len, 0);
	WRITE_ONCE(rig_destroy_attrs, 0);
	WRITE_ONCE(rig_flush_task, current);
}

/* Read and reset both counters. */
static void rig_flushes(unsigned int *map, unsigned int *unmap)
{
	*map = atomic_xchg(&rig_map_flushes, 0);
	*unmap = atomic_xchg(&rig_unmap_flushes, 0);
}

static void rig_free_pages(void *page)
{
	__free_pages(page, 1);
}

/*
 * A RAM page that is physically contiguous with no other page the test
 * gets: the second page of an order-1 block whose first page stays unused.
 * Filled with @fill.
 */
static struct page *rig_lone_page(struct kunit *test, u8 fill)
{
	struct page *block = alloc_pages(GFP_KERNEL, 1);

	KUNIT_ASSERT_NOT_NULL(test, block);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, rig_free_pages,
							block), 0);
	memset(page_address(block + 1), fill, PAGE_SIZE);
	return block + 1;
}

#define RIG_IOVA_PAGES	8

/*
 * One IOVA for discontiguous pages: one map flush and one unmap flush for
 * the whole mapping, where dma_map_page() per page costs one of each per
 * page; every page lands at its offset in the IOVA.
 */
static void phyr_rig_dma_iova_flushes(struct kunit *test)
{
	struct pci_dev *edu = rig_get_edu(test, true);
	struct device *dev = &edu->dev;
	struct page *pages[RIG_IOVA_PAGES];
	dma_addr_t dma_addrs[RIG_IOVA_PAGES];
	struct dma_iova_state state = {};
	struct iommu_domain *domain;
	unsigned int map, unmap, i;
	bool lazy;
	dma_addr_t iova;
	const size_t len = RIG_IOVA_PAGES * PAGE_SIZE;

	if (!rig_behind_iommu_dma(dev))
		kunit_skip(test, "%s is not translated by iommu-dma in this boot",
			   pci_name(edu));
	domain = iommu_get_domain_for_dev(dev);
	/*
	 * The rig's VT-d is in caching mode, which forces strict
	 * invalidation; kunit-rig.sh --lazy boots one without caching mode
	 * and with iommu.strict=0, where the domain has a flush queue.
	 */
	lazy = domain->type == IOMMU_DOMAIN_DMA_FQ;
	for (i = 0; i < RIG_IOVA_PAGES; i++)
		pages[i] = rig_lone_page(test, i);
	rig_flush_probes_on(test);

	/* The baseline: the DMA API, one page at a time. */
	for (i = 0; i < RIG_IOVA_PAGES; i++) {
		dma_addrs[i] = dma_map_page(dev, pages[i], 0, PAGE_SIZE,
					    DMA_BIDIRECTIONAL);
		KUNIT_ASSERT_FALSE(test, dma_mapping_error(dev, dma_addrs[i]));
	}
	rig_flushes(&map, &unmap);
	for (i = 0; i < RIG_IOVA_PAGES; i++)
		dma_unmap_page(dev, dma_addrs[i], PAGE_SIZE, DMA_BIDIRECTIONAL);
	rig_flushes(&i, &unmap);
	map += i;
	rig_info(test, "IOTLB flushes, %d discontiguous pages, dma_map_page() each: %u to map, %u to unmap",
		 RIG_IOVA_PAGES, map, unmap);
	/*
	 * In caching mode every map is flushed; in lazy mode neither maps
	 * (no caching mode) nor unmaps (the flush queue) are.
	 */
	KUNIT_EXPECT_EQ(test, map, lazy ? 0 : RIG_IOVA_PAGES);
	KUNIT_EXPECT_EQ(test, unmap, lazy ? 0 : RIG_IOVA_PAGES);

	/* BEHAVIOURS: M6 */
	KUNIT_ASSERT_TRUE(test, dma_iova_try_alloc(dev, &state,
						   page_to_phys(pages[0]),
						   len));
	KUNIT_ASSERT_TRUE(test, dma_use_iova(&state));
	for (i = 0; i < RIG_IOVA_PAGES; i++)
		KUNIT_ASSERT_EQ(test, dma_iova_link(dev, &state,
						    page_to_phys(pages[i]),
						    i * PAGE_SIZE, PAGE_SIZE,
						    DMA_BIDIRECTIONAL, 0), 0);
	rig_flushes(&map, &unmap);
	KUNIT_EXPECT_EQ_MSG(test, map, 0, "dma_iova_link() must not flush");
	/* RAM of a coherent device: cached, not MMIO. */
	KUNIT_EXPECT_EQ(test, READ_ONCE(rig_map_prot) &
			(IOMMU_CACHE | IOMMU_MMIO | IOMMU_READ | IOMMU_WRITE),
			IOMMU_CACHE | IOMMU_READ | IOMMU_WRITE);
	KUNIT_EXPECT_EQ(test, dma_iova_sync(dev, &state, 0, len), 0);
	rig_flushes(&i, &unmap);
	map += i;

	for (i = 0; i < RIG_IOVA_PAGES; i++) {
		phys_addr_t want = page_to_phys(pages[i]) + 123;

		iova = state.addr + i * PAGE_SIZE + 123;
		KUNIT_EXPECT_EQ_MSG(test, iommu_iova_to_phys(domain, iova), want,
				    "page %u at IOVA %pad", i, &iova);
	}

	iova = state.addr;
	dma_iova_destroy(dev, &state, len, DMA_BIDIRECTIONAL, 0);
	rig_flushes(&i, &unmap);
	map += i;
	rig_info(test, "IOTLB flushes, %d discontiguous pages, one IOVA (dma_iova_*), %s: %u to map, %u to unmap",
		 RIG_IOVA_PAGES, lazy ? "lazy" : "strict", map, unmap);
	/*
	 * One sync per map in caching mode, one flush on destroy; in lazy
	 * mode dma_iova_destroy() leaves it to the flush queue, as the
	 * DMA API's unmaps do (iommu-dma-iova-destroy-flush-queue.patch).
	 */
	KUNIT_EXPECT_EQ(test, map, lazy ? 0 : 1);
	KUNIT_EXPECT_EQ(test, unmap, lazy ? 0 : 1);
	/* Upstream's dma_iova_destroy() leaves @state as it was: clear it. */
	for (i = 0; i < RIG_IOVA_PAGES; i++)
		KUNIT_EXPECT_EQ(test, iommu_iova_to_phys(domain,
							 iova + i * PAGE_SIZE),
				0);
}

/* What dma_iova_try_alloc() refuses in any boot. */
static void phyr_rig_dma_iova_refused(struct kunit *test)
{
	struct dma_iova_state state = { .addr = 1, .__size = 1 };
	struct page *page = rig_lone_page(test, 0);
	struct device *kdev;

	/* A device with no IOMMU uses dma-direct. */
	kdev = kunit_device_register(test, "phyr-rig-dma");
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, kdev);
	KUNIT_EXPECT_FALSE(test, dma_iova_try_alloc(kdev, &state,
						    page_to_phys(page),
						    PAGE_SIZE));
	KUNIT_EXPECT_EQ(test, state.addr, 0);
	KUNIT_EXPECT_FALSE(test, dma_use_iova(&state));
	/* (Upstream WARNs on a size of 0: phyr never asks for one.) */
}

/* An edu enabled for DMA, its registers mapped; undone when the test ends. */
struct rig_edu {
	struct pci_dev	*pdev;
	void __iomem	*regs;
};

static void rig_edu_release(void *data)
{
	struct rig_edu *edu = data;

	pci_iounmap(edu->pdev, edu->regs);
	pci_clear_master(edu->pdev);
	pci_disable_device(edu->pdev);
	dma_set_mask_and_coherent(&edu->pdev->dev, DMA_BIT_MASK(32));
}

static struct rig_edu *rig_edu_enable(struct kunit *test,
				      struct pci_dev *pdev)
{
	struct rig_edu *edu = kunit_kzalloc(test, sizeof(*edu), GFP_KERNEL);
	u32 ident;

	KUNIT_ASSERT_NOT_NULL(test, edu);
	edu->pdev = pdev;
	KUNIT_ASSERT_EQ(test, dma_set_mask_and_coherent(&pdev->dev,
							EDU_DMA_MASK), 0);
	/* No driver binds edu: enable it for the test. */
	KUNIT_ASSERT_EQ(test, pci_enable_device(pdev), 0);
	edu->regs = pci_iomap(pdev, 0, 0);
	if (!edu->regs) {
		pci_disable_device(pdev);
		KUNIT_FAIL_AND_ABORT(test, "%s: pci_iomap(BAR 0) failed",
				     pci_name(pdev));
	}
	pci_set_master(pdev);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, rig_edu_release,
							edu), 0);
	ident = readl(edu->regs + EDU_REG_IDENT);
	KUNIT_ASSERT_EQ_MSG(test, ident & 0xff, EDU_IDENT_MAGIC,
			    "%s: edu identification %#x", pci_name(pdev),
			    ident);
	return edu;
}

/*
 * One edu DMA of @len bytes between bus address @dma_addr and @buf_off in
 * the edu's buffer; to RAM if @to_ram. Every address is checked against
 * the 28-bit range QEMU's edu handles before it is programmed.
 */
static int rig_edu_dma(struct kunit *test, struct rig_edu *edu,
		       dma_addr_t dma_addr, size_t buf_off, size_t len,
		       bool to_ram)
{
	u64 buf = EDU_BUF_ADDR + buf_off;
	u64 cmd;
	int ret;

	if (!len || buf_off >= EDU_BUF_LEN || len >= EDU_BUF_LEN - buf_off ||
	    dma_addr > EDU_DMA_MASK || len - 1 > EDU_DMA_MASK - dma_addr) {
		KUNIT_FAIL(test, "edu DMA %pad + %zu out of the edu's range",
			   &dma_addr, len);
		return -ERANGE;
	}
	writeq(to_ram ? buf : dma_addr, edu->regs + EDU_REG_DMA_SRC);
	writeq(to_ram ? dma_addr : buf, edu->regs + EDU_REG_DMA_DST);
	writeq(len, edu->regs + EDU_REG_DMA_COUNT);
	writeq(EDU_CMD_START | (to_ram ? EDU_CMD_TO_RAM : 0),
	       edu->regs + EDU_REG_DMA_CMD);
	ret = readq_poll_timeout(edu->regs + EDU_REG_DMA_CMD, cmd,
				 !(cmd & EDU_CMD_START), 10 * USEC_PER_MSEC,
				 EDU_DMA_TIMEOUT_US);
	KUNIT_EXPECT_EQ_MSG(test, ret, 0, "%s: edu DMA did not complete",
			    pci_name(edu->pdev));
	return ret;
}

/*
 * A buffer of discontiguous pieces mapped into one IOVA: pieces[i] is
 * len[i] bytes at offset off[i] of its own page. Pieces after the first
 * start on a page, pieces before the last end on one.
 */
#define RIG_EDU_PIECES	3

struct rig_iova_buf {
	struct page		*pages[RIG_EDU_PIECES];
	const size_t		*off;
	const size_t		*len;
	size_t			total;
	struct dma_iova_state	state;
};

static const size_t rig_src_off[RIG_EDU_PIECES] = { 3072, 0, 0 };
static const size_t rig_src_len[RIG_EDU_PIECES] = { 1024, PAGE_SIZE, 2048 };
static const size_t rig_dst_off[RIG_EDU_PIECES] = { 2048, 0, 0 };
static const size_t rig_dst_len[RIG_EDU_PIECES] = { 2048, PAGE_SIZE, 1024 };

static u8 rig_byte(size_t i)
{
	return (i * 131 + 7) ^ (i >> 8);
}

static void rig_iova_buf_fill(struct kunit *test, struct rig_iova_buf *buf,
			      const size_t *off, const size_t *len, bool src)
{
	size_t pos = 0, j;
	unsigned int i;

	buf->off = off;
	buf->len = len;
	for (i = 0; i < RIG_EDU_PIECES; i++) {
		u8 *va;

		buf->pages[i] = rig_lone_page(test, 0xa5);
		va = page_address(buf->pages[i]) + off[i];
		if (src)
			for (j = 0; j < len[i]; j++)
				va[j] = rig_byte(pos + j);
		pos += len[i];
	}
	buf->total = pos;
}

static int rig_iova_buf_map(struct kunit *test, struct device *dev,
			    struct rig_iova_buf *buf,
			    enum dma_data_direction dir)
{
	size_t pos = 0;
	unsigned int i;
	int ret;

	if (!dma_iova_try_alloc(dev, &buf->state,
				page_to_phys(buf->pages[0]) + buf->off[0],
				buf->total))
		return -EOPNOTSUPP;
	for (i = 0; i < RIG_EDU_PIECES; i++) {
		ret = dma_iova_link(dev, &buf->state,
				    page_to_phys(buf->pages[i]) + buf->off[i],
				    pos, buf->len[i], dir, 0);
		if (ret) {
			dma_iova_destroy(dev, &buf->state, pos, dir, 0);
			return ret;
		}
		pos += buf->len[i];
	}
	ret = dma_iova_sync(dev, &buf->state, 0, buf->total);
	if (ret)
		dma_iova_destroy(dev, &buf->state, buf->total, dir, 0);
	return ret;
}

/* Byte @pos of @buf through the CPU. */
static u8 rig_iova_buf_byte(const struct rig_iova_buf *buf, size_t pos)
{
	unsigned int i;

	for (i = 0; pos >= buf->len[i]; i++)
		pos -= buf->len[i];
	return *((u8 *)page_address(buf->pages[i]) + buf->off[i] + pos);
}

/*
 * Enable @pdev's edu for the test and give it two buffers of RIG_EDU_PIECES
 * pieces: *@src holding rig_byte(), *@dst to copy into.
 */
static struct rig_edu *rig_edu_bufs(struct kunit *test, struct pci_dev *pdev,
				    struct rig_iova_buf **src,
				    struct rig_iova_buf **dst)
{
	struct rig_edu *edu = rig_edu_enable(test, pdev);

	*src = kunit_kzalloc(test, sizeof(**src), GFP_KERNEL);
	*dst = kunit_kzalloc(test, sizeof(**dst), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, *src);
	KUNIT_ASSERT_NOT_NULL(test, *dst);
	rig_iova_buf_fill(test, *src, rig_src_off, rig_src_len, true);
	rig_iova_buf_fill(test, *dst, rig_dst_off, rig_dst_len, false);
	return edu;
}

/*
 * Copy @len bytes from bus address @src to bus address @dst through the
 * edu's buffer, EDU_DMA_CHUNK at a time; stop at the first DMA that fails.
 */
static void rig_edu_copy_chunks(struct kunit *test, struct rig_edu *edu,
				dma_addr_t src, dma_addr_t dst, size_t len)
{
	size_t pos, n;

	for (pos = 0; pos < len; pos += n) {
		n = min_t(size_t, EDU_DMA_CHUNK, len - pos);
		if (rig_edu_dma(test, edu, src + pos, 0, n, false) ||
		    rig_edu_dma(test, edu, dst + pos, 0, n, true))
			break;
	}
}

/*
 * Copy src to dst through the edu's buffer, EDU_DMA_CHUNK at a time: the
 * DMAs at IOVA offsets 0 and 4096 each cross a boundary between two
 * pieces, so the device really walks the one IOVA across them.
 */
static void rig_edu_copy(struct kunit *test, struct pci_dev *pdev)
{
	struct rig_iova_buf *src, *dst;
	struct rig_edu *edu;
	size_t pos, bad = 0, first_bad = 0;

	if (!rig_behind_iommu_dma(&pdev->dev))
		kunit_skip(test, "%s is not translated by iommu-dma in this boot",
			   pci_name(pdev));
	edu = rig_edu_bufs(test, pdev, &src, &dst);
	KUNIT_ASSERT_EQ(test, src->total, dst->total);

	KUNIT_ASSERT_EQ(test, rig_iova_buf_map(test, &pdev->dev, src,
					       DMA_TO_DEVICE), 0);
	if (rig_iova_buf_map(test, &pdev->dev, dst, DMA_FROM_DEVICE)) {
		dma_iova_destroy(&pdev->dev, &src->state, src->total,
				 DMA_TO_DEVICE, 0);
		KUNIT_FAIL_AND_ABORT(test, "mapping the destination failed");
	}
	rig_info(test, "edu %s: %zu bytes in %d pieces at IOVA %pad -> edu -> %d pieces at IOVA %pad",
		 pci_name(pdev), src->total, RIG_EDU_PIECES, &src->state.addr,
		 RIG_EDU_PIECES, &dst->state.addr);

	rig_edu_copy_chunks(test, edu, src->state.addr, dst->state.addr,
			    src->total);

	dma_iova_destroy(&pdev->dev, &dst->state, dst->total, DMA_FROM_DEVICE,
			 0);
	dma_iova_destroy(&pdev->dev, &src->state, src->total, DMA_TO_DEVICE,
			 0);

	for (pos = 0; pos < dst->total; pos++) {
		if (rig_iova_buf_byte(dst, pos) == rig_byte(pos))
			continue;
		if (!bad++)
			first_bad = pos;
	}
	rig_info(test, "edu %s: %zu bytes copied through the IOMMU, %zu wrong",
		 pci_name(pdev), dst->total, bad);
	KUNIT_EXPECT_EQ_MSG(test, bad, 0,
			    "first wrong byte at %zu: %#x, want %#x", first_bad,
			    rig_iova_buf_byte(dst, first_bad),
			    rig_byte(first_bad));
}

/* BEHAVIOURS: M13 (the edu under the switch) */
static void phyr_rig_dma_edu_switch(struct kunit *test)
{
	rig_edu_copy(test, rig_get_edu(test, true));
}

/* BEHAVIOURS: M13 (the edu on its own root port) */
static void phyr_rig_dma_edu_root_port(struct kunit *test)
{
	rig_edu_copy(test, rig_get_edu(test, false));
}

/* The word at byte @off of P2PDMA memory holding rig_byte(0..len-1). */
static u32 rig_byte_word(u64 bar_off, u64 off)
{
	return rig_byte(off) | rig_byte(off + 1) << 8 |
	       rig_byte(off + 2) << 16 | (u32)rig_byte(off + 3) << 24;
}

#define RIG_MMIO_LEN	EDU_DMA_CHUNK

/*
 * Have the edu read RIG_MMIO_LEN bytes at bus address @addr, which holds
 * rig_byte(), and write them to a RAM page; return how many came out wrong.
 */
static size_t rig_edu_read_mmio(struct kunit *test, struct rig_edu *edu,
				dma_addr_t addr)
{
	struct page *page = rig_lone_page(test, 0xa5);
	struct device *dev = &edu->pdev->dev;
	size_t i, bad = 0;
	dma_addr_t ram;
	u8 *va;

	ram = dma_map_page(dev, page, 0, PAGE_SIZE, DMA_FROM_DEVICE);
	KUNIT_EXPECT_FALSE(test, dma_mapping_error(dev, ram));
	if (!dma_mapping_error(dev, ram)) {
		if (!rig_edu_dma(test, edu, addr, 0, RIG_MMIO_LEN, false))
			rig_edu_dma(test, edu, ram, 0, RIG_MMIO_LEN, true);
		dma_unmap_page(dev, ram, PAGE_SIZE, DMA_FROM_DEVICE);
	}

	va = page_address(page);
	for (i = 0; i < RIG_MMIO_LEN; i++)
		bad += va[i] != rig_byte(i);
	return bad;
}

/*
 * The other way: have the edu write RIG_MMIO_LEN bytes of the complement
 * of rig_byte(), taken from a RAM page, to bus address @addr, and return
 * how many of them the CPU does not read at @cpu, its own kernel mapping
 * of the memory @addr was mapped from. The mapping must let the device
 * write (DMA_BIDIRECTIONAL or DMA_FROM_DEVICE).
 */
static size_t rig_edu_write_mmio(struct kunit *test, struct rig_edu *edu,
				 dma_addr_t addr, const u8 *cpu)
{
	struct page *page = rig_lone_page(test, 0);
	struct device *dev = &edu->pdev->dev;
	size_t i, bad = 0;
	dma_addr_t ram;
	u8 *va;

	va = page_address(page);
	for (i = 0; i < RIG_MMIO_LEN; i++)
		va[i] = ~rig_byte(i);
	ram = dma_map_page(dev, page, 0, PAGE_SIZE, DMA_TO_DEVICE);
	KUNIT_EXPECT_FALSE(test, dma_mapping_error(dev, ram));
	if (dma_mapping_error(dev, ram))
		return RIG_MMIO_LEN;
	if (!rig_edu_dma(test, edu, ram, 0, RIG_MMIO_LEN, false))
		rig_edu_dma(test, edu, addr, 0, RIG_MMIO_LEN, true);
	dma_unmap_page(dev, ram, PAGE_SIZE, DMA_TO_DEVICE);

	for (i = 0; i < RIG_MMIO_LEN; i++)
		bad += READ_ONCE(cpu[i]) != (u8)~rig_byte(i);
	return bad;
}

/*
 * P2P through the host bridge: the NVMe CMB linked into an IOVA of the edu
 * on its own root port as MMIO (IOMMU_MMIO, not IOMMU_CACHE, seen at the
 * VT-d driver), then the edu reads the CMB through that IOVA and writes
 * what it read to RAM.
 */
static void phyr_rig_dma_mmio_host_bridge(struct kunit *test)
{
	struct pci_dev *nvme = phyr_rig_get_nvme(test);
	struct pci_dev *pdev = rig_get_edu(test, false);
	struct dma_iova_state state = {};
	struct device *dev = &pdev->dev;
	phys_addr_t paddr;
	struct rig_edu *edu;
	size_t bad;
	int prot;

	KUNIT_ASSERT_EQ(test, phyr_dma_map_type(rig_cmb_provider(test, nvme),
						dev, 0),
			PHYR_MAP_THRU_HOST_BRIDGE);
	if (!rig_behind_iommu_dma(dev))
		kunit_skip(test, "%s is not translated by iommu-dma in this boot",
			   pci_name(pdev));
	edu = rig_edu_enable(test, pdev);
	paddr = phyr_rig_p2pmem_alloc(test, nvme, RIG_MMIO_LEN,
				      rig_byte_word, NULL);
	rig_flush_probes_on(test);

	/* BEHAVIOURS: M3, E4 */
	KUNIT_ASSERT_TRUE(test, dma_iova_try_alloc(dev, &state, paddr,
						   RIG_MMIO_LEN));
	KUNIT_ASSERT_EQ(test, dma_iova_link(dev, &state, paddr, 0, RIG_MMIO_LEN,
					    DMA_BIDIRECTIONAL, DMA_ATTR_MMIO),
			0);
	prot = READ_ONCE(rig_map_prot);
	KUNIT_EXPECT_EQ(test, dma_iova_sync(dev, &state, 0, RIG_MMIO_LEN), 0);
	rig_info(test, "NVMe CMB %pap -> edu %s through the host bridge: IOVA %pad, prot %#x%s%s",
		 &paddr, pci_name(pdev), &state.addr, prot,
		 prot & IOMMU_MMIO ? " MMIO" : "",
		 prot & IOMMU_CACHE ? " CACHE" : "");
	KUNIT_EXPECT_TRUE(test, prot & IOMMU_MMIO);
	KUNIT_EXPECT_FALSE(test, prot & IOMMU_CACHE);
	KUNIT_EXPECT_EQ(test, iommu_iova_to_phys(iommu_get_domain_for_dev(dev),
						 state.addr + 100),
			paddr + 100);

	bad = rig_edu_read_mmio(test, edu, state.addr);
	rig_info(test, "edu %s read %d bytes of the NVMe CMB through the IOMMU, %zu wrong",
		 pci_name(pdev), RIG_MMIO_LEN, bad);
	KUNIT_EXPECT_EQ(test, bad, 0);
	/* BEHAVIOURS: M3 (writes through the mapping land in the CMB) */
	bad = rig_edu_write_mmio(test, edu, state.addr, phys_to_virt(paddr));
	dma_iova_destroy(dev, &state, RIG_MMIO_LEN, DMA_BIDIRECTIONAL,
			 DMA_ATTR_MMIO);
	rig_info(test, "edu %s wrote %d bytes to the NVMe CMB through the IOMMU, %zu not read back by the CPU",
		 pci_name(pdev), RIG_MMIO_LEN, bad);
	KUNIT_EXPECT_EQ(test, bad, 0);
}

/* Through phyr's own mapper (lib/phyr/dma.c), on the same devices. */

/*
 * Map [0, @len) of @phyr for @dev, check the segments are one contiguous
 * DMA range with @flags each, and return its first address.
 */
static struct phyr_dma_map *rig_phyr_map(struct kunit *test,
					 const struct phyr *phyr, u64 len,
					 struct device *dev,
					 enum dma_data_direction dir,
					 u32 flags)
{
	struct phyr_dma_params params = { .dev = dev, .dir = dir };
	struct phyr_dma_map *map;
	unsigned int i;

	map = phyr_dma_map_create(phyr, 0, len, &params, GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, map);
	KUNIT_EXPECT_GE(test, map->nr_vecs, 1);
	for (i = 0; i < map->nr_vecs; i++) {
		KUNIT_EXPECT_EQ(test, map->vecs[i].flags, flags);
		if (i)
			KUNIT_EXPECT_EQ(test, map->vecs[i].dma_addr,
					map->vecs[i - 1].dma_addr +
					map->vecs[i - 1].len);
	}
	return map;
}

/*
 * A phyr of three discontiguous RAM pieces, mapped with
 * phyr_dma_map_create() for an edu behind intel-iommu: one IOVA, one IOTLB
 * flush, and the edu copies the bytes into a second such phyr.
 */
static void phyr_rig_dma_phyr_ram(struct kunit *test)
{
	struct pci_dev *pdev = rig_get_edu(test, true);
	struct device *dev = &pdev->dev;
	struct phyr_dma_map *src_map, *dst_map;
	struct rig_iova_buf *src, *dst;
	struct phyr *src_phyr, *dst_phyr;
	unsigned int i, map, unmap;
	size_t pos, bad = 0;
	struct rig_edu *edu;

	if (!rig_behind_iommu_dma(dev))
		kunit_skip(test, "%s is not translated by iommu-dma in this boot",
			   pci_name(pdev));
	KUNIT_EXPECT_EQ(test, phyr_dma_map_type(&phyr_provider_ram, dev, 0),
			PHYR_MAP_DMA);
	edu = rig_edu_bufs(test, pdev, &src, &dst);
	src_phyr = phyr_rig_phyr_alloc(test);
	dst_phyr = phyr_rig_phyr_alloc(test);
	for (i = 0; i < RIG_EDU_PIECES; i++) {
		KUNIT_ASSERT_EQ(test, phyr_append(src_phyr, &phyr_provider_ram,
						  PHYR_ATTRS_RAM,
						  page_to_phys(src->pages[i]) +
						  src->off[i], src->len[i],
						  GFP_KERNEL), 0);
		KUNIT_ASSERT_EQ(test, phyr_append(dst_phyr, &phyr_provider_ram,
						  PHYR_ATTRS_RAM,
						  page_to_phys(dst->pages[i]) +
						  dst->off[i], dst->len[i],
						  GFP_KERNEL), 0);
	}
	rig_flush_probes_on(test);

	/* BEHAVIOURS: M6, M13 (through phyr_dma_map_create()) */
	src_map = rig_phyr_map(test, src_phyr, src->total, dev, DMA_TO_DEVICE,
			       PHYR_DMA_VEC_IOVA);
	rig_flushes(&map, &unmap);
	KUNIT_EXPECT_EQ(test, map, 1);
	rig_info(test, "phyr of %d RAM pieces mapped for edu %s: %u segment(s) at IOVA %pad, %u IOTLB flush(es)",
		 RIG_EDU_PIECES, pci_name(pdev), src_map->nr_vecs,
		 &src_map->vecs[0].dma_addr, map);
	dst_map = rig_phyr_map(test, dst_phyr, dst->total, dev,
			       DMA_FROM_DEVICE, PHYR_DMA_VEC_IOVA);
	rig_flushes(&map, &unmap);
	KUNIT_EXPECT_EQ(test, map, 1);

	rig_edu_copy_chunks(test, edu, src_map->vecs[0].dma_addr,
			    dst_map->vecs[0].dma_addr, src->total);
	phyr_dma_map_destroy(dst_map);
	phyr_dma_map_destroy(src_map);
	rig_flushes(&map, &unmap);
	KUNIT_EXPECT_EQ(test, unmap, 2);

	for (pos = 0; pos < dst->total; pos++)
		bad += rig_iova_buf_byte(dst, pos) != rig_byte(pos);
	rig_info(test, "edu %s: %zu bytes copied through phyr mappings, %zu wrong",
		 pci_name(pdev), dst->total, bad);
	KUNIT_EXPECT_EQ(test, bad, 0);
}

/* A phyr of RIG_MMIO_LEN bytes of the NVMe CMB, holding rig_byte(). */
static struct phyr *rig_cmb_phyr(struct kunit *test, struct pci_dev *nvme,
				 struct phyr_provider **provp,
				 phys_addr_t *paddrp)
{
	struct phyr_provider *prov;
	struct phyr *phyr;
	phys_addr_t paddr;
	int bar;

	paddr = phyr_rig_p2pmem_alloc(test, nvme, RIG_MMIO_LEN, rig_byte_word,
				      &bar);
	prov = kunit_kzalloc(test, sizeof(*prov), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, prov);
	KUNIT_ASSERT_EQ(test, phyr_provider_init_pci_bar(prov, nvme, bar), 0);
	phyr = phyr_rig_phyr_alloc(test);
	KUNIT_ASSERT_EQ(test, phyr_append(phyr, prov, PHYR_ATTRS_MMIO, paddr,
					  RIG_MMIO_LEN, GFP_KERNEL), 0);
	*provp = prov;
	*paddrp = paddr;
	return phyr;
}

/*
 * A phyr of the NVMe CMB: bus addresses and no IOMMU call for the edu
 * under the switch; one MMIO mapping for the edu across the host bridge,
 * through which that edu reads the CMB's bytes.
 */
static void phyr_rig_dma_phyr_cmb(struct kunit *test)
{
	struct pci_dev *nvme = phyr_rig_get_nvme(test);
	struct pci_dev *sw = rig_get_edu(test, true);
	struct pci_dev *rp = rig_get_edu(test, false);
	struct phyr_provider *prov;
	struct phyr_dma_map *map;
	unsigned int flushes, unmap;
	struct rig_edu *edu;
	struct phyr *phyr;
	phys_addr_t paddr;
	size_t bad;

	if (!rig_behind_iommu_dma(&rp->dev))
		kunit_skip(test, "%s is not translated by iommu-dma in this boot",
			   pci_name(rp));
	edu = rig_edu_enable(test, rp);
	phyr = rig_cmb_phyr(test, nvme, &prov, &paddr);

	/* BEHAVIOURS: M2, E4 (bus addresses, no IOMMU call) */
	KUNIT_EXPECT_EQ(test, phyr_dma_map_type(prov, &sw->dev, 0),
			PHYR_MAP_BUS_ADDR);
	/* The CMB is above 4 GiB: let the mask pass it, no DMA is done. */
	KUNIT_ASSERT_EQ(test, dma_set_mask(&sw->dev, DMA_BIT_MASK(64)), 0);
	rig_flush_probes_on(test);
	map = rig_phyr_map(test, phyr, RIG_MMIO_LEN, &sw->dev, DMA_TO_DEVICE,
			   PHYR_DMA_VEC_BUS_ADDR);
	rig_flushes(&flushes, &unmap);
	KUNIT_EXPECT_EQ(test, flushes, 0);
	KUNIT_EXPECT_EQ(test, READ_ONCE(rig_map_prot), 0);
	KUNIT_EXPECT_EQ(test, map->vecs[0].dma_addr,
			(dma_addr_t)(paddr + prov->p2p->bus_offset));
	rig_info(test, "phyr of the NVMe CMB for edu %s: %s at %pad, no IOMMU call",
		 pci_name(sw), "bus address", &map->vecs[0].dma_addr);
	phyr_dma_map_destroy(map);
	dma_set_mask(&sw->dev, DMA_BIT_MASK(32));

	/* BEHAVIOURS: M3, E4 (through the host bridge, with data) */
	KUNIT_EXPECT_EQ(test, phyr_dma_map_type(prov, &rp->dev, 0),
			PHYR_MAP_THRU_HOST_BRIDGE);
	map = phyr_dma_map_create(phyr, 0, RIG_MMIO_LEN,
				  &(struct phyr_dma_params){
					.dev = &rp->dev,
					.dir = DMA_BIDIRECTIONAL },
				  GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, map);
	KUNIT_EXPECT_EQ(test, map->nr_vecs, 1);
	KUNIT_EXPECT_TRUE(test, READ_ONCE(rig_map_prot) & IOMMU_MMIO);
	KUNIT_EXPECT_FALSE(test, READ_ONCE(rig_map_prot) & IOMMU_CACHE);
	rig_info(test, "phyr of the NVMe CMB for edu %s: MMIO at %pad (flags %#x), prot %#x",
		 pci_name(rp), &map->vecs[0].dma_addr, map->vecs[0].flags,
		 READ_ONCE(rig_map_prot));

	bad = rig_edu_read_mmio(test, edu, map->vecs[0].dma_addr);
	rig_info(test, "edu %s read %d bytes of the CMB through a phyr mapping, %zu wrong",
		 pci_name(rp), RIG_MMIO_LEN, bad);
	KUNIT_EXPECT_EQ(test, bad, 0);
	bad = rig_edu_write_mmio(test, edu, map->vecs[0].dma_addr,
				 phys_to_virt(paddr));
	phyr_dma_map_destroy(map);
	rig_info(test, "edu %s wrote %d bytes to the CMB through a phyr mapping, %zu not read back by the CPU",
		 pci_name(rp), RIG_MMIO_LEN, bad);
	KUNIT_EXPECT_EQ(test, bad, 0);
}

/* A dma-buf whose only use is an attachment to map ranges for. */
static struct sg_table *rig_exp_map(struct dma_buf_attachment *attach,
				    enum dma_data_direction dir)
{
	return ERR_PTR(-EOPNOTSUPP);
}

static void rig_exp_unmap(struct dma_buf_attachment *attach,
			  struct sg_table *sgt, enum dma_data_direction dir)
{
}

static void rig_exp_release(struct dma_buf *dmabuf)
{
}

static const struct dma_buf_ops rig_exp_ops = {
	.map_dma_buf = rig_exp_map,
	.unmap_dma_buf = rig_exp_unmap,
	.release = rig_exp_release,
};

KUNIT_DEFINE_ACTION_WRAPPER(rig_dma_buf_put, dma_buf_put, struct dma_buf *);

static void rig_dma_buf_detach(void *data)
{
	struct dma_buf_attachment *attach = data;

	dma_buf_detach(attach->dmabuf, attach);
}

/*
 * Upstream's dma_buf_phys_vec_to_sgt(), which 7.3's vfio-pci exporter maps
 * its BAR ranges with for sg_table importers: two ranges of the NVMe CMB,
 * for the edu across the host bridge, go into one IOVA, each at its own
 * offset. 7.3.4 linked every range at offset 0, so the second one failed
 * with -EADDRINUSE (patches/dma-buf-mapping-iova-offset.patch).
 */
static void phyr_rig_dma_to_sgt_ranges(struct kunit *test)
{
	struct pci_dev *nvme = phyr_rig_get_nvme(test);
	struct pci_dev *rp = rig_get_edu(test, false);
	DEFINE_DMA_BUF_EXPORT_INFO(info);
	struct dma_buf_attachment *attach;
	struct p2pdma_provider *p2p;
	struct iommu_domain *domain;
	struct phys_vec ranges[2];
	struct dma_buf *dmabuf;
	struct sg_table *sgt;
	phys_addr_t paddr;
	dma_addr_t iova;
	int bar;

	if (!rig_behind_iommu_dma(&rp->dev))
		kunit_skip(test, "%s is not translated by iommu-dma in this boot",
			   pci_name(rp));
	domain = iommu_get_domain_for_dev(&rp->dev);
	paddr = phyr_rig_p2pmem_alloc(test, nvme, 3 * PAGE_SIZE, rig_zero_word,
				      &bar);
	p2p = pcim_p2pdma_provider(nvme, bar);
	KUNIT_ASSERT_NOT_NULL(test, p2p);
	KUNIT_ASSERT_EQ(test, pci_p2pdma_map_type(p2p, &rp->dev),
			PCI_P2PDMA_MAP_THRU_HOST_BRIDGE);
	/* Not contiguous: the third page, then the first. */
	ranges[0] = (struct phys_vec){ paddr + 2 * PAGE_SIZE, PAGE_SIZE };
	ranges[1] = (struct phys_vec){ paddr, PAGE_SIZE };

	info.ops = &rig_exp_ops;
	info.size = 2 * PAGE_SIZE;
	info.priv = nvme;
	dmabuf = dma_buf_export(&info);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, dmabuf);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, rig_dma_buf_put,
							dmabuf), 0);
	attach = dma_buf_attach(dmabuf, &rp->dev);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, attach);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test,
							rig_dma_buf_detach,
							attach), 0);

	dma_resv_lock(dmabuf->resv, NULL);
	sgt = dma_buf_phys_vec_to_sgt(attach, p2p, ranges, 2, 2 * PAGE_SIZE,
				      DMA_TO_DEVICE);
	if (!IS_ERR(sgt)) {
		iova = sg_dma_address(sgt->sgl);
		KUNIT_EXPECT_EQ(test, sgt->nents, 1);
		KUNIT_EXPECT_EQ(test, sg_dma_len(sgt->sgl), 2 * PAGE_SIZE);
		KUNIT_EXPECT_EQ(test, iommu_iova_to_phys(domain, iova),
				ranges[0].paddr);
		KUNIT_EXPECT_EQ(test, iommu_iova_to_phys(domain,
							 iova + PAGE_SIZE),
				ranges[1].paddr);
		rig_info(test, "dma_buf_phys_vec_to_sgt(): 2 CMB ranges for edu %s at IOVA %pad, one entry of %u bytes",
			 pci_name(rp), &iova, sg_dma_len(sgt->sgl));
		dma_buf_free_sgt(attach, sgt, DMA_TO_DEVICE);
	}
	dma_resv_unlock(dmabuf->resv);
	KUNIT_EXPECT_EQ(test, PTR_ERR_OR_ZERO(sgt), 0);
}

/*
 * MMIO and RAM never share an IOVA: an MMIO-only phyr goes into one IOVA
 * linked and destroyed with DMA_ATTR_MMIO (IOMMU_MMIO, no cache
 * maintenance), over exactly its bytes; a phyr mixing MMIO and RAM is
 * mapped piece by piece, each piece with its own attributes.
 */
static void phyr_rig_dma_mmio_apart(struct kunit *test)
{
	struct pci_dev *nvme = phyr_rig_get_nvme(test);
	struct pci_dev *rp = rig_get_edu(test, false);
	struct phyr_dma_params params = { .dev = &rp->dev,
					  .dir = DMA_TO_DEVICE };
	struct phyr_provider *prov;
	struct phyr_dma_map *map;
	struct phyr *mmio, *mixed;
	phys_addr_t a, b;
	struct page *page;
	int bar;

	if (!rig_behind_iommu_dma(&rp->dev))
		kunit_skip(test, "%s is not translated by iommu-dma in this boot",
			   pci_name(rp));
	a = phyr_rig_p2pmem_alloc(test, nvme, SZ_8K, rig_byte_word, &bar);
	b = phyr_rig_p2pmem_alloc(test, nvme, SZ_8K, rig_byte_word, NULL);
	prov = rig_bar_provider(test, nvme, bar);
	page = rig_lone_page(test, 0x5a);
	mmio = phyr_rig_phyr_alloc(test);
	mixed = phyr_rig_phyr_alloc(test);
	/* Two pieces of the CMB, not contiguous: b after a would merge. */
	KUNIT_ASSERT_EQ(test, phyr_append(mmio, prov, PHYR_ATTRS_MMIO, b,
					  SZ_4K, GFP_KERNEL), 0);
	KUNIT_ASSERT_EQ(test, phyr_append(mmio, prov, PHYR_ATTRS_MMIO, a,
					  SZ_8K, GFP_KERNEL), 0);
	KUNIT_ASSERT_EQ(test, phyr_append(mixed, &phyr_provider_ram,
					  PHYR_ATTRS_RAM, page_to_phys(page),
					  PAGE_SIZE, GFP_KERNEL), 0);
	KUNIT_ASSERT_EQ(test, phyr_append(mixed, prov, PHYR_ATTRS_MMIO, a,
					  SZ_4K, GFP_KERNEL), 0);
	rig_flush_probes_on(test);

	/* BEHAVIOURS: M14 (MMIO only: one IOVA, MMIO attributes) */
	map = phyr_dma_map_create(mmio, 0, phyr_len(mmio), &params, GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, map);
	KUNIT_EXPECT_TRUE(test, dma_use_iova(&map->state.iova));
	KUNIT_EXPECT_TRUE(test, map->state.mmio);
	KUNIT_EXPECT_TRUE(test, READ_ONCE(rig_map_prot) & IOMMU_MMIO);
	KUNIT_EXPECT_FALSE(test, READ_ONCE(rig_map_prot) & IOMMU_CACHE);
	phyr_dma_map_destroy(map);
	rig_info(test, "MMIO phyr of 2 ranges for edu %s: one IOVA, destroyed with attrs %#lx over %zu bytes",
		 pci_name(rp), READ_ONCE(rig_destroy_attrs),
		 READ_ONCE(rig_destroy_len));
	KUNIT_EXPECT_TRUE(test, READ_ONCE(rig_destroy_attrs) & DMA_ATTR_MMIO);
	/* Exactly the mapped bytes, not whole granules around them. */
	KUNIT_EXPECT_EQ(test, READ_ONCE(rig_destroy_len), SZ_4K + SZ_8K);

	/* BEHAVIOURS: M14 (RAM and MMIO: no shared IOVA) */
	WRITE_ONCE(rig_destroy_len, 0);
	map = phyr_dma_map_create(mixed, 0, phyr_len(mixed), &params,
				  GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, map);
	KUNIT_EXPECT_FALSE(test, dma_use_iova(&map->state.iova));
	KUNIT_ASSERT_EQ(test, map->nr_vecs, 2);
	KUNIT_EXPECT_EQ(test, map->vecs[0].flags, 0);
	KUNIT_EXPECT_EQ(test, map->vecs[1].flags, PHYR_DMA_VEC_MMIO);
	/* The last IOMMU map was the MMIO piece's, and it was MMIO. */
	KUNIT_EXPECT_TRUE(test, READ_ONCE(rig_map_prot) & IOMMU_MMIO);
	KUNIT_EXPECT_FALSE(test, READ_ONCE(rig_map_prot) & IOMMU_CACHE);
	phyr_dma_map_destroy(map);
	KUNIT_EXPECT_EQ(test, READ_ONCE(rig_destroy_len), 0);
}

/*
 * A P2PDMA page given to the page, bio_vec and sg_table builders is the
 * CMB's P2P provider, not RAM: it maps as a bus address for the edu under
 * the switch.
 */
static void phyr_rig_dma_p2pdma_pages(struct kunit *test)
{
	struct pci_dev *nvme = phyr_rig_get_nvme(test);
	struct pci_dev *sw = rig_get_edu(test, true);
	struct phyr *from_pages, *from_bvecs, *from_sgt, *mixed;
	struct phyr_dma_params params = { .dev = &sw->dev,
					  .dir = DMA_TO_DEVICE };
	struct phyr_dma_map *map;
	struct phyr_iter iter;
	struct sg_table sgt;
	struct phyr_seg seg;
	struct bio_vec bv;
	struct page *page, *three[3];
	phys_addr_t paddr;
	int bar;

	paddr = phyr_rig_p2pmem_alloc(test, nvme, PAGE_SIZE, rig_byte_word,
				      &bar);
	page = phys_to_page(paddr);
	KUNIT_ASSERT_TRUE(test, is_pci_p2pdma_page(page));
	from_pages = phyr_rig_phyr_alloc(test);
	from_bvecs = phyr_rig_phyr_alloc(test);
	from_sgt = phyr_rig_phyr_alloc(test);
	mixed = phyr_rig_phyr_alloc(test);

	/* BEHAVIOURS: M15, P8 */
	KUNIT_ASSERT_EQ(test, phyr_append_pages(from_pages, &page, 1, 0,
						PAGE_SIZE, GFP_KERNEL), 0);
	bvec_set_page(&bv, page, PAGE_SIZE, 0);
	KUNIT_ASSERT_EQ(test, phyr_append_bvecs(from_bvecs, &bv, 1,
						GFP_KERNEL), 0);
	KUNIT_ASSERT_EQ(test, sg_alloc_table(&sgt, 1, GFP_KERNEL), 0);
	sg_set_page(sgt.sgl, page, PAGE_SIZE, 0);
	KUNIT_EXPECT_EQ(test, phyr_append_sgtable(from_sgt, &sgt, GFP_KERNEL),
			0);
	sg_free_table(&sgt);
	/*
	 * Behind two RAM pages that do not merge, where the builder's one
	 * pass looks at a page's memory section before its struct page: the
	 * P2PDMA page still starts a chunk of its own.
	 */
	three[0] = rig_lone_page(test, 0);
	three[1] = rig_lone_page(test, 1);
	three[2] = page;
	KUNIT_ASSERT_EQ(test, phyr_append_pages(mixed, three, 3, 0,
						3 * PAGE_SIZE, GFP_KERNEL), 0);
	KUNIT_ASSERT_EQ(test, mixed->nr_chunks, 2);
	KUNIT_EXPECT_PTR_EQ(test, mixed->chunks[0].provider,
			    &phyr_provider_ram);
	KUNIT_EXPECT_EQ(test, mixed->chunks[0].nr_ranges, 2);
	KUNIT_EXPECT_PTR_EQ(test, mixed->chunks[1].provider->p2p,
			    pcim_p2pdma_provider(nvme, bar));
	KUNIT_EXPECT_EQ(test, mixed->chunks[1].attrs, PHYR_ATTRS_MMIO);
	KUNIT_EXPECT_EQ(test, mixed->ranges[2].paddr, paddr);
	KUNIT_ASSERT_EQ(test, phyr_iter_start(&iter, from_pages, 0, PAGE_SIZE),
			0);
	KUNIT_ASSERT_TRUE(test, phyr_iter_next(&iter, &seg));
	rig_info(test, "a P2PDMA page of %s in phyr_append_pages(): provider %s, attrs %#x",
		 pci_name(nvme), phyr_provider_kind_name(seg.provider->kind),
		 seg.attrs);
	KUNIT_EXPECT_EQ(test, seg.provider->kind, PHYR_PROVIDER_P2P);
	KUNIT_EXPECT_PTR_EQ(test, seg.provider->p2p,
			    pcim_p2pdma_provider(nvme, bar));
	KUNIT_EXPECT_EQ(test, seg.attrs, PHYR_ATTRS_MMIO);
	KUNIT_EXPECT_EQ(test, seg.paddr, paddr);
	KUNIT_EXPECT_PTR_EQ(test, from_bvecs->chunks[0].provider, seg.provider);
	KUNIT_EXPECT_PTR_EQ(test, from_sgt->chunks[0].provider, seg.provider);

	/* Mapped as P2P: the bus address, not an IOVA of RAM. */
	KUNIT_ASSERT_EQ(test, dma_set_mask(&sw->dev, DMA_BIT_MASK(64)), 0);
	map = phyr_dma_map_create(from_pages, 0, PAGE_SIZE, &params,
				  GFP_KERNEL);
	dma_set_mask(&sw->dev, DMA_BIT_MASK(32));
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, map);
	KUNIT_EXPECT_EQ(test, map->vecs[0].flags, PHYR_DMA_VEC_BUS_ADDR);
	KUNIT_EXPECT_EQ(test, map->vecs[0].dma_addr,
			(dma_addr_t)pci_p2pmem_virt_to_bus(nvme,
							   phys_to_virt(paddr)));
	phyr_dma_map_destroy(map);
}

/* A bus address beyond the importer's DMA mask fails before any mapping. */
static void phyr_rig_dma_bus_addr_mask(struct kunit *test)
{
	struct pci_dev *nvme = phyr_rig_get_nvme(test);
	struct pci_dev *sw = rig_get_edu(test, true);
	struct phyr_dma_params params = { .dev = &sw->dev,
					  .dir = DMA_TO_DEVICE };
	struct phyr_provider *prov;
	struct phyr_dma_map *map;
	struct phyr *phyr;
	phys_addr_t paddr;
	u64 bus_addr, mask;

	phyr = rig_cmb_phyr(test, nvme, &prov, &paddr);
	bus_addr = paddr + prov->p2p->bus_offset;
	KUNIT_ASSERT_GT(test, bus_addr, 0);
	mask = *sw->dev.dma_mask;

	/* BEHAVIOURS: M16 (one byte short of the last bus address) */
	*sw->dev.dma_mask = bus_addr + RIG_MMIO_LEN - 2;
	map = phyr_dma_map_create(phyr, 0, RIG_MMIO_LEN, &params, GFP_KERNEL);
	*sw->dev.dma_mask = mask;
	rig_info(test, "CMB at bus address %#llx for edu %s with a mask ending one byte short: %pe",
		 bus_addr, pci_name(sw), map);
	KUNIT_EXPECT_EQ(test, PTR_ERR(map), -EIO);
	if (!IS_ERR(map))
		phyr_dma_map_destroy(map);
}

/*
 * The DMA API failing half-way for real: an edu whose DMA mask leaves the
 * IOMMU three pages of IOVA space cannot take four discontiguous pages,
 * neither as one IOVA nor one by one; the three that were mapped are
 * unmapped, which the same three mapping again afterwards proves.
 */
static void phyr_rig_dma_unwind(struct kunit *test)
{
	struct pci_dev *sw = rig_get_edu(test, true);
	struct phyr_dma_params params = { .dev = &sw->dev,
					  .dir = DMA_TO_DEVICE };
	struct phyr_dma_map *map;
	struct phyr *phyr;
	u64 mask;
	int i;

	if (!rig_behind_iommu_dma(&sw->dev))
		kunit_skip(test, "%s is not translated by iommu-dma in this boot",
			   pci_name(sw));
	phyr = phyr_rig_phyr_alloc(test);
	for (i = 0; i < 4; i++)
		KUNIT_ASSERT_EQ(test, phyr_append(phyr, &phyr_provider_ram,
						  PHYR_ATTRS_RAM,
						  page_to_phys(rig_lone_page(test, i)),
						  PAGE_SIZE, GFP_KERNEL), 0);
	mask = *sw->dev.dma_mask;
	/* IOVA page 0 is never handed out: pages 1-3 are left. */
	*sw->dev.dma_mask = 4 * PAGE_SIZE - 1;

	/* BEHAVIOURS: M12 */
	map = phyr_dma_map_create(phyr, 0, 4 * PAGE_SIZE, &params, GFP_KERNEL);
	KUNIT_EXPECT_EQ(test, PTR_ERR(map), -EIO);
	if (!IS_ERR(map))
		phyr_dma_map_destroy(map);
	/* Nothing was left behind: the three pages fit again. */
	map = phyr_dma_map_create(phyr, 0, 3 * PAGE_SIZE, &params, GFP_KERNEL);
	*sw->dev.dma_mask = mask;
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, map);
	rig_info(test, "edu %s with 3 IOVA pages: 4 pages refused (-EIO), then 3 mapped in %u segment(s)",
		 pci_name(sw), map->nr_vecs);
	phyr_dma_map_destroy(map);
}

/* BEHAVIOURS: M9 (needs the swiotlb=force boot) */
static void phyr_rig_dma_swiotlb(struct kunit *test)
{
	struct pci_dev *edu = rig_get_edu(test, true);
	struct dma_iova_state state = { .addr = 1, .__size = 1 };
	struct page *page = rig_lone_page(test, 0);
	struct phyr_provider *prov;
	struct phyr_dma_map *map;
	struct pci_dev *nvme, *rp;
	struct phyr *phyr;
	phys_addr_t paddr;

	if (!is_swiotlb_force_bounce(&edu->dev))
		kunit_skip(test, "swiotlb not forced in this boot (see kunit-rig.sh --swiotlb)");
	KUNIT_EXPECT_FALSE(test, dma_iova_try_alloc(&edu->dev, &state,
						    page_to_phys(page),
						    PAGE_SIZE));
	KUNIT_EXPECT_EQ(test, state.addr, 0);
	KUNIT_EXPECT_FALSE(test, dma_use_iova(&state));

	/* MMIO: no IOVA either (and never a bounce buffer). */
	nvme = phyr_rig_get_nvme(test);
	paddr = phyr_rig_p2pmem_alloc(test, nvme, PAGE_SIZE, rig_byte_word,
				      NULL);
	state.__size = 1;
	KUNIT_EXPECT_FALSE(test, dma_iova_try_alloc(&edu->dev, &state, paddr,
						    PAGE_SIZE));
	KUNIT_EXPECT_FALSE(test, dma_use_iova(&state));
	rig_info(test, "swiotlb forced for %s: dma_iova_try_alloc() refused for RAM and for the NVMe CMB",
		 pci_name(edu));

	/* phyr's mapper: MMIO across the host bridge fails, never bounced. */
	rp = rig_get_edu(test, false);
	phyr = rig_cmb_phyr(test, nvme, &prov, &paddr);
	map = phyr_dma_map_create(phyr, 0, RIG_MMIO_LEN, &(struct phyr_dma_params){
					.dev = &rp->dev, .dir = DMA_TO_DEVICE },
				  GFP_KERNEL);
	rig_info(test, "swiotlb forced: phyr of the NVMe CMB for edu %s: %pe",
		 pci_name(rp), map);
	KUNIT_EXPECT_TRUE(test, IS_ERR(map));
	if (!IS_ERR_OR_NULL(map))
		phyr_dma_map_destroy(map);
}

/*
 * A host bridge that translates: bus addresses are CPU physical addresses
 * plus an offset (pcim_p2pdma_provider() takes it from pci_bus_address()
 * minus pci_resource_start()). q35's windows have none, so a bus offset
 * left out would go unseen: the NVMe CMB's provider is copied with
 * RIG_BUS_OFFSET set and its owner kept (the map type is the owner's), and
 * the expected bus addresses are the test's own sum, not the provider's
 * field.
 */
#define RIG_BUS_OFFSET	BIT_ULL(40)

struct rig_mask {
	struct device	*dev;
	u64		mask;
};

static void rig_restore_mask(void *data)
{
	struct rig_mask *m = data;

	dma_set_mask(m->dev, m->mask);
}

/* BEHAVIOURS: M2, C2, M16 (with a non-zero bus offset) */
static void phyr_rig_dma_bus_offset(struct kunit *test)
{
	struct pci_dev *nvme = phyr_rig_get_nvme(test);
	struct pci_dev *sw = rig_get_edu(test, true);
	struct phyr_dma_params params = { .dev = &sw->dev,
					  .dir = DMA_TO_DEVICE };
	struct phyr_provider *prov, *shifted;
	struct p2pdma_provider *p2p;
	struct phyr_dma_map *map;
	struct rig_mask *saved;
	struct phyr *phyr;
	struct sg_table *sgt;
	phys_addr_t paddr;
	u64 mask;

	rig_cmb_phyr(test, nvme, &prov, &paddr);
	p2p = kunit_kzalloc(test, sizeof(*p2p), GFP_KERNEL);
	shifted = kunit_kzalloc(test, sizeof(*shifted), GFP_KERNEL);
	saved = kunit_kzalloc(test, sizeof(*saved), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, p2p);
	KUNIT_ASSERT_NOT_NULL(test, shifted);
	KUNIT_ASSERT_NOT_NULL(test, saved);
	*p2p = *prov->p2p;
	p2p->bus_offset = RIG_BUS_OFFSET;
	shifted->kind = PHYR_PROVIDER_P2P;
	shifted->p2p = p2p;
	phyr = phyr_rig_phyr_alloc(test);
	KUNIT_ASSERT_EQ(test, phyr_append(phyr, shifted, PHYR_ATTRS_MMIO, paddr,
					  RIG_MMIO_LEN, GFP_KERNEL), 0);
	KUNIT_ASSERT_EQ(test, phyr_dma_map_type(shifted, &sw->dev, 0),
			PHYR_MAP_BUS_ADDR);
	saved->dev = &sw->dev;
	saved->mask = *sw->dev.dma_mask;
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, rig_restore_mask,
							saved), 0);

	/* No DMA is done: the mask only has to pass the bus address. */
	KUNIT_ASSERT_EQ(test, dma_set_mask(&sw->dev, DMA_BIT_MASK(64)), 0);
	map = phyr_dma_map_create(phyr, 0, RIG_MMIO_LEN, &params, GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, map);
	KUNIT_EXPECT_EQ(test, map->nr_vecs, 1);
	KUNIT_EXPECT_TRUE(test, map->vecs[0].flags & PHYR_DMA_VEC_BUS_ADDR);
	KUNIT_EXPECT_EQ(test, map->vecs[0].dma_addr,
			(dma_addr_t)(paddr + RIG_BUS_OFFSET));
	rig_info(test, "bus offset %#llx: the NVMe CMB at %pa is bus address %pad for edu %s",
		 RIG_BUS_OFFSET, &paddr, &map->vecs[0].dma_addr, pci_name(sw));
	phyr_dma_map_destroy(map);

	sgt = phyr_dma_map_sgt(phyr, 0, RIG_MMIO_LEN, &params, GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, sgt);
	KUNIT_EXPECT_TRUE(test, sg_dma_is_bus_address(sgt->sgl));
	KUNIT_EXPECT_EQ(test, sg_dma_address(sgt->sgl),
			(dma_addr_t)(paddr + RIG_BUS_OFFSET));
	phyr_dma_unmap_sgt(sgt);

	/* A mask that passes the CPU address but not the bus address. */
	mask = DMA_BIT_MASK(fls64(paddr + RIG_MMIO_LEN - 1));
	KUNIT_ASSERT_LT(test, mask, paddr + RIG_BUS_OFFSET);
	KUNIT_ASSERT_EQ(test, dma_set_mask(&sw->dev, mask), 0);
	map = phyr_dma_map_create(phyr, 0, RIG_MMIO_LEN, &params, GFP_KERNEL);
	KUNIT_EXPECT_EQ(test, PTR_ERR_OR_ZERO(map), -EIO);
	if (!IS_ERR(map))
		phyr_dma_map_destroy(map);
	rig_info(test, "bus offset %#llx: a %d-bit DMA mask refuses the CMB (-EIO), its CPU address would pass",
		 RIG_BUS_OFFSET, fls64(mask));
}

/* ---- fault injection: each allocation of an operation in turn (R5) ---- */

/*
 * Every operation below is run again and again with its n-th fault
 * injection point made to fail, n = 1, 2, ..., until a run passes all its
 * points without reaching the n-th, the way
 * tools/testing/selftests/iommu/iommufd_fail_nth.c sweeps iommufd's
 * ioctls. The point is chosen with the calling task's fail-nth
 * (Documentation/fault-injection/fault-injection.rst: the field behind
 * /proc/<pid>/fail-nth), counted over failslab and fail_page_alloc, which
 * rig_fail_setup() sets through their debugfs attributes as
 * iommufd_fail_nth.c does (allocations that may sleep and pages of order 0
 * injectable too, quietly). Each operation is swept twice:
 *
 * - "once": only the n-th point fails. What retries once absorbs it
 *   (kvrealloc() retries a failed krealloc() with kvmalloc(); dma-iommu
 *   retries an IOVA allocation after flushing its caches; kmemleak falls
 *   back to its pool): such a run must succeed like the others.
 * - "from n on": the n-th point and every later one of this task fail
 *   (fail-nth, then the attributes' task filter with probability 100 and
 *   this task's make-it-fail), so that the operation's own error path is
 *   reached behind any retry.
 *
 * A run that fails must fail with one of the operation's documented errors
 * and leave nothing behind: the phyr as it was (the builders' contract),
 * no IOVA (the device's DMA mask is narrowed so that its IOVA space holds
 * exactly one mapping, and after each failed run the slice maps again),
 * no memory (the rig's kmemleak suite runs after this one and fails on a
 * leak), no console report (the run's console scan).
 */
#ifdef CONFIG_FAULT_INJECTION
static void rig_fail_nth_set(unsigned int n, bool from_n_on)
{
	WRITE_ONCE(current->fail_nth, n);
	WRITE_ONCE(current->make_it_fail, from_n_on);
}

static unsigned int rig_fail_nth_get(void)
{
	return READ_ONCE(current->fail_nth);
}
#else
static void rig_fail_nth_set(unsigned int n, bool from_n_on)
{
}

static unsigned int rig_fail_nth_get(void)
{
	return 0;
}
#endif

struct rig_fail_attr {
	const char	*name;
	const char	*set;		/* for the sweeps */
	const char	*reset;		/* the boot's default */
};

/*
 * In the order they are written: the task filter before the probability,
 * so that there is never a moment where every task's allocations fail;
 * undone in reverse.
 */
static const struct rig_fail_attr rig_fail_attr_values[] = {
	{ "verbose", "0", "2" },
	{ "ignore-gfp-wait", "N", "Y" },
	{ "ignore-gfp-highmem", "N", "Y" },	/* fail_page_alloc only */
	{ "min-order", "0", "1" },		/* fail_page_alloc only */
	{ "task-filter", "Y", "N" },
	{ "interval", "1", "1" },
	{ "times", "-1", "1" },
	{ "probability", "100", "0" },
};

static const char * const rig_fail_attr_dirs[] = {
	"failslab", "fail_page_alloc",
};

static void rig_fail_attrs_write(struct kunit *test, bool set)
{
	unsigned int i, d, n = ARRAY_SIZE(rig_fail_attr_values);
	char path[64];

	for (d = 0; d < ARRAY_SIZE(rig_fail_attr_dirs); d++) {
		for (i = 0; i < n; i++) {
			const struct rig_fail_attr *v =
				&rig_fail_attr_values[set ? i : n - 1 - i];
			int ret;

			snprintf(path, sizeof(path), "%s/%s",
				 rig_fail_attr_dirs[d], v->name);
			ret = phyr_rig_debugfs_set(test, path,
						   set ? v->set : v->reset);
			/* failslab has no ignore-gfp-highmem, min-order. */
			if (ret == -ENOENT && !d)
				continue;
			KUNIT_EXPECT_EQ_MSG(test, ret, 0, "%s: %d", path, ret);
		}
	}
}

static void rig_fail_reset(void *test)
{
	rig_fail_nth_set(0, false);
	rig_fail_attrs_write(test, false);
}

static void rig_fail_setup(struct kunit *test)
{
	if (!IS_ENABLED(CONFIG_FAILSLAB) ||
	    !IS_ENABLED(CONFIG_FAIL_PAGE_ALLOC) ||
	    !IS_ENABLED(CONFIG_FAULT_INJECTION_DEBUG_FS))
		kunit_skip(test, "needs FAILSLAB, FAIL_PAGE_ALLOC and FAULT_INJECTION_DEBUG_FS");
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, rig_fail_reset,
							test), 0);
	rig_fail_attrs_write(test, true);
}

#define RIG_FAIL_PAGES		64	/* > the IOVA rcache's largest size */
#define RIG_FAIL_MAX_POINTS	1000

struct rig_fail_op {
	const char	*name;
	int		(*run)(struct kunit *test, void *ctx);
	void		(*undo)(void *ctx);	/* after a run that succeeded */
	/* After a run that failed: nothing is left behind. */
	void		(*check)(struct kunit *test, void *ctx);
	int		errnos[3];		/* the documented errors */
	/* Documented to allocate nothing: no injection point is expected. */
	bool		allocates_nothing;
};

static bool rig_fail_documented(const struct rig_fail_op *op, int ret)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(op->errnos) && op->errnos[i]; i++)
		if (ret == op->errnos[i])
			return true;
	return false;
}

static void rig_fail_sweep_mode(struct kunit *test,
				const struct rig_fail_op *op, void *ctx,
				bool from_n_on)
{
	unsigned int n, failed = 0, absorbed = 0, points;
	bool fired = false;
	int ret = 0;

	for (n = 1; n <= RIG_FAIL_MAX_POINTS; n++) {
		rig_fail_nth_set(n, from_n_on);
		ret = op->run(test, ctx);
		/* Reached and failed: the count ran down to 0. */
		fired = !rig_fail_nth_get();
		rig_fail_nth_set(0, false);
		if (!ret) {
			op->undo(ctx);
			if (!fired)
				break;
			absorbed++;
			continue;
		}
		KUNIT_EXPECT_TRUE_MSG(test, fired,
				      "%s: %pe with no failure injected (point %u)",
				      op->name, ERR_PTR(ret), n);
		KUNIT_EXPECT_TRUE_MSG(test, rig_fail_documented(op, ret),
				      "%s: point %u: %pe, not a documented error",
				      op->name, n, ERR_PTR(ret));
		op->check(test, ctx);
		failed++;
		if (!fired)
			break;
	}
	points = n - 1;
	KUNIT_EXPECT_EQ_MSG(test, ret, 0, "%s: never succeeded", op->name);
	KUNIT_EXPECT_LE_MSG(test, n, RIG_FAIL_MAX_POINTS,
			    "%s: more than %u injection points", op->name,
			    RIG_FAIL_MAX_POINTS);
	/*
	 * A sweep that injected nothing, or failed nothing, proves nothing;
	 * unless the operation allocates nothing, which it then shows.
	 */
	if (op->allocates_nothing)
		KUNIT_EXPECT_EQ_MSG(test, points, 0, "%s: allocates", op->name);
	else
		KUNIT_EXPECT_GT_MSG(test, points, 0,
				    "%s: no injection point reached", op->name);
	if (from_n_on && !op->allocates_nothing)
		KUNIT_EXPECT_GT_MSG(test, failed, 0,
				    "%s: no run failed with every allocation from the n-th on failing",
				    op->name);
	rig_info(test, "fail-nth: %s: %s: %u injection points, %u failed (documented errno), %u absorbed%s",
		 op->name, from_n_on ? "from n on" : "once", points, failed,
		 absorbed, test->status == KUNIT_FAILURE ? "" :
		 ", nothing left behind");
}

static void rig_fail_sweep(struct kunit *test, const struct rig_fail_op *op,
			   void *ctx)
{
	rig_fail_sweep_mode(test, op, ctx, false);
	if (!op->allocates_nothing)
		rig_fail_sweep_mode(test, op, ctx, true);
}

/* RIG_FAIL_PAGES discontiguous RAM pages, as pages, bio_vecs, sg_table */
struct rig_fail_build {
	struct phyr		*phyr;
	struct page		*pages[RIG_FAIL_PAGES];
	struct bio_vec		bvecs[RIG_FAIL_PAGES];
	struct sg_table		sgt;
	struct page		*first;		/* the phyr's range before */
};

/* The phyr as every run finds it: one range, which the runs append to. */
static void rig_fail_build_reset(void *ctx)
{
	struct rig_fail_build *b = ctx;

	phyr_destroy(b->phyr);
	WARN_ON(phyr_append(b->phyr, &phyr_provider_ram, PHYR_ATTRS_RAM,
			    page_to_phys(b->first), PAGE_SIZE, GFP_KERNEL));
}

/* The builders' contract: on error the phyr is unchanged. */
static void rig_fail_build_check(struct kunit *test, void *ctx)
{
	struct rig_fail_build *b = ctx;
	struct phyr_seg seg;
	struct phyr_iter it;

	KUNIT_EXPECT_EQ(test, b->phyr->nr_chunks, 1);
	KUNIT_EXPECT_EQ(test, b->phyr->nr_ranges, 1);
	KUNIT_EXPECT_EQ(test, b->phyr->len, PAGE_SIZE);
	KUNIT_ASSERT_EQ(test, phyr_iter_start(&it, b->phyr, 0, PAGE_SIZE), 0);
	KUNIT_ASSERT_TRUE(test, phyr_iter_next(&it, &seg));
	KUNIT_EXPECT_EQ(test, seg.paddr, page_to_phys(b->first));
	KUNIT_EXPECT_EQ(test, seg.len, PAGE_SIZE);
}

static int rig_fail_append_pages(struct kunit *test, void *ctx)
{
	struct rig_fail_build *b = ctx;

	return phyr_append_pages(b->phyr, b->pages, RIG_FAIL_PAGES, 0,
				 RIG_FAIL_PAGES * PAGE_SIZE, GFP_KERNEL);
}

static int rig_fail_append_bvecs(struct kunit *test, void *ctx)
{
	struct rig_fail_build *b = ctx;

	return phyr_append_bvecs(b->phyr, b->bvecs, RIG_FAIL_PAGES, GFP_KERNEL);
}

static int rig_fail_append_sgtable(struct kunit *test, void *ctx)
{
	struct rig_fail_build *b = ctx;

	return phyr_append_sgtable(b->phyr, &b->sgt, GFP_KERNEL);
}

static int rig_fail_reserve(struct kunit *test, void *ctx)
{
	struct rig_fail_build *b = ctx;

	return phyr_reserve(b->phyr, RIG_FAIL_PAGES, RIG_FAIL_PAGES,
			    GFP_KERNEL);
}

static void rig_fail_sg_free(void *sgt)
{
	sg_free_table(sgt);
}

static struct rig_fail_build *rig_fail_build_alloc(struct kunit *test)
{
	struct rig_fail_build *b = kunit_kzalloc(test, sizeof(*b), GFP_KERNEL);
	unsigned int i;

	KUNIT_ASSERT_NOT_NULL(test, b);
	b->phyr = phyr_rig_phyr_alloc(test);
	b->first = rig_lone_page(test, 0x11);
	for (i = 0; i < RIG_FAIL_PAGES; i++) {
		b->pages[i] = rig_lone_page(test, i);
		bvec_set_page(&b->bvecs[i], b->pages[i], PAGE_SIZE, 0);
	}
	KUNIT_ASSERT_EQ(test, sg_alloc_table_from_pages(&b->sgt, b->pages,
							RIG_FAIL_PAGES, 0,
							RIG_FAIL_PAGES * PAGE_SIZE,
							GFP_KERNEL), 0);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, rig_fail_sg_free,
							&b->sgt), 0);
	rig_fail_build_reset(b);
	return b;
}

/* BEHAVIOURS: R5 (the builders: pages, bio_vecs, sg_table, reserve) */
static void phyr_rig_dma_fail_nth_build(struct kunit *test)
{
	static const struct rig_fail_op ops[] = {
		{ "phyr_append_pages", rig_fail_append_pages,
		  rig_fail_build_reset, rig_fail_build_check, { -ENOMEM } },
		{ "phyr_append_bvecs", rig_fail_append_bvecs,
		  rig_fail_build_reset, rig_fail_build_check, { -ENOMEM } },
		{ "phyr_append_sgtable", rig_fail_append_sgtable,
		  rig_fail_build_reset, rig_fail_build_check, { -ENOMEM } },
		{ "phyr_reserve", rig_fail_reserve,
		  rig_fail_build_reset, rig_fail_build_check, { -ENOMEM } },
	};
	struct rig_fail_build *b = rig_fail_build_alloc(test);
	unsigned int i;

	rig_fail_setup(test);
	for (i = 0; i < ARRAY_SIZE(ops); i++)
		rig_fail_sweep(test, &ops[i], b);
}

/* A phyr of RIG_FAIL_PAGES RAM pages mapped for a device, three ways */
struct rig_fail_map {
	struct rig_fail_build		*b;
	struct phyr_dma_params		params;
	struct phyr_dma_map		*map;
	struct sg_table			*sgt;
	struct phyr_dma_iter		iter;
	struct phyr_dma_vec		vecs[RIG_FAIL_PAGES];
	unsigned int			nr_vecs;
	u64				mask;	/* the device's, restored */
};

static int rig_fail_map_list(struct kunit *test, void *ctx)
{
	struct rig_fail_map *m = ctx;

	m->map = phyr_dma_map_create(m->b->phyr, PAGE_SIZE,
				     RIG_FAIL_PAGES * PAGE_SIZE, &m->params,
				     GFP_KERNEL);
	return PTR_ERR_OR_ZERO(m->map);
}

static void rig_fail_unmap_list(void *ctx)
{
	struct rig_fail_map *m = ctx;

	phyr_dma_map_destroy(m->map);
}

static int rig_fail_map_sgt(struct kunit *test, void *ctx)
{
	struct rig_fail_map *m = ctx;

	m->sgt = phyr_dma_map_sgt(m->b->phyr, PAGE_SIZE,
				  RIG_FAIL_PAGES * PAGE_SIZE, &m->params,
				  GFP_KERNEL);
	return PTR_ERR_OR_ZERO(m->sgt);
}

static void rig_fail_unmap_sgt(void *ctx)
{
	struct rig_fail_map *m = ctx;

	phyr_dma_unmap_sgt(m->sgt);
}

static void rig_fail_unmap_iter(void *ctx)
{
	struct rig_fail_map *m = ctx;
	struct device *dev = m->params.dev;

	phyr_dma_unmap_vecs(dev, m->vecs, m->nr_vecs, m->params.dir,
			    m->params.attrs);
	phyr_dma_unmap_state(dev, &m->iter.state, m->params.dir,
			     m->params.attrs);
}

/* The iterator's contract: on error the caller unmaps what it got. */
static int rig_fail_map_iter(struct kunit *test, void *ctx)
{
	struct rig_fail_map *m = ctx;
	int ret;

	m->nr_vecs = 0;
	ret = phyr_dma_iter_start(&m->iter, m->b->phyr, PAGE_SIZE,
				  RIG_FAIL_PAGES * PAGE_SIZE, &m->params);
	if (ret)
		return ret;
	while (m->nr_vecs < RIG_FAIL_PAGES &&
	       (ret = phyr_dma_iter_next(&m->iter, &m->vecs[m->nr_vecs])) > 0)
		m->nr_vecs++;
	if (ret < 0)
		rig_fail_unmap_iter(m);
	return ret < 0 ? ret : 0;
}

/*
 * No IOVA left behind by a failed run: with the DMA mask narrowed to room
 * for one mapping, the same slice maps again (nothing injected now).
 */
static void rig_fail_map_check(struct kunit *test, void *ctx)
{
	struct rig_fail_map *m = ctx;
	struct phyr_dma_map *map;

	map = phyr_dma_map_create(m->b->phyr, PAGE_SIZE,
				  RIG_FAIL_PAGES * PAGE_SIZE, &m->params,
				  GFP_KERNEL);
	KUNIT_EXPECT_FALSE_MSG(test, IS_ERR(map),
			       "a failed run left its IOVA behind: %pe", map);
	if (!IS_ERR(map))
		phyr_dma_map_destroy(map);
}

static void rig_fail_restore_mask(void *ctx)
{
	struct rig_fail_map *m = ctx;

	*m->params.dev->dma_mask = m->mask;
}

/* BEHAVIOURS: R5, M10 (the DMA map: list, iterator, IOVA, sg_table) */
static void phyr_rig_dma_fail_nth_map(struct kunit *test)
{
	static const struct rig_fail_op ops[] = {
		{ "phyr_dma_map_create", rig_fail_map_list,
		  rig_fail_unmap_list, rig_fail_map_check,
		  { -ENOMEM, -EIO } },
		{ "phyr_dma_iter_start/next", rig_fail_map_iter,
		  rig_fail_unmap_iter, rig_fail_map_check,
		  { -ENOMEM, -EIO } },
		{ "phyr_dma_map_sgt", rig_fail_map_sgt,
		  rig_fail_unmap_sgt, rig_fail_map_check,
		  { -ENOMEM, -EIO } },
	};
	struct pci_dev *edu = rig_get_edu(test, true);
	struct rig_fail_map *m = kunit_kzalloc(test, sizeof(*m), GFP_KERNEL);
	unsigned int i;
	int ret;

	KUNIT_ASSERT_NOT_NULL(test, m);
	m->b = rig_fail_build_alloc(test);
	KUNIT_ASSERT_EQ(test, phyr_append_pages(m->b->phyr, m->b->pages,
						RIG_FAIL_PAGES, 0,
						RIG_FAIL_PAGES * PAGE_SIZE,
						GFP_KERNEL), 0);
	m->params = (struct phyr_dma_params){ .dev = &edu->dev,
					      .dir = DMA_TO_DEVICE };
	if (rig_behind_iommu_dma(&edu->dev)) {
		/*
		 * One IOVA of RIG_FAIL_PAGES pages, size-aligned, and IOVA
		 * page 0 never handed out: a mask of twice that many pages
		 * leaves room for exactly one.
		 */
		m->mask = *edu->dev.dma_mask;
		ret = kunit_add_action_or_reset(test, rig_fail_restore_mask, m);
		KUNIT_ASSERT_EQ(test, ret, 0);
		*edu->dev.dma_mask = 2 * RIG_FAIL_PAGES * PAGE_SIZE - 1;
	}
	rig_fail_setup(test);
	for (i = 0; i < ARRAY_SIZE(ops); i++) {
		struct rig_fail_op op = ops[i];

		/*
		 * Without an IOVA (dma-direct, swiotlb) the iterator maps
		 * piece by piece as it goes: nothing to allocate.
		 */
		op.allocates_nothing = op.run == rig_fail_map_iter &&
				       !rig_behind_iommu_dma(&edu->dev);
		rig_fail_sweep(test, &op, m);
	}
	rig_info(test, "fail-nth: the DMA maps were for edu %s (%s)",
		 pci_name(edu), rig_behind_iommu_dma(&edu->dev) ?
		 "one IOVA, its DMA mask narrowed to room for one" :
		 "no IOMMU translation in this boot");
}

/*
 * BEHAVIOURS: P4 - iterating a phyr, and yielding the DMA segments of its
 * IOVA once phyr_dma_iter_start() has mapped it, reach no fault injection
 * point: no allocation of any kind, GFP_ATOMIC and order-0 pages included
 * (rig_fail_setup() makes them all count). The fail-nth count is set and
 * must be where it was afterwards: every allocation on the way would have
 * taken one off it (and failed).
 */
static void phyr_rig_dma_fail_nth_iterate(struct kunit *test)
{
	struct pci_dev *edu = rig_get_edu(test, true);
	struct rig_fail_map *m = kunit_kzalloc(test, sizeof(*m), GFP_KERNEL);
	unsigned int n = 0, left;
	struct phyr_iter it;
	struct phyr_seg seg;
	int ret;

	KUNIT_ASSERT_NOT_NULL(test, m);
	m->b = rig_fail_build_alloc(test);
	KUNIT_ASSERT_EQ(test, phyr_append_pages(m->b->phyr, m->b->pages,
						RIG_FAIL_PAGES, 0,
						RIG_FAIL_PAGES * PAGE_SIZE,
						GFP_KERNEL), 0);
	rig_fail_setup(test);

	KUNIT_ASSERT_EQ(test, phyr_iter_start(&it, m->b->phyr, 0,
					      m->b->phyr->len), 0);
	rig_fail_nth_set(1, true);
	while (phyr_iter_next(&it, &seg))
		n++;
	left = rig_fail_nth_get();
	rig_fail_nth_set(0, false);
	KUNIT_EXPECT_EQ_MSG(test, left, 1, "phyr_iter_next() allocated");
	KUNIT_EXPECT_EQ(test, n, m->b->phyr->nr_ranges);

	if (!rig_behind_iommu_dma(&edu->dev))
		kunit_skip(test, "%s is not translated by iommu-dma in this boot",
			   pci_name(edu));
	m->params = (struct phyr_dma_params){ .dev = &edu->dev,
					      .dir = DMA_TO_DEVICE };
	ret = phyr_dma_iter_start(&m->iter, m->b->phyr, PAGE_SIZE,
				  RIG_FAIL_PAGES * PAGE_SIZE, &m->params);
	KUNIT_ASSERT_EQ(test, ret, 0);
	rig_fail_nth_set(1, true);
	while (m->nr_vecs < RIG_FAIL_PAGES &&
	       (ret = phyr_dma_iter_next(&m->iter, &m->vecs[m->nr_vecs])) > 0)
		m->nr_vecs++;
	left = rig_fail_nth_get();
	rig_fail_nth_set(0, false);
	rig_fail_unmap_iter(m);
	KUNIT_EXPECT_EQ(test, ret, 0);
	KUNIT_EXPECT_EQ_MSG(test, left, 1, "phyr_dma_iter_next() allocated");
	rig_info(test, "fail-nth: iterating %u ranges, then %u DMA segments of one IOVA for edu %s: no injection point reached",
		 n, m->nr_vecs, pci_name(edu));
}

static struct kunit_case phyr_rig_dma_cases[] = {
	KUNIT_CASE(phyr_rig_dma_map_type),
	KUNIT_CASE(phyr_rig_dma_iova_refused),
	KUNIT_CASE(phyr_rig_dma_iova_flushes),
	KUNIT_CASE(phyr_rig_dma_edu_switch),
	KUNIT_CASE(phyr_rig_dma_edu_root_port),
	KUNIT_CASE(phyr_rig_dma_mmio_host_bridge),
	KUNIT_CASE(phyr_rig_dma_phyr_ram),
	KUNIT_CASE(phyr_rig_dma_phyr_cmb),
	KUNIT_CASE(phyr_rig_dma_mmio_apart),
	KUNIT_CASE(phyr_rig_dma_to_sgt_ranges),
	KUNIT_CASE(phyr_rig_dma_p2pdma_pages),
	KUNIT_CASE(phyr_rig_dma_bus_addr_mask),
	KUNIT_CASE(phyr_rig_dma_bus_offset),
	KUNIT_CASE(phyr_rig_dma_unwind),
	KUNIT_CASE(phyr_rig_dma_swiotlb),
	{}
};

static struct kunit_suite phyr_rig_dma_suite = {
	.name = "phyr_rig_dma",
	.test_cases = phyr_rig_dma_cases,
};

static struct kunit_case phyr_rig_dma_fail_nth_cases[] = {
	KUNIT_CASE(phyr_rig_dma_fail_nth_build),
	KUNIT_CASE(phyr_rig_dma_fail_nth_map),
	KUNIT_CASE(phyr_rig_dma_fail_nth_iterate),
	{}
};

static struct kunit_suite phyr_rig_dma_fail_nth_suite = {
	.name = "phyr_rig_dma_fail_nth",
	.test_cases = phyr_rig_dma_fail_nth_cases,
};

kunit_test_suites(&phyr_rig_dma_suite, &phyr_rig_dma_fail_nth_suite);

MODULE_DESCRIPTION("KUnit tests of phyr's DMA pieces on the rig's PCI devices");
MODULE_LICENSE("GPL");
MODULE_IMPORT_NS("EXPORTED_FOR_KUNIT_TESTING");
MODULE_IMPORT_NS("DMA_BUF");
