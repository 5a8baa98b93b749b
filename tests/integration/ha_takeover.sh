#!/usr/bin/env bash
# Address takeover between two appliances (docs/scaling.md, "Appliances N+1"): dataplane A
# owns X = 198.51.100.10 (TURN listener and relay, ports 50000-50999) and is the backup of
# B's 198.51.100.11; dataplane B owns .11 (relay ports 51000-51999) and has X as its [ha]
# peer address. Each runs in its own namespace on a net_af_packet port; both ports, the
# client's and nothing else are on one bridge; one Redis; the NONCE key shared. The client
# (ha_turn.py, in hx-c) allocates on X and relays ChannelData to turnutils_peer
# (203.0.113.5, echoing) every 20 ms. Scenarios, each "ok: ...":
#   a  bad [ha] / [turn] peer_* values are refused by --check-config, the key named
#   b  B, started after the allocation exists, leaves A's allocation in Redis (its start's
#      restore deleted it as an orphan before) and does not answer ARP for X
#   b2 B follows A's allocations without serving them (turn_following in its TURN
#      telemetry): the one that existed at its start (its permission and channel), then a
#      second client's on A, allocated, given a permission and a channel, and deleted
#      (Refresh 0), each reflected in B's copy within 5 s
#   c  kill -9 of A and its port down: the data stops and stays stopped without a takeover
#      (the test seen failing first: nobody answers for X)
#   d  poprelayctl ha takeover on B: gratuitous ARPs for X from B's MAC seen on the segment,
#      the client's neighbour entry for X is B's MAC, the data flows again to the same
#      relayed address with the permission and channel kept (no new ChannelBind), the
#      echoes come from X:3478, a Refresh succeeds, Redis keeps the relayed address X;
#      ha status says held, since, 1 allocation; the gap is measured and printed; the
#      takeover read nothing from Redis (no HGETALL, HMGET, ZRANGE*, SMEMBERS between
#      before and after it, INFO commandstats): B installed A's allocation from its copy
#   e  poprelayctl ha release: B stops relaying for X, the allocation stays in Redis
# Exits 0 (pass), 77 (skip), 1 (fail).
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/ha/haenv.sh"
command -v turnutils_peer >/dev/null || pr_skip "coturn's turnutils_peer not installed"
he_init hx hx-a hx-b
HE_GATEWAY4=$CLI
PW='Ha-takeover-pw-7731'
he_topology $CLI/24 $PEER/32

conf() { # NAME OWN PEER_ADDR OWN_RELAY_MIN PEER_RELAY_MIN
	he_conf $1 $2 $3
	he_turn_conf $3 $4 $5
}
conf a $X $Y 50000 51000 >"$tmp/a.conf"
conf b $Y $X 51000 50000 >"$tmp/b.conf"

# a: bad values refused, the key named
check_bad '\[ha\] peer_ipv4' peer_ipv4 "$Y/24"
check_bad '\[ha\] peer_ipv4' peer_ipv4 "not-an-address"
check_bad '\[turn\] peer_relay_address' peer_relay_address 198.51.100.99
check_bad '\[turn\] peer_relay_port_min' peer_relay_port_min 51500
check_bad '\[turn\] peer_relay_port_min' peer_relay_port_min 80
"$DP" -c "$tmp/b.conf" --check-config >"$tmp/good.out" 2>&1 || pr_fail "b.conf refused: $(cat "$tmp/good.out")"
[ $fails = 0 ] || pr_fail "$fails bad values accepted"
pr_log "ok: a  bad [ha] and [turn] peer_* values refused by --check-config, the key named"

printf '%s\n' "$PW" | "$CTL" -c "$tmp/a.conf" user add alice >/dev/null || pr_fail "user add"

he_start_dp a
he_turn_client "$PW"

# b: B starts after the allocation exists: leaves it alone, does not answer for X
he_start_dp b
[ "$(rcli EXISTS pr:turn:alloc:$id)" = 1 ] || pr_fail "B's start deleted A's allocation $id"
grep -q "no longer ours" "$tmp/b.log" && pr_fail "B took A's allocation for an orphan: $(grep 'no longer ours' "$tmp/b.log")"
[ "$(hstat b held)" = 0 ] || pr_fail "B holds X before any takeover"
ip -n hx-c neigh flush dev hxc0
ip netns exec hx-c ping -c 1 -W 1 $X >/dev/null || pr_fail "X not answered while A is up"
ip -n hx-c neigh show $X | grep -qi "$MAC_A" || pr_fail "X resolved to $(ip -n hx-c neigh show $X), not A's $MAC_A"
pr_log "ok: b  B started after the allocation: it stays in Redis, X is A's ($MAC_A), B holds nothing"

# b2: B's copy of A's allocations follows their creation, change and deletion
tstat() { # KEY...: B's TURN telemetry values, space-separated
	$TEL hx-b /poprelay/turn/stats | python3 -c "import json, sys
d = json.load(sys.stdin)['/poprelay/turn/stats']
print(' '.join(str(d.get(k)) for k in sys.argv[1:]))" "$@"
}
follows() { # ALLOCATIONS PERMISSIONS CHANNELS WHAT: B's copy holds that (complete) within 5 s
	local i got
	for ((i = 0; i < 50; i++)); do
		got=$(tstat turn_following turn_following_permissions turn_following_channels turn_following_complete)
		[ "$got" = "$1 $2 $3 1" ] && return 0
		sleep 0.1
	done
	pr_fail "B's copy of A's allocations $4: $got (allocations permissions channels complete), expected $1 $2 $3 1"
}
c2() { # STEP WANT: a file for the second client, then its answer
	touch "$tmp/c2/$1"
	pr_wait_for 5 grep -q "\"$2\": true" "$tmp/c2/out" || pr_fail "second client's $1: $(cat "$tmp/c2/out")"
}
follows 1 1 1 "at B's start"
mkdir "$tmp/c2"
ip netns exec hx-c python3 "$PR_ROOT/tests/integration/ha_turn.py" --server $X:3478 --no-bind \
	--user alice --password "$PW" --peer $PEER:3480 --dir "$tmp/c2" >"$tmp/c2/out" 2>&1 &
pr_on_exit "kill $! 2>/dev/null"
pr_wait_for 10 grep -q allocated "$tmp/c2/out" || pr_fail "second allocation on A: $(cat "$tmp/c2/out")"
follows 2 1 1 "after a second allocation on A"
c2 bind bound
follows 2 2 2 "after its permission and channel"
c2 release released
follows 1 1 1 "after its deletion"
[ "$(rcli ZCARD pr:turn:allocs)" = 1 ] || pr_fail "the second allocation is still in Redis"
pr_log "ok: b2 B follows A's allocations: 1 at its start, a second one created, bound and deleted on A, each in B's copy (turn_following $(tstat turn_following), $(tstat turn_following_loads) records read, no takeover)"

# c: A dies; without a takeover the data stops and stays stopped
rx_grows 2 || pr_fail "data not flowing before the kill"
t_kill=$(date +%s.%N)
kill -9 $pid_a
ip -n hx-a link set hxa0 down
sleep 0.3
n_dead=$(rx)
sleep 2
[ "$(rx)" -le "$((n_dead + 1))" ] || pr_fail "data still flowing with A dead and no takeover ($n_dead -> $(rx)): the test cannot tell"
ip -n hx-c neigh flush dev hxc0
ip netns exec hx-c ping -c 1 -W 1 $X >/dev/null 2>&1 && pr_fail "X answered with A dead and no takeover"
pr_log "ok: c  A killed: no data and X unanswered without a takeover (rx stayed at $n_dead)"

# d: takeover on B; capture the announcements on the client's segment
ip netns exec hx-c python3 - "$tmp/garp" <<'PY' &
import socket, struct, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0806))
s.bind(("hxc0", 0))
s.settimeout(0.2)
end = time.time() + 3
with open(sys.argv[1], "w") as f:
    while time.time() < end:
        try:
            b = s.recv(100)
        except socket.timeout:
            continue
        op = struct.unpack("!H", b[20:22])[0]
        # gratuitous: a request whose sender and target address are the same
        if op == 1 and b[28:32] == b[38:42]:
            f.write("%s %s %s\n" % (b[22:28].hex(":"), socket.inet_ntoa(b[28:32]), time.time()))
            f.flush()
PY
sniff=$!
sleep 0.3
# reads: the calls so far of the commands a takeover from Redis makes (B alone is connected)
reads() { rcli INFO commandstats | awk -F'[:=,]' '/^cmdstat_(hgetall|hmget|zrange[a-z]*|zrevrange[a-z]*|smembers):/ {n += $3} END {print n + 0}'; }
r0=$(reads)
t_take=$(date +%s.%N)
ha b takeover >"$tmp/takeover.out" || pr_fail "ha takeover: $(cat "$tmp/takeover.out")"
r1=$(reads)
grep -q "took over $X (1 TURN allocations)" "$tmp/takeover.out" ||
	pr_fail "takeover said: $(cat "$tmp/takeover.out")"
[ "$r1" = "$r0" ] || pr_fail "the takeover read Redis: HGETALL + HMGET + ZRANGE* + SMEMBERS calls $r0 -> $r1 ($(grep 'allocations of the peer' "$tmp/b.log"))"
grep -q "taken over from the copy" "$tmp/b.log" || pr_fail "B did not take over from its copy: $(grep 'of the peer' "$tmp/b.log")"
rx_grows 3 || { tail -5 "$tmp/b.log" >&2; pr_fail "no data through B after the takeover"; }
wait $sniff || true
n_garp=$(grep -c "^${MAC_B,,} $X " "$tmp/garp" || true)
[ "$n_garp" -ge 2 ] || pr_fail "expected gratuitous ARPs for $X from $MAC_B, saw: $(cat "$tmp/garp")"
ip -n hx-c neigh show $X | grep -qi "$MAC_B" || pr_fail "the client's entry for X is $(ip -n hx-c neigh show $X), not B's $MAC_B"
[ "$(state sources)" = "['$X:3478']" ] || pr_fail "echoes came from $(state sources), expected only $X:3478"
touch "$tmp/c/refresh"
pr_wait_for 10 grep -q '"refresh"' "$tmp/c/out" || pr_fail "no Refresh answer"
grep -q '"refresh": true' "$tmp/c/out" || pr_fail "Refresh through B failed: $(grep refresh "$tmp/c/out")"
[ "$(rcli HGET pr:turn:alloc:$id relay_addr)" = $X ] || pr_fail "redis relay_addr $(rcli HGET pr:turn:alloc:$id relay_addr) after B's Refresh"
[ "$(rcli HGET pr:turn:alloc:$id relay_port)" = "${relayed#*:}" ] || pr_fail "relay port changed in redis"
$TEL hx-b /poprelay/turn/allocations >"$tmp/ballocs"
python3 - "$tmp/ballocs" "$id" <<'PY' || pr_fail "B's table: $(cat "$tmp/ballocs")"
import json, sys
a = json.load(open(sys.argv[1]))["/poprelay/turn/allocations"][sys.argv[2]]
assert a["permissions"] == 1 and a["channels"] == 1, a
assert a["pkts_c2p"] > 0 and a["pkts_p2c"] > 0, a
PY
ha b status >"$tmp/status.out"
grep -E "^peer +$X +backup +yes +20[0-9-]+T" "$tmp/status.out" | grep -qE " 1 *$" ||
	pr_fail "ha status: $(cat "$tmp/status.out")"
rx_grows 1 || pr_fail "data stopped after the Refresh"
pr_log "ok: d  takeover from B's copy, no Redis read: GARPs from B ($n_garp), X at $MAC_B, data again to $relayed with its permission and channel, a Refresh succeeded, status held"
cat "$tmp/status.out" >&2

# e: release: B stops relaying for X; the allocation stays for its owner
ha b release >"$tmp/release.out" || pr_fail "ha release: $(cat "$tmp/release.out")"
[ "$(hstat b held)" = 0 ] || pr_fail "B still holds X after the release"
sleep 0.3
n_rel=$(rx)
sleep 1
[ "$(rx)" -le "$((n_rel + 1))" ] || pr_fail "B still relays for X after the release"
[ "$(rcli EXISTS pr:turn:alloc:$id)" = 1 ] || pr_fail "the release deleted the allocation"
pr_log "ok: e  release: B no longer relays for X; the allocation stays in Redis"

touch "$tmp/c/stop"
pr_wait_for 5 grep -q '"gaps"' "$tmp/c/out" || pr_fail "no summary from the client"
python3 - "$tmp/c/out" "$t_kill" "$t_take" <<'PY' >&2
import json, sys
summary = [json.loads(l) for l in open(sys.argv[1]) if '"gaps"' in l][-1]
t_kill, t_take = float(sys.argv[2]), float(sys.argv[3])
g = [x for x in summary["gaps"] if x[0] <= t_kill + 0.1 and x[1] >= t_take][0]
print("gap: %d ms from the last echo before the kill to the first after the takeover; "
      "%d ms of it after the takeover was asked (the rest is this test's wait)"
      % (g[2], (g[1] - t_take) * 1000))
PY
