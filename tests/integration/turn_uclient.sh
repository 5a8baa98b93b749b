#!/usr/bin/env bash
# parallel: slow
# The TURN relay end to end with coturn's own clients: the dataplane on net_af_packet over
# a veth in namespace tn-pop; turnutils_uclient and turnutils_peer in tn-cli. Channel mode,
# send-indication mode (-s), 50 concurrent clients (-m 50), client-to-client (-y), REST
# secret (-W), IPv6 relay (-x) from an IPv4 and from an IPv6 client; zero loss at a paced
# rate; a wrong password, and a loopback or private peer (also IPv4-mapped), are refused;
# kill -9 and restart of the dataplane in the middle of a run loses no allocation;
# poprelayctl turn allocations list/show/delete.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
pr_need_root
DP=$BUILD/poprelay-dataplane
CTL=$BUILD/poprelayctl
[ -x "$DP" ] || pr_fail "$DP not built"
command -v turnutils_uclient >/dev/null || pr_skip "coturn's turnutils_uclient not installed"
TEL="python3 $PR_ROOT/tests/integration/dp_telemetry.py"
PREFIX=tn-turn
REALM=tn.example
PW=Wonder-land-42-rabbit
SECRET=tn-rest-secret-1

tmp=$(mktemp -d /tmp/tn-turn.XXXXXX)
pr_on_exit "rm -rf '$tmp'"
pr_redis_start "$tmp"
pr_netns tn-pop
pr_netns tn-cli
pr_veth tn-pop tn0p tn-cli tn0c
ip netns exec tn-pop sysctl -qw net.ipv6.conf.tn0p.disable_ipv6=1
ip -n tn-cli addr add 198.51.100.20/24 dev tn0c
ip -n tn-cli addr add 2001:db8:100::20/64 dev tn0c nodad
# Peers live in tn-cli too, off the dataplane's prefixes: it routes to them through
# 198.51.100.20 / 2001:db8:100::20. Documentation ranges: allowed_peer lets them in.
ip -n tn-cli addr add 203.0.113.5/32 dev tn0c
ip -n tn-cli addr add 2001:db8:200::5/128 dev tn0c nodad

cat >"$tmp/dp.conf" <<CONF
# turn_uclient.sh
[global]
realm = $REALM
[eal]
lcores = 0-1
memory_mb = 256
huge = no
file_prefix = $PREFIX
[dataplane]
mbuf_pool_size = 8191
mbuf_cache_size = 64
worker_idle_sleep_us = 50
[redis]
socket = $tmp/redis.sock
[port0]
device = net_af_packet0,iface=tn0p,qpairs=2
ipv4 = 198.51.100.10/24
ipv6 = 2001:db8:100::10/64
gateway4 = 198.51.100.20
gateway6 = 2001:db8:100::20
[turn]
# no realm here: the relay takes [global] realm, the one poprelayctl computed the HA1s with
relay_port_min = 50000
relay_port_max = 50999
max_allocations = 1024
max_allocations_per_user = 400
allowed_peer = 203.0.113.0/24 2001:db8:200::/48
nonce_secret_file = $tmp/nonce.key
counters_sync_s = 1
CONF

ctl() { "$CTL" -c "$tmp/dp.conf" "$@"; }
rcli() { redis-cli -s "$tmp/redis.sock" "$@"; }
if [ -x "$CTL" ]; then
	printf '%s\n' "$PW" | ctl user add alice >/dev/null || pr_fail "poprelayctl user add"
else
	pr_skip "poprelayctl not built (needed to add the TURN user)"
fi
rcli HSET pr:turn:secrets 2026-11 "$SECRET" >/dev/null

start_dp() {
	ip netns exec tn-pop "$DP" -c "$tmp/dp.conf" >>"$tmp/dp.out" 2>>"$tmp/dp.log" &
	dp_pid=$!
	pr_on_exit "kill $dp_pid 2>/dev/null; sleep 0.5; kill -9 $dp_pid 2>/dev/null"
	pr_wait_for 20 $TEL $PREFIX /poprelay/turn/stats ||
		{ cat "$tmp/dp.log"; pr_fail "dataplane did not come up with the turn feature"; }
}
start_dp
ip netns exec tn-cli turnutils_peer -L 203.0.113.5 -L 2001:db8:200::5 -p 3480 >"$tmp/peer.log" 2>&1 &
peer_pid=$!
pr_on_exit "kill $peer_pid 2>/dev/null"
sleep 0.5

stat() { $TEL $PREFIX /poprelay/turn/stats | python3 -c "import json,sys; print(json.load(sys.stdin)['/poprelay/turn/stats']['$1'])"; }
dump() { $TEL $PREFIX /poprelay/turn/stats /poprelay/drops >&2 || true; tail -20 "$tmp/dp.log" >&2; }

# uclient NAME EXPECT(ok|fail) ARGS...: runs turnutils_uclient in tn-cli; "ok" needs every
# packet back (0 lost), "fail" needs it to get no relay at all.
uclient() {
	local name=$1 want=$2 out=$tmp/uc-$1.log rc=0
	shift 2
	timeout 60 ip netns exec tn-cli turnutils_uclient "$@" >"$out" 2>&1 || rc=$?
	local lost sent
	lost=$(sed -n 's/.*Total lost packets \([0-9]*\).*/\1/p' "$out" | tail -1)
	sent=$(sed -n 's/.*Total transmit time.*//p;s/.*tot_send_msgs=\([0-9]*\).*/\1/p' "$out" | tail -1)
	if [ "$want" = ok ]; then
		if [ "$rc" != 0 ] || [ -z "$lost" ] || [ "$lost" != 0 ]; then
			tail -30 "$out" >&2
			dump
			pr_fail "$name: rc=$rc lost=${lost:-?}"
		fi
		grep -q 'Total sent packets\|tot_send_msgs\|Total send dropped' "$out" || true
		pr_log "ok: $name: $(grep -E 'Total (lost|send)' "$out" | tr '\n' ' ')"
	else
		if [ -n "$lost" ] && [ "$lost" = 0 ] && [ "$rc" = 0 ] && ! grep -qi 'error\|fail' "$out"; then
			tail -30 "$out" >&2
			pr_fail "$name: expected a refusal, but the client relayed"
		fi
		pr_log "ok: $name refused (rc=$rc)"
	fi
}

SRV=198.51.100.10
pr_log "channel mode"
fast0=$(stat fastpath_relayed)
uclient channel ok -u alice -w "$PW" -e 203.0.113.5 -r 3480 -n 50 -l 200 -z 10 -c $SRV
# coturn's client and peer over IPv4 channels: the dataplane's fast path relays their data
# (50 datagrams each way at least; Send indications, client to client and IPv6 below take
# the general path)
fast1=$(stat fastpath_relayed)
[ $((fast1 - fast0)) -ge 100 ] || { dump; pr_fail "channel mode: the fast path relayed $((fast1 - fast0)) datagrams"; }
pr_log "ok: channel mode: $((fast1 - fast0)) datagrams by the fast path, $(stat fastpath_declined) declined so far"
pr_log "send indications (-s)"
uclient send ok -u alice -w "$PW" -e 203.0.113.5 -r 3480 -n 50 -l 200 -z 10 -c -s $SRV
pr_log "client to client (-y)"
uclient c2c ok -u alice -w "$PW" -y -n 50 -l 200 -z 10 -c $SRV
pr_log "REST secret (-W)"
uclient rest ok -u carol -W "$SECRET" -e 203.0.113.5 -r 3480 -n 20 -l 200 -z 10 -c $SRV
pr_log "IPv6 relay (-x) to an IPv6 peer"
# The dataplane drops a packet to an unresolved next hop while it resolves it (by design);
# let it learn the IPv6 gateway first so the zero-loss check measures the relay only.
ip netns exec tn-cli ping -6 -c 2 -i 0.2 -W 2 2001:db8:100::10 >/dev/null || pr_fail "IPv6 ping of the dataplane"
uclient ipv6 ok -u alice -w "$PW" -x -e 2001:db8:200::5 -r 3480 -n 20 -l 200 -z 10 -c $SRV
pr_log "IPv6 client to the IPv6 listener, IPv6 relay and peer"
uclient ipv6only ok -u alice -w "$PW" -x -e 2001:db8:200::5 -r 3480 -n 20 -l 200 -z 10 -c 2001:db8:100::10
pr_log "50 concurrent clients (-m 50), paced"
uclient m50 ok -u alice -w "$PW" -e 203.0.113.5 -r 3480 -m 50 -n 20 -l 200 -z 20 -c $SRV

pr_log "refusals"
before401=$(stat err_401)
uclient wrongpw fail -u alice -w not-the-password -e 203.0.113.5 -r 3480 -n 5 -c $SRV
[ "$(stat err_401)" -gt "$before401" ] || pr_fail "wrong password not answered 401"
before403=$(stat err_403)
uclient loopback fail -u alice -w "$PW" -e 127.0.0.1 -r 3480 -n 5 -c $SRV
uclient private fail -u alice -w "$PW" -e 10.1.2.3 -r 3480 -n 5 -c $SRV
uclient mapped fail -u alice -w "$PW" -x -e ::ffff:127.0.0.1 -r 3480 -n 5 -c $SRV
[ "$(stat err_403)" -ge $((before403 + 3)) ] || pr_fail "private peers not answered 403 ($(stat err_403))"

pr_log "kill -9 in the middle of a run: no allocation lost"
ip netns exec tn-cli timeout 60 turnutils_uclient -u alice -w "$PW" -e 203.0.113.5 -r 3480 \
	-m 5 -n 600 -l 200 -z 20 -c $SRV >"$tmp/uc-restart.log" 2>&1 &
uc_pid=$!
sleep 3
n_before=$(stat allocations)
[ "$n_before" -ge 5 ] || { dump; pr_fail "expected >= 5 live allocations, got $n_before"; }
ids_before=$(rcli ZRANGE pr:turn:allocs 0 -1 | sort)
kill -9 "$dp_pid"
wait "$dp_pid" 2>/dev/null || true
start_dp
n_after=$(stat allocations)
pr_log "allocations before kill: $n_before, restored: $n_after"
[ "$n_after" -ge "$n_before" ] || { grep -i turn "$tmp/dp.log" | tail -20 >&2; pr_fail "allocations lost across kill -9: $n_before -> $n_after"; }
ids_after=$(rcli ZRANGE pr:turn:allocs 0 -1 | sort)
comm -23 <(echo "$ids_before") <(echo "$ids_after") | grep -q . && pr_fail "ids lost in redis"
# the restored allocations relay at once: the running clients' packets flow again
c0=$(stat pkts_c2p)
sleep 2
c1=$(stat pkts_c2p)
[ "$c1" -gt "$c0" ] || { dump; pr_fail "no packet relayed after the restart ($c0 -> $c1)"; }
pr_log "relayed after the restart: $((c1 - c0)) packets client->peer in 2 s"
wait "$uc_pid" || true
lost=$(sed -n 's/.*Total lost packets \([0-9]*\).*/\1/p' "$tmp/uc-restart.log" | tail -1)
pr_log "run across the restart: lost ${lost:-?} packets of 3000 (in flight while the dataplane was down)"
# 5 clients x 50 packets/s: the restart window is well under 1.2 s
[ -n "$lost" ] && [ "$lost" -lt 300 ] || { tail -20 "$tmp/uc-restart.log"; pr_fail "relaying did not resume"; }

if [ -x "$CTL" ]; then
	pr_log "poprelayctl turn allocations"
	ctl turn allocations list >"$tmp/list" || pr_fail "turn allocations list"
	cat "$tmp/list" >&2
	id=$(rcli ZRANGE pr:turn:allocs 0 0)
	[ -n "$id" ] || pr_fail "no allocation to show"
	ctl turn allocations show "$id" >"$tmp/show" || pr_fail "turn allocations show"
	grep -q "$id" "$tmp/show" || pr_fail "show does not name $id"
	grep -qi 'pkts' "$tmp/show" || pr_fail "show has no counters"
	ctl --json turn allocations list | python3 -c 'import json,sys; json.load(sys.stdin)' ||
		pr_fail "--json list is not JSON"
	ctl turn allocations delete "$id" || pr_fail "turn allocations delete"
	pr_wait_for 5 bash -c "! redis-cli -s '$tmp/redis.sock' EXISTS pr:turn:alloc:$id | grep -q 1" ||
		pr_fail "allocation $id still in redis after delete"
	grep -q "$SECRET" "$tmp/list" "$tmp/show" && pr_fail "a secret in poprelayctl output"
fi
pr_log "turn stats: $($TEL $PREFIX /poprelay/turn/stats)"
exit 0
