#!/usr/bin/env bash
# parallel: heavy
# Reconnection storm behind one NAT address: 1,000 devices (1,000 users) open their TLS
# flows from 127.0.0.1 and register all at once, each a digest exchange (401, then 200), with
# the guard's default limits (rate_limit_rps 50, rate_burst 100, lockout 5 in 300 s). None is
# refused. Meanwhile wrong passwords from 127.0.0.2 reach the source lockout and are refused
# 403 from then on.
set -uo pipefail
source "$(dirname "$0")/../lib.sh"
source "$PR_ROOT/tests/integration/slowpath/common.sh"
[ -x "$BUILD/poprelay-slowpath" ] || pr_fail "build $BUILD/poprelay-slowpath first"
[ -x "$BUILD/tests/bench/sipload" ] || pr_fail "build $BUILD/tests/bench/sipload first"
N=1000
[ "$(ulimit -Hn)" -ge $((N + 100)) ] || pr_skip "hard fd limit $(ulimit -Hn) below $N"
D=$(pr_tmpdir)
pr_redis_start "$D"
sp_certs "$D"
TP=$(sp_free_port)
PP=$(sp_free_port)
# the guard's defaults; MD5 only (what sipload answers)
sp_config "$D" "$TP" "$PP" "digest_algorithms = MD5" "log_level = 5"
sp_start "$D"
grep -q "rate_limit_rps\|rate_burst\|lockout" "$D/sp.conf" && pr_fail "the test must run the default guard"

# 1,000 users in keyspace v1, written straight to Redis (poprelayctl takes ~1,000 times as long)
PW=Storm-pw-4711-nat
python3 "$PR_ROOT/tests/integration/slowpath/users.py" "$PW" "$N" | redis-cli -s "$D/redis.sock" >/dev/null || pr_fail "creating $N users"
[ "$(redis-cli -s "$D/redis.sock" SCARD pr:users)" = $N ] || pr_fail "$N users not created"

# the attacker, from another address, during the storm
python3 "$SP_DIR/guess.py" "$TP" "$D" 127.0.0.2 "$D/stop" 40 >"$D/guess.json" 2>"$D/guess.err" &
GP=$!
pr_on_exit "kill $GP 2>/dev/null"
t0=$(date +%s.%N)
# N flows from one address, all open, then N REGISTER chains started at once (one per flow)
out=$(timeout 50 "$BUILD/tests/bench/sipload" register 127.0.0.1 "$TP" "$D/ca.crt" "$PW" $N $N $N 2>&1) ||
	{ tail -5 "$D/sp.log"; pr_fail "storm: $out"; }
t1=$(date +%s.%N)
touch "$D/stop"
wait $GP || { cat "$D/guess.err"; pr_fail "the attacker's client failed"; }
read -r done secs rate <<<"$out"
[ "$done" = $N ] || pr_fail "storm: $done of $N registered"
echo "ok: $N devices behind 127.0.0.1 registered over TLS, none refused ($secs s of registering, $rate/s; $(echo "$t1 - $t0" | bc) s with the handshakes)"
[ "$(redis-cli -s "$D/redis.sock" ZCARD pr:regs)" = $N ] || pr_fail "not $N bindings in Redis"

g=$(cat "$D/guess.json")
jf() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$g" "$1"; }
[ "$(jf other)" = "[]" ] || pr_fail "the attacker got unexpected answers: $g"
[ "$(jf failed)" = 5 ] || pr_fail "the attacker was not locked out after 5 failures: $g"
[ "$(jf first_locked)" = 5 ] && [ "$(jf locked)" -ge 3 ] && [ "$(jf locked)" = $(($(jf attempts) - 5)) ] ||
	pr_fail "the attacker's attempts after the 5th were not all refused: $g"
grep -q "lockout: source 127.0.0.2 locked for 300s after 5 failed" "$D/sp.log" || pr_fail "no lockout line for 127.0.0.2"
echo "ok: wrong passwords from 127.0.0.2 during the storm: locked out after 5, then $(jf locked) refused 403"

kill -USR1 "$SP_PID"
pr_wait_for 3 grep -q "counters:" "$D/sp.log" || pr_fail "no counters"
line=$(grep "counters:" "$D/sp.log" | tail -1)
ctr() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<<"$line"; }
[ "$(ctr rate_limited)" = 0 ] || pr_fail "rate_limited $(ctr rate_limited): $line"
[ "$(ctr reg_ok)" = $N ] || pr_fail "reg_ok $(ctr reg_ok) (expected $N)"
[ "$(ctr conns_refused)" = 0 ] || pr_fail "conns_refused $(ctr conns_refused)"
[ "$(ctr lockout_refused)" = "$(jf locked)" ] || pr_fail "lockout_refused $(ctr lockout_refused), the attacker saw $(jf locked)"
grep -q "lockout: source 127.0.0.1" "$D/sp.log" && pr_fail "the NAT address was locked out"
echo "ok: counters: rate_limited 0, reg_ok $N, lockout_refused $(ctr lockout_refused) (the attacker's)"
kill -0 "$SP_PID" || pr_fail "slowpath died"
echo PASS
