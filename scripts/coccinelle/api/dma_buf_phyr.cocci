// SPDX-License-Identifier: GPL-2.0-only
///
/// Convert a legacy dma-buf importer that maps a buffer as an sg_table and
/// walks its DMA segments for one device to the phyr mapping API: the
/// importer attaches as a pinned phyr importer, gets the exporter's phyr with
/// dma_buf_map_phyr[_unlocked]() and maps it for its device with
/// phyr_dma_map_create(), whose segments (struct phyr_dma_vec) replace the
/// sg_table's DMA side. See Documentation/core-api/phyr.rst, "dma-buf".
///
/// The shape converted, all in one function, with the sg_table pointer a
/// local variable declared on its own (struct sg_table *sgt;):
///
///   attach = dma_buf_attach(dmabuf, dev);
///   sgt = dma_buf_map_attachment[_unlocked](attach, dir);
///   if (IS_ERR(sgt)) ... PTR_ERR(sgt) ...
///   for_each_sgtable_dma_sg(sgt, sg, i) {
///           ... sg_dma_address(sg) ... sg_dma_len(sg) ...
///   }
///   dma_buf_unmap_attachment[_unlocked](attach, sgt, dir);
///
/// becomes dma_buf_dynamic_attach() with pinned phyr importer ops, a
/// struct phyr_dma_map *map mapped and unmapped by two static helpers added
/// to the file (map: dma_buf_map_phyr[_unlocked]() then
/// phyr_dma_map_create(); unmap: phyr_dma_map_destroy() then
/// dma_buf_unmap_phyr[_unlocked]()), and a loop over map->vecs[].
///
/// Also added to the file, before the first converted function: the
/// importer's caps (DMA_BUF_DESC_PHYR, shared RAM, pinned), the attach ops
/// (no callback: the core pins a movable buffer for a pinned importer while
/// it is mapped and never notifies it), and the helpers of the map variants
/// used. The include of <linux/phyr-dma.h> follows that of
/// <linux/dma-buf.h>.
///
/// A function is left alone, and not reported, if the sg_table pointer is
/// used in any other way (passed to a function, sgt->nents, stored in a
/// structure), if the scatterlist cursor is used for anything but
/// sg_dma_address() and sg_dma_len() (sg_page(), sg->length, sg_next()), if
/// the attachment is not made with dma_buf_attach() in the same function, if
/// it walks the table more than once, or if it already uses an identifier
/// named map.
///
// Confidence: Medium. The result builds and keeps the DMA addresses and
// lengths when the shape above is all the function does with the buffer
// (tools/testing/phyr/cocci-check.sh builds and runs a converted sample
// importer; the sample covers the _unlocked variants only).
// Copyright: (C) 2026 phyr developers
// Comments: Not converted: importers that keep the sg_table in a structure
// and unmap it elsewhere (most drivers, e.g. ib_umem_dmabuf), that attach
// with dma_buf_dynamic_attach() (their invalidate_mappings must become the phyr
// importer's callback by hand), that declare and initialise the sg_table
// pointer in one statement, or that walk with for_each_sgtable_sg() or
// for_each_sg(). The converted importer accepts only DMA_BUF_DESC_PHYR of
// shared RAM, as a pinned attachment: an exporter that offers only an
// sg_table (every legacy exporter) now fails the attach with -EOPNOTSUPP,
// and P2P memory needs the caps' providers widened by hand. Until the
// dma-buf core has such helpers, the map/unmap helpers are added to each
// converted file; the unmap helper releases &dma_buf_attachment.phyr, the
// phyr the core recorded for the attachment.
// Options: --no-includes --include-headers

virtual patch
virtual context
virtual report
virtual org

@initialize:python@
@@
# (file, function) -> why it is not converted
bad = {}
# positions where an identifier is used as the converted shape allows
ok_pos = set()
# (file, function) -> {(cursor, index)} of its walks
walks = {}
# (file, function) made their attachment with dma_buf_attach()
attached = set()
# files where the helpers were added, per kind
added = set()
# the file the patch rules are working on
cur = [None]

def key(p):
    return (p[0].file, p[0].line, p[0].column)

def not_ok(p):
    return key(p) not in ok_pos

def mark_bad(p, fn, why):
    bad.setdefault((p[0].file, fn), why)

def convertible(p, fn):
    k = (p[0].file, fn)
    return k not in bad and k in attached and len(walks.get(k, ())) == 1

@cand@
identifier fn, sgt;
expression attach, dir;
position pf;
@@

fn@pf(...) {
  <+...
  sgt = \(dma_buf_map_attachment\|dma_buf_map_attachment_unlocked\)(attach, dir)
  ...+>
}

// The declaration must be a plain local one.
@decl@
identifier cand.fn, cand.sgt;
position cand.pf;
@@

fn@pf(...) {
  ... when any
  struct sg_table *sgt;
  ... when any
}

@script:python depends on !decl@
fn << cand.fn;
pf << cand.pf;
@@
mark_bad(pf, fn, "the sg_table pointer is not a plain local variable")

// Uses of the sg_table pointer that the conversion rewrites.
@sgt_ok@
identifier cand.sgt;
expression E1, E2;
position p;
@@

(
sgt@p = \(dma_buf_map_attachment\|dma_buf_map_attachment_unlocked\)(E1, E2)
|
IS_ERR(sgt@p)
|
PTR_ERR(sgt@p)
|
\(dma_buf_unmap_attachment\|dma_buf_unmap_attachment_unlocked\)(E1, sgt@p, E2)
)

@script:python@
p << sgt_ok.p;
@@
ok_pos.add(key(p))

@sgt_ok_walk@
identifier cand.sgt, sg, i;
position p;
iterator name for_each_sgtable_dma_sg;
statement S;
@@

for_each_sgtable_dma_sg(sgt@p, sg, i) S

@script:python@
p << sgt_ok_walk.p;
@@
ok_pos.add(key(p))

@sgt_other@
identifier cand.fn, cand.sgt;
position cand.pf;
position p : script:python() { not_ok(p) };
@@

fn@pf(...) {
  <+... sgt@p ...+>
}

@script:python@
fn << cand.fn;
pf << cand.pf;
p << sgt_other.p;
@@
mark_bad(pf, fn, "the sg_table pointer is used beyond map, walk and unmap")

// The walks, and what their cursor is used for.
@walk@
identifier cand.fn, cand.sgt, sg, i;
position cand.pf, pl;
iterator name for_each_sgtable_dma_sg;
statement S;
@@

fn@pf(...) {
  <+...
  for_each_sgtable_dma_sg@pl(sgt, sg, i) S
  ...+>
}

@script:python@
fn << cand.fn;
pf << cand.pf;
sg << walk.sg;
i << walk.i;
@@
walks.setdefault((pf[0].file, fn), set()).add((sg, i))

@sg_ok@
identifier sg;
position p;
@@

(
sg_dma_address(sg@p)
|
sg_dma_len(sg@p)
)

@script:python@
p << sg_ok.p;
@@
ok_pos.add(key(p))

@sg_ok_walk@
identifier sg, sgt, i;
position p;
iterator name for_each_sgtable_dma_sg;
statement S;
@@

for_each_sgtable_dma_sg(sgt, sg@p, i) S

@script:python@
p << sg_ok_walk.p;
@@
ok_pos.add(key(p))

@sg_other@
identifier cand.fn, walk.sg;
position cand.pf;
position p : script:python() { not_ok(p) };
@@

fn@pf(...) {
  <+... sg@p ...+>
}

@script:python@
fn << cand.fn;
pf << cand.pf;
p << sg_other.p;
@@
mark_bad(pf, fn, "the scatterlist cursor is used beyond sg_dma_address() and sg_dma_len()")

@attached_here@
identifier cand.fn;
expression cand.attach, B, D;
position cand.pf, pa;
@@

fn@pf(...) {
  <+...
  attach = dma_buf_attach@pa(B, D)
  ...+>
}

@script:python@
fn << cand.fn;
pf << cand.pf;
pa << attached_here.pa;
@@
attached.add((pf[0].file, fn))

@has_map@
identifier cand.fn;
position cand.pf, pm;
symbol map;
@@

fn@pf(...) {
  <+... map@pm ...+>
}

@script:python@
fn << cand.fn;
pf << cand.pf;
pm << has_map.pm;
@@
mark_bad(pf, fn, "it already uses an identifier named map")

// Report and org: the functions the patch mode converts, and the others.
@conv depends on !patch@
identifier cand.fn;
position cand.pf : script:python(fn) { convertible(pf, fn) };
position p;
@@

fn@pf@p(...) { ... }

@script:python depends on report@
fn << cand.fn;
pf << conv.p;
@@
coccilib.report.print_report(pf[0],
    "legacy dma-buf importer %s() can map the buffer as a phyr (dma_buf_map_phyr, phyr_dma_map_create): convert with MODE=patch" % fn)

@script:python depends on org@
fn << cand.fn;
pf << conv.p;
@@
coccilib.org.print_todo(pf[0], "legacy dma-buf importer %s(): convert to phyr" % fn)

@ctx depends on context@
identifier cand.fn;
position cand.pf : script:python(fn) { convertible(pf, fn) };
expression A, D;
@@

fn@pf(...) {
  <+...
* \(dma_buf_map_attachment\|dma_buf_map_attachment_unlocked\)(A, D)
  ...+>
}

// Patch mode. Each rule applies to the convertible functions only.
@script:python ok depends on patch@
fn << cand.fn;
sgt << cand.sgt;
pf << cand.pf;
okfn;
oksgt;
@@
cur[0] = pf[0].file
if convertible(pf, fn):
    coccinelle.okfn = cocci.make_ident(fn)
    coccinelle.oksgt = cocci.make_ident(sgt)
else:
    cocci.include_match(False)

@kind depends on ok@
identifier ok.okfn, ok.oksgt;
expression A, D;
@@

okfn(...) {
  <+...
  oksgt = dma_buf_map_attachment_unlocked(A, D)
  ...+>
}

@kind_locked depends on ok@
identifier ok.okfn, ok.oksgt;
expression A, D;
@@

okfn(...) {
  <+...
  oksgt = dma_buf_map_attachment(A, D)
  ...+>
}

// The helpers, once per file, before the first converted function.
@script:python first depends on ok@
fn << ok.okfn;
first_fn;
@@
if (cur[0], "common") in added:
    cocci.include_match(False)
else:
    added.add((cur[0], "common"))
    coccinelle.first_fn = cocci.make_ident(fn)

@script:python first_unlocked@
fn << ok.okfn;
d << kind.D;
first_fn;
@@
if (cur[0], "unlocked") in added:
    cocci.include_match(False)
else:
    added.add((cur[0], "unlocked"))
    coccinelle.first_fn = cocci.make_ident(fn)

@script:python first_locked@
fn << ok.okfn;
d << kind_locked.D;
first_fn;
@@
if (cur[0], "locked") in added:
    cocci.include_match(False)
else:
    added.add((cur[0], "locked"))
    coccinelle.first_fn = cocci.make_ident(fn)

@depends on patch@
identifier first.first_fn;
@@

+/*
+ * A pinned phyr importer of shared RAM, what dma_buf_attach() made
+ * before (converted by the dma_buf_phyr semantic patch).
+ */
+static const struct dma_buf_caps dmabuf_phyr_importer_caps = {
+	.descs = DMA_BUF_DESC_PHYR,
+	.providers = BIT(PHYR_PROVIDER_RAM),
+	.cc_states = BIT(PHYR_CC_SHARED),
+	.lifetimes = BIT(DMA_BUF_LIFETIME_PINNED),
+};
+
first_fn(...) { ... }

@depends on patch@
identifier first.first_fn;
@@

+/* The importer's ops: its caps; a pinned importer needs no callback. */
+static const struct dma_buf_attach_ops dmabuf_phyr_importer_ops = {
+	.caps = &dmabuf_phyr_importer_caps,
+};
+
first_fn(...) { ... }

@depends on patch@
identifier first_unlocked.first_fn;
@@

+static struct phyr_dma_map *dmabuf_phyr_map_unlocked(struct dma_buf_attachment *attach,
+						     enum dma_data_direction dir)
+{
+	/* The phyr of @attach, mapped for @attach->dev. */
+	struct phyr_dma_params params = {
+		.dev = attach->dev,
+		.dir = dir,
+	};
+	struct phyr_dma_map *map;
+	const struct phyr *phyr;
+
+	phyr = dma_buf_map_phyr_unlocked(attach);
+	if (IS_ERR(phyr))
+		return ERR_CAST(phyr);
+	map = phyr_dma_map_create(phyr, 0, phyr_len(phyr), &params,
+				  GFP_KERNEL);
+	if (IS_ERR(map))
+		dma_buf_unmap_phyr_unlocked(attach, phyr);
+	return map;
+}
+
first_fn(...) { ... }

@depends on patch@
identifier first_unlocked.first_fn;
@@

+static void dmabuf_phyr_unmap_unlocked(struct dma_buf_attachment *attach,
+				       struct phyr_dma_map *map)
+{
+	phyr_dma_map_destroy(map);
+	dma_buf_unmap_phyr_unlocked(attach, attach->phyr);
+}
+
first_fn(...) { ... }

@depends on patch@
identifier first_locked.first_fn;
@@

+static struct phyr_dma_map *dmabuf_phyr_map(struct dma_buf_attachment *attach,
+					      enum dma_data_direction dir)
+{
+	/* The phyr of @attach, mapped for @attach->dev, under its lock. */
+	struct phyr_dma_params params = {
+		.dev = attach->dev,
+		.dir = dir,
+	};
+	struct phyr_dma_map *map;
+	const struct phyr *phyr;
+
+	phyr = dma_buf_map_phyr(attach);
+	if (IS_ERR(phyr))
+		return ERR_CAST(phyr);
+	map = phyr_dma_map_create(phyr, 0, phyr_len(phyr), &params,
+				  GFP_KERNEL);
+	if (IS_ERR(map))
+		dma_buf_unmap_phyr(attach, phyr);
+	return map;
+}
+
first_fn(...) { ... }

@depends on patch@
identifier first_locked.first_fn;
@@

+static void dmabuf_phyr_unmap(struct dma_buf_attachment *attach,
+			      struct phyr_dma_map *map)
+{
+	/* Under the reservation lock, as dmabuf_phyr_map(). */
+	phyr_dma_map_destroy(map);
+	dma_buf_unmap_phyr(attach, attach->phyr);
+}
+
first_fn(...) { ... }

@depends on patch && ok@
@@

#include <linux/dma-buf.h>
+#include <linux/phyr-dma.h>

// The function itself.
@depends on patch@
identifier ok.okfn;
expression A, B, D;
@@

okfn(...) {
  <...
  A =
- dma_buf_attach(B, D)
+ dma_buf_dynamic_attach(B, D, &dmabuf_phyr_importer_ops, NULL)
  ...>
}

@depends on patch@
identifier ok.okfn, ok.oksgt;
expression A, D;
@@

okfn(...) {
  <...
(
- oksgt = dma_buf_map_attachment_unlocked(A, D)
+ map = dmabuf_phyr_map_unlocked(A, D)
|
- oksgt = dma_buf_map_attachment(A, D)
+ map = dmabuf_phyr_map(A, D)
|
- dma_buf_unmap_attachment_unlocked(A, oksgt, D)
+ dmabuf_phyr_unmap_unlocked(A, map)
|
- dma_buf_unmap_attachment(A, oksgt, D)
+ dmabuf_phyr_unmap(A, map)
|
- IS_ERR(oksgt)
+ IS_ERR(map)
|
- PTR_ERR(oksgt)
+ PTR_ERR(map)
)
  ...>
}

@depends on patch@
identifier ok.okfn, ok.oksgt, sg, i;
iterator name for_each_sgtable_dma_sg;
statement S;
@@

okfn(...) {
  <...
- for_each_sgtable_dma_sg(oksgt, sg, i)
+ for (i = 0; i < map->nr_vecs; i++)
  S
  ...>
}

@depends on patch@
identifier ok.okfn, walk.sg, walk.i;
@@

okfn(...) {
  <...
(
- sg_dma_address(sg)
+ map->vecs[i].dma_addr
|
- sg_dma_len(sg)
+ map->vecs[i].len
)
  ...>
}

@depends on patch@
identifier ok.okfn, walk.sg;
@@

okfn(...) {
  ... when any
- struct scatterlist *sg;
  ... when any
}

@depends on patch@
identifier ok.okfn, ok.oksgt;
@@

okfn(...) {
  ... when any
- struct sg_table *oksgt;
+ struct phyr_dma_map *map;
  ... when any
}
