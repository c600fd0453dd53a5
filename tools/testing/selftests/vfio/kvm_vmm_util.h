/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A tiny VMM for the vfio selftests that run a KVM guest over a
 * KVM_MEM_DMABUF slot (vfio_pci_kvm_dmabuf_test.c, vfio_pci_race_test.c):
 * a 2 MiB RAM slot at GPA 0 with the guest code, one vCPU in 32-bit
 * protected mode with paging off (flat segments through KVM_SET_SREGS), a
 * second one on demand (vm_add_vcpu()), and port I/O to hear from the
 * guest. Include after vfio_pci_util.h.
 *
 * The guest (guest_code below) takes its parameters in registers: EBX the
 * GPA of the slot, ECX the bytes to walk, EBP the BAR offset the slot
 * starts at, ESI the stride, EDI the number of passes (0: forever). It
 * reports the first 16 bytes of the slot (PORT_BYTES, four dwords), then
 * each pass reads the dword at every stride and compares it with the
 * pattern it computes (imul); a mismatch reports the offset (PORT_BAD_OFF)
 * and the value (PORT_BAD_VAL); the end of a pass reports the bytes walked
 * (PORT_DONE). After the last pass it halts (KVM_EXIT_HLT).
 *
 * A second entry point, guest_write (guest_start_write()), stores ESI at
 * the GPA in EBX, reports PORT_DONE and halts: the write tests (K15).
 *
 * An access KVM cannot map because the exporter revoked the dma-buf exits
 * with KVM_EXIT_MEMORY_FAULT and KVM_MEMORY_EXIT_FLAG_REVOKED (K14);
 * vcpu_run() returns RUN_REVOKED for it and keeps the exit in struct guest.
 */
#ifndef KVM_VMM_UTIL_H
#define KVM_VMM_UTIL_H

#include <signal.h>

#include "vfio_pci_util.h"

#ifndef KVM_MEM_DMABUF
/* A uAPI header older than the dma-buf slots. */
#define KVM_MEM_DMABUF	0x8UL	/* bit 3 */
#endif
#ifndef KVM_MEMORY_EXIT_FLAG_REVOKED
#define KVM_MEMORY_EXIT_FLAG_REVOKED	0x10ULL	/* bit 4 */
#endif
#ifndef KVM_CAP_MEM_DMABUF
#define KVM_CAP_MEM_DMABUF	252
#endif

#define RUN_ALARM	30		/* seconds, one KVM_RUN */

#define RAM_SIZE	(2ul << 20)	/* slot 0 at GPA 0 */
#define CODE_GPA	0x1000ul
#define GPA_BAR		0x40000000ull	/* 1 GiB */
#define GPA_BAR2	0x80000000ull	/* 2 GiB */
#define SLOT_RAM	0
#define SLOT_BAR	1
#define SLOT_BAR2	2
#define HVA_SIZE	(128ul << 20)	/* PROT_NONE: userspace_addr of the slots */
#define STRIDE		4096

#define PORT_BYTES	0x10
#define PORT_BAD_OFF	0x11
#define PORT_BAD_VAL	0x12
#define PORT_DONE	0x13

/*
 * vcpu_run(): KVM_RUN failed with EFAULT and exited KVM_EXIT_MEMORY_FAULT
 * with KVM_MEMORY_EXIT_FLAG_REVOKED. The value of -ENODEV, the errno of the
 * 6.12 ABI, so that callers counting revoked exits need not change.
 */
#define RUN_REVOKED	(-ENODEV)

#define STR(x)		#x
#define XSTR(x)		STR(x)

/* The guest: see the comment at the top. 32-bit code, position independent. */
asm(".pushsection .text\n"
"	.code32\n"
"	.globl guest_code, guest_code_end\n"
"guest_code:\n"
"	mov $" XSTR(PORT_BYTES) ", %dx\n"
"	mov (%ebx), %eax\n"
"	outl %eax, %dx\n"
"	mov 4(%ebx), %eax\n"
"	outl %eax, %dx\n"
"	mov 8(%ebx), %eax\n"
"	outl %eax, %dx\n"
"	mov 12(%ebx), %eax\n"
"	outl %eax, %dx\n"
"1:	push %edi\n"			/* a pass: EDI is the offset */
"	xor %edi, %edi\n"
"2:	cmp %ecx, %edi\n"
"	jae 4f\n"
"	mov (%ebx,%edi), %edx\n"
"	lea (%ebp,%edi), %eax\n"
"	shr $2, %eax\n"
"	imul $2654435761, %eax, %eax\n"	/* PATTERN_MUL */
"	xor $0x50485952, %eax\n"		/* PATTERN_XOR */
"	cmp %eax, %edx\n"
"	je 3f\n"
"	push %edx\n"
"	mov %edi, %eax\n"
"	mov $" XSTR(PORT_BAD_OFF) ", %dx\n"
"	outl %eax, %dx\n"
"	pop %eax\n"
"	mov $" XSTR(PORT_BAD_VAL) ", %dx\n"
"	outl %eax, %dx\n"
"3:	add %esi, %edi\n"
"	jmp 2b\n"
"4:	mov %edi, %eax\n"
"	mov $" XSTR(PORT_DONE) ", %dx\n"
"	outl %eax, %dx\n"
"	pop %edi\n"
"	test %edi, %edi\n"
"	jz 1b\n"
"	dec %edi\n"
"	jnz 1b\n"
"5:	hlt\n"
"	jmp 5b\n"
"	.globl guest_write\n"
"guest_write:\n"			/* *(u32 *)EBX = ESI */
"	mov %esi, (%ebx)\n"
"	mov %esi, %eax\n"
"	mov $" XSTR(PORT_DONE) ", %dx\n"
"	outl %eax, %dx\n"
"6:	hlt\n"
"	jmp 6b\n"
"guest_code_end:\n"
"	.code64\n"
"	.popsection\n");

/* Where guest_code is in this program, and its length in *len. */
static const char *guest_code_at(size_t *len)
{
	const char *start, *end;

	asm("lea guest_code(%%rip), %0\n\t"
	    "lea guest_code_end(%%rip), %1" : "=r" (start), "=r" (end));
	*len = end - start;
	return start;
}

/* The GPA of guest_write, copied with guest_code to CODE_GPA. */
static inline __u64 guest_write_gpa(void)
{
	const char *start, *write;

	asm("lea guest_code(%%rip), %0\n\t"
	    "lea guest_write(%%rip), %1" : "=r" (start), "=r" (write));
	return CODE_GPA + (write - start);
}

/* The VMM: one VM, its RAM slot and one vCPU. */
struct vm {
	int kvm;
	int fd;
	int vcpu;
	struct kvm_run *run;
	size_t run_size;
	void *ram;
	void *hva;	/* PROT_NONE, the dma-buf slots' userspace_addr */
	__u64 stack;	/* the guest's initial ESP; 0: RAM_SIZE */
	char stats[PATH_MAX];	/* <debugfs>/kvm/<pid>-<vmfd> */
};

/* What the guest reported. */
struct guest {
	uint32_t first[4];
	unsigned int nr_first;
	unsigned long passes;
	uint32_t walked;	/* bytes, in the last pass */
	unsigned long mismatches;
	uint32_t bad_off, bad_val;	/* the first mismatch */
	uint32_t pending_off;
	__u32 exit_reason;	/* of the last failed KVM_RUN */
	/* The last KVM_EXIT_MEMORY_FAULT (K14). */
	__u64 mf_flags, mf_gpa, mf_size;
	/* The last KVM_EXIT_MMIO (K15): a write, its GPA, length and data. */
	bool mmio_write;
	__u64 mmio_gpa;
	__u32 mmio_len, mmio_data;
};

/* vcpu_run(): the guest halted, ended a pass, or accessed emulated MMIO. */
enum { RUN_HLT = 1, RUN_PASS, RUN_MMIO };

static void on_alarm(int sig)
{
	/* Only interrupts KVM_RUN (EINTR): a stuck guest cannot hang a test. */
}

static void vm_destroy(struct vm *vm)
{
	if (vm->run && vm->run != MAP_FAILED)
		munmap(vm->run, vm->run_size);
	if (vm->ram && vm->ram != MAP_FAILED)
		munmap(vm->ram, RAM_SIZE);
	if (vm->hva && vm->hva != MAP_FAILED)
		munmap(vm->hva, HVA_SIZE);
	if (vm->vcpu >= 0)
		close(vm->vcpu);
	if (vm->fd >= 0)
		close(vm->fd);
	if (vm->kvm >= 0)
		close(vm->kvm);
	memset(vm, 0, sizeof(*vm));
	vm->kvm = -1;
	vm->fd = -1;
	vm->vcpu = -1;
}

static void flat_segment(struct kvm_segment *s, __u16 selector, __u8 type)
{
	memset(s, 0, sizeof(*s));
	s->limit = 0xffffffff;
	s->selector = selector;
	s->type = type;
	s->present = 1;
	s->db = 1;
	s->s = 1;
	s->g = 1;
}

static int set_slot(struct vm *vm, __u32 slot, __u32 flags, __u64 gpa,
		    __u64 size, int fd, __u64 off, const void *hva)
{
	struct kvm_userspace_memory_region2 r = {
		.slot = slot,
		.flags = flags,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (__u64)(uintptr_t)hva,
		.guest_memfd_offset = off,
		.guest_memfd = (__u32)fd,
	};

	return ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION2, &r) ? -errno : 0;
}

static int dmabuf_slot(struct vm *vm, __u32 slot, __u64 gpa, __u64 size,
		       int fd, __u64 off)
{
	return set_slot(vm, slot, KVM_MEM_DMABUF, gpa, size, fd, off, vm->hva);
}

static int delete_slot(struct vm *vm, __u32 slot)
{
	return set_slot(vm, slot, 0, 0, 0, 0, 0, NULL);
}

/*
 * A VM (a new one, or a dup of @vmfd) with its RAM slot holding the guest
 * code and one vCPU in flat 32-bit protected mode: 0, VDEV_SKIP without
 * /dev/kvm, or -errno. No harness macro: the E3 child calls it too.
 */
static int vcpu_init(struct vm *vm, struct vm *out, int id);

static int vm_init(struct vm *vm, int vmfd)
{
	struct sigaction sa = { .sa_handler = on_alarm };
	const char *code;
	size_t code_len;
	int ret;

	memset(vm, 0, sizeof(*vm));
	vm->kvm = -1;
	vm->fd = -1;
	vm->vcpu = -1;
	sigaction(SIGALRM, &sa, NULL);
	vm->kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm < 0)
		return errno == ENOENT ? VDEV_SKIP : -errno;
	vm->fd = vmfd >= 0 ? dup(vmfd) : ioctl(vm->kvm, KVM_CREATE_VM, 0);
	if (vm->fd < 0)
		return -errno;
	snprintf(vm->stats, sizeof(vm->stats), "/sys/kernel/debug/kvm/%d-%d",
		 getpid(), vmfd >= 0 ? vmfd : vm->fd);

	vm->ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	vm->hva = mmap(NULL, HVA_SIZE, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (vm->ram == MAP_FAILED || vm->hva == MAP_FAILED)
		return -ENOMEM;
	code = guest_code_at(&code_len);
	memcpy((char *)vm->ram + CODE_GPA, code, code_len);
	ret = set_slot(vm, SLOT_RAM, 0, 0, RAM_SIZE, 0, 0, vm->ram);
	if (ret)
		return ret;

	return vcpu_init(vm, vm, 0);
}

/*
 * vCPU @id of @vm's VM in @out (which may be @vm): its fd, its kvm_run and
 * flat 32-bit protected mode, paging off. 0 or -errno.
 */
static int vcpu_init(struct vm *vm, struct vm *out, int id)
{
	struct kvm_sregs sregs;
	int ret;

	out->vcpu = ioctl(vm->fd, KVM_CREATE_VCPU, id);
	if (out->vcpu < 0)
		return -errno;
	ret = ioctl(vm->kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (ret <= 0)
		return -errno;
	out->run_size = ret;
	out->run = mmap(NULL, out->run_size, PROT_READ | PROT_WRITE,
			MAP_SHARED, out->vcpu, 0);
	if (out->run == MAP_FAILED)
		return -errno;

	if (ioctl(out->vcpu, KVM_GET_SREGS, &sregs))
		return -errno;
	flat_segment(&sregs.cs, 0x08, 0xb);	/* code, execute/read, accessed */
	flat_segment(&sregs.ds, 0x10, 0x3);	/* data, read/write, accessed */
	sregs.es = sregs.ds;
	sregs.fs = sregs.ds;
	sregs.gs = sregs.ds;
	sregs.ss = sregs.ds;
	sregs.cr0 = 0x11;			/* PE | ET, paging off */
	sregs.cr4 = 0;
	sregs.efer = 0;
	if (ioctl(out->vcpu, KVM_SET_SREGS, &sregs))
		return -errno;
	return 0;
}

/*
 * A second vCPU, @id, of @vm's VM in @out, with a stack of its own 64 KiB
 * below the first's; the VM, its slots and RAM stay @vm's: vm_destroy(@out)
 * closes the vCPU only. 0 or -errno. Inline: not every program races.
 */
static inline int vm_add_vcpu(struct vm *vm, struct vm *out, int id)
{
	memset(out, 0, sizeof(*out));
	out->kvm = -1;
	out->fd = -1;
	out->stack = RAM_SIZE - (__u64)id * 0x10000;
	return vcpu_init(vm, out, id);
}

/* Point the vCPU at the start of guest_code with these parameters. */
static int guest_start(struct vm *vm, struct guest *g, __u64 gpa, __u64 len,
		       __u64 bar_off, unsigned int passes)
{
	struct kvm_regs regs = {
		.rbx = gpa,
		.rcx = len,
		.rbp = bar_off,
		.rsi = STRIDE,
		.rdi = passes,
		.rsp = vm->stack ?: RAM_SIZE,
		.rip = CODE_GPA,
		.rflags = 2,
	};

	memset(g, 0, sizeof(*g));
	return ioctl(vm->vcpu, KVM_SET_REGS, &regs) ? -errno : 0;
}

/* Point the vCPU at guest_write: it stores @val at @gpa, then halts. */
static inline int guest_start_write(struct vm *vm, struct guest *g,
				    __u64 gpa, uint32_t val)
{
	struct kvm_regs regs = {
		.rbx = gpa,
		.rsi = val,
		.rsp = vm->stack ?: RAM_SIZE,
		.rip = guest_write_gpa(),
		.rflags = 2,
	};

	memset(g, 0, sizeof(*g));
	return ioctl(vm->vcpu, KVM_SET_REGS, &regs) ? -errno : 0;
}

/*
 * Run until the guest halts or, with @stop_at_pass, ends a pass: RUN_HLT,
 * RUN_PASS, RUN_REVOKED (the memory fault exit of a revoked dma-buf, in
 * g->mf_*), RUN_MMIO (an emulated MMIO access, in g->mmio_*; the access
 * stays pending), the -errno of KVM_RUN (-EINTR after RUN_ALARM seconds),
 * or -EPROTO for an exit the guest does not make (g->exit_reason).
 */
static int vcpu_run(struct vm *vm, struct guest *g, bool stop_at_pass)
{
	struct kvm_run *run = vm->run;
	uint32_t val;
	int ret, err;

	for (;;) {
		alarm(RUN_ALARM);
		ret = ioctl(vm->vcpu, KVM_RUN, 0);
		err = errno;
		alarm(0);
		g->exit_reason = run->exit_reason;
		if (ret < 0 && err == EFAULT &&
		    run->exit_reason == KVM_EXIT_MEMORY_FAULT) {
			g->mf_flags = run->memory_fault.flags;
			g->mf_gpa = run->memory_fault.gpa;
			g->mf_size = run->memory_fault.size;
			if (g->mf_flags & KVM_MEMORY_EXIT_FLAG_REVOKED)
				return RUN_REVOKED;
		}
		if (ret < 0)
			return -err;
		if (run->exit_reason == KVM_EXIT_HLT)
			return RUN_HLT;
		if (run->exit_reason == KVM_EXIT_MMIO) {
			g->mmio_write = run->mmio.is_write;
			g->mmio_gpa = run->mmio.phys_addr;
			g->mmio_len = run->mmio.len;
			memcpy(&g->mmio_data, run->mmio.data,
			       sizeof(g->mmio_data));
			return RUN_MMIO;
		}
		if (run->exit_reason != KVM_EXIT_IO ||
		    run->io.direction != KVM_EXIT_IO_OUT || run->io.size != 4 ||
		    run->io.count != 1)
			return -EPROTO;
		memcpy(&val, (char *)run + run->io.data_offset, sizeof(val));
		switch (run->io.port) {
		case PORT_BYTES:
			if (g->nr_first < ARRAY_SIZE(g->first))
				g->first[g->nr_first++] = val;
			break;
		case PORT_BAD_OFF:
			g->pending_off = val;
			break;
		case PORT_BAD_VAL:
			if (!g->mismatches++) {
				g->bad_off = g->pending_off;
				g->bad_val = val;
			}
			break;
		case PORT_DONE:
			g->passes++;
			g->walked = val;
			if (stop_at_pass)
				return RUN_PASS;
			break;
		default:
			return -EPROTO;
		}
	}
}

/* @passes passes over [gpa, gpa + len), the slot at BAR offset @bar_off. */
static int guest_walk(struct vm *vm, struct guest *g, __u64 gpa, __u64 len,
		      __u64 bar_off, unsigned int passes)
{
	int ret = guest_start(vm, g, gpa, len, bar_off, passes);

	return ret ?: vcpu_run(vm, g, false);
}

static const char *run_str(int ret)
{
	static char buf[64];

	if (ret == RUN_HLT)
		return "halted";
	if (ret == RUN_PASS)
		return "pass done";
	if (ret == RUN_MMIO)
		return "emulated MMIO exit";
	if (ret == RUN_REVOKED)
		return "memory fault exit, revoked";
	snprintf(buf, sizeof(buf), "%s", strerror(-ret));
	return buf;
}

#endif /* KVM_VMM_UTIL_H */
