#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# static-checks.sh - the static checks on the project's own files: the new
# files (include lib drivers virt Documentation) and patches/*.patch.
#
#   checkpatch  checkpatch.pl --strict on every new file (-f: sources, Kconfig,
#               Makefiles, .rst) and on every patch (patch mode, fed on stdin
#               since checkpatch treats a file git tracks as a source file;
#               --no-signoff: sign-offs are added when the series is exported)
#   kernel-doc  scripts/kernel-doc -Wall -none on every .c/.h
#   sphinx      make htmldocs SPHINXDIRS=<the dirs of the project's pages>,
#               into build/docs; any warning about a project file fails
#   sparse      make C=2 on the project's objects in build/x86_64
#   W=1         make W=1 of the project's objects in build/x86_64
#
# Prints one line per tool, "PASS|FAIL static: <tool>: ...", followed by the
# offending lines; full output in build/logs/static-<tool>.log. Exit 1 if a
# tool failed. Needs build/linux (make tree) and, for sparse and W=1, the
# x86_64 build configured and built by the rig (make rig).
#
# PHYR_STATIC_O and PHYR_STATIC_ARCH select another configured build for
# sparse and W=1 (default: build/x86_64, x86_64), e.g. build/uml and um.

set -uo pipefail
. "$(dirname "$0")/lib.sh"

XBUILD=${PHYR_STATIC_O:-$PHYR_ROOT/build/x86_64}
XARCH=${PHYR_STATIC_ARCH:-x86_64}
failed=0

# report TOOL LOG STATUS SUMMARY [OFFENDING-LINES-FILE]
report() {
	local tool=$1 log=$2 status=$3 summary=$4 lines=${5:-}
	echo "$status static: $tool: $summary"
	if [ "$status" = FAIL ]; then
		failed=1
		if [ -n "$lines" ] && [ -s "$lines" ]; then
			head -n 40 "$lines" | sed 's/^/      | /'
		fi
		[ "$log" = /dev/null ] || echo "      log: ${log#"$PHYR_ROOT"/}"
	fi
}

cd "$PHYR_ROOT" || exit 1
mapfile -t files < <(find include lib drivers virt Documentation -type f \
			2>/dev/null | sort)
mapfile -t patches < <(ls patches/*.patch 2>/dev/null)
mapfile -t csrc < <(printf '%s\n' "${files[@]}" | grep -E '\.[ch]$')
mapfile -t cfiles < <(printf '%s\n' "${csrc[@]}" | grep -E '\.c$')
# checkpatch -f: the sources, the build glue and the documentation.
# checkpatch also reads the selftest programs (userspace C, kernel style).
mapfile -t cpfiles < <({ printf '%s\n' "${files[@]}"
			 find tools/testing/selftests -type f 2>/dev/null; } |
		       grep -E '(\.[ch]|\.rst|/Kconfig|/Makefile|/Kbuild)$' | sort)

if [ ! -x "$PHYR_TREE/scripts/checkpatch.pl" ]; then
	for t in checkpatch kernel-doc sphinx sparse W=1; do
		report "$t" /dev/null FAIL "build/linux is not prepared (make tree)"
	done
	exit 1
fi

# Keep the lines about the project's files from a compiler/checker log.
own_lines() {
	local re
	re=$(printf '%s\n' "${csrc[@]}" | sed 's/[.]/[.]/g' | paste -sd'|')
	grep -E "(^|/)($re):[0-9]+(:[0-9]+)?: (warning|error)" "$1"
}

# A quilt patch as git format-patch will export it: quilt's header has no
# "---" line between the message and the diff, which checkpatch requires.
as_mail() {
	awk '!done && /^(--- |diff |Index: )/ { if (prev != "---") print "---"; done = 1 }
	     { print; prev = $0 }' "$1"
}

# --- checkpatch
log=$PHYR_LOGS/static-checkpatch.log
: >"$log"
bad=$(mktemp)
nr_bad=0
# checkpatch_one NAME OPTIONS... - run checkpatch, log it, note what is wrong.
checkpatch_one() {
	local name=$1 out
	shift
	out=$("$PHYR_TREE/scripts/checkpatch.pl" --strict --no-tree \
	      --color=never --show-types "$@" 2>&1)
	printf '== %s\n%s\n' "$name" "$out" >>"$log"
	grep -q '^total: 0 errors, 0 warnings, 0 checks' <<<"$out" && return
	nr_bad=$((nr_bad + 1))
	echo "$name:" >>"$bad"
	# The reports, or whatever checkpatch said if it did not get that far.
	echo "$out" | grep -E '^(ERROR|WARNING|CHECK):|^#[0-9]+: FILE:' >>"$bad" ||
		echo "$out" | head -n 5 >>"$bad"
}
for f in "${cpfiles[@]}"; do
	checkpatch_one "$f" -f "$f"
done
for p in "${patches[@]}"; do
	checkpatch_one "$p" --no-signoff - < <(as_mail "$p")
done
if [ ${#cpfiles[@]} = 0 ]; then
	report checkpatch "$log" FAIL "no source files found"
elif [ $nr_bad != 0 ]; then
	report checkpatch "$log" FAIL "$nr_bad file(s) or patch(es) with reports" "$bad"
else
	report checkpatch "$log" PASS "${#cpfiles[@]} files, ${#patches[@]} patches clean"
fi

# --- kernel-doc
log=$PHYR_LOGS/static-kernel-doc.log
"$PHYR_TREE/scripts/kernel-doc" -Wall -none "${csrc[@]}" >"$log" 2>&1
rc=$?
if [ ${#csrc[@]} = 0 ]; then
	report kernel-doc "$log" FAIL "no .c/.h files found"
elif [ -s "$log" ] || [ $rc != 0 ]; then
	report kernel-doc "$log" FAIL "$(wc -l <"$log") line(s) of warnings (exit $rc)" "$log"
else
	report kernel-doc "$log" PASS "${#csrc[@]} files clean"
fi

# --- Sphinx: the project's pages build, with the kernel-doc they pull in.
log=$PHYR_LOGS/static-sphinx.log
mapfile -t rst < <(printf '%s\n' "${files[@]}" | grep -E '^Documentation/.*\.rst$')
dirs=$(printf '%s\n' "${rst[@]}" | cut -d/ -f2 | sort -u | paste -sd' ')
if [ ${#rst[@]} = 0 ]; then
	echo "PASS static: sphinx: no .rst pages yet"
else
	if ! command -v sphinx-build >/dev/null && [ "$(id -u)" = 0 ]; then
		echo "static: installing python3-sphinx"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
			--no-install-recommends python3-sphinx >/dev/null 2>&1
	fi
	# Sphinx re-reads, and so re-warns about, changed pages only.
	touch "${rst[@]}"
	make -C "$PHYR_TREE" O="$PHYR_ROOT/build/docs" htmldocs \
		SPHINXDIRS="$dirs" >"$log" 2>&1
	rc=$?
	all_re=$(printf '%s\n' "${files[@]}" | sed 's/[.]/[.]/g' | paste -sd'|')
	grep -iE 'warning|error' "$log" | grep -E "(^|/)($all_re)" >"$bad"
	missing=
	for r in "${rst[@]}"; do
		r=${r#Documentation/}
		[ -s "$PHYR_ROOT/build/docs/Documentation/output/${r%.rst}.html" ] ||
			missing+=" $r"
	done
	if ! command -v sphinx-build >/dev/null; then
		report sphinx "$log" FAIL "sphinx-build missing (apt-get install python3-sphinx)"
	elif [ $rc != 0 ]; then
		report sphinx "$log" FAIL "make htmldocs exited $rc" "$log"
	elif [ -s "$bad" ]; then
		report sphinx "$log" FAIL "$(wc -l <"$bad") warning(s)" "$bad"
	elif [ -n "$missing" ]; then
		report sphinx "$log" FAIL "no HTML for:$missing"
	else
		report sphinx "$log" PASS "${#rst[@]} page(s) built clean (SPHINXDIRS=$dirs)"
	fi
fi

# --- sparse and W=1, on the objects the rig's x86_64 config builds.
kmake() {
	make -C "$PHYR_TREE" O="$XBUILD" ARCH="$XARCH" --jobs="${PHYR_JOBS:-2}" "$@"
}
objs=()
skipped=()
for c in "${cfiles[@]}"; do
	if [ -f "$XBUILD/${c%.c}.o" ]; then
		objs+=("${c%.c}")
	else
		skipped+=("$c")
	fi
done
if [ ! -f "$XBUILD/.config" ] || [ ${#objs[@]} = 0 ]; then
	for t in sparse W=1; do
		report "$t" /dev/null FAIL "no built objects of the project in ${XBUILD#"$PHYR_ROOT"/} (run make rig first)"
	done
	exit 1
fi
# The objects as one regular expression, to count what kbuild did to them
# (the prepare step may check or compile a few files of its own).
objs_re() { printf '%s\n' "${objs[@]}" | sed 's/[.]/[.]/g' | paste -sd'|'; }
note=
[ ${#skipped[@]} = 0 ] || note="; not in this build's config: ${skipped[*]}"

# sparse: C=2 checks every object named even when it is up to date, and the
# flags are the rig build's, so nothing is rebuilt when the rig is current.
log=$PHYR_LOGS/static-sparse.log
# build/tools/sparse: deps.sh builds one 7.3 accepts (Debian 12's is too old).
kmake C=2 CHECK="$PHYR_ROOT/build/tools/sparse" "${objs[@]/%/.o}" >"$log" 2>&1
rc=$?
nr_checked=$(grep -cE "^  CHECK +(.*/)?($(objs_re)).c\$" "$log")
own_lines "$log" >"$bad"
if [ $rc != 0 ]; then
	report sparse "$log" FAIL "make exited $rc" "$log"
elif [ "$nr_checked" != ${#objs[@]} ]; then
	report sparse "$log" FAIL "sparse ran on $nr_checked of ${#objs[@]} files (is it installed?)" "$log"
elif [ -s "$bad" ]; then
	report sparse "$log" FAIL "$(wc -l <"$bad") warning(s)" "$bad"
else
	report sparse "$log" PASS "${#objs[@]} files clean$note"
fi

# W=1: compile to assembler (.s, not linked into anything) after removing
# the previous .s, so every run really compiles, and the rig's objects and
# vmlinux are left alone (building the .o with W=1 would force a relink).
log=$PHYR_LOGS/static-W1.log
for o in "${objs[@]}"; do rm -f "$XBUILD/$o.s"; done
kmake W=1 "${objs[@]/%/.s}" >"$log" 2>&1
rc=$?
nr_built=$(grep -cE "^  CC +($(objs_re)).s\$" "$log")
own_lines "$log" >"$bad"
if [ $rc != 0 ]; then
	report W=1 "$log" FAIL "make exited $rc" "$log"
elif [ "$nr_built" != ${#objs[@]} ]; then
	report W=1 "$log" FAIL "compiled $nr_built of ${#objs[@]} files" "$log"
elif [ -s "$bad" ]; then
	report W=1 "$log" FAIL "$(wc -l <"$bad") warning(s)" "$bad"
else
	report W=1 "$log" PASS "${#objs[@]} files clean$note"
fi
for o in "${objs[@]}"; do
	rm -f "$XBUILD/$o.s" "$XBUILD/$(dirname "$o")/.$(basename "$o").s.cmd"
done
rm -f "$bad"
exit $failed
