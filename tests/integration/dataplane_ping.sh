#!/usr/bin/env bash
# parallel: hugepages
# The dataplane on net_af_packet over a veth in namespace dp-pop, with hugepages. A client
# namespace resolves the appliance's addresses by ARP and NDP (no static entries), pings
# it over IPv4 and IPv6, and sends malformed frames (scapy); telemetry counters must match
# what was sent, the dataplane must keep answering, and SIGTERM must give exit 0 with the
# hugepage files removed.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
# A second Ctrl-C (or timeout's signal to the whole group) must not cut the cleanup short.
trap 'trap "" INT TERM; exit 130' INT TERM
pr_need_root
DP=$BUILD/poprelay-dataplane
[ -x "$DP" ] || pr_fail "$DP not built"
TEL="python3 $PR_ROOT/tests/integration/dp_telemetry.py"
PREFIX=dp-ping
N=5

tmp=$(pr_tmpdir)
pr_on_exit "rm -rf /var/run/dpdk/$PREFIX"
# Hugepages where the kernel has them (the product's mode); --no-huge elsewhere.
huge=no
if grep -qw hugetlbfs /proc/filesystems && [ -w /proc/sys/vm/nr_hugepages ]; then
	pr_hugepages 256
	huge=yes
fi
pr_netns dp-pop
pr_netns dp-cli
pr_veth dp-pop dp0p dp-cli dp0c
# The dataplane's veth end has no kernel address, and no kernel IPv6 either.
ip netns exec dp-pop sysctl -qw net.ipv6.conf.dp0p.disable_ipv6=1
ip -n dp-cli addr add 198.51.100.20/24 dev dp0c
ip -n dp-cli addr add 2001:db8:100::20/64 dev dp0c nodad

cat >"$tmp/dp.conf" <<CONF
# dataplane_ping.sh
[eal]
lcores = 0-1
memory_mb = 128
huge = $huge
file_prefix = $PREFIX
[dataplane]
mbuf_pool_size = 4095
mbuf_cache_size = 64
worker_idle_sleep_us = 100
udp_echo_port = 7
[redis]
socket = $tmp/redis.sock
[port0]
device = net_af_packet0,iface=dp0p,qpairs=2
ipv4 = 198.51.100.10/24
ipv6 = 2001:db8:100::10/64
gateway4 = 198.51.100.1
CONF

# A stand-in for systemd's notification socket: records what sd_notify sends.
python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1]); s.settimeout(120)
with open(sys.argv[2], "a") as f:
    while True:
        m = s.recv(4096).decode(); f.write(m + "\n"); f.flush()
        if "STOPPING=1" in m: break
' "$tmp/notify.sock" "$tmp/notify.log" &
notify_pid=$!
pr_on_exit "kill $notify_pid 2>/dev/null"
pr_wait_for 5 test -S "$tmp/notify.sock" || pr_fail "notify listener"

ip netns exec dp-pop env NOTIFY_SOCKET="$tmp/notify.sock" "$DP" -c "$tmp/dp.conf" >"$tmp/dp.out" 2>"$tmp/dp.log" &
dp_pid=$!
pr_on_exit "kill $dp_pid 2>/dev/null; sleep 0.5; kill -9 $dp_pid 2>/dev/null"
pr_wait_for 20 $TEL $PREFIX /poprelay/info || { cat "$tmp/dp.log"; pr_fail "dataplane did not come up"; }
pr_log "dataplane up (hugepages: $huge): $($TEL $PREFIX /poprelay/info)"

dump() { $TEL $PREFIX /poprelay/stats /poprelay/drops /poprelay/neigh /poprelay/port,0 >&2 || true; }
# counter NAME [CMD]: a counter from /poprelay/stats (or /poprelay/drops).
counter() {
	$TEL $PREFIX "${2:-/poprelay/stats}" |
		python3 -c "import json,sys; d=json.load(sys.stdin); print(list(d.values())[0]['$1'])"
}
expect() { # NAME OP VALUE [CMD]
	local v
	v=$(counter "$1" "${4:-}")
	[ "$v" "$2" "$3" ] || { cat "$tmp/dp.log"; pr_fail "$1 = $v, expected $2 $3"; }
	pr_log "ok: $1 = $v ($2 $3)"
}

# IPv4: ARP resolution by the dataplane's responder, then echo.
ip netns exec dp-cli ping -c $N -i 0.2 -W 2 198.51.100.10 >"$tmp/ping4" ||
	{ cat "$tmp/ping4" "$tmp/dp.log"; dump; pr_fail "IPv4 ping"; }
dpmac=$($TEL $PREFIX /poprelay/port,0 | python3 -c "import json,sys; print(json.load(sys.stdin)['/poprelay/port,0']['mac'])" | tr 'A-F' 'a-f')
ip -n dp-cli neigh show 198.51.100.10 dev dp0c | grep -qi "lladdr $dpmac" ||
	pr_fail "client did not learn $dpmac for 198.51.100.10 by ARP: $(ip -n dp-cli neigh)"
ip -n dp-cli neigh show 198.51.100.10 dev dp0c | grep -q PERMANENT && pr_fail "static entry"
expect icmp_echo_in -eq $N
expect icmp_echo_out -eq $N
expect arp_requests_in -ge 1
expect arp_replies_out -ge 1

# IPv6: neighbour solicitation answered by the dataplane, then echo.
ip netns exec dp-cli ping -6 -c $N -i 0.2 -W 2 2001:db8:100::10 >"$tmp/ping6" ||
	{ cat "$tmp/ping6" "$tmp/dp.log"; dump; pr_fail "IPv6 ping"; }
ip -n dp-cli -6 neigh show 2001:db8:100::10 dev dp0c | grep -qi "lladdr $dpmac" ||
	pr_fail "client did not learn $dpmac for 2001:db8:100::10 by NDP: $(ip -n dp-cli -6 neigh)"
expect icmp6_echo_in -eq $N
expect icmp6_echo_out -eq $N
expect nd_solicits_in -ge 1
expect nd_adverts_out -ge 1

# The dataplane learned the client from its ARP request / NS (source link-layer option).
neigh=$($TEL $PREFIX /poprelay/neigh)
pr_log "neighbours: $neigh"
echo "$neigh" | grep -q '198.51.100.20' || pr_fail "client's IPv4 address not learned"
echo "$neigh" | grep -q '2001:db8:100::20' || pr_fail "client's IPv6 address not learned"

# UDP through the extension point: the diagnostic echo feature answers via dp_udp_tx.
# From a known neighbour the first datagram is echoed; from addresses the dataplane never
# saw, it resolves them itself (ARP request / neighbour solicitation) and then echoes.
ECHO="python3 $PR_ROOT/tests/integration/dp_udp_echo.py"
n=$(ip netns exec dp-cli $ECHO 198.51.100.20 198.51.100.10 7) || { dump; pr_fail "no UDP echo (IPv4)"; }
[ "$n" = 1 ] || pr_fail "UDP echo from a known neighbour needed $n tries"
ip -n dp-cli addr add 198.51.100.21/24 dev dp0c
ip -n dp-cli addr add 2001:db8:100::21/64 dev dp0c nodad
# The reply waits (parked on the control lcore) for the answer instead of being dropped:
# the first datagram is echoed.
n=$(ip netns exec dp-cli $ECHO 198.51.100.21 198.51.100.10 7) || { dump; pr_fail "no UDP echo to an unresolved IPv4 neighbour"; }
[ "$n" = 1 ] || pr_fail "the first datagram to an unresolved IPv4 neighbour was lost ($n tries)"
n=$(ip netns exec dp-cli $ECHO 2001:db8:100::21 2001:db8:100::10 7) || { dump; pr_fail "no UDP echo to an unresolved IPv6 neighbour"; }
[ "$n" = 1 ] || pr_fail "the first datagram to an unresolved IPv6 neighbour was lost ($n tries)"
# No IPv6 gateway is configured: a reply to an off-link IPv6 source has no route.
ip -n dp-cli addr add 2001:db8:999::5/128 dev lo
ip netns exec dp-cli $ECHO 2001:db8:999::5 2001:db8:100::10 7 1 >/dev/null &&
	pr_fail "echo to an off-link IPv6 host without gateway6"
expect no_route -ge 1 /poprelay/drops
expect arp_requests_out -ge 1
expect nd_solicits_out -ge 1
expect neigh_resolve_punts -ge 2
expect udp_in -ge 3
$TEL $PREFIX /poprelay/neigh | grep -q '"198.51.100.21"' || pr_fail "198.51.100.21 not resolved"
$TEL $PREFIX /poprelay/neigh | grep -q '"2001:db8:100::21"' || pr_fail "2001:db8:100::21 not resolved"

# Malformed frames: each dropped and counted by its reason.
before=$($TEL $PREFIX /poprelay/drops)
sent=$(ip netns exec dp-cli /usr/bin/python3 "$PR_ROOT/tests/integration/dp_malformed.py" \
	dp0c "$dpmac" 198.51.100.10 2001:db8:100::10 198.51.100.20 2001:db8:100::20 $N)
pr_log "malformed sent: $sent"
sleep 1
after=$($TEL $PREFIX /poprelay/drops)
python3 - "$before" "$after" "$sent" <<'PY' || pr_fail "drop counters do not match what was sent"
import json, sys
b = json.loads(sys.argv[1])["/poprelay/drops"]
a = json.loads(sys.argv[2])["/poprelay/drops"]
sent = json.loads(sys.argv[3])
bad = 0
for k, n in sent.items():
    got = a[k] - b[k]
    print(f"  {k}: sent {n}, counted {got}", file=sys.stderr)
    if got != n:
        bad += 1
for k in a:
    if k not in sent and a[k] != b[k]:
        print(f"  (other) {k}: +{a[k] - b[k]}", file=sys.stderr)
sys.exit(1 if bad else 0)
PY
$TEL $PREFIX /poprelay/neigh | grep -q '"198.51.100.10"' && pr_fail "learned our own address from a conflicting ARP"
# ... and it still answers.
ip netns exec dp-cli ping -c 3 -i 0.3 -W 3 198.51.100.10 >/dev/null || { cat "$tmp/dp.log"; dump; pr_fail "no answer after malformed frames"; }
ip netns exec dp-cli ping -6 -c 3 -i 0.3 -W 3 2001:db8:100::10 >/dev/null || pr_fail "no IPv6 answer after malformed frames"

# poprelayctl, when it is built, reads the same counters.
if [ -x "$BUILD/poprelayctl" ]; then
	out=$("$BUILD/poprelayctl" stats --json --prefix $PREFIX) || pr_fail "poprelayctl stats failed"
	echo "$out" | python3 -c "import json,sys; d=json.load(sys.stdin); assert d['stats']['icmp_echo_in'] >= $N, d" ||
		pr_fail "poprelayctl stats --json: $out"
	# (exit 3: no Redis, slowpath or exporter runs here; the dataplane must show up)
	rc=0
	"$BUILD/poprelayctl" status --prefix $PREFIX >"$tmp/status.txt" || rc=$?
	[ $rc = 0 ] || [ $rc = 3 ] || pr_fail "poprelayctl status: exit $rc"
	grep -q "dataplane: running" "$tmp/status.txt" || pr_fail "status: $(cat "$tmp/status.txt")"
	grep -qi "$dpmac" "$tmp/status.txt" || pr_fail "status lacks the port's MAC: $(cat "$tmp/status.txt")"
	# -c CONF finds the telemetry socket through [eal] file_prefix.
	rc=0
	"$BUILD/poprelayctl" -c "$tmp/dp.conf" --json status >"$tmp/status.json" || rc=$?
	[ $rc = 0 ] || [ $rc = 3 ] || pr_fail "status -c: exit $rc"
	python3 -c "
import json, sys
d = json.load(open(sys.argv[1]))
assert d['running'] and d['dataplane']['file_prefix'] == '$PREFIX', d
assert d['ports'][0]['ipv4'] == '198.51.100.10/24', d['ports']
assert '198.51.100.20' in d['neighbours']['address'], d['neighbours']
" "$tmp/status.json" || pr_fail "status --json: $(cat "$tmp/status.json")"
fi

# SIGTERM: exit 0, ports stopped, hugepage files gone.
kill -TERM $dp_pid
rc=0
wait $dp_pid || rc=$?
[ $rc -eq 0 ] || { cat "$tmp/dp.log"; pr_fail "exit code $rc after SIGTERM"; }
grep -q stopped "$tmp/dp.log" || pr_fail "no clean stop in the log"
grep -q "READY=1" "$tmp/notify.log" || pr_fail "no sd_notify READY=1: $(cat "$tmp/notify.log")"
grep -q "STOPPING=1" "$tmp/notify.log" || pr_fail "no sd_notify STOPPING=1"
if ls /dev/hugepages/ 2>/dev/null | grep -q "^${PREFIX}map_"; then
	pr_fail "hugepage files left: $(ls /dev/hugepages | grep "^$PREFIX")"
fi
if [ -x "$BUILD/poprelayctl" ]; then
	rc=0
	"$BUILD/poprelayctl" stats --prefix $PREFIX >"$tmp/ctl.out" 2>&1 || rc=$?
	[ $rc -eq 3 ] || pr_fail "poprelayctl stats with the dataplane stopped: exit $rc, expected 3"
	grep -q "not running" "$tmp/ctl.out" || pr_fail "poprelayctl: unclear message: $(cat "$tmp/ctl.out")"
fi
[ ! -e /var/run/dpdk/$PREFIX ] || pr_fail "runtime directory left behind: $(ls /var/run/dpdk/$PREFIX)"
pr_log "PASS"
