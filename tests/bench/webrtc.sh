#!/usr/bin/env bash
# DTLS-SRTP handshakes per core: poprelay-dtls next to rtpengine, the same client, the same
# run (narrative: tests/bench/webrtc.md). JSON lines for tests/bench/run.sh;
# `BUILD=build-x tests/bench/webrtc.sh` runs it alone.
#  webrtc_dtls_handshakes_per_s: completed DTLS-SRTP handshakes (key export included) per
#  CPU-second of poprelay-dtls, next to Debian's rtpengine per CPU-second of its process,
#  both driven by tests/bench/webrtc/dtlsload (many concurrent client handshakes, one UDP
#  socket a leg; for poprelay each leg's nominated ICE check comes first, outside the
#  measured window). The ratio is the median of each pair's ratio.
# poprelay: namespace wr-pop holds poprelay-dataplane (net_af_packet on veth wr0p,
# 198.51.100.10), poprelay-dtls attached to it and Redis; LEGS sessions are written into the
# session stream as the slowpath writes a browser's call (tests/bench/webrtc/gen.py: ICE-lite,
# X_keying dtls, X_dtls_setup passive, X_dtls_fingerprint the client's certificate); the
# client is in wr-cli (198.51.100.20). rtpengine: namespace wr-rte, on lo, LEGS calls set up
# over NG (tests/bench/webrtc/ng_dtls.py: rtpengine the DTLS server toward the browser, ICE
# removed), the client in the same namespace. CPUs: the server side on SRV_CPU (the
# dataplane's two lcores, poprelay-dtls, Redis; every thread of rtpengine), the client alone
# on LOAD_CPU. Everything starts afresh each run.
#  webrtc_call_setups_per_s (the second part, "calls"): browsers registered over WSS call a
#  browser registered over WSS (INVITE/200/ACK, held, BYE/200, with a 407 round first where the
#  server challenges; Chrome-style SDP with ICE, DTLS fingerprint and setup, rtcp-mux), per
#  CPU-second of the server side:
#  poprelay-slowpath (wss_listen) + the dataplane's control lcore (it installs every call's
#  sessions) + poprelay-dtls + Redis, next to kamailio (xhttp + websocket, registrar, auth;
#  all its processes) + rtpengine (ICE force, DTLS passive, over NG from kamailio's rtpengine
#  module), both driven by tests/bench/sip/sipload -w -r on the other CPU.
# Environment: LEGS (handshakes a run, 3000), CONC (legs in handshake at once, 64), RUNS (3),
# RTPENGINE (no: skip the baselines, and print no figure), PROFILE (1: a perf profile of
# poprelay-dtls in the first run, on stderr), PARTS ("dtls calls": which figures),
# CALLS (calls a run, 3000), CALL_CONNS (browsers calling at once, 256), HOLD_MS (a call's
# length from the ACK to the BYE, 250: long enough for the anchor to install it), WR_KEEP
# (a directory: keep the call part's files).
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
trap 'trap "" INT TERM; exit 130' INT TERM
pr_need_root
BUILD=${BUILD:-build}
PARTS=${PARTS:-dtls calls}
part() { [[ " $PARTS " == *" $1 "* ]]; }
DP=$BUILD/poprelay-dataplane
DTLS=$BUILD/poprelay-dtls
LOAD=$BUILD/tests/bench/webrtc/dtlsload
H=$PR_ROOT/tests/bench/webrtc
SP=$BUILD/poprelay-slowpath
SIPLOAD=$BUILD/tests/bench/sipload
for b in "$DP" "$DTLS" "$LOAD" "$SP" "$SIPLOAD"; do [ -x "$b" ] || pr_fail "build first: $b"; done
[ "$(getconf _NPROCESSORS_ONLN)" -ge 2 ] || pr_skip "needs 2 CPUs (the server on one, the client on the other)"
[ "${RTPENGINE:-yes}" = no ] || command -v rtpengine >/dev/null || pr_skip "rtpengine not installed (make deps)"
if part calls && [ "${RTPENGINE:-yes}" != no ] && ! [ -f /usr/lib/x86_64-linux-gnu/kamailio/modules/websocket.so ]; then
	pr_log "kamailio's websocket module not installed (kamailio-websocket-modules: make deps): no call-setup figure"
	PARTS=${PARTS//calls/}
fi
LEGS=${LEGS:-3000}
CONC=${CONC:-64}
RUNS=${RUNS:-3}
LOAD_CPU=0
SRV_CPU=1
PREFIX=wr-bench
RELAY=198.51.100.10
CLI=198.51.100.20
TEL="python3 $PR_ROOT/tests/integration/dp_telemetry.py"
tmp=$(pr_tmpdir)
pr_on_exit "rm -rf /var/run/dpdk/$PREFIX"
cp "$DP" "$DTLS" "$LOAD" "$SP" "$SIPLOAD" "$tmp/"
DP=$tmp/poprelay-dataplane DTLS=$tmp/poprelay-dtls LOAD=$tmp/dtlsload SP=$tmp/poprelay-slowpath
SIPLOAD=$tmp/sipload
jget() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval('d' + sys.argv[2]))" "$@"; }
taskset -p -c $LOAD_CPU $$ >/dev/null

# the browsers' certificate: ECDSA P-256, made once, shared by every leg (as a browser's is)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=dtlsload \
	-days 2 -keyout "$tmp/cli.key" -out "$tmp/cli.crt" 2>/dev/null || pr_fail "openssl req"
CFPR="sha-256 $(openssl x509 -in "$tmp/cli.crt" -noout -fingerprint -sha256 | sed 's/.*=//')"

pr_redis_start "$tmp"
taskset -a -p -c $SRV_CPU "$(cat "$tmp/redis.pid")" >/dev/null
rcli() { redis-cli -s "$tmp/redis.sock" "$@"; }
pr_netns wr-pop
pr_netns wr-cli
pr_veth wr-pop wr0p wr-cli wr0c
ip netns exec wr-pop sysctl -qw net.ipv6.conf.wr0p.disable_ipv6=1
ip -n wr-cli addr add $CLI/24 dev wr0c

cat >"$tmp/dp.conf" <<CONF
# tests/bench/webrtc.sh
[eal]
lcores = 0@$SRV_CPU,1@$SRV_CPU
memory_mb = 256
huge = no
file_prefix = $PREFIX
log_level = 4
[dataplane]
mbuf_pool_size = 16383
worker_idle_sleep_us = 50
[redis]
socket = $tmp/redis.sock
[port0]
device = net_af_packet0,iface=wr0p,qpairs=2
ipv4 = $RELAY/24
gateway4 = $CLI
[turn]
enabled = no
[media]
port_min = 20000
port_max = 59999
max_sessions = 16384
stats_interval_ms = 60000
session_idle_s = 3600
dtls_socket = $tmp/dtls.sock
[dtls]
dataplane_socket = $tmp/dtls.sock
cert_dir = $tmp/anchor-cert
handshake_timeout_s = 10
# every leg comes from the one client address
per_source_per_s = 10000
CONF
mstat() { $TEL $PREFIX /poprelay/media/stats | python3 -c "import json,sys; print(json.load(sys.stdin)['/poprelay/media/stats']['$1'])"; }

# the anchor afresh: Redis emptied, the dataplane, poprelay-dtls attached and its fingerprint
# published ($afpr); $dp_pid, $dtls_pid, $wtid (the worker's thread)
pop_up() {
	rcli FLUSHALL >/dev/null
	ip netns exec wr-pop "$DP" -c "$tmp/dp.conf" >"$tmp/dp.out" 2>"$tmp/dp.log" &
	dp_pid=$!
	pr_on_exit "kill -9 $dp_pid 2>/dev/null"
	pr_wait_for 30 sh -c "$TEL $PREFIX /poprelay/media/stats | grep -q '\"redis_up\": 1'" ||
		{ tail -20 "$tmp/dp.log" >&2; pr_fail "the dataplane did not come up with the media anchor"; }
	taskset -c $SRV_CPU "$DTLS" -c "$tmp/dp.conf" >"$tmp/dtls.log" 2>&1 &
	dtls_pid=$!
	pr_on_exit "kill $dtls_pid 2>/dev/null"
	pr_wait_for 10 sh -c "$TEL $PREFIX /poprelay/media/stats | grep -q '\"dtls_process_attached\": 1'" ||
		{ tail -20 "$tmp/dtls.log" >&2; pr_fail "poprelay-dtls did not attach"; }
	pr_wait_for 5 sh -c "redis-cli -s $tmp/redis.sock GET pr:dtls:fingerprint | grep -q sha-256" ||
		pr_fail "poprelay-dtls did not publish pr:dtls:fingerprint"
	afpr=$(rcli GET pr:dtls:fingerprint)
	# the control lcore is the main thread; the worker is rte-worker-1
	wtid=$(grep -l '^rte-worker-1$' /proc/$dp_pid/task/*/comm | head -1 | cut -d/ -f5)
	[ -n "$wtid" ] || pr_fail "no thread rte-worker-1 in the dataplane"
}

# one run against poprelay: results into $tmp/pop.json
run_ours() {
	pop_up
	python3 "$H/gen.py" "$tmp/s.resp" "$tmp/pop.legs" "$LEGS" "$(date +%s)" "$CFPR" $CLI
	rcli --pipe <"$tmp/s.resp" >"$tmp/pipe.out" || pr_fail "redis-cli --pipe: $(tail -2 "$tmp/pipe.out")"
	pr_wait_for 60 sh -c "[ \"\$($TEL $PREFIX /poprelay/media/stats | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"/poprelay/media/stats\"][\"sessions\"])')\" = $LEGS ]" ||
		pr_fail "the dataplane did not install the $LEGS sessions ($(mstat sessions))"
	local pp=
	if [ "${PROFILE:-0}" = 1 ] && [ "$1" = 1 ] && command -v perf >/dev/null; then
		perf record -F 1999 -t "$dtls_pid,$dp_pid" -o "$tmp/perf.data" >/dev/null 2>&1 &
		pp=$!
		sleep 0.5
	fi
	ip netns exec wr-cli taskset -c $LOAD_CPU "$LOAD" --legs "$tmp/pop.legs" --cert "$tmp/cli.crt" \
		--key "$tmp/cli.key" --server-fpr "$afpr" --concurrency "$CONC" --timeout-ms 10000 \
		--cpu dtls=/proc/$dtls_pid/stat --cpu control=/proc/$dp_pid/task/$dp_pid/stat \
		--cpu worker=/proc/$dp_pid/task/$wtid/stat --cpu redis=/proc/$(cat "$tmp/redis.pid")/stat \
		>"$tmp/pop.json" || { cat "$tmp/pop.json" >&2; tail -5 "$tmp/dtls.log" >&2; pr_fail "dtlsload against poprelay"; }
	if [ -n "$pp" ]; then
		kill -INT "$pp"
		wait "$pp" 2>/dev/null || true
		pr_log "profile of poprelay-dtls and the dataplane's control lcore during the handshakes (perf: by thread and object, then each thread's symbols):"
		perf report -i "$tmp/perf.data" --no-children --sort comm,dso --stdio 2>/dev/null |
			grep -E '^ +[0-9]' | head -12 >&2 || true
		local comm
		for comm in poprelay-dtls "$(cat /proc/$dp_pid/comm 2>/dev/null)"; do
			perf report -i "$tmp/perf.data" --no-children --comm "$comm" --sort dso,symbol \
				--stdio 2>/dev/null | grep -E '^ +[0-9]' | head -"${PROFILE_LINES:-15}" >&2 || true
		done
	fi
	# the anchor's own count, and every completed leg keyed by the dataplane
	pr_wait_for 10 sh -c "[ \"\$($TEL $PREFIX /poprelay/media/stats | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"/poprelay/media/stats\"][\"dtls_keyed\"])')\" -ge $(jget "$tmp/pop.json" '["completed"]') ]" || true
	pop_srv_completed=$(mstat dtls_handshakes_completed)
	pop_keyed=$(mstat dtls_keyed)
	kill "$dtls_pid" "$dp_pid" 2>/dev/null || true
	wait "$dtls_pid" "$dp_pid" 2>/dev/null || true
}

# rtpengine, userspace, in its own namespace on lo
pr_netns wr-rte
for a in 10.0.0.1 10.0.0.2 10.0.0.3; do ip -n wr-rte addr add $a/32 dev lo; done
rte_up() {
	ip netns exec wr-rte taskset -c $SRV_CPU rtpengine --config-file=none --foreground --table=-1 \
		--interface=10.0.0.1 --listen-ng=10.0.0.1:2223 --port-min=20000 --port-max=60000 \
		--timeout=600 --delete-delay=0 --log-stderr --log-level=4 \
		--pidfile="$tmp/rte.pid" >"$tmp/rte.log" 2>&1 &
	rte_pid=$!
	pr_on_exit "kill $rte_pid 2>/dev/null"
	ngping() { ip netns exec wr-rte python3 -c "
import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(0.5)
s.sendto(b'1 d7:command4:pinge', ('10.0.0.1', 2223)); assert b'pong' in s.recv(100)"; }
	pr_wait_for 20 ngping || { tail -5 "$tmp/rte.log" >&2; pr_fail "rtpengine did not answer a ping"; }
}
run_rte() {
	rte_up
	rfpr=$(ip netns exec wr-rte python3 "$H/ng_dtls.py" 10.0.0.1:2223 "$LEGS" "$tmp/rte.legs" \
		10.0.0.2 30000 10.0.0.3:40000 "$CFPR") || pr_fail "rtpengine call setup"
	ip netns exec wr-rte taskset -c $LOAD_CPU "$LOAD" --legs "$tmp/rte.legs" --cert "$tmp/cli.crt" \
		--key "$tmp/cli.key" --server-fpr "$rfpr" --concurrency "$CONC" --timeout-ms 10000 \
		--cpu rtpengine=/proc/$rte_pid/stat >"$tmp/rte.json" ||
		{ cat "$tmp/rte.json" >&2; tail -5 "$tmp/rte.log" >&2; pr_fail "dtlsload against rtpengine"; }
	kill "$rte_pid" 2>/dev/null || true
	wait "$rte_pid" 2>/dev/null || true
}

if part dtls; then
: >"$tmp/runs.jsonl"
for r in $(seq "$RUNS"); do
	run_ours "$r"
	pr_log "run $r poprelay: $(cat "$tmp/pop.json"); the anchor counted $pop_srv_completed completed, $pop_keyed legs keyed"
	[ "$pop_srv_completed" -ge "$(jget "$tmp/pop.json" '["completed"]')" ] ||
		pr_fail "poprelay-dtls counted $pop_srv_completed handshakes, the client $(jget "$tmp/pop.json" '["completed"]')"
	[ "${RTPENGINE:-yes}" = no ] && { echo "{}" >"$tmp/rte.json"; } || {
		run_rte
		pr_log "run $r rtpengine: $(cat "$tmp/rte.json")"
	}
	python3 -c "import json,sys; print(json.dumps({'pop': json.load(open(sys.argv[1])), 'rte': json.load(open(sys.argv[2])), 'srv_completed': int(sys.argv[3]), 'keyed': int(sys.argv[4])}))" \
		"$tmp/pop.json" "$tmp/rte.json" "$pop_srv_completed" "$pop_keyed" >>"$tmp/runs.jsonl"
done
if [ "${RTPENGINE:-yes}" = no ]; then
	pr_log "RTPENGINE=no: no figure"
else
python3 - "$tmp/runs.jsonl" "$LEGS" "$CONC" <<'PY'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
legs, conc = int(sys.argv[2]), int(sys.argv[3])
med = statistics.median
P = [r["pop"] for r in runs]
R = [r["rte"] for r in runs]
ours = [p["per_cpu_s"]["dtls"] for p in P]
theirs = [x["per_cpu_s"]["rtpengine"] for x in R]
ratios = [a / b for a, b in zip(ours, theirs)]
# the whole server side of ours: poprelay-dtls, the dataplane's control lcore and worker, Redis
side = [p["completed"] / max(sum(p["cpu"].values()), 1e-9) for p in P]
share = lambda k: med(p["cpu"][k] / p["secs"] for p in P)
print(json.dumps({
    "name": "webrtc_dtls_handshakes_per_s", "value": round(med(ours)), "unit": "handshakes/CPU-s",
    "baseline": "rtpengine (Debian's rtpengine-daemon, userspace) per CPU-second of its process, same client",
    "baseline_value": round(med(theirs)), "ratio": round(med(ratios), 3),
    "note": f"DTLS 1.2 full handshakes with use_srtp and the keys exported, {legs} legs a run, "
            f"{conc} at once, one UDP socket a leg; ours per CPU-second of poprelay-dtls; "
            f"ratio: the median of the {len(runs)} pairs' ({', '.join(f'{x:.2f}' for x in ratios)}); "
            f"per second of wall time {med(p['per_s'] for p in P):.0f} (ours) and "
            f"{med(x['per_s'] for x in R):.0f} (rtpengine); ours per CPU-second of the whole "
            f"server side (poprelay-dtls + the dataplane's control and worker lcores + Redis) "
            f"{med(side):.0f}; shares of a CPU during the window: poprelay-dtls {share('dtls'):.2f}, "
            f"control lcore {share('control'):.2f}, worker {share('worker'):.2f}, Redis "
            f"{share('redis'):.2f}, rtpengine {med(x['cpu']['rtpengine'] / x['secs'] for x in R):.2f}, "
            f"client {med(p['client_cpu'] / p['secs'] for p in P):.2f} (ours) / "
            f"{med(x['client_cpu'] / x['secs'] for x in R):.2f} (rtpengine); negotiated: ours "
            f"{P[0]['cipher']} {P[0]['group']} {P[0]['profile']}, rtpengine {R[0]['cipher']} "
            f"{R[0]['group']} {R[0]['profile']}; failed/timed out: ours "
            f"{sum(p['failed'] + p['timed_out'] for p in P)}, rtpengine "
            f"{sum(x['failed'] + x['timed_out'] for x in R)}"}))
PY
fi
fi # part dtls

# ---- part 2: webrtc_call_setups_per_s
# Browsers (sipload -w: SIP over WSS with an Origin, masked frames; -r: Chrome-style SDP)
# register with digest, then call a browser registered over WSS that answers at once with a
# Chrome-style answer (narrative: tests/bench/webrtc.md, "Call setups of browsers"), one call
# in flight on each of CALL_CONNS WebSockets, each held HOLD_MS before its BYE. The server side on SRV_CPU, the browsers on LOAD_CPU, both servers
# in their namespaces on 127.0.0.1, everything afresh each run.
if part calls; then
. "$PR_ROOT/tests/integration/slowpath/common.sh" # sp_certs, sp_config, sp_user_add
# WR_KEEP=DIR keeps the last run's files (logs, the SDPs the browsers got, the configurations)
[ -z "${WR_KEEP:-}" ] || pr_on_exit "mkdir -p '$WR_KEEP' && cp -a '$tmp/.' '$WR_KEEP/'"
CALLS=${CALLS:-3000}
CALL_CONNS=${CALL_CONNS:-256}
HOLD_MS=${HOLD_MS:-250}
ORIGIN=https://webrtc.bench.example
PW=Bench-pw-4711-wssload
WSS=8443
sp_certs "$tmp"

# wss_load LOG CPU-STATS...: the callers' run; prints "<calls> <s> <calls/s> <cpu sum> <cpu each>..."
wss_load() {
	local ns=$1 log=$2 out
	shift 2
	local args=() f
	for f in "$@"; do args+=(-p "$f"); done
	out=$(ip netns exec "$ns" taskset -c $LOAD_CPU "$SIPLOAD" -w "$ORIGIN" -r -H "$HOLD_MS" -d "${args[@]}" call \
		127.0.0.1 $WSS "$tmp/ca.crt" "$PW" "$CALL_CONNS" "$CALLS" "$CALL_CONNS" 2>"$log") ||
		{ cat "$log" >&2; return 1; }
	echo "$out"
}
# sdp_check FILE SETUP WHAT: the first SDP a browser got (sipload -d) is a WebRTC one that the
# server rewrote (its fingerprint, not the other browser's; ICE; rtcp-mux; no SDES)
sdp_check() {
	local f=$1
	grep -q ' UDP/TLS/RTP/SAVPF ' "$f" && grep -q '^a=ice-ufrag:' "$f" && grep -q '^a=ice-pwd:' "$f" &&
		grep -q '^a=candidate:' "$f" && grep -q '^a=rtcp-mux' "$f" && grep -q "^a=setup:$2" "$f" &&
		grep -q '^a=fingerprint:sha-256 ' "$f" && ! grep -q '7B:8B:F0:65:5F:78' "$f" &&
		! grep -q '^a=crypto' "$f" || { cat "$f" >&2; pr_fail "$3: not a WebRTC SDP of the server's"; }
}
start_wss_callee() { # NS
	ip netns exec "$1" taskset -c $LOAD_CPU "$SIPLOAD" -w "$ORIGIN" -r -d callee 127.0.0.1 $WSS \
		"$tmp/ca.crt" callee "$PW" >"$tmp/callee.log" 2>&1 &
	callee_pid=$!
	pr_on_exit "kill $callee_pid 2>/dev/null"
	pr_wait_for 10 grep -q registered "$tmp/callee.log" || { cat "$tmp/callee.log" >&2; return 1; }
}

# ours: the anchor (pop_up), then the slowpath on its Redis, in wr-pop
calls_ours() {
	pop_up
	sp_config "$tmp" 5061 5060 "digest_algorithms = MD5" "rate_limit_rps = 0" \
		"lockout_failures = 1000" "log_level = 5" "wss_listen = 127.0.0.1:$WSS" "ws_origins = $ORIGIN"
	sed -i "s/^media_addr = .*/media_addr = $RELAY/; s/^media_ports = .*/media_ports = 20000-59999/" \
		"$tmp/sp.conf"
	local u
	for u in $(seq -f 'user%g' 0 $((CALL_CONNS - 1))) callee; do sp_user_add "$tmp" "$u" "$PW"; done
	ip netns exec wr-pop taskset -c $SRV_CPU "$SP" -c "$tmp/sp.conf" >"$tmp/sp.log" 2>&1 &
	sp_pid=$!
	pr_on_exit "kill $sp_pid 2>/dev/null"
	pr_wait_for 5 grep -q "listening:" "$tmp/sp.log" || { cat "$tmp/sp.log" >&2; pr_fail "slowpath did not start"; }
	start_wss_callee wr-pop || { tail -20 "$tmp/sp.log" >&2; pr_fail "the callee did not register with the slowpath"; }
	local inst0
	inst0=$(mstat installs 2>/dev/null || echo 0)
	pop_out=$(wss_load wr-pop "$tmp/load.pop.err" /proc/$sp_pid/stat /proc/$dp_pid/task/$dp_pid/stat \
		/proc/$dtls_pid/stat "/proc/$(cat "$tmp/redis.pid")/stat" /proc/$dp_pid/task/$wtid/stat \
		/proc/$callee_pid/stat /proc/self/stat) ||
		{ tail -20 "$tmp/sp.log" >&2; pr_fail "the calls through poprelay failed"; }
	sdp_check "$tmp/callee.log" actpass "poprelay's offer to the callee"
	sdp_check "$tmp/load.pop.err" passive "poprelay's answer to the caller"
	grep -q "^a=fingerprint:$afpr" "$tmp/load.pop.err" || pr_fail "poprelay's answer: not poprelay-dtls's fingerprint"
	pr_wait_for 10 sh -c "[ \"\$(redis-cli -s $tmp/redis.sock SCARD pr:sessions)\" = 0 ]" ||
		pr_fail "sessions left after the calls: $(rcli SCARD pr:sessions)"
	pop_inst=$(($(mstat installs 2>/dev/null || echo 0) - inst0))
	kill "$callee_pid" "$sp_pid" "$dtls_pid" "$dp_pid" 2>/dev/null || true
	wait "$callee_pid" "$sp_pid" "$dtls_pid" "$dp_pid" 2>/dev/null || true
}

# theirs: rtpengine (rte_up: wr-rte, NG on 10.0.0.1:2223) and kamailio, in wr-rte
calls_theirs() {
	rte_up
	sed -e "s#@WSS_PORT@#$WSS#; s#@DIR@#$tmp#; s#@PASSWORD@#$PW#; s#@ORIGIN@#$ORIGIN#; s#@NG@#10.0.0.1:2223#" \
		"$H/kamailio_wss.cfg.in" >"$tmp/kamailio.cfg"
	cat >"$tmp/kamailio-tls.cfg" <<TLS
[server:default]
method = TLSv1.2+
verify_certificate = no
require_certificate = no
private_key = $tmp/server.key
certificate = $tmp/server.crt
TLS
	rm -rf "$tmp/kam"
	mkdir -p "$tmp/kam"
	ip netns exec wr-rte taskset -c $SRV_CPU kamailio -f "$tmp/kamailio.cfg" -DD -E -Y "$tmp/kam" \
		-P "$tmp/kam/kamailio.pid" -m 256 -M 16 -w "$tmp/kam" >"$tmp/kamailio.log" 2>&1 &
	kam_pid=$!
	pr_on_exit "kill $kam_pid 2>/dev/null"
	pr_wait_for 10 ip netns exec wr-rte python3 -c "import socket; socket.create_connection(('127.0.0.1', $WSS), 1)" ||
		{ tail -20 "$tmp/kamailio.log" >&2; pr_fail "kamailio did not start"; }
	start_wss_callee wr-rte || { tail -20 "$tmp/kamailio.log" >&2; pr_fail "the callee did not register with kamailio"; }
	local kp=() p
	for p in $kam_pid $(pgrep -P "$kam_pid"); do kp+=(/proc/$p/stat); done
	kam_n=${#kp[@]}
	local pp=
	if [ "${PROFILE:-0}" = 1 ] && command -v perf >/dev/null; then
		perf record -F 999 -g -p "$rte_pid" -o "$tmp/perf.rte.data" >/dev/null 2>&1 &
		pp=$!
		sleep 0.5
	fi
	rte_out=$(wss_load wr-rte "$tmp/load.rte.err" /proc/$rte_pid/stat "${kp[@]}" /proc/$callee_pid/stat \
		/proc/self/stat) ||
		{ tail -20 "$tmp/kamailio.log" "$tmp/rte.log" >&2; pr_fail "the calls through kamailio and rtpengine failed"; }
	if [ -n "$pp" ]; then
		kill -INT "$pp"
		wait "$pp" 2>/dev/null || true
		pr_log "profile of rtpengine during the calls (perf: by object, then symbols):"
		perf report -i "$tmp/perf.rte.data" --no-children --sort dso --stdio 2>/dev/null |
			grep -E '^ +[0-9]' | head -8 >&2 || true
		perf report -i "$tmp/perf.rte.data" --no-children --sort dso,symbol --stdio -g none 2>/dev/null |
			grep -E '^ +[0-9]' | head -"${PROFILE_LINES:-15}" >&2 || true
	fi
	sdp_check "$tmp/callee.log" actpass "rtpengine's offer to the callee"
	sdp_check "$tmp/load.rte.err" passive "rtpengine's answer to the caller"
	kill "$callee_pid" "$kam_pid" "$rte_pid" 2>/dev/null || true
	wait "$callee_pid" "$kam_pid" "$rte_pid" 2>/dev/null || true
}

: >"$tmp/calls.jsonl"
installs=()
for r in $(seq "$RUNS"); do
	calls_ours
	installs+=("$pop_inst")
	pr_log "run $r calls, poprelay: $pop_out (calls s calls/s cpu-sum, CPU-s of: slowpath control dtls redis worker, the callee, the callers); $pop_inst sessions installed"
	[ "$pop_inst" -ge "$CALLS" ] || [ "$HOLD_MS" = 0 ] ||
		pr_fail "the dataplane installed $pop_inst sessions for $CALLS calls (one a call): make HOLD_MS longer"
	rte_out=
	if [ "${RTPENGINE:-yes}" != no ]; then
		calls_theirs
		pr_log "run $r calls, kamailio + rtpengine: $rte_out (calls s calls/s cpu-sum, CPU-s of: rtpengine, kamailio x$kam_n, the callee, the callers)"
	fi
	echo "$pop_out|$rte_out" >>"$tmp/calls.jsonl"
done
if [ "${RTPENGINE:-yes}" = no ]; then
	pr_log "RTPENGINE=no: no call-setup figure"
	exit 0
fi
python3 - "$tmp/calls.jsonl" "$CALLS" "$CALL_CONNS" "$(kamailio -v 2>/dev/null | sed -n 's/^version: kamailio \([^ ]*\).*/\1/p')" \
	"$HOLD_MS" "${installs[*]}" <<'PY'
import json, statistics, sys
med = statistics.median
rows = [l.strip().split("|") for l in open(sys.argv[1]) if l.strip()]
calls, conns, kv, hold = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
inst = [int(x) for x in sys.argv[6].split()]
P = [[float(x) for x in a.split()] for a, _ in rows]
R = [[float(x) for x in b.split()] for _, b in rows]
# ours: slowpath + control lcore + poprelay-dtls + Redis (fields 4-7); the worker (8) apart
ocpu = [p[4] + p[5] + p[6] + p[7] for p in P]
tcpu = [sum(x[4:-2]) for x in R] # rtpengine + every kamailio process (the last two: the client)
ours = [p[0] / max(c, 0.01) for p, c in zip(P, ocpu)]
theirs = [x[0] / max(c, 0.01) for x, c in zip(R, tcpu)]
ratios = [a / b for a, b in zip(ours, theirs)]
sh = lambda L, i: med(l[i] / l[1] for l in L)
print(json.dumps({
    "name": "webrtc_call_setups_per_s", "value": round(med(ours)), "unit": "calls/CPU-s",
    "baseline": f"kamailio {kv} (xhttp + websocket, registrar, auth) + rtpengine (Debian's "
                "rtpengine-daemon, ICE force, DTLS passive), per CPU-second of all their processes, same client",
    "baseline_value": round(med(theirs)), "ratio": round(med(ratios), 3),
    "note": f"browser to browser over SIP over WSS: {calls} calls a run, {conns} at once "
            "(INVITE, 200, ACK, the hold, BYE, 200, with a 407 round first where the server challenges: "
            "kamailio does, the slowpath takes the browser's registered flow as authenticated; "
            "Chrome-style audio SDP with ICE, a sha-256 fingerprint, setup and rtcp-mux), the "
            "browsers registered with digest before the window; "
            "ours per CPU-second of poprelay-slowpath + the dataplane's control lcore + poprelay-dtls + "
            "Redis, theirs of every kamailio process + rtpengine; ratio: the median of the "
            f"{len(rows)} pairs' ({', '.join(f'{x:.2f}' for x in ratios)}); calls per second of wall "
            f"time {med(p[2] for p in P):.0f} (ours) and {med(x[2] for x in R):.0f} (theirs); shares of a "
            f"CPU during the window: slowpath {sh(P, 4):.2f}, control lcore {sh(P, 5):.2f}, "
            f"poprelay-dtls {sh(P, 6):.2f}, Redis {sh(P, 7):.2f}, the worker {sh(P, 8):.2f} (not counted: "
            f"it polls whether or not calls come); rtpengine {sh(R, 4):.2f}, kamailio "
            f"{med(sum(x[5:-2]) / x[1] for x in R):.2f}; the client (the callers and the callee) "
            f"{med((p[-2] + p[-1]) / p[1] for p in P):.2f} (ours) / {med((x[-2] + x[-1]) / x[1] for x in R):.2f} "
            f"(theirs); calls held {hold} ms from the ACK to the BYE, so the anchor installs each "
            f"call's session (it did, {min(inst)} or more a run for {calls} calls)"}))
PY
fi # part calls
