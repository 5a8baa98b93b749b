#!/usr/bin/env bash
# ICE-lite on an anchor leg end to end (docs/media.md, "ICE-lite"): a session whose leg a
# carries X_ice_ufrag / X_ice_pwd / X_ice_remote_ufrag, written straight into Redis the way
# the slowpath writes sessions (media/sessions.sh); the dataplane on net_af_packet in
# namespace mi-pop; a browser's side played by media/ice_check.py (a STUN client of its own,
# short-term credentials, hmac and zlib from Python's standard library) and mpeer (SRTP,
# libsrtp) in mi-a, the other leg's device (mpeer) in mi-b, an attacker in mi-x. Scenarios,
# each "ok: ...":
#   a  before any nomination: checks with a wrong pwd (with USE-CANDIDATE), a foreign ufrag
#      or no FINGERPRINT get no answer and latch nothing; authentic SRTP from the device's
#      address is dropped (media_ice_unnominated) and nothing goes toward the leg
#   b  a valid check without USE-CANDIDATE: a Binding success from the anchor port whose
#      MESSAGE-INTEGRITY verifies under our pwd, FINGERPRINT right, XOR-MAPPED-ADDRESS the
#      source; still no latch. An ICE-CONTROLLED check: 487, also with integrity
#   c  a nominated check: answered and latched to its source (not the SDP address); SRTP
#      then flows both ways, toward the nominated address
#   d  the attacker with leg a's SRTP keys from another address: dropped, the latch stays
#   e  a nominated check from another port (NAT rebinding): relatch 1, media follows
#   f  DTLS on the anchor port: counted (dtls_dropped) and dropped
#   g  records with bad ICE fields: refused (a 21-char pwd) or unreadable (a 300-char
#      ufrag), counted, the field named in the log, no pwd in it
# Exits 0 (pass), 77 (skip: not root), 1 (a scenario failed: every scenario runs, the
# failures are listed at the end).
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
trap 'trap "" INT TERM; exit 130' INT TERM
pr_need_root
DP=$BUILD/poprelay-dataplane
MPEER=$BUILD/tests/integration/media/mpeer
H=$PR_ROOT/tests/integration/media
[ -x "$DP" ] || pr_fail "$DP not built"
[ -x "$MPEER" ] || pr_fail "$MPEER not built (tests/integration/media/mpeer.mk)"
TEL="python3 $PR_ROOT/tests/integration/dp_telemetry.py"
PREFIX=mi-ice
RELAY=198.51.100.10
IPA=198.51.100.21
IPB=198.51.100.22
IPX=198.51.100.66
S80=AES_CM_128_HMAC_SHA1_80
UFRAG=anch0r
PWD=Pr1v8+ice/pwd/of/the/anchor
RUFRAG=br0wser

tmp=$(pr_tmpdir)
pr_redis_start "$tmp"
ms_redis() { redis-cli -s "$tmp/redis.sock" "$@"; }
MS_RELAY=$RELAY
. "$H/sessions.sh"

# ---- topology: mi-pop (dataplane) and the devices on bridge mibr in mi-br ----
for ns in mi-pop mi-br mi-a mi-b mi-x; do
	pr_netns $ns
	ip netns exec $ns sysctl -qw net.ipv6.conf.default.disable_ipv6=1 net.ipv6.conf.all.disable_ipv6=1
done
ip -n mi-br link add mibr type bridge
ip -n mi-br link set mibr up
pr_veth mi-pop mip0 mi-br mibp
for d in a b x; do pr_veth mi-$d mi${d}0 mi-br mib$d; done
for p in mibp miba mibb mibx; do ip -n mi-br link set $p master mibr; done
ip -n mi-a addr add $IPA/24 dev mia0
ip -n mi-b addr add $IPB/24 dev mib0
ip -n mi-x addr add $IPX/24 dev mix0

sed -e "s|^device = .*|device = net_af_packet0,iface=mip0,qpairs=2|" \
	-e "s|^huge = .*|huge = no|" -e "s|^memory_mb = .*|memory_mb = 256|" \
	-e "s|^file_prefix = .*|file_prefix = $PREFIX|" \
	-e "s|^mbuf_pool_size = .*|mbuf_pool_size = 8191|" \
	-e "s|^worker_idle_sleep_us = .*|worker_idle_sleep_us = 20|" \
	-e "s|^socket = .*|socket = $tmp/redis.sock|" \
	-e "s|^user = .*|user =|" -e "s|^password_file = .*|password_file =|" \
	"$PR_ROOT/images/poprelay.conf" >"$tmp/dp.conf"
cat >>"$tmp/dp.conf" <<CONF

[media]
port_min = 31000
port_max = 31199
consumer = dataplane
stats_interval_ms = 500
CONF
pr_on_exit "rm -rf /var/run/dpdk/$PREFIX"

tel() { $TEL $PREFIX "$@"; }
ip netns exec mi-pop "$DP" -c "$tmp/dp.conf" >>"$tmp/dp.out" 2>>"$tmp/dp.log" &
dp_pid=$!
pr_on_exit "kill $dp_pid 2>/dev/null; sleep 0.5; kill -9 $dp_pid 2>/dev/null"
pr_wait_for 30 sh -c "$TEL $PREFIX /poprelay/media/stats | grep -q '\"redis_up\": 1'" ||
	{ tail -30 "$tmp/dp.log"; pr_fail "the dataplane did not come up with the media anchor"; }
for d in a b x; do
	ip netns exec mi-$d ping -c 1 -W 2 $RELAY >/dev/null || pr_fail "mi-$d cannot ping the relay"
done

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
peer() {
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
		[ $rc = 0 ] || { cat "$tmp/$n.err" >&2; pr_fail "mpeer $n exited $rc"; }
	done
}
srtp() { echo "--suite $1 --tx-key $2 --rx-key $3 --rtcp-mux"; }
sess() { tel "/poprelay/media/session,$1"; }
live() { sess "$1" | grep -q '"id"'; }
mstats() { tel /poprelay/media/stats; }
drops() { tel /poprelay/drops; }
# ice NS IP:PORT ARGS...: one check (media/ice_check.py) from IP:PORT in NS to leg a's port
ice() {
	local ns=$1 from=$2
	shift 2
	ip netns exec "$ns" python3 "$H/ice_check.py" --bind "$from" --to $RELAY:31000 "$@"
}

KA_RX=$(ms_key $S80) KA_TX=$(ms_key $S80) KB_RX=$(ms_key $S80) KB_TX=$(ms_key $S80)
# leg a's SDP address is another port than the one the browser checks from: media must go
# to the nominated address, never to the SDP one
ms_store install si "peer=$IPA:45000 relay=31000 suite=$S80 rx=$KA_RX tx=$KA_TX mux=1 ufrag=$UFRAG pwd=$PWD rufrag=$RUFRAG" \
	"peer=$IPB:41002 relay=31002 suite=$S80 rx=$KB_RX tx=$KB_TX mux=1" ||
	pr_fail "session si: redis refused the record"
pr_wait_for 5 live si || { tail -5 "$tmp/dp.log"; pr_fail "session si not installed"; }

# ---- a: nothing before a nomination ----
pr_log "a: wrong pwd, foreign ufrag, no fingerprint, SRTP before a nomination"
M0=$(mstats) D0=$(drops)
A_BADPWD=$(ice mi-x $IPX:41000 --user $UFRAG:$RUFRAG --pwd "Wr0ng+pwd/of/the/anchor" --nominate)
A_BADUSER=$(ice mi-a $IPA:41000 --user $UFRAG:someone --pwd $PWD --nominate)
A_NOFP=$(ice mi-a $IPA:41000 --user $UFRAG:$RUFRAG --pwd $PWD --nominate --no-fingerprint)
peer mi-b a-b --bind $IPB:41002 --to $RELAY:31002 $(srtp $S80 "$KB_RX" "$KB_TX") \
	--id B --ssrc 0xb0000001 --count 10 --rate 50 --linger-ms 500
peer mi-a a-a --bind $IPA:41000 --to $RELAY:31000 $(srtp $S80 "$KA_RX" "$KA_TX") \
	--id A --ssrc 0xa0000001 --count 10 --rate 50 --linger-ms 500
waitp a-a a-b
chk "a: a wrong pwd (with USE-CANDIDATE), a foreign ufrag, no FINGERPRINT: no answer, no latch, counted by reason" \
	X="$A_BADPWD" U="$A_BADUSER" F="$A_NOFP" M0="$M0" M1="$(mstats)" S="$(sess si)" -- \
	'not X["answered"] and not U["answered"] and not F["answered"]' \
	'd(M1, M0, "ice_bad_integrity") == 1 and d(M1, M0, "ice_unknown_ufrag") == 1' \
	'd(M1, M0, "ice_malformed") == 1 and d(M1, M0, "ice_answered") == 0' \
	'M1["ice_nominations"] == 0 and M1["legs_ice"] == 1' \
	'S["a"]["ice"] == 1 and S["b"]["ice"] == 0 and S["a"]["latched"] == "-"'
chk "a: authentic SRTP from the device before a nomination: dropped, nothing toward leg a (not even to its SDP address)" \
	A=@"$tmp/a-a.json" B=@"$tmp/a-b.json" D0="$D0" D1="$(drops)" S="$(sess si)" -- \
	'B["received"] == 0 and A["received"] == 0' \
	'd(D1, D0, "media_ice_unnominated") == 10 and d(D1, D0, "media_no_peer") == 10' \
	'S["a"]["rx_packets"] == 0 and S["a"]["tx_packets"] == 0'

# ---- b: answered checks ----
pr_log "b: a valid check (no nomination), a role conflict"
M0=$(mstats)
B_OK=$(ice mi-a $IPA:41000 --user $UFRAG:$RUFRAG --pwd $PWD)
B_487=$(ice mi-a $IPA:41000 --user $UFRAG:$RUFRAG --pwd $PWD --controlled --nominate)
chk "b: a valid check: a Binding success from the anchor port, integrity (our pwd) and fingerprint verify, mapped = the source; no latch" \
	R="$B_OK" M0="$M0" M1="$(mstats)" S="$(sess si)" -- \
	'R["answered"] and R["cls"] == "success" and R["mi_ok"] and R["fp_ok"] and R["tid_ok"]' \
	'R["mapped"] == "198.51.100.21:41000" and R["from"] == "198.51.100.10:31000"' \
	'd(M1, M0, "ice_answered") == 1 and S["a"]["latched"] == "-"'
chk "b: ICE-CONTROLLED from the peer (with USE-CANDIDATE): 487 with integrity, no latch" \
	R="$B_487" M0="$M0" M1="$(mstats)" S="$(sess si)" -- \
	'R["answered"] and R["cls"] == "error" and R["error"] == 487 and R["mi_ok"] and R["fp_ok"]' \
	'd(M1, M0, "ice_role_conflict") == 1 and S["a"]["latched"] == "-"'

# ---- c: nomination, then SRTP both ways ----
pr_log "c: a nominated check, then SRTP both ways"
C_NOM=$(ice mi-a $IPA:41000 --user $UFRAG:$RUFRAG --pwd $PWD --nominate)
D0=$(drops)
peer mi-b c-b --bind $IPB:41002 --to $RELAY:31002 $(srtp $S80 "$KB_RX" "$KB_TX") \
	--id B --expect-id A --ssrc 0xb0000001 --seq 3000 --count 50 --rate 100 \
	--start-delay-ms 300 --expect 50 --linger-ms 2000
peer mi-a c-a --bind $IPA:41000 --to $RELAY:31000 $(srtp $S80 "$KA_RX" "$KA_TX") \
	--id A --expect-id B --ssrc 0xa0000001 --seq 3000 --count 50 --rate 100 \
	--start-delay-ms 300 --expect 50 --linger-ms 2000
waitp c-a c-b
chk "c: the nominated check is answered and latches leg a to its source" \
	R="$C_NOM" M="$(mstats)" S="$(sess si)" -- \
	'R["answered"] and R["cls"] == "success" and R["mi_ok"] and R["fp_ok"]' \
	'M["ice_nominations"] == 1 and S["a"]["latched"] == "198.51.100.21:41000" and S["a"]["relatch"] == 0'
chk "c: SRTP flows both ways after the nomination, toward the nominated address, intact" \
	A=@"$tmp/c-a.json" B=@"$tmp/c-b.json" D0="$D0" D1="$(drops)" -- \
	'A["rtp_ok"] == 50 and A["payload_ok"] == 50 and A["auth_fail"] == 0' \
	'B["rtp_ok"] == 50 and B["payload_ok"] == 50 and B["auth_fail"] == 0' \
	'A["from"] == ["198.51.100.10:31000"]' \
	'd(D1, D0, "media_ice_unnominated") == 0 and d(D1, D0, "media_no_peer") == 0'

# ---- d: authentic SRTP from an address that was not nominated ----
pr_log "d: leg a's keys from the attacker's address"
D0=$(drops)
peer mi-x d-x --bind $IPX:41000 --to $RELAY:31000 $(srtp $S80 "$KA_RX" "$KA_TX") \
	--id X --ssrc 0xa0000001 --seq 5000 --count 10 --rate 50 --linger-ms 300
waitp d-x
chk "d: authentic SRTP from another address: dropped (media_ice_unnominated), the latch stays" \
	D0="$D0" D1="$(drops)" S="$(sess si)" -- \
	'd(D1, D0, "media_ice_unnominated") == 10' \
	'S["a"]["latched"] == "198.51.100.21:41000" and S["a"]["relatch"] == 0'

# ---- e: NAT rebinding: a nominated check from a new port ----
pr_log "e: re-nomination from another port"
E_NOM=$(ice mi-a $IPA:41010 --user $UFRAG:$RUFRAG --pwd $PWD --nominate)
peer mi-b e-b --bind $IPB:41002 --to $RELAY:31002 $(srtp $S80 "$KB_RX" "$KB_TX") \
	--id B --expect-id A --ssrc 0xb0000002 --count 30 --rate 100 --start-delay-ms 300 \
	--expect 30 --linger-ms 2000
peer mi-a e-a --bind $IPA:41010 --to $RELAY:31000 $(srtp $S80 "$KA_RX" "$KA_TX") \
	--id A --expect-id B --ssrc 0xa0000002 --count 30 --rate 100 --start-delay-ms 300 \
	--expect 30 --linger-ms 2000
waitp e-a e-b
chk "e: the new nominated address takes the latch (relatch 1), media follows it" \
	R="$E_NOM" A=@"$tmp/e-a.json" B=@"$tmp/e-b.json" S="$(sess si)" M="$(mstats)" -- \
	'R["answered"] and R["mi_ok"] and R["mapped"] == "198.51.100.21:41010"' \
	'S["a"]["latched"] == "198.51.100.21:41010" and S["a"]["relatch"] == 1' \
	'M["ice_nominations"] == 2 and M["relatch"] == 1' \
	'A["rtp_ok"] == 30 and B["rtp_ok"] == 30'

# ---- f: DTLS ----
pr_log "f: DTLS on the anchor port"
M0=$(mstats)
F_DTLS=$(ice mi-a $IPA:41010 --dtls --timeout 0.5)
chk "f: a DTLS record: no answer, counted as dtls_dropped" R="$F_DTLS" M0="$M0" M1="$(mstats)" -- \
	'not R["answered"]' 'd(M1, M0, "dtls_dropped") == 1'

# ---- g: bad ICE fields ----
pr_log "g: records with bad ICE fields"
M0=$(mstats)
LONG=$(printf 'u%.0s' $(seq 300))
ms_store install sg1 "peer=$IPA:46000 relay=31010 suite=$S80 rx=$KA_RX tx=$KA_TX ufrag=$UFRAG pwd=short+pwd+of21chars/x" \
	"peer=$IPB:46002 relay=31012" || pr_fail "sg1: redis refused the record"
ms_store install sg2 "peer=$IPA:46004 relay=31014 ufrag=$LONG pwd=$PWD" \
	"peer=$IPB:46006 relay=31016" || pr_fail "sg2: redis refused the record"
sleep 1
chk "g: a 21-char pwd refused, a 300-char ufrag unreadable; both named in the log, no pwd in it" \
	M0="$M0" M1="$(mstats)" LOG="$(python3 -c 'import json,sys; print(json.dumps(open(sys.argv[1]).read()))' "$tmp/dp.log")" -- \
	'd(M1, M0, "refused") == 1 and d(M1, M0, "bad_entries") == 1 and M1["sessions"] == 1' \
	'"session sg1 refused: bad a_ice_pwd" in LOG and "session sg2 unreadable" in LOG and "field ice_ufrag: value of 300 bytes" in LOG' \
	'"short+pwd" not in LOG and "Pr1v8" not in LOG'

if [ ${#FAILS[@]} -gt 0 ]; then
	pr_log "media_ice: ${#FAILS[@]} scenario(s) failed:"
	for f in "${FAILS[@]}"; do pr_log "  $f"; done
	tail -20 "$tmp/dp.log" >&2
	exit 1
fi
pr_log "media_ice: all scenarios passed"
