// SPDX-License-Identifier: GPL-2.0-only
/*
 * phyr DMA mapping: map a slice of a phyr for one importer device.
 *
 * The map type is decided once per (provider, device), then each type is
 * one call into the layer that owns it: the DMA API for RAM, the resource
 * path (or %DMA_ATTR_MMIO) for MMIO through the host bridge, plain
 * arithmetic for PCI bus addresses and private interconnect addresses.
 * Under iommu-dma a multi-range slice is linked into one IOVA with one
 * IOTLB sync; anywhere else each piece is one DMA API call.
 */

#include <kunit/static_stub.h>
#include <kunit/visibility.h>
#include <linux/dma-direct.h>
#include <linux/dma-iova.h>
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

#include "dma-internal.h"

static enum phyr_map_type phyr_p2p_map_type(const struct phyr_provider *provider,
					    struct device *dev)
{
	if (!provider->p2p.pdev)
		return PHYR_MAP_NOT_SUPPORTED;

	switch (pci_p2pdma_provider_map_type(provider->p2p.pdev, dev)) {
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
 * allows between its &pci_dev and @dev, as pci_p2pdma_provider_map_type()
 * decides (the provider-based pci_p2pdma_map_type(provider, dev) of
 * upstream 6.19); never reachable without CONFIG_PCI_P2PDMA or when @dev is
 * not a PCI device. A private interconnect provider is %PHYR_MAP_PRIVATE
 * only for an importer naming the same, non-zero, interconnect id.
 *
 * Context: any context; does not sleep.
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

/* Everything that must fail before anything of the slice is mapped. */
static int phyr_dma_check(struct device *dev, enum phyr_map_type type,
			  const struct phyr_seg *seg)
{
	if (type != PHYR_MAP_DMA && type != PHYR_MAP_THRU_HOST_BRIDGE)
		return 0;
	if (!dev->dma_mask)
		return -EINVAL;

	if (type == PHYR_MAP_THRU_HOST_BRIDGE) {
		/* MMIO is never bounced: a device that must bounce fails. */
		if (is_swiotlb_force_bounce(dev))
			return -EOPNOTSUPP;
		if (phyr_dma_is_direct(dev) &&
		    !dma_capable(dev, seg->paddr, seg->len, false))
			return -EIO;
		return 0;
	}

	if (phyr_dma_is_direct(dev) && !is_swiotlb_active(dev) &&
	    !dma_capable(dev, phys_to_dma(dev, seg->paddr), seg->len, true))
		return -EIO;
	return 0;
}

/*
 * Check the whole slice (map types, bouncing, DMA mask) and decide whether
 * it goes into one IOVA: every piece through the DMA API, and each piece
 * but the first starting and each but the last ending on an IOMMU granule,
 * so that the pieces are contiguous in the IOVA.
 */
static int phyr_dma_plan(struct phyr_dma_iter *iter, bool *use_iova,
			 phys_addr_t *first)
{
	struct device *dev = iter->params.dev;
	unsigned long granule_mask = dma_get_merge_boundary(dev);
	const struct phyr_provider *provider = NULL;
	enum phyr_map_type type = PHYR_MAP_NOT_SUPPORTED;
	struct phyr_iter src = iter->src;
	bool iova = granule_mask, end_aligned = true;
	unsigned int nr = 0;
	struct phyr_seg seg;
	int ret;

	phyr_for_each_seg(&seg, &src) {
		if (seg.provider != provider) {
			provider = seg.provider;
			type = phyr_dma_map_type(provider, dev,
						 iter->params.interconnect_id);
			if (type == PHYR_MAP_NOT_SUPPORTED)
				return phyr_dma_unreachable(provider);
		}
		ret = phyr_dma_check(dev, type, &seg);
		if (ret)
			return ret;

		if (type != PHYR_MAP_DMA && type != PHYR_MAP_THRU_HOST_BRIDGE)
			iova = false;
		if (!nr++)
			*first = seg.paddr;
		else if (!end_aligned || (seg.paddr & granule_mask))
			iova = false;
		end_aligned = !((seg.paddr + seg.len) & granule_mask);
	}

	/* One piece that fits one segment: one map call, no IOVA to manage. */
	*use_iova = iova && iter->len <= SIZE_MAX &&
		    (nr > 1 || iter->len > iter->max_seg);
	return 0;
}

/* Link the whole slice into one IOVA and sync the IOTLB once. */
static int phyr_dma_link_iova(struct phyr_dma_iter *iter, phys_addr_t first)
{
	const struct phyr_dma_params *p = &iter->params;
	struct phyr_dma_state *state = &iter->state;
	struct phyr_iter src = iter->src;
	struct phyr_seg seg;
	unsigned long attrs;
	int ret;

	if (!dma_iova_try_alloc(p->dev, &state->iova, first, iter->len))
		return 0;	/* map piece by piece instead */

	phyr_for_each_seg(&seg, &src) {
		attrs = p->attrs;
		if (seg.attrs & PHYR_ATTR_MMIO)
			attrs |= DMA_ATTR_MMIO;
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
 * Checks the whole slice first: every provider must be reachable from the
 * device (the map type is decided once per run of ranges of one
 * provider), MMIO must not need bouncing, and RAM must fit the DMA mask
 * when it cannot be bounced; nothing is mapped if a check fails. Then, if
 * the device is behind iommu-dma and the slice has more than one piece
 * (or is longer than one segment), every piece is linked into one IOVA
 * with dma_iova_link() (upstream 6.16) and the IOTLB synced once; RAM with
 * the caller's attributes, MMIO with %DMA_ATTR_MMIO (upstream 6.18).
 * Otherwise phyr_dma_iter_next() maps each piece as it yields it.
 *
 * Undo the mapping with phyr_dma_unmap_vec() on every segment yielded and
 * phyr_dma_unmap_state() on @iter->state.
 *
 * Context: any context; does not sleep and allocates nothing but what the
 * DMA API allocates (IOMMU page tables, with GFP_ATOMIC).
 * Return: 0 on success, else nothing is mapped and:
 * -EALREADY if @phyr is a DMA-mapped phyr (phyr_from_dma_sgtable()): its
 * addresses are already DMA addresses and are never mapped again;
 * -ERANGE if the slice does not lie inside @phyr;
 * -EREMOTEIO if a P2P range is not reachable from the device (no PCI path,
 * or the device is not a PCI device);
 * -EREMOTE if a private interconnect range is not on the importer's
 * interconnect: its addresses mean nothing to the device;
 * -EOPNOTSUPP if MMIO must be mapped through the host bridge for a device
 * whose DMA is always bounced (swiotlb=force): MMIO is never bounced;
 * -EIO if a range is beyond the device's DMA mask and cannot be bounced;
 * -EINVAL if the device has no DMA mask;
 * the error of dma_iova_link() or dma_iova_sync() (-ENOMEM, -EINVAL).
 */
int phyr_dma_iter_start(struct phyr_dma_iter *iter, const struct phyr *phyr,
			u64 offset, u64 len,
			const struct phyr_dma_params *params)
{
	struct device *dev = params->dev;
	phys_addr_t first = 0;
	size_t max_map;
	bool use_iova;
	int ret;

	if (phyr->dma_dev)
		return -EALREADY;
	ret = phyr_iter_start(&iter->src, phyr, offset, len);
	if (ret)
		return ret;

	iter->state = (struct phyr_dma_state){};
	iter->params = *params;
	iter->seg.len = 0;
	iter->provider = NULL;
	iter->map_type = PHYR_MAP_NOT_SUPPORTED;
	iter->len = len;
	iter->iova_off = 0;
	iter->boundary = dma_get_seg_boundary(dev);
	iter->max_seg = dma_get_max_seg_size(dev);
	/* What one map call may take (swiotlb's slot limit, for instance). */
	max_map = dma_max_mapping_size(dev);
	if (max_map && max_map < iter->max_seg)
		iter->max_seg = max_map;

	ret = phyr_dma_plan(iter, &use_iova, &first);
	if (ret)
		return ret;
	if (use_iova)
		return phyr_dma_link_iova(iter, first);
	return 0;
}
EXPORT_SYMBOL_GPL(phyr_dma_iter_start);

/* The longest prefix of [@dma_addr, + @len) not crossing @boundary. */
static u32 phyr_dma_fit(dma_addr_t dma_addr, u64 len, unsigned long boundary)
{
	/* Bytes after @dma_addr up to the boundary; no +1, it may wrap. */
	u64 room = boundary - (dma_addr & boundary);

	return min(len - 1, room) + 1;
}

/*
 * The two DMA API calls of the piece-by-piece path, for RAM or for MMIO
 * through the host bridge. Tests stub them (KUnit static stubs) to count
 * what is mapped and to fail a map half-way.
 */
VISIBLE_IF_KUNIT dma_addr_t phyr_dma_map_range(struct device *dev,
					       phys_addr_t paddr, size_t len,
					       enum dma_data_direction dir,
					       unsigned long attrs, bool mmio)
{
	KUNIT_STATIC_STUB_REDIRECT(phyr_dma_map_range, dev, paddr, len, dir,
				   attrs, mmio);
	if (mmio)
		return dma_map_resource(dev, paddr, len, dir, attrs);
	return dma_map_page_attrs(dev, pfn_to_page(PHYS_PFN(paddr)),
				  offset_in_page(paddr), len, dir, attrs);
}
EXPORT_SYMBOL_IF_KUNIT(phyr_dma_map_range);

VISIBLE_IF_KUNIT void phyr_dma_unmap_range(struct device *dev,
					   dma_addr_t dma_addr, size_t len,
					   enum dma_data_direction dir,
					   unsigned long attrs, bool mmio)
{
	KUNIT_STATIC_STUB_REDIRECT(phyr_dma_unmap_range, dev, dma_addr, len,
				   dir, attrs, mmio);
	if (mmio)
		dma_unmap_resource(dev, dma_addr, len, dir, attrs);
	else
		dma_unmap_page_attrs(dev, dma_addr, len, dir, attrs);
}
EXPORT_SYMBOL_IF_KUNIT(phyr_dma_unmap_range);

/* Map the head of the current piece through the DMA API, as one segment. */
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
		addr = phyr_dma_map_range(p->dev, paddr, len, p->dir, p->attrs,
					  flags);
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

/**
 * phyr_dma_iter_next - map and yield the next segment of the slice
 * @iter: the iterator, set up by phyr_dma_iter_start().
 * @vec: filled with the next segment.
 *
 * The phyr counterpart of blk_rq_dma_map_iter_next() (upstream 6.17).
 * Segments come in the order of the slice. Each is at most the device's
 * max segment size (dma_get_max_seg_size()) and never crosses its segment
 * boundary (dma_get_seg_boundary()). With one IOVA they are cut from it;
 * otherwise RAM pieces are mapped with dma_map_page_attrs(), MMIO through
 * the host bridge with dma_map_resource() (IOMMU_MMIO, never bounced), one
 * call per segment, and bus or interconnect addresses are computed.
 *
 * On error, this segment is not mapped and the earlier ones stay mapped:
 * the caller unmaps what it got, as after a complete walk.
 *
 * Context: any context; does not sleep, allocates nothing.
 * Return: 1 if @vec was filled, 0 at the end of the slice, -EIO if the DMA
 * API could not map the piece (out of IOVA space, for instance).
 */
int phyr_dma_iter_next(struct phyr_dma_iter *iter, struct phyr_dma_vec *vec)
{
	struct phyr_seg *seg = &iter->seg;
	size_t len;
	u32 flags;
	int ret;

	if (dma_use_iova(&iter->state.iova)) {
		dma_addr_t addr = iter->state.iova.addr + iter->iova_off;

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
		if (!phyr_iter_next(&iter->src, seg))
			return 0;
		if (seg->provider != iter->provider) {
			iter->provider = seg->provider;
			iter->map_type =
				phyr_dma_map_type(seg->provider,
						  iter->params.dev,
						  iter->params.interconnect_id);
		}
	}

	len = min_t(size_t, seg->len, iter->max_seg);
	switch (iter->map_type) {
	case PHYR_MAP_DMA:
	case PHYR_MAP_THRU_HOST_BRIDGE:
		ret = phyr_dma_map_one(iter, len, vec);
		if (ret)
			return ret;
		break;
	case PHYR_MAP_BUS_ADDR:
	case PHYR_MAP_PRIVATE:
		flags = PHYR_DMA_VEC_PRIVATE;
		vec->dma_addr = seg->paddr;
		if (iter->map_type == PHYR_MAP_BUS_ADDR) {
			flags = PHYR_DMA_VEC_BUS_ADDR;
			vec->dma_addr += seg->provider->p2p.bus_offset;
		}
		vec->len = phyr_dma_fit(vec->dma_addr, len, iter->boundary);
		vec->flags = flags;
		break;
	default:
		/* phyr_dma_iter_start() refused the slice already. */
		return phyr_dma_unreachable(seg->provider);
	}

	seg->paddr += vec->len;
	seg->len -= vec->len;
	return 1;
}
EXPORT_SYMBOL_GPL(phyr_dma_iter_next);

/**
 * phyr_dma_unmap_vec - unmap one segment yielded by phyr_dma_iter_next()
 * @dev: the device it was mapped for.
 * @vec: the segment.
 * @dir: the DMA direction it was mapped with.
 * @attrs: the %DMA_ATTR_* flags it was mapped with.
 *
 * A segment of its own is unmapped with dma_unmap_page_attrs() or, for
 * MMIO, dma_unmap_resource(). A segment of the one IOVA, a PCI bus address
 * and an interconnect address need nothing here: the IOVA is undone as a
 * whole by phyr_dma_unmap_state().
 *
 * Context: any context; does not sleep.
 */
void phyr_dma_unmap_vec(struct device *dev, const struct phyr_dma_vec *vec,
			enum dma_data_direction dir, unsigned long attrs)
{
	if (vec->flags & (PHYR_DMA_VEC_IOVA | PHYR_DMA_VEC_BUS_ADDR |
			  PHYR_DMA_VEC_PRIVATE))
		return;
	phyr_dma_unmap_range(dev, vec->dma_addr, vec->len, dir, attrs,
			     vec->flags & PHYR_DMA_VEC_MMIO);
}
EXPORT_SYMBOL_GPL(phyr_dma_unmap_vec);

/**
 * phyr_dma_unmap_state - undo the one IOVA of a mapped slice
 * @dev: the device it was mapped for.
 * @state: &phyr_dma_iter.state (or &phyr_dma_map.state); left empty.
 * @dir: the DMA direction it was mapped with.
 * @attrs: the %DMA_ATTR_* flags it was mapped with.
 *
 * Unmaps everything linked into the IOVA with one IOTLB invalidation and
 * frees it, with dma_iova_destroy() (upstream 6.16). Nothing happens if
 * the slice was mapped piece by piece.
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
				 attrs);
	else
		dma_iova_free(dev, &state->iova);
	*state = (struct phyr_dma_state){};
}
EXPORT_SYMBOL_GPL(phyr_dma_unmap_state);

static void phyr_dma_map_unmap(struct phyr_dma_map *map)
{
	unsigned int i;

	for (i = 0; i < map->nr_vecs; i++)
		phyr_dma_unmap_vec(map->dev, &map->vecs[i], map->dir,
				   map->attrs);
	phyr_dma_unmap_state(map->dev, &map->state, map->dir, map->attrs);
}

static int phyr_dma_map_grow(struct phyr_dma_map *map, u64 hint, gfp_t gfp)
{
	unsigned int max;
	void *vecs;

	if (map->max_vecs)
		max = map->max_vecs * 2;
	else
		max = clamp_t(u64, hint, 1, 1024);
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
 * for the same slice and importer. The mapping is bound to @params->dev.
 * If anything fails half-way, everything mapped so far is unmapped.
 *
 * Context: as allowed by @gfp; the DMA API calls do not sleep.
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
	int ret;

	map = kzalloc(sizeof(*map), gfp);
	if (!map)
		return ERR_PTR(-ENOMEM);
	map->dev = params->dev;
	map->dir = params->dir;
	map->attrs = params->attrs;

	ret = phyr_dma_iter_start(&iter, phyr, offset, len, params);
	if (ret)
		goto err_free;
	map->state = iter.state;

	while ((ret = phyr_dma_iter_next(&iter, &vec)) > 0) {
		if (map->nr_vecs == map->max_vecs) {
			ret = phyr_dma_map_grow(map,
						div64_u64(len, iter.max_seg) + 1,
						gfp);
			if (ret) {
				phyr_dma_unmap_vec(map->dev, &vec, map->dir,
						   map->attrs);
				break;
			}
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
 * @dev: the device the caller believes it was made for.
 *
 * Unmaps every segment (each on its own, or the one IOVA at once with one
 * IOTLB invalidation) and frees @map. A mapping is bound to its device:
 * unmapping through another device's DMA API would free the wrong IOVA or
 * none at all, so it is refused and @map stays mapped.
 *
 * Context: process or atomic context; does not sleep.
 * Return: 0, or -EINVAL if @dev is not the device @map was made for.
 */
int phyr_dma_map_destroy(struct phyr_dma_map *map, struct device *dev)
{
	if (dev != map->dev)
		return -EINVAL;
	phyr_dma_map_unmap(map);
	kvfree(map->vecs);
	kfree(map);
	return 0;
}
EXPORT_SYMBOL_GPL(phyr_dma_map_destroy);
