#!/bin/sh
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# RDMA against TCP: which kernel allocation paths belong to RDMA. Runs inside
# the test VM, as root, from the repository root (make scenario-rdma):
#
#   tools/vm/run.sh -o DIR -- tools/vm/scenario-rdma.sh [OUTDIR]
#
# Sets up Soft-RoCE (rdma_rxe) and runs pairs of workloads moving the same
# bytes in the same message sizes over RDMA and over TCP. Each workload runs
# once untraced (so binaries page in over 9p outside the trace), then with its
# server in the background and its client traced:
#     ./kleak -w NAME.run --linger 2 -- CLIENT ARGS...
# then "./kleak diff tcp.run rdma.run" (text, and JSON for the checks).
# Every allocator is traced (--all-allocators: slab, pages, vmalloc where the
# kernel has its events, percpu); each pair says what the RDMA side holds
# outside slab on rdma paths, or that it holds nothing there.
# Asserts that the RDMA side holds sites with rdma frames (ib_uverbs, rxe,
# rdma_cm, ib_mad) that the TCP side lacks, and that the TCP side holds
# socket sites (or counted the softirq allocations of its connections, not
# charged to the command) and no rdma site. Prints PASS/FAIL/SKIP lines and
# "N passed, N failed, N skipped". Artifacts (.run, logs, diffs) go to OUTDIR,
# default $KLEAK_VM_OUT (the job folder).
#
# KLEAK_SCENARIO_UNTRACED=1 runs the clients without kleak (rig check only):
#   tools/vm/run.sh -- env KLEAK_SCENARIO_UNTRACED=1 tools/vm/scenario-rdma.sh
set -u

OUT=${1:-${KLEAK_VM_OUT:-/tmp/kleak-scenario}}
KLEAK=${KLEAK:-./kleak}
T=${KLEAK_SCENARIO_TIMEOUT:-90}
# The VM has no NIC, so this TEST-NET-1 address never leaves it. rxe cannot
# sit on "lo": rdma_cm then fails with "rdma_resolve_route: No such device".
IP=192.0.2.1
RDMA_FRAMES='ib_uverbs|rxe_|rdma_|ib_mad|ucma_|cma_|\[ib_core\]'
SOCK_FRAMES='tcp_|inet_|sock_|sk_alloc|sk_prot_alloc|__alloc_skb|__sys_socket|__sys_connect|__sys_accept'
# the rig's own paging over 9p and overlayfs, left out of the diffs
RIG_FRAMES='\[9p\]|\[9pnet\]|\[9pnet_virtio\]|\[overlay\]|^v9fs_|^p9_|^ovl_'
# frames that would mean kleak counted itself
TRACER_FRAMES='^bpf_|_btf \[bpf\]|bpf_local_storage|bpf_map_'

pass=0
fail=0
skip=0
ok() { echo "PASS $*"; pass=$((pass + 1)); }
ko() { echo "FAIL $*"; fail=$((fail + 1)); }
nt() { echo "SKIP $*"; skip=$((skip + 1)); }
step() { echo "=== $* (uptime $(cut -d' ' -f1 /proc/uptime) s)"; }
finish() {
	echo "artifacts: $OUT"
	echo "$pass passed, $fail failed, $skip skipped"
	[ "$fail" = 0 ]
	exit
}

traced=1
if [ "${KLEAK_SCENARIO_UNTRACED:-0}" = 1 ]; then
	traced=0
elif [ ! -x "$KLEAK" ]; then
	echo "$KLEAK not built: running the workloads untraced"
	traced=0
fi
mkdir -p "$OUT" || exit 1

step "kernel $(uname -r): Soft-RoCE on dummy0 ($IP)"
if modprobe rdma_rxe && modprobe rdma_ucm &&
   ip link add dummy0 type dummy && ip addr add "$IP/24" dev dummy0 &&
   ip link set dummy0 up && rdma link add rxe0 type rxe netdev dummy0 &&
   rdma link show rxe0/1 | grep -q 'state ACTIVE'; then
	ok "setup rxe0 on dummy0"
else
	ko "setup rxe0 on dummy0"
	finish
fi

# Polling beats a fixed sleep: a cold server pages in over 9p under TCG.
listening() { # tcp|rdma PORT
	if [ "$1" = tcp ]; then
		ss -Hltn "sport = :$2" | grep -q .
	else
		rdma resource show cm_id | grep 'state LISTEN' | grep -qE ":$2( |\$)"
	fi
}

server_pid=
server_cmd=
start_server() { # tcp|rdma PORT CMD...
	kind=$1
	port=$2
	shift 2
	server_cmd=$1
	timeout $((T * 2)) "$@" > /dev/null 2>&1 &
	server_pid=$!
	i=0
	while ! listening "$kind" "$port"; do
		i=$((i + 1))
		[ $i -lt 300 ] && kill -0 "$server_pid" 2> /dev/null || return 1
		sleep 0.1
	done
}

# rping, ib_send_bw and "iperf3 -1" exit after their client; qperf does not.
stop_server() {
	[ -n "$server_pid" ] || return 0
	i=0
	[ "$server_cmd" != qperf ] || i=50
	while kill -0 "$server_pid" 2> /dev/null && [ $i -lt 50 ]; do
		i=$((i + 1))
		sleep 0.1
	done
	kill "$server_pid" 2> /dev/null
	wait "$server_pid" 2> /dev/null
	server_pid=
}

# workload NAME KIND PORT "SERVER ARGS" CLIENT ARGS...
workload() {
	name=$1
	kind=$2
	port=$3
	server=$4
	shift 4
	step "$name: $*"
	for phase in warmup traced; do
		log=$OUT/$name.log
		[ $phase = traced ] || log=$OUT/$name.warmup.log
		# shellcheck disable=SC2086
		if ! start_server "$kind" "$port" $server; then
			stop_server
			ko "$name: server '$server' did not listen on $kind port $port"
			return
		fi
		if [ $phase = warmup ]; then
			timeout "$T" "$@" > "$log" 2>&1
		elif [ $traced = 1 ]; then
			timeout $((T + 30)) "$KLEAK" --all-allocators -w "$OUT/$name.run" --linger 2 -- \
				"$@" > "$log" 2>&1
		else
			timeout "$T" "$@" > "$log" 2>&1
		fi
		status=$?
		stop_server
		if [ $status != 0 ]; then
			tail -5 "$log"
			ko "$name: $phase run exited with status $status"
			return
		fi
	done
	grep -E 'bw  =|^ *[0-9]+ +[0-9]+ |sender|receiver' "$OUT/$name.log" | tail -2
	if [ $traced = 0 ]; then
		ok "$name: ran untraced"
	elif [ -s "$OUT/$name.run" ]; then
		ok "$name: traced, saved $name.run"
	else
		ko "$name: traced, but kleak saved no $name.run"
	fi
}

# Sites of diff JSON FILE that satisfy jq condition COND and have a frame
# matching REGEX.
sites() { # FILE COND REGEX
	jq --arg re "$3" "[.sites[] | select($2) | select(any(.frames[]; test(\$re)))] | length" "$1"
}

# pair NAME TCP_WORKLOAD RDMA_WORKLOAD: "kleak diff A B" is B minus A, so
# A (count_a) is the TCP side and B (count_b) the RDMA side.
pair() {
	name=$1
	tcp=$OUT/$2.run
	rdma=$OUT/$3.run
	diff=$OUT/diff-$name
	if [ $traced = 0 ]; then
		nt "$name: diff $2 against $3 (untraced)"
		return
	fi
	if [ ! -s "$tcp" ] || [ ! -s "$rdma" ]; then
		ko "$name: diff $2 against $3: missing .run"
		return
	fi
	if ! timeout "$T" "$KLEAK" diff --exclude "$RIG_FRAMES" "$tcp" "$rdma" \
			> "$diff.txt" 2>&1 ||
	   ! timeout "$T" "$KLEAK" diff --exclude "$RIG_FRAMES" --format json --top 0 \
			"$tcp" "$rdma" > "$diff.json" ||
	   ! jq -e .sites "$diff.json" > /dev/null; then
		ko "$name: kleak diff $2 $3 failed (see diff-$name.txt)"
		return
	fi
	n=$(sites "$diff.json" '.count_a == 0 and .count_b > 0' "$RDMA_FRAMES")
	if [ "$n" -gt 0 ]; then
		ok "$name: $3 holds $n rdma sites that $2 lacks"
	else
		ko "$name: $3 holds no rdma site that $2 lacks (see diff-$name.txt)"
	fi
	# what RDMA holds beyond slab: a line to read, not a check
	n=$(jq -r --arg re "$RDMA_FRAMES" '[.sites[]
		| select(.cache | test("^(pages/|user pages/|vmalloc$|percpu$)"))
		| select(.count_b > .count_a and any(.frames[]; test($re)))]
		| group_by(.cache) | map("\(.[0].cache) \(map(.delta_count) | add) objects, \(map(.delta_bytes)
		| add) bytes in \(length) sites") | join("; ")' "$diff.json")
	echo "$name: outside slab, $3 holds on rdma paths: ${n:-nothing}"
	n=$(sites "$diff.json" '.count_a > 0' "$RDMA_FRAMES")
	if [ "$n" = 0 ]; then
		ok "$name: $2 holds no rdma site"
	else
		ko "$name: $2 holds $n rdma sites (see diff-$name.txt)"
	fi
	# kleak's own allocations (fork tracking, its maps) never reach a run
	n=$(sites "$diff.json" 'true' "$TRACER_FRAMES")
	if [ "$n" = 0 ]; then
		ok "$name: no site of kleak's own making"
	else
		ko "$name: $n sites with kleak's own frames (see diff-$name.txt)"
	fi
	# The TCP client's own sockets may all be gone by the end (closed, the
	# connection's TIME_WAIT socket allocated in softirq, which a command's
	# run does not charge to the command, only counts): then the run must
	# have counted such allocations; a TCP run that saw neither traced nothing.
	n=$(sites "$diff.json" '.count_a > 0' "$SOCK_FRAMES")
	irq=$(jq '.a.stats.irq_not_attributed // 0' "$diff.json")
	if [ "$n" -gt 0 ]; then
		ok "$name: $2 holds $n socket sites"
	elif [ "$irq" -gt 0 ]; then
		ok "$name: $2 holds no socket site in task context, $irq allocations in softirq not charged to it"
	else
		ko "$name: $2 holds no socket site and counted no softirq allocation (see diff-$name.txt)"
	fi
}

# Same bytes and message sizes on both sides of each pair. rping, perftest
# (-R) and qperf (-cm1) connect through rdma_cm; qperf's RDMA tests fail
# with "failed to modify QP to RTR" without -cm1.
workload rdma-rping rdma 7174 "rping -s -a $IP -C 200 -S 4096" \
	rping -c -a $IP -C 200 -S 4096 -V
workload tcp-4k tcp 5201 "iperf3 -s -1 -B $IP" \
	iperf3 -c $IP -n 819200 -l 4096
workload rdma-ib_send_bw rdma 18515 "ib_send_bw -R -d rxe0 -n 500 -s 65536" \
	ib_send_bw -R -d rxe0 -n 500 -s 65536 $IP
workload tcp-64k tcp 5201 "iperf3 -s -1 -B $IP" \
	iperf3 -c $IP -n 32768000 -l 65536
workload rdma-qperf-rc_bw tcp 19765 "qperf" \
	qperf -cm1 -m 64K -t 3 $IP rc_bw
workload tcp-qperf-tcp_bw tcp 19765 "qperf" \
	qperf -m 64K -t 3 $IP tcp_bw

pair rping tcp-4k rdma-rping
pair send-64k tcp-64k rdma-ib_send_bw
pair qperf tcp-qperf-tcp_bw rdma-qperf-rc_bw

rdma link delete rxe0
finish
