# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# The unit and CLI tests again, under AddressSanitizer and
# UndefinedBehaviorSanitizer (the build of tests/sanitize.mk, which make test
# makes), and each fuzz target for a few seconds over its seed corpus. Any
# sanitizer report fails: reports go to files of their own, counted here,
# so that a test that checks stderr cannot hide one.
. "$(dirname "$0")/lib.sh"

SAN=.output-san
FUZZ_SECONDS=${KLEAK_FUZZ_SECONDS:-5}
export ASAN_OPTIONS="log_path=$TMP/san:abort_on_error=0:detect_leaks=1"
export UBSAN_OPTIONS="log_path=$TMP/san:print_stacktrace=1:halt_on_error=1"

# san_reports: the sanitizer reports so far, as one line
san_reports() {
	cat "$TMP"/san.* 2>/dev/null | grep -E 'ERROR|runtime error|SUMMARY' | head -3 | tr '\n' '|'
}

test_unit() {
	local out
	[ -x "$SAN/unit-tests" ] || { skip "$SAN/unit-tests not built (make san)"; return; }
	out=$("$SAN/unit-tests" 2>&1 | tail -1)
	if [ -n "$(san_reports)" ]; then
		fail "sanitizer: $(san_reports)"
	elif ! [[ "$out" =~ \ 0\ failed$ ]]; then
		fail "unit tests under sanitizers: $out"
	else
		pass
	fi
}

test_cli() {
	local out
	[ -x "$SAN/kleak" ] || { skip "$SAN/kleak not built (make san)"; return; }
	rm -f "$TMP"/san.*
	out=$(KLEAK=$SAN/kleak KLEAK_DYNAMIC=1 bash tests/sh/cli.sh 2>&1)
	if [ -n "$(san_reports)" ]; then
		fail "sanitizer: $(san_reports)"
	elif grep -q '^FAIL ' <<< "$out"; then
		fail "CLI tests under sanitizers: $(grep -B1 '^FAIL ' <<< "$out" | tr '\n' '|')"
	else
		pass
	fi
}

test_fuzz() {
	local out
	[ -x "$SAN/fuzz_record" ] || { skip "fuzz targets not built (make san)"; return; }
	out=$(FUZZ_FRESH=1 tests/fuzz/run.sh "$FUZZ_SECONDS" 2>&1)
	if grep -q '^FAIL ' <<< "$out"; then
		fail "$(grep -v '^PASS ' <<< "$out" | tr '\n' '|')"
	else
		pass
	fi
}

for t in unit cli fuzz; do
	run_test $t
done
