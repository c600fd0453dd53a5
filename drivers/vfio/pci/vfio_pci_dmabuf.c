// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfio-pci: export ranges of a BAR as a revocable phyr dma-buf
 * (VFIO_DEVICE_FEATURE_DMA_BUF), revoke them whenever vfio-pci loses or
 * gives up access to the BAR, and the private (TDISP RUN) state.
 *
 * Every buffer names the BAR's P2P provider and holds a registration
 * reference on the vfio device, so the device cannot be unregistered under
 * it. Buffers are on vdev->dmabufs, protected by vdev->memory_lock; the
 * lock order is memory_lock -> dma_resv -> the importers' locks.
 *
 * See Documentation/core-api/phyr.rst, "VFIO".
 */

#include <linux/debugfs.h>
#include <linux/dma-buf.h>
#include <linux/dma-resv.h>
#include <linux/file.h>
#include <linux/overflow.h>
#include <linux/pci.h>
#include <linux/phyr.h>
#include <linux/slab.h>
#include <linux/vfio_pci_core.h>

#include "../vfio.h"
#include "vfio_pci_priv.h"

MODULE_IMPORT_NS(DMA_BUF);

/* A request names at most this many ranges of the BAR. */
#define VFIO_PCI_DMABUF_MAX_RANGES	256

/**
 * struct vfio_pci_dma_buf - one exported dma-buf
 * @dmabuf: the dma-buf.
 * @vdev: the device; valid until release, which drops the registration
 *	reference taken at export.
 * @node: in @vdev->dmabufs, under @vdev->memory_lock; empty once the device
 *	was closed or the buffer released.
 * @phyr: the exported ranges, in CPU physical addresses of the BAR.
 * @provider: the BAR's P2P provider, named by every chunk of @phyr.
 * @caps: what the buffer offers importers.
 * @gone: revoked for good (device closed, or its TDISP state changed):
 *	never restored. Protected by the reservation lock.
 */
struct vfio_pci_dma_buf {
	struct dma_buf			*dmabuf;
	struct vfio_pci_core_device	*vdev;
	struct list_head		node;
	struct phyr			phyr;
	struct phyr_provider		provider;
	struct dma_buf_caps		caps;
	bool				gone;
};

static struct phyr *vfio_pci_dma_buf_map_phyr(struct dma_buf_attachment *attach)
{
	struct vfio_pci_dma_buf *priv = attach->dmabuf->priv;

	dma_resv_assert_held(attach->dmabuf->resv);
	/* The core refuses maps while revoked; gone buffers stay revoked. */
	return &priv->phyr;
}

static void vfio_pci_dma_buf_release(struct dma_buf *dmabuf)
{
	struct vfio_pci_dma_buf *priv = dmabuf->priv;
	struct vfio_pci_core_device *vdev = priv->vdev;

	down_write(&vdev->memory_lock);
	list_del_init(&priv->node);
	up_write(&vdev->memory_lock);

	vfio_device_put_registration(&vdev->vdev);
	phyr_destroy(&priv->phyr);
	kfree(priv);
}

/*
 * No mmap, no vmap: the host CPU never maps the BAR through the dma-buf
 * (BEHAVIOURS V8); dma_buf_mmap() and dma_buf_vmap() fail with -EINVAL.
 */
static const struct dma_buf_ops vfio_pci_dma_buf_ops = {
	.map_phyr	= vfio_pci_dma_buf_map_phyr,
	.release	= vfio_pci_dma_buf_release,
};

/* Memory decoding on, D0, not in runtime PM: importers may use the BAR. */
static bool vfio_pci_dma_buf_usable(struct vfio_pci_core_device *vdev)
{
	return __vfio_pci_memory_enabled(vdev) && !vdev->pm_runtime_engaged;
}

/*
 * Revoke or restore one buffer, unless it is being released (its file
 * count reached zero: the release waits for memory_lock, then unlinks it).
 */
static void vfio_pci_dma_buf_set(struct vfio_pci_dma_buf *priv, bool revoke,
				 bool gone)
{
	struct dma_buf *dmabuf = priv->dmabuf;

	if (!get_file_active(&dmabuf->file))
		return;

	dma_resv_lock(dmabuf->resv, NULL);
	if (gone)
		priv->gone = true;
	if (revoke || priv->gone)
		dma_buf_revoke(dmabuf);
	else
		dma_buf_restore(dmabuf);
	dma_resv_unlock(dmabuf->resv);
	fput(dmabuf->file);
}

/**
 * vfio_pci_dma_buf_move - revoke or restore every dma-buf of a device
 * @vdev: the device.
 * @revoke: true when vfio-pci is about to lose access to the BARs (memory
 *	decoding off, D3hot or deeper, a reset, runtime PM), false when it
 *	has it back.
 *
 * Revoking returns only after every importer has been notified and has
 * unmapped (dma_buf_revoke()). Restoring lets importers map again; buffers
 * revoked for good stay revoked.
 *
 * Context: process context; the caller holds @vdev->memory_lock for write.
 */
void vfio_pci_dma_buf_move(struct vfio_pci_core_device *vdev, bool revoke)
{
	struct vfio_pci_dma_buf *priv;

	lockdep_assert_held_write(&vdev->memory_lock);
	list_for_each_entry(priv, &vdev->dmabufs, node)
		vfio_pci_dma_buf_set(priv, revoke, false);
}

/**
 * vfio_pci_memory_up_write - release memory_lock, restoring dma-bufs
 * @vdev: the device.
 *
 * Every section that took @vdev->memory_lock for write (and so may have
 * revoked the dma-bufs through vfio_pci_zap_and_down_write_memory_lock())
 * ends here: if memory decoding is back, the buffers are restored before
 * the lock is dropped. Buffers are on @vdev->dmabufs only while the device
 * is open, which is also when its virtual config space exists.
 *
 * Context: process context; the caller holds @vdev->memory_lock for write.
 */
void vfio_pci_memory_up_write(struct vfio_pci_core_device *vdev)
{
	/*
	 * Buffers exist only while the device is open; before that (runtime
	 * resume at open) there is no vconfig to look at.
	 */
	if (!list_empty(&vdev->dmabufs) && vfio_pci_dma_buf_usable(vdev))
		vfio_pci_dma_buf_move(vdev, false);
	up_write(&vdev->memory_lock);
}

/**
 * vfio_pci_dma_buf_cleanup - revoke every dma-buf of a device for good
 * @vdev: the device, being closed by its user.
 *
 * The buffers stay valid dma-bufs (their fds may outlive the device fd) but
 * every map fails with -ENODEV, even if the device is opened again: a new
 * user must not reach memory through an old user's buffers.
 *
 * Context: process context; takes @vdev->memory_lock.
 */
void vfio_pci_dma_buf_cleanup(struct vfio_pci_core_device *vdev)
{
	struct vfio_pci_dma_buf *priv, *tmp;

	down_write(&vdev->memory_lock);
	list_for_each_entry_safe(priv, tmp, &vdev->dmabufs, node) {
		vfio_pci_dma_buf_set(priv, true, true);
		list_del_init(&priv->node);
	}
	up_write(&vdev->memory_lock);
}

static int vfio_pci_dma_buf_check_range(const struct vfio_region_dma_range *r,
					u64 bar_len)
{
	u64 end;

	if (!r->length || !PAGE_ALIGNED(r->offset) || !PAGE_ALIGNED(r->length))
		return -EINVAL;
	if (check_add_overflow(r->offset, r->length, &end) || end > bar_len)
		return -EINVAL;
	return 0;
}

static struct vfio_pci_dma_buf *
vfio_pci_dma_buf_build(struct vfio_pci_core_device *vdev,
		       const struct vfio_device_feature_dma_buf *req,
		       const struct vfio_region_dma_range *ranges)
{
	struct pci_dev *pdev = vdev->pdev;
	int bar = req->region_index;
	bool private = vfio_pci_bar_private(vdev);
	struct vfio_pci_dma_buf *priv;
	u32 attrs;
	u32 i;
	int ret;

	priv = kzalloc(sizeof(*priv), GFP_KERNEL);
	if (!priv)
		return ERR_PTR(-ENOMEM);
	INIT_LIST_HEAD(&priv->node);
	phyr_init(&priv->phyr);
	priv->vdev = vdev;

	ret = phyr_provider_init_pci_bar(&priv->provider, pdev, bar);
	if (ret)
		goto err;

	/* A TDI in RUN: T=1 memory of the VM the device is bound to. */
	if (private)
		attrs = PHYR_ATTRS(PHYR_ATTR_MMIO | PHYR_ATTR_NO_CPU_MAP,
				   PHYR_CACHE_UC, PHYR_CC_PRIVATE);
	else
		attrs = PHYR_ATTRS_MMIO;

	for (i = 0; i < req->nr_ranges; i++) {
		ret = phyr_append(&priv->phyr, &priv->provider, attrs,
				  pci_resource_start(pdev, bar) +
				  ranges[i].offset, ranges[i].length,
				  GFP_KERNEL);
		if (ret)
			goto err;
	}

	priv->caps = (struct dma_buf_caps) {
		.descs		= DMA_BUF_DESC_PHYR,
		.providers	= BIT(PHYR_PROVIDER_P2P),
		.cc_states	= BIT(private ? PHYR_CC_PRIVATE :
					PHYR_CC_SHARED),
		.lifetimes	= BIT(DMA_BUF_LIFETIME_DYNAMIC) |
				  BIT(DMA_BUF_LIFETIME_REVOCABLE),
		.cc_owner	= private ? vdev->vdev.kvm : NULL,
	};
	return priv;

err:
	phyr_destroy(&priv->phyr);
	kfree(priv);
	return ERR_PTR(ret);
}

/**
 * vfio_pci_core_feature_dma_buf - VFIO_DEVICE_FEATURE_DMA_BUF
 * @vdev: the device.
 * @flags: the feature flags; only %VFIO_DEVICE_FEATURE_GET (with or without
 *	%VFIO_DEVICE_FEATURE_PROBE) is supported.
 * @arg: the user's &struct vfio_device_feature_dma_buf and its ranges.
 * @argsz: bytes at @arg.
 *
 * Exports ranges (byte offsets and lengths, page aligned) of one memory BAR
 * as a dma-buf whose phyr names the BAR's P2P provider, MMIO, uncached; in
 * the private state it is T=1 memory offered only to the VM the device is
 * bound to. The buffer offers the dynamic and revocable lifetime classes:
 * vfio-pci revokes it whenever it loses access to the BAR. A buffer created
 * while memory decoding is off starts revoked. The uAPI is upstream's
 * (6.19) layout for the same feature number.
 *
 * Context: process context; takes memory_lock and the buffer's reservation
 * lock.
 * Return: the new dma-buf fd, 0 for a probe, or
 * -EINVAL for a malformed request: not a memory BAR or an empty one, zero
 * or more than 256 ranges, a range that is empty, not page aligned, outside
 * the BAR or whose end overflows, non-zero @flags of the request, open flags
 * other than O_CLOEXEC and the access mode, @argsz too small for the ranges;
 * -EFAULT if the request cannot be read;
 * -EPERM in the private state when the device is bound to no VM;
 * -ENODEV if the device is being unregistered;
 * -ENOMEM, or the error of dma_buf_export() or dma_buf_fd().
 * Nothing is created on error.
 */
int vfio_pci_core_feature_dma_buf(struct vfio_pci_core_device *vdev, u32 flags,
				  struct vfio_device_feature_dma_buf __user *arg,
				  size_t argsz)
{
	DEFINE_DMA_BUF_EXPORT_INFO(exp_info);
	struct vfio_device_feature_dma_buf req;
	struct vfio_region_dma_range *ranges;
	struct vfio_pci_dma_buf *priv;
	struct dma_buf *dmabuf;
	u64 bar_len;
	u32 i;
	int ret;

	ret = vfio_check_feature(flags, argsz, VFIO_DEVICE_FEATURE_GET,
				 sizeof(req));
	if (ret != 1)
		return ret;

	if (copy_from_user(&req, arg, sizeof(req)))
		return -EFAULT;
	if (req.flags || !req.nr_ranges ||
	    req.nr_ranges > VFIO_PCI_DMABUF_MAX_RANGES ||
	    req.open_flags & ~(O_CLOEXEC | O_ACCMODE) ||
	    argsz < struct_size(&req, dma_ranges, req.nr_ranges))
		return -EINVAL;
	if (req.region_index >= PCI_STD_NUM_BARS ||
	    !(pci_resource_flags(vdev->pdev, req.region_index) &
	      IORESOURCE_MEM) ||
	    !pci_resource_len(vdev->pdev, req.region_index))
		return -EINVAL;
	if (vfio_pci_bar_private(vdev) && !vdev->vdev.kvm)
		return -EPERM;

	ranges = memdup_array_user(&arg->dma_ranges, req.nr_ranges,
				   sizeof(*ranges));
	if (IS_ERR(ranges))
		return PTR_ERR(ranges);
	bar_len = pci_resource_len(vdev->pdev, req.region_index);
	for (i = 0; i < req.nr_ranges; i++) {
		ret = vfio_pci_dma_buf_check_range(&ranges[i], bar_len);
		if (ret)
			goto out_ranges;
	}

	priv = vfio_pci_dma_buf_build(vdev, &req, ranges);
	if (IS_ERR(priv)) {
		ret = PTR_ERR(priv);
		goto out_ranges;
	}

	if (!vfio_device_try_get_registration(&vdev->vdev)) {
		ret = -ENODEV;
		goto err_priv;
	}

	exp_info.ops = &vfio_pci_dma_buf_ops;
	exp_info.size = priv->phyr.len;
	exp_info.flags = req.open_flags;
	exp_info.priv = priv;
	exp_info.caps = &priv->caps;
	dmabuf = dma_buf_export(&exp_info);
	if (IS_ERR(dmabuf)) {
		ret = PTR_ERR(dmabuf);
		goto err_registration;
	}
	priv->dmabuf = dmabuf;

	/* From here the release op undoes everything. */
	down_write(&vdev->memory_lock);
	dma_resv_lock(dmabuf->resv, NULL);
	if (!vfio_pci_dma_buf_usable(vdev))
		dma_buf_revoke(dmabuf);		/* BEHAVIOURS V6 */
	dma_resv_unlock(dmabuf->resv);
	list_add_tail(&priv->node, &vdev->dmabufs);
	up_write(&vdev->memory_lock);

	ret = dma_buf_fd(dmabuf, req.open_flags);
	if (ret < 0)
		dma_buf_put(dmabuf);
	goto out_ranges;

err_registration:
	vfio_device_put_registration(&vdev->vdev);
err_priv:
	phyr_destroy(&priv->phyr);
	kfree(priv);
out_ranges:
	kfree(ranges);
	return ret;
}

#ifdef CONFIG_VFIO_PCI_TDISP_TEST
/*
 * The TDISP test hook: without a TSM and TDISP-capable hardware, the state a
 * TSM bind would put the TDI in is set through debugfs,
 * <debugfs>/vfio/<device>/tdisp_state: "run" (private, T=1) or "unlocked"
 * (shared). Entering or leaving RUN revokes every existing buffer for good,
 * since none was made for the new state, and zaps the host's BAR mmaps.
 */
static ssize_t vfio_pci_tdisp_write(struct file *file, const char __user *ubuf,
				    size_t count, loff_t *ppos)
{
	struct vfio_pci_core_device *vdev = file->private_data;
	char buf[16];
	bool private;

	if (count >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, count))
		return -EFAULT;
	buf[count] = '\0';
	if (sysfs_streq(buf, "run"))
		private = true;
	else if (sysfs_streq(buf, "unlocked"))
		private = false;
	else
		return -EINVAL;

	vfio_pci_zap_and_down_write_memory_lock(vdev);
	if (vdev->cc_private != private) {
		struct vfio_pci_dma_buf *priv;

		list_for_each_entry(priv, &vdev->dmabufs, node)
			vfio_pci_dma_buf_set(priv, true, true);
		WRITE_ONCE(vdev->cc_private, private);
	}
	vfio_pci_memory_up_write(vdev);
	return count;
}

static ssize_t vfio_pci_tdisp_read(struct file *file, char __user *ubuf,
				   size_t count, loff_t *ppos)
{
	struct vfio_pci_core_device *vdev = file->private_data;
	const char *state = vfio_pci_bar_private(vdev) ? "run\n" : "unlocked\n";

	return simple_read_from_buffer(ubuf, count, ppos, state, strlen(state));
}

static const struct file_operations vfio_pci_tdisp_fops = {
	.owner	= THIS_MODULE,
	.open	= simple_open,
	.read	= vfio_pci_tdisp_read,
	.write	= vfio_pci_tdisp_write,
	.llseek	= default_llseek,
};

/**
 * vfio_pci_tdisp_debugfs_init - create the TDISP test hook of a device
 * @vdev: the device, registered (its vfio debugfs directory exists).
 *
 * The file goes away with the device's vfio debugfs directory.
 *
 * Context: process context.
 */
void vfio_pci_tdisp_debugfs_init(struct vfio_pci_core_device *vdev)
{
	if (vdev->vdev.debug_root)
		debugfs_create_file("tdisp_state", 0600, vdev->vdev.debug_root,
				    vdev, &vfio_pci_tdisp_fops);
}
#endif /* CONFIG_VFIO_PCI_TDISP_TEST */
