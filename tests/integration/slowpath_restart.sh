#!/usr/bin/env bash
# parallel: hugepages
# The slowpath killed mid-call (issue 16, "Slowpath killed"). Two SIP devices over TLS with
# RFC 5626 outbound (tests/integration/slowpath/restart.py, in one namespace with the
# addresses .21 and .22) call each other twice through the real slowpath and dataplane; call
# 1 carries SRTP media both ways (mpeer, libsrtp, the keys of the SDP each device sent and
# got). Then:
#   - the dialogs are in Redis (pr:dialog:<id>, pr:dialogs) with both legs and the devices;
#   - `kill -9` of the slowpath: media keeps flowing both ways through the dataplane (150
#     SRTP packets each way, all decrypted intact by the other device, while it is dead);
#   - call 2's session is removed meanwhile (as pr_ks_session_end does), so that the
#     restarted slowpath must end that dialog on restore: CDR restore-no-media, record gone;
#   - the slowpath restarts: it logs the restored dialog and counts it (calls_restored);
#     the devices open new TLS flows and register again; alice's BYE on her new flow reaches
#     bob on his new flow (his current binding), the session ends in the dataplane
#     (/poprelay/media/stats sessions 0), the dialog record is gone, and exactly one CDR
#     exists for call 1: bye-caller, alice -> bob, answered, with a duration covering the
#     restart; a BYE for call 2 gets 481.
# Topology (prefix sr-): as media_call.sh. Exit 0 pass, 77 skip, 1 fail.
set -uo pipefail
source "$(dirname "$0")/../lib.sh"
source "$PR_ROOT/tests/integration/slowpath/common.sh"
source "$PR_ROOT/tests/integration/media/callenv.sh"
trap 'trap "" INT TERM; exit 130' INT TERM
ce_init sr sr-restart
MPEER=$BUILD/tests/integration/media/mpeer
[ -x "$MPEER" ] || pr_fail "$MPEER not built (tests/integration/media/mpeer.mk)"
IPA=198.51.100.21
IPB=198.51.100.22

ce_topology dev=$IPA
ip -n sr-dev addr add $IPB/24 dev sr-dev || pr_fail "second device address"
ce_dataplane
ce_slowpath
sp_user_add "$D" alice "$SP_PW_alice"
sp_user_add "$D" bob "$SP_PW_bob"
media_stat() { # field of /poprelay/media/stats
	$TEL $PREFIX /poprelay/media/stats | python3 -c "import json,sys; print(json.load(sys.stdin)['/poprelay/media/stats']['$1'])"
}
jf() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }

# --- the devices and the two calls ----------------------------------------------------------
coproc DRV { ip netns exec sr-dev python3 "$SP_DIR/restart.py" "$D/ca.crt" "$SP_ADDR" $IPA $IPB 2>"$D/drv.err"; }
DRV_PID=$DRV_PID
pr_on_exit "kill $DRV_PID 2>/dev/null"
exec {DRV_IN}>&"${DRV[1]}" {DRV_OUT}<&"${DRV[0]}"
drv() { # PREFIX: the driver's lines until one starting with PREFIX (echoed: its rest)
	local line
	while IFS= read -r -t 30 line <&$DRV_OUT; do
		case $line in
		"$1"*) echo "${line#"$1"}"; return 0 ;;
		FAIL:*) echo "$line" >&2; cat "$D/drv.err" >&2; ce_fail "device driver: $line" ;;
		*) echo "$line" >&2 ;;
		esac
	done
	cat "$D/drv.err" >&2
	ce_fail "device driver: no '$1' line"
}
C1=$(drv "CALL1 ")
C2=$(drv "CALL2 ")
A1=$(jf "$C1" a_call_id)
sid_of() { # A-leg Call-ID -> the session id
	local s
	for s in $(R SMEMBERS pr:sessions); do
		[ "$(R HGET "pr:session:$s" call_id)" = "$1" ] && { echo "$s"; return 0; }
	done
	return 1
}
pr_wait_for 5 sid_of "$A1" || ce_fail "call 1 (Call-ID $A1) has no media session; sessions: $(R SMEMBERS pr:sessions | paste -sd" "); driver: $C1"
S1=$(sid_of "$A1")
S2=$(sid_of "$(jf "$C2" a_call_id)") || ce_fail "call 2 has no media session"
ID1=$(R HGET "pr:session:$S1" cdr_id)
ID2=$(R HGET "pr:session:$S2" cdr_id)
echo "ok: two calls up: $ID1 (session $S1, relay a $(jf "$C1" relay_a) b $(jf "$C1" relay_b)) and $ID2 (session $S2)"

# the dialog records: both legs, the devices' AoRs and instance, the CDR's fields
R HGETALL "pr:dialog:$ID1" >"$D/dialog1.txt"
python3 - "$D/dialog1.txt" "$A1" "$(jf "$C1" b_call_id)" <<'PY' || ce_fail "call 1's dialog record"
import sys
l = open(sys.argv[1]).read().splitlines()
d = dict(zip(l[0::2], l[1::2]))
want = {"a_call_id": sys.argv[2], "b_call_id": sys.argv[3], "a_user": "alice", "b_user": "bob",
        "a_transport": "tls", "b_transport": "tls", "direction": "onnet", "status": "200",
        "b_instance": "<urn:uuid:00000000-0000-4000-8000-000000000b0b>", "b_reg_id": "1",
        "n_media": "1", "media_used": "1"}
bad = {k: (d.get(k), v) for k, v in want.items() if d.get(k) != v}
bad.update({k: d.get(k) for k in ("a_local_tag", "a_remote_tag", "b_local_tag", "b_remote_tag",
                                  "a_remote_target", "b_remote_target", "start", "answer")
            if not d.get(k) or d.get(k) == "0"})
if any(k.endswith("key_rx") or k.endswith("key_tx") for k in d):
    bad["keys"] = "an SDES key in the dialog record"
print(("ok: " if not bad else "FAIL: ") + "pr:dialog:%s: both legs (Call-ID, tags, targets), alice -> bob, bob's instance and reg-id, answered, no key" % d.get("id")
      + (" -- %s" % bad if bad else ""))
sys.exit(1 if bad else 0)
PY
[ "$(R ZCARD pr:dialogs)" = 2 ] || ce_fail "pr:dialogs holds $(R ZCARD pr:dialogs) dialogs, not 2"

# media: each device sends with its own key and decrypts with the one the slowpath gave it;
# both bind, then wait 400 ms before the first packet, so that neither sends to a port the
# other has not bound yet (its kernel answered port unreachable: in CI up to 6 of 50 lost)
media() { # PHASE ROUNDS FIRST_SEQ: both devices at once, 50 rounds/s; their JSON in $D/PHASE-{a,b}.json
	local p=$1 n=$2 seq=$3 sa sb
	ip netns exec sr-dev "$MPEER" --bind $IPA:41000 --to $DP_IP:"$(jf "$C1" relay_a)" \
		--suite "$(jf "$C1" suite)" --tx-key "$(jf "$C1" ka_tx)" --rx-key "$(jf "$C1" ka_rx)" \
		--id A --expect-id B --ssrc 0xa0000001 --seq "$seq" --count "$n" --rate 50 \
		--start-delay-ms 400 --expect "$n" --linger-ms 1500 --quiet >"$D/$p-a.json" 2>"$D/$p-a.err" &
	sa=$!
	ip netns exec sr-dev "$MPEER" --bind $IPB:41002 --to $DP_IP:"$(jf "$C1" relay_b)" \
		--suite "$(jf "$C1" suite)" --tx-key "$(jf "$C1" kb_tx)" --rx-key "$(jf "$C1" kb_rx)" \
		--id B --expect-id A --ssrc 0xb0000001 --seq "$seq" --count "$n" --rate 50 \
		--start-delay-ms 400 --expect "$n" --linger-ms 1500 --quiet >"$D/$p-b.json" 2>"$D/$p-b.err" &
	sb=$!
	wait $sa || { cat "$D/$p-a.err" >&2; ce_fail "mpeer alice ($p) failed"; }
	wait $sb || { cat "$D/$p-b.err" >&2; ce_fail "mpeer bob ($p) failed"; }
	python3 - "$p" "$n" "$D/$p-a.json" "$D/$p-b.json" <<'PY'
import json, sys
p, n, fa, fb = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
a, b = json.load(open(fa)), json.load(open(fb))
# at least 90%: the first packets of a new stream may be dropped while the dataplane sets it
# up (media_ssrc_starting), and the virtual ports lose a few under load
ok = all(x["sent"] == n and x["rtp_ok"] >= n * 0.9 and x["payload_ok"] == x["rtp_ok"] and
         x["auth_fail"] == 0 and x["plain_on_wire"] == 0 for x in (a, b))
print(("ok: " if ok else "FAIL: ") + "%s: SRTP both ways through the relay: alice sent %d, got %d "
      "intact from bob; bob sent %d, got %d intact from alice (auth_fail %d/%d)" %
      (p, a["sent"], a["rtp_ok"], b["sent"], b["rtp_ok"], a["auth_fail"], b["auth_fail"]))
sys.exit(0 if ok else 1)
PY
}
media before 100 1000 || ce_fail "media before the kill"

# --- kill -9 ---------------------------------------------------------------------------------
T_KILL=$(date +%s)
kill -9 "$SP_PID"
wait "$SP_PID" 2>/dev/null
kill -0 "$SP_PID" 2>/dev/null && ce_fail "the slowpath survived kill -9"
echo "ok: slowpath killed (kill -9)"
media dead 150 3000 || ce_fail "media while the slowpath is dead"
[ "$(media_stat sessions)" = 2 ] || ce_fail "the dataplane holds $(media_stat sessions) sessions, not 2"
# call 2's session goes while nobody holds its dialog (as pr_ks_session_end does it)
printf 'MULTI\nDEL pr:session:%s\nSREM pr:sessions %s\nXADD pr:sessions:stream MAXLEN ~ 100000 * op end id %s ts %s\nEXEC\n' \
	"$S2" "$S2" "$S2" "$(date +%s)" | R >/dev/null
pr_wait_for 5 bash -c "[ \"\$($TEL $PREFIX /poprelay/media/stats | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"/poprelay/media/stats\"][\"sessions\"])')\" = 1 ]" ||
	ce_fail "the dataplane did not drop call 2's session"
echo "ok: call 2's session removed (the dataplane holds 1 session)"
sleep 1

# --- restart ---------------------------------------------------------------------------------
mv "$D/sp.log" "$D/sp-killed.log"
sp_start "$D"
T_START=$(date +%s)
grep -q "restore: 1 dialogs restored from Redis, 1 ended" "$D/sp.log" ||
	{ grep restore "$D/sp.log" >&2; ce_fail "the restarted slowpath did not log 1 restored, 1 ended"; }
echo "ok: restarted: $(grep -o 'restore: 1 dialogs.*' "$D/sp.log")"
pr_wait_for 3 bash -c "[ \"\$(redis-cli -s '$D/redis.sock' HGET pr:stats:slowpath:pop1:$(hostname) calls_restored)\" = 1 ]" ||
	ce_fail "calls_restored is $(R HGET pr:stats:slowpath:pop1:$(hostname) calls_restored), not 1"
[ "$(R HGET pr:stats:slowpath:pop1:$(hostname) calls_restore_ended)" = 1 ] || ce_fail "calls_restore_ended is not 1"
[ "$(R EXISTS "pr:dialog:$ID2")" = 0 ] && [ "$(R ZSCORE pr:dialogs "$ID2")" = "" ] ||
	ce_fail "call 2's dialog record is still there"
[ "$(R HGET "pr:cdr:$ID2" end_reason)" = restore-no-media ] ||
	ce_fail "call 2's CDR: end_reason '$(R HGET "pr:cdr:$ID2" end_reason)', not restore-no-media"
echo "ok: call 2 (session gone) ended on restore: CDR restore-no-media, record deleted, calls_restored 1, calls_restore_ended 1"
media restarted 50 6000 || ce_fail "media after the restart"

# --- the devices come back on new flows; alice hangs up ---------------------------------------
conn0=$(R HGET pr:reg:bob conn_id)
echo reconnect >&$DRV_IN
drv "ok: alice and bob registered again" >/dev/null
[ "$(R HGET pr:reg:bob conn_id)" != "$conn0" ] || ce_fail "bob's binding still names his old flow"
sleep 2
T_BYE=$(date +%s)
echo bye >&$DRV_IN
B=$(drv "BYE ")
echo "ok: alice's BYE on her new flow: bob got it on his ($(jf "$B" bye_call_id), CSeq $(jf "$B" bye_cseq)), alice got $(jf "$B" alice_got) in $(jf "$B" ms) ms"
[ "$(jf "$B" bye_call_id)" = "$(jf "$C1" b_call_id)" ] || ce_fail "bob's BYE is not in his leg's dialog"
[ "$(jf "$B" alice_got)" = 200 ] || ce_fail "alice's BYE got $(jf "$B" alice_got)"
[ "$(jf "$B" call2_bye)" = 481 ] || ce_fail "a BYE for call 2 (ended on restore) got $(jf "$B" call2_bye), not 481"
echo "ok: a BYE for call 2 gets 481"
pr_wait_for 5 bash -c "[ \"\$(redis-cli -s '$D/redis.sock' SCARD pr:sessions)\" = 0 ]" || ce_fail "call 1's session did not end"
ce_ended || ce_fail "the dataplane did not apply the session's end"
pr_wait_for 5 bash -c "[ \"\$($TEL $PREFIX /poprelay/media/stats | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"/poprelay/media/stats\"][\"sessions\"])')\" = 0 ]" ||
	ce_fail "the dataplane still holds $(media_stat sessions) sessions"
echo "ok: the session is gone: /poprelay/media/stats sessions 0"
[ "$(R EXISTS "pr:dialog:$ID1")" = 0 ] && [ "$(R ZCARD pr:dialogs)" = 0 ] ||
	ce_fail "the dialog record outlived the call"
echo "ok: pr:dialog:$ID1 and pr:dialogs are gone"

# exactly one complete CDR for call 1
for c in $(R ZRANGE pr:cdrs 0 -1); do
	[ "$(R HGET "pr:cdr:$c" call_id)" = "$A1" ] && echo "$c"
done >"$D/cdrs1.txt"
[ "$(wc -l <"$D/cdrs1.txt")" = 1 ] || ce_fail "$(wc -l <"$D/cdrs1.txt") CDRs for call 1, not 1"
R HGETALL "pr:cdr:$ID1" >"$D/cdr1.txt"
python3 - "$D/cdr1.txt" "$T_KILL" "$T_START" "$T_BYE" <<'PY' || ce_fail "call 1's CDR"
import sys
l = open(sys.argv[1]).read().splitlines()
c = dict(zip(l[0::2], l[1::2]))
t_kill, t_start, t_bye = map(int, sys.argv[2:5])
i = lambda k: int(c.get(k) or 0)
bad = [k for k, ok in (
    ("end_reason", c.get("end_reason") == "bye-caller"),
    ("caller_user", c.get("caller_user") == "alice"),
    ("callee_user", c.get("callee_user") == "bob"),
    ("sip_status", c.get("sip_status") == "200"),
    ("direction", c.get("direction") == "onnet"),
    ("start/answer", 0 < i("start") <= i("answer") < t_kill),
    ("end", t_bye <= i("end") <= t_bye + 5),
    ("duration_s", i("duration_s") == i("end") - i("answer") and i("duration_s") >= t_bye - t_kill),
    ("caller_encrypted", c.get("caller_encrypted") == "1" and c.get("callee_encrypted") == "1"),
    ("media figures", i("caller_rx_packets") >= 270 and i("callee_rx_packets") >= 270),
) if not ok]
print(("ok: " if not bad else "FAIL: ") +
      "CDR %s: %s, %s -> %s, status %s, answered %s, ended %s, duration %s s (kill at %d, restart at %d, "
      "BYE at %d), encrypted %s/%s, relay rx %s/%s" % (
          c.get("id"), c.get("end_reason"), c.get("caller_user"), c.get("callee_user"),
          c.get("sip_status"), c.get("answer"), c.get("end"), c.get("duration_s"), t_kill, t_start,
          t_bye, c.get("caller_encrypted"), c.get("callee_encrypted"), c.get("caller_rx_packets"),
          c.get("callee_rx_packets")) + (" -- wrong: %s" % ", ".join(bad) if bad else ""))
sys.exit(1 if bad else 0)
PY
kill -0 "$SP_PID" 2>/dev/null || ce_fail "the restarted slowpath died"
kill -0 "$DP_PID" 2>/dev/null || ce_fail "the dataplane died"
echo "PASS"
