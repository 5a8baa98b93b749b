#!/usr/bin/env bash
# Two baresip devices register to the slowpath over TLS; alice calls bob, bob answers
# (auto), alice hangs up. Checks: the SDP each side sees points at the relay and carries
# its own fresh SDES key; the session record in Redis matches; the stream announces install
# and end; a CDR exists afterwards; relay ports go back to the pool.
#
# Namespace topology: the slowpath in sb-pop on its kernel address 192.0.2.1; each device in
# its own namespace on its own link (alice 192.0.2.2 via sb-pa/sb-ap, bob 192.0.2.18 via
# sb-pb/sb-bp); Redis on a unix socket (reachable from every namespace).
set -uo pipefail
source "$(dirname "$0")/../lib.sh"
source "$PR_ROOT/tests/integration/slowpath/common.sh"
command -v baresip >/dev/null || pr_skip "baresip not installed"
[ -x "$BUILD/poprelay-slowpath" ] || pr_fail "build $BUILD/poprelay-slowpath first"
pr_need_root

SP_ADDR=192.0.2.1
ALICE_IP=192.0.2.2
BOB_IP=192.0.2.18
pr_netns sb-pop
pr_netns sb-alice
pr_netns sb-bob
pr_veth sb-pop sb-pa sb-alice sb-ap
pr_veth sb-pop sb-pb sb-bob sb-bp
ip -n sb-pop addr add $SP_ADDR/28 dev sb-pa
ip -n sb-pop addr add 192.0.2.17/28 dev sb-pb
ip -n sb-alice addr add $ALICE_IP/28 dev sb-ap
ip -n sb-bob addr add $BOB_IP/28 dev sb-bp
ip -n sb-bob route add default via 192.0.2.17
SP_NETNS=sb-pop

D=$(mktemp -d /tmp/sp-baresip.XXXXXX)
pr_on_exit "rm -rf '$D'"
pr_redis_start "$D"
sp_certs "$D"
# The slowpath has namespace sb-pop to itself: the standard ports are free there.
TP=5061
PP=5060
# baresip 1.0 (libre 1.0) aborts on a SHA-256 challenge: offer MD5 only here
sp_config "$D" "$TP" "$PP" "digest_algorithms = MD5"
sp_start "$D"
sp_user_add "$D" alice "$SP_PW_alice"
sp_user_add "$D" bob "$SP_PW_bob"
R() { redis-cli -s "$D/redis.sock" "$@"; }
free0=$(R SCARD pr:ports:free)

python3 -c "import wave,math,struct
w=wave.open('$D/tone.wav','wb');w.setnchannels(1);w.setsampwidth(2);w.setframerate(8000)
w.writeframes(b''.join(struct.pack('<h',int(8000*math.sin(i*0.3))) for i in range(8000*20)))"

bs_conf() { # name ip password
	local n=$1 ip=$2 pw=$3 port=5070
	mkdir -p "$D/$n"
	cat >"$D/$n/config" <<CFG
poll_method epoll
sip_listen $ip:$port
sip_cafile $D/ca.crt
sip_trans_def tls
net_interface $ip
audio_player aufile,$D/$n/rx.wav
audio_source aufile,$D/tone.wav
audio_alert aufile,/dev/null
module_path /usr/lib/baresip/modules
module g711.so
module aufile.so
module srtp.so
module_app account.so
module_app menu.so
CFG
	echo "<sip:$n@poprelay;transport=tls>;auth_pass=$pw;outbound=\"sip:$SP_ADDR:$TP;transport=tls\";mediaenc=srtp-mand;answermode=auto;regint=600" >"$D/$n/accounts"
}
bs_conf bob $BOB_IP "$SP_PW_bob"
bs_conf alice $ALICE_IP "$SP_PW_alice"

ip netns exec sb-bob baresip -s -f "$D/bob" -t 20 >"$D/bob.log" 2>&1 </dev/null &
BOB=$!
pr_on_exit "kill -9 $BOB 2>/dev/null"
pr_wait_for 10 bash -c "[ \"\$(redis-cli -s '$D/redis.sock' HGET pr:reg:bob transport)\" = tls ]" ||
	{ tail -30 "$D/bob.log"; pr_fail "bob did not register over TLS"; }
pr_log "bob registered: $(R HGET pr:reg:bob contact) via $(R HGET pr:reg:bob src_addr)"
[ "$(R HGET pr:reg:bob src_addr)" = $BOB_IP ] ||
	pr_fail "bob's registration came from $(R HGET pr:reg:bob src_addr), not his namespace $BOB_IP"

ip netns exec sb-alice baresip -s -f "$D/alice" -e "/dial sip:bob@poprelay" -t 7 >"$D/alice.log" 2>&1 </dev/null &
ALICE=$!
pr_on_exit "kill -9 $ALICE 2>/dev/null"
pr_wait_for 10 bash -c "redis-cli -s '$D/redis.sock' SCARD pr:sessions | grep -qx 1" ||
	{ tail -40 "$D/alice.log"; tail -20 "$D/sp.log"; pr_fail "no media session installed"; }
sid=$(R SMEMBERS pr:sessions)
R HGETALL "pr:session:$sid" >"$D/session.txt"
pr_log "session $sid installed"
wait $ALICE
pr_wait_for 5 bash -c "redis-cli -s '$D/redis.sock' SCARD pr:sessions | grep -qx 0" || pr_fail "session not ended"

python3 "$PR_ROOT/tests/integration/slowpath/baresip_trace.py" "$D/alice.log" "$D/bob.log" \
	"$D/session.txt" "$TP" 31000 31999 $SP_ADDR $ALICE_IP $BOB_IP || { tail -20 "$D/sp.log"; pr_fail "SDP / session checks"; }

# stream: install then end for the session
ops=$(R XRANGE pr:sessions:stream - + | paste -sd' ')
[[ $ops == *"op install id $sid"* && $ops == *"op end id $sid"* ]] ||
	pr_fail "session stream lacks install/end for $sid: $ops"
echo "ok: stream announced install and end"
[ "$(R EXISTS "pr:session:$sid")" = 0 ] || pr_fail "session hash left behind"

# CDR
cdr=$(R ZRANGE pr:cdrs 0 -1)
[ -n "$cdr" ] || pr_fail "no CDR"
C() { R HGET "pr:cdr:$cdr" "$1"; }
[ "$(C caller_user)" = alice ] && [ "$(C callee_user)" = bob ] || pr_fail "CDR parties"
[ "$(C caller_encrypted)" = 1 ] && [ "$(C callee_encrypted)" = 1 ] || pr_fail "CDR encryption"
[ "$(C end_reason)" = bye-caller ] || pr_fail "CDR end reason $(C end_reason)"
[ "$(C direction)" = onnet ] || pr_fail "CDR direction"
[[ $(C caller_user_agent) == baresip* ]] || pr_fail "CDR user agent"
[ "$(C caller_inside_addr)" = $ALICE_IP ] && [ "$(C caller_outside_addr)" = $ALICE_IP ] ||
	pr_fail "CDR caller addresses $(C caller_inside_addr) / $(C caller_outside_addr)"
[ "$(C callee_inside_addr)" = $BOB_IP ] && [ "$(C callee_outside_addr)" = $BOB_IP ] ||
	pr_fail "CDR callee addresses $(C callee_inside_addr) / $(C callee_outside_addr)"
[ "$(C answer)" -gt 0 ] && [ "$(C end)" -ge "$(C answer)" ] || pr_fail "CDR times"
ttl=$(R TTL "pr:cdr:$cdr")
[ "$ttl" -gt $((89 * 86400)) ] || pr_fail "CDR TTL $ttl"
echo "ok: CDR $cdr (duration $(C duration_s)s, ttl ${ttl}s)"
[ "$(R SCARD pr:ports:free)" = "$free0" ] || pr_fail "relay ports not returned ($(R SCARD pr:ports:free) != $free0)"
echo "ok: relay ports returned to the pool"

# poprelayctl cdr list / export (CSV and JSON)
CTL=("$BUILD/poprelayctl" -c "$D/sp.conf" -s "$D/redis.sock")
"${CTL[@]}" cdr list --since 1h >"$D/cdr.txt" || pr_fail "cdr list"
grep -q "$cdr.*onnet.*alice.*bob.*bye-caller.*srtp/srtp" "$D/cdr.txt" || { cat "$D/cdr.txt"; pr_fail "cdr list content"; }
"${CTL[@]}" cdr export --since 1h --format csv >"$D/cdr.csv" || pr_fail "cdr export csv"
python3 - "$D/cdr.csv" "$cdr" <<'PY' || pr_fail "cdr export csv content"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert len(rows) == 1 and rows[0]['id'] == sys.argv[2], rows
r = rows[0]
assert r['caller_user'] == 'alice' and r['callee_user'] == 'bob' and r['caller_encrypted'] == '1', r
assert r['pop'] == 'pop1' and int(r['end']) >= int(r['start']), r
PY
"${CTL[@]}" cdr export --since "$(date -u -d '-1 hour' +%Y-%m-%dT%H:%M:%SZ)" --format json >"$D/cdr.json" ||
	pr_fail "cdr export json"
python3 -c "import json,sys; a=json.load(open('$D/cdr.json')); assert len(a)==1 and a[0]['id']=='$cdr' and a[0]['callee_user']=='bob', a" ||
	pr_fail "cdr export json content"
[ "$("${CTL[@]}" cdr export --since "$(($(date +%s) + 60))" | wc -l)" = 1 ] || pr_fail "export of nothing: header only"
"${CTL[@]}" cdr export >/dev/null 2>&1 && pr_fail "export without --since accepted"
echo "ok: poprelayctl cdr list / export csv / export json"
kill -0 "$SP_PID" || pr_fail "slowpath died"
echo "PASS"
