#!/usr/bin/env bash
# Refusals and robustness: wrong password, replayed Authorization, stale nonce, REGISTER over
# plain UDP/TCP, TLS 1.1, RTP/AVP from an on-net device (488), scanner User-Agent, a corpus
# of broken SIP (the process stays up and answers others), a 70 KB message, a flood from one
# source (rate-limited, others unaffected), lockout; then counters and a restart that keeps
# the bindings.
set -uo pipefail
source "$(dirname "$0")/../lib.sh"
source "$PR_ROOT/tests/integration/slowpath/common.sh"
[ -x "$BUILD/poprelay-slowpath" ] || pr_fail "build $BUILD/poprelay-slowpath first"
D=$(mktemp -d /tmp/sp-refusals.XXXXXX)
pr_on_exit "rm -rf '$D'"
pr_redis_start "$D"
sp_certs "$D"
TP=$(sp_free_port)
PP=$(sp_free_port)
sp_config "$D" "$TP" "$PP" "nonce_ttl_s = 5" "rate_limit_rps = 20" "rate_burst = 40" \
	"lockout_failures = 3" "lockout_s = 60" "max_flows_per_source = 20" "first_message_timeout_s = 2"
sp_start "$D"
sp_user_add "$D" alice "$SP_PW_alice"
sp_user_add "$D" bob "$SP_PW_bob"
sp_user_add "$D" carol "$SP_PW_carol"

# TLS 1.1 is refused by the server (the client is told to allow it: SECLEVEL=0), TLS 1.2 and
# 1.3 are accepted
if echo | timeout 5 openssl s_client -connect 127.0.0.1:$TP -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0' \
	-CAfile "$D/ca.crt" >"$D/t11.log" 2>&1; then
	pr_fail "TLS 1.1 handshake succeeded"
fi
grep -q "alert protocol version" "$D/t11.log" || { cat "$D/t11.log"; pr_fail "TLS 1.1 not refused by the server"; }
echo "ok: TLS 1.1 refused by the server (protocol_version alert)"
for v in tls1_2 tls1_3; do
	echo | timeout 5 openssl s_client -connect 127.0.0.1:$TP -$v -CAfile "$D/ca.crt" 2>&1 |
		grep -q "Verify return code: 0" || pr_fail "$v handshake failed"
	echo "ok: $v accepted"
done

timeout 120 python3 "$PR_ROOT/tests/integration/slowpath/refusals.py" "$TP" "$PP" "$D" ||
	{ tail -30 "$D/sp.log"; pr_fail "refusal scenarios"; }
kill -0 "$SP_PID" || pr_fail "slowpath died"

# counters and actionable log lines
kill -USR1 "$SP_PID"
pr_wait_for 3 grep -q "counters:" "$D/sp.log" || pr_fail "no counters line"
line=$(grep "counters:" "$D/sp.log" | tail -1)
for k in reg_replayed reg_plain_refused reg_stale rate_limited scanner_refused lockout_refused \
	calls_refused_488 calls_plain_refused conns_refused conns_idle_closed reg_auth_failed rx_answered_400 rx_dropped_unparseable rx_too_large; do
	v=$(sed -n "s/.* $k=\([0-9]*\).*/\1/p" <<<"$line")
	[ "${v:-0}" -gt 0 ] || pr_fail "counter $k is ${v:-missing}"
done
echo "ok: counters: $line" | cut -c1-200
grep -q "lockout: user carol locked" "$D/sp.log" || pr_fail "no lockout log line"
grep -q "rate limit: dropping requests from 127.0.0.9" "$D/sp.log" || pr_fail "no rate-limit log line"
grep -q "refused 488" "$D/sp.log" || pr_fail "no 488 log line"
echo "ok: log lines for lockout, rate limit, 488"
if grep -E "$SP_PW_alice|$SP_PW_bob|$SP_PW_carol|ha1_(md5|sha256)|inline:" "$D/sp.log"; then pr_fail "a secret reached the log"; fi
echo "ok: no secret in the log"

# bindings survive a restart
kill "$SP_PID"
wait "$SP_PID" 2>/dev/null
[ "$(redis-cli -s "$D/redis.sock" HGET pr:reg:alice user)" = alice ] || pr_fail "binding lost at stop"
sp_start "$D"
[ "$(redis-cli -s "$D/redis.sock" HGET pr:reg:alice transport)" = tls ] || pr_fail "binding lost after restart"
echo "ok: bindings kept in Redis across a restart"
echo PASS
