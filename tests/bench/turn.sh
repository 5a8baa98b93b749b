#!/usr/bin/env bash
# TURN relaying rate (narrative: tests/bench/turn.md). Three figures, JSON lines for
# tests/bench/run.sh:
#  1. the data path alone (tests/bench/turn/relay_bench): ChannelData->peer and
#     peer->ChannelData decisions per second on one core over 10,000 allocations, by the
#     general path (turn_relay_burst) and by the IPv4 fast path (turn_relay_v4_burst,
#     decision and header rewrite); the same over 10,000 IPv6 allocations by the general
#     path and the IPv6 fast path (turn_relay_v6_burst);
#  2. poprelay-dataplane, one worker, 10,000 live allocations restored from Redis, 200-byte
#     payloads replayed by net_pcap (infinite_rx) as the generator: relayed packets per
#     second per worker, next to dpdk-testpmd io-forward on the same virtual device;
#  3. the same dataplane and allocations on a ring port (device = ring:NAME, hugepages) fed
#     by tests/bench/turn/ringgen, a DPDK secondary process on the other core: frames move
#     by pointer, as from a NIC's DMA, so the device costs the worker next to nothing.
#     Relayed packets per second, and per second of worker busy time (busy_us); next to
#     dpdk-testpmd io-forward on net_ring (the same PMD) looping its own burst; and the
#     same with IPv6 clients, peer and relayed addresses (10,000 more allocations);
#  4. coturn (turnserver, 1 relay thread) driven by turnutils_uclient with the same packet
#     size in a namespace: relayed packets per CPU-second of turnserver.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
trap 'trap "" INT TERM; exit 130' INT TERM
pr_need_root
DP=$BUILD/poprelay-dataplane
RB=$BUILD/tests/bench/turn/relay_bench
GEN=$BUILD/tests/bench/turn/ringgen
[ -x "$DP" ] && [ -x "$RB" ] && [ -x "$GEN" ] || pr_fail "build first (poprelay-dataplane, relay_bench, ringgen)"
command -v dpdk-testpmd >/dev/null || pr_skip "dpdk-testpmd not installed"
N=${ALLOCS:-10000}
SECS=${SECS:-5}
RUNS=${RUNS:-3}
PREFIX=tn-bench
TEL="python3 $PR_ROOT/tests/integration/dp_telemetry.py"
tmp=$(mktemp -d /tmp/tn-bench.XXXXXX)
pr_on_exit "rm -rf '$tmp' /var/run/dpdk/$PREFIX /var/run/dpdk/$PREFIX-tp /var/run/dpdk/$PREFIX-ring /var/run/dpdk/$PREFIX-tr; rm -f /dev/hugepages/$PREFIX-ringmap_*"
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

# 1. data path alone
rb_c2p=(); rb_p2c=(); rb_fc2p=(); rb_fp2c=(); rb6=()
for r in $(seq "$RUNS"); do
	out=$("$RB" "$N" 5000000)
	rb_c2p+=("$(echo "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["c2p_mpps"])')")
	rb_p2c+=("$(echo "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["p2c_mpps"])')")
	rb_fc2p+=("$(echo "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["fast_c2p_mpps"])')")
	rb_fp2c+=("$(echo "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["fast_p2c_mpps"])')")
	rb6+=("$(echo "$out" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(",".join(str(d[k]) for k in ("c2p6_mpps", "p2c6_mpps", "fast_c2p6_mpps", "fast_p2c6_mpps")))')")
	pr_log "relay_bench run $r: $out"
done
alloc_bytes=$(echo "$out" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["alloc_bytes"], d["table_bytes_per_alloc"])')

# 2. the dataplane on net_pcap with N allocations restored from Redis
pr_log "generating $N allocations and their traffic"
python3 "$PR_ROOT/tests/bench/turn/gen.py" "$tmp/t.pcap" "$tmp/redis.txt" "$N" "$(date +%s)"
# and the same with IPv6 clients, relayed addresses and peer, for the ring port's IPv6 run
python3 "$PR_ROOT/tests/bench/turn/gen.py" "$tmp/t6.pcap" "$tmp/redis6.txt" "$N" "$(date +%s)" 6
pr_redis_start "$tmp"
redis-cli -s "$tmp/redis.sock" --pipe <"$tmp/redis.txt" >/dev/null
redis-cli -s "$tmp/redis.sock" --pipe <"$tmp/redis6.txt" >/dev/null
cat >"$tmp/dp.conf" <<CONF
[eal]
lcores = 0-1
memory_mb = 1024
huge = no
file_prefix = $PREFIX
log_level = 4
[dataplane]
burst_size = 32
mbuf_pool_size = 65535
[redis]
socket = $tmp/redis.sock
[port0]
device = net_pcap0,rx_pcap=$tmp/t.pcap,tx_pcap=/dev/null,tx_pcap=/dev/null,infinite_rx=1
ipv4 = 198.51.100.10/24
gateway4 = 198.51.100.1
ipv6 = 2001:db8:100::10/64
gateway6 = 2001:db8:100::1
promiscuous = yes
[turn]
realm = poprelay
relay_port_min = 50000
relay_port_max = 60999
max_allocations = 32768
max_allocations_per_user = 0
allowed_peer = 203.0.113.0/24 2001:db8:200::/48
nonce_secret_file =
counters_sync_s = 3600
CONF
relayed() { $TEL $PREFIX /poprelay/turn/stats | python3 -c "import json,sys,time; d=json.load(sys.stdin)['/poprelay/turn/stats'] or {}; print(time.time(), d.get('allocations', 0), d.get('pkts_c2p', 0) + d.get('pkts_p2c', 0))"; }
restored() { [ "$(relayed | awk '{print $2}')" -ge $((2 * N)) ]; }
dp_rates=(); tp_rates=()
for r in $(seq "$RUNS"); do
	"$DP" -c "$tmp/dp.conf" >"$tmp/dp.out" 2>"$tmp/dp.log" &
	dp_pid=$!
	pr_on_exit "kill $dp_pid 2>/dev/null"
	# restoring N allocations from Redis takes a few seconds before the turn commands exist
	pr_wait_for 120 restored || { tail -5 "$tmp/dp.log" >&2; pr_fail "dataplane did not restore $N allocations"; }
	sleep 2
	read -r t0 n0 p0 <<<"$(relayed)"
	[ "$n0" -ge "$N" ] || pr_fail "only $n0 of $N allocations restored"
	sleep "$SECS"
	read -r t1 n1 p1 <<<"$(relayed)"
	drops=$($TEL $PREFIX /poprelay/drops | python3 -c "import json,sys; d=json.load(sys.stdin)['/poprelay/drops']; print(sum(v for k, v in d.items()))")
	kill "$dp_pid"; wait "$dp_pid" 2>/dev/null || true
	rate=$(python3 -c "print(($p1 - $p0) / ($t1 - $t0))")
	dp_rates+=("$rate")
	# testpmd io-forward on the same virtual device (one TX queue: it needs rxq = txq)
	timeout -s INT $((SECS + 4)) dpdk-testpmd -l 0-1 --no-pci --no-huge -m 1024 \
		--file-prefix $PREFIX-tp --log-level=4 \
		--vdev "net_pcap0,rx_pcap=$tmp/t.pcap,tx_pcap=/dev/null,infinite_rx=1" -- \
		--forward-mode=io --port-topology=loop --nb-cores=1 --burst=32 --stats-period 1 \
		--auto-start --total-num-mbufs=65536 >"$tmp/tp.log" 2>&1 || true
	tp=$(grep -o 'Rx-pps: *[0-9]*' "$tmp/tp.log" | awk '{print $2}' | awk '$1 > 0' | tail -n +2 | median)
	[ -n "$tp" ] || { tail -20 "$tmp/tp.log" >&2; pr_fail "no testpmd rate"; }
	tp_rates+=("$tp")
	pr_log "run $r: dataplane relays $rate pps ($n1 allocations, drops total $drops), testpmd io $tp pps"
done
dp=$(printf '%s\n' "${dp_rates[@]}" | median)
tp=$(printf '%s\n' "${tp_rates[@]}" | median)

# 3. the dataplane on a ring port, fed by ringgen from the other core
pr_hugepages 512
sed -e "s/^huge = no/huge = yes\nhuge_unlink = no/" -e "s/^file_prefix = .*/file_prefix = $PREFIX-ring/" \
	-e "s|^device = .*|device = ring:tnb\nrx_desc = 4096\ntx_desc = 4096|" \
	-e "s/^promiscuous = yes//" -e "s/^memory_mb = .*/memory_mb = 512/" "$tmp/dp.conf" >"$tmp/ring.conf"
stats() { $TEL $PREFIX-ring /poprelay/stats | python3 -c "import json,sys; d=json.load(sys.stdin)['/poprelay/stats']; print(d['rx_packets'], d['busy_us'])"; }
ring_rates=(); busy_rates=(); tr_rates=(); rf_rates=(); gp_rates=(); v6_rates=()
# the same traffic without UDP checksums, which the fast path declines: the general path's
# rate (it then computes each checksum too); IPv4 without options, as gen.py writes it
python3 - "$tmp/t.pcap" "$tmp/t-nock.pcap" <<'PY'
import struct, sys
b = bytearray(open(sys.argv[1], "rb").read())
order = "<" if b[:4] == b"\xd4\xc3\xb2\xa1" else ">"
off = 24
while off + 16 <= len(b):
    incl = struct.unpack(order + "I", b[off + 8:off + 12])[0]
    f = off + 16
    if b[f + 12:f + 14] == b"\x08\x00" and b[f + 14] == 0x45 and b[f + 23] == 17:
        b[f + 40:f + 42] = b"\x00\x00"
    off = f + incl
open(sys.argv[2], "wb").write(b)
PY
sed -e "s/^\[dataplane\]/[dataplane]\nlab_reflect = yes/" "$tmp/ring.conf" >"$tmp/reflect.conf"
# one dataplane on the ring port with ringgen for SECS seconds; $1 config, $2 ringgen's
# --check-every; sets rate (ringgen's median) and busy (relayed per second of busy time)
ring_run() { # $3: the pcap (default: the benchmark's)
	"$DP" -c "$1" >"$tmp/dp.out" 2>"$tmp/dp.log" &
	dp_pid=$!
	pr_on_exit "kill $dp_pid 2>/dev/null"
	PREFIX_SAVE=$PREFIX; PREFIX=$PREFIX-ring
	pr_wait_for 120 restored || { tail -5 "$tmp/dp.log" >&2; pr_fail "dataplane (ring) did not restore $N allocations"; }
	PREFIX=$PREFIX_SAVE
	"$GEN" --proc-type=secondary --file-prefix=$PREFIX-ring --no-pci --lcores=8@0 --log-level=3 -- \
		--ring tnb --pcap "${3:-$tmp/t.pcap}" --seconds $((SECS + 2)) --pattern-len 200 \
		--check-every "$2" >"$tmp/gen.json" 2>"$tmp/gen.err" &
	gen_pid=$!
	sleep 2
	read -r rx0 bu0 <<<"$(stats)"
	sleep "$SECS"
	read -r rx1 bu1 <<<"$(stats)"
	wait "$gen_pid" || { cat "$tmp/gen.err" "$tmp/gen.json" >&2; pr_fail "ringgen failed or saw bad frames"; }
	kill "$dp_pid"; wait "$dp_pid" 2>/dev/null || true
	rate=$(python3 -c "import json; print(json.load(open('$tmp/gen.json'))['median_mpps'] * 1e6)")
	busy=$(python3 -c "print(($rx1 - $rx0) / max($bu1 - $bu0, 1) * 1e6)")
}
for r in $(seq "$RUNS"); do
	ring_run "$tmp/ring.conf" 64
	ring_rates+=("$rate"); busy_rates+=("$busy")
	relay_log="relayed $rate pps ($busy per busy second), ringgen $(cat "$tmp/gen.json")"
	# the ceiling: the same worker, device and generator, each frame sent back with its
	# MACs swapped (lab_reflect; the frames are not relayed, so ringgen checks none)
	ring_run "$tmp/reflect.conf" 4294967295
	rf_rates+=("$rate")
	reflect_log="reflected $rate pps"
	ring_run "$tmp/ring.conf" 64 "$tmp/t-nock.pcap"
	gp_rates+=("$rate")
	general_log="general path $rate pps"
	# IPv6 clients and peers through the IPv6 relayed addresses (the IPv6 short way in,
	# then the IPv6 fast path)
	ring_run "$tmp/ring.conf" 64 "$tmp/t6.pcap"
	v6_rates+=("$rate")
	# testpmd io-forward on net_ring: its own first burst (--tx-first) circulating
	timeout -s INT $((SECS + 4)) dpdk-testpmd -l 0-1 --no-pci --no-huge -m 512 \
		--file-prefix $PREFIX-tr --log-level=4 --vdev net_ring0 -- \
		--forward-mode=io --port-topology=loop --nb-cores=1 --burst=32 --tx-first \
		--stats-period 1 --auto-start --total-num-mbufs=16384 >"$tmp/tr.log" 2>&1 || true
	trp=$(grep -o 'Rx-pps: *[0-9]*' "$tmp/tr.log" | awk '{print $2}' | awk '$1 > 0' | median)
	[ -n "$trp" ] || { tail -20 "$tmp/tr.log" >&2; pr_fail "no testpmd net_ring rate"; }
	tr_rates+=("$trp")
	pr_log "ring run $r: $relay_log; $reflect_log; $general_log; IPv6 $rate pps; testpmd io net_ring $trp pps"
done
ring=$(printf '%s\n' "${ring_rates[@]}" | median)
ringbusy=$(printf '%s\n' "${busy_rates[@]}" | median)
trp=$(printf '%s\n' "${tr_rates[@]}" | median)
reflect=$(printf '%s\n' "${rf_rates[@]}" | median)
general=$(printf '%s\n' "${gp_rates[@]}" | median)
ipv6=$(printf '%s\n' "${v6_rates[@]}" | median)

# 4. coturn, same packet size, one relay thread, in a namespace on lo
cot=0
if command -v turnserver >/dev/null && command -v turnutils_uclient >/dev/null; then
	pr_netns tn-cot
	for a in 198.51.100.10/32 203.0.113.5/32 100.64.0.1/32; do ip -n tn-cot addr add $a dev lo; done
	ip netns exec tn-cot turnserver -n --listening-ip=198.51.100.10 --relay-ip=198.51.100.10 \
		--relay-threads=1 --lt-cred-mech --user=alice:pw --realm=poprelay --no-cli --no-tls \
		--no-dtls --min-port=50000 --max-port=60000 --allowed-peer-ip=203.0.113.5 \
		--no-stdout-log --log-file="$tmp/cot.log" --pidfile="$tmp/cot.pid" >/dev/null 2>&1 &
	cot_pid=$!
	pr_on_exit "kill $cot_pid 2>/dev/null"
	ip netns exec tn-cot turnutils_peer -L 203.0.113.5 -p 3480 >/dev/null 2>&1 &
	peer_pid=$!
	pr_on_exit "kill $peer_pid 2>/dev/null"
	sleep 1
	cpu() { awk '{print $14 + $15}' "/proc/$cot_pid/stat"; }
	c0=$(cpu)
	ip netns exec tn-cot timeout 60 turnutils_uclient -L 100.64.0.1 -u alice -w pw -e 203.0.113.5 \
		-r 3480 -m 20 -n 5000 -l 200 -z 0 -c 198.51.100.10 >"$tmp/uc.log" 2>&1 || true
	c1=$(cpu)
	sent=$(sed -n 's/.*start_mclient: tot_send_msgs=\([0-9]*\), tot_recv_msgs=\([0-9]*\)$/\1 \2/p' "$tmp/uc.log" | tail -1)
	cot=$(python3 -c "import os; s, r = map(int, '$sent'.split()); t = ($c1 - $c0) / os.sysconf('SC_CLK_TCK'); print(round((s + r) / t) if t > 0 else 0)")
	pr_log "coturn: sent/received $sent, turnserver CPU $(( c1 - c0 )) ticks: $cot relayed packets per CPU-second"
fi

python3 - "${rb_c2p[*]}" "${rb_p2c[*]}" "$dp" "$tp" "$cot" "$N" "$alloc_bytes" "$ring" "$ringbusy" "$trp" \
	"${rb_fc2p[*]}" "${rb_fp2c[*]}" "$reflect" "$general" "$ipv6" "${rb6[*]}" <<'PY'
import json, statistics, sys
c2p = statistics.median(map(float, sys.argv[1].split()))
p2c = statistics.median(map(float, sys.argv[2].split()))
fc2p = statistics.median(map(float, sys.argv[11].split()))
fp2c = statistics.median(map(float, sys.argv[12].split()))
reflect = float(sys.argv[13])
general = float(sys.argv[14])
ipv6 = float(sys.argv[15])
c2p6, p2c6, fc2p6, fp2c6 = (statistics.median(float(r.split(",")[i]) for r in sys.argv[16].split())
                            for i in range(4))
dp, tp, cot, n = float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6])
ab, tb = map(int, sys.argv[7].split())
ring, ringbusy, trp = float(sys.argv[8]), float(sys.argv[9]), float(sys.argv[10])
print(json.dumps({"name": "turn_datapath_channeldata_to_peer", "value": c2p, "unit": "Mpps",
                  "note": f"decision only, one core, {n} allocations, 200-byte payload"}))
print(json.dumps({"name": "turn_datapath_peer_to_channeldata", "value": p2c, "unit": "Mpps",
                  "note": f"decision only, one core, {n} allocations, 200-byte payload"}))
print(json.dumps({"name": "turn_fastpath_channeldata_to_peer", "value": fc2p, "unit": "Mpps",
                  "baseline": "general path, decision only, same run", "baseline_value": c2p,
                  "note": f"IPv4 fast path, decision and header rewrite, one core, {n} allocations"}))
print(json.dumps({"name": "turn_fastpath_peer_to_channeldata", "value": fp2c, "unit": "Mpps",
                  "baseline": "general path, decision only, same run", "baseline_value": p2c,
                  "note": f"IPv4 fast path, decision and header rewrite, one core, {n} allocations"}))
print(json.dumps({"name": "turn_fastpath6_channeldata_to_peer", "value": fc2p6, "unit": "Mpps",
                  "baseline": "general path over IPv6, decision only, same run", "baseline_value": c2p6,
                  "note": f"IPv6 fast path, decision and header rewrite, one core, {n} allocations"}))
print(json.dumps({"name": "turn_fastpath6_peer_to_channeldata", "value": fp2c6, "unit": "Mpps",
                  "baseline": "general path over IPv6, decision only, same run", "baseline_value": p2c6,
                  "note": f"IPv6 fast path, decision and header rewrite, one core, {n} allocations"}))
print(json.dumps({"name": "turn_relay_per_worker", "value": round(dp / 1e6, 3), "unit": "Mpps",
                  "baseline": "dpdk-testpmd io, same net_pcap device, 1 core",
                  "baseline_value": round(tp / 1e6, 3),
                  "note": f"{n} allocations, half ChannelData->peer, half peer->ChannelData"}))
print(json.dumps({"name": "turn_relay_per_worker_ring", "value": round(ring / 1e6, 3), "unit": "Mpps",
                  "baseline": "same worker, device and generator reflecting frames (lab_reflect)",
                  "baseline_value": round(reflect / 1e6, 3),
                  "note": f"ring:NAME port fed by ringgen on the other core, {n} allocations"}))
print(json.dumps({"name": "turn_relay_per_worker_ring_general_path", "value": round(general / 1e6, 3),
                  "unit": "Mpps", "baseline": "the fast path, same traffic with checksums, same run",
                  "baseline_value": round(ring / 1e6, 3),
                  "note": "datagrams without UDP checksums: declined by the fast path, relayed "
                          "(checksums computed) by the general path"}))
print(json.dumps({"name": "turn_relay_per_worker_ring_ipv6", "value": round(ipv6 / 1e6, 3),
                  "unit": "Mpps", "baseline": "IPv4, same run", "baseline_value": round(ring / 1e6, 3),
                  "note": f"IPv6 clients and peer, IPv6 relayed addresses, {n} allocations: "
                          "the IPv6 short way in and fast path"}))
print(json.dumps({"name": "ring_device_reflect", "value": round(reflect / 1e6, 3), "unit": "Mpps",
                  "baseline": "dpdk-testpmd io, net_ring looping its own burst, 1 core",
                  "baseline_value": round(trp / 1e6, 3),
                  "note": "ring:NAME port, ringgen, worker swapping MACs: the device and generator's ceiling"}))
print(json.dumps({"name": "turn_relay_per_busy_worker_ring", "value": round(ringbusy / 1e6, 3),
                  "unit": "Mpps", "baseline": "relayed per second of the same run",
                  "baseline_value": round(ring / 1e6, 3),
                  "note": "relayed packets per second of worker busy time (busy_us)"}))
if cot:
    print(json.dumps({"name": "turn_relay_per_worker_vs_coturn", "value": round(dp / 1e3, 1),
                      "unit": "kpps", "baseline": "coturn 1 relay thread, per CPU-second",
                      "baseline_value": round(cot / 1e3, 1)}))
print(json.dumps({"name": "turn_memory_per_allocation", "value": tb, "unit": "bytes",
                  "baseline": "sizeof(struct turn_alloc) alone", "baseline_value": ab,
                  "note": "slots + 5-tuple hash + relay-port maps, 10,000 allocations"}))
PY
