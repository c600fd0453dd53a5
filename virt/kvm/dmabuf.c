// SPDX-License-Identifier: GPL-2.0-only
/*
 * KVM memslots backed by a dma-buf (KVM_MEM_DMABUF).
 *
 * A slot created with KVM_MEM_DMABUF names a dma-buf fd and a byte offset in
 * it instead of a userspace mapping. The slot attaches to the dma-buf as a
 * revocable phyr importer (DMA_BUF_LIFETIME_REVOCABLE, DMA_BUF_DESC_PHYR):
 * guest faults resolve gfn -> offset in the dma-buf -> the exporter's phyr ->
 * pfn, with the largest mapping the physical ranges allow; nothing looks up a
 * host VMA, takes a page reference or registers an mmu_notifier. When the
 * exporter revokes the buffer (vfio-pci on reset, memory disable, power
 * changes, close), the slot is unmapped and TLBs are flushed before the
 * revoke callback returns; until the exporter restores the buffer, guest
 * accesses make KVM_RUN fail with -ENODEV.
 *
 * The shape and names follow guest_memfd.c (kvm_gmem_bind(),
 * kvm_gmem_unbind(), kvm_gmem_get_pfn()), which binds a memslot to a file
 * the same way. The idea comes from Xu Yilun's RFC "Private MMIO support for
 * private assigned dev" (patches 06 and 07, January 2025); unlike the RFC,
 * the slot is a revocable importer (the RFC relied on move_notify, which a
 * kernel without CONFIG_DMABUF_MOVE_NOTIFY never calls), faults racing a
 * revoke are caught by mmu_invalidate_seq, and the error of a revoked slot is
 * not -EFAULT (which would make the VMM convert memory attributes).
 *
 * Locking: the dma-buf's reservation lock protects &kvm_dmabuf.phyr. The
 * fault path takes it before mmu_lock; the revoke callback runs with it held
 * (the exporter's lock before it, for vfio-pci memory_lock) and takes
 * mmu_lock. So: exporter lock -> dma_resv -> kvm->mmu_lock.
 * See Documentation/core-api/phyr.rst, "KVM".
 */

#include <linux/dma-buf.h>
#include <linux/dma-buf-phyr.h>
#include <linux/dma-resv.h>
#include <linux/kvm_host.h>
#include <linux/log2.h>
#include <linux/phyr.h>
#include <linux/slab.h>

#include "kvm_mm.h"

MODULE_IMPORT_NS(DMA_BUF);

/**
 * struct kvm_dmabuf - the binding of a memslot to a dma-buf
 * @kvm: the VM; outlives the binding.
 * @slot: the memslot; outlives the binding (kvm_dmabuf_unbind() runs from
 *	kvm_free_memslot()).
 * @attach: the revocable attachment.
 * @ops: the importer ops; per binding, since @ops.caps names the VM.
 * @caps: what the slot accepts: the exporter's phyr of P2P MMIO, shared or
 *	private to @kvm, revocable.
 * @phyr: the exporter's phyr while mapped; NULL before the first fault,
 *	and while revoked. Protected by the dma-buf's reservation lock.
 * @offset: where the slot starts in the dma-buf, in bytes.
 * @uncached: some range of the slot is uncached (%PHYR_CACHE_UC); the
 *	whole slot is then mapped uncached. Written with the reservation lock
 *	held, read under mmu_lock by kvm_dmabuf_uncached().
 */
struct kvm_dmabuf {
	struct kvm			*kvm;
	struct kvm_memory_slot		*slot;
	struct dma_buf_attachment	*attach;
	struct dma_buf_attach_ops	ops;
	struct dma_buf_caps		caps;
	const struct phyr		*phyr;
	u64				offset;
	bool				uncached;
};

/* Zap every mapping of the slot and flush TLBs. */
static void kvm_dmabuf_zap(struct kvm_dmabuf *kd)
{
	struct kvm_memory_slot *slot = kd->slot;
	struct kvm *kvm = kd->kvm;
	struct kvm_gfn_range range = {
		.slot		= slot,
		.start		= slot->base_gfn,
		.end		= slot->base_gfn + slot->npages,
		.attr_filter	= KVM_FILTER_SHARED | KVM_FILTER_PRIVATE,
		.may_block	= true,
	};

	/*
	 * A VM whose last reference is gone runs no vCPU any more and is
	 * tearing its MMU down; the slot's detach (kvm_free_memslot()) is
	 * serialised with this callback by the reservation lock.
	 */
	if (!refcount_read(&kvm->users_count))
		return;

	KVM_MMU_LOCK(kvm);
	/*
	 * An invalidation, as for an mmu_notifier or guest_memfd punching a
	 * hole: a fault that resolved its pfn before this point sees
	 * mmu_invalidate_seq change and retries instead of installing it.
	 */
	kvm_mmu_invalidate_begin(kvm);
	if (kvm_mmu_unmap_gfn_range(kvm, &range))
		kvm_flush_remote_tlbs(kvm);
	kvm_mmu_invalidate_end(kvm);
	KVM_MMU_UNLOCK(kvm);
}

static void kvm_dmabuf_unmap_locked(struct kvm_dmabuf *kd)
{
	if (kd->phyr) {
		dma_buf_unmap_phyr(kd->attach, kd->phyr);
		kd->phyr = NULL;
	}
}

/* Map the exporter's phyr if it is not; the reservation lock is held. */
static int kvm_dmabuf_map_locked(struct kvm_dmabuf *kd)
{
	u64 len = kd->slot->npages << PAGE_SHIFT;
	const struct phyr *phyr;
	struct phyr_iter iter;
	struct phyr_seg seg;
	bool uncached = false;
	int ret;

	if (kd->phyr)
		return 0;

	phyr = dma_buf_map_phyr(kd->attach);
	if (IS_ERR(phyr))
		return PTR_ERR(phyr);

	/* A DMA-mapped phyr holds no pfn; the caps never ask for one. */
	ret = -EINVAL;
	if (phyr->dma_dev)
		goto err_unmap;
	if (phyr_iter_start(&iter, phyr, kd->offset, len))
		goto err_unmap;
	phyr_for_each_seg(&seg, &iter) {
		ret = -EREMOTEIO;
		if (seg.provider->kind != PHYR_PROVIDER_P2P)
			goto err_unmap;
		ret = -EINVAL;
		if (!PAGE_ALIGNED(seg.paddr) || !PAGE_ALIGNED(seg.len))
			goto err_unmap;
		if (phyr_attrs_cache(seg.attrs) == PHYR_CACHE_UC)
			uncached = true;
	}

	kd->phyr = phyr;
	WRITE_ONCE(kd->uncached, uncached);
	return 0;

err_unmap:
	dma_buf_unmap_phyr(kd->attach, phyr);
	return ret;
}

/*
 * dma_buf_attach_ops.revoke: the exporter takes the memory away. Unmap the
 * slot from the guest and flush TLBs, then give the phyr back, all before
 * returning (the contract of dma_buf_revoke()).
 */
static void kvm_dmabuf_revoke(struct dma_buf_attachment *attach)
{
	struct kvm_dmabuf *kd = attach->importer_priv;

	kvm_dmabuf_zap(kd);
	kvm_dmabuf_unmap_locked(kd);
}

static const struct dma_buf_attach_ops kvm_dmabuf_attach_ops = {
	.allow_peer2peer	= true,
	.revoke			= kvm_dmabuf_revoke,
	/*
	 * No .restore: the next fault maps again (kvm_dmabuf_get_pfn()), and
	 * a dynamic move_notify is never asked for (caps.lifetimes).
	 */
};

/**
 * kvm_dmabuf_bind - back a new memslot with a dma-buf
 * @kvm: the VM.
 * @slot: the memslot being created, not yet visible to vCPUs; its
 *	base_gfn and npages are set.
 * @dev: the device the attachment is made for (KVM's misc device): KVM maps
 *	the memory for the guest's CPUs, not for DMA.
 * @fd: the dma-buf fd, from &kvm_userspace_memory_region2.guest_memfd.
 * @offset: where the slot starts in the dma-buf, in bytes, from
 *	&kvm_userspace_memory_region2.guest_memfd_offset.
 *
 * Attaches to the dma-buf as a revocable phyr importer and maps its phyr once
 * to check it (unless the buffer is revoked right now: the first fault after
 * the restore maps it then). The slot holds a reference to the dma-buf until
 * kvm_dmabuf_unbind().
 *
 * Context: process context, may sleep; kvm->slots_lock held. Takes the
 * dma-buf's reservation lock.
 * Return: 0, or
 * -EBADF if @fd is not an open file;
 * -EINVAL if @fd is not a dma-buf, @offset is not page aligned, the slot does
 * not lie inside the dma-buf, or the exporter's phyr has ranges that are not
 * page aligned or does not cover the slot;
 * -EPERM if the exporter is not revocable (dma_buf_is_revocable()): KVM maps
 * pfns without page references, so only an exporter that revokes before the
 * memory goes away may back a slot (BEHAVIOURS K2);
 * -ENOMEM;
 * the attach errors of dma_buf_dynamic_attach(), for instance -EREMOTEIO if
 * the buffer holds memory other than P2P MMIO and -EACCES if it is private
 * (TDISP T=1) memory of another VM (BEHAVIOURS K10);
 * the errors of dma_buf_map_phyr() other than -ENODEV.
 */
int kvm_dmabuf_bind(struct kvm *kvm, struct kvm_memory_slot *slot,
		    struct device *dev, int fd, u64 offset)
{
	u64 size = slot->npages << PAGE_SHIFT;
	struct dma_buf_attachment *attach;
	struct kvm_dmabuf *kd;
	struct dma_buf *dmabuf;
	int ret;

	dmabuf = dma_buf_get(fd);
	if (IS_ERR(dmabuf))
		return PTR_ERR(dmabuf);

	ret = -EINVAL;
	if (!PAGE_ALIGNED(offset) || offset >= dmabuf->size ||
	    size > dmabuf->size - offset)
		goto err_put;
	ret = -EPERM;
	if (!dma_buf_is_revocable(dmabuf))
		goto err_put;

	ret = -ENOMEM;
	kd = kzalloc(sizeof(*kd), GFP_KERNEL_ACCOUNT);
	if (!kd)
		goto err_put;
	kd->kvm = kvm;
	kd->slot = slot;
	kd->offset = offset;
	kd->caps = (struct dma_buf_caps) {
		.descs		= DMA_BUF_DESC_PHYR,
		.providers	= BIT(PHYR_PROVIDER_P2P),
		.cc_states	= BIT(PHYR_CC_SHARED) | BIT(PHYR_CC_PRIVATE),
		.lifetimes	= BIT(DMA_BUF_LIFETIME_REVOCABLE),
		.cc_owner	= kvm,
	};
	kd->ops = kvm_dmabuf_attach_ops;
	kd->ops.caps = &kd->caps;

	attach = dma_buf_dynamic_attach(dmabuf, dev, &kd->ops, kd);
	if (IS_ERR(attach)) {
		ret = PTR_ERR(attach);
		goto err_free;
	}
	kd->attach = attach;

	dma_resv_lock(dmabuf->resv, NULL);
	ret = kvm_dmabuf_map_locked(kd);
	dma_resv_unlock(dmabuf->resv);
	if (ret && ret != -ENODEV)
		goto err_detach;

	slot->dmabuf = kd;
	return 0;

err_detach:
	dma_buf_detach(dmabuf, attach);
err_free:
	kfree(kd);
err_put:
	dma_buf_put(dmabuf);
	return ret;
}

/**
 * kvm_dmabuf_unbind - detach a memslot from its dma-buf
 * @slot: a memslot bound by kvm_dmabuf_bind(), no longer visible to vCPUs.
 *
 * Gives the phyr back, detaches and drops the slot's dma-buf reference. The
 * guest mappings of the slot are already gone (the slot was deleted, or the
 * VM is destroyed).
 *
 * Context: process context, may sleep; takes the dma-buf's reservation lock.
 */
void kvm_dmabuf_unbind(struct kvm_memory_slot *slot)
{
	struct kvm_dmabuf *kd = slot->dmabuf;
	struct dma_buf *dmabuf;

	if (WARN_ON_ONCE(!kd))
		return;

	dmabuf = kd->attach->dmabuf;
	dma_resv_lock(dmabuf->resv, NULL);
	kvm_dmabuf_unmap_locked(kd);
	dma_resv_unlock(dmabuf->resv);
	dma_buf_detach(dmabuf, kd->attach);
	dma_buf_put(dmabuf);
	slot->dmabuf = NULL;
	kfree(kd);
}

/**
 * kvm_dmabuf_get_pfn - resolve a gfn of a dma-buf memslot
 * @kvm: the VM.
 * @slot: a memslot bound by kvm_dmabuf_bind().
 * @gfn: the faulting gfn, inside @slot.
 * @pfn: set to the pfn backing @gfn.
 * @max_order: set to the largest order (in pages) of a mapping of @gfn that
 *	stays inside one physically contiguous range of the phyr and is
 *	aligned alike in gfn and pfn space; capped at 1 GiB.
 *
 * The equivalent of kvm_gmem_get_pfn() for dma-buf slots. Maps the
 * exporter's phyr if the slot has none (after a restore). No page reference
 * is taken and no host page table or VMA is looked at: the pfn is a bus
 * resource owned by the exporter, which revokes (kvm_dmabuf_revoke() zaps the
 * slot) before the memory goes away. The caller installs the mapping only if
 * mmu_invalidate_seq has not moved since it sampled it before this call.
 *
 * Context: process context, may sleep; kvm->srcu held, mmu_lock not held.
 * Takes the dma-buf's reservation lock.
 * Return: 0, or
 * -ENODEV while the exporter has revoked the buffer: KVM_RUN fails with it
 * and the VMM runs the vCPU again once the device is usable; it is
 * deliberately not -EFAULT, which with KVM_EXIT_MEMORY_FAULT asks the VMM to
 * convert memory attributes (BEHAVIOURS K6);
 * -EINTR if a signal interrupted the wait for the reservation lock;
 * -EOPNOTSUPP if the pfn has a refcounted struct page (ZONE_DEVICE P2PDMA
 * memory), which this fault path cannot map without taking a reference;
 * the other errors of dma_buf_map_phyr() and of the checks of
 * kvm_dmabuf_bind().
 */
int kvm_dmabuf_get_pfn(struct kvm *kvm, struct kvm_memory_slot *slot,
		       gfn_t gfn, kvm_pfn_t *pfn, int *max_order)
{
	struct kvm_dmabuf *kd = slot->dmabuf;
	u64 off, gpa0, max_len;
	struct phyr_seg block;
	struct dma_resv *resv;
	int ret;

	if (WARN_ON_ONCE(!kd || gfn < slot->base_gfn ||
			 gfn >= slot->base_gfn + slot->npages))
		return -EINVAL;

	off = kd->offset + ((gfn - slot->base_gfn) << PAGE_SHIFT);
	/*
	 * The guest physical address of the dma-buf's byte 0: a block found
	 * at a power-of-two alignment up to the one of that address is
	 * aligned alike as guest and as host physical range.
	 */
	gpa0 = gfn_to_gpa(slot->base_gfn) - kd->offset;
	max_len = gpa0 ? min_t(u64, PUD_SIZE, 1ULL << __ffs64(gpa0)) : PUD_SIZE;

	resv = kd->attach->dmabuf->resv;
	ret = dma_resv_lock_interruptible(resv, NULL);
	if (ret)
		return ret;

	ret = kvm_dmabuf_map_locked(kd);
	if (ret)
		goto out;
	ret = phyr_aligned_block(kd->phyr, off, max_len, &block);
	if (WARN_ON_ONCE(ret))
		goto out;
	/* Checked when mapped: page-aligned ranges give blocks of pages. */
	*pfn = PHYS_PFN(block.paddr + (off & (block.len - 1)));
	*max_order = ilog2(block.len) - PAGE_SHIFT;
	if (kvm_pfn_to_refcounted_page(*pfn))
		ret = -EOPNOTSUPP;
out:
	dma_resv_unlock(resv);
	return ret;
}

/**
 * kvm_dmabuf_uncached - is a dma-buf memslot mapped uncached
 * @slot: a memslot with %KVM_MEM_DMABUF.
 *
 * The memory type of the slot's SPTEs comes from the phyr's attributes: a
 * slot with an uncached MMIO range (%PHYR_CACHE_UC) is mapped uncached
 * (BEHAVIOURS K5).
 *
 * Context: mmu_lock held (the value may change only after a revoke zapped
 * the slot).
 * Return: true if the slot's mappings must be uncached.
 */
bool kvm_dmabuf_uncached(const struct kvm_memory_slot *slot)
{
	return slot->dmabuf && READ_ONCE(slot->dmabuf->uncached);
}
