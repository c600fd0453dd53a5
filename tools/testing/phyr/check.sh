#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# check.sh - `make check`: every test of the project, counted.
#
#   1. the tree (packages, build/linux)
#   2. KUnit on UML (kunit-uml.sh): one test per KUnit case, plus
#      "P7 warning printed": the page accessor's warning is in the console
#   3. KUnit in the x86_64 QEMU rig (kunit-rig.sh): one test per case
#   4. the rig booted again with swiotlb forced and an identity domain
#      (kunit-rig.sh --swiotlb, the DMA suite and kmemleak): one test per
#      case, plus "M9 ran": the swiotlb case must pass there, not skip; and
#      once more with intel-iommu in lazy mode (kunit-rig.sh --lazy: a flush
#      queue, no caching mode), the IOTLB flush counts: one test per case
#   5. userspace in the rig (rig-user.sh: the same kernel and devices, KUnit
#      off, an initramfs running the udmabuf, vfio and KVM kselftests): one
#      test per kselftest case; a boot that does not reach the end fails
#   6. the console scan (R1, scan-console.sh): one test per console, plus
#      the scanner's self-test
#   7. the static checks (static-checks.sh): one test per tool
#   8. the cross builds (cross.sh): the project's objects and the upstream
#      files its patches change, for arm64 and riscv64 (defconfig plus the
#      project's options), W=1 and sparse: the config, W=1 and sparse of
#      each architecture, one test each
#   With PHYR_CHECK_FULL=1 (make check-full), steps 2 and 5 also run the
#   DMA fast-path cases on a UML kernel without DMA_API_DEBUG and upstream's
#   iommufd selftest, and steps 9 to 11 run:
#   9. the semantic patches (cocci-check.sh): the conversion and the report
#      rule on their samples, the samples built and run as KUnit suites on
#      UML, coccicheck on the project's files: one test per check
#  10. the exported series (series.sh --check): git am onto a clean
#      7.3.4 tree gives build/linux: one test
#  11. the KCSAN boot (kunit-rig.sh --kcsan): the dma-buf suites, the revoke
#      race on both CPUs, in a rig kernel with KCSAN instead of KASAN: one
#      test per case, plus its console scan
#
# Steps 9 to 11 run only with PHYR_CHECK_FULL=1 (`make check-full`).
#
# A skipped KUnit case counts as skipped, not passed. A stage that cannot
# run, crashes or leaves no results counts as a failure. Ends with one line
# "N passed, N failed[, N skipped]"; exit 1 if anything failed.
# Every result: build/logs/check.results.

set -uo pipefail
. "$(dirname "$0")/lib.sh"

# The results live outside build/ until the end, so that a stage that
# removes or cannot create build/logs still ends in a counted failure.
RESULTS=$(mktemp) || exit 2
trap 'rm -f "$RESULTS"' EXIT
T0=$SECONDS

# Record the "STATUS name" lines read from stdin; print the failures
# unless QUIET is set.
record() {
	local line
	while IFS= read -r line; do
		case $line in
		PASS\ *|SKIP\ *) echo "$line" >>"$RESULTS" ;;
		FAIL\ *)
			echo "$line" >>"$RESULTS"
			[ -n "${QUIET:-}" ] || echo "      $line"
			;;
		esac
	done
}
result() { echo "$1 $2" | record; }
count() { grep -c "^$1 " "$RESULTS"; }
# One line per stage: "uml: 40 passed, 0 failed, 1 skipped".
stage_counts() {
	local p f s
	p=$(grep -c "^PASS $1" "$RESULTS")
	f=$(grep -c "^FAIL $1" "$RESULTS")
	s=$(grep -c "^SKIP $1" "$RESULTS")
	echo "      $p passed, $f failed$([ "$s" = 0 ] || echo ", $s skipped")"
}
# checks_stage LABEL SCRIPT - run a checking script of this directory that
# prints "PASS|FAIL LABEL: ..." lines: show its output, record those lines,
# and fail the stage if it exits non-zero without a failed check.
checks_stage() {
	local label=$1 script=$2 out rc
	out=$("$PHYR_TOOLS/$script" 2>&1)
	rc=$?
	echo "$out" | sed 's/^/      /'
	echo "$out" | grep -E "^(PASS|FAIL) $label: " | QUIET=1 record
	if [ $rc != 0 ] && ! grep -q '^FAIL ' <<<"$out"; then
		result FAIL "$label: $script exited $rc with no failed check"
	fi
	stage_counts "$label:"
}

step() { echo "[$1/11] $2"; }

# One console scan, counted: scan_one FILE LABEL.
scan_one() {
	if "$PHYR_TOOLS/scan-console.sh" "$1" >"$PHYR_LOGS/scan.out" 2>&1; then
		result PASS "scan: $2"
	else
		result FAIL "scan: $2"
		sed 's/^/      /' "$PHYR_LOGS/scan.out" | head -n 60
	fi
	rm -f "$PHYR_LOGS/scan.out"
}

finish() {
	local p f s
	p=$(count PASS) f=$(count FAIL) s=$(count SKIP)
	if [ "$((p + f))" = 0 ]; then
		result FAIL "check: no stage reported a result"
		f=1
	fi
	mkdir -p "$PHYR_LOGS" && cp "$RESULTS" "$PHYR_LOGS/check.results"
	echo "check: $(phyr_dur $((SECONDS - T0))) in all; every result in ${PHYR_LOGS#"$PHYR_ROOT"/}/check.results"
	echo "$p passed, $f failed$([ "$s" = 0 ] || echo ", $s skipped")"
	[ "$f" = 0 ]
	exit
}

# KUnit results of a console log, reconciled with kunit.py's exit status:
# a non-zero status with no failed case is a failure of the stage itself.
kunit_results() {
	local label=$1 log=$2 rc=$3 out
	out=$("$PHYR_TOOLS/kunit-count.sh" "$log" "$label")
	echo "$out" | record
	if [ "$rc" != 0 ] && ! grep -q '^FAIL ' <<<"$out"; then
		result FAIL "$label: the run exited $rc with no failed test case (see the logs)"
	fi
}

step 1 "preparing the tree (packages, build/linux; ~1 min the first time, seconds after)"
if ! PHYR_SHOW=1 phyr_run "$PHYR_LOGS/deps.log" "$PHYR_TOOLS/deps.sh" ||
   ! phyr_run "$PHYR_LOGS/tree.log" "$PHYR_TOOLS/tree.sh"; then
	result FAIL "tree: the packages or build/linux could not be prepared; nothing else can run"
	finish
fi

step 2 "KUnit on UML (~5 min the first time, ~1 min after) -> build/logs/uml.log"
# Show kunit-uml.sh's progress lines; its results go to uml.check.log.
"$PHYR_TOOLS/kunit-uml.sh" 2>&1 | tee "$PHYR_LOGS/uml.check.log" |
	grep --line-buffered -E '^      \.\.\. '
rc=${PIPESTATUS[0]}
[ $rc = 0 ] || sed -n '/FAILED/,$p' "$PHYR_LOGS/uml.check.log" | tail -n 40
kunit_results uml "$PHYR_LOGS/uml.log" "$(cat "$PHYR_LOGS/uml.rc" 2>/dev/null || echo $rc)"
# The DMA suite again on the bench kernel (no DMA_API_DEBUG): the dma-direct
# fast path and its fallbacks (issue 15).
# In make check-full only: a second UML kernel build (~3.5 min).
if [ -n "${PHYR_CHECK_FULL:-}" ]; then
	kunit_results uml-nodebug "$PHYR_LOGS/uml-nodebug.log" \
		"$(cat "$PHYR_LOGS/uml-nodebug.rc" 2>/dev/null || echo 1)"
fi
# BEHAVIOURS P7: asking for the page of MMIO/private memory must warn.
if grep -aq 'phyr: no struct page for' "$PHYR_LOGS/uml.log" 2>/dev/null; then
	result PASS "uml: P7 warning printed"
else
	result FAIL "uml: P7 warning printed: no 'phyr: no struct page for' line in build/logs/uml.log"
fi
stage_counts "uml:"
[ -z "${PHYR_CHECK_FULL:-}" ] || stage_counts "uml-nodebug:"

step 3 "KUnit in the x86_64 QEMU rig (~10 min the first time, ~2 min after) -> build/logs/rig.log"
rm -f "$PHYR_LOGS/rig.log" "$PHYR_LOGS/rig.summary"
PHYR_SHOW=1 PHYR_PROGRESS="find '$PHYR_ROOT/build/x86_64' -name '*.o' 2>/dev/null | wc -l | sed 's/\$/ objects built/'" \
	phyr_run "$PHYR_LOGS/rig.run.log" "$PHYR_TOOLS/kunit-rig.sh"
rc=$?
kunit_results rig "$PHYR_LOGS/rig.log" $rc
stage_counts "rig:"

step 4 "the rig again, swiotlb=force iommu=soft,pt, then intel-iommu lazy (~2 min) -> build/logs/rig-swiotlb.log, rig-lazy.log"
rm -f "$PHYR_LOGS/rig-swiotlb.log" "$PHYR_LOGS/rig-swiotlb.summary"
PHYR_SHOW=1 phyr_run "$PHYR_LOGS/rig-swiotlb.run.log" "$PHYR_TOOLS/kunit-rig.sh" --swiotlb
rc=$?
kunit_results rig-swiotlb "$PHYR_LOGS/rig-swiotlb.log" $rc
# BEHAVIOURS: M9 - the case that needs forced swiotlb must run in this boot.
if grep -q '^PASS rig-swiotlb: phyr_rig_dma.phyr_rig_dma_swiotlb$' "$RESULTS"; then
	result PASS "rig-swiotlb: M9 ran (phyr_rig_dma_swiotlb passed, not skipped)"
else
	result FAIL "rig-swiotlb: M9 ran: phyr_rig_dma_swiotlb did not pass in the swiotlb boot"
fi
stage_counts "rig-swiotlb:"
# The flush queue: caching mode, which the rig's other boots need to count
# the flushes of a map, forces strict invalidation.
rm -f "$PHYR_LOGS/rig-lazy.log" "$PHYR_LOGS/rig-lazy.summary"
PHYR_SHOW=1 phyr_run "$PHYR_LOGS/rig-lazy.run.log" "$PHYR_TOOLS/kunit-rig.sh" --lazy
rc=$?
kunit_results rig-lazy "$PHYR_LOGS/rig-lazy.log" $rc
stage_counts "rig-lazy:"

step 5 "userspace in the rig: udmabuf, vfio, KVM (and in check-full iommufd) selftests (~10 min) -> build/logs/rig-user.log"
# kunit-rig.sh built the kernel if kunit.py got as far as booting it.
nobuild=
grep -q 'Starting KUnit Kernel' "$PHYR_LOGS/rig.log" 2>/dev/null && nobuild=--no-build
PHYR_SHOW=1 phyr_run "$PHYR_LOGS/rig-user.run.log" "$PHYR_TOOLS/rig-user.sh" $nobuild
"$PHYR_TOOLS/rig-user-count.py" "$PHYR_LOGS/rig-user.log" rig-user | record
stage_counts "rig-user:"

step 6 "console scan (WARN, BUG, KASAN, lockdep, kmemleak, DMA-API, ...)"
"$PHYR_TOOLS/scan-console.sh" --self-test >"$PHYR_LOGS/scan-selftest.log" 2>&1 &&
	result PASS "scan: scanner self-test" ||
	result FAIL "scan: scanner self-test (see build/logs/scan-selftest.log)"
# rig.log also holds kunit.py's messages and build warnings: scan the
# console only, from the boot on.
for r in rig rig-swiotlb rig-lazy; do
	sed -n '/Starting KUnit Kernel/,$p' "$PHYR_LOGS/$r.log" >"$PHYR_LOGS/$r.console.log" 2>/dev/null
done
for c in uml.log ${PHYR_CHECK_FULL:+uml-nodebug.log} rig.console.log \
	 rig-swiotlb.console.log rig-lazy.console.log rig-user.log; do
	scan_one "$PHYR_LOGS/$c" "build/logs/$c"
done
stage_counts "scan:"

step 7 "static checks (checkpatch, kernel-doc, Sphinx, sparse, W=1; ~1 min)"
checks_stage static static-checks.sh

step 8 "cross builds: arm64 and riscv64, W=1 and sparse (~3 min the first time, ~1 min after)"
checks_stage cross cross.sh

# Steps 9 to 11 build a UML kernel, the series' step builds and a KCSAN rig
# kernel of their own, about 30 minutes from scratch on 2 cores: they run in
# `make check-full` (PHYR_CHECK_FULL=1), which is `make check` plus them, so
# that `make check` stays under CI's 40 minutes. Nothing of theirs is
# counted when they do not run.
if [ -z "${PHYR_CHECK_FULL:-}" ]; then
	step 9 "semantic patches: in make check-full only (make cocci runs them alone)"
	step 10 "the exported series: in make check-full only (series.sh --check runs it alone)"
	step 11 "KCSAN boot: in make check-full only (kunit-rig.sh --kcsan runs it alone)"
	finish
fi

step 9 "semantic patches (coccinelle; ~5 min the first time, ~1 min after) -> build/logs/cocci-*.log"
out=$("$PHYR_TOOLS/cocci-check.sh" 2>&1)
rc=$?
echo "$out" | grep -E '^(PASS|FAIL) cocci: ' | record
if [ $rc != 0 ] && ! grep -q '^FAIL ' <<<"$out"; then
	result FAIL "cocci: cocci-check.sh exited $rc with no failed check"
	echo "$out" | tail -n 20 | sed 's/^/      /'
fi
# The UML console of the samples' KUnit run (kunit.py keeps it as test.log).
scan_one "$PHYR_ROOT/build/uml-cocci/test.log" build/uml-cocci/test.log
stage_counts "cocci:"

step 10 "the exported series (make series; git am onto a clean 7.3.4; ~4 min the first time)"
out=$("$PHYR_TOOLS/series.sh" --check 2>&1)
rc=$?
echo "$out" | grep -vE '^(PASS|FAIL) ' | sed 's/^/      /'
echo "$out" | grep -E '^(PASS|FAIL) series: ' | record
if [ $rc != 0 ] && ! grep -q '^FAIL ' <<<"$out"; then
	result FAIL "series: series.sh exited $rc with no failed check"
fi
stage_counts "series:"

step 11 "KCSAN: the dma-buf suites in a rig kernel with KCSAN (~11 min the first time, ~4 min after) -> build/logs/rig-kcsan.log"
rm -f "$PHYR_LOGS/rig-kcsan.log" "$PHYR_LOGS/rig-kcsan.summary"
PHYR_SHOW=1 PHYR_PROGRESS="find '$PHYR_ROOT/build/kcsan-x86_64' -name '*.o' 2>/dev/null | wc -l | sed 's/\$/ objects built/'" \
	phyr_run "$PHYR_LOGS/rig-kcsan.run.log" "$PHYR_TOOLS/kunit-rig.sh" --kcsan
rc=$?
kunit_results rig-kcsan "$PHYR_LOGS/rig-kcsan.log" $rc
sed -n '/Starting KUnit Kernel/,$p' "$PHYR_LOGS/rig-kcsan.log" >"$PHYR_LOGS/rig-kcsan.console.log" 2>/dev/null
scan_one "$PHYR_LOGS/rig-kcsan.console.log" build/logs/rig-kcsan.console.log
stage_counts "rig-kcsan:"

finish
