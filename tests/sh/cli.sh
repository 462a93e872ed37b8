# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# The command line: every bad input is one "kleak: ..." line on stderr and
# status 64 (usage) or 1 (environment); --help and --version work; the binary
# is static.
. "$(dirname "$0")/lib.sh"

# expect STATUS ARGS...: kleak ARGS exits STATUS with exactly one stderr line
# starting "kleak: " and nothing on stdout
expect() {
	local want=$1 status lines
	shift
	timeout 60 "$KLEAK" "$@" > "$TMP/o" 2> "$TMP/e" < /dev/null
	status=$?
	lines=$(wc -l < "$TMP/e")
	if [ "$status" -ne "$want" ]; then
		BAD="kleak $*: status $status, expected $want ($(head -1 "$TMP/e"))"
	elif [ "$lines" -ne 1 ] || ! grep -q '^kleak: ' "$TMP/e"; then
		BAD="kleak $*: $lines stderr lines: $(tr '\n' '|' < "$TMP/e")"
	elif [ -s "$TMP/o" ]; then
		BAD="kleak $*: wrote to stdout on error"
	fi
}

test_bad_options() {
	BAD=
	local args
	while IFS= read -r args; do
		# shellcheck disable=SC2086
		eval "expect 64 $args"
		[ -n "$BAD" ] && break
	done <<'EOF'
--pid 0
--pid abc
--ustack=xyz
--ustack=
--ustack --ustack-depth 0
--ustack --ustack-depth 65
--ustack-depth 8
--pid -3
--pid 12x
--pid 99999999999
--comm ''
--comm this-name-is-too-long
--cache ''
--cache vmalloc
--cache pages/order-11 --pages
--pages --cache filp
--all-allocators --cache vmalloc
--pages --cache 'user pages/order-0'
--pages --percpu --cache pages
--min-size x
--max-size 0
--min-size 100 --max-size 10
--sample-rate 0
--sample-rate 2x
--duration 0
--older -1
--top x
--max-allocs 0
--stack-depth 0
--stack-depth 128
--format yaml
--stack-cache maybe
--stack-cache
--exclude '('
--exclude a --exclude b
--exclude 'a++++++++++++++++++++++++++++++'
report --exclude '((((((((((((((((((((a+)+)+)+)+)+)+)+)+)+)+)+)+)+)+)+)+)+)+)+)+' x.run
--follow
--bogus
0
5 0
5 3 7
--pid 1 -- true
--duration 5 -- true
--
--min-delta 5
report
report a b
diff a
diff a b c
report --pid 3 x.run
diff --comm x a b
diff --duration 5 a b
diff --caches a b
diff --stack-depth 3 a b
diff --cache '' a b
report --duration 5 x.run
report --min-delta 5 x.run
report x.run -- true
features --top 3
EOF
	if [ -n "$BAD" ]; then
		fail "$BAD"
	else
		pass
	fi
}

test_help_version() {
	if ! timeout 10 "$KLEAK" --help | grep -q '^EXAMPLES:' ; then
		fail "--help has no EXAMPLES"
	elif ! timeout 10 "$KLEAK" --help | grep -q 'USAGE: kleak'; then
		fail "--help has no USAGE line"
	elif ! timeout 10 "$KLEAK" --version | grep -q '^kleak [0-9]'; then
		fail "--version prints no version"
	else
		pass
	fi
}

test_static() {
	# the sanitizer build (tests/sh/sanitize.sh) links dynamically, as it must
	if [ -n "${KLEAK_DYNAMIC:-}" ]; then
		skip "KLEAK_DYNAMIC: $KLEAK is a dynamic build"
	elif ldd "$KLEAK" 2>&1 | grep -q 'not a dynamic executable'; then
		pass
	else
		fail "kleak is not statically linked: $(ldd "$KLEAK" 2>&1 | head -2 | tr '\n' ' ')"
	fi
}

# environment failures: one line naming the cause, status 1
test_env_errors() {
	BAD=
	need_root || return
	expect 1 --cache no_such_cache_here --duration 1
	[ -z "$BAD" ] && expect 1 --cgroup /no/such/cgroup --duration 1
	[ -z "$BAD" ] && expect 1 --cgroup /proc --duration 1
	[ -z "$BAD" ] && expect 1 --btf /no/such/btf --duration 1
	[ -z "$BAD" ] && expect 1 --btf /etc/passwd --duration 1
	# what the classic tracepoint set cannot do
	[ -z "$BAD" ] && KLEAK_PROGRAMS=tracepoint expect 1 --cache filp --duration 1
	[ -z "$BAD" ] && KLEAK_PROGRAMS=tracepoint expect 125 -- true
	[ -z "$BAD" ] && KLEAK_PROGRAMS=bogus expect 1 --duration 1
	[ -z "$BAD" ] && KLEAK_HIDE_FEATURES=ringbuf,bogus expect 1 --duration 1
	[ -z "$BAD" ] && expect 1 report /no/such/file.run
	[ -z "$BAD" ] && expect 127 -- /no/such/command
	if [ -z "$BAD" ] && command -v setpriv > /dev/null; then
		setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
			"$KLEAK" --duration 1 > "$TMP/o" 2> "$TMP/e"
		local st=$?
		if [ $st -ne 1 ] || [ "$(wc -l < "$TMP/e")" -ne 1 ] ||
		   ! grep -q 'permission denied' "$TMP/e"; then
			BAD="unprivileged run: status $st: $(cat "$TMP/e")"
		fi
	fi
	# setarch makes uname(2) report 2.6.x: kleak decides by probing, never by version
	if [ -z "$BAD" ] && command -v setarch > /dev/null; then
		setarch "$(uname -m)" --uname-2.6 "$KLEAK" --duration 1 > "$TMP/o" 2> "$TMP/e"
		local st=$?
		if [ $st -ne 0 ]; then
			BAD="with uname 2.6: status $st: $(cat "$TMP/e")"
		fi
	fi
	if [ -n "$BAD" ]; then
		fail "$BAD"
	else
		pass
	fi
}

# kleak features: every probe in text and JSON, the set it would load (the
# one a run loads: bpf/attach_mode), a forced set named as forced
test_features() {
	need_root || return
	local keys forced
	BAD=
	timeout 60 "$KLEAK" features > "$TMP/text" 2> "$TMP/e" || BAD="features: $(cat "$TMP/e")"
	[ -z "$BAD" ] && { timeout 60 "$KLEAK" features --format json > "$TMP/json" ||
		BAD="features --format json failed"; }
	if [ -z "$BAD" ]; then
		keys=$(jq -r '.features | keys | length' "$TMP/json")
		forced=$(KLEAK_PROGRAMS=compat timeout 60 "$KLEAK" features --format json |
			jq -r '"\(.set) \(.forced)"')
	fi
	[ -z "$BAD" ] && expect 64 features --comm x
	# a misspelt set: its one line, no table
	[ -z "$BAD" ] && KLEAK_PROGRAMS=bogus expect 1 features
	[ -z "$BAD" ] && expect 64 features extra
	if [ -n "$BAD" ]; then
		fail "$BAD"
	elif ! grep -q '^kleak loads: ' "$TMP/text" || ! grep -q '^kernel   ' "$TMP/text"; then
		fail "text has no kernel or 'kleak loads:' line: $(head -3 "$TMP/text" | tr '\n' '|')"
	elif [ "$keys" -ne 25 ]; then
		fail "JSON has $keys features, expected 25"
	elif [ "$(grep -c '^  \(yes\|no \)  ' "$TMP/text")" -ne 25 ]; then
		fail "text does not list the 25 features"
	elif ! jq -e '.ustack | (.fp | type == "boolean") and (.dwarf | type == "boolean")' \
			"$TMP/json" > /dev/null; then
		fail "JSON does not say whether each --ustack mode loads: $(jq -c .ustack "$TMP/json")"
	elif [ "$(grep -c -E '^  (fp|dwarf) +(yes|no: lacks .+)$' "$TMP/text")" -ne 2 ]; then
		fail "text does not say whether each --ustack mode loads"
	elif ! jq -e '.sets | length == 4 and all(.[]; has("name") and has("supported"))' \
			"$TMP/json" > /dev/null; then
		fail "JSON sets malformed: $(jq -c .sets "$TMP/json")"
	elif [ "$forced" != "compat true" ]; then
		fail "KLEAK_PROGRAMS=compat features says '$forced'"
	else
		pass
	fi
}

# the command's own status comes back; kleak's failures are 125
test_command_status() {
	local st
	need_root || return
	"$KLEAK" --linger 0 -- sh -c 'exit 3' > /dev/null 2>&1
	st=$?
	if [ $st -ne 3 ]; then
		fail "command exiting 3: kleak exited $st"
		return
	fi
	"$KLEAK" --linger 0 -- sh -c 'kill -TERM $$' > /dev/null 2>&1
	st=$?
	if [ $st -ne 143 ]; then
		fail "command killed by SIGTERM: kleak exited $st, expected 143"
		return
	fi
	"$KLEAK" --cache no_such_cache_here -- true > /dev/null 2>&1
	st=$?
	if [ $st -ne 125 ]; then
		fail "kleak failing before the command: exited $st, expected 125"
		return
	fi
	pass
}

# kleak report on checked-in runs: byte-for-byte goldens, no BPF needed.
# KLEAK_REGEN=1 rewrites them after an intended change of the output.
test_report_golden() {
	local args name bad=
	while read -r name args; do
		# shellcheck disable=SC2086
		TZ=UTC "$KLEAK" $args > "$TMP/$name" 2> "$TMP/err"
		if [ -n "${KLEAK_REGEN:-}" ]; then
			cp "$TMP/$name" "tests/fixtures/$name"
		elif ! cmp -s "$TMP/$name" "tests/fixtures/$name"; then
			bad="$name: $(diff "tests/fixtures/$name" "$TMP/$name" | head -3 | tr '\n' ' ')"
			break
		fi
	done <<'EOF'
report-tcp.expected report -o 0 tests/fixtures/tcp.run
report-tcp-cache-json.expected report -o 0 -T 2 --cache TCP --format json tests/fixtures/tcp.run
report-files-older.expected report -o 4 --min-size 200 tests/fixtures/files.run
report-tcp-exclude.expected report -o 0 --exclude inet_create|\[xfs\] tests/fixtures/tcp.run
report-bulk.expected report tests/fixtures/report-bulk.run
report-slabinfo.expected report tests/fixtures/report-slabinfo.run
report-interval-first.expected report tests/fixtures/report-interval-first.run
report-trend.expected report tests/fixtures/report-trend.run
report-trend-json.expected report --format json tests/fixtures/report-trend.run
report-merged.expected report tests/fixtures/report-merged.run
report-merged-json.expected report --format json tests/fixtures/report-merged.run
diff-k61-k618-cli.expected diff -T 0 tests/fixtures/diff-k61.run tests/fixtures/diff-k618.run
diff-k61-k618-filp.expected diff --cache filp -o 1 --no-caches tests/fixtures/diff-k61.run tests/fixtures/diff-k618.run
diff-k61-k618-exclude-json.expected diff --exclude alloc_pid|anon_vma -z 64 --format json tests/fixtures/diff-k61.run tests/fixtures/diff-k618.run
report-tcp-folded.expected report -o 0 --format folded tests/fixtures/tcp.run
report-bulk-folded-count.expected report --format folded --value count tests/fixtures/report-bulk.run
report-tcp-svg.expected report -o 0 --format svg tests/fixtures/tcp.run
diff-k61-k618-folded.expected diff --format folded tests/fixtures/diff-k61.run tests/fixtures/diff-k618.run
diff-tcp-files-svg.expected diff --format svg tests/fixtures/tcp.run tests/fixtures/files.run
report-classes.expected report -o 0 -T 8 tests/fixtures/classes-b.run
report-classes-reaped-json.expected report --held-by reaped --format json tests/fixtures/classes-b.run
diff-classes.expected diff -T 3 tests/fixtures/classes-a.run tests/fixtures/classes-b.run
diff-classes-json.expected diff -T 1 --format json tests/fixtures/classes-a.run tests/fixtures/classes-b.run
report-ustack.expected report tests/fixtures/ustack-b.run
diff-ustack.expected diff tests/fixtures/ustack-a.run tests/fixtures/ustack-b.run
diff-ustack-json.expected diff --format json tests/fixtures/ustack-a.run tests/fixtures/ustack-b.run
report-ustack-folded.expected report --format folded tests/fixtures/ustack-b.run
report-classes-folded.expected report -o 0 --format folded tests/fixtures/classes-b.run
diff-classes-folded.expected diff --format folded tests/fixtures/classes-a.run tests/fixtures/classes-b.run
report-classes-mapped.expected report -o 0 -T 0 tests/fixtures/classes-mapped.run
EOF
	if [ -n "$bad" ]; then
		fail "$bad"
	elif ! jq -e '.sites | length == 2 and all(.[]; .cache == "TCP")' \
			tests/fixtures/report-tcp-cache-json.expected > /dev/null; then
		fail "--cache TCP -T 2 golden does not hold exactly two TCP sites"
	elif ! jq -e '[.sites[] | select(.trend.likely_leak)] | length == 1' \
			tests/fixtures/report-trend-json.expected > /dev/null; then
		fail "the trend golden does not call exactly one site a likely leak"
	elif ! jq -e '.kernels_differ and .excluded == {"a": 6, "b": 6} and .min_size == 64' \
			tests/fixtures/diff-k61-k618-exclude-json.expected > /dev/null; then
		fail "diff --exclude -z 64 golden: kernels, exclusions or filter not as given"
	elif ! jq -e '[.sites[] | [.cache, .count, .held_by]] == [["task_struct", 3, {"reaped": 3}]]' \
			tests/fixtures/report-classes-reaped-json.expected > /dev/null; then
		fail "--held-by reaped golden does not hold exactly the 3 reaped task_structs"
	elif ! jq -e '[.held_by[] | select(.delta != 0) | "\(.cache) \(.class) \(.delta)"] |
			index("task_struct reaped 3") and index("filp no-fd 3") and
			index("TCP orphan 3")' tests/fixtures/diff-classes-json.expected > /dev/null; then
		fail "diff golden does not show 3 more reaped tasks, files in flight and orphans"
	elif ! grep -qx '  pid is a merged cache, also named cred' tests/fixtures/diff-classes.expected ||
	     ! jq -e '[.caches[] | select(.cache == "signal_cache")][0].merged_with_b ==
			["UNIX", "UNIX-STREAM"]' tests/fixtures/diff-classes-json.expected > /dev/null; then
		fail "diff goldens do not name merged caches' aliases"
	elif [ -e /tmp/kleak-fixture/client ] || ! jq -e '[.sites[] | select(.match == "both" and
			.delta_count == 15 and any(.frames[]; . == "kleaktest::Holder::makeSockets(int) (client)"))]
			| length == 1' tests/fixtures/diff-ustack-json.expected > /dev/null; then
		fail "diff of the --ustack runs (two builds of the client, gone from this machine) does not match the sockets' user frames by method"
	else
		pass
	fi
}

# Each command's --help lists its own options only, fits 79 columns (argp
# wraps nothing, leaves no line of blanks), names no made-up mail address,
# says what -c and -p select, and no interval where there is none; report and
# diff refuse the tracing options in one line (bad_options)
test_subcommand_help() {
	local c long
	BAD=
	for c in trace report diff features; do
		# shellcheck disable=SC2046
		timeout 10 "$KLEAK" $([ $c = trace ] || echo $c) --help > "$TMP/help.$c" 2>&1 ||
			BAD="kleak $c --help failed"
		long=$(awk 'length > 79' "$TMP/help.$c" | head -1)
		[ -z "$BAD" ] && [ -n "$long" ] && BAD="kleak $c --help: a line over 79 columns: $long"
		# argp wraps what is longer: an example line cut in two starts without "kleak"
		long=$(awk '/^EXAMPLES:/ { e = 1; next } /^$/ { e = 0 } e && !/^  kleak /' \
			"$TMP/help.$c" | head -1)
		[ -z "$BAD" ] && [ -n "$long" ] && BAD="kleak $c --help: an example wrapped: $long"
		[ -z "$BAD" ] && grep -q 'localhost' "$TMP/help.$c" &&
			BAD="kleak $c --help names a mail address that does not exist"
		# argp ends a help text that fills the line exactly with a line of blanks
		long=$(grep -n '^[[:space:]]\+$' "$TMP/help.$c" | head -1)
		[ -z "$BAD" ] && [ -n "$long" ] && BAD="kleak $c --help: a line of blanks at $long"
		[ -n "$BAD" ] && break
	done
	if [ -n "$BAD" ]; then
		fail "$BAD"
	elif ! grep -q '^Usage: kleak report \[OPTION...\] FILE$' "$TMP/help.report" ||
	     ! grep -q '^Usage: kleak diff \[OPTION...\] FILE_A FILE_B$' "$TMP/help.diff"; then
		fail "report/diff --help has no usage line of its own"
	elif grep -Eq -- '--(comm|pid|duration|max-allocs|linger|write)=' "$TMP/help.report" \
			"$TMP/help.diff" "$TMP/help.features"; then
		fail "report, diff or features --help lists tracing options"
	elif grep -q -- '--min-delta' "$TMP/help.report" "$TMP/help.trace" ||
	     ! grep -q -- '--min-delta' "$TMP/help.diff"; then
		fail "--min-delta is diff's only"
	elif ! grep -q 'not argv\[0\]' "$TMP/help.trace" ||
	     ! grep -q "its own task_struct is its parent's" "$TMP/help.trace"; then
		fail "kleak --help does not say what -c and -p select"
	elif ! grep -q '125 when kleak fails' "$TMP/help.trace"; then
		fail "kleak --help does not give the exit statuses"
	elif grep -q 'each.*interval' "$TMP/help.report" "$TMP/help.diff"; then
		fail "report or diff --help speaks of intervals: $(grep -h 'interval' "$TMP/help.report" "$TMP/help.diff")"
	else
		pass
	fi
}

# --pid of no process, or of one that has exited, is one line and status 1
# before anything is loaded
test_pid_checks() {
	local z
	BAD=
	expect 1 --pid 2000000000 --duration 1
	[ -z "$BAD" ] && ! grep -q 'no such process' "$TMP/e" && BAD="$(cat "$TMP/e")"
	if [ -z "$BAD" ]; then
		start_workload pz -c 1 -n "$TEST_COMM" zombies || BAD="workload failed"
		# shellcheck disable=SC2046
		z=$(grep -l '^State:[[:space:]]*Z' $(grep -l "^Name:[[:space:]]*$TEST_COMM\$" \
			/proc/[0-9]*/status 2>/dev/null) /dev/null 2>/dev/null | head -1 | cut -d/ -f3)
		[ -z "$BAD" ] && [ -z "$z" ] && BAD="no zombie of the workload found"
		[ -z "$BAD" ] && expect 1 --pid "$z" --duration 1
		[ -z "$BAD" ] && ! grep -q 'has exited' "$TMP/e" && BAD="zombie: $(cat "$TMP/e")"
		release_workload pz
	fi
	if [ -n "$BAD" ]; then
		fail "$BAD"
	else
		pass
	fi
}

# -c or -p says once that a process's own task_struct is its parent's, when
# the run could have recorded what fork allocates (no --cache, or --cache
# task_struct) and recorded none of it: with --cache task_struct and nothing
# forked (over two reports), and without --cache while the comm only opens
# files; not when the comm forks (copy_process sites), with another --cache,
# without a task filter, or with -- COMMAND
test_parent_hint() {
	local st n hint='^kleak: hint: fork allocates a process.s task_struct'
	need_root || return
	BAD=
	"$KLEAK" -c "$TEST_COMM" --cache task_struct 1 2 > /dev/null 2> "$TMP/e"
	st=$?
	n=$(grep -c "$hint" "$TMP/e")
	[ $st -ne 0 ] && BAD="kleak -c --cache task_struct exited $st: $(cat "$TMP/e")"
	[ -z "$BAD" ] && [ "$n" -ne 1 ] && BAD="the hint came $n times over two reports: $(cat "$TMP/e")"
	# hint_run WANT ARGS...: kleak -c TEST_COMM ARGS while the workload WL_KIND runs
	hint_run() {
		local want=$1
		shift
		[ -n "$BAD" ] && return
		start_kleak -c "$TEST_COMM" -o 0 "$@" || { BAD="kleak $*: did not attach"; return; }
		start_workload ph -c 5 -n "$TEST_COMM" "$WL_KIND" || BAD="workload $WL_KIND failed"
		stop_kleak
		release_workload ph
		n=$(grep -c "$hint" "$TMP/err")
		[ -z "$BAD" ] && [ "$n" -ne "$want" ] &&
			BAD="-c with $WL_KIND, $*: the hint came $n times, expected $want: $(tr '\n' '|' < "$TMP/err")"
		[ -z "$BAD" ] && ! grep -q 'objects' "$TMP/out" &&
			BAD="-c with $WL_KIND, $*: nothing recorded: $(head -5 "$TMP/out" | tr '\n' '|')"
	}
	WL_KIND=files hint_run 1
	WL_KIND=zombies hint_run 0 --cache task_struct
	WL_KIND=files hint_run 0 --cache filp
	"$KLEAK" --cache task_struct --duration 1 > /dev/null 2> "$TMP/e2"
	"$KLEAK" --linger 0 -c "$TEST_COMM" --cache task_struct -- true > /dev/null 2>> "$TMP/e2"
	if [ -n "$BAD" ]; then
		fail "$BAD"
	elif grep -q 'hint:' "$TMP/e2"; then
		fail "a hint without -c/-p, or with -- COMMAND: $(grep 'hint:' "$TMP/e2")"
	else
		pass
	fi
}

# A saved --ustack run's user frames in a profile: each at its offset in its
# binary, in that binary's mapping (go tool pprof, where installed; the
# sanitizer pass runs this suite too, which caught a read past the site's
# kernel frames for each user frame).
test_ustack_pprof() {
	local want got
	"$KLEAK" report --format pprof -O "$TMP/u.pb.gz" tests/fixtures/ustack-b.run 2> "$TMP/err" ||
		{ fail "pprof of a --ustack run: $(head -1 "$TMP/err")"; return; }
	command -v go > /dev/null || { skip "go tool pprof not installed (golang-go)"; return; }
	go tool pprof -raw "$TMP/u.pb.gz" > "$TMP/raw" 2>&1
	want=$("$KLEAK" report --format json tests/fixtures/ustack-b.run |
		jq -r '[.sites[].user_frames[] | select(.module | endswith("/client")) | .offset]
			| unique | join(" ")')
	got=$(awk '/ M=[0-9]+ .* \[client\]/ { print $2 }' "$TMP/raw" | sort -u | tr '\n' ' ')
	if [ -z "$want" ] || [ "$(tr ' ' '\n' <<< "$want" | sort -u | tr '\n' ' ')" != "$got" ]; then
		fail "the client's frames in the profile at $got, the run has them at $want"
	else
		pass
	fi
}

# interval mode: the default --older is at most the interval (else every
# report of "kleak 2" would be empty until the run is 6 s old); an --older
# given is kept, and an interval above 6 s keeps the default
test_interval_older() {
	local got
	need_root || return
	got=$( ("$KLEAK" --format json -c "$TEST_COMM" 2 1; "$KLEAK" --format json -c "$TEST_COMM" 7 1;
		"$KLEAK" -o 5 --format json -c "$TEST_COMM" 2 1) 2> "$TMP/e" | jq -s -r 'map(.older_ms) | join(" ")')
	if [ "$got" != "2000 6000 5000" ]; then
		fail "older_ms of intervals 2, 7 and 2 with -o 5: $got, expected 2000 6000 5000 ($(head -2 "$TMP/e"))"
	else
		pass
	fi
}

# -t: each recorded allocation as "HH:MM:SS.mmm alloc ADDR SIZE B by COMM[PID]
# in CONTEXT" in local time, as the interval reports print times, its stack on
# tab-indented lines; each free of one as "HH:MM:SS.mmm free  ADDR SIZE B by
# COMM[PID], allocated S s before by COMM[PID]", of an address an alloc line gave
test_trace_lines() {
	# mawk, Debian's awk, has no {n} intervals
	local t='[0-2][0-9]:[0-5][0-9]:[0-5][0-9][.][0-9][0-9][0-9]' now before
	need_root || return
	before=$(date +%H:%M)
	start_kleak -t -c "$TEST_COMM" -o 0 || { fail "kleak did not attach"; return; }
	start_workload tl -c 5 -n "$TEST_COMM" files || { fail "workload failed"; return; }
	release_workload tl
	wait_for "$TMP/out" " free .* by $TEST_COMM" 10
	stop_kleak
	now=$(date +%H:%M)
	awk -v t="^$t " -v c="$TEST_COMM" '
		$0 ~ t "alloc 0x[0-9a-f]+ [0-9]+ B by " c "\\[[0-9]+\\] in (task|softirq|hardirq|nmi)$" {
			a[$3] = 1; n++; stack = 1; next }
		$0 ~ t "free  0x[0-9a-f]+ [0-9]+ B by .*\\[[0-9]+\\], allocated [0-9]+[.][0-9][0-9][0-9] s before by " c "\\[[0-9]+\\]$" {
			if (!($3 in a)) { print "a free of an address no alloc line gave: " $0; exit 1 }
			f++; stack = 0; next }
		/^\t/ { if (!stack) { print "a stack line after no alloc line: " $0; exit 1 } s++; next }
		/^kleak [0-9.]+, kernel / { exit }	# the final report
		{ print "not a trace line: " $0; exit 1 }
		END { if (!n || !f || !s) { print n + 0 " allocs, " f + 0 " frees, " s + 0 " stack lines"; exit 1 } }
		' "$TMP/out" > "$TMP/bad"
	local st=$?
	if [ "$KLEAK_STATUS" -ne 0 ]; then
		fail "kleak -t exited $KLEAK_STATUS: $(cat "$TMP/err")"
	elif [ $st -ne 0 ]; then
		fail "$(cat "$TMP/bad")"
	elif ! grep -Eq "^($before|$now):" "$TMP/out"; then
		fail "times are not local HH:MM (between $before and $now): $(head -1 "$TMP/out")"
	else
		pass
	fi
}

# the text report's header gives kleak's command line, quoted as a shell
# needs it, live and when a saved run is printed again
test_report_command() {
	local want
	need_root || return
	"$KLEAK" --duration 1 -T 1 -c 'a b&c' -w "$TMP/q.run" > "$TMP/live" 2> "$TMP/e" ||
		{ fail "kleak: $(cat "$TMP/e")"; return; }
	"$KLEAK" report "$TMP/q.run" > "$TMP/saved" 2> "$TMP/e"
	want="command: $KLEAK --duration 1 -T 1 -c 'a b&c' -w $TMP/q.run"
	if ! grep -qxF -- "$want" "$TMP/live"; then
		fail "live: $(grep '^command' "$TMP/live"), expected $want"
	elif ! grep -qxF -- "$want" "$TMP/saved"; then
		fail "kleak report: $(grep '^command' "$TMP/saved"), expected $want"
	else
		pass
	fi
}

# kleak report --exclude counts the sites it left out as the header counts
# sites, those holding allocations: what it did not leave out is the header's
# figure, in a run that also has a site holding nothing (a run keeps such a
# site only when its records were retired, which no workload makes happen at
# will: the fixture, a real run, has a maple_node site whose one record was)
test_exclude_count() {
	local run=tests/fixtures/classes-mapped.run empty msg header
	empty=$(awk '$1 == "site" && $12 == 0 { n++ } END { print n + 0 }' "$run")
	"$KLEAK" report -o 1 --exclude do_syscall_64 "$run" > "$TMP/o" 2> "$TMP/e"
	msg=$(sed -n 's/.* left out \([0-9]*\) of the \([0-9]*\) sites holding allocations$/\2 - \1/p' "$TMP/e")
	header=$(sed -n 's/^[0-9]* of \([0-9]*\) allocation sites .*/\1/p' "$TMP/o")
	if [ "$empty" -eq 0 ]; then
		fail "$run has no site holding nothing: nothing to tell apart"
	elif [ -z "$msg" ] || [ -z "$header" ]; then
		fail "no count: $(cat "$TMP/e") / $(sed -n 4,6p "$TMP/o" | tr '\n' ' ')"
	elif [ $((msg)) -ne "$header" ]; then
		fail "--exclude: $(cat "$TMP/e"), header: $(grep 'allocation sites' "$TMP/o")"
	else
		pass
	fi
}

for t in bad_options help_version static env_errors features command_status report_golden \
	 subcommand_help pid_checks parent_hint interval_older trace_lines report_command \
	 exclude_count ustack_pprof; do
	run_test $t
done
