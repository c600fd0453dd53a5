// SPDX-License-Identifier: GPL-2.0-only
/*
 * phyr: building a list of physical ranges, positioning the slice iterator
 * and finding aligned blocks for huge mappings. The per-range iterator is
 * inline in <linux/phyr.h>; everything here runs once per build or per
 * slice, never per range yielded.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bvec.h>
#include <linux/export.h>
#include <linux/log2.h>
#include <linux/memremap.h>
#include <linux/mm.h>
#include <linux/overflow.h>
#include <linux/pci-p2pdma.h>
#include <linux/phyr.h>
#include <linux/printk.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/xarray.h>

/* The one provider of system RAM; it has no state. */
const struct phyr_provider phyr_provider_ram = {
	.kind = PHYR_PROVIDER_RAM,
};
EXPORT_SYMBOL_GPL(phyr_provider_ram);

/**
 * phyr_provider_init_pci_bar - initialise a P2P provider for a PCI BAR
 * @provider: the provider to initialise.
 * @pdev: the PCI device exposing the memory.
 * @bar: the BAR index, 0 to %PCI_STD_NUM_BARS - 1.
 *
 * Like phyr_provider_init_p2p(), with the BAR's &struct p2pdma_provider
 * taken from upstream: pcim_p2pdma_init() registers the device's P2PDMA
 * state (managed, released when its driver unbinds; done once, later calls
 * do nothing), then pcim_p2pdma_provider() returns the BAR's provider. The
 * caller must be the driver bound to @pdev, or otherwise keep that state
 * alive, for as long as @provider is used. @provider is left untouched on
 * error.
 *
 * Context: process context; may sleep (allocates).
 * Return: 0 on success; -EINVAL if @bar is not a standard BAR index, or the
 * BAR is empty or not a memory BAR (an I/O port BAR has no physical
 * address); -EOPNOTSUPP without CONFIG_PCI_P2PDMA or for a device whose
 * BARs cannot be mapped (the errors of pcim_p2pdma_init()); -ENOMEM.
 */
int phyr_provider_init_pci_bar(struct phyr_provider *provider,
			       struct pci_dev *pdev, int bar)
{
	struct p2pdma_provider *p2p;
	int ret;

	if (bar < 0 || bar >= PCI_STD_NUM_BARS)
		return -EINVAL;
	if (!(pci_resource_flags(pdev, bar) & IORESOURCE_MEM) ||
	    !pci_resource_len(pdev, bar))
		return -EINVAL;

	ret = pcim_p2pdma_init(pdev);
	if (ret)
		return ret;
	p2p = pcim_p2pdma_provider(pdev, bar);
	if (!p2p)
		return -EINVAL;
	phyr_provider_init_p2p(provider, p2p);
	return 0;
}
EXPORT_SYMBOL_GPL(phyr_provider_init_pci_bar);

/**
 * phyr_init - initialise an empty phyr
 * @phyr: the phyr, typically embedded in the caller's structure.
 *
 * An empty phyr allocates nothing; phyr_destroy() releases what the
 * builders allocated.
 *
 * Context: any context.
 */
void phyr_init(struct phyr *phyr)
{
	*phyr = (struct phyr){};
}
EXPORT_SYMBOL_GPL(phyr_init);

/**
 * phyr_destroy - free a phyr's arrays and leave it empty
 * @phyr: the phyr, initialised by phyr_init().
 *
 * Frees the chunk and range arrays only. The providers the chunks name are
 * neither read nor written: they belong to their exporters and may already
 * be gone. The phyr is left empty and may be built again.
 *
 * Context: process context (the arrays may be vmalloc()ed). The caller
 * ensures nobody iterates the phyr any more.
 */
void phyr_destroy(struct phyr *phyr)
{
	kvfree(phyr->chunks);
	kvfree(phyr->ranges);
	phyr_init(phyr);
}
EXPORT_SYMBOL_GPL(phyr_destroy);

/**
 * phyr_alloc - allocate an empty phyr
 * @gfp: allocation flags for the phyr itself.
 *
 * Context: as allowed by @gfp.
 * Return: the phyr, to be freed with phyr_free(); NULL if out of memory.
 */
struct phyr *phyr_alloc(gfp_t gfp)
{
	return kzalloc(sizeof(struct phyr), gfp);
}
EXPORT_SYMBOL_GPL(phyr_alloc);

/**
 * phyr_free - free a phyr allocated by phyr_alloc()
 * @phyr: the phyr, or NULL.
 *
 * Like phyr_destroy(), then frees @phyr itself. Providers are not touched.
 *
 * Context: process context.
 */
void phyr_free(struct phyr *phyr)
{
	if (!phyr)
		return;
	phyr_destroy(phyr);
	kfree(phyr);
}
EXPORT_SYMBOL_GPL(phyr_free);

/*
 * Make room for @nr elements of @size bytes in the array *@arr of *@max:
 * exactly @nr if @exact (a builder that counted its input), else growing
 * by doubling, so that appending one range at a time is amortised O(1).
 */
static int phyr_grow_array(void **arr, unsigned int *max, unsigned int nr,
			   size_t size, bool exact, gfp_t gfp)
{
	unsigned int new_max;
	void *p;

	if (nr <= *max)
		return 0;
	new_max = exact ? nr : max3(nr, *max * 2, 4U);
	p = kvrealloc(*arr, array_size(new_max, size), gfp);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*max = new_max;
	return 0;
}

static int phyr_grow_arrays(struct phyr *phyr, unsigned int nr_chunks,
			    unsigned int nr_ranges, bool exact, gfp_t gfp)
{
	int ret;

	ret = phyr_grow_array((void **)&phyr->chunks, &phyr->max_chunks,
			      nr_chunks, sizeof(*phyr->chunks), exact, gfp);
	if (ret)
		return ret;
	return phyr_grow_array((void **)&phyr->ranges, &phyr->max_ranges,
			       nr_ranges, sizeof(*phyr->ranges), exact, gfp);
}

/* Make room for @nr_chunks chunks and @nr_ranges ranges in total. */
static int phyr_grow(struct phyr *phyr, unsigned int nr_chunks,
		     unsigned int nr_ranges, gfp_t gfp)
{
	return phyr_grow_arrays(phyr, nr_chunks, nr_ranges, false, gfp);
}

/*
 * The same, @nr_ranges more ranges exactly, for a builder that counted
 * them: no slack. -ENOMEM if the count overflows.
 */
static int phyr_grow_exact(struct phyr *phyr, unsigned int nr_chunks,
			   unsigned int nr_ranges, gfp_t gfp)
{
	unsigned int ranges;

	if (check_add_overflow(phyr->nr_ranges, nr_ranges, &ranges))
		return -ENOMEM;
	return phyr_grow_arrays(phyr, phyr->nr_chunks + nr_chunks, ranges,
				true, gfp);
}

/**
 * phyr_reserve - preallocate room for more ranges
 * @phyr: the phyr.
 * @nr_chunks: number of chunks the new ranges start at most: 1 for ranges
 *	of one provider and attribute word, up to @nr_ranges if each may
 *	differ from the one before.
 * @nr_ranges: number of ranges about to be appended.
 * @gfp: allocation flags.
 *
 * Makes room for exactly @nr_ranges more ranges in at most @nr_chunks new
 * chunks, so that such appends allocate nothing. Nothing more is reserved:
 * a range starting a chunk beyond @nr_chunks may allocate. The content of
 * @phyr does not change.
 *
 * Context: as allowed by @gfp; the caller serialises building.
 * Return: 0 on success; -ENOMEM if out of memory or if the counts would
 * overflow an unsigned int; @phyr is then unchanged apart from possibly a
 * larger allocation.
 */
int phyr_reserve(struct phyr *phyr, unsigned int nr_chunks,
		 unsigned int nr_ranges, gfp_t gfp)
{
	unsigned int chunks, ranges;

	if (check_add_overflow(phyr->nr_chunks, nr_chunks, &chunks) ||
	    check_add_overflow(phyr->nr_ranges, nr_ranges, &ranges))
		return -ENOMEM;
	return phyr_grow_arrays(phyr, chunks, ranges, true, gfp);
}
EXPORT_SYMBOL_GPL(phyr_reserve);

/* The provider/attribute rules of <linux/phyr.h>, checked once per append. */
static bool phyr_attrs_valid(const struct phyr_provider *provider, u32 attrs)
{
	if (attrs & ~PHYR_ATTR_ALL)
		return false;
	if (phyr_attrs_cache(attrs) > PHYR_CACHE_UC ||
	    phyr_attrs_cc(attrs) > PHYR_CC_PRIVATE)
		return false;
	/* The host must never map T=1 memory. */
	if (phyr_attrs_cc(attrs) == PHYR_CC_PRIVATE &&
	    !(attrs & PHYR_ATTR_NO_CPU_MAP))
		return false;

	switch (provider->kind) {
	case PHYR_PROVIDER_RAM:
		/* Merging and phyr_seg_page() rely on one RAM provider. */
		return provider == &phyr_provider_ram &&
		       !(attrs & PHYR_ATTR_MMIO);
	case PHYR_PROVIDER_P2P:
		return attrs & PHYR_ATTR_MMIO;
	case PHYR_PROVIDER_PRIVATE:
		/* Not a CPU address: generic helpers must not touch it. */
		return attrs & PHYR_ATTR_NO_CPU_MAP;
	}
	return false;
}

/* Does @paddr start exactly where @pv ends? */
static bool phyr_range_followed_by(const struct phys_vec *pv,
				   phys_addr_t paddr)
{
	/* Not pv->paddr + pv->len: it wraps to 0 for a range at the top. */
	return paddr > pv->paddr && paddr - pv->paddr == pv->len;
}

/*
 * Append [@paddr, @end] to @phyr, whose arrays have room for one more chunk
 * and one more range; the caller checked everything else. Keeps the
 * chunk's extent and alignment flags, so that mapping decides per chunk.
 */
static __always_inline void phyr_add(struct phyr *phyr,
				     const struct phyr_provider *provider,
				     u32 attrs, phys_addr_t paddr,
				     phys_addr_t end, size_t len)
{
	struct phyr_chunk *chunk = NULL;
	struct phys_vec *last;
	size_t merged_len;

	if (phyr->nr_chunks) {
		chunk = &phyr->chunks[phyr->nr_chunks - 1];
		if (chunk->provider != provider || chunk->attrs != attrs)
			chunk = NULL;
	}
	if (!chunk) {
		chunk = &phyr->chunks[phyr->nr_chunks++];
		*chunk = (struct phyr_chunk){
			.provider = provider,
			.attrs = attrs,
			.first = phyr->nr_ranges,
			.flags = PHYR_CHUNK_EXTENT | PHYR_CHUNK_ALIGNED,
			.lo = paddr,
			.hi = end,
		};
	} else {
		last = &phyr->ranges[phyr->nr_ranges - 1];
		/*
		 * The overflow is only possible when size_t is narrower than
		 * u64: keep the ranges apart rather than overflow the last one.
		 */
		if (phyr_range_followed_by(last, paddr) &&
		    !check_add_overflow(last->len, len, &merged_len)) {
			last->len = merged_len;
			goto out;
		}
		/* A new interior boundary: the last range's end, @paddr. */
		if (!PAGE_ALIGNED(last->paddr + last->len) ||
		    !PAGE_ALIGNED(paddr))
			chunk->flags &= ~PHYR_CHUNK_ALIGNED;
	}
	phyr->ranges[phyr->nr_ranges++] = (struct phys_vec){
		.paddr = paddr,
		.len = len,
	};
	chunk->nr_ranges++;
out:
	chunk->lo = min(chunk->lo, paddr);
	chunk->hi = max(chunk->hi, end);
	chunk->len += len;
	phyr->len += len;
}

/*
 * Make room for what phyr_add() will need for this range: nothing if it
 * extends the last range, one range, or one range in a new chunk.
 */
static int phyr_make_room(struct phyr *phyr,
			  const struct phyr_provider *provider, u32 attrs,
			  phys_addr_t paddr, size_t len, gfp_t gfp)
{
	const struct phyr_chunk *chunk = NULL;
	const struct phys_vec *last;
	size_t merged_len;

	if (phyr->nr_chunks) {
		chunk = &phyr->chunks[phyr->nr_chunks - 1];
		if (chunk->provider != provider || chunk->attrs != attrs)
			chunk = NULL;
	}
	if (chunk) {
		last = &phyr->ranges[phyr->nr_ranges - 1];
		if (phyr_range_followed_by(last, paddr) &&
		    !check_add_overflow(last->len, len, &merged_len))
			return 0;
	}
	return phyr_grow(phyr, phyr->nr_chunks + !chunk, phyr->nr_ranges + 1,
			 gfp);
}

/**
 * phyr_append - append a physical range
 * @phyr: the phyr.
 * @provider: the provider owning the range; it must outlive @phyr.
 * @attrs: %PHYR_ATTR_* bits and fields, see PHYR_ATTRS().
 * @paddr: first byte: a CPU physical address, or an address in the
 *	interconnect's space for a %PHYR_PROVIDER_PRIVATE provider.
 * @len: length in bytes.
 * @gfp: allocation flags, used when the arrays must grow.
 *
 * If the last chunk has the same provider and attributes, the range joins
 * it, and extends its last range if it starts exactly where that range
 * ends; otherwise the range starts a new chunk.
 *
 * The provider and attributes must agree: %PHYR_PROVIDER_RAM only as
 * &phyr_provider_ram and without %PHYR_ATTR_MMIO; %PHYR_PROVIDER_P2P with
 * %PHYR_ATTR_MMIO; %PHYR_PROVIDER_PRIVATE and %PHYR_CC_PRIVATE with
 * %PHYR_ATTR_NO_CPU_MAP, as neither may be mapped by the host CPU.
 *
 * Context: as allowed by @gfp; the caller serialises building.
 * Return: 0 on success, else @phyr is unchanged and:
 * -EINVAL if @provider is NULL, @len is 0, @attrs has unknown bits or field
 * values, @attrs does not suit @provider, or @phyr is a DMA-mapped phyr
 * (&phyr.dma_dev set), which holds DMA addresses only;
 * -EOVERFLOW if the range wraps around the end of the address space, or the
 * phyr's total length would overflow a u64;
 * -ENOMEM if the arrays could not grow.
 */
int phyr_append(struct phyr *phyr, const struct phyr_provider *provider,
		u32 attrs, phys_addr_t paddr, size_t len, gfp_t gfp)
{
	phys_addr_t end;
	u64 total;
	int ret;

	if (!provider || !len || !phyr_attrs_valid(provider, attrs) ||
	    phyr->dma_dev)
		return -EINVAL;
	if (check_add_overflow(paddr, len - 1, &end) ||
	    check_add_overflow(phyr->len, len, &total))
		return -EOVERFLOW;

	ret = phyr_make_room(phyr, provider, attrs, paddr, len, gfp);
	if (ret)
		return ret;
	phyr_add(phyr, provider, attrs, paddr, end, len);
	return 0;
}
EXPORT_SYMBOL_GPL(phyr_append);

/*
 * What a multi-range builder may change: the counts and total, plus the
 * last chunk and last range, which an append may extend.
 */
struct phyr_snapshot {
	unsigned int		nr_chunks;
	unsigned int		nr_ranges;
	u64			len;
	struct phyr_chunk	chunk;
	size_t			range_len;
};

static void phyr_snapshot_take(const struct phyr *phyr,
			       struct phyr_snapshot *snap)
{
	*snap = (struct phyr_snapshot){
		.nr_chunks = phyr->nr_chunks,
		.nr_ranges = phyr->nr_ranges,
		.len = phyr->len,
	};
	if (phyr->nr_chunks) {
		snap->chunk = phyr->chunks[phyr->nr_chunks - 1];
		snap->range_len = phyr->ranges[phyr->nr_ranges - 1].len;
	}
}

static void phyr_snapshot_restore(struct phyr *phyr,
				  const struct phyr_snapshot *snap)
{
	phyr->nr_chunks = snap->nr_chunks;
	phyr->nr_ranges = snap->nr_ranges;
	phyr->len = snap->len;
	if (snap->nr_chunks) {
		phyr->chunks[snap->nr_chunks - 1] = snap->chunk;
		phyr->ranges[snap->nr_ranges - 1].len = snap->range_len;
	}
}

/*
 * The phyr providers of P2PDMA pagemaps, one per upstream p2pdma_provider,
 * made the first time a builder meets a page of it. A phyr_provider holds
 * nothing but the pointer, so an entry stays right even if its
 * p2pdma_provider is freed and another one later gets the same address;
 * the set is bounded by the number of BARs ever registered for P2PDMA.
 */
static DEFINE_XARRAY(phyr_p2pdma_providers);

static const struct phyr_provider *
phyr_p2pdma_provider(struct p2pdma_provider *p2p, gfp_t gfp)
{
	/* Aligned to its u64 member: the low 3 bits carry nothing. */
	unsigned long index = (unsigned long)p2p >> 3;
	struct phyr_provider *provider, *old;

	provider = xa_load(&phyr_p2pdma_providers, index);
	if (provider)
		return provider;
	provider = kmalloc_obj(*provider, gfp);
	if (!provider)
		return NULL;
	phyr_provider_init_p2p(provider, p2p);
	old = xa_cmpxchg(&phyr_p2pdma_providers, index, NULL, provider, gfp);
	if (!old)
		return provider;
	kfree(provider);
	return xa_is_err(old) ? NULL : old;
}

/*
 * The provider and attributes of the memory of @page. ZONE_DEVICE pages are
 * not system RAM: a P2PDMA page is MMIO of its BAR's provider, mapped as
 * P2P like any range of that provider; a device-private page has no CPU
 * physical address at all. Other ZONE_DEVICE pages (FS DAX, device
 * coherent, generic) are CPU-addressable memory and stay RAM.
 */
static int phyr_page_provider(struct page *page,
			      const struct phyr_provider **provider,
			      u32 *attrs, gfp_t gfp)
{
	*provider = &phyr_provider_ram;
	*attrs = PHYR_ATTRS_RAM;
	if (!is_zone_device_page(page))
		return 0;
	if (is_device_private_page(page))
		return -EINVAL;
	if (!is_pci_p2pdma_page(page))
		return 0;
	*provider = phyr_p2pdma_provider(pci_p2pdma_page_provider(page), gfp);
	*attrs = PHYR_ATTRS_MMIO;
	return *provider ? 0 : -ENOMEM;
}

/* Append [@paddr, @paddr + @len) of @page with the page's provider. */
static int phyr_append_page(struct phyr *phyr, struct page *page,
			    phys_addr_t paddr, size_t len, gfp_t gfp)
{
	const struct phyr_provider *provider;
	u32 attrs;
	int ret;

	ret = phyr_page_provider(page, &provider, &attrs, gfp);
	if (ret)
		return ret;
	return phyr_append(phyr, provider, attrs, paddr, len, gfp);
}

/*
 * is_zone_device_page() of @page, whose pfn is @pfn, reading its struct
 * page only where its memory section says it may be one: a page of an
 * online section is ordinary RAM unless the section is tainted by a
 * ZONE_DEVICE sub-section, the same test pfn_to_online_page() makes, since
 * ZONE_DEVICE memory is never onlined. The sections are few and stay in
 * the cache; the struct pages of a scattered page array are a cache miss
 * each, which sg_alloc_table_from_pages() does not pay for pages that do
 * not merge. Not pfn_to_online_page() itself: out of line, with its
 * pfn_valid() and sub-section checks, it made the build of 2 MiB blocks
 * 3.5 times slower (one call per page).
 */
static __always_inline bool phyr_page_is_device(struct page *page,
						unsigned long pfn)
{
#ifdef CONFIG_ZONE_DEVICE
	const struct mem_section *ms = __pfn_to_section(pfn);

	if (online_section(ms) && !online_device_section(ms))
		return false;
#endif
	return is_zone_device_page(page);
}

/*
 * The end (exclusive) of the run of physically contiguous RAM pages at @i,
 * or 0 if a page of it is a ZONE_DEVICE page, which needs its provider.
 */
static __always_inline unsigned int
phyr_page_run_end(struct page **pages, unsigned int i, unsigned int n)
{
	unsigned long pfn = page_to_pfn(pages[i]);

	if (phyr_page_is_device(pages[i], pfn))
		return 0;
	while (++i < n && page_to_pfn(pages[i]) == ++pfn)
		if (phyr_page_is_device(pages[i], pfn))
			return 0;
	return i;
}

/*
 * The one pass of phyr_append_pages(): @len bytes from @offset in the
 * first of @n pages, into arrays with room for as many ranges as the pages
 * have runs, and for a chunk unless the last one is RAM. The first run goes
 * through phyr_add(), which may extend the phyr's last range or start a
 * chunk. Every later run starts on a page boundary in that same chunk: the
 * loop reads each page's pfn once, writes a range whole pages long where a
 * run breaks, and the last range is cut to the end of @len after it; the
 * chunk's extent and lengths are updated once, at the end. Returns false,
 * with @phyr possibly changed (the caller restores it), at a ZONE_DEVICE
 * page.
 */
static bool phyr_add_page_runs(struct phyr *phyr, struct page **pages,
			       unsigned int n, unsigned int offset, size_t len)
{
	unsigned long pfn, start, next;
	struct phys_vec *first, *v;
	struct phyr_chunk *chunk;
	phys_addr_t paddr, lo, hi;
	unsigned int i, end;
	size_t piece, added;

	end = phyr_page_run_end(pages, 0, n);
	if (!end)
		return false;
	paddr = page_to_phys(pages[0]) + offset;
	piece = min(size_mul(end, PAGE_SIZE) - offset, len);
	phyr_add(phyr, &phyr_provider_ram, PHYR_ATTRS_RAM, paddr,
		 paddr + piece - 1, piece);
	len -= piece;
	if (!len)
		return true;

	chunk = &phyr->chunks[phyr->nr_chunks - 1];
	first = &phyr->ranges[phyr->nr_ranges];
	v = first;
	lo = chunk->lo;
	hi = chunk->hi;
	added = len;
	start = page_to_pfn(pages[end]);
	if (phyr_page_is_device(pages[end], start))
		return false;
	for (i = end + 1, pfn = start; i < n; i++, pfn = next) {
		next = page_to_pfn(pages[i]);
		if (phyr_page_is_device(pages[i], next))
			return false;
		if (next == pfn + 1)
			continue;
		/* A run of whole pages ends at @pfn. */
		*v++ = (struct phys_vec){
			.paddr = PFN_PHYS(start),
			.len = (size_t)(pfn + 1 - start) << PAGE_SHIFT,
		};
		lo = min(lo, PFN_PHYS(start));
		hi = max(hi, PFN_PHYS(pfn + 1) - 1);
		start = next;
	}
	/*
	 * The last run ends with the @len bytes, which end in page @n - 1:
	 * less than a page before its end.
	 */
	piece = ((size_t)(pfn + 1 - start) << PAGE_SHIFT) -
		(size_mul(n - end, PAGE_SIZE) - len);
	*v++ = (struct phys_vec){ .paddr = PFN_PHYS(start), .len = piece };
	lo = min(lo, PFN_PHYS(start));
	hi = max(hi, PFN_PHYS(start) + piece - 1);

	phyr->nr_ranges += v - first;
	chunk->nr_ranges += v - first;
	chunk->lo = lo;
	chunk->hi = hi;
	chunk->len += added;
	phyr->len += added;
	return true;
}

/*
 * Give back the ranges a one-pass build reserved and did not use. The
 * slack is kept if the smaller array cannot be allocated: @phyr is right
 * either way. krealloc() and vrealloc() keep the object when shrinking,
 * so this copies.
 */
static void phyr_trim_ranges(struct phyr *phyr, gfp_t gfp)
{
	struct phys_vec *ranges;

	if (phyr->max_ranges == phyr->nr_ranges)
		return;
	ranges = kvmalloc_array(phyr->nr_ranges, sizeof(*ranges),
				gfp | __GFP_NOWARN);
	if (!ranges)
		return;
	memcpy(ranges, phyr->ranges, phyr->nr_ranges * sizeof(*ranges));
	kvfree(phyr->ranges);
	phyr->ranges = ranges;
	phyr->max_ranges = phyr->nr_ranges;
}

/*
 * The number of physically contiguous runs of @n pages, or 0 if one of them
 * is a ZONE_DEVICE page.
 */
static unsigned int phyr_page_runs(struct page **pages, unsigned int n)
{
	unsigned int i = 0, end, nr_runs = 0;

	while (i < n) {
		end = phyr_page_run_end(pages, i, n);
		if (!end)
			return 0;
		nr_runs++;
		i = end;
	}
	return nr_runs;
}

/* Room for @nr_chunks more chunks and @nr_ranges more ranges? */
static bool phyr_has_room(const struct phyr *phyr, unsigned int nr_chunks,
			  unsigned int nr_ranges)
{
	return phyr->max_chunks - phyr->nr_chunks >= nr_chunks &&
	       phyr->max_ranges - phyr->nr_ranges >= nr_ranges;
}

/**
 * phyr_append_pages - append the RAM of a page array
 * @phyr: the phyr.
 * @pages: the pages.
 * @nr_pages: number of entries in @pages.
 * @offset: offset in bytes of the first byte in the first page.
 * @len: number of bytes to append, starting at @offset.
 * @gfp: allocation flags, used when the arrays must grow.
 *
 * The phyr counterpart of sg_alloc_table_from_pages(): appends @len bytes
 * from @offset in the first page on, through the following pages, as
 * &phyr_provider_ram ranges with %PHYR_ATTRS_RAM. Physically contiguous
 * pages merge into one range. Pages beyond the @len bytes are ignored, as
 * sg_alloc_table_from_pages() does.
 * A ZONE_DEVICE page is not system RAM: a PCI P2PDMA page is appended as
 * MMIO (%PHYR_ATTRS_MMIO) of its BAR's P2P provider, as
 * pci_p2pdma_page_provider() names it, so it is mapped as P2P and never
 * with RAM attributes; a device-private page is refused.
 *
 * Memory: one pass over @pages when @phyr already has room for one range
 * per page (phyr_reserve()) or is empty; an empty phyr's range array is
 * then allocated for one range per page and, after the pass, reallocated
 * to the ranges used, so nothing is left over (the transient is 16 bytes
 * per page on 64-bit). Otherwise the physically contiguous runs are
 * counted first and the arrays grow by exactly that, as
 * sg_alloc_table_from_pages() sizes its table.
 *
 * Context: as allowed by @gfp; the caller serialises building and holds
 * the pages.
 * Return: 0 on success, else @phyr is unchanged and:
 * -EINVAL if @len or @nr_pages is 0, @offset is not inside a page, or the
 * @len bytes do not fit in the @nr_pages pages, or a page is a
 * device-private ZONE_DEVICE page;
 * -EOVERFLOW if the phyr's total length would overflow a u64;
 * -ENOMEM if the arrays (or the provider of a P2PDMA page) could not be
 * allocated.
 */
int phyr_append_pages(struct phyr *phyr, struct page **pages,
		      unsigned int nr_pages, unsigned int offset, size_t len,
		      gfp_t gfp)
{
	struct phyr_snapshot snap;
	unsigned int i, n, nr_runs, new_chunk;
	bool grown = false;
	size_t piece;
	u64 total;
	int ret = 0;

	if (!len || !nr_pages || offset >= PAGE_SIZE ||
	    len > size_mul(nr_pages, PAGE_SIZE) - offset)
		return -EINVAL;
	if (phyr->dma_dev)
		return -EINVAL;
	if (check_add_overflow(phyr->len, (u64)len, &total))
		return -EOVERFLOW;
	/* Not DIV_ROUND_UP(): offset + len may be within a page of SIZE_MAX. */
	n = (offset + len - 1) / PAGE_SIZE + 1;
	/* RAM pages join the last chunk if it is RAM: room for no new one. */
	new_chunk = !phyr->nr_chunks ||
		    phyr->chunks[phyr->nr_chunks - 1].provider !=
			&phyr_provider_ram ||
		    phyr->chunks[phyr->nr_chunks - 1].attrs != PHYR_ATTRS_RAM;
	phyr_snapshot_take(phyr, &snap);

	/*
	 * One pass when the arrays have room for every page as a range: in a
	 * phyr the caller reserved, or in an empty one, whose range array is
	 * sized for that first and trimmed to what the runs used after (a
	 * transient 16 bytes per page). Otherwise, or if that allocation
	 * fails, count the runs first, as sg_alloc_table_from_pages() does,
	 * and grow by exactly that: no copy of the ranges already there.
	 */
	if (!phyr_has_room(phyr, new_chunk, n) && !phyr->nr_ranges)
		grown = !phyr_grow_exact(phyr, new_chunk, n,
					 gfp | __GFP_NOWARN);
	if (phyr_has_room(phyr, new_chunk, n)) {
		if (phyr_add_page_runs(phyr, pages, n, offset, len))
			goto out;
		phyr_snapshot_restore(phyr, &snap);
		goto slow;
	}
	nr_runs = phyr_page_runs(pages, n);
	if (!nr_runs)
		goto slow;
	ret = phyr_grow_exact(phyr, new_chunk, nr_runs, gfp);
	if (ret)
		return ret;
	phyr_add_page_runs(phyr, pages, n, offset, len);
	return 0;

	/* ZONE_DEVICE pages need their provider, page by page. */
slow:
	for (i = 0; len; i++, offset = 0) {
		piece = min_t(size_t, len, PAGE_SIZE - offset);
		ret = phyr_append_page(phyr, pages[i],
				       page_to_phys(pages[i]) + offset, piece,
				       gfp);
		if (ret) {
			phyr_snapshot_restore(phyr, &snap);
			break;
		}
		len -= piece;
	}
out:
	if (grown)
		phyr_trim_ranges(phyr, gfp);
	return ret;
}
EXPORT_SYMBOL_GPL(phyr_append_pages);

/**
 * phyr_append_bvecs - append the RAM of an array of bio_vecs
 * @phyr: the phyr.
 * @bvecs: the bio_vecs; multi-page entries are physically contiguous.
 * @nr_bvecs: number of entries in @bvecs.
 * @gfp: allocation flags, used when the arrays must grow.
 *
 * Appends every bio_vec, in order, as a &phyr_provider_ram range with
 * %PHYR_ATTRS_RAM; physically contiguous entries merge into one range.
 * A ZONE_DEVICE page is not system RAM: a PCI P2PDMA page is appended as
 * MMIO (%PHYR_ATTRS_MMIO) of its BAR's P2P provider, as
 * pci_p2pdma_page_provider() names it, so it is mapped as P2P and never
 * with RAM attributes; a device-private page is refused.
 *
 * Memory: one pass over @pages when @phyr already has room for one range
 * per page (phyr_reserve()) or is empty; an empty phyr's range array is
 * then allocated for one range per page and, after the pass, reallocated
 * to the ranges used, so nothing is left over (the transient is 16 bytes
 * per page on 64-bit). Otherwise the physically contiguous runs are
 * counted first and the arrays grow by exactly that, as
 * sg_alloc_table_from_pages() sizes its table.
 *
 * Context: as allowed by @gfp; the caller serialises building and holds
 * the pages.
 * Return: 0 on success, else @phyr is unchanged and:
 * -EINVAL if @nr_bvecs is 0 or an entry is empty, or a page is a
 * device-private ZONE_DEVICE page;
 * -EOVERFLOW if the phyr's total length would overflow a u64;
 * -ENOMEM if the arrays could not grow.
 */
int phyr_append_bvecs(struct phyr *phyr, const struct bio_vec *bvecs,
		      unsigned int nr_bvecs, gfp_t gfp)
{
	struct phyr_snapshot snap;
	unsigned int i;
	int ret;

	if (!nr_bvecs)
		return -EINVAL;

	phyr_snapshot_take(phyr, &snap);
	for (i = 0; i < nr_bvecs; i++) {
		ret = phyr_append_page(phyr, bvecs[i].bv_page,
				       bvec_phys(&bvecs[i]), bvecs[i].bv_len,
				       gfp);
		if (ret) {
			phyr_snapshot_restore(phyr, &snap);
			return ret;
		}
	}
	return 0;
}
EXPORT_SYMBOL_GPL(phyr_append_bvecs);

/**
 * phyr_append_sgtable - append the CPU side of a scatterlist table
 * @phyr: the phyr.
 * @sgt: the table; its page/offset/length side is read, over orig_nents
 *	entries, and its DMA side is ignored.
 * @gfp: allocation flags, used when the arrays must grow.
 *
 * Appends every entry, in order, as a &phyr_provider_ram range with
 * %PHYR_ATTRS_RAM; physically contiguous entries merge into one range. For
 * legacy exporters that still produce an sg_table of RAM.
 * A ZONE_DEVICE page is not system RAM: a PCI P2PDMA page is appended as
 * MMIO (%PHYR_ATTRS_MMIO) of its BAR's P2P provider, as
 * pci_p2pdma_page_provider() names it, so it is mapped as P2P and never
 * with RAM attributes; a device-private page is refused.
 *
 * Memory: one pass over @pages when @phyr already has room for one range
 * per page (phyr_reserve()) or is empty; an empty phyr's range array is
 * then allocated for one range per page and, after the pass, reallocated
 * to the ranges used, so nothing is left over (the transient is 16 bytes
 * per page on 64-bit). Otherwise the physically contiguous runs are
 * counted first and the arrays grow by exactly that, as
 * sg_alloc_table_from_pages() sizes its table.
 *
 * Context: as allowed by @gfp; the caller serialises building and holds
 * the pages.
 * Return: 0 on success, else @phyr is unchanged and:
 * -EINVAL if the table has no entry or an entry is empty, or a page is
 * a device-private ZONE_DEVICE page;
 * -EOVERFLOW if the phyr's total length would overflow a u64;
 * -ENOMEM if the arrays could not grow.
 */
int phyr_append_sgtable(struct phyr *phyr, const struct sg_table *sgt,
			gfp_t gfp)
{
	struct phyr_snapshot snap;
	struct scatterlist *sg;
	unsigned int i;
	int ret;

	if (!sgt->orig_nents)
		return -EINVAL;

	phyr_snapshot_take(phyr, &snap);
	for_each_sgtable_sg(sgt, sg, i) {
		ret = phyr_append_page(phyr, sg_page(sg), sg_phys(sg),
				       sg->length, gfp);
		if (ret) {
			phyr_snapshot_restore(phyr, &snap);
			return ret;
		}
	}
	return 0;
}
EXPORT_SYMBOL_GPL(phyr_append_sgtable);

/*
 * Find the range holding byte @offset of @phyr, which must be inside it.
 * Returns the chunk index, sets *@range and the offset in that range.
 */
static unsigned int phyr_locate(const struct phyr *phyr, u64 offset,
				unsigned int *range, size_t *range_off)
{
	unsigned int c = 0, r;

	while (offset >= phyr->chunks[c].len)
		offset -= phyr->chunks[c++].len;
	r = phyr->chunks[c].first;
	while (offset >= phyr->ranges[r].len)
		offset -= phyr->ranges[r++].len;

	*range = r;
	*range_off = offset;
	return c;
}

/**
 * __phyr_iter_start - set up a cursor over any byte slice of a phyr
 * @iter: the cursor, on the caller's stack.
 * @phyr: the phyr; it must not change while @iter is in use.
 * @offset: first byte of the slice, in bytes from the start of @phyr.
 * @len: length of the slice in bytes; 0 gives an empty slice.
 *
 * The out-of-line part of phyr_iter_start(), which callers use: it checks
 * the slice and finds the range holding byte @offset.
 *
 * Context: any context; allocates nothing.
 * Return: 0 on success; -ERANGE if the slice does not lie inside @phyr
 * (@offset + @len is beyond phyr_len() or overflows), with @iter set to an
 * empty slice.
 */
int __phyr_iter_start(struct phyr_iter *iter, const struct phyr *phyr,
		      u64 offset, u64 len)
{
	u64 end;

	*iter = (struct phyr_iter){ .phyr = phyr };
	if (check_add_overflow(offset, len, &end) || end > phyr->len)
		return -ERANGE;

	iter->remaining = len;
	if (len)
		iter->chunk = phyr_locate(phyr, offset, &iter->range,
					  &iter->range_off);
	return 0;
}
EXPORT_SYMBOL_GPL(__phyr_iter_start);

/**
 * phyr_aligned_block - find the largest naturally aligned block at an offset
 * @phyr: the phyr.
 * @offset: a byte of @phyr, in bytes from its start.
 * @max_len: the largest block wanted, in bytes; a power of two (e.g.
 *	%PUD_SIZE).
 * @block: filled with the block found.
 *
 * For huge mappings (a KVM fault at @offset): finds the largest power of
 * two S <= @max_len such that the S-aligned window of phyr offsets holding
 * @offset lies in a single range and starts at an S-aligned physical
 * address. The window never crosses into another range, since ranges are
 * by construction not contiguous or of another provider or attributes.
 * S is at least 1, so a block is always found inside @phyr.
 *
 * Context: any context; allocates nothing.
 * Return: 0 and @block filled with the provider, attributes, physical
 * address of the block's first byte and S; -EINVAL if @max_len is not a
 * power of two; -ERANGE if @offset is not inside @phyr.
 */
int phyr_aligned_block(const struct phyr *phyr, u64 offset, size_t max_len,
		       struct phyr_seg *block)
{
	const struct phyr_chunk *chunk;
	const struct phys_vec *pv;
	u64 range_start, range_end, start;
	unsigned int r;
	size_t range_off, size;

	if (!is_power_of_2(max_len))
		return -EINVAL;
	if (offset >= phyr->len)
		return -ERANGE;

	chunk = &phyr->chunks[phyr_locate(phyr, offset, &r, &range_off)];
	pv = &phyr->ranges[r];
	range_start = offset - range_off;
	range_end = range_start + pv->len;

	for (size = max_len; size > 1; size /= 2) {
		start = round_down(offset, size);
		if (start >= range_start && range_end - start >= size &&
		    IS_ALIGNED(pv->paddr + (start - range_start), size))
			break;
	}
	start = round_down(offset, size);

	*block = (struct phyr_seg){
		.provider = chunk->provider,
		.attrs = chunk->attrs,
		.paddr = pv->paddr + (start - range_start),
		.len = size,
	};
	return 0;
}
EXPORT_SYMBOL_GPL(phyr_aligned_block);

/**
 * phyr_seg_page - the struct page of a piece of RAM
 * @seg: a piece yielded by phyr_iter_next() or phyr_aligned_block().
 *
 * Only RAM has a struct page. For any other provider this is a caller bug
 * (MMIO or private memory handled as a page), reported with a rate-limited
 * warning that names the caller; it is not a WARN() so that a test may
 * exercise it.
 *
 * Context: any context.
 * Return: the page holding @seg->paddr for a %PHYR_PROVIDER_RAM piece; NULL
 * for any other provider.
 */
struct page *phyr_seg_page(const struct phyr_seg *seg)
{
	if (seg->provider->kind == PHYR_PROVIDER_RAM)
		return pfn_to_page(PHYS_PFN(seg->paddr));

	pr_warn_ratelimited("no struct page for %s range %pa, caller %pS\n",
			    seg->provider->kind == PHYR_PROVIDER_P2P ?
			    "P2P MMIO" : "private interconnect",
			    &seg->paddr, __builtin_return_address(0));
	return NULL;
}
EXPORT_SYMBOL_GPL(phyr_seg_page);
