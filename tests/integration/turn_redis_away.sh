#!/usr/bin/env bash
# parallel: slow
# TURN with Redis away, and slow, seen by coturn's own client in the world of turn/env.sh:
#   1 a uclient session streams through a 5 s outage of Redis (killed, then started again
#     on the same socket, empty): every datagram of its 12 s run comes back (0 lost): the
#     workers relay without Redis;
#   2 during the outage a new uclient gets no relay: its Allocate is answered 500 (Server
#     Error: try again), before authentication, and telemetry says redis_up 0;
#   3 once Redis is back the dataplane writes every live allocation again (the session of
#     1 is in the new, empty Redis within seconds) and a new client relays, 0 lost;
#   4 Redis slow (DEBUG SLEEP 3) while a session streams: 0 lost, and a client after it
#     relays.
# Exits 0, 77 (skip: not root, no coturn), 1.
set -uo pipefail
source "$(dirname "$0")/../lib.sh"
source "$PR_ROOT/tests/integration/turn/env.sh"
trap 'trap "" INT TERM; exit 130' INT TERM
te_up ra
PW=away-pw-$RANDOM$RANDOM
printf '%s\n' "$PW" | te_ctl user add rita >/dev/null || pr_fail "poprelayctl user add"
uc() { # NAME ok|fail PACKETS: rita's client, PACKETS datagrams 20 ms apart
	te_uclient "$1" "$2" -u rita -w "$PW" -e $TE_PEER -r 3480 -n "$3" -l 200 -z 20 -c $TE_SRV
}
allocs_in_redis() { te_rcli --scan --pattern 'pr:turn:alloc:*' | grep -cv ':perms$\|:chans$'; }
redis_up_is() { [ "$(te_stat redis_up)" = "$1" ]; }

pr_log "a session streams through a 5 s outage of Redis"
uc through-outage ok 600 &
long=$!
pr_wait_for 5 bash -c "[ \"\$(redis-cli -s $TE_DIR/redis.sock --scan --pattern 'pr:turn:alloc:*' | grep -cv ':perms\$\|:chans\$')\" -ge 1 ]" ||
	{ te_dump; pr_fail "the session's allocation is not in Redis"; }
sleep 1
kill "$(cat "$TE_DIR/redis.pid")"
t_kill=$(date +%s.%N)
pr_wait_for 5 redis_up_is 0 || { te_dump; pr_fail "telemetry still says redis_up 1 with Redis gone"; }
pr_log "ok: Redis gone, the dataplane knows (redis_up 0)"

pr_log "a new client during the outage: 500, no relay"
e500=$(te_stat err_500)
uc during-outage fail 10
[ "$(te_stat err_500)" -gt "$e500" ] || { te_dump; pr_fail "no 500 answered to the new client's Allocate"; }
pr_log "ok: the new client's Allocate was answered 500 ($(te_stat err_500) so far)"

sleep "$(python3 -c "print(max(0, 5 - ($(date +%s.%N) - $t_kill)))")"
pr_redis_start "$TE_DIR"
pr_log "Redis back (empty, same socket)"
pr_wait_for 10 redis_up_is 1 || { te_dump; pr_fail "the dataplane did not reconnect to Redis"; }
pr_wait_for 5 bash -c "[ \"\$(redis-cli -s $TE_DIR/redis.sock --scan --pattern 'pr:turn:alloc:*' | grep -cv ':perms\$\|:chans\$')\" -ge 1 ]" ||
	{ te_dump; pr_fail "the live allocation was not written again once Redis came back"; }
pr_log "ok: the live allocation is in Redis again ($(allocs_in_redis) allocation hashes)"
wait $long || pr_fail "the session that streamed through the outage lost datagrams"
# users live in Redis too: the new, empty one needs rita again
printf '%s\n' "$PW" | te_ctl user add rita >/dev/null || pr_fail "poprelayctl user add (again)"
uc after-outage ok 50

pr_log "Redis slow (DEBUG SLEEP 3) while a session streams"
uc through-slow ok 400 &
long=$!
sleep 2
te_rcli DEBUG SLEEP 3 >/dev/null || pr_fail "redis DEBUG SLEEP"
wait $long || pr_fail "the session that streamed while Redis slept lost datagrams"
pr_wait_for 10 redis_up_is 1 || { te_dump; pr_fail "the dataplane did not get over the slow Redis"; }
uc after-slow ok 50
pr_log "PASS: relaying never stopped; 500 while Redis was away; state written again once back"
