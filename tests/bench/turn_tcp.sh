#!/usr/bin/env bash
# TURN over TCP and TLS: relayed packets per second (narrative: tests/bench/turn_tcp.md), JSON
# lines for tests/bench/run.sh. `tests/bench/turn_tcp.sh [BUILD_DIR]` runs it alone.
# poprelay-turnfront + poprelay-dataplane (+ its Redis) next to coturn (turnserver, one relay
# thread, TCP and TLS listeners, the same user) in the same run, both driven by the same
# client (tests/bench/turn/tcpgen.c): CONNS connections from SOURCES addresses, each
# Allocate 401 -> Allocate -> ChannelBind to the peer, then 200-byte ChannelData, WINDOW in
# flight per connection; the peer (203.0.113.5, in the client's process) sends each datagram
# back to the relayed address, the server hands it to the client over its connection.
# Relayed packets count both directions (client -> peer at the peer, peer -> client at the
# client).
#
# Topology (as tests/integration/turn_stream.sh): namespace tk-pop holds the servers, tk-cli
# the client and peer. veth tk0p/tk0c: the dataplane's port (net_af_packet, 198.51.100.10,
# relayed addresses) or, for coturn, the kernel's 198.51.100.10 (its --relay-ip); veth
# tk1p/tk1c: the signalling NIC, 192.0.2.10, where poprelay-turnfront or coturn listen on
# 3478 (TCP) and 5349 (TLS). CPUs: the whole server side on SRV_CPU (front, both dataplane
# lcores and Redis; all of coturn's threads), the client and peer alone on LOAD_CPU.
# Figures: turn_{tcp,tls}_relay_per_s (wall clock), turn_{tcp,tls}_relay_per_cpu_s (per
# CPU-second of the server side's processes over the counted window), and
# turn_tls_bytes_per_connection (RSS growth of the process holding CONNS idle, allocated TLS
# connections, divided by their number). RUNS pairs (ours, then coturn: TCP and TLS each),
# the ratios are medians of the pairs' ratios. Environment: CONNS (10000), SOURCES (250),
# WINDOW (1), SECS (5), WARMUP (2), RUNS (3), SMALL (1000: one more pair with this many
# connections, 0: none), DEBUG=1 (the servers' telemetry after each run).
BUILD=${1:-${BUILD:-build}}
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
trap 'trap "" INT TERM; exit 130' INT TERM
pr_need_root
DP=$BUILD/poprelay-dataplane
TF=$BUILD/poprelay-turnfront
CTL=$BUILD/poprelayctl
GEN=$BUILD/tests/bench/turn/tcpgen
for b in "$DP" "$TF" "$CTL" "$GEN"; do [ -x "$b" ] || pr_fail "build $b first (make build)"; done
command -v turnserver >/dev/null || pr_skip "coturn's turnserver not installed"
CONNS=${CONNS:-10000}
SOURCES=${SOURCES:-250}
WINDOW=${WINDOW:-1}
SECS=${SECS:-5}
WARMUP=${WARMUP:-2}
RUNS=${RUNS:-3}
SMALL=${SMALL:-1000}
LOAD_CPU=0
SRV_CPU=$(($(nproc) > 1 ? 1 : 0))
PREFIX=tk-bench
REALM=tk.example
PW=Tcp-bench-pw-4711
PEER=203.0.113.5
TEL="python3 $PR_ROOT/tests/integration/dp_telemetry.py"

tmp=$(pr_tmpdir)
pr_on_exit "rm -rf /var/run/dpdk/$PREFIX"
pr_redis_start "$tmp"
pr_netns tk-pop
pr_netns tk-cli
pr_veth tk-pop tk0p tk-cli tk0c
pr_veth tk-pop tk1p tk-cli tk1c
ip netns exec tk-pop sysctl -qw net.ipv6.conf.tk0p.disable_ipv6=1
ip -n tk-cli addr add 198.51.100.20/24 dev tk0c
ip -n tk-cli addr add $PEER/32 dev tk0c
ip -n tk-pop addr add 192.0.2.10/24 dev tk1p
ip -n tk-cli addr add 192.0.2.20/24 dev tk1c
# the clients' addresses: every address of 100.64.0.0/24 is local in tk-cli, reached from
# tk-pop through the second veth
ip -n tk-cli route add local 100.64.0.0/24 dev lo
ip -n tk-pop route add 100.64.0.0/24 via 192.0.2.20
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
	-subj /CN=turn.tk.example -keyout "$tmp/tf.key" -out "$tmp/tf.crt" 2>/dev/null ||
	pr_fail "openssl req"

cat >"$tmp/dp.conf" <<CONF
# tests/bench/turn_tcp.sh
[global]
realm = $REALM
[eal]
lcores = 0@$SRV_CPU,1@$SRV_CPU
memory_mb = 256
huge = no
file_prefix = $PREFIX
log_level = 4
[dataplane]
mbuf_pool_size = 16383
mbuf_cache_size = 64
worker_idle_sleep_us = 50
[redis]
socket = $tmp/redis.sock
[port0]
device = net_af_packet0,iface=tk0p,qpairs=2
ipv4 = 198.51.100.10/24
gateway4 = 198.51.100.20
[turn]
relay_port_min = 50000
relay_port_max = 60999
max_allocations = 16384
max_allocations_per_user = 0
allowed_peer = 203.0.113.0/24
nonce_secret_file = $tmp/nonce.key
[turn_front]
dataplane_socket = /var/run/dpdk/$PREFIX/turn_front.sock
tcp_listen = 192.0.2.10:3478
tls_listen = 192.0.2.10:5349
tls_cert = $tmp/tf.crt
tls_key = $tmp/tf.key
max_connections = $((CONNS + 1000))
CONF
printf '%s\n' "$PW" | "$CTL" -c "$tmp/dp.conf" user add alice >/dev/null || pr_fail "poprelayctl user add"

stat_of() { # $1: field of /poprelay/turn/stats
	$TEL $PREFIX /poprelay/turn/stats | python3 -c "import json,sys; print(json.load(sys.stdin)['/poprelay/turn/stats']['$1'])"
}
dp_busy_us() { $TEL $PREFIX /poprelay/stats | python3 -c "import json,sys; print(json.load(sys.stdin)['/poprelay/stats']['busy_us'])"; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

ours_up() {
	ip netns exec tk-pop "$DP" -c "$tmp/dp.conf" >"$tmp/dp.out" 2>"$tmp/dp.log" &
	dp_pid=$!
	pr_on_exit "kill $dp_pid 2>/dev/null; sleep 0.5; kill -9 $dp_pid 2>/dev/null"
	pr_wait_for 30 $TEL $PREFIX /poprelay/turn/stats ||
		{ tail -20 "$tmp/dp.log" >&2; pr_fail "dataplane did not come up with the turn feature"; }
	ip netns exec tk-pop taskset -c $SRV_CPU "$TF" -c "$tmp/dp.conf" >"$tmp/tf.log" 2>&1 &
	tf_pid=$!
	pr_on_exit "kill $tf_pid 2>/dev/null"
	pr_wait_for 10 sh -c "[ \"\$($TEL $PREFIX /poprelay/turn/stats | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"/poprelay/turn/stats\"][\"stream_front_attached\"])')\" = 1 ]" ||
		{ cat "$tmp/tf.log" >&2; pr_fail "the front did not attach to the dataplane"; }
	srv_pids="$tf_pid $dp_pid $(cat "$tmp/redis.pid")"
}
ours_down() {
	kill "$tf_pid" "$dp_pid" 2>/dev/null || true
	wait "$tf_pid" "$dp_pid" 2>/dev/null || true
	# what the last connections left (the front closed before the dataplane heard of all)
	redis-cli -s "$tmp/redis.sock" --scan --pattern 'pr:turn:alloc*' |
		xargs -r redis-cli -s "$tmp/redis.sock" del >/dev/null
}
cot_up() {
	ip -n tk-pop addr add 198.51.100.10/24 dev tk0p
	ip -n tk-pop route add 203.0.113.0/24 via 198.51.100.20
	# (2 descriptors a connection, its TCP socket and its relay socket: the descriptor limit
	# the bench inherits bounds coturn's connections, and its notes say how many were ready)
	ip netns exec tk-pop taskset -c $SRV_CPU turnserver -n \
		--listening-ip=192.0.2.10 --relay-ip=198.51.100.10 --listening-port=3478 \
		--tls-listening-port=5349 --cert="$tmp/tf.crt" --pkey="$tmp/tf.key" --no-dtls \
		--relay-threads=1 --lt-cred-mech --user=alice:"$PW" --realm=$REALM \
		--userdb="$tmp/turndb" --no-cli --min-port=50000 --max-port=60999 \
		--allowed-peer-ip=$PEER --no-stdout-log --simple-log --log-file="$tmp/cot.log" \
		--pidfile="$tmp/cot.pid" >/dev/null 2>&1 &
	cot_pid=$!
	pr_on_exit "kill $cot_pid 2>/dev/null"
	pr_wait_for 10 sh -c "ip netns exec tk-pop ss -ltn | grep -q '192.0.2.10:5349'" || pr_fail "turnserver did not listen"
	srv_pids=$cot_pid
}
cot_down() {
	kill "$cot_pid" 2>/dev/null || true
	wait "$cot_pid" 2>/dev/null || true
	ip -n tk-pop route del 203.0.113.0/24 via 198.51.100.20
	ip -n tk-pop addr del 198.51.100.10/24 dev tk0p
}

# $1: label, $2: tcp|tls, $3: connections; runs the client against the server up, appends a
# record to $tmp/runs.jsonl
load() {
	local port=3478 tlsopt='' w out b0=0 b1=0 t0 t1
	[ "$2" = tls ] && port=5349 tlsopt=--tls
	w=$(for p in $srv_pids; do printf -- '--watch %s ' "$p"; done)
	[ "$srv" = ours ] && b0=$(dp_busy_us)
	t0=$(date +%s.%N)
	# shellcheck disable=SC2086
	out=$(ip netns exec tk-cli taskset -c $LOAD_CPU "$GEN" --server 192.0.2.10:$port $tlsopt \
		--src 100.64.0.1 --nsrc "$SOURCES" --conns "$3" --user alice --pass "$PW" \
		--peer $PEER:3480 --window "$WINDOW" --secs "$SECS" --warmup "$WARMUP" $w \
		2>"$tmp/gen.err") || { tail -20 "$tmp/gen.err" >&2; echo "$out" >&2; pr_fail "$1: tcpgen failed"; }
	t1=$(date +%s.%N)
	[ "$srv" = ours ] && b1=$(dp_busy_us)
	grep -v '^tcpgen: connection' "$tmp/gen.err" | tail -3 >&2 || true
	printf '{"label": "%s", "busy_us": %s, "wall": %s, "gen": %s}\n' "$1" $((b1 - b0)) \
		"$(python3 -c "print($t1 - $t0)")" "$out" >>"$tmp/runs.jsonl"
	python3 - "$1" "$out" "$SRV_CPU" "$LOAD_CPU" <<'PY' >&2
import json, sys
g = json.loads(sys.argv[2])
srv = sum(w["cpu_s"] for w in g["watch"]) / g["secs"]
print(f"[{sys.argv[1]}] {g['ready']}/{g['conns']} ready in {g['setup_s']} s; relayed "
      f"{g['relayed_per_s']:.0f}/s (peer {g['peer_rx']}, client {g['client_rx']}), timed out "
      f"{g['timeouts']} (late {g['late']}), rtt p50 {g['rtt_p50_us']} us p99 {g['rtt_p99_us']} us; server CPU {srv:.2f} "
      f"({', '.join(str(w['cpu_s']) for w in g['watch'])} s), client {g['client_cpu_s'] / g['secs']:.2f}; "
      f"CPU busy {g['cpus']}")
for w in g["watch"]:
    top = sorted(w["threads"].items(), key=lambda kv: -kv[1])[:4]
    print(f"    pid {w['pid']}: " + ", ".join(f"{k} {v}" for k, v in top))
PY
	if [ "$srv" = ours ]; then
		[ -z "${DEBUG:-}" ] || $TEL $PREFIX /poprelay/turn/stats /poprelay/drops >&2 || true
		# the client closed all its connections at once: what the dataplane still holds
		# 2 s later (each server is restarted before the next load anyway)
		sleep 2
		pr_log "$1: 2 s after the client closed its connections: $(stat_of allocations) allocations left, $(stat_of stream_to_front_dropped) messages to the front dropped in all, punt ring full $($TEL $PREFIX /poprelay/drops | python3 -c "import json,sys; print(json.load(sys.stdin)['/poprelay/drops'].get('punt_ring_full', 0))")"
	fi
}

# $1: label, $2: the pid whose RSS is measured; CONNS TLS connections allocated and bound,
# held idle
hold() {
	local r0 r1 ready
	sleep 1
	r0=$(rss_kb "$2")
	rm -f "$tmp/hold.err"
	ip netns exec tk-cli taskset -c $LOAD_CPU "$GEN" --server 192.0.2.10:5349 --tls \
		--src 100.64.0.1 --nsrc "$SOURCES" --conns "$CONNS" --user alice --pass "$PW" \
		--peer $PEER:3480 --hold >"$tmp/hold.out" 2>"$tmp/hold.err" &
	local g=$!
	pr_wait_for 300 grep -q '^ready' "$tmp/hold.err" || { kill $g; pr_fail "$1: hold did not get ready"; }
	sleep 2
	r1=$(rss_kb "$2")
	ready=$(sed -n 's/^ready //p' "$tmp/hold.err")
	kill -TERM $g
	wait $g || true
	printf '{"label": "%s", "rss0_kb": %s, "rss1_kb": %s, "ready": %s}\n' "$1" "$r0" "$r1" "$ready" >>"$tmp/runs.jsonl"
	pr_log "$1: RSS $r0 kB -> $r1 kB over $ready idle TLS connections: $(((r1 - r0) * 1024 / (ready > 0 ? ready : 1))) bytes each"
}

# $1: label suffix, $2: tcp|tls, $3: connections: one pair, each server started afresh (a
# burst of closes leaves allocations behind in ours: docs in tests/bench/turn_tcp.md)
pair() {
	srv=ours; ours_up
	load "ours_$2$1" "$2" "$3"
	ours_down
	srv=coturn; cot_up
	load "coturn_$2$1" "$2" "$3"
	cot_down
}
for _ in $(seq "$RUNS"); do
	pair "" tcp "$CONNS"
	pair "" tls "$CONNS"
done
if [ "$SMALL" -gt 0 ]; then
	pair _small tcp "$SMALL"
	pair _small tls "$SMALL"
fi
srv=ours; ours_up
hold ours_mem "$tf_pid"
ours_down
srv=coturn; cot_up
hold coturn_mem "$cot_pid"
cot_down

python3 - "$tmp/runs.jsonl" "$CONNS" "$SOURCES" "$WINDOW" "$SMALL" "$SRV_CPU" "$LOAD_CPU" <<'PY'
import json, statistics, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
conns, srcs, window, small = int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
scpu, lcpu = int(sys.argv[6]), int(sys.argv[7])
by = lambda label: [r for r in recs if r["label"] == label]
med = lambda xs: statistics.median(list(xs))
g = lambda label: [r["gen"] for r in by(label)]
rate = lambda label: med(x["relayed_per_s"] for x in g(label))
# the server side's CPU: every watched process (ours: the front, the dataplane, Redis)
srv_s = lambda x: sum(w["cpu_s"] for w in x["watch"])
share = lambda label: med(srv_s(x) / x["secs"] for x in g(label))
per_cpu = lambda label: med(x["relayed"] / srv_s(x) for x in g(label) if srv_s(x) > 0)
client = lambda label: med(x["client_cpu_s"] / x["secs"] for x in g(label))
busy = lambda label, c: med(x["cpus"][c] for x in g(label))
def thread(label, w, pick):
    """median share of one watched process's thread: pick(tid, comm) says which"""
    out = []
    for x in g(label):
        ts = x["watch"][w]["threads"]
        out.append(sum(v for k, v in ts.items() if pick(*k.split(":", 1), x["watch"][w]["pid"])) / x["secs"])
    return med(out)
proc = lambda label, w: med(x["watch"][w]["cpu_s"] / x["secs"] for x in g(label))
top = lambda label: med(max(x["watch"][0]["threads"].values()) / x["secs"] for x in g(label))
# messages not back within 3 s, and those of them that came back later (the rest: lost)
lost = lambda label: (f"{sum(x['timeouts'] for x in g(label))} timed out "
                      f"({sum(x['late'] for x in g(label))} of them late)")
ready = lambda label: f"{min(x['ready'] for x in g(label))}/{g(label)[0]['conns']}"
rtt = lambda label, k: med(x[k] for x in g(label))
def pair(a, b, f):
    return med(f(x) / f(y) for x, y in zip(g(a), g(b)) if f(y) > 0)
def bound(label, own):
    sb, lb = busy(label, scpu), busy(label, lcpu)
    if own >= 0.9:
        return "the server's CPU"
    if sb >= 0.95 and lb >= 0.95:
        return f"both CPUs full (server's {sb:.2f} with the kernel's and others' work, load's {lb:.2f})"
    if sb >= 0.95:
        return f"the server's CPU, shared (busy {sb:.2f} with the kernel's and others' work)"
    if lb >= 0.95:
        return f"the load CPU (busy {lb:.2f}: client, peer, kernel)"
    return f"neither CPU full ({sb:.2f}, {lb:.2f}): latency"
def ours_note(label):
    return (f"ours: server side CPU {share(label):.2f} (front {proc(label, 0):.2f}, dataplane "
            f"{proc(label, 1):.2f} of which worker {thread(label, 1, lambda t, c, p: c.startswith('rte-worker')):.2f} "
            f"and control lcore {thread(label, 1, lambda t, c, p: int(t) == p):.2f}, Redis {proc(label, 2):.2f}), "
            f"worker busy_us {med(r['busy_us'] / 1e6 / r['wall'] for r in by(label)):.2f} of the client's whole run, "
            f"client {client(label):.2f}, ready {ready(label)}, {lost(label)}, "
            f"rtt p50 {rtt(label, 'rtt_p50_us')} us p99 {rtt(label, 'rtt_p99_us')} us (log2 buckets), "
            f"CPU {scpu} busy {busy(label, scpu):.2f}, CPU {lcpu} {busy(label, lcpu):.2f}, "
            f"bound: {bound(label, share(label))}")
def cot_note(label):
    return (f"coturn: CPU {share(label):.2f} (busiest thread {top(label):.2f}), client "
            f"{client(label):.2f}, ready {ready(label)}, {lost(label)}, rtt p50 "
            f"{rtt(label, 'rtt_p50_us')} us p99 {rtt(label, 'rtt_p99_us')} us, CPU {scpu} busy "
            f"{busy(label, scpu):.2f}, CPU {lcpu} {busy(label, lcpu):.2f}, bound: {bound(label, share(label))}")
n = len(by("ours_tcp"))
base = "coturn 4.6 (turnserver, 1 relay thread), same client, same run"
for tp in ("tcp", "tls"):
    o, c = f"ours_{tp}", f"coturn_{tp}"
    shape = (f"{conns} {tp.upper()} connections from {srcs} addresses, each allocated with a channel "
             f"to one UDP peer, {window} 200-byte ChannelData in flight each, the peer echoing; "
             f"relayed = client->peer + peer->client datagrams; server side on CPU {scpu}, client "
             f"and peer on CPU {lcpu}; medians of {n} paired runs on a shared machine")
    print(json.dumps({"name": f"turn_{tp}_relay_per_s", "value": round(rate(o), 1),
                      "unit": "relayed packets/s", "baseline": base,
                      "baseline_value": round(rate(c), 1),
                      "ratio": round(pair(o, c, lambda x: x["relayed_per_s"]), 3),
                      "note": f"{shape}. {ours_note(o)}; {cot_note(c)}"}))
    print(json.dumps({"name": f"turn_{tp}_relay_per_cpu_s", "value": round(per_cpu(o), 1),
                      "unit": "relayed packets per server CPU-second",
                      "baseline": base, "baseline_value": round(per_cpu(c), 1),
                      "ratio": round(pair(o, c, lambda x: x["relayed"] / max(srv_s(x), 1e-9)), 3),
                      "note": f"the runs of turn_{tp}_relay_per_s; CPU-seconds (user + system, "
                              f"/proc) over the counted window: ours the front + the dataplane "
                              f"(both lcores, the worker polling with worker_idle_sleep_us = 50) "
                              f"+ Redis, coturn its process; the kernel's softirq work on either "
                              f"CPU is not in it"}))
for tp in ("tcp", "tls"):
    if small:
        o, c = f"ours_{tp}_small", f"coturn_{tp}_small"
        print(json.dumps({"name": f"turn_{tp}_relay_per_s_{small}", "value": round(rate(o), 1),
                          "unit": "relayed packets/s", "baseline": base,
                          "baseline_value": round(rate(c), 1),
                          "ratio": round(pair(o, c, lambda x: x["relayed_per_s"]), 3),
                          "note": f"as turn_{tp}_relay_per_s with {small} connections, one pair. "
                                  f"{ours_note(o)}; {cot_note(c)}"}))
mem = {r["label"]: r for r in recs if "rss0_kb" in r}
bpc = lambda r: (r["rss1_kb"] - r["rss0_kb"]) * 1024 / max(r["ready"], 1)
o, c = mem["ours_mem"], mem["coturn_mem"]
print(json.dumps({"name": "turn_tls_bytes_per_connection", "value": round(bpc(o)),
                  "unit": "bytes (RSS) per idle TLS connection",
                  "baseline": "coturn 4.6's process, the same connections, same run",
                  "baseline_value": round(bpc(c)), "ratio": round(bpc(o) / bpc(c), 3) if bpc(c) else None,
                  "note": f"lower is better; RSS growth of poprelay-turnfront ({o['rss0_kb']} -> "
                          f"{o['rss1_kb']} kB) over {o['ready']} TLS connections each holding an "
                          f"allocation and a channel, idle (TLS 1.3), divided by their number; the "
                          f"dataplane's allocation state is reserved at start ([turn] "
                          f"max_allocations) and not in it; coturn {c['rss0_kb']} -> {c['rss1_kb']} "
                          f"kB over {c['ready']}, its allocations and relay sockets' user memory "
                          f"included"}))
PY
