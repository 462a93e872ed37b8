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

# userspace_only: a test of kleak's userspace side (binaries, unwinding,
# symbols), the same under every program set and kernel: run under the
# default set on the host only (a guest under TCG takes ten times as long)
userspace_only() {
	if [ -n "${KLEAK_PROGRAMS:-}" ]; then
		skip "userspace only: run under the default program set"
		return 1
	elif [ -n "${KLEAK_TESTS_KERNEL_ONLY:-}" ]; then
		skip "userspace only: run on the host"
		return 1
	fi
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
# the method that calls them
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

# dup_sites FILE: sites of a JSON report that show the same as another one
# (cache, kernel frames, user frames): there must be none
dup_sites() {
	jq '[.sites[] | [.cache, .user_stack, [.frames[] | [.sym, .addr]],
		[.user_frames[]? | [.sym, .module, .build_id, .offset, .addr]]] | tojson]
		| group_by(.) | map(select(length > 1)) | length' "$1"
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
	folded=$(grep -E '(^|;)kleaktest::Holder::makeSockets\(int\) \[wl\];(.*;)?__sys_socket;(.*;)?\[cache sock_inode_cache\](;\[held by [a-z-]+\])? [0-9]+$' \
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
	# the build-ID directory is looked for under /usr/lib/debug only (libdw
	# searches no relative one): the file goes with the suite's scratch directory
	# if the suite stops before the test does
	dir=/usr/lib/debug/.build-id/${id:0:2}
	mkdir -p "$dir"
	trap 'rm -f "$dir/${id:2}.debug"; rmdir "$dir" 2> /dev/null; cleanup' EXIT
	objcopy --only-keep-debug "$TMP/wl" "$dir/${id:2}.debug"
	strip -s "$TMP/wl"
	syms=$(nm "$TMP/wl" 2>&1 | grep -c Holder)
	trace_cmd -- "$TMP/wl" -n $N -s 8
	rm -f "$dir/${id:2}.debug"
	rmdir "$dir" 2>/dev/null
	trap cleanup EXIT
	held=$(user_count sock_inode_cache "$SOCKS_RE" < "$TMP/out")
	if [ "$syms" -ne 0 ]; then
		fail "the stripped binary still has symbols"
	elif [ "$held" -lt $N ]; then
		fail "$held sockets under the method through the debug file, expected >= $N"
	else
		pass
	fi
}

# frames_of FILE MODULE: "NAMED VARIANT REPLACED" of the frames of MODULE in a
# JSON report: named from the build that ran (kleaktest::), from the variant
# build (kleakvariant::, tests/ustack/workload.cc's VARIANT), said replaced
frames_of() {
	jq -r --arg m "$2" '[.sites[].user_frames[]? | select(.module == $m)] |
		"\([.[] | select((.sym // "") | test("^kleaktest::"))] | length)
		\([.[] | select((.sym // "") | test("kleakvariant::"))] | length)
		\([.[] | select(.replaced)] | length)"' "$1" | tr -s ' \n' ' '
}

# gone_test MODE CFLAGS FUNC_REGEX HOW: the binary deleted (HOW=rm) or replaced
# by another build (HOW=mv) once its process exited, before the report: its
# file was kept open from the moment its mapping was recorded, so its frames
# are named from the build that ran, never from the one at its path now.
gone_test() {
	local mode=$1 cflags=$2 re=$3 how=$4 after held lost named variant replaced
	userspace_only || return
	need_gxx "$mode" || return
	build wl "$cflags" && build wl2 "$cflags" -DVARIANT=1 ||
		{ fail "g++: $(head -1 "$TMP/wl.cc.err")"; return; }
	if [ "$how" = rm ]; then
		after="rm -f '$TMP/wl'"
	else
		after="mv '$TMP/wl2' '$TMP/wl'"
	fi
	"$KLEAK" --ustack="$mode" -o 0 -T 0 --linger 2 --format json -w "$TMP/run" -- \
		sh -c "'$TMP/wl' -n $N -s 8; $after" > "$TMP/out" 2> "$TMP/err" ||
		{ fail "kleak: $(tail -1 "$TMP/err")"; return; }
	held=$(user_count sock_inode_cache "$re" < "$TMP/out")
	lost=$(unsampled sock_inode_cache < "$TMP/out")
	read -r named variant replaced <<< "$(frames_of "$TMP/out" "$TMP/wl")"
	if ! enough "$held" "$lost" $N; then
		fail "$held sockets under the method ($lost without a sample) once the binary was gone ($how), expected $N"
	elif [ "$variant" -ne 0 ]; then
		fail "$variant frames named from the build that replaced the one that ran"
	elif [ "$replaced" -ne 0 ] || [ "$(jq '.stats.ustack_replaced' "$TMP/out")" -ne 0 ]; then
		fail "$replaced frames said replaced: the file that ran was kept"
	elif [ "$named" -lt 1 ]; then
		fail "no frame of $TMP/wl named"
	elif [ "$("$KLEAK" report --format json "$TMP/run" | user_count sock_inode_cache "$re")" -ne "$held" ]; then
		fail "the saved run does not show the live report's sockets under the method"
	else
		pass
	fi
}

# makeSockets, the first frame in wl: wl is not the command (sh is), and fp
# mode's walks before its call frame information is loaded stop there
test_deleted() { gone_test fp -fno-omit-frame-pointer "$SOCKS_RE" rm; }
test_replaced() { gone_test fp -fno-omit-frame-pointer "$SOCKS_RE" mv; }
test_dwarf_deleted() { gone_test dwarf -fomit-frame-pointer "$SOCKS_RE" rm; }
test_dwarf_replaced() { gone_test dwarf -fomit-frame-pointer "$SOCKS_RE" mv; }

# A process in another mount namespace (a container's, a chroot's) runs a
# build that its path does not name in kleak's namespace, where another
# build lies: its frames are named from the one it ran, read through the
# process (the kernel's build ID in the mmap event, /proc/PID/map_files),
# never from the file at that path in kleak's namespace.
test_dwarf_namespace() {
	userspace_only || return
	need_gxx dwarf || return
	command -v unshare > /dev/null || { skip "needs unshare (util-linux)"; return; }
	build wl -fomit-frame-pointer && build wl2 -fomit-frame-pointer -DVARIANT=1 ||
		{ fail "g++: $(head -1 "$TMP/wl.cc.err")"; return; }
	local held lost named variant
	"$KLEAK" --ustack=dwarf -o 0 -T 0 --linger 2 --format json -- \
		unshare -m sh -c "mount --bind '$TMP/wl' '$TMP/wl2' && exec '$TMP/wl2' -n $N -s 8" \
		> "$TMP/out" 2> "$TMP/err" || { fail "kleak: $(tail -1 "$TMP/err")"; return; }
	held=$(user_count sock_inode_cache "$SOCKS_RE" < "$TMP/out")
	lost=$(unsampled sock_inode_cache < "$TMP/out")
	read -r named variant _ <<< "$(frames_of "$TMP/out" "$TMP/wl2")"
	if [ "$variant" -ne 0 ]; then
		fail "$variant frames named from the build at the path in kleak's namespace"
	elif ! enough "$held" "$lost" $N; then
		fail "$held sockets under the method ($lost without a sample), expected $N"
	elif [ "$named" -lt 1 ]; then
		fail "no frame of $TMP/wl2 named"
	else
		pass
	fi
}

# xargs_run MODE CFLAGS: the workload built with CFLAGS, run per item through
# xargs under --ustack=MODE, twenty processes, each with its own ASLR layout;
# their children hold their objects XARGS_HOLD seconds, past the twenty runs.
# JSON report in $TMP/out.
xargs_run() {
	need_gxx "$1" || return 1
	build wl "$2" || { fail "g++: $(head -1 "$TMP/wl.cc.err")"; return 1; }
	"$KLEAK" --ustack="$1" -o 0 -T 0 --linger 2 --format json -- \
		sh -c "printf '5\n%.0s' \$(seq 20) | xargs -n1 '$TMP/wl' -s $XARGS_HOLD -n" > "$TMP/out" 2> "$TMP/err" ||
		{ fail "kleak: $(tail -1 "$TMP/err")"; return 1; }
}

# xargs_test MODE CFLAGS FUNC_REGEX: the twenty processes' sockets add up in
# one site under the method (those whose dwarf sample was lost counted apart).
xargs_test() {
	local mode=$1 cflags=$2 re=$3 sites held lost
	xargs_run "$mode" "$cflags" || return
	sites=$(jq --arg re "$re" '[.sites[] | select(.cache == "sock_inode_cache")
		| select(any(.user_frames[]?; (.sym // "") | test($re)))] | length' "$TMP/out")
	held=$(user_count sock_inode_cache "$re" < "$TMP/out")
	lost=$(unsampled sock_inode_cache < "$TMP/out")
	if ! enough "$held" "$lost" 100; then
		fail "$held sockets of 20 processes under the method ($lost without a sample), expected 100"
	elif [ "$sites" -ne 1 ]; then
		fail "the 20 processes' sockets are in $sites sites, expected 1"
	elif [ "$(dup_sites "$TMP/out")" -ne 0 ]; then
		fail "$(dup_sites "$TMP/out") sites show the same frames as another"
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
	xargs_run fp -fno-omit-frame-pointer || return
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
	elif [ "$(dup_sites "$TMP/out")" -ne 0 ]; then
		fail "$(dup_sites "$TMP/out") sites show the same frames as another"
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
	elif [ "$(jq '.stats.ustack_truncated' "$TMP/out")" -ne 0 ]; then
		fail "stacks shallower than --ustack-depth counted as truncated"
	else
		pass
	fi
}

# mem_of PID: "FDS ANON FILE" of a live process, nothing once it is gone: its
# open files, and its resident memory in kB, anonymous (heap and the like)
# and of the files it mapped (ELF images: the BPF maps' mappings left out,
# their size fixed by the options)
mem_of() {
	local fds
	fds=$(ls "/proc/$1/fd" 2> /dev/null | wc -l)
	awk -v fds="$fds" '/^[0-9a-f]+-[0-9a-f]+ / { name = $6 }
		/^Rss:/ { if (name ~ /^\//) f += $2; else if (name !~ /^anon_inode:/) a += $2; seen = 1 }
		END { if (seen) print fds, a, f }' "/proc/$1/smaps" 2> /dev/null
}

# The users' client, run per item through xargs a thousand times, each process
# leaving a file, a socket and a child behind: kleak's open files and the ELF
# images it maps stay flat (a process's unwinding state goes once it exited
# and its samples are unwound; a binary is opened once, not once per
# process), its heap holds what the live children and their objects need,
# every object is under its method, and the processes' sites are one per
# stack. Fewer processes in a guest under TCG, where each takes a hundred
# times as long. Kept before: 2160 files and 995 MB for 300 processes.
test_dwarf_many() {
	local n=${KLEAK_VM_KVER:+200} kp samples fds anon file files socks tasks lost
	userspace_only || return
	n=${n:-1000}
	need_gxx dwarf || return
	build wl -fomit-frame-pointer || { fail "g++: $(head -1 "$TMP/wl.cc.err")"; return; }
	"$KLEAK" --ustack=dwarf -o 0 -T 0 --linger 2 --format json -- \
		sh -c "seq $n | xargs -n1 '$TMP/wl' -s 300 -n 1" > "$TMP/out" 2> "$TMP/err" &
	kp=$!
	: > "$TMP/mem"
	while kill -0 "$kp" 2> /dev/null; do
		mem_of "$kp" >> "$TMP/mem"
		sleep 0.2
	done
	wait "$kp" || { fail "kleak: $(tail -1 "$TMP/err")"; return; }
	samples=$(wc -l < "$TMP/mem")
	fds=$(cut -d' ' -f1 "$TMP/mem" | sort -n | tail -1)
	anon=$(cut -d' ' -f2 "$TMP/mem" | sort -n | tail -1)
	file=$(cut -d' ' -f3 "$TMP/mem" | sort -n | tail -1)
	files=$(user_count filp '^kleaktest::Holder::openFiles\(' < "$TMP/out")
	socks=$(user_count sock_inode_cache '^kleaktest::Holder::makeSockets\(int\)\+' < "$TMP/out")
	tasks=$(user_count task_struct '^kleaktest::Holder::forkChildren\(unsigned int\)\+' < "$TMP/out")
	lost=$(jq '.stats.ustack_sample_dropped' "$TMP/out")
	echo "  $SUITE/dwarf_many: $n processes, kleak at most: $fds files open, ${anon} kB anonymous, ${file} kB of mapped files ($samples samples)"
	if [ "$samples" -lt 5 ]; then
		fail "only $samples samples of kleak's memory"
	elif [ "$fds" -gt 128 ]; then
		fail "kleak had $fds files open"
	elif [ "$file" -gt 65536 ]; then
		fail "kleak mapped $file kB of files"
	elif [ "$anon" -gt 131072 ]; then
		fail "kleak's heap reached $anon kB"
	elif ! enough "$files" "$lost" "$n" || ! enough "$socks" "$lost" "$n" ||
	     ! enough "$tasks" "$lost" "$n"; then
		fail "of $n each: $files files, $socks sockets, $tasks task_structs under their methods ($lost samples lost)"
	elif [ "$(dup_sites "$TMP/out")" -ne 0 ]; then
		fail "$(dup_sites "$TMP/out") sites show the same frames as another"
	else
		pass
	fi
}

# --ustack-depth cuts a dwarf stack and counts it: the sockets' stacks
# (__socket, makeSockets, run, main and libc's start) are cut at three.
test_dwarf_depth() {
	need_gxx dwarf || return
	build wl -fomit-frame-pointer || { fail "g++: $(head -1 "$TMP/wl.cc.err")"; return; }
	"$KLEAK" --ustack=dwarf --ustack-depth 3 -o 0 -T 0 --linger 2 --format json -- \
		"$TMP/wl" -n $N -s 8 > "$TMP/out" 2> "$TMP/err" || { fail "kleak: $(tail -1 "$TMP/err")"; return; }
	local depths truncated
	depths=$(jq -c '[.sites[] | select(.cache == "sock_inode_cache" and .user_stack == "captured")
		| .user_frames | length] | unique' "$TMP/out")
	truncated=$(jq '.stats.ustack_truncated' "$TMP/out")
	if [ "$depths" != "[3]" ]; then
		fail "the sockets' user stacks have $depths frames, expected [3]"
	elif [ "$truncated" -lt $N ]; then
		fail "ustack_truncated $truncated, expected >= $N"
	else
		pass
	fi
}

# trace_test MODE CFLAGS FUNC_REGEX MIN: -t prints each recorded socket's user
# frames under its kernel frames, the method's among them (at least MIN of
# them), or says its sample is not unwound yet (dwarf mode: the sample comes
# after its event, and is read with a later wakeup when the event is first).
trace_test() {
	local mode=$1 cflags=$2 re=$3 min=$4 events counts named pending
	need_gxx "$mode" || return
	build wl "$cflags" || { fail "g++: $(head -1 "$TMP/wl.cc.err")"; return; }
	"$KLEAK" -t --ustack="$mode" --cache sock_inode_cache -o 0 -T 0 -- "$TMP/wl" -n $N -s 8 \
		> "$TMP/out" 2> "$TMP/err" || { fail "kleak: $(tail -1 "$TMP/err")"; return; }
	# each event: its header line, then frames, the user part from "-- user --";
	# the final report follows the events, from its first untimed line
	events=$(grep -c ' alloc 0x.* by wl\[' "$TMP/out")
	counts=$(awk -v re="${re#^}" '/^[^0-9\t]/ { exit } / alloc 0x/ { user = 0 }
		/^\t-- user --$/ { user = 1; next }
		/^\t\[user stack not unwound yet/ { p++ }
		user && $0 ~ "^\t" re { n++; user = 0 } END { print n + 0, p + 0 }' "$TMP/out")
	read -r named pending <<< "$counts"
	if [ "$events" -lt $N ]; then
		fail "$events socket allocations traced, expected >= $N"
	elif [ "$named" -lt "$min" ] || [ $((named + pending)) -lt "$events" ]; then
		fail "of $events traced sockets $named show the method among their user frames, $pending say their sample is not unwound yet"
	else
		pass
	fi
}
test_trace() { trace_test fp -fno-omit-frame-pointer 'kleaktest::Holder::run\(unsigned int\)\+' $N; }
test_dwarf_trace() {
	trace_test dwarf -fomit-frame-pointer 'kleaktest::Holder::makeSockets\(int\)\+' 1
}

# A frame larger than the stack a dwarf sample copies: unwinding stops in it,
# counted and said, and no frame past it is shown.
test_dwarf_unwind_failed() {
	userspace_only || return
	need_gxx dwarf || return
	build wl -fomit-frame-pointer || { fail "g++: $(head -1 "$TMP/wl.cc.err")"; return; }
	"$KLEAK" --ustack=dwarf -o 0 -T 0 --linger 2 --format json -- "$TMP/wl" -d -n $N -s 8 \
		> "$TMP/out" 2> "$TMP/err" || { fail "kleak: $(tail -1 "$TMP/err")"; return; }
	local failed deep past text
	failed=$(jq '.stats.ustack_unwind_failed' "$TMP/out")
	deep=$(user_count sock_inode_cache '^kleaktest::Holder::makeSocketsDeep\(int\)\+' < "$TMP/out")
	past=$(jq '[.sites[] | select(.cache == "sock_inode_cache") | .user_frames
		| select(length > 0) | select(.[-1].sym // "" | test("makeSocketsDeep") | not)] | length' "$TMP/out")
	text=$("$KLEAK" --ustack=dwarf -o 0 -T 0 --linger 1 -- "$TMP/wl" -d -n 2 -s 1 2>&1 |
		grep -c 'unwound only part of the way')
	if [ "$failed" -lt $N ]; then
		fail "ustack_unwind_failed $failed, expected >= $N"
	elif [ "$deep" -lt $((N / 2)) ]; then
		fail "$deep sockets under makeSocketsDeep, expected >= $((N / 2))"
	elif [ "$past" -ne 0 ]; then
		fail "$past socket stacks go on past the frame larger than the copy"
	elif [ "$text" -ne 1 ]; then
		fail "the footer does not say stacks were unwound part of the way"
	else
		pass
	fi
}

# A binary without symbols and without debuginfo: its frames are counted as
# unresolved, shown by build ID and offset, never named.
test_unresolved() {
	userspace_only || return
	need_gxx || return
	build wl -fno-omit-frame-pointer || { fail "g++: $(head -1 "$TMP/wl.cc.err")"; return; }
	strip -s "$TMP/wl"
	trace_cmd -- "$TMP/wl" -n $N -s 8 || { fail "kleak: $(tail -1 "$TMP/err")"; return; }
	local unresolved raw named
	unresolved=$(jq '.stats.ustack_unresolved' "$TMP/out")
	raw=$(jq --arg m "$TMP/wl" '[.sites[] | select(.cache == "sock_inode_cache") | .user_frames[]?
		| select(.module == $m and .sym == null and (.build_id | length) == 40)] | length' "$TMP/out")
	named=$(jq --arg m "$TMP/wl" '[.sites[].user_frames[]? | select(.module == $m and .sym != null)]
		| length' "$TMP/out")
	if [ "$unresolved" -lt $N ]; then
		fail "ustack_unresolved $unresolved, expected >= $N"
	elif [ "$raw" -lt 1 ]; then
		fail "no socket frame of the stripped binary shown by build ID and offset"
	elif [ "$named" -ne 0 ]; then
		fail "$named frames of the stripped binary named"
	else
		pass
	fi
}

# A stripped binary whose debuginfo is found by its .gnu_debuglink, in the
# .debug directory beside it (the test's own, not the system's).
test_debuglink() {
	userspace_only || return
	need_gxx || return
	command -v objcopy > /dev/null || { skip "needs objcopy (binutils)"; return; }
	build wl -fno-omit-frame-pointer || { fail "g++: $(head -1 "$TMP/wl.cc.err")"; return; }
	mkdir -p "$TMP/.debug"
	objcopy --only-keep-debug "$TMP/wl" "$TMP/.debug/wl.debug"
	strip -s "$TMP/wl"
	objcopy --add-gnu-debuglink="$TMP/.debug/wl.debug" "$TMP/wl"
	trace_cmd -- "$TMP/wl" -n $N -s 8 || { fail "kleak: $(tail -1 "$TMP/err")"; return; }
	local held
	held=$(user_count sock_inode_cache "$RUN_RE" < "$TMP/out")
	if [ "$(nm "$TMP/wl" 2>&1 | grep -c Holder)" -ne 0 ]; then
		fail "the stripped binary still has symbols"
	elif [ "$held" -lt $N ]; then
		fail "$held sockets under the method through .gnu_debuglink, expected >= $N"
	else
		pass
	fi
}

# A process traced by -p whose samples are unwound (at the report: nothing
# reads them sooner without the stack cache's requests) after it exited: its
# mappings, made before kleak started, could not be read, counted as missed.
test_dwarf_maps_missed() {
	userspace_only || return
	need_ustack dwarf || return
	hold_stdin gone
	(without_holds bash -c 'read -r x; exec 3< /etc/hostname 4< /etc/hostname; exit 0') \
		< "$TMP/gone.fifo" &
	local pid=$! missed
	start_kleak --ustack=dwarf --stack-cache=off -p "$pid" -o 0 -T 0 --format json ||
		{ fail "kleak did not attach"; return; }
	release_stdin gone
	wait "$pid"
	stop_kleak
	missed=$(jq '.stats.ustack_maps_missed' "$TMP/out")
	if [ "$missed" -lt 1 ]; then
		fail "ustack_maps_missed $missed for a process gone before its mappings were read"
	elif [ "$(jq '.stats.ustack_unwind_failed' "$TMP/out")" -lt 1 ]; then
		fail "its samples not counted as unwinding failures"
	else
		pass
	fi
}

# Kernel threads have no user context: their allocations are counted (the
# network namespaces torn down here are freed by a kworker).
test_kthread() {
	need_ustack || return
	start_kleak --ustack -o 0 -T 0 --format json || { fail "kleak did not attach"; return; }
	local i
	for i in 1 2 3 4 5; do
		unshare -n true
	done
	report_now || { fail "no report on SIGUSR1"; return; }
	stop_kleak
	if [ "$(jq -s '.[0].stats.ustack_kthread' "$TMP/out")" -lt 1 ]; then
		fail "no allocation counted as made by a kernel thread"
	elif [ "$(jq -s '[.[0].sites[] | select(.user_stack == "kernel_thread") | .user_frames | length]
			| add // 0' "$TMP/out")" -ne 0 ]; then
		fail "a kernel thread's site shows user frames"
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
	local accepted cloned stacked in_irq with_frames own
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
	# most of them in softirq; those outside ksoftirqd counted as without a user
	# context (ustack_irq), ksoftirqd's as a kernel thread's
	in_irq=$(jq -s '[.[0].sites[] | select(any(.frames[]; (.sym // "") | test("^sk_clone_lock\\+")))
		| select(.context.softirq > 0) | .context.softirq] | add // 0' "$TMP/out")
	with_frames=$(jq -s '[.[0].sites[] | select(.user_stack != "captured")
		| select((.user_frames | length) > 0)] | length' "$TMP/out")
	own=$(jq -s '[.[0].sites[] | select(any(.frames[]; (.sym // "") | test("^inet_create\\+")))
		| select(.user_stack == "captured" and (.user_frames | length) > 0) | .outstanding]
		| add // 0' "$TMP/out")
	if [ "$accepted" -lt 50 ] || [ "$cloned" -lt 1 ]; then
		fail "$accepted accepted sockets, $cloned cloned in softirq in kernel-only sites said so, expected 50, at least 1"
	elif [ "$stacked" -ne 0 ]; then
		fail "$stacked allocations in softirq or hardirq with a user stack"
	elif [ "$in_irq" -lt 25 ]; then
		fail "$in_irq accepted sockets cloned in softirq, expected most of 50"
	elif [ "$(jq -s '.[0].stats.ustack_irq' "$TMP/out")" -lt "$cloned" ]; then
		fail "ustack_irq $(jq -s '.[0].stats.ustack_irq' "$TMP/out"), below the $cloned sockets cloned in softirq in sites said so"
	elif [ "$with_frames" -ne 0 ]; then
		fail "$with_frames sites without a user context show user frames"
	elif [ "$own" -lt 50 ]; then
		fail "$own client sockets (task context) with a user stack, expected >= 50"
	else
		pass
	fi
}

for t in fp fp_no_frame_pointers fp_depth fp_cuts stripped deleted replaced unresolved debuglink \
	xargs trace kthread dwarf dwarf_xargs dwarf_deleted dwarf_replaced dwarf_namespace dwarf_many \
	dwarf_depth dwarf_trace dwarf_unwind_failed dwarf_maps_missed softirq; do
	run_test $t
done
