// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for phyr on real PCI devices, run in the project's QEMU rig
 * (tools/testing/phyr/qemu_configs/phyr_rig.py): phyrs are built over the
 * BAR of an ivshmem device, whose content the host wrote before boot, and
 * over P2PDMA memory of an NVMe controller memory buffer, then sliced; every
 * byte the iterator yields is read back through ioremap() of the yielded
 * CPU physical address and compared with the pattern expected there, and
 * the ends of each piece are written through that mapping and read back at
 * the address the test appended, mapped apart. Each test skips when its
 * device is absent.
 *
 * Lines starting with "phyr-rig: " describe the topology and every phyr
 * built from a device, for the human report (tools/testing/phyr/report.sh).
 */

#include <kunit/test.h>
#include <linux/delay.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/io.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/module.h>
#include <linux/mount.h>
#include <linux/pci.h>
#include <linux/pci-p2pdma.h>
#include <linux/phyr.h>
#include <linux/sizes.h>
#include <linux/uaccess.h>

#include "phyr_rig_common.h"

/*
 * The ivshmem BAR pattern: the little-endian u32 at byte offset o of the
 * BAR is ((o / 4) * PHYR_RIG_PATTERN_MUL mod 2^32) ^ PHYR_RIG_PATTERN_XOR.
 * tools/testing/phyr/mkrig.py reads both values from here to write the
 * host file backing the BAR. The multiplier is odd, so the pattern is a
 * bijection of the u32 index: a wrong address shows as wrong data.
 */
#define PHYR_RIG_PATTERN_MUL	2654435761U
#define PHYR_RIG_PATTERN_XOR	0x50485952U

#define PHYR_RIG_IVSHMEM_LEN	SZ_64M

static u32 rig_pattern(u64 offset)
{
	return (u32)(offset / 4) * PHYR_RIG_PATTERN_MUL ^ PHYR_RIG_PATTERN_XOR;
}

static u8 rig_pattern_byte(u64 offset)
{
	return rig_pattern(offset) >> (8 * (offset % 4));
}

/**
 * struct rig_piece - one appended range and the pattern expected in it
 * @provider: the provider the range was appended with.
 * @attrs: the attributes it was appended with.
 * @paddr: CPU physical address of the range.
 * @len: length in bytes.
 * @pattern_base: the byte at physical address p holds
 *	rig_pattern_byte(p - @pattern_base).
 */
struct rig_piece {
	const struct phyr_provider	*provider;
	u32				attrs;
	phys_addr_t			paddr;
	size_t				len;
	phys_addr_t			pattern_base;
};

/**
 * struct rig_slice - a byte slice of a phyr to check
 * @offset: first byte, from the start of the phyr.
 * @len: length in bytes; 0 stands for "up to the end".
 * @what: what the slice exercises, for the log.
 */
struct rig_slice {
	u64		offset;
	u64		len;
	const char	*what;
};

KUNIT_DEFINE_ACTION_WRAPPER(rig_pci_disable_device, pci_disable_device,
			    struct pci_dev *);

static const char *const rig_cache_names[] = {
	[PHYR_CACHE_WB] = "WB", [PHYR_CACHE_WC] = "WC", [PHYR_CACHE_UC] = "UC",
};

static const char *const rig_cc_names[] = {
	[PHYR_CC_SHARED] = "shared", [PHYR_CC_IDE] = "ide",
	[PHYR_CC_PRIVATE] = "private",
};

static void rig_print_provider(struct kunit *test,
			       const struct phyr_provider *provider, u32 attrs)
{
	char who[64] = "";

	if (provider->kind == PHYR_PROVIDER_P2P)
		scnprintf(who, sizeof(who), " %s bus_offset %#llx",
			  dev_name(provider->p2p->owner),
			  provider->p2p->bus_offset);
	else if (provider->kind == PHYR_PROVIDER_PRIVATE)
		scnprintf(who, sizeof(who), " interconnect %u",
			  provider->priv.interconnect_id);

	rig_info(test, "  provider %s%s attrs %#x: %s cache=%s cc=%s%s",
		 phyr_provider_kind_name(provider->kind), who, attrs,
		 attrs & PHYR_ATTR_MMIO ? "MMIO" : "memory",
		 rig_cache_names[phyr_attrs_cache(attrs)],
		 rig_cc_names[phyr_attrs_cc(attrs)],
		 attrs & PHYR_ATTR_NO_CPU_MAP ? " no-cpu-map" : "");
}

/* Print a phyr: a provider line at each chunk, then its ranges. */
static void rig_print_phyr(struct kunit *test, const char *name,
			   const struct phyr *phyr)
{
	const struct phyr_provider *provider = NULL;
	struct phyr_iter iter;
	struct phyr_seg seg;
	u32 attrs = 0;

	rig_info(test, "phyr %s: %u chunks, %u ranges, %llu bytes", name,
		 phyr->nr_chunks, phyr->nr_ranges, phyr_len(phyr));
	if (phyr_iter_start(&iter, phyr, 0, phyr_len(phyr)))
		return;
	phyr_for_each_seg(&seg, &iter) {
		if (seg.provider != provider || seg.attrs != attrs) {
			provider = seg.provider;
			attrs = seg.attrs;
			rig_print_provider(test, provider, attrs);
		}
		rig_info(test, "    range paddr %pap len %#zx", &seg.paddr,
			 seg.len);
	}
}

/*
 * Compare @len bytes at @io (an ioremap()) or @mem (the direct map) with the
 * pattern from @pattern_offset on; return how many matched.
 */
static u64 rig_compare(const void __iomem *io, const u8 *mem, size_t len,
		       u64 pattern_offset)
{
	size_t i = 0;

	while (i < len) {
		u64 off = pattern_offset + i;

		if (!(off % 4) && len - i >= 4) {
			u32 v = io ? readl(io + i) : *(const u32 *)(mem + i);

			if (v != rig_pattern(off))
				return i;
			i += 4;
		} else {
			u8 v = io ? readb(io + i) : mem[i];

			if (v != rig_pattern_byte(off))
				return i;
			i++;
		}
	}
	return len;
}

/*
 * Bytes written through at each end of a piece of a segment: enough to see
 * a write land off by any offset the read-back would miss, few enough to be
 * quick on the CMB, whose accesses QEMU emulates one by one.
 */
#define RIG_WRITE_SPAN	256

static void rig_put_byte(void __iomem *io, u8 *mem, size_t i, u8 v)
{
	if (io)
		writeb(v, io + i);
	else
		WRITE_ONCE(mem[i], v);
}

/*
 * Write the complement of the pattern over @n bytes of a segment through
 * its own mapping (@io, an ioremap() of the yielded address, or @mem, the
 * direct map of it), then read them at @expect, the CPU physical address
 * the test appended there, mapped on its own; put the pattern back. The
 * yielded address must be where writes land, not only where reads come
 * from. Return how many bytes were not read back.
 */
static size_t rig_write_through(void __iomem *io, u8 *mem, phys_addr_t expect,
				size_t n, u64 pattern_offset)
{
	void __iomem *other_io = NULL;
	const u8 *other = NULL;
	size_t i, bad = 0;
	u8 v;

	if (io) {
		other_io = ioremap(expect, n);
		if (!other_io)
			return n;
	} else {
		other = phys_to_virt(expect);
	}
	for (i = 0; i < n; i++)
		rig_put_byte(io, mem, i, ~rig_pattern_byte(pattern_offset + i));
	for (i = 0; i < n; i++) {
		v = other_io ? readb(other_io + i) : READ_ONCE(other[i]);
		bad += v != (u8)~rig_pattern_byte(pattern_offset + i);
	}
	for (i = 0; i < n; i++)
		rig_put_byte(io, mem, i, rig_pattern_byte(pattern_offset + i));
	if (other_io)
		iounmap(other_io);
	return bad;
}

/*
 * Write through the first and the last RIG_WRITE_SPAN bytes of @n bytes at
 * @done in a segment (all of them if fewer); return how many were not read
 * back at @expect.
 */
static size_t rig_write_ends(void __iomem *io, u8 *mem, size_t done,
			     phys_addr_t expect, size_t n, u64 pattern_offset)
{
	size_t head = min_t(size_t, n, RIG_WRITE_SPAN), tail, bad;

	bad = rig_write_through(io ? io + done : NULL, mem ? mem + done : NULL,
				expect, head, pattern_offset);
	if (n <= head)
		return bad;
	tail = min_t(size_t, n - head, RIG_WRITE_SPAN);
	done += n - tail;
	return bad + rig_write_through(io ? io + done : NULL,
				       mem ? mem + done : NULL,
				       expect + n - tail, tail,
				       pattern_offset + n - tail);
}

/*
 * Check one yielded segment against the pieces it should cover, from
 * piece *@piece at byte *@inner, and advance them. The segment's bytes
 * are read at seg->paddr: through ioremap() for MMIO, the direct map for
 * RAM (after checking phyr_seg_page()).
 */
static void rig_check_seg(struct kunit *test, const struct phyr_seg *seg,
			  const struct rig_piece *pieces, unsigned int nr_pieces,
			  unsigned int *piece, size_t *inner, u64 *verified,
			  u64 *written)
{
	const struct rig_piece *p;
	void __iomem *io = NULL;
	size_t done = 0, wrong;
	phys_addr_t expect;
	u8 *mem = NULL;

	if (seg->attrs & PHYR_ATTR_MMIO) {
		io = ioremap(seg->paddr, seg->len);
		KUNIT_ASSERT_TRUE_MSG(test, io, "ioremap(%pap, %#zx) failed",
				      &seg->paddr, seg->len);
	} else {
		KUNIT_EXPECT_PTR_EQ(test, phyr_seg_page(seg),
				    pfn_to_page(PHYS_PFN(seg->paddr)));
		mem = phys_to_virt(seg->paddr);
	}

	/* A segment may cover several pieces if the builder merged them. */
	while (done < seg->len) {
		size_t n, good;

		KUNIT_EXPECT_LT(test, *piece, nr_pieces);
		if (*piece >= nr_pieces)
			break;
		p = &pieces[*piece];
		n = min(seg->len - done, p->len - *inner);

		KUNIT_EXPECT_PTR_EQ(test, seg->provider, p->provider);
		KUNIT_EXPECT_EQ(test, seg->attrs, p->attrs);
		KUNIT_EXPECT_EQ(test, seg->paddr + done, p->paddr + *inner);

		good = rig_compare(io ? io + done : NULL, mem ? mem + done : NULL,
				   n, seg->paddr + done - p->pattern_base);
		KUNIT_EXPECT_EQ_MSG(test, good, n,
				    "pattern mismatch at paddr %pap + %#zx",
				    &seg->paddr, done + good);
		*verified += good;

		expect = p->paddr + *inner;
		wrong = rig_write_ends(io, mem, done, expect, n,
				       seg->paddr + done - p->pattern_base);
		KUNIT_EXPECT_EQ_MSG(test, wrong, 0,
				    "%zu bytes written at paddr %pap + %#zx not read back at %pap",
				    wrong, &seg->paddr, done, &expect);
		*written += min_t(size_t, n, 2 * RIG_WRITE_SPAN);
		done += n;
		*inner += n;
		if (*inner == p->len) {
			(*piece)++;
			*inner = 0;
		}
	}

	if (io)
		iounmap(io);
}

/* Iterate every slice and check what each yields against @pieces. */
static void rig_check_slices(struct kunit *test, const char *name,
			     const struct phyr *phyr,
			     const struct rig_piece *pieces,
			     unsigned int nr_pieces,
			     const struct rig_slice *slices,
			     unsigned int nr_slices)
{
	u64 total = 0, all_verified = 0, all_written = 0;
	unsigned int s, i;

	for (i = 0; i < nr_pieces; i++)
		total += pieces[i].len;
	KUNIT_ASSERT_EQ(test, phyr_len(phyr), total);

	for (s = 0; s < nr_slices; s++) {
		u64 offset = slices[s].offset;
		u64 len = slices[s].len ?: total - offset;
		unsigned int piece = 0, nr_segs = 0;
		u64 verified = 0, written = 0, yielded = 0;
		struct phyr_iter iter;
		struct phyr_seg seg;
		size_t inner;

		/* Find the piece and the byte in it where the slice starts. */
		inner = offset;
		while (piece < nr_pieces && inner >= pieces[piece].len)
			inner -= pieces[piece++].len;

		KUNIT_ASSERT_EQ(test, phyr_iter_start(&iter, phyr, offset, len),
				0);
		phyr_for_each_seg(&seg, &iter) {
			KUNIT_ASSERT_GT(test, seg.len, 0);
			rig_check_seg(test, &seg, pieces, nr_pieces, &piece,
				      &inner, &verified, &written);
			yielded += seg.len;
			nr_segs++;
		}
		KUNIT_EXPECT_EQ(test, yielded, len);
		rig_info(test, "check %s slice [%#llx, +%#llx) %s: %u segments, %llu bytes verified, %llu written through: %s",
			 name, offset, len, slices[s].what, nr_segs, verified,
			 written, verified == len ? "ok" : "FAILED");
		all_verified += verified;
		all_written += written;
	}

	/* BEHAVIOURS: P3 (a slice past the end is an error) */
	KUNIT_EXPECT_LT(test, phyr_iter_start(&(struct phyr_iter){}, phyr,
					      total, 1), 0);
	KUNIT_EXPECT_LT(test, phyr_iter_start(&(struct phyr_iter){}, phyr,
					      1, total), 0);
	rig_info(test, "check %s: %u slices, %llu bytes verified and %llu written through in total",
		 name, nr_slices, all_verified, all_written);
}

static void rig_append_pieces(struct kunit *test, struct phyr *phyr,
			      const struct rig_piece *pieces,
			      unsigned int nr_pieces)
{
	unsigned int i;

	for (i = 0; i < nr_pieces; i++)
		KUNIT_ASSERT_EQ(test, phyr_append(phyr, pieces[i].provider,
						  pieces[i].attrs,
						  pieces[i].paddr,
						  pieces[i].len, GFP_KERNEL),
				0);
}

static struct pci_dev *rig_get_ivshmem(struct kunit *test)
{
	struct pci_dev *pdev;

	pdev = phyr_rig_find_ivshmem(test);
	if (pci_resource_len(pdev, PHYR_RIG_IVSHMEM_BAR) != PHYR_RIG_IVSHMEM_LEN)
		kunit_skip(test, "ivshmem BAR %d is %llu bytes, the rig has 64 MiB",
			   PHYR_RIG_IVSHMEM_BAR,
			   (u64)pci_resource_len(pdev, PHYR_RIG_IVSHMEM_BAR));
	/* No driver binds ivshmem: enable memory decoding for the test. */
	KUNIT_ASSERT_EQ(test, pci_enable_device_mem(pdev), 0);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test,
							rig_pci_disable_device,
							pdev), 0);
	return pdev;
}

/*
 * The pattern word at byte @bar_off of a BAR: phyr_rig_p2pmem_alloc() fills
 * P2PDMA memory with the pattern relative to the start of its BAR.
 */
static u32 rig_pattern_word(u64 bar_off, u64 off)
{
	return rig_pattern(bar_off);
}

/* Print the rig's PCI devices and the bridges above each. */
static void phyr_rig_topology(struct kunit *test)
{
	struct pci_dev *pdev = NULL, *nvme, *ivshmem;

	for_each_pci_dev(pdev) {
		struct pci_dev *up;
		char chain[128] = "";
		size_t n = 0;

		for (up = pci_upstream_bridge(pdev); up;
		     up = pci_upstream_bridge(up))
			n += scnprintf(chain + n, sizeof(chain) - n, " <- %s",
				       pci_name(up));
		rig_info(test, "pci %s %04x:%04x class %06x%s%s%s",
			 pci_name(pdev), pdev->vendor, pdev->device,
			 pdev->class, chain,
			 pdev->driver ? " driver " : "",
			 pdev->driver ? pdev->driver->name : "");
	}

	ivshmem = phyr_rig_hold(test, pci_get_device(PCI_VENDOR_ID_IVSHMEM,
						     PCI_DEVICE_ID_IVSHMEM,
						     NULL));
	nvme = phyr_rig_hold(test, pci_get_class(PCI_CLASS_STORAGE_EXPRESS,
						 NULL));
	if (nvme)
		rig_info(test, "nvme %s: P2PDMA memory %s", pci_name(nvme),
			 phyr_rig_has_p2pmem(nvme) ? "published" : "absent");
	if (nvme && ivshmem && phyr_rig_has_p2pmem(nvme))
		rig_info(test, "pci_p2pdma_distance(nvme %s -> ivshmem %s) = %d",
			 pci_name(nvme), pci_name(ivshmem),
			 pci_p2pdma_distance(nvme, &ivshmem->dev, false));
	if (!nvme || !ivshmem)
		kunit_skip(test, "rig devices missing: ivshmem %s, NVMe %s",
			   ivshmem ? "present" : "absent",
			   nvme ? "present" : "absent");
}

/* Deliberately discontiguous and out of order pieces of the ivshmem BAR. */
static const struct {
	u64	bar_off;
	size_t	len;
} rig_ivshmem_ranges[] = {
	{ SZ_8M, SZ_1M },
	{ 0, SZ_4K },
	{ SZ_32M, SZ_2M + SZ_4K },
	{ SZ_64M - SZ_1M, SZ_1M },
};

#define RIG_IVSHMEM_R0	SZ_1M				/* end of range 0 */
#define RIG_IVSHMEM_R1	(RIG_IVSHMEM_R0 + SZ_4K)	/* end of range 1 */
#define RIG_IVSHMEM_R2	(RIG_IVSHMEM_R1 + SZ_2M + SZ_4K)	/* end of range 2 */

static const struct rig_slice rig_ivshmem_slices[] = {
	{ 0, 0, "whole" },
	{ 3, 1021, "inside range 0, odd offset" },
	{ RIG_IVSHMEM_R0 - 5, 10, "across ranges 0-1" },
	{ RIG_IVSHMEM_R1 - 3, SZ_2M + SZ_4K + 3 + 7, "ranges 1-3, odd ends" },
	{ RIG_IVSHMEM_R1 + 1, SZ_2M + SZ_4K - 1, "ending at a range end" },
	{ RIG_IVSHMEM_R2, SZ_1M, "exactly range 3" },
	{ RIG_IVSHMEM_R2 + SZ_1M - 1, 1, "last byte" },
};

/* Iterate and slice a phyr over the ivshmem BAR, reading the host's bytes. */
static void phyr_rig_ivshmem(struct kunit *test)
{
	struct rig_piece pieces[ARRAY_SIZE(rig_ivshmem_ranges)];
	struct phyr_provider *prov;
	resource_size_t start;
	struct pci_dev *pdev;
	struct phyr *phyr;
	unsigned int i;

	pdev = rig_get_ivshmem(test);
	prov = kunit_kzalloc(test, sizeof(*prov), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, prov);
	KUNIT_ASSERT_EQ(test, phyr_provider_init_pci_bar(prov, pdev,
							 PHYR_RIG_IVSHMEM_BAR),
			0);
	KUNIT_EXPECT_EQ(test, prov->kind, PHYR_PROVIDER_P2P);
	/* Upstream's provider of that BAR, from pcim_p2pdma_provider(). */
	KUNIT_EXPECT_PTR_EQ(test, prov->p2p,
			    pcim_p2pdma_provider(pdev, PHYR_RIG_IVSHMEM_BAR));
	KUNIT_EXPECT_PTR_EQ(test, prov->p2p->owner, &pdev->dev);
	start = pci_resource_start(pdev, PHYR_RIG_IVSHMEM_BAR);
	KUNIT_EXPECT_EQ(test, start + prov->p2p->bus_offset,
			(u64)pci_bus_address(pdev, PHYR_RIG_IVSHMEM_BAR));
	rig_info(test, "ivshmem %s BAR %d: %pR bus %#llx", pci_name(pdev),
		 PHYR_RIG_IVSHMEM_BAR,
		 pci_resource_n(pdev, PHYR_RIG_IVSHMEM_BAR),
		 (u64)pci_bus_address(pdev, PHYR_RIG_IVSHMEM_BAR));

	for (i = 0; i < ARRAY_SIZE(pieces); i++)
		pieces[i] = (struct rig_piece){
			.provider = prov,
			.attrs = PHYR_ATTRS_MMIO,
			.paddr = start + rig_ivshmem_ranges[i].bar_off,
			.len = rig_ivshmem_ranges[i].len,
			.pattern_base = start,
		};

	phyr = phyr_rig_phyr_alloc(test);
	rig_append_pieces(test, phyr, pieces, ARRAY_SIZE(pieces));
	/* BEHAVIOURS: P1 (one provider, nothing contiguous: one chunk) */
	KUNIT_EXPECT_EQ(test, phyr->nr_chunks, 1);
	KUNIT_EXPECT_EQ(test, phyr->nr_ranges, ARRAY_SIZE(pieces));
	rig_print_phyr(test, "ivshmem", phyr);

	/* BEHAVIOURS: P2, P3 */
	rig_check_slices(test, "ivshmem", phyr, pieces, ARRAY_SIZE(pieces),
			 rig_ivshmem_slices, ARRAY_SIZE(rig_ivshmem_slices));
}

/*
 * Lengths of the CMB ranges, in phyr order; they are allocated last to first,
 * so that the phyr's ranges go down in address.
 */
static const size_t rig_cmb_lens[] = { SZ_64K, SZ_128K + SZ_4K, SZ_16K };

/* Build a phyr over P2PDMA memory of the NVMe CMB and read it back. */
static void phyr_rig_nvme_cmb(struct kunit *test)
{
	struct rig_piece pieces[ARRAY_SIZE(rig_cmb_lens)];
	struct phyr_provider *prov;
	struct pci_dev *pdev;
	struct phyr *phyr;
	struct rig_slice slices[] = {
		{ 0, 0, "whole" },
		{ 1, SZ_4K, "inside range 0, odd offset" },
		{ SZ_64K - 1, SZ_128K + SZ_4K + 2, "ranges 0-2" },
		{ SZ_64K + 7, SZ_128K + SZ_4K - 7, "ending at a range end" },
		{ 0, 3, "last bytes" },	/* offset set below */
	};
	int bar = -1;
	unsigned int i;

	pdev = phyr_rig_get_nvme(test);
	prov = kunit_kzalloc(test, sizeof(*prov), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, prov);

	for (i = 0; i < ARRAY_SIZE(pieces); i++) {
		unsigned int p = ARRAY_SIZE(pieces) - 1 - i;
		phys_addr_t paddr;
		int this_bar;

		paddr = phyr_rig_p2pmem_alloc(test, pdev, rig_cmb_lens[p],
					      rig_pattern_word, &this_bar);
		if (bar < 0) {
			bar = this_bar;
			KUNIT_ASSERT_EQ(test,
					phyr_provider_init_pci_bar(prov, pdev,
								   bar), 0);
		}
		KUNIT_ASSERT_EQ(test, this_bar, bar);
		/* The provider's bus address is the one P2PDMA gives out. */
		KUNIT_EXPECT_EQ(test, paddr + prov->p2p->bus_offset,
				(u64)pci_p2pmem_virt_to_bus(pdev,
							    phys_to_virt(paddr)));
		pieces[p] = (struct rig_piece){
			.provider = prov,
			.attrs = PHYR_ATTRS_MMIO,
			.paddr = paddr,
			.len = rig_cmb_lens[p],
			.pattern_base = pci_resource_start(pdev, bar),
		};
	}
	rig_info(test, "nvme %s CMB BAR %d: %pR bus %#llx", pci_name(pdev), bar,
		 pci_resource_n(pdev, bar), (u64)pci_bus_address(pdev, bar));

	phyr = phyr_rig_phyr_alloc(test);
	rig_append_pieces(test, phyr, pieces, ARRAY_SIZE(pieces));
	KUNIT_EXPECT_EQ(test, phyr->nr_chunks, 1);
	rig_print_phyr(test, "nvme-cmb", phyr);

	/* BEHAVIOURS: P2, P3 */
	slices[ARRAY_SIZE(slices) - 1].offset = phyr_len(phyr) - 3;
	rig_check_slices(test, "nvme-cmb", phyr, pieces, ARRAY_SIZE(pieces),
			 slices, ARRAY_SIZE(slices));
}

static void rig_free_page(void *page)
{
	__free_page(page);
}

/* A RAM page filled with the pattern at its physical address, for a test. */
static struct page *rig_ram_page(struct kunit *test)
{
	struct page *page = alloc_page(GFP_KERNEL);
	phys_addr_t paddr;
	u32 *words;
	size_t i;

	KUNIT_ASSERT_NOT_NULL(test, page);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, rig_free_page,
							page), 0);
	paddr = page_to_phys(page);
	words = page_address(page);
	for (i = 0; i < PAGE_SIZE / 4; i++)
		words[i] = rig_pattern(paddr + 4 * i);
	return page;
}

/* Ends of pieces 0 and 2 of the mixed phyr below. */
#define RIG_MIXED_R0	(PAGE_SIZE - 100)
#define RIG_MIXED_R2	(RIG_MIXED_R0 + SZ_64K + SZ_8K)

static const struct rig_slice rig_mixed_slices[] = {
	{ 0, 0, "whole" },
	{ RIG_MIXED_R0 - 1, 2, "RAM -> ivshmem" },
	{ RIG_MIXED_R0 + SZ_64K - 4, 8, "ivshmem UC -> WC" },
	{ RIG_MIXED_R2 - 5, SZ_32K + 10, "ivshmem -> CMB -> RAM" },
	{ RIG_MIXED_R2 + SZ_32K, PAGE_SIZE + 1, "RAM -> ivshmem" },
};

/* A phyr mixing RAM, the ivshmem BAR and the NVMe CMB. */
static void phyr_rig_mixed(struct kunit *test)
{
	const u32 wc = PHYR_ATTRS(PHYR_ATTR_MMIO, PHYR_CACHE_WC, PHYR_CC_SHARED);
	struct phyr_provider *ivshmem_prov, *cmb_prov;
	const struct phyr_provider *last = NULL;
	struct pci_dev *ivshmem, *nvme;
	unsigned int nr_chunks = 0;
	struct rig_piece pieces[6];
	resource_size_t start;
	phys_addr_t cmb_paddr;
	struct page *page[2];
	struct phyr_iter iter;
	struct phyr_seg seg;
	struct phyr *phyr;
	u32 last_attrs = 0;
	int bar;

	ivshmem = rig_get_ivshmem(test);
	nvme = phyr_rig_get_nvme(test);
	ivshmem_prov = kunit_kzalloc(test, sizeof(*ivshmem_prov), GFP_KERNEL);
	cmb_prov = kunit_kzalloc(test, sizeof(*cmb_prov), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, ivshmem_prov);
	KUNIT_ASSERT_NOT_NULL(test, cmb_prov);
	KUNIT_ASSERT_EQ(test, phyr_provider_init_pci_bar(ivshmem_prov, ivshmem,
							 PHYR_RIG_IVSHMEM_BAR),
			0);
	start = pci_resource_start(ivshmem, PHYR_RIG_IVSHMEM_BAR);
	cmb_paddr = phyr_rig_p2pmem_alloc(test, nvme, SZ_32K, rig_pattern_word,
					  &bar);
	KUNIT_ASSERT_EQ(test, phyr_provider_init_pci_bar(cmb_prov, nvme, bar),
			0);
	page[0] = rig_ram_page(test);
	page[1] = rig_ram_page(test);

	/*
	 * Every piece differs from the one before in provider or attributes
	 * (cache mode for pieces 1-2), so each starts a chunk.
	 */
	pieces[0] = (struct rig_piece){ &phyr_provider_ram, PHYR_ATTRS_RAM,
		page_to_phys(page[0]) + 100, RIG_MIXED_R0, 0 };
	pieces[1] = (struct rig_piece){ ivshmem_prov, PHYR_ATTRS_MMIO,
		start + SZ_16M, SZ_64K, start };
	pieces[2] = (struct rig_piece){ ivshmem_prov, wc,
		start + SZ_16M + SZ_64K + SZ_4K, SZ_8K, start };
	pieces[3] = (struct rig_piece){ cmb_prov, PHYR_ATTRS_MMIO,
		cmb_paddr, SZ_32K, pci_resource_start(nvme, bar) };
	pieces[4] = (struct rig_piece){ &phyr_provider_ram, PHYR_ATTRS_RAM,
		page_to_phys(page[1]), PAGE_SIZE, 0 };
	pieces[5] = (struct rig_piece){ ivshmem_prov, PHYR_ATTRS_MMIO,
		start + SZ_32M + 12, SZ_4K - 24, start };

	phyr = phyr_rig_phyr_alloc(test);
	/* RAM through the page builder, the rest range by range. */
	KUNIT_ASSERT_EQ(test, phyr_append_pages(phyr, &page[0], 1, 100,
						PAGE_SIZE - 100, GFP_KERNEL),
			0);
	rig_append_pieces(test, phyr, &pieces[1], 3);
	KUNIT_ASSERT_EQ(test, phyr_append_pages(phyr, &page[1], 1, 0,
						PAGE_SIZE, GFP_KERNEL), 0);
	rig_append_pieces(test, phyr, &pieces[5], 1);
	KUNIT_EXPECT_EQ(test, phyr->nr_chunks, ARRAY_SIZE(pieces));
	rig_print_phyr(test, "mixed", phyr);

	/* BEHAVIOURS: P9 (each provider or attribute change is seen once) */
	KUNIT_ASSERT_EQ(test, phyr_iter_start(&iter, phyr, 0, phyr_len(phyr)),
			0);
	phyr_for_each_seg(&seg, &iter) {
		if (seg.provider != last || seg.attrs != last_attrs) {
			KUNIT_ASSERT_LT(test, nr_chunks, ARRAY_SIZE(pieces));
			KUNIT_EXPECT_PTR_EQ(test, seg.provider,
					    pieces[nr_chunks].provider);
			KUNIT_EXPECT_EQ(test, seg.attrs,
					pieces[nr_chunks].attrs);
			last = seg.provider;
			last_attrs = seg.attrs;
			nr_chunks++;
		}
	}
	KUNIT_EXPECT_EQ(test, nr_chunks, ARRAY_SIZE(pieces));
	rig_info(test, "check mixed: %u provider/attribute transitions seen, %u expected",
		 nr_chunks, (unsigned int)ARRAY_SIZE(pieces));

	/* BEHAVIOURS: P2, P3, P9 (slices across provider changes) */
	rig_check_slices(test, "mixed", phyr, pieces, ARRAY_SIZE(pieces),
			 rig_mixed_slices, ARRAY_SIZE(rig_mixed_slices));
}

/*
 * kmemleak reports only objects older than 5 s, and its scan thread first
 * runs a minute after boot, when the rig has already rebooted: so wait, and
 * trigger a scan through its debugfs file, as "echo scan" would. With
 * kmemleak.verbose=1 every leak found is printed on the console, where the
 * run's console check fails on it.
 */
#define RIG_KMEMLEAK_MIN_AGE_MS	5500

static void phyr_rig_kmemleak_scan(struct kunit *test)
{
	static const char cmd[] = "scan";
	struct phyr_rig_debugfs *f;
	unsigned int i;
	ssize_t ret;
	char *buf;

	/* BEHAVIOURS: R1 (a leak shows up on the console) */
	if (!IS_ENABLED(CONFIG_DEBUG_KMEMLEAK))
		kunit_skip(test, "kmemleak is not built in");
	buf = kunit_kzalloc(test, PAGE_SIZE, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, buf);
	f = phyr_rig_debugfs_open(test, "kmemleak", O_RDWR);
	if (IS_ERR(f))
		kunit_skip(test, "kmemleak is off, or no debugfs (%pe)", f);

	/*
	 * An object is reported when a scan finds it unreferenced and
	 * unchanged since the previous scan: so scan twice.
	 */
	msleep(RIG_KMEMLEAK_MIN_AGE_MS);
	for (i = 0; i < 2; i++) {
		ret = phyr_rig_debugfs_write(f, cmd, strlen(cmd));
		KUNIT_EXPECT_EQ(test, ret, strlen(cmd));
	}
	/* The report lists every object kmemleak suspects since boot. */
	ret = phyr_rig_debugfs_read(f, buf, PAGE_SIZE);
	KUNIT_EXPECT_GE(test, ret, 0);
	if (ret > 0)
		KUNIT_FAIL(test, "kmemleak reports leaks:\n%s", buf);
	rig_info(test, "kmemleak: scan done, %s",
		 ret ? "LEAKS REPORTED" : "no leak reported");
}

static struct kunit_case phyr_rig_cases[] = {
	KUNIT_CASE(phyr_rig_topology),
	KUNIT_CASE(phyr_rig_ivshmem),
	KUNIT_CASE(phyr_rig_nvme_cmb),
	KUNIT_CASE(phyr_rig_mixed),
	{}
};

static struct kunit_suite phyr_rig_suite = {
	.name = "phyr_rig",
	.test_cases = phyr_rig_cases,
};

static struct kunit_case phyr_rig_kmemleak_cases[] = {
	KUNIT_CASE_SLOW(phyr_rig_kmemleak_scan),
	{}
};

/* Last, after every other suite of the rig. */
static struct kunit_suite phyr_rig_kmemleak_suite = {
	.name = "phyr_rig_kmemleak",
	.test_cases = phyr_rig_kmemleak_cases,
};

kunit_test_suites(&phyr_rig_suite, &phyr_rig_kmemleak_suite);

MODULE_DESCRIPTION("KUnit tests for phyr on real PCI devices (QEMU rig)");
MODULE_LICENSE("GPL");
MODULE_IMPORT_NS("EXPORTED_FOR_KUNIT_TESTING");
