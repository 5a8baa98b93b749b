#!/usr/bin/env bash
# parallel: hugepages
# Idle media ends the call. Two baresip devices register over TLS (as media_call.sh); alice
# calls bob, media flows, then both devices freeze (SIGSTOP): no packet from either leg.
# After [sip] media_idle_s (5 s here; written into the session's idle_timeout_s) the
# dataplane reports the session on pr:sessions:events (op idle) and the slowpath ends the
# call: a BYE toward each leg (its log), the session gone, a CDR whose end_reason
# is media-timeout and which carries the media figures, the slowpath's calls_media_timeout
# counter. Before that, while media flows, nothing is reported idle.
# Topology (namespaces id-*, DPDK prefix mi-idle): as media_call.sh; alice 198.51.100.21, bob 198.51.100.22.
set -uo pipefail
source "$(dirname "$0")/../lib.sh"
source "$PR_ROOT/tests/integration/slowpath/common.sh"
source "$PR_ROOT/tests/integration/media/callenv.sh"
trap 'trap "" INT TERM; exit 130' INT TERM
ce_init id mi-idle
IDLE_S=5

ce_topology alice=198.51.100.21 bob=198.51.100.22
ce_dataplane
ce_slowpath "media_idle_s = $IDLE_S"
sp_user_add "$D" alice "$SP_PW_alice"
sp_user_add "$D" bob "$SP_PW_bob"
python3 "$MEDIA/tone.py" gen "$D/alice.wav" 440 60
python3 "$MEDIA/tone.py" gen "$D/bob.wav" 1000 60
acc() { # name password
	echo "<sip:$1@poprelay;transport=tls>;auth_pass=$2;outbound=\"sip:$SP_ADDR:5061;transport=tls\";audio_codecs=PCMU,PCMA;mediaenc=srtp-mand;answermode=auto;regint=600"
}
ce_baresip_conf alice "$(acc alice "$SP_PW_alice")" "sip_trans_def tls" "module srtp.so"
ce_baresip_conf bob "$(acc bob "$SP_PW_bob")" "sip_trans_def tls" "module srtp.so"
media_stat() { # field of /poprelay/media/stats
	$TEL $PREFIX /poprelay/media/stats | python3 -c "import json,sys; print(json.load(sys.stdin)['/poprelay/media/stats']['$1'])"
}

ce_baresip bob 60
BOB=$BS_PID
pr_wait_for 10 bash -c "[ \"\$(redis-cli -s '$D/redis.sock' HGET pr:reg:bob transport)\" = tls ]" ||
	ce_fail "bob did not register over TLS"
ce_baresip alice 60 -e "/dial sip:bob@poprelay"
ALICE=$BS_PID
pr_wait_for 10 bash -c "redis-cli -s '$D/redis.sock' SCARD pr:sessions | grep -qx 1" ||
	ce_fail "no media session installed (the call was not set up)"
sid=$(ce_session "$D/session.txt")
[ "$(ce_field "$D/session.txt" idle_timeout_s)" = $IDLE_S ] ||
	ce_fail "the session's idle_timeout_s is $(ce_field "$D/session.txt" idle_timeout_s), not [sip] media_idle_s $IDLE_S"
echo "ok: call set up: session $sid, idle_timeout_s $IDLE_S"
# media flows for longer than the idle time: nothing is reported
sleep $((IDLE_S + 2))
[ "$(R SCARD pr:sessions)" = 1 ] || ce_fail "the call ended while media flowed"
[ "$(media_stat idle_reported)" = 0 ] || ce_fail "a session with media was reported idle"
rx=$(R HGET "pr:session:$sid" a_rx_packets)
[ "${rx:-0}" -gt 100 ] || ce_fail "little media relayed before the freeze (a_rx_packets ${rx:-none})"
echo "ok: $((IDLE_S + 2)) s of media (a_rx_packets $rx): the call goes on, nothing reported idle"

# both devices freeze: no packet from either leg
kill -STOP $ALICE $BOB
pr_on_exit "kill -CONT $ALICE $BOB 2>/dev/null"
t0=$(date +%s)
pr_wait_for $((IDLE_S + 10)) bash -c "redis-cli -s '$D/redis.sock' SCARD pr:sessions | grep -qx 0" ||
	ce_fail "the session was not ended $((IDLE_S + 10)) s after the media stopped"
took=$(($(date +%s) - t0))
[ $took -ge $((IDLE_S - 1)) ] || ce_fail "the call ended $took s after the media stopped, before its idle time"
echo "ok: the call ended $took s after the media stopped (idle time $IDLE_S s)"
[ "$(media_stat idle_reported)" = 1 ] || ce_fail "the dataplane's idle_reported is $(media_stat idle_reported), not 1"
ev=$(R XRANGE pr:sessions:events - + | paste -sd' ')
[[ $ev == *"op idle id $sid cdr_id "* ]] || ce_fail "no idle event for $sid on pr:sessions:events: $ev"
echo "ok: the dataplane reported it on pr:sessions:events"
grep -q "call .*: no media for the idle timeout: ending it" "$D/sp.log" ||
	ce_fail "the slowpath did not log the media timeout"
echo "ok: the slowpath ended the call for its media"
# the devices wake up to the BYE waiting on their TLS connection
kill -CONT $ALICE $BOB 2>/dev/null
for n in alice bob; do
	pr_wait_for 5 grep -Eq "CSeq: [0-9]+ BYE" "$D/$n.log" ||
		ce_fail "$n's baresip saw no BYE"
	echo "ok: $n's device got the BYE (its trace: $(grep -Ec 'CSeq: [0-9]+ BYE' "$D/$n.log") BYE lines)"
done
ce_ended || ce_fail "the dataplane did not apply the session's end"
cdr=$(R ZRANGE pr:cdrs 0 -1)
R HGETALL "pr:cdr:$cdr" >"$D/cdr.txt"
[ "$(ce_field "$D/cdr.txt" end_reason)" = media-timeout ] ||
	ce_fail "CDR end_reason $(ce_field "$D/cdr.txt" end_reason), not media-timeout"
[ "$(ce_field "$D/cdr.txt" caller_rx_packets)" -gt 100 ] && [ "$(ce_field "$D/cdr.txt" callee_rx_packets)" -gt 100 ] ||
	ce_fail "the CDR lacks the media figures"
echo "ok: CDR $cdr: end_reason media-timeout, caller rx $(ce_field "$D/cdr.txt" caller_rx_packets), callee rx $(ce_field "$D/cdr.txt" callee_rx_packets)"
kill -USR1 "$SP_PID" 2>/dev/null
pr_wait_for 5 grep -q "calls_media_timeout=1" "$D/sp.log" || ce_fail "slowpath counter calls_media_timeout is not 1"
echo "ok: slowpath counters: calls_media_timeout=1"
kill -CONT $ALICE $BOB 2>/dev/null
kill $ALICE $BOB 2>/dev/null
echo "PASS"
