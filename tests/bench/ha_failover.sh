#!/usr/bin/env bash
# Appliances N+1 (issue 20, docs/scaling.md): the gap a device sees when the appliance
# relaying its media or its TURN data dies, with keepalived electing on the shipped timers
# (images/keepalived-poprelay.conf: VRRPv3, advert_int 0.1), against rtpengine N+1 on the
# same timers. HA_FAILOVER_RUNS (default 5) failovers of each, every one in a fresh world.
# 1. ha_failover_media_gap_ms: poprelay, in the world of tests/integration/ha_keepalived.sh
#    (two dataplanes on one bridge, [ha] lease_ms = 240, keepalived on a kernel interface of
#    each appliance's namespace running the shipped configuration, whose FIFO the dataplanes
#    read): a call
#    (a media session on A's X, clear RTP, written as the slowpath writes it) between two
#    mpeer devices at 100 packets/s each way; kill -9 of A's dataplane and keepalived and
#    both its interfaces down; B's keepalived becomes MASTER, its FIFO line has B take X over. Each
#    failover's gap is the longer of the two directions' (tests/integration/ha/gaps.py: at
#    the device, the last packet relayed before the relay died to the first after); the
#    figure is their median. With dumpcap and tshark, each failover is captured on the
#    segment and its note says what came after the election (ha_failover_path.py: B's first
#    advert as MASTER to its gratuitous ARP for X, that to the first device datagram reaching
#    B, that to the first relayed, and B's ARP requests for the devices: 0 when it resolved
#    A's next hops ahead, dataplane/dp_ha_nexthops.c).
#    Baseline, same run: Debian's rtpengine (userspace, --table=-1) N+1: two instances with
#    --redis (db 1 and 2 of one Redis, keyspace notifications on) and --subscribe-keyspace
#    of each other's, so that B holds A's calls as foreign calls, with their sockets bound
#    to the service address (ip_nonlocal_bind); keepalived (VRRPv3, the same advert_int and
#    priorities; no track script) moves the service address between them and announces it
#    (its own gratuitous ARPs); the call set up on A over NG (tests/bench/ha_failover_ng.py),
#    the same devices and the same kill.
# 2. ha_turn_failover_gap_ms: in the same poprelay failovers, a TURN client (ha_turn.py,
#    ChannelData every 20 ms through a channel to turnutils_peer, echoed) allocated on X:
#    the last echo before the kill to the first after. No baseline: coturn keeps its
#    allocations in memory, and they die with the box.
set -uo pipefail
source "$(dirname "$0")/../lib.sh"
RUNS=${HA_FAILOVER_RUNS:-5}
RATE=100
for c in keepalived turnutils_peer redis-server redis-cli; do
	command -v $c >/dev/null || pr_skip "$c not installed (make deps)"
done
for b in poprelay-dataplane poprelayctl tests/integration/media/mpeer; do
	[ -x "$BUILD/$b" ] || pr_skip "$BUILD/$b not built (make build)"
done
source "$PR_ROOT/tests/integration/ha/haenv.sh"
source "$PR_ROOT/tests/integration/ha/keepalived.sh"
he_init hv hv-a hv-b
HE_GATEWAY4=$CLI
HE_READY=/poprelay/media/stats
HE_READY_S=30
MPEER=$BUILD/tests/integration/media/mpeer
GAPS="python3 $PR_ROOT/tests/integration/ha/gaps.py"
PW='Ha-failover-bench-pw-2290'
IPA=198.51.100.21
IPB=198.51.100.22
ADV=$(awk '$1 == "advert_int" {print $2; exit}' "$PR_ROOT/images/keepalived-poprelay.conf")
[ -n "$ADV" ] || pr_fail "no advert_int in images/keepalived-poprelay.conf"
# HA_FAILOVER_RTE=no: poprelay's failovers only (dev runs; the results then have no baseline)
# HA_FAILOVER_KEEP=DIR: the last round's logs, captures and keepalived files copied there
[ -n "${HA_FAILOVER_KEEP:-}" ] && pr_on_exit "mkdir -p '$HA_FAILOVER_KEEP' && cp -r '$tmp'/*.log '$tmp'/*.gaps '$tmp'/*.pcap '$tmp'/*.json '$tmp'/ka '$HA_FAILOVER_KEEP'"
median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
ms_redis() { rcli "$@"; }
. "$PR_ROOT/tests/integration/media/sessions.sh"

# the longer of the two devices' gaps (ms) in a gaps.py pcap output; "lost" if one device
# received nothing after the kill
worse() {
	python3 -c "
import json, sys
g = [json.loads(l)['gap_ms'] for l in open(sys.argv[1])]
print('lost' if None in g or not g else '%.1f' % max(g))" "$1"
}
# devices RELAY_IP PORT_TO_A PORT_TO_B SECONDS: the two mpeer devices in NS-c, clear RTP
devices() {
	local ns=$1 ip=$2 n=$(($5 * RATE))
	ip netns exec $ns "$MPEER" --bind $IPA:41000 --to $ip:$3 --id A --expect-id B --count $n \
		--rate $RATE --start-delay-ms 100 --linger-ms 300 --quiet \
		--dump-rx "$tmp/a-rx.pcap" >"$tmp/a.json" 2>"$tmp/a.err" &
	dev_a=$!
	ip netns exec $ns "$MPEER" --bind $IPB:41002 --to $ip:$4 --id B --expect-id A --count $n \
		--rate $RATE --start-delay-ms 100 --linger-ms 300 --quiet \
		--dump-rx "$tmp/b-rx.pcap" >"$tmp/b.json" 2>"$tmp/b.err" &
	dev_b=$!
}
devices_wait() {
	wait $dev_a || pr_fail "device a: $(cat "$tmp/a.err" "$tmp/a.json")"
	wait $dev_b || pr_fail "device b: $(cat "$tmp/b.err" "$tmp/b.json")"
	dev_a= dev_b=
}
pr_on_exit '[ -n "${dev_a:-}" ] && kill $dev_a $dev_b 2>/dev/null'

# ---- poprelay
he_topology $CLI/24 $PEER/32 $IPA/24 $IPB/24
ka_topology
conf() { # NAME OWN PEER_ADDR OWN_RELAY_MIN PEER_RELAY_MIN
	he_conf $1 $2 $3
	echo "lease_ms = 240"
	echo "vrrp_fifo = $tmp/ka/$1.fifo"
	echo "vrrp_instance = poprelay_$([ $1 = a ] && echo b || echo a)"
	he_turn_media_conf $1 $3 $4 $5
}
conf a $X $Y 50000 51000 >"$tmp/a.conf"
conf b $Y $X 51000 50000 >"$tmp/b.conf"
# a dataplane per round; killed once, by the id it had (not again at exit)
dp_start() { # NAME
	ip netns exec $HE_NS-$1 "$DP" -c "$tmp/$1.conf" >>"$tmp/$1.out" 2>>"$tmp/$1.log" &
	eval "dp_$1=$!"
	pr_wait_for $HE_READY_S sh -c "$TEL ${HE_DPDK[$1]} $HE_READY | grep -q '\"redis_up\": 1'" ||
		{ tail -20 "$tmp/$1.log" >&2; pr_fail "dataplane $1 did not come up"; }
}
dp_kill() { # NAME
	local v="dp_$1"
	[ -n "${!v:-}" ] && kill -9 ${!v} 2>/dev/null
	eval "$v="
	return 0
}
pr_on_exit "dp_kill a; dp_kill b"
ip netns exec hv-c turnutils_peer -L $PEER -p 3480 >"$tmp/peer.log" 2>&1 &
pr_on_exit "kill $! 2>/dev/null"
turn_client() {
	rm -rf "$tmp/c"
	mkdir "$tmp/c"
	ip netns exec hv-c python3 "$PR_ROOT/tests/integration/ha_turn.py" --server $X:3478 \
		--user alice --password "$PW" --peer $PEER:3480 --dir "$tmp/c" >"$tmp/c/out" 2>&1 &
	cli_pid=$!
	pr_wait_for 10 grep -q allocated "$tmp/c/out" || pr_fail "no allocation: $(cat "$tmp/c/out")"
	pr_wait_for 5 sh -c "[ -f $tmp/c/state.json ] && [ \$(python3 -c \"import json; print(json.load(open('$tmp/c/state.json'))['rx'])\") -gt 20 ]" ||
		pr_fail "no TURN data relayed through A"
}
pr_on_exit '[ -n "${cli_pid:-}" ] && kill $cli_pid 2>/dev/null'

pp_media=() pp_turn=() pp_detail=() pp_path=() pp_deferred=0
CAPTURE=
command -v dumpcap >/dev/null && command -v tshark >/dev/null && CAPTURE=yes
pr_on_exit '[ -n "${cap:-}" ] && kill $cap 2>/dev/null'
for r in $(seq "$RUNS"); do
	rcli FLUSHALL >/dev/null
	printf '%s\n' "$PW" | "$CTL" -c "$tmp/a.conf" user add alice >/dev/null || pr_fail "user add"
	for i in hva0 hva1; do ip -n hv-a link set $i up; done
	ip -n hv-c neigh flush all # X was at B's MAC since the last failover
	for i in a:1 b:2; do # keepalived's spare addresses, left by its kill -9
		ip -n hv-${i%:*} addr flush dev hv${i%:*}1
		ip -n hv-${i%:*} addr add 192.0.2.${i#*:}/24 dev hv${i%:*}1
	done
	dp_start a
	turn_client
	MS_RELAY=$X ms_store install s$r "peer=$IPA:41000 relay=31000" "peer=$IPB:41002 relay=31002" ||
		pr_fail "session refused by redis"
	dp_start b
	ka_start a
	ka_start b
	ka_wait_state a poprelay_a MASTER 8 && ka_wait_state b poprelay_a BACKUP 5 ||
		pr_fail "keepalived: A $(ka_state a poprelay_a), B $(ka_state b poprelay_a) for poprelay_a"
	devices hv-c $X 31000 31002 6
	cap=
	if [ -n "$CAPTURE" ]; then
		ip netns exec hv-br dumpcap -q -i hvbr -f 'vrrp or arp or udp' -w "$tmp/seg.pcap" >/dev/null 2>&1 &
		cap=$!
	fi
	sleep 2.5
	t_kill=$(date +%s.%N)
	dp_kill a
	ka_kill a
	ip -n hv-a link set hva0 down
	ip -n hv-a link set hva1 down
	ka_wait_state b poprelay_a MASTER 3 || pr_fail "B's keepalived did not become MASTER"
	devices_wait
	# takeovers that found A's lease still alive (VRRP ended before it expired: rechecked
	# when it would expire)
	d=$($TEL ${HE_DPDK[b]} /poprelay/ha/status | python3 -c "import json,sys; print(json.load(sys.stdin)['/poprelay/ha/status']['takeover_deferred'])") &&
		pp_deferred=$((pp_deferred + d))
	if [ -n "$cap" ]; then
		kill $cap 2>/dev/null
		wait $cap 2>/dev/null
		cap=
		pp_path+=("$(python3 "$PR_ROOT/tests/bench/ha_failover_path.py" "$tmp/seg.pcap" 51 100 $X $IPA $IPB)")
		pr_log "poprelay failover $r after the election: ${pp_path[-1]}"
	fi
	touch "$tmp/c/stop"
	pr_wait_for 5 grep -q '"gaps"' "$tmp/c/out" || pr_fail "no summary from the TURN client"
	cli_pid=
	$GAPS pcap "$t_kill" "$tmp/a-rx.pcap" "$tmp/b-rx.pcap" >"$tmp/media.gaps"
	t_gap=$($GAPS turn "$t_kill" "$tmp/c/out" | python3 -c "import json,sys; g=json.load(sys.stdin)['gap_ms']; print('lost' if g is None else g)")
	m_gap=$(worse "$tmp/media.gaps")
	[ "$m_gap" != lost ] && [ "$t_gap" != lost ] ||
		pr_fail "failover $r: media $m_gap, TURN $t_gap ($(cat "$tmp/media.gaps"); $(tail -3 "$tmp/ka/b.log"))"
	pp_media+=("$m_gap") pp_turn+=("$t_gap")
	pp_detail+=("$(python3 -c "
import json, sys
print('/'.join('%.0f' % json.loads(l)['gap_ms'] for l in open(sys.argv[1])))" "$tmp/media.gaps")")
	pr_log "poprelay failover $r: media gap $m_gap ms (devices a/b ${pp_detail[-1]}), TURN gap $t_gap ms"
	ka_kill b
	dp_kill b
	sleep 0.5
done

# ---- rtpengine N+1, the baseline: its own namespaces rf-a, rf-b (the instances, their
# kernel interfaces on the bridge: the service address V moves between them), rf-c (the
# devices and Redis)
rte_note=
if ! command -v rtpengine >/dev/null; then
	rte_note="rtpengine not installed"
elif [ "${HA_FAILOVER_RTE:-yes}" = no ]; then # dev runs of poprelay's side alone
	rte_note="rtpengine not run (HA_FAILOVER_RTE=no)"
else
	V=198.51.100.10
	RDS=198.51.100.40
	for ns in a b c br; do pr_netns rf-$ns; done
	ip -n rf-br link add rfbr type bridge
	ip -n rf-br link set rfbr up
	for ns in a b c; do
		pr_veth rf-$ns rf${ns}0 rf-br rfb$ns
		ip -n rf-br link set rfb$ns master rfbr
	done
	ip -n rf-a addr add 198.51.100.2/24 dev rfa0
	ip -n rf-b addr add 198.51.100.3/24 dev rfb0
	for a in $IPA $IPB $RDS; do ip -n rf-c addr add $a/24 dev rfc0; done
	# the backup binds its foreign calls' sockets to V before it holds V
	for ns in a b; do ip netns exec rf-$ns sysctl -qw net.ipv4.ip_nonlocal_bind=1; done
	ip netns exec rf-c redis-server --bind $RDS --port 6379 --protected-mode no \
		--notify-keyspace-events KEA --save '' --appendonly no --daemonize yes \
		--dir "$tmp" --pidfile "$tmp/rf-redis.pid" --logfile "$tmp/rf-redis.log" >/dev/null
	pr_on_exit "kill \$(cat '$tmp/rf-redis.pid') 2>/dev/null"
	pr_wait_for 5 sh -c "ip netns exec rf-c redis-cli -h $RDS ping | grep -q PONG" || pr_fail "rtpengine's Redis did not start"
	# keepalived: the shipped timers, one instance moving V
	for n in a b; do
		[ $n = a ] && prio=150 || prio=100
		cat >"$tmp/ka/r$n.conf" <<KA
global_defs {
	router_id rtpengine-$n
	vrrp_version 3
}
vrrp_instance rtpengine {
	state BACKUP
	interface rf${n}0
	virtual_router_id 61
	priority $prio
	advert_int $ADV
	virtual_ipaddress {
		$V/24 dev rf${n}0
	}
}
KA
	done
	rte_start() { # NAME DB OTHER_DB NG_ADDR
		ip netns exec rf-$1 rtpengine --config-file=none --foreground --table=-1 \
			--interface=$V --listen-ng=$4:2223 --port-min=30000 --port-max=30999 \
			--redis=$RDS:6379/$2 --subscribe-keyspace=$3 --delete-delay=0 \
			--log-stderr --log-level=6 --pidfile="$tmp/rte-$1.pid" >"$tmp/rte-$1.log" 2>&1 &
		eval "rte_$1=$!"
	}
	rte_kill() { # NAME
		local v="rte_$1"
		[ -n "${!v:-}" ] && kill -9 ${!v} 2>/dev/null
		eval "$v="
		return 0
	}
	pr_on_exit "rte_kill a; rte_kill b"
	ngping() { ip netns exec rf-c python3 -c "
import socket, sys; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(0.5)
s.sendto(b'1 d7:command4:pinge', (sys.argv[1], 2223)); assert b'pong' in s.recv(100)" "$1"; }
	rte_media=() rte_detail=()
	for r in $(seq "$RUNS"); do
		ip netns exec rf-c redis-cli -h $RDS FLUSHALL >/dev/null
		# the address keepalived held at its kill -9 goes with it
		ip -n rf-a link set rfa0 up
		ip -n rf-c neigh flush all
		for i in a:2 b:3; do
			ip -n rf-${i%:*} addr flush dev rf${i%:*}0
			ip -n rf-${i%:*} addr add 198.51.100.${i#*:}/24 dev rf${i%:*}0
		done
		rte_start a 1 2 198.51.100.2
		rte_start b 2 1 198.51.100.3
		pr_wait_for 20 ngping 198.51.100.2 && pr_wait_for 20 ngping 198.51.100.3 ||
			{ tail -5 "$tmp/rte-a.log" "$tmp/rte-b.log" >&2; pr_fail "rtpengine did not answer a ping"; }
		ka_run rf-a ra
		ka_run rf-b rb
		ka_wait_state ra rtpengine MASTER 5 && ka_wait_state rb rtpengine BACKUP 5 ||
			pr_fail "rtpengine's keepalived: A $(ka_state ra rtpengine), B $(ka_state rb rtpengine)"
		ports=$(ip netns exec rf-c python3 "$PR_ROOT/tests/bench/ha_failover_ng.py" 198.51.100.2:2223 \
			"failover-$r" $IPA:41000 $IPB:41002) || pr_fail "rtpengine call setup: $ports"
		# B follows the call: its sockets on V are bound
		pr_wait_for 5 sh -c "ip netns exec rf-b ss -Hulnp | grep -q '$V:${ports% *} '" ||
			{ tail -5 "$tmp/rte-b.log" >&2; pr_fail "rtpengine B did not take up A's call (port ${ports% *})"; }
		devices rf-c $V $ports 6
		sleep 2.5
		t_kill=$(date +%s.%N)
		rte_kill a
		ka_kill ra
		ip -n rf-a link set rfa0 down
		ka_wait_state rb rtpengine MASTER 3 || pr_fail "rtpengine B's keepalived did not become MASTER"
		devices_wait
		$GAPS pcap "$t_kill" "$tmp/a-rx.pcap" "$tmp/b-rx.pcap" >"$tmp/media.gaps"
		m_gap=$(worse "$tmp/media.gaps")
		[ "$m_gap" != lost ] || pr_fail "rtpengine failover $r: the media did not come back ($(cat "$tmp/media.gaps"); $(grep -iE 'foreign|error' "$tmp/rte-b.log" | tail -3))"
		rte_media+=("$m_gap")
		rte_detail+=("$(python3 -c "
import json, sys
print('/'.join('%.0f' % json.loads(l)['gap_ms'] for l in open(sys.argv[1])))" "$tmp/media.gaps")")
		pr_log "rtpengine failover $r: media gap $m_gap ms (devices a/b ${rte_detail[-1]})"
		ka_kill rb
		rte_kill b
		sleep 0.5
	done
fi

m() { printf '%s\n' "$@" | median; }
# what came after the election, over the failovers (medians, ranges)
path_note=
if [ ${#pp_path[@]} -gt 0 ]; then
	path_note=$(printf '%s\n' "${pp_path[@]}" | python3 -c "
import json, statistics, sys
p = [json.loads(l) for l in sys.stdin]
def d(k):
    v = [x[k] for x in p if x[k] is not None]
    return 'n/a' if not v else '%.1f (%.1f-%.1f)' % (statistics.median(v), min(v), max(v))
print('; after the election (captures, median and range, ms): advert to announce %s, announce to the first device datagram %s, that to the first relayed %s; ARP requests for the devices after the advert: %d; takeovers deferred by the lease: $pp_deferred' % (
    d('advert_to_announce_ms'), d('announce_to_device_ms'), d('device_to_relayed_ms'),
    sum(x['arp_requests'] or 0 for x in p)))")
fi
pm=$(m "${pp_media[@]}")
pt=$(m "${pp_turn[@]}")
common="$RUNS failovers each, every one in a fresh world; keepalived VRRPv3 advert_int $ADV s, priorities 150/100 (images/keepalived-poprelay.conf); kill -9 of the active's relay and keepalived, its interfaces down, after 2.5 s of media"
if [ -z "$rte_note" ]; then
	rm_=$(m "${rte_media[@]}")
	printf '{"name":"ha_failover_media_gap_ms","value":%s,"unit":"ms, median: at the device, the last packet relayed before the kill to the first after (the longer direction of a call, 100 packets/s each way)","baseline":"rtpengine 10.5 N+1 (userspace; --redis + --subscribe-keyspace of each other, foreign calls; keepalived moving the service address, same timers), same run","baseline_value":%s,"note":"%s; poprelay: [ha] lease_ms 240, the dataplane takes over on the line keepalived writes to its FIFO (no notify hook); gaps (devices a/b) %s; rtpengine: %s%s"}\n' \
		"$pm" "$rm_" "$common" "${pp_detail[*]}" "${rte_detail[*]}" "$path_note"
else
	printf '{"name":"ha_failover_media_gap_ms","value":%s,"unit":"ms, median: at the device, the last packet relayed before the kill to the first after (the longer direction of a call, 100 packets/s each way)","note":"no baseline: %s; %s; poprelay: [ha] lease_ms 240; gaps (devices a/b) %s%s"}\n' \
		"$pm" "$rte_note" "$common" "${pp_detail[*]}" "$path_note"
fi
printf '{"name":"ha_turn_failover_gap_ms","value":%s,"unit":"ms, median: the last ChannelData echo before the kill to the first after, at the TURN client (every 20 ms)","note":"no baseline: coturn keeps its allocations in memory only, they die with the box; %s; the same failovers as ha_failover_media_gap_ms; gaps %s"}\n' \
	"$pt" "$common" "${pp_turn[*]}"
