#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# Build the initramfs for a kernel unpacked by fetch-kernel.sh.
#
#   mkinitramfs.sh KVER        -> prints $KLEAK_VM_CACHE/initramfs-KVER.cpio.gz
#
# Holds only what is needed before the host's root is mounted: busybox-static,
# tools/vm/init.sh as /init, and the virtio-pci, 9p and overlay modules with
# their dependencies. Every other module loads later from the 9p share.
set -eu

CACHE=${KLEAK_VM_CACHE:-/var/tmp/kleak-vm}
HERE=$(cd "$(dirname "$0")" && pwd)
BUSYBOX=/bin/busybox
BOOT_MODULES="virtio_pci 9pnet_virtio 9p overlay"

die() { echo "mkinitramfs: $*" >&2; exit 1; }

[ $# -eq 1 ] || die "usage: mkinitramfs.sh KVER"
kver=$1
kdir=$CACHE/k/$kver
[ -e "$kdir/.complete" ] || die "$kver: not unpacked (run fetch-kernel.sh)"
# /bin/busybox is the dynamic build unless busybox-static is installed
"$BUSYBOX" --list 2>/dev/null | grep -qx insmod && ! ldd "$BUSYBOX" >/dev/null 2>&1 ||
	die "$BUSYBOX is not a static busybox: install busybox-static"

stage=$(mktemp -d "$CACHE/initramfs.XXXXXX")
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{bin,modules,proc,sys,dev}
cp "$BUSYBOX" "$stage/bin/busybox"
cp "$HERE/init.sh" "$stage/init"
chmod 755 "$stage/init"

# --show-depends lists dependencies first, in load order; "builtin" lines
# need nothing. busybox insmod cannot read compressed modules (6.12 ships
# .ko.xz), so they are stored decompressed.
for mod in $BOOT_MODULES; do
	modprobe -d "$kdir" -S "$kver" --show-depends "$mod" ||
		die "$kver: no module $mod"
done | while read -r verb path _; do
	[ "$verb" = insmod ] || continue
	name=$(basename "$path")
	name=${name%.xz}
	name=${name%.zst}
	grep -qsx "$name" "$stage/modules.list" && continue
	case $path in
	*.xz) xz -dc "$path" > "$stage/modules/$name" ;;
	*.zst) zstd -qdc "$path" > "$stage/modules/$name" ;;
	*) cp "$path" "$stage/modules/$name" ;;
	esac
	echo "$name" >> "$stage/modules.list"
done
touch "$stage/modules.list"

# The kernel's module autoloader (e.g. "rdma link add" -> rdma_rxe) runs
# /proc/sys/kernel/modprobe in PID 1's root, which is this initramfs: hand the
# request to the host's kmod inside the real root.
printf '#!/bin/busybox sh\nexec /bin/busybox chroot /newroot /sbin/modprobe "$@"\n' \
	> "$stage/modprobe"
chmod 755 "$stage/modprobe"

out=$CACHE/initramfs-$kver.cpio.gz
(cd "$stage" && find . | cpio -o -H newc --quiet | gzip -1) > "$out.tmp"
mv "$out.tmp" "$out"
echo "$out"
