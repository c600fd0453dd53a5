/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One IOVA for many physical ranges: allocate an IOVA range once, link the
 * ranges into it, flush the IOTLB once.
 *
 * An internal backport of the two-step DMA API that upstream Linux gained
 * in 6.16, with the same names and signatures so that moving to a newer
 * base only deletes this header and drivers/iommu/dma-iova.c. Only
 * iommu-dma implements it; every other DMA path makes dma_iova_try_alloc()
 * return false and the caller falls back to per-range mapping.
 */
#ifndef _LINUX_DMA_IOVA_H
#define _LINUX_DMA_IOVA_H

#include <linux/dma-direction.h>
#include <linux/errno.h>
#include <linux/types.h>

struct device;

/**
 * struct dma_iova_state - one IOVA range being filled by dma_iova_link()
 * @addr: DMA (IOVA) address for the device of offset 0 of the range; valid
 *	only while dma_use_iova() is true
 * @__size: size of the allocated range in bytes; 0 when no IOVA is in use.
 *	Private to the implementation.
 *
 * Zero-initialise before dma_iova_try_alloc().
 */
struct dma_iova_state {
	dma_addr_t addr;
	u64 __size;
};

/**
 * dma_use_iova - whether @state holds an allocated IOVA range
 * @state: state passed to dma_iova_try_alloc()
 *
 * Context: Any context.
 * Return: true between a successful dma_iova_try_alloc() and the matching
 * dma_iova_free() or dma_iova_destroy(), false otherwise.
 */
static inline bool dma_use_iova(struct dma_iova_state *state)
{
	return state->__size != 0;
}

#ifdef CONFIG_IOMMU_DMA
bool dma_iova_try_alloc(struct device *dev, struct dma_iova_state *state,
			phys_addr_t phys, size_t size);
void dma_iova_free(struct device *dev, struct dma_iova_state *state);
int dma_iova_link(struct device *dev, struct dma_iova_state *state,
		  phys_addr_t phys, size_t offset, size_t size,
		  enum dma_data_direction dir, unsigned long attrs);
int dma_iova_sync(struct device *dev, struct dma_iova_state *state,
		  size_t offset, size_t size);
void dma_iova_unlink(struct device *dev, struct dma_iova_state *state,
		     size_t offset, size_t size, enum dma_data_direction dir,
		     unsigned long attrs);
void dma_iova_destroy(struct device *dev, struct dma_iova_state *state,
		      size_t mapped_len, enum dma_data_direction dir,
		      unsigned long attrs);
#else /* CONFIG_IOMMU_DMA */
static inline bool dma_iova_try_alloc(struct device *dev,
				      struct dma_iova_state *state,
				      phys_addr_t phys, size_t size)
{
	state->addr = 0;
	state->__size = 0;
	return false;
}

static inline void dma_iova_free(struct device *dev,
				 struct dma_iova_state *state)
{
}

static inline int dma_iova_link(struct device *dev,
				struct dma_iova_state *state,
				phys_addr_t phys, size_t offset, size_t size,
				enum dma_data_direction dir,
				unsigned long attrs)
{
	return -EOPNOTSUPP;
}

static inline int dma_iova_sync(struct device *dev,
				struct dma_iova_state *state,
				size_t offset, size_t size)
{
	return -EOPNOTSUPP;
}

static inline void dma_iova_unlink(struct device *dev,
				   struct dma_iova_state *state,
				   size_t offset, size_t size,
				   enum dma_data_direction dir,
				   unsigned long attrs)
{
}

static inline void dma_iova_destroy(struct device *dev,
				    struct dma_iova_state *state,
				    size_t mapped_len,
				    enum dma_data_direction dir,
				    unsigned long attrs)
{
}
#endif /* CONFIG_IOMMU_DMA */

#endif /* _LINUX_DMA_IOVA_H */
