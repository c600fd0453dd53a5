#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# cocci-check.sh - the project's semantic patches, on their samples and on
# the project's files:
#
#   scripts/coccinelle/api/dma_buf_phyr.cocci     legacy dma-buf importer
#                                                  -> phyr mapping API
#   scripts/coccinelle/api/dma_buf_sg_page.cocci  sg_page() and friends on
#                                                  a dma-buf's sg_table
#
# The samples are in tools/testing/phyr/testdata/cocci/: a legacy importer
# (dma_buf_importer.c), what spatch makes of it (dma_buf_importer.phyr.c),
# an importer misusing sg_page() (dma_buf_sg_page.c), and the expected
# reports (*.report). Checks, one line each, "PASS cocci: <name>" or
# "FAIL cocci: <name> (<reason>)":
#
#   patch       spatch -D patch of dma_buf_phyr.cocci on the legacy importer
#               gives dma_buf_importer.phyr.c
#   idempotent  ... and nothing more on that output
#   report      report mode of each rule on its sample gives the .report
#   kunit <suite>
#               the legacy importer, spatch's output and the misuse sample,
#               each a KUnit suite, build in one UML kernel and pass
#               (build/uml-cocci; the samples are copied to
#               build/uml-cocci/cocci/ and built in with drivers-y=, so the
#               kernel tree and its quilt series are untouched)
#   coccicheck <rule>
#               make coccicheck MODE=report COCCI=<rule> finds the planted
#               samples (so the run is not vacuous) and reports nothing on
#               each of the project's .c/.h files (M=<file>)
#
# spatch picks files with git grep when it runs inside a git work tree, and
# build/ is ignored by git, so a plain coccicheck of build/linux checks no
# file at all: SPFLAGS=--disable-worth-trying-opt makes it read them.
#
# Installs coccinelle if spatch is missing (as root, printed). Logs in
# build/logs/cocci-*.log. Exit 1 if a check failed.
#
#   cocci-check.sh [--no-kunit]    --no-kunit: skip the UML build and run

set -uo pipefail
. "$(dirname "$0")/lib.sh"

DATA=$PHYR_TOOLS/testdata/cocci
CONV=scripts/coccinelle/api/dma_buf_phyr.cocci
SGPAGE=scripts/coccinelle/api/dma_buf_sg_page.cocci
BUILD=$PHYR_ROOT/build/uml-cocci
WORK=$BUILD/cocci
failed=0
kunit=1
[ "${1:-}" = --no-kunit ] && kunit=0

pass() { echo "PASS cocci: $1"; }
fail() {
	echo "FAIL cocci: $1 ($2)"
	failed=1
	if [ -n "${3:-}" ] && [ -s "$3" ]; then
		head -n 20 "$3" | sed 's/^/      | /'
	fi
}

if ! command -v spatch >/dev/null; then
	if [ "$(id -u)" != 0 ]; then
		echo "cocci: spatch is missing: install coccinelle (as root)" >&2
		exit 1
	fi
	echo "cocci: installing: coccinelle"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		--no-install-recommends coccinelle >"$PHYR_LOGS/cocci-deps.log" 2>&1 ||
		{ echo "cocci: apt-get install coccinelle failed; log: build/logs/cocci-deps.log" >&2
		  exit 1; }
	echo "cocci: installed: coccinelle"
fi

# The rules are linked into build/linux like every new file.
"$PHYR_TOOLS/tree.sh" || exit 1
cd "$PHYR_TREE" || exit 1

# The rules' own options (their "// Options:" line), as coccicheck uses them.
SPATCH=(spatch --very-quiet --no-includes --include-headers)

# Work on copies, outside any git work tree and under a stable name.
rm -rf "$WORK.tmp"
mkdir -p "$WORK.tmp"
cp "$DATA"/*.c "$WORK.tmp/"

# --- patch: the conversion of the legacy importer
log=$PHYR_LOGS/cocci-patch.log
(cd "$WORK.tmp" &&
 "${SPATCH[@]}" -D patch --sp-file "$PHYR_TREE/$CONV" \
	-o dma_buf_importer.out.c dma_buf_importer.c) >"$log" 2>&1
if [ ! -s "$WORK.tmp/dma_buf_importer.out.c" ]; then
	fail patch "spatch produced no output" "$log"
elif ! diff -u "$DATA/dma_buf_importer.phyr.c" \
	"$WORK.tmp/dma_buf_importer.out.c" >"$log.diff"; then
	fail patch "output differs from dma_buf_importer.phyr.c" "$log.diff"
else
	pass patch
fi

# --- idempotent: nothing left to convert in the converted importer
log=$PHYR_LOGS/cocci-idempotent.log
(cd "$WORK.tmp" &&
 "${SPATCH[@]}" -D patch --sp-file "$PHYR_TREE/$CONV" \
	dma_buf_importer.phyr.c) >"$log" 2>&1
if [ -s "$log" ]; then
	fail idempotent "dma_buf_phyr.cocci changes its own output" "$log"
else
	pass idempotent
fi

# --- report: each rule on its sample
# report_one NAME RULE SAMPLE EXPECTED
report_one() {
	local name=$1 rule=$2 sample=$3 want=$4 log=$PHYR_LOGS/cocci-${1// /-}.log
	(cd "$WORK.tmp" &&
	 "${SPATCH[@]}" -D report --sp-file "$PHYR_TREE/$rule" "$sample") >"$log" 2>&1
	if diff -u "$want" "$log" >"$log.diff"; then
		pass "$name"
	else
		fail "$name" "report differs from ${want#"$PHYR_ROOT"/}" "$log.diff"
	fi
}
report_one "report dma_buf_phyr" "$CONV" dma_buf_importer.c \
	"$DATA/dma_buf_importer.report"
report_one "report dma_buf_sg_page" "$SGPAGE" dma_buf_sg_page.c \
	"$DATA/dma_buf_sg_page.report"

# --- kunit: the three samples as KUnit suites in one UML kernel
if [ $kunit = 1 ]; then
	mkdir -p "$WORK"
	# Copy only what changed, so that the build stays incremental.
	put() { cmp -s "$1" "$2" || cp "$1" "$2"; }
	put "$DATA/dma_buf_importer.c" "$WORK/cocci_importer_sgt.c"
	if [ -s "$WORK.tmp/dma_buf_importer.out.c" ]; then
		put "$WORK.tmp/dma_buf_importer.out.c" "$WORK/cocci_importer_phyr.c"
	else
		rm -f "$WORK/cocci_importer_phyr.c"
	fi
	put "$DATA/dma_buf_sg_page.c" "$WORK/cocci_sg_page.c"
	# shellcheck disable=SC2016 # make's $(...), not the shell's
	printf '%s\n' '# SPDX-License-Identifier: GPL-2.0' \
		'# Written by tools/testing/phyr/cocci-check.sh.' \
		'obj-y += cocci_importer_sgt.o cocci_sg_page.o' \
		'obj-y += $(if $(wildcard $(src)/cocci_importer_phyr.c),cocci_importer_phyr.o)' \
		>"$WORK/Makefile.new"
	put "$WORK/Makefile.new" "$WORK/Makefile"
	rm -f "$WORK/Makefile.new"

	log=$PHYR_LOGS/cocci-kunit.log
	start=$SECONDS
	PHYR_NO_TAIL=1 phyr_run "$log" "$PHYR_KUNIT" run \
		--kunitconfig="$PHYR_TOOLS/cocci.kunitconfig" \
		--build_dir=../uml-cocci --jobs="${PHYR_JOBS:-2}" \
		--make_options=drivers-y=../uml-cocci/cocci/ 'cocci_*'
	took=$(phyr_dur $((SECONDS - start)))
	for suite in cocci_importer_sgt cocci_importer_phyr cocci_sg_page; do
		if grep -q "\[PASSED\] $suite\b" "$log"; then
			pass "kunit $suite"
		elif grep -q "Starting KUnit Kernel" "$log"; then
			fail "kunit $suite" "did not pass; log: build/logs/cocci-kunit.log"
		else
			grep -E 'error|Error' "$log" >"$log.err"
			fail "kunit $suite" "the UML build failed after $took; log: build/logs/cocci-kunit.log" "$log.err"
		fi
	done
	echo "      (UML build and run: $took)"
fi

# --- coccicheck: finds the samples, nothing in the project
mapfile -t own < <(cd "$PHYR_ROOT" &&
		   find include lib drivers virt -type f -name '*.[ch]' | sort)
# coccicheck RULE FILE - scripts/coccicheck's report lines for one file,
# without its banner. scripts/coccicheck in its one-file mode (C=1), as
# `make C=1 CHECK=scripts/coccicheck` runs it per object: 7.3's kbuild
# takes M= as a module directory only, so `make coccicheck M=FILE` no
# longer checks a single file.
coccicheck() {
	env C=1 MODE=report COCCI="$1" srctree="$PWD" objtree="$PWD" \
		SPFLAGS=--disable-worth-trying-opt scripts/coccicheck - "$2" 2>&1 |
		grep -E '^[^ ]+:[0-9]+:[0-9]+-[0-9]+: '
}
for rule in "$CONV" "$SGPAGE"; do
	name=$(basename "$rule" .cocci)
	log=$PHYR_LOGS/cocci-coccicheck-$name.log
	: >"$log"
	# The samples, seen through coccicheck: one report each at least.
	sample=dma_buf_sg_page.c
	[ "$rule" = "$CONV" ] && sample=dma_buf_importer.c
	if [ -z "$(coccicheck "$rule" "$WORK.tmp/$sample")" ]; then
		fail "coccicheck $name" "no report on the planted $sample: coccicheck checked nothing"
		continue
	fi
	for f in "${own[@]}"; do
		[ -e "$f" ] || { echo "$f: missing in build/linux" >>"$log"; continue; }
		coccicheck "$rule" "$f" >>"$log"
	done
	if [ -s "$log" ]; then
		fail "coccicheck $name" "$(wc -l <"$log") report(s) on the project's files" "$log"
	else
		pass "coccicheck $name"
	fi
done

rm -rf "$WORK.tmp"
exit $failed
