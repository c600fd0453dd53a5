// SPDX-License-Identifier: GPL-2.0-only
/*
 * QEMU's educational PCI device (hw/misc/edu.c, docs/specs/edu.rst): a
 * DMA engine that copies between memory and a 4 KiB buffer of its own, one
 * transfer at a time. A memcpy is two transfers through that buffer: @src
 * into the buffer, then the buffer to @dst.
 *
 * The device clamps every DMA address to its dma_mask property, 28 bits by
 * default: give it dma_mask=0xffffffffffffffff (QEMU's -device edu,...) to
 * use IOVAs above 256 MiB. It reports no DMA error: a transfer whose IOVA
 * the IOMMU does not translate leaves its destination as it was, and the
 * IOMMU records the fault.
 */
#include <stdint.h>
#include <unistd.h>

#include <linux/io.h>
#include <linux/pci_regs.h>
#include <linux/sizes.h>

#include <libvfio.h>

#define PCI_VENDOR_ID_QEMU		0x1234
#define PCI_DEVICE_ID_QEMU_EDU		0x11e8

/* BAR 0 */
#define EDU_ID				0x00	/* 0xRRrr00ed */
#define EDU_ID_MAGIC			0xed
#define EDU_INTR_STATUS			0x24
#define EDU_INTR_RAISE			0x60
#define EDU_INTR_ACK			0x64
#define EDU_DMA_SRC			0x80
#define EDU_DMA_DST			0x88
#define EDU_DMA_COUNT			0x90
#define EDU_DMA_CMD			0x98
#define  EDU_DMA_CMD_RUN		0x1
#define  EDU_DMA_CMD_TO_RAM		0x2	/* buffer to memory */
#define  EDU_DMA_CMD_IRQ		0x4

/* The device's buffer, as its DMA engine addresses it. */
#define EDU_BUF_ADDR			0x40000
#define EDU_BUF_SIZE			SZ_4K

/* The MSI edu_send_msi() raises; any non-zero value. */
#define EDU_MSI_VALUE			0x1

struct edu_state {
	/* The copy in flight: the second transfer, started by the wait. */
	iova_t dst;
	u64 size;
};

static inline struct edu_state *to_edu_state(struct vfio_pci_device *device)
{
	return device->driver.region.vaddr;
}

static int edu_probe(struct vfio_pci_device *device)
{
	if (!vfio_pci_device_match(device, PCI_VENDOR_ID_QEMU,
				   PCI_DEVICE_ID_QEMU_EDU))
		return -EINVAL;

	VFIO_ASSERT_NOT_NULL(device->bars[0].vaddr);

	if ((readl(device->bars[0].vaddr + EDU_ID) & 0xff) != EDU_ID_MAGIC) {
		dev_err(device, "edu: unexpected ID 0x%x\n",
			readl(device->bars[0].vaddr + EDU_ID));
		return -EINVAL;
	}
	return 0;
}

static void edu_dma_wait(struct vfio_pci_device *device)
{
	/* A transfer takes 100 ms of the device's virtual clock. */
	while (readl(device->bars[0].vaddr + EDU_DMA_CMD) & EDU_DMA_CMD_RUN)
		usleep(1000);
}

static void edu_dma_start(struct vfio_pci_device *device, u64 src, u64 dst,
			  u64 size, u32 cmd)
{
	void *bar = device->bars[0].vaddr;

	writeq(src, bar + EDU_DMA_SRC);
	writeq(dst, bar + EDU_DMA_DST);
	writeq(size, bar + EDU_DMA_COUNT);
	writel(cmd | EDU_DMA_CMD_RUN, bar + EDU_DMA_CMD);
}

static void edu_init(struct vfio_pci_device *device)
{
	VFIO_ASSERT_GE(device->driver.region.size, sizeof(struct edu_state));

	vfio_pci_config_writew(device, PCI_COMMAND,
			       PCI_COMMAND_MEMORY |
			       PCI_COMMAND_MASTER |
			       PCI_COMMAND_INTX_DISABLE);

	/* No transfer from before is left running. */
	edu_dma_wait(device);

	vfio_pci_msi_enable(device, 0, 1);

	device->driver.msi = 0;
	/*
	 * Half the buffer: QEMU 7.2 (Debian 12's) refuses a transfer that
	 * ends at the buffer's last byte (an off-by-one in edu_check_range(),
	 * which then stops the machine with hw_error()).
	 */
	device->driver.max_memcpy_size = EDU_BUF_SIZE / 2;
	device->driver.max_memcpy_count = 1;
}

static void edu_remove(struct vfio_pci_device *device)
{
	edu_dma_wait(device);
	vfio_pci_msi_disable(device);
}

static void edu_memcpy_start(struct vfio_pci_device *device,
			     iova_t src, iova_t dst, u64 size, u64 count)
{
	struct edu_state *edu = to_edu_state(device);

	VFIO_ASSERT_EQ(count, 1);
	VFIO_ASSERT_LE(size, device->driver.max_memcpy_size);

	edu->dst = dst;
	edu->size = size;
	edu_dma_start(device, src, EDU_BUF_ADDR, size, 0);
}

static int edu_memcpy_wait(struct vfio_pci_device *device)
{
	struct edu_state *edu = to_edu_state(device);

	edu_dma_wait(device);
	edu_dma_start(device, EDU_BUF_ADDR, edu->dst, edu->size,
		      EDU_DMA_CMD_TO_RAM);
	edu_dma_wait(device);
	return 0;
}

static void edu_send_msi(struct vfio_pci_device *device)
{
	void *bar = device->bars[0].vaddr;

	writel(EDU_MSI_VALUE, bar + EDU_INTR_RAISE);
	writel(readl(bar + EDU_INTR_STATUS), bar + EDU_INTR_ACK);
}

const struct vfio_pci_driver_ops edu_ops = {
	.name = "edu",
	.probe = edu_probe,
	.init = edu_init,
	.remove = edu_remove,
	.memcpy_start = edu_memcpy_start,
	.memcpy_wait = edu_memcpy_wait,
	.send_msi = edu_send_msi,
};
