#!/usr/bin/env bash
# Redis away (killed) and Redis slow (DEBUG SLEEP): REGISTER and INVITE get 503 with
# Retry-After instead of a hang or a 500, counted in redis_unavailable; the slowpath
# reconnects by itself once Redis is back on the same socket, and stays up throughout.
set -uo pipefail
source "$(dirname "$0")/../lib.sh"
source "$PR_ROOT/tests/integration/slowpath/common.sh"
[ -x "$BUILD/poprelay-slowpath" ] || pr_fail "build $BUILD/poprelay-slowpath first"
D=$(mktemp -d /tmp/sp-redis-away.XXXXXX)
pr_on_exit "rm -rf '$D'"
pr_redis_start "$D"
sp_certs "$D"
TP=$(sp_free_port)
PP=$(sp_free_port)
sp_config "$D" "$TP" "$PP"
sp_start "$D"
sp_user_add "$D" alice "$SP_PW_alice"
sp_user_add "$D" bob "$SP_PW_bob"
sp_user_add "$D" carol "$SP_PW_carol"
R="redis-cli -s $D/redis.sock"

# away: killed (after a SAVE, so the restart on the same socket loads the users back);
# restarted with DEBUG allowed from the socket, for the slow case: DEBUG SLEEP
stop="$R SAVE >/dev/null && kill -9 \$(cat '$D/redis.pid') && sleep 0.2"
start="redis-server --port 0 --unixsocket '$D/redis.sock' --unixsocketperm 700 --dir '$D' \
--save '' --appendonly no --daemonize yes --pidfile '$D/redis.pid' --logfile '$D/redis.log' \
--enable-debug-command local &&
for i in \$(seq 50); do $R ping 2>/dev/null | grep -q PONG && break; sleep 0.1; done"
pause="$R DEBUG SLEEP 12 >/dev/null &"
timeout 60 python3 "$SP_DIR/redis_away.py" "$TP" "$D" "$stop" "$start" "$pause" 12 ||
	{ grep -v debug "$D/sp.log" | tail -20; pr_fail "Redis-away scenarios"; }
kill -0 "$SP_PID" || pr_fail "slowpath died"

grep -q "redis: loading the user failed (.*): answering REGISTER from 127.0.0.1:[0-9]* with 503, Retry-After 5" "$D/sp.log" ||
	pr_fail "no log line for the 503"
kill -USR1 "$SP_PID"
pr_wait_for 3 grep -q "counters:" "$D/sp.log" || pr_fail "no counters"
line=$(grep "counters:" "$D/sp.log" | tail -1)
n=$(sed -n 's/.* redis_unavailable=\([0-9]*\).*/\1/p' <<<"$line")
[ "${n:-0}" -ge 4 ] || pr_fail "redis_unavailable ${n:-missing}, expected 4 or more"
f=$(sed -n 's/.* reg_auth_failed=\([0-9]*\).*/\1/p' <<<"$line")
[ "${f:-0}" = 1 ] || pr_fail "reg_auth_failed ${f:-missing}, expected 1: the wrong password of a flow closed while Redis slept"
grep -q "auth: wrong credentials for user bob" "$D/sp.log" || pr_fail "no log line for the closed flow's wrong password"
# the stats hash is written again after the restart (one HSET a second)
pr_wait_for 3 sh -c "[ \"\$($R HGET pr:stats:slowpath:pop1:$(hostname) redis_unavailable)\" -ge 4 ]" ||
	pr_fail "the stats hash does not show redis_unavailable after Redis came back"
echo "ok: counters redis_unavailable=$n, in the log and in pr:stats:slowpath:pop1:$(hostname); reg_auth_failed=$f (a flow closed while Redis slept)"
echo PASS
