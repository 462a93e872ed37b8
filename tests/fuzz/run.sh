#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Runs each libFuzzer target of .output-san (make san) for SECONDS over its
# committed seed corpus (tests/fuzz/corpus/TARGET) and the inputs earlier
# runs found (.output-san/corpus/TARGET, where new ones go). With
# FUZZ_FRESH=1 (make test) it starts from the committed corpus alone and
# keeps nothing it found, so that every test run starts alike. A crash, leak
# or sanitizer report fails the target; its input is left as
# .output-san/crash-TARGET-* to be fixed and then committed to the corpus.
# Prints "PASS fuzz/TARGET" or "FAIL fuzz/TARGET" each, and the runs' figures.
# Usage: tests/fuzz/run.sh SECONDS [TARGET...]   (default: every target)
set -u
cd "$(dirname "$0")/../.." || exit 1
SAN=.output-san
secs=${1:?usage: $0 SECONDS [TARGET...]}
shift
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cd tests/fuzz && ls fuzz_*.c | sed 's/\.c$//')
rc=0
fresh=
if [ "${FUZZ_FRESH:-0}" = 1 ]; then
	fresh=$(mktemp -d /tmp/kleak-fuzz.XXXXXX)
	trap 'rm -rf "$fresh"' EXIT
fi
for t in "${targets[@]}"; do
	if [ ! -x "$SAN/$t" ]; then
		echo "SKIP fuzz/$t: $SAN/$t not built (make san)"
		continue
	fi
	found=${fresh:-$SAN/corpus}/$t
	mkdir -p "$found"
	log="$SAN/$t.log"
	# -close_fd_mask=3: the readers' one-line errors are expected, not news
	"$SAN/$t" -max_total_time="$secs" -close_fd_mask=3 -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix="$SAN/crash-$t-" "$found" "tests/fuzz/corpus/$t" \
		> "$log" 2>&1
	st=$?
	figures=$(grep -o '#[0-9]*.*DONE.*' "$log" | tail -1)
	[ -n "$figures" ] || figures=$(grep -E '^#[0-9]+' "$log" | tail -1)
	if [ $st -eq 0 ]; then
		echo "PASS fuzz/$t ($secs s: ${figures:-no figures})"
	else
		grep -E 'ERROR|SUMMARY|runtime error|Test unit written' "$log" | head -5 | sed 's/^/  /'
		echo "  fuzz/$t: exit $st, log in $log"
		echo "FAIL fuzz/$t"
		rc=1
	fi
done
exit $rc
