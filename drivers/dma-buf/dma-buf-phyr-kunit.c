// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit tests of the dma-buf phyr exchange (drivers/dma-buf/dma-buf-phyr.c):
 * capability matching at attach, the sg_table compat in both directions,
 * the lifetime classes, revoke and restore under the reservation lock,
 * fdinfo, and the detach, revoke and release orders.
 *
 * The exporters are made here: a phyr-only one over a few pages of RAM, a
 * legacy one mapping an sg_table of the same pages, and one of a private
 * interconnect. The importers are kunit_device_register() devices, DMA
 * capable on UML's dma-direct. Every exporter checks, when its test ends,
 * that it was released exactly once, that every map was undone and that
 * each of its ops ran under the reservation lock, so a leak or a missing
 * lock fails the test that caused it. Each case names the behaviour of
 * BEHAVIOURS.md (section B) it shows.
 */

#include <kunit/device.h>
#include <kunit/test.h>
#include <linux/atomic.h>
#include <linux/completion.h>
#include <linux/cpumask.h>
#include <linux/delay.h>
#include <linux/dma-buf.h>
#include <linux/dma-direct.h>
#include <linux/dma-fence.h>
#include <linux/dma-mapping.h>
#include <linux/dma-resv.h>
#include <linux/err.h>
#include <linux/file.h>
#include <linux/jiffies.h>
#include <linux/kthread.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/pci-p2pdma.h>
#include <linux/phyr.h>
#include <linux/phyr-dma.h>
#include <linux/scatterlist.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/workqueue.h>

MODULE_DESCRIPTION("KUnit tests for the dma-buf phyr exchange");
MODULE_LICENSE("GPL");
MODULE_IMPORT_NS("DMA_BUF");

#define DBP_NR_PAGES	4
#define DBP_SIZE	(DBP_NR_PAGES * PAGE_SIZE)
/* The private exporter's interconnect, and an address in its space. */
#define DBP_IC		7
#define DBP_IC_ADDR	0x40000000
#define DBP_ATTRS_PRIV	PHYR_ATTRS_CONST(PHYR_ATTR_NO_CPU_MAP, PHYR_CACHE_WB, \
					 PHYR_CC_PRIVATE)
/*
 * The direction of every sg_table the importers map. Several importers map
 * the same pages at once, which dma-debug reports as overlapping mappings
 * unless the device only reads them.
 */
#define DBP_DIR		DMA_TO_DEVICE
/* Iterations of the importer in the revoke race. */
#define DBP_RACE_LOOPS	2000

#define DBP_RAM		BIT(PHYR_PROVIDER_RAM)
#define DBP_P2P		BIT(PHYR_PROVIDER_P2P)
#define DBP_PRIV	BIT(PHYR_PROVIDER_PRIVATE)
#define DBP_SHARED	BIT(PHYR_CC_SHARED)
#define DBP_IDE		BIT(PHYR_CC_IDE)
#define DBP_CC_PRIV	BIT(PHYR_CC_PRIVATE)
#define DBP_PINNED	BIT(DMA_BUF_LIFETIME_PINNED)
#define DBP_DYNAMIC	BIT(DMA_BUF_LIFETIME_DYNAMIC)
#define DBP_REVOCABLE	BIT(DMA_BUF_LIFETIME_REVOCABLE)

/* Owners of confidential memory: only their addresses matter. */
static int dbp_vm_a, dbp_vm_b;

/* What the exporters offer. */
static const struct dma_buf_caps dbp_offer_ram = {
	.descs = DMA_BUF_DESC_PHYR,
	.providers = DBP_RAM,
	.cc_states = DBP_SHARED,
	.lifetimes = DBP_DYNAMIC | DBP_REVOCABLE,
};

static const struct dma_buf_caps dbp_offer_ram_all = {
	.descs = DMA_BUF_DESC_PHYR,
	.providers = DBP_RAM,
	.cc_states = DBP_SHARED,
	.lifetimes = DBP_PINNED | DBP_DYNAMIC | DBP_REVOCABLE,
};

static const struct dma_buf_caps dbp_offer_ram_revocable = {
	.descs = DMA_BUF_DESC_PHYR,
	.providers = DBP_RAM,
	.cc_states = DBP_SHARED,
	.lifetimes = DBP_REVOCABLE,
};

static const struct dma_buf_caps dbp_offer_ram_dynamic = {
	.descs = DMA_BUF_DESC_PHYR,
	.providers = DBP_RAM,
	.cc_states = DBP_SHARED,
	.lifetimes = DBP_DYNAMIC,
};

static const struct dma_buf_caps dbp_offer_ram_pinned = {
	.descs = DMA_BUF_DESC_PHYR,
	.providers = DBP_RAM,
	.cc_states = DBP_SHARED,
	.lifetimes = DBP_PINNED | DBP_DYNAMIC,
};

static const struct dma_buf_caps dbp_offer_p2p = {
	.descs = DMA_BUF_DESC_PHYR,
	.providers = DBP_RAM | DBP_P2P,
	.cc_states = DBP_SHARED,
	.lifetimes = DBP_DYNAMIC | DBP_REVOCABLE,
};

static const struct dma_buf_caps dbp_offer_ide = {
	.descs = DMA_BUF_DESC_PHYR,
	.providers = DBP_RAM,
	.cc_states = DBP_IDE,
	.lifetimes = DBP_DYNAMIC | DBP_REVOCABLE,
};

static const struct dma_buf_caps dbp_offer_mixed = {
	.descs = DMA_BUF_DESC_PHYR,
	.providers = DBP_RAM | DBP_P2P,
	.cc_states = DBP_SHARED | DBP_IDE,
	.lifetimes = DBP_PINNED | DBP_DYNAMIC,
};

static const struct dma_buf_caps dbp_offer_priv = {
	.descs = DMA_BUF_DESC_PHYR,
	.providers = DBP_PRIV,
	.cc_states = DBP_CC_PRIV,
	.lifetimes = DBP_REVOCABLE,
	.interconnect_id = DBP_IC,
	.cc_owner = &dbp_vm_a,
};

/* What the importers accept. */
static const struct dma_buf_caps dbp_accept_phyr = {
	.descs = DMA_BUF_DESC_PHYR,
	.providers = DBP_RAM,
	.cc_states = DBP_SHARED,
	.lifetimes = DBP_DYNAMIC,
};

static const struct dma_buf_caps dbp_accept_phyr_pinned = {
	.descs = DMA_BUF_DESC_PHYR,
	.providers = DBP_RAM,
	.cc_states = DBP_SHARED,
	.lifetimes = DBP_PINNED,
};

static const struct dma_buf_caps dbp_accept_phyr_revocable = {
	.descs = DMA_BUF_DESC_PHYR,
	.providers = DBP_RAM,
	.cc_states = DBP_SHARED,
	.lifetimes = DBP_REVOCABLE,
};

static const struct dma_buf_caps dbp_accept_sgt_revocable = {
	.descs = DMA_BUF_DESC_SGT,
	.providers = DBP_RAM,
	.cc_states = DBP_SHARED,
	.lifetimes = DBP_REVOCABLE,
};

static const struct dma_buf_caps dbp_accept_both_revocable = {
	.descs = DMA_BUF_DESC_SGT | DMA_BUF_DESC_PHYR,
	.providers = DBP_RAM,
	.cc_states = DBP_SHARED,
	.lifetimes = DBP_REVOCABLE,
};

static const struct dma_buf_caps dbp_accept_phyr_dma = {
	.descs = DMA_BUF_DESC_PHYR | DMA_BUF_DESC_PHYR_DMA,
	.providers = DBP_RAM,
	.cc_states = DBP_SHARED,
	.lifetimes = DBP_DYNAMIC,
};

static const struct dma_buf_caps dbp_accept_sgt_phyr = {
	.descs = DMA_BUF_DESC_SGT | DMA_BUF_DESC_PHYR,
	.providers = DBP_RAM,
	.cc_states = DBP_SHARED,
	.lifetimes = DBP_DYNAMIC,
};

static const struct dma_buf_caps dbp_accept_priv = {
	.descs = DMA_BUF_DESC_PHYR,
	.providers = DBP_PRIV,
	.cc_states = DBP_CC_PRIV,
	.lifetimes = DBP_REVOCABLE,
	.interconnect_id = DBP_IC,
	.cc_owner = &dbp_vm_a,
};

/**
 * enum dbp_exp_kind - the test exporters
 * @DBP_EXP_PHYR: phyr only (&dma_buf_ops.map_phyr, no map_dma_buf) over
 *	pages of RAM.
 * @DBP_EXP_PHYR_PIN: the same with pin and unpin ops: a dynamic exporter
 *	in the dma-buf core's sense.
 * @DBP_EXP_LEGACY: map_dma_buf only, an sg_table of the same pages mapped
 *	for the importer; no caps.
 * @DBP_EXP_PRIVATE: phyr only, addresses of private interconnect %DBP_IC.
 */
enum dbp_exp_kind {
	DBP_EXP_PHYR,
	DBP_EXP_PHYR_PIN,
	DBP_EXP_LEGACY,
	DBP_EXP_PRIVATE,
};

/**
 * struct dbp_exporter - a test exporter and what its ops saw
 * @test: the test owning it.
 * @dmabuf: its dma-buf.
 * @held: the test still holds the reference dma_buf_export() returned.
 * @pages: the memory, for every kind but %DBP_EXP_PRIVATE.
 * @phyr: what map_phyr returns, built once at export.
 * @provider: the private interconnect provider of %DBP_EXP_PRIVATE.
 * @released: completed by the release op.
 * @nr_release: release op calls.
 * @nr_attach: attach op calls.
 * @nr_detach: detach op calls.
 * @nr_map_phyr: map_phyr op calls.
 * @nr_unmap_phyr: unmap_phyr op calls.
 * @nr_map_sgt: map_dma_buf op calls.
 * @nr_unmap_sgt: unmap_dma_buf op calls.
 * @nr_pin: pin op calls.
 * @nr_unpin: unpin op calls.
 * @nr_unlocked: map, unmap, pin or unpin op calls without the reservation
 *	lock held (lockdep's view, so by the calling task).
 * @nr_while_revoked: map op calls while the buffer was revoked.
 * @nr_bad_phyr: unmap_phyr calls with a phyr that is not @phyr.
 * @sgt_dma_addr: first DMA address of the last sg_table map_dma_buf made.
 *
 * The counters are changed under the reservation lock (the ops are called
 * with it, which @nr_unlocked checks), except the attach, detach and
 * release ones, which the dma-buf core calls without it.
 */
struct dbp_exporter {
	struct kunit		*test;
	struct dma_buf		*dmabuf;
	bool			held;
	struct page		*pages[DBP_NR_PAGES];
	struct phyr		phyr;
	struct phyr_provider	provider;
	struct completion	released;
	atomic_t		nr_release;
	unsigned int		nr_attach;
	unsigned int		nr_detach;
	unsigned int		nr_map_phyr;
	unsigned int		nr_unmap_phyr;
	unsigned int		nr_map_sgt;
	unsigned int		nr_unmap_sgt;
	unsigned int		nr_pin;
	unsigned int		nr_unpin;
	unsigned int		nr_unlocked;
	unsigned int		nr_while_revoked;
	unsigned int		nr_bad_phyr;
	dma_addr_t		sgt_dma_addr;
};

static struct dbp_exporter *dbp_exp_of(struct dma_buf_attachment *attach)
{
	return attach->dmabuf->priv;
}

/* Every op that maps, unmaps or pins notes how it was called. */
static void dbp_exp_note(struct dma_buf_attachment *attach, bool map)
{
	struct dbp_exporter *exp = dbp_exp_of(attach);

	if (!dma_resv_held(attach->dmabuf->resv))
		exp->nr_unlocked++;
	if (map && attach->dmabuf->revoked)
		exp->nr_while_revoked++;
}

static int dbp_exp_attach(struct dma_buf *dmabuf,
			  struct dma_buf_attachment *attach)
{
	struct dbp_exporter *exp = dmabuf->priv;

	exp->nr_attach++;
	return 0;
}

static void dbp_exp_detach(struct dma_buf *dmabuf,
			   struct dma_buf_attachment *attach)
{
	struct dbp_exporter *exp = dmabuf->priv;

	exp->nr_detach++;
}

static struct phyr *dbp_exp_map_phyr(struct dma_buf_attachment *attach)
{
	struct dbp_exporter *exp = dbp_exp_of(attach);

	dbp_exp_note(attach, true);
	exp->nr_map_phyr++;
	return &exp->phyr;
}

static void dbp_exp_unmap_phyr(struct dma_buf_attachment *attach,
			       struct phyr *phyr)
{
	struct dbp_exporter *exp = dbp_exp_of(attach);

	dbp_exp_note(attach, false);
	if (phyr != &exp->phyr)
		exp->nr_bad_phyr++;
	exp->nr_unmap_phyr++;
}

/* The core pins before it checks the revoked state: not a map. */
static int dbp_exp_pin(struct dma_buf_attachment *attach)
{
	dbp_exp_note(attach, false);
	dbp_exp_of(attach)->nr_pin++;
	return 0;
}

static void dbp_exp_unpin(struct dma_buf_attachment *attach)
{
	dbp_exp_note(attach, false);
	dbp_exp_of(attach)->nr_unpin++;
}

static struct sg_table *dbp_exp_map_sgt(struct dma_buf_attachment *attach,
					enum dma_data_direction dir)
{
	struct dbp_exporter *exp = dbp_exp_of(attach);
	struct sg_table *sgt;
	int ret;

	dbp_exp_note(attach, true);
	sgt = kzalloc_obj(*sgt);
	if (!sgt)
		return ERR_PTR(-ENOMEM);
	ret = sg_alloc_table_from_pages(sgt, exp->pages, DBP_NR_PAGES, 0,
					DBP_SIZE, GFP_KERNEL);
	if (ret)
		goto err_free;
	ret = dma_map_sgtable(attach->dev, sgt, dir, 0);
	if (ret)
		goto err_table;
	exp->sgt_dma_addr = sg_dma_address(sgt->sgl);
	exp->nr_map_sgt++;
	return sgt;

err_table:
	sg_free_table(sgt);
err_free:
	kfree(sgt);
	return ERR_PTR(ret);
}

static void dbp_exp_unmap_sgt(struct dma_buf_attachment *attach,
			      struct sg_table *sgt,
			      enum dma_data_direction dir)
{
	dbp_exp_note(attach, false);
	dma_unmap_sgtable(attach->dev, sgt, dir, 0);
	sg_free_table(sgt);
	kfree(sgt);
	dbp_exp_of(attach)->nr_unmap_sgt++;
}

/* Called from the last fput(), maybe in the delayed fput work. */
static void dbp_exp_release(struct dma_buf *dmabuf)
{
	struct dbp_exporter *exp = dmabuf->priv;

	atomic_inc(&exp->nr_release);
	complete(&exp->released);
}

static const struct dma_buf_ops dbp_phyr_ops = {
	.attach = dbp_exp_attach,
	.detach = dbp_exp_detach,
	.map_phyr = dbp_exp_map_phyr,
	.unmap_phyr = dbp_exp_unmap_phyr,
	.release = dbp_exp_release,
};

static const struct dma_buf_ops dbp_phyr_pin_ops = {
	.attach = dbp_exp_attach,
	.detach = dbp_exp_detach,
	.pin = dbp_exp_pin,
	.unpin = dbp_exp_unpin,
	.map_phyr = dbp_exp_map_phyr,
	.unmap_phyr = dbp_exp_unmap_phyr,
	.release = dbp_exp_release,
};

static const struct dma_buf_ops dbp_legacy_ops = {
	.attach = dbp_exp_attach,
	.detach = dbp_exp_detach,
	.map_dma_buf = dbp_exp_map_sgt,
	.unmap_dma_buf = dbp_exp_unmap_sgt,
	.release = dbp_exp_release,
};

static const struct dma_buf_ops *const dbp_exp_ops[] = {
	[DBP_EXP_PHYR] = &dbp_phyr_ops,
	[DBP_EXP_PHYR_PIN] = &dbp_phyr_pin_ops,
	[DBP_EXP_LEGACY] = &dbp_legacy_ops,
	[DBP_EXP_PRIVATE] = &dbp_phyr_ops,
};

/*
 * The release of a dma-buf is its file's last fput(), which a kernel thread
 * defers to a work item: run what is pending, then wait for the work in
 * case it had already taken this file.
 */
static bool dbp_exp_wait_release(struct dbp_exporter *exp)
{
	flush_delayed_fput();
	return wait_for_completion_timeout(&exp->released, 10 * HZ);
}

static void dbp_exp_put(struct dbp_exporter *exp)
{
	exp->held = false;
	dma_buf_put(exp->dmabuf);
	KUNIT_EXPECT_TRUE_MSG(exp->test, dbp_exp_wait_release(exp),
			      "dma-buf not released");
}

/* The end of an exporter's life: nothing leaked, every op under the lock. */
static void dbp_exp_cleanup(void *data)
{
	struct dbp_exporter *exp = data;
	struct kunit *test = exp->test;

	if (exp->held)
		dbp_exp_put(exp);
	KUNIT_EXPECT_EQ(test, atomic_read(&exp->nr_release), 1);
	KUNIT_EXPECT_EQ(test, exp->nr_attach, exp->nr_detach);
	KUNIT_EXPECT_EQ(test, exp->nr_map_phyr, exp->nr_unmap_phyr);
	KUNIT_EXPECT_EQ(test, exp->nr_map_sgt, exp->nr_unmap_sgt);
	KUNIT_EXPECT_EQ(test, exp->nr_pin, exp->nr_unpin);
	KUNIT_EXPECT_EQ(test, exp->nr_unlocked, 0);
	KUNIT_EXPECT_EQ(test, exp->nr_while_revoked, 0);
	KUNIT_EXPECT_EQ(test, exp->nr_bad_phyr, 0);
}

static void dbp_exp_free(void *data)
{
	struct dbp_exporter *exp = data;
	unsigned int i;

	phyr_destroy(&exp->phyr);
	for (i = 0; i < DBP_NR_PAGES; i++)
		if (exp->pages[i])
			__free_page(exp->pages[i]);
}

/* Export a dma-buf of @kind offering @caps; put when the test ends. */
static struct dbp_exporter *dbp_export(struct kunit *test,
				       enum dbp_exp_kind kind,
				       const struct dma_buf_caps *caps)
{
	DEFINE_DMA_BUF_EXPORT_INFO(exp_info);
	struct dbp_exporter *exp;
	struct dma_buf *dmabuf;
	unsigned int i;
	int ret;

	exp = kunit_kzalloc(test, sizeof(*exp), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, exp);
	exp->test = test;
	init_completion(&exp->released);
	phyr_init(&exp->phyr);
	ret = kunit_add_action_or_reset(test, dbp_exp_free, exp);
	KUNIT_ASSERT_EQ(test, ret, 0);

	for (i = 0; i < DBP_NR_PAGES; i++) {
		exp->pages[i] = alloc_page(GFP_KERNEL | __GFP_ZERO);
		KUNIT_ASSERT_NOT_NULL(test, exp->pages[i]);
	}
	if (kind == DBP_EXP_PRIVATE) {
		phyr_provider_init_private(&exp->provider, DBP_IC);
		ret = phyr_append(&exp->phyr, &exp->provider, DBP_ATTRS_PRIV,
				  DBP_IC_ADDR, DBP_SIZE, GFP_KERNEL);
	} else {
		ret = phyr_append_pages(&exp->phyr, exp->pages, DBP_NR_PAGES,
					0, DBP_SIZE, GFP_KERNEL);
	}
	KUNIT_ASSERT_EQ(test, ret, 0);

	exp_info.ops = dbp_exp_ops[kind];
	exp_info.size = DBP_SIZE;
	exp_info.flags = O_RDWR;
	exp_info.priv = exp;
	exp_info.caps = caps;
	dmabuf = dma_buf_export(&exp_info);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, dmabuf);
	exp->dmabuf = dmabuf;
	exp->held = true;
	ret = kunit_add_action_or_reset(test, dbp_exp_cleanup, exp);
	KUNIT_ASSERT_EQ(test, ret, 0);
	return exp;
}

/* Importer flags for dbp_importer(). */
#define DBP_IMP_INVAL	BIT(0)	/* has invalidate_mappings */
#define DBP_IMP_ASYNC	BIT(1)	/* it unmaps from a work item, later */
#define DBP_IMP_P2P	BIT(3)	/* allow_peer2peer */
#define DBP_IMP_PINNED	BIT(4)	/* dma_buf_attach(): no ops at all */

/**
 * struct dbp_importer - a test importer: a device and its attachment
 * @test: the test owning it.
 * @exp: the exporter it imports from.
 * @dev: its device.
 * @flags: %DBP_IMP_* flags.
 * @ops: its attach ops, with the caps given to dbp_importer().
 * @attach: its attachment, NULL when not attached.
 * @ref: it holds a dma-buf reference of its own (get_dma_buf()).
 * @keep_mapping: its invalidate_mappings callback does not unmap.
 * @unmap_work: with %DBP_IMP_ASYNC, unmaps after the callback returned.
 * @phyr: what it has mapped with dma_buf_map_phyr(), under the lock.
 * @sgt: what it has mapped with dma_buf_map_attachment(), under the lock.
 * @nr_revoke: invalidate_mappings calls while the buffer was revoked.
 * @nr_move: invalidate_mappings calls while it was not (a move, or the
 *	"map again" hint of dma_buf_restore()).
 * @nr_cb_unlocked: callbacks without the reservation lock held.
 * @nr_cb_mapped: callbacks that found a mapping.
 */
struct dbp_importer {
	struct kunit			*test;
	struct dbp_exporter		*exp;
	struct device			*dev;
	unsigned int			flags;
	struct dma_buf_attach_ops	ops;
	struct dma_buf_attachment	*attach;
	bool				ref;
	bool				keep_mapping;
	struct delayed_work		unmap_work;
	const struct phyr		*phyr;
	struct sg_table			*sgt;
	unsigned int			nr_revoke;
	unsigned int			nr_move;
	unsigned int			nr_cb_unlocked;
	unsigned int			nr_cb_mapped;
};

/* Undo the importer's mappings; the reservation lock is held. */
static void dbp_imp_unmap_locked(struct dbp_importer *imp,
				 struct dma_buf_attachment *attach)
{
	if (imp->phyr) {
		dma_buf_unmap_phyr(attach, imp->phyr);
		imp->phyr = NULL;
	}
	if (imp->sgt) {
		dma_buf_unmap_attachment(attach, imp->sgt, DBP_DIR);
		imp->sgt = NULL;
	}
}

/*
 * The callbacks use @attach, not &dbp_importer.attach: in the race test a
 * revoke may reach an attachment before dbp_imp_attach() has stored it.
 */
static void dbp_imp_invalidate(struct dma_buf_attachment *attach)
{
	struct dbp_importer *imp = attach->importer_priv;

	if (!dma_resv_held(attach->dmabuf->resv))
		imp->nr_cb_unlocked++;
	if (dma_buf_is_revoked(attach->dmabuf))
		imp->nr_revoke++;
	else
		imp->nr_move++;
	if (imp->phyr || imp->sgt)
		imp->nr_cb_mapped++;
	if (imp->flags & DBP_IMP_ASYNC)
		schedule_delayed_work(&imp->unmap_work, msecs_to_jiffies(50));
	else if (!imp->keep_mapping)
		dbp_imp_unmap_locked(imp, attach);
}

/*
 * A dynamic importer that unmaps later, as GPU drivers do from their next
 * validation: it needs the reservation lock for it.
 */
static void dbp_imp_unmap_work(struct work_struct *work)
{
	struct dbp_importer *imp = container_of(work, struct dbp_importer,
						unmap_work.work);
	struct dma_resv *resv = imp->exp->dmabuf->resv;

	dma_resv_lock(resv, NULL);
	if (imp->attach)
		dbp_imp_unmap_locked(imp, imp->attach);
	dma_resv_unlock(resv);
}

static void dbp_imp_detach(struct dbp_importer *imp)
{
	dma_buf_detach(imp->exp->dmabuf, imp->attach);
	imp->attach = NULL;
	imp->phyr = NULL;
	imp->sgt = NULL;
}

static void dbp_imp_cleanup(void *data)
{
	struct dbp_importer *imp = data;
	struct dma_buf *dmabuf = imp->exp->dmabuf;

	cancel_delayed_work_sync(&imp->unmap_work);
	if (imp->attach) {
		dma_resv_lock(dmabuf->resv, NULL);
		dbp_imp_unmap_locked(imp, imp->attach);
		dma_resv_unlock(dmabuf->resv);
		dbp_imp_detach(imp);
	}
	if (imp->ref) {
		imp->ref = false;
		dma_buf_put(dmabuf);
	}
	KUNIT_EXPECT_EQ(imp->test, imp->nr_cb_unlocked, 0);
}

KUNIT_DEFINE_ACTION_WRAPPER(dbp_kfree_action, kfree, const void *);

/* A DMA-capable device, unregistered when the test ends. */
static struct device *dbp_device(struct kunit *test)
{
	static atomic_t nr_devs = ATOMIC_INIT(0);
	struct device *dev;
	char *name;
	int ret;

	/* A device's name is its driver's: one name per device. */
	name = kasprintf(GFP_KERNEL, "dma-buf-phyr-test-%d",
			 atomic_inc_return(&nr_devs));
	KUNIT_ASSERT_NOT_NULL(test, name);
	ret = kunit_add_action_or_reset(test, dbp_kfree_action, name);
	KUNIT_ASSERT_EQ(test, ret, 0);
	dev = kunit_device_register(test, name);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, dev);
	dev->dma_mask = &dev->coherent_dma_mask;
	*dev->dma_mask = DMA_BIT_MASK(64);
	return dev;
}

/*
 * An importer of @exp accepting @caps (NULL: a legacy importer), with the
 * callbacks and attach mode of @flags; not attached yet. Whatever it still
 * has mapped, attached or referenced is dropped when the test ends.
 */
static struct dbp_importer *dbp_importer(struct kunit *test,
					 struct dbp_exporter *exp,
					 const struct dma_buf_caps *caps,
					 unsigned int flags)
{
	struct dbp_importer *imp;
	int ret;

	imp = kunit_kzalloc(test, sizeof(*imp), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, imp);
	imp->test = test;
	imp->exp = exp;
	imp->flags = flags;
	imp->dev = dbp_device(test);
	imp->ops.caps = caps;
	imp->ops.allow_peer2peer = flags & DBP_IMP_P2P;
	if (flags & DBP_IMP_INVAL)
		imp->ops.invalidate_mappings = dbp_imp_invalidate;
	INIT_DELAYED_WORK(&imp->unmap_work, dbp_imp_unmap_work);
	ret = kunit_add_action_or_reset(test, dbp_imp_cleanup, imp);
	KUNIT_ASSERT_EQ(test, ret, 0);
	return imp;
}

/* Attach; return 0 or the errno dma_buf_(dynamic_)attach() returned. */
static int dbp_imp_attach(struct dbp_importer *imp)
{
	struct dma_buf *dmabuf = imp->exp->dmabuf;
	struct dma_buf_attachment *attach;

	if (imp->flags & DBP_IMP_PINNED)
		attach = dma_buf_attach(dmabuf, imp->dev);
	else
		attach = dma_buf_dynamic_attach(dmabuf, imp->dev, &imp->ops,
						imp);
	if (IS_ERR(attach))
		return PTR_ERR(attach);
	imp->attach = attach;
	return 0;
}

/* An attached importer. */
static struct dbp_importer *dbp_attach(struct kunit *test,
				       struct dbp_exporter *exp,
				       const struct dma_buf_caps *caps,
				       unsigned int flags)
{
	struct dbp_importer *imp = dbp_importer(test, exp, caps, flags);

	KUNIT_ASSERT_EQ(test, dbp_imp_attach(imp), 0);
	return imp;
}

/* Map the phyr under the lock; 0 or the errno of dma_buf_map_phyr(). */
static int dbp_map_phyr(struct dbp_importer *imp)
{
	struct dma_resv *resv = imp->exp->dmabuf->resv;
	const struct phyr *phyr;

	dma_resv_lock(resv, NULL);
	phyr = dma_buf_map_phyr(imp->attach);
	if (!IS_ERR(phyr))
		imp->phyr = phyr;
	dma_resv_unlock(resv);
	return PTR_ERR_OR_ZERO(phyr);
}

/* Map an sg_table under the lock; 0 or the errno. */
static int dbp_map_sgt(struct dbp_importer *imp)
{
	struct dma_resv *resv = imp->exp->dmabuf->resv;
	struct sg_table *sgt;

	dma_resv_lock(resv, NULL);
	sgt = dma_buf_map_attachment(imp->attach, DBP_DIR);
	if (!IS_ERR(sgt))
		imp->sgt = sgt;
	dma_resv_unlock(resv);
	return PTR_ERR_OR_ZERO(sgt);
}

static void dbp_unmap(struct dbp_importer *imp)
{
	struct dma_resv *resv = imp->exp->dmabuf->resv;

	dma_resv_lock(resv, NULL);
	dbp_imp_unmap_locked(imp, imp->attach);
	dma_resv_unlock(resv);
}

static int dbp_revoke(struct dbp_exporter *exp)
{
	int ret;

	dma_resv_lock(exp->dmabuf->resv, NULL);
	ret = dma_buf_revoke(exp->dmabuf);
	dma_resv_unlock(exp->dmabuf->resv);
	return ret;
}

static int dbp_restore(struct dbp_exporter *exp)
{
	int ret;

	dma_resv_lock(exp->dmabuf->resv, NULL);
	ret = dma_buf_restore(exp->dmabuf);
	dma_resv_unlock(exp->dmabuf->resv);
	return ret;
}

/**
 * struct dbp_offer_case - a phyr exporter
 * @name: the case.
 * @kind: the exporter.
 * @offer: what it offers.
 */
struct dbp_offer_case {
	const char			*name;
	enum dbp_exp_kind		kind;
	const struct dma_buf_caps	*offer;
};

static const struct dbp_offer_case dbp_offer_cases[] = {
	{ "revocable", DBP_EXP_PHYR, &dbp_offer_ram },
	/* Memory that never moves, every class served, no pin op. */
	{ "never revoked, no pin op", DBP_EXP_PHYR, &dbp_offer_ram_all },
	{ "dynamic, pin op", DBP_EXP_PHYR_PIN, &dbp_offer_ram_dynamic },
};

KUNIT_ARRAY_PARAM_DESC(dbp_offer, dbp_offer_cases, name);

/* BEHAVIOURS: B1 */
static void dbp_phyr_importer_gets_exporter_phyr(struct kunit *test)
{
	const struct dbp_offer_case *c = test->param_value;
	struct dbp_exporter *exp = dbp_export(test, c->kind, c->offer);
	struct dbp_importer *imp = dbp_attach(test, exp, &dbp_accept_phyr,
					      DBP_IMP_INVAL);
	const struct phyr *phyr, *again;

	KUNIT_EXPECT_EQ(test, dma_buf_attach_lifetime(imp->attach), DMA_BUF_LIFETIME_DYNAMIC);

	phyr = dma_buf_map_phyr_unlocked(imp->attach);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, phyr);
	/* The exporter's own phyr, physical ranges of its pages. */
	KUNIT_EXPECT_PTR_EQ(test, phyr, (const struct phyr *)&exp->phyr);
	KUNIT_EXPECT_NULL(test, phyr->dma_dev);
	KUNIT_EXPECT_EQ(test, phyr_len(phyr), DBP_SIZE);
	KUNIT_EXPECT_EQ(test, exp->nr_map_phyr, 1);

	/* One phyr mapping at a time per attachment. */
	again = dma_buf_map_phyr_unlocked(imp->attach);
	KUNIT_EXPECT_EQ(test, PTR_ERR_OR_ZERO(again), -EBUSY);
	if (!IS_ERR(again))
		dma_buf_unmap_phyr_unlocked(imp->attach, again);
	KUNIT_EXPECT_EQ(test, exp->nr_map_phyr, 1);

	dma_buf_unmap_phyr_unlocked(imp->attach, phyr);
	KUNIT_EXPECT_EQ(test, exp->nr_unmap_phyr, 1);

	/* Unmapped, it maps again. */
	KUNIT_ASSERT_EQ(test, dbp_map_phyr(imp), 0);
	KUNIT_EXPECT_EQ(test, exp->nr_map_phyr, 2);
	dbp_unmap(imp);
	KUNIT_EXPECT_EQ(test, exp->nr_unmap_phyr, 2);
}

/**
 * struct dbp_legacy_case - a legacy importer of a phyr-only exporter
 * @name: the case.
 * @offer: what the exporter offers.
 * @flags: %DBP_IMP_PINNED for dma_buf_attach(), else the callbacks.
 * @lifetime: the class the attachment must get.
 */
struct dbp_legacy_case {
	const char			*name;
	const struct dma_buf_caps	*offer;
	unsigned int			flags;
	enum dma_buf_lifetime		lifetime;
};

static const struct dbp_legacy_case dbp_legacy_cases[] = {
	{ "pinned", &dbp_offer_ram_pinned, DBP_IMP_PINNED,
	  DMA_BUF_LIFETIME_PINNED },
	{ "dynamic", &dbp_offer_ram, DBP_IMP_INVAL, DMA_BUF_LIFETIME_DYNAMIC },
};

KUNIT_ARRAY_PARAM_DESC(dbp_legacy, dbp_legacy_cases, name);

/* BEHAVIOURS: B1 */
static void dbp_legacy_importer_gets_sgt(struct kunit *test)
{
	const struct dbp_legacy_case *c = test->param_value;
	struct dbp_exporter *exp = dbp_export(test, DBP_EXP_PHYR, c->offer);
	struct dbp_importer *imp = dbp_attach(test, exp, NULL, c->flags);
	struct scatterlist *sg;
	struct sg_table *sgt;
	u64 dma_len = 0;
	unsigned int i;

	KUNIT_EXPECT_EQ(test, dma_buf_attach_lifetime(imp->attach), c->lifetime);

	/* The importer's code, unchanged: dma_buf_map_attachment(). */
	sgt = dma_buf_map_attachment_unlocked(imp->attach, DBP_DIR);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, sgt);
	KUNIT_EXPECT_EQ(test, exp->nr_map_phyr, 1);

	/*
	 * DMA side only: no struct page is made up. The CPU side is empty
	 * (orig_nents 0, as dma_buf_phys_vec_to_sgt() makes it); with
	 * CONFIG_DMABUF_DEBUG the core hands out a copy without pages.
	 */
	if (!IS_ENABLED(CONFIG_DMABUF_DEBUG))
		KUNIT_EXPECT_EQ(test, sgt->orig_nents, 0);
	/* (phyr_dma_kunit's C2 case checks the entries have no page.) */
	for_each_sgtable_dma_sg(sgt, sg, i)
		dma_len += sg_dma_len(sg);
	KUNIT_EXPECT_EQ(test, dma_len, DBP_SIZE);
	/* dma-direct: the first segment is the first page's address. */
	KUNIT_EXPECT_EQ(test, (u64)sg_dma_address(sgt->sgl),
			(u64)phys_to_dma(imp->dev,
					 page_to_phys(exp->pages[0])));

	dma_buf_unmap_attachment_unlocked(imp->attach, sgt, DBP_DIR);
	KUNIT_EXPECT_EQ(test, exp->nr_unmap_phyr, 1);
}

/* BEHAVIOURS: B2 */
static void dbp_phyr_importer_of_legacy_exporter(struct kunit *test)
{
	struct dbp_exporter *exp = dbp_export(test, DBP_EXP_LEGACY, NULL);
	struct dbp_importer *imp = dbp_attach(test, exp, &dbp_accept_phyr_dma,
					      DBP_IMP_INVAL);
	struct phyr_dma_params params = {
		.dev = imp->dev,
		.dir = DMA_TO_DEVICE,
	};
	struct phyr_dma_map *map;
	const struct phyr *phyr;
	struct sg_table *sgt;

	KUNIT_ASSERT_EQ(test, dbp_map_phyr(imp), 0);
	phyr = imp->phyr;
	KUNIT_ASSERT_NOT_NULL(test, phyr);
	KUNIT_EXPECT_GE(test, exp->nr_map_sgt, 1);

	/* The exporter's sg_table, DMA-mapped for this importer's device. */
	KUNIT_EXPECT_PTR_EQ(test, phyr->dma_dev, imp->dev);
	KUNIT_EXPECT_EQ(test, phyr_len(phyr), DBP_SIZE);
	KUNIT_ASSERT_GE(test, phyr->nr_ranges, 1);
	KUNIT_EXPECT_EQ(test, (u64)phyr->ranges[0].paddr,
			(u64)exp->sgt_dma_addr);

	/* Mapping DMA addresses again would map the wrong memory. */
	sgt = phyr_dma_map_sgt(phyr, 0, DBP_SIZE, &params, GFP_KERNEL);
	KUNIT_EXPECT_EQ(test, PTR_ERR_OR_ZERO(sgt), -EALREADY);
	if (!IS_ERR(sgt))
		phyr_dma_unmap_sgt(sgt);
	map = phyr_dma_map_create(phyr, 0, DBP_SIZE, &params, GFP_KERNEL);
	KUNIT_EXPECT_EQ(test, PTR_ERR_OR_ZERO(map), -EALREADY);
	if (!IS_ERR(map))
		phyr_dma_map_destroy(map);

	dbp_unmap(imp);
	dbp_imp_detach(imp);
	KUNIT_EXPECT_EQ(test, exp->nr_map_sgt, exp->nr_unmap_sgt);
}

/* BEHAVIOURS: B2 */
static void dbp_phyr_importer_of_legacy_exporter_error(struct kunit *test)
{
	struct dbp_exporter *exp = dbp_export(test, DBP_EXP_LEGACY, NULL);
	struct dbp_importer *phyr_only, *imp;

	/* Only the exporter's phyr would do: refused at attach. */
	phyr_only = dbp_importer(test, exp, &dbp_accept_phyr, DBP_IMP_INVAL);
	KUNIT_EXPECT_EQ(test, dbp_imp_attach(phyr_only), -EOPNOTSUPP);
	KUNIT_EXPECT_EQ(test, exp->nr_attach, 0);

	/* sg_table or phyr: attaches, its phyr map fails, its sgt maps. */
	imp = dbp_attach(test, exp, &dbp_accept_sgt_phyr, DBP_IMP_INVAL);
	KUNIT_EXPECT_EQ(test, dbp_map_phyr(imp), -EOPNOTSUPP);
	KUNIT_EXPECT_NULL(test, imp->attach->phyr);
	KUNIT_EXPECT_EQ(test, dbp_map_sgt(imp), 0);
	dbp_unmap(imp);
}

/**
 * struct dbp_match_case - one attach of capability matching
 * @name: the case.
 * @kind: the exporter.
 * @offer: what it offers.
 * @accept: what the importer accepts, NULL for a legacy importer.
 * @flags: the importer's %DBP_IMP_* flags.
 * @err: what the attach must return, 0 for success.
 * @lifetime: with @err 0, the class the attachment must get.
 */
struct dbp_match_case {
	const char			*name;
	enum dbp_exp_kind		kind;
	const struct dma_buf_caps	*offer;
	const struct dma_buf_caps	*accept;
	unsigned int			flags;
	int				err;
	enum dma_buf_lifetime		lifetime;
};

#define DBP_ACCEPT(d, p, c, l)						\
	(&(const struct dma_buf_caps){ .descs = (d), .providers = (p),	\
				       .cc_states = (c), .lifetimes = (l) })
#define DBP_ACCEPT_PRIV(ic, cc, owner)					\
	(&(const struct dma_buf_caps){ .descs = DMA_BUF_DESC_PHYR,	\
				       .providers = DBP_PRIV,		\
				       .cc_states = (cc),		\
				       .lifetimes = DBP_REVOCABLE,	\
				       .interconnect_id = (ic),		\
				       .cc_owner = (owner) })

#define PHYR		DMA_BUF_DESC_PHYR
#define SGT		DMA_BUF_DESC_SGT
#define PHYR_DMA	DMA_BUF_DESC_PHYR_DMA
#define ALL_LIFETIMES	(DBP_PINNED | DBP_DYNAMIC | DBP_REVOCABLE)

static const struct dbp_match_case dbp_match_cases[] = {
	/* Descriptors. */
	{ "phyr importer, phyr exporter", DBP_EXP_PHYR, &dbp_offer_ram,
	  &dbp_accept_phyr, DBP_IMP_INVAL, 0, DMA_BUF_LIFETIME_DYNAMIC },
	{ "no common descriptor", DBP_EXP_PHYR, &dbp_offer_ram,
	  DBP_ACCEPT(PHYR_DMA, DBP_RAM, DBP_SHARED, DBP_DYNAMIC),
	  DBP_IMP_INVAL, -EOPNOTSUPP },
	{ "legacy exporter, phyr-only importer", DBP_EXP_LEGACY, NULL,
	  &dbp_accept_phyr, DBP_IMP_INVAL, -EOPNOTSUPP },
	{ "private exporter, legacy importer", DBP_EXP_PRIVATE,
	  &dbp_offer_priv, NULL, DBP_IMP_INVAL, -EOPNOTSUPP },
	{ "sgt importer, phyr exporter", DBP_EXP_PHYR, &dbp_offer_ram,
	  DBP_ACCEPT(SGT, DBP_RAM, DBP_SHARED, DBP_DYNAMIC), DBP_IMP_INVAL,
	  0, DMA_BUF_LIFETIME_DYNAMIC },
	/* Providers. */
	{ "P2P offered, RAM-only importer", DBP_EXP_PHYR, &dbp_offer_p2p,
	  &dbp_accept_phyr, DBP_IMP_INVAL, -EREMOTEIO },
	{ "P2P offered, legacy importer", DBP_EXP_PHYR, &dbp_offer_p2p,
	  NULL, DBP_IMP_INVAL, -EREMOTEIO },
	{ "P2P offered, legacy importer allowing P2P", DBP_EXP_PHYR,
	  &dbp_offer_p2p, NULL, DBP_IMP_INVAL | DBP_IMP_P2P, 0,
	  DMA_BUF_LIFETIME_DYNAMIC },
	{ "P2P offered, P2P importer", DBP_EXP_PHYR, &dbp_offer_p2p,
	  DBP_ACCEPT(PHYR, DBP_RAM | DBP_P2P, DBP_SHARED, DBP_DYNAMIC),
	  DBP_IMP_INVAL, 0, DMA_BUF_LIFETIME_DYNAMIC },
	{ "RAM offered, P2P-only importer", DBP_EXP_PHYR, &dbp_offer_ram,
	  DBP_ACCEPT(PHYR, DBP_P2P, DBP_SHARED, DBP_DYNAMIC), DBP_IMP_INVAL,
	  -EREMOTEIO },
	{ "legacy exporter, RAM-only importer", DBP_EXP_LEGACY, NULL,
	  DBP_ACCEPT(SGT | PHYR_DMA, DBP_RAM, DBP_SHARED, DBP_DYNAMIC),
	  DBP_IMP_INVAL, 0, DMA_BUF_LIFETIME_DYNAMIC },
	{ "legacy exporter, P2P-only importer", DBP_EXP_LEGACY, NULL,
	  DBP_ACCEPT(SGT | PHYR_DMA, DBP_P2P, DBP_SHARED, DBP_DYNAMIC),
	  DBP_IMP_INVAL, 0, DMA_BUF_LIFETIME_DYNAMIC },
	{ "private, same interconnect and owner", DBP_EXP_PRIVATE,
	  &dbp_offer_priv, &dbp_accept_priv, DBP_IMP_INVAL, 0,
	  DMA_BUF_LIFETIME_REVOCABLE },
	{ "private, other interconnect", DBP_EXP_PRIVATE, &dbp_offer_priv,
	  DBP_ACCEPT_PRIV(DBP_IC + 1, DBP_CC_PRIV, &dbp_vm_a),
	  DBP_IMP_INVAL, -EREMOTE },
	{ "private, importer without private", DBP_EXP_PRIVATE,
	  &dbp_offer_priv,
	  DBP_ACCEPT(PHYR, DBP_RAM | DBP_P2P, DBP_CC_PRIV, DBP_REVOCABLE),
	  DBP_IMP_INVAL, -EREMOTE },
	/* Confidential state. */
	{ "private cc, other owner", DBP_EXP_PRIVATE, &dbp_offer_priv,
	  DBP_ACCEPT_PRIV(DBP_IC, DBP_CC_PRIV, &dbp_vm_b), DBP_IMP_INVAL,
	  -EACCES },
	{ "private cc, no owner", DBP_EXP_PRIVATE, &dbp_offer_priv,
	  DBP_ACCEPT_PRIV(DBP_IC, DBP_CC_PRIV, NULL), DBP_IMP_INVAL,
	  -EACCES },
	/* BEHAVIOURS: M17 - no sg_table compat of a VM's private memory. */
	{ "private cc P2P, sgt importer", DBP_EXP_PHYR,
	  &(const struct dma_buf_caps){ .descs = DMA_BUF_DESC_PHYR,
					.providers = DBP_P2P,
					.cc_states = DBP_CC_PRIV,
					.lifetimes = DBP_REVOCABLE,
					.cc_owner = &dbp_vm_a },
	  DBP_ACCEPT(SGT, DBP_P2P, DBP_CC_PRIV, DBP_REVOCABLE), DBP_IMP_INVAL,
	  -EOPNOTSUPP },
	{ "private cc not accepted", DBP_EXP_PRIVATE, &dbp_offer_priv,
	  DBP_ACCEPT_PRIV(DBP_IC, DBP_SHARED | DBP_IDE, &dbp_vm_a),
	  DBP_IMP_INVAL, -EACCES },
	{ "IDE offered, legacy importer", DBP_EXP_PHYR, &dbp_offer_ide,
	  NULL, DBP_IMP_INVAL, -EACCES },
	{ "IDE offered, IDE importer", DBP_EXP_PHYR, &dbp_offer_ide,
	  DBP_ACCEPT(PHYR, DBP_RAM, DBP_SHARED | DBP_IDE, DBP_DYNAMIC),
	  DBP_IMP_INVAL, 0, DMA_BUF_LIFETIME_DYNAMIC },
	/* Lifetime classes. */
	/* BEHAVIOURS: B4 - offering dynamic and revocable holds to revoke. */
	{ "strongest common class", DBP_EXP_PHYR, &dbp_offer_ram,
	  DBP_ACCEPT(PHYR, DBP_RAM, DBP_SHARED, ALL_LIFETIMES),
	  DBP_IMP_INVAL, 0, DMA_BUF_LIFETIME_REVOCABLE },
	{ "dynamic over pinned", DBP_EXP_PHYR, &dbp_offer_ram_all,
	  DBP_ACCEPT(PHYR, DBP_RAM, DBP_SHARED, DBP_DYNAMIC | DBP_PINNED),
	  DBP_IMP_INVAL, 0, DMA_BUF_LIFETIME_DYNAMIC },
	/* 7.3's RDMA pinned MR ops: allow_peer2peer, no callback. */
	{ "revocable, legacy importer with ops and no callback", DBP_EXP_PHYR,
	  &dbp_offer_ram, NULL, DBP_IMP_P2P, -EPERM },
	{ "never revoked, legacy importer with ops and no callback",
	  DBP_EXP_PHYR, &dbp_offer_ram_all, NULL, DBP_IMP_P2P, 0,
	  DMA_BUF_LIFETIME_PINNED },
	{ "revocable importer", DBP_EXP_PHYR, &dbp_offer_ram,
	  &dbp_accept_phyr_revocable, DBP_IMP_INVAL, 0,
	  DMA_BUF_LIFETIME_REVOCABLE },
	{ "pinned legacy importer, legacy exporter", DBP_EXP_LEGACY, NULL,
	  NULL, DBP_IMP_PINNED, 0, DMA_BUF_LIFETIME_PINNED },
	{ "revocable importer, legacy exporter", DBP_EXP_LEGACY, NULL,
	  DBP_ACCEPT(SGT, DBP_RAM, DBP_SHARED, DBP_REVOCABLE),
	  DBP_IMP_INVAL, 0, DMA_BUF_LIFETIME_REVOCABLE },
	{ "revocable-only, pinned legacy importer", DBP_EXP_PHYR,
	  &dbp_offer_ram_revocable, NULL, DBP_IMP_PINNED, -EPERM },
	{ "revocable-only, dynamic legacy importer", DBP_EXP_PHYR,
	  &dbp_offer_ram_revocable, NULL, DBP_IMP_INVAL, -EPERM },
	{ "dynamic-only, pinned importer", DBP_EXP_PHYR_PIN,
	  &dbp_offer_ram_dynamic,
	  DBP_ACCEPT(PHYR, DBP_RAM, DBP_SHARED, DBP_PINNED), DBP_IMP_INVAL,
	  -EPERM },
	{ "revocable class, no callback", DBP_EXP_PHYR,
	  &dbp_offer_ram_revocable, &dbp_accept_phyr_revocable, 0, -EINVAL },
	{ "dynamic class, no callback", DBP_EXP_PHYR, &dbp_offer_ram,
	  &dbp_accept_phyr, 0, -EINVAL },
	/* The order of the checks: the first failing one decides. */
	{ "descriptor before provider", DBP_EXP_PHYR, &dbp_offer_p2p,
	  DBP_ACCEPT(PHYR_DMA, DBP_RAM, DBP_SHARED, DBP_DYNAMIC),
	  DBP_IMP_INVAL, -EOPNOTSUPP },
	{ "provider before cc", DBP_EXP_PHYR, &dbp_offer_ide,
	  DBP_ACCEPT(PHYR, DBP_P2P, DBP_SHARED, DBP_DYNAMIC), DBP_IMP_INVAL,
	  -EREMOTEIO },
	{ "cc before lifetime", DBP_EXP_PHYR, &dbp_offer_ide,
	  DBP_ACCEPT(PHYR, DBP_RAM, DBP_SHARED, DBP_PINNED), DBP_IMP_INVAL,
	  -EACCES },
	{ "lifetime before callback", DBP_EXP_PHYR, &dbp_offer_ram_revocable,
	  DBP_ACCEPT(PHYR, DBP_RAM, DBP_SHARED, DBP_DYNAMIC), 0, -EPERM },
};

KUNIT_ARRAY_PARAM_DESC(dbp_match, dbp_match_cases, name);

/* BEHAVIOURS: B3 B4 */
static void dbp_attach_matching(struct kunit *test)
{
	const struct dbp_match_case *c = test->param_value;
	struct dbp_exporter *exp = dbp_export(test, c->kind, c->offer);
	struct dbp_importer *imp = dbp_importer(test, exp, c->accept,
						c->flags);
	int err = dbp_imp_attach(imp);

	KUNIT_ASSERT_EQ(test, err, c->err);
	if (err) {
		/* Nothing created: the exporter never saw the attach. */
		KUNIT_EXPECT_EQ(test, exp->nr_attach, 0);
		KUNIT_EXPECT_TRUE(test, list_empty(&exp->dmabuf->attachments));
		return;
	}
	KUNIT_EXPECT_EQ(test, dma_buf_attach_lifetime(imp->attach), c->lifetime);
	/* Upstream's predicate only sees the callback, whatever the class. */
	KUNIT_EXPECT_EQ(test, dma_buf_attach_revocable(imp->attach),
			!!(c->flags & DBP_IMP_INVAL));
}

#undef PHYR
#undef SGT
#undef PHYR_DMA
#undef ALL_LIFETIMES

/* BEHAVIOURS: B3 */
static void dbp_private_importer_gets_private_phyr(struct kunit *test)
{
	struct dbp_exporter *exp = dbp_export(test, DBP_EXP_PRIVATE,
					      &dbp_offer_priv);
	struct dbp_importer *imp = dbp_attach(test, exp, &dbp_accept_priv,
					      DBP_IMP_INVAL);
	struct phyr_iter iter;
	struct phyr_seg seg;

	KUNIT_ASSERT_EQ(test, dbp_map_phyr(imp), 0);
	KUNIT_EXPECT_PTR_EQ(test, imp->phyr, (const struct phyr *)&exp->phyr);
	KUNIT_ASSERT_EQ(test, phyr_iter_start(&iter, imp->phyr, 0, DBP_SIZE),
			0);
	KUNIT_ASSERT_TRUE(test, phyr_iter_next(&iter, &seg));
	KUNIT_EXPECT_EQ(test, seg.provider->kind, PHYR_PROVIDER_PRIVATE);
	KUNIT_EXPECT_EQ(test, seg.provider->priv.interconnect_id, DBP_IC);
	KUNIT_EXPECT_EQ(test, (u64)seg.paddr, DBP_IC_ADDR);
	dbp_unmap(imp);
}

/* BEHAVIOURS: B4 */
static void dbp_pinned_refused_by_revocable_only(struct kunit *test)
{
	struct dbp_exporter *exp = dbp_export(test, DBP_EXP_PHYR,
					      &dbp_offer_ram_revocable);
	struct dbp_importer *pinned, *dynamic, *revocable;

	pinned = dbp_importer(test, exp, NULL, DBP_IMP_PINNED);
	KUNIT_EXPECT_EQ(test, dbp_imp_attach(pinned), -EPERM);
	dynamic = dbp_importer(test, exp, NULL, DBP_IMP_INVAL);
	KUNIT_EXPECT_EQ(test, dbp_imp_attach(dynamic), -EPERM);
	KUNIT_EXPECT_TRUE(test, list_empty(&exp->dmabuf->attachments));

	revocable = dbp_attach(test, exp, &dbp_accept_phyr_revocable,
			       DBP_IMP_INVAL);
	KUNIT_EXPECT_EQ(test, dma_buf_attach_lifetime(revocable->attach),
			DMA_BUF_LIFETIME_REVOCABLE);
	KUNIT_EXPECT_TRUE(test, dma_buf_is_revocable(exp->dmabuf));
}

/*
 * An exporter that serves pinned importers promises never to take the
 * memory away: it cannot revoke, even if it also lists the revocable class.
 */
/* BEHAVIOURS: B4 */
static void dbp_pinned_importer_never_revoked(struct kunit *test)
{
	struct dbp_exporter *exp = dbp_export(test, DBP_EXP_PHYR,
					      &dbp_offer_ram_all);
	struct dbp_importer *pinned = dbp_attach(test, exp, NULL,
						 DBP_IMP_PINNED);
	struct dbp_importer *revocable;

	revocable = dbp_attach(test, exp, &dbp_accept_sgt_revocable,
			       DBP_IMP_INVAL);
	KUNIT_EXPECT_EQ(test, dma_buf_attach_lifetime(pinned->attach),
			DMA_BUF_LIFETIME_PINNED);
	KUNIT_EXPECT_EQ(test, dma_buf_attach_lifetime(revocable->attach),
			DMA_BUF_LIFETIME_REVOCABLE);
	KUNIT_ASSERT_EQ(test, dbp_map_sgt(pinned), 0);
	KUNIT_ASSERT_EQ(test, dbp_map_sgt(revocable), 0);

	KUNIT_EXPECT_FALSE(test, dma_buf_is_revocable(exp->dmabuf));
	KUNIT_EXPECT_EQ(test, dbp_revoke(exp), -EINVAL);
	KUNIT_EXPECT_FALSE(test, dma_buf_is_revoked(exp->dmabuf));
	KUNIT_EXPECT_EQ(test, revocable->nr_revoke, 0);
	/* Both mappings stand. */
	KUNIT_EXPECT_NOT_NULL(test, pinned->sgt);
	KUNIT_EXPECT_NOT_NULL(test, revocable->sgt);
	KUNIT_EXPECT_EQ(test, exp->nr_unmap_phyr, 0);
	dbp_unmap(pinned);
	dbp_unmap(revocable);
}

/*
 * BEHAVIOURS: B4 - a phyr importer of the pinned class (it has caps, so
 * importer ops) pins a buffer its exporter could move while it has it
 * mapped, and is never told about moves: it has no callback to hear them.
 */
static void dbp_pinned_phyr_importer_pins(struct kunit *test)
{
	struct dbp_exporter *exp = dbp_export(test, DBP_EXP_PHYR_PIN,
					      &dbp_offer_ram_all);
	struct dbp_importer *imp = dbp_attach(test, exp,
					      &dbp_accept_phyr_pinned, 0);

	KUNIT_EXPECT_EQ(test, dma_buf_attach_lifetime(imp->attach), DMA_BUF_LIFETIME_PINNED);
	KUNIT_EXPECT_EQ(test, exp->nr_pin, 0);
	KUNIT_ASSERT_EQ(test, dbp_map_phyr(imp), 0);
	KUNIT_EXPECT_EQ(test, exp->nr_pin, 1);

	dma_resv_lock(exp->dmabuf->resv, NULL);
	dma_buf_invalidate_mappings(exp->dmabuf);
	dma_resv_unlock(exp->dmabuf->resv);
	KUNIT_EXPECT_EQ(test, imp->nr_move + imp->nr_revoke, 0);
	KUNIT_EXPECT_NOT_NULL(test, imp->phyr);
	KUNIT_EXPECT_EQ(test, exp->nr_unpin, 0);

	dbp_unmap(imp);
	KUNIT_EXPECT_EQ(test, exp->nr_unpin, 1);
	dbp_imp_detach(imp);
}

/* BEHAVIOURS: B4 */
static void dbp_dynamic_importer_invalidated_and_remaps(struct kunit *test)
{
	struct dbp_exporter *exp = dbp_export(test, DBP_EXP_PHYR,
					      &dbp_offer_ram);
	struct dbp_importer *imp = dbp_attach(test, exp, &dbp_accept_phyr,
					      DBP_IMP_INVAL);

	KUNIT_EXPECT_EQ(test, dma_buf_attach_lifetime(imp->attach),
			DMA_BUF_LIFETIME_DYNAMIC);
	KUNIT_ASSERT_EQ(test, dbp_map_phyr(imp), 0);

	/* A move: invalidate_mappings, under the lock; the importer unmaps. */
	dma_resv_lock(exp->dmabuf->resv, NULL);
	dma_buf_invalidate_mappings(exp->dmabuf);
	dma_resv_unlock(exp->dmabuf->resv);
	KUNIT_EXPECT_EQ(test, imp->nr_move, 1);
	KUNIT_EXPECT_EQ(test, imp->nr_revoke, 0);
	KUNIT_EXPECT_EQ(test, exp->nr_unmap_phyr, 1);

	/* It maps again. */
	KUNIT_ASSERT_EQ(test, dbp_map_phyr(imp), 0);
	KUNIT_EXPECT_EQ(test, exp->nr_map_phyr, 2);

	/* A revoke reaches it through the same callback... */
	KUNIT_EXPECT_EQ(test, dbp_revoke(exp), 0);
	KUNIT_EXPECT_EQ(test, imp->nr_revoke, 1);
	KUNIT_EXPECT_NULL(test, imp->phyr);
	/* ...and it cannot map until restore, which hints "map again". */
	KUNIT_EXPECT_EQ(test, dbp_map_phyr(imp), -ENODEV);
	KUNIT_EXPECT_EQ(test, dbp_restore(exp), 0);
	KUNIT_EXPECT_EQ(test, imp->nr_move, 2);
	KUNIT_EXPECT_EQ(test, dbp_map_phyr(imp), 0);
	dbp_unmap(imp);
}

/* BEHAVIOURS: B4 B11 */
static void dbp_dynamic_and_revocable_held_to_revoke(struct kunit *test)
{
	struct dbp_exporter *exp = dbp_export(test, DBP_EXP_PHYR_PIN,
					      &dbp_offer_ram);
	struct dbp_importer *imp = dbp_attach(test, exp,
					      DBP_ACCEPT(DMA_BUF_DESC_PHYR,
							 DBP_RAM, DBP_SHARED,
							 DBP_DYNAMIC |
							 DBP_REVOCABLE),
					      DBP_IMP_INVAL);
	struct dma_resv *resv = exp->dmabuf->resv;

	/* It gets the revocable class, not the weaker dynamic one... */
	KUNIT_EXPECT_EQ(test, dma_buf_attach_lifetime(imp->attach),
			DMA_BUF_LIFETIME_REVOCABLE);
	/* ...so it may pin, having promised to unmap in its callback. */
	dma_resv_lock(resv, NULL);
	KUNIT_EXPECT_EQ(test, dma_buf_pin(imp->attach), 0);
	dma_resv_unlock(resv);
	KUNIT_ASSERT_EQ(test, dbp_map_phyr(imp), 0);

	/* Broken: it keeps its mapping. The revoke says so, bounded. */
	imp->keep_mapping = true;
	KUNIT_EXPECT_EQ(test, dbp_revoke(exp), -EBUSY);
	KUNIT_EXPECT_TRUE(test, dma_buf_is_revoked(exp->dmabuf));
	KUNIT_EXPECT_EQ(test, imp->nr_revoke, 1);
	dbp_unmap(imp);
	dma_resv_lock(resv, NULL);
	dma_buf_unpin(imp->attach);
	dma_resv_unlock(resv);
	KUNIT_EXPECT_EQ(test, dbp_revoke(exp), 0);
	KUNIT_EXPECT_EQ(test, imp->nr_revoke, 1);
	KUNIT_EXPECT_EQ(test, dbp_restore(exp), 0);
}

/* BEHAVIOURS: B4 */
static void dbp_revocable_importer_enodev_until_restore(struct kunit *test)
{
	struct dbp_exporter *exp = dbp_export(test, DBP_EXP_PHYR,
					      &dbp_offer_ram);
	struct dbp_importer *phyr_imp, *sgt_imp;
	struct sg_table *sgt;

	phyr_imp = dbp_attach(test, exp, &dbp_accept_phyr_revocable,
			      DBP_IMP_INVAL);
	sgt_imp = dbp_attach(test, exp, &dbp_accept_sgt_revocable,
			     DBP_IMP_INVAL);
	KUNIT_EXPECT_EQ(test, dma_buf_attach_lifetime(phyr_imp->attach),
			DMA_BUF_LIFETIME_REVOCABLE);
	KUNIT_EXPECT_EQ(test, dma_buf_attach_lifetime(sgt_imp->attach),
			DMA_BUF_LIFETIME_REVOCABLE);
	KUNIT_ASSERT_EQ(test, dbp_map_phyr(phyr_imp), 0);
	KUNIT_ASSERT_EQ(test, dbp_map_sgt(sgt_imp), 0);

	KUNIT_EXPECT_EQ(test, dbp_revoke(exp), 0);
	KUNIT_EXPECT_TRUE(test, dma_buf_is_revoked(exp->dmabuf));
	KUNIT_EXPECT_EQ(test, phyr_imp->nr_revoke, 1);
	KUNIT_EXPECT_EQ(test, sgt_imp->nr_revoke, 1);
	KUNIT_EXPECT_EQ(test, exp->nr_map_phyr, exp->nr_unmap_phyr);

	/* Every way to map fails with -ENODEV. */
	KUNIT_EXPECT_EQ(test, dbp_map_phyr(phyr_imp), -ENODEV);
	KUNIT_EXPECT_EQ(test,
			PTR_ERR(dma_buf_map_phyr_unlocked(phyr_imp->attach)),
			-ENODEV);
	KUNIT_EXPECT_EQ(test, dbp_map_sgt(sgt_imp), -ENODEV);
	sgt = dma_buf_map_attachment_unlocked(sgt_imp->attach,
					      DBP_DIR);
	KUNIT_EXPECT_EQ(test, PTR_ERR_OR_ZERO(sgt), -ENODEV);
	if (!IS_ERR(sgt))
		dma_buf_unmap_attachment_unlocked(sgt_imp->attach, sgt,
						  DBP_DIR);

	KUNIT_EXPECT_EQ(test, dbp_restore(exp), 0);
	KUNIT_EXPECT_FALSE(test, dma_buf_is_revoked(exp->dmabuf));
	KUNIT_EXPECT_EQ(test, dbp_map_phyr(phyr_imp), 0);
	KUNIT_EXPECT_EQ(test, dbp_map_sgt(sgt_imp), 0);
	dbp_unmap(phyr_imp);
	dbp_unmap(sgt_imp);
}

/* BEHAVIOURS: B5 */
static void dbp_revoke_notifies_each_once(struct kunit *test)
{
	struct dbp_exporter *exp = dbp_export(test, DBP_EXP_PHYR,
					      &dbp_offer_ram);
	struct dbp_importer *imps[4];
	unsigned int i;

	imps[0] = dbp_attach(test, exp, &dbp_accept_phyr_revocable,
			     DBP_IMP_INVAL);
	imps[1] = dbp_attach(test, exp, &dbp_accept_phyr_revocable,
			     DBP_IMP_INVAL);
	imps[2] = dbp_attach(test, exp, &dbp_accept_sgt_revocable,
			     DBP_IMP_INVAL);
	imps[3] = dbp_attach(test, exp, &dbp_accept_phyr, DBP_IMP_INVAL);
	KUNIT_ASSERT_EQ(test, dbp_map_phyr(imps[0]), 0);
	KUNIT_ASSERT_EQ(test, dbp_map_phyr(imps[1]), 0);
	KUNIT_ASSERT_EQ(test, dbp_map_sgt(imps[2]), 0);
	KUNIT_ASSERT_EQ(test, dbp_map_phyr(imps[3]), 0);
	KUNIT_EXPECT_EQ(test, exp->nr_map_phyr, 4);

	KUNIT_EXPECT_EQ(test, dbp_revoke(exp), 0);
	/* Returned: every importer was told once and has unmapped. */
	for (i = 0; i < ARRAY_SIZE(imps); i++) {
		KUNIT_EXPECT_EQ_MSG(test, imps[i]->nr_revoke + imps[i]->nr_move,
				    1, "importer %u", i);
		KUNIT_EXPECT_NULL(test, imps[i]->phyr);
		KUNIT_EXPECT_NULL(test, imps[i]->sgt);
	}
	/* The dynamic one too, through the same callback. */
	KUNIT_EXPECT_EQ(test, imps[3]->nr_revoke, 1);
	KUNIT_EXPECT_EQ(test, exp->nr_unmap_phyr, 4);
	KUNIT_EXPECT_EQ(test, exp->dmabuf->nr_mapped, 0);

	/* Revoking a revoked buffer notifies nobody. */
	KUNIT_EXPECT_EQ(test, dbp_revoke(exp), 0);
	for (i = 0; i < ARRAY_SIZE(imps); i++)
		KUNIT_EXPECT_EQ_MSG(test, imps[i]->nr_revoke + imps[i]->nr_move,
				    1, "importer %u", i);
	KUNIT_EXPECT_EQ(test, dbp_restore(exp), 0);
}

/**
 * struct dbp_fence - a fence signalled by a delayed work
 * @base: the fence; first, as dma_fence_free() frees it.
 * @lock: its lock.
 * @work: signals it.
 */
struct dbp_fence {
	struct dma_fence	base;
	spinlock_t		lock;	/* the fence's */
	struct delayed_work	work;
};

static const char *dbp_fence_name(struct dma_fence *fence)
{
	return "dma-buf-phyr-test";
}

static const struct dma_fence_ops dbp_fence_ops = {
	.get_driver_name = dbp_fence_name,
	.get_timeline_name = dbp_fence_name,
};

static void dbp_fence_work(struct work_struct *work)
{
	struct dbp_fence *f = container_of(work, struct dbp_fence, work.work);

	dma_fence_signal(&f->base);
}

static void dbp_fence_cleanup(void *data)
{
	struct dbp_fence *f = data;

	/* Signalled before the last reference goes. */
	mod_delayed_work(system_wq, &f->work, 0);
	flush_delayed_work(&f->work);
	dma_fence_put(&f->base);
}

/* BEHAVIOURS: B5 */
static void dbp_revoke_waits_for_fences(struct kunit *test)
{
	struct dbp_exporter *exp = dbp_export(test, DBP_EXP_PHYR,
					      &dbp_offer_ram);
	struct dbp_importer *imp = dbp_attach(test, exp,
					      &dbp_accept_phyr_revocable,
					      DBP_IMP_INVAL);
	struct dma_resv *resv = exp->dmabuf->resv;
	struct dbp_fence *f;
	int ret;

	f = kzalloc_obj(*f);
	KUNIT_ASSERT_NOT_NULL(test, f);
	spin_lock_init(&f->lock);
	dma_fence_init(&f->base, &dbp_fence_ops, &f->lock,
		       dma_fence_context_alloc(1), 1);
	INIT_DELAYED_WORK(&f->work, dbp_fence_work);
	ret = kunit_add_action_or_reset(test, dbp_fence_cleanup, f);
	KUNIT_ASSERT_EQ(test, ret, 0);

	KUNIT_ASSERT_EQ(test, dbp_map_phyr(imp), 0);
	/* DMA still in flight after the importer unmaps, the least usage. */
	dma_resv_lock(resv, NULL);
	ret = dma_resv_reserve_fences(resv, 1);
	if (!ret)
		dma_resv_add_fence(resv, &f->base, DMA_RESV_USAGE_BOOKKEEP);
	dma_resv_unlock(resv);
	KUNIT_ASSERT_EQ(test, ret, 0);

	schedule_delayed_work(&f->work, msecs_to_jiffies(100));
	KUNIT_EXPECT_EQ(test, dbp_revoke(exp), 0);
	KUNIT_EXPECT_TRUE(test, dma_fence_is_signaled(&f->base));
	KUNIT_EXPECT_EQ(test, imp->nr_revoke, 1);
	KUNIT_EXPECT_EQ(test, dbp_restore(exp), 0);
}

/* BEHAVIOURS: B5 */
static void dbp_revoke_busy_while_mapped(struct kunit *test)
{
	struct dbp_exporter *exp = dbp_export(test, DBP_EXP_PHYR,
					      &dbp_offer_ram);
	struct dbp_importer *imp = dbp_attach(test, exp,
					      &dbp_accept_phyr_revocable,
					      DBP_IMP_INVAL);
	struct dbp_importer *other = dbp_attach(test, exp,
						&dbp_accept_phyr_revocable,
						DBP_IMP_INVAL);

	/* A broken importer that keeps its mapping past the callback. */
	imp->keep_mapping = true;
	KUNIT_ASSERT_EQ(test, dbp_map_phyr(imp), 0);
	KUNIT_EXPECT_EQ(test, dbp_revoke(exp), -EBUSY);
	KUNIT_EXPECT_TRUE(test, dma_buf_is_revoked(exp->dmabuf));
	KUNIT_EXPECT_EQ(test, imp->nr_revoke, 1);
	KUNIT_EXPECT_EQ(test, other->nr_revoke, 1);
	KUNIT_EXPECT_EQ(test, dbp_map_phyr(other), -ENODEV);

	dbp_unmap(imp);
	/* Already revoked: 0, and nobody is told again. */
	KUNIT_EXPECT_EQ(test, dbp_revoke(exp), 0);
	KUNIT_EXPECT_EQ(test, imp->nr_revoke, 1);
	KUNIT_EXPECT_EQ(test, dbp_restore(exp), 0);
}

/* BEHAVIOURS: B5 */
static void dbp_attach_while_revoked(struct kunit *test)
{
	struct dbp_exporter *exp = dbp_export(test, DBP_EXP_PHYR,
					      &dbp_offer_ram);
	struct dbp_importer *phyr_imp, *sgt_imp;

	KUNIT_ASSERT_EQ(test, dbp_revoke(exp), 0);
	phyr_imp = dbp_attach(test, exp, &dbp_accept_phyr_revocable,
			      DBP_IMP_INVAL);
	sgt_imp = dbp_attach(test, exp, NULL, DBP_IMP_INVAL);
	KUNIT_EXPECT_EQ(test, dbp_map_phyr(phyr_imp), -ENODEV);
	KUNIT_EXPECT_EQ(test, dbp_map_sgt(sgt_imp), -ENODEV);
	KUNIT_EXPECT_EQ(test, exp->nr_map_phyr, 0);

	KUNIT_EXPECT_EQ(test, dbp_restore(exp), 0);
	KUNIT_EXPECT_EQ(test, dbp_map_phyr(phyr_imp), 0);
	KUNIT_EXPECT_EQ(test, dbp_map_sgt(sgt_imp), 0);
	dbp_unmap(phyr_imp);
	dbp_unmap(sgt_imp);
}

/* BEHAVIOURS: B6 */
static void dbp_restore_does_not_remap(struct kunit *test)
{
	struct dbp_exporter *exp = dbp_export(test, DBP_EXP_PHYR,
					      &dbp_offer_ram);
	struct dbp_importer *phyr_imp, *sgt_imp, *quiet;
	unsigned int nr_map;

	phyr_imp = dbp_attach(test, exp, &dbp_accept_phyr_revocable,
			      DBP_IMP_INVAL);
	sgt_imp = dbp_attach(test, exp, &dbp_accept_sgt_revocable,
			     DBP_IMP_INVAL);
	/* restore is optional. */
	quiet = dbp_attach(test, exp, &dbp_accept_phyr_revocable,
			   DBP_IMP_INVAL);
	KUNIT_ASSERT_EQ(test, dbp_map_phyr(phyr_imp), 0);
	KUNIT_ASSERT_EQ(test, dbp_map_sgt(sgt_imp), 0);
	KUNIT_ASSERT_EQ(test, dbp_map_phyr(quiet), 0);
	KUNIT_ASSERT_EQ(test, dbp_revoke(exp), 0);
	nr_map = exp->nr_map_phyr;

	KUNIT_EXPECT_EQ(test, dbp_restore(exp), 0);
	KUNIT_EXPECT_EQ(test, phyr_imp->nr_move, 1);
	KUNIT_EXPECT_EQ(test, sgt_imp->nr_move, 1);
	/* Told, but nothing was mapped behind the importers' backs. */
	KUNIT_EXPECT_EQ(test, exp->nr_map_phyr, nr_map);
	KUNIT_EXPECT_EQ(test, exp->nr_map_phyr, exp->nr_unmap_phyr);
	KUNIT_EXPECT_NULL(test, phyr_imp->attach->phyr);
	KUNIT_EXPECT_NULL(test, sgt_imp->attach->phyr);
	KUNIT_EXPECT_NULL(test, quiet->attach->phyr);

	/* Each maps again when it wants to. */
	KUNIT_EXPECT_EQ(test, dbp_map_phyr(phyr_imp), 0);
	KUNIT_EXPECT_EQ(test, exp->nr_map_phyr, nr_map + 1);
	KUNIT_EXPECT_EQ(test, dbp_map_sgt(sgt_imp), 0);
	KUNIT_EXPECT_EQ(test, exp->nr_map_phyr, nr_map + 2);
	dbp_unmap(phyr_imp);
	dbp_unmap(sgt_imp);
}

/* BEHAVIOURS: B7 */
static void dbp_ops_run_under_resv_lock(struct kunit *test)
{
	struct dbp_exporter *exp, *pin_exp;
	struct dbp_importer *phyr_imp, *sgt_imp, *pin_imp;
	struct sg_table *sgt;
	const struct phyr *phyr;

	if (!IS_ENABLED(CONFIG_LOCKDEP))
		kunit_skip(test, "needs lockdep to see who holds the lock");

	exp = dbp_export(test, DBP_EXP_PHYR, &dbp_offer_ram);
	phyr_imp = dbp_attach(test, exp, &dbp_accept_phyr_revocable,
			      DBP_IMP_INVAL);
	sgt_imp = dbp_attach(test, exp, NULL, DBP_IMP_INVAL);

	/* The _unlocked entry points take the lock for the ops. */
	phyr = dma_buf_map_phyr_unlocked(phyr_imp->attach);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, phyr);
	dma_buf_unmap_phyr_unlocked(phyr_imp->attach, phyr);
	sgt = dma_buf_map_attachment_unlocked(sgt_imp->attach,
					      DBP_DIR);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, sgt);
	dma_buf_unmap_attachment_unlocked(sgt_imp->attach, sgt,
					  DBP_DIR);
	/* Revoke and restore call back under it. */
	KUNIT_ASSERT_EQ(test, dbp_map_phyr(phyr_imp), 0);
	KUNIT_ASSERT_EQ(test, dbp_map_sgt(sgt_imp), 0);
	KUNIT_EXPECT_EQ(test, dbp_revoke(exp), 0);
	KUNIT_EXPECT_EQ(test, dbp_restore(exp), 0);

	/* A pinning exporter, as an attach-time pin of a pinned importer. */
	pin_exp = dbp_export(test, DBP_EXP_PHYR_PIN, &dbp_offer_ram_pinned);
	pin_imp = dbp_attach(test, pin_exp, NULL, DBP_IMP_PINNED);
	KUNIT_EXPECT_EQ(test, dbp_map_sgt(pin_imp), 0);
	dbp_unmap(pin_imp);

	/* The ops ran, and never without the lock. */
	KUNIT_EXPECT_EQ(test, exp->nr_map_phyr, 4);
	KUNIT_EXPECT_EQ(test, exp->nr_unmap_phyr, 4);
	KUNIT_EXPECT_EQ(test, exp->nr_unlocked, 0);
	KUNIT_EXPECT_GE(test, pin_exp->nr_map_phyr, 1);
	KUNIT_EXPECT_EQ(test, pin_exp->nr_unlocked, 0);
	KUNIT_EXPECT_EQ(test, phyr_imp->nr_revoke, 1);
	KUNIT_EXPECT_EQ(test, phyr_imp->nr_move, 1);
	KUNIT_EXPECT_EQ(test, sgt_imp->nr_move, 1);
	KUNIT_EXPECT_EQ(test, phyr_imp->nr_cb_unlocked, 0);
	KUNIT_EXPECT_EQ(test, sgt_imp->nr_cb_unlocked, 0);
}

/* BEHAVIOURS: B7 */
static void dbp_unlocked_calls_are_caught(struct kunit *test)
{
	struct dbp_exporter *exp = dbp_export(test, DBP_EXP_PHYR,
					      &dbp_offer_ram);
	struct dbp_exporter *fixed = dbp_export(test, DBP_EXP_PHYR_PIN,
						&dbp_offer_ram_dynamic);
	struct dbp_importer *imp = dbp_attach(test, exp,
					      &dbp_accept_phyr_revocable,
					      DBP_IMP_INVAL);
	const struct phyr *phyr;

	/* The locked entry points, called without the lock. */
	phyr = dma_buf_map_phyr(imp->attach);
	KUNIT_EXPECT_EQ(test, PTR_ERR_OR_ZERO(phyr), -ENOLCK);
	if (!IS_ERR(phyr))
		dma_buf_unmap_phyr_unlocked(imp->attach, phyr);
	KUNIT_EXPECT_EQ(test, exp->nr_map_phyr, 0);

	KUNIT_EXPECT_EQ(test, dma_buf_revoke(exp->dmabuf), -ENOLCK);
	KUNIT_EXPECT_FALSE(test, dma_buf_is_revoked(exp->dmabuf));
	KUNIT_EXPECT_EQ(test, imp->nr_revoke, 0);

	KUNIT_ASSERT_EQ(test, dbp_revoke(exp), 0);
	KUNIT_EXPECT_EQ(test, dma_buf_restore(exp->dmabuf), -ENOLCK);
	KUNIT_EXPECT_TRUE(test, dma_buf_is_revoked(exp->dmabuf));
	KUNIT_EXPECT_EQ(test, dbp_restore(exp), 0);
	KUNIT_EXPECT_FALSE(test, dma_buf_is_revoked(exp->dmabuf));

	/* An exporter that does not offer revocable cannot revoke. */
	KUNIT_EXPECT_FALSE(test, dma_buf_is_revocable(fixed->dmabuf));
	KUNIT_EXPECT_EQ(test, dbp_revoke(fixed), -EINVAL);
	KUNIT_EXPECT_FALSE(test, dma_buf_is_revoked(fixed->dmabuf));
	KUNIT_EXPECT_EQ(test, dbp_restore(fixed), -EINVAL);
}

/*
 * BEHAVIOURS: B5 (B8 is retired: 7.3 has no CONFIG_DMABUF_MOVE_NOTIFY, and
 * nothing here tests for it) - an exporter with pin ops revokes its dynamic
 * and revocable importers, none of which pinned it.
 */
static void dbp_revoke_with_pin_ops_pins_nothing(struct kunit *test)
{
	struct dbp_exporter *exp;
	struct dbp_importer *sgt_imp, *phyr_imp, *legacy;

	exp = dbp_export(test, DBP_EXP_PHYR_PIN, &dbp_offer_ram);
	sgt_imp = dbp_attach(test, exp, &dbp_accept_sgt_revocable,
			     DBP_IMP_INVAL);
	phyr_imp = dbp_attach(test, exp, &dbp_accept_phyr_revocable,
			      DBP_IMP_INVAL);
	legacy = dbp_attach(test, exp, NULL, DBP_IMP_INVAL);
	KUNIT_ASSERT_EQ(test, dbp_map_sgt(sgt_imp), 0);
	KUNIT_ASSERT_EQ(test, dbp_map_phyr(phyr_imp), 0);
	KUNIT_ASSERT_EQ(test, dbp_map_sgt(legacy), 0);
	/* Importers with a callback are not pinned on map. */
	KUNIT_EXPECT_EQ(test, exp->nr_pin, 0);

	KUNIT_EXPECT_EQ(test, dbp_revoke(exp), 0);
	KUNIT_EXPECT_EQ(test, sgt_imp->nr_revoke, 1);
	KUNIT_EXPECT_EQ(test, phyr_imp->nr_revoke, 1);
	KUNIT_EXPECT_EQ(test, legacy->nr_revoke, 1);
	KUNIT_EXPECT_EQ(test, exp->nr_unmap_phyr, exp->nr_map_phyr);
	KUNIT_EXPECT_EQ(test, dbp_map_sgt(sgt_imp), -ENODEV);
	KUNIT_EXPECT_EQ(test, dbp_map_phyr(phyr_imp), -ENODEV);
	KUNIT_EXPECT_EQ(test, dbp_map_sgt(legacy), -ENODEV);
	KUNIT_EXPECT_EQ(test, exp->nr_unpin, exp->nr_pin);

	KUNIT_EXPECT_EQ(test, dbp_restore(exp), 0);
	KUNIT_EXPECT_EQ(test, dbp_map_sgt(sgt_imp), 0);
	KUNIT_EXPECT_EQ(test, dbp_map_phyr(phyr_imp), 0);
	dbp_unmap(sgt_imp);
	dbp_unmap(phyr_imp);
}

/**
 * struct dbp_fdinfo_case - what fdinfo shows for one exporter and state
 * @name: the case.
 * @kind: the exporter.
 * @offer: what it offers.
 * @revoked: revoke it first.
 * @show: the exact lines dma_buf_phyr_show_fdinfo() must print.
 */
struct dbp_fdinfo_case {
	const char			*name;
	enum dbp_exp_kind		kind;
	const struct dma_buf_caps	*offer;
	bool				revoked;
	const char			*show;
};

static const struct dbp_fdinfo_case dbp_fdinfo_cases[] = {
	{ "legacy exporter", DBP_EXP_LEGACY, NULL, false,
	  "phyr_descs:\tsg_table phyr_dma\n"
	  "revocable:\tno\n"
	  "revoked:\tno\n" },
	{ "phyr exporter", DBP_EXP_PHYR, &dbp_offer_ram, false,
	  "phyr_descs:\tsg_table phyr\n"
	  "phyr_providers:\tram\n"
	  "phyr_cc:\tshared\n"
	  "phyr_lifetimes:\tdynamic revocable\n"
	  "revocable:\tyes\n"
	  "revoked:\tno\n" },
	{ "phyr exporter, revoked", DBP_EXP_PHYR, &dbp_offer_ram, true,
	  "phyr_descs:\tsg_table phyr\n"
	  "phyr_providers:\tram\n"
	  "phyr_cc:\tshared\n"
	  "phyr_lifetimes:\tdynamic revocable\n"
	  "revocable:\tyes\n"
	  "revoked:\tyes\n" },
	{ "P2P and IDE, not revocable", DBP_EXP_PHYR_PIN, &dbp_offer_mixed,
	  false,
	  "phyr_descs:\tsg_table phyr\n"
	  "phyr_providers:\tram p2p\n"
	  "phyr_cc:\tshared ide\n"
	  "phyr_lifetimes:\tpinned dynamic\n"
	  "revocable:\tno\n"
	  "revoked:\tno\n" },
	{ "private interconnect, revoked", DBP_EXP_PRIVATE, &dbp_offer_priv,
	  true,
	  "phyr_descs:\tphyr\n"
	  "phyr_providers:\tprivate\n"
	  "phyr_cc:\tprivate\n"
	  "phyr_lifetimes:\trevocable\n"
	  "revocable:\tyes\n"
	  "revoked:\tyes\n" },
};

KUNIT_ARRAY_PARAM_DESC(dbp_fdinfo, dbp_fdinfo_cases, name);

/* BEHAVIOURS: B9 */
static void dbp_fdinfo_shows_offer_and_state(struct kunit *test)
{
	const struct dbp_fdinfo_case *c = test->param_value;
	struct dbp_exporter *exp = dbp_export(test, c->kind, c->offer);
	struct seq_file m = {};

	m.size = PAGE_SIZE;
	m.buf = kunit_kzalloc(test, m.size, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, m.buf);
	if (c->revoked)
		KUNIT_ASSERT_EQ(test, dbp_revoke(exp), 0);

	dma_buf_phyr_show_fdinfo(&m, exp->dmabuf);
	KUNIT_ASSERT_LT(test, m.count, m.size);
	m.buf[m.count] = '\0';
	KUNIT_EXPECT_STREQ(test, m.buf, c->show);

	if (c->revoked)
		KUNIT_EXPECT_EQ(test, dbp_restore(exp), 0);
}

/**
 * struct dbp_detach_case - an importer detaching with a phyr mapped
 * @name: the case.
 * @kind: the exporter.
 * @offer: what it offers.
 * @accept: what the importer accepts.
 */
struct dbp_detach_case {
	const char			*name;
	enum dbp_exp_kind		kind;
	const struct dma_buf_caps	*offer;
	const struct dma_buf_caps	*accept;
};

static const struct dbp_detach_case dbp_detach_cases[] = {
	{ "exporter's phyr", DBP_EXP_PHYR, &dbp_offer_ram, &dbp_accept_phyr },
	{ "DMA-mapped phyr", DBP_EXP_LEGACY, NULL, &dbp_accept_phyr_dma },
};

KUNIT_ARRAY_PARAM_DESC(dbp_detach, dbp_detach_cases, name);

/* BEHAVIOURS: B10 */
static void dbp_detach_releases_phyr(struct kunit *test)
{
	const struct dbp_detach_case *c = test->param_value;
	struct dbp_exporter *exp = dbp_export(test, c->kind, c->offer);
	struct dbp_importer *imp = dbp_attach(test, exp, c->accept,
					      DBP_IMP_INVAL);

	KUNIT_ASSERT_EQ(test, dbp_map_phyr(imp), 0);
	dbp_imp_detach(imp);
	KUNIT_EXPECT_EQ(test, exp->nr_map_phyr, exp->nr_unmap_phyr);
	KUNIT_EXPECT_EQ(test, exp->nr_map_sgt, exp->nr_unmap_sgt);
	KUNIT_EXPECT_EQ(test, exp->nr_detach, 1);
}

/* BEHAVIOURS: B10 */
static void dbp_detach_after_revoke(struct kunit *test)
{
	struct dbp_exporter *exp = dbp_export(test, DBP_EXP_PHYR,
					      &dbp_offer_ram);
	struct dbp_importer *imp = dbp_attach(test, exp,
					      &dbp_accept_phyr_revocable,
					      DBP_IMP_INVAL);
	struct dbp_importer *stuck = dbp_attach(test, exp,
						&dbp_accept_phyr_revocable,
						DBP_IMP_INVAL);

	KUNIT_ASSERT_EQ(test, dbp_map_phyr(imp), 0);
	/* One that still holds its mapping when it detaches. */
	stuck->keep_mapping = true;
	KUNIT_ASSERT_EQ(test, dbp_map_phyr(stuck), 0);
	KUNIT_EXPECT_EQ(test, dbp_revoke(exp), -EBUSY);

	dbp_imp_detach(imp);
	dbp_imp_detach(stuck);
	KUNIT_EXPECT_EQ(test, exp->nr_map_phyr, exp->nr_unmap_phyr);
	KUNIT_EXPECT_TRUE(test, list_empty(&exp->dmabuf->attachments));
	/* Nothing mapped any more: a revoke finds nothing to wait for. */
	KUNIT_EXPECT_EQ(test, dbp_restore(exp), 0);
	KUNIT_EXPECT_EQ(test, dbp_revoke(exp), 0);
	KUNIT_EXPECT_EQ(test, dbp_restore(exp), 0);
	dbp_exp_put(exp);
	KUNIT_EXPECT_EQ(test, atomic_read(&exp->nr_release), 1);
}

/* BEHAVIOURS: B10 */
static void dbp_revoke_after_detach(struct kunit *test)
{
	struct dbp_exporter *exp = dbp_export(test, DBP_EXP_PHYR,
					      &dbp_offer_ram);
	struct dbp_importer *gone = dbp_attach(test, exp,
					       &dbp_accept_phyr_revocable,
					       DBP_IMP_INVAL);
	struct dbp_importer *stays = dbp_attach(test, exp,
						&dbp_accept_phyr_revocable,
						DBP_IMP_INVAL);

	KUNIT_ASSERT_EQ(test, dbp_map_phyr(gone), 0);
	KUNIT_ASSERT_EQ(test, dbp_map_phyr(stays), 0);
	dbp_unmap(gone);
	dbp_imp_detach(gone);

	KUNIT_EXPECT_EQ(test, dbp_revoke(exp), 0);
	KUNIT_EXPECT_EQ(test, dbp_restore(exp), 0);
	KUNIT_EXPECT_EQ(test, gone->nr_revoke, 0);
	KUNIT_EXPECT_EQ(test, gone->nr_move, 0);
	KUNIT_EXPECT_EQ(test, stays->nr_revoke, 1);
	KUNIT_EXPECT_EQ(test, stays->nr_move, 1);
}

/* BEHAVIOURS: B10 */
static void dbp_release_with_attachment_pending(struct kunit *test)
{
	struct dbp_exporter *exp = dbp_export(test, DBP_EXP_PHYR,
					      &dbp_offer_ram);
	struct dbp_importer *imp = dbp_importer(test, exp,
						&dbp_accept_phyr_revocable,
						DBP_IMP_INVAL);
	struct dma_buf *dmabuf = exp->dmabuf;

	/* The importer holds a reference of its own, as dma_buf_get() does. */
	get_dma_buf(dmabuf);
	imp->ref = true;
	KUNIT_ASSERT_EQ(test, dbp_imp_attach(imp), 0);
	KUNIT_ASSERT_EQ(test, dbp_map_phyr(imp), 0);

	/* The exporter revokes and drops its reference: no release yet. */
	imp->keep_mapping = true;
	KUNIT_EXPECT_EQ(test, dbp_revoke(exp), -EBUSY);
	exp->held = false;
	dma_buf_put(dmabuf);
	flush_delayed_fput();
	KUNIT_EXPECT_EQ(test, atomic_read(&exp->nr_release), 0);

	/* The importer still works on a live buffer, then goes. */
	KUNIT_EXPECT_TRUE(test, dma_buf_is_revoked(dmabuf));
	dbp_unmap(imp);
	KUNIT_EXPECT_EQ(test, dbp_map_phyr(imp), -ENODEV);
	dbp_imp_detach(imp);
	KUNIT_EXPECT_EQ(test, atomic_read(&exp->nr_release), 0);

	imp->ref = false;
	dma_buf_put(dmabuf);
	KUNIT_EXPECT_TRUE(test, dbp_exp_wait_release(exp));
	KUNIT_EXPECT_EQ(test, atomic_read(&exp->nr_release), 1);
	KUNIT_EXPECT_EQ(test, exp->nr_map_phyr, exp->nr_unmap_phyr);
}

/*
 * The RDMA pinned MR, exactly as ib_umem_dmabuf_get_pinned() made it before
 * 7.1 (drivers/infiniband/core/umem_dmabuf.c): dma_buf_dynamic_attach() with
 * allow_peer2peer and an invalidate_mappings that only warns, then
 * dma_buf_pin() and dma_buf_map_attachment() under the reservation lock. Its
 * callback never unmaps: the NIC keeps the mapping.
 */
static void dbp_rdma_invalidate(struct dma_buf_attachment *attach)
{
	struct dbp_importer *imp = attach->importer_priv;

	imp->nr_revoke++;
	dev_warn(attach->dev, "invalidate on a pinned dma-buf attachment\n");
}

static const struct dma_buf_attach_ops dbp_rdma_pinned_ops = {
	.allow_peer2peer = true,
	.invalidate_mappings = dbp_rdma_invalidate,
};

/* ib_umem_dmabuf_get_pinned(): attach, pin, map; 0 or the first errno. */
static int dbp_rdma_get_pinned(struct dbp_importer *imp)
{
	struct dma_buf *dmabuf = imp->exp->dmabuf;
	struct dma_buf_attachment *attach;
	struct sg_table *sgt;
	int ret;

	attach = dma_buf_dynamic_attach(dmabuf, imp->dev, &dbp_rdma_pinned_ops,
					imp);
	if (IS_ERR(attach))
		return PTR_ERR(attach);
	imp->attach = attach;

	dma_resv_lock(dmabuf->resv, NULL);
	ret = dma_buf_pin(attach);
	if (ret)
		goto err_unlock;
	sgt = dma_buf_map_attachment(attach, DBP_DIR);
	if (IS_ERR(sgt)) {
		ret = PTR_ERR(sgt);
		dma_buf_unpin(attach);
		goto err_unlock;
	}
	imp->sgt = sgt;
	dma_resv_unlock(dmabuf->resv);
	return 0;

err_unlock:
	dma_resv_unlock(dmabuf->resv);
	dbp_imp_detach(imp);
	return ret;
}

/* ib_umem_dmabuf_release() of a pinned MR. */
static void dbp_rdma_release(struct dbp_importer *imp)
{
	struct dma_resv *resv = imp->exp->dmabuf->resv;

	dma_resv_lock(resv, NULL);
	dbp_imp_unmap_locked(imp, imp->attach);
	dma_buf_unpin(imp->attach);
	dma_resv_unlock(resv);
	dbp_imp_detach(imp);
}

/*
 * BEHAVIOURS: B11 - a revocable exporter refuses the RDMA pinned MR. Its
 * attach looks like any legacy dynamic importer's (upstream's
 * dma_buf_attach_revocable() even says yes): the pin is refused, so that it
 * never maps a buffer a revoke could not take back.
 */
static void dbp_rdma_pinned_mr_refused(struct kunit *test)
{
	struct dbp_exporter *exp = dbp_export(test, DBP_EXP_PHYR,
					      &dbp_offer_p2p);
	struct dbp_exporter *fixed = dbp_export(test, DBP_EXP_PHYR_PIN,
						&dbp_offer_ram_all);
	struct dbp_importer *rdma = dbp_importer(test, exp, NULL, 0);
	struct dbp_importer *other = dbp_importer(test, fixed, NULL, 0);
	struct dma_buf_attachment *attach;

	/* The hole: upstream's predicate accepts this importer. */
	attach = dma_buf_dynamic_attach(exp->dmabuf, rdma->dev,
					&dbp_rdma_pinned_ops, rdma);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, attach);
	KUNIT_EXPECT_TRUE(test, dma_buf_attach_revocable(attach));
	KUNIT_EXPECT_EQ(test, dma_buf_attach_lifetime(attach),
			DMA_BUF_LIFETIME_DYNAMIC);
	dma_buf_detach(exp->dmabuf, attach);

	/* Refused at its pin, the second step of its attach. */
	KUNIT_EXPECT_EQ(test, dbp_rdma_get_pinned(rdma), -EPERM);
	KUNIT_EXPECT_NULL(test, rdma->attach);
	KUNIT_EXPECT_EQ(test, exp->nr_map_phyr, 0);
	KUNIT_EXPECT_TRUE(test, list_empty(&exp->dmabuf->attachments));
	KUNIT_EXPECT_EQ(test, dbp_revoke(exp), 0);
	KUNIT_EXPECT_EQ(test, rdma->nr_revoke, 0);
	KUNIT_EXPECT_EQ(test, dbp_restore(exp), 0);

	/* An exporter that never revokes keeps serving it as before. */
	KUNIT_ASSERT_EQ(test, dbp_rdma_get_pinned(other), 0);
	KUNIT_EXPECT_EQ(test, fixed->nr_pin, 1);
	KUNIT_EXPECT_EQ(test, fixed->nr_map_phyr, 1);
	dbp_rdma_release(other);
}

/*
 * BEHAVIOURS: B11 - after dma_buf_revoke() returns, no attachment of any
 * kind holds a mapping or can make one: a revocable phyr importer and a
 * revocable sg_table importer (both unmap in the callback), a legacy dynamic
 * importer that unmaps later from a work item (the revoke waits for it,
 * with the lock dropped), a revocable importer that pinned, and attachments
 * made after the revoke.
 */
static void dbp_revoke_leaves_no_mapping(struct kunit *test)
{
	struct dbp_exporter *exp = dbp_export(test, DBP_EXP_PHYR,
					      &dbp_offer_ram);
	struct dbp_importer *phyr_imp, *sgt_imp, *late, *pinning, *after;
	struct dma_resv *resv = exp->dmabuf->resv;

	phyr_imp = dbp_attach(test, exp, &dbp_accept_phyr_revocable,
			      DBP_IMP_INVAL);
	sgt_imp = dbp_attach(test, exp, &dbp_accept_sgt_revocable,
			     DBP_IMP_INVAL);
	late = dbp_attach(test, exp, NULL, DBP_IMP_INVAL | DBP_IMP_ASYNC);
	pinning = dbp_attach(test, exp, &dbp_accept_both_revocable,
			     DBP_IMP_INVAL);
	KUNIT_ASSERT_EQ(test, dbp_map_phyr(phyr_imp), 0);
	KUNIT_ASSERT_EQ(test, dbp_map_sgt(sgt_imp), 0);
	KUNIT_ASSERT_EQ(test, dbp_map_sgt(late), 0);
	dma_resv_lock(resv, NULL);
	KUNIT_ASSERT_EQ(test, dma_buf_pin(pinning->attach), 0);
	dma_resv_unlock(resv);
	KUNIT_ASSERT_EQ(test, dbp_map_phyr(pinning), 0);
	KUNIT_EXPECT_EQ(test, exp->dmabuf->nr_mapped, 4);

	KUNIT_EXPECT_EQ(test, dbp_revoke(exp), 0);
	/* Nothing mapped, by any of them. */
	KUNIT_EXPECT_EQ(test, exp->dmabuf->nr_mapped, 0);
	KUNIT_EXPECT_EQ(test, exp->nr_map_phyr, exp->nr_unmap_phyr);
	KUNIT_EXPECT_NULL(test, phyr_imp->phyr);
	KUNIT_EXPECT_NULL(test, sgt_imp->sgt);
	KUNIT_EXPECT_NULL(test, late->sgt);
	KUNIT_EXPECT_NULL(test, pinning->phyr);
	KUNIT_EXPECT_EQ(test, late->nr_revoke, 1);

	/* And nothing can be mapped, whoever asks. */
	after = dbp_attach(test, exp, &dbp_accept_phyr_revocable,
			   DBP_IMP_INVAL);
	KUNIT_EXPECT_EQ(test, dbp_map_phyr(phyr_imp), -ENODEV);
	KUNIT_EXPECT_EQ(test, dbp_map_sgt(sgt_imp), -ENODEV);
	KUNIT_EXPECT_EQ(test, dbp_map_sgt(late), -ENODEV);
	KUNIT_EXPECT_EQ(test, dbp_map_phyr(pinning), -ENODEV);
	KUNIT_EXPECT_EQ(test, dbp_map_phyr(after), -ENODEV);
	KUNIT_EXPECT_EQ(test, exp->dmabuf->nr_mapped, 0);

	dma_resv_lock(resv, NULL);
	dma_buf_unpin(pinning->attach);
	dma_resv_unlock(resv);
	KUNIT_EXPECT_EQ(test, dbp_restore(exp), 0);
}

/*
 * BEHAVIOURS: B12 - an importer whose device cannot reach the exporter's
 * P2P memory fails at attach, not at its first map. On UML the kunit
 * device is not PCI: no map type is supported for it.
 */
static void dbp_unreachable_fails_at_attach(struct kunit *test)
{
	struct p2pdma_provider *p2p;
	struct phyr_provider *provider;
	struct dma_buf_caps *offer;
	struct dbp_exporter *exp;
	struct dbp_importer *sgt_imp, *legacy, *cpu_imp;

	p2p = kunit_kzalloc(test, sizeof(*p2p), GFP_KERNEL);
	provider = kunit_kzalloc(test, sizeof(*provider), GFP_KERNEL);
	offer = kunit_kzalloc(test, sizeof(*offer), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, p2p);
	KUNIT_ASSERT_NOT_NULL(test, provider);
	KUNIT_ASSERT_NOT_NULL(test, offer);
	p2p->owner = dbp_device(test);
	phyr_provider_init_p2p(provider, p2p);
	*offer = dbp_offer_p2p;
	offer->p2p = provider;
	exp = dbp_export(test, DBP_EXP_PHYR, offer);

	sgt_imp = dbp_importer(test, exp,
			       DBP_ACCEPT(DMA_BUF_DESC_SGT, DBP_RAM | DBP_P2P,
					  DBP_SHARED, DBP_REVOCABLE),
			       DBP_IMP_INVAL);
	KUNIT_EXPECT_EQ(test, phyr_dma_map_type(provider, sgt_imp->dev, 0),
			PHYR_MAP_NOT_SUPPORTED);
	KUNIT_EXPECT_EQ(test, dbp_imp_attach(sgt_imp), -EREMOTEIO);
	legacy = dbp_importer(test, exp, NULL, DBP_IMP_INVAL | DBP_IMP_P2P);
	KUNIT_EXPECT_EQ(test, dbp_imp_attach(legacy), -EREMOTEIO);
	KUNIT_EXPECT_EQ(test, exp->nr_attach, 0);
	KUNIT_EXPECT_TRUE(test, list_empty(&exp->dmabuf->attachments));

	/*
	 * A phyr-only importer (a KVM memslot) never has it DMA-mapped for
	 * its device by the core: it attaches.
	 */
	cpu_imp = dbp_attach(test, exp,
			     DBP_ACCEPT(DMA_BUF_DESC_PHYR, DBP_RAM | DBP_P2P,
					DBP_SHARED, DBP_REVOCABLE),
			     DBP_IMP_INVAL);
	KUNIT_EXPECT_EQ(test, dbp_map_phyr(cpu_imp), 0);
	dbp_unmap(cpu_imp);
}

/*
 * BEHAVIOURS: B13 - a fence that never signals (as a sw_sync fence imported
 * with DMA_BUF_IOCTL_IMPORT_SYNC_FILE) cannot hold dma_buf_revoke(): it
 * returns -ETIMEDOUT after its bound (one second), with the buffer revoked
 * and every mapping undone.
 */
static void dbp_revoke_wait_is_bounded(struct kunit *test)
{
	struct dbp_exporter *exp = dbp_export(test, DBP_EXP_PHYR,
					      &dbp_offer_ram);
	struct dbp_importer *imp = dbp_attach(test, exp,
					      &dbp_accept_phyr_revocable,
					      DBP_IMP_INVAL);
	struct dma_resv *resv = exp->dmabuf->resv;
	struct dbp_fence *f[2];
	unsigned long start, took;
	unsigned int i;
	int ret;

	for (i = 0; i < ARRAY_SIZE(f); i++) {
		f[i] = kzalloc_obj(*f[i]);
		KUNIT_ASSERT_NOT_NULL(test, f[i]);
		spin_lock_init(&f[i]->lock);
		dma_fence_init(&f[i]->base, &dbp_fence_ops, &f[i]->lock,
			       dma_fence_context_alloc(1), 1);
		INIT_DELAYED_WORK(&f[i]->work, dbp_fence_work);
		/* Signalled only when the test ends. */
		ret = kunit_add_action_or_reset(test, dbp_fence_cleanup, f[i]);
		KUNIT_ASSERT_EQ(test, ret, 0);
	}

	KUNIT_ASSERT_EQ(test, dbp_map_phyr(imp), 0);
	dma_resv_lock(resv, NULL);
	ret = dma_resv_reserve_fences(resv, 2);
	if (!ret) {
		dma_resv_add_fence(resv, &f[0]->base, DMA_RESV_USAGE_BOOKKEEP);
		dma_resv_add_fence(resv, &f[1]->base, DMA_RESV_USAGE_WRITE);
	}
	dma_resv_unlock(resv);
	KUNIT_ASSERT_EQ(test, ret, 0);

	start = jiffies;
	KUNIT_EXPECT_EQ(test, dbp_revoke(exp), -ETIMEDOUT);
	took = jiffies - start;
	kunit_info(test, "revoke returned after %u ms\n",
		   jiffies_to_msecs(took));
	KUNIT_EXPECT_GE(test, took, HZ / 2);
	KUNIT_EXPECT_LT(test, took, 5 * HZ);
	KUNIT_EXPECT_FALSE(test, dma_fence_is_signaled(&f[0]->base));

	/* Revoked all the same: unmapped, and nothing maps. */
	KUNIT_EXPECT_TRUE(test, dma_buf_is_revoked(exp->dmabuf));
	KUNIT_EXPECT_EQ(test, imp->nr_revoke, 1);
	KUNIT_EXPECT_NULL(test, imp->phyr);
	KUNIT_EXPECT_EQ(test, exp->dmabuf->nr_mapped, 0);
	KUNIT_EXPECT_EQ(test, dbp_map_phyr(imp), -ENODEV);

	/* Asking again waits again, bounded, and tells nobody. */
	KUNIT_EXPECT_EQ(test, dbp_revoke(exp), -ETIMEDOUT);
	KUNIT_EXPECT_EQ(test, imp->nr_revoke, 1);
	for (i = 0; i < ARRAY_SIZE(f); i++)
		dma_fence_signal(&f[i]->base);
	KUNIT_EXPECT_EQ(test, dbp_revoke(exp), 0);
	KUNIT_EXPECT_EQ(test, dbp_restore(exp), 0);
}

/**
 * struct dbp_race - revoke/restore against attach/map/unmap/detach
 * @exp: the exporter.
 * @imp: the importer, attached and detached each round.
 * @nr_revokes: revokes done by the revoker.
 * @nr_revoke_err: revokes or restores that did not return 0.
 * @nr_map_ok: maps that succeeded.
 * @nr_map_enodev: maps refused with -ENODEV.
 * @nr_map_other: maps failing otherwise.
 * @nr_map_revoked: maps that succeeded on a revoked buffer.
 * @nr_enodev_live: maps refused with -ENODEV on a buffer not revoked.
 * @in_revoke: the revoker is inside dma_buf_revoke() or _restore().
 * @nr_overlaps: importer rounds that began while @in_revoke was set.
 */
struct dbp_race {
	struct dbp_exporter	*exp;
	struct dbp_importer	*imp;
	unsigned int		nr_revokes;
	unsigned int		nr_revoke_err;
	unsigned int		nr_map_ok;
	unsigned int		nr_map_enodev;
	unsigned int		nr_map_other;
	unsigned int		nr_map_revoked;
	unsigned int		nr_enodev_live;
	atomic_t		in_revoke;
	unsigned int		nr_overlaps;
};

static int dbp_race_revoker(void *data)
{
	struct dbp_race *race = data;

	while (!kthread_should_stop()) {
		atomic_set(&race->in_revoke, 1);
		if (dbp_revoke(race->exp))
			race->nr_revoke_err++;
		atomic_set(&race->in_revoke, 0);
		race->nr_revokes++;
		usleep_range(20, 50);
		atomic_set(&race->in_revoke, 1);
		if (dbp_restore(race->exp))
			race->nr_revoke_err++;
		atomic_set(&race->in_revoke, 0);
		usleep_range(20, 50);
	}
	return 0;
}

KUNIT_DEFINE_ACTION_WRAPPER(dbp_kthread_stop, kthread_stop,
			    struct task_struct *);

/* One round of the importer; false if it could not attach. */
static bool dbp_race_round(struct dbp_race *race, unsigned int i)
{
	struct dbp_importer *imp = race->imp;
	struct dma_resv *resv = race->exp->dmabuf->resv;
	int ret;

	/* Full barrier: a flag set before this is seen (R3 overlaps). */
	smp_mb();
	race->nr_overlaps += atomic_read(&race->in_revoke);
	if (dbp_imp_attach(imp))
		return false;
	dma_resv_lock(resv, NULL);
	if (i & 1) {
		struct sg_table *sgt;

		sgt = dma_buf_map_attachment(imp->attach, DBP_DIR);
		ret = PTR_ERR_OR_ZERO(sgt);
		if (!ret)
			imp->sgt = sgt;
	} else {
		const struct phyr *phyr = dma_buf_map_phyr(imp->attach);

		ret = PTR_ERR_OR_ZERO(phyr);
		if (!ret)
			imp->phyr = phyr;
	}
	/* Under the lock, so the revoked state cannot change meanwhile. */
	if (!ret) {
		race->nr_map_ok++;
		if (dma_buf_is_revoked(race->exp->dmabuf))
			race->nr_map_revoked++;
	} else if (ret == -ENODEV) {
		race->nr_map_enodev++;
		if (!dma_buf_is_revoked(race->exp->dmabuf))
			race->nr_enodev_live++;
	} else {
		race->nr_map_other++;
	}
	dma_resv_unlock(resv);
	/*
	 * UML is one CPU without preemption: sleep now and then, holding
	 * the mapping or not, so that the revoker runs at varied points.
	 */
	if (i % 3 == 0)
		usleep_range(5, 15);
	else
		cond_resched();

	/* Unmap, unless a revoke made the importer do it already. */
	dbp_unmap(imp);
	if (i % 5 == 0)
		usleep_range(5, 15);
	dbp_imp_detach(imp);
	cond_resched();
	return true;
}

/*
 * BEHAVIOURS: B5 B10 R3 - with two CPUs (the rig), the revoker is bound to
 * CPU 1 and the importer to CPU 0, so both run at once: the importer
 * counts the rounds it began while the revoker was inside a revoke or
 * restore, and none fails the test (the sides never met). On one CPU
 * (UML) they only take turns, at the points where the importer sleeps;
 * the count is printed and not required.
 */
static void dbp_revoke_race(struct kunit *test)
{
	struct dbp_exporter *exp = dbp_export(test, DBP_EXP_PHYR,
					      &dbp_offer_ram);
	struct dbp_race *race;
	struct task_struct *revoker;
	unsigned int i;
	int ret;

	race = kunit_kzalloc(test, sizeof(*race), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, race);
	race->exp = exp;
	race->imp = dbp_importer(test, exp, &dbp_accept_both_revocable,
				 DBP_IMP_INVAL);

	if (num_online_cpus() >= 2) {
		KUNIT_ASSERT_EQ(test, set_cpus_allowed_ptr(current, cpumask_of(0)), 0);
		revoker = kthread_run_on_cpu(dbp_race_revoker, race, 1,
					     "dma-buf-phyr-revoker/%u");
	} else {
		revoker = kthread_run(dbp_race_revoker, race, "dma-buf-phyr-revoker");
	}
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, revoker);
	ret = kunit_add_action_or_reset(test, dbp_kthread_stop, revoker);
	KUNIT_ASSERT_EQ(test, ret, 0);

	for (i = 0; i < DBP_RACE_LOOPS; i++)
		if (!dbp_race_round(race, i))
			break;
	kunit_release_action(test, dbp_kthread_stop, revoker);

	kunit_info(test,
		   "%u rounds: %u maps, %u -ENODEV; %u revokes, %u callbacks, %u unmapped by one\n",
		   i, race->nr_map_ok, race->nr_map_enodev, race->nr_revokes,
		   race->imp->nr_revoke, race->imp->nr_cb_mapped);
	kunit_info(test, "%u rounds began inside a revoke or restore, on %u CPUs%s\n",
		   race->nr_overlaps, num_online_cpus(),
		   num_online_cpus() >= 2 ? " (importer on CPU 0, revoker on CPU 1)" :
		   " (interleaved)");
	/*
	 * On one CPU without preemption (UML) the revoker is never caught
	 * inside: the sides take turns. The rig runs this on two CPUs.
	 */
	if (num_online_cpus() >= 2)
		KUNIT_EXPECT_GT(test, race->nr_overlaps, 0);
	set_cpus_allowed_ptr(current, cpu_possible_mask);
	KUNIT_EXPECT_EQ(test, i, DBP_RACE_LOOPS);
	KUNIT_EXPECT_EQ(test, race->nr_map_revoked, 0);
	KUNIT_EXPECT_EQ(test, race->nr_enodev_live, 0);
	KUNIT_EXPECT_EQ(test, race->nr_map_other, 0);
	KUNIT_EXPECT_EQ(test, race->nr_revoke_err, 0);
	/* Both states were seen, or the race tested nothing. */
	KUNIT_EXPECT_GT(test, race->nr_map_ok, 0);
	KUNIT_EXPECT_GT(test, race->nr_map_enodev, 0);
	KUNIT_EXPECT_GT(test, race->nr_revokes, 10);
	KUNIT_EXPECT_GT(test, race->imp->nr_cb_mapped, 0);
	KUNIT_EXPECT_FALSE(test, dma_buf_is_revoked(exp->dmabuf));
}

static struct kunit_case dbp_cases[] = {
	KUNIT_CASE_PARAM(dbp_phyr_importer_gets_exporter_phyr,
			 dbp_offer_gen_params),
	KUNIT_CASE_PARAM(dbp_legacy_importer_gets_sgt, dbp_legacy_gen_params),
	KUNIT_CASE(dbp_phyr_importer_of_legacy_exporter),
	KUNIT_CASE(dbp_phyr_importer_of_legacy_exporter_error),
	KUNIT_CASE_PARAM(dbp_attach_matching, dbp_match_gen_params),
	KUNIT_CASE(dbp_private_importer_gets_private_phyr),
	KUNIT_CASE(dbp_pinned_refused_by_revocable_only),
	KUNIT_CASE(dbp_pinned_importer_never_revoked),
	KUNIT_CASE(dbp_pinned_phyr_importer_pins),
	KUNIT_CASE(dbp_dynamic_importer_invalidated_and_remaps),
	KUNIT_CASE(dbp_dynamic_and_revocable_held_to_revoke),
	KUNIT_CASE(dbp_revocable_importer_enodev_until_restore),
	KUNIT_CASE(dbp_revoke_notifies_each_once),
	KUNIT_CASE(dbp_revoke_waits_for_fences),
	KUNIT_CASE(dbp_rdma_pinned_mr_refused),
	KUNIT_CASE(dbp_revoke_leaves_no_mapping),
	KUNIT_CASE(dbp_unreachable_fails_at_attach),
	KUNIT_CASE_SLOW(dbp_revoke_wait_is_bounded),
	KUNIT_CASE(dbp_revoke_busy_while_mapped),
	KUNIT_CASE(dbp_attach_while_revoked),
	KUNIT_CASE(dbp_restore_does_not_remap),
	KUNIT_CASE(dbp_ops_run_under_resv_lock),
	KUNIT_CASE(dbp_unlocked_calls_are_caught),
	KUNIT_CASE(dbp_revoke_with_pin_ops_pins_nothing),
	KUNIT_CASE_PARAM(dbp_fdinfo_shows_offer_and_state,
			 dbp_fdinfo_gen_params),
	KUNIT_CASE_PARAM(dbp_detach_releases_phyr, dbp_detach_gen_params),
	KUNIT_CASE(dbp_detach_after_revoke),
	KUNIT_CASE(dbp_revoke_after_detach),
	KUNIT_CASE(dbp_release_with_attachment_pending),
	KUNIT_CASE_SLOW(dbp_revoke_race),
	{}
};

static struct kunit_suite dbp_suite = {
	.name = "dma_buf_phyr",
	.test_cases = dbp_cases,
};

kunit_test_suite(dbp_suite);
