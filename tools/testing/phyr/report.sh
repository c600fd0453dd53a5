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
# The q35 chipset functions (host bridge, LPC, SATA, SMBus) are counted only.
rig | sed -n 's/^pci /   /p' | grep -vE ' class (0600|0601|0106|0c05)'
n=$(rig | grep -cE '^pci .* class (0600|0601|0106|0c05)')
[ "$n" = 0 ] || echo "   (and $n q35 chipset functions on bus 00)"
rig | grep -E '^(nvme .*P2PDMA|pci_p2pdma_distance)' | sed 's/^/   /'

echo
echo "-- phyrs built over real devices"
rig | grep -E '^(ivshmem|nvme .*CMB BAR|phyr |  provider|    range)' |
	sed 's/^/   /'

echo
echo "-- read back through ioremap() (RAM: the direct map) at the yielded addresses"
# One line per phyr: its slices and the bytes checked; failed slices in full.
rig | sed -n 's/^check //p' | awk '
	/ slice \[/ {
		name = $1; what = $0
		sub(/^[^)]*\) /, "", what); sub(/: [0-9]+ segments.*/, "", what)
		slices[name] = slices[name] (slices[name] == "" ? "" : "; ") what
		if ($NF != "ok") { bad[name]++; print "   FAILED: " $0 }
		next
	}
	/ slices, / {
		name = $1; sub(/:$/, "", name)
		printf "   %s: %s %s %s %s verified, %s: %s\n", name, $2, $3, $4, $5,
			bad[name] ? bad[name] " FAILED" : "all ok", slices[name]
		next
	}
	{ print "   " $0 }' | fold -s -w 100 | sed 's/^\([^ ]\)/       \1/'

echo
echo "-- DMA mapping for the edu DMA engine (map type per provider and device)"
rig | grep -E '^map type [0-9a-f]{4}:' | sed 's/^/   /'
rig | grep -E '^(IOTLB flushes|phyr of |NVMe CMB .* through)' | sed 's/^/   /'
rig | grep -E '^edu .*(copied|read) .* wrong$' | sed 's/^/   /'
swlog=$ROOT/build/logs/rig-swiotlb.log
if [ -f "$swlog" ]; then
	grep -a -E 'ok [0-9]+ phyr_rig_dma_swiotlb' "$swlog" | tail -n 1 |
		sed 's/^ *//; s/^/   swiotlb=force boot: /'
fi
echo
echo "-- udmabuf exchanged as phyr and as sg_table (userspace boot: build/logs/rig-user.log)"
ulog=$ROOT/build/logs/rig-user.log

# cases PROGRAMS - the tally of the TAP cases of the selftest programs
# PROGRAMS (an ERE alternation) in the userspace boot, and their failures.
cases() {
	local res
	res=$("$ROOT/tools/testing/phyr/rig-user-count.py" "$ulog" rig-user 2>/dev/null |
	      grep -E ": ($1): ")
	echo "$res" | sed '/^$/d' | cut -d' ' -f1 | sort | uniq -c |
		awk -v p="$1" '{printf "%s%s %s", (NR > 1 ? ", " : "   kselftest cases: "), $1, $2} END {if (NR) print ""; else print "   " p " did not run"}'
	echo "$res" | grep '^FAIL ' | sed 's/^/   /'
}
if [ -s "$ulog" ]; then
	# What udmabuf-phyr printed: the fdinfo offer and the test importer's
	# reports, once each (every test repeats the attach lines).
	user() { grep -a '# udmabuf-phyr: ' "$ulog" | sed 's/.*# udmabuf-phyr: //' | tr -d '\r'; }
	user | sed -n 's/^fdinfo: \(phyr_descs\|revocable\|revoked\):/\1:/p' |
		sort -u | tr '\t' ' ' | sed 's/^/   fdinfo /'
	user | grep -E '^(phyr|sgt|pinned): (attach|map|chunk|check|error)' |
		sed -E 's/ id [0-9]+//' | awk '!seen[$0]++' | sed 's/^/   /'
	# R2: each malformed request's errno (the test checks each one).
	n=$(user | grep -c '^bad request: ')
	[ "$n" = 0 ] || echo "   malformed requests to the importer: $n, refused with: $(user |
		sed -n 's/^bad request: .*": //p' | sort | uniq -c |
		awk '{c = $1; $1 = ""; sub(/^ +/, ""); printf "%s%s x%d", (NR > 1 ? ", " : ""), $0, c}')"
	# The udmabuf programs' cases; the vfio programs have their sections.
	cases 'udmabuf|udmabuf-phyr'
	grep -a -m1 'phyr-user: host:' "$ulog" | sed 's/^phyr-user: host: /   /'
	if "$ROOT/tools/testing/phyr/scan-console.sh" "$ulog" >/dev/null 2>&1; then
		echo "   console: clean"
	else
		echo "   console: REPORTS FOUND, see tools/testing/phyr/scan-console.sh $ulog"
	fi
else
	echo "   no build/logs/rig-user.log (tools/testing/phyr/rig-user.sh)"
fi

echo
echo "-- ivshmem BAR exported through VFIO (vfio_pci_dmabuf_test, userspace boot)"
if [ -s "$ulog" ]; then
	# A chunk's attrs spelled out (PHYR_ATTR_* of include/linux/phyr.h).
	attrs() {
		local line a d
		while IFS= read -r line; do
			if [[ $line =~ attrs\ 0x([0-9a-f]+) ]]; then
				a=$((16#${BASH_REMATCH[1]}))
				d=$( ((a & 1)) && echo -n "MMIO ")
				d+=$( ((a & 2)) && echo -n "NO_CPU_MAP ")
				d+="cache $(echo WB WC UC - | cut -d' ' -f$((((a >> 2) & 3) + 1)))"
				d+=" cc $(echo shared ide private - | cut -d' ' -f$((((a >> 4) & 3) + 1)))"
				line="$line ($d)"
			fi
			echo "$line"
		done
	}
	# What vfio_pci_dmabuf_test printed ("# vfio_pci_dmabuf: " lines):
	# the device, the buffer's fdinfo, the phyr the test importer saw,
	# a VFIO_DEVICE_RESET revoking and restoring it, the refusals.
	vf() { grep -a '# vfio_pci_dmabuf: ' "$ulog" | sed 's/.*# vfio_pci_dmabuf: //' | tr -d '\r'; }
	# Its TAP lines, "ok N vfio_dmabuf.NAME[ # SKIP why]".
	vtap() { sed -n '/^phyr-user: run vfio_pci_dmabuf_test/,/^phyr-user: exit vfio_pci_dmabuf_test/p' "$ulog" | tr -d '\r'; }
	if [ -z "$(vf)" ]; then
		echo "   nothing exported; why, per test:"
		vtap | grep -E '^(not )?ok [0-9]+ ' | sed 's/^/   /'
	else
		vf | grep -E '^(bound|device) ' | sort -u | sed 's/^/   /'
		vf | grep -E '^  BAR [0-9]' | awk '!seen[$0]++' | sed 's/^/   /'
		vf | sed -n 's/^export: fdinfo: //p' | grep -vE '^(flags|count):' |
			tr '\t' ' ' | sed 's/^/   fdinfo /'
		echo "   the test importer (phyr mode, revocable), whole BAR:"
		vf | grep -E '^phyr: (attach|map|chunk|check|error)' | sed -E 's/ id [0-9]+//' |
			awk '!seen[$0]++' | sed 's/^phyr: /     /' | attrs
		echo "   VFIO_DEVICE_RESET with the buffer attached and mapped:"
		vf | grep -E '^reset: (id |VFIO_DEVICE_RESET|> (map|check)|check |error )' |
			sed -E 's/^reset: //; s/^id [0-9]+ //; s/^> //' |
			awk '$0 != prev {print} {prev = $0}' | sed 's/^/     /'
		n=$(vf | grep '^bad request: ' | grep -vc 'not tried$')
		[ "$n" = 0 ] || echo "   malformed requests (V2): $n tried, refused with: $(vf |
			sed -n 's/^bad request: .*: \([^:]*\)$/\1/p' | sort | uniq -c |
			awk '{c = $1; $1 = ""; sub(/^ +/, ""); printf "%s%s x%d", (NR > 1 ? ", " : ""), $0, c}')"
		vf | grep -E '^bad requests: ' | sed 's/^/   /'
		echo "   private (TDISP RUN; its source: the PCI/TSM binding or the test hook):"
		vf | grep -E '^private: (tdisp|PCI/TSM|export|fdinfo: phyr_cc|> attach|chunk)' |
			sed 's/^private: //; s/^> //; s/fdinfo: /fdinfo /' | tr '\t' ' ' |
			sed 's/^/     /' | attrs
	fi
	vtap | grep -E '^ok [0-9]+ .*# SKIP' | sed 's/^/   /' | head -n 20
	cases vfio_pci_dmabuf_test
else
	echo "   no build/logs/rig-user.log (tools/testing/phyr/rig-user.sh)"
fi

echo
echo "-- a KVM guest reading the BAR through a KVM_MEM_DMABUF slot (vfio_pci_kvm_dmabuf_test)"
if [ -s "$ulog" ]; then
	# What vfio_pci_kvm_dmabuf_test printed: its "# K<n>"/"# E<n>" notes.
	kt() { sed -n '/^phyr-user: run vfio_pci_kvm_dmabuf_test/,/^phyr-user: exit vfio_pci_kvm_dmabuf_test/p' "$ulog" | tr -d '\r'; }
	kn() { kt | sed -n "s|^# $1: ||p"; }
	if [ -z "$(kt | grep -E '^# [KE][0-9]+')" ]; then
		echo "   the program printed nothing; per test:"
		kt | grep -E '^(not )?ok [0-9]+ ' | sed 's/^/   /'
	else
		echo "   the ivshmem BAR exported by vfio-pci (VFIO_DEVICE_FEATURE_DMA_BUF), fdinfo:"
		kn E1 | sed -n 's/^fdinfo: //p' | grep -E '^(size|exp_name|phyr_|revoc)' |
			tr '\t' ' ' | sed 's/^/     /'
		echo "   a VM with a KVM_MEM_DMABUF slot over it; the guest's own bytes (port I/O):"
		kn E1 | grep -v '^fdinfo: ' | sed 's/^/     /'
		kn K1 | sed 's/^/     /'
		kn 'K3 ([^)]*)' | sed 's/^/     with a 0x5a decoy at userspace_addr: /'
		echo "   faults to touch the BAR (K4) and the SPTEs installed (tracepoint kvm_mmu_set_spte):"
		kn K4 | sed 's/^/     /'
		kn K4/K5 | sed 's/^/     /'
		echo "   revoke and restore:"
		kn K6 | sed 's/^/     /'
		kn K7 | sed 's/^/     /'
		kn E2 | sed 's/^/     reset between passes: /'
		kn K8 | sed 's/^/     race: /'
		echo "   refusals:"
		echo "     $(kt | grep -c '^# K2: .*: slot ') malformed slots (K2), errnos: $(kt |
			sed -n 's/^# K2: .*: \([^:]*\)$/\1/p' | sort | uniq -c |
			awk '{c = $1; $1 = ""; sub(/^ +/, ""); printf "%s%s x%d", (NR > 1 ? ", " : ""), $0, c}')"
		kn K2 | grep -v ': slot ' | sed 's/^/     /'
		kn K9 | sed 's/^/     /'
		kn K10 | sed 's/^/     /'
		kn E3 | sed 's/^/     /'
	fi
	cases vfio_pci_kvm_dmabuf_test
else
	echo "   no build/logs/rig-user.log (tools/testing/phyr/rig-user.sh)"
fi

echo
echo "-- a device's DMA through a BAR dma-buf mapped into its IOAS (iommufd, vfio_pci_iommufd_dmabuf_test)"
if [ -s "$ulog" ]; then
	it() { sed -n '/^phyr-user: run vfio_pci_iommufd_dmabuf_test/,/^phyr-user: exit vfio_pci_iommufd_dmabuf_test/p' "$ulog" | tr -d '\r'; }
	if [ -z "$(it)" ]; then
		echo "   DID NOT RUN"
	else
		echo "   edu, bound through the iommufd cdev, copies from a 3-range dma-buf of the ivshmem BAR:"
		it | grep -E '^# (dma-buf \+|[0-9]+ ranges)' | sed 's/^# /     /'
		echo "   reset of the ivshmem device (VFIO_DEVICE_RESET):"
		it | grep -E '^# (after the|the IOMMU:|mapped again)' | sed 's/^# /     /'
		echo "   one dma-buf of two P2P providers (the series' test exporter):"
		it | grep -E '^# (test exporter|two providers|4 pages|through the CPU|the ivshmem bytes)' | sed 's/^# /     /'
		it | grep -E '^# SKIP' | sed 's/^# /     /'
	fi
	cases vfio_pci_iommufd_dmabuf_test
	# iommufd's dma-buf cases: iommufd_dmabuf, or the whole iommufd.
	d=$(tr -d '\r' <"$ulog" |
	    sed -n '/^phyr-user: run iommufd\(_dmabuf\)\{0,1\}$/,/^phyr-user: exit iommufd\(_dmabuf\)\{0,1\} /p' |
	    grep -E '^(not )?ok [0-9]+ .*\.dmabuf_')
	echo "   iommufd's dma-buf cases on its mock IOMMU: $(grep -c '^ok ' <<<"$d") passed, $(grep -c '^not ok ' <<<"$d") failed ($(grep -oE 'dmabuf_[a-z_]+' <<<"$d" | sort -u | paste -sd' '))"
else
	echo "   no build/logs/rig-user.log (tools/testing/phyr/rig-user.sh)"
fi

echo
echo "-- upstream's own selftests, unchanged (userspace boot): cases passed/failed/skipped, time in the rig"
if [ -s "$ulog" ]; then
	ures=$("$ROOT/tools/testing/phyr/rig-user-count.py" "$ulog" rig-user 2>/dev/null)
	uc=$(tr -d '\r' <"$ulog")
	for p in udmabuf set_memory_region_test memslot_modification_stress_test \
		 memslot_perf_test guest_memfd_test vfio_pci_device_test \
		 vfio_dma_mapping_test vfio_dma_mapping_mmio_test \
		 vfio_iommufd_setup_test iommufd iommufd_fail_nth \
		 iommufd_dmabuf iommufd_fail_nth_dmabuf; do
		if ! grep -qx "phyr-user: run $p" <<<"$uc"; then
			if [ "$p" = iommufd_fail_nth ]; then
				echo "   $p: not run (PHYR_RIG_FAIL_NTH=1 tools/testing/phyr/rig-user.sh runs it)"
			elif [ "$p" = iommufd ]; then
				echo "   $p: not run (make check-full, or PHYR_RIG_IOMMUFD=1 tools/testing/phyr/rig-user.sh, runs it)"
			elif [ "$p" = iommufd_dmabuf ] &&
			     grep -qx "phyr-user: run iommufd" <<<"$uc"; then
				echo "   $p: not run (iommufd ran whole, these cases included)"
			else
				printf "   %-34s DID NOT RUN\n" "$p:"
			fi
			continue
		fi
		r=$(grep -E "^[A-Z]+ rig-user: $p: " <<<"$ures")
		n() { grep -c "^$1 " <<<"$r"; }
		t=$(sed -n "s/^phyr-user: exit $p [0-9]* (\([0-9.]*\) s -> \([0-9.]*\) s uptime)$/\1 \2/p" <<<"$uc" |
		    awk '{printf "%.0f s", $2 - $1}')
		a=$(sed -n "s/^phyr-user: args $p //p" <<<"$uc")
		printf '   %-34s %3d passed, %d failed, %3d skipped, %s%s\n' "$p:" \
			"$(n PASS)" "$(n FAIL)" "$(n SKIP)" "${t:-no exit}" "${a:+ (args: $a)}"
		# Each skip reason once, with how many cases gave it.
		grep '^SKIP ' <<<"$r" | sed 's/.*# SKIP //' | sort | uniq -c |
			awk '{c = $1; $1 = ""; sub(/^ +/, ""); printf "     skipped x%d: %s\n", c, $0}'
		grep '^FAIL ' <<<"$r" | sed 's/^/     /'
	done
else
	echo "   no build/logs/rig-user.log (tools/testing/phyr/rig-user.sh)"
fi

echo
echo "-- reliability: malformed input (R2) and races (R3), userspace boot"
if [ -s "$ulog" ]; then
	r2=$(grep -a -E '^# R2 [^:]+: [0-9]+ (malformed|inputs)' "$ulog" | tr -d '\r' | sed 's/^# R2 //')
	r3=$(grep -a -E '^# R3: ' "$ulog" | tr -d '\r' | sed 's/^# R3: //')
	if [ -z "$r2$r3" ]; then
		echo "   no R2/R3 lines in build/logs/rig-user.log"
	else
		echo "$r2" | sed '/^$/d; s/^/   R2 /'
		echo "   R3, each pair raced for a bounded time on two CPUs (iterations and overlaps of each side):"
		echo "$r3" | grep ' x ' | awk -F': ' '{printf "     %-22s %s\n", $1, $2}'
		echo "$r3" | grep -v ' x ' | sed 's/^/   R3 /'
	fi
else
	echo "   no build/logs/rig-user.log (tools/testing/phyr/rig-user.sh)"
fi

echo
echo "-- fault injection (R5): each allocation of each operation failed in turn, once and from the n-th on"
# "fail-nth: OPERATION: MODE: N injection points, ..." of the KUnit boot
# (lib/phyr/phyr_rig_dma_kunit.c) and of the userspace boot (vfio_pci_util.h).
fn=$( { grep -a -h -o 'phyr-rig: fail-nth: .*' "$LOG" | sed 's/^phyr-rig: //'
	[ -s "$ulog" ] && grep -a -h -o 'fail-nth: .*: .*injection points.*' "$ulog"
	} | tr -d '\r' | grep -v 'the DMA maps were')
if [ -n "$fn" ]; then
	echo "$fn" | sed 's/^fail-nth: /   /'
else
	echo "   no fail-nth lines in build/logs/rig.log or rig-user.log"
fi

echo
echo "-- KUnit"
if [ -s "$SUMMARY" ]; then
	sed 's/^\[[0-9:]*\] //' "$SUMMARY" |
		grep -E '^(=+ *\[?[A-Z]+\]? |\[(PASSED|FAILED|SKIPPED|CRASHED)\] |# |Testing complete|Ran [0-9]+ tests|.*passed:)' |
		grep -vE '^\[PASSED\] ' | sed 's/^/   /'
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
