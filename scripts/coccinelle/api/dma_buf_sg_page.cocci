// SPDX-License-Identifier: GPL-2.0-only
///
/// An importer must use only the DMA side (sg_dma_address(), sg_dma_len())
/// of an sg_table it got from dma_buf_map_attachment[_unlocked](). The CPU
/// side belongs to the exporter: it may name no struct page at all (P2P
/// MMIO, the table the dma-buf core makes from a phyr), CONFIG_DMABUF_DEBUG
/// scrambles it, and memory without a struct page can only be described
/// correctly as a phyr. Find sg_page(), sg_phys() and sg_virt() on such a
/// table (page_to_phys(sg_page()) included), and walks of its pages with
/// for_each_sgtable_page(). See Documentation/core-api/phyr.rst, "dma-buf".
///
/// Found: in one function, the table assigned from
/// dma_buf_map_attachment[_unlocked]() and then its first entry (sgt->sgl)
/// or a cursor of for_each_sgtable_sg(), for_each_sgtable_dma_sg() or
/// for_each_sg(sgt->sgl, ...) passed to one of those accessors, or the table
/// passed to for_each_sgtable_page().
///
// Confidence: High where it reports; it misses tables kept in a structure
// and read in another function, and cursors advanced by hand (sg_next()).
// Copyright: (C) 2026 phyr developers
// Comments: Report, context and org modes only; the fix is to use the DMA
// addresses, or to import the buffer as a phyr (dma_buf_phyr.cocci).
// Options: --no-includes --include-headers

virtual context
virtual report
virtual org
virtual patch

@tbl depends on !patch@
identifier fn;
expression sgt, A, D;
position pf;
@@

fn@pf(...) {
  <+...
  sgt = \(dma_buf_map_attachment\|dma_buf_map_attachment_unlocked\)(A, D)
  ...+>
}

@cursor depends on !patch@
identifier tbl.fn, sg, i;
expression tbl.sgt, N;
position tbl.pf;
iterator name for_each_sgtable_sg, for_each_sgtable_dma_sg, for_each_sg;
statement S;
@@

fn@pf(...) {
  <+...
(
  for_each_sgtable_sg(sgt, sg, i) S
|
  for_each_sgtable_dma_sg(sgt, sg, i) S
|
  for_each_sg(sgt->sgl, sg, N, i) S
)
  ...+>
}

@cpu_side depends on !patch@
identifier tbl.fn, cursor.sg;
identifier acc = {sg_page, sg_phys, sg_virt};
position tbl.pf, p;
@@

fn@pf(...) {
  <+...
  acc@p(sg)
  ...+>
}

@cpu_first depends on !patch@
identifier tbl.fn;
identifier acc = {sg_page, sg_phys, sg_virt};
expression tbl.sgt;
position tbl.pf, p;
@@

fn@pf(...) {
  <+...
  acc@p(sgt->sgl)
  ...+>
}

@pages depends on !patch@
identifier tbl.fn;
expression tbl.sgt, E1, E2;
position tbl.pf, p;
iterator name for_each_sgtable_page;
statement S;
@@

fn@pf(...) {
  <+...
  for_each_sgtable_page@p(sgt, E1, E2) S
  ...+>
}

@depends on context@
position cpu_side.p;
identifier f;
@@

* f@p(...)

@depends on context@
position cpu_first.p;
identifier f;
@@

* f@p(...)

@depends on context@
position pages.p;
expression E1, E2, E3;
statement S;
@@

* for_each_sgtable_page@p(E1, E2, E3) S

@initialize:python@
@@
reported = set()

MSG = ("%s() on an sg_table from dma_buf_map_attachment(): an importer "
       "may use only its DMA addresses (sg_dma_address, sg_dma_len)")

def once(p):
    k = (p[0].file, p[0].line, p[0].column)
    if k in reported:
        return False
    reported.add(k)
    return True

@script:python depends on report@
p << cpu_side.p;
acc << cpu_side.acc;
@@
if once(p):
    coccilib.report.print_report(p[0], MSG % acc)

@script:python depends on report@
p << cpu_first.p;
acc << cpu_first.acc;
@@
if once(p):
    coccilib.report.print_report(p[0], MSG % acc)

@script:python depends on report@
p << pages.p;
@@
if once(p):
    coccilib.report.print_report(p[0], MSG % "for_each_sgtable_page")

@script:python depends on org@
p << cpu_side.p;
acc << cpu_side.acc;
@@
if once(p):
    coccilib.org.print_todo(p[0], MSG % acc)

@script:python depends on org@
p << cpu_first.p;
acc << cpu_first.acc;
@@
if once(p):
    coccilib.org.print_todo(p[0], MSG % acc)

@script:python depends on org@
p << pages.p;
@@
if once(p):
    coccilib.org.print_todo(p[0], MSG % "for_each_sgtable_page")
