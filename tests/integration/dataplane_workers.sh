#!/usr/bin/env bash
# Two workers on one net_af_packet port (fanout over 3 qpairs: three RX queues shared by
# the two workers, three TX queues for them and control): UDP flows and pings get answers,
# traffic spreads over both workers, per-lcore counters add up to the totals, replies to an
# off-link host go through gateway4 (resolved by ARP), and an expired neighbour that still
# answers is re-confirmed without loss.
# No hugepages (--no-huge): performance does not matter here.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
trap 'trap "" INT TERM; exit 130' INT TERM
pr_need_root
DP=$BUILD/poprelay-dataplane
[ -x "$DP" ] || pr_fail "$DP not built"
TEL="python3 $PR_ROOT/tests/integration/dp_telemetry.py"
ECHO="python3 $PR_ROOT/tests/integration/dp_udp_echo.py"
PREFIX=dp-workers
tmp=$(pr_tmpdir)
pr_on_exit "rm -rf /var/run/dpdk/$PREFIX"
pr_netns dp-wpop
pr_netns dp-wcli
pr_veth dp-wpop dp1p dp-wcli dp1c
ip netns exec dp-wpop sysctl -qw net.ipv6.conf.dp1p.disable_ipv6=1
ip -n dp-wcli addr add 203.0.113.20/24 dev dp1c
# The client namespace also plays the gateway (203.0.113.1) of an off-link host 192.0.2.50.
ip -n dp-wcli addr add 203.0.113.1/24 dev dp1c
ip -n dp-wcli addr add 192.0.2.50/32 dev lo

cat >"$tmp/dp.conf" <<CONF
[eal]
# Three lcores on at most two CPUs: control on CPU 0, the workers share CPU 1 (they sleep
# when idle).
lcores = 0@0,1@1,2@$(($(nproc) > 2 ? 2 : 1))
huge = no
memory_mb = 256
file_prefix = $PREFIX
[dataplane]
mbuf_pool_size = 8191
mbuf_cache_size = 64
worker_idle_sleep_us = 200
udp_echo_port = 7
# Short lifetimes: the test watches a neighbour being re-confirmed.
neigh_timeout_s = 1
neigh_retry_ms = 300
[port0]
device = net_af_packet0,iface=dp1p,qpairs=3
ipv4 = 203.0.113.10/24
gateway4 = 203.0.113.1
CONF

ip netns exec dp-wpop "$DP" -c "$tmp/dp.conf" >"$tmp/dp.out" 2>"$tmp/dp.log" &
dp_pid=$!
pr_on_exit "kill $dp_pid 2>/dev/null; sleep 0.5; kill -9 $dp_pid 2>/dev/null"
pr_wait_for 30 $TEL $PREFIX /poprelay/info || { cat "$tmp/dp.log"; pr_fail "dataplane did not come up"; }
info=$($TEL $PREFIX /poprelay/info /poprelay/port,0)
echo "$info" | grep -q '"workers": 2' || pr_fail "expected 2 workers: $info"
echo "$info" | grep -q '"rx_queues": 3' || pr_fail "expected 3 RX queues (af_packet qpairs): $info"

ip netns exec dp-wcli ping -c 3 -i 0.2 -W 3 203.0.113.10 >/dev/null || { cat "$tmp/dp.log"; pr_fail "ping"; }
# 24 UDP flows (distinct source ports): each must be echoed.
for f in $(seq 24); do
	ip netns exec dp-wcli $ECHO 203.0.113.20 203.0.113.10 7 4 >/dev/null || pr_fail "flow $f not echoed"
done

python3 - "$($TEL $PREFIX /poprelay/stats /poprelay/lcores /poprelay/lcore,1 /poprelay/lcore,2 /poprelay/lcore,0)" <<'PY' || pr_fail "per-worker counters"
import json, sys
d = json.loads(sys.argv[1])
tot = d["/poprelay/stats"]
w1, w2, c = d["/poprelay/lcore,1"], d["/poprelay/lcore,2"], d["/poprelay/lcore,0"]
print(f"  worker 1 rx {w1['rx_packets']}, worker 2 rx {w2['rx_packets']}, total {tot['rx_packets']}", file=sys.stderr)
assert d["/poprelay/lcores"]["role"] == ["control", "worker", "worker"], d["/poprelay/lcores"]
for k in ("rx_packets", "tx_packets", "udp_in", "icmp_echo_in"):
    assert w1[k] + w2[k] + c[k] == tot[k], (k, w1[k], w2[k], c[k], tot[k])
assert tot["udp_in"] >= 24, tot
assert w1["rx_packets"] > 0 and w2["rx_packets"] > 0, "one worker got nothing"
PY
# Off-link: the reply to 192.0.2.50 goes to the gateway's MAC, resolved by ARP.
ip netns exec dp-wcli $ECHO 192.0.2.50 203.0.113.10 7 >/dev/null || pr_fail "no echo to an off-link host via gateway4"
neigh=$($TEL $PREFIX /poprelay/neigh)
echo "$neigh" | grep -q '"203.0.113.1"' || pr_fail "gateway not resolved: $neigh"
echo "$neigh" | grep -q '"192.0.2.50"' && pr_fail "off-link host in the neighbour table: $neigh"

# Expiry on the control lcore: past its lifetime the client is re-confirmed by ARP
# requests (which its kernel answers), never removed while it answers.
count() { $TEL $PREFIX /poprelay/stats | python3 -c "import json,sys; print(json.load(sys.stdin)['/poprelay/stats']['$1'])"; }
req0=$(count arp_requests_out)
sleep 3
req1=$(count arp_requests_out)
[ "$req1" -gt "$req0" ] || pr_fail "no re-confirmation request after the lifetime ($req0 -> $req1)"
neigh=$($TEL $PREFIX /poprelay/neigh)
echo "$neigh" | grep -q '"203.0.113.20"' || pr_fail "a neighbour that answers was removed: $neigh"
pr_log "re-confirmed: arp_requests_out $req0 -> $req1; $neigh"
ip netns exec dp-wcli $ECHO 203.0.113.20 203.0.113.10 7 1 >/dev/null || pr_fail "echo after re-confirmation lost its first datagram"

kill -TERM $dp_pid
rc=0
wait $dp_pid || rc=$?
[ $rc -eq 0 ] || { cat "$tmp/dp.log"; pr_fail "exit $rc after SIGTERM"; }
pr_log PASS
