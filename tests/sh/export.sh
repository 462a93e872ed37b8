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

# cum_by_function ARGS...: "FUNCTION CUM_BYTES" lines of go tool pprof -top,
# every node (no fraction cut), summed by name, the zeros left out, sorted;
# the caches' frames are "[cache C] BYTES" lines among them
cum_by_function() {
	go tool pprof -top -cum -unit=B -nodecount=100000 -nodefraction=0 -edgefraction=0 "$@" \
		2> "$TMP/pprof.err" |
		awk '/^ *-?[0-9.]+B? +-?[0-9.]+% / { v = $4; sub("B$", "", v); $1 = $2 = $3 = $4 = $5 = "";
		     sub("^ +", ""); a[$0] += v } END { for (k in a) if (a[k]) print k, a[k] }' | sort
}

# diff_by_function ARGS...: the same from kleak diff's own rows (-T 0 --format
# json): each row's change to each function its frames name, once a row, and
# each cache's change from its per-cache table
diff_by_function() {
	"$KLEAK" diff -T 0 --format json "$@" | jq -r '
		(.sites[] | . as $s | [.frames[] | sub(" \\[[^]]*\\]$"; "")] | unique[] |
			"\(.) \($s.delta_bytes)"),
		(.caches[] | "[cache \(.cache)] \(.delta_bytes)")' |
		awk '{ v = $NF; $NF = ""; sub(" $", ""); a[$0] += v }
		     END { for (k in a) if (a[k]) print k, a[k] }' | sort
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

# kleak diff's B-minus-A profile shows, function by function and cache by
# cache, the change kleak diff prints, across kernels too (frames matched
# across 6.1 and 6.18, a path in caches each kernel names otherwise); on one
# kernel that is what go tool pprof -diff_base makes of the two runs' own
# profiles; its total is kleak diff's
test_pprof_diff() {
	local a=$FIX/tcp.run b=$FIX/files.run k61=$FIX/diff-k61.run k618=$FIX/diff-k618.run total prof
	need_go || return
	"$KLEAK" report -o 0 -T 0 --format pprof $a > "$TMP/a.pb.gz"
	"$KLEAK" report -o 0 -T 0 --format pprof $b > "$TMP/b.pb.gz"
	"$KLEAK" diff --format pprof $a $b > "$TMP/d.pb.gz"
	cum_by_function -diff_base="$TMP/a.pb.gz" "$TMP/b.pb.gz" > "$TMP/base"
	cum_by_function "$TMP/d.pb.gz" > "$TMP/kleak"
	diff_by_function $a $b > "$TMP/rows"
	total=$("$KLEAK" diff -T 0 --format json $a $b | jq -r '"\(.total.delta_count) \(.total.delta_bytes)"')
	prof=$(sum_pprof "$TMP/d.pb.gz")
	"$KLEAK" diff --format pprof $k61 $k618 > "$TMP/k.pb.gz"
	cum_by_function "$TMP/k.pb.gz" > "$TMP/k.prof"
	diff_by_function $k61 $k618 > "$TMP/k.rows"
	if [ ! -s "$TMP/base" ] || ! grep -q '^sk_prot_alloc ' "$TMP/base"; then
		fail "go tool pprof -diff_base: $(head -2 "$TMP/pprof.err")"
	elif ! diff "$TMP/base" "$TMP/kleak" > "$TMP/d"; then
		fail "per function, -diff_base and kleak diff differ: $(head -4 "$TMP/d" | tr '\n' ' ')"
	elif ! diff "$TMP/rows" "$TMP/kleak" > "$TMP/d"; then
		fail "per function, kleak diff and its profile differ: $(head -4 "$TMP/d" | tr '\n' ' ')"
	elif [ "$total" != "$prof" ]; then
		fail "kleak diff total $total, its profile $prof"
	elif ! grep -q '^\[cache cred_jar\] -2112$' "$TMP/k.rows" || ! grep -q '^__alloc_file ' "$TMP/k.rows"; then
		fail "6.1 against 6.18: no cred_jar change or no 6.1-only frame: $(tr '\n' ' ' < "$TMP/k.rows" | cut -c1-300)"
	elif ! diff "$TMP/k.rows" "$TMP/k.prof" > "$TMP/d"; then
		fail "across kernels, per function, kleak diff and its profile differ: $(head -4 "$TMP/d" | tr '\n' ' ')"
	elif [ "$(sum_pprof "$TMP/k.pb.gz")" != "$("$KLEAK" diff -T 0 --format json $k61 $k618 |
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

# svg_colours MODE SVG: what the flame graph's own data says of its colours.
# report: each frame's subsystem hue as svg.c's table gives it, a module in
# the pale band; diff: red growth, blue shrinkage, none grey, and a larger
# change (in bytes, or objects for count) never a paler shade. Prints the
# first disagreement; nothing when all agree.
svg_colours() {
	python3 - "$@" <<'PY'
import re, sys
mode, path = sys.argv[1], sys.argv[2]
frames = re.findall(r'<g class="f" [^>]*data-c="hsl\((\d+),(\d+)%,(\d+)%\)" data-n="([^"]*)"><title>([^<]*)</title>',
                    open(path).read())
if len(frames) < 10:
    sys.exit(print("only %d frames" % len(frames)))
if mode == "report":
    # networking, filesystems, syscall entry: three subsystems, three hues
    want = {"tcp_sendmsg": 200, "inet_create": 200, "__sock_create": 200, "sk_alloc": 200,
            "seq_open": 30, "single_open": 30, "do_syscall_64": 240}
    seen = {}
    for h, s, l, name, _ in frames:
        if name in want and int(h) != want[name]:
            sys.exit(print("%s hue %s, not its subsystem's %d" % (name, h, want[name])))
        seen[name] = int(h)
        if name.endswith("]") and " [" in name and (s, l) != ("45", "80"):
            sys.exit(print("module frame %s not in the pale band: %s%%, %s%%" % (name, s, l)))
    if set(want) - set(seen):
        sys.exit(print("frames not drawn: %s" % sorted(set(want) - set(seen))))
    if not any(n.endswith(" [xfs]") for _, _, _, n, _ in frames):
        sys.exit(print("no module frame drawn"))
    sys.exit(0)
unit = 1 if mode == "count" else 0
rows = []
for h, s, l, name, title in frames:
    m = re.search(r"B-A ([+-]\d+) bytes, ([+-]\d+) objects", title)
    if not m:
        sys.exit(print("no B-A in the tooltip of %s: %s" % (name, title)))
    d = int(m.group(1 + unit))
    if name == "all":
        continue
    hue = int(h) if d else None
    if (d > 0 and (hue, s) != (0, "80")) or (d < 0 and (hue, s) != (220, "80")) or \
       (d == 0 and s != "0"):
        sys.exit(print("%s: B-A %d drawn hsl(%s,%s%%,%s%%)" % (name, d, h, s, l)))
    rows.append((abs(d), int(l), name))
rows.sort()
for (d1, l1, n1), (d2, l2, n2) in zip(rows, rows[1:]):
    if d2 > d1 and d1 and l2 > l1:
        sys.exit(print("%s (|B-A| %d) paler than %s (%d): %d%% > %d%%" % (n2, d2, n1, d1, l2, l1)))
if rows[-1][1] != 50:
    sys.exit(print("the largest change %s is not the deepest shade: %d%%" % (rows[-1][2], rows[-1][1])))
PY
}

# the flame graphs' colours on their own data (svg_colours): subsystems and
# modules in a report; a diff's colours by sign and magnitude, of bytes, or
# with --value count of objects: task_struct, 0 objects but 28160 bytes less
# from 6.1 to 6.18, is blue by bytes and grey by objects
test_svg_colours() {
	local out k61=$FIX/diff-k61.run k618=$FIX/diff-k618.run
	"$KLEAK" report -o 0 --format svg -O "$TMP/c.svg" $FIX/tcp.run
	"$KLEAK" diff --format svg -O "$TMP/cb.svg" $k61 $k618
	"$KLEAK" diff --format svg --value count -O "$TMP/cc.svg" $k61 $k618
	if out=$(svg_colours report "$TMP/c.svg") && [ -n "$out" ]; then
		fail "report: $out"
	elif out=$(svg_colours bytes "$TMP/cb.svg") && [ -n "$out" ]; then
		fail "diff by bytes: $out"
	elif out=$(svg_colours count "$TMP/cc.svg") && [ -n "$out" ]; then
		fail "diff by objects: $out"
	elif ! grep -q 'data-c="hsl(220,80%,[0-9]*%)" data-n="\[cache task_struct\]"' "$TMP/cb.svg" ||
	     ! grep -q 'data-c="hsl(0,0%,92%)" data-n="\[cache task_struct\]"' "$TMP/cc.svg"; then
		fail "task_struct's frame: $(grep -o 'data-c="[^"]*" data-n="\[cache task_struct\]"' \
			"$TMP/cb.svg" "$TMP/cc.svg" | tr '\n' ' ')"
	else
		pass
	fi
}

# no kernel address in any output unless --raw-addresses: every format of
# every saved run (the old ones keep raw addresses) and of a diff, the
# metrics, a run saved again; with --raw-addresses, JSON and pprof have them
test_no_kernel_addresses() {
	local f fmt bad= re='(0x)?ffff[89a-f][0-9a-f]{11}'
	need_go || return
	for f in "$FIX"/*.run; do
		for fmt in text json folded svg; do
			"$KLEAK" report -o 0 -T 0 --format $fmt "$f" > "$TMP/o" 2> /dev/null
			grep -Eqi "$re" "$TMP/o" && { bad="$fmt of $f: $(grep -Eoi -m1 "$re" "$TMP/o")"; break 2; }
		done
		"$KLEAK" report -o 0 --format pprof "$f" > "$TMP/p.pb.gz" 2> /dev/null
		go tool pprof -raw "$TMP/p.pb.gz" > "$TMP/o" 2>&1
		grep -Eqi "$re" "$TMP/o" && { bad="pprof of $f: $(grep -Eoi -m1 "$re" "$TMP/o")"; break; }
		"$KLEAK" report --metrics "$TMP/o" "$f" > /dev/null 2>&1
		grep -Eqi "$re" "$TMP/o" && { bad="metrics of $f"; break; }
	done
	for fmt in text json folded svg; do
		[ -n "$bad" ] && break
		"$KLEAK" diff -T 0 --format $fmt $FIX/tcp.run $FIX/diff-k618.run > "$TMP/o" 2> /dev/null
		grep -Eqi "$re" "$TMP/o" && bad="diff $fmt: $(grep -Eoi -m1 "$re" "$TMP/o")"
	done
	"$KLEAK" report -o 0 --raw-addresses --format json $FIX/tcp.run > "$TMP/raw.json"
	"$KLEAK" report -o 0 --raw-addresses --format pprof $FIX/tcp.run > "$TMP/raw.pb.gz"
	if [ -n "$bad" ]; then
		fail "a kernel address in $bad"
	elif ! jq -e '[.sites[].frames[].addr] | all(. == "0x0")' \
			<("$KLEAK" report -o 0 --format json $FIX/tcp.run) > /dev/null; then
		fail "JSON frames' addr is not 0x0 without --raw-addresses"
	elif ! grep -Eqi "$re" "$TMP/raw.json" ||
	     ! go tool pprof -raw "$TMP/raw.pb.gz" 2>&1 | grep -Eqi "$re"; then
		fail "--raw-addresses: no kernel address in JSON or pprof"
	else
		pass
	fi
}

# owner, mode and type of a path
stat_of() { stat -c '%U %a %F' "$1"; }

test_output_safety() {
	local d=$TMP/sticky bad='' f opt
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
	# a run file and a metrics file the same: refused before anything is traced
	for f in theirs planted; do
		for opt in -w --metrics; do
			[ -n "$bad" ] && break 2
			"$KLEAK" --duration 1 $opt "$d/$f.svg" 2> "$TMP/err" &&
				bad="$opt wrote $f.svg"
			grep -q tracing "$TMP/err" && bad=${bad:-"$opt traced before refusing $f.svg"}
			[ "$(wc -l < "$TMP/err")" -eq 1 ] && grep -q 'belongs to uid 65534' "$TMP/err" ||
				bad=${bad:-"$opt $f.svg: $(cat "$TMP/err")"}
		done
	done
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

# the mode of every file kleak writes: 0600, or --file-mode's; the files
# of a live run (-w, --output, --metrics) and of report and diff
test_output_modes() {
	local d=$TMP/modes bad='' mode f
	need_root || return
	mkdir "$d"
	for mode in '' 0644 0640; do
		rm -f "$d"/*
		# shellcheck disable=SC2086
		"$KLEAK" --duration 1 -c "$COMM" ${mode:+--file-mode $mode} -w "$d/x.run" \
			--format folded -O "$d/x.folded" --metrics "$d/x.prom" 2> "$TMP/err" ||
			{ bad="live run ${mode:-default}: $(cat "$TMP/err")"; break; }
		# shellcheck disable=SC2086
		"$KLEAK" report ${mode:+--file-mode $mode} --format svg -O "$d/r.svg" \
			--metrics "$d/r.prom" $FIX/tcp.run 2> "$TMP/err" ||
			{ bad="report ${mode:-default}: $(cat "$TMP/err")"; break; }
		# shellcheck disable=SC2086
		"$KLEAK" diff ${mode:+--file-mode $mode} -O "$d/d.txt" $FIX/tcp.run $FIX/files.run \
			2> "$TMP/err" || { bad="diff ${mode:-default}: $(cat "$TMP/err")"; break; }
		for f in x.run x.folded x.prom r.svg r.prom d.txt; do
			[ "$(stat -c %a "$d/$f")" = "$(printf %o $((${mode:-0600})))" ] ||
				{ bad="--file-mode ${mode:-(none)}: $f is $(stat -c %a "$d/$f")"; break 2; }
		done
		[ "$(ls -A "$d" | wc -l)" -eq 6 ] || { bad="left behind: $(ls -A "$d" | tr '\n' ' ')"; break; }
	done
	if [ -n "$bad" ]; then
		fail "$bad"
	else
		pass
	fi
}

# an output that cannot be written is refused before anything is read or
# traced; so is one whose file the rename would wrongly replace (a link to
# /proc/self/fd/1 as /dev/stdout is, one to a device, a fifo), left as it was
test_output_refused() {
	local bad='' args l=$TMP/links
	mkdir "$l" && ln -s /proc/self/fd/1 "$l/stdout" && ln -s /dev/null "$l/null" &&
		mkfifo "$l/fifo"
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
--duration 1 -w /sys/x.run
--duration 1 --metrics /proc/x.prom
report --format svg -O /sys/x.svg $FIX/tcp.run
report --metrics /sys/kernel/x.prom $FIX/tcp.run
--format folded 1 3
--file-mode 0755 -w x.run
--file-mode 0666 -w x.run
--file-mode 644x -w x.run
--file-mode 0600
report --format folded -O $l/stdout $FIX/tcp.run
diff -O $l/null $FIX/tcp.run $FIX/files.run
--duration 1 --metrics $l/fifo
EOF2
	if [ -n "$bad" ]; then
		fail "$bad"
	elif [ "$(stat -c %F "$l/stdout" "$l/null" "$l/fifo" | tr '\n' ' ')" != \
	       "symbolic link symbolic link fifo " ]; then
		fail "replaced: $(ls -l "$l" | tr '\n' ' ')"
	else
		pass
	fi
}

# a full stdout (/dev/full): one line naming the real error, in every format,
# for a report and a diff, and for a live run whose stdout is line-buffered
test_stdout_full() {
	local fmt bad=
	for fmt in text json folded pprof svg; do
		for cmd in "report -o 0 --format $fmt $FIX/tcp.run" "diff --format $fmt $FIX/tcp.run $FIX/files.run"; do
			# shellcheck disable=SC2086
			"$KLEAK" $cmd > /dev/full 2> "$TMP/err" && { bad="$cmd: status 0"; break 2; }
			[ "$(wc -l < "$TMP/err")" -eq 1 ] && grep -q 'No space left on device$' "$TMP/err" ||
				{ bad="$cmd: $(cat "$TMP/err")"; break 2; }
		done
	done
	if [ -z "$bad" ] && [ "$(id -u)" = 0 ]; then
		"$KLEAK" --duration 1 -c "$COMM" > /dev/full 2> "$TMP/err" && bad="live: status 0"
		grep -q 'failed to write the text report: No space left on device$' "$TMP/err" ||
			bad=${bad:-"live: $(cat "$TMP/err")"}
	fi
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

# live: the final pprof profile holds what the saved run's text report does,
# and neither has a kernel address
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
	elif go tool pprof -raw "$TMP/live.pb.gz" 2>&1 | grep -Eqi '(0x)?ffff[89a-f][0-9a-f]{11}' ||
	     grep -Eq '^frame 0x[1-9a-f]' "$TMP/live.run"; then
		fail "a kernel address in the live profile or run file without --raw-addresses"
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

for t in pprof_totals pprof_contents pprof_diff no_kernel_addresses folded svg_chromium \
	 svg_colours output_safety output_modes output_refused stdout_full output_full_fs \
	 live_interval live_pprof classes; do
	run_test $t
done
