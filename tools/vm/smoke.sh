#!/bin/sh
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# Quick check that a kernel offers what kleak needs, for a new kernel or a
# new rig before running the real suite:
#
#   make vmtest KLEAK_VM_SUITE=tools/vm/smoke.sh
#
# Run as root from the repository root. Prints PASS/FAIL/SKIP lines, the
# kmem tracepoint layouts (they differ between kernels: see
# bpf/core_fixes.bpf.h) and "N passed, N failed, N skipped".
set -u

pass=0
fail=0
skip=0
tracing=/sys/kernel/tracing

check() { # NAME CMD...
	name=$1
	shift
	if "$@" > /dev/null 2>&1; then
		echo "PASS $name"
		pass=$((pass + 1))
	else
		echo "FAIL $name"
		fail=$((fail + 1))
	fi
}

echo "kernel $(uname -r)"
check btf test -r /sys/kernel/btf/vmlinux
check bpf-syscall bpftool prog list
for tp in kmalloc kfree kmem_cache_alloc kmem_cache_free; do
	check "tracepoint-$tp" test -r "$tracing/events/kmem/$tp/format"
	# "field:unsigned long call_site; offset:8; size:8; ..." -> "call_site@8"
	sed -n 's/^[[:space:]]*field:.* \**\([a-z_]*\)\(\[[0-9]*\]\)\{0,1\};[[:space:]]*offset:\([0-9]*\);.*/\1@\3/p' \
		"$tracing/events/kmem/$tp/format" 2>/dev/null | grep -v '^common_' |
		tr '\n' ' ' | sed "s/^/  layout $tp: /; s/ \$/\n/"
done
if [ -x ./kleak ]; then
	check kleak-duration timeout 60 ./kleak --duration 3
else
	echo "SKIP kleak-duration (./kleak not built)"
	skip=$((skip + 1))
fi
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" = 0 ]
