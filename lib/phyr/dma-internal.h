/* SPDX-License-Identifier: GPL-2.0 */
/*
 * lib/phyr/dma.c internals visible to its KUnit suite only (static
 * otherwise): the DMA API calls of the piece-by-piece path, which the
 * suite stubs to count mappings and to fail one half-way.
 */
#ifndef _LIB_PHYR_DMA_INTERNAL_H
#define _LIB_PHYR_DMA_INTERNAL_H

#include <linux/dma-direction.h>
#include <linux/types.h>

struct device;

#if IS_ENABLED(CONFIG_KUNIT)
dma_addr_t phyr_dma_map_range(struct device *dev, phys_addr_t paddr,
			      size_t len, enum dma_data_direction dir,
			      unsigned long attrs, bool mmio);
void phyr_dma_unmap_range(struct device *dev, dma_addr_t dma_addr,
			  size_t len, enum dma_data_direction dir,
			  unsigned long attrs, bool mmio);
#endif

#endif /* _LIB_PHYR_DMA_INTERNAL_H */
