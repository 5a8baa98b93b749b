#!/usr/bin/env bash
# TURN Allocates per second on one core (narrative: tests/bench/turn_alloc.md), JSON lines
# for tests/bench/run.sh: `turn_allocate_per_s`, poprelay-dataplane (TURN control on its
# control lcore, allocations persisted to Redis) next to coturn (turnserver, one relay
# thread) in the same run, driven by the same client (tests/bench/turn/allocgen.c): SOCKETS
# client 5-tuples from SOURCES addresses, each looping unauthenticated Allocate -> 401 ->
# authenticated Allocate -> success -> Refresh lifetime 0 -> success. Only authenticated
# Allocate successes count.
#
# Both servers sit in namespace ta-pop behind a veth whose other end is ta-cli, where the
# client runs: the dataplane on net_af_packet (control and worker lcores both on SRV_CPU,
# with its Redis), coturn on the kernel's address on the same veth (all its threads on
# SRV_CPU); the client alone on LOAD_CPU. Runs alternate, ours then coturn's, RUNS times;
# the ratio is the median of each run's ratio. Each run also measures ours with Redis on
# LOAD_CPU (`turn_allocate_per_s_redis_apart`: what a round trip to another CPU costs), and
# one last pair runs with a quarter of the sockets (a server whose rate does not fall is not
# waiting for the client). Environment: SECS (5), RUNS (3), SOCKETS (250), SOURCES (250),
# WARMUP (1). Each new 5-tuple takes the next source address in turn: the dataplane limits
# challenges (401/438) per source address ([turn] unauth_rate, 100/s), which 250 addresses
# keep far above these rates. DEBUG=1 also prints the dataplane's telemetry and Redis's
# commandstats after each run of ours.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
trap 'trap "" INT TERM; exit 130' INT TERM
pr_need_root
DP=$BUILD/poprelay-dataplane
CTL=$BUILD/poprelayctl
GEN=$BUILD/tests/bench/turn/allocgen
for b in "$DP" "$CTL" "$GEN"; do [ -x "$b" ] || pr_fail "build $b first (make build)"; done
command -v turnserver >/dev/null || pr_skip "coturn's turnserver not installed"
SECS=${SECS:-5}
RUNS=${RUNS:-3}
SOCKETS=${SOCKETS:-250}
SOURCES=${SOURCES:-250}
WARMUP=${WARMUP:-1}
LOAD_CPU=0
SRV_CPU=$(($(nproc) > 1 ? 1 : 0))
PREFIX=ta-bench
REALM=ta.example
PW=Alloc-bench-pw-4711
SRV=198.51.100.10
TEL="python3 $PR_ROOT/tests/integration/dp_telemetry.py"
HZ=$(getconf CLK_TCK)

tmp=$(pr_tmpdir)
pr_on_exit "rm -rf /var/run/dpdk/$PREFIX"
pr_redis_start "$tmp"
pr_netns ta-pop
pr_netns ta-cli
pr_veth ta-pop ta0p ta-cli ta0c
ip netns exec ta-pop sysctl -qw net.ipv6.conf.ta0p.disable_ipv6=1
ip -n ta-cli addr add 198.51.100.20/24 dev ta0c
# the clients' addresses: every address of 100.64.0.0/24 is local in ta-cli, routed to the
# servers through the veth (the dataplane reaches them through its gateway, 198.51.100.20)
ip -n ta-cli route add local 100.64.0.0/24 dev lo
ip netns exec ta-cli sysctl -qw net.ipv4.ip_forward=1

cat >"$tmp/dp.conf" <<CONF
# tests/bench/turn_alloc.sh
[global]
realm = $REALM
[eal]
lcores = 0@$SRV_CPU,1@$SRV_CPU
memory_mb = 256
huge = no
file_prefix = $PREFIX
log_level = 4
[dataplane]
mbuf_pool_size = 8191
mbuf_cache_size = 64
worker_idle_sleep_us = 50
[redis]
socket = $tmp/redis.sock
[port0]
device = net_af_packet0,iface=ta0p,qpairs=2
ipv4 = $SRV/24
gateway4 = 198.51.100.20
[turn]
relay_port_min = 50000
relay_port_max = 60999
max_allocations = 16384
max_allocations_per_user = 0
allowed_peer = 203.0.113.0/24
nonce_secret_file = $tmp/nonce.key
CONF
printf '%s\n' "$PW" | "$CTL" -c "$tmp/dp.conf" user add alice >/dev/null || pr_fail "poprelayctl user add"

# CPU ticks (user + system) of a process, or of one of its threads
ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
tticks() { awk '{print $14 + $15}' "/proc/$1/task/$2/stat" 2>/dev/null || echo 0; }

# busy jiffies and all jiffies of one CPU (/proc/stat: busy is all but idle and iowait)
cpustat() { awk -v c="cpu$1" '$1 == c {t = 0; for (i = 2; i <= 9; i++) t += $i; print t - $5 - $6, t}' /proc/stat; }
# the busiest thread's CPU ticks of a process, for a list of thread ids and their ticks
thrticks() { for t in /proc/"$1"/task/*; do echo "${t##*/} $(awk '{print $14 + $15}' "$t/stat")"; done; }
rcmds() { redis-cli -s "$tmp/redis.sock" info stats | sed -n 's/^total_commands_processed:\([0-9]*\).*/\1/p'; }
# $1: label, $2: server pid, $3: its control thread's id (or ""); runs the client, appends a
# record to $tmp/runs.jsonl and sets out (the client's JSON), srv, ctl, red (CPU shares of
# the server, its control thread and Redis over the client's whole run, warm-up included), rpa (Redis commands per allocate), sbusy and
# lbusy (how busy the server's and the load's CPUs were, whatever ran on them) and top (the
# server's busiest thread's share)
load() {
	local rp s0 c0 r0 t0 s1 c1 r1 t1 q0 q1 sc0 lc0 sc1 lc1
	rp=$(cat "$tmp/redis.pid")
	q0=$(rcmds)
	thrticks "$2" >"$tmp/thr0"
	sc0=$(cpustat $SRV_CPU); lc0=$(cpustat $LOAD_CPU)
	s0=$(ticks "$2"); c0=$([ -n "$3" ] && tticks "$2" "$3" || echo 0); r0=$(ticks "$rp"); t0=$(date +%s.%N)
	out=$(ip netns exec ta-cli taskset -c $LOAD_CPU "$GEN" --server $SRV:3478 --src 100.64.0.1 \
		--nsrc "$SOURCES" --sockets "${SOCKS:-$SOCKETS}" --user alice --pass "$PW" --secs "$SECS" \
		--warmup "$WARMUP" 2>"$tmp/gen.err") || { cat "$tmp/gen.err" >&2; echo "$out" >&2; pr_fail "$1: allocgen failed"; }
	s1=$(ticks "$2"); c1=$([ -n "$3" ] && tticks "$2" "$3" || echo 0); r1=$(ticks "$rp"); t1=$(date +%s.%N)
	q1=$(rcmds)
	sc1=$(cpustat $SRV_CPU); lc1=$(cpustat $LOAD_CPU)
	thrticks "$2" >"$tmp/thr1"
	read -r sbusy lbusy top <<<"$(python3 - "$sc0" "$sc1" "$lc0" "$lc1" "$tmp/thr0" "$tmp/thr1" "$t0" "$t1" "$HZ" <<'PY'
import sys
a = [list(map(int, x.split())) for x in sys.argv[1:5]]
busy = lambda x0, x1: (x1[0] - x0[0]) / max(x1[1] - x0[1], 1)
th = [dict(l.split() for l in open(f)) for f in sys.argv[5:7]]
w = (float(sys.argv[8]) - float(sys.argv[7])) * int(sys.argv[9])
top = max((int(v) - int(th[0].get(k, 0)) for k, v in th[1].items()), default=0) / w
print(round(busy(a[0], a[1]), 3), round(busy(a[2], a[3]), 3), round(top, 3))
PY
)"
	read -r srv ctl red <<<"$(python3 -c "w = ($t1 - $t0) * $HZ; print(round(($s1 - $s0) / w, 3), round(($c1 - $c0) / w, 3), round(($r1 - $r0) / w, 3))")"
	rpa=$(python3 -c "import json; n = json.loads('$out')['total_allocates']; print(round(($q1 - $q0 - 2) / n, 1) if n else 0)")
	printf '{"label": "%s", "gen": %s, "srv": %s, "ctl": %s, "red": %s, "rpa": %s, "sbusy": %s, "lbusy": %s, "top": %s}\n' \
		"$1" "$out" "$srv" "$ctl" "$red" "$rpa" "$sbusy" "$lbusy" "$top" >>"$tmp/runs.jsonl"
	pr_log "$1: $out; server CPU $srv (busiest thread $top), control thread $ctl, redis $red ($rpa commands per allocate); CPU $SRV_CPU busy $sbusy, CPU $LOAD_CPU busy $lbusy"
}

ours() { # $1: label
	ip netns exec ta-pop "$DP" -c "$tmp/dp.conf" >"$tmp/dp.out" 2>"$tmp/dp.log" &
	dp_pid=$!
	pr_on_exit "kill $dp_pid 2>/dev/null; sleep 0.5; kill -9 $dp_pid 2>/dev/null"
	pr_wait_for 30 $TEL $PREFIX /poprelay/turn/stats ||
		{ tail -20 "$tmp/dp.log" >&2; pr_fail "dataplane did not come up with the turn feature"; }
	# (its first answers wait on ARP for the gateway, and the clients' retransmissions of
	# the few it cannot park fall in the warm-up)
	# the control lcore is the main thread (its id is the process id)
	load "$1" "$dp_pid" "$dp_pid"
	$TEL $PREFIX /poprelay/turn/stats /poprelay/drops >"$tmp/dp.stats" 2>/dev/null || true
	[ -z "${DEBUG:-}" ] || { cat "$tmp/dp.stats"; redis-cli -s "$tmp/redis.sock" info commandstats; } >&2
	left=$(python3 -c "import json; d = json.load(open('$tmp/dp.stats'))['/poprelay/turn/stats'] or {}; print(*(d.get(k, '?') for k in ('allocations', 'unauth_rate_limited')))" 2>/dev/null || echo '? 0')
	kill "$dp_pid"; wait "$dp_pid" 2>/dev/null || true
	grep -i 'redis' "$tmp/dp.log" | tail -3 >&2 || true
	# the allocations the client left in flight: gone, so the next start restores none
	redis-cli -s "$tmp/redis.sock" --scan --pattern 'pr:turn:alloc*' |
		xargs -r redis-cli -s "$tmp/redis.sock" del >/dev/null
	read -r nleft rlim <<<"$left"
	pr_log "$1: allocations left at the end $nleft (the client's last in flight), challenges rate-limited $rlim"
	python3 -c "import json, sys; sys.exit($rlim > json.loads('$out')['challenges'] / 100)" 2>/dev/null ||
		pr_log "WARNING: the per-source challenge limit dropped over 1% of the challenges: raise SOURCES"
}

cot() { # $1: label
	ip -n ta-pop addr add $SRV/24 dev ta0p
	ip -n ta-pop route add 100.64.0.0/24 via 198.51.100.20
	ip netns exec ta-pop taskset -c $SRV_CPU turnserver -n --listening-ip=$SRV --relay-ip=$SRV \
		--listening-port=3478 --relay-threads=1 --lt-cred-mech --user=alice:"$PW" \
		--realm=$REALM --userdb="$tmp/turndb" --no-cli --no-tls --no-dtls \
		--min-port=50000 --max-port=60999 --allowed-peer-ip=203.0.113.5 \
		--no-stdout-log --simple-log --log-file="$tmp/cot.log" --pidfile="$tmp/cot.pid" \
		>/dev/null 2>&1 &
	cot_pid=$!
	pr_on_exit "kill $cot_pid 2>/dev/null"
	pr_wait_for 10 sh -c "ip netns exec ta-pop ss -lun | grep -q '$SRV:3478'" || pr_fail "turnserver did not listen"
	pr_wait_for 10 ip netns exec ta-cli ping -c1 -W1 $SRV || pr_fail "coturn's namespace does not answer ping"
	load "$1" "$cot_pid" ""
	kill "$cot_pid"; wait "$cot_pid" 2>/dev/null || true
	ip -n ta-pop addr del $SRV/24 dev ta0p
}

# Redis on the server's CPU (the server's side, dataplane and its store, on one CPU, as
# coturn is) or on the load's ($1)
redis_on() { taskset -pc "$1" "$(cat "$tmp/redis.pid")" >/dev/null; }
for _ in $(seq "$RUNS"); do
	redis_on $SRV_CPU
	ours ours
	cot coturn
	redis_on $LOAD_CPU
	ours ours_redis_apart
done
# once more with a quarter of the sockets: a server whose rate does not fall with the
# client's concurrency is not waiting for the client
SOCKS=$((SOCKETS / 4))
redis_on $SRV_CPU
ours ours_quarter
cot coturn_quarter

python3 - "$tmp/runs.jsonl" "$SECS" "$SOCKETS" "$SOURCES" <<'PY'
import json, statistics, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
secs, socks, srcs = sys.argv[2], int(sys.argv[3]), sys.argv[4]
by = lambda label: [r for r in recs if r["label"] == label]
med = lambda xs: statistics.median(list(xs))
rate = lambda label: med(r["gen"]["per_s"] for r in by(label))
field = lambda label, k: med(r[k] for r in by(label))
client = lambda label: med(r["gen"]["client_cpu_s"] / r["gen"]["secs"] for r in by(label))
timeouts = lambda label: sum(r["gen"]["timeouts"] for r in by(label))
# error answers of all runs by code (437: a 5-tuple reused before the server let go of it)
def errors(label):
    e = {}
    for r in by(label):
        for k, v in r["gen"]["errors"].items():
            e[k] = e.get(k, 0) + v
    return ", ".join(f"{k}: {v}" for k, v in sorted(e.items())) or "none"
ours, cot, apart = rate("ours"), rate("coturn"), rate("ours_redis_apart")
pair = lambda a, b: med(x["gen"]["per_s"] / y["gen"]["per_s"] for x, y in zip(by(a), by(b))
                        if y["gen"]["per_s"] > 0)
# what bounds a figure: the server's own CPU use, else a full CPU (whoever filled it), else
# waiting
def bound(own, label, waiting):
    sb, lb = field(label, "sbusy"), field(label, "lbusy")
    if own >= 0.9:
        return "the server's CPU"
    if sb >= 0.95:
        return f"the server's CPU, shared (busy {sb:.2f} with what else ran there)"
    if lb >= 0.95:
        return f"the load CPU (busy {lb:.2f}: client and what else ran there)"
    return f"neither CPU is full ({sb:.2f}, {lb:.2f} busy): {waiting}"
o_own = field("ours", "srv") + field("ours", "red")
c_own = field("coturn", "srv")
sync = "the control lcore waiting on Redis round trips"
note = (f"{socks} client 5-tuples from {srcs} addresses (a new 5-tuple per allocation), each "
        f"Allocate 401 + Allocate + Refresh 0; server and its Redis on one CPU, client on the "
        f"other; medians of {len(by('ours'))} runs of {secs} s, on a shared machine. "
        f"ours: dataplane CPU {field('ours', 'srv'):.2f} (control lcore {field('ours', 'ctl'):.2f}), "
        f"Redis {field('ours', 'red'):.2f} ({field('ours', 'rpa'):.0f} commands per allocate), "
        f"client {client('ours'):.2f}, {ours / field('ours', 'ctl'):.0f} allocates per "
        f"control-lcore CPU-second, timeouts {timeouts('ours')}, errors {errors('ours')}, "
        f"bound: {bound(o_own, 'ours', sync)}, "
        f"with {socks // 4} sockets {rate('ours_quarter'):.0f}/s; "
        f"coturn: CPU {c_own:.2f} (busiest thread {field('coturn', 'top'):.2f}), client "
        f"{client('coturn'):.2f}, {cot / c_own:.0f} allocates per CPU-second, timeouts "
        f"{timeouts('coturn')}, errors {errors('coturn')}, "
        f"bound: {bound(c_own, 'coturn', 'latency')}, with {socks // 4} "
        f"sockets {rate('coturn_quarter'):.0f}/s")
print(json.dumps({"name": "turn_allocate_per_s", "value": round(ours, 1), "unit": "allocates/s",
                  "baseline": "coturn 4.6 (turnserver, 1 relay thread), same client, same run",
                  "baseline_value": round(cot, 1), "ratio": round(pair("ours", "coturn"), 3),
                  "note": note}))
print(json.dumps({"name": "turn_allocate_per_s_redis_apart", "value": round(apart, 1),
                  "unit": "allocates/s",
                  "baseline": "the same with Redis on the server's CPU, same run",
                  "baseline_value": round(ours, 1),
                  "ratio": round(pair("ours_redis_apart", "ours"), 3),
                  "note": f"Redis on the client's CPU: each round trip the control lcore waits "
                          f"for wakes the other CPU; dataplane CPU {field('ours_redis_apart', 'srv'):.2f} "
                          f"(control lcore {field('ours_redis_apart', 'ctl'):.2f}), Redis "
                          f"{field('ours_redis_apart', 'red'):.2f}, errors "
                          f"{errors('ours_redis_apart')}, bound: "
                          f"{bound(field('ours_redis_apart', 'srv'), 'ours_redis_apart', sync)}"}))
PY
