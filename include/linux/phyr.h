/* SPDX-License-Identifier: GPL-2.0 */
/*
 * phyr: a list of physical address ranges grouped by the provider that owns
 * them, replacing the scatterlist for exchanging memory between drivers.
 *
 * A scatterlist can only describe struct page backed CPU memory. P2P MMIO,
 * private interconnect addresses and confidential (TDISP T=1) memory have no
 * struct page and need rules a page cannot carry, so a phyr names, for each
 * chunk of ranges, the provider owning the memory and the attributes it must
 * be accessed with. See Documentation/core-api/phyr.rst.
 */
#ifndef _LINUX_PHYR_H
#define _LINUX_PHYR_H

#include <linux/bitfield.h>
#include <linux/bits.h>
#include <linux/errno.h>
#include <linux/gfp_types.h>
#include <linux/minmax.h>
#include <linux/types.h>

struct bio_vec;
struct device;
struct page;
struct p2pdma_provider;
struct pci_dev;
struct sg_table;

/**
 * enum phyr_provider_kind - who owns a range, and so which rules apply
 * @PHYR_PROVIDER_RAM: system RAM with a struct page for every page; there
 *	is a single provider of this kind, &phyr_provider_ram.
 * @PHYR_PROVIDER_P2P: MMIO of one PCI BAR, reached by peer-to-peer DMA
 *	(PCI P2PDMA) at the range's bus address, or through the host bridge;
 *	the BAR is upstream's &struct p2pdma_provider.
 * @PHYR_PROVIDER_PRIVATE: addresses of a private interconnect; only an
 *	importer attached to the same interconnect may use them.
 */
enum phyr_provider_kind {
	PHYR_PROVIDER_RAM,
	PHYR_PROVIDER_P2P,
	PHYR_PROVIDER_PRIVATE,
};

/**
 * struct phyr_provider - the owner of a set of physical ranges
 * @kind: the kind of memory, see &enum phyr_provider_kind.
 * @p2p: for %PHYR_PROVIDER_P2P, upstream's P2PDMA provider of the BAR, from
 *	pcim_p2pdma_provider() (Linux 6.19): its owner device and the PCI bus
 *	offset (bus address minus CPU physical address) of its ranges. Which
 *	devices may reach it is pci_p2pdma_map_type(@p2p, dev).
 * @priv: for %PHYR_PROVIDER_PRIVATE.
 * @priv.interconnect_id: which private interconnect the addresses belong to.
 *
 * A provider is owned by the exporter (for P2P, the driver bound to the
 * BAR's device, which owns @p2p through devres) and outlives every phyr
 * naming it: a phyr holds a plain pointer and never takes a reference or
 * writes to the provider.
 */
struct phyr_provider {
	enum phyr_provider_kind kind;
	union {
		struct p2pdma_provider	*p2p;
		struct {
			u32		interconnect_id;
		} priv;
	};
};

extern const struct phyr_provider phyr_provider_ram;

/**
 * phyr_provider_kind_name - the name of a provider kind, for logs and reports
 * @kind: the kind.
 *
 * Context: any context.
 * Return: "ram", "p2p" or "private", the words dma-buf fdinfo uses; "?" for
 * a value that is not a kind.
 */
static inline const char *phyr_provider_kind_name(enum phyr_provider_kind kind)
{
	switch (kind) {
	case PHYR_PROVIDER_RAM:
		return "ram";
	case PHYR_PROVIDER_P2P:
		return "p2p";
	case PHYR_PROVIDER_PRIVATE:
		return "private";
	}
	return "?";
}

/**
 * phyr_provider_init_p2p - initialise a PCI P2P MMIO provider
 * @provider: the provider to initialise.
 * @p2p: upstream's provider of the BAR, from pcim_p2pdma_provider(); it
 *	must stay valid as long as @provider is named by a phyr.
 *
 * phyr_provider_init_pci_bar() does the same from a device and a BAR index.
 *
 * Context: any context.
 */
static inline void phyr_provider_init_p2p(struct phyr_provider *provider,
					  struct p2pdma_provider *p2p)
{
	provider->kind = PHYR_PROVIDER_P2P;
	provider->p2p = p2p;
}

/**
 * phyr_provider_init_private - initialise a private interconnect provider
 * @provider: the provider to initialise.
 * @interconnect_id: the interconnect the addresses belong to.
 *
 * Context: any context.
 */
static inline void phyr_provider_init_private(struct phyr_provider *provider,
					      u32 interconnect_id)
{
	provider->kind = PHYR_PROVIDER_PRIVATE;
	provider->priv.interconnect_id = interconnect_id;
}

int phyr_provider_init_pci_bar(struct phyr_provider *provider,
			       struct pci_dev *pdev, int bar);

/*
 * Per-chunk attributes, a u32 bit field. Two ranges merge only when provider
 * and all attributes are equal.
 */
/* Device memory: no struct page, never cached by the IOMMU, never bounced. */
#define PHYR_ATTR_MMIO		BIT(0)
/* The host CPU must not map the range (TDISP private, private interconnect). */
#define PHYR_ATTR_NO_CPU_MAP	BIT(1)
/* Cache mode, an &enum phyr_cache_mode. */
#define PHYR_ATTR_CACHE		GENMASK(3, 2)
/* Confidential state, an &enum phyr_cc_state. */
#define PHYR_ATTR_CC		GENMASK(5, 4)
#define PHYR_ATTR_ALL		GENMASK(5, 0)

/**
 * enum phyr_cache_mode - how a CPU or device mapping may cache the range
 * @PHYR_CACHE_WB: write-back cacheable (RAM).
 * @PHYR_CACHE_WC: write-combined.
 * @PHYR_CACHE_UC: uncached (MMIO registers and BARs by default).
 */
enum phyr_cache_mode {
	PHYR_CACHE_WB,
	PHYR_CACHE_WC,
	PHYR_CACHE_UC,
};

/**
 * enum phyr_cc_state - confidential computing state of the memory
 * @PHYR_CC_SHARED: shared (T=0) memory, accessible by the host.
 * @PHYR_CC_IDE: shared (T=0) traffic protected on the link by PCIe IDE.
 * @PHYR_CC_PRIVATE: private memory of a TDI in the RUN state, reached only
 *	with T=1 requests from the trusted VM (PCIe TDISP); the host must not
 *	map it, so %PHYR_ATTR_NO_CPU_MAP is required with it.
 */
enum phyr_cc_state {
	PHYR_CC_SHARED,
	PHYR_CC_IDE,
	PHYR_CC_PRIVATE,
};

/* Build an attribute word from its fields. */
#define PHYR_ATTRS(flags, cache, cc)					\
	((flags) | FIELD_PREP(PHYR_ATTR_CACHE, (cache)) |		\
	 FIELD_PREP(PHYR_ATTR_CC, (cc)))
/*
 * The same for constant fields, usable in static initialisers (FIELD_PREP()
 * is a statement expression, which those do not allow).
 */
#define PHYR_ATTRS_CONST(flags, cache, cc)				\
	((flags) | FIELD_PREP_CONST(PHYR_ATTR_CACHE, (cache)) |		\
	 FIELD_PREP_CONST(PHYR_ATTR_CC, (cc)))
/* Cacheable shared RAM. */
#define PHYR_ATTRS_RAM		PHYR_ATTRS_CONST(0, PHYR_CACHE_WB, PHYR_CC_SHARED)
/* An uncached, shared PCI BAR. */
#define PHYR_ATTRS_MMIO		PHYR_ATTRS_CONST(PHYR_ATTR_MMIO, PHYR_CACHE_UC, \
						 PHYR_CC_SHARED)

static inline enum phyr_cache_mode phyr_attrs_cache(u32 attrs)
{
	return FIELD_GET(PHYR_ATTR_CACHE, attrs);
}

static inline enum phyr_cc_state phyr_attrs_cc(u32 attrs)
{
	return FIELD_GET(PHYR_ATTR_CC, attrs);
}

/* &phyr_chunk.lo and &phyr_chunk.hi hold the chunk's extent. */
#define PHYR_CHUNK_EXTENT	BIT(0)
/*
 * Every boundary between two ranges of the chunk is page aligned: each range
 * but the last ends, and each but the first starts, on a page boundary.
 */
#define PHYR_CHUNK_ALIGNED	BIT(1)

/**
 * struct phyr_chunk - ranges sharing one provider and one attribute word
 * @provider: the provider owning every range of the chunk.
 * @attrs: %PHYR_ATTR_* bits and fields.
 * @first: index in &phyr.ranges of the chunk's first range.
 * @nr_ranges: number of ranges in the chunk, at least one.
 * @flags: %PHYR_CHUNK_* bits, kept by the builders so that mapping decides
 *	once per chunk what it would otherwise check range by range (as
 *	block/blk-mq-dma.c's gap checks do per request); 0 is always correct
 *	and only makes mapping check each range.
 * @len: sum of the chunk's range lengths, in bytes.
 * @lo: with %PHYR_CHUNK_EXTENT, the lowest first byte of the chunk's ranges.
 * @hi: with %PHYR_CHUNK_EXTENT, the highest last byte of the chunk's ranges.
 */
struct phyr_chunk {
	const struct phyr_provider	*provider;
	u32				attrs;
	unsigned int			first;
	unsigned int			nr_ranges;
	u32				flags;
	u64				len;
	phys_addr_t			lo;
	phys_addr_t			hi;
};

/**
 * struct phyr - a list of physical ranges in chunks of one provider each
 * @chunks: the chunks, in order.
 * @ranges: every chunk's ranges, in order; chunk i owns
 *	ranges[chunks[i].first .. chunks[i].first + chunks[i].nr_ranges).
 * @nr_chunks: chunks in use.
 * @max_chunks: chunks allocated.
 * @nr_ranges: ranges in use.
 * @max_ranges: ranges allocated.
 * @len: total length in bytes, the sum of every range's length.
 * @dma_dev: NULL for a phyr of physical ranges. Set only by
 *	phyr_from_dma_sgtable(): the phyr then wraps a legacy exporter's
 *	DMA-mapped sg_table, every range is a DMA address valid for @dma_dev
 *	only (in chunks of &phyr_provider_dma_mapped), nothing may be appended
 *	to it, and every mapping entry point refuses it with -EALREADY.
 *
 * Invariant, enforced by every builder and trusted by the iterator: no range
 * is empty or wraps, @len does not overflow, consecutive chunks differ in
 * provider or attributes, and within a chunk a range never starts where the
 * previous one ends (physically contiguous ranges are merged). A phyr with
 * @dma_dev set holds DMA addresses, never CPU physical ones.
 *
 * A phyr is not locked: the owner serialises building; once built it is
 * read-only and may be iterated concurrently.
 */
struct phyr {
	struct phyr_chunk	*chunks;
	struct phys_vec		*ranges;
	unsigned int		nr_chunks;
	unsigned int		max_chunks;
	unsigned int		nr_ranges;
	unsigned int		max_ranges;
	u64			len;
	struct device		*dma_dev;
};

void phyr_init(struct phyr *phyr);
void phyr_destroy(struct phyr *phyr);
struct phyr *phyr_alloc(gfp_t gfp);
void phyr_free(struct phyr *phyr);
int phyr_reserve(struct phyr *phyr, unsigned int nr_chunks,
		 unsigned int nr_ranges, gfp_t gfp);

int phyr_append(struct phyr *phyr, const struct phyr_provider *provider,
		u32 attrs, phys_addr_t paddr, size_t len, gfp_t gfp);
int phyr_append_pages(struct phyr *phyr, struct page **pages,
		      unsigned int nr_pages, unsigned int offset, size_t len,
		      gfp_t gfp);
int phyr_append_bvecs(struct phyr *phyr, const struct bio_vec *bvecs,
		      unsigned int nr_bvecs, gfp_t gfp);
int phyr_append_sgtable(struct phyr *phyr, const struct sg_table *sgt,
			gfp_t gfp);

/**
 * phyr_len - total length of a phyr
 * @phyr: the phyr.
 *
 * Return: the sum of all range lengths, in bytes.
 */
static inline u64 phyr_len(const struct phyr *phyr)
{
	return phyr->len;
}

/**
 * struct phyr_seg - one contiguous piece yielded by iteration
 * @provider: the provider owning the piece.
 * @attrs: the chunk's %PHYR_ATTR_* word.
 * @paddr: first byte (a CPU physical address unless @provider is private).
 * @len: length in bytes, never 0.
 */
struct phyr_seg {
	const struct phyr_provider	*provider;
	u32				attrs;
	phys_addr_t			paddr;
	size_t				len;
};

/**
 * struct phyr_iter - cursor over a byte slice of a phyr
 * @phyr: the phyr being iterated.
 * @chunk: index of the current chunk.
 * @range: index of the current range in &phyr.ranges.
 * @range_off: bytes of the current range before the slice's next byte.
 * @remaining: bytes of the slice not yet yielded.
 *
 * Set up by phyr_iter_start(), advanced by phyr_iter_next(). Lives on the
 * caller's stack; iterating allocates nothing and calls nothing.
 */
struct phyr_iter {
	const struct phyr	*phyr;
	unsigned int		chunk;
	unsigned int		range;
	size_t			range_off;
	u64			remaining;
};

int __phyr_iter_start(struct phyr_iter *iter, const struct phyr *phyr,
		      u64 offset, u64 len);

/**
 * phyr_iter_start - set up a cursor over a byte slice of a phyr
 * @iter: the cursor, on the caller's stack.
 * @phyr: the phyr; it must not change while @iter is in use.
 * @offset: first byte of the slice, in bytes from the start of @phyr.
 * @len: length of the slice in bytes; 0 gives an empty slice.
 *
 * Positions @iter on byte @offset, skipping whole chunks, then whole
 * ranges. phyr_iter_next() then yields the slice one range piece at a time,
 * the first and last cut to the slice.
 *
 * A slice from byte 0 is set up inline, so that a loop over a whole phyr
 * can keep @iter in registers; any other is located by __phyr_iter_start().
 *
 * Context: any context; allocates nothing.
 * Return: 0 on success; -ERANGE if the slice does not lie inside @phyr
 * (@offset + @len is beyond phyr_len() or overflows): a slice past the end
 * is an error, never a short read. @iter is then an empty slice.
 */
static inline int phyr_iter_start(struct phyr_iter *iter,
				  const struct phyr *phyr, u64 offset, u64 len)
{
	if (offset || !len || len > phyr->len) {
		/*
		 * Through a copy, so that @iter's address never escapes to
		 * a call and the compiler may keep it in registers.
		 */
		struct phyr_iter at;
		int ret = __phyr_iter_start(&at, phyr, offset, len);

		*iter = at;
		return ret;
	}

	/* Byte 0 is the first byte of the first range of the first chunk. */
	*iter = (struct phyr_iter){
		.phyr = phyr,
		.range = phyr->chunks[0].first,
		.remaining = len,
	};
	return 0;
}

/**
 * phyr_iter_next - yield the next piece of the slice
 * @iter: the cursor, set up by phyr_iter_start().
 * @seg: filled with the next piece: at most one range, cut to the slice.
 *
 * Context: any context; no allocation, no indirect call.
 * Return: true if @seg was filled, false at the end of the slice.
 */
static inline bool phyr_iter_next(struct phyr_iter *iter, struct phyr_seg *seg)
{
	const struct phyr *phyr = iter->phyr;
	const struct phyr_chunk *chunk;
	const struct phys_vec *pv;

	if (!iter->remaining)
		return false;

	chunk = &phyr->chunks[iter->chunk];
	pv = &phyr->ranges[iter->range];
	seg->provider = chunk->provider;
	seg->attrs = chunk->attrs;
	seg->paddr = pv->paddr + iter->range_off;
	seg->len = min_t(u64, pv->len - iter->range_off, iter->remaining);

	iter->remaining -= seg->len;
	iter->range_off = 0;
	if (++iter->range == chunk->first + chunk->nr_ranges)
		iter->chunk++;
	return true;
}

/**
 * phyr_for_each_seg - iterate over every piece of a slice
 * @seg: a &struct phyr_seg filled on each step.
 * @iter: a &struct phyr_iter set up by phyr_iter_start().
 */
#define phyr_for_each_seg(seg, iter)	for (; phyr_iter_next(iter, seg);)

int phyr_aligned_block(const struct phyr *phyr, u64 offset, size_t max_len,
		       struct phyr_seg *block);

struct page *phyr_seg_page(const struct phyr_seg *seg);

#endif /* _LINUX_PHYR_H */
