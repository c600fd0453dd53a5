/* SPDX-License-Identifier: GPL-2.0 */
/*
 * phyr DMA mapping: a phyr, or a slice of it, mapped for one importer
 * device, as a streaming iterator or as a mapped list, and the sg_table
 * compat for legacy importers and exporters. See
 * Documentation/core-api/phyr.rst.
 */
#ifndef _LINUX_PHYR_DMA_H
#define _LINUX_PHYR_DMA_H

#include <linux/bits.h>
#include <linux/dma-direction.h>
#include <linux/dma-mapping.h>
#include <linux/phyr.h>
#include <linux/types.h>

struct device;
struct sg_table;

/**
 * enum phyr_map_type - how a device reaches the memory of a provider
 * @PHYR_MAP_NOT_SUPPORTED: it cannot: a P2P provider without a usable PCI
 *	path to the device, or a private interconnect the device is not on.
 * @PHYR_MAP_DMA: system RAM, through the DMA API (dma-direct, swiotlb or
 *	iommu-dma).
 * @PHYR_MAP_BUS_ADDR: P2P under a PCI switch shared with the device: the
 *	PCI bus address (CPU physical address plus the provider's bus
 *	offset), with no IOMMU call.
 * @PHYR_MAP_THRU_HOST_BRIDGE: P2P across the host bridge: mapped as MMIO
 *	(dma_map_phys() or dma_iova_link() with %DMA_ATTR_MMIO), IOMMU_MMIO
 *	and never IOMMU_CACHE, never bounced.
 * @PHYR_MAP_PRIVATE: a private interconnect the device is attached to: the
 *	interconnect address is used as is.
 *
 * The decision depends only on the (provider, device) pair, so it is made
 * once per run of ranges of one provider, never per range; for P2P it is
 * upstream's pci_p2pdma_map_type(), which caches it per pair.
 */
enum phyr_map_type {
	PHYR_MAP_NOT_SUPPORTED,
	PHYR_MAP_DMA,
	PHYR_MAP_BUS_ADDR,
	PHYR_MAP_THRU_HOST_BRIDGE,
	PHYR_MAP_PRIVATE,
};

enum phyr_map_type phyr_dma_map_type(const struct phyr_provider *provider,
				     struct device *dev, u32 interconnect_id);

/**
 * struct phyr_dma_params - the importer a slice is mapped for
 * @dev: the importer device; its DMA mask, max segment size and segment
 *	boundary apply to every address produced.
 * @dir: the DMA direction.
 * @attrs: %DMA_ATTR_* flags passed to the DMA API.
 * @interconnect_id: the private interconnect @dev is attached to, 0 for
 *	none; only ranges of a %PHYR_PROVIDER_PRIVATE provider with this id
 *	can be mapped (as %PHYR_MAP_PRIVATE).
 */
struct phyr_dma_params {
	struct device		*dev;
	enum dma_data_direction	dir;
	unsigned long		attrs;
	u32			interconnect_id;
};

/* Part of the slice's one IOVA; undone by phyr_dma_unmap_state(). */
#define PHYR_DMA_VEC_IOVA	BIT(0)
/* A PCI bus address (%PHYR_MAP_BUS_ADDR): nothing to unmap. */
#define PHYR_DMA_VEC_BUS_ADDR	BIT(1)
/* MMIO mapped on its own with %DMA_ATTR_MMIO (%PHYR_MAP_THRU_HOST_BRIDGE). */
#define PHYR_DMA_VEC_MMIO	BIT(2)
/* A private interconnect address (%PHYR_MAP_PRIVATE): nothing to unmap. */
#define PHYR_DMA_VEC_PRIVATE	BIT(3)
/*
 * A dma-direct address computed as dma_direct_map_phys() would, for a
 * device that needs no unmap (dma_need_unmap() false): nothing to unmap.
 */
#define PHYR_DMA_VEC_DIRECT	BIT(4)

/**
 * struct phyr_dma_vec - one mapped segment, ready for a hardware descriptor
 * @dma_addr: first byte, a DMA address valid for the importer device only
 *	(an IOVA, a dma-direct address, a PCI bus address or an interconnect
 *	address, see @flags).
 * @len: length in bytes; never 0, never above the device's max segment
 *	size, and the segment never crosses the device's segment boundary.
 * @flags: %PHYR_DMA_VEC_* bits: how the segment is unmapped.
 *
 * A segment with no flag is one dma_map_phys() call of its own.
 */
struct phyr_dma_vec {
	dma_addr_t	dma_addr;
	u32		len;
	u32		flags;
};

/**
 * struct phyr_dma_state - what unmapping a slice needs beside its segments
 * @iova: the one IOVA the slice was linked into, if dma_use_iova().
 * @iova_len: bytes linked into @iova.
 * @mmio: @iova holds MMIO (linked with %DMA_ATTR_MMIO), not RAM; an IOVA
 *	never holds both, and is unlinked with the attributes it was linked
 *	with, whatever the caller passes.
 */
struct phyr_dma_state {
	struct dma_iova_state	iova;
	u64			iova_len;
	bool			mmio;
};

/**
 * struct phyr_dma_iter - streaming DMA mapping of a slice of a phyr
 * @state: public: what phyr_dma_unmap_state() needs once the caller is
 *	done; copy it out if the iterator does not live as long as the
 *	mapping.
 * @src: private: the cursor over the phyr slice.
 * @params: private: the importer.
 * @seg: private: what is left of the current piece of the slice.
 * @provider: private: the provider @map_type was decided for.
 * @map_type: private: the cached decision for @provider.
 * @chunk: private: the chunk @direct was decided for.
 * @direct_ok: private: the device takes computed dma-direct addresses.
 * @direct: private: the current chunk's addresses are computed, with no
 *	call and nothing to unmap: its RAM's dma-direct addresses, or its PCI
 *	bus addresses.
 * @max_seg: private: largest segment, in bytes.
 * @boundary: private: the device's segment boundary mask.
 * @len: private: length of the slice, in bytes.
 * @iova_off: private: next byte of the IOVA to yield, with an IOVA.
 *
 * Lives on the caller's stack. Set up by phyr_dma_iter_start(), which
 * checks the whole slice and, under iommu-dma, maps it into one IOVA;
 * advanced by phyr_dma_iter_next(), which maps as it goes otherwise.
 * Nothing is allocated per range.
 */
struct phyr_dma_iter {
	struct phyr_dma_state		state;
	struct phyr_iter		src;
	struct phyr_dma_params		params;
	struct phyr_seg			seg;
	const struct phyr_provider	*provider;
	enum phyr_map_type		map_type;
	unsigned int			chunk;
	bool				direct_ok;
	bool				direct;
	unsigned int			max_seg;
	unsigned long			boundary;
	u64				len;
	u64				iova_off;
};

int phyr_dma_iter_start(struct phyr_dma_iter *iter, const struct phyr *phyr,
			u64 offset, u64 len,
			const struct phyr_dma_params *params);
int phyr_dma_iter_next(struct phyr_dma_iter *iter, struct phyr_dma_vec *vec);
int phyr_dma_iter_fill(struct phyr_dma_iter *iter, struct phyr_dma_vec *vecs,
		       unsigned int max_vecs);
void phyr_dma_unmap_vec(struct device *dev, const struct phyr_dma_vec *vec,
			enum dma_data_direction dir, unsigned long attrs);
void phyr_dma_unmap_vecs(struct device *dev, const struct phyr_dma_vec *vecs,
			 unsigned int nr_vecs, enum dma_data_direction dir,
			 unsigned long attrs);
void phyr_dma_unmap_state(struct device *dev, struct phyr_dma_state *state,
			  enum dma_data_direction dir, unsigned long attrs);

/**
 * struct phyr_dma_map - a slice of a phyr mapped for one device, as a list
 * @dev: the device the mapping was made for; phyr_dma_map_destroy()
 *	unmaps through it and no other.
 * @dir: the DMA direction it was made with.
 * @attrs: the %DMA_ATTR_* flags it was made with.
 * @state: the one IOVA, if one was used.
 * @nr_vecs: number of segments in @vecs.
 * @max_vecs: private: room in @vecs.
 * @vecs: the segments, in the order of the slice; exactly what
 *	phyr_dma_iter_next() yields for the same slice and device.
 */
struct phyr_dma_map {
	struct device		*dev;
	enum dma_data_direction	dir;
	unsigned long		attrs;
	struct phyr_dma_state	state;
	unsigned int		nr_vecs;
	unsigned int		max_vecs;
	struct phyr_dma_vec	*vecs;
};

struct phyr_dma_map *phyr_dma_map_create(const struct phyr *phyr, u64 offset,
					 u64 len,
					 const struct phyr_dma_params *params,
					 gfp_t gfp);
void phyr_dma_map_destroy(struct phyr_dma_map *map);

/* sg_table compat, lib/phyr/sgt.c */
extern const struct phyr_provider phyr_provider_dma_mapped;

struct sg_table *phyr_dma_map_sgt(const struct phyr *phyr, u64 offset,
				  u64 len, const struct phyr_dma_params *params,
				  gfp_t gfp);
void phyr_dma_unmap_sgt(struct sg_table *sgt);
int phyr_from_dma_sgtable(struct phyr *phyr, const struct sg_table *sgt,
			  struct device *dev, gfp_t gfp);

#endif /* _LINUX_PHYR_DMA_H */
