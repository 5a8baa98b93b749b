#!/usr/bin/env bash
# Allocations whose relayed address the dataplane no longer owns are dropped at restore.
# coturn's turnutils_uclient makes 4 allocations (then is killed, so they stay); the
# dataplane is stopped and started again:
#  - with the same configuration: all 4 are restored, restore_orphaned is 0;
#  - after its port moved to another IPv4 address: none is restored, each is deleted from
#    Redis (records and index, so `poprelayctl turn allocations list` no longer shows it),
#    restore_orphaned is 4, the log has a warning per allocation and the summary line, and
#    the user's quota (4 here) is free again: 4 new allocations on the new address relay;
#  - after [turn] relay_port_min..max moved: the same, for allocations on the old ports.
# Media sessions (records written as the slowpath writes them) on the old address are
# dropped at the same restart: counted (restore_orphaned in /poprelay/media/stats, not
# refused), logged, and reported on pr:sessions:events for the slowpath to end the call.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
pr_need_root
DP=$BUILD/poprelay-dataplane
CTL=$BUILD/poprelayctl
[ -x "$DP" ] || pr_fail "$DP not built"
[ -x "$CTL" ] || pr_skip "poprelayctl not built (needed to add the TURN user)"
command -v turnutils_uclient >/dev/null || pr_skip "coturn's turnutils_uclient not installed"
TEL="python3 $PR_ROOT/tests/integration/dp_telemetry.py"
PREFIX=tn-readdr
PW=Readdress-42-hatter
M=2 # turnutils_uclient -m M makes 2 allocations a client
N=$((2 * M))
OLD=198.51.100.10
NEW=198.51.100.11

tmp=$(pr_tmpdir)
pr_redis_start "$tmp"
pr_netns rd-pop
pr_netns rd-cli
pr_veth rd-pop rd0p rd-cli rd0c
ip netns exec rd-pop sysctl -qw net.ipv6.conf.rd0p.disable_ipv6=1
ip -n rd-cli addr add 198.51.100.20/24 dev rd0c
ip -n rd-cli addr add 203.0.113.5/32 dev rd0c

# conf ADDR [RELAY_MIN RELAY_MAX]: the configuration with port0 on ADDR. The user's quota is exactly N, so that
# orphans kept after the readdress would refuse the new allocation below (486).
conf() {
	cat >"$tmp/dp.conf" <<CONF
# turn_readdress.sh
[global]
realm = rd.example
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
device = net_af_packet0,iface=rd0p,qpairs=2
ipv4 = $1/24
gateway4 = 198.51.100.20
[turn]
relay_port_min = ${2:-50000}
relay_port_max = ${3:-50999}
max_allocations = 64
max_allocations_per_user = $N
allowed_peer = 203.0.113.0/24
nonce_secret_file = $tmp/nonce.key
CONF
}
conf $OLD

ctl() { "$CTL" -c "$tmp/dp.conf" "$@"; }
rcli() { redis-cli -s "$tmp/redis.sock" "$@"; }
stat() { $TEL $PREFIX /poprelay/turn/stats | python3 -c "import json,sys; print(json.load(sys.stdin)['/poprelay/turn/stats']['$1'])"; }
allocs_at_least() { [ "$(stat allocations)" -ge "$1" ]; }
relayed() { [ "$(stat pkts_p2c)" -gt 0 ]; }
mstat() { $TEL $PREFIX /poprelay/media/stats | python3 -c "import json,sys; print(json.load(sys.stdin)['/poprelay/media/stats']['$1'])"; }
media_synced() { [ "$(mstat redis_up)" = 1 ]; }
media_sessions() { [ "$(mstat sessions)" = "$1" ]; }
ms_redis() { rcli "$@"; }
MS_RELAY=$OLD
. "$PR_ROOT/tests/integration/media/sessions.sh"
printf '%s\n' "$PW" | ctl user add alice >/dev/null || pr_fail "poprelayctl user add"

run=0
start_dp() {
	run=$((run + 1))
	log=$tmp/dp$run.log
	ip netns exec rd-pop "$DP" -c "$tmp/dp.conf" >/dev/null 2>"$log" &
	dp_pid=$!
	pr_on_exit "kill $dp_pid 2>/dev/null; sleep 0.5; kill -9 $dp_pid 2>/dev/null"
	pr_wait_for 20 $TEL $PREFIX /poprelay/turn/stats ||
		{ cat "$log" >&2; pr_fail "dataplane did not come up with the turn feature"; }
}
# a clean stop: allocations stay in Redis for the next start to restore
stop_dp() {
	kill "$dp_pid"
	wait "$dp_pid" 2>/dev/null || true
}

ip netns exec rd-cli turnutils_peer -L 203.0.113.5 -p 3480 >"$tmp/peer.log" 2>&1 &
pr_on_exit "kill $! 2>/dev/null"

# allocate ADDR: N allocations to ADDR from turnutils_uclient, killed once they relay so
# that they stay; their ids in $ids
allocate() {
	ip netns exec rd-cli turnutils_uclient -u alice -w "$PW" -e 203.0.113.5 -r 3480 -m $M \
		-n 3000 -l 200 -z 20 -c "$1" >"$tmp/uc.log" 2>&1 &
	local uc_pid=$!
	pr_on_exit "kill -9 $uc_pid 2>/dev/null"
	pr_wait_for 15 allocs_at_least $N ||
		{ tail "$tmp/uc.log" >&2; pr_fail "expected $N allocations, got $(stat allocations)"; }
	pr_wait_for 10 relayed || { tail "$tmp/uc.log" >&2; pr_fail "nothing relayed back through $1"; }
	kill -9 $uc_pid 2>/dev/null || { tail "$tmp/uc.log" >&2; pr_fail "uclient ended early"; }
	wait $uc_pid 2>/dev/null || true
	ids=$(rcli ZRANGE pr:turn:allocs 0 -1 | sort)
	[ "$(echo "$ids" | grep -c .)" = $N ] || pr_fail "expected $N allocations in redis: $ids"
}

start_dp
pr_log "$N allocations from turnutils_uclient, which is then killed so that they stay"
allocate $OLD
pr_log "2 media sessions on $OLD"
ms_store install rdsess1 "peer=198.51.100.20:40000 relay=30000" "peer=198.51.100.20:40002 relay=30002" ||
	pr_fail "session record"
ms_store install rdsess2 "peer=198.51.100.20:40004 relay=30004" "peer=198.51.100.20:40006 relay=30006" ||
	pr_fail "session record"
pr_wait_for 5 media_sessions 2 || pr_fail "media sessions not installed"

pr_log "control: a restart with the same address restores every allocation"
stop_dp
start_dp
[ "$(stat allocations)" = $N ] || pr_fail "restored $(stat allocations) allocations, expected $N"
[ "$(stat restore_orphaned)" = 0 ] || pr_fail "restore_orphaned $(stat restore_orphaned) without a readdress"
[ "$(rcli ZRANGE pr:turn:allocs 0 -1 | sort)" = "$ids" ] || pr_fail "redis lost allocations"
grep -q "turn: $N allocations restored from redis" "$log" || { cat "$log" >&2; pr_fail "no restore line"; }
grep -q "no longer ours" "$log" && pr_fail "orphans logged without a readdress"
pr_wait_for 5 media_synced || pr_fail "media did not rebuild from redis"
[ "$(mstat sessions)" = 2 ] && [ "$(mstat restore_orphaned)" = 0 ] ||
	pr_fail "media: $(mstat sessions) sessions, $(mstat restore_orphaned) orphaned after a plain restart"

pr_log "readdress: port0 moves from $OLD to $NEW"
stop_dp
conf $NEW
start_dp
orph=$(stat restore_orphaned)
[ "$orph" = $N ] || { grep turn: "$log" >&2; pr_fail "restore_orphaned $orph, expected $N"; }
[ "$(stat allocations)" = 0 ] || pr_fail "$(stat allocations) allocations restored on a readdress"
grep -q "turn: 0 allocations restored, $N dropped: relayed address no longer ours" "$log" ||
	{ grep turn: "$log" >&2; pr_fail "no summary line"; }
for id in $ids; do
	grep -q "allocation $id of alice not restored: relayed address $OLD:50[0-9]* is no longer ours: deleted" "$log" ||
		{ grep turn: "$log" >&2; pr_fail "no warning for $id"; }
done
grep -q -- "$PW" "$log" && pr_fail "a password in the log"
left=$(rcli --scan --pattern 'pr:turn:alloc:*')
[ -z "$left" ] || pr_fail "orphans' records still in redis: $left"
[ -z "$(rcli ZRANGE pr:turn:allocs 0 -1)" ] || pr_fail "orphans still in pr:turn:allocs"
ctl turn allocations list >"$tmp/list" || pr_fail "turn allocations list"
for id in $ids; do
	grep -q "$id" "$tmp/list" && { cat "$tmp/list" >&2; pr_fail "poprelayctl still lists $id"; }
done
[ "$(ctl --json turn allocations list | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 0 ] ||
	pr_fail "poprelayctl --json lists allocations after the readdress"
pr_wait_for 5 media_synced || pr_fail "media did not rebuild from redis"
[ "$(mstat restore_orphaned)" = 2 ] && [ "$(mstat sessions)" = 0 ] && [ "$(mstat refused)" = 0 ] ||
	pr_fail "media after the readdress: $(mstat sessions) sessions, $(mstat restore_orphaned) orphaned, $(mstat refused) refused"
grep -q "media: 0 sessions restored, 2 dropped: relay address no longer ours" "$log" ||
	{ grep media: "$log" >&2; pr_fail "no media summary line"; }
grep -q "session rdsess1 refused: leg a relay $OLD port 30000 is not one of" "$log" ||
	{ grep media: "$log" >&2; pr_fail "no media line for rdsess1"; }
ev=$(rcli XRANGE pr:sessions:events - + | tr '\n' ' ')
for id in rdsess1 rdsess2; do
	echo "$ev" | grep -q "op idle id $id cdr_id cdr-$id reason relay-address" ||
		pr_fail "no event for $id on pr:sessions:events: $ev"
done

pr_log "the user's quota is free again: $N new allocations on $NEW, and they relay"
allocate $NEW
[ "$(stat err_486)" = 0 ] || pr_fail "quota refusals (486) after the readdress"

pr_log "the relay port range changes: allocations on ports outside it are orphans too"
stop_dp
conf $NEW 51000 51999
start_dp
[ "$(stat restore_orphaned)" = $N ] || { grep turn: "$log" >&2; pr_fail "range change: restore_orphaned $(stat restore_orphaned), expected $N"; }
[ "$(stat allocations)" = 0 ] || pr_fail "range change: $(stat allocations) allocations restored"
[ -z "$(rcli --scan --pattern 'pr:turn:alloc:*')" ] || pr_fail "range change: records left in redis"
grep -q "turn: 0 allocations restored, $N dropped: relayed address no longer ours" "$log" ||
	{ grep turn: "$log" >&2; pr_fail "range change: no summary line"; }
pr_log "ok: $N allocations dropped, counted and logged after a readdress and after a range change, and 2 media sessions after the readdress; a restart without either restored them all"
exit 0
