// SPDX-License-Identifier: GPL-2.0-only
/*
 * A device's DMA through a dma-buf of another device's BAR, mapped into its
 * IOAS with IOMMU_IOAS_MAP_FILE: what a VMM does to give a guest P2P
 * between two assigned devices. iommufd imports the vfio-pci dma-buf as a
 * phyr (drivers/iommu/iommufd/pages.c), every range at consecutive IOVAs,
 * and unmaps them all when vfio-pci revokes the buffer.
 *
 * Usage: vfio_pci_iommufd_dmabuf_test DMA_BDF BAR_BDF
 *
 * DMA_BDF is a device libvfio has a driver for (the rig's edu, through the
 * edu driver of lib/drivers/edu), bound to vfio-pci and opened through the
 * iommufd cdev; BAR_BDF the rig's ivshmem (tools/testing/phyr), whose
 * 64 MiB BAR 2 holds a pattern the host wrote: the little-endian u32 at byte
 * offset o is (o / 4) * 2654435761 ^ 0x50485952. The DMA engine copies
 * from the dma-buf's IOVAs into RAM and the bytes are compared with the
 * pattern at the BAR offsets the ranges name. After a reset of the ivshmem
 * device the same copy must not reach the BAR: no byte of the BAR arrives
 * (the device's buffer, poisoned first, gets what QEMU gives a failed read)
 * and the IOMMU records a fault at that IOVA, which the test finds in
 * /dev/kmsg (the console scan of tools/testing/phyr expects it, announced
 * by the "phyr-expect-iommu-fault" lines, which the test writes to the
 * kernel log so that the console shows them in order with the fault
 * reports and never cut by one).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include <linux/io.h>
#include <linux/iommufd.h>
#include <linux/sizes.h>
#include <linux/vfio.h>

#include <libvfio.h>

#include "kselftest_harness.h"

#define PATTERN_MUL	2654435761u
#define PATTERN_XOR	0x50485952u
#define BAR_REGION	VFIO_PCI_BAR2_REGION_INDEX

/* edu clamps DMA addresses to 28 bits: keep every IOVA below 256 MiB. */
#define RAM_IOVA	0x1000000ULL
#define RAM_SIZE	SZ_2M
#define DMABUF_IOVA	0x4000000ULL
#define POISON		0x5a

static const char *dma_bdf;
static const char *bar_bdf;

/*
 * Three ranges of BAR 2: out of order, of different lengths, none
 * contiguous with the next, so that the phyr has three ranges and a wrong
 * IOVA-to-range walk reads the wrong part of the pattern.
 */
static const struct vfio_region_dma_range ranges[] = {
	{ .offset = SZ_2M,		.length = SZ_8K },
	{ .offset = SZ_64K,		.length = SZ_4K },
	{ .offset = 3 * SZ_1M + SZ_4K,	.length = SZ_8K },
};

#define NR_RANGES	ARRAY_SIZE(ranges)

static u32 pattern(u64 off)
{
	return (u32)(off / 4) * PATTERN_MUL ^ PATTERN_XOR;
}

FIXTURE(iommufd_dmabuf) {
	struct iommu *iommu;
	struct vfio_pci_device *device;
	struct iommu *bar_iommu;
	struct vfio_pci_device *bar;
	struct dma_region ram;
	int dmabuf;
	u64 len;
	int kmsg;
};

/* Export the ranges of BAR 2 as a dma-buf: its fd, or -errno. */
static int export_ranges(struct vfio_pci_device *bar)
{
	struct {
		struct vfio_device_feature feature;
		struct vfio_device_feature_dma_buf db;
		struct vfio_region_dma_range ranges[NR_RANGES];
	} req = {
		.feature = {
			.argsz = sizeof(req),
			.flags = VFIO_DEVICE_FEATURE_GET |
				 VFIO_DEVICE_FEATURE_DMA_BUF,
		},
		.db = {
			.region_index = BAR_REGION,
			.open_flags = O_RDWR | O_CLOEXEC,
			.nr_ranges = NR_RANGES,
		},
	};
	int fd;

	memcpy(req.ranges, ranges, sizeof(ranges));
	fd = ioctl(bar->fd, VFIO_DEVICE_FEATURE, &req);
	return fd < 0 ? -errno : fd;
}

static int map_file(struct iommu *iommu, int fd, u64 len, u64 iova)
{
	struct iommu_ioas_map_file map = {
		.size = sizeof(map),
		.flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE,
		.ioas_id = iommu->ioas_id,
		.fd = fd,
		.length = len,
		.iova = iova,
	};

	return ioctl(iommu->iommufd, IOMMU_IOAS_MAP_FILE, &map) ? -errno : 0;
}

static int unmap_iova(struct iommu *iommu, u64 iova, u64 len)
{
	struct iommu_ioas_unmap unmap = {
		.size = sizeof(unmap),
		.ioas_id = iommu->ioas_id,
		.iova = iova,
		.length = len,
	};

	return ioctl(iommu->iommufd, IOMMU_IOAS_UNMAP, &unmap) ? -errno : 0;
}

/* The BAR offset of byte @off of the dma-buf. */
static u64 bar_offset(u64 off)
{
	unsigned int i;

	for (i = 0; i < NR_RANGES; i++) {
		if (off < ranges[i].length)
			return ranges[i].offset + off;
		off -= ranges[i].length;
	}
	return ~0ULL;
}

/* A page of RAM the device copies into, past the driver's state. */
static u8 *dst_page(struct _test_data_iommufd_dmabuf *self, iova_t *iova)
{
	*iova = self->ram.iova + SZ_64K;
	return (u8 *)self->ram.vaddr + SZ_64K;
}

/*
 * Have the device copy the page at @iova into RAM poisoned first; return
 * how many of its u32 differ from the pattern of the BAR page @bar_off, and
 * in @first the first u32 copied. The device's buffer is filled with poison
 * from RAM first, so that a copy whose read faults shows what the failed
 * read gave the device (QEMU hands it the value of an unassigned access),
 * never what an earlier copy left there.
 */
static unsigned int copy_page(struct _test_data_iommufd_dmabuf *self,
			      u64 iova, u64 bar_off, u32 *first)
{
	u8 *poison = (u8 *)self->ram.vaddr + SZ_128K;
	u64 poison_iova = self->ram.iova + SZ_128K;
	unsigned int i, bad = 0;
	iova_t dst_iova;
	u8 *dst = dst_page(self, &dst_iova);
	u32 *v = (u32 *)dst;

	memset(poison, POISON, SZ_4K);
	VFIO_ASSERT_EQ(vfio_pci_driver_memcpy(self->device, poison_iova,
					      dst_iova, SZ_4K), 0);
	memset(dst, POISON, SZ_4K);

	VFIO_ASSERT_EQ(vfio_pci_driver_memcpy(self->device, iova, dst_iova,
					      SZ_4K), 0);
	for (i = 0; i < SZ_4K / 4; i++)
		if (v[i] != pattern(bar_off + i * 4))
			bad++;
	*first = v[0];
	return bad;
}

/* Every u32 of the last copy equals @val: one value, no BAR data */
static bool copy_uniform(struct _test_data_iommufd_dmabuf *self, u32 val)
{
	iova_t dst_iova;
	u32 *v = (u32 *)dst_page(self, &dst_iova);
	unsigned int i;

	for (i = 0; i < SZ_4K / 4; i++)
		if (v[i] != val)
			return false;
	return true;
}

/*
 * Write one line to the kernel log; false if it could not. The serial
 * console prints a kernel record whole and in the log's order, whereas the
 * test's stdout reaches it through the tty and can be overtaken, or cut
 * mid-line, by a record.
 */
static bool kmsg_line(const char *fmt, const char *arg)
{
	char buf[128];
	int fd, n;
	bool ok;

	n = snprintf(buf, sizeof(buf), fmt, arg);
	fd = open("/dev/kmsg", O_WRONLY);
	if (fd < 0)
		return false;
	ok = write(fd, buf, n) == n;
	close(fd);
	return ok;
}

/*
 * Whether the kernel logged an IOMMU fault of the device at @iova since
 * @kmsg's position: intel-iommu's "DMAR: [DMA Read ...] Request device
 * [BDF] fault addr IOVA" line, copied to @line from its "[DMA" on (without
 * the "DMAR: " prefix, so that the test's echo of it is not itself a report
 * for the console scan).
 */
static bool iommu_fault_logged(int kmsg, const char *bdf, u64 iova,
			       char *line, size_t len)
{
	char buf[1024], addr[32];
	int tries;

	snprintf(addr, sizeof(addr), "fault addr %#llx ",
		 (unsigned long long)iova);
	for (tries = 0; tries < 500; tries++) {
		ssize_t n = read(kmsg, buf, sizeof(buf) - 1);

		if (n < 0) {
			if (errno != EAGAIN)
				return false;
			usleep(10000);
			continue;
		}
		buf[n] = 0;
		if (strstr(buf, "DMAR: [DMA Read") && strstr(buf, bdf) &&
		    strstr(buf, addr)) {
			snprintf(line, len, "%s", strstr(buf, "[DMA Read"));
			line[strcspn(line, "\n")] = 0;
			return true;
		}
	}
	return false;
}

FIXTURE_SETUP(iommufd_dmabuf)
{
	unsigned int i;
	void *vaddr;

	self->dmabuf = -1;
	self->kmsg = -1;
	for (i = 0, self->len = 0; i < NR_RANGES; i++)
		self->len += ranges[i].length;

	self->iommu = iommu_init(MODE_IOMMUFD);
	self->device = vfio_pci_device_init(dma_bdf, self->iommu);
	ASSERT_NE(NULL, self->device->driver.ops)
		TH_LOG("%s: no libvfio driver for it", dma_bdf);

	vaddr = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, vaddr);
	self->ram = (struct dma_region) {
		.vaddr = vaddr, .iova = RAM_IOVA, .size = RAM_SIZE,
	};
	iommu_map(self->iommu, &self->ram);
	self->device->driver.region = (struct dma_region) {
		.vaddr = vaddr, .iova = RAM_IOVA, .size = SZ_4K,
	};
	vfio_pci_driver_init(self->device);

	self->bar_iommu = iommu_init(MODE_IOMMUFD);
	self->bar = vfio_pci_device_init(bar_bdf, self->bar_iommu);

	self->dmabuf = export_ranges(self->bar);
	ASSERT_LE(0, self->dmabuf)
		TH_LOG("VFIO_DEVICE_FEATURE_DMA_BUF of %s: %s", bar_bdf,
		       strerror(-self->dmabuf));
}

FIXTURE_TEARDOWN(iommufd_dmabuf)
{
	if (self->kmsg >= 0)
		close(self->kmsg);
	vfio_pci_driver_remove(self->device);
	if (self->dmabuf >= 0)
		close(self->dmabuf);
	iommu_unmap_all(self->iommu);
	munmap(self->ram.vaddr, self->ram.size);
	vfio_pci_device_cleanup(self->bar);
	iommu_cleanup(self->bar_iommu);
	vfio_pci_device_cleanup(self->device);
	iommu_cleanup(self->iommu);
}

/*
 * Every page of every range reaches the device at consecutive IOVAs: the
 * copy of each page equals the pattern of the BAR page its range names.
 */
/* BEHAVIOURS: I1 I2 I4 I6 */
TEST_F(iommufd_dmabuf, dma_reads_every_range)
{
	unsigned int bad = 0;
	u32 first;
	u64 off;

	ASSERT_EQ(0, map_file(self->iommu, self->dmabuf, self->len,
			      DMABUF_IOVA));
	for (off = 0; off < self->len; off += SZ_4K) {
		unsigned int n = copy_page(self, DMABUF_IOVA + off,
					   bar_offset(off), &first);

		printf("# dma-buf + %#llx (BAR 2 + %#llx): %u u32 of 1024 differ\n",
		       (unsigned long long)off,
		       (unsigned long long)bar_offset(off), n);
		bad += n;
	}
	EXPECT_EQ(0, bad);
	printf("# %u ranges, %llu bytes: the device read the BAR through the IOAS\n",
	       (unsigned int)NR_RANGES, (unsigned long long)self->len);
	ASSERT_EQ(0, unmap_iova(self->iommu, DMABUF_IOVA, self->len));
}

/*
 * A reset of the exporting device revokes the dma-buf: iommufd unmaps every
 * IOVA of it before the reset, the device's next read through them faults
 * in the IOMMU and never reaches the BAR, and the IOVAs stay unmapped after
 * vfio-pci restores the buffer, until userspace maps it again.
 */
/* BEHAVIOURS: I3 R1 */
TEST_F(iommufd_dmabuf, reset_unmaps)
{
	u64 last = self->len - SZ_4K;
	char line[512] = "";
	unsigned int bad;
	u32 first;

	ASSERT_EQ(0, map_file(self->iommu, self->dmabuf, self->len,
			      DMABUF_IOVA));
	ASSERT_EQ(0, copy_page(self, DMABUF_IOVA + last, bar_offset(last),
			       &first));

	self->kmsg = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);
	ASSERT_LE(0, self->kmsg);
	ASSERT_LE(0, lseek(self->kmsg, 0, SEEK_END));

	ASSERT_TRUE(kmsg_line("phyr-expect-iommu-fault: %s\n", dma_bdf));
	ASSERT_EQ(0, __vfio_pci_device_reset(self->bar));

	/*
	 * The read faults: the device gets what QEMU gives a failed read (one
	 * value, no poison: the read did happen, it did not reach the BAR).
	 */
	bad = copy_page(self, DMABUF_IOVA + last, bar_offset(last), &first);
	EXPECT_EQ(SZ_4K / 4, bad);
	EXPECT_TRUE(copy_uniform(self, first));
	EXPECT_TRUE(iommu_fault_logged(self->kmsg, dma_bdf, DMABUF_IOVA + last,
				       line, sizeof(line)));
	printf("# after the reset: %u of 1024 u32 from the BAR, the device read %08x\n",
	       SZ_4K / 4 - bad, first);
	printf("# the IOMMU: %s\n", *line ? line : "no fault logged");

	/* Restored by vfio-pci after the reset, still unmapped here */
	*line = 0;
	bad = copy_page(self, DMABUF_IOVA, bar_offset(0), &first);
	EXPECT_EQ(SZ_4K / 4, bad);
	EXPECT_TRUE(iommu_fault_logged(self->kmsg, dma_bdf, DMABUF_IOVA, line,
				       sizeof(line)));
	printf("# after the restore: %u of 1024 u32 from the BAR\n",
	       SZ_4K / 4 - bad);
	printf("# the IOMMU: %s\n", *line ? line : "no fault logged");
	ASSERT_TRUE(kmsg_line("phyr-expect-iommu-fault-end: %s\n", dma_bdf));

	ASSERT_EQ(0, unmap_iova(self->iommu, DMABUF_IOVA, self->len));
	ASSERT_EQ(0, map_file(self->iommu, self->dmabuf, self->len,
			      DMABUF_IOVA));
	EXPECT_EQ(0, copy_page(self, DMABUF_IOVA + last, bar_offset(last),
			       &first));
	printf("# mapped again after the restore: the device reads the BAR again\n");
	ASSERT_EQ(0, unmap_iova(self->iommu, DMABUF_IOVA, self->len));
}

/* A hex number from /sys/bus/pci/devices/@bdf/@attr, 0 if unreadable */
static unsigned long sysfs_hex(const char *bdf, const char *attr)
{
	unsigned long v = 0;
	char path[512], buf[32];
	FILE *f;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/%s", bdf, attr);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (fgets(buf, sizeof(buf), f))
		v = strtoul(buf, NULL, 16);
	fclose(f);
	return v;
}

/* The BDF of the first PCI device @vendor:@device, or "" */
static void find_pci(unsigned int vendor, unsigned int device, char *bdf,
		     size_t len)
{
	struct dirent *de;
	DIR *dir;

	*bdf = 0;
	dir = opendir("/sys/bus/pci/devices");
	if (!dir)
		return;
	while ((de = readdir(dir))) {
		if (de->d_name[0] == '.')
			continue;
		if (sysfs_hex(de->d_name, "vendor") == vendor &&
		    sysfs_hex(de->d_name, "device") == device) {
			snprintf(bdf, len, "%s", de->d_name);
			break;
		}
	}
	closedir(dir);
}

#define TEST_EXPORTER	"/sys/kernel/debug/dma_buf_phyr_importer/export"
#define NVME_VENDOR	0x1b36
#define NVME_DEVICE	0x0010
#define NVME_CMB_BAR	2

/*
 * A dma-buf whose phyr has two P2P providers: two pages of the ivshmem BAR
 * and two of the NVMe controller's memory buffer (the CMB the nvme driver
 * publishes), exported by the series' test exporter. Both map into the
 * IOAS at consecutive IOVAs and both work: the device reads the ivshmem
 * pattern from the first, writes a pattern of its own into the second
 * through the IOMMU and reads it back.
 */
/* BEHAVIOURS: I4 */
TEST_F(iommufd_dmabuf, two_providers)
{
	iova_t src_iova = self->ram.iova + SZ_256K, dst_iova;
	u8 *src = (u8 *)self->ram.vaddr + SZ_256K;
	char nvme[64], cmd[256], buf[64];
	unsigned int i, bad = 0, cmb_bad = 0, bar_bad = 0;
	void *cmb, *bar2;
	u32 first;
	u32 *v;
	int ctl, n, fd = -1;
	u8 *dst;

	find_pci(NVME_VENDOR, NVME_DEVICE, nvme, sizeof(nvme));
	if (!*nvme)
		SKIP(return, "no NVMe controller %04x:%04x", NVME_VENDOR,
		     NVME_DEVICE);
	ctl = open(TEST_EXPORTER, O_RDWR);
	if (ctl < 0)
		SKIP(return, "no %s (CONFIG_DMABUF_PHYR_TEST_IMPORTER)",
		     TEST_EXPORTER);
	snprintf(cmd, sizeof(cmd), "%s %d %#x %#x %s %d 0 %#x", bar_bdf,
		 BAR_REGION, SZ_1M, SZ_8K, nvme, NVME_CMB_BAR, SZ_8K);
	ASSERT_EQ((ssize_t)strlen(cmd), write(ctl, cmd, strlen(cmd)))
		TH_LOG("export %s: %s", cmd, strerror(errno));
	ASSERT_LT(0, pread(ctl, buf, sizeof(buf) - 1, 0));
	n = sscanf(buf, "fd %d", &fd);
	ASSERT_EQ(1, n);
	printf("# test exporter: %s -> dma-buf fd %d\n", cmd, fd);

	{
		struct iommu_ioas_map_file map = {
			.size = sizeof(map),
			.flags = IOMMU_IOAS_MAP_FIXED_IOVA |
				 IOMMU_IOAS_MAP_READABLE |
				 IOMMU_IOAS_MAP_WRITEABLE,
			.ioas_id = self->iommu->ioas_id,
			.fd = fd,
			.length = 4 * SZ_4K,
			.iova = DMABUF_IOVA,
		};

		ASSERT_EQ(0, ioctl(self->iommu->iommufd, IOMMU_IOAS_MAP_FILE,
				   &map)) TH_LOG("IOMMU_IOAS_MAP_FILE: %s",
						 strerror(errno));
	}

	/* The ivshmem pages */
	for (i = 0; i < 2; i++)
		bad += copy_page(self, DMABUF_IOVA + i * SZ_4K,
				 SZ_1M + i * SZ_4K, &first);
	EXPECT_EQ(0, bad);

	/* The CMB pages: write a pattern through the IOMMU, read it back */
	for (i = 0; i < SZ_4K / 4; i++)
		((u32 *)src)[i] = pattern(SZ_16M + i * 4);
	for (i = 2; i < 4; i++) {
		ASSERT_EQ(0, vfio_pci_driver_memcpy(self->device, src_iova,
						    DMABUF_IOVA + i * SZ_4K,
						    SZ_4K));
		bad += copy_page(self, DMABUF_IOVA + i * SZ_4K, SZ_16M,
				 &first);
	}
	EXPECT_EQ(0, bad);

	/*
	 * Read back through the IOAS proves the IOVAs are writable memory,
	 * not that they are the CMB: read the CMB through the CPU as well
	 * (sysfs resource mmap()), and the ivshmem bytes after its range,
	 * where a mapping that ran on past the first provider would land.
	 */
	snprintf(cmd, sizeof(cmd), "/sys/bus/pci/devices/%s/resource%d", nvme,
		 NVME_CMB_BAR);
	n = open(cmd, O_RDONLY);
	ASSERT_LE(0, n) TH_LOG("%s: %s", cmd, strerror(errno));
	cmb = mmap(NULL, SZ_8K, PROT_READ, MAP_SHARED, n, 0);
	close(n);
	ASSERT_NE(MAP_FAILED, cmb) TH_LOG("mmap %s: %s", cmd, strerror(errno));
	for (i = 0; i < SZ_8K / 4; i++)
		if (readl(cmb + i * 4) != pattern(SZ_16M + (i % (SZ_4K / 4)) * 4))
			cmb_bad++;
	munmap(cmb, SZ_8K);
	EXPECT_EQ(0, cmb_bad);
	bar2 = self->bar->bars[BAR_REGION].vaddr;
	for (i = 0; i < SZ_8K / 4; i++)
		if (readl(bar2 + SZ_1M + SZ_8K + i * 4) !=
		    pattern(SZ_1M + SZ_8K + i * 4))
			bar_bad++;
	EXPECT_EQ(0, bar_bad);

	dst = dst_page(self, &dst_iova);
	v = (u32 *)dst;
	printf("# two providers: ivshmem BAR 2 + %#x, %s BAR %d (CMB)\n",
	       SZ_1M, nvme, NVME_CMB_BAR);
	printf("# 4 pages: %u u32 differ; the CMB read back %08x\n", bad,
	       v[0]);
	printf("# through the CPU: the CMB holds what the device wrote (%u u32 differ),\n",
	       cmb_bad);
	printf("# the ivshmem bytes after its range are untouched (%u differ)\n",
	       bar_bad);

	ASSERT_EQ(0, unmap_iova(self->iommu, DMABUF_IOVA, 4 * SZ_4K));
	close(fd);
	close(ctl);
}

int main(int argc, char *argv[])
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s DMA_BDF BAR_BDF [harness options]\n",
			argv[0]);
		return KSFT_SKIP;
	}
	dma_bdf = argv[1];
	bar_bdf = argv[2];
	argv[2] = argv[0];
	return test_harness_run(argc - 2, argv + 2);
}
