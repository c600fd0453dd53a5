// SPDX-License-Identifier: GPL-2.0-only
/*
 * phyr sg_table compat: a DMA-mapped sg_table from a phyr slice for legacy
 * importers, and a phyr wrapping a legacy exporter's DMA-mapped sg_table
 * for phyr importers. Both sides of the table are what the legacy code
 * expects, and nothing more: no struct page is made up for memory that
 * has none.
 */

#include <linux/err.h>
#include <linux/export.h>
#include <linux/phyr-dma.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>

/*
 * The provider of a DMA-mapped phyr's ranges: DMA addresses are a device's
 * own address space, like a private interconnect whose id (0) no importer
 * can name, so generic code never takes them for CPU physical addresses
 * and phyr_seg_page() refuses them.
 */
const struct phyr_provider phyr_provider_dma_mapped = {
	.kind = PHYR_PROVIDER_PRIVATE,
	.priv = { .interconnect_id = 0 },
};
EXPORT_SYMBOL_GPL(phyr_provider_dma_mapped);

/* An sg_table made by phyr_dma_map_sgt(), with the mapping it shows. */
struct phyr_sgt {
	struct sg_table		sgt;
	struct phyr_dma_map	*map;
};

/**
 * phyr_dma_map_sgt - map a slice of a phyr as a DMA-mapped sg_table
 * @phyr: the phyr; it must not change, and its providers must stay, until
 *	phyr_dma_unmap_sgt().
 * @offset: first byte of the slice, in bytes from the start of @phyr.
 * @len: length of the slice in bytes, not 0.
 * @params: the legacy importer: device, DMA direction, %DMA_ATTR_* flags.
 *	Its interconnect id is ignored: see -EREMOTE below.
 * @gfp: allocation flags for the table.
 *
 * For importers that only understand an sg_table, like
 * dma_buf_phys_vec_to_sgt() in upstream 6.19. The slice is mapped with
 * phyr_dma_map_create() and each segment becomes one entry: the entries
 * cover the slice in order, each at most the device's max segment size
 * and never crossing its segment boundary, so an 8 GiB buffer gives
 * entries whose unsigned int lengths never overflow.
 *
 * The table has a DMA side only, as upstream's dma_buf_phys_vec_to_sgt()
 * makes it: every entry has no page, offset 0 and length 0
 * (sg_set_page(sg, NULL, 0, 0); on architectures without
 * CONFIG_NEED_SG_DMA_LENGTH the length is the DMA length), so that nothing
 * takes MMIO for a struct page; &sg_table.nents is the number of segments,
 * so for_each_sgtable_dma_sg() walks them, and &sg_table.orig_nents is 0,
 * so that CPU-side walkers and dma_sync_sgtable_for_*() see nothing. Every
 * entry but the last of a range is a multiple of the page size (segments
 * are cut at most at 2 GiB, page aligned). PCI bus addresses are marked
 * with sg_dma_mark_bus_address(). The importer must not map the table
 * again, nor sync it through the CPU side; only phyr_dma_unmap_sgt()
 * undoes it.
 *
 * Context: as allowed by @gfp; the DMA API calls do not sleep.
 * Return: the table, or an ERR_PTR(), nothing mapped:
 * -EREMOTE if the slice holds private interconnect addresses: an sg_table
 * has no way to say that its DMA addresses belong to another address space,
 * so they are refused even for an importer on that interconnect (distinct
 * from -EREMOTEIO, an unreachable P2P provider);
 * -EACCES if the slice holds confidential (%PHYR_CC_PRIVATE) ranges;
 * -EINVAL if @len is 0;
 * -ENOMEM if out of memory;
 * any error of phyr_dma_map_create(), such as -EALREADY for a phyr that is
 * already DMA-mapped or -ERANGE for a slice outside @phyr.
 */
struct sg_table *phyr_dma_map_sgt(const struct phyr *phyr, u64 offset,
				  u64 len, const struct phyr_dma_params *params,
				  gfp_t gfp)
{
	struct phyr_dma_params legacy = *params;
	struct phyr_dma_map *map;
	struct scatterlist *sg;
	struct phyr_iter iter;
	struct phyr_sgt *ps;
	struct phyr_seg seg;
	unsigned int i;
	int ret;

	if (!len)
		return ERR_PTR(-EINVAL);
	if (phyr->dma_dev)
		return ERR_PTR(-EALREADY);
	ret = phyr_iter_start(&iter, phyr, offset, len);
	if (ret)
		return ERR_PTR(ret);
	phyr_for_each_seg(&seg, &iter)
		if (seg.provider->kind == PHYR_PROVIDER_PRIVATE)
			return ERR_PTR(-EREMOTE);

	ps = kzalloc_obj(*ps, gfp);
	if (!ps)
		return ERR_PTR(-ENOMEM);
	legacy.interconnect_id = 0;
	map = phyr_dma_map_create(phyr, offset, len, &legacy, gfp);
	if (IS_ERR(map)) {
		ret = PTR_ERR(map);
		goto err_free;
	}
	ret = sg_alloc_table(&ps->sgt, map->nr_vecs, gfp);
	if (ret)
		goto err_unmap;

	for_each_sg(ps->sgt.sgl, sg, map->nr_vecs, i) {
		const struct phyr_dma_vec *vec = &map->vecs[i];

		sg_set_page(sg, NULL, 0, 0);
		sg_dma_address(sg) = vec->dma_addr;
		sg_dma_len(sg) = vec->len;
		if (vec->flags & PHYR_DMA_VEC_BUS_ADDR)
			sg_dma_mark_bus_address(sg);
	}
	ps->sgt.nents = map->nr_vecs;
	ps->sgt.orig_nents = 0;
	ps->map = map;
	return &ps->sgt;

err_unmap:
	phyr_dma_map_destroy(map);
err_free:
	kfree(ps);
	return ERR_PTR(ret);
}
EXPORT_SYMBOL_GPL(phyr_dma_map_sgt);

/**
 * phyr_dma_unmap_sgt - unmap and free a table made by phyr_dma_map_sgt()
 * @sgt: the table.
 *
 * Unmaps the slice through the device it was mapped for, as
 * phyr_dma_map_destroy() does, and frees the table. It cannot fail.
 *
 * Context: process context.
 */
void phyr_dma_unmap_sgt(struct sg_table *sgt)
{
	struct phyr_sgt *ps = container_of(sgt, struct phyr_sgt, sgt);
	unsigned int nents = ps->map->nr_vecs;

	phyr_dma_map_destroy(ps->map);
	/* sg_free_table() walks orig_nents entries. */
	ps->sgt.orig_nents = nents;
	sg_free_table(&ps->sgt);
	kfree(ps);
}
EXPORT_SYMBOL_GPL(phyr_dma_unmap_sgt);

/**
 * phyr_from_dma_sgtable - wrap a legacy exporter's DMA-mapped sg_table
 * @phyr: an empty phyr (phyr_init()).
 * @sgt: the table, already mapped for @dev; its DMA side is read, over
 *	&sg_table.nents entries, and its CPU side is ignored.
 * @dev: the device the table is mapped for.
 * @gfp: allocation flags, used when the arrays must grow.
 *
 * For a phyr importer attached to a legacy exporter. Each DMA segment
 * becomes a range whose address is the DMA address, in chunks of
 * &phyr_provider_dma_mapped: %PHYR_ATTR_NO_CPU_MAP, plus %PHYR_ATTR_MMIO
 * and %PHYR_CACHE_UC for segments marked as PCI bus addresses. Segments
 * contiguous in DMA space merge, so a range may exceed 4 GiB. &phyr.dma_dev
 * is set to @dev: iterating yields the DMA addresses, and every mapping
 * entry point (phyr_dma_iter_start(), phyr_dma_map_create(),
 * phyr_dma_map_sgt()) refuses the phyr with -EALREADY, since mapping DMA
 * addresses again would be mapping the wrong memory. @sgt must stay mapped
 * while @phyr is in use; phyr_destroy() makes @phyr a plain empty phyr.
 *
 * Context: as allowed by @gfp.
 * Return: 0 on success, else @phyr is left empty and:
 * -EINVAL if @phyr is not empty, @dev is NULL, the table has no DMA
 * segment or a segment is empty;
 * -EOVERFLOW if a DMA address does not fit in a phys_addr_t, a segment
 * wraps around, or the total overflows;
 * -ENOMEM if the arrays could not grow.
 */
int phyr_from_dma_sgtable(struct phyr *phyr, const struct sg_table *sgt,
			  struct device *dev, gfp_t gfp)
{
	struct scatterlist *sg;
	phys_addr_t addr;
	unsigned int i;
	u32 attrs;
	int ret;

	if (phyr->nr_chunks || phyr->dma_dev || !dev || !sgt->nents)
		return -EINVAL;

	for_each_sgtable_dma_sg(sgt, sg, i) {
		attrs = PHYR_ATTRS(PHYR_ATTR_NO_CPU_MAP, PHYR_CACHE_WB,
				   PHYR_CC_SHARED);
		if (sg_dma_is_bus_address(sg))
			attrs = PHYR_ATTRS(PHYR_ATTR_NO_CPU_MAP | PHYR_ATTR_MMIO,
					   PHYR_CACHE_UC, PHYR_CC_SHARED);
		addr = sg_dma_address(sg);
		ret = -EOVERFLOW;
		if (addr != sg_dma_address(sg))
			goto err;
		ret = phyr_append(phyr, &phyr_provider_dma_mapped, attrs, addr,
				  sg_dma_len(sg), gfp);
		if (ret)
			goto err;
	}
	phyr->dma_dev = dev;
	return 0;

err:
	/* Keep the arrays for phyr_destroy(), drop what was appended. */
	phyr->nr_chunks = 0;
	phyr->nr_ranges = 0;
	phyr->len = 0;
	return ret;
}
EXPORT_SYMBOL_GPL(phyr_from_dma_sgtable);
