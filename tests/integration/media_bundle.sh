#!/usr/bin/env bash
# BUNDLE (RFC 8843) on a browser leg of the media anchor (docs/media.md, "BUNDLE"): the
# browser's audio and video on ONE 5-tuple (one relay port, one ICE pair, one DTLS
# association, rtcp-mux) while each device keeps a port per m= line. The world is
# media_dtls.sh's: the dataplane on net_af_packet in mb-pop, poprelay-dtls attached, Redis;
# the session records written the way the slowpath writes a bundled call (leg a: ICE, DTLS,
# X_bundle* of one group; leg b: an SDES device per m= line); media/dtlspeer does the ICE
# check and the handshake, mpeer the SRTP (the browser: two SSRCs, PT 0 and PT 96, from the
# handshake's socket). Scenarios, each "ok: ...":
#   a  one nominated check and one handshake on the group's port key both members (the
#      video member installed first: the group forms in any order)
#   b  each device gets only its own m= line's stream (RTP by payload type, SRTCP by the
#      sender SSRC), the browser gets both from the one port
#   c  kill -9 and restart of the dataplane: both members come back keyed and latched from
#      their hashes, media flows both ways again
#   d  a session outside the group is refused the group's port (logged, naming the holder)
#   e  the end of one member leaves the other relaying on the port
#   f  a second group whose members share a payload type (96), with the MID header extension
#      (X_bundle_mid_ext): the browser tags each SSRC's first 5 packets with its member's MID
#      (RFC 8843 15.2) and sends the rest untagged; each device gets only its own member's
#      stream, the untagged packets by the SSRC the tagged ones made known
#   g  the group changes mid-call: while media flows on a keyed, nominated group of two, a
#      third member is installed on its port and the video member's record is updated with
#      another payload type; the two keep relaying through it, the new member takes the
#      group's keys and latch at once (no new handshake, the keys in its hash) and its
#      device gets its stream, the video device the new payload type's
# Counts allow 10% loss (a loaded 2-core machine drops some on the veths); which stream
# reaches which device, authentication and payloads are exact.
# Exits 0 (pass), 77 (skip: not root), 1 (a scenario failed; the failures are listed).
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/media/dtlsenv.sh"
de_init mb mb-bundle
de_topology a=$IPA b=$IPB x=$IPX
de_start

KV_RX=$(ms_key $S80) KV_TX=$(ms_key $S80)
# ms_store_bundle ID MLINE MEDIA POS PTS B_PORT B_RX B_TX: leg a a member of group
# cdr-bundle-a on port 31020 (the slowpath's X_bundle* fields), leg b a device of its own;
# GRP_PORT, GRP and MID (the member's a=mid) and MID_EXT (X_bundle_mid_ext) override; OP
# (install) the stream's op
ms_store_bundle() {
	local id=$1 ml=$2 media=$3 pos=$4 pts=$5 bp=$6 krx=$7 ktx=$8 now a b op=${OP:-install}
	local gp=${GRP_PORT:-31020} grp=${GRP:-cdr-bundle-a} mid=${MID:-$2}
	local mx=${MID_EXT:+ a_bundle_mid_ext $MID_EXT}
	now=$(date +%s)
	a=$(ms_leg_fields a "peer=$IPA:45000 relay=$gp mux=1 ufrag=$UFRAG pwd=$PWD rufrag=$RUFRAG")
	b=$(ms_leg_fields b "peer=$IPB:$((bp + 10000)) relay=$bp suite=$S80 rx=$krx tx=$ktx mux=1")
	ms_tx <<TX
DEL pr:session:$id
HSET pr:session:$id v 1 id $id call_id call-bundle@media-dtls.test cdr_id cdr-bundle media $media mline $ml idle_timeout_s 600 created $now updated $now$a$b a_profile RTP/SAVP a_encrypted 1 a_keying dtls a_dtls_setup passive a_dtls_fingerprint "$BFPR" a_bundle $grp a_bundle_pos $pos a_bundle_pt "$pts" a_mid $mid$mx
SADD pr:sessions $id
XADD pr:sessions:stream MAXLEN ~ 100000 * op $op id $id ts $now
TX
}
# the video member first: the group forms whatever the order its members come in
ms_store_bundle bv 1 video 1 "96 97" 31024 "$KV_RX" "$KV_TX" || pr_fail "session bv: redis refused the record"
ms_store_bundle ba 0 audio 0 "111 0" 31022 "$KB_RX" "$KB_TX" || pr_fail "session ba: redis refused the record"
pr_wait_for 5 live bv || pr_fail "session bv not installed"
pr_wait_for 5 live ba || { tail -5 "$tmp/dp.log"; pr_fail "session ba not installed (its port is bv's group's)"; }
pr_log "a: one nominated check and one DTLS handshake on the group's port"
M0=$(mstats)
I=$(dtls mb-a $IPA:44000 --to $RELAY:31020 --ufrag $UFRAG --pwd $PWD --rufrag $RUFRAG)
echo "$I" >"$tmp/i.json"
pr_wait_for 5 sh -c "redis-cli -s $tmp/redis.sock HEXISTS pr:session:bv a_dtls_key_rx | grep -q 1" || true
pr_wait_for 5 sh -c "redis-cli -s $tmp/redis.sock HEXISTS pr:session:ba a_dtls_key_rx | grep -q 1" || true
SAMEK=0
[ -n "$(ms_redis HGET pr:session:ba a_dtls_key_rx)" ] &&
	[ "$(ms_redis HGET pr:session:ba a_dtls_key_rx)" = "$(ms_redis HGET pr:session:bv a_dtls_key_rx)" ] &&
	[ "$(ms_redis HGET pr:session:ba a_dtls_key_tx)" = "$(ms_redis HGET pr:session:bv a_dtls_key_tx)" ] && SAMEK=1
chk "a: one nominated check and one handshake on the bundled port key both members (the same keys in both hashes)" \
	I="$I" M0="$M0" M1="$(mstats)" SAMEK=$SAMEK -- \
	'I["answered"] and I["handshake"] and I["fpr_ok"] and I["profile"] == "AES_CM_128_HMAC_SHA1_80"' \
	'd(M1, M0, "dtls_handshakes_started") == 1 and d(M1, M0, "dtls_handshakes_completed") == 1' \
	'd(M1, M0, "dtls_keyed") == 2 and d(M1, M0, "ice_nominations") == 2 and SAMEK == 1'
ITX=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["tx"])' "$tmp/i.json")
IRX=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["rx"])' "$tmp/i.json")
pr_log "b: audio and video from the browser's one socket, each device on its own port"
# the browser sends audio (PT 0) and video (PT 96) from the one socket of its handshake, with
# an SRTCP sender report per SSRC every 10 packets; each device has its own port and keys
peer mb-b i-da --bind $IPB:41022 --to $RELAY:31022 --suite $S80 --tx-key "$KB_RX" --rx-key "$KB_TX" \
	--rtcp-mux --id B --expect-id A --ssrc 0xb1000001 --pt 0 --seq 100 --count 50 --rate 50 \
	--rtcp-every 10 --start-delay-ms 300 --expect 50 --linger-ms 2000
peer mb-b i-dv --bind $IPB:41024 --to $RELAY:31024 --suite $S80 --tx-key "$KV_RX" --rx-key "$KV_TX" \
	--rtcp-mux --id V --expect-id A --ssrc 0xb2000001 --pt 96 --clock 90000 --seq 100 --count 50 --rate 50 \
	--rtcp-every 10 --start-delay-ms 300 --expect 50 --linger-ms 2000
peer mb-a i-a --bind $IPA:44000 --to $RELAY:31020 --suite $S80 --tx-key "$ITX" --rx-key "$IRX" \
	--rtcp-mux --id A --ssrc 0xa1000001,0xa2000001 --pt 0,96 --seq 100,100 --count 50 --rate 50 \
	--rtcp-every 10 --start-delay-ms 300 --expect 100 --linger-ms 2000
waitp i-a i-da i-dv
chk "b: each device gets only its own m= line's stream (by payload type; SRTCP by sender SSRC), the browser both, all from the one port" \
	A=@"$tmp/i-a.json" DA=@"$tmp/i-da.json" DV=@"$tmp/i-dv.json" -- \
	'list(DA["rx_ssrcs"]) == ["0xa1000001"] and list(DV["rx_ssrcs"]) == ["0xa2000001"]' \
	'DA["rx_ssrcs"]["0xa1000001"]["received"] >= 45 and DV["rx_ssrcs"]["0xa2000001"]["received"] >= 45' \
	'DA["rx_ssrcs"]["0xa1000001"]["rtcp"] >= 3 and DV["rx_ssrcs"]["0xa2000001"]["rtcp"] >= 3' \
	'DA["payload_ok"] == DA["rtp_ok"] and DV["payload_ok"] == DV["rtp_ok"] and DA["auth_fail"] == 0 and DV["auth_fail"] == 0' \
	'A["rtp_ok"] >= 90 and A["payload_ok"] == A["rtp_ok"] and A["auth_fail"] == 0 and A["wrong_sender"] == 0' \
	'sorted(A["rx_ssrcs"]) == ["0xb1000001", "0xb2000001"] and A["from"] == ["198.51.100.10:31020"]'

# ---- c: kill -9 and restart ----
pr_log "c: kill -9 of the dataplane, then a restart: both members come back from their hashes"
sleep 1 # (a stats write: the latches and streams are in the hashes)
kill -9 $dp_pid
wait $dp_pid 2>/dev/null || true
rm -rf "/var/run/dpdk/$PREFIX"
de_start_dp
pr_wait_for 5 live ba || pr_fail "session ba not restored"
pr_wait_for 5 live bv || pr_fail "session bv not restored"
pr_wait_for 10 attached || true
# (the new dataplane learns the devices' link addresses: no first packet waits for ARP)
for d in a b; do ip netns exec mb-$d ping -c 1 -W 2 $RELAY >/dev/null || true; done
peer mb-b c-da --bind $IPB:41022 --to $RELAY:31022 --suite $S80 --tx-key "$KB_RX" --rx-key "$KB_TX" \
	--rtcp-mux --id B --expect-id A --ssrc 0xb1000001 --pt 0 --seq 1000 --count 30 --rate 50 \
	--start-delay-ms 300 --expect 30 --linger-ms 1500
peer mb-b c-dv --bind $IPB:41024 --to $RELAY:31024 --suite $S80 --tx-key "$KV_RX" --rx-key "$KV_TX" \
	--rtcp-mux --id V --expect-id A --ssrc 0xb2000001 --pt 96 --clock 90000 --seq 1000 --count 30 \
	--rate 50 --start-delay-ms 300 --expect 30 --linger-ms 1500
peer mb-a c-a --bind $IPA:44000 --to $RELAY:31020 --suite $S80 --tx-key "$ITX" --rx-key "$IRX" \
	--rtcp-mux --id A --ssrc 0xa1000001,0xa2000001 --pt 0,96 --seq 1000,1000 --count 30 --rate 50 \
	--start-delay-ms 300 --expect 60 --linger-ms 1500
waitp c-a c-da c-dv
drops >"$tmp/c-drops.json"; sess ba >"$tmp/c-ba.json"; sess bv >"$tmp/c-bv.json"
[ -z "${MB_DEBUG:-}" ] || { cat "$tmp/c-drops.json" "$tmp/c-ba.json" "$tmp/c-bv.json"; ms_redis HGETALL pr:session:bv | grep -A1 latched; } >&2
chk "c: after the restart both members relay again, keys from the hashes, each stream to its own device" \
	A=@"$tmp/c-a.json" DA=@"$tmp/c-da.json" DV=@"$tmp/c-dv.json" M="$(mstats)" -- \
	'M["dtls_keys_restored"] == 2' \
	'list(DA["rx_ssrcs"]) == ["0xa1000001"] and list(DV["rx_ssrcs"]) == ["0xa2000001"]' \
	'DA["payload_ok"] >= 27 and DV["payload_ok"] >= 27 and A["payload_ok"] >= 54'

pr_log "d: a session outside the group on the group's port"
ms_store_dtls install bx 31020 "$BFPR" 31026 || pr_fail "session bx: redis refused the record"
sleep 1
chk "d: a session outside the group is refused the group's port; the group's members stay" \
	BX="$(sess bx | grep -c '"id"' || true)" BA="$(sess ba | grep -c '"id"' || true)" -- \
	'BX == 0 and BA == 1'
grep -q "session bx refused: relay port 31020 is session b[av]'s" "$tmp/dp.log" ||
	{ FAILS+=("d: log"); pr_log "FAIL: d: the refusal of bx is not logged naming the group's session"; }
pr_log "e: the video member ends"
ms_end bv || pr_fail "session bv: the end refused"
pr_wait_for 5 sh -c "! $TEL $PREFIX /poprelay/media/session,bv | grep -q '\"id\"'" || true
peer mb-b i2-da --bind $IPB:41022 --to $RELAY:31022 --suite $S80 --tx-key "$KB_RX" --rx-key "$KB_TX" \
	--rtcp-mux --id B --expect-id A --ssrc 0xb1000001 --pt 0 --seq 2000 --count 30 --rate 50 \
	--start-delay-ms 300 --expect 30 --linger-ms 1500
peer mb-a i2-a --bind $IPA:44000 --to $RELAY:31020 --suite $S80 --tx-key "$ITX" --rx-key "$IRX" \
	--rtcp-mux --id A --ssrc 0xa1000001 --seq 2000 --pt 0 --count 30 --rate 50 \
	--start-delay-ms 300 --expect 30 --linger-ms 1500
waitp i2-a i2-da
chk "e: with the video member ended, audio still flows both ways on the port" \
	A=@"$tmp/i2-a.json" DA=@"$tmp/i2-da.json" -- \
	'A["payload_ok"] >= 27 and DA["payload_ok"] >= 27 and A["auth_fail"] == 0 and DA["auth_fail"] == 0'

pr_log "f: a group whose members share payload type 96, told apart by the MID header extension"
KM_RX=$(ms_key $S80) KM_TX=$(ms_key $S80) KN_RX=$(ms_key $S80) KN_TX=$(ms_key $S80)
GRP_PORT=31030 GRP=cdr-mid-a MID=a0 MID_EXT=3 ms_store_bundle fa 0 audio 0 "96 0" 31032 "$KM_RX" "$KM_TX" ||
	pr_fail "session fa: redis refused the record"
GRP_PORT=31030 GRP=cdr-mid-a MID=v1 MID_EXT=3 ms_store_bundle fv 1 video 1 "96 97" 31034 "$KN_RX" "$KN_TX" ||
	pr_fail "session fv: redis refused the record"
pr_wait_for 5 live fa || pr_fail "session fa not installed"
pr_wait_for 5 live fv || { tail -5 "$tmp/dp.log"; pr_fail "session fv not installed"; }
F=$(dtls mb-a $IPA:44100 --to $RELAY:31030 --ufrag $UFRAG --pwd $PWD --rufrag $RUFRAG)
echo "$F" >"$tmp/f.json"
pr_wait_for 5 sh -c "redis-cli -s $tmp/redis.sock HEXISTS pr:session:fv a_dtls_key_rx | grep -q 1" ||
	pr_fail "f: the group was not keyed"
FTX=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["tx"])' "$tmp/f.json")
FRX=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["rx"])' "$tmp/f.json")
peer mb-b f-da --bind $IPB:41032 --to $RELAY:31032 --suite $S80 --tx-key "$KM_RX" --rx-key "$KM_TX" \
	--rtcp-mux --id B --expect-id A --ssrc 0xb3000001 --pt 96 --seq 100 --count 40 --rate 50 \
	--start-delay-ms 300 --expect 40 --linger-ms 1500
peer mb-b f-dv --bind $IPB:41034 --to $RELAY:31034 --suite $S80 --tx-key "$KN_RX" --rx-key "$KN_TX" \
	--rtcp-mux --id V --expect-id A --ssrc 0xb4000001 --pt 96 --clock 90000 --seq 100 --count 40 \
	--rate 50 --start-delay-ms 300 --expect 40 --linger-ms 1500
peer mb-a f-a --bind $IPA:44100 --to $RELAY:31030 --suite $S80 --tx-key "$FTX" --rx-key "$FRX" \
	--rtcp-mux --id A --ssrc 0xc1000001,0xc2000001 --pt 96,96 --seq 100,100 --count 40 --rate 50 \
	--mid 3:a0,v1 --mid-packets 5 --start-delay-ms 300 --expect 80 --linger-ms 1500
waitp f-a f-da f-dv
chk "f: one payload type for two members: each device gets only its own member's SSRC (by the MID on its first packets, then by SSRC), all of it" \
	A=@"$tmp/f-a.json" DA=@"$tmp/f-da.json" DV=@"$tmp/f-dv.json" -- \
	'A["mid_tagged"] == 10' \
	'list(DA["rx_ssrcs"]) == ["0xc1000001"] and list(DV["rx_ssrcs"]) == ["0xc2000001"]' \
	'DA["rx_ssrcs"]["0xc1000001"]["received"] >= 36 and DV["rx_ssrcs"]["0xc2000001"]["received"] >= 36' \
	'DA["payload_ok"] == DA["rtp_ok"] and DV["payload_ok"] == DV["rtp_ok"] and DA["auth_fail"] == 0 and DV["auth_fail"] == 0' \
	'A["payload_ok"] >= 72 and A["auth_fail"] == 0 and sorted(A["rx_ssrcs"]) == ["0xb3000001", "0xb4000001"]'

pr_log "g: a third member joins and the video member's payload types change, mid-call"
KJA_RX=$(ms_key $S80) KJA_TX=$(ms_key $S80) KJV_RX=$(ms_key $S80) KJV_TX=$(ms_key $S80)
KJT_RX=$(ms_key $S80) KJT_TX=$(ms_key $S80)
GRP_PORT=31040 GRP=cdr-join-a ms_store_bundle ja 0 audio 0 "111 0" 31042 "$KJA_RX" "$KJA_TX" ||
	pr_fail "session ja: redis refused the record"
GRP_PORT=31040 GRP=cdr-join-a ms_store_bundle jv 1 video 1 "96 97" 31044 "$KJV_RX" "$KJV_TX" ||
	pr_fail "session jv: redis refused the record"
pr_wait_for 5 live ja || pr_fail "session ja not installed"
pr_wait_for 5 live jv || { tail -5 "$tmp/dp.log"; pr_fail "session jv not installed"; }
J=$(dtls mb-a $IPA:44200 --to $RELAY:31040 --ufrag $UFRAG --pwd $PWD --rufrag $RUFRAG)
echo "$J" >"$tmp/j.json"
pr_wait_for 5 sh -c "redis-cli -s $tmp/redis.sock HEXISTS pr:session:jv a_dtls_key_rx | grep -q 1" ||
	pr_fail "g: the group was not keyed"
JTX=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["tx"])' "$tmp/j.json")
JRX=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["rx"])' "$tmp/j.json")
M0=$(mstats)
# 3 s of audio and video; the change lands in the middle of it
peer mb-b g-da --bind $IPB:41042 --to $RELAY:31042 --suite $S80 --tx-key "$KJA_RX" --rx-key "$KJA_TX" \
	--rtcp-mux --id B --expect-id A --ssrc 0xb5000001 --pt 0 --seq 100 --count 150 --rate 50 \
	--start-delay-ms 300 --expect 150 --linger-ms 1500
peer mb-b g-dv --bind $IPB:41044 --to $RELAY:31044 --suite $S80 --tx-key "$KJV_RX" --rx-key "$KJV_TX" \
	--rtcp-mux --id V --expect-id A --ssrc 0xb6000001 --pt 96 --clock 90000 --seq 100 --count 150 \
	--rate 50 --start-delay-ms 300 --expect 150 --linger-ms 1500
peer mb-a g-a --bind $IPA:44200 --to $RELAY:31040 --suite $S80 --tx-key "$JTX" --rx-key "$JRX" \
	--rtcp-mux --id A --ssrc 0xd1000001,0xd2000001 --pt 0,96 --seq 100,100 --count 150 --rate 50 \
	--start-delay-ms 300 --expect 300 --linger-ms 1500
sleep 1.8
GRP_PORT=31040 GRP=cdr-join-a ms_store_bundle jt 2 video 2 "98" 31046 "$KJT_RX" "$KJT_TX" ||
	pr_fail "session jt: redis refused the record"
OP=update GRP_PORT=31040 GRP=cdr-join-a ms_store_bundle jv 1 video 1 "96 100" 31044 "$KJV_RX" "$KJV_TX" ||
	pr_fail "session jv: redis refused the update"
waitp g-a g-da g-dv
pr_wait_for 5 live jt || { tail -5 "$tmp/dp.log"; pr_fail "session jt not installed (a third member of group cdr-join-a)"; }
SAMEK=0
[ -n "$(ms_redis HGET pr:session:jt a_dtls_key_rx)" ] &&
	[ "$(ms_redis HGET pr:session:jt a_dtls_key_rx)" = "$(ms_redis HGET pr:session:ja a_dtls_key_rx)" ] &&
	[ "$(ms_redis HGET pr:session:jt a_dtls_key_tx)" = "$(ms_redis HGET pr:session:ja a_dtls_key_tx)" ] && SAMEK=1
chk "g: the members that stay relay on through a member's arrival and another's update; the new one has the group's keys and latch, no new handshake" \
	A=@"$tmp/g-a.json" DA=@"$tmp/g-da.json" DV=@"$tmp/g-dv.json" M0="$M0" M1="$(mstats)" SAMEK=$SAMEK \
	JT="$(sess jt)" -- \
	'list(DA["rx_ssrcs"]) == ["0xd1000001"] and list(DV["rx_ssrcs"]) == ["0xd2000001"]' \
	'DA["payload_ok"] >= 135 and DV["payload_ok"] >= 135 and DA["auth_fail"] == 0 and DV["auth_fail"] == 0' \
	'A["payload_ok"] >= 270 and A["auth_fail"] == 0 and sorted(A["rx_ssrcs"]) == ["0xb5000001", "0xb6000001"]' \
	'SAMEK == 1 and JT["a"]["latched"] == "198.51.100.21:44200"' \
	'd(M1, M0, "dtls_handshakes_started") == 0 and d(M1, M0, "dtls_legs_failed") == 0'
# the three members: audio (PT 0), video on its new payload type (100), the new member (98)
peer mb-b g2-da --bind $IPB:41042 --to $RELAY:31042 --suite $S80 --tx-key "$KJA_RX" --rx-key "$KJA_TX" \
	--rtcp-mux --id B --expect-id A --ssrc 0xb5000001 --pt 0 --seq 1000 --count 40 --rate 50 \
	--start-delay-ms 300 --expect 40 --linger-ms 1500
peer mb-b g2-dv --bind $IPB:41044 --to $RELAY:31044 --suite $S80 --tx-key "$KJV_RX" --rx-key "$KJV_TX" \
	--rtcp-mux --id V --expect-id A --ssrc 0xb6000001 --pt 96 --clock 90000 --seq 1000 --count 40 \
	--rate 50 --start-delay-ms 300 --expect 40 --linger-ms 1500
peer mb-b g2-dt --bind $IPB:41046 --to $RELAY:31046 --suite $S80 --tx-key "$KJT_RX" --rx-key "$KJT_TX" \
	--rtcp-mux --id T --expect-id A --ssrc 0xb7000001 --pt 98 --clock 90000 --seq 100 --count 40 \
	--rate 50 --start-delay-ms 300 --expect 40 --linger-ms 1500
peer mb-a g2-a --bind $IPA:44200 --to $RELAY:31040 --suite $S80 --tx-key "$JTX" --rx-key "$JRX" \
	--rtcp-mux --id A --ssrc 0xd1000001,0xd2000001,0xd3000001 --pt 0,100,98 --seq 1000,1000,100 \
	--count 40 --rate 50 --start-delay-ms 300 --expect 120 --linger-ms 1500
waitp g2-a g2-da g2-dv g2-dt
chk "g: after the change each of the three devices gets only its member's stream (the video one by its new payload type), the browser all three from the one port" \
	A=@"$tmp/g2-a.json" DA=@"$tmp/g2-da.json" DV=@"$tmp/g2-dv.json" DT=@"$tmp/g2-dt.json" M0="$M0" M2="$(mstats)" -- \
	'list(DA["rx_ssrcs"]) == ["0xd1000001"] and list(DV["rx_ssrcs"]) == ["0xd2000001"] and list(DT["rx_ssrcs"]) == ["0xd3000001"]' \
	'DA["payload_ok"] >= 36 and DV["payload_ok"] >= 36 and DT["payload_ok"] >= 36' \
	'DA["auth_fail"] == 0 and DV["auth_fail"] == 0 and DT["auth_fail"] == 0' \
	'A["payload_ok"] >= 108 and A["auth_fail"] == 0 and A["from"] == ["198.51.100.10:31040"]' \
	'sorted(A["rx_ssrcs"]) == ["0xb5000001", "0xb6000001", "0xb7000001"]' \
	'd(M2, M0, "dtls_handshakes_started") == 0'

de_finish media_bundle
