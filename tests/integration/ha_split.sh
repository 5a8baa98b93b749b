#!/usr/bin/env bash
# parallel:
# Split brain with keepalived electing (docs/scaling.md, "Split brain and failback"): the
# topology of ha_keepalived.sh (tests/integration/ha/haenv.sh and ha/keepalived.sh,
# namespaces hp-*: dataplane A owns X = 198.51.100.10 and is the backup of B's Y = .11, one
# bridge, one Redis on a unix socket both see; keepalived in each appliance's namespace
# running the shipped configuration and hook, the dataplanes reading its FIFO), TURN only,
# [ha] lease_ms = 600. In hp-c a TURN client (ha_turn.py) allocated on X relays ChannelData
# every 20 ms to turnutils_peer. Scenarios, each "ok: ...":
#   a  keepalived: each appliance MASTER of its own instance, BACKUP of the other's
#   b  the VRRP path cut (the bridge drops IP protocol 112 between the two kernel
#      interfaces; the dataplanes' ports and Redis stay reachable), 7 s: both keepalived
#      become MASTER of both instances, each dataplane reads its peer's MASTER from the FIFO
#      and defers the takeover (the peer's lease lives: counted, logged); X is answered by
#      A's MAC only and Y by B's only (every ARP reply and gratuitous ARP for them on the
#      client's segment, and the client's entries), no pr:ha:held record, the TURN data
#      flows on through A
#   c  the path restored: each keepalived goes back to BACKUP of the other's instance, the
#      deferred takeovers are cancelled (none waiting), neither dataplane holds anything,
#      two leases later still not, and the TURN data flows through A
# Seen failing: HS_FENCE=off has the test delete both leases (pr:ha:alive:*) every 20 ms
# during the split, as if the dataplanes kept no fencing token: b fails (B takes X over and
# answers ARP for it).
# Exits 0 (pass), 77 (skip), 1 (fail).
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/ha/haenv.sh"
. "$(dirname "$0")/ha/keepalived.sh"
command -v turnutils_peer >/dev/null || pr_skip "coturn's turnutils_peer not installed"
command -v keepalived >/dev/null || pr_skip "keepalived not installed (make deps)"
command -v ebtables >/dev/null || pr_skip "ebtables not installed"
he_init hp hp-a hp-b
HE_GATEWAY4=$CLI
PW='Ha-split-pw-7731'
he_topology $CLI/24 $PEER/32
ka_topology

conf() { # NAME OWN PEER_ADDR OWN_RELAY_MIN PEER_RELAY_MIN
	he_conf $1 $2 $3
	echo "lease_ms = 600"
	echo "vrrp_fifo = $tmp/ka/$1.fifo"
	echo "vrrp_instance = poprelay_$([ $1 = a ] && echo b || echo a)"
	he_turn_conf $3 $4 $5
}
conf a $X $Y 50000 51000 >"$tmp/a.conf"
conf b $Y $X 51000 50000 >"$tmp/b.conf"
printf '%s\n' "$PW" | "$CTL" -c "$tmp/a.conf" user add alice >/dev/null || pr_fail "user add"

# arp_seen OUT SECONDS: every ARP reply and gratuitous ARP for X or Y on the client's
# segment, "ADDRESS MAC reply|garp" a line, for SECONDS (in the background: $sniff)
arp_seen() {
	ip netns exec hp-c python3 - "$1" "$2" "$X" "$Y" <<'PY' &
import socket, struct, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0806))
s.bind(("hpc0", 0))
s.settimeout(0.2)
end = time.time() + float(sys.argv[2])
want = {socket.inet_aton(a): a for a in sys.argv[3:]}
with open(sys.argv[1], "w") as f:
    while time.time() < end:
        try:
            b = s.recv(100)
        except socket.timeout:
            continue
        op, spa = struct.unpack("!H", b[20:22])[0], b[28:32]
        if spa not in want:
            continue
        if op == 2:
            f.write("%s %s reply\n" % (want[spa], b[22:28].hex(":")))
        elif op == 1 and b[38:42] == spa:
            f.write("%s %s garp\n" % (want[spa], b[22:28].hex(":")))
        f.flush()
PY
	sniff=$!
	sleep 0.3
}
# resolve ADDR: the client forgets ADDR, pings it, and prints the MAC its entry names
resolve() {
	ip -n hp-c neigh del $1 dev hpc0 2>/dev/null || true
	ip netns exec hp-c ping -c 1 -W 1 $1 >/dev/null 2>&1 || true
	ip -n hp-c neigh show $1 | awk '{for (i = 1; i < NF; i++) if ($i == "lladdr") print tolower($(i + 1))}'
}
mac_a=${MAC_A,,} mac_b=${MAC_B,,}
# hst NAME FIELD: hstat, again when the telemetry socket refused the connection (EAGAIN:
# keepalived's track scripts ask both dataplanes every second too)
hst() {
	local i
	for i in 1 2 3 4; do hstat "$@" 2>/dev/null && return; sleep 0.1; done
	hstat "$@"
}
states() { echo "A: a $(ka_state a poprelay_a) b $(ka_state a poprelay_b); B: a $(ka_state b poprelay_a) b $(ka_state b poprelay_b)"; }

# a: both dataplanes, the TURN client through A, keepalived on both
he_start_dp a
he_start_dp b
he_turn_client "$PW"
ka_start a
ka_start b
for n in a:b b:a; do
	o=${n%:*} p=${n#*:}
	ka_wait_state $o poprelay_$o MASTER 8 || pr_fail "$o's keepalived is not MASTER of poprelay_$o: $(tail -5 "$tmp/ka/$o.log")"
	ka_wait_state $p poprelay_$o BACKUP 5 || pr_fail "$p's keepalived is not BACKUP of poprelay_$o: $(tail -5 "$tmp/ka/$p.log")"
done
sleep 1
[ "$(hst a held)" = 0 ] && [ "$(hst b held)" = 0 ] || pr_fail "a dataplane holds its peer's address with both alive"
for d in a b; do eval "deferred0_$d=$(hst $d takeover_deferred)"; done
pr_log "ok: a  keepalived: $(states)"

# b: the VRRP path cut, the dataplanes' ports and Redis untouched
rx_grows 1 || pr_fail "TURN data not flowing through A before the split"
arp_seen "$tmp/arp" 8
ip netns exec hp-br ebtables -A FORWARD -p IPv4 --ip-proto 112 -j DROP
pr_on_exit "ip netns exec hp-br ebtables -F FORWARD 2>/dev/null"
if [ "${HS_FENCE:-on}" = off ]; then
	(while :; do rcli DEL pr:ha:alive:$X pr:ha:alive:$Y >/dev/null; sleep 0.02; done) &
	unlease=$!
	pr_on_exit "kill $unlease 2>/dev/null"
fi
t_cut=$SECONDS
ka_wait_state b poprelay_a MASTER 3 || pr_fail "B's keepalived did not become MASTER of poprelay_a with VRRP cut: $(states)"
ka_wait_state a poprelay_b MASTER 3 || pr_fail "A's keepalived did not become MASTER of poprelay_b with VRRP cut: $(states)"
[ "$(ka_state a poprelay_a)" = MASTER ] && [ "$(ka_state b poprelay_b)" = MASTER ] ||
	pr_fail "an owner left MASTER of its own instance in the split: $(states)"
for p in a:b:$Y b:a:$X; do
	IFS=: read -r d o addr <<<"$p"
	pr_wait_for 2 grep -q "ha: keepalived: poprelay_$o MASTER" "$tmp/$d.log" ||
		pr_fail "$d's dataplane did not read poprelay_$o's MASTER from the FIFO: $(grep 'ha:' "$tmp/$d.log" | tail -3)"
	pr_wait_for 2 grep -q "takeover of $addr deferred" "$tmp/$d.log" ||
		pr_fail "$d's takeover of $addr was not deferred: $(grep 'ha:' "$tmp/$d.log" | tail -3)"
done
# the split lasts past the hook's own wait (poprelayctl ha takeover: 5 s); each look
# asks the client's kernel again for both addresses
while [ $((SECONDS - t_cut)) -lt 7 ]; do
	for d in a b; do
		[ "$(hst $d held)" = 0 ] || pr_fail "$d's dataplane holds its peer's address in the split"
		[ "$(hst $d takeover_deferring)" = 1 ] || pr_fail "$d's dataplane is not deferring in the split"
	done
	[ "$(resolve $X)" = "$mac_a" ] || pr_fail "X resolved to '$(ip -n hp-c neigh show $X)', not A's $mac_a, in the split"
	[ "$(resolve $Y)" = "$mac_b" ] || pr_fail "Y resolved to '$(ip -n hp-c neigh show $Y)', not B's $mac_b, in the split"
	rx_grows 1 || pr_fail "TURN data stopped in the split"
done
[ "$(ka_state b poprelay_a)" = MASTER ] && [ "$(ka_state a poprelay_b)" = MASTER ] ||
	pr_fail "the split did not last: $(states)"
[ "$(rcli EXISTS pr:ha:held:$X pr:ha:held:$Y)" = 0 ] || pr_fail "a pr:ha:held record written in the split"
[ "$(state sources)" = "['$X:3478']" ] || pr_fail "echoes came from $(state sources), expected only $X:3478"
ip -n hp-c neigh show $X | grep -qi "$mac_a" || pr_fail "the client's entry for X is $(ip -n hp-c neigh show $X), not A's"
for d in a b; do
	n=$(hst $d takeover_deferred) v="deferred0_$d"
	[ "$n" = $((${!v} + 1)) ] || pr_fail "$d counted $n deferred takeovers (before the split ${!v}), expected one more"
done
ha b status >"$tmp/status_b.out"
grep -q "^takeovers deferred: .*(one waiting now)" "$tmp/status_b.out" || pr_fail "ha status on B: $(cat "$tmp/status_b.out")"
wait $sniff || true
grep -q "^$X $mac_a reply" "$tmp/arp" || pr_fail "no ARP reply for X from A in the split: $(cat "$tmp/arp")"
grep -q "^$Y $mac_b reply" "$tmp/arp" || pr_fail "no ARP reply for Y from B in the split: $(cat "$tmp/arp")"
grep -Ev "^($X $mac_a|$Y $mac_b) " "$tmp/arp" && pr_fail "ARP for X or Y from the wrong appliance in the split (above)"
pr_log "ok: b  VRRP cut $((SECONDS - t_cut)) s: $(states); both takeovers deferred, X answered by A alone ($(grep -c "^$X " "$tmp/arp") replies), Y by B alone ($(grep -c "^$Y " "$tmp/arp")), TURN data through A"

# c: the path restored: B's keepalived back to BACKUP of A's instance (and A's of B's)
ip netns exec hp-br ebtables -F FORWARD
ka_wait_state b poprelay_a BACKUP 3 || pr_fail "B's poprelay_a did not go back to BACKUP: $(states)"
ka_wait_state a poprelay_b BACKUP 3 || pr_fail "A's poprelay_b did not go back to BACKUP: $(states)"
[ "$(ka_state a poprelay_a)" = MASTER ] && [ "$(ka_state b poprelay_b)" = MASTER ] ||
	pr_fail "an owner lost its own instance at the restore: $(states)"
pr_wait_for 2 sh -c "[ \"\$($TEL hp-b /poprelay/ha/status | python3 -c \"import json,sys; print(json.load(sys.stdin)['/poprelay/ha/status']['takeover_deferring'])\")\" = 0 ]" ||
	pr_fail "B still defers a takeover after its instance went BACKUP"
sleep 1.5 # two leases: a deferral left waiting would take over if a lease ever lapsed
for d in a b; do
	[ "$(hst $d held)" = 0 ] || pr_fail "$d's dataplane holds its peer's address after the restore"
	[ "$(hst $d takeover_deferring)" = 0 ] || pr_fail "$d's dataplane still defers after the restore"
	[ "$(hst $d own_served)" = 1 ] || pr_fail "$d's dataplane does not serve its own addresses after the restore"
done
[ "$(rcli EXISTS pr:ha:held:$X pr:ha:held:$Y)" = 0 ] || pr_fail "a pr:ha:held record after the restore"
[ "$(resolve $X)" = "$mac_a" ] || pr_fail "X resolved to '$(ip -n hp-c neigh show $X)', not A's, after the restore"
rx_grows 2 || pr_fail "no TURN data through A after the restore"
[ "$(state sources)" = "['$X:3478']" ] || pr_fail "echoes came from $(state sources), expected only $X:3478"
pr_log "ok: c  VRRP restored: $(states); no takeover waiting, neither dataplane holds its peer's address, TURN data through A"
