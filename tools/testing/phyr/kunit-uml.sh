#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# kunit-uml.sh [kunit.py run options and filter] - build and run the phyr
# KUnit suites on UML (lib/phyr/.kunitconfig, build dir build/uml), and in
# the same kernel upstream's own dma-buf suites, unchanged, through their
# own drivers/dma-buf/.kunitconfig (kunit.py merges both): the regression
# bar of the patched dma-buf core.
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
rm -f "$console" "$PHYR_ROOT/build/uml/test.log"

cd "$PHYR_TREE" || exit 1
PHYR_NO_TAIL=1 PHYR_PROGRESS="find ../uml -name '*.o' 2>/dev/null | wc -l | sed 's/\$/ objects built/'" \
phyr_run "$run_log" ./tools/testing/kunit/kunit.py run --kunitconfig=lib/phyr \
	--kunitconfig=drivers/dma-buf --build_dir=../uml --jobs="${PHYR_JOBS:-2}" "$@"
rc=$?
# kunit.py tees the kernel's console to <build_dir>/test.log.
[ -f ../uml/test.log ] && cp ../uml/test.log "$console"
# The parsed results, or where it stopped if the kernel never ran.
if grep -q 'Starting KUnit Kernel' "$run_log"; then
	sed -n '/Starting KUnit Kernel/,$p' "$run_log" | sed 's/^/      /'
else
	tail -n 25 "$run_log" | sed 's/^/      | /'
fi
echo "      console: ${console#"$PHYR_ROOT"/}; kunit.py output: ${run_log#"$PHYR_ROOT"/}"
exit $rc
