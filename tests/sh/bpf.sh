# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# BPF tests: kleak loaded for real on the running kernel, filtered to the
# workload generator, which holds a known number of objects. Each test checks
# the objects are found on the expected kernel path while held and leave the
# report once released (a negative control for the same site).
. "$(dirname "$0")/lib.sh"

COMM=$TEST_COMM
# deferred frees (RCU, kfree_rcu batches) must drain within this many seconds
DRAIN_S=20

# held_test KIND COUNT FRAME_REGEX CACHE MIN_HELD
held_test() {
	local kind=$1 count=$2 re=$3 cache=$4 min=$5 held after
	need_root || return
	# shellcheck disable=SC2086
	start_kleak -c "$COMM" -o 0 -T 0 --format json ${KLEAK_EXTRA:-} ||
		{ fail "kleak did not attach"; return; }
	start_workload "$kind" -c "$count" -n "$COMM" "$kind" || { fail "workload failed"; return; }
	report_now || { fail "no report on SIGUSR1"; return; }
	held=$(last_report | held_count "$re" "$cache")
	release_workload "$kind"
	# the frees may be deferred (RCU): ask again until they are seen
	local deadline=$((SECONDS + DRAIN_S))
	while :; do
		report_now || { fail "no report on SIGUSR1"; return; }
		after=$(last_report | held_count "$re" "$cache")
		[ "$after" -lt $((min / 10 + 2)) ] || [ -n "${NO_RELEASE:-}" ] ||
			[ $SECONDS -ge $deadline ] && break
		sleep 0.2
	done
	stop_kleak
	local others tracer
	others=$(jq -s --arg c "$COMM" '[.[].sites[].comms[].comm | select(. != $c)] | length' "$TMP/out")
	# the stack starts at the allocator, not in the tracer's own frames
	tracer=$(jq -s '[.[].sites[].frames[0].sym // "" |
		select(test("^(bpf_prog_|bpf_trace_run|__bpf_trace_|__traceiter_|perf_trace_)"))]
		| length' "$TMP/out")
	# one site per stack and cache: a second one would split the counts (the
	# frames by symbol and offset: JSON has no addresses without --raw-addresses)
	local dups
	dups=$(jq -s '[.[] | [.sites[] | {c: .cache, f: [.frames[].sym]}] | group_by(.)
		| map(select(length > 1)) | length] | add' "$TMP/out")
	if [ -n "${ATTACH:-}" ] && ! last_report | jq -e --arg a "$ATTACH" '.meta.attach == $a' \
			> /dev/null; then
		fail "attached with $(last_report | jq -r .meta.attach), expected $ATTACH"
	elif [ -n "${ATTACH_HAS:-}" ] && ! last_report |
			jq -e --arg a "$ATTACH_HAS" '.meta.attach | contains($a)' > /dev/null; then
		fail "attached with $(last_report | jq -r .meta.attach), expected $ATTACH_HAS in it"
	elif [ "$tracer" -ne 0 ]; then
		fail "$tracer sites start with a frame of the tracer itself"
	elif [ "$dups" -ne 0 ]; then
		fail "$dups stacks reported as more than one site"
	elif [ "$held" -lt "$min" ]; then
		fail "held $kind: $held objects on /$re/, expected >= $min"
	elif [ -z "${NO_RELEASE:-}" ] && [ "$after" -ge $((min / 10 + 2)) ]; then
		fail "released $kind: $after objects still on /$re/ after ${DRAIN_S}s"
	elif [ "$others" -ne 0 ]; then
		fail "allocations of other comms reported under --comm $COMM"
	elif [ "$KLEAK_STATUS" -ne 0 ]; then
		fail "kleak exited $KLEAK_STATUS"
	else
		pass
	fi
}

test_files()	{ held_test files 200 '^alloc_empty_file\+' filp 200; }
# The classic tracepoint set, forced: it runs for real here
# (before 6.18 their kmem_cache_alloc record names no cache: any cache counts).
# Their release is not asserted: classic tracepoints share one per-CPU guard
# with every other BPF program, and an RCU batch of frees that runs under it
# is dropped whole (seen on 6.1) -- the reason kleak prefers tp_btf and raw_tp.
# kleak reads tracefs where it is not mounted, and leaves it as it found it.
has_tracepoint_set() {
	KLEAK_PROGRAMS= "$KLEAK" features --format json 2>/dev/null |
		jq -e '.sets[] | select(.name == "tracepoint") | .supported' > /dev/null
}
test_classic_tp() {
	local before after
	need_root || return
	if ! has_tracepoint_set; then
		skip "this kernel cannot load the classic tracepoint set ($(KLEAK_PROGRAMS= "$KLEAK" \
			features 2>&1 | grep '^  tracepoint'))"
		return
	fi
	before=$(mountpoint -q /sys/kernel/tracing && echo mounted || echo unmounted)
	KLEAK_PROGRAMS=tracepoint ATTACH=tracepoint NO_RELEASE=1 \
		held_test files 100 '^alloc_empty_file\+' '' 100
	after=$(mountpoint -q /sys/kernel/tracing && echo mounted || echo unmounted)
	if [ "$before" != "$after" ]; then
		CUR=classic_tp_tracefs fail "tracefs was $before before kleak ran, $after after"
	fi
}
# A kernel whose tracefs is not mounted (a fresh machine), in a private mount
# namespace: the tracepoint set reads its events from a tracefs mount of its
# own that is attached nowhere, so no mount appears where another process,
# or another kleak, could see it or lose it; -v says so.
test_tracefs_private() {
	local held
	need_root || return
	command -v unshare > /dev/null || { skip "unshare not installed"; return; }
	has_tracepoint_set || { skip "this kernel cannot load the classic tracepoint set"; return; }
	printf '#!/bin/sh\nexec unshare -m sh -c %s %s "$@"\n' \
		"'umount -R /sys/kernel/tracing 2> /dev/null; umount -R /sys/kernel/debug \
		2> /dev/null; exec \"\$0\" \"\$@\"'" "$(realpath "$KLEAK")" > "$TMP/kleak-notracefs"
	chmod +x "$TMP/kleak-notracefs"
	KLEAK="$TMP/kleak-notracefs" KLEAK_PROGRAMS=tracepoint start_kleak -v -c "$COMM" -o 0 \
		-T 0 --format json || { fail "kleak did not attach"; return; }
	grep ' - \(tracefs\|debugfs\) ' /proc/"$KLEAK_PID"/mountinfo > "$TMP/mounts"
	start_workload files -c 50 -n "$COMM" files || { fail "workload failed"; return; }
	report_now || { fail "no report on SIGUSR1"; return; }
	held=$(last_report | held_count '^alloc_empty_file\+')
	release_workload files
	stop_kleak
	if [ -s "$TMP/mounts" ]; then
		fail "a tracefs or debugfs mount where others see it: $(tr '\n' '|' < "$TMP/mounts")"
	elif ! grep -q "tracefs is not mounted: .* a mount of kleak's own that no other" \
			"$TMP/err"; then
		fail "-v does not say where tracefs was read: $(grep tracefs "$TMP/err")"
	elif [ "$held" -lt 50 ] || [ "$KLEAK_STATUS" -ne 0 ]; then
		fail "status $KLEAK_STATUS, $held files held, expected >= 50"
	else
		pass
	fi
}

# --btf FILE on a kernel without BTF: /sys/kernel/btf hidden under a tmpfs in
# a private mount namespace, a copy of the BTF passed instead. compat loads,
# CO-RE-relocated against the file; the other sets need the kernel's own BTF
# (bpf_get_current_task_btf(), tp_btf), and -v says what compat gives up.
test_btf_file() {
	need_root || return
	command -v unshare > /dev/null || { skip "unshare not installed"; return; }
	cp /sys/kernel/btf/vmlinux "$TMP/vmlinux.btf"
	printf '#!/bin/sh\nexec unshare -m sh -c %s %s "$@"\n' \
		"'mount -t tmpfs none /sys/kernel/btf && exec \"\$0\" \"\$@\"'" \
		"$(realpath "$KLEAK")" > "$TMP/kleak-nobtf"
	chmod +x "$TMP/kleak-nobtf"
	KLEAK_PROGRAMS= "$TMP/kleak-nobtf" --duration 1 > "$TMP/o" 2> "$TMP/e"
	local st=$?
	if [ $st -ne 1 ] || [ "$(wc -l < "$TMP/e")" -ne 1 ] ||
	   ! grep -q 'has no BTF (/sys/kernel/btf/vmlinux): pass --btf FILE' "$TMP/e"; then
		fail "without BTF or --btf: status $st: $(tr '\n' '|' < "$TMP/e")"
		return
	fi
	local attach
	attach=compat$("$KLEAK" features --format json 2> /dev/null |
		jq -r 'if .features.kmem_events_6_1 then "" else ", pre-6.1 events" end')
	KLEAK="$TMP/kleak-nobtf" KLEAK_PROGRAMS= KLEAK_EXTRA="-v --btf $TMP/vmlinux.btf" \
		ATTACH=$attach held_test files 200 '^alloc_empty_file\+' filp 200
	grep -q 'gives up: .*no kernel BTF (--btf FILE): held objects are not classified' \
		"$TMP/err" || CUR=btf_file_gives_up fail "-v: $(grep 'program set' "$TMP/err")"
}

# A kernel without the BPF ring buffer (before 5.8), forced here with the
# testing knob KLEAK_HIDE_FEATURES: compat loads without its four ring
# buffers, with the stack cache off (one warning); -t and --ustack, which
# need them, are refused in one line each.
test_no_ringbuf() {
	local attach opt st
	need_root || return
	attach=compat$("$KLEAK" features --format json 2> /dev/null |
		jq -r 'if .features.kmem_events_6_1 then "" else ", pre-6.1 events" end')
	KLEAK_HIDE_FEATURES=ringbuf KLEAK_PROGRAMS= ATTACH=$attach \
		held_test files 200 '^alloc_empty_file\+' filp 200
	grep -q '^kleak: warning: no BPF ring buffer on this kernel: the stack cache is off' \
		"$TMP/err" || CUR=no_ringbuf_said fail "no warning: $(tr '\n' '|' < "$TMP/err")"
	for opt in -t --ustack; do
		KLEAK_HIDE_FEATURES=ringbuf KLEAK_PROGRAMS= "$KLEAK" "$opt" --duration 1 \
			> "$TMP/o" 2> "$TMP/e"
		st=$?
		if [ $st -ne 1 ] || [ "$(wc -l < "$TMP/e")" -ne 1 ] ||
		   ! grep -q -E "^kleak: $opt.*(needs the BPF ring buffer, which this kernel lacks|: this kernel lacks BPF ring buffer, which that mode needs)$" \
				"$TMP/e"; then
			CUR=no_ringbuf_refused fail "$opt: status $st: $(tr '\n' '|' < "$TMP/e")"
			return
		fi
	done
}

# dup_task_struct is inlined into copy_process on 6.18; reaped zombies are
# freed from an RCU callback, so their release also proves frees are matched
# whoever does them
test_zombies()	{ held_test zombies 100 '^(dup_task_struct|copy_process)\+' task_struct 100; }
test_tcp()	{ held_test tcp 50 '^sk_prot_alloc\+' TCP 50; }
test_pipes()	{ held_test pipes 100 '^alloc_pipe_info\+' '' 100; }

# What churn may leave behind for real, left out of its count: vmap_area
# objects (below), and under --pages the pages the slab allocator keeps for
# its caches (new slabs churn made, partly used: 50 of them on 5.10 under TCG).
CHURN_KEPT='select(.cache != "vmap_area") | select(((.cache | startswith("pages/")) and
	any(.frames[]; (.sym // "") | test("^allocate_slab\\+"))) | not)'

# What churn may leave: a few deferred objects, plus one per event the kernel
# dropped to recursion -- a free in a softirq that interrupted kleak's own
# program on that CPU (rare here, frequent under QEMU's TCG), which kleak
# reports as "events dropped by recursion".
test_churn() {
	local total bound=40
	need_root || return
	# shellcheck disable=SC2086
	start_kleak -c "$COMM" -o 0 -T 0 --format json ${KLEAK_EXTRA:-} ||
		{ fail "kleak did not attach"; return; }
	"$WL" -c 2000 -n "$COMM" churn > /dev/null || { fail "churn failed"; return; }
	local deadline=$((SECONDS + DRAIN_S))
	while :; do
		report_now || { fail "no report on SIGUSR1"; return; }
		# vfree() of fork's thread stacks frees their vmap_area lazily, in
		# batches (lazy_max_pages): those stay outstanding for real
		total=$(last_report | jq "[.sites[] | $CHURN_KEPT | .outstanding] | add // 0")
		bound=$((40 + $(last_report | jq '.stats.recursion_misses')))
		[ "$total" -le "$bound" ] || [ $SECONDS -ge $deadline ] && break
		sleep 0.2
	done
	stop_kleak
	local allocs
	allocs=$(last_report | jq '.stats.allocs_recorded')
	if [ "$allocs" -lt 6000 ]; then
		fail "churn: only $allocs allocations recorded for 2000 rounds"
	elif [ "$total" -gt "$bound" ]; then
		fail "churn left $total objects outstanding (bound $bound): $(last_report | jq -c \
			"[.sites[] | $CHURN_KEPT | [.outstanding, .cache,
			(.frames[1].sym // \"?\")]] | sort | reverse | .[:4]")"
	else
		pass
	fi
}

# The same churn with every allocator: pages (a pipe's page each round),
# vmap areas and percpu allocations (a BPF map of each every 16 rounds) are
# recorded and paired, nothing is left above the bound, and each
# allocator's books balance.
test_churn_allocators() {
	local unbalanced few
	KLEAK_EXTRA=--all-allocators test_churn
	[ -s "$TMP/out" ] || return
	few=$(last_report | jq -c '[.allocators[] | select(.allocs_recorded <
		{slab: 6000, pages: 2000, vmalloc: 125, percpu: 125}[.allocator])
		| {allocator, allocs_recorded}]')
	[ "$few" = "[]" ] ||
		CUR=churn_allocators_recorded fail "recorded less than churn made (2000 rounds): $few"
	unbalanced=$(books_check "$TMP/out" churn)
	[ -z "$unbalanced" ] || CUR=churn_allocators_books fail "unbalanced: $unbalanced"
}

# allocations by another comm never appear under --comm, even while held
test_comm_filter() {
	need_root || return
	start_kleak -c "$COMM" -o 0 -T 0 --format json || { fail "kleak did not attach"; return; }
	start_workload other -c 100 -n other-wl files pipes || { fail "workload failed"; return; }
	start_workload mine -c 20 -n "$COMM" files || { fail "workload failed"; return; }
	report_now
	release_workload other
	release_workload mine
	stop_kleak
	local pipes files
	pipes=$(last_report | held_count '^alloc_pipe_info\+')
	files=$(jq -s '.[0]' "$TMP/out" | held_count '^alloc_empty_file\+')
	if [ "$pipes" -ne 0 ]; then
		fail "$pipes pipe objects of other-wl reported under --comm $COMM"
	elif [ "$files" -lt 20 ] || [ "$files" -ge 100 ]; then
		fail "$files files reported, expected 20..99 (own 20, other-wl's 100 excluded)"
	else
		pass
	fi
}

# --cache keeps one cache; a merged alias is resolved and said so
test_cache_filter() {
	need_root || return
	start_kleak -c "$COMM" --cache task_struct -o 0 -T 0 --format json ||
		{ fail "kleak did not attach"; return; }
	start_workload zc -c 30 -n "$COMM" zombies files || { fail "workload failed"; return; }
	report_now
	release_workload zc
	stop_kleak
	local caches n
	caches=$(jq -s -r '[.[0].sites[].cache] | unique | join(",")' "$TMP/out")
	n=$(jq -s '.[0]' "$TMP/out" | held_count '^(dup_task_struct|copy_process)\+')
	if [ "$caches" != task_struct ]; then
		fail "--cache task_struct reported caches '$caches'"
	elif [ "$n" -lt 30 ]; then
		fail "--cache task_struct: $n task_structs, expected >= 30"
	else
		pass
	fi
}

test_cache_alias() {
	local alias target
	need_root || return
	# any merged cache will do: a symlink in /sys/kernel/slab
	alias=$(find /sys/kernel/slab -maxdepth 1 -type l -printf '%f\n' | awk 'length($0) < 32' | head -1)
	[ -n "$alias" ] || { skip "no merged slab cache on this kernel"; return; }
	target=$(readlink "/sys/kernel/slab/$alias")
	"$KLEAK" --cache "$alias" --duration 1 > /dev/null 2> "$TMP/alias.err"
	if ! grep -q "slab cache '$alias' is merged into $target" "$TMP/alias.err" &&
	   [ "$(find /sys/kernel/slab -maxdepth 1 -lname "$target" | wc -l)" -gt 1 ]; then
		fail "no merge notice for $alias: $(cat "$TMP/alias.err")"
	else
		pass
	fi
}

# -t prints the allocation with its stack, then its free
test_trace() {
	need_root || return
	start_kleak -t -c "$COMM" -o 0 || { fail "kleak did not attach"; return; }
	start_workload tr -c 5 -n "$COMM" files || { fail "workload failed"; return; }
	release_workload tr
	wait_for "$TMP/out" " free .* by $COMM" 10
	stop_kleak
	if ! grep -q " alloc 0x[0-9a-f]* 256 B by $COMM" "$TMP/out" &&
	   ! grep -q " alloc 0x[0-9a-f]* [0-9]* B by $COMM" "$TMP/out"; then
		fail "no alloc events printed"
	elif ! grep -q "alloc_empty_file+" "$TMP/out"; then
		fail "no alloc_empty_file frame in the traced stacks"
	elif ! grep -q " free " "$TMP/out"; then
		fail "no free events printed"
	else
		pass
	fi
}

# the one-shot report says what it could not see, in text and JSON
test_not_seen() {
	need_root || return
	"$KLEAK" --duration 1 > "$TMP/text" 2> "$TMP/err" || { fail "kleak failed: $(cat "$TMP/err")"; return; }
	"$KLEAK" --duration 1 --format json > "$TMP/json" 2> "$TMP/err" || { fail "kleak failed"; return; }
	if ! grep -q '^not seen: .* allocations (allocs map full)' "$TMP/text"; then
		fail "text report has no 'not seen' footer"
	elif ! jq -e '.stats | has("allocs_map_full") and has("recursion_misses") and
			has("retired_unseen_frees") and has("stack_faults")' "$TMP/json" > /dev/null; then
		fail "JSON report lacks the not-seen counters"
	elif ! jq -e '.stats.alloc_events > 0' "$TMP/json" > /dev/null; then
		fail "no allocation events seen system-wide in 1 s"
	else
		pass
	fi
}

# a full allocs map is counted, not hidden
test_map_full() {
	need_root || return
	start_kleak -c "$COMM" -o 0 --max-allocs 16 --format json || { fail "kleak did not attach"; return; }
	start_workload mf -c 100 -n "$COMM" files || { fail "workload failed"; return; }
	report_now
	release_workload mf
	stop_kleak
	if ! jq -s -e '.[0].stats.allocs_map_full > 0' "$TMP/out" > /dev/null; then
		fail "100 files with --max-allocs 16 did not count allocs_map_full"
	else
		pass
	fi
}

# The set `kleak features` names is the one that loads, with no fallback
# warning: every probe told the truth. A kernel without BPF atomics gets the
# compat set, and 6.18 tp_btf (unless KLEAK_PROGRAMS forces another).
test_attach_mode() {
	need_root || return
	local attach want rel atomics
	"$KLEAK" features --format json > "$TMP/features" 2> "$TMP/err" ||
		{ fail "kleak features failed: $(cat "$TMP/err")"; return; }
	want=$(jq -r .set "$TMP/features")
	atomics=$(jq -r .features.atomics "$TMP/features")
	"$KLEAK" --duration 1 --format json > "$TMP/json" 2> "$TMP/err" ||
		{ fail "kleak failed: $(cat "$TMP/err")"; return; }
	attach=$(jq -r .meta.attach "$TMP/json")
	rel=$(uname -r)
	if [ "${attach%%,*}" != "$want" ]; then
		fail "attached with $attach on $rel, kleak features said $want"
	elif [ -n "${KLEAK_PROGRAMS:-}" ] && [ "$want" != "$KLEAK_PROGRAMS" ]; then
		fail "KLEAK_PROGRAMS=$KLEAK_PROGRAMS loaded $attach"
	elif [ -z "${KLEAK_PROGRAMS:-}" ] && [ "$atomics" = false ] && [ "$want" != compat ]; then
		fail "a kernel without BPF atomics got $want"
	elif [ -z "${KLEAK_PROGRAMS:-}" ] && [ "$want" != tp_btf ] &&
	     [ "$(printf '%s\n6.18\n' "${rel%%-*}" | sort -V | head -n 1)" = 6.18 ]; then
		fail "6.18 or later got $want, expected tp_btf"
	elif grep -q warning "$TMP/err"; then
		fail "warned: $(cat "$TMP/err")"
	else
		pass
	fi
}

# Every stack taken from a template is also walked (--stack-cache check): the
# two must never differ, and templates must be used at all. The held tests
# above run with the cache on, so they check the stacks it gives as well.
test_stack_cache() {
	need_root || return
	start_kleak -c "$COMM" -o 0 -T 0 --format json --stack-cache check ||
		{ fail "kleak did not attach"; return; }
	"$WL" -c 2000 -n "$COMM" churn > /dev/null || { fail "churn failed"; return; }
	report_now || { fail "no report on SIGUSR1"; return; }
	stop_kleak
	local cached wrong allocs
	cached=$(last_report | jq '.stats.stacks_from_templates')
	wrong=$(last_report | jq '.stats.stack_templates_wrong')
	allocs=$(last_report | jq '.stats.allocs_recorded')
	if [ "$wrong" -ne 0 ]; then
		fail "$wrong stacks from templates differed from the walk"
	elif [ "$cached" -lt $((allocs / 4)) ]; then
		fail "only $cached of $allocs stacks came from templates"
	else
		pass
	fi
}

# Under a task filter, what a softirq allocates while the filtered task is
# the one it interrupted is not the task's: a loopback connect() runs the
# server side's handshake in a softirq on the connecting task's CPU, so the
# accepted sockets (sk_clone_lock) must not be charged to the workload, and
# are counted instead; the client's own sockets (inet_create) still are.
# The control, with no task filter, finds the same accepted sockets, in
# softirq context, whichever task the softirq interrupted (on a slow guest
# some run in ksoftirqd or interrupt another task, so it is not selected by
# comm).
test_irq_context() {
	need_root || return
	local own cloned irq_sites irq control
	start_kleak -c "$COMM" -o 0 -T 0 --format json || { fail "kleak did not attach"; return; }
	start_workload irq -c 50 -n "$COMM" tcp || { fail "workload failed"; return; }
	report_now || { fail "no report on SIGUSR1"; return; }
	release_workload irq
	stop_kleak
	own=$(jq -s '.[0]' "$TMP/out" | held_count '^inet_create\+' TCP)
	cloned=$(jq -s '.[0]' "$TMP/out" | held_count '^sk_clone_lock\+' TCP)
	irq_sites=$(jq -s '[.[0].sites[] | select(.context.softirq + .context.hardirq > 0)]
		| length' "$TMP/out")
	irq=$(last_report | jq '.stats.irq_not_attributed')
	start_kleak --cache TCP -o 0 -T 0 --format json || { fail "kleak did not attach"; return; }
	start_workload irq_control -c 50 -n "$COMM" tcp || { fail "workload failed"; return; }
	report_now || { fail "no report on SIGUSR1"; return; }
	release_workload irq_control
	stop_kleak
	control=$(jq -s '[.[0].sites[]
		| select(any(.frames[]; (.sym // "") | test("^sk_clone_lock\\+")))
		| .context.softirq] | add // 0' "$TMP/out")
	if [ "$own" -lt 50 ]; then
		fail "$own client sockets (inet_create) under -c $COMM, expected >= 50"
	elif [ "$cloned" -ne 0 ]; then
		fail "$cloned accepted sockets (sk_clone_lock, in softirq) charged to $COMM"
	elif [ "$irq_sites" -ne 0 ]; then
		fail "$irq_sites sites in softirq or hardirq context under -c $COMM"
	elif [ "$irq" -lt 50 ]; then
		fail "irq_not_attributed $irq, expected >= 50 (the accepted sockets)"
	elif [ "$control" -lt 50 ]; then
		fail "without a task filter: $control accepted sockets in softirq, expected >= 50"
	else
		pass
	fi
}

# The allocators beside slab (--pages, --vmalloc, --percpu). has_events
# FEATURE: this kernel has the allocator's events (kleak features says).
has_events() {
	"$KLEAK" features --format json 2>/dev/null | jq -e --arg f "$1" '.features[$f]' > /dev/null
}

# An allocator the kernel has no events for: one line naming it, status 1;
# under --all-allocators a warning, and the others run. allocator_unavailable
# OPTION NAME [ARGS...]
allocator_unavailable() {
	local opt=$1 name=$2 status
	shift 2
	"$KLEAK" "$opt" "$@" --duration 1 > /dev/null 2> "$TMP/e"
	status=$?
	if [ "$status" -ne 1 ] || [ "$(wc -l < "$TMP/e")" -ne 1 ] ||
			! grep -q "$name is unavailable on this kernel" "$TMP/e"; then
		fail "$opt without its events: status $status, stderr: $(head -3 "$TMP/e" | tr '\n' '|')"
	else
		pass
	fi
}

# churn_for SECONDS: files, sockets, TCP, pipes and forks (and the other
# allocators' pipe pages, vmap areas and percpu objects) made and released
# in loops that run at once
churn_for() {
	local end=$((SECONDS + $1)) kinds
	for kinds in "churn" "files pipes" "tcp" "zombies"; do
		# shellcheck disable=SC2086
		while [ $SECONDS -lt $end ]; do
			"$WL" -n "$COMM" -c 100 $kinds > /dev/null
		done &
	done
	wait
}

# books_pair NAME_A ARGS_A -- NAME_B ARGS_B: two kleaks at once under churn,
# three 1-second reports each (two interval reports, then the final one)
books_pair() {
	local a=$1 b args_a=() args_b=() p_a p_b st_a st_b
	shift
	while [ "$1" != -- ]; do args_a+=("$1"); shift; done
	shift
	b=$1
	shift
	args_b=("$@")
	"$KLEAK" -T 1 -o 0 --format json "${args_a[@]}" 1 3 > "$TMP/$a.json" 2> "$TMP/$a.err" &
	p_a=$!
	"$KLEAK" -T 1 -o 0 --format json "${args_b[@]}" 1 3 > "$TMP/$b.json" 2> "$TMP/$b.err" &
	p_b=$!
	# the churn once both trace: loading takes seconds in a TCG guest
	wait_for "$TMP/$a.err" '^kleak: tracing' 120
	wait_for "$TMP/$b.err" '^kleak: tracing' 120
	churn_for 5 &
	local churn=$!
	wait $p_a; st_a=$?
	wait $p_b; st_b=$?
	wait $churn
	[ $st_a -eq 0 ] || echo "$a: kleak exited $st_a: $(tail -1 "$TMP/$a.err")"
	[ $st_b -eq 0 ] || echo "$b: kleak exited $st_b: $(tail -1 "$TMP/$b.err")"
	local n
	for n in "$a" "$b"; do
		[ "$(jq -s length "$TMP/$n.json")" -eq 3 ] ||
			echo "$n: $(jq -s length "$TMP/$n.json") reports, expected 3"
		books_check "$TMP/$n.json" "$n"
	done
}

# The books balance, exactly in the final report, under churn of every kind:
# unfiltered, filtered, with a tiny allocs map, and sampled; two at a time.
test_books() {
	need_root || return
	local errs
	errs=$(books_pair all -- filtered -c "$COMM"
	       books_pair tiny --max-allocs 64 -- sampled -s 7
	       books_pair allocators --all-allocators -- allocators_sampled --all-allocators -s 4)
	if [ -n "$errs" ]; then
		fail "$errs"
	elif ! jq -s -e '.[-1].stats | .frees_matched > 0 and .outstanding > 0' \
			"$TMP/all.json" > /dev/null; then
		fail "unfiltered run matched no frees or holds nothing"
	elif ! jq -s -e '.[-1].stats | .filtered_out > 0 and .allocs_recorded > 0' \
			"$TMP/filtered.json" > /dev/null; then
		fail "-c $COMM filtered nothing out or recorded nothing"
	elif ! jq -s -e '.[-1].stats.allocs_map_full > 0' "$TMP/tiny.json" > /dev/null; then
		fail "--max-allocs 64 counted no allocs_map_full"
	elif ! jq -s -e '.[-1].stats.sampled_out > 0' "$TMP/sampled.json" > /dev/null; then
		fail "-s 7 sampled nothing out"
	elif ! jq -s -e '[.[-1].allocators[] | .allocs_recorded > 0] | length == 4 and all' \
			"$TMP/allocators.json" > /dev/null; then
		fail "--all-allocators: an allocator recorded nothing: $(jq -s -c '[.[-1].allocators[]
			| {allocator, allocs_recorded}]' "$TMP/allocators.json")"
	elif ! jq -s -e '[.[-1].allocators[] | .sampled_out > 0] | all' \
			"$TMP/allocators_sampled.json" > /dev/null; then
		fail "--all-allocators -s 4: an allocator sampled nothing out"
	else
		pass
	fi
}

# pipe buffers: one kernel page (GFP_HIGHUSER, not movable) per pipe written and left unread
test_pages() {
	has_events page_events || { allocator_unavailable --pages pages; return; }
	KLEAK_EXTRA=--pages held_test pipepages 100 '^(anon_)?pipe_write\+' pages/order-0 100
}
# --cache per allocator, live as on a saved run: vmalloc's areas alone, and
# pages of one order; every site of the run is of the memory named.
test_cache_allocators() {
	local caches
	if has_events vmalloc_events || has_events vmalloc_fentry; then
		KLEAK_EXTRA="--vmalloc --cache vmalloc" held_test vmalloc 50 '^array_map_alloc\+' vmalloc 50
		caches=$(jq -s -r '[.[].sites[].cache] | unique | join(",")' "$TMP/out")
		[ "$caches" = vmalloc ] ||
			CUR=cache_allocators_vmalloc fail "--cache vmalloc reported caches '$caches'"
	fi
	has_events page_events || { skip "no page events on this kernel"; return; }
	KLEAK_EXTRA="--pages --cache pages/order-0" \
		held_test pipepages 100 '^(anon_)?pipe_write\+' pages/order-0 100
	caches=$(jq -s -r '[.[].sites[].cache] | unique | join(",")' "$TMP/out")
	[ "$caches" = pages/order-0 ] ||
		CUR=cache_allocators_pages fail "--cache pages/order-0 reported caches '$caches'"
}

# a BPF array of 64 KiB is one vmap area (bpf_map_area_alloc), freed by a
# kworker after close; by the vmalloc events (6.12+), else by fentry on
# vmalloc's functions (Debian's 5.10 and 6.1)
test_vmalloc() {
	if ! has_events vmalloc_events && ! has_events vmalloc_fentry; then
		allocator_unavailable --vmalloc vmalloc
		return
	fi
	has_events vmalloc_events || ATTACH_HAS="vmalloc (fentry)"
	KLEAK_EXTRA=--vmalloc held_test vmalloc 50 '^array_map_alloc\+' vmalloc 50
	ATTACH_HAS=
}

# vmalloc reached neither by its events nor by fentry on its functions
# (both hidden here with the testing knob; where fentry is what reaches it,
# 5.10 and 6.1, also the classic tracepoint set, which takes no fentry
# programs): one line, status 1.
test_vmalloc_unavailable() {
	need_root || return
	KLEAK_HIDE_FEATURES=vmalloc_events,vmalloc_fentry allocator_unavailable --vmalloc vmalloc
	if ! has_events vmalloc_events && has_events vmalloc_fentry && has_tracepoint_set; then
		KLEAK_PROGRAMS=tracepoint allocator_unavailable --vmalloc vmalloc
	fi
}

# a per-CPU BPF array of one value is one percpu allocation, freed by a
# kworker after close (array_map_alloc calls bpf_map_alloc_percpu since 5.11,
# __alloc_percpu_gfp before)
test_percpu() {
	has_events percpu_events || { allocator_unavailable --percpu percpu; return; }
	KLEAK_EXTRA=--percpu held_test percpu 50 '^array_map_alloc\+' percpu 50
}

# The classic tracepoint set's allocator programs: pages by pfn, and the
# vmalloc and percpu records (release not asserted, as for test_classic_tp,
# but for vmalloc's, whose frees come from a kworker, not an RCU batch).
test_classic_tp_allocators() {
	need_root || return
	has_tracepoint_set || { skip "this kernel cannot load the classic tracepoint set"; return; }
	has_events percpu_events || { skip "no percpu events on this kernel"; return; }
	KLEAK_PROGRAMS=tracepoint KLEAK_EXTRA="--pages --percpu" \
		ATTACH="tracepoint; slab, pages, percpu" NO_RELEASE=1 \
		held_test percpu 50 '^array_map_alloc\+' percpu 50
	KLEAK_PROGRAMS=tracepoint KLEAK_EXTRA="--pages" \
		ATTACH="tracepoint; slab, pages" NO_RELEASE=1 \
		held_test pipepages 100 '^(anon_)?pipe_write\+' pages/order-0 100
	has_events vmalloc_events || { skip "no vmalloc events on this kernel"; return; }
	KLEAK_PROGRAMS=tracepoint KLEAK_EXTRA="--vmalloc" \
		ATTACH="tracepoint; slab, vmalloc" held_test vmalloc 50 '^array_map_alloc\+' vmalloc 50
}

# Anonymous page faults are user pages: left out and counted under --pages,
# reported apart (user pages/order-0) and paired on munmap under --pages=all.
test_user_pages() {
	local user left kernel
	need_root || return
	has_events page_events || { skip "no page events on this kernel"; return; }
	start_kleak -c "$COMM" --pages -o 0 -T 0 --format json || { fail "kleak did not attach"; return; }
	start_workload anon -c 200 -n "$COMM" anon || { fail "workload failed"; return; }
	report_now || { fail "no report on SIGUSR1"; return; }
	release_workload anon
	stop_kleak
	user=$(jq -s '[.[0].sites[] | select(.cache | startswith("user "))] | length' "$TMP/out")
	kernel=$(jq -s '.[0]' "$TMP/out" | held_count '^handle_mm_fault\+' pages/order-0)
	left=$(jq -s '.[0].stats.pages_user_left_out' "$TMP/out")
	if [ "$user" -ne 0 ]; then
		fail "--pages reported $user sites of user pages"
	elif [ "$left" -lt 200 ]; then
		fail "--pages: pages_user_left_out $left, expected >= 200 (the workload's faults)"
	elif [ "$kernel" -ge 200 ]; then
		fail "--pages: $kernel kernel pages from page faults, the anonymous ones among them"
	else
		KLEAK_EXTRA=--pages=all held_test anon 200 '^handle_mm_fault\+' 'user pages/order-0' 200
	fi
}

# Huge pages split into base pages (MADV_COLD on part of each) are freed
# piece by piece: the first piece ends the record (counted as split), the
# rest match nothing and are counted as unpaired (511 pages each); no
# phantom leak of the 511 others, nor of the huge page.
test_pages_split() {
	local split huge unpaired
	need_root || return
	has_events page_events || { skip "no page events on this kernel"; return; }
	grep -q '\[\(always\|madvise\)\]' /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null ||
		{ skip "no transparent huge pages"; return; }
	# the kernel may give fewer huge pages than asked for (fragmentation): at least one
	KLEAK_EXTRA=--pages=all held_test thpsplit 8 '^handle_mm_fault\+' 'user pages/order-9' 1
	huge=$(jq -s '.[0]' "$TMP/out" | held_count '^handle_mm_fault\+' 'user pages/order-9')
	split=$(last_report | jq '.stats.pages_freed_split')
	unpaired=$(last_report | jq '.stats.pages_split_unpaired')
	if [ "$split" -lt "$huge" ]; then
		CUR=pages_split_counted fail "pages_freed_split $split, expected >= $huge (the huge pages)"
	elif [ "$unpaired" -lt $((511 * huge)) ]; then
		CUR=pages_split_counted fail "pages_split_unpaired $unpaired, expected >= $((511 * huge))"
	fi
}

for t in files classic_tp tracefs_private btf_file no_ringbuf zombies tcp pipes churn comm_filter cache_filter cache_alias trace not_seen \
	 map_full attach_mode stack_cache irq_context books pages vmalloc vmalloc_unavailable percpu \
	 cache_allocators \
	 user_pages pages_split \
	 churn_allocators classic_tp_allocators; do
	run_test $t
done
