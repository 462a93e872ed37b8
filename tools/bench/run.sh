#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# make bench: throughput of workloads with a fixed kernel allocation pattern
# (tools/bench/churn.c) under each tracer configuration, relative to no tracer,
# plus the per-event BPF cost the kernel itself measures (run_time_ns/run_cnt),
# the tracers' BPF map memory and userspace RSS. Writes BENCHMARKS.md.
#
# The noise on a shared VM comes and goes within seconds (consecutive 1 s
# untraced open/close runs here gave anything from 254k to 377k ops/s), so
# configurations are interleaved per workload: for each repetition and
# workload every configuration runs once between two untraced runs (U A B C
# ... U, the tracers in reverse order on the next repetition), a tracer
# attached just for that run. Each run is divided by the mean of the two
# untraced runs of its workload and repetition, seconds apart, and a
# configuration is reported as the median (and min-max) of those ratios.
# A tracer is known to be attached by the line it prints, never by a sleep.
#
# Environment:
#   REPS=7          repetitions of the whole interleaved sequence
#   SECONDS=1       seconds per workload run (BENCH_SECONDS works too)
#   COST_SECONDS=1  seconds per workload in the bpf_stats cost pass
#   WORKLOADS="open socket tcp fork getppid"
#   MEMLEAK=/path   a locally built libbpf-tools memleak to include
#   BT_MAP_KEYS=65536  BPFTRACE_MAP_KEYS_MAX for the bpftrace equivalent
#   QUIET_TIMEOUT=120  seconds to wait for another tracer on the kmem hooks to go
#   REPORT1M_CYCLES=100  snapshot+report cycles in the report memory check
#   CLASSIFY_TASKS=10000 CLASSIFY_FILES=100000 CLASSIFY_MAPS=100000
#                   held during the classification timing (threads, open and mapped files)
#   KLEAK=./kleak   BENCH_OUT=BENCHMARKS.md

# Read first: bash counts SECONDS up from the value it inherited.
run_seconds=${BENCH_SECONDS:-$SECONDS}
[ "$run_seconds" -gt 0 ] 2>/dev/null || run_seconds=1

set -u -o pipefail
cd "$(dirname "$0")/../.." || exit 1

REPS=${REPS:-7}
REPORT1M_CYCLES=${REPORT1M_CYCLES:-100}
CLASSIFY_TASKS=${CLASSIFY_TASKS:-10000}
CLASSIFY_FILES=${CLASSIFY_FILES:-100000}
CLASSIFY_MAPS=${CLASSIFY_MAPS:-100000}
COST_SECONDS=${COST_SECONDS:-1}
WORKLOADS=${WORKLOADS:-"open socket tcp fork getppid"}
KLEAK=${KLEAK:-./kleak}
MEMLEAK=${MEMLEAK:-}
BT_MAP_KEYS=${BT_MAP_KEYS:-65536}
BENCH_OUT=${BENCH_OUT:-BENCHMARKS.md}
FLOOR=.output/bench-floor
REPORT1M=.output/bench-report1m
CHURN=.output/bench-churn
WORK=.output/bench
READY_TIMEOUT=60
QUIET_TIMEOUT=${QUIET_TIMEOUT:-120}
STOP_TIMEOUT=120
TRACEFS=/sys/kernel/tracing
BENCH_COMM=kleak-bench
NOMATCH_COMM=kleak-nomatch

# The memleak equivalent: a stack per outstanding address, retired on free.
# END clears the map so that each stop does not print thousands of stacks.
BPFTRACE_PROG='
BEGIN { printf("bpftrace: attached\n"); }
tracepoint:kmem:kmalloc, tracepoint:kmem:kmem_cache_alloc { @allocs[args->ptr] = kstack; }
tracepoint:kmem:kfree, tracepoint:kmem:kmem_cache_free { delete(@allocs[args->ptr]); }
END { clear(@allocs); }'

tracer_pid=
job_pid=
tracer_conf=
stats_saved=
tracefs_mounted=

log() { printf 'bench: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root: the tracers load BPF programs"
for v in "$REPS" "$COST_SECONDS" "$REPORT1M_CYCLES"; do
	[ "$v" -gt 0 ] 2>/dev/null ||
		die "invalid REPS/COST_SECONDS/REPORT1M_CYCLES '$v': not a positive integer"
done
command -v jq >/dev/null || die "jq not found: install Debian package jq (make deps)"
command -v bpftool >/dev/null || die "bpftool not found: install Debian package bpftool (make deps)"

apt_install() {
	log "installing Debian package(s) $*"
	apt-get update -qq >/dev/null &&
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" \
			>/dev/null
}

# Tracers are stopped on any exit, and bpf_stats_enabled goes back to what it was.
cleanup() {
	stop_tracer
	if [ -n "$stats_saved" ]; then
		sysctl -q -w kernel.bpf_stats_enabled="$stats_saved" >/dev/null
		stats_saved=
	fi
	if [ -n "$tracefs_mounted" ]; then
		umount -l "$TRACEFS" 2>/dev/null
		tracefs_mounted=
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

rm -rf "$WORK" && mkdir -p "$WORK" || die "cannot create $WORK"

# Until the Makefile builds it, build the workload here with the same flags.
if [ ! -x "$CHURN" ] || [ tools/bench/churn.c -nt "$CHURN" ]; then
	${CC:-cc} -g -O2 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
		-Wmissing-prototypes -Wundef -Wformat-security -Wno-unused-parameter \
		-fno-omit-frame-pointer -D_GNU_SOURCE tools/bench/churn.c -o "$CHURN" ||
		die "failed to build $CHURN"
fi

# memleak's and bpftrace's classic kmem tracepoints need tracefs, which a
# fresh machine often has unmounted (kleak mounts it itself for its own
# tracepoint set, the peers do not): mounted for the run, unmounted on exit.
if [ ! -d "$TRACEFS/events/kmem" ] && [ ! -d /sys/kernel/debug/tracing/events/kmem ]; then
	if mount -t tracefs nodev "$TRACEFS"; then
		tracefs_mounted=1
	else
		log "cannot mount tracefs on $TRACEFS: memleak and bpftrace will not attach"
	fi
fi

# --- configurations -------------------------------------------------------

configs=(untraced)
declare -A label note ready
label[untraced]="untraced"

if [ -x "$FLOOR" ]; then
	configs+=(floor)
else
	note[floor]="skipped: $FLOOR not built (make bench builds it)"
fi
label[floor]="floor: 4 empty tp_btf programs"
ready[floor]="^floor: attached"
[ -x "$FLOOR" ] && configs+=(floor_pages)
label[floor_pages]="floor with the page events: 7 empty tp_btf programs"
ready[floor_pages]="^floor: attached"

label[kleak]="kleak (no filter, full stacks)"
label[kleak_walk]="kleak --stack-cache off (no filter, every stack walked)"
label[kleak_nomatch]="kleak -c $NOMATCH_COMM (filter misses)"
label[kleak_comm]="kleak -c $BENCH_COMM (filter matches)"
label[kleak_s16]="kleak -s 16 (sampled)"
label[kleak_cmd]="kleak -- sleep (traces a command holding a few records; the workload is not traced)"
label[kleak_ustack]="kleak -c $BENCH_COMM --ustack (filter matches; user stacks walked in BPF by the binaries' CFI)"
label[kleak_dwarf]="kleak -c $BENCH_COMM --ustack=dwarf (filter matches; user stacks copied and unwound)"
label[kleak_all]="kleak --all-allocators (no filter, full stacks)"
label[kleak_all_nomatch]="kleak --all-allocators -c $NOMATCH_COMM (filter misses)"
for c in kleak kleak_walk kleak_nomatch kleak_comm kleak_s16 kleak_cmd kleak_ustack kleak_dwarf \
	 kleak_all kleak_all_nomatch; do
	ready[$c]="^kleak: tracing"
done
label[kleak_v]=${label[kleak]}
ready[kleak_v]=${ready[kleak]}
kleak_configs=(kleak kleak_walk kleak_nomatch kleak_comm kleak_s16 kleak_cmd kleak_ustack kleak_dwarf
	kleak_all kleak_all_nomatch)

# The compat program set (kernels without BPF atomics or task storage),
# forced on this kernel. Named outside kleak* so that each is preflighted on
# its own: a kernel may lack what compat needs while the default set runs.
label[compat]="kleak compat set (no filter, full stacks)"
label[compat_nomatch]="kleak compat set -c $NOMATCH_COMM (filter misses)"
label[compat_comm]="kleak compat set -c $BENCH_COMM (filter matches)"
compat_configs=(compat compat_nomatch compat_comm)
for c in "${compat_configs[@]}"; do
	ready[$c]="^kleak: tracing"
	configs+=("$c")
done
# the default rows measure the set kleak picks
unset KLEAK_PROGRAMS

if ! dpkg -s libbpf-tools >/dev/null 2>&1; then
	apt_install libbpf-tools || log "could not install libbpf-tools"
fi
libbpf_tools_ver=$(dpkg-query -W -f '${Version}' libbpf-tools 2>/dev/null)
deb_memleak=$(dpkg -L libbpf-tools 2>/dev/null | grep -E '/s?bin/memleak$' | head -n 1)
# libbpf-tools memleak's start line: "Tracing outstanding memory allocs...
# Hit Ctrl-C to end" up to BCC 0.33, "Attaching to kernel allocators, Ctrl+C
# to quit." (memleak.py's) since 0.34. It runs under stdbuf -oL: its stdout
# into a file is block-buffered, and the line would come only at exit.
MEMLEAK_READY="^(Tracing outstanding memory allocs|Attaching to kernel allocators)"
label[memleak_deb]="memleak (Debian libbpf-tools ${libbpf_tools_ver:-not installed})"
ready[memleak_deb]=$MEMLEAK_READY
if [ -n "$deb_memleak" ]; then
	configs+=(memleak_deb)
elif [ -n "$libbpf_tools_ver" ]; then
	note[memleak_deb]="not run: Debian's libbpf-tools $libbpf_tools_ver does not ship memleak"
else
	note[memleak_deb]="not run: Debian package libbpf-tools could not be installed"
fi

label[memleak_local]="memleak (MEMLEAK=${MEMLEAK:-unset})"
ready[memleak_local]=$MEMLEAK_READY
if [ -n "$MEMLEAK" ]; then
	if [ -x "$MEMLEAK" ]; then
		configs+=(memleak_local)
	else
		note[memleak_local]="skipped: MEMLEAK=$MEMLEAK is not an executable"
	fi
fi

if ! command -v bpftrace >/dev/null; then
	apt_install bpftrace || log "could not install bpftrace"
fi
label[bpftrace]="bpftrace (@[args->ptr] = kstack, delete on free)"
# "Attaching N probes..." comes before the attach; BEGIN fires after it.
ready[bpftrace]="^bpftrace: attached"
if command -v bpftrace >/dev/null; then
	label[bpftrace]="bpftrace $(bpftrace --version | awk '{print $2}') (@[args->ptr] = kstack, delete on free)"
	configs+=(bpftrace)
else
	note[bpftrace]="skipped: bpftrace not installed and apt-get install failed"
fi

# tracer_cmd CONFIG: the command line of CONFIG's tracer in the array cmd.
tracer_cmd() {
	case $1 in
	floor) cmd=("$FLOOR") ;;
	floor_pages) cmd=("$FLOOR" --pages) ;;
	kleak) cmd=("$KLEAK") ;;
	kleak_v) cmd=("$KLEAK" -v) ;;
	kleak_walk) cmd=("$KLEAK" --stack-cache off) ;;
	kleak_nomatch) cmd=("$KLEAK" -c "$NOMATCH_COMM") ;;
	kleak_comm) cmd=("$KLEAK" -c "$BENCH_COMM") ;;
	kleak_s16) cmd=("$KLEAK" -s 16) ;;
	kleak_cmd) cmd=("$KLEAK" --linger 0 -- sleep 3600) ;;
	kleak_ustack) cmd=("$KLEAK" -c "$BENCH_COMM" --ustack) ;;
	kleak_dwarf) cmd=("$KLEAK" -c "$BENCH_COMM" --ustack=dwarf) ;;
	kleak_all) cmd=("$KLEAK" --all-allocators) ;;
	kleak_all_nomatch) cmd=("$KLEAK" --all-allocators -c "$NOMATCH_COMM") ;;
	compat) cmd=(env KLEAK_PROGRAMS=compat "$KLEAK") ;;
	compat_nomatch) cmd=(env KLEAK_PROGRAMS=compat "$KLEAK" -c "$NOMATCH_COMM") ;;
	compat_comm) cmd=(env KLEAK_PROGRAMS=compat "$KLEAK" -c "$BENCH_COMM") ;;
	memleak_deb) cmd=(stdbuf -oL "$deb_memleak" 3600) ;;
	memleak_local) cmd=(stdbuf -oL "$MEMLEAK" 3600) ;;
	bpftrace) cmd=(env BPFTRACE_MAP_KEYS_MAX="$BT_MAP_KEYS" bpftrace -e "$BPFTRACE_PROG") ;;
	*) return 1 ;;
	esac
}

# start_tracer CONFIG LOG [peak_rss_file]: run CONFIG's tracer with stdout and
# stderr in LOG and return once its ready line is there; 1 if it never comes.
# With a third argument the tracer runs under GNU time, which records its
# peak RSS there (time ignores SIGINT, so the signal goes to the tracer).
start_tracer() {
	local conf=$1 out=$2 rss=${3:-} deadline pat=${ready[$1]}

	tracer_cmd "$conf" || return 1
	tracer_conf=$conf
	if [ -n "$rss" ]; then
		/usr/bin/time -f '%M' -o "$rss" "${cmd[@]}" >"$out" 2>&1 &
	else
		"${cmd[@]}" >"$out" 2>&1 &
	fi
	job_pid=$!
	tracer_pid=$job_pid
	deadline=$(($(date +%s) + READY_TIMEOUT))
	until grep -qE "$pat" "$out" 2>/dev/null; do
		if ! kill -0 "$job_pid" 2>/dev/null || [ "$(date +%s)" -ge "$deadline" ]; then
			stop_tracer
			return 1
		fi
		sleep 0.05
	done
	if [ -n "$rss" ]; then
		tracer_pid=$(cat "/proc/$job_pid/task/$job_pid/children" 2>/dev/null)
		tracer_pid=${tracer_pid%% *}
		[ -n "$tracer_pid" ] || tracer_pid=$job_pid
	fi
	return 0
}

# stop_tracer: SIGINT, let it print its report, SIGKILL if it hangs.
# Returns the tracer's exit status. kleak -- sleep gets SIGTERM: it passes
# the signal to the command, and a command started in the background by a
# script ignores SIGINT; its status is then the command's (143), counted as 0.
stop_tracer() {
	local deadline rc=0

	[ -n "$job_pid" ] || return 0
	if [ "$tracer_conf" = kleak_cmd ]; then
		kill -TERM "$tracer_pid" 2>/dev/null
	else
		kill -INT "$tracer_pid" 2>/dev/null
	fi
	deadline=$(($(date +%s) + STOP_TIMEOUT))
	while kill -0 "$job_pid" 2>/dev/null; do
		if [ "$(date +%s)" -ge "$deadline" ]; then
			log "tracer $tracer_pid did not exit in ${STOP_TIMEOUT}s on SIGINT: killing it"
			kill -KILL "$tracer_pid" "$job_pid" 2>/dev/null
			break
		fi
		sleep 0.05
	done
	wait "$job_pid" 2>/dev/null || rc=$?
	[ "$tracer_conf" = kleak_cmd ] && [ "$rc" -eq 143 ] && rc=0
	job_pid=
	tracer_pid=
	tracer_conf=
	return $rc
}

# Preflight: a tracer that cannot attach is reported, not benchmarked.
preflight() {
	local conf=$1 out=$WORK/preflight-$1.log

	if start_tracer "$conf" "$out"; then
		stop_tracer || log "$conf: exit status $? after SIGINT (see $out)"
		return 0
	fi
	note[$conf]="skipped: failed to attach ($(grep -v '^$' "$out" | tail -n 1 | cut -c1-120))"
	log "$conf: ${note[$conf]}"
	return 1
}

if [ ! -x "$KLEAK" ]; then
	for c in "${kleak_configs[@]}"; do note[$c]="skipped: $KLEAK not built"; done
elif preflight kleak; then
	configs+=("${kleak_configs[@]}")
else
	for c in "${kleak_configs[@]}"; do note[$c]=${note[kleak]}; done
fi
kept=()
for c in "${configs[@]}"; do
	case $c in
	untraced | kleak*) kept+=("$c") ;;
	*) if preflight "$c"; then kept+=("$c"); fi ;;
	esac
done
configs=("${kept[@]}")

# --- throughput -----------------------------------------------------------

# bpf_ids PID KIND: ids of the BPF objects (prog or map) PID holds open.
bpf_ids() {
	grep -h "^$2_id:" /proc/"$1"/fdinfo/* 2>/dev/null | awk '{print $2}' | sort -un
}

# foreign_kmem_progs: how many BPF programs on the kmem hooks are loaded that
# are not the current tracer's (a test's tracer, a stuck one): a run next to
# one measures both, so it waits for them to go and is repeated if one came.
foreign_kmem_progs() {
	bpftool prog show -j | jq -r --argjson ours "$our_progs" \
		'.[] | select((.type == "tracing" or .type == "tracepoint" or
			       .type == "raw_tracepoint") and
			      (.name | test("kmalloc|kfree|kmem_cache")) and
			      (.id as $i | $ours | index($i) | not)) | .id' | wc -l
}

# wait_quiet: until no foreign kmem program is loaded; 1 after QUIET_TIMEOUT.
wait_quiet() {
	local deadline=$(($(date +%s) + QUIET_TIMEOUT)) said=

	while [ "$(foreign_kmem_progs)" -gt 0 ]; do
		[ -n "$said" ] || log "another tracer has programs on the kmem hooks: waiting"
		said=1
		[ "$(date +%s)" -lt "$deadline" ] || return 1
		sleep 0.5
	done
}

results=$WORK/results
: >"$results"
our_progs='[]'
reruns=0
tainted=0
start_time=$(date +%s)
loadavg_start=$(cut -d' ' -f1-3 /proc/loadavg)
log "configurations: ${configs[*]}; $REPS reps x ${run_seconds}s per workload"

# run_workload CONF WORKLOAD REP: one timed run, appended to $results.
run_workload() {
	local conf=$1 w=$2 rep=$3 line try

	for try in 1 2 3; do
		wait_quiet
		line=$("$CHURN" "$w" "$run_seconds") || die "$CHURN $w failed"
		[ "$(foreign_kmem_progs)" -eq 0 ] && break
		if [ "$try" -eq 3 ]; then
			tainted=$((tainted + 1))
		else
			reruns=$((reruns + 1))
		fi
	done
	printf '%s %s %s %s\n' "$conf" "$w" "$rep" "${line#* }" >>"$results"
}

for ((rep = 1; rep <= REPS; rep++)); do
	# untraced first and last: the tracers between them are compared with both
	order=(untraced)
	if ((rep % 2 == 0)); then
		for ((i = ${#configs[@]} - 1; i > 0; i--)); do order+=("${configs[i]}"); done
	else
		order+=("${configs[@]:1}")
	fi
	order+=(untraced)
	for w in $WORKLOADS; do
		log "rep $rep/$REPS: $w"
		for conf in "${order[@]}"; do
			if [ "$conf" = untraced ]; then
				run_workload "$conf" "$w" "$rep"
				continue
			fi
			out=$WORK/$conf.$w.$rep.log
			start_tracer "$conf" "$out" ||
				die "$conf failed to attach in rep $rep (see $out)"
			our_progs=$(bpf_ids "$tracer_pid" prog | jq -s -c .)
			run_workload "$conf" "$w" "$rep"
			stop_tracer || log "$conf: exit status $? after SIGINT (see $out)"
			our_progs='[]'
		done
	done
done
throughput_time=$(($(date +%s) - start_time))
loadavg_end=$(cut -d' ' -f1-3 /proc/loadavg)

# --- per-event cost, map memory, RSS --------------------------------------

# map_memory_kib PID: the kernel's memlock accounting of PID's maps.
map_memory_kib() {
	local f

	for f in /proc/"$1"/fdinfo/*; do
		awk '/^map_id:/ {id = $2} /^memlock:/ {m = $2}
		     END {if (id != "") print id, m}' "$f" 2>/dev/null
	done | sort -un | awk '{s += $2} END {printf "%.0f", s / 1024}'
}

# prog_stats IDS...: "name run_cnt run_time_ns" for each of the programs.
prog_stats() {
	local ids

	ids=$(printf '%s\n' "$@" | jq -s -c .)
	bpftool prog show -j | jq -r --argjson ids "$ids" \
		'.[] | select(.id as $i | $ids | index($i)) |
		 "\(.id) \(.name) \(.run_cnt // 0) \(.run_time_ns // 0)"'
}

cost=$WORK/cost
: >"$cost"
declare -A maps_kib rss_kib peak_kib
stats_orig=$(sysctl -n kernel.bpf_stats_enabled)
log "cost pass: kernel.bpf_stats_enabled on for ${COST_SECONDS}s per workload and tracer"
for conf in "${configs[@]}"; do
	[ "$conf" = untraced ] && continue
	c=$conf
	# kleak prints its map sizes with -v; the other kleak configs share them.
	[ "$conf" = kleak ] && c=kleak_v
	out=$WORK/cost-$conf.log
	start_tracer "$c" "$out" "$WORK/peak-$conf" || die "$conf failed to attach in the cost pass"
	mapfile -t ids < <(bpf_ids "$tracer_pid" prog)
	maps_kib[$conf]=$(map_memory_kib "$tracer_pid")
	stats_saved=$stats_orig
	sysctl -q -w kernel.bpf_stats_enabled=1 >/dev/null
	for w in $WORKLOADS; do
		prog_stats "${ids[@]}" >"$WORK/before-$conf-$w"
		"$CHURN" "$w" "$COST_SECONDS" >/dev/null || die "$CHURN $w failed"
		prog_stats "${ids[@]}" >"$WORK/after-$conf-$w"
		# delta per program; the hook from the name (bpftrace's are the event
		# names, memleak's have a memleak__ prefix)
		join <(sort -k1,1 "$WORK/before-$conf-$w") <(sort -k1,1 "$WORK/after-$conf-$w") |
			awk -v conf="$conf" -v w="$w" '
			{ hook = "other"; sub(/^memleak__/, "", $2) }
			$2 ~ /^kmem_cache_a/ { hook = "kmem_cache_alloc" }
			$2 ~ /^kmem_cache_f/ { hook = "kmem_cache_free" }
			$2 ~ /^kmalloc/ { hook = "kmalloc" }
			$2 ~ /^kfree/ { hook = "kfree" }
			$2 ~ /^mm_page_alloc/ { hook = "mm_page_alloc" }
			$2 ~ /^mm_page_free/ { hook = "mm_page_free" }
			{ print conf, w, hook, $6 - $3, $7 - $4 }' >>"$cost"
	done
	sysctl -q -w kernel.bpf_stats_enabled="$stats_orig" >/dev/null
	stats_saved=
	rss_kib[$conf]=$(awk '/^VmRSS:/ {print $2}' /proc/"$tracer_pid"/status)
	stop_tracer || log "$conf: exit status $? after SIGINT (see $out)"
	peak_kib[$conf]=$(cat "$WORK/peak-$conf" 2>/dev/null | tail -n 1)
done
total_time=$(($(date +%s) - start_time))

# --- report from 1M outstanding allocations -------------------------------

# bench-report1m fills maps shaped like kleak's with 1,000,000 allocations
# (nothing traced) and prints "name value" lines, read into report1m[name].
declare -A report1m
report1m_note=
report1m_start=$(date +%s)
if [ ! -x "$REPORT1M" ]; then
	report1m_note="skipped: $REPORT1M not built (make bench builds it)"
else
	log "report from 1,000,000 outstanding allocations, then $REPORT1M_CYCLES report cycles"
	if "$REPORT1M" -c "$REPORT1M_CYCLES" >"$WORK/report1m" 2>"$WORK/report1m.err"; then
		while read -r k v; do report1m[$k]=$v; done <"$WORK/report1m"
	else
		report1m_note="failed: $(grep -v '^$' "$WORK/report1m.err" | tail -n 1 | cut -c1-120)"
		log "$REPORT1M $report1m_note"
	fi
fi
report1m_time=$(($(date +%s) - report1m_start))

# --ustack=dwarf's own userspace CPU: kleak's utime + stime over a run of the
# open workload once attached (load and verification left out), per recorded
# allocation, scaled to 20,000 recorded allocations per second.
declare -A dwarf_cpu
if [ -x "$KLEAK" ]; then
	log "--ustack=dwarf userspace CPU over ${COST_SECONDS}s of the open workload"
	"$KLEAK" -c "$BENCH_COMM" --ustack=dwarf -o 0 -T 1 --format json \
		>"$WORK/dwarf.json" 2>"$WORK/dwarf.err" &
	dpid=$!
	for _ in $(seq 600); do
		grep -q '^kleak: tracing' "$WORK/dwarf.err" 2>/dev/null && break
		kill -0 "$dpid" 2>/dev/null || break
		sleep 0.1
	done
	if grep -q '^kleak: tracing' "$WORK/dwarf.err"; then
		t0=$(awk '{ print $14 + $15 }' "/proc/$dpid/stat")
		"$CHURN" open "$COST_SECONDS" >/dev/null
		t1=$(awk '{ print $14 + $15 }' "/proc/$dpid/stat")
		kill -INT "$dpid"
		wait "$dpid"
		dwarf_cpu[ticks]=$((t1 - t0))
		dwarf_cpu[allocs]=$(jq '.stats.allocs_recorded' "$WORK/dwarf.json")
		dwarf_cpu[dropped]=$(jq '.stats.ustack_sample_dropped' "$WORK/dwarf.json")
	else
		kill -KILL "$dpid" 2>/dev/null
		wait "$dpid" 2>/dev/null
	fi
fi

# The same maps, with a quarter of the sites each in task_struct, filp and
# TCP, timed through the object classification with CLASSIFY_TASKS threads,
# CLASSIFY_FILES files held open and CLASSIFY_MAPS files held mapped (one vma
# each) for the walks, read into classify[name].
declare -A classify
classify_note=
if [ ! -x "$REPORT1M" ]; then
	classify_note="skipped: $REPORT1M not built (make bench builds it)"
else
	log "classification of 1,000,000 outstanding allocations, $CLASSIFY_TASKS tasks, $CLASSIFY_FILES files, $CLASSIFY_MAPS mappings"
	if "$REPORT1M" -t "$CLASSIFY_TASKS" -f "$CLASSIFY_FILES" -m "$CLASSIFY_MAPS" >"$WORK/classify" \
			2>"$WORK/classify.err"; then
		while read -r k v; do classify[$k]=$v; done <"$WORK/classify"
	else
		classify_note="failed: $(grep -v '^$' "$WORK/classify.err" | tail -n 1 | cut -c1-120)"
		log "$REPORT1M -t $classify_note"
	fi
fi

# --- report ---------------------------------------------------------------

fmt_int() { printf "%'d" "$1" 2>/dev/null || printf '%s' "$1"; }

# awk functions: sort(a, n) sorts a[1..n]; median(a, n) of a sorted a[1..n].
AWK_MEDIAN='
function sort(a, n,   i, j, t) {
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
}
function median(a, n) { return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }'

# Each configuration's median over repetitions of its ops/s divided by the
# mean untraced ops/s of the same workload and repetition, [min-max] of those
# ratios; the untraced row gives the absolute rate (over all its runs). "conf workload median"
# lines also go to the file $1, for the targets.
ratio_table() {
	awk -v workloads="$WORKLOADS" -v medians="$1" "$AWK_MEDIAN"'
	{ n[$1, $2]++; rep[$1, $2, n[$1, $2]] = $3; ops[$1, $2, n[$1, $2]] = $4
	  if ($1 == "untraced") { bsum[$2, $3] += $4; bn[$2, $3]++ }
	  if (!($1 in seen)) { seen[$1] = 1; order[++nc] = $1 } }
	END {
		nw = split(workloads, W, " ")
		for (c = 1; c <= nc; c++) {
			conf = order[c]; line = conf
			for (w = 1; w <= nw; w++) {
				k = 0
				for (i = 1; i <= n[conf, W[w]]; i++) {
					r = rep[conf, W[w], i]
					b = bn[W[w], r] ? bsum[W[w], r] / bn[W[w], r] : 0
					if (conf == "untraced")
						v[++k] = ops[conf, W[w], i]
					else if (b)
						v[++k] = ops[conf, W[w], i] / b * 100
				}
				sort(v, k)
				if (!k)
					cell = "–"
				else if (conf == "untraced")
					cell = sprintf("%d/s [%d–%d]", median(v, k), v[1], v[k])
				else {
					cell = sprintf("%.1f%% [%.1f–%.1f]", median(v, k), v[1], v[k])
					printf "%s %s %.1f\n", conf, W[w], median(v, k) > medians
				}
				line = line "\t" cell
			}
			print line
		}
	}' "$results"
}

# Per hook: ns per event and events, from the run_time_ns/run_cnt deltas
# summed over the workloads.
cost_table() {
	awk '
	{ cnt[$1, $3] += $4; ns[$1, $3] += $5; tc[$1] += $4; tn[$1] += $5
	  if (!($1 in seen)) { seen[$1] = 1; order[++nc] = $1 } }
	END {
		split("kmalloc kfree kmem_cache_alloc kmem_cache_free", H, " ")
		for (c = 1; c <= nc; c++) {
			conf = order[c]; line = conf
			for (h = 1; h <= 4; h++)
				line = line "\t" (cnt[conf, H[h]] ? sprintf("%.0f ns (%d)", ns[conf, H[h]] / cnt[conf, H[h]], cnt[conf, H[h]]) : "–")
			line = line "\t" (tc[conf] ? sprintf("%.0f ns", tn[conf] / tc[conf]) : "–")
			print line
		}
	}' "$cost"
}

# table: TSV rows on stdin → markdown rows, first column replaced by its label.
table() {
	local conf rest

	while IFS=$'\t' read -r conf rest; do
		printf '| %s | %s |\n' "${label[$conf]:-$conf}" "${rest//$'\t'/ | }"
	done
}

all_configs=(untraced floor floor_pages "${kleak_configs[@]}" "${compat_configs[@]}" memleak_deb)
[ -n "$MEMLEAK" ] && all_configs+=(memleak_local)
all_configs+=(bpftrace)
nw=$(wc -w <<<"$WORKLOADS")
ratio_table "$WORK/medians" >"$WORK/ratios"
cost_table >"$WORK/costs"

# med CONF WORKLOAD: the median ratio (% of untraced), empty if not run.
med() { awk -v c="$1" -v w="$2" '$1 == c && $2 == w {print $3}' "$WORK/medians"; }

# hook_ns CONF HOOK...: mean ns per event of CONF's programs on HOOKs, per
# workload that drives them (10,000 events/s or more: getppid's are the rest
# of the system's), then the median over those workloads.
hook_ns() {
	local conf=$1

	shift
	awk -v conf="$conf" -v hooks=" $* " -v min=$((10000 * COST_SECONDS)) "$AWK_MEDIAN"'
	$1 == conf && index(hooks, " " $3 " ") { cnt[$2] += $4; ns[$2] += $5 }
	END {
		for (w in cnt) if (cnt[w] >= min) v[++k] = ns[w] / cnt[w]
		sort(v, k)
		if (k) printf "%.0f", median(v, k)
	}' "$cost"
}

verdict() { if awk -v x="$1" -v op="$2" -v y="$3" 'BEGIN { exit !(op == "<=" ? x <= y : x >= y) }'; then
	echo met; else echo "**not met**"; fi; }

# miss_rows CONF WHAT: the targets for a tracer that leaves the workload out.
miss_rows() {
	local w worst=0 worst_w="" miss fl floor_ns miss_ns r

	for w in $WORKLOADS; do
		miss=$(med "$1" "$w")
		[ -n "$miss" ] || continue
		if [ -z "$worst_w" ] || awk -v a="$miss" -v b="$worst" 'BEGIN { exit !(100 - a > b) }'; then
			worst=$(awk -v a="$miss" 'BEGIN { printf "%.1f", 100 - a }')
			worst_w=$w
		fi
	done
	[ -n "$worst_w" ] || return 0
	fl=$(med floor "$worst_w")
	echo "| $2: slowdown ≤ 15% on every workload | worst ${worst}% ($worst_w; the empty programs alone: $(awk -v a="${fl:-100}" 'BEGIN { printf "%.1f", 100 - a }')%) | $(verdict "$worst" "<=" 15) |"
	floor_ns=$(hook_ns floor kmalloc kfree kmem_cache_alloc kmem_cache_free)
	miss_ns=$(hook_ns "$1" kmalloc kfree kmem_cache_alloc kmem_cache_free)
	if [ -n "$floor_ns" ] && [ -n "$miss_ns" ]; then
		r=$(awk -v a="$miss_ns" -v b="$floor_ns" 'BEGIN { printf "%.2f", a / b }')
		echo "| $2: per-event cost ≤ 2× the empty programs' | ${r}× (${miss_ns} vs ${floor_ns} ns) | $(verdict "$r" "<=" 2) |"
	fi
}

# ustack_rows: --ustack's cost on a recorded allocation, against the same filter without it.
ustack_rows() {
	local with without r w worst="" worst_w k d hz cores

	with=$(hook_ns kleak_ustack kmalloc kmem_cache_alloc)
	without=$(hook_ns kleak_comm kmalloc kmem_cache_alloc)
	[ -n "$with" ] && [ -n "$without" ] || return 0
	r=$(awk -v a="$with" -v b="$without" 'BEGIN { printf "%.0f", 100 * (a - b) / b }')
	echo "| --ustack (fp mode: the walk in BPF) adds ≤ 50% to a recorded allocation's BPF cost | +${r}% (${with} vs ${without} ns, -c $BENCH_COMM) | $(verdict "$r" "<=" 50) |"
	for w in $WORKLOADS; do
		k=$(med kleak_comm "$w")
		d=$(med kleak_dwarf "$w")
		[ -n "$k" ] && [ -n "$d" ] || continue
		r=$(awk -v a="$d" -v b="$k" 'BEGIN { printf "%.2f", a / b }')
		if [ -z "$worst" ] || awk -v a="$r" -v b="$worst" 'BEGIN { exit !(a < b) }'; then
			worst=$r
			worst_w=$w
		fi
	done
	[ -n "$worst" ] &&
		echo "| --ustack=dwarf keeps ≥ 0.5 of the throughput under kleak without it (-c $BENCH_COMM) | worst ${worst}× ($worst_w) | $(verdict "$worst" ">=" 0.5) |"
	if [ -n "${dwarf_cpu[allocs]:-}" ] && [ "${dwarf_cpu[allocs]}" -gt 0 ]; then
		hz=$(getconf CLK_TCK)
		cores=$(awk -v t="${dwarf_cpu[ticks]}" -v hz="$hz" -v n="${dwarf_cpu[allocs]}" \
			'BEGIN { printf "%.2f", t / hz / n * 20000 }')
		echo "| --ustack=dwarf userspace CPU < 1 core at 20,000 recorded allocations/s | ${cores} cores (${dwarf_cpu[ticks]} ticks for $(fmt_int "${dwarf_cpu[allocs]}") allocations, ${dwarf_cpu[dropped]} samples dropped; open workload) | $(verdict "$cores" "<=" 1) |"
	fi
}

# page_cost_row CONF WHAT: CONF's cost per page event against the empty programs'.
page_cost_row() {
	local floor_ns miss_ns r

	floor_ns=$(hook_ns floor_pages mm_page_alloc mm_page_free)
	miss_ns=$(hook_ns "$1" mm_page_alloc mm_page_free)
	[ -n "$floor_ns" ] && [ -n "$miss_ns" ] || return 0
	r=$(awk -v a="$miss_ns" -v b="$floor_ns" 'BEGIN { printf "%.2f", a / b }')
	echo "| $2: per page event cost ≤ 2× the empty programs' | ${r}× (${miss_ns} vs ${floor_ns} ns) | $(verdict "$r" "<=" 2) |"
}

# targets: the issue's targets, as rows of | target | measured | verdict |.
targets() {
	local c w m k mem="" r free_k free_c t g

	for c in memleak_local memleak_deb; do
		[ -n "$(med "$c" open)" ] && { mem=$c; break; }
	done
	for w in open socket; do
		k=$(med kleak "$w")
		if [ -z "$k" ]; then
			echo "| full stacks ≥ 1.4× memleak's throughput, $w | kleak not run | – |"
		elif [ -n "$mem" ]; then
			m=$(med "$mem" "$w")
			r=$(awk -v a="$k" -v b="$m" 'BEGIN { printf "%.2f", a / b }')
			echo "| full stacks ≥ 1.4× memleak's throughput, $w | ${r}× (${k}% vs ${m}%, ${label[$mem]}) | $(verdict "$r" ">=" 1.4) |"
		else
			m=$(med bpftrace "$w")
			r=${m:+$(awk -v a="$k" -v b="$m" 'BEGIN { printf "%.2f", a / b }')× bpftrace (${k}% vs ${m}%)}
			echo "| full stacks ≥ 1.4× memleak's throughput, $w | memleak ${note[memleak_deb]:-not run}; ${r:-no bpftrace either} | not measurable here |"
		fi
	done
	miss_rows kleak_nomatch "filter not matching"
	miss_rows kleak_cmd "a command traced, the workload not"
	ustack_rows
	miss_rows kleak_all_nomatch "--all-allocators, filter not matching"
	page_cost_row kleak_all_nomatch "--all-allocators, filter not matching"
	free_k=$(hook_ns kleak kfree)
	free_c=$(hook_ns kleak kmem_cache_free)
	if [ -n "$free_k" ] && [ -n "$free_c" ]; then
		r=$((free_k > free_c ? free_k : free_c))
		echo "| free path ≤ 150 ns per event, full tracing | kfree ${free_k} ns, kmem_cache_free ${free_c} ns | $(verdict "$r" "<=" 150) |"
	fi
	if [ -n "${report1m[report_1m_ms]:-}" ]; then
		echo "| report from 1,000,000 outstanding allocations < 1 s | ${report1m[report_1m_ms]} ms text, ${report1m[report_1m_json_ms]} ms JSON | $(verdict "$(( ${report1m[report_1m_ms]} > ${report1m[report_1m_json_ms]} ? ${report1m[report_1m_ms]} : ${report1m[report_1m_json_ms]} ))" "<=" 999) |"
		r=0
		for f in folded pprof svg; do
			[ "${report1m[report_1m_${f}_ms]:-1000}" -gt "$r" ] && r=${report1m[report_1m_${f}_ms]:-1000}
		done
		echo "| each stack format from 1,000,000 outstanding allocations < 1 s (every site) | ${report1m[report_1m_folded_ms]:-?} ms folded, ${report1m[report_1m_pprof_ms]:-?} ms pprof, ${report1m[report_1m_svg_ms]:-?} ms svg | $(verdict "$r" "<=" 999) |"
		echo "| no RSS growth over $REPORT1M_CYCLES reports | ${report1m[rss_growth_kib]} KiB | $(verdict "${report1m[rss_growth_kib]}" "<=" 0) |"
	fi
	if [ -n "${report1m[metrics_1m_ms]:-}" ]; then
		echo "| --metrics written from 1,000,000 outstanding allocations < 1 s | ${report1m[metrics_1m_ms]} ms | $(verdict "${report1m[metrics_1m_ms]}" "<=" 999) |"
		# from the first write on, with and without the interval trends (interval mode's)
		r=${report1m[metrics_rss_growth_kib]:-?}
		t=${report1m[metrics_trend_rss_growth_kib]:-?}
		g=$(( ${r/\?/1} > ${t/\?/1} ? ${r/\?/1} : ${t/\?/1} ))
		echo "| no RSS growth over $REPORT1M_CYCLES --metrics writes, from the first | ${r} KiB; with interval trends ${t} KiB (${report1m[metrics_trend_rss_kib_after_10]:-?} KiB after the 10th of them, ${report1m[metrics_trend_rss_kib_after_1]:-?} after the 1st) | $(verdict "$g" "<=" 0) |"
	fi
	if [ -n "${classify[classify_ms]:-}" ]; then
		echo "| object classes per report, 1,000,000 records, $(fmt_int "$CLASSIFY_TASKS") tasks, $(fmt_int "$CLASSIFY_FILES") files, $(fmt_int "$CLASSIFY_MAPS") mappings < 1 s | ${classify[classify_ms]} ms | $(verdict "${classify[classify_ms]}" "<=" 999) |"
	fi
}

{
	echo "# kleak benchmarks"
	echo
	echo "Generated by \`make bench\` (tools/bench/run.sh); do not edit by hand."
	echo
	echo "| | |"
	echo "| --- | --- |"
	echo "| date | $(date -u '+%Y-%m-%d %H:%M UTC') |"
	echo "| machine | $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo), $(nproc) CPUs, $(awk '/^MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo) |"
	echo "| kernel | $(uname -r) ($(uname -m)) |"
	echo "| system | $(. /etc/os-release && echo "$PRETTY_NAME") |"
	echo "| kleak | $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$([ -x "$KLEAK" ] || echo ', not built') |"
	echo "| runs | $REPS repetitions × ${run_seconds} s per workload and configuration; per workload, the tracers back to back between two untraced runs (their order reversed on even repetitions) |"
	echo "| load average | $loadavg_start at start, $loadavg_end after the throughput runs |"
	echo "| interference | $reruns runs repeated because another tracer's programs were on the kmem hooks; $tainted kept with one there after 3 tries |"
	echo "| runtime | ${throughput_time} s throughput, ${total_time} s with the cost pass |"
	echo
	echo "## Against the targets"
	echo
	echo "Throughput figures are the medians below; per-event costs are the kernel's"
	echo "run_time_ns/run_cnt per workload, median over the workloads that drive the hook"
	echo "(10,000 events/s or more)."
	echo
	echo "| target | measured | verdict |"
	echo "| --- | --- | --- |"
	targets
	echo
	echo "## Throughput relative to untraced"
	echo
	echo "Each cell is the median over repetitions of operations/s with the tracer ÷ the mean"
	echo "of the two untraced runs of the same workload that bracket the repetition's tracers"
	echo "(seconds apart), with [min–max] of those ratios; the untraced row gives the absolute"
	echo "rate over all its runs."
	echo "Workloads (tools/bench/churn.c, comm \`$BENCH_COMM\`):"
	echo "\`open\` open/close of a file, \`socket\` socket/close, \`tcp\` loopback"
	echo "connect/accept/close (reset, no TIME_WAIT), \`fork\` fork/exit/wait, \`getppid\` a syscall"
	echo "that allocates nothing (the cost when kmem is idle)."
	echo
	printf '| configuration |'; for w in $WORKLOADS; do printf ' %s |' "$w"; done; echo
	printf '| --- |'; for w in $WORKLOADS; do printf ' ---: |'; done; echo
	for c in "${all_configs[@]}"; do
		if grep -q "^$c"$'\t' "$WORK/ratios"; then
			grep "^$c"$'\t' "$WORK/ratios" | table
		else
			printf '| %s | %s |' "${label[$c]}" "${note[$c]:-not run}"
			for ((i = 1; i < nw; i++)); do printf ' |'; done
			echo
		fi
	done
	echo
	echo "## Per-event BPF cost, map memory, RSS"
	echo
	echo "From the kernel's own accounting: \`kernel.bpf_stats_enabled\` set to 1 only while"
	echo "the workloads ran for ${COST_SECONDS} s each with the tracer attached (then restored to"
	echo "$stats_orig), and run_time_ns/run_cnt deltas read with \`bpftool prog show -j\` for the"
	echo "programs the tracer holds open. Events are system-wide, not only the workload's."
	echo "Cells: mean ns per event (events). Map memory is the kernel's memlock figure for"
	echo "the tracer's maps (/proc/PID/fdinfo); RSS is VmRSS while attached and the peak"
	echo "over the whole run including the report (GNU time)."
	echo
	echo "| configuration | kmalloc | kfree | kmem_cache_alloc | kmem_cache_free | all programs | map memory | RSS attached / peak |"
	echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
	for c in "${all_configs[@]}"; do
		[ "$c" = untraced ] && continue
		if grep -q "^$c"$'\t' "$WORK/costs"; then
			row=$(grep "^$c"$'\t' "$WORK/costs")
			printf '%s\t%s KiB\t%s / %s KiB\n' "$row" "$(fmt_int "${maps_kib[$c]:-0}")" \
				"$(fmt_int "${rss_kib[$c]:-0}")" "$(fmt_int "${peak_kib[$c]:-0}")" | table
		else
			echo "| ${label[$c]} | ${note[$c]:-not run} | | | | | | |"
		fi
	done
	if [ -s "$WORK/cost-kleak.log" ]; then
		echo
		echo "### kleak -v at start-up (map sizes at defaults)"
		echo
		echo '```'
		awk '/^kleak: tracing/ {exit} /^kleak: / && /map|memory|[KMG]iB/' \
			"$WORK/cost-kleak.log" | head -n 30
		echo '```'
	fi
	echo
	echo "bpftrace ran with BPFTRACE_MAP_KEYS_MAX=$BT_MAP_KEYS:"
	echo
	echo '```'
	echo "${BPFTRACE_PROG#$'\n'}"
	echo '```'
	echo
	echo "## Report from 1,000,000 outstanding allocations"
	echo
	echo "tools/bench/report1m.c, without tracing: maps shaped like kleak's (allocs buckets,"
	echo "mmap'ed as kleak does; site_totals array of $(fmt_int 65536) slots, stacks, stats) filled with 1,000,000"
	echo "allocations over 2,000 sites and 300 stacks of real kernel text addresses, then"
	echo "kallsyms load + snapshot + report (top 10, --older 6s) to /dev/null, median of"
	echo "${report1m[runs]:-5} runs per format; RSS (VmRSS) after consecutive snapshot+report cycles"
	echo "with kallsyms loaded once, as interval mode does. Targets: under 1 s, no growth."
	echo
	if [ -n "$report1m_note" ]; then
		echo "$report1m_note"
	else
		echo "| measure | value |"
		echo "| --- | ---: |"
		echo "| report, text | $(fmt_int "${report1m[report_1m_ms]:-0}") ms |"
		echo "| report, JSON | $(fmt_int "${report1m[report_1m_json_ms]:-0}") ms |"
		echo "| RSS after 1 cycle | $(fmt_int "${report1m[rss_kib_after_1]:-0}") KiB |"
		echo "| RSS after $REPORT1M_CYCLES cycles | $(fmt_int "${report1m[rss_kib_after_$REPORT1M_CYCLES]:-0}") KiB |"
		echo "| growth over $REPORT1M_CYCLES cycles | $(fmt_int "${report1m[rss_growth_kib]:-0}") KiB |"
		echo "| peak RSS | $(fmt_int "${report1m[rss_peak_kib]:-0}") KiB |"
		echo "| runtime | ${report1m_time} s |"
		echo
		echo "--metrics: kallsyms load + snapshot + metrics__write() (top 10 sites; temporary"
		echo "file, fsync, rename), median of ${report1m[runs]:-5} runs; RSS over $REPORT1M_CYCLES writes with"
		echo "kallsyms loaded once, counted from the first write, without and with the interval"
		echo "trend (the previous interval's model kept while the next is built, as run.c does)."
		echo
		echo "| measure | value |"
		echo "| --- | ---: |"
		echo "| metrics file | $(fmt_int "${report1m[metrics_1m_ms]:-0}") ms |"
		echo "| RSS after write 1, 10, $REPORT1M_CYCLES | $(fmt_int "${report1m[metrics_rss_kib_after_1]:-0}"), $(fmt_int "${report1m[metrics_rss_kib_after_10]:-0}"), $(fmt_int "${report1m[metrics_rss_kib_after_$REPORT1M_CYCLES]:-0}") KiB |"
		echo "| growth from write 1 to $REPORT1M_CYCLES | $(fmt_int "${report1m[metrics_rss_growth_kib]:-0}") KiB |"
		echo "| with trends: RSS after write 1, 10, $REPORT1M_CYCLES | $(fmt_int "${report1m[metrics_trend_rss_kib_after_1]:-0}"), $(fmt_int "${report1m[metrics_trend_rss_kib_after_10]:-0}"), $(fmt_int "${report1m[metrics_trend_rss_kib_after_$REPORT1M_CYCLES]:-0}") KiB |"
		echo "| with trends: growth from write 1 to $REPORT1M_CYCLES | $(fmt_int "${report1m[metrics_trend_rss_growth_kib]:-0}") KiB |"
	fi
	echo
	echo "## Object classes from 1,000,000 outstanding allocations"
	echo
	echo "The same maps, with a quarter of the sites each named task_struct, filp and TCP,"
	echo "timed through the classification alone (classify__model: loading the iterators,"
	echo "walking the task list, every fd table, every mapping and the socket tables, looking every"
	echo "record up, checking those no walk found are still recorded, reading the examples), with"
	echo "$(fmt_int "$CLASSIFY_TASKS") threads, $(fmt_int "$CLASSIFY_FILES") open files and $(fmt_int "$CLASSIFY_MAPS") files mapped one page each (in child processes) for the walks"
	echo "to cover; median of ${classify[runs]:-5} runs. Every record sits at a made-up address no"
	echo "walk finds: all $(fmt_int "${classify[classified]:-0}") of the classified kinds take the slowest path. Target: under 1 s."
	echo
	if [ -n "$classify_note" ]; then
		echo "$classify_note"
	else
		echo "| measure | value |"
		echo "| --- | ---: |"
		echo "| classification per report | $(fmt_int "${classify[classify_ms]:-0}") ms |"
		echo "| records of classified kinds | $(fmt_int "${classify[classified]:-0}") |"
	fi
} >"$BENCH_OUT.tmp" && mv "$BENCH_OUT.tmp" "$BENCH_OUT"

cat "$BENCH_OUT"
log "wrote $BENCH_OUT in ${total_time}s (logs in $WORK)"
