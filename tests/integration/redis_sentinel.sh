#!/usr/bin/env bash
# parallel: slow
# Redis under Sentinel: a primary, a replica and three sentinels (redis-server --sentinel) on
# 127.0.0.1, with ACL users as packaged (default user off; the slowpath's own user; users
# for replication and for the sentinels). The slowpath finds the primary through the
# sentinels ([redis] sentinels, master_name) and WAITs for one replica ([redis]
# wait_replicas = 1) before a REGISTER's 200; a dataplane (net_null0, no hugepages) on the same
# [redis] keys follows the primary too (its tunables connections: a change published on the
# new primary is applied and reported there).
# 1. devices register; 2. SENTINEL FAILOVER: with no request in between, the slowpath and
# the dataplane hear +switch-master from the sentinels and move their connections to the
# new primary (not waiting for the old one to fail them); new devices register, the
# earlier bindings are on the new primary; 3. kill -9 of that primary during a
# registration storm: every acknowledged binding is on the next primary (none lost), and
# with no replica left REGISTERs get 503 (WAIT fell short) rather than a 200 a further loss
# would undo;
# 4. the killed node comes back as a replica: registrations succeed again.
set -uo pipefail
source "$(dirname "$0")/../lib.sh"
source "$PR_ROOT/tests/integration/slowpath/common.sh"
[ -x "$BUILD/poprelay-slowpath" ] || pr_fail "build $BUILD/poprelay-slowpath first"
D=$(mktemp -d /tmp/redis-sentinel.XXXXXX)
pr_on_exit "rm -rf '$D'"
chmod 755 "$D"

P1=$(sp_free_port); P2=$(sp_free_port)
S1=$(sp_free_port); S2=$(sp_free_port); S3=$(sp_free_port)
source "$PR_ROOT/tests/integration/ha/sentinels.sh"
rs_secrets "$D/redis-slowpath.pass"
rc() { rs_cli "$@"; }
rs_node 1 "$P1"
rs_node 2 "$P2" "$P1"
rs_linked "$P2" 10
# the sentinels know each other and the replica (else a failover cannot happen)
rs_sentinels "$P1" "$S1" "$S2" "$S3"
primary_port() { rs_primary_port; }

# 120 users, as poprelayctl writes them (keyspace v1), on the primary
now=$(date +%s)
for i in $(seq 0 119); do
	md5=$(printf '%s' "u$i:poprelay:tq7-Vortex-u$i" | md5sum | cut -d' ' -f1)
	sha=$(printf '%s' "u$i:poprelay:tq7-Vortex-u$i" | sha256sum | cut -d' ' -f1)
	echo "HSET pr:user:u$i v 1 name u$i realm poprelay ha1_md5 $md5 ha1_sha256 $sha uri sip:u$i@poprelay pop pop1 created $now updated $now"
	echo "SADD pr:users u$i"
done | rc "$P1" >/dev/null || pr_fail "adding users"
rc "$P1" WAIT 1 2000 | grep -qx 1 || pr_fail "the users did not reach the replica"

sp_certs "$D"
TP=$(sp_free_port)
PP=$(sp_free_port)
sp_config "$D" "$TP" "$PP" "redis_user = slowpath" "redis_password_file = $D/redis-slowpath.pass" "rate_limit_rps = 0"
sed -i "s|^socket = .*|sentinels = 127.0.0.1:$S1, 127.0.0.1:$S2,127.0.0.1:$S3\nmaster_name = poprelay\nwait_replicas = 1\nwait_timeout_ms = 500|" "$D/sp.conf"
"$BUILD/poprelay-slowpath" -c "$D/sp.conf" --check-config >/dev/null 2>&1 || {
	"$BUILD/poprelay-slowpath" -c "$D/sp.conf" --check-config; pr_fail "--check-config"; }
sp_start "$D"
grep -q "primary of poprelay is 127.0.0.1:$P1" "$D/sp.log" || pr_fail "the slowpath did not log the primary the sentinels named"
grep -qF "$SP_PW" "$D/sp.log" && pr_fail "the Redis password is in the log"
ST="timeout 120 python3 $SP_DIR/sentinel_storm.py $TP $D"

# the dataplane, on the same [redis] section as the slowpath (its own ACL user)
DPP=dp-sentinel-$$
cat >"$D/dp.conf" <<EOC
[eal]
lcores = 0-1
huge = no
memory_mb = 256
file_prefix = $DPP
[dataplane]
worker_idle_sleep_us = 1000
[port0]
device = net_null0
ipv4 = 198.51.100.10/24
$(sed -n '/^\[redis\]/,/^\[/p' "$D/sp.conf" | grep -v '^\[eal\]')
user = dataplane
password_file = $D/redis-slowpath.pass
EOC
"$BUILD/poprelay-dataplane" -c "$D/dp.conf" >"$D/dp.log" 2>&1 &
DP_PID=$!
pr_on_exit "kill $DP_PID 2>/dev/null; wait $DP_PID 2>/dev/null; rm -rf /var/run/dpdk/$DPP"
pr_wait_for 20 grep -q "running:" "$D/dp.log" || { cat "$D/dp.log"; pr_fail "the dataplane did not start"; }
# dp_follows PORT VALUE: dp.burst_size set and published on PORT (the primary) is in force
# and reported there by the dataplane within 5 s
in_force() { [ "$(rc "$1" HGET pr:tunables:in_force:dataplane dp.burst_size)" = "$2" ]; }
named() { [ "$(primary_port)" = "$1" ]; }
role_is() { rc "$1" role | head -1 | grep -qx "$2"; }
dp_follows() {
	rc "$1" HSET pr:tunables dp.burst_size "$2" >/dev/null
	rc "$1" PUBLISH pr:events tunables >/dev/null
	pr_wait_for 5 in_force "$1" "$2" ||
		{ grep -v debug "$D/dp.log" | tail -5; pr_fail "the dataplane did not apply dp.burst_size = $2 from 127.0.0.1:$1"; }
	echo "ok: the dataplane applied and reported dp.burst_size = $2 on 127.0.0.1:$1"
}
dp_follows "$P1" 16

# -- 1. registrations with a primary and a replica
$ST reg 0 9 || pr_fail "registrations before any failover"

# -- 1b. one WAIT answers every durable write of a loop pass: 2,000 REGISTERs from 32
# connections at once (sipload), all acknowledged, with fewer WAITs than REGISTERs (one
# WAIT each held the connection one replica round trip per REGISTER)
LOAD=$BUILD/tests/bench/sipload
[ -x "$LOAD" ] || pr_fail "$LOAD not built"
LPW=Sentinel-pw-sipload
python3 "$PR_ROOT/tests/integration/slowpath/users.py" "$LPW" 50 | rc "$P1" >/dev/null || pr_fail "adding sipload's users"
rc "$P1" WAIT 1 2000 | grep -qx 1 || pr_fail "sipload's users did not reach the replica"
waits() { rc "$P1" INFO commandstats | sed -n 's/^cmdstat_wait:calls=\([0-9]*\),.*/\1/p' | tr -d '\r'; }
W0=$(waits)
out=$("$LOAD" register 127.0.0.1 "$TP" "$D/ca.crt" "$LPW" 50 2000 32 2>"$D/sipload.err") ||
	{ cat "$D/sipload.err"; pr_fail "sipload register through the WAIT slowpath"; }
read -r nreg _ <<<"$out"
W1=$(waits)
[ "$nreg" = 2000 ] || pr_fail "sipload: $nreg of 2000 REGISTERs acknowledged ($out)"
[ $((W1 - ${W0:-0})) -lt 1600 ] ||
	pr_fail "$((W1 - ${W0:-0})) WAITs for 2000 concurrent REGISTERs: not one WAIT per loop pass"
echo "ok: 2000 REGISTERs from 32 connections at once, each acknowledged after WAIT, with $((W1 - ${W0:-0})) WAITs"

# -- 2. planned failover: the sentinels promote the replica, the old primary becomes one
rc "$P1" INFO replication | grep -q connected_slaves:1 || pr_fail "no replica before the failover"
redis-cli -p "$S2" SENTINEL failover poprelay | grep -q OK || pr_fail "SENTINEL FAILOVER refused"
pr_wait_for 20 named "$P2" ||
	pr_fail "the sentinels did not promote 127.0.0.1:$P2"
# nothing is asked of either process here: each hears +switch-master from the sentinel it
# follows, and its connections move because of that (each path logs its own line; none
# lost its connection first)
SWITCHED="+switch-master: the primary of poprelay is now 127.0.0.1:$P2"
pr_wait_for 5 grep -qF "$SWITCHED" "$D/sp.log" ||
	pr_fail "the slowpath did not log +switch-master to 127.0.0.1:$P2 within 5 s of the promotion"
pr_wait_for 5 grep -qF "$SWITCHED" "$D/dp.log" ||
	pr_fail "the dataplane did not log +switch-master to 127.0.0.1:$P2 within 5 s of the promotion"
# the slowpath's synchronous connection, used by its tunables' re-read once it subscribes again
pr_wait_for 5 grep -qF "following +switch-master: connection to 127.0.0.1:$P1 moved to 127.0.0.1:$P2" "$D/sp.log" ||
	pr_fail "the slowpath's synchronous connection did not follow +switch-master"
pr_wait_for 5 grep -qF "tunables: the redis primary moved (+switch-master): reconnecting" "$D/dp.log" ||
	pr_fail "the dataplane's tunables connections did not follow +switch-master"
pr_wait_for 5 grep -q "primary of poprelay moved from 127.0.0.1:$P1 to 127.0.0.1:$P2" "$D/dp.log" ||
	pr_fail "the dataplane did not move to 127.0.0.1:$P2"
grep -q "lost the redis subscription" "$D/dp.log" "$D/sp.log" &&
	pr_fail "a connection was lost: the move was not +switch-master's"
echo "ok: +switch-master followed by the slowpath and the dataplane with no request in between"
pr_wait_for 20 role_is "$P1" slave ||
	pr_fail "the old primary did not become a replica"
$ST reg 10 19 || pr_fail "registrations after SENTINEL FAILOVER"
grep -q "primary of poprelay moved from 127.0.0.1:$P1 to 127.0.0.1:$P2" "$D/sp.log" ||
	pr_fail "the slowpath did not log its move to the new primary"
for i in $(seq 0 19); do
	rc "$P2" EXISTS "pr:reg:u$i" | grep -qx 1 || pr_fail "u$i's binding is not on the new primary"
done
echo "ok: after SENTINEL FAILOVER the slowpath writes to 127.0.0.1:$P2, and u0..u19's bindings are there"
dp_follows "$P2" 24

# -- 3. the primary killed (-9) during a storm of first registrations (no retries). Just
# before the kill the replica is stopped (SIGSTOP) and its link closed by the primary
# (CLIENT KILL TYPE replica: what the primary writes then is not even in the stopped
# replica's socket), and u104..u109 register at once: their bindings are written on the
# primary only, whose WAIT 1 then waits, and the primary is killed in that wait (the
# replica continued right after). The slowpath keeps the requests in flight and sends them
# again to the primary the sentinels name next ([sip] redis_replay_ms, 5 s): their
# bindings are there.
# They are answered 503 all the same, as every REGISTER after the kill: no replica is left
# for WAIT 1 (a 200 would be undone by the next loss). REGISTERs arriving while no primary
# is named get 503 at once.
rs_linked "$P1" 20
ADMIN_PW=$ADMIN_PW $ST storm 20 103 30 "kill -9 \$(cat $D/n2/redis.pid); kill -CONT \$(cat $D/n1/redis.pid)" \
	"kill -STOP \$(cat $D/n1/redis.pid) && redis-cli -p $P2 --no-auth-warning --user admin --pass '$ADMIN_PW' CLIENT KILL TYPE replica >/dev/null" \
	104 109 "$P2" || pr_fail "the storm"
pr_wait_for 20 named "$P1" ||
	pr_fail "the sentinels did not promote 127.0.0.1:$P1 after the kill"
lost=0
while read -r u; do
	[ -n "$u" ] || continue
	rc "$P1" EXISTS "pr:reg:$u" | grep -qx 1 || { echo "lost: $u" >&2; lost=$((lost + 1)); }
done <"$D/acked"
acked=$(grep -c . "$D/acked")
[ "$lost" = 0 ] || pr_fail "$lost of $acked acknowledged registrations are missing on the new primary"
echo "ok: primary killed mid-storm: $acked acknowledged registrations, 0 missing on 127.0.0.1:$P1"
# before replay these requests failed with the connection, and the bindings were on the
# killed primary only
lost=0
while read -r u; do
	[ -n "$u" ] || continue
	rc "$P1" EXISTS "pr:reg:$u" | grep -qx 1 || { echo "not replayed: $u" >&2; lost=$((lost + 1)); }
done <"$D/inflight"
n=$(grep -c . "$D/inflight")
[ "$lost" = 0 ] || pr_fail "$lost of the $n bindings in flight at the kill are not on the new primary"
grep -qE "redis 127.0.0.1:$P1: [0-9]+ requests? in flight at the loss sent again" "$D/sp.log" ||
	pr_fail "no log line for the requests sent again to 127.0.0.1:$P1"
echo "ok: the $n bindings whose writes were in flight at the kill were sent again to 127.0.0.1:$P1"
dp_follows "$P1" 40
# no replica left: the write is made on the primary but WAIT 1 comes back 0, so the device
# is told to retry (503) instead of 200
$ST once 110 112 503 || pr_fail "REGISTER with no replica to WAIT for"
grep -q "redis WAIT: 0 of 1 replicas acknowledged within 500 ms): answering REGISTER" "$D/sp.log" ||
	pr_fail "no log line for the WAIT that fell short"

# -- 4. the killed node comes back as a replica: registrations succeed again
rs_node 2 "$P2" "$P1"
rs_linked "$P2" 20
$ST reg 113 119 || pr_fail "registrations with a replica again"
kill -0 "$SP_PID" || pr_fail "the slowpath died"
kill -0 "$DP_PID" || pr_fail "the dataplane died"
grep -q "primary of poprelay moved from 127.0.0.1:$P2 to 127.0.0.1:$P1" "$D/dp.log" ||
	pr_fail "the dataplane did not log its move back to 127.0.0.1:$P1"
grep -qF "$SP_PW" "$D/dp.log" && pr_fail "the Redis password is in the dataplane's log"
echo PASS
