// SPDX-License-Identifier: GPL-2.0-only
/*
 * A dma-buf importer driven from debugfs, for the phyr userspace selftests
 * (tools/testing/selftests/drivers/dma-buf/udmabuf-phyr.c).
 *
 * Each open of <debugfs>/dma_buf_phyr_importer/ctl is one importer holding
 * at most one attachment. Commands are written, one per write():
 *
 *   attach FD MODE     MODE is "phyr" (revocable phyr importer of RAM and
 *                      P2P memory), "pinned" (the same, pinned), "sgt"
 *                      (a legacy importer: dma_buf_attach()) or "rdma"
 *                      (the RDMA pinned MR: a legacy dynamic attach with
 *                      allow_peer2peer and an invalidate_mappings that only
 *                      logs, then dma_buf_pin(); "map" maps an sg_table)
 *   attach FD private KVMFD
 *                      a revocable importer of private (TDISP T=1) P2P
 *                      memory for the VM of KVMFD (a KVM_CREATE_VM fd)
 *   map [to_device]    dma_buf_map_phyr_unlocked(), or for "sgt"
 *                      dma_buf_map_attachment_unlocked(), DMA_BIDIRECTIONAL
 *                      or with "to_device" DMA_TO_DEVICE (a scanout-like
 *                      importer: no device write, which DMA_API_DEBUG's
 *                      cacheline tracking, and its allocation, skip)
 *   check MUL XOR [BASE]
 *                      compare the mapped phyr, through the CPU, with the
 *                      pattern whose little-endian u32 at byte offset o is
 *                      (o / 4) * MUL ^ XOR (mod 2^32), the buffer starting
 *                      at pattern offset BASE (default 0)
 *   unmap, detach, status
 *   watch BDF, unwatch
 *                      number, from one counter, this session's first
 *                      revoke notification and the first call for PCI
 *                      device BDF of each function a revoke must precede
 *                      (ti_watch_events[], caught with kprobes); "status"
 *                      then adds "order revoke N FUNCTION M ..." (0: not
 *                      seen), so that a test sees which came first, not
 *                      only the state after its ioctl (BEHAVIOURS V3-V5).
 *                      One session watches at a time (-EBUSY).
 *
 * A write fails with the command's errno (that of dma_buf_get(), of the
 * attach or of the map); a read returns a status line (mode, lifetime,
 * invalidate_mappings calls seen while revoked ("revokes") and while not
 * ("restores")) and the last command's report.
 * Closing the file unmaps and detaches.
 *
 * <debugfs>/dma_buf_phyr_importer/export is a test exporter of PCI BAR
 * ranges of several devices in one dma-buf (see te_export()), for the
 * iommufd import of a buffer of two P2P providers
 * (tools/testing/selftests/vfio/vfio_pci_iommufd_dmabuf_test.c). The importer device is the rig's
 * edu PCI device (behind intel-iommu) when there is one, never bound to a
 * driver here; otherwise a platform device.
 */

#include <linux/debugfs.h>
#include <linux/dma-buf.h>
#include <linux/dma-resv.h>
#include <linux/highmem.h>
#include <linux/io.h>
#include <linux/iommu.h>
#include <linux/kprobes.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/phyr.h>
#include <linux/platform_device.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/unaligned.h>
#if IS_ENABLED(CONFIG_KVM)
#include <linux/kvm_host.h>
#endif

#define TI_NAME		"dma_buf_phyr_importer"
#define TI_REPORT_LEN	2048
#define TI_CMD_LEN	128
#define TI_READ_LEN	(TI_REPORT_LEN + 512)	/* status, order, report */
#define TI_MAX_CHUNKS	16	/* chunks reported one by one */

enum ti_mode { TI_NONE, TI_PHYR, TI_PINNED, TI_SGT, TI_PRIVATE, TI_RDMA };

static const char * const ti_mode_names[] = {
	[TI_NONE] = "none", [TI_PHYR] = "phyr", [TI_PINNED] = "pinned",
	[TI_SGT] = "sgt", [TI_PRIVATE] = "private", [TI_RDMA] = "rdma",
};

/**
 * struct ti_session - one open of the ctl file: one importer
 * @lock: serialises the commands; taken before the reservation lock.
 * @mode: how @attach was made.
 * @id: a number for the attachment, unique while the module is loaded.
 * @dmabuf: the buffer, a reference from dma_buf_get().
 * @attach: the attachment, or NULL.
 * @pdev: the edu device @attach was made for, with a reference, or NULL.
 * @phyr: the mapped phyr; protected by the reservation lock, since the
 *	invalidate_mappings callback unmaps it.
 * @sgt: the mapped sg_table of a "sgt" or "rdma" attachment.
 * @dir: the direction @sgt was mapped for.
 * @kvm_file: for "private", the VM's file, held while attached.
 * @caps: for "private", the caps naming that VM.
 * @ops: for "private", the ops pointing at @caps.
 * @revoke_seq: for the watching session, the number of its first revoke
 *	notification since "watch", or 0.
 * @revokes: invalidate_mappings calls while the buffer was revoked.
 * @restores: invalidate_mappings calls while it was not (a restore, or a
 *	move).
 * @report: the last command's report.
 */
struct ti_session {
	struct mutex lock;	/* serialises the commands */
	enum ti_mode mode;
	unsigned int id;
	struct dma_buf *dmabuf;
	struct dma_buf_attachment *attach;
	struct pci_dev *pdev;
	const struct phyr *phyr;
	struct sg_table *sgt;
	enum dma_data_direction dir;
	struct file *kvm_file;
	struct dma_buf_caps caps;
	struct dma_buf_attach_ops ops;
	atomic64_t revoke_seq;
	atomic_t revokes;
	atomic_t restores;
	char report[TI_REPORT_LEN];
};

/*
 * The order watch: what a revoke must come before, for one PCI device. The
 * functions are those vfio-pci calls for a reset (VFIO_DEVICE_RESET and an
 * FLR through config space: pci_try_reset_function(); a hot reset:
 * pci_reset_bus()), a power change (pci_set_power_state()) and a write of
 * its config space (the memory-space enable bit: pci_user_write_config_*()),
 * each with the device as its first argument.
 */
struct ti_watch_event {
	struct kprobe	kp;
	atomic64_t	seq;	/* of its first call for the device, or 0 */
};

static struct ti_watch_event ti_watch_events[] = {
	{ .kp.symbol_name = "pci_try_reset_function" },
	{ .kp.symbol_name = "pci_reset_bus" },
	{ .kp.symbol_name = "pci_set_power_state" },
	{ .kp.symbol_name = "pci_user_write_config_byte" },
	{ .kp.symbol_name = "pci_user_write_config_word" },
	{ .kp.symbol_name = "pci_user_write_config_dword" },
};

static DEFINE_MUTEX(ti_watch_lock);	/* the owner, the kprobes */
static struct ti_session *ti_watch_owner;
static struct pci_dev *ti_watch_pdev;
static atomic64_t ti_watch_seq;

static int ti_watch_hit(struct kprobe *kp, struct pt_regs *regs)
{
	struct ti_watch_event *e = container_of(kp, struct ti_watch_event, kp);

	if ((void *)regs_get_kernel_argument(regs, 0) == READ_ONCE(ti_watch_pdev) &&
	    !atomic64_read(&e->seq))
		atomic64_cmpxchg(&e->seq, 0, atomic64_inc_return(&ti_watch_seq));
	return 0;
}
NOKPROBE_SYMBOL(ti_watch_hit);

static struct dentry *ti_dir;
static struct platform_device *ti_platform;
static DEFINE_MUTEX(ti_platform_lock);
static atomic_t ti_next_id = ATOMIC_INIT(0);

/*
 * Called with the reservation lock held: a revocable importer unmaps before
 * returning, whether the buffer is revoked or moves, and maps again on its
 * next "map".
 */
static void ti_invalidate(struct dma_buf_attachment *attach)
{
	struct ti_session *s = attach->importer_priv;

	dma_resv_assert_held(attach->dmabuf->resv);
	if (s->phyr) {
		dma_buf_unmap_phyr(attach, s->phyr);
		s->phyr = NULL;
	}
	if (dma_buf_is_revoked(attach->dmabuf)) {
		atomic_inc(&s->revokes);
		if (READ_ONCE(ti_watch_owner) == s && !atomic64_read(&s->revoke_seq))
			atomic64_cmpxchg(&s->revoke_seq, 0,
					 atomic64_inc_return(&ti_watch_seq));
	} else {
		atomic_inc(&s->restores);
	}
}

/*
 * The RDMA pinned MR's callback (drivers/infiniband/core/umem_dmabuf.c
 * before 7.1's revocable variant): it only logs, the mapping stays.
 */
static void ti_rdma_invalidate(struct dma_buf_attachment *attach)
{
	struct ti_session *s = attach->importer_priv;

	dev_warn_ratelimited(attach->dev,
			     "invalidate on a pinned dma-buf attachment\n");
	if (dma_buf_is_revoked(attach->dmabuf))
		atomic_inc(&s->revokes);
	else
		atomic_inc(&s->restores);
}

#define TI_PROVIDERS	(BIT(PHYR_PROVIDER_RAM) | BIT(PHYR_PROVIDER_P2P))

static const struct dma_buf_caps ti_caps_revocable = {
	.descs = DMA_BUF_DESC_PHYR,
	.providers = TI_PROVIDERS,
	.cc_states = BIT(PHYR_CC_SHARED),
	.lifetimes = BIT(DMA_BUF_LIFETIME_REVOCABLE),
};

static const struct dma_buf_caps ti_caps_pinned = {
	.descs = DMA_BUF_DESC_PHYR,
	.providers = TI_PROVIDERS,
	.cc_states = BIT(PHYR_CC_SHARED),
	.lifetimes = BIT(DMA_BUF_LIFETIME_PINNED),
};

static const struct dma_buf_attach_ops ti_ops_revocable = {
	.allow_peer2peer = true,
	.caps = &ti_caps_revocable,
	.invalidate_mappings = ti_invalidate,
};

/* A pinned importer needs no callback: it promises nothing. */
static const struct dma_buf_attach_ops ti_ops_pinned = {
	.allow_peer2peer = true,
	.caps = &ti_caps_pinned,
};

/* No caps: what ib_umem_dmabuf_get_pinned() attaches with. */
static const struct dma_buf_attach_ops ti_ops_rdma = {
	.allow_peer2peer = true,
	.invalidate_mappings = ti_rdma_invalidate,
};

/* The edu DMA engine, so that mappings go through the IOMMU, if present. */
static struct device *ti_get_device(struct ti_session *s)
{
	struct platform_device *pdev;

	s->pdev = pci_get_device(0x1234, 0x11e8, NULL);
	if (s->pdev)
		return &s->pdev->dev;

	mutex_lock(&ti_platform_lock);
	if (!ti_platform) {
		pdev = platform_device_register_simple(TI_NAME, -1, NULL, 0);
		if (!IS_ERR(pdev))
			ti_platform = pdev;
	}
	mutex_unlock(&ti_platform_lock);
	return ti_platform ? &ti_platform->dev : ERR_PTR(-ENODEV);
}

static const char *ti_lifetime_name(enum dma_buf_lifetime lifetime)
{
	switch (lifetime) {
	case DMA_BUF_LIFETIME_PINNED:
		return "pinned";
	case DMA_BUF_LIFETIME_DYNAMIC:
		return "dynamic";
	case DMA_BUF_LIFETIME_REVOCABLE:
		return "revocable";
	}
	return "?";
}

static __printf(2, 3) void ti_report(struct ti_session *s, const char *fmt, ...)
{
	size_t len = strlen(s->report);
	va_list args;

	va_start(args, fmt);
	vsnprintf(s->report + len, sizeof(s->report) - len, fmt, args);
	va_end(args);
}

/* A confidential importer for one VM: what a KVM memslot would declare. */
static int ti_private_ops(struct ti_session *s, int kvm_fd)
{
	struct file *file;

	file = fget(kvm_fd);
	if (!file)
		return -EBADF;
#if IS_ENABLED(CONFIG_KVM)
	if (file_is_kvm(file)) {
		s->kvm_file = file;
		s->caps = (struct dma_buf_caps) {
			.descs = DMA_BUF_DESC_PHYR,
			.providers = BIT(PHYR_PROVIDER_P2P),
			.cc_states = BIT(PHYR_CC_SHARED) | BIT(PHYR_CC_PRIVATE),
			.lifetimes = BIT(DMA_BUF_LIFETIME_REVOCABLE),
			.cc_owner = file->private_data,
		};
		s->ops = ti_ops_revocable;
		s->ops.caps = &s->caps;
		return 0;
	}
#endif
	fput(file);
	return -EINVAL;
}

static int ti_attach(struct ti_session *s, int fd, const char *mode_name,
		     int kvm_fd)
{
	const struct dma_buf_attach_ops *ops = NULL;
	struct dma_buf_attachment *attach;
	struct iommu_domain *domain;
	struct dma_buf *dmabuf;
	struct device *dev;
	int mode, ret;

	mode = match_string(ti_mode_names, ARRAY_SIZE(ti_mode_names), mode_name);
	/* A VM is named for "private", and only for it. */
	if (mode <= TI_NONE || (mode == TI_PRIVATE && kvm_fd < 0) ||
	    (mode != TI_PRIVATE && kvm_fd >= 0))
		return -EINVAL;
	if (s->attach)
		return -EBUSY;
	if (mode == TI_PHYR) {
		ops = &ti_ops_revocable;
	} else if (mode == TI_PINNED) {
		ops = &ti_ops_pinned;
	} else if (mode == TI_RDMA) {
		ops = &ti_ops_rdma;
	} else if (mode == TI_PRIVATE) {
		int ret = ti_private_ops(s, kvm_fd);

		if (ret)
			return ret;
		ops = &s->ops;
	}

	dmabuf = dma_buf_get(fd);
	if (IS_ERR(dmabuf)) {
		ret = PTR_ERR(dmabuf);
		goto err_kvm;
	}
	dev = ti_get_device(s);
	if (IS_ERR(dev)) {
		dma_buf_put(dmabuf);
		ret = PTR_ERR(dev);
		goto err_kvm;
	}

	/* Before the attach: a revoke may come as soon as it is made. */
	atomic_set(&s->revokes, 0);
	atomic_set(&s->restores, 0);
	/* "sgt" is what a legacy importer does, unchanged. */
	if (ops)
		attach = dma_buf_dynamic_attach(dmabuf, dev, ops, s);
	else
		attach = dma_buf_attach(dmabuf, dev);
	if (IS_ERR(attach)) {
		ret = PTR_ERR(attach);
		goto err_put;
	}
	/* The RDMA pinned MR pins right after the attach (BEHAVIOURS B11). */
	if (mode == TI_RDMA) {
		dma_resv_lock(dmabuf->resv, NULL);
		ret = dma_buf_pin(attach);
		dma_resv_unlock(dmabuf->resv);
		if (ret) {
			dma_buf_detach(dmabuf, attach);
			goto err_put;
		}
	}
	s->dmabuf = dmabuf;
	s->attach = attach;
	s->mode = mode;
	s->id = atomic_inc_return(&ti_next_id);
	domain = iommu_get_domain_for_dev(dev);
	ti_report(s, "attach id %u mode %s lifetime %s device %s (%s) size %zu\n",
		  s->id, ti_mode_names[mode],
		  ti_lifetime_name(dma_buf_attach_lifetime(attach)),
		  dev_name(dev),
		  !domain ? "no iommu" : iommu_is_dma_domain(domain) ?
		  "iommu-dma" : "iommu, not translated", dmabuf->size);
	return 0;

err_put:
	pci_dev_put(s->pdev);
	s->pdev = NULL;
	dma_buf_put(dmabuf);
err_kvm:
	if (s->kvm_file)
		fput(s->kvm_file);
	s->kvm_file = NULL;
	return ret;
}

static void ti_report_phyr(struct ti_session *s, const struct phyr *phyr)
{
	unsigned int i, kinds = 0;

	for (i = 0; i < phyr->nr_chunks; i++)
		kinds |= BIT(phyr->chunks[i].provider->kind);
	ti_report(s, "map phyr chunks %u ranges %u len %llu providers%s%s%s dma_mapped %s\n",
		  phyr->nr_chunks, phyr->nr_ranges, phyr->len,
		  kinds & BIT(PHYR_PROVIDER_RAM) ? " ram" : "",
		  kinds & BIT(PHYR_PROVIDER_P2P) ? " p2p" : "",
		  kinds & BIT(PHYR_PROVIDER_PRIVATE) ? " private" : "",
		  phyr->dma_dev ? "yes" : "no");
	for (i = 0; i < phyr->nr_chunks && i < TI_MAX_CHUNKS; i++) {
		const struct phyr_chunk *c = &phyr->chunks[i];

		ti_report(s, "chunk %u provider %s attrs 0x%x ranges %u len %llu\n",
			  i, phyr_provider_kind_name(c->provider->kind), c->attrs,
			  c->nr_ranges, c->len);
	}
	if (phyr->nr_chunks > TI_MAX_CHUNKS)
		ti_report(s, "(%u more chunks)\n", phyr->nr_chunks - TI_MAX_CHUNKS);
}

static int ti_map(struct ti_session *s, enum dma_data_direction dir)
{
	struct scatterlist *sg;
	u64 dma_len = 0;
	bool aligned = true;
	int i;

	if (!s->attach)
		return -ENOENT;
	if (s->phyr || s->sgt)
		return -EBUSY;

	if (s->mode == TI_SGT || s->mode == TI_RDMA) {
		struct sg_table *sgt;

		sgt = dma_buf_map_attachment_unlocked(s->attach, dir);
		if (IS_ERR(sgt))
			return PTR_ERR(sgt);
		s->dir = dir;
		for_each_sgtable_dma_sg(sgt, sg, i) {
			dma_len += sg_dma_len(sg);
			if (!PAGE_ALIGNED(sg_dma_address(sg)) ||
			    !PAGE_ALIGNED(sg_dma_len(sg)))
				aligned = false;
		}
		s->sgt = sgt;
		ti_report(s, "map sgt nents %u dma_len %llu page_aligned %s\n",
			  sgt->nents, dma_len, aligned ? "yes" : "no");
		return 0;
	}

	/* Under the reservation lock, so that a revoke sees s->phyr. */
	dma_resv_lock(s->dmabuf->resv, NULL);
	s->phyr = dma_buf_map_phyr(s->attach);
	if (IS_ERR(s->phyr)) {
		i = PTR_ERR(s->phyr);
		s->phyr = NULL;
		dma_resv_unlock(s->dmabuf->resv);
		return i;
	}
	ti_report_phyr(s, s->phyr);
	dma_resv_unlock(s->dmabuf->resv);
	return 0;
}

static u32 ti_pattern(u64 off, u32 mul, u32 xor)
{
	u32 v = (u32)(off / 4) * mul ^ xor;

	return v >> (8 * (off % 4));
}

/*
 * Compare @len bytes at buffer offset @off, read from RAM (@vaddr) or MMIO
 * (@io), with the pattern: u32 at a time where the offset allows; -EIO on
 * the first mismatch.
 */
static int ti_compare(struct ti_session *s, const u8 *vaddr,
		      const u8 __iomem *io, size_t len, u64 off, u32 mul,
		      u32 xor)
{
	size_t i = 0;
	u32 got, want;

	while (i < len) {
		want = ti_pattern(off + i, mul, xor);
		if ((off + i) % 4 == 0 && len - i >= 4) {
			got = io ? readl(io + i) : get_unaligned_le32(vaddr + i);
			i += 4;
		} else {
			got = io ? readb(io + i) : vaddr[i];
			want &= 0xff;
			i++;
		}
		if (got != want) {
			ti_report(s, "check mismatch near offset %llu: got 0x%x want 0x%x\n",
				  off + i, got, want);
			return -EIO;
		}
	}
	return 0;
}

static int ti_check_seg(struct ti_session *s, const struct phyr_seg *seg,
			u64 off, u32 mul, u32 xor)
{
	struct phyr_seg piece = *seg;
	void __iomem *io;
	size_t done = 0;
	int ret = 0;

	if (seg->attrs & PHYR_ATTR_NO_CPU_MAP)
		return -EOPNOTSUPP;
	if (seg->attrs & PHYR_ATTR_MMIO) {
		io = ioremap(seg->paddr, seg->len);
		if (!io)
			return -ENOMEM;
		ret = ti_compare(s, NULL, io, seg->len, off, mul, xor);
		iounmap(io);
		return ret;
	}
	/* RAM: page by page through the page phyr gives for the range. */
	while (!ret && done < seg->len) {
		size_t in_page = offset_in_page(seg->paddr + done);
		size_t n = min_t(size_t, PAGE_SIZE - in_page, seg->len - done);
		struct page *page;
		void *vaddr;

		piece.paddr = seg->paddr + done;
		piece.len = n;
		page = phyr_seg_page(&piece);
		if (!page)
			return -EOPNOTSUPP;
		vaddr = kmap_local_page(page);
		ret = ti_compare(s, vaddr + in_page, NULL, n, off + done,
				 mul, xor);
		kunmap_local(vaddr);
		done += n;
		cond_resched();
	}
	return ret;
}

static int ti_check(struct ti_session *s, u32 mul, u32 xor, u64 base)
{
	struct phyr_iter iter;
	struct phyr_seg seg;
	u64 off = base;
	int ret;

	if (s->mode == TI_SGT || s->mode == TI_RDMA)
		return -EOPNOTSUPP;	/* a legacy importer only DMAs */

	dma_resv_lock(s->dmabuf->resv, NULL);
	if (!s->phyr) {
		ret = -ENOENT;
		goto out;
	}
	if (s->phyr->dma_dev) {
		ret = -EOPNOTSUPP;	/* DMA addresses, not physical */
		goto out;
	}
	ret = phyr_iter_start(&iter, s->phyr, 0, s->phyr->len);
	if (ret)
		goto out;
	phyr_for_each_seg(&seg, &iter) {
		ret = ti_check_seg(s, &seg, off, mul, xor);
		if (ret)
			goto out;
		off += seg.len;
	}
	ti_report(s, "check ok %llu bytes\n", off - base);
out:
	dma_resv_unlock(s->dmabuf->resv);
	return ret;
}

static int ti_unmap(struct ti_session *s)
{
	int ret = 0;

	if (s->sgt) {
		dma_buf_unmap_attachment_unlocked(s->attach, s->sgt, s->dir);
		s->sgt = NULL;
		return 0;
	}
	if (!s->attach)
		return -ENOENT;
	dma_resv_lock(s->dmabuf->resv, NULL);
	if (s->phyr)
		dma_buf_unmap_phyr(s->attach, s->phyr);
	else
		ret = -ENOENT;	/* never mapped, or the revoke unmapped it */
	s->phyr = NULL;
	dma_resv_unlock(s->dmabuf->resv);
	return ret;
}

static int ti_detach(struct ti_session *s)
{
	if (!s->attach)
		return -ENOENT;
	ti_unmap(s);
	if (s->mode == TI_RDMA) {
		dma_resv_lock(s->dmabuf->resv, NULL);
		dma_buf_unpin(s->attach);
		dma_resv_unlock(s->dmabuf->resv);
	}
	dma_buf_detach(s->dmabuf, s->attach);
	dma_buf_put(s->dmabuf);
	pci_dev_put(s->pdev);
	if (s->kvm_file)
		fput(s->kvm_file);
	s->kvm_file = NULL;
	s->attach = NULL;
	s->dmabuf = NULL;
	s->pdev = NULL;
	s->mode = TI_NONE;
	return 0;
}

static void ti_unwatch(struct ti_session *s)
{
	unsigned int i;

	mutex_lock(&ti_watch_lock);
	if (ti_watch_owner == s) {
		for (i = 0; i < ARRAY_SIZE(ti_watch_events); i++)
			if (ti_watch_events[i].kp.addr)
				unregister_kprobe(&ti_watch_events[i].kp);
		pci_dev_put(ti_watch_pdev);
		WRITE_ONCE(ti_watch_owner, NULL);
		WRITE_ONCE(ti_watch_pdev, NULL);
	}
	mutex_unlock(&ti_watch_lock);
}

static int ti_watch(struct ti_session *s, const char *bdf)
{
	unsigned int domain, bus, slot, fn, i;
	struct pci_dev *pdev;
	int ret = 0;

	if (sscanf(bdf, "%x:%x:%x.%x", &domain, &bus, &slot, &fn) != 4)
		return -EINVAL;
	pdev = pci_get_domain_bus_and_slot(domain, bus, PCI_DEVFN(slot, fn));
	if (!pdev)
		return -ENODEV;

	mutex_lock(&ti_watch_lock);
	if (ti_watch_owner) {
		ret = -EBUSY;
		goto out;
	}
	atomic64_set(&s->revoke_seq, 0);
	WRITE_ONCE(ti_watch_pdev, pdev);
	for (i = 0; i < ARRAY_SIZE(ti_watch_events); i++) {
		struct ti_watch_event *e = &ti_watch_events[i];

		atomic64_set(&e->seq, 0);
		/* register_kprobe() fills these in: start afresh. */
		e->kp.addr = NULL;
		e->kp.flags = 0;
		e->kp.pre_handler = ti_watch_hit;
		ret = register_kprobe(&e->kp);
		if (ret) {
			e->kp.addr = NULL;
			while (i--)
				unregister_kprobe(&ti_watch_events[i].kp);
			for (i = 0; i < ARRAY_SIZE(ti_watch_events); i++)
				ti_watch_events[i].kp.addr = NULL;
			WRITE_ONCE(ti_watch_pdev, NULL);
			goto out;
		}
	}
	WRITE_ONCE(ti_watch_owner, s);
	pdev = NULL;	/* held by the watch */
out:
	mutex_unlock(&ti_watch_lock);
	pci_dev_put(pdev);
	return ret;
}

/* "order revoke N FUNCTION M ..." for the watching session. */
static int ti_watch_status(struct ti_session *s, char *buf, size_t len)
{
	unsigned int i;
	int n = 0;

	if (READ_ONCE(ti_watch_owner) != s)
		return 0;
	n += scnprintf(buf + n, len - n, "order revoke %lld",
		       atomic64_read(&s->revoke_seq));
	for (i = 0; i < ARRAY_SIZE(ti_watch_events); i++)
		n += scnprintf(buf + n, len - n, " %s %lld",
			       ti_watch_events[i].kp.symbol_name,
			       atomic64_read(&ti_watch_events[i].seq));
	n += scnprintf(buf + n, len - n, "\n");
	return n;
}

static int ti_command(struct ti_session *s, char *cmd)
{
	char *argv[4] = {};
	char *p = strim(cmd);
	unsigned int argc = 0;
	u32 mul, xor;
	u64 base = 0;
	int fd, kvm_fd = -1;

	while (p && argc < ARRAY_SIZE(argv)) {
		argv[argc] = strsep(&p, " \t");
		if (*argv[argc])
			argc++;
	}
	if (p || !argc)
		return -EINVAL;

	if (!strcmp(argv[0], "attach") && (argc == 3 || argc == 4)) {
		if (kstrtoint(argv[1], 0, &fd) ||
		    (argc == 4 && kstrtoint(argv[3], 0, &kvm_fd)) ||
		    (argc == 4 && kvm_fd < 0))
			return -EINVAL;
		return ti_attach(s, fd, argv[2], kvm_fd);
	}
	if (!strcmp(argv[0], "check") && (argc == 3 || argc == 4)) {
		if (kstrtou32(argv[1], 0, &mul) || kstrtou32(argv[2], 0, &xor) ||
		    (argc == 4 && kstrtou64(argv[3], 0, &base)))
			return -EINVAL;
		return ti_check(s, mul, xor, base);
	}
	if (!strcmp(argv[0], "watch") && argc == 2)
		return ti_watch(s, argv[1]);
	if (!strcmp(argv[0], "map") && argc == 2 &&
	    !strcmp(argv[1], "to_device"))
		return ti_map(s, DMA_TO_DEVICE);
	if (argc != 1)
		return -EINVAL;
	if (!strcmp(argv[0], "map"))
		return ti_map(s, DMA_BIDIRECTIONAL);
	if (!strcmp(argv[0], "unmap"))
		return ti_unmap(s);
	if (!strcmp(argv[0], "unwatch")) {
		ti_unwatch(s);
		return 0;
	}
	if (!strcmp(argv[0], "detach"))
		return ti_detach(s);
	if (!strcmp(argv[0], "status"))
		return 0;
	return -EINVAL;
}

static ssize_t ti_write(struct file *file, const char __user *ubuf,
			size_t count, loff_t *ppos)
{
	struct ti_session *s = file->private_data;
	char cmd[TI_CMD_LEN];
	int ret;

	if (count >= sizeof(cmd))
		return -EINVAL;
	if (copy_from_user(cmd, ubuf, count))
		return -EFAULT;
	cmd[count] = '\0';

	mutex_lock(&s->lock);
	s->report[0] = '\0';
	ret = ti_command(s, cmd);
	if (ret)
		ti_report(s, "error %d\n", ret);
	mutex_unlock(&s->lock);
	*ppos = 0;	/* the next read shows this command's report */
	return ret ?: count;
}

static ssize_t ti_read(struct file *file, char __user *ubuf, size_t count,
		       loff_t *ppos)
{
	struct ti_session *s = file->private_data;
	char *buf;
	ssize_t ret;
	int len;

	buf = kmalloc(TI_READ_LEN, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	mutex_lock(&s->lock);
	len = scnprintf(buf, TI_READ_LEN,
			"id %u mode %s lifetime %s mapped %s revokes %d restores %d\n",
			s->id, ti_mode_names[s->mode],
			s->attach ?
			ti_lifetime_name(dma_buf_attach_lifetime(s->attach)) :
			"none",
			s->phyr || s->sgt ? "yes" : "no",
			atomic_read(&s->revokes), atomic_read(&s->restores));
	len += ti_watch_status(s, buf + len, TI_READ_LEN - len);
	len += scnprintf(buf + len, TI_READ_LEN - len, "%s", s->report);
	mutex_unlock(&s->lock);
	ret = simple_read_from_buffer(ubuf, count, ppos, buf, len);
	kfree(buf);
	return ret;
}

static int ti_open(struct inode *inode, struct file *file)
{
	struct ti_session *s;

	s = kzalloc_obj(*s);
	if (!s)
		return -ENOMEM;
	mutex_init(&s->lock);
	file->private_data = s;
	return 0;
}

static int ti_release(struct inode *inode, struct file *file)
{
	struct ti_session *s = file->private_data;

	ti_unwatch(s);
	mutex_lock(&s->lock);
	ti_detach(s);
	mutex_unlock(&s->lock);
	mutex_destroy(&s->lock);
	kfree(s);
	return 0;
}

static const struct file_operations ti_fops = {
	.owner = THIS_MODULE,
	.open = ti_open,
	.release = ti_release,
	.read = ti_read,
	.write = ti_write,
	.llseek = default_llseek,
};

/*
 * The test exporter: <debugfs>/dma_buf_phyr_importer/export. A write of
 * "BDF BAR OFFSET LENGTH" repeated (at most TE_MAX_RANGES times; numbers in
 * C notation, the BDF as 0000:01:00.0) exports one dma-buf whose phyr holds
 * those ranges of those memory BARs, each BAR its own P2P provider, in that
 * order; a read returns "fd N", the dma-buf's fd in the writer's table.
 * Offsets and lengths must be page aligned and inside the BAR. The offer is
 * the phyr of P2P MMIO, shared, dynamic and revocable; "revoke" and
 * "restore" call dma_buf_revoke() and dma_buf_restore(). One export per
 * open; the dma-buf lives until its last fd closes.
 *
 * Test only: nothing revokes the buffer when a device resets or its driver
 * unbinds, and the BARs' P2P providers are their drivers' (the ivshmem
 * device's vfio-pci, the NVMe controller's CMB of the nvme driver), so the
 * devices must stay bound while the buffer is used.
 */
#define TE_MAX_RANGES	4

struct te_export {
	struct mutex lock;	/* serialises the commands of one open */
	struct dma_buf *dmabuf;
	int fd;
	unsigned int nr_devs;
	struct pci_dev *pdevs[TE_MAX_RANGES];
	struct phyr_provider providers[TE_MAX_RANGES];
	struct phyr phyr;
	struct dma_buf_caps caps;
};

static struct phyr *te_map_phyr(struct dma_buf_attachment *attach)
{
	struct te_export *te = attach->dmabuf->priv;

	dma_resv_assert_held(attach->dmabuf->resv);
	return &te->phyr;
}

static void te_free(struct te_export *te)
{
	unsigned int i;

	phyr_destroy(&te->phyr);
	for (i = 0; i < te->nr_devs; i++)
		pci_dev_put(te->pdevs[i]);
	mutex_destroy(&te->lock);
	kfree(te);
}

/* Forget a failed export's ranges and devices: the open starts again. */
static void te_reset(struct te_export *te)
{
	unsigned int i;

	phyr_destroy(&te->phyr);
	phyr_init(&te->phyr);
	for (i = 0; i < te->nr_devs; i++)
		pci_dev_put(te->pdevs[i]);
	te->nr_devs = 0;
	te->fd = -1;
}

static void te_release(struct dma_buf *dmabuf)
{
	/* NULL when dma_buf_fd() failed: the open still owns it */
	if (dmabuf->priv)
		te_free(dmabuf->priv);
}

static const struct dma_buf_ops te_ops = {
	.map_phyr = te_map_phyr,
	.release = te_release,
};

/* Parse one "BDF BAR OFFSET LENGTH" and append it to @te's phyr. */
static int te_add_range(struct te_export *te, char **argv)
{
	unsigned int domain, bus, slot, fn, bar;
	struct phyr_provider *provider;
	struct pci_dev *pdev;
	u64 off, len, end;
	int ret;

	if (sscanf(argv[0], "%x:%x:%x.%x", &domain, &bus, &slot, &fn) != 4 ||
	    kstrtouint(argv[1], 0, &bar) || kstrtou64(argv[2], 0, &off) ||
	    kstrtou64(argv[3], 0, &len) || bar >= PCI_STD_NUM_BARS || !len ||
	    !PAGE_ALIGNED(off) || !PAGE_ALIGNED(len) ||
	    check_add_overflow(off, len, &end))
		return -EINVAL;

	pdev = pci_get_domain_bus_and_slot(domain, bus, PCI_DEVFN(slot, fn));
	if (!pdev)
		return -ENODEV;
	te->pdevs[te->nr_devs] = pdev;
	provider = &te->providers[te->nr_devs++];
	if (end > pci_resource_len(pdev, bar))
		return -EINVAL;
	ret = phyr_provider_init_pci_bar(provider, pdev, bar);
	if (ret)
		return ret;
	return phyr_append(&te->phyr, provider, PHYR_ATTRS_MMIO,
			   pci_resource_start(pdev, bar) + off, len,
			   GFP_KERNEL);
}

static int te_export(struct te_export *te, char *cmd)
{
	DEFINE_DMA_BUF_EXPORT_INFO(exp_info);
	char *argv[4 * TE_MAX_RANGES] = {};
	char *p = strim(cmd);
	unsigned int argc = 0, i;
	int ret;

	while (p && argc < ARRAY_SIZE(argv)) {
		argv[argc] = strsep(&p, " \t");
		if (*argv[argc])
			argc++;
	}
	if (p || !argc || argc % 4)
		return -EINVAL;
	for (i = 0; i < argc; i += 4) {
		ret = te_add_range(te, &argv[i]);
		if (ret)
			return ret;
	}

	te->caps = (struct dma_buf_caps) {
		.descs = DMA_BUF_DESC_PHYR,
		.providers = BIT(PHYR_PROVIDER_P2P),
		.cc_states = BIT(PHYR_CC_SHARED),
		.lifetimes = BIT(DMA_BUF_LIFETIME_DYNAMIC) |
			     BIT(DMA_BUF_LIFETIME_REVOCABLE),
	};
	exp_info.ops = &te_ops;
	exp_info.size = phyr_len(&te->phyr);
	exp_info.flags = O_RDWR | O_CLOEXEC;
	exp_info.priv = te;
	exp_info.caps = &te->caps;
	te->dmabuf = dma_buf_export(&exp_info);
	if (IS_ERR(te->dmabuf)) {
		ret = PTR_ERR(te->dmabuf);
		te->dmabuf = NULL;
		return ret;
	}
	te->fd = dma_buf_fd(te->dmabuf, O_CLOEXEC);
	if (te->fd < 0) {
		ret = te->fd;
		te->dmabuf->priv = NULL;
		dma_buf_put(te->dmabuf);
		te->dmabuf = NULL;
		return ret;
	}
	/* The fd's reference is the buffer's; keep one for the commands. */
	get_dma_buf(te->dmabuf);
	return 0;
}

static int te_command(struct te_export *te, char *cmd)
{
	int ret;

	if (!te->dmabuf)
		return te_export(te, cmd);

	cmd = strim(cmd);
	if (strcmp(cmd, "revoke") && strcmp(cmd, "restore"))
		return -EINVAL;
	dma_resv_lock(te->dmabuf->resv, NULL);
	ret = !strcmp(cmd, "revoke") ? dma_buf_revoke(te->dmabuf) :
				       dma_buf_restore(te->dmabuf);
	dma_resv_unlock(te->dmabuf->resv);
	return ret;
}

static ssize_t te_write(struct file *file, const char __user *ubuf,
			size_t count, loff_t *ppos)
{
	struct te_export *te = file->private_data;
	char cmd[TI_CMD_LEN * 2];
	int ret;

	if (count >= sizeof(cmd))
		return -EINVAL;
	if (copy_from_user(cmd, ubuf, count))
		return -EFAULT;
	cmd[count] = '\0';

	mutex_lock(&te->lock);
	ret = te_command(te, cmd);
	if (ret && !te->dmabuf)
		te_reset(te);
	mutex_unlock(&te->lock);
	return ret ?: count;
}

static ssize_t te_read(struct file *file, char __user *ubuf, size_t count,
		       loff_t *ppos)
{
	struct te_export *te = file->private_data;
	char buf[64];
	int len;

	mutex_lock(&te->lock);
	len = scnprintf(buf, sizeof(buf), "fd %d\n", te->fd);
	mutex_unlock(&te->lock);
	return simple_read_from_buffer(ubuf, count, ppos, buf, len);
}

static int te_open(struct inode *inode, struct file *file)
{
	struct te_export *te = kzalloc_obj(*te);

	if (!te)
		return -ENOMEM;
	mutex_init(&te->lock);
	phyr_init(&te->phyr);
	te->fd = -1;
	file->private_data = te;
	return 0;
}

static int te_release_file(struct inode *inode, struct file *file)
{
	struct te_export *te = file->private_data;

	if (te->dmabuf)
		dma_buf_put(te->dmabuf);	/* the fd keeps the buffer */
	else
		te_free(te);
	return 0;
}

static const struct file_operations te_fops = {
	.owner = THIS_MODULE,
	.open = te_open,
	.release = te_release_file,
	.read = te_read,
	.write = te_write,
	.llseek = default_llseek,
};

static int __init ti_init(void)
{
	ti_dir = debugfs_create_dir(TI_NAME, NULL);
	debugfs_create_file("ctl", 0600, ti_dir, NULL, &ti_fops);
	debugfs_create_file("export", 0600, ti_dir, NULL, &te_fops);
	return 0;
}

static void __exit ti_exit(void)
{
	debugfs_remove(ti_dir);
	if (ti_platform)
		platform_device_unregister(ti_platform);
}

module_init(ti_init);
module_exit(ti_exit);

MODULE_DESCRIPTION("Test importer for dma-buf phyr exchange selftests");
MODULE_LICENSE("GPL");
MODULE_IMPORT_NS("DMA_BUF");
