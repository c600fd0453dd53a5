#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Print a short human-readable report of the last rig run from
# build/logs/rig.log and build/logs/rig.summary (see kunit-rig.sh): the rig's
# PCI topology, each phyr built over a real device (provider, ranges,
# attributes), what was read back and checked, and the KUnit results.

set -uo pipefail

ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
LOG=${1:-$ROOT/build/logs/rig.log}
SUMMARY=${2:-$ROOT/build/logs/rig.summary}

if [ ! -s "$LOG" ]; then
	echo "report: no $LOG; run tools/testing/phyr/kunit-rig.sh first" >&2
	exit 1
fi

# The suite's "phyr-rig: " lines, without the console and KTAP prefixes.
rig() { grep -a 'phyr-rig: ' "$LOG" | sed 's/.*phyr-rig: //' | tr -d '\r'; }

echo "== phyr QEMU rig (x86_64, TCG): $(grep -a -m1 -o 'Linux version [^ ]*' "$LOG" || echo 'no kernel banner')"
grep -a -m1 -o 'DMAR: IOMMU enabled' "$LOG" | sed 's/^/   /'
grep -a -o 'nvme [0-9a-f:.]*: added peer-to-peer DMA memory.*' "$LOG" |
	sed 's/^/   /' | tr -d '\r'

echo
echo "-- PCI topology (BDF vendor:device class <- upstream bridges)"
rig | sed -n 's/^pci /   /p'
rig | grep -E '^(nvme .*P2PDMA|pci_p2pdma_distance)' | sed 's/^/   /'

echo
echo "-- phyrs built over real devices"
rig | grep -E '^(ivshmem|nvme .*CMB BAR|phyr |  provider|    range)' |
	sed 's/^/   /'

echo
echo "-- read back through ioremap() at the yielded addresses"
rig | grep -E '^check ' | sed 's/^check /   /'

echo
echo "-- KUnit"
if [ -s "$SUMMARY" ]; then
	sed 's/^\[[0-9:]*\] //' "$SUMMARY" |
		grep -E '^(=+ *\[?[A-Z]+\]? |\[(PASSED|FAILED|SKIPPED|CRASHED)\] |# |Testing complete|Ran [0-9]+ tests|.*passed:)' |
		grep -vE '^\[PASSED\] ' | sed 's/^/   /'
	grep -cE '^\[[0-9:]*\] \[PASSED\] ' "$SUMMARY" |
		sed 's/^/   test cases passed: /'
else
	echo "   no build/logs/rig.summary"
fi
if [ -x "$ROOT/tools/testing/phyr/scan-console.sh" ]; then
	if "$ROOT/tools/testing/phyr/scan-console.sh" "$LOG" >/dev/null 2>&1; then
		echo "   console: clean (no WARN/BUG/KASAN/lockdep/kmemleak/DMA-API report)"
	else
		echo "   console: REPORTS FOUND, see tools/testing/phyr/scan-console.sh $LOG"
	fi
fi
