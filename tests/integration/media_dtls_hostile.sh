#!/usr/bin/env bash
# Hostile DTLS-SRTP input against the media anchor and poprelay-dtls (docs/media.md,
# "DTLS-SRTP"; issue 19, "Hostile input"): the dataplane on net_af_packet in namespace
# mh-pop, poprelay-dtls with small bounds ([dtls] max_handshakes 2, handshake_timeout_s 2,
# per_source_per_s 1), Redis; sessions written the way the slowpath writes them. ClientHellos
# are real ones (openssl s_client's, captured by media/dtls_hostile.py); the browsers that
# complete are media/dtlspeer (OpenSSL). Scenarios, each "ok: ...":
#   a  a ClientHello flood from 16 sources no check ever nominated, to a DTLS-SRTP leg and to
#      an SDES leg, while the workers relay an SDES call beside it: the call loses nothing
#      worth a mention, the flood is dropped on the workers (media_dtls on the DTLS-SRTP
#      leg; on the SDES leg, which has no ICE, it is malformed RTP: media_malformed),
#      nothing reaches the process
#   b  ClientHellos of three new legs from one nominated source within a second: the process
#      admits one a second (dtls_rate_limited); the browsers' retransmissions get the others
#      through, all three keyed
#   c  two peers that send a ClientHello and fall silent hold both handshake slots: a third
#      leg's ClientHello is refused busy and gets through on its retransmission once the two
#      fail on handshake_timeout_s (dtls_failed_timeout, both reported to end with reason
#      dtls-timeout); a leg whose role is active, nominated while the slots are full, is
#      refused busy and reported to end (dtls-busy) rather than left waiting forever
#   d  STUN checks with a wrong MESSAGE-INTEGRITY (right ufrags, USE-CANDIDATE): unanswered,
#      counted ice_bad_integrity, no latch; the same source's ClientHello is then dropped
#   e  poprelay-exporter: the families equal the telemetry after all this, promtool agrees
# Exits 0 (pass), 77 (skip: not root), 1 (a scenario failed; the failures are listed).
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
trap 'trap "" INT TERM; exit 130' INT TERM
pr_need_root
DP=$BUILD/poprelay-dataplane
DTLS=$BUILD/poprelay-dtls
EXP=$BUILD/poprelay-exporter
MPEER=$BUILD/tests/integration/media/mpeer
PEER=$BUILD/tests/integration/media/dtlspeer
H=$PR_ROOT/tests/integration/media
for b in "$DP" "$DTLS" "$EXP" "$MPEER" "$PEER"; do [ -x "$b" ] || pr_fail "$b not built"; done
command -v openssl >/dev/null || pr_fail "openssl missing"
command -v promtool >/dev/null || pr_fail "promtool missing (make deps installs prometheus)"
TEL="python3 $PR_ROOT/tests/integration/dp_telemetry.py"
HOSTILE="python3 $H/dtls_hostile.py"
PREFIX=md-hostile
RELAY=198.51.100.10
IPA=198.51.100.21
IPB=198.51.100.22
S80=AES_CM_128_HMAC_SHA1_80
UFRAG=anch0r
PWD=Pr1v8+ice/pwd/of/the/anchor
RUFRAG=br0wser

tmp=$(pr_tmpdir)
pr_redis_start "$tmp"
ms_redis() { redis-cli -s "$tmp/redis.sock" "$@"; }
MS_RELAY=$RELAY
. "$H/sessions.sh"

for ns in mh-pop mh-br mh-a mh-b mh-x; do
	pr_netns $ns
	ip netns exec $ns sysctl -qw net.ipv6.conf.default.disable_ipv6=1 net.ipv6.conf.all.disable_ipv6=1
done
ip -n mh-br link add mhbr type bridge
ip -n mh-br link set mhbr up
pr_veth mh-pop mhp0 mh-br mhbp
for d in a b x; do pr_veth mh-$d mh${d}0 mh-br mhb$d; done
for p in mhbp mhba mhbb mhbx; do ip -n mh-br link set $p master mhbr; done
ip -n mh-a addr add $IPA/24 dev mha0
ip -n mh-b addr add $IPB/24 dev mhb0
# mh-x: the hostile host, 16 addresses (198.51.100.70-85)
XS=()
for i in $(seq 70 85); do
	ip -n mh-x addr add 198.51.100.$i/24 dev mhx0
	XS+=(198.51.100.$i)
done

sed -e "s|^device = .*|device = net_af_packet0,iface=mhp0,qpairs=2|" \
	-e "s|^huge = .*|huge = no|" -e "s|^memory_mb = .*|memory_mb = 256|" \
	-e "s|^file_prefix = .*|file_prefix = $PREFIX|" \
	-e "s|^mbuf_pool_size = .*|mbuf_pool_size = 8191|" \
	-e "s|^worker_idle_sleep_us = .*|worker_idle_sleep_us = 20|" \
	-e "s|^socket = .*|socket = $tmp/redis.sock|" \
	-e "s|^user = .*|user =|" -e "s|^password_file = .*|password_file =|" \
	"$PR_ROOT/images/poprelay.conf" >"$tmp/dp.conf"
cat >>"$tmp/dp.conf" <<CONF

[media]
port_min = 32000
port_max = 32199
consumer = dataplane
stats_interval_ms = 500
dtls_socket = $tmp/dtls.sock

[dtls]
dataplane_socket = $tmp/dtls.sock
cert_dir = $tmp/anchor-cert
handshake_timeout_s = 2
max_handshakes = 2
per_source_per_s = 1
CONF
pr_on_exit "rm -rf /var/run/dpdk/$PREFIX"

tel() { $TEL $PREFIX "$@"; }
ip netns exec mh-pop "$DP" -c "$tmp/dp.conf" >>"$tmp/dp.out" 2>>"$tmp/dp.log" &
pr_on_exit "kill -9 $! 2>/dev/null"
pr_wait_for 30 sh -c "$TEL $PREFIX /poprelay/media/stats | grep -q '\"redis_up\": 1'" ||
	{ tail -30 "$tmp/dp.log"; pr_fail "the dataplane did not come up with the media anchor"; }
"$DTLS" -c "$tmp/dp.conf" >>"$tmp/dtls.log" 2>&1 &
pr_on_exit "kill $! 2>/dev/null"
pr_wait_for 10 sh -c "$TEL $PREFIX /poprelay/media/stats | grep -q '\"dtls_process_attached\": 1'" ||
	{ tail -20 "$tmp/dtls.log"; pr_fail "poprelay-dtls did not attach"; }
AFPR=$(ms_redis GET pr:dtls:fingerprint)
for d in a b x; do
	ip netns exec mh-$d ping -c 1 -W 2 $RELAY >/dev/null || pr_fail "mh-$d cannot ping the relay"
done
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=browser \
	-days 2 -keyout "$tmp/browser.key" -out "$tmp/browser.crt" 2>/dev/null
BFPR="sha-256 $(openssl x509 -in "$tmp/browser.crt" -noout -fingerprint -sha256 | sed 's/.*=//')"
ip netns exec mh-x $HOSTILE capture "$tmp/hello.bin" >/dev/null || pr_fail "no ClientHello captured from openssl s_client"

FAILS=()
chk() {
	local label=$1
	shift
	if python3 "$H/check.py" "$@"; then
		pr_log "ok: $label"
	else
		FAILS+=("$label")
		pr_log "FAIL: $label"
	fi
}
declare -A PIDS
mpeer() {
	local ns=$1 name=$2
	shift 2
	ip netns exec "$ns" "$MPEER" "$@" >"$tmp/$name.json" 2>"$tmp/$name.err" &
	PIDS[$name]=$!
	pr_on_exit "kill ${PIDS[$name]} 2>/dev/null"
}
waitp() {
	local n rc
	for n in "$@"; do
		rc=0
		wait "${PIDS[$n]}" || rc=$?
		[ $rc = 0 ] || { cat "$tmp/$n.err" >&2; pr_fail "$n exited $rc"; }
	done
}
# dtls NS IP:PORT --to RELAY:PORT [ARGS...]: a browser that completes (dtlspeer)
dtls() {
	local ns=$1 from=$2
	shift 2
	ip netns exec "$ns" "$PEER" --bind "$from" --cert "$tmp/browser.crt" --key "$tmp/browser.key" \
		--anchor-fpr "$AFPR" --ufrag $UFRAG --pwd $PWD --rufrag $RUFRAG "$@" || true
}
mstats() { tel /poprelay/media/stats; }
drops() { tel /poprelay/drops; }
live() { tel "/poprelay/media/session,$1" | grep -q '"id"'; }
events() { ms_redis XRANGE pr:sessions:events - + | paste -sd' '; }
# has_event ID REASON: 1 when pr:sessions:events reports session ID to end for REASON
has_event() { events | grep -cE "(^| )id $1 cdr_id cdr-$1 reason $2( |$)" || true; }

# A session whose leg a is a browser's (ICE-lite, DTLS-SRTP, SETUP our role: passive unless
# given) and leg b an SDES device: store_dtls ID A_PORT [SETUP]
KB_RX=$(ms_key $S80) KB_TX=$(ms_key $S80)
store_dtls() {
	local id=$1 ap=$2 setup=${3:-passive} now a b
	now=$(date +%s)
	a=$(ms_leg_fields a "peer=$IPA:45000 relay=$ap mux=1 ufrag=$UFRAG pwd=$PWD rufrag=$RUFRAG")
	b=$(ms_leg_fields b "peer=$IPB:$((ap + 10002)) relay=$((ap + 2)) suite=$S80 rx=$KB_RX tx=$KB_TX mux=1")
	ms_tx <<TX
DEL pr:session:$id
HSET pr:session:$id v 1 id $id call_id call-$id@media-dtls-hostile.test cdr_id cdr-$id media audio mline 0 idle_timeout_s 600 created $now updated $now$a$b a_profile RTP/SAVP a_encrypted 1 a_keying dtls a_dtls_setup $setup a_dtls_fingerprint "$BFPR"
SADD pr:sessions $id
XADD pr:sessions:stream MAXLEN ~ 100000 * op install id $id ts $now
TX
	pr_wait_for 5 live "$id" || pr_fail "session $id not installed"
}

# ---- a: a ClientHello flood beside an SDES call ----
pr_log "a: a ClientHello flood from 16 sources never nominated, beside an SDES call"
K1=$(ms_key $S80) K2=$(ms_key $S80) K3=$(ms_key $S80) K4=$(ms_key $S80)
ms_store install sc "peer=$IPA:42000 relay=32000 suite=$S80 rx=$K1 tx=$K2 mux=1" \
	"peer=$IPB:42002 relay=32002 suite=$S80 rx=$K3 tx=$K4 mux=1" || pr_fail "session sc refused"
pr_wait_for 5 live sc || pr_fail "session sc not installed"
store_dtls sd 32004
M0=$(mstats) D0=$(drops)
mpeer mh-a call-a --bind $IPA:42000 --to $RELAY:32000 --suite $S80 --tx-key "$K1" --rx-key "$K2" \
	--rtcp-mux --id A --expect-id B --ssrc 0xa0000001 --seq 100 --count 300 --rate 100 \
	--start-delay-ms 300 --expect 300 --linger-ms 2000
mpeer mh-b call-b --bind $IPB:42002 --to $RELAY:32002 --suite $S80 --tx-key "$K3" --rx-key "$K4" \
	--rtcp-mux --id B --expect-id A --ssrc 0xb0000001 --seq 100 --count 300 --rate 100 \
	--start-delay-ms 300 --expect 300 --linger-ms 2000
SRCS=$(IFS=,; echo "${XS[*]}")
FL=$(ip netns exec mh-x $HOSTILE flood --sources "$SRCS" --to $RELAY:32004,$RELAY:32000 \
	--hello "$tmp/hello.bin" --count 3000 --rate 1000)
waitp call-a call-b
sleep 1
chk "a: the SDES call relays through the flood; the ClientHellos are dropped on the workers (media_dtls), none reaches poprelay-dtls" \
	FL="$FL" A=@"$tmp/call-a.json" B=@"$tmp/call-b.json" M0="$M0" M1="$(mstats)" D0="$D0" D1="$(drops)" -- \
	'FL["sent"] == 3000 and FL["sources"] == 16' \
	'A["payload_ok"] >= 291 and B["payload_ok"] >= 291 and A["auth_fail"] == 0 and B["auth_fail"] == 0' \
	'd(D1, D0, "media_dtls") >= 1425 and d(M1, M0, "dtls_dropped") == d(D1, D0, "media_dtls")' \
	'd(D1, D0, "media_malformed") >= 1425' \
	'd(M1, M0, "dtls_to_process") == 0 and d(M1, M0, "dtls_handshakes_started") == 0' \
	'd(M1, M0, "dtls_rate_limited") == 0 and M1["dtls_keyed"] == 0'

# ---- b: the process's per-source rate limit ----
pr_log "b: three new legs' ClientHellos from one nominated source within a second"
for i in 1 2 3; do store_dtls r$i $((32006 + 4 * i)); done
M0=$(mstats)
for i in 1 2 3; do
	dtls mh-a $IPA:$((43006 + 4 * i)) --to $RELAY:$((32006 + 4 * i)) --timeout-ms 12000 >"$tmp/r$i.json" &
	PIDS[r$i]=$!
done
for i in 1 2 3; do wait "${PIDS[r$i]}" || true; done
pr_wait_for 5 sh -c "[ \$(redis-cli -s $tmp/redis.sock HEXISTS pr:session:r3 a_dtls_key_rx) = 1 ]" || true
chk "b: one new leg a second from a source: the others are rate-limited, their retransmissions get through, all three keyed" \
	R1=@"$tmp/r1.json" R2=@"$tmp/r2.json" R3=@"$tmp/r3.json" M0="$M0" M1="$(mstats)" \
	K="$(for i in 1 2 3; do ms_redis HEXISTS pr:session:r$i a_dtls_key_rx; done | paste -sd+ | bc)" -- \
	'R1["handshake"] and R2["handshake"] and R3["handshake"]' \
	'd(M1, M0, "dtls_rate_limited") >= 2 and d(M1, M0, "dtls_handshakes_completed") == 3' \
	'd(M1, M0, "dtls_legs_failed") == 0 and K == 3'

# ---- c: max_handshakes and handshake_timeout_s ----
pr_log "c: two stalled handshakes hold both slots; a third passive leg and an active one meanwhile"
for i in 1 2 3; do store_dtls s$i $((32020 + 4 * i)); done
store_dtls s4 32040 active
M0=$(mstats)
for i in 1 2; do
	ip netns exec mh-x $HOSTILE stall --bind ${XS[$i]}:44000 --to $RELAY:$((32020 + 4 * i)) \
		--user $UFRAG:$RUFRAG --pwd $PWD --hello "$tmp/hello.bin" --wait 4 >"$tmp/s$i.json" &
	PIDS[s$i]=$!
done
pr_wait_for 3 sh -c "$TEL $PREFIX /poprelay/media/stats | grep -q '\"dtls_handshakes_in_progress\": 2'" ||
	pr_log "(the stalled handshakes were not both seen in progress)"
IP2=$(mstats)
dtls mh-a $IPA:43032 --to $RELAY:32032 --timeout-ms 12000 >"$tmp/s3.json" &
PIDS[s3]=$!
dtls mh-a $IPA:43040 --to $RELAY:32040 --server --timeout-ms 3000 >"$tmp/s4.json" &
PIDS[s4]=$!
for i in 1 2 3 4; do wait "${PIDS[s$i]}" || true; done
pr_wait_for 5 sh -c "redis-cli -s $tmp/redis.sock XRANGE pr:sessions:events - + | paste -sd' ' | grep -q 'id s4 cdr_id cdr-s4 reason dtls-busy'" || true
chk "c: at most max_handshakes in handshake: the stalled two time out and are reported to end (dtls-timeout); the third is refused busy, then keyed" \
	S1=@"$tmp/s1.json" S2=@"$tmp/s2.json" S3=@"$tmp/s3.json" IP2="$IP2" M0="$M0" M1="$(mstats)" \
	E1="$(has_event s1 dtls-timeout)" E2="$(has_event s2 dtls-timeout)" \
	K3="$(ms_redis HEXISTS pr:session:s3 a_dtls_key_rx)" -- \
	'S1["answered"] and S2["answered"] and S1["dtls_rx"] >= 1 and S2["dtls_rx"] >= 1' \
	'IP2["dtls_handshakes_in_progress"] == 2' \
	'd(M1, M0, "dtls_failed_timeout") == 2 and E1 == 1 and E2 == 1' \
	'd(M1, M0, "dtls_failed_busy") >= 2 and S3["handshake"] and K3 == 1' \
	'M1["dtls_handshakes_in_progress"] == 0'
chk "c: an active leg refused busy is reported to end (dtls-busy), not left waiting for a handshake that never comes" \
	S4=@"$tmp/s4.json" M0="$M0" M1="$(mstats)" E4="$(has_event s4 dtls-busy)" \
	K4="$(ms_redis HEXISTS pr:session:s4 a_dtls_key_rx)" -- \
	'S4["answered"] and not S4["handshake"]' \
	'E4 == 1 and K4 == 0 and d(M1, M0, "dtls_legs_failed") == 3'

# ---- d: STUN checks with a wrong MESSAGE-INTEGRITY ----
pr_log "d: nominating checks with a wrong MESSAGE-INTEGRITY, then a ClientHello from there"
store_dtls w 32044
M0=$(mstats) D0=$(drops)
W=()
for i in 1 2 3 4 5; do
	W+=("$(ip netns exec mh-x python3 "$H/ice_check.py" --bind ${XS[5]}:44005 --to $RELAY:32044 \
		--user $UFRAG:$RUFRAG --pwd "Wr0ng+pwd/of/the/anchor" --nominate --timeout 0.5)")
done
ip netns exec mh-x $HOSTILE flood --sources ${XS[5]} --to $RELAY:32044 --hello "$tmp/hello.bin" --count 3 >/dev/null
sleep 1
chk "d: wrong MESSAGE-INTEGRITY: unanswered, counted, no latch; the source's ClientHello dropped" \
	W1="${W[0]}" W5="${W[4]}" M0="$M0" M1="$(mstats)" D0="$D0" D1="$(drops)" S="$(tel "/poprelay/media/session,w")" -- \
	'not W1["answered"] and not W5["answered"]' \
	'd(M1, M0, "ice_bad_integrity") == 5 and d(M1, M0, "ice_nominations") == 0 and d(M1, M0, "ice_answered") == 0' \
	'S["a"]["latched"] in ("-", "")' \
	'd(D1, D0, "media_dtls") == 3 and d(M1, M0, "dtls_to_process") == 0'

# ---- e: the exporter after all this ----
pr_log "e: poprelay-exporter's ICE and DTLS-SRTP families"
ip netns exec mh-pop "$EXP" -c "$tmp/dp.conf" -l 127.0.0.1:9469 2>"$tmp/exp.log" &
pr_on_exit "kill $! 2>/dev/null"
mstats >"$tmp/m0.json"
pr_wait_for 5 ip netns exec mh-pop curl -sf -o "$tmp/m" http://127.0.0.1:9469/metrics ||
	{ cat "$tmp/exp.log" >&2; pr_fail "the exporter does not answer"; }
mstats >"$tmp/m1.json"
rc=0
promtool check metrics <"$tmp/m" >"$tmp/promtool.out" 2>&1 || { cat "$tmp/promtool.out"; rc=1; }
python3 "$H/webrtc_metrics.py" "$tmp/m" "$tmp/m0.json" "$tmp/m1.json" "$PR_ROOT/docs/metrics.md" || rc=1
for s in 'poprelay_dtls_rate_limited_total [1-9]' 'poprelay_dtls_handshakes_failed_total\{reason="busy"\} [1-9]' \
	'poprelay_dtls_handshakes_failed_total\{reason="timeout"\} 2' \
	'poprelay_media_ice_checks_total\{verdict="bad_integrity"\} 5' \
	'poprelay_media_dtls_dropped_packets_total\{reason="not_admitted"\} [1-9][0-9]{3}'; do
	grep -qE "^$s" "$tmp/m" || { pr_log "no sample /$s/"; rc=1; }
done
if [ $rc = 0 ]; then pr_log "ok: e: the exporter shows the hostile input's figures, equal to the telemetry"; else FAILS+=("e: exporter"); fi

if [ ${#FAILS[@]} -gt 0 ]; then
	printf 'failed: %s\n' "${FAILS[@]}" >&2
	tail -20 "$tmp/dp.log" >&2
	tail -30 "$tmp/dtls.log" >&2
	exit 1
fi
pr_log "media_dtls_hostile: all scenarios passed"
