#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# series.sh [--check] - `make series`: export the work as a git format-patch
# series against the pinned 7.3.4 base, with a cover letter.
#
# patches/export lists the patches in order: a quilt patch of patches/series
# (or a message in patches/msg/) and the new files it adds. The series is
# built as commits on a git repository of the pristine base
# (build/series/base, made once from Debian's linux-source tarball), then
# `git format-patch --cover-letter` writes build/series/out/. The cover
# letter gets the motivation and design (from README.md), the patch list
# and diffstat (git), and the last `make check` result.
#
# --check (make check): also `git am` the series onto a clean clone of the
# base and require the result to be the same tree, byte for byte, as
# build/linux (the quilt series plus the new files) for every file the
# project touches, and every new file to belong to exactly one patch; then
# check out each patch in turn and build, for UML and x86_64, every C file
# the series has changed or added so far (see below). Prints
# "PASS series: ..." / "FAIL series: ..." lines, one per check.

set -uo pipefail

ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
TREE=$ROOT/build/linux
OUT=$ROOT/build/series
TARBALL=$ROOT/build/apt/root/usr/src/linux-source-7.3.tar.xz
BASE_VER=$(cat "$ROOT/build/apt/root/.version" 2>/dev/null)
EXPORT=$ROOT/patches/export
CHECK=
[ "${1:-}" = --check ] && CHECK=1

export GIT_AUTHOR_NAME="phyr developers" GIT_AUTHOR_EMAIL="phyr@localhost"
export GIT_COMMITTER_NAME="phyr developers" GIT_COMMITTER_EMAIL="phyr@localhost"
# Reproducible: every commit at the same date.
export GIT_AUTHOR_DATE="2026-11-22T00:00:00Z" GIT_COMMITTER_DATE="2026-11-22T00:00:00Z"
git_() { git -c init.defaultBranch=master -c advice.detachedHead=false \
	 -c core.autocrlf=false -c gc.auto=0 "$@"; }

fail() {
	echo "FAIL series: $1"
	exit 1
}

"$ROOT/tools/testing/phyr/tree.sh" >/dev/null || fail "tree: tools/testing/phyr/tree.sh failed"
mkdir -p "$OUT" "$ROOT/build/logs"
# One run at a time: the clones and build dirs below are shared.
exec 8>"$OUT/.lock"
flock 8

# --- the base: Linux 7.3.4 as Debian ships it, one commit.
if [ "$(cat "$OUT/base/.git/phyr-base" 2>/dev/null)" != "$BASE_VER" ]; then
	echo "series: making the base repository build/series/base (a few minutes, once)"
	rm -rf "$OUT/base"
	mkdir -p "$OUT/base"
	# Debian's .gitignore ignores the whole top level: add with -f.
	tar -C "$OUT/base" --strip-components=1 -xaf "$TARBALL" ||
		fail "base: cannot extract $TARBALL"
	(cd "$OUT/base" && git_ init -q && git_ add -A -f &&
	 git_ commit -q -m "Linux 7.3.4 (Debian linux-source-7.3 $BASE_VER)") ||
		fail "base: git init/commit failed"
	echo "$BASE_VER" >"$OUT/base/.git/phyr-base"
	rm -rf "$OUT/work" "$OUT/am" "$OUT/uml" "$OUT/x86_64" "$OUT/steps.ok"
fi

# A clone of the base, kept between runs and reset to the base: only the
# files the series touches change, so their mtimes (and the step builds
# below) stay incremental.
fresh_clone() {
	if [ ! -d "$1/.git" ]; then
		git_ clone -q "$OUT/base" "$1" || fail "$1: git clone failed"
	fi
	git_ -C "$1" am --abort >/dev/null 2>&1
	git_ -C "$1" checkout -q -f -B master origin/master &&
		git_ -C "$1" clean -fdxq || fail "$1: cannot reset to the base"
}

# --- the commits, in a clone of the base.
fresh_clone "$OUT/work"
cd "$OUT/work" || exit 1

declare -A owner=()
n=0
while read -r first files; do
	case $first in ''|'#'*) continue ;; esac
	n=$((n + 1))
	patch=
	msgfile=$ROOT/patches/${first#*+}
	if [[ $first != msg/* ]]; then
		patch=$ROOT/patches/${first%%+*}
		grep -qx "${first%%+*}" "$ROOT/patches/series" ||
			fail "${first%%+*} is in patches/export but not in patches/series"
	fi
	[ -f "$msgfile" ] || fail "$first: no $msgfile"
	[ -z "$patch" ] || [ -f "$patch" ] || fail "$first: no $patch"
	# The message: quilt's header, up to the diff.
	msg=$(awk '/^(--- |diff |Index: )/ {exit} {print}' "$msgfile")
	author=$(echo "$msg" | sed -n 's/^From: //p' | head -n 1)
	subject=$(echo "$msg" | sed -n 's/^Subject: //p' | head -n 1)
	body=$(echo "$msg" | awk 'body {print} /^$/ && !body {body = 1}')
	[ -n "$subject" ] || fail "$first: no Subject: line"
	if [ -n "$patch" ]; then
		git_ apply --index -p1 "$patch" || fail "$first does not apply in export order"
	fi
	for f in $files; do
		[ -e "$ROOT/$f" ] || fail "$first: $f does not exist"
		while read -r g; do
			[ -n "${owner[$g]:-}" ] && fail "$g is in both ${owner[$g]} and $first"
			owner[$g]=$first
			mkdir -p "$(dirname "$g")"
			cp "$ROOT/$g" "$g"
			git_ add -f "$g"
		done < <(cd "$ROOT" && git ls-files "$f")
	done
	git_ commit -q -s --author="$author" -m "$subject" -m "$body" ||
		fail "$first: nothing to commit"
done <"$EXPORT"

# Every new file of the project belongs to a patch, every quilt patch too.
missing=$(cd "$ROOT" && git ls-files include lib drivers virt Documentation scripts \
	  tools/testing/selftests | while read -r g; do
		[ -n "${owner[$g]:-}" ] || echo "$g"
	  done)
[ -z "$missing" ] || fail "new files in no patch of patches/export: $(echo $missing)"
for p in $(grep -v '^#' "$ROOT/patches/series"); do
	grep -qE "^${p//./[.]}([+[:space:]]|$)" "$EXPORT" ||
		fail "$p (patches/series) is not in patches/export"
done

# --- the mails and the cover letter.
rm -rf "$OUT/out"
git_ format-patch -q --cover-letter --thread=shallow -o "$OUT/out" \
	origin/master..HEAD || fail "git format-patch failed"
cover=$(ls "$OUT"/out/0000-*.patch)
last=
res=$ROOT/build/logs/check.results
[ -s "$res" ] && last="make check: $(grep -c '^PASS' "$res") passed, $(grep -c '^FAIL' "$res") failed, $(grep -c '^SKIP' "$res") skipped"
python3 - "$cover" "$ROOT/README.md" "${last:-make check not run yet}" <<'EOF'
import re, sys
cover, readme, result = sys.argv[1:]
text = open(cover).read()
md = open(readme).read()
# README's first section, up to "**Status.**": motivation and design.
intro = md.split('\n## ')[0].split('**Status.**')[0]
intro = '\n'.join(l for l in intro.splitlines() if not l.startswith('# '))
intro = re.sub(r'`([^`]*)`', r'\1', intro).strip()
blurb = intro + """

What each part changes:
- PCI/P2PDMA: pci_p2pdma_page_provider(), so that a P2PDMA page keeps
  its provider; PCI/TSM: pci_tsm_tdi_kvm(), the VM a TDI is bound to;
- lib/phyr: the descriptor, its iterators and builders, mapping for an
  importer device on dma_map_phys() and dma_iova_*() (bus address, host
  bridge, one IOVA per map type, DMA_ATTR_MMIO for MMIO) and the
  sg_table compat both ways, with KUnit suites;
- dma-buf: phyr offered by exporters and accepted by importers,
  negotiated at attach on the 7.1 invalidate_mappings contract;
  exporter revoke/restore helpers over dma_buf_invalidate_mappings();
  sg_table compat for legacy importers; fdinfo; udmabuf offers its
  pages as a phyr;
- vfio/pci: the upstream dma-buf exporter offers its BAR ranges as a
  phyr beside its sg_table, revokes through the core helpers, restores
  after a runtime-PM wake, and exports private buffers of a TDI bound
  to a VM;
- KVM: memslots backed by such a dma-buf (KVM_MEM_DMABUF), faults mapped
  from the phyr with huge pages, revoke zapping the slot first;
- selftests and Documentation/core-api/phyr.rst.

Tests: KUnit on UML and in a QEMU rig (q35, intel-iommu, a PCIe switch
with ivshmem, NVMe with a CMB and edu DMA engines, nested SVM), with
KASAN, lockdep, kmemleak and DMA_API_DEBUG; the selftests in the rig;
any kernel report on a console fails the run. Last result: """ + result + "."
text = text.replace('*** SUBJECT HERE ***',
                    'phyr: physical range lists for dma-buf, vfio-pci and KVM')
text = text.replace('*** BLURB HERE ***', blurb)
open(cover, 'w').write(text)
EOF
echo "series: $n patches and a cover letter in build/series/out/"
[ -n "$CHECK" ] || exit 0

# --- the check: git am onto a fresh clone of the base.
fresh_clone "$OUT/am"
(cd "$OUT/am" && git_ am -q $(ls "$OUT"/out/*.patch | grep -v /0000-)) \
	>"$OUT/am.log" 2>&1 ||
	fail "git am onto the clean base failed (build/series/am.log)"
[ "$(git -C "$OUT/am" rev-list --count HEAD)" = $((n + 1)) ] ||
	fail "git am made $(($(git -C "$OUT/am" rev-list --count HEAD) - 1)) commits, not $n"
[ "$(git -C "$OUT/am" rev-parse 'HEAD^{tree}')" = "$(git -C "$OUT/work" rev-parse 'HEAD^{tree}')" ] ||
	fail "the tree git am made differs from the exported one"
# The same bytes as build/linux for every file the project changes or adds.
diffs=0
while read -r f; do
	cmp -s "$OUT/am/$f" "$TREE/$f" || { echo "series: differs from build/linux: $f"; diffs=$((diffs + 1)); }
done < <(git -C "$OUT/am" diff --name-only origin/master HEAD)
[ $diffs = 0 ] || fail "$diffs file(s) of the applied series differ from build/linux"
echo "PASS series: $n patches apply with git am to a clean 7.3.4 tree and give build/linux"

# --- each step builds: at every patch, with the configs of the project's
# UML and x86_64 builds (build/uml, build/x86_64; symbols a patch has not
# introduced yet drop out), the C files the series has changed or added so
# far that those configs build. Kept in build/series/{uml,x86_64}; a
# series already checked (same mails) is not built again.
# The patches, not the cover letter (it quotes the last make check).
sum=$(ls "$OUT"/out/*.patch | grep -v /0000- | xargs cat |
      sed -E '/^(Message-Id|In-Reply-To|References):/d' | sha1sum | cut -d' ' -f1)
if [ "$(cat "$OUT/steps.ok" 2>/dev/null)" = "$sum" ]; then
	echo "PASS series: every patch builds (UML and x86_64; checked before for this series)"
	exit 0
fi
rm -f "$OUT/steps.ok"
# enabled OBJ BDIR - does the config in BDIR build OBJ at this step? The
# Makefile line naming it says under which symbol (obj-$(CONFIG_X) +=,
# kvm-$(CONFIG_X) +=); a line with no symbol builds with its directory.
# An object the Makefile does not name yet is not built yet.
enabled() {
	local o=${1#arch/x86/kvm/../../../} bdir=$2 mk line sym base
	base=$(basename "$o")
	case $o in
	virt/kvm/*) mk=virt/kvm/Makefile.kvm ;;
	arch/x86/kvm/*) mk=arch/x86/kvm/Makefile ;;
	*) mk=$(dirname "$o")/Makefile ;;
	esac
	[ -f "$OUT/am/$mk" ] || return 1
	line=$(grep -E "(^|[[:space:]/=])${base//./[.]}([[:space:]]|$)" "$OUT/am/$mk" | head -n 1)
	[ -n "$line" ] || return 1
	sym=$(echo "$line" | sed -n 's/^[^+:=]*\$(\(CONFIG_[A-Z0-9_]*\)).*/\1/p')
	[ -z "$sym" ] || grep -qE "^$sym=(y|m)$" "$bdir/.config"
}
mapfile -t commits < <(git -C "$OUT/am" rev-list --reverse origin/master..HEAD)
steplog=$ROOT/build/logs/series-steps.log
: >"$steplog"
t0=$SECONDS
for arch in um x86_64; do
	ref=$ROOT/build/$([ $arch = um ] && echo uml || echo x86_64)
	[ -f "$ref/.config" ] || fail "steps: no $ref/.config (run make check's build stages first)"
done
i=0
for c in "${commits[@]}"; do
	i=$((i + 1))
	git_ -C "$OUT/am" checkout -q "$c" || fail "steps: cannot check out patch $i"
	subj=$(git -C "$OUT/am" log -1 --format=%s "$c")
	for arch in um x86_64; do
		ref=$ROOT/build/$([ $arch = um ] && echo uml || echo x86_64)
		bdir=$OUT/$([ $arch = um ] && echo uml || echo x86_64)
		mkdir -p "$bdir"
		cp "$ref/.config" "$bdir/.config"
		make -s -C "$OUT/am" O="$bdir" ARCH=$arch olddefconfig >>"$steplog" 2>&1 ||
			fail "patch $i ($subj): make olddefconfig failed for $arch"
		objs=()
		while read -r f; do
			o=${f%.c}.o
			# virt/kvm is built from arch/x86/kvm (Makefile.kvm).
			[[ $f == virt/kvm/* ]] && o=arch/x86/kvm/../../../$o
			[ -f "$ref/$o" ] && enabled "$o" "$bdir" && objs+=("$o")
		done < <(git -C "$OUT/am" diff --name-only --diff-filter=AM origin/master "$c" -- '*.c')
		[ ${#objs[@]} = 0 ] && continue
		{
			echo "== patch $i ($arch): $subj"
			echo "   ${objs[*]}"
		} >>"$steplog"
		make -s -C "$OUT/am" O="$bdir" ARCH=$arch --jobs="${PHYR_JOBS:-2}" \
			"${objs[@]}" >>"$steplog" 2>&1 ||
			{ git_ -C "$OUT/am" checkout -q master
			  fail "patch $i ($subj) does not build for $arch (build/logs/series-steps.log)"; }
	done
done
git_ -C "$OUT/am" checkout -q master
echo "$sum" >"$OUT/steps.ok"
echo "PASS series: every patch builds: $i patches, UML and x86_64, the changed and new C files at each step ($(( SECONDS - t0 ))s)"
