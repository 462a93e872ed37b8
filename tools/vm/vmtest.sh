#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# Run kleak's test suite on the host kernel and inside Debian kernels.
#
#   vmtest.sh [[SUITE:]PACKAGE]...
#
# Default: bullseye:linux-image-amd64 linux-image-amd64 linux-image-6.12-amd64
# (5.10, 6.1 and 6.12; see tools/vm/fetch-kernel.sh for SUITE:).
#
# Expects kleak and the test prerequisites to be built already (make vmtest
# does that). For each kernel prints the release and the suite's
# "N passed, N failed" line, then the totals; exits 1 if any run failed or
# printed no summary. Consoles and logs stay in the results folder, printed
# at the end.
#
# Guests run the suites whose outcome depends on the kernel (tests/run.sh
# --kernel, under the set each kernel gets); the host, everything.
# Environment: KLEAK_VM_SUITE (command for host and guests, default as above),
# KLEAK_VM_TIMEOUT (seconds per kernel, default 3600: 5.10 and 6.1 at once
# took 1350 and 1298 s on this 2-CPU host), KLEAK_VM_JOBS (guests run at once,
# default: all), KLEAK_VM_HOST=0 to skip
# the host kernel, KLEAK_VM_CACHE, KLEAK_VM_RESULTS.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CACHE=${KLEAK_VM_CACHE:-/var/tmp/kleak-vm}
RESULTS=${KLEAK_VM_RESULTS:-$CACHE/results/vmtest-$(date +%Y%m%d-%H%M%S)}
SUITE=${KLEAK_VM_SUITE:-tests/run.sh}
GUEST_SUITE=${KLEAK_VM_SUITE:-tests/run.sh --kernel}
LIMIT=${KLEAK_VM_TIMEOUT:-3600}

die() { echo "vmtest: $*" >&2; exit 2; }

[ $# -gt 0 ] || set -- bullseye:linux-image-amd64 linux-image-amd64 linux-image-6.12-amd64
JOBS=${KLEAK_VM_JOBS:-$#}
cd "$ROOT"
[ -x "${SUITE%% *}" ] || die "${SUITE%% *}: not found or not executable"
[ "$(id -u)" = 0 ] || die "must run as root (BPF on the host, qemu's 9p root share)"
mkdir -p "$RESULTS"

summaries=()
total_pass=0
total_fail=0

# record NAME HOW SECONDS STATUS LOG: keep the suite's closing line for NAME;
# a run that failed without counting a failure (crash, timeout, no summary)
# counts as one failed test.
record() {
	local line pass=0 fail=0

	line=$(grep -E '^([A-Za-z-]+: )?[0-9]+ passed, [0-9]+ failed' "$5" | tail -1 || :)
	if [ "$4" = 124 ]; then
		# the last summary seen may be a part's (the unit tests'): count lines
		pass=$(grep -c '^PASS ' "$5" || :)
		fail=$(grep -c '^FAIL ' "$5" || :)
		line="$pass passed, $fail failed before the limit"
	elif [ -n "$line" ]; then
		pass=$(echo "$line" | sed -E 's/^([A-Za-z-]+: )?([0-9]+) passed.*/\2/')
		fail=$(echo "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')
	else
		line="no summary line"
	fi
	[ "$4" = 0 ] || [ "$fail" -gt 0 ] || fail=1
	case $4 in
	0) ;;
	124) line="$line (timed out after $LIMIT s)" ;;
	*) line="$line (exit status $4)" ;;
	esac
	total_pass=$((total_pass + pass))
	total_fail=$((total_fail + fail))
	summaries+=("$(printf 'vmtest: %-24s %-5s %4ss  %s' "$1" "$2" "$3" "$line")")
	echo "${summaries[-1]}"
}

# timeout(1) signals only its child: a hung grandchild (say a test's kleak)
# outlives it and keeps the output pipe open. Run CMD as a session of its
# own and end the whole session on timeout, and its leftovers after it.
run_limited() { # SECONDS LOG CMD...
	local limit=$1 log=$2 pid status=0

	shift 2
	setsid "$@" < /dev/null > >(tee "$log") 2>&1 &
	pid=$!
	if timeout "$limit" tail --pid="$pid" -f /dev/null; then
		wait "$pid" || status=$?
	else
		echo "vmtest: $* timed out after $limit s" | tee -a "$log"
		kill -TERM -- -"$pid" 2> /dev/null
		sleep 2
		status=124
	fi
	kill -KILL -- -"$pid" 2> /dev/null || :
	wait
	return $status
}

if [ "${KLEAK_VM_HOST:-1}" = 1 ]; then
	host=$(uname -r)
	echo "vmtest: === host kernel $host"
	start=$SECONDS
	status=0
	# shellcheck disable=SC2086
	run_limited "$LIMIT" "$RESULTS/host-$host.log" $SUITE || status=$?
	record "$host" host $((SECONDS - start)) "$status" "$RESULTS/host-$host.log"
fi

start=$SECONDS
kvers=$(timeout 900 "$HERE/fetch-kernel.sh" "$@") || die "cannot fetch kernels: $*"
echo "vmtest: kernels ready in $((SECONDS - start)) s:" $kvers

# guest KVER: the suite in KVER, its console in $RESULTS/KVER/console.log;
# leaves "SECONDS STATUS" in $RESULTS/KVER.done
guest() {
	local kver=$1 start=$SECONDS status=0

	mkdir -p "$RESULTS/$kver"
	# shellcheck disable=SC2086
	"$HERE/run.sh" -k "$kver" -t "$LIMIT" -o "$RESULTS/$kver" -- $GUEST_SUITE \
		> "$RESULTS/$kver.stdout" 2>&1 || status=$?
	echo "$((SECONDS - start)) $status" > "$RESULTS/$kver.done"
}

# Each guest's TCG runs on one host thread. All at once by default: the
# run takes the guests' total CPU time over the host's cores either way, and
# none waits for a lane at the end (in two lanes 5.10 and 6.1 each ran past
# 1800 s before 6.12 could start). Their consoles are printed whole, each once it is done.
running=0
for kver in $kvers; do
	if [ "$running" -ge "$JOBS" ]; then
		wait -n
		running=$((running - 1))
	fi
	echo "vmtest: === $kver started"
	guest "$kver" &
	running=$((running + 1))
done
wait
for kver in $kvers; do
	echo "vmtest: === $kver"
	cat "$RESULTS/$kver.stdout"
	read -r secs status < "$RESULTS/$kver.done"
	# run.sh's first console line: "vm-run: KVER, ACCEL, ..."
	accel=$(sed -n '1s/^vm-run: [^,]*, \([a-z]*\),.*/\1/p' "$RESULTS/$kver/console.log")
	record "$kver" "${accel:-vm}" "$secs" "$status" "$RESULTS/$kver/console.log"
done

echo "vmtest: --- results in $RESULTS"
printf '%s\n' "${summaries[@]}"
echo "vmtest: $total_pass passed, $total_fail failed"
[ "$total_fail" = 0 ]
