#!/usr/bin/env bash
# Several addresses on one port ([port0] ipv4_extra, ipv6_extra; [turn] relay_address): the
# dataplane on net_af_packet in namespace ad-pop holds 198.51.100.10/24 (primary),
# 198.51.100.11/24 and 192.0.2.10/24 (another subnet on the same link), 2001:db8:100::10/64
# and 2001:db8:100::11/64. From client namespace ad-cli:
#   - --check-config refuses a repeated address, the other family and a relay_address that
#     is not ours, naming the key;
#   - each address answers ARP / ND (ip neigh shows the dataplane's MAC) and ping;
#   - the UDP echo answers from the address it was sent to, and a source on the other
#     subnet the dataplane never saw is resolved on-link (not through gateway4), by an ARP
#     request from the dataplane's address on that subnet;
#   - /poprelay/port,0 lists every address;
#   - TURN (coturn's turnutils_uclient) to the listener on 192.0.2.10 with [turn]
#     relay_address = 198.51.100.11: the relayed address is 198.51.100.11 and data relays
#     to a peer both ways; a restart restores the allocations (relay_address is ours);
#   - a media session whose relay_addr is 198.51.100.11 relays clear RTP both ways from it
#     (mpeer on both legs).
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
trap 'trap "" INT TERM; exit 130' INT TERM
pr_need_root
DP=$BUILD/poprelay-dataplane
CTL=$BUILD/poprelayctl
MPEER=$BUILD/tests/integration/media/mpeer
[ -x "$DP" ] || pr_fail "$DP not built"
[ -x "$CTL" ] || pr_skip "poprelayctl not built (needed to add the TURN user)"
[ -x "$MPEER" ] || pr_fail "$MPEER not built (tests/integration/media/mpeer.mk)"
command -v turnutils_uclient >/dev/null || pr_skip "coturn's turnutils_uclient not installed"
TEL="python3 $PR_ROOT/tests/integration/dp_telemetry.py"
PREFIX=dp-addrs
PW=Several-addrs-42-dormouse
P=198.51.100.10 X1=198.51.100.11 X2=192.0.2.10
P6=2001:db8:100::10 X6=2001:db8:100::11
M=2 # turnutils_uclient -m M makes 2 allocations a client
N=$((2 * M))

tmp=$(pr_tmpdir)
pr_on_exit "rm -rf /var/run/dpdk/$PREFIX"
pr_redis_start "$tmp"
pr_netns ad-pop
pr_netns ad-cli
pr_veth ad-pop ad0p ad-cli ad0c
ip netns exec ad-pop sysctl -qw net.ipv6.conf.ad0p.disable_ipv6=1
ip -n ad-cli addr add 198.51.100.20/24 dev ad0c
ip -n ad-cli addr add 198.51.100.21/24 dev ad0c
ip -n ad-cli addr add 192.0.2.20/24 dev ad0c
ip -n ad-cli addr add 2001:db8:100::20/64 dev ad0c nodad
# the TURN peer, off every prefix of the dataplane: reached through gateway4
ip -n ad-cli addr add 203.0.113.5/32 dev ad0c

# conf EXTRA4 EXTRA6 RELAY: the configuration into $tmp/dp.conf
conf() {
	cat >"$tmp/dp.conf" <<CONF
# dataplane_addrs.sh
[global]
realm = ad.example
[eal]
lcores = 0-1
memory_mb = 256
huge = no
file_prefix = $PREFIX
[dataplane]
mbuf_pool_size = 8191
mbuf_cache_size = 64
worker_idle_sleep_us = 50
udp_echo_port = 7
[redis]
socket = $tmp/redis.sock
[port0]
device = net_af_packet0,iface=ad0p,qpairs=2
ipv4 = $P/24
ipv4_extra = $1
ipv6 = $P6/64
ipv6_extra = $2
gateway4 = 198.51.100.20
[turn]
relay_address = $3
relay_port_min = 50000
relay_port_max = 50999
max_allocations = 64
allowed_peer = 203.0.113.0/24
nonce_secret_file = $tmp/nonce.key
[media]
port_min = 31000
port_max = 31199
stats_interval_ms = 500
CONF
}

# ---- --check-config refuses what the start would, naming the key ----
refused() { # WHAT WORDS...: the config in $tmp/dp.conf is refused, the message has WORDS
	local what=$1 out rc=0 w
	shift
	out=$("$DP" -c "$tmp/dp.conf" --check-config 2>&1) || rc=$?
	[ $rc != 0 ] || pr_fail "--check-config accepted $what"
	for w in "$@"; do
		echo "$out" | grep -qF -- "$w" || pr_fail "--check-config on $what: \"$w\" not in: $out"
	done
	pr_log "ok: refused $what: $out"
}
conf "$X1/24, $P/25" "" ""
refused "an extra address that is the primary" "[port0] ipv4_extra" "$P" "[port0] ipv4 already"
conf "$X1/24, 2001:db8::9/64" "" ""
refused "an IPv6 address in ipv4_extra" "[port0] ipv4_extra" "2001:db8::9/64" "an IPv6 address"
conf "$X1/24" "$X6" ""
refused "an extra address without its prefix length" "[port0] ipv6_extra" "$X6" "prefix length"
conf "$X1/24" "$X6/64" "198.51.100.99"
refused "a relay_address that is not ours" "[turn] relay_address" "198.51.100.99"
conf "$X1/24, $X2/24" "$X6/64" "$X1"
"$DP" -c "$tmp/dp.conf" --check-config >/dev/null 2>&1 || pr_fail "--check-config refused the good configuration"

ctl() { "$CTL" -c "$tmp/dp.conf" "$@"; }
rcli() { redis-cli -s "$tmp/redis.sock" "$@"; }
printf '%s\n' "$PW" | ctl user add alice >/dev/null || pr_fail "poprelayctl user add"

run=0
start_dp() {
	run=$((run + 1))
	log=$tmp/dp$run.log
	ip netns exec ad-pop "$DP" -c "$tmp/dp.conf" >/dev/null 2>"$log" &
	dp_pid=$!
	pr_on_exit "kill $dp_pid 2>/dev/null; sleep 0.5; kill -9 $dp_pid 2>/dev/null"
	pr_wait_for 20 sh -c "$TEL $PREFIX /poprelay/media/stats | grep -q '\"redis_up\": 1'" ||
		{ cat "$log" >&2; pr_fail "the dataplane did not come up"; }
}
stop_dp() {
	kill "$dp_pid"
	wait "$dp_pid" 2>/dev/null || true
}
dump() { $TEL $PREFIX /poprelay/stats /poprelay/drops /poprelay/neigh /poprelay/port,0 >&2 || true; tail -20 "$log" >&2; }
stats() { $TEL $PREFIX /poprelay/stats | python3 -c "import json,sys; print(json.load(sys.stdin)['/poprelay/stats']['$1'])"; }
tstat() { $TEL $PREFIX /poprelay/turn/stats | python3 -c "import json,sys; print(json.load(sys.stdin)['/poprelay/turn/stats']['$1'])"; }

start_dp
pr_log "dataplane up: $(grep 'turn: listening' "$log" || true)"
DPMAC=$($TEL $PREFIX /poprelay/port,0 | python3 -c "import json,sys; print(json.load(sys.stdin)['/poprelay/port,0']['mac'])" | tr 'A-F' 'a-f')

# ---- telemetry lists every address ----
$TEL $PREFIX /poprelay/port,0 | python3 -c "
import json, sys
p = json.load(sys.stdin)['/poprelay/port,0']
want = ['$P/24', '$X1/24', '$X2/24', '$P6/64', '$X6/64']
assert p['addresses'] == want, (p['addresses'], want)
assert p['ipv4'] == '$P/24' and p['ipv6'] == '$P6/64', p
" || pr_fail "/poprelay/port,0: $($TEL $PREFIX /poprelay/port,0)"
pr_log "ok: /poprelay/port,0 lists the 5 addresses"

# ---- ARP / ND and echo on every address ----
echo0=$(stats icmp_echo_in)
for a in $P $X1 $X2; do
	ip netns exec ad-cli ping -c 2 -i 0.2 -W 2 $a >/dev/null || { dump; pr_fail "ping $a"; }
	ip -n ad-cli neigh show $a dev ad0c | grep -qi "lladdr $DPMAC" ||
		pr_fail "the client did not learn $DPMAC for $a by ARP: $(ip -n ad-cli neigh)"
	pr_log "ok: $a answers ARP (lladdr $DPMAC) and ping"
done
for a in $P6 $X6; do
	ip netns exec ad-cli ping -6 -c 2 -i 0.2 -W 2 $a >/dev/null || { dump; pr_fail "ping -6 $a"; }
	ip -n ad-cli -6 neigh show $a dev ad0c | grep -qi "lladdr $DPMAC" ||
		pr_fail "the client did not learn $DPMAC for $a by ND: $(ip -n ad-cli -6 neigh)"
	pr_log "ok: $a answers ND (lladdr $DPMAC) and ping -6"
done
[ "$(stats icmp_echo_in)" -ge $((echo0 + 6)) ] || pr_fail "icmp_echo_in: $(stats icmp_echo_in)"
# an address on none of the port's prefixes is still not ours
ip -n ad-cli route add 198.51.100.99/32 dev ad0c
ip -n ad-cli neigh replace 198.51.100.99 lladdr "$DPMAC" dev ad0c
ip netns exec ad-cli ping -c 1 -W 1 198.51.100.99 >/dev/null 2>&1 && pr_fail "the dataplane answered for 198.51.100.99"
pr_log "ok: 198.51.100.99 (not configured) gets no answer"

# ---- UDP echo: the reply comes from the address asked (dp_udp_echo.py checks the source
# port; the socket is connected-less, so check the address too) ----
ECHO="python3 $PR_ROOT/tests/integration/dp_udp_echo.py"
for pair in "198.51.100.20 $X1" "192.0.2.20 $X2" "2001:db8:100::20 $X6"; do
	set -- $pair
	n=$(ip netns exec ad-cli $ECHO "$1" "$2" 7) || { dump; pr_fail "no UDP echo from $2"; }
	pr_log "ok: UDP echo $1 -> $2 ($n tries)"
done
ip netns exec ad-cli python3 - "$X2" <<'PY' || pr_fail "the echo reply did not come from $X2"
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("192.0.2.20", 0)); s.settimeout(1)
for _ in range(5):
    s.sendto(b"who-answers", (sys.argv[1], 7))
    try:
        data, peer = s.recvfrom(100)
    except socket.timeout:
        continue
    sys.exit(0 if peer == (sys.argv[1], 7) and data == b"who-answers" else 1)
sys.exit(1)
PY
# A source the dataplane never saw, on the extra address's subnet: resolved on-link (it
# shows in the neighbour table; through gateway4 only 198.51.100.20 would).
# Its ARP request asks from the address on that subnet (a packet socket watches the wire).
ip -n ad-cli addr add 192.0.2.21/24 dev ad0c
req0=$(stats arp_requests_out)
ip netns exec ad-cli python3 - "$X2" >"$tmp/arp.txt" 2>"$tmp/arp.err" <<'PY' ||
import socket, sys
arp = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0806))
arp.bind(("ad0c", 0))
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("192.0.2.21", 0)); s.settimeout(0.7)
ok = False
for _ in range(6):
    s.sendto(b"unresolved", (sys.argv[1], 7))
    try:
        ok = s.recvfrom(100)[0] == b"unresolved"
        break
    except socket.timeout:
        pass
arp.setblocking(False)
senders = set()
while True:
    try:
        f = arp.recv(100)
    except BlockingIOError:
        break
    # a request (op 1) for 192.0.2.21: its sender protocol address
    if f[20:22] == b"\0\1" and socket.inet_ntoa(f[38:42]) == "192.0.2.21":
        senders.add(socket.inet_ntoa(f[28:32]))
print(" ".join(sorted(senders)))
sys.exit(0 if ok else 1)
PY
	{ cat "$tmp/arp.err"; dump; pr_fail "no UDP echo to the unresolved 192.0.2.21"; }
$TEL $PREFIX /poprelay/neigh | grep -q '"192.0.2.21"' || { dump; pr_fail "192.0.2.21 not resolved on-link"; }
[ "$(stats arp_requests_out)" -gt "$req0" ] || pr_fail "no ARP request for 192.0.2.21"
[ "$(cat "$tmp/arp.txt")" = "$X2" ] || pr_fail "ARP requests for 192.0.2.21 came from '$(cat "$tmp/arp.txt")', expected $X2"
pr_log "ok: 192.0.2.21 (other subnet, never seen) resolved on-link by an ARP request from $X2, echoed"

# ---- TURN: listener on 192.0.2.10, relayed address 198.51.100.11 ----
ip netns exec ad-cli turnutils_peer -L 203.0.113.5 -p 3480 >"$tmp/peer.log" 2>&1 &
pr_on_exit "kill $! 2>/dev/null"
sleep 0.5
rc=0
fast0=$(tstat fastpath_relayed)
# -v: it prints the XOR-RELAYED-ADDRESS ("Received relay addr")
timeout 60 ip netns exec ad-cli turnutils_uclient -v -u alice -w "$PW" -e 203.0.113.5 -r 3480 \
	-n 30 -l 200 -z 10 -c $X2 >"$tmp/uc.log" 2>&1 || rc=$?
lost=$(sed -n 's/.*Total lost packets \([0-9]*\).*/\1/p' "$tmp/uc.log" | tail -1)
[ $rc = 0 ] && [ "$lost" = 0 ] || { tail -30 "$tmp/uc.log" >&2; dump; pr_fail "TURN via $X2: rc=$rc lost=${lost:-?}"; }
grep -q "Received relay addr: $X1:" "$tmp/uc.log" ||
	{ grep -i 'relay addr' "$tmp/uc.log" >&2 || true; pr_fail "the relayed address is not $X1"; }
# channel data to the listener on an extra address and the peer's datagrams to the relayed
# one take the short way in (the fast path), as they do on the primary
fast=$(($(tstat fastpath_relayed) - fast0))
[ $fast -ge 60 ] || { dump; pr_fail "the fast path relayed $fast datagrams"; }
pr_log "ok: TURN to the listener on $X2: relayed address $X1, 30 datagrams each way, none lost, $fast by the fast path"

# allocations left behind (client killed) are restored at a restart: their relayed
# address is [turn] relay_address, an extra address
allocs_at_least() { [ "$(tstat allocations)" -ge "$1" ]; }
# (the first client's allocation may still be there: uclient does not always delete it)
N=$(($(tstat allocations) + N))
ip netns exec ad-cli turnutils_uclient -u alice -w "$PW" -e 203.0.113.5 -r 3480 -m $M \
	-n 3000 -l 200 -z 20 -c $X2 >"$tmp/uc2.log" 2>&1 &
uc_pid=$!
pr_on_exit "kill -9 $uc_pid 2>/dev/null"
pr_wait_for 15 allocs_at_least $N || { tail "$tmp/uc2.log" >&2; pr_fail "expected $N allocations, got $(tstat allocations)"; }
kill -9 $uc_pid
wait $uc_pid 2>/dev/null || true
for id in $(rcli ZRANGE pr:turn:allocs 0 -1); do
	[ "$(rcli HGET pr:turn:alloc:$id relay_addr)" = $X1 ] ||
		pr_fail "allocation $id relays on $(rcli HGET pr:turn:alloc:$id relay_addr), expected $X1"
done
stop_dp
start_dp
[ "$(tstat allocations)" = $N ] && [ "$(tstat restore_orphaned)" = 0 ] ||
	{ cat "$log" >&2; pr_fail "restart: $(tstat allocations) allocations restored, $(tstat restore_orphaned) orphaned"; }
pr_log "ok: $N allocations on $X1 restored at a restart, none orphaned"

# ---- media: a session whose relay_addr is 198.51.100.11 ----
ms_redis() { rcli "$@"; }
MS_RELAY=$X1
. "$PR_ROOT/tests/integration/media/sessions.sh"
live() { $TEL $PREFIX /poprelay/media/session,"$1" | grep -q '"id"'; }
ms_store install sx "peer=198.51.100.20:41000 relay=31000" "peer=198.51.100.21:41002 relay=31002" ||
	pr_fail "session record"
pr_wait_for 5 live sx || { tail "$log" >&2; pr_fail "session sx (relay_addr $X1) not installed"; }
ip netns exec ad-cli "$MPEER" --bind 198.51.100.21:41002 --to $X1:31002 --id B --expect-id A \
	--count 50 --rate 100 --start-delay-ms 300 --expect 50 --linger-ms 1500 >"$tmp/mb.json" 2>"$tmp/mb.err" &
mb=$!
ip netns exec ad-cli "$MPEER" --bind 198.51.100.20:41000 --to $X1:31000 --id A --expect-id B \
	--count 50 --rate 100 --start-delay-ms 300 --expect 50 --linger-ms 1500 >"$tmp/ma.json" 2>"$tmp/ma.err" ||
	{ cat "$tmp/ma.err" >&2; pr_fail "mpeer A"; }
wait $mb || { cat "$tmp/mb.err" >&2; pr_fail "mpeer B"; }
python3 "$PR_ROOT/tests/integration/media/check.py" A=@"$tmp/ma.json" B=@"$tmp/mb.json" -- \
	'A["rtp_ok"] == 50 and A["payload_ok"] == 50' 'B["rtp_ok"] == 50 and B["payload_ok"] == 50' \
	"A[\"from\"] == [\"$X1:31000\"]" "B[\"from\"] == [\"$X1:31002\"]" ||
	{ dump; pr_fail "media through $X1"; }
pr_log "ok: media session on $X1: 50 RTP packets each way, each from $X1"

stop_dp
pr_log "PASS"
