// SPDX-License-Identifier: GPL-2.0
/*
 * vfio-pci exports ranges of a BAR as a dma-buf (VFIO_DEVICE_FEATURE_DMA_BUF,
 * feature 11, upstream's uAPI and exporter, drivers/vfio/pci/vfio_pci_dmabuf.c,
 * offering a phyr beside its sg_table): the buffer's phyr, its revocation
 * whenever the device stops decoding memory, the refusals. Where upstream's
 * exporter returns its own errno for a malformed request (ENODEV, EOVERFLOW)
 * that errno is expected; the stricter checks the uAPI allows give EINVAL.
 *
 * The device is the rig's ivshmem (1af4:1110, tools/testing/phyr), whose
 * 64 MiB BAR 2 holds a pattern the host wrote: the little-endian u32 at byte
 * offset o is (o / 4) * MUL ^ XOR (tools/testing/phyr/mkrig.py). The test
 * binds it to vfio-pci (driver_override, drivers_probe) and opens it with
 * the legacy group/container API and the type1 IOMMU backend; set
 * VFIO_PCI_DMABUF_BDF to use another device. ivshmem has no power
 * management capability, so the D3hot test uses the rig's NVMe controller
 * (1b36:0010, unbound from nvme) and its largest BAR, the CMB.
 *
 * What an importer sees is read through the in-kernel test importer
 * (CONFIG_DMABUF_PHYR_TEST_IMPORTER, <debugfs>/dma_buf_phyr_importer/ctl,
 * drivers/dma-buf/): in "phyr" mode it is a revocable importer that counts
 * revoke and restore notifications, and its map fails with ENODEV while the
 * buffer is revoked; in "private KVMFD" mode it accepts the private memory
 * of that VM. The private (TDISP RUN) state is driven through
 * <debugfs>/vfio/<device>/tdisp_state (CONFIG_VFIO_PCI_TDISP_TEST).
 *
 * Lines starting with "# vfio_pci_dmabuf: " say what the kernel reported;
 * tools/testing/phyr/report.sh shows them. Needs root, sysfs and debugfs.
 */
#define NOTE_PREFIX "vfio_pci_dmabuf: "

#include "vfio_pci_util.h"
#include "../drivers/dma-buf/phyr_test_importer.h"

#include <setjmp.h>
#include <signal.h>
#include <sys/eventfd.h>

#define NVME_VENDOR	0x1b36	/* QEMU's NVMe controller */
#define NVME_DEVICE	0x0010
#define MAX_RANGES	256	/* VFIO_PCI_DMABUF_MAX_RANGES */
/* The revocation tests export this much: the check reads it under TCG. */
#define REVOKE_LEN	(4ull << 20)
#define TIMEOUT		120	/* seconds, each test */

#define NO_CHECK_BASE	"bytes at a BAR offset not checked: " \
			"the test importer has no \"check MUL XOR BASE\""

/* The lines of @text, one note "TAG: line" each. */
static void note_lines(const char *tag, const char *text)
{
	ti_note_lines("vfio_pci_dmabuf", tag, text);
}

/* The config offset of capability @id, or 0. */
static unsigned int find_cap(struct vdev *d, uint8_t id)
{
	uint8_t pos = 0, hdr[2];
	int ttl = 48;

	if (!(cfg_read16(d, PCI_STATUS) & PCI_STATUS_CAP_LIST))
		return 0;
	if (cfg_read(d, PCI_CAPABILITY_LIST, &pos, 1))
		return 0;
	while ((pos &= ~3) && ttl--) {
		if (cfg_read(d, pos, hdr, sizeof(hdr)))
			return 0;
		if (hdr[0] == id)
			return pos;
		pos = hdr[1];
	}
	return 0;
}

/* ---- the test importer ---- */

/* Send a command, print the report under @tag: 0 or -errno. */
static int ti_do(int ctl, const char *tag, const char *fmt, ...)
{
	char cmd[128];
	va_list ap;
	int ret;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	ret = ti_cmd(ctl, "%s", cmd);
	note("%s: > %s: %s\n", tag, cmd, ret ? strerror(-ret) : "ok");
	note_lines(tag, ti_report(ctl));
	return ret;
}

/* The importer's status line: mapped, revoke and restore counts. */
static bool ti_counts(int ctl, int *revokes, int *restores, bool *mapped)
{
	const char *s = strstr(ti_report(ctl), " mapped ");
	char m[8];

	if (!s || sscanf(s, " mapped %7s revokes %d restores %d", m, revokes,
			 restores) != 3)
		return false;
	*mapped = !strcmp(m, "yes");
	return true;
}

/*
 * Compare the mapped buffer with the BAR's pattern, the buffer starting at
 * BAR offset @base. The importer's "check MUL XOR" counts from offset 0; a
 * non-zero base needs its optional third argument: -EOPNOTSUPP without it.
 */
static int ti_check(int ctl, const char *tag, uint64_t base)
{
	int ret;

	if (!base)
		return ti_do(ctl, tag, "check %u %u", PATTERN_MUL, PATTERN_XOR);
	ret = ti_do(ctl, tag, "check %u %u %llu", PATTERN_MUL, PATTERN_XOR,
		    (unsigned long long)base);
	return ret == -EINVAL ? -EOPNOTSUPP : ret;
}

struct ti_map {
	unsigned int chunks, ranges, chunk_ranges, attrs;
	unsigned long long len;
	char provider[16];
};

/* Parse the report of "map": the phyr, and its first chunk. */
static bool ti_parse_map(int ctl, struct ti_map *m)
{
	const char *r = ti_report(ctl), *p, *c;

	memset(m, 0, sizeof(*m));
	p = strstr(r, "map phyr ");
	c = strstr(r, "chunk 0 ");
	return p && c &&
	       sscanf(p, "map phyr chunks %u ranges %u len %llu", &m->chunks,
		      &m->ranges, &m->len) == 3 &&
	       sscanf(c, "chunk 0 provider %15s attrs %x ranges %u",
		      m->provider, &m->attrs, &m->chunk_ranges) == 3;
}

/* PHYR_ATTR_* of include/linux/phyr.h */
#define ATTR_MMIO		0x1
#define ATTR_NO_CPU_MAP		0x2
#define ATTR_CACHE(a)		(((a) >> 2) & 3)
#define ATTR_CACHE_UC		2
#define ATTR_CC(a)		(((a) >> 4) & 3)
#define ATTR_CC_PRIVATE		2

/* ---- the fixture: the ivshmem device open, memory enabled ---- */

FIXTURE(vfio_dmabuf) {
	struct vdev d;
	int ctl;	/* the test importer, or -1 */
};

FIXTURE_SETUP(vfio_dmabuf)
{
	int ret;

	page_size = getpagesize();
	self->ctl = -1;
	ret = vdev_open_exporting(&self->d, IVSHMEM_VENDOR, IVSHMEM_DEVICE);
	if (ret == VDEV_SKIP)
		SKIP(return, "%s", self->d.err);
	ASSERT_EQ(0, ret) TH_LOG("%s", self->d.err);
	self->ctl = open(IMPORTER, O_RDWR);
}

FIXTURE_TEARDOWN(vfio_dmabuf)
{
	if (self->ctl >= 0)
		close(self->ctl);
	tdisp_set(&self->d, "unlocked");	/* whatever a test left */
	vdev_close(&self->d);
}

static __u64 revoke_len(struct vdev *d)
{
	return d->bar_size < REVOKE_LEN ? d->bar_size : REVOKE_LEN;
}

/* Attach the importer in @mode to @fd and map: 0 or the failing -errno. */
static int attach_map(int ctl, const char *tag, int fd, const char *mode)
{
	int ret = ti_do(ctl, tag, "attach %d %s", fd, mode);

	return ret ?: ti_do(ctl, tag, "map");
}

/*
 * Export the first revoke_len() bytes of the BAR and attach the importer to
 * it in "phyr" mode, mapped: the dma-buf fd, or -errno of whichever failed.
 */
static int export_attached(struct vdev *d, int ctl, const char *tag)
{
	int fd = export_one(d, 0, revoke_len(d));
	int ret;

	if (fd < 0) {
		note("%s: export: %s\n", tag, strerror(-fd));
		return fd;
	}
	ret = attach_map(ctl, tag, fd, "phyr");
	if (ret) {
		close(fd);
		return ret;
	}
	return fd;
}

/*
 * The importer's counts, the fdinfo "revoked:" line and what map does
 * agree with a buffer revoked (@revoked) after @revokes revokes and
 * @restores restores; the map, if it succeeds, stays.
 */
static void expect_state(struct __test_metadata *_metadata, int ctl, int fd,
			 const char *tag, int revokes, int restores,
			 bool revoked)
{
	int rv = -1, rs = -1, ret;
	bool mapped = false;

	EXPECT_TRUE(ti_counts(ctl, &rv, &rs, &mapped));
	EXPECT_EQ(revokes, rv) TH_LOG("%s: revoke notifications", tag);
	EXPECT_EQ(restores, rs) TH_LOG("%s: restore notifications", tag);
	EXPECT_TRUE(fdinfo_is(fd, "revoked", revoked ? "yes" : "no"))
		TH_LOG("%s: fdinfo is not \"revoked:\\t%s\"", tag,
		       revoked ? "yes" : "no");
	if (revoked)
		EXPECT_FALSE(mapped) TH_LOG("%s: still mapped after a revoke", tag);
	if (mapped)
		ti_do(ctl, tag, "unmap");
	ret = ti_do(ctl, tag, "map");
	EXPECT_EQ(revoked ? -ENODEV : 0, ret) TH_LOG("%s: map: %s", tag,
						     strerror(-ret));
}

/* BEHAVIOURS: V1 - PROBE reports the feature; SET is not offered. */
TEST_F_TIMEOUT(vfio_dmabuf, probe, TIMEOUT)
{
	struct vfio_device_feature f = {
		.argsz = sizeof(f),
		.flags = VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_SET |
			 VFIO_DEVICE_FEATURE_DMA_BUF,
	};
	unsigned int i;

	EXPECT_EQ(0, dmabuf_probe(self->d.device));
	EXPECT_EQ(-EINVAL, feature(self->d.device, &f));
	note("device %s group %d: BAR %u of %llu bytes exported; regions:\n",
	     self->d.bdf, self->d.group_id, self->d.bar,
	     (unsigned long long)self->d.bar_size);
	for (i = 0; i <= VFIO_PCI_BAR5_REGION_INDEX; i++)
		note("  BAR %u size %llu flags 0x%x\n", i,
		     (unsigned long long)self->d.regions[i].size,
		     self->d.regions[i].flags);
}

/*
 * BEHAVIOURS: V1, B9 - the whole BAR: a dma-buf of its size whose fdinfo
 * offers a revocable phyr of P2P memory, and whose phyr, seen by a phyr
 * importer, is one P2P chunk, MMIO, uncached, holding the BAR's bytes.
 */
TEST_F_TIMEOUT(vfio_dmabuf, export_bar, TIMEOUT)
{
	char val[128];
	struct ti_map m;
	int fd;

	fd = export_one(&self->d, 0, self->d.bar_size);
	ASSERT_LE(0, fd) TH_LOG("export: %s", strerror(-fd));
	note_fdinfo("export", fd);
	EXPECT_EQ((off_t)self->d.bar_size, lseek(fd, 0, SEEK_END));
	snprintf(val, sizeof(val), "%llu", (unsigned long long)self->d.bar_size);
	EXPECT_TRUE(fdinfo_is(fd, "size", val));
	/* The exporter is vfio-pci core, named after its module. */
	EXPECT_TRUE(fdinfo_is(fd, "exp_name", "vfio_pci_core"));
	/* P2P MMIO: the phyr, and the core's sg_table compat for P2P. */
	EXPECT_TRUE(fdinfo_is(fd, "phyr_descs", "sg_table phyr"));
	EXPECT_TRUE(fdinfo_is(fd, "phyr_providers", "p2p"));
	EXPECT_TRUE(fdinfo_is(fd, "phyr_cc", "shared"));
	EXPECT_TRUE(fdinfo_is(fd, "phyr_lifetimes", "dynamic revocable"));
	EXPECT_TRUE(fdinfo_is(fd, "revocable", "yes"));
	EXPECT_TRUE(fdinfo_is(fd, "revoked", "no"));

	if (self->ctl < 0)
		SKIP(goto out, NO_IMPORTER);
	ASSERT_EQ(0, attach_map(self->ctl, "phyr", fd, "phyr"));
	ASSERT_TRUE(ti_parse_map(self->ctl, &m));
	EXPECT_EQ(1, m.chunks);
	EXPECT_EQ(self->d.bar_size, m.len);
	EXPECT_STREQ("p2p", m.provider);
	EXPECT_TRUE(m.attrs & ATTR_MMIO) TH_LOG("attrs 0x%x", m.attrs);
	EXPECT_EQ(ATTR_CACHE_UC, ATTR_CACHE(m.attrs)) TH_LOG("attrs 0x%x", m.attrs);
	EXPECT_EQ(0, ATTR_CC(m.attrs)) TH_LOG("attrs 0x%x", m.attrs);
	EXPECT_NE(NULL, strstr(ti_report(self->ctl), "dma_mapped no"));
	EXPECT_EQ(0, ti_check(self->ctl, "phyr", 0));
	EXPECT_EQ(0, ti_do(self->ctl, "phyr", "unmap"));
	EXPECT_EQ(0, ti_do(self->ctl, "phyr", "detach"));
	EXPECT_NE(NULL, strstr(ti_report(self->ctl), "revokes 0 restores 0"));
out:
	close(fd);
}

/*
 * BEHAVIOURS: V1 - the most ranges a request may carry (256), one page
 * each, in order from the BAR's start: one buffer of their total size,
 * the bytes in order.
 */
TEST_F_TIMEOUT(vfio_dmabuf, export_max_ranges, TIMEOUT)
{
	struct vfio_region_dma_range r[MAX_RANGES];
	struct ti_map m;
	unsigned int i;
	int fd;

	for (i = 0; i < MAX_RANGES; i++) {
		r[i].offset = i * page_size;
		r[i].length = page_size;
	}
	fd = export(self->d.device, self->d.bar, r, MAX_RANGES, O_CLOEXEC);
	ASSERT_LE(0, fd) TH_LOG("export of %u ranges: %s", MAX_RANGES,
				strerror(-fd));
	EXPECT_EQ((off_t)(MAX_RANGES * page_size), lseek(fd, 0, SEEK_END));
	if (self->ctl < 0)
		SKIP(goto out, NO_IMPORTER);
	ASSERT_EQ(0, attach_map(self->ctl, "ranges", fd, "phyr"));
	ASSERT_TRUE(ti_parse_map(self->ctl, &m));
	EXPECT_EQ(MAX_RANGES * page_size, m.len);
	EXPECT_STREQ("p2p", m.provider);
	EXPECT_EQ(0, ti_check(self->ctl, "ranges", 0));
out:
	close(fd);
}

/*
 * BEHAVIOURS: V1 - a range inside the BAR: the buffer holds the BAR's bytes
 * from that offset; and two ranges out of order concatenate in request order.
 */
TEST_F_TIMEOUT(vfio_dmabuf, export_offset, TIMEOUT)
{
	struct vfio_region_dma_range r[2];
	uint64_t off = self->d.bar_size / 2 + 3 * page_size;
	struct ti_map m;
	int fd, ret;

	ASSERT_LE(off + 16 * page_size, self->d.bar_size);
	fd = export_one(&self->d, off, 16 * page_size);
	ASSERT_LE(0, fd) TH_LOG("export: %s", strerror(-fd));
	EXPECT_EQ((off_t)(16 * page_size), lseek(fd, 0, SEEK_END));
	if (self->ctl < 0) {
		close(fd);
		SKIP(return, NO_IMPORTER);
	}
	ASSERT_EQ(0, attach_map(self->ctl, "offset", fd, "phyr"));
	ASSERT_TRUE(ti_parse_map(self->ctl, &m));
	EXPECT_EQ(16 * page_size, m.len);
	ret = ti_check(self->ctl, "offset", off);
	ti_do(self->ctl, "offset", "detach");
	close(fd);

	/* Two ranges, the second before the first in the BAR. */
	r[0].offset = off + 4 * page_size;
	r[0].length = 4 * page_size;
	r[1].offset = off;
	r[1].length = 4 * page_size;
	fd = export(self->d.device, self->d.bar, r, 2, O_CLOEXEC);
	ASSERT_LE(0, fd) TH_LOG("export: %s", strerror(-fd));
	EXPECT_EQ((off_t)(8 * page_size), lseek(fd, 0, SEEK_END));
	ASSERT_EQ(0, attach_map(self->ctl, "offset2", fd, "phyr"));
	ASSERT_TRUE(ti_parse_map(self->ctl, &m));
	EXPECT_EQ(8 * page_size, m.len);
	EXPECT_EQ(2, m.ranges) TH_LOG("two discontiguous ranges, %u in the phyr",
				      m.ranges);
	close(fd);

	if (ret == -EOPNOTSUPP && _metadata->exit_code == KSFT_PASS)
		SKIP(return, "%s", NO_CHECK_BASE);
	EXPECT_EQ(0, ret);
}

/* BEHAVIOURS: V1 - open_flags: O_CLOEXEC and the access mode are honoured. */
TEST_F_TIMEOUT(vfio_dmabuf, open_flags, TIMEOUT)
{
	static const int flags[] = { O_RDWR, O_RDONLY | O_CLOEXEC,
				     O_WRONLY, O_RDWR | O_CLOEXEC };
	struct vfio_region_dma_range r = { 0, page_size };
	unsigned int i;
	int fd;

	for (i = 0; i < ARRAY_SIZE(flags); i++) {
		fd = export(self->d.device, self->d.bar, &r, 1, flags[i]);
		ASSERT_LE(0, fd) TH_LOG("open_flags 0%o: %s", flags[i],
					strerror(-fd));
		EXPECT_EQ(!!(flags[i] & O_CLOEXEC),
			  !!(fcntl(fd, F_GETFD) & FD_CLOEXEC))
			TH_LOG("open_flags 0%o", flags[i]);
		EXPECT_EQ(flags[i] & O_ACCMODE, fcntl(fd, F_GETFL) & O_ACCMODE)
			TH_LOG("open_flags 0%o", flags[i]);
		close(fd);
	}
}

/* BEHAVIOURS: V8 - the host cannot mmap the dma-buf. */
TEST_F_TIMEOUT(vfio_dmabuf, mmap_refused, TIMEOUT)
{
	void *p;
	int fd;

	fd = export_one(&self->d, 0, 4 * page_size);
	ASSERT_LE(0, fd) TH_LOG("export: %s", strerror(-fd));
	p = mmap(NULL, 4 * page_size, PROT_READ, MAP_SHARED, fd, 0);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EINVAL, errno);
	if (p != MAP_FAILED)
		munmap(p, 4 * page_size);
	p = mmap(NULL, page_size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	EXPECT_EQ(MAP_FAILED, p);
	if (p != MAP_FAILED)
		munmap(p, page_size);
	close(fd);
}

/*
 * BEHAVIOURS: B3, B4, B11 - refused at attach: a pinned phyr importer, since
 * the buffer is revocable only (EPERM), and a legacy one (dma_buf_attach(),
 * no allow_peer2peer), which cannot reach P2P memory: the provider check
 * comes first (EREMOTEIO, dma_buf_phyr_attach_check()). The RDMA pinned MR
 * pattern (a dynamic attach whose invalidate_mappings only logs, then
 * dma_buf_pin()) attaches but cannot pin (EPERM): it would keep the BAR
 * mapped across a reset or close.
 */
TEST_F_TIMEOUT(vfio_dmabuf, pinned_importers_refused, TIMEOUT)
{
	int fd;

	if (self->ctl < 0)
		SKIP(return, NO_IMPORTER);
	fd = export_one(&self->d, 0, 4 * page_size);
	ASSERT_LE(0, fd) TH_LOG("export: %s", strerror(-fd));
	EXPECT_EQ(-EPERM, ti_do(self->ctl, "pinned", "attach %d pinned", fd));
	EXPECT_EQ(-EREMOTEIO, ti_do(self->ctl, "sgt", "attach %d sgt", fd));
	EXPECT_EQ(-EPERM, ti_do(self->ctl, "rdma", "attach %d rdma", fd));
	close(fd);
}

/* A table row's region: an index, or one of these. */
enum {
	BAR_SELF = -1, BAR_EMPTY = -2, BAR_IO = -3, BAR_SMALL = -4,
	REGION_MAX = -5,
};

enum { FAULT_NONE, FAULT_RANGES, FAULT_ARG };

struct bad_request {
	const char *what;
	int region;		/* an index, or BAR_* */
	__u32 nr;		/* nr_ranges; above 2, pages in order */
	__u64 off0, len0, off1, len1;	/* the ranges, up to 2 */
	__u32 open_flags, flags;
	int argsz;		/* added to the right argsz */
	__u32 feat;		/* 0: GET | DMA_BUF */
	int fault;
	int err;		/* 0: EINVAL */
};

/*
 * BEHAVIOURS: V2, R2 - malformed requests, each refused with its errno, and
 * nothing created: no new fd, no vfio_pci dma-buf left behind. A region
 * that is not a BAR vfio-pci claimed gives upstream's ENODEV, a range whose
 * end wraps upstream's EOVERFLOW (vfio_pci_core_fill_phys_vec()); the
 * checks upstream lacks (257 ranges, open_flags, argsz) give EINVAL.
 */
TEST_F_TIMEOUT(vfio_dmabuf, bad_requests, TIMEOUT)
{
	const uint64_t pg = page_size, bs = self->d.bar_size;
	const __u32 get = VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_DMA_BUF;
	const __u32 set = VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_DMA_BUF;
	const struct bad_request rows[] = {
		{ "ROM region", VFIO_PCI_ROM_REGION_INDEX, 1, 0, pg, .err = ENODEV },
		{ "config region", VFIO_PCI_CONFIG_REGION_INDEX, 1, 0, pg, .err = ENODEV },
		{ "VGA region", VFIO_PCI_VGA_REGION_INDEX, 1, 0, pg, .err = ENODEV },
		{ "region past the last", VFIO_PCI_NUM_REGIONS, 1, 0, pg, .err = ENODEV },
		{ "region ~0", REGION_MAX, 1, 0, pg, .err = ENODEV },
		{ "empty BAR", BAR_EMPTY, 1, 0, pg, .err = ENODEV },
		{ "I/O-port BAR", BAR_IO, 1, 0, pg },
		{ "a page of a BAR smaller than a page", BAR_SMALL, 1, 0, pg },
		{ "offset not page aligned (1)", BAR_SELF, 1, 1, pg },
		{ "offset not page aligned (256)", BAR_SELF, 1, 256, pg },
		{ "length not page aligned", BAR_SELF, 1, 0, pg + 1 },
		{ "length half a page", BAR_SELF, 1, 0, pg / 2 },
		{ "length 0", BAR_SELF, 1, 0, 0 },
		{ "range past the end", BAR_SELF, 1, bs - pg, 2 * pg },
		{ "offset at the end", BAR_SELF, 1, bs, pg },
		{ "the BAR and a page", BAR_SELF, 1, 0, bs + pg },
		{ "offset + length wraps to 0", BAR_SELF, 1, -pg, pg,
		  .err = EOVERFLOW },
		{ "offset + length wraps into the BAR", BAR_SELF, 1, -pg, 2 * pg,
		  .err = EOVERFLOW },
		{ "length wraps", BAR_SELF, 1, pg, -pg },
		{ "second range outside", BAR_SELF, 2, 0, pg, bs, pg },
		{ "second range unaligned", BAR_SELF, 2, 0, pg, pg + 8, pg },
		{ "second range length 0", BAR_SELF, 2, 0, pg, pg, 0 },
		{ "nr_ranges 0", BAR_SELF, 0 },
		{ "nr_ranges 257", BAR_SELF, MAX_RANGES + 1 },
		{ "nr_ranges ~0, argsz for one", BAR_SELF, ~0u, 0, pg },
		{ "flags 1", BAR_SELF, 1, 0, pg, .flags = 1 },
		{ "flags 1 << 31", BAR_SELF, 1, 0, pg, .flags = 1u << 31 },
		{ "open_flags O_NONBLOCK", BAR_SELF, 1, 0, pg,
		  .open_flags = O_NONBLOCK },
		{ "open_flags O_APPEND", BAR_SELF, 1, 0, pg,
		  .open_flags = O_APPEND },
		{ "open_flags O_CREAT", BAR_SELF, 1, 0, pg,
		  .open_flags = O_CREAT | O_CLOEXEC },
		{ "open_flags 1 << 31", BAR_SELF, 1, 0, pg,
		  .open_flags = 1u << 31 },
		{ "argsz one range short", BAR_SELF, 2, 0, pg, pg, pg,
		  .argsz = -16 },
		{ "argsz of the header only", BAR_SELF, 1, 0, pg, .argsz = -16 },
		{ "argsz short of the header", BAR_SELF, 1, 0, pg, .argsz = -24 },
		{ "SET", BAR_SELF, 1, 0, pg, .feat = set },
		{ "GET | SET", BAR_SELF, 1, 0, pg, .feat = get | set },
		{ "PROBE | SET", BAR_SELF, 1, 0, pg,
		  .feat = VFIO_DEVICE_FEATURE_PROBE | set },
		{ "ranges in an unmapped page", BAR_SELF, 1, 0, pg,
		  .fault = FAULT_RANGES, .err = EFAULT },
		{ "argument in an unmapped page", BAR_SELF, 1, 0, pg,
		  .fault = FAULT_ARG, .err = EFAULT },
	};
	int bar_empty = -1, bar_io = -1, bar_small = -1;
	int fds_before, lowest_before, bufs_before;
	unsigned int i, j, nr_run = 0;
	char *guard;

	/* The BARs some rows need, from region info and config space. */
	for (i = 0; i <= VFIO_PCI_BAR5_REGION_INDEX; i++) {
		__u64 size = self->d.regions[i].size;
		uint32_t bar = 0;

		cfg_read(&self->d, PCI_BASE_ADDRESS_0 + 4 * i, &bar, 4);
		if (!size && bar_empty < 0)
			bar_empty = i;
		else if (size && (bar & PCI_BASE_ADDRESS_SPACE_IO) && bar_io < 0)
			bar_io = i;
		else if (size && size < pg && bar_small < 0)
			bar_small = i;
	}
	/* Two pages, the second unmapped, for the EFAULT rows. */
	guard = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, guard);
	ASSERT_EQ(0, munmap(guard + pg, pg));

	fds_before = count_fds();
	lowest_before = lowest_free_fd();
	bufs_before = count_vfio_dmabufs();

	for (i = 0; i < ARRAY_SIZE(rows); i++) {
		const struct bad_request *row = &rows[i];
		__u32 nr = row->nr, nr_alloc = nr > MAX_RANGES + 1 ? 1 : nr;
		struct vfio_device_feature_dma_buf *db;
		struct vfio_device_feature *f;
		int region = row->region, ret;
		size_t size;
		void *arg;

		if (region == BAR_SELF)
			region = self->d.bar;
		else if (region == BAR_EMPTY)
			region = bar_empty;
		else if (region == BAR_IO)
			region = bar_io;
		else if (region == BAR_SMALL)
			region = bar_small;
		else if (region == REGION_MAX)
			region = INT_MAX;
		if (region == -1) {
			note("bad request: %s: no such BAR on %s, not tried\n",
			     row->what, self->d.bdf);
			continue;
		}

		f = req_alloc(nr_alloc, &size);
		ASSERT_NE(NULL, f);
		if (row->feat)
			f->flags = row->feat;
		f->argsz = size + row->argsz;
		db = req_db(f);
		db->region_index = region == INT_MAX ? ~0u : region;
		db->open_flags = row->open_flags;
		db->flags = row->flags;
		db->nr_ranges = nr;
		for (j = 0; j < nr_alloc; j++) {
			if (nr_alloc > 2) {
				db->dma_ranges[j].offset = j * pg;
				db->dma_ranges[j].length = pg;
			} else {
				db->dma_ranges[j].offset = j ? row->off1 : row->off0;
				db->dma_ranges[j].length = j ? row->len1 : row->len0;
			}
		}

		arg = f;
		if (row->fault == FAULT_RANGES) {
			/* The headers end where the unmapped page starts. */
			size -= nr_alloc * sizeof(struct vfio_region_dma_range);
			arg = guard + pg - size;
			memcpy(arg, f, size);
		} else if (row->fault == FAULT_ARG) {
			arg = guard + pg;
		}
		ret = feature(self->d.device, arg);
		note("bad request: %s: region %d nr_ranges %u [0x%llx +0x%llx]: %s\n",
		     row->what, (int)db->region_index, nr,
		     nr_alloc ? (unsigned long long)db->dma_ranges[0].offset : 0ull,
		     nr_alloc ? (unsigned long long)db->dma_ranges[0].length : 0ull,
		     ret < 0 ? strerror(-ret) : "accepted");
		EXPECT_EQ(-(row->err ?: EINVAL), ret)
			TH_LOG("%s: %s", row->what,
			       ret < 0 ? strerror(-ret) : "accepted");
		if (ret >= 0)
			close(ret);
		free(f);
		nr_run++;
	}
	munmap(guard, pg);

	EXPECT_EQ(fds_before, count_fds()) TH_LOG("file descriptors left open");
	EXPECT_EQ(lowest_before, lowest_free_fd());
	EXPECT_EQ(bufs_before, count_vfio_dmabufs())
		TH_LOG("vfio_pci dma-bufs left in " BUFINFO);
	note("bad requests: %u tried, %u not (no such BAR)\n", nr_run,
	     (unsigned int)ARRAY_SIZE(rows) - nr_run);
	note("bad requests: fds %d -> %d, lowest free fd %d -> %d, vfio_pci dma-bufs %d -> %d\n",
	     fds_before, count_fds(), lowest_before, lowest_free_fd(),
	     bufs_before, count_vfio_dmabufs());
	/* The R2 summary, without this program's note prefix. */
	printf("# R2 vfio feature: %u malformed requests, each with its errno\n",
	       nr_run);
	fflush(stdout);
}

/*
 * The order, not only the state after the ioctl: the test importer numbers,
 * from one counter, its first revoke notification and the first call of
 * each PCI function a revoke must precede, for the device (its "watch",
 * kprobes); "# ORDER: tag: revoke #N, then FN #M" goes to the log.
 * watch_order() starts it; expect_revoke_before() checks that the revoke
 * came first and stops it.
 */
static void watch_order(struct __test_metadata *_metadata, int ctl,
			const struct vdev *d)
{
	int ret = ti_cmd(ctl, "watch %s", d->bdf);

	ASSERT_EQ(0, ret) TH_LOG("watch %s: %s (CONFIG_KPROBES?)", d->bdf,
				 strerror(-ret));
}

static void expect_revoke_before(struct __test_metadata *_metadata, int ctl,
				 const char *tag, const char *fn)
{
	const char *r = strstr(ti_report(ctl), "order revoke ");
	long long rev = 0, ev = 0;
	char key[64];
	const char *e;
	int n;

	ASSERT_NE(NULL, r) TH_LOG("%s: the importer shows no order", tag);
	n = sscanf(r, "order revoke %lld", &rev);
	EXPECT_EQ(1, n);
	snprintf(key, sizeof(key), " %s ", fn);
	e = strstr(r, key);
	ASSERT_NE(NULL, e) TH_LOG("%s: the importer does not watch %s", tag, fn);
	n = sscanf(e + strlen(key), "%lld", &ev);
	EXPECT_EQ(1, n);
	EXPECT_NE(0, rev) TH_LOG("%s: no revoke", tag);
	EXPECT_NE(0, ev) TH_LOG("%s: %s not called for the device", tag, fn);
	EXPECT_LT(rev, ev) TH_LOG("%s: the revoke (#%lld) came after %s (#%lld)",
				  tag, rev, fn, ev);
	note("ORDER: %s: revoke #%lld, then %s #%lld\n", tag, rev, fn, ev);
	ti_cmd(ctl, "unwatch");
}

/*
 * BEHAVIOURS: V3 - clearing memory-space enable in config space revokes the
 * buffer before the write returns; setting it restores, and the importer
 * maps again and reads the same bytes.
 */
TEST_F_TIMEOUT(vfio_dmabuf, memory_disable_revokes, TIMEOUT)
{
	int fd;

	if (self->ctl < 0)
		SKIP(return, NO_IMPORTER);
	fd = export_attached(&self->d, self->ctl, "memory");
	ASSERT_LE(0, fd) TH_LOG("memory: export and attach: %s", strerror(-fd));

	watch_order(_metadata, self->ctl, &self->d);
	ASSERT_EQ(0, set_memory(&self->d, false));
	note("memory: PCI_COMMAND_MEMORY cleared\n");
	/* vfio-pci writes the command register with the user's 2 bytes. */
	expect_revoke_before(_metadata, self->ctl, "memory off",
			     "pci_user_write_config_word");
	expect_state(_metadata, self->ctl, fd, "memory off", 1, 0, true);
	note_fdinfo("memory off", fd);

	ASSERT_EQ(0, set_memory(&self->d, true));
	note("memory: PCI_COMMAND_MEMORY set\n");
	expect_state(_metadata, self->ctl, fd, "memory on", 1, 1, false);
	EXPECT_EQ(0, ti_check(self->ctl, "memory on", 0));
	close(fd);
}

/* Close @d and open the rig's NVMe controller instead, memory enabled. */
static int use_nvme(struct vdev *d)
{
	int ret;

	vdev_close(d);
	ret = vdev_open(d, NVME_VENDOR, NVME_DEVICE, false);
	if (ret)
		return ret;
	ret = dmabuf_probe(d->device);
	if (ret)
		return vdev_fail(d, ret, "PROBE on %s", d->bdf);
	ret = set_memory(d, true);
	if (ret)
		return vdev_fail(d, ret, "memory enable on %s", d->bdf);
	return 0;
}

/* BEHAVIOURS: V4 - D3hot revokes; D0 with memory enabled restores. */
TEST_F_TIMEOUT(vfio_dmabuf, d3hot_revokes, TIMEOUT)
{
	unsigned int pm;
	uint16_t ctrl, d3, d0;
	int fd, ret;

	if (self->ctl < 0)
		SKIP(return, NO_IMPORTER);
	pm = find_cap(&self->d, PCI_CAP_ID_PM);
	if (!pm) {
		/* ivshmem has none; the rig's NVMe controller has one. */
		note("d3hot: %s has no power management capability; the NVMe controller instead\n",
		     self->d.bdf);
		ret = use_nvme(&self->d);
		if (ret == VDEV_SKIP)
			SKIP(return, "no device with a PM capability: %s", self->d.err);
		ASSERT_EQ(0, ret) TH_LOG("%s", self->d.err);
		pm = find_cap(&self->d, PCI_CAP_ID_PM);
		if (!pm)
			SKIP(return, "neither ivshmem nor %s has a PM capability",
			     self->d.bdf);
	}
	note("d3hot: %s, PM capability at 0x%x, BAR %u\n", self->d.bdf, pm,
	     self->d.bar);
	fd = export_attached(&self->d, self->ctl, "d3hot");
	ASSERT_LE(0, fd) TH_LOG("d3hot: export and attach: %s", strerror(-fd));

	ctrl = cfg_read16(&self->d, pm + PCI_PM_CTRL);
	d3 = (ctrl & ~PCI_PM_CTRL_STATE_MASK) | 3;
	d0 = ctrl & ~PCI_PM_CTRL_STATE_MASK;
	watch_order(_metadata, self->ctl, &self->d);
	ASSERT_EQ(0, cfg_write(&self->d, pm + PCI_PM_CTRL, &d3, 2));
	note("d3hot: PM_CTRL 0x%04x -> 0x%04x (reads 0x%04x)\n", ctrl, d3,
	     cfg_read16(&self->d, pm + PCI_PM_CTRL));
	expect_revoke_before(_metadata, self->ctl, "d3hot",
			     "pci_set_power_state");
	expect_state(_metadata, self->ctl, fd, "d3hot", 1, 0, true);

	ASSERT_EQ(0, cfg_write(&self->d, pm + PCI_PM_CTRL, &d0, 2));
	if (!(cfg_read16(&self->d, PCI_COMMAND) & PCI_COMMAND_MEMORY))
		ASSERT_EQ(0, set_memory(&self->d, true));
	note("d3hot: back to D0 (PM_CTRL 0x%04x), command 0x%04x\n",
	     cfg_read16(&self->d, pm + PCI_PM_CTRL),
	     cfg_read16(&self->d, PCI_COMMAND));
	expect_state(_metadata, self->ctl, fd, "d0", 1, 1, false);
	close(fd);
}

/*
 * BEHAVIOURS: V5 - VFIO_DEVICE_RESET revokes before the reset and, memory
 * being enabled, restores after it; the BAR's bytes are there again.
 */
TEST_F_TIMEOUT(vfio_dmabuf, reset_revokes, TIMEOUT)
{
	int fd;

	if (self->ctl < 0)
		SKIP(return, NO_IMPORTER);
	if (!(self->d.info.flags & VFIO_DEVICE_FLAGS_RESET))
		SKIP(return, "%s cannot be reset (no VFIO_DEVICE_FLAGS_RESET)",
		     self->d.bdf);
	fd = export_attached(&self->d, self->ctl, "reset");
	ASSERT_LE(0, fd) TH_LOG("reset: export and attach: %s", strerror(-fd));
	ti_do(self->ctl, "reset", "status");
	note("reset: VFIO_DEVICE_RESET\n");
	watch_order(_metadata, self->ctl, &self->d);
	ASSERT_EQ(0, ioctl(self->d.device, VFIO_DEVICE_RESET))
		TH_LOG("VFIO_DEVICE_RESET: %s", strerror(errno));
	ti_do(self->ctl, "reset", "status");
	expect_revoke_before(_metadata, self->ctl, "reset",
			     "pci_try_reset_function");
	/* The revoke unmapped; the restore came after the reset. */
	expect_state(_metadata, self->ctl, fd, "reset", 1, 1, false);
	EXPECT_EQ(0, ti_check(self->ctl, "reset", 0));
	note("reset: the BAR's bytes read back after the reset: %s\n",
	     _metadata->exit_code == KSFT_PASS ? "ok" : "FAILED");
	close(fd);
}

/*
 * BEHAVIOURS: V5 - a hot reset of the bus (VFIO_DEVICE_PCI_HOT_RESET, every
 * device of the set owned through its group) revokes and restores.
 */
TEST_F_TIMEOUT(vfio_dmabuf, hot_reset_revokes, TIMEOUT)
{
	const size_t ninfo = 16;
	struct vfio_pci_hot_reset_info *info;
	struct vfio_pci_hot_reset *reset;
	unsigned int i;
	int fd;

	if (self->ctl < 0)
		SKIP(return, NO_IMPORTER);
	info = calloc(1, sizeof(*info) + ninfo * sizeof(info->devices[0]));
	ASSERT_NE(NULL, info);
	info->argsz = sizeof(*info) + ninfo * sizeof(info->devices[0]);
	if (ioctl(self->d.device, VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, info)) {
		free(info);
		SKIP(return, "%s: no hot reset (VFIO_DEVICE_GET_PCI_HOT_RESET_INFO: %s)",
		     self->d.bdf, strerror(errno));
	}
	for (i = 0; i < info->count && i < ninfo; i++) {
		note("hot reset: affects %04x:%02x:%02x.%x (group %u)\n",
		     info->devices[i].segment, info->devices[i].bus,
		     info->devices[i].devfn >> 3, info->devices[i].devfn & 7,
		     info->devices[i].group_id);
		if (info->devices[i].group_id != (__u32)self->d.group_id) {
			__u32 other = info->devices[i].group_id;

			free(info);
			SKIP(return, "the hot reset also affects group %u", other);
		}
	}
	free(info);

	fd = export_attached(&self->d, self->ctl, "hot reset");
	ASSERT_LE(0, fd) TH_LOG("hot reset: export and attach: %s", strerror(-fd));
	reset = calloc(1, sizeof(*reset) + sizeof(reset->group_fds[0]));
	ASSERT_NE(NULL, reset);
	reset->argsz = sizeof(*reset) + sizeof(reset->group_fds[0]);
	reset->count = 1;
	reset->group_fds[0] = self->d.group;
	watch_order(_metadata, self->ctl, &self->d);
	EXPECT_EQ(0, ioctl(self->d.device, VFIO_DEVICE_PCI_HOT_RESET, reset))
		TH_LOG("VFIO_DEVICE_PCI_HOT_RESET: %s", strerror(errno));
	free(reset);
	note("hot reset: VFIO_DEVICE_PCI_HOT_RESET\n");
	expect_revoke_before(_metadata, self->ctl, "hot reset",
			     "pci_reset_bus");
	expect_state(_metadata, self->ctl, fd, "hot reset", 1, 1, false);
	EXPECT_EQ(0, ti_check(self->ctl, "hot reset", 0));
	close(fd);
}

/*
 * BEHAVIOURS: V5 - a function level reset started through config space
 * (PCI_EXP_DEVCTL_BCR_FLR) revokes and restores. ivshmem is conventional
 * PCI; the rig's NVMe controller can FLR.
 */
TEST_F_TIMEOUT(vfio_dmabuf, flr_revokes, TIMEOUT)
{
	unsigned int exp = 0;
	uint32_t devcap = 0;
	uint16_t devctl;
	int fd, ret;

	if (self->ctl < 0)
		SKIP(return, NO_IMPORTER);
	exp = find_cap(&self->d, PCI_CAP_ID_EXP);
	if (exp)
		cfg_read(&self->d, exp + PCI_EXP_DEVCAP, &devcap, 4);
	if (!(devcap & PCI_EXP_DEVCAP_FLR)) {
		note("flr: %s cannot FLR; the NVMe controller instead\n",
		     self->d.bdf);
		ret = use_nvme(&self->d);
		if (ret == VDEV_SKIP)
			SKIP(return, "no device that can FLR: %s", self->d.err);
		ASSERT_EQ(0, ret) TH_LOG("%s", self->d.err);
		exp = find_cap(&self->d, PCI_CAP_ID_EXP);
		if (exp)
			cfg_read(&self->d, exp + PCI_EXP_DEVCAP, &devcap, 4);
		if (!(devcap & PCI_EXP_DEVCAP_FLR))
			SKIP(return, "neither ivshmem nor %s can FLR", self->d.bdf);
	}
	fd = export_attached(&self->d, self->ctl, "flr");
	ASSERT_LE(0, fd) TH_LOG("flr: export and attach: %s", strerror(-fd));
	devctl = cfg_read16(&self->d, exp + PCI_EXP_DEVCTL) | PCI_EXP_DEVCTL_BCR_FLR;
	watch_order(_metadata, self->ctl, &self->d);
	ASSERT_EQ(0, cfg_write(&self->d, exp + PCI_EXP_DEVCTL, &devctl, 2));
	note("flr: %s, PCI_EXP_DEVCTL_BCR_FLR written\n", self->d.bdf);
	expect_revoke_before(_metadata, self->ctl, "flr",
			     "pci_try_reset_function");
	if (!(cfg_read16(&self->d, PCI_COMMAND) & PCI_COMMAND_MEMORY))
		ASSERT_EQ(0, set_memory(&self->d, true));
	expect_state(_metadata, self->ctl, fd, "flr", 1, 1, false);
	close(fd);
}

/*
 * BEHAVIOURS: V6, B5 - exported while memory is disabled: revoked at birth.
 * Upstream's exporter refuses to attach a revoked buffer (ENODEV); once
 * memory is enabled an importer attaches, maps and reads the bytes.
 */
TEST_F_TIMEOUT(vfio_dmabuf, created_while_disabled, TIMEOUT)
{
	int fd;

	ASSERT_EQ(0, set_memory(&self->d, false));
	fd = export_one(&self->d, 0, revoke_len(&self->d));
	ASSERT_LE(0, fd) TH_LOG("export with memory disabled: %s", strerror(-fd));
	EXPECT_TRUE(fdinfo_is(fd, "revoked", "yes"));
	if (self->ctl < 0) {
		close(fd);
		SKIP(return, NO_IMPORTER);
	}
	EXPECT_EQ(-ENODEV, ti_do(self->ctl, "disabled", "attach %d phyr", fd));
	ASSERT_EQ(0, set_memory(&self->d, true));
	EXPECT_TRUE(fdinfo_is(fd, "revoked", "no"));
	ASSERT_EQ(0, ti_do(self->ctl, "enabled", "attach %d phyr", fd));
	expect_state(_metadata, self->ctl, fd, "enabled", 0, 0, false);
	EXPECT_EQ(0, ti_check(self->ctl, "enabled", 0));
	close(fd);
}

/*
 * Unbind @d->bdf from vfio-pci in a child: 0 once it is done, -ETIMEDOUT if
 * it is still waiting after @secs (the child is left behind), or -errno.
 */
static int unbind_within(struct vdev *d, int secs)
{
	char path[PATH_MAX];
	int status, i;
	pid_t child;

	snprintf(path, sizeof(path), VFIO_PCI_DRIVER "/unbind");
	child = fork();
	if (child < 0)
		return -errno;
	if (!child)
		_exit(sysfs_write(path, d->bdf) ? 1 : 0);
	for (i = 0; i < secs * 10; i++) {
		pid_t w = waitpid(child, &status, WNOHANG);

		if (w == child)
			return WIFEXITED(status) && !WEXITSTATUS(status) ?
			       0 : -EIO;
		if (w < 0)
			return -errno;
		usleep(100000);
	}
	return -ETIMEDOUT;
}

/*
 * BEHAVIOURS: V13, V7, B10 - unbinding the device from vfio-pci completes
 * while a dma-buf of the closed device is still open, attached and was
 * mapped: the buffer holds no registration reference once the device is
 * closed. The buffer stays revoked, maps fail with ENODEV, and detaching
 * and closing it after the unbind touch no freed state (KASAN, the console
 * scan). The device is bound to vfio-pci again for the next tests.
 */
TEST_F_TIMEOUT(vfio_dmabuf, unbind_with_buffer_open, TIMEOUT)
{
	int fd, ret;

	fd = export_one(&self->d, 0, revoke_len(&self->d));
	ASSERT_LE(0, fd) TH_LOG("export: %s", strerror(-fd));
	if (self->ctl >= 0)
		ASSERT_EQ(0, attach_map(self->ctl, "unbind", fd, "phyr"));
	vdev_close(&self->d);
	note("unbind: device, group and container closed, dma-buf open\n");

	ret = unbind_within(&self->d, 20);
	note("unbind: %s from vfio-pci: %s\n", self->d.bdf,
	     ret ? strerror(-ret) : "done");
	ASSERT_EQ(0, ret) TH_LOG("unbind with a dma-buf open: %s",
				 strerror(-ret));
	EXPECT_TRUE(fdinfo_is(fd, "revoked", "yes"));
	if (self->ctl >= 0) {
		EXPECT_EQ(-ENODEV, ti_do(self->ctl, "unbind", "map"));
		EXPECT_EQ(0, ti_do(self->ctl, "unbind", "detach"));
		EXPECT_EQ(-ENODEV, ti_do(self->ctl, "unbind", "attach %d phyr",
					 fd));
	}
	close(fd);
	EXPECT_EQ(0, wait_vfio_dmabufs(0));

	/* Back to vfio-pci, for the tests that follow. */
	ret = vdev_bind(&self->d);
	EXPECT_EQ(0, ret) TH_LOG("%s", self->d.err);
}

/*
 * BEHAVIOURS: V7 - closing the device revokes for good: the buffer stays
 * revoked when the device is opened again and its memory enabled.
 */
TEST_F_TIMEOUT(vfio_dmabuf, close_revokes_for_good, TIMEOUT)
{
	int fd, fd2;

	if (self->ctl < 0)
		SKIP(return, NO_IMPORTER);
	fd = export_attached(&self->d, self->ctl, "close");
	ASSERT_LE(0, fd) TH_LOG("close: export and attach: %s", strerror(-fd));

	close(self->d.device);
	self->d.device = -1;
	note("close: device fd closed\n");
	expect_state(_metadata, self->ctl, fd, "closed", 1, 0, true);

	/* Opened again, memory enabled: a new buffer works, the old one not. */
	ASSERT_EQ(0, vdev_get_device(&self->d)) TH_LOG("%s", self->d.err);
	ASSERT_EQ(0, set_memory(&self->d, true));
	ASSERT_EQ(0, set_memory(&self->d, false));
	ASSERT_EQ(0, set_memory(&self->d, true));
	note("close: device opened again, memory toggled\n");
	expect_state(_metadata, self->ctl, fd, "reopened", 1, 0, true);
	fd2 = export_one(&self->d, 0, page_size);
	EXPECT_LE(0, fd2) TH_LOG("export after reopening: %s", strerror(-fd2));
	if (fd2 >= 0)
		close(fd2);
	close(fd);
}

/*
 * BEHAVIOURS: V7, B10 - closing the dma-buf fd before the device, or after
 * the device, the group and the container, with and without an importer
 * still attached: nothing breaks (the console scan catches a use after free).
 */
TEST_F_TIMEOUT(vfio_dmabuf, close_orders, TIMEOUT)
{
	int fd1, fd2, fd3;

	fd1 = export_one(&self->d, 0, page_size);
	fd2 = export_one(&self->d, page_size, page_size);
	fd3 = export_one(&self->d, 2 * page_size, page_size);
	ASSERT_LE(0, fd1);
	ASSERT_LE(0, fd2);
	ASSERT_LE(0, fd3);
	close(fd1);	/* before the device */
	if (self->ctl >= 0)
		ASSERT_EQ(0, attach_map(self->ctl, "order", fd3, "phyr"));
	vdev_close(&self->d);
	note("close order: dma-buf, then device+group+container, then dma-bufs\n");
	EXPECT_TRUE(fdinfo_is(fd2, "revoked", "yes"));
	close(fd2);	/* after the device, nobody attached */
	close(fd3);	/* after the device, the importer still attached */
	if (self->ctl >= 0) {
		EXPECT_EQ(-ENODEV, ti_do(self->ctl, "order", "map"));
		EXPECT_EQ(0, ti_do(self->ctl, "order", "detach"));
	}
	EXPECT_EQ(0, count_vfio_dmabufs());
}

static sigjmp_buf fault_jmp;

static void fault_handler(int sig)
{
	siglongjmp(fault_jmp, sig);
}

/* Read a u32 at @p: 0 and the value, or the signal it raised. */
static int probe_read(const uint32_t *p, uint32_t *val)
{
	struct sigaction sa = { .sa_handler = fault_handler }, old_bus, old_segv;
	int sig;

	sigaction(SIGBUS, &sa, &old_bus);
	sigaction(SIGSEGV, &sa, &old_segv);
	sig = sigsetjmp(fault_jmp, 1);
	if (!sig)
		*val = __atomic_load_n(p, __ATOMIC_RELAXED);
	sigaction(SIGBUS, &old_bus, NULL);
	sigaction(SIGSEGV, &old_segv, NULL);
	return sig;
}

/*
 * BEHAVIOURS: V14 - where the private state comes from. The hook's file
 * reads back the state, the PCI/TSM binding of the device's TDI
 * (pci_tsm_tdi_kvm(), read afresh) and the hook's own setting; the TSMs
 * the PCI/TSM core knows are in /sys/class/tsm. Notes all of it for
 * make's report.
 */
static void tdisp_expect(struct __test_metadata *_metadata, struct vdev *d,
			 const char *state)
{
	char path[PATH_MAX], buf[256], want[32], *line, *save;
	struct dirent *e;
	ssize_t len;
	int fd, n = 0;
	DIR *dir;

	snprintf(path, sizeof(path), "/sys/kernel/debug/vfio/%s/tdisp_state",
		 d->bdf);
	fd = open(path, O_RDONLY);
	ASSERT_LE(0, fd) TH_LOG("%s: %s", path, strerror(errno));
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	ASSERT_LT(0, len) TH_LOG("%s: %s", path, strerror(errno));
	buf[len] = '\0';
	snprintf(want, sizeof(want), "%s\n", state);
	EXPECT_EQ(0, strncmp(buf, want, strlen(want))) TH_LOG("read back: %s", buf);
	EXPECT_NE(NULL, strstr(buf, "\npci_tsm_tdi_kvm: ")) TH_LOG("%s", buf);
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save))
		note("private: tdisp_state reads: %s\n", line);

	dir = opendir("/sys/class/tsm");
	while (dir && (e = readdir(dir)))
		n += e->d_name[0] != '.';
	note("private: PCI/TSM: %d TSM device%s in /sys/class/tsm%s\n", n,
	     n == 1 ? "" : "s", dir ? "" : " (no such class)");
	if (dir)
		closedir(dir);
}

/*
 * BEHAVIOURS: V9, V14, V15 - a private device (its TDI bound to a VM; the
 * test hook drives that state): its BARs report no read, write or mmap,
 * the host's mmap, pread and pwrite fail with EPERM, VFIO_DEVICE_IOEVENTFD
 * on a BAR fails with EPERM, a mapping of the BAR made while shared faults
 * (SIGBUS: zapped, and refused under memory_lock), and an export for a
 * device bound to no VM is refused with EPERM. Back to shared
 * ("unlocked"), all of it works again. A buffer exported before the change
 * of state is revoked for good (vfio_pci_tdi_sync()).
 */
TEST_F_TIMEOUT(vfio_dmabuf, private_refusals, TIMEOUT)
{
	const __u32 access = VFIO_REGION_INFO_FLAG_READ |
			     VFIO_REGION_INFO_FLAG_WRITE |
			     VFIO_REGION_INFO_FLAG_MMAP;
	struct vfio_region_info *bar = &self->d.regions[self->d.bar];
	struct vfio_device_ioeventfd ioe = {
		.argsz = sizeof(ioe),
		.flags = VFIO_DEVICE_IOEVENTFD_32,
	};
	uint32_t v = pattern(0);
	unsigned int i;
	int ret, efd, shared = -1;
	void *p, *map;

	/* A shared buffer from before: made for the other state. */
	if (self->ctl >= 0) {
		shared = export_one(&self->d, 0, page_size);
		ASSERT_LE(0, shared) TH_LOG("export: %s", strerror(-shared));
		ASSERT_EQ(0, attach_map(self->ctl, "shared", shared, "phyr"));
	}
	/* A host mapping of the BAR from before, read once while shared. */
	map = MAP_FAILED;
	if (bar->flags & VFIO_REGION_INFO_FLAG_MMAP) {
		map = mmap(NULL, page_size, PROT_READ, MAP_SHARED,
			   self->d.device, bar->offset);
		ASSERT_NE(MAP_FAILED, map) TH_LOG("mmap: %s", strerror(errno));
		EXPECT_EQ(0, probe_read(map, &v));
		EXPECT_EQ(pattern(0), v);
	}
	ret = tdisp_set(&self->d, "run");
	if (ret == -ENOENT) {
		if (map != MAP_FAILED)
			munmap(map, page_size);
		SKIP(return, NO_TDISP);
	}
	ASSERT_EQ(0, ret) TH_LOG("tdisp_state run: %s", strerror(-ret));
	note("private: tdisp_state run\n");
	tdisp_expect(_metadata, &self->d, "run");
	if (shared >= 0)
		expect_state(_metadata, self->ctl, shared, "shared, run", 1, 0,
			     true);
	for (i = 0; i <= VFIO_PCI_BAR5_REGION_INDEX; i++) {
		struct vfio_region_info r = { .argsz = sizeof(r), .index = i };

		ASSERT_EQ(0, ioctl(self->d.device, VFIO_DEVICE_GET_REGION_INFO, &r));
		note("private: BAR %u size %llu flags 0x%x\n", i,
		     (unsigned long long)r.size, r.flags);
		if (r.size)
			EXPECT_EQ(0, r.flags & access)
				TH_LOG("BAR %u flags 0x%x", i, r.flags);
	}
	EXPECT_EQ(-1, pread(self->d.device, &v, 4, bar->offset));
	EXPECT_EQ(EPERM, errno);
	/* What is there already, in case the write went through. */
	v = pattern(0);
	EXPECT_EQ(-1, pwrite(self->d.device, &v, 4, bar->offset));
	EXPECT_EQ(EPERM, errno);
	p = mmap(NULL, page_size, PROT_READ, MAP_SHARED, self->d.device,
		 bar->offset);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EPERM, errno);
	if (p != MAP_FAILED)
		munmap(p, page_size);
	/* The mapping made while shared: zapped, and the fault refused. */
	if (map != MAP_FAILED) {
		int sig = probe_read(map, &v);

		EXPECT_EQ(SIGBUS, sig) TH_LOG("read of a private BAR's old mapping: %s",
					      sig ? strsignal(sig) : "no fault");
		note("private: the old host mapping: %s\n",
		     sig ? strsignal(sig) : "read");
	}
	/* No new host writes into the BAR through an ioeventfd. */
	efd = eventfd(0, EFD_CLOEXEC);
	ASSERT_LE(0, efd);
	ioe.offset = bar->offset;
	ioe.data = pattern(0);
	ioe.fd = efd;
	EXPECT_EQ(-1, ioctl(self->d.device, VFIO_DEVICE_IOEVENTFD, &ioe));
	EXPECT_EQ(EPERM, errno);
	note("private: VFIO_DEVICE_IOEVENTFD: %s\n", strerror(errno));
	close(efd);
	ret = export_one(&self->d, 0, page_size);
	EXPECT_EQ(-EPERM, ret) TH_LOG("private export without a VM: %s",
				      ret < 0 ? strerror(-ret) : "accepted");
	note("private: export without a VM: %s\n",
	     ret < 0 ? strerror(-ret) : "accepted");
	if (ret >= 0)
		close(ret);

	ASSERT_EQ(0, tdisp_set(&self->d, "unlocked"));
	note("private: tdisp_state unlocked\n");
	ASSERT_EQ(0, vdev_regions(&self->d)) TH_LOG("%s", self->d.err);
	EXPECT_EQ(access, bar->flags & access) TH_LOG("flags 0x%x", bar->flags);
	v = 0;
	EXPECT_EQ(4, pread(self->d.device, &v, 4, bar->offset));
	EXPECT_EQ(pattern(0), v);
	if (map != MAP_FAILED) {
		v = 0;
		EXPECT_EQ(0, probe_read(map, &v));
		EXPECT_EQ(pattern(0), v);
		munmap(map, page_size);
	}
	ret = export_one(&self->d, 0, page_size);
	EXPECT_LE(0, ret) TH_LOG("shared export: %s", strerror(-ret));
	if (ret >= 0) {
		EXPECT_TRUE(fdinfo_is(ret, "phyr_cc", "shared"));
		close(ret);
	}
	/* Revoked for good: not restored by going back to shared. */
	if (shared >= 0) {
		expect_state(_metadata, self->ctl, shared, "shared, unlocked",
			     1, 0, true);
		close(shared);
	}
}

/*
 * BEHAVIOURS: V9, V15 - a private device associated with a KVM VM exports a
 * buffer that carries the private state and offers no sg_table (T=1 MMIO
 * never goes through the host's DMA API); an importer that names no VM
 * (the test importer) is refused at attach with EACCES.
 */
TEST_F_TIMEOUT(vfio_dmabuf, private_export_needs_the_vm, TIMEOUT)
{
	int fd, ret;

	/* The group opens once: again, now associated with a VM. */
	vdev_close(&self->d);
	ret = vdev_open(&self->d, IVSHMEM_VENDOR, IVSHMEM_DEVICE, true);
	if (ret == VDEV_SKIP)
		SKIP(return, "%s", self->d.err);
	ASSERT_EQ(0, ret) TH_LOG("%s", self->d.err);
	ret = tdisp_set(&self->d, "run");
	if (ret == -ENOENT)
		SKIP(return, NO_TDISP);
	ASSERT_EQ(0, ret) TH_LOG("tdisp_state run: %s", strerror(-ret));

	fd = export_one(&self->d, 0, self->d.bar_size);
	ASSERT_LE(0, fd) TH_LOG("private export with a VM: %s", strerror(-fd));
	note_fdinfo("private", fd);
	EXPECT_TRUE(fdinfo_is(fd, "phyr_cc", "private"));
	EXPECT_TRUE(fdinfo_is(fd, "phyr_descs", "phyr"));
	EXPECT_TRUE(fdinfo_is(fd, "revocable", "yes"));
	if (self->ctl >= 0)
		EXPECT_EQ(-EACCES, ti_do(self->ctl, "private", "attach %d phyr", fd));
	close(fd);
	EXPECT_EQ(0, tdisp_set(&self->d, "unlocked"));
}

/*
 * BEHAVIOURS: V9, V15 - only a confidential importer bound to the same VM
 * (the buffer's owner, the VM the TDI is bound to) attaches to a private
 * buffer: the test importer's "private KVMFD" mode,
 * for the device's VM and for another one. What it maps is private P2P
 * MMIO the host CPU must not map, so its CPU check is refused.
 */
TEST_F_TIMEOUT(vfio_dmabuf, private_importer_of_the_vm, TIMEOUT)
{
	struct ti_map m;
	int fd, vm2, ret;

	if (self->ctl < 0)
		SKIP(return, NO_IMPORTER);
	vdev_close(&self->d);
	ret = vdev_open(&self->d, IVSHMEM_VENDOR, IVSHMEM_DEVICE, true);
	if (ret == VDEV_SKIP)
		SKIP(return, "%s", self->d.err);
	ASSERT_EQ(0, ret) TH_LOG("%s", self->d.err);
	ret = tdisp_set(&self->d, "run");
	if (ret == -ENOENT)
		SKIP(return, NO_TDISP);
	ASSERT_EQ(0, ret) TH_LOG("tdisp_state run: %s", strerror(-ret));
	fd = export_one(&self->d, 0, revoke_len(&self->d));
	ASSERT_LE(0, fd) TH_LOG("private export with a VM: %s", strerror(-fd));

	vm2 = ioctl(self->d.kvm, KVM_CREATE_VM, 0);
	ASSERT_LE(0, vm2);
	EXPECT_EQ(-EACCES, ti_do(self->ctl, "private", "attach %d private %d",
				 fd, vm2));
	close(vm2);
	ASSERT_EQ(0, ti_do(self->ctl, "private", "attach %d private %d", fd,
			   self->d.vm));
	ASSERT_EQ(0, ti_do(self->ctl, "private", "map"));
	ASSERT_TRUE(ti_parse_map(self->ctl, &m));
	EXPECT_EQ(revoke_len(&self->d), m.len);
	EXPECT_STREQ("p2p", m.provider);
	EXPECT_TRUE(m.attrs & ATTR_MMIO) TH_LOG("attrs 0x%x", m.attrs);
	EXPECT_TRUE(m.attrs & ATTR_NO_CPU_MAP) TH_LOG("attrs 0x%x", m.attrs);
	EXPECT_EQ(ATTR_CC_PRIVATE, ATTR_CC(m.attrs)) TH_LOG("attrs 0x%x", m.attrs);
	EXPECT_EQ(-EOPNOTSUPP, ti_check(self->ctl, "private", 0));
	EXPECT_EQ(0, ti_do(self->ctl, "private", "detach"));
	close(fd);
	EXPECT_EQ(0, tdisp_set(&self->d, "unlocked"));
}

static int low_power(struct vdev *d, __u32 op)
{
	struct vfio_device_feature f = {
		.argsz = sizeof(f),
		.flags = VFIO_DEVICE_FEATURE_SET | op,
	};

	return ioctl(d->device, VFIO_DEVICE_FEATURE, &f) ? -errno : 0;
}

/*
 * BEHAVIOURS: V5 - runtime-PM entry (VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY)
 * revokes; a second, failing entry leaves the buffer as it was (revoked,
 * no second notification); the exit restores it.
 */
TEST_F_TIMEOUT(vfio_dmabuf, runtime_pm_revokes, TIMEOUT)
{
	int fd, ret;

	if (self->ctl < 0)
		SKIP(return, NO_IMPORTER);
	fd = export_attached(&self->d, self->ctl, "runtime-pm");
	ASSERT_LE(0, fd) TH_LOG("runtime-pm: export and attach: %s", strerror(-fd));

	ret = low_power(&self->d, VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY);
	if (ret) {
		close(fd);
		SKIP(return, "LOW_POWER_ENTRY: %s", strerror(-ret));
	}
	note("runtime-pm: LOW_POWER_ENTRY\n");
	expect_state(_metadata, self->ctl, fd, "low power", 1, 0, true);
	EXPECT_EQ(-EINVAL, low_power(&self->d,
				     VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY));
	expect_state(_metadata, self->ctl, fd, "failed entry", 1, 0, true);
	ASSERT_EQ(0, low_power(&self->d, VFIO_DEVICE_FEATURE_LOW_POWER_EXIT));
	note("runtime-pm: LOW_POWER_EXIT\n");
	expect_state(_metadata, self->ctl, fd, "exit", 1, 1, false);
	EXPECT_EQ(0, ti_check(self->ctl, "runtime-pm", 0));
	close(fd);
}

/*
 * BEHAVIOURS: V5 - runtime-PM entry with a wake eventfd revokes; when the
 * device wakes (here: any ioctl resumes it) vfio-pci signals the eventfd,
 * leaves the low-power state and restores the buffer, with no
 * LOW_POWER_EXIT. Upstream 7.3 left it revoked until the next exit or
 * config write. Skips if the device never runtime-suspended.
 */
TEST_F_TIMEOUT(vfio_dmabuf, runtime_pm_wake_restores, TIMEOUT)
{
	struct {
		struct vfio_device_feature f;
		struct vfio_device_low_power_entry_with_wakeup w;
	} entry = {
		.f = {
			.argsz = sizeof(entry),
			.flags = VFIO_DEVICE_FEATURE_SET |
				 VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY_WITH_WAKEUP,
		},
	};
	struct vfio_device_info info = { .argsz = sizeof(info) };
	uint64_t wakes = 0;
	int fd, efd, i;

	if (self->ctl < 0)
		SKIP(return, NO_IMPORTER);
	fd = export_attached(&self->d, self->ctl, "wake");
	ASSERT_LE(0, fd) TH_LOG("wake: export and attach: %s", strerror(-fd));
	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ASSERT_LE(0, efd);
	entry.w.wakeup_eventfd = efd;
	if (ioctl(self->d.device, VFIO_DEVICE_FEATURE, &entry)) {
		int err = errno;

		close(efd);
		close(fd);
		SKIP(return, "LOW_POWER_ENTRY_WITH_WAKEUP: %s", strerror(err));
	}
	note("wake: LOW_POWER_ENTRY_WITH_WAKEUP\n");
	expect_state(_metadata, self->ctl, fd, "low power", 1, 0, true);

	/* Let it suspend, then wake it with an ioctl. */
	for (i = 0; i < 20 && !wakes; i++) {
		usleep(100000);
		ASSERT_EQ(0, ioctl(self->d.device, VFIO_DEVICE_GET_INFO, &info));
		if (read(efd, &wakes, sizeof(wakes)) != sizeof(wakes))
			wakes = 0;
	}
	note("wake: %s\n", wakes ? "the wake eventfd signalled" :
	     "never suspended");
	if (!wakes) {
		low_power(&self->d, VFIO_DEVICE_FEATURE_LOW_POWER_EXIT);
		close(efd);
		close(fd);
		SKIP(return, "%s never runtime-suspended", self->d.bdf);
	}
	expect_state(_metadata, self->ctl, fd, "woken", 1, 1, false);
	EXPECT_EQ(0, ti_check(self->ctl, "woken", 0));
	/* The exit after the wake changes nothing. */
	EXPECT_EQ(0, low_power(&self->d, VFIO_DEVICE_FEATURE_LOW_POWER_EXIT));
	expect_state(_metadata, self->ctl, fd, "exit", 1, 1, false);
	close(efd);
	close(fd);
}

#define RACE_ROUNDS	300

/*
 * BEHAVIOURS: V10, R3 - memory toggles and resets (a child) race an
 * importer attaching, mapping, unmapping and detaching (the parent), then
 * the device is closed with the importer attached. lockdep checks the
 * order memory_lock -> dma_resv -> importer (the console scan fails the run
 * on any report); a map that succeeds is never of a revoked buffer, which
 * the importer's check would catch as a read of a disabled BAR.
 */
TEST_F_TIMEOUT(vfio_dmabuf, race_toggle_reset_map_close, TIMEOUT)
{
	int fd, i, maps = 0, enodev = 0, status = 0;
	pid_t child;

	if (self->ctl < 0)
		SKIP(return, NO_IMPORTER);
	fd = export_one(&self->d, 0, page_size);
	ASSERT_LE(0, fd) TH_LOG("export: %s", strerror(-fd));

	child = fork();
	ASSERT_LE(0, child);
	if (!child) {
		for (i = 0; i < RACE_ROUNDS; i++) {
			if (set_memory(&self->d, false) ||
			    set_memory(&self->d, true))
				_exit(1);
			if ((self->d.info.flags & VFIO_DEVICE_FLAGS_RESET) &&
			    !(i % 16) && ioctl(self->d.device, VFIO_DEVICE_RESET))
				_exit(2);
		}
		_exit(0);
	}
	for (i = 0; i < RACE_ROUNDS; i++) {
		int ret = attach_map(self->ctl, "race", fd, "phyr");

		if (!ret)
			maps++;
		else if (ret == -ENODEV)
			enodev++;
		else
			EXPECT_EQ(0, ret) TH_LOG("race: attach/map: %s",
						 strerror(-ret));
		ti_do(self->ctl, "race", "detach");
	}
	ASSERT_EQ(child, waitpid(child, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status))
		TH_LOG("race: the toggling child failed (%d)", status);
	note("race: %d rounds: %d maps, %d refused while revoked\n",
	     RACE_ROUNDS, maps, enodev);

	/* Close the device with the importer attached and mapped. */
	ASSERT_EQ(0, set_memory(&self->d, true));
	ASSERT_EQ(0, attach_map(self->ctl, "race", fd, "phyr"));
	close(self->d.device);
	self->d.device = -1;
	EXPECT_EQ(-ENODEV, ti_do(self->ctl, "race", "map"));
	ti_do(self->ctl, "race", "detach");
	close(fd);
}

/* ---- fault injection (R5, fail_nth_sweep() in vfio_pci_util.h) ---- */

struct fail_vfio {
	struct vdev *d;
	int ctl;
	int buf;		/* the export a sweep made, or the one imported */
	const char *mode;	/* the importer's: "phyr" or "sgt" */
	const char *map;	/* its map command */
	int udmabuf;		/* /dev/udmabuf */
	int memfd;		/* what the udmabuf is made of */
	/*
	 * A map's phyr is built once per buffer (udmabuf keeps it): each
	 * map run gets a new udmabuf, attached, or it would find it built.
	 */
	bool refresh;
};

static int fail_udmabuf_run(void *ctx);
static int fail_attach_run(void *ctx);

/* Detach, close, make a new udmabuf and attach again. */
static void fail_refresh(struct fail_vfio *x)
{
	ti_cmd(x->ctl, "detach");
	close(x->buf);
	if (fail_udmabuf_run(x) || fail_attach_run(x))
		x->ctl = -1;	/* the next run fails, and says so */
}

/* Three ranges, out of order: the exporter's phyr has three. */
static int fail_export_run(void *ctx)
{
	struct fail_vfio *x = ctx;
	struct vfio_region_dma_range r[3] = {
		{ .offset = 4 * page_size, .length = 2 * page_size },
		{ .offset = 0, .length = page_size },
		{ .offset = 16 * page_size, .length = 4 * page_size },
	};

	x->buf = export(x->d->device, x->d->bar, r, 3, O_CLOEXEC);
	return x->buf < 0 ? x->buf : 0;
}

static void fail_export_undo(void *ctx)
{
	struct fail_vfio *x = ctx;

	close(x->buf);
	x->buf = -1;
}

/* What the sweep counts (fds, vfio dma-bufs) is all an export leaves. */
static bool fail_export_check(void *ctx, char *why, size_t len)
{
	return true;
}

static int fail_attach_run(void *ctx)
{
	struct fail_vfio *x = ctx;

	return ti_cmd(x->ctl, "attach %d %s", x->buf, x->mode);
}

static void fail_detach(void *ctx)
{
	struct fail_vfio *x = ctx;

	ti_cmd(x->ctl, "detach");
}

/* A failed attach leaves the importer with no attachment. */
static bool fail_attach_check(void *ctx, char *why, size_t len)
{
	struct fail_vfio *x = ctx;
	const char *r = ti_report(x->ctl);

	if (strstr(r, "lifetime none"))
		return true;
	snprintf(why, len, "an attachment: %.80s", r);
	return false;
}

static int fail_map_run(void *ctx)
{
	struct fail_vfio *x = ctx;

	return ti_cmd(x->ctl, "%s", x->map);
}

static void fail_unmap(void *ctx)
{
	struct fail_vfio *x = ctx;

	ti_cmd(x->ctl, "unmap");
	if (x->refresh)
		fail_refresh(x);
}

/* A failed map leaves the attachment unmapped, and it maps afterwards. */
static bool fail_map_check(void *ctx, char *why, size_t len)
{
	struct fail_vfio *x = ctx;
	bool mapped = true;
	int rv, rs, ret;

	if (!ti_counts(x->ctl, &rv, &rs, &mapped) || mapped) {
		snprintf(why, len, "a mapping");
		return false;
	}
	ret = fail_map_run(x);
	if (ret) {
		snprintf(why, len, "an attachment that no longer maps (%s)",
			 strerror(-ret));
		return false;
	}
	fail_unmap(x);
	return true;
}

#define FAIL_UDMABUF_LEN	(64u << 12)	/* 64 pages of 4 KiB */

/* The ioctl alone: the memfd and /dev/udmabuf are opened beforehand. */
static int fail_udmabuf_run(void *ctx)
{
	struct fail_vfio *x = ctx;
	struct udmabuf_create c = {
		.memfd = x->memfd,
		.flags = UDMABUF_FLAGS_CLOEXEC,
		.size = FAIL_UDMABUF_LEN,
	};

	x->buf = ioctl(x->udmabuf, UDMABUF_CREATE, &c);
	if (x->buf < 0)
		x->buf = -errno;
	return x->buf < 0 ? x->buf : 0;
}

/*
 * Sweep an importer's attach (@attach_name), then its map (@map_name), of
 * x->buf in x->mode.
 */
static void fail_import(struct __test_metadata *_metadata,
			struct fail_vfio *x, const char *attach_name,
			const char *map_name, bool map_allocates_nothing)
{
	struct fail_nth_op attach_op = {
		attach_name, fail_attach_run, fail_detach, fail_attach_check,
		{ -ENOMEM } };
	struct fail_nth_op map_op = {
		map_name, fail_map_run, fail_unmap, fail_map_check,
		{ -ENOMEM }, map_allocates_nothing };

	fail_nth_sweep(_metadata, &attach_op, x);
	ASSERT_EQ(0, fail_attach_run(x)) TH_LOG("%s", ti_report(x->ctl));
	fail_nth_sweep(_metadata, &map_op, x);
	fail_detach(x);
}

/*
 * BEHAVIOURS: R5 - every allocation fails in turn, once and from the n-th
 * on, in: the vfio export; a phyr importer's attach to it (its map hands
 * out the exporter's phyr: nothing to allocate, which the sweep shows);
 * the udmabuf export (its phyr built from the memfd's folios); a phyr
 * importer's attach and map of that, and a legacy importer's, whose
 * sg_table the compat helper builds and DMA-maps for the rig's edu
 * through its IOVA. -ENOMEM, nothing left behind.
 */
TEST_F_TIMEOUT(vfio_dmabuf, fail_nth, 4 * TIMEOUT)
{
	static const struct fail_nth_op export_op = {
		"vfio export (VFIO_DEVICE_FEATURE_DMA_BUF, 3 ranges)",
		fail_export_run, fail_export_undo, fail_export_check,
		{ -ENOMEM } };
	static const struct fail_nth_op udmabuf_op = {
		"udmabuf export (UDMABUF_CREATE, 64 pages)",
		fail_udmabuf_run, fail_export_undo, fail_export_check,
		{ -ENOMEM } };
	struct fail_vfio x = { .d = &self->d, .ctl = self->ctl, .buf = -1,
			       .map = "map" };

	fail_nth_sweep(_metadata, &export_op, &x);
	if (self->ctl < 0)
		SKIP(return, NO_IMPORTER);
	ASSERT_EQ(0, fail_export_run(&x));
	x.mode = "phyr";
	fail_import(_metadata, &x, "dma-buf attach (phyr importer, vfio)",
		    "dma-buf map (phyr importer, vfio: the exporter's phyr)",
		    true);
	fail_export_undo(&x);

	/* A udmabuf of a sealed memfd, made once to have the memfd. */
	x.buf = udmabuf_new(FAIL_UDMABUF_LEN, &x.memfd);
	if (x.buf < 0 && x.memfd >= 0)
		close(x.memfd);
	if (x.buf == -ENOENT)
		SKIP(return, "no /dev/udmabuf (CONFIG_UDMABUF)");
	ASSERT_LE(0, x.buf) TH_LOG("udmabuf: %s", strerror(-x.buf));
	close(x.buf);
	x.udmabuf = open("/dev/udmabuf", O_RDWR);
	ASSERT_LE(0, x.udmabuf);
	fail_nth_sweep(_metadata, &udmabuf_op, &x);
	ASSERT_EQ(0, fail_udmabuf_run(&x)) TH_LOG("udmabuf: %s",
						  strerror(-x.buf));
	x.refresh = true;
	fail_import(_metadata, &x, "dma-buf attach (phyr importer, udmabuf)",
		    "dma-buf map (phyr importer, udmabuf)", false);
	/*
	 * DMA_TO_DEVICE: for a device that writes, DMA_API_DEBUG tracks
	 * cachelines in a radix tree whose allocation, failed, disables
	 * dma-debug for the rest of the boot ("cacheline tracking ENOMEM").
	 */
	x.mode = "sgt";
	x.map = "map to_device";
	fail_import(_metadata, &x, "dma-buf attach (legacy importer, udmabuf)",
		    "dma-buf map (legacy importer, udmabuf: sg_table compat DMA-mapped for edu, DMA_TO_DEVICE)",
		    false);
	fail_export_undo(&x);
	close(x.udmabuf);
	close(x.memfd);
}

/*
 * BEHAVIOURS: V11, R1 - after every test above (exports, malformed
 * requests, revokes, closes in every order), kmemleak finds nothing.
 * Runs last: the harness runs a fixture's tests in the order they are
 * written (a plain TEST() would run first, in the "global" fixture).
 */
TEST_F_TIMEOUT(vfio_dmabuf, no_leaks, TIMEOUT)
{
	expect_no_leaks(_metadata);
}

TEST_HARNESS_MAIN
