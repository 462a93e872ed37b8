# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Living with kleak: the man page renders without warnings and names every
# option each command's --help lists (so the two cannot drift); --help names
# the man page and no bug address; the bash completion offers subcommands,
# options and their values; make install puts the binary, the man page and
# the completion under DESTDIR. No BPF needed.
. "$(dirname "$0")/lib.sh"

MAN=docs/kleak.8
COMPLETION=tools/completion/kleak

# the long options of one command's --help (trace: no subcommand)
help_options() {
	# shellcheck disable=SC2046
	"$KLEAK" $([ "$1" = trace ] || echo "$1") --help |
		sed -n 's/^ \{1,\}\(-[A-Za-z0-9], \)\{0,1\}\(--[a-z][a-z0-9-]*\).*/\2/p'
}

test_man_renders() {
	local sec
	groff -man -Tutf8 -ww "$MAN" > "$TMP/man.txt" 2> "$TMP/man.err"
	local st=$?
	MANWIDTH=80 MANPAGER=cat man -l "$MAN" > "$TMP/man-l.txt" 2> "$TMP/man-l.err"
	local mst=$?
	if [ $st -ne 0 ] || [ -s "$TMP/man.err" ]; then
		fail "groff -man -ww: status $st: $(head -3 "$TMP/man.err" | tr '\n' '|')"
		return
	elif [ $mst -ne 0 ] || [ -s "$TMP/man-l.err" ]; then
		fail "man -l: status $mst: $(head -3 "$TMP/man-l.err" | tr '\n' '|')"
		return
	fi
	for sec in NAME SYNOPSIS DESCRIPTION OPTIONS 'THE REPORT' FORMATS METRICS 'STATUS LINE' \
		   'SAVED RUNS' 'EXIT STATUS' EXAMPLES; do
		if ! col -b < "$TMP/man-l.txt" | grep -q "^$sec\$"; then
			fail "man -l: no section $sec"
			return
		fi
	done
	pass
}

# every long option of every command's --help has its entry in the man page
# (a tagged paragraph starting with it, as "-o, --older=SEC" or "--follow")
test_man_options() {
	local c opt missing=
	# one long line, no hyphenation: an option is never split in the text
	groff -man -Tutf8 -P-cbou -rLL=2000n -rHY=0 "$MAN" > "$TMP/man.flat" 2> /dev/null
	for c in trace report diff features; do
		help_options $c > "$TMP/opts.$c"
		if [ "$(wc -l < "$TMP/opts.$c")" -lt 3 ]; then
			fail "kleak $c --help: no options read"
			return
		fi
		while read -r opt; do
			grep -qE -- "^ +(-[A-Za-z0-9], )?$opt([=, []|\$)" "$TMP/man.flat" ||
				missing="$missing $c:$opt"
		done < "$TMP/opts.$c"
	done
	# the negative control: an option the page does not have is found missing
	grep -qE -- "^ +(-[A-Za-z0-9], )?--no-such-option([=, ]|\$)" "$TMP/man.flat" &&
		missing="$missing (control)"
	if [ -n "$missing" ]; then
		fail "options of --help missing from $MAN:$missing"
	else
		pass
	fi
}

# --help of every command: the man page named, no bug address, 80 columns
test_help_manual() {
	local c bad=
	for c in trace report diff features; do
		# shellcheck disable=SC2046
		"$KLEAK" $([ $c = trace ] || echo $c) --help > "$TMP/help" 2>&1
		if grep -qi 'report bugs' "$TMP/help"; then
			bad="kleak $c --help names a bug address: $(grep -i 'report bugs' "$TMP/help")"
		elif ! grep -q 'kleak(8)' "$TMP/help"; then
			bad="kleak $c --help does not name the man page kleak(8)"
		elif [ "$(awk 'length > 80' "$TMP/help" | wc -l)" -ne 0 ]; then
			bad="kleak $c --help: a line over 80 columns: $(awk 'length > 80' "$TMP/help" | head -1)"
		fi
		[ -n "$bad" ] && break
	done
	if [ -n "$bad" ]; then
		fail "$bad"
	else
		pass
	fi
}

# complete WORD...: the candidates bash's completion gives for the last word
complete_words() {
	bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
		_kleak; printf "%s\n" "${COMPREPLY[@]}"' complete "$COMPLETION" "$KLEAK" "$@"
}

# expect_completion "WORDS" CANDIDATE... : each candidate is offered
expect_completion() {
	local words=$1 want got
	shift
	# shellcheck disable=SC2086
	got=$(complete_words $words)
	for want in "$@"; do
		if [ "$want" = '!' ]; then
			[ -z "$got" ] || BAD="'kleak $words': offered $(echo $got) where nothing fits"
		elif ! printf '%s\n' "$got" | grep -qxF -- "$want"; then
			BAD="'kleak $words': '$want' not among: $(echo $got | cut -c1-200)"
		fi
		[ -n "$BAD" ] && return
	done
}

test_completion() {
	local cache
	BAD=
	# a real cache of this machine, from /sys/kernel/slab
	cache=$(find /sys/kernel/slab -maxdepth 1 -name 'task_struct' -printf '%f\n' 2>/dev/null)
	expect_completion "''" report diff features
	[ -z "$BAD" ] && expect_completion "--for" --format
	[ -z "$BAD" ] && expect_completion "--format ''" text json folded pprof svg
	[ -z "$BAD" ] && expect_completion "--format = js" json
	[ -z "$BAD" ] && expect_completion "features --format ''" text json
	[ -z "$BAD" ] && expect_completion "--stack-cache ''" on off check
	[ -z "$BAD" ] && expect_completion "report --ca" --cache --caches
	[ -z "$BAD" ] && expect_completion "diff --min-" --min-delta --min-size
	[ -z "$BAD" ] && expect_completion "--me" --metrics
	[ -z "$BAD" ] && expect_completion "report tests/fixtures/tc" tests/fixtures/tcp.run
	[ -z "$BAD" ] && expect_completion "diff tests/fixtures/diff-k61.run tests/fixtures/diff-k6" \
		tests/fixtures/diff-k61.run tests/fixtures/diff-k618.run
	[ -z "$BAD" ] && expect_completion "-w tests/fixtures/files" tests/fixtures/files.run
	[ -z "$BAD" ] && expect_completion "-- xarg" xargs
	[ -z "$BAD" ] && expect_completion "--top ''" '!'
	[ -z "$BAD" ] && expect_completion "-p $$" "$$"
	[ -z "$BAD" ] && expect_completion "-O tests/fixtures/tc" tests/fixtures/tcp.run
	[ -z "$BAD" ] && expect_completion "report -O tests/fixtures/fi" tests/fixtures/files.run
	[ -z "$BAD" ] && expect_completion "--held-by ''" live zombie reaped fd no-fd orphan
	[ -z "$BAD" ] && expect_completion "diff --held-by o" orphan
	[ -z "$BAD" ] && expect_completion "--ustack =" fp dwarf
	[ -z "$BAD" ] && expect_completion "--ustack = d" dwarf
	[ -z "$BAD" ] && expect_completion "--pages = ''" all
	# after a space the optional value is not the option's: nothing to offer
	[ -z "$BAD" ] && expect_completion "--ustack ''" '!'
	[ -z "$BAD" ] && expect_completion "--file-mode ''" 0600 0640 0644
	if [ -z "$BAD" ] && [ -n "$cache" ]; then
		expect_completion "--cache task_st" task_struct
		# merged caches' ":..." ids are not names
		[ -z "$BAD" ] && complete_words --cache : | grep -q . &&
			BAD="'kleak --cache :' offered merged-cache ids"
	fi
	# every option of a subcommand's --help, and none of the tracing ones for diff
	if [ -z "$BAD" ]; then
		complete_words diff - > "$TMP/diff.opts"
		for opt in $(help_options diff); do
			grep -qxF -- "$opt" "$TMP/diff.opts" || BAD="'kleak diff -': $opt not offered"
		done
		grep -qxF -- --duration "$TMP/diff.opts" && BAD="'kleak diff -' offers --duration"
	fi
	if [ -n "$BAD" ]; then
		fail "$BAD"
	elif [ -z "$cache" ]; then
		skip "no /sys/kernel/slab/task_struct here (SLUB sysfs): cache names not checked"
	else
		pass
	fi
}

test_install() {
	local root=$TMP/root st
	make --no-print-directory install DESTDIR="$root" PREFIX=/usr > "$TMP/install.log" 2>&1
	st=$?
	if [ $st -ne 0 ]; then
		fail "make install: status $st: $(tail -2 "$TMP/install.log" | tr '\n' '|')"
	elif [ ! -x "$root/usr/sbin/kleak" ] || ! "$root/usr/sbin/kleak" --version | grep -q '^kleak '; then
		fail "no working $root/usr/sbin/kleak"
	elif ! cmp -s "$root/usr/share/man/man8/kleak.8" "$MAN"; then
		fail "the man page is not at share/man/man8/kleak.8"
	elif ! MANPAGER=cat man -M "$root/usr/share/man" 8 kleak 2>/dev/null | grep -q 'kleak - which kernel'; then
		fail "man -M DESTDIR/usr/share/man 8 kleak does not find it"
	elif ! cmp -s "$root/usr/share/bash-completion/completions/kleak" "$COMPLETION"; then
		fail "the completion is not at share/bash-completion/completions/kleak"
	elif [ "$(stat -c %a "$root/usr/share/man/man8/kleak.8")" != 644 ]; then
		fail "man page mode $(stat -c %a "$root/usr/share/man/man8/kleak.8")"
	else
		pass
	fi
}

for t in man_renders man_options help_manual completion install; do
	run_test $t
done
