#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# make soak: kleak for SOAK_SECONDS (default 600) under the highest kmem
# event rate this machine gives: churn workloads (files, pipes, sockets,
# forks; TCP connections and zombies) on every CPU, and two kleaks at once:
# A unfiltered, an interval report every SOAK_INTERVAL seconds and -w at the
# end; B filtered to the workloads' comm, asked for a report (SIGUSR1) every
# SOAK_INTERVAL seconds. Then asserts: the books balance in every report of
# both (exactly in their final ones, see tests/sh/lib.sh books_check); both
# exit 0 in time, A on its own and B on SIGINT (a kleak still running 120 s
# after its end is a hang: killed, and the soak fails); their RSS's floor stays flat after the
# first third of the run (warm-up); of the workloads' own objects (files,
# sockets, tasks and what a task brings) no more are left in B's report once
# they were released than the events B said the kernel did not run it for
# (recursion_misses: frees it could not see); the slab caches of those objects came back to their
# active object counts at the start (/proc/slabinfo; a few slabs' worth of
# slack for per-CPU slabs and other tenants), and SUnreclaim is printed.
# Prints the figures. Root; not part of make test.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/sh/lib.sh
SECS=${SOAK_SECONDS:-600}
INTERVAL=${SOAK_INTERVAL:-10}
# RSS's floor may rise this much (kB) after warm-up: the sites and stacks
# tables fill as new stacks appear; a leak per report grows without bound
RSS_SLACK_KB=${SOAK_RSS_SLACK_KB:-8192}
# a workload cache's active objects may end this many above its start:
# SLUB counts the free objects of per-CPU slabs as active (a slab or two
# per CPU), and other tenants of the machine allocate too
SLAB_SLACK_OBJS=${SOAK_SLAB_SLACK_OBJS:-1024}
# the caches of the objects the churn makes and releases (slabinfo names)
WORKLOAD_CACHES="filp task_struct TCP sock_inode_cache signal_cache files_cache mm_struct pid"
CUR=soak
COMM=$TEST_COMM
need_root || exit 1
[ "$(id -u)" = 0 ] || exit 1

meminfo() { awk -v k="$1:" '$1 == k { print $2 }' /proc/meminfo; }
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }
# "cache active_objs" for each of WORKLOAD_CACHES slabinfo lists
slab_active() {
	awk -v want=" $WORKLOAD_CACHES " 'index(want, " " $1 " ") { print $1, $2 }' /proc/slabinfo |
		sort
}
# waits for PID until DEADLINE (in $SECONDS); a kleak past it has hung: it
# is killed and the status is 124
wait_until() {
	while kill -0 "$1" 2>/dev/null && [ $SECONDS -lt "$2" ]; do
		sleep 1
	done
	if kill -0 "$1" 2>/dev/null; then
		kill -KILL "$1"
		wait "$1"
		return 124
	fi
	wait "$1"
}

slab_start=$(meminfo SUnreclaim)
slab_active > "$TMP/slab.start"
ncpu=$(nproc)
end=$((SECONDS + SECS))

"$KLEAK" -T 5 -o 0 --format json -w "$TMP/a.run" "$INTERVAL" $((SECS / INTERVAL)) \
	> "$TMP/a.json" 2> "$TMP/a.err" &
pa=$!
"$KLEAK" -c "$COMM" -T 0 -o 0 --format json > "$TMP/b.json" 2> "$TMP/b.err" &
pb=$!
wait_for "$TMP/a.err" '^kleak: tracing' 60 && wait_for "$TMP/b.err" '^kleak: tracing' 60 ||
	{ fail "kleak did not attach: $(cat "$TMP/a.err" "$TMP/b.err")"; exit 1; }

# on every CPU: short-lived objects of every kind, as fast as they come
churners=()
for _ in $(seq "$ncpu"); do
	( while [ $SECONDS -lt $((end - 20)) ]; do
		"$WL" -n "$COMM" -c 2000 churn files pipes > /dev/null
		"$WL" -n "$COMM" -c 100 tcp zombies > /dev/null
	done ) &
	churners+=($!)
done

rss_a=() rss_b=() events_0=
while [ $SECONDS -lt $((end - 5)) ] && kill -0 $pa 2>/dev/null && kill -0 $pb 2>/dev/null; do
	sleep "$INTERVAL"
	kill -USR1 $pb 2>/dev/null
	rss_a+=("$(rss_kb $pa)")
	rss_b+=("$(rss_kb $pb)")
done
wait "${churners[@]}"
# A ends on its own after its last interval; B once the workloads' last
# objects had time to be freed (RCU, kworkers) after their release
deadline=$((end + 120))
wait_until $pa $deadline; st_a=$?
sleep 10
kill -INT $pb
wait_until $pb $((SECONDS + 120)); st_b=$?
sleep 5
slab_end=$(meminfo SUnreclaim)
slab_active > "$TMP/slab.end"

errs=()
[ $st_a -ne 124 ] || errs+=("A hung: still running 120 s after the run's end, killed")
[ $st_b -ne 124 ] || errs+=("B hung: still running 120 s after the run's end, killed")
[ $st_a -eq 0 ] || [ $st_a -eq 124 ] || errs+=("A exited $st_a: $(tail -1 "$TMP/a.err")")
[ $st_b -eq 0 ] || [ $st_b -eq 124 ] || errs+=("B exited $st_b: $(tail -1 "$TMP/b.err")")
books=$(books_check "$TMP/a.json" A; books_check "$TMP/b.json" B)
[ -z "$books" ] || errs+=("$books")
na=$(jq -s length "$TMP/a.json")
nb=$(jq -s length "$TMP/b.json")
[ "$na" -ge $((SECS / INTERVAL)) ] || errs+=("A: $na reports, expected $((SECS / INTERVAL))")
[ "$nb" -ge 3 ] || errs+=("B: $nb reports")
record_ok=$("$KLEAK" report --format json "$TMP/a.run" 2>&1 | jq -r '.stats.records_unaccounted' 2>&1)
[ "$record_ok" = 0 ] || errs+=("A's saved run: records_unaccounted $record_ok")

# RSS after warm-up: the heap breathes with each report's size (its peaks
# are the largest report's), so flat means its floor does not rise: the
# lowest sample of the last third against the lowest of the middle third
floors() {
	local -a v=("$@")
	local n=${#v[@]} w i mid last
	w=$((n / 3))
	mid=${v[$w]} last=${v[$((2 * w))]}
	for ((i = w; i < 2 * w; i++)); do
		[ -n "${v[$i]}" ] && [ "${v[$i]}" -lt "$mid" ] && mid=${v[$i]}
	done
	for ((i = 2 * w; i < n; i++)); do
		[ -n "${v[$i]}" ] && [ "${v[$i]}" -lt "$last" ] && last=${v[$i]}
	done
	echo "$mid $last"
}
read -r a_mid a_last < <(floors "${rss_a[@]}")
read -r b_mid b_last < <(floors "${rss_b[@]}")
[ $((a_last - a_mid)) -le "$RSS_SLACK_KB" ] || errs+=("A's RSS floor rose $a_mid -> $a_last kB")
[ $((b_last - b_mid)) -le "$RSS_SLACK_KB" ] || errs+=("B's RSS floor rose $b_mid -> $b_last kB")

# B's final report: the workloads released every object of their own; what
# else they made outstanding (dentries and inodes the kernel caches) is
# printed. A free the kernel did not run kleak for leaves its object in the
# report: an RCU callback freeing a socket inode or a task in softirq while
# kleak's own free program ran on that CPU (the recursion guard, counted in
# recursion_misses, said in the report's not-seen line). So the objects left
# may not outnumber the events B said it missed; the slab check below says
# whether the kernel freed them.
held=$(jq -s '.[-1].sites | map(.outstanding) | add // 0' "$TMP/b.json")
own=$(jq -s -r --arg caches "$WORKLOAD_CACHES" '($caches | split(" ")) as $c |
	[.[-1].sites[] | select(.cache as $k | $c | index($k)) |
	 "\(.cache) \(.count) under \(.frames[2].sym // "")"] | .[]' "$TMP/b.json")
own_n=$(awk '{ n += $2 } END { print n + 0 }' <<< "$own")
missed_b=$(jq -s '.[-1].stats.recursion_misses' "$TMP/b.json")
[ "$own_n" -le "$missed_b" ] ||
	errs+=("B: $own_n of the workloads' own objects outstanding after their release, more than the $missed_b events it missed: $(tr '\n' '|' <<< "$own")")
slab_grew=$(join "$TMP/slab.start" "$TMP/slab.end" |
	awk -v slack="$SLAB_SLACK_OBJS" '$3 > $2 + slack { printf "%s %d -> %d; ", $1, $2, $3 }')
[ -z "$slab_grew" ] || errs+=("slab caches above their start: $slab_grew")

events_a=$(jq -s '.[-1].stats.alloc_events' "$TMP/a.json")
echo "soak: $SECS s on $ncpu CPUs; A: $na reports, $events_a allocation events ($((events_a / SECS))/s), $(jq -s '.[-1].stats | "\(.allocs_recorded) recorded, \(.frees_matched) freed, \(.retired_unseen_frees) retired, \(.outstanding) outstanding, \(.recursion_misses) recursion misses"' -r "$TMP/a.json")"
echo "soak: B: $nb reports, $(jq -s '.[-1].stats | "\(.alloc_events) events, \(.filtered_out) filtered out, \(.allocs_recorded) recorded, \(.recursion_misses) recursion misses"' -r "$TMP/b.json"), $held outstanding at the end, $own_n of them the workloads' own"
echo "soak: RSS floor, middle then last third: A $a_mid -> $a_last kB, B $b_mid -> $b_last kB (samples, kB: A ${rss_a[*]}; B ${rss_b[*]})"
echo "soak: SUnreclaim $slab_start kB at start, $slab_end kB at the end; active objects, start -> end: $(join "$TMP/slab.start" "$TMP/slab.end" | awk '{ printf "%s %d -> %d, ", $1, $2, $3 }')"
if [ ${#errs[@]} -gt 0 ]; then
	printf '  %s\n' "${errs[@]}"
	echo "FAIL soak"
	exit 1
fi
echo "PASS soak"
