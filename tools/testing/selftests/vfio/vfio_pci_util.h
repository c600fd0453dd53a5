/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the vfio selftests share: find the rig's ivshmem (or any PCI device),
 * bind it to vfio-pci and open it with the legacy group/container API,
 * optionally associated with a KVM VM (the KVM-VFIO device); its config
 * space; the BAR export as a dma-buf (VFIO_DEVICE_FEATURE_DMA_BUF); the
 * dma-buf's fdinfo and bufinfo; the TDISP test hook; kmemleak.
 *
 * A program defines NOTE_PREFIX (a string) before including this file to
 * tag its note() lines ("# NOTE_PREFIXtext"); needs root, sysfs, debugfs.
 */
#ifndef VFIO_PCI_UTIL_H
#define VFIO_PCI_UTIL_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#ifndef __EXPORTED_HEADERS__
#define __EXPORTED_HEADERS__
#endif

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include <linux/kvm.h>
#include <linux/pci_regs.h>
#include <linux/udmabuf.h>
#include <linux/vfio.h>

#include "../kselftest_harness.h"

#ifndef VFIO_DEVICE_FEATURE_DMA_BUF
/* A uAPI header older than the export: the same layout. */
#define VFIO_DEVICE_FEATURE_DMA_BUF 11

struct vfio_region_dma_range {
	__u64 offset;
	__u64 length;
};

struct vfio_device_feature_dma_buf {
	__u32 region_index;
	__u32 open_flags;
	__u32 flags;
	__u32 nr_ranges;
	struct vfio_region_dma_range dma_ranges[];
};
#endif

#define IVSHMEM_VENDOR	0x1af4
#define IVSHMEM_DEVICE	0x1110
#define PATTERN_MUL	2654435761u
#define PATTERN_XOR	0x50485952u
#define NR_REGIONS	(VFIO_PCI_VGA_REGION_INDEX + 1)

#define PCI_DEVICES	"/sys/bus/pci/devices"
#define VFIO_PCI_DRIVER	"/sys/bus/pci/drivers/vfio-pci"
#define BUFINFO		"/sys/kernel/debug/dma_buf/bufinfo"
#define NO_EXPORT	"VFIO_DEVICE_FEATURE_DMA_BUF probe: ENOTTY, " \
			"this kernel's vfio-pci has no dma-buf export"
#define KMEMLEAK	"/sys/kernel/debug/kmemleak"
#define NO_TDISP "no <debugfs>/vfio/<device>/tdisp_state (CONFIG_VFIO_PCI_TDISP_TEST)"

#ifndef NOTE_PREFIX
#define NOTE_PREFIX ""
#endif

/* vdev_open(): the environment lacks something, d->err says what. */
#define VDEV_SKIP	1

static size_t page_size;

static uint32_t pattern(uint64_t off)
{
	return (uint32_t)(off / 4) * PATTERN_MUL ^ PATTERN_XOR;
}

/* What the kernel reported, for the log and tools/testing/phyr/report.sh. */
static void note(const char *fmt, ...)
{
	va_list ap;

	printf("# " NOTE_PREFIX);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fflush(stdout);
}

/* ---- sysfs: find the device, bind it to vfio-pci ---- */

static int sysfs_read(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n > 0 ? n : 0] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

static int sysfs_write(const char *path, const char *val)
{
	ssize_t n;
	int fd;

	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	close(fd);
	return n == (ssize_t)strlen(val) ? 0 : n < 0 ? -errno : -EIO;
}

static unsigned long sysfs_hex(const char *bdf, const char *attr)
{
	char path[PATH_MAX], buf[32];

	snprintf(path, sizeof(path), PCI_DEVICES "/%s/%s", bdf, attr);
	return sysfs_read(path, buf, sizeof(buf)) ? ~0ul : strtoul(buf, NULL, 16);
}

/* The first PCI device vendor:device, or the one VFIO_PCI_DMABUF_BDF names. */
static int find_device(unsigned int vendor, unsigned int device, char *bdf,
		       size_t len)
{
	const char *env = getenv("VFIO_PCI_DMABUF_BDF");
	struct dirent *de;
	DIR *dir;

	if (env && *env && vendor == IVSHMEM_VENDOR && device == IVSHMEM_DEVICE) {
		snprintf(bdf, len, "%s", env);
		return 0;
	}
	dir = opendir(PCI_DEVICES);
	if (!dir)
		return -errno;
	while ((de = readdir(dir))) {
		if (de->d_name[0] == '.')
			continue;
		if (sysfs_hex(de->d_name, "vendor") == vendor &&
		    sysfs_hex(de->d_name, "device") == device) {
			snprintf(bdf, len, "%s", de->d_name);
			closedir(dir);
			return 0;
		}
	}
	closedir(dir);
	return -ENODEV;
}

/* The basename of the symlink PCI_DEVICES/bdf/attr, or "" */
static const char *sysfs_link(const char *bdf, const char *attr, char *buf,
			      size_t len)
{
	char path[PATH_MAX];
	ssize_t n;

	snprintf(path, sizeof(path), PCI_DEVICES "/%s/%s", bdf, attr);
	n = readlink(path, buf, len - 1);
	buf[n > 0 ? n : 0] = '\0';
	return strrchr(buf, '/') ? strrchr(buf, '/') + 1 : buf;
}

struct vdev {
	char bdf[NAME_MAX + 1];
	int group_id;
	int container;
	int group;
	int device;
	int kvm;
	int vm;
	int kvm_vfio;
	struct vfio_device_info info;
	struct vfio_region_info regions[NR_REGIONS];
	unsigned int bar;	/* the largest BAR */
	__u64 bar_size;
	char err[256];
};

static int vdev_fail(struct vdev *d, int ret, const char *fmt, ...)
{
	va_list ap;
	int len;

	va_start(ap, fmt);
	len = vsnprintf(d->err, sizeof(d->err), fmt, ap);
	va_end(ap);
	if (ret < 0 && len >= 0 && (size_t)len < sizeof(d->err))
		snprintf(d->err + len, sizeof(d->err) - len, ": %s",
			 strerror(-ret));
	return ret;
}

/* Bind @d->bdf to vfio-pci, unbinding it from any other driver first. */
static int vdev_bind(struct vdev *d)
{
	char path[PATH_MAX], link[PATH_MAX];
	const char *drv;
	int ret;

	drv = sysfs_link(d->bdf, "driver", link, sizeof(link));
	if (!strcmp(drv, "vfio-pci"))
		return 0;
	if (access(VFIO_PCI_DRIVER, F_OK))
		return vdev_fail(d, VDEV_SKIP, "no vfio-pci driver (CONFIG_VFIO_PCI)");
	if (*drv) {
		snprintf(path, sizeof(path), PCI_DEVICES "/%s/driver/unbind",
			 d->bdf);
		ret = sysfs_write(path, d->bdf);
		if (ret)
			return vdev_fail(d, ret, "unbind %s from %s", d->bdf, drv);
	}
	snprintf(path, sizeof(path), PCI_DEVICES "/%s/driver_override", d->bdf);
	ret = sysfs_write(path, "vfio-pci");
	if (ret)
		return vdev_fail(d, ret, "write %s", path);
	ret = sysfs_write("/sys/bus/pci/drivers_probe", d->bdf);
	if (ret)
		return vdev_fail(d, ret, "drivers_probe %s", d->bdf);
	drv = sysfs_link(d->bdf, "driver", link, sizeof(link));
	if (strcmp(drv, "vfio-pci"))
		return vdev_fail(d, -ENXIO, "%s bound to \"%s\", not vfio-pci",
				 d->bdf, drv);
	note("bound %s (%04lx:%04lx) to vfio-pci\n", d->bdf,
	     sysfs_hex(d->bdf, "vendor"), sysfs_hex(d->bdf, "device"));
	return 0;
}

/* Associate the group with a new KVM VM: the KVM-VFIO device. */
static int vdev_kvm(struct vdev *d)
{
	struct kvm_create_device cd = { .type = KVM_DEV_TYPE_VFIO };
	struct kvm_device_attr attr = {
		.group = KVM_DEV_VFIO_FILE,
		.attr = KVM_DEV_VFIO_FILE_ADD,
	};

	d->kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (d->kvm < 0)
		return vdev_fail(d, errno == ENOENT ? VDEV_SKIP : -errno,
				 "no /dev/kvm (CONFIG_KVM_AMD, an SVM CPU)");
	d->vm = ioctl(d->kvm, KVM_CREATE_VM, 0);
	if (d->vm < 0)
		return vdev_fail(d, -errno, "KVM_CREATE_VM");
	if (ioctl(d->vm, KVM_CREATE_DEVICE, &cd))
		return vdev_fail(d, -errno, "KVM_CREATE_DEVICE KVM_DEV_TYPE_VFIO");
	d->kvm_vfio = cd.fd;
	attr.addr = (__u64)(uintptr_t)&d->group;
	if (ioctl(d->kvm_vfio, KVM_SET_DEVICE_ATTR, &attr))
		return vdev_fail(d, -errno, "KVM_DEV_VFIO_FILE_ADD");
	note("group %d associated with a KVM VM (KVM-VFIO device)\n",
	     d->group_id);
	return 0;
}

/* Region info of the BARs, config space and VGA; the largest BAR. */
static int vdev_regions(struct vdev *d)
{
	unsigned int i;

	d->bar_size = 0;
	for (i = 0; i < NR_REGIONS && i < d->info.num_regions; i++) {
		struct vfio_region_info *r = &d->regions[i];

		memset(r, 0, sizeof(*r));
		r->argsz = sizeof(*r);
		r->index = i;
		if (ioctl(d->device, VFIO_DEVICE_GET_REGION_INFO, r)) {
			/* No VGA region on a device that is not VGA. */
			if (i == VFIO_PCI_VGA_REGION_INDEX && errno == EINVAL) {
				r->size = 0;
				continue;
			}
			return vdev_fail(d, -errno, "VFIO_DEVICE_GET_REGION_INFO %u", i);
		}
		if (i <= VFIO_PCI_BAR5_REGION_INDEX && r->size > d->bar_size) {
			d->bar = i;
			d->bar_size = r->size;
		}
	}
	if (!d->bar_size)
		return vdev_fail(d, VDEV_SKIP, "%s has no BAR", d->bdf);
	return 0;
}

static int vdev_get_device(struct vdev *d)
{
	d->device = ioctl(d->group, VFIO_GROUP_GET_DEVICE_FD, d->bdf);
	if (d->device < 0)
		return vdev_fail(d, -errno, "VFIO_GROUP_GET_DEVICE_FD %s", d->bdf);
	d->info.argsz = sizeof(d->info);
	if (ioctl(d->device, VFIO_DEVICE_GET_INFO, &d->info))
		return vdev_fail(d, -errno, "VFIO_DEVICE_GET_INFO");
	if (!(d->info.flags & VFIO_DEVICE_FLAGS_PCI) ||
	    d->info.num_regions <= VFIO_PCI_CONFIG_REGION_INDEX)
		return vdev_fail(d, -EINVAL, "not a vfio-pci device");
	return vdev_regions(d);
}

static void vdev_close(struct vdev *d)
{
	int *fds[] = { &d->device, &d->kvm_vfio, &d->vm, &d->kvm, &d->group,
		       &d->container };
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(fds); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
}

/*
 * Open the device vendor:device through vfio (bound to vfio-pci first),
 * associated with a KVM VM if @with_kvm. 0, VDEV_SKIP when the machine
 * lacks something, or -errno; d->err says which step failed.
 */
static int vdev_open(struct vdev *d, unsigned int vendor, unsigned int device,
		     bool with_kvm)
{
	struct vfio_group_status status = { .argsz = sizeof(status) };
	char path[64], link[PATH_MAX];
	const char *group;
	int ret;

	memset(d, 0, sizeof(*d));
	d->container = -1;
	d->group = -1;
	d->device = -1;
	d->kvm = -1;
	d->vm = -1;
	d->kvm_vfio = -1;
	if (find_device(vendor, device, d->bdf, sizeof(d->bdf)))
		return vdev_fail(d, VDEV_SKIP, "no PCI device %04x:%04x",
				 vendor, device);
	ret = vdev_bind(d);
	if (ret)
		return ret;
	group = sysfs_link(d->bdf, "iommu_group", link, sizeof(link));
	if (!*group)
		return vdev_fail(d, VDEV_SKIP, "%s is in no IOMMU group", d->bdf);
	d->group_id = atoi(group);

	d->container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	if (d->container < 0)
		return vdev_fail(d, errno == ENOENT ? VDEV_SKIP : -errno,
				 "/dev/vfio/vfio (CONFIG_VFIO_CONTAINER)");
	if (ioctl(d->container, VFIO_GET_API_VERSION) != VFIO_API_VERSION)
		return vdev_fail(d, -EINVAL, "VFIO_GET_API_VERSION");
	if (ioctl(d->container, VFIO_CHECK_EXTENSION, VFIO_TYPE1_IOMMU) != 1)
		return vdev_fail(d, VDEV_SKIP, "no VFIO_TYPE1_IOMMU (CONFIG_VFIO_IOMMU_TYPE1)");
	snprintf(path, sizeof(path), "/dev/vfio/%d", d->group_id);
	d->group = open(path, O_RDWR | O_CLOEXEC);
	if (d->group < 0)
		return vdev_fail(d, -errno, "open %s", path);
	if (ioctl(d->group, VFIO_GROUP_GET_STATUS, &status))
		return vdev_fail(d, -errno, "VFIO_GROUP_GET_STATUS");
	if (!(status.flags & VFIO_GROUP_FLAGS_VIABLE))
		return vdev_fail(d, -EBUSY, "group %d is not viable (a device of it has a driver)",
				 d->group_id);
	if (ioctl(d->group, VFIO_GROUP_SET_CONTAINER, &d->container))
		return vdev_fail(d, -errno, "VFIO_GROUP_SET_CONTAINER");
	if (ioctl(d->container, VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU))
		return vdev_fail(d, -errno, "VFIO_SET_IOMMU VFIO_TYPE1_IOMMU");
	if (with_kvm) {
		ret = vdev_kvm(d);
		if (ret)
			return ret;
	}
	return vdev_get_device(d);
}

/* ---- config space, through the vfio config region ---- */

static int cfg_read(struct vdev *d, unsigned int off, void *val, size_t len)
{
	__u64 base = d->regions[VFIO_PCI_CONFIG_REGION_INDEX].offset;
	ssize_t n = pread(d->device, val, len, base + off);

	return n == (ssize_t)len ? 0 : n < 0 ? -errno : -EIO;
}

static int cfg_write(struct vdev *d, unsigned int off, const void *val,
		     size_t len)
{
	__u64 base = d->regions[VFIO_PCI_CONFIG_REGION_INDEX].offset;
	ssize_t n = pwrite(d->device, val, len, base + off);

	return n == (ssize_t)len ? 0 : n < 0 ? -errno : -EIO;
}

static uint16_t cfg_read16(struct vdev *d, unsigned int off)
{
	uint16_t v = 0xffff;

	cfg_read(d, off, &v, sizeof(v));
	return v;
}

/* Set or clear PCI_COMMAND_MEMORY, as a guest driver would. */
static int set_memory(struct vdev *d, bool on)
{
	uint16_t cmd;
	int ret;

	ret = cfg_read(d, PCI_COMMAND, &cmd, sizeof(cmd));
	if (ret)
		return ret;
	cmd = on ? cmd | PCI_COMMAND_MEMORY : cmd & ~PCI_COMMAND_MEMORY;
	return cfg_write(d, PCI_COMMAND, &cmd, sizeof(cmd));
}

/* ---- the export ---- */

/* A VFIO_DEVICE_FEATURE request of @nr ranges, zeroed; free() it. */
static struct vfio_device_feature *req_alloc(__u32 nr, size_t *size)
{
	struct vfio_device_feature *f;

	*size = sizeof(*f) + sizeof(struct vfio_device_feature_dma_buf) +
		(size_t)nr * sizeof(struct vfio_region_dma_range);
	f = calloc(1, *size);
	if (f) {
		f->argsz = *size;
		f->flags = VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_DMA_BUF;
	}
	return f;
}

static struct vfio_device_feature_dma_buf *req_db(struct vfio_device_feature *f)
{
	return (struct vfio_device_feature_dma_buf *)f->data;
}

/* The ioctl's return value, or -errno. */
static int feature(int device, void *arg)
{
	int ret = ioctl(device, VFIO_DEVICE_FEATURE, arg);

	return ret < 0 ? -errno : ret;
}

static int dmabuf_probe(int device)
{
	struct vfio_device_feature f = {
		.argsz = sizeof(f),
		.flags = VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_GET |
			 VFIO_DEVICE_FEATURE_DMA_BUF,
	};

	return feature(device, &f);
}

/* Export @nr ranges of @region: the new fd, or -errno. */
static int export(int device, __u32 region, const struct vfio_region_dma_range *r,
		  __u32 nr, __u32 open_flags)
{
	struct vfio_device_feature *f;
	size_t size;
	int ret;

	f = req_alloc(nr, &size);
	if (!f)
		return -ENOMEM;
	req_db(f)->region_index = region;
	req_db(f)->open_flags = open_flags;
	req_db(f)->nr_ranges = nr;
	memcpy(req_db(f)->dma_ranges, r, nr * sizeof(*r));
	ret = feature(device, f);
	free(f);
	return ret;
}

/* One range [@off, @off + @len) of the device's largest BAR. */
static int export_one(struct vdev *d, __u64 off, __u64 len)
{
	struct vfio_region_dma_range r = { .offset = off, .length = len };

	return export(d->device, d->bar, &r, 1, O_CLOEXEC | O_RDWR);
}

/* The value of "key:\t..." in the fdinfo of @fd, without the newline. */
static int fdinfo_get(int fd, const char *key, char *val, size_t len)
{
	char path[64], line[256];
	size_t klen = strlen(key);
	int ret = -ENOENT;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, key, klen) || line[klen] != ':')
			continue;
		line[strcspn(line, "\n")] = '\0';
		snprintf(val, len, "%s", line + klen + 1 + strspn(line + klen + 1, "\t "));
		ret = 0;
		break;
	}
	fclose(f);
	return ret;
}

static void note_fdinfo(const char *tag, int fd)
{
	char path[64], line[256];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		/* pos, flags, mnt_id, ino: of the file, not the buffer */
		if (strchr(line, ':') && strncmp(line, "pos:", 4) &&
		    strncmp(line, "mnt_id:", 7) && strncmp(line, "ino:", 4))
			note("%s: fdinfo: %s\n", tag, line);
	}
	fclose(f);
}

static bool fdinfo_is(int fd, const char *key, const char *want)
{
	char val[128];

	return !fdinfo_get(fd, key, val, sizeof(val)) && !strcmp(val, want);
}

/* Open file descriptors of this process, and vfio_pci dma-bufs alive. */
static int count_fds(void)
{
	struct dirent *de;
	int n = 0;
	DIR *dir;

	dir = opendir("/proc/self/fd");
	if (!dir)
		return -1;
	while ((de = readdir(dir)))
		n += de->d_name[0] != '.';
	closedir(dir);
	return n - 1;	/* the directory's own fd */
}

static int lowest_free_fd(void)
{
	int fd = dup(0);

	if (fd >= 0)
		close(fd);
	return fd;
}

/*
 * The dma-bufs in bufinfo (the lines that start with the size) whose
 * exporter is @exp, or all of them for NULL.
 */
static int count_bufinfo(const char *exp)
{
	char line[512], key[64];
	int n = 0;
	FILE *f;

	f = fopen(BUFINFO, "r");
	if (!f)
		return -1;
	snprintf(key, sizeof(key), "\t%s\t", exp ?: "");
	while (fgets(line, sizeof(line), f))
		n += line[0] >= '0' && line[0] <= '9' &&
		     (!exp || strstr(line, key));
	fclose(f);
	return n;
}

/* exp_name: vfio_pci, or the module's name if the export keeps it */
static int count_vfio_dmabufs(void)
{
	int a = count_bufinfo("vfio_pci"), b = count_bufinfo("vfio_pci_core");

	return a < 0 || b < 0 ? -1 : a + b;
}

static int count_dmabufs(void)
{
	return count_bufinfo(NULL);
}

/* Attachments of every dma-buf: the sum of bufinfo's per-buffer totals. */
static int count_attachments(void)
{
	char line[512];
	int n = 0, k;
	FILE *f;

	f = fopen(BUFINFO, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Total %d devices attached", &k) == 1)
			n += k;
	fclose(f);
	return n;
}

/*
 * vfio-pci dma-bufs in bufinfo reach @want within a second: the count.
 * Inline: not every program waits.
 */
static inline int wait_vfio_dmabufs(int want)
{
	int i, n = count_vfio_dmabufs();

	for (i = 0; i < 100 && n != want; i++) {
		usleep(10000);
		n = count_vfio_dmabufs();
	}
	return n;
}

/*
 * Open vendor:device (vdev_open(), no VM), check that its vfio-pci exports
 * dma-bufs and enable its memory: 0, VDEV_SKIP (an older kernel, a
 * missing device...) or -errno; d->err says which step failed.
 */
static int vdev_open_exporting(struct vdev *d, unsigned int vendor,
			       unsigned int device)
{
	int ret = vdev_open(d, vendor, device, false);

	if (ret)
		return ret;
	ret = dmabuf_probe(d->device);
	if (ret == -ENOTTY)
		return vdev_fail(d, VDEV_SKIP, "%s", NO_EXPORT);
	if (ret)
		return vdev_fail(d, ret, "VFIO_DEVICE_FEATURE PROBE|GET|DMA_BUF");
	ret = set_memory(d, true);
	return ret ? vdev_fail(d, ret, "memory enable on %s", d->bdf) : 0;
}

static int tdisp_set(struct vdev *d, const char *state)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "/sys/kernel/debug/vfio/%s/tdisp_state",
		 d->bdf);
	return sysfs_write(path, state);
}

/*
 * BEHAVIOURS: R1 - kmemleak finds nothing: two scans (an object is
 * reported once it was unreferenced twice), then the report must be empty.
 * Skips without CONFIG_DEBUG_KMEMLEAK.
 */
static void expect_no_leaks(struct __test_metadata *_metadata)
{
	char buf[256];
	ssize_t n;
	int fd;

	fd = open(KMEMLEAK, O_RDWR);
	if (fd < 0)
		SKIP(return, KMEMLEAK ": %s (CONFIG_DEBUG_KMEMLEAK)",
		     strerror(errno));
	ASSERT_EQ(5, write(fd, "scan\n", 5)) TH_LOG("scan: %s", strerror(errno));
	sleep(1);
	ASSERT_EQ(5, write(fd, "scan\n", 5)) TH_LOG("scan: %s", strerror(errno));
	close(fd);
	fd = open(KMEMLEAK, O_RDONLY);
	ASSERT_LE(0, fd);
	n = read(fd, buf, sizeof(buf) - 1);
	ASSERT_LE(0, n);
	buf[n > 0 ? n : 0] = '\0';
	EXPECT_EQ(0, n) TH_LOG("kmemleak reports a leak:\n%s", buf);
	close(fd);
}

/*
 * A udmabuf of @len bytes (not revocable) over a new sealed memfd, returned
 * in @memfd: the dma-buf's fd or -errno. Inline: not every program uses it.
 */
static inline int udmabuf_new(size_t len, int *memfd)
{
	struct udmabuf_create c = { .flags = UDMABUF_FLAGS_CLOEXEC, .size = len };
	int dev, fd;

	*memfd = memfd_create("vfio-selftest", MFD_ALLOW_SEALING);
	if (*memfd < 0)
		return -errno;
	if (ftruncate(*memfd, len) || fcntl(*memfd, F_ADD_SEALS, F_SEAL_SHRINK))
		return -errno;
	dev = open("/dev/udmabuf", O_RDWR);
	if (dev < 0)
		return -errno;
	c.memfd = *memfd;
	fd = ioctl(dev, UDMABUF_CREATE, &c);
	fd = fd < 0 ? -errno : fd;
	close(dev);
	return fd;
}

/*
 * BEHAVIOURS: R5 - fault injection at every allocation of an operation in
 * turn, the way tools/testing/selftests/iommu/iommufd_fail_nth.c sweeps
 * iommufd's ioctls (and lib/phyr/phyr_rig_dma_kunit.c the builders and
 * DMA maps): the operation is run again and again with the calling
 * thread's n-th injection point made to fail (its /proc fail-nth,
 * Documentation/fault-injection/fault-injection.rst), n = 1, 2, ..., until
 * a run passes all its points. failslab and fail_page_alloc are set, as
 * iommufd_fail_nth.c sets them, to inject into allocations that may sleep
 * too, quietly. Each operation is swept twice:
 *
 * - "once": only the n-th point fails. What retries once absorbs it
 *   (kvrealloc(), kmemleak's pool): such a run must succeed like the
 *   others.
 * - "from n on": the n-th point and every later one of this thread fail
 *   (fail-nth, then the attributes' task filter with probability 100 and
 *   the thread's make-it-fail), so that the operation's own error path is
 *   reached behind any retry.
 *
 * A run that fails must fail with one of the operation's documented errors
 * and leave nothing behind: no fd, no dma-buf, no dma-buf attachment
 * (bufinfo), and what op->check() looks at; a run whose injected failure
 * was absorbed must succeed like the others. The program's no_leaks test runs kmemleak afterwards.
 */
#define FAIL_NTH_MAX	2000

struct fail_nth_op {
	const char *name;
	int (*run)(void *ctx);		/* 0 or -errno */
	void (*undo)(void *ctx);	/* after a run that succeeded */
	/* After a run that failed: what it must not have left; true if so. */
	bool (*check)(void *ctx, char *why, size_t len);
	int errnos[3];			/* the documented errors */
	bool allocates_nothing;		/* documented: no injection point */
};

struct fail_nth_attr {
	const char *name;
	const char *set;	/* for the sweeps */
	const char *reset;	/* the boot's default */
};

/*
 * In the order they are written: the task filter before the probability,
 * so that there is never a moment where every task's allocations fail;
 * undone in reverse.
 */
static const struct fail_nth_attr fail_nth_attrs[] = {
	{ "verbose", "0", "2" },
	{ "ignore-gfp-wait", "N", "Y" },
	{ "ignore-gfp-highmem", "N", "Y" },	/* fail_page_alloc only */
	{ "task-filter", "Y", "N" },
	{ "interval", "1", "1" },
	{ "times", "-1", "1" },
	{ "probability", "100", "0" },
};

/* Set (or reset) failslab and fail_page_alloc: 0, or -errno. */
static int fail_nth_setup(bool set)
{
	static const char * const dirs[] = { "failslab", "fail_page_alloc" };
	unsigned int d, i, n = ARRAY_SIZE(fail_nth_attrs);
	char path[PATH_MAX];
	int ret;

	for (d = 0; d < ARRAY_SIZE(dirs); d++) {
		for (i = 0; i < n; i++) {
			const struct fail_nth_attr *a =
				&fail_nth_attrs[set ? i : n - 1 - i];

			snprintf(path, sizeof(path), "/sys/kernel/debug/%s/%s",
				 dirs[d], a->name);
			ret = sysfs_write(path, set ? a->set : a->reset);
			/* failslab has no ignore-gfp-highmem. */
			if (ret && !(ret == -ENOENT && !d &&
				     !strcmp(a->name, "ignore-gfp-highmem")))
				return ret;
		}
	}
	return 0;
}

static bool fail_nth_documented(const struct fail_nth_op *op, int ret)
{
	unsigned int i;

	for (i = 0; i < 3 && op->errnos[i]; i++)
		if (ret == op->errnos[i])
			return true;
	return false;
}

static int fail_nth_write(int fd, unsigned int val)
{
	char buf[16];
	int len = snprintf(buf, sizeof(buf), "%u", val);

	return pwrite(fd, buf, len, 0) == len ? 0 : -errno;
}

static void fail_nth_sweep_mode(struct __test_metadata *_metadata,
				const struct fail_nth_op *op, void *ctx,
				int nth, int mif, bool from_n_on)
{
	unsigned int n, failed = 0, absorbed = 0, points;
	int ret = 0, fds, bufs, atts;
	bool fired = false;
	char val[16], why[256];
	ssize_t len;

	for (n = 1; n <= FAIL_NTH_MAX; n++) {
		fds = count_fds();
		bufs = count_dmabufs();
		atts = count_attachments();
		ASSERT_EQ(0, fail_nth_write(mif, from_n_on));
		ASSERT_EQ(0, fail_nth_write(nth, n));
		ret = op->run(ctx);
		/* Reached and failed: the count ran down to 0. */
		len = pread(nth, val, sizeof(val) - 1, 0);
		fired = len > 0 && val[0] == '0';
		ASSERT_EQ(0, fail_nth_write(mif, 0));
		ASSERT_EQ(0, fail_nth_write(nth, 0));
		if (!ret) {
			op->undo(ctx);
			if (!fired)
				break;
			absorbed++;
			continue;
		}
		failed++;
		EXPECT_TRUE(fired) TH_LOG("%s: %s with no failure injected (point %u)",
					  op->name, strerror(-ret), n);
		EXPECT_TRUE(fail_nth_documented(op, ret))
			TH_LOG("%s: point %u: %s, not a documented error",
			       op->name, n, strerror(-ret));
		EXPECT_EQ(fds, count_fds())
			TH_LOG("%s: point %u left an fd", op->name, n);
		EXPECT_EQ(bufs, count_dmabufs())
			TH_LOG("%s: point %u left a dma-buf", op->name, n);
		EXPECT_EQ(atts, count_attachments())
			TH_LOG("%s: point %u left an attachment", op->name, n);
		why[0] = '\0';
		EXPECT_TRUE(op->check(ctx, why, sizeof(why)))
			TH_LOG("%s: point %u left %s", op->name, n, why);
		if (!fired || _metadata->exit_code)
			break;
	}
	points = n - 1;
	EXPECT_EQ(0, ret) TH_LOG("%s: never succeeded", op->name);
	EXPECT_GE(FAIL_NTH_MAX, n) TH_LOG("%s: more than %u injection points",
					  op->name, FAIL_NTH_MAX);
	/*
	 * A sweep that injected nothing, or failed nothing, proves nothing;
	 * unless the operation is documented to allocate nothing, which the
	 * sweep then shows.
	 */
	if (op->allocates_nothing) {
		EXPECT_EQ(0, points) TH_LOG("%s: allocates", op->name);
	} else {
		EXPECT_LT(0, points)
			TH_LOG("%s: no injection point reached", op->name);
	}
	if (from_n_on)
		EXPECT_LT(0, failed)
			TH_LOG("%s: no run failed with every allocation from the n-th on failing",
			       op->name);
	note("fail-nth: %s: %s: %u injection points, %u failed (documented errno), %u absorbed%s\n",
	     op->name, from_n_on ? "from n on" : "once", points, failed,
	     absorbed, _metadata->exit_code ? "" : ", nothing left behind");
}

/*
 * A line in the kernel log, where the console prints it in order with the
 * kernel's own (tools/testing/phyr/scan-console.sh reads the windows such
 * lines open); 0 or -errno.
 */
static int kmsg_mark(const char *line)
{
	int fd = open("/dev/kmsg", O_WRONLY), ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, line, strlen(line)) != (ssize_t)strlen(line))
		ret = -errno;
	close(fd);
	return ret;
}

/*
 * Sweep @op in both modes; what it did goes to the log as
 * "# fail-nth: NAME: MODE: N injection points, ..." (the README's table).
 * Inline: not every program injects.
 */
static inline void fail_nth_sweep(struct __test_metadata *_metadata,
				  const struct fail_nth_op *op, void *ctx)
{
	int nth, mif, ret;

	ret = fail_nth_setup(true);
	if (ret)
		SKIP(return, "no <debugfs>/failslab, fail_page_alloc: %s",
		     strerror(-ret));
	nth = open("/proc/thread-self/fail-nth", O_RDWR);
	mif = open("/proc/thread-self/make-it-fail", O_RDWR);
	if (nth >= 0 && mif >= 0) {
		/* A failed vmalloc() without __GFP_NOWARN dumps its stack. */
		EXPECT_EQ(0, kmsg_mark("phyr-expect-alloc-failure: begin\n"));
		fail_nth_sweep_mode(_metadata, op, ctx, nth, mif, false);
		if (!_metadata->exit_code && !op->allocates_nothing)
			fail_nth_sweep_mode(_metadata, op, ctx, nth, mif, true);
		EXPECT_EQ(0, kmsg_mark("phyr-expect-alloc-failure: end\n"));
	}
	EXPECT_LE(0, nth) TH_LOG("fail-nth: %s", strerror(errno));
	EXPECT_LE(0, mif) TH_LOG("make-it-fail: %s", strerror(errno));
	if (nth >= 0)
		close(nth);
	if (mif >= 0)
		close(mif);
	EXPECT_EQ(0, fail_nth_setup(false));
}

#endif /* VFIO_PCI_UTIL_H */
