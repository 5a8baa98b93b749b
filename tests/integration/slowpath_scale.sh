#!/usr/bin/env bash
# parallel: heavy
# Thousands of concurrent TLS flows: SP_SCALE_CONNS (default 3000) TLS connections stay open
# at once, each registers a user with digest; the slowpath keeps answering a probe
# connection and stays within a memory budget.
set -uo pipefail
source "$(dirname "$0")/../lib.sh"
source "$PR_ROOT/tests/integration/slowpath/common.sh"
[ -x "$BUILD/poprelay-slowpath" ] || pr_fail "build $BUILD/poprelay-slowpath first"
[ -x "$BUILD/tests/bench/sipload" ] || pr_fail "build $BUILD/tests/bench/sipload first"
N=${SP_SCALE_CONNS:-3000}
[ "$(ulimit -Hn)" -ge $((N + 100)) ] || pr_skip "hard fd limit $(ulimit -Hn) below $N"
D=$(mktemp -d /tmp/sp-scale.XXXXXX)
pr_on_exit "rm -rf '$D'"
pr_redis_start "$D"
sp_certs "$D"
TP=$(sp_free_port)
PP=$(sp_free_port)
sp_config "$D" "$TP" "$PP" "digest_algorithms = MD5" "rate_limit_rps = 0" "log_level = 5" \
	"max_flows_per_source = $((N + 100))" "first_message_timeout_s = 120"
sp_start "$D"
PW=Scale-pw-4711-flows
for i in $(seq 0 49); do sp_user_add "$D" "user$i" "$PW"; done
# N connections, 2 REGISTER chains each, all connections open until the last completes
out=$(timeout 300 "$BUILD/tests/bench/sipload" register 127.0.0.1 "$TP" "$D/ca.crt" "$PW" 50 $((2 * N)) "$N") ||
	{ tail -5 "$D/sp.log"; pr_fail "sipload over $N connections"; }
echo "ok: $N concurrent TLS flows, $((2 * N)) digest registrations: $out (done, seconds, per second)"
kill -USR1 "$SP_PID"
pr_wait_for 3 grep -q "counters:" "$D/sp.log" || pr_fail "no counters"
acc=$(grep "counters:" "$D/sp.log" | tail -1 | sed -n 's/.* conns_accepted=\([0-9]*\).*/\1/p')
[ "${acc:-0}" -ge "$N" ] || pr_fail "accepted $acc connections, expected $N"
rss=$(awk '/VmHWM/ {print $2}' /proc/$SP_PID/status)
echo "ok: accepted $acc flows, peak RSS ${rss} kB"
[ "$rss" -lt $((N * 200 + 100000)) ] || pr_fail "peak RSS ${rss} kB is over the budget"
kill -0 "$SP_PID" || pr_fail "slowpath died"
echo PASS
