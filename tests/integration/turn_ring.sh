#!/usr/bin/env bash
# parallel: hugepages heavy
# The TURN data path at full speed, checked frame by frame: the dataplane on a ring port
# (device = ring:NAME, hugepages) with 1,000 allocations restored from Redis, and the
# benchmark's generator (tests/bench/turn/ringgen) as a DPDK secondary process replaying
# ChannelData from clients and datagrams from peers as fast as the relay takes them. Every
# frame that comes back is checked (--check-every 1): IPv4 header checksum, UDP length and
# a correct non-zero UDP checksum (the relay updates it incrementally, RFC 1624), and the
# 200-byte payload intact behind a ChannelData header (to a client) or alone (to a peer).
# Also: both directions relayed, no drop counted but the generator's own overflow, every
# packet counted on its allocation, all of it relayed by the IPv4 channel fast path; the
# same traffic with half the datagrams without UDP checksums, which the fast path declines
# and the general path relays with computed checksums in the same bursts; and datagrams
# damaged before they arrive (the relay
# does not sum payloads on the way in) leave with their damage still visible, never with
# a fresh valid checksum.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
pr_need_root
DP=$BUILD/poprelay-dataplane
GEN=$BUILD/tests/bench/turn/ringgen
[ -x "$DP" ] && [ -x "$GEN" ] || pr_fail "build first (poprelay-dataplane, ringgen)"
/usr/bin/python3 -c 'import scapy' 2>/dev/null || pr_skip "python3-scapy missing"
TEL="python3 $PR_ROOT/tests/integration/dp_telemetry.py"
PREFIX=tn-ring
N=1000

tmp=$(mktemp -d /tmp/tn-ring.XXXXXX)
pr_on_exit "rm -rf '$tmp' /var/run/dpdk/$PREFIX; rm -f /dev/hugepages/${PREFIX}map_*"
pr_hugepages 256
pr_redis_start "$tmp"
/usr/bin/python3 "$PR_ROOT/tests/bench/turn/gen.py" "$tmp/t.pcap" "$tmp/redis.txt" "$N" "$(date +%s)"
redis-cli -s "$tmp/redis.sock" --pipe <"$tmp/redis.txt" >/dev/null
# and as many IPv6 allocations (IPv6 clients, relayed addresses and peer), for the last part
/usr/bin/python3 "$PR_ROOT/tests/bench/turn/gen.py" "$tmp/t6.pcap" "$tmp/redis6.txt" "$N" "$(date +%s)" 6
redis-cli -s "$tmp/redis.sock" --pipe <"$tmp/redis6.txt" >/dev/null
# gen.py builds its frames without scapy (the benchmark runs where only Python is): they
# must be the frames scapy builds, byte for byte
/usr/bin/python3 - "$PR_ROOT/tests/bench/turn" <<'PY' || pr_fail "gen.py's frames differ from scapy's"
import ipaddress, struct, sys
sys.dont_write_bytecode = True
sys.path.insert(0, sys.argv[1])
import gen
from scapy.all import ARP, IP, UDP, Ether, Raw
n = 300
ref = [bytes(Ether(src=gen.GW_MAC, dst="ff:ff:ff:ff:ff:ff") /
             ARP(op=1, hwsrc=gen.GW_MAC, psrc=gen.GW, hwdst="00:00:00:00:00:00", pdst=gen.DP))]
for i in range(n):
    cli = str(ipaddress.IPv4Address(gen.base + i))
    cd = struct.pack(">HH", 0x4000, len(gen.payload)) + gen.payload
    ref.append(bytes(Ether(src=gen.GW_MAC, dst=gen.DP_MAC) / IP(src=cli, dst=gen.DP) /
                     UDP(sport=40000, dport=3478) / Raw(cd)))
    ref.append(bytes(Ether(src=gen.GW_MAC, dst=gen.DP_MAC) / IP(src=gen.PEER, dst=gen.DP) /
                     UDP(sport=5000, dport=50000 + i) / Raw(gen.payload)))
got = list(gen.frames(n))
assert len(got) == len(ref), (len(got), len(ref))
for k, (a, b) in enumerate(zip(got, ref)):
    assert a == b, (k, a.hex(), b.hex())
print(f"gen.py: {len(got)} frames, byte for byte scapy's")
PY

cat >"$tmp/dp.conf" <<CONF
[eal]
lcores = 0-1
memory_mb = 256
huge = yes
huge_unlink = no
file_prefix = $PREFIX
log_level = 5
[dataplane]
burst_size = 32
mbuf_pool_size = 8191
[redis]
socket = $tmp/redis.sock
[port0]
device = ring:tnring
ipv4 = 198.51.100.10/24
gateway4 = 198.51.100.1
ipv6 = 2001:db8:100::10/64
gateway6 = 2001:db8:100::1
rx_desc = 4096
tx_desc = 4096
[turn]
realm = poprelay
relay_port_min = 50000
relay_port_max = 60999
max_allocations = 2048
max_allocations_per_user = 0
allowed_peer = 203.0.113.0/24 2001:db8:200::/48
nonce_secret_file =
counters_sync_s = 3600
CONF
"$DP" -c "$tmp/dp.conf" >"$tmp/dp.out" 2>"$tmp/dp.log" &
dp_pid=$!
pr_on_exit "kill $dp_pid 2>/dev/null; wait $dp_pid 2>/dev/null"
restored() {
	$TEL $PREFIX /poprelay/turn/stats 2>/dev/null |
		python3 -c "import json,sys; d=json.load(sys.stdin)['/poprelay/turn/stats'] or {}; sys.exit(d.get('allocations', 0) < 2 * $N)"
}
pr_wait_for 60 restored || { tail -5 "$tmp/dp.log" >&2; pr_fail "dataplane did not restore 2 x $N allocations"; }

gen() {
	"$GEN" --proc-type=secondary --file-prefix=$PREFIX --no-pci --lcores=8@0 --log-level=3 -- \
		--ring tnring --pcap "$1" --seconds "$2" --check-every 1 --pattern-len 200 \
		>"$tmp/gen.json" 2>"$tmp/gen.err"
}
# the worker's own counters around the run, with the wall clock
wstats() { echo "$(date +%s.%N) $($TEL $PREFIX /poprelay/stats)"; }
ws0=$(wstats)
gen "$tmp/t.pcap" 3 || { cat "$tmp/gen.err" "$tmp/gen.json" >&2; pr_fail "ringgen reported bad frames or failed"; }
ws1=$(wstats)
pr_log "ringgen: $(cat "$tmp/gen.json")"
stats=$($TEL $PREFIX /poprelay/turn/stats)
drops=$($TEL $PREFIX /poprelay/drops)
python3 - "$(cat "$tmp/gen.json")" "$stats" "$drops" "$ws0" "$ws1" <<'PY' || pr_fail "relayed traffic does not add up"
import json, sys
g = json.loads(sys.argv[1]); t = json.loads(sys.argv[2])["/poprelay/turn/stats"]
d = {k: v for k, v in json.loads(sys.argv[3])["/poprelay/drops"].items() if v}
# busy_us (one worker) is time: more than nothing, never more than the wall clock; and
# tx_bytes counts what was sent (relayed frames: 242 and 246 bytes, one ARP reply)
(c0, w0), (c1, w1) = [(float(a.split(" ", 1)[0]), json.loads(a.split(" ", 1)[1])["/poprelay/stats"])
                      for a in sys.argv[4:6]]
busy, wall = w1["busy_us"] - w0["busy_us"], (c1 - c0) * 1e6
assert 0 < busy <= wall * 1.02 + 20000, (busy, wall)
txp, txb = w1["tx_packets"] - w0["tx_packets"], w1["tx_bytes"] - w0["tx_bytes"]
assert txp >= g["to_client"] + g["to_peer"] and 240 <= txb / txp <= 246, (txp, txb, g)
bad = g["bad_ip_csum"] + g["bad_udp_csum"] + g["bad_len"] + g["bad_payload"]
# every frame but those drained after the last second (at most what was in flight)
assert g["checked"] >= g["to_client"] + g["to_peer"] - 4096 > 0, g
assert bad == 0, g
assert g["to_client"] > 1000 and g["to_peer"] > 1000, g
# every relayed frame is counted on its allocation, and nothing else dropped (tx_full:
# the generator keeps more frames in flight than the TX ring holds)
relayed = t["pkts_c2p"] + t["pkts_p2c"]
assert relayed >= g["to_client"] + g["to_peer"], (relayed, g)
assert set(d) <= {"tx_full"}, d
# all of it is IPv4 channel traffic: the fast path relayed every datagram (a change that
# makes it decline ordinary traffic shows here, not only as a slower benchmark)
assert t["fastpath_relayed"] == relayed and t["fastpath_declined"] == 0, t
print(f"checked {g['checked']} frames, {g['median_mpps']} Mpps, allocation counters {relayed}, "
      f"all by the fast path, drops {d}")
PY

# The same traffic with half the datagrams, in both directions, without a UDP checksum
# (IPv4 allows it): the fast path, which only updates checksums, declines those with no side
# effect and the general path relays them with a computed checksum, in the same bursts as
# the fast path's; the generator checks every frame.
/usr/bin/python3 - "$tmp/t.pcap" "$tmp/nock.pcap" <<'PY'
import sys
from scapy.all import UDP, rdpcap, wrpcap
pk = rdpcap(sys.argv[1])
out = [pk[0]]  # the gateway's ARP request
for i, p in enumerate(pk[1:201]):
    if (i // 2) % 2 == 0:  # client and peer datagrams alternate: half of each
        p[UDP].chksum = 0
    out.append(p.__class__(bytes(p)))
wrpcap(sys.argv[2], out)
PY
gen "$tmp/nock.pcap" 2 || { cat "$tmp/gen.err" "$tmp/gen.json" >&2; pr_fail "datagrams without checksums: bad frames"; }
python3 - "$(cat "$tmp/gen.json")" "$stats" "$($TEL $PREFIX /poprelay/turn/stats)" <<'PY' ||
import json, sys
g = json.loads(sys.argv[1])
t0 = json.loads(sys.argv[2])["/poprelay/turn/stats"]
t1 = json.loads(sys.argv[3])["/poprelay/turn/stats"]
relayed = t1["pkts_c2p"] + t1["pkts_p2c"] - t0["pkts_c2p"] - t0["pkts_p2c"]
assert g["checked"] >= g["to_client"] + g["to_peer"] - 4096 > 0 and g["bad_udp_csum"] == 0, g
# frames the previous run left in flight come back to this one (received > sent) but were
# relayed and counted before t0: the same slack as for the checked frames
assert relayed >= g["to_client"] + g["to_peer"] - 4096, (relayed, g)
fast = t1["fastpath_relayed"] - t0["fastpath_relayed"]
declined = t1["fastpath_declined"] - t0["fastpath_declined"]
assert fast + declined == relayed, (fast, declined, relayed)
assert 0.4 < declined / relayed < 0.6, (fast, declined, relayed)
print(f"half without checksums: {fast} relayed by the fast path, {declined} declined and "
      "relayed by the general path with a computed checksum")
PY
	pr_fail "datagrams without checksums did not take the general path"

# A damaged datagram: one payload byte changed after scapy computed the checksum. The
# relay does not sum payloads on the way in; it must still never relay it with a fresh,
# valid checksum: it goes out with the damage visible (the generator counts it as a bad
# UDP checksum) and nothing else changes.
/usr/bin/python3 - "$tmp/t.pcap" "$tmp/bad.pcap" <<'PY'
import sys
from scapy.all import UDP, rdpcap, wrpcap
pk = rdpcap(sys.argv[1])
out = [pk[0]]  # the gateway's ARP request
for p in pk[1:3]:
    raw = bytearray(bytes(p))
    raw[-1] ^= 0x55  # last payload byte
    out.append(p.__class__(bytes(raw)))
wrpcap(sys.argv[2], out)
PY
if gen "$tmp/bad.pcap" 2; then
	cat "$tmp/gen.json" >&2
	pr_fail "damaged datagrams came back with valid checksums"
fi
python3 - "$(cat "$tmp/gen.json")" <<'PY' || pr_fail "damaged datagrams: unexpected result"
import json, sys
g = json.loads(sys.argv[1])
assert g["checked"] >= g["to_client"] + g["to_peer"] - 4096 > 0, g
assert g["bad_udp_csum"] == g["checked"] and g["bad_ip_csum"] == 0 and g["bad_len"] == 0, g
print(f"damaged: {g['bad_udp_csum']} relayed frames, every one with its checksum still wrong")
PY

# Two workers, each with its own RX and TX ring (a NIC's queues), fed by ringgen on two
# lcores (--queues 2) that spreads the 5-tuples between them as RSS would: a client's
# ChannelData and its peer's datagrams often reach different workers, so both relay for one
# allocation at once. Every frame checked, both workers relayed, and every relayed packet
# counted on its allocation: peer -> client counters with two writers must lose nothing.
kill "$dp_pid"; wait "$dp_pid" 2>/dev/null || true
sed -i -e 's/^lcores = .*/lcores = 0@0,1@1,2@0/' "$tmp/dp.conf"
"$DP" -c "$tmp/dp.conf" >"$tmp/dp.out" 2>"$tmp/dp.log" &
dp_pid=$!
pr_on_exit "kill $dp_pid 2>/dev/null; wait $dp_pid 2>/dev/null"
pr_wait_for 60 restored || { tail -5 "$tmp/dp.log" >&2; pr_fail "two workers: dataplane did not restore 2 x $N allocations"; }
stats=$($TEL $PREFIX /poprelay/turn/stats)
"$GEN" --proc-type=secondary --file-prefix=$PREFIX --no-pci --lcores=8@1,9@0 --log-level=3 -- \
	--ring tnring --pcap "$tmp/t.pcap" --seconds 3 --check-every 1 --pattern-len 200 \
	--queues 2 >"$tmp/gen.json" 2>"$tmp/gen.err" ||
	{ cat "$tmp/gen.err" "$tmp/gen.json" >&2; pr_fail "two workers: ringgen reported bad frames or failed"; }
pr_log "ringgen, two queues: $(cat "$tmp/gen.json")"
python3 - "$(cat "$tmp/gen.json")" "$stats" "$($TEL $PREFIX /poprelay/turn/stats)" \
	"$($TEL $PREFIX /poprelay/drops)" "$($TEL $PREFIX /poprelay/lcores)" <<'PY' ||
import json, sys
g = json.loads(sys.argv[1])
t0 = json.loads(sys.argv[2])["/poprelay/turn/stats"]
t1 = json.loads(sys.argv[3])["/poprelay/turn/stats"]
d = {k: v for k, v in json.loads(sys.argv[4])["/poprelay/drops"].items() if v}
bad = g["bad_ip_csum"] + g["bad_udp_csum"] + g["bad_len"] + g["bad_payload"]
assert g["queues"] == 2 and all(q > 0 for q in g["queue_mpps"]), g
assert bad == 0 and g["checked"] >= g["to_client"] + g["to_peer"] - 2 * 4096 > 0, g
relayed = t1["pkts_c2p"] + t1["pkts_p2c"] - t0["pkts_c2p"] - t0["pkts_p2c"]
assert relayed >= g["to_client"] + g["to_peer"], (relayed, g)
# and no more than what was sent: a counter bumped twice would show here
assert relayed <= g["sent"], (relayed, g)
assert t1["fastpath_relayed"] - t0["fastpath_relayed"] == relayed, (t0, t1)
assert set(d) <= {"tx_full"}, d
print(f"two workers: {g['queue_mpps']} Mpps per queue, {relayed} relayed and counted")
PY
	pr_fail "two workers: relayed traffic does not add up"

# IPv6 clients to IPv6 peers through the IPv6 relayed address, and back, on the same two
# workers: the IPv6 short way in (dp_parse_udp6_plain), then the IPv6 fast path
# (turn_relay_v6_burst). The gateway's neighbour solicitation in the pcap's preamble gives
# the dataplane its IPv6 next hop. Every frame checked (IPv6 UDP checksums, lengths,
# payloads), every relayed packet counted on its allocation, all by the fast path.
stats=$($TEL $PREFIX /poprelay/turn/stats)
drops0=$($TEL $PREFIX /poprelay/drops)
"$GEN" --proc-type=secondary --file-prefix=$PREFIX --no-pci --lcores=8@1,9@0 --log-level=3 -- \
	--ring tnring --pcap "$tmp/t6.pcap" --seconds 3 --check-every 1 --pattern-len 200 \
	--queues 2 >"$tmp/gen.json" 2>"$tmp/gen.err" ||
	{ cat "$tmp/gen.err" "$tmp/gen.json" >&2; pr_fail "IPv6: ringgen reported bad frames or failed"; }
pr_log "ringgen, IPv6, two queues: $(cat "$tmp/gen.json")"
python3 - "$(cat "$tmp/gen.json")" "$stats" "$($TEL $PREFIX /poprelay/turn/stats)" \
	"$drops0" "$($TEL $PREFIX /poprelay/drops)" <<'PY' ||
import json, sys
g = json.loads(sys.argv[1])
t0 = json.loads(sys.argv[2])["/poprelay/turn/stats"]
t1 = json.loads(sys.argv[3])["/poprelay/turn/stats"]
d0 = json.loads(sys.argv[4])["/poprelay/drops"]
d = {k: v - d0.get(k, 0) for k, v in json.loads(sys.argv[5])["/poprelay/drops"].items()
     if v - d0.get(k, 0)}
bad = g["bad_ip_csum"] + g["bad_udp_csum"] + g["bad_len"] + g["bad_payload"]
assert bad == 0 and g["checked"] >= g["to_client"] + g["to_peer"] - 2 * 4096 > 0, g
assert g["to_client"] > 1000 and g["to_peer"] > 1000, g
relayed = t1["pkts_c2p"] + t1["pkts_p2c"] - t0["pkts_c2p"] - t0["pkts_p2c"]
assert g["to_client"] + g["to_peer"] <= relayed <= g["sent"], (relayed, g)
fast = t1["fastpath_relayed"] - t0["fastpath_relayed"]
assert fast == relayed and t1["fastpath_declined"] == t0["fastpath_declined"], (t0, t1)
assert set(d) <= {"tx_full"}, d
print(f"IPv6: {g['median_mpps']} Mpps, {relayed} relayed and counted, all by the fast path")
PY
	pr_fail "IPv6: relayed traffic does not add up"
pr_log PASS
