// SPDX-License-Identifier: GPL-2.0
/*
 * Helpers shared by the phyr KUnit suites of the project's QEMU rig
 * (phyr_rig_kunit.c, phyr_rig_dma_kunit.c). Everything a helper gets or
 * allocates is released by KUnit when the test ends.
 */

#include <kunit/test.h>
#include <kunit/visibility.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/io.h>
#include <linux/mman.h>
#include <linux/module.h>
#include <linux/mount.h>
#include <linux/pci.h>
#include <linux/pci-p2pdma.h>
#include <linux/phyr.h>
#include <linux/uaccess.h>

#include "phyr_rig_common.h"

KUNIT_DEFINE_ACTION_WRAPPER(rig_pci_dev_put, pci_dev_put, struct pci_dev *);
KUNIT_DEFINE_ACTION_WRAPPER(rig_phyr_free, phyr_free, struct phyr *);

/**
 * phyr_rig_hold - keep a device found by pci_get_*() until the test ends
 * @test: the test.
 * @pdev: the device, with the reference pci_get_*() took; may be NULL.
 *
 * Context: process context.
 * Return: @pdev, put when the test ends; NULL if @pdev is NULL or if the
 * put could not be deferred (@pdev is then put at once).
 */
struct pci_dev *phyr_rig_hold(struct kunit *test, struct pci_dev *pdev)
{
	if (pdev && kunit_add_action_or_reset(test, rig_pci_dev_put, pdev))
		return NULL;
	return pdev;
}
EXPORT_SYMBOL_IF_KUNIT(phyr_rig_hold);

/**
 * phyr_rig_find_ivshmem - the rig's ivshmem device, or skip the test
 * @test: the test.
 *
 * Context: process context.
 * Return: the ivshmem device (PCI 1af4:1110), put when the test ends. The
 * test is skipped when there is none.
 */
struct pci_dev *phyr_rig_find_ivshmem(struct kunit *test)
{
	struct pci_dev *pdev;

	pdev = phyr_rig_hold(test, pci_get_device(PCI_VENDOR_ID_IVSHMEM,
						  PCI_DEVICE_ID_IVSHMEM, NULL));
	if (!pdev)
		kunit_skip(test, "no ivshmem device (PCI 1af4:1110): not in the rig");
	return pdev;
}
EXPORT_SYMBOL_IF_KUNIT(phyr_rig_find_ivshmem);

/**
 * phyr_rig_has_p2pmem - does a device publish P2PDMA memory?
 * @pdev: the device.
 *
 * pci_has_p2pmem() is private to drivers/pci/p2pdma.c: allocate a page of
 * it and give it back.
 *
 * Context: process context.
 * Return: true if a page of @pdev's P2PDMA memory could be allocated.
 */
bool phyr_rig_has_p2pmem(struct pci_dev *pdev)
{
	void *p2pmem = pci_alloc_p2pmem(pdev, PAGE_SIZE);

	if (!p2pmem)
		return false;
	pci_free_p2pmem(pdev, p2pmem, PAGE_SIZE);
	return true;
}
EXPORT_SYMBOL_IF_KUNIT(phyr_rig_has_p2pmem);

/**
 * phyr_rig_get_nvme - the rig's NVMe controller with its CMB, or skip
 * @test: the test.
 *
 * Context: process context.
 * Return: the first NVMe controller, put when the test ends. The test is
 * skipped when there is none or when it publishes no P2PDMA memory.
 */
struct pci_dev *phyr_rig_get_nvme(struct kunit *test)
{
	struct pci_dev *pdev;

	pdev = phyr_rig_hold(test, pci_get_class(PCI_CLASS_STORAGE_EXPRESS,
						 NULL));
	if (!pdev)
		kunit_skip(test, "no NVMe controller (class 0x010802): not in the rig");
	if (!phyr_rig_has_p2pmem(pdev))
		kunit_skip(test, "NVMe %s has no P2PDMA memory: no CMB, or PCI_P2PDMA off",
			   pci_name(pdev));
	return pdev;
}
EXPORT_SYMBOL_IF_KUNIT(phyr_rig_get_nvme);

/**
 * phyr_rig_phyr_alloc - an empty phyr, freed when the test ends
 * @test: the test; it is aborted if the allocation fails.
 *
 * Context: process context.
 * Return: the phyr.
 */
struct phyr *phyr_rig_phyr_alloc(struct kunit *test)
{
	struct phyr *phyr = phyr_alloc(GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, phyr);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, rig_phyr_free,
							phyr), 0);
	return phyr;
}
EXPORT_SYMBOL_IF_KUNIT(phyr_rig_phyr_alloc);

/*
 * struct rig_p2pmem - P2PDMA memory allocated for a test
 * @pdev: the providing device.
 * @addr: kernel address returned by pci_alloc_p2pmem().
 * @len: length in bytes.
 */
struct rig_p2pmem {
	struct pci_dev	*pdev;
	void		*addr;
	size_t		len;
};

static void rig_p2pmem_free(void *data)
{
	struct rig_p2pmem *mem = data;

	pci_free_p2pmem(mem->pdev, mem->addr, mem->len);
}

/**
 * phyr_rig_p2pmem_alloc - P2PDMA memory of a device, filled, for a test
 * @test: the test; it is aborted if the memory cannot be had.
 * @pdev: the device providing P2PDMA memory.
 * @len: length in bytes, a multiple of 4.
 * @word: gives the u32 written at byte @off of the memory, which is byte
 *	@bar_off of the BAR holding it.
 * @bar: if not NULL, set to the index of the BAR holding the memory.
 *
 * Allocates @len bytes of @pdev's P2PDMA memory, freed when the test ends,
 * finds the BAR that holds them and fills them a whole word at a time
 * (P2PDMA pages are in the direct map, uncached, like ZONE_DEVICE).
 *
 * Context: process context.
 * Return: the CPU physical address of the memory.
 */
phys_addr_t phyr_rig_p2pmem_alloc(struct kunit *test, struct pci_dev *pdev,
				  size_t len, u32 (*word)(u64 bar_off, u64 off),
				  int *bar)
{
	struct rig_p2pmem *mem;
	phys_addr_t paddr;
	u64 bar_off;
	u32 *words;
	size_t i;
	int b;

	mem = kunit_kzalloc(test, sizeof(*mem), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, mem);
	mem->pdev = pdev;
	mem->len = len;
	mem->addr = pci_alloc_p2pmem(pdev, len);
	KUNIT_ASSERT_NOT_NULL_MSG(test, mem->addr,
				  "pci_alloc_p2pmem(%s, %zu)", pci_name(pdev),
				  len);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, rig_p2pmem_free,
							mem), 0);

	paddr = virt_to_phys(mem->addr);
	for (b = 0; b < PCI_STD_NUM_BARS; b++) {
		struct resource *res = pci_resource_n(pdev, b);

		if ((res->flags & IORESOURCE_MEM) && res->start <= paddr &&
		    paddr + len - 1 <= res->end)
			break;
	}
	KUNIT_ASSERT_LT_MSG(test, b, PCI_STD_NUM_BARS,
			    "P2PDMA memory at %pap is in no BAR of %s", &paddr,
			    pci_name(pdev));

	/* Write through the P2PDMA kernel address; tests read via ioremap(). */
	bar_off = paddr - pci_resource_start(pdev, b);
	words = mem->addr;
	for (i = 0; i < len / 4; i++)
		WRITE_ONCE(words[i], word(bar_off + 4 * i, 4 * i));
	if (bar)
		*bar = b;
	return paddr;
}
EXPORT_SYMBOL_IF_KUNIT(phyr_rig_p2pmem_alloc);

MODULE_DESCRIPTION("Helpers of the phyr KUnit suites of the QEMU rig");
MODULE_LICENSE("GPL");

static void phyr_rig_debugfs_release(void *data)
{
	struct phyr_rig_debugfs *f = data;

	fput(f->file);
	kern_unmount(f->mnt);
}

/**
 * phyr_rig_debugfs_open - open a debugfs file as userspace would
 * @test: the test; the file is closed when it ends.
 * @path: the path under the debugfs root, such as "kmemleak".
 * @flags: open flags (O_RDWR, ...).
 *
 * What "echo" and "cat" on /sys/kernel/debug do, for a KUnit boot that has
 * no userspace: kmemleak's scan, fault injection's attributes. Their
 * ->read and ->write take user buffers: the test gets a user page from
 * KUnit (kunit_vm_mmap()) for phyr_rig_debugfs_read() and
 * phyr_rig_debugfs_write().
 *
 * Context: process context, may sleep.
 * Return: the file, or an ERR_PTR(): -ENODEV without debugfs, -ENOMEM,
 * or the error of the open (-ENOENT for a file that is not there).
 */
struct phyr_rig_debugfs *phyr_rig_debugfs_open(struct kunit *test,
					       const char *path, int flags)
{
	struct file_system_type *type;
	struct phyr_rig_debugfs *f;
	int ret;

	f = kunit_kzalloc(test, sizeof(*f), GFP_KERNEL);
	if (!f)
		return ERR_PTR(-ENOMEM);
	f->ubuf = kunit_vm_mmap(test, NULL, 0, PAGE_SIZE,
				PROT_READ | PROT_WRITE,
				MAP_ANONYMOUS | MAP_PRIVATE, 0);
	if (!f->ubuf)
		return ERR_PTR(-ENOMEM);
	type = get_fs_type("debugfs");
	if (!type)
		return ERR_PTR(-ENODEV);
	f->mnt = kern_mount(type);
	module_put(type->owner);	/* put_filesystem(), not exported */
	if (IS_ERR(f->mnt))
		return ERR_CAST(f->mnt);
	f->file = file_open_root_mnt(f->mnt, path, flags, 0);
	if (IS_ERR(f->file)) {
		kern_unmount(f->mnt);
		return ERR_CAST(f->file);
	}
	ret = kunit_add_action_or_reset(test, phyr_rig_debugfs_release, f);
	return ret ? ERR_PTR(ret) : f;
}
EXPORT_SYMBOL_IF_KUNIT(phyr_rig_debugfs_open);

/**
 * phyr_rig_debugfs_write - write to a file of phyr_rig_debugfs_open()
 * @f: the file.
 * @buf: the bytes, at most a page.
 * @len: their number.
 *
 * Context: process context, may sleep.
 * Return: what ->write returns: the number of bytes written or -errno;
 * -EINVAL for more than a page, -EFAULT if the user page is gone.
 */
ssize_t phyr_rig_debugfs_write(struct phyr_rig_debugfs *f, const char *buf,
			       size_t len)
{
	loff_t pos = 0;

	if (len > PAGE_SIZE)
		return -EINVAL;
	if (copy_to_user((void __user *)f->ubuf, buf, len))
		return -EFAULT;
	return f->file->f_op->write(f->file, (const char __user *)f->ubuf,
				    len, &pos);
}
EXPORT_SYMBOL_IF_KUNIT(phyr_rig_debugfs_write);

/**
 * phyr_rig_debugfs_read - read a file of phyr_rig_debugfs_open()
 * @f: the file.
 * @buf: where to put the bytes, NUL-terminated.
 * @len: the size of @buf, at most a page.
 *
 * Reads from the start of the file, at most @len - 1 bytes.
 *
 * Context: process context, may sleep.
 * Return: the number of bytes read or -errno (-EINVAL for a @len of 0 or
 * more than a page, -EFAULT if the user page is gone).
 */
ssize_t phyr_rig_debugfs_read(struct phyr_rig_debugfs *f, char *buf,
			      size_t len)
{
	loff_t pos = 0;
	ssize_t ret;

	if (!len || len > PAGE_SIZE)
		return -EINVAL;
	ret = f->file->f_op->read(f->file, (char __user *)f->ubuf, len - 1,
				  &pos);
	if (ret < 0)
		return ret;
	if (copy_from_user(buf, (void __user *)f->ubuf, ret))
		return -EFAULT;
	buf[ret] = '\0';
	return ret;
}
EXPORT_SYMBOL_IF_KUNIT(phyr_rig_debugfs_read);

/**
 * phyr_rig_debugfs_set - write a value to a debugfs file, as "echo" would
 * @test: the test.
 * @path: the path under the debugfs root.
 * @val: the value, a string.
 *
 * Context: process context, may sleep.
 * Return: 0, or the error of phyr_rig_debugfs_open() or of the write.
 */
int phyr_rig_debugfs_set(struct kunit *test, const char *path,
			 const char *val)
{
	struct phyr_rig_debugfs *f = phyr_rig_debugfs_open(test, path,
							   O_WRONLY);
	ssize_t ret;

	if (IS_ERR(f))
		return PTR_ERR(f);
	ret = phyr_rig_debugfs_write(f, val, strlen(val));
	return ret < 0 ? ret : 0;
}
EXPORT_SYMBOL_IF_KUNIT(phyr_rig_debugfs_set);
