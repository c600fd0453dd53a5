#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
#
# Create the rig's backing files in build/rig/ (see qemu_configs/phyr_rig.py):
#
#   ivshmem.bin  64 MiB, the ivshmem BAR 2 content: the little-endian u32 at
#                byte offset o is ((o / 4) * MUL mod 2^32) ^ XOR, with MUL and
#                XOR read from lib/phyr/phyr_rig_kunit.c, which checks the
#                same pattern through ioremap() in the guest.
#   nvme.img     16 MiB of zeros, the NVMe namespace.
#
# Quick when the files exist and are right. The guest writes through the
# ivshmem BAR (the rig's tests write through each slice and put the pattern
# back), and the BAR is the file itself (share=on): a run cut short between
# the two would leave it changed. So the file is checked whole against the
# SHA-256 recorded when it was written (ivshmem.bin.sha256, with MUL and
# XOR), and rewritten when it differs.

import array
import hashlib
import os
import re
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.realpath(__file__)),
                                    '..', '..', '..'))
RIG = os.path.join(ROOT, 'build', 'rig')
TEST_C = os.path.join(ROOT, 'lib', 'phyr', 'phyr_rig_kunit.c')
IVSHMEM_SIZE = 64 << 20
NVME_SIZE = 16 << 20


def pattern_constants():
    """Read PHYR_RIG_PATTERN_MUL/XOR from the kernel test, the one definition."""
    src = open(TEST_C).read()
    consts = {}
    for name in ('MUL', 'XOR'):
        m = re.search(r'#define\s+PHYR_RIG_PATTERN_' + name +
                      r'\s+(0x[0-9a-fA-F]+|[0-9]+)[uUlL]*\b', src)
        if not m:
            sys.exit('mkrig: PHYR_RIG_PATTERN_%s not found in %s' % (name, TEST_C))
        consts[name] = int(m.group(1), 0)
    return consts['MUL'], consts['XOR']


def pattern(index, mul, xor):
    return ((index * mul) & 0xffffffff) ^ xor


def file_sha256(path):
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            h.update(block)
    return h.hexdigest()


def ivshmem_ok(path, mul, xor):
    if not os.path.isfile(path) or os.path.getsize(path) != IVSHMEM_SIZE:
        return False
    try:
        with open(path + '.sha256') as f:
            want = f.read().split()
    except OSError:
        return False
    return want == ['%#x' % mul, '%#x' % xor, file_sha256(path)]


def write_ivshmem(path, mul, xor):
    words = array.array('I', (pattern(i, mul, xor)
                              for i in range(IVSHMEM_SIZE // 4)))
    if sys.byteorder != 'little':
        words.byteswap()
    tmp = path + '.tmp'
    with open(tmp, 'wb') as f:
        words.tofile(f)
    with open(path + '.sha256.tmp', 'w') as f:
        f.write('%#x %#x %s\n' % (mul, xor, file_sha256(tmp)))
    os.replace(tmp, path)
    os.replace(path + '.sha256.tmp', path + '.sha256')


def main():
    os.makedirs(RIG, exist_ok=True)
    mul, xor = pattern_constants()

    ivshmem = os.path.join(RIG, 'ivshmem.bin')
    if not ivshmem_ok(ivshmem, mul, xor):
        print('mkrig: writing build/rig/ivshmem.bin (64 MiB pattern)')
        write_ivshmem(ivshmem, mul, xor)
        if not ivshmem_ok(ivshmem, mul, xor):
            sys.exit('mkrig: ivshmem.bin does not read back')

    nvme = os.path.join(RIG, 'nvme.img')
    if not os.path.isfile(nvme) or os.path.getsize(nvme) != NVME_SIZE:
        print('mkrig: writing build/rig/nvme.img (16 MiB of zeros)')
        with open(nvme, 'wb') as f:
            f.truncate(NVME_SIZE)


if __name__ == '__main__':
    main()
