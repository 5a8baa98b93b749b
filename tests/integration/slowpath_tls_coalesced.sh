#!/usr/bin/env bash
# TLS records that reach the slowpath together (docs/slowpath.md "TLS": it reads ahead, one
# read() per socket wake-up): a Python client (slowpath/tls_coalesced.py, ssl.MemoryBIO)
# sends its records in one segment, and every request must be answered:
#   finished+first  the client's TLS 1.3 Finished and its first OPTIONS in one segment
#   two, many       2 and 20 OPTIONS, one record each, in one segment
#   split           a record and half the next, the rest 0.3 s later
#   tls12           two OPTIONS in one segment over TLS 1.2
#   backpressure    20,000 OPTIONS while the client does not read (4 KiB receive buffer):
#                   the slowpath's writes wait for the socket, then all 20,000 answers
#                   arrive, 200 each, in CSeq order
# then the flows closed: conns_open back to 0 and no TLS failure counted.
set -uo pipefail
source "$(dirname "$0")/../lib.sh"
source "$PR_ROOT/tests/integration/slowpath/common.sh"
[ -x "$BUILD/poprelay-slowpath" ] || pr_fail "build $BUILD/poprelay-slowpath first"
D=$(mktemp -d /tmp/sp-tlsco.XXXXXX)
pr_on_exit "rm -rf '$D'"
pr_redis_start "$D"
sp_certs "$D"
TP=$(sp_free_port)
PP=$(sp_free_port)
sp_config "$D" "$TP" "$PP" "rate_limit_rps = 0"
sp_start "$D"

out=$(python3 "$SP_DIR/tls_coalesced.py" "$TP" "$D/ca.crt" 2>&1)
rc=$?
printf '%s\n' "$out"
[ $rc = 0 ] || { tail -n 20 "$D/sp.log" >&2; pr_fail "a request in a coalesced segment went unanswered"; }
for c in finished+first two many split tls12 backpressure; do
	grep -qx "ok $c" <<<"$out" || pr_fail "case $c did not run"
done

# every flow closed by the client is gone, and nothing counted as a TLS failure
spstat() { redis-cli -s "$D/redis.sock" HGET pr:stats:slowpath:pop1:$(hostname) "$1"; }
pr_wait_for 5 sh -c "[ \"\$(redis-cli -s '$D/redis.sock' HGET pr:stats:slowpath:pop1:$(hostname) conns_open)\" = 0 ]" ||
	pr_fail "flows still open after the client closed them: $(spstat conns_open)"
[ "$(spstat tls_failed)" = 0 ] || pr_fail "tls_failed = $(spstat tls_failed)"
echo "PASS"
