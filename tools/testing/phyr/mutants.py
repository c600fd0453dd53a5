#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
#
# mutants.py [ID...] - the mutation check (make mutants).
# mutants.py --report - the tests that caught each mutant in the last run. Each mutant is a
# small deliberate break of one fix; it is applied to the tree (build/linux,
# whose project files are links into the repository), the suites that must
# catch it run, and the tree is restored. A suite catches a mutant when it
# fails (exits non-zero). Before the mutants, each suite runs once on the
# unbroken tree and must pass, or the check stops: a suite that fails anyway
# catches nothing. Prints one line per mutant, caught or SURVIVED, and
# writes them to build/logs/mutants.results. Exit 0 when every mutant was
# caught. Not part of make check: each mutant rebuilds a kernel and boots it.
#
# A mutant: an id, what it breaks, the file (a path in the kernel tree), a
# string that must occur exactly once in it, what replaces it, and the
# suite: ('uml', FILTER) runs kunit-uml.sh, ('rig', FILTER) kunit-rig.sh,
# ('rig-lazy', FILTER) kunit-rig.sh --lazy (the rig with a flush queue),
# ('user', PROGRAMS) rig-user.sh with PHYR_RIG_USER_ONLY.

import os
import re
import shutil
import subprocess
import sys
import time

PHYR = os.path.dirname(os.path.realpath(__file__))
ROOT = os.path.realpath(os.path.join(PHYR, '..', '..', '..'))
TREE = os.path.join(ROOT, 'build', 'linux')
LOGS = os.path.join(ROOT, 'build', 'logs')

MUTANTS = [
    ('iommufd-one-range',
     'iommufd: the pfn reader maps the slice from the first range, '
     'contiguously (7.3\'s single phys_vec)',
     'drivers/iommu/iommufd/pages.c',
     '\trc = phyr_iter_start(&iter, dmabuf->phyr, start, len);\n',
     '\tbatch_add_pfn_num(batch, PHYS_PFN(dmabuf->phyr->ranges[0].paddr + '
     'start),\n\t\t\t  last_index - start_index + 1, BATCH_MMIO);\n'
     '\treturn 0;\n'
     '\trc = phyr_iter_start(&iter, dmabuf->phyr, start, len);\n',
     ('user', 'iommufd_dmabuf vfio_pci_iommufd_dmabuf_test')),
    ('iommufd-revoke-no-unmap',
     'iommufd: the revoke callback leaves the IOVAs mapped in the domains',
     'drivers/iommu/iommufd/pages.c',
     '\tlist_for_each_entry(track, &pages->dmabuf.tracker, elm) {\n'
     '\t\tstruct iopt_area *area = track->area;\n',
     '\tif (0)\n'
     '\tlist_for_each_entry(track, &pages->dmabuf.tracker, elm) {\n'
     '\t\tstruct iopt_area *area = track->area;\n',
     ('user', 'iommufd_dmabuf vfio_pci_iommufd_dmabuf_test')),
    ('vfio-reset-no-revoke',
     'vfio-pci: VFIO_DEVICE_RESET resets the device without revoking its '
     'dma-bufs first',
     'drivers/vfio/pci/vfio_pci_core.c',
     '\tvfio_pci_dma_buf_move(vdev, true);\n'
     '\tret = pci_try_reset_function(vdev->pdev);\n',
     '\tret = pci_try_reset_function(vdev->pdev);\n',
     ('user', 'vfio_pci_dmabuf_test vfio_pci_iommufd_dmabuf_test')),
    ('vfio-reset-revokes-late',
     'vfio-pci: VFIO_DEVICE_RESET revokes its dma-bufs after the reset, not '
     'before (the state after the ioctl is the same: only the order shows)',
     'drivers/vfio/pci/vfio_pci_core.c',
     '\tvfio_pci_dma_buf_move(vdev, true);\n'
     '\tret = pci_try_reset_function(vdev->pdev);\n'
     '\tif (__vfio_pci_memory_enabled(vdev))\n',
     '\tret = pci_try_reset_function(vdev->pdev);\n'
     '\tvfio_pci_dma_buf_move(vdev, true);\n'
     '\tif (__vfio_pci_memory_enabled(vdev))\n',
     ('user', 'vfio_pci_dmabuf_test')),
    ('phyr-cc-private-mapped',
     'lib/phyr: confidential (PHYR_CC_PRIVATE) ranges are DMA-mapped like '
     'shared ones (M17)',
     'lib/phyr/dma.c',
     '\tif (phyr_attrs_cc(seg->attrs) == PHYR_CC_PRIVATE)\n'
     '\t\treturn -EACCES;\n',
     '',
     ('uml', 'phyr_dma*')),
    ('phyr-pages-slack-kept',
     'lib/phyr: phyr_append_pages() keeps the one range per page it sized an '
     'empty phyr for, instead of giving back what the runs did not use',
     'lib/phyr/phyr.c',
     '\tif (grown)\n\t\tphyr_trim_ranges(phyr, gfp);\n',
     '',
     ('uml', 'phyr.*')),
    ('phyr-mmio-map-read-only',
     'lib/phyr: MMIO through the host bridge is mapped read-only '
     '(DMA_TO_DEVICE) whatever the direction, so a device cannot write '
     'through it',
     'lib/phyr/dma.c',
     '\t\taddr = dma_map_phys(p->dev, paddr, len, p->dir,\n',
     '\t\taddr = dma_map_phys(p->dev, paddr, len,\n'
     '\t\t\t\t    flags ? DMA_TO_DEVICE : p->dir,\n',
     ('rig', 'phyr_rig_dma.phyr_rig_dma_phyr_cmb')),
    ('dma-buf-iova-offset-zero',
     'dma-buf: dma_buf_phys_vec_to_sgt() links every range at IOVA offset 0, '
     'as 7.3.4 did',
     'drivers/dma-buf/dma-buf-mapping.c',
     '\t\t\t\t\t    phys_vec[i].paddr, mapped_len,\n',
     '\t\t\t\t\t    phys_vec[i].paddr, 0,\n',
     ('rig', 'phyr_rig_dma.phyr_rig_dma_to_sgt*')),
    ('dma-buf-free-sgt-leak',
     'dma-buf: dma_buf_free_sgt() frees orig_nents entries, which '
     'dma_buf_phys_vec_to_sgt() set to 0, as 7.3.4 does',
     'drivers/dma-buf/dma-buf-mapping.c',
     '\tsgt->orig_nents = sgt->nents;\n\tsg_free_table(sgt);\n',
     '\tsg_free_table(sgt);\n',
     ('rig', 'phyr_rig*')),
    ('iommu-dma-iova-destroy-sync',
     'iommu/dma: dma_iova_destroy() syncs the IOTLB and frees the IOVA at '
     'once in a flush-queue domain, as 7.3.4 does',
     'drivers/iommu/dma-iommu.c',
     '\tiotlb_gather.queued = free_iova && READ_ONCE(cookie->fq_domain);\n',
     '\tiotlb_gather.queued = false;\n',
     ('rig-lazy', 'phyr_rig_dma.phyr_rig_dma_iova_flushes')),
    ('phyr-pages-device-unchecked',
     'lib/phyr: phyr_append_pages()\'s one pass takes a page after the '
     'first run for RAM without looking at its section or struct page (P8)',
     'lib/phyr/phyr.c',
     '\t\tif (phyr_page_is_device(pages[i], next))\n\t\t\treturn false;\n',
     '',
     ('rig', 'phyr_rig_dma.phyr_rig_dma_p2pdma_pages')),
    ('phyr-sgt-4g',
     'lib/phyr: sg_table segments cut at the device\'s maximum, not at '
     '2 GiB page aligned (C6)',
     'lib/phyr/dma.c',
     '\tmax = min_t(size_t, max, SZ_2G);\n'
     '\tif (max >= PAGE_SIZE)\n'
     '\t\tmax = ALIGN_DOWN(max, PAGE_SIZE);\n',
     '',
     ('uml', 'phyr_dma*')),
    ('phyr-mmio-unlink-cached',
     'lib/phyr: an IOVA holding MMIO is unlinked without DMA_ATTR_MMIO '
     '(M14)',
     'lib/phyr/dma.c',
     '\treturn state->mmio ? attrs | DMA_ATTR_MMIO : attrs;\n',
     '\treturn attrs;\n',
     ('rig', 'phyr_rig_dma*')),
    ('phyr-map-leaks-iova',
     'lib/phyr: phyr_dma_map_create() keeps the IOVA when its vector array '
     'cannot be allocated (R5)',
     'lib/phyr/dma.c',
     '\t\tif (ret) {\n'
     '\t\t\tphyr_dma_unmap_state(map->dev, &map->state, map->dir,\n'
     '\t\t\t\t\t     map->attrs);\n'
     '\t\t\tgoto err_free;\n',
     '\t\tif (ret) {\n'
     '\t\t\tgoto err_free;\n',
     ('rig', 'phyr_rig_dma_fail_nth*')),
    ('phyr-bvecs-partial',
     'lib/phyr: phyr_append_bvecs() leaves the bio_vecs it appended before '
     'an allocation failed (R5: the phyr must be unchanged)',
     'lib/phyr/phyr.c',
     '\t\t\t\t       bvec_phys(&bvecs[i]), bvecs[i].bv_len,\n'
     '\t\t\t\t       gfp);\n'
     '\t\tif (ret) {\n'
     '\t\t\tphyr_snapshot_restore(phyr, &snap);\n',
     '\t\t\t\t       bvec_phys(&bvecs[i]), bvecs[i].bv_len,\n'
     '\t\t\t\t       gfp);\n'
     '\t\tif (ret) {\n',
     ('rig', 'phyr_rig_dma_fail_nth*')),
    ('phyr-private-segments-uncut',
     'lib/phyr: a private interconnect or bus address segment is not cut '
     'at the segment boundary (what the list and the iterator share: M7 '
     'checked against the test\'s own segments, not list against iterator)',
     'lib/phyr/dma.c',
     '\t\tvec->len = phyr_dma_fit(vec->dma_addr, len, iter->boundary);\n',
     '\t\tvec->len = len;\n',
     ('uml', 'phyr_dma*')),
    ('phyr-bus-offset-dropped',
     'lib/phyr: a P2P range reached through a PCI switch is given its CPU '
     'physical address, not its bus address (the bus offset dropped)',
     'lib/phyr/dma.c',
     '\t\treturn pci_p2pdma_bus_addr_map(iter->provider->p2p, paddr);\n',
     '\t\treturn paddr;\n',
     ('rig', 'phyr_rig_dma*')),
    ('kvm-bind-keeps-attachment',
     'KVM: a KVM_MEM_DMABUF slot that fails to be created after its bind '
     '(kvm_set_memslot()) keeps its dma-buf attachment (R5)',
     'virt/kvm/kvm_main.c',
     '\tif (r && change == KVM_MR_CREATE && (mem->flags & KVM_MEM_DMABUF))\n'
     '\t\tkvm_dmabuf_unbind(new);\n',
     '',
     ('user', 'vfio_pci_kvm_dmabuf_test')),
]


def run_suite(suite, tag):
    kind, arg = suite
    env = dict(os.environ)
    if kind == 'uml':
        cmd = [os.path.join(PHYR, 'kunit-uml.sh'), arg]
    elif kind == 'rig':
        cmd = [os.path.join(PHYR, 'kunit-rig.sh'), arg]
    elif kind == 'rig-lazy':
        cmd = [os.path.join(PHYR, 'kunit-rig.sh'), '--lazy', arg]
    else:
        cmd = [os.path.join(PHYR, 'rig-user.sh')]
        env['PHYR_RIG_USER_ONLY'] = arg
    log = os.path.join(LOGS, f'mutants.{tag}.log')
    start = time.time()
    with open(log, 'w') as f:
        rc = subprocess.call(cmd, stdout=f, stderr=subprocess.STDOUT,
                             env=env, cwd=ROOT)
    if kind in ('uml', 'rig', 'rig-lazy'):
        # kunit.py's parsed results, for caught_by().
        summary = os.path.join(LOGS, {'rig': 'rig.summary',
                                      'rig-lazy': 'rig-lazy.summary',
                                      'uml': 'uml.run.log'}[kind])
        if os.path.exists(summary):
            with open(log, 'a') as f, open(summary, errors='replace') as g:
                f.write(g.read())
    if kind == 'user':
        # A break in the userspace boot may have written into the rig's
        # ivshmem backing file: write its pattern afresh.
        os.unlink(os.path.join(ROOT, 'build', 'rig', 'ivshmem.bin'))
        subprocess.check_call([os.path.join(PHYR, 'mkrig.py')],
                              stdout=subprocess.DEVNULL)
        shutil.copy(os.path.join(LOGS, 'rig-user.log'),
                    os.path.join(LOGS, f'mutants.{tag}.console.log'))
    return rc, time.time() - start


def suite_name(suite):
    return f'{suite[0]} {suite[1]}'


def caught_by(tag):
    """The tests that failed in a suite's log: kunit.py's [FAILED] cases, or
    rig-user's FAIL lines (program: test name, variants folded)."""
    names = []
    try:
        with open(os.path.join(LOGS, f'mutants.{tag}.log'),
                  errors='replace') as f:
            for line in f:
                m = re.search(r'\[FAILED\] (\S+)', line)
                if not m:
                    m = re.match(r'FAIL rig-user: (\S+): \d+ (\S+)', line)
                    if m:
                        name = f'{m.group(1)} {m.group(2).split(".")[-1]}'
                    else:
                        continue
                else:
                    name = m.group(1)
                if name not in names:
                    names.append(name)
    except OSError:
        pass
    return names


def main():
    want = sys.argv[1:]
    if want[:1] == ['--report']:
        # The tests that caught each mutant of the last run, from its logs.
        for mid, what, _, _, _, suite in MUTANTS:
            print(f'{mid}: {", ".join(caught_by(mid)) or "(no failed test)"}')
        return 0
    mutants = [m for m in MUTANTS if not want or m[0] in want]
    if not mutants:
        sys.exit(f'mutants: no mutant {" ".join(want)}')
    os.makedirs(LOGS, exist_ok=True)
    subprocess.check_call([os.path.join(PHYR, 'tree.sh')])

    # Every mutation must apply, exactly once, before anything runs.
    for mid, _, path, old, _, _ in mutants:
        n = open(os.path.join(TREE, path)).read().count(old)
        if n != 1:
            sys.exit(f'mutants: {mid}: the text to break occurs {n} times '
                     f'in {path}; update mutants.py')

    for suite in sorted({m[5] for m in mutants}):
        tag = 'baseline-' + suite_name(suite).replace(' ', '_').replace('*', '')
        rc, took = run_suite(suite, tag)
        print(f'baseline: {suite_name(suite)}: '
              f'{"passes" if rc == 0 else "FAILS"} ({took:.0f} s)', flush=True)
        if rc:
            sys.exit(f'mutants: {suite_name(suite)} fails on the unbroken '
                     f'tree, see build/logs/mutants.{tag}.log')

    results = []
    for mid, what, path, old, new, suite in mutants:
        file = os.path.join(TREE, path)
        saved = file + '.mutants-orig'
        shutil.copy2(file, saved)
        try:
            with open(file) as f:
                text = f.read()
            with open(file, 'w') as f:
                f.write(text.replace(old, new, 1))
            rc, took = run_suite(suite, mid)
        finally:
            # Copy back (a new mtime: the next build recompiles the file).
            shutil.copyfile(saved, file)
            os.unlink(saved)
        by = ', '.join(caught_by(mid)) or 'the suite failed'
        line = (f'{"caught" if rc else "SURVIVED"} {mid}: {what}; '
                f'{suite_name(suite)} ({took:.0f} s)'
                + (f'; by {by}' if rc else ''))
        print(line, flush=True)
        results.append((rc != 0, line))

    with open(os.path.join(LOGS, 'mutants.results'), 'w') as f:
        for _, line in results:
            f.write(line + '\n')
    caught = sum(1 for c, _ in results if c)
    print(f'mutants: {caught} of {len(results)} caught')
    return 0 if caught == len(results) else 1


if __name__ == '__main__':
    sys.exit(main())
