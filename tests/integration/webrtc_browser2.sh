#!/usr/bin/env bash
# parallel: heavy
# Real browsers through the appliance (issue 19), the two cases webrtc_browser.sh does not
# cover. Debian's headless Chromium, driven by puppeteer-core (tests/node/browser_page.js),
# loads the WebRTC demo page (examples/webrtc/, served by its serve.js) and registers over
# WSS with JsSIP; the media is anchored on the dataplane (ICE-lite, DTLS-SRTP by
# poprelay-dtls). Each browser's microphone is its fake device playing a tone.
# 1. Browser to browser: carol's page (660 Hz) calls dave's (880 Hz), which answers; carol
#    hangs up. Checks: each page heard the other's tone for 2 s or more and never its own;
#    each page's getStats: DTLS connected, an SRTP cipher, its ICE pair's remote end on its
#    own leg's anchor port, packets both ways; the session: both legs keyed by DTLS-SRTP with
#    four different exported keys (compared here, never printed), packets both ways; two
#    handshakes completed on the anchor, none failed; the CDR answered, keying dtls/dtls.
# 2. A browser through our TURN relay, relay-only: carol's page gets iceServers
#    [turn:198.51.100.10:3478?transport=udp] with TURN REST credentials that serve.js mints
#    from the secret file the appliance's REST secret was added from (poprelayctl turn secret
#    add --from-file), and iceTransportPolicy "relay"; it calls alice, a baresip device
#    (TLS, SDES-SRTP, 1000 Hz). Checks: each end heard the other (the page: AnalyserNode;
#    the device: its sndfile dump, tests/integration/media/tone.py); the page's selected
#    pair: a relay candidate on our TURN relayed address to the anchor's port, DTLS
#    connected; mid-call, the anchor: the browser's leg latched to that relayed address,
#    keyed by DTLS, packets both ways, a TURN allocation (poprelayctl turn allocations list)
#    of user EXPIRY:carol with that relayed address, and the dataplane's hairpin counter
#    grew (the media crossed between TURN and the anchor inside the dataplane); one more
#    handshake completed; the CDR keying dtls/sdes.
# Topology (callenv.sh, prefix w2-): the bridge in w2-lan joins the dataplane's port
# (198.51.100.10, net_af_packet; TURN on 3478, relay ports 49152-65535), the slowpath
# (198.51.100.2: TLS 5061, WSS 8443), the device in w2-alice (.21) and the browsers in
# w2-carol (.31) and w2-dave (.32), each with its serve.js on its own loopback (the pages'
# origin http://127.0.0.1:8080 in ws_origins).
# WB2_KEEP=DIR keeps this run's files. Exit 0 pass, 77 skip, 1 fail.
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
ce_init w2 w2-call
DTLS=$BUILD/poprelay-dtls
CTL=$BUILD/poprelayctl
[ -x "$DTLS" ] || pr_fail "$DTLS not built (make build)"
[ -n "${WB2_KEEP:-}" ] && pr_on_exit "mkdir -p '$WB2_KEEP' && cp -a '$D/.' '$WB2_KEEP/'"
CAROL_HZ=660
DAVE_HZ=880
DEV_HZ=1000
WSS=8443
PAGE=127.0.0.1:8080
ORIGIN=http://$PAGE
CALL_S=8 # the calling page hangs up after this long

ce_topology alice=198.51.100.21 carol=198.51.100.31 dave=198.51.100.32
CE_DP_EXTRA="stats_interval_ms = 500
dtls_socket = $D/dtls.sock

[dtls]
dataplane_socket = $D/dtls.sock
cert_dir = $D/anchor-cert

[turn]
nonce_secret_file = $D/turn-nonce.key
counters_sync_s = 1"
CE_HUGE=no ce_dataplane
tel() { $TEL $PREFIX "$@"; }
mstats() { tel /poprelay/media/stats; }
"$DTLS" -c "$D/dp.conf" >>"$D/dtls.log" 2>&1 &
DTLS_PID=$!
pr_on_exit "kill $DTLS_PID 2>/dev/null"
pr_wait_for 10 sh -c "$TEL $PREFIX /poprelay/media/stats | grep -q '\"dtls_process_attached\": 1'" ||
	{ tail -20 "$D/dtls.log"; ce_fail "poprelay-dtls did not attach to the dataplane"; }
tel /poprelay/turn/stats >/dev/null || ce_fail "no TURN relay in the dataplane"
echo "ok: poprelay-dtls attached, TURN running"

# JsSIP answers MD5 challenges only
ce_slowpath "wss_listen = $SP_ADDR:$WSS" "ws_origins = $ORIGIN"
ctl() { "$CTL" -c "$D/sp.conf" -s "$D/redis.sock" "$@"; }
# the TURN REST secret: the appliance's (pr:turn:secrets) and the web server's, one file
openssl rand -hex 24 >"$D/turn.secret"
chmod 600 "$D/turn.secret"
ctl turn secret add web --from-file "$D/turn.secret" >/dev/null || ce_fail "poprelayctl turn secret add"
for u in alice carol dave; do
	eval "SP_PW_$u=\${SP_PW_$u:-$u-Pw-$RANDOM$RANDOM}"
	eval "sp_user_add \"\$D\" $u \"\$SP_PW_$u\""
done
# the one certificate Chromium accepts unverified: the slowpath's (sha-256 of its key, base64)
SPKI=$(openssl x509 -in "$D/server.crt" -noout -pubkey | openssl pkey -pubin -outform der |
	openssl dgst -sha256 -binary | base64)
python3 "$MEDIA/tone.py" gen "$D/carol.wav" $CAROL_HZ 30
python3 "$MEDIA/tone.py" gen "$D/dave.wav" $DAVE_HZ 30
python3 "$MEDIA/tone.py" gen "$D/alice.wav" $DEV_HZ 30

# page NAME CONFIG_JSON: NAME's serve.js in its namespace (its /config.json is re-read at
# every request: rewrite the file to change the page's settings)
page() {
	echo "$2" >"$D/$1.json"
	ip netns exec w2-$1 node "$PR_ROOT/examples/webrtc/serve.js" $PAGE "$D/$1.json" >"$D/serve-$1.log" 2>&1 &
	pr_on_exit "kill $! 2>/dev/null"
	pr_wait_for 10 grep -q "^serving" "$D/serve-$1.log" || { cat "$D/serve-$1.log"; ce_fail "serve.js ($1) did not start"; }
}
account() { # user [extra JSON members]
	local pw
	eval "pw=\$SP_PW_$1"
	echo "{\"wss\": \"wss://$SP_ADDR:$WSS\", \"user\": \"$1\", \"password\": \"$pw\", \"domain\": \"poprelay\"${2:+, $2}}"
}
# browser NAME ARGS...: browser_page.js in NAME's namespace (its own process group, so its
# Chromium goes with it); output in $D/NAME.out; sets BR_PID
browser() {
	local n=$1
	shift
	ip netns exec w2-$n setsid node "$NODE_DIR/browser_page.js" "$ORIGIN/" "$D/$n.wav" "$SPKI" \
		"$@" "$CHROMIUM" >"$D/$n.out" 2>"$D/$n.err" &
	BR_PID=$!
	pr_on_exit "kill -- -$BR_PID 2>/dev/null; kill $BR_PID 2>/dev/null"
}
brfail() {
	local n
	for n in carol dave; do
		[ -f "$D/$n.out" ] || continue
		echo "--- $n.out" >&2
		cut -c1-400 "$D/$n.out" >&2
		echo "--- tail of $n.err" >&2
		tail -n 30 "$D/$n.err" >&2
	done
	ce_fail "$*"
}
# result NAME TAG TIMEOUT OUT: the driver's JSON line into OUT
result() {
	pr_wait_for "$3" grep -q "^$2 " "$D/$1.out" || brfail "$1: the page's result ($2) never came"
	sed -n "s/^$2 //p" "$D/$1.out" >"$4"
}
# mid_call N: once the call's session exists, its hash as soon as both legs show 50 packets
# each way (or after 7 s) into $D/sessionN.txt, and the media and dataplane figures
mid_call() {
	pr_wait_for 20 bash -c "redis-cli -s '$D/redis.sock' SCARD pr:sessions | grep -qx 1" ||
		brfail "call $1: no media session"
	for _ in $(seq 35); do
		ce_session "$D/session$1.txt" >/dev/null
		python3 -c 'import sys; l=open(sys.argv[1]).read().splitlines(); h=dict(zip(l[0::2], l[1::2]))
sys.exit(0 if all(int(h.get(f"{x}_{d}_packets", 0)) >= 50 for x in "ab" for d in ("rx", "tx")) else 1)' \
			"$D/session$1.txt" && break
		sleep 0.2
	done
	mstats >"$D/mstats$1.json"
	tel /poprelay/stats >"$D/stats$1.json"
	ctl --json turn allocations list >"$D/allocs$1.json" 2>"$D/allocs$1.err"
}
# hash_json FILE: a session hash dump as JSON without its keys and ICE passwords (a failed
# check prints it);
# keys_json FILE: what the test needs to know of the DTLS keys: their lengths, how many differ
hash_json() { python3 -c 'import json,re,sys; l=open(sys.argv[1]).read().splitlines(); print(json.dumps({k: v for k, v in zip(l[0::2], l[1::2]) if not re.search(r"_key_(rx|tx)$|_ice_pwd$", k)}))' "$1"; }
keys_json() {
	python3 -c 'import json,sys; l=open(sys.argv[1]).read().splitlines(); h=dict(zip(l[0::2], l[1::2]))
k=[h.get(f"{l}_dtls_key_{d}", "") for l in "ab" for d in ("rx", "tx")]
print(json.dumps({"lengths": [len(x) for x in k], "distinct": len(set(k))}))' "$1"
}
cdr_json() { R HGETALL "pr:cdr:$1" | python3 -c 'import json,sys; l=sys.stdin.read().splitlines(); print(json.dumps(dict(zip(l[0::2], l[1::2]))))'; }
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

# === 1. browser to browser ==================================================================
page carol "$(account carol)"
page dave "$(account dave)"
browser dave answer 40
DAVE_PID=$BR_PID
pr_wait_for 30 grep -q "^waiting" "$D/dave.out" || brfail "dave's page did not register and wait"
browser carol call dave $CALL_S
CAROL_PID=$BR_PID
pr_wait_for 30 grep -q "^registered" "$D/carol.out" || brfail "carol's page did not register"
[ "$(R HGET pr:reg:carol transport)" = wss ] && [ "$(R HGET pr:reg:dave transport)" = wss ] ||
	brfail "carol's and dave's bindings are not wss"
echo "ok: two pages in two Chromiums registered carol and dave over WSS"
M0=$(mstats)
mid_call 1
result carol call 20 "$D/page1-carol.json"
result dave answer 15 "$D/page1-dave.json"
ce_ended || ce_fail "call 1: the session did not end"
CDR1=$(R ZRANGE pr:cdrs -1 -1)
wait $CAROL_PID || brfail "call 1: carol's browser_page.js exited $?"
wait $DAVE_PID || brfail "call 1: dave's browser_page.js exited $?"
mstats >"$D/mstats1-end.json"

S=$D/session1.txt
for p in "carol a $DAVE_HZ $CAROL_HZ outgoing" "dave b $CAROL_HZ $DAVE_HZ incoming"; do
	set -- $p
	RELAY="$DP_IP:$(ce_field "$S" ${2}_relay_port)"
	chk "call 1 ($5 for $1's page): confirmed, ended; $1 heard $3 Hz for 2 s or more and never its own $4 Hz" \
		P=@"$D/page1-$1.json" -- \
		"P['direction'] == '$5' and P['call'] == 'ended'" \
		"'confirmed' in ' '.join(P['log'])" \
		"sum(1 for h in P['heard'] if abs(h['hz'] - $3) <= 15) >= 20" \
		"sum(1 for h in P['heard'] if abs(h['hz'] - $4) <= 15) == 0"
	chk "call 1: $1's leg ($2): ICE pair to the anchor's $RELAY, DTLS connected, SRTP, packets both ways" \
		P=@"$D/page1-$1.json" -- \
		"P['stats']['dtlsState'] == 'connected' and P['stats'].get('srtpCipher') in ('SRTP_AES128_CM_HMAC_SHA1_80', 'SRTP_AEAD_AES_128_GCM')" \
		"P['stats']['remote'].startswith('$RELAY ')" \
		"P['stats']['packetsReceived'] >= 100 and P['stats']['packetsSent'] >= 100"
done
# (the keys stay inside check.py: only the verdict is printed)
chk "call 1: the session: both legs keyed by DTLS-SRTP, four different exported keys, packets both ways on both legs" \
	H="$(hash_json "$S")" K="$(keys_json "$S")" -- \
	"H['a_keying'] == 'dtls' and H['b_keying'] == 'dtls'" \
	"all(H.get(f'{l}_dtls_suite') in ('AES_CM_128_HMAC_SHA1_80', 'AEAD_AES_128_GCM') for l in 'ab')" \
	"all(n >= 40 for n in K['lengths'])" \
	"K['distinct'] == 4" \
	"all(int(H.get(f'{l}_{d}_packets', 0)) >= 50 for l in 'ab' for d in ('rx', 'tx'))"
chk "call 1: two DTLS-SRTP handshakes completed on the anchor, none failed" \
	M0="$M0" M1=@"$D/mstats1-end.json" -- \
	'd(M1, M0, "dtls_handshakes_completed") == 2' \
	'd(M1, M0, "dtls_legs_failed") == 0'
chk "call 1: CDR $CDR1 answered, ended by the caller, keying dtls/dtls" \
	C="$(cdr_json "$CDR1")" -- \
	"int(C['answer']) > 0 and C['end_reason'] == 'bye-caller'" \
	"(C['caller_keying'], C['callee_keying']) == ('dtls', 'dtls')"

# === 2. a browser through our TURN relay, relay-only ICE ====================================
account carol "\"turn\": {\"urls\": \"turn:$DP_IP:3478?transport=udp\", \"secret_file\": \"$D/turn.secret\", \"ttl_s\": 3600, \"relay_only\": true}" >"$D/carol.json"
ce_baresip_conf alice "<sip:alice@poprelay;transport=tls>;auth_pass=$SP_PW_alice;outbound=\"sip:$SP_ADDR:5061;transport=tls\";audio_codecs=PCMU,PCMA;mediaenc=srtp-mand;answermode=auto;regint=600" \
	"sip_trans_def tls" "module srtp.so"
ce_baresip alice 60
DEV=$BS_PID
pr_wait_for 10 bash -c "[ \"\$(redis-cli -s '$D/redis.sock' HGET pr:reg:alice transport)\" = tls ]" ||
	ce_fail "alice (the device) did not register over TLS"
M0=$(mstats)
X0=$(tel /poprelay/stats)
T0=$(tel /poprelay/turn/stats)
browser carol call alice $CALL_S
CAROL_PID=$BR_PID
pr_wait_for 30 grep -q "^registered" "$D/carol.out" || brfail "carol's relay-only page did not register"
echo "ok: carol's page: $(sed -n 's/^registered //p' "$D/carol.out" | sed 's/"turnUser":"[0-9]*:/"turnUser":"EXPIRY:/')"
mid_call 2
result carol call 25 "$D/page2.json"
ce_ended || ce_fail "call 2: the session did not end"
CDR2=$(R ZRANGE pr:cdrs -1 -1)
wait $CAROL_PID || brfail "call 2: carol's browser_page.js exited $?"
kill $DEV 2>/dev/null
wait $DEV 2>/dev/null
mstats >"$D/mstats2-end.json"
T1=$(tel /poprelay/turn/stats)

S=$D/session2.txt
RELAY="$DP_IP:$(ce_field "$S" a_relay_port)"
LATCHED=$(ce_field "$S" a_latched)
echo "note: call 2: the browser's leg latched to $LATCHED; the page's pair: $(python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["stats"]; print(s.get("local"), "->", s.get("remote"))' "$D/page2.json")"
chk "call 2: the relay-only page got TURN REST credentials for carol and iceTransportPolicy relay" \
	R="$(sed -n 's/^registered //p' "$D/carol.out")" -- \
	"R['policy'] == 'relay'" \
	"R['turnUser'].split(':')[1] == 'carol' and int(R['turnUser'].split(':')[0]) > $(date +%s)"
chk "call 2: the page: confirmed, ended; heard the device's $DEV_HZ Hz for 2 s or more, never its own $CAROL_HZ Hz" \
	P=@"$D/page2.json" -- \
	"P['direction'] == 'outgoing' and P['call'] == 'ended'" \
	"'confirmed' in ' '.join(P['log'])" \
	"sum(1 for h in P['heard'] if abs(h['hz'] - $DEV_HZ) <= 15) >= 20" \
	"sum(1 for h in P['heard'] if abs(h['hz'] - $CAROL_HZ) <= 15) == 0"
chk "call 2: the page's pair: a relay candidate on our TURN relayed address ($LATCHED, latched by the anchor) to the anchor's $RELAY, DTLS connected, packets both ways" \
	P=@"$D/page2.json" -- \
	"P['stats']['local'] == '$LATCHED (relay)'" \
	"P['stats']['remote'].startswith('$RELAY ')" \
	"P['stats']['dtlsState'] == 'connected' and P['stats'].get('srtpCipher') in ('SRTP_AES128_CM_HMAC_SHA1_80', 'SRTP_AEAD_AES_128_GCM')" \
	"P['stats']['packetsReceived'] >= 100 and P['stats']['packetsSent'] >= 100"
chk "call 2: the anchor: the browser's leg latched to one of our TURN relay ports, keyed by DTLS; the device's by SDES; packets both ways on both legs" \
	H="$(hash_json "$S")" -- \
	"H['a_latched'].startswith('$DP_IP:') and 49152 <= int(H['a_latched'].rsplit(':', 1)[1]) <= 65535" \
	"H['a_keying'] == 'dtls' and H['b_keying'] == 'sdes'" \
	"all(int(H.get(f'{l}_{d}_packets', 0)) >= 50 for l in 'ab' for d in ('rx', 'tx'))"
chk "call 2: mid-call, a TURN allocation of user EXPIRY:carol relays on $LATCHED" \
	A=@"$D/allocs2.json" -- \
	"[a for a in A if a['username'].endswith(':carol') and '%s:%s' % (a['relay_addr'], a['relay_port']) == '$LATCHED']"
chk "call 2: the hairpin: the dataplane's hairpin counter grew by at least what the browser's leg received and sent, TURN relayed without a drop" \
	X0="$X0" X1=@"$D/stats2.json" H="$(hash_json "$S")" T0="$T0" T1="$T1" -- \
	'd(X1, X0, "hairpin") >= int(H["a_rx_packets"]) + int(H["a_tx_packets"])' \
	'd(T1, T0, "drop_no_permission") == 0 and d(T1, T0, "drop_no_channel") == 0'
chk "call 2: one more DTLS-SRTP handshake completed on the anchor, none failed" \
	M0="$M0" M1=@"$D/mstats2-end.json" -- \
	'd(M1, M0, "dtls_handshakes_completed") == 1' \
	'd(M1, M0, "dtls_legs_failed") == 0'
chk "call 2: CDR $CDR2 answered, ended by the caller, keying dtls/sdes" \
	C="$(cdr_json "$CDR2")" -- \
	"int(C['answer']) > 0 and C['end_reason'] == 'bye-caller'" \
	"(C['caller_keying'], C['callee_keying']) == ('dtls', 'sdes')"
set -- "$D/alice"/dump-*-dec.wav
if [ $# = 1 ] && [ -f "$1" ]; then
	python3 "$MEDIA/tone.py" check "$1" $CAROL_HZ $DEV_HZ --label "call 2: the device heard the browser through TURN" ||
		FAILS+=("call 2: device audio")
else
	FAILS+=("call 2: device audio")
	echo "FAIL: call 2: expected one sndfile dump of what the device decoded, found: $*"
fi

kill -0 "$SP_PID" 2>/dev/null || FAILS+=("slowpath died")
kill -0 "$DP_PID" 2>/dev/null || FAILS+=("dataplane died")
if [ ${#FAILS[@]} -gt 0 ]; then
	for n in carol dave; do
		echo "--- tail of $n.err" >&2
		tail -n 20 "$D/$n.err" >&2
	done
	tail -n 20 "$D/dtls.log" >&2
	ce_dump_logs
	pr_fail "failed: ${FAILS[*]}"
fi
echo "PASS"
