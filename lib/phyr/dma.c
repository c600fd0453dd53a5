// SPDX-License-Identifier: GPL-2.0-only
/*
 * phyr DMA mapping: map a slice of a phyr for one importer device.
 *
 * The map type is decided once per (provider, device), by upstream's
 * pci_p2pdma_map_type() for P2P, then each type is one call into the layer
 * that owns it: dma_map_phys() for RAM, dma_map_phys() with %DMA_ATTR_MMIO
 * for MMIO through the host bridge, plain arithmetic for PCI bus addresses
 * and private interconnect addresses. Under iommu-dma a multi-range slice
 * of one map type is linked into one IOVA with dma_iova_link() and one
 * IOTLB sync; RAM and MMIO never share an IOVA (as in block/blk-mq-dma.c),
 * so that every link and unlink carries the attributes of what it maps.
 */

#include <linux/dma-direct.h>
#include <linux/dma-map-ops.h>
#include <linux/dma-mapping.h>
#include <linux/err.h>
#include <linux/export.h>
#include <linux/iommu-dma.h>
#include <linux/mm.h>
#include <linux/pci-p2pdma.h>
#include <linux/phyr-dma.h>
#include <linux/slab.h>
#include <linux/swiotlb.h>

static enum phyr_map_type phyr_p2p_map_type(const struct phyr_provider *provider,
					    struct device *dev)
{
	/*
	 * Upstream's pci_p2pdma_map_type() takes the owner for a PCI device,
	 * as pcim_p2pdma_provider() makes it; a provider made any other way
	 * (by hand, as a test's) is reachable by no one.
	 */
	if (!provider->p2p || !provider->p2p->owner ||
	    !dev_is_pci(provider->p2p->owner))
		return PHYR_MAP_NOT_SUPPORTED;

	/* Upstream caches the answer per (provider, device) in its xarray. */
	switch (pci_p2pdma_map_type(provider->p2p, dev)) {
	case PCI_P2PDMA_MAP_BUS_ADDR:
		return PHYR_MAP_BUS_ADDR;
	case PCI_P2PDMA_MAP_THRU_HOST_BRIDGE:
		return PHYR_MAP_THRU_HOST_BRIDGE;
	default:
		return PHYR_MAP_NOT_SUPPORTED;
	}
}

/**
 * phyr_dma_map_type - how a device reaches a provider's memory
 * @provider: the provider of the ranges.
 * @dev: the importer device.
 * @interconnect_id: the private interconnect @dev is attached to, 0 for
 *	none.
 *
 * RAM is always %PHYR_MAP_DMA. A P2P provider gets what the PCI topology
 * allows between the owner of its &struct p2pdma_provider and @dev, as
 * upstream's pci_p2pdma_map_type() (Linux 6.19) decides and caches; never
 * reachable without CONFIG_PCI_P2PDMA, for a device that did not register
 * its P2PDMA state (pcim_p2pdma_init()), or when @dev or the owner of the
 * &struct p2pdma_provider is not a PCI device.
 * A private interconnect provider is %PHYR_MAP_PRIVATE only for an importer
 * naming the same, non-zero, interconnect id.
 *
 * Context: process context the first time a (P2P provider, device) pair
 * is asked (upstream's cache may allocate); any context after that.
 * Return: the map type, %PHYR_MAP_NOT_SUPPORTED if @dev cannot reach the
 * memory.
 */
enum phyr_map_type phyr_dma_map_type(const struct phyr_provider *provider,
				     struct device *dev, u32 interconnect_id)
{
	switch (provider->kind) {
	case PHYR_PROVIDER_RAM:
		return PHYR_MAP_DMA;
	case PHYR_PROVIDER_P2P:
		return phyr_p2p_map_type(provider, dev);
	case PHYR_PROVIDER_PRIVATE:
		if (interconnect_id &&
		    interconnect_id == provider->priv.interconnect_id)
			return PHYR_MAP_PRIVATE;
		return PHYR_MAP_NOT_SUPPORTED;
	}
	return PHYR_MAP_NOT_SUPPORTED;
}
EXPORT_SYMBOL_GPL(phyr_dma_map_type);

/* Why a provider is not reachable, as an errno. */
static int phyr_dma_unreachable(const struct phyr_provider *provider)
{
	/* Not an address space of the device: see phyr_dma_iter_start(). */
	if (provider->kind == PHYR_PROVIDER_PRIVATE)
		return -EREMOTE;
	return -EREMOTEIO;
}

/*
 * Only dma-direct compares physical addresses with the DMA mask, and when
 * it cannot bounce it warns and fails; check first, quietly.
 */
static bool phyr_dma_is_direct(struct device *dev)
{
	return !use_dma_iommu(dev) && !get_dma_ops(dev);
}

/* The highest DMA address @dev can emit. */
static u64 phyr_dma_limit(struct device *dev)
{
	return min_not_zero(*dev->dma_mask, dev->bus_dma_limit);
}

/* Everything that must fail before anything of the slice is mapped. */
static int phyr_dma_check(struct device *dev, enum phyr_map_type type,
			  const struct phyr_seg *seg)
{
	/*
	 * Private (T=1) memory of a TDI is reached only by T=1 requests of
	 * its own TDI: no generic mapping of it means anything (PCIe TDISP).
	 */
	if (phyr_attrs_cc(seg->attrs) == PHYR_CC_PRIVATE)
		return -EACCES;
	if (type == PHYR_MAP_PRIVATE)
		return 0;
	if (!dev->dma_mask)
		return -EINVAL;

	switch (type) {
	case PHYR_MAP_BUS_ADDR:
		/* No IOMMU in between: the bus address itself must fit. */
		if (seg->paddr + seg->provider->p2p->bus_offset + seg->len - 1 >
		    phyr_dma_limit(dev))
			return -EIO;
		return 0;
	case PHYR_MAP_THRU_HOST_BRIDGE:
		if (!phyr_dma_is_direct(dev))
			return 0;
		/* MMIO is never bounced: a device that must bounce fails. */
		if (is_swiotlb_force_bounce(dev))
			return -EOPNOTSUPP;
		if (!dma_capable(dev, seg->paddr, seg->len, false, DMA_ATTR_MMIO))
			return -EIO;
		return 0;
	default:
		if (phyr_dma_is_direct(dev) && !is_swiotlb_active(dev) &&
		    !dma_capable(dev, phys_to_dma(dev, seg->paddr), seg->len,
				 true, 0))
			return -EIO;
		return 0;
	}
}

/* What planning a slice learns, chunk by chunk. */
struct phyr_dma_slice_plan {
	unsigned long		granule_mask;
	enum phyr_map_type	iova_type;
	phys_addr_t		first;		/* first byte of the slice */
	unsigned int		nr;		/* pieces seen */
	unsigned int		max_pieces;	/* bound on the slice's pieces */
	bool			iova;		/* one IOVA may take them all */
	bool			end_aligned;	/* the last piece ends aligned */
};

/*
 * The old way, piece by piece, for the part of a chunk whose flags do not
 * settle it: check each piece and its IOVA alignment.
 */
static int phyr_dma_plan_pieces(struct device *dev, enum phyr_map_type type,
				struct phyr_iter *part,
				struct phyr_dma_slice_plan *plan)
{
	struct phyr_seg seg;
	int ret;

	phyr_for_each_seg(&seg, part) {
		ret = phyr_dma_check(dev, type, &seg);
		if (ret)
			return ret;
		if (!plan->nr++)
			plan->first = seg.paddr;
		else if (!plan->end_aligned || (seg.paddr & plan->granule_mask))
			plan->iova = false;
		plan->end_aligned = !((seg.paddr + seg.len) & plan->granule_mask);
	}
	return 0;
}

/*
 * The same for a whole part at once, from what the builders kept in the
 * chunk (&phyr_chunk.flags): its extent fits the checks as one piece, and,
 * if one IOVA may take the slice, its interior range boundaries are page,
 * so granule, aligned. False if the flags do not settle it.
 */
static bool phyr_dma_plan_chunk(struct device *dev, enum phyr_map_type type,
				const struct phyr *phyr,
				const struct phyr_chunk *chunk,
				const struct phyr_iter *part,
				struct phyr_dma_slice_plan *plan)
{
	u32 need = PHYR_CHUNK_EXTENT;
	const struct phys_vec *last;
	struct phyr_seg extent;
	phys_addr_t start;

	/* Alignment matters only while one IOVA may still take the slice. */
	if (plan->iova) {
		if (plan->granule_mask >= PAGE_SIZE)
			return false;
		need |= PHYR_CHUNK_ALIGNED;
	}
	if ((chunk->flags & need) != need || dev->dma_range_map ||
	    chunk->hi - chunk->lo >= SIZE_MAX)
		return false;
	extent = (struct phyr_seg){
		.provider = chunk->provider,
		.attrs = chunk->attrs,
		.paddr = chunk->lo,
		.len = chunk->hi - chunk->lo + 1,
	};
	if (phyr_dma_check(dev, type, &extent))
		return false;	/* let the pieces say which one fails */

	start = phyr->ranges[part->range].paddr + part->range_off;
	if (!plan->nr)
		plan->first = start;
	else if (!plan->end_aligned || (start & plan->granule_mask))
		plan->iova = false;
	/* Two pieces at least, unless the part lies in one range. */
	plan->nr += 1 + (part->remaining >
			 phyr->ranges[part->range].len - part->range_off);
	/* Only read if a next chunk follows: the part ends with the chunk. */
	last = &phyr->ranges[chunk->first + chunk->nr_ranges - 1];
	plan->end_aligned = !((last->paddr + last->len) & plan->granule_mask);
	return true;
}

/*
 * Check the whole slice (map types, confidential state, bouncing, DMA
 * mask) and decide whether it goes into one IOVA: every piece of one map
 * type, RAM through the DMA API or MMIO through the host bridge, never
 * both (their links and unlinks need different attributes, as in
 * block/blk-mq-dma.c), and each piece but the first starting and each but
 * the last ending on an IOMMU granule, so that the pieces are contiguous in
 * the IOVA. One step per chunk, from what its builder kept (its extent and
 * whether its interior boundaries are page aligned, as blk-mq-dma.c's gap
 * checks decide per request); range by range only for a chunk those do not
 * settle. @offset is where the slice starts in the phyr.
 */
static int phyr_dma_plan(struct phyr_dma_iter *iter, u64 offset,
			 struct phyr_dma_slice_plan *plan)
{
	const struct phyr *phyr = iter->src.phyr;
	struct device *dev = iter->params.dev;
	const struct phyr_provider *provider = NULL;
	enum phyr_map_type type = PHYR_MAP_NOT_SUPPORTED;
	const struct phyr_chunk *chunk;
	struct phyr_iter part = iter->src;
	u64 left = iter->len, chunk_off = offset, take;
	unsigned int c;
	int ret;

	*plan = (struct phyr_dma_slice_plan){
		.granule_mask = dma_get_merge_boundary(dev),
		.iova_type = PHYR_MAP_NOT_SUPPORTED,
		.end_aligned = true,
	};
	plan->iova = plan->granule_mask;
	if (!left)
		return 0;

	for (c = 0; c < part.chunk; c++)
		chunk_off -= phyr->chunks[c].len;
	for (; left; c++, chunk_off = 0) {
		chunk = &phyr->chunks[c];
		take = min(left, chunk->len - chunk_off);
		if (c != part.chunk)
			part = (struct phyr_iter){
				.phyr = phyr,
				.chunk = c,
				.range = chunk->first,
			};
		part.remaining = take;
		left -= take;
		plan->max_pieces += chunk->first + chunk->nr_ranges - part.range;

		if (chunk->provider != provider) {
			provider = chunk->provider;
			type = phyr_dma_map_type(provider, dev,
						 iter->params.interconnect_id);
			if (type == PHYR_MAP_NOT_SUPPORTED)
				return phyr_dma_unreachable(provider);
		}
		if (type != PHYR_MAP_DMA && type != PHYR_MAP_THRU_HOST_BRIDGE)
			plan->iova = false;
		if (!plan->nr)
			plan->iova_type = type;
		else if (type != plan->iova_type)
			plan->iova = false;

		if (phyr_dma_plan_chunk(dev, type, phyr, chunk, &part, plan))
			continue;
		ret = phyr_dma_plan_pieces(dev, type, &part, plan);
		if (ret)
			return ret;
	}
	return 0;
}

/* The attributes of everything linked into @state's IOVA. */
static unsigned long phyr_dma_state_attrs(const struct phyr_dma_state *state,
					  unsigned long attrs)
{
	return state->mmio ? attrs | DMA_ATTR_MMIO : attrs;
}

/* Link the whole slice into one IOVA and sync the IOTLB once. */
static int phyr_dma_link_iova(struct phyr_dma_iter *iter, phys_addr_t first)
{
	const struct phyr_dma_params *p = &iter->params;
	struct phyr_dma_state *state = &iter->state;
	unsigned long attrs = phyr_dma_state_attrs(state, p->attrs);
	struct phyr_iter src = iter->src;
	struct phyr_seg seg;
	int ret;

	if (!dma_iova_try_alloc(p->dev, &state->iova, first, iter->len)) {
		state->mmio = false;
		return 0;	/* map piece by piece instead */
	}

	phyr_for_each_seg(&seg, &src) {
		ret = dma_iova_link(p->dev, &state->iova, seg.paddr,
				    state->iova_len, seg.len, p->dir, attrs);
		if (ret)
			goto err;
		state->iova_len += seg.len;
	}
	ret = dma_iova_sync(p->dev, &state->iova, 0, state->iova_len);
	if (ret)
		goto err;
	return 0;

err:
	phyr_dma_unmap_state(p->dev, state, p->dir, p->attrs);
	return ret;
}

/*
 * The largest segment: the device's max segment size, what one map call
 * may take (swiotlb's slot limit, for instance), rounded down to a page so
 * that only a range's own ends are ever cut off a page boundary (the fix
 * upstream made to dma-buf's fill_sg_entry(): an entry of 4G-1 bytes is
 * refused or corrupts data in DMA descriptor creation).
 */
static unsigned int phyr_dma_max_seg(struct device *dev)
{
	size_t max = dma_get_max_seg_size(dev);
	size_t max_map = dma_max_mapping_size(dev);

	if (max_map && max_map < max)
		max = max_map;
	max = min_t(size_t, max, SZ_2G);
	if (max >= PAGE_SIZE)
		max = ALIGN_DOWN(max, PAGE_SIZE);
	return max;
}

/*
 * Can addresses for @dev be computed here as dma_direct_map_phys()
 * computes them, with no map call and nothing to unmap? Only for
 * dma-direct without DMA ops, when upstream says the device needs no unmap
 * (dma_need_unmap(): nothing to sync, as for a non-coherent device, nothing
 * bounced yet, no DMA_API_DEBUG), nothing is forced through swiotlb, the
 * translation is linear (no bus_dma_region map), nothing (KMSAN) wants to
 * see each mapping, and the attributes ask for nothing special. Whether a
 * range needs bouncing (beyond the DMA mask) is decided per chunk, by
 * phyr_dma_chunk_direct().
 */
static bool phyr_dma_direct_ok(struct device *dev, unsigned long attrs)
{
	return phyr_dma_is_direct(dev) && !dma_need_unmap(dev) &&
	       dev_is_dma_coherent(dev) && !is_swiotlb_force_bounce(dev) &&
	       !dev->dma_range_map && !IS_ENABLED(CONFIG_KMSAN) &&
	       !(attrs & (DMA_ATTR_MMIO | DMA_ATTR_CC_SHARED |
			  DMA_ATTR_REQUIRE_COHERENT));
}

/*
 * May the RAM of @chunk take computed addresses? Its whole extent must be
 * DMA capable, as dma_direct_map_phys() checks each range (an encrypted
 * address for a device that needs unencrypted DMA is not), so that nothing
 * of it would be bounced; else each range goes through dma_map_phys().
 */
static bool phyr_dma_chunk_direct(struct device *dev,
				  const struct phyr_chunk *chunk)
{
	if (!(chunk->flags & PHYR_CHUNK_EXTENT) ||
	    chunk->hi - chunk->lo >= SIZE_MAX)
		return false;
	return dma_capable(dev, phys_to_dma_encrypted(dev, chunk->lo),
			   chunk->hi - chunk->lo + 1, true, 0);
}

static int phyr_dma_start(struct phyr_dma_iter *iter, const struct phyr *phyr,
			  u64 offset, u64 len,
			  const struct phyr_dma_params *params,
			  unsigned int *max_pieces)
{
	struct device *dev = params->dev;
	struct phyr_dma_slice_plan plan;
	bool use_iova;
	int ret;

	iter->state = (struct phyr_dma_state){};
	iter->seg.len = 0;
	iter->len = 0;
	iter->iova_off = 0;
	*max_pieces = 0;
	if (phyr->dma_dev)
		return -EALREADY;
	ret = phyr_iter_start(&iter->src, phyr, offset, len);
	if (ret)
		return ret;

	iter->params = *params;
	iter->provider = NULL;
	iter->map_type = PHYR_MAP_NOT_SUPPORTED;
	iter->chunk = UINT_MAX;
	iter->direct = false;
	iter->len = len;
	iter->boundary = dma_get_seg_boundary(dev);
	iter->max_seg = phyr_dma_max_seg(dev);

	ret = phyr_dma_plan(iter, offset, &plan);
	if (ret) {
		iter->len = 0;
		return ret;
	}
	*max_pieces = plan.max_pieces;

	iter->direct_ok = phyr_dma_direct_ok(dev, params->attrs);
	/* One piece that fits one segment: one map call, no IOVA to manage. */
	use_iova = plan.iova && len <= SIZE_MAX &&
		   (plan.nr > 1 || len > iter->max_seg);
	if (use_iova) {
		iter->state.mmio = plan.iova_type == PHYR_MAP_THRU_HOST_BRIDGE;
		ret = phyr_dma_link_iova(iter, plan.first);
		if (ret)
			iter->len = 0;
		return ret;
	}
	return 0;
}

/**
 * phyr_dma_iter_start - start mapping a slice of a phyr for a device
 * @iter: the iterator, on the caller's stack.
 * @phyr: the phyr; it must not change, and its providers must stay, until
 *	the mapping is undone.
 * @offset: first byte of the slice, in bytes from the start of @phyr.
 * @len: length of the slice in bytes; 0 gives an empty slice.
 * @params: the importer: device, DMA direction, %DMA_ATTR_* flags and
 *	private interconnect id; copied into @iter.
 *
 * The phyr counterpart of blk_rq_dma_map_iter_start() (upstream 6.17).
 * @iter->state is set before anything else, so that phyr_dma_unmap_state()
 * on it is always safe, also after an error. Checks the whole slice first:
 * every provider must be reachable from the device (the map type is
 * decided once per run of ranges of one provider), no range may be
 * confidential (%PHYR_CC_PRIVATE), MMIO must not need bouncing, and RAM,
 * MMIO and PCI bus addresses must fit the DMA mask when nothing translates
 * or bounces them; nothing is mapped if a check fails. Then, if the device
 * is behind iommu-dma, the slice has more than one piece (or is longer
 * than one segment) and every piece has the same map type, every piece is
 * linked into one IOVA with dma_iova_link() (upstream 6.16) and the IOTLB
 * synced once: RAM with the caller's attributes, MMIO with %DMA_ATTR_MMIO
 * (upstream 6.18), never both in one IOVA. Otherwise phyr_dma_iter_next()
 * maps each piece as it yields it; under dma-direct, for a device that
 * needs no unmap (dma_need_unmap()), by computing the RAM's bus addresses.
 * The checks run once per chunk, on what its builder kept (its extent and
 * whether its interior boundaries are page aligned), and range by range
 * only for a chunk that does not settle them.
 *
 * Undo the mapping with phyr_dma_unmap_vec() on every segment yielded and
 * phyr_dma_unmap_state() on @iter->state.
 *
 * Context: process context when a (P2P provider, device) pair is new to
 * upstream's map-type cache (see phyr_dma_map_type()); otherwise any
 * context, allocating nothing but what the DMA API allocates (IOMMU page
 * tables, with GFP_ATOMIC).
 * Return: 0 on success, else nothing is mapped and:
 * -EALREADY if @phyr is a DMA-mapped phyr (phyr_from_dma_sgtable()): its
 * addresses are already DMA addresses and are never mapped again;
 * -ERANGE if the slice does not lie inside @phyr;
 * -EACCES if a range is confidential (%PHYR_CC_PRIVATE): only its TDI's own
 * T=1 requests may reach it, which no generic mapping produces;
 * -EREMOTEIO if a P2P range is not reachable from the device (no PCI path,
 * the provider did not opt in to P2PDMA, or the device is not a PCI device);
 * -EREMOTE if a private interconnect range is not on the importer's
 * interconnect: its addresses mean nothing to the device;
 * -EOPNOTSUPP if MMIO must be mapped through the host bridge for a device
 * whose DMA is always bounced (swiotlb=force): MMIO is never bounced;
 * -EIO if a range (or a PCI bus address) is beyond the device's DMA mask
 * and cannot be bounced or translated;
 * -EINVAL if the device has no DMA mask;
 * the error of dma_iova_link() or dma_iova_sync() (-ENOMEM, -EINVAL, -EPERM).
 */
int phyr_dma_iter_start(struct phyr_dma_iter *iter, const struct phyr *phyr,
			u64 offset, u64 len,
			const struct phyr_dma_params *params)
{
	unsigned int max_pieces;

	return phyr_dma_start(iter, phyr, offset, len, params, &max_pieces);
}
EXPORT_SYMBOL_GPL(phyr_dma_iter_start);

/* The longest prefix of [@dma_addr, + @len) not crossing @boundary. */
static u32 phyr_dma_fit(dma_addr_t dma_addr, u64 len, unsigned long boundary)
{
	/* Bytes after @dma_addr up to the boundary; no +1, it may wrap. */
	u64 room = boundary - (dma_addr & boundary);

	return min(len - 1, room) + 1;
}

/* The %DMA_ATTR_* flags of one segment of its own. */
static unsigned long phyr_dma_vec_attrs(u32 flags, unsigned long attrs)
{
	return flags & PHYR_DMA_VEC_MMIO ? attrs | DMA_ATTR_MMIO : attrs;
}

/* Map the head of the current piece with dma_map_phys(), as one segment. */
static int phyr_dma_map_one(struct phyr_dma_iter *iter, size_t len,
			    struct phyr_dma_vec *vec)
{
	const struct phyr_dma_params *p = &iter->params;
	phys_addr_t paddr = iter->seg.paddr;
	u32 flags = 0, fit;
	dma_addr_t addr;

	if (iter->map_type == PHYR_MAP_THRU_HOST_BRIDGE)
		flags = PHYR_DMA_VEC_MMIO;

	for (;;) {
		addr = dma_map_phys(p->dev, paddr, len, p->dir,
				    phyr_dma_vec_attrs(flags, p->attrs));
		if (dma_mapping_error(p->dev, addr))
			return -EIO;

		*vec = (struct phyr_dma_vec){
			.dma_addr = addr,
			.len = len,
			.flags = flags,
		};
		fit = phyr_dma_fit(addr, len, iter->boundary);
		if (fit == len)
			return 0;
		/* Rare: the address crosses a segment boundary, map less. */
		phyr_dma_unmap_vec(p->dev, vec, p->dir, p->attrs);
		len = fit;
	}
}

/* Decide, once per chunk, how its pieces are mapped. */
static void phyr_dma_enter_chunk(struct phyr_dma_iter *iter)
{
	const struct phyr_chunk *chunk = &iter->src.phyr->chunks[iter->src.chunk];

	iter->chunk = iter->src.chunk;
	if (chunk->provider != iter->provider) {
		iter->provider = chunk->provider;
		iter->map_type = phyr_dma_map_type(chunk->provider,
						   iter->params.dev,
						   iter->params.interconnect_id);
	}
	/*
	 * Bus addresses are computed whatever the device: the slice's check
	 * put every one of them within its DMA mask.
	 */
	iter->direct = iter->map_type == PHYR_MAP_BUS_ADDR ||
		       (iter->direct_ok && iter->map_type == PHYR_MAP_DMA &&
			phyr_dma_chunk_direct(iter->params.dev, chunk));
}

/*
 * The address the device uses for @paddr of the current chunk, which
 * phyr_dma_enter_chunk() found direct: a PCI bus address for P2P under a
 * shared switch, else dma-direct's address of RAM.
 */
static __always_inline dma_addr_t
phyr_dma_direct_addr(const struct phyr_dma_iter *iter, phys_addr_t paddr,
		     u32 *flags)
{
	if (iter->map_type == PHYR_MAP_BUS_ADDR) {
		*flags = PHYR_DMA_VEC_BUS_ADDR;
		return pci_p2pdma_bus_addr_map(iter->provider->p2p, paddr);
	}
	*flags = PHYR_DMA_VEC_DIRECT;
	return phys_to_dma_encrypted(iter->params.dev, paddr);
}

/* phyr_dma_iter_next(), inline in the list and batch loops. */
static __always_inline int phyr_dma_next(struct phyr_dma_iter *iter,
					 struct phyr_dma_vec *vec)
{
	struct phyr_seg *seg = &iter->seg;
	dma_addr_t addr;
	size_t len;
	u32 flags;
	int ret;

	if (dma_use_iova(&iter->state.iova)) {
		addr = iter->state.iova.addr + iter->iova_off;
		if (iter->iova_off == iter->len)
			return 0;
		*vec = (struct phyr_dma_vec){
			.dma_addr = addr,
			.len = phyr_dma_fit(addr,
					    min_t(u64, iter->len - iter->iova_off,
						  iter->max_seg),
					    iter->boundary),
			.flags = PHYR_DMA_VEC_IOVA,
		};
		iter->iova_off += vec->len;
		return 1;
	}

	if (!seg->len) {
		if (!iter->len || !iter->src.remaining)
			return 0;
		if (iter->src.chunk != iter->chunk)
			phyr_dma_enter_chunk(iter);
		phyr_iter_next(&iter->src, seg);
	}

	len = min_t(size_t, seg->len, iter->max_seg);
	if (likely(iter->direct)) {
		addr = phyr_dma_direct_addr(iter, seg->paddr, &flags);
		vec->dma_addr = addr;
		vec->len = phyr_dma_fit(addr, len, iter->boundary);
		vec->flags = flags;
		goto out;
	}
	switch (iter->map_type) {
	case PHYR_MAP_DMA:
	case PHYR_MAP_THRU_HOST_BRIDGE:
		ret = phyr_dma_map_one(iter, len, vec);
		if (ret)
			return ret;
		break;
	case PHYR_MAP_PRIVATE:
		vec->dma_addr = seg->paddr;
		vec->len = phyr_dma_fit(vec->dma_addr, len, iter->boundary);
		vec->flags = PHYR_DMA_VEC_PRIVATE;
		break;
	default:
		/* phyr_dma_iter_start() refused the slice already. */
		return phyr_dma_unreachable(seg->provider);
	}
out:
	seg->paddr += vec->len;
	seg->len -= vec->len;
	return 1;
}

/**
 * phyr_dma_iter_next - map and yield the next segment of the slice
 * @iter: the iterator, set up by phyr_dma_iter_start().
 * @vec: filled with the next segment.
 *
 * The phyr counterpart of blk_rq_dma_map_iter_next() (upstream 6.17).
 * Segments come in the order of the slice. Each is at most the device's
 * max segment size (dma_get_max_seg_size()), capped at 2 GiB and rounded
 * down to a page, and never crosses its segment boundary
 * (dma_get_seg_boundary()). With one IOVA they are cut from it; under
 * dma-direct, for a device that needs no unmap (dma_need_unmap() false:
 * coherent, nothing bounced, no DMA_API_DEBUG), RAM of a chunk whose whole
 * extent is within the DMA mask gets its bus address computed as
 * dma_direct_map_phys() would, with no call and nothing to unmap
 * (%PHYR_DMA_VEC_DIRECT); otherwise
 * RAM pieces are mapped with dma_map_phys(), MMIO through the host bridge
 * with dma_map_phys() and %DMA_ATTR_MMIO (never bounced, IOMMU_MMIO and
 * never IOMMU_CACHE), one call per segment, and bus or interconnect
 * addresses are computed.
 *
 * On error, this segment is not mapped, the earlier ones stay mapped and
 * the iterator stays at the failed segment (every later call fails the
 * same way): the caller unmaps what it got, as after a complete walk.
 *
 * Context: any context; does not sleep, allocates nothing.
 * Return: 1 if @vec was filled, 0 at the end of the slice, -EIO if the DMA
 * API could not map the piece (out of IOVA space, for instance).
 */
int phyr_dma_iter_next(struct phyr_dma_iter *iter, struct phyr_dma_vec *vec)
{
	return phyr_dma_next(iter, vec);
}
EXPORT_SYMBOL_GPL(phyr_dma_iter_next);

/*
 * The fast path's inner loop (dma-direct RAM, PCI bus addresses): whole
 * ranges of the current chunk, each one segment, its address computed by
 * phyr_dma_direct_addr(), until a range needs cutting (the slice's end,
 * the max segment size, a segment boundary), which the general path then
 * takes. Called only at a range's start (no piece left, no offset into it)
 * inside a chunk that phyr_dma_enter_chunk() found direct.
 */
static unsigned int phyr_dma_fill_direct(struct phyr_dma_iter *iter,
					 struct phyr_dma_vec *vecs,
					 unsigned int max_vecs)
{
	const struct phyr *phyr = iter->src.phyr;
	const struct phyr_chunk *chunk = &phyr->chunks[iter->chunk];
	unsigned int r = iter->src.range, end = chunk->first + chunk->nr_ranges;
	u64 remaining = iter->src.remaining;
	const struct phys_vec *pv;
	unsigned int n = 0;
	dma_addr_t addr;
	u32 flags;

	for (; n < max_vecs && r < end; n++, r++) {
		pv = &phyr->ranges[r];
		if (pv->len > remaining || pv->len > iter->max_seg)
			break;
		addr = phyr_dma_direct_addr(iter, pv->paddr, &flags);
		if (phyr_dma_fit(addr, pv->len, iter->boundary) != pv->len)
			break;
		vecs[n] = (struct phyr_dma_vec){
			.dma_addr = addr,
			.len = pv->len,
			.flags = flags,
		};
		remaining -= pv->len;
	}
	/* Where phyr_iter_next() would have left the cursor. */
	iter->src.range = r;
	iter->src.remaining = remaining;
	if (r == end)
		iter->src.chunk++;
	return n;
}

/* phyr_dma_iter_fill(), for the mapped list too. */
static int phyr_dma_fill(struct phyr_dma_iter *iter, struct phyr_dma_vec *vecs,
			 unsigned int max_vecs)
{
	unsigned int n = 0;
	int ret;

	while (n < max_vecs) {
		if (iter->direct && !iter->seg.len && !iter->src.range_off &&
		    iter->src.remaining && iter->src.chunk == iter->chunk) {
			ret = phyr_dma_fill_direct(iter, vecs + n, max_vecs - n);
			n += ret;
			if (ret)
				continue;
		}
		ret = phyr_dma_next(iter, &vecs[n]);
		if (ret < 0 && !n)
			return ret;
		if (ret <= 0)
			break;
		n++;
	}
	return n;
}

/**
 * phyr_dma_iter_fill - map and yield the next segments of the slice
 * @iter: the iterator, set up by phyr_dma_iter_start().
 * @vecs: filled with up to @max_vecs segments, such as an importer's
 *	hardware descriptor ring.
 * @max_vecs: room in @vecs.
 *
 * What @max_vecs calls to phyr_dma_iter_next() would give, in one call:
 * the same segments, mapped the same way, the dma-direct fast path in one
 * tight loop over the ranges. On an error after some segments, those are
 * returned and the next call returns the error, the iterator staying at
 * the failed segment, as phyr_dma_iter_next() does.
 *
 * Context: any context; does not sleep, allocates nothing.
 * Return: the number of segments filled, 0 at the end of the slice (or if
 * @max_vecs is 0); -EIO if the DMA API could not map the first of them.
 */
int phyr_dma_iter_fill(struct phyr_dma_iter *iter, struct phyr_dma_vec *vecs,
		       unsigned int max_vecs)
{
	return phyr_dma_fill(iter, vecs, max_vecs);
}
EXPORT_SYMBOL_GPL(phyr_dma_iter_fill);

/**
 * phyr_dma_unmap_vec - unmap one segment yielded by phyr_dma_iter_next()
 * @dev: the device it was mapped for.
 * @vec: the segment.
 * @dir: the DMA direction it was mapped with.
 * @attrs: the %DMA_ATTR_* flags it was mapped with (the mapping adds
 *	%DMA_ATTR_MMIO to an MMIO segment itself, here as when mapping).
 *
 * A segment of its own is unmapped with dma_unmap_phys(), with
 * %DMA_ATTR_MMIO for MMIO so that no CPU cache maintenance touches a BAR,
 * unless dma_need_unmap() says the device needs no unmap at all (dma-direct
 * with nothing to sync or bounce). A segment of the one IOVA, a PCI bus
 * address and an interconnect address need nothing here: the IOVA is
 * undone as a whole by phyr_dma_unmap_state().
 *
 * Context: any context; does not sleep.
 */
void phyr_dma_unmap_vec(struct device *dev, const struct phyr_dma_vec *vec,
			enum dma_data_direction dir, unsigned long attrs)
{
	if (vec->flags & (PHYR_DMA_VEC_IOVA | PHYR_DMA_VEC_BUS_ADDR |
			  PHYR_DMA_VEC_PRIVATE | PHYR_DMA_VEC_DIRECT))
		return;
	if (!dma_need_unmap(dev))
		return;
	dma_unmap_phys(dev, vec->dma_addr, vec->len, dir,
		       phyr_dma_vec_attrs(vec->flags, attrs));
}
EXPORT_SYMBOL_GPL(phyr_dma_unmap_vec);

/**
 * phyr_dma_unmap_vecs - unmap segments yielded by phyr_dma_iter_next()
 * @dev: the device they were mapped for.
 * @vecs: the segments.
 * @nr_vecs: number of segments in @vecs.
 * @dir: the DMA direction they were mapped with.
 * @attrs: the %DMA_ATTR_* flags they were mapped with.
 *
 * phyr_dma_unmap_vec() on each, asking dma_need_unmap() once: nothing at
 * all is done for a device that needs no unmap (dma-direct with nothing to
 * sync or bounce).
 *
 * Context: any context; does not sleep.
 */
void phyr_dma_unmap_vecs(struct device *dev, const struct phyr_dma_vec *vecs,
			 unsigned int nr_vecs, enum dma_data_direction dir,
			 unsigned long attrs)
{
	unsigned int i;

	if (!dma_need_unmap(dev))
		return;
	for (i = 0; i < nr_vecs; i++)
		phyr_dma_unmap_vec(dev, &vecs[i], dir, attrs);
}
EXPORT_SYMBOL_GPL(phyr_dma_unmap_vecs);

/**
 * phyr_dma_unmap_state - undo the one IOVA of a mapped slice
 * @dev: the device it was mapped for.
 * @state: &phyr_dma_iter.state (or &phyr_dma_map.state); left empty.
 * @dir: the DMA direction it was mapped with.
 * @attrs: the %DMA_ATTR_* flags it was mapped with.
 *
 * Unmaps everything linked into the IOVA with one IOTLB invalidation and
 * frees it, with upstream's dma_iova_destroy() (Linux 6.16), which syncs
 * exactly the linked bytes for the CPU; an IOVA of MMIO is destroyed with
 * %DMA_ATTR_MMIO (recorded in @state at map time, whatever @attrs says), so
 * no cache maintenance ever touches a BAR. Nothing happens if the slice was
 * mapped piece by piece, or if @state is empty.
 *
 * Context: any context; does not sleep.
 */
void phyr_dma_unmap_state(struct device *dev, struct phyr_dma_state *state,
			  enum dma_data_direction dir, unsigned long attrs)
{
	if (!dma_use_iova(&state->iova))
		return;
	if (state->iova_len)
		dma_iova_destroy(dev, &state->iova, state->iova_len, dir,
				 phyr_dma_state_attrs(state, attrs));
	else
		dma_iova_free(dev, &state->iova);
	*state = (struct phyr_dma_state){};
}
EXPORT_SYMBOL_GPL(phyr_dma_unmap_state);

static void phyr_dma_map_unmap(struct phyr_dma_map *map)
{
	phyr_dma_unmap_vecs(map->dev, map->vecs, map->nr_vecs, map->dir,
			    map->attrs);
	phyr_dma_unmap_state(map->dev, &map->state, map->dir, map->attrs);
}

/*
 * Room for the segments of a slice of @len bytes in at most @max_pieces
 * pieces, as mapped by @iter: one per piece, plus one per max segment or
 * segment boundary the slice may cross, so that the list is sized once
 * from the input; only an unlucky boundary layout makes it grow again.
 */
static u64 phyr_dma_map_estimate(struct phyr_dma_iter *iter, u64 len,
				 unsigned int max_pieces)
{
	u64 unit = iter->max_seg;

	if (iter->boundary < unit - 1)
		unit = (u64)iter->boundary + 1;
	if (dma_use_iova(&iter->state.iova))
		max_pieces = 1;
	return max_pieces + div64_u64(len, unit);
}

static int phyr_dma_map_grow(struct phyr_dma_map *map, u64 hint, gfp_t gfp)
{
	unsigned int max;
	void *vecs;

	if (map->max_vecs)
		max = map->max_vecs * 2;
	else
		max = clamp_t(u64, hint, 1, UINT_MAX / 2);
	if (max <= map->max_vecs)
		return -ENOMEM;
	vecs = kvrealloc(map->vecs, array_size(max, sizeof(*map->vecs)), gfp);
	if (!vecs)
		return -ENOMEM;
	map->vecs = vecs;
	map->max_vecs = max;
	return 0;
}

/**
 * phyr_dma_map_create - map a slice of a phyr for a device, as a list
 * @phyr: the phyr; it must not change, and its providers must stay, until
 *	phyr_dma_map_destroy().
 * @offset: first byte of the slice, in bytes from the start of @phyr.
 * @len: length of the slice in bytes.
 * @params: the importer: device, DMA direction, %DMA_ATTR_* flags and
 *	private interconnect id.
 * @gfp: allocation flags for the list.
 *
 * Runs phyr_dma_iter_start() and phyr_dma_iter_next() to the end and keeps
 * the segments, so the list is exactly what the streaming iterator yields
 * for the same slice and importer. The mapping is bound to @params->dev:
 * phyr_dma_map_destroy() takes no device and unmaps through this one. If
 * anything fails half-way, everything mapped so far is unmapped.
 *
 * Context: process context (the list may be vmalloc'ed when large).
 * Return: the mapping, to be undone with phyr_dma_map_destroy(), or an
 * ERR_PTR(): -ENOMEM if the list could not be allocated, or any error of
 * phyr_dma_iter_start() and phyr_dma_iter_next(). Nothing stays mapped on
 * error.
 */
struct phyr_dma_map *phyr_dma_map_create(const struct phyr *phyr, u64 offset,
					 u64 len,
					 const struct phyr_dma_params *params,
					 gfp_t gfp)
{
	struct phyr_dma_iter iter;
	struct phyr_dma_map *map;
	struct phyr_dma_vec vec;
	unsigned int max_pieces;
	int ret;

	map = kzalloc_obj(*map, gfp);
	if (!map)
		return ERR_PTR(-ENOMEM);
	map->dev = params->dev;
	map->dir = params->dir;
	map->attrs = params->attrs;

	ret = phyr_dma_start(&iter, phyr, offset, len, params, &max_pieces);
	if (ret)
		goto err_free;
	map->state = iter.state;

	/* Sized from the slice: one allocation, no doubling from one entry. */
	if (len) {
		ret = phyr_dma_map_grow(map, phyr_dma_map_estimate(&iter, len,
								   max_pieces),
					gfp);
		if (ret) {
			phyr_dma_unmap_state(map->dev, &map->state, map->dir,
					     map->attrs);
			goto err_free;
		}
	}
	for (;;) {
		if (map->nr_vecs < map->max_vecs) {
			ret = phyr_dma_fill(&iter, map->vecs + map->nr_vecs,
					    map->max_vecs - map->nr_vecs);
			if (ret <= 0)
				break;
			map->nr_vecs += ret;
			continue;
		}
		/* Full: grow only if there is one more. */
		ret = phyr_dma_iter_next(&iter, &vec);
		if (ret <= 0)
			break;
		ret = phyr_dma_map_grow(map, 0, gfp);
		if (ret) {
			phyr_dma_unmap_vec(map->dev, &vec, map->dir,
					   map->attrs);
			break;
		}
		map->vecs[map->nr_vecs++] = vec;
	}
	if (ret < 0) {
		phyr_dma_map_unmap(map);
		goto err_free;
	}
	return map;

err_free:
	kvfree(map->vecs);
	kfree(map);
	return ERR_PTR(ret);
}
EXPORT_SYMBOL_GPL(phyr_dma_map_create);

/**
 * phyr_dma_map_destroy - unmap and free a mapped list
 * @map: the mapping, from phyr_dma_map_create().
 *
 * Unmaps every segment (each on its own, or the one IOVA at once with one
 * IOTLB invalidation) through the device @map was made for, and frees
 * @map. It takes no device: a mapping is bound to its device, and unmapping
 * through another device's DMA API would free the wrong IOVA or none at
 * all. It cannot fail, so no teardown path is left with a live mapping.
 *
 * Context: process context (the list may be vmalloc'ed, see kvfree()).
 */
void phyr_dma_map_destroy(struct phyr_dma_map *map)
{
	phyr_dma_map_unmap(map);
	kvfree(map->vecs);
	kfree(map);
}
EXPORT_SYMBOL_GPL(phyr_dma_map_destroy);
