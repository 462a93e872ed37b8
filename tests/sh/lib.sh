# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Shared by the shell test suites: results, a scratch directory, and a way to
# run kleak in the background and wait for it to attach (on its own "tracing"
# line, never on a sleep).

KLEAK=${KLEAK:-./kleak}
WL=${WL:-.output/kleak-workload}
FILTER=${1:-}
# a suite run again under a forced program set is named for it: bpf[compat]
SUITE=$(basename "$0" .sh)${KLEAK_PROGRAMS:+[$KLEAK_PROGRAMS]}
# the workloads' comm, unique per suite run so that two runs on one machine
# (a developer's and a VM runner's host pass) never count each other's objects
TEST_COMM=kwl-$$
TMP=$(mktemp -d /tmp/kleak-test.XXXXXX)
KLEAK_PID=
declare -A WFD
cleanup() {
	local fd
	[ -n "$KLEAK_PID" ] && kill -KILL "$KLEAK_PID" 2>/dev/null
	for fd in "${WFD[@]}"; do
		exec {fd}>&-
	done
	wait 2>/dev/null
	[ -n "${KEEP_TMP:-}" ] || rm -rf "$TMP"
}
trap cleanup EXIT

pass() { echo "PASS $SUITE/$CUR"; }
fail() { echo "  $SUITE/$CUR: $*"; echo "FAIL $SUITE/$CUR"; }
skip() { echo "SKIP $SUITE/$CUR: $*"; }

# run_test NAME: runs test_NAME unless the filter excludes it
run_test() {
	CUR=$1
	case "$SUITE/$CUR" in *"$FILTER"*) ;; *) return 0 ;; esac
	"test_$1"
}

# wait_for FILE PATTERN [SECONDS]: until a line of FILE matches, or time out
wait_for() {
	local deadline=$((SECONDS + ${3:-30}))
	until grep -q -- "$2" "$1" 2>/dev/null; do
		[ $SECONDS -ge $deadline ] && return 1
		sleep 0.05
	done
}

# start_kleak ARGS...: kleak in the background, stdout in $TMP/out, stderr in
# $TMP/err; returns once it is attached.
start_kleak() {
	: > "$TMP/out"
	: > "$TMP/err"
	(without_holds "$KLEAK" "$@") > "$TMP/out" 2> "$TMP/err" &
	KLEAK_PID=$!
	if ! wait_for "$TMP/err" '^kleak: tracing' 60; then
		cat "$TMP/err" >&2
		return 1
	fi
}

# stop_kleak: Ctrl-C, then wait for the final report; sets KLEAK_STATUS
stop_kleak() {
	kill -INT "$KLEAK_PID"
	wait "$KLEAK_PID"
	KLEAK_STATUS=$?
	KLEAK_PID=
}

# wait_for_reports N: until $TMP/out holds N complete JSON reports
wait_for_reports() {
	local deadline=$((SECONDS + 30))
	until [ "$(grep -c '^}' "$TMP/out")" -ge "$1" ]; do
		[ $SECONDS -ge $deadline ] && return 1
		sleep 0.05
	done
}

# report_now: SIGUSR1 asks for a report; waits until it is complete
report_now() {
	local before
	before=$(grep -c '^}' "$TMP/out")
	kill -USR1 "$KLEAK_PID"
	wait_for_reports $((before + 1))
}

# hold_stdin NAME: a fifo $TMP/NAME.fifo whose writer this shell keeps open,
# so a process reading it as stdin waits until release_stdin NAME
hold_stdin() {
	local fd
	rm -f "$TMP/$1.fifo"
	mkfifo "$TMP/$1.fifo"
	# opening the read side first keeps the writer's open from blocking
	exec {fd}<> "$TMP/$1.fifo"
	WFD[$1]=$fd
}

# without_holds CMD...: execs CMD with every held fifo closed, so that only
# this shell keeps a writer open (bash does not close them on exec)
without_holds() {
	local fd
	for fd in "${WFD[@]}"; do
		exec {fd}>&-
	done
	exec "$@"
}

release_stdin() {
	local fd=${WFD[$1]}
	exec {fd}>&-
	unset "WFD[$1]"
}

# start_workload NAME ARGS...: kleak-workload holding until released
start_workload() {
	local name=$1
	shift
	hold_stdin "$name"
	(without_holds "$WL" --wait "$@") < "$TMP/$name.fifo" > "$TMP/$name.out" &
	wait_for "$TMP/$name.out" '^ready' 60
}

# release_workload NAME: closes its stdin and waits for "released"
release_workload() {
	release_stdin "$1"
	wait_for "$TMP/$1.out" '^released' 60
}

# last JSON report in $TMP/out
last_report() { jq -s '.[-1]' "$TMP/out"; }

# held_count FRAME_REGEX [CACHE]: outstanding objects of the report on stdin,
# over the sites (of CACHE, if given) with a frame matching the regex
held_count() {
	jq --arg re "$1" --arg cache "${2:-}" '[.sites[]
		| select($cache == "" or .cache == $cache)
		| select(any(.frames[]; (.sym // "") | test($re)))
		| .outstanding] | add // 0'
}

need_root() {
	if [ "$(id -u)" != 0 ]; then
		skip "needs root to load BPF programs"
		return 1
	fi
}

# books_check FILE NAME: the identity of model.h's books, from the terms in
# each JSON report of FILE: every allocation event by its one outcome, every
# recorded allocation freed, retired or outstanding; for the whole run (the
# stats) and for each allocator of a run that traced more than slab (the
# allocators). Exact in the last (the final report, read detached); in an
# interval report, read while the programs ran, off by at most the events
# then in progress (a program runs at most once per CPU at a time: 7
# programs count) and, for the records, by the records made or ended while
# the counters were read (books_slack).
books_check() {
	local ncpu
	ncpu=$(nproc)
	# a report jq cannot read is a failure too, never a silent pass
	jq -s -r --arg name "$2" --argjson fly $((7 * ncpu)) '
		def abs: if . < 0 then -. else . end;
		def ev: .alloc_events - (.failed_allocs + .kleak_own_allocs + .filtered_out +
			(.pages_user_left_out // 0) + .irq_not_attributed + .sampled_out +
			.sites_map_full + .allocs_map_full + .allocs_map_busy + .allocs_recorded);
		def rec: .allocs_recorded - (.frees_matched + .retired_unseen_frees + .outstanding);
		(length - 1) as $last | to_entries[] | .key as $i | .value.stats.books_slack as $slack |
		({what: "", b: .value.stats},
		 ((.value.allocators // [])[] | {what: " \(.allocator)", b: .})) |
		.what as $w | .b | ev as $ev | rec as $rec |
		if $ev != .alloc_events_unaccounted or $rec != .records_unaccounted then
			"\($name) report \($i)\($w): unaccounted \(.alloc_events_unaccounted)/\(.records_unaccounted), the terms give \($ev)/\($rec)"
		elif $i == $last and ($ev != 0 or $rec != 0 or $slack != 0) then
			"\($name) final report\($w): \($ev) events, \($rec) records unaccounted (slack \($slack))"
		elif ($ev | abs) > $fly or ($rec | abs) > $slack + $fly then
			"\($name) report \($i)\($w): \($ev) events, \($rec) records unaccounted (slack \($slack))"
		else empty end' "$1" 2>&1 || echo "$2: the reports in $1 do not read as JSON books"
}
