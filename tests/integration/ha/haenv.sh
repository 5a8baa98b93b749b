# Shared setup for ha_takeover.sh, ha_fence.sh and ha_media.sh (source after tests/lib.sh):
# two appliances on one segment (docs/scaling.md, "Appliances N+1"). Dataplane A owns
# X = 198.51.100.10 and is the backup of B's Y = .11; B has X as its [ha] peer address. Each
# runs in its own namespace on a net_af_packet port; both ports, the client namespace's and
# nothing else are on one bridge; one Redis.
#
#   he_init NS DPDK_A DPDK_B  checks (root, the dataplane, poprelayctl), DP, CTL, TEL, X, Y,
#                            CLI and PEER (the TURN scripts' client and its peer), $tmp,
#                            Redis, rcli; namespaces are called NS-a, NS-b (the dataplanes),
#                            NS-c (the client's) and NS-br; DPDK_A/B are the file prefixes
#   he_topology ADDR/LEN...  bridge NSbr in NS-br joining NS-a, NS-b (interfaces NSa0, NSb0:
#                            the dataplanes' ports) and NS-c (NSc0, with the ADDRs); MAC_A,
#                            MAC_B
#   he_conf NAME OWN PEER    to stdout, what both dataplanes' configurations share, ending in
#                            [ha] (after announce_interval_ms: lines that follow go on in it)
#   he_start_dp NAME         dataplane NAME in NS-NAME with $tmp/NAME.conf (pid_NAME), until
#                            its $HE_READY reports redis_up
#   ha NAME ARGS...          poprelayctl ha with NAME's configuration
#   hstat NAME FIELD         one field of NAME's /poprelay/ha/status
# For the TURN scripts (ha_takeover.sh, ha_fence.sh):
#   he_turn_conf PEER_ADDR OWN_RELAY_MIN PEER_RELAY_MIN   to stdout, [media] off and [turn]
#   check_bad WANT KEY VALUE  $tmp/b.conf with KEY's line set to VALUE is refused by
#                            --check-config naming WANT; else counted in $fails
#   he_turn_client PASSWORD  turnutils_peer (PEER:3480, echoing) and ha_turn.py as alice
#                            in NS-c, allocated on X:3478 and relaying through A: relayed,
#                            id (its pr:turn:alloc), cli_pid; the client's files in $tmp/c
#   state FIELD, rx, rx_grows SECONDS   the client's state.json / its echo count / that count
#                            grows within SECONDS
# For the drain handover (ha_drain.sh, tests/bench/ha_drain.sh):
#   he_drain_conf NAME OWN PEER_ADDR OWN_RELAY_MIN PEER_RELAY_MIN MAX_MS   to stdout, the
#                            [ha] lease (3000 ms: a control lcore starved for a second on a
#                            shared machine must not lose its lease) and handover keys
#                            (quiet 1000 ms, handover_max_ms MAX_MS), the
#                            [turn] and [media] of he_turn_media_conf
#   he_turn_media_conf NAME PEER_ADDR OWN_RELAY_MIN PEER_RELAY_MIN   to stdout, the [turn] of
#                            he_turn_conf and [media] on (ports 31000-31199, group and
#                            consumer dp-NAME); also ha_keepalived.sh, tests/bench/ha_failover.sh
#   he_late_caches           NS-c's neighbours move late: the bridge drops every gratuitous
#                            ARP for X, NS-c's entries go stale within 0.5-1.5 s (call
#                            before any entry exists)
#
# Options (set after he_init): HE_GATEWAY4 (port0's gateway4; none), HE_READY (the telemetry
# path he_start_dp waits on; /poprelay/turn/stats), HE_READY_S (how long; 20).

he_init() {
	HE_NS=$1
	declare -gA HE_DPDK=([a]=$2 [b]=$3)
	# a second signal while the cleanup runs must not cut it short
	trap 'trap "" INT TERM; exit 130' INT TERM
	pr_need_root
	DP=$BUILD/poprelay-dataplane
	CTL=$BUILD/poprelayctl
	local b
	for b in "$DP" "$CTL"; do [ -x "$b" ] || pr_fail "$b not built"; done
	TEL="python3 $PR_ROOT/tests/integration/dp_telemetry.py"
	X=198.51.100.10
	Y=198.51.100.11
	CLI=198.51.100.20
	PEER=203.0.113.5
	HE_GATEWAY4=
	HE_READY=/poprelay/turn/stats
	HE_READY_S=20

	tmp=$(pr_tmpdir)
	pr_redis_start "$tmp"
	pr_on_exit "rm -rf /var/run/dpdk/$2 /var/run/dpdk/$3"
}

rcli() { redis-cli -s "$tmp/redis.sock" "$@"; }

he_topology() {
	local ns a n=$HE_NS
	for ns in $n-a $n-b $n-c $n-br; do
		pr_netns $ns
		ip netns exec $ns sysctl -qw net.ipv6.conf.default.disable_ipv6=1 net.ipv6.conf.all.disable_ipv6=1
	done
	ip -n $n-br link add ${n}br type bridge
	ip -n $n-br link set ${n}br up
	for ns in a b c; do
		pr_veth $n-$ns $n${ns}0 $n-br ${n}b$ns
		ip -n $n-br link set ${n}b$ns master ${n}br
	done
	for a in "$@"; do ip -n $n-c addr add "$a" dev ${n}c0; done
	MAC_A=$(ip -n $n-a -br link show ${n}a0 | awk '{print $3}')
	MAC_B=$(ip -n $n-b -br link show ${n}b0 | awk '{print $3}')
}

he_conf() { # NAME OWN PEER_ADDR
	cat <<CONF
[global]
realm = $HE_NS.example
[eal]
lcores = 0-1
memory_mb = 256
huge = no
file_prefix = ${HE_DPDK[$1]}
[dataplane]
mbuf_pool_size = 8191
mbuf_cache_size = 64
worker_idle_sleep_us = 20
[redis]
socket = $tmp/redis.sock
[port0]
device = net_af_packet0,iface=$HE_NS${1}0,qpairs=2
ipv4 = $2/24
CONF
	[ -z "$HE_GATEWAY4" ] || echo "gateway4 = $HE_GATEWAY4"
	cat <<CONF
[ha]
peer_ipv4 = $3/24
announce_count = 3
announce_interval_ms = 300
CONF
}

he_start_dp() { # NAME
	ip netns exec $HE_NS-$1 "$DP" -c "$tmp/$1.conf" >>"$tmp/$1.out" 2>>"$tmp/$1.log" &
	eval "pid_$1=$!"
	pr_on_exit "kill -9 $! 2>/dev/null"
	pr_wait_for $HE_READY_S sh -c "$TEL ${HE_DPDK[$1]} $HE_READY | grep -q '\"redis_up\": 1'" ||
		{ tail -20 "$tmp/$1.log" >&2; pr_fail "dataplane $1 did not come up"; }
}

ha() { "$CTL" -c "$tmp/$1.conf" ha "${@:2}"; }
hstat() { $TEL ${HE_DPDK[$1]} /poprelay/ha/status | python3 -c "import json,sys; print(json.load(sys.stdin)['/poprelay/ha/status']['$2'])"; }

he_turn_conf() { # PEER_ADDR OWN_RELAY_MIN PEER_RELAY_MIN
	cat <<CONF
[media]
enabled = no
[turn]
relay_port_min = $2
relay_port_max = $(($2 + 999))
peer_relay_address = $1
peer_relay_port_min = $3
peer_relay_port_max = $(($3 + 999))
allowed_peer = 203.0.113.0/24
nonce_secret_file = $tmp/nonce.key
counters_sync_s = 1
CONF
}

fails=0
check_bad() { # WANT KEY VALUE
	local want=$1 key=$2 val=$3 rc=0
	sed -e "s|^$key = .*|$key = $val|" "$tmp/b.conf" >"$tmp/bad.conf"
	"$DP" -c "$tmp/bad.conf" --check-config >"$tmp/bad.out" 2>&1 || rc=$?
	if [ $rc = 0 ] || ! grep -q "$want" "$tmp/bad.out"; then
		echo "FAIL: $key = $val not refused naming $want (exit $rc: $(cat "$tmp/bad.out"))" >&2
		fails=$((fails + 1))
	fi
}

he_turn_client() { # PASSWORD
	ip netns exec $HE_NS-c turnutils_peer -L $PEER -p 3480 >"$tmp/peer.log" 2>&1 &
	pr_on_exit "kill $! 2>/dev/null"
	sleep 0.3
	mkdir "$tmp/c"
	ip netns exec $HE_NS-c python3 "$PR_ROOT/tests/integration/ha_turn.py" --server $X:3478 \
		--user alice --password "$1" --peer $PEER:3480 --dir "$tmp/c" >"$tmp/c/out" 2>&1 &
	cli_pid=$!
	pr_on_exit "kill $cli_pid 2>/dev/null"
	pr_wait_for 10 grep -q allocated "$tmp/c/out" || pr_fail "no allocation: $(cat "$tmp/c/out")"
	relayed=$(python3 -c "import json; print(json.loads(open('$tmp/c/out').readline())['allocated'])")
	case $relayed in $X:50*) ;; *) pr_fail "relayed address $relayed, expected $X:50000-50999" ;; esac
	pr_wait_for 5 sh -c "[ -f $tmp/c/state.json ] && [ \$(python3 -c \"import json; print(json.load(open('$tmp/c/state.json'))['rx'])\") -gt 20 ]" ||
		pr_fail "no data relayed through A"
	id=$(rcli ZRANGE pr:turn:allocs 0 0)
	[ -n "$id" ] || pr_fail "no allocation in redis"
}

state() { python3 -c "import json; print(json.load(open('$tmp/c/state.json'))['$1'])"; }
rx() { state rx; }
rx_grows() { # SECONDS
	local n0 i
	n0=$(rx)
	for ((i = 0; i < $1 * 10; i++)); do
		[ "$(rx)" -gt "$n0" ] && return 0
		sleep 0.1
	done
	return 1
}

he_drain_conf() { # NAME OWN PEER_ADDR OWN_RELAY_MIN PEER_RELAY_MIN MAX_MS
	he_conf $1 $2 $3
	cat <<CONF
lease_ms = 3000
handover_quiet_ms = 1000
handover_max_ms = $6
CONF
	he_turn_media_conf $1 $3 $4 $5
}

he_turn_media_conf() { # NAME PEER_ADDR OWN_RELAY_MIN PEER_RELAY_MIN
	he_turn_conf $2 $3 $4 | sed '/^\[media\]$/,/^enabled = no$/d'
	cat <<CONF
[media]
port_min = 31000
port_max = 31199
group = dp-$1
consumer = dp-$1
stats_interval_ms = 500
dtls_socket = off
CONF
}

# Each NS-c device moves 4-6 s after the addresses did: its entry goes stale (0.5-1.5 s),
# is probed 1 s later with 3 unicast requests to the old MAC 1 s apart (the device still
# sends there meanwhile), then with broadcast requests, which the new server answers. The
# kernel's own probe timers otherwise, so that a control lcore starved for a second on a
# shared machine loses nothing by itself.
he_late_caches() {
	ip netns exec $HE_NS-br ebtables -A FORWARD -p ARP --arp-opcode Request --arp-ip-src $X \
		--arp-ip-dst $X -j DROP
	ip netns exec $HE_NS-c sysctl -qw net.ipv4.neigh.${HE_NS}c0.base_reachable_time_ms=1000 \
		net.ipv4.neigh.${HE_NS}c0.delay_first_probe_time=1
}
