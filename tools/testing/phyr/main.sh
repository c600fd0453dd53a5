#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# main.sh - `make`, the main job: install what is missing, prepare the tree,
# build the x86_64 kernel, boot the QEMU rig and run the phyr suites there
# (kunit-rig.sh), boot it again with userspace tests (rig-user.sh), then
# print the report of what the rig showed (report.sh).
# The build's noise stays in build/logs/; exit status is the rig run's.

set -uo pipefail
. "$(dirname "$0")/lib.sh"

T0=$SECONDS
step() { echo "[$1/5] $2"; }

step 1 "checking the Debian packages (installs what is missing, as root)"
PHYR_SHOW=1 phyr_run "$PHYR_LOGS/deps.log" "$PHYR_TOOLS/deps.sh" || exit

step 2 "preparing build/linux (~1 min the first time, seconds after)"
phyr_run "$PHYR_LOGS/tree.log" "$PHYR_TOOLS/tree.sh" || exit

if [ -f "$PHYR_ROOT/build/x86_64/vmlinux" ]; then
	est="~2 min: incremental build, then boot"
else
	est="~10 min the first time on 2 cores, then ~1 min of boot"
fi
rm -f "$PHYR_LOGS/rig.log" "$PHYR_LOGS/rig.summary"	# never report a stale run
step 3 "building the x86_64 kernel and running the phyr suites in the QEMU rig ($est)"
PHYR_SHOW=1 PHYR_PROGRESS="find '$PHYR_ROOT/build/x86_64' -name '*.o' 2>/dev/null | wc -l | sed 's/\$/ objects built/'" \
	phyr_run "$PHYR_LOGS/rig.run.log" "$PHYR_TOOLS/kunit-rig.sh"
rc=$?

step 4 "userspace in the rig: udmabuf, vfio and KVM selftests (~10 min) -> build/logs/rig-user.log"
nobuild=
grep -q 'Starting KUnit Kernel' "$PHYR_LOGS/rig.log" 2>/dev/null && nobuild=--no-build
PHYR_SHOW=1 phyr_run "$PHYR_LOGS/rig-user.run.log" "$PHYR_TOOLS/rig-user.sh" $nobuild || rc=1

step 5 "the report (from build/logs/rig.log and rig-user.log)"
echo
"$PHYR_TOOLS/report.sh" || rc=1
echo
echo "make: $(phyr_dur $((SECONDS - T0))) in all; consoles: build/logs/rig.log, rig-user.log; results: rig.summary, rig-user.results"
exit $rc
