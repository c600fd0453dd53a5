// SPDX-License-Identifier: GPL-2.0-only
/*
 * A dma-buf importer for scripts/coccinelle/api/dma_buf_phyr.cocci. The
 * input is a legacy importer: it attaches with dma_buf_attach(), maps the
 * buffer as an sg_table and collects the DMA segments for its device with
 * for_each_sgtable_dma_sg(). The output of spatch, checked in beside it,
 * is the same importer on the phyr API. The KUnit case checks what the
 * importer collected against the exporter's pages, so that both files are
 * held to the same test (tools/testing/phyr/cocci-check.sh).
 *
 * The exporter is phyr-only over pages of RAM: legacy importers get the
 * dma-buf core's sg_table compat, phyr importers the phyr itself.
 */

#include <kunit/device.h>
#include <kunit/test.h>
#include <linux/dma-buf.h>
#include <linux/dma-direct.h>
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

/**
 * struct sample_importer - what the importer saw of the buffer
 * @dev: its device.
 * @nr_segs: DMA segments collected.
 * @dma_addr: their DMA addresses, for @dev.
 * @len: their lengths, in bytes.
 */
struct sample_importer {
	struct device	*dev;
	unsigned int	nr_segs;
	dma_addr_t	dma_addr[SAMPLE_MAX_SEGS];
	unsigned int	len[SAMPLE_MAX_SEGS];
};

/* The importer: map @dmabuf for imp->dev and note its DMA segments. */
static int sample_import(struct sample_importer *imp, struct dma_buf *dmabuf)
{
	struct dma_buf_attachment *attach;
	struct scatterlist *sg;
	struct sg_table *sgt;
	int ret = 0;
	int i;

	attach = dma_buf_attach(dmabuf, imp->dev);
	if (IS_ERR(attach))
		return PTR_ERR(attach);

	sgt = dma_buf_map_attachment_unlocked(attach, DMA_TO_DEVICE);
	if (IS_ERR(sgt)) {
		ret = PTR_ERR(sgt);
		goto out_detach;
	}

	for_each_sgtable_dma_sg(sgt, sg, i) {
		if (imp->nr_segs == SAMPLE_MAX_SEGS) {
			ret = -E2BIG;
			break;
		}
		imp->dma_addr[imp->nr_segs] = sg_dma_address(sg);
		imp->len[imp->nr_segs] = sg_dma_len(sg);
		imp->nr_segs++;
	}

	dma_buf_unmap_attachment_unlocked(attach, sgt, DMA_TO_DEVICE);
out_detach:
	dma_buf_detach(dmabuf, attach);
	return ret;
}

/* The test: a buffer, a DMA-capable device, the segments checked. */

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
 * BEHAVIOURS: B1 - the importer gets the buffer's DMA segments for its
 * device, unchanged by the dma_buf_phyr semantic patch's conversion.
 */
static void sample_importer_sees_pages(struct kunit *test)
{
	struct sample_importer imp = {};
	struct sample_exporter *exp;
	struct dma_buf *dmabuf;
	unsigned int seg, page = 0;
	u64 off, len = 0;
	int ret;

	imp.dev = kunit_device_register(test, KBUILD_MODNAME);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, imp.dev);
	imp.dev->dma_mask = &imp.dev->coherent_dma_mask;
	*imp.dev->dma_mask = DMA_BIT_MASK(64);

	dmabuf = sample_export(test, &exp);
	ret = sample_import(&imp, dmabuf);

	/* dma-direct: each page at its physical address, in order. */
	KUNIT_EXPECT_EQ(test, ret, 0);
	KUNIT_EXPECT_GE(test, imp.nr_segs, 1);
	for (seg = 0; seg < imp.nr_segs; seg++) {
		KUNIT_EXPECT_TRUE(test, PAGE_ALIGNED(imp.len[seg]));
		for (off = 0; off < imp.len[seg] && page < SAMPLE_NR_PAGES;
		     off += PAGE_SIZE, page++)
			KUNIT_EXPECT_EQ(test, (u64)imp.dma_addr[seg] + off,
					(u64)phys_to_dma(imp.dev,
							 page_to_phys(exp->pages[page])));
		len += imp.len[seg];
	}
	KUNIT_EXPECT_EQ(test, len, SAMPLE_SIZE);
	dma_buf_put(dmabuf);
}

static struct kunit_case sample_cases[] = {
	KUNIT_CASE(sample_importer_sees_pages),
	{}
};

static struct kunit_suite sample_suite = {
	.name = KBUILD_MODNAME,
	.test_cases = sample_cases,
};

kunit_test_suite(sample_suite);

MODULE_DESCRIPTION("Sample legacy dma-buf importer for dma_buf_phyr.cocci");
MODULE_LICENSE("GPL");
