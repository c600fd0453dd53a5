#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Prepare build/linux: extract the pinned base once, apply patches/series
# with quilt, and symlink the project's new files at their kernel paths.
# Re-running after an edit only re-applies the series if it changed and
# refreshes the links.
#
# tree.sh --pristine: only extract the pinned base, unpatched, into
# build/base (once), the tree rig-user.sh's PHYR_RIG_PRISTINE=1 boots to
# run upstream's selftests on 7.3.4 as Debian ships it.

set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
TREE=$ROOT/build/linux
TARBALL=$ROOT/build/apt/root/usr/src/linux-source-7.3.tar.xz
BASE_VER=$(cat "$ROOT/build/apt/root/.version" 2>/dev/null || true)

"$ROOT/tools/testing/phyr/deps.sh"

PRISTINE=
if [ "${1:-}" = --pristine ]; then
	PRISTINE=1
	TREE=$ROOT/build/base
fi

if [ "$(cat "$TREE/.phyr-base" 2>/dev/null)" != "$BASE_VER" ]; then
	echo "tree: extracting linux-source-7.3 $BASE_VER into build/${TREE##*/} (about a minute)"
	rm -rf "$TREE" "$TREE.tmp"
	mkdir -p "$TREE.tmp"
	tar -C "$TREE.tmp" --strip-components=1 -xaf "$TARBALL"
	echo "$BASE_VER" >"$TREE.tmp/.phyr-base"
	mv "$TREE.tmp" "$TREE"
fi

[ -z "$PRISTINE" ] || exit 0

cd "$TREE"
export QUILT_PATCHES=patches QUILT_PC=.pc
[ -L patches ] || ln -sfn "$ROOT/patches" patches

# Re-apply the series only when it changed since the last application,
# and then only from the first patch that changed: popping and pushing a
# patch gives its files a new mtime, and re-pushing the whole series would
# rebuild most of the kernel (dma-mapping.h is in it). .phyr-series.list
# holds "name sha1" of each patch as applied.
sum=$(cat "$ROOT/patches/series" "$ROOT"/patches/*.patch 2>/dev/null | sha1sum)
if [ "$(cat .phyr-series 2>/dev/null)" != "$sum" ]; then
	want=$(grep -v '^#' patches/series 2>/dev/null | while read -r p _; do
		if [ -n "$p" ]; then
			echo "$p $(sha1sum <"patches/$p" | cut -d' ' -f1)"
		fi
	done)
	# Every file a patch touches, with its content hash and mtime before
	# re-applying: a file that comes out with the same bytes gets its old
	# mtime back, so that make rebuilds only what really changed (a
	# patch's message, or a hunk of another file, rebuilds nothing here).
	stamps=$(mktemp)
	for p in $(grep -v '^#' patches/series 2>/dev/null) \
		 $(cat .pc/applied-patches 2>/dev/null); do
		if [ -f "patches/$p" ]; then
			sed -n "s|^+++ b/\([^\t ]*\).*|\1|p" "patches/$p"
		fi
		# Not there on a fresh tree: an if, so that the loop (and,
		# with pipefail, the pipeline) does not fail on it.
		if [ -d ".pc/$p" ]; then
			(cd ".pc/$p" && find . -type f ! -name '.*' | cut -c3-)
		fi
	done | sort -u | while read -r f; do
		if [ -f "$f" ]; then
			echo "$(sha1sum <"$f" | cut -d' ' -f1) $(stat -c %Y "$f") $f"
		fi
	done >"$stamps"
	keep=
	if [ -d .pc ] && quilt applied >/dev/null 2>&1 && [ -f .phyr-series.list ]; then
		# The last patch of the longest common prefix of both lists.
		keep=$(paste -d'|' <(echo "$want") .phyr-series.list |
		       awk -F'|' '$1 != $2 {exit} {split($1, a, " "); last = a[1]} END {print last}')
	fi
	if [ -d .pc ] && quilt applied >/dev/null 2>&1; then
		if [ -n "$keep" ]; then
			quilt pop -f -q "$keep" >/dev/null
		else
			quilt pop -a -f -q >/dev/null
		fi
	elif [ -s .pc/applied-patches ]; then
		# The series no longer lists what is applied (a patch was
		# added or removed before it): put back the originals quilt
		# saved, last patch first. An empty saved file is one the
		# patch created.
		tac .pc/applied-patches | while read -r p; do
			(cd ".pc/$p" && find . -type f ! -name '.*') |
			while read -r f; do
				if [ -s ".pc/$p/$f" ]; then
					cp -p ".pc/$p/$f" "$f"
				else
					rm -f "$f"
				fi
			done
		done
		rm -rf .pc
	fi
	if [ -s patches/series ]; then
		echo "tree: applying patches/series${keep:+ after $keep}"
		if [ -n "$(quilt unapplied 2>/dev/null)" ]; then
			quilt push -a -q >/dev/null || { quilt push -a; exit 1; }
		fi
	fi
	while read -r hash mtime f; do
		if [ -f "$f" ] && [ "$(sha1sum <"$f" | cut -d' ' -f1)" = "$hash" ]; then
			touch -m -d "@$mtime" "$f"
		fi
	done <"$stamps"
	rm -f "$stamps"
	echo "$want" > .phyr-series.list
	echo "$sum" > .phyr-series
fi

# Link the project's new files in, and drop links whose target is gone.
find . -path ./patches -prune -o -type l -lname "$ROOT/*" -print |
while read -r l; do [ -e "$l" ] || rm -f "$l"; done
cd "$ROOT"
for dir in include lib drivers virt Documentation scripts tools/testing/selftests; do
	[ -d "$dir" ] || continue
	find "$dir" -type f
done | while read -r f; do
	dst=$TREE/$f
	[ "$(readlink "$dst" 2>/dev/null)" = "$ROOT/$f" ] && continue
	if [ -e "$dst" ] && [ ! -L "$dst" ]; then
		echo "tree: $f exists in the base; change it with a patch" >&2
		exit 1
	fi
	mkdir -p "$(dirname "$dst")"
	ln -sfn "$ROOT/$f" "$dst"
done
