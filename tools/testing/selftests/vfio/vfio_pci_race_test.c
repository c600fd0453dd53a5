// SPDX-License-Identifier: GPL-2.0
/*
 * Races on the rig's ivshmem BAR dma-buf (R3), and malformed reads of the
 * dma-buf fdinfo and bufinfo files (R2).
 *
 * R3: six operations run against each other on a dma-buf of the first
 * SHARED_LEN bytes of the BAR (vfio_pci_util.h opens the device and exports
 * it; kvm_vmm_util.h is the VMM):
 *   revoke   clear memory-space enable through the vfio config region, then
 *            set it again
 *   restore  set memory-space enable
 *   map      the in-kernel test importer (phyr mode) maps, checks the bytes
 *            through the CPU every CHECK_EVERY maps, and unmaps
 *   fault    a KVM guest pass over a KVM_MEM_DMABUF slot of the buffer
 *   detach   the test importer attaches and detaches; a KVM_MEM_DMABUF slot
 *            is created and deleted (on the fault side's VM, if it runs)
 *   close    a new dma-buf is exported, attached and mapped by a new
 *            importer (or, against fault, backs a slot), and closed with
 *            the importer still attached; then the importer is closed
 * Each pair (and each operation against itself) runs in two threads for
 * RACE_MS, each thread bound to a CPU of its own (the rig has two), and
 * counts its overlaps: the iterations it started while the other thread
 * was inside its operation (a flag each side sets around its operation).
 * A pair whose sides never overlapped, or did not run on two CPUs, fails:
 * it raced nothing. Every operation checks what it can: an attach (a slot bind), a
 * map or a fault succeeds or fails with ENODEV, and ENODEV only when the
 * pair revokes (upstream's exporter refuses to attach a revoked buffer);
 * a check or
 * a guest pass never reads a wrong dword (a stale mapping of the disabled
 * BAR reads all ones); the fdinfo "revoked:" line follows the config
 * writes when no other thread writes them. Afterwards the buffer is not
 * revoked, maps again and holds the pattern, the guest reads it, and no
 * fd nor dma-buf is left. lockdep, KASAN and kmemleak reports fail the
 * run through the console scan; no_leaks runs kmemleak last.
 *
 * Lines "# R3: A x B: N x M iterations, E errors, O x P overlaps, CPUs C/D"
 * give each pair's counts,
 * "# R3 refused: A x B: N x M" the ENODEV refusals, and "# R3: P pairs,
 * N iterations, E errors" the summary. "# R2 fdinfo: what: result" lines
 * are the bad-input table, "# R2 fdinfo: N inputs, each with its expected
 * result" its summary. Needs root, sysfs, debugfs and /dev/kvm.
 */
#include "vfio_pci_util.h"
#include "kvm_vmm_util.h"
#include "../drivers/dma-buf/phyr_test_importer.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>

#define SHARED_LEN	(2ull << 20)	/* one 2 MiB mapping for the guest */
#define RACE_MS		1000		/* each pair: the program stays under a minute in the rig */
#define CHECK_EVERY	4		/* maps */
#define MAX_ERRORS	100		/* a side stops after that many */
#define TIMEOUT		60		/* seconds, each test */
#define MAX_PAIRS	32

enum { OP_revoke, OP_restore, OP_map, OP_fault, OP_detach, OP_close, NR_OPS };

static const char *const op_names[NR_OPS] = {
	"revoke", "restore", "map", "fault", "detach", "close",
};

/* What the pairs counted, for the summary: shared with the forked tests. */
struct race_result {
	int a, b;
	unsigned long iters[2], refused[2], overlaps[2], errors;
};

static struct race_results {
	unsigned int nr;
	struct race_result r[MAX_PAIRS];
} *results;

static void __attribute__((constructor)) results_map(void)
{
	results = mmap(NULL, sizeof(*results), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (results == MAP_FAILED)
		results = NULL;
}

struct side {
	struct vdev *d;
	int buf;		/* the shared dma-buf */
	int op;
	struct side *peer;
	bool may_revoke;	/* the pair clears memory enable */
	struct timespec end;
	int ctl;		/* the side's test importer, or -1 */
	struct vm vm;		/* fault, detach: the side's VM */
	bool has_vm;
	struct guest g;
	unsigned long iters, refused, errors;
	atomic_int inside;	/* in its operation, for the peer to see */
	unsigned long overlaps;	/* operations started while the peer's ran */
	int cpu;		/* the CPU the side is bound to */
	int off_cpu;		/* iterations seen running elsewhere */
	char err[256];		/* the first error */
	pthread_t th;
};

static void side_err(struct side *s, const char *fmt, ...)
{
	va_list ap;

	if (!s->errors++) {
		va_start(ap, fmt);
		vsnprintf(s->err, sizeof(s->err), fmt, ap);
		va_end(ap);
	}
}

static const char *err_str(int ret)
{
	return ret < 0 ? strerror(-ret) : "succeeded";
}

/* A result the pair allows: 0, or -ENODEV when it revokes (counted). */
static bool ok_or_revoked(struct side *s, int ret)
{
	if (ret == -ENODEV && s->may_revoke) {
		s->refused++;
		return true;
	}
	return !ret;
}

static void op_revoke(struct side *s)
{
	int other = s->peer->op, ret;

	ret = set_memory(s->d, false);
	if (ret)
		return side_err(s, "memory disable: %s", strerror(-ret));
	/* Revoked before the config write returns, unless re-enabled. */
	if (other != OP_restore && other != OP_revoke &&
	    !fdinfo_is(s->buf, "revoked", "yes"))
		return side_err(s, "memory disabled, fdinfo not \"revoked: yes\"");
	ret = set_memory(s->d, true);
	if (ret)
		return side_err(s, "memory enable: %s", strerror(-ret));
	if (other != OP_revoke && !fdinfo_is(s->buf, "revoked", "no"))
		return side_err(s, "memory enabled, fdinfo not \"revoked: no\"");
}

static void op_restore(struct side *s)
{
	int ret = set_memory(s->d, true);

	if (ret)
		return side_err(s, "memory enable: %s", strerror(-ret));
	if (s->peer->op != OP_revoke && !fdinfo_is(s->buf, "revoked", "no"))
		return side_err(s, "memory enabled, fdinfo not \"revoked: no\"");
}

static void op_map(struct side *s)
{
	int ret = ti_cmd(s->ctl, "map");

	if (ret == -ENODEV && ok_or_revoked(s, ret))
		return;
	if (ret)
		return side_err(s, "map: %s", err_str(ret));
	if (!(s->iters % CHECK_EVERY)) {
		/* Revoked since the map: unmapped, ENOENT; never a stale read. */
		ret = ti_cmd(s->ctl, "check %u %u", PATTERN_MUL, PATTERN_XOR);
		if (ret && !(ret == -ENOENT && s->may_revoke))
			return side_err(s, "check after a map: %s: %s",
					err_str(ret), ti_report(s->ctl));
	}
	ret = ti_cmd(s->ctl, "unmap");
	if (ret && !(ret == -ENOENT && s->may_revoke))
		side_err(s, "unmap: %s", err_str(ret));
}

static void op_fault(struct side *s)
{
	unsigned long bad = s->g.mismatches;
	int ret = vcpu_run(&s->vm, &s->g, true);

	if (s->g.mismatches != bad)
		side_err(s, "the guest read 0x%08x at slot offset 0x%x, not 0x%08x",
			 s->g.bad_val, s->g.bad_off, pattern(s->g.bad_off));
	if (ret == -ENODEV && ok_or_revoked(s, ret)) {
		usleep(100);	/* let the revoking side run */
		return;
	}
	if (ret != RUN_PASS)
		side_err(s, "KVM_RUN: %s, exit_reason %u", run_str(ret),
			 s->g.exit_reason);
}

/* The VM the detach and close sides put slots in: the fault side's. */
static struct vm *slot_vm(struct side *s)
{
	return s->peer->op == OP_fault ? &s->peer->vm : &s->vm;
}

static void op_detach(struct side *s)
{
	struct vm *vm = slot_vm(s);
	int ret;

	/* A revoked buffer refuses the attach (vfio_pci_dma_buf_attach()). */
	ret = ti_cmd(s->ctl, "attach %d phyr", s->buf);
	if (ret == -ENODEV && ok_or_revoked(s, ret))
		goto slot;
	if (ret)
		return side_err(s, "attach: %s", err_str(ret));
	ret = ti_cmd(s->ctl, "detach");
	if (ret)
		return side_err(s, "detach: %s", err_str(ret));
slot:
	ret = dmabuf_slot(vm, SLOT_BAR2, GPA_BAR2, SHARED_LEN, s->buf, 0);
	if (ret == -ENODEV && ok_or_revoked(s, ret))
		return;
	if (ret)
		return side_err(s, "dma-buf slot: %s", err_str(ret));
	ret = delete_slot(vm, SLOT_BAR2);
	if (ret)
		side_err(s, "deleting the slot: %s", err_str(ret));
}

static void op_close(struct side *s)
{
	int fd, ctl, ret;

	fd = export_one(s->d, 0, SHARED_LEN);
	if (fd < 0)
		return side_err(s, "export: %s", err_str(fd));
	/* Against a guest: every other time, a slot holds the last reference. */
	if (s->peer->op == OP_fault && (s->iters & 1)) {
		ret = dmabuf_slot(&s->peer->vm, SLOT_BAR2, GPA_BAR2, SHARED_LEN,
				  fd, 0);
		close(fd);
		if (ret == -ENODEV && ok_or_revoked(s, ret))
			return;
		if (ret)
			return side_err(s, "dma-buf slot: %s", err_str(ret));
		ret = delete_slot(&s->peer->vm, SLOT_BAR2);
		if (ret)
			side_err(s, "deleting the slot: %s", err_str(ret));
		return;
	}
	ctl = open(IMPORTER, O_RDWR | O_CLOEXEC);
	if (ctl < 0) {
		close(fd);
		return side_err(s, IMPORTER ": %s", strerror(errno));
	}
	/* Exported while the pair had memory disabled: born revoked. */
	ret = ti_cmd(ctl, "attach %d phyr", fd);
	if (ret) {
		if (!ok_or_revoked(s, ret))
			side_err(s, "attach: %s", err_str(ret));
	} else {
		ret = ti_cmd(ctl, "map");
		if (!ok_or_revoked(s, ret))
			side_err(s, "map: %s", err_str(ret));
	}
	/* Attached and mapped: the dma-buf first, or the importer first. */
	if (s->iters & 1) {
		close(fd);
		close(ctl);
	} else {
		close(ctl);
		close(fd);
	}
}

static void (*const ops[NR_OPS])(struct side *s) = {
	op_revoke, op_restore, op_map, op_fault, op_detach, op_close,
};

static bool past(const struct timespec *end)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > end->tv_sec ||
	       (now.tv_sec == end->tv_sec && now.tv_nsec >= end->tv_nsec);
}

/*
 * Bound to its own CPU, the side runs its operation until the end time;
 * it flags itself inside around each one, and counts an overlap when the
 * peer was inside as it began. Seq-cst atomics: one side's flag store is
 * ordered before its load of the other's, so at least one of two truly
 * concurrent starts is counted.
 */
static void *side_run(void *arg)
{
	struct side *s = arg;
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(s->cpu, &set);
	if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set))
		side_err(s, "cannot bind to CPU %d", s->cpu);
	while (!past(&s->end) && s->errors < MAX_ERRORS) {
		atomic_store(&s->inside, 1);
		if (atomic_load(&s->peer->inside))
			s->overlaps++;
		ops[s->op](s);
		atomic_store(&s->inside, 0);
		if (sched_getcpu() != s->cpu)
			s->off_cpu++;
		s->iters++;
	}
	return NULL;
}

/* The side's importer and VM: 0 or -errno; @what says which failed. */
static int side_setup(struct side *s, const char **what)
{
	int ret;

	s->ctl = -1;
	s->vm.kvm = -1;
	s->vm.fd = -1;
	s->vm.vcpu = -1;
	if (s->op == OP_map || s->op == OP_detach) {
		*what = IMPORTER;
		s->ctl = open(IMPORTER, O_RDWR | O_CLOEXEC);
		if (s->ctl < 0)
			return -errno;
	}
	if (s->op == OP_map) {
		*what = "attach";
		ret = ti_cmd(s->ctl, "attach %d phyr", s->buf);
		if (ret)
			return ret;
	}
	if (s->op == OP_fault || s->op == OP_detach) {
		*what = "the VMM";
		ret = vm_init(&s->vm, -1);
		if (ret)
			return ret == VDEV_SKIP ? -ENOENT : ret;
		s->has_vm = true;
	}
	if (s->op == OP_fault) {
		*what = "the guest's slot";
		ret = dmabuf_slot(&s->vm, SLOT_BAR, GPA_BAR, SHARED_LEN, s->buf, 0);
		if (ret)
			return ret;
		ret = guest_start(&s->vm, &s->g, GPA_BAR, SHARED_LEN, 0, 0);
		if (ret)
			return ret;
	}
	return 0;
}

static void side_teardown(struct side *s)
{
	if (s->ctl >= 0)
		close(s->ctl);
	s->ctl = -1;
	if (s->has_vm)
		vm_destroy(&s->vm);
	s->has_vm = false;
}

/* ---- R3: the pairs ---- */

FIXTURE(race) {
	struct vdev d;
	int buf;	/* the first SHARED_LEN bytes of the BAR */
	int bufs;	/* vfio_pci dma-bufs with it */
};

FIXTURE_VARIANT(race) {
	int a, b;
};

FIXTURE_VARIANT_ADD(race, revoke_x_restore) { .a = OP_revoke, .b = OP_restore };
FIXTURE_VARIANT_ADD(race, revoke_x_map) { .a = OP_revoke, .b = OP_map };
FIXTURE_VARIANT_ADD(race, revoke_x_fault) { .a = OP_revoke, .b = OP_fault };
FIXTURE_VARIANT_ADD(race, revoke_x_detach) { .a = OP_revoke, .b = OP_detach };
FIXTURE_VARIANT_ADD(race, revoke_x_close) { .a = OP_revoke, .b = OP_close };
FIXTURE_VARIANT_ADD(race, restore_x_map) { .a = OP_restore, .b = OP_map };
FIXTURE_VARIANT_ADD(race, restore_x_fault) { .a = OP_restore, .b = OP_fault };
FIXTURE_VARIANT_ADD(race, restore_x_detach) { .a = OP_restore, .b = OP_detach };
FIXTURE_VARIANT_ADD(race, restore_x_close) { .a = OP_restore, .b = OP_close };
FIXTURE_VARIANT_ADD(race, map_x_fault) { .a = OP_map, .b = OP_fault };
FIXTURE_VARIANT_ADD(race, map_x_detach) { .a = OP_map, .b = OP_detach };
FIXTURE_VARIANT_ADD(race, map_x_close) { .a = OP_map, .b = OP_close };
FIXTURE_VARIANT_ADD(race, fault_x_detach) { .a = OP_fault, .b = OP_detach };
FIXTURE_VARIANT_ADD(race, fault_x_close) { .a = OP_fault, .b = OP_close };
FIXTURE_VARIANT_ADD(race, detach_x_close) { .a = OP_detach, .b = OP_close };
FIXTURE_VARIANT_ADD(race, revoke_x_revoke) { .a = OP_revoke, .b = OP_revoke };
FIXTURE_VARIANT_ADD(race, restore_x_restore) { .a = OP_restore, .b = OP_restore };
FIXTURE_VARIANT_ADD(race, map_x_map) { .a = OP_map, .b = OP_map };
FIXTURE_VARIANT_ADD(race, fault_x_fault) { .a = OP_fault, .b = OP_fault };
FIXTURE_VARIANT_ADD(race, detach_x_detach) { .a = OP_detach, .b = OP_detach };
FIXTURE_VARIANT_ADD(race, close_x_close) { .a = OP_close, .b = OP_close };

FIXTURE_SETUP(race)
{
	int ret;

	page_size = getpagesize();
	self->buf = -1;
	ret = vdev_open_exporting(&self->d, IVSHMEM_VENDOR, IVSHMEM_DEVICE);
	if (ret == VDEV_SKIP)
		SKIP(return, "%s", self->d.err);
	ASSERT_EQ(0, ret) TH_LOG("%s", self->d.err);
	if (access(IMPORTER, W_OK))
		SKIP(return, NO_IMPORTER);
	if (access("/dev/kvm", W_OK))
		SKIP(return, "no /dev/kvm (CONFIG_KVM_AMD, an SVM CPU)");
	self->buf = export_one(&self->d, 0, SHARED_LEN);
	ASSERT_LE(0, self->buf) TH_LOG("export: %s", strerror(-self->buf));
	self->bufs = count_vfio_dmabufs();
}

FIXTURE_TEARDOWN(race)
{
	if (self->buf >= 0)
		close(self->buf);
	tdisp_set(&self->d, "unlocked");	/* whatever a test left */
	vdev_close(&self->d);
}

/*
 * Afterwards: memory enabled, the buffer not revoked; a new importer maps
 * it and reads the pattern (B6: it maps again explicitly); a fault side's
 * guest completes a pass (K7).
 */
static void expect_usable(struct __test_metadata *_metadata, struct vdev *d,
			  int buf, struct side *sides)
{
	unsigned int i;
	int ctl, ret;

	ASSERT_EQ(0, set_memory(d, true));
	EXPECT_TRUE(cfg_read16(d, PCI_COMMAND) & PCI_COMMAND_MEMORY);
	EXPECT_TRUE(fdinfo_is(buf, "revoked", "no"));
	ctl = open(IMPORTER, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, ctl);
	EXPECT_EQ(0, ti_cmd(ctl, "attach %d phyr", buf));
	EXPECT_EQ(0, ti_cmd(ctl, "map"));
	ret = ti_cmd(ctl, "check %u %u", PATTERN_MUL, PATTERN_XOR);
	EXPECT_EQ(0, ret) TH_LOG("check after the race: %s", err_str(ret));
	if (ret)
		ti_note_lines("R3", "check after the race", ti_report(ctl));
	close(ctl);
	for (i = 0; i < 2; i++) {
		struct guest *g = &sides[i].g;

		if (sides[i].op != OP_fault)
			continue;
		ret = guest_walk(&sides[i].vm, g, GPA_BAR, SHARED_LEN, 0, 1);
		EXPECT_EQ(RUN_HLT, ret) TH_LOG("KVM_RUN after the race: %s, exit_reason %u",
					       run_str(ret), g->exit_reason);
		EXPECT_EQ(0, g->mismatches);
		EXPECT_EQ(SHARED_LEN, g->walked);
	}
}

/*
 * BEHAVIOURS: R3, V10, K8, B5, B10 - the two operations of the variant run
 * against each other for RACE_MS; see the top of the file.
 */
TEST_F_TIMEOUT(race, pair, TIMEOUT)
{
	const char *a = op_names[variant->a], *b = op_names[variant->b];
	struct side sides[2] = {};
	struct timespec end;
	int fds, ret, i;

	/* Two CPUs, or the sides only take turns (R3). */
	ASSERT_LE(2, sysconf(_SC_NPROCESSORS_ONLN))
		TH_LOG("one CPU online: the sides would not overlap");
	fds = count_fds();
	for (i = 0; i < 2; i++) {
		struct side *s = &sides[i];
		const char *what = "";

		s->d = &self->d;
		s->buf = self->buf;
		s->op = i ? variant->b : variant->a;
		s->peer = &sides[!i];
		s->may_revoke = variant->a == OP_revoke || variant->b == OP_revoke;
		s->cpu = i;
		ret = side_setup(s, &what);
		ASSERT_EQ(0, ret) TH_LOG("%s side: %s: %s", op_names[s->op], what,
					 strerror(-ret));
	}
	/*
	 * Both sides set up (fault x detach puts a slot in the fault's VM);
	 * the race time starts now: a VM's setup can take longer than it.
	 */
	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += RACE_MS / 1000;
	end.tv_nsec += (RACE_MS % 1000) * 1000000L;
	if (end.tv_nsec >= 1000000000L) {
		end.tv_sec++;
		end.tv_nsec -= 1000000000L;
	}
	for (i = 0; i < 2; i++) {
		sides[i].end = end;
		ASSERT_EQ(0, pthread_create(&sides[i].th, NULL, side_run, &sides[i]));
	}
	for (i = 0; i < 2; i++)
		pthread_join(sides[i].th, NULL);

	note("R3: %s x %s: %lu x %lu iterations, %lu errors, %lu x %lu overlaps, CPUs %d/%d\n",
	     a, b, sides[0].iters, sides[1].iters,
	     sides[0].errors + sides[1].errors, sides[0].overlaps,
	     sides[1].overlaps, sides[0].cpu, sides[1].cpu);
	note("R3 refused: %s x %s: %lu x %lu\n", a, b, sides[0].refused,
	     sides[1].refused);
	if (results && results->nr < MAX_PAIRS) {
		struct race_result *r = &results->r[results->nr++];

		r->a = variant->a;
		r->b = variant->b;
		for (i = 0; i < 2; i++) {
			r->iters[i] = sides[i].iters;
			r->refused[i] = sides[i].refused;
			r->overlaps[i] = sides[i].overlaps;
			r->errors += sides[i].errors;
		}
	}
	for (i = 0; i < 2; i++) {
		EXPECT_EQ(0, sides[i].errors)
			TH_LOG("%s x %s: the %s side: %lu errors, the first: %s",
			       a, b, op_names[sides[i].op], sides[i].errors,
			       sides[i].err);
		EXPECT_LT(0, sides[i].iters);
		EXPECT_EQ(0, sides[i].off_cpu)
			TH_LOG("the %s side ran off CPU %d %d times",
			       op_names[sides[i].op], sides[i].cpu,
			       sides[i].off_cpu);
	}
	EXPECT_LT(0, sides[0].overlaps + sides[1].overlaps)
		TH_LOG("%s x %s: the sides never overlapped", a, b);
	expect_usable(_metadata, &self->d, self->buf, sides);
	for (i = 0; i < 2; i++)
		side_teardown(&sides[i]);
	EXPECT_EQ(self->bufs, wait_vfio_dmabufs(self->bufs))
		TH_LOG("vfio_pci dma-bufs left in " BUFINFO);
	EXPECT_EQ(fds, count_fds()) TH_LOG("file descriptors left open");
}

/* ---- R2: fdinfo and bufinfo ---- */

enum { F_FDINFO, F_BUFINFO, F_CLOSED_FD };
enum {
	K_READ,		/* read(2) of arg bytes at 0: its result */
	K_CHUNKS,	/* read(2) arg bytes at a time: the same text */
	K_PREAD,	/* pread(2) of 64 bytes at offset arg */
	K_LSEEK,	/* lseek(2) to arg, whence */
	K_WRITE_RDONLY,	/* write(2) to the file opened O_RDONLY */
	K_WRITE_RDWR,	/* opened O_RDWR, write(2) */
	K_REVOKED,	/* fdinfo shows "revoked:\tyes" */
};

enum { PRE_NONE, PRE_REVOKE, PRE_CLOSE_DEVICE };

struct fdinfo_row {
	const char *what;
	int file, kind;
	long long arg;
	int whence, pre;
	int err;		/* expected errno, or 0 */
	long long want;		/* and then the expected result */
};

static void fdinfo_path(int file, int fd, char *path, size_t len)
{
	if (file == F_BUFINFO)
		snprintf(path, len, "%s", BUFINFO);
	else
		snprintf(path, len, "/proc/self/fdinfo/%d", fd);
}

/* All of @path in @len-byte reads into @buf: the length, or -errno. */
static long long read_all(const char *path, size_t chunk, char *buf, size_t len)
{
	size_t n = 0;
	ssize_t r;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	do {
		r = read(fd, buf + n, chunk < len - n ? chunk : len - n);
		n += r > 0 ? r : 0;
	} while (r > 0 && n < len);
	close(fd);
	return r < 0 ? -errno : (long long)n;
}

#define TEXT_LEN	65536

/* One row: the result (>= 0) or -errno; a text mismatch is -EBADMSG. */
static long long fdinfo_try(const struct fdinfo_row *row, int fd)
{
	static char whole[TEXT_LEN], part[TEXT_LEN];
	char path[PATH_MAX];
	long long ret, n;
	int f;

	fdinfo_path(row->file, fd, path, sizeof(path));
	switch (row->kind) {
	case K_CHUNKS:
	case K_REVOKED:
		n = read_all(path, TEXT_LEN, whole, TEXT_LEN);
		if (n < 0 || row->kind == K_REVOKED)
			return n < 0 ? n : !!memmem(whole, n, "revoked:\tyes\n", 13);
		ret = read_all(path, row->arg, part, TEXT_LEN);
		if (ret < 0)
			return ret;
		return ret == n && !memcmp(whole, part, n) ? n : -EBADMSG;
	case K_WRITE_RDWR:
		f = open(path, O_RDWR | O_CLOEXEC);
		break;
	default:
		f = open(path, O_RDONLY | O_CLOEXEC);
	}
	if (f < 0)
		return -errno;
	switch (row->kind) {
	case K_READ:
		ret = read(f, whole, row->arg);
		break;
	case K_PREAD:
		ret = pread(f, whole, 64, row->arg);
		break;
	case K_LSEEK:
		ret = lseek(f, row->arg, row->whence);
		break;
	default:
		ret = write(f, "x\n", 2);
	}
	ret = ret < 0 ? -errno : ret;
	close(f);
	return ret;
}

FIXTURE(fdinfo) {
	struct vdev d;
};

FIXTURE_SETUP(fdinfo)
{
	int ret;

	page_size = getpagesize();
	ret = vdev_open_exporting(&self->d, IVSHMEM_VENDOR, IVSHMEM_DEVICE);
	if (ret == VDEV_SKIP)
		SKIP(return, "%s", self->d.err);
	ASSERT_EQ(0, ret) TH_LOG("%s", self->d.err);
}

FIXTURE_TEARDOWN(fdinfo)
{
	vdev_close(&self->d);
}

/*
 * BEHAVIOURS: R2, B9 - odd and malformed reads of a vfio-pci dma-buf's
 * fdinfo and of bufinfo, each with the result or errno the kernel gives;
 * the buffer revoked, then its device closed: fdinfo still reads and
 * says revoked. No fd left.
 */
TEST_F_TIMEOUT(fdinfo, bad_reads, TIMEOUT)
{
	const long long big = 1ll << 40;
	const struct fdinfo_row rows[] = {
		{ "read 0 bytes", F_FDINFO, K_READ, 0 },
		{ "read 1 byte at a time, the same text", F_FDINFO, K_CHUNKS, 1,
		  .want = -1 },
		{ "read 7 bytes at a time, the same text", F_FDINFO, K_CHUNKS, 7,
		  .want = -1 },
		{ "pread at 4096, past the end", F_FDINFO, K_PREAD, 4096 },
		{ "pread at 2^40", F_FDINFO, K_PREAD, big },
		{ "pread at -1", F_FDINFO, K_PREAD, -1, .err = EINVAL },
		{ "lseek SEEK_END 0", F_FDINFO, K_LSEEK, 0, SEEK_END,
		  .err = EINVAL },
		{ "lseek SEEK_SET -1", F_FDINFO, K_LSEEK, -1, SEEK_SET,
		  .err = EINVAL },
		{ "lseek SEEK_CUR -1 at 0", F_FDINFO, K_LSEEK, -1, SEEK_CUR,
		  .err = EINVAL },
		{ "lseek SEEK_DATA 0", F_FDINFO, K_LSEEK, 0, SEEK_DATA,
		  .err = EINVAL },
		{ "lseek SEEK_SET 2^40, past the end", F_FDINFO, K_LSEEK, big,
		  SEEK_SET, .want = big },
		{ "write to an O_RDONLY open", F_FDINFO, K_WRITE_RDONLY,
		  .err = EBADF },
		{ "write to an O_RDWR open", F_FDINFO, K_WRITE_RDWR,
		  .err = EINVAL },
		{ "of a closed fd", F_CLOSED_FD, K_READ, 64, .err = ENOENT },
		{ "bufinfo: read 0 bytes", F_BUFINFO, K_READ, 0 },
		{ "bufinfo: read 1 byte at a time, the same text", F_BUFINFO,
		  K_CHUNKS, 1, .want = -1 },
		{ "bufinfo: read 13 bytes at a time, the same text", F_BUFINFO,
		  K_CHUNKS, 13, .want = -1 },
		{ "bufinfo: pread at 2^40", F_BUFINFO, K_PREAD, big },
		{ "bufinfo: pread at -1", F_BUFINFO, K_PREAD, -1, .err = EINVAL },
		{ "bufinfo: lseek SEEK_END 0", F_BUFINFO, K_LSEEK, 0, SEEK_END,
		  .err = EINVAL },
		{ "bufinfo: write to an O_RDWR open", F_BUFINFO, K_WRITE_RDWR,
		  .err = EINVAL },
		{ "of a revoked buffer: revoked: yes", F_FDINFO, K_REVOKED,
		  .pre = PRE_REVOKE, .want = 1 },
		{ "of a revoked buffer, 1 byte at a time", F_FDINFO, K_CHUNKS, 1,
		  .pre = PRE_REVOKE, .want = -1 },
		{ "of a buffer whose device was closed: revoked: yes", F_FDINFO,
		  K_REVOKED, .pre = PRE_CLOSE_DEVICE, .want = 1 },
		{ "of a buffer whose device was closed, 7 bytes at a time",
		  F_FDINFO, K_CHUNKS, 7, .pre = PRE_CLOSE_DEVICE, .want = -1 },
	};
	int buf, fds_before, lowest, dev = self->d.device, bad = 0;
	unsigned int i;
	long long ret;
	char res[64];

	buf = export_one(&self->d, 0, page_size);
	ASSERT_LE(0, buf) TH_LOG("export: %s", strerror(-buf));
	fds_before = count_fds();
	lowest = lowest_free_fd();
	for (i = 0; i < ARRAY_SIZE(rows); i++) {
		const struct fdinfo_row *row = &rows[i];
		bool ok;

		if (row->pre == PRE_REVOKE)
			ASSERT_EQ(0, set_memory(&self->d, false));
		if (row->pre == PRE_CLOSE_DEVICE && self->d.device >= 0) {
			close(self->d.device);
			self->d.device = -1;
		}
		ret = fdinfo_try(row, row->file == F_CLOSED_FD ? lowest : buf);
		if (row->pre == PRE_REVOKE)
			ASSERT_EQ(0, set_memory(&self->d, true));
		if (row->pre == PRE_CLOSE_DEVICE && row->kind == K_REVOKED)
			note_fdinfo("R2 device closed", buf);
		if (ret < 0)
			snprintf(res, sizeof(res), "%s", strerrorname_np(-ret) ?: "?");
		else if (row->kind == K_CHUNKS)
			snprintf(res, sizeof(res), "the same %lld bytes", ret);
		else if (row->kind == K_REVOKED)
			snprintf(res, sizeof(res), "%s", ret ? "shown" : "not shown");
		else
			snprintf(res, sizeof(res), "%lld", ret);
		note("R2 fdinfo: %s: %s\n", row->what, res);
		/* want -1: any length of the same text */
		ok = row->err ? ret == -row->err :
		     row->want < 0 ? ret > 0 : ret == row->want;
		EXPECT_TRUE(ok) TH_LOG("%s: %s, expected %s", row->what, res,
				       row->err ? strerrorname_np(row->err) :
				       "a success");
		bad += !ok;
	}
	/* But the device's, which the last rows closed. */
	EXPECT_EQ(fds_before - (dev >= 0), count_fds())
		TH_LOG("file descriptors left open");
	EXPECT_EQ(dev >= 0 && dev < lowest ? dev : lowest, lowest_free_fd());
	close(buf);
	if (!bad)
		note("R2 fdinfo: %u inputs, each with its expected result\n",
		     (unsigned int)ARRAY_SIZE(rows));
}

/* ---- last: the summary, kmemleak ---- */

FIXTURE(leaks) {
	int unused;
};

FIXTURE_SETUP(leaks)
{
}

FIXTURE_TEARDOWN(leaks)
{
}

/*
 * BEHAVIOURS: R1, R3, V11 - after the pairs and the bad reads, kmemleak
 * finds nothing. Runs last: its fixture is the last one.
 */
TEST_F_TIMEOUT(leaks, no_leaks, TIMEOUT)
{
	unsigned long iters = 0, errors = 0, overlaps = 0;
	unsigned int i, overlapped = 0;

	for (i = 0; results && i < results->nr; i++) {
		iters += results->r[i].iters[0] + results->r[i].iters[1];
		errors += results->r[i].errors;
		overlaps += results->r[i].overlaps[0] + results->r[i].overlaps[1];
		overlapped += !!(results->r[i].overlaps[0] + results->r[i].overlaps[1]);
	}
	if (results) {
		note("R3: %u pairs, %lu iterations, %lu errors, %lu overlaps\n",
		     results->nr, iters, errors, overlaps);
		note("R3: %u of %u pairs overlapped, on %ld CPUs\n", overlapped,
		     results->nr, sysconf(_SC_NPROCESSORS_ONLN));
	}
	expect_no_leaks(_metadata);
}

TEST_HARNESS_MAIN
