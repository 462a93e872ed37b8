# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Object classes, for real: the workload generator holds objects of each
# class with a known count (sleeping children, zombies, reaped children held
# by perf event fds, open files, files in flight over a socketpair, orphaned
# TCP sockets), kleak must report exactly those counts in each class while
# they are held, and see them leave once released. Saved runs keep the
# classes; diff and --held-by show them.
. "$(dirname "$0")/lib.sh"

COMM=$TEST_COMM
DRAIN_S=20
N=30

# held CACHE CLASS: objects of CACHE held as CLASS in the last report
held() {
	last_report | jq --arg c "$1" --arg h "$2" \
		'[.sites[] | select(.cache == $c) | .held_by[$h] // 0] | add // 0'
}

# example CACHE CLASS FIELD: FIELD of the first example of CLASS in CACHE
example() {
	last_report | jq -r --arg c "$1" --arg h "$2" --arg f "$3" \
		'[.sites[] | select(.cache == $c) | .held_examples[]? | select(.class == $h)
		| .[$f]][0] // ""'
}

# drained CACHE CLASS: asks for reports until CACHE has no CLASS objects (deferred frees)
drained() {
	local deadline=$((SECONDS + DRAIN_S))
	while :; do
		report_now || return 1
		[ "$(held "$1" "$2")" -eq 0 ] && return 0
		[ $SECONDS -ge $deadline ] && return 1
		sleep 0.2
	done
}

test_tasks() {
	local live zombie reaped pid comm ran kinds
	need_root || return
	start_kleak -c "$COMM" -o 0 -T 0 --format json || { fail "kleak did not attach"; return; }
	start_workload tasks -c $N -n "$COMM" sleepers zombies reaped ||
		{ fail "workload failed"; return; }
	report_now || { fail "no report on SIGUSR1"; return; }
	live=$(held task_struct live)
	zombie=$(held task_struct zombie)
	reaped=$(held task_struct reaped)
	pid=$(example task_struct reaped pid)
	comm=$(example task_struct reaped comm)
	ran=$(example task_struct reaped last_ran_s)
	kinds=$(last_report | jq -r '.held_by.classified')
	release_workload tasks
	if ! drained task_struct reaped; then
		stop_kleak
		fail "reaped: $(held task_struct reaped) task_structs still held ${DRAIN_S}s after the perf fds closed"
		return
	fi
	stop_kleak
	if [ "$live" -ne $N ] || [ "$zombie" -ne $N ] || [ "$reaped" -ne $N ]; then
		fail "task_struct live $live, zombie $zombie, reaped $reaped; expected $N each"
	elif [ "$comm" != "$COMM" ] || [ -z "$pid" ] || [ -d "/proc/$pid" ]; then
		fail "reaped example: pid '$pid' comm '$comm' (expected $COMM, a pid no longer in /proc)"
	elif [ -z "$ran" ] || ! awk -v r="$ran" 'BEGIN { exit !(r >= 0 && r < 120) }'; then
		fail "reaped example: last ran '$ran' s ago"
	elif [[ $kinds != *task_struct* ]]; then
		fail "the header names '$kinds' as classified, not task_struct"
	else
		pass
	fi
}

# The other slab caches filp is merged with on this kernel (5.10: io_kiocb),
# nothing where it has a cache of its own: kleak classifies no cache that
# holds objects of two kinds, and counts them as of other caches.
filp_merged_with() {
	local target l
	target=$(readlink /sys/kernel/slab/filp 2>/dev/null) || return 0
	for l in /sys/kernel/slab/*; do
		[ -L "$l" ] && [ "${l##*/}" != filp ] && [ "$(readlink "$l")" = "$target" ] &&
			echo "${l##*/}"
	done | paste -sd, -
}

test_files() {
	local fd nofd path nofd_path fdnum count merged
	need_root || return
	merged=$(filp_merged_with)
	[ -z "$merged" ] ||
		{ skip "filp is merged with $merged on this kernel: not classified"; return; }
	start_kleak -c "$COMM" -o 0 -T 0 --format json || { fail "kleak did not attach"; return; }
	start_workload files -c $N -n "$COMM" files inflight || { fail "workload failed"; return; }
	report_now || { fail "no report on SIGUSR1"; return; }
	fd=$(held filp fd)
	nofd=$(held filp no-fd)
	path=$(last_report | jq -r '[.sites[] | select(.cache == "filp") | .held_examples[]?
		| select(.class == "fd") | .desc] | map(select(. == "/dev/null")) | .[0] // ""')
	fdnum=$(last_report | jq -r '[.sites[] | select(.cache == "filp") | .held_examples[]?
		| select(.class == "fd" and .desc == "/dev/null") | .fd][0] // ""')
	nofd_path=$(example filp no-fd desc)
	count=$(example filp no-fd references)
	release_workload files
	if ! drained filp no-fd; then
		stop_kleak
		fail "no-fd: $(held filp no-fd) files still held ${DRAIN_S}s after the socketpair closed"
		return
	fi
	stop_kleak
	# the $N /dev/null files and the socketpair's two
	if [ "$fd" -lt $((N + 2)) ]; then
		fail "filp fd $fd, expected >= $((N + 2))"
	elif [ "$nofd" -ne $N ]; then
		fail "filp no-fd $nofd, expected $N (the files in flight)"
	elif [ "$path" != /dev/null ] || [ -z "$fdnum" ] || [ "$fdnum" -lt 3 ]; then
		fail "fd example: path '$path' fd '$fdnum'"
	elif [ "$nofd_path" != /dev/null ] || [ "$count" != 1 ]; then
		fail "no-fd example: path '$nofd_path' f_count '$count'"
	else
		pass
	fi
}

test_orphans() {
	local orphan fd desc
	need_root || return
	start_kleak -c "$COMM" -o 0 -T 0 --format json || { fail "kleak did not attach"; return; }
	start_workload orphans -c $N -n "$COMM" orphans || { fail "workload failed"; return; }
	report_now || { fail "no report on SIGUSR1"; return; }
	orphan=$(held TCP orphan)
	fd=$(held TCP fd)
	desc=$(example TCP orphan desc)
	release_workload orphans
	if ! drained TCP orphan; then
		stop_kleak
		fail "orphans: $(held TCP orphan) still held ${DRAIN_S}s after the peers reset"
		return
	fi
	stop_kleak
	# the clients are COMM's; the accepted ends are made in softirq, not charged to it
	if [ "$orphan" -ne $N ]; then
		fail "TCP orphan $orphan, expected $N"
	elif [ "$fd" -lt 1 ]; then
		fail "TCP fd $fd, expected the listener"
	elif ! [[ $desc =~ ^FIN_WAIT1\ 127\.0\.0\.1:[0-9]+\ -\>\ 127\.0\.0\.1:[0-9]+$ ]]; then
		fail "orphan example: '$desc'"
	else
		pass
	fi
}

# -w keeps the classes: report prints them as live, --held-by keeps one
# class, and diff against a run holding nothing shows each class's change
test_saved() {
	local n live saved only other diff files
	need_root || return
	start_kleak -c "$COMM" -o 0 -T 0 -w "$TMP/empty.run" ||
		{ fail "kleak did not attach"; return; }
	stop_kleak
	start_kleak -c "$COMM" -o 0 -T 0 --format json -w "$TMP/held.run" ||
		{ fail "kleak did not attach"; return; }
	start_workload saved -c $N -n "$COMM" sleepers reaped inflight ||
		{ fail "workload failed"; return; }
	report_now || { fail "no report on SIGUSR1"; return; }
	# the final report is saved, and taken while everything is still held
	stop_kleak
	live=$(last_report | jq -c '.held_by.classes')
	release_workload saved
	saved=$("$KLEAK" report --format json "$TMP/held.run" | jq -c '.held_by.classes')
	only=$("$KLEAK" report --format json --held-by reaped "$TMP/held.run" |
		jq -c '[.sites[] | [.cache, .count, (.held_by | keys)]]')
	other=$("$KLEAK" report --held-by reaped "$TMP/held.run" | grep -c '^\[')
	diff=$("$KLEAK" diff --format json "$TMP/empty.run" "$TMP/held.run" |
		jq -c '[.held_by[] | select(.cache == "task_struct" or .class == "no-fd")
		| [.cache, .class, .delta]] | sort')
	n=$("$KLEAK" diff "$TMP/empty.run" "$TMP/held.run" | grep -cE '^  task_struct +reaped +0 +'$N' +\+'$N'$')
	# a filp merged with another kind of cache is not classified (filp_merged_with)
	files="[\"filp\",\"no-fd\",$N],"
	[ -z "$(filp_merged_with)" ] || files=
	if [ "$saved" != "$live" ]; then
		fail "saved classes $saved, live $live"
	elif [ "$only" != "[[\"task_struct\",$N,[\"reaped\"]]]" ] || [ "$other" -ne 1 ]; then
		fail "--held-by reaped: $only ($other sites in text)"
	elif [ "$diff" != "[$files[\"task_struct\",\"live\",$N],[\"task_struct\",\"reaped\",$N]]" ]; then
		fail "diff per class: $diff"
	elif [ "$n" -ne 1 ]; then
		fail "diff text has no 'task_struct reaped 0 $N +$N' row"
	else
		pass
	fi
}

for t in tasks files orphans saved; do
	run_test $t
done
