#!/usr/bin/env bash
# tests/bench/run.sh BUILD_DIR [NAME]
# Runs tests/bench/NAME.sh (or every one). A benchmark script prints one JSON object a
# line: {"name","value","unit","baseline","baseline_value"[,"ratio"]}; this runner adds
# ratio (value / baseline_value, unless the bench gave it: the median of paired runs' ratios),
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
	BUILD="$B" "$s" >"$out"
	case $? in
	0) python3 tests/bench/annotate.py "$n" "$date" "$commit" <"$out" >>docs/bench-results.jsonl || rc=1 ;;
	77) echo "bench $n skipped (its reason is above)" >&2 ;;
	*) echo "bench $n failed" >&2; rc=1 ;;
	esac
	rm -f "$out"
done
python3 tests/bench/report.py docs/bench-results.jsonl tests/bench >docs/performance.md
echo "docs/performance.md updated"
exit $rc
