#!/usr/bin/env bash
# parallel: hugepages slow
# Maintenance drain (poprelayctl drain / undrain / drain --status) against the real
# processes: two baresip devices (alice calls bob over TLS, SRTP anchored on the dataplane),
# a TURN allocation held and refreshed by carol (drain_turn.py), scripted REGISTER and
# INVITE (drain_sip.py).
#  1. A short deadline (5 s), no [turn] alternate_server: a new Allocate gets 486, a
#     REGISTER and an INVITE 503 with Retry-After (the peer PoP named in a Warning); at the
#     deadline the call ends (BYE to both devices, CDR end_reason drain) and the held
#     allocation is deleted (its next Refresh: 437).
#  2. The dataplane restarted with [turn] alternate_server; drain --deadline 60 during a
#     call: the media keeps flowing, the held allocation keeps refreshing, a new Allocate
#     gets 300 Try Alternate with that ALTERNATE-SERVER, --status shows what remains, the
#     telemetry says draining; alice hangs up: CDR end_reason bye-caller. undrain: a new
#     Allocate and a new call succeed.
#  3. SIGTERM to the slowpath during that call: REGISTERs get 503, the call goes on, and the
#     slowpath exits once alice hangs up.
# Topology (prefix dr-): as media_call.sh; alice .21, bob .22, carol .23 (TURN, scripts).
set -uo pipefail
source "$(dirname "$0")/../lib.sh"
source "$PR_ROOT/tests/integration/slowpath/common.sh"
source "$PR_ROOT/tests/integration/media/callenv.sh"
trap 'trap "" INT TERM; exit 130' INT TERM
ce_init dr dr-drain
ALT=198.51.100.77:3479
PEER_POP=198.51.100.3:5061

ce_topology alice=198.51.100.21 bob=198.51.100.22 carol=198.51.100.23
ce_dataplane
ce_slowpath "peer_pops = pop2=$PEER_POP" "stop_drain_s = 30"
for u in alice bob carol; do
	eval "sp_user_add \"\$D\" $u \"\$SP_PW_$u\""
done
python3 "$MEDIA/tone.py" gen "$D/alice.wav" 440 60
python3 "$MEDIA/tone.py" gen "$D/bob.wav" 1000 60
acc() { # name password
	echo "<sip:$1@poprelay;transport=tls>;auth_pass=$2;outbound=\"sip:$SP_ADDR:5061;transport=tls\";audio_codecs=PCMU,PCMA;mediaenc=srtp-mand;answermode=auto;regint=600"
}
ce_baresip_conf alice "$(acc alice "$SP_PW_alice")" "sip_trans_def tls" "module srtp.so"
ce_baresip_conf bob "$(acc bob "$SP_PW_bob")" "sip_trans_def tls" "module srtp.so"

CTL() { "$BUILD/poprelayctl" -c "$D/sp.conf" -s "$D/redis.sock" "$@"; }
J() { # key: of the JSON line on stdin
	python3 -c "import json,sys; v=json.loads(sys.stdin.readline()).get('$1'); print('' if v is None else v)"
}
turn_alloc() { ip netns exec dr-carol python3 "$PR_ROOT/tests/integration/drain_turn.py" alloc --server $DP_IP:3478 --user carol --password "$SP_PW_carol"; }
turn_hold() { # log file
	ip netns exec dr-carol python3 "$PR_ROOT/tests/integration/drain_turn.py" hold --server $DP_IP:3478 \
		--user carol --password "$SP_PW_carol" --peer $DP_IP:31000 --every 1 >"$1" 2>&1 &
	HOLD=$!
	pr_on_exit "kill $HOLD 2>/dev/null"
	pr_wait_for 10 grep -q '"refresh": true' "$1" || ce_fail "carol's TURN allocation failed: $(cat "$1")"
}
sip() { # register|invite: from carol's namespace
	ip netns exec dr-carol python3 "$PR_ROOT/tests/integration/drain_sip.py" "$1" --server $SP_ADDR \
		--ca "$D/ca.crt" --src $IP_carol --user carol --password "$SP_PW_carol" --to bob
}
turn_stat() {
	$TEL $PREFIX /poprelay/turn/stats | python3 -c "import json,sys; print(json.load(sys.stdin)['/poprelay/turn/stats']['$1'])"
}
call_up() { # alice dials bob, quits (hangs up) after $1 s; sets ALICE and SID
	ce_baresip alice "$1" -e "/dial sip:bob@poprelay"
	ALICE=$BS_PID
	pr_wait_for 10 bash -c "redis-cli -s '$D/redis.sock' SCARD pr:sessions | grep -qx 1" ||
		ce_fail "no media session installed (the call was not set up)"
	SID=$(R SMEMBERS pr:sessions)
}
refused_503() { # what: register|invite, and the Retry-After it must at least have
	local out st ra
	out=$(sip "$1")
	st=$(echo "$out" | J status)
	ra=$(echo "$out" | J retry_after)
	[ "$st" = 503 ] || ce_fail "a drained slowpath answered $1 with ${st:-nothing}, not 503: $out"
	[ -n "$ra" ] && [ "$ra" -ge "$2" ] || ce_fail "$1's 503 has Retry-After '${ra}', expected at least $2"
	echo "$out" | J warning | grep -q "$PEER_POP" || ce_fail "$1's 503 does not name the peer PoP $PEER_POP: $out"
	echo "ok: $1 answered 503, Retry-After $ra, Warning naming $PEER_POP"
}

ce_baresip bob 200
BOB=$BS_PID
pr_wait_for 10 bash -c "[ \"\$(redis-cli -s '$D/redis.sock' HGET pr:reg:bob transport)\" = tls ]" ||
	ce_fail "bob did not register over TLS"
[ "$(CTL drain --status)" = "not draining" ] || ce_fail "drain --status before any drain: $(CTL drain --status)"

# --- 1. short deadline ------------------------------------------------------------------------
echo "--- 1. drain --deadline 5 during a call and a TURN allocation"
turn_hold "$D/hold1.log"
call_up 60
echo "ok: call up (session $SID), carol holds a TURN allocation"
CTL drain --deadline 5 | grep -q "draining: deadline 5 s" || ce_fail "drain --deadline 5 did not say so"
t0=$(date +%s)
# what is left, read first: the 5 s deadline must not have passed (in a CI run the checks
# below took longer than that, and the call had ended when they were read)
CTL drain --status >"$D/status1.txt"
grep -q "remaining: 1 calls, .* 1 TURN allocations, 1 media sessions" "$D/status1.txt" ||
	ce_fail "drain --status: $(cat "$D/status1.txt")"
echo "ok: drain --status: $(grep remaining "$D/status1.txt")"
# the one view says so too (whatever else it finds down from here)
CTL status >"$D/status-view.txt" 2>&1
grep -q "^draining since .*: left 1 calls, .* 1 TURN allocations, 1 media sessions" "$D/status-view.txt" ||
	ce_fail "poprelayctl status does not show the drain: $(cat "$D/status-view.txt")"
echo "ok: poprelayctl status shows the drain and what is left"
pr_wait_for 3 bash -c "[ \"\$($TEL $PREFIX /poprelay/turn/stats | python3 -c \"import json,sys; print(json.load(sys.stdin)['/poprelay/turn/stats']['draining'])\")\" = 1 ]" ||
	ce_fail "the dataplane's telemetry does not say draining"
sleep 1 # TURN applies the drain on its next second
out=$(turn_alloc)
[ "$(echo "$out" | J code)" = 486 ] || ce_fail "a new Allocate while drained (no alternate_server): $out, not 486"
echo "ok: new Allocate answered 486 (no [turn] alternate_server)"
refused_503 register 60
refused_503 invite 60
pr_wait_for 10 bash -c "redis-cli -s '$D/redis.sock' SCARD pr:sessions | grep -qx 0" ||
	ce_fail "the call did not end at the drain's deadline"
took=$(($(date +%s) - t0))
[ $took -ge 4 ] || ce_fail "the call ended $took s after drain --deadline 5"
ce_ended || ce_fail "the dataplane did not apply the session's end"
cdr=$(R ZREVRANGE pr:cdrs 0 0)
[ "$(R HGET "pr:cdr:$cdr" end_reason)" = drain ] || ce_fail "CDR $cdr end_reason $(R HGET "pr:cdr:$cdr" end_reason), not drain"
echo "ok: the call ended $took s after the drain, CDR $cdr end_reason drain"
for n in alice bob; do
	pr_wait_for 5 grep -Eq "CSeq: [0-9]+ BYE" "$D/$n.log" || ce_fail "$n's baresip saw no BYE"
done
echo "ok: both devices got a BYE"
pr_wait_for 5 grep -q '"refresh": false' "$D/hold1.log" || ce_fail "carol's allocation still refreshes after the deadline"
grep -q '"code": 437' "$D/hold1.log" || ce_fail "carol's Refresh after the deadline: $(tail -1 "$D/hold1.log"), not 437"
[ "$(grep -c '"refresh": true' "$D/hold1.log")" -ge 3 ] || ce_fail "carol's allocation did not refresh while drained: $(cat "$D/hold1.log")"
[ "$(R ZCARD pr:turn:allocs)" = 0 ] || ce_fail "pr:turn:allocs still holds $(R ZCARD pr:turn:allocs) allocations"
grep -q "turn: drain deadline passed: 1 allocations deleted" "$D/dp.log" || ce_fail "the dataplane did not log the deletion"
echo "ok: carol's allocation deleted at the deadline (her Refresh: 437)"
grep -q "drain: deadline passed: 1 calls ended" "$D/sp.log" || ce_fail "the slowpath did not log the calls it ended"
CTL undrain | grep -q undrained || ce_fail "undrain"
kill $ALICE 2>/dev/null
wait $ALICE 2>/dev/null

# --- 2. the dataplane with alternate_server; a long deadline --------------------------------------
echo "--- 2. [turn] alternate_server = $ALT, drain --deadline 60"
kill $DP_PID
for _ in $(seq 50); do kill -0 $DP_PID 2>/dev/null || break; sleep 0.1; done
printf '\n[turn]\nalternate_server = %s\n' $ALT >>"$D/dp.conf"
ip netns exec dr-pop "$DP" -c "$D/dp.conf" >"$D/dp2.out" 2>"$D/dp.log" &
DP_PID=$!
pr_on_exit "kill $DP_PID 2>/dev/null; for _w in \$(seq 50); do kill -0 $DP_PID 2>/dev/null || break; sleep 0.1; done; kill -9 $DP_PID 2>/dev/null"
pr_wait_for 30 $TEL $PREFIX /poprelay/info || ce_fail "the dataplane did not come back"
[ "$(turn_stat draining)" = 0 ] || ce_fail "the restarted dataplane says draining"
turn_hold "$D/hold2.log"
call_up 16
sleep 2
rx1=$(R HGET "pr:session:$SID" a_rx_packets)
CTL drain --deadline 60 >/dev/null || ce_fail "drain --deadline 60"
sleep 1.5
out=$(turn_alloc)
[ "$(echo "$out" | J code)" = 300 ] && [ "$(echo "$out" | J alternate)" = $ALT ] ||
	ce_fail "a new Allocate while drained: $out, not 300 with ALTERNATE-SERVER $ALT"
[ "$(echo "$out" | J integrity)" = True ] || ce_fail "the 300 is not authenticated (no MESSAGE-INTEGRITY)"
echo "ok: new Allocate answered 300 Try Alternate, ALTERNATE-SERVER $ALT, authenticated"
refused_503 register 55
refused_503 invite 55
[ "$(turn_stat draining)" = 1 ] || ce_fail "/poprelay/turn/stats draining is not 1"
CTL drain --status >"$D/status2.txt"
grep -q "^draining since .* by ctl:" "$D/status2.txt" && grep -q "^deadline: .*(in [0-9]* s)" "$D/status2.txt" &&
	grep -q "remaining: 1 calls, [0-9]* registrations, 1 TURN allocations, 1 media sessions" "$D/status2.txt" ||
	ce_fail "drain --status: $(cat "$D/status2.txt")"
CTL --json drain --status | python3 -c "import json,sys; d=json.load(sys.stdin); assert d['draining'] and d['calls']==1 and d['turn_allocations']==1 and d['deadline_ms']>d['since_ms'], d" ||
	ce_fail "drain --status --json"
echo "ok: drain --status: $(paste -sd'|' "$D/status2.txt")"
refreshes=$(grep -c '"refresh": true' "$D/hold2.log")
sleep 3
rx2=$(R HGET "pr:session:$SID" a_rx_packets)
[ "${rx2:-0}" -gt "$((${rx1:-0} + 50))" ] || ce_fail "media stopped while drained (a_rx_packets $rx1 -> $rx2)"
[ "$(grep -c '"refresh": true' "$D/hold2.log")" -gt "$refreshes" ] || ce_fail "carol's allocation no longer refreshes while drained"
echo "ok: while drained the call's media flows (a_rx_packets $rx1 -> $rx2) and carol's allocation refreshes"
wait $ALICE
pr_wait_for 5 bash -c "redis-cli -s '$D/redis.sock' SCARD pr:sessions | grep -qx 0" || ce_fail "the session did not end after alice hung up"
cdr=$(R ZREVRANGE pr:cdrs 0 0)
[ "$(R HGET "pr:cdr:$cdr" end_reason)" = bye-caller ] && [ "$(R HGET "pr:cdr:$cdr" answer)" -gt 0 ] ||
	ce_fail "CDR $cdr end_reason $(R HGET "pr:cdr:$cdr" end_reason), not bye-caller"
echo "ok: alice hung up: CDR $cdr end_reason bye-caller, $(R HGET "pr:cdr:$cdr" duration_s) s"
CTL undrain | grep -q undrained || ce_fail "undrain"
pr_wait_for 3 bash -c "[ \"\$($TEL $PREFIX /poprelay/turn/stats | python3 -c \"import json,sys; print(json.load(sys.stdin)['/poprelay/turn/stats']['draining'])\")\" = 0 ]" ||
	ce_fail "the dataplane still says draining after undrain"
sleep 1
out=$(turn_alloc)
[ "$(echo "$out" | J code)" = 0 ] || ce_fail "a new Allocate after undrain: $out"
echo "ok: undrain: a new Allocate succeeds"
[ "$(CTL drain --status)" = "not draining" ] || ce_fail "drain --status after undrain: $(CTL drain --status)"
CTL audit --count 20 >"$D/audit.txt"
grep -q "drain.on" "$D/audit.txt" && grep -q "drain.off" "$D/audit.txt" || ce_fail "no drain.on/drain.off in the audit trail"
grep -q "drain: on (by ctl:" "$D/sp.log" && grep -q "drain: off" "$D/sp.log" || ce_fail "the slowpath's log lacks the drain"

# --- 3. a new call; SIGTERM to the slowpath waits for it ----------------------------------------
echo "--- 3. undrained: a new call; SIGTERM to the slowpath during it"
call_up 9
echo "ok: a new call after undrain (session $SID)"
kill -TERM $SP_PID
sleep 1
kill -0 $SP_PID 2>/dev/null || ce_fail "the slowpath exited on SIGTERM with a call in progress"
out=$(sip register)
[ "$(echo "$out" | J status)" = 503 ] || ce_fail "a REGISTER to a stopping slowpath: $out, not 503"
echo "$out" | J warning | grep -q stopping || ce_fail "the stopping 503's Warning: $out"
echo "ok: stopping: a REGISTER is answered 503, the call goes on"
wait $ALICE
for _ in $(seq 50); do kill -0 $SP_PID 2>/dev/null || break; sleep 0.1; done
kill -0 $SP_PID 2>/dev/null && ce_fail "the slowpath did not exit once the call ended"
grep -q "stop: no call in progress: exiting" "$D/sp.log" || ce_fail "the slowpath's log lacks the stop"
cdr=$(R ZREVRANGE pr:cdrs 0 0)
[ "$(R HGET "pr:cdr:$cdr" end_reason)" = bye-caller ] || ce_fail "CDR $cdr end_reason $(R HGET "pr:cdr:$cdr" end_reason), not bye-caller"
echo "ok: the slowpath exited after the call ended (CDR $cdr bye-caller)"
kill $BOB $HOLD 2>/dev/null
echo "PASS"
