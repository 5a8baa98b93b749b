#!/usr/bin/env bash
# tests/bench/run.sh BUILD_DIR [NAME]
# Runs tests/bench/NAME.sh (or every one). A benchmark script prints one JSON object a
# line: {"name","value","unit","baseline","baseline_value"}; this runner adds ratio,
# date, commit and bench, appends to docs/bench-results.jsonl, and regenerates
# docs/performance.md from the newest run of every benchmark.
set -uo pipefail
cd "$(dirname "$0")/../.."
B=${1:-build}; only=${2:-}
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD 2>/dev/null || commit="$commit-dirty"
date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
rc=0
for s in tests/bench/*.sh; do
	n=$(basename "$s" .sh)
	[ "$n" = run ] && continue
	[ -n "$only" ] && [ "$n" != "$only" ] && continue
	echo "=== bench: $n"
	out=$(mktemp)
	if BUILD="$B" "$s" >"$out"; then
		python3 tests/bench/annotate.py "$n" "$date" "$commit" <"$out" >>docs/bench-results.jsonl || rc=1
	else
		echo "bench $n failed" >&2; rc=1
	fi
	rm -f "$out"
done
python3 tests/bench/report.py docs/bench-results.jsonl tests/bench >docs/performance.md
echo "docs/performance.md updated"
exit $rc
