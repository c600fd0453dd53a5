// SPDX-License-Identifier: GPL-2.0-only
/*
 * dma-buf phyr exchange: matching an importer's capabilities against the
 * exporter's offer at attach, handing out the exporter's phyr, the
 * sg_table compat in both directions, and revocable attachments.
 *
 * The hooks in dma-buf.c call in here; the rules are described in
 * Documentation/core-api/phyr.rst, "dma-buf".
 */

#include <linux/dma-buf.h>
#include <linux/dma-resv.h>
#include <linux/jiffies.h>
#include <linux/lockdep.h>
#include <linux/phyr.h>
#include <linux/phyr-dma.h>
#include <linux/seq_file.h>
#include <linux/slab.h>

/* What an exporter without caps offers, besides what its ops produce. */
static const struct dma_buf_caps dma_buf_legacy_offer = {
	.providers	= BIT(PHYR_PROVIDER_RAM),
	.cc_states	= BIT(PHYR_CC_SHARED),
	.lifetimes	= BIT(DMA_BUF_LIFETIME_PINNED) |
			  BIT(DMA_BUF_LIFETIME_DYNAMIC) |
			  BIT(DMA_BUF_LIFETIME_REVOCABLE),
};

/*
 * The reservation lock must be held by the caller. lockdep knows the owner;
 * without lockdep only "somebody holds it" can be checked. Callers report a
 * failure as -ENOLCK rather than a splat, so that the rule can be tested.
 */
static bool dma_buf_resv_held(struct dma_resv *resv)
{
#ifdef CONFIG_LOCKDEP
	if (debug_locks)
		return lockdep_is_held(&resv->lock.base);
#endif
	return ww_mutex_is_locked(&resv->lock);
}

/**
 * dma_buf_phyr_caps - the exporter's effective offer
 * @dmabuf: the buffer.
 * @caps: filled with what @dmabuf offers: its &dma_buf.caps (or the legacy
 *	offer of an exporter without one), with the descriptors its ops
 *	produce added: %DMA_BUF_DESC_PHYR for &dma_buf_ops.map_phyr, and
 *	%DMA_BUF_DESC_SGT when the core can build an sg_table from that phyr
 *	(not for private interconnect addresses, which have no DMA address on
 *	any other bus, nor for confidential memory of a VM, which must never
 *	be mapped through the host's IOMMU: BEHAVIOURS M17);
 *	%DMA_BUF_DESC_SGT for &dma_buf_ops.map_dma_buf of an exporter that
 *	states no caps (one that does lists it itself, or leaves it out on
 *	purpose: vfio-pci offers no sg_table of a VM's private memory), and
 *	%DMA_BUF_DESC_PHYR_DMA too when the exporter has no phyr of its own.
 *
 * Context: any context.
 */
void dma_buf_phyr_caps(const struct dma_buf *dmabuf, struct dma_buf_caps *caps)
{
	*caps = dmabuf->caps ? *dmabuf->caps : dma_buf_legacy_offer;
	if (dmabuf->ops->map_phyr) {
		caps->descs |= DMA_BUF_DESC_PHYR;
		if (!(caps->providers & BIT(PHYR_PROVIDER_PRIVATE)) &&
		    !(caps->cc_states & BIT(PHYR_CC_PRIVATE)))
			caps->descs |= DMA_BUF_DESC_SGT;
	}
	if (dmabuf->ops->map_dma_buf) {
		if (!dmabuf->caps)
			caps->descs |= DMA_BUF_DESC_SGT;
		if (!dmabuf->ops->map_phyr)
			caps->descs |= DMA_BUF_DESC_PHYR_DMA;
	}
}
EXPORT_SYMBOL_NS_GPL(dma_buf_phyr_caps, "DMA_BUF");

/*
 * What an importer without caps accepts: the legacy contract of 7.1. One with
 * &dma_buf_attach_ops.invalidate_mappings is dynamic (it unmaps within
 * bounded time and maps again); one without is pinned, as dma_buf_attach()
 * is. An importer that pins and has a callback that only logs looks dynamic
 * here: dma_buf_phyr_pin_check() stops it.
 */
static void dma_buf_importer_caps(const struct dma_buf_attach_ops *ops,
				  struct dma_buf_caps *caps)
{
	if (ops && ops->caps) {
		*caps = *ops->caps;
		return;
	}
	*caps = (struct dma_buf_caps) {
		.descs		= DMA_BUF_DESC_SGT,
		.providers	= BIT(PHYR_PROVIDER_RAM),
		.cc_states	= BIT(PHYR_CC_SHARED),
		.lifetimes	= ops && ops->invalidate_mappings ?
				  BIT(DMA_BUF_LIFETIME_DYNAMIC) :
				  BIT(DMA_BUF_LIFETIME_PINNED),
	};
	if (ops && ops->allow_peer2peer)
		caps->providers |= BIT(PHYR_PROVIDER_P2P);
}

/**
 * dma_buf_phyr_attach_check - match an importer against the exporter's offer
 * @dmabuf: the buffer being attached.
 * @dev: the importer's device.
 * @importer_ops: the importer's ops, NULL for dma_buf_attach().
 * @lifetime: set to the attachment's lifetime class on success.
 *
 * Called by dma_buf_dynamic_attach() before anything is created, so that a
 * mismatch fails the attach rather than a later map. The checks run in this
 * order; the first that fails decides the error. A legacy exporter's
 * providers are not checked: it sees &dma_buf_attachment.peer2peer itself.
 *
 * Context: process context (the first reachability question of a P2P
 * provider and a device may allocate); takes no lock.
 * Return: 0, or
 * -EOPNOTSUPP if no descriptor is both offered and accepted;
 * -EREMOTEIO if a RAM or P2P provider is offered and not accepted, or if
 * the importer may get an sg_table and @dev cannot reach the exporter's P2P
 * provider (&dma_buf_caps.p2p, phyr_dma_map_type() says not supported: a
 * device that is not PCI, or a topology that forbids it);
 * -EREMOTE if private interconnect addresses are offered and the importer
 * is not on the same interconnect;
 * -EACCES if a confidential state is offered and not accepted, or private
 * (TDISP T=1) memory is offered to an importer that does not name the same
 * owner (VM);
 * -EPERM if no lifetime class is common: a revocable exporter refuses a
 * pinned importer;
 * -EINVAL if the chosen class is dynamic or revocable and the importer has
 * no &dma_buf_attach_ops.invalidate_mappings.
 */
int dma_buf_phyr_attach_check(struct dma_buf *dmabuf, struct device *dev,
			      const struct dma_buf_attach_ops *importer_ops,
			      enum dma_buf_lifetime *lifetime)
{
	struct dma_buf_caps offer, accept;
	u32 missing, common;

	dma_buf_phyr_caps(dmabuf, &offer);
	dma_buf_importer_caps(importer_ops, &accept);

	if (!(offer.descs & accept.descs))
		return -EOPNOTSUPP;

	if (dmabuf->caps) {
		missing = offer.providers & ~accept.providers;
		if (missing & BIT(PHYR_PROVIDER_PRIVATE))
			return -EREMOTE;
		if (missing)
			return -EREMOTEIO;
		if ((offer.providers & BIT(PHYR_PROVIDER_PRIVATE)) &&
		    offer.interconnect_id != accept.interconnect_id)
			return -EREMOTE;
		/*
		 * BEHAVIOURS B12: an sg_table is DMA-mapped for @dev, so @dev
		 * must reach the MMIO now, not fail at the first map.
		 */
		if ((offer.providers & BIT(PHYR_PROVIDER_P2P)) && offer.p2p &&
		    (offer.descs & accept.descs & DMA_BUF_DESC_SGT) &&
		    phyr_dma_map_type(offer.p2p, dev, accept.interconnect_id) ==
		    PHYR_MAP_NOT_SUPPORTED)
			return -EREMOTEIO;
	}

	if (offer.cc_states & ~accept.cc_states)
		return -EACCES;
	if ((offer.cc_states & BIT(PHYR_CC_PRIVATE)) &&
	    (!offer.cc_owner || offer.cc_owner != accept.cc_owner))
		return -EACCES;

	/* The strongest promise both sides have: revocable, dynamic, pinned. */
	common = offer.lifetimes & accept.lifetimes &
		 GENMASK(DMA_BUF_LIFETIME_REVOCABLE, DMA_BUF_LIFETIME_PINNED);
	if (!common)
		return -EPERM;
	*lifetime = __fls(common);

	if (*lifetime != DMA_BUF_LIFETIME_PINNED &&
	    !(importer_ops && importer_ops->invalidate_mappings))
		return -EINVAL;
	return 0;
}

/**
 * dma_buf_attach_lifetime - the lifetime class of an attachment
 * @attach: the attachment.
 *
 * The project's meaning of "revocable" (%DMA_BUF_LIFETIME_REVOCABLE: the
 * importer declared it unmaps inside its callback). Upstream's
 * dma_buf_attach_revocable() only says the importer has a callback.
 *
 * Context: any context.
 * Return: the class decided at attach by dma_buf_phyr_attach_check().
 */
enum dma_buf_lifetime
dma_buf_attach_lifetime(const struct dma_buf_attachment *attach)
{
	return attach->lifetime;
}
EXPORT_SYMBOL_NS_GPL(dma_buf_attach_lifetime, "DMA_BUF");

/*
 * dma_buf_pin() for the core (BEHAVIOURS B11). An exporter that does not
 * offer the pinned class takes its memory away or moves it; a pin would
 * only keep its promise for an importer that declared it unmaps in its
 * callback. The check cannot be made at attach: the RDMA pinned MR
 * (ib_umem_dmabuf_get_pinned()) attaches exactly as a dynamic importer
 * does, and only pins afterwards.
 */
int dma_buf_phyr_pin_check(struct dma_buf_attachment *attach)
{
	struct dma_buf_caps offer;

	dma_buf_phyr_caps(attach->dmabuf, &offer);
	if (!(offer.lifetimes & BIT(DMA_BUF_LIFETIME_PINNED)) &&
	    attach->lifetime != DMA_BUF_LIFETIME_REVOCABLE)
		return -EPERM;
	return 0;
}

/*
 * An importer that declared only the pinned class has importer ops, so the
 * core takes it for a dynamic one: pin the buffer for each of its sg_table
 * maps too, as for dma_buf_attach().
 */
bool dma_buf_phyr_pin_on_map(struct dma_buf_attachment *attach)
{
	return attach->importer_ops && attach->importer_ops->caps &&
	       attach->lifetime == DMA_BUF_LIFETIME_PINNED;
}

/* Count what importers have mapped; dma_buf_revoke() waits for 0. */
void dma_buf_phyr_account(struct dma_buf_attachment *attach, bool map)
{
	struct dma_buf *dmabuf = attach->dmabuf;

	dma_resv_assert_held(dmabuf->resv);
	if (map) {
		attach->nr_mapped++;
		dmabuf->nr_mapped++;
		return;
	}
	if (WARN_ON_ONCE(!attach->nr_mapped || !dmabuf->nr_mapped))
		return;
	attach->nr_mapped--;
	if (!--dmabuf->nr_mapped)
		wake_up_all(&dmabuf->unmapped);
}

/*
 * A legacy exporter's sg_table, wrapped as a phyr of DMA addresses for
 * attach->dev (phyr_from_dma_sgtable(), BEHAVIOURS C4).
 */
static struct phyr *dma_buf_phyr_from_legacy(struct dma_buf_attachment *attach)
{
	struct sg_table *sgt;
	struct phyr *phyr;
	int ret;

	phyr = phyr_alloc(GFP_KERNEL);
	if (!phyr)
		return ERR_PTR(-ENOMEM);

	sgt = dma_buf_map_attachment(attach, DMA_BIDIRECTIONAL);
	if (IS_ERR(sgt)) {
		ret = PTR_ERR(sgt);
		goto err_free;
	}
	ret = phyr_from_dma_sgtable(phyr, sgt, attach->dev, GFP_KERNEL);
	if (ret)
		goto err_unmap;
	attach->phyr_sgt = sgt;
	return phyr;

err_unmap:
	dma_buf_unmap_attachment(attach, sgt, DMA_BIDIRECTIONAL);
err_free:
	phyr_free(phyr);
	return ERR_PTR(ret);
}

/*
 * A pinned importer that declares caps has importer ops, so the core's
 * dma_buf_attachment_is_dynamic() takes it for a dynamic one: pin the buffer
 * of an exporter that can move it while its own phyr is mapped, as the core
 * does for dma_buf_attach() (a DMA-mapped phyr of a legacy exporter is pinned
 * by dma_buf_map_attachment() already).
 */
static bool dma_buf_phyr_needs_pin(struct dma_buf_attachment *attach)
{
	return attach->lifetime == DMA_BUF_LIFETIME_PINNED &&
	       attach->importer_ops && attach->dmabuf->ops->pin;
}

static void dma_buf_phyr_release(struct dma_buf_attachment *attach)
{
	struct phyr *phyr = attach->phyr;

	if (attach->phyr_pinned)
		attach->dmabuf->ops->unpin(attach);
	attach->phyr_pinned = false;
	attach->phyr = NULL;
	if (attach->phyr_sgt) {
		dma_buf_unmap_attachment(attach, attach->phyr_sgt,
					 DMA_BIDIRECTIONAL);
		attach->phyr_sgt = NULL;
		phyr_free(phyr);
	} else if (attach->dmabuf->ops->unmap_phyr) {
		attach->dmabuf->ops->unmap_phyr(attach, phyr);
	}
}

static bool dma_buf_accepts(const struct dma_buf_attachment *attach, u32 desc)
{
	struct dma_buf_caps accept;

	dma_buf_importer_caps(attach->importer_ops, &accept);
	return accept.descs & desc;
}

/**
 * dma_buf_map_phyr - get the phyr of an attachment
 * @attach: the attachment, made by an importer that accepts phyr.
 *
 * Returns the exporter's phyr (&dma_buf_ops.map_phyr): physical ranges, each
 * chunk naming its provider (RAM, a PCI BAR for P2PDMA, a private
 * interconnect) and attributes. The importer maps it for its own device with
 * phyr_dma_iter_start() or phyr_dma_map_create(), or resolves pfns from it;
 * it must not write to it. For a legacy exporter with only an sg_table, an
 * importer accepting %DMA_BUF_DESC_PHYR_DMA gets a phyr wrapping the
 * exporter's DMA-mapped sg_table instead (&phyr.dma_dev is @attach->dev; it
 * holds DMA addresses and mapping it again fails with -EALREADY).
 *
 * The phyr stays valid until dma_buf_unmap_phyr(), or until the importer's
 * &dma_buf_attach_ops.invalidate_mappings runs, after which the importer
 * must unmap it (a revocable importer before the callback returns). One phyr
 * mapping per attachment at a time. For an importer that declared only the
 * pinned class, the buffer of an exporter that can move it (&dma_buf_ops.pin)
 * is pinned until dma_buf_unmap_phyr().
 *
 * Context: process context; the caller holds the reservation lock of
 * @attach->dmabuf (dma_resv_lock()), as for dma_buf_map_attachment().
 * Return: the phyr, or an ERR_PTR():
 * -ENOLCK if the reservation lock is not held (nothing done);
 * -ENODEV while the buffer is revoked (dma_buf_revoke());
 * -EBUSY if @attach already has a phyr mapped;
 * -EOPNOTSUPP if the exporter has no phyr and the importer does not accept a
 * DMA-mapped phyr;
 * any error of the exporter's &dma_buf_ops.pin, for a pinned importer;
 * any error of the exporter's &dma_buf_ops.map_phyr or, for a legacy
 * exporter, of dma_buf_map_attachment() and phyr_from_dma_sgtable().
 */
const struct phyr *dma_buf_map_phyr(struct dma_buf_attachment *attach)
{
	struct dma_buf *dmabuf = attach->dmabuf;
	struct phyr *phyr;
	int ret;

	might_sleep();
	if (!dma_buf_resv_held(dmabuf->resv))
		return ERR_PTR(-ENOLCK);
	if (dmabuf->revoked)
		return ERR_PTR(-ENODEV);
	if (attach->phyr)
		return ERR_PTR(-EBUSY);
	if (!(dmabuf->ops->map_phyr &&
	      dma_buf_accepts(attach, DMA_BUF_DESC_PHYR)) &&
	    !(dmabuf->ops->map_dma_buf &&
	      dma_buf_accepts(attach, DMA_BUF_DESC_PHYR_DMA)))
		return ERR_PTR(-EOPNOTSUPP);

	if (dmabuf->ops->map_phyr &&
	    dma_buf_accepts(attach, DMA_BUF_DESC_PHYR)) {
		if (dma_buf_phyr_needs_pin(attach)) {
			ret = dmabuf->ops->pin(attach);
			if (ret)
				return ERR_PTR(ret);
		}
		phyr = dmabuf->ops->map_phyr(attach);
		if (IS_ERR(phyr)) {
			if (dma_buf_phyr_needs_pin(attach))
				dmabuf->ops->unpin(attach);
			return phyr;
		}
		attach->phyr_pinned = dma_buf_phyr_needs_pin(attach);
	} else {
		phyr = dma_buf_phyr_from_legacy(attach);
		if (IS_ERR(phyr))
			return phyr;
	}

	attach->phyr = phyr;
	dma_buf_phyr_account(attach, true);
	return phyr;
}
EXPORT_SYMBOL_NS_GPL(dma_buf_map_phyr, "DMA_BUF");

/**
 * dma_buf_unmap_phyr - release the phyr of an attachment
 * @attach: the attachment.
 * @phyr: the phyr dma_buf_map_phyr() returned for @attach.
 *
 * The importer must have stopped using @phyr and unmapped whatever it mapped
 * from it (phyr_dma_map_destroy(), its page tables) before calling this.
 * Nothing is done if @phyr is not @attach's phyr.
 *
 * Context: process context; the caller holds the reservation lock, as for
 * dma_buf_unmap_attachment().
 */
void dma_buf_unmap_phyr(struct dma_buf_attachment *attach,
			const struct phyr *phyr)
{
	dma_resv_assert_held(attach->dmabuf->resv);
	if (!phyr || attach->phyr != phyr)
		return;
	dma_buf_phyr_release(attach);
	dma_buf_phyr_account(attach, false);
}
EXPORT_SYMBOL_NS_GPL(dma_buf_unmap_phyr, "DMA_BUF");

/**
 * dma_buf_map_phyr_unlocked - dma_buf_map_phyr() taking the reservation lock
 * @attach: the attachment.
 *
 * Context: process context; the caller must not hold the reservation lock.
 * Return: as dma_buf_map_phyr(), and -EINTR if interrupted by a signal while
 * waiting for the lock.
 */
const struct phyr *dma_buf_map_phyr_unlocked(struct dma_buf_attachment *attach)
{
	const struct phyr *phyr;
	int ret;

	ret = dma_resv_lock_interruptible(attach->dmabuf->resv, NULL);
	if (ret)
		return ERR_PTR(ret);
	phyr = dma_buf_map_phyr(attach);
	dma_resv_unlock(attach->dmabuf->resv);
	return phyr;
}
EXPORT_SYMBOL_NS_GPL(dma_buf_map_phyr_unlocked, "DMA_BUF");

/**
 * dma_buf_unmap_phyr_unlocked - dma_buf_unmap_phyr() taking the lock
 * @attach: the attachment.
 * @phyr: the phyr dma_buf_map_phyr_unlocked() returned.
 *
 * Context: process context; the caller must not hold the reservation lock.
 */
void dma_buf_unmap_phyr_unlocked(struct dma_buf_attachment *attach,
				 const struct phyr *phyr)
{
	dma_resv_lock(attach->dmabuf->resv, NULL);
	dma_buf_unmap_phyr(attach, phyr);
	dma_resv_unlock(attach->dmabuf->resv);
}
EXPORT_SYMBOL_NS_GPL(dma_buf_unmap_phyr_unlocked, "DMA_BUF");

/*
 * The dma-buf core's sg_table compat for a phyr-only exporter: the phyr
 * mapped for the legacy importer's device (BEHAVIOURS B1, C1-C3). The table
 * remembers nothing of the exporter, so the phyr is kept in the attachment.
 */
struct sg_table *dma_buf_phyr_map_sgt(struct dma_buf_attachment *attach,
				      enum dma_data_direction dir)
{
	struct dma_buf *dmabuf = attach->dmabuf;
	struct phyr_dma_params params = {
		.dev	= attach->dev,
		.dir	= dir,
	};
	struct sg_table *sgt;
	struct phyr *phyr;

	dma_resv_assert_held(dmabuf->resv);
	if (attach->phyr)
		return ERR_PTR(-EBUSY);

	phyr = dmabuf->ops->map_phyr(attach);
	if (IS_ERR(phyr))
		return ERR_CAST(phyr);

	sgt = phyr_dma_map_sgt(phyr, 0, phyr->len, &params, GFP_KERNEL);
	if (IS_ERR(sgt)) {
		if (dmabuf->ops->unmap_phyr)
			dmabuf->ops->unmap_phyr(attach, phyr);
		return sgt;
	}
	attach->phyr = phyr;
	return sgt;
}

void dma_buf_phyr_unmap_sgt(struct dma_buf_attachment *attach,
			    struct sg_table *sgt, enum dma_data_direction dir)
{
	dma_resv_assert_held(attach->dmabuf->resv);
	phyr_dma_unmap_sgt(sgt);
	if (attach->phyr)
		dma_buf_phyr_release(attach);
}

/*
 * dma_buf_detach(): drop a phyr the importer did not unmap, and stop
 * counting what it left mapped (BEHAVIOURS B10).
 */
void dma_buf_phyr_detach(struct dma_buf_attachment *attach)
{
	struct dma_buf *dmabuf = attach->dmabuf;

	dma_resv_assert_held(dmabuf->resv);
	if (attach->phyr) {
		dma_buf_phyr_release(attach);
		dma_buf_phyr_account(attach, false);
	}
	if (attach->nr_mapped) {
		dmabuf->nr_mapped -= min(attach->nr_mapped, dmabuf->nr_mapped);
		attach->nr_mapped = 0;
		if (!dmabuf->nr_mapped)
			wake_up_all(&dmabuf->unmapped);
	}
}

/**
 * dma_buf_is_revocable - may the exporter revoke this buffer
 * @dmabuf: the buffer.
 *
 * An exporter that serves pinned importers promises never to take the
 * memory away; one that may, offers %DMA_BUF_LIFETIME_REVOCABLE and leaves
 * out %DMA_BUF_LIFETIME_PINNED.
 *
 * Context: any context.
 * Return: true if the exporter offers %DMA_BUF_LIFETIME_REVOCABLE and not
 * %DMA_BUF_LIFETIME_PINNED, so that dma_buf_revoke() may be called.
 */
bool dma_buf_is_revocable(const struct dma_buf *dmabuf)
{
	return dmabuf->caps &&
	       (dmabuf->caps->lifetimes & BIT(DMA_BUF_LIFETIME_REVOCABLE)) &&
	       !(dmabuf->caps->lifetimes & BIT(DMA_BUF_LIFETIME_PINNED));
}
EXPORT_SYMBOL_NS_GPL(dma_buf_is_revocable, "DMA_BUF");

/**
 * dma_buf_is_revoked - is the buffer revoked
 * @dmabuf: the buffer.
 *
 * Without the reservation lock the answer may be stale by the time it is
 * used; importers decide under the lock (maps fail with -ENODEV).
 *
 * Context: any context.
 * Return: true between dma_buf_revoke() and dma_buf_restore().
 */
bool dma_buf_is_revoked(const struct dma_buf *dmabuf)
{
	return READ_ONCE(dmabuf->revoked);
}
EXPORT_SYMBOL_NS_GPL(dma_buf_is_revoked, "DMA_BUF");

/*
 * How long dma_buf_revoke() waits, in all, for the fences of the buffer and
 * for importers that unmap after their callback returned. Upstream's
 * exporters (vfio_pci_dma_buf_move(), ib_uverbs_dmabuf_revoke()) wait
 * without a bound, uninterruptibly, under the reservation lock and the
 * exporter's own locks; and any holder of the fd can add a fence that never
 * signals with DMA_BUF_IOCTL_IMPORT_SYNC_FILE. One second, the bound of an
 * earlier revision of the 7.1 revoke series, is far above what a working
 * importer needs: an unmap in its callback, or a fence of DMA already
 * queued.
 */
#define DMA_BUF_REVOKE_TIMEOUT	HZ

/*
 * Wait, within what is left of @timeout, for the fences, then for every
 * mapping to be undone. Importers that unmap after their callback need the
 * reservation lock to do it: drop it while waiting for them.
 */
static int dma_buf_revoke_wait(struct dma_buf *dmabuf, long timeout)
{
	struct dma_buf_attachment *attach;
	bool fences_done;
	long left;

	left = dma_resv_wait_timeout(dmabuf->resv, DMA_RESV_USAGE_BOOKKEEP,
				     false, timeout);
	fences_done = left > 0;
	if (dmabuf->nr_mapped && left > 0) {
		dma_resv_unlock(dmabuf->resv);
		wait_event_timeout(dmabuf->unmapped,
				   !READ_ONCE(dmabuf->nr_mapped), left);
		dma_resv_lock(dmabuf->resv, NULL);
	}

	if (dmabuf->nr_mapped) {
		list_for_each_entry(attach, &dmabuf->attachments, node)
			if (attach->nr_mapped)
				dev_warn(attach->dev,
					 "dma-buf %s: %u mappings kept after revoke\n",
					 dmabuf->exp_name, attach->nr_mapped);
		return -EBUSY;
	}
	if (!fences_done) {
		pr_warn("dma-buf %s: fences still unsignalled %u ms after revoke\n",
			dmabuf->exp_name, jiffies_to_msecs(timeout));
		return -ETIMEDOUT;
	}
	return 0;
}

/**
 * dma_buf_revoke - take the memory of a dma-buf away from every importer
 * @dmabuf: the buffer; its exporter offers %DMA_BUF_LIFETIME_REVOCABLE.
 *
 * For an exporter whose memory can disappear (a PCI BAR when the device is
 * reset or its memory decoding is disabled), upstream's revoke sequence in
 * one call: marks @dmabuf revoked, calls dma_buf_invalidate_mappings() (every
 * attachment's &dma_buf_attach_ops.invalidate_mappings, once), waits for the
 * fences of the reservation object (%DMA_RESV_USAGE_BOOKKEEP) and then for
 * every sg_table and phyr mapped by an importer to be unmapped. A revocable
 * importer unmaps in its callback; a dynamic one may do it later, and takes
 * the reservation lock for that, so this drops the lock while it waits for
 * such unmaps. Until dma_buf_restore(), every map (dma_buf_map_phyr(),
 * dma_buf_map_attachment()) fails with -ENODEV, attachments made meanwhile
 * included, so nothing can be mapped again. No importer that may pin and
 * keep its mapping is attached: dma_buf_dynamic_attach() and dma_buf_pin()
 * refuse them (BEHAVIOURS B11).
 *
 * The waits are bounded, one second in all (BEHAVIOURS B13): a fence that
 * never signals cannot hold the caller, typically a device reset or a
 * close, for ever. The buffer stays revoked whatever the result. Calling
 * this again on a revoked buffer notifies nobody and waits again.
 *
 * Context: process context, may sleep. The caller holds the reservation
 * lock of @dmabuf, taken with dma_resv_lock(resv, NULL) and no other
 * reservation lock; it is dropped and retaken while waiting for unmaps, so
 * the caller serialises revoke and restore with a lock of its own (for
 * vfio-pci: memory_lock -> dma_resv -> the importer's locks).
 * Return: 0 when every importer has been notified, every mapping is undone
 * and every fence has signalled, also if @dmabuf was already revoked;
 * -ENOLCK if the reservation lock is not held (nothing done);
 * -EINVAL if the exporter does not offer the revocable class (nothing done);
 * -EBUSY if an importer kept a mapping past the bound (buggy; named in the
 * log; it can still only unmap);
 * -ETIMEDOUT if every mapping is undone but a fence did not signal within
 * the bound (the memory is unmapped from every importer device; DMA queued
 * behind that fence can no longer reach it through a mapping).
 */
int dma_buf_revoke(struct dma_buf *dmabuf)
{
	might_sleep();
	if (!dma_buf_resv_held(dmabuf->resv))
		return -ENOLCK;
	if (!dma_buf_is_revocable(dmabuf))
		return -EINVAL;

	if (!dmabuf->revoked) {
		WRITE_ONCE(dmabuf->revoked, true);
		dma_buf_invalidate_mappings(dmabuf);
	}
	return dma_buf_revoke_wait(dmabuf, DMA_BUF_REVOKE_TIMEOUT);
}
EXPORT_SYMBOL_NS_GPL(dma_buf_revoke, "DMA_BUF");

/**
 * dma_buf_restore - let importers map a revoked dma-buf again
 * @dmabuf: the buffer, revoked by dma_buf_revoke().
 *
 * Clears the revoked state and, as upstream's vfio-pci does, calls
 * dma_buf_invalidate_mappings() once more: a hint to dynamic importers that
 * they may map again (dma_buf_is_revoked() is false in the callback, which
 * tells it from a revoke). Nothing is remapped by the core: importers map
 * again when they need the memory (a KVM memslot on its next guest fault).
 *
 * Context: process context; the caller holds the reservation lock.
 * Return: 0, also if @dmabuf was not revoked (nobody is notified);
 * -ENOLCK if the reservation lock is not held (nothing done);
 * -EINVAL if the exporter does not offer the revocable class.
 */
int dma_buf_restore(struct dma_buf *dmabuf)
{
	if (!dma_buf_resv_held(dmabuf->resv))
		return -ENOLCK;
	if (!dma_buf_is_revocable(dmabuf))
		return -EINVAL;
	if (!dmabuf->revoked)
		return 0;

	WRITE_ONCE(dmabuf->revoked, false);
	dma_buf_invalidate_mappings(dmabuf);
	return 0;
}
EXPORT_SYMBOL_NS_GPL(dma_buf_restore, "DMA_BUF");

static void dma_buf_show_bits(struct seq_file *m, const char *key, u32 bits,
			      const char *const *names, unsigned int nr)
{
	unsigned int i;
	bool first = true;

	seq_printf(m, "%s:\t", key);
	for (i = 0; i < nr; i++) {
		if (!(bits & BIT(i)))
			continue;
		seq_printf(m, "%s%s", first ? "" : " ", names[i]);
		first = false;
	}
	seq_putc(m, '\n');
}

/*
 * fdinfo lines, so that tools can decide before building on a buffer
 * (BEHAVIOURS B9). Read without the reservation lock: a snapshot.
 */
void dma_buf_phyr_show_fdinfo(struct seq_file *m, struct dma_buf *dmabuf)
{
	static const char *const descs[] = { "sg_table", "phyr", "phyr_dma" };
	static const char *const providers[] = { "ram", "p2p", "private" };
	static const char *const cc[] = { "shared", "ide", "private" };
	static const char *const lifetimes[] = { "pinned", "dynamic",
						 "revocable" };
	struct dma_buf_caps offer;

	dma_buf_phyr_caps(dmabuf, &offer);
	dma_buf_show_bits(m, "phyr_descs", offer.descs, descs,
			  ARRAY_SIZE(descs));
	if (dmabuf->caps) {
		dma_buf_show_bits(m, "phyr_providers", offer.providers,
				  providers, ARRAY_SIZE(providers));
		dma_buf_show_bits(m, "phyr_cc", offer.cc_states, cc,
				  ARRAY_SIZE(cc));
		dma_buf_show_bits(m, "phyr_lifetimes", offer.lifetimes,
				  lifetimes, ARRAY_SIZE(lifetimes));
	}
	seq_printf(m, "revocable:\t%s\n",
		   dma_buf_is_revocable(dmabuf) ? "yes" : "no");
	seq_printf(m, "revoked:\t%s\n",
		   dma_buf_is_revoked(dmabuf) ? "yes" : "no");
}
