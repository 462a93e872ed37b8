#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# make soak: kleak for SOAK_SECONDS (default 600) under the highest kmem
# event rate this machine gives: churn workloads (files, pipes, sockets,
# forks; TCP connections and zombies) on every CPU, and two kleaks at once:
# A unfiltered, an interval report every SOAK_INTERVAL seconds and -w at the
# end; B filtered to the workloads' comm, asked for a report (SIGUSR1) every
# SOAK_INTERVAL seconds. Then asserts: the books balance in every report of
# both (exactly in their final ones, see tests/sh/lib.sh books_check); both
# exit 0 on their own, in time; their RSS's floor stays flat after the first
# third of the run (warm-up); the workloads' objects have left B's report once they
# were released; the machine's unreclaimable slab (SUnreclaim) came back to
# where it was. Prints the figures. Root; not part of make test.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/sh/lib.sh
SECS=${SOAK_SECONDS:-600}
INTERVAL=${SOAK_INTERVAL:-10}
# RSS's floor may rise this much (kB) after warm-up: the sites and stacks
# tables fill as new stacks appear; a leak per report grows without bound
RSS_SLACK_KB=${SOAK_RSS_SLACK_KB:-8192}
# SUnreclaim may end this much above its start (kB): other tenants of the machine
SLAB_SLACK_KB=${SOAK_SLAB_SLACK_KB:-32768}
CUR=soak
COMM=$TEST_COMM
need_root || exit 1
[ "$(id -u)" = 0 ] || exit 1

meminfo() { awk -v k="$1:" '$1 == k { print $2 }' /proc/meminfo; }
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }

slab_start=$(meminfo SUnreclaim)
ncpu=$(nproc)
end=$((SECONDS + SECS))

"$KLEAK" -T 5 -o 0 --format json -w "$TMP/a.run" "$INTERVAL" $((SECS / INTERVAL)) \
	> "$TMP/a.json" 2> "$TMP/a.err" &
pa=$!
"$KLEAK" -c "$COMM" -T 5 -o 0 --format json --duration "$SECS" > "$TMP/b.json" 2> "$TMP/b.err" &
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
# the frees of the last objects may be deferred (RCU): let them come before the end
deadline=$((end + 120))
wait $pa; st_a=$?
wait $pb; st_b=$?
late=$((SECONDS > deadline))
sleep 5
slab_end=$(meminfo SUnreclaim)

errs=()
[ $st_a -eq 0 ] || errs+=("A exited $st_a: $(tail -1 "$TMP/a.err")")
[ $st_b -eq 0 ] || errs+=("B exited $st_b: $(tail -1 "$TMP/b.err")")
[ $late -eq 0 ] || errs+=("the kleaks ended more than 120 s late")
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

# B's final report: the workloads released all they held
held=$(jq -s '.[-1].sites | map(.outstanding) | add // 0' "$TMP/b.json")
recorded=$(jq -s '.[-1].stats.allocs_recorded' "$TMP/b.json")
[ "$held" -le $((recorded / 1000 + 100)) ] ||
	errs+=("B: $held of the workloads' objects still outstanding after their release")
[ "$slab_end" -le $((slab_start + SLAB_SLACK_KB)) ] ||
	errs+=("SUnreclaim $slab_start -> $slab_end kB")

events_a=$(jq -s '.[-1].stats.alloc_events' "$TMP/a.json")
echo "soak: $SECS s on $ncpu CPUs; A: $na reports, $events_a allocation events ($((events_a / SECS))/s), $(jq -s '.[-1].stats | "\(.allocs_recorded) recorded, \(.frees_matched) freed, \(.retired_unseen_frees) retired, \(.outstanding) outstanding, \(.recursion_misses) recursion misses"' -r "$TMP/a.json")"
echo "soak: B: $nb reports, $(jq -s '.[-1].stats | "\(.alloc_events) events, \(.filtered_out) filtered out, \(.allocs_recorded) recorded"' -r "$TMP/b.json"), $held outstanding at the end"
echo "soak: RSS floor, middle then last third: A $a_mid -> $a_last kB, B $b_mid -> $b_last kB (samples, kB: A ${rss_a[*]}; B ${rss_b[*]})"
echo "soak: SUnreclaim $slab_start kB at start, $slab_end kB at the end"
if [ ${#errs[@]} -gt 0 ]; then
	printf '  %s\n' "${errs[@]}"
	echo "FAIL soak"
	exit 1
fi
echo "PASS soak"
