// SPDX-License-Identifier: GPL-2.0-only
/*
 * The misuse scripts/coccinelle/api/dma_buf_sg_page.cocci reports: an
 * importer reading the CPU side (sg_page(), sg_phys()) of an sg_table it
 * got from dma_buf_map_attachment(). That side belongs to the exporter; it
 * may have no struct page at all (P2P MMIO, the sg_table the dma-buf core
 * makes from a phyr), and with CONFIG_DMABUF_DEBUG the core scrambles it.
 * Importers may only use the DMA addresses. The KUnit case shows that what
 * the importer reads is not the buffer's memory.
 */

#include <kunit/device.h>
#include <kunit/test.h>
#include <linux/dma-buf.h>
#include <linux/dma-mapping.h>
#include <linux/mm.h>
#include <linux/phyr.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>

MODULE_IMPORT_NS("DMA_BUF");

#define SAMPLE_NR_PAGES	4
#define SAMPLE_SIZE	(SAMPLE_NR_PAGES * PAGE_SIZE)
#define SAMPLE_MAX_SEGS	SAMPLE_NR_PAGES

/**
 * struct sample_exporter - a phyr-only exporter over pages of RAM
 * @pages: the memory.
 * @phyr: the phyr of @pages, returned by every map.
 */
struct sample_exporter {
	struct page	*pages[SAMPLE_NR_PAGES];
	struct phyr	phyr;
};

static struct phyr *sample_map_phyr(struct dma_buf_attachment *attach)
{
	struct sample_exporter *exp = attach->dmabuf->priv;

	return &exp->phyr;
}

static void sample_exporter_free(struct sample_exporter *exp)
{
	unsigned int i;

	phyr_destroy(&exp->phyr);
	for (i = 0; i < SAMPLE_NR_PAGES; i++)
		if (exp->pages[i])
			__free_page(exp->pages[i]);
	kfree(exp);
}

static void sample_release(struct dma_buf *dmabuf)
{
	sample_exporter_free(dmabuf->priv);
}

/* What the sample exporter offers: its phyr of RAM, to any importer. */
static const struct dma_buf_caps sample_exporter_caps = {
	.descs = DMA_BUF_DESC_PHYR,
	.providers = BIT(PHYR_PROVIDER_RAM),
	.cc_states = BIT(PHYR_CC_SHARED),
	.lifetimes = BIT(DMA_BUF_LIFETIME_PINNED) |
		     BIT(DMA_BUF_LIFETIME_DYNAMIC) |
		     BIT(DMA_BUF_LIFETIME_REVOCABLE),
};

static const struct dma_buf_ops sample_exporter_ops = {
	.map_phyr = sample_map_phyr,
	.release = sample_release,
};

/*
 * The misuse: the physical address of the first entry and the number of
 * entries with a page, read from the CPU side of a dma-buf's sg_table.
 */
static int sample_cpu_side(struct dma_buf *dmabuf, struct device *dev,
			   phys_addr_t *paddr, unsigned int *nr_pages)
{
	struct dma_buf_attachment *attach;
	struct scatterlist *sg;
	struct sg_table *sgt;
	int ret = 0;
	int i;

	attach = dma_buf_attach(dmabuf, dev);
	if (IS_ERR(attach))
		return PTR_ERR(attach);

	sgt = dma_buf_map_attachment_unlocked(attach, DMA_TO_DEVICE);
	if (IS_ERR(sgt)) {
		ret = PTR_ERR(sgt);
		goto out_detach;
	}

	*paddr = sg_phys(sgt->sgl);
	*nr_pages = 0;
	for_each_sgtable_sg(sgt, sg, i) {
		if (sg_page(sg))
			(*nr_pages)++;
	}

	dma_buf_unmap_attachment_unlocked(attach, sgt, DMA_TO_DEVICE);
out_detach:
	dma_buf_detach(dmabuf, attach);
	return ret;
}

/* The test: the CPU side of the table is not the buffer's memory. */

static struct dma_buf *sample_export(struct kunit *test,
				     struct sample_exporter **expp)
{
	DEFINE_DMA_BUF_EXPORT_INFO(exp_info);
	struct sample_exporter *exp;
	struct dma_buf *dmabuf;
	unsigned int i;
	int ret;

	exp = kzalloc_obj(*exp, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, exp);
	phyr_init(&exp->phyr);
	for (i = 0; i < SAMPLE_NR_PAGES; i++) {
		exp->pages[i] = alloc_page(GFP_KERNEL | __GFP_ZERO);
		if (!exp->pages[i]) {
			sample_exporter_free(exp);
			KUNIT_FAIL_AND_ABORT(test, "out of memory");
		}
	}
	ret = phyr_append_pages(&exp->phyr, exp->pages, SAMPLE_NR_PAGES, 0,
				SAMPLE_SIZE, GFP_KERNEL);
	if (ret) {
		sample_exporter_free(exp);
		KUNIT_FAIL_AND_ABORT(test, "phyr_append_pages: %d", ret);
	}

	exp_info.ops = &sample_exporter_ops;
	exp_info.caps = &sample_exporter_caps;
	exp_info.size = SAMPLE_SIZE;
	exp_info.flags = O_RDWR;
	exp_info.priv = exp;
	dmabuf = dma_buf_export(&exp_info);
	if (IS_ERR(dmabuf)) {
		sample_exporter_free(exp);
		KUNIT_FAIL_AND_ABORT(test, "dma_buf_export: %ld",
				     PTR_ERR(dmabuf));
	}
	*expp = exp;
	return dmabuf;
}

/*
 * BEHAVIOURS: B1, C2 - the sg_table a legacy importer gets from a phyr
 * exporter has a DMA side only: what sg_page() would find is not the buffer.
 */
static void sample_cpu_side_is_not_the_buffer(struct kunit *test)
{
	struct sample_exporter *exp;
	struct dma_buf *dmabuf;
	unsigned int nr_pages;
	struct device *dev;
	phys_addr_t paddr;
	int ret;

	dev = kunit_device_register(test, KBUILD_MODNAME);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, dev);
	dev->dma_mask = &dev->coherent_dma_mask;
	*dev->dma_mask = DMA_BIT_MASK(64);

	dmabuf = sample_export(test, &exp);
	ret = sample_cpu_side(dmabuf, dev, &paddr, &nr_pages);
	KUNIT_EXPECT_EQ(test, ret, 0);
	/* The core's table from a phyr has a DMA side only. */
	if (!IS_ENABLED(CONFIG_DMABUF_DEBUG))
		KUNIT_EXPECT_EQ(test, nr_pages, 0);
	KUNIT_EXPECT_NE(test, (u64)paddr, (u64)page_to_phys(exp->pages[0]));
	dma_buf_put(dmabuf);
}

static struct kunit_case sample_cases[] = {
	KUNIT_CASE(sample_cpu_side_is_not_the_buffer),
	{}
};

static struct kunit_suite sample_suite = {
	.name = KBUILD_MODNAME,
	.test_cases = sample_cases,
};

kunit_test_suite(sample_suite);

MODULE_DESCRIPTION("Sample dma-buf importer misusing sg_page(), for dma_buf_sg_page.cocci");
MODULE_LICENSE("GPL");
