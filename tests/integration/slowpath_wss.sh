#!/usr/bin/env bash
# parallel: slow
# SIP over secure WebSocket (RFC 7118): a real WebSocket SIP client, JsSIP (npm) in node,
# registers to the slowpath's WSS listener with digest authentication; a wrong password is
# refused; a baresip device over TLS calls the WSS-registered user and the INVITE reaches
# the JsSIP UA over its WebSocket (it refuses the call: no media leg for browsers yet);
# hostile upgrades and frames (wss_hostile.py: foreign or no Origin 403, no "sip"
# subprotocol 400, unmasked frame and reserved opcode/bit 1002, oversized frame 1009,
# invalid UTF-8 1007) are refused with the right status or close code and counted; the
# WebSocket's close drops the flow.
#
# Topology: the slowpath in sw-pop on 192.0.2.1 (TLS 5061, WSS 8443); the devices (baresip,
# node, python) in sw-dev on 192.0.2.2; Redis on a unix socket.
set -uo pipefail
source "$(dirname "$0")/../lib.sh"
source "$PR_ROOT/tests/integration/slowpath/common.sh"
command -v baresip >/dev/null || pr_skip "baresip not installed"
command -v node >/dev/null || pr_skip "node not installed (make deps)"
NODE_DIR=$PR_ROOT/tests/node
[ -d "$NODE_DIR/node_modules/jssip" ] || pr_skip "JsSIP not installed: (cd tests/node && npm ci), or make deps"
[ -x "$BUILD/poprelay-slowpath" ] || pr_fail "build $BUILD/poprelay-slowpath first"
pr_need_root

SP_ADDR=192.0.2.1
DEV_IP=192.0.2.2
WSS=8443
ORIGIN=https://app.example.com
MAXMSG=4096
pr_netns sw-pop
pr_netns sw-dev
pr_veth sw-pop sw-pd sw-dev sw-dp
ip -n sw-pop addr add $SP_ADDR/28 dev sw-pd
ip -n sw-dev addr add $DEV_IP/28 dev sw-dp
SP_NETNS=sw-pop

D=$(mktemp -d /tmp/sp-wss.XXXXXX)
pr_on_exit "rm -rf '$D'"
pr_redis_start "$D"
sp_certs "$D"
TP=5061
# JsSIP and baresip 1.0 answer MD5 challenges only (JsSIP takes the first one offered)
sp_config "$D" "$TP" 5060 "digest_algorithms = MD5" "wss_listen = $SP_ADDR:$WSS" \
	"ws_origins = https://other.example.net, $ORIGIN" "ws_max_message = $MAXMSG" \
	"lockout_failures = 50"
sp_start "$D"
grep -q "listening: wss $SP_ADDR:$WSS" "$D/sp.log" || { cat "$D/sp.log"; pr_fail "no WSS listener in the log"; }
sp_user_add "$D" alice "$SP_PW_alice"
sp_user_add "$D" carol "$SP_PW_carol"
R() { redis-cli -s "$D/redis.sock" "$@"; }
# a call to a browser needs our DTLS certificate's fingerprint (written by the DTLS process,
# which this test does not run)
R SET pr:dtls:fingerprint "sha-256 $(openssl rand -hex 32 | sed 's/../&:/g; s/:$//' | tr a-f A-F)" >/dev/null
spstat() { R HGET pr:stats:slowpath:pop1:$(hostname) "$1"; }
UA() { # user password seconds [reject]: the JsSIP UA in sw-dev, output on stdout
	ip netns exec sw-dev node "$NODE_DIR/wss_ua.js" "wss://$SP_ADDR:$WSS" "$1" "$2" "$ORIGIN" \
		"$D/ca.crt" "$3" ${4:+"$4"}
}

# 1. a wrong password: challenged again, never registered
UA carol wrong-password 4 >"$D/ua_bad.log" 2>&1 && { cat "$D/ua_bad.log"; pr_fail "registered with a wrong password"; }
grep -q "^registration_failed" "$D/ua_bad.log" || { cat "$D/ua_bad.log"; tail -20 "$D/sp.log"; pr_fail "no registration failure seen by JsSIP"; }
[ "$(R EXISTS pr:reg:carol)" = 0 ] || pr_fail "a binding was stored for a wrong password"
pr_wait_for 3 bash -c "[ \"\$(redis-cli -s '$D/redis.sock' HGET pr:stats:slowpath:pop1:$(hostname) reg_auth_failed)\" -ge 1 ]" ||
	pr_fail "reg_auth_failed $(spstat reg_auth_failed), expected >= 1"
echo "ok: wrong password refused ($(grep ^registration_failed "$D/ua_bad.log" | head -1))"

# 2. the right one: registered over wss, for as long as the UA runs; a call comes to it
UA carol "$SP_PW_carol" 25 486 >"$D/ua.log" 2>&1 &
UAPID=$!
pr_on_exit "kill $UAPID 2>/dev/null"
pr_wait_for 10 bash -c "[ \"\$(redis-cli -s '$D/redis.sock' HGET pr:reg:carol transport)\" = wss ]" ||
	{ cat "$D/ua.log"; tail -30 "$D/sp.log"; pr_fail "carol did not register over wss"; }
grep -q "^registered" "$D/ua.log" || pr_fail "JsSIP did not see its registration succeed"
contact=$(R HGET pr:reg:carol contact)
[[ $contact == *.invalid* && $contact == *transport=ws* ]] || pr_fail "contact $contact: expected an .invalid host and transport=ws (RFC 7118)"
[ "$(R HGET pr:reg:carol src_addr)" = $DEV_IP ] || pr_fail "src_addr $(R HGET pr:reg:carol src_addr)"
"$BUILD/poprelayctl" -c "$D/sp.conf" -s "$D/redis.sock" user show carol >"$D/show.txt" || pr_fail "poprelayctl user show"
grep -q "wss" "$D/show.txt" || { cat "$D/show.txt"; pr_fail "poprelayctl user show carol does not say wss"; }
# the stats hash is written once a second
pr_wait_for 3 bash -c "[ \"\$(redis-cli -s '$D/redis.sock' HGET pr:stats:slowpath:pop1:$(hostname) ws_upgrades)\" = 2 ]" ||
	pr_fail "ws_upgrades $(spstat ws_upgrades), expected 2"
[ "$(spstat ws_open)" = 1 ] || pr_fail "ws_open $(spstat ws_open), expected 1"
echo "ok: carol registered over wss: $contact"

cat >"$D/alice.conf" <<CFG
poll_method epoll
sip_listen $DEV_IP:5070
sip_cafile $D/ca.crt
sip_trans_def tls
net_interface $DEV_IP
audio_player aufile,/dev/null
audio_source aufile,$D/tone.wav
audio_alert aufile,/dev/null
module_path /usr/lib/baresip/modules
module g711.so
module aufile.so
module srtp.so
module_app account.so
module_app menu.so
CFG
mkdir -p "$D/alice"
mv "$D/alice.conf" "$D/alice/config"
python3 -c "import wave
w=wave.open('$D/tone.wav','wb');w.setnchannels(1);w.setsampwidth(2);w.setframerate(8000);w.writeframes(b'\0\0'*8000)"
echo "<sip:alice@poprelay;transport=tls>;auth_pass=$SP_PW_alice;outbound=\"sip:$SP_ADDR:$TP;transport=tls\";mediaenc=srtp-mand;regint=600" >"$D/alice/accounts"
ip netns exec sw-dev baresip -s -f "$D/alice" -e "/dial sip:carol@poprelay" -t 8 >"$D/alice.log" 2>&1 </dev/null &
ALICE=$!
pr_on_exit "kill -9 $ALICE 2>/dev/null"
pr_wait_for 10 grep -q "^incoming alice" "$D/ua.log" ||
	{ cat "$D/ua.log"; tail -30 "$D/alice.log"; tail -30 "$D/sp.log"; pr_fail "the INVITE did not reach the JsSIP UA"; }
line=$(grep "^incoming alice" "$D/ua.log")
[[ $line == *"SIP/2.0/WSS"* ]] || pr_fail "the INVITE's Via is not WSS: $line"
echo "ok: alice's INVITE reached carol over her WebSocket ($line)"
wait $ALICE
pr_wait_for 5 bash -c "[ -n \"\$(redis-cli -s '$D/redis.sock' ZRANGE pr:cdrs 0 -1)\" ]" || pr_fail "no CDR"
cdr=$(R ZRANGE pr:cdrs 0 -1 | head -1)
[ "$(R HGET "pr:cdr:$cdr" caller_user)" = alice ] && [ "$(R HGET "pr:cdr:$cdr" callee_user)" = carol ] ||
	pr_fail "CDR parties: $(R HGETALL "pr:cdr:$cdr" | paste -sd' ')"
[ "$(R HGET "pr:cdr:$cdr" callee_sig_transport)" = wss ] && [ "$(R HGET "pr:cdr:$cdr" caller_sig_transport)" = tls ] ||
	pr_fail "CDR transports: $(R HGET "pr:cdr:$cdr" caller_sig_transport) -> $(R HGET "pr:cdr:$cdr" callee_sig_transport)"
grep -q "486" "$D/alice.log" || { tail -20 "$D/alice.log"; pr_fail "alice did not get carol's 486"; }
echo "ok: CDR $cdr alice -> carol, carol's 486 went back to alice"

# 3. hostile upgrades and frames
ip netns exec sw-dev python3 "$SP_DIR/wss_hostile.py" $SP_ADDR $WSS "$D/ca.crt" "$ORIGIN" $MAXMSG ||
	{ tail -20 "$D/sp.log"; pr_fail "hostile WebSocket cases"; }
pr_wait_for 3 bash -c "[ \"\$(redis-cli -s '$D/redis.sock' HGET pr:stats:slowpath:pop1:$(hostname) ws_close_1009)\" = 1 ]" ||
	pr_fail "ws_close_1009 $(spstat ws_close_1009)"
for kv in ws_refused_origin=2 ws_refused_protocol=1 ws_refused_version=1 ws_close_1002=3 \
	ws_close_1007=1 ws_close_1009=1 ws_pongs_tx=1; do
	[ "$(spstat "${kv%=*}")" = "${kv#*=}" ] || pr_fail "${kv%=*} $(spstat "${kv%=*}"), expected ${kv#*=}"
done
[ "$(spstat ws_closed_by_peer)" -ge 1 ] || pr_fail "ws_closed_by_peer $(spstat ws_closed_by_peer)"
echo "ok: refusals and close codes counted"

# the exporter renders them: the scrape's WebSocket families carry the stats hash's values
XP=$(sp_free_port)
printf '[exporter]\nlisten = 127.0.0.1:%s\n' "$XP" >>"$D/sp.conf"
"$BUILD/poprelay-exporter" -c "$D/sp.conf" -p sp-wss-none 2>"$D/exp.log" &
exp_pid=$!
pr_on_exit "kill $exp_pid 2>/dev/null"
pr_wait_for 5 curl -sf -o /dev/null "http://127.0.0.1:$XP/metrics" || { cat "$D/exp.log"; pr_fail "exporter did not answer"; }
sleep 1.2 # the stats hash is written once a second
curl -sf -m 10 -o "$D/m" "http://127.0.0.1:$XP/metrics" || pr_fail "scrape failed"
if command -v promtool >/dev/null; then
	promtool check metrics <"$D/m" >"$D/m.lint" 2>&1 || { cat "$D/m.lint"; pr_fail "promtool rejects the scrape"; }
fi
for kv in 'poprelay_slowpath_websocket_refusals_total{reason="origin"}=ws_refused_origin' \
	'poprelay_slowpath_websocket_refusals_total{reason="protocol"}=ws_refused_protocol' \
	'poprelay_slowpath_websocket_refusals_total{reason="version"}=ws_refused_version' \
	'poprelay_slowpath_websocket_closes_total{reason="protocol_error"}=ws_close_1002' \
	'poprelay_slowpath_websocket_closes_total{reason="invalid_data"}=ws_close_1007' \
	'poprelay_slowpath_websocket_closes_total{reason="too_big"}=ws_close_1009' \
	'poprelay_slowpath_websocket_pongs_total=ws_pongs_tx' \
	'poprelay_slowpath_websocket_upgrades_total=ws_upgrades'; do
	m=${kv%=*} f=${kv##*=}
	got=$(awk -v k="$m" '$1 == k { print $2 }' "$D/m")
	[ -n "$got" ] && [ "$got" = "$(spstat "$f")" ] || pr_fail "$m: '$got' in the scrape, $f $(spstat "$f") in the stats hash"
	[ "$got" -ge 1 ] || pr_fail "$m is $got"
done
grep -q '^poprelay_calls_refused_total{reason="no_dtls"} ' "$D/m" || pr_fail "no calls_refused no_dtls sample"
kill $exp_pid
echo "ok: the exporter renders the WebSocket counters"

# 4. the UA stops (its WebSocket closes): the flow is gone, the binding routes nowhere
wait $UAPID
pr_wait_for 5 bash -c "[ \"\$(redis-cli -s '$D/redis.sock' HGET pr:stats:slowpath:pop1:$(hostname) ws_open)\" = 0 ]" ||
	pr_fail "ws_open $(spstat ws_open) after the UA left"
pr_wait_for 3 bash -c "[ \"\$(redis-cli -s '$D/redis.sock' HGET pr:stats:slowpath:pop1:$(hostname) conns_open)\" = 0 ]" ||
	pr_fail "conns_open $(spstat conns_open) after every client left"
echo "ok: the WebSocket's close dropped the flow"
kill -0 "$SP_PID" || pr_fail "slowpath died"
echo "PASS"
