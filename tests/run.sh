#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# The whole test suite: unit tests, CLI tests, and the BPF tests that load
# kleak on the running kernel (root only; skipped with the reason otherwise).
# The BPF suites (bpf, workflow, ustack, metrics, classes) run again under
# each other program set this kernel supports that can follow a command
# (raw_tp, compat), forced with KLEAK_PROGRAMS, so that every set is tested.
# --kernel (make vmtest's guests, whose kernel is what differs): only the
# suites whose outcome depends on the kernel, under the set it gets, less
# their tests of kleak's userspace alone; the others (export's consumers,
# metrics, the man page, the sanitizer and fuzz runs) and the other sets ran
# on the host.
# Every suite prints PASS/FAIL/SKIP lines; this adds them up and ends with
# "N passed, N failed, N skipped". Usage: tests/run.sh [--kernel] [NAME_SUBSTRING]
set -u
cd "$(dirname "$0")/.." || exit 1
suites=(tests/sh/*.sh)
kernel_only=
if [ "${1:-}" = --kernel ]; then
	kernel_only=1
	# the suites' tests of kleak's userspace alone skip themselves too
	export KLEAK_TESTS_KERNEL_ONLY=1
	suites=(tests/sh/bpf.sh tests/sh/classes.sh tests/sh/cli.sh tests/sh/faults.sh
		tests/sh/ustack.sh tests/sh/workflow.sh)
	shift
fi
filter=${1:-}
log=$(mktemp /tmp/kleak-tests.XXXXXX)
trap 'rm -f "$log"' EXIT

echo "kernel $(uname -r), $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
.output/unit-tests $filter | tee -a "$log"
for suite in "${suites[@]}"; do
	bash "$suite" "$filter" 2>&1 | tee -a "$log"
done
if [ "$(id -u)" = 0 ] && [ -z "${KLEAK_PROGRAMS:-}" ] && [ -z "$kernel_only" ]; then
	./kleak features --format json > "$log.features" 2>/dev/null
	for set in $(jq -r '.set as $d | .sets[] | select(.supported and .name != $d and
			(.name == "raw_tp" or .name == "compat")) | .name' "$log.features"); do
		for suite in tests/sh/bpf.sh tests/sh/workflow.sh tests/sh/ustack.sh \
			     tests/sh/metrics.sh tests/sh/classes.sh; do
			KLEAK_PROGRAMS=$set bash "$suite" "$filter" 2>&1 | tee -a "$log"
		done
	done
	rm -f "$log.features"
fi

passed=$(grep -c '^PASS ' "$log")
failed=$(grep -c '^FAIL ' "$log")
skipped=$(grep -c '^SKIP ' "$log")
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
