# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# The users' workflows, for real: trace a command and its descendants, save
# the run, print it again, diff two runs, watch growth over intervals.
. "$(dirname "$0")/lib.sh"

COMM=$TEST_COMM
# the command's own stdout must not mix with kleak's report
QUIET='exec "$@" > /dev/null'

# A command whose grandchild outlives it and holds files and zombies is traced
# through --; an unrelated process with the same comm holding pipes is not.
test_command_tree() {
	need_root || return
	start_workload unrelated -c 40 -n "$COMM" pipes || { fail "workload failed"; return; }
	hold_stdin tree
	(without_holds timeout 120 "$KLEAK" --linger 1 -T 0 --format json -w "$TMP/tree.run" -- \
		sh -c "$QUIET" sh "$WL" --detach --wait -c 30 -n "$COMM" files zombies) \
		< "$TMP/tree.fifo" > "$TMP/tree.json" 2> "$TMP/tree.err"
	local st=$?
	release_stdin tree
	release_workload unrelated
	local files zombies pipes
	files=$(held_count '^alloc_empty_file\+' filp < "$TMP/tree.json")
	zombies=$(held_count '^(dup_task_struct|copy_process)\+' task_struct < "$TMP/tree.json")
	pipes=$(held_count '^alloc_pipe_info\+' < "$TMP/tree.json")
	if ! jq -e . "$TMP/tree.json" > /dev/null; then
		fail "kleak -- CMD --format json printed invalid JSON"
	elif [ $st -ne 0 ]; then
		fail "kleak -- CMD exited $st: $(cat "$TMP/tree.err")"
	elif [ "$files" -lt 30 ] || [ "$zombies" -lt 30 ]; then
		fail "grandchild's objects: $files files, $zombies task_structs, expected >= 30 each"
	elif [ "$pipes" -ne 0 ]; then
		fail "$pipes pipe objects of an unrelated process reported"
	elif [ ! -s "$TMP/tree.run" ]; then
		fail "no run file written"
	else
		pass
	fi
}

# A followed task is followed to its end: its exit allocates after
# sched_process_exit (exit_notify() queues the exit signal to the parent). 40
# children exit with a real-time signal the workload blocks; each queued
# sigqueue is the child's, and is reported under every set (the suite runs
# again under compat, which marks tasks by address until they are freed).
test_exit_allocs() {
	need_root || return
	hold_stdin exit
	(without_holds timeout 120 "$KLEAK" --linger 1 -o 0 -T 0 --format json -- \
		sh -c "$QUIET" sh "$WL" --detach --wait -c 40 -n "$COMM" exitsigs) \
		< "$TMP/exit.fifo" > "$TMP/exit.json" 2> "$TMP/exit.err"
	local st=$? held
	release_stdin exit
	held=$(held_count '^do_notify_parent\+' < "$TMP/exit.json")
	if [ $st -ne 0 ]; then
		fail "kleak -- CMD exited $st: $(cat "$TMP/exit.err")"
	elif [ "$held" -lt 40 ]; then
		fail "$(jq -r .meta.attach "$TMP/exit.json"): $held exit signals of followed children, expected >= 40"
	else
		pass
	fi
}

# kleak report FILE prints exactly what the live run printed, with the
# run's own report options (a command run's --older 0, its -T 5) or with
# them given again; the saved command line reads back, in a shell, as the
# arguments it was given
test_round_trip() {
	need_root || return
	local -a argv=("$KLEAK" --linger 1 -T 5 -w "$TMP/rt.run" --
		sh -c "$QUIET" sh "$WL" --detach --wait -c 20 -n "$COMM" files) saved
	hold_stdin rt
	(without_holds timeout 120 "${argv[@]}") < "$TMP/rt.fifo" > "$TMP/rt.live" 2> /dev/null
	release_stdin rt
	"$KLEAK" report "$TMP/rt.run" > "$TMP/rt.plain" 2> "$TMP/rt.err"
	"$KLEAK" report -T 5 -o 0 "$TMP/rt.run" > "$TMP/rt.again" 2>> "$TMP/rt.err"
	"$KLEAK" report --format json "$TMP/rt.run" > "$TMP/rt.json" 2>> "$TMP/rt.err"
	eval "saved=($(jq -r .meta.cmdline "$TMP/rt.json"))"
	if ! grep -q alloc_empty_file "$TMP/rt.live"; then
		fail "live report lacks the held files"
	elif ! cmp -s "$TMP/rt.live" "$TMP/rt.plain"; then
		fail "saved run prints differently: $(diff "$TMP/rt.live" "$TMP/rt.plain" | head -5)"
	elif ! cmp -s "$TMP/rt.live" "$TMP/rt.again"; then
		fail "saved run with -T 5 -o 0 prints differently: $(diff "$TMP/rt.live" \
			"$TMP/rt.again" | head -5)"
	elif ! jq -e '.sites | length > 0 and length <= 5' "$TMP/rt.json" > /dev/null; then
		fail "report --format json of the saved run: $(head -2 "$TMP/rt.err")"
	elif [ "$(printf '%s\n' "${saved[@]}")" != "$(printf '%s\n' "${argv[@]}")" ]; then
		fail "saved command line $(jq .meta.cmdline "$TMP/rt.json") is not the one run"
	else
		pass
	fi
}

# run_saved NAME KIND: a command holding COUNT objects of KIND, saved
run_saved() {
	hold_stdin "$1"
	(without_holds timeout 120 "$KLEAK" --linger 1 -w "$TMP/$1.run" -- \
		sh -c "$QUIET" sh "$WL" --detach --wait -c 30 -n "$COMM" "$2") \
		< "$TMP/$1.fifo" > /dev/null 2>&1
	local st=$?
	release_stdin "$1"
	return $st
}

# TCP on one side, files on the other: the diff shows both, with the right signs
test_diff_runs() {
	need_root || return
	run_saved tcp tcp || { fail "tcp run failed"; return; }
	run_saved files files || { fail "files run failed"; return; }
	"$KLEAK" diff --format json -T 0 "$TMP/tcp.run" "$TMP/files.run" > "$TMP/diff.json" \
		2> "$TMP/diff.err" || { fail "diff failed: $(cat "$TMP/diff.err")"; return; }
	"$KLEAK" diff -T 0 "$TMP/tcp.run" "$TMP/files.run" > "$TMP/diff.txt" 2>&1 ||
		{ fail "text diff failed"; return; }
	local tcp files
	tcp=$(jq '[.sites[] | select(.frames[0] == "sk_prot_alloc" or
		any(.frames[]; . == "sk_prot_alloc")) | .delta_count] | add // 0' "$TMP/diff.json")
	# sockets have files too: count the ones open() made
	files=$(jq '[.sites[] | select(any(.frames[]; . == "alloc_empty_file") and
		any(.frames[]; . == "path_openat")) | .delta_count] | add // 0' "$TMP/diff.json")
	if [ "$tcp" -gt -30 ]; then
		fail "sk_prot_alloc delta $tcp, expected <= -30 (A holds 30 connections)"
	elif [ "$files" -lt 30 ]; then
		fail "alloc_empty_file delta $files, expected >= 30 (B holds 30 files)"
	elif ! grep -Eq '^(both|only-B) +filp( +[0-9]+){4} +\+30 ' "$TMP/diff.txt"; then
		fail "text diff has no filp site with +30 objects in B"
	else
		pass
	fi
}

# broken run files: one line naming the file, status 1, no report
test_bad_run_files() {
	need_root || return
	local f=tests/fixtures/tcp.run bad=
	head -c 100 "$f" > "$TMP/trunc.run"
	sed '1s/kleak-run 1/kleak-run 9/' "$f" > "$TMP/version.run"
	echo "hello" > "$TMP/text.run"
	for r in trunc version text; do
		"$KLEAK" report "$TMP/$r.run" > "$TMP/o" 2> "$TMP/e"
		if [ $? -ne 1 ] || [ -s "$TMP/o" ] || [ "$(wc -l < "$TMP/e")" -ne 1 ] ||
		   ! grep -q "$TMP/$r.run" "$TMP/e"; then
			bad="$r: $(cat "$TMP/e")"
			break
		fi
	done
	if [ -n "$bad" ]; then
		fail "$bad"
	else
		pass
	fi
}

# interval mode: a stack that grows in every interval is marked as a likely leak
test_growth() {
	need_root || return
	local i n
	start_kleak -c "$COMM" -o 0 -T 0 --format json 2 || { fail "kleak did not attach"; return; }
	# one more held batch per interval, each right after a report
	for i in 1 2 3 4; do
		n=$(grep -c '^}' "$TMP/out")
		wait_for_reports $((n + 1)) || { fail "no interval report"; return; }
		start_workload "g$i" -c 10 -n "$COMM" files || { fail "workload failed"; return; }
	done
	n=$(grep -c '^}' "$TMP/out")
	wait_for_reports $((n + 1)) || { fail "no interval report"; return; }
	stop_kleak
	for i in 1 2 3 4; do
		release_workload "g$i"
	done
	local site counts
	site=$(last_report | jq -c '[.sites[] | select(.cache == "filp" and
		any(.frames[]; (.sym // "") | test("^alloc_empty_file\\+")))][0]')
	counts=$(jq -c '.trend.counts' <<<"$site")
	# a report's snapshot can fall between a batch's start and its files being
	# held (a slow machine: TCG): the same count twice spoils the premise,
	# which the counts themselves show, whatever the timing of the lines
	if [ "$site" = null ]; then
		fail "no alloc_empty_file site in the last report"
	elif ! jq -e 'length >= 4 and .[-1] == 40 and
			([range(1; length) as $i | .[$i] >= .[$i - 1]] | all)' \
			<<<"$counts" > /dev/null; then
		fail "held files counted $counts, expected rising to 40"
	elif jq -e '[range(1; length) as $i | .[$i] == .[$i - 1]] | any' <<<"$counts" \
			> /dev/null; then
		skip "a batch of 10 files spanned a 2 s interval on this machine: $counts"
	elif [ "$(jq '.trend.grew_every_interval' <<<"$site")" != true ]; then
		fail "held files growing each interval are not marked: $site"
	else
		pass
	fi
}

# own_files_only WHO: the first report holds the 25 files of WHO and none of
# the 40 pipes of the unrelated process
own_files_only() {
	local files pipes
	files=$(jq -s '.[0]' "$TMP/out" | held_count '^alloc_empty_file\+' filp)
	pipes=$(jq -s '.[0]' "$TMP/out" | held_count '^alloc_pipe_info\+')
	if [ "${files:-0}" -lt 25 ]; then
		fail "${files:-0} files of $1, expected >= 25"
	elif [ "${pipes:-0}" -ne 0 ]; then
		fail "$pipes pipe objects of an unrelated process reported"
	else
		pass
	fi
}

# --cgroup: only tasks in the cgroup (or below) count; the same comm outside does not
test_cgroup() {
	local root cg
	need_root || return
	root=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts)
	[ -n "$root" ] || { skip "no cgroup v2 hierarchy mounted"; return; }
	cg="$root/kleak-test-$$"
	mkdir "$cg" || { fail "cannot create $cg"; return; }
	start_kleak --cgroup "$cg" -o 0 -T 0 --format json ||
		{ rmdir "$cg"; fail "kleak did not attach"; return; }
	start_workload outside -c 40 -n "$COMM" pipes || { rmdir "$cg"; fail "workload failed"; return; }
	hold_stdin inside
	(echo $BASHPID > "$cg/cgroup.procs" && without_holds "$WL" --wait -c 25 -n "$COMM" files) \
		< "$TMP/inside.fifo" > "$TMP/inside.out" &
	wait_for "$TMP/inside.out" '^ready' 60
	report_now
	release_workload inside
	release_workload outside
	stop_kleak
	rmdir "$cg"
	own_files_only "the task in the cgroup"
}

# --pid --follow: children forked after attach are traced, others are not
test_follow() {
	local parent
	need_root || return
	hold_stdin go
	hold_stdin child
	# the parent forks the workload only once kleak is attached
	(without_holds bash -c 'read -r _ < "$1"; "$2" --wait -c 25 -n "$3" files \
		< "$4" > "$5"; wait' sh "$TMP/go.fifo" "$WL" "$COMM" "$TMP/child.fifo" \
		"$TMP/child.out") &
	parent=$!
	if ! start_kleak -p "$parent" --follow -o 0 -T 0 --format json; then
		# the parent would hold the suite's output pipe open forever
		kill "$parent" 2> /dev/null
		release_stdin go
		release_stdin child
		fail "kleak did not attach"
		return
	fi
	start_workload other -c 40 -n "$COMM" pipes || { fail "workload failed"; return; }
	echo go > "$TMP/go.fifo"
	wait_for "$TMP/child.out" '^ready' 60
	report_now
	release_stdin child
	release_workload other
	release_stdin go
	wait "$parent"
	stop_kleak
	own_files_only "a child forked after attach"
}

# A saved run prints with the --older it ran with (0 for a command), unless
# the report's own command line says otherwise.
test_saved_options() {
	need_root || return
	"$KLEAK" --linger 0 -w "$TMP/s.run" -- "$WL" -c 5 -n "$COMM" files > "$TMP/live" 2>/dev/null ||
		{ fail "kleak -w failed"; return; }
	"$KLEAK" report "$TMP/s.run" > "$TMP/saved" 2>&1 || { fail "report failed"; return; }
	"$KLEAK" report -o 6 "$TMP/s.run" > "$TMP/o6" 2>&1
	local live saved
	live=$(grep -m1 'allocation sites' "$TMP/live")
	saved=$(grep -m1 'allocation sites' "$TMP/saved")
	if [ -z "$live" ] || [ "$live" != "$saved" ]; then
		fail "saved: '$saved', live: '$live'"
	elif ! grep -q '6.0 s or older' "$TMP/o6"; then
		fail "report -o 6 did not override the saved --older: $(grep -m1 'allocation sites' "$TMP/o6")"
	else
		pass
	fi
}

# A run of every allocator, saved: it prints again as it did live (its
# per-allocator table too), its JSON keeps each site's allocator, and a diff
# against a slab-only run of the same workload leaves the percpu sites out
# (the slab-only run could not hold them: no change) and says so.
test_allocators_saved() {
	need_root || return
	local -a argv=("$KLEAK" --all-allocators --linger 1 -T 0 -w "$TMP/al.run" --
		sh -c "$QUIET" sh "$WL" --detach --wait -c 20 -n "$COMM" vmalloc percpu pipepages)
	hold_stdin al
	(without_holds timeout 120 "${argv[@]}") < "$TMP/al.fifo" > "$TMP/al.live" 2> /dev/null
	release_stdin al
	run_saved slab vmalloc || { fail "slab-only run failed"; return; }
	"$KLEAK" report "$TMP/al.run" > "$TMP/al.plain" 2> "$TMP/al.err"
	"$KLEAK" report --format json "$TMP/al.run" > "$TMP/al.json" 2>> "$TMP/al.err"
	"$KLEAK" diff --format json -T 0 "$TMP/al.run" "$TMP/slab.run" > "$TMP/al.diff" \
		2>> "$TMP/al.err"
	local vm pc only want_vm=20
	# vmalloc's events came with 6.12, fentry on its functions is 5.5-6.2's: else none
	"$KLEAK" features --format json |
		jq -e '.features.vmalloc_events or .features.vmalloc_fentry' > /dev/null || want_vm=0
	vm=$(jq '[.sites[] | select(.allocator == "vmalloc" and
		any(.frames[]; (.sym // "") | test("^array_map_alloc\\+"))) | .outstanding] | add // 0' \
		"$TMP/al.json")
	pc=$(jq '[.allocators[] | select(.allocator == "percpu") | .objects] | add // 0' "$TMP/al.json")
	only=$(jq '(.untraced.a.percpu // 0) - ([.sites[] | select(.allocator == "percpu")] | length)' \
		"$TMP/al.diff")
	if ! grep -q '^per allocator' "$TMP/al.live"; then
		fail "live report has no per-allocator table"
	elif ! cmp -s "$TMP/al.live" "$TMP/al.plain"; then
		fail "saved run prints differently: $(diff "$TMP/al.live" "$TMP/al.plain" | head -5)"
	elif ! head -1 "$TMP/al.run" | grep -qx 'kleak-run 3'; then
		fail "saved as $(head -1 "$TMP/al.run"), expected format 3"
	elif [ "$vm" -lt "$want_vm" ]; then
		fail "$vm vmalloc areas under array_map_alloc in the saved run, expected >= $want_vm"
	elif [ "$pc" -lt 20 ]; then
		fail "$pc percpu objects in the saved run's table, expected >= 20"
	elif [ "$only" -lt 1 ]; then
		fail "diff against the slab-only run: percpu sites not left out as untraced by B: $(jq -c \
			'{untraced, percpu: [.sites[] | select(.allocator == "percpu")] | length}' \
			"$TMP/al.diff") $(head -2 "$TMP/al.err")"
	elif ! "$KLEAK" diff -T 0 "$TMP/al.run" "$TMP/slab.run" 2> /dev/null |
			grep -q '^B did not trace percpu: [1-9][0-9]* percpu sites of A left out'; then
		fail "the text diff's header does not say B did not trace percpu"
	else
		pass
	fi
}

for t in command_tree exit_allocs round_trip diff_runs bad_run_files growth cgroup follow saved_options \
	 allocators_saved; do
	run_test $t
done
