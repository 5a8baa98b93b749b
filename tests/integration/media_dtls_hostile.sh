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
#   f  a burst of 1000 valid checks in a second to one ICE leg, beside an SDES call: the leg
#      sends control at most ICE_PER_S (50) a second and a burst of as many, the rest dropped
#      on the workers (media_ice_rate, ice_rate_limited); the leg answers a check a second
#      later; the call loses nothing worth a mention
#   g  poprelay-dtls stopped (SIGSTOP) while two nominated legs send it 400 DTLS records each
#      at 100 a second: ICE_PER_S holds each leg's to 50 a second (the rest media_dtls), the
#      channel's ring fills, the rest dropped and counted (dtls_to_process_dropped, also
#      media_dtls), the dataplane keeps answering; after SIGCONT nothing more is dropped and
#      a new leg's handshake completes
# Exits 0 (pass), 77 (skip: not root), 1 (a scenario failed; the failures are listed).
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/media/dtlsenv.sh"
de_init mh md-hostile
command -v openssl >/dev/null || pr_fail "openssl missing"
command -v promtool >/dev/null || pr_fail "promtool missing (make deps installs prometheus)"
HOSTILE="python3 $H/dtls_hostile.py"
de_topology a=$IPA b=$IPB x
# mh-x: the hostile host, 16 addresses (198.51.100.70-85)
XS=()
for i in $(seq 70 85); do
	ip -n mh-x addr add 198.51.100.$i/24 dev mhx0
	XS+=(198.51.100.$i)
done
DE_PORTS=32000-32199
DE_DTLS_CONF="handshake_timeout_s = 2
max_handshakes = 2
per_source_per_s = 1"
# the browsers that complete: the anchor's ICE credentials on every check
DE_DTLS_ARGS=(--ufrag $UFRAG --pwd $PWD --rufrag $RUFRAG)
de_start
ip netns exec mh-x $HOSTILE capture "$tmp/hello.bin" >/dev/null || pr_fail "no ClientHello captured from openssl s_client"

# ---- a: a ClientHello flood beside an SDES call ----
pr_log "a: a ClientHello flood from 16 sources never nominated, beside an SDES call"
K1=$(ms_key $S80) K2=$(ms_key $S80) K3=$(ms_key $S80) K4=$(ms_key $S80)
ms_store install sc "peer=$IPA:42000 relay=32000 suite=$S80 rx=$K1 tx=$K2 mux=1" \
	"peer=$IPB:42002 relay=32002 suite=$S80 rx=$K3 tx=$K4 mux=1" || pr_fail "session sc refused"
pr_wait_for 5 live sc || pr_fail "session sc not installed"
de_store sd 32004
M0=$(mstats) D0=$(drops)
peer mh-a call-a --bind $IPA:42000 --to $RELAY:32000 --suite $S80 --tx-key "$K1" --rx-key "$K2" \
	--rtcp-mux --id A --expect-id B --ssrc 0xa0000001 --seq 100 --count 300 --rate 100 \
	--start-delay-ms 300 --expect 300 --linger-ms 2000
peer mh-b call-b --bind $IPB:42002 --to $RELAY:32002 --suite $S80 --tx-key "$K3" --rx-key "$K4" \
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
for i in 1 2 3; do de_store r$i $((32006 + 4 * i)); done
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
for i in 1 2 3; do de_store s$i $((32020 + 4 * i)); done
de_store s4 32040 active
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
de_store w 32044
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
de_exporter
rc=0
de_scrape || rc=1
for s in 'poprelay_dtls_rate_limited_total [1-9]' 'poprelay_dtls_handshakes_failed_total\{reason="busy"\} [1-9]' \
	'poprelay_dtls_handshakes_failed_total\{reason="timeout"\} 2' \
	'poprelay_media_ice_checks_total\{verdict="bad_integrity"\} 5' \
	'poprelay_media_dtls_dropped_packets_total\{reason="not_admitted"\} [1-9][0-9]{3}'; do
	grep -qE "^$s" "$tmp/m" || { pr_log "no sample /$s/"; rc=1; }
done
if [ $rc = 0 ]; then pr_log "ok: e: the exporter shows the hostile input's figures, equal to the telemetry"; else FAILS+=("e: exporter"); fi

# ---- f: the per-leg rate of STUN to control ----
pr_log "f: 1000 valid checks in a second to one ICE leg, beside an SDES call"
de_store ir 32050
K5=$(ms_key $S80) K6=$(ms_key $S80) K7=$(ms_key $S80) K8=$(ms_key $S80)
ms_store install sf "peer=$IPA:42060 relay=32060 suite=$S80 rx=$K5 tx=$K6 mux=1" \
	"peer=$IPB:42062 relay=32062 suite=$S80 rx=$K7 tx=$K8 mux=1" || pr_fail "session sf refused"
pr_wait_for 5 live sf || pr_fail "session sf not installed"
M0=$(mstats) D0=$(drops)
peer mh-a call-fa --bind $IPA:42060 --to $RELAY:32060 --suite $S80 --tx-key "$K5" --rx-key "$K6" \
	--rtcp-mux --id A --expect-id B --ssrc 0xa0000002 --seq 100 --count 200 --rate 100 \
	--start-delay-ms 300 --expect 200 --linger-ms 1500
peer mh-b call-fb --bind $IPB:42062 --to $RELAY:32062 --suite $S80 --tx-key "$K7" --rx-key "$K8" \
	--rtcp-mux --id B --expect-id A --ssrc 0xb0000002 --seq 100 --count 200 --rate 100 \
	--start-delay-ms 300 --expect 200 --linger-ms 1500
C=$(ip netns exec mh-x $HOSTILE checks --bind ${XS[6]}:44050 --to $RELAY:32050 --user $UFRAG:$RUFRAG \
	--pwd $PWD --count 1000 --rate 1000 --wait 1)
waitp call-fa call-fb
M1=$(mstats) D1=$(drops)
pr_log "(the burst: $C)"
sleep 1 # (the leg's bucket fills again)
A=$(ip netns exec mh-x python3 "$H/ice_check.py" --bind ${XS[6]}:44050 --to $RELAY:32050 \
	--user $UFRAG:$RUFRAG --pwd $PWD --timeout 1)
chk "f: at most ICE_PER_S checks a second (and a burst of as many) reach control from one leg, the rest dropped and counted (media_ice_rate); the leg answers afterwards, the call beside it loses nothing" \
	C="$C" A="$A" X="\"${XS[6]}:44050\"" FA=@"$tmp/call-fa.json" FB=@"$tmp/call-fb.json" M0="$M0" M1="$M1" D0="$D0" D1="$D1" -- \
	'C["sent"] == 1000 and 50 <= C["answered"] <= 160' \
	'd(D1, D0, "media_ice_rate") >= 800 and d(M1, M0, "ice_rate_limited") == d(D1, D0, "media_ice_rate")' \
	'C["answered"] <= d(M1, M0, "ice_answered") <= 160' \
	'A["answered"] and A["cls"] == "success" and A["mi_ok"] and A["mapped"] == X' \
	'FA["payload_ok"] >= 194 and FB["payload_ok"] >= 194 and FA["auth_fail"] == 0 and FB["auth_fail"] == 0'

# ---- g: the channel's ring toward poprelay-dtls full ----
pr_log "g: poprelay-dtls stopped while two nominated legs send it DTLS records"
de_store q1 32070
de_store q2 32074
de_store q3 32078
M0=$(mstats) D0=$(drops)
kill -STOP $dtls_pid
pr_on_exit "kill -CONT $dtls_pid 2>/dev/null"
# 400 records of 1200 bytes a leg at 100 a second: ICE_PER_S lets ~250 a leg through, ~600 kB
# for a ring of 256 kB
Q=$(ip netns exec mh-a $HOSTILE records --bind $IPA:43070,$IPA:43074 --to $RELAY:32070,$RELAY:32074 \
	--user $UFRAG:$RUFRAG --pwd $PWD --count 400 --size 1200 --rate 100)
sleep 0.5
MS=$(mstats) DS=$(drops)
kill -CONT $dtls_pid
sleep 1
dtls mh-a $IPA:43078 --to $RELAY:32078 --timeout-ms 8000 >"$tmp/q3.json"
pr_wait_for 5 sh -c "[ \$(redis-cli -s $tmp/redis.sock HEXISTS pr:session:q3 a_dtls_key_rx) = 1 ]" || true
# (ICE_PER_S on DTLS records: a bucket of 50 a leg and 50 more a second, one taken by the check)
chk "g: DTLS records beyond ICE_PER_S a leg dropped (media_dtls); the ring toward a stopped poprelay-dtls fills, the rest dropped and counted, the dataplane answers; resumed, it drops nothing more and a new leg is keyed" \
	Q="$Q" R=@"$tmp/q3.json" M0="$M0" MS="$MS" M3="$(mstats)" D0="$D0" DS="$DS" \
	K="$(ms_redis HEXISTS pr:session:q3 a_dtls_key_rx)" -- \
	'Q["nominated"] == 2 and Q["sent"] == 800' \
	'd(MS, M0, "dtls_to_process_dropped") >= 100 and d(MS, M0, "dtls_to_process") >= 100' \
	'd(MS, M0, "dtls_to_process") + d(MS, M0, "dtls_to_process_dropped") <= 2 * (50 + 50 * Q["seconds"]) + 10' \
	'd(DS, D0, "media_dtls") >= d(MS, M0, "dtls_to_process_dropped") + 200' \
	'MS["dtls_process_attached"] == 1 and M3["dtls_process_attached"] == 1' \
	'd(M3, MS, "dtls_to_process_dropped") == 0' \
	'R["handshake"] and K == 1 and d(M3, M0, "dtls_handshakes_completed") == 1'

de_finish media_dtls_hostile
