#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# scan-console.sh LOG... - fail on any kernel report in a test run's console
# (BEHAVIOURS R1): WARN, BUG, Oops, KASAN, UBSAN, lockdep, kmemleak,
# DMA_API_DEBUG, atomic-sleep, panic, GPF, stalls. Prints each offending line
# with context. Exit 0 when every LOG is clean, 1 on a report, 2 when a LOG
# is missing or empty (a run that left no console is not a clean run).
#
# scan-console.sh --self-test - check the scanner against the samples in
# testdata/: every line of console-reports.log must be caught on its own,
# and console-clean.log (benign lines that look alike) must pass.

set -uo pipefail

# Reports. Most splats start with "WARNING:" or "BUG:"; the rest are the
# reports that do not (lockdep INFO lines, kmemleak, DMA-API, UBSAN, ...).
REPORTS=(
	'WARNING:'
	'\[ cut here \]'
	'BUG:'				# BUG: KASAN, soft lockup, sleeping function...
	'Oops'
	'KASAN:'
	'UBSAN:'
	'Kernel panic'
	'general protection fault'
	'sleeping function called from invalid context'
	'Call Trace:'			# any stack dump is worth a look
	'possible circular locking'
	'possible recursive locking'
	'inconsistent lock state'
	'possible irq lock inversion'
	'INFO: trying to register non-static key'
	'INFO: lockdep is turned off'
	'turning off the locking correctness validator'
	'DEBUG_LOCKS_WARN_ON'
	'suspicious RCU usage'
	'bad unlock balance'
	'held lock freed'
	'other info that might help us debug this'	# in every lockdep splat
	'kmemleak: [0-9]+ new suspected'
	'unreferenced object 0x'
	'DMA-API:'
	'detected stalls? on CPU'
	'INFO: task .* blocked for more than'
	# IOMMU faults: a device's DMA the IOMMU refused. Expected only where
	# a test announces it (see expected_faults below).
	'DMAR: \[(DMA (Read|Write)|INTR-REMAP)'
	'IO_PAGE_FAULT'
)

# Benign lines that match a report pattern. Each needs a reason.
BENIGN=(
	# BEHAVIOURS P7: the page accessor warns (rate-limited pr_warn, not a
	# WARN splat) when asked for the struct page of MMIO or private memory.
	# check.sh asserts that this line IS printed on UML.
	'phyr: no struct page for'
	# CPU vulnerability notes at boot (arch/x86/kernel/cpu/bugs.c prints
	# "<issue>: WARNING: ..." with pr_err/pr_warn): they describe the CPU
	# QEMU emulates (no microcode for -cpu EPYC), not the code under test.
	'(RETBleed|ITS|Spectre V2 |Speculative Return Stack Overflow): WARNING: '
	# DMA_API_DEBUG's boot and pool messages (kernel/dma/debug.c).
	'DMA-API: preallocated [0-9]+ debug entries'
	'DMA-API: debugging enabled by kernel config'
	'DMA-API: dma_debug_entry pool grown to'
)

REPORT_RE=$(printf '%s\n' "${REPORTS[@]}" | paste -sd'|')
BENIGN_RE=$(printf '%s\n' "${BENIGN[@]}" | paste -sd'|')

# expected_faults LOG HITS: HITS (line numbers) without the intel-iommu
# fault reports a test announced. A test that makes a device DMA through an
# IOVA it expects unmapped (vfio_pci_iommufd_dmabuf_test, after a revoke)
# writes "phyr-expect-iommu-fault: BDF" to the kernel log first and
# "phyr-expect-iommu-fault-end: BDF" once it has seen its faults there (BDF
# as intel-iommu prints it, 0000:01:00.0); between the two, "DMAR: [DMA
# Read|Write ...] Request device [BDF]" of that device is expected. Any
# other fault, or one outside the window, stays a report. Through the kernel
# log, not stdout: the console prints records whole and in order, whereas a
# tty write can be cut mid-line by a record or overtaken by one (a CI run
# lost its window that way, and failed on the expected faults).
#
# The same for allocation failures a test makes on purpose (fault injection,
# R5): between "phyr-expect-alloc-failure: begin" and "...: end" in the
# kernel log, the stack dump warn_alloc() prints after a failed vmalloc()
# or page allocation that did not ask for __GFP_NOWARN ("vmalloc error:",
# "page allocation failure:", then its "Call Trace:" a few lines on) is
# expected. KVM's memslot metadata (__vcalloc(), GFP_KERNEL_ACCOUNT) is one.
expected_faults() {
	awk -v hits="$2" '
	BEGIN { n = split(hits, h, "\n"); for (i = 1; i <= n; i++) hit[h[i]] = 1 }
	# The BDF only: a kernel message may follow on the same console line.
	function bdf(s) {
		if (!match(s, /[0-9a-f]+:[0-9a-f]+:[0-9a-f]+\.[0-7]/))
			return ""
		return substr(s, RSTART, RLENGTH)
	}
	/phyr-expect-iommu-fault: / {
		l = $0; sub(/.*phyr-expect-iommu-fault: /, "", l)
		expect[bdf(l)] = 1
	}
	/phyr-expect-iommu-fault-end: / {
		l = $0; sub(/.*phyr-expect-iommu-fault-end: /, "", l)
		delete expect[bdf(l)]
	}
	/phyr-expect-alloc-failure: begin/ { awin = 1 }
	/phyr-expect-alloc-failure: end/ { awin = 0 }
	awin && /(vmalloc error|page allocation failure): / { walloc = NR }
	NR in hit {
		if (awin && walloc && NR - walloc <= 4 && /Call Trace:/)
			next
		if (match($0, /DMAR: \[DMA (Read|Write)[^]]*\] Request device \[[^]]*\]/)) {
			dev = substr($0, RSTART, RLENGTH)
			sub(/.*Request device \[/, "", dev); sub(/\]$/, "", dev)
			if (dev in expect)
				next
		}
		print NR
	}' "$1"
}

# scan LOG: print the reports of one log, return 0/1/2.
scan() {
	local log=$1 hits n shown=0 upto=0
	if [ ! -s "$log" ]; then
		echo "scan: FAIL $log: missing or empty console log"
		return 2
	fi
	hits=$(grep -a -n -E "$REPORT_RE" "$log" | grep -a -v -E "$BENIGN_RE" |
	       cut -d: -f1)
	[ -z "$hits" ] || hits=$(expected_faults "$log" "$hits")
	if [ -z "$hits" ]; then
		echo "scan: PASS $log: no kernel reports ($(wc -l <"$log") lines)"
		return 0
	fi
	echo "scan: FAIL $log: $(echo "$hits" | wc -l) report line(s):"
	# Context for the first few reports; a splat's first lines say it all.
	for n in $hits; do
		[ "$n" -le $upto ] && continue	# inside the last context shown
		[ $shown -ge 5 ] && { echo "  ... (more in $log)"; break; }
		upto=$((n + 12))
		echo "  --- line $n:"
		sed -n "$((n > 3 ? n - 3 : 1)),$((n + 12))p" "$log" |
			tr -d '\r' | sed 's/^/  | /'
		shown=$((shown + 1))
	done
	return 1
}

self_test() {
	local dir=$PHYR_SCAN_TESTDATA tmp line rc=0 nr=0
	tmp=$(mktemp)
	trap 'rm -f "$tmp"' RETURN
	while IFS= read -r line; do
		case $line in '#'*|'') continue ;; esac
		printf '[    1.000000] %s\n' "$line" >"$tmp"
		nr=$((nr + 1))
		if scan "$tmp" >/dev/null; then
			echo "scan self-test: not caught: $line"
			rc=1
		fi
	done <"$dir/console-reports.log"
	if ! scan "$dir/console-clean.log" >/dev/null; then
		echo "scan self-test: benign lines reported:"
		scan "$dir/console-clean.log" | sed 's/^/  /'
		rc=1
	fi
	[ $nr -ge 10 ] || { echo "scan self-test: only $nr samples"; rc=1; }
	[ $rc = 0 ] && echo "scan self-test: $nr kinds of report caught, benign sample clean"
	return $rc
}

PHYR_SCAN_TESTDATA=$(cd "$(dirname "$0")" && pwd)/testdata

if [ $# = 0 ]; then
	echo "usage: $0 LOG... | --self-test" >&2
	exit 2
fi
if [ "$1" = --self-test ]; then
	self_test
	exit
fi
worst=0
for log in "$@"; do
	scan "$log"
	rc=$?
	[ $rc -gt $worst ] && worst=$rc
done
exit $worst
