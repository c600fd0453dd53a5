// SPDX-License-Identifier: GPL-2.0-only
/*
 * One IOVA for many physical ranges under iommu-dma: the backport of
 * upstream's dma_iova_*() (6.16) that phyr maps multi-range buffers with.
 * See include/linux/dma-iova.h.
 *
 * A caller allocates one IOVA range for the whole buffer, links each
 * physical range into it at its byte offset without syncing the IOTLB, and
 * syncs once; unlink and destroy unmap with one IOTLB invalidation.
 * Nothing here is used by dma-direct: dma_iova_try_alloc() returns false
 * and the caller maps range by range instead.
 */

#include <linux/dma-iova.h>
#include <linux/dma-map-ops.h>
#include <linux/dma-mapping.h>
#include <linux/iommu.h>
#include <linux/iommu-dma.h>
#include <linux/swiotlb.h>

#include "dma-iommu.h"

/* Bytes between the start of the IOMMU granule and state->addr. */
static size_t dma_iova_pad(struct device *dev, struct dma_iova_state *state)
{
	return state->addr & (iommu_dma_iova_granule(dev) - 1);
}

static size_t dma_iova_align(struct device *dev, size_t len)
{
	return ALIGN(len, iommu_dma_iova_granule(dev));
}

/**
 * dma_iova_try_alloc - allocate one IOVA range for a multi-range mapping
 * @dev: device the mapping is for
 * @state: IOVA state to fill; zeroed on failure
 * @phys: CPU physical address of the first range, only its offset inside
 *	an IOMMU granule matters (state->addr gets the same offset)
 * @size: total length in bytes of everything to be linked
 *
 * Reserve IOVA space for @size bytes starting at @phys's offset in its
 * granule, below the device's DMA mask; nothing is mapped yet. Fails (and
 * the caller maps each range with the regular DMA API instead) when @dev is
 * not translated by iommu-dma (dma-direct, an identity domain), when
 * swiotlb would have to bounce (swiotlb=force, an untrusted device,
 * kmalloc buffers needing a bounce), when the device needs a minimum
 * alignment the IOVA allocator cannot give, or when @size is 0.
 *
 * Context: Any context; does not sleep.
 * Return: true and state->addr set (dma_use_iova() is then true), or
 * false with @state zeroed.
 */
bool dma_iova_try_alloc(struct device *dev, struct dma_iova_state *state,
			phys_addr_t phys, size_t size)
{
	size_t granule, pad;
	dma_addr_t iova;

	state->addr = 0;
	state->__size = 0;

	if (!size || !use_dma_iommu(dev))
		return false;
	if (is_swiotlb_force_bounce(dev) ||
	    iommu_dma_needs_bounce(dev, size, DMA_BIDIRECTIONAL))
		return false;

	granule = iommu_dma_iova_granule(dev);
	if (dma_get_min_align_mask(dev) > granule - 1)
		return false;

	pad = phys & (granule - 1);
	if (size > SIZE_MAX - granule)
		return false;
	size = ALIGN(size + pad, granule);

	iova = iommu_dma_iova_alloc(dev, size, dma_get_mask(dev));
	if (!iova)
		return false;

	state->addr = iova + pad;
	state->__size = size;
	return true;
}
EXPORT_SYMBOL_GPL(dma_iova_try_alloc);

/**
 * dma_iova_free - release an IOVA range that has nothing linked
 * @dev: device passed to dma_iova_try_alloc()
 * @state: IOVA state; zeroed on return
 *
 * For a range whose links were all undone with dma_iova_unlink(), or that
 * was never linked. Use dma_iova_destroy() to unmap and free at once.
 *
 * Context: Any context; does not sleep.
 */
void dma_iova_free(struct device *dev, struct dma_iova_state *state)
{
	if (!dma_use_iova(state))
		return;
	iommu_dma_iova_free(dev, state->addr - dma_iova_pad(dev, state),
			    state->__size);
	state->addr = 0;
	state->__size = 0;
}
EXPORT_SYMBOL_GPL(dma_iova_free);

/**
 * dma_iova_link - map one physical range into an allocated IOVA range
 * @dev: device passed to dma_iova_try_alloc()
 * @state: IOVA state from dma_iova_try_alloc()
 * @phys: CPU physical address of the range
 * @offset: byte offset of the range from state->addr
 * @size: length of the range in bytes
 * @dir: DMA direction
 * @attrs: DMA_ATTR_* flags; %DMA_ATTR_MMIO maps with IOMMU_MMIO and never
 *	IOMMU_CACHE, and does no CPU cache maintenance
 *
 * Map [@phys, @phys + @size) at IOVA state->addr + @offset. The IOTLB is
 * not synced: call dma_iova_sync() once after the last link, before the
 * device uses the mapping. @phys and state->addr + @offset must have the
 * same offset inside an IOMMU granule, and ranges linked at neighbouring
 * offsets must not share a granule (every range but the first starts on a
 * granule boundary and every range but the last ends on one).
 *
 * Context: Any context; does not sleep (page tables are allocated with
 * GFP_ATOMIC).
 * Return: 0, -EINVAL if @state holds no IOVA, the range is outside it or
 * misaligned, -ENOMEM or another error from the IOMMU driver. Nothing of
 * this range is mapped on error; earlier links stay mapped.
 */
int dma_iova_link(struct device *dev, struct dma_iova_state *state,
		  phys_addr_t phys, size_t offset, size_t size,
		  enum dma_data_direction dir, unsigned long attrs)
{
	struct iommu_domain *domain = iommu_get_dma_domain(dev);
	size_t granule, pad, in_granule;
	bool coherent = dev_is_dma_coherent(dev);
	int prot;

	if (!dma_use_iova(state) || !size)
		return -EINVAL;

	granule = iommu_dma_iova_granule(dev);
	pad = dma_iova_pad(dev, state);
	in_granule = (pad + offset) & (granule - 1);
	if ((phys & (granule - 1)) != in_granule)
		return -EINVAL;
	if (offset > state->__size || size > state->__size - offset ||
	    dma_iova_align(dev, pad + offset + size) > state->__size)
		return -EINVAL;

	prot = iommu_dma_prot(dir, coherent, attrs);
	if (attrs & DMA_ATTR_MMIO)
		prot = (prot & ~IOMMU_CACHE) | IOMMU_MMIO;
	else if (!coherent && !(attrs & DMA_ATTR_SKIP_CPU_SYNC))
		arch_sync_dma_for_device(phys, size, dir);

	return iommu_map_nosync(domain, state->addr + offset - in_granule,
				phys - in_granule,
				dma_iova_align(dev, size + in_granule), prot,
				GFP_ATOMIC);
}
EXPORT_SYMBOL_GPL(dma_iova_link);

/**
 * dma_iova_sync - make linked ranges visible to the device
 * @dev: device passed to dma_iova_try_alloc()
 * @state: IOVA state from dma_iova_try_alloc()
 * @offset: byte offset from state->addr of the first linked byte to sync
 * @size: length in bytes to sync, usually everything linked
 *
 * One IOTLB sync (the IOMMU driver's iotlb_sync_map) for all the ranges
 * linked in [@offset, @offset + @size); drivers that need none make this
 * free.
 *
 * Context: Any context; does not sleep.
 * Return: 0, -EINVAL if @state holds no IOVA, or the IOMMU driver's error.
 * On error the links stay mapped; undo them with dma_iova_destroy().
 */
int dma_iova_sync(struct device *dev, struct dma_iova_state *state,
		  size_t offset, size_t size)
{
	size_t pad;

	if (!dma_use_iova(state))
		return -EINVAL;
	pad = dma_iova_pad(dev, state);
	return iommu_sync_map(iommu_get_dma_domain(dev),
			      state->addr - pad + offset,
			      dma_iova_align(dev, pad + size));
}
EXPORT_SYMBOL_GPL(dma_iova_sync);

/* Unmap [offset, offset + size) of the IOVA range with one IOTLB sync. */
static void dma_iova_unmap(struct device *dev, struct dma_iova_state *state,
			   size_t offset, size_t size,
			   enum dma_data_direction dir, unsigned long attrs)
{
	struct iommu_domain *domain = iommu_get_dma_domain(dev);
	size_t granule = iommu_dma_iova_granule(dev);
	size_t in_granule = (dma_iova_pad(dev, state) + offset) & (granule - 1);
	dma_addr_t start = state->addr + offset - in_granule;
	struct iommu_iotlb_gather gather;
	size_t len, unmapped;

	len = dma_iova_align(dev, size + in_granule);

	if (!(attrs & (DMA_ATTR_MMIO | DMA_ATTR_SKIP_CPU_SYNC)) &&
	    !dev_is_dma_coherent(dev)) {
		dma_addr_t iova;

		for (iova = start; iova < start + len; iova += granule)
			arch_sync_dma_for_cpu(iommu_iova_to_phys(domain, iova),
					      granule, dir);
	}

	iommu_iotlb_gather_init(&gather);
	unmapped = iommu_unmap_fast(domain, start, len, &gather);
	WARN_ON(unmapped != len);
	iommu_iotlb_sync(domain, &gather);
}

/**
 * dma_iova_unlink - unmap part of an IOVA range, keeping the IOVA
 * @dev: device passed to dma_iova_try_alloc()
 * @state: IOVA state from dma_iova_try_alloc()
 * @offset: byte offset from state->addr of what was linked
 * @size: length in bytes, covering whole links
 * @dir: DMA direction of the links
 * @attrs: DMA_ATTR_* flags the links were made with
 *
 * Unmap with one IOTLB invalidation. The IOVA stays allocated for new
 * links; release it with dma_iova_free().
 *
 * Context: Any context; does not sleep.
 */
void dma_iova_unlink(struct device *dev, struct dma_iova_state *state,
		     size_t offset, size_t size, enum dma_data_direction dir,
		     unsigned long attrs)
{
	if (WARN_ON_ONCE(!dma_use_iova(state)) || !size)
		return;
	dma_iova_unmap(dev, state, offset, size, dir, attrs);
}
EXPORT_SYMBOL_GPL(dma_iova_unlink);

/**
 * dma_iova_destroy - unmap everything linked and free the IOVA range
 * @dev: device passed to dma_iova_try_alloc()
 * @state: IOVA state from dma_iova_try_alloc(); zeroed on return
 * @mapped_len: bytes linked from offset 0 (0 if nothing was linked)
 * @dir: DMA direction of the links
 * @attrs: DMA_ATTR_* flags the links were made with
 *
 * Unmap [0, @mapped_len) with one IOTLB invalidation, then free the IOVA.
 * Also the error path after a failed dma_iova_link(): pass the bytes
 * linked so far.
 *
 * Context: Any context; does not sleep.
 */
void dma_iova_destroy(struct device *dev, struct dma_iova_state *state,
		      size_t mapped_len, enum dma_data_direction dir,
		      unsigned long attrs)
{
	if (!dma_use_iova(state))
		return;
	if (mapped_len)
		dma_iova_unmap(dev, state, 0, mapped_len, dir, attrs);
	dma_iova_free(dev, state);
}
EXPORT_SYMBOL_GPL(dma_iova_destroy);
