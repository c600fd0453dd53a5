#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Install the Debian packages the build and the tests need, if missing, and
# fetch the pinned base kernel source.
#
# The tools come from the host's own apt sources (Debian 12). The base,
# linux-source-7.3 7.3.4-1~bpo13+1, is in Debian's trixie-backports suite,
# which a Debian 12 host does not list: it is fetched with `apt-get
# download` against a sources list of the project's own in build/apt/
# (its own lists and cache too) and unpacked with `dpkg -x` into
# build/apt/root/. Nothing of the host's apt configuration changes and
# nothing is installed from that suite. Prints what it installs and what it
# fetches; a no-op the second time.

set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
BASE_PKG=linux-source-7.3
BASE_VER=7.3.4-1~bpo13+1
BASE_SUITE=trixie-backports
APT=$ROOT/build/apt
BASE_TARBALL=$APT/root/usr/src/linux-source-7.3.tar.xz

# busybox-static and libc6-dev (static libc): the initramfs of rig-user.sh.
# coccinelle: cocci-check.sh. gcc-aarch64-linux-gnu, gcc-riscv64-linux-gnu:
# cross.sh (the arm64 and riscv64 builds). libcap-dev and uuid-dev (static
# libcap and libuuid): upstream's iommufd selftests and vfio's libvfio, in
# that initramfs.
PKGS=(quilt sparse qemu-system-x86 busybox-static bc flex bison libelf-dev
      libssl-dev cpio xz-utils kmod python3 python3-sphinx gcc libc6-dev make
      perl git coccinelle binutils debian-archive-keyring
      gcc-aarch64-linux-gnu gcc-riscv64-linux-gnu libcap-dev uuid-dev)

missing=()
for p in "${PKGS[@]}"; do
	[[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" == *'ok installed' ]] ||
		missing+=("$p")
done

if [ ${#missing[@]} -ne 0 ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "deps: missing packages: ${missing[*]}; run as root or install them" >&2
		exit 1
	fi
	echo "deps: installing: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
	echo "deps: installed: ${missing[*]}"
fi

# apt-get with the project's own sources list, lists and cache under $1,
# listing suite $2 (and its sources), so that the host's configuration and
# what it installs stay as they are.
apt_own() {
	local dir=$1 suite=$2
	mkdir -p "$dir"/{lists/partial,cache/archives/partial,etc/sources.list.d,etc/preferences.d}
	printf 'deb http://deb.debian.org/debian %s main\ndeb-src http://deb.debian.org/debian %s main\n' \
		"$suite" "$suite" >"$dir/etc/sources.list"
	apt_opts=(-o "Dir::Etc::SourceList=$dir/etc/sources.list"
		  -o "Dir::Etc::SourceParts=$dir/etc/sources.list.d"
		  -o "Dir::Etc::Preferences=$dir/etc/preferences"
		  -o "Dir::Etc::PreferencesParts=$dir/etc/preferences.d"
		  -o "Dir::State::Lists=$dir/lists"
		  -o "Dir::Cache=$dir/cache"
		  -o "APT::Sandbox::User=root")
}

# sparse: 7.3's scripts/checker-valid.sh wants __typeof_unqual__, which
# Debian 12's sparse 0.6.4 lacks. Debian's sid has 0.6.5~rc1; its source
# package is fetched the same way and only the sparse binary is built
# (plain C, a few seconds) into build/tools/.
SPARSE_VER=0.6.5~rc1-2
SPARSE=$ROOT/build/tools/sparse
if ! [ -x "$SPARSE" ] ||
   [ "$(cat "$SPARSE.version" 2>/dev/null)" != "$SPARSE_VER" ]; then
	apt_own "$ROOT/build/apt-sid" sid
	echo "deps: building sparse $SPARSE_VER from Debian's sid source package into build/tools/"
	apt-get "${apt_opts[@]}" update -qq
	# Captured first: with pipefail, grep -q closing the pipe early would
	# fail the pipeline with apt-cache's SIGPIPE even on a match.
	srcs=$(apt-cache "${apt_opts[@]}" showsrc sparse)
	if ! grep -qx "Version: $SPARSE_VER" <<<"$srcs"; then
		echo "deps: sparse $SPARSE_VER is no longer in Debian's sid source archive;" >&2
		echo "deps: it lists: $(sed -n 's/^Version: //p' <<<"$srcs" | xargs)" >&2
		echo "deps: update SPARSE_VER here to one that checker-valid.sh accepts." >&2
		exit 1
	fi
	src=$ROOT/build/tools/sparse-src
	rm -rf "$src" && mkdir -p "$src" "$(dirname "$SPARSE")"
	(cd "$src" && apt-get "${apt_opts[@]}" -q source --download-only "sparse=$SPARSE_VER" >/dev/null &&
	 tar xzf sparse_*.orig.tar.gz && cd sparse-*/ &&
	 make -s -j2 sparse HAVE_SQLITE=no HAVE_LIBXML=no HAVE_GTK=no HAVE_LLVM=no >/dev/null 2>&1 &&
	 cp sparse "$SPARSE") || { echo "deps: building sparse failed" >&2; exit 1; }
	echo "$SPARSE_VER" >"$SPARSE.version"
	rm -rf "$src"
fi

[ -f "$BASE_TARBALL" ] && [ "$(cat "$APT/root/.version" 2>/dev/null)" = "$BASE_VER" ] &&
	exit 0

apt_own "$APT" "$BASE_SUITE"
echo "deps: fetching $BASE_PKG $BASE_VER from Debian's $BASE_SUITE (own sources list in build/apt/)"
apt-get "${apt_opts[@]}" update -qq
madison=$(apt-cache "${apt_opts[@]}" madison "$BASE_PKG")
if ! grep -qF "| $BASE_VER |" <<<"$madison"; then
	echo "deps: $BASE_PKG $BASE_VER is no longer in Debian's $BASE_SUITE archive;" >&2
	echo "deps: it lists: $(awk -F'|' '{print $2}' <<<"$madison" | sort -u | xargs)" >&2
	echo "deps: the base is pinned (ARCHITECTURE.md 2): update BASE_VER here and" >&2
	echo "deps: rebase patches/ on a version the archive has." >&2
	exit 1
fi
rm -rf "$APT/dl" "$APT/root"
mkdir -p "$APT/dl"
(cd "$APT/dl" && apt-get "${apt_opts[@]}" -q download "$BASE_PKG=$BASE_VER" >/dev/null)
echo "deps: unpacking $(basename "$APT"/dl/*.deb) with dpkg -x into build/apt/root/"
dpkg -x "$APT"/dl/*.deb "$APT/root"
rm -rf "$APT/dl"
[ -f "$BASE_TARBALL" ] || { echo "deps: no $BASE_TARBALL in the package" >&2; exit 1; }
echo "$BASE_VER" >"$APT/root/.version"
