#!/usr/bin/env bash
# DTLS-SRTP on a browser leg of the media anchor, end to end (docs/media.md, "DTLS-SRTP"):
# the dataplane on net_af_packet in namespace mk-pop, poprelay-dtls attached to it over its
# unix socket, Redis; session records written the way the slowpath writes them (leg a: ICE
# and X_keying dtls, passive, the browser's certificate fingerprint; leg b: an SDES device).
# The browser's transport is media/dtlspeer (an ICE check, then a DTLS handshake with
# OpenSSL from the same socket, keys exported by itself) in mk-a; mpeer plays both ends'
# SRTP with the keys (mk-a with what dtlspeer exported, mk-b with leg b's SDES keys); mk-x is
# another host. Scenarios, each "ok: ...":
#   a  ClientHellos before a nomination (from the leg's own address) and from an address that
#      was never nominated: no handshake starts, nothing reaches the process (dtls_dropped)
#   b  a nominated check, then a handshake: the anchor's certificate is pr:dtls:fingerprint,
#      keys exported, the session hash holds X_dtls_key_rx/tx (never in the logs)
#   c  SRTP both ways between the browser's keys and the device's SDES keys, payload checked
#   d  kill -9 of the dataplane and a restart: the keys come back from the hash, media flows,
#      and poprelay-dtls re-attaches
#   e  a slowpath update with the same fingerprint: the keys are kept, written back, media flows
#   f  a peer certificate that is not the SDP's fingerprint: the handshake fails, counted,
#      the leg is reported to end (pr:sessions:events reason dtls-fingerprint), no keys
#   g  our role active: the anchor sends the ClientHello once the leg is nominated
#   g2 a check without USE-CANDIDATE (a valid pair), then a handshake from there: it completes
#      before any nomination (browsers start DTLS so), and does not latch the leg; an address
#      never checked still starts nothing
#   h  poprelayctl session show of the keyed browser leg (text and --json): keying, ICE and
#      DTLS state, the peer's fingerprint, the suite; no key nor ice-pwd in what it prints
#   i  poprelay-exporter: the ICE and DTLS-SRTP families (promtool accepts the scrape) equal
#      the telemetry's figures; the process's own left out once it stopped
# Exits 0 (pass), 77 (skip: not root), 1 (a scenario failed; the failures are listed).
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/media/dtlsenv.sh"
de_init mk md-dtls
de_topology a=$IPA b=$IPB x=$IPX

# bad [dtls] values are refused at start, the key named
for bad in "rotate_days = 0" "max_handshakes = many" "colour = blue"; do
	printf '[dtls]\n%s\n' "$bad" >"$tmp/bad.conf"
	rc=0
	"$DTLS" -c "$tmp/bad.conf" --check-config >"$tmp/bad.out" 2>&1 || rc=$?
	[ $rc = 2 ] && grep -q "\[dtls\].*${bad%% *}" "$tmp/bad.out" ||
		pr_fail "poprelay-dtls: '$bad' not refused with its key named (exit $rc: $(cat "$tmp/bad.out"))"
done
pr_log "ok: bad [dtls] values refused at start, the key named"
de_start

ms_store_dtls install sd 31000 "$BFPR" 31002 || pr_fail "session sd: redis refused the record"
pr_wait_for 5 live sd || { tail -5 "$tmp/dp.log"; pr_fail "session sd not installed"; }

# ---- a: ClientHellos from sources that were not nominated ----
pr_log "a: ClientHellos before a nomination and from an address never nominated"
M0=$(mstats) D0=$(drops)
A1=$(dtls mk-a $IPA:41000 --to $RELAY:31000 --no-ice --timeout-ms 1500)
A2=$(dtls mk-x $IPX:41000 --to $RELAY:31000 --ufrag $UFRAG --pwd "Wr0ng+pwd/of/the/anchor" --rufrag $RUFRAG --timeout-ms 1500)
chk "a: no handshake starts: nothing reaches poprelay-dtls, the ClientHellos are counted dropped" \
	A1="$A1" A2="$A2" M0="$M0" M1="$(mstats)" D0="$D0" D1="$(drops)" -- \
	'not A1["handshake"] and not A2["handshake"] and not A2["answered"]' \
	'M1["dtls_handshakes_started"] == 0 and M1["dtls_to_process"] == 0' \
	'd(D1, D0, "media_dtls") >= 2 and M1["dtls_keyed"] == 0'

# ---- b: nomination, then the handshake ----
pr_log "b: a nominated check, then a DTLS-SRTP handshake from the same socket"
B=$(dtls mk-a $IPA:41000 --to $RELAY:31000 --ufrag $UFRAG --pwd $PWD --rufrag $RUFRAG)
echo "$B" >"$tmp/b.json"
pr_wait_for 5 sh -c "$TEL $PREFIX /poprelay/media/stats | grep -q '\"dtls_keyed\": 1'" || true
chk "b: the handshake completes, the anchor's certificate is pr:dtls:fingerprint, keys exported and stored in the hash" \
	B="$B" M="$(mstats)" K="$(ms_redis HEXISTS pr:session:sd a_dtls_key_rx)" \
	S="\"$(ms_redis HGET pr:session:sd a_dtls_suite)\"" -- \
	'B["answered"] and B["handshake"] and B["fpr_ok"] and B["profile"] == "AES_CM_128_HMAC_SHA1_80"' \
	'M["dtls_handshakes_started"] == 1 and M["dtls_handshakes_completed"] == 1 and M["dtls_keyed"] == 1' \
	'K == 1 and S == "AES_CM_128_HMAC_SHA1_80"'
TXK=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["tx"])' "$tmp/b.json")
RXK=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["rx"])' "$tmp/b.json")
if grep -qF -e "$TXK" -e "$RXK" "$tmp/dp.log" "$tmp/dp.out" "$tmp/dtls.log" 2>/dev/null; then
	FAILS+=("b: keys in a log")
	pr_log "FAIL: b: an exported key is in a log"
else
	pr_log "ok: b: no exported key in the dataplane's or poprelay-dtls's logs"
fi

# ---- c: SRTP both ways ----
media() { # media LABEL SEQ: 50 packets each way from SEQ on (past what the replay windows saw)
	local l=$1 q=$2
	peer mk-b $l-b --bind $IPB:41002 --to $RELAY:31002 --suite $S80 --tx-key "$KB_RX" --rx-key "$KB_TX" \
		--rtcp-mux --id B --expect-id A --ssrc 0xb0000001 --seq $q --count 50 --rate 100 \
		--start-delay-ms 300 --expect 50 --linger-ms 2000
	peer mk-a $l-a --bind $IPA:41000 --to $RELAY:31000 --suite $S80 --tx-key "$TXK" --rx-key "$RXK" \
		--rtcp-mux --id A --expect-id B --ssrc 0xa0000001 --seq $q --count 50 --rate 100 \
		--start-delay-ms 300 --expect 50 --linger-ms 2000
	waitp $l-a $l-b
}
pr_log "c: SRTP between the browser's DTLS keys and the device's SDES keys"
media c 1000
chk "c: SRTP flows both ways through the anchor, re-keyed hop by hop, payloads intact" \
	A=@"$tmp/c-a.json" B=@"$tmp/c-b.json" -- \
	'A["rtp_ok"] == 50 and A["payload_ok"] == 50 and A["auth_fail"] == 0' \
	'B["rtp_ok"] == 50 and B["payload_ok"] == 50 and B["auth_fail"] == 0' \
	'A["from"] == ["198.51.100.10:31000"]'

# ---- d: kill -9 and restart of the dataplane ----
pr_log "d: kill -9 of the dataplane, then a restart"
kill -9 $dp_pid
wait $dp_pid 2>/dev/null || true
rm -rf "/var/run/dpdk/$PREFIX"
de_start_dp
pr_wait_for 5 live sd || pr_fail "session sd not restored"
pr_wait_for 10 attached || true
# (the new dataplane learns the devices' link addresses: no first packet waits for ARP)
for d in a b; do ip netns exec mk-$d ping -c 1 -W 2 $RELAY >/dev/null || true; done
media d 3000
# (a packet may go missing on a loaded machine around the restart: 48 of 50, each intact)
chk "d: after the restart the keys come from the hash and media flows both ways; poprelay-dtls is attached again" \
	A=@"$tmp/d-a.json" B=@"$tmp/d-b.json" M="$(mstats)" -- \
	'A["payload_ok"] >= 48 and B["payload_ok"] >= 48 and A["payload_ok"] == A["rtp_ok"] and B["payload_ok"] == B["rtp_ok"]' \
	'A["auth_fail"] == 0 and B["auth_fail"] == 0' \
	'M["dtls_keys_restored"] == 1 and M["dtls_process_attached"] == 1'

# ---- e: an update with the same fingerprint ----
pr_log "e: a slowpath update (the hash rewritten) with the same fingerprint"
ms_store_dtls update sd 31000 "$BFPR" 31002
pr_wait_for 5 sh -c "$TEL $PREFIX /poprelay/media/stats | grep -q '\"dtls_keys_kept\": 1'" || true
media e 5000
chk "e: the keys are kept across the update, written back to the hash, and media flows" \
	A=@"$tmp/e-a.json" B=@"$tmp/e-b.json" M="$(mstats)" K="$(ms_redis HEXISTS pr:session:sd a_dtls_key_tx)" -- \
	'A["payload_ok"] == 50 and B["payload_ok"] == 50' \
	'M["dtls_keys_kept"] == 1 and K == 1'

# ---- f: a certificate that is not the fingerprint ----
pr_log "f: the peer's certificate is not the SDP's fingerprint"
OFPR=$(fpr_of "$tmp/other.crt")
ms_store_dtls install sw 31004 "$OFPR" 31006 || pr_fail "session sw: redis refused the record"
pr_wait_for 5 live sw || pr_fail "session sw not installed"
M0=$(mstats)
F=$(dtls mk-a $IPA:42000 --to $RELAY:31004 --ufrag $UFRAG --pwd $PWD --rufrag $RUFRAG --timeout-ms 3000)
pr_wait_for 5 sh -c "redis-cli -s $tmp/redis.sock XRANGE pr:sessions:events - + | grep -q dtls-fingerprint" || true
chk "f: the handshake fails on the fingerprint, counted; the leg is reported to end; no keys" \
	F="$F" M0="$M0" M1="$(mstats)" K="$(ms_redis HEXISTS pr:session:sw a_dtls_key_rx)" \
	E="$(ms_redis XRANGE pr:sessions:events - + | grep -c dtls-fingerprint || true)" -- \
	'F["answered"] and not F["handshake"]' \
	'd(M1, M0, "dtls_failed_fingerprint") == 1 and d(M1, M0, "dtls_legs_failed") == 1' \
	'K == 0 and E >= 1'
grep -q "DTLS-SRTP handshake failed" "$tmp/dtls.log" || { FAILS+=("f: log"); pr_log "FAIL: f: poprelay-dtls did not log the failure"; }

# ---- g: our role active ----
pr_log "g: X_dtls_setup active: the anchor sends the ClientHello once the leg is nominated"
ms_store_dtls install sg 31008 "$BFPR" 31010 active || pr_fail "session sg: redis refused the record"
pr_wait_for 5 live sg || pr_fail "session sg not installed"
M0=$(mstats)
G=$(dtls mk-a $IPA:43000 --to $RELAY:31008 --ufrag $UFRAG --pwd $PWD --rufrag $RUFRAG --server)
pr_wait_for 5 sh -c "redis-cli -s $tmp/redis.sock HEXISTS pr:session:sg a_dtls_key_rx | grep -q 1" || true
chk "g: the anchor as DTLS client: the handshake completes after the nomination, keys stored" \
	G="$G" M0="$M0" M1="$(mstats)" K="$(ms_redis HEXISTS pr:session:sg a_dtls_key_rx)" -- \
	'G["answered"] and G["handshake"] and G["fpr_ok"] and G["profile"] == "AES_CM_128_HMAC_SHA1_80"' \
	'd(M1, M0, "dtls_handshakes_completed") == 1 and K == 1'

# ---- g2: DTLS on a valid pair before the nomination ----
pr_log "g2: a check without USE-CANDIDATE, then the handshake from there: it completes before any nomination"
ms_store_dtls install sv 31012 "$BFPR" 31014 || pr_fail "session sv: redis refused the record"
pr_wait_for 5 live sv || pr_fail "session sv not installed"
M0=$(mstats)
X=$(dtls mk-x $IPX:44000 --to $RELAY:31012 --no-ice --timeout-ms 1500)
V=$(dtls mk-a $IPA:44000 --to $RELAY:31012 --ufrag $UFRAG --pwd $PWD --rufrag $RUFRAG --no-nominate)
pr_wait_for 5 sh -c "redis-cli -s $tmp/redis.sock HEXISTS pr:session:sv a_dtls_key_rx | grep -q 1" || true
chk "g2: keyed from the valid pair before a nomination, not latched by it; a ClientHello from an address never checked still reaches nothing" \
	X="$X" V="$V" M0="$M0" M1="$(mstats)" K="$(ms_redis HEXISTS pr:session:sv a_dtls_key_rx)" \
	L="\"$(ms_redis HGET pr:session:sv a_latched)\"" -- \
	'V["answered"] and V["handshake"] and V["fpr_ok"] and not X["handshake"]' \
	'd(M1, M0, "dtls_handshakes_completed") == 1 and d(M1, M0, "ice_nominations") == 0 and K == 1' \
	'L in (None, "", "-")'

# ---- h: the ops view of the browser leg ----
pr_log "h: poprelayctl session show of the keyed, nominated browser leg"
ctl() { "$CTL" -s "$tmp/redis.sock" "$@"; }
pr_wait_for 5 sh -c "'$CTL' -s '$tmp/redis.sock' session show sd | grep -q 'dtls  *keyed'" || true
ctl session show sd >"$tmp/h.txt" 2>&1 || true
ctl session show sd --json >"$tmp/h.json" 2>&1 || true
hl() { grep -cE "^  $1\$" "$tmp/h.txt" || true; }
chk "h: session show gives the leg's keying, ICE (nominated at the browser's address) and DTLS state (role, fingerprint, suite); the JSON the same" \
	J=@"$tmp/h.json" BFPR="\"$BFPR\"" \
	K="$(hl 'keying +dtls \(DTLS-SRTP handshake on the leg\)')" \
	N="$(hl "ice +nominated \(latched to $IPA:41000\)")" U="$(hl "ice ufrag \(ours\) +$UFRAG")" \
	R="$(hl 'dtls role \(ours\) +passive \(the peer sends the ClientHello\)')" \
	F="$(hl "dtls peer fingerprint $BFPR")" S="$(hl 'dtls +keyed \(AES_CM_128_HMAC_SHA1_80\)')" \
	D="$(hl 'keying +sdes \(keys from the SDP.s a=crypto\)')" -- \
	'K == 1 and N == 1 and U == 1 and R == 1 and F == 1 and S == 1 and D == 1' \
	'J["a_keying"] == "dtls" and J["a_ice_nominated"] is True and J["a_dtls_keyed"] is True' \
	'J["a_dtls_suite"] == "AES_CM_128_HMAC_SHA1_80" and J["a_dtls_fingerprint"] == BFPR' \
	'J["a_latched"] == "198.51.100.21:41000" and J["b_dtls_keyed"] is None'
if grep -qF -e "$TXK" -e "$RXK" -e "$PWD" -e "$KB_RX" -e "$KB_TX" -e key_ -e ice_pwd "$tmp/h.txt" "$tmp/h.json"; then
	FAILS+=("h: a key or the ice-pwd in poprelayctl's output")
	pr_log "FAIL: h: a key or the ice-pwd in poprelayctl's output"
else
	pr_log "ok: h: no key nor ice-pwd in poprelayctl's output"
fi

# ---- i: the exporter ----
pr_log "i: poprelay-exporter's ICE and DTLS-SRTP families against the telemetry"
de_exporter
metrics_check() { # LABEL: de_scrape, "ok: LABEL" or a failure
	if de_scrape; then pr_log "ok: $1"; else FAILS+=("$1"); pr_log "FAIL: $1"; fi
}
metrics_check "i: the ICE and DTLS-SRTP families equal the telemetry (process attached), promtool accepts them"
grep -qE '^poprelay_dtls_handshakes_failed_total\{reason="fingerprint"\} 1$' "$tmp/m" &&
	grep -qE '^poprelay_media_dtls_legs_keyed_total\{source="restart"\} 1$' "$tmp/m" &&
	grep -qE '^poprelay_media_ice_nominations_total [1-9]' "$tmp/m" ||
	{ FAILS+=("i: figures"); pr_log "FAIL: i: the scenarios' figures are not in the scrape"; }
# poprelayctl status has a row for poprelay-dtls (the file has [dtls]): up while attached
"$CTL" -c "$tmp/dp.conf" status >"$tmp/st1.txt" 2>&1 || true
de_stop_dtls
metrics_check "i: poprelay-dtls stopped: its own figures left out, the dataplane's still there"
"$CTL" -c "$tmp/dp.conf" status >"$tmp/st2.txt" 2>&1 || true
if grep -Eq '^dtls +up +attached; 0 handshakes in progress, [1-9][0-9]* completed' "$tmp/st1.txt" &&
	grep -Eq '^dtls +down +not attached' "$tmp/st2.txt" && grep -Eq '^down: .*dtls' "$tmp/st2.txt"; then
	pr_log "ok: status: the dtls row up while poprelay-dtls is attached, down once it stopped"
else
	cat "$tmp/st1.txt" "$tmp/st2.txt" >&2
	FAILS+=("status: dtls row")
	pr_log "FAIL: status: no dtls row up while attached and down once stopped"
fi

de_finish media_dtls
