#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the x86_64 rig kernel and run its KUnit suites in QEMU (the rig of
# qemu_configs/phyr_rig.py), with kunit.py.
#
#   tools/testing/phyr/kunit-rig.sh [--swiotlb|--lazy|--kcsan] [kunit.py run options...]
#   e.g. tools/testing/phyr/kunit-rig.sh 'phyr_rig*'    (a filter glob)
#
# --swiotlb boots the same kernel with swiotlb forced and the IOMMU in
# passthrough (swiotlb=force iommu=soft,pt: "soft" keeps the bounce pool
# that x86 otherwise frees when an IOMMU is present), so devices use
# dma-direct with every buffer bounced; it runs the DMA suite and the
# kmemleak scan (filter 'phyr_rig_[dk]*' unless one is given) and writes
# rig-swiotlb.log and rig-swiotlb.summary instead.
#
# --lazy boots the same kernel with intel-iommu in lazy mode
# (PHYR_RIG_IOMMU=lazy in qemu_configs/phyr_rig.py: iommu.strict=0, no
# caching mode, so domains have a flush queue) and runs the IOTLB flush
# count case (filter 'phyr_rig_dma.phyr_rig_dma_iova_flushes' unless one is
# given); it writes rig-lazy.log and rig-lazy.summary. make check runs it
# (step 4).
#
# --kcsan builds a kernel of its own (build/kcsan-x86_64, about 11 min the
# first time): the rig's options with KCSAN (kcsan.kunitconfig) in place of
# KASAN and kmemleak, and runs the dma-buf suites, whose revoke race runs its
# two sides on both CPUs (filter 'dma_buf_phyr*' unless one is given); it
# writes rig-kcsan.log and rig-kcsan.summary. make check-full runs it.
#
# Writes build/logs/rig.log (kunit.py's messages and the whole console) and
# build/logs/rig.summary (kunit.py's parsed results). Exit status: kunit.py's
# (0 when the kernel built, booted and every test passed or skipped).
# PHYR_RIG_TIMEOUT (seconds, default 600) bounds one boot: the KUnit boot
# with the dma-buf suites on two CPUs took 256 s on an idle 2-core machine.

set -uo pipefail

ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
PHYR=$ROOT/tools/testing/phyr
. "$PHYR/lib.sh"
LOGS=$ROOT/build/logs
NAME=rig
EXTRA=()
if [ "${1:-}" = --swiotlb ]; then
	shift
	NAME=rig-swiotlb
	EXTRA=(--kernel_args=swiotlb=force --kernel_args=iommu=soft,pt)
	[ $# -gt 0 ] || set -- 'phyr_rig_[dk]*'
fi
BUILD_DIR=../x86_64
KUNITCONFIG=$PHYR/x86_64.kunitconfig
if [ "${1:-}" = --lazy ]; then
	shift
	NAME=rig-lazy
	export PHYR_RIG_IOMMU=lazy
	[ $# -gt 0 ] || set -- 'phyr_rig_dma.phyr_rig_dma_iova_flushes'
elif [ "${1:-}" = --kcsan ]; then
	shift
	NAME=rig-kcsan
	BUILD_DIR=../kcsan-x86_64
	# The rig's options with KCSAN instead of KASAN and kmemleak (KCSAN
	# cannot be combined with KASAN), in a kernel of its own.
	KUNITCONFIG=$ROOT/build/kcsan.kunitconfig
	mkdir -p "$ROOT/build"
	{
		grep -vE '^CONFIG_(KASAN|DEBUG_KMEMLEAK)' "$PHYR/x86_64.kunitconfig"
		cat "$PHYR/kcsan.kunitconfig"
	} >"$KUNITCONFIG.tmp"
	cmp -s "$KUNITCONFIG.tmp" "$KUNITCONFIG" || mv "$KUNITCONFIG.tmp" "$KUNITCONFIG"
	rm -f "$KUNITCONFIG.tmp"
	[ $# -gt 0 ] || set -- 'dma_buf_phyr*'
fi
LOG=$LOGS/$NAME.log
SUMMARY=$LOGS/$NAME.summary
TIMEOUT=${PHYR_RIG_TIMEOUT:-600}

"$PHYR/tree.sh" || exit
# One rig run at a time: a second one would overwrite the logs and images.
exec 9>"$ROOT/build/.rig.lock"
flock 9
"$PHYR/mkrig.py" || exit
mkdir -p "$LOGS"


if [ -f "$ROOT/build/${BUILD_DIR#../}/vmlinux" ]; then
	echo "rig: building x86_64 kernel (incremental)..."
else
	echo "rig: building x86_64 kernel (about 8-10 min the first time on 2 cores)..."
fi
start=$(date +%s)

# --raw_output=all makes kunit.py print the raw console and always report
# success, so the results are parsed from the saved log afterwards.
cd "$ROOT/build/linux" || exit
phyr_tcg ./tools/testing/kunit/kunit.py run --arch=x86_64 --build_dir="$BUILD_DIR" \
	--kunitconfig="$KUNITCONFIG" \
	--qemu_config="$PHYR/qemu_configs/phyr_rig.py" \
	--jobs=2 --timeout="$TIMEOUT" --raw_output=all "${EXTRA[@]}" "$@" 2>&1 |
	tee "$LOG" |
	while IFS= read -r line; do
		case $line in
		*"Starting KUnit Kernel"*)
			echo "rig: kernel built in $(( $(date +%s) - start ))s"
			echo "rig: booting QEMU (TCG, timeout ${TIMEOUT}s)..."
			start=$(date +%s)
			;;
		*"Elapsed time:"*)
			echo "rig: QEMU done in $(( $(date +%s) - start ))s"
			;;
		esac
	done
rc=${PIPESTATUS[0]}
if [ "$rc" != 0 ]; then
	echo "rig: kunit.py failed (exit $rc); the end of build/logs/$NAME.log:" >&2
	tail -n 40 "$LOG" >&2
	exit "$rc"
fi

./tools/testing/kunit/kunit.py parse "$LOG" > "$SUMMARY" 2>&1
rc=$?
grep -E "Testing complete|Ran [0-9]+ tests" "$SUMMARY" | sed 's/^\[[0-9:]*\] //; s/^/rig: /'
[ "$rc" = 0 ] || echo "rig: tests failed, see build/logs/$NAME.summary and $NAME.log" >&2
exit "$rc"
