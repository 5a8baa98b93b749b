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
trap 'trap "" INT TERM; exit 130' INT TERM
pr_need_root
DP=$BUILD/poprelay-dataplane
DTLS=$BUILD/poprelay-dtls
PEER=$BUILD/tests/integration/media/dtlspeer
H=$PR_ROOT/tests/integration/media
for b in "$DP" "$DTLS" "$PEER"; do [ -x "$b" ] || pr_fail "$b not built"; done
TEL="python3 $PR_ROOT/tests/integration/dp_telemetry.py"
PREFIX=md-rot
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

for ns in mr-pop mr-a; do
	pr_netns $ns
	ip netns exec $ns sysctl -qw net.ipv6.conf.default.disable_ipv6=1 net.ipv6.conf.all.disable_ipv6=1
done
pr_veth mr-pop mrp0 mr-a mra0
ip -n mr-a addr add $IPA/24 dev mra0

sed -e "s|^device = .*|device = net_af_packet0,iface=mrp0,qpairs=2|" \
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
dtls_socket = $tmp/dtls.sock

[dtls]
dataplane_socket = $tmp/dtls.sock
cert_dir = $tmp/anchor-cert
handshake_timeout_s = 4
CONF
pr_on_exit "rm -rf /var/run/dpdk/$PREFIX"

# a bad grace is refused at start, the key named
printf '[dtls]\nrotate_grace_s = a day\n' >"$tmp/bad.conf"
rc=0
"$DTLS" -c "$tmp/bad.conf" --check-config >"$tmp/bad.out" 2>&1 || rc=$?
[ $rc = 2 ] && grep -q "\[dtls\] rotate_grace_s" "$tmp/bad.out" ||
	pr_fail "poprelay-dtls: a bad rotate_grace_s not refused with its key named (exit $rc: $(cat "$tmp/bad.out"))"
pr_log "ok: a bad [dtls] rotate_grace_s refused at start, the key named"

tel() { $TEL $PREFIX "$@"; }
ip netns exec mr-pop "$DP" -c "$tmp/dp.conf" >>"$tmp/dp.out" 2>>"$tmp/dp.log" &
dp_pid=$!
pr_on_exit "kill -9 $dp_pid 2>/dev/null"
pr_wait_for 30 sh -c "$TEL $PREFIX /poprelay/media/stats | grep -q '\"redis_up\": 1'" ||
	{ tail -30 "$tmp/dp.log"; pr_fail "the dataplane did not come up with the media anchor"; }
attached() { tel /poprelay/media/stats | grep -q '"dtls_process_attached": 1'; }
dtls_pid=
start_dtls() { # CONFIG
	ms_redis DEL pr:dtls:fingerprint >/dev/null
	"$DTLS" -c "$1" >>"$tmp/dtls.log" 2>&1 &
	dtls_pid=$!
	pr_on_exit "kill $dtls_pid 2>/dev/null"
	pr_wait_for 10 attached || { tail -20 "$tmp/dtls.log"; pr_fail "poprelay-dtls did not attach"; }
	pr_wait_for 10 sh -c "redis-cli -s $tmp/redis.sock EXISTS pr:dtls:fingerprint | grep -q 1" ||
		pr_fail "poprelay-dtls did not publish pr:dtls:fingerprint"
}
stop_dtls() {
	kill $dtls_pid
	wait $dtls_pid 2>/dev/null || true
	pr_wait_for 5 sh -c "! $TEL $PREFIX /poprelay/media/stats | grep -q '\"dtls_process_attached\": 1'" || true
}
start_dtls "$tmp/dp.conf"
F1=$(ms_redis GET pr:dtls:fingerprint)
[[ $F1 =~ ^sha-256\ ([0-9A-F]{2}:){31}[0-9A-F]{2}$ ]] || pr_fail "pr:dtls:fingerprint is '$F1'"
ip netns exec mr-a ping -c 1 -W 2 $RELAY >/dev/null || pr_fail "mr-a cannot ping the relay"

for c in browser other; do
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=$c \
		-days 2 -keyout "$tmp/$c.key" -out "$tmp/$c.crt" 2>/dev/null
done
fpr_of() { echo "sha-256 $(openssl x509 -in "$1" -noout -fingerprint -sha256 | sed 's/.*=//')"; }
BFPR=$(fpr_of "$tmp/browser.crt")
OFPR=$(fpr_of "$tmp/other.crt")

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
# dtls PORT LOCAL_PORT AFPR: the browser toward leg a on anchor port PORT, given AFPR as ours
dtls() {
	ip netns exec mr-a "$PEER" --bind "$IPA:$2" --to "$RELAY:$1" --cert "$tmp/browser.crt" \
		--key "$tmp/browser.key" --anchor-fpr "$3" --ufrag $UFRAG --pwd $PWD --rufrag $RUFRAG \
		--timeout-ms 3000 || true
}
mstats() { tel /poprelay/media/stats; }
live() { tel "/poprelay/media/session,$1" | grep -q '"id"'; }
keyed() { [ "$(ms_redis HEXISTS "pr:session:$1" a_dtls_key_rx)" = 1 ]; }
# store ID A_PORT LOCAL_FPR: a browser's leg a (LOCAL_FPR empty: no X_dtls_local_fingerprint,
# as written before the field), an SDES device's leg b on A_PORT + 2
KB_RX=$(ms_key $S80) KB_TX=$(ms_key $S80)
store() {
	local id=$1 ap=$2 lf=$3 now a b l=
	now=$(date +%s)
	a=$(ms_leg_fields a "peer=$IPA:45000 relay=$ap mux=1 ufrag=$UFRAG pwd=$PWD rufrag=$RUFRAG")
	b=$(ms_leg_fields b "peer=$IPB:$((ap + 10002)) relay=$((ap + 2)) suite=$S80 rx=$KB_RX tx=$KB_TX mux=1")
	[ -z "$lf" ] || l=" a_dtls_local_fingerprint \"$lf\""
	ms_tx <<TX || pr_fail "session $id: redis refused the record"
DEL pr:session:$id
HSET pr:session:$id v 1 id $id call_id call-$id@media-rot.test cdr_id cdr-$id media audio mline 0 idle_timeout_s 600 created $now updated $now$a$b a_profile RTP/SAVP a_encrypted 1 a_keying dtls a_dtls_setup passive a_dtls_fingerprint "$BFPR"$l
SADD pr:sessions $id
XADD pr:sessions:stream MAXLEN ~ 100000 * op install id $id ts $now
TX
	pr_wait_for 5 live "$id" || { tail -5 "$tmp/dp.log"; pr_fail "session $id not installed"; }
}
has_event() { ms_redis XRANGE pr:sessions:events - + | paste -sd' ' | grep -c "id $1 cdr_id cdr-$1 reason $2" || true; }

# ---- a: a call keyed with F1, then the rotation ----
pr_log "a: a call whose SDP carried F1, then SIGUSR1 to poprelay-dtls"
store s1 31000 "$F1"
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
store s2 31004 "$F2"
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
store s0 31008 ""
D=$(dtls 31008 41008 "$F2")
pr_wait_for 5 keyed s0 || true
chk "d: a leg without the field handshakes with the current certificate (F2)" \
	D="$D" K="$(ms_redis HEXISTS pr:session:s0 a_dtls_key_rx)" -- \
	'D["handshake"] and D["fpr_ok"] and K == 1'

# ---- e: a fingerprint that is neither ----
pr_log "e: a leg naming a certificate of ours that is neither the current nor the previous"
store s3 31012 "$OFPR"
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
stop_dtls
start_dtls "$tmp/dp.conf"
store s4 31016 "$F1"
store s5 31020 "$F2"
G1=$(dtls 31016 41016 "$F1")
G2=$(dtls 31020 41020 "$F2")
chk "f: after a restart both are loaded again: F1 and F2 legs handshake, each peer seeing its own; pr:dtls:fingerprint stays F2" \
	G1="$G1" G2="$G2" F="\"$(ms_redis GET pr:dtls:fingerprint)\"" F2="\"$F2\"" -- \
	'G1["handshake"] and G1["fpr_ok"] and G2["handshake"] and G2["fpr_ok"] and F == F2'

# ---- g: past the grace ----
pr_log "g: restarted with rotate_grace_s = 0: the previous certificate no longer used"
stop_dtls
sed -e 's|^handshake_timeout_s = 4$|handshake_timeout_s = 4\nrotate_grace_s = 0|' "$tmp/dp.conf" >"$tmp/g.conf"
start_dtls "$tmp/g.conf"
store s6 31024 "$F1"
M0=$(mstats)
X=$(dtls 31024 41024 "$F1")
pr_wait_for 5 sh -c "redis-cli -s $tmp/redis.sock XRANGE pr:sessions:events - + | paste -sd' ' | grep -q 'id s6 cdr_id cdr-s6 reason dtls-cert'" || true
chk "g: past its grace an F1 leg fails (dtls-cert) instead of handshaking with a certificate its peer was not given" \
	X="$X" M0="$M0" M1="$(mstats)" EV="$(has_event s6 dtls-cert)" -- \
	'not X["handshake"] and d(M1, M0, "dtls_failed_cert") == 1 and EV == 1'

if [ ${#FAILS[@]} -gt 0 ]; then
	printf 'failed: %s\n' "${FAILS[@]}" >&2
	tail -20 "$tmp/dp.log" >&2
	tail -20 "$tmp/dtls.log" >&2
	exit 1
fi
pr_log "media_dtls_rotate: all scenarios passed"
