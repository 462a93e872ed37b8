#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# Boot a Debian kernel under QEMU, run one command as root, power off.
#
#   run.sh [-p [SUITE:]PACKAGE | -k KVER] [-o DIR] [-t SECONDS] [-a auto|kvm|tcg] -- CMD [ARG]...
#
#   -p PACKAGE  kernel image or meta-package (default linux-image-amd64), or
#               SUITE:PACKAGE from another Debian release
#               (bullseye:linux-image-amd64; see fetch-kernel.sh)
#   -k KVER     a kernel release already unpacked by fetch-kernel.sh
#   -o DIR      job folder, /job in the guest: keeps console.log, rc and any
#               file CMD writes there (default: a new folder in the cache)
#   -t SECONDS  limit for the whole boot-run-poweroff cycle (default 600)
#   -a ACCEL    auto picks kvm only if it can run a stock kernel, else tcg
#
# Environment: KLEAK_VM_CACHE (default /var/tmp/kleak-vm), KLEAK_VM_ACCEL,
# KLEAK_VM_MEM (MiB, 2048), KLEAK_VM_CPUS (2), KLEAK_VM_CPU (TCG model, max),
# KLEAK_VM_APPEND (extra kernel arguments, e.g. loglevel=7).
#
# The guest sees the host's / read-only with a tmpfs on top (tools/vm/init.sh)
# and starts CMD in the caller's working directory. The console is streamed
# to stdout and saved to DIR/console.log. Exit status: CMD's own; 124 when
# the VM timed out or stopped before CMD finished.
set -eu

CACHE=${KLEAK_VM_CACHE:-/var/tmp/kleak-vm}
HERE=$(cd "$(dirname "$0")" && pwd)
MEM_MB=${KLEAK_VM_MEM:-2048}
CPUS=${KLEAK_VM_CPUS:-2}

die() { echo "vm-run: $*" >&2; exit 2; }
usage() { sed -n '3,/^set -eu/{s/^#$//p; s/^# //p}' "$0" >&2; exit 2; }

pkg=linux-image-amd64
kver=
out=
limit=600
accel=${KLEAK_VM_ACCEL:-auto}
while getopts p:k:o:t:a:h opt; do
	case $opt in
	p) pkg=$OPTARG ;;
	k) kver=$OPTARG ;;
	o) out=$OPTARG ;;
	t) limit=$OPTARG ;;
	a) accel=$OPTARG ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -gt 0 ] || usage
case $limit in
'' | *[!0-9]*) die "invalid -t '$limit': not a number of seconds" ;;
esac

# /dev/kvm is not enough: a PVM host (kvm_pvm) offers a writable /dev/kvm
# without vmx/svm and then fails on stock kernels (MSR 0x10a, cmpxchg16b and
# xrstor emulation errors). Real VT-x/AMD-V shows the cpuinfo flag.
has_kvm() {
	[ -w /dev/kvm ] && grep -qw -e vmx -e svm /proc/cpuinfo
}
if [ "$accel" = auto ]; then
	if has_kvm; then accel=kvm; else accel=tcg; fi
fi
case $accel in
kvm) accel_args=(-accel kvm -cpu host) ;;
# One TCG thread for all vCPUs: with thread=multi a 6.12 guest died of
# "Oops: int3" in kmem_cache_free while a tracepoint was being patched, a
# vCPU running a stale translation of the int3 text_poke had already removed.
tcg) accel_args=(-accel "tcg,thread=${KLEAK_VM_TCG_THREAD:-single}" -cpu "${KLEAK_VM_CPU:-max}") ;;
*) die "invalid -a '$accel': expected auto, kvm or tcg" ;;
esac

[ -n "$kver" ] || kver=$("$HERE/fetch-kernel.sh" "$pkg")
kdir=$CACHE/k/$kver
[ -e "$kdir/.complete" ] || die "kernel $kver is not unpacked in $CACHE/k"
kernel=$kdir/boot/vmlinux-$kver
[ -s "$kernel" ] || kernel=$kdir/boot/vmlinuz-$kver
initrd=$CACHE/initramfs-$kver.cpio.gz
if [ ! -s "$initrd" ] || [ "$HERE/init.sh" -nt "$initrd" ] ||
   [ "$HERE/mkinitramfs.sh" -nt "$initrd" ]; then
	timeout 120 "$HERE/mkinitramfs.sh" "$kver" > /dev/null
fi

if [ -z "$out" ]; then
	mkdir -p "$CACHE/jobs"
	out=$(mktemp -d "$CACHE/jobs/$kver.XXXXXX")
fi
mkdir -p "$out"
out=$(cd "$out" && pwd)
rm -f "$out/rc"
{
	echo 'export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
	printf 'export HOME=/root LANG=C.UTF-8 KLEAK_VM_KVER=%q KLEAK_VM_OUT=/job\n' "$kver"
	printf 'cd %q || exit 125\n' "$PWD"
	printf 'exec'
	printf ' %q' "$@"
	echo
} > "$out/cmd.sh"

share() { # TAG PATH [ro]
	local ro=

	[ "${3:-}" != ro ] || ro=,readonly=on
	echo "-fsdev local,id=$1,path=$2,security_model=none,multidevs=remap$ro"
	echo "-device virtio-9p-pci,fsdev=$1,mount_tag=$1"
}

echo "vm-run: $kver, $accel, $CPUS CPUs, $MEM_MB MiB, limit $limit s, job folder $out" |
	tee "$out/console.log"
# No NIC (-nodefaults, no -nic): nothing the tests do can leave the VM.
# no_timer_check: under TCG on a busy host the kernel's boot-time check of
# the IO-APIC timer can miss its ticks and panic ("IO-APIC + timer doesn't
# work!", seen with three guests on two host CPUs).
set +e
# shellcheck disable=SC2046
timeout -k 5 "$limit" qemu-system-x86_64 "${accel_args[@]}" -m "$MEM_MB" -smp "$CPUS" \
	-nodefaults -no-reboot -display none -serial stdio \
	-kernel "$kernel" -initrd "$initrd" \
	-append "console=ttyS0 quiet loglevel=3 panic=-1 mitigations=off no_timer_check rdinit=/init ${KLEAK_VM_APPEND:-}" \
	$(share hostroot / ro) $(share kmods "$kdir/lib/modules" ro) $(share job "$out") \
	< /dev/null 2>&1 | sed -u 's/\r$//' | tee -a "$out/console.log"
qemu_status=${PIPESTATUS[0]}
set -e

if [ -s "$out/rc" ]; then
	exit "$(cat "$out/rc")"
fi
if [ "$qemu_status" = 124 ]; then
	echo "vm-run: $kver ($accel) timed out after $limit s; log: $out/console.log" >&2
else
	echo "vm-run: $kver ($accel) stopped without a result (qemu status $qemu_status); log: $out/console.log" >&2
fi
exit 124
