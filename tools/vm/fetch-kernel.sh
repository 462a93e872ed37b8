#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# Fetch Debian kernel packages without installing them, for tools/vm/run.sh.
#
#   fetch-kernel.sh PACKAGE...
#
# PACKAGE is an image package or a meta-package (linux-image-amd64,
# linux-image-6.12-amd64). Meta-packages are resolved on every call, so a
# Debian ABI bump (6.1.0-56 -> 6.1.0-57) is picked up without editing
# anything. Each kernel is unpacked under $KLEAK_VM_CACHE/k/KVER with a
# modules.dep (dpkg -x runs no postinst) and an uncompressed ELF vmlinux next
# to the bzImage. Prints one kernel release per PACKAGE on stdout, in order;
# everything else goes to stderr.
set -eu

CACHE=${KLEAK_VM_CACHE:-/var/tmp/kleak-vm}

die() { echo "fetch-kernel: $*" >&2; exit 1; }

# "PACKAGE VERSION NEXT" for each candidate, NEXT being the first
# linux-image-N... it depends on ("-" for an image package). One apt-cache
# call per round: each costs about a second on a Debian image whose apt is
# configured without a package cache.
apt_show() { # PACKAGE...
	timeout 60 apt-cache show --no-all-versions "$@" 2>/dev/null | awk '
		function emit() { if (p != "") print p, v, (d == "" ? "-" : d); p = v = d = "" }
		/^Package: / { emit(); p = $2 }
		/^Version: / { v = $2 }
		/^Depends: / {
			n = split(substr($0, 10), dep, /[,|]/)
			for (i = 1; i <= n && d == ""; i++)
				if (match(dep[i], /linux-image-[0-9][^ ]*/))
					d = substr(dep[i], RSTART, RLENGTH)
		}
		END { emit() }'
}

# Sets img[i] and ver[i] for each argument: meta-packages are followed down
# to the versioned image package (linux-image-amd64 -> linux-image-6.1.0-56-amd64).
resolve() { # PACKAGE...
	local names=("$@") round i line p v d

	for round in 1 2 3 4; do
		local todo=()
		for i in "${!names[@]}"; do
			[ -n "${img[i]:-}" ] || todo+=("${names[i]}")
		done
		[ ${#todo[@]} -gt 0 ] || return 0
		declare -A info=()
		while read -r p v d; do
			info[$p]="$v $d"
		done < <(apt_show "${todo[@]}")
		for i in "${!names[@]}"; do
			[ -z "${img[i]:-}" ] || continue
			line=${info[${names[i]}]:-}
			[ -n "$line" ] || die "${names[i]}: not in the apt lists (apt-get update?)"
			read -r v d <<< "$line"
			if [ "$d" = - ]; then
				img[i]=${names[i]}
				ver[i]=$v
			else
				names[i]=$d
			fi
		done
		unset info
	done
	die "$*: meta-package chain too deep"
}

# The uncompressed ELF lets QEMU enter through PVH (Debian has CONFIG_PVH=y)
# and skip the in-guest decompressor, which costs ~3.5 s per boot under TCG.
# Same method as the kernel's scripts/extract-vmlinux: try every offset where
# a compressor's magic appears until one decompresses to an ELF image.
extract_elf() { # BZIMAGE OUT
	local spec tool magic off

	for spec in 'xz:\xfd7zXZ\x00' 'zstd:\x28\xb5\x2f\xfd' 'gzip:\x1f\x8b\x08'; do
		tool=${spec%%:*}
		magic=${spec#*:}
		for off in $(LC_ALL=C grep -obUaP "$magic" "$1" | cut -d: -f1); do
			# trailing bytes after the payload make the tool fail: expected
			tail -c +$((off + 1)) "$1" | timeout 60 "$tool" -dc > "$2.tmp" 2>/dev/null || :
			if [ "$(head -c 4 "$2.tmp" | od -An -tx1 | tr -d ' ')" = 7f454c46 ]; then
				mv "$2.tmp" "$2"
				return 0
			fi
		done
	done
	rm -f "$2.tmp"
	return 1
}

unpack() { # DEB -> prints KVER
	local deb=$1 kver kdir

	if [ -s "$deb.kver" ]; then
		kver=$(cat "$deb.kver")
	else
		kver=$(timeout 120 dpkg-deb -c "$deb" |
			sed -n 's#.*\./boot/vmlinuz-\(.*\)$#\1#p' | head -1)
		[ -n "$kver" ] || die "$deb: no /boot/vmlinuz-* inside"
		echo "$kver" > "$deb.kver"
	fi
	kdir=$CACHE/k/$kver
	if [ ! -e "$kdir/.complete" ]; then
		echo "fetch-kernel: unpacking $kver" >&2
		rm -rf "$kdir"
		mkdir -p "$kdir"
		timeout 300 dpkg-deb -x "$deb" "$kdir" || die "$deb: dpkg-deb -x failed"
		# merged-/usr packages put modules in usr/lib
		[ -d "$kdir/lib/modules" ] || ln -s usr/lib "$kdir/lib"
		timeout 120 depmod -b "$kdir" "$kver" || die "$kver: depmod failed"
		extract_elf "$kdir/boot/vmlinuz-$kver" "$kdir/boot/vmlinux-$kver" ||
			echo "fetch-kernel: $kver: no ELF vmlinux found, will boot the bzImage" >&2
		touch "$kdir/.complete"
	fi
	echo "$kver"
}

[ $# -gt 0 ] || die "usage: fetch-kernel.sh PACKAGE..."
mkdir -p "$CACHE/deb" "$CACHE/k"

img=()
ver=()
resolve "$@"
debs=()
missing=()
for i in "${!img[@]}"; do
	# Debian's image packages carry no epoch (apt-get download writes ":" as %3a)
	deb=$CACHE/deb/${img[i]}_${ver[i]//:/%3a}_amd64.deb
	debs+=("$deb")
	[ -s "$deb" ] || missing+=("${img[i]}")
done

# One apt-get call for all missing kernels: parallel downloads, one lock.
if [ ${#missing[@]} -gt 0 ]; then
	echo "fetch-kernel: downloading ${missing[*]}" >&2
	(cd "$CACHE/deb" && timeout 600 apt-get -o APT::Sandbox::User=root download -q "${missing[@]}" >&2) ||
		die "apt-get download ${missing[*]} failed"
fi

# dpkg-deb -x is bound by one xz stream per package: unpack them in parallel.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pids=()
for i in "${!debs[@]}"; do
	[ -s "${debs[i]}" ] || die "${debs[i]}: missing after download"
	unpack "${debs[i]}" > "$tmp/$i" &
	pids+=($!)
done
for i in "${!pids[@]}"; do
	wait "${pids[i]}" || exit 1
	cat "$tmp/$i"
done
