#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# kunit-uml.sh [kunit.py run options and filter] - build and run the phyr
# KUnit suites on UML (lib/phyr/.kunitconfig, build dir build/uml), and in
# the same kernel upstream's own dma-buf suites, unchanged, through their
# own drivers/dma-buf/.kunitconfig (kunit.py merges both): the regression
# bar of the patched dma-buf core.
# Without arguments, and with PHYR_CHECK_FULL=1 (make check-full) or
# PHYR_UML_NODEBUG=1, then runs the DMA suite's fast-path cases again on the
# bench kernel (bench-uml.kunitconfig, build dir build/bench-uml): no
# DMA_API_DEBUG there, so dma_need_unmap() is false and the dma-direct fast
# path is what runs (the other cases count one dma_map_phys() per segment,
# which only a device that needs unmaps makes); its console is
# build/logs/uml-nodebug.log. Each run's exit status is
# saved in build/logs/uml.rc and uml-nodebug.rc.
#
# kunit.py's own output (configuration, build errors, parsed results) goes to
# build/logs/uml.run.log; the kernel's raw console, which is what the
# console scan and the result counting read, to build/logs/uml.log. Prints
# kunit.py's parsed results. Exit status is kunit.py's.
#
#   kunit-uml.sh 'phyr.*merge*'      run only the matching cases

set -uo pipefail
. "$(dirname "$0")/lib.sh"

run_log=$PHYR_LOGS/uml.run.log
console=$PHYR_LOGS/uml.log
rm -f "$console" "$PHYR_ROOT/build/uml/test.log" "$PHYR_LOGS/uml.rc" \
	"$PHYR_LOGS/uml-nodebug.rc"

cd "$PHYR_TREE" || exit 1
PHYR_NO_TAIL=1 PHYR_PROGRESS="find ../uml -name '*.o' 2>/dev/null | wc -l | sed 's/\$/ objects built/'" \
phyr_run "$run_log" ./tools/testing/kunit/kunit.py run --kunitconfig=lib/phyr \
	--kunitconfig=drivers/dma-buf --build_dir=../uml --jobs="${PHYR_JOBS:-2}" "$@"
rc=$?
echo $rc >"$PHYR_LOGS/uml.rc"
# kunit.py tees the kernel's console to <build_dir>/test.log.
[ -f ../uml/test.log ] && cp ../uml/test.log "$console"

# The parsed results of RUN_LOG, or where it stopped if the kernel never ran.
results() {
	if grep -q 'Starting KUnit Kernel' "$1"; then
		sed -n '/Starting KUnit Kernel/,$p' "$1" | sed 's/^/      /'
	else
		tail -n 25 "$1" | sed 's/^/      | /'
	fi
	echo "      console: ${2#"$PHYR_ROOT"/}; kunit.py output: ${1#"$PHYR_ROOT"/}"
}
results "$run_log" "$console"
[ $# = 0 ] || exit $rc
# The second kernel build (about 3.5 min from scratch) is part of make
# check-full (PHYR_CHECK_FULL=1), or asked for with PHYR_UML_NODEBUG=1.
rm -f "$PHYR_LOGS/uml-nodebug.log" "$PHYR_LOGS/uml-nodebug.rc"
[ -n "${PHYR_CHECK_FULL:-}${PHYR_UML_NODEBUG:-}" ] || exit $rc

nd_run_log=$PHYR_LOGS/uml-nodebug.run.log
nd_console=$PHYR_LOGS/uml-nodebug.log
rm -f "$nd_console" ../bench-uml/test.log
echo "      the DMA fast-path cases without DMA_API_DEBUG (the bench kernel, build/bench-uml):"
PHYR_NO_TAIL=1 PHYR_PROGRESS="find ../bench-uml -name '*.o' 2>/dev/null | wc -l | sed 's/\$/ objects built/'" \
phyr_run "$nd_run_log" ./tools/testing/kunit/kunit.py run \
	--kunitconfig="$PHYR_TOOLS/bench-uml.kunitconfig" \
	--build_dir=../bench-uml --jobs="${PHYR_JOBS:-2}" \
	'phyr_dma.phyr_dma_test_direct*'
nd_rc=$?
echo $nd_rc >"$PHYR_LOGS/uml-nodebug.rc"
[ -f ../bench-uml/test.log ] && cp ../bench-uml/test.log "$nd_console"
results "$nd_run_log" "$nd_console"
[ $rc = 0 ] || exit $rc
exit $nd_rc
