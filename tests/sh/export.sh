# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# The stack formats read by their real consumers: go tool pprof (golang-go)
# reads every profile kleak writes, with the text report's totals; headless
# Chromium renders the flame graphs and runs their search and zoom. Then what
# --output does with files: atomic, 0600, never through a planted symlink or
# onto another user's file, intact on a full filesystem, refused at start.
. "$(dirname "$0")/lib.sh"

FIX=tests/fixtures
COMM=$TEST_COMM
export HOME=$TMP GOCACHE=$TMP/go-cache GOFLAGS=-mod=mod
PATH=$PATH:/usr/lib/go/bin

need_go() {
	command -v go > /dev/null && return
	skip "go not found: install Debian package golang-go (make deps)"
	return 1
}

need_chromium() {
	command -v chromium > /dev/null && return
	skip "chromium not found: install Debian package chromium (make deps)"
	return 1
}

# sum_report: "OBJECTS BYTES" over the site rows of a text report on stdin
sum_report() {
	awk '/^\[[0-9]+\] [0-9]+ objects, [0-9]+ bytes/ { o += $2; b += $4 }
	     END { printf "%d %d\n", o, b }'
}

# sum_pprof FILE [ARGS]: "OBJECTS BYTES" over the samples go tool pprof -raw
# reads, with its options ARGS (-tagfocus=...)
sum_pprof() {
	go tool pprof -raw "${@:2}" "$1" > "$TMP/raw" 2> "$TMP/pprof.err" &&
		grep -q '^objects/count space/bytes' "$TMP/raw" && awk '
		/^Samples:/ { s = 1; next }
		/^Locations/ { s = 0 }
		s && /^ *-?[0-9]+ +-?[0-9]+:/ { o += $1; sub(":", "", $2); b += $2; n++ }
		END { printf "%d %d\n", o, b }' "$TMP/raw"
}

# cum_by_function ARGS...: "FUNCTION CUM_BYTES" lines of go tool pprof -top, sorted
cum_by_function() {
	go tool pprof -top -cum -unit=B -nodecount=100000 "$@" 2> "$TMP/pprof.err" |
		awk '/^ *-?[0-9.]+B? +-?[0-9.]+% / { v = $4; sub("B$", "", v); $1 = $2 = $3 = $4 = $5 = "";
		     sub("^ +", ""); print $0, v }' | sort
}

# every saved run, as its own report and as every site of any age: the
# profile's totals are the text report's, to the object and the byte
test_pprof_totals() {
	local f args text prof bad=
	need_go || return
	for f in "$FIX"/*.run; do
		for args in "" "-o 0 -T 0"; do
			# the stack formats draw every site unless --top is given
			# shellcheck disable=SC2086
			text=$("$KLEAK" report $args -T 0 "$f" 2> /dev/null | sum_report)
			# shellcheck disable=SC2086
			"$KLEAK" report $args --format pprof "$f" 2> "$TMP/err" > "$TMP/p.pb.gz" ||
				{ bad="$f: $(cat "$TMP/err")"; break 2; }
			prof=$(sum_pprof "$TMP/p.pb.gz") ||
				{ bad="$f: go tool pprof -raw: $(head -1 "$TMP/pprof.err")"; break 2; }
			go tool pprof -top "$TMP/p.pb.gz" > "$TMP/top" 2>&1 ||
				{ bad="$f: go tool pprof -top: $(head -1 "$TMP/top")"; break 2; }
			[ "$text" = "$prof" ] ||
				{ bad="$f ${args:-(saved options)}: text $text, pprof $prof"; break 2; }
		done
	done
	if [ -n "$bad" ]; then
		fail "$bad"
	elif ! go tool pprof -raw "$TMP/p.pb.gz" | grep -q '^objects/count space/bytes\[dflt\]'; then
		fail "sample types are not objects/count and space/bytes"
	else
		pass
	fi
}

# what the profile says besides the numbers: modules, labels, comments, time
test_pprof_contents() {
	need_go || return
	"$KLEAK" report -o 0 --format pprof $FIX/tcp.run > "$TMP/t.pb.gz"
	go tool pprof -raw "$TMP/t.pb.gz" > "$TMP/raw" 2>&1
	if ! grep -q 'do_dentry_open \[xfs\]' "$TMP/raw"; then
		fail "module frame not in mapping [xfs]: $(grep do_dentry_open "$TMP/raw")"
	elif ! grep -q 'sk_prot_alloc \[kernel\]' "$TMP/raw"; then
		fail "kernel frame not in mapping [kernel]"
	elif ! grep -q 'cache:\[TCP\] comm:\[workload\] context:\[task softirq\]' "$TMP/raw"; then
		fail "labels missing: $(grep -m1 cache: "$TMP/raw")"
	elif ! grep -q '^Comment: not seen: .*1 stacks lost' "$TMP/raw"; then
		fail "the not seen summary is not among the comments"
	elif ! grep -q '^Time: 2023-11-14 22:13:20 +0000 UTC' "$TMP/raw" ||
	     ! grep -q '^Duration: 30s' "$TMP/raw"; then
		fail "time of the run: $(grep -E '^(Time|Duration):' "$TMP/raw" | tr '\n' ' ')"
	elif script -qec "$KLEAK report --format pprof $FIX/tcp.run" /dev/null > "$TMP/tty"; then
		fail "pprof written to a terminal"
	elif ! grep -q 'give --output FILE' "$TMP/tty" || [ "$(wc -l < "$TMP/tty")" -ne 1 ]; then
		fail "no one-line hint on a terminal: $(cat "$TMP/tty")"
	else
		pass
	fi
}

# kleak diff's B-minus-A profile is what go tool pprof -diff_base makes of the
# two runs' own profiles, function by function; its total is kleak diff's
test_pprof_diff() {
	local a=$FIX/tcp.run b=$FIX/files.run total prof
	need_go || return
	"$KLEAK" report -o 0 -T 0 --format pprof $a > "$TMP/a.pb.gz"
	"$KLEAK" report -o 0 -T 0 --format pprof $b > "$TMP/b.pb.gz"
	"$KLEAK" diff --format pprof $a $b > "$TMP/d.pb.gz"
	cum_by_function -diff_base="$TMP/a.pb.gz" "$TMP/b.pb.gz" > "$TMP/base"
	cum_by_function "$TMP/d.pb.gz" > "$TMP/kleak"
	total=$("$KLEAK" diff -T 0 --format json $a $b | jq -r '"\(.total.delta_count) \(.total.delta_bytes)"')
	prof=$(sum_pprof "$TMP/d.pb.gz")
	"$KLEAK" diff --format pprof $FIX/diff-k61.run $FIX/diff-k618.run > "$TMP/k.pb.gz"
	if [ ! -s "$TMP/base" ] || ! grep -q '^sk_prot_alloc ' "$TMP/base"; then
		fail "go tool pprof -diff_base: $(head -2 "$TMP/pprof.err")"
	elif ! diff "$TMP/base" "$TMP/kleak" > "$TMP/d"; then
		fail "per function, -diff_base and kleak diff differ: $(head -4 "$TMP/d" | tr '\n' ' ')"
	elif [ "$total" != "$prof" ]; then
		fail "kleak diff total $total, its profile $prof"
	elif [ "$(sum_pprof "$TMP/k.pb.gz")" != "$("$KLEAK" diff -T 0 --format json \
			$FIX/diff-k61.run $FIX/diff-k618.run |
			jq -r '"\(.total.delta_count) \(.total.delta_bytes)"')" ]; then
		fail "across kernels, the profile's total is not kleak diff's"
	else
		pass
	fi
}

# folded: every line "frames VALUE" (a diff: "frames A B"), root first, the
# cache on top; its total is the text report's
test_folded() {
	local text folded
	text=$("$KLEAK" report -T 0 $FIX/report-bulk.run | sum_report)
	folded=$("$KLEAK" report --format folded $FIX/report-bulk.run |
		awk '{ b += $NF } END { print b }')
	if [ "${text#* }" != "$folded" ]; then
		fail "folded total $folded, text report ${text#* }"
	elif "$KLEAK" report --format folded $FIX/report-bulk.run |
			grep -qvE '^[^; ]([^;]*;)*\[cache [^];]+\] [0-9]+$'; then
		fail "a line is not 'frame;...;[cache C] VALUE'"
	elif "$KLEAK" diff --format folded $FIX/diff-k61.run $FIX/diff-k618.run |
			grep -qvE '^[^; ]([^;]*;)*\[cache [^];]+\] [0-9]+ [0-9]+$'; then
		fail "a diff line is not 'frames A B'"
	elif "$KLEAK" report --format json --value count $FIX/tcp.run 2> "$TMP/err" ||
	     ! grep -q 'give --format folded or svg' "$TMP/err"; then
		fail "--value count accepted for JSON"
	else
		pass
	fi
}

# chromium_run SVG FRAGMENT: the page's own test hook's result, after its
# search and zoom, as the headless browser drew it
chromium_run() {
	timeout 60 chromium --headless --no-sandbox --disable-gpu --user-data-dir="$TMP/chromium" \
		--virtual-time-budget=5000 --dump-dom "file://$1#kleak-test:$2" 2> /dev/null |
		sed -n '/<text id="kleak-test"/,/<\/text>/p'
}

test_svg_chromium() {
	local out
	need_chromium || return
	"$KLEAK" report -o 0 --format svg -O "$TMP/r.svg" $FIX/tcp.run
	out=$(chromium_run "$TMP/r.svg" 'search=^tcp_&zoom=inet_create')
	echo "$out" > "$TMP/r.out"
	"$KLEAK" diff --format svg -O "$TMP/d.svg" $FIX/diff-k61.run $FIX/diff-k618.run
	chromium_run "$TMP/d.svg" 'search=copy_process&zoom=dup_mmap' > "$TMP/d.out"
	if ! grep -q 'matches=3' "$TMP/r.out" || ! grep -q 'matched=Matched: 34.0%' "$TMP/r.out"; then
		fail "search ^tcp_: $(head -2 "$TMP/r.out" | tr '\n' ' ')"
	elif ! grep -q '^D sk_prot_alloc 1180$' "$TMP/r.out" || grep -q 'tcp_sendmsg' "$TMP/r.out"; then
		fail "zoom on inet_create drew: $(tr '\n' ' ' < "$TMP/r.out")"
	elif grep -o 'https\?://[^"]*' "$TMP/r.svg" "$TMP/d.svg" | grep -vq ':http://www.w3.org/2000/svg$'; then
		fail "the flame graph refers to the network"
	elif ! grep -q 'host alpha, kernel 6.1.0-13-amd64, filters: none, run 2023-11-14 22:13:20 UTC, 30 s' "$TMP/r.svg" ||
	     ! grep -q '>not seen: ' "$TMP/r.svg"; then
		fail "the title lacks host, kernel, filters, run time or the not seen summary"
	elif ! grep -q '<title>sk_alloc (9216 bytes, 4 objects, 51.06%)</title>' "$TMP/r.svg"; then
		fail "tooltip: $(grep -o '<title>sk_alloc[^<]*' "$TMP/r.svg")"
	elif ! grep -q '^M copy_process ' "$TMP/d.out" || ! grep -q '^D dup_mmap 1180$' "$TMP/d.out" ||
	     grep -q '^D security_task_alloc' "$TMP/d.out"; then
		fail "diff graph: $(head -8 "$TMP/d.out" | tr '\n' ' ')"
	elif ! grep -q 'fill="hsl(0,80%' "$TMP/d.svg" || ! grep -q 'fill="hsl(220,80%' "$TMP/d.svg"; then
		fail "the diff graph has not both growth and shrinkage colours"
	else
		pass
	fi
}

# owner, mode and type of a path
stat_of() { stat -c '%U %a %F' "$1"; }

test_output_safety() {
	local d=$TMP/sticky bad='' f
	need_root || return
	mkdir -m 1777 "$d"
	echo victim > "$TMP/victim"
	: > "$d/theirs.svg"
	chown nobody "$d/theirs.svg"
	ln -s "$TMP/victim" "$d/planted.svg"
	chown -h nobody "$d/planted.svg"
	ln -s "$TMP/victim" "$d/mine.svg"
	for f in theirs planted; do
		"$KLEAK" report --format svg -O "$d/$f.svg" $FIX/tcp.run 2> "$TMP/err" &&
			{ bad="wrote $f.svg"; break; }
		if [ "$(wc -l < "$TMP/err")" -ne 1 ] || ! grep -q 'belongs to uid 65534' "$TMP/err"; then
			bad="$f.svg: $(cat "$TMP/err")"
			break
		fi
	done
	# a run file the same: refused before anything is traced
	"$KLEAK" --duration 1 -w "$d/theirs.svg" 2> "$TMP/err" && bad=${bad:-"-w wrote theirs.svg"}
	grep -q tracing "$TMP/err" && bad=${bad:-"-w traced before refusing theirs.svg"}
	"$KLEAK" report --format svg -O "$d/mine.svg" $FIX/tcp.run 2> "$TMP/err" ||
		bad=${bad:-"own symlink: $(cat "$TMP/err")"}
	"$KLEAK" diff --format folded -O "$d/new.folded" $FIX/tcp.run $FIX/files.run ||
		bad=${bad:-"diff --output failed"}
	if [ -n "$bad" ]; then
		fail "$bad"
	elif [ "$(cat "$TMP/victim")" != victim ]; then
		fail "written through a symlink"
	elif [ "$(stat -c '%U %s' "$d/theirs.svg")" != "nobody 0" ]; then
		fail "another user's file was replaced"
	elif [ "$(stat_of "$d/mine.svg")" != "root 600 regular file" ] ||
	     [ "$(stat_of "$d/new.folded")" != "root 600 regular file" ]; then
		fail "created as $(stat_of "$d/mine.svg"), $(stat_of "$d/new.folded")"
	elif [ "$(ls -A "$d" | wc -l)" -ne 4 ]; then
		fail "left behind: $(ls -A "$d" | tr '\n' ' ')"
	else
		pass
	fi
}

# an output that cannot be written is refused before anything is read or traced
test_output_refused() {
	local bad='' args
	while read -r args; do
		# shellcheck disable=SC2086
		"$KLEAK" $args > "$TMP/out" 2> "$TMP/err" && { bad="accepted: $args"; break; }
		if [ "$(wc -l < "$TMP/err")" -ne 1 ] || grep -q tracing "$TMP/err"; then
			bad="$args: $(tr '\n' ' ' < "$TMP/err")"
			break
		fi
	done <<EOF2
report --format svg -O /nonexistent/x.svg $FIX/tcp.run
diff -O /nonexistent/x $FIX/tcp.run $FIX/files.run
report --format folded -O $TMP $FIX/tcp.run
--duration 1 --format pprof -O /nonexistent/x.pb.gz
--duration 1 -w /nonexistent/x.run
--format folded 1 3
EOF2
	if [ -n "$bad" ]; then fail "$bad"; else pass; fi
}

# a full filesystem: one line, non-zero status, the previous file intact, no leftovers
test_output_full_fs() {
	local d=$TMP/full status intact wstatus wintact
	need_root || return
	mkdir "$d"
	mount -t tmpfs -o size=64k kleak-test "$d" || { skip "cannot mount a tmpfs"; return; }
	"$KLEAK" report -o 0 --format folded -O "$d/out" $FIX/tcp.run
	cp "$d/out" "$TMP/before"
	cp "$d/out" "$d/x.run"
	dd if=/dev/zero of="$d/fill" bs=4k 2> /dev/null
	"$KLEAK" diff --format svg -O "$d/out" $FIX/diff-k61.run $FIX/diff-k618.run 2> "$TMP/err"
	status=$?
	cmp -s "$TMP/before" "$d/out"
	intact=$?
	# a run file (-w) at the end of a live run: the same outfile code, the same outcome
	"$KLEAK" --duration 1 -c "$COMM" -w "$d/x.run" > /dev/null 2> "$TMP/err.w"
	wstatus=$?
	cmp -s "$TMP/before" "$d/x.run"
	wintact=$?
	ls -A "$d" > "$TMP/ls"
	umount "$d"
	if [ "$status" -eq 0 ]; then
		fail "wrote to a full filesystem"
	elif [ "$(wc -l < "$TMP/err")" -ne 1 ] || ! grep -q 'No space left on device' "$TMP/err"; then
		fail "error: $(cat "$TMP/err")"
	elif [ "$(tr '\n' ' ' < "$TMP/ls")" != "fill out x.run " ]; then
		fail "left behind: $(tr '\n' ' ' < "$TMP/ls")"
	elif [ "$intact" -ne 0 ]; then
		fail "previous file changed"
	elif [ "$wstatus" -eq 0 ] || [ "$wintact" -ne 0 ] ||
	     [ "$(grep -c 'No space left on device' "$TMP/err.w")" -ne 1 ]; then
		fail "-w on a full filesystem: status $wstatus: $(cat "$TMP/err.w")"
	else
		pass
	fi
}

# live: each interval replaces the --output file (a new inode each time), and
# the last one is the final report, with the workload's sockets
test_live_interval() {
	local f=$TMP/live.folded i1 i2 deadline
	need_root || return
	start_kleak -c "$COMM" -o 0 --format folded -O "$f" 1 4 ||
		{ fail "kleak did not attach"; return; }
	start_workload tcp -c 50 -n "$COMM" tcp || { fail "workload failed"; return; }
	deadline=$((SECONDS + 20))
	until [ -e "$f" ] || [ $SECONDS -ge $deadline ]; do
		sleep 0.05
	done
	i1=$(stat -c %i "$f" 2> /dev/null)
	deadline=$((SECONDS + 20))
	while i2=$(stat -c %i "$f" 2> /dev/null); [ "$i2" = "$i1" ] && [ $SECONDS -lt $deadline ]; do
		sleep 0.05
	done
	wait "$KLEAK_PID"
	KLEAK_STATUS=$?
	KLEAK_PID=
	release_workload tcp
	if [ -z "$i1" ] || [ "$i1" = "$i2" ]; then
		fail "the file was not replaced by the next interval (inodes $i1, $i2)"
	elif [ "$KLEAK_STATUS" -ne 0 ]; then
		fail "kleak exited $KLEAK_STATUS: $(cat "$TMP/err")"
	elif ! grep -qE ';sk_prot_alloc;([^;]*;)?\[cache TCP\](;\[held by [a-z-]+\])? [0-9]+$' "$f"; then
		fail "no TCP sockets in $(head -3 "$f")"
	elif [ -s "$TMP/out" ]; then
		fail "reports went to stdout as well"
	else
		pass
	fi
}

# live: the final pprof profile holds what the saved run's text report does
test_live_pprof() {
	local text prof
	need_root || return
	need_go || return
	start_workload tcp -c 50 -n "$COMM" tcp || { fail "workload failed"; return; }
	start_kleak -c "$COMM" -o 0 --format pprof -O "$TMP/live.pb.gz" -w "$TMP/live.run" ||
		{ fail "kleak did not attach"; return; }
	release_workload tcp
	start_workload tcp2 -c 50 -n "$COMM" tcp || { fail "workload failed"; return; }
	stop_kleak
	release_workload tcp2
	text=$("$KLEAK" report -o 0 -T 0 "$TMP/live.run" | sum_report)
	prof=$(sum_pprof "$TMP/live.pb.gz")
	if [ "$KLEAK_STATUS" -ne 0 ]; then
		fail "kleak exited $KLEAK_STATUS: $(cat "$TMP/err")"
	elif [ "$text" != "$prof" ] || [ "${text% *}" -lt 50 ]; then
		fail "text report $text, pprof $prof"
	elif ! go tool pprof -top -focus=sk_prot_alloc "$TMP/live.pb.gz" 2>&1 | grep -q '\[cache TCP\]'; then
		fail "no TCP sockets under sk_prot_alloc in the profile"
	else
		pass
	fi
}

# Object classes (classes-a/b.run: every class held): a profile's samples
# are split per class under the held_by label, which go tool pprof -tags
# lists and -tagfocus selects; folded and svg put the class as a frame above
# the cache ("[held by reaped]"), so a flame graph splits the cache's box per
# class. Each class holds what kleak's JSON says, in a report and a diff.
test_classes() {
	local a=$FIX/classes-a.run b=$FIX/classes-b.run c want got bad=
	need_go || return
	"$KLEAK" report -o 0 -T 0 --format pprof $b > "$TMP/c.pb.gz"
	"$KLEAK" report -o 0 -T 0 --format json $b > "$TMP/c.json"
	"$KLEAK" report -o 0 -T 0 --format folded $b > "$TMP/c.folded"
	"$KLEAK" report -o 0 -T 0 --format svg $b > "$TMP/c.svg"
	"$KLEAK" diff --format pprof $a $b > "$TMP/d.pb.gz"
	"$KLEAK" diff --format json $a $b > "$TMP/d.json"
	for c in $(jq -r '.held_by.classes | keys[]' "$TMP/c.json"); do
		want=$(jq -r --arg c "$c" '"\(.held_by.classes[$c]) \([.sites[]
			| (.held_by[$c] // 0) * .object_size] | add)"' "$TMP/c.json")
		got=$(sum_pprof "$TMP/c.pb.gz" -tagfocus="held_by=^$c\$")
		[ "$got" = "$want" ] || { bad="pprof held_by=$c: $got, JSON $want"; break; }
		got=$(awk -v c="[held by $c]" 'index($0, ";" c " ") { n += $NF } END { print n + 0 }' \
			"$TMP/c.folded")
		[ "$got" = "${want#* }" ] || { bad="folded [held by $c]: $got bytes, JSON ${want#* }"; break; }
		want=$(jq -r --arg c "$c" '[.held_by[] | select(.class == $c) | .delta] | add' "$TMP/d.json")
		got=$(sum_pprof "$TMP/d.pb.gz" -tagfocus="held_by=^$c\$")
		[ "${got% *}" = "$want" ] || { bad="diff pprof held_by=$c: ${got% *}, diff JSON $want"; break; }
	done
	if [ -n "$bad" ]; then
		fail "$bad"
	elif ! go tool pprof -tags "$TMP/c.pb.gz" 2> /dev/null | grep -q '^ held_by: Total'; then
		fail "go tool pprof -tags lists no held_by"
	elif grep -v '\[held by [a-z-]*\] [0-9]*$' "$TMP/c.folded" | grep -Eq \
			'\[cache (task_struct|filp|TCP|sock_inode_cache)\]'; then
		fail "a line of a classified cache has no class frame"
	elif ! grep -q '>\[held by reaped\] (' "$TMP/c.svg"; then
		fail "the svg draws no [held by reaped] frame"
	else
		pass
	fi
}

for t in pprof_totals pprof_contents pprof_diff folded svg_chromium output_safety output_refused \
	 output_full_fs live_interval live_pprof classes; do
	run_test $t
done
