#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
#
# rig-qemu.py KERNEL INITRD [KERNEL_ARG...] - print, one per line, the QEMU
# command line that boots KERNEL with INITRD on the rig of
# qemu_configs/phyr_rig.py, for rig-user.sh.
#
# The machine and its devices are those of the kunit.py config, loaded the
# way kunit.py loads it (so there is one device list), and the command is
# put together as kunit.py's QEMU runner does, with two differences: no
# kunit_shutdown= (KUnit's executor would power the machine off before
# /init runs, even with kunit.enable=0) and an -initrd.

import os
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.realpath(__file__)),
                                    '..', '..', '..'))
KUNIT_DIR = os.path.join(ROOT, 'build', 'linux', 'tools', 'testing', 'kunit')
CONFIG = os.path.join(ROOT, 'tools', 'testing', 'phyr', 'qemu_configs',
                      'phyr_rig.py')


def main():
    if len(sys.argv) < 3:
        sys.exit('usage: rig-qemu.py KERNEL INITRD [KERNEL_ARG...]')
    kernel, initrd, extra = sys.argv[1], sys.argv[2], sys.argv[3:]

    sys.path.insert(0, KUNIT_DIR)
    import kunit_kernel  # pylint: disable=import-outside-toplevel

    # pylint: disable=protected-access
    _, ops = kunit_kernel._get_qemu_ops(CONFIG, None, None)
    cmdline = ops._kernel_command_line
    suffix = ' kunit_shutdown=reboot'
    if not cmdline.endswith(suffix):
        sys.exit('rig-qemu: kunit.py no longer appends "%s"; update me' % suffix)
    cmdline = cmdline[:-len(suffix)]

    argv = ['qemu-system-' + ops._qemu_arch,
            '-nodefaults',
            '-m', '1024',		# as kunit.py; phyr_rig.py's -m wins
            '-kernel', kernel,
            '-initrd', initrd,
            '-append', ' '.join([cmdline] + extra),
            '-no-reboot',
            '-nographic',
            '-serial', ops._serial] + ops._extra_qemu_params
    for arg in argv:
        if '\n' in arg:
            sys.exit('rig-qemu: newline in a QEMU argument: %r' % arg)
        print(arg)


if __name__ == '__main__':
    main()
