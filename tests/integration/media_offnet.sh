#!/usr/bin/env bash
# parallel: hugepages
# Off-net: an off-net party in clear RTP over UDP SIP, an on-net device in SRTP over TLS, the
# media anchored on the dataplane, which decrypts one leg and sends the other in clear (and
# back). Two calls, one each way:
#   1. offnet-in:  carol (off-net, baresip, plain UDP SIP to the slowpath's `listen` port, no
#                  media encryption, 600 Hz) calls bob (on-net, TLS, mediaenc=srtp-mand,
#                  1000 Hz, auto-answer); carol hangs up after about 7 s;
#   2. offnet-out: bob dials +15550100, which `offnet_routes` sends over UDP to carol's
#                  baresip (auto-answer); bob hangs up after about 7 s.
# Checks, per call:
#   - each side decoded the other side's tone (tone.py on baresip's sndfile dumps);
#   - the off-net leg's wire is clear G.711 RTP that decodes to the right tone each way
#     (media/clear_wire.py), the on-net leg's wire is SRTP/SRTCP only (srtp_wire.py);
#   - the session record (Redis) and the dataplane's view of it (/poprelay/media/session)
#     have the off-net leg clear (RTP/AVP, no suite, no keys) and the on-net leg SRTP;
#   - the CDR: direction, per-leg encryption, rx/tx packets non-zero on both legs and not
#     above what the wire saw;
#   - no media drop (auth, replay, wrong source, ...) in /poprelay/drops, the session stream
#     consumed.
# Topology (namespaces, prefix mo-): as media_call.sh; bob 198.51.100.22, carol 198.51.100.31
# (carol's link has no route to anything but the segment: the slowpath at .2, the relay at .10).
# MO_KEEP=DIR keeps this run's files (captures, dumps, logs, and the keys in the records).
# Exit 0 pass, 77 skip, 1 fail.
set -uo pipefail
source "$(dirname "$0")/../lib.sh"
source "$PR_ROOT/tests/integration/slowpath/common.sh"
source "$PR_ROOT/tests/integration/media/callenv.sh"
trap 'trap "" INT TERM; exit 130' INT TERM
ce_init mo mo-offnet
[ -n "${MO_KEEP:-}" ] && pr_on_exit "mkdir -p '$MO_KEEP' && cp -a '$D/.' '$MO_KEEP/'"
BOB_HZ=1000
CAROL_HZ=600
CALL_S=8
GW_NUM=+15550100

ce_topology bob=198.51.100.22 carol=198.51.100.31
ce_dataplane
ce_slowpath "offnet_routes = +=$IP_carol:5070"
sp_user_add "$D" bob "$SP_PW_bob"

python3 "$MEDIA/tone.py" gen "$D/bob.wav" $BOB_HZ 20
python3 "$MEDIA/tone.py" gen "$D/carol.wav" $CAROL_HZ 20
ce_baresip_conf bob \
	"<sip:bob@poprelay;transport=tls>;auth_pass=$SP_PW_bob;outbound=\"sip:$SP_ADDR:5061;transport=tls\";audio_codecs=PCMU,PCMA;mediaenc=srtp-mand;answermode=auto;regint=600" \
	"sip_trans_def tls" "module srtp.so"
# carol: a carrier's gateway, no registration, no media encryption (the srtp module is not
# even loaded), SIP over UDP to the slowpath's plain listener; the user part is the number
# the off-net route dials, so that her baresip takes the INVITEs we send her
ce_baresip_conf carol \
	"<sip:$GW_NUM@carrier.example;transport=udp>;outbound=\"sip:$SP_ADDR:5060;transport=udp\";audio_codecs=PCMU,PCMA;answermode=auto;regint=0" \
	"sip_trans_def udp"

FAILS=()
check() { # NAME CMD...: run CMD, which prints its own ok:/FAIL: lines
	local name=$1
	shift
	"$@" || FAILS+=("$name")
}

# call N DIRECTION: one call, its captures, session, telemetry and CDR under $D/callN
call() {
	local n=$1 dir=$2 c=$D/call$1 caller callee
	mkdir -p "$c"
	ce_capture_start bob bob$n
	ce_capture_start carol carol$n
	if [ "$dir" = offnet-in ]; then
		caller=carol callee=bob
		ce_baresip bob 40
		ANSWERER=$BS_PID
		pr_wait_for 10 bash -c "[ \"\$(redis-cli -s '$D/redis.sock' HGET pr:reg:bob transport)\" = tls ]" ||
			ce_fail "bob did not register over TLS"
		echo "ok: bob registered over TLS from $(R HGET pr:reg:bob src_addr)"
		ce_baresip carol $CALL_S -e "/dial sip:bob@poprelay"
	else
		caller=bob callee=carol
		ce_baresip carol 40
		ANSWERER=$BS_PID
		sleep 0.5
		ce_baresip bob $CALL_S -e "/dial sip:$GW_NUM@poprelay"
	fi
	local dialer=$BS_PID
	pr_wait_for 10 bash -c "redis-cli -s '$D/redis.sock' SCARD pr:sessions | grep -qx 1" ||
		ce_fail "call $n ($dir): no media session installed (the call was not set up)"
	local sid
	sid=$(ce_session "$c/session.txt")
	echo "$sid" >"$c/sid"
	sleep 3
	$TEL $PREFIX "/poprelay/media/session,$sid" >"$c/tel-session.json" 2>&1
	$TEL $PREFIX /poprelay/media/stats /poprelay/drops >"$c/tel-mid.json" 2>&1
	wait $dialer
	pr_wait_for 8 bash -c "redis-cli -s '$D/redis.sock' SCARD pr:sessions | grep -qx 0" ||
		ce_fail "call $n ($dir): the session did not end"
	ce_ended || ce_fail "call $n ($dir): the dataplane did not apply the session's end"
	CDR=$(R ZREVRANGE pr:cdrs 0 0)
	R HGETALL "pr:cdr:$CDR" >"$c/cdr.txt"
	[ "$(ce_field "$c/cdr.txt" end_reason)" = bye-caller ] && [ "$(ce_field "$c/cdr.txt" answer)" -gt 0 ] ||
		ce_fail "call $n ($dir): CDR $CDR: not answered and hung up by the caller ($(ce_field "$c/cdr.txt" end_reason))"
	echo "ok: call $n ($dir): $caller called $callee, answered, hung up by $caller after $(ce_field "$c/cdr.txt" duration_s) s; session $sid"
	kill $ANSWERER 2>/dev/null
	wait $ANSWERER 2>/dev/null
	sleep 0.5
	ce_capture_stop bob$n carol$n
	$TEL $PREFIX /poprelay/media/stats /poprelay/drops >"$c/tel-end.json" 2>&1
	mv "$D"/bob/dump-*-enc.wav "$c/bob-enc.wav" 2>/dev/null
	mv "$D"/bob/dump-*-dec.wav "$c/bob-dec.wav" 2>/dev/null
	mv "$D"/carol/dump-*-enc.wav "$c/carol-enc.wav" 2>/dev/null
	mv "$D"/carol/dump-*-dec.wav "$c/carol-dec.wav" 2>/dev/null
	# (two dumps of one direction: mv refuses, and the check reports that dump missing)
	rm -f "$D"/bob/dump-* "$D"/carol/dump-*
}

# checks N DIRECTION OFFNET_LEG ONNET_LEG
checks() {
	local n=$1 dir=$2 off=$3 on=$4 c=$D/call$1 sid
	sid=$(cat "$c/sid")
	echo "--- call $n ($dir): carol on leg $off (clear), bob on leg $on (SRTP)"
	# 1. audio
	local f
	for f in bob-enc bob-dec carol-enc carol-dec; do
		[ -f "$c/$f.wav" ] || { echo "FAIL: call $n: no sndfile dump $f"; FAILS+=("call$n-dumps"); }
	done
	check call$n-audio python3 "$MEDIA/tone.py" check "$c/carol-enc.wav" $CAROL_HZ $BOB_HZ --label "call $n: carol sent her tone"
	check call$n-audio python3 "$MEDIA/tone.py" check "$c/bob-enc.wav" $BOB_HZ $CAROL_HZ --label "call $n: bob sent his tone"
	check call$n-audio python3 "$MEDIA/tone.py" check "$c/bob-dec.wav" $CAROL_HZ $BOB_HZ --label "call $n: bob (SRTP) heard carol (clear)"
	check call$n-audio python3 "$MEDIA/tone.py" check "$c/carol-dec.wav" $BOB_HZ $CAROL_HZ --label "call $n: carol (clear) heard bob (SRTP)"
	# 2. the wire
	check call$n-wire-clear python3 "$MEDIA/clear_wire.py" --relay $DP_IP --ports $PORTS --leg $off \
		--session "$c/session.txt" --device $IP_carol --pcap "$D/carol$n.pcap" \
		--sent-hz $CAROL_HZ --heard-hz $BOB_HZ
	check call$n-wire-srtp python3 "$MEDIA/srtp_wire.py" --relay $DP_IP --ports $PORTS \
		--tones $CAROL_HZ,$BOB_HZ --session "$c/session.txt" $on=$IP_bob:"$D/bob$n.pcap"
	# 3. the session record and the dataplane's view of it
	check call$n-session python3 - "$c/session.txt" "$c/tel-session.json" $off $on $sid <<'PY'
import json, sys
rec_f, tel_f, off, on, sid = sys.argv[1:]
lines = open(rec_f).read().splitlines()
rec = dict(zip(lines[0::2], lines[1::2]))
bad = []
want = {f"{off}_onnet": "0", f"{off}_encrypted": "0", f"{off}_profile": "RTP/AVP",
        f"{on}_onnet": "1", f"{on}_encrypted": "1", f"{on}_profile": "RTP/SAVP"}
for k, v in want.items():
    if rec.get(k) != v:
        bad.append(f"{k}={rec.get(k)!r} (want {v})")
for k in (f"{off}_suite", f"{off}_key_rx", f"{off}_key_tx"):
    if rec.get(k):
        bad.append(f"{k} set on the clear leg")
for k in (f"{on}_suite", f"{on}_key_rx", f"{on}_key_tx"):
    if not rec.get(k):
        bad.append(f"{k} missing on the SRTP leg")
print(("ok: " if not bad else "FAIL: ") + f"session record {sid}: leg {off} {rec.get(off + '_party')} "
      f"on-net {rec.get(off + '_onnet')} {rec.get(off + '_profile')} encrypted {rec.get(off + '_encrypted')}; "
      f"leg {on} {rec.get(on + '_party')} on-net {rec.get(on + '_onnet')} {rec.get(on + '_profile')} "
      f"encrypted {rec.get(on + '_encrypted')} {rec.get(on + '_suite')}" + (f" -- {'; '.join(bad)}" if bad else ""))
rc = 1 if bad else 0
try:
    t = json.load(open(tel_f))
    s = t.get(f"/poprelay/media/session,{sid}") or {}
    legs = {k: s.get(k) for k in ("a", "b")}
except ValueError:
    legs = {}
lo, ln = legs.get(off) or {}, legs.get(on) or {}
ok = lo.get("encrypted") == 0 and ln.get("encrypted") == 1 and lo.get("rx_packets", 0) > 0 and ln.get("rx_packets", 0) > 0
print(("ok: " if ok else "FAIL: ") + f"the dataplane's session {sid} mid-call: leg {off} encrypted "
      f"{lo.get('encrypted')} suite {lo.get('suite')!r} latched {lo.get('latched')} rx {lo.get('rx_packets')}; "
      f"leg {on} encrypted {ln.get('encrypted')} suite {ln.get('suite')!r} latched {ln.get('latched')} "
      f"rx {ln.get('rx_packets')}" + ("" if ok else f" (reply: {open(tel_f).read().strip()[:400]})"))
sys.exit(rc or (0 if ok else 1))
PY
	# 4. the CDR
	check call$n-cdr python3 - "$c/cdr.txt" "$D/carol$n.pcap" "$D/bob$n.pcap" $IP_carol $IP_bob $DP_IP \
		"$MEDIA" $dir $off <<'PY'
import sys
cdr_f, pc, pb, carol, bob, relay, media, direction, off = sys.argv[1:]
sys.path.insert(0, media)
import srtp_wire
lines = open(cdr_f).read().splitlines()
cdr = dict(zip(lines[0::2], lines[1::2]))
def wire(pcap, dev):
    up = down = 0
    for _, src, dst, sp, dp, p in srtp_wire.read_pcap(pcap):
        up += src == dev and dst == relay and 31000 <= dp <= 31999
        down += src == relay and dst == dev and 31000 <= sp <= 31999
    return up, down
offy, ony = ("caller", "callee") if off == "a" else ("callee", "caller")
w = {offy: wire(pc, carol), ony: wire(pb, bob)}
bad = []
if cdr.get("direction") != direction:
    bad.append(f"direction {cdr.get('direction')!r} (want {direction})")
if cdr.get(f"{offy}_encrypted") != "0" or cdr.get(f"{ony}_encrypted") != "1":
    bad.append(f"encrypted {offy} {cdr.get(offy + '_encrypted')} {ony} {cdr.get(ony + '_encrypted')} (want 0 and 1)")
if cdr.get(f"{offy}_sig_transport") != "udp" or cdr.get(f"{ony}_sig_transport") != "tls":
    bad.append(f"transports {offy} {cdr.get(offy + '_sig_transport')} {ony} {cdr.get(ony + '_sig_transport')}")
for y in ("caller", "callee"):
    rx, tx = int(cdr.get(f"{y}_rx_packets", 0) or 0), int(cdr.get(f"{y}_tx_packets", 0) or 0)
    rb, tb = int(cdr.get(f"{y}_rx_bytes", 0) or 0), int(cdr.get(f"{y}_tx_bytes", 0) or 0)
    if rx <= 0 or tx <= 0 or rb <= 0 or tb <= 0:
        bad.append(f"{y} rx/tx packets {rx}/{tx} bytes {rb}/{tb}")
    if rx > w[y][0] or tx > w[y][1]:
        bad.append(f"{y} rx/tx packets {rx}/{tx} above the wire's {w[y][0]}/{w[y][1]}")
    if tx + 2 < w[y][1]:
        bad.append(f"{y} tx packets {tx}: the wire saw the relay send {w[y][1]}")
    if rx + 12 < w[y][0]:
        bad.append(f"{y} rx packets {rx}: the device sent {w[y][0]} to the relay")
desc = ", ".join(f"{y} ({'clear' if y == offy else 'SRTP'}) rx {cdr.get(y + '_rx_packets')} "
                 f"tx {cdr.get(y + '_tx_packets')} (wire {w[y][0]}/{w[y][1]}) bytes "
                 f"{cdr.get(y + '_rx_bytes')}/{cdr.get(y + '_tx_bytes')} lost {cdr.get(y + '_lost')} "
                 f"jitter {cdr.get(y + '_jitter_us')} us" for y in ("caller", "callee"))
print(("ok: " if not bad else "FAIL: ") + f"CDR {cdr.get('id')} ({cdr.get('direction')}): {desc}"
      + (f" -- {'; '.join(bad)}" if bad else ""))
sys.exit(1 if bad else 0)
PY
	# 5. drops and telemetry: what this call added to /poprelay/drops. Tolerated: media_no_session
	# (a device's packets just before the session is installed, the callee starts sending with
	# its 200, and just after it ended) and media_srtp for the on-net device's clear RTCP
	# (baresip 1.0 sends its first APP and last BYE outside SRTCP: PR_SRTP_ERR_UNENCRYPTED),
	# or media_malformed for one shorter than SRTCP (seen in CI), at most as many as the wire
	# saw it send (srtp_wire.clear_rtcp_unexpected).
	local base=$D/call$((n - 1))/tel-end.json
	[ -f "$base" ] || base=/dev/null
	check call$n-drops python3 - "$c/tel-mid.json" "$c/tel-end.json" "$base" "$D/bob$n.pcap" $IP_bob $DP_IP "$MEDIA" <<'PY'
import json, sys
mid_f, end_f, base_f, pcap, bob, relay, media = sys.argv[1:]
sys.path.insert(0, media)
import srtp_wire
def load(p):
    try:
        return json.load(open(p))
    except ValueError:
        return {}
mid, end, base = load(mid_f), load(end_f), load(base_f)
m, e = mid.get("/poprelay/media/stats") or {}, end.get("/poprelay/media/stats") or {}
b0 = base.get("/poprelay/drops") or {}
drops = {k: v - b0.get(k, 0) for k, v in (end.get("/poprelay/drops") or {}).items()
         if k.startswith("media_") and v - b0.get(k, 0)}
clear = [p for _, src, dst, sp, dp, p in srtp_wire.read_pcap(pcap)
         if src == bob and dst == relay and dp % 2 and srtp_wire.is_rtcp(p)
         and srtp_wire.rtcp_bye_app_only(p)]
clear_rtcp = len(clear)
bad = srtp_wire.clear_rtcp_unexpected(drops, clear)
ok = m.get("sessions", 0) >= 1 and m.get("relayed", 0) > 0 and not bad and not m.get("refused")
print(("ok: " if ok else "FAIL: ") + f"telemetry: mid-call sessions {m.get('sessions')} relayed "
      f"{m.get('relayed')} refused {m.get('refused')}; after sessions {e.get('sessions')} relayed "
      f"{e.get('relayed')}; this call's media drops {drops or 'none'} (bob sent {clear_rtcp} clear "
      f"RTCP BYE/APP)" + (f" -- not expected: {bad}" if bad else ""))
sys.exit(0 if ok else 1)
PY
}

call 1 offnet-in
call 2 offnet-out
checks 1 offnet-in a b
checks 2 offnet-out b a

# the dataplane consumed the session stream
check stream ce_check_stream_consumed
kill -0 "$SP_PID" 2>/dev/null || FAILS+=("slowpath died")
kill -0 "$DP_PID" 2>/dev/null || FAILS+=("dataplane died")
if [ ${#FAILS[@]} -gt 0 ]; then
	ce_dump_logs
	pr_fail "off-net media checks failed: ${FAILS[*]}"
fi
echo "PASS"
