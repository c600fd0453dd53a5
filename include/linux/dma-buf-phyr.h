/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * dma-buf phyr exchange: what an exporter offers and an importer accepts,
 * the phyr map/unmap entry points, and revocable attachments.
 *
 * See Documentation/core-api/phyr.rst, "dma-buf".
 */
#ifndef _LINUX_DMA_BUF_PHYR_H
#define _LINUX_DMA_BUF_PHYR_H

#include <linux/bits.h>
#include <linux/dma-direction.h>
#include <linux/err.h>
#include <linux/types.h>

struct dma_buf;
struct dma_buf_attach_ops;
struct dma_buf_attachment;
struct phyr;
struct phyr_provider;
struct device;
struct seq_file;
struct sg_table;

/**
 * enum dma_buf_lifetime - how long an importer may keep a mapping
 * @DMA_BUF_LIFETIME_PINNED: the importer pins the buffer (dma_buf_pin(), or
 *	dma_buf_attach() with an exporter that pins on map) and promises
 *	nothing about unmapping: the mapping stays valid until the importer
 *	unmaps it, so the exporter must never move nor revoke the memory.
 *	A legacy importer without &dma_buf_attach_ops.invalidate_mappings.
 * @DMA_BUF_LIFETIME_DYNAMIC: the importer gets
 *	&dma_buf_attach_ops.invalidate_mappings, unmaps within bounded time
 *	(maybe after the callback returned) and maps again. A legacy importer
 *	with invalidate_mappings; it may not pin a buffer whose exporter
 *	does not offer %DMA_BUF_LIFETIME_PINNED.
 * @DMA_BUF_LIFETIME_REVOCABLE: the importer declared this class in its
 *	&dma_buf_attach_ops.caps: it has invalidate_mappings and unmaps
 *	everything before the callback returns; while the exporter has the
 *	buffer revoked (dma_buf_revoke()) every map fails with -ENODEV, until
 *	dma_buf_restore(). Such an importer may also pin.
 *
 * These are the terms of upstream's 7.1 contract (dma_buf_invalidate_mappings()):
 * upstream's dma_buf_attach_revocable() is true for both DYNAMIC and
 * REVOCABLE attachments, and for an importer that pins and only logs in its
 * callback; the declared class is what tells them apart.
 */
enum dma_buf_lifetime {
	DMA_BUF_LIFETIME_PINNED,
	DMA_BUF_LIFETIME_DYNAMIC,
	DMA_BUF_LIFETIME_REVOCABLE,
};

/* Descriptor kinds, for &dma_buf_caps.descs. */
/* A DMA-mapped sg_table, dma_buf_map_attachment(). */
#define DMA_BUF_DESC_SGT	BIT(0)
/* The exporter's phyr of physical ranges, dma_buf_map_phyr(). */
#define DMA_BUF_DESC_PHYR	BIT(1)
/*
 * A phyr wrapping a legacy exporter's DMA-mapped sg_table (&phyr.dma_dev set,
 * see phyr_from_dma_sgtable()); only an importer that needs no physical
 * address (it DMAs, never maps pfns) can take it.
 */
#define DMA_BUF_DESC_PHYR_DMA	BIT(2)
#define DMA_BUF_DESC_ALL	GENMASK(2, 0)

/**
 * struct dma_buf_caps - what an exporter offers, or what an importer accepts
 * @descs: %DMA_BUF_DESC_* bits. The exporter lists what its ops produce
 *	natively; the sg_table compat of a phyr-only exporter is added by
 *	the core.
 * @providers: BIT(&enum phyr_provider_kind) of every provider kind.
 *	Exporter: the kinds its phyrs may contain. Importer: the kinds it
 *	can use; each offered kind must be accepted.
 * @cc_states: BIT(&enum phyr_cc_state), with the same rule as @providers.
 * @lifetimes: BIT(&enum dma_buf_lifetime). Exporter: the classes of
 *	importer it can serve; one that may call dma_buf_revoke() leaves out
 *	%DMA_BUF_LIFETIME_PINNED (see dma_buf_is_revocable()), one that
 *	never revokes lists all three. Importer: the classes it can behave as.
 *	The attachment gets the strongest promise both sides have: revocable,
 *	then dynamic, then pinned.
 * @interconnect_id: with BIT(%PHYR_PROVIDER_PRIVATE) in @providers, the
 *	private interconnect; exporter and importer must name the same one.
 * @cc_owner: with BIT(%PHYR_CC_PRIVATE) in @cc_states, the owner of the
 *	confidential memory (for a TDI bound to a VM, that VM's &struct kvm);
 *	an importer of private memory must name the same non-NULL owner.
 * @p2p: exporter only, optional: with BIT(%PHYR_PROVIDER_P2P) in
 *	@providers, the P2P provider of the buffer's MMIO. When set, an
 *	importer that may get an sg_table (which the core or the exporter
 *	DMA-maps for the importer's device) must reach it
 *	(phyr_dma_map_type()), or the attach fails with -EREMOTEIO.
 *
 * Exporters pass theirs in &dma_buf_export_info.caps and importers in
 * &dma_buf_attach_ops.caps; both must outlive the dma-buf or attachment.
 * Without one, the core derives the legacy capabilities: an sg_table of
 * shared RAM (and P2P memory with &dma_buf_attach_ops.allow_peer2peer);
 * dynamic for an importer with &dma_buf_attach_ops.invalidate_mappings,
 * pinned otherwise.
 */
struct dma_buf_caps {
	u32		descs;
	u32		providers;
	u32		cc_states;
	u32		lifetimes;
	u32		interconnect_id;
	const void	*cc_owner;
	const struct phyr_provider *p2p;
};

/*
 * Declared whatever the configuration: an importer whose dma-buf path is
 * compiled out when !IS_ENABLED(CONFIG_DMABUF_PHYR) still names them.
 */
const struct phyr *dma_buf_map_phyr(struct dma_buf_attachment *attach);
void dma_buf_unmap_phyr(struct dma_buf_attachment *attach,
			const struct phyr *phyr);
const struct phyr *dma_buf_map_phyr_unlocked(struct dma_buf_attachment *attach);
void dma_buf_unmap_phyr_unlocked(struct dma_buf_attachment *attach,
				 const struct phyr *phyr);

#ifdef CONFIG_DMABUF_PHYR

int dma_buf_phyr_attach_check(struct dma_buf *dmabuf, struct device *dev,
			      const struct dma_buf_attach_ops *importer_ops,
			      enum dma_buf_lifetime *lifetime);
void dma_buf_phyr_caps(const struct dma_buf *dmabuf, struct dma_buf_caps *caps);
enum dma_buf_lifetime
dma_buf_attach_lifetime(const struct dma_buf_attachment *attach);

int dma_buf_revoke(struct dma_buf *dmabuf);
int dma_buf_restore(struct dma_buf *dmabuf);
bool dma_buf_is_revoked(const struct dma_buf *dmabuf);
bool dma_buf_is_revocable(const struct dma_buf *dmabuf);

/* Called by the dma-buf core only. */
int dma_buf_phyr_pin_check(struct dma_buf_attachment *attach);
bool dma_buf_phyr_pin_on_map(struct dma_buf_attachment *attach);
void dma_buf_phyr_account(struct dma_buf_attachment *attach, bool map);
struct sg_table *dma_buf_phyr_map_sgt(struct dma_buf_attachment *attach,
				      enum dma_data_direction dir);
void dma_buf_phyr_unmap_sgt(struct dma_buf_attachment *attach,
			    struct sg_table *sgt, enum dma_data_direction dir);
void dma_buf_phyr_detach(struct dma_buf_attachment *attach);
void dma_buf_phyr_show_fdinfo(struct seq_file *m, struct dma_buf *dmabuf);

#else /* CONFIG_DMABUF_PHYR */

static inline int
dma_buf_phyr_attach_check(struct dma_buf *dmabuf, struct device *dev,
			  const struct dma_buf_attach_ops *importer_ops,
			  enum dma_buf_lifetime *lifetime)
{
	*lifetime = DMA_BUF_LIFETIME_PINNED;
	return 0;
}

static inline bool dma_buf_is_revoked(const struct dma_buf *dmabuf)
{
	return false;
}

static inline bool dma_buf_is_revocable(const struct dma_buf *dmabuf)
{
	return false;
}

static inline int dma_buf_phyr_pin_check(struct dma_buf_attachment *attach)
{
	return 0;
}

static inline bool dma_buf_phyr_pin_on_map(struct dma_buf_attachment *attach)
{
	return false;
}

static inline void dma_buf_phyr_account(struct dma_buf_attachment *attach,
					bool map)
{
}

static inline struct sg_table *
dma_buf_phyr_map_sgt(struct dma_buf_attachment *attach,
		     enum dma_data_direction dir)
{
	return ERR_PTR(-EOPNOTSUPP);
}

static inline void dma_buf_phyr_unmap_sgt(struct dma_buf_attachment *attach,
					  struct sg_table *sgt,
					  enum dma_data_direction dir)
{
}

static inline void dma_buf_phyr_detach(struct dma_buf_attachment *attach)
{
}

static inline void dma_buf_phyr_show_fdinfo(struct seq_file *m,
					    struct dma_buf *dmabuf)
{
}

#endif /* CONFIG_DMABUF_PHYR */

#endif /* _LINUX_DMA_BUF_PHYR_H */
