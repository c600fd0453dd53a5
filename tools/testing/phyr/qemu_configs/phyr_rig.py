# SPDX-License-Identifier: GPL-2.0
#
# kunit.py qemu config for the phyr rig (ARCHITECTURE.md, Appendix):
#   kunit.py run --arch=x86_64 --qemu_config=<this file> ...
#
# q35 with a split irqchip, an EPYC CPU (SVM and nested paging emulated),
# intel-iommu with interrupt remapping, and a PCIe switch under root port 1
# holding an ivshmem-plain device (64 MiB BAR backed by build/rig/ivshmem.bin,
# filled by mkrig.sh), an NVMe controller with a 16 MiB CMB and an edu
# device; a second root port holds another edu (P2P through the host bridge).

import os

from ..qemu_config import QemuArchParams

# This file is loaded by path, so the rig files are found from its location:
# four levels below the repository root.
_ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.realpath(__file__)),
				     '..', '..', '..', '..'))
_RIG = os.path.join(_ROOT, 'build', 'rig')


def _path(name):
	# QEMU option values escape a comma by doubling it.
	return os.path.join(_RIG, name).replace(',', ',,')

# PHYR_RIG_IOMMU picks how iommu-dma translates (make bench runs all
# three): strict (the default: an IOTLB invalidation with every unmap), lazy
# (iommu.strict=0: unmaps go through the flush queue) or pt (iommu=pt:
# identity domains, so DMA is dma-direct). kunit.py puts its own arguments
# before this command line, so the mode cannot be given with --kernel_args.
# The rig's intel-iommu runs in caching mode, which vfio in the guest needs;
# in caching mode intel-iommu forces strict invalidation ("IOMMU batching
# disallowed due to virtualization"), so the lazy boot, a benchmark boot
# that assigns nothing, has an intel-iommu without it.
_MODE = os.environ.get('PHYR_RIG_IOMMU', 'strict')
_IOMMU = {
	'strict': 'iommu.strict=1',
	'lazy': 'iommu.strict=0',
	'pt': 'iommu=pt',
}[_MODE]
_CACHING_MODE = '' if _MODE == 'lazy' else ',caching-mode=on'

# nokaslr: under TCG with -cpu EPYC, 7.3's relocated (KASLR) kernel hangs
# right after decompression, before its first message; -cpu max boots, and
# so does EPYC without KASLR. The rig needs EPYC (SVM for the guest's KVM).
QEMU_ARCH = QemuArchParams(linux_arch='x86_64',
			   kconfig='''
CONFIG_SERIAL_8250=y
CONFIG_SERIAL_8250_CONSOLE=y''',
			   qemu_arch='x86_64',
			   kernel_path='arch/x86/boot/bzImage',
			   kernel_command_line='console=ttyS0 nokaslr intel_iommu=on ' + _IOMMU +
					   ' kmemleak.verbose=1',
			   extra_qemu_params=[
				'-bios', 'qboot.rom',
				# After kunit.py's own '-m 1024': the last -m wins.
				# KASAN takes 1/8 of it for shadow.
				'-m', '2048',
				# Two vCPUs on both host cores: QEMU's TCG is
				# multi-threaded for an x86 guest on an x86 host.
				'-smp', '2',
				'-machine', 'q35,kernel-irqchip=split',
				'-cpu', 'EPYC',
				'-device', 'intel-iommu,intremap=on' + _CACHING_MODE,
				'-device', 'pcie-root-port,id=rp1,chassis=1,slot=1',
				'-device', 'x3130-upstream,id=up1,bus=rp1',
				'-device', 'xio3130-downstream,id=dn1,bus=up1,chassis=2,slot=1',
				'-device', 'xio3130-downstream,id=dn2,bus=up1,chassis=2,slot=2',
				'-device', 'xio3130-downstream,id=dn3,bus=up1,chassis=2,slot=3',
				'-object', 'memory-backend-file,id=shm,mem-path=' +
					_path('ivshmem.bin') + ',size=64M,share=on',
				'-device', 'ivshmem-plain,memdev=shm,bus=dn1',
				'-drive', 'file=' + _path('nvme.img') +
					',if=none,id=nv0,format=raw',
				'-device', 'nvme,serial=phyr0,drive=nv0,cmb_size_mb=16,bus=dn2',
				'-device', 'edu,bus=dn3',
				'-device', 'pcie-root-port,id=rp2,chassis=3,slot=1',
				'-device', 'edu,bus=rp2',
			   ])
