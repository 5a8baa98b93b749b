#!/usr/bin/env bash
# parallel: heavy
# A real browser's call through the appliance (issue 19): Debian's headless Chromium, driven
# by puppeteer-core (tests/node/browser_call.js), loads the WebRTC demo page
# (examples/webrtc/, served by its serve.js), registers over WSS with JsSIP and calls a
# baresip device registered over TLS with SDES-SRTP; then the device calls the browser. The
# media is anchored on the dataplane: ICE-lite and DTLS-SRTP (poprelay-dtls) toward the
# browser, SDES-SRTP toward the device. Chromium's microphone is its fake device playing a
# 660 Hz tone; the device plays 1000 Hz. Checks, for each of the two calls:
#   - answered and ended by the caller's hang-up (CDR: keying dtls / sdes per side);
#   - each end hears the other's tone: the page's WebAudio AnalyserNode on the remote track
#     finds 1000 Hz for 2 s or more; what baresip decoded (its sndfile dump) is 660 Hz
#     (tests/integration/media/tone.py);
#   - the page's getStats: DTLS connected, an SRTP cipher, the ICE pair's remote end on the
#     anchor's relay port, packets both ways;
#   - the anchor: a DTLS handshake completed per call (/poprelay/media/stats), X_dtls_suite
#     and X_keying dtls on the browser's leg, sdes on the device's, packets both ways on
#     both legs (the session hash mid-call);
#   - the wire (dumpcap on both links; tests/integration/media/webrtc_wire.py): STUN and
#     DTLS handshake records then SRTP both ways on the browser's link, SRTP only on the
#     device's, no payload on both legs, nothing between the endpoints directly.
# Topology (callenv.sh, prefix wb-): the bridge in wb-lan joins the dataplane's port
# (198.51.100.10, net_af_packet), the slowpath (198.51.100.2: TLS 5061, WSS 8443), the
# device in wb-alice (.21) and the browser in wb-carol (.31: Chromium, and serve.js on its
# loopback, the page's origin http://127.0.0.1:8080 in ws_origins).
# WB_KEEP=DIR keeps this run's files. Exit 0 pass, 77 skip, 1 fail.
set -uo pipefail
source "$(dirname "$0")/../lib.sh"
source "$PR_ROOT/tests/integration/slowpath/common.sh"
source "$PR_ROOT/tests/integration/media/callenv.sh"
trap 'trap "" INT TERM; exit 130' INT TERM
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
NODE_DIR=$PR_ROOT/tests/node
command -v node >/dev/null || pr_skip "node not installed (make deps)"
[ -x "$CHROMIUM" ] || pr_skip "chromium not installed (make deps)"
[ -d "$NODE_DIR/node_modules/puppeteer-core" ] && [ -d "$NODE_DIR/node_modules/jssip" ] ||
	pr_skip "puppeteer-core or JsSIP not installed: (cd tests/node && npm ci), or make deps"
ce_init wb wb-call
DTLS=$BUILD/poprelay-dtls
[ -x "$DTLS" ] || pr_fail "$DTLS not built (make build)"
[ -n "${WB_KEEP:-}" ] && pr_on_exit "mkdir -p '$WB_KEEP' && cp -a '$D/.' '$WB_KEEP/'"
WEB_HZ=660
DEV_HZ=1000
WSS=8443
PAGE=127.0.0.1:8080
ORIGIN=http://$PAGE
CALL1_S=8 # the page hangs up its call after this long
CALL2_S=9 # the device hangs up its call after this long (baresip -t, from its start)

ce_topology alice=198.51.100.21 carol=198.51.100.31
CE_DP_EXTRA="stats_interval_ms = 500
dtls_socket = $D/dtls.sock

[dtls]
dataplane_socket = $D/dtls.sock
cert_dir = $D/anchor-cert"
CE_HUGE=no ce_dataplane
tel() { $TEL $PREFIX "$@"; }
mstats() { tel /poprelay/media/stats; }
"$DTLS" -c "$D/dp.conf" >>"$D/dtls.log" 2>&1 &
DTLS_PID=$!
pr_on_exit "kill $DTLS_PID 2>/dev/null"
pr_wait_for 10 sh -c "$TEL $PREFIX /poprelay/media/stats | grep -q '\"dtls_process_attached\": 1'" ||
	{ tail -20 "$D/dtls.log"; ce_fail "poprelay-dtls did not attach to the dataplane"; }
pr_wait_for 10 sh -c "redis-cli -s '$D/redis.sock' EXISTS pr:dtls:fingerprint | grep -qx 1" ||
	ce_fail "poprelay-dtls wrote no pr:dtls:fingerprint"
echo "ok: poprelay-dtls attached, its fingerprint published"

# JsSIP answers MD5 challenges only
ce_slowpath "wss_listen = $SP_ADDR:$WSS" "ws_origins = $ORIGIN"
sp_user_add "$D" alice "$SP_PW_alice"
sp_user_add "$D" carol "$SP_PW_carol"
# the one certificate Chromium accepts unverified: the slowpath's (sha-256 of its key, base64)
SPKI=$(openssl x509 -in "$D/server.crt" -noout -pubkey | openssl pkey -pubin -outform der |
	openssl dgst -sha256 -binary | base64)

# --- tones, the device ---------------------------------------------------------------------
python3 "$MEDIA/tone.py" gen "$D/carol.wav" $WEB_HZ 30
python3 "$MEDIA/tone.py" gen "$D/alice.wav" $DEV_HZ 30
ce_baresip_conf alice "<sip:alice@poprelay;transport=tls>;auth_pass=$SP_PW_alice;outbound=\"sip:$SP_ADDR:5061;transport=tls\";audio_codecs=PCMU,PCMA;mediaenc=srtp-mand;answermode=auto;regint=600" \
	"sip_trans_def tls" "module srtp.so"
ce_baresip alice 60
DEV1=$BS_PID
pr_wait_for 10 bash -c "[ \"\$(redis-cli -s '$D/redis.sock' HGET pr:reg:alice transport)\" = tls ]" ||
	ce_fail "alice (the device) did not register over TLS"

# --- the page, the browser -----------------------------------------------------------------
cat >"$D/demo.json" <<JSON
{"wss": "wss://$SP_ADDR:$WSS", "user": "carol", "password": "$SP_PW_carol", "domain": "poprelay", "target": "alice"}
JSON
ip netns exec wb-carol node "$PR_ROOT/examples/webrtc/serve.js" $PAGE "$D/demo.json" >"$D/serve.log" 2>&1 &
SERVE_PID=$!
pr_on_exit "kill $SERVE_PID 2>/dev/null"
pr_wait_for 10 grep -q "^serving" "$D/serve.log" || { cat "$D/serve.log"; ce_fail "serve.js did not start"; }

ce_capture_start carol leg-web
ce_capture_start alice leg-dev
M0=$(mstats)
# (node's process group: its Chromium goes with it when the test ends early)
ip netns exec wb-carol setsid node "$NODE_DIR/browser_call.js" "$ORIGIN/" "$D/carol.wav" "$SPKI" \
	alice $CALL1_S "$CHROMIUM" >"$D/browser.out" 2>"$D/browser.err" &
BR_PID=$!
pr_on_exit "kill -- -$BR_PID 2>/dev/null; kill $BR_PID 2>/dev/null"
brfail() {
	echo "--- browser.out" >&2
	cat "$D/browser.out" >&2
	echo "--- tail of browser.err" >&2
	tail -n 30 "$D/browser.err" >&2
	ce_fail "$*"
}
pr_wait_for 30 grep -q "^registered" "$D/browser.out" || brfail "the browser did not register over WSS"
[ "$(R HGET pr:reg:carol transport)" = wss ] || brfail "carol's binding is not wss"
echo "ok: the demo page in Chromium registered carol over WSS from $ORIGIN"

# mid_call N: once the call's session exists, its hash as soon as the dataplane's figures
# show 50 packets each way on both legs (or after 7 s), and the media stats
mid_call() {
	local i
	pr_wait_for 15 bash -c "redis-cli -s '$D/redis.sock' SCARD pr:sessions | grep -qx 1" ||
		brfail "call $1: no media session"
	for i in $(seq 35); do
		ce_session "$D/session$1.txt" >/dev/null
		python3 -c 'import sys; l=open(sys.argv[1]).read().splitlines(); h=dict(zip(l[0::2], l[1::2]))
sys.exit(0 if all(int(h.get(f"{x}_{d}_packets", 0)) >= 50 for x in "ab" for d in ("rx", "tx")) else 1)' \
			"$D/session$1.txt" && break
		sleep 0.2
	done
	mstats >"$D/mstats$1.json"
}
# result N TAG: the driver's JSON line for the call into $D/pageN.json
result() {
	pr_wait_for "$3" grep -q "^$2 " "$D/browser.out" || brfail "call $1: the page's result never came"
	sed -n "s/^$2 //p" "$D/browser.out" >"$D/page$1.json"
}

# --- call 1: the browser calls the device --------------------------------------------------
mid_call 1
result 1 call 15
ce_ended || ce_fail "call 1: the session did not end"
CDR1=$(R ZRANGE pr:cdrs -1 -1)
kill $DEV1 2>/dev/null
wait $DEV1 2>/dev/null
mkdir -p "$D/alice1"
mv "$D"/alice/dump-* "$D/alice1/" 2>/dev/null

# --- call 2: the device calls the browser --------------------------------------------------
pr_wait_for 10 grep -q "^waiting" "$D/browser.out" || brfail "the page is not waiting for a call"
ce_baresip alice $CALL2_S -e "/dial sip:carol@poprelay"
DEV2=$BS_PID
mid_call 2
result 2 answer 20
wait $DEV2 2>/dev/null
ce_ended || ce_fail "call 2: the session did not end"
CDR2=$(R ZRANGE pr:cdrs -1 -1)
wait $BR_PID
rc=$?
[ $rc = 0 ] || brfail "browser_call.js exited $rc"
sleep 0.5
ce_capture_stop leg-web leg-dev
mstats >"$D/mstats-end.json"
echo "ok: two calls ran (browser -> device, device -> browser)"

# --- checks (each reported; any failure fails the test at the end) -------------------------
FAILS=()
chk() { # label check.py-args...
	local label=$1
	shift
	if python3 "$MEDIA/check.py" "$@"; then
		echo "ok: $label"
	else
		FAILS+=("$label")
		echo "FAIL: $label"
	fi
}
# the page: call state, what it heard, its leg's figures. B: the browser's leg in the session
for n in 1 2; do
	S=$D/session$n.txt
	if [ $n = 1 ]; then W=a V=b DIR=outgoing CDR=$CDR1; else W=b V=a DIR=incoming CDR=$CDR2; fi
	RELAY="$DP_IP:$(ce_field "$S" ${W}_relay_port)"
	chk "call $n ($DIR for the page): ended by the caller after it was confirmed; the page heard $DEV_HZ Hz for 2 s or more and never its own $WEB_HZ Hz" \
		P=@"$D/page$n.json" -- \
		"P['direction'] == '$DIR' and P['call'] == 'ended'" \
		"'confirmed' in ' '.join(P['log'])" \
		"sum(1 for h in P['heard'] if abs(h['hz'] - $DEV_HZ) <= 15) >= 20" \
		"sum(1 for h in P['heard'] if abs(h['hz'] - $WEB_HZ) <= 15) == 0"
	chk "call $n: the page's leg: ICE pair to the anchor's $RELAY, DTLS connected, SRTP, packets both ways" \
		P=@"$D/page$n.json" -- \
		"P['stats']['dtlsState'] == 'connected' and P['stats'].get('srtpCipher') in ('SRTP_AES128_CM_HMAC_SHA1_80', 'SRTP_AEAD_AES_128_GCM')" \
		"P['stats']['remote'].startswith('$RELAY ')" \
		"P['stats']['packetsReceived'] >= 100 and P['stats']['packetsSent'] >= 100"
	chk "call $n: the session: the browser's leg $W keyed by DTLS-SRTP, the device's $V by SDES, packets both ways on both legs" \
		H="$(python3 -c 'import json,sys; l=open(sys.argv[1]).read().splitlines(); print(json.dumps(dict(zip(l[0::2], l[1::2]))))' "$S")" -- \
		"H['${W}_keying'] == 'dtls' and H['${W}_dtls_suite'] in ('AES_CM_128_HMAC_SHA1_80', 'AEAD_AES_128_GCM')" \
		"H['${V}_keying'] == 'sdes' and H['${V}_suite'].startswith('AES_CM_128') and '${V}_dtls_suite' not in H" \
		"all(int(H.get(f'{l}_{d}_packets', 0)) >= 50 for l in 'ab' for d in ('rx', 'tx'))"
	chk "call $n: CDR $CDR answered, keying $( [ $n = 1 ] && echo dtls/sdes || echo sdes/dtls)" \
		C="$(R HGETALL "pr:cdr:$CDR" | python3 -c 'import json,sys; l=sys.stdin.read().splitlines(); print(json.dumps(dict(zip(l[0::2], l[1::2]))))')" -- \
		"int(C['answer']) > 0 and C['end_reason'] == 'bye-caller'" \
		"(C['caller_keying'], C['callee_keying']) == $( [ $n = 1 ] && echo "('dtls', 'sdes')" || echo "('sdes', 'dtls')")"
	python3 -c 'import json,sys; h=json.load(open(sys.argv[1]))["heard"]
print("note: call %s: the page heard the device %s after the remote track came" % (sys.argv[2], "%.1f s" % (h[0]["t"] / 1000) if h else "never"))' \
		"$D/page$n.json" $n
	set -- "$D/alice$n"/dump-*-dec.wav
	[ $n = 2 ] && set -- "$D/alice"/dump-*-dec.wav
	if [ $# = 1 ] && [ -f "$1" ]; then
		python3 "$MEDIA/tone.py" check "$1" $WEB_HZ $DEV_HZ --label "call $n: the device heard the browser" ||
			FAILS+=("call $n: device audio")
	else
		FAILS+=("call $n: device audio")
		echo "FAIL: call $n: expected one sndfile dump of what the device decoded, found: $*"
	fi
done
chk "the anchor: one DTLS-SRTP handshake completed per call, none failed" \
	M0="$M0" M1=@"$D/mstats-end.json" -- \
	'd(M1, M0, "dtls_handshakes_completed") == 2' \
	'd(M1, M0, "dtls_legs_failed") == 0'
echo "note: DTLS records dropped (the browser's ClientHellos before its nomination): $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["/poprelay/media/stats"]["dtls_dropped"])' "$D/mstats-end.json")"
python3 "$MEDIA/webrtc_wire.py" --relay $DP_IP --ports $PORTS --tones $WEB_HZ,$DEV_HZ wire \
	"$IP_carol:$D/leg-web.pcap" "$IP_alice:$D/leg-dev.pcap" || FAILS+=("wire")

kill -0 "$SP_PID" 2>/dev/null || FAILS+=("slowpath died")
kill -0 "$DP_PID" 2>/dev/null || FAILS+=("dataplane died")
if [ ${#FAILS[@]} -gt 0 ]; then
	echo "--- tail of browser.err" >&2
	tail -n 30 "$D/browser.err" >&2
	tail -n 20 "$D/dtls.log" >&2
	ce_dump_logs
	pr_fail "failed: ${FAILS[*]}"
fi
echo "PASS"
