#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# rig-user.sh [--no-build] - boot the x86_64 rig kernel (build/x86_64, the
# one kunit-rig.sh builds) with an initramfs that runs the userspace tests,
# on the same machine and devices (qemu_configs/phyr_rig.py, through
# rig-qemu.py), with KUnit disabled.
#
# The initramfs (build/rig-user/initramfs.cpio): busybox-static, /init
# (rig-user-init) and, in /tests, the kselftest programs built statically
# against the tree's uAPI headers:
#   udmabuf        tools/testing/selftests/drivers/dma-buf/udmabuf.c, upstream
#   udmabuf-phyr   the same directory: udmabuf as phyr and as sg_table,
#                  through the in-kernel test importer (debugfs)
#   vfio_pci_dmabuf_test
#                  tools/testing/selftests/vfio: the ivshmem BAR exported
#                  as a dma-buf by vfio-pci (it binds the device to
#                  vfio-pci itself), its revocation, the refusals
#   vfio_pci_kvm_dmabuf_test
#                  the same directory: a tiny VMM whose guest reads that
#                  BAR through a KVM memslot backed by the dma-buf, while
#                  the host revokes, resets, races and kills
#   vfio_pci_race_test
#                  the same directory: revoke, restore, map, fault, detach
#                  and close raced in pairs (R3), bad reads of the dma-buf
#                  fdinfo (R2); runs last (/init runs the programs in name
#                  order)
#   dmabuf_memslot_test, set_memory_region_test
#                  tools/testing/selftests/kvm, built with its own Makefile
#                  and kvm_util: the KVM_MEM_DMABUF refusals and capability
#                  with no PCI device, and upstream's memslot test, which
#                  must still pass with the new flag
#   memslot_modification_stress_test, memslot_perf_test, guest_memfd_test
#                  upstream's, the same way, unchanged; the first two with
#                  short arguments (in /args, below)
#   vfio_pci_device_test, vfio_dma_mapping_test,
#   vfio_dma_mapping_mmio_test, vfio_iommufd_setup_test
#                  upstream's, with tools/testing/selftests/vfio's Makefile
#                  and libvfio, unchanged, on the edu device of the second
#                  root port, which rig-user-init binds to vfio-pci
#   iommufd        upstream's tools/testing/selftests/iommu, with the
#                  series' dma-buf cases, on the mock IOMMU of
#                  CONFIG_IOMMUFD_TEST: every case (~3-4.5 min; make
#                  check-full or PHYR_RIG_IOMMUFD=1 only); iommufd_fail_nth
#                  too with PHYR_RIG_FAIL_NTH=1 (not measured yet)
#   iommufd_dmabuf, iommufd_fail_nth_dmabuf
#                  the same two programs, only their dma-buf cases (-t):
#                  always
#
# /args/NAME holds a program's arguments, evaluated by rig-user-init.
# PHYR_RIG_USER_ONLY="PROGRAM..." boots with only those (development).
# Without --no-build the kernel is (re)built first with kunit.py, as
# kunit-rig.sh builds it; check.sh and main.sh pass --no-build right after
# kunit-rig.sh. Console: build/logs/rig-user.log; per-test results (from
# rig-user-count.py): build/logs/rig-user.results. Exit 0 when the boot
# reached the end and no test failed. PHYR_RIG_TIMEOUT (seconds, default
# 1800: the boot takes about 13 min, KVM's set_memory_region_test 4 of
# them under TCG, upstream's iommufd and vfio selftests 1.5 and 2) bounds
# it.
#
# PHYR_RIG_PRISTINE=1 (development; never in make check, it builds a second
# kernel): the same boot on 7.3.4 as Debian ships it, the regression bar
# for upstream's suites. The tree is build/base (tree.sh --pristine), the
# kernel build/pristine-x86, configured from the rig's build/x86_64/.config
# (the series' options drop out with olddefconfig), the programs upstream's
# only; console and results in build/logs/rig-user-pristine.*. Compare the
# results with build/logs/rig-user.results: an upstream case that passes
# here and fails there is the series' regression.

set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
PHYR=$ROOT/tools/testing/phyr
. "$PHYR/lib.sh"
PRISTINE=${PHYR_RIG_PRISTINE:-}
TREE=$ROOT/build/linux
KBUILD=$ROOT/build/x86_64
OUT=$ROOT/build/rig-user
LOGS=$ROOT/build/logs
LOG=$LOGS/rig-user.log
RESULTS=$LOGS/rig-user.results
if [ -n "$PRISTINE" ]; then
	TREE=$ROOT/build/base
	KBUILD=$ROOT/build/pristine-x86
	OUT=$ROOT/build/rig-user-pristine
	LOG=$LOGS/rig-user-pristine.log
	RESULTS=$LOGS/rig-user-pristine.results
fi
TIMEOUT=${PHYR_RIG_TIMEOUT:-1800}
SELFTESTS=$TREE/tools/testing/selftests
BUILD=1
[ "${1:-}" = --no-build ] && BUILD=

"$PHYR/tree.sh" ${PRISTINE:+--pristine}
mkdir -p "$LOGS" "$OUT"
rm -f "$LOG" "$RESULTS"		# never count a stale run
# build/x86_64 and build/rig are shared with kunit-rig.sh: one at a time.
exec 9>"$ROOT/build/.rig.lock"
flock 9
"$PHYR/mkrig.py"

if [ -n "$BUILD" ] && [ -n "$PRISTINE" ]; then
	[ -f "$ROOT/build/x86_64/.config" ] || {
		echo "rig-user: no build/x86_64/.config to configure the pristine kernel from; run kunit-rig.sh first" >&2
		exit 1
	}
	echo "rig-user: building the pristine 7.3.4 kernel in build/pristine-x86 (about 11 min the first time)..."
	start=$(date +%s)
	mkdir -p "$KBUILD"
	cp "$ROOT/build/x86_64/.config" "$KBUILD/.config"
	make -C "$TREE" O="$KBUILD" ARCH=x86_64 olddefconfig bzImage -j2 \
		>"$LOGS/rig-user-pristine.build.log" 2>&1 || {
		echo "rig-user: kernel build failed; the end of build/logs/rig-user-pristine.build.log:" >&2
		tail -n 30 "$LOGS/rig-user-pristine.build.log" >&2
		exit 1
	}
	echo "rig-user: kernel built in $(($(date +%s) - start))s"
elif [ -n "$BUILD" ]; then
	echo "rig-user: building the x86_64 kernel with kunit.py (incremental)..."
	start=$(date +%s)
	(cd "$TREE" && ./tools/testing/kunit/kunit.py build --arch=x86_64 \
		--build_dir=../x86_64 --kunitconfig="$PHYR/x86_64.kunitconfig" \
		--qemu_config="$PHYR/qemu_configs/phyr_rig.py" --jobs=2) \
		>"$LOGS/rig-user.build.log" 2>&1 || {
		echo "rig-user: kernel build failed; the end of build/logs/rig-user.build.log:" >&2
		tail -n 30 "$LOGS/rig-user.build.log" >&2
		exit 1
	}
	echo "rig-user: kernel built in $(($(date +%s) - start))s"
fi
KERNEL=$KBUILD/arch/x86/boot/bzImage
[ -f "$KERNEL" ] || { echo "rig-user: no $KERNEL; run kunit-rig.sh first" >&2; exit 1; }
# A kernel built before the userspace options were in x86_64.kunitconfig
# boots, then cannot run /init: say so instead of timing out.
for opt in BLK_DEV_INITRD DEVTMPFS TMPFS UDMABUF DEBUG_FS VFIO_PCI KVM; do
	grep -q "^CONFIG_$opt=y" "$KBUILD/.config" || {
		echo "rig-user: CONFIG_$opt is not set in build/x86_64/.config; rebuild (without --no-build)" >&2
		exit 1
	}
done

# The uAPI headers of the tree, as kselftest's KHDR_INCLUDES.
make -s -C "$TREE" O="$KBUILD" ARCH=x86_64 headers >"$OUT/headers.log" 2>&1 || {
	cat "$OUT/headers.log" >&2
	exit 1
}
mkdir -p "$OUT/tests"
rm -f "$OUT"/tests/*
CFLAGS=(-static -O2 -g -Wall -isystem "$KBUILD/usr/include"
	-I "$SELFTESTS")
SINGLE=(drivers/dma-buf/udmabuf.c drivers/dma-buf/udmabuf-phyr.c
	vfio/vfio_pci_dmabuf_test.c vfio/vfio_pci_kvm_dmabuf_test.c
	vfio/vfio_pci_race_test.c)
# Upstream's only, on the pristine tree; the series' are not in it.
[ -z "$PRISTINE" ] || SINGLE=(drivers/dma-buf/udmabuf.c)
for src in "${SINGLE[@]}"; do
	t=$(basename "$src" .c)
	src=$SELFTESTS/$src
	gcc "${CFLAGS[@]}" -o "$OUT/tests/$t" "$src" -lpthread >"$OUT/$t.cc.log" 2>&1 || {
		echo "rig-user: $src does not build:" >&2
		cat "$OUT/$t.cc.log" >&2
		exit 1
	}
done

# Selftests built with their own directory's Makefile (kselftest's lib.mk)
# and library, static: upstream's, unchanged, and the project's KVM one.
# selftest DIR LOG MAKE-ARGS... -- PROGRAM... - build and copy to tests/.
selftest() {
	local dir=$1 log=$2 args=() progs=() p
	shift 2
	while [ "$1" != -- ]; do args+=("$1"); shift; done
	shift
	for p in "$@"; do progs+=("$OUT/$dir/$p"); done
	mkdir -p "$OUT/$dir"
	make -s -C "$SELFTESTS/$dir" OUTPUT="$OUT/$dir" \
		KHDR_INCLUDES="-isystem $KBUILD/usr/include" "${args[@]}" \
		"${progs[@]}" >"$OUT/$log" 2>&1 || {
		echo "rig-user: the $dir selftests do not build (build/rig-user/$log):" >&2
		tail -n 30 "$OUT/$log" >&2
		exit 1
	}
	cp "${progs[@]}" "$OUT/tests/"
}
# KVM (kvm_util): the project's KVM_MEM_DMABUF refusals, and upstream's
# memslot and guest_memfd tests.
SERIES_KVM=dmabuf_memslot_test
SERIES_VFIO=vfio_pci_iommufd_dmabuf_test
if [ -n "$PRISTINE" ]; then
	SERIES_KVM=
	SERIES_VFIO=
fi
selftest kvm kvm.cc.log EXTRA_CFLAGS=-static -- $SERIES_KVM \
	set_memory_region_test memslot_modification_stress_test \
	memslot_perf_test guest_memfd_test
# vfio (libvfio), upstream's, on an edu device (rig-user-init binds it).
selftest vfio vfio.cc.log EXTRA_CFLAGS=-static -- vfio_pci_device_test \
	vfio_dma_mapping_test vfio_dma_mapping_mmio_test vfio_iommufd_setup_test \
	$SERIES_VFIO
# iommufd's, on its mock IOMMU (CONFIG_IOMMUFD_TEST). Its Makefile sets
# CFLAGS itself: -static goes in LDFLAGS. iommufd_fail_nth takes far
# longer than the rest (every ioctl, failing each allocation in turn):
# only with PHYR_RIG_FAIL_NTH=1. iommufd itself takes about 4.5 min of
# the boot under TCG: it runs in make check-full (PHYR_CHECK_FULL=1) or
# with PHYR_RIG_IOMMUFD=1, so that make check stays under 40 minutes.
# Always: the dma-buf cases of both programs (upstream's dmabuf_simple and
# dmabuf_revoke, the project's multi-range, revoke and refusal cases and
# the fail-nth run of the dma-buf map), as iommufd_dmabuf and
# iommufd_fail_nth_dmabuf: the same binaries, run with the harness's -t
# filters (args below); a few seconds under TCG.
selftest iommu iommu.cc.log LDFLAGS=-static -- iommufd iommufd_fail_nth
cp "$OUT/iommu/iommufd" "$OUT/tests/iommufd_dmabuf"
cp "$OUT/iommu/iommufd_fail_nth" "$OUT/tests/iommufd_fail_nth_dmabuf"
rm -f "$OUT/tests/iommufd_fail_nth"
if [ -z "${PHYR_CHECK_FULL:-}${PHYR_RIG_IOMMUFD:-}${PHYR_RIG_FAIL_NTH:-}" ]; then
	rm -f "$OUT/tests/iommufd"
else
	# The whole program has the dma-buf cases already.
	rm -f "$OUT/tests/iommufd_dmabuf"
fi
if [ -n "${PHYR_RIG_FAIL_NTH:-}" ]; then
	cp "$OUT/iommu/iommufd_fail_nth" "$OUT/tests/"
	rm -f "$OUT/tests/iommufd_fail_nth_dmabuf"
fi

# The arguments of the programs that need some (/args/NAME, evaluated by
# rig-user-init): short runs under TCG, and the vfio device's BDF.
mkdir -p "$OUT/args"
rm -f "$OUT"/args/*
# Two vCPUs of 16 MiB each, 20 memslot additions and removals while they
# write (upstream's default: one vCPU, 1 GiB, 10).
echo '-v 2 -b 16M -i 20' >"$OUT/args/memslot_modification_stress_test"
# Tests 2-4 (unmap chunked, move active area, move inactive area: the
# guest touches the memory while the host moves its memslot) once for 1 s
# each, with at most 32 memslots, the host waiting up to 60 s for the
# guest (defaults: all six tests for 5 s, every memslot KVM offers, 10 s).
# Under TCG one pass of "map" takes ~20 s, "unmap" ~30 s, "RW" minutes.
echo '-f 2 -e 4 -s 32 -l 1 -r 1 -t 60' >"$OUT/args/memslot_perf_test"
for t in dmabuf_simple dmabuf_revoke dmabuf_multi_range dmabuf_revoke_unmaps \
	 dmabuf_refused; do
	printf -- '-t %s ' "$t"
done >"$OUT/args/iommufd_dmabuf"
echo '-t map_dmabuf_domain' >"$OUT/args/iommufd_fail_nth_dmabuf"
# An edu device (the one on the second root port, not the one the
# dma-buf test importer uses), bound to vfio-pci by rig-user-init.
for t in vfio_pci_device_test vfio_dma_mapping_test \
	 vfio_dma_mapping_mmio_test vfio_iommufd_setup_test; do
	echo '$(vfio_bind 1234:11e8)' >"$OUT/args/$t"
done
# The same edu, whose DMA reads the ivshmem BAR through a dma-buf of it in
# its IOAS (the series' test, with the series' edu driver in libvfio).
echo '$(vfio_bind 1234:11e8) $(vfio_bind 1af4:1110)' \
	>"$OUT/args/vfio_pci_iommufd_dmabuf_test"

# PHYR_RIG_USER_ONLY="PROGRAM..." (for development; never in make check):
# boot with only these programs, e.g. to rerun one test after a change.
if [ -n "${PHYR_RIG_USER_ONLY:-}" ]; then
	for t in "$OUT"/tests/*; do
		case " $PHYR_RIG_USER_ONLY " in
		*" ${t##*/} "*) ;;
		*) rm -f "$t" ;;
		esac
	done
	echo "rig-user: only $(ls "$OUT/tests" | tr '\n' ' ')(PHYR_RIG_USER_ONLY)"
fi

# The cpio, with the base tree's gen_init_cpio (needs no root for /dev nodes).
gcc -O2 -o "$OUT/gen_init_cpio" "$TREE/usr/gen_init_cpio.c"
{
	echo "dir /bin 755 0 0"
	echo "dir /dev 755 0 0"
	echo "nod /dev/console 600 0 0 c 5 1"
	for d in proc sys tmp tests; do echo "dir /$d 755 0 0"; done
	echo "file /bin/busybox /bin/busybox 755 0 0"
	for a in sh mount cat echo grep cut uname poweroff sleep ls dmesg \
		 readlink; do
		echo "slink /bin/$a busybox 777 0 0"
	done
	echo "file /init $PHYR/rig-user-init 755 0 0"
	for t in "$OUT"/tests/*; do
		echo "file /tests/${t##*/} $t 755 0 0"
	done
	echo "dir /args 755 0 0"
	for t in "$OUT"/args/*; do
		echo "file /args/${t##*/} $t 644 0 0"
	done
} >"$OUT/initramfs.list"
"$OUT/gen_init_cpio" "$OUT/initramfs.list" >"$OUT/initramfs.cpio"

# panic=-1: a panic (init dying, say) reboots, which -no-reboot turns
# into QEMU's exit, rather than waiting for the timeout.
mapfile -t QEMU < <("$PHYR/rig-qemu.py" "$KERNEL" "$OUT/initramfs.cpio" \
	kunit.enable=0 panic=-1)
[ ${#QEMU[@]} -gt 4 ] || { echo "rig-user: rig-qemu.py gave no command" >&2; exit 1; }
echo "rig-user: booting QEMU (TCG, timeout ${TIMEOUT}s) -> ${LOG#"$ROOT"/}"
printf '%q ' "${QEMU[@]}" >"$OUT/qemu.cmd"
start=$(date +%s)
rc=0
# stdin from /dev/null: QEMU's stdio serial must not read the terminal.
phyr_tcg timeout --foreground "$TIMEOUT" "${QEMU[@]}" </dev/null >"$LOG" 2>&1 || rc=$?
took=$(($(date +%s) - start))
[ "$rc" = 124 ] && echo "rig-user: QEMU killed after ${TIMEOUT}s" | tee -a "$LOG" >&2
echo "rig-user: QEMU done in ${took}s (exit $rc)"
echo "phyr-user: host: QEMU ran ${took}s, exit $rc" >>"$LOG"

rc=0
"$PHYR/rig-user-count.py" "$LOG" rig-user >"$RESULTS" || rc=$?
sed -n 's/^\(PASS\|FAIL\|SKIP\) /\1 /p' "$RESULTS" | cut -d' ' -f1 | sort | uniq -c |
	awk '{printf "%s%s %s", (NR > 1 ? ", " : "rig-user: "), $1, $2} END {print ""}'
grep '^FAIL ' "$RESULTS" >&2 || true
exit $rc
