#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Install the Debian packages the build and the tests need, if missing.
# Prints every package it installs. Needs root (apt-get) on a fresh machine.

set -euo pipefail

BASE_PKG=linux-source-6.12
BASE_VER=6.12.117-1~deb12u1

# busybox-static and libc6-dev (static libc): the initramfs of rig-user.sh.
# coccinelle: cocci-check.sh.
PKGS=(quilt sparse qemu-system-x86 busybox-static bc flex bison libelf-dev
      libssl-dev cpio xz-utils kmod python3 python3-sphinx gcc libc6-dev make
      perl git coccinelle)

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing+=("$p")
done
have_ver=$(dpkg-query -W -f='${Version}' "$BASE_PKG" 2>/dev/null || true)
[ "$have_ver" = "$BASE_VER" ] || missing+=("$BASE_PKG=$BASE_VER")

[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "deps: missing packages: ${missing[*]}; run as root or install them" >&2
	exit 1
fi
echo "deps: installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
if ! apt-cache madison "$BASE_PKG" | grep -q "| $BASE_VER |"; then
	echo "deps: $BASE_PKG $BASE_VER is no longer in the archive." >&2
	echo "deps: the base is pinned (ARCHITECTURE.md 2); update BASE_VER here and" >&2
	echo "deps: rebase patches/ on the version apt-cache madison $BASE_PKG lists." >&2
	exit 1
fi
apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
echo "deps: installed: ${missing[*]}"
