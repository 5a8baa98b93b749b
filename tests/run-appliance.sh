#!/usr/bin/env bash
# `make run`: the whole appliance on virtual ports, until Ctrl-C.
#
#   namespace pr-pop     the dataplane's port: net_af_packet on veth pr-pop0 (no kernel
#                        address on it; the dataplane answers ARP/ND/ICMP itself)
#   namespace pr-client  a client on pr-cli0: 198.51.100.20/24, 2001:db8:100::20/64
#   redis-server         on a unix socket in a private directory
#   poprelay-dataplane   images/poprelay.conf with the virtual port filled in
#   poprelay-slowpath    SIP over TLS on 192.0.2.1:5061 in pr-pop (kernel stack, a second
#                        veth pair pr-pop-sig/pr-cli-sig), certificate from a demo CA
#   poprelay-turnfront   TURN over TCP (192.0.2.1:3478) and TLS (192.0.2.1:5349) in pr-pop,
#                        attached to the dataplane's stream socket
#   poprelay-dtls        the DTLS-SRTP handshakes of browser legs, attached to the
#                        dataplane's [media] dtls_socket; the slowpath takes SIP over WSS on
#                        192.0.2.1:8443 from the demo page's origin http://127.0.0.1:8080
#   demo                 users alice, bob, carol and dave (poprelayctl user add); alice
#                        registers from pr-client with baresip over TLS; bob registers too and
#                        answers a call from carol's device: a tone, SDES-SRTP on both legs,
#                        anchored on the dataplane (poprelayctl session list/show, the CDR)
#   webrtc               examples/webrtc/serve.js on 127.0.0.1:8080 in pr-client; headless
#                        Chromium there (tests/node/browser_call.js) opens the page,
#                        registers dave over WSS and calls bob for 8 s: DTLS-SRTP on the
#                        browser's leg, SDES-SRTP on bob's (session list/show, the CDR)
#
# To add a process: write a start_<name> function that calls pr_start NAME NS CMD... and
# add <name> to PROCESSES below.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
. tests/lib.sh
# A second Ctrl-C (or timeout's signal to the whole group) must not cut the cleanup short.
trap 'trap "" INT TERM; exit 130' INT TERM
pr_need_root

PROCESSES=(dataplane dtls slowpath turnfront)
APPLIANCE_IP4=198.51.100.10
APPLIANCE_IP6=2001:db8:100::10
SIP_IP=192.0.2.1
CLIENT_SIP_IP=192.0.2.20
WSS_PORT=8443
PAGE=127.0.0.1:8080 # the WebRTC demo page, on pr-client's loopback (a secure context)
RUN=$(pr_tmpdir)
CONF=$RUN/poprelay.conf

# pr_start NAME NS CMD...: run CMD in namespace NS (or "-" for the host), log to
# $RUN/NAME.log, stop it at exit (SIGTERM, then SIGKILL).
pr_start() {
	local name=$1 ns=$2 pid
	shift 2
	if [ "$ns" = - ]; then
		"$@" >"$RUN/$name.log" 2>&1 &
	else
		ip netns exec "$ns" "$@" >"$RUN/$name.log" 2>&1 &
	fi
	pid=$!
	echo "$pid" >"$RUN/$name.pid"
	pr_on_exit "kill -TERM $pid 2>/dev/null; for _w in \$(seq 50); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done; kill -KILL $pid 2>/dev/null"
	pr_log "$name started (pid $pid, log $RUN/$name.log)"
}

topology() {
	pr_netns pr-pop
	pr_netns pr-client
	pr_veth pr-pop pr-pop0 pr-client pr-cli0
	ip netns exec pr-pop sysctl -qw net.ipv6.conf.pr-pop0.disable_ipv6=1
	ip -n pr-client addr add 198.51.100.20/24 dev pr-cli0
	ip -n pr-client addr add 2001:db8:100::20/64 dev pr-cli0 nodad
	# Signalling reaches the slowpath through the kernel stack of pr-pop.
	pr_veth pr-pop pr-pop-sig pr-client pr-cli-sig
	ip -n pr-pop addr add $SIP_IP/24 dev pr-pop-sig
	ip -n pr-client addr add $CLIENT_SIP_IP/24 dev pr-cli-sig
}

config() {
	local huge=no
	# (pr_hugepages exits on failure: only try where hugetlbfs can work at all)
	if grep -qw hugetlbfs /proc/filesystems && [ -w /proc/sys/vm/nr_hugepages ]; then
		pr_hugepages 256
		huge=yes
	fi
	# The default configuration, with the virtual port and this run's paths.
	sed -e "s|^device = .*|device = net_af_packet0,iface=pr-pop0,qpairs=2|" \
		-e "s|^huge = .*|huge = $huge|" \
		-e "s|^memory_mb = .*|memory_mb = 256|" \
		-e "s|^mbuf_pool_size = .*|mbuf_pool_size = 8191|" \
		-e "s|^worker_idle_sleep_us = .*|worker_idle_sleep_us = 100|" \
		-e "s|^socket = .*|socket = $RUN/redis.sock|" \
		-e "s|^user = .*|user =|" -e "s|^password_file = .*|password_file =|" \
		-e "s|^redis_user = .*|redis_user =|" -e "s|^redis_password_file = .*|redis_password_file =|" \
		images/poprelay.conf >"$CONF"
	# The slowpath's section: a demo certificate, the relay address for SDP.
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=poprelay demo CA" \
		-keyout "$RUN/ca.key" -out "$RUN/ca.crt" 2>/dev/null
	openssl req -newkey rsa:2048 -nodes -subj "/CN=$SIP_IP" -keyout "$RUN/sip.key" \
		-out "$RUN/sip.csr" 2>/dev/null
	printf 'subjectAltName=IP:%s\nextendedKeyUsage=serverAuth,clientAuth\n' "$SIP_IP" >"$RUN/sip.ext"
	openssl x509 -req -in "$RUN/sip.csr" -CA "$RUN/ca.crt" -CAkey "$RUN/ca.key" -CAcreateserial \
		-days 2 -extfile "$RUN/sip.ext" -out "$RUN/sip.crt" 2>/dev/null
	if ! grep -q '^\[sip\]' "$CONF"; then echo "[sip]" >>"$CONF"; fi
	sed -i "/^\[sip\]/a tls_listen = $SIP_IP:5061\nlisten = $SIP_IP:5060\ntls_cert = $RUN/sip.crt\ntls_key = $RUN/sip.key\ntls_ca = $RUN/ca.crt\nadvertised_host = $SIP_IP\nmedia_addr = $APPLIANCE_IP4\nmedia_ports = 30000-30999\ndigest_algorithms = MD5\nwss_listen = $SIP_IP:$WSS_PORT\nws_origins = http://$PAGE" "$CONF"
	# TURN over TCP and TLS: on the signalling address, with the slowpath's certificate
	# ([sip] tls_cert and tls_key: the front takes them when its section names none)
	printf '[turn_front]\ndataplane_socket = /var/run/dpdk/%s/turn_front.sock\ntcp_listen = %s:3478\ntls_listen = %s:5349\n' \
		"$(sed -n 's/^file_prefix = //p' "$CONF")" $SIP_IP $SIP_IP >>"$CONF"
	# poprelay-dtls: on the dataplane's default [media] dtls_socket, its certificate here
	printf '[dtls]\ndataplane_socket = /var/run/dpdk/%s/dtls.sock\ncert_dir = %s/dtls\n' \
		"$(sed -n 's/^file_prefix = //p' "$CONF")" "$RUN" >>"$CONF"
	pr_log "configuration: $CONF (hugepages: $huge)"
}

start_dataplane() {
	pr_start dataplane pr-pop "$BUILD/poprelay-dataplane" -c "$CONF"
	pr_wait_for 30 "$BUILD/poprelayctl" -c "$CONF" stats ||
		{ cat "$RUN/dataplane.log"; pr_fail "the dataplane did not come up"; }
}

start_slowpath() {
	pr_start slowpath pr-pop "$BUILD/poprelay-slowpath" -c "$CONF"
	pr_wait_for 15 grep -q "listening:" "$RUN/slowpath.log" ||
		{ cat "$RUN/slowpath.log"; pr_fail "the slowpath did not come up"; }
}

start_dtls() {
	pr_start dtls pr-pop "$BUILD/poprelay-dtls" -c "$CONF"
	pr_wait_for 15 grep -q "attached to the dataplane" "$RUN/dtls.log" ||
		{ cat "$RUN/dtls.log"; pr_fail "poprelay-dtls did not attach to the dataplane"; }
	pr_wait_for 10 grep -q "published pr:dtls:fingerprint" "$RUN/dtls.log" ||
		{ cat "$RUN/dtls.log"; pr_fail "poprelay-dtls did not publish its fingerprint"; }
}

start_turnfront() {
	pr_start turnfront pr-pop "$BUILD/poprelay-turnfront" -c "$CONF"
	pr_wait_for 15 grep -q "attached to the dataplane" "$RUN/turnfront.log" ||
		{ cat "$RUN/turnfront.log"; pr_fail "poprelay-turnfront did not attach to the dataplane"; }
}

# Demo: two users, and alice registering from pr-client with baresip over TLS + SRTP.
demo() {
	local u pw
	for u in alice bob carol dave; do
		pw=$(head -c 12 /dev/urandom | base64 | tr -d '/+=')-Demo7
		printf '%s\n' "$pw" >"$RUN/$u.pass"
		"$BUILD/poprelayctl" -c "$CONF" user add "$u" --password-file "$RUN/$u.pass" \
			--display-name "${u^}" >/dev/null
	done
	command -v baresip >/dev/null || return 0
	mkdir -p "$RUN/alice"
	cat >"$RUN/alice/config" <<CFG
poll_method epoll
sip_listen $CLIENT_SIP_IP:5070
sip_cafile $RUN/ca.crt
sip_trans_def tls
audio_player aufile,/dev/null
audio_source aufile,/dev/null
module_path /usr/lib/baresip/modules
module g711.so
module srtp.so
module_app account.so
CFG
	echo "<sip:alice@poprelay;transport=tls>;auth_pass=$(cat "$RUN/alice.pass");outbound=\"sip:$SIP_IP:5061;transport=tls\";mediaenc=srtp-mand;regint=600" >"$RUN/alice/accounts"
	pr_start baresip-alice pr-client baresip -s -f "$RUN/alice"
	pr_wait_for 10 sh -c "'$BUILD/poprelayctl' -c '$CONF' user show alice | grep -q 'registration .* via tls'" || true
}

# A call: bob registers from pr-client too and answers; carol's device dials him, both
# playing a 440 Hz tone; the media goes through the dataplane, SDES-SRTP on both legs with a
# different key per leg.
call_demo() {
	command -v baresip >/dev/null || return 0
	python3 -c "import wave,math,struct
w=wave.open('$RUN/tone.wav','wb');w.setnchannels(1);w.setsampwidth(2);w.setframerate(8000)
w.writeframes(b''.join(struct.pack('<h',int(8000*math.sin(2*math.pi*440*i/8000))) for i in range(8000*30)))"
	local n port
	for n in bob caller; do
		case $n in bob) port=5072 ;; caller) port=5074 ;; esac
		mkdir -p "$RUN/$n"
		cat >"$RUN/$n/config" <<CFG
poll_method epoll
sip_listen $CLIENT_SIP_IP:$port
sip_cafile $RUN/ca.crt
sip_trans_def tls
audio_player aufile,/dev/null
audio_source aufile,$RUN/tone.wav
audio_alert aufile,/dev/null
module_path /usr/lib/baresip/modules
module g711.so
module aufile.so
module srtp.so
module_app account.so
module_app menu.so
CFG
	done
	echo "<sip:bob@poprelay;transport=tls>;auth_pass=$(cat "$RUN/bob.pass");outbound=\"sip:$SIP_IP:5061;transport=tls\";mediaenc=srtp-mand;answermode=auto;regint=600" >"$RUN/bob/accounts"
	echo "<sip:carol@poprelay;transport=tls>;auth_pass=$(cat "$RUN/carol.pass");outbound=\"sip:$SIP_IP:5061;transport=tls\";mediaenc=srtp-mand;regint=600" >"$RUN/caller/accounts"
	pr_start baresip-bob pr-client baresip -s -f "$RUN/bob"
	pr_wait_for 10 sh -c "'$BUILD/poprelayctl' -c '$CONF' user show bob | grep -q 'registration .* via tls'" ||
		return 0
	CALL_READY=1
}

show_call() {
	[ -n "${CALL_READY:-}" ] || return 0
	echo "== a call: carol (pr-client) calls bob (pr-client) for 8 s; the media is anchored on"
	echo "   the dataplane at $APPLIANCE_IP4, SDES-SRTP on both legs, re-encrypted hop by hop"
	# carol's device hangs up after 8 s (baresip -t) and exits
	ip netns exec pr-client baresip -s -f "$RUN/caller" -e "/dial sip:bob@poprelay" -t 8 \
		>"$RUN/baresip-caller.log" 2>&1 </dev/null &
	local caller=$!
	sleep 4
	echo "-- poprelayctl session list (4 s into the call)"
	"$BUILD/poprelayctl" -c "$CONF" session list
	local id
	id=$("$BUILD/poprelayctl" -c "$CONF" --json session list 2>/dev/null |
		python3 -c 'import json,sys; a=json.load(sys.stdin); print(a[0]["id"] if a else "")' 2>/dev/null)
	if [ -n "$id" ]; then
		echo "-- poprelayctl session show $id"
		"$BUILD/poprelayctl" -c "$CONF" session show "$id"
	fi
	wait "$caller" 2>/dev/null || true
	sleep 1
	echo "-- poprelayctl cdr list (after carol hung up)"
	"$BUILD/poprelayctl" -c "$CONF" cdr list --since 1h
	echo "-- the CDR's media figures (poprelayctl cdr export --format json)"
	"$BUILD/poprelayctl" -c "$CONF" cdr export --since 1h --format json | python3 -c '
import json, sys
for c in json.load(sys.stdin):
    print("%s %s -> %s, %s s, end %s" % (c["id"], c["caller_user"], c["callee_user"], c["duration_s"], c["end_reason"]))
    for leg in ("caller", "callee"):
        print("  %s: %s, rx %s packets, tx %s packets, lost %s, jitter %s us, %s kbps" % (leg,
              c[leg + "_suite"] or "clear", c[leg + "_rx_packets"], c[leg + "_tx_packets"],
              c[leg + "_lost"], c[leg + "_jitter_us"], c[leg + "_avg_kbps"]))'
	echo
}

# The WebRTC demo page (examples/webrtc/) served in pr-client, where a browser reaches both
# the WSS listener and the anchor; its form filled in for dave calling bob, the anchor's
# figures from poprelayctl under it. Needs node, chromium and tests/node's modules (make deps).
webrtc_demo() {
	[ -n "${CALL_READY:-}" ] || return 0
	command -v node >/dev/null && [ -x /usr/bin/chromium ] &&
		[ -d tests/node/node_modules/puppeteer-core ] && [ -d tests/node/node_modules/jssip ] ||
		{ WEBRTC_SKIP="node, chromium or tests/node's modules missing (make deps)" && return 0; }
	python3 tests/integration/media/tone.py gen "$RUN/web.wav" 660 30
	# the one certificate Chromium then accepts unverified: the slowpath's (sha-256 of its key)
	SPKI=$(openssl x509 -in "$RUN/sip.crt" -noout -pubkey | openssl pkey -pubin -outform der |
		openssl dgst -sha256 -binary | base64)
	printf '{"wss": "wss://%s:%s", "user": "dave", "password": "%s", "domain": "poprelay", "target": "bob", "figures": true}\n' \
		$SIP_IP $WSS_PORT "$(cat "$RUN/dave.pass")" >"$RUN/webrtc.json"
	pr_start webrtc-page pr-client node examples/webrtc/serve.js $PAGE "$RUN/webrtc.json" \
		"$(realpath "$BUILD")/poprelayctl" -c "$CONF" --json session list
	pr_wait_for 10 grep -q "^serving" "$RUN/webrtc-page.log" ||
		{ WEBRTC_SKIP="serve.js did not start: $(tail -1 "$RUN/webrtc-page.log")" && return 0; }
	# a person's browser: in pr-client, a profile of its own (else an open Chromium takes the
	# URL in the host's namespace), the fake microphone playing a 660 Hz tone
	OPEN_PAGE="ip netns exec pr-client chromium --no-sandbox --user-data-dir=$RUN/chromium --ignore-certificate-errors-spki-list=$SPKI --use-fake-device-for-media-stream --use-file-for-fake-audio-capture=$RUN/web.wav http://$PAGE/"
	WEBRTC_READY=1
}

# A browser calls a device: headless Chromium in pr-client opens the demo page, registers
# dave over WSS and calls bob (baresip, SDES-SRTP) for 8 s with a 660 Hz tone; the anchor
# keys the browser's leg by DTLS-SRTP (poprelay-dtls) and re-encrypts to bob's SDES key.
show_webrtc() {
	if [ -z "${WEBRTC_READY:-}" ]; then
		[ -z "${WEBRTC_SKIP:-}" ] || printf '== WebRTC: not shown: %s\n\n' "$WEBRTC_SKIP"
		return 0
	fi
	echo "== WebRTC: headless Chromium in pr-client opens the demo page http://$PAGE/, registers"
	echo "   dave over SIP over WSS ($SIP_IP:$WSS_PORT) and calls bob's device for 8 s; the media"
	echo "   is anchored at $APPLIANCE_IP4: ICE-lite and DTLS-SRTP toward the browser, SDES-SRTP toward bob"
	ip netns exec pr-client setsid node tests/node/browser_call.js --call-only "http://$PAGE/" \
		"$RUN/web.wav" "$SPKI" bob 8 /usr/bin/chromium >"$RUN/browser.out" 2>"$RUN/browser.err" </dev/null &
	local br=$! id="" i
	pr_on_exit "kill -- -$br 2>/dev/null"
	pr_wait_for 30 grep -q "^registered" "$RUN/browser.out" &&
		echo "-- dave registered over WSS from the page: $("$BUILD/poprelayctl" -c "$CONF" user show dave | grep -E '^registration')"
	for i in $(seq 150); do
		id=$("$BUILD/poprelayctl" -c "$CONF" --json session list 2>/dev/null |
			python3 -c 'import json,sys; a=json.load(sys.stdin); print(a[0]["id"] if a else "")' 2>/dev/null)
		[ -n "$id" ] && break
		kill -0 $br 2>/dev/null || break
		sleep 0.1
	done
	if [ -n "$id" ]; then
		sleep 4
		echo "-- poprelayctl session list (4 s into the call)"
		"$BUILD/poprelayctl" -c "$CONF" session list
		echo "-- poprelayctl session show $id"
		"$BUILD/poprelayctl" -c "$CONF" session show "$id"
	fi
	wait $br 2>/dev/null
	echo "-- the page's view (RTCPeerConnection.getStats of its leg, at the hang-up)"
	sed -n 's/^call //p' "$RUN/browser.out" | python3 -c '
import json, sys
for l in sys.stdin:
    p = json.loads(l)
    s = p.get("stats", {})
    heard = [h["hz"] for h in p.get("heard", [])]
    print("call %s (%s), DTLS %s, %s, ICE pair %s -> %s, packets sent %s, received %s, heard %s Hz" % (
        p.get("call"), p.get("cause") or "-", s.get("dtlsState"), s.get("srtpCipher"), s.get("local"),
        s.get("remote"), s.get("packetsSent"), s.get("packetsReceived"),
        max(set(heard), key=heard.count) if heard else "nothing"))'
	sleep 1
	echo "-- the call's CDR (poprelayctl cdr export --format json, the last one)"
	"$BUILD/poprelayctl" -c "$CONF" cdr export --since 1h --format json | python3 -c '
import json, sys
cdrs = json.load(sys.stdin)
for c in cdrs[-1:]:
    print("%s %s -> %s, %s s, end %s" % (c["id"], c["caller_user"], c["callee_user"], c["duration_s"], c["end_reason"]))
    for leg in ("caller", "callee"):
        print("  %s: keying %s, %s, rx %s packets, tx %s packets, lost %s, jitter %s us, %s kbps" % (leg,
              c.get(leg + "_keying") or "-", c[leg + "_suite"] or "clear", c[leg + "_rx_packets"],
              c[leg + "_tx_packets"], c[leg + "_lost"], c[leg + "_jitter_us"], c[leg + "_avg_kbps"]))'
	echo
}

show() {
	echo
	echo "== ping from pr-client"
	ip netns exec pr-client ping -c 3 -i 0.3 "$APPLIANCE_IP4" | tail -2
	ip netns exec pr-client ping -6 -c 3 -i 0.3 "$APPLIANCE_IP6" | tail -2
	echo
	echo "== poprelayctl status"
	# in pr-pop, where the slowpath's TLS listener is (status connects to it)
	ip netns exec pr-pop "$BUILD/poprelayctl" -c "$CONF" status || true
	echo
	echo "== poprelayctl stats"
	"$BUILD/poprelayctl" -c "$CONF" stats
	echo
	echo "== SIP over TLS: the slowpath on $SIP_IP:5061"
	echo | ip netns exec pr-client openssl s_client -connect $SIP_IP:5061 -CAfile "$RUN/ca.crt" \
		-verify_return_error 2>/dev/null | grep -E '^(New|    Protocol|Verify return)' | sort -u
	echo
	if command -v turnutils_uclient >/dev/null; then
		echo "== TURN: coturn's turnutils_uclient in pr-client, client to client, as alice"
		ip netns exec pr-client timeout 30 turnutils_uclient -u alice -w "$(cat "$RUN/alice.pass")" \
			-y -n 20 -l 200 -z 10 -c "$APPLIANCE_IP4" 2>&1 | grep -E "Total lost|ERROR|error" | tail -2
		"$BUILD/poprelayctl" -c "$CONF" turn allocations | head -5
		echo
		echo "== TURN over TCP ($SIP_IP:3478) and TLS ($SIP_IP:5349), the same client and relay"
		ip netns exec pr-client timeout 30 turnutils_uclient -t -u alice -w "$(cat "$RUN/alice.pass")" \
			-y -n 20 -l 200 -z 10 -c -p 3478 "$SIP_IP" 2>&1 | grep -E "Total lost|ERROR|error" | tail -2
		ip netns exec pr-client timeout 30 turnutils_uclient -t -S -u alice -w "$(cat "$RUN/alice.pass")" \
			-y -n 20 -l 200 -z 10 -c -p 5349 "$SIP_IP" 2>&1 | grep -E "Total lost|ERROR|error" | tail -2
		echo
	fi
	show_call
	show_webrtc
	echo "== poprelayctl user list"
	"$BUILD/poprelayctl" -c "$CONF" user list
	echo
	echo "== poprelayctl user show alice (baresip in pr-client registered over TLS)"
	"$BUILD/poprelayctl" -c "$CONF" user show alice
	echo
	echo "The appliance is running. Try:"
	echo "  ip netns exec pr-client ping $APPLIANCE_IP4"
	echo "  $BUILD/poprelayctl -c $CONF stats"
	echo "  dpdk-telemetry.py -f $(sed -n 's/^file_prefix = //p' "$CONF")"
	echo "  ip netns exec pr-client openssl s_client -connect $SIP_IP:5061 -CAfile $RUN/ca.crt"
	echo "  $BUILD/poprelayctl -c $CONF user list"
	echo "  $BUILD/poprelayctl -c $CONF session list"
	echo "  $BUILD/poprelayctl -c $CONF cdr list --since 1h"
	echo "  ip netns exec pr-client turnutils_uclient -u alice -w \$(cat $RUN/alice.pass) -y -n 20 $APPLIANCE_IP4"
	echo "  ip netns exec pr-client turnutils_uclient -t -S -p 5349 -u alice -w \$(cat $RUN/alice.pass) -y -n 20 $SIP_IP"
	if [ -n "${WEBRTC_READY:-}" ]; then
		echo "The WebRTC demo page (register as dave, call bob; the anchor's figures under it),"
		echo "from a root shell of a desktop session (DISPLAY or WAYLAND_DISPLAY set):"
		echo "  $OPEN_PAGE"
	fi
	echo "Ctrl-C stops it and cleans up."
}

topology
pr_redis_start "$RUN"
config
for p in "${PROCESSES[@]}"; do "start_$p"; done
demo
call_demo
webrtc_demo
show
# Run until Ctrl-C (lib.sh turns INT/TERM into exit, which tears everything down) or until
# a process dies. Ctrl-C reaches the processes too: one found gone may be the INT whose trap
# bash runs after the next command, so a death is only reported after a short wait.
while :; do
	for p in "${PROCESSES[@]}"; do
		kill -0 "$(cat "$RUN/$p.pid")" 2>/dev/null || {
			sleep 0.5
			tail -20 "$RUN/$p.log"
			pr_fail "$p exited"
		}
	done
	sleep 1
done
