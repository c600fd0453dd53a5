// SPDX-License-Identifier: GPL-2.0-only
/*
 * KVM_MEM_DMABUF memslots, the refusals: what KVM_SET_USER_MEMORY_REGION2
 * must refuse, with which errno, leaving nothing behind, without a PCI
 * device.
 *
 * A dma-buf slot needs an exporter that can revoke the buffer (vfio-pci's
 * VFIO_DEVICE_FEATURE_DMA_BUF); none exists without a device, so the
 * accepted slots, the guest's accesses, the revoke exits and the refused
 * modifications of an existing dma-buf slot are tested end to end by
 * tools/testing/selftests/vfio/vfio_pci_kvm_dmabuf_test.c. Here a udmabuf
 * (CONFIG_UDMABUF), a dma-buf that cannot be revoked, stands for a dma-buf
 * of the wrong kind, and every other fd for what is not a dma-buf.
 *
 * Each test names the behaviours of the phyr project's BEHAVIOURS.md it
 * checks (K2 bad slots, K17 the capability and the immutability of slots).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include <linux/kvm.h>
#include <linux/sizes.h>
#include <linux/udmabuf.h>

#include "kvm_util.h"
#include "test_util.h"
#include "kselftest_harness.h"

#define SLOT		1
#define GPA		SZ_1G
#define BUF_SIZE	SZ_2M		/* the udmabuf */

/* A udmabuf of @len bytes over a sealed memfd (*@memfd): its fd or -errno. */
static int udmabuf_new(size_t len, int *memfd)
{
	struct udmabuf_create c = { .flags = UDMABUF_FLAGS_CLOEXEC, .size = len };
	int dev, fd;

	*memfd = memfd_create("dmabuf_memslot_test", MFD_ALLOW_SEALING);
	if (*memfd < 0)
		return -errno;
	if (ftruncate(*memfd, len) || fcntl(*memfd, F_ADD_SEALS, F_SEAL_SHRINK))
		return -errno;
	dev = open("/dev/udmabuf", O_RDWR | O_CLOEXEC);
	if (dev < 0)
		return -errno;
	c.memfd = *memfd;
	fd = ioctl(dev, UDMABUF_CREATE, &c);
	fd = fd < 0 ? -errno : fd;
	close(dev);
	return fd;
}

/* The open fds of this process. */
static int count_fds(void)
{
	char path[64];
	int fd, n = 0;

	for (fd = 0; fd < 1024; fd++) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		n += !access(path, F_OK);
	}
	return n;
}

/* The lowest fd no file is open at. */
static int closed_fd(void)
{
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	if (fd >= 0)
		close(fd);
	return fd;
}

/* KVM_SET_USER_MEMORY_REGION2: 0 or -errno. */
static int set_slot(struct kvm_vm *vm, __u32 slot, __u32 flags, __u64 gpa,
		    __u64 size, void *hva, int fd, __u64 offset)
{
	return __vm_set_user_memory_region2(vm, slot, flags, gpa, size, hva,
					    (__u32)fd, offset) ? -errno : 0;
}

FIXTURE(dmabuf_slot) {
	struct kvm_vm *vm;
	void *hva;		/* a legal userspace_addr, never used */
	int udmabuf, memfd;	/* -errno without CONFIG_UDMABUF */
};

FIXTURE_SETUP(dmabuf_slot)
{
	self->vm = NULL;
	self->hva = MAP_FAILED;
	self->memfd = -1;
	self->udmabuf = -ENODEV;
	if (!kvm_has_cap(KVM_CAP_MEM_DMABUF))
		SKIP(return, "no KVM_CAP_MEM_DMABUF (CONFIG_KVM_DMABUF)");
	self->vm = vm_create_barebones();
	self->hva = mmap(NULL, BUF_SIZE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->hva);
	self->udmabuf = udmabuf_new(BUF_SIZE, &self->memfd);
}

FIXTURE_TEARDOWN(dmabuf_slot)
{
	if (self->udmabuf >= 0)
		close(self->udmabuf);
	if (self->memfd >= 0)
		close(self->memfd);
	if (self->hva != MAP_FAILED)
		munmap(self->hva, BUF_SIZE);
	if (self->vm)
		kvm_vm_free(self->vm);
}

/*
 * BEHAVIOURS: K17 - KVM_CAP_MEM_DMABUF says 1, from /dev/kvm and from the VM
 * (the fixture skips without it).
 */
TEST_F(dmabuf_slot, cap_advertised)
{
	EXPECT_EQ(1, kvm_check_cap(KVM_CAP_MEM_DMABUF));
	EXPECT_EQ(1, vm_check_cap(self->vm, KVM_CAP_MEM_DMABUF));
}

/*
 * BEHAVIOURS: K2 - the v1 ioctl, which has no fd field, refuses the flag;
 * so do the flags it cannot be combined with, whatever the fd.
 */
TEST_F(dmabuf_slot, flag_combinations_refused)
{
	static const struct {
		const char *what;
		__u32 flags;
	} rows[] = {
		{ "KVM_MEM_GUEST_MEMFD", KVM_MEM_DMABUF | KVM_MEM_GUEST_MEMFD },
		{ "KVM_MEM_LOG_DIRTY_PAGES", KVM_MEM_DMABUF | KVM_MEM_LOG_DIRTY_PAGES },
		{ "KVM_MEM_READONLY", KVM_MEM_DMABUF | KVM_MEM_READONLY },
	};
	int fd = self->udmabuf >= 0 ? self->udmabuf : 0;
	unsigned int i;
	int ret;

	ret = __vm_set_user_memory_region(self->vm, SLOT, KVM_MEM_DMABUF, GPA,
					  BUF_SIZE, self->hva);
	EXPECT_EQ(-1, ret);
	EXPECT_EQ(EINVAL, errno) TH_LOG("v1 KVM_SET_USER_MEMORY_REGION");

	for (i = 0; i < ARRAY_SIZE(rows); i++) {
		EXPECT_EQ(-EINVAL, set_slot(self->vm, SLOT, rows[i].flags, GPA,
					    BUF_SIZE, self->hva, fd, 0))
			TH_LOG("KVM_MEM_DMABUF | %s", rows[i].what);
	}
}

/*
 * BEHAVIOURS: K2, R2 - an fd that is not an open dma-buf is EINVAL, closed
 * fds included: set_memory_region_test's test_invalid_memory_region_flags
 * sets every flag it does not know with guest_memfd = 0, stdin, which may
 * be closed. Nothing is left behind: the slot and GPA work afterwards.
 */
TEST_F(dmabuf_slot, not_a_dmabuf_einval)
{
	int kvm_fd = open_kvm_dev_path_or_exit();
	int efd = eventfd(0, EFD_CLOEXEC);
	int mfd = memfd_create("not a dma-buf", MFD_CLOEXEC);
	const struct {
		const char *what;
		int fd;
	} rows[] = {
		{ "an eventfd", efd },
		{ "a memfd", mfd },
		{ "/dev/kvm", kvm_fd },
		{ "the VM's own fd", self->vm->fd },
		{ "fd -1", -1 },
		{ "a closed fd", closed_fd() },
	};
	int stdin_copy, before, ret;
	unsigned int i;

	ASSERT_LE(0, efd);
	ASSERT_LE(0, mfd);
	ASSERT_EQ(0, ftruncate(mfd, BUF_SIZE));
	before = count_fds();
	for (i = 0; i < ARRAY_SIZE(rows); i++) {
		EXPECT_EQ(-EINVAL, set_slot(self->vm, SLOT, KVM_MEM_DMABUF, GPA,
					    BUF_SIZE, self->hva, rows[i].fd, 0))
			TH_LOG("%s (fd %d)", rows[i].what, rows[i].fd);
	}

	/* fd 0 closed, as set_memory_region_test may find it. */
	stdin_copy = dup(0);
	ASSERT_LE(0, stdin_copy);
	close(0);
	ret = set_slot(self->vm, SLOT, KVM_MEM_DMABUF, 0, BUF_SIZE, NULL, 0, 0);
	ASSERT_EQ(0, dup2(stdin_copy, 0));
	close(stdin_copy);
	EXPECT_EQ(-EINVAL, ret) TH_LOG("guest_memfd 0, stdin closed");

	EXPECT_EQ(before, count_fds());
	EXPECT_EQ(0, set_slot(self->vm, SLOT, 0, GPA, BUF_SIZE, self->hva, 0, 0))
		TH_LOG("the slot the refused rows named");
	close(efd);
	close(mfd);
	close(kvm_fd);
}

/*
 * BEHAVIOURS: K2, R2 - a dma-buf slot must lie inside its dma-buf, at a
 * page-aligned offset, in a page-aligned slot; checked before the dma-buf's
 * kind (EINVAL, not EPERM), and nothing is left behind.
 */
TEST_F(dmabuf_slot, bad_ranges_einval)
{
	const __u64 pg = getpagesize(), b = BUF_SIZE;
	const struct {
		const char *what;
		__u32 slot;
		__u64 gpa, size, off;
	} rows[] = {
		{ "offset not page aligned (1)", SLOT, GPA, b - pg, 1 },
		{ "offset not page aligned (2048)", SLOT, GPA, b - pg, 2048 },
		{ "size past the dma-buf", SLOT, GPA, b + pg, 0 },
		{ "size twice the dma-buf", SLOT, GPA, 2 * b, 0 },
		{ "offset at the end", SLOT, GPA, pg, b },
		{ "offset past the end", SLOT, GPA, pg, 2 * b },
		{ "offset + size past the end", SLOT, GPA, 2 * pg, b - pg },
		{ "offset + size wraps past 0", SLOT, GPA, 2 * pg, -pg },
		{ "offset + size wraps to 0", SLOT, GPA, pg, -pg },
		{ "size not page aligned", SLOT, GPA, b / 2 + 1, 0 },
		{ "GPA not page aligned", SLOT, GPA + 8, b - pg, 0 },
		{ "slot id past the last", 0x7fff, GPA, b, 0 },
	};
	unsigned int i;
	int before;

	if (self->udmabuf < 0)
		SKIP(return, "no udmabuf (CONFIG_UDMABUF): %s",
		     strerror(-self->udmabuf));
	before = count_fds();
	for (i = 0; i < ARRAY_SIZE(rows); i++) {
		EXPECT_EQ(-EINVAL, set_slot(self->vm, rows[i].slot,
					    KVM_MEM_DMABUF, rows[i].gpa,
					    rows[i].size, self->hva,
					    self->udmabuf, rows[i].off))
			TH_LOG("%s", rows[i].what);
	}
	EXPECT_EQ(before, count_fds());
	EXPECT_EQ(0, set_slot(self->vm, SLOT, 0, GPA, b, self->hva, 0, 0));
}

/*
 * BEHAVIOURS: K2 - a dma-buf whose exporter cannot revoke it (a udmabuf) is
 * refused with EPERM: KVM maps its pfns without page references. The slot
 * is not created, and the udmabuf is not held (it goes when closed).
 */
TEST_F(dmabuf_slot, not_revocable_eperm)
{
	int before;

	if (self->udmabuf < 0)
		SKIP(return, "no udmabuf (CONFIG_UDMABUF): %s",
		     strerror(-self->udmabuf));
	before = count_fds();
	EXPECT_EQ(-EPERM, set_slot(self->vm, SLOT, KVM_MEM_DMABUF, GPA,
				   BUF_SIZE, self->hva, self->udmabuf, 0));
	EXPECT_EQ(-EPERM, set_slot(self->vm, SLOT, KVM_MEM_DMABUF, GPA,
				   BUF_SIZE / 2, self->hva, self->udmabuf,
				   BUF_SIZE / 2));
	EXPECT_EQ(before, count_fds());
	/* Nothing was created: the same slot and GPA take RAM. */
	EXPECT_EQ(0, set_slot(self->vm, SLOT, 0, GPA, BUF_SIZE, self->hva, 0, 0));
}

/*
 * BEHAVIOURS: K17 - an existing slot cannot become a dma-buf slot: adding
 * KVM_MEM_DMABUF to it, in place or moved, is refused with EINVAL before the
 * fd is looked at (EINVAL even for a udmabuf, which would be EPERM), and the
 * slot is left as it was. The other direction (flags = 0 on a dma-buf slot)
 * needs a revocable exporter: vfio_pci_kvm_dmabuf_test's slot_changes_refused.
 */
TEST_F(dmabuf_slot, existing_slot_stays)
{
	int fd = self->udmabuf >= 0 ? self->udmabuf : 0;

	ASSERT_EQ(0, set_slot(self->vm, SLOT, 0, GPA, BUF_SIZE, self->hva, 0, 0));
	EXPECT_EQ(-EINVAL, set_slot(self->vm, SLOT, KVM_MEM_DMABUF, GPA,
				    BUF_SIZE, self->hva, fd, 0))
		TH_LOG("KVM_MEM_DMABUF added in place");
	EXPECT_EQ(-EINVAL, set_slot(self->vm, SLOT, KVM_MEM_DMABUF, 2ULL * GPA,
				    BUF_SIZE, self->hva, fd, 0))
		TH_LOG("KVM_MEM_DMABUF added, moved");
	EXPECT_EQ(-EINVAL, set_slot(self->vm, SLOT,
				    KVM_MEM_DMABUF | KVM_MEM_LOG_DIRTY_PAGES,
				    GPA, BUF_SIZE, self->hva, fd, 0))
		TH_LOG("KVM_MEM_DMABUF and dirty logging added");
	/* Unchanged: flags 0 again is no change, dirty logging still works. */
	EXPECT_EQ(0, set_slot(self->vm, SLOT, 0, GPA, BUF_SIZE, self->hva, 0, 0));
	EXPECT_EQ(0, set_slot(self->vm, SLOT, KVM_MEM_LOG_DIRTY_PAGES, GPA,
			      BUF_SIZE, self->hva, 0, 0));
	EXPECT_EQ(0, set_slot(self->vm, SLOT, 0, 0, 0, NULL, 0, 0)) TH_LOG("delete");
}

TEST_HARNESS_MAIN
