// SPDX-License-Identifier: GPL-2.0
/*
 * udmabuf exchanged as phyr and as sg_table, seen through the in-kernel
 * test importer (CONFIG_DMABUF_PHYR_TEST_IMPORTER, debugfs
 * dma_buf_phyr_importer/ctl; see drivers/dma-buf/dma-buf-phyr-test-importer.c).
 *
 * Each test builds a 4 MiB sealed memfd filled with the rig's pattern (the
 * little-endian u32 at byte offset o is (o / 4) * MUL ^ XOR, as
 * tools/testing/phyr/mkrig.py writes the ivshmem BAR) and a udmabuf over
 * it. Needs root and debugfs mounted at /sys/kernel/debug.
 */
#define _GNU_SOURCE
#define __EXPORTED_HEADERS__

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include <linux/memfd.h>
#include <linux/udmabuf.h>

#include "../../kselftest_harness.h"
#include "phyr_test_importer.h"

#define BUF_SIZE	(4u << 20)
#define PATTERN_MUL	2654435761u
#define PATTERN_XOR	0x50485952u

static uint32_t pattern(size_t off)
{
	return (uint32_t)(off / 4) * PATTERN_MUL ^ PATTERN_XOR;
}

/* What the importer saw, for the log and tools/testing/phyr/report.sh. */
static void note(const char *fmt, ...)
{
	va_list ap;

	printf("# udmabuf-phyr: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fflush(stdout);
}

/* The report's lines, one "# udmabuf-phyr: MODE: ..." each. */
static void note_report(const char *mode, const char *report)
{
	ti_note_lines("udmabuf-phyr", mode, report);
}

FIXTURE(udmabuf) {
	int memfd;
	int buf;	/* the udmabuf's dma-buf fd */
	int ctl;	/* the test importer, or -1 */
};

FIXTURE_SETUP(udmabuf)
{
	struct udmabuf_create create = { 0 };
	uint32_t *p;
	size_t i;
	int dev;

	self->memfd = -1;
	self->buf = -1;
	self->ctl = -1;
	dev = open("/dev/udmabuf", O_RDWR);
	if (dev < 0)
		SKIP(return, "no /dev/udmabuf (CONFIG_UDMABUF): %s", strerror(errno));

	self->memfd = memfd_create("udmabuf-phyr", MFD_ALLOW_SEALING);
	ASSERT_LE(0, self->memfd);
	ASSERT_EQ(0, ftruncate(self->memfd, BUF_SIZE));
	ASSERT_EQ(0, fcntl(self->memfd, F_ADD_SEALS, F_SEAL_SHRINK));
	p = mmap(NULL, BUF_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		 self->memfd, 0);
	ASSERT_NE(MAP_FAILED, p);
	for (i = 0; i < BUF_SIZE / 4; i++)
		p[i] = pattern(i * 4);
	munmap(p, BUF_SIZE);

	create.memfd = self->memfd;
	create.flags = UDMABUF_FLAGS_CLOEXEC;
	create.offset = 0;
	create.size = BUF_SIZE;
	self->buf = ioctl(dev, UDMABUF_CREATE, &create);
	ASSERT_LE(0, self->buf) TH_LOG("UDMABUF_CREATE: %s", strerror(errno));
	close(dev);

	self->ctl = open(IMPORTER, O_RDWR);
}

FIXTURE_TEARDOWN(udmabuf)
{
	if (self->ctl >= 0)
		close(self->ctl);
	if (self->buf >= 0)
		close(self->buf);
	if (self->memfd >= 0)
		close(self->memfd);
}

/* BEHAVIOURS: B9 - fdinfo shows the offer and the revoke state. */
TEST_F_TIMEOUT(udmabuf, fdinfo, 120)
{
	char path[64], line[256];
	int descs = 0, revocable = 0, revoked = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", self->buf);
	f = fopen(path, "r");
	ASSERT_NE(NULL, f);
	while (fgets(line, sizeof(line), f)) {
		note("fdinfo: %s", line);
		if (!strcmp(line, "phyr_descs:\tsg_table phyr\n"))
			descs++;
		else if (!strcmp(line, "revocable:\tno\n"))
			revocable++;
		else if (!strcmp(line, "revoked:\tno\n"))
			revoked++;
	}
	fclose(f);
	EXPECT_EQ(1, descs) TH_LOG("no \"phyr_descs:\\tsg_table phyr\" line");
	EXPECT_EQ(1, revocable) TH_LOG("no \"revocable:\\tno\" line");
	EXPECT_EQ(1, revoked) TH_LOG("no \"revoked:\\tno\" line");
}

/*
 * BEHAVIOURS: B1 - a phyr importer gets the exporter's phyr: RAM chunks
 * covering the 4 MiB, with the memfd's bytes.
 */
TEST_F_TIMEOUT(udmabuf, phyr_map, 120)
{
	unsigned int chunks, ranges;
	int n;
	unsigned long long len;
	const char *r, *m;

	if (self->ctl < 0)
		SKIP(return, NO_IMPORTER);
	ASSERT_EQ(0, ti_cmd(self->ctl, "attach %d phyr", self->buf))
		note_report("phyr", ti_report(self->ctl));
	note_report("phyr", ti_report(self->ctl));
	EXPECT_NE(NULL, strstr(ti_report(self->ctl), "lifetime revocable"));
	ASSERT_EQ(0, ti_cmd(self->ctl, "map"))
		note_report("phyr", ti_report(self->ctl));
	r = ti_report(self->ctl);
	note_report("phyr", r);
	m = strstr(r, "map phyr ");
	ASSERT_NE(NULL, m);
	n = sscanf(m, "map phyr chunks %u ranges %u len %llu", &chunks,
		   &ranges, &len);
	ASSERT_EQ(3, n);
	EXPECT_EQ(BUF_SIZE, len);
	EXPECT_LE(1, chunks);
	EXPECT_NE(NULL, strstr(m, "providers ram dma_mapped no"))
		TH_LOG("not only RAM chunks, or a DMA-mapped phyr");
	EXPECT_EQ(0, ti_cmd(self->ctl, "check %u %u", PATTERN_MUL, PATTERN_XOR))
		note_report("phyr", ti_report(self->ctl));
	note_report("phyr", ti_report(self->ctl));
	EXPECT_EQ(0, ti_cmd(self->ctl, "unmap"));
	EXPECT_EQ(0, ti_cmd(self->ctl, "detach"));
	/* udmabuf never revokes. */
	EXPECT_NE(NULL, strstr(ti_report(self->ctl), "revokes 0 restores 0"));
}

/*
 * BEHAVIOURS: B1 - a legacy importer (dma_buf_attach(),
 * dma_buf_map_attachment_unlocked(), no change to its code) gets an
 * sg_table covering the buffer, through the edu device's IOMMU in the rig.
 */
TEST_F_TIMEOUT(udmabuf, sgt_map, 120)
{
	unsigned int nents;
	int n;
	unsigned long long len;
	const char *r, *m;

	if (self->ctl < 0)
		SKIP(return, NO_IMPORTER);
	ASSERT_EQ(0, ti_cmd(self->ctl, "attach %d sgt", self->buf))
		note_report("sgt", ti_report(self->ctl));
	note_report("sgt", ti_report(self->ctl));
	ASSERT_EQ(0, ti_cmd(self->ctl, "map"))
		note_report("sgt", ti_report(self->ctl));
	r = ti_report(self->ctl);
	note_report("sgt", r);
	m = strstr(r, "map sgt ");
	ASSERT_NE(NULL, m);
	n = sscanf(m, "map sgt nents %u dma_len %llu", &nents, &len);
	ASSERT_EQ(2, n);
	EXPECT_EQ(BUF_SIZE, len);
	EXPECT_LE(1, nents);
	EXPECT_NE(NULL, strstr(m, "page_aligned yes"));
	EXPECT_EQ(0, ti_cmd(self->ctl, "unmap"));
	EXPECT_EQ(0, ti_cmd(self->ctl, "detach"));
}

/*
 * BEHAVIOURS: B3, B4 - udmabuf offers the pinned class: a pinned phyr
 * importer attaches, maps, reads the bytes and never sees a revoke.
 */
TEST_F_TIMEOUT(udmabuf, pinned_map, 120)
{
	if (self->ctl < 0)
		SKIP(return, NO_IMPORTER);
	ASSERT_EQ(0, ti_cmd(self->ctl, "attach %d pinned", self->buf))
		note_report("pinned", ti_report(self->ctl));
	note_report("pinned", ti_report(self->ctl));
	EXPECT_NE(NULL, strstr(ti_report(self->ctl), "lifetime pinned"));
	ASSERT_EQ(0, ti_cmd(self->ctl, "map"))
		note_report("pinned", ti_report(self->ctl));
	note_report("pinned", ti_report(self->ctl));
	EXPECT_NE(NULL, strstr(ti_report(self->ctl), " len 4194304 "));
	EXPECT_EQ(0, ti_cmd(self->ctl, "check %u %u", PATTERN_MUL, PATTERN_XOR))
		note_report("pinned", ti_report(self->ctl));
	note_report("pinned", ti_report(self->ctl));
	EXPECT_EQ(0, ti_cmd(self->ctl, "unmap"));
	EXPECT_NE(NULL, strstr(ti_report(self->ctl), "revokes 0 restores 0"));
	EXPECT_EQ(0, ti_cmd(self->ctl, "detach"));
}

/*
 * BEHAVIOURS: B11 - the RDMA pinned MR (a dynamic attach whose
 * invalidate_mappings only logs, then dma_buf_pin()) keeps working with an
 * exporter that offers the pinned class and never revokes: udmabuf. A
 * revocable exporter refuses its pin (the KUnit suite and the vfio
 * selftests show that side).
 */
TEST_F_TIMEOUT(udmabuf, rdma_pinned_mr, 120)
{
	if (self->ctl < 0)
		SKIP(return, NO_IMPORTER);
	ASSERT_EQ(0, ti_cmd(self->ctl, "attach %d rdma", self->buf))
		note_report("rdma", ti_report(self->ctl));
	note_report("rdma", ti_report(self->ctl));
	EXPECT_NE(NULL, strstr(ti_report(self->ctl), "lifetime dynamic"));
	ASSERT_EQ(0, ti_cmd(self->ctl, "map"))
		note_report("rdma", ti_report(self->ctl));
	note_report("rdma", ti_report(self->ctl));
	EXPECT_NE(NULL, strstr(ti_report(self->ctl), "map sgt "));
	EXPECT_EQ(0, ti_cmd(self->ctl, "unmap"));
	EXPECT_NE(NULL, strstr(ti_report(self->ctl), "revokes 0 restores 0"));
	EXPECT_EQ(0, ti_cmd(self->ctl, "detach"));
}

/* BEHAVIOURS: B1 - existing users see no change: mmap of the udmabuf. */
TEST_F_TIMEOUT(udmabuf, mmap_reads_pattern, 120)
{
	const uint32_t *p;
	size_t i, bad = 0;

	p = mmap(NULL, BUF_SIZE, PROT_READ, MAP_SHARED, self->buf, 0);
	ASSERT_NE(MAP_FAILED, p);
	for (i = 0; i < BUF_SIZE / 4; i++)
		bad += p[i] != pattern(i * 4);
	munmap((void *)p, BUF_SIZE);
	EXPECT_EQ(0, bad);
}

/* BEHAVIOURS: R2 - malformed requests to the importer, each with its errno. */
TEST_F_TIMEOUT(udmabuf, importer_bad_requests, 120)
{
	static const struct {
		const char *what;
		const char *cmd;	/* %d: the fd given */
		int fd;			/* -2: the udmabuf, -3: the memfd */
		bool attached;		/* attach the udmabuf first */
		int err;
	} cases[] = {
		{ "negative fd", "attach %d phyr", -1, false, EBADF },
		{ "fd not open", "attach %d phyr", 999, false, EBADF },
		{ "not a dma-buf (the memfd)", "attach %d phyr", -3, false, EINVAL },
		{ "unknown mode", "attach %d dynamic-ish", -2, false, EINVAL },
		{ "no mode", "attach %d", -2, false, EINVAL },
		{ "fd not a number", "attach x%d phyr", -2, false, EINVAL },
		{ "too many words", "attach %d phyr phyr", -2, false, EINVAL },
		{ "unknown command", "frobnicate", 0, false, EINVAL },
		{ "empty command", " ", 0, false, EINVAL },
		{ "map before attach", "map", 0, false, ENOENT },
		{ "unmap before attach", "unmap", 0, false, ENOENT },
		{ "detach before attach", "detach", 0, false, ENOENT },
		{ "second attach", "attach %d sgt", -2, true, EBUSY },
		{ "check before map", "check 1 2", 0, true, ENOENT },
		{ "check without pattern", "check", 0, true, EINVAL },
		{ "unmap before map", "unmap", 0, true, ENOENT },
	};
	unsigned int i;

	if (self->ctl < 0)
		SKIP(return, NO_IMPORTER);
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		int fd = cases[i].fd;
		int ctl = open(IMPORTER, O_RDWR);
		int ret;

		if (fd == -2)
			fd = self->buf;
		else if (fd == -3)
			fd = self->memfd;

		ASSERT_LE(0, ctl);
		if (cases[i].attached)
			ASSERT_EQ(0, ti_cmd(ctl, "attach %d phyr", self->buf))
				note_report("bad", ti_report(ctl));
		ret = ti_cmd(ctl, cases[i].cmd, fd);
		note("bad request: %s: \"%s\": %s\n", cases[i].what,
		     cases[i].cmd, strerror(-ret));
		EXPECT_EQ(-cases[i].err, ret) TH_LOG("%s", cases[i].what);
		close(ctl);	/* detaches */
	}
}

TEST_HARNESS_MAIN
