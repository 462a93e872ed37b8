#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# Fetch Debian kernel packages without installing them, for tools/vm/run.sh.
#
#   fetch-kernel.sh [SUITE:]PACKAGE...
#
# PACKAGE is an image package or a meta-package (linux-image-amd64,
# linux-image-6.12-amd64). Meta-packages are resolved on every call, so a
# Debian ABI bump (6.1.0-56 -> 6.1.0-57) is picked up without editing
# anything. Each kernel is unpacked under $KLEAK_VM_CACHE/k/KVER with a
# modules.dep (dpkg -x runs no postinst) and an uncompressed ELF vmlinux next
# to the bzImage. Prints one kernel release per PACKAGE on stdout, in order;
# everything else goes to stderr.
#
# A bare PACKAGE comes from the machine's own apt lists. SUITE:PACKAGE
# (bullseye:linux-image-amd64, Debian 11's 5.10) comes from another Debian
# release, through an apt configuration of the project's own under
# $KLEAK_VM_CACHE/apt/SUITE: SUITE and SUITE-security from the mirrors the
# machine's apt sources already use, checked against debian-archive-keyring.
# Its lists are refreshed on every call (the two InRelease files, ~100 kB,
# when nothing changed), so a security upload of SUITE's kernel is picked up
# like an ABI bump above. To look into them by hand:
#   apt-cache -c $KLEAK_VM_CACHE/apt/bullseye/apt.conf policy linux-image-amd64
set -eu

CACHE=${KLEAK_VM_CACHE:-/var/tmp/kleak-vm}
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

die() { echo "fetch-kernel: $*" >&2; exit 1; }

# Sets archive and security to the Debian mirrors the machine uses
# (security "" when it has none), from apt's own reading of its sources
# (one-line .list and deb822 .sources alike, no lists needed). The entries
# for the machine's own codename are Debian's; third-party ones (nodistro,
# cloud-sdk-bookworm) are left out that way.
host_mirrors() {
	local codename uri rel

	codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
	[ -n "$codename" ] || die "no VERSION_CODENAME in /etc/os-release: cannot tell the machine's Debian mirror"
	archive=
	security=
	while read -r uri rel; do
		case $rel in
		"$codename") archive=${archive:-$uri} ;;
		"$codename-security") security=${security:-$uri} ;;
		esac
	done < <(timeout 60 apt-get indextargets --no-release-info \
		--format '$(REPO_URI) $(RELEASE)' 'Identifier: Packages')
	[ -n "$archive" ] || die "no '$codename' entry in the machine's apt sources: cannot tell its Debian mirror"
	[ -n "$security" ] ||
		echo "fetch-kernel: no $codename-security entry in the machine's apt sources: other suites without their -security" >&2
}

# Writes $CACHE/apt/SUITE/{apt.conf,sources.list} and refreshes SUITE's
# lists. apt.conf is passed with -c, which apt reads after the machine's
# apt.conf.d: the machine's network settings (proxy, Check-Valid-Until) still
# apply, while sources, lists, cache and dpkg status are the project's. The
# status file stays empty, so the machine's installed packages and pins do
# not bend SUITE's resolution.
apt_suite() { # SUITE
	local suite=$1 dir=$CACHE/apt/$1 archive security

	host_mirrors
	[ -r "$KEYRING" ] || die "$KEYRING missing: install debian-archive-keyring"
	mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial"
	[ -e "$dir/status" ] || : > "$dir/status"
	{
		echo "deb [arch=amd64 signed-by=$KEYRING] $archive $suite main"
		# kernel point updates of an LTS release land in -security first
		[ -z "$security" ] || echo "deb [arch=amd64 signed-by=$KEYRING] $security $suite-security main"
	} > "$dir/sources.list"
	cat > "$dir/apt.conf" <<-EOF
		// written by tools/vm/fetch-kernel.sh on every run: edits are lost
		Dir::Etc::sourcelist "$dir/sources.list";
		Dir::Etc::sourceparts "-";
		Dir::Etc::preferences "/dev/null";
		Dir::Etc::preferencesparts "/dev/null";
		Dir::State "$dir";
		Dir::State::lists "lists/";
		Dir::State::status "$dir/status";
		Dir::Cache "$dir/cache";
		Dir::Cache::archives "archives/";
		Dir::Cache::pkgcache "pkgcache.bin";
		Dir::Cache::srcpkgcache "";
		APT::Architecture "amd64";
		APT::Architectures { "amd64"; };
		Acquire::Languages "none";
		// root-owned folders that _apt cannot write
		APT::Sandbox::User "root";
	EOF
	echo "fetch-kernel: apt-get update for $suite" >&2
	# flock: a concurrent run (vmtest beside scenario-rdma) waits for the lists
	if ! timeout 300 flock -w 240 "$dir/lock.fetch-kernel" \
			apt-get -c "$dir/apt.conf" update -q >&2; then
		ls "$dir"/lists/*_InRelease > /dev/null 2>&1 ||
			die "apt-get update for $suite failed and there are no earlier lists"
		echo "fetch-kernel: apt-get update for $suite failed: using the lists of an earlier run" >&2
	fi
}

# apt's -c option for SUITE, none for the machine's own lists (suite "-")
apt_c() { # SUITE -> sets c
	c=()
	[ "$1" = - ] || c=(-c "$CACHE/apt/$1/apt.conf")
}

# "PACKAGE VERSION NEXT" for each candidate in SUITE's lists, NEXT being
# the first linux-image-N... it depends on ("-" for an image package). One
# apt-cache call per suite and round: each costs about a second on a Debian
# image whose apt is configured without a package cache.
apt_show() { # SUITE PACKAGE...
	local c

	apt_c "$1"
	shift
	timeout 60 apt-cache "${c[@]}" show --no-all-versions "$@" 2>/dev/null | awk '
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

# Sets img[i] and ver[i] for each names[i]: meta-packages are followed down
# to the versioned image package (linux-image-amd64 ->
# linux-image-6.1.0-56-amd64), within suite[i].
resolve() {
	local round i line s p v d

	for round in 1 2 3 4; do
		declare -A todo=() info=()
		for i in "${!names[@]}"; do
			[ -n "${img[i]:-}" ] || todo[${suite[i]}]+=" ${names[i]}"
		done
		[ ${#todo[@]} -gt 0 ] || return 0
		for s in "${!todo[@]}"; do
			while read -r p v d; do
				info[$s:$p]="$v $d"
			done < <(apt_show "$s" ${todo[$s]})
		done
		for i in "${!names[@]}"; do
			[ -z "${img[i]:-}" ] || continue
			line=${info[${suite[i]}:${names[i]}]:-}
			if [ -z "$line" ] && [ "${suite[i]}" != - ]; then
				die "${suite[i]}:${names[i]}: not in the lists of $CACHE/apt/${suite[i]}"
			fi
			[ -n "$line" ] || die "${names[i]}: not in the apt lists (apt-get update?)"
			read -r v d <<< "$line"
			if [ "$d" = - ]; then
				img[i]=${names[i]}
				ver[i]=$v
			else
				names[i]=$d
			fi
		done
		unset todo info
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

[ $# -gt 0 ] || die "usage: fetch-kernel.sh [SUITE:]PACKAGE..."
mkdir -p "$CACHE/deb" "$CACHE/k"

suite=()
names=()
declare -A suites=()
for spec in "$@"; do
	case $spec in
	*:*) s=${spec%%:*} ;;
	*) s=- ;;
	esac
	# the suite names a folder and goes into a sources.list line
	case $s in
	'' | *[!a-z0-9-]* | -?*) die "$spec: invalid suite '$s'" ;;
	esac
	suite+=("$s")
	names+=("${spec#*:}")
	[ "$s" = - ] || suites[$s]=1
done
for s in "${!suites[@]}"; do
	apt_suite "$s"
done

img=()
ver=()
resolve "$@"
debs=()
declare -A missing=()
for i in "${!img[@]}"; do
	# Debian's image packages carry no epoch (apt-get download writes ":" as %3a)
	deb=$CACHE/deb/${img[i]}_${ver[i]//:/%3a}_amd64.deb
	debs+=("$deb")
	[ -s "$deb" ] || missing[${suite[i]}]+=" ${img[i]}"
done

# One apt-get call per suite for all its missing kernels: parallel
# downloads, one lock.
for s in "${!missing[@]}"; do
	apt_c "$s"
	echo "fetch-kernel: downloading${missing[$s]}" >&2
	# shellcheck disable=SC2086
	(cd "$CACHE/deb" && timeout 600 apt-get "${c[@]}" -o APT::Sandbox::User=root download -q ${missing[$s]} >&2) ||
		die "apt-get download${missing[$s]} failed"
done

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
