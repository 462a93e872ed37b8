#!/bin/busybox sh
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# PID 1 of the test VM (installed as /init by mkinitramfs.sh).
#
# The root is an overlay: the host's / over 9p (read-only) below a tmpfs, so
# every host binary runs at its host path and guest writes vanish at power-off.
# The guest kernel's modules come from a second 9p share on /lib/modules; the
# job folder (tools/vm/run.sh's -o DIR) is a read-write share on /job, the only
# place whose writes survive. Runs /job/cmd.sh, stores its status in /job/rc
# and powers off. Any mount failure powers off without /job/rc, which run.sh
# reports as a failed boot.
/bin/busybox --install -s /bin
export PATH=/bin

log() { echo "kleak-vm: $*" > /dev/console; }
die() { log "$*"; poweroff -f; sleep 10; }

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in $(cat /modules.list); do
	insmod "/modules/$m" || die "insmod $m failed"
done

# msize: 9p's default (8 KiB) makes paging in binaries several times slower
p9=trans=virtio,version=9p2000.L,msize=512000
r=/newroot
mkdir -p /lower /kmods /rw $r
mount -t 9p -o $p9,ro hostroot /lower || die "cannot mount the host root over 9p"
mount -t 9p -o $p9,ro kmods /kmods || die "cannot mount the kernel modules over 9p"
mount -t tmpfs -o size=75% tmpfs /rw
mkdir -p /rw/upper /rw/work
mount -t overlay overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work $r ||
	die "cannot mount the overlay root"

mkdir -p $r/lib/modules $r/job
mount --bind /kmods $r/lib/modules
mount -t 9p -o $p9 job $r/job || die "cannot mount the job folder over 9p"
mount -t proc proc $r/proc
mount -t sysfs sysfs $r/sys
mount -t devtmpfs devtmpfs $r/dev
mkdir -p $r/dev/pts $r/dev/shm
mount -t devpts devpts $r/dev/pts
mount -t tmpfs tmpfs $r/dev/shm
mount -t tmpfs tmpfs $r/run
# no tmpfs over /tmp: a checkout there (a CI clone) must stay visible, and
# the overlay already puts every write in RAM
mount -t tracefs tracefs $r/sys/kernel/tracing
mount -t debugfs debugfs $r/sys/kernel/debug
mount -t bpf bpf $r/sys/fs/bpf
mount -t cgroup2 cgroup2 $r/sys/fs/cgroup
echo /modprobe > /proc/sys/kernel/modprobe
ip link set lo up
hostname kleak-vm

log "kernel $(uname -r) up after $(cut -d' ' -f1 /proc/uptime) s"
chroot $r /bin/sh /job/cmd.sh > /dev/console 2>&1 < /dev/null
rc=$?
echo $rc > $r/job/rc
log "exit status $rc after $(cut -d' ' -f1 /proc/uptime) s"
sync
umount $r/job
poweroff -f
sleep 10
