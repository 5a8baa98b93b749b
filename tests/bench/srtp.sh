#!/usr/bin/env bash
# tests/bench/srtp.sh — SRTP protect/unprotect throughput on one core (see srtp.md).
# Prints JSON lines {"name","value","unit","baseline","baseline_value"}.
# Env: BUILD (build dir), SRTP_BENCH_CPU (core to pin to, default: the last one),
#      SRTP_BENCH_ARGS (extra arguments, e.g. "--reps 3 --ms 50").
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
bin=$BUILD/tests/bench/bench_srtp
[ -x "$bin" ] || { echo "srtp bench: $bin not built (make build)" >&2; exit 1; }
cpu=${SRTP_BENCH_CPU:-$(($(nproc) - 1))}
# shellcheck disable=SC2086
exec taskset -c "$cpu" "$bin" ${SRTP_BENCH_ARGS:-}
