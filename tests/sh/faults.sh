# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Faults kleak must survive: killed, its stdout closed, signalled while it
# starts or reports, a traced command that cannot start, kallsyms hiding
# addresses, tracefs it cannot mount, a cache no kernel had. (Two kleaks at
# once, each exiting 0 with its own books balanced: bpf/books.) Each
# ends cleanly, in one line where there is an error, and leaves no BPF
# program, link or map behind.
. "$(dirname "$0")/lib.sh"

COMM=$TEST_COMM

# bpf_ids PID: the "prog ID", "map ID" and "link ID" of PID's BPF fds
bpf_ids() {
	grep -h -E '^(prog|map|link)_id:' /proc/"$1"/fdinfo/* 2>/dev/null |
		sed 's/_id:[[:space:]]*/ /' | sort -u
}

# left_over IDS_FILE: those of the ids that still exist, after up to 10 s
# (the kernel frees a program once its last reference goes, after RCU)
left_over() {
	local deadline=$((SECONDS + 10)) kind id left
	while :; do
		left=$(while read -r kind id; do
			bpftool "$kind" show id "$id" > /dev/null 2>&1 && echo "$kind $id"
		done < "$1")
		[ -z "$left" ] || [ $SECONDS -ge $deadline ] && break
		sleep 0.2
	done
	echo "$left" | tr '\n' ' '
}

need_bpftool() {
	command -v bpftool > /dev/null || { skip "bpftool not installed"; return 1; }
}

test_kill9() {
	local left
	need_root && need_bpftool || return
	start_kleak -c "$COMM" || { fail "kleak did not attach"; return; }
	bpf_ids "$KLEAK_PID" > "$TMP/ids"
	kill -KILL "$KLEAK_PID"
	wait "$KLEAK_PID" 2> /dev/null
	KLEAK_PID=
	left=$(left_over "$TMP/ids")
	if ! grep -q '^prog ' "$TMP/ids" || ! grep -q '^link ' "$TMP/ids"; then
		fail "kleak held no BPF program or link fds: $(tr '\n' ' ' < "$TMP/ids")"
	elif [ -n "${left// }" ]; then
		fail "left behind after kill -9: $left"
	else
		pass
	fi
}

# stdout closed early: kleak ends at its next write, programs gone
test_stdout_closed() {
	local pid left st
	need_root && need_bpftool || return
	: > "$TMP/err"
	( "$KLEAK" -c "$COMM" -T 1 1 2> "$TMP/err" & echo $! > "$TMP/pid"; wait $!; echo $? > "$TMP/st" ) |
		head -1 > "$TMP/first" &
	wait_for "$TMP/err" '^kleak: tracing' 60 || { fail "kleak did not attach"; return; }
	pid=$(cat "$TMP/pid")
	bpf_ids "$pid" > "$TMP/ids"
	local deadline=$((SECONDS + 10))
	while kill -0 "$pid" 2> /dev/null && [ $SECONDS -lt $deadline ]; do
		sleep 0.1
	done
	if kill -0 "$pid" 2> /dev/null; then
		kill -KILL "$pid"
		fail "kleak still running 10 s after its stdout closed"
		return
	fi
	wait
	st=$(cat "$TMP/st")
	left=$(left_over "$TMP/ids")
	if [ ! -s "$TMP/first" ]; then
		fail "head got no line"
	elif [ -n "${left// }" ]; then
		fail "left behind after stdout closed: $left"
	elif [ "$st" -ne 0 ] && [ "$st" -ne 1 ] && [ "$st" -ne 141 ]; then
		fail "kleak exited $st with its stdout closed"
	else
		pass
	fi
}

# watch_ids PID FILE: the BPF ids PID holds, sampled until it exits (start-up
# creates and closes them as it goes)
watch_ids() {
	while kill -0 "$1" 2> /dev/null; do
		bpf_ids "$1"
		sleep 0.01
	done | sort -u > "$2"
}

# blocked_term PID: whether PID blocks SIGTERM (bit 15 of SigBlk): kleak's
# first step, from which on a SIGTERM ends the run with its report
blocked_term() {
	local mask
	mask=$(sed -n 's/^SigBlk:[[:space:]]*//p' /proc/"$1"/status 2> /dev/null)
	[ -n "$mask" ] && (( 0x$mask & (1 << 14) ))
}

# SIGTERM while the programs load: the run ends with its report, status 0,
# and no BPF program, link or map of it is left
test_sigterm_startup() {
	local pid st left deadline=$((SECONDS + 30))
	need_root && need_bpftool || return
	"$KLEAK" -c "$COMM" --format json > "$TMP/out" 2> "$TMP/err" &
	pid=$!
	until blocked_term "$pid" || [ $SECONDS -ge $deadline ]; do
		sleep 0.001
	done
	watch_ids "$pid" "$TMP/ids" &
	local watcher=$!
	kill -TERM "$pid"
	wait "$pid"
	st=$?
	wait "$watcher"
	left=$(left_over "$TMP/ids")
	if [ $st -ne 0 ]; then
		fail "SIGTERM during start-up: status $st: $(tail -1 "$TMP/err")"
	elif ! jq -e .stats "$TMP/out" > /dev/null 2>&1; then
		fail "SIGTERM during start-up: status 0 without a complete report"
	elif grep -v '^kleak: tracing\|^kleak: hint' "$TMP/err" | grep -q .; then
		fail "SIGTERM during start-up printed: $(tr '\n' '|' < "$TMP/err")"
	elif ! grep -q '^prog ' "$TMP/ids"; then
		fail "no BPF program of kleak seen while it started: $(tr '\n' ' ' < "$TMP/ids")"
	elif [ -n "${left// }" ]; then
		fail "left behind after SIGTERM during start-up: $left"
	else
		pass
	fi
}

# SIGTERM while a report is made: that report, then the final one, status 0,
# and no BPF program, link or map of it is left
test_sigterm_report() {
	local left
	need_root && need_bpftool || return
	start_kleak --format json || { fail "kleak did not attach"; return; }
	bpf_ids "$KLEAK_PID" > "$TMP/ids"
	kill -USR1 "$KLEAK_PID"
	kill -TERM "$KLEAK_PID"
	wait "$KLEAK_PID"
	KLEAK_STATUS=$?
	KLEAK_PID=
	left=$(left_over "$TMP/ids")
	if [ "$KLEAK_STATUS" -ne 0 ]; then
		fail "SIGTERM during a report: status $KLEAK_STATUS: $(tail -1 "$TMP/err")"
	elif [ "$(jq -s length "$TMP/out" 2> /dev/null)" != 2 ]; then
		fail "SIGTERM during a report: $(jq -s length "$TMP/out" 2>&1) complete reports, expected 2"
	elif ! grep -q '^prog ' "$TMP/ids"; then
		fail "kleak held no BPF program fds: $(tr '\n' ' ' < "$TMP/ids")"
	elif [ -n "${left// }" ]; then
		fail "left behind after SIGTERM during a report: $left"
	else
		pass
	fi
}

# The traced command that cannot start: 126 when it cannot be run, 127 when
# it is not found (as env(1) and the shells), each with one line
test_command_not_run() {
	local st want cmd
	need_root || return
	for want in "126 /etc/passwd" "127 /no/such/command"; do
		cmd=${want#* }
		"$KLEAK" --linger 0 -- "$cmd" > "$TMP/o" 2> "$TMP/e"
		st=$?
		if [ $st -ne "${want%% *}" ] || [ "$(grep -vc '^kleak: tracing' "$TMP/e")" -ne 1 ] ||
		   ! grep -q "$cmd" "$TMP/e"; then
			fail "-- $cmd: status $st, expected ${want%% *}: $(tr '\n' '|' < "$TMP/e")"
			return
		fi
	done
	pass
}

# without CAP_SYSLOG kallsyms reads as zeros (kptr_restrict, perf_event_paranoid > 1)
test_hidden_kallsyms() {
	local st
	need_root || return
	command -v setpriv > /dev/null || { skip "setpriv not installed"; return; }
	if [ "$(cat /proc/sys/kernel/kptr_restrict)" = 0 ] &&
	   [ "$(cat /proc/sys/kernel/perf_event_paranoid)" -le 1 ]; then
		skip "kallsyms shows addresses without CAP_SYSLOG here (perf_event_paranoid <= 1)"
		return
	fi
	setpriv --inh-caps=-syslog --bounding-set=-syslog "$KLEAK" --duration 1 \
		> "$TMP/o" 2> "$TMP/e"
	st=$?
	if [ $st -ne 1 ] || [ "$(wc -l < "$TMP/e")" -ne 1 ] || ! grep -q 'kallsyms' "$TMP/e"; then
		fail "kallsyms hidden: status $st: $(tr '\n' '|' < "$TMP/e")"
	else
		pass
	fi
}

# tracefs not mounted and no mount of kleak's own allowed (no CAP_SYS_ADMIN),
# for the classic tracepoint set: one line naming tracefs, status 1
test_tracefs_refused() {
	local st bin
	need_root || return
	command -v unshare > /dev/null && command -v setpriv > /dev/null ||
		{ skip "unshare or setpriv not installed"; return; }
	KLEAK_PROGRAMS= "$KLEAK" features --format json 2> /dev/null |
		jq -e '.sets[] | select(.name == "tracepoint") | .supported' > /dev/null ||
		{ skip "this kernel cannot load the classic tracepoint set"; return; }
	bin=$(mktemp -d /tmp/kleak-tracefs.XXXXXX)
	chmod 755 "$bin"
	cp "$KLEAK" "$bin/kleak"
	KLEAK_PROGRAMS=tracepoint unshare -m sh -c 'umount -R /sys/kernel/tracing 2> /dev/null
		umount -R /sys/kernel/debug 2> /dev/null
		exec setpriv --reuid=65534 --regid=65534 --clear-groups \
			--inh-caps=-all,+bpf,+perfmon,+syslog --ambient-caps=-all,+bpf,+perfmon,+syslog \
			"$0" --duration 1' "$bin/kleak" > "$TMP/o" 2> "$TMP/e"
	st=$?
	rm -rf "$bin"
	if [ $st -ne 1 ] || [ "$(wc -l < "$TMP/e")" -ne 1 ] ||
	   ! grep -q "^kleak: tracefs is not mounted, and a mount of kleak's own .*: Operation not permitted" \
			"$TMP/e"; then
		fail "status $st: $(tr '\n' '|' < "$TMP/e")"
	else
		pass
	fi
}

# the same unknown cache gets the same answer live and from a saved run
test_unknown_cache() {
	local live saved diff st_l st_s st_d
	need_root || return
	"$KLEAK" --cache nosuch_cache_here --duration 1 > /dev/null 2> "$TMP/live"
	st_l=$?
	"$KLEAK" report --cache nosuch_cache_here tests/fixtures/tcp.run > "$TMP/o" 2> "$TMP/saved"
	st_s=$?
	"$KLEAK" diff --cache nosuch_cache_here tests/fixtures/diff-k61.run \
		tests/fixtures/diff-k618.run > "$TMP/o" 2> "$TMP/diff"
	st_d=$?
	if [ $st_l -ne 1 ] || [ $st_s -ne 1 ] || [ $st_d -ne 1 ]; then
		fail "unknown cache: live $st_l, report $st_s, diff $st_d; expected 1 each"
	elif [ "$(cat "$TMP/live" "$TMP/saved" "$TMP/diff" | grep -c "^kleak: unknown slab cache 'nosuch_cache_here'")" -ne 3 ]; then
		fail "unknown cache: $(cat "$TMP/live" "$TMP/saved" "$TMP/diff" | tr '\n' '|')"
	elif ! "$KLEAK" report --cache TCP tests/fixtures/tcp.run > /dev/null 2>&1; then
		fail "report --cache TCP of a run that had it refused"
	else
		pass
	fi
}

# as nobody: CAP_BPF, CAP_PERFMON and CAP_SYSLOG (kallsyms) are enough; each
# missing one is named in the one error line
test_capabilities() {
	local bin st caps want
	need_root || return
	command -v setpriv > /dev/null || { skip "setpriv not installed"; return; }
	bin=$(mktemp -d /tmp/kleak-caps.XXXXXX)
	chmod 755 "$bin"
	cp "$KLEAK" "$bin/kleak"
	as_nobody() {
		setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps="-all$1" \
			--ambient-caps="-all$1" "$bin/kleak" --duration 1 -T 1 --format json \
			> "$TMP/o" 2> "$TMP/e"
	}
	# a kernel charging BPF maps to RLIMIT_MEMLOCK (5.10) needs CAP_SYS_RESOURCE too, and says so
	local base=",+bpf,+perfmon,+syslog" extra=
	as_nobody "$base"
	st=$?
	if [ $st -eq 1 ] && grep -q "CAP_SYS_RESOURCE (this kernel charges" "$TMP/e"; then
		extra=",+sys_resource"
		as_nobody "$base$extra"
		st=$?
	fi
	if [ $st -ne 0 ] || ! jq -e '.stats.alloc_events > 0' "$TMP/o" > /dev/null 2>&1; then
		fail "with CAP_BPF, CAP_PERFMON, CAP_SYSLOG${extra:+, CAP_SYS_RESOURCE}: status $st: $(tr '\n' '|' < "$TMP/e")"
		rm -rf "$bin"
		return
	fi
	# kleak features: with them, the probes root gets; without, one line naming them
	local feats
	feats=$(setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps="-all$base$extra" \
		--ambient-caps="-all$base$extra" "$bin/kleak" features --format json 2> "$TMP/e" |
		jq -c .features)
	if [ "$feats" != "$("$KLEAK" features --format json | jq -c .features)" ]; then
		fail "features with CAP_BPF, CAP_PERFMON: $feats, root's: $("$KLEAK" features \
			--format json | jq -c .features) $(cat "$TMP/e")"
		rm -rf "$bin"
		return
	fi
	setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all "$bin/kleak" features \
		> "$TMP/o" 2> "$TMP/e"
	st=$?
	if [ $st -ne 1 ] || [ -s "$TMP/o" ] || [ "$(wc -l < "$TMP/e")" -ne 1 ] ||
	   ! grep -q "CAP_BPF and CAP_PERFMON missing" "$TMP/e" || grep -q lacks "$TMP/e"; then
		fail "features as nobody: status $st: $(tr '\n' '|' < "$TMP/e") $(head -3 "$TMP/o")"
		rm -rf "$bin"
		return
	fi
	local cases=(",+perfmon,+syslog$extra:CAP_BPF missing" ",+bpf,+syslog$extra:CAP_PERFMON missing"
		     ",+syslog$extra:CAP_BPF and CAP_PERFMON missing")
	[ -z "$extra" ] || cases+=("$base:CAP_SYS_RESOURCE")
	# where kallsyms shows addresses to all (see hidden_kallsyms), CAP_SYSLOG is not needed
	[ "$(cat /proc/sys/kernel/kptr_restrict)" != 0 ] ||
		[ "$(cat /proc/sys/kernel/perf_event_paranoid)" -gt 1 ] &&
		cases+=(",+bpf,+perfmon$extra:CAP_SYSLOG missing")
	for caps in "${cases[@]}"; do
		want=${caps#*:}
		as_nobody "${caps%%:*}"
		st=$?
		if [ $st -ne 1 ] || [ "$(wc -l < "$TMP/e")" -ne 1 ] || ! grep -q "$want" "$TMP/e"; then
			fail "caps ${caps%%:*}: status $st, expected 1 and '$want': $(tr '\n' '|' < "$TMP/e")"
			rm -rf "$bin"
			return
		fi
	done
	rm -rf "$bin"
	pass
}

for t in kill9 stdout_closed sigterm_startup sigterm_report command_not_run hidden_kallsyms \
	 tracefs_refused unknown_cache capabilities; do
	run_test $t
done
