#!/usr/bin/env bash
# Every slowpath tunable is live: set with poprelayctl, it changes the running slowpath's
# behaviour within a second, `tunable get` shows the value the slowpath reports in force
# (pr:tunables:in_force:slowpath), and the slowpath logs the change; reset, the
# configuration's value is back. One slowpath on loopback, driven over SIP/TLS by
# slowpath/tunables_sip.py (sipclient.py):
#   sip.rate_per_src       2: the excess of a burst of OPTIONS is answered 503 + Retry-After;
#                          at the configuration's 50/s the same burst is all answered 200
#   sip.auth_fail_max      2: two failed authentications lock the user out (403 with the
#                          right password); at 5, two failures do not
#   sip.lockout_s          2: a lockout ends after 2 s (one made at 300 s still holds)
#   sip.reg_min_expires_s  423 with the new Min-Expires; a shorter registration accepted
#   sip.reg_max_expires_s  the granted Expires capped at the new maximum; a minimum above it
#                          is refused (logged, the old value stays in force)
#   sip.keepalive_s        the Flow-Timer of an RFC 5626 REGISTER's 200
#   sip.max_msg_bytes      1024: a 2000-byte message closes its flow (as one over 64 KiB
#                          does); a 1000-byte one is answered
# Then: a value set while the subscription is down (CLIENT KILL) is applied on reconnect, and
# a restarted slowpath starts with what pr:tunables holds.
set -uo pipefail
source "$(dirname "$0")/../lib.sh"
source "$PR_ROOT/tests/integration/slowpath/common.sh"
[ -x "$BUILD/poprelay-slowpath" ] || pr_fail "build $BUILD/poprelay-slowpath first"
[ -x "$BUILD/poprelayctl" ] || pr_fail "build $BUILD/poprelayctl first"
D=$(mktemp -d /tmp/sp-tunables.XXXXXX)
pr_on_exit "rm -rf '$D'"
pr_redis_start "$D"
sp_certs "$D"
TP=$(sp_free_port)
PP=$(sp_free_port)
# a burst of 10 lets the registrations and failed authentications of one source through
sp_config "$D" "$TP" "$PP" "rate_burst = 10"
sp_start "$D"
printf '[redis]\nsocket = %s\n' "$D/redis.sock" >"$D/ctl.conf"
CTL="$BUILD/poprelayctl -c $D/ctl.conf"
for u in alice bob carol; do
	v=SP_PW_$u
	sp_user_add "$D" $u "${!v}"
done
sp_user_add "$D" dave "$SP_PW_alice"
sip() { # SRC CMD ARGS...
	timeout 30 python3 "$PR_ROOT/tests/integration/slowpath/tunables_sip.py" "$TP" "$D" "$@" ||
		{ tail -20 "$D/sp.log" >&2; pr_fail "tunables_sip.py $*"; }
}
jf() { python3 -c "import json,sys; print(json.loads(sys.argv[1]).get('$1'))" "$2"; }
in_force() { # NAME: what the slowpath reported, as `tunable get --json` shows it
	$CTL tunable get "$1" --json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["in_force"])'
}
# set_live NAME VALUE: poprelayctl tunable set; within a second the slowpath reports VALUE in
# force, `tunable get` prints it, and the log has the change
set_live() {
	local t0 old
	old=$(in_force "$1")
	t0=$(date +%s%N)
	$CTL tunable set "$1" "$2" >/dev/null || pr_fail "tunable set $1 $2"
	while [ "$(in_force "$1")" != "$2" ]; do
		[ $((($(date +%s%N) - t0) / 1000000)) -lt 1000 ] ||
			pr_fail "$1 = $2 not in force 1 s after the set: $($CTL tunable get "$1" --json 2>&1)"
		sleep 0.05
	done
	echo "ok: $1 = $2 in force after $((($(date +%s%N) - t0) / 1000000)) ms"
	[ "$($CTL tunable get "$1" 2>/dev/null)" = "$2" ] || pr_fail "tunable get $1: $($CTL tunable get "$1" 2>&1)"
	grep -q "tunables: $1 $old -> $2 (pr:tunables)" "$D/sp.log" ||
		pr_fail "no log line 'tunables: $1 $old -> $2 (pr:tunables)'"
}
reset_live() { # NAME VALUE: back to the configuration's VALUE within a second
	local t0
	t0=$(date +%s%N)
	$CTL tunable reset "$1" >/dev/null || pr_fail "tunable reset $1"
	while [ "$(in_force "$1")" != "$2" ]; do
		[ $((($(date +%s%N) - t0) / 1000000)) -lt 1000 ] || pr_fail "$1 not back to $2 1 s after reset"
		sleep 0.05
	done
	grep -q "tunables: $1 .* -> $2 (the configuration)" "$D/sp.log" || pr_fail "no log line for the reset of $1"
}

pr_log "the values in force at start are the configuration's, reported to poprelayctl"
pr_wait_for 5 bash -c "[ \"\$($CTL tunable get sip.max_msg_bytes 2>/dev/null)\" = 65536 ]" ||
	pr_fail "sip.max_msg_bytes not reported in force: $($CTL tunable get sip.max_msg_bytes --json 2>&1)"
for t in sip.rate_per_src=50 sip.auth_fail_max=5 sip.lockout_s=300 sip.reg_min_expires_s=60 \
	sip.reg_max_expires_s=3600 sip.keepalive_s=120; do
	[ "$(in_force "${t%=*}")" = "${t#*=}" ] || pr_fail "${t%=*} in force at start: $(in_force "${t%=*}")"
done
echo "ok: the seven sip.* tunables reported in force at start"

pr_log "sip.rate_per_src"
out=$(sip 127.0.0.30 burst 20 50)
[ "$(jf ok "$out")" = 20 ] || pr_fail "20 OPTIONS at 20/s with the configuration's 50/s: $out"
set_live sip.rate_per_src 2
out=$(sip 127.0.0.31 burst 20 50)
ok=$(jf ok "$out") refused=$(jf refused "$out")
[ "$ok" -le 12 ] && [ "$refused" -ge 8 ] && [ $((ok + refused)) = 20 ] ||
	pr_fail "20 OPTIONS at 20/s with 2/s: $out"
[ "$(jf retry_after "$out")" = "$refused" ] || pr_fail "a 503 without Retry-After: $out"
echo "ok: at 2/s, $refused of a burst of 20 refused 503 with Retry-After ($ok answered: the burst of 10)"
grep -q "rate limit: dropping requests from 127.0.0.31 (tls), over 2/s, each answered 503" "$D/sp.log" ||
	pr_fail "no rate-limit log line"
reset_live sip.rate_per_src 50
out=$(sip 127.0.0.32 burst 20 50)
[ "$(jf ok "$out")" = 20 ] || pr_fail "after the reset: $out"

pr_log "sip.auth_fail_max and sip.lockout_s"
out=$(sip 127.0.0.40 badauth bob 2)
out=$(sip 127.0.0.40 register bob "$SP_PW_bob" 600)
[ "$(jf status "$out")" = 200 ] || pr_fail "two failures at auth_fail_max 5, then the password: $out"
set_live sip.auth_fail_max 2
out=$(sip 127.0.0.41 badauth carol 2)
out=$(sip 127.0.0.41 register carol "$SP_PW_carol" 600)
[ "$(jf status "$out")" = 403 ] || pr_fail "two failures at auth_fail_max 2, then the password: $out"
grep -q "lockout: user carol locked for 300s after 2 failed" "$D/sp.log" || pr_fail "no lockout log line for carol"
echo "ok: auth_fail_max 2: locked out after 2 failures (403 with the right password)"
set_live sip.lockout_s 2
out=$(sip 127.0.0.42 badauth dave 2)
out=$(sip 127.0.0.42 register dave "$SP_PW_alice" 600)
[ "$(jf status "$out")" = 403 ] || pr_fail "dave not locked out: $out"
grep -q "lockout: user dave locked for 2s after 2 failed" "$D/sp.log" || pr_fail "no lockout log line for dave"
sleep 2.5
out=$(sip 127.0.0.43 register dave "$SP_PW_alice" 600)
[ "$(jf status "$out")" = 200 ] || pr_fail "dave's 2 s lockout did not end: $out"
out=$(sip 127.0.0.44 register carol "$SP_PW_carol" 600)
[ "$(jf status "$out")" = 403 ] || pr_fail "carol's lockout, made at 300 s, ended: $out"
echo "ok: lockout_s 2: the lockout ends after 2 s (one made at 300 s holds)"
reset_live sip.lockout_s 300
reset_live sip.auth_fail_max 5

pr_log "sip.reg_min_expires_s and sip.reg_max_expires_s"
out=$(sip 127.0.0.50 register alice "$SP_PW_alice" 30)
[ "$(jf status "$out")" = 423 ] && [ "$(jf min_expires "$out")" = 60 ] || pr_fail "30 s at min 60: $out"
set_live sip.reg_min_expires_s 20
out=$(sip 127.0.0.50 register alice "$SP_PW_alice" 30)
[ "$(jf status "$out")" = 200 ] && [ "$(jf expires "$out")" = 30 ] || pr_fail "30 s at min 20: $out"
set_live sip.reg_min_expires_s 45
out=$(sip 127.0.0.50 register alice "$SP_PW_alice" 30)
[ "$(jf status "$out")" = 423 ] && [ "$(jf min_expires "$out")" = 45 ] || pr_fail "30 s at min 45: $out"
echo "ok: reg_min_expires_s: 423 Min-Expires 45, 30 s accepted at 20"
out=$(sip 127.0.0.50 register alice "$SP_PW_alice" 7200)
[ "$(jf expires "$out")" = 3600 ] || pr_fail "7200 s at max 3600: $out"
set_live sip.reg_max_expires_s 600
out=$(sip 127.0.0.50 register alice "$SP_PW_alice" 7200)
[ "$(jf status "$out")" = 200 ] && [ "$(jf expires "$out")" = 600 ] || pr_fail "7200 s at max 600: $out"
echo "ok: reg_max_expires_s 600: 7200 s asked, 600 granted"
# a minimum above the maximum cannot hold: refused, logged, 45 stays
$CTL tunable set sip.reg_min_expires_s 1000 >/dev/null || pr_fail "set min 1000"
sleep 1
[ "$(in_force sip.reg_min_expires_s)" = 45 ] || pr_fail "a minimum above the maximum was applied"
grep -q "tunables: sip.reg_min_expires_s 1000 above sip.reg_max_expires_s 600 refused" "$D/sp.log" ||
	pr_fail "the refusal is not logged"
out=$(sip 127.0.0.50 register alice "$SP_PW_alice" 50)
[ "$(jf status "$out")" = 200 ] || pr_fail "50 s with the refused minimum 1000: $out"
echo "ok: a minimum above the maximum is refused and logged; 45 stays in force"
reset_live sip.reg_max_expires_s 3600
# the stored 1000 now holds with the configuration's maximum 3600
pr_wait_for 2 bash -c "[ \"\$($CTL tunable get sip.reg_min_expires_s 2>/dev/null)\" = 1000 ]" ||
	pr_fail "the stored minimum 1000 not applied once the maximum allows it"
reset_live sip.reg_min_expires_s 60

pr_log "sip.keepalive_s"
out=$(sip 127.0.0.60 register alice "$SP_PW_alice" 600 outbound)
[ "$(jf flow_timer "$out")" = 120 ] || pr_fail "Flow-Timer at the configuration's 120: $out"
set_live sip.keepalive_s 30
out=$(sip 127.0.0.60 register alice "$SP_PW_alice" 600 outbound)
[ "$(jf flow_timer "$out")" = 30 ] || pr_fail "Flow-Timer at 30: $out"
echo "ok: keepalive_s 30: Flow-Timer 30 (120 before)"
reset_live sip.keepalive_s 120

pr_log "sip.max_msg_bytes"
out=$(sip 127.0.0.70 options 2000)
[ "$(jf status "$out")" = 200 ] || pr_fail "2000 bytes at 65536: $out"
set_live sip.max_msg_bytes 1024
out=$(sip 127.0.0.70 options 2000)
[ "$(jf closed "$out")" = True ] || pr_fail "2000 bytes at 1024: $out"
grep -q "message over 1024 bytes, closing the connection" "$D/sp.log" || pr_fail "no log line for the refusal"
out=$(sip 127.0.0.70 options 1000)
[ "$(jf status "$out")" = 200 ] || pr_fail "1000 bytes at 1024: $out"
echo "ok: max_msg_bytes 1024: 2000 bytes close the flow, 1000 answered"
reset_live sip.max_msg_bytes 65536
out=$(sip 127.0.0.70 options 2000)
[ "$(jf status "$out")" = 200 ] || pr_fail "2000 bytes after the reset: $out"

pr_log "after its subscription drops, the slowpath reconnects and reads pr:tunables again"
redis-cli -s "$D/redis.sock" CLIENT KILL TYPE pubsub >/dev/null
$CTL tunable set sip.keepalive_s 40 >/dev/null # its PUBLISH finds no subscriber
pr_wait_for 3 bash -c "[ \"\$($CTL tunable get sip.keepalive_s 2>/dev/null)\" = 40 ]" ||
	pr_fail "keepalive_s 40, set while unsubscribed, not in force after the reconnect"
grep -q "tunables: lost the redis subscription" "$D/sp.log" || pr_fail "the lost subscription is not logged"
echo "ok: a value set while the subscription was down is in force after the reconnect"

pr_log "a restarted slowpath applies what pr:tunables holds"
$CTL tunable set sip.keepalive_s 45 >/dev/null
kill "$SP_PID"
wait "$SP_PID" 2>/dev/null
sp_start "$D"
pr_wait_for 3 bash -c "[ \"\$($CTL tunable get sip.keepalive_s 2>/dev/null)\" = 45 ]" ||
	pr_fail "keepalive_s 45 not in force after a restart"
out=$(sip 127.0.0.61 register alice "$SP_PW_alice" 600 outbound)
[ "$(jf flow_timer "$out")" = 45 ] || pr_fail "Flow-Timer after a restart: $out"
echo "ok: after a restart, the stored keepalive_s 45 is in force"
kill -0 "$SP_PID" || pr_fail "slowpath died"
echo "PASS"
