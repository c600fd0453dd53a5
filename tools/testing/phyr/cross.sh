#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# cross.sh - cross-build the project's objects for arm64 and riscv64 with
# Debian's cross compilers (gcc-aarch64-linux-gnu, gcc-riscv64-linux-gnu),
# with W=1 and sparse (C=1), and fail on any warning in them.
#
# Per architecture, in build/cross-<arch> (O=):
#   config   make defconfig, merge cross.config and cross-<arch>.config
#            (scripts/kconfig/merge_config.sh -m), make olddefconfig; every
#            CONFIG_ line of the fragments must then be in .config as
#            written, or the architecture fails here
#   prepare  make W=1 prepare (no vmlinux, no modules: only what single
#            objects need)
#   W=1, sparse
#            make W=1 C=1 CHECK=build/tools/sparse of the objects of:
#            the project's new .c files (lib drivers virt) and the upstream
#            .c files its patches change ('+++ b/' lines of patches/*.patch),
#            those the config builds. Which ones it builds is read from
#            kbuild's Makefiles: the line naming the object, its
#            obj-$(CONFIG_...) or <composite>-$(CONFIG_...) condition,
#            followed to the composite's own line (vfio-pci-core.o, kvm.o).
#            The files of another architecture (arch/x86/) and those the
#            config leaves out are listed as skipped, with the reason.
#            C=1 checks each file it compiles. make -O keeps each object's
#            output together: its warnings are kept in <object>.warn, so an
#            object that is up to date is not compiled again and keeps the
#            warnings of its last compile. virt/kvm/ objects are built through
#            arch/<arch>/kvm/ (whose Makefile includes virt/kvm/Makefile.kvm),
#            with KVM's flags.
#
# A warning (compiler or sparse) in a project file or in a file a patch
# changes, headers included, fails. Known warnings of the pristine 7.3.4
# source are not the project's: cross-known.txt lists them as "<arch>
# <count> <file> <text of the warning, without line and column>", and a
# warning fails only when its file has it more often than that; see that
# file for how they were found.
#
# Prints "PASS|FAIL cross: <arch> <check> (...)" lines, three per
# architecture whatever happens (config, W=1, sparse), the offending lines
# under a failure; logs in build/logs/cross-<arch>-*.log. Exit 1 if
# anything failed. Needs build/linux (make tree), the cross compilers and
# build/tools/sparse (deps.sh). PHYR_CROSS_ARCHS="arm64" for one only.

set -uo pipefail
. "$(dirname "$0")/lib.sh"

ARCHS=${PHYR_CROSS_ARCHS:-arm64 riscv}
SPARSE=$PHYR_ROOT/build/tools/sparse
KNOWN=$PHYR_TOOLS/cross-known.txt
JOBS=${PHYR_JOBS:-2}
failed=0

# report ARCH CHECK STATUS SUMMARY [OFFENDING-LINES-FILE [LOG]]
report() {
	local arch=$1 check=$2 status=$3 summary=$4 lines=${5:-} log=${6:-}
	echo "$status cross: $arch $check ($summary)"
	if [ "$status" = FAIL ]; then
		failed=1
		if [ -n "$lines" ] && [ -s "$lines" ]; then
			head -n 40 "$lines" | sed 's/^/      | /'
		fi
		[ -z "$log" ] || echo "      log: ${log#"$PHYR_ROOT"/}"
	fi
}

# calls_check ARCH CROSS_COMPILE OBJECT - BEHAVIOURS P4 read off the
# machine code, which no test that runs the loop can see: the loop
# phyr_test_iter_loop() of lib/phyr/phyr_kunit.c, phyr_iter_next() inlined
# in it, has no call and no indirect branch (arm64 bl, blr, br and their
# pointer-authenticated forms; riscv jal, jalr, jr, call, tail; its return
# is ret).
calls_check() {
	local arch=$1 cc=$2 obj=$3 dis bad re
	if [ ! -f "$obj" ]; then
		report "$arch" calls FAIL "no ${obj#"$PHYR_ROOT"/}"
		return
	fi
	# Its extent from the symbol table (a clone may carry a suffix; riscv
	# objects keep local labels, which split a plain disassembly).
	local addr sect size
	read -r addr sect size < <("${cc}objdump" -t "$obj" |
		awk '$NF ~ /^phyr_test_iter_loop(\.|$)/ && $3 == "F" {
			print $1, $4, $5; exit }')
	dis=
	if [ -n "$size" ]; then
		dis=$("${cc}objdump" -d --no-show-raw-insn -j "$sect" \
			--start-address=$((0x$addr)) \
			--stop-address=$((0x$addr + 0x$size)) "$obj" |
		      grep -E '^ *[0-9a-f]+:'$'\t')
	fi
	if [ -z "$dis" ]; then
		report "$arch" calls FAIL "no phyr_test_iter_loop in ${obj#"$PHYR_ROOT"/}"
		return
	fi
	case $arch in
	arm64) re=':[[:space:]]+(bl|blr|br|blraa|blraaz|blrab|blrabz|braa|braaz|brab|brabz)([[:space:]]|$)' ;;
	*) re=':[[:space:]]+(jal|jalr|jr|call|tail|c\.jal|c\.jalr|c\.jr)([[:space:]]|$)' ;;
	esac
	bad=$(mktemp)
	grep -E "$re" <<<"$dis" >"$bad" || true
	if [ -s "$bad" ]; then
		report "$arch" calls FAIL \
			"phyr_test_iter_loop (P4) calls or branches indirectly" "$bad"
	else
		report "$arch" calls PASS \
			"phyr_test_iter_loop (P4): $(wc -l <<<"$dis") instructions, no call, no indirect branch"
	fi
	rm -f "$bad"
}

# fail_all ARCH SUMMARY [LOG] - nothing could be checked: every check of
# ARCH fails, so that make check counts the same tests every time.
fail_all() {
	local t
	for t in config W=1 sparse calls; do
		report "$1" "$t" FAIL "$2" "" "${3:-}"
	done
}

# fail_build ARCH SUMMARY [LOG] - the config passed, the build could not run.
fail_build() {
	local t
	for t in W=1 sparse calls; do
		report "$1" "$t" FAIL "$2" "" "${3:-}"
	done
}

cross_compile() {
	case $1 in
	arm64) echo aarch64-linux-gnu- ;;
	riscv) echo riscv64-linux-gnu- ;;
	*) return 1 ;;
	esac
}

cd "$PHYR_ROOT" || exit 1

# The files: the project's new sources, and the upstream ones its patches
# change (kernel paths only: tools/ is userspace).
mapfile -t newc < <(find lib drivers virt -name '*.c' 2>/dev/null | sort)
mapfile -t patched < <(sed -n 's|^+++ b/||p' patches/*.patch | sort -u |
		       grep -v '^tools/')
mapfile -t cands < <({ printf '%s\n' "${newc[@]}"
		       printf '%s\n' "${patched[@]}" | grep -E '\.c$'; } | sort -u)
# Where a warning counts: every project source and every patched file.
mapfile -t own < <({ find include lib drivers virt -name '*.[ch]' 2>/dev/null
		     printf '%s\n' "${patched[@]}" | grep -E '\.[ch]$'; } | sort -u)
own_re=$(printf '%s\n' "${own[@]}" | sed 's/[.]/[.]/g' | paste -sd'|')

if [ ! -f "$PHYR_TREE/Makefile" ]; then
	for a in $ARCHS; do
		fail_all "$a" "build/linux is not prepared (make tree)"
	done
	exit 1
fi
if [ ! -x "$SPARSE" ]; then
	for a in $ARCHS; do
		fail_all "$a" "no build/tools/sparse (tools/testing/phyr/deps.sh)"
	done
	exit 1
fi

# built_by MAKEFILE... -- NAME: does the config build NAME.o? The
# Makefiles are searched in turn for the line adding NAME.o (continuation
# lines joined); "obj-y" is built, "obj-$(CONFIG_X)" if X is y or m, and
# "<comp>-y"/"<comp>-$(CONFIG_X)" if (X is set and) <comp>.o is built.
built_by() {
	local mfs=() name lhs cfg comp
	while [ "$1" != -- ]; do mfs+=("$1"); shift; done
	name=$2
	while IFS= read -r lhs; do
		cfg=$(sed -n 's/.*-$(CONFIG_\([A-Z0-9_]*\)).*/\1/p' <<<"$lhs")
		comp=$(sed -E 's/-(y|objs|\$\(CONFIG_[A-Z0-9_]*\))$//' <<<"$lhs")
		if [ -n "$cfg" ] && ! grep -qE "^CONFIG_$cfg=(y|m)$" "$O/.config"; then
			continue
		fi
		[ "$comp" = obj ] && return 0
		[ "$comp" != "$name" ] && built_by "${mfs[@]}" -- "$comp" && return 0
	done < <(for m in "${mfs[@]}"; do
			sed -e ':a' -e '/\\$/{N;s/\\\n/ /;ba' -e '}' "$m"
		 done | grep -E "[[:space:]=/]$name\\.o([[:space:]]|$)" |
		 sed -nE 's/^[[:space:]]*([A-Za-z0-9_$().-]+)[[:space:]]*[:+]?=.*/\1/p')
	return 1
}

for arch in $ARCHS; do
	t0=$SECONDS
	O=$PHYR_ROOT/build/cross-$arch
	cc=$(cross_compile "$arch") || {
		fail_all "$arch" "unknown architecture"
		continue
	}
	kmake() {
		make -C "$PHYR_TREE" O="$O" ARCH="$arch" CROSS_COMPILE="$cc" \
			--jobs="$JOBS" "$@"
	}
	if ! command -v "${cc}gcc" >/dev/null; then
		fail_all "$arch" "no ${cc}gcc (tools/testing/phyr/deps.sh installs it)"
		continue
	fi
	mkdir -p "$O"
	bad=$(mktemp)

	# --- config
	log=$PHYR_LOGS/cross-$arch-config.log
	frags=("$PHYR_TOOLS/cross.config")
	[ -f "$PHYR_TOOLS/cross-$arch.config" ] && frags+=("$PHYR_TOOLS/cross-$arch.config")
	{ kmake defconfig &&
	  "$PHYR_TREE/scripts/kconfig/merge_config.sh" -m -O "$O" "$O/.config" "${frags[@]}" &&
	  kmake olddefconfig; } >"$log" 2>&1
	rc=$?
	nr_opts=0
	: >"$bad"
	while IFS= read -r opt; do
		nr_opts=$((nr_opts + 1))
		grep -qxF "$opt" "$O/.config" ||
			echo "$opt wanted, .config has:" \
			     "$(grep -E "^(# )?${opt%%=*}[= ]" "$O/.config" ||
				echo nothing)" >>"$bad"
	done < <(grep -h '^CONFIG_' "${frags[@]}")
	# kconfig's own complaints (a bool tested for m, ...) are the project's
	# when they name its options; count any.
	grep -E 'warning|tested for|error' "$log" |
		grep -vE '^(Value of|Previous value|New value|Using|Merging)' >>"$bad"
	if [ $rc != 0 ]; then
		report "$arch" config FAIL "defconfig/merge/olddefconfig exited $rc" "$bad" "$log"
		fail_build "$arch" "not built: the config failed"
		rm -f "$bad"
		continue
	elif [ -s "$bad" ]; then
		report "$arch" config FAIL \
			"$(wc -l <"$bad") option(s) not as the fragments say, or kconfig warnings" \
			"$bad" "$log"
		fail_build "$arch" "not built: the config failed"
		rm -f "$bad"
		continue
	fi
	report "$arch" config PASS \
		"defconfig + $nr_opts options of $(basename -a "${frags[@]}" | paste -sd+)"

	# --- prepare
	log=$PHYR_LOGS/cross-$arch-prepare.log
	# With W=1 as the objects below, or the vDSO, which prepare builds,
	# would be rebuilt (and sparse-checked) with them every time.
	if ! kmake W=1 prepare >"$log" 2>&1; then
		fail_build "$arch" "make prepare failed" "$log"
		rm -f "$bad"
		continue
	fi

	# --- the objects this config builds
	objs=()
	skipped=()
	for c in "${cands[@]}"; do
		base=$(basename "${c%.c}")
		dir=$(dirname "$c")
		case $c in
		arch/"$arch"/*) ;;
		arch/*)
			skipped+=("$c (another architecture)")
			continue
			;;
		esac
		if [ "$dir" = virt/kvm ]; then
			mfs=("$PHYR_TREE/virt/kvm/Makefile.kvm"
			     "$PHYR_TREE/arch/$arch/kvm/Makefile")
			obj=arch/$arch/kvm/../../../virt/kvm/$base.o
		else
			mfs=()
			for m in Makefile Kbuild; do
				[ -f "$PHYR_TREE/$dir/$m" ] && mfs+=("$PHYR_TREE/$dir/$m")
			done
			obj=$dir/$base.o
		fi
		if [ ${#mfs[@]} != 0 ] && built_by "${mfs[@]}" -- "$base"; then
			objs+=("$obj")
		else
			skipped+=("$c (not in this config)")
		fi
	done
	if [ ${#objs[@]} = 0 ]; then
		fail_build "$arch" "none of the project's objects is in this config"
		rm -f "$bad"
		continue
	fi

	# --- W=1 and sparse. make -O keeps the output of each object's
	# recipe together (its CC line, the compiler's warnings, its CHECK
	# line, sparse's), so each compile's warnings are kept next to its
	# object, in <object>.warn, and an object that is up to date keeps
	# those of its last compile: only what changed is compiled again. An
	# object without a .warn (built some other way) is compiled again.
	log=$PHYR_LOGS/cross-$arch-build.log
	for o in "${objs[@]}"; do
		[ -f "$O/$o.warn" ] || rm -f "$O/$o"
	done
	kmake -k -O W=1 C=1 CHECK="$SPARSE" "${objs[@]}" >"$log" 2>&1
	rc=$?
	awk -v O="$O" -v list="$(printf '%s\n' "${objs[@]}")" '
	BEGIN {
		n = split(list, a, "\n")
		for (i = 1; i <= n; i++)
			want[a[i]] = 1
	}
	/^  [A-Z0-9_]+ / && !/^  CHECK / {
		cur = ""
		if (match($0, /^  CC( \[M\])? +/)) {
			t = substr($0, RLENGTH + 1)
			if (t in want) {
				cur = O "/" t ".warn"
				printf "" >cur
			}
		}
		next
	}
	cur != "" { print >cur }' "$log"
	objs_re=$(printf '%s\n' "${objs[@]%.o}" | sed 's/[.]/[.]/g' | paste -sd'|')
	nr_cc=$(grep -cE "^  CC( \[M\])? +($objs_re)[.]o\$" "$log")
	nr_check=$(grep -cE "^  CHECK +(.*/)?($objs_re)[.]c\$" "$log")
	warn=$(mktemp)
	for o in "${objs[@]}"; do
		cat "$O/$o.warn" 2>/dev/null
	done >"$warn"
	# The warnings in the project's files, less the pristine source's own:
	# a (file, text) pair is reported when it is seen more often than
	# cross-known.txt says 7.3.4 has it (line numbers move with patches).
	grep -E "(^|/)($own_re):[0-9]+(:[0-9]+)?: (warning|error)" "$warn" |
		sed -E "s|^$PHYR_TREE/||; s|^(.*/)?\\.\\./\\.\\./\\.\\./||" | sort -u |
		awk -v arch="$arch" -v known="$KNOWN" '
		BEGIN {
			while ((getline l < known) > 0) {
				if (l ~ /^#/ || l !~ /[^ ]/)
					continue
				split(l, f, " ")
				if (f[1] != arch)
					continue
				t = l
				sub(/^[^ ]+ +[^ ]+ +[^ ]+ +/, "", t)
				k[f[3] " " t] = f[2]
			}
		}
		{
			file = $0
			sub(/:.*/, "", file)
			text = $0
			sub(/^[^:]+:[0-9]+(:[0-9]+)?: /, "", text)
			key = file " " text
			n[key]++
			lines[key] = lines[key] $0 "\n"
		}
		END {
			for (key in n)
				if (n[key] > k[key] + 0)
					printf "%s", lines[key]
		}' | sort >"$bad"
	w1=$(mktemp)
	sp=$(mktemp)
	# gcc's lines carry a [-Wflag]; sparse's do not.
	grep -E '\[-W[^]]*\]$' "$bad" >"$w1"
	grep -vE '\[-W[^]]*\]$' "$bad" >"$sp"
	norec=()
	for o in "${objs[@]}"; do
		[ -f "$O/$o" ] && [ -f "$O/$o.warn" ] || norec+=("$o")
	done
	note="; $nr_cc compiled, $((${#objs[@]} - nr_cc)) up to date"
	note+=", ${#skipped[@]} skipped"
	dur=$(phyr_dur $((SECONDS - t0)))
	if [ $rc != 0 ]; then
		report "$arch" W=1 FAIL "make exited $rc" "$w1" "$log"
		report "$arch" sparse FAIL "make exited $rc" "$sp" "$log"
	elif [ ${#norec[@]} != 0 ]; then
		for t in W=1 sparse; do
			report "$arch" "$t" FAIL \
				"no object or no record of its compile: ${norec[*]}" "" "$log"
		done
	else
		if [ -s "$w1" ]; then
			report "$arch" W=1 FAIL \
				"$(wc -l <"$w1") warning(s) in ${#objs[@]} files" "$w1" "$log"
		else
			report "$arch" W=1 PASS "${#objs[@]} files clean$note; $dur"
		fi
		if [ "$nr_check" != "$nr_cc" ]; then
			report "$arch" sparse FAIL \
				"sparse ran on $nr_check of the $nr_cc files compiled" "" "$log"
		elif [ -s "$sp" ]; then
			report "$arch" sparse FAIL \
				"$(wc -l <"$sp") warning(s) in ${#objs[@]} files" "$sp" "$log"
		else
			report "$arch" sparse PASS "${#objs[@]} files clean$note"
		fi
	fi
	calls_check "$arch" "$cc" "$O/lib/phyr/phyr_kunit.o"
	[ ${#skipped[@]} = 0 ] ||
		echo "      $arch: not built:" \
		     "$(printf '%s\n' "${skipped[@]}" | paste -sd, | sed 's/,/, /g')"
	{
		echo "# $arch: built (W=1 C=1)"
		printf '%s\n' "${objs[@]}"
		echo "# $arch: skipped"
		printf '%s\n' "${skipped[@]}"
	} >"$PHYR_LOGS/cross-$arch-files.txt"
	rm -f "$bad" "$w1" "$sp" "$warn"
done
exit $failed
