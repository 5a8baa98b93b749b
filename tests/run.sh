#!/usr/bin/env bash
# Runs every test: CUnit unit tests, fuzz-target regressions over their corpora,
# then the integration scripts (each sets up and tears down its own world).
# Usage: tests/run.sh [--unit-only|--integration-only] BUILD_DIR [TEST_NAME_FILTER]
set -uo pipefail
cd "$(dirname "$0")/.."
mode=all
case "${1:-}" in --unit-only) mode=unit; shift ;; --integration-only) mode=integ; shift ;; esac
B=${1:-build}
FILTER=${2:-${TESTS:-}}
pass=0; fail=0; skip=0; failed=()

t0=$SECONDS
record() { # name rc: the verdict and how long the test took (since the last record)
	local took="$((SECONDS - t0)) s"
	t0=$SECONDS
	case $2 in
	0) pass=$((pass + 1)); echo "PASS: $1 ($took)" ;;
	77) skip=$((skip + 1)); echo "SKIP: $1 ($took)" ;;
	*) fail=$((fail + 1)); failed+=("$1"); echo "FAIL: $1 (exit $2, $took)" ;;
	esac
}

if [ $mode != integ ]; then
	for t in "$B"/tests/unit/test_*; do
		[ -x "$t" ] || continue
		n=$(basename "$t")
		[ -n "$FILTER" ] && [[ $n != *$FILTER* ]] && continue
		echo "=== unit: $n"
		t0=$SECONDS
		"$t"; record "$n" $?
	done
fi

if [ $mode = all ]; then
	for f in build-fuzz/fuzz_*; do
		[ -x "$f" ] || continue
		n=$(basename "$f")
		[ -n "$FILTER" ] && [[ $n != *$FILTER* ]] && continue
		echo "=== fuzz regression: $n"
		t0=$SECONDS
		tests/fuzz/run.sh --regress build-fuzz "$n"; record "$n" $?
	done
fi

if [ $mode != unit ]; then
	for s in tests/integration/*.sh; do
		[ -x "$s" ] || continue
		n=$(basename "$s" .sh)
		[ -n "$FILTER" ] && [[ $n != *$FILTER* ]] && continue
		echo "=== integration: $n"
		t0=$SECONDS
		BUILD="$B" timeout 600 "$s"; record "$n" $?
	done
fi

echo
[ ${#failed[@]} -gt 0 ] && echo "failed: ${failed[*]}"
echo "$pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
