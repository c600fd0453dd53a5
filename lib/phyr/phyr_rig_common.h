/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the phyr KUnit suites of the project's QEMU rig
 * (phyr_rig_kunit.c, phyr_rig_dma_kunit.c): device lookup, phyrs and
 * P2PDMA memory that are released when the test ends, debugfs files.
 */
#ifndef _LIB_PHYR_RIG_COMMON_H
#define _LIB_PHYR_RIG_COMMON_H

#include <kunit/test.h>
#include <linux/pci.h>
#include <linux/phyr.h>
#include <linux/types.h>

#define PCI_VENDOR_ID_IVSHMEM	0x1af4
#define PCI_DEVICE_ID_IVSHMEM	0x1110
/* ivshmem-plain's shared memory BAR. */
#define PHYR_RIG_IVSHMEM_BAR	2

/* Lines starting with "phyr-rig: " are for tools/testing/phyr/report.sh. */
#define rig_info(test, fmt, ...) \
	kunit_info(test, "phyr-rig: " fmt, ##__VA_ARGS__)

struct pci_dev *phyr_rig_hold(struct kunit *test, struct pci_dev *pdev);
struct pci_dev *phyr_rig_find_ivshmem(struct kunit *test);
bool phyr_rig_has_p2pmem(struct pci_dev *pdev);
struct pci_dev *phyr_rig_get_nvme(struct kunit *test);
struct phyr *phyr_rig_phyr_alloc(struct kunit *test);
phys_addr_t phyr_rig_p2pmem_alloc(struct kunit *test, struct pci_dev *pdev,
				  size_t len, u32 (*word)(u64 bar_off, u64 off),
				  int *bar);

/**
 * struct phyr_rig_debugfs - a debugfs file opened from a KUnit test
 * @mnt: the debugfs mount it was opened on.
 * @file: the file.
 * @ubuf: a user page (kunit_vm_mmap()) for the file's ->read and ->write.
 */
struct phyr_rig_debugfs {
	struct vfsmount	*mnt;
	struct file	*file;
	unsigned long	ubuf;
};

struct phyr_rig_debugfs *phyr_rig_debugfs_open(struct kunit *test,
					       const char *path, int flags);
ssize_t phyr_rig_debugfs_write(struct phyr_rig_debugfs *f, const char *buf,
			       size_t len);
ssize_t phyr_rig_debugfs_read(struct phyr_rig_debugfs *f, char *buf,
			      size_t len);
int phyr_rig_debugfs_set(struct kunit *test, const char *path,
			 const char *val);

#endif /* _LIB_PHYR_RIG_COMMON_H */
