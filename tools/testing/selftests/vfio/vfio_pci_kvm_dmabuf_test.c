// SPDX-License-Identifier: GPL-2.0
/*
 * KVM memslots backed by the vfio-pci BAR dma-buf (KVM_MEM_DMABUF), end to
 * end: a tiny VMM runs a guest that reads the rig's ivshmem BAR through
 * such a slot while the host revokes, resets, races and kills.
 *
 * The device is the rig's ivshmem (1af4:1110, tools/testing/phyr), whose
 * 64 MiB BAR 2 holds a pattern: the little-endian u32 at byte offset o is
 * (o / 4) * MUL ^ XOR. vfio_pci_util.h binds it to vfio-pci, opens it and
 * exports the BAR (VFIO_DEVICE_FEATURE_DMA_BUF); the dma-buf backs a slot
 * with KVM_SET_USER_MEMORY_REGION2, flags KVM_MEM_DMABUF, guest_memfd the
 * dma-buf fd and guest_memfd_offset the offset into it.
 *
 * The VMM (kvm_vmm_util.h, shared with vfio_pci_race_test.c) is written
 * for these programs rather than with tools/testing/selftests/kvm's
 * library: that library is built for the kvm selftests' own tree, not
 * linked into the rig's static initramfs programs, and this one needs
 * little. Its guest walks the slot and compares each dword with the
 * pattern, reporting by port I/O (see kvm_vmm_util.h).
 *
 * Faults are counted with <debugfs>/kvm/<pid>-<vmfd>/pf_taken, the SPTEs
 * read from the kvmmmu/kvm_mmu_set_spte trace event. Lines "# ID: ..." say
 * what the kernel did, ID naming the behaviour checked (the project's
 * BEHAVIOURS.md). Every KVM_RUN is bounded (alarm()), and so is each test.
 * Needs root, sysfs, debugfs, tracefs for one test, /dev/kvm. Some checks
 * are only meaningful in a configuration: K16's absence of a WARN needs
 * CONFIG_KVM_PROVE_MMU and the console scan, K13 the shadow MMU
 * (kvm.tdp_mmu=0, else it skips), K11 two CPUs or more and KASAN.
 *
 * The refusals that need no device are in the kvm selftests
 * (tools/testing/selftests/kvm/dmabuf_memslot_test.c).
 */
#include "vfio_pci_util.h"
#include "kvm_vmm_util.h"

#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <time.h>
#include <sys/eventfd.h>
#include <sys/mount.h>

#include <linux/udmabuf.h>

#define TIMEOUT		120		/* seconds, each test */

#define SLOT_LEN	(8ull << 20)	/* what the revoke tests map */
#define SMALL_LEN	(16ull << 20)	/* the 4 KiB-only slot of K4 */
#define HUGE_MAX	64		/* faults for the 64 MiB BAR, at most */

/* NPT (and shadow paging): PAT index bits of the SPTE; UC- is PCD alone. */
#define SPTE_PWT	0x08
#define SPTE_PCD	0x10
/* EPT: memory type in bits 5:3 (UC = 0), IPAT bit 6. */
#define EPT_MT_MASK	0x38
#define EPT_IPAT	0x40
#define TRACE_EVENT	"events/kvmmmu/kvm_mmu_set_spte/enable"

#define RACE_TOGGLES	200
#define RACE_SECONDS	20

/* The guest read the BAR's pattern from @bar_off in @passes passes of @len. */
static void expect_pattern(struct __test_metadata *_metadata,
			   const struct guest *g, const char *tag,
			   __u64 len, __u64 bar_off, unsigned long passes)
{
	unsigned int i;

	EXPECT_EQ(0, g->mismatches)
		TH_LOG("%s: %lu mismatches, the first at slot offset 0x%x: 0x%08x, not 0x%08x",
		       tag, g->mismatches, g->bad_off, g->bad_val,
		       pattern(bar_off + g->bad_off));
	EXPECT_EQ(passes, g->passes) TH_LOG("%s: passes", tag);
	EXPECT_EQ(len, g->walked) TH_LOG("%s: bytes walked", tag);
	ASSERT_EQ(ARRAY_SIZE(g->first), g->nr_first);
	for (i = 0; i < ARRAY_SIZE(g->first); i++)
		EXPECT_EQ(pattern(bar_off + 4 * i), g->first[i])
			TH_LOG("%s: dword %u of the slot", tag, i);
}

/* A counter of <debugfs>/kvm/<pid>-<vmfd>, summed over the vCPUs; -1. */
static long long vm_stat(struct vm *vm, const char *name)
{
	char path[PATH_MAX + 32], buf[32];

	snprintf(path, sizeof(path), "%s/%s", vm->stats, name);
	if (sysfs_read(path, buf, sizeof(buf)))
		return -1;
	return strtoll(buf, NULL, 10);
}

/* The guest's first 16 bytes, as a note. */
static void note_bytes(const char *tag, const struct guest *g, __u64 gpa,
		       __u64 bar_off)
{
	const uint8_t *b = (const uint8_t *)g->first;
	char hex[64];
	unsigned int i;

	for (i = 0; i < sizeof(g->first); i++)
		snprintf(hex + 3 * i, sizeof(hex) - 3 * i, "%02x ", b[i]);
	hex[3 * sizeof(g->first) - 1] = '\0';
	note("%s: the guest read at GPA 0x%llx (BAR offset 0x%llx): %s\n", tag,
	     (unsigned long long)gpa, (unsigned long long)bar_off, hex);
}

/* ---- the fixture: ivshmem open, memory enabled, its BAR exported, a VM ---- */

FIXTURE(kvm_dmabuf) {
	struct vdev d;
	struct vm vm;
	int buf;	/* the whole BAR */
};

FIXTURE_SETUP(kvm_dmabuf)
{
	int ret;

	page_size = getpagesize();
	self->buf = -1;
	self->vm.kvm = -1;
	self->vm.fd = -1;
	self->vm.vcpu = -1;
	ret = vdev_open_exporting(&self->d, IVSHMEM_VENDOR, IVSHMEM_DEVICE);
	if (ret == VDEV_SKIP)
		SKIP(return, "%s", self->d.err);
	ASSERT_EQ(0, ret) TH_LOG("%s", self->d.err);
	ret = vm_init(&self->vm, -1);
	if (ret == VDEV_SKIP)
		SKIP(return, "no /dev/kvm (CONFIG_KVM_AMD, an SVM CPU)");
	ASSERT_EQ(0, ret) TH_LOG("the VMM: %s", strerror(-ret));
	self->buf = export_one(&self->d, 0, self->d.bar_size);
	ASSERT_LE(0, self->buf) TH_LOG("export: %s", strerror(-self->buf));
}

FIXTURE_TEARDOWN(kvm_dmabuf)
{
	vm_destroy(&self->vm);
	if (self->buf >= 0)
		close(self->buf);
	tdisp_set(&self->d, "unlocked");	/* whatever a test left */
	vdev_close(&self->d);
}

/*
 * BEHAVIOURS: E1, K1 - a slot over the whole BAR at GPA 1 GiB: the guest
 * reads the BAR's pattern at every page; a slot at an offset into the
 * dma-buf reads the BAR from that offset.
 */
TEST_F_TIMEOUT(kvm_dmabuf, guest_reads_bar, TIMEOUT)
{
	__u64 size = self->d.bar_size, off = size / 2 + 2 * page_size;
	struct guest g;
	int ret;

	ASSERT_EQ(0, dmabuf_slot(&self->vm, SLOT_BAR, GPA_BAR, size, self->buf, 0));
	ret = guest_walk(&self->vm, &g, GPA_BAR, size, 0, 1);
	ASSERT_EQ(RUN_HLT, ret) TH_LOG("KVM_RUN: %s, exit_reason %u",
				       run_str(ret), g.exit_reason);
	expect_pattern(_metadata, &g, "E1", size, 0, 1);
	note_bytes("E1", &g, GPA_BAR, 0);
	note("E1: %llu bytes of BAR %u (%s) walked, %lu mismatches\n",
	     (unsigned long long)g.walked, self->d.bar, self->d.bdf,
	     g.mismatches);
	note_fdinfo("E1", self->buf);

	/* Offset 2 pages past the middle of the dma-buf, 1 MiB long. */
	ASSERT_EQ(0, dmabuf_slot(&self->vm, SLOT_BAR2, GPA_BAR2, 1 << 20,
				 self->buf, off));
	ret = guest_walk(&self->vm, &g, GPA_BAR2, 1 << 20, off, 1);
	ASSERT_EQ(RUN_HLT, ret) TH_LOG("KVM_RUN: %s, exit %u", run_str(ret), g.exit_reason);
	expect_pattern(_metadata, &g, "K1 offset", 1 << 20, off, 1);
	note_bytes("K1", &g, GPA_BAR2, off);
}

/*
 * BEHAVIOURS: K3 - the fault path ignores userspace_addr: it points to a
 * decoy mapping of 0x5a bytes, and the guest still reads the BAR.
 */
TEST_F_TIMEOUT(kvm_dmabuf, decoy_userspace_addr, TIMEOUT)
{
	const __u64 len = 4ull << 20;
	struct guest g;
	uint8_t *decoy;
	size_t i;
	int ret;

	decoy = mmap(NULL, len, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, decoy);
	memset(decoy, 0x5a, len);
	ASSERT_EQ(0, set_slot(&self->vm, SLOT_BAR, KVM_MEM_DMABUF, GPA_BAR, len,
			      self->buf, 0, decoy));
	ret = guest_walk(&self->vm, &g, GPA_BAR, len, 0, 1);
	ASSERT_EQ(RUN_HLT, ret) TH_LOG("KVM_RUN: %s, exit %u", run_str(ret), g.exit_reason);
	EXPECT_NE(0x5a5a5a5a, g.first[0]);
	expect_pattern(_metadata, &g, "K3", len, 0, 1);
	for (i = 0; i < len && decoy[i] == 0x5a; i++)
		;
	EXPECT_EQ(len, i) TH_LOG("the decoy changed at offset %zu", i);
	note_bytes("K3 (userspace_addr -> 0x5a decoy)", &g, GPA_BAR, 0);
	munmap(decoy, len);
}

/*
 * BEHAVIOURS: K4 - the whole 64 MiB BAR (gfn and pfn 2 MiB aligned) costs
 * at most HUGE_MAX faults; 16 MiB exported from BAR offset 4 KiB (the pfn
 * misaligned to the gfn: 4 KiB mappings only) costs one fault a page.
 */
TEST_F_TIMEOUT(kvm_dmabuf, huge_mappings_fault_less, TIMEOUT)
{
	const __u64 size = self->d.bar_size;
	long long before, huge, small;
	struct guest g;
	int fd, ret;

	ASSERT_LE(SMALL_LEN + page_size, size);
	/* The code and stack pages first, so only the BAR's faults count. */
	ASSERT_EQ(RUN_HLT, guest_walk(&self->vm, &g, CODE_GPA, 0, 0, 1));
	ASSERT_EQ(0, dmabuf_slot(&self->vm, SLOT_BAR, GPA_BAR, size, self->buf, 0));
	before = vm_stat(&self->vm, "pf_taken");
	ASSERT_LE(0, before) TH_LOG("no %s/pf_taken", self->vm.stats);
	ret = guest_walk(&self->vm, &g, GPA_BAR, size, 0, 1);
	ASSERT_EQ(RUN_HLT, ret) TH_LOG("KVM_RUN: %s, exit %u", run_str(ret), g.exit_reason);
	huge = vm_stat(&self->vm, "pf_taken") - before;
	expect_pattern(_metadata, &g, "K4 huge", size, 0, 1);

	fd = export_one(&self->d, page_size, SMALL_LEN);
	ASSERT_LE(0, fd) TH_LOG("export at 4 KiB: %s", strerror(-fd));
	ASSERT_EQ(0, dmabuf_slot(&self->vm, SLOT_BAR2, GPA_BAR2, SMALL_LEN, fd, 0));
	before = vm_stat(&self->vm, "pf_taken");
	ret = guest_walk(&self->vm, &g, GPA_BAR2, SMALL_LEN, page_size, 1);
	small = vm_stat(&self->vm, "pf_taken") - before;
	EXPECT_EQ(RUN_HLT, ret) TH_LOG("KVM_RUN: %s, exit %u", run_str(ret), g.exit_reason);
	expect_pattern(_metadata, &g, "K4 small", SMALL_LEN, page_size, 1);
	EXPECT_EQ(0, delete_slot(&self->vm, SLOT_BAR2));
	close(fd);

	note("K4: %llu MiB with %lld faults (2 MiB mappings); %s: %lld faults\n",
	     (unsigned long long)size >> 20, huge, "16 MiB at a 4 KiB offset",
	     small);
	EXPECT_LT(0, huge);
	EXPECT_GE(HUGE_MAX, huge) TH_LOG("%lld faults for %llu MiB", huge,
					 (unsigned long long)size >> 20);
	EXPECT_LT(huge, small);
	EXPECT_LE((long long)(SMALL_LEN / page_size) - 16, small);
}

/* tracefs, mounted if needed: its path, or NULL. */
static const char *tracefs(void)
{
	static const char *const dirs[] = { "/sys/kernel/tracing",
					    "/sys/kernel/debug/tracing" };
	char path[PATH_MAX];
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(dirs); i++) {
		snprintf(path, sizeof(path), "%s/%s", dirs[i], TRACE_EVENT);
		if (!access(path, W_OK))
			return dirs[i];
	}
	if (mount("tracefs", dirs[0], "tracefs", 0, NULL))
		return NULL;
	snprintf(path, sizeof(path), "%s/%s", dirs[0], TRACE_EVENT);
	return access(path, W_OK) ? NULL : dirs[0];
}

static int trace_write(const char *dir, const char *file, const char *val)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	return sysfs_write(path, val);
}

/* The host runs VMX (EPT SPTEs) rather than SVM (NPT): from /proc/cpuinfo. */
static bool host_has_ept(void)
{
	char line[4096];
	bool vmx = false;
	FILE *f = fopen("/proc/cpuinfo", "r");

	while (f && !vmx && fgets(line, sizeof(line), f))
		vmx = !strncmp(line, "flags", 5) && strstr(line, " vmx");
	if (f)
		fclose(f);
	return vmx;
}

/*
 * The memory type of a BAR SPTE is the one EPT and a host mmap of the BAR
 * give: under EPT, UC in bits 5:3 without IPAT (a guest PAT of WC still
 * wins); under NPT, PAT index 2 (PCD alone: UC-, pgprot_noncached()), not
 * index 3 (PCD|PWT, strong UC, which no guest PAT overrides).
 */
static bool spte_uncached(unsigned long long spte, bool ept)
{
	if (ept)
		return !(spte & EPT_MT_MASK) && !(spte & EPT_IPAT);
	return (spte & (SPTE_PCD | SPTE_PWT)) == SPTE_PCD;
}

/*
 * BEHAVIOURS: K4, K5, K16 - the SPTEs KVM installs for the BAR slot (the
 * kvm_mmu_set_spte event): 2 MiB (level 2), and uncached as a host mmap of
 * the BAR is (spte_uncached()).
 */
TEST_F_TIMEOUT(kvm_dmabuf, sptes_huge_uncached, TIMEOUT)
{
	const __u64 size = self->d.bar_size;
	unsigned long long gfn, spte, first_gfn = 0, first_spte = 0;
	unsigned int n = 0, not_2m = 0, cached = 0;
	const char *dir = tracefs(), *p;
	bool ept = host_has_ept();
	char path[PATH_MAX], line[512];
	struct guest g;
	int ret, level;
	FILE *f;

	if (!dir)
		SKIP(return, "no tracefs or no kvmmmu/kvm_mmu_set_spte event");
	ASSERT_EQ(0, trace_write(dir, "tracing_on", "0"));
	ASSERT_EQ(0, trace_write(dir, "trace", ""));
	ASSERT_EQ(0, trace_write(dir, TRACE_EVENT, "1"));
	ASSERT_EQ(0, trace_write(dir, "tracing_on", "1"));
	ASSERT_EQ(0, dmabuf_slot(&self->vm, SLOT_BAR, GPA_BAR, size, self->buf, 0));
	ret = guest_walk(&self->vm, &g, GPA_BAR, size, 0, 1);
	trace_write(dir, "tracing_on", "0");
	trace_write(dir, TRACE_EVENT, "0");
	ASSERT_EQ(RUN_HLT, ret) TH_LOG("KVM_RUN: %s, exit %u", run_str(ret), g.exit_reason);
	expect_pattern(_metadata, &g, "K5", size, 0, 1);

	snprintf(path, sizeof(path), "%s/trace", dir);
	f = fopen(path, "r");
	ASSERT_NE(NULL, f);
	while (fgets(line, sizeof(line), f)) {
		/* "gfn %llx spte %llx (%s%s%s%s) level %d at %llx" */
		p = strstr(line, "kvm_mmu_set_spte:");
		p = p ? strstr(p, "gfn ") : NULL;
		if (!p || sscanf(p, "gfn %llx spte %llx", &gfn, &spte) != 2)
			continue;
		p = strstr(p, " level ");
		if (!p || sscanf(p, " level %d", &level) != 1)
			continue;
		if (gfn < GPA_BAR / page_size ||
		    gfn >= (GPA_BAR + size) / page_size)
			continue;
		if (!n++) {
			first_gfn = gfn;
			first_spte = spte;
		}
		not_2m += level != 2;
		cached += !spte_uncached(spte, ept);
	}
	fclose(f);
	trace_write(dir, "trace", "");
	note("K4/K5: %u SPTEs for the BAR slot, %u not 2 MiB, %u not uncached\n",
	     n, not_2m, cached);
	note("K16: the memory type under %s: %s\n", ept ? "EPT" : "NPT",
	     ept ? "UC without IPAT" : "PAT index 2 (PCD alone, UC-)");
	note("K4/K5: the first: gfn 0x%llx spte 0x%llx\n", first_gfn, first_spte);
	EXPECT_LT(0, n) TH_LOG("no kvm_mmu_set_spte event for the BAR slot");
	EXPECT_EQ(0, not_2m) TH_LOG("%u of %u SPTEs are not 2 MiB", not_2m, n);
	EXPECT_EQ(0, cached) TH_LOG("%u of %u SPTEs have another memory type",
				    cached, n);
}

/*
 * BEHAVIOURS: K6, K14, E2, K7 - memory enable cleared between two passes:
 * the guest's next access exits with KVM_EXIT_MEMORY_FAULT (KVM_RUN fails
 * with EFAULT), flags KVM_MEMORY_EXIT_FLAG_REVOKED and not PRIVATE, the GPA
 * of the page the guest touched (the slot's first: the pass starts there)
 * and its size; again at the same RIP and GPA; memory enabled again, KVM_RUN
 * completes the pass and the guest reads the pattern.
 */
TEST_F_TIMEOUT(kvm_dmabuf, memory_disable_exits_revoked, TIMEOUT)
{
	struct kvm_regs r1, r2;
	struct guest g;
	size_t code_len;
	int ret, ret2;
	__u64 gpa;

	ASSERT_EQ(0, dmabuf_slot(&self->vm, SLOT_BAR, GPA_BAR, SLOT_LEN, self->buf, 0));
	ASSERT_EQ(0, guest_start(&self->vm, &g, GPA_BAR, SLOT_LEN, 0, 2));
	ASSERT_EQ(RUN_PASS, vcpu_run(&self->vm, &g, true));
	EXPECT_EQ(0, g.mismatches);

	ASSERT_EQ(0, set_memory(&self->d, false));
	EXPECT_TRUE(fdinfo_is(self->buf, "revoked", "yes"));
	ret = vcpu_run(&self->vm, &g, true);
	ASSERT_EQ(0, ioctl(self->vm.vcpu, KVM_GET_REGS, &r1));
	EXPECT_EQ(RUN_REVOKED, ret) TH_LOG("KVM_RUN with memory disabled: %s",
					   run_str(ret));
	EXPECT_EQ(KVM_EXIT_MEMORY_FAULT, g.exit_reason);
	EXPECT_TRUE(g.mf_flags & KVM_MEMORY_EXIT_FLAG_REVOKED)
		TH_LOG("flags 0x%llx", (unsigned long long)g.mf_flags);
	EXPECT_FALSE(g.mf_flags & KVM_MEMORY_EXIT_FLAG_PRIVATE);
	EXPECT_EQ(GPA_BAR, g.mf_gpa);
	EXPECT_EQ(page_size, g.mf_size);
	gpa = g.mf_gpa;
	ret2 = vcpu_run(&self->vm, &g, true);
	ASSERT_EQ(0, ioctl(self->vm.vcpu, KVM_GET_REGS, &r2));
	EXPECT_EQ(RUN_REVOKED, ret2) TH_LOG("KVM_RUN again: %s", run_str(ret2));
	EXPECT_EQ(KVM_EXIT_MEMORY_FAULT, g.exit_reason);
	EXPECT_EQ(gpa, g.mf_gpa);
	EXPECT_EQ(r1.rip, r2.rip);
	EXPECT_LE(CODE_GPA, r1.rip);
	guest_code_at(&code_len);
	EXPECT_GT(CODE_GPA + code_len, r1.rip);
	note("K6: memory disabled: KVM_RUN -> %s, then %s, rip 0x%llx both times\n",
	     run_str(ret), run_str(ret2), (unsigned long long)r1.rip);
	note("K14: exit_reason %u, flags 0x%llx, gpa 0x%llx, size 0x%llx\n",
	     g.exit_reason, (unsigned long long)g.mf_flags,
	     (unsigned long long)g.mf_gpa, (unsigned long long)g.mf_size);

	ASSERT_EQ(0, set_memory(&self->d, true));
	EXPECT_TRUE(fdinfo_is(self->buf, "revoked", "no"));
	ret = vcpu_run(&self->vm, &g, true);
	EXPECT_EQ(RUN_PASS, ret) TH_LOG("KVM_RUN with memory enabled again: %s",
					run_str(ret));
	ret = vcpu_run(&self->vm, &g, true);
	EXPECT_EQ(RUN_HLT, ret) TH_LOG("KVM_RUN: %s, exit %u", run_str(ret), g.exit_reason);
	expect_pattern(_metadata, &g, "K7", SLOT_LEN, 0, 2);
	note("K7: memory enabled again: the pass completed, %lu passes, %lu mismatches\n",
	     g.passes, g.mismatches);
}

/*
 * BEHAVIOURS: E2, K6, K7 - VFIO_DEVICE_RESET between two passes zaps the
 * mapping: the pass after it faults again (a pass with no reset in between
 * needs no fault) and reads the pattern.
 */
TEST_F_TIMEOUT(kvm_dmabuf, reset_between_passes, TIMEOUT)
{
	long long pf0, pf1, pf2, pf3;
	struct guest g;
	int ret;

	if (!(self->d.info.flags & VFIO_DEVICE_FLAGS_RESET))
		SKIP(return, "%s cannot be reset (no VFIO_DEVICE_FLAGS_RESET)",
		     self->d.bdf);
	ASSERT_EQ(0, dmabuf_slot(&self->vm, SLOT_BAR, GPA_BAR, SLOT_LEN, self->buf, 0));
	ASSERT_EQ(0, guest_start(&self->vm, &g, GPA_BAR, SLOT_LEN, 0, 3));
	pf0 = vm_stat(&self->vm, "pf_taken");
	ASSERT_EQ(RUN_PASS, vcpu_run(&self->vm, &g, true));
	pf1 = vm_stat(&self->vm, "pf_taken");
	ASSERT_EQ(RUN_PASS, vcpu_run(&self->vm, &g, true));
	pf2 = vm_stat(&self->vm, "pf_taken");

	ASSERT_EQ(0, ioctl(self->d.device, VFIO_DEVICE_RESET))
		TH_LOG("VFIO_DEVICE_RESET: %s", strerror(errno));
	ret = vcpu_run(&self->vm, &g, true);
	EXPECT_EQ(RUN_PASS, ret) TH_LOG("KVM_RUN after the reset: %s",
					run_str(ret));
	pf3 = vm_stat(&self->vm, "pf_taken");
	ASSERT_LE(0, pf0) TH_LOG("no %s/pf_taken", self->vm.stats);
	EXPECT_LT(pf2, pf3) TH_LOG("no fault after the reset: still mapped");
	ret = vcpu_run(&self->vm, &g, true);
	EXPECT_EQ(RUN_HLT, ret) TH_LOG("KVM_RUN: %s, exit %u", run_str(ret), g.exit_reason);
	expect_pattern(_metadata, &g, "E2 reset", SLOT_LEN, 0, 3);
	note("E2: faults: pass 1 %lld, 2 %lld, VFIO_DEVICE_RESET, 3 %lld; %lu mismatches\n",
	     pf1 - pf0, pf2 - pf1, pf3 - pf2, g.mismatches);
}

struct toggler {
	struct vdev *d;
	bool done;	/* __atomic */
	int toggles;	/* __atomic: the vCPU side reads it */
	int resets, err;
};

/* Bind the calling thread to @cpu: 0 or -errno. */
static int bind_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return -pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

/* Memory off and on (and a reset every 16th time) against the vCPU. */
static void *toggle(void *arg)
{
	struct toggler *t = arg;
	time_t end = time(NULL) + RACE_SECONDS;

	t->err = -bind_cpu(1);
	while (!t->err && t->toggles < RACE_TOGGLES && time(NULL) < end) {
		int ret = set_memory(t->d, false) ?: set_memory(t->d, true);

		if (ret) {
			t->err = -ret;
			break;
		}
		__atomic_add_fetch(&t->toggles, 1, __ATOMIC_RELEASE);
		if ((t->d->info.flags & VFIO_DEVICE_FLAGS_RESET) &&
		    !(t->toggles % 16)) {
			if (ioctl(t->d->device, VFIO_DEVICE_RESET)) {
				t->err = errno;
				break;
			}
			t->resets++;
		}
	}
	__atomic_store_n(&t->done, true, __ATOMIC_RELEASE);
	return NULL;
}

static bool memory_on(struct vdev *d)
{
	return cfg_read16(d, PCI_COMMAND) & PCI_COMMAND_MEMORY;
}

/* One vCPU's side of the race: its passes over the slot, on its CPU. */
struct racer {
	struct vm *vm;
	struct vdev *d;
	struct toggler *t;
	struct guest g;
	int cpu;
	time_t end;
	int ret;
	unsigned long enodev, passes_after, overlapped;
};

static void *race_vcpu(void *arg)
{
	struct racer *r = arg;
	int waits;

	r->ret = bind_cpu(r->cpu);
	if (r->ret)
		return NULL;
	r->ret = -ETIMEDOUT;
	while (r->passes_after < 2 && time(NULL) < r->end) {
		bool done = __atomic_load_n(&r->t->done, __ATOMIC_ACQUIRE);
		int before = __atomic_load_n(&r->t->toggles, __ATOMIC_ACQUIRE);

		r->ret = vcpu_run(r->vm, &r->g, true);
		r->overlapped += before !=
				 __atomic_load_n(&r->t->toggles, __ATOMIC_ACQUIRE);
		if (r->ret == RUN_REVOKED) {
			r->enodev++;
			for (waits = 0; !memory_on(r->d) && waits < 100000; waits++)
				usleep(100);
			continue;
		}
		if (r->ret != RUN_PASS || r->g.mismatches)
			break;
		r->passes_after += done;
	}
	return NULL;
}

/*
 * BEHAVIOURS: K8, V10 - a thread toggles memory enable (and resets) while
 * the guest's two vCPUs walk the slot over and over, through the same
 * SPTEs: each access either reads the pattern or exits revoked (K14); a
 * stale mapping would read the disabled BAR (all ones) and the guest would
 * report a mismatch. The sides run on two CPUs at once (R3): vCPU 0's
 * thread on CPU 0, vCPU 1's and the toggler on CPU 1, and the test counts,
 * for each vCPU, the KVM_RUNs during which the toggler toggled; none
 * means that vCPU never overlapped a revoke, and fails.
 */
TEST_F_TIMEOUT(kvm_dmabuf, race_fault_vs_revoke, TIMEOUT)
{
	struct toggler t = { .d = &self->d };
	time_t end = time(NULL) + RACE_SECONDS + 30;
	struct racer r[2];
	struct vm vcpu1;
	pthread_t th, th1;
	unsigned int i;

	ASSERT_EQ(0, dmabuf_slot(&self->vm, SLOT_BAR, GPA_BAR, 4 << 20, self->buf, 0));
	ASSERT_EQ(0, vm_add_vcpu(&self->vm, &vcpu1, 1));
	for (i = 0; i < 2; i++) {
		r[i] = (struct racer){ .vm = i ? &vcpu1 : &self->vm,
				       .d = &self->d, .t = &t, .cpu = i,
				       .end = end };
		ASSERT_EQ(0, guest_start(r[i].vm, &r[i].g, GPA_BAR, 4 << 20, 0, 0));
	}
	ASSERT_LE(2, sysconf(_SC_NPROCESSORS_ONLN))
		TH_LOG("one CPU online: the sides would not overlap");
	ASSERT_EQ(0, pthread_create(&th, NULL, toggle, &t));
	ASSERT_EQ(0, pthread_create(&th1, NULL, race_vcpu, &r[1]));
	race_vcpu(&r[0]);
	pthread_join(th1, NULL);
	pthread_join(th, NULL);
	vm_destroy(&vcpu1);
	note("K8: %d memory toggles, %d resets\n", t.toggles, t.resets);
	for (i = 0; i < 2; i++) {
		struct racer *v = &r[i];

		note("K8: vCPU %u on CPU %d: %lu passes, %lu revoked exits, %lu mismatches\n",
		     i, v->cpu, v->g.passes, v->enodev, v->g.mismatches);
		note("K8: vCPU %u: %lu KVM_RUNs overlapped a toggle (toggler on CPU 1)\n",
		     i, v->overlapped);
		EXPECT_EQ(RUN_PASS, v->ret)
			TH_LOG("vCPU %u: KVM_RUN: %s, exit_reason %u", i,
			       run_str(v->ret), v->g.exit_reason);
		EXPECT_LE(2, v->passes_after)
			TH_LOG("vCPU %u: no pass completed after the toggles", i);
		EXPECT_EQ(0, v->g.mismatches)
			TH_LOG("vCPU %u: a stale mapping: slot offset 0x%x read 0x%08x, not 0x%08x",
			       i, v->g.bad_off, v->g.bad_val,
			       pattern(v->g.bad_off));
		EXPECT_LT(0, v->overlapped)
			TH_LOG("vCPU %u: no KVM_RUN overlapped a toggle", i);
	}
	EXPECT_EQ(0, t.err) TH_LOG("the toggling thread: %s", strerror(t.err));
	EXPECT_LT(0, t.toggles);
}

/*
 * BEHAVIOURS: K9, K17 - KVM_CAP_MEM_DMABUF is 1; a dma-buf slot cannot be
 * moved, change its flags (flags = 0 included: the slot would lose
 * KVM_MEM_DMABUF and its binding), or be set again even identically
 * (EINVAL), and still reads the BAR after each refusal; deleting it works
 * and drops the dma-buf: closed before or after the deletion, the buffer
 * leaves bufinfo once both are done, and not before.
 */
TEST_F_TIMEOUT(kvm_dmabuf, slot_changes_refused, TIMEOUT)
{
	struct vm *vm = &self->vm;
	int base, fd, ret;
	struct guest g;

	EXPECT_EQ(1, ioctl(vm->kvm, KVM_CHECK_EXTENSION, KVM_CAP_MEM_DMABUF));
	EXPECT_EQ(1, ioctl(vm->fd, KVM_CHECK_EXTENSION, KVM_CAP_MEM_DMABUF));
	base = count_vfio_dmabufs();
	ASSERT_LE(0, base) TH_LOG("no " BUFINFO);
	fd = export_one(&self->d, 0, SLOT_LEN);
	ASSERT_LE(0, fd) TH_LOG("export: %s", strerror(-fd));
	ASSERT_EQ(0, dmabuf_slot(vm, SLOT_BAR, GPA_BAR, SLOT_LEN, fd, 0));
	EXPECT_EQ(-EINVAL, dmabuf_slot(vm, SLOT_BAR, GPA_BAR2, SLOT_LEN, fd, 0))
		TH_LOG("moved");
	EXPECT_EQ(-EINVAL, set_slot(vm, SLOT_BAR,
				    KVM_MEM_DMABUF | KVM_MEM_LOG_DIRTY_PAGES,
				    GPA_BAR, SLOT_LEN, fd, 0, vm->hva))
		TH_LOG("dirty logging added");
	EXPECT_EQ(-EINVAL, set_slot(vm, SLOT_BAR, KVM_MEM_DMABUF | KVM_MEM_READONLY,
				    GPA_BAR, SLOT_LEN, fd, 0, vm->hva))
		TH_LOG("made read-only");
	EXPECT_EQ(-EINVAL, dmabuf_slot(vm, SLOT_BAR, GPA_BAR, SLOT_LEN, fd, 0))
		TH_LOG("set again identically");
	EXPECT_EQ(-EINVAL, dmabuf_slot(vm, SLOT_BAR, GPA_BAR, SLOT_LEN / 2, fd, 0))
		TH_LOG("shrunk");
	EXPECT_EQ(-EINVAL, set_slot(vm, SLOT_BAR, 0, GPA_BAR, SLOT_LEN, fd, 0,
				    vm->hva))
		TH_LOG("flags = 0");
	EXPECT_EQ(-EINVAL, set_slot(vm, SLOT_BAR, 0, GPA_BAR, SLOT_LEN, 0, 0,
				    vm->hva))
		TH_LOG("flags = 0, no fd");
	EXPECT_EQ(-EINVAL, set_slot(vm, SLOT_BAR, KVM_MEM_LOG_DIRTY_PAGES,
				    GPA_BAR, SLOT_LEN, 0, 0, vm->hva))
		TH_LOG("flags = KVM_MEM_LOG_DIRTY_PAGES only");
	note("K9: moved, LOG_DIRTY_PAGES, READONLY, identical, shrunk: each EINVAL\n");
	note("K17: flags 0 (with and without the fd), LOG_DIRTY_PAGES alone: each EINVAL\n");
	ret = guest_walk(vm, &g, GPA_BAR, SLOT_LEN, 0, 1);
	EXPECT_EQ(RUN_HLT, ret) TH_LOG("KVM_RUN: %s, exit %u", run_str(ret), g.exit_reason);
	expect_pattern(_metadata, &g, "K9 unchanged", SLOT_LEN, 0, 1);

	/* Deleted, then closed: no buffer once both are done. */
	ASSERT_EQ(0, delete_slot(vm, SLOT_BAR));
	EXPECT_EQ(base + 1, count_vfio_dmabufs()) TH_LOG("the fd is still open");
	close(fd);
	EXPECT_EQ(base, wait_vfio_dmabufs(base))
		TH_LOG("deleted and closed, still in " BUFINFO);

	/* Closed, then deleted: the slot holds the buffer until then. */
	fd = export_one(&self->d, 0, SLOT_LEN);
	ASSERT_LE(0, fd) TH_LOG("export: %s", strerror(-fd));
	ASSERT_EQ(0, dmabuf_slot(vm, SLOT_BAR, GPA_BAR, SLOT_LEN, fd, 0));
	close(fd);
	usleep(100000);
	EXPECT_EQ(base + 1, count_vfio_dmabufs())
		TH_LOG("the slot holds no reference to its dma-buf");
	ret = guest_walk(vm, &g, GPA_BAR, SLOT_LEN, 0, 1);
	EXPECT_EQ(RUN_HLT, ret) TH_LOG("KVM_RUN, the fd closed: %s", run_str(ret));
	expect_pattern(_metadata, &g, "K9 fd closed", SLOT_LEN, 0, 1);
	ASSERT_EQ(0, delete_slot(vm, SLOT_BAR));
	EXPECT_EQ(base, wait_vfio_dmabufs(base))
		TH_LOG("closed and deleted, still in " BUFINFO);

	/* Nothing left mapped: an access is MMIO to an empty GPA (last: it stays pending). */
	ret = guest_walk(vm, &g, GPA_BAR, SLOT_LEN, 0, 1);
	EXPECT_EQ(RUN_MMIO, ret) TH_LOG("KVM_RUN on the deleted slot: %s",
					run_str(ret));
	EXPECT_EQ(KVM_EXIT_MMIO, g.exit_reason);
	note("K9: deleted then closed, closed then deleted: vfio_pci dma-bufs back to %d\n",
	     count_vfio_dmabufs());
}

/* A table row's fd. */
enum {
	FD_BUF, FD_NEG, FD_CLOSED, FD_EVENTFD, FD_MEMFD, FD_DEVICE, FD_VM,
	FD_UDMABUF, NR_FDS
};

struct bad_slot {
	const char *what;
	__u32 slot, flags;
	__u64 gpa, size, off;
	int fd;			/* FD_* */
	int hva;		/* 0: vm->hva, 1: vm->hva + 1, 2: a kernel address */
	int err;
};

/*
 * BEHAVIOURS: K2, R2 - malformed KVM_MEM_DMABUF slots, each refused with its
 * errno and nothing created: no slot (the same slot and GPA then work), no
 * fd, no dma-buf left when the buffer is closed.
 */
TEST_F_TIMEOUT(kvm_dmabuf, bad_slots, TIMEOUT)
{
	const __u64 pg = page_size, b = SLOT_LEN, u = 2 << 20;
	const __u32 dmabuf = KVM_MEM_DMABUF;
	const struct bad_slot rows[] = {
		{ "offset not page aligned (1)", 1, dmabuf, GPA_BAR, b - pg, 1 },
		{ "offset not page aligned (2048)", 1, dmabuf, GPA_BAR, b - pg, 2048 },
		{ "size past the dma-buf", 1, dmabuf, GPA_BAR, b + pg, 0 },
		{ "size twice the dma-buf", 1, dmabuf, GPA_BAR, 2 * b, 0 },
		{ "offset at the end", 1, dmabuf, GPA_BAR, pg, b },
		{ "offset past the end", 1, dmabuf, GPA_BAR, pg, 2 * b },
		{ "offset + size past the end", 1, dmabuf, GPA_BAR, 2 * pg, b - pg },
		{ "offset + size wraps past 0", 1, dmabuf, GPA_BAR, 2 * pg, -pg },
		{ "offset + size wraps to 0", 1, dmabuf, GPA_BAR, pg, -pg },
		{ "with KVM_MEM_GUEST_MEMFD", 1, dmabuf | KVM_MEM_GUEST_MEMFD,
		  GPA_BAR, b, 0 },
		{ "with KVM_MEM_LOG_DIRTY_PAGES", 1,
		  dmabuf | KVM_MEM_LOG_DIRTY_PAGES, GPA_BAR, b, 0 },
		{ "with KVM_MEM_READONLY", 1, dmabuf | KVM_MEM_READONLY,
		  GPA_BAR, b, 0 },
		{ "with an unknown flag (1 << 15)", 1, dmabuf | (1u << 15),
		  GPA_BAR, b, 0 },
		{ "an eventfd", 1, dmabuf, GPA_BAR, pg, 0, FD_EVENTFD },
		{ "a memfd", 1, dmabuf, GPA_BAR, pg, 0, FD_MEMFD },
		{ "the vfio device fd", 1, dmabuf, GPA_BAR, pg, 0, FD_DEVICE },
		{ "the VM's own fd", 1, dmabuf, GPA_BAR, pg, 0, FD_VM },
		/* EINVAL, not EBADF: see set_memory_region_test. */
		{ "fd -1", 1, dmabuf, GPA_BAR, b, 0, FD_NEG },
		{ "a closed fd", 1, dmabuf, GPA_BAR, b, 0, FD_CLOSED },
		{ "a udmabuf (not revocable)", 1, dmabuf, GPA_BAR, u, 0,
		  FD_UDMABUF, .err = EPERM },
		{ "overlaps the RAM slot", 1, dmabuf, 0, b, 0, .err = EEXIST },
		{ "overlaps another dma-buf slot", 1, dmabuf, GPA_BAR2 + b / 2,
		  b, 0, .err = EEXIST },
		{ "size not page aligned", 1, dmabuf, GPA_BAR, b / 2 + 1, 0 },
		{ "GPA not page aligned", 1, dmabuf, GPA_BAR + 8, b - pg, 0 },
		{ "userspace_addr not page aligned", 1, dmabuf, GPA_BAR, b, 0,
		  .hva = 1 },
		{ "userspace_addr in the kernel", 1, dmabuf, GPA_BAR, b, 0,
		  .hva = 2 },
		{ "slot id past the last", 0x7fff, dmabuf, GPA_BAR, b, 0 },
	};
	int fds[NR_FDS], memfd_u = -1, fds_before, lowest_before, bufs_before;
	int base, fds_after, ret;
	unsigned int i, nr_run = 0;
	struct guest g;

	base = count_vfio_dmabufs();
	fds[FD_BUF] = export_one(&self->d, 0, b);
	ASSERT_LE(0, fds[FD_BUF]) TH_LOG("export: %s", strerror(-fds[FD_BUF]));
	fds[FD_NEG] = -1;
	fds[FD_EVENTFD] = eventfd(0, EFD_CLOEXEC);
	fds[FD_MEMFD] = memfd_create("kvm-dmabuf-k2", MFD_CLOEXEC);
	ASSERT_EQ(0, ftruncate(fds[FD_MEMFD], b));
	fds[FD_DEVICE] = self->d.device;
	fds[FD_VM] = self->vm.fd;
	fds[FD_UDMABUF] = udmabuf_new(u, &memfd_u);
	if (fds[FD_UDMABUF] < 0)
		note("K2: no udmabuf (%s): its row not tried\n",
		     strerror(-fds[FD_UDMABUF]));
	/* The slot the overlap row collides with. */
	ASSERT_EQ(0, dmabuf_slot(&self->vm, SLOT_BAR2, GPA_BAR2, b, fds[FD_BUF], 0));

	fds_before = count_fds();
	lowest_before = lowest_free_fd();
	bufs_before = count_vfio_dmabufs();
	fds[FD_CLOSED] = lowest_before;	/* open nowhere */
	for (i = 0; i < ARRAY_SIZE(rows); i++) {
		const struct bad_slot *row = &rows[i];
		const char *hva = self->vm.hva;

		if (row->fd == FD_UDMABUF && fds[FD_UDMABUF] < 0)
			continue;
		if (row->hva == 1)
			hva += 1;
		else if (row->hva == 2)
			hva = (const char *)0xffff888000000000ull;
		ret = set_slot(&self->vm, row->slot, row->flags, row->gpa,
			       row->size, fds[row->fd], row->off, hva);
		note("K2: %s: slot %u flags 0x%x gpa 0x%llx size 0x%llx offset 0x%llx: %s\n",
		     row->what, row->slot, row->flags,
		     (unsigned long long)row->gpa, (unsigned long long)row->size,
		     (unsigned long long)row->off,
		     ret < 0 ? strerror(-ret) : "accepted");
		EXPECT_EQ(-(row->err ?: EINVAL), ret)
			TH_LOG("%s: %s", row->what,
			       ret < 0 ? strerror(-ret) : "accepted");
		if (!ret)
			delete_slot(&self->vm, row->slot);
		nr_run++;
	}
	fds_after = count_fds();
	EXPECT_EQ(fds_before, fds_after) TH_LOG("file descriptors left open");
	EXPECT_EQ(lowest_before, lowest_free_fd());
	EXPECT_EQ(bufs_before, count_vfio_dmabufs())
		TH_LOG("vfio_pci dma-bufs left in " BUFINFO);

	/* Nothing was created: the slot and GPA the rows used are free. */
	ASSERT_EQ(0, dmabuf_slot(&self->vm, SLOT_BAR, GPA_BAR, b, fds[FD_BUF], 0));
	ret = guest_walk(&self->vm, &g, GPA_BAR, b, 0, 1);
	EXPECT_EQ(RUN_HLT, ret) TH_LOG("KVM_RUN: %s, exit %u", run_str(ret), g.exit_reason);
	expect_pattern(_metadata, &g, "K2 after", b, 0, 1);
	EXPECT_EQ(0, delete_slot(&self->vm, SLOT_BAR));
	EXPECT_EQ(0, delete_slot(&self->vm, SLOT_BAR2));
	for (i = FD_BUF; i < NR_FDS; i++)
		if (i != FD_NEG && i != FD_CLOSED && i != FD_DEVICE &&
		    i != FD_VM && fds[i] >= 0)
			close(fds[i]);
	if (memfd_u >= 0)
		close(memfd_u);
	EXPECT_EQ(base, wait_vfio_dmabufs(base))
		TH_LOG("the buffer closed, vfio_pci dma-bufs left in " BUFINFO);
	note("K2: %u malformed slots refused, each with its errno\n", nr_run);
	note("R2 KVM memslot: %u malformed slots, each with its errno\n", nr_run);
	note("K2: fds %d -> %d; vfio_pci dma-bufs %d -> %d once the buffer is closed\n",
	     fds_before, fds_after, base, count_vfio_dmabufs());
}

/*
 * BEHAVIOURS: K10, K12 - a private (TDISP RUN) dma-buf of a device bound to
 * VM A through the KVM-VFIO device is refused with EACCES by every VM, VM A
 * included: no VM type has a private mapping path for dma-buf slots yet,
 * and a private (T=1) chunk must never reach a shared EPT/NPT. Nothing is
 * left behind: the same slot then takes a shared dma-buf and VM A's guest
 * reads it.
 */
TEST_F_TIMEOUT(kvm_dmabuf, private_refused, TIMEOUT)
{
	int fd, shared, ret, ret_a, ret_b;
	struct guest g = { 0 };
	struct vm a;

	close(self->buf);
	self->buf = -1;
	vdev_close(&self->d);
	ret = vdev_open(&self->d, IVSHMEM_VENDOR, IVSHMEM_DEVICE, true);
	if (ret == VDEV_SKIP)
		SKIP(return, "%s", self->d.err);
	ASSERT_EQ(0, ret) TH_LOG("%s", self->d.err);
	ASSERT_EQ(0, set_memory(&self->d, true));
	ret = tdisp_set(&self->d, "run");
	if (ret == -ENOENT)
		SKIP(return, NO_TDISP);
	ASSERT_EQ(0, ret) TH_LOG("tdisp_state run: %s", strerror(-ret));
	fd = export_one(&self->d, 0, SLOT_LEN);
	ASSERT_LE(0, fd) TH_LOG("private export with a VM: %s", strerror(-fd));
	EXPECT_TRUE(fdinfo_is(fd, "phyr_cc", "private"));

	ASSERT_EQ(0, vm_init(&a, self->d.vm));
	ret_a = dmabuf_slot(&a, SLOT_BAR, GPA_BAR, SLOT_LEN, fd, 0);
	EXPECT_EQ(-EACCES, ret_a) TH_LOG("the device's VM: %s",
					 ret_a ? strerror(-ret_a) : "accepted");
	if (!ret_a)
		delete_slot(&a, SLOT_BAR);
	ret_b = dmabuf_slot(&self->vm, SLOT_BAR, GPA_BAR, SLOT_LEN, fd, 0);
	EXPECT_EQ(-EACCES, ret_b) TH_LOG("another VM: %s",
					 ret_b ? strerror(-ret_b) : "accepted");
	if (!ret_b)
		delete_slot(&self->vm, SLOT_BAR);
	close(fd);
	EXPECT_EQ(0, tdisp_set(&self->d, "unlocked"));

	/* The refusals left nothing: the slot takes a shared buffer. */
	shared = export_one(&self->d, 0, SLOT_LEN);
	ASSERT_LE(0, shared) TH_LOG("shared export: %s", strerror(-shared));
	EXPECT_EQ(0, dmabuf_slot(&a, SLOT_BAR, GPA_BAR, SLOT_LEN, shared, 0));
	ret = guest_walk(&a, &g, GPA_BAR, SLOT_LEN, 0, 1);
	EXPECT_EQ(RUN_HLT, ret) TH_LOG("KVM_RUN: %s, exit %u", run_str(ret),
				       g.exit_reason);
	expect_pattern(_metadata, &g, "K12 shared after", SLOT_LEN, 0, 1);
	EXPECT_EQ(0, delete_slot(&a, SLOT_BAR));
	close(shared);
	vm_destroy(&a);
	note("K10: private dma-buf: the device's VM: %s; another VM: %s\n",
	     ret_a ? strerror(-ret_a) : "accepted",
	     ret_b ? strerror(-ret_b) : "accepted");
	note("K12: then a shared dma-buf in the same slot: %lu mismatches\n",
	     g.mismatches);
}

/*
 * BEHAVIOURS: K15 - a dma-buf exported O_RDONLY backs a slot the guest
 * reads but cannot write: its store exits as emulated MMIO (KVM_EXIT_MMIO,
 * a 4-byte write of the value at its GPA), as for KVM_MEM_READONLY, and
 * the BAR keeps its pattern. The same BAR exported O_RDWR takes the store
 * (the guest reads it back, and the host in the BAR through the vfio
 * region); the pattern is then put back.
 */
TEST_F_TIMEOUT(kvm_dmabuf, readonly_dmabuf_not_writable, TIMEOUT)
{
	const __u64 off = 2 * page_size;	/* the dword the guest stores */
	const uint32_t val = 0xdeadbeef, orig = pattern(off);
	struct vfio_region_dma_range r = { .offset = 0, .length = SLOT_LEN };
	struct vm *vm = &self->vm;
	uint32_t host;
	struct guest g;
	int ro, ret;

	ro = export(self->d.device, self->d.bar, &r, 1, O_CLOEXEC | O_RDONLY);
	ASSERT_LE(0, ro) TH_LOG("O_RDONLY export: %s", strerror(-ro));
	ASSERT_EQ(0, dmabuf_slot(vm, SLOT_BAR, GPA_BAR, SLOT_LEN, ro, 0));
	ret = guest_walk(vm, &g, GPA_BAR, SLOT_LEN, 0, 1);
	EXPECT_EQ(RUN_HLT, ret) TH_LOG("KVM_RUN: %s, exit %u", run_str(ret),
				       g.exit_reason);
	expect_pattern(_metadata, &g, "K15 read-only, reads", SLOT_LEN, 0, 1);

	ASSERT_EQ(0, guest_start_write(vm, &g, GPA_BAR + off, val));
	ret = vcpu_run(vm, &g, false);
	EXPECT_EQ(RUN_MMIO, ret) TH_LOG("the store: %s, exit %u", run_str(ret),
					g.exit_reason);
	EXPECT_TRUE(g.mmio_write);
	EXPECT_EQ(GPA_BAR + off, g.mmio_gpa);
	EXPECT_EQ(4, g.mmio_len);
	EXPECT_EQ(val, g.mmio_data);
	note("K15: O_RDONLY dma-buf: the guest's store -> %s, %s of %u bytes at 0x%llx (0x%08x)\n",
	     run_str(ret), g.mmio_write ? "a write" : "a read", g.mmio_len,
	     (unsigned long long)g.mmio_gpa, g.mmio_data);
	/* The VMM drops the write; the guest goes on and halts. */
	ret = vcpu_run(vm, &g, false);
	EXPECT_EQ(RUN_HLT, ret) TH_LOG("after the MMIO exit: %s", run_str(ret));
	ret = guest_walk(vm, &g, GPA_BAR + off, 0, off, 1);
	EXPECT_EQ(RUN_HLT, ret);
	EXPECT_EQ(orig, g.first[0]) TH_LOG("the read-only BAR changed");
	EXPECT_EQ(0, delete_slot(vm, SLOT_BAR));
	close(ro);

	/* O_RDWR: the store lands in the BAR. */
	ASSERT_EQ(0, dmabuf_slot(vm, SLOT_BAR, GPA_BAR, SLOT_LEN, self->buf, 0));
	ASSERT_EQ(0, guest_start_write(vm, &g, GPA_BAR + off, val));
	ret = vcpu_run(vm, &g, false);
	EXPECT_EQ(RUN_HLT, ret) TH_LOG("the O_RDWR store: %s", run_str(ret));
	ret = guest_walk(vm, &g, GPA_BAR + off, 0, off, 1);
	EXPECT_EQ(RUN_HLT, ret);
	EXPECT_EQ(val, g.first[0]) TH_LOG("the O_RDWR store did not land");
	/*
	 * And the host sees it in the BAR, read through vfio-pci's region
	 * (not through the slot), so that a store that only reached a copy
	 * the guest reads back would fail here.
	 */
	host = 0;
	EXPECT_EQ(4, pread(self->d.device, &host, 4,
			   self->d.regions[self->d.bar].offset + off));
	EXPECT_EQ(val, host) TH_LOG("the host reads 0x%08x in the BAR", host);
	note("K15: O_RDWR dma-buf: the store landed: guest 0x%08x, host (vfio region) 0x%08x\n",
	     g.first[0], host);
	ASSERT_EQ(0, guest_start_write(vm, &g, GPA_BAR + off, orig));
	ret = vcpu_run(vm, &g, false);
	EXPECT_EQ(RUN_HLT, ret);
	ret = guest_walk(vm, &g, GPA_BAR + off, 0, off, 1);
	EXPECT_EQ(orig, g.first[0]) TH_LOG("the pattern was not put back");
	EXPECT_EQ(0, delete_slot(vm, SLOT_BAR));
}

/*
 * BEHAVIOURS: K16 - 16 MiB exported at BAR offset 64 KiB, at a 2 GiB GPA:
 * the ranges allow 64 KiB blocks (order 4), a level the MMU does not have.
 * KVM rounds down and maps 4 KiB pages (about one fault a page: rounding
 * up to 2 MiB would map the BAR 64 KiB off, which the pattern would show),
 * and, under CONFIG_KVM_PROVE_MMU, does not WARN (the console scan, R1).
 */
TEST_F_TIMEOUT(kvm_dmabuf, odd_order_rounded_down, TIMEOUT)
{
	const __u64 off = 64 << 10;
	long long before, faults;
	struct guest g;
	int fd, ret;

	ASSERT_LE(SMALL_LEN + off, self->d.bar_size);
	ASSERT_EQ(RUN_HLT, guest_walk(&self->vm, &g, CODE_GPA, 0, 0, 1));
	fd = export_one(&self->d, off, SMALL_LEN);
	ASSERT_LE(0, fd) TH_LOG("export at 64 KiB: %s", strerror(-fd));
	ASSERT_EQ(0, dmabuf_slot(&self->vm, SLOT_BAR2, GPA_BAR2, SMALL_LEN, fd, 0));
	before = vm_stat(&self->vm, "pf_taken");
	ret = guest_walk(&self->vm, &g, GPA_BAR2, SMALL_LEN, off, 1);
	faults = vm_stat(&self->vm, "pf_taken") - before;
	EXPECT_EQ(RUN_HLT, ret) TH_LOG("KVM_RUN: %s, exit %u", run_str(ret),
				       g.exit_reason);
	expect_pattern(_metadata, &g, "K16 order 4", SMALL_LEN, off, 1);
	EXPECT_EQ(0, delete_slot(&self->vm, SLOT_BAR2));
	close(fd);
	note("K16: 16 MiB at BAR offset 64 KiB (order 4 blocks): %lld faults, %lu mismatches\n",
	     faults, g.mismatches);
	EXPECT_LE((long long)(SMALL_LEN / page_size) - 16, faults);
}

/* kvm.tdp_mmu is off: the shadow MMU, which prefetches, maps the guest. */
static bool shadow_mmu(void)
{
	char buf[8];

	return !sysfs_read("/sys/module/kvm/parameters/tdp_mmu", buf,
			   sizeof(buf)) && buf[0] == 'N';
}

/*
 * BEHAVIOURS: K13, K3 - the shadow MMU (kvm.tdp_mmu=0; nested paging is
 * the same code) prefetches the SPTEs around a 4 KiB fault from the host
 * pages behind the slot's hva. A dma-buf slot has none: its userspace_addr
 * points to a populated 0x5a decoy, and the guest must still read the BAR
 * at every page (a prefetched decoy page reads 0x5a5a5a5a, an MMIO SPTE
 * exits KVM_EXIT_MMIO). Skips with the TDP MMU, which never prefetches.
 */
TEST_F_TIMEOUT(kvm_dmabuf, no_prefetch_from_hva, TIMEOUT)
{
	const __u64 len = 4ull << 20;
	struct guest g;
	uint8_t *decoy;
	int fd, ret;

	if (!shadow_mmu())
		SKIP(return, "the TDP MMU never prefetches: boot with kvm.tdp_mmu=0");
	decoy = mmap(NULL, len, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	ASSERT_NE(MAP_FAILED, decoy);
	memset(decoy, 0x5a, len);
	/* At BAR offset 4 KiB: 4 KiB mappings only, so faults prefetch. */
	fd = export_one(&self->d, page_size, len);
	ASSERT_LE(0, fd) TH_LOG("export at 4 KiB: %s", strerror(-fd));
	ASSERT_EQ(0, set_slot(&self->vm, SLOT_BAR, KVM_MEM_DMABUF, GPA_BAR, len,
			      fd, 0, decoy));
	ret = guest_walk(&self->vm, &g, GPA_BAR, len, page_size, 1);
	EXPECT_EQ(RUN_HLT, ret) TH_LOG("KVM_RUN: %s, exit %u", run_str(ret),
				       g.exit_reason);
	expect_pattern(_metadata, &g, "K13", len, page_size, 1);
	note("K13: shadow MMU, 4 KiB mappings over a 0x5a decoy hva: %lu mismatches\n",
	     g.mismatches);
	EXPECT_EQ(0, delete_slot(&self->vm, SLOT_BAR));
	close(fd);
	munmap(decoy, len);
}

struct resetter {
	struct vdev *d;
	bool stop;	/* __atomic */
	int resets, err;
};

/* VFIO_DEVICE_RESET (or memory off and on) until told to stop. */
static void *reset_loop(void *arg)
{
	struct resetter *t = arg;

	while (!__atomic_load_n(&t->stop, __ATOMIC_ACQUIRE)) {
		int ret = 0;

		if (t->d->info.flags & VFIO_DEVICE_FLAGS_RESET)
			ret = ioctl(t->d->device, VFIO_DEVICE_RESET) ? -errno : 0;
		else
			ret = set_memory(t->d, false) ?: set_memory(t->d, true);
		if (ret) {
			t->err = -ret;
			break;
		}
		t->resets++;
	}
	return NULL;
}

#define DESTROY_VMS	300
#define DESTROY_SECONDS	15

/*
 * BEHAVIOURS: K11, R3 - VMs with a mapped dma-buf slot are torn down (the
 * last fd closed: kvm_destroy_vm() in this thread) while another thread
 * resets the device over and over, each reset revoking and so zapping the
 * slots of every VM still there. A revoke must never reach a VM whose
 * vCPUs or MMU are being freed (KASAN, and the WARN on an invalidation in
 * progress, found by the console scan: R1). The device is not registered
 * with KVM-VFIO, so vfio holds no VM reference: the last put is ours.
 * Needs 2 CPUs or more to overlap for real; the note says how many there are.
 */
TEST_F_TIMEOUT(kvm_dmabuf, destroy_vm_while_reset, TIMEOUT)
{
	struct resetter t = { .d = &self->d };
	unsigned long vms = 0, read = 0, revoked = 0;
	time_t end = time(NULL) + DESTROY_SECONDS;
	struct guest g;
	pthread_t th;
	int ret = 0;

	vm_destroy(&self->vm);	/* the fixture's: each round makes its own */
	ASSERT_EQ(0, pthread_create(&th, NULL, reset_loop, &t));
	while (vms < DESTROY_VMS && time(NULL) < end) {
		struct vm vm;

		ret = vm_init(&vm, -1);
		if (ret)
			break;
		ret = dmabuf_slot(&vm, SLOT_BAR, GPA_BAR, SLOT_LEN, self->buf, 0);
		/* A short walk: more VMs, more teardowns to race. */
		if (!ret)
			ret = guest_walk(&vm, &g, GPA_BAR, 1 << 20, 0, 1);
		vm_destroy(&vm);
		vms++;
		if (ret == RUN_REVOKED) {
			revoked++;
			ret = 0;
			continue;
		}
		if (ret != RUN_HLT || g.mismatches) {
			ret = ret == RUN_HLT ? 1 : ret;	/* 1: a stale mapping */
			break;
		}
		read++;
		ret = 0;
	}
	__atomic_store_n(&t.stop, true, __ATOMIC_RELEASE);
	pthread_join(th, NULL);
	note("K11: %lu VMs destroyed during %d resets, %ld CPUs\n", vms,
	     t.resets, sysconf(_SC_NPROCESSORS_ONLN));
	note("K11: %lu guests read the BAR, %lu exited revoked\n", read, revoked);
	EXPECT_EQ(0, ret) TH_LOG("round %lu: %s, exit %u", vms,
				 ret == 1 ? "a mismatch" : run_str(ret),
				 g.exit_reason);
	EXPECT_EQ(0, t.err) TH_LOG("the resetting thread: %s", strerror(t.err));
	EXPECT_LT(0, vms);
	EXPECT_LT(0, t.resets);
	EXPECT_EQ(0, vm_init(&self->vm, -1));	/* for the teardown */
}

/*
 * The E3 child: device, VM, slot, and the guest walking forever. Writes a
 * byte to @ready after the first pass; exits only on an error.
 */
static void vmm_forever(int ready)
{
	struct guest g;
	struct vdev d;
	struct vm vm;
	int fd;

	if (vdev_open_exporting(&d, IVSHMEM_VENDOR, IVSHMEM_DEVICE))
		_exit(1);
	fd = export_one(&d, 0, SLOT_LEN);
	if (fd < 0 || vm_init(&vm, -1) ||
	    dmabuf_slot(&vm, SLOT_BAR, GPA_BAR, SLOT_LEN, fd, 0) ||
	    guest_start(&vm, &g, GPA_BAR, SLOT_LEN, 0, 0))
		_exit(2);
	while (vcpu_run(&vm, &g, true) == RUN_PASS && !g.mismatches)
		if (g.passes == 1 && write(ready, "r", 1) != 1)
			_exit(3);
	_exit(4);
}

/*
 * BEHAVIOURS: E3 - the VMM killed (SIGKILL) while its guest reads the BAR:
 * the device is reused (opened, exported, read by a new VM's guest), no
 * dma-buf of the dead VMM is left; no_leaks and the console scan check the
 * rest.
 */
TEST_F_TIMEOUT(kvm_dmabuf, vmm_killed, TIMEOUT)
{
	struct pollfd pfd = { .events = POLLIN };
	int p[2], status = 0, fd, ret, n;
	struct guest g;
	char c = 0;
	pid_t child;

	close(self->buf);
	self->buf = -1;
	vdev_close(&self->d);	/* the group opens once: the child's now */
	ASSERT_EQ(0, pipe(p));
	child = fork();
	ASSERT_LE(0, child);
	if (!child) {
		close(p[0]);
		vmm_forever(p[1]);
	}
	close(p[1]);
	pfd.fd = p[0];
	n = poll(&pfd, 1, 60 * 1000);
	EXPECT_EQ(1, n > 0 ? read(p[0], &c, 1) : 0)
		TH_LOG("the child never ran a pass");
	close(p[0]);
	sleep(1);
	kill(child, SIGKILL);
	ASSERT_EQ(child, waitpid(child, &status, 0));
	EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
		TH_LOG("the child exited by itself: status 0x%x", status);
	n = wait_vfio_dmabufs(0);
	EXPECT_EQ(0, n) TH_LOG("dma-bufs of the killed VMM left in " BUFINFO);

	ret = vdev_open_exporting(&self->d, IVSHMEM_VENDOR, IVSHMEM_DEVICE);
	ASSERT_EQ(0, ret) TH_LOG("reopening after the kill: %s", self->d.err);
	fd = export_one(&self->d, 0, SLOT_LEN);
	ASSERT_LE(0, fd) TH_LOG("export after the kill: %s", strerror(-fd));
	ASSERT_EQ(0, dmabuf_slot(&self->vm, SLOT_BAR, GPA_BAR, SLOT_LEN, fd, 0));
	ret = guest_walk(&self->vm, &g, GPA_BAR, SLOT_LEN, 0, 1);
	EXPECT_EQ(RUN_HLT, ret) TH_LOG("KVM_RUN: %s, exit %u", run_str(ret), g.exit_reason);
	expect_pattern(_metadata, &g, "E3 reuse", SLOT_LEN, 0, 1);
	note("E3: VMM killed after %s pass; %d dma-bufs left\n",
	     c ? "its first" : "no", n);
	note("E3: the device reused: a new guest read it, %lu mismatches\n",
	     g.mismatches);
	EXPECT_EQ(0, delete_slot(&self->vm, SLOT_BAR));
	close(fd);
}

/* ---- fault injection (R5, fail_nth_sweep() in vfio_pci_util.h) ---- */

#define FAIL_LEN	(2ull << 20)	/* one 2 MiB mapping */

struct fail_kvm {
	struct vm *vm;
	int buf;
	struct guest g;
};

static int fail_bind_run(void *ctx)
{
	struct fail_kvm *k = ctx;

	return dmabuf_slot(k->vm, SLOT_BAR, GPA_BAR, FAIL_LEN, k->buf, 0);
}

static void fail_bind_undo(void *ctx)
{
	struct fail_kvm *k = ctx;

	delete_slot(k->vm, SLOT_BAR);
}

/* A failed bind leaves no slot, half-made or whole: it can be made. */
static bool fail_bind_check(void *ctx, char *why, size_t len)
{
	int ret = fail_bind_run(ctx);

	if (ret) {
		snprintf(why, len, "a slot that cannot be made again (%s)",
			 strerror(-ret));
		return false;
	}
	fail_bind_undo(ctx);
	return true;
}

/* The guest reads the slot's 2 MiB: KVM_RUN faults them in from the phyr. */
static int fail_fault_run(void *ctx)
{
	struct fail_kvm *k = ctx;
	int ret = guest_walk(k->vm, &k->g, GPA_BAR, FAIL_LEN, 0, 1);

	if (ret == RUN_HLT)
		return 0;
	return ret < 0 ? ret : -EPROTO;
}

/* A new slot: no SPTE of it is left, the next run faults again. */
static void fail_fault_undo(void *ctx)
{
	struct fail_kvm *k = ctx;

	delete_slot(k->vm, SLOT_BAR);
	if (fail_bind_run(ctx))
		k->buf = -1;	/* the next run fails, and says so */
}

/* After a failed fault the guest reads the whole BAR pattern again. */
static bool fail_fault_check(void *ctx, char *why, size_t len)
{
	struct fail_kvm *k = ctx;
	int ret = fail_fault_run(ctx);

	fail_fault_undo(ctx);
	if (ret || k->g.mismatches) {
		snprintf(why, len, "a guest that no longer reads the BAR: %s, %lu mismatches",
			 ret ? strerror(-ret) : "halted", k->g.mismatches);
		return false;
	}
	return true;
}

/*
 * BEHAVIOURS: R5 - every allocation of the KVM_MEM_DMABUF bind and of the
 * fault that maps the dma-buf's memory into the guest fails in turn:
 * -ENOMEM from KVM_SET_USER_MEMORY_REGION2 and from KVM_RUN, nothing left
 * behind (the slot can be made again, the guest reads the BAR after).
 */
TEST_F_TIMEOUT(kvm_dmabuf, fail_nth, 4 * TIMEOUT)
{
	static const struct fail_nth_op bind_op = {
		"KVM bind (KVM_SET_USER_MEMORY_REGION2, KVM_MEM_DMABUF, 2 MiB)",
		fail_bind_run, fail_bind_undo, fail_bind_check, { -ENOMEM } };
	static const struct fail_nth_op fault_op = {
		"KVM fault (KVM_RUN, the guest reads 2 MiB of the slot)",
		fail_fault_run, fail_fault_undo, fail_fault_check,
		{ -ENOMEM } };
	struct fail_kvm k = { .vm = &self->vm, .buf = self->buf };

	fail_nth_sweep(_metadata, &bind_op, &k);
	ASSERT_EQ(0, fail_bind_run(&k));
	fail_nth_sweep(_metadata, &fault_op, &k);
	EXPECT_EQ(0, k.g.mismatches);
	delete_slot(&self->vm, SLOT_BAR);
}

/*
 * BEHAVIOURS: E3, R1, V11 - after every test above (slots, refusals,
 * revokes, the race, the killed VMM), kmemleak finds nothing. Runs last:
 * the harness runs a fixture's tests in the order they are written.
 */
TEST_F_TIMEOUT(kvm_dmabuf, no_leaks, TIMEOUT)
{
	expect_no_leaks(_metadata);
}

TEST_HARNESS_MAIN
