#!/usr/bin/env bash
# TURN relaying across workers (narrative: tests/bench/turn_scale.md). JSON lines for
# tests/bench/run.sh. The dataplane with W workers on a ring port with W RX and W TX rings
# (one per worker, as a NIC's queues), 10,000 allocations restored from Redis, 200-byte
# payloads, fed by tests/bench/turn/ringgen with W queues on W more CPUs (it spreads the
# 5-tuples between the queues as RSS would). For each W: relayed packets per second (the
# generator's per-second median, median of RUNS runs), next to the same workers, device
# and generator only reflecting frames (lab_reflect, the ceiling), and per worker next to
# one worker's figure of the same run (the scaling efficiency).
#
# CPUs: the control lcore, W workers and W generator lcores each get their own CPU, one
# thread per physical core first (SMT siblings last): W runs up to (CPUs - 1) / 2. A
# machine with fewer than 5 CPUs has no second point to compare with: the benchmark skips
# (the one-worker figures are tests/bench/turn.sh's). Environment: WORKERS ("1 2 4 ..."),
# ALLOCS (10000), SECS (5), RUNS (3); DP, GEN and RB name the binaries (default: $BUILD's).
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
trap 'trap "" INT TERM; exit 130' INT TERM
pr_need_root
DP=${DP:-$BUILD/poprelay-dataplane}
GEN=${GEN:-$BUILD/tests/bench/turn/ringgen}
RB=${RB:-$BUILD/tests/bench/turn/relay_bench}
[ -x "$DP" ] && [ -x "$GEN" ] && [ -x "$RB" ] || pr_fail "build first (poprelay-dataplane, ringgen, relay_bench)"
N=${ALLOCS:-10000}
SECS=${SECS:-5}
RUNS=${RUNS:-3}
PREFIX=tn-scale
TEL="python3 $PR_ROOT/tests/integration/dp_telemetry.py"

# CPUs this process may use, one thread per core first
mapfile -t CPUS < <(python3 - <<'PY'
import os
first, later, cores = [], [], set()
for c in sorted(os.sched_getaffinity(0)):
    try:
        t = "/sys/devices/system/cpu/cpu%d/topology/" % c
        core = (open(t + "physical_package_id").read().strip(), open(t + "core_id").read().strip())
    except OSError:
        core = ("cpu", str(c))
    (later if core in cores else first).append(c)
    cores.add(core)
print("\n".join(map(str, first + later)))
PY
)
ncpu=${#CPUS[@]}
[ "$ncpu" -ge 5 ] || pr_skip "needs at least 5 CPUs (control, 2 workers, 2 generator lcores); this machine has $ncpu"
ws=()
for w in ${WORKERS:-1 2 3 4 5 6 7}; do
	[ $((2 * w + 1)) -le "$ncpu" ] && [ "$w" -le 15 ] && ws+=("$w")
done
model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
pr_log "CPUs in order of use: ${CPUS[*]} ($model); workers: ${ws[*]}"

tmp=$(mktemp -d /tmp/tn-scale.XXXXXX)
pr_on_exit "rm -rf '$tmp' /var/run/dpdk/$PREFIX; rm -f /dev/hugepages/${PREFIX}map_*"
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

# the data path alone on this machine's cores, for reading the figures below against
# other machines: the fast path's decision and rewrite, client -> peer
rbs=()
for r in $(seq "$RUNS"); do
	rbs+=("$("$RB" "$N" 5000000 | python3 -c 'import json,sys; print(json.load(sys.stdin)["fast_c2p_mpps"])')")
done
rb=$(printf '%s\n' "${rbs[@]}" | median)
pr_log "relay_bench fast path client -> peer: ${rbs[*]} Mpps"

python3 "$PR_ROOT/tests/bench/turn/gen.py" "$tmp/t.pcap" "$tmp/redis.txt" "$N" "$(date +%s)"
pr_redis_start "$tmp"
redis-cli -s "$tmp/redis.sock" --pipe <"$tmp/redis.txt" >/dev/null
pr_hugepages 1024

# $1: workers, $2: "relay" or "reflect"; writes $tmp/dp.conf
conf() {
	local w=$1 lc="0@${CPUS[0]}" i
	for ((i = 1; i <= w; i++)); do lc="$lc,$i@${CPUS[i]}"; done
	cat >"$tmp/dp.conf" <<CONF
[eal]
lcores = $lc
memory_mb = 1024
huge = yes
huge_unlink = no
file_prefix = $PREFIX
log_level = 4
[dataplane]
burst_size = 32
mbuf_pool_size = 65535
$([ "$2" = reflect ] && echo "lab_reflect = yes")
[redis]
socket = $tmp/redis.sock
[port0]
device = ring:tsc
rx_desc = 4096
tx_desc = 4096
ipv4 = 198.51.100.10/24
gateway4 = 198.51.100.1
[turn]
realm = poprelay
relay_port_min = 50000
relay_port_max = 60999
max_allocations = 16384
max_allocations_per_user = 0
allowed_peer = 203.0.113.0/24
nonce_secret_file =
counters_sync_s = 3600
CONF
}
restored() {
	$TEL $PREFIX /poprelay/turn/stats 2>/dev/null |
		python3 -c "import json,sys; d=json.load(sys.stdin)['/poprelay/turn/stats'] or {}; sys.exit(d.get('allocations', 0) < $N)"
}
# $1: workers, $2: mode; RUNS generator runs against one dataplane; sets rate (median of the
# runs' medians, pps) and qrates (each queue's median in the median run, Mpps)
measure() {
	local w=$1 lc="" i rates=() r j
	conf "$w" "$2"
	"$DP" -c "$tmp/dp.conf" >"$tmp/dp.out" 2>"$tmp/dp.log" &
	dp_pid=$!
	pr_on_exit "kill $dp_pid 2>/dev/null"
	pr_wait_for 120 restored || { tail -5 "$tmp/dp.log" >&2; pr_fail "$w workers: the dataplane did not restore $N allocations"; }
	for ((i = 0; i < w; i++)); do lc="$lc${lc:+,}$i@${CPUS[w + 1 + i]}"; done
	for r in $(seq "$RUNS"); do
		j=$([ "$2" = relay ] && echo 64 || echo 4294967295)
		"$GEN" --proc-type=secondary --file-prefix=$PREFIX --no-pci --lcores="$lc" \
			--log-level=3 -- --ring tsc --pcap "$tmp/t.pcap" --seconds $((SECS + 1)) \
			--pattern-len 200 --check-every "$j" --queues "$w" >"$tmp/gen.json" 2>"$tmp/gen.err" ||
			{ cat "$tmp/gen.err" "$tmp/gen.json" >&2; pr_fail "$w workers, $2: ringgen failed or saw bad frames"; }
		rates+=("$(python3 -c "import json; print(json.load(open('$tmp/gen.json'))['median_mpps'] * 1e6)")")
		cp "$tmp/gen.json" "$tmp/gen.$r.json"
		pr_log "$w worker(s), $2, run $r: $(cat "$tmp/gen.json")"
	done
	kill "$dp_pid"; wait "$dp_pid" 2>/dev/null || true
	rate=$(printf '%s\n' "${rates[@]}" | median)
}

res=()
for w in "${ws[@]}"; do
	measure "$w" relay
	relay=$rate
	measure "$w" reflect
	res+=("$w $relay $rate")
done

python3 - "$rb" "$N" "$ncpu" "$model" "${res[@]}" <<'PY'
import json, sys
rb, n, ncpu, model = float(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
rows = [tuple(float(x) for x in r.split()) for r in sys.argv[5:]]
one = next(r[1] for r in rows if r[0] == 1)
where = f"{ncpu} CPUs ({model})"
print(json.dumps({"name": "turn_scale_datapath_fast_c2p", "value": rb, "unit": "Mpps",
                  "note": f"relay_bench on this machine, one core, {n} allocations: for "
                          f"reading the figures below against other machines; {where}"}))
for w, relay, reflect in rows:
    w = int(w)
    print(json.dumps({"name": f"turn_scale_relay_{w}w", "value": round(relay / 1e6, 3),
                      "unit": "Mpps",
                      "baseline": f"same {w} worker(s), device and generator reflecting frames",
                      "baseline_value": round(reflect / 1e6, 3),
                      "note": f"{w} worker(s), ring port with {w} queues, ringgen on {w} more "
                              f"CPUs, {n} allocations; {where}"}))
    print(json.dumps({"name": f"turn_scale_per_worker_{w}w", "value": round(relay / w / 1e6, 3),
                      "unit": "Mpps", "baseline": "one worker, same run",
                      "baseline_value": round(one / 1e6, 3),
                      "note": "relayed per second per worker: the ratio is the scaling "
                              "efficiency"}))
PY
