# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# --ustack tests: kleak loaded for real, tracing a C++ workload of the tests'
# own (tests/ustack/workload.cc, built here with Debian's g++) through
# -- COMMAND. Its process exits at once; the children it forked keep its
# files, sockets and their own task_structs, which were allocated under its
# methods' user stacks. Every report is taken after the process is gone.
. "$(dirname "$0")/lib.sh"

SRC=tests/ustack/workload.cc
N=40

# build NAME FLAGS...: $TMP/NAME from the workload source
build() {
	local name=$1
	shift
	g++ -O2 -g "$@" "$SRC" -o "$TMP/$name" 2> "$TMP/$name.cc.err"
}

# need_ustack: --ustack's programs load on this kernel. A verifier that
# refuses them as too complex (5.10's, in the compat set: E2BIG) gets kleak's
# one line, and the tests are skipped with it rather than failed one by one.
need_ustack() {
	need_root || return 1
	if [ -z "${USTACK_PROBED:-}" ]; then
		USTACK_PROBED=1
		"$KLEAK" --ustack --duration 1 -T 0 > /dev/null 2> "$TMP/ustack-probe"
		USTACK_REFUSED=$(grep -m1 'failed to load BPF programs.*Argument list too long' \
			"$TMP/ustack-probe")
	fi
	if [ -n "$USTACK_REFUSED" ]; then
		skip "this kernel's verifier refuses --ustack's programs: $USTACK_REFUSED"
		return 1
	fi
}

need_gxx() {
	need_ustack || return 1
	if ! command -v g++ > /dev/null; then
		skip "needs g++ (Debian package g++)"
		return 1
	fi
}

# trace_cmd ARGS... -- CMD...: kleak --ustack in the foreground, JSON report in $TMP/out
trace_cmd() {
	"$KLEAK" --ustack -o 0 -T 0 --linger 2 --format json "$@" > "$TMP/out" 2> "$TMP/err"
}

# user_count CACHE FUNC_REGEX: on stdin a report; the outstanding objects of
# the sites of CACHE with a user frame whose symbol matches
user_count() {
	jq --arg cache "$1" --arg re "$2" '[.sites[] | select(.cache == $cache)
		| select(any(.user_frames[]?; (.sym // "") | test($re))) | .outstanding]
		| add // 0'
}

RUN_RE='^kleaktest::Holder::run\(unsigned int\)\+0x'

# unsampled CACHE: on stdin a --ustack=dwarf report; the objects of CACHE whose
# sample was lost (ring buffer full under load: counted, said in the footer)
unsampled() {
	jq --arg cache "$1" '[.sites[] | select(.cache == $cache and .user_stack == "sampled")
		| .outstanding] | add // 0'
}

# enough HELD LOST WANT: HELD objects found under the method, and LOST
# without a sample, make WANT, and the method holds at least half of them
enough() { [ $(($1 + $2)) -ge "$3" ] && [ "$1" -ge $(($3 / 2)) ]; }

# With frame pointers: the sockets' sites show the workload's method (demangled,
# in its namespace and class) under the kernel's socket frames, with the
# binary, the source line and glibc's wrapper; the saved run prints the same
# once the binary itself is gone.
test_fp() {
	need_gxx || return
	build wl -fno-omit-frame-pointer || { fail "g++: $(head -1 "$TMP/wl.cc.err")"; return; }
	trace_cmd -w "$TMP/run" -- "$TMP/wl" -n $N -s 8 || { fail "kleak: $(tail -1 "$TMP/err")"; return; }
	local held kernel frame saved folded
	held=$(user_count sock_inode_cache "$RUN_RE" < "$TMP/out")
	kernel=$(jq --arg re "$RUN_RE" '[.sites[] | select(.cache == "sock_inode_cache")
		| select(any(.user_frames[]?; (.sym // "") | test($re)))
		| select(any(.frames[]; (.sym // "") | test("^__sys_socket\\+|^__x64_sys_socket\\+")))]
		| length' "$TMP/out")
	frame=$(jq -r --arg re "$RUN_RE" '[.sites[].user_frames[]? | select((.sym // "") | test($re))][0]
		| "\(.module) \(.srcline) \(.build_id | length)"' "$TMP/out")
	rm -f "$TMP/wl"
	"$KLEAK" report --format json "$TMP/run" > "$TMP/saved" 2> "$TMP/err2"
	saved=$(user_count sock_inode_cache "$RUN_RE" < "$TMP/saved")
	# flame graphs: the user frames at the root, above the system call's kernel frames
	"$KLEAK" report --format folded --value count -o 0 -T 0 "$TMP/run" > "$TMP/folded" 2>&1
	folded=$(grep -E '(^|;)kleaktest::Holder::run\(unsigned int\) \[wl\];(.*;)?__sys_socket;(.*;)?\[cache sock_inode_cache\](;\[held by [a-z-]+\])? [0-9]+$' \
		"$TMP/folded" | awk '{ n += $NF } END { print n + 0 }')
	if [ "$held" -lt $N ]; then
		fail "$held sockets under kleaktest::Holder::run(unsigned int), expected >= $N"
	elif [ "$kernel" -lt 1 ]; then
		fail "the method's sites do not have the socket syscall's kernel frames"
	elif ! [[ $frame =~ ^$TMP/wl\ .*workload\.cc:[0-9]+\ 40$ ]]; then
		fail "frame of the method: '$frame', expected its binary, workload.cc:LINE, a build ID"
	elif [ "$saved" -ne "$held" ]; then
		fail "the saved run shows $saved sockets under the method, live $held"
	elif [ "$folded" -ne "$held" ]; then
		fail "folded stacks hold $folded sockets under the method above __sys_socket, the report $held"
	elif ! jq -e '[.sites[].user_frames[]? | .sym // "" | test("^__socket\\+")] | any' \
			"$TMP/out" > /dev/null; then
		fail "no frame in glibc's socket wrapper"
	else
		pass
	fi
}

# Without frame pointers the walk ends in glibc's wrapper or on a garbage word:
# the method is not found, and the footer counts the short chains.
test_fp_missing() {
	need_gxx || return
	build wl -fomit-frame-pointer || { fail "g++: $(head -1 "$TMP/wl.cc.err")"; return; }
	trace_cmd -- "$TMP/wl" -n $N -s 8 || { fail "kleak: $(tail -1 "$TMP/err")"; return; }
	local held short
	held=$(user_count sock_inode_cache "$RUN_RE" < "$TMP/out")
	short=$(jq '.stats.ustack_short' "$TMP/out")
	if [ "$held" -ne 0 ]; then
		fail "$held sockets under the method without frame pointers: the test proves nothing"
	elif [ "$short" -lt $N ]; then
		fail "ustack_short $short, expected >= $N"
	else
		pass
	fi
}

# A stripped binary resolves through its debug file under the build-ID directory.
test_stripped() {
	need_gxx || return
	command -v objcopy > /dev/null || { skip "needs objcopy (binutils)"; return; }
	build wl -fno-omit-frame-pointer || { fail "g++: $(head -1 "$TMP/wl.cc.err")"; return; }
	local id dir held syms
	id=$(readelf -n "$TMP/wl" | awk '/Build ID/ { print $3 }')
	dir=/usr/lib/debug/.build-id/${id:0:2}
	mkdir -p "$dir"
	objcopy --only-keep-debug "$TMP/wl" "$dir/${id:2}.debug"
	strip -s "$TMP/wl"
	syms=$(nm "$TMP/wl" 2>&1 | grep -c Holder)
	trace_cmd -- "$TMP/wl" -n $N -s 8
	rm -f "$dir/${id:2}.debug"
	rmdir "$dir" 2>/dev/null
	held=$(user_count sock_inode_cache "$RUN_RE" < "$TMP/out")
	if [ "$syms" -ne 0 ]; then
		fail "the stripped binary still has symbols"
	elif [ "$held" -lt $N ]; then
		fail "$held sockets under the method through the debug file, expected >= $N"
	else
		pass
	fi
}

# The binary replaced on disk by another build before the report: said, and
# none of its frames named from the build that replaced it.
test_replaced() {
	need_gxx || return
	build wl -fno-omit-frame-pointer && build wl2 -fno-omit-frame-pointer -DVARIANT=1 ||
		{ fail "g++: $(head -1 "$TMP/wl.cc.err")"; return; }
	trace_cmd -w "$TMP/run" -- sh -c "'$TMP/wl' -n $N -s 8; mv '$TMP/wl2' '$TMP/wl'" ||
		{ fail "kleak: $(tail -1 "$TMP/err")"; return; }
	local replaced named text
	replaced=$(jq --arg m "$TMP/wl" '[.sites[].user_frames[]? | select(.module == $m)
		| select(.replaced and .sym == null)] | length' "$TMP/out")
	named=$(jq --arg m "$TMP/wl" '[.sites[].user_frames[]? | select(.module == $m)
		| select(.sym != null)] | length' "$TMP/out")
	text=$("$KLEAK" report "$TMP/run" | grep -c "replaced on disk by another build")
	if [ "$replaced" -lt 1 ]; then
		fail "no frame in $TMP/wl said to be replaced"
	elif [ "$named" -ne 0 ]; then
		fail "$named frames of the replaced binary named from the build that replaced it"
	elif [ "$(jq '.stats.ustack_replaced' "$TMP/out")" -lt 1 ]; then
		fail "ustack_replaced not counted"
	elif [ "$text" -lt 1 ]; then
		fail "the text report does not say the binary was replaced"
	else
		pass
	fi
}

# xargs_test MODE CFLAGS FUNC_REGEX: the workload run per item through xargs,
# twenty processes, each with its own ASLR layout: their sockets add up in one
# site under the method (those whose dwarf sample was lost counted apart).
xargs_test() {
	local mode=$1 cflags=$2 re=$3 sites held lost
	need_gxx || return
	build wl "$cflags" || { fail "g++: $(head -1 "$TMP/wl.cc.err")"; return; }
	"$KLEAK" --ustack="$mode" -o 0 -T 0 --linger 2 --format json -- \
		sh -c "printf '5\n%.0s' \$(seq 20) | xargs -n1 '$TMP/wl' -s 8 -n" > "$TMP/out" 2> "$TMP/err" ||
		{ fail "kleak: $(tail -1 "$TMP/err")"; return; }
	sites=$(jq --arg re "$re" '[.sites[] | select(.cache == "sock_inode_cache")
		| select(any(.user_frames[]?; (.sym // "") | test($re)))] | length' "$TMP/out")
	held=$(user_count sock_inode_cache "$re" < "$TMP/out")
	lost=$(unsampled sock_inode_cache < "$TMP/out")
	if ! enough "$held" "$lost" 100; then
		fail "$held sockets of 20 processes under the method ($lost without a sample), expected 100"
	elif [ "$sites" -ne 1 ]; then
		fail "the 20 processes' sockets are in $sites sites, expected 1"
	else
		pass
	fi
}

test_xargs() { xargs_test fp -fno-omit-frame-pointer "$RUN_RE"; }
test_dwarf_xargs() {
	xargs_test dwarf -fomit-frame-pointer '^kleaktest::Holder::makeSockets\(int\)\+'
}

# --ustack=dwarf on the workload built without frame pointers: each object
# kind under its own method, through glibc's wrappers (built without frame
# pointers too), unwound from .eh_frame after the process exited.
test_dwarf() {
	need_gxx || return
	build wl -fomit-frame-pointer || { fail "g++: $(head -1 "$TMP/wl.cc.err")"; return; }
	"$KLEAK" --ustack=dwarf -o 0 -T 0 --linger 2 --format json -w "$TMP/run" -- \
		"$TMP/wl" -n $N -s 8 > "$TMP/out" 2> "$TMP/err" || { fail "kleak: $(tail -1 "$TMP/err")"; return; }
	local files socks tasks glibc saved
	files=$(user_count filp '^kleaktest::Holder::openFiles\(std::__cxx11::basic_string<' < "$TMP/out")
	socks=$(user_count sock_inode_cache '^kleaktest::Holder::makeSockets\(int\)\+' < "$TMP/out")
	tasks=$(user_count task_struct '^kleaktest::Holder::forkChildren\(unsigned int\)\+' < "$TMP/out")
	# files: the sockets are files too; only the opened ones' stack has openFiles
	local lost_files lost_socks lost_tasks
	lost_files=$(unsampled filp < "$TMP/out")
	lost_socks=$(unsampled sock_inode_cache < "$TMP/out")
	lost_tasks=$(unsampled task_struct < "$TMP/out")
	# the wrapper's frame comes first, its caller's next: glibc's CFI unwound
	glibc=$(jq '[.sites[] | select(.cache == "sock_inode_cache") | .user_frames
		| select(length > 1) | select((.[0].sym // "" | test("^__socket\\+"))
		and (.[1].sym // "" | test("^kleaktest::Holder::makeSockets")))] | length' "$TMP/out")
	"$KLEAK" report --format json "$TMP/run" > "$TMP/saved" 2> "$TMP/err2"
	saved=$(user_count task_struct '^kleaktest::Holder::forkChildren\(unsigned int\)\+' < "$TMP/saved")
	if ! enough "$files" "$lost_files" $N; then
		fail "$files files under Holder::openFiles ($lost_files without a sample), expected $N"
	elif ! enough "$socks" "$lost_socks" $N; then
		fail "$socks sockets under Holder::makeSockets ($lost_socks without a sample), expected $N"
	elif ! enough "$tasks" "$lost_tasks" $N; then
		fail "$tasks task_structs under Holder::forkChildren ($lost_tasks without a sample), expected $N"
	elif [ "$glibc" -lt 1 ]; then
		fail "no socket stack unwound through glibc's __socket into its caller"
	elif [ "$saved" -ne "$tasks" ]; then
		fail "the saved run shows $saved task_structs under the method, live $tasks"
	elif [ "$lost_socks" -gt 0 ] && [ "$(jq '.stats.ustack_sample_dropped' "$TMP/out")" -eq 0 ]; then
		fail "$lost_socks sockets without a sample, but no sample counted as dropped"
	else
		pass
	fi
}

# Allocations made in softirq keep a kernel-only site, said so; the client's
# own sockets, in task context, have their user stack. No task filter: under
# one, softirq allocations are not recorded at all.
test_softirq() {
	need_ustack || return
	start_kleak --ustack --cache TCP -o 0 -T 0 --format json ||
		{ fail "kleak did not attach"; return; }
	start_workload irq -c 50 -n "$TEST_COMM" tcp || { fail "workload failed"; return; }
	report_now || { fail "no report on SIGUSR1"; return; }
	release_workload irq
	stop_kleak
	local cloned with_frames own
	cloned=$(jq -s '[.[0].sites[] | select(any(.frames[]; (.sym // "") | test("^sk_clone_lock\\+")))
		| select(.context.softirq > 0 and .user_stack == "irq") | .context.softirq] | add // 0' \
		"$TMP/out")
	with_frames=$(jq -s '[.[0].sites[] | select(.user_stack != "captured")
		| select((.user_frames | length) > 0)] | length' "$TMP/out")
	own=$(jq -s '[.[0].sites[] | select(any(.frames[]; (.sym // "") | test("^inet_create\\+")))
		| select(.user_stack == "captured" and (.user_frames | length) > 0) | .outstanding]
		| add // 0' "$TMP/out")
	if [ "$cloned" -lt 50 ]; then
		fail "$cloned accepted sockets (softirq) in kernel-only sites said so, expected >= 50"
	elif [ "$with_frames" -ne 0 ]; then
		fail "$with_frames sites without a user context show user frames"
	elif [ "$own" -lt 50 ]; then
		fail "$own client sockets (task context) with a user stack, expected >= 50"
	else
		pass
	fi
}

for t in fp fp_missing stripped replaced xargs dwarf dwarf_xargs softirq; do
	run_test $t
done
