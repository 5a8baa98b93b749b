#!/usr/bin/env bash
# parallel: slow
# WebRTC SDP interworking (issue 19, the slowpath's side): a browser's SDP side (JsSIP in
# node over WSS, its RTCPeerConnection a stub with a Chrome-style SDP: ICE, DTLS
# fingerprint, setup, rtcp-mux, BUNDLE, AVPF) and a baresip device over TLS with SDES-SRTP
# call each other through the anchor. Checks: the device sees RTP/SAVP with a=crypto on the
# relay and nothing of WebRTC; the browser sees UDP/TLS/RTP/SAVPF, a=ice-lite, our ICE
# credentials, our fingerprint (pr:dtls:fingerprint, set here: no DTLS process runs), the
# right a=setup, one host candidate on the relay, rtcp-mux and no BUNDLE; the session hashes
# carry the contract's fields (X_keying dtls/sdes, X_ice_*, X_dtls_setup,
# X_dtls_fingerprint, no SDES keys on the browser leg); the CDR says dtls/sdes. BUNDLE: an
# audio+video offer answered on one port with the group, the sessions' X_bundle*, the
# ports' accounting; a payload type on both m= lines falls back to no BUNDLE; a device's
# audio+video call to the browser offered with the group and bundled by its answer. Refusals:
# no fingerprint in Redis -> 503 Retry-After (calls_refused_no_dtls); a browser offer
# without a=fingerprint -> 488 with a Warning. No media flows (no browser, no DTLS engine).
#
# Topology: the slowpath in wr-pop on 192.0.2.1 (TLS 5061, WSS 8443); the devices in wr-dev
# on 192.0.2.2; Redis on a unix socket.
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
pr_netns wr-pop
pr_netns wr-dev
pr_veth wr-pop wr-pd wr-dev wr-dp
ip -n wr-pop addr add $SP_ADDR/28 dev wr-pd
ip -n wr-dev addr add $DEV_IP/28 dev wr-dp
SP_NETNS=wr-pop

D=$(mktemp -d /tmp/sp-webrtc.XXXXXX)
pr_on_exit "rm -rf '$D'"
pr_redis_start "$D"
sp_certs "$D"
TP=5061
sp_config "$D" "$TP" 5060 "digest_algorithms = MD5" "wss_listen = $SP_ADDR:$WSS" \
	"ws_origins = $ORIGIN" "lockout_failures = 50"
sp_start "$D"
sp_user_add "$D" alice "$SP_PW_alice"
sp_user_add "$D" carol "$SP_PW_carol"
R() { redis-cli -s "$D/redis.sock" "$@"; }
spstat() { R HGET pr:stats:slowpath:pop1:$(hostname) "$1"; }
OUR_FPR="sha-256 $(openssl rand -hex 32 | sed 's/../&:/g; s/:$//' | tr a-f A-F)"
BR_FPR="sha-256 $(openssl rand -hex 32 | sed 's/../&:/g; s/:$//' | tr a-f A-F)"
BR_UFRAG=Br0w
BR_PWD=BrowserPasswordOf24chrs
R SET pr:dtls:fingerprint "$OUR_FPR" >/dev/null

# the browser's SDP: an offer as Chrome writes it after gathering (RFC 8829 / 8843 style)
browser_sdp() { # setup [no-fingerprint]
	cat <<SDP | sed 's/$/\r/'
v=0
o=- 4962303333179871722 2 IN IP4 127.0.0.1
s=-
t=0 0
a=group:BUNDLE 0
a=extmap-allow-mixed
a=msid-semantic: WMS s1
m=audio 54400 UDP/TLS/RTP/SAVPF 111 0 126
c=IN IP4 $DEV_IP
a=rtcp:9 IN IP4 0.0.0.0
a=candidate:3348148302 1 udp 2113937151 $DEV_IP 54400 typ host generation 0
a=end-of-candidates
a=ice-ufrag:$BR_UFRAG
a=ice-pwd:$BR_PWD
a=ice-options:trickle
$([ "${2:-}" = no-fingerprint ] || echo "a=fingerprint:$BR_FPR")
a=setup:$1
a=mid:0
a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level
a=sendrecv
a=msid:s1 a1
a=rtcp-mux
a=rtpmap:111 opus/48000/2
a=rtcp-fb:111 transport-cc
a=fmtp:111 minptime=10;useinbandfec=1
a=rtpmap:0 PCMU/8000
a=rtpmap:126 telephone-event/8000
a=ssrc:1001 cname:Q/NWs1ao1HmN4Xa5
SDP
}
browser_sdp actpass >"$D/offer.sdp"
browser_sdp actpass no-fingerprint >"$D/offer_nofp.sdp"
browser_sdp active >"$D/answer.sdp"

UA() { # user seconds [env...]: the JsSIP UA in wr-dev
	local u=$1 s=$2
	shift 2
	ip netns exec wr-dev env "$@" node "$NODE_DIR/wss_ua.js" "wss://$SP_ADDR:$WSS" "$u" \
		"$(eval echo \$SP_PW_$u)" "$ORIGIN" "$D/ca.crt" "$s"
}
mkdir -p "$D/alice"
cat >"$D/alice/config" <<CFG
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
python3 -c "import wave
w=wave.open('$D/tone.wav','wb');w.setnchannels(1);w.setsampwidth(2);w.setframerate(8000);w.writeframes(b'\0\0'*8000)"
echo "<sip:alice@poprelay;transport=tls>;auth_pass=$SP_PW_alice;outbound=\"sip:$SP_ADDR:$TP;transport=tls\";mediaenc=srtp-mand;answermode=auto;regint=600" >"$D/alice/accounts"
sid_of() { R SMEMBERS pr:sessions | head -1; }
H() { R HGET "pr:session:$1" "$2"; }
sdp_has() { # file regex what
	grep -qE "$2" "$1" || { cat "$1"; pr_fail "$3: no /$2/"; }
}
sdp_lacks() {
	grep -qE "$2" "$1" && { cat "$1"; pr_fail "$3: /$2/ is there"; }
	return 0
}
last_cdr() { R ZRANGE pr:cdrs -1 -1; }

# 1. the device calls the browser: our offer to it is WebRTC, its answer (setup active)
# makes our role passive
UA carol 16 WSS_UA_ANSWER="$D/answer.sdp" WSS_UA_REMOTE="$D/carol_remote.sdp" >"$D/ua1.log" 2>&1 &
UAPID=$!
pr_on_exit "kill $UAPID 2>/dev/null"
pr_wait_for 10 bash -c "[ \"\$(redis-cli -s '$D/redis.sock' HGET pr:reg:carol transport)\" = wss ]" ||
	{ cat "$D/ua1.log"; tail -30 "$D/sp.log"; pr_fail "carol did not register over wss"; }
ip netns exec wr-dev baresip -s -f "$D/alice" -e "/dial sip:carol@poprelay" -t 8 >"$D/alice1.log" 2>&1 </dev/null &
ALICE=$!
pr_on_exit "kill -9 $ALICE 2>/dev/null"
pr_wait_for 10 bash -c "redis-cli -s '$D/redis.sock' SCARD pr:sessions | grep -qx 1" ||
	{ cat "$D/ua1.log"; tail -40 "$D/alice1.log"; tail -30 "$D/sp.log"; pr_fail "device -> browser: no session"; }
grep -q "^confirmed" "$D/ua1.log" || pr_wait_for 5 grep -q "^confirmed" "$D/ua1.log" || { cat "$D/ua1.log"; pr_fail "the browser's call was not confirmed"; }
F=$D/carol_remote.sdp
sdp_has "$F" "^m=audio [0-9]+ UDP/TLS/RTP/SAVPF 0" "offer to the browser"
sdp_has "$F" "^a=ice-lite" "offer to the browser"
sdp_has "$F" "^a=fingerprint:$OUR_FPR" "offer to the browser"
sdp_has "$F" "^a=setup:actpass" "offer to the browser"
sdp_has "$F" "^a=rtcp-mux" "offer to the browser"
sdp_has "$F" "^a=end-of-candidates" "offer to the browser"
sdp_has "$F" "^a=mid:0" "offer to the browser"
sdp_has "$F" "^c=IN IP4 $SP_ADDR" "offer to the browser"
sdp_lacks "$F" "a=crypto|$DEV_IP|BUNDLE" "offer to the browser"
sid=$(sid_of)
port=$(sed -n 's/^m=audio \([0-9]*\) .*/\1/p' "$F" | tr -d '\r')
ufrag=$(sed -n 's/^a=ice-ufrag:\(.*\)/\1/p' "$F" | tr -d '\r')
pwd=$(sed -n 's/^a=ice-pwd:\(.*\)/\1/p' "$F" | tr -d '\r')
sdp_has "$F" "^a=candidate:1 1 udp [0-9]+ $SP_ADDR $port typ host" "offer to the browser"
[ "$(H "$sid" b_relay_port)" = "$port" ] || pr_fail "b_relay_port $(H "$sid" b_relay_port), SDP port $port"
for kv in b_keying=dtls b_dtls_setup=passive "b_dtls_fingerprint=$BR_FPR" \
	"b_dtls_local_fingerprint=$OUR_FPR" b_ice_ufrag="$ufrag" \
	b_ice_pwd="$pwd" b_ice_remote_ufrag=$BR_UFRAG b_rtcp_mux=1 b_encrypted=1 \
	b_suite=AES_CM_128_HMAC_SHA1_80 a_keying=sdes; do
	[ "$(H "$sid" "${kv%%=*}")" = "${kv#*=}" ] || { R HGETALL "pr:session:$sid"; pr_fail "session ${kv%%=*}: '$(H "$sid" "${kv%%=*}")', want '${kv#*=}'"; }
done
[ ${#ufrag} -ge 4 ] && [ ${#pwd} -ge 22 ] || pr_fail "our ICE credentials too short: $ufrag / ${#pwd} chars"
[ -z "$(H "$sid" b_key_rx)$(H "$sid" b_key_tx)" ] || pr_fail "SDES keys on the browser's dtls leg"
[ -n "$(H "$sid" a_key_rx)" ] || pr_fail "no SDES key on the device's leg"
grep -q "$pwd" "$D/sp.log" && pr_fail "our ICE pwd is in the slowpath's log"
grep -q "$BR_PWD" "$D/sp.log" && pr_fail "the browser's ICE pwd is in the slowpath's log"
echo "ok: device -> browser: WebRTC offer (ice-lite, fingerprint, actpass, candidate $SP_ADDR:$port), session b_keying dtls, our role passive"
wait $ALICE
pr_wait_for 5 bash -c "redis-cli -s '$D/redis.sock' SCARD pr:sessions | grep -qx 0" || pr_fail "session not ended"
pr_wait_for 5 bash -c "[ -n \"\$(redis-cli -s '$D/redis.sock' ZRANGE pr:cdrs 0 -1)\" ]" || pr_fail "no CDR"
cdr=$(last_cdr)
[ "$(R HGET "pr:cdr:$cdr" caller_keying)" = sdes ] && [ "$(R HGET "pr:cdr:$cdr" callee_keying)" = dtls ] ||
	pr_fail "CDR keying: $(R HGET "pr:cdr:$cdr" caller_keying) -> $(R HGET "pr:cdr:$cdr" callee_keying)"
echo "ok: CDR $cdr: caller sdes, callee dtls"
wait $UAPID

# 2. the browser calls the device: the device gets SDES on the relay, the browser's answer
# is WebRTC with our role passive (to its actpass)
ip netns exec wr-dev baresip -s -f "$D/alice" -t 40 >"$D/alice2.log" 2>&1 </dev/null &
ALICE=$!
pr_on_exit "kill -9 $ALICE 2>/dev/null"
pr_wait_for 10 bash -c "[ \"\$(redis-cli -s '$D/redis.sock' HGET pr:reg:alice transport)\" = tls ]" ||
	{ tail -30 "$D/alice2.log"; pr_fail "alice did not register"; }
UA carol 8 WSS_UA_CALL=alice WSS_UA_OFFER="$D/offer.sdp" WSS_UA_REMOTE="$D/carol_answer.sdp" >"$D/ua2.log" 2>&1 &
UAPID=$!
pr_wait_for 10 bash -c "redis-cli -s '$D/redis.sock' SCARD pr:sessions | grep -qx 1" ||
	{ cat "$D/ua2.log"; tail -40 "$D/alice2.log"; tail -30 "$D/sp.log"; pr_fail "browser -> device: no session"; }
pr_wait_for 5 grep -q "^confirmed" "$D/ua2.log" || { cat "$D/ua2.log"; pr_fail "browser -> device not confirmed"; }
F=$D/carol_answer.sdp
sdp_has "$F" "^m=audio [0-9]+ UDP/TLS/RTP/SAVPF 0" "answer to the browser"
sdp_has "$F" "^a=ice-lite" "answer to the browser"
sdp_has "$F" "^a=setup:passive" "answer to the browser"
sdp_has "$F" "^a=fingerprint:$OUR_FPR" "answer to the browser"
sdp_has "$F" "^a=mid:0" "answer to the browser"
sdp_has "$F" "^a=candidate:1 1 udp [0-9]+ $SP_ADDR [0-9]+ typ host" "answer to the browser"
sdp_lacks "$F" "a=crypto|BUNDLE" "answer to the browser"
# what the device got (baresip's SIP trace): SDES on the relay, nothing of WebRTC
sed -n '/^v=0/,/^[^a-z]/p' "$D/alice2.log" | sed '/^[^a-z]/q' | tr -d '\r' >"$D/dev_sdp.txt"
sdp_has "$D/dev_sdp.txt" "^m=audio [0-9]+ RTP/SAVP 111 0 126" "offer to the device"
sdp_has "$D/dev_sdp.txt" "^a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" "offer to the device"
sdp_lacks "$D/dev_sdp.txt" "a=ice-|a=fingerprint|a=setup|a=candidate|a=rtcp-fb|a=extmap|a=mid|a=group|$BR_PWD|$DEV_IP" "offer to the device"
sid=$(sid_of)
for kv in a_keying=dtls a_dtls_setup=passive "a_dtls_fingerprint=$BR_FPR" a_ice_remote_ufrag=$BR_UFRAG \
	"a_dtls_local_fingerprint=$OUR_FPR" a_rtcp_mux=1 b_keying=sdes; do
	[ "$(H "$sid" "${kv%%=*}")" = "${kv#*=}" ] || { R HGETALL "pr:session:$sid"; pr_fail "session ${kv%%=*}: '$(H "$sid" "${kv%%=*}")', want '${kv#*=}'"; }
done
[ "$(H "$sid" a_ice_ufrag)" = "$(sed -n 's/^a=ice-ufrag:\(.*\)/\1/p' "$F" | tr -d '\r')" ] || pr_fail "a_ice_ufrag is not the answer's"
echo "ok: browser -> device: SDES toward the device, WebRTC answer (passive) to the browser, session a_keying dtls"
wait $UAPID
pr_wait_for 5 bash -c "redis-cli -s '$D/redis.sock' SCARD pr:sessions | grep -qx 0" || pr_fail "session not ended"
pr_wait_for 5 bash -c "[ \"\$(redis-cli -s '$D/redis.sock' HGET pr:cdr:\$(redis-cli -s '$D/redis.sock' ZRANGE pr:cdrs -1 -1) caller_keying)\" = dtls ]" ||
	pr_fail "CDR caller_keying $(R HGET "pr:cdr:$(last_cdr)" caller_keying), want dtls"
[ "$(R HGET "pr:cdr:$(last_cdr)" callee_keying)" = sdes ] || pr_fail "CDR callee_keying"
echo "ok: CDR: caller dtls, callee sdes"

# 3. an offer without a fingerprint: 488 with a Warning, no call
UA carol 5 WSS_UA_CALL=alice WSS_UA_OFFER="$D/offer_nofp.sdp" >"$D/ua3.log" 2>&1
grep -q "^failed .* 488" "$D/ua3.log" || { cat "$D/ua3.log"; tail -10 "$D/sp.log"; pr_fail "no 488 for an offer without a fingerprint"; }
grep -q "without a sha-256 fingerprint" "$D/sp.log" || pr_fail "the 488's reason is not logged"
echo "ok: a browser offer without a=fingerprint: 488"

# 4. no certificate fingerprint in Redis: 503 (Retry-After), counted; nothing invented
R DEL pr:dtls:fingerprint >/dev/null
UA carol 5 WSS_UA_CALL=alice WSS_UA_OFFER="$D/offer.sdp" >"$D/ua4.log" 2>&1
grep -q "^failed .* 503" "$D/ua4.log" || { cat "$D/ua4.log"; tail -10 "$D/sp.log"; pr_fail "no 503 without pr:dtls:fingerprint"; }
pr_wait_for 3 bash -c "[ \"\$(redis-cli -s '$D/redis.sock' HGET pr:stats:slowpath:pop1:$(hostname) calls_refused_no_dtls)\" = 1 ]" ||
	pr_fail "calls_refused_no_dtls $(spstat calls_refused_no_dtls), want 1"
echo "ok: no DTLS fingerprint: 503, calls_refused_no_dtls 1"
kill $ALICE 2>/dev/null; wait $ALICE 2>/dev/null
R SET pr:dtls:fingerprint "$OUR_FPR" >/dev/null

# 5. BUNDLE (RFC 8843): the browser offers audio and video on one transport; the device
# (baresip with VP8 and a fake camera) takes both. Our answer bundles them on one port with
# one set of ICE credentials; the sessions carry the group (X_bundle*); the members' own
# ports go back to the pool at once, and every port at the end.
{
	sed 's/^a=group:BUNDLE 0\r$/a=group:BUNDLE 0 1\r/' "$D/offer.sdp"
	cat <<SDP
m=video 54400 UDP/TLS/RTP/SAVPF 96 97
c=IN IP4 $DEV_IP
a=rtcp:9 IN IP4 0.0.0.0
a=ice-ufrag:$BR_UFRAG
a=ice-pwd:$BR_PWD
a=fingerprint:$BR_FPR
a=setup:actpass
a=mid:1
a=sendrecv
a=msid:s1 v1
a=rtcp-mux
a=rtcp-rsize
a=rtpmap:96 VP8/90000
a=rtcp-fb:96 nack pli
a=rtpmap:97 rtx/90000
a=fmtp:97 apt=96
a=ssrc-group:FID 2001 2002
a=ssrc:2001 cname:Q/NWs1ao1HmN4Xa5
a=ssrc:2002 cname:Q/NWs1ao1HmN4Xa5
SDP
} | sed 's/\r*$/\r/' >"$D/offer_av.sdp"
grep -q "^a=group:BUNDLE 0 1" "$D/offer_av.sdp" || pr_fail "test: the audio+video offer has no group"
# as a browser offers it, with the MID header extension on both m= lines (RFC 8843 15.2)
sed 's/^\(a=mid:[01]\)\r$/\1\r\na=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r/' "$D/offer_av.sdp" >"$D/offer_av_mid.sdp"
[ "$(grep -c "^a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid" "$D/offer_av_mid.sdp")" = 2 ] ||
	pr_fail "test: the MID extension is not on both m= lines of the offer"
mkdir -p "$D/alicev"
sed -e "s|^sip_listen .*|sip_listen $DEV_IP:5072|" "$D/alice/config" >"$D/alicev/config"
printf 'module vp8.so\nmodule fakevideo.so\nvideo_source fakevideo,nil\nvideo_display fakevideo,nil\nvideo_size 64x48\nvideo_fps 5\n' >>"$D/alicev/config"
cp "$D/alice/accounts" "$D/alicev/accounts"
FREE0=$(R SCARD pr:ports:free)
ip netns exec wr-dev baresip -s -f "$D/alicev" -t 40 >"$D/alice5.log" 2>&1 </dev/null &
ALICE=$!
pr_on_exit "kill -9 $ALICE 2>/dev/null"
pr_wait_for 10 bash -c "[ \"\$(redis-cli -s '$D/redis.sock' HGET pr:reg:alice transport)\" = tls ]" ||
	{ tail -30 "$D/alice5.log"; pr_fail "alice (video) did not register"; }
UA carol 8 WSS_UA_CALL=alice WSS_UA_OFFER="$D/offer_av_mid.sdp" WSS_UA_REMOTE="$D/carol_av.sdp" >"$D/ua5.log" 2>&1 &
UAPID=$!
pr_wait_for 10 bash -c "redis-cli -s '$D/redis.sock' SCARD pr:sessions | grep -qx 2" ||
	{ cat "$D/ua5.log"; tail -40 "$D/alice5.log"; tail -30 "$D/sp.log"; pr_fail "BUNDLE: no two sessions"; }
pr_wait_for 5 grep -q "^confirmed" "$D/ua5.log" || { cat "$D/ua5.log"; pr_fail "BUNDLE: the call was not confirmed"; }
F=$D/carol_av.sdp
sdp_has "$F" "^a=group:BUNDLE 0 1" "BUNDLE answer to the browser"
ap=$(sed -n 's/^m=audio \([0-9]*\) .*/\1/p' "$F" | tr -d '\r')
vp=$(sed -n 's/^m=video \([0-9]*\) .*/\1/p' "$F" | tr -d '\r')
[ -n "$ap" ] && [ "$ap" != 0 ] && [ "$ap" = "$vp" ] || { cat "$F"; pr_fail "BUNDLE: audio port '$ap', video port '$vp' in the answer"; }
[ "$(grep -c "^a=candidate:1 1 udp [0-9]* $SP_ADDR $ap typ host" "$F")" = 2 ] || { cat "$F"; pr_fail "BUNDLE: not one candidate per m= line on the one port"; }
[ "$(sed -n 's/^a=ice-ufrag:\(.*\)/\1/p' "$F" | tr -d '\r' | sort -u | wc -l)" = 1 ] || { cat "$F"; pr_fail "BUNDLE: several ice-ufrags"; }
sed -n '/^v=0/,/^[^a-z]/p' "$D/alice5.log" | sed '/^[^a-z]/q' | tr -d '\r' >"$D/dev_sdp5.txt"
sdp_lacks "$D/dev_sdp5.txt" "a=group|BUNDLE|a=mid" "BUNDLE offer to the device"
s0=$(R SMEMBERS pr:sessions | grep -- '-0$') s1=$(R SMEMBERS pr:sessions | grep -- '-1$')
[ -n "$s0" ] && [ -n "$s1" ] || pr_fail "BUNDLE: sessions '$s0' '$s1'"
grp=$(H "$s0" a_bundle)
[ -n "$grp" ] && [ "$(H "$s1" a_bundle)" = "$grp" ] || { R HGETALL "pr:session:$s1"; pr_fail "BUNDLE: a_bundle '$grp' / '$(H "$s1" a_bundle)'"; }
for kv in "$s0 a_bundle_pos 0" "$s1 a_bundle_pos 1" "$s0 a_bundle_pt 111 0 126" "$s1 a_bundle_pt 96 97" \
	"$s0 a_bundle_ssrc 1001" "$s1 a_bundle_ssrc 2001 2002" "$s0 a_relay_port $ap" "$s1 a_relay_port $ap" \
	"$s0 a_mid 0" "$s1 a_mid 1" "$s0 a_bundle_mid_ext 4" "$s1 a_bundle_mid_ext 4" \
	"$s1 a_ice_ufrag $(H "$s0" a_ice_ufrag)" "$s1 a_ice_pwd $(H "$s0" a_ice_pwd)"; do
	set -- $kv
	k=$1 f=$2
	shift 2
	[ "$(H "$k" "$f")" = "$*" ] || pr_fail "BUNDLE: session $k $f '$(H "$k" "$f")', want '$*'"
done
[ "$(H "$s0" b_bundle)" = "" ] && [ "$(H "$s0" b_relay_port)" != "$(H "$s1" b_relay_port)" ] ||
	pr_fail "BUNDLE: the device's legs must keep a port each"
[ "$(R SCARD pr:ports:free)" = $((FREE0 - 3)) ] || pr_fail "BUNDLE: $(R SCARD pr:ports:free) ports free in the call, want $((FREE0 - 3))"
echo "ok: BUNDLE: the answer bundles audio and video on port $ap, one ufrag; sessions $s0/$s1 in group $grp (pt, ssrc, mid); 3 ports held"
wait $UAPID
pr_wait_for 5 bash -c "redis-cli -s '$D/redis.sock' SCARD pr:sessions | grep -qx 0" || pr_fail "BUNDLE: sessions not ended"
pr_wait_for 5 bash -c "[ \"\$(redis-cli -s '$D/redis.sock' SCARD pr:ports:free)\" = $FREE0 ]" ||
	pr_fail "BUNDLE: $(R SCARD pr:ports:free) ports free after the call, want $FREE0"
echo "ok: BUNDLE: every port back in the pool after the call"
kill $ALICE 2>/dev/null
wait $ALICE 2>/dev/null

# 6. a payload type on both m= lines: no BUNDLE (each m= line its own transport), said why
sed 's/^m=video 54400 UDP\/TLS\/RTP\/SAVPF 96 97/m=video 54400 UDP\/TLS\/RTP\/SAVPF 96 0/' "$D/offer_av.sdp" >"$D/offer_clash.sdp"
ip netns exec wr-dev baresip -s -f "$D/alicev" -t 40 >"$D/alice6.log" 2>&1 </dev/null &
ALICE=$!
pr_on_exit "kill -9 $ALICE 2>/dev/null"
pr_wait_for 10 bash -c "[ \"\$(redis-cli -s '$D/redis.sock' HGET pr:reg:alice transport)\" = tls ]" ||
	{ tail -30 "$D/alice6.log"; pr_fail "alice (video) did not register again"; }
UA carol 6 WSS_UA_CALL=alice WSS_UA_OFFER="$D/offer_clash.sdp" WSS_UA_REMOTE="$D/carol_clash.sdp" >"$D/ua6.log" 2>&1 &
UAPID=$!
pr_wait_for 10 bash -c "redis-cli -s '$D/redis.sock' SCARD pr:sessions | grep -qx 2" ||
	{ cat "$D/ua6.log"; tail -30 "$D/sp.log"; pr_fail "PT clash: no two sessions"; }
pr_wait_for 5 grep -q "^confirmed" "$D/ua6.log" || { cat "$D/ua6.log"; pr_fail "PT clash: the call was not confirmed"; }
F=$D/carol_clash.sdp
sdp_lacks "$F" "BUNDLE" "answer to a browser whose m= lines share a payload type"
ap=$(sed -n 's/^m=audio \([0-9]*\) .*/\1/p' "$F" | tr -d '\r')
vp=$(sed -n 's/^m=video \([0-9]*\) .*/\1/p' "$F" | tr -d '\r')
[ "$ap" != "$vp" ] || pr_fail "PT clash: audio and video on one port $ap"
grep -q "BUNDLE is not used: a payload type on two m= lines" "$D/sp.log" || pr_fail "PT clash: the fallback is not logged"
for s5 in $(R SMEMBERS pr:sessions); do
	[ -z "$(H "$s5" a_bundle)" ] || pr_fail "PT clash: session $s5 has a_bundle"
done
echo "ok: a payload type on both m= lines: no BUNDLE, a port per m= line, the reason logged"
wait $UAPID
kill $ALICE 2>/dev/null
wait $ALICE 2>/dev/null

# 7. BUNDLE the other way: a device (audio and video) calls the browser; our offer lists
# both m= lines in a=group:BUNDLE with a port each (RFC 8843 7.2.1) and one set of ICE
# credentials; the browser's answer bundles them, so the video leg takes the audio's port
# and its own goes back to the pool.
sed 's/^a=setup:actpass\r$/a=setup:active\r/' "$D/offer_av.sdp" >"$D/answer_av.sdp"
FREE0=$(R SCARD pr:ports:free)
UA carol 16 WSS_UA_ANSWER="$D/answer_av.sdp" WSS_UA_REMOTE="$D/carol_offer_av.sdp" >"$D/ua7.log" 2>&1 &
UAPID=$!
pr_on_exit "kill $UAPID 2>/dev/null"
pr_wait_for 10 bash -c "[ \"\$(redis-cli -s '$D/redis.sock' HGET pr:reg:carol transport)\" = wss ]" ||
	{ cat "$D/ua7.log"; pr_fail "carol did not register over wss (7)"; }
ip netns exec wr-dev baresip -s -f "$D/alicev" -e "/dial sip:carol@poprelay" -t 8 >"$D/alice7.log" 2>&1 </dev/null &
ALICE=$!
pr_on_exit "kill -9 $ALICE 2>/dev/null"
pr_wait_for 10 bash -c "redis-cli -s '$D/redis.sock' SCARD pr:sessions | grep -qx 2" ||
	{ cat "$D/ua7.log"; tail -40 "$D/alice7.log"; tail -30 "$D/sp.log"; pr_fail "device -> browser (BUNDLE): no two sessions"; }
pr_wait_for 5 grep -q "^confirmed" "$D/ua7.log" || { cat "$D/ua7.log"; pr_fail "device -> browser (BUNDLE): not confirmed"; }
F=$D/carol_offer_av.sdp
sdp_has "$F" "^a=group:BUNDLE 0 1" "BUNDLE offer to the browser"
ap=$(sed -n 's/^m=audio \([0-9]*\) .*/\1/p' "$F" | tr -d '\r')
vp=$(sed -n 's/^m=video \([0-9]*\) .*/\1/p' "$F" | tr -d '\r')
[ -n "$ap" ] && [ -n "$vp" ] && [ "$ap" != "$vp" ] || { cat "$F"; pr_fail "BUNDLE offer: audio port '$ap', video port '$vp' (a port each)"; }
[ "$(sed -n 's/^a=ice-ufrag:\(.*\)/\1/p' "$F" | tr -d '\r' | sort -u | wc -l)" = 1 ] || { cat "$F"; pr_fail "BUNDLE offer: several ice-ufrags"; }
s0=$(R SMEMBERS pr:sessions | grep -- '-0$') s1=$(R SMEMBERS pr:sessions | grep -- '-1$')
pr_wait_for 5 bash -c "[ -n \"\$(redis-cli -s '$D/redis.sock' HGET pr:session:$s1 b_bundle)\" ]" ||
	{ R HGETALL "pr:session:$s1"; pr_fail "BUNDLE answer: session $s1 has no b_bundle"; }
for kv in "$s0 b_bundle_pos 0" "$s1 b_bundle_pos 1" "$s0 b_relay_port $ap" "$s1 b_relay_port $ap" \
	"$s1 b_bundle $(H "$s0" b_bundle)" "$s1 b_ice_ufrag $(H "$s0" b_ice_ufrag)" "$s0 a_bundle "; do
	set -- $kv
	k=$1 f=$2
	shift 2
	[ "$(H "$k" "$f")" = "$*" ] || pr_fail "BUNDLE answer: session $k $f '$(H "$k" "$f")', want '$*'"
done
[ "$(R SCARD pr:ports:free)" = $((FREE0 - 3)) ] || pr_fail "BUNDLE answer: $(R SCARD pr:ports:free) ports free in the call, want $((FREE0 - 3))"
echo "ok: BUNDLE the other way: our offer groups audio and video (ports $ap, $vp), the browser's answer bundles them on $ap; 3 ports held"
wait $ALICE
pr_wait_for 5 bash -c "redis-cli -s '$D/redis.sock' SCARD pr:sessions | grep -qx 0" || pr_fail "BUNDLE answer: sessions not ended"
pr_wait_for 5 bash -c "[ \"\$(redis-cli -s '$D/redis.sock' SCARD pr:ports:free)\" = $FREE0 ]" ||
	pr_fail "BUNDLE answer: $(R SCARD pr:ports:free) ports free after the call, want $FREE0"
echo "ok: BUNDLE the other way: every port back in the pool after the call"
wait $UAPID

kill -0 "$SP_PID" || pr_fail "slowpath died"
echo "PASS"
