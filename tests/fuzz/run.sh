#!/usr/bin/env bash
# tests/fuzz/run.sh FUZZ_BUILD_DIR SECONDS      run every fuzzer for SECONDS each
# tests/fuzz/run.sh --regress FUZZ_BUILD_DIR NAME   replay NAME's seed corpus plus a short
#                                                   bounded random run (used by make test)
# Seed corpora live in tests/fuzz/corpus/<fuzzer name>/ (committed); new findings go to
# tests/fuzz/corpus-work/ (ignored) so a long run never dirties the tree.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ "${1:-}" = --regress ]; then
	FB=$2; n=$3
	seeds=tests/fuzz/corpus/$n
	mkdir -p "$seeds"
	work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
	"$FB/$n" -runs=0 "$seeds" >"$work/log" 2>&1 || { cat "$work/log"; exit 1; }
	"$FB/$n" -runs=20000 -max_len=2048 -seed=1 "$work" "$seeds" >"$work/log2" 2>&1 || { tail -40 "$work/log2"; exit 1; }
	echo "$n: seed corpus ($(ls "$seeds" | wc -l) inputs) and 20000 random runs clean"
	exit 0
fi
FB=${1:-build-fuzz}; secs=${2:-30}
for f in "$FB"/fuzz_*; do
	n=$(basename "$f")
	mkdir -p "tests/fuzz/corpus-work/$n" "tests/fuzz/corpus/$n"
	echo "=== $n for ${secs}s"
	"$f" -max_total_time="$secs" -max_len=2048 "tests/fuzz/corpus-work/$n" "tests/fuzz/corpus/$n"
done
