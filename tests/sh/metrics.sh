# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# --metrics for node_exporter, and the status line: a real run, its metrics
# file checked by promtool and served by a real prometheus-node-exporter
# (Debian packages prometheus and prometheus-node-exporter), and the status
# line read from a real pseudo-terminal (script, from util-linux).
. "$(dirname "$0")/lib.sh"

COMM=$TEST_COMM
NODE_EXPORTER=${NODE_EXPORTER:-prometheus-node-exporter}
NE_PID=

# metric_value FILE 'NAME{LABELS}': the sample's value, empty when absent
metric_value() {
	awk -v s="$2" 'index($0, s " ") == 1 { print $NF }' "$1"
}

# start_node_exporter DIR: node_exporter on 127.0.0.1, reading DIR's *.prom
# files as the prometheus user where there is one (as the Debian service
# does, so the file must be readable by another user); sets NE_URL
start_node_exporter() {
	local port try as=()
	id prometheus > /dev/null 2>&1 && as=(setpriv --reuid=prometheus --regid=prometheus
		--clear-groups --inh-caps=-all)
	for try in 1 2 3 4 5; do
		port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
		# not holding the workload's stdin open (without_holds)
		(without_holds "${as[@]}" "$NODE_EXPORTER" --web.listen-address="127.0.0.1:$port" \
			--collector.disable-defaults --collector.textfile \
			--collector.textfile.directory="$1") > "$TMP/ne.log" 2>&1 &
		NE_PID=$!
		NE_URL="http://127.0.0.1:$port/metrics"
		local deadline=$((SECONDS + 20))
		while kill -0 "$NE_PID" 2>/dev/null && [ $SECONDS -lt $deadline ]; do
			curl -sf "$NE_URL" -o /dev/null && return 0
			sleep 0.1
		done
		# the port was taken between the probe and the listen: another one
		kill "$NE_PID" 2>/dev/null
		wait "$NE_PID" 2>/dev/null
		NE_PID=
	done
	return 1
}

stop_node_exporter() {
	[ -n "$NE_PID" ] && kill "$NE_PID" 2>/dev/null && wait "$NE_PID" 2>/dev/null
	NE_PID=
}

# kleak -c COMM --metrics while the workload holds 200 files, then after it
# released them: promtool accepts every file, node_exporter serves kleak's
# series from it, and the series follow the objects (a negative control)
test_node_exporter() {
	local dir prom held after served site_series mode
	# the workload's files: its other objects (its task, its pipes) stay
	local filp='kleak_cache_outstanding_objects{cache="filp"}' 
	need_root || return
	if ! command -v promtool > /dev/null || ! command -v "$NODE_EXPORTER" > /dev/null; then
		fail "promtool or $NODE_EXPORTER missing: make deps installs prometheus and prometheus-node-exporter"
		return
	fi
	# a directory node_exporter's own user may enter
	dir=$(mktemp -d /tmp/kleak-textfile.XXXXXX)
	chmod 755 "$dir"
	prom=$dir/kleak.prom
	# node_exporter reads the file as its own user: --file-mode 0644 lets it
	start_kleak -c "$COMM" -o 0 --format json --metrics "$prom" --file-mode 0644 ||
		{ fail "kleak did not attach"; rm -rf "$dir"; return; }
	start_workload mf -c 200 -n "$COMM" files || { fail "workload failed"; rm -rf "$dir"; return; }
	report_now || { fail "no report on SIGUSR1"; rm -rf "$dir"; return; }
	cp "$prom" "$TMP/held.prom"
	start_node_exporter "$dir" || { fail "node_exporter did not start: $(tail -2 "$TMP/ne.log")"; rm -rf "$dir"; return; }
	curl -sf "$NE_URL" > "$TMP/served.prom"
	release_workload mf
	# the files' frees are deferred (RCU): ask until they are seen
	local deadline=$((SECONDS + 20))
	while :; do
		report_now || break
		after=$(metric_value "$prom" "$filp")
		[ "${after:-0}" -lt 20 ] || [ $SECONDS -ge $deadline ] && break
		sleep 0.2
	done
	curl -sf "$NE_URL" > "$TMP/served-after.prom"
	stop_kleak
	stop_node_exporter
	promtool check metrics < "$TMP/held.prom" > "$TMP/promtool" 2>&1
	local pst=$?
	promtool check metrics < "$prom" >> "$TMP/promtool" 2>&1 || pst=1
	held=$(metric_value "$TMP/held.prom" "kleak_comm_outstanding_objects{comm=\"$COMM\"}")
	served=$(metric_value "$TMP/served.prom" "kleak_comm_outstanding_objects{comm=\"$COMM\"}")
	site_series=$(grep -c '^kleak_site_outstanding_objects{' "$TMP/held.prom")
	mode=$(stat -c %a "$prom")
	if [ $pst -ne 0 ]; then
		fail "promtool check metrics: $(head -3 "$TMP/promtool" | tr '\n' '|')"
	elif [ "${held:-0}" -lt 200 ]; then
		fail "held 200 files: kleak_comm_outstanding_objects{comm=\"$COMM\"} is '${held}'"
	elif ! awk -v n=200 '/^kleak_cache_outstanding_objects\{cache="filp"\} / && $2 >= n { f = 1 }
			END { exit !f }' "$TMP/held.prom"; then
		fail "no filp series with 200 objects: $(grep 'cache="filp"' "$TMP/held.prom" | head -2)"
	# the first frame outside the allocator: alloc_empty_file, or on 5.10 its __alloc_file
	elif ! grep -qE '^kleak_site_outstanding_objects\{cache="filp",(function="alloc_empty_file",caller="[^"]*"|function="__alloc_file",caller="alloc_empty_file")\} ' \
			"$TMP/held.prom"; then
		fail "no site series for alloc_empty_file: $(grep '^kleak_site_outstanding_objects' "$TMP/held.prom" | head -3)"
	elif [ "$site_series" -gt 10 ]; then
		fail "$site_series site series, more than --top's 10"
	elif [ "$served" != "$held" ]; then
		fail "node_exporter serves '$served' for the comm, the file says '$held'"
	elif ! grep -q '^node_textfile_scrape_error 0' "$TMP/served.prom"; then
		fail "node_exporter could not read the file: $(grep textfile "$TMP/served.prom" | head -3)"
	elif [ "${after:-0}" -ge 20 ]; then
		fail "released: $filp still '$after'"
	elif [ "$(metric_value "$TMP/served-after.prom" "$filp")" != "${after:-}" ]; then
		fail "node_exporter serves $filp '$(metric_value "$TMP/served-after.prom" "$filp")' after the release, the file says '${after:-}'"
	elif [ "$mode" != 644 ]; then
		fail "metrics file mode $mode, expected 644 (--file-mode 0644)"
	elif ls -A "$dir" | grep -qv '^kleak.prom$'; then
		fail "temporary files left beside the metrics file: $(ls -A "$dir" | tr '\n' ' ')"
	elif [ "$KLEAK_STATUS" -ne 0 ]; then
		fail "kleak exited $KLEAK_STATUS"
	else
		pass
	fi
	rm -rf "$dir"
}

# interval mode writes the file at every interval and at the end: each write
# (a new inode, the rename) is caught and checked, three for "1 3": promtool
# accepts it, the counters and the health series are there, the run's map
# sizes give the fill, and each is later than the one before
test_metrics_intervals() {
	local st n=0 ino last= f=$TMP/i.prom t prev=0 bad=
	need_root || return
	"$KLEAK" -c "$COMM" --max-allocs 4096 --metrics "$f" 1 3 > /dev/null 2> "$TMP/e" &
	local pid=$!
	while kill -0 $pid 2> /dev/null; do
		ino=$(stat -c %i "$f" 2> /dev/null)
		if [ -n "$ino" ] && [ "$ino" != "$last" ]; then
			n=$((n + 1))
			cp "$f" "$TMP/write.$n"
			last=$ino
		fi
		sleep 0.02
	done
	wait $pid
	st=$?
	# the final write may land between the last look and the exit
	ino=$(stat -c %i "$f" 2> /dev/null)
	[ -n "$ino" ] && [ "$ino" != "$last" ] && n=$((n + 1)) && cp "$f" "$TMP/write.$n"
	for i in $(seq 1 $n); do
		t=$(metric_value "$TMP/write.$i" kleak_report_time_seconds)
		if ! promtool check metrics < "$TMP/write.$i" > "$TMP/promtool" 2>&1; then
			bad="write $i: promtool: $(head -3 "$TMP/promtool" | tr '\n' '|')"
		elif [ -z "$(metric_value "$TMP/write.$i" kleak_alloc_events_total)" ] ||
		     [ -z "$(metric_value "$TMP/write.$i" 'kleak_not_seen_total{reason="allocs_map_full"}')" ] ||
		     [ -z "$(metric_value "$TMP/write.$i" 'kleak_not_seen_total{reason="recursion_misses"}')" ] ||
		     [ -z "$(metric_value "$TMP/write.$i" kleak_alloc_events_per_second)" ] ||
		     [ -z "$(metric_value "$TMP/write.$i" kleak_allocs_map_fill_ratio)" ] ||
		     [ -z "$(metric_value "$TMP/write.$i" kleak_sites_map_fill_ratio)" ]; then
			bad="write $i: counters or health series missing: $(grep -v '^#' "$TMP/write.$i" | tail -12 | tr '\n' '|')"
		elif ! grep -q '^kleak_info{version="[0-9.]*",kernel="'"$(uname -r)"'",programs="[^"]*",filters="comm='"$COMM"'"} 1$' "$TMP/write.$i"; then
			bad="write $i: kleak_info: $(grep '^kleak_info' "$TMP/write.$i")"
		elif [ -z "$t" ] || [ "$t" -le "$prev" ]; then
			bad="write $i taken at '$t', not after the one before ($prev)"
		fi
		[ -n "$bad" ] && break
		prev=$t
	done
	if [ $st -ne 0 ]; then
		fail "kleak 1 3 --metrics exited $st: $(cat "$TMP/e")"
	elif [ -n "$bad" ]; then
		fail "$bad"
	elif [ $n -ne 3 ]; then
		fail "$n writes of the metrics file seen, expected 3 (two intervals and the end)"
	else
		pass
	fi
}

# a report that cannot be written (stdout on a full device) keeps neither
# the metrics nor the run file from being written: each output on its own,
# and kleak still exits 1 with one line
test_metrics_independent() {
	local st
	need_root || return
	"$KLEAK" --duration 1 -c "$COMM" --metrics "$TMP/ind.prom" -w "$TMP/ind.run" \
		> /dev/full 2> "$TMP/e"
	st=$?
	if [ $st -ne 1 ] || [ "$(grep -c '^kleak: ' "$TMP/e")" -ne 2 ] ||
	   ! grep -q 'No space left on device' "$TMP/e"; then
		fail "status $st: $(tr '\n' '|' < "$TMP/e")"
	elif ! promtool check metrics < "$TMP/ind.prom" > /dev/null 2>&1; then
		fail "no metrics file written after the report failed"
	elif ! "$KLEAK" report "$TMP/ind.run" > /dev/null 2>&1; then
		fail "no run file written after the report failed"
	else
		pass
	fi
}

# kleak report --metrics on checked-in runs: byte-for-byte goldens that
# promtool accepts (no BPF needed). KLEAK_REGEN=1 rewrites them.
test_metrics_golden() {
	local name run bad=
	if ! command -v promtool > /dev/null; then
		fail "promtool missing: make deps installs prometheus"
		return
	fi
	while read -r name run; do
		"$KLEAK" report --metrics "$TMP/$name" "tests/fixtures/$run" > /dev/null 2> "$TMP/err" ||
			{ bad="kleak report --metrics $run: $(cat "$TMP/err")"; break; }
		if [ -n "${KLEAK_REGEN:-}" ]; then
			cp "$TMP/$name" "tests/fixtures/$name"
		elif ! cmp -s "$TMP/$name" "tests/fixtures/$name"; then
			bad="$name: $(diff "tests/fixtures/$name" "$TMP/$name" | head -3 | tr '\n' ' ')"
			break
		fi
		if ! promtool check metrics < "$TMP/$name" > "$TMP/p" 2>&1; then
			bad="promtool on $name: $(head -2 "$TMP/p" | tr '\n' '|')"
			break
		fi
	done <<'EOF'
metrics-tcp.expected tcp.run
metrics-merged.expected report-merged.run
metrics-diff-k618.expected diff-k618.run
metrics-classes.expected classes-b.run
EOF
	if [ -n "$bad" ]; then
		fail "$bad"
	else
		pass
	fi
}

# a metrics file that cannot be written is refused before anything is traced
test_metrics_bad_path() {
	local st
	timeout 30 "$KLEAK" --duration 1 --metrics /no/such/dir/kleak.prom > "$TMP/o" 2> "$TMP/e"
	st=$?
	if [ $st -ne 1 ] || [ "$(wc -l < "$TMP/e")" -ne 1 ] ||
	   ! grep -q '^kleak: cannot write metrics file /no/such/dir/kleak.prom' "$TMP/e"; then
		fail "status $st: $(tr '\n' '|' < "$TMP/e")"
	elif [ -s "$TMP/o" ]; then
		fail "wrote to stdout on error"
	else
		pass
	fi
}

# the status line under a real pseudo-terminal: drawn while tracing (every
# field, with a wide terminal), erased before the report, never drawn again
# inside the report; nothing of it when stderr is not a terminal
test_status_line() {
	local ts=$TMP/typescript esc
	need_root || return
	if ! command -v script > /dev/null; then
		fail "script (util-linux) missing"
		return
	fi
	esc=$(printf '\r\033[K')
	script -qfec "stty cols 200; $KLEAK --duration 3 -T 1 --no-caches" "$ts" > /dev/null 2>&1
	# where the report starts: the erase must come right before its first line
	local before after
	before=$(grep -a -o "${esc}kleak: [0-9]*:[0-9][0-9] elapsed, [0-9:]* left, [0-9]* outstanding, [0-9]* lost, [0-9]* events/s, allocs map [0-9.]*%" "$ts" | wc -l)
	# the status line and the report header share a terminal line: count from the header on
	after=$(python3 -c 'import sys; d = open(sys.argv[1], "rb").read()
print(d[d.find(b", kernel "):].count(b"elapsed"))' "$ts")
	# the same run with stderr to a file, on a terminal stdout
	script -qfec "$KLEAK --duration 2 -T 1 --no-caches 2> $TMP/err" "$TMP/ts2" > /dev/null 2>&1
	"$KLEAK" --duration 2 -T 1 --no-caches > /dev/null 2> "$TMP/err3" < /dev/null
	if [ "$before" -lt 1 ]; then
		fail "no status line drawn: $(head -c 400 "$ts" | cat -v)"
	elif ! grep -a -q "${esc}kleak [0-9.]*, kernel " "$ts"; then
		fail "the status line is not erased right before the report: $(grep -a 'kernel ' "$ts" | head -1 | cat -v)"
	elif [ "$after" -ne 0 ]; then
		fail "a status line inside the report"
	elif grep -q 'elapsed' "$TMP/err" "$TMP/err3" || grep -q "$(printf '\033')" "$TMP/err" "$TMP/err3"; then
		fail "a status line on a stderr that is not a terminal: $(cat -v "$TMP/err" "$TMP/err3" | head -3)"
	else
		pass
	fi
}

trap 'stop_node_exporter; cleanup' EXIT
for t in node_exporter metrics_intervals metrics_independent metrics_golden metrics_bad_path \
	 status_line; do
	run_test $t
done
