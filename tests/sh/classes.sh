# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Object classes, for real: the workload generator holds objects of each
# class with a known count (sleeping children, zombies, reaped children held
# by perf event fds, open files, files in flight over a socketpair, files
# only a mapping holds, TCP, UDP and UNIX sockets, orphaned TCP sockets),
# kleak must report exactly those counts in each class while they are held,
# and see them leave once released. Merged caches, a pid namespace of its
# own and kernels without an iterator classify only what the walks found,
# and say so. Saved runs keep the classes; diff and --held-by show them.
. "$(dirname "$0")/lib.sh"

COMM=$TEST_COMM
DRAIN_S=20
N=30

# held CACHE CLASS: objects of CACHE held as CLASS in the last report; a
# merged cache is named by its first name, so CACHE may be one of its others
held() {
	last_report | jq --arg c "$1" --arg h "$2" \
		'[.sites[] | select(.cache == $c or ((.merged_with // []) | index($c)))
		| .held_by[$h] // 0] | add // 0'
}

# FILES: jq's "files", whether a site is of files: filp, and overlayfs's
# files on its layers (which a mapping of an overlay file holds): bfilp on
# 6.18, kmalloc'd by alloc_empty_backing_file on the 6.12 guest's kernel
FILES='def files: .cache == "filp" or .cache == "bfilp" or
	any(.frames[]; (.sym // "") | test("^alloc_empty_backing_file\\+"));'

# held_files CLASS: files held as CLASS
held_files() {
	last_report | jq --arg h "$1" "$FILES"'[.sites[] | select(files) | .held_by[$h] // 0] | add // 0'
}

# example CACHE CLASS FIELD: FIELD of the first example of CLASS in CACHE
example() {
	last_report | jq -r --arg c "$1" --arg h "$2" --arg f "$3" \
		'[.sites[] | select(.cache == $c) | .held_examples[]? | select(.class == $h)
		| .[$f]][0] // ""'
}

# drained CACHE CLASS: asks for reports until CACHE has no CLASS objects
# (deferred frees); CACHE "files" is filp and bfilp
drained() {
	local deadline=$((SECONDS + DRAIN_S)) n
	while :; do
		report_now || return 1
		if [ "$1" = files ]; then n=$(held_files "$2"); else n=$(held "$1" "$2"); fi
		[ "$n" -eq 0 ] && return 0
		[ $SECONDS -ge $deadline ] && return 1
		sleep 0.2
	done
}

test_tasks() {
	local live zombie reaped pid comm ran kinds
	need_root || return
	start_kleak -c "$COMM" -o 0 -T 0 --format json || { fail "kleak did not attach"; return; }
	start_workload tasks -c $N -n "$COMM" sleepers zombies reaped ||
		{ fail "workload failed"; return; }
	report_now || { fail "no report on SIGUSR1"; return; }
	live=$(held task_struct live)
	zombie=$(held task_struct zombie)
	reaped=$(held task_struct reaped)
	pid=$(example task_struct reaped pid)
	comm=$(example task_struct reaped comm)
	ran=$(example task_struct reaped last_ran_s)
	kinds=$(last_report | jq -r '.held_by.classified')
	release_workload tasks
	if ! drained task_struct reaped; then
		stop_kleak
		fail "reaped: $(held task_struct reaped) task_structs still held ${DRAIN_S}s after the perf fds closed"
		return
	fi
	stop_kleak
	if [ "$live" -ne $N ] || [ "$zombie" -ne $N ] || [ "$reaped" -ne $N ]; then
		fail "task_struct live $live, zombie $zombie, reaped $reaped; expected $N each"
	elif [ "$comm" != "$COMM" ] || [ -z "$pid" ] || [ -d "/proc/$pid" ]; then
		fail "reaped example: pid '$pid' comm '$comm' (expected $COMM, a pid no longer in /proc)"
	elif [ -z "$ran" ] || ! awk -v r="$ran" 'BEGIN { exit !(r >= 0 && r < 120) }'; then
		fail "reaped example: last ran '$ran' s ago"
	elif [[ $kinds != *task_struct* ]]; then
		fail "the header names '$kinds' as classified, not task_struct"
	else
		pass
	fi
}

# merged_with CACHE: the other slab caches CACHE is merged with on this kernel
# (5.10: filp with io_kiocb; 6.18: UNIX with signal_cache), nothing where it
# has a cache of its own
merged_with() {
	local target l
	target=$(readlink "/sys/kernel/slab/$1" 2>/dev/null) || return 0
	for l in /sys/kernel/slab/*; do
		[ -L "$l" ] && [ "${l##*/}" != "$1" ] && [ "$(readlink "$l")" = "$target" ] &&
			echo "${l##*/}"
	done | paste -sd, -
}

# Where filp is merged with another kind's cache, the files in flight (in no
# fd table) are not classified ("merged"), the open ones still are.
test_files() {
	local fd nofd path nofd_path fdnum count merged gone in_merged nofd_class
	need_root || return
	merged=$(merged_with filp)
	nofd_class=no-fd
	[ -z "$merged" ] || nofd_class=merged
	start_kleak -c "$COMM" -o 0 -T 0 --format json || { fail "kleak did not attach"; return; }
	start_workload files -c $N -n "$COMM" files inflight || { fail "workload failed"; return; }
	report_now || { fail "no report on SIGUSR1"; return; }
	fd=$(held filp fd)
	nofd=$(held filp no-fd)
	in_merged=$(held filp merged)
	path=$(last_report | jq -r '[.sites[] | select(.cache == "filp") | .held_examples[]?
		| select(.class == "fd") | .desc] | map(select(. == "/dev/null")) | .[0] // ""')
	fdnum=$(last_report | jq -r '[.sites[] | select(.cache == "filp") | .held_examples[]?
		| select(.class == "fd" and .desc == "/dev/null") | .fd][0] // ""')
	nofd_path=$(example filp no-fd desc)
	count=$(example filp no-fd references)
	gone=$(last_report | jq -r '.held_by.missing // ""')
	release_workload files
	if ! drained filp "$nofd_class"; then
		stop_kleak
		fail "$nofd_class: $(held filp "$nofd_class") files still held ${DRAIN_S}s after the socketpair closed"
		return
	fi
	stop_kleak
	# the $N /dev/null files and the socketpair's two
	if [ "$fd" -lt $((N + 2)) ]; then
		fail "filp fd $fd, expected >= $((N + 2))"
	elif [ -n "$merged" ] && { [ "$nofd" -ne 0 ] || [ "$in_merged" -ne $N ]; }; then
		fail "filp merged with $merged: no-fd $nofd, merged $in_merged; expected 0 and $N"
	elif [ -n "$merged" ] && [[ $gone != *"filp (merged: "* ]]; then
		fail "the header does not say filp is merged: '$gone'"
	elif [ -z "$merged" ] && { [ "$nofd" -ne $N ] || [ "$in_merged" -ne 0 ]; }; then
		fail "filp no-fd $nofd, merged $in_merged; expected $N (the files in flight) and 0"
	elif [ "$path" != /dev/null ] || [ -z "$fdnum" ] || [ "$fdnum" -lt 3 ]; then
		fail "fd example: path '$path' fd '$fdnum'"
	elif [ -z "$merged" ] && { [ "$nofd_path" != /dev/null ] || [ "$count" != 1 ]; }; then
		fail "no-fd example: path '$nofd_path' f_count '$count'"
	else
		pass
	fi
}

# has_iter NAME: kleak features says this kernel has the NAME iterator
has_iter() {
	"$KLEAK" features --format json 2>/dev/null | jq -e --arg f "iter_$1" '.features[$f]' \
		> /dev/null
}

# Files only a mapping holds (mmap, then close): mapped, with the process,
# the mapping's range and the path; freed once unmapped. Without the
# task_vma iterator (before 5.12) they are no-fd (merged where filp is a
# merged cache: 5.10), and the header says mappings were not walked.
test_mapped() {
	local mapped nofd desc range missing self unwalked=no-fd
	need_root || return
	self=$(readlink -f "$WL")
	[ -z "$(merged_with filp)" ] || unwalked=merged
	# one more struct file the workload makes per mapping on an overlayfs
	# root: the overlay file, freed on close; its backing file is what maps
	start_kleak -c "$COMM" -o 0 -T 0 --format json || { fail "kleak did not attach"; return; }
	start_workload mapped -c $N -n "$COMM" mapped || { fail "workload failed"; return; }
	report_now || { fail "no report on SIGUSR1"; return; }
	mapped=$(held_files mapped)
	nofd=$(held_files "$unwalked")
	desc=$(last_report | jq -r "$FILES"'[.sites[] | select(files) | .held_examples[]?
		| select(.class == "mapped") | .desc][0] // ""')
	range=$(last_report | jq -r "$FILES"'[.sites[] | select(files) | .held_examples[]?
		| select(.class == "mapped") | "\(.start)-\(.end)"][0] // ""')
	missing=$(last_report | jq -r '.held_by.missing // ""')
	release_workload mapped
	if has_iter task_vma && ! drained files mapped; then
		stop_kleak
		fail "mapped: $(held_files mapped) files still held ${DRAIN_S}s after the munmap"
		return
	fi
	stop_kleak
	if ! has_iter task_vma; then
		if [ "$nofd" -ne $N ] || [ "$mapped" -ne 0 ]; then
			fail "no task_vma iterator: $unwalked $nofd, mapped $mapped; expected $N and 0"
		elif [[ $missing != *"no task_vma iterator"*"mappings not walked"* ]]; then
			fail "no task_vma iterator, and the header says '$missing'"
		else
			pass
		fi
	elif [ "$mapped" -ne $N ] || [ "$nofd" -ne 0 ]; then
		fail "filp mapped $mapped, no-fd $nofd; expected $N and 0"
	elif [ "$desc" != "$self" ]; then
		fail "mapped example: path '$desc', expected $self"
	elif ! [[ $range =~ ^0x[0-9a-f]+-0x[0-9a-f]+$ ]]; then
		fail "mapped example: range '$range'"
	else
		pass
	fi
}

# A process's executable, its loader and its libraries are held by its
# mappings (the executable by its mm too), not by the kernel: run under
# kleak -- COMMAND, none of the command's files is no-fd. Without the
# task_vma iterator the executable is still found, through its mm.
test_exe() {
	local nofd exe libs self executable
	need_root || return
	self=$(readlink -f "$WL")
	hold_stdin exe
	# start_kleak's background job would read /dev/null: the command's stdin
	# is the fifo, its "ready" goes to a file of its own, the reports to $TMP/out
	: > "$TMP/out"
	(without_holds "$KLEAK" -o 0 -T 0 --format json -- sh -c \
		'exec "$0" --wait -c 1 -n "$1" files > "$2"' "$WL" "$COMM" "$TMP/exe.out") \
		< "$TMP/exe.fifo" > "$TMP/out" 2> "$TMP/err" &
	KLEAK_PID=$!
	wait_for "$TMP/exe.out" '^ready' 60 || { fail "workload failed"; return; }
	report_now || { fail "no report on SIGUSR1"; return; }
	nofd=$(held_files no-fd)
	exe=$(last_report | jq -r --arg self "$self" '[.sites[] | select(any(.frames[];
		(.sym // "") | test("^do_open_execat"))) | .held_examples[]?
		| select(.class == "mapped" and .desc == $self) | .desc][0] // ""')
	executable=$(last_report | jq -r --arg self "$self" '[.sites[] | .held_examples[]?
		| select(.class == "mapped" and .desc == $self) | .executable // false][0]')
	libs=$(last_report | jq -r "$FILES"'[.sites[] | select(files) | .held_examples[]?
		| select(.class == "mapped") | .desc
		| select(test("/(libc\\.so\\.6|ld-linux[^/]*)$")) | sub(".*/"; "")]
		| unique | join(",")')
	release_stdin exe
	stop_kleak
	if [ "$exe" != "$self" ]; then
		fail "the executable $self (do_open_execat) is not among the mapped files"
	elif ! has_iter task_vma && [ "$executable" != true ]; then
		fail "no task_vma iterator: the executable is not said found as one ('$executable')"
	elif ! has_iter task_vma; then
		pass	# the libraries are no-fd then: test_mapped checks the header says so
	elif [ "$nofd" -ne 0 ]; then
		fail "$nofd of the command's files called no-fd: $(last_report | jq -c '[.sites[]
			| .held_examples[]? | select(.class == "no-fd") | .desc]')"
	elif [[ $libs != ld-linux*,libc.so.6 ]]; then
		fail "mapped libraries: '$libs', expected the loader and libc"
	else
		pass
	fi
}

# Files on an overlayfs (a container's root): the workload runs from an
# overlay, maps its own file there and writes its stdout there. The files of
# the layers below are held by mappings (mapped) or by their overlay file,
# which the walks do not follow: those are not classified (merged, where
# filp is a merged cache), never no-fd, and the header says why.
test_overlay() {
	local o=$TMP/ovl layer nofd mapped unknown missing
	need_root || return
	grep -qw overlay /proc/filesystems || { skip "no overlayfs in this kernel"; return; }
	# its layers on a tmpfs: /tmp may be an overlay itself (the guests'), below none can be
	mkdir -p "$o"
	mount -t tmpfs tmpfs "$o" || { fail "cannot mount a tmpfs for the layers"; return; }
	mkdir -p "$o/lower" "$o/upper" "$o/work" "$o/root"
	cp "$WL" "$o/lower/wl"
	if ! mount -t overlay overlay -o "lowerdir=$o/lower,upperdir=$o/upper,workdir=$o/work" \
			"$o/root"; then
		fail "cannot mount an overlayfs"
		umount "$o"
		return
	fi
	hold_stdin ovl
	: > "$TMP/out"
	(without_holds "$KLEAK" -o 0 -T 0 --format json -- sh -c \
		'exec "$0" --wait -c $1 -n "$2" mapped > "$3"' "$o/root/wl" $N "$COMM" \
		"$o/root/wl.out") < "$TMP/ovl.fifo" > "$TMP/out" 2> "$TMP/err" &
	KLEAK_PID=$!
	if ! wait_for "$o/root/wl.out" '^ready' 60; then
		fail "workload failed: $(cat "$TMP/err")"
		# busy while kleak and its command live: detached, freed when they go
		umount -l "$o/root" "$o"
		return
	fi
	report_now || { fail "no report on SIGUSR1"; umount -l "$o/root" "$o"; return; }
	# the files of the layers: opened under the overlay file
	layer='select(any(.frames[]; (.sym // "") | test("^(ovl_open_realfile|backing_file_open)\\+")))'
	nofd=$(held_files no-fd)
	mapped=$(last_report | jq "[.sites[] | $layer | .held_by.mapped // 0] | add // 0")
	# not classified: unknown, or merged where filp is a merged cache (6.1)
	unknown=$(last_report | jq "[.sites[] | $layer | (.held_by.unknown // 0) +
		(.held_by.merged // 0)] | add // 0")
	missing=$(last_report | jq -r '.held_by.missing // ""')
	release_stdin ovl
	stop_kleak
	umount "$o/root" "$o"
	if [ "$nofd" -ne 0 ]; then
		fail "$nofd files called no-fd: $(last_report | jq -c '[.sites[] | .held_examples[]?
			| select(.class == "no-fd") | .desc]')"
	elif has_iter task_vma && [ "$mapped" -lt $N ]; then
		fail "layer files mapped: $mapped, expected at least $N (the workload's mappings)"
	elif [ "$unknown" -lt 1 ]; then
		fail "no layer file held by its overlay file (the workload's stdout): $unknown"
	elif [[ $missing != *"overlayfs's layers"* && $missing != *"filp (merged: "* ]]; then
		fail "the header does not say why layer files are not classified: '$missing'"
	else
		pass
	fi
}

# TCP, UDP and UNIX sockets held by fds, exactly: the workload's own ends (the
# accepted TCP ends are made in softirq, not charged to it). Where UNIX shares
# a cache with signal_cache (6.18), the socks are still classified and the
# signal_structs of the sleepers (copy_process, in that cache, found by no
# walk) are merged, never no-fd.
test_sockets() {
	local tcp udp unix_fd unix_nofd signals merged cache ucache=UNIX-STREAM
	need_root || return
	# stream sockets have a cache of their own (UNIX-STREAM) on newer kernels, not 5.10
	[ -e /sys/kernel/slab/UNIX-STREAM ] || ucache=UNIX
	merged=$(merged_with $ucache)
	start_kleak -c "$COMM" -o 0 -T 0 --format json || { fail "kleak did not attach"; return; }
	start_workload sockets -c $N -n "$COMM" tcp udp unix sleepers ||
		{ fail "workload failed"; return; }
	report_now || { fail "no report on SIGUSR1"; return; }
	tcp=$(last_report | jq -c '[.sites[] | select(.cache == "TCP") | .held_by] | add')
	udp=$(held UDP fd)
	unix_fd=$(held $ucache fd)
	unix_nofd=$(held $ucache no-fd)
	cache=$(last_report | jq -r --arg u $ucache '[.sites[] | select(.cache == $u or
		((.merged_with // []) | index($u))) | .cache][0] // ""')
	signals=$(last_report | jq -c --arg c "$cache" '[.sites[] | select(.cache == $c and
		any(.frames[]; (.sym // "") | test("^copy_process"))) | .held_by] | add')
	release_workload sockets
	stop_kleak
	if [ "$tcp" != "{\"fd\":$N}" ]; then
		fail "TCP classes $tcp, expected {\"fd\":$N}"
	elif [ "$udp" -ne $N ]; then
		fail "UDP fd $udp, expected $N"
	elif [ "$unix_fd" -ne $((2 * N)) ] || [ "$unix_nofd" -ne 0 ]; then
		fail "UNIX fd $unix_fd, no-fd $unix_nofd; expected $((2 * N)) and 0"
	elif [[ ,$merged, == *,signal_cache,* ]] && [ "$signals" != "{\"merged\":$N}" ]; then
		fail "UNIX merged with $merged: the sleepers' signal_structs are $signals, expected {\"merged\":$N}"
	elif [[ ,$merged, != *,signal_cache,* ]] && [ "$signals" != null ]; then
		fail "signal_cache is not merged with UNIX, yet classified: $signals"
	else
		pass
	fi
}

# From a pid namespace of its own the walks see only its tasks: objects they
# do not find are not classified, never reaped or no-fd, and the header says
# why. The workload runs outside kleak's namespace.
test_pidns() {
	local kinds missing live reaped unknown nofd
	need_root || return
	command -v unshare > /dev/null || { skip "no unshare"; return; }
	: > "$TMP/out"
	: > "$TMP/err"
	(without_holds unshare -pf "$KLEAK" -c "$COMM" -o 0 -T 0 --format json --duration 6) \
		> "$TMP/out" 2> "$TMP/err" &
	KLEAK_PID=$!
	wait_for "$TMP/err" '^kleak: tracing' 60 || { fail "kleak did not attach"; return; }
	start_workload pidns -c $N -n "$COMM" sleepers reaped files ||
		{ fail "workload failed"; return; }
	wait "$KLEAK_PID"
	KLEAK_PID=
	release_workload pidns
	kinds=$(last_report | jq -r '.held_by.classified')
	missing=$(last_report | jq -r '.held_by.missing // ""')
	live=$(held task_struct live)
	reaped=$(held task_struct reaped)
	unknown=$(held task_struct unknown)
	nofd=$(held filp no-fd)
	if [[ $missing != *"pid namespace of its own"* ]]; then
		fail "the header does not name the pid namespace: '$missing'"
	elif [ "$reaped" -ne 0 ] || [ "$nofd" -ne 0 ] || [ "$live" -ne 0 ]; then
		fail "outside the namespace: live $live, reaped $reaped, no-fd $nofd; expected 0"
	elif [ "$unknown" -ne $((2 * N)) ]; then
		fail "task_struct not classified: $unknown, expected $((2 * N))"
	elif [[ $kinds != *task_struct* ]]; then
		fail "classified kinds '$kinds'"
	else
		pass
	fi
}

# kleak features lists the iterators the classes use, and where it says one
# is missing the report header says what was not classified (5.10: no
# task_vma, no unix iterator); where it has one, nothing is said of it.
test_iterators() {
	local missing it f found
	need_root || return
	"$KLEAK" features --format json > "$TMP/features" 2> "$TMP/err" ||
		{ fail "kleak features failed: $(cat "$TMP/err")"; return; }
	for it in task task_file task_vma tcp udp unix; do
		f=$(jq -r --arg f "iter_$it" '.features[$f]' "$TMP/features")
		if [ "$f" != true ] && [ "$f" != false ]; then
			fail "kleak features has no iter_$it ('$f')"
			return
		fi
		"$KLEAK" features | grep -Eq "^  (yes|no) +iter_$it " ||
			{ fail "kleak features' text has no iter_$it row"; return; }
	done
	start_kleak -c "$COMM" -o 0 -T 0 --format json || { fail "kleak did not attach"; return; }
	start_workload iters -c 3 -n "$COMM" sleepers files mapped tcp udp unix ||
		{ fail "workload failed"; return; }
	report_now || { fail "no report on SIGUSR1"; return; }
	missing=$(last_report | jq -r '.held_by.missing // ""')
	release_workload iters
	stop_kleak
	for it in task task_file task_vma tcp udp unix; do
		f=$(jq -r --arg f "iter_$it" '.features[$f]' "$TMP/features")
		found=false
		[[ $missing == *"no $it iterator in this kernel"* ]] && found=true
		if [ "$f" = true ] && [ $found = true ]; then
			fail "features has iter_$it, the header says it is missing: '$missing'"
			return
		elif [ "$f" = false ] && [ $found = false ]; then
			fail "features lacks iter_$it, the header does not say so: '$missing'"
			return
		fi
	done
	pass
}

test_orphans() {
	local orphan fd desc
	need_root || return
	start_kleak -c "$COMM" -o 0 -T 0 --format json || { fail "kleak did not attach"; return; }
	start_workload orphans -c $N -n "$COMM" orphans || { fail "workload failed"; return; }
	report_now || { fail "no report on SIGUSR1"; return; }
	orphan=$(held TCP orphan)
	fd=$(held TCP fd)
	desc=$(example TCP orphan desc)
	release_workload orphans
	if ! drained TCP orphan; then
		stop_kleak
		fail "orphans: $(held TCP orphan) still held ${DRAIN_S}s after the peers reset"
		return
	fi
	stop_kleak
	# the clients are COMM's; the accepted ends are made in softirq, not charged to it
	if [ "$orphan" -ne $N ]; then
		fail "TCP orphan $orphan, expected $N"
	elif [ "$fd" -ne 1 ]; then
		fail "TCP fd $fd, expected 1: the listener"
	elif ! [[ $desc =~ ^FIN_WAIT1\ 127\.0\.0\.1:[0-9]+\ -\>\ 127\.0\.0\.1:[0-9]+$ ]]; then
		fail "orphan example: '$desc'"
	else
		pass
	fi
}

# -w keeps the classes: report prints them as live, --held-by keeps one
# class, and diff against a run holding nothing shows each class's change
test_saved() {
	local n live saved only other diff files
	need_root || return
	start_kleak -c "$COMM" -o 0 -T 0 -w "$TMP/empty.run" ||
		{ fail "kleak did not attach"; return; }
	stop_kleak
	start_kleak -c "$COMM" -o 0 -T 0 --format json -w "$TMP/held.run" ||
		{ fail "kleak did not attach"; return; }
	start_workload saved -c $N -n "$COMM" sleepers reaped inflight ||
		{ fail "workload failed"; return; }
	report_now || { fail "no report on SIGUSR1"; return; }
	# the final report is saved, and taken while everything is still held
	stop_kleak
	live=$(last_report | jq -c '.held_by.classes')
	release_workload saved
	saved=$("$KLEAK" report --format json "$TMP/held.run" | jq -c '.held_by.classes')
	only=$("$KLEAK" report --format json --held-by reaped "$TMP/held.run" |
		jq -c '[.sites[] | [.cache, .count, (.held_by | keys)]]')
	other=$("$KLEAK" report --held-by reaped "$TMP/held.run" | grep -c '^\[')
	diff=$("$KLEAK" diff --format json "$TMP/empty.run" "$TMP/held.run" |
		jq -c '[.held_by[] | select(.cache == "task_struct" or .class == "no-fd")
		| [.cache, .class, .delta]] | sort')
	n=$("$KLEAK" diff "$TMP/empty.run" "$TMP/held.run" | grep -cE '^  task_struct +reaped +0 +'$N' +\+'$N'$')
	# in a filp merged with another kind's cache the files in flight are merged
	files="[\"filp\",\"no-fd\",$N],"
	[ -z "$(merged_with filp)" ] || files=
	if [ "$saved" != "$live" ]; then
		fail "saved classes $saved, live $live"
	elif [ "$only" != "[[\"task_struct\",$N,[\"reaped\"]]]" ] || [ "$other" -ne 1 ]; then
		fail "--held-by reaped: $only ($other sites in text)"
	elif [ "$diff" != "[$files[\"task_struct\",\"live\",$N],[\"task_struct\",\"reaped\",$N]]" ]; then
		fail "diff per class: $diff"
	elif [ "$n" -ne 1 ]; then
		fail "diff text has no 'task_struct reaped 0 $N +$N' row"
	else
		pass
	fi
}

# A live --held-by is a filter: the filters line says it, and so does the run
# it saves, which holds only that class
test_heldby() {
	local live saved classes
	need_root || return
	start_kleak -c "$COMM" -o 0 -T 0 --format json --held-by reaped -w "$TMP/reaped.run" ||
		{ fail "kleak did not attach"; return; }
	start_workload heldby -c $N -n "$COMM" sleepers reaped || { fail "workload failed"; return; }
	report_now || { fail "no report on SIGUSR1"; return; }
	stop_kleak
	release_workload heldby
	live=$(last_report | jq -r '.meta.filters')
	saved=$("$KLEAK" report "$TMP/reaped.run" | grep '^filters: ')
	classes=$("$KLEAK" report --format json "$TMP/reaped.run" | jq -c '.held_by.classes')
	if [ "$live" != "comm=$COMM held-by=reaped" ]; then
		fail "live filters '$live'"
	elif [[ $saved != "filters: comm=$COMM held-by=reaped; "* ]]; then
		fail "saved run's filters line: '$saved'"
	elif [ "$classes" != "{\"reaped\":$N}" ]; then
		fail "saved classes $classes, expected {\"reaped\":$N}"
	else
		pass
	fi
}

for t in tasks files mapped exe overlay sockets orphans pidns iterators saved heldby; do
	run_test $t
done
