#!/usr/bin/env bash
# parallel:
# Split-brain fencing and the failback policy (docs/scaling.md, "Split brain and failback"):
# the topology of ha_takeover.sh (namespaces hf-*): dataplane A owns X = 198.51.100.10 (TURN
# listener and relay), B owns Y = .11 and is X's [ha] backup; both keep a lease in one Redis
# ([ha] lease_ms = 1500). The client (ha_turn.py, in hf-c) allocates on X and relays
# ChannelData to turnutils_peer every 20 ms. Scenarios, each "ok: ...":
#   a  bad [ha] lease_ms / failback values refused by --check-config, the key named
#   b  split brain: both alive and seeing Redis, `ha takeover` on B is deferred (said so,
#      counted in takeover_deferred); X is A's alone (the ARP replies for X seen on the
#      segment come from A's MAC only, no gratuitous ARP from B) and A still relays
#   c  kill -9 of A and its port down: B's deferred takeover completes by itself once A's
#      lease expires (within lease_ms + a check; nobody asks again); pr:ha:held:X names Y;
#      the data flows through B
#   d  A restarts: it leaves X alone (ARP for X answered by B only, A counts ha_fenced
#      drops, ha status says not served, held by Y); B still relays
#   e  poprelayctl ha failback on A: B releases (the held record goes), A serves X again,
#      announces it (the client's entry for X is A's MAC), relays the allocation with its
#      permission and channel (restored from what B left in Redis) and answers a Refresh
# Exits 0 (pass), 77 (skip), 1 (fail).
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/ha/haenv.sh"
command -v turnutils_peer >/dev/null || pr_skip "coturn's turnutils_peer not installed"
he_init hf hf-a hf-b
HE_GATEWAY4=$CLI
PW='Ha-fence-pw-5519'
LEASE=1500
he_topology $CLI/24 $PEER/32

conf() { # NAME OWN PEER_ADDR OWN_RELAY_MIN PEER_RELAY_MIN
	he_conf $1 $2 $3
	printf '%s\n' "lease_ms = $LEASE" "failback = manual"
	he_turn_conf $3 $4 $5
}
conf a $X $Y 50000 51000 >"$tmp/a.conf"
conf b $Y $X 51000 50000 >"$tmp/b.conf"

# a: bad values refused, the key named
check_bad '\[ha\] lease_ms' lease_ms 50
check_bad '\[ha\] lease_ms' lease_ms 1s
check_bad '\[ha\] failback' failback sometimes
"$DP" -c "$tmp/b.conf" --check-config >"$tmp/good.out" 2>&1 || pr_fail "b.conf refused: $(cat "$tmp/good.out")"
[ $fails = 0 ] || pr_fail "$fails bad values accepted"
pr_log "ok: a  bad [ha] lease_ms and failback values refused by --check-config, the key named"

printf '%s\n' "$PW" | "$CTL" -c "$tmp/a.conf" user add alice >/dev/null || pr_fail "user add"

# drops NAME REASON: one of NAME's drop counters
drops() { $TEL hf-$1 /poprelay/drops | python3 -c "import json,sys; print(json.load(sys.stdin)['/poprelay/drops'].get('$2', 0))"; }
# arp_seen OUT SECONDS: the ARP replies and gratuitous ARPs for X on the client's segment,
# "MAC reply|garp" a line, for SECONDS (in the background)
arp_seen() {
	ip netns exec hf-c python3 - "$1" "$2" "$X" <<'PY' &
import socket, struct, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0806))
s.bind(("hfc0", 0))
s.settimeout(0.2)
end = time.time() + float(sys.argv[2])
x = socket.inet_aton(sys.argv[3])
with open(sys.argv[1], "w") as f:
    while time.time() < end:
        try:
            b = s.recv(100)
        except socket.timeout:
            continue
        op = struct.unpack("!H", b[20:22])[0]
        if b[28:32] != x:
            continue
        if op == 2:
            f.write("%s reply\n" % b[22:28].hex(":"))
        elif op == 1 and b[38:42] == x:
            f.write("%s garp\n" % b[22:28].hex(":"))
        f.flush()
PY
	sniff=$!
	sleep 0.3
}
# resolve_x: the client forgets X, pings it, and prints the MAC its entry names
resolve_x() {
	ip -n hf-c neigh flush dev hfc0
	ip netns exec hf-c ping -c 1 -W 1 $X >/dev/null 2>&1 || true
	ip -n hf-c neigh show $X | awk '{for (i = 1; i < NF; i++) if ($i == "lladdr") print $(i + 1)}'
}

he_start_dp a
he_start_dp b
he_turn_client "$PW"
pr_wait_for 5 sh -c "[ \"\$(redis-cli -s $tmp/redis.sock EXISTS pr:ha:alive:$X pr:ha:alive:$Y)\" = 2 ]" ||
	pr_fail "the leases pr:ha:alive:$X and :$Y are not both in redis"

# b: split brain: B told to take over while A lives and sees Redis
arp_seen "$tmp/arp_b" 7.5 # the takeover waits 5 s for the deferral, then the ARP
ha b takeover >"$tmp/takeover.out" || pr_fail "ha takeover: $(cat "$tmp/takeover.out")"
grep -q "takeover deferred" "$tmp/takeover.out" || pr_fail "takeover on B not deferred: $(cat "$tmp/takeover.out")"
[ "$(hstat b held)" = 0 ] || pr_fail "B holds X while A lives"
[ "$(hstat b takeover_deferred)" = 1 ] || pr_fail "takeover_deferred on B: $(hstat b takeover_deferred)"
[ "$(hstat b takeover_deferring)" = 1 ] || pr_fail "B not deferring"
mac=$(resolve_x)
[ "${mac,,}" = "${MAC_A,,}" ] || pr_fail "X resolved to '$mac', not A's $MAC_A, with B deferring"
rx_grows 1 || pr_fail "A stopped relaying with B deferring"
wait $sniff || true
grep -q "^${MAC_A,,} reply" "$tmp/arp_b" || pr_fail "no ARP reply for X from A: $(cat "$tmp/arp_b")"
grep -v "^${MAC_A,,} " "$tmp/arp_b" && pr_fail "ARP for X from another MAC than A's during the split"
[ "$(rcli EXISTS pr:ha:held:$X)" = 0 ] || pr_fail "pr:ha:held:$X written while A lives"
grep -q "takeover of $X deferred" "$tmp/b.log" || pr_fail "B did not log the deferral"
pr_log "ok: b  split brain: B's takeover deferred (counted 1), X answered by A alone ($MAC_A), A relays"

# c: A dies: the deferred takeover completes by itself once A's lease expires
rx_grows 1 || pr_fail "data not flowing before the kill"
t_kill=$(date +%s.%N)
kill -9 $pid_a
ip -n hf-a link set hfa0 down
pr_wait_for $(((LEASE + 1500) / 1000 + 1)) sh -c "[ \"\$($TEL hf-b /poprelay/ha/status | python3 -c \"import json,sys; print(json.load(sys.stdin)['/poprelay/ha/status']['held'])\")\" = 1 ]" ||
	pr_fail "B did not take over within lease_ms + 1.5 s of A's death"
t_held=$(date +%s.%N)
ms=$(python3 -c "print(int(($t_held - $t_kill) * 1000))")
[ "$ms" -le $((LEASE + 1500)) ] || pr_fail "the takeover took $ms ms after the kill"
[ "$(rcli GET pr:ha:held:$X)" = $Y ] || pr_fail "pr:ha:held:$X is '$(rcli GET pr:ha:held:$X)', expected $Y"
rx_grows 3 || { tail -5 "$tmp/b.log" >&2; pr_fail "no data through B after its deferred takeover"; }
[ "$(hstat b takeover_deferring)" = 0 ] || pr_fail "B still deferring after the takeover"
pr_log "ok: c  A killed: B's deferred takeover completed by itself $ms ms after the kill (lease $LEASE ms); data through B"

# d: A restarts: X stays B's
ip -n hf-a link set hfa0 up
he_start_dp a
pr_wait_for 5 sh -c "[ \"\$($TEL hf-a /poprelay/ha/status | python3 -c \"import json,sys; print(json.load(sys.stdin)['/poprelay/ha/status']['own_held_by'])\")\" = $Y ]" ||
	pr_fail "A does not see X held by B: $($TEL hf-a /poprelay/ha/status)"
[ "$(hstat a own_served)" = 0 ] || pr_fail "A serves X while B holds it"
arp_seen "$tmp/arp_d" 2
mac=$(resolve_x)
[ "${mac,,}" = "${MAC_B,,}" ] || pr_fail "X resolved to '$mac', not B's $MAC_B, after A's restart"
wait $sniff || true
grep -v "^${MAC_B,,} " "$tmp/arp_d" && pr_fail "ARP for X from another MAC than B's after A's restart"
[ "$(drops a ha_fenced)" -gt 0 ] || pr_fail "A counted no ha_fenced drops"
rx_grows 2 || pr_fail "B stopped relaying after A's restart"
ha a status >"$tmp/status_a.out"
grep -q "^own addresses: NOT served: held by the peer $Y" "$tmp/status_a.out" || pr_fail "ha status on A: $(cat "$tmp/status_a.out")"
"$CTL" -c "$tmp/a.conf" --json ha status | python3 -c "
import json, sys
f = json.load(sys.stdin)['fencing']
assert f['own_served'] is False and f['own_held_by'] == '$Y', f" || pr_fail "ha status --json on A"
pr_log "ok: d  A restarted: X answered by B alone ($MAC_B), A drops $(drops a ha_fenced) frames as ha_fenced, B relays"

# e: failback
arp_seen "$tmp/arp_e" 3
t_fb=$(date +%s.%N)
ha a failback >"$tmp/failback.out" || pr_fail "ha failback: $(cat "$tmp/failback.out")"
grep -q "served again" "$tmp/failback.out" || pr_fail "failback said: $(cat "$tmp/failback.out")"
[ "$(hstat b held)" = 0 ] || pr_fail "B still holds X after the failback"
[ "$(hstat a own_served)" = 1 ] || pr_fail "A does not serve X after the failback"
[ "$(rcli EXISTS pr:ha:held:$X pr:ha:failback:$X)" = 0 ] || pr_fail "held/failback records left after the failback"
wait $sniff || true
grep -q "^${MAC_A,,} garp" "$tmp/arp_e" || pr_fail "no gratuitous ARP for X from A: $(cat "$tmp/arp_e")"
pr_wait_for 2 sh -c "ip -n hf-c neigh show $X | grep -qi $MAC_A" || pr_fail "the client's entry for X is $(ip -n hf-c neigh show $X), not A's"
n_fb=$(rx)
rx_grows 3 || { tail -5 "$tmp/a.log" >&2; pr_fail "no data through A after the failback"; }
$TEL hf-a /poprelay/turn/allocations >"$tmp/aallocs"
python3 - "$tmp/aallocs" "$id" <<'PY' || pr_fail "A's table: $(cat "$tmp/aallocs")"
import json, sys
a = json.load(open(sys.argv[1]))["/poprelay/turn/allocations"][sys.argv[2]]
assert a["permissions"] == 1 and a["channels"] == 1, a
assert a["pkts_c2p"] > 0 and a["pkts_p2c"] > 0, a
PY
touch "$tmp/c/refresh"
pr_wait_for 10 grep -q '"refresh"' "$tmp/c/out" || pr_fail "no Refresh answer"
grep -q '"refresh": true' "$tmp/c/out" || pr_fail "Refresh through A after the failback failed: $(grep refresh "$tmp/c/out")"
mac=$(resolve_x)
[ "${mac,,}" = "${MAC_A,,}" ] || pr_fail "X resolved to '$mac' after the failback"
pr_log "ok: e  failback: B released, A serves X again (GARPs, client entry at $MAC_A), relays $relayed with its permission and channel, a Refresh succeeded"

touch "$tmp/c/stop"
pr_wait_for 5 grep -q '"gaps"' "$tmp/c/out" || pr_fail "no summary from the client"
python3 - "$tmp/c/out" "$t_fb" <<'PY' >&2
import json, sys
summary = [json.loads(l) for l in open(sys.argv[1]) if '"gaps"' in l][-1]
t_fb = float(sys.argv[2])
g = [x for x in summary["gaps"] if x[1] >= t_fb]
print("failback gap: %s" % ("%d ms" % g[0][2] if g else "none over 100 ms"))
PY
