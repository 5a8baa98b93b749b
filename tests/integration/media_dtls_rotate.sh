#!/usr/bin/env bash
# The anchor's certificate rotated while poprelay-dtls runs (docs/media.md, "Our
# certificate"): the dataplane on net_af_packet in namespace mr-pop, poprelay-dtls attached,
# Redis; session records written the way the slowpath writes them (leg a a browser's:
# ICE-lite, DTLS-SRTP passive, X_dtls_local_fingerprint our fingerprint its SDP carried; leg
# b an SDES device). media/dtlspeer in mr-a plays the browser: an ICE check, then a real
# OpenSSL handshake; --anchor-fpr is the fingerprint its SDP gave it, and it reports whether
# the anchor's certificate is that one (fpr_ok). Scenarios, each "ok: ...":
#   a  a call keyed with F1 (pr:dtls:fingerprint), then SIGUSR1: a new certificate,
#      pr:dtls:fingerprint becomes F2, the old pair kept as prev-cert.pem/prev-key.pem
#   b  a new leg whose SDP carried F2 handshakes and its peer sees F2
#   c  the leg set up before with F1 still handshakes, and its peer sees F1
#   d  a leg written before the field existed (no X_dtls_local_fingerprint): the current, F2
#   e  a leg naming a fingerprint that is neither: fails, counted (dtls_failed_cert),
#      reported to end (pr:sessions:events reason dtls-cert), no keys
#   f  poprelay-dtls restarted within the grace: both certificates again (F1 still
#      handshakes), pr:dtls:fingerprint stays F2
#   g  restarted with [dtls] rotate_grace_s = 0: the previous one is not used, an F1 leg fails
# Exits 0 (pass), 77 (skip: not root), 1 (a scenario failed; the failures are listed).
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/media/dtlsenv.sh"
de_init mr md-rot
de_topology a=$IPA

# a bad grace is refused at start, the key named
printf '[dtls]\nrotate_grace_s = a day\n' >"$tmp/bad.conf"
rc=0
"$DTLS" -c "$tmp/bad.conf" --check-config >"$tmp/bad.out" 2>&1 || rc=$?
[ $rc = 2 ] && grep -q "\[dtls\] rotate_grace_s" "$tmp/bad.out" ||
	pr_fail "poprelay-dtls: a bad rotate_grace_s not refused with its key named (exit $rc: $(cat "$tmp/bad.out"))"
pr_log "ok: a bad [dtls] rotate_grace_s refused at start, the key named"
de_start
F1=$AFPR
OFPR=$(fpr_of "$tmp/other.crt")
# dtls PORT LOCAL_PORT AFPR: the browser toward leg a on anchor port PORT, given AFPR as ours
# (in place of dtlsenv.sh's: here which certificate the browser expects is the point)
dtls() {
	ip netns exec mr-a "$PEER" --bind "$IPA:$2" --to "$RELAY:$1" --cert "$tmp/browser.crt" \
		--key "$tmp/browser.key" --anchor-fpr "$3" --ufrag $UFRAG --pwd $PWD --rufrag $RUFRAG \
		--timeout-ms 3000 || true
}
keyed() { [ "$(ms_redis HEXISTS "pr:session:$1" a_dtls_key_rx)" = 1 ]; }

# ---- a: a call keyed with F1, then the rotation ----
pr_log "a: a call whose SDP carried F1, then SIGUSR1 to poprelay-dtls"
de_store s1 31000 passive "$F1"
kill -USR1 $dtls_pid
pr_wait_for 10 sh -c "[ \"\$(redis-cli -s $tmp/redis.sock GET pr:dtls:fingerprint)\" != '$F1' ]" || true
F2=$(ms_redis GET pr:dtls:fingerprint)
PF=$(fpr_of "$tmp/anchor-cert/prev-cert.pem" 2>/dev/null || true)
CF=$(fpr_of "$tmp/anchor-cert/cert.pem" 2>/dev/null || true)
KM=$(stat -c %a "$tmp/anchor-cert/prev-key.pem" 2>/dev/null || echo none)
chk "a: rotated while running: pr:dtls:fingerprint is a new F2 (cert.pem), F1 kept as prev-cert.pem, its key 0600" \
	F1="\"$F1\"" F2="\"$F2\"" PF="\"$PF\"" CF="\"$CF\"" KM="\"$KM\"" -- \
	'F2 != F1 and F2.startswith("sha-256 ") and CF == F2 and PF == F1 and KM == "600"'
grep -q "new certificate .*the previous one (sha-256" "$tmp/dtls.log" ||
	{ FAILS+=("a: log"); pr_log "FAIL: a: poprelay-dtls did not log the rotation"; }

# ---- b: a new leg with F2 ----
pr_log "b: a new call whose SDP carried F2"
de_store s2 31004 passive "$F2"
B=$(dtls 31004 41004 "$F2")
pr_wait_for 5 keyed s2 || true
chk "b: a leg with F2 handshakes with the new certificate, its peer sees F2, keys stored" \
	B="$B" K="$(ms_redis HEXISTS pr:session:s2 a_dtls_key_rx)" -- \
	'B["answered"] and B["handshake"] and B["fpr_ok"] and K == 1'

# ---- c: the leg set up before, with F1 ----
pr_log "c: the call set up before the rotation (F1) handshakes now"
C=$(dtls 31000 41000 "$F1")
pr_wait_for 5 keyed s1 || true
chk "c: a leg with F1 still handshakes, with the previous certificate: its peer sees F1" \
	C="$C" K="$(ms_redis HEXISTS pr:session:s1 a_dtls_key_rx)" -- \
	'C["answered"] and C["handshake"] and C["fpr_ok"] and K == 1'

# ---- d: a record from before the field ----
pr_log "d: a leg without X_dtls_local_fingerprint"
de_store s0 31008 passive ""
D=$(dtls 31008 41008 "$F2")
pr_wait_for 5 keyed s0 || true
chk "d: a leg without the field handshakes with the current certificate (F2)" \
	D="$D" K="$(ms_redis HEXISTS pr:session:s0 a_dtls_key_rx)" -- \
	'D["handshake"] and D["fpr_ok"] and K == 1'

# ---- e: a fingerprint that is neither ----
pr_log "e: a leg naming a certificate of ours that is neither the current nor the previous"
de_store s3 31012 passive "$OFPR"
M0=$(mstats)
E=$(dtls 31012 41012 "$OFPR")
pr_wait_for 5 sh -c "redis-cli -s $tmp/redis.sock XRANGE pr:sessions:events - + | grep -q dtls-cert" || true
chk "e: it fails cleanly: no handshake, counted (dtls_failed_cert), reported to end (dtls-cert), no keys" \
	E="$E" M0="$M0" M1="$(mstats)" K="$(ms_redis HEXISTS pr:session:s3 a_dtls_key_rx)" \
	EV="$(has_event s3 dtls-cert)" -- \
	'E["answered"] and not E["handshake"]' \
	'd(M1, M0, "dtls_failed_cert") == 1 and d(M1, M0, "dtls_legs_failed") == 1' \
	'K == 0 and EV == 1'

# ---- f: a restart within the grace ----
pr_log "f: poprelay-dtls restarted within the grace"
de_stop_dtls
de_start_dtls "$tmp/dp.conf"
de_store s4 31016 passive "$F1"
de_store s5 31020 passive "$F2"
G1=$(dtls 31016 41016 "$F1")
G2=$(dtls 31020 41020 "$F2")
chk "f: after a restart both are loaded again: F1 and F2 legs handshake, each peer seeing its own; pr:dtls:fingerprint stays F2" \
	G1="$G1" G2="$G2" F="\"$(ms_redis GET pr:dtls:fingerprint)\"" F2="\"$F2\"" -- \
	'G1["handshake"] and G1["fpr_ok"] and G2["handshake"] and G2["fpr_ok"] and F == F2'

# ---- g: past the grace ----
pr_log "g: restarted with rotate_grace_s = 0: the previous certificate no longer used"
de_stop_dtls
sed -e 's|^handshake_timeout_s = 4$|handshake_timeout_s = 4\nrotate_grace_s = 0|' "$tmp/dp.conf" >"$tmp/g.conf"
de_start_dtls "$tmp/g.conf"
de_store s6 31024 passive "$F1"
M0=$(mstats)
X=$(dtls 31024 41024 "$F1")
pr_wait_for 5 sh -c "redis-cli -s $tmp/redis.sock XRANGE pr:sessions:events - + | paste -sd' ' | grep -q 'id s6 cdr_id cdr-s6 reason dtls-cert'" || true
chk "g: past its grace an F1 leg fails (dtls-cert) instead of handshaking with a certificate its peer was not given" \
	X="$X" M0="$M0" M1="$(mstats)" EV="$(has_event s6 dtls-cert)" -- \
	'not X["handshake"] and d(M1, M0, "dtls_failed_cert") == 1 and EV == 1'

de_finish media_dtls_rotate
