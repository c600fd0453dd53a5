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
 * changes, close), &dma_buf_attach_ops.invalidate_mappings unmaps the slot
 * from the guest and flushes TLBs before it returns; until the exporter
 * restores the buffer, a guest access exits to userspace with
 * KVM_EXIT_MEMORY_FAULT and KVM_MEMORY_EXIT_FLAG_REVOKED, and the first
 * fault after the restore maps again.
 *
 * The shape and names follow guest_memfd.c: the slot is prepared (the fd
 * looked up, the attachment made) in kvm_set_memory_region() and committed in
 * kvm_set_memslot() once the arch has allocated the slot's metadata; unbound
 * from kvm_free_memslot(). Unlike a guest_memfd the slot holds the dma-buf,
 * not the other way round, so kvm_destroy_vm() detaches every dma-buf
 * before the arch tears the vCPUs and the MMU down (kvm_dmabuf_unbind_all()):
 * no invalidation can then reach a VM that is being destroyed.
 *
 * Such a slot is shared memory only. A confidential (TDISP T=1) chunk is
 * refused at attach (&dma_buf_caps.cc_states) and at map: no VM type has a
 * private path for dma-buf slots yet. What one needs, and 7.3 does not have:
 * the private fault (fault->is_private) routed to this file instead of to
 * guest_memfd, which kvm_mmu_faultin_pfn_gmem() alone serves; for TDX,
 * S-EPT mapping of MMIO (TDH.MMIO.MAP/UNMAP through a set_external_spte that
 * knows MMIO, tdx_sept_set_private_spte() maps RAM pages only); for SEV-SNP
 * (SEV-TIO), RMP entries for MMIO pfns (the gmem_prepare/gmem_invalidate
 * hooks only know guest_memfd folios); and for both, unbinding the TDI
 * (pci_tsm_unbind()) before the exporter revokes.
 *
 * Locking: the dma-buf's reservation lock protects &kvm_dmabuf.phyr and
 * &kvm_dmabuf.live. The fault path takes it before mmu_lock; the invalidate
 * callback runs with it held (the exporter's lock before it, for vfio-pci
 * memory_lock) and takes mmu_lock. So: exporter lock -> dma_resv ->
 * kvm->mmu_lock. See Documentation/core-api/phyr.rst, "KVM".
 */

#include <linux/dma-buf.h>
#include <linux/dma-buf-phyr.h>
#include <linux/dma-resv.h>
#include <linux/file.h>
#include <linux/kvm_host.h>
#include <linux/log2.h>
#include <linux/phyr.h>
#include <linux/slab.h>

#include "kvm_mm.h"
#include "dmabuf.h"

MODULE_IMPORT_NS("DMA_BUF");

/**
 * struct kvm_dmabuf - the binding of a memslot to a dma-buf
 * @kvm: the VM; outlives the binding (kvm_destroy_vm() unbinds first).
 * @slot: the memslot; outlives the binding (kvm_dmabuf_unbind() runs from
 *	kvm_free_memslot() or kvm_destroy_vm()).
 * @attach: the revocable attachment.
 * @ops: the importer ops; per binding, since @ops.caps names the VM.
 * @caps: what the slot accepts: the exporter's phyr of shared P2P MMIO,
 *	revocable.
 * @phyr: the exporter's phyr while mapped; NULL before the first fault,
 *	and while revoked. Protected by the dma-buf's reservation lock.
 * @offset: where the slot starts in the dma-buf, in bytes.
 * @live: the slot's arch metadata exists (committed): an invalidation must
 *	zap it. Protected by the dma-buf's reservation lock.
 * @writable: the dma-buf fd was opened for writing; otherwise the guest's
 *	writes are emulated (BEHAVIOURS K15).
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
	bool				live;
	bool				writable;
	bool				uncached;
};

/* Zap every mapping of the slot and flush TLBs; mmu_lock not held. */
static void kvm_dmabuf_zap(struct kvm_dmabuf *kd)
{
	struct kvm_memory_slot *slot = kd->slot;
	struct kvm *kvm = kd->kvm;
	struct kvm_gfn_range range = {
		.slot		= slot,
		.start		= slot->base_gfn,
		.end		= slot->base_gfn + slot->npages,
		/* Shared only: a dma-buf slot is never mapped private. */
		.attr_filter	= KVM_FILTER_SHARED,
		.may_block	= true,
	};

	KVM_MMU_LOCK(kvm);
	/*
	 * An invalidation, as for an mmu_notifier or guest_memfd punching a
	 * hole: a fault that resolved its pfn before this point sees
	 * mmu_invalidate_seq change and retries instead of installing it.
	 */
	kvm_mmu_invalidate_start(kvm);
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

/*
 * Map the exporter's phyr if it is not; the reservation lock is held. While
 * the buffer is revoked, kd->phyr is NULL (kvm_dmabuf_invalidate_mappings()
 * cleared it), so this reaches dma_buf_map_phyr(), which fails with -ENODEV.
 */
static int kvm_dmabuf_map_locked(struct kvm_dmabuf *kd)
{
	u64 len = kd->slot->npages << PAGE_SHIFT;
	const struct phyr *phyr;
	struct phyr_iter iter;
	struct phyr_seg seg;
	bool uncached = false;
	int ret;

	dma_resv_assert_held(kd->attach->dmabuf->resv);
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
		/* Never a private chunk into a shared EPT/NPT (K12). */
		ret = -EACCES;
		if (phyr_attrs_cc(seg.attrs) == PHYR_CC_PRIVATE)
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
 * dma_buf_attach_ops.invalidate_mappings: the exporter takes the memory away
 * (upstream's revoke contract, dma_buf_invalidate_mappings()). Unmap the
 * slot from the guest and flush TLBs, then give the phyr back, all before
 * returning. There is no restore callback: the next fault maps again.
 */
static void kvm_dmabuf_invalidate_mappings(struct dma_buf_attachment *attach)
{
	struct kvm_dmabuf *kd = attach->importer_priv;

	dma_resv_assert_held(attach->dmabuf->resv);
	/* Before the commit the slot has no mapping nor arch metadata. */
	if (kd->live)
		kvm_dmabuf_zap(kd);
	kvm_dmabuf_unmap_locked(kd);
}

static const struct dma_buf_attach_ops kvm_dmabuf_attach_ops = {
	.allow_peer2peer	= true,
	.invalidate_mappings	= kvm_dmabuf_invalidate_mappings,
};

/**
 * kvm_dmabuf_prepare_memory_region - bind a new memslot to a dma-buf
 * @kvm: the VM.
 * @slot: the memslot being created, not yet visible to vCPUs; its
 *	base_gfn and npages are set.
 * @dev: the device the attachment is made for (KVM's misc device, not a DMA
 *	device): KVM maps the memory for the guest's CPUs, it never DMAs, so
 *	it takes the phyr, which needs no importer device.
 * @fd: the dma-buf fd, from &kvm_userspace_memory_region2.guest_memfd.
 * @offset: where the slot starts in the dma-buf, in bytes, from
 *	&kvm_userspace_memory_region2.guest_memfd_offset.
 *
 * Attaches to the dma-buf as a revocable phyr importer and maps its phyr once
 * to check it (unless the buffer is revoked right now: the first fault after
 * the restore maps it then). The slot holds a reference to the dma-buf until
 * kvm_dmabuf_unbind(). kvm_dmabuf_commit_memory_region() makes the binding
 * live once the slot's arch metadata exists; if the memslot is not created
 * after all, the caller undoes this with kvm_dmabuf_unbind().
 *
 * Context: process context, may sleep; kvm->slots_lock held. Takes the
 * dma-buf's reservation lock (interruptibly).
 * Return: 0, or
 * -EINVAL if @fd is not an open dma-buf (a closed fd included, as for any
 * fd that is not a dma-buf: set_memory_region_test passes fd 0 with every
 * unknown flag), @offset is not page aligned, the slot does not lie inside
 * the dma-buf, or the exporter's phyr has ranges that are not page aligned
 * or does not cover the slot;
 * -EPERM if the exporter is not revocable (dma_buf_is_revocable()): KVM maps
 * pfns without page references, so only an exporter that revokes before the
 * memory goes away may back a slot (BEHAVIOURS K2);
 * -ENOMEM;
 * -EINTR if a signal interrupted the wait for the reservation lock;
 * the attach errors of dma_buf_dynamic_attach(), for instance -EREMOTEIO if
 * the buffer holds memory other than P2P MMIO, and -EACCES if it holds
 * confidential (TDISP T=1) memory, which no VM can map yet (BEHAVIOURS K12);
 * the same two for a phyr that breaks its offer;
 * the errors of dma_buf_map_phyr() other than -ENODEV.
 */
int kvm_dmabuf_prepare_memory_region(struct kvm *kvm,
				     struct kvm_memory_slot *slot,
				     struct device *dev, unsigned int fd,
				     u64 offset)
{
	u64 size = slot->npages << PAGE_SHIFT;
	struct dma_buf_attachment *attach;
	struct kvm_dmabuf *kd;
	struct dma_buf *dmabuf;
	int ret;

	dmabuf = dma_buf_get(fd);
	if (IS_ERR(dmabuf))
		return -EINVAL;

	ret = -EINVAL;
	if (!PAGE_ALIGNED(offset) || offset >= dmabuf->size ||
	    size > dmabuf->size - offset)
		goto err_put;
	ret = -EPERM;
	if (!dma_buf_is_revocable(dmabuf))
		goto err_put;

	ret = -ENOMEM;
	kd = kzalloc_obj(*kd, GFP_KERNEL_ACCOUNT);
	if (!kd)
		goto err_put;
	kd->kvm = kvm;
	kd->slot = slot;
	kd->offset = offset;
	kd->writable = dmabuf->file->f_mode & FMODE_WRITE;
	kd->caps = (struct dma_buf_caps) {
		.descs		= DMA_BUF_DESC_PHYR,
		.providers	= BIT(PHYR_PROVIDER_P2P),
		.cc_states	= BIT(PHYR_CC_SHARED),
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

	ret = dma_resv_lock_interruptible(dmabuf->resv, NULL);
	if (ret)
		goto err_detach;
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
 * kvm_dmabuf_commit_memory_region - make a prepared binding live
 * @slot: a memslot prepared by kvm_dmabuf_prepare_memory_region(), whose
 *	arch metadata (rmaps, lpage_info) now exists; not yet visible to vCPUs.
 *
 * From now on an invalidation zaps the slot. Before, it only dropped the
 * phyr: nothing could be mapped, and the arch had nothing to zap.
 *
 * Context: process context, may sleep; kvm->slots_lock held. Takes the
 * dma-buf's reservation lock.
 */
void kvm_dmabuf_commit_memory_region(struct kvm_memory_slot *slot)
{
	struct kvm_dmabuf *kd = slot->dmabuf;
	struct dma_resv *resv = kd->attach->dmabuf->resv;

	dma_resv_lock(resv, NULL);
	kd->live = true;
	dma_resv_unlock(resv);
}

/**
 * kvm_dmabuf_unbind - detach a memslot from its dma-buf
 * @slot: a memslot with %KVM_MEM_DMABUF, no longer visible to vCPUs (or its
 *	VM has no vCPU running any more); its binding may be gone already
 *	(kvm_dmabuf_unbind_all()), then nothing is done.
 *
 * Gives the phyr back, detaches and drops the slot's dma-buf reference. After
 * it returns, the exporter's invalidations no longer reach the slot. The
 * guest mappings of the slot are gone or unreachable (the slot was deleted,
 * the VM is being destroyed, or the slot never became visible).
 *
 * Context: process context, may sleep; takes the dma-buf's reservation lock,
 * so it waits for an invalidation in flight.
 */
void kvm_dmabuf_unbind(struct kvm_memory_slot *slot)
{
	struct kvm_dmabuf *kd = slot->dmabuf;
	struct dma_buf *dmabuf;

	if (!kd)
		return;

	dmabuf = kd->attach->dmabuf;
	dma_resv_lock(dmabuf->resv, NULL);
	kvm_dmabuf_unmap_locked(kd);
	kd->live = false;
	dma_resv_unlock(dmabuf->resv);
	dma_buf_detach(dmabuf, kd->attach);
	dma_buf_put(dmabuf);
	slot->dmabuf = NULL;
	kfree(kd);
}

/**
 * kvm_dmabuf_unbind_all - detach every dma-buf memslot of a dying VM
 * @kvm: the VM, its last reference gone.
 *
 * Called from kvm_destroy_vm() before kvm_arch_destroy_vm() frees the vCPUs
 * and the MMU: an exporter's revoke racing the destruction either finishes
 * its zap first (the detach waits for it on the reservation lock) or no
 * longer finds the attachment (BEHAVIOURS K11). The memslots themselves are
 * freed later, by kvm_free_memslots().
 *
 * Context: process context, may sleep; no vCPU runs, no memslot changes.
 */
void kvm_dmabuf_unbind_all(struct kvm *kvm)
{
	struct kvm_memory_slot *slot;
	int i, bkt;

	/* Both memslot sets hold the same slots once no update is running. */
	for (i = 0; i < kvm_arch_nr_memslot_as_ids(kvm); i++)
		kvm_for_each_memslot(slot, bkt, __kvm_memslots(kvm, i))
			if (kvm_slot_has_dmabuf(slot))
				kvm_dmabuf_unbind(slot);
}

/**
 * kvm_dmabuf_get_pfn - resolve a gfn of a dma-buf memslot
 * @kvm: the VM.
 * @slot: a memslot with %KVM_MEM_DMABUF.
 * @gfn: the faulting gfn, inside @slot.
 * @pfn: set to the pfn backing @gfn.
 * @max_order: set to the largest order (in pages) of a mapping of @gfn that
 *	stays inside one physically contiguous range of the phyr and is
 *	aligned alike in gfn and pfn space; capped at 1 GiB, any value from 0
 *	to 18 on x86: the arch rounds it down to a level its MMU has.
 * @writable: set to whether the guest may write: the dma-buf fd was opened
 *	for writing (BEHAVIOURS K15).
 *
 * The equivalent of kvm_gmem_get_pfn() for dma-buf slots. Maps the
 * exporter's phyr if the slot has none (after a restore). No page reference
 * is taken and no host page table or VMA is looked at: the pfn is a bus
 * resource owned by the exporter, which invalidates (zapping the slot)
 * before the memory goes away. The caller installs the mapping only if
 * mmu_invalidate_seq has not moved since it sampled it before this call.
 *
 * Context: process context, may sleep; kvm->srcu held, mmu_lock not held.
 * Takes the dma-buf's reservation lock (interruptibly).
 * Return: 0, or
 * -ENODEV while the exporter has revoked the buffer;
 * -EINTR if a signal interrupted the wait for the reservation lock;
 * -ENOENT if the slot has no binding (deleted under the caller: a bug);
 * the other errors of dma_buf_map_phyr() and of the checks of
 * kvm_dmabuf_prepare_memory_region().
 * The arch turns every error but -EINTR into KVM_EXIT_MEMORY_FAULT with
 * %KVM_MEMORY_EXIT_FLAG_REVOKED (BEHAVIOURS K14).
 */
int kvm_dmabuf_get_pfn(struct kvm *kvm, struct kvm_memory_slot *slot,
		       gfn_t gfn, kvm_pfn_t *pfn, int *max_order,
		       bool *writable)
{
	struct kvm_dmabuf *kd = slot->dmabuf;
	u64 off, gpa0, max_len;
	struct phyr_seg block;
	struct dma_resv *resv;
	int ret;

	if (WARN_ON_ONCE(!kd))
		return -ENOENT;
	if (WARN_ON_ONCE(gfn < slot->base_gfn ||
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
	*writable = kd->writable;
out:
	dma_resv_unlock(resv);
	return ret;
}

/**
 * kvm_dmabuf_uncached - is a dma-buf memslot mapped uncached
 * @slot: a memslot, or NULL.
 *
 * The memory type of the slot's SPTEs comes from the phyr's attributes: a
 * slot with an uncached MMIO range (%PHYR_CACHE_UC) is mapped uncached
 * (BEHAVIOURS K5, K16).
 *
 * Context: mmu_lock held (the value may change only after an invalidation
 * zapped the slot).
 * Return: true if @slot is a dma-buf memslot whose mappings must be
 * uncached.
 */
bool kvm_dmabuf_uncached(const struct kvm_memory_slot *slot)
{
	return kvm_slot_has_dmabuf(slot) && slot->dmabuf &&
	       READ_ONCE(slot->dmabuf->uncached);
}
