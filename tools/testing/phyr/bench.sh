#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# bench.sh [uml|rig|rig-strict|rig-lazy|rig-pt] - build and run the
# phyr_bench KUnit suite (phyr against scatterlist and against
# dma_buf_phys_vec_to_sgt(), lib/phyr/phyr_bench.c) on UML (dma-direct,
# build/bench-uml) and in the QEMU rig (build/bench-x86_64) three times:
# intel-iommu strict, intel-iommu lazy and iommu=pt. The kernels are built
# without debugging options (bench-uml.kunitconfig, bench-x86_64.kunitconfig).
# Prints the tables and saves them in build/logs/bench.txt; the raw
# consoles are in build/logs/bench-uml.log and bench-rig-MODE.log.
#
# PHYR_BENCH_UML_ARGS and PHYR_BENCH_RIG_ARGS: kernel arguments for the
# suite, e.g. 'phyr_bench.mib=256 phyr_bench.runs=7'. UML runs with kunit.py's
# mem=1G, so its size is scaled down to fit (the suite says so).
# PHYR_RIG_TIMEOUT (seconds, default 900) bounds the rig boot.

set -uo pipefail
. "$(dirname "$0")/lib.sh"

UML_ARGS=${PHYR_BENCH_UML_ARGS:-phyr_bench.mib=1024 phyr_bench.runs=5}
RIG_ARGS=${PHYR_BENCH_RIG_ARGS:-phyr_bench.mib=256 phyr_bench.runs=5}
TIMEOUT=${PHYR_RIG_TIMEOUT:-900}
OUT=$PHYR_LOGS/bench.txt
which=${1:-all}

kargs() {
	local a
	for a in $1; do printf -- '--kernel_args=%s\n' "$a"; done
}

# The "phyr-bench: " lines of a console, without the prefixes.
table() {
	sed -n 's/.*phyr-bench: //p' "$1"
}

# Did the suite run to its end without a failed case or a kernel report
# (scan-console.sh, the check make check runs on the test consoles)?
verdict() {
	local log=$1
	if ! "$PHYR_TOOLS/scan-console.sh" "$log" >"$log.scan" 2>&1; then
		echo "a kernel report on the console: see $log.scan"
		return 1
	fi
	if ! grep -qE '^\s*ok [0-9]+ phyr_bench' "$log"; then
		echo "the suite did not pass: see $log"
		return 1
	fi
}

# When a console was written: a table may come from an earlier run of
# another kind (bench.sh uml, then bench.sh rig).
when() {
	date -u -r "$1" '+%Y-%m-%d %H:%M UTC'
}

"$PHYR_TOOLS/tree.sh" || exit
mkdir -p "$PHYR_LOGS"
rc=0
uml_log=$PHYR_LOGS/bench-uml.log

if [ "$which" = all ] || [ "$which" = uml ]; then
	echo "bench: UML (dma-direct), build/bench-uml..."
	rm -f "$PHYR_ROOT/build/bench-uml/test.log" "$uml_log"
	mapfile -t extra < <(kargs "$UML_ARGS")
	(cd "$PHYR_TREE" && PHYR_NO_TAIL=1 phyr_run "$PHYR_LOGS/bench-uml.run.log" \
		"$PHYR_KUNIT" run --kunitconfig="$PHYR_TOOLS/bench-uml.kunitconfig" \
		--build_dir=../bench-uml --jobs="${PHYR_JOBS:-2}" \
		--timeout="$TIMEOUT" --raw_output=all "${extra[@]}" 'phyr_bench')
	[ -f "$PHYR_ROOT/build/bench-uml/test.log" ] &&
		cp "$PHYR_ROOT/build/bench-uml/test.log" "$uml_log"
	[ -f "$uml_log" ] || cp "$PHYR_LOGS/bench-uml.run.log" "$uml_log"
	verdict "$uml_log" || rc=1
fi

# The rig, once per IOMMU mode (qemu_configs/phyr_rig.py, PHYR_RIG_IOMMU):
# the kernel is built once, by the first boot.
rig_modes=
case $which in
all|rig) rig_modes="strict lazy pt" ;;
rig-strict|rig-lazy|rig-pt) rig_modes=${which#rig-} ;;
uml) ;;
*) echo "bench: usage: bench.sh [uml|rig|rig-strict|rig-lazy|rig-pt]" >&2; exit 2 ;;
esac
for mode in $rig_modes; do
	log=$PHYR_LOGS/bench-rig-$mode.log
	echo "bench: rig, IOMMU $mode, build/bench-x86_64..."
	rm -f "$log"
	mapfile -t extra < <(kargs "$RIG_ARGS")
	(
		# The rig images are shared: one rig boot at a time.
		exec 9>"$PHYR_ROOT/build/.rig.lock"
		flock 9
		"$PHYR_TOOLS/mkrig.py" || exit
		cd "$PHYR_TREE" && PHYR_RIG_IOMMU=$mode PHYR_NO_TAIL=1 \
			phyr_run "$PHYR_LOGS/bench-rig-$mode.run.log" \
			phyr_tcg "$PHYR_KUNIT" run --arch=x86_64 --build_dir=../bench-x86_64 \
			--kunitconfig="$PHYR_TOOLS/bench-x86_64.kunitconfig" \
			--qemu_config="$PHYR_TOOLS/qemu_configs/phyr_rig.py" \
			--jobs="${PHYR_JOBS:-2}" --timeout="$TIMEOUT" \
			--raw_output=all "${extra[@]}" 'phyr_bench'
	)
	cp "$PHYR_LOGS/bench-rig-$mode.run.log" "$log"
	verdict "$log" || rc=1
done

{
	echo "phyr_bench, $(date -u '+%Y-%m-%d %H:%M UTC'); ratio: sg_table/phyr for time (a speedup), phyr/sg_table for bytes"
	echo "target: issue 15's, '>=' a least speedup, '<=' a most bytes ratio; met or MISSED beside it"
	echo "machine: $(uname -m), $(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)), shared with other jobs; the rig's times are TCG times, only its ratios mean anything"
	if [ -f "$uml_log" ]; then
		echo
		echo "== UML, dma-direct ($UML_ARGS; $(when "$uml_log")) =="
		table "$uml_log"
	fi
	for mode in strict lazy pt; do
		log=$PHYR_LOGS/bench-rig-$mode.log
		[ -f "$log" ] || continue
		echo
		case $mode in
		strict) echo "== QEMU rig, intel-iommu strict (iommu.strict=1; $RIG_ARGS; $(when "$log")) ==" ;;
		lazy) echo "== QEMU rig, intel-iommu lazy (iommu.strict=0, flush queue; $RIG_ARGS; $(when "$log")) ==" ;;
		pt) echo "== QEMU rig, iommu=pt (identity domains: dma-direct; $RIG_ARGS; $(when "$log")) ==" ;;
		esac
		table "$log"
	done
} > "$OUT"
cat "$OUT"
echo "bench: saved in ${OUT#"$PHYR_ROOT"/}"
exit $rc
