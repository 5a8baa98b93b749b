#!/usr/bin/env bash
# Runs every test: CUnit unit tests, fuzz-target regressions over their corpora,
# then the integration scripts (each sets up and tears down its own world).
# Usage: [JOBS=N] tests/run.sh [--unit-only|--integration-only] BUILD_DIR [TEST_NAME_FILTER]
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

# Integration scripts, JOBS (2) at a time. A script's "# parallel: TOKENS" line (its second)
# says what it must not share: two scripts with a token in common never run at once
# ("hugepages": one hugepage pool; "heavy": they load both CPUs), "exclusive" runs alone,
# and "slow" ones start first so that the run ends with short ones. Each script's output is
# printed whole when it ends.
tokens_of() { sed -n '2s/^# parallel: //p' "$1"; }
conflicts() { # TOKENS_A TOKENS_B: true when they may not run together
	local t
	[[ " $1 $2 " == *" exclusive "* ]] && return 0
	for t in $1; do
		[ "$t" = slow ] && continue
		[[ " $2 " == *" $t "* ]] && return 0
	done
	return 1
}
# leftovers TAG: the processes a script left running after it exited (they carry
# PR_TEST_RUN=TAG in their environment, inherited from the script), given 5 s to finish
# their exit; killed and listed (pid and command), nothing printed when none is left.
# ha_redis_media once killed a subshell's pid instead of its dataplane's, and the orphan
# ran on through the rest of the suite.
leftovers() {
	local i p pids
	for ((i = 0; i < 25; i++)); do
		pids=$(grep -lzx "PR_TEST_RUN=$1" /proc/[0-9]*/environ 2>/dev/null | cut -d/ -f3)
		[ -z "$pids" ] && return 0
		sleep 0.2
	done
	for p in $pids; do
		echo "$p $(tr '\0' ' ' </proc/$p/cmdline 2>/dev/null | cut -c1-160)"
		kill -9 "$p" 2>/dev/null
	done
}
if [ $mode != unit ]; then
	JOBS=${JOBS:-2}
	logs=$(mktemp -d /tmp/poprelay-tests.XXXXXX)
	pending=()
	declare -A tok=() began=()
	for pass_slow in 1 0; do
		for s in tests/integration/*.sh; do
			[ -x "$s" ] || continue
			n=$(basename "$s" .sh)
			[ -n "$FILTER" ] && [[ $n != *$FILTER* ]] && continue
			tok[$n]=$(tokens_of "$s")
			[[ " ${tok[$n]} " == *" slow "* ]] && [ $pass_slow = 1 ] && pending+=("$n")
			[[ " ${tok[$n]} " != *" slow "* ]] && [ $pass_slow = 0 ] && pending+=("$n")
		done
	done
	running=()
	while [ ${#pending[@]} -gt 0 ] || [ ${#running[@]} -gt 0 ]; do
		# start what may start, in order
		i=0
		while [ $i -lt ${#pending[@]} ] && [ ${#running[@]} -lt "$JOBS" ]; do
			n=${pending[$i]} ok=1
			for r in "${running[@]}"; do
				conflicts "${tok[$n]}" "${tok[$r]}" && { ok=0; break; }
			done
			if [ $ok = 0 ]; then
				i=$((i + 1))
				continue
			fi
			began[$n]=$SECONDS
			(PR_TEST_RUN="$n.$$" BUILD="$B" timeout 600 "tests/integration/$n.sh" >"$logs/$n.log" 2>&1
			 echo $? >"$logs/$n.rc~" && mv "$logs/$n.rc~" "$logs/$n.rc") &
			running+=("$n")
			pending=("${pending[@]:0:$i}" "${pending[@]:$((i + 1))}")
			i=0
		done
		# until one of them ends (a poll: each writes its exit status last)
		while [ ${#running[@]} -gt 0 ]; do
			for r in "${running[@]}"; do [ -e "$logs/$r.rc" ] && break 2; done
			sleep 0.2
		done
		still=()
		for r in "${running[@]}"; do
			if [ -e "$logs/$r.rc" ]; then
				echo "=== integration: $r"
				cat "$logs/$r.log"
				t0=${began[$r]}
				rc=$(cat "$logs/$r.rc")
				left=$(leftovers "$r.$$")
				if [ -n "$left" ]; then
					echo "FAIL: $r left processes running after it exited (killed now):"
					echo "$left"
					[ "$rc" = 0 ] || [ "$rc" = 77 ] && rc=1
				fi
				record "$r" "$rc"
			else
				still+=("$r")
			fi
		done
		running=("${still[@]}")
	done
	rm -rf "$logs"
fi

echo
[ ${#failed[@]} -gt 0 ] && echo "failed: ${failed[*]}"
echo "$pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
