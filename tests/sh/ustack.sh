# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# --ustack tests: kleak loaded for real, tracing a C++ workload of the tests'
# own (tests/ustack/workload.cc, built here with Debian's g++) through
# -- COMMAND. Its process exits at once; the children it forked keep its
# files, sockets and their own task_structs, which were allocated under its
# methods' user stacks. Every report is taken after the process is gone.
# tests/ustack/cut.c makes the walker's cuts happen: code whose caller cannot
# be proven.
. "$(dirname "$0")/lib.sh"

SRC=tests/ustack/workload.cc
N=40
# seconds the xargs tests' children hold their objects: the twenty runs took
# more than 8 s in a TCG guest, whose first children had exited by the report
XARGS_HOLD=60

# build NAME FLAGS...: $TMP/NAME from the workload source
build() {
	local name=$1
	shift
	g++ -O2 -g "$@" "$SRC" -o "$TMP/$name" 2> "$TMP/$name.cc.err"
}

# need_ustack [MODE]: the --ustack mode (fp, the default, or dwarf) loads on
# this kernel, as `kleak features` says before tracing; skipped with its line
# where the kernel lacks what the mode needs.
need_ustack() {
	local mode=${1:-fp} line
	need_root || return 1
	line=$("$KLEAK" features 2>&1 | grep -E "^  $mode +(yes|no)")
	case $line in
	*yes) return 0 ;;
	"") skip "kleak features does not say whether --ustack's $mode mode loads"; return 1 ;;
	*) skip "--ustack's $mode mode: $(echo $line)"; return 1 ;;
	esac
}

need_gxx() {
	need_ustack "${1:-fp}" || return 1
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

# the workload's methods, each the one that makes its kind of object
FILES_RE='^kleaktest::Holder::openFiles\(std::__cxx11::basic_string<'
SOCKS_RE='^kleaktest::Holder::makeSockets\(int\)\+'
TASKS_RE='^kleaktest::Holder::forkChildren\(unsigned int\)\+'

# unsampled CACHE: on stdin a --ustack=dwarf report; the objects of CACHE whose
# sample was lost (ring buffer full under load: counted, said in the footer)
unsampled() {
	jq --arg cache "$1" '[.sites[] | select(.cache == $cache and .user_stack == "sampled")
		| .outstanding] | add // 0'
}

# enough HELD LOST WANT: HELD objects found under the method, and LOST
# without a sample, make WANT, and the method holds at least half of them
enough() { [ $(($1 + $2)) -ge "$3" ] && [ "$1" -ge $(($3 / 2)) ]; }

# methods_held REPORT: "FILES SOCKETS TASKS", the outstanding objects of each
# kind under its own method in the report
methods_held() {
	echo "$(user_count filp "$FILES_RE" < "$1") $(user_count sock_inode_cache "$SOCKS_RE" < "$1")" \
		"$(user_count task_struct "$TASKS_RE" < "$1")"
}

# outside_text REPORT BINARY: the offsets of user frames in BINARY that are not
# in its executable segment (none is a return address), or "none"
outside_text() {
	local range
	range=$(readelf -lW "$2" | awk '$1 == "LOAD" && ($7 ~ /E/ || $8 ~ /E/) { print $2, $5 }')
	jq -r --arg m "$2" --arg r "$range" '
		def hex: ltrimstr("0x") | explode | reduce .[] as $c (0;
			. * 16 + (if $c >= 97 then $c - 87 elif $c >= 65 then $c - 55 else $c - 48 end));
		($r | split(" ") | map(hex)) as [$lo, $size]
		| [.sites[].user_frames[]? | select(.module == $m)
		| select((.offset | hex) as $o | $o < $lo or $o >= $lo + $size) | .offset]
		| if length == 0 then "none" else join(",") end' "$1"
}

# With frame pointers, and without (the walk follows each binary's call
# frame information, glibc's too): each object kind under its own method,
# through glibc's wrapper; the sockets' sites under the socket syscall's
# kernel frames, with the binary, the source line and a build ID; no frame
# outside the binary's text, every walk through it whole; the saved run prints the same once
# the binary itself is gone, and flame graphs put the method above the
# system call's kernel frames.
fp_test() {
	local held want kernel frame saved folded outside cut
	need_gxx || return
	build wl "$1" || { fail "g++: $(head -1 "$TMP/wl.cc.err")"; return; }
	trace_cmd -w "$TMP/run" -- "$TMP/wl" -n $N -s 8 || { fail "kleak: $(tail -1 "$TMP/err")"; return; }
	held=$(methods_held "$TMP/out")
	want="$N $N $N"
	kernel=$(jq --arg re "$SOCKS_RE" '[.sites[] | select(.cache == "sock_inode_cache")
		| select(any(.user_frames[]?; (.sym // "") | test($re)))
		| select(any(.frames[]; (.sym // "") | test("^__sys_socket\\+|^__x64_sys_socket\\+")))
		| select(.user_frames[0].sym // "" | test("^__socket\\+"))] | length' "$TMP/out")
	frame=$(jq -r --arg re "$SOCKS_RE" '[.sites[].user_frames[]? | select((.sym // "") | test($re))][0]
		| "\(.module) \(.srcline) \(.build_id | length)"' "$TMP/out")
	outside=$(outside_text "$TMP/out" "$TMP/wl")
	# every walk through wl reached the outermost frame (elsewhere, on a cold
	# page cache, faults in code without CFI such as a library's _init are cut)
	cut=$(jq --arg m "$TMP/wl" '[.sites[] | select(any(.user_frames[]?; .module == $m))
		| select(.user_frames[-1].sym // "" | test("^_start\\+") | not)] | length' "$TMP/out")
	rm -f "$TMP/wl"
	"$KLEAK" report --format json "$TMP/run" > "$TMP/saved" 2> "$TMP/err2"
	saved=$(methods_held "$TMP/saved")
	"$KLEAK" report --format folded --value count -o 0 -T 0 "$TMP/run" > "$TMP/folded" 2>&1
	folded=$(grep -E '(^|;)kleaktest::Holder::makeSockets\(int\) \[wl\];(.*;)?__sys_socket;(.*;)?\[cache sock_inode_cache\] [0-9]+$' \
		"$TMP/folded" | awk '{ n += $NF } END { print n + 0 }')
	if [ "$held" != "$want" ]; then
		fail "files, sockets, task_structs under openFiles, makeSockets, forkChildren: $held, expected $want"
	elif [ "$kernel" -lt 1 ]; then
		fail "no socket site with the socket syscall's kernel frames and glibc's __socket first"
	elif ! [[ $frame =~ ^$TMP/wl\ .*workload\.cc:[0-9]+\ 40$ ]]; then
		fail "frame of the method: '$frame', expected its binary, workload.cc:LINE, a build ID"
	elif [ "$outside" != none ]; then
		fail "frames in wl outside its executable segment: $outside"
	elif [ "$cut" -ne 0 ]; then
		fail "$cut sites' walks through wl stopped before _start: $(jq -c '.stats | with_entries(select(.key | startswith("ustack_cut_")))' "$TMP/out")"
	elif [ "$saved" != "$held" ]; then
		fail "the saved run shows $saved objects under the methods, live $held"
	elif [ "$folded" -ne $N ]; then
		fail "folded stacks hold $folded sockets under makeSockets above __sys_socket, expected $N"
	else
		pass
	fi
}

test_fp() { fp_test -fno-omit-frame-pointer; }
test_fp_no_frame_pointers() { fp_test -fomit-frame-pointer; }

# --ustack-depth: a stack cut there counts as truncated only when it had more
# frames. The sockets' stack, D frames deep, at depth D and D - 1.
test_fp_depth() {
	local depth t_full t_less frames
	need_gxx || return
	build wl -fno-omit-frame-pointer || { fail "g++: $(head -1 "$TMP/wl.cc.err")"; return; }
	trace_cmd --cache sock_inode_cache -- "$TMP/wl" -n $N -s 4 ||
		{ fail "kleak: $(tail -1 "$TMP/err")"; return; }
	depth=$(jq '[.sites[] | select(.cache == "sock_inode_cache") | .user_frames | length] | max' \
		"$TMP/out")
	trace_cmd --cache sock_inode_cache --ustack-depth "$depth" -- "$TMP/wl" -n $N -s 4
	t_full=$(jq .stats.ustack_truncated "$TMP/out")
	trace_cmd --cache sock_inode_cache --ustack-depth $((depth - 1)) -- "$TMP/wl" -n $N -s 4
	t_less=$(jq .stats.ustack_truncated "$TMP/out")
	frames=$(jq '[.sites[] | select(.cache == "sock_inode_cache") | .user_frames | length] | max' \
		"$TMP/out")
	if [ "$t_full" -ne 0 ]; then
		fail "$t_full stacks of exactly --ustack-depth $depth frames counted as truncated"
	elif [ "$t_less" -lt $N ] || [ "$frames" -ne $((depth - 1)) ]; then
		fail "at --ustack-depth $((depth - 1)): $t_less truncated (expected >= $N), $frames frames"
	else
		pass
	fi
}

# The walker's cuts (tests/ustack/cut.c): a word that is no return address
# (nothing mapped there, past the binary's code, not executable), code no
# call frame information covers, code in no file, a stack unreadable where
# the CFI says: each counted under its reason, no frame past the cut shown.
test_fp_cuts() {
	local mode stat want frames n bad=
	need_ustack || return
	command -v gcc > /dev/null || { skip "needs gcc"; return; }
	gcc -O2 -g tests/ustack/cut.c -o "$TMP/cut" -lpthread 2> "$TMP/cut.err" ||
		{ fail "gcc: $(head -1 "$TMP/cut.err")"; return; }
	while read -r mode stat want; do
		trace_cmd --cache sock_inode_cache -- "$TMP/cut" "$mode" 10 4
		# pasttext needs the executable segment to end before its page does
		[ $? -eq 77 ] && continue
		n=$(jq -r --arg s "$stat" '.stats[$s]' "$TMP/out")
		frames=$(jq -r '[.sites[] | select(.cache == "sock_inode_cache")
			| [.user_frames[]? | .sym // .offset] | join("<")] | unique | join(" ; ")' "$TMP/out")
		if [ "${n:-0}" -lt 10 ]; then
			bad="$mode: $stat $n, expected >= 10"
		elif [ "$frames" != "$want" ]; then
			bad="$mode: user frames '$frames', expected '$want'"
		fi
		[ -n "$bad" ] && break
	done <<'EOF'
nomap ustack_cut_not_text sock_fake_ra+0x14
pasttext ustack_cut_not_text sock_fake_ra+0x14
data ustack_cut_not_text sock_fake_ra+0x14
nocfi ustack_cut_no_cfi sock_nocfi+0x13
anon ustack_cut_no_binary
fault ustack_cut_fault sock_far_cfa+0x13
EOF
	if [ -n "$bad" ]; then
		fail "$bad"
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
	held=$(user_count sock_inode_cache "$SOCKS_RE" < "$TMP/out")
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
	need_gxx "$mode" || return
	build wl "$cflags" || { fail "g++: $(head -1 "$TMP/wl.cc.err")"; return; }
	"$KLEAK" --ustack="$mode" -o 0 -T 0 --linger 2 --format json -- \
		sh -c "printf '5\n%.0s' \$(seq 20) | xargs -n1 '$TMP/wl' -s $XARGS_HOLD -n" > "$TMP/out" 2> "$TMP/err" ||
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

# The same with the walker: every socket under makeSockets, the walks that
# reached the outermost frame in one site. wl is not the command (sh is), so
# its call frame information is loaded at the walker's first request: the
# walks before that stop at wl's first frame, counted as not loaded yet.
test_xargs() {
	local held full partial learned
	need_gxx || return
	build wl -fno-omit-frame-pointer || { fail "g++: $(head -1 "$TMP/wl.cc.err")"; return; }
	"$KLEAK" --ustack -o 0 -T 0 --linger 2 --format json -- \
		sh -c "printf '5\n%.0s' \$(seq 20) | xargs -n1 '$TMP/wl' -s $XARGS_HOLD -n" > "$TMP/out" \
		2> "$TMP/err" || { fail "kleak: $(tail -1 "$TMP/err")"; return; }
	held=$(user_count sock_inode_cache "$SOCKS_RE" < "$TMP/out")
	full=$(jq -r --arg re "$SOCKS_RE" '[.sites[] | select(.cache == "sock_inode_cache")
		| select(any(.user_frames[]?; (.sym // "") | test($re)))
		| select(.user_frames[-1].sym // "" | test("^_start\\+"))
		| .outstanding] | "\(length) \(add // 0)"' "$TMP/out")
	partial=$((held - ${full#* }))
	learned=$(jq .stats.ustack_cut_not_learned "$TMP/out")
	if [ "$held" -ne 100 ]; then
		fail "$held sockets of 20 processes under makeSockets, expected 100"
	elif [ "${full% *}" -ne 1 ]; then
		fail "the whole stacks of the 20 processes' sockets are in ${full% *} sites, expected 1"
	elif [ "$partial" -gt "$learned" ]; then
		fail "$partial sockets' walks stopped early, $learned counted as cut before wl's CFI was loaded"
	elif [ "$partial" -gt 50 ]; then
		fail "$partial of 100 walks stopped before wl's CFI was loaded: learning took half the run"
	else
		pass
	fi
}
test_dwarf_xargs() {
	xargs_test dwarf -fomit-frame-pointer '^kleaktest::Holder::makeSockets\(int\)\+'
}

# --ustack=dwarf on the workload built without frame pointers: each object
# kind under its own method, through glibc's wrappers (built without frame
# pointers too), unwound from .eh_frame after the process exited.
test_dwarf() {
	need_gxx dwarf || return
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
	local accepted cloned stacked with_frames own
	# accepted sockets: cloned by the softirq that took the handshake's ACK
	# (no user context: said so), by ksoftirqd when softirqs are deferred to
	# it (a kernel thread), or in task context where the listener's owner held
	# its lock (the backlog, run in release_sock())
	accepted=$(jq -s '[.[0].sites[] | select(any(.frames[]; (.sym // "") | test("^sk_clone_lock\\+")))
		| .outstanding] | add // 0' "$TMP/out")
	cloned=$(jq -s '[.[0].sites[] | select(any(.frames[]; (.sym // "") | test("^sk_clone_lock\\+")))
		| select(.context.softirq > 0 and .user_stack == "irq") | .context.softirq] | add // 0' \
		"$TMP/out")
	stacked=$(jq -s '[.[0].sites[] | select(.user_stack == "captured") | .context.softirq + .context.hardirq]
		| add // 0' "$TMP/out")
	with_frames=$(jq -s '[.[0].sites[] | select(.user_stack != "captured")
		| select((.user_frames | length) > 0)] | length' "$TMP/out")
	own=$(jq -s '[.[0].sites[] | select(any(.frames[]; (.sym // "") | test("^inet_create\\+")))
		| select(.user_stack == "captured" and (.user_frames | length) > 0) | .outstanding]
		| add // 0' "$TMP/out")
	if [ "$accepted" -lt 50 ] || [ "$cloned" -lt 1 ]; then
		fail "$accepted accepted sockets, $cloned cloned in softirq in kernel-only sites said so, expected 50, at least 1"
	elif [ "$stacked" -ne 0 ]; then
		fail "$stacked allocations in softirq or hardirq with a user stack"
	elif [ "$with_frames" -ne 0 ]; then
		fail "$with_frames sites without a user context show user frames"
	elif [ "$own" -lt 50 ]; then
		fail "$own client sockets (task context) with a user stack, expected >= 50"
	else
		pass
	fi
}

for t in fp fp_no_frame_pointers fp_depth fp_cuts stripped replaced xargs dwarf dwarf_xargs \
	softirq; do
	run_test $t
done
